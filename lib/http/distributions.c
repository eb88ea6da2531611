/* distributions.c - survey distribution over HTTP (docs/distribution.md):
 * GET/PUT /api/v1/survey-settings, /api/v1/surveys/{id}/distributions[/{did}]
 * and /api/v1/surveys/{id}/triggers[/{tid}]. Changes need the admin token;
 * a read-only token sees invitations' e-mail addresses masked. */
#include "http_int.h"
#include "../base/util.h"
#include <stdio.h>
#include <string.h>

static const http_names dist_names = {"not_found", "No survey, distribution or trigger has this id.", "exists",
                                      "It exists already."};

static enum MHD_Result answer(http_server *h, struct MHD_Connection *c, http_req *r, int status, cx_buf *b, cx_err rc,
                              const analytics_error *err) {
  return http_send_outcome(h, c, r, status, b, rc, err, &dist_names);
}

enum MHD_Result http_survey_settings(http_server *h, struct MHD_Connection *c, http_req *r, int admin) {
  analytics_error err = {{0}, {0}, {0}};
  cx_buf b;
  if (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD")) {
    cx_buf_init(&b, 4096);
    return answer(h, c, r, 200, &b, feedback_dist_settings_get(h->cfg.dist, &b), &err);
  }
  if (strcmp(r->method, "PUT")) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET or PUT.", NULL);
  if (!admin) return http_send_error(h, c, r, 403, "forbidden", "This token may only read.", NULL);
  cJSON *body = http_json_object(r);
  if (!body) return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
  cx_buf_init(&b, 4096);
  cx_err rc = feedback_dist_settings_put(h->cfg.dist, body, &b, &err);
  cJSON_Delete(body);
  return answer(h, c, r, 200, &b, rc, &err);
}

/* rest: "" or "{did}" after /surveys/{id}/distributions/ */
enum MHD_Result http_distributions(http_server *h, struct MHD_Connection *c, http_req *r, int64_t survey,
                                   const char *rest, int admin) {
  int get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
  analytics_error err = {{0}, {0}, {0}};
  cx_buf b;
  int64_t id = 0;
  if (*rest && (cx_parse_i64(rest, strlen(rest), &id) || id <= 0))
    return http_send_error(h, c, r, 404, "not_found", "No distribution has this id.", "id");
  if (id) {
    if (!get) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET.", NULL);
    int64_t cursor = 0, limit = 100;
    const char *v;
    if ((v = http_query(c, "cursor")) && (cx_parse_i64(v, strlen(v), &cursor) || cursor < 0))
      return http_send_error(h, c, r, 400, "invalid_parameter", "cursor must be a next_cursor of an earlier page.", "cursor");
    if ((v = http_query(c, "limit")) && (cx_parse_i64(v, strlen(v), &limit) || limit < 1 || limit > 1000))
      return http_send_error(h, c, r, 400, "invalid_parameter", "limit must be a whole number from 1 to 1000.", "limit");
    cx_buf_init(&b, 16 << 20);
    return answer(h, c, r, 200, &b,
                  feedback_dist_get(h->cfg.dist, survey, id, cursor, (size_t)limit, admin, &b), &err);
  }
  if (get) {
    cx_buf_init(&b, 8 << 20);
    return answer(h, c, r, 200, &b, feedback_dist_list(h->cfg.dist, survey, &b), &err);
  }
  if (strcmp(r->method, "POST")) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET or POST.", NULL);
  if (!admin) return http_send_error(h, c, r, 403, "forbidden", "This token may only read.", NULL);
  cJSON *body = http_json_object(r);
  if (!body) return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
  cx_buf_init(&b, 4096);
  cx_err rc = feedback_dist_create(h->cfg.dist, survey, body, &b, &err);
  cJSON_Delete(body);
  if (rc == CX_EFULL) {
    cx_buf_free(&b);
    return http_send_error(h, c, r, 503, "overloaded", "The write queue is full; retry.", NULL);
  }
  return answer(h, c, r, 201, &b, rc, &err);
}

/* rest: "" or "{tid}" after /surveys/{id}/triggers/ */
enum MHD_Result http_triggers(http_server *h, struct MHD_Connection *c, http_req *r, int64_t survey, const char *rest,
                              int admin) {
  int get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
  analytics_error err = {{0}, {0}, {0}};
  cx_buf b;
  int64_t id = 0;
  if (*rest && (cx_parse_i64(rest, strlen(rest), &id) || id <= 0))
    return http_send_error(h, c, r, 404, "not_found", "No trigger has this id.", "id");
  if (id) {
    if (strcmp(r->method, "DELETE")) return http_send_error(h, c, r, 405, "method_not_allowed", "Use DELETE.", NULL);
    if (!admin) return http_send_error(h, c, r, 403, "forbidden", "This token may only read.", NULL);
    cx_buf_init(&b, 64);
    return answer(h, c, r, 204, &b, feedback_dist_trigger_delete(h->cfg.dist, survey, id), &err);
  }
  if (get) {
    cx_buf_init(&b, 8 << 20);
    return answer(h, c, r, 200, &b, feedback_dist_triggers_list(h->cfg.dist, survey, &b), &err);
  }
  if (strcmp(r->method, "POST")) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET or POST.", NULL);
  if (!admin) return http_send_error(h, c, r, 403, "forbidden", "This token may only read.", NULL);
  cJSON *body = http_json_object(r);
  if (!body) return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
  cx_buf_init(&b, 64 * 1024);
  cx_err rc = feedback_dist_trigger_create(h->cfg.dist, survey, body, &b, &err);
  cJSON_Delete(body);
  return answer(h, c, r, 201, &b, rc, &err);
}
