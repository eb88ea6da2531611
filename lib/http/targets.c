/* targets.c - KPI owners and targets: /api/v1/targets[/{id}[/history]]
 * and /api/v1/scorecard (lib/govern/targets.h, docs/targets.md), and
 * the initiatives: /api/v1/initiatives[/{id}] (lib/govern/initiatives.h,
 * docs/initiatives.md). The caller has passed the matrix (api.c);
 * changes are audited here with the target or initiative before and
 * after. */
#include "http_int.h"
#include "../govern/initiatives.h"
#include "../base/log.h"
#include "../base/util.h"
#include <stdio.h>
#include <string.h>

static const http_names target_names = {"target_not_found", "No target has this id.", NULL, NULL};

static int is_get(const http_req *r) { return !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD"); }

static void audit(http_server *h, http_req *r, const gv_principal *p, const char *action, int64_t id, cx_buf *before,
                  cx_buf *after) {
  r->audited = 1;
  if (r->status < 200 || r->status > 299) return;
  char target[48];
  snprintf(target, sizeof target, "%.*s:%lld", (int)strcspn(action, "."), action, (long long)id);
  const char *b = before && before->len ? before->p : NULL, *a = after && after->len ? after->p : NULL;
  if (gv_audit(h->cfg.gv, p->actor, action, target, b, a)) cx_log("error", "audit_failed", "action", action, NULL);
}

static int64_t id_from(const cx_buf *b) {
  const char *s = b->len ? strstr(b->p, "\"id\":\"") : NULL;
  int64_t id = 0;
  if (s) {
    const char *e = strchr(s + 6, '"');
    if (e && cx_parse_i64(s + 6, (size_t)(e - s - 6), &id)) id = 0;
  }
  return id;
}

enum MHD_Result http_targets(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest,
                             const gv_principal *p) {
  gv_targets *t = h->cfg.targets;
  if (!t) return http_send_error(h, c, r, 503, "unavailable", "Targets are not available on this server.", NULL);
  analytics_error err = {{0}, {0}, {0}};
  cx_buf b, before, after;
  if (!strcmp(rest, "scorecard")) {
    if (!is_get(r)) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET.", NULL);
    cx_buf_init(&b, 16 << 20);
    return http_send_outcome(h, c, r, 200, &b, gv_scorecard(t, &b), &err, &target_names);
  }
  const char *sub = rest + 7; /* after "targets" */
  if (!*sub) {
    if (is_get(r)) {
      cx_buf_init(&b, 16 << 20);
      return http_send_outcome(h, c, r, 200, &b, gv_targets_list(t, &b), &err, &target_names);
    }
    if (strcmp(r->method, "POST")) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET or POST.", NULL);
    cJSON *body = http_json_object(r);
    if (!body) return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
    cx_buf_init(&b, 1 << 20);
    cx_buf_init(&after, 1 << 20);
    cx_err rc = gv_target_create(t, body, &b, &after, &err);
    cJSON_Delete(body);
    int64_t id = rc ? 0 : id_from(&b);
    enum MHD_Result ret = http_send_outcome(h, c, r, 201, &b, rc, &err, &target_names);
    audit(h, r, p, "target.create", id, NULL, &after);
    cx_buf_free(&after);
    return ret;
  }
  /* "/{id}" or "/{id}/history" */
  const char *ids = sub + 1, *slash = strchr(ids, '/');
  size_t n = slash ? (size_t)(slash - ids) : strlen(ids);
  int64_t id;
  if (*sub != '/' || !n || cx_parse_i64(ids, n, &id) || id <= 0)
    return http_send_error(h, c, r, 404, "target_not_found", "No target has this id.", "id");
  if (slash) {
    if (strcmp(slash, "/history")) return http_send_error(h, c, r, 404, "not_found", "There is no such API resource.", NULL);
    if (!is_get(r)) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET.", NULL);
    int64_t limit = 100;
    const char *v = http_query(c, "limit");
    if (v && (cx_parse_i64(v, strlen(v), &limit) || limit < 1 || limit > GV_TARGET_HISTORY_MAX))
      return http_send_error(h, c, r, 400, "invalid_parameter", "limit must be a whole number from 1 to 1000.", "limit");
    cx_buf_init(&b, 4 << 20);
    return http_send_outcome(h, c, r, 200, &b, gv_target_history(t, id, (size_t)limit, &b), &err, &target_names);
  }
  if (is_get(r)) {
    cx_buf_init(&b, 1 << 20);
    return http_send_outcome(h, c, r, 200, &b, gv_target_get(t, id, &b), &err, &target_names);
  }
  cx_buf_init(&before, 1 << 20);
  cx_buf_init(&after, 1 << 20);
  cx_buf_init(&b, 1 << 20);
  enum MHD_Result ret;
  if (!strcmp(r->method, "DELETE")) {
    cx_err rc = gv_target_delete(t, id, &before);
    ret = http_send_outcome(h, c, r, 204, &b, rc, &err, &target_names);
    audit(h, r, p, "target.delete", id, &before, NULL);
  } else if (!strcmp(r->method, "PATCH")) {
    cJSON *body = http_json_object(r);
    if (!body) {
      cx_buf_free(&b), cx_buf_free(&before), cx_buf_free(&after);
      return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
    }
    cx_err rc = gv_target_update(t, id, body, &b, &before, &after, &err);
    cJSON_Delete(body);
    ret = http_send_outcome(h, c, r, 200, &b, rc, &err, &target_names);
    audit(h, r, p, "target.update", id, &before, &after);
  } else {
    cx_buf_free(&b);
    ret = http_send_error(h, c, r, 405, "method_not_allowed", "Use GET, PATCH or DELETE.", NULL);
  }
  cx_buf_free(&before), cx_buf_free(&after);
  return ret;
}

static const http_names initiative_names = {"initiative_not_found", "No initiative has this id.", NULL, NULL};

enum MHD_Result http_initiatives(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest,
                                 const gv_principal *p) {
  gv_targets *t = h->cfg.targets;
  if (!t) return http_send_error(h, c, r, 503, "unavailable", "Initiatives are not available on this server.", NULL);
  analytics_error err = {{0}, {0}, {0}};
  cx_buf b, before, after;
  const char *sub = rest + 11; /* after "initiatives" */
  if (!*sub) {
    if (is_get(r)) {
      int64_t owner = 0;
      const char *o = http_query(c, "owner");
      if (o && (cx_parse_i64(o, strlen(o), &owner) || owner <= 0))
        return http_send_error(h, c, r, 400, "invalid_parameter", "owner must be a user's id.", "owner");
      cx_buf_init(&b, 32 << 20); /* 500 initiatives of 4,000-byte descriptions escaped: about 20 MB */
      return http_send_outcome(h, c, r, 200, &b, gv_initiatives_list(t, http_query(c, "status"), owner, &b, &err), &err,
                               &initiative_names);
    }
    if (strcmp(r->method, "POST")) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET or POST.", NULL);
    cJSON *body = http_json_object(r);
    if (!body) return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
    cx_buf_init(&b, 1 << 20);
    cx_buf_init(&after, 1 << 20);
    cx_err rc = gv_initiative_create(t, body, &b, &after, &err);
    cJSON_Delete(body);
    int64_t id = rc ? 0 : id_from(&b);
    enum MHD_Result ret = http_send_outcome(h, c, r, 201, &b, rc, &err, &initiative_names);
    audit(h, r, p, "initiative.create", id, NULL, &after);
    cx_buf_free(&after);
    return ret;
  }
  int64_t id;
  if (*sub != '/' || cx_parse_i64(sub + 1, strlen(sub + 1), &id) || id <= 0)
    return http_send_error(h, c, r, 404, "initiative_not_found", "No initiative has this id.", "id");
  if (is_get(r)) {
    cx_buf_init(&b, 1 << 20);
    return http_send_outcome(h, c, r, 200, &b, gv_initiative_get(t, id, &b), &err, &initiative_names);
  }
  int del = !strcmp(r->method, "DELETE");
  if (!del && strcmp(r->method, "PATCH"))
    return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET, PATCH or DELETE.", NULL);
  cJSON *body = del ? NULL : http_json_object(r);
  if (!del && !body) return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
  cx_buf_init(&before, 1 << 20);
  cx_buf_init(&after, 1 << 20);
  cx_buf_init(&b, 1 << 20);
  cx_err rc = del ? gv_initiative_delete(t, id, &before) : gv_initiative_update(t, id, body, &b, &before, &after, &err);
  cJSON_Delete(body);
  enum MHD_Result ret = http_send_outcome(h, c, r, del ? 204 : 200, &b, rc, &err, &initiative_names);
  audit(h, r, p, del ? "initiative.delete" : "initiative.update", id, &before, del ? NULL : &after);
  cx_buf_free(&before), cx_buf_free(&after);
  return ret;
}
