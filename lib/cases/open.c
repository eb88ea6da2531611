/* open.c - the scheduler: case rules over new responses (opening cases,
 * routing them, starting their SLA clocks) and breach detection, each
 * tick in one store job, so that opened cases and moved cursors commit
 * together (docs/internals/cases.md). */
#include "cases_int.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/time.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the store job ---- */

cx_err cs_run(cases *c, cx_err (*fn)(void *, sqlite3 *), void *ctx) { return store_run_fn(c->st, fn, ctx, 1); }

/* ---- what a rule reads of a response ---- */

typedef struct {
  sqlite3 *db;
  sqlite3_stmt *sentiment; /* avg(score) of its verbatims */
  int64_t id, survey, submitted;
  const char *ctx[5]; /* channel, touchpoint, unit, agent, language (NULL: none) */
  const char *answers_text;
  cJSON *answers; /* parsed when first read; freed by resp_done */
  int answers_loaded;
  int score[3]; /* first NPS, CSAT, CES answer; -1: none */
  double sent;
  int sent_state; /* 0 not read, 1 none, 2 read */
} resp_env;

static const char *const ctx_name[5] = {"channel", "touchpoint", "unit", "agent", "language"};

/* "T:qid:score;…": the first score of each of the types 0..2 */
static void read_scores(const char *s, int score[3]) {
  score[0] = score[1] = score[2] = -1;
  while (s && s[0] && s[1]) {
    int type = s[0] - '0';
    const char *c = strchr(s + 2, ':');
    const char *end = c ? strchr(c, ';') : NULL;
    if (!c || !end) return;
    if (type >= 0 && type <= 2 && score[type] < 0) score[type] = atoi(c + 1);
    s = end + 1;
  }
}

static void json_value(const cJSON *j, rules_value *out) {
  if (cJSON_IsString(j)) *out = (rules_value){.type = RULES_STRING, .u.str = {j->valuestring, strlen(j->valuestring)}};
  else if (cJSON_IsNumber(j)) *out = (rules_value){.type = RULES_NUMBER, .u.number = j->valuedouble};
  else if (cJSON_IsBool(j)) *out = (rules_value){.type = RULES_BOOL, .u.boolean = cJSON_IsTrue(j)};
  else if (cJSON_IsArray(j) && cJSON_GetArraySize(j) == 0) *out = (rules_value){.type = RULES_LIST};
}

static cx_err resp_lookup(void *ctx, const char *root, const char *const *parts, size_t nparts, rules_value *out) {
  resp_env *e = ctx;
  if (!nparts) return CX_OK;
  if (!strcmp(root, "answers")) {
    if (!e->answers_loaded) {
      e->answers_loaded = 1;
      e->answers = cJSON_Parse(e->answers_text ? e->answers_text : "{}");
    }
    const cJSON *j = e->answers;
    for (size_t k = 0; j && k < nparts; k++) j = cJSON_GetObjectItemCaseSensitive(j, parts[k]);
    if (j) json_value(j, out);
    return CX_OK;
  }
  if (strcmp(root, "response") || nparts != 1) return CX_OK;
  const char *n = parts[0];
  static const char *const score_name[3] = {"nps", "csat", "ces"};
  for (int t = 0; t < 3; t++)
    if (!strcmp(n, score_name[t])) {
      if (e->score[t] >= 0) *out = (rules_value){.type = RULES_NUMBER, .u.number = e->score[t]};
      return CX_OK;
    }
  for (int k = 0; k < 5; k++)
    if (!strcmp(n, ctx_name[k])) {
      if (e->ctx[k]) *out = (rules_value){.type = RULES_STRING, .u.str = {e->ctx[k], strlen(e->ctx[k])}};
      return CX_OK;
    }
  if (!strcmp(n, "id")) *out = (rules_value){.type = RULES_NUMBER, .u.number = (double)e->id};
  else if (!strcmp(n, "survey")) *out = (rules_value){.type = RULES_NUMBER, .u.number = (double)e->survey};
  else if (!strcmp(n, "submitted_at")) *out = (rules_value){.type = RULES_TIME, .u.ms = e->submitted};
  else if (!strcmp(n, "sentiment")) {
    if (!e->sent_state) {
      e->sent_state = 1;
      sqlite3_bind_int64(e->sentiment, 1, e->id);
      if (sqlite3_step(e->sentiment) == SQLITE_ROW && sqlite3_column_type(e->sentiment, 0) != SQLITE_NULL) {
        e->sent = sqlite3_column_double(e->sentiment, 0);
        e->sent_state = 2;
      }
      sqlite3_reset(e->sentiment);
    }
    if (e->sent_state == 2) *out = (rules_value){.type = RULES_NUMBER, .u.number = e->sent};
  }
  return CX_OK;
}

/* ---- opening ---- */

typedef struct {
  int64_t id, unit, sla, follow_up, cursor;
  int64_t sla_id, first_s, res_s; /* the policy, read once per tick */
  char *name, *priority; /* owned */
  rules_expr *e;         /* owned; NULL when disabled or not compilable */
} live_rule;

/* A unit's round robin during one tick: its agents (else CX leads) in id
 * order and the last one given a case; saved to case_routing at the end. */
#define ROUTE_UNITS 32
#define ROUTE_USERS 256
typedef struct {
  int64_t unit, last;
  int64_t users[ROUTE_USERS];
  size_t n;
  int used;
} route_cache;

typedef struct {
  cases *c;
  sqlite3 *db;
  int64_t now;
  int opened, mailed;
  /* prepared once per tick (scan) */
  sqlite3_stmt *ins_case, *ins_history, *unit_by_name;
  route_cache routes[ROUTE_UNITS];
  size_t nroutes;
} tick_ctx;

int cs_unit_exists(sqlite3 *db, int64_t unit) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM units WHERE id = ?1", -1, &st, NULL)) return 0;
  sqlite3_bind_int64(st, 1, unit);
  int yes = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return yes;
}

int cs_in_subtree(sqlite3 *db, int64_t top, int64_t unit) {
  if (top == GV_ALL_UNITS) return cs_unit_exists(db, unit);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT 1 WHERE ?2 IN (" CS_SUBTREE("?1") ")", -1, &st, NULL)) return -1;
  sqlite3_bind_int64(st, 1, top);
  sqlite3_bind_int64(st, 2, unit);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  return r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : -1;
}

cx_err cs_history(sqlite3 *db, int64_t id, int64_t at, const char *actor, int64_t user_id, const char *action,
                  const char *before, const char *after) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "INSERT INTO case_history(case_id, at, actor, user_id, action, before, after)"
                             " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int64(st, 2, at);
  sqlite3_bind_text(st, 3, actor, -1, SQLITE_STATIC);
  if (user_id) sqlite3_bind_int64(st, 4, user_id);
  sqlite3_bind_text(st, 5, action, -1, SQLITE_STATIC);
  if (before) sqlite3_bind_text(st, 6, before, -1, SQLITE_STATIC);
  if (after) sqlite3_bind_text(st, 7, after, -1, SQLITE_STATIC);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  return r == SQLITE_DONE ? CX_OK : CX_EDB;
}

cx_err cs_route_owner(sqlite3 *db, int64_t unit, int64_t *owner) {
  *owner = 0;
  sqlite3_stmt *last, *pick, *save;
  int64_t after = 0;
  if (sqlite3_prepare_v2(db, "SELECT last_user_id FROM case_routing WHERE unit_id = ?1", -1, &last, NULL)) return CX_EDB;
  sqlite3_bind_int64(last, 1, unit);
  if (sqlite3_step(last) == SQLITE_ROW) after = sqlite3_column_int64(last, 0);
  sqlite3_finalize(last);
  /* the next agent after the last one (wrapping round), else a CX lead */
  if (sqlite3_prepare_v2(db, "SELECT id FROM users WHERE unit_id = ?1 AND disabled = 0 AND role = ?2"
                             " ORDER BY id > ?3 DESC, id LIMIT 1", -1, &pick, NULL))
    return CX_EDB;
  static const char *const roles[] = {"agent", "cx_lead"};
  for (int i = 0; i < 2 && !*owner; i++) {
    sqlite3_bind_int64(pick, 1, unit);
    sqlite3_bind_text(pick, 2, roles[i], -1, SQLITE_STATIC);
    sqlite3_bind_int64(pick, 3, after);
    if (sqlite3_step(pick) == SQLITE_ROW) *owner = sqlite3_column_int64(pick, 0);
    sqlite3_reset(pick);
  }
  sqlite3_finalize(pick);
  if (!*owner) return CX_OK;
  if (sqlite3_prepare_v2(db, "INSERT INTO case_routing(unit_id, last_user_id) VALUES(?1, ?2)"
                             " ON CONFLICT(unit_id) DO UPDATE SET last_user_id = excluded.last_user_id", -1, &save, NULL))
    return CX_EDB;
  sqlite3_bind_int64(save, 1, unit);
  sqlite3_bind_int64(save, 2, *owner);
  int r = sqlite3_step(save);
  sqlite3_finalize(save);
  return r == SQLITE_DONE ? CX_OK : CX_EDB;
}

cx_err cs_sla(sqlite3 *db, int64_t policy, int64_t *id, int64_t *first_s, int64_t *resolution_s) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT id, first_response_s, resolution_s FROM sla_policies"
                             " WHERE id = ?1 OR (?1 = 0 AND is_default = 1) ORDER BY id LIMIT 1", -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, policy);
  cx_err rc = CX_ENOTFOUND;
  if (sqlite3_step(st) == SQLITE_ROW) {
    *id = sqlite3_column_int64(st, 0);
    *first_s = sqlite3_column_int64(st, 1);
    *resolution_s = sqlite3_column_int64(st, 2);
    rc = CX_OK;
  }
  sqlite3_finalize(st);
  if (rc == CX_ENOTFOUND && policy) return cs_sla(db, 0, id, first_s, resolution_s); /* deleted meanwhile */
  if (rc == CX_ENOTFOUND) *id = 0, *first_s = 86400, *resolution_s = 432000;
  return CX_OK;
}

/* The unit a response's case goes to: its context unit when that names
 * a unit in the rule's subtree, else the rule's. */
static int64_t route_unit(tick_ctx *x, const live_rule *r, const char *unit_name) {
  if (!unit_name) return r->unit;
  int64_t u = 0;
  sqlite3_bind_text(x->unit_by_name, 1, unit_name, -1, SQLITE_STATIC);
  if (sqlite3_step(x->unit_by_name) == SQLITE_ROW) u = sqlite3_column_int64(x->unit_by_name, 0);
  sqlite3_reset(x->unit_by_name);
  return u && u != r->unit && cs_in_subtree(x->db, r->unit, u) == 1 ? u : r->unit;
}

/* The next owner of unit from the tick's cache (loaded on first use). */
static cx_err next_owner(tick_ctx *x, int64_t unit, int64_t *owner) {
  route_cache *rc = NULL;
  for (size_t i = 0; i < x->nroutes && !rc; i++)
    if (x->routes[i].unit == unit) rc = &x->routes[i];
  if (!rc && x->nroutes == ROUTE_UNITS) return cs_route_owner(x->db, unit, owner); /* many units: uncached */
  if (!rc) {
    rc = &x->routes[x->nroutes++];
    memset(rc, 0, sizeof *rc);
    rc->unit = unit;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(x->db, "SELECT last_user_id FROM case_routing WHERE unit_id = ?1", -1, &st, NULL)) return CX_EDB;
    sqlite3_bind_int64(st, 1, unit);
    if (sqlite3_step(st) == SQLITE_ROW) rc->last = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(x->db, "SELECT id FROM users WHERE unit_id = ?1 AND disabled = 0 AND role = ?2 ORDER BY id", -1,
                           &st, NULL))
      return CX_EDB;
    static const char *const roles[] = {"agent", "cx_lead"};
    for (int k = 0; k < 2 && !rc->n; k++) {
      sqlite3_bind_int64(st, 1, unit);
      sqlite3_bind_text(st, 2, roles[k], -1, SQLITE_STATIC);
      while (rc->n < ROUTE_USERS && sqlite3_step(st) == SQLITE_ROW) rc->users[rc->n++] = sqlite3_column_int64(st, 0);
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
  }
  *owner = 0;
  if (!rc->n) return CX_OK;
  size_t k = 0;
  while (k < rc->n && rc->users[k] <= rc->last) k++;
  *owner = rc->users[k < rc->n ? k : 0];
  rc->last = *owner;
  rc->used = 1;
  return CX_OK;
}

static cx_err save_routes(tick_ctx *x) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(x->db, "INSERT INTO case_routing(unit_id, last_user_id) VALUES(?1, ?2)"
                                " ON CONFLICT(unit_id) DO UPDATE SET last_user_id = excluded.last_user_id", -1, &st, NULL))
    return CX_EDB;
  cx_err rc = CX_OK;
  for (size_t i = 0; i < x->nroutes && !rc; i++) {
    if (!x->routes[i].used) continue;
    sqlite3_bind_int64(st, 1, x->routes[i].unit);
    sqlite3_bind_int64(st, 2, x->routes[i].last);
    if (sqlite3_step(st) != SQLITE_DONE) rc = CX_EDB;
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  return rc;
}

static cx_err open_case(tick_ctx *x, const live_rule *r, const resp_env *e, int64_t customer) {
  int64_t unit = route_unit(x, r, e->ctx[2]), owner = 0;
  cx_err rc = next_owner(x, unit, &owner);
  if (rc) return rc;
  if (x->c->pr) {
    int64_t canon = profile_canonical(x->c->pr, customer);
    if (canon) customer = canon;
  }
  sqlite3_stmt *st = x->ins_case;
  sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, r->priority, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, customer);
  sqlite3_bind_int64(st, 4, e->id);
  sqlite3_bind_int64(st, 5, r->id);
  sqlite3_bind_int64(st, 6, unit);
  if (owner) sqlite3_bind_int64(st, 7, owner);
  else sqlite3_bind_null(st, 7);
  sqlite3_bind_int64(st, 8, r->sla_id);
  if (e->score[0] >= 0) sqlite3_bind_int(st, 9, e->score[0]);
  else sqlite3_bind_null(st, 9);
  sqlite3_bind_int64(st, 10, x->now);
  sqlite3_bind_int64(st, 11, x->now + r->first_s * 1000);
  sqlite3_bind_int64(st, 12, x->now + r->res_s * 1000);
  int step = sqlite3_step(st);
  sqlite3_reset(st);
  if (step != SQLITE_DONE) return CX_EDB;
  if (!sqlite3_changes(x->db)) return CX_OK; /* opened already */
  int64_t id = sqlite3_last_insert_rowid(x->db);
  char actor[CASES_MAX_NAME + 8], after[160], own[32] = "null";
  snprintf(actor, sizeof actor, "rule:%s", r->name);
  if (owner) snprintf(own, sizeof own, "\"%lld\"", (long long)owner);
  snprintf(after, sizeof after, "{\"rule\":\"%lld\",\"response\":\"%lld\",\"unit\":\"%lld\",\"owner\":%s}",
           (long long)r->id, (long long)e->id, (long long)unit, own);
  x->opened++;
  st = x->ins_history;
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int64(st, 2, x->now);
  sqlite3_bind_text(st, 3, actor, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 4, after, -1, SQLITE_TRANSIENT);
  step = sqlite3_step(st);
  sqlite3_reset(st);
  return step == SQLITE_DONE ? CX_OK : CX_EDB;
}

static void rules_done(live_rule *r, size_t n) {
  for (size_t i = 0; i < n; i++) {
    cx_free(r[i].name);
    cx_free(r[i].priority);
    rules_free(r[i].e);
  }
  cx_free(r);
}

static char *dup(const unsigned char *s) {
  size_t n = strlen((const char *)s) + 1;
  char *p = cx_malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* Responses after the lowest cursor, each evaluated by the rules whose
 * cursor is below it; every cursor moves to the last response read. */
static cx_err scan(tick_ctx *x) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(x->db, "SELECT id, rule, unit_id, sla_policy_id, follow_up_survey_id, cursor, name, priority,"
                                " enabled FROM case_rules ORDER BY id", -1, &st, NULL))
    return CX_EDB;
  live_rule *rules = cx_calloc(CASES_MAX_RULES + 1, sizeof *rules);
  if (!rules) {
    sqlite3_finalize(st);
    return CX_ENOMEM;
  }
  size_t n = 0;
  int64_t low = INT64_MAX;
  cx_err rc = CX_OK;
  while (!rc && n <= CASES_MAX_RULES && sqlite3_step(st) == SQLITE_ROW) {
    live_rule *r = &rules[n++];
    r->id = sqlite3_column_int64(st, 0);
    r->unit = sqlite3_column_int64(st, 2);
    r->sla = sqlite3_column_int64(st, 3);
    r->follow_up = sqlite3_column_int64(st, 4);
    r->cursor = sqlite3_column_int64(st, 5);
    r->name = dup(sqlite3_column_text(st, 6));
    r->priority = dup(sqlite3_column_text(st, 7));
    if (!r->name || !r->priority) rc = CX_ENOMEM;
    const char *src = (const char *)sqlite3_column_text(st, 1);
    /* compiled when saved; a rule that no longer compiles opens nothing */
    if (!rc && sqlite3_column_int(st, 8) && rules_compile(src, strlen(src), &r->e, NULL) == CX_ENOMEM) rc = CX_ENOMEM;
    if (r->cursor < low) low = r->cursor;
  }
  sqlite3_finalize(st);
  for (size_t i = 0; i < n && !rc; i++) rc = cs_sla(x->db, rules[i].sla, &rules[i].sla_id, &rules[i].first_s, &rules[i].res_s);
  if (rc || !n) {
    rules_done(rules, n);
    return rc;
  }
  sqlite3_stmt *rs = NULL, *sent = NULL, *upd = NULL;
  if (sqlite3_prepare_v2(x->db, "SELECT id, survey_id, customer_id, submitted_at, channel, touchpoint, unit, agent,"
                                " language, answers, scores, complete, replaced_by FROM responses WHERE id > ?1"
                                " ORDER BY id LIMIT ?2", -1, &rs, NULL) ||
      sqlite3_prepare_v2(x->db, "SELECT avg(score) FROM verbatims WHERE response_id = ?1", -1, &sent, NULL) ||
      sqlite3_prepare_v2(x->db, "UPDATE case_rules SET cursor = ?1 WHERE id = ?2 AND cursor < ?1", -1, &upd, NULL) ||
      sqlite3_prepare_v2(x->db, "INSERT INTO cases(status, title, priority, customer_id, response_id, rule_id, unit_id,"
                                " owner_id, sla_policy_id, nps, opened_at, first_response_due_at, resolution_due_at,"
                                " updated_at) VALUES('new', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?10)"
                                " ON CONFLICT DO NOTHING", -1, &x->ins_case, NULL) ||
      sqlite3_prepare_v2(x->db, "INSERT INTO case_history(case_id, at, actor, action, after)"
                                " VALUES(?1, ?2, ?3, 'opened', ?4)", -1, &x->ins_history, NULL) ||
      sqlite3_prepare_v2(x->db, "SELECT id FROM units WHERE name = ?1", -1, &x->unit_by_name, NULL))
    rc = CX_EDB;
  int64_t last = low;
  char scratch[512];
  if (!rc) {
    sqlite3_bind_int64(rs, 1, low);
    sqlite3_bind_int(rs, 2, CASES_SCAN_ROWS);
  }
  int step = SQLITE_DONE;
  while (!rc && (step = sqlite3_step(rs)) == SQLITE_ROW) {
    resp_env e = {.db = x->db, .sentiment = sent, .id = sqlite3_column_int64(rs, 0),
                  .survey = sqlite3_column_int64(rs, 1), .submitted = sqlite3_column_int64(rs, 3),
                  .answers_text = (const char *)sqlite3_column_text(rs, 9)};
    last = e.id;
    if (!sqlite3_column_int(rs, 11) || sqlite3_column_type(rs, 12) != SQLITE_NULL) continue; /* partial or replaced */
    for (int k = 0; k < 5; k++) e.ctx[k] = (const char *)sqlite3_column_text(rs, 4 + k);
    read_scores((const char *)sqlite3_column_text(rs, 10), e.score);
    rules_env env = {.ctx = &e, .now_ms = x->now, .lookup = resp_lookup, .scratch = scratch,
                     .scratch_size = sizeof scratch};
    for (size_t i = 0; i < n && !rc; i++)
      if (rules[i].e && rules[i].cursor < e.id && rules_match(rules[i].e, &env))
        rc = open_case(x, &rules[i], &e, sqlite3_column_int64(rs, 2));
    cJSON_Delete(e.answers);
  }
  if (!rc && step != SQLITE_DONE && step != SQLITE_ROW) rc = CX_EDB;
  for (size_t i = 0; i < n && !rc && last > low; i++) {
    sqlite3_bind_int64(upd, 1, last);
    sqlite3_bind_int64(upd, 2, rules[i].id);
    if (sqlite3_step(upd) != SQLITE_DONE) rc = CX_EDB;
    sqlite3_reset(upd);
  }
  if (!rc) rc = save_routes(x);
  sqlite3_finalize(rs);
  sqlite3_finalize(sent);
  sqlite3_finalize(upd);
  sqlite3_finalize(x->ins_case);
  sqlite3_finalize(x->ins_history);
  sqlite3_finalize(x->unit_by_name);
  x->ins_case = x->ins_history = x->unit_by_name = NULL;
  x->nroutes = 0;
  rules_done(rules, n);
  return rc;
}

/* ---- breaches ---- */

static cx_err notify(tick_ctx *x, int64_t id, int64_t owner, const char *title, const char *what) {
  if (!owner) return CX_OK;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(x->db, "SELECT email, name FROM users WHERE id = ?1 AND disabled = 0", -1, &st, NULL))
    return CX_EDB;
  sqlite3_bind_int64(st, 1, owner);
  cx_err rc = CX_OK;
  if (sqlite3_step(st) == SQLITE_ROW) {
    const char *email = (const char *)sqlite3_column_text(st, 0), *name = (const char *)sqlite3_column_text(st, 1);
    char subject[256], text[600], ref[64];
    snprintf(subject, sizeof subject, "Case %lld is past its %s time", (long long)id, what);
    snprintf(text, sizeof text, "Case %lld (%.200s) assigned to you is past its %s time (SLA).\n", (long long)id,
             title, what);
    snprintf(ref, sizeof ref, "case:%lld", (long long)id);
    outbox_mail m = {.to = email, .to_name = name, .subject = subject, .text = text, .ref = ref};
    if (email && *email && !outbox_mail_check(&m, NULL)) {
      rc = outbox_enqueue_mail_in(x->db, &m, NULL);
      if (!rc) x->mailed++;
    }
  }
  sqlite3_finalize(st);
  return rc;
}

static cx_err breaches(tick_ctx *x, const char *kind) {
  int first = !strcmp(kind, "first_response");
  sqlite3_stmt *st, *upd = NULL;
  if (sqlite3_prepare_v2(x->db, first ? "SELECT id, owner_id, title FROM cases WHERE status IN ('new', 'open', 'waiting')"
                                        " AND first_response_at IS NULL AND first_response_breached_at IS NULL"
                                        " AND first_response_due_at <= ?1 LIMIT 500"
                                      : "SELECT id, owner_id, title FROM cases WHERE status IN ('new', 'open', 'waiting')"
                                        " AND resolved_at IS NULL AND resolution_breached_at IS NULL AND resolution_due_at <= ?1 LIMIT 500",
                         -1, &st, NULL))
    return CX_EDB;
  cx_err rc = CX_OK;
  if (sqlite3_prepare_v2(x->db, first ? "UPDATE cases SET first_response_breached_at = ?1 WHERE id = ?2"
                                      : "UPDATE cases SET resolution_breached_at = ?1 WHERE id = ?2", -1, &upd, NULL))
    rc = CX_EDB;
  sqlite3_bind_int64(st, 1, x->now);
  while (!rc && sqlite3_step(st) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0), owner = sqlite3_column_int64(st, 1);
    sqlite3_bind_int64(upd, 1, x->now);
    sqlite3_bind_int64(upd, 2, id);
    if (sqlite3_step(upd) != SQLITE_DONE) rc = CX_EDB;
    sqlite3_reset(upd);
    if (!rc) rc = cs_history(x->db, id, x->now, "sla", 0, first ? "breach_first_response" : "breach_resolution", NULL, NULL);
    if (!rc) rc = notify(x, id, owner, (const char *)sqlite3_column_text(st, 2), first ? "first-response" : "resolution");
  }
  sqlite3_finalize(st);
  sqlite3_finalize(upd);
  return rc;
}

static cx_err apply_tick(void *ctx, sqlite3 *db) {
  tick_ctx *x = ctx;
  x->db = db;
  x->opened = x->mailed = 0;
  cx_err rc = scan(x);
  if (!rc) rc = breaches(x, "first_response");
  if (!rc) rc = breaches(x, "resolution");
  return rc;
}

cx_err cases_tick(cases *c, int64_t now_ms, int *opened) {
  tick_ctx x = {.c = c, .now = now_ms ? now_ms : cx_now_ms()};
  cx_err rc = cs_run(c, apply_tick, &x);
  if (!rc && x.mailed && c->ob) outbox_kick(c->ob);
  if (opened) *opened = rc ? 0 : x.opened;
  return rc;
}

/* ---- life ---- */

static void scheduled(void *arg) {
  int opened = 0;
  cx_err rc = cases_tick(arg, 0, &opened);
  if (rc && rc != CX_ESTOPPED) cx_log("error", "cases_scheduler_failed", "error", cx_strerror(rc), NULL);
}

cx_err cases_open(store *st, profile *pr, outbox *ob, cases **out) {
  cases *c = cx_calloc(1, sizeof *c);
  if (!c) return CX_ENOMEM;
  c->st = st, c->pr = pr, c->ob = ob;
  *out = c;
  return CX_OK;
}

int64_t cs_now(const cases *c) { return c->clock_ms ? c->clock_ms : cx_now_ms(); }

void cases_set_follow_up(cases *c, cases_invite_fn invite, cx_err (*ready)(void *ctx), void *ctx) {
  c->invite = invite, c->invite_ready = ready, c->invite_ctx = ctx;
}

void cases_set_clock(cases *c, int64_t at_ms) { c->clock_ms = at_ms > 0 ? at_ms : 0; }

cx_err cases_start(cases *c, int64_t tick_ms) {
  return cx_ticker_start(tick_ms > 0 ? tick_ms : 10000, scheduled, c, &c->ticker);
}

void cases_close(cases *c) {
  if (!c) return;
  cx_ticker_stop(c->ticker);
  cx_free(c);
}
