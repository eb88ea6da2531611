/* pipeline.c - the writer side of ingestion: dedupe, identity resolution,
 * the event append, and the derived indexes, all on the writer thread. */
#include "ingest.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/util.h"
#include "../base/vec.h"
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define DAY_MS (24LL * 3600 * 1000)

/* A set of 64-bit messageId hashes (0 = empty), open addressing. Two
 * generations: ids go into `cur`; when cur is a day old it becomes `old`
 * and the previous old is dropped, so an id is remembered 24 to 48 hours. */
typedef struct {
  uint64_t *slot;
  size_t cap, used;
} idset;

typedef struct {
  int64_t id;
  char name[64];
  char key_hash[65]; /* empty: a source without a key (import) */
  int64_t created_at;
} source;

/* a stored message always fits one body of a block */
_Static_assert(INGEST_MAX_STORED <= STORE_BODY_MAX, "a stored message must fit a body block");

/* The events rows of a job go in EV_ROWS at a time, in one INSERT of that
 * many rows: one statement per row was a fifth of the writer's time. */
#define EV_ROWS 64

typedef struct {
  int64_t seq, cust, source, ts;
  uint64_t mid_hash;
  int type;
  const char *name; /* the batch's: flushed before the job ends */
} ev_row;

struct ingest {
  store *st;
  profile *pr;
  idset cur, old;
  int64_t cur_started;
  sqlite3_stmt *ins_event, *ins_events, *max_seq; /* one row; EV_ROWS rows; the log's newest */
  sqlite3 *stmt_db;
  /* the writer's, during a job: the seq SQLite gives the next row
   * (max(seq) + 1, read as the job starts), and the rows not yet inserted */
  int64_t next_seq;
  int64_t rows_received_at; /* the job's: every row's received_at */
  ev_row rows[EV_ROWS];
  size_t nrows;
  store_blocks *blocks; /* owned; the bodies of the job being applied */
  pthread_mutex_t src_mu;
  source *src;
  size_t nsrc;
  atomic_uint_fast64_t events, duplicates, batches;
  ingest_listener listener; /* set before the writer starts */
};

static int idset_has(const idset *s, uint64_t h) {
  if (!s->cap) return 0;
  for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
    if (s->slot[i] == h) return 1;
    if (!s->slot[i]) return 0;
  }
}

static cx_err idset_add(idset *s, uint64_t h) {
  if ((s->used + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 1 << 16;
    /* written, not calloc'd: calloc's untouched pages are first read as
     * the shared zero page, and the write that replaces it then flushes
     * the TLB of every thread (the import's profile showed it) */
    uint64_t *n = cx_malloc(cap * sizeof *n);
    if (!n) return CX_ENOMEM;
    memset(n, 0, cap * sizeof *n);
    for (size_t i = 0; i < s->cap; i++) {
      if (!s->slot[i]) continue;
      size_t j = s->slot[i] & (cap - 1);
      while (n[j]) j = (j + 1) & (cap - 1);
      n[j] = s->slot[i];
    }
    cx_free(s->slot);
    s->slot = n;
    s->cap = cap;
  }
  size_t i = h & (s->cap - 1);
  while (s->slot[i] && s->slot[i] != h) i = (i + 1) & (s->cap - 1);
  if (!s->slot[i]) {
    s->slot[i] = h;
    s->used++;
  }
  return CX_OK;
}

static void idset_free(idset *s) {
  cx_free(s->slot);
  memset(s, 0, sizeof *s);
}

/* ---- the dedupe window saved at a clean stop ("<database>-dedupe"): the
 * ids of the window as they were, so that the next start reads them in one
 * block and scans only the log after them. Header: magic, the newest
 * event's seq and mid_hash (the log must still hold them: see
 * lib/profile/snapshot.c), the count and a hash of the ids. Saved ids may
 * then be kept up to a day longer than a scan would keep them: the window
 * is "at least 24 hours". Not synced, as the timelines' snapshot: a file a
 * crash damaged fails its hash, and the next start scans the log. ---- */

typedef struct {
  char magic[8];
  int64_t seq, mid;
  uint64_t count, hash;
} dd_header;
static const char DD_MAGIC[8] = {'C', 'X', 'M', 'D', 'D', 0, 0, 1};

cx_err ingest_save(ingest *in) {
  sqlite3 *db = store_db(in->st);
  char path[4200], tmp[4210];
  store_side_path(db, "dedupe", path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  dd_header h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, DD_MAGIC, sizeof DD_MAGIC);
  if (!path[0] || store_log_head(db, &h.seq, &h.mid)) return CX_EDB;
  cx_vec ids = {0};
  cx_err rc = CX_OK;
  const idset *sets[2] = {&in->cur, &in->old};
  for (int k = 0; k < 2 && !rc; k++)
    for (size_t i = 0; i < sets[k]->cap && !rc; i++)
      if (sets[k]->slot[i]) rc = cx_vec_push(&ids, (int64_t)sets[k]->slot[i]);
  if (rc) return rc;
  h.count = ids.n;
  h.hash = cx_hash64(0, (const char *)ids.v, ids.n * sizeof *ids.v);
  FILE *f = fopen(tmp, "wb");
  int bad = !f || fwrite(&h, sizeof h, 1, f) != 1 ||
            (ids.n && fwrite(ids.v, sizeof *ids.v, ids.n, f) != ids.n) || fflush(f);
  if (f && fclose(f)) bad = 1;
  cx_vec_free(&ids);
  if (bad || rename(tmp, path)) {
    unlink(tmp);
    cx_log("warn", "dedupe_not_saved", "path", path, NULL);
    return CX_EIO;
  }
  return CX_OK;
}

/* The saved ids into in->cur; *seq = the newest event they cover. 0 when
 * there is no usable file (logged when there is one). */
static int dedupe_read_saved(ingest *in, sqlite3 *db, int64_t *seq) {
  char path[4200];
  store_side_path(db, "dedupe", path, sizeof path);
  FILE *f = path[0] ? fopen(path, "rb") : NULL;
  if (!f) return 0;
  dd_header h;
  uint64_t *ids = NULL;
  const char *why = NULL;
  if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, DD_MAGIC, sizeof DD_MAGIC) ||
      h.count > ((uint64_t)1 << 32))
    why = "not a dedupe window of this version";
  if (!why && !store_log_holds(db, h.seq, h.mid)) why = "it does not match the log (restored from a backup?)";
  if (!why && h.count && !(ids = cx_malloc(h.count * sizeof *ids))) why = "out of memory";
  if (!why && h.count && fread(ids, sizeof *ids, h.count, f) != h.count) why = "it is truncated";
  if (!why && (fgetc(f) != EOF || cx_hash64(0, (const char *)ids, h.count * sizeof *ids) != h.hash))
    why = "it is damaged";
  fclose(f);
  if (!why) {
    size_t slots = 1 << 16;
    while (slots < h.count * 2 + 2) slots *= 2;
    if (!(in->cur.slot = cx_calloc(slots, sizeof *in->cur.slot))) why = "out of memory";
    else in->cur.cap = slots;
    for (uint64_t i = 0; i < h.count && !why; i++)
      if (idset_add(&in->cur, ids[i])) why = "out of memory";
  }
  cx_free(ids);
  if (why) {
    idset_free(&in->cur);
    cx_log("warn", "dedupe_saved_ignored", "path", path, "reason", why, NULL);
    return 0;
  }
  *seq = h.seq;
  return 1;
}

/* Reads the ids of the last two days back from the log, newest first (after
 * the saved window, when use_saved and there is one). The log is in
 * arrival order, so the scan stops an hour past the window (the hour
 * absorbs small clock steps). */
static cx_err dedupe_load(ingest *in, sqlite3 *db, int use_saved) {
  idset_free(&in->cur);
  idset_free(&in->old);
  int64_t now = cx_now_ms(), cutoff = now - 2 * DAY_MS, after = 0;
  in->cur_started = now;
  if (use_saved) dedupe_read_saved(in, db, &after);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT mid_hash, received_at FROM events WHERE seq > ?1 ORDER BY seq DESC",
                         -1, &st, NULL) != SQLITE_OK)
    return CX_EDB;
  sqlite3_bind_int64(st, 1, after);
  /* gather first, then size the set once: rehashing while it grows was
   * the largest cost of start-up */
  cx_vec ids = {0};
  cx_err rc = CX_OK;
  while (!rc && sqlite3_step(st) == SQLITE_ROW) {
    int64_t at = sqlite3_column_int64(st, 1);
    if (at < cutoff - 3600 * 1000) break;
    if (at >= cutoff) rc = cx_vec_push(&ids, sqlite3_column_int64(st, 0));
  }
  sqlite3_finalize(st);
  if (!rc && ids.n && !in->cur.cap) {
    size_t slots = 1 << 16;
    while (slots < ids.n * 2 + 2) slots *= 2;
    in->cur.slot = cx_calloc(slots, sizeof *in->cur.slot);
    if (!in->cur.slot) rc = CX_ENOMEM;
    else in->cur.cap = slots;
  }
  for (size_t i = 0; i < ids.n && !rc; i++) rc = idset_add(&in->cur, (uint64_t)ids.v[i]);
  cx_vec_free(&ids);
  return rc;
}

static cx_err sources_load(ingest *in, sqlite3 *db) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT id, name, coalesce(key_hash, ''), created_at FROM sources"
                             " ORDER BY id",
                         -1, &st, NULL) != SQLITE_OK)
    return CX_EDB;
  source *list = NULL;
  size_t n = 0;
  cx_err rc = CX_OK;
  while (sqlite3_step(st) == SQLITE_ROW) {
    source *l = cx_realloc(list, (n + 1) * sizeof *l);
    if (!l) {
      rc = CX_ENOMEM;
      break;
    }
    list = l;
    memset(&list[n], 0, sizeof list[n]);
    list[n].id = sqlite3_column_int64(st, 0);
    snprintf(list[n].name, sizeof list[n].name, "%s", sqlite3_column_text(st, 1));
    snprintf(list[n].key_hash, sizeof list[n].key_hash, "%s", sqlite3_column_text(st, 2));
    list[n].created_at = sqlite3_column_int64(st, 3);
    n++;
  }
  sqlite3_finalize(st);
  if (rc) {
    cx_free(list);
    return rc;
  }
  pthread_mutex_lock(&in->src_mu);
  cx_free(in->src);
  in->src = list;
  in->nsrc = n;
  pthread_mutex_unlock(&in->src_mu);
  return CX_OK;
}

typedef struct {
  sqlite3 *db;
  profile *pr;
  cx_err rc;
} profile_loader;

static void *load_profile(void *arg) {
  profile_loader *l = arg;
  l->rc = profile_open(l->db, &l->pr);
  return NULL;
}

cx_err ingest_open(store *st, profile **pr_out, ingest **out) {
  ingest *in = cx_calloc(1, sizeof *in);
  if (!in) return CX_ENOMEM;
  in->st = st;
  pthread_mutex_init(&in->src_mu, NULL);
  if (store_blocks_new(&in->blocks)) {
    ingest_close(in);
    return CX_ENOMEM;
  }
  /* the profile indexes (writer connection, another thread) and the
   * messageId window (a reader connection, here) load in parallel */
  profile_loader l = {.db = store_db(st)};
  pthread_t t;
  int threaded = pthread_create(&t, NULL, load_profile, &l) == 0;
  if (!threaded) load_profile(&l);
  sqlite3 *r = store_reader_get(st);
  cx_err rc = dedupe_load(in, r, 1);
  if (!rc) rc = sources_load(in, r);
  store_reader_put(st, r);
  if (threaded) pthread_join(t, NULL);
  if (!rc) rc = l.rc;
  if (rc) {
    profile_close(l.pr);
    ingest_close(in);
    return rc;
  }
  in->pr = l.pr;
  *pr_out = l.pr;
  *out = in;
  return CX_OK;
}

static cx_err after_rollback(void *ctx, sqlite3 *db) {
  ingest *in = ctx;
  /* the in-memory state may hold what was just rolled back: rebuild all of
   * it; if any part fails the store stops taking writes (fail-stop) */
  cx_err a = dedupe_load(in, db, 0), b = profile_rebuild(in->pr, db), c = sources_load(in, db);
  if (in->listener.after_rollback) in->listener.after_rollback(in->listener.ctx);
  return a ? a : b ? b : c;
}

/* what the group changed is committed: those following the profile's
 * changes may read it from the store now */
static void after_commit(void *ctx) {
  ingest *in = ctx;
  profile_changes_publish(in->pr);
  if (in->listener.after_commit) in->listener.after_commit(in->listener.ctx);
}

void ingest_listen(ingest *in, const ingest_listener *l) { in->listener = *l; }

cx_err ingest_start(ingest *in, size_t max_queue) {
  store_writer_cfg cfg = {.max_queue = max_queue, .max_group = 50000,
                          .after_rollback = after_rollback, .after_commit = after_commit, .ctx = in};
  return store_writer_start(in->st, &cfg);
}

void ingest_close(ingest *in) {
  if (!in) return;
  sqlite3_finalize(in->ins_event);
  sqlite3_finalize(in->ins_events);
  sqlite3_finalize(in->max_seq);
  store_blocks_free(in->blocks);
  idset_free(&in->cur);
  idset_free(&in->old);
  cx_free(in->src);
  pthread_mutex_destroy(&in->src_mu);
  cx_free(in);
}

typedef ingest_async batch_job; /* a job: the store job, then the batch */

/* A consent event (checked at parse) as the trait "<purpose>_consent" at
 * the event's time: a later identify wins, an older one does not. */
static cx_err consent_trait(ingest *in, sqlite3 *db, int64_t cust, const ingest_msg *m) {
  const cJSON *props = cJSON_GetObjectItemCaseSensitive(m->item, "properties");
  const cJSON *purpose = cJSON_GetObjectItemCaseSensitive(props, "purpose");
  const cJSON *granted = cJSON_GetObjectItemCaseSensitive(props, "granted");
  if (!cJSON_IsString(purpose) || !cJSON_IsBool(granted)) return CX_OK; /* parse refused these */
  char key[64];
  snprintf(key, sizeof key, "%.40s_consent", purpose->valuestring);
  cJSON *t = cJSON_CreateObject(); /* the writer's thread: heap nodes */
  if (!t || !cJSON_AddBoolToObject(t, key, cJSON_IsTrue(granted))) {
    cJSON_Delete(t);
    return CX_ENOMEM;
  }
  cx_err rc = profile_set_traits(in->pr, db, cust, t, m->ts);
  cJSON_Delete(t);
  return rc;
}

/* Inserts the pending events rows: EV_ROWS in one statement, fewer one by
 * one. SQLite numbers them (max(seq) + 1 each: no seek to check a given
 * key); that they got the seqs handed out is checked. */
static cx_err rows_flush(ingest *in, sqlite3 *db) {
  sqlite3_stmt *st = in->nrows == EV_ROWS ? in->ins_events : in->ins_event;
  size_t per = in->nrows == EV_ROWS ? EV_ROWS : 1;
  for (size_t i = 0; i < in->nrows; i += per) {
    sqlite3_bind_int64(st, 1, in->rows_received_at); /* ?1 in every row */
    for (size_t k = 0; k < per; k++) {
      const ev_row *r = &in->rows[i + k];
      int b = 1 + (int)k * 6;
      sqlite3_bind_int64(st, b + 1, (sqlite3_int64)r->mid_hash);
      sqlite3_bind_int(st, b + 2, r->type);
      sqlite3_bind_int64(st, b + 3, r->cust);
      sqlite3_bind_int64(st, b + 4, r->source);
      sqlite3_bind_int64(st, b + 5, r->ts);
      if (r->name) sqlite3_bind_text(st, b + 6, r->name, -1, SQLITE_STATIC);
      else sqlite3_bind_null(st, b + 6);
    }
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE || sqlite3_last_insert_rowid(db) != in->rows[i + per - 1].seq) {
      cx_log("error", "event_insert_failed", "error",
             step != SQLITE_DONE ? sqlite3_errmsg(db) : "the rows did not get the seqs handed out", NULL);
      in->nrows = 0;
      return CX_EDB;
    }
  }
  in->nrows = 0;
  return CX_OK;
}

/* Applies one message. Its body goes into the open block unless `packed`
 * (its chunk's block is stored whole, or its bodies added, after it). */
static cx_err apply_message(ingest *in, sqlite3 *db, ingest_msg *m, int64_t source_id,
                            int64_t received_at, int packed) {
  m->seq = 0;
  m->duplicate = 0; /* a batch may be applied again after a rollback */
  if (idset_has(&in->cur, m->mid_hash) || idset_has(&in->old, m->mid_hash)) {
    m->duplicate = 1;
    return CX_OK;
  }
  char email[PROFILE_ID_MAX + 1];
  profile_ids ids = {.user_id = m->user_id, .anonymous_id = m->anonymous_id,
                     .user_hash = m->user_hash, .anonymous_hash = m->anonymous_hash,
                     .previous_id = m->previous_id, .message_id = m->message_id, .ts = m->ts,
                     .reason = ingest_type_name(m->type)};
  if (m->email && !profile_normalise_email(m->email, strlen(m->email), email)) ids.email = email;
  int64_t cust;
  cx_err rc = profile_resolve(in->pr, db, &ids, received_at, &cust);
  if (!rc && m->type == INGEST_IDENTIFY && m->traits)
    rc = profile_set_traits(in->pr, db, cust, m->traits, m->ts);
  if (!rc && m->type == INGEST_GROUP)
    rc = profile_group(in->pr, db, cust, m->group_id, m->traits, m->ts, received_at);
  if (!rc && m->type == INGEST_TRACK && m->name && !strcmp(m->name, INGEST_CONSENT_EVENT))
    rc = consent_trait(in, db, cust, m);
  if (rc) return rc;
  /* the row goes in with the next EV_ROWS (rows_flush); nothing in the
   * job reads the events table meanwhile */
  int64_t seq = in->next_seq++;
  in->rows[in->nrows++] = (ev_row){.seq = seq, .cust = cust, .source = source_id, .ts = m->ts,
                                   .mid_hash = m->mid_hash, .type = m->type, .name = m->name};
  if (in->nrows == EV_ROWS && (rc = rows_flush(in, db))) return rc;
  m->seq = seq;
  if (!packed && (rc = store_blocks_add(in->blocks, db, seq, m->body, m->body_len))) return rc;
  if ((rc = profile_note_event(in->pr, cust, seq, m->ts, m->type, m->name, source_id))) return rc;
  if (m->attach && in->listener.on_message &&
      (rc = in->listener.on_message(in->listener.ctx, db, m, cust, seq)))
    return rc;
  return idset_add(&in->cur, m->mid_hash);
}

/* Prefetches for the messages after msgs[i] (profile_prefetch_ids, and
 * the messageId's place in the dedupe set): the lookups of a batch's ids
 * are cache misses at random places of large tables, one after the other;
 * started ahead, they overlap. */
#define AHEAD_SLOT 8
#define AHEAD_DEEP 3
static void ahead(ingest *in, const ingest_batch *b, size_t i) {
  if (i + AHEAD_SLOT < b->n) {
    const ingest_msg *m = &b->msgs[i + AHEAD_SLOT];
    profile_prefetch_ids(in->pr, m->user_hash, m->anonymous_hash, 0);
    if (in->cur.cap) __builtin_prefetch(&in->cur.slot[m->mid_hash & (in->cur.cap - 1)]); /* idset_has */
  }
  if (i + AHEAD_DEEP < b->n)
    profile_prefetch_ids(in->pr, b->msgs[i + AHEAD_DEEP].user_hash, b->msgs[i + AHEAD_DEEP].anonymous_hash, 1);
}

/* The bodies of a chunk whose messages were all applied: its block as it
 * was packed when every message was stored under consecutive seqs, else
 * the stored ones' bodies through the open block (a duplicate among them). */
static cx_err store_chunk(ingest *in, sqlite3 *db, const ingest_batch *b, const ingest_chunk *ch) {
  const ingest_msg *m = &b->msgs[ch->first];
  int whole = 1;
  for (uint32_t i = 0; i < ch->n && whole; i++) whole = !m[i].duplicate && m[i].seq == m[0].seq + i;
  if (whole) return store_blocks_put(in->blocks, db, m[0].seq, ch->n, b->packed.p + ch->at, ch->len);
  cx_err rc = CX_OK;
  for (uint32_t i = 0; i < ch->n && !rc; i++)
    if (!m[i].duplicate) rc = store_blocks_add(in->blocks, db, m[i].seq, m[i].body, m[i].body_len);
  return rc;
}

static cx_err apply_batch(store_job *job, sqlite3 *db) {
  batch_job *bj = (batch_job *)job;
  ingest *in = bj->in;
  if (bj->stop && atomic_load(bj->stop)) return CX_ESTOPPED; /* an earlier batch of its caller failed */
  if (in->stmt_db != db) {
    sqlite3_finalize(in->ins_event);
    sqlite3_finalize(in->ins_events);
    sqlite3_finalize(in->max_seq);
    in->ins_event = in->ins_events = in->max_seq = NULL;
    in->stmt_db = NULL;
    /* received_at is ?1, shared by the rows (all of one job); each row's
     * own six follow in order */
    char sql[96 + EV_ROWS * 48];
    size_t k = (size_t)snprintf(sql, sizeof sql, "INSERT INTO events(mid_hash, type, customer_id,"
                                                 " source_id, ts, received_at, name) VALUES");
    for (int i = 0; i < EV_ROWS; i++) {
      int b = 2 + i * 6;
      k += (size_t)snprintf(sql + k, sizeof sql - k, "%s(?%d,?%d,?%d,?%d,?%d,?1,?%d)", i ? "," : "", b,
                            b + 1, b + 2, b + 3, b + 4, b + 5);
      if (i == 0 && sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &in->ins_event, NULL))
        return CX_EDB; /* the one-row statement is the first row */
    }
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &in->ins_events, NULL) ||
        sqlite3_prepare_v3(db, "SELECT coalesce(max(seq), 0) + 1 FROM events", -1, SQLITE_PREPARE_PERSISTENT,
                           &in->max_seq, NULL))
      return CX_EDB;
    in->stmt_db = db;
  }
  in->nrows = 0; /* what a failed job left is not inserted */
  in->rows_received_at = bj->batch->received_at;
  /* the seq SQLite gives the next row: read at each job, as another job
   * (an erasure) may have removed the newest events */
  int step = sqlite3_step(in->max_seq);
  if (step == SQLITE_ROW) in->next_seq = sqlite3_column_int64(in->max_seq, 0);
  sqlite3_reset(in->max_seq);
  if (step != SQLITE_ROW) return CX_EDB;
  int64_t now = cx_now_ms();
  if (now - in->cur_started >= DAY_MS) {
    idset_free(&in->old);
    in->old = in->cur;
    memset(&in->cur, 0, sizeof in->cur);
    in->cur_started = now;
  }
  cx_err rc = CX_OK;
  ingest_batch *b = bj->batch;
  profile_write_begin(in->pr);
  size_t c = 0; /* the chunk msgs[i] belongs to, when the batch was packed */
  for (size_t i = 0; i < b->n && !rc; i++) {
    ingest_msg *m = &b->msgs[i];
    ahead(in, b, i);
    rc = apply_message(in, db, m, m->source ? m->source : bj->source_id, b->received_at, b->nchunks > 0);
    if (!rc && b->nchunks && i + 1 == b->chunks[c].first + b->chunks[c].n) rc = store_chunk(in, db, b, &b->chunks[c++]);
  }
  /* the job's rows and bodies are in its transaction; on an error the
   * group rolls back, and the open block and the seqs handed out with it */
  if (!rc) rc = rows_flush(in, db);
  if (!rc) rc = store_blocks_flush(in->blocks, db);
  if (rc) store_blocks_discard(in->blocks);
  profile_write_end(in->pr);
  return rc;
}

static void count(ingest *in, const ingest_batch *batch) {
  uint64_t dup = 0;
  for (size_t i = 0; i < batch->n; i++) dup += (uint64_t)batch->msgs[i].duplicate;
  atomic_fetch_add(&in->events, batch->n - dup);
  atomic_fetch_add(&in->duplicates, dup);
  atomic_fetch_add(&in->batches, 1);
}

/* The chunk that starts at msgs[i], grouped as the writer's open block
 * would group them: the index after it, and its bodies' bytes. */
static size_t chunk_end(const ingest_batch *b, size_t i, size_t *bytes) {
  uint32_t k = 0;
  for (*bytes = 0; i < b->n && store_block_fits(k, *bytes, b->msgs[i].body_len); i++, k++)
    *bytes += b->msgs[i].body_len;
  return i;
}

/* Packs the batch's bodies into blocks (ingest_batch.chunks), grouped as
 * the writer's open block would group them. Runs on the caller's thread:
 * LZ4 costs about as much as the rest of the block's writing, and the
 * writer is the one thread that cannot be doubled. On failure the batch
 * is left unpacked. */
static void pack_batch(ingest_batch *b) {
  if (b->nchunks) { /* packed before: still whole unless lines were added since */
    const ingest_chunk *last = &b->chunks[b->nchunks - 1];
    if (last->first + last->n == b->n) return;
    cx_free(b->chunks);
    b->chunks = NULL;
    b->nchunks = 0;
  }
  if (!b->n) return;
  size_t nch = 0, bound = 0, bytes;
  for (size_t i = 0, j; i < b->n; i = j, nch++) {
    j = chunk_end(b, i, &bytes);
    bound += store_block_bound((uint32_t)(j - i), bytes);
  }
  const char **body = cx_malloc(STORE_BLOCK_EVENTS * sizeof *body);
  size_t *len = cx_malloc(STORE_BLOCK_EVENTS * sizeof *len);
  cx_buf raw;
  cx_buf_init(&raw, STORE_BLOCK_RAW_MAX);
  cx_buf_free(&b->packed);
  cx_buf_init(&b->packed, bound);
  b->chunks = cx_malloc(nch * sizeof *b->chunks);
  cx_err rc = b->chunks && body && len ? CX_OK : CX_ENOMEM;
  for (size_t i = 0, j; i < b->n && !rc; i = j) {
    j = chunk_end(b, i, &bytes);
    ingest_chunk *ch = &b->chunks[b->nchunks++];
    *ch = (ingest_chunk){.first = i, .n = (uint32_t)(j - i), .at = b->packed.len};
    for (size_t k = i; k < j; k++) {
      body[k - i] = b->msgs[k].body;
      len[k - i] = b->msgs[k].body_len;
    }
    rc = store_block_build(body, len, ch->n, &raw, &b->packed);
    ch->len = b->packed.len - ch->at;
  }
  cx_buf_free(&raw);
  cx_free(body);
  cx_free(len);
  if (rc) {
    cx_free(b->chunks);
    b->chunks = NULL;
    b->nchunks = 0;
    cx_buf_free(&b->packed);
  }
}

cx_err ingest_submit(ingest *in, ingest_batch *batch, int64_t source_id) {
  if (!batch->n) return CX_OK;
  pack_batch(batch);
  batch_job bj = {.job = {.apply = apply_batch, .weight = batch->n}, .in = in, .batch = batch,
                  .source_id = source_id};
  cx_err rc = store_run(in->st, &bj.job);
  if (!rc) count(in, batch);
  return rc;
}

static void async_done(store_job *job) {
  ingest_async *p = (ingest_async *)job;
  p->done(p);
}

cx_err ingest_submit_async(ingest *in, ingest_batch *batch, int64_t source_id, ingest_async *p,
                           void (*done)(ingest_async *p), void *arg, atomic_int *stop) {
  memset(p, 0, sizeof *p);
  pack_batch(batch);
  p->job.apply = apply_batch;
  p->job.weight = batch->n ? batch->n : 1;
  p->job.on_done = async_done;
  p->in = in;
  p->batch = batch;
  p->source_id = source_id;
  p->done = done;
  p->arg = arg;
  p->stop = stop;
  return store_submit(in->st, &p->job);
}

cx_err ingest_async_result(ingest_async *p) {
  if (!p->job.rc) count(p->in, p->batch);
  return p->job.rc;
}

void ingest_get_stats(ingest *in, ingest_stats *out) {
  out->events = atomic_load(&in->events);
  out->duplicates = atomic_load(&in->duplicates);
  out->batches = atomic_load(&in->batches);
  out->dedupe_ids = in->cur.used + in->old.used; /* approximate: read racily */
}

/* ---- sources ---- */

int ingest_source_name_valid(const char *s) {
  size_t n = strlen(s);
  if (n < 1 || n > 63) return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '-' || ch == '_' || ch == '.' || ch == ' '))
      return 0;
  }
  return 1;
}

cx_err ingest_source_auth(ingest *in, const char *key, size_t n, int64_t *out_source) {
  if (!n) return CX_EAUTH;
  char h[65];
  cx_secret_hash(key, n, h);
  int64_t found = 0;
  pthread_mutex_lock(&in->src_mu);
  for (size_t i = 0; i < in->nsrc; i++)
    if (in->src[i].key_hash[0] && cx_ct_equal(in->src[i].key_hash, h, 64)) found = in->src[i].id;
  pthread_mutex_unlock(&in->src_mu);
  if (!found) return CX_EAUTH;
  *out_source = found;
  return CX_OK;
}

typedef struct {
  store_job job;
  const char *name;
  const char *key_hash; /* NULL: no key */
  int64_t id;
  int exists; /* the name was taken: nothing inserted */
} source_job;

static cx_err apply_source(store_job *job, sqlite3 *db) {
  source_job *sj = (source_job *)job;
  sqlite3_stmt *st;
  /* a taken name is the caller's problem, not the group's: answer it
   * without failing the transaction other jobs share */
  if (sqlite3_prepare_v2(db, "SELECT id FROM sources WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
    return CX_EDB;
  sqlite3_bind_text(st, 1, sj->name, -1, SQLITE_STATIC);
  sj->exists = sqlite3_step(st) == SQLITE_ROW;
  if (sj->exists) sj->id = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (sj->exists) return CX_OK;
  if (sqlite3_prepare_v2(db, "INSERT INTO sources(name, key_hash, created_at) VALUES(?1, ?2, ?3)",
                         -1, &st, NULL) != SQLITE_OK)
    return CX_EDB;
  sqlite3_bind_text(st, 1, sj->name, -1, SQLITE_STATIC);
  if (sj->key_hash) sqlite3_bind_text(st, 2, sj->key_hash, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, cx_now_ms());
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  if (r == SQLITE_CONSTRAINT) return CX_EEXIST;
  if (r != SQLITE_DONE) return CX_EDB;
  sj->id = sqlite3_last_insert_rowid(db);
  return CX_OK;
}

static cx_err source_insert(ingest *in, const char *name, const char *key_hash, int64_t *out_id) {
  source_job sj = {.job = {.apply = apply_source, .weight = 1}, .name = name,
                   .key_hash = key_hash};
  cx_err rc = store_run(in->st, &sj.job);
  if (rc) return rc;
  if (sj.exists) {
    *out_id = sj.id;
    return CX_EEXIST;
  }
  sqlite3 *r = store_reader_get(in->st);
  rc = sources_load(in, r);
  store_reader_put(in->st, r);
  *out_id = sj.id;
  return rc;
}

cx_err ingest_source_create(ingest *in, const char *name, int64_t *out_id, char key_out[64]) {
  char key[64], h[65];
  cx_secret("wk_", key, sizeof key);
  cx_secret_hash(key, strlen(key), h);
  cx_err rc = source_insert(in, name, h, out_id);
  if (!rc) memcpy(key_out, key, sizeof key);
  return rc;
}

cx_err ingest_source_ensure(ingest *in, const char *name, int64_t *out_id) {
  pthread_mutex_lock(&in->src_mu);
  int64_t id = 0;
  for (size_t i = 0; i < in->nsrc; i++)
    if (!strcmp(in->src[i].name, name)) id = in->src[i].id;
  pthread_mutex_unlock(&in->src_mu);
  if (id) {
    *out_id = id;
    return CX_OK;
  }
  cx_err rc = source_insert(in, name, NULL, out_id);
  return rc == CX_EEXIST ? CX_OK : rc;
}

cx_err ingest_sources_json(ingest *in, cx_buf *out) {
  cx_err rc = cx_buf_puts(out, "[");
  pthread_mutex_lock(&in->src_mu);
  for (size_t i = 0; i < in->nsrc && !rc; i++) {
    rc = cx_buf_printf(out, "%s{\"id\":\"%lld\",\"name\":", i ? "," : "", (long long)in->src[i].id);
    if (!rc) rc = cx_buf_json_str(out, in->src[i].name, strlen(in->src[i].name));
    if (!rc) rc = cx_buf_printf(out, ",\"has_write_key\":%s,\"created_at\":",
                                in->src[i].key_hash[0] ? "true" : "false");
    if (!rc) rc = cx_buf_json_time(out, in->src[i].created_at);
    if (!rc) rc = cx_buf_puts(out, "}");
  }
  pthread_mutex_unlock(&in->src_mu);
  if (!rc) rc = cx_buf_puts(out, "]");
  return rc;
}

cx_err ingest_source_names(ingest *in, const char ***out, size_t *n) {
  pthread_mutex_lock(&in->src_mu);
  size_t ids = 1;
  for (size_t i = 0; i < in->nsrc; i++)
    if (in->src[i].id >= (int64_t)ids && in->src[i].id < INGEST_MAX_SOURCE_ID) ids = (size_t)in->src[i].id + 1;
  /* one block: the pointers, then the names they point at */
  const char **names = cx_calloc(1, ids * sizeof *names + in->nsrc * sizeof in->src[0].name);
  if (!names) {
    pthread_mutex_unlock(&in->src_mu);
    return CX_ENOMEM;
  }
  char *text = (char *)(names + ids);
  for (size_t i = 0; i < in->nsrc; i++) {
    if (in->src[i].id < 0 || in->src[i].id >= (int64_t)ids) continue;
    memcpy(text, in->src[i].name, sizeof in->src[i].name);
    names[in->src[i].id] = text;
    text += sizeof in->src[i].name;
  }
  pthread_mutex_unlock(&in->src_mu);
  *out = names;
  *n = ids;
  return CX_OK;
}
