/* auth.c - who calls the admin API (a bearer token, or the dashboard's
 * session cookie with its CSRF token), and the audit entry of a mutating
 * request. The permission check itself is lib/govern's matrix. */
#include "http_int.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/util.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

cx_err http_principal(http_server *h, struct MHD_Connection *c, gv_principal *p, char *session, size_t cap) {
  const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  if (session && cap) session[0] = 0;
  if (a) { /* a bearer token decides alone, even when a cookie is present */
    if (strncasecmp(a, "Bearer ", 7)) return CX_EAUTH;
    const char *tok = a + 7;
    while (*tok == ' ') tok++;
    return gv_authenticate(h->cfg.gv, tok, strlen(tok), 0, p);
  }
  const char *s = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "cxm_session");
  if (!s || !*s) return CX_EAUTH;
  cx_err rc = gv_authenticate(h->cfg.gv, s, strlen(s), 1, p);
  if (!rc && session && cap) snprintf(session, cap, "%s", s);
  return rc;
}

int http_csrf_ok(struct MHD_Connection *c, const char *session) {
  const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
  if (!t || strlen(t) != 64) return 0;
  char want[65];
  gv_csrf_token(session, strlen(session), want);
  return cx_ct_equal(t, want, 64);
}

/* Removes members that hold secrets, at any depth. */
static void redact(cJSON *v, int depth) {
  /* secrets, and who a customer is: an erased customer's identifiers
   * must not stay in the append-only log */
  static const char *const secret[] = {"password", "token", "secret", "webhook_secret", "write_key", "smtp_password",
                                       "customer", "email", "user_id", "anonymous_id", "to", "recipients", NULL};
  if (depth > 20) return;
  for (cJSON *m = v ? v->child : NULL; m; m = m->next) {
    if (m->string)
      for (size_t i = 0; secret[i]; i++)
        if (!strcmp(m->string, secret[i]) && !cJSON_IsNull(m)) {
          if (cJSON_IsString(m)) {
            cJSON_SetValuestring(m, "[redacted]");
          } else { /* a secret given as some other type: drop its value */
            cJSON_Delete(m->child);
            m->child = NULL;
            m->type = cJSON_NULL;
          }
          break;
        }
    if (cJSON_IsObject(m) || cJSON_IsArray(m)) redact(m, depth + 1);
  }
}

#define AUDIT_MAX_BODY (16 * 1024)

void http_audit_request(http_server *h, http_req *r, const gv_principal *p, const char *rest) {
  if (r->audited || r->status < 200 || r->status > 299) return;
  /* action: the method and the path with its ids as {id} */
  char action[160], target[160];
  snprintf(target, sizeof target, "%s", rest);
  size_t k = (size_t)snprintf(action, sizeof action, "%s ", r->method);
  for (const char *s = rest; *s && k < sizeof action - 6;) {
    const char *e = strchr(s, '/');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    int64_t id;
    int numeric = !cx_parse_i64(s, n, &id);
    if (numeric) k += (size_t)snprintf(action + k, sizeof action - k, "{id}");
    else k += (size_t)snprintf(action + k, sizeof action - k, "%.*s", (int)n, s);
    if (!e || k >= sizeof action - 2) break;
    action[k++] = '/';
    action[k] = 0;
    s = e + 1;
  }
  char *after = NULL;
  cJSON *body = r->body.len && r->body.len <= AUDIT_MAX_BODY ? cJSON_ParseWithLength(r->body.p, r->body.len) : NULL;
  if (body) {
    redact(body, 0);
    after = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
  } else if (r->body.len) {
    char note[80];
    snprintf(note, sizeof note, "{\"body_bytes\":%zu}", r->body.len);
    after = cJSON_malloc(strlen(note) + 1);
    if (after) memcpy(after, note, strlen(note) + 1);
  }
  if (gv_audit(h->cfg.gv, p->actor, action, target, NULL, after))
    cx_log("error", "audit_failed", "action", action, NULL);
  cJSON_free(after);
}
