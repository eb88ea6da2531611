/* demo_cases.c - the demo company's closed loop: its case rules open cases
 * for the last weeks of detractors and low CSATs through the engine's own
 * tick, and the owners work them through the engine's own functions, with
 * the replay clock (cases_set_clock) dating each action when it happens.
 * Deterministic: a case's fate comes from its id and the demo's answers. */
#include "demo_cases.h"
#include "../lib/base/mem.h"
#include "../lib/base/time.h"
#include "../lib/cases/cases.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR 3600000LL
#define MAX_PLANS 4096

/* What an owner does with a case, and when (0: not). */
typedef struct {
  int64_t id, owner;
  int nps;                         /* 1: the detractor rule, 0: low CSAT */
  int64_t at[5];                   /* first response, waiting, back, resolved, closed */
  int step;                        /* the next one */
  const char *cause;               /* a root cause's name */
} plan;

typedef struct {
  const char *name, *note;
  int nps_weight, csat_weight;
} cause_pick;

/* The root causes the owners find, how often for each rule, and what they
 * write when they resolve; names from the default tree (docs/cases.md). */
static const cause_pick causes[] = {
    {"Late", "The parcel sat at the depot for four days; refunded the shipping and flagged the carrier.", 20, 2},
    {"Long wait", "Waited 40 minutes on the phone; apologised and added a voucher. Staffing raised with the team lead.", 12,
     30},
    {"Not resolved first time", "Fixed the return label that failed twice; confirmed the refund is on its way.", 4, 22},
    {"Defect", "Sole came apart after two weeks; sent a replacement pair and logged the batch with quality.", 14, 2},
    {"Wrong charge", "Charged twice for one order; refunded the duplicate and confirmed by e-mail.", 10, 8},
    {"Refund delay", "Refund was stuck in review; released it and explained the timeline.", 5, 12},
    {"Rude or unhelpful", "Listened to the call with the customer's consent; apologised and coached the agent.", 2, 10},
    {"Hard to use", "Walked the customer through the app's order tracking; feedback passed to the product team.", 9, 1},
    {"Missing feature", "Asked for saved carts across devices; logged as a product request.", 8, 0},
    {"Damaged", "Tent pole arrived bent; replacement sent by express.", 7, 1},
    {"Wrong item", "Sent the wrong size; exchanged it with a prepaid label.", 6, 1},
    {"No update", "Nobody had told the customer the order was delayed; set up delivery updates.", 6, 6},
    {"Unclear information", "The subscription terms were unclear; explained them and passed the wording to marketing.", 4,
     8},
    {"Other", "Customer was unhappy with the weather, not with us; thanked them for the feedback.", 3, 3},
};

static const char *const first_notes[] = {
    "Called the customer back; they explained what went wrong and I promised to sort it out today.",
    "Reached the customer by phone on the second try; collecting the order details.",
    "Wrote to the customer to apologise and asked for the order number.",
    "Spoke with the customer: frustrated but glad someone called. Looking into it.",
};

static uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* A uniform draw in [lo, hi) hours, in ms, from bits. */
static int64_t hours(uint64_t bits, double lo, double hi) {
  double u = (double)(bits >> 11) * (1.0 / 9007199254740992.0);
  return (int64_t)((lo + u * (hi - lo)) * (double)HOUR);
}

static void plan_case(plan *p, int64_t opened, uint64_t seed) {
  uint64_t r = mix(seed ^ (uint64_t)p->id * 0x2545f4914f6cdd1dULL);
  int late_first = r % 100 < 7, late_resolve = (r >> 8) % 100 < 7, waits = (r >> 16) % 100 < 35;
  /* the detractor call-back policy gives 4 h and 3 days; the standard 1 day and 5 days */
  int64_t first = p->nps ? (late_first ? hours(mix(r + 1), 5, 20) : hours(mix(r + 1), 0.3, 3.5))
                         : (late_first ? hours(mix(r + 1), 26, 50) : hours(mix(r + 1), 1, 20));
  p->at[0] = opened + first;
  if (waits) {
    p->at[1] = p->at[0] + hours(mix(r + 2), 1, 6);
    p->at[2] = p->at[1] + hours(mix(r + 3), 10, 40);
  }
  int64_t last = waits ? p->at[2] : p->at[0];
  int64_t resolve = p->nps ? (late_resolve ? opened + hours(mix(r + 4), 75, 120) : p->at[0] + hours(mix(r + 4), 3, 50))
                           : (late_resolve ? opened + hours(mix(r + 4), 125, 170) : p->at[0] + hours(mix(r + 4), 5, 90));
  p->at[3] = resolve > last ? resolve : last + HOUR;
  p->at[4] = p->at[3] + hours(mix(r + 5), 12, 48);
  int total = 0;
  for (size_t i = 0; i < sizeof causes / sizeof causes[0]; i++) total += p->nps ? causes[i].nps_weight : causes[i].csat_weight;
  int pick = (int)(mix(r + 6) % (uint64_t)total);
  p->cause = causes[0].name;
  for (size_t i = 0; i < sizeof causes / sizeof causes[0]; i++) {
    pick -= p->nps ? causes[i].nps_weight : causes[i].csat_weight;
    if (pick < 0) {
      p->cause = causes[i].name;
      break;
    }
  }
}

/* A JSON request of the demo's own making; NULL: out of memory. */
static cJSON *json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static cJSON *json(const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return n > 0 && (size_t)n < sizeof buf ? cJSON_Parse(buf) : NULL;
}

/* The id in out's first "id":"…" (0: none). */
static int64_t first_id(const cx_buf *out) {
  const char *p = out->p ? strstr(out->p, "\"id\":\"") : NULL;
  return p ? strtoll(p + 6, NULL, 10) : 0;
}

typedef struct {
  cases *cs;
  const demo_org *org;
  gv_principal admin;
  char causes_json[16384];
} loop;

/* The id of a root cause by name, from GET /root-causes' answer. */
static int64_t cause_id(const loop *l, const char *name) {
  char key[160];
  snprintf(key, sizeof key, "\"name\":\"%s\"", name);
  const char *p = strstr(l->causes_json, key);
  if (!p) return 0;
  /* "id" comes before "name" in each object */
  const char *q = p;
  while (q > l->causes_json && strncmp(q, "{\"id\":\"", 7)) q--;
  return strncmp(q, "{\"id\":\"", 7) ? 0 : strtoll(q + 7, NULL, 10);
}

static gv_principal principal_of(const loop *l, int64_t user) {
  for (size_t i = 0; i < l->org->nusers; i++) {
    const demo_user *u = &l->org->users[i];
    if (u->id != user) continue;
    gv_principal p = {.user_id = u->id, .role = u->role, .unit_id = u->unit ? u->unit : GV_ALL_UNITS};
    snprintf(p.actor, sizeof p.actor, "user:%s", u->email);
    return p;
  }
  return l->admin;
}

/* Does p's next step; CX_EINVAL (with err) when the engine refuses it. */
static cx_err work(loop *l, plan *p, analytics_error *err) {
  gv_principal who = principal_of(l, p->owner);
  cx_buf out;
  cx_buf_init(&out, 1 << 20);
  cJSON *req = NULL;
  cx_err rc = CX_OK;
  const cause_pick *c = &causes[0];
  for (size_t i = 0; i < sizeof causes / sizeof causes[0]; i++)
    if (!strcmp(causes[i].name, p->cause)) c = &causes[i];
  switch (p->step) {
  case 0:
    req = json("{\"body\":\"%s\"}", first_notes[(uint64_t)p->id % 4]);
    if (req) rc = cases_note(l->cs, p->id, req, &who, &out, err);
    break;
  case 1: req = json("{\"status\":\"waiting\",\"note\":\"Waiting for the customer's photos and order number.\"}"); break;
  case 2: req = json("{\"status\":\"open\",\"note\":\"The customer wrote back with the details.\"}"); break;
  case 3:
    req = json("{\"status\":\"resolved\",\"root_cause\":\"%lld\",\"note\":\"%s\"}", (long long)cause_id(l, c->name), c->note);
    break;
  default: req = json("{\"status\":\"closed\"}"); break;
  }
  if (!req) rc = CX_ENOMEM;
  else if (p->step) rc = cases_patch(l->cs, p->id, req, &who, &out, err);
  cJSON_Delete(req);
  cx_buf_free(&out);
  return rc;
}

/* The cases the last tick opened (the newest n) into plans. */
static cx_err adopt(loop *l, int n, int64_t opened, uint64_t seed, int64_t nps_rule, plan *plans, size_t *nplans) {
  cases_query q = {.limit = (size_t)n};
  cx_buf out;
  cx_buf_init(&out, 16 << 20);
  analytics_error err = {{0}, {0}, {0}};
  cx_err rc = cases_list(l->cs, &q, &l->admin, &out, &err);
  cJSON *o = rc ? NULL : cJSON_ParseWithLength(out.p, out.len);
  if (!rc && !o) rc = CX_ENOMEM;
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(o, "cases")) {
    if (*nplans == MAX_PLANS) break;
    const cJSON *id = cJSON_GetObjectItem(c, "id"), *owner = cJSON_GetObjectItem(c, "owner"),
                *rule = cJSON_GetObjectItem(c, "rule_id");
    plan *p = &plans[(*nplans)++];
    memset(p, 0, sizeof *p);
    p->id = cJSON_IsString(id) ? strtoll(id->valuestring, NULL, 10) : 0;
    p->owner = cJSON_IsString(owner) ? strtoll(owner->valuestring, NULL, 10) : 0;
    p->nps = cJSON_IsString(rule) && strtoll(rule->valuestring, NULL, 10) == nps_rule;
    plan_case(p, opened, seed);
  }
  cJSON_Delete(o);
  cx_buf_free(&out);
  return rc;
}

/* No follow-up survey on the demo's rules: the replayed answers are all
 * received now, after every replayed close, so each opening answer would
 * count as its own case's follow-up (metrics.c reads received_at). */
static cx_err configure(loop *l, const demo_voice *v, int64_t *nps_rule) {
  cx_buf out;
  cx_buf_init(&out, 1 << 20);
  analytics_error err = {{0}, {0}, {0}};
  cJSON *req = json("{\"name\":\"Detractor call-back\",\"first_response_seconds\":14400,\"resolution_seconds\":259200}");
  cx_err rc = req ? cases_config_put(l->cs, CASES_SLA, 0, req, &l->admin, &out, &err) : CX_ENOMEM;
  int64_t sla = first_id(&out);
  cJSON_Delete(req);
  cx_buf_reset(&out);
  if (!rc) {
    req = json("{\"name\":\"Detractor call-back\",\"when\":\"response.nps <= 6 && response.survey == %lld\",\"unit\":\"%lld\","
               "\"priority\":\"high\",\"sla_policy\":\"%lld\"}",
               (long long)demo_voice_survey(v, DEMO_VOICE_NPS), (long long)l->org->units[0], (long long)sla);
    rc = req ? cases_config_put(l->cs, CASES_RULES, 0, req, &l->admin, &out, &err) : CX_ENOMEM;
    *nps_rule = first_id(&out);
    cJSON_Delete(req);
    cx_buf_reset(&out);
  }
  if (!rc) {
    /* routed to the care team the answer names (its context.unit) */
    req = json("{\"name\":\"Low CSAT after support\",\"when\":\"response.csat <= 2 && response.survey == %lld\","
               "\"unit\":\"%lld\",\"priority\":\"normal\"}",
               (long long)demo_voice_survey(v, DEMO_VOICE_CSAT), (long long)l->org->units[0]);
    rc = req ? cases_config_put(l->cs, CASES_RULES, 0, req, &l->admin, &out, &err) : CX_ENOMEM;
    cJSON_Delete(req);
    cx_buf_reset(&out);
  }
  if (!rc) rc = cases_config_list(l->cs, CASES_ROOTS, &out);
  if (!rc && out.len < sizeof l->causes_json) memcpy(l->causes_json, out.p, out.len + 1);
  if (rc == CX_EINVAL) cli_error("the demo's case rules were refused: %s (%s) - a bug in cxm demo.", err.message, err.field);
  cx_buf_free(&out);
  return rc;
}

/* The figures cxm demo prints: cases, those still open, those breached. */
static cx_err count(loop *l, demo_cases_figures *f) {
  cases_query q = {.limit = 1000};
  cx_buf out;
  cx_buf_init(&out, 32 << 20);
  analytics_error err = {{0}, {0}, {0}};
  cx_err rc;
  do {
    cx_buf_reset(&out);
    rc = cases_list(l->cs, &q, &l->admin, &out, &err);
    cJSON *o = rc ? NULL : cJSON_ParseWithLength(out.p, out.len);
    if (!rc && !o) rc = CX_ENOMEM;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(o, "cases")) {
      const cJSON *s = cJSON_GetObjectItem(c, "status"), *b = cJSON_GetObjectItem(c, "breached");
      f->cases++;
      if (cJSON_IsString(s) && strcmp(s->valuestring, "resolved") && strcmp(s->valuestring, "closed")) f->open++;
      if (!cJSON_IsNull(cJSON_GetObjectItem(b, "first_response")) || !cJSON_IsNull(cJSON_GetObjectItem(b, "resolution")))
        f->breached++;
    }
    const cJSON *next = cJSON_GetObjectItem(o, "next_cursor");
    q.cursor = cJSON_IsString(next) ? strtoll(next->valuestring, NULL, 10) : 0;
    cJSON_Delete(o);
  } while (!rc && q.cursor);
  cx_buf_free(&out);
  return rc;
}

int demo_cases(store *st, profile *pr, feedback *fb, demo_voice *v, const demo_org *org, int64_t cut, int64_t end,
               size_t *responses, demo_cases_figures *out) {
  loop *l = cx_calloc(1, sizeof *l);
  plan *plans = cx_calloc(MAX_PLANS, sizeof *plans);
  size_t nplans = 0;
  cx_err rc = l && plans ? cases_open(st, pr, NULL, &l->cs) : CX_ENOMEM;
  int64_t nps_rule = 0;
  analytics_error err = {{0}, {0}, {0}};
  if (!rc) {
    l->org = org;
    l->admin = (gv_principal){.role = GV_ADMIN, .unit_id = GV_ALL_UNITS};
    snprintf(l->admin.actor, sizeof l->admin.actor, "cli:demo");
    cases_set_clock(l->cs, cut);
    rc = configure(l, v, &nps_rule);
  }
  uint64_t seed = 0x5eed;
  for (int64_t t = cut; !rc && t < end; t += HOUR) {
    int64_t next = t + HOUR < end ? t + HOUR : end;
    size_t before = *responses;
    rc = demo_voice_save_window(v, fb, t, next, responses);
    /* the owners' work due this hour, each dated when it is done */
    for (size_t i = 0; i < nplans && !rc; i++) {
      plan *p = &plans[i];
      while (!rc && p->step < 5 && (!p->at[p->step] || p->at[p->step] < next)) {
        if (p->at[p->step]) {
          cases_set_clock(l->cs, p->at[p->step]);
          rc = work(l, p, &err);
        }
        p->step++;
      }
    }
    /* a tick after new answers, else every 4 hours (breaches): each tick
     * is a store job, the demo's time */
    int opened = 0;
    if (!rc && (*responses > before || (t - cut) % (4 * HOUR) == 0 || next == end))
      rc = cases_tick(l->cs, next, &opened);
    if (!rc && opened) rc = adopt(l, opened, next, seed, nps_rule, plans, &nplans);
  }
  if (rc == CX_EINVAL) cli_error("the demo's case work was refused: %s (%s) - a bug in cxm demo.", err.message, err.field);
  else if (rc) cli_error("the demo's cases could not be made (%s).", cx_strerror(rc));
  if (!rc) rc = count(l, out);
  if (l && l->cs) {
    cases_set_clock(l->cs, 0);
    cases_close(l->cs);
  }
  cx_free(plans);
  cx_free(l);
  return rc ? 1 : 0;
}
