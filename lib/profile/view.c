/* view.c - the single customer view, read through a reader connection. */
#include "profile_int.h"
#include "../base/log.h"
#include <string.h>

static const char *type_name(int t) {
  return t == PROFILE_USER_ID ? "user_id" : t == PROFILE_ANONYMOUS_ID ? "anonymous_id" : "email";
}

cx_err profile_customer_json(profile *p, sqlite3 *rdb, int64_t id, cx_buf *out) {
  profile_summary sum;
  cx_err rc = profile_get_summary(p, id, &sum);
  if (rc) return rc;
  sqlite3_stmt *st = NULL;
  int identified = 0;
  rc = cx_buf_printf(out, "{\"id\":\"%lld\",\"identities\":[", (long long)id);
  if (sqlite3_prepare_v2(rdb,
                         "SELECT type, value FROM identities WHERE customer_id = ?1"
                         " ORDER BY type, created_at, value",
                         -1, &st, NULL) != SQLITE_OK)
    goto dberr;
  sqlite3_bind_int64(st, 1, id);
  for (int first = 1; !rc && sqlite3_step(st) == SQLITE_ROW; first = 0) {
    int t = sqlite3_column_int(st, 0);
    if (t != PROFILE_ANONYMOUS_ID) identified = 1;
    rc = cx_buf_printf(out, "%s{\"type\":\"%s\",\"value\":", first ? "" : ",", type_name(t));
    if (!rc) rc = cx_buf_json_str(out, (const char *)sqlite3_column_text(st, 1),
                                  (size_t)sqlite3_column_bytes(st, 1));
    if (!rc) rc = cx_buf_puts(out, "}");
  }
  sqlite3_finalize(st);
  st = NULL;
  if (!rc) rc = cx_buf_puts(out, "],\"traits\":{");
  if (sqlite3_prepare_v2(rdb, "SELECT key, value FROM traits WHERE customer_id = ?1 ORDER BY key",
                         -1, &st, NULL) != SQLITE_OK)
    goto dberr;
  sqlite3_bind_int64(st, 1, id);
  for (int first = 1; !rc && sqlite3_step(st) == SQLITE_ROW; first = 0) {
    if (!first) rc = cx_buf_puts(out, ",");
    if (!rc) rc = cx_buf_json_str(out, (const char *)sqlite3_column_text(st, 0),
                                  (size_t)sqlite3_column_bytes(st, 0));
    if (!rc) rc = cx_buf_puts(out, ":");
    /* values were stored as JSON text by the writer */
    if (!rc) rc = cx_buf_append(out, sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1));
  }
  sqlite3_finalize(st);
  st = NULL;
  if (!rc) rc = cx_buf_puts(out, "},\"accounts\":[");
  if (sqlite3_prepare_v2(rdb, "SELECT account_id FROM memberships WHERE customer_id = ?1"
                              " ORDER BY account_id",
                         -1, &st, NULL) != SQLITE_OK)
    goto dberr;
  sqlite3_bind_int64(st, 1, id);
  for (int first = 1; !rc && sqlite3_step(st) == SQLITE_ROW; first = 0) {
    if (!first) rc = cx_buf_puts(out, ",");
    if (!rc) rc = cx_buf_json_str(out, (const char *)sqlite3_column_text(st, 0),
                                  (size_t)sqlite3_column_bytes(st, 0));
  }
  sqlite3_finalize(st);
  /* Until configurable lifecycle rules arrive (journey issue), the stage
   * says only whether the person is known: anonymous visitors are in
   * awareness, anyone with a user id or e-mail is in engagement. */
  if (!rc) rc = cx_buf_printf(out, "],\"stage\":\"%s\",\"first_seen\":",
                              identified ? "engagement" : "awareness");
  if (!rc) rc = cx_buf_json_time(out, sum.first_seen);
  if (!rc) rc = cx_buf_puts(out, ",\"last_seen\":");
  if (!rc) rc = cx_buf_json_time(out, sum.last_seen);
  if (!rc) rc = cx_buf_printf(out, ",\"event_count\":%llu}", (unsigned long long)sum.event_count);
  return rc;
dberr:
  cx_log("error", "customer_view_failed", "error", sqlite3_errmsg(rdb), NULL);
  sqlite3_finalize(st);
  return CX_EDB;
}

size_t profile_list(profile *p, sqlite3 *rdb, const char *q, int64_t after_id, int64_t *out,
                    size_t max) {
  size_t k = 0;
  if (!q) {
    pthread_rwlock_rdlock(&p->lock);
    for (int64_t i = after_id + 1; i <= p->ncust && k < max; i++)
      if (p->cust[i].parent == i) out[k++] = i;
    pthread_rwlock_unlock(&p->lock);
    return k;
  }
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(rdb,
                         "SELECT customer_id FROM identities WHERE instr(lower(value), lower(?1)) > 0"
                         " AND customer_id > ?2 UNION SELECT customer_id FROM traits"
                         " WHERE instr(lower(value), lower(?1)) > 0 AND customer_id > ?2"
                         " ORDER BY 1 LIMIT ?3",
                         -1, &st, NULL) != SQLITE_OK) {
    cx_log("error", "customer_search_failed", "error", sqlite3_errmsg(rdb), NULL);
    return 0;
  }
  sqlite3_bind_text(st, 1, q, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, after_id);
  sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
  while (k < max && sqlite3_step(st) == SQLITE_ROW) out[k++] = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return k;
}
