/* test_store_profile.c - unit tests of lib/store (open, lock, migrations,
 * the writer's group commit, queue bound and rollback) and lib/profile
 * (identity resolution, merges, traits, timelines, rebuild).
 *
 * Each test gets a fresh data directory from mkdtemp, removed afterwards.
 * Profile tests run on the writer connection from the test thread (the
 * writer thread is not started), each call inside a transaction and the
 * profile's write lock, as the writer thread would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit.h"
#include <cjson/cJSON.h>
#include <sys/stat.h>

#include "../../lib/base/log.h"
#include "../../lib/base/time.h"
#include "../../lib/base/util.h"
#include "../../lib/profile/profile.h"
#include "../../lib/store/store.h"
#include "../../lib/store/store_int.h" /* store_migration_count */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- fixture: a data directory, a store, and (for profile tests) a profile ---- */

typedef struct {
  char dir[64];
  store *st;
  profile *pr;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  snprintf(f->dir, sizeof f->dir, "/tmp/cxm-unit-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  if (store_open(f->dir, 1, &f->st) != CX_OK) return -1;
  *state = f;
  return 0;
}

static int setup_profile(void **state) {
  if (setup(state)) return -1;
  fixture *f = *state;
  return profile_open(store_db(f->st), &f->pr) == CX_OK ? 0 : -1;
}

static int teardown(void **state) {
  fixture *f = *state;
  profile_close(f->pr);
  store_close(f->st);
  remove_dir(f->dir);
  free(f);
  return 0;
}

/* First column of the first row of sql as an integer; -1 when no row. */
static int64_t q_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    print_error("prepare failed: %s: %s\n", sql, sqlite3_errmsg(db));
    fail();
  }
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  return v;
}

/* First column of the first row as text into out; "" when no row. */
static const char *q_text(sqlite3 *db, const char *sql, char *out, size_t cap) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    print_error("prepare failed: %s: %s\n", sql, sqlite3_errmsg(db));
    fail();
  }
  out[0] = 0;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return out;
}

/* ---- store: open, lock, migrations ---- */

static void test_store_open_and_migrate(void **state) {
  fixture *f = *state;
  sqlite3 *db = store_db(f->st);
  assert_non_null(db);
  assert_true(store_migration_count >= 1);
  assert_int_equal(store_schema_version(f->st), store_migration_count);
  assert_int_equal(q_int(db, "PRAGMA user_version"), store_migration_count);
  static const char *const tables[] = {"meta", "sources", "tokens", "customers", "identities",
                                       "traits", "events", "merges", "accounts", "account_traits",
                                       "memberships"};
  char sql[160];
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'",
             tables[i]);
    if (q_int(db, sql) != 1) print_error("missing table %s\n", tables[i]);
    assert_int_equal(q_int(db, sql), 1);
  }
  char mode[16];
  assert_string_equal(q_text(db, "PRAGMA journal_mode", mode, sizeof mode), "wal");
  /* a reader sees what the writer connection committed */
  assert_int_equal(store_exec(db, "INSERT INTO meta(key, value) VALUES('k', 'v')"), CX_OK);
  sqlite3 *r = store_reader_get(f->st);
  assert_non_null(r);
  assert_true(r != db);
  char v[16];
  assert_string_equal(q_text(r, "SELECT value FROM meta WHERE key='k'", v, sizeof v), "v");
  /* and cannot write */
  cx_log_set_level(3); /* failures are logged: expected here */
  assert_int_equal(store_exec(r, "INSERT INTO meta(key, value) VALUES('r', 'r')"), CX_EDB);
  store_reader_put(f->st, r);
  assert_int_equal(store_exec(db, "SELECT * FROM no_such_table"), CX_EDB);
  cx_log_set_level(2);
}

static void test_store_lock_and_reopen(void **state) {
  fixture *f = *state;
  assert_int_equal(store_exec(store_db(f->st), "INSERT INTO meta(key, value) VALUES('kept', '1')"),
                   CX_OK);
  store *second = (store *)0x1;
  assert_int_equal(store_open(f->dir, 1, &second), CX_EBUSY);
  assert_ptr_equal(second, (store *)0x1); /* not written on failure */
  assert_int_equal(store_open(f->dir, 0, &second), CX_EBUSY);
  /* the first is unharmed */
  assert_int_equal(q_int(store_db(f->st), "SELECT count(*) FROM meta WHERE key='kept'"), 1);
  store_close(f->st);
  f->st = NULL;
  /* once closed, the directory opens again: data kept, migrations not rerun */
  assert_int_equal(store_open(f->dir, 0, &f->st), CX_OK);
  assert_int_equal(store_schema_version(f->st), store_migration_count);
  assert_int_equal(q_int(store_db(f->st), "SELECT count(*) FROM meta WHERE key='kept'"), 1);
}

static void test_store_missing_and_too_new(void **state) {
  fixture *f = *state;
  store *s = NULL;
  char missing[96];
  snprintf(missing, sizeof missing, "%s/none", f->dir);
  assert_int_equal(store_open(missing, 0, &s), CX_ENOTFOUND);
  assert_null(s);
  assert_int_equal(access(missing, F_OK), -1); /* !create creates nothing */
  /* create makes the directory, not its parents */
  char deep[128];
  snprintf(deep, sizeof deep, "%s/no/such", f->dir);
  assert_int_equal(store_open(deep, 1, &s), CX_EIO);
  assert_null(s);
  char huge[4200];
  memset(huge, 'd', sizeof huge - 1);
  huge[0] = '/';
  huge[sizeof huge - 1] = 0;
  assert_int_equal(store_open(huge, 1, &s), CX_EINVAL);
  assert_null(s);
  /* a database from a newer cxm is refused */
  char sql[128];
  snprintf(sql, sizeof sql, "PRAGMA user_version=%d", store_migration_count + 1);
  assert_int_equal(store_exec(store_db(f->st), sql), CX_OK);
  store_close(f->st);
  f->st = NULL;
  cx_log_set_level(3); /* the refusal is logged: keep the output clean */
  assert_int_equal(store_open(f->dir, 0, &s), CX_EDB);
  cx_log_set_level(2);
  assert_null(s);
  /* and the refusal released the lock */
  snprintf(sql, sizeof sql, "%s/cxm.db", f->dir);
  sqlite3 *raw;
  assert_int_equal(sqlite3_open(sql, &raw), SQLITE_OK);
  snprintf(sql, sizeof sql, "PRAGMA user_version=%d", store_migration_count);
  assert_int_equal(store_exec(raw, sql), CX_OK);
  sqlite3_close(raw);
  assert_int_equal(store_open(f->dir, 0, &f->st), CX_OK);
}

/* ---- store: the writer ---- */

/* A gate the first job of a test waits at, so that later jobs queue up
 * behind it and form one group. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_started, gate_open;

static void gate_reset(void) {
  pthread_mutex_lock(&gate_mu);
  gate_started = gate_open = 0;
  pthread_mutex_unlock(&gate_mu);
}

static void gate_wait_started(void) {
  pthread_mutex_lock(&gate_mu);
  while (!gate_started) pthread_cond_wait(&gate_cv, &gate_mu);
  pthread_mutex_unlock(&gate_mu);
}

static void gate_release(void) {
  pthread_mutex_lock(&gate_mu);
  gate_open = 1;
  pthread_cond_broadcast(&gate_cv);
  pthread_mutex_unlock(&gate_mu);
}

typedef struct {
  store_job job;
  const char *key; /* inserted into meta */
  cx_err result;   /* returned after the insert */
  int block;       /* waits at the gate first */
  int applied;     /* times apply ran */
} test_job;

static cx_err test_apply(store_job *job, sqlite3 *db) {
  test_job *t = (test_job *)job;
  t->applied++;
  if (t->block) {
    pthread_mutex_lock(&gate_mu);
    gate_started = 1;
    pthread_cond_broadcast(&gate_cv);
    while (!gate_open) pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
  }
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "INSERT INTO meta(key, value) VALUES(?1, 'v')", -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_text(st, 1, t->key, -1, SQLITE_STATIC);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  return r == SQLITE_DONE ? t->result : CX_EDB;
}

static test_job make_job(const char *key, size_t weight, cx_err result, int block) {
  test_job t;
  memset(&t, 0, sizeof t);
  t.job.apply = test_apply;
  t.job.weight = weight;
  t.key = key;
  t.result = result;
  t.block = block;
  return t;
}

typedef struct {
  int calls;
  int64_t rows_seen; /* meta rows visible to after_rollback */
  cx_err result;     /* what the rebuild reports */
} rollback_log;

static cx_err on_rollback(void *ctx, sqlite3 *db) {
  rollback_log *l = ctx;
  l->calls++;
  l->rows_seen = q_int(db, "SELECT count(*) FROM meta");
  return l->result;
}

static int64_t meta_count(fixture *f, const char *key) {
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM meta WHERE key='%s'", key);
  sqlite3 *r = store_reader_get(f->st);
  int64_t n = q_int(r, sql);
  store_reader_put(f->st, r);
  return n;
}

static void test_writer_group_commit(void **state) {
  fixture *f = *state;
  rollback_log log = {0};
  store_writer_cfg cfg = {.max_queue = 100, .max_group = 2, .after_rollback = on_rollback, .ctx = &log};
  gate_reset();
  assert_int_equal(store_writer_start(f->st, &cfg), CX_OK);
  test_job a = make_job("a", 1, CX_OK, 1), b = make_job("b", 1, CX_OK, 0),
           c = make_job("c", 1, CX_OK, 0), d = make_job("d", 1, CX_OK, 0);
  assert_int_equal(store_submit(f->st, &a.job), CX_OK);
  gate_wait_started();
  assert_int_equal(store_submit(f->st, &b.job), CX_OK);
  assert_int_equal(store_submit(f->st, &c.job), CX_OK);
  assert_int_equal(store_submit(f->st, &d.job), CX_OK);
  store_stats s;
  store_get_stats(f->st, &s);
  assert_int_equal(s.queue_weight, 4); /* a is still counted while it runs */
  assert_int_equal(s.queue_max, 100);
  assert_int_equal(s.commits, 0);
  assert_int_equal(meta_count(f, "a"), 0);
  gate_release();
  assert_int_equal(store_wait(f->st, &a.job), CX_OK);
  assert_int_equal(store_wait(f->st, &b.job), CX_OK);
  assert_int_equal(store_wait(f->st, &c.job), CX_OK);
  assert_int_equal(store_wait(f->st, &d.job), CX_OK);
  assert_true(a.job.done && b.job.done && c.job.done && d.job.done);
  /* a alone, then {b, c} (max_group 2), then {d} */
  store_get_stats(f->st, &s);
  assert_int_equal(s.commits, 3);
  assert_int_equal(s.committed_weight, 4);
  assert_int_equal(s.rollbacks, 0);
  assert_int_equal(s.queue_weight, 0);
  assert_int_equal(log.calls, 0);
  assert_int_equal(meta_count(f, "a") + meta_count(f, "b") + meta_count(f, "c") + meta_count(f, "d"), 4);
  /* store_run is submit + wait */
  test_job e = make_job("e", 1, CX_OK, 0);
  assert_int_equal(store_run(f->st, &e.job), CX_OK);
  assert_int_equal(meta_count(f, "e"), 1);
  store_writer_stop(f->st);
  test_job late = make_job("late", 1, CX_OK, 0);
  assert_int_equal(store_submit(f->st, &late.job), CX_ESTOPPED);
  assert_int_equal(late.applied, 0);
}

static void test_writer_one_transaction_per_group(void **state) {
  fixture *f = *state;
  store_writer_cfg cfg = {.max_queue = 1000, .max_group = 1000};
  gate_reset();
  assert_int_equal(store_writer_start(f->st, &cfg), CX_OK);
  test_job first = make_job("first", 1, CX_OK, 1);
  assert_int_equal(store_submit(f->st, &first.job), CX_OK);
  gate_wait_started();
  enum { N = 50 };
  test_job jobs[N];
  char keys[N][16];
  for (int i = 0; i < N; i++) {
    snprintf(keys[i], sizeof keys[i], "k%d", i);
    jobs[i] = make_job(keys[i], 1, CX_OK, 0);
    assert_int_equal(store_submit(f->st, &jobs[i].job), CX_OK);
  }
  gate_release();
  for (int i = 0; i < N; i++) assert_int_equal(store_wait(f->st, &jobs[i].job), CX_OK);
  assert_int_equal(store_wait(f->st, &first.job), CX_OK);
  store_stats s;
  store_get_stats(f->st, &s);
  assert_int_equal(s.commits, 2); /* the first job, then all fifty together */
  assert_int_equal(s.committed_weight, N + 1);
  for (int i = 0; i < N; i++) assert_int_equal(jobs[i].applied, 1);
}

static cx_err blob_apply(store_job *job, sqlite3 *db) {
  (void)job;
  /* 40 KB a group */
  return store_exec(db, "INSERT INTO meta(key, value) VALUES(hex(randomblob(8)), hex(zeroblob(20000)))");
}

/* Under a steady stream of groups the WAL stays near its bound: the writer
 * finishes the checkpoint and the WAL starts over, instead of growing for
 * as long as the stream lasts. */
static void test_writer_wal_bound(void **state) {
  fixture *f = *state;
  store_writer_cfg cfg = {.max_queue = 100, .max_group = 1, .wal_bound_frames = 32};
  assert_int_equal(store_writer_start(f->st, &cfg), CX_OK);
  char wal[4300];
  snprintf(wal, sizeof wal, "%s/cxm.db-wal", f->dir);
  off_t biggest = 0;
  for (int i = 0; i < 200; i++) {
    store_job j = {.apply = blob_apply, .weight = 1};
    assert_int_equal(store_run(f->st, &j), CX_OK);
    struct stat sb;
    if (stat(wal, &sb) == 0 && sb.st_size > biggest) biggest = sb.st_size;
  }
  store_stats s;
  store_get_stats(f->st, &s);
  store_writer_stop(f->st);
  assert_true(s.wal_restarts > 0);
  /* 200 groups of 40 KB: 8 MB of frames without the bound. With it the
   * WAL restarts every few groups; a restart is put off while the
   * checkpointer thread holds the checkpoint, so allow some groups */
  assert_true(biggest > 0 && biggest < 1600 * 1024);
}

/* ---- the events' bodies in blocks (bodies.c) ---- */

static void body_is(store_body_reader *r, int64_t seq, const char *want) {
  const char *b;
  size_t n;
  assert_int_equal(store_body_read(r, seq, &b, &n), CX_OK);
  if (!want) {
    assert_null(b);
    assert_int_equal(n, 0);
    return;
  }
  assert_non_null(b);
  assert_int_equal(n, strlen(want));
  assert_memory_equal(b, want, n);
}

/* store_bodies_erase(db, sql, arg) in a transaction of its own, which
 * erases `want` bodies. */
static void erase_committed(sqlite3 *db, const char *sql, int64_t arg, uint64_t want) {
  uint64_t erased = 0;
  assert_int_equal(store_exec(db, "BEGIN"), CX_OK);
  assert_int_equal(store_bodies_erase(db, sql, arg, &erased), CX_OK);
  assert_int_equal(erased, want);
  assert_int_equal(store_exec(db, "COMMIT"), CX_OK);
}

static void test_bodies_blocks(void **state) {
  fixture *f = *state;
  sqlite3 *db = store_db(f->st);
  store_blocks *b;
  assert_int_equal(store_blocks_new(&b), CX_OK);
  assert_int_equal(store_exec(db, "BEGIN"), CX_OK);
  /* seqs 1..3 follow each other: one block; 10 does not: a second one */
  char body[64];
  for (int64_t s = 1; s <= 3; s++) {
    snprintf(body, sizeof body, "{\"n\":%lld}", (long long)s);
    assert_int_equal(store_blocks_add(b, db, s, body, strlen(body)), CX_OK);
  }
  assert_int_equal(store_blocks_add(b, db, 10, "{\"n\":10}", 8), CX_OK);
  assert_int_equal(store_blocks_add(b, db, 11, "", 0), CX_EINVAL); /* no empty body */
  assert_int_equal(store_blocks_flush(b, db), CX_OK);
  assert_int_equal(q_int(db, "SELECT count(*) FROM event_blocks"), 2);
  assert_int_equal(q_int(db, "SELECT n FROM event_blocks WHERE first_seq = 1"), 3);
  /* a full block is written and the next one starts: STORE_BLOCK_BYTES */
  static char big[STORE_BLOCK_BYTES];
  memset(big, 'x', sizeof big);
  big[0] = '"';
  big[sizeof big - 1] = '"';
  assert_int_equal(store_blocks_add(b, db, 20, "{}", 2), CX_OK);
  assert_int_equal(store_blocks_add(b, db, 21, big, sizeof big), CX_OK);
  assert_int_equal(store_blocks_add(b, db, 22, "[22]", 4), CX_OK);
  assert_int_equal(store_blocks_flush(b, db), CX_OK);
  assert_int_equal(q_int(db, "SELECT count(*) FROM event_blocks WHERE first_seq >= 20"), 3);
  /* a discarded block is not written */
  assert_int_equal(store_blocks_add(b, db, 30, "{}", 2), CX_OK);
  store_blocks_discard(b);
  assert_int_equal(store_blocks_flush(b, db), CX_OK);
  /* a body of an older database: its event_bodies row */
  assert_int_equal(store_exec(db, "INSERT INTO event_bodies(seq, body) VALUES(5, '{\"old\":5}')"), CX_OK);
  assert_int_equal(store_exec(db, "COMMIT"), CX_OK);
  store_blocks_free(b);

  store_body_reader *r;
  assert_int_equal(store_body_reader_open(db, &r), CX_OK);
  body_is(r, 1, "{\"n\":1}");
  body_is(r, 3, "{\"n\":3}");
  body_is(r, 2, "{\"n\":2}");
  body_is(r, 4, NULL);
  body_is(r, 5, "{\"old\":5}");
  body_is(r, 10, "{\"n\":10}");
  body_is(r, 0, NULL);
  body_is(r, 20, "{}");
  const char *got;
  size_t n;
  assert_int_equal(store_body_read(r, 21, &got, &n), CX_OK);
  assert_int_equal(n, sizeof big);
  assert_memory_equal(got, big, n);
  body_is(r, 22, "[22]");
  body_is(r, 30, NULL);
  store_body_reader_close(r);

  /* erasing 2 and 5, then 1 and 3: the block keeps what is left, then goes */
  erase_committed(db, "SELECT value FROM json_each('[2, 5, 10]')", 0, 3);
  assert_int_equal(store_body_reader_open(db, &r), CX_OK);
  body_is(r, 1, "{\"n\":1}");
  body_is(r, 2, NULL);
  body_is(r, 3, "{\"n\":3}");
  body_is(r, 5, NULL);
  body_is(r, 10, NULL);
  store_body_reader_close(r);
  assert_int_equal(q_int(db, "SELECT count(*) FROM event_blocks WHERE first_seq = 10"), 0); /* emptied: gone */
  assert_int_equal(q_int(db, "SELECT count(*) FROM event_bodies"), 0);
  /* ?1 is bound to arg: seqs 1 to 3, of which 2 had none left */
  erase_committed(db, "WITH RECURSIVE s(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM s WHERE v < ?1) SELECT v FROM s",
                  3, 2);
  assert_int_equal(q_int(db, "SELECT count(*) FROM event_blocks WHERE first_seq = 1"), 0);

  /* a damaged block is an error, not a wrong body */
  assert_int_equal(store_exec(db, "UPDATE event_blocks SET data = x'0100000099000000' WHERE first_seq = 20"), CX_OK);
  assert_int_equal(store_body_reader_open(db, &r), CX_OK);
  assert_int_equal(store_body_read(r, 20, &got, &n), CX_EDB);
  store_body_reader_close(r);
}

/* Blocks built ahead (store_block_build) and stored whole; packed blocks
 * read, erased and found damaged as unpacked ones are. */
static void test_bodies_packed(void **state) {
  fixture *f = *state;
  sqlite3 *db = store_db(f->st);
  enum { N = 40 };
  static char text[N][128];
  const char *body[N];
  size_t len[N];
  for (int i = 0; i < N; i++) {
    snprintf(text[i], sizeof text[i], "{\"event\":\"Product Viewed\",\"properties\":{\"sku\":\"sku-%05d\"}}", i);
    body[i] = text[i];
    len[i] = strlen(text[i]);
  }
  assert_true(store_block_fits(0, 0, STORE_BODY_MAX));
  assert_false(store_block_fits(1, 10, STORE_BLOCK_BYTES));
  assert_false(store_block_fits(STORE_BLOCK_EVENTS, 0, 1));
  cx_buf raw, out;
  cx_buf_init(&raw, 1 << 20);
  cx_buf_init(&out, 1 << 20);
  assert_int_equal(store_block_build(body, len, 0, &raw, &out), CX_EINVAL);
  size_t none = 0; /* an empty body is an erased one: not taken */
  assert_int_equal(store_block_build(body, &none, 1, &raw, &out), CX_EINVAL);
  assert_int_equal(out.len, 0);
  size_t whole = 0;
  for (int i = 0; i < N; i++) whole += len[i];
  assert_int_equal(store_block_build(body, len, N, &raw, &out), CX_OK);
  assert_true(out.len <= store_block_bound(N, whole));
  assert_memory_equal(out.p, "LZ41", 4); /* it packs: alike messages */
  assert_true(out.len < whole / 2);
  store_blocks *b;
  assert_int_equal(store_blocks_new(&b), CX_OK);
  assert_int_equal(store_exec(db, "BEGIN"), CX_OK);
  /* an open block is written before the one put after it */
  assert_int_equal(store_blocks_add(b, db, 99, body[0], len[0]), CX_OK);
  assert_int_equal(store_blocks_put(b, db, 100, N, out.p, out.len), CX_OK);
  assert_int_equal(store_exec(db, "COMMIT"), CX_OK);
  store_blocks_free(b);
  assert_int_equal(q_int(db, "SELECT count(*) FROM event_blocks WHERE first_seq IN (99, 100)"), 2);
  store_body_reader *r;
  assert_int_equal(store_body_reader_open(db, &r), CX_OK);
  body_is(r, 99, text[0]);
  for (int i = 0; i < N; i++) body_is(r, 100 + i, text[i]);
  body_is(r, 100 + N, NULL);
  store_body_reader_close(r);
  /* erasing two: the block is rewritten, still packed */
  erase_committed(db, "SELECT value FROM json_each('[101, 120]')", 0, 2);
  assert_int_equal(q_int(db, "SELECT hex(substr(data, 1, 4)) = '4C5A3431' FROM event_blocks WHERE first_seq = 100"), 1);
  assert_int_equal(store_body_reader_open(db, &r), CX_OK);
  for (int i = 0; i < N; i++) body_is(r, 100 + i, i == 1 || i == 20 ? NULL : text[i]);
  store_body_reader_close(r);
  /* damaged: one byte of the packed bytes changed (LZ4 alone would read
   * it as another reference: the CRC tells); cut short; a length past any
   * block's */
  assert_int_equal(store_body_reader_open(db, &r), CX_OK);
  body_is(r, 130, text[30]);
  store_body_reader_close(r);
  const char *damage[3] = {
      "UPDATE event_blocks SET data = substr(data, 1, 40) || (CASE WHEN substr(data, 41, 1) = x'00' THEN x'01' ELSE x'00' END)"
      " || substr(data, 42) WHERE first_seq = 100",
      "UPDATE event_blocks SET data = substr(data, 1, length(data) - 5) WHERE first_seq = 100",
      "UPDATE event_blocks SET data = x'4C5A3431FFFFFF00' || substr(data, 9) WHERE first_seq = 100"};
  for (int k = 0; k < 3; k++) {
    assert_int_equal(store_exec(db, damage[k]), CX_OK);
    const char *got;
    size_t n;
    assert_int_equal(store_body_reader_open(db, &r), CX_OK);
    assert_int_equal(store_body_read(r, 100, &got, &n), CX_EDB);
    store_body_reader_close(r);
  }
  cx_buf_free(&raw);
  cx_buf_free(&out);
}

static void test_writer_queue_bound(void **state) {
  fixture *f = *state;
  store_writer_cfg cfg = {.max_queue = 3, .max_group = 100};
  gate_reset();
  assert_int_equal(store_writer_start(f->st, &cfg), CX_OK);
  /* submitting before start would have been refused: see the stop test */
  test_job a = make_job("a", 1, CX_OK, 1), b = make_job("b", 2, CX_OK, 0),
           c = make_job("c", 1, CX_OK, 0);
  assert_int_equal(store_submit(f->st, &a.job), CX_OK);
  gate_wait_started();
  assert_int_equal(store_submit(f->st, &b.job), CX_OK);    /* 1 + 2 = 3: at the bound */
  assert_int_equal(store_submit(f->st, &c.job), CX_EFULL); /* 4: one past */
  store_stats s;
  store_get_stats(f->st, &s);
  assert_int_equal(s.queue_weight, 3);
  gate_release();
  assert_int_equal(store_wait(f->st, &a.job), CX_OK);
  assert_int_equal(store_wait(f->st, &b.job), CX_OK);
  assert_int_equal(c.applied, 0); /* the refused job never ran */
  assert_int_equal(c.job.done, 0);
  assert_int_equal(meta_count(f, "c"), 0);
  /* an empty queue admits one job heavier than the bound */
  test_job heavy = make_job("heavy", 10, CX_OK, 0);
  assert_int_equal(store_run(f->st, &heavy.job), CX_OK);
  assert_int_equal(meta_count(f, "heavy"), 1);
  /* and c can be retried once there is room */
  assert_int_equal(store_run(f->st, &c.job), CX_OK);
  assert_int_equal(meta_count(f, "c"), 1);
}

static void test_writer_rollback(void **state) {
  fixture *f = *state;
  rollback_log log = {0};
  store_writer_cfg cfg = {.max_queue = 100, .max_group = 100, .after_rollback = on_rollback, .ctx = &log};
  gate_reset();
  cx_log_set_level(3); /* the rollback is logged as an error: expected here */
  assert_int_equal(store_writer_start(f->st, &cfg), CX_OK);
  test_job a = make_job("a", 1, CX_OK, 1), b = make_job("b", 1, CX_OK, 0),
           c = make_job("c", 1, CX_EINVAL, 0), d = make_job("d", 1, CX_OK, 0);
  assert_int_equal(store_submit(f->st, &a.job), CX_OK);
  gate_wait_started();
  assert_int_equal(store_submit(f->st, &b.job), CX_OK);
  assert_int_equal(store_submit(f->st, &c.job), CX_OK);
  assert_int_equal(store_submit(f->st, &d.job), CX_OK);
  gate_release();
  assert_int_equal(store_wait(f->st, &a.job), CX_OK);
  /* c fails: its whole group {b, c, d} completes with c's error */
  assert_int_equal(store_wait(f->st, &b.job), CX_EINVAL);
  assert_int_equal(store_wait(f->st, &c.job), CX_EINVAL);
  assert_int_equal(store_wait(f->st, &d.job), CX_EINVAL);
  assert_int_equal(b.applied, 1);
  assert_int_equal(c.applied, 1);
  assert_int_equal(d.applied, 0); /* nothing runs after the failure */
  assert_int_equal(log.calls, 1);
  assert_int_equal(log.rows_seen, 1); /* after the rollback only a's row is there */
  assert_int_equal(meta_count(f, "a"), 1);
  assert_int_equal(meta_count(f, "b"), 0);
  assert_int_equal(meta_count(f, "c"), 0);
  store_stats s;
  store_get_stats(f->st, &s);
  assert_int_equal(s.commits, 1);
  assert_int_equal(s.rollbacks, 1);
  assert_int_equal(s.committed_weight, 1);
  assert_int_equal(s.queue_weight, 0);
  /* the writer goes on */
  test_job e = make_job("e", 1, CX_OK, 0);
  assert_int_equal(store_run(f->st, &e.job), CX_OK);
  assert_int_equal(meta_count(f, "e"), 1);
  /* a failing statement (duplicate key) rolls back the same way */
  test_job dup = make_job("e", 1, CX_OK, 0);
  assert_int_equal(store_run(f->st, &dup.job), CX_EDB);
  assert_int_equal(log.calls, 2);
  assert_int_equal(meta_count(f, "e"), 1);
  cx_log_set_level(2);
}

/* A rebuild that fails after a rollback stops the store taking writes:
 * what is in memory can no longer be trusted (fail-stop). */
static void test_writer_fail_stop(void **state) {
  fixture *f = *state;
  rollback_log log = {.result = CX_EDB};
  store_writer_cfg cfg = {.max_queue = 100, .max_group = 100, .after_rollback = on_rollback, .ctx = &log};
  cx_log_set_level(3);
  assert_int_equal(store_writer_start(f->st, &cfg), CX_OK);
  assert_int_equal(store_failed(f->st), CX_OK);
  test_job bad = make_job("x", 1, CX_EINVAL, 0);
  assert_int_equal(store_run(f->st, &bad.job), CX_EINVAL);
  assert_int_equal(log.calls, 1);
  assert_int_equal(store_failed(f->st), CX_EDB);
  test_job next = make_job("y", 1, CX_OK, 0);
  assert_int_equal(store_submit(f->st, &next.job), CX_EDB); /* refused, not queued */
  assert_int_equal(next.applied, 0);
  assert_int_equal(meta_count(f, "y"), 0);
  cx_log_set_level(1);
}

static void test_writer_stop_drains(void **state) {
  fixture *f = *state;
  test_job early = make_job("early", 1, CX_OK, 0);
  assert_int_equal(store_submit(f->st, &early.job), CX_ESTOPPED); /* not started */
  store_writer_cfg cfg = {.max_queue = 100, .max_group = 100};
  gate_reset();
  assert_int_equal(store_writer_start(f->st, &cfg), CX_OK);
  test_job a = make_job("a", 1, CX_OK, 1), b = make_job("b", 1, CX_OK, 0);
  assert_int_equal(store_submit(f->st, &a.job), CX_OK);
  gate_wait_started();
  assert_int_equal(store_submit(f->st, &b.job), CX_OK);
  gate_release();
  store_writer_stop(f->st); /* lets queued jobs finish */
  assert_true(a.job.done && b.job.done);
  assert_int_equal(a.job.rc, CX_OK);
  assert_int_equal(b.job.rc, CX_OK);
  assert_int_equal(meta_count(f, "b"), 1);
  store_writer_stop(f->st); /* twice is fine */
}

/* ---- profile ---- */

#define NOW 1714564800000LL

static int64_t resolve_at(fixture *f, const char *uid, const char *anon, const char *email,
                          const char *prev, int64_t ts) {
  profile_ids ids = {.user_id = uid, .anonymous_id = anon, .email = email, .previous_id = prev,
                     .message_id = "m-test", .ts = ts, .reason = prev ? "alias" : "identify"};
  sqlite3 *db = store_db(f->st);
  int64_t c = 0;
  assert_int_equal(store_exec(db, "BEGIN IMMEDIATE"), CX_OK);
  profile_write_begin(f->pr);
  cx_err rc = profile_resolve(f->pr, db, &ids, NOW, &c);
  profile_write_end(f->pr);
  assert_int_equal(store_exec(db, rc ? "ROLLBACK" : "COMMIT"), CX_OK);
  assert_int_equal(rc, CX_OK);
  assert_true(c > 0);
  return c;
}

static int64_t resolve(fixture *f, const char *uid, const char *anon, const char *email,
                       const char *prev) {
  return resolve_at(f, uid, anon, email, prev, NOW);
}

static int64_t find(fixture *f, int type, const char *v) {
  return profile_find(f->pr, type, v, strlen(v));
}

static void set_traits(fixture *f, int64_t c, const char *json, int64_t ts) {
  cJSON *t = cJSON_Parse(json);
  assert_non_null(t);
  sqlite3 *db = store_db(f->st);
  assert_int_equal(store_exec(db, "BEGIN IMMEDIATE"), CX_OK);
  profile_write_begin(f->pr);
  cx_err rc = profile_set_traits(f->pr, db, c, t, ts);
  profile_write_end(f->pr);
  assert_int_equal(store_exec(db, "COMMIT"), CX_OK);
  cJSON_Delete(t);
  assert_int_equal(rc, CX_OK);
}

/* The stored JSON text of trait key of customer c; "" when none. */
/* The value of trait `key` as the customer view shows it (JSON text), or
 * NULL when the view has no such trait. */
static const char *trait(fixture *f, int64_t c, const char *key, char *out, size_t cap) {
  sqlite3 *r = store_reader_get(f->st);
  cx_buf b;
  cx_buf_init(&b, 1 << 20);
  assert_int_equal(profile_customer_json(f->pr, r, profile_canonical(f->pr, c), &b), CX_OK);
  store_reader_put(f->st, r);
  cJSON *doc = cJSON_Parse(b.p);
  assert_non_null(doc);
  cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "traits"), key);
  const char *ret = NULL;
  if (t) {
    char *v = cJSON_PrintUnformatted(t);
    snprintf(out, cap, "%s", v);
    cJSON_free(v);
    ret = out;
  }
  cJSON_Delete(doc);
  cx_buf_free(&b);
  return ret;
}

/* Appends an event row for customer c at ts and notes it in the timeline;
 * returns its seq. */
static int64_t add_event(fixture *f, int64_t c, int64_t ts) {
  sqlite3 *db = store_db(f->st);
  char sql[200];
  snprintf(sql, sizeof sql,
           "INSERT INTO events(mid_hash, type, customer_id, source_id, ts, received_at)"
           " VALUES(1, 2, %lld, 1, %lld, %lld)",
           (long long)c, (long long)ts, (long long)NOW);
  assert_int_equal(store_exec(db, sql), CX_OK);
  int64_t seq = sqlite3_last_insert_rowid(db);
  profile_write_begin(f->pr);
  cx_err rc = profile_note_event(f->pr, c, seq, ts, 2, "Viewed", 1);
  profile_write_end(f->pr);
  assert_int_equal(rc, CX_OK);
  return seq;
}

static int64_t count(fixture *f, const char *sql) { return q_int(store_db(f->st), sql); }

static void test_profile_new_customers(void **state) {
  fixture *f = *state;
  int64_t a = resolve(f, NULL, "anon-1", NULL, NULL);
  int64_t u = resolve(f, "user-1", NULL, NULL, NULL);
  assert_int_equal(a, 1);
  assert_int_equal(u, 2);
  assert_int_equal(resolve(f, NULL, "anon-1", NULL, NULL), a); /* known: the same one */
  assert_int_equal(resolve(f, "user-1", NULL, NULL, NULL), u);
  assert_int_equal(find(f, PROFILE_ANONYMOUS_ID, "anon-1"), a);
  assert_int_equal(find(f, PROFILE_USER_ID, "user-1"), u);
  assert_int_equal(find(f, PROFILE_USER_ID, "anon-1"), 0); /* types do not mix */
  assert_int_equal(find(f, PROFILE_USER_ID, "nobody"), 0);
  assert_int_equal(profile_canonical(f->pr, a), a);
  assert_int_equal(profile_canonical(f->pr, 99), 0);
  assert_int_equal(profile_canonical(f->pr, 0), 0);
  assert_int_equal(count(f, "SELECT count(*) FROM customers"), 2);
  assert_int_equal(count(f, "SELECT count(*) FROM identities"), 2);
  assert_int_equal(count(f, "SELECT customer_id FROM identities WHERE type=2 AND value='anon-1'"), a);
  assert_int_equal(count(f, "SELECT created_at FROM customers WHERE id=2"), NOW);
  profile_stats s;
  profile_get_stats(f->pr, &s);
  assert_int_equal(s.customers, 2);
  assert_int_equal(s.merged, 0);
  assert_int_equal(s.identities, 2);
  profile_summary sum;
  assert_int_equal(profile_get_summary(f->pr, a, &sum), CX_OK);
  assert_true(sum.first_seen == CX_NO_TIME && sum.last_seen == CX_NO_TIME);
  assert_int_equal(sum.event_count, 0);
  assert_int_equal(profile_get_summary(f->pr, 42, &sum), CX_ENOTFOUND);
}

static void test_profile_links_anonymous_to_user(void **state) {
  fixture *f = *state;
  int64_t c = resolve(f, NULL, "anon-2", NULL, NULL);
  /* identify: the anonymous visitor gets a user id */
  assert_int_equal(resolve(f, "user-2", "anon-2", NULL, NULL), c);
  assert_int_equal(find(f, PROFILE_USER_ID, "user-2"), c);
  /* later messages with either id land on the same customer */
  assert_int_equal(resolve(f, "user-2", NULL, NULL, NULL), c);
  assert_int_equal(resolve(f, "user-2", "anon-2b", NULL, NULL), c); /* a second device */
  assert_int_equal(find(f, PROFILE_ANONYMOUS_ID, "anon-2b"), c);
  assert_int_equal(count(f, "SELECT count(*) FROM customers"), 1);
  assert_int_equal(count(f, "SELECT count(*) FROM merges"), 0);
}

static void test_profile_links_by_email(void **state) {
  fixture *f = *state;
  int64_t c = resolve(f, "user-3", NULL, "ada@example.com", NULL);
  assert_int_equal(find(f, PROFILE_EMAIL, "ada@example.com"), c);
  /* an anonymous visitor who gives the same e-mail is the same person */
  assert_int_equal(resolve(f, NULL, "anon-3", "ada@example.com", NULL), c);
  assert_int_equal(find(f, PROFILE_ANONYMOUS_ID, "anon-3"), c);
  /* an anonymous history seen before is merged in when the e-mail links it */
  int64_t later = resolve(f, NULL, "anon-3b", NULL, NULL);
  assert_true(later != c);
  assert_int_equal(resolve(f, NULL, "anon-3b", "ada@example.com", NULL), c);
  assert_int_equal(profile_canonical(f->pr, later), c);
  assert_int_equal(count(f, "SELECT count(*) FROM merges"), 1);
  char normalised[PROFILE_ID_MAX + 1];
  assert_int_equal(profile_normalise_email(" \tAda@Example.COM \t", 19, normalised), CX_OK);
  assert_string_equal(normalised, "ada@example.com");
  assert_int_equal(profile_normalise_email("   ", 3, normalised), CX_EINVAL);
  char long_mail[300];
  memset(long_mail, 'a', sizeof long_mail);
  assert_int_equal(profile_normalise_email(long_mail, PROFILE_ID_MAX, normalised), CX_OK);
  assert_int_equal(strlen(normalised), PROFILE_ID_MAX);
  assert_int_equal(profile_normalise_email(long_mail, PROFILE_ID_MAX + 1, normalised), CX_EINVAL);
}

static void test_profile_merge(void **state) {
  fixture *f = *state;
  int64_t older = resolve(f, NULL, "anon-4", NULL, NULL);
  int64_t newer = resolve(f, "user-4", NULL, NULL, NULL);
  assert_true(older < newer);
  set_traits(f, older, "{\"plan\":\"free\",\"only_old\":1}", 1000);
  set_traits(f, newer, "{\"plan\":\"pro\",\"only_new\":true}", 2000);
  set_traits(f, older, "{\"city\":\"Paris\"}", 3000);
  set_traits(f, newer, "{\"city\":\"Berlin\"}", 2500);
  int64_t e1 = add_event(f, older, 100), e2 = add_event(f, newer, 50), e3 = add_event(f, newer, 300);
  /* one message proves they are one person: the older customer survives */
  assert_int_equal(resolve(f, "user-4", "anon-4", NULL, NULL), older);
  assert_int_equal(profile_canonical(f->pr, newer), older);
  assert_int_equal(profile_canonical(f->pr, older), older);
  assert_int_equal(find(f, PROFILE_USER_ID, "user-4"), older);
  assert_int_equal(find(f, PROFILE_ANONYMOUS_ID, "anon-4"), older);
  /* the record: a merges row and the loser marked; rows stay with the
   * customer that wrote them, and the view gathers them */
  char sql[200], text[64];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM merges WHERE from_id=%lld AND into_id=%lld"
           " AND reason='identify' AND message_id='m-test' AND at=%lld",
           (long long)newer, (long long)older, (long long)NOW);
  assert_int_equal(count(f, sql), 1);
  snprintf(sql, sizeof sql, "SELECT merged_into FROM customers WHERE id=%lld", (long long)newer);
  assert_int_equal(count(f, sql), older);
  snprintf(sql, sizeof sql, "SELECT merged_into IS NULL FROM customers WHERE id=%lld", (long long)older);
  assert_int_equal(count(f, sql), 1);
  snprintf(sql, sizeof sql, "SELECT count(*) FROM identities WHERE customer_id=%lld", (long long)newer);
  assert_int_equal(count(f, sql), 1);
  snprintf(sql, sizeof sql, "SELECT count(*) FROM identities WHERE customer_id=%lld", (long long)older);
  assert_int_equal(count(f, sql), 1);
  int64_t members[4];
  assert_int_equal(profile_members(f->pr, newer, members, 4), 2);
  assert_true(members[0] == older && members[1] == newer);
  /* traits: the newer value of each key wins, whoever held it */
  assert_string_equal(trait(f, older, "plan", text, sizeof text), "\"pro\"");
  assert_string_equal(trait(f, older, "city", text, sizeof text), "\"Paris\"");
  assert_string_equal(trait(f, older, "only_old", text, sizeof text), "1");
  assert_string_equal(trait(f, older, "only_new", text, sizeof text), "true");
  /* the timelines are one, in time order */
  profile_point pts[8];
  assert_int_equal(profile_timeline(f->pr, older, 0, 0, NULL, pts, 8), 3);
  assert_true(pts[0].seq == e3 && pts[1].seq == e1 && pts[2].seq == e2);
  assert_int_equal(profile_timeline(f->pr, newer, 0, 0, NULL, pts, 8), 3); /* through the merge */
  profile_summary sum;
  assert_int_equal(profile_get_summary(f->pr, newer, &sum), CX_OK);
  assert_true(sum.first_seen == 50 && sum.last_seen == 300);
  assert_int_equal(sum.event_count, 3);
  profile_stats s;
  profile_get_stats(f->pr, &s);
  assert_int_equal(s.customers, 1);
  assert_int_equal(s.merged, 1);
  assert_int_equal(s.events, 3);
  /* an event noted against the merged id lands on the survivor */
  add_event(f, newer, 400);
  assert_int_equal(profile_timeline(f->pr, older, 0, 0, NULL, pts, 8), 4);
  assert_true(pts[0].ts == 400);
}

static void test_profile_user_ids_never_merged(void **state) {
  fixture *f = *state;
  int64_t c6 = resolve(f, "user-6", "anon-6", NULL, NULL);
  /* another user id on the same device: a new customer, not a merge */
  int64_t c7 = resolve(f, "user-7", "anon-6", NULL, NULL);
  assert_true(c7 != c6);
  assert_int_equal(find(f, PROFILE_USER_ID, "user-7"), c7);
  assert_int_equal(find(f, PROFILE_ANONYMOUS_ID, "anon-6"), c6); /* stays where it was */
  assert_int_equal(profile_canonical(f->pr, c7), c7);
  /* a shared e-mail does not merge two user ids either */
  int64_t c8 = resolve(f, "user-8", NULL, "shared@example.com", NULL);
  int64_t c9 = resolve(f, "user-9", NULL, "shared@example.com", NULL);
  assert_true(c8 != c9);
  assert_int_equal(find(f, PROFILE_EMAIL, "shared@example.com"), c8);
  assert_int_equal(profile_canonical(f->pr, c9), c9);
  /* nor does a message naming both: the user id's customer leads */
  assert_int_equal(resolve(f, "user-9", "anon-6", NULL, NULL), c9);
  assert_int_equal(count(f, "SELECT count(*) FROM merges"), 0);
  profile_stats s;
  profile_get_stats(f->pr, &s);
  assert_int_equal(s.customers, 4);
  assert_int_equal(s.merged, 0);
}

static void test_profile_alias(void **state) {
  fixture *f = *state;
  int64_t c10 = resolve(f, "user-10", NULL, NULL, NULL);
  int64_t c11 = resolve(f, "user-11", NULL, NULL, NULL);
  assert_true(c10 != c11);
  /* alias says user-11 was user-10: they merge, the older survives */
  assert_int_equal(resolve(f, "user-11", NULL, NULL, "user-10"), c10);
  assert_int_equal(profile_canonical(f->pr, c11), c10);
  assert_int_equal(find(f, PROFILE_USER_ID, "user-11"), c10);
  char sql[160];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM merges WHERE from_id=%lld AND into_id=%lld AND reason='alias'",
           (long long)c11, (long long)c10);
  assert_int_equal(count(f, sql), 1);
  /* an anonymous previousId joins its history to the user */
  int64_t c12 = resolve(f, NULL, "anon-12", NULL, NULL);
  assert_int_equal(resolve(f, "user-12", NULL, NULL, "anon-12"), c12);
  assert_int_equal(find(f, PROFILE_USER_ID, "user-12"), c12);
  /* the caller may name the reason (the message type) */
  int64_t c14 = resolve(f, NULL, "anon-14", NULL, NULL);
  int64_t c15 = resolve(f, "user-15", NULL, NULL, NULL);
  profile_ids ids = {.user_id = "user-15", .anonymous_id = "anon-14", .message_id = "m-15",
                     .reason = "track", .ts = NOW};
  sqlite3 *db = store_db(f->st);
  int64_t got = 0;
  assert_int_equal(store_exec(db, "BEGIN IMMEDIATE"), CX_OK);
  profile_write_begin(f->pr);
  assert_int_equal(profile_resolve(f->pr, db, &ids, NOW, &got), CX_OK);
  profile_write_end(f->pr);
  assert_int_equal(store_exec(db, "COMMIT"), CX_OK);
  assert_int_equal(got, c14);
  snprintf(sql, sizeof sql, "SELECT count(*) FROM merges WHERE from_id=%lld AND into_id=%lld"
           " AND reason='track' AND message_id='m-15'", (long long)c15, (long long)c14);
  assert_int_equal(count(f, sql), 1);
  /* an unknown previousId is recorded as an anonymous id */
  int64_t c13 = resolve(f, "user-13", NULL, NULL, "never-seen");
  assert_int_equal(find(f, PROFILE_ANONYMOUS_ID, "never-seen"), c13);
  assert_int_equal(find(f, PROFILE_USER_ID, "never-seen"), 0);
}

static void test_profile_traits_by_time(void **state) {
  fixture *f = *state;
  int64_t c = resolve(f, "user-t", NULL, NULL, NULL);
  char v[64];
  set_traits(f, c, "{\"plan\":\"pro\",\"seats\":5,\"tags\":[\"a\",\"b\"],\"addr\":{\"city\":\"Oslo\"}}", 2000);
  assert_string_equal(trait(f, c, "plan", v, sizeof v), "\"pro\"");
  assert_string_equal(trait(f, c, "seats", v, sizeof v), "5");
  assert_string_equal(trait(f, c, "tags", v, sizeof v), "[\"a\",\"b\"]");
  assert_string_equal(trait(f, c, "addr", v, sizeof v), "{\"city\":\"Oslo\"}");
  /* an older message does not overwrite */
  set_traits(f, c, "{\"plan\":\"free\",\"new\":null}", 1000);
  assert_string_equal(trait(f, c, "plan", v, sizeof v), "\"pro\"");
  assert_string_equal(trait(f, c, "new", v, sizeof v), "null"); /* but adds what is missing */
  /* a newer one does, and so does one at the same time */
  set_traits(f, c, "{\"plan\":\"team\"}", 3000);
  assert_string_equal(trait(f, c, "plan", v, sizeof v), "\"team\"");
  set_traits(f, c, "{\"plan\":\"enterprise\"}", 3000);
  assert_string_equal(trait(f, c, "plan", v, sizeof v), "\"enterprise\"");
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT ts FROM traits WHERE customer_id=%lld AND key='plan'", (long long)c);
  assert_int_equal(count(f, sql), 3000);
  /* not an object: nothing */
  set_traits(f, c, "[1,2]", 4000);
  snprintf(sql, sizeof sql, "SELECT count(*) FROM traits WHERE customer_id=%lld", (long long)c);
  assert_int_equal(count(f, sql), 5);
}

static void test_profile_timeline_paging(void **state) {
  fixture *f = *state;
  int64_t c = resolve(f, "user-tl", NULL, NULL, NULL);
  int64_t s1 = add_event(f, c, 300), s2 = add_event(f, c, 100), s3 = add_event(f, c, 200),
          s4 = add_event(f, c, 200), s5 = add_event(f, c, 100);
  profile_point all[8];
  assert_int_equal(profile_timeline(f->pr, c, 0, 0, NULL, all, 8), 5);
  /* newest first; equal times by seq, newest first */
  int64_t want_seq[] = {s1, s4, s3, s5, s2}, want_ts[] = {300, 200, 200, 100, 100};
  for (int i = 0; i < 5; i++) {
    assert_true(all[i].seq == want_seq[i]);
    assert_true(all[i].ts == want_ts[i]);
  }
  /* pages of two, each strictly before the last point of the previous */
  profile_point page[2];
  assert_int_equal(profile_timeline(f->pr, c, 0, 0, NULL, page, 2), 2);
  assert_true(page[0].seq == s1 && page[1].seq == s4);
  assert_int_equal(profile_timeline(f->pr, c, page[1].ts, page[1].seq, NULL, page, 2), 2);
  assert_true(page[0].seq == s3 && page[1].seq == s5);
  assert_int_equal(profile_timeline(f->pr, c, page[1].ts, page[1].seq, NULL, page, 2), 1);
  assert_true(page[0].seq == s2);
  assert_int_equal(profile_timeline(f->pr, c, page[0].ts, page[0].seq, NULL, page, 2), 0);
  /* a cursor between points */
  assert_int_equal(profile_timeline(f->pr, c, 250, 1, NULL, page, 2), 2);
  assert_true(page[0].seq == s4 && page[1].seq == s3);
  assert_int_equal(profile_timeline(f->pr, c, 0, 0, NULL, page, 0), 0);
  assert_int_equal(profile_timeline(f->pr, 999, 0, 0, NULL, page, 2), 0);
  profile_summary sum;
  assert_int_equal(profile_get_summary(f->pr, c, &sum), CX_OK);
  assert_true(sum.first_seen == 100 && sum.last_seen == 300);
  assert_int_equal(sum.event_count, 5);
  profile_write_begin(f->pr);
  assert_int_equal(profile_note_event(f->pr, 999, 1, 1, 2, "x", 1), CX_ENOTFOUND);
  profile_write_end(f->pr);
}

/* Everything the indexes answer, for comparing two profiles. */
typedef struct {
  int64_t canonical[32];
  profile_summary sum[32];
  profile_point tl[32][16];
  size_t ntl[32];
  int64_t found[64];
  profile_stats stats;
} snapshot;

static void take_snapshot(fixture *f, profile *p, snapshot *s) {
  memset(s, 0, sizeof *s);
  for (int64_t id = 1; id < 32; id++) {
    s->canonical[id] = profile_canonical(p, id);
    if (profile_get_summary(p, id, &s->sum[id])) s->sum[id].event_count = 99999;
    s->ntl[id] = profile_timeline(p, id, 0, 0, NULL, s->tl[id], 16);
  }
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(store_db(f->st), "SELECT type, value FROM identities ORDER BY 1, 2",
                                      -1, &st, NULL),
                   SQLITE_OK);
  for (int i = 0; i < 64 && sqlite3_step(st) == SQLITE_ROW; i++)
    s->found[i] = profile_find(p, sqlite3_column_int(st, 0), (const char *)sqlite3_column_text(st, 1),
                               (size_t)sqlite3_column_bytes(st, 1));
  sqlite3_finalize(st);
  profile_get_stats(p, &s->stats);
}

static void test_profile_rebuild(void **state) {
  fixture *f = *state;
  /* a history with every kind of resolution */
  int64_t a = resolve(f, NULL, "r-anon", NULL, NULL);
  int64_t u = resolve(f, "r-user", NULL, "r@example.com", NULL);
  add_event(f, a, 10);
  add_event(f, u, 20);
  resolve(f, "r-user", "r-anon", NULL, NULL); /* merge u into a */
  int64_t v = resolve(f, "r-user2", "r-anon", NULL, NULL);
  add_event(f, v, 30);
  int64_t w = resolve(f, "r-user3", NULL, NULL, NULL);
  resolve(f, "r-user3", NULL, NULL, "r-user2"); /* alias: w into v */
  add_event(f, w, 5);
  add_event(f, a, 15);
  resolve(f, NULL, "r-anon9", "r@example.com", NULL);
  snapshot before, after, fresh;
  take_snapshot(f, f->pr, &before);
  assert_int_equal(before.stats.merged, 2);
  assert_int_equal(before.stats.events, 5);
  assert_int_equal(before.ntl[a], 3);
  assert_int_equal(before.ntl[v], 2);
  assert_int_equal(before.canonical[w], v);
  /* rebuilt from the store: the same answers */
  profile_changes_publish(f->pr);
  uint64_t cursor = profile_changes_now(f->pr);
  int64_t ids[8];
  assert_int_equal(profile_rebuild(f->pr, store_db(f->st)), CX_OK);
  /* the change log tells its followers to start over only once the
   * rebuild's transaction is committed (published) */
  assert_int_equal(profile_changes(f->pr, &cursor, ids, 8), 0);
  profile_changes_publish(f->pr);
  assert_true(profile_changes(f->pr, &cursor, ids, 8) == PROFILE_CHANGES_LOST);
  assert_int_equal(profile_changes(f->pr, &cursor, ids, 8), 0);
  take_snapshot(f, f->pr, &after);
  assert_memory_equal(&before, &after, sizeof before);
  /* and a profile opened afresh agrees */
  profile *p2 = NULL;
  assert_int_equal(profile_open(store_db(f->st), &p2), CX_OK);
  take_snapshot(f, p2, &fresh);
  profile_close(p2);
  assert_memory_equal(&before, &fresh, sizeof before);
  /* resolution goes on from the rebuilt state: new ids continue after the old */
  int64_t n = resolve(f, "r-user4", NULL, NULL, NULL);
  assert_int_equal(n, 5);
  assert_int_equal(resolve(f, "r-user", NULL, NULL, NULL), a);
  assert_int_equal(resolve(f, "r-user3", NULL, NULL, NULL), v);
}

/* The root customers the kinds' index finds for every kind in [0, 1000),
 * in id order, through profile_customers_with and profile_postings_each
 * (which must agree). */
static void on_entry(void *arg, int64_t root, int64_t ts, int tail) {
  (void)ts;
  (void)tail;
  uint64_t *bits = arg;
  assert_true(root > 0 && root < 256);
  bits[root >> 6] |= 1ULL << (root & 63);
}

static size_t index_roots(profile *p, int64_t *out, size_t max) {
  uint8_t kinds[64] = {0};
  uint64_t bits[4] = {0}, each[4] = {0};
  profile_read_begin(p);
  for (uint32_t k = 1; k <= profile_kind_count(p) && k < 64; k++) kinds[k] = 1;
  int64_t n = profile_customers_with(p, kinds, 0, 1000, INT64_MAX, bits, 4);
  assert_int_equal(profile_postings_each(p, kinds, 0, 1000, INT64_MAX, on_entry, each), 0);
  profile_read_end(p);
  assert_memory_equal(bits, each, sizeof bits);
  size_t k = 0;
  for (int64_t id = 1; id < 256; id++)
    if (bits[id >> 6] >> (id & 63) & 1) {
      if (k < max) out[k] = id;
      k++;
    }
  assert_int_equal(n, (int64_t)k);
  return k;
}

static void test_profile_index_roots(void **state) {
  fixture *f = *state;
  int64_t a = resolve(f, NULL, "x-anon", NULL, NULL), u = resolve(f, "x-user", NULL, NULL, NULL), got[8];
  add_event(f, a, 10);
  add_event(f, u, 20);
  assert_int_equal(index_roots(f->pr, got, 8), 2); /* builds the index */
  assert_true(got[0] == a && got[1] == u);
  resolve(f, "x-user", "x-anon", NULL, NULL); /* u merges into a: u's entries are a's */
  assert_int_equal(index_roots(f->pr, got, 8), 1);
  assert_int_equal(got[0], a);
  int64_t n = resolve(f, "x-user2", NULL, NULL, NULL);
  add_event(f, n, 30); /* a new customer, in the index's tail */
  add_event(f, u, 40); /* noted against the merged id */
  assert_int_equal(index_roots(f->pr, got, 8), 2);
  assert_true(got[0] == a && got[1] == n);
  assert_int_equal(profile_rebuild(f->pr, store_db(f->st)), CX_OK);
  assert_int_equal(index_roots(f->pr, got, 8), 2);
  assert_true(got[0] == a && got[1] == n);
  profile *p2 = NULL; /* and a profile opened afresh */
  assert_int_equal(profile_open(store_db(f->st), &p2), CX_OK);
  assert_int_equal(index_roots(p2, got, 8), 2);
  assert_true(got[0] == a && got[1] == n);
  profile_close(p2);
}

int main(int argc, char **argv) {
  if (argc > 1) cmocka_set_test_filter(argv[1]);
  if (cx_crypto_init()) return 1;
  cx_log_set_level(2); /* migrations log at info */
#define S(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define P(fn) cmocka_unit_test_setup_teardown(fn, setup_profile, teardown)
  const struct CMUnitTest tests[] = {
      S(test_store_open_and_migrate),
      S(test_store_lock_and_reopen),
      S(test_store_missing_and_too_new),
      S(test_writer_group_commit),
      S(test_writer_one_transaction_per_group),
      S(test_writer_wal_bound),
      S(test_bodies_blocks),
      S(test_bodies_packed),
      S(test_writer_queue_bound),
      S(test_writer_rollback),
      S(test_writer_fail_stop),
      S(test_writer_stop_drains),
      P(test_profile_new_customers),
      P(test_profile_links_anonymous_to_user),
      P(test_profile_links_by_email),
      P(test_profile_merge),
      P(test_profile_user_ids_never_merged),
      P(test_profile_alias),
      P(test_profile_traits_by_time),
      P(test_profile_timeline_paging),
      P(test_profile_rebuild),
      P(test_profile_index_roots),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
