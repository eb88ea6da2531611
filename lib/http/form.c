/* form.c - application/x-www-form-urlencoded bodies (http_int.h).
 *
 * "k=v&k2=v2": '+' is a space, %XX a byte; keys and values must then be
 * UTF-8 without NUL. Empty pairs ("&&", a trailing '&') are skipped; a
 * pair without '=' is a key with an empty value (as browsers read it). */
#include "http_int.h"
#include "../base/mem.h"
#include "../base/util.h"
#include <string.h>

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes s[0..n) into out (NUL-terminated); the decoded length into
 * *len. CX_EINVAL for a bad escape or a NUL. */
static cx_err decode(const char *s, size_t n, char *out, size_t *len) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '+') c = ' ';
    else if (c == '%') {
      if (i + 2 >= n) return CX_EINVAL; /* "%" or "%A" at the end */
      int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
      if (hi < 0 || lo < 0) return CX_EINVAL;
      c = (char)(hi << 4 | lo);
      i += 2;
    }
    if (!c) return CX_EINVAL;
    out[k++] = c;
  }
  out[k] = 0;
  *len = k;
  return CX_OK;
}

void http_form_free(http_form *f) {
  cx_free(f->buf);
  cx_free(f->fields);
  memset(f, 0, sizeof *f);
}

cx_err http_form_parse(const char *p, size_t n, http_form *out, const char **why) {
  memset(out, 0, sizeof *out);
  *why = NULL;
  if (!n) return CX_OK;
  size_t pairs = 1;
  for (size_t i = 0; i < n; i++) pairs += p[i] == '&';
  if (pairs > HTTP_FORM_MAX_FIELDS) {
    /* empty pairs do not count against the bound, but there is no need
     * to be generous to a body made of '&' */
    *why = "too many fields";
    return CX_EINVAL;
  }
  /* each pair decodes to at most its own length plus two NULs */
  out->buf = cx_malloc(n + 2 * pairs + 1);
  out->fields = cx_malloc(pairs * sizeof *out->fields);
  if (!out->buf || !out->fields) {
    http_form_free(out);
    return CX_ENOMEM;
  }
  char *w = out->buf;
  for (size_t at = 0; at <= n;) {
    const char *seg = p + at, *amp = memchr(seg, '&', n - at);
    size_t len = amp ? (size_t)(amp - seg) : n - at;
    at += len + 1;
    if (!len) continue;
    const char *eq = memchr(seg, '=', len);
    size_t klen_raw = eq ? (size_t)(eq - seg) : len, kl, vl;
    if (!klen_raw) {
      *why = "a field without a name";
      break;
    }
    char *k = w;
    if (decode(seg, klen_raw, k, &kl)) {
      *why = "a malformed %-escape or a NUL byte";
      break;
    }
    w += kl + 1;
    char *v = w;
    if (decode(eq ? eq + 1 : seg + len, eq ? len - klen_raw - 1 : 0, v, &vl)) {
      *why = "a malformed %-escape or a NUL byte";
      break;
    }
    w += vl + 1;
    if (kl > HTTP_FORM_MAX_KEY) {
      *why = "a field name that is too long";
      break;
    }
    if (!cx_utf8_valid(k, kl) || !cx_utf8_valid(v, vl)) {
      *why = "text that is not valid UTF-8";
      break;
    }
    out->fields[out->n++] = (feedback_field){k, v};
  }
  if (*why) {
    http_form_free(out);
    return CX_EINVAL;
  }
  return CX_OK;
}
