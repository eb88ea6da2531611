/* cases.c - the closed loop over HTTP (docs/cases.md): /api/v1/cases,
 * /cases/metrics, /cases/{id}, /cases/{id}/notes, /case-rules,
 * /sla-policies and /root-causes. The caller (api.c) has authorised the
 * request; p scopes what is seen and names who acts. */
#include "http_int.h"
#include "../base/time.h"
#include "../base/util.h"
#include <stdio.h>
#include <string.h>

static const http_names case_names = {"not_found", "No case has this id (in your units).", "exists",
                                      "A thing with this name exists already."};
static const http_names config_names = {"not_found", "Nothing of this kind has this id.", "exists",
                                        "A thing with this name exists already."};

static enum MHD_Result answer(http_server *h, struct MHD_Connection *c, http_req *r, int status, cx_buf *b, cx_err rc,
                              const analytics_error *err, const http_names *names) {
  if (rc == CX_EINVAL && (!strcmp(err->code, "illegal_transition") || !strcmp(err->code, "in_use"))) {
    cx_buf_free(b);
    return http_send_error(h, c, r, 409, err->code, err->message, err->field[0] ? err->field : NULL);
  }
  if (rc == CX_EFULL) {
    cx_buf_free(b);
    return http_send_error(h, c, r, 503, "overloaded", "The write queue is full; retry.", NULL);
  }
  return http_send_outcome(h, c, r, status, b, rc, err, names);
}

static int is_get(const http_req *r) { return !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD"); }

/* An id in a path: "12"; 0 when it is not one. */
static int64_t path_id(const char *s, size_t n) {
  int64_t id;
  return cx_parse_i64(s, n, &id) || id <= 0 ? 0 : id;
}

static int query_id(struct MHD_Connection *c, const char *name, int64_t *out) {
  const char *v = http_query(c, name);
  *out = 0;
  if (!v) return 1;
  return !cx_parse_i64(v, strlen(v), out) && *out > 0;
}

static enum MHD_Result list(http_server *h, struct MHD_Connection *c, http_req *r, const gv_principal *p) {
  cases_query q = {.status = http_query(c, "status"), .limit = 50};
  const char *v;
  int64_t limit = 50;
  if ((v = http_query(c, "limit")) && (cx_parse_i64(v, strlen(v), &limit) || limit < 1 || limit > 1000))
    return http_send_error(h, c, r, 400, "invalid_parameter", "limit must be a whole number from 1 to 1000.", "limit");
  q.limit = (size_t)limit;
  if ((v = http_query(c, "owner")) && !strcmp(v, "none")) q.owner = -1;
  else if (!query_id(c, "owner", &q.owner))
    return http_send_error(h, c, r, 400, "invalid_parameter", "owner must be a user's id or none.", "owner");
  if (!query_id(c, "unit", &q.unit))
    return http_send_error(h, c, r, 400, "invalid_parameter", "unit must be a unit's id.", "unit");
  if (!query_id(c, "customer", &q.customer))
    return http_send_error(h, c, r, 400, "invalid_parameter", "customer must be a customer's id.", "customer");
  if (!query_id(c, "cursor", &q.cursor))
    return http_send_error(h, c, r, 400, "invalid_parameter", "cursor must be a next_cursor of an earlier page.", "cursor");
  analytics_error err = {{0}, {0}, {0}};
  cx_buf b;
  cx_buf_init(&b, 32 << 20);
  cx_err rc = cases_list(h->cfg.cases, &q, p, &b, &err);
  return answer(h, c, r, 200, &b, rc, &err, &case_names);
}

static enum MHD_Result metrics(http_server *h, struct MHD_Connection *c, http_req *r, const gv_principal *p) {
  int64_t to = cx_now_ms(), from, unit;
  const char *v;
  if ((v = http_query(c, "to")) && cx_time_parse(v, strlen(v), &to))
    return http_send_error(h, c, r, 400, "invalid_parameter", "to must be an ISO-8601 time such as 2026-12-01T00:00:00Z.", "to");
  from = to - 30 * 86400000LL;
  if ((v = http_query(c, "from")) && cx_time_parse(v, strlen(v), &from))
    return http_send_error(h, c, r, 400, "invalid_parameter", "from must be an ISO-8601 time such as 2026-11-01T00:00:00Z.", "from");
  if (!query_id(c, "unit", &unit))
    return http_send_error(h, c, r, 400, "invalid_parameter", "unit must be a unit's id.", "unit");
  analytics_error err = {{0}, {0}, {0}};
  cx_buf b;
  cx_buf_init(&b, 1 << 20);
  cx_err rc = cases_metrics(h->cfg.cases, from, to, unit, p, &b, &err);
  return answer(h, c, r, 200, &b, rc, &err, &case_names);
}

/* with a JSON body: fn(cases, id, body, p, out, err) */
typedef cx_err (*case_write)(cases *cs, int64_t id, const cJSON *req, const gv_principal *p, cx_buf *out,
                             analytics_error *err);

static enum MHD_Result write_case(http_server *h, struct MHD_Connection *c, http_req *r, int64_t id, case_write fn,
                                  int status, const gv_principal *p) {
  cJSON *body = http_json_object(r);
  if (!body) return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
  analytics_error err = {{0}, {0}, {0}};
  cx_buf b;
  cx_buf_init(&b, 4 << 20);
  cx_err rc = fn(h->cfg.cases, id, body, p, &b, &err);
  cJSON_Delete(body);
  return answer(h, c, r, status, &b, rc, &err, &case_names);
}

static cx_err create_fn(cases *cs, int64_t id, const cJSON *req, const gv_principal *p, cx_buf *out,
                        analytics_error *err) {
  (void)id;
  return cases_create(cs, req, p, out, err);
}

static enum MHD_Result unavailable(http_server *h, struct MHD_Connection *c, http_req *r) {
  return http_send_error(h, c, r, 503, "unavailable", "Cases are not running on this server.", NULL);
}

enum MHD_Result http_cases(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest,
                           const gv_principal *p) {
  if (!h->cfg.cases) return unavailable(h, c, r);
  if (!*rest) {
    if (is_get(r)) return list(h, c, r, p);
    if (strcmp(r->method, "POST")) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET or POST.", NULL);
    return write_case(h, c, r, 0, create_fn, 201, p);
  }
  if (!strcmp(rest, "metrics")) {
    if (!is_get(r)) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET.", NULL);
    return metrics(h, c, r, p);
  }
  const char *slash = strchr(rest, '/');
  int64_t id = path_id(rest, slash ? (size_t)(slash - rest) : strlen(rest));
  if (!id || (slash && strcmp(slash, "/notes")))
    return http_send_error(h, c, r, 404, "not_found", "No case has this id.", "id");
  if (slash) {
    if (strcmp(r->method, "POST")) return http_send_error(h, c, r, 405, "method_not_allowed", "Use POST.", NULL);
    return write_case(h, c, r, id, cases_note, 201, p);
  }
  if (!strcmp(r->method, "PATCH")) return write_case(h, c, r, id, cases_patch, 200, p);
  if (!is_get(r)) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET or PATCH.", NULL);
  analytics_error err = {{0}, {0}, {0}};
  cx_buf b;
  cx_buf_init(&b, 16 << 20);
  return answer(h, c, r, 200, &b, cases_get(h->cfg.cases, id, p, &b), &err, &case_names);
}

enum MHD_Result http_case_config(http_server *h, struct MHD_Connection *c, http_req *r, cases_kind kind,
                                 const char *rest, const gv_principal *p) {
  if (!h->cfg.cases) return unavailable(h, c, r);
  int64_t id = 0;
  if (*rest && !(id = path_id(rest, strlen(rest))))
    return http_send_error(h, c, r, 404, "not_found", "Nothing of this kind has this id.", "id");
  analytics_error err = {{0}, {0}, {0}};
  cx_buf b;
  cx_buf_init(&b, 4 << 20);
  if (is_get(r)) {
    cx_err rc = id ? cases_config_get(h->cfg.cases, kind, id, &b) : cases_config_list(h->cfg.cases, kind, &b);
    return answer(h, c, r, 200, &b, rc, &err, &config_names);
  }
  if (id && !strcmp(r->method, "DELETE"))
    return answer(h, c, r, 204, &b, cases_config_delete(h->cfg.cases, kind, id, p, &err), &err, &config_names);
  if ((id && strcmp(r->method, "PUT")) || (!id && strcmp(r->method, "POST"))) {
    cx_buf_free(&b);
    return http_send_error(h, c, r, 405, "method_not_allowed",
                           id ? "Use GET, PUT or DELETE." : "Use GET or POST.", NULL);
  }
  cJSON *body = http_json_object(r);
  if (!body) {
    cx_buf_free(&b);
    return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
  }
  cx_err rc = cases_config_put(h->cfg.cases, kind, id, body, p, &b, &err);
  cJSON_Delete(body);
  return answer(h, c, r, id ? 200 : 201, &b, rc, &err, &config_names);
}
