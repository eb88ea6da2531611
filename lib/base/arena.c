#include "arena.h"
#include "mem.h"

#define CHUNK (256 * 1024)

struct cx_arena_chunk {
  cx_arena_chunk *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
};

void cx_arena_init(cx_arena *a, size_t max) {
  a->head = NULL;
  a->total = 0;
  a->max = max;
  a->limited = 0;
}

void *cx_arena_alloc(cx_arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  cx_arena_chunk *c = a->head;
  if (!c || c->cap - c->used < n) {
    size_t cap = n > CHUNK ? n : CHUNK;
    if (a->total + cap > a->max) {
      a->limited = 1;
      return NULL;
    }
    c = cx_malloc(sizeof *c + cap);
    if (!c) return NULL;
    c->next = a->head;
    c->used = 0;
    c->cap = cap;
    a->head = c;
    a->total += cap;
  }
  void *p = c->data + c->used;
  c->used += n;
  return p;
}

void cx_arena_free(cx_arena *a) {
  while (a->head) {
    cx_arena_chunk *n = a->head->next;
    cx_free(a->head);
    a->head = n;
  }
  a->total = 0;
  a->limited = 0;
}
