/* rows.h - small pieces shared by the govern module's stored objects (KPI
 * targets, initiatives): names to indexes, ids from JSON, one-value
 * lookups, rows loaded into an array, and JSON members for numbers and
 * times that may be missing. Private to lib/govern. */
#ifndef CX_GOVERN_ROWS_H
#define CX_GOVERN_ROWS_H
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include "../base/buf.h"

/* The index of s in names[0..n), -1 when it is not there (or NULL). */
int gv_name_index(const char *const *names, int n, const char *s);
/* An id given as "12" or 12 (above 0) into *out: 1, else 0. */
int gv_json_id(const cJSON *v, int64_t *out);
/* The first column of sql's first row (one parameter: text when not
 * NULL, else id) as text into out (cap bytes; may be 0); 0 when there is
 * no row or sql fails. */
int gv_sql_text(sqlite3 *db, const char *sql, int64_t id, const char *text, char *out, size_t cap);
/* Every row of sql (?1 bound to id, ?2 to limit) read by read() into an
 * array of elements of size bytes: *rows (caller frees with cx_free), *n. */
cx_err gv_rows_load(sqlite3 *db, const char *sql, int64_t id, int64_t limit, size_t size,
                    void (*read)(sqlite3_stmt *st, void *row), void **rows, size_t *n);
/* JSON values: null for NAN, for a time of 0, or nothing else. */
cx_err gv_put_num(cx_buf *b, double v);
cx_err gv_put_time(cx_buf *b, int64_t ms);
cx_err gv_put_str(cx_buf *b, const char *s);

#endif
