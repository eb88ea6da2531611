/* test_maturity.c - unit tests of the CX maturity self-assessment
 * (lib/govern/maturity*.c): the model's shape, the level cut-offs at and
 * either side of each bound, scoring with its rounding, the weakest
 * components and their ties, every refusal of the request validator (and
 * its limits), and the store: save, page, read, delete, and the evidence
 * read from tables written here by hand (the cases of migration 10
 * included). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit.h"

#include "../../lib/base/buf.h"
#include "../../lib/base/time.h"
#include "../../lib/govern/maturity.h"
#include "../../lib/store/store.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the model ---- */

static void test_model_shape(void **state) {
  (void)state;
  const char *seen[GV_MATURITY_COMPONENTS * GV_MATURITY_MAX_STATEMENTS];
  size_t n = 0;
  for (int c = 0; c < GV_MATURITY_COMPONENTS; c++) {
    const gv_maturity_component *m = &gv_maturity_model[c];
    assert_true(m->nstatements >= 3 && m->nstatements <= GV_MATURITY_MAX_STATEMENTS);
    assert_true(strlen(m->name) > 0 && strlen(m->description) > 0);
    for (size_t i = 0; i < m->nstatements; i++) {
      const char *id = m->statements[i].id;
      assert_true(strlen(id) <= GV_MATURITY_ID_MAX);
      assert_int_equal(strncmp(id, m->id, strlen(m->id)), 0); /* named after its component */
      assert_true(strlen(m->statements[i].text) > 20);
      for (size_t k = 0; k < n; k++) assert_string_not_equal(seen[k], id);
      seen[n++] = id;
    }
    for (int l = 0; l < GV_MATURITY_LEVELS; l++) assert_true(strlen(m->next_step[l]) > 20);
  }
  assert_int_equal(gv_maturity_levels[0].from, 100);
  for (int l = 1; l < GV_MATURITY_LEVELS; l++) assert_true(gv_maturity_levels[l].from > gv_maturity_levels[l - 1].from);
  cx_buf b;
  cx_buf_init(&b, 1 << 20);
  assert_int_equal(gv_maturity_model_json(&b), CX_OK);
  cJSON *doc = cJSON_Parse(b.p);
  assert_non_null(doc);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "components")), GV_MATURITY_COMPONENTS);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "levels")), GV_MATURITY_LEVELS);
  cJSON_Delete(doc);
  cx_buf_free(&b);
}

static void test_level_cutoffs(void **state) {
  (void)state;
  static const struct {
    int score, level;
  } cases[] = {{100, 0}, {179, 0}, {180, 1}, {259, 1}, {260, 2}, {339, 2},
               {340, 3}, {419, 3}, {420, 4}, {500, 4}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    assert_int_equal(gv_maturity_level_of(cases[i].score), cases[i].level);
}

/* ---- scoring ---- */

static void fill(gv_maturity_answers *a, int v) {
  memset(a, 0, sizeof *a);
  for (int c = 0; c < GV_MATURITY_COMPONENTS; c++)
    for (size_t i = 0; i < gv_maturity_model[c].nstatements; i++) a->answer[c][i] = v;
}

static int comp(const char *id) {
  for (int c = 0; c < GV_MATURITY_COMPONENTS; c++)
    if (!strcmp(gv_maturity_model[c].id, id)) return c;
  fail_msg("no component %s", id);
  return -1;
}

static void test_scoring(void **state) {
  (void)state;
  gv_maturity_answers a;
  gv_maturity_result r;
  fill(&a, 3);
  gv_maturity_score(&a, &r);
  for (int c = 0; c < GV_MATURITY_COMPONENTS; c++) assert_int_equal(r.component[c], 300);
  assert_int_equal(r.overall, 300);
  assert_int_equal(r.overall_level, 2); /* practice */

  /* culture has 5 statements: 4,4,4,4,5 = 4.20, exactly Differentiate */
  int cu = comp("culture"), ch = comp("change"), le = comp("leadership");
  assert_int_equal((int)gv_maturity_model[cu].nstatements, 5);
  assert_int_equal((int)gv_maturity_model[ch].nstatements, 3);
  a.answer[cu][4] = 5, a.answer[cu][0] = a.answer[cu][1] = a.answer[cu][2] = a.answer[cu][3] = 4;
  /* change has 3: 2,2,1 = 1.666.. -> 1.67 (half up), Initiate */
  a.answer[ch][0] = 2, a.answer[ch][1] = 2, a.answer[ch][2] = 1;
  /* leadership has 4: 1,2,2,2 = 1.75, Initiate; one more point = 2.00 */
  a.answer[le][0] = 1, a.answer[le][1] = a.answer[le][2] = a.answer[le][3] = 2;
  gv_maturity_score(&a, &r);
  assert_int_equal(r.component[cu], 420);
  assert_int_equal(r.component_level[cu], 4);
  assert_int_equal(r.component[ch], 167);
  assert_int_equal(r.component_level[ch], 0);
  assert_int_equal(r.component[le], 175);
  /* overall: (420 + 167 + 175 + 7 * 300) / 10 = 286.2 -> 286 */
  assert_int_equal(r.overall, 286);
  assert_int_equal(r.overall_level, 2);
  /* weakest: change 1.67, leadership 1.75, then the first of the 3.00s in
   * model order (people) */
  assert_int_equal(r.weakest[0], ch);
  assert_int_equal(r.weakest[1], le);
  assert_int_equal(r.weakest[2], comp("people"));

  /* 2/3 rounds to .67, 1/3 to .33; half a hundredth rounds up */
  fill(&a, 1);
  a.answer[ch][0] = 2;
  gv_maturity_score(&a, &r);
  assert_int_equal(r.component[ch], 133);
  fill(&a, 5);
  gv_maturity_score(&a, &r);
  assert_int_equal(r.overall, 500);
  assert_int_equal(r.overall_level, 4);
  /* all equal: the first three in model order */
  for (int k = 0; k < GV_MATURITY_RECOMMENDATIONS; k++) assert_int_equal(r.weakest[k], k);
  /* the overall rounds half up: components summing to x.5 hundredths */
  fill(&a, 1);
  a.answer[cu][0] = 2; /* culture 1.20 */
  a.answer[le][0] = 2; /* leadership 1.25 */
  gv_maturity_score(&a, &r);
  assert_int_equal(r.overall, 105); /* (120 + 125 + 800) / 10 = 104.5 -> 105 */
  /* the overall's level is decided on the shown score: 1.80 is Develop */
  fill(&a, 2);
  for (int c = 0; c < 2; c++)
    for (size_t i = 0; i < gv_maturity_model[c].nstatements; i++) a.answer[c][i] = 1;
  gv_maturity_score(&a, &r);
  assert_int_equal(r.overall, 180);
  assert_int_equal(r.overall_level, 1);
}

/* ---- the validator ---- */

static cJSON *valid_request(int v) {
  cJSON *req = cJSON_CreateObject(), *ans = cJSON_AddObjectToObject(req, "answers");
  for (int c = 0; c < GV_MATURITY_COMPONENTS; c++)
    for (size_t i = 0; i < gv_maturity_model[c].nstatements; i++)
      cJSON_AddNumberToObject(ans, gv_maturity_model[c].statements[i].id, v);
  return req;
}

static void refused(cJSON *req, const char *code, const char *field) {
  gv_maturity_answers a;
  const char *note;
  analytics_error err = {{0}, {0}, {0}};
  assert_int_equal(gv_maturity_check(req, &a, &note, &err), CX_EINVAL);
  assert_string_equal(err.code, code);
  assert_string_equal(err.field, field);
  assert_true(strlen(err.message) > 10);
  cJSON_Delete(req);
}

static void test_validation(void **state) {
  (void)state;
  gv_maturity_answers a;
  const char *note;
  analytics_error err = {{0}, {0}, {0}};
  cJSON *req = valid_request(4);
  assert_int_equal(gv_maturity_check(req, &a, &note, &err), CX_OK);
  assert_null(note);
  assert_int_equal(a.answer[0][0], 4);
  cJSON_Delete(req);

  /* missing: the first in model order is named */
  req = valid_request(3);
  cJSON_DeleteItemFromObject(cJSON_GetObjectItem(req, "answers"), "governance_2");
  cJSON_DeleteItemFromObject(cJSON_GetObjectItem(req, "answers"), "technology_4");
  refused(req, "missing_answer", "answers.governance_2");
  /* out of range, not whole, wrong type */
  const char *bad[] = {"0", "6", "-1", "2.5", "\"3\"", "true", "null", "[3]", "{}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    req = valid_request(3);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(req, "answers"), "insight_2", cJSON_Parse(bad[i]));
    refused(req, "invalid_field", "answers.insight_2");
  }
  /* unknown statement, named; a name that cannot be quoted is not */
  req = valid_request(3);
  cJSON_AddNumberToObject(cJSON_GetObjectItem(req, "answers"), "culture_9", 3);
  refused(req, "unknown_statement", "answers.culture_9");
  req = valid_request(3);
  cJSON_AddNumberToObject(cJSON_GetObjectItem(req, "answers"), "a b\"c", 3);
  refused(req, "unknown_statement", "answers");
  /* answered twice (a JSON object with a repeated key) */
  req = cJSON_Parse("{\"answers\":{\"culture_1\":3,\"culture_1\":4}}");
  refused(req, "invalid_field", "answers.culture_1");
  /* the request itself */
  refused(cJSON_Parse("{}"), "invalid_field", "answers");
  refused(cJSON_Parse("{\"answers\":[1,2]}"), "invalid_field", "answers");
  refused(cJSON_Parse("[]"), "malformed_json", "");
  req = valid_request(3);
  cJSON_AddStringToObject(req, "score", "high");
  refused(req, "invalid_field", "score");
  req = valid_request(3);
  cJSON_AddNumberToObject(req, "note", 1);
  refused(req, "invalid_field", "note");
  /* the note: at its limit, and one byte past it */
  char *text = malloc(GV_MATURITY_NOTE_MAX + 2);
  memset(text, 'n', GV_MATURITY_NOTE_MAX + 1);
  text[GV_MATURITY_NOTE_MAX + 1] = 0;
  req = valid_request(3);
  cJSON_AddStringToObject(req, "note", text);
  refused(req, "invalid_field", "note");
  text[GV_MATURITY_NOTE_MAX] = 0;
  req = valid_request(3);
  cJSON_AddStringToObject(req, "note", text);
  assert_int_equal(gv_maturity_check(req, &a, &note, &err), CX_OK);
  assert_int_equal(strlen(note), GV_MATURITY_NOTE_MAX);
  cJSON_Delete(req);
  free(text);
}

/* ---- the store and the evidence ---- */

typedef struct {
  char dir[64];
  store *st;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/cxm-maturity-XXXXXX");
  if (!mkdtemp(f->dir) || store_open(f->dir, 1, &f->st)) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  store_close(f->st);
  remove_dir(f->dir);
  free(f);
  return 0;
}

static void start(fixture *f) {
  store_writer_cfg cfg = {.max_queue = 100, .max_group = 10};
  assert_int_equal(store_writer_start(f->st, &cfg), CX_OK);
}

static cJSON *parse(cx_buf *b) {
  cJSON *doc = cJSON_Parse(b->p);
  assert_non_null(doc);
  cx_buf_reset(b);
  return doc;
}

static void test_store(void **state) {
  fixture *f = *state;
  start(f);
  cx_buf b;
  cx_buf_init(&b, 1 << 20);
  analytics_error err = {{0}, {0}, {0}};
  /* a refused request saves nothing */
  cJSON *req = valid_request(9);
  assert_int_equal(gv_maturity_create(f->st, req, "token:admin", 1000, &b, &err), CX_EINVAL);
  cJSON_Delete(req);
  assert_int_equal(gv_maturity_list(f->st, 0, 10, &b), CX_OK);
  cJSON *doc = parse(&b);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "assessments")), 0);
  cJSON_Delete(doc);
  /* three assessments */
  for (int v = 1; v <= 3; v++) {
    req = valid_request(v);
    cJSON_AddStringToObject(req, "note", v == 2 ? "second" : "x");
    assert_int_equal(gv_maturity_create(f->st, req, "user:lead@example.com", 1000 + v, &b, &err), CX_OK);
    cJSON_Delete(req);
    doc = parse(&b);
    assert_string_equal(cJSON_GetObjectItem(doc, "actor")->valuestring, "user:lead@example.com");
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "overall"), "score")->valuedouble, v);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "recommendations")), GV_MATURITY_RECOMMENDATIONS);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "evidence")) >= 5);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "answers"), "culture_1")->valueint, v);
    cJSON_Delete(doc);
  }
  /* newest first, two per page */
  assert_int_equal(gv_maturity_list(f->st, 0, 2, &b), CX_OK);
  doc = parse(&b);
  cJSON *list = cJSON_GetObjectItem(doc, "assessments");
  assert_int_equal(cJSON_GetArraySize(list), 2);
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "id")->valuestring, "3");
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 1), "note")->valuestring, "second");
  const char *cur = cJSON_GetObjectItem(doc, "next_cursor")->valuestring;
  assert_string_equal(cur, "2");
  cJSON_Delete(doc);
  assert_int_equal(gv_maturity_list(f->st, 2, 2, &b), CX_OK);
  doc = parse(&b);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "assessments")), 1);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(doc, "next_cursor")));
  cJSON_Delete(doc);
  /* read, delete, gone */
  assert_int_equal(gv_maturity_get(f->st, 2, &b), CX_OK);
  cx_buf_reset(&b);
  assert_int_equal(gv_maturity_delete(f->st, 2), CX_OK);
  assert_int_equal(gv_maturity_delete(f->st, 2), CX_ENOTFOUND);
  assert_int_equal(gv_maturity_get(f->st, 2, &b), CX_ENOTFOUND);
  cx_buf_free(&b);
}

static const cJSON *evidence_item(const cJSON *doc, const char *id) {
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(doc, "evidence")) {
    if (!strcmp(cJSON_GetObjectItem(e, "id")->valuestring, id)) return e;
  }
  fail_msg("no evidence %s", id);
  return NULL;
}

static int figure(const cJSON *e, const char *name) {
  return cJSON_GetObjectItem(cJSON_GetObjectItem(e, "figures"), name)->valueint;
}

static void test_evidence(void **state) {
  fixture *f = *state;
  const int64_t now = 1780000000000LL, day = 86400000LL;
  sqlite3 *db = store_db(f->st);
  cx_buf b;
  cx_buf_init(&b, 1 << 20);
  /* no case yet (the table of migration 10 is empty) */
  assert_int_equal(gv_maturity_evidence(f->st, now, &b), CX_OK);
  cJSON *doc = parse(&b);
  const cJSON *e = evidence_item(doc, "closed_loop");
  assert_non_null(strstr(cJSON_GetObjectItem(e, "text")->valuestring, "No cases yet"));
  assert_string_equal(cJSON_GetObjectItem(e, "component")->valuestring, "culture");
  assert_int_equal(cJSON_GetObjectItem(e, "suggested_score")->valueint, 1);
  cJSON_Delete(doc);
  /* cases opened in the window: 7 that met their SLA, 1 resolved late, 1
   * open past its first-response due time, 1 open within its SLA, 1
   * resolved only after now (not yet, for an assessment dated now); and 1
   * opened before the window. Then one customer survey live with 40
   * answers in the window (3 touchpoints with NPS or CSAT, one with CES
   * only) and one answer before the window; a current and a future-state
   * map, and a map made after now; two units */
  char sql[1024];
  static const struct {
    int opened, fr, frd, res, rd; /* hours from now; 999: NULL */
    int n;
  } cs[] = {{-168, -156, -144, -120, -48, 7}, {-168, -156, -144, -24, -48, 1}, {-72, 999, -24, 999, 48, 1},
            {-24, -12, 24, 999, 48, 1},       {-24, -12, 24, 24, 72, 1},      {-2400, -2390, -2380, -2300, -2200, 1}};
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
    for (int j = 0; j < cs[i].n; j++) {
      char t[5][24];
      const int hours[5] = {cs[i].opened, cs[i].fr, cs[i].frd, cs[i].res, cs[i].rd};
      for (int k = 0; k < 5; k++)
        if (hours[k] == 999) snprintf(t[k], sizeof t[k], "NULL");
        else snprintf(t[k], sizeof t[k], "%lld", (long long)(now + hours[k] * 3600000LL));
      snprintf(sql, sizeof sql,
               "INSERT INTO cases(status, title, priority, customer_id, unit_id, opened_at, first_response_at,"
               " first_response_due_at, resolved_at, resolution_due_at, updated_at)"
               " VALUES('%s', 'A detractor', 'normal', 1, 1, %s, %s, %s, %s, %s, 0)",
               cs[i].res == 999 ? "open" : "resolved", t[0], t[1], t[2], t[3], t[4]);
      assert_int_equal(store_exec(db, sql), CX_OK);
    }
  snprintf(sql, sizeof sql, "INSERT INTO surveys VALUES(1, 'Post-purchase', 'customer', 'live', 1, %lld, %lld);"
                            "INSERT INTO surveys VALUES(2, 'Old', 'customer', 'closed', 1, %lld, %lld);",
           (long long)(now - 100 * day), (long long)(now - 100 * day), (long long)(now - 100 * day),
           (long long)(now - 100 * day));
  assert_int_equal(store_exec(db, sql), CX_OK);
  static const char *const tps[] = {"Checkout", "Delivery", "Support", "Returns"};
  static const char *const scores[] = {"0:q1:9;", "1:q2:4;", "2:q3:5;0:q1:3;", "2:q3:5;"};
  for (int i = 0; i < 41; i++) {
    snprintf(sql, sizeof sql,
             "INSERT INTO responses(survey_id, version, customer_id, seq, submitted_at, received_at, complete,"
             " touchpoint, answers, scores) VALUES(%d, 1, %d, %d, %lld, 0, 1, '%s', '{}', '%s')",
             i == 40 ? 2 : 1, i + 1, i + 1, (long long)(i == 40 ? now - 95 * day : now - (i + 1) * day / 2),
             i == 40 ? "Old" : tps[i % 4], i == 40 ? "0:q1:9;" : scores[i % 4]);
    assert_int_equal(store_exec(db, sql), CX_OK);
  }
  snprintf(sql, sizeof sql, "INSERT INTO journey_maps VALUES(NULL, 'Buy', 'current', 1, %lld, %lld);"
                            "INSERT INTO journey_maps VALUES(NULL, 'Buy tomorrow', 'future', 1, %lld, %lld);"
                            "INSERT INTO journey_maps VALUES(NULL, 'Later', 'future', 1, %lld, %lld);"
                            "INSERT INTO units VALUES(NULL, 'EMEA', NULL, 0, 0);"
                            "INSERT INTO units VALUES(NULL, 'Support', 1, 0, 0);",
           (long long)(now - day), (long long)(now - day), (long long)(now - day), (long long)(now - day),
           (long long)(now + day), (long long)(now + day));
  assert_int_equal(store_exec(db, sql), CX_OK);

  assert_int_equal(gv_maturity_evidence(f->st, now, &b), CX_OK);
  doc = parse(&b);
  e = evidence_item(doc, "closed_loop");
  assert_int_equal(figure(e, "cases"), 11);
  assert_int_equal(figure(e, "settled"), 9);
  assert_int_equal(figure(e, "within_sla"), 7);
  assert_int_equal(figure(e, "missed"), 2);
  assert_int_equal(figure(e, "within_sla_percent"), 78); /* 7 / 9 = 77.8 */
  assert_string_equal(cJSON_GetObjectItem(e, "text")->valuestring,
                      "Closed loop in place: 78% of 9 cases within SLA (2 missed, 2 still open).");
  assert_int_equal(cJSON_GetObjectItem(e, "suggested_score")->valueint, 3);
  e = evidence_item(doc, "listening");
  assert_int_equal(figure(e, "live_surveys"), 1);
  assert_int_equal(figure(e, "responses"), 40);
  assert_int_equal(cJSON_GetObjectItem(e, "suggested_score")->valueint, 3);
  e = evidence_item(doc, "touchpoint_scores");
  assert_int_equal(figure(e, "touchpoints"), 3); /* Returns has CES only; Old is before the window */
  e = evidence_item(doc, "journeys_and_segments");
  assert_int_equal(figure(e, "journey_maps"), 2); /* "Later" is after now */
  assert_int_equal(figure(e, "future_state_maps"), 1);
  assert_string_equal(cJSON_GetObjectItem(e, "component")->valuestring, "design");
  e = evidence_item(doc, "units_and_users");
  assert_int_equal(figure(e, "units"), 2);
  assert_int_equal(cJSON_GetObjectItem(e, "suggested_score")->valueint, 3);
  e = evidence_item(doc, "measured_changes");
  assert_int_equal(figure(e, "initiatives"), 0);
  assert_int_equal(cJSON_GetObjectItem(e, "suggested_score")->valueint, 1);
  cJSON_Delete(doc);
  /* initiatives (migration 13): an idea; one in progress with a KPI; one
   * done with a KPI; one done without; one created after now; a dropped one */
  snprintf(sql, sizeof sql,
           "INSERT INTO initiatives(title, owner_id, status, kpi, measure_days, started_at, done_at, created_at,"
           " updated_at) VALUES('a', 1, 'idea', NULL, 30, NULL, NULL, %lld, 0), ('b', 1, 'in_progress', 'nps', 30, %lld,"
           " NULL, %lld, 0), ('c', 1, 'done', 'csat', 30, %lld, %lld, %lld, 0), ('d', 1, 'done', NULL, 30, %lld, %lld,"
           " %lld, 0), ('e', 1, 'in_progress', 'nps', 30, %lld, NULL, %lld, 0),"
           " ('f', 1, 'dropped', 'nps', 30, 1, NULL, 1, 0)",
           (long long)(now - day), (long long)(now - 5 * day), (long long)(now - day), (long long)(now - 9 * day),
           (long long)(now - 2 * day), (long long)(now - day), (long long)(now - 9 * day), (long long)(now - 2 * day),
           (long long)(now - day), (long long)(now + day), (long long)(now + day));
  assert_int_equal(store_exec(db, sql), CX_OK);
  assert_int_equal(gv_maturity_evidence(f->st, now, &b), CX_OK);
  doc = parse(&b);
  e = evidence_item(doc, "measured_changes");
  assert_string_equal(cJSON_GetObjectItem(e, "component")->valuestring, "change");
  assert_int_equal(figure(e, "initiatives"), 4);
  assert_int_equal(figure(e, "in_progress"), 1);
  assert_int_equal(figure(e, "done"), 2);
  assert_int_equal(figure(e, "measured"), 2);
  assert_string_equal(cJSON_GetObjectItem(e, "text")->valuestring,
                      "4 initiatives on record (1 in progress, 2 done); 2 with a KPI measured before and after.");
  assert_int_equal(cJSON_GetObjectItem(e, "suggested_score")->valueint, 3);
  cJSON_Delete(doc);
  cx_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_model_shape),
      cmocka_unit_test(test_level_cutoffs),
      cmocka_unit_test(test_scoring),
      cmocka_unit_test(test_validation),
      cmocka_unit_test_setup_teardown(test_store, setup, teardown),
      cmocka_unit_test_setup_teardown(test_evidence, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
