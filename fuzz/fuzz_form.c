/* fuzz_form.c - libFuzzer driver for the respondent page's form parser
 * (lib/http/form.c): application/x-www-form-urlencoded bodies as a browser
 * or anyone else posts them to /s/{survey}.
 *
 * An accepted body gives fields whose keys are 1..HTTP_FORM_MAX_KEY bytes
 * and whose keys and values are valid UTF-8 without NUL, no more of them
 * than the body has '&'-separated pairs, and a body re-encoded from them
 * parses to the same fields. A refused one says why and holds nothing. */
#include "../lib/base/util.h"
#include "../lib/http/http_int.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_form: invariant broken: %s\n", what);
    abort();
  }
}

static size_t encode(const char *s, char *out) {
  static const char hex[] = "0123456789ABCDEF";
  size_t k = 0;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_') out[k++] = (char)c;
    else if (c == ' ') out[k++] = '+';
    else out[k++] = '%', out[k++] = hex[c >> 4], out[k++] = hex[c & 15];
  }
  return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 64 * 1024) return 0;
  http_form f;
  const char *why = NULL;
  cx_err rc = http_form_parse(size ? (const char *)data : NULL, size, &f, &why);
  if (rc == CX_EINVAL) {
    check(why && *why, "a refusal says why");
    check(!f.fields && !f.buf && !f.n, "a refusal holds nothing");
    return 0;
  }
  check(rc == CX_OK, "only bad input fails");
  size_t pairs = 1;
  for (size_t i = 0; i < size; i++) pairs += data[i] == '&';
  check(f.n <= pairs, "no more fields than pairs");
  size_t total = 0;
  for (size_t i = 0; i < f.n; i++) {
    size_t kl = strlen(f.fields[i].key), vl = strlen(f.fields[i].value);
    check(kl >= 1 && kl <= HTTP_FORM_MAX_KEY, "a key of 1..HTTP_FORM_MAX_KEY bytes");
    check(cx_utf8_valid(f.fields[i].key, kl) && cx_utf8_valid(f.fields[i].value, vl), "UTF-8 keys and values");
    check(kl + vl <= size, "decoding never grows");
    total += 3 * (kl + vl) + 2;
  }
  /* the same fields re-encoded parse back to themselves */
  char *body = malloc(total + 1);
  size_t k = 0;
  for (size_t i = 0; i < f.n; i++) {
    if (i) body[k++] = '&';
    k += encode(f.fields[i].key, body + k);
    body[k++] = '=';
    k += encode(f.fields[i].value, body + k);
  }
  http_form g;
  check(http_form_parse(k ? body : NULL, k, &g, &why) == CX_OK, "a re-encoded form parses");
  check(g.n == f.n, "the same number of fields");
  for (size_t i = 0; i < f.n; i++)
    check(!strcmp(f.fields[i].key, g.fields[i].key) && !strcmp(f.fields[i].value, g.fields[i].value), "the same fields");
  http_form_free(&g);
  http_form_free(&f);
  free(body);
  return 0;
}
