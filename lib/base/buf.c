#include "buf.h"
#include "mem.h"
#include "time.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void cx_buf_init(cx_buf *b, size_t max) {
  b->p = NULL;
  b->len = b->cap = 0;
  b->max = max;
}

void cx_buf_free(cx_buf *b) {
  cx_free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

void cx_buf_reset(cx_buf *b) {
  b->len = 0;
  if (b->p) b->p[0] = 0;
}

char *cx_buf_take(cx_buf *b) {
  char *p = b->p;
  b->p = NULL;
  b->len = b->cap = 0;
  return p;
}

cx_err cx_buf_reserve(cx_buf *b, size_t extra) {
  if (extra > b->max || b->len > b->max - extra) return CX_ETOOBIG;
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return CX_OK;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) cap *= 2;
  if (cap > b->max + 1) cap = b->max + 1;
  char *p = cx_realloc(b->p, cap);
  if (!p) return CX_ENOMEM;
  b->p = p;
  b->cap = cap;
  return CX_OK;
}

cx_err cx_buf_append_slow(cx_buf *b, const void *data, size_t n) {
  cx_err rc = cx_buf_reserve(b, n);
  if (rc) return rc;
  if (n) memcpy(b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = 0;
  return CX_OK;
}

cx_err cx_buf_puts(cx_buf *b, const char *s) { return cx_buf_append(b, s, strlen(s)); }

cx_err cx_buf_printf(cx_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char tmp[512];
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return CX_EINVAL;
  if ((size_t)n < sizeof tmp) return cx_buf_append(b, tmp, (size_t)n);
  cx_err rc = cx_buf_reserve(b, (size_t)n);
  if (rc) return rc;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return CX_OK;
}

/* 1 for bytes that must be escaped inside a JSON string: control
 * characters, quote and backslash. (Pages escape for HTML themselves; the
 * stored text stays as close to what the client sent as JSON allows.) */
static const unsigned char needs_escape[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1};

cx_err cx_buf_json_str(cx_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  cx_err rc = cx_buf_reserve(b, n + 2);
  if (rc) return rc;
  b->p[b->len++] = '"';
  size_t i = 0;
  while (i < n) {
    size_t run = i;
    while (run < n && !needs_escape[(unsigned char)s[run]]) run++;
    if (run > i) {
      /* room for the run was reserved: n + 2 plus whatever escapes added */
      memcpy(b->p + b->len, s + i, run - i);
      b->len += run - i;
      i = run;
      if (i == n) break;
    }
    unsigned char c = (unsigned char)s[i++];
    char esc[6];
    size_t k = 2;
    esc[0] = '\\';
    if (c == '"' || c == '\\') esc[1] = (char)c;
    else if (c == '\n') esc[1] = 'n';
    else if (c == '\r') esc[1] = 'r';
    else if (c == '\t') esc[1] = 't';
    else {
      esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
      esc[4] = hex[c >> 4]; esc[5] = hex[c & 15]; k = 6;
    }
    /* the escape replaces one reserved byte; keep room for the rest */
    if ((rc = cx_buf_reserve(b, k + (n - i) + 1))) return rc;
    memcpy(b->p + b->len, esc, k);
    b->len += k;
  }
  b->p[b->len++] = '"';
  b->p[b->len] = 0;
  return CX_OK;
}


cx_err cx_buf_json_time(cx_buf *b, int64_t ms) {
  if (ms == CX_NO_TIME) return cx_buf_puts(b, "null");
  char t[40];
  cx_time_format(ms, t);
  return cx_buf_printf(b, "\"%s\"", t);
}
