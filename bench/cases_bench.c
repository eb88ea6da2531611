/* cases_bench.c - part 9 of bench/run.sh: the closed loop's hot path, a
 * case rule (response.nps <= 6) evaluated over new survey responses and a
 * case opened for each match (routed round robin, SLA due times, history),
 * through lib/cases' scheduler tick (one store job per 1,000 responses,
 * each committed and synced) - beside a reference measured in the same
 * run: the same selection and the same number of rows inserted by one
 * plain SQLite statement (INSERT … SELECT with the NPS cut out of the
 * scores text in SQL) on the same file.
 *
 *   cases_bench [responses] [runs]    one JSON object on stdout
 *
 * The responses are written straight into the table (as the ingest
 * listener writes them): the figure is the rule engine's and the case
 * writer's, not ingest's. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../lib/base/time.h"
#include "../lib/cases/cases.h"

static void die(const char *what) {
  fprintf(stderr, "cases_bench: %s\n", what);
  exit(1);
}

static void rmdir_all(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd)) fprintf(stderr, "cases_bench: could not remove %s\n", dir);
}

/* N responses, 7 of each 11 detractors, 5,000 customers */
static void fill(sqlite3 *db, long n) {
  if (store_exec(db, "BEGIN;"
                     "INSERT INTO units(id, name, parent_id, created_at, updated_at) VALUES(1, 'Support', NULL, 0, 0);"
                     "INSERT INTO users(email, name, pw_hash, role, unit_id, created_at, updated_at) VALUES"
                     " ('a@x.test', 'A', 'x', 'agent', 1, 0, 0), ('b@x.test', 'B', 'x', 'agent', 1, 0, 0),"
                     " ('c@x.test', 'C', 'x', 'agent', 1, 0, 0);"
                     "INSERT INTO case_rules(name, rule, unit_id, priority, enabled, cursor, created_at, updated_at)"
                     " VALUES('Detractors', 'response.nps <= 6', 1, 'normal', 1, 0, 0, 0);"))
    die("setup failed");
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "INSERT INTO responses(id, survey_id, version, customer_id, seq, submitted_at, received_at,"
                             " complete, channel, answers, scores) VALUES(?1, 1, 1, ?2, ?1, ?3, ?3, 1, 'web', ?4, ?5)",
                         -1, &st, NULL))
    die("prepare failed");
  int64_t t = 1767225600000LL;
  for (long i = 1; i <= n; i++) {
    char answers[64], scores[64];
    int nps = (int)(i % 11);
    snprintf(answers, sizeof answers, "{\"q1\":%d,\"q2\":\"fine\"}", nps);
    snprintf(scores, sizeof scores, "0:q1:%d;", nps);
    sqlite3_bind_int64(st, 1, i);
    sqlite3_bind_int64(st, 2, 1 + i % 5000);
    sqlite3_bind_int64(st, 3, t + i * 1000);
    sqlite3_bind_text(st, 4, answers, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, scores, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE) die("insert failed");
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  if (store_exec(db, "COMMIT")) die("commit failed");
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
  int runs = argc > 2 ? atoi(argv[2]) : 3;
  if (n < 1000 || runs < 1 || runs > 50) die("usage: cases_bench [responses >= 1000] [runs]");
  double cx[50], ref[50];
  long opened_total = 0, ref_rows = 0;
  for (int r = 0; r < runs; r++) {
    char dir[] = "/tmp/cxm-cases-bench-XXXXXX";
    if (!mkdtemp(dir)) die("mkdtemp failed");
    store *st;
    if (store_open(dir, 1, &st)) die("store_open failed");
    fill(store_db(st), n);
    store_writer_cfg cfg = {.max_queue = 1000, .max_group = 1000};
    cases *cs;
    if (store_writer_start(st, &cfg) || cases_open(st, NULL, NULL, &cs)) die("start failed");
    long opened = 0;
    int64_t t0 = cx_mono_ns();
    for (long k = 0; k <= n / CASES_SCAN_ROWS; k++) {
      int o = 0;
      if (cases_tick(cs, 0, &o)) die("tick failed");
      opened += o;
    }
    double secs = (double)(cx_mono_ns() - t0) / 1e9;
    cases_close(cs);
    store_close(st);
    cx[r] = (double)n / secs;
    opened_total = opened;
    /* the reference on the same file: one statement, one transaction */
    char path[600];
    snprintf(path, sizeof path, "%s/cxm.db", dir);
    sqlite3 *db;
    if (sqlite3_open(path, &db) ||
        store_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                       "CREATE TABLE ref_cases(id INTEGER PRIMARY KEY, status TEXT, customer_id INTEGER,"
                       " response_id INTEGER, unit_id INTEGER, owner_id INTEGER, opened_at INTEGER, due INTEGER)"))
      die("reference setup failed");
    t0 = cx_mono_ns();
    if (store_exec(db, "BEGIN; INSERT INTO ref_cases(status, customer_id, response_id, unit_id, owner_id, opened_at, due)"
                       " SELECT 'new', customer_id, id, 1, 1 + id % 3, 0, 86400000 FROM responses"
                       " WHERE CAST(substr(scores, instr(scores, ':q1:') + 4) AS INTEGER) <= 6; COMMIT;"))
      die("reference failed");
    double rsecs = (double)(cx_mono_ns() - t0) / 1e9;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM ref_cases", -1, &q, NULL) || sqlite3_step(q) != SQLITE_ROW)
      die("count failed");
    ref_rows = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    ref[r] = (double)n / rsecs;
    rmdir_all(dir);
    if (ref_rows != opened) die("cxm and the reference disagree on the cases");
  }
  qsort(cx, (size_t)runs, sizeof *cx, cmp_d);
  qsort(ref, (size_t)runs, sizeof *ref, cmp_d);
  double det = (double)opened_total / (double)n;
  printf("{\"responses\":%ld,\"cases\":%ld,\"runs\":%d,\"cxm_responses_per_s\":%.0f,\"cxm_cases_per_s\":%.0f,"
         "\"ref_responses_per_s\":%.0f,\"ref_cases_per_s\":%.0f}\n",
         n, opened_total, runs, cx[runs / 2], cx[runs / 2] * det, ref[runs / 2], ref[runs / 2] * det);
  return 0;
}
