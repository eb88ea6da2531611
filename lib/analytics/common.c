/* common.c - what the analytics queries share: request checking, trait
 * columns, breakdown groups, the rule environment over one event, the
 * parallel scan and small statistics. */
#include "analytics_int.h"
#include "../base/arena.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/util.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cx_err analytics_refuse(analytics_error *err, const char *code, const char *field, const char *fmt, ...) {
  snprintf(err->code, sizeof err->code, "%s", code);
  snprintf(err->field, sizeof err->field, "%s", field ? field : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  cx_utf8_scrub(err->message); /* it may quote the request, cut anywhere */
  cx_utf8_scrub(err->field);
  return CX_EINVAL;
}

cx_err an_get_string(const cJSON *req, const char *name, int required, const char **out,
                     analytics_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
  if (!v || cJSON_IsNull(v)) {
    if (required) return an_fail(err, "invalid_field", name, "%s is required.", name);
    *out = NULL;
    return CX_OK;
  }
  if (!cJSON_IsString(v) || !*v->valuestring)
    return an_fail(err, "invalid_field", name, "%s must be a non-empty string.", name);
  *out = v->valuestring;
  return CX_OK;
}

cx_err an_get_time(const cJSON *req, const char *name, int64_t *out, analytics_error *err) {
  const char *s;
  cx_err rc = an_get_string(req, name, 1, &s, err);
  if (rc) return rc;
  if (cx_time_parse(s, strlen(s), out))
    return an_fail(err, "invalid_field", name,
                   "%s must be an ISO-8601 time such as 2026-10-01T00:00:00Z.", name);
  return CX_OK;
}

cx_err an_get_int(const cJSON *req, const char *name, int64_t lo, int64_t hi, int64_t *out,
                  analytics_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
  if (!v || cJSON_IsNull(v)) return CX_OK;
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= (double)lo && v->valuedouble <= (double)hi) ||
      v->valuedouble != (double)(int64_t)v->valuedouble) /* range first: the cast needs it */
    return an_fail(err, "invalid_field", name, "%s must be a whole number from %lld to %lld.", name,
                   (long long)lo, (long long)hi);
  *out = (int64_t)v->valuedouble;
  return CX_OK;
}

cx_err analytics_parse_duration(const char *s, int64_t max_ms, int64_t *out) {
  /* the rules language's durations: compile the text as a rule and
   * accept it only when it is one duration literal */
  rules_expr *e = NULL;
  rules_value v = {0};
  int ok = !rules_compile(s, strlen(s), &e, NULL);
  if (ok) {
    rules_env env = {0};
    ok = !rules_eval(e, &env, &v) && v.type == RULES_DURATION;
  }
  rules_free(e);
  if (!ok || v.u.ms <= 0 || v.u.ms > max_ms) return CX_EINVAL;
  *out = v.u.ms;
  return CX_OK;
}

cx_err an_get_duration(const cJSON *req, const char *name, int64_t max_ms, int64_t *out,
                       analytics_error *err) {
  const char *s = NULL;
  cx_err rc = an_get_string(req, name, 1, &s, err);
  if (rc) return rc;
  if (analytics_parse_duration(s, max_ms, out))
    return an_fail(err, "invalid_field", name,
                   "%s must be a duration above 0 and at most %lldd, such as 30m, 12h or 7d.", name,
                   (long long)(max_ms / 86400000));
  return CX_OK;
}

cx_err an_compile(const cJSON *item, const char *field, const char *label, rules_expr **out,
                  analytics_error *err) {
  *out = NULL;
  if (!item || cJSON_IsNull(item)) return CX_OK;
  if (!cJSON_IsString(item)) return an_fail(err, "invalid_field", field, "%s must be a rule (a string).", field);
  rules_error re;
  cx_err rc = rules_compile(item->valuestring, strlen(item->valuestring), out, &re);
  if (rc == CX_ENOMEM) return rc;
  if (rc) return an_fail(err, "invalid_rule", field, "%s: %s", label, re.message);
  if (rules_reads_root(*out, "response") || rules_reads_root(*out, "answers")) {
    rules_free(*out);
    *out = NULL;
    return an_fail(err, "invalid_rule", field, "%s: response.* and answers.* belong to survey logic and case rules.",
                   label);
  }
  return CX_OK;
}

size_t an_mark_kinds(const profile *p, const char *name, uint32_t *match, uint32_t bit) {
  size_t found = 0;
  uint32_t nk = profile_kind_count(p);
  for (uint32_t k = 1; k <= nk; k++) {
    const char *kn = profile_kind_name(p, k, NULL);
    if (*kn && !strcmp(kn, name)) {
      match[k] |= bit;
      found++;
    }
  }
  return found;
}

/* ---- trait columns ---- */

/* A value as the rules see it, decoded once at load. */
typedef struct {
  rules_type type; /* NULL, BOOL, NUMBER or STRING */
  int boolean;
  double number;
  const char *str; /* STRING: the text; others: the JSON text (for group keys) */
  size_t len;
} an_value;

#define TEXT_MAX ((size_t)1 << 32) /* bytes of one trait's values */

struct an_trait {
  char *key;          /* owned */
  uint32_t *of;       /* value index per customer id [0..maxid]; 0 = none */
  int64_t *ts;        /* the value's time per root, while loading */
  an_value *values;   /* [1..nvalues], distinct (interned), strings in text */
  size_t nvalues, capvalues;
  uint32_t *vslots;   /* open addressing over values: index, 0 = empty */
  size_t nvslots;
  cx_arena text;      /* the values' strings */
  int64_t maxid;
};

static cx_err trait_add(an_traits *t, const char *key, size_t keylen) {
  for (size_t i = 0; i < t->n; i++)
    if (strlen(t->t[i].key) == keylen && !memcmp(t->t[i].key, key, keylen)) return CX_OK;
  an_trait *g = cx_realloc(t->t, (t->n + 1) * sizeof *g);
  if (!g) return CX_ENOMEM;
  t->t = g;
  memset(&g[t->n], 0, sizeof g[t->n]);
  cx_arena_init(&g[t->n].text, TEXT_MAX);
  if (!(g[t->n].key = cx_malloc(keylen + 1))) return CX_ENOMEM;
  memcpy(g[t->n].key, key, keylen);
  g[t->n].key[keylen] = 0;
  t->n++;
  return CX_OK;
}

static cx_err trait_path(void *ctx, const char *root, const char *const *parts, size_t nparts) {
  if (strcmp(root, "traits") || nparts < 1) return CX_OK;
  return trait_add(ctx, parts[0], strlen(parts[0]));
}

static char *keep_str(an_trait *t, const char *s, size_t n) {
  char *k = cx_arena_alloc(&t->text, n + 1);
  if (k) memcpy(k, s, n), k[n] = 0;
  return k;
}

static uint64_t value_hash(rules_type type, const char *s, size_t n) {
  return cx_hash64((uint64_t)type + 1, s, n) | 1;
}

/* The slot of (type, s[0..n)) in t->vslots: its value's or the empty one
 * where it goes. */
static size_t value_slot(const an_trait *t, rules_type type, const char *s, size_t n) {
  size_t k = value_hash(type, s, n) & (t->nvslots - 1);
  for (;;) {
    uint32_t i = t->vslots[k];
    if (!i) return k;
    const an_value *v = &t->values[i];
    if (v->type == type && v->len == n && !memcmp(v->str, s, n)) return k;
    k = (k + 1) & (t->nvslots - 1);
  }
}

/* Keeps vslots at most half full. */
static cx_err value_slots_grow(an_trait *t) {
  if (t->nvslots && (t->nvalues + 1) * 2 < t->nvslots) return CX_OK;
  size_t n = t->nvslots ? t->nvslots * 2 : 1024;
  uint32_t *slots = cx_calloc(n, sizeof *slots);
  if (!slots) return CX_ENOMEM;
  cx_free(t->vslots);
  t->vslots = slots;
  t->nvslots = n;
  for (uint32_t i = 1; i <= t->nvalues; i++)
    t->vslots[value_slot(t, t->values[i].type, t->values[i].str, t->values[i].len)] = i;
  return CX_OK;
}

/* Decodes the stored JSON text of a value into *idx: the index of an
 * equal value (same type and text) already in t, or of a new one. */
static cx_err trait_value(an_trait *t, const char *json, size_t n, uint32_t *idx) {
  if (value_slots_grow(t)) return CX_ENOMEM;
  if (t->nvalues + 1 >= t->capvalues) {
    size_t cap = t->capvalues ? t->capvalues * 2 : 1024;
    an_value *v = cx_realloc(t->values, cap * sizeof *v);
    if (!v) return CX_ENOMEM;
    t->values = v;
    t->capvalues = cap;
  }
  an_value *v = &t->values[++t->nvalues];
  memset(v, 0, sizeof *v);
  cJSON *j = cJSON_ParseWithLength(json, n);
  const char *text = json;
  size_t tn = n;
  if (cJSON_IsString(j)) {
    v->type = RULES_STRING;
    text = j->valuestring;
    tn = strlen(text);
  } else if (cJSON_IsNumber(j)) {
    v->type = RULES_NUMBER;
    v->number = j->valuedouble;
  } else if (cJSON_IsBool(j)) {
    v->type = RULES_BOOL;
    v->boolean = cJSON_IsTrue(j);
  } else {
    v->type = RULES_NULL; /* null, objects and arrays read as null */
  }
  size_t k = value_slot(t, v->type, text, tn);
  if (t->vslots[k]) { /* seen: forget the new one */
    cJSON_Delete(j);
    *idx = t->vslots[k];
    t->nvalues--;
    return CX_OK;
  }
  v->str = keep_str(t, text, tn);
  v->len = tn;
  cJSON_Delete(j);
  if (!v->str) {
    t->nvalues--;
    return CX_ENOMEM;
  }
  t->vslots[k] = (uint32_t)t->nvalues;
  *idx = (uint32_t)t->nvalues;
  return CX_OK;
}

static cx_err trait_load(const analytics_ctx *c, an_trait *t) {
  profile_read_begin(c->pr); /* a [section] read: the writer may be adding customers */
  t->maxid = profile_max_id(c->pr);
  profile_read_end(c->pr);
  t->of = cx_calloc((size_t)t->maxid + 1, sizeof *t->of);
  t->ts = cx_calloc((size_t)t->maxid + 1, sizeof *t->ts);
  if (!t->of || !t->ts) return CX_ENOMEM;
  sqlite3_stmt *st = NULL;
  cx_err rc = CX_EDB;
  if (sqlite3_prepare_v2(c->rdb, "SELECT customer_id, value, ts FROM traits WHERE key = ?1", -1, &st,
                         NULL))
    return CX_EDB;
  sqlite3_bind_text(st, 1, t->key, -1, SQLITE_STATIC);
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    /* traits merge by event time over the members of a root */
    int64_t r = profile_canonical(c->pr, sqlite3_column_int64(st, 0));
    int64_t ts = sqlite3_column_int64(st, 2);
    if (r <= 0 || r > t->maxid || (t->of[r] && t->ts[r] > ts)) continue;
    uint32_t idx;
    if ((rc = trait_value(t, (const char *)sqlite3_column_text(st, 1),
                          (size_t)sqlite3_column_bytes(st, 1), &idx)))
      goto out;
    t->of[r] = idx;
    t->ts[r] = ts;
  }
  rc = step == SQLITE_DONE ? CX_OK : CX_EDB;
out:
  sqlite3_finalize(st);
  cx_free(t->ts);
  t->ts = NULL;
  return rc;
}

cx_err an_traits_load(const analytics_ctx *c, rules_expr *const *rules, size_t nrules,
                      const char *by, an_traits *out) {
  memset(out, 0, sizeof *out);
  cx_err rc = CX_OK;
  for (size_t i = 0; !rc && i < nrules; i++)
    if (rules[i]) rc = rules_each_path(rules[i], trait_path, out);
  if (!rc && by && !strncmp(by, "traits.", 7) && by[7]) rc = trait_add(out, by + 7, strlen(by + 7));
  for (size_t i = 0; !rc && i < out->n; i++) rc = trait_load(c, &out->t[i]);
  if (rc) an_traits_free(out);
  return rc;
}

void an_traits_release(an_traits *t) {
  sqlite3_finalize(t->refresh);
  t->refresh = NULL;
  t->refresh_db = NULL;
}

/* What one trait column owns. */
static void trait_free(an_trait *g) {
  cx_arena_free(&g->text);
  cx_free(g->values);
  cx_free(g->vslots);
  cx_free(g->of);
  cx_free(g->ts);
  cx_free(g->key);
}

void an_traits_free(an_traits *t) {
  an_traits_release(t);
  for (size_t i = 0; i < t->n; i++) trait_free(&t->t[i]);
  cx_free(t->t);
  memset(t, 0, sizeof *t);
}

cx_err an_traits_refresh(const analytics_ctx *c, an_traits *t, int64_t cust) {
  if (!t->n) return CX_OK;
  int64_t few[64], *members = few;
  size_t nm = profile_members(c->pr, cust, few, 64);
  if (nm > 64) { /* a cluster that large: all of its members, as a load reads them */
    size_t want = nm + 64; /* it may grow in between */
    if (!(members = cx_malloc(want * sizeof *members))) return CX_ENOMEM;
    nm = profile_members(c->pr, cust, members, want);
    if (nm > want) nm = want;
  }
  profile_read_begin(c->pr);
  int64_t maxid = profile_max_id(c->pr);
  profile_read_end(c->pr);
  if (t->refresh_db != c->rdb) { /* prepared once per connection */
    sqlite3_finalize(t->refresh);
    t->refresh = NULL;
    t->refresh_db = NULL;
    if (sqlite3_prepare_v2(c->rdb, "SELECT value, ts FROM traits WHERE customer_id = ?1 AND key = ?2",
                           -1, &t->refresh, NULL))
      return CX_EDB;
    t->refresh_db = c->rdb;
  }
  sqlite3_stmt *st = t->refresh;
  cx_err rc = CX_OK;
  for (size_t i = 0; !rc && i < t->n; i++) {
    an_trait *g = &t->t[i];
    if (maxid > g->maxid) { /* new customers since the load */
      uint32_t *of = cx_realloc(g->of, ((size_t)maxid + 1) * sizeof *of);
      if (!of) {
        rc = CX_ENOMEM;
        break;
      }
      memset(of + g->maxid + 1, 0, (size_t)(maxid - g->maxid) * sizeof *of);
      g->of = of;
      g->maxid = maxid;
    }
    if (cust <= 0 || cust > g->maxid) continue;
    g->of[cust] = 0;
    int64_t best = INT64_MIN;
    for (size_t m = 0; !rc && m < nm; m++) {
      sqlite3_reset(st);
      sqlite3_bind_int64(st, 1, members[m]);
      sqlite3_bind_text(st, 2, g->key, -1, SQLITE_STATIC);
      int step = sqlite3_step(st);
      if (step == SQLITE_ROW) {
        int64_t ts = sqlite3_column_int64(st, 1);
        if (ts < best) continue;
        best = ts;
        uint32_t idx; /* the old value stays in the column until the next load */
        rc = trait_value(g, (const char *)sqlite3_column_text(st, 0),
                         (size_t)sqlite3_column_bytes(st, 0), &idx);
        if (!rc) g->of[cust] = idx;
      } else if (step != SQLITE_DONE) {
        rc = CX_EDB;
      }
    }
  }
  sqlite3_reset(st);
  if (members != few) cx_free(members);
  return rc;
}

cx_err an_traits_ensure_key(const analytics_ctx *c, an_traits *t, const char *key) {
  if (an_traits_has(t, key)) return CX_OK;
  size_t n = t->n;
  cx_err rc = trait_add(t, key, strlen(key));
  if (!rc) rc = trait_load(c, &t->t[n]);
  if (rc && t->n > n) an_traits_drop(t, key); /* no half-loaded column */
  return rc;
}

cx_err an_traits_ensure(const analytics_ctx *c, an_traits *t, rules_expr *const *rules,
                        size_t nrules) {
  an_traits want = {0}; /* the keys only */
  cx_err rc = CX_OK;
  for (size_t i = 0; !rc && i < nrules; i++)
    if (rules[i]) rc = rules_each_path(rules[i], trait_path, &want);
  for (size_t i = 0; !rc && i < want.n; i++) rc = an_traits_ensure_key(c, t, want.t[i].key);
  an_traits_free(&want);
  return rc;
}

int an_traits_has(const an_traits *t, const char *key) {
  for (size_t i = 0; i < t->n; i++)
    if (!strcmp(t->t[i].key, key)) return 1;
  return 0;
}

void an_traits_drop(an_traits *t, const char *key) {
  for (size_t i = 0; i < t->n; i++) {
    if (strcmp(t->t[i].key, key)) continue;
    an_trait *g = &t->t[i];
    trait_free(g);
    memmove(g, g + 1, (t->n - i - 1) * sizeof *g);
    t->n--;
    return;
  }
}

size_t an_traits_bytes(const an_traits *t) {
  size_t b = 0;
  for (size_t i = 0; i < t->n; i++) {
    const an_trait *g = &t->t[i];
    b += ((size_t)g->maxid + 1) * sizeof *g->of + g->capvalues * sizeof *g->values +
         g->nvslots * sizeof *g->vslots;
    for (size_t v = 1; v <= g->nvalues; v++) b += g->values[v].len + 1;
  }
  return b;
}

const uint32_t *an_trait_column(const an_traits *t, const char *key, int64_t *maxid,
                                size_t *nvalues) {
  for (size_t i = 0; i < t->n; i++) {
    const an_trait *g = &t->t[i];
    if (strcmp(g->key, key)) continue;
    *maxid = g->maxid;
    *nvalues = g->nvalues;
    return g->of;
  }
  return NULL;
}

void an_trait_value(const an_traits *t, const char *key, uint32_t idx, rules_value *out) {
  memset(out, 0, sizeof *out);
  out->type = RULES_NULL;
  for (size_t i = 0; i < t->n; i++) {
    const an_trait *g = &t->t[i];
    if (strcmp(g->key, key) || !idx || idx > g->nvalues) continue;
    const an_value *v = &g->values[idx];
    out->type = v->type;
    if (v->type == RULES_STRING) out->u.str.p = v->str, out->u.str.n = v->len;
    else if (v->type == RULES_NUMBER) out->u.number = v->number;
    else if (v->type == RULES_BOOL) out->u.boolean = v->boolean;
    return;
  }
}

static const an_value *trait_get(const an_traits *t, const char *key, int64_t cust) {
  for (size_t i = 0; i < t->n; i++) {
    const an_trait *g = &t->t[i];
    if (strcmp(g->key, key)) continue;
    if (cust <= 0 || cust > g->maxid || !g->of[cust]) return NULL;
    return &g->values[g->of[cust]];
  }
  return NULL;
}

/* ---- breakdown groups ---- */

typedef struct {
  uint64_t hash;
  uint32_t group;
} key_slot;

cx_err an_groups_init(const analytics_ctx *c, const an_traits *t, const char *by,
                      size_t max_keys, an_groups *g, analytics_error *err) {
  memset(g, 0, sizeof *g);
  if (max_keys > AN_MAX_KEYS) max_keys = AN_MAX_KEYS;
  if (max_keys < ANALYTICS_MAX_GROUPS) max_keys = ANALYTICS_MAX_GROUPS;
  if (!by) return CX_OK;
  if (!strcmp(by, "source")) {
    g->by_source = 1;
    g->n = c->nsource_names ? c->nsource_names - 1 : 0; /* group k: source id k */
    if (g->n > max_keys) g->n = max_keys; /* the sources above: "(other)" */
    if (!(g->names = cx_calloc(g->n + 1, sizeof *g->names))) return CX_ENOMEM;
    for (size_t i = 1; i <= g->n; i++) { /* copies: the caller's names are borrowed */
      const char *s = c->source_names[i] && *c->source_names[i] ? c->source_names[i] : "(unnamed)";
      size_t n = strlen(s);
      if (!(g->names[i] = cx_malloc(n + 1))) return CX_ENOMEM;
      memcpy(g->names[i], s, n + 1);
    }
    return CX_OK;
  }
  if (strncmp(by, "traits.", 7) || !by[7] || strchr(by + 7, '.'))
    return an_fail(err, "invalid_field", "by", "by must be \"source\" or a trait such as \"traits.plan\".");
  for (size_t i = 0; i < t->n; i++)
    if (!strcmp(t->t[i].key, by + 7)) g->trait = &t->t[i];
  if (!g->trait) return CX_ENOMEM; /* an_traits_load adds it */
  g->maxid = g->trait->maxid;
  if (!(g->of = cx_calloc((size_t)g->maxid + 1, sizeof *g->of))) return CX_ENOMEM;
  /* intern the distinct values: value index -> group */
  size_t nv = g->trait->nvalues, nslots = 64;
  while (nslots < 2 * (nv < max_keys ? nv : max_keys) + 2) nslots *= 2;
  key_slot *slots = cx_calloc(nslots, sizeof *slots);
  uint32_t *vgroup = cx_calloc(nv + 1, sizeof *vgroup);
  g->names = cx_calloc(max_keys + 1, sizeof *g->names);
  cx_err rc = slots && vgroup && g->names ? CX_OK : CX_ENOMEM;
  for (size_t v = 1; !rc && v <= nv; v++) {
    const an_value *val = &g->trait->values[v];
    if (val->type == RULES_NULL && !strcmp(val->str, "null")) continue; /* "(none)" */
    uint64_t h = cx_hash64(0, val->str, val->len) | 1; /* 0 marks an empty slot */
    size_t s = h & (nslots - 1);
    for (;;) {
      if (!slots[s].hash) break;
      if (slots[s].hash == h && !strcmp(g->names[slots[s].group], val->str)) break;
      s = (s + 1) & (nslots - 1);
    }
    if (slots[s].hash) {
      vgroup[v] = slots[s].group;
    } else if (g->n < max_keys) {
      if (!(g->names[++g->n] = cx_malloc(val->len + 1))) {
        g->n--;
        rc = CX_ENOMEM;
        break;
      }
      memcpy(g->names[g->n], val->str, val->len + 1);
      slots[s].hash = h;
      slots[s].group = (uint32_t)g->n;
      vgroup[v] = (uint32_t)g->n;
    } else {
      vgroup[v] = UINT32_MAX; /* past the cap: "(other)" */
    }
  }
  for (int64_t id = 1; !rc && id <= g->maxid; id++) {
    uint32_t v = g->trait->of[id];
    g->of[id] = v ? (vgroup[v] == UINT32_MAX ? (uint32_t)g->n + 1 : vgroup[v]) : 0;
  }
  cx_free(slots);
  cx_free(vgroup);
  return rc;
}

uint32_t an_group_of(const an_groups *g, int64_t id, const profile_point *pt) {
  if (g->by_source) return !pt->source ? 0 : pt->source <= g->n ? pt->source : (uint32_t)g->n + 1;
  if (!g->of || id <= 0 || id > g->maxid) return 0;
  return g->of[id];
}

const char *an_group_name(const an_groups *g, size_t k) {
  if (k == 0) return "(none)";
  if (k > g->n) return "(other)";
  return g->names[k];
}

void an_groups_free(an_groups *g) {
  if (g->names)
    for (size_t i = 1; i <= g->n; i++) cx_free(g->names[i]);
  cx_free(g->names);
  cx_free(g->of);
  memset(g, 0, sizeof *g);
}

typedef struct {
  const uint64_t *size;
  const an_groups *g;
} pick_ctx;

static int pick_cmp(const void *a, const void *b, void *ctx) { /* by size, then name */
  const pick_ctx *p = ctx;
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  if (p->size[x] != p->size[y]) return p->size[x] > p->size[y] ? -1 : 1;
  return strcmp(an_group_name(p->g, x), an_group_name(p->g, y));
}

size_t an_group_slots(const an_groups *g, const uint64_t *size, uint32_t *slot_of, const char **name) {
  size_t n = an_group_count(g), named = 0, slots = 0;
  uint32_t *order = cx_malloc(n * sizeof *order);
  if (!order) return 0;
  for (uint32_t k = 1; k <= g->n; k++)
    if (size[k]) order[named++] = k;
  pick_ctx ctx = {size, g};
  qsort_r(order, named, sizeof *order, pick_cmp, &ctx);
  for (size_t k = 0; k < n; k++) slot_of[k] = UINT32_MAX;
  for (size_t i = 0; i < named && i < ANALYTICS_MAX_GROUPS; i++) {
    name[slots] = an_group_name(g, order[i]);
    slot_of[order[i]] = (uint32_t)slots++;
  }
  cx_free(order);
  if (size[0]) name[slots] = an_group_name(g, 0), slot_of[0] = (uint32_t)slots++; /* "(none)" */
  int other = 0;
  for (size_t k = 0; k < n; k++) {
    if (slot_of[k] != UINT32_MAX) continue;
    slot_of[k] = (uint32_t)slots;
    other |= size[k] > 0;
  }
  name[slots] = "(other)";
  return slots + (size_t)other;
}

/* ---- the rule environment over one event ---- */

static cx_err body_doc(an_env *e, cJSON **out) {
  int64_t seq = e->tl[e->i].seq;
  if (e->doc && e->doc_seq == seq) {
    *out = e->doc;
    return CX_OK;
  }
  cJSON_Delete(e->doc);
  e->doc = NULL;
  cx_err rc = e->body ? CX_OK : store_body_reader_open(e->c->rdb, &e->body);
  const char *body;
  size_t len;
  if (!rc) rc = store_body_read(e->body, seq, &body, &len);
  if (rc) return rc;
  if (body) e->doc = cJSON_ParseWithLength(body, len);
  e->doc_seq = seq;
  *out = e->doc; /* NULL: no body (reads as null) */
  return CX_OK;
}

static void json_value(const cJSON *j, rules_value *out) {
  if (cJSON_IsString(j)) {
    out->type = RULES_STRING;
    out->u.str.p = j->valuestring;
    out->u.str.n = strlen(j->valuestring);
  } else if (cJSON_IsNumber(j)) {
    out->type = RULES_NUMBER;
    out->u.number = j->valuedouble;
  } else if (cJSON_IsBool(j)) {
    out->type = RULES_BOOL;
    out->u.boolean = cJSON_IsTrue(j);
  }
}

static void set_str(rules_value *out, const char *s) {
  out->type = RULES_STRING;
  out->u.str.p = s;
  out->u.str.n = strlen(s);
}

/* the event fields a rule reads from the timeline point; every other
 * event.* path reads the stored message (an_reads_store) */
static const char *const point_fields[] = {"name", "type", "source", "timestamp"};

static cx_err env_lookup(void *ctx, const char *root, const char *const *parts, size_t nparts,
                         rules_value *out) {
  an_env *e = ctx;
  const profile_point *pt = e->i < e->n ? &e->tl[e->i] : NULL;
  if (!strcmp(root, "traits")) {
    if (nparts != 1) return CX_OK;
    const an_value *v = trait_get(e->traits, parts[0], e->cust);
    if (!v) return CX_OK;
    out->type = v->type;
    if (v->type == RULES_STRING) out->u.str.p = v->str, out->u.str.n = v->len;
    else if (v->type == RULES_NUMBER) out->u.number = v->number;
    else if (v->type == RULES_BOOL) out->u.boolean = v->boolean;
    return CX_OK;
  }
  if (!strcmp(root, "customer")) {
    if (nparts != 1) return CX_OK;
    if (!strcmp(parts[0], "identified")) {
      out->type = RULES_BOOL;
      out->u.boolean = profile_identified(e->c->pr, e->cust);
    } else if (!strcmp(parts[0], "stage")) {
      const char *const *names;
      profile_stage_names(e->c->pr, &names);
      set_str(out, names[profile_stage_of(e->c->pr, e->cust, e->now, &e->stage)]);
    }
    return CX_OK;
  }
  /* event */
  if (!pt) return CX_OK; /* a rule about the customer: no event */
  if (nparts == 1 && !strcmp(parts[0], "name")) {
    set_str(out, profile_kind_name(e->c->pr, pt->kind, NULL));
    return CX_OK;
  }
  if (nparts == 1 && !strcmp(parts[0], "type")) {
    int type;
    profile_kind_name(e->c->pr, pt->kind, &type);
    if (e->c->type_name) set_str(out, e->c->type_name(type));
    return CX_OK;
  }
  if (nparts == 1 && !strcmp(parts[0], "source")) {
    if (pt->source < e->c->nsource_names && e->c->source_names[pt->source])
      set_str(out, e->c->source_names[pt->source]);
    return CX_OK;
  }
  if (nparts == 1 && !strcmp(parts[0], "timestamp")) {
    out->type = RULES_TIME;
    out->u.ms = pt->ts;
    return CX_OK;
  }
  cJSON *doc;
  cx_err rc = body_doc(e, &doc);
  if (rc) return rc;
  const cJSON *j = doc;
  for (size_t k = 0; j && k < nparts; k++) j = cJSON_GetObjectItemCaseSensitive(j, parts[k]);
  if (j) json_value(j, out);
  return CX_OK;
}

/* the history the functions read: tl[0..upto), found when first needed
 * (SIZE_MAX until then: a rule served by precounts reads no timeline) */
static size_t env_upto(an_env *e) {
  if (e->upto == SIZE_MAX) e->upto = an_first_at(e->tl, e->n, e->now == INT64_MAX ? e->now : e->now + 1);
  return e->upto;
}

static int env_named(an_env *e, const profile_point *pt, const char *name) {
  return profile_point_named(e->c->pr, &e->names, pt, name);
}

static cx_err env_count(void *ctx, const char *name, int64_t window_ms, double *out) {
  an_env *e = ctx;
  int64_t now = e->now;
  const an_precounts *pc = e->pre;
  for (size_t k = 0; pc && e->i == SIZE_MAX && now == pc->now && k < pc->n; k++) {
    const an_precount *c = &pc->v[k];
    if (c->name != name || c->window != window_ms) continue;
    uint64_t total = 0; /* the root's events and those filed under its merged members */
    int64_t m = e->cust;
    size_t guard = 0;
    do {
      if (m > 0 && (size_t)m < c->ncount) total += c->count[m];
      m = profile_member_next(e->c->pr, m);
    } while (m != e->cust && ++guard < 1000000);
    *out = (double)total;
    return CX_OK;
  }
  *out = profile_history_count(e->c->pr, &e->names, e->tl, env_upto(e), now, name, window_ms);
  return CX_OK;
}

static cx_err env_sum(void *ctx, const char *name, const char *property, int64_t window_ms,
                      double *out) {
  an_env *e = ctx;
  int64_t now = e->now;
  size_t at = e->i;
  double s = 0;
  cx_err rc = CX_OK;
  for (size_t i = env_upto(e); !rc && i-- > 0;) {
    if (window_ms >= 0 && e->tl[i].ts <= now - window_ms) break;
    if (!env_named(e, &e->tl[i], name)) continue;
    e->i = i; /* body_doc reads the event at e->i */
    cJSON *doc;
    if ((rc = body_doc(e, &doc))) break;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "properties"), property);
    if (cJSON_IsNumber(v)) s += v->valuedouble;
  }
  e->i = at;
  *out = s;
  return rc;
}

static cx_err env_last_time(void *ctx, const char *name, int64_t *out_ms) {
  an_env *e = ctx;
  *out_ms = profile_history_last(e->c->pr, &e->names, e->tl, env_upto(e), name);
  return CX_OK;
}

static cx_err env_first_seen(void *ctx, int64_t *out_ms) {
  an_env *e = ctx;
  *out_ms = env_upto(e) ? e->tl[0].ts : CX_NO_TIME;
  return CX_OK;
}

static cx_err env_last_seen(void *ctx, int64_t *out_ms) {
  an_env *e = ctx;
  size_t u = env_upto(e);
  *out_ms = u ? e->tl[u - 1].ts : CX_NO_TIME;
  return CX_OK;
}

void an_env_init(an_env *e, const analytics_ctx *c, const an_traits *t) {
  memset(e, 0, sizeof *e);
  e->c = c;
  e->traits = t;
}

void an_env_free(an_env *e) {
  cJSON_Delete(e->doc);
  store_body_reader_close(e->body);
  e->doc = NULL;
  e->body = NULL;
}

int an_env_match(an_env *e, const rules_expr *rule, int64_t cust, const profile_point *tl,
                 size_t n, size_t i) {
  if (!rule) return 1;
  e->cust = cust;
  e->tl = tl;
  e->n = n;
  e->i = i;
  e->upto = i + 1; /* the event and those before it in timeline order */
  e->now = tl[i].ts;
  rules_env env = {.ctx = e, .now_ms = tl[i].ts, .lookup = env_lookup, .count = env_count,
                   .sum = env_sum, .last_time = env_last_time, .first_seen = env_first_seen,
                   .last_seen = env_last_seen, .scratch = e->scratch,
                   .scratch_size = sizeof e->scratch};
  return rules_match(rule, &env);
}

int an_env_match_customer(an_env *e, const rules_expr *rule, int64_t cust, int64_t now) {
  size_t n;
  const profile_point *tl = profile_points(e->c->pr, cust, &n);
  e->cust = cust;
  e->tl = tl;
  e->n = n;
  e->i = SIZE_MAX;
  e->upto = SIZE_MAX; /* ts <= now: found when a function needs it */
  e->now = now;
  rules_env env = {.ctx = e, .now_ms = now, .lookup = env_lookup, .count = env_count,
                   .sum = env_sum, .last_time = env_last_time, .first_seen = env_first_seen,
                   .last_seen = env_last_seen, .scratch = e->scratch,
                   .scratch_size = sizeof e->scratch};
  return rules_match(rule, &env);
}

typedef struct {
  profile *p;
  int64_t now;
  an_precounts *out;
} precount_walk;

static cx_err precount_one(void *ctx, const char *name, int64_t window_ms) {
  precount_walk *w = ctx;
  an_precounts *pc = w->out;
  if (!*name) return CX_OK; /* count(""): the timeline walk has the answer */
  for (size_t k = 0; k < pc->n; k++)
    if (pc->v[k].name == name && pc->v[k].window == window_ms) return CX_OK;
  uint32_t nk = profile_kind_count(w->p);
  uint32_t *m = cx_calloc((size_t)nk + 1, sizeof *m);
  uint8_t *kinds = cx_calloc((size_t)nk + 1, 1);
  size_t ncount = (size_t)profile_max_id(w->p) + 1;
  uint32_t *count = cx_calloc(ncount, sizeof *count);
  an_precount *v = cx_realloc(pc->v, (pc->n + 1) * sizeof *v);
  cx_err rc = m && kinds && count && v ? CX_OK : CX_ENOMEM;
  if (v) pc->v = v;
  if (!rc) {
    an_mark_kinds(w->p, name, m, 1);
    for (uint32_t k = 0; k <= nk; k++) kinds[k] = (uint8_t)m[k];
    /* the events count(name, window) reads at now: (now - window, now] */
    int64_t from = window_ms < 0 ? -((int64_t)1 << 60) : w->now - window_ms + 1;
    if (profile_count_events(w->p, kinds, from, w->now + 1, count, ncount)) rc = CX_EIO;
  }
  if (!rc) {
    pc->v[pc->n++] = (an_precount){name, window_ms, count, ncount};
    count = NULL;
  }
  cx_free(m);
  cx_free(kinds);
  cx_free(count);
  return rc;
}

cx_err an_precounts_build(profile *p, rules_expr *const *rules, size_t nrules, int64_t now,
                          an_precounts *out) {
  memset(out, 0, sizeof *out);
  out->now = now;
  const char *force = getenv("CXM_ANALYTICS_INDEX");
  if (force && !strcmp(force, "never")) return CX_OK;
  precount_walk w = {p, now, out};
  cx_err rc = CX_OK;
  for (size_t i = 0; !rc && i < nrules; i++)
    if (rules[i]) rc = rules_each_count(rules[i], precount_one, &w);
  if (rc) an_precounts_free(out); /* the index could not serve: walk the timelines */
  return rc == CX_ENOMEM ? rc : CX_OK;
}

void an_precounts_free(an_precounts *pc) {
  for (size_t k = 0; k < pc->n; k++) cx_free(pc->v[k].count);
  cx_free(pc->v);
  pc->v = NULL;
  pc->n = 0;
}

/* ---- the parallel scan ---- */

typedef struct {
  void (*fn)(void *arg, int part, int64_t lo, int64_t hi);
  void *arg;
  int part;
  int64_t lo, hi;
  pthread_t th;
} an_job;

static void *run_job(void *a) {
  an_job *j = a;
  j->fn(j->arg, j->part, j->lo, j->hi);
  return NULL;
}

/* Runs jobs[0..threads), the first on the caller's thread. */
static void run_jobs(an_job *jobs, int threads) {
  int started[ANALYTICS_THREADS] = {0};
  for (int t = 1; t < threads; t++) started[t] = !pthread_create(&jobs[t].th, NULL, run_job, &jobs[t]);
  run_job(&jobs[0]);
  for (int t = 1; t < threads; t++) {
    if (started[t]) pthread_join(jobs[t].th, NULL);
    else run_job(&jobs[t]); /* no thread: do it here */
  }
}

void an_parallel(int threads, int64_t maxid,
                 void (*fn)(void *arg, int part, int64_t lo, int64_t hi), void *arg) {
  an_job jobs[ANALYTICS_THREADS];
  if (threads < 1 || threads > ANALYTICS_THREADS) threads = ANALYTICS_THREADS;
  int64_t per = (maxid / threads + 64) & ~(int64_t)63;
  for (int t = 0; t < threads; t++) {
    int64_t lo = t ? per * t : 1, hi = per * (t + 1);
    if (hi > maxid + 1) hi = maxid + 1;
    if (lo > hi) lo = hi;
    jobs[t] = (an_job){fn, arg, t, lo, hi, 0};
  }
  run_jobs(jobs, threads);
}

#define AN_CHUNKS 32 /* of a scan over bits: enough for one thread to take over another's */

typedef struct {
  void (*fn)(void *arg, int part, int64_t lo, int64_t hi);
  void *arg;
  int64_t cut[AN_CHUNKS + 1]; /* chunk c: ids [cut[c], cut[c + 1]) */
  atomic_int next;            /* the next chunk to take */
} an_chunks;

typedef struct {
  an_chunks *ch;
  int part;
  pthread_t th;
} an_chunk_job;

static void *run_chunks(void *a) {
  an_chunk_job *j = a;
  for (int c; (c = atomic_fetch_add(&j->ch->next, 1)) < AN_CHUNKS;)
    j->ch->fn(j->ch->arg, j->part, j->ch->cut[c], j->ch->cut[c + 1]);
  return NULL;
}

void an_parallel_bits(int threads, int64_t maxid, const uint64_t *bits,
                      void (*fn)(void *arg, int part, int64_t lo, int64_t hi), void *arg) {
  if (!bits) {
    an_parallel(threads, maxid, fn, arg);
    return;
  }
  if (threads < 1 || threads > ANALYTICS_THREADS) threads = ANALYTICS_THREADS;
  an_chunks ch = {.fn = fn, .arg = arg};
  atomic_init(&ch.next, 0);
  size_t nwords = (size_t)(maxid >> 6) + 1, w = 0;
  uint64_t total = 0, seen = 0;
  for (size_t i = 0; i < nwords; i++) total += (uint64_t)__builtin_popcountll(bits[i]);
  ch.cut[0] = 1;
  for (int c = 0; c < AN_CHUNKS; c++) { /* chunk c ends where the first (c + 1) / AN_CHUNKS of the bits do */
    uint64_t upto = total * (uint64_t)(c + 1) / AN_CHUNKS;
    while (w < nwords && (seen < upto || c == AN_CHUNKS - 1))
      seen += (uint64_t)__builtin_popcountll(bits[w++]);
    int64_t hi = (int64_t)(w << 6);
    ch.cut[c + 1] = hi > maxid + 1 ? maxid + 1 : hi < ch.cut[c] ? ch.cut[c] : hi;
  }
  /* each thread takes the next chunk when done with one: a thread the
   * machine is slow to run leaves its share to the others */
  an_chunk_job jobs[ANALYTICS_THREADS];
  int started[ANALYTICS_THREADS] = {0};
  for (int t = 0; t < threads; t++) jobs[t] = (an_chunk_job){&ch, t, 0};
  for (int t = 1; t < threads; t++) started[t] = !pthread_create(&jobs[t].th, NULL, run_chunks, &jobs[t]);
  run_chunks(&jobs[0]);
  for (int t = 1; t < threads; t++)
    if (started[t]) pthread_join(jobs[t].th, NULL); /* a thread that did not start: part 0 took its chunks */
}

static cx_err store_path(void *ctx, const char *root, const char *const *parts, size_t nparts) {
  if (strcmp(root, "event")) return CX_OK;
  for (size_t i = 0; nparts == 1 && i < sizeof point_fields / sizeof point_fields[0]; i++)
    if (!strcmp(parts[0], point_fields[i])) return CX_OK;
  *(int *)ctx = 1;
  return CX_OK;
}

int an_reads_store(const rules_expr *rule) {
  int reads = 0;
  if (!rule) return 0;
  rules_each_path(rule, store_path, &reads);
  return reads || rules_calls(rule, "sum");
}

int64_t an_index_max(const profile *p) {
  const char *force = getenv("CXM_ANALYTICS_INDEX");
  if (force && !strcmp(force, "never")) return -1;
  /* an index walk visits the candidates' timelines out of order, a scan
   * streams every one. Measured on 10M events of 1.17M customers (medians
   * on a quiet machine): the walk takes 1.3 ms for 4k entries (scan 31),
   * 13 ms for 100k (34), 19.5 ms for 290k (33) and 53 ms for 1.7M (37):
   * the break-even is near 0.7 entries per customer */
  return force && !strcmp(force, "always") ? INT64_MAX : profile_max_id(p) / 2;
}

uint64_t *an_candidates(profile *p, const uint8_t *kinds, int64_t from, int64_t to) {
  int64_t max = an_index_max(p), maxid = profile_max_id(p);
  if (max < 0) return NULL;
  size_t nwords = (size_t)(maxid >> 6) + 1;
  uint64_t *bits = cx_calloc(nwords, sizeof *bits);
  if (!bits) return NULL;
  if (profile_customers_with(p, kinds, from, to, max, bits, nwords) < 0) {
    cx_free(bits);
    return NULL;
  }
  return bits;
}

cx_err an_push(uint64_t **v, size_t *n, size_t *cap, uint64_t x) {
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 4096;
    uint64_t *d = cx_realloc(*v, c * sizeof *d);
    if (!d) return CX_ENOMEM;
    *v = d;
    *cap = c;
  }
  (*v)[(*n)++] = x;
  return CX_OK;
}

/* ---- statistics and output ---- */

double an_median(uint64_t *v, size_t n) {
  /* quickselect for the lower middle, then the upper middle's minimum */
  size_t k = (n - 1) / 2, lo = 0, hi = n - 1;
  while (lo < hi) {
    uint64_t pivot = v[lo + (hi - lo) / 2];
    size_t i = lo, j = hi;
    while (i <= j) {
      while (v[i] < pivot) i++;
      while (v[j] > pivot) j--;
      if (i <= j) {
        uint64_t t = v[i];
        v[i] = v[j];
        v[j] = t;
        i++;
        if (j == 0) break;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  double m = (double)v[k];
  if (n % 2 == 0) {
    uint64_t up = UINT64_MAX;
    for (size_t i = k + 1; i < n; i++)
      if (v[i] < up) up = v[i];
    m = (m + (double)up) / 2;
  }
  return m;
}

size_t an_first_at(const profile_point *tl, size_t n, int64_t t) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (tl[mid].ts < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

size_t an_gallop(const profile_point *tl, size_t lo, size_t n, int64_t t) {
  size_t hi = lo, step = 1;
  while (hi < n && tl[hi].ts < t) { /* every point before hi + 1 is early */
    lo = hi + 1;
    hi += step;
    step *= 2;
  }
  if (hi > n) hi = n;
  return lo + an_first_at(tl + lo, hi - lo, t); /* tl[hi] (when hi < n) is not */
}

cx_err an_took(cx_buf *out, int64_t started_ns) {
  return cx_buf_printf(out, "\"took_ms\":%.1f", (double)(cx_mono_ns() - started_ns) / 1e6);
}
