/* fuzz_utf8.c - libFuzzer driver for cx_utf8_valid and cx_buf_json_str.
 *
 * cx_utf8_valid must agree with a reference decoder written here from the
 * table of well-formed byte sequences (Unicode 15, table 3-7), which checks
 * byte ranges rather than decoded code points.
 *
 * cx_buf_json_str must always produce one JSON string literal with no raw
 * control characters; when the input is valid
 * UTF-8 without NUL, cJSON must read it back to exactly the input bytes. */
#include "../lib/base/buf.h"
#include "../lib/base/util.h"
#include "../lib/ingest/ingest.h"
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_utf8: invariant broken: %s\n", what);
    abort();
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  ingest_global_init(); /* cJSON allocates through cx_malloc as in the server */
  return 0;
}

static int in(unsigned char c, unsigned char lo, unsigned char hi) { return c >= lo && c <= hi; }

/* Length of the well-formed sequence at s[0..n), 0 if there is none. */
static size_t ref_sequence(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  if (c <= 0x7F) return 1;
  if (in(c, 0xC2, 0xDF)) return n >= 2 && in(s[1], 0x80, 0xBF) ? 2 : 0;
  if (n < 3) return 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c == 0xE0) lo = 0xA0;
  else if (c == 0xED) hi = 0x9F;
  if (in(c, 0xE0, 0xEF)) return in(s[1], lo, hi) && in(s[2], 0x80, 0xBF) ? 3 : 0;
  if (n < 4) return 0;
  if (c == 0xF0) lo = 0x90;
  else if (c == 0xF4) hi = 0x8F;
  if (in(c, 0xF0, 0xF4))
    return in(s[1], lo, hi) && in(s[2], 0x80, 0xBF) && in(s[3], 0x80, 0xBF) ? 4 : 0;
  return 0;
}

static int ref_valid(const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    size_t k = ref_sequence(s + i, n - i);
    if (!k) return 0;
    i += k;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  int valid = cx_utf8_valid(s, size);
  check(valid == 0 || valid == 1, "cx_utf8_valid returns 0 or 1");
  check(valid == ref_valid(data, size), "cx_utf8_valid disagrees with the reference decoder");
  /* every prefix that ends on a sequence boundary of valid input is valid */
  if (valid && size) {
    size_t cut = data[0] % (size + 1);
    while (cut < size && (data[cut] & 0xC0) == 0x80) cut++;
    check(cx_utf8_valid(s, cut), "prefix of valid UTF-8 at a boundary");
  }

  cx_buf b;
  cx_buf_init(&b, 6 * size + 16); /* room for the worst case: \u00XX per byte */
  check(cx_buf_puts(&b, "[") == CX_OK, "prefix"); /* start from a non-empty buffer */
  check(cx_buf_json_str(&b, s, size) == CX_OK, "json_str within a large enough limit");
  check(b.len <= b.max && b.p[b.len] == 0, "length and NUL");
  const char *lit = b.p + 1;
  size_t litlen = b.len - 1;
  check(litlen >= 2 && lit[0] == '"' && lit[litlen - 1] == '"', "quoted");
  for (size_t i = 0; i < litlen; i++) {
    unsigned char c = (unsigned char)lit[i];
    check(c >= 0x20, "no raw control characters");
    if (c == '"') check(i == 0 || i == litlen - 1 || lit[i - 1] == '\\', "inner quotes escaped");
  }
  if (valid) check(cx_utf8_valid(lit, litlen), "valid input gives valid output");
  if (valid && !memchr(s, 0, size)) {
    cJSON *v = cJSON_ParseWithLength(lit, litlen);
    check(cJSON_IsString(v), "output parses as a JSON string");
    check(strlen(v->valuestring) == size && !memcmp(v->valuestring, s, size),
          "JSON string reads back to the input bytes");
    cJSON_Delete(v);
  }
  cx_buf_free(&b);
  return 0;
}
