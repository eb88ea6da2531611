#include "vec.h"
#include "mem.h"

cx_err cx_vec_push(cx_vec *v, int64_t x) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 256;
    int64_t *g = cx_realloc(v->v, cap * sizeof *g);
    if (!g) return CX_ENOMEM;
    v->v = g;
    v->cap = cap;
  }
  v->v[v->n++] = x;
  return CX_OK;
}

void cx_vec_free(cx_vec *v) {
  cx_free(v->v);
  v->v = NULL;
  v->n = v->cap = 0;
}

int cx_i64_cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}
