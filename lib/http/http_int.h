/* http_int.h - private to the http module. */
#ifndef CX_HTTP_INT_H
#define CX_HTTP_INT_H
#include "http.h"
#include "../base/buf.h"
#include "../govern/govern.h"
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

#define HTTP_MAX_API_BODY (64 * 1024)
#define HTTP_MAX_BATCH_BODY (8 * 1024 * 1024) /* survey responses in bulk */
#define HTTP_MAX_DIST_BODY (4 * 1024 * 1024)  /* a distribution: up to 10,000 recipients */
/* a respondent page's form: a 10,000-character text is up to ~90 KB
 * %-encoded, and a page holds several questions */
#define HTTP_MAX_FORM_BODY (512 * 1024)
#define HTTP_THREADS 4 /* MHD's epoll threads */
#define HTTP_INGEST_SLOTS 64 /* tracking requests parsed or awaiting commit at once */

/* One request: owned by the connection, freed when MHD completes it. */
typedef struct http_req http_req;
struct http_req {
  char method[8];
  const char *url; /* MHD's copy, valid for the request */
  cx_buf body;
  int too_large;
  int64_t started_ns;
  int route; /* for metrics */
  int status;
  /* a tracking request waiting for its commit (track.c): the connection
   * is suspended until the store calls back */
  int waiting;      /* 1 from submit until the request is answered */
  atomic_int ready; /* set by the store's callback */
  struct MHD_Connection *conn;
  ingest_batch batch;
  ingest_async pending;
  /* extra headers of the answer */
  int retry_after;      /* seconds; 0: none */
  char set_cookie[256]; /* "" : none */
  /* the API's caller (api.c) and the audit: a handler that writes its own
   * audit entry sets audited */
  int audited;
};


enum { ROUTE_TRACK, ROUTE_API, ROUTE_OPS, ROUTE_OTHER, ROUTE_COUNT };

#define HTTP_LAT_BUCKETS 12
#define HTTP_MAX_REASONS 48

struct http_server {
  struct MHD_Daemon *d;
  http_cfg cfg;
  int port;
  atomic_int in_flight;
  atomic_int stopping; /* http_stop began: no connection may be suspended any more (MHD_stop_daemon
                          panics on a suspended connection) */
  sem_t ingest_slots;
  pthread_mutex_t mu; /* guards reasons */
  /* metrics */
  atomic_uint_fast64_t requests[ROUTE_COUNT][6]; /* by status class 0..5xx */
  atomic_uint_fast64_t lat_bucket[HTTP_LAT_BUCKETS + 1];
  atomic_uint_fast64_t lat_sum_us, lat_count;
  struct {
    char code[40];
    uint64_t n;
  } reasons[HTTP_MAX_REASONS];
};

/* reply.c: every response goes through these. They return MHD_YES/NO. */
enum MHD_Result http_send(struct MHD_Connection *c, http_req *r, int status, const char *ctype,
                          cx_buf *body);
enum MHD_Result http_send_json(struct MHD_Connection *c, http_req *r, int status, cx_buf *body);
enum MHD_Result http_send_error(http_server *h, struct MHD_Connection *c, http_req *r, int status,
                                const char *code, const char *message, const char *field);
/* How a resource names its errors, for http_send_outcome. */
typedef struct {
  const char *not_found_code, *not_found_message; /* CX_ENOTFOUND: 404 */
  const char *exists_code, *exists_message;       /* CX_EEXIST: 409 (field "name") */
} http_names;
/* Answers an engine call: rc CX_OK sends b (status; 204 without a body),
 * CX_EINVAL the 400 (409 for a code of too_many_*) that err describes,
 * and the rest the fitting error; a failed store says so. Frees b. */
enum MHD_Result http_send_outcome(http_server *h, struct MHD_Connection *c, http_req *r, int status,
                                  cx_buf *b, cx_err rc, const analytics_error *err,
                                  const http_names *names);
/* A query argument, NULL when absent or empty (MHD's copy). */
const char *http_query(struct MHD_Connection *c, const char *name);
/* The request body as a JSON object the caller frees; NULL when it is
 * not one. */
cJSON *http_json_object(const http_req *r);
/* The HTTP status that fits an engine error. */
int http_status_for(cx_err rc);
void http_count_reason(http_server *h, const char *code);

/* Route handlers. `rest` is the path after the route's prefix. */
enum MHD_Result http_track(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest);
enum MHD_Result http_api(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest);
enum MHD_Result http_healthz(http_server *h, struct MHD_Connection *c, http_req *r);
enum MHD_Result http_metrics(http_server *h, struct MHD_Connection *c, http_req *r);
/* analytics.c: what is "funnel", "retention", "paths", "kpis" (under
 * /api/v1/analytics/), "lifecycle" (/api/v1/lifecycle) or "rfm"
 * (/api/v1/segments/rfm); authorised by the caller. */
enum MHD_Result http_analytics(http_server *h, struct MHD_Connection *c, http_req *r,
                               const char *what);
/* analytics.c: what an analytics query reads — the profile, the source
 * names and, when reader, a borrowed reader connection; CX_ENOMEM. Give
 * it back with http_analytics_ctx_done. */
cx_err http_analytics_ctx(http_server *h, int reader, analytics_ctx *out);
void http_analytics_ctx_done(http_server *h, analytics_ctx *ax);
/* analytics.c: GET, PUT, DELETE /api/v1/lifecycle/stages */
enum MHD_Result http_lifecycle_stages(http_server *h, struct MHD_Connection *c, http_req *r, int admin);
/* segments.c: rest is what follows /api/v1/segments ("" or "/…"
 * stripped of its slash); admin: the token may change things. */
enum MHD_Result http_segments(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest,
                              int admin);
/* journey.c: rest is what follows /api/v1/journey-maps ("" or the id). */
enum MHD_Result http_journey(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest,
                             int admin);
/* surveys.c: rest is what follows /api/v1/surveys ("" or "{id}[/…]"). */
enum MHD_Result http_surveys(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest, int admin);
/* surveys.c: what is "nps", "csat" or "ces" (/api/v1/metrics/{what}). */
enum MHD_Result http_feedback_metric(http_server *h, struct MHD_Connection *c, http_req *r, const char *what);
/* maturity.c: rest is what follows /api/v1/maturity/ ("model",
 * "evidence", "assessments[/{id}]"); p: the caller, already allowed. */
enum MHD_Result http_maturity(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest,
                              const gv_principal *p);
/* surveys.c: what is "" (/api/v1/feedback) or "themes"; a caller with a
 * unit sees the verbatims of its unit's subtree. */
enum MHD_Result http_feedback(http_server *h, struct MHD_Connection *c, http_req *r, const char *what,
                              const gv_principal *p);
/* outbox.c: rest is what follows /api/v1/outbox ("" or "/…"). */
enum MHD_Result http_outbox(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest, int admin);
/* outbox.c: the outbox's lines of /metrics. */
void http_outbox_metrics(http_server *h, cx_buf *b);
/* distributions.c: GET/PUT /api/v1/survey-settings */
enum MHD_Result http_survey_settings(http_server *h, struct MHD_Connection *c, http_req *r, int admin);
/* distributions.c: /api/v1/surveys/{survey}/distributions[/{rest}] and
 * /triggers[/{rest}]; rest is "" or the id */
enum MHD_Result http_distributions(http_server *h, struct MHD_Connection *c, http_req *r, int64_t survey,
                                   const char *rest, int admin);
enum MHD_Result http_triggers(http_server *h, struct MHD_Connection *c, http_req *r, int64_t survey, const char *rest,
                              int admin);
/* cases.c: rest is what follows /api/v1/cases ("" or "metrics" or
 * "{id}[/notes]"); p scopes and names the caller (authorised before). */
enum MHD_Result http_cases(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest,
                           const gv_principal *p);
/* cases.c: /case-rules, /sla-policies, /root-causes; rest "" or "{id}". */
enum MHD_Result http_case_config(http_server *h, struct MHD_Connection *c, http_req *r, cases_kind kind,
                                 const char *rest, const gv_principal *p);
/* respond.c: GET/POST /s/unsubscribe?t= (HTML) */
enum MHD_Result http_unsubscribe(http_server *h, struct MHD_Connection *c, http_req *r);
/* static.c: the embedded dashboard files */
enum MHD_Result http_static(http_server *h, struct MHD_Connection *c, http_req *r);

/* respond.c: the respondent page, GET/POST /s/{survey}; rest is what
 * follows "/s/". */
enum MHD_Result http_respondent(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest);
/* respond.c: the friendly 413 of a form past HTTP_MAX_FORM_BODY */
enum MHD_Result http_respondent_too_large(http_server *h, struct MHD_Connection *c, http_req *r);
/* respond.c: POST /api/v1/surveys/{id}/links (a personal link) */
enum MHD_Result http_survey_links(http_server *h, struct MHD_Connection *c, http_req *r, int64_t id, int admin);

/* form.c: an application/x-www-form-urlencoded body, decoded into
 * NUL-terminated UTF-8 keys and values (in order, repeats kept). */
#define HTTP_FORM_MAX_FIELDS 2000
#define HTTP_FORM_MAX_KEY 64 /* bytes of a decoded field name */
typedef struct {
  char *buf; /* the decoded texts; owned */
  feedback_field *fields; /* owned; pointing into buf */
  size_t n;
} http_form;
/* Parses p[0..n) (p may be NULL only when n is 0). CX_EINVAL with *why (a
 * static phrase: a malformed %-escape, a NUL, invalid UTF-8, too many
 * fields, a name too long or empty), CX_ENOMEM; out is empty then.
 * Release with http_form_free. */
cx_err http_form_parse(const char *p, size_t n, http_form *out, const char **why);
void http_form_free(http_form *f);

/* auth.c: the caller of an API request, from its bearer token or else its
 * session cookie (whose value goes to session, cap bytes, when given);
 * CX_EAUTH when neither is valid. */
cx_err http_principal(http_server *h, struct MHD_Connection *c, gv_principal *p, char *session, size_t cap);
/* auth.c: 1 when the X-CSRF-Token header matches the session's token. */
int http_csrf_ok(struct MHD_Connection *c, const char *session);
/* auth.c: appends the audit entry of a mutating API request that its
 * handler did not record itself (the body, secrets removed, as after). */
void http_audit_request(http_server *h, http_req *r, const gv_principal *p, const char *rest);

/* targets.c: rest is "targets[/…]" or "scorecard" (the matrix passed). */
enum MHD_Result http_targets(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest,
                             const gv_principal *p);

/* targets.c: rest is "initiatives[/{id}]" (the matrix passed). */
enum MHD_Result http_initiatives(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest,
                                 const gv_principal *p);

/* people.c: POST /api/v1/auth/login (before any credential is checked) */
enum MHD_Result http_login(http_server *h, struct MHD_Connection *c, http_req *r);
/* people.c: me, auth/me, auth/logout, roles, units[/…], users[/…],
 * tokens[/…], audit[/verify]; NULL when rest is none of them. */
enum MHD_Result http_people(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest,
                            const gv_principal *p, const char *session, int *handled);

#endif
