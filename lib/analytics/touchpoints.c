/* touchpoints.c - the live numbers of a journey map's touchpoints: for
 * each touchpoint bound to an event (and a rule), the events and unique
 * customers in [from, to), and of those customers the share who reached
 * the next bound touchpoint after it within a window, with the median
 * time between. One pass per customer marks each touchpoint's first hit
 * (the kinds of each touchpoint are bits of a per-kind mask); a second
 * walk from each first hit looks for the next touchpoint. */
#include "analytics_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include <stdlib.h>
#include <string.h>

#define WORDS ((ANALYTICS_MAX_TOUCHPOINTS + 63) / 64)

typedef struct {
  uint64_t *events, *customers, *next; /* [touchpoint] */
  uint64_t *stage;                     /* [stage] unique customers */
  uint64_t *dur;                       /* (touchpoint << 48 | ms) */
  size_t ndur, capdur;
  an_env env;
  cx_err rc;
} part;

typedef struct {
  const analytics_ctx *c;
  const analytics_touchpoint *tp;
  size_t n, nstages;
  int64_t from, to, window;
  uint64_t (*match)[WORDS]; /* [kind] */
  size_t *next_of;          /* [touchpoint]: the next bound one, or n */
  part parts[ANALYTICS_THREADS];
} tpq;

static int hits(tpq *q, part *pt, int64_t id, const profile_point *tl, size_t n, size_t j, size_t t) {
  return (q->match[tl[j].kind][t >> 6] >> (t & 63) & 1) &&
         an_env_match(&pt->env, q->tp[t].where, id, tl, n, j);
}

static void scan(void *arg, int which, int64_t lo, int64_t hi) {
  tpq *q = arg;
  part *pt = &q->parts[which];
  size_t first[ANALYTICS_MAX_TOUCHPOINTS];
  uint8_t stage_hit[ANALYTICS_MAX_TOUCHPOINTS];
  for (int64_t id = lo; id < hi && !pt->rc; id++) {
    size_t n;
    const profile_point *tl = profile_points_in(q->c->pr, id, q->from, q->to, &n);
    if (!n) continue;
    size_t a = an_first_at(tl, n, q->from), b = an_first_at(tl, n, q->to);
    if (a == b) continue;
    for (size_t t = 0; t < q->n; t++) first[t] = SIZE_MAX;
    for (size_t j = a; j < b; j++) {
      const uint64_t *m = q->match[tl[j].kind];
      for (size_t w = 0; w < WORDS; w++)
        for (uint64_t bits = m[w]; bits; bits &= bits - 1) {
          size_t t = w * 64 + (size_t)__builtin_ctzll(bits);
          if (!an_env_match(&pt->env, q->tp[t].where, id, tl, n, j)) continue;
          pt->events[t]++;
          if (first[t] == SIZE_MAX) first[t] = j;
        }
    }
    memset(stage_hit, 0, q->nstages);
    for (size_t t = 0; t < q->n; t++) {
      if (first[t] == SIZE_MAX) continue;
      pt->customers[t]++;
      stage_hit[q->tp[t].stage] = 1;
      size_t nx = q->next_of[t];
      if (nx == q->n) continue;
      int64_t limit = tl[first[t]].ts + q->window;
      for (size_t j = first[t] + 1; j < n && tl[j].ts <= limit; j++)
        if (hits(q, pt, id, tl, n, j, nx)) {
          pt->next[t]++;
          if ((pt->rc = an_push(&pt->dur, &pt->ndur, &pt->capdur,
                                (uint64_t)t << 48 | (uint64_t)(tl[j].ts - tl[first[t]].ts))))
            return;
          break;
        }
    }
    for (size_t s = 0; s < q->nstages; s++) pt->stage[s] += stage_hit[s];
  }
}

static int u64cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

cx_err analytics_touchpoints(const analytics_ctx *c, const analytics_touchpoint *tp, size_t n,
                             size_t nstages, int64_t from, int64_t to, int64_t window,
                             analytics_touchpoint_live *out, uint64_t *stage_customers) {
  if (n > ANALYTICS_MAX_TOUCHPOINTS || nstages > ANALYTICS_MAX_TOUCHPOINTS) return CX_ETOOBIG;
  tpq *q = cx_calloc(1, sizeof *q);
  if (!q) return CX_ENOMEM;
  *q = (tpq){.c = c, .tp = tp, .n = n, .nstages = nstages, .from = from, .to = to, .window = window};
  memset(out, 0, n * sizeof *out);
  memset(stage_customers, 0, nstages * sizeof *stage_customers);
  cx_err rc = CX_OK;
  int threads = ANALYTICS_THREADS;
  q->next_of = cx_malloc((n ? n : 1) * sizeof *q->next_of);
  if (!q->next_of) rc = CX_ENOMEM;
  for (size_t t = 0; !rc && t < n; t++) { /* the next bound touchpoint in map order */
    q->next_of[t] = n;
    for (size_t u = t + 1; u < n && q->next_of[t] == n; u++)
      if (tp[u].event) q->next_of[t] = u;
    if (an_reads_store(tp[t].where)) threads = 1;
  }
  for (size_t t = 0; !rc && t < ANALYTICS_THREADS; t++) {
    part *p = &q->parts[t];
    p->events = cx_calloc(n + 1, sizeof *p->events);
    p->customers = cx_calloc(n + 1, sizeof *p->customers);
    p->next = cx_calloc(n + 1, sizeof *p->next);
    p->stage = cx_calloc(nstages + 1, sizeof *p->stage);
    if (!p->events || !p->customers || !p->next || !p->stage) rc = CX_ENOMEM;
    an_env_init(&p->env, c, NULL);
  }
  an_traits traits = {0};
  if (!rc) { /* the traits the rules read */
    rules_expr *rules[ANALYTICS_MAX_TOUCHPOINTS];
    for (size_t t = 0; t < n; t++) rules[t] = (rules_expr *)tp[t].where; /* read only */
    rc = an_traits_load(c, rules, n, NULL, &traits);
    for (size_t t = 0; t < ANALYTICS_THREADS; t++) q->parts[t].env.traits = &traits;
  }
  if (!rc) {
    profile_read_begin(c->pr);
    uint32_t nk = profile_kind_count(c->pr);
    q->match = cx_calloc((size_t)nk + 1, sizeof *q->match);
    if (!q->match) rc = CX_ENOMEM;
    for (size_t t = 0; !rc && t < n; t++) {
      if (!tp[t].event) continue;
      uint32_t *m = cx_calloc((size_t)nk + 1, sizeof *m);
      if (!m) {
        rc = CX_ENOMEM;
        break;
      }
      an_mark_kinds(c->pr, tp[t].event, m, 1);
      for (uint32_t k = 1; k <= nk; k++)
        if (m[k]) q->match[k][t >> 6] |= 1ULL << (t & 63);
      cx_free(m);
    }
    if (!rc) an_parallel(threads, profile_max_id(c->pr), scan, q);
    profile_read_end(c->pr);
  }
  size_t nd = 0;
  for (size_t t = 0; t < ANALYTICS_THREADS; t++) {
    if (!rc && q->parts[t].rc) rc = q->parts[t].rc;
    nd += q->parts[t].ndur;
  }
  uint64_t *d = rc ? NULL : cx_malloc((nd ? nd : 1) * sizeof *d);
  if (!rc && !d) rc = CX_ENOMEM;
  if (!rc) {
    size_t k = 0;
    for (size_t t = 0; t < ANALYTICS_THREADS; t++) {
      const part *p = &q->parts[t];
      for (size_t i = 0; i < n; i++) {
        out[i].events += p->events[i];
        out[i].customers += p->customers[i];
        out[i].next_customers += p->next[i];
      }
      for (size_t s = 0; s < nstages; s++) stage_customers[s] += p->stage[s];
      for (size_t i = 0; i < p->ndur; i++) d[k++] = p->dur[i];
    }
    qsort(d, nd, sizeof *d, u64cmp);
    for (size_t i = 0; i < n; i++) {
      out[i].has_next = q->next_of[i] < n;
      out[i].median_ms_to_next = -1;
    }
    for (size_t i = 0; i < nd;) {
      size_t t = (size_t)(d[i] >> 48), j = i;
      while (j < nd && (size_t)(d[j] >> 48) == t) j++;
      size_t m = i + (j - i - 1) / 2;
      out[t].median_ms_to_next = (double)(d[m] & ((1ULL << 48) - 1));
      if ((j - i) % 2 == 0) out[t].median_ms_to_next = (out[t].median_ms_to_next + (double)(d[m + 1] & ((1ULL << 48) - 1))) / 2;
      i = j;
    }
  }
  cx_free(d);
  an_traits_free(&traits);
  for (size_t t = 0; t < ANALYTICS_THREADS; t++) {
    part *p = &q->parts[t];
    an_env_free(&p->env);
    cx_free(p->events);
    cx_free(p->customers);
    cx_free(p->next);
    cx_free(p->stage);
    cx_free(p->dur);
  }
  cx_free(q->match);
  cx_free(q->next_of);
  cx_free(q);
  return rc;
}
