/* distribute.c - survey invitations by e-mail: settings, distributions,
 * triggers, reminders and the opt-out list (distribute.h,
 * docs/distribution.md).
 *
 * Every decision about one customer (who they are, their address, consent,
 * opt-out, fatigue) is taken on the writer's connection inside the job
 * that writes the invitation and enqueues its mail, so two mailings racing
 * each other still see each other's invitations (fatigue) and the opt-outs
 * committed before them. A personal link needs the link key, which may be
 * made through a store job of its own: it is loaded (warm_key) before any
 * job of ours is submitted, after which making a link touches no store. */
#include "distribute.h"
#include "feedback_int.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/ticker.h"
#include "../base/time.h"
#include "../base/util.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DAY_MS 86400000LL
#define SPAN_MAX_DAYS 366
#define DEFAULT_FATIGUE 30
#define MAX_FATIGUE 365
#define MAX_NAME 100
#define MAX_MEMBERS 64     /* merged customers looked at for an address */
#define TICK_EVENTS 1000   /* events read per trigger per tick */
#define TICK_ROWS 500      /* due invitations, and reminders, per tick */
#define TOKEN_CAP (FEEDBACK_LINK_MAX + 1)

enum { SK_NO_EMAIL, SK_FATIGUE, SK_UNSUBSCRIBED, SK_NO_CONSENT, SK_UNKNOWN, SK_DUPLICATE, SK_CLOSED, SK_COUNT };
static const char *const skip_name[SK_COUNT] = {"no_email", "fatigue",   "unsubscribed", "no_consent",
                                                "unknown",  "duplicate", "survey_closed"};
#define SK_REPORTED 6 /* the ones a distribution reports (survey_closed: triggers only) */

struct feedback_dist {
  store *st;
  profile *pr;
  analytics_segments *seg;
  feedback *fb;
  outbox *ob;
  pthread_mutex_t mu; /* default_url */
  char default_url[DIST_MAX_URL + 1];
  cx_ticker *ticker; /* the scheduler, once started */
};

/* ---- small helpers ---- */

static cx_err run_job(feedback_dist *d, cx_err (*fn)(void *, sqlite3 *), void *ctx, size_t weight) {
  return store_run_fn(d->st, fn, ctx, weight);
}

/* "30d", "12h", "15m", "90s", "2w": a positive span of at most a year. */
static int span_ms(const char *s, int64_t *ms) {
  size_t n = strlen(s);
  int64_t v;
  if (n < 2 || n > 12 || cx_parse_i64(s, n - 1, &v) || v <= 0) return 0;
  int64_t unit = s[n - 1] == 's' ? 1000 : s[n - 1] == 'm' ? 60000 : s[n - 1] == 'h' ? 3600000
               : s[n - 1] == 'd' ? DAY_MS : s[n - 1] == 'w' ? 7 * DAY_MS : 0;
  if (!unit || v > SPAN_MAX_DAYS * DAY_MS / unit) return 0;
  *ms = v * unit;
  return 1;
}

static int text_ok(const char *s, size_t max, int controls_ok) {
  size_t n = strlen(s);
  if (!n || n > max || !cx_utf8_valid(s, n)) return 0;
  for (size_t i = 0; i < n && !controls_ok; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 0;
  return 1;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s) {
  if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(st, i);
}

/* Loads the link key now (a store job when it must be made) so that
 * feedback_link_make may later run inside our own jobs. */
static cx_err warm_key(feedback_dist *d) {
  char tok[TOKEN_CAP];
  feedback_who w = {.user_id = "warm"};
  return feedback_link_make(d->fb, 1, &w, 1, tok, sizeof tok);
}

/* a***@example.com */
static void mask_email(const char *e, char out[OUTBOX_MAX_ADDRESS + 1]) {
  const char *at = strchr(e, '@');
  if (!at || at == e) {
    snprintf(out, OUTBOX_MAX_ADDRESS + 1, "***");
    return;
  }
  snprintf(out, OUTBOX_MAX_ADDRESS + 1, "%c***%.200s", e[0], at);
}

/* ---- settings (meta: survey_fatigue_days, survey_public_url) ---- */

typedef struct {
  int fatigue_days;
  char url[DIST_MAX_URL + 1];
} settings;

static void settings_read(feedback_dist *d, sqlite3 *db, settings *s) {
  s->fatigue_days = DEFAULT_FATIGUE;
  pthread_mutex_lock(&d->mu);
  snprintf(s->url, sizeof s->url, "%s", d->default_url);
  pthread_mutex_unlock(&d->mu);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT key, value FROM meta WHERE key IN ('survey_fatigue_days', 'survey_public_url')", -1,
                         &st, NULL))
    return;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *k = (const char *)sqlite3_column_text(st, 0), *v = (const char *)sqlite3_column_text(st, 1);
    int64_t n;
    if (!strcmp(k, "survey_fatigue_days") && !cx_parse_i64(v, strlen(v), &n) && n >= 0 && n <= MAX_FATIGUE)
      s->fatigue_days = (int)n;
    else if (!strcmp(k, "survey_public_url") && strlen(v) <= DIST_MAX_URL)
      snprintf(s->url, sizeof s->url, "%s", v);
  }
  sqlite3_finalize(st);
}

static void settings_read_reader(feedback_dist *d, settings *s) {
  sqlite3 *db = store_reader_get(d->st);
  settings_read(d, db, s);
  store_reader_put(d->st, db);
}

/* http(s)://host[:port][/path], printable ASCII without spaces, quotes
 * or angle brackets, no query or fragment, no trailing slash needed. */
static int url_ok(const char *u) {
  size_t n = strlen(u), p = !strncmp(u, "http://", 7) ? 7 : !strncmp(u, "https://", 8) ? 8 : 0;
  if (!p || n <= p || n > DIST_MAX_URL || u[p] == '/') return 0;
  for (size_t i = 0; i < n; i++)
    if (u[i] <= 0x20 || u[i] >= 0x7f || strchr("\"'<>\\^`{|}?#", u[i])) return 0;
  return 1;
}

cx_err feedback_dist_settings_get(feedback_dist *d, cx_buf *out) {
  settings s;
  settings_read_reader(d, &s);
  cx_err rc = cx_buf_printf(out, "{\"fatigue_days\":%d,\"public_url\":", s.fatigue_days);
  if (!rc) rc = cx_buf_json_str(out, s.url, strlen(s.url));
  if (!rc) rc = cx_buf_puts(out, "}");
  return rc;
}

typedef struct {
  char fatigue[16];
  const char *url;
} settings_put;

static cx_err put_meta(sqlite3 *db, const char *key, const char *value) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
                         -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  return r == SQLITE_DONE ? CX_OK : CX_EDB;
}

static cx_err apply_settings(void *ctx, sqlite3 *db) {
  settings_put *p = ctx;
  cx_err rc = CX_OK;
  if (p->fatigue[0]) rc = put_meta(db, "survey_fatigue_days", p->fatigue);
  if (!rc && p->url) rc = put_meta(db, "survey_public_url", p->url);
  return rc;
}

cx_err feedback_dist_settings_put(feedback_dist *d, const cJSON *req, cx_buf *out, analytics_error *err) {
  static const char *const names[] = {"fatigue_days", "public_url", NULL};
  const char *u = fb_unknown_member(req, names);
  if (u)
    return analytics_refuse(err, "invalid_field", u, "Unknown member \"%.40s\": the settings are fatigue_days and public_url.", u);
  settings_put p = {{0}, NULL};
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(req, "fatigue_days");
  const cJSON *url = cJSON_GetObjectItemCaseSensitive(req, "public_url");
  if (f) {
    if (!cJSON_IsNumber(f) || f->valuedouble != (double)(int)f->valuedouble || f->valuedouble < 0 ||
        f->valuedouble > MAX_FATIGUE)
      return analytics_refuse(err, "invalid_field", "fatigue_days",
                              "fatigue_days must be a whole number of days from 0 (no limit) to %d.", MAX_FATIGUE);
    snprintf(p.fatigue, sizeof p.fatigue, "%d", (int)f->valuedouble);
  }
  if (url) {
    if (!cJSON_IsString(url) || !url_ok(url->valuestring))
      return analytics_refuse(err, "invalid_field", "public_url",
                              "public_url must be an http:// or https:// URL of at most %d characters, without spaces, "
                              "query or fragment, such as https://cx.example.com.", DIST_MAX_URL);
    p.url = url->valuestring;
  }
  char trimmed[DIST_MAX_URL + 1];
  if (p.url) { /* the links append "/s/…" */
    snprintf(trimmed, sizeof trimmed, "%s", p.url);
    size_t n = strlen(trimmed);
    while (n > 8 && trimmed[n - 1] == '/') trimmed[--n] = 0;
    p.url = trimmed;
  }
  if (p.fatigue[0] || p.url) {
    cx_err rc = run_job(d, apply_settings, &p, 1);
    if (rc) return rc;
  }
  return feedback_dist_settings_get(d, out);
}

/* ---- templates ---- */

enum { PH_LINK, PH_SURVEY, PH_UNSUBSCRIBE, PH_COUNT };
static const char *const ph_name[PH_COUNT] = {"link", "survey", "unsubscribe"};

/* The placeholder at p ("{{…}}"): its index, *len its length; -1 when p
 * holds "{{" but no known placeholder. */
static int placeholder_at(const char *p, size_t *len) {
  for (int i = 0; i < PH_COUNT; i++) {
    size_t n = strlen(ph_name[i]);
    if (!strncmp(p + 2, ph_name[i], n) && !strncmp(p + 2 + n, "}}", 2)) {
      *len = n + 4;
      return i;
    }
  }
  return -1;
}

static cx_err check_body(const char *body, analytics_error *err) {
  if (!text_ok(body, DIST_MAX_BODY, 1))
    return analytics_refuse(err, "invalid_field", "body", "body must be a UTF-8 text of 1 to %d bytes.", DIST_MAX_BODY);
  int links = 0, count = 0;
  for (const char *p = strstr(body, "{{"); p; p = strstr(p, "{{")) {
    size_t len;
    int k = placeholder_at(p, &len);
    if (k < 0) {
      const char *end = strstr(p + 2, "}}");
      int shown = end && end - p - 2 <= 30 ? (int)(end - p - 2) : 10;
      return analytics_refuse(err, "invalid_template", "body",
                              "body holds an unknown placeholder {{%.*s%s: the placeholders are {{link}}, {{survey}} and "
                              "{{unsubscribe}}.", shown, p + 2, end && end - p - 2 <= 30 ? "}}" : "…");
    }
    links += k == PH_LINK;
    if (++count > DIST_MAX_PLACEHOLDERS)
      return analytics_refuse(err, "invalid_template", "body", "body may hold at most %d placeholders.", DIST_MAX_PLACEHOLDERS);
    p += len;
  }
  if (!links)
    return analytics_refuse(err, "invalid_template", "body", "body must hold {{link}}, where the survey's personal link goes.");
  return CX_OK;
}

static cx_err html_escape(cx_buf *b, const char *s, size_t n) {
  cx_err rc = CX_OK;
  for (size_t i = 0; i < n && !rc; i++) {
    switch (s[i]) {
    case '&': rc = cx_buf_puts(b, "&amp;"); break;
    case '<': rc = cx_buf_puts(b, "&lt;"); break;
    case '>': rc = cx_buf_puts(b, "&gt;"); break;
    case '"': rc = cx_buf_puts(b, "&quot;"); break;
    case '\'': rc = cx_buf_puts(b, "&#39;"); break;
    case '\n': rc = cx_buf_puts(b, "<br>\n"); break;
    case '\r': break;
    default: rc = cx_buf_append(b, s + i, 1);
    }
  }
  return rc;
}

/* The text and HTML bodies of body with its placeholders filled. */
static cx_err compose(const char *body, const char *survey_name, const char *link, const char *unsub, cx_buf *text,
                      cx_buf *html) {
  const char *vals[PH_COUNT] = {link, survey_name, unsub};
  cx_err rc = cx_buf_puts(html, "<!doctype html><html><head><meta charset=\"utf-8\"></head>"
                                "<body><div style=\"font-family:sans-serif;line-height:1.5\">\n");
  const char *p = body;
  while (!rc && *p) {
    const char *q = strstr(p, "{{");
    size_t len = 0;
    int k = -1;
    while (q && (k = placeholder_at(q, &len)) < 0) q = strstr(q + 2, "{{");
    size_t lit = q ? (size_t)(q - p) : strlen(p);
    rc = cx_buf_append(text, p, lit);
    if (!rc) rc = html_escape(html, p, lit);
    if (!q || rc) break;
    rc = cx_buf_puts(text, vals[k]);
    if (!rc && k == PH_SURVEY) rc = html_escape(html, vals[k], strlen(vals[k]));
    else if (!rc) {
      rc = cx_buf_puts(html, "<a href=\"");
      if (!rc) rc = html_escape(html, vals[k], strlen(vals[k]));
      if (!rc) rc = cx_buf_puts(html, "\">");
      if (!rc) rc = k == PH_LINK ? html_escape(html, vals[k], strlen(vals[k])) : cx_buf_puts(html, "Unsubscribe");
      if (!rc) rc = cx_buf_puts(html, "</a>");
    }
    p = q + len;
  }
  if (!rc) rc = cx_buf_puts(html, "\n</div></body></html>\n");
  return rc;
}

cx_err feedback_dist_template(const char *body, const char *survey_name, const char *link, const char *unsub,
                              cx_buf *text, cx_buf *html, analytics_error *err) {
  cx_err rc = check_body(body, err);
  return rc ? rc : compose(body, survey_name, link, unsub, text, html);
}

/* ---- one invitation, on the writer's connection ---- */

typedef struct {
  feedback_dist *d;
  sqlite3 *db;
  int64_t now;
  settings set;
  int enqueued;
} wctx;

/* What is mailed: borrowed strings. */
typedef struct {
  int64_t survey, dist, expires_ms;
  const char *subject, *body, *survey_name;
} mailing;

static cx_err step_done(sqlite3_stmt *st) {
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  return r == SQLITE_DONE ? CX_OK : CX_EDB;
}

/* The customer's newest identity of type into out ("" when none). */
static cx_err newest_identity(wctx *x, const int64_t *ids, size_t n, int type, char out[PROFILE_ID_MAX + 1]) {
  out[0] = 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(x->db, "SELECT value, created_at FROM identities WHERE customer_id = ?1 AND type = ?2", -1, &st, NULL))
    return CX_EDB;
  int64_t best = INT64_MIN;
  for (size_t i = 0; i < n; i++) {
    sqlite3_bind_int64(st, 1, ids[i]);
    sqlite3_bind_int(st, 2, type);
    while (sqlite3_step(st) == SQLITE_ROW) {
      int64_t at = sqlite3_column_int64(st, 1);
      if (at >= best && sqlite3_column_bytes(st, 0) <= PROFILE_ID_MAX) {
        best = at;
        snprintf(out, PROFILE_ID_MAX + 1, "%s", (const char *)sqlite3_column_text(st, 0));
      }
    }
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  return CX_OK;
}

/* Consent: the newest of the traits survey_consent and unsubscribed over
 * the customer's merged ids; refused when survey_consent is false (or
 * "false") or unsubscribed is true (or "true"). */
static cx_err consent_refused(wctx *x, const int64_t *ids, size_t n, int *refused) {
  *refused = 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(x->db, "SELECT key, value, ts FROM traits WHERE customer_id = ?1"
                                " AND key IN ('survey_consent', 'unsubscribed')", -1, &st, NULL))
    return CX_EDB;
  int64_t ts[2] = {INT64_MIN, INT64_MIN};
  int no[2] = {0, 0};
  for (size_t i = 0; i < n; i++) {
    sqlite3_bind_int64(st, 1, ids[i]);
    while (sqlite3_step(st) == SQLITE_ROW) {
      int k = !strcmp((const char *)sqlite3_column_text(st, 0), "unsubscribed");
      const char *v = (const char *)sqlite3_column_text(st, 1);
      int64_t at = sqlite3_column_int64(st, 2);
      if (at < ts[k]) continue;
      ts[k] = at;
      no[k] = k ? (!strcmp(v, "true") || !strcmp(v, "\"true\"")) : (!strcmp(v, "false") || !strcmp(v, "\"false\""));
    }
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  *refused = no[0] || no[1];
  return CX_OK;
}

static cx_err exists1(sqlite3 *db, const char *sql, const char *s, int64_t a, int64_t b, int *yes) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL)) return CX_EDB;
  if (s) sqlite3_bind_text(st, 1, s, -1, SQLITE_STATIC);
  else sqlite3_bind_int64(st, 1, a);
  sqlite3_bind_int64(st, 2, b);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  if (r != SQLITE_ROW && r != SQLITE_DONE) return CX_EDB;
  *yes = r == SQLITE_ROW;
  return CX_OK;
}

static cx_err opted_out(sqlite3 *db, const char *email, int *yes) {
  return exists1(db, "SELECT 1 FROM survey_optouts WHERE email = ?1 AND ?2 = ?2", email, 0, 0, yes);
}

/* Mails m to customer cust (a root id) as invitation row (0: a new row),
 * unless a rule skips it: *skip is -1 when mailed, else the reason. */
static cx_err invite(wctx *x, const mailing *m, int64_t cust, int64_t row, int *skip) {
  int64_t ids[MAX_MEMBERS];
  size_t n = profile_members(x->d->pr, cust, ids, MAX_MEMBERS);
  if (n > MAX_MEMBERS) n = MAX_MEMBERS;
  if (!n) ids[n++] = cust;
  char email[PROFILE_ID_MAX + 1], user[PROFILE_ID_MAX + 1];
  cx_err rc = newest_identity(x, ids, n, PROFILE_EMAIL, email);
  if (!rc) rc = newest_identity(x, ids, n, PROFILE_USER_ID, user);
  if (rc) return rc;
  int no = 0;
  *skip = -1;
  if (!email[0] || strlen(email) > OUTBOX_MAX_ADDRESS) *skip = SK_NO_EMAIL;
  if (*skip < 0 && (rc = consent_refused(x, ids, n, &no))) return rc;
  if (*skip < 0 && no) *skip = SK_NO_CONSENT;
  if (*skip < 0 && (rc = opted_out(x->db, email, &no))) return rc;
  if (*skip < 0 && no) *skip = SK_UNSUBSCRIBED;
  if (*skip < 0 && x->set.fatigue_days > 0) {
    if ((rc = exists1(x->db, "SELECT 1 FROM invitations WHERE customer_id = ?1 AND sent_at >= ?2 LIMIT 1", NULL, cust,
                      x->now - x->set.fatigue_days * DAY_MS, &no)))
      return rc;
    if (no) *skip = SK_FATIGUE;
  }
  char token[TOKEN_CAP];
  feedback_link link;
  feedback_link_status ls = FEEDBACK_LINK_FORGED;
  if (*skip < 0) {
    feedback_who who = {0};
    if (user[0]) who.user_id = user;
    else who.email = email;
    if ((rc = feedback_link_make(x->d->fb, m->survey, &who, x->now + m->expires_ms, token, sizeof token))) return rc;
    if ((rc = feedback_link_check(x->d->fb, token, strlen(token), m->survey, x->now, &link, &ls))) return rc;
    if (ls != FEEDBACK_LINK_VALID) return CX_EINVAL;
  }
  char *link_url = NULL, *unsub_url = NULL;
  cx_buf text, html;
  cx_buf_init(&text, OUTBOX_MAX_TEXT);
  cx_buf_init(&html, OUTBOX_MAX_TEXT);
  outbox_mail mail = {0};
  if (*skip < 0) {
    size_t cap = strlen(x->set.url) + 40 + sizeof token;
    link_url = cx_malloc(cap), unsub_url = cx_malloc(cap);
    if (!link_url || !unsub_url) {
      rc = CX_ENOMEM;
      goto out;
    }
    snprintf(link_url, cap, "%s/s/%lld?t=%s", x->set.url, (long long)m->survey, token);
    snprintf(unsub_url, cap, "%s/s/unsubscribe?t=%s", x->set.url, token);
    if ((rc = compose(m->body, m->survey_name, link_url, unsub_url, &text, &html))) goto out;
    mail = (outbox_mail){.to = email, .subject = m->subject, .text = text.p, .html = html.p,
                         .unsubscribe_url = unsub_url, .ref = "invitation:0"};
    outbox_error oerr;
    if (outbox_mail_check(&mail, &oerr)) { /* an address the outbox cannot send to */
      cx_log("warn", "invitation_refused", "field", oerr.field, "message", oerr.message, NULL);
      *skip = SK_NO_EMAIL;
    }
  }
  sqlite3_stmt *st;
  if (*skip >= 0) { /* a distribution counts its skips; a trigger's row says why */
    if (row) {
      if (sqlite3_prepare_v2(x->db, "UPDATE invitations SET status = 'skipped', skip_reason = ?1 WHERE id = ?2", -1, &st,
                             NULL)) {
        rc = CX_EDB;
        goto out;
      }
      sqlite3_bind_text(st, 1, skip_name[*skip], -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 2, row);
      rc = step_done(st);
    }
    goto out;
  }
  if (!row) {
    if (sqlite3_prepare_v2(x->db, "INSERT INTO invitations(survey_id, distribution_id, customer_id, status, created_at)"
                                  " VALUES(?1, ?2, ?3, 'sent', ?4)", -1, &st, NULL)) {
      rc = CX_EDB;
      goto out;
    }
    sqlite3_bind_int64(st, 1, m->survey);
    sqlite3_bind_int64(st, 2, m->dist);
    sqlite3_bind_int64(st, 3, cust);
    sqlite3_bind_int64(st, 4, x->now);
    if ((rc = step_done(st))) goto out;
    row = sqlite3_last_insert_rowid(x->db);
  }
  char ref[40];
  snprintf(ref, sizeof ref, "invitation:%lld", (long long)row);
  mail.ref = ref;
  int64_t oid = 0;
  if ((rc = outbox_enqueue_mail_in(x->db, &mail, &oid))) goto out;
  x->enqueued++;
  if (sqlite3_prepare_v2(x->db, "UPDATE invitations SET status = 'sent', customer_id = ?1, email = ?2, link = ?3,"
                                " token = ?4, outbox_id = ?5, sent_at = ?6 WHERE id = ?7", -1, &st, NULL)) {
    rc = CX_EDB;
    goto out;
  }
  sqlite3_bind_int64(st, 1, cust);
  sqlite3_bind_text(st, 2, email, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, link.id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, token, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, oid);
  sqlite3_bind_int64(st, 6, x->now);
  sqlite3_bind_int64(st, 7, row);
  rc = step_done(st);
out:
  cx_free(link_url);
  cx_free(unsub_url);
  cx_buf_free(&text);
  cx_buf_free(&html);
  return rc;
}

/* ---- distributions ---- */

typedef struct {
  int kind; /* PROFILE_USER_ID, PROFILE_EMAIL, or 0: a customer id */
  const char *value;
  int64_t id;
} recipient;

typedef struct {
  feedback_dist *d;
  mailing m;
  const char *name, *spec;
  int64_t reminder_ms; /* 0: none */
  recipient *r;
  size_t n;
  settings set;
  int64_t id;
  uint64_t invited, skipped[SK_COUNT];
  int enqueued;
} create_ctx;

/* A set of customer ids (open addressing; 0 is empty). */
typedef struct {
  int64_t *v;
  size_t mask;
} idset;

static int idset_add(idset *s, int64_t id) {
  size_t i = (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ULL >> 20) & s->mask;
  while (s->v[i]) {
    if (s->v[i] == id) return 0;
    i = (i + 1) & s->mask;
  }
  s->v[i] = id;
  return 1;
}

static cx_err apply_create(void *ctx, sqlite3 *db) {
  create_ctx *c = ctx;
  wctx x = {.d = c->d, .db = db, .now = cx_now_ms(), .set = c->set};
  memset(c->skipped, 0, sizeof c->skipped);
  c->invited = 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "INSERT INTO distributions(survey_id, kind, name, subject, body, reminder_ms, expires_ms,"
                             " spec, created_at) VALUES(?1, 'distribution', ?2, ?3, ?4, ?5, ?6, ?7, ?8)", -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, c->m.survey);
  sqlite3_bind_text(st, 2, c->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, c->m.subject, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, c->m.body, -1, SQLITE_STATIC);
  if (c->reminder_ms) sqlite3_bind_int64(st, 5, c->reminder_ms);
  else sqlite3_bind_null(st, 5);
  sqlite3_bind_int64(st, 6, c->m.expires_ms);
  sqlite3_bind_text(st, 7, c->spec, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 8, x.now);
  cx_err rc = step_done(st);
  if (rc) return rc;
  c->id = c->m.dist = sqlite3_last_insert_rowid(db);
  size_t cap = 16;
  while (cap < 2 * c->n) cap *= 2;
  idset seen = {cx_calloc(cap, sizeof(int64_t)), cap - 1};
  if (!seen.v) return CX_ENOMEM;
  for (size_t i = 0; i < c->n && !rc; i++) {
    recipient *r = &c->r[i];
    int64_t cust = r->kind ? profile_find(c->d->pr, r->kind, r->value, strlen(r->value)) : profile_canonical(c->d->pr, r->id);
    if (!cust) {
      c->skipped[SK_UNKNOWN]++;
      continue;
    }
    if (!idset_add(&seen, cust)) {
      c->skipped[SK_DUPLICATE]++;
      continue;
    }
    int skip;
    rc = invite(&x, &c->m, cust, 0, &skip);
    if (!rc && skip >= 0) c->skipped[skip]++;
    else if (!rc) c->invited++;
  }
  cx_free(seen.v);
  if (rc) return rc;
  char sk[256];
  snprintf(sk, sizeof sk, "{\"no_email\":%llu,\"fatigue\":%llu,\"unsubscribed\":%llu,\"no_consent\":%llu,"
           "\"unknown\":%llu,\"duplicate\":%llu}", (unsigned long long)c->skipped[0], (unsigned long long)c->skipped[1],
           (unsigned long long)c->skipped[2], (unsigned long long)c->skipped[3], (unsigned long long)c->skipped[4],
           (unsigned long long)c->skipped[5]);
  if (sqlite3_prepare_v2(db, "UPDATE distributions SET skipped = ?1 WHERE id = ?2", -1, &st, NULL)) return CX_EDB;
  sqlite3_bind_text(st, 1, sk, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, c->id);
  c->enqueued = x.enqueued;
  return step_done(st);
}

/* The survey's name when it is live; the refusal otherwise. */
static cx_err survey_live(feedback_dist *d, int64_t survey, char name[MAX_NAME * 4 + 1], analytics_error *err) {
  const feedback_survey *s;
  cx_err rc = feedback_survey_acquire(d->fb, survey, &s);
  if (rc) return rc;
  if (s->status != S_LIVE)
    rc = analytics_refuse(err, s->status == S_CLOSED ? "survey_closed" : "survey_not_live", "survey",
                          s->status == S_CLOSED ? "This survey is closed: reopen it before sending invitations."
                                                : "This survey is a draft: publish it before sending invitations.");
  else snprintf(name, MAX_NAME * 4 + 1, "%s", s->name);
  feedback_survey_release(d->fb, s);
  return rc;
}

/* ---- one customer, inside the caller's job (a case's follow-up) ---- */

#define FOLLOW_UP_NAME "Case follow-ups"
#define FOLLOW_UP_SUBJECT "Did we put it right?"
#define FOLLOW_UP_BODY                                                                                                  \
  "Hi,\n\nYou told us recently that something went wrong, and our team worked on it. Did we put it right? "         \
  "One question, one minute: {{link}}\n\n{{unsubscribe}}"
#define FOLLOW_UP_EXPIRES_MS (30 * DAY_MS)

cx_err feedback_dist_invite_ready(void *dist) {
  feedback_dist *d = dist;
  return feedback_link_key_load(d->fb);
}

/* The survey's follow-up mailing row (made on first use) into *id. */
static cx_err follow_up_row(sqlite3 *db, int64_t survey, int64_t now, int64_t *id) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT id FROM distributions WHERE survey_id = ?1 AND kind = 'follow_up' AND deleted = 0"
                             " ORDER BY id LIMIT 1", -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, survey);
  *id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_finalize(st);
  if (*id) return CX_OK;
  if (sqlite3_prepare_v2(db, "INSERT INTO distributions(survey_id, kind, name, subject, body, expires_ms, spec, created_at)"
                             " VALUES(?1, 'follow_up', ?2, ?3, ?4, ?5, '{}', ?6)", -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, survey);
  sqlite3_bind_text(st, 2, FOLLOW_UP_NAME, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, FOLLOW_UP_SUBJECT, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, FOLLOW_UP_BODY, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, FOLLOW_UP_EXPIRES_MS);
  sqlite3_bind_int64(st, 6, now);
  cx_err rc = step_done(st);
  if (!rc) *id = sqlite3_last_insert_rowid(db);
  return rc;
}

cx_err feedback_dist_invite_in(void *dist, sqlite3 *db, int64_t survey, int64_t customer, int64_t now_ms,
                               int64_t *invitation) {
  feedback_dist *d = dist;
  char name[MAX_NAME * 4 + 1];
  analytics_error err = {{0}, {0}, {0}};
  *invitation = 0;
  cx_err rc = survey_live(d, survey, name, &err);
  if (rc == CX_EINVAL || rc == CX_ENOTFOUND) return CX_OK; /* not live, or gone: nothing to send */
  int64_t row = 0;
  if (!rc) rc = follow_up_row(db, survey, now_ms, &row);
  if (rc) return rc;
  int64_t cust = profile_canonical(d->pr, customer);
  wctx x = {.d = d, .db = db, .now = now_ms};
  settings_read(d, db, &x.set);
  mailing m = {.survey = survey, .dist = row, .expires_ms = FOLLOW_UP_EXPIRES_MS, .subject = FOLLOW_UP_SUBJECT,
               .body = FOLLOW_UP_BODY, .survey_name = name};
  int skip = -1;
  rc = invite(&x, &m, cust ? cust : customer, 0, &skip);
  if (rc || skip >= 0) return rc;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT max(id) FROM invitations WHERE distribution_id = ?1", -1, &st, NULL)) return CX_EDB;
  sqlite3_bind_int64(st, 1, row);
  if (sqlite3_step(st) == SQLITE_ROW) *invitation = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return CX_OK;
}

/* The members common to distributions and triggers: name, subject, body,
 * reminder_after, expires_in; the mail checked with a sample address. */
static cx_err parse_mailing(const cJSON *req, int name_required, mailing *m, const char **name, int64_t *reminder_ms,
                            analytics_error *err) {
  const cJSON *nm = cJSON_GetObjectItemCaseSensitive(req, "name");
  const cJSON *sub = cJSON_GetObjectItemCaseSensitive(req, "subject");
  const cJSON *body = cJSON_GetObjectItemCaseSensitive(req, "body");
  const cJSON *rem = cJSON_GetObjectItemCaseSensitive(req, "reminder_after");
  const cJSON *exp = cJSON_GetObjectItemCaseSensitive(req, "expires_in");
  *name = NULL;
  if (nm || name_required) {
    if (!cJSON_IsString(nm) || !text_ok(nm->valuestring, MAX_NAME, 0))
      return analytics_refuse(err, "invalid_field", "name", "name must be a text of 1 to %d bytes.", MAX_NAME);
    *name = nm->valuestring;
  }
  if (!cJSON_IsString(sub) || !text_ok(sub->valuestring, DIST_MAX_SUBJECT, 0))
    return analytics_refuse(err, "invalid_field", "subject",
                            "subject must be a one-line text of 1 to %d bytes.", DIST_MAX_SUBJECT);
  if (!cJSON_IsString(body)) return analytics_refuse(err, "invalid_field", "body", "body must be a text holding {{link}}.");
  cx_err rc = check_body(body->valuestring, err);
  if (rc) return rc;
  *reminder_ms = 0;
  if (rem && !cJSON_IsNull(rem) && !(cJSON_IsString(rem) && span_ms(rem->valuestring, reminder_ms)))
    return analytics_refuse(err, "invalid_field", "reminder_after",
                            "reminder_after must be a positive span of at most 366 days, such as 3d, 12h or 90s.");
  m->expires_ms = 30 * DAY_MS;
  if (exp && !cJSON_IsNull(exp) && !(cJSON_IsString(exp) && span_ms(exp->valuestring, &m->expires_ms)))
    return analytics_refuse(err, "invalid_field", "expires_in",
                            "expires_in must be a positive span of at most 366 days, such as 30d.");
  m->subject = sub->valuestring;
  m->body = body->valuestring;
  outbox_mail sample = {.to = "a@example.com", .subject = m->subject, .text = m->body};
  outbox_error oerr;
  if (outbox_mail_check(&sample, &oerr))
    return analytics_refuse(err, "invalid_field", oerr.field, "%s", oerr.message);
  return CX_OK;
}

static cx_err parse_recipients(feedback_dist *d, const cJSON *to, recipient **out, size_t *n, analytics_error *err) {
  *out = NULL;
  *n = 0;
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(to, "customers");
  const cJSON *seg = cJSON_GetObjectItemCaseSensitive(to, "segment");
  if (!cJSON_IsObject(to) || !!list + !!seg != 1 || cJSON_GetArraySize(to) != 1)
    return analytics_refuse(err, "invalid_field", "to",
                            "to must be {\"customers\":[{\"user_id\":…}|{\"email\":…}…]} or {\"segment\":\"<segment id>\"}.");
  if (list) {
    int k = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list) || k < 1)
      return analytics_refuse(err, "invalid_field", "to.customers", "to.customers must list 1 to %d customers.",
                              DIST_MAX_RECIPIENTS);
    if (k > DIST_MAX_RECIPIENTS)
      return analytics_refuse(err, "invalid_field", "to.customers",
                              "to.customers lists %d customers: at most %d per distribution.", k, DIST_MAX_RECIPIENTS);
    recipient *r = cx_calloc((size_t)k, sizeof *r);
    if (!r) return CX_ENOMEM;
    size_t i = 0;
    for (const cJSON *c = list->child; c; c = c->next, i++) {
      const cJSON *v = cJSON_IsObject(c) && cJSON_GetArraySize(c) == 1 ? c->child : NULL;
      int kind = v && !strcmp(v->string, "user_id") ? PROFILE_USER_ID : v && !strcmp(v->string, "email") ? PROFILE_EMAIL : 0;
      if (!kind || !cJSON_IsString(v) || !text_ok(v->valuestring, PROFILE_ID_MAX, 0)) {
        cx_free(r);
        char f[48];
        snprintf(f, sizeof f, "to.customers[%zu]", i);
        return analytics_refuse(err, "invalid_field", f,
                                "%s must be {\"user_id\":\"…\"} or {\"email\":\"…\"} (1 to 255 bytes).", f);
      }
      r[i].kind = kind;
      r[i].value = v->valuestring; /* normalised below */
      if (kind == PROFILE_EMAIL) {
        char *norm = cx_malloc(PROFILE_ID_MAX + 1);
        if (!norm) {
          cx_free(r);
          return CX_ENOMEM;
        }
        if (profile_normalise_email(v->valuestring, strlen(v->valuestring), norm)) snprintf(norm, PROFILE_ID_MAX + 1, "%s", v->valuestring);
        /* kept in the cJSON's value: replace it in place (it fits) */
        snprintf(v->valuestring, strlen(v->valuestring) + 1, "%s", norm);
        cx_free(norm);
      }
    }
    *out = r;
    *n = (size_t)k;
    return CX_OK;
  }
  int64_t sid = 0;
  const char *sv = cJSON_IsString(seg) ? seg->valuestring : NULL;
  if (cJSON_IsNumber(seg) && seg->valuedouble == (double)(int64_t)seg->valuedouble) sid = (int64_t)seg->valuedouble;
  else if (sv && cx_parse_i64(sv, strlen(sv), &sid)) sid = 0;
  if (sid <= 0 || !d->seg)
    return analytics_refuse(err, "unknown_segment", "to.segment", "to.segment must be the id of a segment.");
  int64_t *ids = cx_calloc(DIST_MAX_RECIPIENTS + 1, sizeof *ids);
  if (!ids) return CX_ENOMEM;
  cx_err rc = CX_OK;
  size_t k = analytics_segment_members(d->seg, sid, 0, ids, DIST_MAX_RECIPIENTS + 1, &rc);
  if (rc == CX_ENOTFOUND) {
    cx_free(ids);
    return analytics_refuse(err, "unknown_segment", "to.segment", "No segment has the id %lld.", (long long)sid);
  }
  if (rc || k > DIST_MAX_RECIPIENTS) {
    cx_free(ids);
    return rc ? rc : analytics_refuse(err, "invalid_field", "to.segment",
                                      "The segment has more than %d members: at most %d per distribution.",
                                      DIST_MAX_RECIPIENTS, DIST_MAX_RECIPIENTS);
  }
  recipient *r = cx_calloc(k ? k : 1, sizeof *r);
  if (!r) {
    cx_free(ids);
    return CX_ENOMEM;
  }
  for (size_t i = 0; i < k; i++) r[i].id = ids[i];
  cx_free(ids);
  *out = r;
  *n = k;
  return CX_OK;
}

/* The request as saved (no recipients): subject, body, reminder_after,
 * expires_in and the trigger's members. */
static char *spec_of(const cJSON *req) {
  cJSON *s = cJSON_Duplicate(req, 1);
  if (!s) return NULL;
  cJSON_DeleteItemFromObjectCaseSensitive(s, "to");
  char *t = cJSON_PrintUnformatted(s);
  cJSON_Delete(s);
  return t;
}

cx_err feedback_dist_create(feedback_dist *d, int64_t survey, const cJSON *req, cx_buf *out, analytics_error *err) {
  static const char *const names[] = {"name", "subject", "body", "to", "reminder_after", "expires_in", NULL};
  const char *u = fb_unknown_member(req, names);
  if (u)
    return analytics_refuse(err, "invalid_field", u,
                            "Unknown member \"%.40s\": a distribution has name, subject, body, to, reminder_after and expires_in.", u);
  char sname[MAX_NAME * 4 + 1];
  cx_err rc = survey_live(d, survey, sname, err);
  if (rc) return rc;
  create_ctx c = {.d = d};
  c.m.survey = survey;
  c.m.survey_name = sname;
  if ((rc = parse_mailing(req, 1, &c.m, &c.name, &c.reminder_ms, err))) return rc;
  cJSON *copy = cJSON_Duplicate(req, 1); /* recipients' e-mails normalised in place */
  if (!copy) return CX_ENOMEM;
  rc = parse_recipients(d, cJSON_GetObjectItemCaseSensitive(copy, "to"), &c.r, &c.n, err);
  char *spec = rc ? NULL : spec_of(req);
  if (!rc && !spec) rc = CX_ENOMEM;
  if (!rc) rc = warm_key(d);
  if (!rc) {
    settings_read_reader(d, &c.set);
    c.spec = spec;
    rc = run_job(d, apply_create, &c, c.n ? c.n : 1);
  }
  if (!rc && c.enqueued) outbox_kick(d->ob);
  if (!rc)
    rc = cx_buf_printf(out, "{\"id\":\"%lld\",\"invited\":%llu,\"skipped\":{\"no_email\":%llu,\"fatigue\":%llu,"
                       "\"unsubscribed\":%llu,\"no_consent\":%llu,\"unknown\":%llu,\"duplicate\":%llu}}",
                       (long long)c.id, (unsigned long long)c.invited, (unsigned long long)c.skipped[0],
                       (unsigned long long)c.skipped[1], (unsigned long long)c.skipped[2],
                       (unsigned long long)c.skipped[3], (unsigned long long)c.skipped[4],
                       (unsigned long long)c.skipped[5]);
  cx_free(c.r);
  cJSON_free(spec);
  cJSON_Delete(copy);
  return rc;
}

/* ---- reading ---- */

#define STATS_SQL                                                                                                     \
  "SELECT count(i.outbox_id), coalesce(sum(o.status = 'sent'), 0), coalesce(sum(o.status = 'failed'), 0),"          \
  " count(i.reminder_id), coalesce(sum(i.outbox_id IS NOT NULL AND EXISTS(SELECT 1 FROM responses r"                \
  " WHERE r.link = i.link AND r.replaced_by IS NULL)), 0), coalesce(sum(i.status = 'scheduled'), 0)"                \
  " FROM invitations i LEFT JOIN outbox o ON o.id = i.outbox_id WHERE i.distribution_id = ?1"

/* Appends ,"invited":…,"response_rate":…,"skipped":{…} of distribution id;
 * a trigger's skips are counted from its rows, a mailing's were saved. */
static cx_err write_stats(sqlite3 *db, int64_t id, int trigger, const char *saved_skips, cx_buf *out) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, STATS_SQL, -1, &st, NULL)) return CX_EDB;
  sqlite3_bind_int64(st, 1, id);
  if (sqlite3_step(st) != SQLITE_ROW) {
    sqlite3_finalize(st);
    return CX_EDB;
  }
  int64_t v[6];
  for (int i = 0; i < 6; i++) v[i] = sqlite3_column_int64(st, i);
  sqlite3_finalize(st);
  cx_err rc = cx_buf_printf(out, ",\"invited\":%lld,\"sent\":%lld,\"failed\":%lld,\"reminded\":%lld,\"responded\":%lld,",
                            (long long)v[0], (long long)v[1], (long long)v[2], (long long)v[3], (long long)v[4]);
  if (!rc && trigger) rc = cx_buf_printf(out, "\"scheduled\":%lld,", (long long)v[5]);
  if (!rc) rc = v[0] ? cx_buf_printf(out, "\"response_rate\":%.6g,", (double)v[4] / (double)v[0])
                     : cx_buf_puts(out, "\"response_rate\":null,");
  if (rc) return rc;
  if (!trigger) return cx_buf_printf(out, "\"skipped\":%s", saved_skips);
  uint64_t sk[SK_COUNT] = {0};
  if (sqlite3_prepare_v2(db, "SELECT skip_reason, count(*) FROM invitations WHERE distribution_id = ?1"
                             " AND status = 'skipped' GROUP BY 1", -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, id);
  while (sqlite3_step(st) == SQLITE_ROW)
    for (int k = 0; k < SK_COUNT; k++)
      if (!strcmp((const char *)sqlite3_column_text(st, 0), skip_name[k])) sk[k] = (uint64_t)sqlite3_column_int64(st, 1);
  sqlite3_finalize(st);
  rc = cx_buf_puts(out, "\"skipped\":{");
  for (int k = 0; k < SK_COUNT && !rc; k++)
    rc = cx_buf_printf(out, "%s\"%s\":%llu", k ? "," : "", skip_name[k], (unsigned long long)sk[k]);
  return rc ? rc : cx_buf_puts(out, "}");
}

/* Appends the members of spec (a JSON object text) named in keys. */
static cx_err write_spec(const char *spec, const char *const *keys, cx_buf *out) {
  cJSON *s = cJSON_Parse(spec);
  cx_err rc = CX_OK;
  for (size_t i = 0; keys[i] && !rc; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, keys[i]);
    rc = cx_buf_printf(out, ",\"%s\":", keys[i]);
    if (!rc) rc = cJSON_IsString(v) ? cx_buf_json_str(out, v->valuestring, strlen(v->valuestring)) : cx_buf_puts(out, "null");
  }
  cJSON_Delete(s);
  return rc;
}

static cx_err survey_exists(sqlite3 *db, int64_t survey) {
  int yes = 0;
  cx_err rc = exists1(db, "SELECT 1 FROM surveys WHERE id = ?1 AND ?2 = ?2", NULL, survey, 0, &yes);
  return rc ? rc : yes ? CX_OK : CX_ENOTFOUND;
}

static const char *const dist_keys[] = {"subject", "reminder_after", "expires_in", NULL};
static const char *const trigger_keys[] = {"event", "delay", "where", "subject", "reminder_after", "expires_in", NULL};

/* {"<list>":[…]} of survey's distributions of kind (one when id > 0). */
static cx_err write_list(feedback_dist *d, sqlite3 *db, int64_t survey, int trigger, int64_t id, cx_buf *out) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT id, name, created_at, skipped, spec FROM distributions WHERE survey_id = ?1"
                             " AND kind = ?2 AND deleted = 0 AND (?3 = 0 OR id = ?3) ORDER BY id DESC", -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, survey);
  sqlite3_bind_text(st, 2, trigger ? "trigger" : "distribution", -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, id);
  cx_err rc = CX_OK;
  int n = 0, r;
  while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
    if (!id) rc = cx_buf_puts(out, n ? "," : "");
    n++;
    const char *name = (const char *)sqlite3_column_text(st, 1);
    if (!rc) rc = cx_buf_printf(out, "{\"id\":\"%lld\",\"name\":", (long long)sqlite3_column_int64(st, 0));
    if (!rc) rc = cx_buf_json_str(out, name, strlen(name));
    if (!rc) rc = cx_buf_puts(out, ",\"created_at\":");
    if (!rc) rc = cx_buf_json_time(out, sqlite3_column_int64(st, 2));
    if (!rc) rc = write_spec((const char *)sqlite3_column_text(st, 4), trigger ? trigger_keys : dist_keys, out);
    if (!rc) rc = write_stats(db, sqlite3_column_int64(st, 0), trigger, (const char *)sqlite3_column_text(st, 3), out);
    if (!rc && !id) rc = cx_buf_puts(out, "}");
  }
  if (!rc && r != SQLITE_DONE && r != SQLITE_ROW) rc = CX_EDB;
  sqlite3_finalize(st);
  if (!rc && id && !n) rc = CX_ENOTFOUND;
  (void)d;
  return rc;
}

/* {"distributions":[…]} or {"triggers":[…]} of a survey. */
static cx_err list_of(feedback_dist *d, int64_t survey, int triggers, cx_buf *out) {
  sqlite3 *db = store_reader_get(d->st);
  cx_err rc = survey_exists(db, survey);
  if (!rc) rc = cx_buf_puts(out, triggers ? "{\"triggers\":[" : "{\"distributions\":[");
  if (!rc) rc = write_list(d, db, survey, triggers, 0, out);
  if (!rc) rc = cx_buf_puts(out, "]}");
  store_reader_put(d->st, db);
  return rc;
}

cx_err feedback_dist_list(feedback_dist *d, int64_t survey, cx_buf *out) { return list_of(d, survey, 0, out); }

cx_err feedback_dist_get(feedback_dist *d, int64_t survey, int64_t id, int64_t cursor, size_t limit, int show_email,
                         cx_buf *out) {
  sqlite3 *db = store_reader_get(d->st);
  cx_err rc = write_list(d, db, survey, 0, id, out);
  sqlite3_stmt *st = NULL;
  if (!rc && sqlite3_prepare_v2(db, "SELECT i.id, i.customer_id, i.email, i.status, i.sent_at, i.reminded_at,"
                                    " i.reminder_id, o.status, EXISTS(SELECT 1 FROM responses r WHERE r.link = i.link"
                                    " AND r.replaced_by IS NULL) FROM invitations i LEFT JOIN outbox o ON o.id = i.outbox_id"
                                    " WHERE i.distribution_id = ?1 AND (?2 = 0 OR i.id < ?2) ORDER BY i.id DESC LIMIT ?3",
                                -1, &st, NULL))
    rc = CX_EDB;
  if (!rc) {
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, cursor);
    sqlite3_bind_int64(st, 3, (int64_t)limit + 1);
    rc = cx_buf_puts(out, ",\"invitations\":[");
  }
  size_t n = 0;
  int64_t last = 0;
  while (!rc && sqlite3_step(st) == SQLITE_ROW) {
    if (n == limit) {
      n++;
      break;
    }
    last = sqlite3_column_int64(st, 0);
    const char *email = (const char *)sqlite3_column_text(st, 2);
    char masked[OUTBOX_MAX_ADDRESS + 1] = "";
    if (email && !show_email) mask_email(email, masked);
    rc = cx_buf_printf(out, "%s{\"id\":\"%lld\",\"customer_id\":\"%lld\",\"email\":", n ? "," : "", (long long)last,
                       (long long)sqlite3_column_int64(st, 1));
    if (!rc) rc = email ? cx_buf_json_str(out, show_email ? email : masked, strlen(show_email ? email : masked))
                        : cx_buf_puts(out, "null");
    const char *status = (const char *)sqlite3_column_text(st, 3), *del = (const char *)sqlite3_column_text(st, 7);
    if (!rc) rc = cx_buf_printf(out, ",\"status\":\"%s\",\"delivery\":", status);
    if (!rc) rc = del ? cx_buf_json_str(out, del, strlen(del)) : cx_buf_puts(out, "null");
    if (!rc) rc = cx_buf_puts(out, ",\"sent_at\":");
    if (!rc) rc = cx_buf_json_time(out, sqlite3_column_type(st, 4) == SQLITE_NULL ? CX_NO_TIME : sqlite3_column_int64(st, 4));
    if (!rc) rc = cx_buf_puts(out, ",\"reminded_at\":");
    if (!rc) rc = cx_buf_json_time(out, sqlite3_column_type(st, 6) == SQLITE_NULL ? CX_NO_TIME : sqlite3_column_int64(st, 5));
    if (!rc) rc = cx_buf_printf(out, ",\"responded\":%s}", sqlite3_column_int(st, 8) ? "true" : "false");
    n++;
  }
  sqlite3_finalize(st);
  if (!rc) rc = n > limit ? cx_buf_printf(out, "],\"next_cursor\":\"%lld\"}", (long long)last) : cx_buf_puts(out, "],\"next_cursor\":null}");
  store_reader_put(d->st, db);
  return rc;
}

/* ---- triggers ---- */

typedef struct {
  int bad; /* a path outside event.* */
  char root[16];
} where_check;

static cx_err where_path(void *ctx, const char *root, const char *const *parts, size_t nparts) {
  where_check *w = ctx;
  (void)parts;
  (void)nparts;
  if (strcmp(root, "event") && !w->bad) {
    w->bad = 1;
    snprintf(w->root, sizeof w->root, "%s", root);
  }
  return CX_OK;
}

typedef struct {
  int64_t survey, delay_ms, reminder_ms, expires_ms, id, created;
  const char *name, *subject, *body, *event, *rule, *spec;
  int too_many;
} trigger_ctx;

static cx_err apply_trigger(void *ctx, sqlite3 *db) {
  trigger_ctx *t = ctx;
  sqlite3_stmt *st;
  int64_t live = 0;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM distributions WHERE kind = 'trigger' AND deleted = 0", -1, &st, NULL))
    return CX_EDB;
  if (sqlite3_step(st) == SQLITE_ROW) live = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (live >= DIST_MAX_TRIGGERS) {
    t->too_many = 1;
    return CX_OK;
  }
  int64_t head = 0, mid = 0;
  if (store_log_head(db, &head, &mid)) return CX_EDB;
  if (sqlite3_prepare_v2(db, "INSERT INTO distributions(survey_id, kind, name, subject, body, reminder_ms, expires_ms,"
                             " spec, event, delay_ms, rule, last_seq, created_at)"
                             " VALUES(?1, 'trigger', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)", -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, t->survey);
  sqlite3_bind_text(st, 2, t->name ? t->name : t->event, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, t->subject, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, t->body, -1, SQLITE_STATIC);
  if (t->reminder_ms) sqlite3_bind_int64(st, 5, t->reminder_ms);
  else sqlite3_bind_null(st, 5);
  sqlite3_bind_int64(st, 6, t->expires_ms);
  sqlite3_bind_text(st, 7, t->spec, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 8, t->event, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 9, t->delay_ms);
  bind_text(st, 10, t->rule);
  sqlite3_bind_int64(st, 11, head);
  sqlite3_bind_int64(st, 12, t->created);
  cx_err rc = step_done(st);
  if (!rc) t->id = sqlite3_last_insert_rowid(db);
  return rc;
}

cx_err feedback_dist_trigger_create(feedback_dist *d, int64_t survey, const cJSON *req, cx_buf *out,
                                    analytics_error *err) {
  static const char *const names[] = {"name", "event", "delay", "where", "subject", "body", "reminder_after", "expires_in", NULL};
  const char *u = fb_unknown_member(req, names);
  if (u)
    return analytics_refuse(err, "invalid_field", u, "Unknown member \"%.40s\": a trigger has event, delay, where, subject, "
                            "body, name, reminder_after and expires_in.", u);
  char sname[MAX_NAME * 4 + 1];
  cx_err rc = survey_live(d, survey, sname, err);
  if (rc) return rc;
  const cJSON *ev = cJSON_GetObjectItemCaseSensitive(req, "event");
  const cJSON *delay = cJSON_GetObjectItemCaseSensitive(req, "delay");
  const cJSON *where = cJSON_GetObjectItemCaseSensitive(req, "where");
  trigger_ctx t = {.survey = survey, .created = cx_now_ms()};
  if (!cJSON_IsString(ev) || !text_ok(ev->valuestring, INGEST_MAX_NAME, 0))
    return analytics_refuse(err, "invalid_field", "event", "event must be the name of a track event, such as Order Completed.");
  if (delay && !cJSON_IsNull(delay) && !(cJSON_IsString(delay) && (!strcmp(delay->valuestring, "0s") ||
                                                                    span_ms(delay->valuestring, &t.delay_ms))))
    return analytics_refuse(err, "invalid_field", "delay", "delay must be a span of at most 366 days, such as 2h, 3d or 0s.");
  if (where && !cJSON_IsNull(where)) {
    if (!cJSON_IsString(where))
      return analytics_refuse(err, "invalid_rule", "where", "where must be a rule about the event, such as event.properties.revenue > 50.");
    rules_expr *e = NULL;
    rules_error re;
    rc = rules_compile(where->valuestring, strlen(where->valuestring), &e, &re);
    if (rc == CX_ENOMEM) return rc;
    if (rc) return analytics_refuse(err, "invalid_rule", "where", "%s", re.message);
    where_check w = {0};
    rules_each_path(e, where_path, &w);
    rules_free(e);
    if (w.bad)
      return analytics_refuse(err, "invalid_rule", "where",
                              "where may read the event only (event.name, event.properties.…), not %s.", w.root);
    t.rule = where->valuestring;
  }
  mailing m = {0};
  if ((rc = parse_mailing(req, 0, &m, &t.name, &t.reminder_ms, err))) return rc;
  t.subject = m.subject, t.body = m.body, t.expires_ms = m.expires_ms, t.event = ev->valuestring;
  char *spec = cJSON_PrintUnformatted(req);
  if (!spec) return CX_ENOMEM;
  t.spec = spec;
  rc = run_job(d, apply_trigger, &t, 1);
  if (!rc && t.too_many)
    rc = analytics_refuse(err, "too_many_triggers", NULL, "There are %d triggers already: delete one first.", DIST_MAX_TRIGGERS);
  sqlite3 *db = rc ? NULL : store_reader_get(d->st);
  if (db) {
    rc = write_list(d, db, survey, 1, t.id, out);
    if (!rc) rc = cx_buf_puts(out, "}");
    store_reader_put(d->st, db);
  }
  cJSON_free(spec);
  return rc;
}

cx_err feedback_dist_triggers_list(feedback_dist *d, int64_t survey, cx_buf *out) { return list_of(d, survey, 1, out); }

typedef struct {
  int64_t survey, id;
  int found;
} delete_ctx;

static cx_err apply_delete(void *ctx, sqlite3 *db) {
  delete_ctx *x = ctx;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "UPDATE distributions SET deleted = 1 WHERE id = ?1 AND survey_id = ?2 AND kind = 'trigger'"
                             " AND deleted = 0", -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, x->id);
  sqlite3_bind_int64(st, 2, x->survey);
  cx_err rc = step_done(st);
  if (rc) return rc;
  x->found = sqlite3_changes(db) > 0;
  if (!x->found) return CX_OK;
  if (sqlite3_prepare_v2(db, "UPDATE invitations SET status = 'cancelled' WHERE distribution_id = ?1 AND status = 'scheduled'",
                         -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, x->id);
  return step_done(st);
}

cx_err feedback_dist_trigger_delete(feedback_dist *d, int64_t survey, int64_t id) {
  delete_ctx x = {.survey = survey, .id = id};
  cx_err rc = run_job(d, apply_delete, &x, 1);
  return rc ? rc : x.found ? CX_OK : CX_ENOTFOUND;
}

/* ---- the scheduler's tick ---- */

typedef struct {
  sqlite3 *db;
  int64_t seq, ts;
  const char *name;
  cJSON *doc;
  int loaded;
} event_env;

static void json_value(const cJSON *j, rules_value *out) {
  if (cJSON_IsString(j)) *out = (rules_value){.type = RULES_STRING, .u.str = {j->valuestring, strlen(j->valuestring)}};
  else if (cJSON_IsNumber(j)) *out = (rules_value){.type = RULES_NUMBER, .u.number = j->valuedouble};
  else if (cJSON_IsBool(j)) *out = (rules_value){.type = RULES_BOOL, .u.boolean = cJSON_IsTrue(j)};
}

static cx_err event_lookup(void *ctx, const char *root, const char *const *parts, size_t nparts, rules_value *out) {
  event_env *e = ctx;
  if (strcmp(root, "event") || !nparts) return CX_OK;
  if (nparts == 1 && !strcmp(parts[0], "name")) {
    *out = (rules_value){.type = RULES_STRING, .u.str = {e->name, strlen(e->name)}};
    return CX_OK;
  }
  if (nparts == 1 && !strcmp(parts[0], "timestamp")) {
    *out = (rules_value){.type = RULES_TIME, .u.ms = e->ts};
    return CX_OK;
  }
  if (!e->loaded) {
    e->loaded = 1;
    store_body_reader *r;
    const char *body;
    size_t len;
    cx_err rc = store_body_reader_open(e->db, &r);
    if (!rc) rc = store_body_read(r, e->seq, &body, &len);
    if (!rc && body) e->doc = cJSON_ParseWithLength(body, len);
    store_body_reader_close(r);
    if (rc) return rc;
  }
  const cJSON *j = e->doc;
  for (size_t k = 0; j && k < nparts; k++) j = cJSON_GetObjectItemCaseSensitive(j, parts[k]);
  if (j) json_value(j, out);
  return CX_OK;
}

/* New events of each live trigger: an invitation scheduled per match. */
static cx_err scan_triggers(wctx *x) {
  sqlite3_stmt *tr, *ev = NULL, *ins = NULL, *upd = NULL;
  if (sqlite3_prepare_v2(x->db, "SELECT d.id, d.survey_id, d.event, d.delay_ms, d.rule, d.last_seq FROM distributions d"
                                " JOIN surveys s ON s.id = d.survey_id WHERE d.kind = 'trigger' AND d.deleted = 0"
                                " AND s.status = 'live'", -1, &tr, NULL))
    return CX_EDB;
  cx_err rc = CX_OK;
  if (sqlite3_prepare_v2(x->db, "SELECT seq, customer_id, ts FROM events WHERE seq > ?1 AND seq <= ?2 AND name = ?3"
                                " AND type = ?4 ORDER BY seq LIMIT ?5", -1, &ev, NULL) ||
      sqlite3_prepare_v2(x->db, "INSERT INTO invitations(survey_id, distribution_id, customer_id, status, event_seq, due_at,"
                                " created_at) VALUES(?1, ?2, ?3, 'scheduled', ?4, ?5, ?6)", -1, &ins, NULL) ||
      sqlite3_prepare_v2(x->db, "UPDATE distributions SET last_seq = ?1 WHERE id = ?2", -1, &upd, NULL))
    rc = CX_EDB;
  int64_t head = 0, mid = 0;
  if (!rc && store_log_head(x->db, &head, &mid)) rc = CX_EDB;
  while (!rc && sqlite3_step(tr) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(tr, 0), survey = sqlite3_column_int64(tr, 1), delay = sqlite3_column_int64(tr, 3);
    int64_t last = sqlite3_column_int64(tr, 5);
    const char *name = (const char *)sqlite3_column_text(tr, 2), *rule = (const char *)sqlite3_column_text(tr, 4);
    if (last >= head) continue;
    rules_expr *e = NULL;
    if (rule && rules_compile(rule, strlen(rule), &e, NULL)) continue; /* compiled when saved */
    sqlite3_bind_int64(ev, 1, last);
    sqlite3_bind_int64(ev, 2, head);
    sqlite3_bind_text(ev, 3, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(ev, 4, INGEST_TRACK);
    sqlite3_bind_int(ev, 5, TICK_EVENTS);
    int64_t upto = head, n = 0;
    int r;
    while (!rc && (r = sqlite3_step(ev)) == SQLITE_ROW) {
      int64_t seq = sqlite3_column_int64(ev, 0), ts = sqlite3_column_int64(ev, 2);
      int64_t cust = profile_canonical(x->d->pr, sqlite3_column_int64(ev, 1));
      n++;
      if (n == TICK_EVENTS) upto = seq; /* more next tick */
      if (e) {
        event_env env = {.db = x->db, .seq = seq, .ts = ts, .name = name};
        char scratch[256];
        rules_env re = {.ctx = &env, .now_ms = x->now, .lookup = event_lookup, .scratch = scratch,
                        .scratch_size = sizeof scratch};
        int ok = rules_match(e, &re);
        cJSON_Delete(env.doc);
        if (!ok) continue;
      }
      if (!cust) continue;
      sqlite3_bind_int64(ins, 1, survey);
      sqlite3_bind_int64(ins, 2, id);
      sqlite3_bind_int64(ins, 3, cust);
      sqlite3_bind_int64(ins, 4, seq);
      sqlite3_bind_int64(ins, 5, ts + delay);
      sqlite3_bind_int64(ins, 6, x->now);
      if (sqlite3_step(ins) != SQLITE_DONE) rc = CX_EDB;
      sqlite3_reset(ins);
    }
    if (!rc && r != SQLITE_DONE && r != SQLITE_ROW) rc = CX_EDB;
    sqlite3_reset(ev);
    rules_free(e);
    if (rc) break;
    sqlite3_bind_int64(upd, 1, upto);
    sqlite3_bind_int64(upd, 2, id);
    if (sqlite3_step(upd) != SQLITE_DONE) rc = CX_EDB;
    sqlite3_reset(upd);
  }
  sqlite3_finalize(tr);
  sqlite3_finalize(ev);
  sqlite3_finalize(ins);
  sqlite3_finalize(upd);
  return rc;
}

/* Scheduled invitations now due: mailed, or skipped by the rules. */
static cx_err send_due(wctx *x) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(x->db, "SELECT i.id, i.customer_id, i.survey_id, i.distribution_id, d.subject, d.body, d.expires_ms,"
                                " s.name, s.status FROM invitations i JOIN distributions d ON d.id = i.distribution_id"
                                " JOIN surveys s ON s.id = i.survey_id WHERE i.status = 'scheduled' AND i.due_at <= ?1"
                                " ORDER BY i.due_at LIMIT ?2", -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, x->now);
  sqlite3_bind_int(st, 2, TICK_ROWS);
  cx_err rc = CX_OK;
  while (!rc && sqlite3_step(st) == SQLITE_ROW) {
    int64_t row = sqlite3_column_int64(st, 0);
    mailing m = {.survey = sqlite3_column_int64(st, 2), .dist = sqlite3_column_int64(st, 3),
                 .subject = (const char *)sqlite3_column_text(st, 4), .body = (const char *)sqlite3_column_text(st, 5),
                 .expires_ms = sqlite3_column_int64(st, 6), .survey_name = (const char *)sqlite3_column_text(st, 7)};
    int skip = -1;
    if (strcmp((const char *)sqlite3_column_text(st, 8), "live")) {
      sqlite3_stmt *u;
      if (sqlite3_prepare_v2(x->db, "UPDATE invitations SET status = 'skipped', skip_reason = 'survey_closed' WHERE id = ?1",
                             -1, &u, NULL)) {
        rc = CX_EDB;
        break;
      }
      sqlite3_bind_int64(u, 1, row);
      rc = step_done(u);
      continue;
    }
    rc = invite(x, &m, profile_canonical(x->d->pr, sqlite3_column_int64(st, 1)), row, &skip);
  }
  sqlite3_finalize(st);
  return rc;
}

/* Reminders: sent invitations of distributions with reminder_after, not
 * answered, not reminded, older than reminder_after; one mail each, unless
 * the address opted out or the link expired meanwhile (then none, ever). */
static cx_err send_reminders(wctx *x) {
  sqlite3_stmt *st, *upd = NULL;
  if (sqlite3_prepare_v2(x->db, "SELECT i.id, i.survey_id, i.email, i.token, i.sent_at, d.subject, d.body, d.expires_ms,"
                                " s.name FROM distributions d JOIN invitations i ON i.distribution_id = d.id"
                                " JOIN surveys s ON s.id = i.survey_id JOIN outbox o ON o.id = i.outbox_id"
                                " WHERE d.reminder_ms IS NOT NULL AND d.deleted = 0 AND i.status = 'sent'"
                                " AND i.reminded_at IS NULL AND i.sent_at <= ?1 - d.reminder_ms AND o.status = 'sent'"
                                " AND s.status = 'live' AND NOT EXISTS(SELECT 1 FROM responses r WHERE r.link = i.link"
                                " AND r.replaced_by IS NULL) LIMIT ?2", -1, &st, NULL))
    return CX_EDB;
  cx_err rc = CX_OK;
  if (sqlite3_prepare_v2(x->db, "UPDATE invitations SET reminded_at = ?1, reminder_id = ?2 WHERE id = ?3", -1, &upd, NULL))
    rc = CX_EDB;
  sqlite3_bind_int64(st, 1, x->now);
  sqlite3_bind_int(st, 2, TICK_ROWS);
  while (!rc && sqlite3_step(st) == SQLITE_ROW) {
    int64_t row = sqlite3_column_int64(st, 0), survey = sqlite3_column_int64(st, 1);
    const char *email = (const char *)sqlite3_column_text(st, 2), *token = (const char *)sqlite3_column_text(st, 3);
    int64_t sent = sqlite3_column_int64(st, 4), expires = sqlite3_column_int64(st, 7);
    const char *subject = (const char *)sqlite3_column_text(st, 5), *body = (const char *)sqlite3_column_text(st, 6);
    const char *sname = (const char *)sqlite3_column_text(st, 8);
    int out = 0;
    if ((rc = opted_out(x->db, email, &out))) break;
    int64_t oid = 0;
    if (!out && x->now < sent + expires && token) {
      char subj[DIST_MAX_SUBJECT + 1];
      snprintf(subj, sizeof subj, "Reminder: %s", subject);
      size_t n = strlen(subj);
      while (n && !cx_utf8_valid(subj, n)) subj[--n] = 0; /* cut inside a character */
      size_t cap = strlen(x->set.url) + 40 + strlen(token);
      char *link = cx_malloc(cap), *unsub = cx_malloc(cap);
      cx_buf text, html;
      cx_buf_init(&text, OUTBOX_MAX_TEXT);
      cx_buf_init(&html, OUTBOX_MAX_TEXT);
      if (!link || !unsub) rc = CX_ENOMEM;
      if (!rc) {
        snprintf(link, cap, "%s/s/%lld?t=%s", x->set.url, (long long)survey, token);
        snprintf(unsub, cap, "%s/s/unsubscribe?t=%s", x->set.url, token);
        rc = compose(body, sname, link, unsub, &text, &html);
      }
      char ref[40];
      snprintf(ref, sizeof ref, "reminder:%lld", (long long)row);
      outbox_mail mail = {.to = email, .subject = subj, .text = text.p, .html = html.p, .unsubscribe_url = unsub, .ref = ref};
      if (!rc && !outbox_mail_check(&mail, NULL)) {
        rc = outbox_enqueue_mail_in(x->db, &mail, &oid);
        if (!rc) x->enqueued++;
      }
      cx_free(link);
      cx_free(unsub);
      cx_buf_free(&text);
      cx_buf_free(&html);
      if (rc) break;
    }
    sqlite3_bind_int64(upd, 1, x->now);
    if (oid) sqlite3_bind_int64(upd, 2, oid);
    else sqlite3_bind_null(upd, 2);
    sqlite3_bind_int64(upd, 3, row);
    if (sqlite3_step(upd) != SQLITE_DONE) rc = CX_EDB;
    sqlite3_reset(upd);
  }
  sqlite3_finalize(st);
  sqlite3_finalize(upd);
  return rc;
}

typedef struct {
  feedback_dist *d;
  int enqueued;
} tick_ctx;

static cx_err apply_tick(void *ctx, sqlite3 *db) {
  tick_ctx *t = ctx;
  wctx x = {.d = t->d, .db = db, .now = cx_now_ms()};
  settings_read(t->d, db, &x.set);
  cx_err rc = scan_triggers(&x);
  if (!rc) rc = send_due(&x);
  if (!rc) rc = send_reminders(&x);
  t->enqueued = x.enqueued;
  return rc;
}

cx_err feedback_dist_tick(feedback_dist *d) {
  cx_err rc = warm_key(d);
  if (rc) return rc;
  tick_ctx t = {.d = d};
  rc = run_job(d, apply_tick, &t, 1);
  if (!rc && t.enqueued) outbox_kick(d->ob);
  return rc;
}

static void scheduled(void *arg) {
  cx_err rc = feedback_dist_tick(arg);
  if (rc && rc != CX_ESTOPPED) cx_log("error", "survey_scheduler_failed", "error", cx_strerror(rc), NULL);
}

/* ---- unsubscribe ---- */

typedef struct {
  const char *email, *link;
} optout_ctx;

static cx_err apply_optout(void *ctx, sqlite3 *db) {
  optout_ctx *o = ctx;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "INSERT INTO survey_optouts(email, link, created_at) VALUES(?1, ?2, ?3)"
                             " ON CONFLICT(email) DO NOTHING", -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_text(st, 1, o->email, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, o->link, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, cx_now_ms());
  return step_done(st);
}

cx_err feedback_dist_unsubscribe(feedback_dist *d, const char *token, size_t len, int apply, int *forged,
                                 char masked[OUTBOX_MAX_ADDRESS + 1]) {
  feedback_link l;
  feedback_link_status ls;
  masked[0] = 0;
  *forged = 1;
  cx_err rc = feedback_link_check(d->fb, token, len, 0, cx_now_ms(), &l, &ls);
  if (rc || ls == FEEDBACK_LINK_FORGED) return rc;
  *forged = 0;
  char email[PROFILE_ID_MAX + 1] = "";
  sqlite3 *db = store_reader_get(d->st);
  sqlite3_stmt *st;
  if (!sqlite3_prepare_v2(db, "SELECT email FROM invitations WHERE link = ?1 AND email IS NOT NULL LIMIT 1", -1, &st, NULL)) {
    sqlite3_bind_text(st, 1, l.id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) <= PROFILE_ID_MAX)
      snprintf(email, sizeof email, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  } else {
    rc = CX_EDB;
  }
  if (!rc && !email[0] && l.who.email && profile_normalise_email(l.who.email, strlen(l.who.email), email)) email[0] = 0;
  if (!rc && !email[0] && l.who.user_id) { /* the customer's newest address */
    int64_t cust = profile_find(d->pr, PROFILE_USER_ID, l.who.user_id, strlen(l.who.user_id));
    int64_t ids[MAX_MEMBERS];
    size_t n = cust ? profile_members(d->pr, cust, ids, MAX_MEMBERS) : 0;
    wctx x = {.d = d, .db = db};
    if (n) rc = newest_identity(&x, ids, n > MAX_MEMBERS ? MAX_MEMBERS : n, PROFILE_EMAIL, email);
  }
  store_reader_put(d->st, db);
  if (rc || !email[0]) return rc;
  mask_email(email, masked);
  if (!apply) return CX_OK;
  optout_ctx o = {.email = email, .link = l.id};
  return run_job(d, apply_optout, &o, 1);
}

/* ---- life ---- */

cx_err feedback_dist_open(store *st, profile *pr, analytics_segments *seg, feedback *fb, outbox *ob,
                          const char *default_url, feedback_dist **out) {
  feedback_dist *d = cx_calloc(1, sizeof *d);
  if (!d) return CX_ENOMEM;
  d->st = st, d->pr = pr, d->seg = seg, d->fb = fb, d->ob = ob;
  pthread_mutex_init(&d->mu, NULL);
  snprintf(d->default_url, sizeof d->default_url, "%s", default_url ? default_url : "http://127.0.0.1:8080");
  *out = d;
  return CX_OK;
}

void feedback_dist_set_default_url(feedback_dist *d, const char *url) {
  pthread_mutex_lock(&d->mu);
  snprintf(d->default_url, sizeof d->default_url, "%s", url);
  pthread_mutex_unlock(&d->mu);
}

cx_err feedback_dist_start(feedback_dist *d, int64_t tick_ms) {
  return cx_ticker_start(tick_ms > 0 ? tick_ms : 30000, scheduled, d, &d->ticker);
}

void feedback_dist_close(feedback_dist *d) {
  if (!d) return;
  cx_ticker_stop(d->ticker);
  pthread_mutex_destroy(&d->mu);
  cx_free(d);
}
