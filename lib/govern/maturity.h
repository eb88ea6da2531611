/* maturity.h - the CX maturity self-assessment (docs/maturity.md).
 *
 * The model is data (maturity_model.c): ten components, each answered on
 * a 1-5 scale from 3 to 5 concrete statements, and five levels. An
 * assessment is every statement answered; its result is each component's
 * score (the mean of its statements) and the overall score (the mean of
 * the component scores), each mapped to a level, and the next step for
 * the weakest components. Scores are kept in hundredths (3.25 is 325) so
 * that a level is decided on exactly the number that is shown.
 *
 * Evidence is what cxm can measure of its own use (live surveys, scores
 * per touchpoint, journey maps, triggers, units and users, the audit log,
 * cases within SLA...); it is computed when asked and saved with each
 * assessment, and suggests a score that the assessor is free to ignore.
 *
 * Assessments live in the table maturity_assessments (migration 11),
 * written through the writer thread; the result is saved as it was
 * computed, so the history keeps its meaning when the model's texts
 * change. Every function is thread-safe. Ownership: output goes to the
 * caller's cx_buf; nothing returned here needs freeing. */
#ifndef CX_GOVERN_MATURITY_H
#define CX_GOVERN_MATURITY_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include "../analytics/analytics.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../store/store.h"

#define GV_MATURITY_COMPONENTS 10
#define GV_MATURITY_LEVELS 5
#define GV_MATURITY_MAX_STATEMENTS 5 /* per component; at least 3 */
#define GV_MATURITY_RECOMMENDATIONS 3 /* the weakest components that get a next step */
#define GV_MATURITY_NOTE_MAX 2000    /* bytes of an assessment's note */
#define GV_MATURITY_ID_MAX 40        /* bytes of a statement id */

typedef struct {
  const char *id;   /* "culture_1": the key of its answer */
  const char *text; /* an observable practice, true or not of the organisation */
} gv_maturity_statement;

typedef struct {
  const char *id, *name, *description;
  size_t nstatements;
  gv_maturity_statement statements[GV_MATURITY_MAX_STATEMENTS];
  /* what to do next, for a component at each level (Initiate first) */
  const char *next_step[GV_MATURITY_LEVELS];
} gv_maturity_component;

typedef struct {
  const char *id, *name, *description;
  int from; /* the lowest score of the level, in hundredths */
} gv_maturity_level;

/* The model, in its order: that order breaks ties between components. */
extern const gv_maturity_component gv_maturity_model[GV_MATURITY_COMPONENTS];
extern const gv_maturity_level gv_maturity_levels[GV_MATURITY_LEVELS];
/* What 1..5 mean: gv_maturity_scale[answer - 1]. */
extern const char *const gv_maturity_scale[5];

/* One answer per statement: answer[c][s] of gv_maturity_model[c]'s
 * statement s, 1..5. */
typedef struct {
  int answer[GV_MATURITY_COMPONENTS][GV_MATURITY_MAX_STATEMENTS];
} gv_maturity_answers;

typedef struct {
  int component[GV_MATURITY_COMPONENTS];       /* hundredths, 100..500 */
  int component_level[GV_MATURITY_COMPONENTS]; /* index into gv_maturity_levels */
  int overall, overall_level;
  /* component indexes, weakest first (ties: model order) */
  int weakest[GV_MATURITY_RECOMMENDATIONS];
} gv_maturity_result;

/* The level (index into gv_maturity_levels) of a score in hundredths. */
int gv_maturity_level_of(int hundredths);

/* Checks an assessment request {"answers":{id:1..5,...},"note":"..."}:
 * every statement answered once with a whole number from 1 to 5, nothing
 * else. CX_EINVAL with err naming the field ("answers.culture_1"); on
 * CX_OK *out holds the answers and *note the note (NULL when none;
 * borrowed from req). */
cx_err gv_maturity_check(const cJSON *req, gv_maturity_answers *out, const char **note, analytics_error *err);

/* Scores a checked assessment. */
void gv_maturity_score(const gv_maturity_answers *a, gv_maturity_result *out);

/* The model as JSON: {"scale":[...],"levels":[...],"components":[...],
 * "recommendations":N} (GET /api/v1/maturity/model). */
cx_err gv_maturity_model_json(cx_buf *out);

/* {"computed_at":ISO,"evidence":[{id, component, text, figures,
 * suggested_score}...]}: what cxm measures of itself at now_ms (GET
 * /api/v1/maturity/evidence). */
cx_err gv_maturity_evidence(store *st, int64_t now_ms, cx_buf *out);

/* Checks req, scores it, gathers the evidence at now_ms and saves the
 * assessment for actor (the caller's audit name, copied); writes the
 * saved assessment to out (as gv_maturity_get). Nothing is saved on
 * CX_EINVAL. */
cx_err gv_maturity_create(store *st, const cJSON *req, const char *actor, int64_t now_ms, cx_buf *out,
                          analytics_error *err);

/* {"assessments":[{id, created_at, actor, note, overall, components}...],
 * "next_cursor":...}: newest first, after cursor (an id; 0 for the
 * newest), at most limit. */
cx_err gv_maturity_list(store *st, int64_t cursor, size_t limit, cx_buf *out);

/* One assessment: {id, created_at, actor, note, overall, components,
 * recommendations, evidence, answers}; CX_ENOTFOUND. */
cx_err gv_maturity_get(store *st, int64_t id, cx_buf *out);

/* CX_ENOTFOUND when there is no such assessment. */
cx_err gv_maturity_delete(store *st, int64_t id);

#endif
