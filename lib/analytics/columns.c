/* columns.c - a rule about the customer evaluated over columns instead of
 * customer by customer, when all it reads is count() (from the kinds'
 * index) and traits (from loaded trait columns).
 *
 * Such a rule's answer for a customer depends only on the values it reads,
 * and few distinct values occur: counts are small numbers, a trait such
 * as plan has a handful of values. So the rule is evaluated once per
 * combination of the distinct values present (by the rules engine itself,
 * so that null, types and every operator mean what they mean elsewhere)
 * into a table, and each root customer is one table lookup: its values'
 * codes, combined. A rule that reads anything else (a callback this
 * environment does not serve fires while the table is built), or whose
 * combinations outnumber what a walk of the customers would cost, is
 * refused: the caller evaluates customer by customer. */
#include "analytics_int.h"
#include "../base/mem.h"
#include <stdlib.h>
#include <string.h>

#define MAX_COLUMNS 8
#define MAX_COUNT ((uint32_t)1 << 20) /* a larger count: per customer instead */
#define MIN_TABLE 65536              /* combinations always allowed */

typedef struct {
  int is_count;
  /* count(name, window): events per id (folded into roots), then codes */
  const char *name;
  int64_t window;
  uint32_t *count; /* [0..maxid], owned */
  uint32_t *code;  /* count value -> code [0..max], owned */
  uint32_t *value; /* code -> count value [0..ncodes), owned */
  /* a trait: the column's value index is the code */
  const char *key;
  const uint32_t *of; /* borrowed from the traits */
  int64_t of_maxid;
  size_t ncodes;
  size_t stride;
} column;

typedef struct {
  profile *p;
  const an_traits *t;
  column col[MAX_COLUMNS];
  size_t ncol;
  int refused; /* the rule reads something the columns do not hold */
  /* the table's current combination */
  uint32_t cur[MAX_COLUMNS];
  char scratch[1024];
  /* the scan */
  const uint64_t *roots;
  size_t nroots_words;
  const uint8_t *table;
  uint64_t *bits;
  int64_t found[ANALYTICS_THREADS];
} columns;

static cx_err add_count(void *ctx, const char *name, int64_t window_ms) {
  columns *c = ctx;
  for (size_t i = 0; i < c->ncol; i++)
    if (c->col[i].is_count && c->col[i].window == window_ms && !strcmp(c->col[i].name, name)) return CX_OK;
  if (c->ncol == MAX_COLUMNS || !*name) return CX_EINVAL; /* count(""): the timelines know */
  c->col[c->ncol++] = (column){.is_count = 1, .name = name, .window = window_ms};
  return CX_OK;
}

static cx_err add_path(void *ctx, const char *root, const char *const *parts, size_t nparts) {
  columns *c = ctx;
  if (strcmp(root, "traits")) return CX_EINVAL; /* customer.*, event.*: per customer */
  if (nparts != 1) return CX_OK;                /* traits.a.b reads null */
  for (size_t i = 0; i < c->ncol; i++)
    if (!c->col[i].is_count && !strcmp(c->col[i].key, parts[0])) return CX_OK;
  if (c->ncol == MAX_COLUMNS) return CX_EINVAL;
  column *k = &c->col[c->ncol];
  *k = (column){.key = parts[0]};
  size_t nvalues;
  if (!(k->of = an_trait_column(c->t, parts[0], &k->of_maxid, &nvalues))) return CX_EINVAL;
  k->ncodes = nvalues + 1; /* 0: none */
  c->ncol++;
  return CX_OK;
}

/* ---- the environment of one combination ---- */

static cx_err col_lookup(void *ctx, const char *root, const char *const *parts, size_t nparts,
                         rules_value *out) {
  columns *c = ctx;
  if (strcmp(root, "traits")) {
    c->refused = 1;
    return CX_OK;
  }
  if (nparts != 1) return CX_OK;
  for (size_t i = 0; i < c->ncol; i++)
    if (!c->col[i].is_count && !strcmp(c->col[i].key, parts[0])) {
      an_trait_value(c->t, parts[0], c->cur[i], out);
      return CX_OK;
    }
  c->refused = 1;
  return CX_OK;
}

static cx_err col_count(void *ctx, const char *name, int64_t window_ms, double *out) {
  columns *c = ctx;
  for (size_t i = 0; i < c->ncol; i++)
    if (c->col[i].is_count && c->col[i].window == window_ms && !strcmp(c->col[i].name, name)) {
      *out = c->col[i].value[c->cur[i]];
      return CX_OK;
    }
  c->refused = 1;
  *out = 0;
  return CX_OK;
}

static cx_err col_sum(void *ctx, const char *name, const char *property, int64_t window_ms,
                      double *out) {
  ((columns *)ctx)->refused = 1;
  *out = 0;
  return CX_OK;
}

static cx_err col_time(void *ctx, const char *name, int64_t *out_ms) {
  ((columns *)ctx)->refused = 1;
  *out_ms = CX_NO_TIME;
  return CX_OK;
}

static cx_err col_seen(void *ctx, int64_t *out_ms) {
  ((columns *)ctx)->refused = 1;
  *out_ms = CX_NO_TIME;
  return CX_OK;
}

/* ---- building the columns ---- */

/* Counts column k's events per root customer and codes its distinct
 * values: 0, or -1 (the index cannot serve, or a count is too large). */
static int count_column(columns *c, column *k, int64_t now, int64_t maxid) {
  uint32_t nk = profile_kind_count(c->p);
  uint32_t *m = cx_calloc((size_t)nk + 1, sizeof *m);
  uint8_t *kinds = cx_calloc((size_t)nk + 1, 1);
  k->count = cx_calloc((size_t)maxid + 1, sizeof *k->count);
  int ok = m && kinds && k->count;
  if (ok) {
    an_mark_kinds(c->p, k->name, m, 1);
    for (uint32_t i = 0; i <= nk; i++) kinds[i] = (uint8_t)m[i];
    /* the events count(name, window) reads at now: (now - window, now] */
    int64_t from = k->window < 0 ? -((int64_t)1 << 60) : now - k->window + 1;
    ok = !profile_count_events(c->p, kinds, from, now + 1, k->count, (size_t)maxid + 1);
  }
  cx_free(m);
  cx_free(kinds);
  if (!ok) return -1;
  /* events filed under a merged-away customer are its root's: fold them
   * (the ids that are not roots: merged, or erased holes) */
  for (size_t w = 0; w <= (size_t)maxid >> 6; w++) {
    uint64_t notroot = ~(w < c->nroots_words ? c->roots[w] : 0);
    while (notroot) {
      int64_t id = (int64_t)(w << 6) + __builtin_ctzll(notroot);
      notroot &= notroot - 1;
      if (id < 1 || id > maxid || !k->count[id]) continue;
      int64_t r = profile_root_of(c->p, id);
      if (r > 0 && r != id && r <= maxid) k->count[r] += k->count[id];
      k->count[id] = 0;
    }
  }
  uint32_t max = 0;
  for (int64_t id = 1; id <= maxid; id++)
    if (k->count[id] > max) max = k->count[id];
  if (max >= MAX_COUNT) return -1;
  k->code = cx_calloc((size_t)max + 1, sizeof *k->code);
  if (!k->code) return -1;
  k->code[0] = 1; /* 0 is always possible (a customer without such events) */
  for (int64_t id = 1; id <= maxid; id++) k->code[k->count[id]] = 1;
  size_t n = 0;
  for (uint32_t v = 0; v <= max; v++) n += k->code[v];
  if (!(k->value = cx_malloc(n * sizeof *k->value))) return -1;
  n = 0;
  for (uint32_t v = 0; v <= max; v++)
    if (k->code[v]) k->value[n] = v, k->code[v] = (uint32_t)n++;
  k->ncodes = n;
  return 0;
}

static void columns_free(columns *c) {
  for (size_t i = 0; i < c->ncol; i++) {
    cx_free(c->col[i].count);
    cx_free(c->col[i].code);
    cx_free(c->col[i].value);
  }
}

/* ---- the scan ---- */

static inline uint32_t code_of(const column *k, int64_t id) {
  if (k->is_count) return k->code[k->count[id]];
  return id <= k->of_maxid ? k->of[id] : 0;
}

static void scan(void *arg, int part, int64_t lo, int64_t hi) {
  columns *c = arg;
  int64_t found = 0;
  const column *k0 = &c->col[0];
  for (int64_t w = lo >> 6; (w << 6) < hi; w++) {
    uint64_t word = (size_t)w < c->nroots_words ? c->roots[w] : 0, hit = 0;
    while (word) {
      int64_t id = (w << 6) + __builtin_ctzll(word);
      word &= word - 1;
      if (id < lo || id >= hi) continue;
      size_t idx = code_of(k0, id); /* stride 1 */
      for (size_t i = 1; i < c->ncol; i++) idx += code_of(&c->col[i], id) * c->col[i].stride;
      if (c->table[idx]) hit |= 1ULL << (id & 63);
    }
    if (hit) {
      c->bits[w] |= hit;
      found += __builtin_popcountll(hit);
    }
  }
  c->found[part] = found;
}

int64_t an_columns_match(profile *p, const an_traits *t, const rules_expr *rule, int64_t now,
                         uint64_t *bits, size_t nwords) {
  const char *force = getenv("CXM_ANALYTICS_INDEX");
  if (force && !strcmp(force, "never")) return -1;
  columns *c = cx_calloc(1, sizeof *c);
  if (!c) return -1;
  c->p = p;
  c->t = t;
  int64_t maxid = profile_max_id(p), found = -1;
  uint8_t *table = NULL;
  if (rules_each_count(rule, add_count, c) || rules_each_path(rule, add_path, c) || !c->ncol)
    goto out; /* !ncol: a constant rule, rare; per customer */
  if ((size_t)(maxid >> 6) >= nwords) goto out;
  if (!(c->roots = profile_roots(p, &c->nroots_words)) || (size_t)(maxid >> 6) >= c->nroots_words)
    goto out;
  /* the table: every combination of the codes, column 0 varying fastest */
  size_t combos = 1, limit = (size_t)maxid / 2 > MIN_TABLE ? (size_t)maxid / 2 : MIN_TABLE;
  for (size_t i = 0; i < c->ncol; i++) {
    column *k = &c->col[i];
    if (k->is_count && count_column(c, k, now, maxid)) goto out;
    k->stride = combos;
    if (k->ncodes > limit / combos) goto out;
    combos *= k->ncodes;
  }
  if (!(table = cx_malloc(combos))) goto out;
  rules_env env = {.ctx = c, .now_ms = now, .lookup = col_lookup, .count = col_count, .sum = col_sum,
                   .last_time = col_time, .first_seen = col_seen, .last_seen = col_seen,
                   .scratch = c->scratch, .scratch_size = sizeof c->scratch};
  for (size_t x = 0; x < combos; x++) {
    for (size_t i = 0; i < c->ncol; i++) c->cur[i] = (uint32_t)(x / c->col[i].stride % c->col[i].ncodes);
    rules_value v;
    cx_err rc = rules_eval(rule, &env, &v);
    if (c->refused || rc == CX_ENOMEM) goto out;
    table[x] = !rc && v.type == RULES_BOOL && v.u.boolean; /* as rules_match */
  }
  c->table = table;
  c->bits = bits;
  an_parallel(ANALYTICS_THREADS, maxid, scan, c);
  found = 0;
  for (int i = 0; i < ANALYTICS_THREADS; i++) found += c->found[i];
out:
  cx_free(table);
  columns_free(c);
  cx_free(c);
  return found;
}
