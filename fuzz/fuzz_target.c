/* fuzz_target.c - libFuzzer driver for the KPI target request check
 * (lib/govern/targets.c, POST and PATCH /api/v1/targets): arbitrary bytes
 * are read as JSON and checked whole (first byte even) or as a PATCH over
 * a fixed target (odd), without a store.
 *
 * Invariants: a refusal names a field (a member of the request, or none
 * for a body that is no object) and a message in valid UTF-8, and leaves
 * the PATCHed target as it was (the field is UTF-8, a name that was not
 * is shown scrubbed); an accepted target has a KPI measured at
 * its scope, a target within the KPI's range, a scope value exactly when
 * the scope is not the company, a period of 1..366 days, min_n >= 1, and
 * a webhook URL whenever it alerts by webhook; checking it again as a
 * PATCH of nothing changes nothing. */
#include "../lib/base/util.h"
#include "../lib/govern/targets.h"
#include "refusal.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok, const char *what) { fz_check(ok, "fuzz_target", what); }

static void accepted_well(const gv_target_spec *s) {
  double lo, hi;
  gv_kpi_range(s->kpi, &lo, &hi);
  check(gv_kpi_supports(s->kpi, s->scope), "the KPI is measured at its scope");
  check(s->target >= lo && s->target <= hi, "the target is within the KPI's range");
  check((s->scope == GV_SCOPE_COMPANY) == !s->scope_value[0], "a scope value exactly when not the company");
  check(s->period_days >= 1 && s->period_days <= GV_TARGET_MAX_PERIOD, "a period of 1..366 days");
  check(s->min_n >= 1 && s->min_n <= GV_TARGET_MAX_MIN_N, "min_n in range");
  check(s->owner > 0, "an owner");
  check(s->higher == 0 || s->higher == 1, "a direction");
  check(!(s->alert & GV_ALERT_WEBHOOK) || s->webhook_url[0], "a webhook alert has a URL");
  check(s->alert >= GV_ALERT_NONE && s->alert <= GV_ALERT_BOTH, "an alert");
  gv_target_spec again = *s;
  cJSON *empty = cJSON_CreateObject();
  analytics_error err;
  check(gv_target_check(empty, 1, &again, &err) == CX_OK, "an accepted target passes again");
  check(!memcmp(&again, s, sizeof again), "a PATCH of nothing changes nothing");
  cJSON_Delete(empty);
}

/* The members of the object: a refusal may name any of them. */
static const char *const known[] = {"kpi", "scope", "scope_value", "owner", "target", "direction",
                                      "period_days", "min_n", "alert", "webhook_url"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 20000) return 0;
  int patch = data[0] & 1;
  cJSON *req = cJSON_ParseWithLength((const char *)data + 1, size - 1);
  gv_target_spec s, before;
  memset(&s, 0, sizeof s);
  if (patch) {
    cJSON *base = cJSON_Parse("{\"kpi\":\"csat\",\"scope\":\"unit\",\"scope_value\":\"4\",\"owner\":\"2\",\"target\":80,"
                              "\"alert\":\"both\",\"webhook_url\":\"https://hooks.example/kpi\"}");
    analytics_error e;
    check(gv_target_check(base, 0, &s, &e) == CX_OK, "the fixed target is accepted");
    cJSON_Delete(base);
  }
  before = s;
  analytics_error err;
  memset(&err, 0, sizeof err);
  cx_err rc = gv_target_check(req, patch, &s, &err);
  if (rc) {
    fz_refusal("fuzz_target", rc, &err, req, known, sizeof known / sizeof *known, &before, &s, sizeof s);
  } else {
    accepted_well(&s);
  }
  cJSON_Delete(req);
  return 0;
}
