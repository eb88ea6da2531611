/* work.c - cases as people work them: the case JSON, listing within a
 * principal's units, manual cases, changes (status, owner, root cause,
 * notes) with their history. Every change is one store job that checks
 * the case as it is on the writer's connection before it writes. */
#include "cases_int.h"
#include "../base/time.h"
#include <stdio.h>
#include <string.h>

#define COLS                                                                                                     \
  "c.id, c.status, c.title, c.priority, c.customer_id, c.response_id, c.rule_id, c.unit_id, un.name, c.owner_id," \
  " us.name, c.sla_policy_id, c.nps, c.opened_at, c.first_response_at, c.resolved_at, c.closed_at,"               \
  " c.first_response_due_at, c.resolution_due_at, c.first_response_breached_at, c.resolution_breached_at,"         \
  " c.root_cause_id, rc.name, c.follow_up_survey_id, c.follow_up_invitation_id, c.updated_at"
#define FROM                                                                                                   \
  " FROM cases c LEFT JOIN units un ON un.id = c.unit_id LEFT JOIN users us ON us.id = c.owner_id"             \
  " LEFT JOIN root_causes rc ON rc.id = c.root_cause_id"

static int64_t col_time(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? CX_NO_TIME : sqlite3_column_int64(st, i);
}

/* "id" or null */
static cx_err id_value(cx_buf *b, sqlite3_stmt *st, int i) {
  if (sqlite3_column_type(st, i) == SQLITE_NULL) return cx_buf_puts(b, "null");
  return cx_buf_printf(b, "\"%lld\"", (long long)sqlite3_column_int64(st, i));
}

/* ,"name":"id" or null */
static cx_err put_id(cx_buf *b, const char *name, sqlite3_stmt *st, int i) {
  cx_err rc = cx_buf_printf(b, ",\"%s\":", name);
  return rc ? rc : id_value(b, st, i);
}

static cx_err put_text(cx_buf *b, const char *name, sqlite3_stmt *st, int i) {
  cx_err rc = cx_buf_printf(b, ",\"%s\":", name);
  if (rc) return rc;
  if (sqlite3_column_type(st, i) == SQLITE_NULL) return cx_buf_puts(b, "null");
  return cx_buf_json_str(b, (const char *)sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i));
}

static cx_err put_time(cx_buf *b, const char *name, int64_t t) {
  cx_err rc = cx_buf_printf(b, ",\"%s\":", name);
  return rc ? rc : cx_buf_json_time(b, t);
}

/* One case of a statement on COLS. */
static cx_err case_row(sqlite3_stmt *st, int64_t now, cx_buf *b) {
  const char *status = (const char *)sqlite3_column_text(st, 1);
  int done = !strcmp(status, "resolved") || !strcmp(status, "closed");
  int64_t first_at = col_time(st, 14), due = CX_NO_TIME;
  if (!done) due = first_at == CX_NO_TIME ? sqlite3_column_int64(st, 17) : sqlite3_column_int64(st, 18);
  cx_err rc = cx_buf_printf(b, "{\"id\":\"%lld\",\"status\":\"%s\"", (long long)sqlite3_column_int64(st, 0), status);
  if (!rc) rc = put_text(b, "title", st, 2);
  if (!rc) rc = put_text(b, "priority", st, 3);
  if (!rc) rc = put_id(b, "customer_id", st, 4);
  if (!rc) rc = put_id(b, "response_id", st, 5);
  if (!rc) rc = put_id(b, "rule_id", st, 6);
  if (!rc) rc = put_id(b, "unit", st, 7);
  if (!rc) rc = put_text(b, "unit_name", st, 8);
  if (!rc) rc = put_id(b, "owner", st, 9);
  if (!rc) rc = put_text(b, "owner_name", st, 10);
  if (!rc) rc = put_id(b, "sla_policy", st, 11);
  if (!rc) rc = sqlite3_column_type(st, 12) == SQLITE_NULL
                    ? cx_buf_puts(b, ",\"nps\":null")
                    : cx_buf_printf(b, ",\"nps\":%d", sqlite3_column_int(st, 12));
  if (!rc) rc = put_time(b, "opened_at", sqlite3_column_int64(st, 13));
  if (!rc) rc = put_time(b, "first_response_at", first_at);
  if (!rc) rc = put_time(b, "resolved_at", col_time(st, 15));
  if (!rc) rc = put_time(b, "closed_at", col_time(st, 16));
  if (!rc) rc = put_time(b, "first_response_due_at", sqlite3_column_int64(st, 17));
  if (!rc) rc = put_time(b, "resolution_due_at", sqlite3_column_int64(st, 18));
  if (!rc) rc = put_time(b, "due_at", due);
  if (!rc) rc = cx_buf_printf(b, ",\"overdue\":%s", due != CX_NO_TIME && due <= now ? "true" : "false");
  if (!rc) rc = cx_buf_puts(b, ",\"breached\":{\"first_response\":");
  if (!rc) rc = cx_buf_json_time(b, col_time(st, 19));
  if (!rc) rc = cx_buf_puts(b, ",\"resolution\":");
  if (!rc) rc = cx_buf_json_time(b, col_time(st, 20));
  if (!rc) rc = cx_buf_puts(b, "}");
  if (!rc) rc = put_id(b, "root_cause", st, 21);
  if (!rc) rc = put_text(b, "root_cause_name", st, 22);
  if (!rc) rc = cx_buf_puts(b, ",\"follow_up\":{\"survey\":");
  if (!rc) rc = id_value(b, st, 23);
  if (!rc) rc = cx_buf_puts(b, ",\"invitation\":");
  if (!rc) rc = id_value(b, st, 24);
  if (!rc) rc = cx_buf_puts(b, "}");
  if (!rc) rc = put_time(b, "updated_at", sqlite3_column_int64(st, 25));
  return rc;
}

/* ,"notes":[…],"history":[…] */
static cx_err case_children(sqlite3 *db, int64_t id, cx_buf *b) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT id, at, actor, user_id, body FROM case_notes WHERE case_id = ?1 ORDER BY id", -1,
                         &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, id);
  cx_err rc = cx_buf_puts(b, ",\"notes\":[");
  for (int k = 0; !rc && sqlite3_step(st) == SQLITE_ROW; k++) {
    rc = cx_buf_printf(b, "%s{\"id\":\"%lld\"", k ? "," : "", (long long)sqlite3_column_int64(st, 0));
    if (!rc) rc = put_time(b, "at", sqlite3_column_int64(st, 1));
    if (!rc) rc = put_text(b, "actor", st, 2);
    if (!rc) rc = put_id(b, "user_id", st, 3);
    if (!rc) rc = put_text(b, "body", st, 4);
    if (!rc) rc = cx_buf_puts(b, "}");
  }
  sqlite3_finalize(st);
  if (rc) return rc;
  if (sqlite3_prepare_v2(db, "SELECT at, actor, user_id, action, before, after FROM case_history WHERE case_id = ?1"
                             " ORDER BY id", -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, id);
  rc = cx_buf_puts(b, "],\"history\":[");
  for (int k = 0; !rc && sqlite3_step(st) == SQLITE_ROW; k++) {
    rc = cx_buf_puts(b, k ? ",{\"at\":" : "{\"at\":");
    if (!rc) rc = cx_buf_json_time(b, sqlite3_column_int64(st, 0));
    if (!rc) rc = put_text(b, "actor", st, 1);
    if (!rc) rc = put_id(b, "user_id", st, 2);
    if (!rc) rc = put_text(b, "action", st, 3);
    if (!rc) rc = put_text(b, "before", st, 4);
    if (!rc) rc = put_text(b, "after", st, 5);
    if (!rc) rc = cx_buf_puts(b, "}");
  }
  sqlite3_finalize(st);
  return rc ? rc : cx_buf_puts(b, "]");
}

cx_err cs_case_json(sqlite3 *db, int64_t id, int full, cx_buf *out) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT " COLS FROM " WHERE c.id = ?1", -1, &st, NULL)) return CX_EDB;
  sqlite3_bind_int64(st, 1, id);
  cx_err rc = sqlite3_step(st) == SQLITE_ROW ? case_row(st, cx_now_ms(), out) : CX_ENOTFOUND;
  sqlite3_finalize(st);
  if (!rc && full) rc = case_children(db, id, out);
  return rc ? rc : cx_buf_puts(out, "}");
}

/* The case's unit when p may see it; 0 otherwise (or when there is none). */
static int64_t visible_unit(sqlite3 *db, int64_t id, const gv_principal *p) {
  sqlite3_stmt *st;
  int64_t unit = 0;
  if (sqlite3_prepare_v2(db, "SELECT unit_id FROM cases WHERE id = ?1", -1, &st, NULL)) return 0;
  sqlite3_bind_int64(st, 1, id);
  if (sqlite3_step(st) == SQLITE_ROW) unit = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (unit && p->unit_id != GV_ALL_UNITS && cs_in_subtree(db, p->unit_id, unit) != 1) unit = 0;
  return unit;
}

cx_err cases_get(cases *c, int64_t id, const gv_principal *p, cx_buf *out) {
  sqlite3 *db = store_reader_get(c->st);
  cx_err rc = visible_unit(db, id, p) ? cs_case_json(db, id, 1, out) : CX_ENOTFOUND;
  store_reader_put(c->st, db);
  return rc;
}

static const char *const statuses[] = {"new", "open", "waiting", "resolved", "closed", NULL};

cx_err cases_list(cases *c, const cases_query *q, const gv_principal *p, cx_buf *out, analytics_error *err) {
  int ok = !q->status;
  for (size_t i = 0; statuses[i] && !ok; i++) ok = !strcmp(q->status, statuses[i]);
  if (!ok) return analytics_refuse(err, "invalid_parameter", "status", "status must be new, open, waiting, resolved or closed.");
  sqlite3 *db = store_reader_get(c->st);
  cx_err rc = CX_OK;
  if (q->unit && (p->unit_id == GV_ALL_UNITS ? !cs_unit_exists(db, q->unit) : cs_in_subtree(db, p->unit_id, q->unit) != 1))
    rc = analytics_refuse(err, "unknown_unit", "unit", "unit must be the id of a unit you may see.");
  sqlite3_stmt *st = NULL;
  /* scope: the principal's subtree and, when asked, the unit's */
  if (!rc && sqlite3_prepare_v2(db, "SELECT " COLS FROM " WHERE c.id < ?1"
                                    " AND (?2 = 0 OR c.unit_id IN (" CS_SUBTREE("?2") "))"
                                    " AND (?3 = 0 OR c.unit_id IN (" CS_SUBTREE("?3") "))"
                                    " AND (?4 IS NULL OR c.status = ?4)"
                                    " AND (?5 = 0 OR (?5 = -1 AND c.owner_id IS NULL) OR c.owner_id = ?5)"
                                    " AND (?6 = 0 OR c.customer_id = ?6) ORDER BY c.id DESC LIMIT ?7",
                                -1, &st, NULL))
    rc = CX_EDB;
  if (!rc) {
    sqlite3_bind_int64(st, 1, q->cursor > 0 ? q->cursor : INT64_MAX);
    sqlite3_bind_int64(st, 2, p->unit_id);
    sqlite3_bind_int64(st, 3, q->unit);
    if (q->status) sqlite3_bind_text(st, 4, q->status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, q->owner);
    sqlite3_bind_int64(st, 6, q->customer);
    sqlite3_bind_int64(st, 7, (int64_t)q->limit + 1);
    rc = cx_buf_puts(out, "{\"cases\":[");
  }
  int64_t now = cx_now_ms(), last = 0;
  size_t k = 0;
  int more = 0;
  while (!rc && sqlite3_step(st) == SQLITE_ROW) {
    if (k == q->limit) {
      more = 1;
      break;
    }
    if (k++) rc = cx_buf_puts(out, ",");
    if (!rc) rc = case_row(st, now, out);
    if (!rc) rc = cx_buf_puts(out, "}");
    last = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  store_reader_put(c->st, db);
  if (!rc) rc = more ? cx_buf_printf(out, "],\"next_cursor\":\"%lld\"}", (long long)last)
                     : cx_buf_puts(out, "],\"next_cursor\":null}");
  return rc;
}

/* ---- changes ---- */

typedef struct {
  const gv_principal *p;
  int64_t id, now;
  cases_patch_req req;
  analytics_error *err;
  int refused, found;
  /* create */
  const cJSON *create;
} patch_ctx;

static cx_err refuse(patch_ctx *x, const char *code, const char *field, const char *msg) {
  x->refused = 1;
  analytics_refuse(x->err, code, field, "%s", msg);
  return CX_OK;
}

/* 1 when user is an enabled user of unit's subtree. */
static int owner_ok(sqlite3 *db, int64_t unit, int64_t user) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM users WHERE id = ?1 AND disabled = 0 AND unit_id IN (" CS_SUBTREE("?2") ")",
                         -1, &st, NULL))
    return 0;
  sqlite3_bind_int64(st, 1, user);
  sqlite3_bind_int64(st, 2, unit);
  int yes = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return yes;
}

static int exists(sqlite3 *db, const char *sql, int64_t id) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL)) return 0;
  sqlite3_bind_int64(st, 1, id);
  int yes = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return yes;
}

static cx_err set_col(sqlite3 *db, const char *sql, int64_t id, int64_t v, int null) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL)) return CX_EDB;
  if (null) sqlite3_bind_null(st, 1);
  else sqlite3_bind_int64(st, 1, v);
  sqlite3_bind_int64(st, 2, id);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  return r == SQLITE_DONE ? CX_OK : CX_EDB;
}

static cx_err add_note(sqlite3 *db, patch_ctx *x, const char *body) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "INSERT INTO case_notes(case_id, at, actor, user_id, body) VALUES(?1, ?2, ?3, ?4, ?5)", -1,
                         &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, x->id);
  sqlite3_bind_int64(st, 2, x->now);
  sqlite3_bind_text(st, 3, x->p->actor, -1, SQLITE_STATIC);
  if (x->p->user_id) sqlite3_bind_int64(st, 4, x->p->user_id);
  sqlite3_bind_text(st, 5, body, -1, SQLITE_STATIC);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  if (r != SQLITE_DONE) return CX_EDB;
  char after[32];
  snprintf(after, sizeof after, "%lld", (long long)sqlite3_last_insert_rowid(db));
  return cs_history(db, x->id, x->now, x->p->actor, x->p->user_id, "note", NULL, after);
}

static cx_err apply_patch(void *ctx, sqlite3 *db) {
  patch_ctx *x = ctx;
  const cases_patch_req *q = &x->req;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT status, unit_id, owner_id, root_cause_id, first_response_at, rule_id FROM cases"
                             " WHERE id = ?1", -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, x->id);
  if (sqlite3_step(st) != SQLITE_ROW) {
    sqlite3_finalize(st);
    return CX_OK;
  }
  char status[16];
  snprintf(status, sizeof status, "%s", (const char *)sqlite3_column_text(st, 0));
  int64_t unit = sqlite3_column_int64(st, 1), owner = sqlite3_column_int64(st, 2), root = sqlite3_column_int64(st, 3);
  int responded = sqlite3_column_type(st, 4) != SQLITE_NULL;
  int64_t rule = sqlite3_column_int64(st, 5);
  sqlite3_finalize(st);
  if (x->p->unit_id != GV_ALL_UNITS && cs_in_subtree(db, x->p->unit_id, unit) != 1) return CX_OK;
  x->found = 1;
  /* everything is checked before anything is written */
  if (q->has_owner && q->owner && !owner_ok(db, unit, q->owner))
    return refuse(x, "invalid_owner", "owner", "owner must be an enabled user of the case's unit or a unit below it.");
  if (q->has_root_cause && !exists(db, "SELECT 1 FROM root_causes WHERE id = ?1", q->root_cause))
    return refuse(x, "unknown_root_cause", "root_cause", "root_cause must be the id of a root cause (GET /api/v1/root-causes).");
  const char *to = q->has_status && strcmp(q->status, status) ? q->status : NULL;
  if (to && !cases_transition_ok(status, to)) {
    char msg[160];
    snprintf(msg, sizeof msg, "A case cannot go from %s to %s (docs/cases.md lists the moves).", status, to);
    return refuse(x, "illegal_transition", "status", msg);
  }
  if (to && !strcmp(to, "resolved") && !q->has_root_cause && !root)
    return refuse(x, "root_cause_required", "root_cause", "Resolving a case needs its root_cause (an id from GET /api/v1/root-causes).");
  const char *actor = x->p->actor;
  int64_t uid = x->p->user_id;
  char before[32], after[32];
  cx_err rc = CX_OK;
  if (q->has_owner && q->owner != owner) {
    rc = set_col(db, "UPDATE cases SET owner_id = ?1 WHERE id = ?2", x->id, q->owner, !q->owner);
    snprintf(before, sizeof before, "%lld", (long long)owner);
    snprintf(after, sizeof after, "%lld", (long long)q->owner);
    if (!rc) rc = cs_history(db, x->id, x->now, actor, uid, "owner", owner ? before : NULL, q->owner ? after : NULL);
  }
  if (!rc && q->has_root_cause && q->root_cause != root) {
    rc = set_col(db, "UPDATE cases SET root_cause_id = ?1 WHERE id = ?2", x->id, q->root_cause, 0);
    snprintf(before, sizeof before, "%lld", (long long)root);
    snprintf(after, sizeof after, "%lld", (long long)q->root_cause);
    if (!rc) rc = cs_history(db, x->id, x->now, actor, uid, "root_cause", root ? before : NULL, after);
  }
  if (!rc && q->has_note) rc = add_note(db, x, q->note);
  /* a note or a status change is the case's first response; working a
   * new case opens it */
  if (!rc && !to && q->has_note && !strcmp(status, "new")) to = "open";
  if (!rc && to) {
    rc = set_col(db, "UPDATE cases SET status = CASE ?1 WHEN 1 THEN 'open' WHEN 2 THEN 'waiting' WHEN 3 THEN 'resolved'"
                     " WHEN 4 THEN 'closed' END WHERE id = ?2",
                 x->id, !strcmp(to, "open") ? 1 : !strcmp(to, "waiting") ? 2 : !strcmp(to, "resolved") ? 3 : 4, 0);
    if (!rc && !strcmp(to, "resolved"))
      rc = set_col(db, "UPDATE cases SET resolved_at = ?1 WHERE id = ?2", x->id, x->now, 0);
    if (!rc && !strcmp(to, "closed")) {
      rc = set_col(db, "UPDATE cases SET closed_at = ?1 WHERE id = ?2", x->id, x->now, 0);
      /* the rule's follow-up survey: recorded here, answered by the
       * customer's next response to it (docs/cases.md) */
      if (!rc && rule)
        rc = set_col(db, "UPDATE cases SET follow_up_survey_id = (SELECT follow_up_survey_id FROM case_rules"
                         " WHERE id = ?1) WHERE id = ?2", x->id, rule, 0);
    }
    if (!rc && !strcmp(to, "open") && (!strcmp(status, "resolved") || !strcmp(status, "closed")))
      rc = set_col(db, "UPDATE cases SET resolved_at = NULL, closed_at = NULL WHERE id = ?2 AND ?1 = ?1", x->id, 0, 0);
    if (!rc) rc = cs_history(db, x->id, x->now, actor, uid, "status", status, to);
  }
  if (!rc && !responded && (to || q->has_note))
    rc = set_col(db, "UPDATE cases SET first_response_at = ?1 WHERE id = ?2", x->id, x->now, 0);
  if (!rc) rc = set_col(db, "UPDATE cases SET updated_at = ?1 WHERE id = ?2", x->id, x->now, 0);
  return rc;
}

static cx_err answer_case(cases *c, int64_t id, cx_buf *out) {
  sqlite3 *db = store_reader_get(c->st);
  cx_err rc = cs_case_json(db, id, 1, out);
  store_reader_put(c->st, db);
  return rc;
}

cx_err cases_patch(cases *c, int64_t id, const cJSON *req, const gv_principal *p, cx_buf *out, analytics_error *err) {
  patch_ctx x = {.p = p, .id = id, .now = cx_now_ms(), .err = err};
  cx_err rc = cases_patch_check(req, &x.req, err);
  if (rc) return rc;
  if ((rc = cs_run(c, apply_patch, &x))) return rc;
  if (!x.found) return CX_ENOTFOUND;
  if (x.refused) return CX_EINVAL;
  return answer_case(c, id, out);
}

cx_err cases_note(cases *c, int64_t id, const cJSON *req, const gv_principal *p, cx_buf *out, analytics_error *err) {
  static const char *const names[] = {"body", NULL};
  if (!cJSON_IsObject(req)) return analytics_refuse(err, "invalid_field", "note", "A note is a JSON object.");
  const char *u = cs_unknown_member(req, names);
  if (u) return analytics_refuse(err, "invalid_field", u, "Unknown member \"%.40s\": a note has body.", u);
  const cJSON *body = cJSON_GetObjectItemCaseSensitive(req, "body");
  if (!cJSON_IsString(body) || !cs_note_ok(body->valuestring))
    return analytics_refuse(err, "invalid_field", "body", "body must be 1 to %d bytes of text.", CASES_MAX_NOTE);
  patch_ctx x = {.p = p, .id = id, .now = cx_now_ms(), .err = err,
                 .req = {.has_note = 1, .note = body->valuestring}};
  cx_err rc = cs_run(c, apply_patch, &x);
  if (rc) return rc;
  if (!x.found) return CX_ENOTFOUND;
  return answer_case(c, id, out);
}

/* ---- manual cases ---- */

typedef struct {
  patch_ctx base;
  int64_t customer, unit, owner, sla;
  int has_owner;
  const char *title, *priority, *note;
} create_ctx;

static cx_err apply_create(void *ctx, sqlite3 *db) {
  create_ctx *x = ctx;
  patch_ctx *b = &x->base;
  if (!exists(db, "SELECT 1 FROM customers WHERE id = ?1", x->customer))
    return refuse(b, "unknown_customer", "customer_id", "customer_id must be the id of a customer.");
  int in = b->p->unit_id == GV_ALL_UNITS ? cs_unit_exists(db, x->unit) : cs_in_subtree(db, b->p->unit_id, x->unit) == 1;
  if (!in) return refuse(b, "unknown_unit", "unit", "unit must be the id of a unit you work in or below.");
  if (x->sla && !exists(db, "SELECT 1 FROM sla_policies WHERE id = ?1", x->sla))
    return refuse(b, "unknown_sla_policy", "sla_policy", "sla_policy must be the id of an SLA policy.");
  if (x->has_owner && x->owner && !owner_ok(db, x->unit, x->owner))
    return refuse(b, "invalid_owner", "owner", "owner must be an enabled user of the unit or a unit below it.");
  int64_t owner = x->owner, sla = 0, first_s, res_s;
  cx_err rc = x->has_owner ? CX_OK : cs_route_owner(db, x->unit, &owner);
  if (!rc) rc = cs_sla(db, x->sla, &sla, &first_s, &res_s);
  if (rc) return rc;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "INSERT INTO cases(status, title, priority, customer_id, unit_id, owner_id, sla_policy_id,"
                             " opened_at, first_response_due_at, resolution_due_at, updated_at)"
                             " VALUES('new', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?7)", -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_text(st, 1, x->title, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, x->priority, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, x->customer);
  sqlite3_bind_int64(st, 4, x->unit);
  if (owner) sqlite3_bind_int64(st, 5, owner);
  sqlite3_bind_int64(st, 6, sla);
  sqlite3_bind_int64(st, 7, b->now);
  sqlite3_bind_int64(st, 8, b->now + first_s * 1000);
  sqlite3_bind_int64(st, 9, b->now + res_s * 1000);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  if (r != SQLITE_DONE) return CX_EDB;
  b->id = sqlite3_last_insert_rowid(db);
  b->found = 1;
  char after[64];
  snprintf(after, sizeof after, "{\"unit\":\"%lld\"}", (long long)x->unit);
  rc = cs_history(db, b->id, b->now, b->p->actor, b->p->user_id, "opened", NULL, after);
  if (!rc && x->note) {
    b->req = (cases_patch_req){.has_note = 1, .note = x->note};
    rc = add_note(db, b, x->note);
  }
  return rc;
}

cx_err cases_create(cases *c, const cJSON *req, const gv_principal *p, cx_buf *out, analytics_error *err) {
  static const char *const names[] = {"customer_id", "title", "unit", "owner", "priority", "sla_policy", "note", NULL};
  static const char *const prio[] = {"low", "normal", "high", "urgent", NULL};
  if (!cJSON_IsObject(req)) return analytics_refuse(err, "invalid_field", "case", "A case is a JSON object.");
  const char *u = cs_unknown_member(req, names);
  if (u)
    return analytics_refuse(err, "invalid_field", u, "Unknown member \"%.40s\": a case has customer_id, title, unit, "
                            "owner, priority, sla_policy and note.", u);
  create_ctx x = {.base = {.p = p, .now = cx_now_ms(), .err = err}, .priority = "normal"};
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "customer_id");
  if (!cs_json_id(v, 0, &x.customer))
    return analytics_refuse(err, "invalid_field", "customer_id", "customer_id must be the id of a customer.");
  v = cJSON_GetObjectItemCaseSensitive(req, "title");
  if (!cJSON_IsString(v) || !cs_text_ok(v->valuestring, CASES_MAX_TITLE))
    return analytics_refuse(err, "invalid_field", "title", "title must be 1 to %d bytes of text.", CASES_MAX_TITLE);
  x.title = v->valuestring;
  if (!cs_json_id(cJSON_GetObjectItemCaseSensitive(req, "unit"), 0, &x.unit))
    return analytics_refuse(err, "invalid_field", "unit", "unit must be the id of the unit that works the case.");
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "owner"))) {
    if (!cs_json_id(v, 1, &x.owner))
      return analytics_refuse(err, "invalid_field", "owner", "owner must be the id of a user, or null.");
    x.has_owner = 1;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "priority"))) {
    int ok = 0;
    for (size_t i = 0; cJSON_IsString(v) && prio[i] && !ok; i++) ok = !strcmp(v->valuestring, prio[i]);
    if (!ok) return analytics_refuse(err, "invalid_field", "priority", "priority must be low, normal, high or urgent.");
    x.priority = v->valuestring;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "sla_policy")) && !cs_json_id(v, 1, &x.sla))
    return analytics_refuse(err, "invalid_field", "sla_policy", "sla_policy must be the id of an SLA policy, or null.");
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "note"))) {
    if (!cJSON_IsString(v) || !cs_note_ok(v->valuestring))
      return analytics_refuse(err, "invalid_field", "note", "note must be 1 to %d bytes of text.", CASES_MAX_NOTE);
    x.note = v->valuestring;
  }
  cx_err rc = cs_run(c, apply_create, &x);
  if (rc) return rc;
  if (x.base.refused) return CX_EINVAL;
  return answer_case(c, x.base.id, out);
}
