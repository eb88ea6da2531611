/* initiatives.h - CX improvement initiatives (docs/initiatives.md): the
 * things an organisation does about what its customers say. Each has a
 * title, an owner (an enabled user), a status (idea, planned,
 * in_progress, done, dropped), the root causes (the cases' tree) and
 * themes (the verbatims' catalogue) it answers, the KPI at a scope it
 * should move (as a KPI target names one) with the change expected, and
 * its RICE inputs: reach (customers a quarter), impact (0.25, 0.5, 1, 2
 * or 3), confidence (%) and effort (person-months); its score is reach ×
 * impact × confidence / 100 / effort.
 *
 * Once started, an initiative is measured: its KPI over the measure_days
 * before started_at against the measure_days from done_at (or, until it
 * is done, from started_at), with the two-sided test of no change
 * (gv_kpi_compare_windows), and the cases with its root causes in the
 * same two windows. Nothing measured is stored: it is computed when
 * asked, from the answers, events and cases as they are then.
 *
 * Requests are checked whole before anything is written (CX_EINVAL with
 * err: code, field, message; nothing stored). Every function is
 * thread-safe; strings given are used during the call only. */
#ifndef CX_GOVERN_INITIATIVES_H
#define CX_GOVERN_INITIATIVES_H
#include "targets.h"

#define GV_INITIATIVE_MAX 500           /* initiatives in all */
#define GV_INITIATIVE_TITLE_MAX 200     /* bytes */
#define GV_INITIATIVE_TEXT_MAX 4000     /* bytes of a description */
#define GV_INITIATIVE_LINKS_MAX 20      /* root causes, and themes, of one */
#define GV_INITIATIVE_DEFAULT_DAYS 30   /* measure_days */
#define GV_INITIATIVE_MAX_DAYS 366
#define GV_INITIATIVE_REACH_MAX 1000000000LL
#define GV_INITIATIVE_EFFORT_MAX 1000.0 /* person-months */
#define GV_INITIATIVE_THEME_DAYS 90     /* the themes' evidence: the verbatims of the last 90 days */

#define GV_INITIATIVE_THEME_MAX 63      /* bytes of a theme's name */

enum { GV_INITIATIVE_IDEA, GV_INITIATIVE_PLANNED, GV_INITIATIVE_IN_PROGRESS, GV_INITIATIVE_DONE, GV_INITIATIVE_DROPPED };

/* An initiative as a request describes it (plain data). Numbers not
 * given are NAN (reach: -1). */
typedef struct {
  char title[GV_INITIATIVE_TITLE_MAX + 1];
  char description[GV_INITIATIVE_TEXT_MAX + 1];
  int64_t owner; /* users.id */
  int status;    /* GV_INITIATIVE_* */
  int has_kpi;
  gv_target_spec k; /* kpi, scope and scope_value when has_kpi; the rest unused */
  double expected, impact, confidence, effort;
  int64_t reach;
  int64_t roots[GV_INITIATIVE_LINKS_MAX]; /* root_causes ids, each once */
  size_t nroots;
  char themes[GV_INITIATIVE_LINKS_MAX][GV_INITIATIVE_THEME_MAX + 1]; /* each once */
  size_t nthemes;
  int measure_days;
  int64_t started_at, done_at; /* 0: not set */
} gv_initiative_spec;

/* Checks req without a store (the shape, the ranges, the status and its
 * dates at now). partial (PATCH): only what req holds is checked and
 * copied over *spec, which holds the initiative as it is; else *spec is
 * filled from req and its defaults. What names something (owner,
 * scope_value, root causes, themes) is checked to exist by
 * gv_initiative_create/update. CX_EINVAL with err, *spec unchanged. */
cx_err gv_initiative_check(const cJSON *req, int partial, gv_initiative_spec *spec, int64_t now, analytics_error *err);

/* {"initiatives":[INITIATIVE…],"summary":{"idea":N,…,"dropped":N}}, the
 * highest score first (no score last), then the newest. status (NULL:
 * all) and owner (0: all) filter the list, not the summary. CX_EINVAL
 * for an unknown status. */
cx_err gv_initiatives_list(gv_targets *t, const char *status, int64_t owner, cx_buf *out, analytics_error *err);
/* INITIATIVE: the stored members (docs/initiatives.md) and score,
 * root_causes [{id, name, cases}], themes [{name, volume, share,
 * nps_impact}], and measurement (null without a KPI) {verdict, before,
 * after, change, z, p_value, significant, expected_change,
 * root_cause_cases}. CX_ENOTFOUND. */
cx_err gv_initiative_get(gv_targets *t, int64_t id, cx_buf *out);
/* 201: the new initiative. after (may be NULL) gets its stored form, for
 * the audit. CX_EINVAL with err; CX_EINVAL (too_many_initiatives) past
 * GV_INITIATIVE_MAX. */
cx_err gv_initiative_create(gv_targets *t, const cJSON *req, cx_buf *out, cx_buf *after, analytics_error *err);
/* Changes what req holds; only the references req gives are checked to
 * exist (a disabled owner does not block a move). Moving to in_progress
 * sets started_at (and to done, done_at) to now unless req gives it or it
 * is set; back to idea or planned clears both; to in_progress clears
 * done_at; to dropped keeps both. The write is made over the row as it
 * was read (compare and set on updated_at, read again up to 8 times):
 * two PATCHes at once both land. CX_EBUSY when it kept changing. */
cx_err gv_initiative_update(gv_targets *t, int64_t id, const cJSON *req, cx_buf *out, cx_buf *before, cx_buf *after,
                            analytics_error *err);
cx_err gv_initiative_delete(gv_targets *t, int64_t id, cx_buf *before);

/* The RICE score: reach × impact × confidence / 100 / effort. */
double gv_rice_score(int64_t reach, double impact, double confidence, double effort);

#endif
