/* analytics.h - journey analytics over the in-memory timelines: funnels,
 * retention cohorts, paths and the lifecycle distribution.
 *
 * Each query takes its request as the JSON object of docs/analytics.md,
 * checks it (a bad request is CX_EINVAL with the field and a message in
 * *err, and nothing else happens), then reads the timelines inside one
 * profile read section, split over ANALYTICS_THREADS threads, and appends
 * the answer's JSON object to out. Queries change nothing. */
#ifndef CX_ANALYTICS_H
#define CX_ANALYTICS_H
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include "../base/buf.h"
#include "../base/err.h"
#include "../profile/profile.h"
#include "../rules/rules.h"
#include "../store/store.h"

#define ANALYTICS_THREADS 2     /* the scan's threads, the caller's included */
#define ANALYTICS_MAX_STEPS 20  /* funnel steps */
#define ANALYTICS_MAX_GROUPS 25 /* breakdown groups besides "(other)" and "(none)" */
#define ANALYTICS_MAX_COHORTS 400
#define ANALYTICS_MAX_PERIODS 100
#define ANALYTICS_MAX_DEPTH 6  /* path steps */
#define ANALYTICS_MAX_LIMIT 20 /* path events kept by name per step */

/* What the queries read. Borrowed for the call. */
typedef struct {
  profile *pr;
  sqlite3 *rdb; /* a reader connection: traits and event properties */
  const char *const *source_names; /* [source id]; NULL or "" for none */
  size_t nsource_names;
  const char *(*type_name)(int type); /* message type -> "track", ... */
  int64_t now_ms;
} analytics_ctx;

/* Why a request was refused: code is "invalid_field", "invalid_rule" or
 * "unknown_event"; field names the member ("steps[2].where"). */
typedef struct {
  char code[32];
  char field[64];
  char message[256];
} analytics_error;

/* Fills err (code, field or NULL, a sentence) and returns CX_EINVAL: how
 * analytics and the modules built on it refuse a request. */
cx_err analytics_refuse(analytics_error *err, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

cx_err analytics_funnel(const analytics_ctx *c, const cJSON *req, cx_buf *out,
                        analytics_error *err);
cx_err analytics_retention(const analytics_ctx *c, const cJSON *req, cx_buf *out,
                           analytics_error *err);
cx_err analytics_paths(const analytics_ctx *c, const cJSON *req, cx_buf *out,
                       analytics_error *err);
/* The customers per lifecycle stage at c->now_ms; with req's "from" (and
 * "to", "interval"): the stages per interval, the flows from the stage
 * at from to the stage at to, the transitions and the time in stage. req
 * may be NULL. */
cx_err analytics_lifecycle(const analytics_ctx *c, const cJSON *req, cx_buf *out,
                           analytics_error *err);

/* The KPIs per interval (kpis.c, docs/analytics.md): req holds "from"
 * and optionally "to", "interval", "purchase_event", "activation_event",
 * "activation_window" (strings, from a query). */
cx_err analytics_kpis(const analytics_ctx *c, const cJSON *req, cx_buf *out, analytics_error *err);

/* The counts behind the four KPI rates over one window [from, to),
 * against the window of the same length before it (KPI targets,
 * lib/govern/targets.c): activation = activated / fresh, repeat = repeat
 * / buyers, loyalty = loyal / buyers_prev, churn = churned / active_prev
 * (each as analytics_kpis defines it, with the activation event = the
 * purchase event and a 30-day activation window). members: NULL for
 * every customer, else only these root ids (ascending; a segment).
 * An unknown purchase_event (NULL: "Order Completed") counts nothing. */
typedef struct {
  uint64_t fresh, activated, buyers, repeat, buyers_prev, loyal, active_prev, churned, active;
} analytics_kpi_counts;
cx_err analytics_kpi_window(const analytics_ctx *c, int64_t from, int64_t to, const char *purchase_event,
                            const int64_t *members, size_t nmembers, analytics_kpi_counts *out);

/* A duration of the rules language ("30m", "12h", "7d") above 0 and at
 * most max_ms, into *out; CX_EINVAL otherwise. */
cx_err analytics_parse_duration(const char *s, int64_t max_ms, int64_t *out);

/* RFM segmentation (rfm.c, docs/segments.md): req may hold
 * "purchase_event" (default "Order Completed") and "revenue_property"
 * (default "revenue"; "" for no monetary score). */
cx_err analytics_rfm(const analytics_ctx *c, const cJSON *req, cx_buf *out, analytics_error *err);

/* Journey-map touchpoints (touchpoints.c): for each touchpoint bound to
 * an event (NULL: unbound) and a rule (NULL: any), in map order, with
 * the index of its stage: the events and unique customers in [from, to),
 * and of those the customers who reached the next bound touchpoint after
 * their first hit within window, with the median time between. */
#define ANALYTICS_MAX_TOUCHPOINTS 100
typedef struct {
  const char *event;
  const rules_expr *where;
  size_t stage;
} analytics_touchpoint;
typedef struct {
  uint64_t events, customers, next_customers;
  int has_next;
  double median_ms_to_next; /* -1: none */
} analytics_touchpoint_live;
cx_err analytics_touchpoints(const analytics_ctx *c, const analytics_touchpoint *tp, size_t n,
                             size_t nstages, int64_t from, int64_t to, int64_t window,
                             analytics_touchpoint_live *out, uint64_t *stage_customers);

/* Segments (segments.c, docs/segments.md): named rules about customers
 * with their members kept current. Open after the profile is loaded
 * (it computes every segment's members and starts a refresh thread);
 * close before the store and profile. Every call is thread-safe. */
typedef struct analytics_segments analytics_segments;
cx_err analytics_segments_open(store *st, profile *pr, analytics_segments **out);
void analytics_segments_close(analytics_segments *s);
/* req: {"name","rule","description"?,"persona"?}. CX_EINVAL (err),
 * CX_EEXIST (the name is taken), or the store's error; on success the
 * segment's JSON object is appended. */
cx_err analytics_segment_create(analytics_segments *s, const cJSON *req, cx_buf *out,
                                analytics_error *err);
/* Changes what req holds; CX_ENOTFOUND for an unknown id. */
cx_err analytics_segment_update(analytics_segments *s, int64_t id, const cJSON *req, cx_buf *out,
                                analytics_error *err);
cx_err analytics_segment_delete(analytics_segments *s, int64_t id);
/* req: {"rule"}: the size a segment with this rule would have now and up
 * to 10 member ids, without saving anything. */
cx_err analytics_segment_preview(analytics_segments *s, const cJSON *req, cx_buf *out,
                                 analytics_error *err);
cx_err analytics_segments_list(analytics_segments *s, cx_buf *out);
/* The segment with its size per day over the last 90 days. */
cx_err analytics_segment_get(analytics_segments *s, int64_t id, cx_buf *out);
/* Member ids > after, ascending, up to max; *rc CX_ENOTFOUND for an
 * unknown segment. */
size_t analytics_segment_members(analytics_segments *s, int64_t id, int64_t after, int64_t *ids,
                                 size_t max, cx_err *rc);
typedef struct {
  uint64_t segments;
  uint64_t evaluations;  /* customers evaluated again after a change, summed over segments */
  uint64_t eval_ns;      /* time spent on them (traits reloaded included) */
  uint64_t full_runs;    /* computations of every member from scratch */
  uint64_t last_full_ns; /* the last one's time */
} analytics_segments_stats;
void analytics_segments_get_stats(analytics_segments *s, analytics_segments_stats *out);

#endif
