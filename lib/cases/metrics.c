/* metrics.c - GET /cases/metrics: open and overdue, median times to first
 * response and resolution, % within SLA, the root-cause Pareto and the
 * recovery rate, over the cases opened in [from, to) within a
 * principal's units (docs/cases.md says how each is counted). */
#include "cases_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/vec.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CAUSES 1000

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* median of v (sorted here) in seconds, or null */
static cx_err put_median(cx_buf *b, const char *name, cx_vec *v) {
  if (!v->n) return cx_buf_printf(b, ",\"%s\":null", name);
  qsort(v->v, v->n, sizeof *v->v, cmp_i64);
  double m = v->n % 2 ? (double)v->v[v->n / 2] : ((double)v->v[v->n / 2 - 1] + (double)v->v[v->n / 2]) / 2;
  return cx_buf_printf(b, ",\"%s\":%.3f", name, m / 1000);
}

typedef struct {
  int64_t id, n;
  char name[CASES_MAX_NAME + 1];
} cause;

static int cmp_cause(const void *a, const void *b) {
  const cause *x = a, *y = b;
  if (x->n != y->n) return x->n > y->n ? -1 : 1;
  return strcmp(x->name, y->name);
}

/* The first NPS score in a scores text ("0:q:9;…"), -1 when none. */
static int first_nps(const char *s) {
  while (s && s[0] && s[1]) {
    const char *c = strchr(s + 2, ':'), *end = c ? strchr(c, ';') : NULL;
    if (!end) return -1;
    if (s[0] == '0') return atoi(c + 1);
    s = end + 1;
  }
  return -1;
}

/* The NPS of the customer's first complete answer to survey received
 * at or after since; -1 when none. */
static int follow_up_nps(cases *c, sqlite3_stmt *fu, int64_t survey, int64_t since, int64_t customer) {
  sqlite3_bind_int64(fu, 1, survey);
  sqlite3_bind_int64(fu, 2, since);
  int nps = -1;
  while (nps < 0 && sqlite3_step(fu) == SQLITE_ROW) {
    int64_t who = sqlite3_column_int64(fu, 0);
    if (c->pr) {
      int64_t canon = profile_canonical(c->pr, who);
      if (canon) who = canon;
    }
    if (who == customer) nps = first_nps((const char *)sqlite3_column_text(fu, 1));
  }
  sqlite3_reset(fu);
  return nps;
}

cx_err cases_metrics(cases *c, int64_t from, int64_t to, int64_t unit, const gv_principal *p, cx_buf *out,
                     analytics_error *err) {
  if (to <= from) return analytics_refuse(err, "invalid_parameter", "to", "to must be after from.");
  sqlite3 *db = store_reader_get(c->st);
  cx_err rc = CX_OK;
  if (unit && (p->unit_id == GV_ALL_UNITS ? !cs_unit_exists(db, unit) : cs_in_subtree(db, p->unit_id, unit) != 1))
    rc = analytics_refuse(err, "unknown_unit", "unit", "unit must be the id of a unit you may see.");
  sqlite3_stmt *st = NULL, *fu = NULL;
  if (!rc && (sqlite3_prepare_v2(db, "SELECT c.status, c.opened_at, c.first_response_at, c.resolved_at, c.closed_at,"
                                     " c.first_response_due_at, c.resolution_due_at, c.root_cause_id, rc.name, c.nps,"
                                     " c.follow_up_survey_id, c.customer_id FROM cases c"
                                     " LEFT JOIN root_causes rc ON rc.id = c.root_cause_id"
                                     " WHERE c.opened_at >= ?1 AND c.opened_at < ?2"
                                     " AND (?3 = 0 OR c.unit_id IN (" CS_SUBTREE("?3") "))"
                                     " AND (?4 = 0 OR c.unit_id IN (" CS_SUBTREE("?4") "))",
                                 -1, &st, NULL) ||
              sqlite3_prepare_v2(db, "SELECT customer_id, scores FROM responses WHERE survey_id = ?1 AND received_at >= ?2"
                                     " AND complete = 1 AND replaced_by IS NULL ORDER BY id", -1, &fu, NULL)))
    rc = CX_EDB;
  cx_vec first = {0}, resolve = {0};
  cause *causes = rc ? NULL : cx_calloc(MAX_CAUSES, sizeof *causes);
  if (!rc && !causes) rc = CX_ENOMEM;
  size_t ncauses = 0;
  int64_t n = 0, open = 0, overdue = 0, settled = 0, met = 0, with_cause = 0, detractors = 0, answered = 0, recovered = 0;
  int64_t now = cx_now_ms();
  if (!rc) {
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    sqlite3_bind_int64(st, 3, p->unit_id);
    sqlite3_bind_int64(st, 4, unit);
  }
  while (!rc && sqlite3_step(st) == SQLITE_ROW) {
    n++;
    const char *status = (const char *)sqlite3_column_text(st, 0);
    int64_t opened = sqlite3_column_int64(st, 1), fr_due = sqlite3_column_int64(st, 5), res_due = sqlite3_column_int64(st, 6);
    int has_fr = sqlite3_column_type(st, 2) != SQLITE_NULL, resolved = sqlite3_column_type(st, 3) != SQLITE_NULL;
    int64_t fr = sqlite3_column_int64(st, 2), res = sqlite3_column_int64(st, 3);
    int is_open = !strcmp(status, "new") || !strcmp(status, "open") || !strcmp(status, "waiting");
    if (has_fr) rc = cx_vec_push(&first, fr - opened);
    if (!rc && resolved) rc = cx_vec_push(&resolve, res - opened);
    if (is_open) {
      open++;
      int64_t due = has_fr ? res_due : fr_due;
      if (due <= now) overdue++;
    }
    /* settled: resolved, or past a due time already */
    if (resolved || (is_open && ((!has_fr && fr_due <= now) || res_due <= now))) {
      settled++;
      if (resolved && has_fr && fr <= fr_due && res <= res_due) met++;
    }
    if (sqlite3_column_type(st, 7) != SQLITE_NULL) {
      with_cause++;
      int64_t id = sqlite3_column_int64(st, 7);
      size_t k = 0;
      while (k < ncauses && causes[k].id != id) k++;
      if (k == ncauses && ncauses < MAX_CAUSES) {
        causes[ncauses].id = id;
        const char *nm = (const char *)sqlite3_column_text(st, 8);
        snprintf(causes[ncauses].name, sizeof causes[ncauses].name, "%s", nm ? nm : "");
        ncauses++;
      }
      if (k < ncauses) causes[k].n++;
    }
    if (sqlite3_column_type(st, 9) != SQLITE_NULL && sqlite3_column_int(st, 9) <= 6) {
      detractors++;
      if (sqlite3_column_type(st, 10) != SQLITE_NULL && sqlite3_column_type(st, 4) != SQLITE_NULL) {
        int nps = follow_up_nps(c, fu, sqlite3_column_int64(st, 10), sqlite3_column_int64(st, 4),
                                sqlite3_column_int64(st, 11));
        if (nps >= 0) answered++;
        if (nps >= 9) recovered++;
      }
    }
  }
  sqlite3_finalize(st);
  sqlite3_finalize(fu);
  store_reader_put(c->st, db);
  if (!rc) rc = cx_buf_puts(out, "{\"from\":");
  if (!rc) rc = cx_buf_json_time(out, from);
  if (!rc) rc = cx_buf_puts(out, ",\"to\":");
  if (!rc) rc = cx_buf_json_time(out, to);
  if (!rc) rc = unit ? cx_buf_printf(out, ",\"unit\":\"%lld\"", (long long)unit) : cx_buf_puts(out, ",\"unit\":null");
  if (!rc)
    rc = cx_buf_printf(out, ",\"cases\":%lld,\"open\":%lld,\"overdue\":%lld", (long long)n, (long long)open,
                       (long long)overdue);
  if (!rc) rc = put_median(out, "median_first_response_seconds", &first);
  if (!rc) rc = put_median(out, "median_resolution_seconds", &resolve);
  if (!rc) rc = cx_buf_printf(out, ",\"within_sla\":{\"settled\":%lld,\"met\":%lld,\"percent\":", (long long)settled,
                              (long long)met);
  if (!rc) rc = settled ? cx_buf_printf(out, "%.2f}", 100.0 * (double)met / (double)settled) : cx_buf_puts(out, "null}");
  if (!rc) rc = cx_buf_puts(out, ",\"root_causes\":[");
  if (!rc && ncauses) qsort(causes, ncauses, sizeof *causes, cmp_cause);
  int64_t cum = 0;
  for (size_t k = 0; !rc && k < ncauses; k++) {
    cum += causes[k].n;
    rc = cx_buf_printf(out, "%s{\"id\":\"%lld\",\"name\":", k ? "," : "", (long long)causes[k].id);
    if (!rc) rc = cx_buf_json_str(out, causes[k].name, strlen(causes[k].name));
    if (!rc)
      rc = cx_buf_printf(out, ",\"count\":%lld,\"percent\":%.2f,\"cumulative_percent\":%.2f}", (long long)causes[k].n,
                         100.0 * (double)causes[k].n / (double)with_cause, 100.0 * (double)cum / (double)with_cause);
  }
  if (!rc)
    rc = cx_buf_printf(out, "],\"recovery\":{\"detractor_cases\":%lld,\"answered\":%lld,\"recovered\":%lld,\"rate\":",
                       (long long)detractors, (long long)answered, (long long)recovered);
  if (!rc) rc = answered ? cx_buf_printf(out, "%.4f}}", (double)recovered / (double)answered) : cx_buf_puts(out, "null}}");
  cx_vec_free(&first);
  cx_vec_free(&resolve);
  cx_free(causes);
  return rc;
}
