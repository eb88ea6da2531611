/* initiatives.c - CX improvement initiatives (initiatives.h,
 * docs/initiatives.md). Stored in the table initiatives (migration 13);
 * the KPI is measured through the targets' scope resolution and test
 * (gv_kpi_compare_windows), the root causes' cases with SQL over cases,
 * the themes with feedback_themes. Writes are store jobs; reads use a
 * reader. */
#include "initiatives.h"
#include "rows.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define SKEW_MS 60000LL /* a time "now" may be ahead of the server's clock by this much */

enum {
  ST_IDEA = GV_INITIATIVE_IDEA,
  ST_PLANNED = GV_INITIATIVE_PLANNED,
  ST_PROGRESS = GV_INITIATIVE_IN_PROGRESS,
  ST_DONE = GV_INITIATIVE_DONE,
  ST_DROPPED = GV_INITIATIVE_DROPPED,
  ST_COUNT
};
static const char *const status_names[ST_COUNT] = {"idea", "planned", "in_progress", "done", "dropped"};
static const double impacts[] = {0.25, 0.5, 1, 2, 3};

typedef struct {
  int64_t id, created_at, updated_at;
  gv_initiative_spec s;
} ini_row;

/* What a request gave, beyond the values (the status rules need it). */
typedef struct {
  int status, started, done;
} ini_given;

double gv_rice_score(int64_t reach, double impact, double confidence, double effort) {
  if (reach < 0 || isnan(impact) || isnan(confidence) || isnan(effort) || effort <= 0) return NAN;
  return (double)reach * impact * (confidence / 100.0) / effort;
}

static double score_of(const gv_initiative_spec *s) { return gv_rice_score(s->reach, s->impact, s->confidence, s->effort); }

/* ---- checking a request (no store) ---- */

static const char *const members[] = {"title",  "description", "owner",       "status",     "kpi",
                                      "scope",  "scope_value", "expected_change", "reach", "impact",
                                      "confidence", "effort",  "root_causes", "themes",     "measure_days",
                                      "started_at", "done_at", NULL};

static int text_ok(const cJSON *v, size_t max, int empty_ok) {
  if (!cJSON_IsString(v)) return 0;
  size_t n = strlen(v->valuestring);
  return (empty_ok || n) && n <= max && cx_utf8_valid(v->valuestring, n);
}

/* A number member: null clears it (*out = NAN) when nullable. */
static int number_in(const cJSON *v, double lo, double hi, int lo_open, double *out) {
  if (cJSON_IsNull(v)) return *out = NAN, 1;
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return 0;
  double d = v->valuedouble;
  if (d > hi || d < lo || (lo_open && d <= lo)) return 0;
  return *out = d, 1;
}

static int time_of(const cJSON *v, int64_t *out) {
  if (cJSON_IsNull(v)) return *out = 0, 1;
  return cJSON_IsString(v) && !cx_time_parse(v->valuestring, strlen(v->valuestring), out) && *out > 0;
}

static cx_err ini_check(const cJSON *req, int partial, gv_initiative_spec *spec, ini_given *g, analytics_error *err) {
  if (!cJSON_IsObject(req)) return analytics_refuse(err, "invalid_field", NULL, "The body must be a JSON object.");
  for (const cJSON *m = req->child; m; m = m->next)
    if (gv_name_index(members, (int)(sizeof members / sizeof *members) - 1, m->string) < 0)
      return analytics_refuse(err, "invalid_field", m->string ? m->string : "",
                              "%.60s is not a member of an initiative.", m->string ? m->string : "(unnamed)");
  gv_initiative_spec s;
  if (partial) s = *spec;
  else {
    memset(&s, 0, sizeof s);
    s.expected = s.impact = s.confidence = s.effort = NAN;
    s.reach = -1;
    s.status = ST_IDEA;
    s.measure_days = GV_INITIATIVE_DEFAULT_DAYS;
  }
  memset(g, 0, sizeof *g);
  const cJSON *v;
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "title")) || !partial) {
    if (!text_ok(v, GV_INITIATIVE_TITLE_MAX, 0))
      return analytics_refuse(err, "invalid_field", "title", "title must be text of 1 to %d bytes.",
                              GV_INITIATIVE_TITLE_MAX);
    snprintf(s.title, sizeof s.title, "%s", v->valuestring);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "description"))) {
    if (cJSON_IsNull(v)) s.description[0] = 0;
    else if (!text_ok(v, GV_INITIATIVE_TEXT_MAX, 1))
      return analytics_refuse(err, "invalid_field", "description", "description must be text of at most %d bytes.",
                              GV_INITIATIVE_TEXT_MAX);
    else snprintf(s.description, sizeof s.description, "%s", v->valuestring);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "owner")) || !partial) {
    if (!gv_json_id(v, &s.owner)) return analytics_refuse(err, "invalid_field", "owner", "owner must be a user's id.");
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "status"))) {
    int k = cJSON_IsString(v) ? gv_name_index(status_names, ST_COUNT, v->valuestring) : -1;
    if (k < 0)
      return analytics_refuse(err, "invalid_field", "status", "status must be idea, planned, in_progress, done or dropped.");
    s.status = k, g->status = 1;
  } else if (!partial) {
    g->status = 1;
  }
  /* the KPI: kpi null unlinks it; scope and scope_value need one */
  const cJSON *kv = cJSON_GetObjectItemCaseSensitive(req, "kpi");
  int scope_in = cJSON_GetObjectItemCaseSensitive(req, "scope") || cJSON_GetObjectItemCaseSensitive(req, "scope_value");
  if (cJSON_IsNull(kv)) {
    if (scope_in) {
      const cJSON *sv = cJSON_GetObjectItemCaseSensitive(req, "scope");
      const cJSON *vv = cJSON_GetObjectItemCaseSensitive(req, "scope_value");
      if ((sv && !cJSON_IsNull(sv)) || (vv && !cJSON_IsNull(vv)))
        return analytics_refuse(err, "invalid_field", "scope", "A scope needs a kpi.");
    }
    s.has_kpi = 0;
    memset(&s.k, 0, sizeof s.k);
  } else if (kv || (scope_in && s.has_kpi)) {
    cx_err rc = gv_kpi_scope_check(req, partial && s.has_kpi, &s.k, err);
    if (rc) return rc;
    s.has_kpi = 1;
  } else if (scope_in) {
    return analytics_refuse(err, "invalid_field", "scope", "A scope needs a kpi.");
  }
  if (!s.has_kpi) s.expected = NAN;
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "expected_change"))) {
    if (!cJSON_IsNull(v) && !s.has_kpi)
      return analytics_refuse(err, "invalid_field", "expected_change", "expected_change needs a kpi: the change of which KPI.");
    double lo = 0, hi = 0;
    if (s.has_kpi) gv_kpi_range(s.k.kpi, &lo, &hi);
    if (!number_in(v, -(hi - lo), hi - lo, 0, &s.expected))
      return analytics_refuse(err, "invalid_field", "expected_change",
                              "expected_change must be a number from %g to %g: the change of the KPI expected.",
                              -(hi - lo), hi - lo);
  } else if (s.has_kpi && !isnan(s.expected)) { /* another KPI: the change must still fit it */
    double lo, hi;
    gv_kpi_range(s.k.kpi, &lo, &hi);
    if (fabs(s.expected) > hi - lo)
      return analytics_refuse(err, "invalid_field", "expected_change", "expected_change must be from %g to %g for %s.",
                              -(hi - lo), hi - lo, gv_kpi_name(s.k.kpi));
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "reach"))) {
    double d;
    if (!number_in(v, 0, (double)GV_INITIATIVE_REACH_MAX, 0, &d) || (!isnan(d) && d != floor(d)))
      return analytics_refuse(err, "invalid_field", "reach",
                              "reach must be a whole number of customers a quarter, from 0 to %lld.",
                              (long long)GV_INITIATIVE_REACH_MAX);
    s.reach = isnan(d) ? -1 : (int64_t)d;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "impact"))) {
    int ok = cJSON_IsNull(v);
    for (size_t i = 0; !ok && i < sizeof impacts / sizeof *impacts; i++) ok = cJSON_IsNumber(v) && v->valuedouble == impacts[i];
    if (!ok)
      return analytics_refuse(err, "invalid_field", "impact",
                              "impact must be 3 (massive), 2 (high), 1 (medium), 0.5 (low) or 0.25 (minimal).");
    s.impact = cJSON_IsNull(v) ? NAN : v->valuedouble;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "confidence")) && !number_in(v, 0, 100, 0, &s.confidence))
    return analytics_refuse(err, "invalid_field", "confidence", "confidence must be a percentage from 0 to 100.");
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "effort")) && !number_in(v, 0, GV_INITIATIVE_EFFORT_MAX, 1, &s.effort))
    return analytics_refuse(err, "invalid_field", "effort", "effort must be person-months above 0 and at most %g.",
                            GV_INITIATIVE_EFFORT_MAX);
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "root_causes"))) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > GV_INITIATIVE_LINKS_MAX)
      return analytics_refuse(err, "invalid_field", "root_causes", "root_causes must be a list of at most %d root cause ids.",
                              GV_INITIATIVE_LINKS_MAX);
    s.nroots = 0;
    for (const cJSON *x = v->child; x; x = x->next) {
      int64_t id;
      if (!gv_json_id(x, &id)) return analytics_refuse(err, "invalid_field", "root_causes", "root_causes must hold root cause ids.");
      int dup = 0;
      for (size_t i = 0; i < s.nroots; i++) dup |= s.roots[i] == id;
      if (!dup) s.roots[s.nroots++] = id;
    }
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "themes"))) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > GV_INITIATIVE_LINKS_MAX)
      return analytics_refuse(err, "invalid_field", "themes", "themes must be a list of at most %d theme names.",
                              GV_INITIATIVE_LINKS_MAX);
    s.nthemes = 0;
    for (const cJSON *x = v->child; x; x = x->next) {
      if (!text_ok(x, GV_INITIATIVE_THEME_MAX, 0))
        return analytics_refuse(err, "invalid_field", "themes", "themes must hold theme names (GET /api/v1/feedback/themes).");
      int dup = 0;
      for (size_t i = 0; i < s.nthemes; i++) dup |= !strcmp(s.themes[i], x->valuestring);
      if (!dup) snprintf(s.themes[s.nthemes++], GV_INITIATIVE_THEME_MAX + 1, "%s", x->valuestring);
    }
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "measure_days"))) {
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 1 ||
        v->valuedouble > GV_INITIATIVE_MAX_DAYS)
      return analytics_refuse(err, "invalid_field", "measure_days", "measure_days must be a whole number from 1 to %d.",
                              GV_INITIATIVE_MAX_DAYS);
    s.measure_days = (int)v->valuedouble;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "started_at"))) {
    if (!time_of(v, &s.started_at))
      return analytics_refuse(err, "invalid_field", "started_at", "started_at must be an ISO-8601 time or null.");
    g->started = 1;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "done_at"))) {
    if (!time_of(v, &s.done_at))
      return analytics_refuse(err, "invalid_field", "done_at", "done_at must be an ISO-8601 time or null.");
    g->done = 1;
  }
  *spec = s;
  return CX_OK;
}

/* The status rules (initiatives.h) at now, then the times checked. */
static cx_err settle_times(gv_initiative_spec *s, const ini_given *g, int64_t now, analytics_error *err) {
  if (g->status) {
    if (s->status == ST_IDEA || s->status == ST_PLANNED) {
      if (!g->started) s->started_at = 0;
      if (!g->done) s->done_at = 0;
    } else if (s->status == ST_PROGRESS) {
      if (!s->started_at && !g->started) s->started_at = now;
      if (!g->done) s->done_at = 0;
    } else if (s->status == ST_DONE) {
      if (!s->done_at && !g->done) s->done_at = now;
      if (!s->started_at && !g->started) s->started_at = s->done_at;
    }
  }
  if ((s->status == ST_IDEA || s->status == ST_PLANNED) && (s->started_at || s->done_at))
    return analytics_refuse(err, "invalid_field", s->started_at ? "started_at" : "done_at",
                            "An initiative that is an idea or planned has not started: started_at and done_at must be null.");
  if (s->status == ST_PROGRESS && s->done_at)
    return analytics_refuse(err, "invalid_field", "done_at", "An initiative in progress is not done: done_at must be null.");
  if ((s->status == ST_PROGRESS || s->status == ST_DONE) && !s->started_at)
    return analytics_refuse(err, "invalid_field", "started_at", "An initiative in progress or done needs started_at.");
  if (s->status == ST_DONE && !s->done_at)
    return analytics_refuse(err, "invalid_field", "done_at", "A done initiative needs done_at.");
  if (s->done_at && !s->started_at)
    return analytics_refuse(err, "invalid_field", "started_at", "done_at needs started_at.");
  if (s->started_at > now + SKEW_MS || s->done_at > now + SKEW_MS)
    return analytics_refuse(err, "invalid_field", s->done_at > now + SKEW_MS ? "done_at" : "started_at",
                            "started_at and done_at cannot be in the future.");
  if (s->done_at && s->done_at < s->started_at)
    return analytics_refuse(err, "invalid_field", "done_at", "done_at cannot be before started_at.");
  return CX_OK;
}

cx_err gv_initiative_check(const cJSON *req, int partial, gv_initiative_spec *spec, int64_t now, analytics_error *err) {
  gv_initiative_spec s = *spec;
  ini_given g;
  cx_err rc = ini_check(req, partial, &s, &g, err);
  if (!rc) rc = settle_times(&s, &g, now, err);
  if (!rc) *spec = s;
  return rc;
}

/* ---- the store ---- */

#define ROW_COLS                                                                                                   \
  "id, title, description, owner_id, status, kpi, scope_type, scope_value, expected_change, reach, impact,"        \
  " confidence, effort, root_causes, themes, measure_days, COALESCE(started_at, 0), COALESCE(done_at, 0),"         \
  " created_at, updated_at"

static double col_num(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static const char *col_text(sqlite3_stmt *st, int i) {
  const char *s = (const char *)sqlite3_column_text(st, i);
  return s ? s : "";
}

/* gv_rows_load's reader: one row into *row (a ini_row). */
static void row_read(sqlite3_stmt *st, void *row) {
  ini_row *r = row;
  memset(r, 0, sizeof *r);
  gv_initiative_spec *s = &r->s;
  r->id = sqlite3_column_int64(st, 0);
  snprintf(s->title, sizeof s->title, "%s", col_text(st, 1));
  snprintf(s->description, sizeof s->description, "%s", col_text(st, 2));
  s->owner = sqlite3_column_int64(st, 3);
  int k = gv_name_index(status_names, ST_COUNT, col_text(st, 4));
  s->status = k < 0 ? ST_IDEA : k;
  if (sqlite3_column_type(st, 5) != SQLITE_NULL) { /* the KPI, as stored by this module */
    cJSON *q = cJSON_CreateObject();
    if (q) {
      cJSON_AddStringToObject(q, "kpi", col_text(st, 5));
      cJSON_AddStringToObject(q, "scope", col_text(st, 6));
      if (sqlite3_column_type(st, 7) != SQLITE_NULL) cJSON_AddStringToObject(q, "scope_value", col_text(st, 7));
      analytics_error err;
      s->has_kpi = !gv_kpi_scope_check(q, 0, &s->k, &err);
      cJSON_Delete(q);
    }
  }
  s->expected = col_num(st, 8);
  s->reach = sqlite3_column_type(st, 9) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 9);
  s->impact = col_num(st, 10), s->confidence = col_num(st, 11), s->effort = col_num(st, 12);
  cJSON *a = cJSON_Parse(col_text(st, 13));
  for (const cJSON *x = a ? a->child : NULL; x && s->nroots < GV_INITIATIVE_LINKS_MAX; x = x->next)
    if (cJSON_IsNumber(x)) s->roots[s->nroots++] = (int64_t)x->valuedouble;
  cJSON_Delete(a);
  a = cJSON_Parse(col_text(st, 14));
  for (const cJSON *x = a ? a->child : NULL; x && s->nthemes < GV_INITIATIVE_LINKS_MAX; x = x->next)
    if (cJSON_IsString(x)) snprintf(s->themes[s->nthemes++], GV_INITIATIVE_THEME_MAX + 1, "%s", x->valuestring);
  cJSON_Delete(a);
  s->measure_days = sqlite3_column_int(st, 15);
  s->started_at = sqlite3_column_int64(st, 16);
  s->done_at = sqlite3_column_int64(st, 17);
  r->created_at = sqlite3_column_int64(st, 18);
  r->updated_at = sqlite3_column_int64(st, 19);
}

/* Every initiative (id 0) or one: *rows (caller frees), *n. */
static cx_err rows_load(sqlite3 *db, int64_t id, ini_row **rows, size_t *n) {
  void *r;
  cx_err rc = gv_rows_load(db, "SELECT " ROW_COLS " FROM initiatives WHERE ?1 = 0 OR id = ?1 ORDER BY id LIMIT ?2", id,
                           GV_INITIATIVE_MAX + 1, sizeof **rows, row_read, &r, n);
  *rows = r;
  return rc;
}

/* The cases opened in [from, to) whose root cause is one of ids or below
 * one (distinct); -1 on a store error. */
static int64_t root_cases(sqlite3 *db, const int64_t *ids, size_t n, int64_t from, int64_t to) {
  if (!n) return 0;
  char list[GV_INITIATIVE_LINKS_MAX * 24 + 8];
  size_t len = 0;
  list[len++] = '[';
  for (size_t i = 0; i < n; i++) len += (size_t)snprintf(list + len, sizeof list - len, "%s%lld", i ? "," : "", (long long)ids[i]);
  snprintf(list + len, sizeof list - len, "]");
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "WITH RECURSIVE sub(id) AS (SELECT value FROM json_each(?1) UNION"
                             " SELECT r.id FROM root_causes r JOIN sub ON r.parent_id = sub.id)"
                             " SELECT count(*) FROM cases WHERE root_cause_id IN sub AND opened_at >= ?2 AND opened_at < ?3",
                         -1, &st, NULL))
    return -1;
  sqlite3_bind_text(st, 1, list, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, from);
  sqlite3_bind_int64(st, 3, to);
  int64_t c = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  return c;
}

/* The themes of the last GV_INITIATIVE_THEME_DAYS (feedback_themes):
 * *out (caller deletes) or NULL when feedback cannot say. */
static cx_err themes_load(gv_targets *t, int64_t now, cJSON **out) {
  *out = NULL;
  feedback *fb = gv_targets_feedback(t);
  if (!fb) return CX_OK;
  cx_buf b;
  cx_buf_init(&b, 16 << 20);
  analytics_error err;
  cx_err rc = feedback_themes(fb, 0, now - GV_INITIATIVE_THEME_DAYS * DAY_MS, now + 1, &b, &err);
  if (!rc && !(*out = cJSON_ParseWithLength(b.p, b.len))) rc = CX_ENOMEM;
  cx_buf_free(&b);
  return rc;
}

/* What names something exists: an enabled owner, the KPI's scope, the
 * root causes and the themes (in the catalogue). */
static cx_err check_refs(gv_targets *t, const gv_initiative_spec *s, const cJSON *req, int partial,
                         analytics_error *err) {
  /* a PATCH checks what it gives: an owner who has left since, say, does
   * not block moving the initiative along */
#define GIVEN(m) (!partial || cJSON_GetObjectItemCaseSensitive(req, m))
  store *st = gv_targets_store(t);
  sqlite3 *db = store_reader_get(st);
  cx_err rc = CX_OK;
  char disabled[8];
  if (GIVEN("owner") &&
      (!gv_sql_text(db, "SELECT disabled FROM users WHERE id = ?1", s->owner, NULL, disabled, sizeof disabled) || strcmp(disabled, "0")))
    rc = analytics_refuse(err, "invalid_field", "owner", "owner must be the id of an enabled user (GET /api/v1/users).");
  for (size_t i = 0; !rc && GIVEN("root_causes") && i < s->nroots; i++)
    if (!gv_sql_text(db, "SELECT 1 FROM root_causes WHERE id = ?1", s->roots[i], NULL, NULL, 0))
      rc = analytics_refuse(err, "invalid_field", "root_causes", "No root cause has the id %lld (GET /api/v1/root-causes).",
                            (long long)s->roots[i]);
  store_reader_put(st, db);
  if (!rc && s->has_kpi && (GIVEN("kpi") || GIVEN("scope") || GIVEN("scope_value"))) rc = gv_kpi_scope_refs(t, &s->k, err);
  if (!rc && s->nthemes && GIVEN("themes")) {
    cJSON *th;
    if ((rc = themes_load(t, cx_now_ms(), &th))) return rc;
    const cJSON *cat = cJSON_GetObjectItemCaseSensitive(th, "catalogue");
    for (size_t i = 0; !rc && i < s->nthemes; i++) {
      int found = 0;
      for (const cJSON *x = cat ? cat->child : NULL; x && !found; x = x->next)
        found = cJSON_IsString(x) && !strcmp(x->valuestring, s->themes[i]);
      if (!found)
        rc = analytics_refuse(err, "invalid_field", "themes", "%.60s is not a theme of the catalogue (GET /api/v1/feedback/themes).",
                              s->themes[i]);
    }
    cJSON_Delete(th);
  }
  return rc;
#undef GIVEN
}

/* ---- JSON ---- */

/* The stored members (no braces): the audit's form, and the start of the
 * full one. */
static cx_err stored_members(gv_targets *t, sqlite3 *db, const ini_row *r, cx_buf *b) {
  const gv_initiative_spec *s = &r->s;
  char owner[256];
  gv_sql_text(db, "SELECT name FROM users WHERE id = ?1", s->owner, NULL, owner, sizeof owner);
  cx_err rc = cx_buf_printf(b, "\"id\":\"%lld\",\"title\":", (long long)r->id);
  if (!rc) rc = gv_put_str(b, s->title);
  if (!rc) rc = cx_buf_puts(b, ",\"description\":");
  if (!rc) rc = gv_put_str(b, s->description);
  if (!rc) rc = cx_buf_printf(b, ",\"owner\":\"%lld\",\"owner_name\":", (long long)s->owner);
  if (!rc) rc = owner[0] ? gv_put_str(b, owner) : cx_buf_puts(b, "null");
  if (!rc) rc = cx_buf_printf(b, ",\"status\":\"%s\"", status_names[s->status]);
  if (!rc && s->has_kpi) {
    char label[256];
    gv_kpi_scope_label(db, &s->k, label, sizeof label);
    rc = cx_buf_printf(b, ",\"kpi\":\"%s\",\"kpi_label\":\"%s\",\"scope\":\"%s\",\"scope_value\":", gv_kpi_name(s->k.kpi),
                       gv_kpi_label(s->k.kpi), gv_scope_name(s->k.scope));
    if (!rc) rc = s->k.scope_value[0] ? gv_put_str(b, s->k.scope_value) : cx_buf_puts(b, "null");
    if (!rc) rc = cx_buf_puts(b, ",\"scope_label\":");
    if (!rc) rc = gv_put_str(b, label);
    if (!rc) rc = cx_buf_printf(b, ",\"direction\":\"%s\"", s->k.kpi == GV_KPI_CHURN ? "lower" : "higher");
  } else if (!rc) {
    rc = cx_buf_puts(b, ",\"kpi\":null,\"kpi_label\":null,\"scope\":null,\"scope_value\":null,\"scope_label\":null,"
                        "\"direction\":null");
  }
  if (!rc) rc = cx_buf_puts(b, ",\"expected_change\":");
  if (!rc) rc = gv_put_num(b, s->expected);
  if (!rc) rc = cx_buf_puts(b, ",\"reach\":");
  if (!rc) rc = s->reach < 0 ? cx_buf_puts(b, "null") : cx_buf_printf(b, "%lld", (long long)s->reach);
  if (!rc) rc = cx_buf_puts(b, ",\"impact\":");
  if (!rc) rc = gv_put_num(b, s->impact);
  if (!rc) rc = cx_buf_puts(b, ",\"confidence\":");
  if (!rc) rc = gv_put_num(b, s->confidence);
  if (!rc) rc = cx_buf_puts(b, ",\"effort\":");
  if (!rc) rc = gv_put_num(b, s->effort);
  if (!rc) rc = cx_buf_puts(b, ",\"score\":");
  if (!rc) rc = gv_put_num(b, score_of(s));
  if (!rc) rc = cx_buf_printf(b, ",\"measure_days\":%d,\"started_at\":", s->measure_days);
  if (!rc) rc = gv_put_time(b, s->started_at);
  if (!rc) rc = cx_buf_puts(b, ",\"done_at\":");
  if (!rc) rc = gv_put_time(b, s->done_at);
  if (!rc) rc = cx_buf_puts(b, ",\"created_at\":");
  if (!rc) rc = gv_put_time(b, r->created_at);
  if (!rc) rc = cx_buf_puts(b, ",\"updated_at\":");
  if (!rc) rc = gv_put_time(b, r->updated_at);
  return rc;
}

static cx_err put_window(cx_buf *b, const char *name, int64_t from, int64_t to, double value, uint64_t n) {
  cx_err rc = cx_buf_printf(b, ",\"%s\":{\"from\":", name);
  if (!rc) rc = cx_buf_json_time(b, from);
  if (!rc) rc = cx_buf_puts(b, ",\"to\":");
  if (!rc) rc = cx_buf_json_time(b, to);
  if (!rc) rc = cx_buf_puts(b, ",\"value\":");
  if (!rc) rc = gv_put_num(b, value);
  if (!rc) rc = cx_buf_printf(b, ",\"n\":%llu}", (unsigned long long)n);
  return rc;
}

/* "measurement": the before/after of a started initiative (no leading
 * comma). */
static cx_err measurement(gv_targets *t, sqlite3 *db, const gv_initiative_spec *s, int64_t now, cx_buf *b) {
  cx_err rc = cx_buf_puts(b, "\"measurement\":");
  if (rc) return rc;
  if (!s->started_at) return cx_buf_puts(b, "{\"verdict\":\"not_started\",\"complete\":false}");
  int64_t d = (int64_t)s->measure_days * DAY_MS;
  int64_t bfrom = s->started_at - d, bto = s->started_at;
  int64_t afrom = s->done_at ? s->done_at : s->started_at, ato = afrom + d < now ? afrom + d : now;
  int early = ato <= afrom;
  gv_kpi_compare c = {.before = NAN, .after = NAN, .change = NAN, .z = NAN, .p = NAN};
  if (s->has_kpi && !early && (rc = gv_kpi_compare_windows(t, db, &s->k, bfrom, bto, afrom, ato, &c))) return rc;
  const char *verdict = NULL;
  int significant = !isnan(c.p) && c.p < 0.05;
  if (!s->has_kpi) verdict = "no_kpi";
  else if (early) verdict = "too_early";
  else if (c.n_before < 2 || c.n_after < 2 || isnan(c.change)) verdict = "not_enough_data";
  else if (isnan(c.p) && c.change != 0) significant = 1; /* no spread on either side: the change is certain */
  if (!verdict) verdict = !significant ? "no_significant_change"
                        : (c.change > 0) == (s->k.kpi != GV_KPI_CHURN) ? "improved" : "worse";
  rc = cx_buf_printf(b, "{\"verdict\":\"%s\",\"complete\":%s", verdict, !early && afrom + d <= now ? "true" : "false");
  if (!rc) rc = put_window(b, "before", bfrom, bto, c.before, c.n_before);
  if (!rc && early) rc = cx_buf_puts(b, ",\"after\":null");
  else if (!rc) rc = put_window(b, "after", afrom, ato, c.after, c.n_after);
  if (!rc) rc = cx_buf_puts(b, ",\"change\":");
  if (!rc) rc = gv_put_num(b, c.change);
  if (!rc) rc = cx_buf_puts(b, ",\"z\":");
  if (!rc) rc = gv_put_num(b, c.z);
  if (!rc) rc = cx_buf_puts(b, ",\"p_value\":");
  if (!rc) rc = gv_put_num(b, c.p);
  if (!rc) rc = cx_buf_printf(b, ",\"significant\":%s,\"expected_change\":", significant ? "true" : "false");
  if (!rc) rc = gv_put_num(b, s->expected);
  if (!rc) rc = cx_buf_puts(b, ",\"root_cause_cases\":");
  if (!rc && !s->nroots) rc = cx_buf_puts(b, "null");
  else if (!rc) {
    /* cases counted before the closed loop began would read as none */
    int64_t since = 0;
    if (store_step_named(db, "SELECT coalesce(min(opened_at), 0) FROM cases", NULL, 0, &since)) return CX_EDB;
    int recorded = since > 0 && since <= bfrom;
    int64_t before = recorded ? root_cases(db, s->roots, s->nroots, bfrom, bto) : 0;
    int64_t after = early ? 0 : root_cases(db, s->roots, s->nroots, afrom, ato);
    if (before < 0 || after < 0) return CX_EDB;
    double adays = (double)(ato - afrom) / (double)DAY_MS;
    rc = cx_buf_puts(b, "{\"before\":");
    if (!rc) rc = recorded ? cx_buf_printf(b, "%lld", (long long)before) : cx_buf_puts(b, "null");
    if (!rc) rc = early ? cx_buf_puts(b, ",\"after\":null") : cx_buf_printf(b, ",\"after\":%lld", (long long)after);
    if (!rc) rc = cx_buf_puts(b, ",\"before_per_week\":");
    if (!rc) rc = gv_put_num(b, recorded ? 7.0 * (double)before / (double)s->measure_days : NAN);
    if (!rc) rc = cx_buf_puts(b, ",\"after_per_week\":");
    if (!rc) rc = gv_put_num(b, early || adays < 1 ? NAN : 7.0 * (double)after / adays); /* a rate of minutes misleads */
    if (!rc) rc = cx_buf_puts(b, ",\"cases_since\":");
    if (!rc) rc = gv_put_time(b, since);
    if (!rc) rc = cx_buf_puts(b, "}");
  }
  if (!rc) rc = cx_buf_puts(b, "}");
  return rc;
}

/* The whole initiative (braces included), evidence and measurement at now. */
static cx_err full_json(gv_targets *t, sqlite3 *db, const ini_row *r, const cJSON *themes, int64_t now, cx_buf *b) {
  const gv_initiative_spec *s = &r->s;
  cx_err rc = cx_buf_puts(b, "{");
  if (!rc) rc = stored_members(t, db, r, b);
  if (!rc) rc = cx_buf_puts(b, ",\"root_causes\":[");
  for (size_t i = 0; !rc && i < s->nroots; i++) {
    char name[256];
    if (!gv_sql_text(db, "SELECT name FROM root_causes WHERE id = ?1", s->roots[i], NULL, name, sizeof name))
      snprintf(name, sizeof name, "(deleted root cause %lld)", (long long)s->roots[i]);
    int64_t n = root_cases(db, &s->roots[i], 1, now - (int64_t)s->measure_days * DAY_MS, now + 1);
    if (n < 0) return CX_EDB;
    rc = cx_buf_printf(b, "%s{\"id\":\"%lld\",\"name\":", i ? "," : "", (long long)s->roots[i]);
    if (!rc) rc = gv_put_str(b, name);
    if (!rc) rc = cx_buf_printf(b, ",\"cases\":%lld}", (long long)n);
  }
  if (!rc) rc = cx_buf_puts(b, "],\"themes\":[");
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(themes, "themes");
  for (size_t i = 0; !rc && i < s->nthemes; i++) {
    const cJSON *hit = NULL;
    for (const cJSON *x = list ? list->child : NULL; x && !hit; x = x->next) {
      const cJSON *nm = cJSON_GetObjectItemCaseSensitive(x, "name");
      if (cJSON_IsString(nm) && !strcmp(nm->valuestring, s->themes[i])) hit = x;
    }
    rc = cx_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
    if (!rc) rc = gv_put_str(b, s->themes[i]);
    const cJSON *vol = cJSON_GetObjectItemCaseSensitive(hit, "volume"), *sh = cJSON_GetObjectItemCaseSensitive(hit, "share");
    const cJSON *imp = cJSON_GetObjectItemCaseSensitive(hit, "nps_impact");
    if (!rc) rc = cx_buf_printf(b, ",\"volume\":%lld,\"share\":", cJSON_IsNumber(vol) ? (long long)vol->valuedouble : 0LL);
    if (!rc) rc = gv_put_num(b, cJSON_IsNumber(sh) ? sh->valuedouble : 0);
    if (!rc) rc = cx_buf_puts(b, ",\"nps_impact\":");
    if (!rc) rc = gv_put_num(b, cJSON_IsNumber(imp) ? imp->valuedouble : NAN);
    if (!rc) rc = cx_buf_puts(b, "}");
  }
  if (!rc) rc = cx_buf_puts(b, "],");
  if (!rc) rc = measurement(t, db, s, now, b);
  if (!rc) rc = cx_buf_puts(b, "}");
  return rc;
}

static int by_score(const void *a, const void *b) {
  const ini_row *x = a, *y = b;
  double sx = score_of(&x->s), sy = score_of(&y->s);
  if (isnan(sx) != isnan(sy)) return isnan(sx) ? 1 : -1;
  if (!isnan(sx) && sx != sy) return sx > sy ? -1 : 1;
  return x->id > y->id ? -1 : x->id < y->id;
}

/* 1 when initiative id (0: any) links a theme: only then are the themes
 * counted (feedback_themes reads every verbatim of 90 days). Takes and
 * gives back its own reader, as themes_load does. */
static int links_themes(gv_targets *t, int64_t id) {
  store *st = gv_targets_store(t);
  sqlite3 *db = store_reader_get(st);
  int yes = gv_sql_text(db, "SELECT 1 FROM initiatives WHERE (?1 = 0 OR id = ?1) AND themes != '[]' LIMIT 1", id, NULL,
                        NULL, 0);
  store_reader_put(st, db);
  return yes;
}

cx_err gv_initiatives_list(gv_targets *t, const char *status, int64_t owner, cx_buf *out, analytics_error *err) {
  int want = status ? gv_name_index(status_names, ST_COUNT, status) : -1;
  if (status && want < 0)
    return analytics_refuse(err, "invalid_parameter", "status", "status must be idea, planned, in_progress, done or dropped.");
  int64_t now = cx_now_ms();
  cJSON *themes = NULL;
  cx_err rc = links_themes(t, 0) ? themes_load(t, now, &themes) : CX_OK;
  if (rc) return rc;
  store *st = gv_targets_store(t);
  sqlite3 *db = store_reader_get(st);
  ini_row *rows;
  size_t n;
  rc = rows_load(db, 0, &rows, &n);
  if (!rc && n) qsort(rows, n, sizeof *rows, by_score);
  uint64_t count[ST_COUNT] = {0};
  if (!rc) rc = cx_buf_puts(out, "{\"initiatives\":[");
  for (size_t i = 0, k = 0; !rc && i < n; i++) {
    count[rows[i].s.status]++;
    if ((want >= 0 && rows[i].s.status != want) || (owner && rows[i].s.owner != owner)) continue;
    if (k++) rc = cx_buf_puts(out, ",");
    if (!rc) rc = full_json(t, db, &rows[i], themes, now, out);
  }
  if (!rc) rc = cx_buf_puts(out, "],\"summary\":{");
  for (int i = 0; !rc && i < ST_COUNT; i++)
    rc = cx_buf_printf(out, "%s\"%s\":%llu", i ? "," : "", status_names[i], (unsigned long long)count[i]);
  if (!rc) rc = cx_buf_puts(out, "}}");
  store_reader_put(st, db);
  cx_free(rows);
  cJSON_Delete(themes);
  return rc;
}

/* One initiative, whole (full) or as stored (the audit's form). */
static cx_err one_json(gv_targets *t, int64_t id, int full, cx_buf *out) {
  if (id <= 0) return CX_ENOTFOUND;
  if (!out) return CX_OK;
  int64_t now = cx_now_ms();
  cJSON *themes = NULL;
  cx_err rc = full && links_themes(t, id) ? themes_load(t, now, &themes) : CX_OK;
  if (rc) return rc;
  store *st = gv_targets_store(t);
  sqlite3 *db = store_reader_get(st);
  ini_row *rows;
  size_t n;
  rc = rows_load(db, id, &rows, &n);
  if (!rc && !n) rc = CX_ENOTFOUND;
  if (!rc && full) rc = full_json(t, db, &rows[0], themes, now, out);
  else if (!rc) {
    rc = cx_buf_puts(out, "{");
    if (!rc) rc = stored_members(t, db, &rows[0], out);
    if (!rc) rc = cx_buf_puts(out, ",\"root_causes\":[");
    for (size_t i = 0; !rc && i < rows[0].s.nroots; i++)
      rc = cx_buf_printf(out, "%s\"%lld\"", i ? "," : "", (long long)rows[0].s.roots[i]);
    if (!rc) rc = cx_buf_puts(out, "],\"themes\":[");
    for (size_t i = 0; !rc && i < rows[0].s.nthemes; i++) {
      if (i) rc = cx_buf_puts(out, ",");
      if (!rc) rc = gv_put_str(out, rows[0].s.themes[i]);
    }
    if (!rc) rc = cx_buf_puts(out, "]}");
  }
  store_reader_put(st, db);
  cx_free(rows);
  cJSON_Delete(themes);
  return rc;
}

cx_err gv_initiative_get(gv_targets *t, int64_t id, cx_buf *out) { return one_json(t, id, 1, out); }

/* ---- changes ---- */

typedef struct {
  int64_t id; /* 0: create (set by the job) */
  const gv_initiative_spec *s;
  int64_t now;
  int64_t seen; /* update: the updated_at the change was made over */
  int full, missing, stale;
} write_ctx;

static void bind_opt(sqlite3_stmt *st, int i, double v) {
  if (isnan(v)) sqlite3_bind_null(st, i);
  else sqlite3_bind_double(st, i, v);
}

static cx_err apply_write(void *ctx, sqlite3 *db) {
  write_ctx *w = ctx;
  const gv_initiative_spec *s = w->s;
  if (!w->id) {
    int64_t count = 0;
    if (store_step_named(db, "SELECT count(*) FROM initiatives", NULL, 0, &count)) return CX_EDB;
    if (count >= GV_INITIATIVE_MAX) return w->full = 1, CX_OK;
  }
  /* the links as JSON arrays: ids, and names escaped by cx_buf_json_str */
  cx_buf roots, themes;
  cx_buf_init(&roots, 4096), cx_buf_init(&themes, 8192);
  cx_err rc = cx_buf_puts(&roots, "[");
  for (size_t i = 0; !rc && i < s->nroots; i++) rc = cx_buf_printf(&roots, "%s%lld", i ? "," : "", (long long)s->roots[i]);
  if (!rc) rc = cx_buf_puts(&roots, "]");
  if (!rc) rc = cx_buf_puts(&themes, "[");
  for (size_t i = 0; !rc && i < s->nthemes; i++) {
    if (i) rc = cx_buf_puts(&themes, ",");
    if (!rc) rc = gv_put_str(&themes, s->themes[i]);
  }
  if (!rc) rc = cx_buf_puts(&themes, "]");
  const char *sql = w->id ? "UPDATE initiatives SET title = ?1, description = ?2, owner_id = ?3, status = ?4, kpi = ?5,"
                            " scope_type = ?6, scope_value = ?7, expected_change = ?8, reach = ?9, impact = ?10,"
                            " confidence = ?11, effort = ?12, root_causes = ?13, themes = ?14, measure_days = ?15,"
                            " started_at = ?16, done_at = ?17, updated_at = max(?18, updated_at + 1) WHERE id = ?19 AND updated_at = ?20"
                          : "INSERT INTO initiatives(title, description, owner_id, status, kpi, scope_type, scope_value,"
                            " expected_change, reach, impact, confidence, effort, root_causes, themes, measure_days,"
                            " started_at, done_at, created_at, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
                            " ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?18)";
  sqlite3_stmt *st = NULL;
  if (!rc && sqlite3_prepare_v2(db, sql, -1, &st, NULL)) rc = CX_EDB;
  if (!rc) {
    sqlite3_bind_text(st, 1, s->title, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, s->description, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, s->owner);
    sqlite3_bind_text(st, 4, status_names[s->status], -1, SQLITE_STATIC);
    if (s->has_kpi) {
      sqlite3_bind_text(st, 5, gv_kpi_name(s->k.kpi), -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 6, gv_scope_name(s->k.scope), -1, SQLITE_STATIC);
      if (s->k.scope_value[0]) sqlite3_bind_text(st, 7, s->k.scope_value, -1, SQLITE_STATIC);
    }
    bind_opt(st, 8, s->expected);
    if (s->reach >= 0) sqlite3_bind_int64(st, 9, s->reach);
    bind_opt(st, 10, s->impact);
    bind_opt(st, 11, s->confidence);
    bind_opt(st, 12, s->effort);
    sqlite3_bind_text(st, 13, roots.p, (int)roots.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 14, themes.p, (int)themes.len, SQLITE_STATIC);
    sqlite3_bind_int(st, 15, s->measure_days);
    if (s->started_at) sqlite3_bind_int64(st, 16, s->started_at);
    if (s->done_at) sqlite3_bind_int64(st, 17, s->done_at);
    sqlite3_bind_int64(st, 18, w->now);
    if (w->id) sqlite3_bind_int64(st, 19, w->id), sqlite3_bind_int64(st, 20, w->seen);
    if (sqlite3_step(st) != SQLITE_DONE) rc = CX_EDB;
  }
  sqlite3_finalize(st);
  cx_buf_free(&roots), cx_buf_free(&themes);
  if (rc) return rc;
  if (w->id && !sqlite3_changes(db)) { /* gone, or changed since it was read: the caller reads it again */
    store_param p = {":id", 0, NULL, w->id};
    int64_t there = -1;
    if (store_step_named(db, "SELECT 1 FROM initiatives WHERE id = :id", &p, 1, &there)) return CX_EDB;
    if (there == 1) w->stale = 1;
    else w->missing = 1;
  } else if (!w->id) {
    w->id = sqlite3_last_insert_rowid(db);
  }
  return CX_OK;
}

cx_err gv_initiative_create(gv_targets *t, const cJSON *req, cx_buf *out, cx_buf *after, analytics_error *err) {
  gv_initiative_spec s = {0};
  int64_t now = cx_now_ms();
  cx_err rc = gv_initiative_check(req, 0, &s, now, err);
  if (!rc) rc = check_refs(t, &s, req, 0, err);
  if (rc) return rc;
  write_ctx w = {.s = &s, .now = now};
  if ((rc = store_run_fn(gv_targets_store(t), apply_write, &w, 1))) return rc;
  if (w.full)
    return analytics_refuse(err, "too_many_initiatives", NULL, "There are %d initiatives already; delete one first.",
                            GV_INITIATIVE_MAX);
  rc = one_json(t, w.id, 1, out);
  if (!rc) rc = one_json(t, w.id, 0, after);
  return rc;
}

/* One try of an update: *stale when the initiative changed between the
 * read and the write (nothing written then). before is read after the
 * row, so a write that lands is over exactly the row it shows. */
static cx_err update_once(gv_targets *t, int64_t id, const cJSON *req, cx_buf *before, analytics_error *err,
                          int *stale) {
  store *st = gv_targets_store(t);
  sqlite3 *db = store_reader_get(st);
  ini_row *rows;
  size_t n;
  cx_err rc = rows_load(db, id, &rows, &n);
  store_reader_put(st, db);
  if (rc) return rc;
  if (!n) {
    cx_free(rows);
    return CX_ENOTFOUND;
  }
  gv_initiative_spec *s = cx_malloc(sizeof *s); /* large: not on the stack twice */
  if (!s) {
    cx_free(rows);
    return CX_ENOMEM;
  }
  *s = rows[0].s;
  int64_t seen = rows[0].updated_at;
  cx_free(rows);
  int64_t now = cx_now_ms();
  if (before) cx_buf_reset(before);
  if (!(rc = gv_initiative_check(req, 1, s, now, err)) && !(rc = check_refs(t, s, req, 1, err)) &&
      !(rc = one_json(t, id, 0, before))) {
    write_ctx w = {.id = id, .s = s, .now = now, .seen = seen};
    rc = store_run_fn(st, apply_write, &w, 1);
    if (!rc && w.missing) rc = CX_ENOTFOUND;
    *stale = !rc && w.stale;
  }
  cx_free(s);
  return rc;
}

cx_err gv_initiative_update(gv_targets *t, int64_t id, const cJSON *req, cx_buf *out, cx_buf *before, cx_buf *after,
                            analytics_error *err) {
  if (id <= 0) return CX_ENOTFOUND;
  int stale = 1;
  cx_err rc = CX_OK;
  for (int tries = 0; !rc && stale && tries < 8; tries++) rc = update_once(t, id, req, before, err, &stale);
  if (!rc && stale) return CX_EBUSY; /* eight changes in between: rare enough to ask again */
  if (!rc) rc = one_json(t, id, 1, out);
  if (!rc) rc = one_json(t, id, 0, after);
  return rc;
}

typedef struct {
  int64_t id;
  int missing;
} delete_ctx;

static cx_err apply_delete(void *ctx, sqlite3 *db) {
  delete_ctx *d = ctx;
  store_param p = {":id", 0, NULL, d->id};
  if (store_step_named(db, "DELETE FROM initiatives WHERE id = :id", &p, 1, NULL)) return CX_EDB;
  d->missing = !sqlite3_changes(db);
  return CX_OK;
}

cx_err gv_initiative_delete(gv_targets *t, int64_t id, cx_buf *before) {
  if (id <= 0) return CX_ENOTFOUND;
  cx_err rc = one_json(t, id, 0, before);
  if (rc) return rc;
  delete_ctx d = {.id = id};
  rc = store_run_fn(gv_targets_store(t), apply_delete, &d, 1);
  return !rc && d.missing ? CX_ENOTFOUND : rc;
}
