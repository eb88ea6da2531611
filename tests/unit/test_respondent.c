/* test_respondent.c - unit tests of the respondent page's engine parts:
 * personal link tokens (lib/feedback/links.c), the kept answers of a
 * link, converting a posted page (lib/feedback/page.c) and the form
 * parser (lib/http/form.c).
 *
 * Each test gets a fresh data directory with a running store writer and
 * ingest pipeline, as `cxm serve` opens them, and one live survey:
 * q1 nps, q2 text shown if answers.q1 <= 6, q3 a choice (optional). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "stack.h"
#include <cjson/cJSON.h>

#include "../../lib/base/time.h"
#include "../../lib/base/util.h"
#include "../../lib/feedback/feedback.h"
#include "../../lib/http/http_int.h"
#include "../../lib/ingest/ingest.h"
#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  unit_stack u; /* the data directory and the modules under the one tested */
  int64_t survey, other;
} fixture;

static int64_t create(fixture *f, const char *doc) {
  cJSON *req = cJSON_Parse(doc);
  cx_buf out;
  cx_buf_init(&out, 1 << 20);
  analytics_error err;
  cx_err rc = feedback_survey_create(f->u.fb, req, &out, &err);
  if (rc) print_error("create: %s %s\n", err.field, err.message);
  assert_int_equal(rc, CX_OK);
  cJSON *ans = cJSON_Parse(out.p);
  int64_t id = strtoll(cJSON_GetObjectItem(ans, "id")->valuestring, NULL, 10);
  cJSON_Delete(ans);
  cJSON_Delete(req);
  cx_buf_free(&out);
  return id;
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  if (unit_stack_open(&f->u, "/tmp/cxm-unit-XXXXXX", NULL)) return -1;
  f->survey = create(f, "{\"name\":\"s\",\"questions\":[{\"id\":\"q1\",\"type\":\"nps\",\"text\":\"Likely?\"},"
                        "{\"id\":\"q2\",\"type\":\"text\",\"text\":\"Why?\",\"show_if\":\"answers.q1 <= 6\"},"
                        "{\"id\":\"q3\",\"type\":\"choice\",\"text\":\"Where\",\"options\":[\"web\",\"shop\"],"
                        "\"multiple\":true,\"required\":false}]}");
  f->other = create(f, "{\"name\":\"other\",\"questions\":[{\"id\":\"q1\",\"type\":\"csat\",\"text\":\"Happy?\"}]}");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  unit_stack_close(&f->u);
  free(f);
  return 0;
}

#define NOW 1800000000000LL

static feedback_link_status check(fixture *f, const char *tok, int64_t survey, int64_t now, feedback_link *l) {
  feedback_link_status st;
  assert_int_equal(feedback_link_check(f->u.fb, tok, strlen(tok), survey, now, l, &st), CX_OK);
  return st;
}

static void test_link_round_trip(void **state) {
  fixture *f = *state;
  char tok[FEEDBACK_LINK_MAX + 1], tok2[FEEDBACK_LINK_MAX + 1];
  feedback_who who = {.user_id = "u-42"};
  assert_int_equal(feedback_link_make(f->u.fb, f->survey, &who, NOW + 1000, tok, sizeof tok), CX_OK);
  feedback_link l;
  assert_int_equal(check(f, tok, f->survey, NOW, &l), FEEDBACK_LINK_VALID);
  assert_int_equal(l.survey, f->survey);
  assert_int_equal(l.expires_at, NOW + 1000);
  assert_string_equal(l.who.user_id, "u-42");
  assert_null(l.who.email);
  assert_null(l.who.anonymous_id);
  assert_int_equal(strlen(l.id), FEEDBACK_LINK_ID_LEN);
  char id1[FEEDBACK_LINK_ID_LEN + 1];
  memcpy(id1, l.id, sizeof id1);
  /* any survey (0) accepts it too; a second link has its own id */
  assert_int_equal(check(f, tok, 0, NOW, &l), FEEDBACK_LINK_VALID);
  assert_int_equal(feedback_link_make(f->u.fb, f->survey, &who, NOW + 1000, tok2, sizeof tok2), CX_OK);
  assert_int_equal(check(f, tok2, f->survey, NOW, &l), FEEDBACK_LINK_VALID);
  assert_string_not_equal(l.id, id1);
  /* e-mail and anonymous ids round-trip too, in UTF-8 */
  feedback_who e = {.email = "zoë@example.com"}, a = {.anonymous_id = "anon-1"};
  assert_int_equal(feedback_link_make(f->u.fb, f->survey, &e, NOW + 1000, tok, sizeof tok), CX_OK);
  assert_int_equal(check(f, tok, f->survey, NOW, &l), FEEDBACK_LINK_VALID);
  assert_string_equal(l.who.email, "zoë@example.com");
  assert_int_equal(feedback_link_make(f->u.fb, f->survey, &a, NOW + 1000, tok, sizeof tok), CX_OK);
  assert_int_equal(check(f, tok, f->survey, NOW, &l), FEEDBACK_LINK_VALID);
  assert_string_equal(l.who.anonymous_id, "anon-1");
}

static void test_link_refusals(void **state) {
  fixture *f = *state;
  char tok[FEEDBACK_LINK_MAX + 1];
  feedback_who who = {.user_id = "u-1"};
  assert_int_equal(feedback_link_make(f->u.fb, f->survey, &who, NOW + 1000, tok, sizeof tok), CX_OK);
  feedback_link l;
  /* expired at its expiry, not a millisecond before */
  assert_int_equal(check(f, tok, f->survey, NOW + 999, &l), FEEDBACK_LINK_VALID);
  assert_int_equal(check(f, tok, f->survey, NOW + 1000, &l), FEEDBACK_LINK_EXPIRED);
  assert_int_equal(check(f, tok, f->other, NOW, &l), FEEDBACK_LINK_OTHER_SURVEY);
  /* every single character changed: forged */
  size_t n = strlen(tok);
  for (size_t i = 0; i < n; i++) {
    char bad[FEEDBACK_LINK_MAX + 1];
    memcpy(bad, tok, n + 1);
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    feedback_link_status st = check(f, bad, f->survey, NOW, &l);
    if (st != FEEDBACK_LINK_FORGED) print_error("character %zu changed: %d\n", i, st);
    assert_int_equal(st, FEEDBACK_LINK_FORGED);
  }
  /* cut short, grown, empty, not base64url, too long */
  char cut[FEEDBACK_LINK_MAX + 2];
  snprintf(cut, sizeof cut, "%.*s", (int)n - 1, tok);
  assert_int_equal(check(f, cut, f->survey, NOW, &l), FEEDBACK_LINK_FORGED);
  snprintf(cut, sizeof cut, "%sA", tok);
  assert_int_equal(check(f, cut, f->survey, NOW, &l), FEEDBACK_LINK_FORGED);
  assert_int_equal(check(f, "", f->survey, NOW, &l), FEEDBACK_LINK_FORGED);
  assert_int_equal(check(f, "a+b/c==", f->survey, NOW, &l), FEEDBACK_LINK_FORGED);
  char big[FEEDBACK_LINK_MAX + 2];
  memset(big, 'A', sizeof big - 1);
  big[sizeof big - 1] = 0;
  assert_int_equal(check(f, big, f->survey, NOW, &l), FEEDBACK_LINK_FORGED);
  /* who: exactly one identity, 1..255 bytes of UTF-8 */
  feedback_who none = {0}, two = {.user_id = "a", .email = "b@c.de"}, bad_utf8 = {.user_id = "\xff"};
  assert_int_equal(feedback_link_make(f->u.fb, f->survey, &none, NOW, tok, sizeof tok), CX_EINVAL);
  assert_int_equal(feedback_link_make(f->u.fb, f->survey, &two, NOW, tok, sizeof tok), CX_EINVAL);
  assert_int_equal(feedback_link_make(f->u.fb, f->survey, &bad_utf8, NOW, tok, sizeof tok), CX_EINVAL);
  char longid[PROFILE_ID_MAX + 2];
  memset(longid, 'x', sizeof longid - 1);
  longid[sizeof longid - 1] = 0;
  feedback_who lw = {.user_id = longid};
  assert_int_equal(feedback_link_make(f->u.fb, f->survey, &lw, NOW, tok, sizeof tok), CX_EINVAL);
  longid[PROFILE_ID_MAX] = 0; /* 255 bytes: fits, and in FEEDBACK_LINK_MAX */
  assert_int_equal(feedback_link_make(f->u.fb, f->survey, &lw, NOW + 1, tok, sizeof tok), CX_OK);
  assert_true(strlen(tok) <= FEEDBACK_LINK_MAX);
  assert_int_equal(check(f, tok, f->survey, NOW, &l), FEEDBACK_LINK_VALID);
  assert_int_equal(feedback_link_make(f->u.fb, f->survey, &who, NOW, tok, 20), CX_ETOOBIG);
}

/* The key lives in the store's meta table (so a restart keeps links
 * working): the token's MAC is HMAC-SHA256 under it, over the rest. */
static void test_link_key_kept(void **state) {
  fixture *f = *state;
  char tok[FEEDBACK_LINK_MAX + 1];
  feedback_who who = {.user_id = "u-1"};
  assert_int_equal(feedback_link_make(f->u.fb, f->survey, &who, NOW + 1000, tok, sizeof tok), CX_OK);
  sqlite3 *db = store_reader_get(f->u.st);
  sqlite3_stmt *s;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'survey_link_key'", -1, &s, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  assert_int_equal(sqlite3_column_bytes(s, 0), 64);
  unsigned char key[32], raw[FEEDBACK_LINK_MAX];
  size_t n;
  assert_int_equal(sodium_hex2bin(key, sizeof key, (const char *)sqlite3_column_text(s, 0), 64, NULL, &n, NULL), 0);
  sqlite3_finalize(s);
  store_reader_put(f->u.st, db);
  assert_int_equal(sodium_base642bin(raw, sizeof raw, tok, strlen(tok), NULL, &n, NULL,
                                     sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
  assert_true(n > 32);
  assert_int_equal(crypto_auth_hmacsha256_verify(raw + n - 32, raw, n - 32, key), 0);
  assert_memory_equal(raw + n - 32 - 3, "u-1", 3); /* the identity, readable, before the MAC */
}

/* Answers kept per link: partial, then replaced by the complete one. */
static void test_partial_kept_and_replaced(void **state) {
  fixture *f = *state;
  cJSON *a;
  int complete;
  assert_int_equal(feedback_partial_get(f->u.fb, f->survey, "L1", &a, &complete), CX_OK);
  assert_null(a);
  feedback_who who = {.anonymous_id = "survey-session-x"};
  feedback_context ctx = {.channel = "web"};
  analytics_error err;
  cJSON *ans = cJSON_Parse("{\"q1\":3}");
  int64_t id1, id2;
  assert_int_equal(feedback_respond_page(f->u.fb, f->survey, ans, 0, &who, &ctx, "L1", &id1, &err), CX_OK);
  cJSON_Delete(ans);
  assert_int_equal(feedback_partial_get(f->u.fb, f->survey, "L1", &a, &complete), CX_OK);
  assert_non_null(a);
  assert_int_equal(complete, 0);
  assert_int_equal(cJSON_GetObjectItem(a, "q1")->valueint, 3);
  cJSON_Delete(a);
  /* the same link name in another survey is another respondent */
  assert_int_equal(feedback_partial_get(f->u.fb, f->other, "L1", &a, &complete), CX_OK);
  assert_null(a);
  ans = cJSON_Parse("{\"q1\":3,\"q2\":\"slow\"}");
  assert_int_equal(feedback_respond_page(f->u.fb, f->survey, ans, 1, &who, &ctx, "L1", &id2, &err), CX_OK);
  cJSON_Delete(ans);
  assert_true(id2 > id1);
  assert_int_equal(feedback_partial_get(f->u.fb, f->survey, "L1", &a, &complete), CX_OK);
  assert_int_equal(complete, 1);
  assert_string_equal(cJSON_GetObjectItem(a, "q2")->valuestring, "slow");
  cJSON_Delete(a);
}

/* ---- pages ---- */

static void test_pages_and_reading(void **state) {
  fixture *f = *state;
  const feedback_survey *s;
  assert_int_equal(feedback_survey_acquire(f->u.fb, f->survey, &s), CX_OK);
  assert_int_equal(feedback_page_count(s), 2); /* q2 reads q1: a new page */
  assert_int_equal(feedback_page_resume(s, NULL), 0);
  feedback_page_errors *e = calloc(1, sizeof *e);
  cJSON *a = NULL;
  feedback_field ok[] = {{"q1", "9"}};
  assert_int_equal(feedback_page_read(s, "en", 0, ok, 1, NULL, &a, e), CX_OK);
  assert_int_equal(cJSON_GetObjectItem(a, "q1")->valueint, 9);
  /* q2 is hidden for a 9: page 1 still has q3 */
  assert_int_equal(feedback_page_next(s, 1, a), 1);
  assert_int_equal(feedback_page_resume(s, a), 1);
  cJSON *kept = a;
  /* page 1: two options of a multiple choice; q2 posted while hidden is refused */
  feedback_field p1[] = {{"q3", "web"}, {"q3", "shop"}};
  assert_int_equal(feedback_page_read(s, "en", 1, p1, 2, kept, &a, e), CX_OK);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(a, "q3")), 2);
  assert_int_equal(cJSON_GetObjectItem(a, "q1")->valueint, 9);
  assert_int_equal(feedback_page_resume(s, a), -1);
  cJSON_Delete(a);
  /* changing q1 to 4 on page 0 keeps q3 (another page) and now asks q2 */
  cJSON_AddItemToObject(kept, "q3", cJSON_CreateString("web"));
  feedback_field low[] = {{"q1", "4"}};
  assert_int_equal(feedback_page_read(s, "en", 0, low, 1, kept, &a, e), CX_OK);
  assert_int_equal(feedback_page_next(s, 1, a), 1);
  cJSON_Delete(a);
  /* refusals: each at its field, the entries kept */
  struct {
    int page;
    feedback_field f[2];
    size_t n;
    const char *at, *form;
  } bad[] = {
      {0, {{"q1", "11"}}, 1, "q1", NULL},
      {0, {{"q1", "-1"}}, 1, "q1", NULL},
      {0, {{"q1", "nine"}}, 1, "q1", NULL},
      {0, {{"q1", "4.5"}}, 1, "q1", NULL},
      {0, {{"q1", "4"}, {"q1", "5"}}, 2, "q1", NULL},
      {0, {{"q9", "4"}}, 1, "q1", "q9"},    /* unknown, and q1 is missing */
      {0, {{"q3", "web"}}, 1, "q1", "q3"},  /* another page's */
      {0, {{"lang", "en"}}, 1, "q1", "lang"},
      {1, {{"q3", "post"}}, 1, "q3", NULL}, /* not an option */
      {1, {{"q3", "web"}, {"q3", "web"}}, 2, "q3", NULL},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    cx_err rc = feedback_page_read(s, "en", bad[i].page, bad[i].f, bad[i].n, kept, &a, e);
    if (rc != CX_EINVAL) print_error("case %zu: %d\n", i, rc);
    assert_int_equal(rc, CX_EINVAL);
    assert_non_null(a);
    assert_true(e->n >= 1);
    assert_string_equal(e->at[0].question, bad[i].at);
    if (bad[i].form) assert_non_null(strstr(e->form, bad[i].form));
    else assert_string_equal(e->form, "");
    cJSON_Delete(a);
  }
  /* required: q1 missing; q2 when shown and blank; texts up to 10,000 characters */
  assert_int_equal(feedback_page_read(s, "en", 0, NULL, 0, NULL, &a, e), CX_EINVAL);
  assert_string_equal(e->at[0].question, "q1");
  cJSON_Delete(a);
  cJSON *low_kept = cJSON_Parse("{\"q1\":2}");
  feedback_field blank[] = {{"q2", "  \n "}};
  assert_int_equal(feedback_page_read(s, "de", 1, blank, 1, low_kept, &a, e), CX_EINVAL);
  assert_string_equal(e->at[0].question, "q2");
  assert_string_equal(e->at[0].message, "Bitte beantworten Sie diese Frage.");
  cJSON_Delete(a);
  char *text = malloc(2 * (FEEDBACK_MAX_TEXT + 1) + 1);
  for (int i = 0; i < FEEDBACK_MAX_TEXT; i++) memcpy(text + 2 * i, "é", 2); /* 2 bytes, 1 character */
  text[2 * FEEDBACK_MAX_TEXT] = 0;
  feedback_field longest[] = {{"q2", text}};
  assert_int_equal(feedback_page_read(s, "en", 1, longest, 1, low_kept, &a, e), CX_OK);
  cJSON_Delete(a);
  memcpy(text + 2 * FEEDBACK_MAX_TEXT, "é", 3);
  assert_int_equal(feedback_page_read(s, "en", 1, longest, 1, low_kept, &a, e), CX_EINVAL);
  assert_string_equal(e->at[0].question, "q2");
  assert_non_null(strstr(e->at[0].message, "10000"));
  assert_string_equal(cJSON_GetObjectItem(a, "q2")->valuestring, text); /* kept to show again */
  cJSON_Delete(a);
  free(text);
  cJSON_Delete(low_kept);
  cJSON_Delete(kept);
  free(e);
  feedback_survey_release(f->u.fb, s);
}

/* The page escapes every survey text, labels every control and says
 * which questions are required in words. */
static void test_page_html(void **state) {
  fixture *f = *state;
  int64_t id = create(f, "{\"name\":\"x\",\"title\":\"<script>alert(1)</script>\",\"language\":\"en\","
                         "\"questions\":[{\"id\":\"q1\",\"type\":\"choice\",\"text\":{\"en\":\"A & B\",\"de\":\"A und B\"},"
                         "\"options\":[{\"id\":\"o1\",\"text\":\"\\\"quoted\\\" <i>\"},\"o2\"]}]}");
  const feedback_survey *s;
  assert_int_equal(feedback_survey_acquire(f->u.fb, id, &s), CX_OK);
  char lang[16];
  assert_string_equal(feedback_page_lang(s, "de-AT", lang), "de");
  assert_string_equal(feedback_page_lang(s, "fr", lang), "en");
  assert_string_equal(feedback_page_lang(s, NULL, lang), "en");
  cx_buf b;
  cx_buf_init(&b, 1 << 20);
  feedback_page_view v = {.lang = "de", .action = "/s/3", .page = 0};
  assert_int_equal(feedback_page_html(s, &v, &b), CX_OK);
  assert_null(strstr(b.p, "<script>"));
  assert_null(strstr(b.p, "<i>"));
  assert_non_null(strstr(b.p, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  assert_non_null(strstr(b.p, "&quot;quoted&quot; &lt;i&gt;"));
  assert_non_null(strstr(b.p, "<html lang=\"de\">"));
  assert_non_null(strstr(b.p, "A und B <span class=\"req\">(Pflichtfrage)</span>"));
  assert_non_null(strstr(b.p, "<label for=\"f-q1-0\"><input type=\"radio\" name=\"q1\" value=\"o1\" id=\"f-q1-0\">"));
  cx_buf_free(&b);
  feedback_survey_release(f->u.fb, s);
}

/* ---- the form parser ---- */

static void test_form(void **state) {
  (void)state;
  http_form fm;
  const char *why;
  const char *body = "page=0&q1=9&q2=caf%C3%A9+au+lait%21&&q3=a&q3=b&empty=&flag";
  assert_int_equal(http_form_parse(body, strlen(body), &fm, &why), CX_OK);
  assert_int_equal(fm.n, 7);
  assert_string_equal(fm.fields[2].key, "q2");
  assert_string_equal(fm.fields[2].value, "café au lait!");
  assert_string_equal(fm.fields[4].value, "b");
  assert_string_equal(fm.fields[5].value, "");
  assert_string_equal(fm.fields[6].key, "flag");
  assert_string_equal(fm.fields[6].value, "");
  http_form_free(&fm);
  assert_int_equal(http_form_parse(NULL, 0, &fm, &why), CX_OK);
  assert_int_equal(fm.n, 0);
  http_form_free(&fm);
  static const char *const bad[] = {"q1=%", "q1=%4", "q1=%zz", "q1=%00", "q%=1", "=1", "q1=%FF", "q1=%C3%28",
                                    "q1=%ED%A0%80", "q1=\xff"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    cx_err rc = http_form_parse(bad[i], strlen(bad[i]), &fm, &why);
    if (rc != CX_EINVAL) print_error("accepted %s\n", bad[i]);
    assert_int_equal(rc, CX_EINVAL);
    assert_non_null(why);
    assert_null(fm.fields);
  }
  /* a name of HTTP_FORM_MAX_KEY bytes, and one past it */
  char k[HTTP_FORM_MAX_KEY + 8];
  memset(k, 'k', HTTP_FORM_MAX_KEY);
  strcpy(k + HTTP_FORM_MAX_KEY, "=1");
  assert_int_equal(http_form_parse(k, strlen(k), &fm, &why), CX_OK);
  http_form_free(&fm);
  memset(k, 'k', HTTP_FORM_MAX_KEY + 1);
  strcpy(k + HTTP_FORM_MAX_KEY + 1, "=1");
  assert_int_equal(http_form_parse(k, strlen(k), &fm, &why), CX_EINVAL);
  /* HTTP_FORM_MAX_FIELDS pairs, and one more */
  size_t n = HTTP_FORM_MAX_FIELDS;
  char *many = malloc(4 * (n + 1) + 1);
  for (size_t i = 0; i <= n; i++) memcpy(many + 4 * i, "a=1&", 4);
  assert_int_equal(http_form_parse(many, 4 * n - 1, &fm, &why), CX_OK);
  assert_int_equal(fm.n, n);
  http_form_free(&fm);
  assert_int_equal(http_form_parse(many, 4 * (n + 1) - 1, &fm, &why), CX_EINVAL);
  free(many);
}

int main(int argc, char **argv) {
  if (argc > 1) cmocka_set_test_filter(argv[1]);
  ingest_global_init();
  if (cx_crypto_init()) return 1;
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_link_round_trip),  T(test_link_refusals),   T(test_link_key_kept), T(test_partial_kept_and_replaced),
      T(test_pages_and_reading), T(test_page_html),      cmocka_unit_test(test_form),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
