/* buf.h - bounded, growable byte buffers.
 *
 * A cx_buf owns its bytes (p). It never grows past `max`: an append that
 * would exceed it fails with CX_ETOOBIG and leaves the buffer unchanged.
 * The content is always NUL-terminated (the NUL is not counted in len).
 * Release with cx_buf_free; cx_buf_take hands ownership of p to the caller. */
#ifndef CX_BUF_H
#define CX_BUF_H
#include <stddef.h>
#include <stdint.h>
#include "err.h"

typedef struct {
  char *p;
  size_t len, cap, max;
} cx_buf;

void cx_buf_init(cx_buf *b, size_t max);
void cx_buf_free(cx_buf *b);
void cx_buf_reset(cx_buf *b);
/* Returns p (caller frees with cx_free) and leaves b empty; NULL if empty. */
char *cx_buf_take(cx_buf *b);
cx_err cx_buf_reserve(cx_buf *b, size_t extra);
cx_err cx_buf_append_slow(cx_buf *b, const void *data, size_t n);
/* Inline while it fits: appends are the JSON writer's inner loop. */
static inline cx_err cx_buf_append(cx_buf *b, const void *data, size_t n) {
  if (b->len + n < b->cap && b->len + n <= b->max) {
    __builtin_memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
    return CX_OK;
  }
  return cx_buf_append_slow(b, data, n);
}
cx_err cx_buf_puts(cx_buf *b, const char *s);
cx_err cx_buf_printf(cx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s[0..n) as a JSON string literal, quotes included. */
cx_err cx_buf_json_str(cx_buf *b, const char *s, size_t n);
/* Appends an ISO-8601 UTC time with milliseconds, quoted; null for CX_NO_TIME. */
cx_err cx_buf_json_time(cx_buf *b, int64_t ms);

#endif
