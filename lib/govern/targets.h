/* targets.h - owners and targets for the CX KPIs (docs/targets.md): each
 * target names a KPI at a scope (the company, a unit's subtree, a
 * touchpoint, a journey map's touchpoints, a segment, a survey), an owner
 * (an enabled user), a target value and direction, the period it is
 * measured over and the answers it needs (min_n). Its status is "on" when
 * the value meets the target, "off" when not, and "unknown" below min_n.
 *
 * The status is computed when asked (GET) and by a scheduler thread that
 * stores each check's status, records the history (every change of
 * status, and a point an hour between) and, when a target goes from on or
 * unknown to off, alerts its owner by e-mail and/or a signed webhook
 * through lib/outbox. The new status and the alert are written in one
 * store job, so there is exactly one alert per transition, across a
 * restart too. A target's first status, computed at creation, is its
 * baseline: it raises no alert.
 *
 * Requests are checked whole before anything is written (CX_EINVAL with
 * err: code, field, message; nothing stored). Every function is
 * thread-safe. Strings given are used during the call only. */
#ifndef CX_GOVERN_TARGETS_H
#define CX_GOVERN_TARGETS_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include "govern.h"
#include "../analytics/analytics.h"
#include "../feedback/feedback.h"
#include "../outbox/outbox.h"

#define GV_TARGET_MAX 1000          /* targets in all */
#define GV_TARGET_MAX_PERIOD 366    /* days */
#define GV_TARGET_MAX_MIN_N 1000000
#define GV_TARGET_DEFAULT_MIN_N 30
#define GV_TARGET_DEFAULT_PERIOD 30 /* days */
#define GV_TARGET_MAX_VALUE 200     /* bytes of a scope value */
#define GV_TARGET_SERIES 12         /* points of a scorecard sparkline */
#define GV_TARGET_HISTORY_MAX 1000  /* points per GET …/history */
#define GV_TARGET_HISTORY_EVERY_MS (3600 * 1000LL) /* a history point an hour, and at each change */
#define GV_TARGET_HISTORY_DAYS 400  /* points older than this are deleted */

typedef enum {
  GV_KPI_NPS, GV_KPI_CSAT, GV_KPI_CES,
  GV_KPI_ACTIVATION, GV_KPI_REPEAT, GV_KPI_LOYALTY, GV_KPI_CHURN,
  GV_KPI_COUNT
} gv_kpi;
typedef enum {
  GV_SCOPE_COMPANY, GV_SCOPE_UNIT, GV_SCOPE_TOUCHPOINT, GV_SCOPE_JOURNEY, GV_SCOPE_SEGMENT, GV_SCOPE_SURVEY,
  GV_SCOPE_COUNT
} gv_scope;
typedef enum { GV_STATUS_UNKNOWN, GV_STATUS_ON, GV_STATUS_OFF } gv_status;
enum { GV_ALERT_NONE = 0, GV_ALERT_EMAIL = 1, GV_ALERT_WEBHOOK = 2, GV_ALERT_BOTH = 3 };

/* A target as a request describes it (plain data). */
typedef struct {
  gv_kpi kpi;
  gv_scope scope;
  char scope_value[GV_TARGET_MAX_VALUE + 1]; /* "" for the company */
  int64_t owner;                             /* users.id */
  double target;
  int higher;      /* 1: on when value >= target; 0: on when value <= target */
  int period_days; /* 1..GV_TARGET_MAX_PERIOD */
  int64_t min_n;   /* 1..GV_TARGET_MAX_MIN_N */
  int alert;       /* GV_ALERT_* */
  char webhook_url[OUTBOX_MAX_URL + 1]; /* with GV_ALERT_WEBHOOK or BOTH */
} gv_target_spec;

const char *gv_kpi_name(gv_kpi k);
const char *gv_scope_name(gv_scope s);
const char *gv_status_name(gv_status s);
/* 1 when KPI k can be measured at scope s: the feedback KPIs (nps, csat,
 * ces) at every scope, the rates (activation, repeat, loyalty, churn) at
 * the company and a segment only. */
int gv_kpi_supports(gv_kpi k, gv_scope s);
/* The range a target of k may take: NPS -100..100, CSAT 0..100 (%), CES
 * 1..7, rates 0..1. */
void gv_kpi_range(gv_kpi k, double *lo, double *hi);

/* The status rule: unknown when value is NaN or n < min_n; else on when
 * value meets target in its direction, off otherwise. */
gv_status gv_target_status(double value, uint64_t n, double target, int higher, int64_t min_n);

/* Checks req without a store (the shape, the names, the ranges, the
 * KPI's scopes). partial (PATCH): only what req holds is checked and
 * copied over *spec, which must hold the target as it is; else *spec is
 * filled from req and its defaults. What names something (scope_value,
 * owner) is checked to exist by gv_target_create/update. CX_EINVAL with
 * err. */
cx_err gv_target_check(const cJSON *req, int partial, gv_target_spec *spec, analytics_error *err);

typedef struct gv_targets gv_targets;
typedef struct {
  store *st;
  profile *pr;
  feedback *fb;
  analytics_segments *seg; /* may be NULL: no segment scope */
  govern *gv;
  outbox *ob;              /* may be NULL: alerts stay queued */
  const char *base_url;    /* the dashboard's address for the alerts' link; copied */
} gv_targets_cfg;

/* The modules are borrowed and must outlive it. */
cx_err gv_targets_open(const gv_targets_cfg *cfg, gv_targets **out);
/* Replaces the base URL of the alerts' link (once the port is known). */
void gv_targets_set_base_url(gv_targets *t, const char *url);
/* Starts the scheduler: a check every tick_ms (0: 5 minutes). The store's
 * writer must run; gv_targets_close stops it (before the writer stops). */
cx_err gv_targets_start(gv_targets *t, int64_t tick_ms);
void gv_targets_close(gv_targets *t);
/* One scheduler check now, on the caller's thread: every target
 * computed, its history recorded and alerts enqueued. *alerts (may be
 * NULL) gets the number of alerts enqueued. */
cx_err gv_targets_tick(gv_targets *t, size_t *alerts);
/* A check as of the past time at (the answers and events before it),
 * recorded in the history without alerts: cxm demo fills the trend. */
cx_err gv_targets_backfill(gv_targets *t, int64_t at);

/* The value and n of one target's KPI now (NAN, 0 when there are no
 * answers or no customers to count). */
cx_err gv_target_measure(gv_targets *t, const gv_target_spec *s, double *value, uint64_t *n);

/* ---- a KPI at a scope, for the initiatives (initiatives.h) ---- */
/* Checks kpi, scope and scope_value of req into *spec (the rest of it
 * untouched); partial: only what req holds. Other members are not
 * looked at. CX_EINVAL with err. */
cx_err gv_kpi_scope_check(const cJSON *req, int partial, gv_target_spec *spec, analytics_error *err);
/* The scope's value names something that exists. CX_EINVAL with err. */
cx_err gv_kpi_scope_refs(gv_targets *t, const gv_target_spec *s, analytics_error *err);
/* The store and the feedback module it was opened with (borrowed). */
store *gv_targets_store(gv_targets *t);
feedback *gv_targets_feedback(gv_targets *t);
/* "NPS", "Churn rate"… */
const char *gv_kpi_label(gv_kpi k);
/* What the scope names, for people ("Company", a unit's name…), read on
 * db (a reader the caller holds). */
void gv_kpi_scope_label(sqlite3 *db, const gv_target_spec *s, char *out, size_t cap);
/* The KPI of s (its kpi, scope and scope_value; the scope resolved on
 * db, a reader the caller holds) over [afrom, ato)
 * against [bfrom, bto): each value and n (NAN, 0 without answers or
 * customers), change = after - before, and the two-sided test of no
 * change: z and p (NAN when either side has fewer than 2). The test is
 * feedback_metric's for NPS, CSAT and CES (docs/feedback-metrics.md) and
 * the pooled two-proportion z test for the rates. A scope that names
 * nothing any more counts nothing. CX_EINVAL for an empty window. */
typedef struct {
  double before, after, change, z, p;
  uint64_t n_before, n_after;
} gv_kpi_compare;
cx_err gv_kpi_compare_windows(gv_targets *t, sqlite3 *db, const gv_target_spec *s, int64_t bfrom, int64_t bto,
                              int64_t afrom, int64_t ato, gv_kpi_compare *out);

/* ---- the API (lib/http/targets.c). after/before, when not NULL, get
 * the target's JSON for the audit. ---- */
/* {"targets":[TARGET…]}: each computed now. */
cx_err gv_targets_list(gv_targets *t, cx_buf *out);
/* TARGET: {id, kpi, scope, scope_value, scope_label, owner, owner_name,
 * target, direction, period_days, min_n, alert, webhook_url, value, n,
 * status, checked_at, changed_at, created_at, updated_at}: value, n and
 * status computed now. CX_ENOTFOUND. */
cx_err gv_target_get(gv_targets *t, int64_t id, cx_buf *out);
/* 201: the new target with its first status (the baseline). CX_EINVAL
 * (scope_value naming nothing, owner not an enabled user…), CX_EFULL
 * past GV_TARGET_MAX. */
cx_err gv_target_create(gv_targets *t, const cJSON *req, cx_buf *out, cx_buf *after, analytics_error *err);
/* Changes what req holds; a changed definition starts a new baseline
 * (status recomputed, no alert). */
cx_err gv_target_update(gv_targets *t, int64_t id, const cJSON *req, cx_buf *out, cx_buf *before, cx_buf *after,
                        analytics_error *err);
/* Deletes the target and its history. */
cx_err gv_target_delete(gv_targets *t, int64_t id, cx_buf *before);
/* {"target_id","history":[{at,status,value,n}…],"transitions":[{at,from,to,value}…]} oldest first, the last
 * `limit` checks. */
cx_err gv_target_history(gv_targets *t, int64_t id, size_t limit, cx_buf *out);
/* {"targets":[TARGET + "series":[{at,value}…]…],"summary":{"on","off","unknown"}} */
cx_err gv_scorecard(gv_targets *t, cx_buf *out);

#endif
