/* outbox.c - /api/v1/outbox: the deliveries of mail and webhooks (list,
 * one, retry a failed one), a test e-mail and a test webhook for the
 * settings page, and the webhook signing secret (docs/outbox.md). Reading
 * needs any token; changes and the secret need the admin token. */
#include "http_int.h"
#include "../base/time.h"
#include "../base/util.h"
#include "../outbox/outbox.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static enum MHD_Result send_body(http_server *h, struct MHD_Connection *c, http_req *r, int status, cx_buf *b,
                                 cx_err rc) {
  static const http_names names = {"delivery_not_found", "No delivery has this id.", NULL, NULL};
  return http_send_outcome(h, c, r, status, b, rc, NULL, &names);
}

static enum MHD_Result refused(http_server *h, struct MHD_Connection *c, http_req *r, const outbox_error *e) {
  return http_send_error(h, c, r, 400, e->code, e->message, e->field[0] ? e->field : NULL);
}

static enum MHD_Result list(http_server *h, struct MHD_Connection *c, http_req *r) {
  outbox_filter f = {.status = http_query(c, "status"), .kind = http_query(c, "kind"), .ref = http_query(c, "ref"), .limit = 50};
  const char *v;
  int64_t n;
  if ((v = http_query(c, "limit")) && (cx_parse_i64(v, strlen(v), &n) || n < 1 || n > 1000))
    return http_send_error(h, c, r, 400, "invalid_parameter", "limit must be a whole number from 1 to 1000.", "limit");
  if (v) f.limit = (size_t)n;
  if ((v = http_query(c, "cursor")) && (cx_parse_i64(v, strlen(v), &f.before) || f.before <= 0))
    return http_send_error(h, c, r, 400, "invalid_parameter", "cursor must be a next_cursor value from an earlier page.",
                           "cursor");
  if (f.status && strcmp(f.status, "queued") && strcmp(f.status, "sending") && strcmp(f.status, "sent") &&
      strcmp(f.status, "failed"))
    return http_send_error(h, c, r, 400, "invalid_parameter", "status must be queued, sending, sent or failed.", "status");
  if (f.kind && strcmp(f.kind, "mail") && strcmp(f.kind, "webhook"))
    return http_send_error(h, c, r, 400, "invalid_parameter", "kind must be mail or webhook.", "kind");
  cx_buf b;
  cx_buf_init(&b, 16 << 20);
  cx_err rc = outbox_list(h->cfg.st, &f, &b);
  /* {"deliveries":[…],"next_cursor":…} + whether mail can leave */
  if (!rc && b.len) {
    b.len--;
    rc = cx_buf_printf(&b, ",\"mail_configured\":%s}", outbox_mail_configured(h->cfg.ob) ? "true" : "false");
  }
  return send_body(h, c, r, 200, &b, rc);
}

static cJSON *json_body(http_req *r) {
  cJSON *body = cJSON_ParseWithLength(r->body.p ? r->body.p : "", r->body.len);
  if (cJSON_IsObject(body)) return body;
  cJSON_Delete(body);
  return NULL;
}

static enum MHD_Result answer_id(http_server *h, struct MHD_Connection *c, http_req *r, cx_err rc, int64_t id) {
  cx_buf b;
  cx_buf_init(&b, 256);
  if (!rc) {
    outbox_kick(h->cfg.ob);
    rc = cx_buf_printf(&b, "{\"id\":\"%lld\"}", (long long)id);
  }
  return send_body(h, c, r, 202, &b, rc);
}

/* POST /outbox/test-mail {"to":"…"} */
static enum MHD_Result test_mail(http_server *h, struct MHD_Connection *c, http_req *r) {
  if (!outbox_mail_configured(h->cfg.ob))
    return http_send_error(h, c, r, 409, "mail_not_configured",
                           "E-mail is not configured: start cxm serve with --smtp smtp://HOST:PORT and --mail-from.", NULL);
  cJSON *body = json_body(r);
  if (!body) return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
  const cJSON *to = cJSON_GetObjectItemCaseSensitive(body, "to");
  char when[CX_TIME_LEN], text[512];
  cx_time_format(cx_now_ms(), when);
  snprintf(text, sizeof text,
           "This is a test e-mail from cxm, queued at %s.\n\n"
           "If you can read it, the server's mail settings work.\n", when);
  outbox_mail m = {.to = cJSON_IsString(to) ? to->valuestring : NULL, .subject = "cxm test e-mail",
                   .text = text, .ref = "test-mail"};
  outbox_error err;
  int64_t id = 0;
  cx_err rc = outbox_enqueue_mail(h->cfg.st, &m, &id, &err);
  cJSON_Delete(body);
  if (rc == CX_EINVAL) return refused(h, c, r, &err);
  return answer_id(h, c, r, rc, id);
}

/* POST /outbox/test-webhook {"url":"…"} */
static enum MHD_Result test_webhook(http_server *h, struct MHD_Connection *c, http_req *r) {
  cJSON *body = json_body(r);
  if (!body) return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
  const cJSON *url = cJSON_GetObjectItemCaseSensitive(body, "url");
  char when[CX_TIME_LEN], payload[128];
  cx_time_format(cx_now_ms(), when);
  snprintf(payload, sizeof payload, "{\"event\":\"cxm.test\",\"queued_at\":\"%s\"}", when);
  outbox_webhook w = {.url = cJSON_IsString(url) ? url->valuestring : NULL, .event = "cxm.test", .body = payload,
                      .ref = "test-webhook"};
  outbox_error err;
  int64_t id = 0;
  cx_err rc = outbox_enqueue_webhook(h->cfg.st, &w, &id, &err);
  cJSON_Delete(body);
  if (rc == CX_EINVAL) return refused(h, c, r, &err);
  return answer_id(h, c, r, rc, id);
}

enum MHD_Result http_outbox(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest, int admin) {
  int get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
  int post = !strcmp(r->method, "POST");
  if (!*rest) {
    if (!get) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET.", NULL);
    return list(h, c, r);
  }
  if (*rest != '/') return http_send_error(h, c, r, 404, "not_found", "There is no such API resource.", NULL);
  rest++;
  int test_m = !strcmp(rest, "test-mail"), test_w = !strcmp(rest, "test-webhook");
  if (test_m || test_w) {
    if (!post) return http_send_error(h, c, r, 405, "method_not_allowed", "Use POST.", NULL);
    if (!admin) return http_send_error(h, c, r, 403, "forbidden", "This token may only read.", NULL);
    return test_m ? test_mail(h, c, r) : test_webhook(h, c, r);
  }
  if (!strcmp(rest, "webhook-secret")) {
    if (!get) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET.", NULL);
    if (!admin) return http_send_error(h, c, r, 403, "forbidden", "Only the admin token may read the secret.", NULL);
    if (!h->cfg.ob)
      return http_send_error(h, c, r, 503, "outbox_not_running", "The delivery thread is not running.", NULL);
    char secret[OUTBOX_SECRET_LEN];
    outbox_webhook_secret(h->cfg.ob, secret);
    cx_buf b;
    cx_buf_init(&b, 256);
    return send_body(h, c, r, 200, &b, cx_buf_printf(&b, "{\"secret\":\"%s\"}", secret));
  }
  const char *slash = strchr(rest, '/');
  size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
  int64_t id;
  if (cx_parse_i64(rest, n, &id) || id <= 0 || (slash && strcmp(slash, "/retry")))
    return http_send_error(h, c, r, 404, "delivery_not_found", "No delivery has this id.", "id");
  cx_buf b;
  cx_buf_init(&b, 64 << 10);
  if (!slash) {
    if (!get) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET.", NULL);
    return send_body(h, c, r, 200, &b, outbox_get(h->cfg.st, id, &b));
  }
  if (!post) return http_send_error(h, c, r, 405, "method_not_allowed", "Use POST.", NULL);
  if (!admin) return http_send_error(h, c, r, 403, "forbidden", "This token may only read.", NULL);
  cx_err rc = outbox_retry(h->cfg.st, id);
  if (rc == CX_EEXIST) {
    cx_buf_free(&b);
    return http_send_error(h, c, r, 409, "delivery_not_failed",
                           "Only a failed delivery can be retried; this one is queued, sending or sent.", "id");
  }
  if (!rc) {
    outbox_kick(h->cfg.ob);
    rc = outbox_get(h->cfg.st, id, &b);
  }
  return send_body(h, c, r, 200, &b, rc);
}

void http_outbox_metrics(http_server *h, cx_buf *b) {
  outbox_stats s;
  if (outbox_get_stats(h->cfg.st, h->cfg.ob, &s)) return;
  static const char *const kinds[2] = {"mail", "webhook"};
  cx_buf_puts(b, "# HELP cxm_outbox_deliveries Deliveries in the outbox, by kind and status.\n"
                 "# TYPE cxm_outbox_deliveries gauge\n");
  for (int k = 0; k < 2; k++)
    cx_buf_printf(b,
                  "cxm_outbox_deliveries{kind=\"%s\",status=\"queued\"} %llu\n"
                  "cxm_outbox_deliveries{kind=\"%s\",status=\"sending\"} %llu\n"
                  "cxm_outbox_deliveries{kind=\"%s\",status=\"sent\"} %llu\n"
                  "cxm_outbox_deliveries{kind=\"%s\",status=\"failed\"} %llu\n",
                  kinds[k], (unsigned long long)s.queued[k], kinds[k], (unsigned long long)s.sending[k], kinds[k],
                  (unsigned long long)s.sent[k], kinds[k], (unsigned long long)s.failed[k]);
  cx_buf_puts(b, "# HELP cxm_outbox_attempts_total Delivery attempts since start, by kind and outcome.\n"
                 "# TYPE cxm_outbox_attempts_total counter\n");
  for (int k = 0; k < 2; k++)
    cx_buf_printf(b,
                  "cxm_outbox_attempts_total{kind=\"%s\",outcome=\"sent\"} %llu\n"
                  "cxm_outbox_attempts_total{kind=\"%s\",outcome=\"retry\"} %llu\n"
                  "cxm_outbox_attempts_total{kind=\"%s\",outcome=\"failed\"} %llu\n",
                  kinds[k], (unsigned long long)s.delivered[k], kinds[k], (unsigned long long)s.retried[k], kinds[k],
                  (unsigned long long)s.gave_up[k]);
  cx_buf_printf(b, "# HELP cxm_outbox_mail_configured 1 when --smtp was given.\n"
                   "# TYPE cxm_outbox_mail_configured gauge\ncxm_outbox_mail_configured %d\n",
                outbox_mail_configured(h->cfg.ob));
}
