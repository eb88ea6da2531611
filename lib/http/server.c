/* server.c - libmicrohttpd glue: request bodies, routing, shutdown.
 *
 * MHD runs HTTP_THREADS epoll threads for all connections. A tracking
 * request, once parsed, is handed to the writer and its connection is
 * suspended until the commit calls back (track.c); many requests waiting
 * for commits is what lets one transaction carry many of them, and they
 * hold no thread while they wait. Other handlers run on the epoll
 * threads, so they must stay short (SQL on a reader connection is). */
#include "http_int.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/time.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t body_limit(const char *url) {
  size_t n = strlen(url);
  if (n > 16 && !strcmp(url + n - 16, "/responses/batch")) return HTTP_MAX_BATCH_BODY;
  if (n > 14 && !strcmp(url + n - 14, "/distributions")) return HTTP_MAX_DIST_BODY;
  if (!strncmp(url, "/s/", 3)) return HTTP_MAX_FORM_BODY;
  return strncmp(url, "/v1/", 4) == 0 ? INGEST_MAX_BATCH : HTTP_MAX_API_BODY;
}

static enum MHD_Result route(http_server *h, struct MHD_Connection *c, http_req *r) {
  const char *u = r->url;
  if (!strncmp(u, "/v1/", 4)) {
    r->route = ROUTE_TRACK;
    return http_track(h, c, r, u + 4);
  }
  if (!strncmp(u, "/api/v1/", 8)) {
    r->route = ROUTE_API;
    return http_api(h, c, r, u + 8);
  }
  if (!strcmp(u, "/s/unsubscribe")) { /* not a survey id: the opt-out page */
    r->route = ROUTE_OTHER;
    return http_unsubscribe(h, c, r);
  }
  if (!strncmp(u, "/s/", 3)) { /* the respondent page: HTML, no token */
    r->route = ROUTE_OTHER;
    return http_respondent(h, c, r, u + 3);
  }
  r->route = ROUTE_OPS;
  if (!strcmp(u, "/healthz") || !strcmp(u, "/metrics")) {
    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD"))
      return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET.", NULL);
    return u[1] == 'h' ? http_healthz(h, c, r) : http_metrics(h, c, r);
  }
  r->route = ROUTE_OTHER;
  return http_static(h, c, r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
  (void)version;
  http_server *h = cls;
  http_req *r = *con_cls;
  if (!r) {
    r = cx_calloc(1, sizeof *r);
    if (!r) return MHD_NO;
    snprintf(r->method, sizeof r->method, "%s", method);
    r->url = url;
    r->started_ns = cx_mono_ns();
    cx_buf_init(&r->body, body_limit(url));
    *con_cls = r;
    atomic_fetch_add(&h->in_flight, 1);
    return MHD_YES;
  }
  if (*upload_size) {
    if (!r->too_large && cx_buf_append(&r->body, upload, *upload_size)) {
      r->too_large = 1;
      cx_buf_free(&r->body);
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (r->too_large && !strncmp(url, "/s/", 3)) {
    r->route = ROUTE_OTHER;
    return http_respondent_too_large(h, c, r);
  }
  if (r->too_large) {
    r->route = strncmp(url, "/v1/", 4) ? ROUTE_API : ROUTE_TRACK;
    char msg[96];
    snprintf(msg, sizeof msg, "The body is larger than %zu bytes.", r->body.max);
    const char *code = r->route != ROUTE_TRACK ? "body_too_large"
                       : (!strcmp(url, "/v1/batch") || !strcmp(url, "/v1/b")) ? "batch_too_large"
                                                                            : "message_too_large";
    return http_send_error(h, c, r, 413, code, msg, NULL);
  }
  return route(h, c, r);
}

static const int64_t lat_bounds_us[HTTP_LAT_BUCKETS] = {100,   250,   500,    1000,   2500,   5000,
                                                        10000, 25000, 50000, 100000, 250000, 1000000};

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)c;
  (void)toe;
  http_server *h = cls;
  http_req *r = *con_cls;
  if (!r) return;
  int cls_idx = r->status / 100;
  if (cls_idx < 0 || cls_idx > 5) cls_idx = 0;
  atomic_fetch_add(&h->requests[r->route][cls_idx], 1);
  if (r->route == ROUTE_TRACK) {
    int64_t us = (cx_mono_ns() - r->started_ns) / 1000;
    int b = 0;
    while (b < HTTP_LAT_BUCKETS && us > lat_bounds_us[b]) b++;
    atomic_fetch_add(&h->lat_bucket[b], 1);
    atomic_fetch_add(&h->lat_sum_us, (uint64_t)us);
    atomic_fetch_add(&h->lat_count, 1);
  }
  if (r->waiting) {
    /* ended without an answer: the client went away after the commit, or
     * the daemon is stopping with the request still suspended (http_stop
     * gave up waiting). The writer may still be applying the batch; it
     * runs until after http_stop, so wait for the commit to call back
     * before freeing what it reads. */
    while (!atomic_load(&r->ready)) usleep(1000);
    ingest_batch_free(&r->batch);
    sem_post(&h->ingest_slots);
  }
  cx_buf_free(&r->body);
  cx_free(r);
  *con_cls = NULL;
  atomic_fetch_sub(&h->in_flight, 1);
}

const int64_t *http_latency_bounds(void) { return lat_bounds_us; }

static cx_err parse_listen(const char *listen, struct sockaddr_in *sa) {
  char host[256];
  const char *colon = strrchr(listen, ':');
  if (!colon || (size_t)(colon - listen) >= sizeof host) return CX_EINVAL;
  memcpy(host, listen, (size_t)(colon - listen));
  host[colon - listen] = 0;
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535 || end == colon + 1) return CX_EINVAL;
  memset(sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  sa->sin_port = htons((uint16_t)port);
  if (!strcmp(host, "localhost")) snprintf(host, sizeof host, "127.0.0.1");
  if (!host[0]) snprintf(host, sizeof host, "0.0.0.0");
  if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) return CX_EINVAL;
  return CX_OK;
}

cx_err http_start(const http_cfg *cfg, http_server **out) {
  struct sockaddr_in sa;
  if (parse_listen(cfg->listen, &sa)) return CX_EINVAL;
  http_server *h = cx_calloc(1, sizeof *h);
  if (!h) return CX_ENOMEM;
  h->cfg = *cfg;
  pthread_mutex_init(&h->mu, NULL);
  sem_init(&h->ingest_slots, 0, HTTP_INGEST_SLOTS);
  if (!cfg->gv) {
    sem_destroy(&h->ingest_slots);
    pthread_mutex_destroy(&h->mu);
    cx_free(h);
    return CX_EINVAL;
  }
  /* a few epoll threads serve every connection; a tracking request waiting
   * for its commit is suspended (track.c), not a blocked thread */
  h->d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                              MHD_USE_ERROR_LOG | MHD_USE_TURBO,
                          0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &sa,
                          MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                          MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS,
                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                          MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
  if (!h->d) {
    sem_destroy(&h->ingest_slots);
    pthread_mutex_destroy(&h->mu);
    cx_free(h);
    return CX_EIO;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
  h->port = info ? info->port : ntohs(sa.sin_port);
  *out = h;
  return CX_OK;
}

int http_port(http_server *h) { return h->port; }

void http_stop(http_server *h, int timeout_ms) {
  if (!h) return;
  atomic_store(&h->stopping, 1); /* before in_flight is read: see track.c */
  MHD_socket fd = MHD_quiesce_daemon(h->d);
  if (fd != MHD_INVALID_SOCKET) close(fd);
  for (int waited = 0; atomic_load(&h->in_flight) > 0 && waited < timeout_ms; waited += 10)
    usleep(10000);
  MHD_stop_daemon(h->d);
  sem_destroy(&h->ingest_slots);
  pthread_mutex_destroy(&h->mu);
  cx_free(h);
}
