/* surveys.c - /api/v1/surveys (surveys, versions, status, responses) and
 * /api/v1/metrics/{nps,csat,ces} (docs/surveys.md,
 * docs/feedback-metrics.md). Changes need the admin token. */
#include "http_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/util.h"
#include <stdio.h>
#include <string.h>

static const http_names survey_names = {"survey_not_found", "No survey has this id (or version).", "survey_exists",
                                        "A survey with this name exists."};

static enum MHD_Result answer(http_server *h, struct MHD_Connection *c, http_req *r, int status, cx_buf *b, cx_err rc,
                              const analytics_error *err) {
  return http_send_outcome(h, c, r, status, b, rc, err, &survey_names);
}

static enum MHD_Result responses(http_server *h, struct MHD_Connection *c, http_req *r, int64_t id, int admin) {
  analytics_error err = {{0}, {0}, {0}};
  cx_buf b;
  if (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD")) {
    int64_t cursor = 0, limit = 50;
    const char *v;
    if ((v = http_query(c, "cursor")) && (cx_parse_i64(v, strlen(v), &cursor) || cursor < 0))
      return http_send_error(h, c, r, 400, "invalid_parameter", "cursor must be a next_cursor of an earlier page.", "cursor");
    if ((v = http_query(c, "limit")) && (cx_parse_i64(v, strlen(v), &limit) || limit < 1 || limit > 1000))
      return http_send_error(h, c, r, 400, "invalid_parameter", "limit must be a whole number from 1 to 1000.", "limit");
    const feedback_survey *s;
    cx_err rc = feedback_survey_acquire(h->cfg.fb, id, &s);
    if (!rc) feedback_survey_release(h->cfg.fb, s);
    cx_buf_init(&b, 16 << 20);
    if (!rc) rc = feedback_responses_list(h->cfg.fb, id, cursor, (size_t)limit, &b);
    return answer(h, c, r, 200, &b, rc, &err);
  }
  if (strcmp(r->method, "POST")) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET or POST.", NULL);
  if (!admin) return http_send_error(h, c, r, 403, "forbidden", "This token may only read.", NULL);
  cJSON *body = http_json_object(r);
  if (!body) return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
  int64_t rid = 0, cust = 0;
  cx_err rc = feedback_respond(h->cfg.fb, id, body, &rid, &cust, &err);
  cJSON_Delete(body);
  if (rc == CX_EFULL) return http_send_error(h, c, r, 503, "overloaded", "The ingest queue is full; retry.", NULL);
  cx_buf_init(&b, 256);
  if (!rc) rc = cust ? cx_buf_printf(&b, "{\"id\":\"%lld\",\"customer_id\":\"%lld\"}", (long long)rid, (long long)cust)
                     : cx_buf_printf(&b, "{\"id\":\"%lld\",\"customer_id\":null}", (long long)rid); /* an employee's */
  return answer(h, c, r, 201, &b, rc, &err);
}

/* POST /surveys/{id}/responses/batch {"responses":[…]}: all or none */
static enum MHD_Result responses_batch(http_server *h, struct MHD_Connection *c, http_req *r, int64_t id, int admin) {
  if (strcmp(r->method, "POST")) return http_send_error(h, c, r, 405, "method_not_allowed", "Use POST.", NULL);
  if (!admin) return http_send_error(h, c, r, 403, "forbidden", "This token may only read.", NULL);
  cJSON *body = http_json_object(r);
  if (!body) return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(body, "responses");
  int n = cJSON_GetArraySize(list);
  int64_t *ids = cx_calloc(n > 0 ? (size_t)n : 1, sizeof *ids);
  analytics_error err = {{0}, {0}, {0}};
  cx_err rc = ids ? feedback_respond_batch(h->cfg.fb, id, list, ids, &err) : CX_ENOMEM;
  cJSON_Delete(body);
  if (rc == CX_EFULL) {
    cx_free(ids);
    return http_send_error(h, c, r, 503, "overloaded", "The ingest queue is full; retry.", NULL);
  }
  cx_buf b;
  cx_buf_init(&b, 64 + 24 * (size_t)(n > 0 ? n : 1));
  if (!rc) rc = cx_buf_puts(&b, "{\"ids\":[");
  for (int i = 0; !rc && i < n; i++) rc = cx_buf_printf(&b, "%s\"%lld\"", i ? "," : "", (long long)ids[i]);
  if (!rc) rc = cx_buf_puts(&b, "]}");
  cx_free(ids);
  return answer(h, c, r, 201, &b, rc, &err);
}

enum MHD_Result http_surveys(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest, int admin) {
  int get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
  int64_t id = 0;
  const char *slash = strchr(rest, '/');
  size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
  if (n && (cx_parse_i64(rest, n, &id) || id <= 0))
    return http_send_error(h, c, r, 404, "survey_not_found", "No survey has this id.", "id");
  analytics_error err = {{0}, {0}, {0}};
  cx_buf b;
  if (slash) {
    const char *sub = slash + 1;
    if (!strcmp(sub, "responses")) return responses(h, c, r, id, admin);
    if (!strcmp(sub, "responses/batch")) return responses_batch(h, c, r, id, admin);
    if (!strcmp(sub, "links")) return http_survey_links(h, c, r, id, admin);
    if (!strcmp(sub, "distributions")) return http_distributions(h, c, r, id, "", admin);
    if (!strncmp(sub, "distributions/", 14)) return http_distributions(h, c, r, id, sub + 14, admin);
    if (!strcmp(sub, "triggers")) return http_triggers(h, c, r, id, "", admin);
    if (!strncmp(sub, "triggers/", 9)) return http_triggers(h, c, r, id, sub + 9, admin);
    const char *to = !strcmp(sub, "publish") ? "live" : !strcmp(sub, "close") ? "closed" : !strcmp(sub, "reopen") ? "live"
                   : !strcmp(sub, "unpublish") ? "draft" : NULL;
    if (!to) return http_send_error(h, c, r, 404, "not_found", "There is no such API resource.", NULL);
    if (strcmp(r->method, "POST")) return http_send_error(h, c, r, 405, "method_not_allowed", "Use POST.", NULL);
    if (!admin) return http_send_error(h, c, r, 403, "forbidden", "This token may only read.", NULL);
    cx_buf_init(&b, 1 << 20);
    return answer(h, c, r, 200, &b, feedback_survey_set_status(h->cfg.fb, id, to, &b, &err), &err);
  }
  if (get) {
    cx_buf_init(&b, 8 << 20);
    if (!id) return answer(h, c, r, 200, &b, feedback_surveys_list(h->cfg.fb, &b), &err);
    int64_t version = 0;
    const char *v = http_query(c, "version");
    if (v && (cx_parse_i64(v, strlen(v), &version) || version < 1)) {
      cx_buf_free(&b);
      return http_send_error(h, c, r, 400, "invalid_parameter", "version must be a whole number from 1.", "version");
    }
    return answer(h, c, r, 200, &b, feedback_survey_get(h->cfg.fb, id, version, &b), &err);
  }
  int create = !id && !strcmp(r->method, "POST");
  int update = id && !strcmp(r->method, "PUT");
  int del = id && !strcmp(r->method, "DELETE");
  if (!create && !update && !del)
    return http_send_error(h, c, r, 405, "method_not_allowed", id ? "Use GET, PUT or DELETE." : "Use GET or POST.", NULL);
  if (!admin) return http_send_error(h, c, r, 403, "forbidden", "This token may only read.", NULL);
  cx_buf_init(&b, 1 << 20);
  if (del) return answer(h, c, r, 204, &b, feedback_survey_delete(h->cfg.fb, id, &err), &err);
  cJSON *body = http_json_object(r);
  if (!body) {
    cx_buf_free(&b);
    return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
  }
  cx_err rc = create ? feedback_survey_create(h->cfg.fb, body, &b, &err) : feedback_survey_update(h->cfg.fb, id, body, &b, &err);
  cJSON_Delete(body);
  return answer(h, c, r, create ? 201 : 200, &b, rc, &err);
}

static enum MHD_Result time_arg(http_server *h, struct MHD_Connection *c, http_req *r, const char *name, int64_t *out,
                                int *bad) {
  const char *v = http_query(c, name);
  if (v && cx_time_parse(v, strlen(v), out)) {
    *bad = 1;
    char msg[80];
    snprintf(msg, sizeof msg, "%s must be an ISO-8601 time, such as 2026-01-01.", name);
    return http_send_error(h, c, r, 400, "invalid_parameter", msg, name);
  }
  return MHD_YES;
}

/* GET /metrics/enps-cx?cx=nps|csat&from=&to=&min_n= */
static enum MHD_Result enps_cx(http_server *h, struct MHD_Connection *c, http_req *r) {
  if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD"))
    return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET.", NULL);
  int64_t from = CX_TIME_MIN, to = CX_TIME_MAX, min_n = 5;
  int bad = 0;
  enum MHD_Result ret = time_arg(h, c, r, "from", &from, &bad);
  if (!bad) ret = time_arg(h, c, r, "to", &to, &bad);
  if (bad) return ret;
  if (to <= from) return http_send_error(h, c, r, 400, "invalid_parameter", "to must be after from.", "to");
  const char *v = http_query(c, "min_n");
  if (v && (cx_parse_i64(v, strlen(v), &min_n) || min_n < 1 || min_n > 1000000))
    return http_send_error(h, c, r, 400, "invalid_parameter", "min_n must be a whole number from 1.", "min_n");
  v = http_query(c, "cx");
  feedback_metric_kind k = !v || !strcmp(v, "csat") ? FEEDBACK_CSAT : !strcmp(v, "nps") ? FEEDBACK_NPS : FEEDBACK_CES;
  analytics_error err = {{0}, {0}, {0}};
  cx_buf b;
  cx_buf_init(&b, 4 << 20);
  return answer(h, c, r, 200, &b, feedback_enps_cx(h->cfg.fb, k, from, to, (uint64_t)min_n, &b, &err), &err);
}

/* GET /metrics/{nps|csat|ces}?survey=&question=&from=&to=&by=&interval=&compare_from=&compare_to= */
enum MHD_Result http_feedback_metric(http_server *h, struct MHD_Connection *c, http_req *r, const char *what) {
  feedback_metric_kind k;
  if (!strcmp(what, "enps-cx")) return enps_cx(h, c, r);
  if (!strcmp(what, "nps")) k = FEEDBACK_NPS;
  else if (!strcmp(what, "csat")) k = FEEDBACK_CSAT;
  else if (!strcmp(what, "ces")) k = FEEDBACK_CES;
  else return http_send_error(h, c, r, 404, "not_found", "The metrics are nps, csat and ces.", NULL);
  if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD"))
    return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET.", NULL);
  feedback_query q = {.from = CX_TIME_MIN, .to = CX_TIME_MAX, .question = http_query(c, "question"), .by = http_query(c, "by"),
                      .interval = http_query(c, "interval"), .seg = h->cfg.seg};
  const char *v = http_query(c, "survey");
  if (v && (cx_parse_i64(v, strlen(v), &q.survey) || q.survey <= 0))
    return http_send_error(h, c, r, 400, "unknown_survey", "survey must be a survey's id.", "survey");
  int bad = 0;
  enum MHD_Result ret = time_arg(h, c, r, "from", &q.from, &bad);
  if (!bad) ret = time_arg(h, c, r, "to", &q.to, &bad);
  if (!bad) ret = time_arg(h, c, r, "compare_from", &q.compare_from, &bad);
  if (!bad) ret = time_arg(h, c, r, "compare_to", &q.compare_to, &bad);
  if (bad) return ret;
  if (q.to <= q.from) return http_send_error(h, c, r, 400, "invalid_parameter", "to must be after from.", "to");
  if (!http_query(c, "compare_from") != !http_query(c, "compare_to") || (http_query(c, "compare_from") && q.compare_to <= q.compare_from))
    return http_send_error(h, c, r, 400, "invalid_parameter",
                           "compare_from and compare_to go together, compare_to after compare_from.", "compare_to");
  analytics_error err = {{0}, {0}, {0}};
  cx_buf b;
  cx_buf_init(&b, 4 << 20);
  return answer(h, c, r, 200, &b, feedback_metric(h->cfg.fb, k, &q, &b, &err), &err);
}

/* GET /feedback?survey=&sentiment=&theme=&q=&from=&to=&cursor=&limit= and
 * GET /feedback/themes?survey=&from=&to= */
enum MHD_Result http_feedback(http_server *h, struct MHD_Connection *c, http_req *r, const char *what,
                              const gv_principal *p) {
  if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD"))
    return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET.", NULL);
  int themes = !strcmp(what, "themes");
  if (*what && !themes) return http_send_error(h, c, r, 404, "not_found", "There is no such API resource.", NULL);
  feedback_verbatim_query q = {.from = CX_TIME_MIN, .to = CX_TIME_MAX, .limit = 50, .sentiment = http_query(c, "sentiment"),
                               .theme = http_query(c, "theme"), .q = http_query(c, "q"), .unit_scope = p->unit_id};
  const char *v = http_query(c, "survey");
  if (v && (cx_parse_i64(v, strlen(v), &q.survey) || q.survey <= 0))
    return http_send_error(h, c, r, 400, "unknown_survey", "survey must be a survey's id.", "survey");
  int bad = 0;
  enum MHD_Result ret = time_arg(h, c, r, "from", &q.from, &bad);
  if (!bad) ret = time_arg(h, c, r, "to", &q.to, &bad);
  if (bad) return ret;
  if (q.to <= q.from) return http_send_error(h, c, r, 400, "invalid_parameter", "to must be after from.", "to");
  int64_t limit = 50;
  if ((v = http_query(c, "cursor")) && (cx_parse_i64(v, strlen(v), &q.cursor) || q.cursor < 0))
    return http_send_error(h, c, r, 400, "invalid_parameter", "cursor must be a next_cursor of an earlier page.", "cursor");
  if ((v = http_query(c, "limit")) && (cx_parse_i64(v, strlen(v), &limit) || limit < 1 || limit > 1000))
    return http_send_error(h, c, r, 400, "invalid_parameter", "limit must be a whole number from 1 to 1000.", "limit");
  q.limit = (size_t)limit;
  analytics_error err = {{0}, {0}, {0}};
  cx_buf b;
  cx_buf_init(&b, 16 << 20);
  cx_err rc = themes ? feedback_themes(h->cfg.fb, q.survey, q.from, q.to, &b, &err) : feedback_verbatims(h->cfg.fb, &q, &b, &err);
  return answer(h, c, r, 200, &b, rc, &err);
}
