/* targets.c - KPI owners and targets (targets.h, docs/targets.md).
 *
 * A target's KPI is measured by the module that owns it: the feedback
 * KPIs by feedback_metric with the scope as filters (touchpoint names,
 * unit names of a subtree, a segment's members, a survey), the rates by
 * analytics_kpi_window. Measuring reads only: readers and the in-memory
 * indexes. What the scheduler decides (the new status, the history point
 * and the alert) is written in one store job that reads the status it
 * replaces on the writer's connection, so a transition is seen, and
 * alerted, once. */
#include "targets.h"
#include "rows.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/ticker.h"
#include "../base/time.h"
#include "../base/util.h"
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY_MS 86400000LL
#define DEFAULT_TICK_MS (5 * 60 * 1000LL)
#define MAX_SCOPE_NAMES 10000 /* units of a subtree, touchpoints of a map */

static const char *const kpi_names[GV_KPI_COUNT] = {"nps",          "csat",        "ces",         "activation_rate",
                                                    "repeat_rate",  "loyalty_rate", "churn_rate"};
static const char *const kpi_labels[GV_KPI_COUNT] = {"NPS",         "CSAT",         "CES",        "Activation rate",
                                                     "Repeat rate", "Loyalty rate", "Churn rate"};
static const char *const scope_names[GV_SCOPE_COUNT] = {"company", "unit", "touchpoint", "journey", "segment", "survey"};
static const char *const scope_labels[GV_SCOPE_COUNT] = {"Company", "Unit", "Touchpoint", "Journey", "Segment", "Survey"};
static const char *const status_names[3] = {"unknown", "on", "off"};
static const char *const alert_names[4] = {"none", "email", "webhook", "both"};

const char *gv_kpi_name(gv_kpi k) { return k >= 0 && k < GV_KPI_COUNT ? kpi_names[k] : "?"; }
const char *gv_scope_name(gv_scope s) { return s >= 0 && s < GV_SCOPE_COUNT ? scope_names[s] : "?"; }
const char *gv_status_name(gv_status s) { return s >= 0 && s <= GV_STATUS_OFF ? status_names[s] : "?"; }

static int is_feedback_kpi(gv_kpi k) { return k == GV_KPI_NPS || k == GV_KPI_CSAT || k == GV_KPI_CES; }

int gv_kpi_supports(gv_kpi k, gv_scope s) {
  if (k < 0 || k >= GV_KPI_COUNT || s < 0 || s >= GV_SCOPE_COUNT) return 0;
  return is_feedback_kpi(k) || s == GV_SCOPE_COMPANY || s == GV_SCOPE_SEGMENT;
}

void gv_kpi_range(gv_kpi k, double *lo, double *hi) {
  *lo = k == GV_KPI_NPS ? -100 : k == GV_KPI_CES ? 1 : 0;
  *hi = k == GV_KPI_NPS || k == GV_KPI_CSAT ? 100 : k == GV_KPI_CES ? 7 : 1;
}

gv_status gv_target_status(double value, uint64_t n, double target, int higher, int64_t min_n) {
  if (isnan(value) || min_n < 0 || n < (uint64_t)min_n || n == 0) return GV_STATUS_UNKNOWN;
  return (higher ? value >= target : value <= target) ? GV_STATUS_ON : GV_STATUS_OFF;
}

/* ---- checking a request (no store) ---- */

static const char *const members[] = {"kpi",     "scope",  "scope_value", "owner",       "target", "direction",
                                      "period_days", "min_n", "alert",  "webhook_url", NULL};

static int whole_in(const cJSON *v, int64_t lo, int64_t hi, int64_t *out) {
  if (!cJSON_IsNumber(v) || isnan(v->valuedouble) || v->valuedouble != floor(v->valuedouble)) return 0;
  if (v->valuedouble < (double)lo || v->valuedouble > (double)hi) return 0;
  *out = (int64_t)v->valuedouble;
  return 1;
}

static int url_ok(const char *u) {
  size_t n = strlen(u);
  if (n > OUTBOX_MAX_URL || (strncmp(u, "http://", 7) && strncmp(u, "https://", 8))) return 0;
  const char *host = u + (u[4] == 's' ? 8 : 7);
  if (!*host || *host == '/') return 0;
  for (const char *p = u; *p; p++)
    if ((unsigned char)*p <= 0x20 || *p == 0x7f) return 0;
  return 1;
}

/* The KPI and its scope of req (kpi, scope, scope_value) into *s, which
 * holds the defaults or, partial, what is stored; *kpi_given: kpi was in
 * req. */
static cx_err kpi_scope_part(const cJSON *req, int partial, gv_target_spec *s, int *kpi_given, analytics_error *err) {
  const cJSON *v;
  int scope_given = 0;
  *kpi_given = 0;
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "kpi")) || !partial) {
    int k = cJSON_IsString(v) ? gv_name_index(kpi_names, GV_KPI_COUNT, v->valuestring) : -1;
    if (k < 0)
      return analytics_refuse(err, "invalid_field", "kpi",
                              "kpi must be nps, csat, ces, activation_rate, repeat_rate, loyalty_rate or churn_rate.");
    s->kpi = (gv_kpi)k, *kpi_given = 1;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "scope")) || !partial) {
    int k = v ? (cJSON_IsString(v) ? gv_name_index(scope_names, GV_SCOPE_COUNT, v->valuestring) : -1) : GV_SCOPE_COMPANY;
    if (k < 0)
      return analytics_refuse(err, "invalid_field", "scope",
                              "scope must be company, unit, touchpoint, journey, segment or survey.");
    s->scope = (gv_scope)k, scope_given = 1;
  }
  v = cJSON_GetObjectItemCaseSensitive(req, "scope_value");
  if (v && !cJSON_IsNull(v)) {
    int64_t id;
    if (cJSON_IsNumber(v) && gv_json_id(v, &id)) snprintf(s->scope_value, sizeof s->scope_value, "%lld", (long long)id);
    else if (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) > GV_TARGET_MAX_VALUE ||
             !cx_utf8_valid(v->valuestring, strlen(v->valuestring)))
      return analytics_refuse(err, "invalid_field", "scope_value",
                              "scope_value must be the id (or, for a touchpoint, the name) of what the scope names.");
    else snprintf(s->scope_value, sizeof s->scope_value, "%s", v->valuestring);
  } else if (v || scope_given) { /* null, or another scope (PATCH): its value too */
    s->scope_value[0] = 0;
  }
  if (s->scope == GV_SCOPE_COMPANY) s->scope_value[0] = 0;
  else if (!s->scope_value[0])
    return analytics_refuse(err, "invalid_field", "scope_value", "A %s scope needs scope_value: which %s.",
                            scope_names[s->scope], scope_names[s->scope]);
  if (s->scope != GV_SCOPE_COMPANY && s->scope != GV_SCOPE_TOUCHPOINT) {
    int64_t id;
    if (cx_parse_i64(s->scope_value, strlen(s->scope_value), &id) || id <= 0)
      return analytics_refuse(err, "invalid_field", "scope_value", "scope_value must be the %s's id.",
                              scope_names[s->scope]);
  }
  if (!gv_kpi_supports(s->kpi, s->scope))
    return analytics_refuse(err, "invalid_field", "scope",
                            "%s is measured at the company or a segment only, not at a %s.", kpi_names[s->kpi],
                            scope_names[s->scope]);
  return CX_OK;
}

cx_err gv_kpi_scope_check(const cJSON *req, int partial, gv_target_spec *spec, analytics_error *err) {
  int kpi_given;
  return kpi_scope_part(req, partial, spec, &kpi_given, err);
}

cx_err gv_target_check(const cJSON *req, int partial, gv_target_spec *spec, analytics_error *err) {
  if (!cJSON_IsObject(req)) return analytics_refuse(err, "invalid_field", NULL, "The body must be a JSON object.");
  for (const cJSON *m = req->child; m; m = m->next)
    if (gv_name_index(members, (int)(sizeof members / sizeof *members) - 1, m->string) < 0)
      return analytics_refuse(err, "invalid_field", m->string ? m->string : "", "%.60s is not a member of a target.",
                              m->string ? m->string : "(unnamed)");
  gv_target_spec s;
  if (partial) s = *spec;
  else
    s = (gv_target_spec){.higher = -1, .period_days = GV_TARGET_DEFAULT_PERIOD, .min_n = GV_TARGET_DEFAULT_MIN_N,
                         .alert = GV_ALERT_EMAIL};
  const cJSON *v;
  int kpi_given;
  cx_err rc = kpi_scope_part(req, partial, &s, &kpi_given, err);
  if (rc) return rc;
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "owner")) || !partial) {
    if (!gv_json_id(v, &s.owner)) return analytics_refuse(err, "invalid_field", "owner", "owner must be a user's id.");
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "direction"))) {
    int d = cJSON_IsString(v) ? (!strcmp(v->valuestring, "higher") ? 1 : !strcmp(v->valuestring, "lower") ? 0 : -1) : -1;
    if (d < 0) return analytics_refuse(err, "invalid_field", "direction", "direction must be higher or lower.");
    s.higher = d;
  } else if (!partial || kpi_given) {
    if (!partial) s.higher = s.kpi != GV_KPI_CHURN; /* churn is better lower; the rest higher */
  }
  double lo, hi;
  gv_kpi_range(s.kpi, &lo, &hi);
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "target")) || !partial) {
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
      return analytics_refuse(err, "invalid_field", "target", "target must be a number.");
    s.target = v->valuedouble;
  }
  if (s.target < lo || s.target > hi)
    return analytics_refuse(err, "invalid_field", "target", "target must be from %g to %g for %s.", lo, hi, kpi_names[s.kpi]);
  int64_t w;
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "period_days"))) {
    if (!whole_in(v, 1, GV_TARGET_MAX_PERIOD, &w))
      return analytics_refuse(err, "invalid_field", "period_days", "period_days must be a whole number from 1 to %d.",
                              GV_TARGET_MAX_PERIOD);
    s.period_days = (int)w;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "min_n"))) {
    if (!whole_in(v, 1, GV_TARGET_MAX_MIN_N, &w))
      return analytics_refuse(err, "invalid_field", "min_n", "min_n must be a whole number from 1 to %d.",
                              GV_TARGET_MAX_MIN_N);
    s.min_n = w;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "alert"))) {
    int a = cJSON_IsString(v) ? gv_name_index(alert_names, 4, v->valuestring) : -1;
    if (a < 0) return analytics_refuse(err, "invalid_field", "alert", "alert must be email, webhook, both or none.");
    s.alert = a;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "webhook_url"))) {
    if (cJSON_IsNull(v) || (cJSON_IsString(v) && !*v->valuestring)) s.webhook_url[0] = 0;
    else if (!cJSON_IsString(v) || !url_ok(v->valuestring))
      return analytics_refuse(err, "invalid_field", "webhook_url",
                              "webhook_url must be an http:// or https:// URL of at most %d bytes.", OUTBOX_MAX_URL);
    else snprintf(s.webhook_url, sizeof s.webhook_url, "%s", v->valuestring);
  }
  if ((s.alert & GV_ALERT_WEBHOOK) && !s.webhook_url[0])
    return analytics_refuse(err, "invalid_field", "webhook_url", "A webhook alert needs webhook_url.");
  *spec = s;
  return CX_OK;
}

/* ---- the module ---- */

struct gv_targets {
  gv_targets_cfg cfg;
  pthread_mutex_t mu; /* base_url */
  char base_url[OUTBOX_MAX_URL + 1];
  cx_ticker *ticker; /* the scheduler, once started */
};

static cx_err run_job(gv_targets *t, cx_err (*fn)(void *, sqlite3 *), void *ctx) {
  return store_run_fn(t->cfg.st, fn, ctx, 1);
}

/* A stored target. */
typedef struct {
  int64_t id;
  gv_target_spec s;
  gv_status status; /* as last stored */
  double value;
  int64_t n, checked_at, changed_at, created_at, updated_at;
} target_row;

#define ROW_COLS                                                                                                  \
  "id, kpi, scope_type, COALESCE(scope_value, ''), owner_id, target, direction, period_days, min_n, alert,"        \
  " COALESCE(webhook_url, ''), status, value, n, COALESCE(checked_at, 0), COALESCE(changed_at, 0), created_at,"   \
  " updated_at"

/* gv_rows_load's reader: one row into *row (a target_row). */
static void row_read(sqlite3_stmt *st, void *row) {
  target_row *r = row;
  memset(r, 0, sizeof *r);
  r->id = sqlite3_column_int64(st, 0);
  int k = gv_name_index(kpi_names, GV_KPI_COUNT, (const char *)sqlite3_column_text(st, 1));
  int sc = gv_name_index(scope_names, GV_SCOPE_COUNT, (const char *)sqlite3_column_text(st, 2));
  r->s.kpi = k < 0 ? GV_KPI_NPS : (gv_kpi)k;
  r->s.scope = sc < 0 ? GV_SCOPE_COMPANY : (gv_scope)sc;
  snprintf(r->s.scope_value, sizeof r->s.scope_value, "%s", (const char *)sqlite3_column_text(st, 3));
  r->s.owner = sqlite3_column_int64(st, 4);
  r->s.target = sqlite3_column_double(st, 5);
  r->s.higher = !strcmp((const char *)sqlite3_column_text(st, 6), "higher");
  r->s.period_days = sqlite3_column_int(st, 7);
  r->s.min_n = sqlite3_column_int64(st, 8);
  int a = gv_name_index(alert_names, 4, (const char *)sqlite3_column_text(st, 9));
  r->s.alert = a < 0 ? GV_ALERT_NONE : a;
  snprintf(r->s.webhook_url, sizeof r->s.webhook_url, "%s", (const char *)sqlite3_column_text(st, 10));
  int stt = gv_name_index(status_names, 3, (const char *)sqlite3_column_text(st, 11));
  r->status = stt < 0 ? GV_STATUS_UNKNOWN : (gv_status)stt;
  r->value = sqlite3_column_type(st, 12) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 12);
  r->n = sqlite3_column_int64(st, 13);
  r->checked_at = sqlite3_column_int64(st, 14);
  r->changed_at = sqlite3_column_int64(st, 15);
  r->created_at = sqlite3_column_int64(st, 16);
  r->updated_at = sqlite3_column_int64(st, 17);
}

/* Every target (id 0) or one, in id order: *rows (caller frees), *n. */
static cx_err rows_load(sqlite3 *db, int64_t id, target_row **rows, size_t *n) {
  void *r;
  cx_err rc = gv_rows_load(db, "SELECT " ROW_COLS " FROM kpi_targets WHERE ?1 = 0 OR id = ?1 ORDER BY id LIMIT ?2", id,
                           GV_TARGET_MAX + 1, sizeof **rows, row_read, &r, n);
  *rows = r;
  return rc;
}

/* What the scope's value names, for people: "Care North", a map's name… */
static void scope_label(sqlite3 *db, const gv_target_spec *s, char *out, size_t cap) {
  int64_t id = 0;
  if (s->scope != GV_SCOPE_COMPANY && s->scope != GV_SCOPE_TOUCHPOINT)
    cx_parse_i64(s->scope_value, strlen(s->scope_value), &id);
  static const char *const sql[GV_SCOPE_COUNT] = {
      NULL, "SELECT name FROM units WHERE id = ?1", NULL, "SELECT name FROM journey_maps WHERE id = ?1",
      "SELECT name FROM segments WHERE id = ?1", "SELECT name FROM surveys WHERE id = ?1"};
  if (s->scope == GV_SCOPE_COMPANY) snprintf(out, cap, "Company");
  else if (s->scope == GV_SCOPE_TOUCHPOINT) snprintf(out, cap, "%s", s->scope_value);
  else if (!gv_sql_text(db, sql[s->scope], id, NULL, out, cap)) snprintf(out, cap, "(deleted %s %s)", scope_names[s->scope], s->scope_value);
}

/* ---- what a scope covers ---- */

typedef struct {
  char **names; /* owned: touchpoints or units */
  size_t nnames;
  int64_t *customers; /* owned: a segment's members, ascending */
  size_t ncustomers;
  int has_customers;
  int64_t survey;
} scope_set;

static void scope_free(scope_set *x) {
  for (size_t i = 0; i < x->nnames; i++) cx_free(x->names[i]);
  cx_free(x->names), cx_free(x->customers);
  memset(x, 0, sizeof *x);
}

static cx_err add_name(scope_set *x, const char *s, size_t *cap) {
  if (x->nnames >= MAX_SCOPE_NAMES) return CX_OK;
  if (x->nnames == *cap) {
    size_t nc = *cap ? 2 * *cap : 16;
    char **l = cx_realloc(x->names, nc * sizeof *l);
    if (!l) return CX_ENOMEM;
    x->names = l, *cap = nc;
  }
  size_t n = strlen(s);
  char *d = cx_malloc(n + 1);
  if (!d) return CX_ENOMEM;
  memcpy(d, s, n + 1);
  x->names[x->nnames++] = d;
  return CX_OK;
}

static cx_err scope_fill(gv_targets *t, sqlite3 *db, const gv_target_spec *s, scope_set *x) {
  memset(x, 0, sizeof *x);
  int64_t id = 0;
  if (s->scope != GV_SCOPE_COMPANY && s->scope != GV_SCOPE_TOUCHPOINT &&
      (cx_parse_i64(s->scope_value, strlen(s->scope_value), &id) || id <= 0))
    return CX_ENOTFOUND;
  size_t cap = 0;
  cx_err rc = CX_OK;
  switch (s->scope) {
  case GV_SCOPE_COMPANY:
    return CX_OK;
  case GV_SCOPE_SURVEY:
    if (!gv_sql_text(db, "SELECT id FROM surveys WHERE id = ?1", id, NULL, NULL, 0)) return CX_ENOTFOUND;
    x->survey = id;
    return CX_OK;
  case GV_SCOPE_TOUCHPOINT:
    return add_name(x, s->scope_value, &cap);
  case GV_SCOPE_UNIT: { /* the unit and every unit below it, by name */
    if (!gv_sql_text(db, "SELECT id FROM units WHERE id = ?1", id, NULL, NULL, 0)) return CX_ENOTFOUND;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT id, name FROM units ORDER BY id", -1, &st, NULL)) return CX_EDB;
    while (!rc && sqlite3_step(st) == SQLITE_ROW)
      if (gv_unit_in_scope(t->cfg.gv, id, sqlite3_column_int64(st, 0)))
        rc = add_name(x, (const char *)sqlite3_column_text(st, 1), &cap);
    sqlite3_finalize(st);
    if (!rc && !x->nnames) rc = add_name(x, "", &cap); /* not in the cache yet: itself by name */
    if (!rc && x->nnames == 1 && !x->names[0][0]) {
      char name[256];
      gv_sql_text(db, "SELECT name FROM units WHERE id = ?1", id, NULL, name, sizeof name);
      cx_free(x->names[0]);
      x->nnames = 0;
      rc = add_name(x, name, &cap);
    }
    return rc;
  }
  case GV_SCOPE_JOURNEY: { /* the names of the map's touchpoints (its current version) */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT v.doc FROM journey_maps m JOIN journey_map_versions v"
                               " ON v.map_id = m.id AND v.version = m.version WHERE m.id = ?1", -1, &st, NULL))
      return CX_EDB;
    sqlite3_bind_int64(st, 1, id);
    cJSON *doc = sqlite3_step(st) == SQLITE_ROW ? cJSON_Parse((const char *)sqlite3_column_text(st, 0)) : NULL;
    int found = doc != NULL;
    sqlite3_finalize(st);
    if (!found) return CX_ENOTFOUND;
    const cJSON *stages = cJSON_GetObjectItemCaseSensitive(doc, "stages");
    for (const cJSON *sg = stages ? stages->child : NULL; !rc && sg; sg = sg->next) {
      const cJSON *tps = cJSON_GetObjectItemCaseSensitive(sg, "touchpoints");
      for (const cJSON *tp = tps ? tps->child : NULL; !rc && tp; tp = tp->next) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(tp, "name");
        if (cJSON_IsString(nm)) rc = add_name(x, nm->valuestring, &cap);
      }
    }
    cJSON_Delete(doc);
    return rc;
  }
  case GV_SCOPE_SEGMENT: {
    if (!t->cfg.seg) return CX_ENOTFOUND;
    size_t mcap = 0;
    int64_t after = 0;
    x->has_customers = 1;
    for (;;) {
      if (x->ncustomers + 65536 > mcap) {
        size_t nc = mcap ? 2 * mcap : 65536;
        while (nc < x->ncustomers + 65536) nc *= 2;
        int64_t *m = cx_realloc(x->customers, nc * sizeof *m);
        if (!m) return CX_ENOMEM;
        x->customers = m, mcap = nc;
      }
      cx_err mrc = CX_OK;
      size_t got = analytics_segment_members(t->cfg.seg, id, after, x->customers + x->ncustomers, 65536, &mrc);
      if (mrc) return mrc == CX_ENOTFOUND ? CX_ENOTFOUND : mrc;
      x->ncustomers += got;
      if (got < 65536) break;
      after = x->customers[x->ncustomers - 1];
    }
    return CX_OK;
  }
  default:
    return CX_ENOTFOUND;
  }
}

/* Resolves s's scope into x on db (a reader). CX_ENOTFOUND when the scope
 * value names nothing. On an error x holds nothing; else free it with
 * scope_free. */
static cx_err scope_resolve(gv_targets *t, sqlite3 *db, const gv_target_spec *s, scope_set *x) {
  cx_err rc = scope_fill(t, db, s, x);
  if (rc) scope_free(x);
  return rc;
}

/* an empty list filters too (nothing matches): never pass NULL for one */
static const char *const no_names[1] = {NULL};
static const int64_t no_ids[1] = {0};

/* The answers of a feedback KPI of s with scope x in [from, to). */
static void query_of(const gv_target_spec *s, const scope_set *x, int64_t from, int64_t to, feedback_query *q) {
  const char *const *names = x->names ? (const char *const *)x->names : no_names;
  const int64_t *ids = x->has_customers ? (x->customers ? x->customers : no_ids) : NULL;
  *q = (feedback_query){.survey = x->survey, .from = from, .to = to, .customers = ids, .ncustomers = x->ncustomers};
  if (s->scope == GV_SCOPE_TOUCHPOINT || s->scope == GV_SCOPE_JOURNEY) q->touchpoints = names, q->ntouchpoints = x->nnames;
  if (s->scope == GV_SCOPE_UNIT) q->units = names, q->nunits = x->nnames;
}

/* The KPI of s with scope x at now: *value (NAN without answers) and *n. */
static cx_err measure(gv_targets *t, const gv_target_spec *s, const scope_set *x, int64_t now, int64_t to,
                      double *value, uint64_t *n) {
  *value = NAN, *n = 0;
  int64_t from = now - (int64_t)s->period_days * DAY_MS;
  const int64_t *ids = x->has_customers ? (x->customers ? x->customers : no_ids) : NULL;
  if (is_feedback_kpi(s->kpi)) {
    feedback_query q;
    query_of(s, x, from, to, &q);
    feedback_metric_kind k = s->kpi == GV_KPI_NPS ? FEEDBACK_NPS : s->kpi == GV_KPI_CSAT ? FEEDBACK_CSAT : FEEDBACK_CES;
    cx_buf b;
    cx_buf_init(&b, 1 << 20);
    analytics_error err;
    cx_err rc = feedback_metric(t->cfg.fb, k, &q, &b, &err);
    cJSON *o = rc ? NULL : cJSON_ParseWithLength(b.p, b.len);
    cx_buf_free(&b);
    if (!rc && !o) rc = CX_ENOMEM;
    if (!rc) {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, kpi_names[s->kpi]);
      const cJSON *nn = cJSON_GetObjectItemCaseSensitive(o, "n");
      if (cJSON_IsNumber(v)) *value = v->valuedouble;
      if (cJSON_IsNumber(nn)) *n = (uint64_t)nn->valuedouble;
    }
    cJSON_Delete(o);
    return rc;
  }
  analytics_ctx ax = {.pr = t->cfg.pr, .now_ms = now};
  analytics_kpi_counts c;
  cx_err rc = analytics_kpi_window(&ax, from, now, NULL, ids, x->ncustomers, &c);
  if (rc) return rc;
  uint64_t num = s->kpi == GV_KPI_ACTIVATION ? c.activated : s->kpi == GV_KPI_REPEAT ? c.repeat
               : s->kpi == GV_KPI_LOYALTY ? c.loyal : c.churned;
  uint64_t den = s->kpi == GV_KPI_ACTIVATION ? c.fresh : s->kpi == GV_KPI_REPEAT ? c.buyers
               : s->kpi == GV_KPI_LOYALTY ? c.buyers_prev : c.active_prev;
  *n = den;
  if (den) *value = (double)num / (double)den;
  return CX_OK;
}

static cx_err measure_at(gv_targets *t, sqlite3 *db, const gv_target_spec *s, int64_t now, int64_t to, double *value,
                         uint64_t *n) {
  scope_set x;
  cx_err rc = scope_resolve(t, db, s, &x);
  if (rc == CX_ENOTFOUND) { /* what it measured is gone: nothing to count */
    *value = NAN, *n = 0;
    return CX_OK;
  }
  if (!rc) rc = measure(t, s, &x, now, to, value, n);
  scope_free(&x);
  return rc;
}

cx_err gv_target_measure(gv_targets *t, const gv_target_spec *s, double *value, uint64_t *n) {
  sqlite3 *db = store_reader_get(t->cfg.st);
  cx_err rc = measure_at(t, db, s, cx_now_ms(), CX_TIME_MAX, value, n);
  store_reader_put(t->cfg.st, db);
  return rc;
}

static double p_two_sided(double z) { return erfc(fabs(z) / sqrt(2.0)); }

static double num_of(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* A rate of the counts c: its numerator and denominator. */
static void rate_of(gv_kpi k, const analytics_kpi_counts *c, uint64_t *num, uint64_t *den) {
  *num = k == GV_KPI_ACTIVATION ? c->activated : k == GV_KPI_REPEAT ? c->repeat : k == GV_KPI_LOYALTY ? c->loyal : c->churned;
  *den = k == GV_KPI_ACTIVATION ? c->fresh : k == GV_KPI_REPEAT ? c->buyers : k == GV_KPI_LOYALTY ? c->buyers_prev
                                                                                                   : c->active_prev;
}

cx_err gv_kpi_compare_windows(gv_targets *t, sqlite3 *db, const gv_target_spec *s, int64_t bfrom, int64_t bto,
                              int64_t afrom, int64_t ato, gv_kpi_compare *out) {
  *out = (gv_kpi_compare){.before = NAN, .after = NAN, .change = NAN, .z = NAN, .p = NAN};
  if (bfrom >= bto || afrom >= ato) return CX_EINVAL;
  scope_set x;
  cx_err rc = scope_resolve(t, db, s, &x);
  if (rc == CX_ENOTFOUND) return CX_OK; /* what it measured is gone */
  if (rc) return rc;
  if (is_feedback_kpi(s->kpi)) {
    feedback_query q;
    query_of(s, &x, afrom, ato, &q);
    q.compare_from = bfrom, q.compare_to = bto;
    feedback_metric_kind k = s->kpi == GV_KPI_NPS ? FEEDBACK_NPS : s->kpi == GV_KPI_CSAT ? FEEDBACK_CSAT : FEEDBACK_CES;
    cx_buf b;
    cx_buf_init(&b, 1 << 20);
    analytics_error err;
    rc = feedback_metric(t->cfg.fb, k, &q, &b, &err);
    cJSON *o = rc ? NULL : cJSON_ParseWithLength(b.p, b.len);
    cx_buf_free(&b);
    if (!rc && !o) rc = CX_ENOMEM;
    if (!rc) {
      const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "compare");
      double an = num_of(o, "n"), bn = num_of(c, "n");
      out->after = num_of(o, kpi_names[s->kpi]), out->before = num_of(c, kpi_names[s->kpi]);
      out->n_after = isnan(an) ? 0 : (uint64_t)an, out->n_before = isnan(bn) ? 0 : (uint64_t)bn;
      out->change = num_of(c, "change"), out->z = num_of(c, "z"), out->p = num_of(c, "p_value");
      if (!isnan(out->z)) out->p = p_two_sided(out->z); /* the API rounds a p below 5e-5 to 0 */
    }
    cJSON_Delete(o);
  } else { /* two proportions, pooled */
    const int64_t *ids = x.has_customers ? (x.customers ? x.customers : no_ids) : NULL;
    analytics_kpi_counts cb, ca;
    analytics_ctx bx = {.pr = t->cfg.pr, .now_ms = bto}, ax = {.pr = t->cfg.pr, .now_ms = ato};
    rc = analytics_kpi_window(&bx, bfrom, bto, NULL, ids, x.ncustomers, &cb);
    if (!rc) rc = analytics_kpi_window(&ax, afrom, ato, NULL, ids, x.ncustomers, &ca);
    if (!rc) {
      uint64_t bnum, bden, anum, aden;
      rate_of(s->kpi, &cb, &bnum, &bden);
      rate_of(s->kpi, &ca, &anum, &aden);
      out->n_before = bden, out->n_after = aden;
      if (bden) out->before = (double)bnum / (double)bden;
      if (aden) out->after = (double)anum / (double)aden;
      if (bden && aden) out->change = out->after - out->before;
      if (bden > 1 && aden > 1) {
        double pool = (double)(bnum + anum) / (double)(bden + aden);
        double se = sqrt(pool * (1 - pool) * (1.0 / (double)bden + 1.0 / (double)aden));
        if (se > 0) out->z = out->change / se, out->p = p_two_sided(out->z);
      }
    }
  }
  scope_free(&x);
  return rc;
}

store *gv_targets_store(gv_targets *t) { return t->cfg.st; }
feedback *gv_targets_feedback(gv_targets *t) { return t->cfg.fb; }

const char *gv_kpi_label(gv_kpi k) { return k >= 0 && k < GV_KPI_COUNT ? kpi_labels[k] : "?"; }

void gv_kpi_scope_label(sqlite3 *db, const gv_target_spec *s, char *out, size_t cap) { scope_label(db, s, out, cap); }

/* ---- JSON ---- */

/* The members of a target (no braces) with value, n and status as given. */
static cx_err target_members(sqlite3 *db, const target_row *r, double value, uint64_t n, gv_status status,
                             cx_buf *b) {
  char label[256], owner[256], email[256];
  scope_label(db, &r->s, label, sizeof label);
  gv_sql_text(db, "SELECT name FROM users WHERE id = ?1", r->s.owner, NULL, owner, sizeof owner);
  gv_sql_text(db, "SELECT email FROM users WHERE id = ?1", r->s.owner, NULL, email, sizeof email);
  cx_err rc = cx_buf_printf(b, "\"id\":\"%lld\",\"kpi\":\"%s\",\"kpi_label\":\"%s\",\"scope\":\"%s\",\"scope_value\":",
                            (long long)r->id, kpi_names[r->s.kpi], kpi_labels[r->s.kpi], scope_names[r->s.scope]);
  if (!rc) rc = r->s.scope_value[0] ? gv_put_str(b, r->s.scope_value) : cx_buf_puts(b, "null");
  if (!rc) rc = cx_buf_puts(b, ",\"scope_label\":");
  if (!rc) rc = gv_put_str(b, label);
  if (!rc) rc = cx_buf_printf(b, ",\"owner\":\"%lld\",\"owner_name\":", (long long)r->s.owner);
  if (!rc) rc = owner[0] ? gv_put_str(b, owner) : cx_buf_puts(b, "null");
  if (!rc) rc = cx_buf_puts(b, ",\"owner_email\":");
  if (!rc) rc = email[0] ? gv_put_str(b, email) : cx_buf_puts(b, "null");
  if (!rc) rc = cx_buf_puts(b, ",\"target\":");
  if (!rc) rc = gv_put_num(b, r->s.target);
  if (!rc)
    rc = cx_buf_printf(b, ",\"direction\":\"%s\",\"period_days\":%d,\"min_n\":%lld,\"alert\":\"%s\",\"webhook_url\":",
                       r->s.higher ? "higher" : "lower", r->s.period_days, (long long)r->s.min_n, alert_names[r->s.alert]);
  if (!rc) rc = r->s.webhook_url[0] ? gv_put_str(b, r->s.webhook_url) : cx_buf_puts(b, "null");
  if (!rc) rc = cx_buf_puts(b, ",\"value\":");
  if (!rc) rc = gv_put_num(b, value);
  if (!rc) rc = cx_buf_printf(b, ",\"n\":%llu,\"status\":\"%s\",\"checked_status\":\"%s\",\"checked_at\":",
                              (unsigned long long)n, status_names[status], status_names[r->status]);
  if (!rc) rc = gv_put_time(b, r->checked_at);
  if (!rc) rc = cx_buf_puts(b, ",\"changed_at\":");
  if (!rc) rc = gv_put_time(b, r->changed_at);
  if (!rc) rc = cx_buf_puts(b, ",\"created_at\":");
  if (!rc) rc = gv_put_time(b, r->created_at);
  if (!rc) rc = cx_buf_puts(b, ",\"updated_at\":");
  if (!rc) rc = gv_put_time(b, r->updated_at);
  return rc;
}

/* The last `limit` history points of id, oldest first, as
 * {"at","status","value","n"} objects (no brackets). */
static cx_err history_points(sqlite3 *db, int64_t id, size_t limit, cx_buf *b, int full) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT at, status, value, n FROM (SELECT at, status, value, n FROM kpi_target_history"
                             " WHERE target_id = ?1 ORDER BY at DESC LIMIT ?2) ORDER BY at", -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int64(st, 2, (int64_t)limit);
  cx_err rc = CX_OK;
  for (int first = 1; !rc && sqlite3_step(st) == SQLITE_ROW; first = 0) {
    rc = cx_buf_puts(b, first ? "{\"at\":" : ",{\"at\":");
    if (!rc) rc = cx_buf_json_time(b, sqlite3_column_int64(st, 0));
    if (!rc && full) rc = cx_buf_printf(b, ",\"status\":\"%s\"", (const char *)sqlite3_column_text(st, 1));
    if (!rc) rc = cx_buf_puts(b, ",\"value\":");
    if (!rc) rc = sqlite3_column_type(st, 2) == SQLITE_NULL ? cx_buf_puts(b, "null") : gv_put_num(b, sqlite3_column_double(st, 2));
    if (!rc && full) rc = cx_buf_printf(b, ",\"n\":%lld", (long long)sqlite3_column_int64(st, 3));
    if (!rc) rc = cx_buf_puts(b, "}");
  }
  sqlite3_finalize(st);
  return rc;
}

/* Targets (id 0: all) computed now, as a list ({"targets":[…]}) or one
 * object; with series: each with its sparkline and a summary. */
static cx_err targets_json(gv_targets *t, int64_t id, int series, cx_buf *out) {
  sqlite3 *db = store_reader_get(t->cfg.st);
  target_row *rows;
  size_t n;
  cx_err rc = rows_load(db, id, &rows, &n);
  if (!rc && id && !n) rc = CX_ENOTFOUND;
  int64_t now = cx_now_ms();
  uint64_t count[3] = {0};
  if (!rc && !id) rc = cx_buf_puts(out, "{\"targets\":[");
  for (size_t i = 0; !rc && i < n; i++) {
    double value;
    uint64_t cnt;
    rc = measure_at(t, db, &rows[i].s, now, CX_TIME_MAX, &value, &cnt);
    gv_status s = gv_target_status(value, cnt, rows[i].s.target, rows[i].s.higher, rows[i].s.min_n);
    count[s]++;
    if (!rc) rc = cx_buf_puts(out, i ? ",{" : "{");
    if (!rc) rc = target_members(db, &rows[i], value, cnt, s, out);
    if (!rc && series) {
      rc = cx_buf_puts(out, ",\"series\":[");
      if (!rc) rc = history_points(db, rows[i].id, GV_TARGET_SERIES, out, 0);
      if (!rc) rc = cx_buf_puts(out, "]");
    }
    if (!rc) rc = cx_buf_puts(out, "}");
  }
  if (!rc && !id) rc = cx_buf_puts(out, "]");
  if (!rc && !id && series)
    rc = cx_buf_printf(out, ",\"summary\":{\"on\":%llu,\"off\":%llu,\"unknown\":%llu}", (unsigned long long)count[1],
                       (unsigned long long)count[2], (unsigned long long)count[0]);
  if (!rc && !id) rc = cx_buf_puts(out, "}");
  store_reader_put(t->cfg.st, db);
  cx_free(rows);
  return rc;
}

cx_err gv_targets_list(gv_targets *t, cx_buf *out) { return targets_json(t, 0, 0, out); }
cx_err gv_scorecard(gv_targets *t, cx_buf *out) { return targets_json(t, 0, 1, out); }
cx_err gv_target_get(gv_targets *t, int64_t id, cx_buf *out) { return id > 0 ? targets_json(t, id, 0, out) : CX_ENOTFOUND; }

/* The stored form of one target (the audit's before/after). */
static cx_err stored_json(gv_targets *t, int64_t id, cx_buf *out) {
  if (!out) return CX_OK;
  sqlite3 *db = store_reader_get(t->cfg.st);
  target_row *rows;
  size_t n;
  cx_err rc = rows_load(db, id, &rows, &n);
  if (!rc && !n) rc = CX_ENOTFOUND;
  if (!rc) rc = cx_buf_puts(out, "{");
  if (!rc) rc = target_members(db, &rows[0], rows[0].value, (uint64_t)rows[0].n, rows[0].status, out);
  if (!rc) rc = cx_buf_puts(out, "}");
  store_reader_put(t->cfg.st, db);
  cx_free(rows);
  return rc;
}

cx_err gv_target_history(gv_targets *t, int64_t id, size_t limit, cx_buf *out) {
  sqlite3 *db = store_reader_get(t->cfg.st);
  cx_err rc = gv_sql_text(db, "SELECT id FROM kpi_targets WHERE id = ?1", id, NULL, NULL, 0) ? CX_OK : CX_ENOTFOUND;
  if (!rc) rc = cx_buf_printf(out, "{\"target_id\":\"%lld\",\"history\":[", (long long)id);
  if (!rc) rc = history_points(db, id, limit, out, 1);
  if (!rc) rc = cx_buf_puts(out, "],\"transitions\":[");
  sqlite3_stmt *st = NULL;
  if (!rc && sqlite3_prepare_v2(db, "SELECT at, status, value FROM (SELECT at, status, value FROM kpi_target_history"
                                    " WHERE target_id = ?1 ORDER BY at DESC LIMIT ?2) ORDER BY at", -1, &st, NULL))
    rc = CX_EDB;
  if (!rc) {
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, (int64_t)limit);
  }
  char prev[16] = "";
  int k = 0;
  while (!rc && sqlite3_step(st) == SQLITE_ROW) {
    const char *s = (const char *)sqlite3_column_text(st, 1);
    if (prev[0] && strcmp(prev, s)) {
      rc = cx_buf_puts(out, k++ ? ",{\"at\":" : "{\"at\":");
      if (!rc) rc = cx_buf_json_time(out, sqlite3_column_int64(st, 0));
      if (!rc) rc = cx_buf_printf(out, ",\"from\":\"%s\",\"to\":\"%s\",\"value\":", prev, s);
      if (!rc) rc = sqlite3_column_type(st, 2) == SQLITE_NULL ? cx_buf_puts(out, "null") : gv_put_num(out, sqlite3_column_double(st, 2));
      if (!rc) rc = cx_buf_puts(out, "}");
    }
    snprintf(prev, sizeof prev, "%s", s);
  }
  sqlite3_finalize(st);
  if (!rc) rc = cx_buf_puts(out, "]}");
  store_reader_put(t->cfg.st, db);
  return rc;
}

/* ---- changes ---- */

/* The scope's value names something, on db (a reader). */
static cx_err scope_refs(gv_targets *t, sqlite3 *db, const gv_target_spec *s, analytics_error *err) {
  scope_set x;
  cx_err rc = scope_resolve(t, db, s, &x);
  if (rc == CX_ENOTFOUND)
    return analytics_refuse(err, "invalid_field", "scope_value", "No %s has the id %.60s.", scope_names[s->scope],
                            s->scope_value);
  if (rc) return rc;
  if (s->scope == GV_SCOPE_TOUCHPOINT && /* a touchpoint: named by an answer or a journey map */
      !gv_sql_text(db, "SELECT 1 FROM responses WHERE touchpoint = ?1", 0, s->scope_value, NULL, 0) &&
      !gv_sql_text(db, "SELECT 1 FROM journey_map_versions v JOIN journey_maps m ON m.id = v.map_id AND"
                       " v.version = m.version, json_each(v.doc, '$.stages') sg, json_each(sg.value, '$.touchpoints') tp"
                       " WHERE json_extract(tp.value, '$.name') = ?1", 0, s->scope_value, NULL, 0))
    rc = analytics_refuse(err, "invalid_field", "scope_value", "No answer and no journey map names the touchpoint %.60s.",
                          s->scope_value);
  scope_free(&x);
  return rc;
}

cx_err gv_kpi_scope_refs(gv_targets *t, const gv_target_spec *s, analytics_error *err) {
  sqlite3 *db = store_reader_get(t->cfg.st);
  cx_err rc = scope_refs(t, db, s, err);
  store_reader_put(t->cfg.st, db);
  return rc;
}

/* What names something exists: the scope's value and an enabled owner. */
static cx_err check_refs(gv_targets *t, const gv_target_spec *s, analytics_error *err) {
  sqlite3 *db = store_reader_get(t->cfg.st);
  cx_err rc = CX_OK;
  char disabled[8];
  if (!gv_sql_text(db, "SELECT disabled FROM users WHERE id = ?1", s->owner, NULL, disabled, sizeof disabled) ||
      strcmp(disabled, "0"))
    rc = analytics_refuse(err, "invalid_field", "owner", "owner must be the id of an enabled user (GET /api/v1/users).");
  if (!rc) rc = scope_refs(t, db, s, err);
  store_reader_put(t->cfg.st, db);
  return rc;
}

static void bind_spec(sqlite3_stmt *st, const gv_target_spec *s) {
  sqlite3_bind_text(st, 1, kpi_names[s->kpi], -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, scope_names[s->scope], -1, SQLITE_STATIC);
  if (s->scope_value[0]) sqlite3_bind_text(st, 3, s->scope_value, -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(st, 3);
  sqlite3_bind_int64(st, 4, s->owner);
  sqlite3_bind_double(st, 5, s->target);
  sqlite3_bind_text(st, 6, s->higher ? "higher" : "lower", -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 7, s->period_days);
  sqlite3_bind_int64(st, 8, s->min_n);
  sqlite3_bind_text(st, 9, alert_names[s->alert], -1, SQLITE_STATIC);
  if (s->webhook_url[0]) sqlite3_bind_text(st, 10, s->webhook_url, -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(st, 10);
}

typedef struct {
  int64_t id; /* 0: create (set by the job) */
  const gv_target_spec *s;
  gv_status status;
  double value;
  uint64_t n;
  int64_t now;
  int full, missing;
} write_ctx;

static cx_err add_history(sqlite3 *db, int64_t id, int64_t at, gv_status s, double value, uint64_t n) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO kpi_target_history(target_id, at, status, value, n)"
                             " VALUES(?1, ?2, ?3, ?4, ?5)", -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int64(st, 2, at);
  sqlite3_bind_text(st, 3, status_names[s], -1, SQLITE_STATIC);
  if (isnan(value)) sqlite3_bind_null(st, 4);
  else sqlite3_bind_double(st, 4, value);
  sqlite3_bind_int64(st, 5, (int64_t)n);
  cx_err rc = sqlite3_step(st) == SQLITE_DONE ? CX_OK : CX_EDB;
  sqlite3_finalize(st);
  return rc;
}

static cx_err apply_write(void *ctx, sqlite3 *db) {
  write_ctx *w = ctx;
  sqlite3_stmt *st;
  if (!w->id) {
    int64_t count = 0;
    if (store_step_named(db, "SELECT count(*) FROM kpi_targets", NULL, 0, &count)) return CX_EDB;
    if (count >= GV_TARGET_MAX) return w->full = 1, CX_OK;
  }
  const char *sql = w->id ? "UPDATE kpi_targets SET kpi = ?1, scope_type = ?2, scope_value = ?3, owner_id = ?4,"
                            " target = ?5, direction = ?6, period_days = ?7, min_n = ?8, alert = ?9, webhook_url = ?10,"
                            " status = ?11, value = ?12, n = ?13, checked_at = ?14,"
                            " changed_at = CASE WHEN status = ?11 THEN changed_at ELSE ?14 END, updated_at = ?14"
                            " WHERE id = ?15"
                          : "INSERT INTO kpi_targets(kpi, scope_type, scope_value, owner_id, target, direction,"
                            " period_days, min_n, alert, webhook_url, status, value, n, checked_at, changed_at,"
                            " created_at, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
                            " ?14, ?14, ?14, ?14)";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL)) return CX_EDB;
  bind_spec(st, w->s);
  sqlite3_bind_text(st, 11, status_names[w->status], -1, SQLITE_STATIC);
  if (isnan(w->value)) sqlite3_bind_null(st, 12);
  else sqlite3_bind_double(st, 12, w->value);
  sqlite3_bind_int64(st, 13, (int64_t)w->n);
  sqlite3_bind_int64(st, 14, w->now);
  if (w->id) sqlite3_bind_int64(st, 15, w->id);
  cx_err rc = sqlite3_step(st) == SQLITE_DONE ? CX_OK : CX_EDB;
  sqlite3_finalize(st);
  if (rc) return rc;
  if (w->id && !sqlite3_changes(db)) return w->missing = 1, CX_OK;
  if (!w->id) w->id = sqlite3_last_insert_rowid(db);
  return add_history(db, w->id, w->now, w->status, w->value, w->n);
}

cx_err gv_target_create(gv_targets *t, const cJSON *req, cx_buf *out, cx_buf *after, analytics_error *err) {
  gv_target_spec s;
  cx_err rc = gv_target_check(req, 0, &s, err);
  if (!rc) rc = check_refs(t, &s, err);
  if (rc) return rc;
  write_ctx w = {.s = &s, .now = cx_now_ms()};
  if ((rc = gv_target_measure(t, &s, &w.value, &w.n))) return rc;
  w.status = gv_target_status(w.value, w.n, s.target, s.higher, s.min_n);
  if ((rc = run_job(t, apply_write, &w))) return rc;
  if (w.full) return analytics_refuse(err, "too_many_targets", NULL, "There are %d targets already; delete one first.", GV_TARGET_MAX);
  rc = gv_target_get(t, w.id, out);
  if (!rc) rc = stored_json(t, w.id, after);
  return rc;
}

cx_err gv_target_update(gv_targets *t, int64_t id, const cJSON *req, cx_buf *out, cx_buf *before, cx_buf *after,
                        analytics_error *err) {
  sqlite3 *db = store_reader_get(t->cfg.st);
  target_row *rows;
  size_t n;
  cx_err rc = id > 0 ? rows_load(db, id, &rows, &n) : CX_ENOTFOUND;
  store_reader_put(t->cfg.st, db);
  if (rc) return rc;
  if (!n) {
    cx_free(rows);
    return CX_ENOTFOUND;
  }
  gv_target_spec s = rows[0].s;
  cx_free(rows);
  if ((rc = gv_target_check(req, 1, &s, err)) || (rc = check_refs(t, &s, err))) return rc;
  if ((rc = stored_json(t, id, before))) return rc;
  write_ctx w = {.id = id, .s = &s, .now = cx_now_ms()};
  if ((rc = gv_target_measure(t, &s, &w.value, &w.n))) return rc;
  w.status = gv_target_status(w.value, w.n, s.target, s.higher, s.min_n);
  if ((rc = run_job(t, apply_write, &w))) return rc;
  if (w.missing) return CX_ENOTFOUND;
  rc = gv_target_get(t, id, out);
  if (!rc) rc = stored_json(t, id, after);
  return rc;
}

typedef struct {
  int64_t id;
  int missing;
} delete_ctx;

static cx_err apply_delete(void *ctx, sqlite3 *db) {
  delete_ctx *d = ctx;
  store_param p = {":id", 0, NULL, d->id};
  if (store_step_named(db, "DELETE FROM kpi_targets WHERE id = :id", &p, 1, NULL)) return CX_EDB;
  d->missing = !sqlite3_changes(db);
  return store_step_named(db, "DELETE FROM kpi_target_history WHERE target_id = :id", &p, 1, NULL);
}

cx_err gv_target_delete(gv_targets *t, int64_t id, cx_buf *before) {
  if (id <= 0) return CX_ENOTFOUND;
  cx_err rc = stored_json(t, id, before);
  if (rc) return rc;
  delete_ctx d = {.id = id};
  rc = run_job(t, apply_delete, &d);
  return !rc && d.missing ? CX_ENOTFOUND : rc;
}

/* ---- the scheduler ---- */

/* One target's check, measured before the job. */
typedef struct {
  target_row row;
  double value;
  uint64_t n;
  gv_status status;
  char *subject, *text; /* owned: the alert mail, when status is off and the owner can be mailed */
  char *hook;           /* owned: the webhook's body, when status is off */
  char email[OUTBOX_MAX_ADDRESS + 1];
  char ref[64];
} check;

typedef struct {
  check *c;
  size_t n;
  int64_t now;
  int alert;
  size_t alerts;
} tick_ctx;

static cx_err apply_tick(void *ctx, sqlite3 *db) {
  tick_ctx *x = ctx;
  sqlite3_stmt *sel, *upd;
  if (sqlite3_prepare_v2(db, "SELECT status, updated_at, (SELECT max(at) FROM kpi_target_history WHERE target_id = ?1)"
                             " FROM kpi_targets WHERE id = ?1", -1, &sel, NULL))
    return CX_EDB;
  if (sqlite3_prepare_v2(db, "UPDATE kpi_targets SET status = ?1, value = ?2, n = ?3, checked_at = ?4,"
                             " changed_at = CASE WHEN status = ?1 THEN changed_at ELSE ?4 END WHERE id = ?5",
                         -1, &upd, NULL)) {
    sqlite3_finalize(sel);
    return CX_EDB;
  }
  cx_err rc = CX_OK;
  x->alerts = 0;
  for (size_t i = 0; !rc && i < x->n; i++) {
    check *c = &x->c[i];
    sqlite3_bind_int64(sel, 1, c->row.id);
    int found = sqlite3_step(sel) == SQLITE_ROW;
    /* changed or deleted since it was measured: the next tick sees it */
    int same = found && sqlite3_column_int64(sel, 1) == c->row.updated_at;
    int old = -1;
    int64_t last = 0;
    if (same) old = gv_name_index(status_names, 3, (const char *)sqlite3_column_text(sel, 0)), last = sqlite3_column_int64(sel, 2);
    sqlite3_reset(sel);
    if (!same) continue;
    sqlite3_bind_text(upd, 1, status_names[c->status], -1, SQLITE_STATIC);
    if (isnan(c->value)) sqlite3_bind_null(upd, 2);
    else sqlite3_bind_double(upd, 2, c->value);
    sqlite3_bind_int64(upd, 3, (int64_t)c->n);
    sqlite3_bind_int64(upd, 4, x->now);
    sqlite3_bind_int64(upd, 5, c->row.id);
    if (sqlite3_step(upd) != SQLITE_DONE) rc = CX_EDB;
    sqlite3_reset(upd);
    /* the history: every change of status, and a point an hour otherwise;
     * points past GV_TARGET_HISTORY_DAYS go */
    if (!rc && (old != (int)c->status || x->now - last >= GV_TARGET_HISTORY_EVERY_MS)) {
      rc = add_history(db, c->row.id, x->now, c->status, c->value, c->n);
      store_param pp[2] = {{":id", 0, NULL, c->row.id}, {":before", 0, NULL, x->now - GV_TARGET_HISTORY_DAYS * DAY_MS}};
      if (!rc) rc = store_step_named(db, "DELETE FROM kpi_target_history WHERE target_id = :id AND at < :before", pp, 2, NULL);
    }
    /* the transition into off, seen once: the status above commits with the alert */
    if (rc || !x->alert || c->status != GV_STATUS_OFF || old == GV_STATUS_OFF) continue;
    int sent = 0;
    if ((c->row.s.alert & GV_ALERT_EMAIL) && c->subject) {
      outbox_mail m = {.to = c->email, .subject = c->subject, .text = c->text, .ref = c->ref};
      if (!outbox_mail_check(&m, NULL)) rc = outbox_enqueue_mail_in(db, &m, NULL), sent = 1;
    }
    if (!rc && (c->row.s.alert & GV_ALERT_WEBHOOK) && c->hook) {
      outbox_webhook w = {.url = c->row.s.webhook_url, .event = "kpi.off_target", .body = c->hook, .ref = c->ref};
      if (!outbox_webhook_check(&w, NULL)) rc = outbox_enqueue_webhook_in(db, &w, NULL), sent = 1;
    }
    x->alerts += (size_t)sent;
  }
  sqlite3_finalize(sel);
  sqlite3_finalize(upd);
  return rc;
}

static void fmt_value(gv_kpi k, double v, char *out, size_t cap) {
  if (isnan(v)) snprintf(out, cap, "no value");
  else if (k == GV_KPI_NPS) snprintf(out, cap, "%.1f", v);
  else if (k == GV_KPI_CSAT) snprintf(out, cap, "%.1f%%", v);
  else if (k == GV_KPI_CES) snprintf(out, cap, "%.2f", v);
  else snprintf(out, cap, "%.1f%% (%.3f)", 100 * v, v);
}

/* The alert's mail and webhook body for c (off target), on a reader. */
static cx_err compose_alert(gv_targets *t, sqlite3 *db, check *c, int64_t now) {
  char label[256], owner[256], val[48], tgt[48], base[OUTBOX_MAX_URL + 1], at[CX_TIME_LEN];
  const gv_target_spec *s = &c->row.s;
  scope_label(db, s, label, sizeof label);
  gv_sql_text(db, "SELECT name FROM users WHERE id = ?1", s->owner, NULL, owner, sizeof owner);
  char disabled[8] = "1";
  if (!gv_sql_text(db, "SELECT email FROM users WHERE id = ?1", s->owner, NULL, c->email, sizeof c->email) ||
      !gv_sql_text(db, "SELECT disabled FROM users WHERE id = ?1", s->owner, NULL, disabled, sizeof disabled) ||
      strcmp(disabled, "0"))
    c->email[0] = 0; /* no one to mail */
  fmt_value(s->kpi, c->value, val, sizeof val);
  fmt_value(s->kpi, s->target, tgt, sizeof tgt);
  pthread_mutex_lock(&t->mu);
  snprintf(base, sizeof base, "%s", t->base_url);
  pthread_mutex_unlock(&t->mu);
  cx_time_format(now, at);
  snprintf(c->ref, sizeof c->ref, "kpi-target:%lld", (long long)c->row.id);
  const char *scope = scope_labels[s->scope], *sign = s->higher ? ">=" : "<=";
  cx_buf b;
  cx_buf_init(&b, 64 * 1024);
  cx_err rc = CX_OK;
  if (c->email[0]) {
    rc = cx_buf_printf(&b, "Off target: %s %s%s%s is %s (target %s %s)", kpi_labels[s->kpi],
                       s->scope == GV_SCOPE_COMPANY ? "" : scope, s->scope == GV_SCOPE_COMPANY ? "" : " ",
                       s->scope == GV_SCOPE_COMPANY ? "(company)" : label, val, sign, tgt);
    if (!rc && b.len > OUTBOX_MAX_SUBJECT) b.len = OUTBOX_MAX_SUBJECT, b.p[b.len] = 0;
    if (!rc && !(c->subject = cx_buf_take(&b))) rc = CX_ENOMEM;
    cx_buf_init(&b, 64 * 1024);
    if (!rc)
      rc = cx_buf_printf(&b,
                         "Hello %s,\n\nA KPI you own went off target.\n\n"
                         "KPI:    %s\nScope:  %s %s\nValue:  %s (%llu answers or customers, last %d days)\n"
                         "Target: %s %s\nSince:  %s\n\nThe scorecard: %s/#/scorecard\n\n-- cxm\n",
                         owner[0] ? owner : "there", kpi_labels[s->kpi], scope, label, val, (unsigned long long)c->n,
                         s->period_days, sign, tgt, at, base);
    if (!rc && !(c->text = cx_buf_take(&b))) rc = CX_ENOMEM;
    cx_buf_init(&b, 64 * 1024);
  }
  if (!rc && (s->alert & GV_ALERT_WEBHOOK)) {
    rc = cx_buf_printf(&b, "{\"event\":\"kpi.off_target\",\"at\":\"%s\",\"target\":{", at);
    if (!rc) rc = target_members(db, &c->row, c->value, c->n, c->status, &b);
    if (!rc) rc = cx_buf_puts(&b, "},\"scorecard_url\":");
    if (!rc) {
      char url[OUTBOX_MAX_URL + 32];
      snprintf(url, sizeof url, "%s/#/scorecard", base);
      rc = gv_put_str(&b, url);
    }
    if (!rc) rc = cx_buf_puts(&b, "}");
    if (!rc && !(c->hook = cx_buf_take(&b))) rc = CX_ENOMEM;
  }
  cx_buf_free(&b);
  return rc;
}

/* Every target checked at now (to: the end of what is counted), the
 * history written and, when alert, the transitions into off alerted. */
static cx_err tick_at(gv_targets *t, int64_t now, int64_t to, int alert, size_t *alerts) {
  sqlite3 *db = store_reader_get(t->cfg.st);
  target_row *rows;
  size_t n;
  cx_err rc = rows_load(db, 0, &rows, &n);
  check *c = !rc && n ? cx_calloc(n, sizeof *c) : NULL;
  if (!rc && n && !c) rc = CX_ENOMEM;
  for (size_t i = 0; !rc && i < n; i++) {
    c[i].row = rows[i];
    rc = measure_at(t, db, &rows[i].s, now, to, &c[i].value, &c[i].n);
    c[i].status = gv_target_status(c[i].value, c[i].n, rows[i].s.target, rows[i].s.higher, rows[i].s.min_n);
    if (!rc && alert && c[i].status == GV_STATUS_OFF && rows[i].status != GV_STATUS_OFF && rows[i].s.alert)
      rc = compose_alert(t, db, &c[i], now);
  }
  store_reader_put(t->cfg.st, db);
  tick_ctx x = {.c = c, .n = n, .now = now, .alert = alert};
  if (!rc && n) rc = run_job(t, apply_tick, &x);
  if (!rc && x.alerts && t->cfg.ob) outbox_kick(t->cfg.ob);
  if (alerts) *alerts = rc ? 0 : x.alerts;
  for (size_t i = 0; c && i < n; i++) cx_free(c[i].subject), cx_free(c[i].text), cx_free(c[i].hook);
  cx_free(c);
  cx_free(rows);
  return rc;
}

cx_err gv_targets_tick(gv_targets *t, size_t *alerts) { return tick_at(t, cx_now_ms(), CX_TIME_MAX, 1, alerts); }

cx_err gv_targets_backfill(gv_targets *t, int64_t at) { return tick_at(t, at, at + 1, 0, NULL); }

static void scheduled(void *arg) {
  cx_err rc = gv_targets_tick(arg, NULL);
  if (rc && rc != CX_ESTOPPED) cx_log("error", "target_scheduler_failed", "error", cx_strerror(rc), NULL);
}

cx_err gv_targets_open(const gv_targets_cfg *cfg, gv_targets **out) {
  gv_targets *t = cx_calloc(1, sizeof *t);
  if (!t) return CX_ENOMEM;
  t->cfg = *cfg;
  t->cfg.base_url = NULL;
  pthread_mutex_init(&t->mu, NULL);
  snprintf(t->base_url, sizeof t->base_url, "%s", cfg->base_url ? cfg->base_url : "http://127.0.0.1:8080");
  *out = t;
  return CX_OK;
}

void gv_targets_set_base_url(gv_targets *t, const char *url) {
  pthread_mutex_lock(&t->mu);
  snprintf(t->base_url, sizeof t->base_url, "%s", url);
  pthread_mutex_unlock(&t->mu);
}

cx_err gv_targets_start(gv_targets *t, int64_t tick_ms) {
  return cx_ticker_start(tick_ms > 0 ? tick_ms : DEFAULT_TICK_MS, scheduled, t, &t->ticker);
}

void gv_targets_close(gv_targets *t) {
  if (!t) return;
  cx_ticker_stop(t->ticker);
  pthread_mutex_destroy(&t->mu);
  cx_free(t);
}
