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

/* [writer] Inside a store job: response (a row the job deletes) leaves
 * every figure at the commit, its customer and score cleared from the
 * index; a rollback keeps it. For erasure (lib/privacy). */
cx_err feedback_forget_response(feedback *f, int64_t response);

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

/* ---- personal links (links.c, docs/respondent-page.md) ----
 * A token is base64url (no padding) of: a version byte, the survey id, a
 * random link id, the expiry, one identity of the respondent, and an
 * HMAC-SHA256 of all that under a server secret kept in the store's meta
 * table (made at first use). Nothing in it is secret but the MAC; the
 * identity is readable by whoever holds the link. */
#define FEEDBACK_LINK_MAX 512   /* characters of a token, at most */
#define FEEDBACK_LINK_ID_LEN 24 /* hex characters of a link id */
typedef enum {
  FEEDBACK_LINK_VALID = 0,
  FEEDBACK_LINK_FORGED,       /* malformed, cut short, or not signed by this server */
  FEEDBACK_LINK_EXPIRED,      /* signed, but past its expiry */
  FEEDBACK_LINK_OTHER_SURVEY  /* signed, but for another survey */
} feedback_link_status;
/* A checked link. who points into ident: use it in place, do not copy
 * the struct. */
typedef struct {
  int64_t survey, expires_at;
  char id[FEEDBACK_LINK_ID_LEN + 1];
  char ident[PROFILE_ID_MAX + 1];
  feedback_who who;
} feedback_link;
/* Loads (or, the first time, creates) the key that signs personal links,
 * so that feedback_link_make and _check need no store job after it: call
 * it before making links inside another store job. */
cx_err feedback_link_key_load(feedback *f);
/* Writes a new personal link's token (NUL-terminated) for survey into
 * out[cap]. who holds exactly one of user_id, anonymous_id and email (1 to
 * PROFILE_ID_MAX bytes of UTF-8); expires_at in ms since the epoch.
 * CX_EINVAL for a bad who, CX_ETOOBIG when cap is short (FEEDBACK_LINK_MAX
 * + 1 always fits); the survey is not looked up. */
cx_err feedback_link_make(feedback *f, int64_t survey, const feedback_who *who, int64_t expires_at,
                          char *out, size_t cap);
/* Checks token[0..len) against survey (0: any) at now (ms): *status says
 * why a link is refused; out is filled whenever the token is signed by
 * us (VALID, EXPIRED, OTHER_SURVEY): an expired link still unsubscribes. Comparison of the MAC is
 * in constant time. Errors (CX_EDB, CX_ENOMEM) only for the key's load. */
cx_err feedback_link_check(feedback *f, const char *token, size_t len, int64_t survey, int64_t now,
                           feedback_link *out, feedback_link_status *status);
/* The answers kept for link in survey (the response of that link not yet
 * replaced): *answers (caller frees; NULL when there is none) and
 * *complete. */
cx_err feedback_partial_get(feedback *f, int64_t survey, const char *link, cJSON **answers, int *complete);

/* ---- the respondent page (page.c, docs/respondent-page.md) ----
 * Server-rendered HTML for GET/POST /s/{survey}; the HTTP layer chooses
 * the link, the language and what to show, these write the markup. Every
 * text written is escaped. Questions are laid out on pages: a page ends
 * before the first question whose show_if reads an answer on the same
 * page, so that show-if works without JavaScript. */
/* "draft", "live" or "closed" */
const char *feedback_survey_status(const feedback_survey *s);
/* One decoded form field (NUL-terminated UTF-8). */
typedef struct {
  const char *key, *value;
} feedback_field;
#define FEEDBACK_PAGE_MESSAGE 240
/* What is wrong with a posted page: by question, and about the form. */
typedef struct {
  size_t n;
  struct {
    char question[41];
    char message[FEEDBACK_PAGE_MESSAGE];
  } at[FEEDBACK_MAX_QUESTIONS];
  char form[FEEDBACK_PAGE_MESSAGE]; /* "" or a message not about one question */
} feedback_page_errors;
typedef struct {
  const char *lang;   /* from feedback_page_lang */
  const char *action; /* the form's action, such as "/s/12" */
  const char *token;  /* a personal link's token (a hidden field), or NULL */
  int page;
  const cJSON *answers;               /* what to show as chosen or typed; may be NULL */
  const feedback_page_errors *errors; /* NULL: none */
  int answered;                       /* 1: answered already (a note says a new send replaces it) */
} feedback_page_view;
/* The language to write in: wanted (a tag such as de-DE, or NULL) when the
 * survey has texts in it or its base (de), else the survey's own. Into
 * out[16]; returns out. */
const char *feedback_page_lang(const feedback_survey *s, const char *wanted, char out[16]);
int feedback_page_count(const feedback_survey *s);
/* The first page at or after from with a question shown for answers; -1
 * when there is none (the survey is done). */
int feedback_page_next(const feedback_survey *s, int from, const cJSON *answers);
/* Where a respondent with kept answers goes on: the page after the last
 * one holding an answer (0 without answers); -1 when none is left. */
int feedback_page_resume(const feedback_survey *s, const cJSON *answers);
/* Converts the fields posted for page (the hidden fields already taken
 * out) and merges them over kept (NULL: none): *answers (caller frees)
 * holds kept's answers of other pages, this page's as posted (a text
 * longer than allowed included, for the page to show it again), and no
 * answer of a question show_if now hides. CX_EINVAL with errs filled when
 * something is wrong: an unknown field or one of another page, a field
 * given twice, a value of the wrong type or out of range, a text too long,
 * a required answer missing; *answers is set all the same. */
cx_err feedback_page_read(const feedback_survey *s, const char *lang, int page, const feedback_field *fields,
                          size_t n, const cJSON *kept, cJSON **answers, feedback_page_errors *errs);
/* Puts a refusal of feedback_respond_page (CX_EINVAL's err) into errs as
 * the respondent should read it: at its question, or about the form. */
void feedback_page_refusal(const feedback_survey *s, const char *lang, const analytics_error *err,
                           feedback_page_errors *errs);
/* Appends the page's whole HTML document. */
cx_err feedback_page_html(const feedback_survey *s, const feedback_page_view *v, cx_buf *out);
/* The thank-you page: the survey's thanks text or a default; again_url
 * (NULL: none) links to "change my answers". */
cx_err feedback_page_thanks(const feedback_survey *s, const char *lang, const char *again_url, cx_buf *out);
typedef enum {
  FEEDBACK_NOTICE_NOT_FOUND, FEEDBACK_NOTICE_NOT_OPEN, FEEDBACK_NOTICE_CLOSED, FEEDBACK_NOTICE_FORGED,
  FEEDBACK_NOTICE_EXPIRED, FEEDBACK_NOTICE_BAD_FORM, FEEDBACK_NOTICE_TOO_LARGE, FEEDBACK_NOTICE_UNAVAILABLE,
  FEEDBACK_NOTICE_METHOD
} feedback_notice;
/* A page that only says something (an unknown survey, an expired link…),
 * in lang (NULL: English); detail (may be NULL) is added, escaped. */
cx_err feedback_page_notice(feedback_notice what, const char *lang, const char *detail, cx_buf *out);

/* ---- metrics ---- */
typedef enum { FEEDBACK_NPS, FEEDBACK_CSAT, FEEDBACK_CES } feedback_metric_kind;
typedef struct {
  int64_t survey;          /* 0: every survey */
  const char *question;    /* NULL: every question of the metric's type */
  int64_t from, to;        /* [from, to) on submitted_at */
  const char *by;          /* NULL, "channel", "touchpoint", "unit", "agent", "survey", "segment"
                              or "traits.<name>" */
  analytics_segments *seg; /* for by segment; borrowed */
  const char *interval;    /* NULL, "day", "week", "month", "quarter" */
  int64_t compare_from, compare_to; /* a second period to test against; 0, 0: none */
  /* Filters, all borrowed and ANDed; NULL: no filter (an empty list that
   * is not NULL matches nothing). The answers whose context touchpoint is
   * one of touchpoints (journeys and touchpoints of KPI targets), whose
   * context unit is one of units (a unit's subtree, by name), and whose
   * customer's root is in customers (ascending root ids: a segment). */
  const char *const *touchpoints;
  size_t ntouchpoints;
  const char *const *units;
  size_t nunits;
  const int64_t *customers;
  size_t ncustomers;
} feedback_query;
cx_err feedback_metric(feedback *f, feedback_metric_kind kind, const feedback_query *q, cx_buf *out,
                       analytics_error *err);

/* eNPS beside CX by unit: for each unit (context.unit), the NPS of the
 * employee surveys' answers and the NPS or CSAT (cx) of the customer
 * surveys' answers in [from, to), and Pearson's r over the units with at
 * least min_n answers of both (null below 3 units), with the p-value of
 * the t test of r = 0 (k - 2 degrees of freedom; null below 4 units). */
cx_err feedback_enps_cx(feedback *f, feedback_metric_kind cx, int64_t from, int64_t to, uint64_t min_n, cx_buf *out,
                        analytics_error *err);

/* The scores given at each of names (context.touchpoint equal to the
 * name) in [from, to), customer surveys only: out[i] for names[i]; a
 * value is NAN where there are no answers. emotion: the measured emotion
 * on the journey maps' -2..2 scale (docs/journey-maps.md). */
typedef struct {
  double nps, csat, ces, emotion;
  uint64_t nps_n, csat_n, ces_n;
} feedback_tp_scores;
cx_err feedback_touchpoint_scores(feedback *f, const char *const *names, size_t n, int64_t from, int64_t to,
                                  feedback_tp_scores *out);

/* ---- verbatims (text answers) and themes ---- */
typedef struct {
  int64_t survey;         /* 0: every survey */
  const char *sentiment;  /* NULL, "positive", "neutral", "negative" */
  const char *theme;      /* NULL or a theme's name */
  const char *q;          /* NULL or words the text contains */
  int64_t from, to;       /* [from, to) on submitted_at */
  int64_t cursor;         /* 0: from the newest */
  size_t limit;
  int64_t unit_scope;     /* 0: every response; else only those whose context
                             unit names a unit in this unit's subtree (table units) */
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
