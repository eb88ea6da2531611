/* journey.c - /api/v1/journey-maps: list, create, read (with live numbers),
 * save a new version, delete (docs/journey-maps.md). Changes need the
 * admin token. */
#include "http_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/util.h"
#include "../journey/journey.h"
#include <string.h>

#define DAY_MS 86400000LL

static const http_names map_names = {"journey_map_not_found", "No journey map has this id (or version).",
                                  "journey_map_exists", "A journey map with this name exists."};

static enum MHD_Result answer(http_server *h, struct MHD_Connection *c, http_req *r, int status,
                              cx_buf *b, cx_err rc, const analytics_error *err) {
  return http_send_outcome(h, c, r, status, b, rc, err, &map_names);
}

/* GET /journey-maps/{id}?version=&from=&to=&window= */
static enum MHD_Result get_map(http_server *h, struct MHD_Connection *c, http_req *r, int64_t id) {
  int64_t version = 0, now = cx_now_ms(), to = now, from, window = 30 * DAY_MS;
  const char *v;
  analytics_error err = {{0}, {0}, {0}};
  if ((v = http_query(c, "version")) && (cx_parse_i64(v, strlen(v), &version) || version < 1))
    return http_send_error(h, c, r, 400, "invalid_parameter", "version must be a whole number from 1.", "version");
  if ((v = http_query(c, "to")) && cx_time_parse(v, strlen(v), &to))
    return http_send_error(h, c, r, 400, "invalid_parameter", "to must be an ISO-8601 time.", "to");
  from = to - 30 * DAY_MS;
  if ((v = http_query(c, "from")) && cx_time_parse(v, strlen(v), &from))
    return http_send_error(h, c, r, 400, "invalid_parameter", "from must be an ISO-8601 time.", "from");
  if (to <= from) return http_send_error(h, c, r, 400, "invalid_parameter", "to must be after from.", "to");
  if ((v = http_query(c, "window")) && analytics_parse_duration(v, 365 * DAY_MS, &window))
    return http_send_error(h, c, r, 400, "invalid_parameter",
                           "window must be a duration above 0 and at most 365d, such as 12h or 7d.", "window");
  analytics_ctx ax;
  if (http_analytics_ctx(h, 1, &ax)) return http_send_error(h, c, r, 503, "overloaded", "Out of memory; retry.", NULL);
  ax.now_ms = now;
  cx_buf b;
  cx_buf_init(&b, 4 << 20);
  const char *live = http_query(c, "live");
  int with_live = !live || strcmp(live, "false");
  cx_err rc = journey_map_get(h->cfg.st, id, version, with_live ? &ax : NULL, h->cfg.fb, from, to, window, &b, &err);
  http_analytics_ctx_done(h, &ax);
  return answer(h, c, r, 200, &b, rc, &err);
}

enum MHD_Result http_journey(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest,
                             int admin) {
  int get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
  int64_t id = 0;
  if (*rest && (cx_parse_i64(rest, strlen(rest), &id) || id <= 0))
    return http_send_error(h, c, r, 404, "journey_map_not_found", "No journey map has this id.", "id");
  if (get) {
    if (id) return get_map(h, c, r, id);
    cx_buf b;
    cx_buf_init(&b, 8 << 20);
    analytics_error err = {{0}, {0}, {0}};
    return answer(h, c, r, 200, &b, journey_maps_list(h->cfg.st, &b), &err);
  }
  int create = !id && !strcmp(r->method, "POST");
  int update = id && !strcmp(r->method, "PUT");
  int del = id && !strcmp(r->method, "DELETE");
  if (!create && !update && !del)
    return http_send_error(h, c, r, 405, "method_not_allowed", id ? "Use GET, PUT or DELETE." : "Use GET or POST.", NULL);
  if (!admin) return http_send_error(h, c, r, 403, "forbidden", "This token may only read.", NULL);
  cx_buf b;
  cx_buf_init(&b, 4 << 20);
  analytics_error err = {{0}, {0}, {0}};
  if (del) return answer(h, c, r, 204, &b, journey_map_delete(h->cfg.st, id), &err);
  cJSON *body = cJSON_ParseWithLength(r->body.p ? r->body.p : "", r->body.len);
  if (!cJSON_IsObject(body)) {
    cJSON_Delete(body);
    cx_buf_free(&b);
    return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
  }
  cx_err rc = create ? journey_map_create(h->cfg.st, body, &b, &err) : journey_map_update(h->cfg.st, id, body, &b, &err);
  cJSON_Delete(body);
  return answer(h, c, r, create ? 201 : 200, &b, rc, &err);
}
