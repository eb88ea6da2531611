/* analytics.c - /api/v1/analytics/{funnel,retention,paths} (POST, a JSON
 * body), /api/v1/analytics/kpis and /api/v1/lifecycle (GET, a query): the
 * journey analytics of lib/analytics, from the in-memory timelines. */
#include "http_int.h"
#include "../analytics/analytics.h"
#include "../base/mem.h"
#include "../base/time.h"
#include <string.h>

#define ANSWER_MAX (16 << 20)

static enum MHD_Result reply(http_server *h, struct MHD_Connection *c, http_req *r, cx_buf *b,
                             cx_err rc, const analytics_error *err) {
  enum MHD_Result ret;
  if (rc == CX_EINVAL)
    ret = http_send_error(h, c, r, 400, err->code, err->message, *err->field ? err->field : NULL);
  else if (rc)
    ret = http_send_error(h, c, r, rc == CX_ENOMEM ? 503 : 500,
                          rc == CX_ETOOBIG ? "response_too_large" : "internal_error",
                          "The answer could not be built; retry, or ask for less.", NULL);
  else
    ret = http_send_json(c, r, 200, b);
  cx_buf_free(b);
  return ret;
}

enum MHD_Result http_analytics(http_server *h, struct MHD_Connection *c, http_req *r,
                               const char *what) {
  /* GET: lifecycle and kpis read their query; POST: the others a body */
  static const char *const lifecycle_params[] = {"from", "to", "interval", NULL};
  static const char *const kpi_params[] = {"from", "to", "interval", "purchase_event",
                                           "activation_event", "activation_window", NULL};
  int lifecycle = !strcmp(what, "lifecycle"), kpis = !strcmp(what, "kpis");
  const char *const *params = lifecycle ? lifecycle_params : kpis ? kpi_params : NULL;
  cx_err (*query)(const analytics_ctx *, const cJSON *, cx_buf *, analytics_error *) =
      !strcmp(what, "funnel") ? analytics_funnel
      : !strcmp(what, "retention") ? analytics_retention
      : !strcmp(what, "paths") ? analytics_paths
      : lifecycle ? analytics_lifecycle
      : kpis ? analytics_kpis
      : NULL;
  if (!query) return http_send_error(h, c, r, 404, "not_found", "There is no such API resource.", NULL);
  if (params && strcmp(r->method, "GET") && strcmp(r->method, "HEAD"))
    return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET.", NULL);
  if (!params && strcmp(r->method, "POST"))
    return http_send_error(h, c, r, 405, "method_not_allowed", "Use POST with a JSON body.", NULL);
  cJSON *req = NULL;
  if (params) { /* the query as a request object */
    req = cJSON_CreateObject();
    for (size_t i = 0; req && params[i]; i++) {
      const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, params[i]);
      if (v && *v && !cJSON_AddStringToObject(req, params[i], v)) {
        cJSON_Delete(req);
        req = NULL;
      }
    }
    if (!req) return http_send_error(h, c, r, 503, "overloaded", "Out of memory; retry.", NULL);
  } else {
    req = cJSON_ParseWithLength(r->body.p ? r->body.p : "", r->body.len);
    if (!cJSON_IsObject(req)) {
      cJSON_Delete(req);
      return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
    }
  }
  const char **names = NULL;
  size_t nnames = 0;
  if (ingest_source_names(h->cfg.in, &names, &nnames)) {
    cJSON_Delete(req);
    return http_send_error(h, c, r, 503, "overloaded", "Out of memory; retry.", NULL);
  }
  sqlite3 *rdb = params ? NULL : store_reader_get(h->cfg.st);
  analytics_ctx ax = {.pr = h->cfg.pr, .rdb = rdb, .source_names = names,
                      .nsource_names = nnames, .type_name = ingest_type_name,
                      .now_ms = cx_now_ms()};
  analytics_error err = {{0}, {0}, {0}};
  cx_buf b;
  cx_buf_init(&b, ANSWER_MAX);
  cx_err rc = query(&ax, req, &b, &err);
  if (rdb) store_reader_put(h->cfg.st, rdb);
  cx_free(names);
  cJSON_Delete(req);
  return reply(h, c, r, &b, rc, &err);
}
