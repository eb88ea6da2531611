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

cx_err analytics_funnel(const analytics_ctx *c, const cJSON *req, cx_buf *out,
                        analytics_error *err);
cx_err analytics_retention(const analytics_ctx *c, const cJSON *req, cx_buf *out,
                           analytics_error *err);
cx_err analytics_paths(const analytics_ctx *c, const cJSON *req, cx_buf *out,
                       analytics_error *err);
/* The customers per lifecycle stage at c->now_ms. */
cx_err analytics_lifecycle(const analytics_ctx *c, cx_buf *out);

#endif
