/* vec.h - a growable array of 64-bit integers (ids, hashes), owned by the
 * struct; release with cx_vec_free. */
#ifndef CX_VEC_H
#define CX_VEC_H
#include <stddef.h>
#include <stdint.h>
#include "err.h"

typedef struct {
  int64_t *v;
  size_t n, cap;
} cx_vec;

/* Appends x, doubling the capacity when full. CX_ENOMEM leaves v as it was. */
cx_err cx_vec_push(cx_vec *v, int64_t x);
void cx_vec_free(cx_vec *v);
/* qsort comparator for int64_t, ascending. */
int cx_i64_cmp(const void *a, const void *b);

#endif
