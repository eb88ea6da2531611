/* test_targets.c - unit tests of lib/govern/targets: the status rule
 * (direction, min_n, no value), the request check (every field refused
 * with its name, the KPIs' scopes and ranges, PATCH over a target), and
 * against a real store: a target's baseline, its value at a touchpoint,
 * a unit's subtree and a survey, and exactly one alert per transition
 * into off (a second check while off alerts nothing; back on, then off
 * again, alerts once more). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "stack.h"

#include "../../lib/base/buf.h"
#include "../../lib/base/util.h"
#include "../../lib/feedback/feedback.h"
#include "../../lib/govern/targets.h"
#include "../../lib/ingest/ingest.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the status rule ---- */

static void test_status(void **state) {
  (void)state;
  assert_int_equal(gv_target_status(30, 40, 30, 1, 30), GV_STATUS_ON); /* meets it exactly */
  assert_int_equal(gv_target_status(29.9, 40, 30, 1, 30), GV_STATUS_OFF);
  assert_int_equal(gv_target_status(2.5, 40, 3, 0, 30), GV_STATUS_ON); /* lower is better */
  assert_int_equal(gv_target_status(3.5, 40, 3, 0, 30), GV_STATUS_OFF);
  assert_int_equal(gv_target_status(80, 29, 30, 1, 30), GV_STATUS_UNKNOWN); /* below min_n */
  assert_int_equal(gv_target_status(80, 30, 30, 1, 30), GV_STATUS_ON);
  assert_int_equal(gv_target_status(NAN, 100, 30, 1, 30), GV_STATUS_UNKNOWN);
  assert_int_equal(gv_target_status(0.05, 1, 0.1, 0, 1), GV_STATUS_ON);
  assert_int_equal(gv_target_status(0.05, 0, 0.1, 0, 1), GV_STATUS_UNKNOWN);
  assert_string_equal(gv_status_name(GV_STATUS_OFF), "off");
}

/* ---- the request check ---- */

static const char *refused(const char *json, int partial, gv_target_spec *s) {
  static analytics_error err;
  cJSON *req = cJSON_Parse(json);
  assert_non_null(req);
  memset(&err, 0, sizeof err);
  cx_err rc = gv_target_check(req, partial, s, &err);
  cJSON_Delete(req);
  return rc == CX_EINVAL ? err.field : rc ? "?" : NULL;
}

static void test_check(void **state) {
  (void)state;
  gv_target_spec s;
  assert_null(refused("{\"kpi\":\"nps\",\"owner\":\"3\",\"target\":30}", 0, &s));
  assert_int_equal(s.kpi, GV_KPI_NPS);
  assert_int_equal(s.scope, GV_SCOPE_COMPANY);
  assert_int_equal(s.owner, 3);
  assert_int_equal(s.higher, 1);
  assert_int_equal(s.period_days, GV_TARGET_DEFAULT_PERIOD);
  assert_int_equal(s.min_n, GV_TARGET_DEFAULT_MIN_N);
  assert_int_equal(s.alert, GV_ALERT_EMAIL);
  assert_null(refused("{\"kpi\":\"churn_rate\",\"owner\":4,\"target\":0.1}", 0, &s));
  assert_int_equal(s.higher, 0); /* churn: lower is better */
  assert_null(refused("{\"kpi\":\"ces\",\"scope\":\"touchpoint\",\"scope_value\":\"Checkout\",\"owner\":\"1\","
                      "\"target\":3,\"direction\":\"lower\",\"period_days\":7,\"min_n\":5,\"alert\":\"both\","
                      "\"webhook_url\":\"https://hooks.example/kpi\"}", 0, &s));
  assert_string_equal(s.scope_value, "Checkout");
  assert_int_equal(s.alert, GV_ALERT_BOTH);
  assert_int_equal(s.higher, 0);
  /* each bad field named */
  assert_string_equal(refused("{\"kpi\":\"nope\",\"owner\":\"1\",\"target\":3}", 0, &s), "kpi");
  assert_string_equal(refused("{\"owner\":\"1\",\"target\":3}", 0, &s), "kpi");
  assert_string_equal(refused("{\"kpi\":\"nps\",\"scope\":\"planet\",\"owner\":\"1\",\"target\":3}", 0, &s), "scope");
  assert_string_equal(refused("{\"kpi\":\"nps\",\"scope\":\"unit\",\"owner\":\"1\",\"target\":3}", 0, &s), "scope_value");
  assert_string_equal(refused("{\"kpi\":\"nps\",\"scope\":\"unit\",\"scope_value\":\"north\",\"owner\":\"1\",\"target\":3}", 0, &s),
                      "scope_value");
  assert_string_equal(refused("{\"kpi\":\"churn_rate\",\"scope\":\"unit\",\"scope_value\":\"2\",\"owner\":\"1\",\"target\":0.1}", 0, &s),
                      "scope");
  assert_string_equal(refused("{\"kpi\":\"activation_rate\",\"scope\":\"touchpoint\",\"scope_value\":\"x\",\"owner\":\"1\",\"target\":0.1}", 0, &s),
                      "scope");
  assert_null(refused("{\"kpi\":\"loyalty_rate\",\"scope\":\"segment\",\"scope_value\":\"2\",\"owner\":\"1\",\"target\":0.3}", 0, &s));
  assert_string_equal(refused("{\"kpi\":\"nps\",\"target\":3}", 0, &s), "owner");
  assert_string_equal(refused("{\"kpi\":\"nps\",\"owner\":\"x\",\"target\":3}", 0, &s), "owner");
  assert_string_equal(refused("{\"kpi\":\"nps\",\"owner\":\"1\"}", 0, &s), "target");
  assert_string_equal(refused("{\"kpi\":\"nps\",\"owner\":\"1\",\"target\":\"30\"}", 0, &s), "target");
  /* the KPIs' ranges, at the limit and past it */
  assert_null(refused("{\"kpi\":\"nps\",\"owner\":\"1\",\"target\":-100}", 0, &s));
  assert_string_equal(refused("{\"kpi\":\"nps\",\"owner\":\"1\",\"target\":100.5}", 0, &s), "target");
  assert_null(refused("{\"kpi\":\"csat\",\"owner\":\"1\",\"target\":100}", 0, &s));
  assert_string_equal(refused("{\"kpi\":\"csat\",\"owner\":\"1\",\"target\":-1}", 0, &s), "target");
  assert_null(refused("{\"kpi\":\"ces\",\"owner\":\"1\",\"target\":7}", 0, &s));
  assert_string_equal(refused("{\"kpi\":\"ces\",\"owner\":\"1\",\"target\":0.5}", 0, &s), "target");
  assert_null(refused("{\"kpi\":\"repeat_rate\",\"owner\":\"1\",\"target\":1}", 0, &s));
  assert_string_equal(refused("{\"kpi\":\"repeat_rate\",\"owner\":\"1\",\"target\":30}", 0, &s), "target");
  assert_string_equal(refused("{\"kpi\":\"nps\",\"owner\":\"1\",\"target\":3,\"direction\":\"up\"}", 0, &s), "direction");
  assert_null(refused("{\"kpi\":\"nps\",\"owner\":\"1\",\"target\":3,\"period_days\":366}", 0, &s));
  assert_string_equal(refused("{\"kpi\":\"nps\",\"owner\":\"1\",\"target\":3,\"period_days\":367}", 0, &s), "period_days");
  assert_string_equal(refused("{\"kpi\":\"nps\",\"owner\":\"1\",\"target\":3,\"period_days\":0}", 0, &s), "period_days");
  assert_string_equal(refused("{\"kpi\":\"nps\",\"owner\":\"1\",\"target\":3,\"period_days\":1.5}", 0, &s), "period_days");
  assert_string_equal(refused("{\"kpi\":\"nps\",\"owner\":\"1\",\"target\":3,\"min_n\":0}", 0, &s), "min_n");
  assert_string_equal(refused("{\"kpi\":\"nps\",\"owner\":\"1\",\"target\":3,\"alert\":\"sms\"}", 0, &s), "alert");
  assert_string_equal(refused("{\"kpi\":\"nps\",\"owner\":\"1\",\"target\":3,\"alert\":\"webhook\"}", 0, &s), "webhook_url");
  assert_string_equal(refused("{\"kpi\":\"nps\",\"owner\":\"1\",\"target\":3,\"alert\":\"webhook\",\"webhook_url\":\"ftp://x\"}", 0, &s),
                      "webhook_url");
  assert_string_equal(refused("{\"kpi\":\"nps\",\"owner\":\"1\",\"target\":3,\"colour\":\"red\"}", 0, &s), "colour");
  /* PATCH: over the target as it is; a change of KPI checks the range again */
  assert_null(refused("{\"kpi\":\"nps\",\"owner\":\"1\",\"target\":30}", 0, &s));
  assert_null(refused("{\"target\":40}", 1, &s));
  assert_true(s.target == 40);
  assert_string_equal(refused("{\"kpi\":\"csat\",\"target\":-5}", 1, &s), "target");
  assert_string_equal(refused("{\"kpi\":\"ces\"}", 1, &s), "target"); /* 40 is no CES */
  assert_string_equal(refused("{\"scope\":\"survey\"}", 1, &s), "scope_value");
  assert_true(s.target == 40); /* a refused PATCH changes nothing */
}

/* ---- against a store ---- */

typedef struct {
  unit_stack u; /* the data directory and the modules under the one tested */
  govern *gv;
  gv_targets *t;
  int64_t survey, owner, north, care;
} fixture;

static int64_t id_of(const cx_buf *b) {
  const char *p = strstr(b->p, "\"id\":\"");
  return p ? strtoll(p + 6, NULL, 10) : 0;
}

static int64_t call(fixture *f, int what, const char *json) {
  cJSON *req = cJSON_Parse(json);
  cx_buf out;
  cx_buf_init(&out, 1 << 20);
  analytics_error err = {{0}, {0}, {0}};
  cx_err rc = what == 0   ? feedback_survey_create(f->u.fb, req, &out, &err)
              : what == 1 ? gv_unit_create(f->gv, req, &out, NULL, &err)
              : what == 2 ? gv_user_create(f->gv, req, &out, NULL, &err)
                          : gv_target_create(f->t, req, &out, NULL, &err);
  if (rc) print_error("%s: %s %s\n", json, err.field, err.message);
  assert_int_equal(rc, CX_OK);
  int64_t id = id_of(&out);
  cJSON_Delete(req);
  cx_buf_free(&out);
  return id;
}

static void respond(fixture *f, const char *user, int score, const char *touchpoint, const char *unit) {
  char json[512];
  snprintf(json, sizeof json, "{\"customer\":{\"user_id\":\"%s\"},\"answers\":{\"q1\":%d},\"context\":{\"touchpoint\":\"%s\",\"unit\":\"%s\"}}",
           user, score, touchpoint, unit);
  cJSON *req = cJSON_Parse(json);
  int64_t id, cust;
  analytics_error err;
  assert_int_equal(feedback_respond(f->u.fb, f->survey, req, &id, &cust, &err), CX_OK);
  cJSON_Delete(req);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  if (unit_stack_open(&f->u, "/tmp/cxm-targets-XXXXXX", NULL) || gv_open(f->u.st, &f->gv)) return -1;
  gv_targets_cfg cfg = {.st = f->u.st, .pr = f->u.pr, .fb = f->u.fb, .gv = f->gv, .base_url = "http://cx.example"};
  if (gv_targets_open(&cfg, &f->t)) return -1;
  *state = f;
  f->survey = call(f, 0, "{\"name\":\"s\",\"questions\":[{\"id\":\"q1\",\"type\":\"nps\",\"text\":\"Likely?\"}]}");
  f->care = call(f, 1, "{\"name\":\"Care\"}");
  char json[256];
  snprintf(json, sizeof json, "{\"name\":\"North\",\"parent\":\"%lld\"}", (long long)f->care);
  f->north = call(f, 1, json);
  f->owner = call(f, 2, "{\"email\":\"owner@example.com\",\"name\":\"Olga\",\"password\":\"a long password\",\"role\":\"cx_lead\"}");
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  gv_targets_close(f->t);
  gv_close(f->gv);
  unit_stack_close(&f->u);
  free(f);
  return 0;
}

static int64_t outbox_rows(fixture *f) {
  sqlite3 *db = store_reader_get(f->u.st);
  int64_t n = -1;
  store_step_named(db, "SELECT count(*) FROM outbox WHERE ref LIKE 'kpi-target:%'", NULL, 0, &n);
  store_reader_put(f->u.st, db);
  return n;
}

static void value_of(fixture *f, int64_t id, double *v, const char **status) {
  cx_buf b;
  cx_buf_init(&b, 1 << 20);
  assert_int_equal(gv_target_get(f->t, id, &b), CX_OK);
  cJSON *o = cJSON_Parse(b.p);
  const cJSON *x = cJSON_GetObjectItem(o, "value");
  *v = cJSON_IsNumber(x) ? x->valuedouble : NAN;
  static char st[16];
  snprintf(st, sizeof st, "%s", cJSON_GetObjectItem(o, "status")->valuestring);
  *status = st;
  cJSON_Delete(o);
  cx_buf_free(&b);
}

static void test_one_alert_per_transition(void **state) {
  fixture *f = *state;
  for (int i = 0; i < 4; i++) {
    char u[16];
    snprintf(u, sizeof u, "p%d", i);
    respond(f, u, 10, "Checkout", "North");
  }
  respond(f, "x0", 3, "Delivery", "Care");
  char json[512];
  snprintf(json, sizeof json, "{\"kpi\":\"nps\",\"scope\":\"touchpoint\",\"scope_value\":\"Checkout\",\"owner\":\"%lld\",\"target\":30,\"min_n\":4}",
           (long long)f->owner);
  int64_t tp = call(f, 3, json);
  snprintf(json, sizeof json, "{\"kpi\":\"nps\",\"scope\":\"unit\",\"scope_value\":\"%lld\",\"owner\":\"%lld\",\"target\":0,\"min_n\":1,\"alert\":\"none\"}",
           (long long)f->care, (long long)f->owner);
  int64_t unit = call(f, 3, json);
  double v;
  const char *st;
  value_of(f, tp, &v, &st);
  assert_true(v == 100);
  assert_string_equal(st, "on");
  value_of(f, unit, &v, &st); /* Care's subtree: North's four promoters and Care's detractor */
  assert_true(fabs(v - 60) < 1e-9);
  size_t alerts = 9;
  assert_int_equal(gv_targets_tick(f->t, &alerts), CX_OK);
  assert_int_equal(alerts, 0);
  /* detractors at Checkout: off, one alert; again: none */
  for (int i = 0; i < 6; i++) {
    char u[16];
    snprintf(u, sizeof u, "d%d", i);
    respond(f, u, 1, "Checkout", "North");
  }
  value_of(f, tp, &v, &st);
  assert_true(fabs(v - -20) < 1e-9);
  assert_string_equal(st, "off");
  assert_int_equal(gv_targets_tick(f->t, &alerts), CX_OK);
  assert_int_equal(alerts, 1);
  assert_int_equal(outbox_rows(f), 1);
  assert_int_equal(gv_targets_tick(f->t, &alerts), CX_OK);
  assert_int_equal(alerts, 0);
  assert_int_equal(outbox_rows(f), 1);
  /* back on (a lower target), then off again: one more */
  cJSON *req = cJSON_Parse("{\"target\":-50}");
  cx_buf out;
  cx_buf_init(&out, 1 << 20);
  analytics_error err;
  assert_int_equal(gv_target_update(f->t, tp, req, &out, NULL, NULL, &err), CX_OK);
  cx_buf_free(&out);
  cJSON_Delete(req);
  assert_int_equal(gv_targets_tick(f->t, &alerts), CX_OK);
  assert_int_equal(alerts, 0);
  for (int i = 6; i < 30; i++) {
    char u[16];
    snprintf(u, sizeof u, "d%d", i);
    respond(f, u, 0, "Checkout", "North");
  }
  assert_int_equal(gv_targets_tick(f->t, &alerts), CX_OK);
  assert_int_equal(alerts, 1);
  assert_int_equal(outbox_rows(f), 2);
  /* the history holds every check and the transitions */
  cx_buf_init(&out, 1 << 20);
  assert_int_equal(gv_target_history(f->t, tp, 100, &out), CX_OK);
  assert_non_null(strstr(out.p, "\"from\":\"on\",\"to\":\"off\""));
  cx_buf_free(&out);
  /* a scope value naming nothing, an unknown owner: refused, nothing stored */
  snprintf(json, sizeof json, "{\"kpi\":\"nps\",\"scope\":\"survey\",\"scope_value\":\"999\",\"owner\":\"%lld\",\"target\":3}",
           (long long)f->owner);
  req = cJSON_Parse(json);
  cx_buf_init(&out, 1 << 20);
  assert_int_equal(gv_target_create(f->t, req, &out, NULL, &err), CX_EINVAL);
  assert_string_equal(err.field, "scope_value");
  cJSON_Delete(req);
  req = cJSON_Parse("{\"kpi\":\"nps\",\"owner\":\"77\",\"target\":3}");
  assert_int_equal(gv_target_create(f->t, req, &out, NULL, &err), CX_EINVAL);
  assert_string_equal(err.field, "owner");
  cJSON_Delete(req);
  cx_buf_free(&out);
  assert_int_equal(gv_target_delete(f->t, unit, NULL), CX_OK);
  assert_int_equal(gv_target_delete(f->t, unit, NULL), CX_ENOTFOUND);
}

int main(void) {
  ingest_global_init(); /* parsed messages live in the batch's arena */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_status),
      cmocka_unit_test(test_check),
      cmocka_unit_test_setup_teardown(test_one_alert_per_transition, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
