/* config.c - what a CX lead configures: case rules, SLA policies and the
 * root-cause tree. Each write is one store job that checks references
 * (units, policies, surveys, parents) on the writer's connection first. */
#include "cases_int.h"
#include "../base/time.h"
#include <stdio.h>
#include <string.h>

static const char *const list_name[] = {"case_rules", "sla_policies", "root_causes"};
static const char *const select_sql[] = {
    ("SELECT id, name, rule, unit_id, priority, sla_policy_id, follow_up_survey_id, enabled, created_at, updated_at"
     " FROM case_rules WHERE ?1 = 0 OR id = ?1 ORDER BY id"),
    "SELECT id, name, first_response_s, resolution_s, is_default FROM sla_policies WHERE ?1 = 0 OR id = ?1 ORDER BY id",
    ("SELECT id, name, parent_id FROM root_causes WHERE ?1 = 0 OR id = ?1"
     " ORDER BY coalesce(parent_id, id), parent_id IS NOT NULL, id")};

static cx_err id_or_null(cx_buf *b, sqlite3_stmt *st, int i) {
  if (sqlite3_column_type(st, i) == SQLITE_NULL) return cx_buf_puts(b, "null");
  return cx_buf_printf(b, "\"%lld\"", (long long)sqlite3_column_int64(st, i));
}

static cx_err text_col(cx_buf *b, sqlite3_stmt *st, int i) {
  return cx_buf_json_str(b, (const char *)sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i));
}

static cx_err row_json(cases_kind kind, sqlite3_stmt *st, cx_buf *b) {
  cx_err rc = cx_buf_printf(b, "{\"id\":\"%lld\",\"name\":", (long long)sqlite3_column_int64(st, 0));
  if (!rc) rc = text_col(b, st, 1);
  if (rc) return rc;
  if (kind == CASES_RULES) {
    rc = cx_buf_puts(b, ",\"when\":");
    if (!rc) rc = text_col(b, st, 2);
    if (!rc) rc = cx_buf_puts(b, ",\"unit\":");
    if (!rc) rc = id_or_null(b, st, 3);
    if (!rc) rc = cx_buf_puts(b, ",\"priority\":");
    if (!rc) rc = text_col(b, st, 4);
    if (!rc) rc = cx_buf_puts(b, ",\"sla_policy\":");
    if (!rc) rc = id_or_null(b, st, 5);
    if (!rc) rc = cx_buf_puts(b, ",\"follow_up_survey\":");
    if (!rc) rc = id_or_null(b, st, 6);
    if (!rc) rc = cx_buf_printf(b, ",\"enabled\":%s,\"created_at\":", sqlite3_column_int(st, 7) ? "true" : "false");
    if (!rc) rc = cx_buf_json_time(b, sqlite3_column_int64(st, 8));
    if (!rc) rc = cx_buf_puts(b, ",\"updated_at\":");
    if (!rc) rc = cx_buf_json_time(b, sqlite3_column_int64(st, 9));
  } else if (kind == CASES_SLA) {
    rc = cx_buf_printf(b, ",\"first_response_seconds\":%lld,\"resolution_seconds\":%lld,\"default\":%s",
                       (long long)sqlite3_column_int64(st, 2), (long long)sqlite3_column_int64(st, 3),
                       sqlite3_column_int(st, 4) ? "true" : "false");
  } else {
    rc = cx_buf_puts(b, ",\"parent\":");
    if (!rc) rc = id_or_null(b, st, 2);
  }
  return rc ? rc : cx_buf_puts(b, "}");
}

static cx_err write_rows(sqlite3 *db, cases_kind kind, int64_t id, cx_buf *out) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, select_sql[kind], -1, &st, NULL)) return CX_EDB;
  sqlite3_bind_int64(st, 1, id);
  cx_err rc = id ? CX_OK : cx_buf_printf(out, "{\"%s\":[", list_name[kind]);
  int n = 0;
  while (!rc && sqlite3_step(st) == SQLITE_ROW) {
    if (n++) rc = cx_buf_puts(out, ",");
    if (!rc) rc = row_json(kind, st, out);
  }
  sqlite3_finalize(st);
  if (!rc && id && !n) return CX_ENOTFOUND;
  return rc || id ? rc : cx_buf_puts(out, "]}");
}

cx_err cases_config_list(cases *c, cases_kind kind, cx_buf *out) {
  sqlite3 *db = store_reader_get(c->st);
  cx_err rc = write_rows(db, kind, 0, out);
  store_reader_put(c->st, db);
  return rc;
}

cx_err cases_config_get(cases *c, cases_kind kind, int64_t id, cx_buf *out) {
  sqlite3 *db = store_reader_get(c->st);
  cx_err rc = write_rows(db, kind, id, out);
  store_reader_put(c->st, db);
  return rc;
}

/* ---- writes ---- */

typedef struct {
  cases_kind kind;
  int64_t id, now;
  const gv_principal *p;
  analytics_error *err;
  int refused, found, exists;
  cases_rule_req rule;
  /* SLA */
  const char *name;
  int64_t first_s, res_s;
  int is_default, has_default;
  /* root cause */
  int64_t parent;
} put_ctx;

static cx_err refuse(put_ctx *x, const char *code, const char *field, const char *msg) {
  x->refused = 1;
  analytics_refuse(x->err, code, field, "%s", msg);
  return CX_OK;
}

static int64_t scalar(sqlite3 *db, const char *sql, int64_t a, const char *s) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL)) return -1;
  sqlite3_bind_int64(st, 1, a);
  if (s) sqlite3_bind_text(st, 2, s, -1, SQLITE_STATIC);
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_finalize(st);
  return v;
}

static cx_err step_params(sqlite3 *db, const char *sql, const store_param *ps, size_t n, put_ctx *x) {
  int64_t unused;
  cx_err rc = store_step_named(db, sql, ps, n, &unused);
  if (!rc && !x->id) x->id = sqlite3_last_insert_rowid(db);
  return rc;
}

static cx_err put_rule(put_ctx *x, sqlite3 *db) {
  const cases_rule_req *r = &x->rule;
  if (x->id && !scalar(db, "SELECT 1 FROM case_rules WHERE id = ?1", x->id, NULL)) return CX_OK;
  x->found = 1;
  int in = x->p->unit_id == GV_ALL_UNITS ? cs_unit_exists(db, r->unit) : cs_in_subtree(db, x->p->unit_id, r->unit) == 1;
  if (!in) return refuse(x, "unknown_unit", "unit", "unit must be the id of a unit (yours or below it).");
  if (r->sla_policy && !scalar(db, "SELECT 1 FROM sla_policies WHERE id = ?1", r->sla_policy, NULL))
    return refuse(x, "unknown_sla_policy", "sla_policy", "sla_policy must be the id of an SLA policy.");
  if (r->follow_up_survey && !scalar(db, "SELECT 1 FROM surveys WHERE id = ?1", r->follow_up_survey, NULL))
    return refuse(x, "unknown_survey", "follow_up_survey", "follow_up_survey must be the id of a survey.");
  if (scalar(db, "SELECT 1 FROM case_rules WHERE id != ?1 AND name = ?2", x->id, r->name)) {
    x->exists = 1;
    return CX_OK;
  }
  if (!x->id && scalar(db, "SELECT count(*) FROM case_rules", 0, NULL) >= CASES_MAX_RULES) {
    char msg[80];
    snprintf(msg, sizeof msg, "There are %d case rules already: delete one first.", CASES_MAX_RULES);
    return refuse(x, "too_many_rules", NULL, msg);
  }
  store_param ps[] = {{":id", 0, NULL, x->id},
                      {":name", 1, r->name, 0},
                      {":rule", 1, r->when, 0},
                      {":unit", 0, NULL, r->unit},
                      {":prio", 1, r->priority, 0},
                      {":sla", 0, NULL, r->sla_policy},
                      {":fu", 0, NULL, r->follow_up_survey},
                      {":en", 0, NULL, r->enabled},
                      {":now", 0, NULL, x->now}};
  /* a new rule reads the responses that come after it */
  return step_params(db, x->id ? "UPDATE case_rules SET name = :name, rule = :rule, unit_id = :unit, priority = :prio,"
                                 " sla_policy_id = nullif(:sla, 0), follow_up_survey_id = nullif(:fu, 0), enabled = :en,"
                                 " updated_at = :now WHERE id = :id"
                               : "INSERT INTO case_rules(name, rule, unit_id, priority, sla_policy_id, follow_up_survey_id,"
                                 " enabled, cursor, created_at, updated_at) VALUES(:name, :rule, :unit, :prio,"
                                 " nullif(:sla, 0), nullif(:fu, 0), :en, (SELECT coalesce(max(id), 0) FROM responses),"
                                 " :now, :now)",
                     ps, sizeof ps / sizeof ps[0], x);
}

static cx_err put_sla(put_ctx *x, sqlite3 *db) {
  int was_default = 0;
  if (x->id) {
    if (!scalar(db, "SELECT 1 FROM sla_policies WHERE id = ?1", x->id, NULL)) return CX_OK;
    was_default = (int)scalar(db, "SELECT is_default FROM sla_policies WHERE id = ?1", x->id, NULL);
  }
  x->found = 1;
  if (scalar(db, "SELECT 1 FROM sla_policies WHERE id != ?1 AND name = ?2", x->id, x->name)) {
    x->exists = 1;
    return CX_OK;
  }
  int def = x->has_default ? x->is_default : was_default;
  if (was_default && !def)
    return refuse(x, "in_use", "default", "This is the default policy: make another one the default instead.");
  if (def && store_exec(db, "UPDATE sla_policies SET is_default = 0")) return CX_EDB;
  store_param ps[] = {{":id", 0, NULL, x->id}, {":name", 1, x->name, 0}, {":f", 0, NULL, x->first_s},
                      {":r", 0, NULL, x->res_s}, {":d", 0, NULL, def}, {":now", 0, NULL, x->now}};
  return step_params(db, x->id ? "UPDATE sla_policies SET name = :name, first_response_s = :f, resolution_s = :r,"
                                 " is_default = :d, updated_at = :now WHERE id = :id"
                               : "INSERT INTO sla_policies(name, first_response_s, resolution_s, is_default, created_at,"
                                 " updated_at) VALUES(:name, :f, :r, :d, :now, :now)",
                     ps, sizeof ps / sizeof ps[0], x);
}

static cx_err put_root(put_ctx *x, sqlite3 *db) {
  if (x->id && !scalar(db, "SELECT 1 FROM root_causes WHERE id = ?1", x->id, NULL)) return CX_OK;
  x->found = 1;
  if (x->parent && !scalar(db, "SELECT 1 FROM root_causes WHERE id = ?1", x->parent, NULL))
    return refuse(x, "unknown_root_cause", "parent", "parent must be the id of a root cause, or null.");
  if (x->id && x->parent) { /* not under itself */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "WITH RECURSIVE up(id) AS (SELECT ?1 UNION ALL SELECT r.parent_id FROM root_causes r"
                               " JOIN up ON r.id = up.id WHERE r.parent_id IS NOT NULL) SELECT 1 FROM up WHERE id = ?2",
                           -1, &st, NULL))
      return CX_EDB;
    sqlite3_bind_int64(st, 1, x->parent);
    sqlite3_bind_int64(st, 2, x->id);
    int loop = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (loop) return refuse(x, "invalid_field", "parent", "parent may not be the root cause itself or one below it.");
  }
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM root_causes WHERE id != ?1 AND name = ?2 AND coalesce(parent_id, 0) = ?3",
                         -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, x->id);
  sqlite3_bind_text(st, 2, x->name, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, x->parent);
  x->exists = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  if (x->exists) return CX_OK;
  store_param ps[] = {{":id", 0, NULL, x->id}, {":name", 1, x->name, 0}, {":p", 0, NULL, x->parent},
                      {":now", 0, NULL, x->now}};
  return step_params(db, x->id ? "UPDATE root_causes SET name = :name, parent_id = nullif(:p, 0) WHERE id = :id"
                               : "INSERT INTO root_causes(name, parent_id, created_at) VALUES(:name, nullif(:p, 0), :now)",
                     ps, sizeof ps / sizeof ps[0], x);
}

static cx_err apply_put(void *ctx, sqlite3 *db) {
  put_ctx *x = ctx;
  return x->kind == CASES_RULES ? put_rule(x, db) : x->kind == CASES_SLA ? put_sla(x, db) : put_root(x, db);
}

static int span_ok(const cJSON *v, int64_t *out) {
  if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > (double)CASES_MAX_SLA_S ||
      v->valuedouble != (double)(int64_t)v->valuedouble)
    return 0;
  *out = (int64_t)v->valuedouble;
  return 1;
}

/* The request's shape for SLA policies and root causes. */
static cx_err check_other(put_ctx *x, const cJSON *req) {
  analytics_error *err = x->err;
  static const char *const sla_names[] = {"name", "first_response_seconds", "resolution_seconds", "default", NULL};
  static const char *const root_names[] = {"name", "parent", NULL};
  if (!cJSON_IsObject(req)) return analytics_refuse(err, "invalid_field", "body", "The body must be a JSON object.");
  const char *u = cs_unknown_member(req, x->kind == CASES_SLA ? sla_names : root_names);
  if (u)
    return analytics_refuse(err, "invalid_field", u, x->kind == CASES_SLA
                                ? "Unknown member \"%.40s\": an SLA policy has name, first_response_seconds, "
                                  "resolution_seconds and default."
                                : "Unknown member \"%.40s\": a root cause has name and parent.", u);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "name");
  if (!cJSON_IsString(v) || !cs_text_ok(v->valuestring, CASES_MAX_NAME))
    return analytics_refuse(err, "invalid_field", "name", "name must be 1 to %d bytes of text.", CASES_MAX_NAME);
  x->name = v->valuestring;
  if (x->kind == CASES_ROOTS) {
    v = cJSON_GetObjectItemCaseSensitive(req, "parent");
    if (v && !cs_json_id(v, 1, &x->parent))
      return analytics_refuse(err, "invalid_field", "parent", "parent must be the id of a root cause, or null.");
    return CX_OK;
  }
  if (!span_ok(cJSON_GetObjectItemCaseSensitive(req, "first_response_seconds"), &x->first_s))
    return analytics_refuse(err, "invalid_field", "first_response_seconds",
                            "first_response_seconds must be a whole number of seconds from 1 to a year.");
  if (!span_ok(cJSON_GetObjectItemCaseSensitive(req, "resolution_seconds"), &x->res_s))
    return analytics_refuse(err, "invalid_field", "resolution_seconds",
                            "resolution_seconds must be a whole number of seconds from 1 to a year.");
  if (x->res_s < x->first_s)
    return analytics_refuse(err, "invalid_field", "resolution_seconds",
                            "resolution_seconds must be at least first_response_seconds.");
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "default"))) {
    if (!cJSON_IsBool(v)) return analytics_refuse(err, "invalid_field", "default", "default must be true or false.");
    x->has_default = 1, x->is_default = cJSON_IsTrue(v);
  }
  return CX_OK;
}

cx_err cases_config_put(cases *c, cases_kind kind, int64_t id, const cJSON *req, const gv_principal *p, cx_buf *out,
                        analytics_error *err) {
  put_ctx x = {.kind = kind, .id = id, .now = cs_now(c), .p = p, .err = err};
  cx_err rc = kind == CASES_RULES ? cases_rule_check(req, &x.rule, err) : check_other(&x, req);
  if (rc) return rc;
  if ((rc = cs_run(c, apply_put, &x))) return rc;
  if (!x.found) return CX_ENOTFOUND;
  if (x.exists) return CX_EEXIST;
  if (x.refused) return CX_EINVAL;
  return cases_config_get(c, kind, x.id, out);
}

static cx_err apply_delete(void *ctx, sqlite3 *db) {
  put_ctx *x = ctx;
  static const char *const exists_sql[] = {"SELECT 1 FROM case_rules WHERE id = ?1",
                                           "SELECT 1 FROM sla_policies WHERE id = ?1",
                                           "SELECT 1 FROM root_causes WHERE id = ?1"};
  static const char *const delete_sql[] = {"DELETE FROM case_rules WHERE id = ?1",
                                           "DELETE FROM sla_policies WHERE id = ?1",
                                           "DELETE FROM root_causes WHERE id = ?1"};
  if (!scalar(db, exists_sql[x->kind], x->id, NULL)) return CX_OK;
  x->found = 1;
  if (x->kind == CASES_SLA && scalar(db, "SELECT is_default FROM sla_policies WHERE id = ?1", x->id, NULL))
    return refuse(x, "in_use", NULL, "This is the default SLA policy: make another one the default first.");
  if (x->kind == CASES_SLA && scalar(db, "SELECT 1 FROM case_rules WHERE sla_policy_id = ?1", x->id, NULL))
    return refuse(x, "in_use", NULL, "A case rule uses this SLA policy: change the rule first.");
  if (x->kind == CASES_ROOTS && scalar(db, "SELECT 1 FROM root_causes WHERE parent_id = ?1", x->id, NULL))
    return refuse(x, "in_use", NULL, "This root cause has causes below it: delete or move them first.");
  if (x->kind == CASES_ROOTS && scalar(db, "SELECT 1 FROM cases WHERE root_cause_id = ?1", x->id, NULL))
    return refuse(x, "in_use", NULL, "Cases name this root cause; it stays for their history.");
  if (x->kind == CASES_ROOTS &&
      scalar(db, "SELECT 1 FROM initiatives, json_each(initiatives.root_causes) WHERE json_each.value = ?1", x->id, NULL))
    return refuse(x, "in_use", NULL, "An initiative answers this root cause: unlink it there first.");
  if (x->kind == CASES_RULES && x->p->unit_id != GV_ALL_UNITS &&
      cs_in_subtree(db, x->p->unit_id, scalar(db, "SELECT unit_id FROM case_rules WHERE id = ?1", x->id, NULL)) != 1) {
    x->found = 0;
    return CX_OK;
  }
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, delete_sql[x->kind], -1, &st, NULL)) return CX_EDB;
  sqlite3_bind_int64(st, 1, x->id);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  return r == SQLITE_DONE ? CX_OK : CX_EDB;
}

cx_err cases_config_delete(cases *c, cases_kind kind, int64_t id, const gv_principal *p, analytics_error *err) {
  put_ctx x = {.kind = kind, .id = id, .p = p, .err = err};
  cx_err rc = cs_run(c, apply_delete, &x);
  if (rc) return rc;
  if (!x.found) return CX_ENOTFOUND;
  return x.refused ? CX_EINVAL : CX_OK;
}
