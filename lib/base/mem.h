/* mem.h - the one allocation wrapper.
 *
 * All engine allocations go through these so that a test can make the Nth
 * allocation fail (cx_mem_fail_after). They return NULL on failure and never
 * abort; callers turn NULL into CX_ENOMEM. Memory from cx_malloc is released
 * with cx_free. */
#ifndef CX_MEM_H
#define CX_MEM_H
#include <stddef.h>

void *cx_malloc(size_t n);
void *cx_calloc(size_t count, size_t size);
void *cx_realloc(void *p, size_t n);
void cx_free(void *p);

/* Testing: the next `n` allocations succeed, every later one fails.
 * n < 0 turns fault injection off (the default). */
void cx_mem_fail_after(long n);

#endif
