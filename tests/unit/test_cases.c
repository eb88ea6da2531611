/* test_cases.c - lib/cases: the validators and the status machine, case
 * rules opening cases exactly once with round-robin routing, unit
 * scoping by principal, SLA breaches, resolving, metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include "../../lib/base/time.h"
#include "../../lib/cases/cases.h"
#include "../../lib/feedback/feedback.h"
#include "../../lib/ingest/ingest.h"
#include "stack.h"

typedef struct {
  unit_stack u; /* the data directory and the modules under the one tested */
  cases *cs;
  int64_t survey;
} fixture;

static const gv_principal ADMIN = {.role = GV_ADMIN, .unit_id = GV_ALL_UNITS, .actor = "token:admin"};

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  /* Support (1) > North (2); Sales (3). Agents 1, 2 in Support, 3 in North,
   * a disabled agent 4 in Support, a lead 5 in Sales */
  if (unit_stack_open(&f->u, "/tmp/cxm-unit-XXXXXX",
                 "INSERT INTO units(id, name, parent_id, created_at, updated_at) VALUES(1, 'Support', NULL, 0, 0),"
                 " (2, 'North', 1, 0, 0), (3, 'Sales', NULL, 0, 0);"
                 "INSERT INTO users(id, email, name, pw_hash, role, unit_id, disabled, created_at, updated_at) VALUES"
                 " (1, 'a1@example.com', 'A1', 'x', 'agent', 1, 0, 0, 0), (2, 'a2@example.com', 'A2', 'x', 'agent', 1, 0, 0, 0),"
                 " (3, 'n1@example.com', 'N1', 'x', 'agent', 2, 0, 0, 0), (4, 'a4@example.com', 'A4', 'x', 'agent', 1, 1, 0, 0),"
                 " (5, 'l1@example.com', 'L1', 'x', 'cx_lead', 3, 0, 0, 0);") ||
      cases_open(f->u.st, f->u.pr, NULL, &f->cs))
    return -1;
  cJSON *req = cJSON_Parse("{\"name\":\"rel\",\"questions\":[{\"id\":\"q1\",\"type\":\"nps\",\"text\":\"Likely?\"},"
                           "{\"id\":\"q2\",\"type\":\"text\",\"text\":\"Why?\",\"required\":false}]}");
  cx_buf out;
  cx_buf_init(&out, 1 << 20);
  analytics_error err;
  if (feedback_survey_create(f->u.fb, req, &out, &err)) return -1;
  cJSON *ans = cJSON_Parse(out.p);
  f->survey = strtoll(cJSON_GetObjectItem(ans, "id")->valuestring, NULL, 10);
  cJSON_Delete(ans);
  cJSON_Delete(req);
  cx_buf_free(&out);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  cases_close(f->cs);
  unit_stack_close(&f->u);
  free(f);
  return 0;
}

/* the JSON answer of a call into out, parsed (caller frees) */
static cJSON *parsed(cx_buf *b) {
  cJSON *j = cJSON_Parse(b->p);
  assert_non_null(j);
  cx_buf_reset(b);
  return j;
}

static int64_t put(fixture *f, cases_kind kind, const char *doc) {
  cJSON *req = cJSON_Parse(doc);
  cx_buf out;
  cx_buf_init(&out, 1 << 20);
  analytics_error err = {{0}, {0}, {0}};
  cx_err rc = cases_config_put(f->cs, kind, 0, req, &ADMIN, &out, &err);
  if (rc) print_error("put: %s %s\n", err.field, err.message);
  assert_int_equal(rc, CX_OK);
  cJSON *j = parsed(&out);
  int64_t id = strtoll(cJSON_GetObjectItem(j, "id")->valuestring, NULL, 10);
  cJSON_Delete(j);
  cJSON_Delete(req);
  cx_buf_free(&out);
  return id;
}

static void respond(fixture *f, const char *user, int nps, const char *unit, const char *text) {
  char doc[512];
  snprintf(doc, sizeof doc, "{\"customer\":{\"user_id\":\"%s\"},\"answers\":{\"q1\":%d%s%s%s}%s%s%s}", user, nps,
           text ? ",\"q2\":\"" : "", text ? text : "", text ? "\"" : "", unit ? ",\"context\":{\"unit\":\"" : "",
           unit ? unit : "", unit ? "\"}" : "");
  cJSON *req = cJSON_Parse(doc);
  assert_non_null(req);
  int64_t id, cust;
  analytics_error err;
  assert_int_equal(feedback_respond(f->u.fb, f->survey, req, &id, &cust, &err), CX_OK);
  cJSON_Delete(req);
}

static cJSON *list(fixture *f, const gv_principal *p) {
  cases_query q = {.limit = 100};
  cx_buf out;
  cx_buf_init(&out, 1 << 20);
  analytics_error err;
  assert_int_equal(cases_list(f->cs, &q, p, &out, &err), CX_OK);
  cJSON *j = cJSON_Parse(out.p);
  cx_buf_free(&out);
  return j;
}

static const char *field(const cJSON *c, const char *name) {
  const cJSON *v = cJSON_GetObjectItem(c, name);
  return cJSON_IsString(v) ? v->valuestring : "";
}

static void test_validators(void **state) {
  (void)state;
  analytics_error err;
  cases_rule_req r;
  struct {
    const char *doc, *field;
  } bad[] = {{"{\"when\":\"response.nps <= 6\",\"unit\":1}", "name"},
             {"{\"name\":\"x\",\"when\":\"response.nps <=\",\"unit\":1}", "when"},
             {"{\"name\":\"x\",\"when\":\"traits.plan == 1\",\"unit\":1}", "when"},
             {"{\"name\":\"x\",\"when\":\"count(\\\"a\\\") > 1\",\"unit\":1}", "when"},
             {"{\"name\":\"x\",\"when\":\"response.nps <= 6\"}", "unit"},
             {"{\"name\":\"x\",\"when\":\"response.nps <= 6\",\"unit\":\"0\"}", "unit"},
             {"{\"name\":\"x\",\"when\":\"response.nps <= 6\",\"unit\":1,\"priority\":\"hot\"}", "priority"},
             {"{\"name\":\"x\",\"when\":\"response.nps <= 6\",\"unit\":1,\"colour\":1}", "colour"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cJSON *j = cJSON_Parse(bad[i].doc);
    assert_int_equal(cases_rule_check(j, &r, &err), CX_EINVAL);
    assert_string_equal(err.field, bad[i].field);
    cJSON_Delete(j);
  }
  cJSON *j = cJSON_Parse("{\"name\":\"x\",\"when\":\"response.nps <= 6 || response.sentiment < -0.5\",\"unit\":\"3\"}");
  assert_int_equal(cases_rule_check(j, &r, &err), CX_OK);
  assert_int_equal(r.unit, 3);
  assert_string_equal(r.priority, "normal");
  cJSON_Delete(j);
  /* the position of a syntax error is named */
  j = cJSON_Parse("{\"name\":\"x\",\"when\":\"response.nps <= 6 &&\",\"unit\":1}");
  assert_int_equal(cases_rule_check(j, &r, &err), CX_EINVAL);
  assert_non_null(strstr(err.message, "at 20"));
  cJSON_Delete(j);
  cases_patch_req p;
  j = cJSON_Parse("{}");
  assert_int_equal(cases_patch_check(j, &p, &err), CX_EINVAL);
  cJSON_Delete(j);
  j = cJSON_Parse("{\"status\":\"done\"}");
  assert_int_equal(cases_patch_check(j, &p, &err), CX_EINVAL);
  assert_string_equal(err.field, "status");
  cJSON_Delete(j);
  j = cJSON_Parse("{\"owner\":null,\"note\":\"a\\nb\",\"root_cause\":\"6\"}");
  assert_int_equal(cases_patch_check(j, &p, &err), CX_OK);
  assert_true(p.has_owner && !p.owner && p.has_note && p.root_cause == 6);
  cJSON_Delete(j);
  assert_true(cases_transition_ok("new", "open"));
  assert_true(cases_transition_ok("resolved", "closed"));
  assert_true(cases_transition_ok("closed", "open"));
  assert_false(cases_transition_ok("new", "closed"));
  assert_false(cases_transition_ok("closed", "resolved"));
  assert_false(cases_transition_ok("open", "new"));
}

static void test_rules_open_once_round_robin(void **state) {
  fixture *f = *state;
  respond(f, "before", 0, NULL, NULL); /* before the rule: not its business */
  put(f, CASES_RULES, "{\"name\":\"Detractors\",\"when\":\"response.nps <= 6\",\"unit\":\"1\"}");
  put(f, CASES_RULES, "{\"name\":\"Negative\",\"when\":\"response.sentiment < -0.3\",\"unit\":\"3\"}");
  respond(f, "u1", 2, NULL, NULL);
  respond(f, "u2", 10, NULL, NULL);
  respond(f, "u3", 5, NULL, NULL);
  respond(f, "u4", 6, "North", NULL);
  respond(f, "u5", 9, NULL, "terrible, awful, rude and useless service");
  int opened = -1;
  assert_int_equal(cases_tick(f->cs, 0, &opened), CX_OK);
  assert_int_equal(opened, 4);
  assert_int_equal(cases_tick(f->cs, 0, &opened), CX_OK);
  assert_int_equal(opened, 0); /* exactly once */
  cJSON *l = list(f, &ADMIN);
  cJSON *cs = cJSON_GetObjectItem(l, "cases");
  assert_int_equal(cJSON_GetArraySize(cs), 4);
  /* newest first: u5 (negative → Sales, lead 5), u4 (North, agent 3),
   * u3 (Support, agent 2), u1 (Support, agent 1) */
  const char *want[4][2] = {{"3", "5"}, {"2", "3"}, {"1", "2"}, {"1", "1"}};
  for (int i = 0; i < 4; i++) {
    cJSON *c = cJSON_GetArrayItem(cs, i);
    assert_string_equal(field(c, "unit"), want[i][0]);
    assert_string_equal(field(c, "owner"), want[i][1]);
    assert_string_equal(field(c, "status"), "new");
    assert_true(cJSON_IsString(cJSON_GetObjectItem(c, "due_at")));
  }
  cJSON_Delete(l);
}

static void test_scoping(void **state) {
  fixture *f = *state;
  put(f, CASES_RULES, "{\"name\":\"Detractors\",\"when\":\"response.nps <= 6\",\"unit\":\"1\"}");
  respond(f, "u1", 1, NULL, NULL);
  respond(f, "u2", 1, "North", NULL);
  assert_int_equal(cases_tick(f->cs, 0, NULL), CX_OK);
  gv_principal north = {.role = GV_AGENT, .user_id = 3, .unit_id = 2, .actor = "user:n1@example.com"};
  gv_principal support = {.role = GV_CX_LEAD, .user_id = 1, .unit_id = 1, .actor = "user:a1@example.com"};
  gv_principal sales = {.role = GV_AGENT, .user_id = 5, .unit_id = 3, .actor = "user:l1@example.com"};
  cJSON *l = list(f, &north);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(l, "cases")), 1);
  assert_string_equal(field(cJSON_GetArrayItem(cJSON_GetObjectItem(l, "cases"), 0), "unit"), "2");
  cJSON_Delete(l);
  l = list(f, &support);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(l, "cases")), 2); /* its subtree */
  cJSON_Delete(l);
  l = list(f, &sales);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(l, "cases")), 0);
  cJSON_Delete(l);
  cx_buf out;
  cx_buf_init(&out, 1 << 20);
  analytics_error err;
  assert_int_equal(cases_get(f->cs, 1, &north, &out), CX_ENOTFOUND); /* case 1 is Support's */
  cJSON *note = cJSON_Parse("{\"note\":\"hello\"}");
  assert_int_equal(cases_patch(f->cs, 1, note, &north, &out, &err), CX_ENOTFOUND);
  assert_int_equal(cases_patch(f->cs, 2, note, &north, &out, &err), CX_OK);
  cJSON *c = parsed(&out);
  assert_string_equal(field(c, "status"), "open");
  cJSON *h = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "history"), 1);
  assert_string_equal(field(h, "actor"), "user:n1@example.com");
  assert_string_equal(field(h, "user_id"), "3");
  cJSON_Delete(c);
  /* an owner outside the case's subtree */
  cJSON *own = cJSON_Parse("{\"owner\":\"1\"}");
  assert_int_equal(cases_patch(f->cs, 2, own, &support, &out, &err), CX_EINVAL);
  assert_string_equal(err.code, "invalid_owner");
  cJSON_Delete(own);
  cJSON_Delete(note);
  cx_buf_free(&out);
}

static void test_breaches_and_resolve(void **state) {
  fixture *f = *state;
  int64_t sla = put(f, CASES_SLA, "{\"name\":\"Fast\",\"first_response_seconds\":1,\"resolution_seconds\":2}");
  char doc[200];
  snprintf(doc, sizeof doc, "{\"name\":\"D\",\"when\":\"response.nps <= 6\",\"unit\":\"1\",\"sla_policy\":\"%lld\"}",
           (long long)sla);
  put(f, CASES_RULES, doc);
  respond(f, "u1", 3, NULL, NULL);
  int64_t now = cx_now_ms();
  assert_int_equal(cases_tick(f->cs, now, NULL), CX_OK);
  assert_int_equal(cases_tick(f->cs, now + 1500, NULL), CX_OK); /* first response due */
  assert_int_equal(cases_tick(f->cs, now + 2500, NULL), CX_OK); /* resolution due */
  assert_int_equal(cases_tick(f->cs, now + 3500, NULL), CX_OK); /* recorded once */
  cx_buf out;
  cx_buf_init(&out, 1 << 20);
  analytics_error err;
  assert_int_equal(cases_get(f->cs, 1, &ADMIN, &out), CX_OK);
  cJSON *c = parsed(&out);
  cJSON *h = cJSON_GetObjectItem(c, "history");
  assert_int_equal(cJSON_GetArraySize(h), 3);
  assert_string_equal(field(cJSON_GetArrayItem(h, 1), "action"), "breach_first_response");
  assert_string_equal(field(cJSON_GetArrayItem(h, 2), "action"), "breach_resolution");
  cJSON_Delete(c);
  /* the owner (agent 1, with an address) was mailed twice */
  sqlite3 *db = store_reader_get(f->u.st);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM outbox WHERE recipient = 'a1@example.com'", -1, &st, NULL), 0);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 2);
  sqlite3_finalize(st);
  store_reader_put(f->u.st, db);
  cJSON *res = cJSON_Parse("{\"status\":\"resolved\"}");
  assert_int_equal(cases_patch(f->cs, 1, res, &ADMIN, &out, &err), CX_EINVAL);
  assert_string_equal(err.code, "root_cause_required");
  cJSON_Delete(res);
  res = cJSON_Parse("{\"status\":\"closed\"}");
  assert_int_equal(cases_patch(f->cs, 1, res, &ADMIN, &out, &err), CX_EINVAL);
  assert_string_equal(err.code, "illegal_transition");
  cJSON_Delete(res);
  res = cJSON_Parse("{\"status\":\"resolved\",\"root_cause\":6}");
  assert_int_equal(cases_patch(f->cs, 1, res, &ADMIN, &out, &err), CX_OK);
  cJSON_Delete(res);
  c = parsed(&out);
  assert_string_equal(field(c, "status"), "resolved");
  assert_string_equal(field(c, "root_cause"), "6");
  cJSON_Delete(c);
  assert_int_equal(cases_metrics(f->cs, now - 60000, now + 60000, 0, &ADMIN, &out, &err), CX_OK);
  cJSON *m = parsed(&out);
  assert_int_equal(cJSON_GetObjectItem(m, "cases")->valueint, 1);
  assert_int_equal(cJSON_GetObjectItem(m, "open")->valueint, 0);
  cJSON *w = cJSON_GetObjectItem(m, "within_sla");
  assert_int_equal(cJSON_GetObjectItem(w, "settled")->valueint, 1);
  /* met by the times (resolved at once); the breaches above came from a
   * simulated clock */
  assert_int_equal(cJSON_GetObjectItem(w, "met")->valueint, 1);
  cJSON *rc = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "root_causes"), 0);
  assert_string_equal(field(rc, "name"), "Long wait");
  assert_true(cJSON_GetObjectItem(rc, "cumulative_percent")->valuedouble == 100.0);
  cJSON_Delete(m);
  cx_buf_free(&out);
}

static void test_config_refusals(void **state) {
  fixture *f = *state;
  cx_buf out;
  cx_buf_init(&out, 1 << 20);
  analytics_error err;
  cJSON *j = cJSON_Parse("{\"name\":\"x\",\"when\":\"response.nps <= 6\",\"unit\":\"99\"}");
  assert_int_equal(cases_config_put(f->cs, CASES_RULES, 0, j, &ADMIN, &out, &err), CX_EINVAL);
  assert_string_equal(err.field, "unit");
  cJSON_Delete(j);
  assert_int_equal(cases_config_delete(f->cs, CASES_SLA, 1, &ADMIN, &err), CX_EINVAL); /* the default */
  assert_string_equal(err.code, "in_use");
  assert_int_equal(cases_config_delete(f->cs, CASES_ROOTS, 1, &ADMIN, &err), CX_EINVAL); /* has children */
  assert_int_equal(cases_config_delete(f->cs, CASES_ROOTS, 2, &ADMIN, &err), CX_OK);
  assert_int_equal(cases_config_delete(f->cs, CASES_ROOTS, 2, &ADMIN, &err), CX_ENOTFOUND);
  j = cJSON_Parse("{\"name\":\"Late\",\"parent\":9}");
  assert_int_equal(cases_config_put(f->cs, CASES_ROOTS, 0, j, &ADMIN, &out, &err), CX_EEXIST);
  cJSON_Delete(j);
  j = cJSON_Parse("{\"name\":\"Delivery\",\"parent\":10}"); /* under its own child */
  assert_int_equal(cases_config_put(f->cs, CASES_ROOTS, 9, j, &ADMIN, &out, &err), CX_EINVAL);
  assert_string_equal(err.field, "parent");
  cJSON_Delete(j);
  /* nothing was stored by the refusals */
  assert_int_equal(cases_config_list(f->cs, CASES_RULES, &out), CX_OK);
  assert_string_equal(out.p, "{\"case_rules\":[]}");
  cx_buf_free(&out);
}

/* The follow-up hook: what the closing job asked for. */
static int64_t asked_survey, asked_customer;
static int ready_calls;
static cx_err fake_ready(void *ctx) {
  (void)ctx;
  ready_calls++;
  return CX_OK;
}
static cx_err fake_invite(void *ctx, struct sqlite3 *db, int64_t survey, int64_t customer, int64_t now_ms,
                          int64_t *invitation) {
  (void)ctx, (void)db, (void)now_ms;
  asked_survey = survey, asked_customer = customer;
  *invitation = 77;
  return CX_OK;
}

/* The replay clock dates changes; cases_customer is scoped; closing a case
 * of a rule with a follow-up survey calls the hook once, in the job. */
static void test_clock_customer_follow_up(void **state) {
  fixture *f = *state;
  char doc[160];
  snprintf(doc, sizeof doc, "{\"name\":\"D\",\"when\":\"response.nps <= 6\",\"unit\":\"2\",\"follow_up_survey\":\"%lld\"}",
           (long long)f->survey);
  put(f, CASES_RULES, doc);
  respond(f, "u9", 2, NULL, NULL);
  int64_t opened_at = 1700000000000LL;
  int n = 0;
  assert_int_equal(cases_tick(f->cs, opened_at, &n), CX_OK);
  assert_int_equal(n, 1);
  gv_principal north = {.role = GV_AGENT, .user_id = 3, .unit_id = 2, .actor = "user:n1@example.com"};
  gv_principal sales = {.role = GV_AGENT, .user_id = 5, .unit_id = 3, .actor = "user:l1@example.com"};
  int64_t customer = 0;
  assert_int_equal(cases_customer(f->cs, 1, &north, &customer), CX_OK);
  assert_true(customer > 0);
  int64_t none = 0;
  assert_int_equal(cases_customer(f->cs, 1, &sales, &none), CX_ENOTFOUND);
  assert_int_equal(cases_customer(f->cs, 99, &north, &none), CX_ENOTFOUND);
  cases_set_follow_up(f->cs, fake_invite, fake_ready, NULL);
  cx_buf out;
  cx_buf_init(&out, 1 << 20);
  analytics_error err;
  cases_set_clock(f->cs, opened_at + 3600000);
  cJSON *req = cJSON_Parse("{\"note\":\"called\",\"status\":\"resolved\",\"root_cause\":\"5\"}");
  assert_int_equal(cases_patch(f->cs, 1, req, &north, &out, &err), CX_OK);
  cJSON_Delete(req);
  cJSON *c = parsed(&out);
  assert_string_equal(field(c, "first_response_at"), "2023-11-14T23:13:20.000Z");
  assert_string_equal(field(c, "resolved_at"), "2023-11-14T23:13:20.000Z");
  cJSON_Delete(c);
  cases_set_clock(f->cs, 0);
  req = cJSON_Parse("{\"status\":\"closed\"}");
  assert_int_equal(cases_patch(f->cs, 1, req, &north, &out, &err), CX_OK);
  c = parsed(&out);
  const cJSON *fu = cJSON_GetObjectItem(c, "follow_up");
  assert_string_equal(field(fu, "invitation"), "77");
  cJSON_Delete(c);
  assert_int_equal(ready_calls, 1);
  assert_int_equal(asked_survey, f->survey);
  assert_int_equal(asked_customer, customer);
  /* reopened and closed again: the first invitation stays, no second */
  cJSON *reopen = cJSON_Parse("{\"status\":\"open\"}"), *resolve = cJSON_Parse("{\"status\":\"resolved\"}");
  asked_survey = 0;
  assert_int_equal(cases_patch(f->cs, 1, reopen, &north, &out, &err), CX_OK);
  assert_int_equal(cases_patch(f->cs, 1, resolve, &north, &out, &err), CX_OK);
  assert_int_equal(cases_patch(f->cs, 1, req, &north, &out, &err), CX_OK);
  assert_int_equal(asked_survey, 0);
  cJSON_Delete(reopen);
  cJSON_Delete(resolve);
  cJSON_Delete(req);
  cx_buf_free(&out);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
int main(void) {
  ingest_global_init(); /* cJSON trees of events live in their batch's arena */
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_validators), T(test_rules_open_once_round_robin),
                                     T(test_scoping), T(test_breaches_and_resolve), T(test_config_refusals),
                                     T(test_clock_customer_follow_up)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
