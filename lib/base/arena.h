/* arena.h - bump allocation freed all at once.
 *
 * An arena owns every block it hands out; they stay valid until
 * cx_arena_free. Blocks are 16-byte aligned. An arena never holds more
 * than `max` bytes: past it cx_arena_alloc returns NULL. */
#ifndef CX_ARENA_H
#define CX_ARENA_H
#include <stddef.h>

typedef struct cx_arena_chunk cx_arena_chunk;
typedef struct {
  cx_arena_chunk *head;
  size_t total, max;
  int limited; /* set when an allocation was refused for passing max */
} cx_arena;

void cx_arena_init(cx_arena *a, size_t max);
void *cx_arena_alloc(cx_arena *a, size_t n);
void cx_arena_free(cx_arena *a); /* releases everything; a can be reused */

#endif
