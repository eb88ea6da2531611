/* feedback.h - listening: surveys, their responses and the NPS, CSAT and
 * CES statistics over them (docs/surveys.md, docs/feedback-metrics.md).
 *
 * Surveys live in the store (tables surveys and survey_versions), every
 * saved version kept: editing a live survey makes a new version and each
 * response keeps the version it answered. A response is a track event
 * ("Survey Responded") that goes through the ingest pipeline like any
 * other, so it resolves to a customer and shows on the timeline; the
 * ingest listener writes the response row in the same transaction, and
 * the scored answers go into an in-memory index, published at commit,
 * that the metrics read. Every function is thread-safe. A request is
 * checked whole before anything is written: CX_EINVAL with err filled,
 * and nothing stored. */
#ifndef CX_FEEDBACK_H
#define CX_FEEDBACK_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include "../analytics/analytics.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../ingest/ingest.h"
#include "../profile/profile.h"
#include "../store/store.h"

#define FEEDBACK_MAX_QUESTIONS 50
#define FEEDBACK_MAX_OPTIONS 30
#define FEEDBACK_MAX_TEXT 10000   /* characters of a text answer */
#define FEEDBACK_MAX_LANGUAGES 20
#define FEEDBACK_MAX_CONTEXT 100  /* bytes of a context value (channel…) */
#define FEEDBACK_MAX_KEYS 4096    /* distinct values per context field */

typedef struct feedback feedback;

/* Loads the response index from the store and registers the ingest
 * listener: call after ingest_open and before ingest_start. The modules
 * are borrowed and must outlive it. */
cx_err feedback_open(store *st, profile *pr, ingest *in, feedback **out);
void feedback_close(feedback *f);

/* ---- surveys ---- */
/* Creates a survey from req (docs/surveys.md); status "live" unless req
 * says "draft". CX_EEXIST when the name is taken. Appends the survey. */
cx_err feedback_survey_create(feedback *f, const cJSON *req, cx_buf *out, analytics_error *err);
/* Saves req over survey id: a draft is changed in place, a live or closed
 * survey gets a new version. CX_ENOTFOUND, CX_EEXIST. */
cx_err feedback_survey_update(feedback *f, int64_t id, const cJSON *req, cx_buf *out,
                              analytics_error *err);
/* status: "live" (publish or reopen), "closed" or "draft" (only while no
 * response exists). */
cx_err feedback_survey_set_status(feedback *f, int64_t id, const char *status, cx_buf *out,
                                  analytics_error *err);
/* Deletes a survey that has no responses; CX_EEXIST when it has some. */
cx_err feedback_survey_delete(feedback *f, int64_t id, analytics_error *err);
/* {"surveys":[{id, name, kind, status, version, questions, responses, …}…]} */
cx_err feedback_surveys_list(feedback *f, cx_buf *out);
/* Survey id at version (0: the latest). */
cx_err feedback_survey_get(feedback *f, int64_t id, int64_t version, cx_buf *out);

/* A survey as the respondent page draws it: borrowed from the cache
 * until feedback_survey_release. */
typedef struct feedback_survey feedback_survey;
cx_err feedback_survey_acquire(feedback *f, int64_t id, const feedback_survey **out);
void feedback_survey_release(feedback *f, const feedback_survey *s);

/* ---- responses ---- */
/* Who answered: at least one of user_id, anonymous_id (email alone is
 * joined to a new anonymous id). Borrowed strings. */
typedef struct {
  const char *user_id, *anonymous_id, *email;
} feedback_who;
/* Where: borrowed strings, each NULL or 1..FEEDBACK_MAX_CONTEXT bytes. */
typedef struct {
  const char *channel, *touchpoint, *unit, *agent, *language;
} feedback_context;

/* POST /surveys/{id}/responses: checks req (customer, answers, context,
 * submitted_at), ingests it and writes *id_out, *customer_out. */
cx_err feedback_respond(feedback *f, int64_t survey, const cJSON *req, int64_t *id_out,
                        int64_t *customer_out, analytics_error *err);
/* Many responses of one survey (an array of the objects above) in one
 * transaction: all are checked first, and none is stored if one fails
 * (err's field then starts "responses[i]"). ids gets one id each. */
#define FEEDBACK_MAX_BATCH 1000
cx_err feedback_respond_batch(feedback *f, int64_t survey, const cJSON *reqs, int64_t *ids, analytics_error *err);
/* The respondent page's submission: answers as a JSON object (already
 * converted from the form), complete = 0 for a partial answer kept while
 * the respondent goes on. link: the personal link's id or NULL; when a
 * response of that link exists it is replaced. */
cx_err feedback_respond_page(feedback *f, int64_t survey, const cJSON *answers, int complete,
                             const feedback_who *who, const feedback_context *ctx, const char *link,
                             int64_t *id_out, analytics_error *err);
/* Lists responses of a survey, newest first, after cursor (0: from the
 * newest): {"responses":[…],"next_cursor":"…"|null}. */
cx_err feedback_responses_list(feedback *f, int64_t survey, int64_t cursor, size_t limit, cx_buf *out);

/* ---- metrics ---- */
typedef enum { FEEDBACK_NPS, FEEDBACK_CSAT, FEEDBACK_CES } feedback_metric_kind;
typedef struct {
  int64_t survey;          /* 0: every survey */
  const char *question;    /* NULL: every question of the metric's type */
  int64_t from, to;        /* [from, to) on submitted_at */
  const char *by;          /* NULL, "channel", "touchpoint", "unit", "agent", "survey" */
  const char *interval;    /* NULL, "day", "week", "month", "quarter" */
  int64_t compare_from, compare_to; /* a second period to test against; 0, 0: none */
} feedback_query;
cx_err feedback_metric(feedback *f, feedback_metric_kind kind, const feedback_query *q, cx_buf *out,
                       analytics_error *err);

/* ---- verbatims (text answers) and themes ---- */
typedef struct {
  int64_t survey;         /* 0: every survey */
  const char *sentiment;  /* NULL, "positive", "neutral", "negative" */
  const char *theme;      /* NULL or a theme's name */
  const char *q;          /* NULL or words the text contains */
  int64_t from, to;       /* [from, to) on submitted_at */
  int64_t cursor;         /* 0: from the newest */
  size_t limit;
} feedback_verbatim_query;
/* {"responses":[{id, response_id, survey_id, question, customer_id,
 * submitted_at, text, score, sentiment:{score,label}, themes, context}…],
 * "next_cursor":…} newest first. */
cx_err feedback_verbatims(feedback *f, const feedback_verbatim_query *q, cx_buf *out, analytics_error *err);
/* {"n":N,"themes":[{name, volume, share, sentiment, rated, nps_with,
 * nps_without, nps_impact, detractor_share, phrases:[{phrase,count}]}…],
 * "catalogue":[…]} over the verbatims of [from, to). */
cx_err feedback_themes(feedback *f, int64_t survey, int64_t from, int64_t to, cx_buf *out, analytics_error *err);

typedef struct {
  uint64_t responses, scores; /* in the index */
} feedback_stats;
void feedback_get_stats(feedback *f, feedback_stats *out);

#endif
