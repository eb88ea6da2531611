/* roots.c - which customer ids are roots (neither merged into another
 * nor erased), as a bitmap over ids, for the readers that scan every
 * customer (a segment rule, a preview): 1 bit per id instead of each
 * customer's record. The bitmap is the profile's own (p->roots, kept by
 * load, new customers and merges in profile.c; the kinds' index reads it
 * too). */
#include "profile_int.h"

const uint64_t *profile_roots(profile *p, size_t *nwords) {
  *nwords = p->roots ? ((size_t)p->capcust >> 6) + 1 : 0;
  return p->roots;
}
