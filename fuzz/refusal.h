/* refusal.h - the invariants every request check's fuzz target holds a
 * refusal to (fuzz_target.c, fuzz_initiative.c): CX_EINVAL with a code, a
 * UTF-8 message and a field that is empty, a member the object knows or
 * (cut to fit, scrubbed) a member of the request, and the object left as
 * it was. Header-only: each fuzz target is its own program. */
#ifndef CX_FUZZ_REFUSAL_H
#define CX_FUZZ_REFUSAL_H
#include "../lib/analytics/analytics.h"
#include "../lib/base/util.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Aborts, saying which invariant of which target broke, unless ok. */
static void fz_check(int ok, const char *who, const char *what) {
  if (!ok) {
    fprintf(stderr, "%s: invariant broken: %s\n", who, what);
    abort();
  }
}

/* 1 when field is one of known[0..n) or (cut to fit, or not UTF-8: each
 * byte kept or replaced by '?') the name of a member of req. */
static int fz_names_member(const cJSON *req, const char *field, const char *const *known, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(field, known[i])) return 1;
  size_t len = strlen(field);
  for (const cJSON *m = cJSON_IsObject(req) ? req->child : NULL; m; m = m->next) {
    size_t i = 0;
    while (m->string && i < len && m->string[i] && (m->string[i] == field[i] || field[i] == '?')) i++;
    if (m->string && i == len) return 1;
  }
  return 0;
}

/* A refusal (rc) of req: its error well formed, and the object checked
 * (size bytes) the same after as before. */
static void fz_refusal(const char *who, cx_err rc, const analytics_error *err, const cJSON *req,
                       const char *const *known, size_t nknown, const void *before, const void *after, size_t size) {
  fz_check(rc == CX_EINVAL, who, "a refusal is CX_EINVAL");
  fz_check(err->code[0] != 0, who, "a refusal has a code");
  fz_check(strlen(err->message) > 0 && cx_utf8_valid(err->message, strlen(err->message)), who,
           "a refusal's message is UTF-8");
  fz_check(cx_utf8_valid(err->field, strlen(err->field)), who, "a refusal's field is UTF-8");
  fz_check(!err->field[0] || fz_names_member(req, err->field, known, nknown), who,
           "a refusal names a member of the request");
  fz_check(!memcmp(before, after, size), who, "a refusal leaves the object as it was");
}

#endif
