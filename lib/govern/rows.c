/* rows.c - the govern module's shared small pieces (rows.h). */
#include "rows.h"
#include "../base/mem.h"
#include "../base/util.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

int gv_name_index(const char *const *names, int n, const char *s) {
  for (int i = 0; s && i < n; i++)
    if (!strcmp(names[i], s)) return i;
  return -1;
}

int gv_json_id(const cJSON *v, int64_t *out) {
  if (cJSON_IsString(v)) return !cx_parse_i64(v->valuestring, strlen(v->valuestring), out) && *out > 0;
  if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (d >= 1 && d <= 9e15 && d == floor(d)) return *out = (int64_t)d, 1;
  }
  return 0;
}

int gv_sql_text(sqlite3 *db, const char *sql, int64_t id, const char *text, char *out, size_t cap) {
  sqlite3_stmt *st;
  if (cap) out[0] = 0;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL)) return 0;
  if (text) sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
  else sqlite3_bind_int64(st, 1, id);
  int found = sqlite3_step(st) == SQLITE_ROW;
  if (found && cap) {
    const char *v = (const char *)sqlite3_column_text(st, 0);
    snprintf(out, cap, "%s", v ? v : "");
  }
  sqlite3_finalize(st);
  return found;
}

cx_err gv_rows_load(sqlite3 *db, const char *sql, int64_t id, int64_t limit, size_t size,
                    void (*read)(sqlite3_stmt *st, void *row), void **rows, size_t *n) {
  *rows = NULL, *n = 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL)) return CX_EDB;
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int64(st, 2, limit);
  size_t cap = 0;
  cx_err rc = CX_OK;
  int r;
  char *a = NULL;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? 2 * cap : 8;
      char *l = cx_realloc(a, cap * size);
      if (!l) {
        rc = CX_ENOMEM;
        break;
      }
      a = l;
    }
    read(st, a + (*n)++ * size);
  }
  if (!rc && r != SQLITE_DONE) rc = CX_EDB;
  sqlite3_finalize(st);
  if (rc) cx_free(a), a = NULL, *n = 0;
  *rows = a;
  return rc;
}

cx_err gv_put_num(cx_buf *b, double v) { return isnan(v) ? cx_buf_puts(b, "null") : cx_buf_printf(b, "%.6g", v); }
cx_err gv_put_time(cx_buf *b, int64_t ms) { return ms ? cx_buf_json_time(b, ms) : cx_buf_puts(b, "null"); }
cx_err gv_put_str(cx_buf *b, const char *s) { return cx_buf_json_str(b, s, strlen(s)); }
