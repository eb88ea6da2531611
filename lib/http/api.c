/* api.c - the admin and query API under /api/v1/ (bearer token). */
#include "http_int.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/util.h"
#include "../base/vec.h"
#include "../privacy/privacy.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LIMIT 50
#define MAX_LIMIT 1000

typedef struct {
  http_server *h;
  struct MHD_Connection *c;
  http_req *r;
} ctx;

static enum MHD_Result bad_param(ctx *x, const char *name, const char *msg) {
  return http_send_error(x->h, x->c, x->r, 400, "invalid_parameter", msg, name);
}

static const char *arg(ctx *x, const char *name) {
  const char *v = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, name);
  return v && *v ? v : NULL;
}

/* limit=1..1000; CX_EINVAL otherwise */
static cx_err get_limit(ctx *x, size_t *out) {
  const char *v = arg(x, "limit");
  int64_t n = DEFAULT_LIMIT;
  if (v && (cx_parse_i64(v, strlen(v), &n) || n < 1 || n > MAX_LIMIT)) return CX_EINVAL;
  *out = (size_t)n;
  return CX_OK;
}

static enum MHD_Result send_buf(ctx *x, int status, cx_buf *b, cx_err rc) {
  if (rc) {
    cx_buf_free(b);
    /* the request was fine: an answer past its cap is the server's limit */
    return http_send_error(x->h, x->c, x->r, rc == CX_ENOMEM ? 503 : 500,
                           rc == CX_ETOOBIG ? "response_too_large" : "internal_error",
                           "The answer could not be built; ask for fewer items (limit) or retry.", NULL);
  }
  enum MHD_Result ret = http_send_json(x->c, x->r, status, b);
  cx_buf_free(b);
  return ret;
}

static enum MHD_Result no_memory(ctx *x) {
  return http_send_error(x->h, x->c, x->r, 503, "overloaded", "Out of memory; retry.", NULL);
}

/* The filters of an events list: type=, name=, source= (each optional),
 * and the source names by id (*names, freed by the caller with cx_free).
 * 1 when it has answered instead (400 or 503; *ret is MHD's result). */
static int event_filter(ctx *x, profile_filter *f, const char ***names, size_t *nnames,
                        enum MHD_Result *ret) {
  memset(f, 0, sizeof *f);
  const char *v = arg(x, "type");
  for (int t = INGEST_IDENTIFY; v && !f->type && t <= INGEST_ALIAS; t++)
    if (!strcmp(v, ingest_type_name(t))) f->type = t;
  if (v && !f->type) {
    *ret = bad_param(x, "type", "type must be identify, track, page, screen, group or alias.");
    return 1;
  }
  if (ingest_source_names(x->h->cfg.in, names, nnames)) {
    *ret = no_memory(x);
    return 1;
  }
  if ((v = arg(x, "source"))) {
    for (size_t i = 1; i < *nnames && !f->source; i++)
      if ((*names)[i] && !strcmp((*names)[i], v)) f->source = (int64_t)i;
    if (!f->source) {
      cx_free(*names);
      *ret = bad_param(x, "source", "There is no source with this name (GET /api/v1/sources lists them).");
      return 1;
    }
  }
  f->name = arg(x, "name");
  return 0;
}

static int64_t parse_customer_id(const char *s, size_t n) {
  int64_t id;
  if (cx_parse_i64(s, n, &id) || id <= 0) return 0;
  return id;
}

/* GET /customers?user_id=&anonymous_id=&email=&q=&limit=&cursor= */
static enum MHD_Result customers_list(ctx *x) {
  size_t limit;
  if (get_limit(x, &limit)) return bad_param(x, "limit", "limit must be a whole number from 1 to 1000.");
  const char *cur = arg(x, "cursor");
  int64_t after = 0;
  if (cur && (cx_parse_i64(cur, strlen(cur), &after) || after < 0))
    return bad_param(x, "cursor", "cursor must be a next_cursor value from an earlier page.");
  static const struct {
    const char *param;
    int type;
  } exact[] = {{"user_id", PROFILE_USER_ID}, {"anonymous_id", PROFILE_ANONYMOUS_ID},
               {"email", PROFILE_EMAIL}};
  int64_t *ids = cx_malloc((limit + 1) * sizeof *ids);
  if (!ids) return http_send_error(x->h, x->c, x->r, 503, "overloaded", "Out of memory; retry.", NULL);
  size_t n = 0;
  int by_identity = 0;
  for (size_t i = 0; i < 3; i++) {
    const char *v = arg(x, exact[i].param);
    if (!v) continue;
    by_identity = 1;
    char norm[PROFILE_ID_MAX + 1];
    size_t len = strlen(v);
    if (len > PROFILE_ID_MAX) break;
    if (exact[i].type == PROFILE_EMAIL) {
      if (profile_normalise_email(v, len, norm)) break;
      v = norm;
      len = strlen(norm);
    }
    int64_t id = profile_find(x->h->cfg.pr, exact[i].type, v, len);
    if (id > after) ids[n++] = id;
    break;
  }
  sqlite3 *db = store_reader_get(x->h->cfg.st);
  if (!by_identity) n = profile_list(x->h->cfg.pr, db, arg(x, "q"), after, ids, limit + 1);
  cx_buf b;
  cx_buf_init(&b, 64 << 20);
  cx_err rc = cx_buf_puts(&b, "{\"customers\":[");
  size_t shown = n > limit ? limit : n;
  for (size_t i = 0; i < shown && !rc; i++) {
    if (i) rc = cx_buf_puts(&b, ",");
    if (!rc) rc = profile_customer_json(x->h->cfg.pr, db, ids[i], &b);
  }
  store_reader_put(x->h->cfg.st, db);
  if (!rc) rc = cx_buf_puts(&b, "],\"next_cursor\":");
  if (!rc) rc = n > limit ? cx_buf_printf(&b, "\"%lld\"}", (long long)ids[limit - 1]) : cx_buf_puts(&b, "null}");
  cx_free(ids);
  return send_buf(x, 200, &b, rc);
}

static enum MHD_Result customer_get(ctx *x, int64_t id) {
  int64_t canon = profile_canonical(x->h->cfg.pr, id);
  if (!canon)
    return http_send_error(x->h, x->c, x->r, 404, "customer_not_found", "No customer has this id.", "id");
  sqlite3 *db = store_reader_get(x->h->cfg.st);
  cx_buf b;
  cx_buf_init(&b, 16 << 20);
  cx_err rc = profile_customer_json(x->h->cfg.pr, db, canon, &b);
  store_reader_put(x->h->cfg.st, db);
  return send_buf(x, 200, &b, rc);
}

/* GET /customers/{id}/export: everything held about the customer (GDPR
 * access); recorded in the audit log, without the data. */
static enum MHD_Result customer_export(ctx *x, int64_t id, const gv_principal *p) {
  int64_t canon = profile_canonical(x->h->cfg.pr, id);
  if (!canon)
    return http_send_error(x->h, x->c, x->r, 404, "customer_not_found", "No customer has this id.", "id");
  sqlite3 *db = store_reader_get(x->h->cfg.st);
  cx_buf b;
  cx_buf_init(&b, PRIVACY_EXPORT_MAX);
  cx_err rc = privacy_export(db, canon, cx_now_ms(), &b);
  store_reader_put(x->h->cfg.st, db);
  if (!rc) {
    char target[48];
    snprintf(target, sizeof target, "customers/%lld", (long long)canon);
    if (gv_audit(x->h->cfg.gv, p->actor, "customer.export", target, NULL, NULL)) rc = CX_EDB; /* no unrecorded export */
  }
  if (rc == CX_ENOTFOUND) {
    cx_buf_free(&b);
    return http_send_error(x->h, x->c, x->r, 404, "customer_not_found", "No customer has this id.", "id");
  }
  return send_buf(x, 200, &b, rc);
}

/* DELETE /customers/{id}: erasure (GDPR); audited with the counts only. */
static enum MHD_Result customer_erase(ctx *x, int64_t id, const gv_principal *p) {
  int64_t canon = profile_canonical(x->h->cfg.pr, id);
  if (!canon)
    return http_send_error(x->h, x->c, x->r, 404, "customer_not_found", "No customer has this id.", "id");
  privacy_erase_counts n;
  cx_err rc = privacy_erase(x->h->cfg.st, canon, x->h->cfg.privacy, &n);
  if (rc == CX_ENOTFOUND)
    return http_send_error(x->h, x->c, x->r, 404, "customer_not_found", "No customer has this id.", "id");
  if (rc) {
    if (store_failed(x->h->cfg.st))
      return http_send_error(x->h, x->c, x->r, 503, "store_unavailable",
                             "The server stopped taking writes after a storage failure and needs a restart.", NULL);
    return http_send_error(x->h, x->c, x->r, http_status_for(rc), "erase_failed",
                           "The customer could not be erased; nothing was removed. Retry.", NULL);
  }
  cx_buf b;
  cx_buf_init(&b, 1024);
  rc = cx_buf_printf(&b,
                     "{\"erased\":true,\"customer_id\":\"%lld\",\"profiles\":%lld,\"events\":%lld,\"identities\":%lld,"
                     "\"traits\":%lld,\"responses\":%lld,\"invitations\":%lld,\"mails\":%lld,\"cases\":%lld,\"compacted\":%s}",
                     (long long)canon, (long long)n.profiles, (long long)n.events, (long long)n.identities,
                     (long long)n.traits, (long long)n.responses, (long long)n.invitations, (long long)n.mails,
                     (long long)n.cases, n.compacted ? "true" : "false");
  char target[48];
  snprintf(target, sizeof target, "customers/%lld", (long long)canon);
  x->r->audited = 1;
  /* what was erased is counted, never shown */
  if (!rc && gv_audit(x->h->cfg.gv, p->actor, "customer.erase", target, NULL, b.p))
    cx_log("error", "audit_failed", "action", "customer.erase", NULL);
  return send_buf(x, 200, &b, rc);
}

/* GET/PUT /privacy/retention, POST /privacy/retention/run */
static enum MHD_Result retention(ctx *x, const char *sub) {
  cx_buf b;
  cx_buf_init(&b, 4096);
  privacy_retention pr;
  analytics_error err = {{0}, {0}, {0}};
  int get = !strcmp(x->r->method, "GET") || !strcmp(x->r->method, "HEAD");
  if (!*sub && get) {
    cx_err rc = privacy_retention_get(x->h->cfg.st, &pr);
    if (!rc) rc = privacy_retention_json(&pr, &b);
    return send_buf(x, 200, &b, rc);
  }
  if (!*sub && !strcmp(x->r->method, "PUT")) {
    cJSON *req = http_json_object(x->r);
    if (!req) {
      cx_buf_free(&b);
      return http_send_error(x->h, x->c, x->r, 400, "malformed_json", "The body must be a JSON object.", NULL);
    }
    cx_err rc = privacy_retention_set(x->h->cfg.st, req, &pr, &err);
    cJSON_Delete(req);
    if (!rc) rc = privacy_retention_json(&pr, &b);
    return http_send_outcome(x->h, x->c, x->r, 200, &b, rc, &err, NULL);
  }
  if (!strcmp(sub, "/run") && !strcmp(x->r->method, "POST")) {
    int64_t deleted = 0;
    cx_err rc = privacy_retention_run(x->h->cfg.st, cx_now_ms(), x->h->cfg.privacy, &deleted);
    if (!rc) rc = privacy_retention_get(x->h->cfg.st, &pr);
    if (!rc) rc = cx_buf_printf(&b, "{\"events_deleted\":%lld,\"policy\":", (long long)deleted);
    if (!rc) rc = privacy_retention_json(&pr, &b);
    if (!rc) rc = cx_buf_puts(&b, "}");
    return http_send_outcome(x->h, x->c, x->r, 200, &b, rc, &err, NULL);
  }
  cx_buf_free(&b);
  if (*sub && strcmp(sub, "/run")) return http_send_error(x->h, x->c, x->r, 404, "not_found", "There is no such API resource.", NULL);
  return http_send_error(x->h, x->c, x->r, 405, "method_not_allowed", *sub ? "Use POST." : "Use GET or PUT.", NULL);
}

/* Cursor for a timeline page: "<ts>_<seq>" of the last event shown. */
static enum MHD_Result customer_events(ctx *x, int64_t id) {
  int64_t canon = profile_canonical(x->h->cfg.pr, id);
  if (!canon)
    return http_send_error(x->h, x->c, x->r, 404, "customer_not_found", "No customer has this id.", "id");
  size_t limit;
  if (get_limit(x, &limit)) return bad_param(x, "limit", "limit must be a whole number from 1 to 1000.");
  int64_t bts = 0, bseq = 0;
  const char *cur = arg(x, "cursor");
  if (cur) {
    const char *us = strchr(cur, '_');
    if (!us || cx_parse_i64(cur, (size_t)(us - cur), &bts) || cx_parse_i64(us + 1, strlen(us + 1), &bseq) ||
        bseq <= 0)
      return bad_param(x, "cursor", "cursor must be a next_cursor value from an earlier page.");
  }
  const char **names;
  size_t nnames;
  profile_filter f;
  enum MHD_Result answered;
  if (event_filter(x, &f, &names, &nnames, &answered)) return answered;
  profile_point *pts = cx_malloc((limit + 1) * sizeof *pts);
  if (!pts) {
    cx_free(names);
    return no_memory(x);
  }
  size_t n = profile_timeline(x->h->cfg.pr, canon, bts, bseq, &f, pts, limit + 1);
  size_t shown = n > limit ? limit : n;
  sqlite3 *db = store_reader_get(x->h->cfg.st);
  store_body_reader *br = NULL;
  cx_buf b;
  cx_buf_init(&b, 64 << 20);
  cx_err rc = cx_buf_puts(&b, "{\"events\":[");
  if (!rc) rc = store_body_reader_open(db, &br);
  size_t written = 0;
  for (size_t i = 0; i < shown && !rc; i++) {
    const char *body;
    size_t len;
    rc = store_body_read(br, pts[i].seq, &body, &len);
    /* a point whose group is not committed yet has no body: skip it */
    if (!rc && body) {
      if (written++) rc = cx_buf_puts(&b, ",");
      /* the stored message, plus the name of the source it came through */
      uint32_t sid = pts[i].source;
      const char *src = sid < nnames && names[sid] ? names[sid] : NULL;
      if (!rc && src && len >= 2 && body[len - 1] == '}') {
        rc = cx_buf_append(&b, body, len - 1);
        if (!rc) rc = cx_buf_puts(&b, len > 2 ? ",\"_source\":" : "\"_source\":");
        if (!rc) rc = cx_buf_json_str(&b, src, strlen(src));
        if (!rc) rc = cx_buf_puts(&b, "}");
      } else if (!rc) {
        rc = cx_buf_append(&b, body, len);
      }
    }
  }
  store_body_reader_close(br);
  store_reader_put(x->h->cfg.st, db);
  if (!rc) rc = cx_buf_puts(&b, "],\"next_cursor\":");
  if (!rc)
    rc = n > limit ? cx_buf_printf(&b, "\"%lld_%lld\"}", (long long)pts[limit - 1].ts,
                                   (long long)pts[limit - 1].seq)
                   : cx_buf_puts(&b, "null}");
  cx_free(pts);
  cx_free(names);
  return send_buf(x, 200, &b, rc);
}

/* GET /cases/{id}/timeline: the case's customer's events, newest first,
 * as GET /customers/{id}/events answers them (its filters and paging), for
 * whoever may see the case (the 'cases' permission, scoped by unit: an
 * agent has no 'read' permission for /customers). rest: "{id}". */
static enum MHD_Result case_timeline(ctx *x, const char *id, size_t n, const gv_principal *p) {
  int64_t cid, customer;
  if (!x->h->cfg.cases)
    return http_send_error(x->h, x->c, x->r, 503, "unavailable", "Cases are not running on this server.", NULL);
  if (cx_parse_i64(id, n, &cid) || cid <= 0 || cases_customer(x->h->cfg.cases, cid, p, &customer))
    return http_send_error(x->h, x->c, x->r, 404, "not_found", "No case has this id (in your units).", "id");
  return customer_events(x, customer);
}

/* GET /merges?customer_id=&limit=&cursor= : newest first */
static enum MHD_Result merges_list(ctx *x) {
  size_t limit;
  if (get_limit(x, &limit)) return bad_param(x, "limit", "limit must be a whole number from 1 to 1000.");
  int64_t before = INT64_MAX, cust = 0;
  const char *cur = arg(x, "cursor"), *cid = arg(x, "customer_id");
  if (cur && (cx_parse_i64(cur, strlen(cur), &before) || before <= 0))
    return bad_param(x, "cursor", "cursor must be a next_cursor value from an earlier page.");
  if (cid && !(cust = parse_customer_id(cid, strlen(cid))))
    return bad_param(x, "customer_id", "customer_id must be a customer id.");
  sqlite3 *db = store_reader_get(x->h->cfg.st);
  sqlite3_stmt *st = NULL;
  cx_buf b;
  cx_buf_init(&b, 16 << 20);
  cx_err rc = cx_buf_puts(&b, "{\"merges\":[");
  if (sqlite3_prepare_v2(db,
                         "SELECT id, at, from_id, into_id, reason, message_id FROM merges"
                         " WHERE id < ?1 AND (?2 = 0 OR from_id = ?2 OR into_id = ?2)"
                         " ORDER BY id DESC LIMIT ?3",
                         -1, &st, NULL) != SQLITE_OK)
    rc = CX_EDB;
  else {
    sqlite3_bind_int64(st, 1, before);
    sqlite3_bind_int64(st, 2, cust);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)limit + 1);
  }
  size_t k = 0;
  int64_t last = 0;
  int more = 0;
  while (!rc && sqlite3_step(st) == SQLITE_ROW) {
    if (k == limit) {
      more = 1;
      break;
    }
    last = sqlite3_column_int64(st, 0);
    rc = cx_buf_printf(&b, "%s{\"id\":\"%lld\",\"at\":", k ? "," : "", (long long)last);
    if (!rc) rc = cx_buf_json_time(&b, sqlite3_column_int64(st, 1));
    if (!rc)
      rc = cx_buf_printf(&b, ",\"from\":\"%lld\",\"into\":\"%lld\",\"reason\":",
                         (long long)sqlite3_column_int64(st, 2), (long long)sqlite3_column_int64(st, 3));
    if (!rc)
      rc = cx_buf_json_str(&b, (const char *)sqlite3_column_text(st, 4), (size_t)sqlite3_column_bytes(st, 4));
    if (!rc) rc = cx_buf_puts(&b, ",\"message_id\":");
    if (!rc) {
      const char *m = (const char *)sqlite3_column_text(st, 5);
      rc = m ? cx_buf_json_str(&b, m, strlen(m)) : cx_buf_puts(&b, "null");
    }
    if (!rc) rc = cx_buf_puts(&b, "}");
    k++;
  }
  sqlite3_finalize(st);
  store_reader_put(x->h->cfg.st, db);
  if (!rc) rc = more ? cx_buf_printf(&b, "],\"next_cursor\":\"%lld\"}", (long long)last)
                     : cx_buf_puts(&b, "],\"next_cursor\":null}");
  return send_buf(x, 200, &b, rc);
}

static enum MHD_Result account_get(ctx *x, const char *id) {
  sqlite3 *db = store_reader_get(x->h->cfg.st);
  sqlite3_stmt *st = NULL;
  cx_buf b;
  cx_buf_init(&b, 16 << 20);
  cx_err rc = CX_OK;
  int found = 0;
  if (sqlite3_prepare_v2(db, "SELECT created_at FROM accounts WHERE id = ?1", -1, &st, NULL))
    rc = CX_EDB;
  else {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
      found = 1;
      rc = cx_buf_puts(&b, "{\"id\":");
      if (!rc) rc = cx_buf_json_str(&b, id, strlen(id));
      if (!rc) rc = cx_buf_puts(&b, ",\"created_at\":");
      if (!rc) rc = cx_buf_json_time(&b, sqlite3_column_int64(st, 0));
    }
  }
  sqlite3_finalize(st);
  st = NULL;
  if (found && !rc) {
    rc = cx_buf_puts(&b, ",\"traits\":{");
    if (!rc && sqlite3_prepare_v2(db, "SELECT key, value FROM account_traits WHERE account_id = ?1 ORDER BY key",
                                  -1, &st, NULL))
      rc = CX_EDB;
    if (!rc) sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    for (int first = 1; !rc && sqlite3_step(st) == SQLITE_ROW; first = 0) {
      if (!first) rc = cx_buf_puts(&b, ",");
      if (!rc) rc = cx_buf_json_str(&b, (const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
      if (!rc) rc = cx_buf_puts(&b, ":");
      if (!rc) rc = cx_buf_append(&b, sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1));
    }
    sqlite3_finalize(st);
    st = NULL;
    if (!rc) rc = cx_buf_puts(&b, "},\"members\":[");
    if (!rc && sqlite3_prepare_v2(db, "SELECT customer_id FROM memberships WHERE account_id = ?1 ORDER BY customer_id",
                                  -1, &st, NULL))
      rc = CX_EDB;
    if (!rc) sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    /* memberships stay under the customer that joined: list each member's
     * current (merged) customer once */
    cx_vec ids = {0};
    while (!rc && sqlite3_step(st) == SQLITE_ROW)
      rc = cx_vec_push(&ids, profile_canonical(x->h->cfg.pr, sqlite3_column_int64(st, 0)));
    sqlite3_finalize(st);
    if (ids.n) qsort(ids.v, ids.n, sizeof *ids.v, cx_i64_cmp);
    for (size_t i = 0, shown = 0; i < ids.n && !rc; i++) {
      if (!ids.v[i] || (i && ids.v[i] == ids.v[i - 1])) continue;
      rc = cx_buf_printf(&b, "%s\"%lld\"", shown++ ? "," : "", (long long)ids.v[i]);
    }
    cx_vec_free(&ids);
    if (!rc) rc = cx_buf_puts(&b, "]}");
  }
  store_reader_put(x->h->cfg.st, db);
  if (!found && !rc) {
    cx_buf_free(&b);
    return http_send_error(x->h, x->c, x->r, 404, "account_not_found", "No account has this id.", "id");
  }
  return send_buf(x, 200, &b, rc);
}

static enum MHD_Result stats_get(ctx *x) {
  profile_stats ps;
  ingest_stats is;
  profile_get_stats(x->h->cfg.pr, &ps);
  ingest_get_stats(x->h->cfg.in, &is);
  cx_buf b;
  cx_buf_init(&b, 1024);
  cx_err rc = cx_buf_printf(&b,
                            "{\"events\":%llu,\"customers\":%llu,\"merged_customers\":%llu,"
                            "\"identities\":%llu,\"duplicates_dropped\":%llu,\"first_event_at\":",
                            (unsigned long long)ps.events, (unsigned long long)ps.customers,
                            (unsigned long long)ps.merged, (unsigned long long)ps.identities,
                            (unsigned long long)is.duplicates);
  if (!rc) rc = cx_buf_json_time(&b, ps.first_event_at);
  if (!rc) rc = cx_buf_puts(&b, ",\"last_event_at\":");
  if (!rc) rc = cx_buf_json_time(&b, ps.last_event_at);
  if (!rc) rc = cx_buf_puts(&b, "}");
  return send_buf(x, 200, &b, rc);
}

/* GET /events?after=&cursor=&limit=&source=&type=&name= : the newest
 * events of all customers, newest first (the live tail). after=SEQ keeps
 * only events newer than SEQ; cursor pages to older ones. */
static enum MHD_Result events_list(ctx *x) {
  size_t limit;
  if (get_limit(x, &limit)) return bad_param(x, "limit", "limit must be a whole number from 1 to 1000.");
  int64_t after = 0, before = INT64_MAX;
  const char *v = arg(x, "after");
  if (v && (cx_parse_i64(v, strlen(v), &after) || after < 0))
    return bad_param(x, "after", "after must be a seq from an earlier answer (last_seq).");
  if ((v = arg(x, "cursor")) && (cx_parse_i64(v, strlen(v), &before) || before <= 0))
    return bad_param(x, "cursor", "cursor must be a next_cursor value from an earlier page.");
  const char **names;
  size_t nnames;
  profile_filter f;
  enum MHD_Result answered;
  if (event_filter(x, &f, &names, &nnames, &answered)) return answered;
  sqlite3 *db = store_reader_get(x->h->cfg.st);
  sqlite3_stmt *st = NULL, *mx = NULL, *lb = NULL;
  cx_buf b;
  cx_buf_init(&b, 16 << 20);
  cx_err rc = CX_OK;
  int64_t last_seq = 0;
  /* a label to show for the customer: the e-mail, else the user id, that
   * the customer (the root of its merges) holds itself */
  if (sqlite3_prepare_v2(db, "SELECT value FROM identities WHERE customer_id = ?1 AND type IN (1, 3)"
                             " ORDER BY type DESC, value LIMIT 1", -1, &lb, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "SELECT max(seq) FROM events", -1, &mx, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db,
                         "SELECT seq, customer_id, type, name, source_id, ts, received_at FROM events"
                         " WHERE seq > ?1 AND seq < ?2 AND (?3 = 0 OR source_id = ?3)"
                         " AND (?4 = 0 OR type = ?4) AND (?5 IS NULL OR name = ?5)"
                         " ORDER BY seq DESC LIMIT ?6",
                         -1, &st, NULL) != SQLITE_OK)
    rc = CX_EDB;
  if (!rc && sqlite3_step(mx) == SQLITE_ROW) last_seq = sqlite3_column_int64(mx, 0);
  if (!rc) {
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, before);
    sqlite3_bind_int64(st, 3, f.source);
    sqlite3_bind_int(st, 4, f.type);
    if (f.name) sqlite3_bind_text(st, 5, f.name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (int64_t)limit + 1);
    rc = cx_buf_puts(&b, "{\"events\":[");
  }
  size_t k = 0;
  int64_t last_shown = 0;
  int more = 0, step;
  while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    if (k == limit) {
      more = 1;
      break;
    }
    int64_t seq = sqlite3_column_int64(st, 0);
    int64_t cust = profile_canonical(x->h->cfg.pr, sqlite3_column_int64(st, 1));
    int64_t sid = sqlite3_column_int64(st, 4);
    const char *src = sid > 0 && sid < (int64_t)nnames && names[sid] ? names[sid] : "unknown";
    const char *nm = (const char *)sqlite3_column_text(st, 3);
    rc = cx_buf_printf(&b, "%s{\"seq\":\"%lld\",\"customer_id\":\"%lld\",\"type\":\"%s\",\"name\":",
                       k ? "," : "", (long long)seq, (long long)(cust ? cust : sqlite3_column_int64(st, 1)),
                       ingest_type_name(sqlite3_column_int(st, 2)));
    if (!rc) rc = nm ? cx_buf_json_str(&b, nm, strlen(nm)) : cx_buf_puts(&b, "null");
    if (!rc) rc = cx_buf_puts(&b, ",\"source\":");
    if (!rc) rc = cx_buf_json_str(&b, src, strlen(src));
    if (!rc) rc = cx_buf_puts(&b, ",\"customer_label\":");
    sqlite3_bind_int64(lb, 1, cust ? cust : sqlite3_column_int64(st, 1));
    if (!rc)
      rc = sqlite3_step(lb) == SQLITE_ROW
               ? cx_buf_json_str(&b, (const char *)sqlite3_column_text(lb, 0), (size_t)sqlite3_column_bytes(lb, 0))
               : cx_buf_puts(&b, "null");
    sqlite3_reset(lb);
    if (!rc) rc = cx_buf_puts(&b, ",\"timestamp\":");
    if (!rc) rc = cx_buf_json_time(&b, sqlite3_column_int64(st, 5));
    if (!rc) rc = cx_buf_puts(&b, ",\"received_at\":");
    if (!rc) rc = cx_buf_json_time(&b, sqlite3_column_int64(st, 6));
    if (!rc) rc = cx_buf_puts(&b, "}");
    last_shown = seq;
    k++;
  }
  if (!rc && !more && step != SQLITE_DONE) rc = CX_EDB;
  sqlite3_finalize(st);
  sqlite3_finalize(mx);
  sqlite3_finalize(lb);
  store_reader_put(x->h->cfg.st, db);
  cx_free(names);
  if (!rc) rc = cx_buf_puts(&b, "],\"next_cursor\":");
  if (!rc) rc = more ? cx_buf_printf(&b, "\"%lld\"", (long long)last_shown) : cx_buf_puts(&b, "null");
  if (!rc) rc = cx_buf_printf(&b, ",\"last_seq\":\"%lld\"}", (long long)last_seq);
  return send_buf(x, 200, &b, rc);
}

typedef struct {
  const char *name; /* the profile's: kinds live as long as it does */
  int type;
} named_kind;

static int named_kind_cmp(const void *a, const void *b) {
  const named_kind *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : x->type - y->type;
}

/* GET /events/names : every event name sent, with its message type */
static enum MHD_Result event_names(ctx *x) {
  profile *pr = x->h->cfg.pr;
  profile_read_begin(pr);
  uint32_t nk = profile_kind_count(pr);
  named_kind *k = cx_malloc(((size_t)nk + 1) * sizeof *k);
  size_t n = 0;
  for (uint32_t i = 1; k && i <= nk; i++) {
    int type;
    const char *name = profile_kind_name(pr, i, &type);
    if (*name) k[n++] = (named_kind){name, type};
  }
  profile_read_end(pr);
  if (!k) return no_memory(x);
  qsort(k, n, sizeof *k, named_kind_cmp);
  cx_buf b;
  cx_buf_init(&b, 16 << 20);
  cx_err rc = cx_buf_puts(&b, "{\"events\":[");
  for (size_t i = 0; !rc && i < n; i++) {
    rc = cx_buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
    if (!rc) rc = cx_buf_json_str(&b, k[i].name, strlen(k[i].name));
    if (!rc) rc = cx_buf_printf(&b, ",\"type\":\"%s\"}", ingest_type_name(k[i].type));
  }
  if (!rc) rc = cx_buf_puts(&b, "]}");
  cx_free(k);
  return send_buf(x, 200, &b, rc);
}

#define OVERVIEW_MAX_BUCKETS 400
#define DAY_MS 86400000LL

/* GET /overview?from=&to=&interval= : the dashboard's KPIs */
static enum MHD_Result overview(ctx *x) {
  int64_t now = cx_now_ms(), from, to;
  cx_interval u = CX_DAY;
  const char *v;
  if ((v = arg(x, "interval")) && cx_interval_parse(v, &u))
    return bad_param(x, "interval", "interval must be day, week or month.");
  if ((v = arg(x, "to"))) {
    if (cx_time_parse(v, strlen(v), &to))
      return bad_param(x, "to", "to must be an ISO-8601 time such as 2026-11-01T00:00:00Z.");
  } else {
    to = now;
  }
  if ((v = arg(x, "from"))) {
    if (cx_time_parse(v, strlen(v), &from))
      return bad_param(x, "from", "from must be an ISO-8601 time such as 2026-10-01T00:00:00Z.");
  } else {
    from = to - 29 * DAY_MS; /* 30 days with today's */
  }
  from = cx_interval_floor(from, u);
  if (to <= from) return bad_param(x, "to", "to must be after from.");
  const char **names;
  size_t nnames;
  if (ingest_source_names(x->h->cfg.in, &names, &nnames)) return no_memory(x);
  profile_overview_req q = {.from = from, .to = to, .interval = u,
                            .purchase = "Order Completed", .purchase_type = INGEST_TRACK,
                            .active_types = 1u << INGEST_TRACK | 1u << INGEST_PAGE | 1u << INGEST_SCREEN,
                            .type_name = ingest_type_name,
                            .source_names = names, .nsource_names = nnames,
                            .max_buckets = OVERVIEW_MAX_BUCKETS};
  cx_buf b;
  cx_buf_init(&b, 4 << 20);
  cx_err rc = profile_overview(x->h->cfg.pr, &q, &b);
  cx_free(names);
  if (rc == CX_ETOOBIG) {
    cx_buf_free(&b);
    return bad_param(x, "interval", "from..to spans more than 400 intervals; choose a longer interval or a shorter range.");
  }
  return send_buf(x, 200, &b, rc);
}

static enum MHD_Result sources(ctx *x, int admin) {
  if (!strcmp(x->r->method, "GET") || !strcmp(x->r->method, "HEAD")) {
    cx_buf b;
    cx_buf_init(&b, 1 << 20);
    cx_err rc = cx_buf_puts(&b, "{\"sources\":");
    if (!rc) rc = ingest_sources_json(x->h->cfg.in, &b);
    if (!rc) rc = cx_buf_puts(&b, "}");
    return send_buf(x, 200, &b, rc);
  }
  if (strcmp(x->r->method, "POST"))
    return http_send_error(x->h, x->c, x->r, 405, "method_not_allowed", "Use GET or POST.", NULL);
  if (!admin)
    return http_send_error(x->h, x->c, x->r, 403, "forbidden", "This token may only read.", NULL);
  cJSON *body = cJSON_ParseWithLength(x->r->body.p ? x->r->body.p : "", x->r->body.len);
  if (!cJSON_IsObject(body)) {
    cJSON_Delete(body);
    return http_send_error(x->h, x->c, x->r, 400, "malformed_json", "The body must be a JSON object.", NULL);
  }
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(body, "name");
  if (!cJSON_IsString(name) || !ingest_source_name_valid(name->valuestring)) {
    cJSON_Delete(body);
    return http_send_error(x->h, x->c, x->r, 400, "invalid_field",
                           "name must be 1 to 63 letters, digits, spaces, '-', '_' or '.'.", "name");
  }
  int64_t id;
  char key[64];
  cx_err rc = ingest_source_create(x->h->cfg.in, name->valuestring, &id, key);
  if (rc) {
    cJSON_Delete(body);
    if (rc == CX_EEXIST)
      return http_send_error(x->h, x->c, x->r, 409, "source_exists", "A source with this name exists.", "name");
    if (store_failed(x->h->cfg.st))
      return http_send_error(x->h, x->c, x->r, 503, "store_unavailable",
                             "The server stopped taking writes after a storage failure and needs a restart.", NULL);
    return http_send_error(x->h, x->c, x->r, http_status_for(rc), "store_failed", "The source could not be saved; retry.", NULL);
  }
  cx_buf b;
  cx_buf_init(&b, 1024);
  rc = cx_buf_printf(&b, "{\"id\":\"%lld\",\"name\":", (long long)id);
  if (!rc) rc = cx_buf_json_str(&b, name->valuestring, strlen(name->valuestring));
  if (!rc) rc = cx_buf_printf(&b, ",\"write_key\":\"%s\"}", key);
  cJSON_Delete(body);
  return send_buf(x, 201, &b, rc);
}

/* The routes after the caller passed the matrix; admin: it may change
 * things (the matrix decided). */
static enum MHD_Result dispatch(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest,
                                const gv_principal *p, const char *session);

enum MHD_Result http_api(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest) {
  if (!strcmp(rest, "auth/login")) return http_login(h, c, r);
  gv_principal p;
  char session[128];
  if (http_principal(h, c, &p, session, sizeof session))
    return http_send_error(h, c, r, 401, "unauthorized",
                           "Send Authorization: Bearer <token>, or sign in (POST /api/v1/auth/login).", NULL);
  int read = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
  /* a session (the dashboard's cookie) proves each change with its CSRF
   * token, which another site cannot read */
  if (p.session && !read && !http_csrf_ok(c, session))
    return http_send_error(h, c, r, 403, "csrf_failed",
                           "Send the session's CSRF token (from GET /api/v1/auth/me) in X-CSRF-Token.", NULL);
  gv_perm need = gv_route_permission(r->method, rest);
  if (!gv_allows(p.role, need)) {
    char msg[160];
    snprintf(msg, sizeof msg, "Your role (%s) may not do this: it needs the %s permission (GET /api/v1/roles).",
             gv_role_name(p.role), gv_perm_name(need));
    return http_send_error(h, c, r, 403, "forbidden", msg, NULL);
  }
  enum MHD_Result ret = dispatch(h, c, r, rest, &p, session);
  if (gv_mutates(r->method, need) && need != GV_P_RESPOND) http_audit_request(h, r, &p, rest);
  return ret;
}

static enum MHD_Result dispatch(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest,
                                const gv_principal *p, const char *session) {
  ctx x = {h, c, r};
  const int admin = 1;
  int handled;
  enum MHD_Result ret = http_people(h, c, r, rest, p, session, &handled);
  if (handled) return ret;
  if (!strcmp(rest, "sources")) return sources(&x, admin);
  if (!strcmp(rest, "scorecard") || !strcmp(rest, "targets") || !strncmp(rest, "targets/", 8))
    return http_targets(h, c, r, rest, p);
  if (!strcmp(rest, "initiatives") || !strncmp(rest, "initiatives/", 12)) return http_initiatives(h, c, r, rest, p);
  int get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
  if (!strcmp(rest, "customers") || !strncmp(rest, "customers/", 10) || !strcmp(rest, "stats") ||
      !strcmp(rest, "merges") || !strncmp(rest, "accounts/", 9) || !strcmp(rest, "events") ||
      !strcmp(rest, "events/names") ||
      !strcmp(rest, "overview")) {
    /* DELETE /customers/{id} is the erasure */
    int erase = !strcmp(r->method, "DELETE") && !strncmp(rest, "customers/", 10) && !strchr(rest + 10, '/');
    if (!get && !erase) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET.", NULL);
  }
  if (!strcmp(rest, "analytics/funnel") || !strcmp(rest, "analytics/retention") ||
      !strcmp(rest, "analytics/paths") || !strcmp(rest, "analytics/kpis"))
    return http_analytics(h, c, r, rest + 10);
  if (!strcmp(rest, "lifecycle")) return http_analytics(h, c, r, rest);
  if (!strcmp(rest, "lifecycle/stages")) return http_lifecycle_stages(h, c, r, admin);
  if (!strcmp(rest, "segments")) return http_segments(h, c, r, "", admin);
  if (!strcmp(rest, "survey-settings")) return http_survey_settings(h, c, r, admin);
  if (!strcmp(rest, "surveys")) return http_surveys(h, c, r, "", admin);
  if (!strncmp(rest, "surveys/", 8)) return http_surveys(h, c, r, rest + 8, admin);
  if (!strncmp(rest, "metrics/", 8)) return http_feedback_metric(h, c, r, rest + 8);
  if (!strncmp(rest, "maturity/", 9)) return http_maturity(h, c, r, rest + 9, p);
  if (!strcmp(rest, "feedback")) return http_feedback(h, c, r, "", p);
  if (!strncmp(rest, "feedback/", 9)) return http_feedback(h, c, r, rest + 9, p);
  if (!strcmp(rest, "cases")) return http_cases(h, c, r, "", p);
  if (!strncmp(rest, "cases/", 6)) {
    const char *slash = strchr(rest + 6, '/');
    if (slash && !strcmp(slash, "/timeline")) {
      if (!get) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET.", NULL);
      return case_timeline(&x, rest + 6, (size_t)(slash - rest - 6), p);
    }
    return http_cases(h, c, r, rest + 6, p);
  }
  if (!strcmp(rest, "case-rules")) return http_case_config(h, c, r, CASES_RULES, "", p);
  if (!strncmp(rest, "case-rules/", 11)) return http_case_config(h, c, r, CASES_RULES, rest + 11, p);
  if (!strcmp(rest, "sla-policies")) return http_case_config(h, c, r, CASES_SLA, "", p);
  if (!strncmp(rest, "sla-policies/", 13)) return http_case_config(h, c, r, CASES_SLA, rest + 13, p);
  if (!strcmp(rest, "root-causes")) return http_case_config(h, c, r, CASES_ROOTS, "", p);
  if (!strncmp(rest, "root-causes/", 12)) return http_case_config(h, c, r, CASES_ROOTS, rest + 12, p);
  if (!strcmp(rest, "journey-maps")) return http_journey(h, c, r, "", admin);
  if (!strncmp(rest, "journey-maps/", 13)) return http_journey(h, c, r, rest + 13, admin);
  if (!strncmp(rest, "segments/", 9)) return http_segments(h, c, r, rest + 9, admin);
  if (!strncmp(rest, "outbox", 6) && (!rest[6] || rest[6] == '/')) return http_outbox(h, c, r, rest + 6, admin);
  if (!strncmp(rest, "privacy/retention", 17)) return retention(&x, rest + 17);
  if (!strcmp(rest, "customers")) return customers_list(&x);
  if (!strcmp(rest, "stats")) return stats_get(&x);
  if (!strcmp(rest, "events")) return events_list(&x);
  if (!strcmp(rest, "events/names")) return event_names(&x);
  if (!strcmp(rest, "overview")) return overview(&x);
  if (!strcmp(rest, "merges")) return merges_list(&x);
  if (!strncmp(rest, "accounts/", 9) && rest[9] && !strchr(rest + 9, '/')) return account_get(&x, rest + 9);
  if (!strncmp(rest, "customers/", 10)) {
    const char *id = rest + 10, *slash = strchr(id, '/');
    size_t n = slash ? (size_t)(slash - id) : strlen(id);
    int64_t cid = parse_customer_id(id, n);
    if (!slash || !strcmp(slash, "/events") || !strcmp(slash, "/export")) {
      if (!cid)
        return http_send_error(h, c, r, 404, "customer_not_found", "No customer has this id.", "id");
      if (slash && !strcmp(slash, "/export")) {
        if (!get) return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET.", NULL);
        return customer_export(&x, cid, p);
      }
      if (!slash && !strcmp(r->method, "DELETE")) return customer_erase(&x, cid, p);
      return slash ? customer_events(&x, cid) : customer_get(&x, cid);
    }
  }
  return http_send_error(h, c, r, 404, "not_found", "There is no such API resource.", NULL);
}
