/* profile.c - identity resolution and the in-memory indexes. */
#include "profile_int.h"
#include "../base/json.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/util.h"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_SEED 0x6964656e74697479ULL

/* ---- the key arena: identity keys live until profile_close/rebuild.
 * Not a cx_arena: keys are packed byte by byte (cx_arena aligns every block
 * up to 16 bytes, which millions of short keys would pay for). ---- */

static char *key_store(profile_chunk **chain, int type, const char *v, size_t n) {
  size_t need = n + 2;
  if (!*chain || (*chain)->cap - (*chain)->used < need) {
    size_t cap = need > 1 << 20 ? need : 1 << 20;
    profile_chunk *c = cx_malloc(sizeof *c + cap);
    if (!c) return NULL;
    c->next = *chain;
    c->used = 0;
    c->cap = cap;
    *chain = c;
  }
  char *k = (*chain)->data + (*chain)->used;
  k[0] = (char)type;
  memcpy(k + 1, v, n);
  k[n + 1] = 0;
  (*chain)->used += need;
  return k;
}

static void chunks_free(profile_chunk **chain) {
  while (*chain) {
    profile_chunk *n = (*chain)->next;
    cx_free(*chain);
    *chain = n;
  }
}

static uint64_t key_hash(int type, const char *v, size_t n) {
  return cx_hash64((uint64_t)type + KEY_SEED, v, n);
}

static profile_slot *slot_find(profile *p, uint64_t h, int type, const char *v, size_t n) {
  if (!p->nslots) return NULL;
  size_t mask = p->nslots - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    profile_slot *s = &p->slots[i];
    if (!s->hash) return NULL;
    /* strncmp stops at the stored key's NUL: no read past a shorter key */
    if (s->hash == h && s->key[0] == (char)type && !strncmp(s->key + 1, v, n) && !s->key[n + 1])
      return s;
  }
}

static cx_err slots_grow(profile *p) {
  size_t n = p->nslots ? p->nslots * 2 : 1 << 16;
  /* written, not calloc'd: see idset_add in lib/ingest/pipeline.c */
  profile_slot *ns = cx_malloc(n * sizeof *ns);
  if (!ns) return CX_ENOMEM;
  memset(ns, 0, n * sizeof *ns);
  for (size_t i = 0; i < p->nslots; i++) {
    if (!p->slots[i].hash) continue;
    size_t j = p->slots[i].hash & (n - 1);
    while (ns[j].hash) j = (j + 1) & (n - 1);
    ns[j] = p->slots[i];
  }
  cx_free(p->slots);
  p->slots = ns;
  p->nslots = n;
  return CX_OK;
}

static cx_err slot_insert(profile *p, int type, const char *v, size_t n, int64_t customer) {
  if ((p->nused + 1) * 10 > p->nslots * 7) {
    cx_err rc = slots_grow(p);
    if (rc) return rc;
  }
  uint64_t h = key_hash(type, v, n);
  char *k = key_store(&p->keys, type, v, n);
  if (!k) return CX_ENOMEM;
  size_t mask = p->nslots - 1, i = h & mask;
  while (p->slots[i].hash) i = (i + 1) & mask;
  p->slots[i].hash = h;
  p->slots[i].customer = customer;
  p->slots[i].key = k;
  p->nused++;
  return CX_OK;
}

/* ---- event kinds: (type, name) interned to small numbers ---- */

static cx_err kind_slots_grow(profile *p) {
  uint32_t n = p->nkind_slots ? p->nkind_slots * 2 : 256;
  uint32_t *ns = cx_calloc(n, sizeof *ns);
  if (!ns) return CX_ENOMEM;
  for (uint32_t k = 1; k <= p->nkinds; k++) {
    uint32_t j = (uint32_t)p->kinds[k].hash & (n - 1);
    while (ns[j]) j = (j + 1) & (n - 1);
    ns[j] = k;
  }
  cx_free(p->kind_slots);
  p->kind_slots = ns;
  p->nkind_slots = n;
  return CX_OK;
}

/* [writer] The kind of (type, name), added when new. */
cx_err profile_kind_intern(profile *p, int type, const char *name, uint32_t *out) {
  if (!name) name = "";
  size_t n = strlen(name);
  uint64_t h = key_hash(type, name, n);
  if (p->nkind_slots) {
    uint32_t mask = p->nkind_slots - 1;
    for (uint32_t i = (uint32_t)h & mask; p->kind_slots[i]; i = (i + 1) & mask) {
      profile_kind *k = &p->kinds[p->kind_slots[i]];
      if (k->hash == h && k->type == type && !strcmp(k->name, name)) {
        *out = p->kind_slots[i];
        return CX_OK;
      }
    }
  }
  if (p->nkinds == UINT32_MAX - 1) return CX_ETOOBIG;
  if ((p->nkinds + 1) * 2 >= p->nkind_slots) {
    cx_err rc = kind_slots_grow(p);
    if (rc) return rc;
  }
  if (p->nkinds + 1 >= p->capkinds) {
    uint32_t cap = p->capkinds ? p->capkinds * 2 : 64;
    profile_kind *k = cx_realloc(p->kinds, cap * sizeof *k);
    if (!k) return CX_ENOMEM;
    p->kinds = k;
    p->capkinds = cap;
  }
  char *stored = key_store(&p->kind_names, type, name, n);
  if (!stored) return CX_ENOMEM;
  uint32_t id = ++p->nkinds;
  p->kinds[id] = (profile_kind){h, type, stored + 1};
  uint32_t mask = p->nkind_slots - 1, i = (uint32_t)h & mask;
  while (p->kind_slots[i]) i = (i + 1) & mask;
  p->kind_slots[i] = id;
  *out = id;
  return CX_OK;
}

/* ---- customers ---- */

static cx_err cust_reserve(profile *p, int64_t id) {
  if (id < p->capcust) return CX_OK;
  int64_t cap = p->capcust ? p->capcust : 1024;
  while (cap <= id) cap *= 2;
  profile_customer *c = cx_realloc(p->cust, (size_t)cap * sizeof *c);
  if (!c) return CX_ENOMEM;
  memset(c + p->capcust, 0, (size_t)(cap - p->capcust) * sizeof *c);
  p->cust = c;
  size_t had = p->capcust ? ((size_t)p->capcust >> 6) + 1 : 0, words = ((size_t)cap >> 6) + 1;
  uint64_t *r = cx_realloc(p->roots, words * sizeof *r);
  if (!r) return CX_ENOMEM; /* capcust unchanged: the next call grows both */
  memset(r + had, 0, (words - had) * sizeof *r);
  p->roots = r;
  p->capcust = cap;
  return CX_OK;
}


/* [writer] find_root, pointing every customer on the way at the root. */
static int64_t find_root_w(profile *p, int64_t id) {
  int64_t r = profile_root(p, id);
  while (r && id != r) {
    int64_t next = p->cust[id].parent;
    p->cust[id].parent = r;
    id = next;
  }
  return r;
}

static void cust_init(profile_customer *c, int64_t id) {
  memset(c, 0, sizeof *c);
  c->parent = id;
  c->next_member = id;
  c->first_seen = c->last_seen = CX_NO_TIME;
}

static int point_cmp(const void *a, const void *b) {
  const profile_point *x = a, *y = b;
  if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
  return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Appends (ts, seq). Points arrive mostly in time order; one that does not
 * is appended too and leaves the tail unsorted (sorted < n) until
 * settle(): shifting it into place one by one was quadratic for a client
 * sending history newest first. */
static cx_err tl_add(profile_customer *c, int64_t ts, int64_t seq, uint32_t kind, uint32_t source) {
  if (c->n == c->cap) {
    uint32_t cap = c->cap ? c->cap + c->cap / 2 + 4 : 4;
    profile_point *t;
    if (c->in_slab) { /* the load's slab: move out, leave the old place */
      if ((t = cx_malloc(cap * sizeof *t))) memcpy(t, c->tl, c->n * sizeof *t);
    } else {
      t = cx_realloc(c->tl, cap * sizeof *t);
    }
    if (!t) return CX_ENOMEM;
    c->tl = t;
    c->in_slab = 0;
    c->cap = cap;
  }
  profile_point pt = {ts, seq, kind, source};
  /* last_seen is at least every point's ts: a later ts is in order without
   * reading the last point (a cache miss per event in an import) */
  int in_order = c->sorted == c->n && (c->n == 0 || (c->last_seen != CX_NO_TIME && ts > c->last_seen) ||
                                       point_cmp(&c->tl[c->n - 1], &pt) <= 0);
  c->tl[c->n++] = pt;
  if (in_order) c->sorted = c->n;
  if (c->first_seen == CX_NO_TIME || ts < c->first_seen) c->first_seen = ts;
  if (c->last_seen == CX_NO_TIME || ts > c->last_seen) c->last_seen = ts;
  return CX_OK;
}

/* Sorts the unsorted tail and merges it into the sorted head:
 * O(n + k log k) for k new points. */
static cx_err settle(profile_customer *c) {
  if (c->sorted >= c->n) return CX_OK;
  uint32_t k = c->n - c->sorted;
  qsort(c->tl + c->sorted, k, sizeof(profile_point), point_cmp);
  if (c->sorted && point_cmp(&c->tl[c->sorted - 1], &c->tl[c->sorted]) > 0) {
    profile_point *tail = cx_malloc(k * sizeof *tail);
    if (!tail) return CX_ENOMEM;
    memcpy(tail, c->tl + c->sorted, k * sizeof *tail);
    /* merge from the back so that the head is never overwritten early */
    int64_t i = (int64_t)c->sorted - 1, j = (int64_t)k - 1, o = (int64_t)c->n - 1;
    while (j >= 0) {
      if (i >= 0 && point_cmp(&c->tl[i], &tail[j]) > 0) c->tl[o--] = c->tl[i--];
      else c->tl[o--] = tail[j--];
    }
    cx_free(tail);
  }
  c->sorted = c->n;
  return CX_OK;
}


/* ---- statements ---- */

static void stmts_finalize(profile *p) {
  sqlite3_stmt **all[] = {&p->ins_customer, &p->ins_identity, &p->set_merged,
                          &p->ins_merge, &p->upsert_trait, &p->ins_account,
                          &p->upsert_account_trait, &p->ins_membership};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    sqlite3_finalize(*all[i]);
    *all[i] = NULL;
  }
  p->stmt_db = NULL;
}

static cx_err stmts_prepare(profile *p, sqlite3 *db) {
  if (p->stmt_db == db) return CX_OK;
  stmts_finalize(p);
  struct {
    sqlite3_stmt **st;
    const char *sql;
  } q[] = {
      {&p->ins_customer, "INSERT INTO customers(id, merged_into, created_at) VALUES(?1, NULL, ?2)"},
      {&p->ins_identity,
       "INSERT INTO identities(type, value, customer_id, created_at) VALUES(?1, ?2, ?3, ?4)"},
      {&p->set_merged, "UPDATE customers SET merged_into = ?1 WHERE id = ?2"},
      {&p->ins_merge, "INSERT INTO merges(at, from_id, into_id, reason, message_id)"
                      " VALUES(?1, ?2, ?3, ?4, ?5)"},
      {&p->upsert_trait,
       "INSERT INTO traits(customer_id, key, value, ts) VALUES(?1, ?2, ?3, ?4)"
       " ON CONFLICT(customer_id, key) DO UPDATE SET value = excluded.value, ts = excluded.ts"
       " WHERE excluded.ts >= traits.ts"},
      {&p->ins_account, "INSERT INTO accounts(id, created_at) VALUES(?1, ?2) ON CONFLICT DO NOTHING"},
      {&p->upsert_account_trait,
       "INSERT INTO account_traits(account_id, key, value, ts) VALUES(?1, ?2, ?3, ?4)"
       " ON CONFLICT(account_id, key) DO UPDATE SET value = excluded.value, ts = excluded.ts"
       " WHERE excluded.ts >= account_traits.ts"},
      {&p->ins_membership, "INSERT INTO memberships(account_id, customer_id, ts) VALUES(?1, ?2, ?3)"
                           " ON CONFLICT DO NOTHING"},
  };
  for (size_t i = 0; i < sizeof q / sizeof q[0]; i++)
    if (sqlite3_prepare_v3(db, q[i].sql, -1, SQLITE_PREPARE_PERSISTENT, q[i].st, NULL) !=
        SQLITE_OK) {
      cx_log("error", "prepare_failed", "error", sqlite3_errmsg(db), NULL);
      stmts_finalize(p);
      return CX_EDB;
    }
  p->stmt_db = db;
  return CX_OK;
}

static cx_err step_done(sqlite3_stmt *st) {
  int r = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (r != SQLITE_DONE) {
    cx_log("error", "sql_step_failed", "error", sqlite3_errmsg(sqlite3_db_handle(st)), NULL);
    return CX_EDB;
  }
  return CX_OK;
}

/* ---- load ---- */

static void indexes_free(profile *p) {
  for (int64_t i = 0; i <= p->ncust && p->cust; i++)
    if (!p->cust[i].in_slab) cx_free(p->cust[i].tl);
  cx_free(p->slab);
  p->slab = NULL;
  cx_free(p->cust);
  cx_free(p->roots);
  p->roots = NULL;
  cx_free(p->slots);
  cx_free(p->kinds);
  cx_free(p->kind_slots);
  p->kinds = NULL;
  p->kind_slots = NULL;
  p->nkinds = p->capkinds = p->nkind_slots = 0;
  chunks_free(&p->keys);
  chunks_free(&p->kind_names);
  profile_postings_free(p);
  profile_kind_counts_free(p);
  p->cust = NULL;
  p->slots = NULL;
  p->ncust = p->capcust = 0;
  p->nslots = p->nused = 0;
  p->merged = p->events = 0;
  p->ndirty = 0;
}

/* Loads the identity table into the hash table (and each root's uid_hash):
 * run on its own thread and connection while load() scans the events. */
typedef struct {
  profile *p;
  sqlite3 *db;
  cx_err rc;
  pthread_t thread;
} id_loader;

static void *load_identities(void *arg) {
  id_loader *il = arg;
  profile *p = il->p;
  sqlite3_stmt *st = NULL;
  int step;
  il->rc = CX_EDB;
  if (sqlite3_prepare_v2(il->db, "SELECT type, value, customer_id FROM identities", -1, &st, NULL))
    goto out;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    int type = sqlite3_column_int(st, 0);
    const char *v = (const char *)sqlite3_column_text(st, 1);
    size_t n = (size_t)sqlite3_column_bytes(st, 1);
    int64_t c = sqlite3_column_int64(st, 2);
    if ((il->rc = slot_insert(p, type, v, n, c))) goto out;
    int64_t r = type == PROFILE_ANONYMOUS_ID ? 0 : profile_root(p, c);
    if (r && type == PROFILE_USER_ID && !p->cust[r].uid_hash) p->cust[r].uid_hash = key_hash(type, v, n);
    if (r && type == PROFILE_EMAIL) p->cust[r].has_email = 1;
    il->rc = CX_EDB;
  }
  if (step == SQLITE_DONE) il->rc = CX_OK;
out:
  if (il->rc == CX_EDB) cx_log("error", "profile_load_failed", "error", sqlite3_errmsg(il->db), NULL);
  sqlite3_finalize(st);
  return NULL;
}

/* Builds every timeline from the log in two steps, so that the scan writes
 * sequentially: (1) one pass over the log appends each event's customer
 * and point to two flat arrays, in log order; (2) a counting sort by root
 * customer places each customer's points in one slab, exactly sized, and
 * each timeline points into it (in_slab). Appending to a million growing
 * arrays in log order instead cost a cache miss and a realloc per event. */
static cx_err load_timelines(profile *p, sqlite3 *db, int use_snapshot) {
  sqlite3_stmt *st = NULL;
  cx_err rc = CX_EDB;
  uint32_t *rowc = NULL, *root = NULL;
  profile_point *rowp = NULL;
  uint64_t *pos = NULL;
  size_t max = 0, n = 0;
  if (p->ncust >= UINT32_MAX) return CX_ETOOBIG;
  /* seq is the rowid and the log is append-only: max(seq) bounds the rows */
  if (sqlite3_prepare_v2(db, "SELECT max(seq) FROM events", -1, &st, NULL)) goto out;
  if (sqlite3_step(st) == SQLITE_ROW) max = (size_t)sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  st = NULL;
  rc = CX_ENOMEM;
  root = cx_malloc(((size_t)p->ncust + 1) * sizeof *root);
  pos = cx_calloc((size_t)p->ncust + 2, sizeof *pos);
  if (!root || !pos || (max && (!(rowc = cx_malloc(max * sizeof *rowc)) ||
                               !(rowp = cx_malloc(max * sizeof *rowp)))))
    goto out;
  for (int64_t id = 0; id <= p->ncust; id++) root[id] = (uint32_t)profile_root(p, id);
  /* the timelines saved at the last clean stop, then the log after them */
  int64_t from_seq = 0;
  if (use_snapshot && !profile_snapshot_load(p, db, root, rowc, rowp, max, &n, &from_seq)) n = 0;
  for (size_t i = 0; i < n; i++) pos[rowc[i] + 1]++;
  rc = CX_EDB;
  if (sqlite3_prepare_v2(db, "SELECT seq, customer_id, ts, type, source_id, name FROM events"
                             " WHERE seq > ?1", -1, &st, NULL))
    goto out;
  sqlite3_bind_int64(st, 1, from_seq);
  /* names repeat: remember the last kind per type rather than hash each row */
  uint32_t last_kind[8] = {0};
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t cid = sqlite3_column_int64(st, 1);
    uint32_t r = cid > 0 && cid <= p->ncust ? root[cid] : 0;
    if (!r || n == max) continue; /* a customer that does not exist */
    int type = sqlite3_column_int(st, 3);
    const char *name = (const char *)sqlite3_column_text(st, 5);
    uint32_t kind = 0, *slot = &last_kind[(unsigned)type & 7];
    if (*slot && p->kinds[*slot].type == type && !strcmp(p->kinds[*slot].name, name ? name : ""))
      kind = *slot;
    else if ((rc = profile_kind_intern(p, type, name, &kind)))
      goto out;
    *slot = kind;
    rowc[n] = r;
    rowp[n] = (profile_point){sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 0), kind,
                              (uint32_t)sqlite3_column_int64(st, 4)};
    pos[r + 1]++;
    n++;
  }
  if (step != SQLITE_DONE) {
    rc = CX_EDB;
    goto out;
  }
  sqlite3_finalize(st);
  st = NULL;
  rc = CX_ENOMEM;
  if (n && !(p->slab = cx_malloc(n * sizeof *p->slab))) goto out;
  /* pos[r] = where customer r's points start; then the scatter moves it on */
  for (int64_t id = 1; id <= p->ncust + 1; id++) pos[id] += pos[id - 1];
  for (int64_t id = 1; id <= p->ncust; id++) {
    profile_customer *c = &p->cust[id];
    uint32_t k = (uint32_t)(pos[id + 1] - pos[id]);
    if (!k) continue;
    c->tl = p->slab + pos[id];
    c->in_slab = 1;
    c->cap = k;
  }
  for (size_t i = 0; i < n; i++) p->slab[pos[rowc[i]]++] = rowp[i];
  cx_free(rowc);
  cx_free(rowp);
  rowc = NULL;
  rowp = NULL;
  /* each timeline in log order: its sorted prefix, first and last seen */
  for (int64_t id = 1; id <= p->ncust; id++) {
    profile_customer *c = &p->cust[id];
    if (!c->in_slab) continue;
    c->n = c->cap;
    uint32_t k = 1;
    while (k < c->n && point_cmp(&c->tl[k - 1], &c->tl[k]) <= 0) k++;
    c->sorted = k;
    for (uint32_t i = 0; i < c->n; i++) {
      int64_t ts = c->tl[i].ts;
      if (c->first_seen == CX_NO_TIME || ts < c->first_seen) c->first_seen = ts;
      if (c->last_seen == CX_NO_TIME || ts > c->last_seen) c->last_seen = ts;
    }
  }
  p->events = n;
  rc = CX_OK;
out:
  if (rc == CX_EDB) cx_log("error", "profile_load_failed", "error", sqlite3_errmsg(db), NULL);
  sqlite3_finalize(st);
  cx_free(rowc);
  cx_free(rowp);
  cx_free(root);
  cx_free(pos);
  return rc;
}

static cx_err load(profile *p, sqlite3 *db, int use_snapshot) {
  int64_t t0 = cx_mono_ns(), t_cust = 0, t_events = 0, t_ids = 0;
  sqlite3_stmt *st = NULL;
  id_loader il = {0};
  int threaded = 0;
  cx_err rc = CX_EDB;
  int step;
  /* customers and the merge forest */
  if (sqlite3_prepare_v2(db, "SELECT id, merged_into FROM customers ORDER BY id", -1, &st, NULL))
    goto out;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0);
    if (id <= 0 || (rc = cust_reserve(p, id))) goto out;
    cust_init(&p->cust[id], id);
    if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
      p->cust[id].parent = sqlite3_column_int64(st, 1);
      p->merged++;
    } else {
      p->roots[id >> 6] |= 1ULL << (id & 63);
    }
    if (id > p->ncust) p->ncust = id;
  }
  if (step != SQLITE_DONE) { /* a read error is not an empty table */
    rc = CX_EDB;
    goto out;
  }
  sqlite3_finalize(st);
  st = NULL;
  /* an erased customer leaves a hole in the ids: unknown (parent 0) and
   * without times */
  for (int64_t id = 1; id <= p->ncust; id++)
    if (!p->cust[id].parent) {
      p->cust[id].first_seen = p->cust[id].last_seen = CX_NO_TIME;
      p->holes++;
    }
  /* rings of merged customers, and short chains */
  for (int64_t id = 1; id <= p->ncust; id++) {
    if (!p->cust[id].parent || p->cust[id].parent == id) continue;
    int64_t r = find_root_w(p, id);
    if (!r) continue;
    p->cust[id].next_member = p->cust[r].next_member;
    p->cust[r].next_member = id;
  }
  /* identities on a thread of their own, with their own connection, while
   * this one scans the events: the two touch different fields */
  t_cust = cx_mono_ns();
  il.p = p;
  const char *file = sqlite3_db_filename(db, "main");
  /* inside a transaction (an erasure rebuilds in the one that deletes)
   * another connection would not see its changes: one after the other */
  if (file && *file && sqlite3_get_autocommit(db) &&
      sqlite3_open_v2(file, &il.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK) {
    sqlite3_busy_timeout(il.db, 10000);
    threaded = !pthread_create(&il.thread, NULL, load_identities, &il);
  }
  if (!threaded) { /* no second connection: one after the other */
    if (il.db) sqlite3_close(il.db);
    il.db = db;
    load_identities(&il);
    il.db = NULL;
    if ((rc = il.rc)) goto out;
  }
  if ((rc = load_timelines(p, db, use_snapshot))) goto out;
  t_events = cx_mono_ns();
  if (threaded) {
    pthread_join(il.thread, NULL);
    threaded = 0;
    if ((rc = il.rc)) goto out;
  }
  t_ids = cx_mono_ns();
  for (int64_t i = 1; i <= p->ncust; i++)
    if ((rc = settle(&p->cust[i]))) goto out;
  rc = CX_OK;
  {
    char a[32], b[32], c[32], d[32];
    int64_t t1 = cx_mono_ns();
    snprintf(a, sizeof a, "%.0f", (double)(t_cust - t0) / 1e6);
    snprintf(b, sizeof b, "%.0f", (double)(t_events - t_cust) / 1e6);
    snprintf(c, sizeof c, "%.0f", (double)(t_ids - t_events) / 1e6);
    snprintf(d, sizeof d, "%.0f", (double)(t1 - t_ids) / 1e6);
    cx_log("info", "profile_loaded", "customers_ms", a, "events_ms", b, "identities_wait_ms", c,
           "settle_ms", d, NULL);
  }
out:
  if (threaded) pthread_join(il.thread, NULL);
  if (il.db) sqlite3_close(il.db);
  if (rc == CX_EDB) cx_log("error", "profile_load_failed", "error", sqlite3_errmsg(db), NULL);
  sqlite3_finalize(st);
  return rc;
}

/* first_ts and last_ts over the loaded timelines */
static void time_bounds(profile *p) {
  p->first_ts = p->last_ts = CX_NO_TIME;
  for (int64_t i = 1; i <= p->ncust; i++) {
    const profile_customer *c = &p->cust[i];
    if (c->first_seen != CX_NO_TIME && (p->first_ts == CX_NO_TIME || c->first_seen < p->first_ts))
      p->first_ts = c->first_seen;
    if (c->last_seen != CX_NO_TIME && (p->last_ts == CX_NO_TIME || c->last_seen > p->last_ts))
      p->last_ts = c->last_seen;
  }
}

cx_err profile_open(sqlite3 *db, profile **out) {
  profile *p = cx_calloc(1, sizeof *p);
  if (!p) return CX_ENOMEM;
  cx_buf_init(&p->tval, 64 * 1024);
  /* writers first: a steady stream of API reads must not starve ingest */
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&p->lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  pthread_mutex_init(&p->post_mu, NULL);
  cx_err rc = load(p, db, 1);
  if (rc) {
    profile_close(p);
    return rc;
  }
  time_bounds(p);
  if ((rc = profile_stages_load(p, db))) {
    profile_close(p);
    return rc;
  }
  *out = p;
  return CX_OK;
}

cx_err profile_rebuild(profile *p, sqlite3 *db) {
  /* build aside, swap in only when complete: a failed rebuild leaves the
   * old indexes (and the caller decides what that means) */
  profile fresh;
  memset(&fresh, 0, sizeof fresh);
  cx_err rc = load(&fresh, db, 0); /* the snapshot may predate what was rolled back: the log */
  if (rc) {
    indexes_free(&fresh);
    return rc;
  }
  pthread_rwlock_wrlock(&p->lock);
  indexes_free(p);
  p->cust = fresh.cust;
  p->roots = fresh.roots;
  p->ncust = fresh.ncust;
  p->capcust = fresh.capcust;
  p->slots = fresh.slots;
  p->nslots = fresh.nslots;
  p->nused = fresh.nused;
  p->keys = fresh.keys;
  p->kind_names = fresh.kind_names;
  p->slab = fresh.slab;
  p->merged = fresh.merged;
  p->holes = fresh.holes;
  p->events = fresh.events;
  time_bounds(p);
  p->kinds = fresh.kinds;
  p->nkinds = fresh.nkinds;
  p->capkinds = fresh.capkinds;
  p->kind_slots = fresh.kind_slots;
  p->nkind_slots = fresh.nkind_slots;
  /* whoever follows the changes starts over — once the transaction this
   * rebuild belongs to (an erasure, a retention run) has committed and the
   * writer publishes: reloading from the store before the commit would
   * miss what the group changed. After a rollback nothing committed
   * differs from what the followers know; the next commit tells them. */
  p->changes_head += PROFILE_CHANGES + 1;
  pthread_rwlock_unlock(&p->lock);
  return CX_OK;
}

void profile_close(profile *p) {
  if (!p) return;
  stmts_finalize(p);
  cx_buf_free(&p->tval);
  indexes_free(p);
  cx_free(p->dirty);
  cx_free(p->changes);
  profile_stages_free(p->stages);
  pthread_mutex_destroy(&p->post_mu);
  pthread_rwlock_destroy(&p->lock);
  cx_free(p);
}

/* ---- writer ---- */

void profile_write_begin(profile *p) { pthread_rwlock_wrlock(&p->lock); }

/* Readers only ever see settled timelines: the writer settles what it
 * touched before letting them in. */
void profile_write_end(profile *p) {
  for (size_t i = 0; i < p->ndirty; i++) {
    profile_customer *c = &p->cust[p->dirty[i]];
    if (settle(c)) /* no memory for the merge buffer: sort in place */
      qsort(c->tl, c->n, sizeof(profile_point), point_cmp), c->sorted = c->n;
    c->dirty = 0;
  }
  p->ndirty = 0;
  pthread_rwlock_unlock(&p->lock);
}

static cx_err new_customer(profile *p, int64_t now, int64_t *out) {
  int64_t id = p->ncust + 1;
  cx_err rc = cust_reserve(p, id);
  if (rc) return rc;
  sqlite3_bind_int64(p->ins_customer, 1, id);
  sqlite3_bind_int64(p->ins_customer, 2, now);
  if ((rc = step_done(p->ins_customer))) return rc;
  cust_init(&p->cust[id], id);
  p->roots[id >> 6] |= 1ULL << (id & 63);
  p->ncust = id;
  *out = id;
  return CX_OK;
}

static cx_err add_identity(profile *p, int type, const char *v, int64_t customer, int64_t now) {
  size_t n = strlen(v);
  sqlite3_bind_int(p->ins_identity, 1, type);
  sqlite3_bind_text(p->ins_identity, 2, v, (int)n, SQLITE_STATIC);
  sqlite3_bind_int64(p->ins_identity, 3, customer);
  sqlite3_bind_int64(p->ins_identity, 4, now);
  cx_err rc = step_done(p->ins_identity);
  if (!rc) rc = slot_insert(p, type, v, n, customer);
  if (!rc && type == PROFILE_USER_ID) p->cust[find_root_w(p, customer)].uid_hash = key_hash(type, v, n);
  if (!rc && type == PROFILE_EMAIL) p->cust[find_root_w(p, customer)].has_email = 1;
  if (!rc) profile_changed(p, find_root_w(p, customer), 0); /* customer.identified */
  return rc;
}

/* Merges customers a and b (both roots, different); the older (lower id)
 * survives. Returns the survivor. */
static cx_err merge(profile *p, int64_t a, int64_t b, const char *reason, const char *message_id,
                    int64_t now, int64_t *out) {
  int64_t into = a < b ? a : b, from = a < b ? b : a;
  cx_err rc;
  /* Rows stay with the customer that wrote them (identities, traits,
   * memberships): a merge is one row here and a pointer in memory, so a
   * cluster that keeps merging never has its rows rewritten. Readers
   * gather a root's rows over its ring of members. */
  sqlite3_bind_int64(p->set_merged, 1, into);
  sqlite3_bind_int64(p->set_merged, 2, from);
  if ((rc = step_done(p->set_merged))) return rc;
  sqlite3_bind_int64(p->ins_merge, 1, now);
  sqlite3_bind_int64(p->ins_merge, 2, from);
  sqlite3_bind_int64(p->ins_merge, 3, into);
  sqlite3_bind_text(p->ins_merge, 4, reason, -1, SQLITE_STATIC);
  if (message_id) sqlite3_bind_text(p->ins_merge, 5, message_id, -1, SQLITE_STATIC);
  if ((rc = step_done(p->ins_merge))) return rc;

  /* in memory: timelines merge, the loser points at the survivor */
  profile_customer *ci = &p->cust[into], *cf = &p->cust[from];
  if ((rc = settle(ci)) || (rc = settle(cf))) return rc;
  if (cf->n) {
    uint32_t n = ci->n + cf->n;
    profile_point *t = cx_malloc(n * sizeof *t);
    if (!t) return CX_ENOMEM;
    uint32_t i = 0, j = 0, k = 0;
    while (i < ci->n && j < cf->n)
      t[k++] = point_cmp(&ci->tl[i], &cf->tl[j]) <= 0 ? ci->tl[i++] : cf->tl[j++];
    while (i < ci->n) t[k++] = ci->tl[i++];
    while (j < cf->n) t[k++] = cf->tl[j++];
    if (!ci->in_slab) cx_free(ci->tl);
    if (!cf->in_slab) cx_free(cf->tl);
    ci->in_slab = cf->in_slab = 0;
    ci->tl = t;
    ci->n = ci->cap = ci->sorted = n;
    cf->tl = NULL;
    cf->n = cf->cap = cf->sorted = 0;
    if (ci->first_seen == CX_NO_TIME || cf->first_seen < ci->first_seen)
      ci->first_seen = cf->first_seen;
    if (ci->last_seen == CX_NO_TIME || cf->last_seen > ci->last_seen) ci->last_seen = cf->last_seen;
  }
  if (!ci->uid_hash) ci->uid_hash = cf->uid_hash;
  ci->has_email |= cf->has_email;
  cf->parent = into;
  p->roots[from >> 6] &= ~(1ULL << (from & 63));
  int64_t ring = ci->next_member; /* splice the two rings into one */
  ci->next_member = cf->next_member;
  cf->next_member = ring;
  p->merged++;
  profile_changed(p, from, PROFILE_CHANGED_TRAITS);
  profile_changed(p, into, PROFILE_CHANGED_TRAITS);
  *out = into;
  return CX_OK;
}

static int compatible(profile *p, int64_t a, int64_t b) {
  uint64_t x = p->cust[a].uid_hash, y = p->cust[b].uid_hash;
  return !(x && y && x != y);
}

uint64_t profile_id_hash(int type, const char *v, size_t n) { return key_hash(type, v, n); }

static void prefetch_id(profile *p, uint64_t h, int deep) {
  if (!h || !p->nslots) return;
  const profile_slot *s = &p->slots[h & (p->nslots - 1)];
  if (!deep) {
    __builtin_prefetch(s);
  } else if (s->hash == h) { /* its first place: most keys are there */
    __builtin_prefetch(s->key);
    if (s->customer > 0 && s->customer <= p->ncust) __builtin_prefetch(&p->cust[s->customer]);
  }
}

void profile_prefetch_ids(profile *p, uint64_t user_hash, uint64_t anonymous_hash, int deep) {
  prefetch_id(p, user_hash, deep);
  prefetch_id(p, anonymous_hash, deep);
}

cx_err profile_resolve(profile *p, sqlite3 *db, const profile_ids *ids, int64_t now,
                       int64_t *out_customer) {
  cx_err rc = stmts_prepare(p, db);
  if (rc) return rc;
  struct {
    int type;
    const char *v;
    int64_t cust;
  } id[4] = {{PROFILE_USER_ID, ids->user_id, 0},
             {PROFILE_ANONYMOUS_ID, ids->anonymous_id, 0},
             {PROFILE_EMAIL, ids->email, 0},
             {PROFILE_USER_ID, ids->previous_id, 0}};
  const uint64_t given[4] = {ids->user_hash, ids->anonymous_hash, 0, 0};
  for (int i = 0; i < 4; i++) {
    if (!id[i].v || !*id[i].v) {
      id[i].v = NULL;
      continue;
    }
    size_t n = strlen(id[i].v);
    uint64_t h = given[i] ? given[i] : key_hash(id[i].type, id[i].v, n);
    profile_slot *s = slot_find(p, h, id[i].type, id[i].v, n);
    /* an alias's previousId may be an anonymous id as well as a user id */
    if (!s && i == 3) {
      s = slot_find(p, key_hash(PROFILE_ANONYMOUS_ID, id[i].v, n), PROFILE_ANONYMOUS_ID, id[i].v, n);
      if (s) id[i].type = PROFILE_ANONYMOUS_ID;
    }
    if (s) id[i].cust = find_root_w(p, s->customer);
  }
  /* the user id's customer leads; otherwise the oldest one known */
  int64_t target = id[0].cust;
  for (int i = 1; i < 4 && !id[0].cust; i++)
    if (id[i].cust && (!target || id[i].cust < target)) target = id[i].cust;
  if (!target && (rc = new_customer(p, now, &target))) return rc;
  if (id[0].v && !id[0].cust) {
    /* a new user id never lands on a customer that holds another one */
    if (p->cust[target].uid_hash && (rc = new_customer(p, now, &target))) return rc;
    if ((rc = add_identity(p, PROFILE_USER_ID, id[0].v, target, now))) return rc;
    id[0].cust = target;
  }
  /* merge what the message proves to be the same person; two customers
   * holding different user ids stay apart unless an alias says otherwise */
  int alias = ids->previous_id && *ids->previous_id;
  for (int i = 1; i < 4; i++) {
    int64_t c = id[i].cust ? find_root_w(p, id[i].cust) : 0;
    if (!c || c == target) continue;
    if (!alias && !compatible(p, c, target)) continue;
    if ((rc = merge(p, c, target, ids->reason, ids->message_id, now, &target)))
      return rc;
  }
  for (int i = 1; i < 4; i++) {
    if (!id[i].v || id[i].cust) continue;
    if (i == 3 && id[0].v && !strcmp(id[0].v, id[3].v)) continue;
    /* an unknown previousId is recorded as the anonymous id it usually is */
    int type = i == 3 ? PROFILE_ANONYMOUS_ID : id[i].type;
    size_t n = strlen(id[i].v);
    if (slot_find(p, key_hash(type, id[i].v, n), type, id[i].v, n)) continue;
    if ((rc = add_identity(p, type, id[i].v, target, now))) return rc;
  }
  *out_customer = target;
  return CX_OK;
}

static cx_err upsert_traits(sqlite3_stmt *st, cx_buf *vb, int64_t cid, const char *aid,
                            const cJSON *traits, int64_t ts) {
  if (!cJSON_IsObject(traits)) return CX_OK;
  for (const cJSON *t = traits->child; t; t = t->next) {
    /* a repeated key keeps its first value, as the e-mail identity does */
    if (!t->string || cJSON_GetObjectItemCaseSensitive(traits, t->string) != t) continue;
    cx_buf_reset(vb);
    cx_err wrc = cx_json_write(vb, t);
    if (wrc) return wrc;
    const char *v = vb->p;
    if (aid) sqlite3_bind_text(st, 1, aid, -1, SQLITE_STATIC);
    else sqlite3_bind_int64(st, 1, cid);
    sqlite3_bind_text(st, 2, t->string, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, v, (int)vb->len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, ts);
    cx_err rc = step_done(st);
    if (rc) return rc;
  }
  return CX_OK;
}

cx_err profile_set_traits(profile *p, sqlite3 *db, int64_t customer, const cJSON *traits,
                          int64_t ts) {
  cx_err rc = stmts_prepare(p, db);
  if (!rc) rc = upsert_traits(p->upsert_trait, &p->tval, customer, NULL, traits, ts);
  if (!rc) profile_changed(p, find_root_w(p, customer), PROFILE_CHANGED_TRAITS);
  return rc;
}

cx_err profile_group(profile *p, sqlite3 *db, int64_t customer, const char *group_id,
                     const cJSON *traits, int64_t ts, int64_t now) {
  cx_err rc = stmts_prepare(p, db);
  if (rc) return rc;
  sqlite3_bind_text(p->ins_account, 1, group_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(p->ins_account, 2, now);
  if ((rc = step_done(p->ins_account))) return rc;
  sqlite3_bind_text(p->ins_membership, 1, group_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(p->ins_membership, 2, customer);
  sqlite3_bind_int64(p->ins_membership, 3, ts);
  if ((rc = step_done(p->ins_membership))) return rc;
  return upsert_traits(p->upsert_account_trait, &p->tval, 0, group_id, traits, ts);
}

cx_err profile_note_event(profile *p, int64_t customer, int64_t seq, int64_t ts, int type,
                          const char *name, int64_t source) {
  int64_t c = find_root_w(p, customer);
  if (!c) return CX_ENOTFOUND;
  profile_customer *pc = &p->cust[c];
  uint32_t kind;
  cx_err rc = profile_kind_intern(p, type, name, &kind);
  if (rc) return rc;
  rc = tl_add(pc, ts, seq, kind, source < 0 || source > UINT32_MAX ? 0 : (uint32_t)source);
  if (!rc && pc->sorted < pc->n && !pc->dirty) {
    if (p->ndirty == p->capdirty) {
      size_t cap = p->capdirty ? p->capdirty * 2 : 64;
      int64_t *d = cx_realloc(p->dirty, cap * sizeof *d);
      if (d) p->dirty = d, p->capdirty = cap;
    }
    if (p->ndirty < p->capdirty) {
      p->dirty[p->ndirty++] = c;
      pc->dirty = 1;
    } else {
      rc = settle(pc); /* cannot list it: settle it now */
    }
  }
  if (!rc) {
    profile_postings_note(p, kind, ts, c);
    profile_kind_counts_note(p, kind, c);
    p->events++;
    if (p->first_ts == CX_NO_TIME || ts < p->first_ts) p->first_ts = ts;
    if (p->last_ts == CX_NO_TIME || ts > p->last_ts) p->last_ts = ts;
    profile_changed(p, c, 0);
  }
  return rc;
}

/* ---- readers ---- */

int64_t profile_canonical(profile *p, int64_t id) {
  pthread_rwlock_rdlock(&p->lock);
  int64_t r = profile_root(p, id);
  pthread_rwlock_unlock(&p->lock);
  return r;
}

int64_t profile_find(profile *p, int type, const char *value, size_t n) {
  pthread_rwlock_rdlock(&p->lock);
  profile_slot *s = slot_find(p, key_hash(type, value, n), type, value, n);
  int64_t r = s ? profile_root(p, s->customer) : 0;
  pthread_rwlock_unlock(&p->lock);
  return r;
}

cx_err profile_get_summary(profile *p, int64_t id, profile_summary *out) {
  pthread_rwlock_rdlock(&p->lock);
  int64_t r = profile_root(p, id);
  if (r) {
    out->first_seen = p->cust[r].first_seen;
    out->last_seen = p->cust[r].last_seen;
    out->event_count = p->cust[r].n;
  }
  pthread_rwlock_unlock(&p->lock);
  return r ? CX_OK : CX_ENOTFOUND;
}

static int point_matches(const profile *p, const profile_point *pt, const profile_filter *f) {
  if (!f) return 1;
  if (f->source && pt->source != f->source) return 0;
  const profile_kind *k = &p->kinds[pt->kind];
  if (f->type && k->type != f->type) return 0;
  return !f->name || !strcmp(k->name, f->name);
}

size_t profile_timeline(profile *p, int64_t id, int64_t before_ts, int64_t before_seq,
                        const profile_filter *f, profile_point *out, size_t max) {
  size_t k = 0;
  pthread_rwlock_rdlock(&p->lock);
  int64_t r = profile_root(p, id);
  if (r) {
    profile_customer *c = &p->cust[r];
    int64_t i = (int64_t)c->n - 1;
    if (before_seq > 0) {
      /* binary search for the last point < (before_ts, before_seq) */
      profile_point key = {before_ts, before_seq, 0, 0};
      int64_t lo = 0, hi = c->n;
      while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (point_cmp(&c->tl[mid], &key) < 0) lo = mid + 1;
        else hi = mid;
      }
      i = lo - 1;
    }
    for (; i >= 0 && k < max; i--)
      if (point_matches(p, &c->tl[i], f)) out[k++] = c->tl[i];
  }
  pthread_rwlock_unlock(&p->lock);
  return k;
}

size_t profile_members(profile *p, int64_t id, int64_t *out, size_t max) {
  size_t k = 0;
  pthread_rwlock_rdlock(&p->lock);
  int64_t r = profile_root(p, id);
  if (r) {
    int64_t m = r;
    do {
      if (k < max) out[k] = m;
      k++;
      m = p->cust[m].next_member;
    } while (m != r && k < (size_t)p->ncust + 1);
  }
  pthread_rwlock_unlock(&p->lock);
  return k;
}

void profile_get_stats(profile *p, profile_stats *out) {
  pthread_rwlock_rdlock(&p->lock);
  out->customers = (uint64_t)p->ncust - p->merged - p->holes;
  out->merged = p->merged;
  out->identities = p->nused;
  out->events = p->events;
  out->first_event_at = p->first_ts;
  out->last_event_at = p->last_ts;
  pthread_rwlock_unlock(&p->lock);
}

cx_err profile_normalise_email(const char *in, size_t n, char *out) {
  while (n && (*in == ' ' || *in == '\t')) in++, n--;
  while (n && (in[n - 1] == ' ' || in[n - 1] == '\t')) n--;
  if (!n || n > PROFILE_ID_MAX) return CX_EINVAL;
  for (size_t i = 0; i < n; i++) out[i] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] + 32) : in[i];
  out[n] = 0;
  return CX_OK;
}

void profile_read_begin(profile *p) { pthread_rwlock_rdlock(&p->lock); }
void profile_read_end(profile *p) { pthread_rwlock_unlock(&p->lock); }
int64_t profile_max_id(const profile *p) { return p->ncust; }
int64_t profile_root_of(const profile *p, int64_t id) { return profile_root(p, id); }

const profile_point *profile_points(const profile *p, int64_t id, size_t *n) {
  *n = 0;
  if (id <= 0 || id > p->ncust || p->cust[id].parent != id) return NULL;
  *n = p->cust[id].n;
  return p->cust[id].tl;
}

const profile_point *profile_points_in(const profile *p, int64_t id, int64_t from, int64_t to,
                                       size_t *n) {
  *n = 0;
  if (id <= 0 || id > p->ncust) return NULL;
  const profile_customer *c = &p->cust[id];
  if (c->parent != id || !c->n || c->last_seen < from || c->first_seen >= to) return NULL;
  *n = c->n;
  return c->tl;
}

void profile_prefetch_customer(const profile *p, int64_t id) {
  if (id <= 0 || id > p->ncust) return;
  const char *c = (const char *)&p->cust[id]; /* what profile_points_in reads may straddle two lines */
  __builtin_prefetch(c);
  __builtin_prefetch(c + offsetof(profile_customer, n));
}

int64_t profile_member_next(const profile *p, int64_t id) {
  return id > 0 && id <= p->ncust ? p->cust[id].next_member : id;
}

int profile_identified(const profile *p, int64_t id) {
  if (id <= 0 || id > p->ncust) return 0;
  return p->cust[id].uid_hash != 0 || p->cust[id].has_email;
}

uint32_t profile_kind_count(const profile *p) { return p->nkinds; }

const char *profile_kind_name(const profile *p, uint32_t kind, int *type) {
  if (kind == 0 || kind > p->nkinds) {
    if (type) *type = 0;
    return "";
  }
  if (type) *type = p->kinds[kind].type;
  return p->kinds[kind].name;
}

void profile_changed(profile *p, int64_t id, int64_t what) {
  if (!p->changes && !(p->changes = cx_malloc(PROFILE_CHANGES * sizeof *p->changes))) {
    p->changes_head += PROFILE_CHANGES + 1; /* cannot record it: report the loss */
    return;
  }
  p->changes[p->changes_head++ & (PROFILE_CHANGES - 1)] = id | what;
}

void profile_changes_publish(profile *p) {
  pthread_rwlock_wrlock(&p->lock);
  p->changes_published = p->changes_head;
  pthread_rwlock_unlock(&p->lock);
}

uint64_t profile_changes_now(profile *p) {
  pthread_rwlock_rdlock(&p->lock);
  uint64_t h = p->changes_published;
  pthread_rwlock_unlock(&p->lock);
  return h;
}

size_t profile_changes(profile *p, uint64_t *cursor, int64_t *out, size_t max) {
  size_t k = 0;
  pthread_rwlock_rdlock(&p->lock);
  uint64_t head = p->changes_published;
  if (head - *cursor > PROFILE_CHANGES || *cursor > head) {
    *cursor = head;
    k = PROFILE_CHANGES_LOST;
  } else if (p->changes_head - *cursor > PROFILE_CHANGES) {
    /* the ring moved past *cursor, but what overwrote it is not committed
     * yet: nothing until it is (then the loss shows) */
  } else {
    for (; *cursor < head && k < max; k++, ++*cursor)
      out[k] = p->changes[*cursor & (PROFILE_CHANGES - 1)];
  }
  pthread_rwlock_unlock(&p->lock);
  return k;
}
