/* validate.c - the shape of case-rule and case-patch requests, checked
 * without a store (the fuzzer drives these), and the status machine. */
#include "cases_int.h"
#include "../base/util.h"
#include <stdio.h>
#include <string.h>

int cs_json_id(const cJSON *v, int nullable, int64_t *out) {
  if (nullable && cJSON_IsNull(v)) {
    *out = 0;
    return 1;
  }
  int64_t id = 0;
  if (cJSON_IsString(v)) {
    if (cx_parse_i64(v->valuestring, strlen(v->valuestring), &id)) return 0;
  } else if (cJSON_IsNumber(v)) {
    if (v->valuedouble < 1 || v->valuedouble > 9e15 || v->valuedouble != (double)(int64_t)v->valuedouble) return 0;
    id = (int64_t)v->valuedouble;
  } else {
    return 0;
  }
  if (id <= 0) return 0;
  *out = id;
  return 1;
}

static int text_ok(const char *s, size_t max, int lines) {
  size_t n = strlen(s);
  if (!n || n > max || !cx_utf8_valid(s, n)) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if ((ch < 0x20 || ch == 0x7f) && !(lines && (ch == '\n' || ch == '\r' || ch == '\t'))) return 0;
  }
  return 1;
}

int cs_text_ok(const char *s, size_t max) { return text_ok(s, max, 0); }
int cs_note_ok(const char *s) { return text_ok(s, CASES_MAX_NOTE, 1); }

const char *cs_unknown_member(const cJSON *obj, const char *const *names) {
  for (const cJSON *m = obj->child; m; m = m->next) {
    int ok = 0;
    for (size_t i = 0; names[i] && !ok; i++) ok = !strcmp(m->string, names[i]);
    if (!ok) return m->string;
  }
  return NULL;
}

typedef struct {
  int bad;
  char root[16];
} root_check;

static cx_err check_root(void *ctx, const char *root, const char *const *parts, size_t nparts) {
  root_check *r = ctx;
  (void)parts;
  (void)nparts;
  if (strcmp(root, "response") && strcmp(root, "answers") && !r->bad) {
    r->bad = 1;
    snprintf(r->root, sizeof r->root, "%s", root);
  }
  return CX_OK;
}

cx_err cs_compile_when(const char *src, rules_expr **out, analytics_error *err) {
  rules_expr *e = NULL;
  rules_error re;
  cx_err rc = rules_compile(src, strlen(src), &e, &re);
  if (rc == CX_ENOMEM) return rc;
  if (rc) return analytics_refuse(err, "invalid_rule", "when", "when: %s", re.message);
  root_check r = {0};
  rules_each_path(e, check_root, &r);
  static const char *const history_fns[] = {"count", "sum", "days_since", NULL};
  const char *fn = NULL;
  for (size_t i = 0; history_fns[i] && !fn; i++)
    if (rules_calls(e, history_fns[i])) fn = history_fns[i];
  int cond = rules_may_be(e, RULES_BOOL);
  if (r.bad || fn || !cond || !out) rules_free(e);
  else *out = e;
  if (r.bad)
    return analytics_refuse(err, "invalid_rule", "when",
                            "when may read the response only (response.nps, response.csat, response.sentiment, "
                            "answers.<question>…), not %s.", r.root);
  if (fn)
    return analytics_refuse(err, "invalid_rule", "when", "when is about one response: %s() reads a customer's events.",
                            fn);
  if (!cond)
    return analytics_refuse(err, "invalid_rule", "when",
                            "when must be a condition (true or false), such as response.nps <= 6.");
  return CX_OK;
}

static const char *const priorities[] = {"low", "normal", "high", "urgent", NULL};

static int one_of(const char *s, const char *const *set) {
  for (size_t i = 0; set[i]; i++)
    if (!strcmp(s, set[i])) return 1;
  return 0;
}

cx_err cases_rule_check(const cJSON *req, cases_rule_req *out, analytics_error *err) {
  static const char *const names[] = {"name", "when", "unit", "priority", "sla_policy", "follow_up_survey", "enabled",
                                      NULL};
  if (!cJSON_IsObject(req)) return analytics_refuse(err, "invalid_field", "rule", "A case rule is a JSON object.");
  const char *u = cs_unknown_member(req, names);
  if (u)
    return analytics_refuse(err, "invalid_field", u,
                            "Unknown member \"%.40s\": a case rule has name, when, unit, priority, sla_policy, "
                            "follow_up_survey and enabled.", u);
  memset(out, 0, sizeof *out);
  out->priority = "normal";
  out->enabled = 1;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "name");
  if (!cJSON_IsString(v) || !cs_text_ok(v->valuestring, CASES_MAX_NAME))
    return analytics_refuse(err, "invalid_field", "name", "name must be 1 to %d bytes of text.", CASES_MAX_NAME);
  out->name = v->valuestring;
  v = cJSON_GetObjectItemCaseSensitive(req, "when");
  if (!cJSON_IsString(v))
    return analytics_refuse(err, "invalid_rule", "when", "when must be a rule about the response, such as response.nps <= 6.");
  cx_err rc = cs_compile_when(v->valuestring, NULL, err);
  if (rc) return rc;
  out->when = v->valuestring;
  if (!cs_json_id(cJSON_GetObjectItemCaseSensitive(req, "unit"), 0, &out->unit))
    return analytics_refuse(err, "invalid_field", "unit", "unit must be the id of the unit whose cases these are.");
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "priority"))) {
    if (!cJSON_IsString(v) || !one_of(v->valuestring, priorities))
      return analytics_refuse(err, "invalid_field", "priority", "priority must be low, normal, high or urgent.");
    out->priority = v->valuestring;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "sla_policy")) && !cs_json_id(v, 1, &out->sla_policy))
    return analytics_refuse(err, "invalid_field", "sla_policy", "sla_policy must be the id of an SLA policy, or null.");
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "follow_up_survey")) && !cs_json_id(v, 1, &out->follow_up_survey))
    return analytics_refuse(err, "invalid_field", "follow_up_survey", "follow_up_survey must be the id of a survey, or null.");
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "enabled"))) {
    if (!cJSON_IsBool(v)) return analytics_refuse(err, "invalid_field", "enabled", "enabled must be true or false.");
    out->enabled = cJSON_IsTrue(v);
  }
  return CX_OK;
}

static const char *const statuses[] = {"new", "open", "waiting", "resolved", "closed", NULL};

int cases_transition_ok(const char *from, const char *to) {
  /* from → the statuses it may go to */
  static const struct {
    const char *from, *to[4];
  } legal[] = {{"new", {"open", "waiting", "resolved", NULL}},
               {"open", {"waiting", "resolved", NULL}},
               {"waiting", {"open", "resolved", NULL}},
               {"resolved", {"closed", "open", NULL}},
               {"closed", {"open", NULL}}};
  for (size_t i = 0; i < sizeof legal / sizeof legal[0]; i++) {
    if (strcmp(from, legal[i].from)) continue;
    for (size_t k = 0; legal[i].to[k]; k++)
      if (!strcmp(to, legal[i].to[k])) return 1;
  }
  return 0;
}

cx_err cases_patch_check(const cJSON *req, cases_patch_req *out, analytics_error *err) {
  static const char *const names[] = {"status", "owner", "root_cause", "note", NULL};
  if (!cJSON_IsObject(req)) return analytics_refuse(err, "invalid_field", "case", "A change of a case is a JSON object.");
  const char *u = cs_unknown_member(req, names);
  if (u)
    return analytics_refuse(err, "invalid_field", u,
                            "Unknown member \"%.40s\": a case takes status, owner, root_cause and note.", u);
  memset(out, 0, sizeof *out);
  const cJSON *v;
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "status"))) {
    if (!cJSON_IsString(v) || !one_of(v->valuestring, statuses))
      return analytics_refuse(err, "invalid_field", "status", "status must be new, open, waiting, resolved or closed.");
    out->has_status = 1, out->status = v->valuestring;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "owner"))) {
    if (!cs_json_id(v, 1, &out->owner))
      return analytics_refuse(err, "invalid_field", "owner", "owner must be the id of a user, or null to unassign.");
    out->has_owner = 1;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "root_cause"))) {
    if (!cs_json_id(v, 0, &out->root_cause))
      return analytics_refuse(err, "invalid_field", "root_cause", "root_cause must be the id of a root cause (GET /api/v1/root-causes).");
    out->has_root_cause = 1;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(req, "note"))) {
    if (!cJSON_IsString(v) || !cs_note_ok(v->valuestring))
      return analytics_refuse(err, "invalid_field", "note", "note must be 1 to %d bytes of text.", CASES_MAX_NOTE);
    out->has_note = 1, out->note = v->valuestring;
  }
  if (!out->has_status && !out->has_owner && !out->has_root_cause && !out->has_note)
    return analytics_refuse(err, "invalid_field", "case", "Send at least one of status, owner, root_cause and note.");
  return CX_OK;
}
