/* people.c - sign-in and the people API: /auth/login, /auth/logout,
 * /auth/me (and /me), /roles, /units, /users, /tokens, /audit. The caller
 * has passed the matrix (api.c) before any of these but login runs. */
#include "http_int.h"
#include "../base/log.h"
#include "../base/time.h"
#include "../base/util.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const http_names unit_names = {"unit_not_found", "No unit has this id.", "unit_exists",
                                      "A unit with this name exists."};
static const http_names user_names = {"user_not_found", "No user has this id.", "user_exists",
                                      "A user with this e-mail address exists."};
static const http_names token_names = {"token_not_found", "You have no token with this id.", NULL, NULL};

static int is_get(const http_req *r) { return !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD"); }

static enum MHD_Result method_not_allowed(http_server *h, struct MHD_Connection *c, http_req *r, const char *use) {
  return http_send_error(h, c, r, 405, "method_not_allowed", use, NULL);
}

static int64_t id_in(const char *s) {
  int64_t id;
  return s && *s && !strchr(s, '/') && !cx_parse_i64(s, strlen(s), &id) && id > 0 ? id : 0;
}

/* Writes the audit entry of a change made here, with its before and after. */
static void audit(http_server *h, http_req *r, const gv_principal *p, const char *action, const char *target,
                  cx_buf *before, cx_buf *after) {
  r->audited = 1;
  if (r->status < 200 || r->status > 299) return;
  const char *b = before && before->len ? before->p : NULL, *a = after && after->len ? after->p : NULL;
  if (gv_audit(h->cfg.gv, p->actor, action, target, b, a)) cx_log("error", "audit_failed", "action", action, NULL);
}

/* The client's address, for the sign-in lockout. */
static void client_of(struct MHD_Connection *c, char *out, size_t cap) {
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  snprintf(out, cap, "?");
  if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr, out, (socklen_t)cap);
  else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr, out, (socklen_t)cap);
}

/* Secure unless the dashboard is reached on the loopback address (a
 * laptop's http://127.0.0.1:8080); behind HTTPS the cookie never travels
 * in clear. */
static int loopback_host(struct MHD_Connection *c) {
  const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
  if (!host) return 0;
  return !strncmp(host, "127.0.0.1", 9) || !strncmp(host, "localhost", 9) || !strncmp(host, "[::1]", 5);
}

enum MHD_Result http_login(http_server *h, struct MHD_Connection *c, http_req *r) {
  if (strcmp(r->method, "POST")) return method_not_allowed(h, c, r, "Use POST.");
  cJSON *body = http_json_object(r);
  if (!body) return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
  const cJSON *email = cJSON_GetObjectItemCaseSensitive(body, "email");
  const cJSON *pw = cJSON_GetObjectItemCaseSensitive(body, "password");
  enum MHD_Result ret;
  if (!cJSON_IsString(email) || !*email->valuestring || strlen(email->valuestring) > 254) {
    ret = http_send_error(h, c, r, 400, "invalid_field", "email must be the e-mail address you sign in with.", "email");
  } else if (!cJSON_IsString(pw) || !*pw->valuestring || strlen(pw->valuestring) > GV_PASSWORD_MAX) {
    ret = http_send_error(h, c, r, 400, "invalid_field", "password must be your password (at most 128 bytes).", "password");
  } else {
    char client[64];
    client_of(c, client, sizeof client);
    gv_login_result res;
    int retry = 0;
    cx_err rc = gv_login(h->cfg.gv, email->valuestring, pw->valuestring, client, &res, &retry);
    if (rc == CX_EFULL) {
      r->retry_after = retry;
      ret = http_send_error(h, c, r, 429, "too_many_attempts",
                            "Too many failed sign-ins; wait for the time in Retry-After, then try again.", NULL);
    } else if (rc == CX_EAUTH || rc == CX_EINVAL) {
      ret = http_send_error(h, c, r, 401, "invalid_credentials", "The e-mail address or password is wrong.", NULL);
    } else if (rc) {
      ret = http_send_error(h, c, r, http_status_for(rc), "internal_error", "Signing in failed; retry.", NULL);
    } else {
      snprintf(r->set_cookie, sizeof r->set_cookie, "cxm_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s",
               res.session, (long long)(GV_SESSION_MS / 1000), loopback_host(c) ? "" : "; Secure");
      cx_buf b;
      cx_buf_init(&b, 1 << 16);
      cx_err e = cx_buf_printf(&b, "{\"token\":\"%s\",\"expires_at\":", res.token);
      if (!e) e = cx_buf_json_time(&b, cx_now_ms() + GV_SESSION_MS);
      if (!e) e = cx_buf_puts(&b, ",\"me\":");
      if (!e) e = gv_principal_json(h->cfg.gv, &res.who, res.csrf, &b);
      if (!e) e = cx_buf_puts(&b, "}");
      ret = http_send_outcome(h, c, r, 200, &b, e, NULL, NULL);
      if (!e) audit(h, r, &res.who, "auth.login", res.who.actor, NULL, NULL);
    }
  }
  cJSON_Delete(body);
  return ret;
}

static enum MHD_Result me(http_server *h, struct MHD_Connection *c, http_req *r, const gv_principal *p,
                          const char *session) {
  if (!is_get(r)) return method_not_allowed(h, c, r, "Use GET.");
  char csrf[65];
  if (p->session) gv_csrf_token(session, strlen(session), csrf);
  cx_buf b;
  cx_buf_init(&b, 1 << 16);
  return http_send_outcome(h, c, r, 200, &b, gv_principal_json(h->cfg.gv, p, p->session ? csrf : NULL, &b), NULL, NULL);
}

static enum MHD_Result logout(http_server *h, struct MHD_Connection *c, http_req *r, const gv_principal *p) {
  if (strcmp(r->method, "POST")) return method_not_allowed(h, c, r, "Use POST.");
  cx_err rc = gv_logout(h->cfg.gv, p);
  if (rc == CX_EINVAL)
    return http_send_error(h, c, r, 400, "not_a_session",
                           "Only a sign-in's session or token signs out; revoke an API token with DELETE /api/v1/tokens/{id}.", NULL);
  if (!rc) snprintf(r->set_cookie, sizeof r->set_cookie, "cxm_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
  cx_buf b;
  cx_buf_init(&b, 16);
  enum MHD_Result ret = http_send_outcome(h, c, r, 204, &b, rc, NULL, NULL);
  if (!rc) audit(h, r, p, "auth.logout", p->actor, NULL, NULL);
  return ret;
}

/* A kind of person-or-place the API changes: how to create and update
 * one, and how its errors and audit entries are named. */
typedef struct {
  const char *path, *kind; /* "units", "unit" */
  const http_names *names;
  cx_err (*get)(govern *g, int64_t id, cx_buf *out);
  cx_err (*create)(govern *g, const cJSON *req, cx_buf *out, cx_buf *after, analytics_error *err);
  cx_err (*update)(govern *g, int64_t id, const cJSON *req, cx_buf *out, cx_buf *before, cx_buf *after,
                   analytics_error *err);
  cx_err (*remove)(govern *g, int64_t id, cx_buf *before, analytics_error *err); /* NULL: none */
} people_kind;

static cx_err unit_list(govern *g, int64_t scope, cx_buf *out) {
  (void)scope; /* the tree is the same for everyone who may see it */
  return gv_units_json(g, out);
}

/* POST (id 0) or PATCH/PUT one, audited with its before and after. */
static enum MHD_Result change(http_server *h, struct MHD_Connection *c, http_req *r, const gv_principal *p,
                              const people_kind *k, int64_t id) {
  cJSON *req = http_json_object(r);
  if (!req) return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
  cx_buf b, before, after;
  cx_buf_init(&b, 1 << 20);
  cx_buf_init(&before, 1 << 16);
  cx_buf_init(&after, 1 << 16);
  analytics_error err = {0};
  int pw = cJSON_GetObjectItemCaseSensitive(req, "password") != NULL;
  cx_err rc = id ? k->update(h->cfg.gv, id, req, &b, &before, &after, &err) : k->create(h->cfg.gv, req, &b, &after, &err);
  cJSON_Delete(req);
  if (!id && !rc) { /* the new one's id, for the audit's target */
    const char *idp = after.p ? strstr(after.p, "\"id\":\"") : NULL;
    id = idp ? atoll(idp + 6) : 0;
  }
  char target[48], action[40];
  snprintf(target, sizeof target, "%s/%lld", k->path, (long long)id);
  snprintf(action, sizeof action, "%s.%s", k->kind, !strcmp(r->method, "POST") ? "create" : pw ? "update_password" : "update");
  enum MHD_Result ret = http_send_outcome(h, c, r, strcmp(r->method, "POST") ? 200 : 201, &b, rc, &err, k->names);
  audit(h, r, p, action, target, &before, &after);
  cx_buf_free(&before);
  cx_buf_free(&after);
  return ret;
}

/* GET, POST on /units and /users; GET, PATCH, DELETE on one. */
static enum MHD_Result people(http_server *h, struct MHD_Connection *c, http_req *r, const char *sub,
                              const gv_principal *p, const people_kind *k,
                              cx_err (*list)(govern *g, int64_t scope, cx_buf *out)) {
  int64_t id = id_in(sub);
  if (*sub && !id) return http_send_error(h, c, r, 404, k->names->not_found_code, k->names->not_found_message, "id");
  if (is_get(r)) {
    cx_buf b;
    cx_buf_init(&b, 8 << 20);
    /* a scoped caller sees the people of its unit's subtree */
    cx_err rc = id ? k->get(h->cfg.gv, id, &b) : list(h->cfg.gv, p->unit_id, &b);
    return http_send_outcome(h, c, r, 200, &b, rc, NULL, k->names);
  }
  if (!id && !strcmp(r->method, "POST")) return change(h, c, r, p, k, 0);
  if (id && (!strcmp(r->method, "PATCH") || !strcmp(r->method, "PUT"))) return change(h, c, r, p, k, id);
  if (id && k->remove && !strcmp(r->method, "DELETE")) {
    cx_buf b, before;
    cx_buf_init(&b, 16);
    cx_buf_init(&before, 1 << 16);
    analytics_error err = {0};
    char target[48], action[40];
    cx_err rc = k->remove(h->cfg.gv, id, &before, &err);
    snprintf(target, sizeof target, "%s/%lld", k->path, (long long)id);
    snprintf(action, sizeof action, "%s.delete", k->kind);
    enum MHD_Result ret = http_send_outcome(h, c, r, 204, &b, rc, &err, k->names);
    audit(h, r, p, action, target, &before, NULL);
    cx_buf_free(&before);
    return ret;
  }
  return method_not_allowed(h, c, r, !id ? "Use GET or POST."
                                     : k->remove ? "Use GET, PATCH or DELETE."
                                                 : "Use GET or PATCH (\"disabled\": true removes access).");
}

static const people_kind unit_kind = {"units", "unit", &unit_names, gv_unit_get, gv_unit_create, gv_unit_update,
                                      gv_unit_delete};
static const people_kind user_kind = {"users", "user", &user_names, gv_user_get, gv_user_create, gv_user_update, NULL};

static enum MHD_Result tokens(http_server *h, struct MHD_Connection *c, http_req *r, const char *sub,
                              const gv_principal *p) {
  int64_t id = id_in(sub);
  if (*sub && !id) return http_send_error(h, c, r, 404, "token_not_found", "You have no token with this id.", "id");
  cx_buf b, note;
  cx_buf_init(&b, 1 << 20);
  cx_buf_init(&note, 1 << 12);
  analytics_error err = {0};
  enum MHD_Result ret;
  char target[48];
  if (!id && is_get(r)) {
    ret = http_send_outcome(h, c, r, 200, &b, gv_tokens_json(h->cfg.gv, p, &b), &err, NULL);
  } else if (!id && !strcmp(r->method, "POST")) {
    cJSON *req = http_json_object(r);
    if (!req) {
      cx_buf_free(&b);
      ret = http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
    } else {
      cx_err rc = gv_token_create(h->cfg.gv, p, req, &b, &note, &err);
      cJSON_Delete(req);
      ret = http_send_outcome(h, c, r, 201, &b, rc, &err, NULL);
      audit(h, r, p, "token.create", "tokens", NULL, &note);
    }
  } else if (id && !strcmp(r->method, "DELETE")) {
    cx_err rc = gv_token_revoke(h->cfg.gv, p, id, &note);
    snprintf(target, sizeof target, "tokens/%lld", (long long)id);
    ret = http_send_outcome(h, c, r, 204, &b, rc, &err, &token_names);
    audit(h, r, p, "token.revoke", target, &note, NULL);
  } else {
    cx_buf_free(&b);
    ret = method_not_allowed(h, c, r, id ? "Use DELETE (revokes the token)." : "Use GET or POST.");
  }
  cx_buf_free(&note);
  return ret;
}

/* GET /audit?actor=&action=&target=&from=&to=&limit=&cursor= and GET /audit/verify */
static enum MHD_Result audit_get(http_server *h, struct MHD_Connection *c, http_req *r, const char *sub) {
  if (!is_get(r)) return method_not_allowed(h, c, r, "Use GET; the audit log is append-only.");
  cx_buf b;
  cx_buf_init(&b, 16 << 20);
  if (!strcmp(sub, "verify")) {
    int64_t n = 0, bad = 0;
    char head[65];
    sqlite3 *db = store_reader_get(h->cfg.st);
    cx_err rc = gv_audit_verify(db, &n, &bad, head);
    store_reader_put(h->cfg.st, db);
    if (!rc) rc = bad ? cx_buf_printf(&b, "{\"ok\":false,\"entries\":%lld,\"first_bad\":\"%lld\"}", (long long)n, (long long)bad)
                      : cx_buf_printf(&b, "{\"ok\":true,\"entries\":%lld,\"head\":\"%s\"}", (long long)n, head);
    return http_send_outcome(h, c, r, 200, &b, rc, NULL, NULL);
  }
  if (*sub) {
    cx_buf_free(&b);
    return http_send_error(h, c, r, 404, "not_found", "There is no such API resource.", NULL);
  }
  gv_audit_query q = {.actor = http_query(c, "actor"), .action = http_query(c, "action"), .target = http_query(c, "target"),
                      .from = INT64_MIN, .to = INT64_MAX, .limit = 100};
  const char *v;
  int64_t n;
  const char *bad = NULL, *msg = NULL;
  if ((v = http_query(c, "limit")) && (cx_parse_i64(v, strlen(v), &n) || n < 1 || n > 1000))
    bad = "limit", msg = "limit must be a whole number from 1 to 1000.";
  else if (v)
    q.limit = (size_t)n;
  if (!bad && (v = http_query(c, "cursor")) && (cx_parse_i64(v, strlen(v), &q.before_id) || q.before_id < 1))
    bad = "cursor", msg = "cursor must be a next_cursor value from an earlier page.";
  if (!bad && (v = http_query(c, "from")) && cx_time_parse(v, strlen(v), &q.from))
    bad = "from", msg = "from must be an ISO-8601 time such as 2026-11-01T00:00:00Z.";
  if (!bad && (v = http_query(c, "to")) && cx_time_parse(v, strlen(v), &q.to))
    bad = "to", msg = "to must be an ISO-8601 time such as 2026-12-01T00:00:00Z.";
  if (bad) {
    cx_buf_free(&b);
    return http_send_error(h, c, r, 400, "invalid_parameter", msg, bad);
  }
  return http_send_outcome(h, c, r, 200, &b, gv_audit_list(h->cfg.gv, &q, &b), NULL, NULL);
}

enum MHD_Result http_people(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest,
                            const gv_principal *p, const char *session, int *handled) {
  *handled = 1;
  if (!strcmp(rest, "me") || !strcmp(rest, "auth/me")) return me(h, c, r, p, session);
  if (!strcmp(rest, "auth/logout")) return logout(h, c, r, p);
  if (!strcmp(rest, "roles")) {
    if (!is_get(r)) return method_not_allowed(h, c, r, "Use GET.");
    cx_buf b;
    cx_buf_init(&b, 1 << 16);
    return http_send_outcome(h, c, r, 200, &b, gv_matrix_json(&b), NULL, NULL);
  }
  if (!strcmp(rest, "units")) return people(h, c, r, "", p, &unit_kind, unit_list);
  if (!strncmp(rest, "units/", 6)) return people(h, c, r, rest + 6, p, &unit_kind, unit_list);
  if (!strcmp(rest, "users")) return people(h, c, r, "", p, &user_kind, gv_users_json);
  if (!strncmp(rest, "users/", 6)) return people(h, c, r, rest + 6, p, &user_kind, gv_users_json);
  if (!strcmp(rest, "tokens")) return tokens(h, c, r, "", p);
  if (!strncmp(rest, "tokens/", 7)) return tokens(h, c, r, rest + 7, p);
  if (!strcmp(rest, "audit")) return audit_get(h, c, r, "");
  if (!strncmp(rest, "audit/", 6)) return audit_get(h, c, r, rest + 6);
  *handled = 0;
  return MHD_NO;
}
