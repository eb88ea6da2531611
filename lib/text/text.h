/* text.h - sentiment and themes of verbatims (issue 5, "Listen").
 *
 * A text_model holds the built-in lexicons (VADER's word and emoji lexicons
 * and AFINN-165, compiled into the binary, plus cxm's customer-service
 * vocabulary), a naive Bayes table learnt in text_open from VADER's ground
 * truth (also compiled in), the stop words and the theme catalogue. It is
 * built once by text_open (~12 ms, 4 MB) and is read-only afterwards: any
 * number of threads may share one model and call every function below at
 * the same time. Stemming uses one libstemmer stemmer per thread, created
 * on the thread's first call and deleted when the thread exits.
 *
 * Input is a UTF-8 slice s[0..n) of at most TEXT_MAX_INPUT bytes; it need
 * not be NUL-terminated and is never kept. docs/sentiment-and-themes.md is
 * the user's manual; docs/internals/text.md the design.
 *
 * Ownership, stated once: the model owns every string it returns (theme
 * names); they live until text_close. Everything written into caller
 * structs is a copy. */
#ifndef CX_TEXT_H
#define CX_TEXT_H
#include <stddef.h>
#include <stdint.h>
#include "../base/err.h"

#define TEXT_MAX_INPUT 10000 /* bytes of one verbatim; longer: CX_ETOOBIG */

typedef struct text_model text_model; /* immutable once open: thread-safe to share */

/* Builds the model from the built-in data. On success *out is a new model
 * the caller releases with text_close; CX_ENOMEM otherwise (*out untouched). */
cx_err text_open(text_model **out);
void text_close(text_model *m); /* NULL is fine */

/* ---- sentiment ---- */

enum { TEXT_NEGATIVE = -1, TEXT_NEUTRAL = 0, TEXT_POSITIVE = 1 };
#define TEXT_THRESHOLD 0.05 /* label: positive at score >= 0.05, negative at <= -0.05 */

/* The score: z = c + 0.05 b, mapped to z / sqrt(z^2 + 1) and rounded to 4
 * decimals, where c is VADER's "compound" (its rules over the lexicons, in
 * [-1, 1]) and b the naive Bayes log-odds of the text (docs/internals/text.md). */
typedef struct {
  double score; /* in [-1, 1] */
  int label;    /* TEXT_NEGATIVE, TEXT_NEUTRAL or TEXT_POSITIVE, from score */
} text_sentiment;

/* The sentiment of s[0..n). CX_EINVAL when s is not valid UTF-8 (or s is
 * NULL with n > 0), CX_ETOOBIG past TEXT_MAX_INPUT, CX_ENOMEM; *out is
 * written only on success. Empty text, text without a letter, and text of
 * words neither the lexicons nor the model know, score 0, neutral. */
cx_err text_sentiment_of(const text_model *m, const char *s, size_t n, text_sentiment *out);

/* ---- themes ---- */

#define TEXT_MAX_THEMES 64

size_t text_theme_count(const text_model *m);
/* The display name of theme i ("Delivery"), NULL when i is out of range. */
const char *text_theme_name(const text_model *m, size_t i);
/* The themes s[0..n) speaks of: bit i set for theme i. 0 for invalid,
 * too long or empty text, and when the text matches no theme. */
uint64_t text_themes_of(const text_model *m, const char *s, size_t n);

/* A key phrase: a run of one to three content words (no stop words, no
 * numbers, no negations or intensifiers, no strong sentiment words such as
 * "great" or "rude"), e.g. "delivery driver". */
typedef struct {
  char key[64];   /* stemmed, space-separated: the same for "delivery drivers" */
  char shown[96]; /* as written, ASCII letters lower-cased; NUL-terminated UTF-8 */
} text_phrase;

/* Writes up to max distinct key phrases of s[0..n) (distinct by key), in
 * the order they appear, and returns how many it wrote; 0 for invalid, too
 * long or empty text. A phrase that does not fit key or shown is shortened
 * by whole words, or left out when one word does not fit. */
size_t text_phrases_of(const text_model *m, const char *s, size_t n, text_phrase *out, size_t max);

/* ---- themes over many verbatims ---- */

typedef struct {
  size_t volume;      /* verbatims with the theme */
  double sentiment;   /* their mean score (0 when volume is 0) */
  size_t rated;       /* of them, those with an NPS rating (0..10) */
  double nps_without; /* NPS of the rated verbatims without the theme (NAN if none) */
  double nps_impact;  /* NPS of all rated verbatims minus nps_without: the points the
                         theme adds (> 0) or costs (< 0); 0 when it cannot be told */
} text_theme_stat;

/* Volume, sentiment and impact on NPS of every theme over n verbatims:
 * themes[i] (text_themes_of), scores[i] (text_sentiment.score) and
 * ratings[i] (the 0..10 likelihood-to-recommend answer, or -1 when there is
 * none). out must hold text_theme_count(m) entries. NPS = % promoters
 * (9-10) - % detractors (0-6). CX_EINVAL on a NULL array with n > 0 or a
 * rating outside -1..10. */
cx_err text_theme_stats(const text_model *m, const uint64_t *themes, const double *scores,
                        const int *ratings, size_t n, text_theme_stat *out);

#endif
