/* postings.c - per event kind, who did it when: (time, customer) entries
 * bucketed by UTC day, so that a query about a short range finds the
 * customers who did an event in it without reading every timeline.
 *
 * Built for a kind the first time a query asks for it (one pass over the
 * timelines), then kept: the writer appends each new event of a built kind
 * to an unbucketed tail, and a query that finds the tail long buckets it
 * again. Entries keep the customer id the event was filed under; a query
 * maps it to its root (merges happen after).
 *
 * Locking: the writer appends under the profile's write lock; queries run
 * inside a read section and take p->post_mu to build, rebucket or read. */
#include "profile_int.h"
#include "../base/mem.h"
#include <string.h>

#define DAY 86400000LL
#define MAX_DAYS 40000 /* about 110 years of buckets; wider kinds are not indexed */

static int64_t day_of(int64_t ts) { return ts >= 0 ? ts / DAY : -((-ts + DAY - 1) / DAY); }

void profile_postings_free(profile *p) {
  for (uint32_t k = 0; k < p->npost; k++) {
    cx_free(p->post[k].e);
    cx_free(p->post[k].off);
  }
  cx_free(p->post);
  p->post = NULL;
  p->npost = 0;
}

void profile_postings_note(profile *p, uint32_t kind, int64_t ts, int64_t cust) {
  if (kind >= p->npost || !p->post[kind].built) return;
  profile_postings *q = &p->post[kind];
  if (q->n == q->cap) {
    size_t cap = q->cap * 2 + 1024;
    profile_posting *e = cx_realloc(q->e, cap * sizeof *e);
    if (!e) { /* drop the index: the next query builds it again */
      cx_free(q->e);
      cx_free(q->off);
      memset(q, 0, sizeof *q);
      return;
    }
    q->e = e;
    q->cap = cap;
  }
  q->e[q->n++] = (profile_posting){ts, cust};
}

/* Buckets q->e[0..n) by day (a counting sort). 0, or -1 when the span is
 * too wide or memory ran out (the kind stays unindexed). */
static int bucket(profile_postings *q) {
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (size_t i = 0; i < q->n; i++) {
    int64_t d = day_of(q->e[i].ts);
    if (d < lo) lo = d;
    if (d > hi) hi = d;
  }
  if (!q->n) lo = hi = 0;
  if (hi - lo + 1 > MAX_DAYS) return -1;
  uint32_t ndays = (uint32_t)(hi - lo + 1);
  uint32_t *off = cx_calloc((size_t)ndays + 1, sizeof *off);
  profile_posting *e = cx_malloc((q->cap ? q->cap : 1) * sizeof *e);
  if (!off || !e) {
    cx_free(off);
    cx_free(e);
    return -1;
  }
  for (size_t i = 0; i < q->n; i++) off[day_of(q->e[i].ts) - lo + 1]++;
  for (uint32_t d = 0; d < ndays; d++) off[d + 1] += off[d];
  uint32_t *at = cx_malloc((size_t)ndays * sizeof *at);
  if (!at) {
    cx_free(off);
    cx_free(e);
    return -1;
  }
  memcpy(at, off, (size_t)ndays * sizeof *at);
  for (size_t i = 0; i < q->n; i++) e[at[day_of(q->e[i].ts) - lo]++] = q->e[i];
  cx_free(at);
  cx_free(q->e);
  cx_free(q->off);
  q->e = e;
  q->off = off;
  q->day0 = lo;
  q->ndays = ndays;
  q->nb = q->n;
  return 0;
}

/* Builds the postings of the kinds marked in want[] that are not built
 * yet, in one pass over the timelines. [section, post_mu] */
static void build(profile *p, const uint8_t *want) {
  if (p->npost < p->nkinds + 1) {
    profile_postings *np = cx_realloc(p->post, ((size_t)p->nkinds + 1) * sizeof *np);
    if (!np) return;
    memset(np + p->npost, 0, ((size_t)p->nkinds + 1 - p->npost) * sizeof *np);
    p->post = np;
    p->npost = p->nkinds + 1;
  }
  int any = 0;
  for (uint32_t k = 1; k <= p->nkinds; k++) any |= want[k] && !p->post[k].built && !p->post[k].failed;
  if (!any) return;
  size_t *count = cx_calloc((size_t)p->nkinds + 1, sizeof *count);
  if (!count) return;
  for (int64_t id = 1; id <= p->ncust; id++) {
    const profile_customer *c = &p->cust[id];
    for (uint32_t i = 0; i < c->n; i++) count[c->tl[i].kind]++;
  }
  uint8_t *doing = cx_calloc((size_t)p->nkinds + 1, 1); /* built in this pass */
  if (!doing) {
    cx_free(count);
    return;
  }
  for (uint32_t k = 1; k <= p->nkinds; k++) {
    profile_postings *q = &p->post[k];
    if (!want[k] || q->built || q->failed) continue;
    q->cap = count[k] + 1024;
    q->n = 0;
    if (!(q->e = cx_malloc(q->cap * sizeof *q->e))) q->failed = 1;
    else doing[k] = 1; /* a kind without events is built too, empty */
  }
  for (int64_t id = 1; id <= p->ncust; id++) { /* the customer a point is filed under: a root */
    const profile_customer *c = &p->cust[id];
    for (uint32_t i = 0; i < c->n; i++)
      if (doing[c->tl[i].kind]) {
        profile_postings *q = &p->post[c->tl[i].kind];
        q->e[q->n++] = (profile_posting){c->tl[i].ts, id};
      }
  }
  for (uint32_t k = 1; k <= p->nkinds; k++) {
    if (!doing[k]) continue;
    profile_postings *q = &p->post[k];
    if (bucket(q)) {
      cx_free(q->e);
      memset(q, 0, sizeof *q);
      q->failed = 1;
    } else {
      q->built = 1;
    }
  }
  cx_free(doing);
  cx_free(count);
}

/* Builds the marked kinds (when new) and buckets a long tail again: 0
 * when every marked kind can serve a query, -1 otherwise. [post_mu] */
static int ready(profile *p, const uint8_t *kinds) {
  build(p, kinds);
  if (!p->npost) return -1;
  for (uint32_t k = 1; k <= p->nkinds; k++) {
    if (!kinds[k]) continue;
    profile_postings *q = &p->post[k];
    if (!q->built || (q->n - q->nb > q->nb / 4 + 1024 && bucket(q))) return -1;
  }
  return 0;
}

/* The entries of q that may fall in [from, to): e[run[0]..run[1]) (the
 * days' buckets) and e[run[2]..run[3]) (the tail); check each one's ts. */
static void runs(const profile_postings *q, int64_t from, int64_t to, size_t run[4]) {
  int64_t a = day_of(from) - q->day0, b = day_of(to - 1) - q->day0 + 1;
  if (a < 0) a = 0;
  if (b > (int64_t)q->ndays) b = q->ndays;
  run[0] = a < b ? q->off[a] : 0;
  run[1] = a < b ? q->off[b] : 0;
  run[2] = q->nb;
  run[3] = q->n;
}

/* The entries of kinds whose day buckets overlap [from, to) (an upper
 * bound of those in range); under post_mu, the index ready. */
static int64_t range_entries(profile *p, const uint8_t *kinds, int64_t from, int64_t to) {
  int64_t est = 0;
  size_t run[4];
  for (uint32_t k = 1; k <= p->nkinds; k++)
    if (kinds[k]) {
      runs(&p->post[k], from, to, run);
      est += (int64_t)(run[1] - run[0] + run[3] - run[2]);
    }
  return est;
}

int64_t profile_customers_with(profile *p, const uint8_t *kinds, int64_t from, int64_t to,
                               int64_t max, uint64_t *bits, size_t nwords) {
  pthread_mutex_lock(&p->post_mu);
  int ok = !ready(p, kinds);
  /* how many entries the range holds: too many, and a scan of every
   * timeline is cheaper than this */
  int64_t est = ok ? range_entries(p, kinds, from, to) : 0;
  size_t run[4];
  int64_t found = ok && est <= max ? 0 : -1;
  for (uint32_t k = 1; found >= 0 && k <= p->nkinds; k++) {
    if (!kinds[k]) continue;
    const profile_postings *q = &p->post[k];
    runs(q, from, to, run);
    for (int r = 0; r < 4; r += 2)
      for (size_t i = run[r]; i < run[r + 1]; i++) {
        if (q->e[i].ts < from || q->e[i].ts >= to) continue;
        int64_t root = profile_root_quick(p, q->e[i].cust);
        size_t w = (size_t)root >> 6;
        uint64_t m = 1ULL << (root & 63);
        if (root && w < nwords && !(bits[w] & m)) {
          bits[w] |= m;
          found++;
        }
      }
  }
  pthread_mutex_unlock(&p->post_mu);
  return found;
}

int profile_postings_each(profile *p, const uint8_t *kinds, int64_t from, int64_t to, int64_t max,
                          void (*fn)(void *arg, int64_t root, int64_t ts, int tail), void *arg) {
  pthread_mutex_lock(&p->post_mu);
  int ok = !ready(p, kinds);
  int64_t est = ok ? range_entries(p, kinds, from, to) : 0;
  ok = ok && est <= max;
  /* the tails first, then day by day over every marked kind */
  for (int64_t d = day_of(from) - 1, last = day_of(to - 1); ok && d <= last; d++)
    for (uint32_t k = 1; k <= p->nkinds; k++) {
      if (!kinds[k]) continue;
      const profile_postings *q = &p->post[k];
      size_t lo = q->nb, hi = q->n;
      if (d >= day_of(from)) {
        if (d < q->day0 || d >= q->day0 + (int64_t)q->ndays) continue;
        lo = q->off[d - q->day0];
        hi = q->off[d - q->day0 + 1];
      }
      for (size_t i = lo; i < hi; i++) {
        if (q->e[i].ts < from || q->e[i].ts >= to) continue;
        int64_t root = profile_root_quick(p, q->e[i].cust);
        if (root) fn(arg, root, q->e[i].ts, d < day_of(from));
      }
    }
  pthread_mutex_unlock(&p->post_mu);
  return ok ? 0 : -1;
}

int profile_count_events(profile *p, const uint8_t *kinds, int64_t from, int64_t to,
                         uint32_t *counts, size_t ncounts) {
  pthread_mutex_lock(&p->post_mu);
  int ok = !ready(p, kinds);
  size_t run[4];
  for (uint32_t k = 1; ok && k <= p->nkinds; k++) {
    if (!kinds[k]) continue;
    const profile_postings *q = &p->post[k];
    runs(q, from, to, run);
    for (int r = 0; r < 4; r += 2)
      for (size_t i = run[r]; i < run[r + 1]; i++) {
        const profile_posting *e = &q->e[i];
        if (e->ts >= from && e->ts < to && e->cust > 0 && (size_t)e->cust < ncounts) counts[e->cust]++;
      }
  }
  pthread_mutex_unlock(&p->post_mu);
  return ok ? 0 : -1;
}
