/* fuzz_cases.c - libFuzzer driver for the case requests' validators
 * (lib/cases/validate.c): the first byte chooses a case rule (POST/PUT
 * /case-rules) or a change of a case (PATCH /cases/{id}); the rest is the
 * body, parsed as JSON.
 *
 * Invariants: a refusal is CX_EINVAL (or CX_ENOMEM) with a code, a field
 * and a UTF-8 message; an accepted rule has a name, a `when` that
 * compiles, a unit > 0 and a known priority; an accepted change holds at
 * least one member, a known status, ids > 0 (an owner may be 0: none). */
#include "../lib/base/util.h"
#include "../lib/cases/cases.h"
#include "../lib/rules/rules.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_cases: invariant broken: %s\n", what);
    abort();
  }
}

static int known(const char *s, const char *const *set) {
  for (size_t i = 0; set[i]; i++)
    if (!strcmp(s, set[i])) return 1;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 20000) return 0;
  cJSON *req = cJSON_ParseWithLength((const char *)data + 1, size - 1);
  if (!req) return 0;
  analytics_error err = {{0}, {0}, {0}};
  static const char *const prio[] = {"low", "normal", "high", "urgent", NULL};
  static const char *const status[] = {"new", "open", "waiting", "resolved", "closed", NULL};
  cx_err rc;
  if (data[0] & 1) {
    cases_patch_req p;
    rc = cases_patch_check(req, &p, &err);
    if (!rc) {
      check(p.has_status || p.has_owner || p.has_root_cause || p.has_note, "an empty change accepted");
      check(!p.has_status || known(p.status, status), "an unknown status accepted");
      check(!p.has_owner || p.owner >= 0, "a negative owner");
      check(!p.has_root_cause || p.root_cause > 0, "a root cause <= 0");
      check(!p.has_note || (strlen(p.note) && cx_utf8_valid(p.note, strlen(p.note))), "a bad note accepted");
    }
  } else {
    cases_rule_req r;
    rc = cases_rule_check(req, &r, &err);
    if (!rc) {
      check(r.name && *r.name && r.unit > 0 && known(r.priority, prio), "a bad rule accepted");
      rules_expr *e = NULL;
      check(rules_compile(r.when, strlen(r.when), &e, NULL) == CX_OK, "an uncompilable when accepted");
      rules_free(e);
    }
  }
  if (rc) {
    check(rc == CX_EINVAL || rc == CX_ENOMEM, "an unexpected error");
    if (rc == CX_EINVAL) {
      check(err.code[0] && err.message[0], "a refusal without code or message");
      check(cx_utf8_valid(err.message, strlen(err.message)), "a message that is not UTF-8");
    }
  }
  cJSON_Delete(req);
  return 0;
}
