/* analytics.c - /api/v1/analytics/{funnel,retention,paths} (POST, a JSON
 * body), /api/v1/analytics/kpis and /api/v1/lifecycle (GET, a query): the
 * journey analytics of lib/analytics, from the in-memory timelines. */
#include "http_int.h"
#include "../analytics/analytics.h"
#include "../base/mem.h"
#include "../base/time.h"
#include <stdio.h>
#include <string.h>

#define ANSWER_MAX (16 << 20)

static enum MHD_Result reply(http_server *h, struct MHD_Connection *c, http_req *r, cx_buf *b,
                             cx_err rc, const analytics_error *err) {
  return http_send_outcome(h, c, r, 200, b, rc, err, NULL);
}

enum MHD_Result http_analytics(http_server *h, struct MHD_Connection *c, http_req *r,
                               const char *what) {
  /* GET: lifecycle and kpis read their query; POST: the others a body */
  static const char *const lifecycle_params[] = {"from", "to", "interval", NULL};
  static const char *const kpi_params[] = {"from", "to", "interval", "purchase_event",
                                           "activation_event", "activation_window", NULL};
  static const char *const rfm_params[] = {"purchase_event", "revenue_property", NULL};
  int lifecycle = !strcmp(what, "lifecycle"), kpis = !strcmp(what, "kpis"), rfm = !strcmp(what, "rfm");
  const char *const *params = lifecycle ? lifecycle_params : kpis ? kpi_params : rfm ? rfm_params : NULL;
  cx_err (*query)(const analytics_ctx *, const cJSON *, cx_buf *, analytics_error *) =
      !strcmp(what, "funnel") ? analytics_funnel
      : !strcmp(what, "retention") ? analytics_retention
      : !strcmp(what, "paths") ? analytics_paths
      : lifecycle ? analytics_lifecycle
      : kpis ? analytics_kpis
      : rfm ? analytics_rfm
      : NULL;
  if (!query) return http_send_error(h, c, r, 404, "not_found", "There is no such API resource.", NULL);
  if (params && strcmp(r->method, "GET") && strcmp(r->method, "HEAD"))
    return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET.", NULL);
  if (!params && strcmp(r->method, "POST"))
    return http_send_error(h, c, r, 405, "method_not_allowed", "Use POST with a JSON body.", NULL);
  cJSON *req = NULL;
  if (params) { /* the query as a request object; an empty value is absent
                 * (but RFM's revenue_property= asks for no monetary score) */
    req = cJSON_CreateObject();
    for (size_t i = 0; req && params[i]; i++) {
      const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, params[i]);
      if (v && (*v || rfm) && !cJSON_AddStringToObject(req, params[i], v)) {
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
  analytics_ctx ax;
  if (http_analytics_ctx(h, !params || rfm, &ax)) { /* RFM reads revenue from the store */
    cJSON_Delete(req);
    return http_send_error(h, c, r, 503, "overloaded", "Out of memory; retry.", NULL);
  }
  analytics_error err = {{0}, {0}, {0}};
  cx_buf b;
  cx_buf_init(&b, ANSWER_MAX);
  cx_err rc = query(&ax, req, &b, &err);
  http_analytics_ctx_done(h, &ax);
  cJSON_Delete(req);
  return reply(h, c, r, &b, rc, &err);
}

cx_err http_analytics_ctx(http_server *h, int reader, analytics_ctx *out) {
  const char **names = NULL;
  size_t nnames = 0;
  if (ingest_source_names(h->cfg.in, &names, &nnames)) return CX_ENOMEM;
  *out = (analytics_ctx){.pr = h->cfg.pr, .rdb = reader ? store_reader_get(h->cfg.st) : NULL,
                         .source_names = names, .nsource_names = nnames,
                         .type_name = ingest_type_name, .now_ms = cx_now_ms()};
  return CX_OK;
}

void http_analytics_ctx_done(http_server *h, analytics_ctx *ax) {
  if (ax->rdb) store_reader_put(h->cfg.st, ax->rdb);
  cx_free((void *)ax->source_names);
  ax->rdb = NULL;
  ax->source_names = NULL;
}

/* ---- /api/v1/lifecycle/stages: the stage model ---- */

typedef struct {
  store_job job;
  const char *value; /* NULL: delete (back to the defaults) */
} meta_job;

static cx_err apply_meta(store_job *job, sqlite3 *db) {
  meta_job *j = (meta_job *)job;
  sqlite3_stmt *st = NULL;
  const char *sql = j->value ? "INSERT INTO meta(key, value) VALUES('lifecycle_stages', ?1)"
                               " ON CONFLICT(key) DO UPDATE SET value = excluded.value"
                             : "DELETE FROM meta WHERE key = 'lifecycle_stages'";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL)) return CX_EDB;
  if (j->value) sqlite3_bind_text(st, 1, j->value, -1, SQLITE_STATIC);
  cx_err rc = sqlite3_step(st) == SQLITE_DONE ? CX_OK : CX_EDB;
  sqlite3_finalize(st);
  return rc;
}

enum MHD_Result http_lifecycle_stages(http_server *h, struct MHD_Connection *c, http_req *r, int admin) {
  cx_buf b;
  cx_buf_init(&b, 64 * 1024);
  int get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
  int put = !strcmp(r->method, "PUT"), del = !strcmp(r->method, "DELETE");
  if (!get && !put && !del) {
    cx_buf_free(&b);
    return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET, PUT or DELETE.", NULL);
  }
  if (!get && !admin) {
    cx_buf_free(&b);
    return http_send_error(h, c, r, 403, "forbidden", "This token may only read.", NULL);
  }
  analytics_error err = {{0}, {0}, {0}};
  cx_err rc = CX_OK;
  if (put) {
    cJSON *body = cJSON_ParseWithLength(r->body.p ? r->body.p : "", r->body.len);
    const cJSON *stages = cJSON_GetObjectItemCaseSensitive(body, "stages");
    if (!cJSON_IsObject(body)) {
      cJSON_Delete(body);
      cx_buf_free(&b);
      return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
    }
    const char *names[PROFILE_MAX_STAGES], *rules[PROFILE_MAX_STAGES];
    size_t n = 0;
    if (!cJSON_IsArray(stages) || cJSON_GetArraySize(stages) < 1 || cJSON_GetArraySize(stages) > PROFILE_MAX_STAGES) {
      snprintf(err.code, sizeof err.code, "invalid_field");
      snprintf(err.field, sizeof err.field, "stages");
      snprintf(err.message, sizeof err.message, "stages must be a list of 1 to %d {\"name\",\"rule\"}.", PROFILE_MAX_STAGES);
      rc = CX_EINVAL;
    }
    for (const cJSON *x = rc ? NULL : stages->child; x; x = x->next, n++) {
      const cJSON *nm = cJSON_GetObjectItemCaseSensitive(x, "name"), *ru = cJSON_GetObjectItemCaseSensitive(x, "rule");
      if (!cJSON_IsString(nm) || !cJSON_IsString(ru)) {
        snprintf(err.code, sizeof err.code, "invalid_field");
        snprintf(err.field, sizeof err.field, "stages[%zu]", n);
        snprintf(err.message, sizeof err.message, "Stage %zu needs a name and a rule (strings).", n + 1);
        rc = CX_EINVAL;
        break;
      }
      names[n] = nm->valuestring;
      rules[n] = ru->valuestring;
    }
    profile_stages *m = NULL;
    size_t bad = 0;
    int bad_rule = 0;
    if (!rc) rc = profile_stages_compile(names, rules, n, &m, &bad, &bad_rule, err.message, sizeof err.message);
    if (rc == CX_EINVAL && !err.code[0]) {
      snprintf(err.code, sizeof err.code, bad_rule ? "invalid_rule" : "invalid_field");
      snprintf(err.field, sizeof err.field, bad_rule ? "stages[%zu].rule" : "stages[%zu].name", bad);
    }
    cx_buf text; /* saved as checked, in the form it is answered with */
    cx_buf_init(&text, 64 * 1024);
    if (!rc) rc = profile_stages_write(m, &text);
    if (!rc) rc = cx_buf_append(&text, "", 1); /* NUL-terminated for the store */
    meta_job j = {.job = {.apply = apply_meta, .weight = 1}, .value = text.p};
    if (!rc) rc = store_run(h->cfg.st, &j.job);
    if (!rc) profile_stages_install(h->cfg.pr, m), m = NULL;
    profile_stages_free(m);
    cx_buf_free(&text);
    cJSON_Delete(body);
  } else if (del) {
    meta_job j = {.job = {.apply = apply_meta, .weight = 1}, .value = NULL};
    rc = store_run(h->cfg.st, &j.job);
    if (!rc) profile_stages_install(h->cfg.pr, NULL);
  }
  if (!rc) rc = profile_stages_json(h->cfg.pr, &b);
  return reply(h, c, r, &b, rc, &err);
}
