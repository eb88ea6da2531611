/* cxm serve: run the server until SIGTERM/SIGINT, then stop accepting,
 * answer what is in flight, commit what was accepted, and exit 0. */
#include "cli.h"
#include "../lib/base/log.h"
#include "../lib/base/time.h"
#include "../lib/analytics/analytics.h"
#include "../lib/http/http.h"
#include "../lib/ingest/ingest.h"
#include "../lib/cases/cases.h"
#include "../lib/feedback/distribute.h"
#include "../lib/govern/targets.h"
#include "../lib/outbox/outbox.h"
#include "../lib/profile/profile.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MESSAGES 200000 /* messages waiting for the writer before 503 */

/* CXM_OUTBOX_RETRY_MS="100,200" replaces the outbox's retry delays
 * (tests use short ones); n is set to how many were read (0: none). */
static void retry_delays(int64_t *out, size_t cap, size_t *n) {
  const char *v = getenv("CXM_OUTBOX_RETRY_MS");
  *n = 0;
  while (v && *v && *n < cap) {
    char *end;
    long long d = strtoll(v, &end, 10);
    if (end == v || d < 0) break;
    out[(*n)++] = d;
    v = *end == ',' ? end + 1 : end;
  }
}

/* CXM_QUEUE_MESSAGES overrides the queue bound (tests use a small one). */
static size_t queue_messages(void) {
  const char *v = getenv("CXM_QUEUE_MESSAGES");
  long n = v ? strtol(v, NULL, 10) : 0;
  return n > 0 ? (size_t)n : QUEUE_MESSAGES;
}

/* CXM_SURVEY_TICK_MS: the survey scheduler's tick (tests use a short
 * one); 0: its default. */
/* How an erasure or a retention run rebuilds what is derived from the
 * store (lib/privacy). */
static profile *priv_pr;
static feedback *priv_fb;
static cx_err priv_rebuild(void *ctx, sqlite3 *db) {
  (void)ctx;
  return profile_rebuild(priv_pr, db);
}
static cx_err priv_forget(void *ctx, int64_t response) {
  (void)ctx;
  return feedback_forget_response(priv_fb, response);
}
static const privacy_erase_ctx priv_ctx = {.forget_responses = priv_forget, .rebuild = priv_rebuild};

/* A scheduler's tick from the environment (tests use short ones):
 * CXM_RETENTION_TICK_MS (retention; default an hour), CXM_SURVEY_TICK_MS
 * (survey distribution), CXM_CASES_TICK_MS (the case scheduler),
 * CXM_TARGET_TICK_MS (KPI targets; default 5 minutes). 0 when unset or
 * not above 0: the scheduler's default. */
static int64_t tick_ms(const char *name) {
  const char *v = getenv(name);
  long long n = v ? strtoll(v, NULL, 10) : 0;
  return n > 0 ? n : 0;
}

int cmd_serve(const cli_opts *o) {
  int64_t t0 = cx_mono_ns();
  /* signals are taken by sigwait below; every thread inherits the mask */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  store *st;
  cx_err rc = store_open(o->data, 1, &st);
  if (rc) {
    cli_error("%s: %s.", o->data, cli_store_error(rc));
    return 1;
  }
  char creds[4096];
  rc = cli_initialise(st, o->data, creds, sizeof creds);
  if (!rc) {
    fprintf(stderr, "cxm: initialised %s; keep these secrets, they are shown once:\n%s\n", o->data, creds);
  } else if (rc != CX_EEXIST) {
    cli_error("%s could not be initialised.", o->data);
    store_close(st);
    return 1;
  }
  profile *pr = NULL;
  ingest *in = NULL;
  http_server *h = NULL;
  analytics_segments *seg = NULL;
  feedback *fb = NULL;
  outbox *ob = NULL;
  feedback_dist *dist = NULL;
  govern *gv = NULL;
  cases *cs = NULL;
  privacy_retention_thread *ret = NULL;
  gv_targets *targets = NULL;
  if ((rc = ingest_open(st, &pr, &in)) ||
      (rc = feedback_open(st, pr, in, &fb)) ||
      (rc = ingest_start(in, queue_messages())) ||
      (rc = analytics_segments_open(st, pr, &seg)) ||
      (rc = gv_open(st, &gv))) {
    cli_error("the derived indexes could not be built (%s).", cx_strerror(rc));
    goto out;
  }
  int64_t delays[16];
  size_t ndelays;
  retry_delays(delays, 16, &ndelays);
  outbox_cfg ocfg = {.smtp_url = o->smtp, .mail_from = o->mail_from,
                     .mail_per_minute = o->mail_rate ? (int)strtol(o->mail_rate, NULL, 10) : 60,
                     .retry_delays_ms = ndelays ? delays : NULL, .nretry_delays = ndelays};
  outbox_error oerr;
  if ((rc = outbox_start(st, &ocfg, &ob, &oerr))) {
    if (rc == CX_EINVAL) cli_error("%s", oerr.message);
    else cli_error("the outbox could not be started (%s).", cx_strerror(rc));
    goto out;
  }
  char url[300];
  snprintf(url, sizeof url, "http://%s", o->listen);
  if ((rc = feedback_dist_open(st, pr, seg, fb, ob, url, &dist))) {
    cli_error("survey distribution could not be started (%s).", cx_strerror(rc));
    goto out;
  }
  if (!(rc = cases_open(st, pr, ob, &cs)))
    cases_set_follow_up(cs, feedback_dist_invite_in, feedback_dist_invite_ready, dist); /* docs/cases.md */
  if (rc) {
    cli_error("the case module could not be started (%s).", cx_strerror(rc));
    goto out;
  }
  gv_targets_cfg tcfg = {.st = st, .pr = pr, .fb = fb, .seg = seg, .gv = gv, .ob = ob, .base_url = url};
  if ((rc = gv_targets_open(&tcfg, &targets))) {
    cli_error("the KPI targets could not be opened (%s).", cx_strerror(rc));
    goto out;
  }
  http_cfg cfg = {.st = st, .pr = pr, .in = in, .seg = seg, .fb = fb, .ob = ob, .dist = dist, .gv = gv, .cases = cs,
                  .privacy = &priv_ctx, .targets = targets, .listen = o->listen};
  if ((rc = http_start(&cfg, &h))) {
    if (rc == CX_EINVAL) cli_error("--listen must be HOST:PORT with an IPv4 address, not '%s'.", o->listen);
    else cli_error("cannot listen on %s (is the port in use?).", o->listen);
    goto out;
  }
  { /* the links' default base: the address actually bound */
    const char *colon = strrchr(o->listen, ':');
    snprintf(url, sizeof url, "http://%.*s:%d", colon ? (int)(colon - o->listen) : 0, o->listen, http_port(h));
    feedback_dist_set_default_url(dist, url);
    gv_targets_set_base_url(targets, url);
  }
  if ((rc = feedback_dist_start(dist, tick_ms("CXM_SURVEY_TICK_MS")))) { /* after the writer (ingest_start) */
    cli_error("the survey scheduler could not be started (%s).", cx_strerror(rc));
    goto out;
  }
  if ((rc = cases_start(cs, tick_ms("CXM_CASES_TICK_MS")))) { /* after the writer (ingest_start) */
    cli_error("the case scheduler could not be started (%s).", cx_strerror(rc));
    goto out;
  }
  priv_pr = pr;
  priv_fb = fb;
  if ((rc = privacy_retention_start(st, &priv_ctx, tick_ms("CXM_RETENTION_TICK_MS"), &ret))) {
    cli_error("the retention thread could not be started (%s).", cx_strerror(rc));
    goto out;
  }
  if ((rc = gv_targets_start(targets, tick_ms("CXM_TARGET_TICK_MS")))) {
    cli_error("the KPI target scheduler could not be started (%s).", cx_strerror(rc));
    goto out;
  }
  profile_stats ps;
  profile_get_stats(pr, &ps);
  char port[16], ms[32], ev[32], cu[32];
  snprintf(port, sizeof port, "%d", http_port(h));
  snprintf(ms, sizeof ms, "%.1f", (double)(cx_mono_ns() - t0) / 1e6);
  snprintf(ev, sizeof ev, "%llu", (unsigned long long)ps.events);
  snprintf(cu, sizeof cu, "%llu", (unsigned long long)ps.customers);
  cx_log("info", "listening", "port", port, "data", o->data, "startup_ms", ms, "events", ev,
         "customers", cu, "version", CXM_VERSION, NULL);
  int sig = 0;
  sigwait(&sigs, &sig);
  cx_log("info", "stopping", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
  http_stop(h, 30000);
  h = NULL;
  feedback_dist_close(dist); /* before the outbox and the writer: it enqueues through them */
  dist = NULL;
  cases_close(cs); /* likewise */
  cs = NULL;
  privacy_retention_stop(ret); /* it writes through the store */
  ret = NULL;
  gv_targets_close(targets); /* the same */
  targets = NULL;
  outbox_stop(ob); /* before the writer stops: it records what it abandons */
  ob = NULL;
  if (store_failed(st)) {
    cli_error("the store failed while serving (see the store_failed log line); restart to recover.");
    rc = store_failed(st);
  }
out:
  if (h) http_stop(h, 30000);
  feedback_dist_close(dist);
  cases_close(cs);
  privacy_retention_stop(ret);
  gv_targets_close(targets);
  outbox_stop(ob);
  gv_close(gv); /* after the server, its only user */
  analytics_segments_close(seg); /* before the writer stops: it records sizes through it */
  store_writer_stop(st);
  feedback_close(fb); /* after the writer, whose listener it is; before the store */
  cli_close(st, pr, in);
  if (!rc) cx_log("info", "stopped", NULL);
  return rc ? 1 : 0;
}
