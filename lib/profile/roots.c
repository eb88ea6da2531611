/* roots.c - which customer ids are roots (neither merged into another
 * nor erased), as a bitmap over ids: a scan of every customer (a segment
 * rule, a preview) reads 1 bit per id instead of each customer's record.
 *
 * Built the first time a reader asks (one pass over the customers), then
 * kept current by the writer: a new customer sets its bit, a merge clears
 * the merged-away one's. A rebuild of the indexes drops it (built again on
 * the next ask).
 *
 * Locking: the writer changes it under the profile's write lock; readers
 * build it inside a read section under p->post_mu (several may ask at
 * once) and then only read it. */
#include "profile_int.h"
#include "../base/mem.h"
#include <string.h>

void profile_roots_free(profile *p) {
  cx_free(p->roots);
  p->roots = NULL;
  p->roots_words = 0;
}

/* Makes room for id's bit: 0, or -1 (the bitmap is dropped: built again
 * when next asked). */
static int roots_reserve(profile *p, int64_t id) {
  size_t w = (size_t)id >> 6;
  if (w < p->roots_words) return 0;
  size_t n = p->roots_words ? p->roots_words : 1024;
  while (n <= w) n *= 2;
  uint64_t *b = cx_realloc(p->roots, n * sizeof *b);
  if (!b) {
    profile_roots_free(p);
    return -1;
  }
  memset(b + p->roots_words, 0, (n - p->roots_words) * sizeof *b);
  p->roots = b;
  p->roots_words = n;
  return 0;
}

void profile_roots_note(profile *p, int64_t id, int root) {
  if (!p->roots || id <= 0 || roots_reserve(p, id)) return;
  uint64_t m = 1ULL << (id & 63);
  if (root) p->roots[(size_t)id >> 6] |= m;
  else p->roots[(size_t)id >> 6] &= ~m;
}

const uint64_t *profile_roots(profile *p, size_t *nwords) {
  pthread_mutex_lock(&p->post_mu);
  if (!p->roots && !roots_reserve(p, p->ncust)) {
    for (int64_t id = 1; id <= p->ncust; id++)
      if (p->cust[id].parent == id) p->roots[(size_t)id >> 6] |= 1ULL << (id & 63);
  }
  const uint64_t *r = p->roots;
  *nwords = p->roots_words;
  pthread_mutex_unlock(&p->post_mu);
  return r;
}
