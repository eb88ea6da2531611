#include "mem.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_countdown = -1;

static int should_fail(void) {
  long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
  if (n < 0) return 0;
  if (n == 0) return 1;
  atomic_fetch_sub(&fail_countdown, 1);
  return 0;
}

void cx_mem_fail_after(long n) { atomic_store(&fail_countdown, n); }

void *cx_malloc(size_t n) { return should_fail() ? NULL : malloc(n ? n : 1); }

void *cx_calloc(size_t count, size_t size) {
  return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *cx_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n ? n : 1); }

void cx_free(void *p) { free(p); }

