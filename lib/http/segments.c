/* segments.c - /api/v1/segments: list, create, read, change and delete
 * segments and personas, and list or export (CSV) their members
 * (docs/segments.md). Definitions change with the admin token only. */
#include "http_int.h"
#include "../analytics/analytics.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_LIMIT 50
#define JSON_MAX 1000
#define CSV_LIMIT 10000
#define CSV_MAX 100000

static const http_names seg_names = {"segment_not_found", "No segment has this id.", "segment_exists",
                                  "A segment with this name exists."};

static enum MHD_Result send_answer(http_server *h, struct MHD_Connection *c, http_req *r, int status,
                                   cx_buf *b, cx_err rc, const analytics_error *err) {
  return http_send_outcome(h, c, r, status, b, rc, err, &seg_names);
}

/* A CSV field: quoted when it must be; a leading = + - @ gets a ' so that
 * a spreadsheet does not run it as a formula. */
static cx_err csv_field(cx_buf *b, const char *s, size_t n) {
  int quote = 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') quote = 1;
  int formula = n && strchr("=+-@\t", s[0]);
  cx_err rc = quote || formula ? cx_buf_puts(b, "\"") : CX_OK;
  if (!rc && formula) rc = cx_buf_puts(b, "'");
  for (size_t i = 0; !rc && i < n; i++)
    rc = s[i] == '"' ? cx_buf_puts(b, "\"\"") : cx_buf_append(b, &s[i], 1);
  if (!rc && (quote || formula)) rc = cx_buf_puts(b, "\"");
  return rc;
}

/* One member as a CSV line: id,user_id,email,stage,first_seen,last_seen,event_count */
static cx_err csv_row(http_server *h, sqlite3_stmt *st, int64_t id, cx_buf *b) {
  int64_t members[64];
  size_t nm = profile_members(h->cfg.pr, id, members, 64);
  if (nm > 64) nm = 64;
  char uid[PROFILE_ID_MAX + 1] = "", email[PROFILE_ID_MAX + 1] = "";
  for (size_t m = 0; m < nm; m++) {
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, members[m]);
    while (sqlite3_step(st) == SQLITE_ROW) {
      int t = sqlite3_column_int(st, 0);
      const char *v = (const char *)sqlite3_column_text(st, 1);
      char *into = t == PROFILE_USER_ID ? uid : t == PROFILE_EMAIL ? email : NULL;
      if (into && !*into && v) snprintf(into, PROFILE_ID_MAX + 1, "%s", v);
    }
  }
  profile_summary sum = {0};
  profile_get_summary(h->cfg.pr, id, &sum);
  char stage[PROFILE_STAGE_NAME_MAX + 1];
  profile_stage(h->cfg.pr, id, *uid || *email, cx_now_ms(), stage);
  char first[CX_TIME_LEN] = "", last[CX_TIME_LEN] = "";
  if (sum.first_seen != CX_NO_TIME) cx_time_format(sum.first_seen, first);
  if (sum.last_seen != CX_NO_TIME) cx_time_format(sum.last_seen, last);
  cx_err rc = cx_buf_printf(b, "%lld,", (long long)id);
  if (!rc) rc = csv_field(b, uid, strlen(uid));
  if (!rc) rc = cx_buf_puts(b, ",");
  if (!rc) rc = csv_field(b, email, strlen(email));
  if (!rc) rc = cx_buf_printf(b, ",%s,%s,%s,%llu\r\n", stage, first, last, (unsigned long long)sum.event_count);
  return rc;
}

static enum MHD_Result members(http_server *h, struct MHD_Connection *c, http_req *r, int64_t id) {
  const char *fmt = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
  int csv = fmt && !strcmp(fmt, "csv");
  if (fmt && *fmt && !csv && strcmp(fmt, "json"))
    return http_send_error(h, c, r, 400, "invalid_parameter", "format must be json or csv.", "format");
  const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
  int64_t limit = csv ? CSV_LIMIT : JSON_LIMIT, max = csv ? CSV_MAX : JSON_MAX;
  if (v && *v && (cx_parse_i64(v, strlen(v), &limit) || limit < 1 || limit > max))
    return http_send_error(h, c, r, 400, "invalid_parameter",
                           csv ? "limit must be a whole number from 1 to 100000." : "limit must be a whole number from 1 to 1000.", "limit");
  v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "cursor");
  int64_t after = 0;
  if (v && *v && (cx_parse_i64(v, strlen(v), &after) || after < 0))
    return http_send_error(h, c, r, 400, "invalid_parameter", "cursor must be a next_cursor value from an earlier page.", "cursor");
  int64_t *ids = cx_malloc(((size_t)limit + 1) * sizeof *ids);
  if (!ids) return http_send_error(h, c, r, 503, "overloaded", "Out of memory; retry.", NULL);
  cx_err rc;
  size_t n = analytics_segment_members(h->cfg.seg, id, after, ids, (size_t)limit + 1, &rc);
  size_t shown = n > (size_t)limit ? (size_t)limit : n;
  cx_buf b;
  cx_buf_init(&b, 64 << 20);
  sqlite3 *rdb = rc ? NULL : store_reader_get(h->cfg.st);
  if (!rc && csv) {
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(rdb, "SELECT type, value FROM identities WHERE customer_id = ?1 ORDER BY type, created_at",
                            -1, &st, NULL) ? CX_EDB : CX_OK;
    if (!rc) rc = cx_buf_puts(&b, "id,user_id,email,stage,first_seen,last_seen,event_count\r\n");
    for (size_t i = 0; !rc && i < shown; i++) rc = csv_row(h, st, ids[i], &b);
    sqlite3_finalize(st);
  } else if (!rc) {
    rc = cx_buf_puts(&b, "{\"members\":[");
    for (size_t i = 0; !rc && i < shown; i++) {
      if (i) rc = cx_buf_puts(&b, ",");
      if (!rc) rc = profile_customer_json(h->cfg.pr, rdb, ids[i], &b);
    }
    if (!rc) rc = cx_buf_puts(&b, "],\"next_cursor\":");
    if (!rc) rc = n > shown ? cx_buf_printf(&b, "\"%lld\"}", (long long)ids[shown - 1]) : cx_buf_puts(&b, "null}");
  }
  if (rdb) store_reader_put(h->cfg.st, rdb);
  cx_free(ids);
  if (!rc && csv) {
    enum MHD_Result ret = http_send(c, r, 200, "text/csv; charset=utf-8", &b);
    cx_buf_free(&b);
    return ret;
  }
  analytics_error none = {{0}, {0}, {0}};
  return send_answer(h, c, r, 200, &b, rc, &none);
}

enum MHD_Result http_segments(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest,
                              int admin) {
  int get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
  int64_t id = 0;
  const char *sub = NULL;
  if (!strcmp(rest, "rfm")) return http_analytics(h, c, r, "rfm");
  if (!strcmp(rest, "preview")) {
    if (strcmp(r->method, "POST")) return http_send_error(h, c, r, 405, "method_not_allowed", "Use POST.", NULL);
    cJSON *body = cJSON_ParseWithLength(r->body.p ? r->body.p : "", r->body.len);
    if (!cJSON_IsObject(body)) {
      cJSON_Delete(body);
      return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
    }
    cx_buf b;
    cx_buf_init(&b, 1 << 16);
    analytics_error err = {{0}, {0}, {0}};
    cx_err rc = analytics_segment_preview(h->cfg.seg, body, &b, &err);
    cJSON_Delete(body);
    return send_answer(h, c, r, 200, &b, rc, &err);
  }
  if (*rest) { /* "{id}" or "{id}/members" */
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (cx_parse_i64(rest, n, &id) || id <= 0)
      return http_send_error(h, c, r, 404, "segment_not_found", "No segment has this id.", "id");
    sub = slash;
    if (sub && strcmp(sub, "/members"))
      return http_send_error(h, c, r, 404, "not_found", "There is no such API resource.", NULL);
  }
  if (sub || (get && id)) {
    if (!get) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET.", NULL);
    if (sub) return members(h, c, r, id);
  }
  if (!get && !admin)
    return http_send_error(h, c, r, 403, "forbidden", "This token may only read.", NULL);
  int create = !id && !strcmp(r->method, "POST");
  int update = id && (!strcmp(r->method, "PATCH") || !strcmp(r->method, "PUT"));
  int del = id && !strcmp(r->method, "DELETE");
  if (!get && !create && !update && !del)
    return http_send_error(h, c, r, 405, "method_not_allowed",
                           id ? "Use GET, PATCH or DELETE." : "Use GET or POST.", NULL);
  cx_buf b;
  cx_buf_init(&b, id || create || update ? 1 << 20 : 8 << 20);
  analytics_error err = {{0}, {0}, {0}};
  cx_err rc;
  if (get) {
    rc = id ? analytics_segment_get(h->cfg.seg, id, &b) : analytics_segments_list(h->cfg.seg, &b);
    return send_answer(h, c, r, 200, &b, rc, &err);
  }
  if (del) return send_answer(h, c, r, 204, &b, analytics_segment_delete(h->cfg.seg, id), &err);
  cJSON *body = cJSON_ParseWithLength(r->body.p ? r->body.p : "", r->body.len);
  if (!cJSON_IsObject(body)) {
    cJSON_Delete(body);
    cx_buf_free(&b);
    return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
  }
  rc = create ? analytics_segment_create(h->cfg.seg, body, &b, &err)
              : analytics_segment_update(h->cfg.seg, id, body, &b, &err);
  cJSON_Delete(body);
  return send_answer(h, c, r, create ? 201 : 200, &b, rc, &err);
}
