/* reply.c - responses, the error body, and the cx_err -> status mapping. */
#include "http_int.h"
#include <stdio.h>
#include <string.h>

int http_status_for(cx_err rc) {
  switch (rc) {
  case CX_OK: return 200;
  case CX_EINVAL: return 400;
  case CX_ETOOBIG: return 413;
  case CX_EAUTH: return 401;
  case CX_EFORBIDDEN: return 403;
  case CX_ENOTFOUND: return 404;
  case CX_EEXIST: return 409;
  case CX_EFULL:
  case CX_ESTOPPED:
  case CX_EBUSY: return 503;
  default: return 500;
  }
}

enum MHD_Result http_send(struct MHD_Connection *c, http_req *r, int status, const char *ctype,
                          cx_buf *body) {
  size_t len = body ? body->len : 0;
  char *p = body ? cx_buf_take(body) : NULL;
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(len, p ? p : (void *)"", p ? MHD_RESPMEM_MUST_FREE
                                                                  : MHD_RESPMEM_PERSISTENT);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, "Content-Type", ctype);
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  if (r->retry_after > 0) {
    char ra[16];
    snprintf(ra, sizeof ra, "%d", r->retry_after);
    MHD_add_response_header(resp, "Retry-After", ra);
  } else if (status == 503) {
    MHD_add_response_header(resp, "Retry-After", "1");
  }
  if (r->set_cookie[0]) MHD_add_response_header(resp, "Set-Cookie", r->set_cookie);
  if (r->route == ROUTE_TRACK) {
    /* browsers send events from any site; the write key is the credential */
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", "POST, OPTIONS");
    MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                            "Content-Type, Authorization, Content-Encoding, X-Retry-Count");
    MHD_add_response_header(resp, "Access-Control-Expose-Headers", "Retry-After");
    MHD_add_response_header(resp, "Access-Control-Max-Age", "86400");
  }
  if (status == 401 && r->route == ROUTE_API)
    MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
  r->status = status;
  enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
  MHD_destroy_response(resp);
  return ret;
}

enum MHD_Result http_send_json(struct MHD_Connection *c, http_req *r, int status, cx_buf *body) {
  return http_send(c, r, status, "application/json", body);
}

void http_count_reason(http_server *h, const char *code) {
  pthread_mutex_lock(&h->mu);
  for (int i = 0; i < HTTP_MAX_REASONS; i++) {
    if (!h->reasons[i].code[0]) {
      strncpy(h->reasons[i].code, code, sizeof h->reasons[i].code - 1);
      h->reasons[i].n = 1;
      break;
    }
    if (!strcmp(h->reasons[i].code, code)) {
      h->reasons[i].n++;
      break;
    }
  }
  pthread_mutex_unlock(&h->mu);
}

enum MHD_Result http_send_error(http_server *h, struct MHD_Connection *c, http_req *r, int status,
                                const char *code, const char *message, const char *field) {
  cx_buf b;
  cx_buf_init(&b, 4096);
  cx_buf_puts(&b, "{\"error\":{\"code\":");
  cx_buf_json_str(&b, code, strlen(code));
  cx_buf_puts(&b, ",\"message\":");
  cx_buf_json_str(&b, message, strlen(message));
  if (field && *field) {
    cx_buf_puts(&b, ",\"field\":");
    cx_buf_json_str(&b, field, strlen(field));
  }
  cx_buf_puts(&b, "}}");
  if (r->route == ROUTE_TRACK) http_count_reason(h, code);
  enum MHD_Result ret = http_send_json(c, r, status, &b);
  cx_buf_free(&b);
  return ret;
}

enum MHD_Result http_send_outcome(http_server *h, struct MHD_Connection *c, http_req *r, int status,
                                  cx_buf *b, cx_err rc, const analytics_error *err,
                                  const http_names *names) {
  enum MHD_Result ret;
  /* refusals about the resource's state rather than the request: 409 */
  static const char *const conflicts[] = {"survey_closed", "survey_not_live", "has_responses", NULL};
  int conflict = rc == CX_EINVAL && !strncmp(err->code, "too_many_", 9);
  for (size_t i = 0; rc == CX_EINVAL && conflicts[i]; i++) conflict |= !strcmp(err->code, conflicts[i]);
  if (rc == CX_EINVAL)
    ret = http_send_error(h, c, r, conflict ? 409 : 400, err->code, err->message, *err->field ? err->field : NULL);
  else if (rc == CX_ENOTFOUND && names)
    ret = http_send_error(h, c, r, 404, names->not_found_code, names->not_found_message, "id");
  else if (rc == CX_EEXIST && names)
    ret = http_send_error(h, c, r, 409, names->exists_code, names->exists_message, "name");
  else if (rc && store_failed(h->cfg.st))
    ret = http_send_error(h, c, r, 503, "store_unavailable",
                          "The server stopped taking writes after a storage failure and needs a restart.", NULL);
  else if (rc)
    ret = http_send_error(h, c, r, rc == CX_ENOMEM ? 503 : http_status_for(rc),
                          rc == CX_ETOOBIG ? "response_too_large" : "internal_error",
                          "The answer could not be built or saved; retry, or ask for less.", NULL);
  else
    ret = http_send(c, r, status, status == 204 ? "text/plain" : "application/json", b);
  cx_buf_free(b);
  return ret;
}

const char *http_query(struct MHD_Connection *c, const char *name) {
  const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
  return v && *v ? v : NULL;
}

cJSON *http_json_object(const http_req *r) {
  cJSON *body = cJSON_ParseWithLength(r->body.p ? r->body.p : "", r->body.len);
  if (!cJSON_IsObject(body)) {
    cJSON_Delete(body);
    return NULL;
  }
  return body;
}
