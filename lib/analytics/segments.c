/* segments.c - segments and personas: a named rule about customers
 * (docs/segments.md), its members kept current in memory.
 *
 * Definitions live in the store (table segments, written through the
 * writer thread); members are a bitmap per segment over customer ids,
 * derived: computed in full when the server starts, when a rule changes,
 * when the profile's change log overflowed, and every hour (rules about
 * time, such as days_since() > 30, change without events); in between,
 * the customers in the profile's change log are evaluated again, once a
 * second by the refresh thread and before every answer. Each segment's
 * size is recorded per UTC day (segment_sizes) for its history.
 *
 * The trait columns the rules read (s->traits) are kept too: loaded in
 * full with the members, then each customer the change log flags
 * (traits set, merged) is read again. A preview reads them as well: the
 * columns of the traits its rule reads are added, and the last
 * PREVIEW_KEYS such keys that no segment reads stay loaded (each costs
 * 4 bytes per customer id, plus its distinct values), so that a builder
 * typing a trait rule does not scan the store's traits every time.
 *
 * Locking: s->mu guards everything below it; it is taken before the
 * profile's read lock, never after. s->tlock guards the trait columns
 * against a preview reading them without s->mu: whoever changes them
 * holds s->mu and takes it for writing; a preview takes it for reading
 * before it lets go of s->mu. Order: s->mu, a store reader, s->tlock,
 * the profile's read lock. */
#include "analytics_int.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/util.h"
#include "../store/store.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEGMENTS 500
#define MAX_NAME 100
#define MAX_DESCRIPTION 2000
#define MAX_PERSONA_ITEMS 20
#define MAX_PERSONA_ITEM 300
#define FULL_EVERY_MS (3600 * 1000LL)
#define SIZES_EVERY_MS (60 * 1000LL)
#define CHANGES_BATCH 4096
#define HISTORY_DAYS 90
#define DAY_MS 86400000LL
#define PREVIEW_KEYS 8 /* trait columns kept for previews beyond the segments' */

typedef struct {
  int64_t id;
  char *name, *rule_src, *description, *persona; /* owned; persona: JSON text or NULL */
  rules_expr *rule;                              /* owned */
  uint64_t *bits;                                /* members by customer id; owned */
  size_t nwords;
  uint64_t size;
  int64_t created_at, updated_at, computed_at;
  double compute_ms; /* how long its last computation in full took */
  uint64_t recorded_size; /* the size last written to segment_sizes today */
  int64_t recorded_day;
} segment;

struct analytics_segments {
  store *st;
  profile *pr;
  pthread_mutex_t mu;
  segment *seg;
  size_t nseg;
  an_traits traits;     /* the traits the rules and recent previews read, per root customer */
  pthread_rwlock_t tlock; /* traits: see Locking above */
  char *pkeys[PREVIEW_KEYS]; /* the keys recent previews read; owned */
  uint64_t pused[PREVIEW_KEYS], uses; /* when each was last read (a counter) */
  uint64_t cursor;      /* the profile's change log, read up to here */
  int64_t full_at;      /* when members were last computed in full */
  int64_t sizes_at;     /* when sizes were last recorded */
  int stale;            /* the next refresh computes in full */
  analytics_segments_stats stats;
  /* the refresh thread */
  pthread_t thread;
  int running, stopping;
  pthread_cond_t cv;
};

static void segment_free(segment *g) {
  cx_free(g->name);
  cx_free(g->rule_src);
  cx_free(g->description);
  cx_free(g->persona);
  rules_free(g->rule);
  cx_free(g->bits);
  memset(g, 0, sizeof *g);
}

static char *dup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s);
  char *d = cx_malloc(n + 1);
  if (d) memcpy(d, s, n + 1);
  return d;
}

/* Sets or clears id's bit, growing the bitmap; keeps size. */
static cx_err set_member(segment *g, int64_t id, int in) {
  size_t w = (size_t)id >> 6;
  if (w >= g->nwords) {
    if (!in) return CX_OK;
    size_t n = g->nwords ? g->nwords : 1024;
    while (n <= w) n *= 2;
    uint64_t *b = cx_realloc(g->bits, n * sizeof *b);
    if (!b) return CX_ENOMEM;
    memset(b + g->nwords, 0, (n - g->nwords) * sizeof *b);
    g->bits = b;
    g->nwords = n;
  }
  uint64_t m = 1ULL << (id & 63);
  int was = (g->bits[w] & m) != 0;
  if (in && !was) g->bits[w] |= m, g->size++;
  if (!in && was) g->bits[w] &= ~m, g->size--;
  return CX_OK;
}

static int id_cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a & ~PROFILE_CHANGED_TRAITS, y = *(const int64_t *)b & ~PROFILE_CHANGED_TRAITS;
  return (x > y) - (x < y);
}

static analytics_ctx ctx_of(analytics_segments *s, sqlite3 *rdb) {
  return (analytics_ctx){.pr = s->pr, .rdb = rdb, .now_ms = cx_now_ms()};
}

/* ---- computing members ---- */

typedef struct {
  analytics_segments *s;
  analytics_ctx c;
  uint8_t todo[MAX_SEGMENTS]; /* the segments evaluated customer by customer */
  const uint64_t *roots; /* the profile's root bitmap, or NULL */
  size_t nroots_words;
  an_env env[ANALYTICS_THREADS];
} full_job;

/* The next root customer id >= id and < hi (hi when none). [section] */
static int64_t next_root(const profile *pr, const uint64_t *roots, size_t nwords, int64_t id,
                         int64_t hi) {
  while (id < hi) {
    size_t w = (size_t)id >> 6;
    if (!roots || w >= nwords) { /* no bitmap, or an id past it: ask */
      if (profile_root_of(pr, id) == id) return id;
      id++;
      continue;
    }
    uint64_t b = roots[w] >> (id & 63);
    if (b) return id + __builtin_ctzll(b);
    id = (id | 63) + 1;
  }
  return hi;
}

static void full_scan(void *arg, int part, int64_t lo, int64_t hi) {
  full_job *j = arg;
  analytics_segments *s = j->s;
  for (size_t k = 0; k < s->nseg; k++) {
    segment *g = &s->seg[k];
    if (!j->todo[k]) continue;
    for (int64_t id = next_root(s->pr, j->roots, j->nroots_words, lo, hi); id < hi;
         id = next_root(s->pr, j->roots, j->nroots_words, id + 1, hi))
      if (an_env_match_customer(&j->env[part], g->rule, id, j->c.now_ms))
        g->bits[(size_t)id >> 6] |= 1ULL << (id & 63);
  }
}

/* Loads the columns of the traits the segments and the kept previews read,
 * from scratch (the values no customer holds any more go). [mu] */
static cx_err load_traits(analytics_segments *s, sqlite3 *rdb) {
  rules_expr *rules[MAX_SEGMENTS];
  for (size_t k = 0; k < s->nseg; k++) rules[k] = s->seg[k].rule;
  analytics_ctx c = ctx_of(s, rdb);
  an_traits fresh; /* swapped in only when whole: the old ones serve until then */
  cx_err rc = an_traits_load(&c, rules, s->nseg, NULL, &fresh);
  for (size_t i = 0; !rc && i < PREVIEW_KEYS; i++)
    if (s->pkeys[i]) rc = an_traits_ensure_key(&c, &fresh, s->pkeys[i]);
  if (rc) {
    an_traits_free(&fresh);
    return rc;
  }
  pthread_rwlock_wrlock(&s->tlock);
  an_traits_free(&s->traits);
  s->traits = fresh;
  pthread_rwlock_unlock(&s->tlock);
  return CX_OK;
}

/* Computes the members of only (or of all segments) from scratch: over
 * columns when the rule allows (columns.c), else customer by customer. A
 * full computation reloads the trait columns; one segment's loads only
 * those it lacks (the others are kept current by refresh). [mu] */
static cx_err compute_full(analytics_segments *s, segment *only) {
  int64_t started = cx_mono_ns();
  sqlite3 *rdb = store_reader_get(s->st);
  uint64_t cursor = profile_changes_now(s->pr); /* changes from here on are drained after */
  cx_err rc = CX_OK;
  if (only) {
    analytics_ctx c = ctx_of(s, rdb);
    pthread_rwlock_wrlock(&s->tlock);
    rc = an_traits_ensure(&c, &s->traits, &only->rule, 1);
    pthread_rwlock_unlock(&s->tlock);
  } else {
    rc = load_traits(s, rdb);
  }
  full_job *j = cx_calloc(1, sizeof *j);
  if (!rc && !j) rc = CX_ENOMEM;
  if (rc) {
    store_reader_put(s->st, rdb);
    cx_free(j);
    return rc;
  }
  j->s = s;
  j->c = ctx_of(s, rdb);
  for (int t = 0; t < ANALYTICS_THREADS; t++) an_env_init(&j->env[t], &j->c, &s->traits);
  profile_read_begin(s->pr);
  int64_t maxid = profile_max_id(s->pr);
  size_t nwords = (size_t)(maxid >> 6) + 1;
  if (nwords < 1024) nwords = 1024;
  for (size_t k = 0; !rc && k < s->nseg; k++) {
    segment *g = &s->seg[k];
    if (only && g != only) continue;
    uint64_t *b = cx_calloc(nwords, sizeof *b);
    if (!b) {
      rc = CX_ENOMEM;
      break;
    }
    cx_free(g->bits);
    g->bits = b;
    g->nwords = nwords;
  }
  /* the rules of the segments read no event: one thread would serialise
   * nothing on the store, but sum() does read it */
  int threads = ANALYTICS_THREADS, todo = 0;
  rules_expr *rules[MAX_SEGMENTS];
  size_t nrules = 0;
  for (size_t k = 0; !rc && k < s->nseg; k++) {
    segment *g = &s->seg[k];
    if (only && g != only) continue;
    if (an_columns_match(s->pr, &s->traits, g->rule, j->c.now_ms, g->bits, g->nwords) >= 0) continue;
    j->todo[k] = 1;
    todo = 1;
    if (an_reads_store(g->rule)) threads = 1;
    rules[nrules++] = g->rule;
  }
  if (!rc && todo) {
    j->roots = profile_roots(s->pr, &j->nroots_words);
    an_precounts pre; /* count() from the kinds' index, not every timeline */
    rc = an_precounts_build(s->pr, rules, nrules, j->c.now_ms, &pre);
    for (int t = 0; !rc && t < ANALYTICS_THREADS; t++) j->env[t].pre = &pre;
    if (!rc) an_parallel(threads, maxid, full_scan, j);
    if (!rc) an_precounts_free(&pre);
  }
  profile_read_end(s->pr);
  for (int t = 0; t < ANALYTICS_THREADS; t++) an_env_free(&j->env[t]);
  int64_t now = cx_now_ms();
  for (size_t k = 0; !rc && k < s->nseg; k++) {
    segment *g = &s->seg[k];
    if (only && g != only) continue;
    g->size = 0;
    for (size_t w = 0; w < g->nwords; w++) g->size += (uint64_t)__builtin_popcountll(g->bits[w]);
    g->computed_at = now;
    g->compute_ms = (double)(cx_mono_ns() - started) / 1e6;
  }
  store_reader_put(s->st, rdb);
  cx_free(j);
  s->stats.full_runs++;
  s->stats.last_full_ns = (uint64_t)(cx_mono_ns() - started);
  if (!rc && !only) {
    s->full_at = now;
    s->stale = 0;
  }
  /* one segment computed now: the others keep their place in the change
   * log, and the changes after it reach the new one at the next refresh */
  if (!rc && !only) s->cursor = cursor;
  return rc;
}

/* Evaluates the customers changed since the last refresh again. [mu] */
static cx_err refresh(analytics_segments *s) {
  int64_t now = cx_now_ms();
  if (s->stale || now - s->full_at >= FULL_EVERY_MS) return compute_full(s, NULL);
  if (!s->nseg && !s->traits.n) { /* nothing derived to keep current */
    s->cursor = profile_changes_now(s->pr);
    return CX_OK;
  }
  int64_t ids[CHANGES_BATCH];
  sqlite3 *rdb = store_reader_get(s->st);
  analytics_ctx c = ctx_of(s, rdb);
  an_env env;
  an_env_init(&env, &c, &s->traits);
  cx_err rc = CX_OK;
  for (;;) {
    size_t n = profile_changes(s->pr, &s->cursor, ids, CHANGES_BATCH);
    if (n == PROFILE_CHANGES_LOST) {
      s->stale = 1;
      break;
    }
    if (!n) break;
    int64_t t0 = cx_mono_ns();
    /* each customer once, with its reasons together */
    qsort(ids, n, sizeof *ids, id_cmp);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
      if (u && (ids[u - 1] & ~PROFILE_CHANGED_TRAITS) == (ids[i] & ~PROFILE_CHANGED_TRAITS)) ids[u - 1] |= ids[i];
      else ids[u++] = ids[i];
    }
    n = u;
    pthread_rwlock_wrlock(&s->tlock);
    for (size_t i = 0; !rc && i < n; i++) { /* traits first: outside the read section */
      if (!(ids[i] & PROFILE_CHANGED_TRAITS) || !s->traits.n) continue;
      ids[i] &= ~PROFILE_CHANGED_TRAITS;
      int64_t r = profile_canonical(s->pr, ids[i]);
      if (r == ids[i]) rc = an_traits_refresh(&c, &s->traits, r);
    }
    pthread_rwlock_unlock(&s->tlock);
    if (!s->nseg) continue; /* the columns were all there was to keep */
    profile_read_begin(s->pr);
    /* the name caches hold for one read section (a stage model may change) */
    memset(&env.stage, 0, sizeof env.stage);
    memset(&env.names, 0, sizeof env.names);
    for (size_t i = 0; !rc && i < n; i++) {
      int64_t id = ids[i] & ~PROFILE_CHANGED_TRAITS;
      int root = profile_root_of(s->pr, id) == id; /* merged away: a member no more */
      for (size_t k = 0; !rc && k < s->nseg; k++)
        rc = set_member(&s->seg[k], id, root && an_env_match_customer(&env, s->seg[k].rule, id, now));
    }
    profile_read_end(s->pr);
    s->stats.evaluations += n * s->nseg; /* distinct customers of the batch */
    s->stats.eval_ns += (uint64_t)(cx_mono_ns() - t0);
    if (rc) break;
  }
  an_env_free(&env);
  pthread_rwlock_wrlock(&s->tlock);
  an_traits_release(&s->traits);
  pthread_rwlock_unlock(&s->tlock);
  store_reader_put(s->st, rdb);
  if (rc) return rc;
  return s->stale ? compute_full(s, NULL) : CX_OK;
}

/* ---- the store ---- */

typedef struct {
  store_job job;
  int op; /* 'i' insert, 'u' update, 'd' delete, 's' sizes */
  const segment *g;
  int64_t id;         /* out for insert */
  int exists;         /* insert/update: the name is taken */
  const int64_t *sizes; /* 's': (id, day, size) triples */
  size_t nsizes;
} seg_job;

static cx_err apply_seg(store_job *job, sqlite3 *db) {
  seg_job *j = (seg_job *)job;
  sqlite3_stmt *st = NULL;
  const char *sql = j->op == 'i' ? "INSERT INTO segments(name, rule, description, persona, created_at, updated_at)"
                                   " VALUES(?1, ?2, ?3, ?4, ?5, ?6)"
                    : j->op == 'u' ? "UPDATE segments SET name = ?1, rule = ?2, description = ?3, persona = ?4,"
                                     " updated_at = ?6 WHERE id = ?7"
                    : j->op == 'd' ? "DELETE FROM segments WHERE id = ?7"
                                   : "INSERT INTO segment_sizes(segment_id, day, size) VALUES(?1, ?2, ?3)"
                                     " ON CONFLICT(segment_id, day) DO UPDATE SET size = excluded.size";
  if (j->op == 'i' || j->op == 'u') {
    /* a taken name is an answer (409), not a failure of the group */
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM segments WHERE name = ?1 AND id != ?2", -1, &st, NULL)) return CX_EDB;
    sqlite3_bind_text(st, 1, j->g->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, j->op == 'u' ? j->g->id : 0);
    j->exists = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (j->exists) return CX_OK;
  }
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL)) return CX_EDB;
  cx_err rc = CX_OK;
  if (j->op == 's') {
    for (size_t i = 0; !rc && i < j->nsizes; i++) {
      sqlite3_reset(st);
      for (int k = 0; k < 3; k++) sqlite3_bind_int64(st, k + 1, j->sizes[i * 3 + (size_t)k]);
      if (sqlite3_step(st) != SQLITE_DONE) rc = CX_EDB;
    }
  } else {
    if (j->op != 'd') {
      sqlite3_bind_text(st, 1, j->g->name, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 2, j->g->rule_src, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 3, j->g->description ? j->g->description : "", -1, SQLITE_STATIC);
      if (j->g->persona) sqlite3_bind_text(st, 4, j->g->persona, -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 5, j->g->created_at);
      sqlite3_bind_int64(st, 6, j->g->updated_at);
    }
    if (j->op != 'i') sqlite3_bind_int64(st, 7, j->g->id);
    if (sqlite3_step(st) != SQLITE_DONE) rc = CX_EDB;
    if (!rc && j->op == 'i') j->id = sqlite3_last_insert_rowid(db);
    if (!rc && j->op == 'd') {
      sqlite3_finalize(st);
      st = NULL;
      if (sqlite3_prepare_v2(db, "DELETE FROM segment_sizes WHERE segment_id = ?1", -1, &st, NULL)) return CX_EDB;
      sqlite3_bind_int64(st, 1, j->g->id);
      if (sqlite3_step(st) != SQLITE_DONE) rc = CX_EDB;
    }
  }
  sqlite3_finalize(st);
  return rc;
}

static cx_err run_job(analytics_segments *s, seg_job *j) {
  j->job.apply = apply_seg;
  j->job.weight = 1;
  return store_run(s->st, &j->job);
}

/* Writes today's size of the segments whose size changed. [mu] */
static void record_sizes(analytics_segments *s, int force) {
  int64_t now = cx_now_ms();
  if (!force && now - s->sizes_at < SIZES_EVERY_MS) return;
  s->sizes_at = now;
  int64_t day = now - now % DAY_MS;
  int64_t *rows = cx_malloc((s->nseg ? s->nseg : 1) * 3 * sizeof *rows);
  if (!rows) return;
  size_t n = 0;
  for (size_t k = 0; k < s->nseg; k++) {
    segment *g = &s->seg[k];
    if (g->recorded_day == day && g->recorded_size == g->size) continue;
    rows[n * 3] = g->id, rows[n * 3 + 1] = day, rows[n * 3 + 2] = (int64_t)g->size;
    n++;
  }
  seg_job j = {.op = 's', .sizes = rows, .nsizes = n};
  if (n && !run_job(s, &j))
    for (size_t k = 0; k < s->nseg; k++) s->seg[k].recorded_day = day, s->seg[k].recorded_size = s->seg[k].size;
  cx_free(rows);
}

/* ---- the refresh thread ---- */

static void *refresher(void *arg) {
  analytics_segments *s = arg;
  pthread_mutex_lock(&s->mu);
  while (!s->stopping) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 1;
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    if (s->stopping) break;
    cx_err rc = refresh(s);
    if (rc) cx_log("error", "segments_refresh_failed", "error", cx_strerror(rc), NULL);
    else if (!store_failed(s->st)) record_sizes(s, 0);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* ---- definitions: checking a request ---- */

static cx_err compile_rule(const char *src, rules_expr **out, analytics_error *err) {
  rules_error re;
  cx_err rc = rules_compile(src, strlen(src), out, &re);
  if (rc == CX_ENOMEM) return rc;
  if (rc) return an_fail(err, "invalid_rule", "rule", "rule: %s", re.message);
  if (!rules_may_be(*out, RULES_BOOL)) {
    rules_free(*out);
    *out = NULL;
    return an_fail(err, "invalid_rule", "rule", "rule must be a condition (true or false), such as count(\"Order Completed\", 90d) >= 2.");
  }
  return CX_OK;
}

/* A persona: {"goals":[…],"pain_points":[…]} of short strings, as JSON text. */
static cx_err persona_text(const cJSON *p, char **out, analytics_error *err) {
  *out = NULL;
  if (!p || cJSON_IsNull(p)) return CX_OK;
  if (!cJSON_IsObject(p))
    return an_fail(err, "invalid_field", "persona", "persona must be an object: {\"goals\":[…],\"pain_points\":[…]}.");
  for (const cJSON *m = p->child; m; m = m->next) {
    if (strcmp(m->string, "goals") && strcmp(m->string, "pain_points"))
      return an_fail(err, "invalid_field", "persona", "persona has goals and pain_points; not %.40s.", m->string);
    if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) > MAX_PERSONA_ITEMS)
      return an_fail(err, "invalid_field", "persona", "persona.%s must be a list of at most %d strings.", m->string, MAX_PERSONA_ITEMS);
    for (const cJSON *v = m->child; v; v = v->next)
      if (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) > MAX_PERSONA_ITEM)
        return an_fail(err, "invalid_field", "persona", "persona.%s holds strings of 1 to %d bytes.", m->string, MAX_PERSONA_ITEM);
  }
  char *t = cJSON_PrintUnformatted(p);
  if (!t) return CX_ENOMEM;
  *out = dup(t);
  cJSON_free(t);
  return *out ? CX_OK : CX_ENOMEM;
}

/* Fills g from req; partial (an update) keeps what req leaves out. */
static cx_err check(const cJSON *req, segment *g, int partial, analytics_error *err) {
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(req, "name");
  const cJSON *rule = cJSON_GetObjectItemCaseSensitive(req, "rule");
  const cJSON *desc = cJSON_GetObjectItemCaseSensitive(req, "description");
  const cJSON *pers = cJSON_GetObjectItemCaseSensitive(req, "persona");
  for (const cJSON *m = req->child; m; m = m->next)
    if (strcmp(m->string, "name") && strcmp(m->string, "rule") && strcmp(m->string, "description") &&
        strcmp(m->string, "persona"))
      return an_fail(err, "invalid_field", m->string, "A segment has name, rule, description and persona; not %.40s.", m->string);
  if (name || !partial) {
    if (!cJSON_IsString(name) || !*name->valuestring || strlen(name->valuestring) > MAX_NAME)
      return an_fail(err, "invalid_field", "name", "name must be a string of 1 to %d bytes.", MAX_NAME);
    cx_free(g->name);
    if (!(g->name = dup(name->valuestring))) return CX_ENOMEM;
  }
  if (rule || !partial) {
    if (!cJSON_IsString(rule) || !*rule->valuestring)
      return an_fail(err, "invalid_field", "rule", "rule must be a rule (docs/rules.md), such as traits.plan == \"pro\".");
    rules_expr *e;
    cx_err rc = compile_rule(rule->valuestring, &e, err);
    if (rc) return rc;
    if (rules_reads_root(e, "response") || rules_reads_root(e, "answers")) {
      rules_free(e);
      return an_fail(err, "invalid_rule", "rule",
                     "A segment is about customers: response.* and answers.* belong to survey logic and case rules.");
    }
    if (rules_reads_root(e, "event")) {
      rules_free(e);
      return an_fail(err, "invalid_rule", "rule",
                     "A segment is about customers, not one event: use traits.*, customer.* and the history functions (count, sum, days_since…), not event.*.");
    }
    rules_free(g->rule);
    g->rule = e;
    cx_free(g->rule_src);
    if (!(g->rule_src = dup(rule->valuestring))) return CX_ENOMEM;
  }
  if (desc && !cJSON_IsNull(desc)) {
    if (!cJSON_IsString(desc) || strlen(desc->valuestring) > MAX_DESCRIPTION)
      return an_fail(err, "invalid_field", "description", "description must be a string of at most %d bytes.", MAX_DESCRIPTION);
    cx_free(g->description);
    if (!(g->description = dup(desc->valuestring))) return CX_ENOMEM;
  }
  if (pers) {
    char *t;
    cx_err rc = persona_text(pers, &t, err);
    if (rc) return rc;
    cx_free(g->persona);
    g->persona = t;
  }
  return CX_OK;
}

/* ---- answers ---- */

static cx_err put_segment(cx_buf *out, const segment *g) {
  cx_err rc = cx_buf_printf(out, "{\"id\":\"%lld\",\"name\":", (long long)g->id);
  if (!rc) rc = cx_buf_json_str(out, g->name, strlen(g->name));
  if (!rc) rc = cx_buf_puts(out, ",\"rule\":");
  if (!rc) rc = cx_buf_json_str(out, g->rule_src, strlen(g->rule_src));
  if (!rc) rc = cx_buf_puts(out, ",\"description\":");
  const char *d = g->description ? g->description : "";
  if (!rc) rc = cx_buf_json_str(out, d, strlen(d));
  if (!rc) rc = cx_buf_puts(out, ",\"persona\":");
  if (!rc) rc = cx_buf_puts(out, g->persona ? g->persona : "null");
  if (!rc) rc = cx_buf_printf(out, ",\"size\":%llu,\"created_at\":", (unsigned long long)g->size);
  if (!rc) rc = cx_buf_json_time(out, g->created_at);
  if (!rc) rc = cx_buf_puts(out, ",\"updated_at\":");
  if (!rc) rc = cx_buf_json_time(out, g->updated_at);
  if (!rc) rc = cx_buf_puts(out, ",\"computed_at\":");
  if (!rc) rc = cx_buf_json_time(out, g->computed_at);
  if (!rc) rc = cx_buf_printf(out, ",\"compute_ms\":%.1f}", g->compute_ms);
  return rc;
}

static segment *find(analytics_segments *s, int64_t id) {
  for (size_t k = 0; k < s->nseg; k++)
    if (s->seg[k].id == id) return &s->seg[k];
  return NULL;
}

/* ---- the interface ---- */

static cx_err load(analytics_segments *s) {
  sqlite3 *rdb = store_reader_get(s->st);
  sqlite3_stmt *st = NULL;
  cx_err rc = CX_OK;
  if (sqlite3_prepare_v2(rdb, "SELECT id, name, rule, description, persona, created_at, updated_at"
                              " FROM segments ORDER BY id", -1, &st, NULL)) {
    store_reader_put(s->st, rdb);
    return CX_EDB;
  }
  int step;
  while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW && s->nseg < MAX_SEGMENTS) {
    segment *g = &s->seg[s->nseg];
    memset(g, 0, sizeof *g);
    g->id = sqlite3_column_int64(st, 0);
    g->name = dup((const char *)sqlite3_column_text(st, 1));
    g->rule_src = dup((const char *)sqlite3_column_text(st, 2));
    g->description = dup((const char *)sqlite3_column_text(st, 3));
    g->persona = sqlite3_column_type(st, 4) == SQLITE_NULL ? NULL : dup((const char *)sqlite3_column_text(st, 4));
    g->created_at = sqlite3_column_int64(st, 5);
    g->updated_at = sqlite3_column_int64(st, 6);
    if (!g->name || !g->rule_src || !g->description) rc = CX_ENOMEM;
    rules_error re;
    /* a rule that compiled when saved compiles now; if not (a newer
     * version's syntax), the segment matches no one and says so */
    if (!rc && rules_compile(g->rule_src, strlen(g->rule_src), &g->rule, &re)) {
      g->rule = NULL;
      cx_log("error", "segment_rule_invalid", "segment", g->name, "error", re.message, NULL);
      if (rules_compile("false", 5, &g->rule, NULL)) rc = CX_ENOMEM;
    }
    s->nseg++;
  }
  sqlite3_finalize(st);
  store_reader_put(s->st, rdb);
  return rc;
}

cx_err analytics_segments_open(store *st, profile *pr, analytics_segments **out) {
  analytics_segments *s = cx_calloc(1, sizeof *s);
  if (!s) return CX_ENOMEM;
  s->st = st;
  s->pr = pr;
  s->seg = cx_calloc(MAX_SEGMENTS, sizeof *s->seg);
  pthread_mutex_init(&s->mu, NULL);
  pthread_rwlock_init(&s->tlock, NULL);
  pthread_cond_init(&s->cv, NULL);
  cx_err rc = s->seg ? load(s) : CX_ENOMEM;
  if (!rc) rc = compute_full(s, NULL);
  if (!rc) {
    s->sizes_at = 0;
    s->running = !pthread_create(&s->thread, NULL, refresher, s);
    if (!s->running) rc = CX_ENOMEM;
  }
  if (rc) {
    analytics_segments_close(s);
    return rc;
  }
  *out = s;
  return CX_OK;
}

void analytics_segments_close(analytics_segments *s) {
  if (!s) return;
  if (s->running) {
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
  }
  for (size_t k = 0; k < s->nseg; k++) segment_free(&s->seg[k]);
  cx_free(s->seg);
  an_traits_free(&s->traits);
  for (size_t i = 0; i < PREVIEW_KEYS; i++) cx_free(s->pkeys[i]);
  pthread_rwlock_destroy(&s->tlock);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  cx_free(s);
}

cx_err analytics_segment_create(analytics_segments *s, const cJSON *req, cx_buf *out,
                                analytics_error *err) {
  segment g = {0};
  cx_err rc = check(req, &g, 0, err);
  if (rc) {
    segment_free(&g);
    return rc;
  }
  pthread_mutex_lock(&s->mu);
  if (s->nseg == MAX_SEGMENTS) {
    pthread_mutex_unlock(&s->mu);
    segment_free(&g);
    return an_fail(err, "too_many_segments", NULL, "There are %d segments, the most there may be; delete one first.", MAX_SEGMENTS);
  }
  g.created_at = g.updated_at = cx_now_ms();
  seg_job j = {.op = 'i', .g = &g};
  rc = run_job(s, &j);
  if (!rc && j.exists) rc = CX_EEXIST;
  if (!rc) {
    g.id = j.id;
    s->seg[s->nseg++] = g;
    rc = refresh(s); /* the others up to now, so that all are current together */
    if (!rc) rc = compute_full(s, &s->seg[s->nseg - 1]);
    if (!rc) rc = put_segment(out, &s->seg[s->nseg - 1]);
    record_sizes(s, 1);
  } else {
    segment_free(&g);
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

cx_err analytics_segment_update(analytics_segments *s, int64_t id, const cJSON *req, cx_buf *out,
                                analytics_error *err) {
  pthread_mutex_lock(&s->mu);
  segment *cur = find(s, id);
  if (!cur) {
    pthread_mutex_unlock(&s->mu);
    return CX_ENOTFOUND;
  }
  /* a copy: the segment changes only once the store has it */
  segment g = {.id = cur->id, .created_at = cur->created_at, .name = dup(cur->name),
               .rule_src = dup(cur->rule_src), .description = dup(cur->description),
               .persona = dup(cur->persona)};
  cx_err rc = g.name && g.rule_src && (g.description || !cur->description) && (g.persona || !cur->persona)
                  ? CX_OK : CX_ENOMEM;
  if (!rc) rc = check(req, &g, 1, err);
  if (!rc && !g.rule) rc = compile_rule(g.rule_src, &g.rule, err);
  g.updated_at = cx_now_ms();
  seg_job j = {.op = 'u', .g = &g};
  if (!rc) rc = run_job(s, &j);
  if (!rc && j.exists) rc = CX_EEXIST;
  if (rc) {
    segment_free(&g);
    pthread_mutex_unlock(&s->mu);
    return rc;
  }
  int rule_changed = strcmp(g.rule_src, cur->rule_src) != 0;
  g.bits = cur->bits, g.nwords = cur->nwords, g.size = cur->size, g.computed_at = cur->computed_at;
  g.compute_ms = cur->compute_ms;
  cur->bits = NULL;
  segment_free(cur);
  *cur = g;
  rc = refresh(s);
  if (!rc && rule_changed) rc = compute_full(s, cur);
  if (!rc) rc = put_segment(out, cur);
  if (rule_changed) record_sizes(s, 1);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

cx_err analytics_segment_delete(analytics_segments *s, int64_t id) {
  pthread_mutex_lock(&s->mu);
  segment *g = find(s, id);
  cx_err rc = g ? CX_OK : CX_ENOTFOUND;
  seg_job j = {.op = 'd', .g = g};
  if (!rc) rc = run_job(s, &j);
  if (!rc) {
    segment_free(g);
    size_t k = (size_t)(g - s->seg);
    memmove(g, g + 1, (s->nseg - k - 1) * sizeof *g);
    s->nseg--;
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

/* A preview: the rule over every customer, counted, saving nothing. It
 * takes s->mu only to bring the segments' state (change log, trait
 * columns) up to now and to add its traits' columns, then evaluates under
 * s->tlock alone, so that a builder typing does not hold up the segments'
 * readers. */
typedef struct {
  const analytics_ctx *c;
  const rules_expr *rule;
  const uint64_t *roots;
  size_t nroots_words;
  uint64_t *bits; /* the members, by id */
  an_env env[ANALYTICS_THREADS];
  uint64_t size[ANALYTICS_THREADS];
} preview_job;

static void preview_scan(void *arg, int part, int64_t lo, int64_t hi) {
  preview_job *j = arg;
  for (int64_t id = next_root(j->c->pr, j->roots, j->nroots_words, lo, hi); id < hi;
       id = next_root(j->c->pr, j->roots, j->nroots_words, id + 1, hi))
    if (an_env_match_customer(&j->env[part], j->rule, id, j->c->now_ms)) {
      j->bits[(size_t)id >> 6] |= 1ULL << (id & 63);
      j->size[part]++;
    }
}

static cx_err is_key(void *ctx, const char *root, const char *const *parts, size_t nparts) {
  return !strcmp(root, "traits") && nparts >= 1 && !strcmp(parts[0], ctx) ? CX_EEXIST : CX_OK;
}

/* 1 when rule reads traits.<key>. */
static int reads_trait(const rules_expr *rule, const char *key) {
  return rules_each_path(rule, is_key, (void *)key) == CX_EEXIST;
}

static cx_err note_key(void *ctx, const char *root, const char *const *parts, size_t nparts) {
  analytics_segments *s = ctx;
  if (strcmp(root, "traits") || nparts < 1) return CX_OK;
  size_t at = PREVIEW_KEYS, lru = 0;
  for (size_t i = 0; i < PREVIEW_KEYS; i++) {
    if (s->pkeys[i] && !strcmp(s->pkeys[i], parts[0])) at = i;
    if (!s->pkeys[i] || (s->pkeys[lru] && s->pused[i] < s->pused[lru])) lru = i;
  }
  if (at == PREVIEW_KEYS) { /* a new key: in the free or least recently used place */
    char *k = dup(parts[0]);
    if (!k) return CX_ENOMEM;
    char *old = s->pkeys[lru];
    s->pkeys[lru] = k;
    at = lru;
    int kept = !old; /* the old key's column goes, unless a segment reads it */
    for (size_t g = 0; old && !kept && g < s->nseg; g++) kept = reads_trait(s->seg[g].rule, old);
    if (old && !kept) an_traits_drop(&s->traits, old);
    cx_free(old);
  }
  s->pused[at] = ++s->uses;
  return CX_OK;
}

/* Brings the segments and the trait columns up to now and adds the
 * columns rule reads. [mu; takes tlock] */
static cx_err preview_traits(analytics_segments *s, rules_expr *rule) {
  cx_err rc = refresh(s);
  if (rc) return rc;
  sqlite3 *rdb = store_reader_get(s->st);
  analytics_ctx c = ctx_of(s, rdb);
  pthread_rwlock_wrlock(&s->tlock);
  rc = rules_each_path(rule, note_key, s); /* first: an evicted column is not this rule's */
  if (!rc) rc = an_traits_ensure(&c, &s->traits, &rule, 1);
  pthread_rwlock_unlock(&s->tlock);
  store_reader_put(s->st, rdb);
  return rc;
}

cx_err analytics_segment_preview(analytics_segments *s, const cJSON *req, cx_buf *out,
                                 analytics_error *err) {
  int64_t started = cx_mono_ns();
  const cJSON *rule = cJSON_GetObjectItemCaseSensitive(req, "rule");
  if (!cJSON_IsString(rule) || !*rule->valuestring)
    return an_fail(err, "invalid_field", "rule", "rule must be a rule (docs/rules.md), such as traits.plan == \"pro\".");
  /* checked as a create would check it */
  cJSON *probe = cJSON_CreateObject();
  if (!probe || !cJSON_AddStringToObject(probe, "name", "preview") ||
      !cJSON_AddStringToObject(probe, "rule", rule->valuestring)) {
    cJSON_Delete(probe);
    return CX_ENOMEM;
  }
  segment g = {0};
  cx_err rc = check(probe, &g, 0, err);
  cJSON_Delete(probe);
  preview_job *j = rc ? NULL : cx_calloc(1, sizeof *j);
  if (!rc && !j) rc = CX_ENOMEM;
  if (rc) {
    segment_free(&g);
    return rc;
  }
  pthread_mutex_lock(&s->mu);
  rc = preview_traits(s, g.rule);
  /* in the order refresh takes them (mu, a reader, tlock); tlock before
   * mu goes, so that no refresh comes in between */
  sqlite3 *rdb = rc ? NULL : store_reader_get(s->st);
  pthread_rwlock_rdlock(&s->tlock);
  pthread_mutex_unlock(&s->mu);
  analytics_ctx c = ctx_of(s, rdb);
  uint64_t size = 0;
  int64_t maxid = 0;
  if (!rc) {
    j->c = &c;
    j->rule = g.rule;
    profile_read_begin(s->pr);
    maxid = profile_max_id(s->pr);
    size_t nwords = (size_t)(maxid >> 6) + 1;
    if (!(j->bits = cx_calloc(nwords, sizeof *j->bits))) rc = CX_ENOMEM;
    int64_t found = rc ? 0 : an_columns_match(s->pr, &s->traits, g.rule, c.now_ms, j->bits, nwords);
    if (found >= 0) {
      size = (uint64_t)found;
    } else { /* customer by customer */
      for (int t = 0; t < ANALYTICS_THREADS; t++) an_env_init(&j->env[t], &c, &s->traits);
      j->roots = profile_roots(s->pr, &j->nroots_words);
      an_precounts pre;
      rc = an_precounts_build(s->pr, &g.rule, 1, c.now_ms, &pre);
      for (int t = 0; !rc && t < ANALYTICS_THREADS; t++) j->env[t].pre = &pre;
      if (!rc) an_parallel(an_reads_store(g.rule) ? 1 : ANALYTICS_THREADS, maxid, preview_scan, j);
      if (!rc) an_precounts_free(&pre);
      for (int t = 0; t < ANALYTICS_THREADS; t++) an_env_free(&j->env[t]), size += j->size[t];
    }
    profile_read_end(s->pr);
  }
  pthread_rwlock_unlock(&s->tlock);
  if (!rc) rc = cx_buf_printf(out, "{\"size\":%llu,\"sample\":[", (unsigned long long)size);
  size_t shown = 0; /* the lowest ids */
  for (int64_t w = 0; !rc && shown < 10 && w <= maxid >> 6; w++)
    for (uint64_t b = j->bits[w]; !rc && b && shown < 10; b &= b - 1)
      rc = cx_buf_printf(out, "%s\"%lld\"", shown++ ? "," : "", (long long)(w * 64 + __builtin_ctzll(b)));
  if (!rc) rc = cx_buf_puts(out, "],");
  if (!rc) rc = an_took(out, started);
  if (!rc) rc = cx_buf_puts(out, "}");
  if (rdb) store_reader_put(s->st, rdb);
  cx_free(j->bits);
  cx_free(j);
  segment_free(&g);
  return rc;
}

cx_err analytics_segments_list(analytics_segments *s, cx_buf *out) {
  pthread_mutex_lock(&s->mu);
  cx_err rc = refresh(s);
  if (!rc) rc = cx_buf_puts(out, "{\"segments\":[");
  for (size_t k = 0; !rc && k < s->nseg; k++) {
    if (k) rc = cx_buf_puts(out, ",");
    if (!rc) rc = put_segment(out, &s->seg[k]);
  }
  if (!rc) rc = cx_buf_puts(out, "]}");
  pthread_mutex_unlock(&s->mu);
  return rc;
}

cx_err analytics_segment_get(analytics_segments *s, int64_t id, cx_buf *out) {
  pthread_mutex_lock(&s->mu);
  cx_err rc = refresh(s);
  segment *g = rc ? NULL : find(s, id);
  if (!rc && !g) rc = CX_ENOTFOUND;
  if (!rc) {
    rc = put_segment(out, g);
    out->len--; /* reopen the object for its history */
    if (!rc) rc = cx_buf_puts(out, ",\"sizes\":[");
    sqlite3 *rdb = store_reader_get(s->st);
    sqlite3_stmt *st = NULL;
    if (!rc && sqlite3_prepare_v2(rdb, "SELECT day, size FROM segment_sizes WHERE segment_id = ?1"
                                       " AND day >= ?2 ORDER BY day", -1, &st, NULL))
      rc = CX_EDB;
    if (!rc) {
      int64_t now = cx_now_ms();
      sqlite3_bind_int64(st, 1, id);
      sqlite3_bind_int64(st, 2, now - now % DAY_MS - HISTORY_DAYS * DAY_MS);
      for (int first = 1; !rc && sqlite3_step(st) == SQLITE_ROW; first = 0) {
        rc = cx_buf_puts(out, first ? "{\"day\":" : ",{\"day\":");
        if (!rc) rc = cx_buf_json_time(out, sqlite3_column_int64(st, 0));
        if (!rc) rc = cx_buf_printf(out, ",\"size\":%lld}", (long long)sqlite3_column_int64(st, 1));
      }
    }
    sqlite3_finalize(st);
    store_reader_put(s->st, rdb);
    if (!rc) rc = cx_buf_puts(out, "]}");
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

size_t analytics_segment_members(analytics_segments *s, int64_t id, int64_t after, int64_t *ids,
                                 size_t max, cx_err *rc) {
  size_t n = 0;
  pthread_mutex_lock(&s->mu);
  *rc = refresh(s);
  segment *g = *rc ? NULL : find(s, id);
  if (!*rc && !g) *rc = CX_ENOTFOUND;
  if (g) {
    int64_t from = after < 0 ? 0 : after < INT64_MAX ? after + 1 : INT64_MAX;
    for (size_t w = (size_t)from >> 6; w < g->nwords && n < max; w++) {
      uint64_t bits = g->bits[w];
      if (w == (size_t)from >> 6) bits &= ~0ULL << (from & 63);
      while (bits && n < max) {
        int b = __builtin_ctzll(bits);
        bits &= bits - 1;
        ids[n++] = (int64_t)(w << 6) + b;
      }
    }
  }
  pthread_mutex_unlock(&s->mu);
  return n;
}

void analytics_segments_get_stats(analytics_segments *s, analytics_segments_stats *out) {
  pthread_mutex_lock(&s->mu);
  *out = s->stats;
  out->segments = s->nseg;
  pthread_mutex_unlock(&s->mu);
}
