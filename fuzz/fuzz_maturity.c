/* fuzz_maturity.c - libFuzzer driver for the maturity assessment's request
 * validator (lib/govern/maturity.c, POST /api/v1/maturity/assessments):
 * arbitrary bytes are read as JSON and checked; what passes is scored.
 *
 * Invariants: a refusal has a code, a message in valid UTF-8 and a field
 * that is empty, "answers", "note", "answers.<id>" or a top-level member;
 * an accepted request answers every statement with 1..5 and a note of at
 * most GV_MATURITY_NOTE_MAX bytes; its scores lie in 1.00..5.00 with the
 * level of each score, and the weakest components are distinct and no
 * stronger than the rest. */
#include "../lib/base/util.h"
#include "../lib/govern/maturity.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_maturity: invariant broken: %s\n", what);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cJSON *in = cJSON_ParseWithLength((const char *)data, size);
  if (!in) return 0;
  gv_maturity_answers a;
  const char *note;
  analytics_error err = {{0}, {0}, {0}};
  cx_err rc = gv_maturity_check(in, &a, &note, &err);
  check(rc == CX_OK || rc == CX_EINVAL, "CX_OK or CX_EINVAL");
  if (rc) {
    check(err.code[0] != 0, "a refusal has a code");
    check(strlen(err.message) > 0 && cx_utf8_valid(err.message, strlen(err.message)), "the message is UTF-8");
    check(cx_utf8_valid(err.field, strlen(err.field)), "the field is UTF-8");
    check(!err.field[0] || !strncmp(err.field, "answers", 7) || cJSON_GetObjectItemCaseSensitive(in, err.field),
          "the field names the request's member");
  } else {
    check(!note || strlen(note) <= GV_MATURITY_NOTE_MAX, "a note within its limit");
    for (int c = 0; c < GV_MATURITY_COMPONENTS; c++)
      for (size_t i = 0; i < gv_maturity_model[c].nstatements; i++)
        check(a.answer[c][i] >= 1 && a.answer[c][i] <= 5, "every statement answered 1..5");
    gv_maturity_result r;
    gv_maturity_score(&a, &r);
    check(r.overall >= 100 && r.overall <= 500, "overall in 1..5");
    check(r.overall_level == gv_maturity_level_of(r.overall), "overall level");
    for (int c = 0; c < GV_MATURITY_COMPONENTS; c++) {
      check(r.component[c] >= 100 && r.component[c] <= 500, "component in 1..5");
      check(r.component_level[c] == gv_maturity_level_of(r.component[c]), "component level");
    }
    int picked[GV_MATURITY_COMPONENTS] = {0};
    for (int k = 0; k < GV_MATURITY_RECOMMENDATIONS; k++) {
      check(!picked[r.weakest[k]], "distinct weakest components");
      picked[r.weakest[k]] = 1;
    }
    for (int c = 0; c < GV_MATURITY_COMPONENTS; c++)
      if (!picked[c])
        check(r.component[c] >= r.component[r.weakest[GV_MATURITY_RECOMMENDATIONS - 1]], "the weakest are weakest");
  }
  cJSON_Delete(in);
  return 0;
}
