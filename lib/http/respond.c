/* respond.c - the respondent page, GET/POST /s/{survey}, and the personal
 * links' endpoint POST /api/v1/surveys/{id}/links (http_int.h,
 * docs/respondent-page.md).
 *
 * Who answers: a personal link's token (?t= on the first GET, then a
 * hidden field) names the respondent and the link, whose one response
 * each save replaces; without one, a session cookie does (a random id;
 * the link is "session:<id>/<survey>" and the respondent the anonymous
 * id "survey-session-<id>"). Every POST saves what was answered so far
 * (complete on the last page), so coming back resumes where one stopped.
 * Every refusal is an HTML page with the fitting status, and stores
 * nothing. */
#include "http_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/util.h"
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define COOKIE "cxm_survey"
#define SESSION_HEX 32
#define SESSION_MAX_AGE (90 * 86400)
#define LINK_MAX_DAYS 366

/* What the page may do in a browser: nothing but its own inline style
 * and posting its form back. */
#define CSP                                                                                   \
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; " \
  "frame-ancestors 'none'; base-uri 'none'"

typedef struct {
  http_server *h;
  struct MHD_Connection *c;
  http_req *r;
  char lang[16];       /* what the page is written in */
  char cookie[160];    /* a Set-Cookie value, or "" */
} page;

static enum MHD_Result send_html(page *p, int status, cx_buf *b, cx_err rc) {
  if (rc) { /* the page could not be built: say so plainly */
    cx_buf_reset(b);
    cx_buf_puts(b, "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Error</title>"
                   "<p>This page could not be built. Please try again.</p></html>");
    status = 503;
  }
  size_t len = b->len;
  char *body = cx_buf_take(b);
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      len, body ? body : (void *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
  cx_buf_free(b);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
  MHD_add_response_header(resp, "Content-Language", p->lang[0] ? p->lang : "en");
  MHD_add_response_header(resp, "Content-Security-Policy", CSP);
  MHD_add_response_header(resp, "X-Frame-Options", "DENY");
  MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  if (p->cookie[0]) MHD_add_response_header(resp, "Set-Cookie", p->cookie);
  if (status == 405) MHD_add_response_header(resp, "Allow", "GET, HEAD, POST");
  if (status == 503) MHD_add_response_header(resp, "Retry-After", "1");
  p->r->status = status;
  enum MHD_Result ret = MHD_queue_response(p->c, (unsigned)status, resp);
  MHD_destroy_response(resp);
  return ret;
}

/* The notices are in English, German or French: their lang says which. */
static enum MHD_Result notice(page *p, int status, feedback_notice what, const char *detail) {
  const char *l = p->lang, *in = "en";
  if ((!strncmp(l, "de", 2) || !strncmp(l, "fr", 2)) && (!l[2] || l[2] == '-')) in = l[0] == 'd' ? "de" : "fr";
  snprintf(p->lang, sizeof p->lang, "%s", in);
  p->cookie[0] = 0; /* nothing began */
  cx_buf b;
  cx_buf_init(&b, 64 * 1024);
  return send_html(p, status, &b, feedback_page_notice(what, p->lang, detail, &b));
}

static int tag_ok(const char *s, size_t n) {
  if (n < 2 || n > 10) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
      return 0;
  return 1;
}

/* The language asked for: given (?lang= or the form's), else the first of
 * Accept-Language; "" when neither names one. */
static void wanted_lang(struct MHD_Connection *c, const char *given, char out[16]) {
  out[0] = 0;
  if (given && tag_ok(given, strlen(given))) {
    snprintf(out, 16, "%s", given);
    return;
  }
  const char *al = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_LANGUAGE);
  if (!al) return;
  while (*al == ' ') al++;
  size_t n = strcspn(al, ",; ");
  if (tag_ok(al, n)) snprintf(out, 16, "%.*s", (int)n, al);
}

/* The session id of the cookie, when it is one we could have made. */
static int session_of(struct MHD_Connection *c, char out[SESSION_HEX + 1]) {
  const char *v = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, COOKIE);
  if (!v || strlen(v) != SESSION_HEX) return 0;
  for (size_t i = 0; i < SESSION_HEX; i++)
    if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f'))) return 0;
  memcpy(out, v, SESSION_HEX + 1);
  return 1;
}

/* Secure only over TLS: this server speaks plain HTTP, so TLS means a
 * proxy in front that says so. */
static int over_tls(struct MHD_Connection *c) {
  const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-Proto");
  return v && !strcasecmp(v, "https");
}

typedef struct {
  const feedback_survey *s;
  int64_t id;
  const char *token;  /* a personal link's, or NULL */
  feedback_link link; /* when token */
  char session[SESSION_HEX + 1];
  char link_name[64];
  char anon[64];
  feedback_who who;
  cJSON *kept;
  int complete;
} respondent;

static enum MHD_Result show_page(page *p, respondent *x, int status, int pg, const cJSON *answers,
                                 const feedback_page_errors *errs) {
  char action[40];
  snprintf(action, sizeof action, "/s/%lld", (long long)x->id);
  feedback_page_view v = {.lang = p->lang, .action = action, .token = x->token, .page = pg, .answers = answers,
                          .errors = errs, .answered = x->complete};
  cx_buf b;
  cx_buf_init(&b, 4 << 20);
  return send_html(p, status, &b, feedback_page_html(x->s, &v, &b));
}

static enum MHD_Result show_thanks(page *p, respondent *x) {
  char again[FEEDBACK_LINK_MAX + 80];
  snprintf(again, sizeof again, "/s/%lld?edit=1&lang=%s%s%s", (long long)x->id, p->lang, x->token ? "&t=" : "",
           x->token ? x->token : "");
  cx_buf b;
  cx_buf_init(&b, 1 << 20);
  return send_html(p, 200, &b, feedback_page_thanks(x->s, p->lang, again, &b));
}

/* Answers a POST of one page: refusals re-render the page (400) with what
 * was typed; otherwise the answers so far are saved and the next page, or
 * the thank-you page, follows. */
static enum MHD_Result post_page(page *p, respondent *x, const char *page_arg, const feedback_field *fields,
                                 size_t n) {
  int64_t pg = -1;
  int npages = feedback_page_count(x->s);
  if (!page_arg || cx_parse_i64(page_arg, strlen(page_arg), &pg) || pg < 0 || pg >= npages)
    return notice(p, 400, FEEDBACK_NOTICE_BAD_FORM, "The form's page number is missing or wrong.");
  feedback_page_errors *errs = cx_calloc(1, sizeof *errs);
  if (!errs) return notice(p, 503, FEEDBACK_NOTICE_UNAVAILABLE, NULL);
  cJSON *answers = NULL;
  cx_err rc = feedback_page_read(x->s, p->lang, (int)pg, fields, n, x->kept, &answers, errs);
  enum MHD_Result ret;
  if (rc == CX_EINVAL) {
    ret = show_page(p, x, 400, (int)pg, answers, errs);
    goto out;
  }
  if (rc) {
    ret = notice(p, 503, FEEDBACK_NOTICE_UNAVAILABLE, NULL);
    goto out;
  }
  int next = feedback_page_next(x->s, (int)pg + 1, answers);
  analytics_error err = {{0}, {0}, {0}};
  if (!answers->child) { /* nothing answered yet: nothing to keep */
    if (next >= 0) {
      ret = show_page(p, x, 200, next, answers, NULL);
      goto out;
    }
    analytics_refuse(&err, "missing_answer", "answers", "A response answers at least one question.");
    rc = CX_EINVAL;
  } else {
    feedback_context ctx = {.channel = x->token ? "link" : "web", .language = p->lang};
    rc = feedback_respond_page(p->h->cfg.fb, x->id, answers, next < 0, &x->who, &ctx, x->link_name, NULL, &err);
  }
  if (rc == CX_EINVAL && !strcmp(err.code, "survey_closed")) ret = notice(p, 410, FEEDBACK_NOTICE_CLOSED, NULL);
  else if (rc == CX_EINVAL && !strcmp(err.code, "survey_not_live")) ret = notice(p, 404, FEEDBACK_NOTICE_NOT_OPEN, NULL);
  else if (rc == CX_EINVAL) {
    feedback_page_refusal(x->s, p->lang, &err, errs);
    ret = show_page(p, x, 400, (int)pg, answers, errs);
  } else if (rc) {
    ret = notice(p, 503, FEEDBACK_NOTICE_UNAVAILABLE, NULL);
  } else if (next < 0) {
    x->complete = 1;
    ret = show_thanks(p, x);
  } else {
    ret = show_page(p, x, 200, next, answers, NULL);
  }
out:
  cJSON_Delete(answers);
  cx_free(errs);
  return ret;
}

enum MHD_Result http_respondent(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest) {
  page p = {.h = h, .c = c, .r = r};
  int get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD"), post = !strcmp(r->method, "POST");
  respondent x = {0};
  http_form form = {0};
  const char *lang_arg = NULL, *page_arg = NULL;
  enum MHD_Result ret;
  wanted_lang(c, get ? http_query(c, "lang") : NULL, p.lang);
  if (!get && !post) return notice(&p, 405, FEEDBACK_NOTICE_METHOD, NULL);
  if (cx_parse_i64(rest, strlen(rest), &x.id) || x.id <= 0) return notice(&p, 404, FEEDBACK_NOTICE_NOT_FOUND, NULL);
  if (post) {
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t cl = ct ? strcspn(ct, "; ") : 0;
    if (!ct || cl != 33 || strncasecmp(ct, "application/x-www-form-urlencoded", 33))
      return notice(&p, 415, FEEDBACK_NOTICE_BAD_FORM, "The form must be sent as application/x-www-form-urlencoded.");
    const char *why;
    cx_err rc = http_form_parse(r->body.p, r->body.len, &form, &why);
    if (rc == CX_EINVAL) {
      char d[120];
      snprintf(d, sizeof d, "It held %s.", why);
      return notice(&p, 400, FEEDBACK_NOTICE_BAD_FORM, d);
    }
    if (rc) return notice(&p, 503, FEEDBACK_NOTICE_UNAVAILABLE, NULL);
    /* the hidden fields out, once each; the answers stay in order */
    size_t k = 0;
    int twice = 0;
    for (size_t i = 0; i < form.n; i++) {
      const char **slot = !strcmp(form.fields[i].key, "page") ? &page_arg
                          : !strcmp(form.fields[i].key, "t")  ? &x.token
                          : !strcmp(form.fields[i].key, "lang") ? &lang_arg
                                                                : NULL;
      if (!slot) form.fields[k++] = form.fields[i];
      else if (*slot) twice = 1;
      else *slot = form.fields[i].value;
    }
    form.n = k;
    if (twice) {
      http_form_free(&form);
      return notice(&p, 400, FEEDBACK_NOTICE_BAD_FORM, "It held a hidden field twice.");
    }
    if (x.token && !*x.token) x.token = NULL;
    wanted_lang(c, lang_arg, p.lang);
  } else {
    x.token = http_query(c, "t");
  }
  cx_err rc = feedback_survey_acquire(h->cfg.fb, x.id, &x.s);
  if (rc) {
    http_form_free(&form);
    return rc == CX_ENOTFOUND ? notice(&p, 404, FEEDBACK_NOTICE_NOT_FOUND, NULL)
                              : notice(&p, 503, FEEDBACK_NOTICE_UNAVAILABLE, NULL);
  }
  const char *status = feedback_survey_status(x.s);
  if (!strcmp(status, "draft")) {
    ret = notice(&p, 404, FEEDBACK_NOTICE_NOT_OPEN, NULL);
    goto out;
  }
  if (!strcmp(status, "closed")) {
    ret = notice(&p, 410, FEEDBACK_NOTICE_CLOSED, NULL);
    goto out;
  }
  char wanted[16];
  snprintf(wanted, sizeof wanted, "%s", p.lang);
  feedback_page_lang(x.s, wanted, p.lang);
  if (x.token) {
    feedback_link_status ls;
    rc = feedback_link_check(h->cfg.fb, x.token, strlen(x.token), x.id, cx_now_ms(), &x.link, &ls);
    if (rc) {
      ret = notice(&p, 503, FEEDBACK_NOTICE_UNAVAILABLE, NULL);
      goto out;
    }
    if (ls != FEEDBACK_LINK_VALID) {
      ret = ls == FEEDBACK_LINK_EXPIRED ? notice(&p, 410, FEEDBACK_NOTICE_EXPIRED, NULL)
                                        : notice(&p, 403, FEEDBACK_NOTICE_FORGED, NULL);
      goto out;
    }
    x.who = x.link.who;
    snprintf(x.link_name, sizeof x.link_name, "%s", x.link.id);
  } else {
    if (!session_of(c, x.session)) {
      unsigned char raw[SESSION_HEX / 2];
      randombytes_buf(raw, sizeof raw);
      sodium_bin2hex(x.session, sizeof x.session, raw, sizeof raw);
      snprintf(p.cookie, sizeof p.cookie, COOKIE "=%s; Path=/s/; Max-Age=%d; HttpOnly; SameSite=Lax%s", x.session,
               SESSION_MAX_AGE, over_tls(c) ? "; Secure" : "");
    }
    snprintf(x.link_name, sizeof x.link_name, "session:%s/%lld", x.session, (long long)x.id);
    snprintf(x.anon, sizeof x.anon, "survey-session-%s", x.session);
    x.who.anonymous_id = x.anon;
  }
  if (feedback_partial_get(h->cfg.fb, x.id, x.link_name, &x.kept, &x.complete)) {
    ret = notice(&p, 503, FEEDBACK_NOTICE_UNAVAILABLE, NULL);
    goto out;
  }
  if (post) {
    ret = post_page(&p, &x, page_arg, form.fields, form.n);
  } else {
    const char *edit_arg = http_query(c, "edit");
    int edit = edit_arg && !strcmp(edit_arg, "1"); /* from page 1, answers shown */
    if (x.complete && !edit) {
      ret = show_thanks(&p, &x);
    } else {
      int pg = x.complete || edit ? 0 : feedback_page_resume(x.s, x.kept);
      ret = show_page(&p, &x, 200, pg < 0 ? 0 : pg, x.kept, NULL);
    }
  }
out:
  cJSON_Delete(x.kept);
  http_form_free(&form);
  feedback_survey_release(h->cfg.fb, x.s);
  return ret;
}

enum MHD_Result http_respondent_too_large(http_server *h, struct MHD_Connection *c, http_req *r) {
  page p = {.h = h, .c = c, .r = r};
  wanted_lang(c, NULL, p.lang);
  return notice(&p, 413, FEEDBACK_NOTICE_TOO_LARGE, NULL);
}

/* ---- POST /api/v1/surveys/{id}/links ---- */

/* "30d", "12h", "15m", "90s", "2w": a positive span into *ms. */
static int span_ms(const char *s, int64_t *ms) {
  size_t n = strlen(s);
  int64_t v;
  if (n < 2 || n > 12 || cx_parse_i64(s, n - 1, &v) || v <= 0) return 0;
  int64_t unit = s[n - 1] == 's' ? 1000 : s[n - 1] == 'm' ? 60000 : s[n - 1] == 'h' ? 3600000
               : s[n - 1] == 'd' ? 86400000 : s[n - 1] == 'w' ? 7 * 86400000LL : 0;
  if (!unit || v > (int64_t)LINK_MAX_DAYS * 86400000 / unit) return 0;
  *ms = v * unit;
  return 1;
}

enum MHD_Result http_survey_links(http_server *h, struct MHD_Connection *c, http_req *r, int64_t id, int admin) {
  if (strcmp(r->method, "POST")) return http_send_error(h, c, r, 405, "method_not_allowed", "Use POST.", NULL);
  if (!admin) return http_send_error(h, c, r, 403, "forbidden", "This token may only read.", NULL);
  cJSON *body = cJSON_ParseWithLength(r->body.p ? r->body.p : "", r->body.len);
  if (!cJSON_IsObject(body)) {
    cJSON_Delete(body);
    return http_send_error(h, c, r, 400, "malformed_json", "The body must be a JSON object.", NULL);
  }
  enum MHD_Result ret;
  const feedback_survey *s = NULL;
  const cJSON *cust = cJSON_GetObjectItemCaseSensitive(body, "customer");
  const cJSON *exp = cJSON_GetObjectItemCaseSensitive(body, "expires_in");
  feedback_who who = {0};
  int kinds = 0, bad = !cJSON_IsObject(cust);
  for (const cJSON *m = cust && !bad ? cust->child : NULL; m; m = m->next) {
    const char **slot = !strcmp(m->string, "user_id") ? &who.user_id : !strcmp(m->string, "anonymous_id") ? &who.anonymous_id
                        : !strcmp(m->string, "email") ? &who.email : NULL;
    size_t n = cJSON_IsString(m) ? strlen(m->valuestring) : 0;
    if (!slot || *slot || !n || n > PROFILE_ID_MAX || !cx_utf8_valid(m->valuestring, n)) bad = 1;
    else *slot = m->valuestring, kinds++;
  }
  char email[PROFILE_ID_MAX + 1];
  int64_t span = 30 * 86400000LL;
  for (const cJSON *m = body->child; m; m = m->next)
    if (strcmp(m->string, "customer") && strcmp(m->string, "expires_in")) {
      char msg[160];
      snprintf(msg, sizeof msg, "Unknown member \"%.40s\": a link has customer and expires_in.", m->string);
      ret = http_send_error(h, c, r, 400, "invalid_field", msg, m->string);
      goto out;
    }
  if (bad || kinds != 1) {
    ret = http_send_error(h, c, r, 400, "invalid_field",
                          "customer must name the respondent by one of user_id, anonymous_id or email (a text of 1 to 255 bytes).",
                          "customer");
    goto out;
  }
  const char *atp = who.email ? strchr(who.email, '@') : NULL;
  if (who.email && (!atp || atp == who.email || !atp[1] || strpbrk(who.email, " \t\r\n<>,;") ||
                    profile_normalise_email(who.email, strlen(who.email), email))) {
    ret = http_send_error(h, c, r, 400, "invalid_field", "customer.email is not an e-mail address.", "customer.email");
    goto out;
  }
  if (exp && !cJSON_IsNull(exp) && !(cJSON_IsString(exp) && span_ms(exp->valuestring, &span))) {
    ret = http_send_error(h, c, r, 400, "invalid_field",
                          "expires_in must be a positive span of at most 366 days, such as 30d, 12h, 15m or 90s.", "expires_in");
    goto out;
  }
  cx_err rc = feedback_survey_acquire(h->cfg.fb, id, &s);
  if (rc) {
    ret = rc == CX_ENOTFOUND ? http_send_error(h, c, r, 404, "survey_not_found", "No survey has this id.", "id")
                             : http_send_error(h, c, r, 503, "store_unavailable", "The survey could not be read; retry.", NULL);
    goto out;
  }
  if (!strcmp(feedback_survey_status(s), "closed")) {
    ret = http_send_error(h, c, r, 409, "survey_closed", "This survey is closed: reopen it before sending links.", NULL);
    goto out;
  }
  char token[FEEDBACK_LINK_MAX + 1], at[CX_TIME_LEN];
  int64_t expires = cx_now_ms() + span;
  rc = feedback_link_make(h->cfg.fb, id, &who, expires, token, sizeof token);
  if (rc) {
    ret = http_send_error(h, c, r, rc == CX_EINVAL ? 400 : 503, rc == CX_EINVAL ? "invalid_field" : "store_unavailable",
                          rc == CX_EINVAL ? "customer cannot be put in a link." : "The link's key could not be read; retry.",
                          rc == CX_EINVAL ? "customer" : NULL);
    goto out;
  }
  cx_time_format(expires, at);
  cx_buf b;
  cx_buf_init(&b, 4096);
  rc = cx_buf_printf(&b, "{\"survey_id\":\"%lld\",\"url\":\"/s/%lld?t=%s\",\"token\":\"%s\",\"expires_at\":\"%s\"}",
                     (long long)id, (long long)id, token, token, at);
  ret = rc ? http_send_error(h, c, r, 500, "internal_error", "The answer could not be built.", NULL)
           : http_send_json(c, r, 201, &b);
  cx_buf_free(&b);
out:
  feedback_survey_release(h->cfg.fb, s);
  cJSON_Delete(body);
  return ret;
}

/* ---- GET/POST /s/unsubscribe?t= (docs/distribution.md) ----
 * GET shows what would be done and a button (no JavaScript); POST, from
 * that button or a mail client's one-click List-Unsubscribe-Post, puts the
 * link's address on the survey opt-out list. The token may come in the
 * query or as the form field t; the body is otherwise ignored. */

static cx_err unsub_page(cx_buf *b, const char *title, const char *text, const char *masked, const char *action) {
  cx_err rc = cx_buf_printf(b, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                               "<title>%s</title><style>body{font-family:sans-serif;max-width:36em;margin:3em auto;"
                               "padding:0 1em;line-height:1.5}button{font-size:1em;padding:.5em 1.2em}</style></head>"
                               "<body><main><h1>%s</h1><p>%s", title, title, text);
  for (const char *p = masked; !rc && p && *p; p++) /* the address, escaped */
    rc = *p == '<' ? cx_buf_puts(b, "&lt;") : *p == '>' ? cx_buf_puts(b, "&gt;") : *p == '&' ? cx_buf_puts(b, "&amp;")
       : *p == '"' ? cx_buf_puts(b, "&quot;") : cx_buf_append(b, p, 1);
  if (!rc && masked) rc = cx_buf_puts(b, action ? "?" : ".");
  if (!rc) rc = cx_buf_puts(b, "</p>");
  if (!rc && action) /* action: a checked token, base64url only */
    rc = cx_buf_printf(b, "<form method=\"post\" action=\"/s/unsubscribe?t=%s\"><button type=\"submit\">Unsubscribe</button>"
                          "</form>", action);
  if (!rc) rc = cx_buf_puts(b, "</main></body></html>");
  return rc;
}

enum MHD_Result http_unsubscribe(http_server *h, struct MHD_Connection *c, http_req *r) {
  page p = {.h = h, .c = c, .r = r, .lang = "en"};
  int get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD"), post = !strcmp(r->method, "POST");
  if (!get && !post) return notice(&p, 405, FEEDBACK_NOTICE_METHOD, NULL);
  const char *token = http_query(c, "t");
  http_form form = {0};
  if (!token && post) {
    const char *why;
    if (!http_form_parse(r->body.p, r->body.len, &form, &why))
      for (size_t i = 0; i < form.n && !token; i++)
        if (!strcmp(form.fields[i].key, "t") && *form.fields[i].value) token = form.fields[i].value;
  }
  char masked[OUTBOX_MAX_ADDRESS + 1];
  int forged = 1;
  cx_err rc = token ? feedback_dist_unsubscribe(h->cfg.dist, token, strlen(token), post, &forged, masked) : CX_OK;
  cx_buf b;
  cx_buf_init(&b, 64 * 1024);
  enum MHD_Result ret;
  if (rc) {
    ret = notice(&p, 503, FEEDBACK_NOTICE_UNAVAILABLE, NULL);
    cx_buf_free(&b);
  } else if (forged) {
    ret = send_html(&p, 403, &b, unsub_page(&b, "This link is not valid",
                                            "This unsubscribe link is incomplete or was not made by us. Please use the "
                                            "link of the e-mail you received, whole.", NULL, NULL));
  } else if (!masked[0]) {
    ret = send_html(&p, 200, &b, unsub_page(&b, "Nothing to unsubscribe",
                                            "We have no e-mail address for this link, so we send it no survey e-mails.",
                                            NULL, NULL));
  } else if (get) {
    ret = send_html(&p, 200, &b, unsub_page(&b, "Unsubscribe from surveys", "Stop sending survey invitations to ", masked,
                                            token));
  } else {
    ret = send_html(&p, 200, &b, unsub_page(&b, "You are unsubscribed",
                                            "We will send no more survey invitations to ", masked, NULL));
  }
  http_form_free(&form);
  return ret;
}
