/* test_govern.c - unit tests of lib/govern: the permission matrix (route
 * patterns, roles within roles, least privilege for unknown routes), the
 * unit tree (scope, cycles refused, a unit in use kept), users and
 * sign-in (argon2id, the same answer for an unknown e-mail, lockout after
 * five failures, sessions and their CSRF tokens, a role change revoking
 * credentials), API tokens within the creator's role, and the audit
 * chain (verified, and broken by a change made behind cxm's back). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit.h"

#include "../../lib/base/buf.h"
#include "../../lib/base/log.h"
#include "../../lib/base/util.h"
#include "../../lib/govern/govern.h"
#include "../../lib/store/store.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the matrix ---- */

static void test_routes(void **state) {
  (void)state;
  assert_int_equal(gv_route_permission("GET", "customers"), GV_P_READ);
  assert_int_equal(gv_route_permission("HEAD", "customers/12/events"), GV_P_READ);
  assert_int_equal(gv_route_permission("GET", "customers/12/export"), GV_P_ADMIN);
  assert_int_equal(gv_route_permission("DELETE", "customers/12"), GV_P_ADMIN);
  assert_int_equal(gv_route_permission("POST", "segments"), GV_P_ANALYSE);
  assert_int_equal(gv_route_permission("POST", "segments/preview"), GV_P_READ);
  assert_int_equal(gv_route_permission("PATCH", "segments/3"), GV_P_ANALYSE);
  assert_int_equal(gv_route_permission("POST", "surveys/3/responses"), GV_P_RESPOND);
  assert_int_equal(gv_route_permission("POST", "surveys/3/close"), GV_P_PROGRAM);
  assert_int_equal(gv_route_permission("GET", "surveys/3"), GV_P_FEEDBACK);
  assert_int_equal(gv_route_permission("GET", "surveys/3/distributions"), GV_P_READ);
  assert_int_equal(gv_route_permission("GET", "feedback"), GV_P_FEEDBACK);
  assert_int_equal(gv_route_permission("PATCH", "cases/9"), GV_P_WORK);
  assert_int_equal(gv_route_permission("GET", "me"), GV_P_NONE);
  assert_int_equal(gv_route_permission("POST", "users"), GV_P_ADMIN);
  assert_int_equal(gv_route_permission("GET", "users"), GV_P_PEOPLE);
  assert_int_equal(gv_route_permission("GET", "audit/verify"), GV_P_ADMIN);
  /* what the matrix does not name needs admin; empty segments match nothing */
  assert_int_equal(gv_route_permission("GET", "no-such-thing"), GV_P_ADMIN);
  assert_int_equal(gv_route_permission("GET", "customers//events"), GV_P_ADMIN);
  assert_int_equal(gv_route_permission("GET", ""), GV_P_ADMIN);
  /* queries do not mutate; changes do */
  assert_false(gv_route_mutates("POST", "analytics/funnel"));
  assert_false(gv_route_mutates("GET", "segments"));
  assert_true(gv_route_mutates("POST", "segments"));
  assert_true(gv_route_mutates("DELETE", "units/4"));
}

static void test_roles(void **state) {
  (void)state;
  for (int r = 0; r < GV_ROLE_COUNT; r++) {
    assert_true(gv_allows((gv_role)r, GV_P_NONE));
    assert_true(gv_role_within((gv_role)r, (gv_role)r));
    assert_true(gv_role_within((gv_role)r, GV_ADMIN));
    gv_role back;
    assert_int_equal(gv_role_parse(gv_role_name((gv_role)r), &back), CX_OK);
    assert_int_equal(back, r);
  }
  assert_false(gv_allows(GV_AGENT, GV_P_READ));
  assert_true(gv_allows(GV_AGENT, GV_P_WORK));
  assert_false(gv_allows(GV_VIEWER, GV_P_WORK));
  assert_false(gv_allows(GV_CX_LEAD, GV_P_ADMIN));
  assert_true(gv_role_within(GV_VIEWER, GV_ANALYST));
  assert_false(gv_role_within(GV_AGENT, GV_VIEWER)); /* work */
  assert_false(gv_role_within(GV_VIEWER, GV_AGENT)); /* read */
  gv_role r;
  assert_int_equal(gv_role_parse("root", &r), CX_EINVAL);
  cx_buf b;
  cx_buf_init(&b, 1 << 20);
  assert_int_equal(gv_matrix_json(&b), CX_OK);
  assert_non_null(strstr(b.p, "\"admin\":[\"admin\"]"));
  cx_buf_free(&b);
}

/* ---- with a store ---- */

typedef struct {
  char dir[64];
  store *st;
  govern *g;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/cxm-govern-XXXXXX");
  if (!mkdtemp(f->dir) || store_open(f->dir, 1, &f->st)) return -1;
  store_writer_cfg cfg = {.max_queue = 1000, .max_group = 100};
  if (store_writer_start(f->st, &cfg) || gv_open(f->st, &f->g)) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  gv_close(f->g);
  store_close(f->st);
  remove_dir(f->dir);
  free(f);
  return 0;
}

/* Creates from JSON text; the new id, or 0 with err filled. */
static int64_t make(fixture *f, int unit, const char *json, cx_err *rc_out, analytics_error *err) {
  cJSON *req = cJSON_Parse(json);
  assert_non_null(req);
  cx_buf b;
  cx_buf_init(&b, 1 << 16);
  cx_err rc = unit ? gv_unit_create(f->g, req, &b, NULL, err) : gv_user_create(f->g, req, &b, NULL, err);
  cJSON_Delete(req);
  int64_t id = 0;
  if (!rc) id = strtoll(strstr(b.p, "\"id\":\"") + 6, NULL, 10);
  cx_buf_free(&b);
  if (rc_out) *rc_out = rc;
  return id;
}

static void test_units(void **state) {
  fixture *f = *state;
  analytics_error err;
  cx_err rc;
  int64_t eu = make(f, 1, "{\"name\":\"Europe\"}", NULL, &err);
  int64_t north = make(f, 1, "{\"name\":\"North\",\"parent\":\"1\"}", NULL, &err);
  char buf[80];
  snprintf(buf, sizeof buf, "{\"name\":\"Oslo\",\"parent\":%lld}", (long long)north);
  int64_t oslo = make(f, 1, buf, NULL, &err);
  int64_t us = make(f, 1, "{\"name\":\"US\"}", NULL, &err);
  assert_true(eu && north && oslo && us);
  assert_true(gv_unit_in_scope(f->g, eu, oslo));
  assert_true(gv_unit_in_scope(f->g, north, north));
  assert_false(gv_unit_in_scope(f->g, north, eu));
  assert_false(gv_unit_in_scope(f->g, eu, us));
  assert_false(gv_unit_in_scope(f->g, eu, 0));
  assert_true(gv_unit_in_scope(f->g, GV_ALL_UNITS, us));
  assert_true(gv_unit_name_in_scope(f->g, eu, "Oslo"));
  assert_false(gv_unit_name_in_scope(f->g, eu, "US"));
  assert_false(gv_unit_name_in_scope(f->g, eu, "Nowhere"));
  assert_int_equal(gv_unit_by_name(f->g, "US"), us);
  /* taken name, unknown parent */
  make(f, 1, "{\"name\":\"Europe\"}", &rc, &err);
  assert_int_equal(rc, CX_EEXIST);
  make(f, 1, "{\"name\":\"X\",\"parent\":\"99\"}", &rc, &err);
  assert_int_equal(rc, CX_EINVAL);
  assert_string_equal(err.field, "parent");
  /* Europe may not move under Oslo */
  snprintf(buf, sizeof buf, "{\"parent\":\"%lld\"}", (long long)oslo);
  cJSON *req = cJSON_Parse(buf);
  cx_buf b;
  cx_buf_init(&b, 1 << 16);
  assert_int_equal(gv_unit_update(f->g, eu, req, &b, NULL, NULL, &err), CX_EINVAL);
  assert_string_equal(err.field, "parent");
  cJSON_Delete(req);
  /* in use: sub-units */
  assert_int_equal(gv_unit_delete(f->g, north, NULL, &err), CX_EINVAL);
  assert_string_equal(err.code, "unit_in_use");
  assert_int_equal(gv_unit_delete(f->g, oslo, NULL, &err), CX_OK);
  assert_int_equal(gv_unit_delete(f->g, oslo, NULL, &err), CX_ENOTFOUND);
  assert_false(gv_unit_in_scope(f->g, eu, oslo));
  cx_buf_free(&b);
}

static void test_signin(void **state) {
  fixture *f = *state;
  analytics_error err;
  cx_err rc;
  make(f, 1, "{\"name\":\"Care\"}", NULL, &err);
  int64_t ana = make(f, 0, "{\"email\":\"Ana@Example.com\",\"name\":\"Ana\",\"password\":\"correct horse battery\",\"role\":\"agent\",\"unit\":\"1\"}", &rc, &err);
  assert_true(ana > 0);
  /* an agent without a unit is refused */
  make(f, 0, "{\"email\":\"b@example.com\",\"name\":\"B\",\"password\":\"correct horse battery\",\"role\":\"agent\"}", &rc, &err);
  assert_int_equal(rc, CX_EINVAL);
  assert_string_equal(err.code, "unit_required");
  gv_login_result res;
  int retry = 0;
  assert_int_equal(gv_login(f->g, "ana@example.com", "correct horse battery", "10.0.0.1", &res, &retry), CX_OK);
  assert_int_equal(res.who.role, GV_AGENT);
  assert_int_equal(res.who.unit_id, 1);
  assert_string_equal(res.who.actor, "user:ana@example.com");
  /* the session authenticates as a session only; the token as a token only */
  gv_principal p;
  assert_int_equal(gv_authenticate(f->g, res.session, strlen(res.session), 1, &p), CX_OK);
  assert_true(p.session);
  assert_int_equal(gv_authenticate(f->g, res.session, strlen(res.session), 0, &p), CX_EAUTH);
  assert_int_equal(gv_authenticate(f->g, res.token, strlen(res.token), 0, &p), CX_OK);
  char csrf[65], other[65];
  gv_csrf_token(res.session, strlen(res.session), csrf);
  assert_string_equal(csrf, res.csrf);
  gv_csrf_token("cxm_s_other", 11, other);
  assert_string_not_equal(csrf, other);
  /* an API token within the role; one above it refused */
  cJSON *req = cJSON_Parse("{\"name\":\"mine\",\"role\":\"viewer\"}");
  cx_buf b;
  cx_buf_init(&b, 1 << 16);
  assert_int_equal(gv_token_create(f->g, &p, req, &b, NULL, &err), CX_EINVAL);
  assert_string_equal(err.code, "role_too_high");
  cJSON_Delete(req);
  /* wrong passwords: five lock the e-mail, even against the right one */
  for (int i = 0; i < 5; i++)
    assert_int_equal(gv_login(f->g, "ana@example.com", "wrong", "10.0.0.2", &res, &retry), CX_EAUTH);
  assert_int_equal(gv_login(f->g, "ANA@example.com", "correct horse battery", "10.0.0.3", &res, &retry), CX_EFULL);
  assert_true(retry > 800 && retry <= 900);
  /* an unknown e-mail is simply wrong */
  assert_int_equal(gv_login(f->g, "nobody@example.com", "correct horse battery", "10.0.0.4", &res, &retry), CX_EAUTH);
  /* a role change revokes what the user held */
  req = cJSON_Parse("{\"role\":\"viewer\"}");
  cx_buf_reset(&b);
  assert_int_equal(gv_user_update(f->g, ana, req, &b, NULL, NULL, &err), CX_OK);
  cJSON_Delete(req);
  assert_non_null(strstr(b.p, "\"role\":\"viewer\""));
  assert_null(strstr(b.p, "argon2"));
  assert_int_equal(gv_authenticate(f->g, res.token, strlen(res.token), 0, &p), CX_EAUTH);
  cx_buf_free(&b);
}

static void test_audit_chain(void **state) {
  fixture *f = *state;
  assert_int_equal(gv_audit(f->g, "user:a@example.com", "unit.create", "units/1", NULL, "{\"name\":\"A\"}"), CX_OK);
  assert_int_equal(gv_audit(f->g, "token:admin", "POST segments", "segments", NULL, "{}"), CX_OK);
  assert_int_equal(gv_audit(f->g, "user:a@example.com", "unit.update", "units/1", "{\"name\":\"A\"}", "{\"name\":\"B\"}"), CX_OK);
  char path[128], head[65];
  snprintf(path, sizeof path, "%s/cxm.db", f->dir);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  int64_t n, bad;
  assert_int_equal(gv_audit_verify(db, &n, &bad, head), CX_OK);
  assert_int_equal(n, 3);
  assert_int_equal(bad, 0);
  assert_int_equal(strlen(head), 64);
  /* a before of NULL and of "" differ */
  assert_int_equal(sqlite3_exec(db, "UPDATE audit SET before = '' WHERE id = 2", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(gv_audit_verify(db, &n, &bad, head), CX_OK);
  assert_int_equal(bad, 2);
  assert_int_equal(sqlite3_exec(db, "UPDATE audit SET before = NULL WHERE id = 2", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(gv_audit_verify(db, &n, &bad, head), CX_OK);
  assert_int_equal(bad, 0);
  /* removing an entry breaks the one after it */
  assert_int_equal(sqlite3_exec(db, "DELETE FROM audit WHERE id = 2", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(gv_audit_verify(db, &n, &bad, head), CX_OK);
  assert_int_equal(bad, 3);
  sqlite3_close(db);
  /* the list, newest first, filtered */
  cx_buf b;
  cx_buf_init(&b, 1 << 16);
  gv_audit_query q = {.actor = "user:a@example.com", .from = INT64_MIN, .to = INT64_MAX, .limit = 10};
  assert_int_equal(gv_audit_list(f->g, &q, &b), CX_OK);
  assert_non_null(strstr(b.p, "\"before\":{\"name\":\"A\"},\"after\":{\"name\":\"B\"}"));
  assert_true(strstr(b.p, "unit.update") < strstr(b.p, "unit.create"));
  cx_buf_free(&b);
}

int main(void) {
  cx_log_set_level(2);
  if (cx_crypto_init()) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_routes),
      cmocka_unit_test(test_roles),
      cmocka_unit_test_setup_teardown(test_units, setup, teardown),
      cmocka_unit_test_setup_teardown(test_signin, setup, teardown),
      cmocka_unit_test_setup_teardown(test_audit_chain, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
