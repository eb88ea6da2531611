/* retention.c - the retention policy: events older than N days leave the
 * log, once a day, by a thread of their own (docs/privacy.md).
 *
 * The setting and the last run live in the meta table. A run deletes the
 * old events and their bodies in one store job (the newest event is kept
 * whatever its age: the log's head), rebuilds the profile indexes inside
 * it, removes the timelines snapshot, then VACUUMs (an exclusive job) and
 * empties the WAL, like an erasure. */
#include "privacy.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/ticker.h"
#include "../base/time.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY_MS 86400000LL

static int64_t meta_int(sqlite3 *db, const char *key, int64_t dflt) {
  sqlite3_stmt *st;
  int64_t v = dflt;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL)) return dflt;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

cx_err privacy_retention_get(store *st, privacy_retention *out) {
  sqlite3 *db = store_reader_get(st);
  out->events_days = meta_int(db, "retention_events_days", 0);
  out->last_run_at = meta_int(db, "retention_last_run_at", 0);
  out->last_deleted = meta_int(db, "retention_last_deleted", 0);
  store_reader_put(st, db);
  return CX_OK;
}

cx_err privacy_retention_json(const privacy_retention *r, cx_buf *out) {
  cx_err rc = r->events_days ? cx_buf_printf(out, "{\"events_days\":%lld", (long long)r->events_days)
                             : cx_buf_puts(out, "{\"events_days\":null");
  if (!rc) rc = cx_buf_puts(out, ",\"last_run_at\":");
  if (!rc) rc = r->last_run_at ? cx_buf_json_time(out, r->last_run_at) : cx_buf_puts(out, "null");
  if (!rc) rc = cx_buf_printf(out, ",\"last_deleted\":%lld}", (long long)r->last_deleted);
  return rc;
}

typedef struct {
  store_job job;
  const privacy_erase_ctx *ctx;
  int op; /* 's' set, 'r' run */
  int64_t days, cutoff, now, deleted;
} ret_job;

static cx_err meta_put(sqlite3 *db, const char *key, int64_t v, int remove) {
  sqlite3_stmt *st;
  const char *sql = remove ? "DELETE FROM meta WHERE key = ?1"
                           : "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL)) return CX_EDB;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  if (!remove) sqlite3_bind_int64(st, 2, v);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  return r == SQLITE_DONE ? CX_OK : CX_EDB;
}

static cx_err ret_apply(store_job *job, sqlite3 *db) {
  ret_job *j = (ret_job *)job;
  if (j->op == 's') return meta_put(db, "retention_events_days", j->days, j->days == 0);
  /* the bodies first (their blocks are rewritten without them, or
   * deleted: bodies.c), then the events; the newest event stays */
  cx_err rc = store_bodies_erase(
      db, "SELECT seq FROM events WHERE ts < ?1 AND seq < (SELECT max(seq) FROM events) ORDER BY seq", j->cutoff, NULL);
  sqlite3_stmt *st = NULL;
  if (!rc && sqlite3_prepare_v2(db, "DELETE FROM events WHERE ts < ?1 AND seq < (SELECT max(seq) FROM events)", -1,
                                &st, NULL) != SQLITE_OK)
    rc = CX_EDB;
  if (!rc) {
    sqlite3_bind_int64(st, 1, j->cutoff);
    rc = sqlite3_step(st) == SQLITE_DONE ? CX_OK : CX_EDB;
    j->deleted = sqlite3_changes(db);
  }
  sqlite3_finalize(st);
  if (!rc) rc = meta_put(db, "retention_last_run_at", j->now, 0);
  if (!rc) rc = meta_put(db, "retention_last_deleted", j->deleted, 0);
  if (!rc && j->deleted) {
    char path[4096];
    store_side_path(db, "timelines", path, sizeof path);
    if (*path) unlink(path);
    if (j->ctx && j->ctx->rebuild) rc = j->ctx->rebuild(j->ctx->ctx, db);
  }
  return rc;
}

cx_err privacy_retention_set(store *st, const cJSON *req, privacy_retention *out, analytics_error *err) {
  for (const cJSON *m = req->child; m; m = m->next)
    if (strcmp(m->string, "events_days"))
      return analytics_refuse(err, "invalid_field", m->string, "The retention policy has events_days; not %.40s.", m->string);
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(req, "events_days");
  if (!d) return analytics_refuse(err, "missing_field", "events_days", "Give events_days: a number of days, or null to keep events for ever.");
  int64_t days = 0;
  if (!cJSON_IsNull(d)) {
    if (!cJSON_IsNumber(d) || d->valuedouble < PRIVACY_RETENTION_MIN_DAYS || d->valuedouble > 36500 ||
        d->valuedouble != (double)(int64_t)d->valuedouble)
      return analytics_refuse(err, "invalid_field", "events_days",
                              "events_days must be a whole number of days from %d to 36500, or null (keep for ever).",
                              PRIVACY_RETENTION_MIN_DAYS);
    days = (int64_t)d->valuedouble;
  }
  ret_job j = {.job = {.apply = ret_apply, .weight = 1}, .op = 's', .days = days};
  cx_err rc = store_run(st, &j.job);
  if (!rc) rc = privacy_retention_get(st, out);
  return rc;
}

cx_err privacy_retention_run(store *st, int64_t now, const privacy_erase_ctx *ctx, int64_t *deleted) {
  privacy_retention r;
  privacy_retention_get(st, &r);
  *deleted = 0;
  if (!r.events_days) return CX_OK;
  ret_job j = {.job = {.apply = ret_apply, .weight = 1}, .op = 'r', .ctx = ctx, .now = now,
               .cutoff = now - r.events_days * DAY_MS};
  cx_err rc = store_run(st, &j.job);
  if (rc) return rc;
  *deleted = j.deleted;
  char n[24];
  snprintf(n, sizeof n, "%lld", (long long)j.deleted);
  cx_log("info", "retention_run", "events_deleted", n, NULL);
  if (j.deleted) privacy_compact(st);
  return CX_OK;
}

/* ---- the daily thread ---- */

struct privacy_retention_thread {
  store *st;
  const privacy_erase_ctx *ctx;
  cx_ticker *ticker;
};

static void scheduled(void *arg) {
  privacy_retention_thread *t = arg;
  privacy_retention r;
  privacy_retention_get(t->st, &r);
  int64_t now = cx_now_ms(), deleted;
  if (r.events_days && now - r.last_run_at >= PRIVACY_RETENTION_EVERY_MS &&
      privacy_retention_run(t->st, now, t->ctx, &deleted))
    cx_log("error", "retention_failed", NULL);
}

cx_err privacy_retention_start(store *st, const privacy_erase_ctx *ctx, int64_t tick_ms, privacy_retention_thread **out) {
  privacy_retention_thread *t = cx_calloc(1, sizeof *t);
  if (!t) return CX_ENOMEM;
  t->st = st, t->ctx = ctx;
  cx_err rc = cx_ticker_start(tick_ms > 0 ? tick_ms : 3600000, scheduled, t, &t->ticker);
  if (rc) {
    cx_free(t);
    return rc;
  }
  *out = t;
  return CX_OK;
}

void privacy_retention_stop(privacy_retention_thread *t) {
  if (!t) return;
  cx_ticker_stop(t->ticker);
  cx_free(t);
}
