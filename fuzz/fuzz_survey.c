/* fuzz_survey.c - libFuzzer driver for what a survey's author and its
 * respondents send (lib/feedback): arbitrary bytes are read as JSON and,
 * by the first byte, checked as a survey document (POST /surveys) or as
 * the answers of a fixed survey with every question type and show-if
 * logic (POST /surveys/{id}/responses).
 *
 * Invariants: a refusal names a code and a message in valid UTF-8; an
 * accepted survey has 1..50 questions with distinct ids; accepted answers
 * are an object holding only the survey's questions, each within its
 * type's range, and checking them again gives the same object. */
#include "../lib/base/util.h"
#include "../lib/feedback/feedback_int.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_survey: invariant broken: %s\n", what);
    abort();
  }
}

static const char *const fixed =
    "{\"name\":\"F\",\"questions\":["
    "{\"id\":\"n\",\"type\":\"nps\",\"text\":\"x\"},"
    "{\"id\":\"c\",\"type\":\"csat\",\"text\":\"x\",\"required\":false},"
    "{\"id\":\"e\",\"type\":\"ces\",\"text\":\"x\",\"required\":false,\"show_if\":\"answers.n <= 6\"},"
    "{\"id\":\"r\",\"type\":\"rating\",\"scale\":4,\"text\":\"x\",\"required\":false},"
    "{\"id\":\"s\",\"type\":\"choice\",\"options\":[\"a\",\"b\"],\"text\":\"x\",\"required\":false},"
    "{\"id\":\"m\",\"type\":\"choice\",\"multiple\":true,\"options\":[\"a\",\"b\",\"c\"],\"text\":\"x\",\"required\":false,"
    "\"show_if\":\"answers.s == \\\"a\\\" || answers.n >= 9\"},"
    "{\"id\":\"x\",\"type\":\"text\",\"text\":{\"en\":\"x\",\"de\":\"y\"},\"required\":false}]}";

static feedback_survey *survey;

static void refused_well(const analytics_error *err) {
  check(err->code[0] != 0, "a refusal has a code");
  check(strlen(err->message) > 0 && cx_utf8_valid(err->message, strlen(err->message)), "a refusal's message is UTF-8");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!survey) {
    cJSON *req = cJSON_Parse(fixed);
    analytics_error err;
    check(req && !fb_survey_from_json(req, &survey, &err), "the fixed survey compiles");
    cJSON_Delete(req);
  }
  if (size < 1) return 0;
  cJSON *in = cJSON_ParseWithLength((const char *)data + 1, size - 1);
  if (!in) return 0;
  analytics_error err = {{0}, {0}, {0}};
  if (data[0] & 1) {
    feedback_survey *s = NULL;
    cx_err rc = fb_survey_from_json(in, &s, &err);
    if (rc == CX_EINVAL) refused_well(&err);
    if (!rc) {
      check(s->nq >= 1 && s->nq <= FEEDBACK_MAX_QUESTIONS, "1 to 50 questions");
      for (size_t i = 0; i < s->nq; i++)
        for (size_t j = 0; j < i; j++) check(strcmp(s->q[i].id, s->q[j].id) != 0, "distinct question ids");
      fb_survey_free(s);
    }
  } else {
    cJSON *norm = NULL;
    cx_err rc = fb_check_answers(survey, in, data[0] & 2, &norm, &err);
    if (rc == CX_EINVAL) refused_well(&err);
    if (!rc) {
      check(cJSON_IsObject(norm), "answers are an object");
      for (const cJSON *a = norm->child; a; a = a->next) {
        const fb_question *q = NULL;
        for (size_t i = 0; i < survey->nq; i++)
          if (!strcmp(survey->q[i].id, a->string)) q = &survey->q[i];
        check(q != NULL, "only the survey's questions");
        if (q->type <= Q_RATING) check(cJSON_IsNumber(a) && a->valuedouble >= q->min && a->valuedouble <= q->max, "a score in range");
        if (q->type == Q_TEXT) check(cJSON_IsString(a) && cx_utf8_valid(a->valuestring, strlen(a->valuestring)), "text is UTF-8");
      }
      cJSON *again = NULL;
      analytics_error err2;
      check(!fb_check_answers(survey, norm, data[0] & 2, &again, &err2), "normalised answers pass again");
      check(cJSON_Compare(norm, again, 1), "and stay the same");
      cJSON_Delete(again);
      cJSON_Delete(norm);
    }
  }
  cJSON_Delete(in);
  return 0;
}
