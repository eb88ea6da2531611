/* fuzz_text.c - libFuzzer driver for lib/text (sentiment, themes, key
 * phrases) over arbitrary bytes.
 *
 * Invariants: valid UTF-8 within the limit scores in [-1, 1] with the label
 * its score says; invalid UTF-8 is CX_EINVAL, too long CX_ETOOBIG, and then
 * no themes and no phrases; themes are within the catalogue; phrases are
 * distinct by key, NUL-terminated, non-empty and valid UTF-8; the same
 * input gives the same answer twice. */
#include "../lib/base/util.h"
#include "../lib/text/text.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_text: invariant broken: %s\n", what);
    abort();
  }
}

static text_model *model;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!model && text_open(&model)) abort();
  const char *s = (const char *)data;
  int valid = cx_utf8_valid(s, size) && size <= TEXT_MAX_INPUT;
  text_sentiment r = {.score = 9, .label = 9}, r2;
  cx_err rc = text_sentiment_of(model, s, size, &r);
  if (!valid) {
    check(rc == (size > TEXT_MAX_INPUT ? CX_ETOOBIG : CX_EINVAL), "error code");
    check(r.score == 9 && r.label == 9, "output untouched on error");
    check(text_themes_of(model, s, size) == 0, "no themes on error");
    text_phrase p[2];
    check(text_phrases_of(model, s, size, p, 2) == 0, "no phrases on error");
    return 0;
  }
  check(rc == CX_OK, "valid input is scored");
  check(r.score >= -1 && r.score <= 1, "score in [-1, 1]");
  check(r.label == (r.score >= 0.05 ? TEXT_POSITIVE : r.score <= -0.05 ? TEXT_NEGATIVE : TEXT_NEUTRAL),
        "label follows the score");
  check(text_sentiment_of(model, s, size, &r2) == CX_OK && r2.score == r.score, "deterministic");
  uint64_t t = text_themes_of(model, s, size);
  size_t nt = text_theme_count(model);
  check(nt == 64 || (t >> nt) == 0, "themes within the catalogue");
  check(text_themes_of(model, s, size) == t, "themes deterministic");
  text_phrase p[32];
  memset(p, 0x5A, sizeof p); /* no NUL to lean on */
  size_t n = text_phrases_of(model, s, size, p, 32);
  check(n <= 32, "phrase count");
  for (size_t i = 0; i < n; i++) {
    size_t kl = strnlen(p[i].key, sizeof p[i].key), sl = strnlen(p[i].shown, sizeof p[i].shown);
    check(kl > 0 && kl < sizeof p[i].key, "key NUL-terminated");
    check(sl > 0 && sl < sizeof p[i].shown, "shown NUL-terminated");
    check(cx_utf8_valid(p[i].key, kl), "key is UTF-8");
    check(cx_utf8_valid(p[i].shown, sl), "shown is UTF-8");
    for (size_t j = 0; j < i; j++) check(strcmp(p[i].key, p[j].key) != 0, "distinct keys");
  }
  return 0;
}
