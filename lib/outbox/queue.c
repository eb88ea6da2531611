/* queue.c - the outbox table: enqueueing, listing, retrying, counting
 * (outbox.h). The delivery thread is in deliver.c. */
#include "outbox_int.h"
#include "../base/time.h"
#include "../base/util.h"
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

cx_err outbox_refuse(outbox_error *err, const char *field, const char *fmt, ...) {
  if (!err) return CX_EINVAL;
  snprintf(err->code, sizeof err->code, "invalid_field");
  snprintf(err->field, sizeof err->field, "%s", field ? field : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  return CX_EINVAL;
}

static int event_ok(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (!n || n > OUTBOX_MAX_EVENT) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
      return 0;
  return 1;
}

cx_err outbox_webhook_check(const outbox_webhook *w, outbox_error *err) {
  if (!w->url || !outbox_url_valid(w->url))
    return outbox_refuse(err, "url", "url must be an http:// or https:// URL of at most %d bytes without spaces or quotes.",
                         OUTBOX_MAX_URL);
  if (!event_ok(w->event))
    return outbox_refuse(err, "event", "event must be 1 to %d of a-z, 0-9, '.', '_' or '-' (such as kpi.alert).",
                         OUTBOX_MAX_EVENT);
  size_t n = w->body ? strlen(w->body) : 0;
  if (!n || n > OUTBOX_MAX_WEBHOOK_BODY)
    return outbox_refuse(err, "body", "body must be a JSON text of 1 to %d bytes.", OUTBOX_MAX_WEBHOOK_BODY);
  cJSON *j = cJSON_ParseWithLength(w->body, n);
  int ok = cJSON_IsObject(j) || cJSON_IsArray(j);
  cJSON_Delete(j);
  if (!ok) return outbox_refuse(err, "body", "body must be a JSON object or array.");
  if (w->ref && (strlen(w->ref) > OUTBOX_MAX_REF || !cx_utf8_valid(w->ref, strlen(w->ref))))
    return outbox_refuse(err, "ref", "ref must be UTF-8 of at most %d bytes.", OUTBOX_MAX_REF);
  for (const char *p = w->ref; p && *p; p++)
    if ((unsigned char)*p < 0x20) return outbox_refuse(err, "ref", "ref must not contain control characters.");
  return CX_OK;
}

static cx_err insert(sqlite3 *db, const char *kind, const char *recipient, const char *subject,
                     const char *payload, const char *ref, int64_t *id_out) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO outbox(kind, recipient, subject, payload, ref, status, attempts,"
                         " next_attempt_at, created_at) VALUES(?1, ?2, ?3, ?4, ?5, 'queued', 0, ?6, ?6)",
                         -1, &st, NULL))
    return CX_EDB;
  int64_t now = cx_now_ms();
  sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, recipient, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, subject, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, payload, -1, SQLITE_STATIC);
  if (ref && *ref) sqlite3_bind_text(st, 5, ref, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, now);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  if (r != SQLITE_DONE) return CX_EDB;
  if (id_out) *id_out = sqlite3_last_insert_rowid(db);
  outbox_kick_db(db);
  return CX_OK;
}

static int add_opt(cJSON *o, const char *name, const char *v) {
  return !v || cJSON_AddStringToObject(o, name, v);
}

cx_err outbox_enqueue_mail_in(sqlite3 *db, const outbox_mail *m, int64_t *id_out) {
  cx_err rc = outbox_mail_check(m, NULL);
  if (rc) return rc;
  cJSON *o = cJSON_CreateObject();
  char *payload = NULL;
  if (o && add_opt(o, "to_name", m->to_name) && add_opt(o, "from_name", m->from_name) &&
      add_opt(o, "text", m->text) && add_opt(o, "html", m->html) &&
      add_opt(o, "unsubscribe_url", m->unsubscribe_url))
    payload = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (!payload) return CX_ENOMEM;
  rc = insert(db, "mail", m->to, m->subject, payload, m->ref, id_out);
  cJSON_free(payload);
  return rc;
}

cx_err outbox_enqueue_webhook_in(sqlite3 *db, const outbox_webhook *w, int64_t *id_out) {
  cx_err rc = outbox_webhook_check(w, NULL);
  if (rc) return rc;
  return insert(db, "webhook", w->url, w->event, w->body, w->ref, id_out);
}

typedef struct {
  store_job job;
  const outbox_mail *m;
  const outbox_webhook *w;
  int64_t id;
} enqueue_job;

static cx_err apply_enqueue(store_job *job, sqlite3 *db) {
  enqueue_job *j = (enqueue_job *)job;
  return j->m ? outbox_enqueue_mail_in(db, j->m, &j->id) : outbox_enqueue_webhook_in(db, j->w, &j->id);
}

cx_err outbox_enqueue_mail(store *st, const outbox_mail *m, int64_t *id_out, outbox_error *err) {
  cx_err rc = outbox_mail_check(m, err);
  if (rc) return rc;
  enqueue_job j = {.job = {.apply = apply_enqueue, .weight = 1}, .m = m};
  if ((rc = store_run(st, &j.job))) return rc;
  if (id_out) *id_out = j.id;
  return CX_OK;
}

cx_err outbox_enqueue_webhook(store *st, const outbox_webhook *w, int64_t *id_out, outbox_error *err) {
  cx_err rc = outbox_webhook_check(w, err);
  if (rc) return rc;
  enqueue_job j = {.job = {.apply = apply_enqueue, .weight = 1}, .w = w};
  if ((rc = store_run(st, &j.job))) return rc;
  if (id_out) *id_out = j.id;
  return CX_OK;
}

/* ---- reading ---- */

#define COLUMNS "id, kind, recipient, subject, ref, status, attempts, last_error, created_at, sent_at, next_attempt_at"

static cx_err text_or_null(cx_buf *b, sqlite3_stmt *s, int col) {
  const char *t = (const char *)sqlite3_column_text(s, col);
  return t ? cx_buf_json_str(b, t, (size_t)sqlite3_column_bytes(s, col)) : cx_buf_puts(b, "null");
}

static cx_err time_or_null(cx_buf *b, sqlite3_stmt *s, int col) {
  return cx_buf_json_time(b, sqlite3_column_type(s, col) == SQLITE_NULL ? CX_NO_TIME : sqlite3_column_int64(s, col));
}

static cx_err delivery_json(cx_buf *b, sqlite3_stmt *s) {
  int queued = !strcmp((const char *)sqlite3_column_text(s, 5), "queued");
  cx_err rc = cx_buf_printf(b, "{\"id\":\"%lld\",\"kind\":", (long long)sqlite3_column_int64(s, 0));
  if (!rc) rc = text_or_null(b, s, 1);
  if (!rc) rc = cx_buf_puts(b, ",\"to\":");
  if (!rc) rc = text_or_null(b, s, 2);
  if (!rc) rc = cx_buf_puts(b, ",\"subject\":");
  if (!rc) rc = text_or_null(b, s, 3);
  if (!rc) rc = cx_buf_puts(b, ",\"ref\":");
  if (!rc) rc = text_or_null(b, s, 4);
  if (!rc) rc = cx_buf_puts(b, ",\"status\":");
  if (!rc) rc = text_or_null(b, s, 5);
  if (!rc) rc = cx_buf_printf(b, ",\"attempts\":%d,\"last_error\":", sqlite3_column_int(s, 6));
  if (!rc) rc = text_or_null(b, s, 7);
  if (!rc) rc = cx_buf_puts(b, ",\"created_at\":");
  if (!rc) rc = time_or_null(b, s, 8);
  if (!rc) rc = cx_buf_puts(b, ",\"sent_at\":");
  if (!rc) rc = time_or_null(b, s, 9);
  if (!rc) rc = cx_buf_puts(b, ",\"next_attempt_at\":");
  if (!rc) rc = queued ? time_or_null(b, s, 10) : cx_buf_puts(b, "null");
  if (!rc) rc = cx_buf_puts(b, "}");
  return rc;
}

static int one_of(const char *v, const char *const *list) {
  for (; *list; list++)
    if (!strcmp(v, *list)) return 1;
  return 0;
}

cx_err outbox_list(store *st, const outbox_filter *f, cx_buf *out) {
  static const char *const statuses[] = {"queued", "sending", "sent", "failed", NULL};
  static const char *const kinds[] = {"mail", "webhook", NULL};
  if ((f->status && !one_of(f->status, statuses)) || (f->kind && !one_of(f->kind, kinds)) || !f->limit ||
      f->limit > 1000)
    return CX_EINVAL;
  sqlite3 *db = store_reader_get(st);
  sqlite3_stmt *s = NULL;
  cx_err rc = sqlite3_prepare_v2(db,
                                 "SELECT " COLUMNS " FROM outbox WHERE id < ?1 AND (?2 IS NULL OR status = ?2)"
                                 " AND (?3 IS NULL OR kind = ?3) AND (?4 IS NULL OR ref = ?4)"
                                 " ORDER BY id DESC LIMIT ?5",
                                 -1, &s, NULL) ? CX_EDB : CX_OK;
  if (!rc) {
    sqlite3_bind_int64(s, 1, f->before > 0 ? f->before : INT64_MAX);
    if (f->status) sqlite3_bind_text(s, 2, f->status, -1, SQLITE_STATIC);
    if (f->kind) sqlite3_bind_text(s, 3, f->kind, -1, SQLITE_STATIC);
    if (f->ref) sqlite3_bind_text(s, 4, f->ref, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, (int64_t)f->limit + 1);
    rc = cx_buf_puts(out, "{\"deliveries\":[");
  }
  size_t k = 0;
  int64_t last = 0;
  int more = 0, r = SQLITE_DONE;
  while (!rc && (r = sqlite3_step(s)) == SQLITE_ROW) {
    if (k == f->limit) {
      more = 1;
      break;
    }
    if (k++) rc = cx_buf_puts(out, ",");
    if (!rc) rc = delivery_json(out, s);
    last = sqlite3_column_int64(s, 0);
  }
  if (!rc && !more && r != SQLITE_DONE) rc = CX_EDB;
  sqlite3_finalize(s);
  store_reader_put(st, db);
  if (!rc) rc = more ? cx_buf_printf(out, "],\"next_cursor\":\"%lld\"}", (long long)last)
                     : cx_buf_puts(out, "],\"next_cursor\":null}");
  return rc;
}

cx_err outbox_get(store *st, int64_t id, cx_buf *out) {
  sqlite3 *db = store_reader_get(st);
  sqlite3_stmt *s = NULL;
  cx_err rc = sqlite3_prepare_v2(db, "SELECT " COLUMNS " FROM outbox WHERE id = ?1", -1, &s, NULL) ? CX_EDB : CX_OK;
  if (!rc) {
    sqlite3_bind_int64(s, 1, id);
    int r = sqlite3_step(s);
    rc = r == SQLITE_ROW ? delivery_json(out, s) : r == SQLITE_DONE ? CX_ENOTFOUND : CX_EDB;
  }
  sqlite3_finalize(s);
  store_reader_put(st, db);
  return rc;
}

typedef struct {
  store_job job;
  int64_t id, now;
  int found, changed;
} retry_job;

static cx_err apply_retry(store_job *job, sqlite3 *db) {
  retry_job *j = (retry_job *)job;
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(db, "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = ?2"
                             " WHERE id = ?1 AND status = 'failed'", -1, &s, NULL))
    return CX_EDB;
  sqlite3_bind_int64(s, 1, j->id);
  sqlite3_bind_int64(s, 2, j->now);
  int r = sqlite3_step(s);
  sqlite3_finalize(s);
  if (r != SQLITE_DONE) return CX_EDB;
  j->changed = sqlite3_changes(db) > 0;
  if (j->changed) {
    j->found = 1;
    outbox_kick_db(db);
    return CX_OK;
  }
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM outbox WHERE id = ?1", -1, &s, NULL)) return CX_EDB;
  sqlite3_bind_int64(s, 1, j->id);
  j->found = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_finalize(s);
  return CX_OK;
}

cx_err outbox_retry(store *st, int64_t id) {
  retry_job j = {.job = {.apply = apply_retry, .weight = 1}, .id = id, .now = cx_now_ms()};
  cx_err rc = store_run(st, &j.job);
  if (rc) return rc;
  return !j.found ? CX_ENOTFOUND : !j.changed ? CX_EEXIST : CX_OK;
}

cx_err outbox_get_stats(store *st, outbox *ob, outbox_stats *out) {
  memset(out, 0, sizeof *out);
  if (ob) outbox_counts(ob, out);
  sqlite3 *db = store_reader_get(st);
  sqlite3_stmt *s = NULL;
  cx_err rc = sqlite3_prepare_v2(db, "SELECT kind, status, count(*) FROM outbox GROUP BY kind, status", -1, &s,
                                 NULL) ? CX_EDB : CX_OK;
  while (!rc && sqlite3_step(s) == SQLITE_ROW) {
    const char *kind = (const char *)sqlite3_column_text(s, 0), *status = (const char *)sqlite3_column_text(s, 1);
    int k = kind && !strcmp(kind, "webhook");
    uint64_t n = (uint64_t)sqlite3_column_int64(s, 2);
    if (!status) continue;
    if (!strcmp(status, "queued")) out->queued[k] += n;
    else if (!strcmp(status, "sending")) out->sending[k] += n;
    else if (!strcmp(status, "sent")) out->sent[k] += n;
    else if (!strcmp(status, "failed")) out->failed[k] += n;
  }
  sqlite3_finalize(s);
  store_reader_put(st, db);
  return rc;
}
