/* columns.c - a rule about the customer evaluated over columns instead of
 * customer by customer, when all it reads is count() (from the counts the
 * profile keeps per kind, or the kinds' index) and traits (from loaded
 * trait columns).
 *
 * Such a rule's answer for a customer depends only on the values it
 * reads, and few distinct combinations of them occur: counts are small
 * numbers, a trait such as plan has a handful of values. Each column's
 * value is coded as a small number (a count as itself, or by the distinct
 * counts present; a trait by its value's index), a customer's codes
 * combine into one index, and a table per thread remembers the rule's
 * answer for each index met so far: the rules engine evaluates each
 * combination once (so that null, types and every operator mean what
 * they mean elsewhere), and every other customer with it is one lookup.
 * A rule that reads anything else (an event, customer.*, sum(),
 * days_since(), first_seen, last_seen) is refused before the scan: the
 * caller evaluates customer by customer. */
#include "analytics_int.h"
#include "../base/mem.h"
#include <stdlib.h>
#include <string.h>

#define MAX_COLUMNS 8
#define MAX_COUNT ((uint32_t)1 << 20) /* a larger count: per customer instead */
#define MAX_TABLE ((size_t)1 << 22)   /* combinations: a byte each per thread */

typedef struct {
  int is_count;
  /* count(name, window): events per id (folded into roots), then codes */
  const char *name;
  int64_t window;
  uint32_t *count; /* [0..maxid], owned */
  uint32_t max;    /* at least the largest count; UINT32_MAX: not known */
  uint32_t *code;  /* count value -> code [0..max], owned; NULL: the count is its code */
  uint32_t *value; /* code -> count value [0..ncodes), owned; NULL: as code */
  /* a trait: the column's value index is the code */
  const char *key;
  const uint32_t *of; /* borrowed from the traits */
  int64_t of_maxid;
  size_t ncodes;
  size_t stride;
} column;

typedef struct columns columns;

/* One thread's evaluation of combinations. */
typedef struct {
  columns *c;
  uint32_t cur[MAX_COLUMNS]; /* the combination being evaluated: a code per column */
  int refused;               /* the rule read something the columns do not hold */
  uint8_t *table;            /* [combinations]: 0 not yet evaluated, 1 false, 2 true; owned */
  char scratch[1024];
} evaluator;

struct columns {
  profile *p;
  const an_traits *t;
  int64_t now;
  column col[MAX_COLUMNS];
  size_t ncol, combos;
  /* the scan */
  const rules_expr *rule;
  const uint64_t *roots;
  size_t nroots_words;
  uint64_t *bits;
  evaluator ev[ANALYTICS_THREADS];
  int64_t found[ANALYTICS_THREADS];
};

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
  evaluator *e = ctx;
  const columns *c = e->c;
  if (strcmp(root, "traits")) {
    e->refused = 1;
    return CX_OK;
  }
  if (nparts != 1) return CX_OK;
  for (size_t i = 0; i < c->ncol; i++)
    if (!c->col[i].is_count && !strcmp(c->col[i].key, parts[0])) {
      an_trait_value(c->t, parts[0], e->cur[i], out);
      return CX_OK;
    }
  e->refused = 1;
  return CX_OK;
}

static cx_err col_count(void *ctx, const char *name, int64_t window_ms, double *out) {
  evaluator *e = ctx;
  const columns *c = e->c;
  for (size_t i = 0; i < c->ncol; i++)
    if (c->col[i].is_count && c->col[i].window == window_ms && !strcmp(c->col[i].name, name)) {
      *out = c->col[i].value ? c->col[i].value[e->cur[i]] : e->cur[i];
      return CX_OK;
    }
  e->refused = 1;
  *out = 0;
  return CX_OK;
}

static cx_err col_sum(void *ctx, const char *name, const char *property, int64_t window_ms,
                      double *out) {
  ((evaluator *)ctx)->refused = 1;
  *out = 0;
  return CX_OK;
}

static cx_err col_time(void *ctx, const char *name, int64_t *out_ms) {
  ((evaluator *)ctx)->refused = 1;
  *out_ms = CX_NO_TIME;
  return CX_OK;
}

static cx_err col_seen(void *ctx, int64_t *out_ms) {
  ((evaluator *)ctx)->refused = 1;
  *out_ms = CX_NO_TIME;
  return CX_OK;
}

/* The rule's answer for combination x: 1 false, 2 true (as rules_match). */
static uint8_t evaluate(evaluator *e, const rules_expr *rule, size_t x) {
  const columns *c = e->c;
  for (size_t i = 0; i < c->ncol; i++) e->cur[i] = (uint32_t)(x / c->col[i].stride % c->col[i].ncodes);
  rules_env env = {.ctx = e, .now_ms = c->now, .lookup = col_lookup, .count = col_count, .sum = col_sum,
                   .last_time = col_time, .first_seen = col_seen, .last_seen = col_seen,
                   .scratch = e->scratch, .scratch_size = sizeof e->scratch};
  return rules_match(rule, &env) ? 2 : 1;
}

/* ---- building the columns ---- */

/* Counts column k's events per root customer: 0, or -1 (the index
 * cannot serve). All-time counts come from the counts the profile keeps
 * per kind, others from the kinds' index. k->max: at least the largest
 * count, UINT32_MAX when not known. */
static int count_column(columns *c, column *k, int64_t now, int64_t maxid) {
  uint32_t nk = profile_kind_count(c->p);
  uint32_t *m = cx_calloc((size_t)nk + 1, sizeof *m);
  uint8_t *kinds = cx_calloc((size_t)nk + 1, 1);
  k->count = cx_malloc(((size_t)maxid + 1) * sizeof *k->count);
  int ok = m && kinds && k->count, kept = k->window < 0;
  uint32_t bound = 0;
  if (ok) {
    an_mark_kinds(c->p, k->name, m, 1);
    for (uint32_t i = 0; i <= nk; i++) kinds[i] = (uint8_t)m[i];
  }
  size_t n = (size_t)maxid + 1, first = 1;
  for (uint32_t i = 1; ok && kept && i <= nk; i++) {
    if (!kinds[i]) continue;
    size_t ids;
    uint32_t max;
    const uint32_t *col = profile_kind_counts(c->p, i, now, &ids, &max);
    if (!col) {
      kept = 0;
      break;
    }
    size_t have = ids < n ? ids : n;
    if (first) {
      memcpy(k->count, col, have * sizeof *col);
      memset(k->count + have, 0, (n - have) * sizeof *col);
    } else {
      for (size_t id = 0; id < have; id++) k->count[id] += col[id];
    }
    first = 0;
    bound += max;
  }
  if (ok && kept && first) memset(k->count, 0, n * sizeof *k->count); /* no kind has the name */
  if (ok && !kept) {
    memset(k->count, 0, n * sizeof *k->count);
    /* the events count(name, window) reads at now: (now - window, now] */
    int64_t from = k->window < 0 ? -((int64_t)1 << 60) : now - k->window + 1;
    ok = !profile_count_events(c->p, kinds, from, now + 1, k->count, n);
    bound = UINT32_MAX;
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
      if (r > 0 && r != id && r <= maxid) {
        k->count[r] += k->count[id];
        if (bound != UINT32_MAX && k->count[r] > bound) bound = k->count[r];
      }
      k->count[id] = 0;
    }
  }
  k->max = bound;
  return 0;
}

/* Codes k's counts by the distinct values present (one pass): 0, or -1
 * (a count too large: per customer instead). */
static int dense_codes(column *k, int64_t maxid) {
  uint64_t *seen = cx_calloc(MAX_COUNT / 64, sizeof *seen);
  if (!seen) return -1;
  uint32_t max = 0, or = 0;
  for (int64_t id = 1; id <= maxid; id++) {
    uint32_t v = k->count[id];
    or |= v;
    if (v >= MAX_COUNT) {
      cx_free(seen);
      return -1;
    }
    seen[v >> 6] |= 1ULL << (v & 63);
  }
  seen[0] |= 1; /* 0 is always possible (a customer without such events) */
  for (uint32_t w = 0; w <= (or >> 6) && w < MAX_COUNT / 64; w++)
    if (seen[w]) max = w * 64 + 63 - (uint32_t)__builtin_clzll(seen[w]);
  k->code = cx_calloc((size_t)max + 1, sizeof *k->code);
  size_t n = 0;
  for (uint32_t w = 0; w <= max >> 6; w++) n += (size_t)__builtin_popcountll(seen[w]);
  k->value = k->code ? cx_malloc(n * sizeof *k->value) : NULL;
  if (!k->value) {
    cx_free(seen);
    return -1;
  }
  n = 0;
  for (uint32_t v = 0; v <= max; v++)
    if (seen[v >> 6] >> (v & 63) & 1) k->value[n] = v, k->code[v] = (uint32_t)n++;
  cx_free(seen);
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

/* The codes of column k for ids base..base+n-1 (n <= 64) into out. */
static void codes(const column *k, int64_t base, int64_t n, uint32_t *out) {
  if (k->is_count && k->code) {
    for (int64_t b = 0; b < n; b++) out[b] = k->code[k->count[base + b]];
    return;
  }
  if (k->is_count) {
    memcpy(out, k->count + base, (size_t)n * sizeof *out);
    return;
  }
  int64_t m = k->of_maxid + 1 - base; /* ids past the column: none */
  if (m > n) m = n;
  int64_t b = 0;
  for (; b < m; b++) out[b] = k->of[base + b];
  for (; b < n; b++) out[b] = 0;
}

/* Sets the bits of the roots in [lo, hi) the rule holds for: 64 ids at a
 * time, a table lookup each. */
static void scan(void *arg, int part, int64_t lo, int64_t hi) {
  columns *c = arg;
  evaluator *e = &c->ev[part];
  int64_t found = 0;
  uint32_t idx[64], code[64];
  for (int64_t w = lo >> 6; lo < hi && (w << 6) < hi; w++) { /* an empty part: lo == hi, anywhere */
    uint64_t roots = (size_t)w < c->nroots_words ? c->roots[w] : 0;
    if (!roots) continue;
    int64_t base = w << 6, n = hi - base < 64 ? hi - base : 64; /* lo: 1 or a multiple of 64 */
    codes(&c->col[0], base, n, idx);
    for (size_t i = 1; i < c->ncol; i++) {
      codes(&c->col[i], base, n, code);
      uint32_t stride = (uint32_t)c->col[i].stride;
      for (int64_t b = 0; b < n; b++) idx[b] += code[b] * stride;
    }
    uint64_t hit = 0;
    for (int64_t b = 0; b < n; b++) {
      uint8_t t = e->table[idx[b]];
      if (!t && (roots >> b & 1)) t = e->table[idx[b]] = evaluate(e, c->rule, idx[b]);
      hit |= (uint64_t)(t == 2) << b;
    }
    hit &= roots;
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
  /* what the columns cannot answer, refused before anything is set */
  if (rules_calls(rule, "sum") || rules_calls(rule, "days_since") || rules_reads_seen(rule)) return -1;
  columns *c = cx_calloc(1, sizeof *c);
  if (!c) return -1;
  c->p = p;
  c->t = t;
  c->now = now;
  c->rule = rule;
  int64_t maxid = profile_max_id(p), found = -1;
  if (rules_each_count(rule, add_count, c) || rules_each_path(rule, add_path, c) || !c->ncol)
    goto out; /* !ncol: a constant rule, rare; per customer */
  if ((size_t)(maxid >> 6) >= nwords) goto out;
  if (!(c->roots = profile_roots(p, &c->nroots_words)) || (size_t)(maxid >> 6) >= c->nroots_words)
    goto out;
  /* the combinations: column 0's code varies fastest */
  size_t combos = 1;
  for (size_t i = 0; i < c->ncol; i++) {
    column *k = &c->col[i];
    if (k->is_count && count_column(c, k, now, maxid)) goto out;
    /* a count codes as itself when the table stays small, else by the
     * distinct counts present (a pass over the column) */
    if (k->is_count && k->max < MAX_TABLE && k->max + (size_t)1 <= MAX_TABLE / combos) k->ncodes = k->max + (size_t)1;
    else if (k->is_count && dense_codes(k, maxid)) goto out;
    if (k->ncodes > MAX_TABLE / combos) goto out;
    k->stride = combos;
    combos *= k->ncodes;
  }
  c->combos = combos;
  for (int i = 0; i < ANALYTICS_THREADS; i++) {
    c->ev[i].c = c;
    if (!(c->ev[i].table = cx_calloc(combos, 1))) goto out;
  }
  c->bits = bits;
  an_parallel(ANALYTICS_THREADS, maxid, scan, c);
  found = 0;
  int refused = 0;
  for (int i = 0; i < ANALYTICS_THREADS; i++) found += c->found[i], refused |= c->ev[i].refused;
  if (refused) { /* cannot happen (refused above); if it does, set nothing */
    memset(bits, 0, nwords * sizeof *bits);
    found = -1;
  }
out:
  for (int i = 0; i < ANALYTICS_THREADS; i++) cx_free(c->ev[i].table);
  columns_free(c);
  cx_free(c);
  return found;
}
