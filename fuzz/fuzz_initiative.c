/* fuzz_initiative.c - libFuzzer driver for the initiative request check
 * (lib/govern/initiatives.c, POST and PATCH /api/v1/initiatives):
 * arbitrary bytes are read as JSON and checked whole (first byte even) or
 * as a PATCH over a fixed initiative in progress (odd), without a store,
 * at a fixed now.
 *
 * Invariants: a refusal is CX_EINVAL with a code, a UTF-8 message and a
 * field that is empty or a member of the request (or an initiative's),
 * and leaves the initiative as it was; an accepted initiative has a
 * UTF-8 title of 1..200 bytes, a status, dates that fit it (none for an
 * idea or a plan, started_at for the rest, done_at exactly when done or
 * kept by a dropped one, never after now nor done before started), RICE
 * inputs in range and a score that is NAN or finite and not negative, an
 * expected change only with a KPI measured at its scope, links each
 * once; checking it again as a PATCH of nothing changes nothing. */
#include "../lib/base/util.h"
#include "../lib/govern/initiatives.h"
#include <math.h>
#include "refusal.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1780000000000LL

static void check(int ok, const char *what) { fz_check(ok, "fuzz_initiative", what); }

static void accepted_well(const gv_initiative_spec *s) {
  size_t n = strlen(s->title);
  check(n >= 1 && n <= GV_INITIATIVE_TITLE_MAX && cx_utf8_valid(s->title, n), "a title");
  check(cx_utf8_valid(s->description, strlen(s->description)), "a UTF-8 description");
  check(s->owner > 0, "an owner");
  check(s->status >= GV_INITIATIVE_IDEA && s->status <= GV_INITIATIVE_DROPPED, "a status");
  int early = s->status == GV_INITIATIVE_IDEA || s->status == GV_INITIATIVE_PLANNED;
  check(!early || (!s->started_at && !s->done_at), "an idea or a plan has no dates");
  check(early || s->status == GV_INITIATIVE_DROPPED || s->started_at, "started_at once started");
  check((s->status == GV_INITIATIVE_DONE) <= (s->done_at != 0), "done_at when done");
  check(s->status != GV_INITIATIVE_IN_PROGRESS || !s->done_at, "no done_at in progress");
  check(!s->done_at || (s->started_at && s->done_at >= s->started_at), "done after started");
  check(s->started_at <= NOW + 60000 && s->done_at <= NOW + 60000, "no date in the future");
  check(s->measure_days >= 1 && s->measure_days <= GV_INITIATIVE_MAX_DAYS, "measure_days in range");
  check(s->reach >= -1 && s->reach <= GV_INITIATIVE_REACH_MAX, "reach in range");
  check(isnan(s->confidence) || (s->confidence >= 0 && s->confidence <= 100), "confidence in range");
  check(isnan(s->effort) || (s->effort > 0 && s->effort <= GV_INITIATIVE_EFFORT_MAX), "effort in range");
  check(isnan(s->impact) || s->impact == 0.25 || s->impact == 0.5 || s->impact == 1 || s->impact == 2 || s->impact == 3,
        "impact on the RICE scale");
  double score = gv_rice_score(s->reach, s->impact, s->confidence, s->effort);
  check(isnan(score) || (isfinite(score) && score >= 0), "a score");
  check(s->has_kpi || isnan(s->expected), "an expected change only with a KPI");
  if (s->has_kpi) {
    double lo, hi;
    gv_kpi_range(s->k.kpi, &lo, &hi);
    check(gv_kpi_supports(s->k.kpi, s->k.scope), "the KPI is measured at its scope");
    check((s->k.scope == GV_SCOPE_COMPANY) == !s->k.scope_value[0], "a scope value exactly when not the company");
    check(isnan(s->expected) || fabs(s->expected) <= hi - lo, "the expected change fits the KPI");
  }
  check(s->nroots <= GV_INITIATIVE_LINKS_MAX && s->nthemes <= GV_INITIATIVE_LINKS_MAX, "links bounded");
  for (size_t i = 0; i < s->nroots; i++)
    for (size_t j = i + 1; j < s->nroots; j++) check(s->roots[i] != s->roots[j], "a root cause once");
  for (size_t i = 0; i < s->nthemes; i++)
    for (size_t j = i + 1; j < s->nthemes; j++) check(strcmp(s->themes[i], s->themes[j]), "a theme once");
  gv_initiative_spec again = *s;
  cJSON *empty = cJSON_CreateObject();
  analytics_error err;
  check(gv_initiative_check(empty, 1, &again, NOW, &err) == CX_OK, "an accepted initiative passes again");
  check(!memcmp(&again, s, sizeof again), "a PATCH of nothing changes nothing");
  cJSON_Delete(empty);
}

/* The members of the object: a refusal may name any of them. */
static const char *const known[] = {"title",      "description", "owner",   "status",      "kpi",        "scope",
                                      "scope_value", "expected_change", "reach", "impact", "confidence", "effort",
                                      "root_causes", "themes",     "measure_days", "started_at", "done_at"};

static gv_initiative_spec fixed; /* static: the spec is large */
static gv_initiative_spec s, before;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 20000) return 0;
  int patch = data[0] & 1;
  cJSON *req = cJSON_ParseWithLength((const char *)data + 1, size - 1);
  memset(&s, 0, sizeof s);
  if (patch) {
    if (!fixed.owner) {
      cJSON *base = cJSON_Parse("{\"title\":\"Call back within the hour\",\"owner\":2,\"status\":\"in_progress\","
                                "\"started_at\":\"2026-05-01T00:00:00Z\",\"kpi\":\"csat\",\"scope\":\"unit\","
                                "\"scope_value\":\"4\",\"expected_change\":5,\"reach\":100,\"impact\":2,"
                                "\"confidence\":80,\"effort\":1.5,\"root_causes\":[6,7],\"themes\":[\"Wait time\"]}");
      analytics_error e;
      check(gv_initiative_check(base, 0, &fixed, NOW, &e) == CX_OK, "the fixed initiative is accepted");
      cJSON_Delete(base);
    }
    s = fixed;
  }
  before = s;
  analytics_error err;
  memset(&err, 0, sizeof err);
  cx_err rc = gv_initiative_check(req, patch, &s, NOW, &err);
  if (rc) {
    fz_refusal("fuzz_initiative", rc, &err, req, known, sizeof known / sizeof *known, &before, &s, sizeof s);
  } else {
    accepted_well(&s);
  }
  cJSON_Delete(req);
  return 0;
}
