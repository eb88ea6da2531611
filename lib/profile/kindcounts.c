/* kindcounts.c - per event kind, how many events each customer id has
 * (all times), for count(name) over every customer without reading the
 * kinds' index or the timelines each time.
 *
 * Built for a kind the first time a query asks (one pass over the
 * timelines), then kept by the writer: each new event of a kept kind adds
 * one to the id it is filed under (its root at the time; a later merge
 * leaves it there, and a query adds a root's members up). At most
 * PROFILE_KIND_COUNTS kinds are kept (4 bytes per customer id each), and
 * none survives a rebuild of the indexes (an erasure, a retention run, a
 * rollback): the next query builds them again.
 *
 * Locking: the writer changes them under the profile's write lock;
 * readers build them inside a read section under p->post_mu, then only
 * read them. */
#include "profile_int.h"
#include "../base/mem.h"
#include <string.h>

void profile_kind_counts_free(profile *p) {
  for (uint32_t i = 0; i < p->nkcount; i++) cx_free(p->kcount[i].n);
  memset(p->kcount, 0, sizeof p->kcount);
  p->nkcount = 0;
}

static void drop(profile *p, uint32_t i) {
  cx_free(p->kcount[i].n);
  memmove(&p->kcount[i], &p->kcount[i + 1], (p->nkcount - i - 1) * sizeof p->kcount[0]);
  p->nkcount--;
}

void profile_kind_counts_note(profile *p, uint32_t kind, int64_t cust) {
  for (uint32_t i = 0; i < p->nkcount; i++) {
    profile_kind_tally *k = &p->kcount[i];
    if (k->kind != kind) continue;
    if (cust <= 0) return;
    if ((size_t)cust >= k->ids) {
      size_t ids = k->ids * 2 > (size_t)cust + 1 ? k->ids * 2 : (size_t)cust + 1024;
      uint32_t *n = cx_realloc(k->n, ids * sizeof *n);
      if (!n) { /* forget the kind: the next query builds it again */
        drop(p, i);
        return;
      }
      memset(n + k->ids, 0, (ids - k->ids) * sizeof *n);
      k->n = n;
      k->ids = ids;
    }
    if (++k->n[cust] > k->max) k->max = k->n[cust];
    return;
  }
}

const uint32_t *profile_kind_counts(profile *p, uint32_t kind, int64_t upto, size_t *ids,
                                    uint32_t *max) {
  /* the counts hold every event: they answer "up to now" only when no
   * event lies after now */
  if (p->last_ts != CX_NO_TIME && p->last_ts > upto) return NULL;
  pthread_mutex_lock(&p->post_mu);
  profile_kind_tally *k = NULL;
  for (uint32_t i = 0; i < p->nkcount && !k; i++)
    if (p->kcount[i].kind == kind) k = &p->kcount[i];
  if (!k && p->nkcount < PROFILE_KIND_COUNTS) {
    size_t n = (size_t)p->ncust + 1;
    uint32_t *c = cx_calloc(n, sizeof *c);
    if (c) {
      uint32_t m = 0;
      for (int64_t id = 1; id <= p->ncust; id++) { /* a timeline's points are filed under its root */
        const profile_customer *pc = &p->cust[id];
        uint32_t v = 0;
        for (uint32_t i = 0; i < pc->n; i++) v += pc->tl[i].kind == kind;
        c[id] = v;
        if (v > m) m = v;
      }
      k = &p->kcount[p->nkcount++];
      *k = (profile_kind_tally){.kind = kind, .n = c, .ids = n, .max = m};
    }
  }
  const uint32_t *r = k ? k->n : NULL;
  if (k) *ids = k->ids, *max = k->max;
  pthread_mutex_unlock(&p->post_mu);
  return r;
}
