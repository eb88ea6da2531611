/* stage.c - the lifecycle stage of a customer: the first of the default
 * stage rules (rules language, lib/rules) that matches, evaluated over the
 * customer's in-memory timeline when the customer is shown.
 *
 * The rules read event counts and times only (count, days_since,
 * first_seen, last_seen) and customer.identified; sum() and traits read
 * as 0 and null here until the journey issue brings stored, configurable
 * stage rules with their transitions. */
#include "profile_int.h"
#include "../base/time.h"
#include "../rules/rules.h"
#include <string.h>

static const struct {
  const char *name, *rule;
} defaults[] = {
    {"churned", "customer.identified && now - last_seen > 120d"},
    {"at_risk", "count(\"Order Completed\") >= 1 && days_since(\"Order Completed\") > 60"},
    {"support_experience", "count(\"Ticket Opened\", 14d) > count(\"Ticket Closed\", 14d)"},
    {"advocacy", "count(\"Order Completed\") >= 2 && count(\"Review Submitted\") + count(\"Referral Sent\") >= 1"},
    {"bonding", "count(\"Order Completed\") >= 2"},
    {"purchase", "count(\"Order Completed\") >= 1"},
    {"evaluation", "count(\"Product Added\") + count(\"Checkout Started\") >= 1"},
    {"engagement", "customer.identified"},
    {"awareness", "true"},
};
#define NSTAGES (sizeof defaults / sizeof defaults[0])

static rules_expr *compiled[NSTAGES];
static const char *stage_names[NSTAGES]; /* defaults[i].name, as one array */
static pthread_once_t compile_once = PTHREAD_ONCE_INIT;

static void compile_all(void) {
  for (size_t i = 0; i < NSTAGES; i++) {
    stage_names[i] = defaults[i].name;
    rules_error err;
    /* the rules are fixed: a failure is a bug, and the stage is skipped */
    if (rules_compile(defaults[i].rule, strlen(defaults[i].rule), &compiled[i], &err)) compiled[i] = NULL;
  }
}

typedef struct {
  const profile *p;
  const profile_customer *c;
  int identified;
  int64_t now;
  uint32_t upto; /* the points at or before now: tl[0..upto) */
  profile_name_cache *cache;
} stage_ctx;

/* The kinds named name, through the cache: the rules' names are strings
 * of the compiled rules, so a name is found by its pointer. NULL when
 * there are too many to cache (the caller compares names). */
static const profile_cached_name *kinds_named(const profile *p, profile_name_cache *c, const char *name) {
  if (c->nkinds != p->nkinds) { /* new kinds since: start over */
    c->n = 0;
    c->nkinds = p->nkinds;
  }
  for (uint32_t i = 0; i < c->n; i++)
    if (c->names[i].name == name) return c->names[i].nk <= PROFILE_CACHE_KINDS ? &c->names[i] : NULL;
  if (c->n == PROFILE_CACHE_NAMES) return NULL;
  profile_cached_name *e = &c->names[c->n++];
  e->name = name;
  e->nk = 0;
  for (uint32_t k = 1; k <= p->nkinds; k++)
    if (!strcmp(p->kinds[k].name, name)) {
      if (e->nk < PROFILE_CACHE_KINDS) e->kind[e->nk] = k;
      e->nk++;
    }
  return e->nk <= PROFILE_CACHE_KINDS ? e : NULL;
}

static int named_in(const profile *p, const profile_cached_name *e, const profile_point *pt,
                    const char *name) {
  if (!e) return !strcmp(p->kinds[pt->kind].name, name);
  for (uint32_t i = 0; i < e->nk; i++)
    if (e->kind[i] == pt->kind) return 1;
  return 0;
}

int profile_point_named(const profile *p, profile_name_cache *cache, const profile_point *pt,
                        const char *name) {
  return named_in(p, kinds_named(p, cache, name), pt, name);
}

static int named(const stage_ctx *x, const profile_cached_name *e, const profile_point *pt,
                 const char *name) {
  return named_in(x->p, e, pt, name);
}

static cx_err st_count(void *ctx, const char *name, int64_t window_ms, double *out) {
  const stage_ctx *x = ctx;
  const profile_cached_name *e = kinds_named(x->p, x->cache, name);
  double n = 0;
  if (e && !e->nk) { /* nobody sent it */
    *out = 0;
    return CX_OK;
  }
  for (uint32_t i = x->upto; i-- > 0;) {
    const profile_point *pt = &x->c->tl[i];
    if (window_ms >= 0 && pt->ts <= x->now - window_ms) break; /* older ones are older still */
    if (named(x, e, pt, name)) n++;
  }
  *out = n;
  return CX_OK;
}

static cx_err st_last_time(void *ctx, const char *name, int64_t *out_ms) {
  const stage_ctx *x = ctx;
  const profile_cached_name *e = kinds_named(x->p, x->cache, name);
  *out_ms = CX_NO_TIME;
  for (uint32_t i = x->upto; i-- > 0;) /* sorted by time: the last match is the latest */
    if (named(x, e, &x->c->tl[i], name)) {
      *out_ms = x->c->tl[i].ts;
      break;
    }
  return CX_OK;
}

static cx_err st_first_seen(void *ctx, int64_t *out_ms) {
  const stage_ctx *x = ctx;
  *out_ms = x->c->n && x->c->tl[0].ts <= x->now ? x->c->tl[0].ts : CX_NO_TIME;
  return CX_OK;
}

static cx_err st_last_seen(void *ctx, int64_t *out_ms) {
  const stage_ctx *x = ctx;
  *out_ms = x->upto ? x->c->tl[x->upto - 1].ts : CX_NO_TIME;
  return CX_OK;
}

static cx_err st_lookup(void *ctx, const char *root, const char *const *parts, size_t nparts,
                        rules_value *out) {
  const stage_ctx *x = ctx;
  if (!strcmp(root, "customer") && nparts == 1 && !strcmp(parts[0], "identified")) {
    out->type = RULES_BOOL;
    out->u.boolean = x->identified;
  }
  return CX_OK;
}

size_t profile_stage_names(const char *const **names) {
  pthread_once(&compile_once, compile_all);
  *names = stage_names;
  return NSTAGES;
}

/* The first stage whose rule matches root customer r at now (the lock held). */
static size_t stage_at(const profile *p, int64_t r, int identified, int64_t now,
                       profile_name_cache *cache) {
  pthread_once(&compile_once, compile_all);
  const profile_customer *c = &p->cust[r];
  uint32_t lo = 0, hi = c->n; /* the points at or before now */
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (c->tl[mid].ts <= now) lo = mid + 1;
    else hi = mid;
  }
  stage_ctx x = {p, c, identified, now, lo, cache};
  rules_env env = {.ctx = &x, .now_ms = now, .lookup = st_lookup, .count = st_count,
                   .last_time = st_last_time, .first_seen = st_first_seen,
                   .last_seen = st_last_seen};
  for (size_t i = 0; i < NSTAGES; i++)
    if (compiled[i] && rules_match(compiled[i], &env)) return i;
  return NSTAGES - 1;
}

size_t profile_stage_of(const profile *p, int64_t id, int64_t now, profile_name_cache *cache) {
  if (id <= 0 || id > p->ncust || p->cust[id].parent != id) return NSTAGES - 1;
  return stage_at(p, id, profile_identified(p, id), now, cache);
}

const char *profile_stage(profile *p, int64_t id, int identified, int64_t now) {
  size_t stage = NSTAGES - 1;
  profile_name_cache cache = {0};
  pthread_rwlock_rdlock(&p->lock);
  int64_t r = profile_root(p, id);
  if (r) stage = stage_at(p, r, identified, now, &cache);
  pthread_rwlock_unlock(&p->lock);
  return defaults[stage].name;
}
