/* http.h - the HTTP server (libmicrohttpd): Tracking API, admin API,
 * operations endpoints. */
#ifndef CX_HTTP_H
#define CX_HTTP_H
#include "../base/err.h"
#include "../analytics/analytics.h"
#include "../cases/cases.h"
#include "../feedback/distribute.h"
#include "../feedback/feedback.h"
#include "../govern/govern.h"
#include "../govern/targets.h"
#include "../ingest/ingest.h"
#include "../outbox/outbox.h"
#include "../profile/profile.h"
#include "../privacy/privacy.h"
#include "../store/store.h"

typedef struct http_server http_server;

typedef struct {
  store *st;
  profile *pr;
  ingest *in;
  analytics_segments *seg;
  feedback *fb;
  outbox *ob; /* may be NULL: mail and webhooks stay queued */
  feedback_dist *dist; /* survey distribution (e-mail invitations) */
  govern *gv;          /* people, access and the audit */
  const privacy_erase_ctx *privacy; /* how an erasure rebuilds derived state */
  cases *cases;        /* the closed loop */
  gv_targets *targets; /* KPI owners and targets; may be NULL */
  const char *listen; /* "HOST:PORT"; port 0 picks a free one */
} http_cfg;

/* Starts serving; the borrowed modules must outlive the server. */
cx_err http_start(const http_cfg *cfg, http_server **out);
/* The port actually bound. */
int http_port(http_server *h);
/* Stops accepting connections, waits (up to timeout_ms) for requests in
 * flight to be answered, then stops the server and frees it. */
void http_stop(http_server *h, int timeout_ms);

#endif
