/* stage.c - the lifecycle stage of a customer: the first stage of the
 * stage model whose rule (rules language, lib/rules) matches, evaluated
 * over the customer's in-memory timeline at an instant. The model is the
 * nine default stages below unless one was saved (PUT
 * /api/v1/lifecycle/stages, kept in the store's meta table under
 * "lifecycle_stages" and installed at open).
 *
 * The rules read event counts and times (count, days_since, first_seen,
 * last_seen) and customer.identified; sum() and traits read as 0 and null
 * here (they need the store: segments and funnel steps have them). */
#include "profile_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../rules/rules.h"
#include <cjson/cJSON.h>
#include <stdio.h>
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
#define NDEFAULTS (sizeof defaults / sizeof defaults[0])

struct profile_stages {
  size_t n;
  char name[PROFILE_MAX_STAGES][PROFILE_STAGE_NAME_MAX + 1];
  const char *names[PROFILE_MAX_STAGES]; /* name[i], as one array */
  char *src[PROFILE_MAX_STAGES];         /* owned */
  rules_expr *rule[PROFILE_MAX_STAGES];  /* owned */
  int is_default;
};

static profile_stages *default_model;
static pthread_once_t compile_once = PTHREAD_ONCE_INIT;

void profile_stages_free(profile_stages *m) {
  if (!m) return;
  for (size_t i = 0; i < m->n; i++) {
    cx_free(m->src[i]);
    rules_free(m->rule[i]);
  }
  cx_free(m);
}

static int name_ok(const char *s) {
  size_t n = strlen(s);
  if (!n || n > PROFILE_STAGE_NAME_MAX) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return 0;
  return 1;
}

cx_err profile_stages_compile(const char *const *names, const char *const *rules, size_t n,
                              profile_stages **out, size_t *bad, int *bad_rule, char *msg,
                              size_t msglen) {
  *out = NULL;
  *bad = 0;
  *bad_rule = 0;
  if (n < 1 || n > PROFILE_MAX_STAGES) {
    snprintf(msg, msglen, "A stage model has 1 to %d stages.", PROFILE_MAX_STAGES);
    return CX_EINVAL;
  }
  profile_stages *m = cx_calloc(1, sizeof *m);
  if (!m) return CX_ENOMEM;
  cx_err rc = CX_OK;
  for (size_t i = 0; i < n && !rc; i++) {
    *bad = i;
    if (!name_ok(names[i])) {
      snprintf(msg, msglen, "Stage %zu's name must be 1 to %d lower-case letters, digits or '_'.", i + 1,
               PROFILE_STAGE_NAME_MAX);
      rc = CX_EINVAL;
      break;
    }
    for (size_t j = 0; j < i; j++)
      if (!strcmp(m->name[j], names[i])) {
        snprintf(msg, msglen, "Two stages are named %s.", names[i]);
        rc = CX_EINVAL;
      }
    if (rc) break;
    snprintf(m->name[i], sizeof m->name[i], "%s", names[i]);
    m->names[i] = m->name[i];
    rules_error re;
    rc = rules_compile(rules[i], strlen(rules[i]), &m->rule[i], &re);
    if (rc == CX_ENOMEM) break;
    if (rc) {
      snprintf(msg, msglen, "Stage %zu's rule: %s", i + 1, re.message);
      *bad_rule = 1;
      rc = CX_EINVAL;
      break;
    }
    m->n = i + 1; /* owns rule[i] from here */
    if (rules_reads_root(m->rule[i], "response") || rules_reads_root(m->rule[i], "answers")) {
      snprintf(msg, msglen, "Stage %zu's rule: response.* and answers.* belong to survey logic and case rules.", i + 1);
      *bad_rule = 1;
      rc = CX_EINVAL;
      break;
    }
    if (!rules_may_be(m->rule[i], RULES_BOOL)) {
      snprintf(msg, msglen, "Stage %zu's rule must be a condition (true or false).", i + 1);
      *bad_rule = 1;
      rc = CX_EINVAL;
      break;
    }
    size_t len = strlen(rules[i]);
    if (!(m->src[i] = cx_malloc(len + 1))) {
      rc = CX_ENOMEM;
      break;
    }
    memcpy(m->src[i], rules[i], len + 1);
  }
  if (rc) {
    profile_stages_free(m);
    return rc;
  }
  *out = m;
  return CX_OK;
}

static void compile_defaults(void) {
  const char *names[NDEFAULTS], *rules[NDEFAULTS];
  for (size_t i = 0; i < NDEFAULTS; i++) names[i] = defaults[i].name, rules[i] = defaults[i].rule;
  size_t bad;
  int bad_rule;
  char msg[200];
  /* the defaults are fixed: a failure is a bug (or no memory at start) */
  if (!profile_stages_compile(names, rules, NDEFAULTS, &default_model, &bad, &bad_rule, msg, sizeof msg))
    default_model->is_default = 1;
}

static const profile_stages *model(const profile *p) {
  pthread_once(&compile_once, compile_defaults);
  return p->stages ? p->stages : default_model;
}

void profile_stages_install(profile *p, profile_stages *m) {
  pthread_rwlock_wrlock(&p->lock);
  profile_stages *old = p->stages;
  p->stages = m;
  pthread_rwlock_unlock(&p->lock);
  profile_stages_free(old); /* no reader holds it: they take the lock */
}

cx_err profile_stages_write(const profile_stages *m, cx_buf *out) {
  cx_err rc = cx_buf_printf(out, "{\"default\":%s,\"stages\":[", m->is_default ? "true" : "false");
  for (size_t i = 0; !rc && i < m->n; i++) {
    rc = cx_buf_printf(out, "%s{\"name\":\"%s\",\"rule\":", i ? "," : "", m->name[i]);
    if (!rc) rc = cx_buf_json_str(out, m->src[i], strlen(m->src[i]));
    if (!rc) rc = cx_buf_puts(out, "}");
  }
  if (!rc) rc = cx_buf_puts(out, "]}");
  return rc;
}

cx_err profile_stages_json(profile *p, cx_buf *out) {
  pthread_rwlock_rdlock(&p->lock);
  const profile_stages *m = model(p);
  cx_err rc = m ? profile_stages_write(m, out) : CX_ENOMEM;
  pthread_rwlock_unlock(&p->lock);
  return rc;
}

cx_err profile_stages_load(profile *p, sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'lifecycle_stages'", -1, &st, NULL)) return CX_EDB;
  cx_err rc = CX_OK;
  if (sqlite3_step(st) == SQLITE_ROW) {
    cJSON *doc = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
    const cJSON *stages = cJSON_GetObjectItem(doc, "stages");
    const char *names[PROFILE_MAX_STAGES], *rules[PROFILE_MAX_STAGES];
    size_t n = 0;
    for (const cJSON *x = stages ? stages->child : NULL; x && n < PROFILE_MAX_STAGES; x = x->next, n++) {
      const cJSON *nm = cJSON_GetObjectItem(x, "name"), *r = cJSON_GetObjectItem(x, "rule");
      names[n] = cJSON_IsString(nm) ? nm->valuestring : "";
      rules[n] = cJSON_IsString(r) ? r->valuestring : "";
    }
    profile_stages *m = NULL;
    size_t bad;
    int bad_rule;
    char msg[200];
    rc = profile_stages_compile(names, rules, n, &m, &bad, &bad_rule, msg, sizeof msg);
    if (rc == CX_EINVAL) { /* saved by a newer version? keep the defaults, and say so */
      fprintf(stderr, "cxm: the saved lifecycle stages are not usable (%s); using the defaults\n", msg);
      rc = CX_OK;
    } else if (!rc) {
      profile_stages_free(p->stages);
      p->stages = m;
    }
    cJSON_Delete(doc);
  }
  sqlite3_finalize(st);
  return rc;
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

double profile_history_count(const profile *p, profile_name_cache *cache, const profile_point *tl,
                             size_t upto, int64_t now, const char *name, int64_t window_ms) {
  const profile_cached_name *e = kinds_named(p, cache, name);
  if (e && !e->nk) return 0; /* nobody sent it */
  double n = 0;
  for (size_t i = upto; i-- > 0;) {
    if (window_ms >= 0 && tl[i].ts <= now - window_ms) break; /* older ones are older still */
    if (named_in(p, e, &tl[i], name)) n++;
  }
  return n;
}

int64_t profile_history_last(const profile *p, profile_name_cache *cache, const profile_point *tl,
                             size_t upto, const char *name) {
  const profile_cached_name *e = kinds_named(p, cache, name);
  if (e && !e->nk) return CX_NO_TIME; /* nobody sent it */
  for (size_t i = upto; i-- > 0;) /* sorted by time: the last match is the latest */
    if (named_in(p, e, &tl[i], name)) return tl[i].ts;
  return CX_NO_TIME;
}

static cx_err st_count(void *ctx, const char *name, int64_t window_ms, double *out) {
  const stage_ctx *x = ctx;
  *out = profile_history_count(x->p, x->cache, x->c->tl, x->upto, x->now, name, window_ms);
  return CX_OK;
}

static cx_err st_last_time(void *ctx, const char *name, int64_t *out_ms) {
  const stage_ctx *x = ctx;
  *out_ms = profile_history_last(x->p, x->cache, x->c->tl, x->upto, name);
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

size_t profile_stage_names(const profile *p, const char *const **names) {
  const profile_stages *m = model(p);
  *names = m ? m->names : NULL;
  return m ? m->n : 0;
}

/* The first stage whose rule matches root customer r at now (the lock
 * held); the last stage when none does. */
static size_t stage_at(const profile *p, int64_t r, int identified, int64_t now,
                       profile_name_cache *cache) {
  const profile_stages *m = model(p);
  if (!m || !m->n) return 0;
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
  for (size_t i = 0; i < m->n; i++)
    if (rules_match(m->rule[i], &env)) return i;
  return m->n - 1;
}

size_t profile_stage_of(const profile *p, int64_t id, int64_t now, profile_name_cache *cache) {
  if (id <= 0 || id > p->ncust || p->cust[id].parent != id) {
    const profile_stages *m = model(p);
    return m && m->n ? m->n - 1 : 0;
  }
  return stage_at(p, id, profile_identified(p, id), now, cache);
}

void profile_stage(profile *p, int64_t id, int identified, int64_t now,
                   char out[PROFILE_STAGE_NAME_MAX + 1]) {
  profile_name_cache cache = {0};
  pthread_rwlock_rdlock(&p->lock);
  const profile_stages *m = model(p);
  int64_t r = profile_root(p, id);
  size_t stage = m && m->n ? m->n - 1 : 0;
  if (r && m) stage = stage_at(p, r, identified, now, &cache);
  snprintf(out, PROFILE_STAGE_NAME_MAX + 1, "%s", m && m->n ? m->name[stage] : "");
  pthread_rwlock_unlock(&p->lock);
}
