/* maturity.c - /api/v1/maturity: the model, the evidence, and the
 * assessments (list, create, read, delete) of the CX maturity
 * self-assessment (docs/maturity.md). The caller's permission was checked
 * before (GET: read; POST and DELETE: program); p names who answers. */
#include "http_int.h"
#include "../base/time.h"
#include "../base/util.h"
#include "../govern/maturity.h"
#include <string.h>

static const http_names assessment_names = {"assessment_not_found", "No maturity assessment has this id.", NULL,
                                            NULL};

static enum MHD_Result answer(http_server *h, struct MHD_Connection *c, http_req *r, int status, cx_buf *b,
                              cx_err rc) {
  analytics_error err = {{0}, {0}, {0}};
  return http_send_outcome(h, c, r, status, b, rc, &err, &assessment_names);
}

/* GET /maturity/assessments?limit=&cursor= */
static enum MHD_Result list(http_server *h, struct MHD_Connection *c, http_req *r) {
  int64_t cursor = 0, limit = 50;
  const char *v;
  if ((v = http_query(c, "cursor")) && (cx_parse_i64(v, strlen(v), &cursor) || cursor < 1))
    return http_send_error(h, c, r, 400, "invalid_parameter", "cursor must be a next_cursor of an earlier page.",
                           "cursor");
  if ((v = http_query(c, "limit")) && (cx_parse_i64(v, strlen(v), &limit) || limit < 1 || limit > 1000))
    return http_send_error(h, c, r, 400, "invalid_parameter", "limit must be a whole number from 1 to 1000.",
                           "limit");
  cx_buf b;
  cx_buf_init(&b, 32 << 20);
  return answer(h, c, r, 200, &b, gv_maturity_list(h->cfg.st, cursor, (size_t)limit, &b));
}

static enum MHD_Result create(http_server *h, struct MHD_Connection *c, http_req *r, const gv_principal *p) {
  cJSON *body = http_json_object(r);
  if (!body) return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
  analytics_error err = {{0}, {0}, {0}};
  cx_buf b;
  cx_buf_init(&b, 1 << 20);
  cx_err rc = gv_maturity_create(h->cfg.st, body, p->actor, cx_now_ms(), &b, &err);
  cJSON_Delete(body);
  return http_send_outcome(h, c, r, 201, &b, rc, &err, &assessment_names);
}

/* rest: what follows /api/v1/maturity/ */
enum MHD_Result http_maturity(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest,
                              const gv_principal *p) {
  int get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
  cx_buf b;
  if (!strcmp(rest, "model") || !strcmp(rest, "evidence")) {
    if (!get) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET.", NULL);
    cx_buf_init(&b, 1 << 20);
    return answer(h, c, r, 200, &b,
                  rest[0] == 'm' ? gv_maturity_model_json(&b) : gv_maturity_evidence(h->cfg.st, cx_now_ms(), &b));
  }
  if (!strcmp(rest, "assessments")) {
    if (get) return list(h, c, r);
    if (!strcmp(r->method, "POST")) return create(h, c, r, p);
    return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET or POST.", NULL);
  }
  if (!strncmp(rest, "assessments/", 12)) {
    int64_t id;
    const char *s = rest + 12;
    if (cx_parse_i64(s, strlen(s), &id) || id <= 0)
      return http_send_error(h, c, r, 404, "assessment_not_found", "No maturity assessment has this id.", "id");
    if (get) {
      cx_buf_init(&b, 1 << 20);
      return answer(h, c, r, 200, &b, gv_maturity_get(h->cfg.st, id, &b));
    }
    if (!strcmp(r->method, "DELETE")) {
      cx_buf_init(&b, 64);
      return answer(h, c, r, 204, &b, gv_maturity_delete(h->cfg.st, id));
    }
    return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET or DELETE.", NULL);
  }
  return http_send_error(h, c, r, 404, "not_found", "There is no such API resource.", NULL);
}
