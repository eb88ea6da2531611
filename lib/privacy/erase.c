/* erase.c - the right to erasure: a customer and every profile merged
 * into it leave the store, its files and the in-memory indexes.
 *
 * Two store jobs. The first, in a group like any write, deletes every row
 * that is about the customer (with secure_delete on, so freed cells are
 * zeroed), removes the timelines snapshot (the next clean stop writes a
 * new one), and rebuilds the derived state inside the transaction: the
 * profile indexes from the log (segments see the rebuild and recompute)
 * and the feedback index's scores of those responses (dropped at the
 * commit; a rollback drops nothing). The second runs alone, outside any
 * transaction: VACUUM rewrites the file, so that no b-tree page keeps a
 * copy of a deleted key. Then a TRUNCATE checkpoint, from a connection of
 * its own, empties the WAL. */
#include "privacy_int.h"
#include "../base/log.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>


typedef struct {
  store_job job;
  const privacy_erase_ctx *ctx;
  int64_t customer;
  int found;
  privacy_erase_counts n;
} erase_job;

/* Runs sql with ?1 = the customer; *changed (may be NULL) gets the rows
 * it changed. */
static cx_err run(sqlite3 *db, const char *sql, int64_t customer, int64_t *changed) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    cx_log("error", "erase_prepare_failed", "error", sqlite3_errmsg(db), NULL);
    return CX_EDB;
  }
  sqlite3_bind_int64(st, 1, customer);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  if (r != SQLITE_DONE && r != SQLITE_ROW) return CX_EDB;
  if (changed) *changed = sqlite3_changes(db);
  return CX_OK;
}

static cx_err erase_apply(store_job *job, sqlite3 *db) {
  erase_job *j = (erase_job *)job;
  int64_t c = j->customer;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM customers WHERE id = ?1 AND merged_into IS NULL", -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, c);
  j->found = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  if (!j->found) return CX_OK;
  cx_err rc = store_exec(db, "PRAGMA secure_delete = ON");
  /* the customer's profiles, and what hangs off them, in a temp table:
   * the deletes below remove the rows the CTE walks */
  if (!rc) rc = store_exec(db, "CREATE TEMP TABLE IF NOT EXISTS erase_ids(id INTEGER PRIMARY KEY);"
                               "CREATE TEMP TABLE IF NOT EXISTS erase_emails(email TEXT PRIMARY KEY);"
                               "CREATE TEMP TABLE IF NOT EXISTS erase_responses(id INTEGER PRIMARY KEY);"
                               "DELETE FROM erase_ids; DELETE FROM erase_emails; DELETE FROM erase_responses;");
  if (!rc) rc = run(db, PRIVACY_PROFILES "INSERT INTO erase_ids SELECT id FROM m", c, &j->n.profiles);
  if (!rc) rc = run(db, "INSERT OR IGNORE INTO erase_emails SELECT value FROM identities WHERE type = 3 AND customer_id IN erase_ids"
                        " UNION SELECT email FROM invitations WHERE email IS NOT NULL AND customer_id IN erase_ids", c, NULL);
  if (!rc) rc = run(db, "INSERT INTO erase_responses SELECT id FROM responses WHERE customer_id IN erase_ids", c, NULL);
  /* the feedback index drops these responses' scores at the commit */
  if (!rc && j->ctx->forget_responses) {
    if (sqlite3_prepare_v2(db, "SELECT id FROM erase_responses", -1, &st, NULL)) return CX_EDB;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) rc = j->ctx->forget_responses(j->ctx->ctx, sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
  }
  /* the bodies: their blocks are rewritten without them (bodies.c) */
  if (!rc) rc = store_bodies_erase(db, "SELECT seq FROM events WHERE customer_id IN erase_ids ORDER BY seq", 0, NULL);
  /* the log's newest seq and the newest response id stay taken (cursors
   * and the snapshot's head read them): such a row is kept, emptied */
  int64_t kept = 0;
  if (!rc) rc = run(db, "UPDATE events SET customer_id = 0, mid_hash = 0, type = 0, source_id = 0, name = NULL"
                        " WHERE seq = (SELECT max(seq) FROM events) AND customer_id IN erase_ids", c, &kept);
  if (!rc) rc = run(db, "DELETE FROM events WHERE customer_id IN erase_ids", c, &j->n.events);
  j->n.events += kept;
  if (!rc) rc = run(db, "DELETE FROM identities WHERE customer_id IN erase_ids", c, &j->n.identities);
  if (!rc) rc = run(db, "DELETE FROM traits WHERE customer_id IN erase_ids", c, &j->n.traits);
  if (!rc) rc = run(db, "DELETE FROM memberships WHERE customer_id IN erase_ids", c, NULL);
  if (!rc) rc = run(db, "DELETE FROM merges WHERE from_id IN erase_ids OR into_id IN erase_ids", c, NULL);
  if (!rc) rc = run(db, "DELETE FROM verbatims WHERE response_id IN erase_responses", c, NULL);
  if (!rc) rc = run(db, "UPDATE responses SET customer_id = 0, seq = 0, submitted_at = 0, received_at = 0, complete = 0,"
                        " channel = NULL, touchpoint = NULL, unit = NULL, agent = NULL, language = NULL, link = NULL,"
                        " replaced_by = id, answers = '{}', scores = ''"
                        " WHERE id = (SELECT max(id) FROM responses) AND id IN erase_responses", c, &kept);
  if (!rc) rc = run(db, "DELETE FROM responses WHERE id IN erase_responses AND customer_id != 0", c, &j->n.responses);
  j->n.responses += kept;
  if (!rc) rc = run(db, "DELETE FROM outbox WHERE recipient IN erase_emails"
                        " OR id IN (SELECT outbox_id FROM invitations WHERE customer_id IN erase_ids)"
                        " OR id IN (SELECT reminder_id FROM invitations WHERE customer_id IN erase_ids)", c, &j->n.mails);
  if (!rc) rc = run(db, "DELETE FROM invitations WHERE customer_id IN erase_ids", c, &j->n.invitations);
  if (!rc) rc = run(db, "DELETE FROM survey_optouts WHERE email IN erase_emails", c, NULL);
  if (!rc && privacy_table_exists(db, "cases")) {
    if (privacy_table_exists(db, "case_notes"))
      rc = run(db, "DELETE FROM case_notes WHERE case_id IN (SELECT id FROM cases WHERE customer_id IN erase_ids)", c, NULL);
    if (!rc && privacy_table_exists(db, "case_history"))
      rc = run(db, "DELETE FROM case_history WHERE case_id IN (SELECT id FROM cases WHERE customer_id IN erase_ids)", c, NULL);
    if (!rc) rc = run(db, "DELETE FROM cases WHERE customer_id IN erase_ids", c, &j->n.cases);
  }
  if (!rc) rc = run(db, "DELETE FROM customers WHERE id IN erase_ids", c, NULL);
  if (!rc) rc = store_exec(db, "DELETE FROM erase_ids; DELETE FROM erase_emails; DELETE FROM erase_responses;");
  store_exec(db, "PRAGMA secure_delete = OFF");
  if (rc) return rc;
  /* the derived state, from what this transaction now holds */
  char path[4096];
  store_side_path(db, "timelines", path, sizeof path);
  if (*path) unlink(path);
  if (j->ctx->rebuild) rc = j->ctx->rebuild(j->ctx->ctx, db);
  return rc;
}

static cx_err vacuum_apply(store_job *job, sqlite3 *db) {
  (void)job;
  return store_exec(db, "VACUUM");
}

/* The WAL held the pages as they were: empty it, from a connection of
 * its own so that the writer goes on meanwhile. Readers of an older
 * snapshot (a long analytics query) make it wait; 1 once it is empty. */
static int compact(store *st) {
  sqlite3 *rd = store_reader_get(st);
  char path[4096];
  const char *f = sqlite3_db_filename(rd, "main");
  snprintf(path, sizeof path, "%s", f ? f : "");
  store_reader_put(st, rd);
  sqlite3 *db = NULL;
  int ok = 0, r = SQLITE_CANTOPEN, log = -1, done = -1;
  if (*path && (r = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL)) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 1000);
    /* a new connection opens the file at its first read: until then it
     * does not know the WAL */
    sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    for (int tries = 0; tries < PRIVACY_COMPACT_TRIES && !ok; tries++) {
      r = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
      ok = r == SQLITE_OK && log == 0;
      if (!ok) usleep(100000);
    }
  }
  if (!ok) {
    char a[16], b[16], c[16];
    snprintf(a, sizeof a, "%d", r);
    snprintf(b, sizeof b, "%d", log);
    snprintf(c, sizeof c, "%d", done);
    cx_log("warn", "erase_wal_busy", "sqlite", a, "wal_frames", b, "checkpointed", c, NULL);
  }
  sqlite3_close(db);
  return ok;
}

int privacy_compact(store *st) {
  store_job v = {.apply = vacuum_apply, .weight = 1, .exclusive = 1};
  int ok = !store_run(st, &v) && compact(st);
  if (!ok) cx_log("warn", "not_compacted", "hint", "the next erasure, retention run or restart compacts the file", NULL);
  return ok;
}

cx_err privacy_erase(store *st, int64_t customer, const privacy_erase_ctx *ctx, privacy_erase_counts *out) {
  erase_job e = {.job = {.apply = erase_apply, .weight = 1}, .ctx = ctx, .customer = customer};
  cx_err rc = store_run(st, &e.job);
  if (rc) return rc;
  if (!e.found) return CX_ENOTFOUND;
  e.n.compacted = privacy_compact(st);
  if (out) *out = e.n;
  return CX_OK;
}
