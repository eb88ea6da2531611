/* text_int.h - lib/text's private header: the model's tables, shared by
 * model.c (building), sentiment.c and themes.c (reading). */
#ifndef CX_TEXT_INT_H
#define CX_TEXT_INT_H
#include <stddef.h>
#include <stdint.h>
#include "../base/arena.h"
#include "text.h"

/* The generated build/text_data.c (tools/bin2c.c over lib/text/data/). */
extern const unsigned char text_vader_lexicon[];
extern const size_t text_vader_lexicon_len;
extern const unsigned char text_emoji_lexicon[];
extern const size_t text_emoji_lexicon_len;
extern const unsigned char text_afinn_lexicon[];
extern const size_t text_afinn_lexicon_len;
/* VADER's ground truth (the naive Bayes half of the score learns from it) */
extern const unsigned char text_gt_amazon[];
extern const size_t text_gt_amazon_len;
extern const unsigned char text_gt_tweets[];
extern const size_t text_gt_tweets_len;

typedef struct {
  const char *text;
  double weight;
} text_weighted;
typedef struct {
  const char *name, *words;
} text_theme_def;

extern const text_weighted text_boosters[];
extern const char *const text_negations[];
extern const text_weighted text_phrases[];
extern const char *const text_stop_words[];
extern const text_theme_def text_theme_defs[];

#define TEXT_WORD_MAX 48   /* longer words are never in a table */
#define TEXT_PHRASE_MAX 6  /* words of a multi-word expression */

/* Words that VADER's rules name. */
enum {
  TS_NONE = 0, TS_NO, TS_NEVER, TS_SO, TS_THIS, TS_WITHOUT, TS_DOUBT, TS_LEAST, TS_AT,
  TS_VERY, TS_OR, TS_NOR, TS_BUT, TS_KIND, TS_OF, TS_ALTHOUGH
};

enum {
  TW_LEX = 1,     /* has a sentiment valence */
  TW_BOOST = 2,   /* intensifier or dampener (boost) */
  TW_NEGATE = 4,  /* a negation */
  TW_STOP = 8,    /* a stop word */
  TW_SERVICE = 16, /* valence from cxm's service vocabulary */
  TW_LOWER = 32    /* building: VADER's entry was written in lower case */
};

/* A multi-word expression (or a booster of several words). */
typedef struct {
  uint8_t n;                           /* words */
  uint8_t boost;                       /* 1: a booster ("kind of"), 0: a valence */
  uint8_t len[TEXT_PHRASE_MAX];
  const char *word[TEXT_PHRASE_MAX];   /* lower case; "*" is any word */
  float weight;                        /* valence or booster scalar */
} text_mwe;

/* One entry of the word table: lower-case bytes of a word. */
typedef struct {
  const char *key;   /* NULL: empty slot */
  uint64_t hash;
  uint32_t len;
  uint16_t flags;    /* TW_* */
  uint8_t special;   /* TS_* */
  float valence;     /* with TW_LEX */
  float boost;       /* with TW_BOOST */
  uint32_t mwe_first, mwe_n; /* expressions that start with this word, longest first */
} text_word;

typedef struct {
  const char *key; /* UTF-8 of the emoji; NULL: empty slot */
  uint64_t hash;
  uint32_t len, desc_len;
  const char *desc; /* VADER's description ("grinning face") */
} text_emoji;

typedef struct {
  const char *key; /* stems joined by one space; NULL: empty slot */
  uint64_t hash;
  uint32_t len;
  uint64_t themes;
} text_theme_key;

/* One feature of the naive Bayes table (bayes.c). */
typedef struct {
  uint64_t hash; /* the feature's text_hash-style hash; 0: empty slot */
  float weight;  /* its log-odds, positive over negative */
} text_nb_feature;

struct text_model {
  cx_arena arena;         /* every string and table below */
  text_word *words;
  size_t words_mask;      /* capacity - 1 (a power of two) */
  text_mwe *mwes;
  size_t n_mwes;
  text_emoji *emojis;
  size_t emojis_mask;
  size_t emoji_max_len;   /* bytes of the longest emoji key */
  text_theme_key *theme_keys;
  size_t theme_keys_mask;
  size_t theme_max_words; /* words of the longest theme phrase */
  size_t n_themes;
  const char *theme_names[TEXT_MAX_THEMES];
  text_nb_feature *nb;    /* the naive Bayes table */
  size_t nb_mask;         /* capacity - 1 (a power of two) */
  size_t nb_n;            /* features in it */
};

uint64_t text_hash(const char *s, size_t n);
/* The table entry of the lower-case word s[0..n), or NULL. */
const text_word *text_word_find(const text_model *m, const char *s, size_t n);
const text_emoji *text_emoji_find(const text_model *m, const char *s, size_t n);
uint64_t text_theme_key_find(const text_model *m, const char *s, size_t n);

/* ---- the two halves of a score ---- */

typedef struct {
  double sum;      /* VADER's rules: the sum of the valences, with emphasis */
  double compound; /* VADER's compound: sum / sqrt(sum^2 + 15), not rounded */
  double bayes;    /* the naive Bayes log-odds of the text (0: no known feature) */
} text_parts;

/* The score is z / sqrt(z^2 + TEXT_COMBINED_ALPHA) with z = VADER's compound +
 * TEXT_BAYES_WEIGHT x the naive Bayes log-odds. The weight was chosen by 5-fold
 * cross-validation on VADER's ground truth (bench/text_dev.c's "grid":
 * 0.05 gave the best binary accuracy of 0, 0.01 ... 0.5); alpha 1 keeps the
 * label thresholds at about z = +-0.05 (on dev, alpha 0.25 ... 4 moved the
 * binary accuracy by less than 0.004). */
#define TEXT_BAYES_WEIGHT 0.05
#define TEXT_COMBINED_ALPHA 1.0

/* Both halves of the score of s[0..n); the checks and errors of
 * text_sentiment_of. text_sentiment_of combines them (text_combine). */
cx_err text_sentiment_parts(const text_model *m, const char *s, size_t n, text_parts *out);
/* The score in [-1, 1] (not rounded) of the two halves. */
double text_combine(const text_parts *p);
/* The naive Bayes log-odds of s[0..n) (bayes.c); CX_ENOMEM. */
cx_err text_bayes_of(const text_model *m, const char *s, size_t n, double *out);
/* Trains m's naive Bayes table on the embedded ground truth, leaving out the
 * texts with text_fold_of(text, folds) == fold; folds 0: on all of it. */
cx_err text_bayes_train(text_model *m, unsigned fold, unsigned folds);
/* The fold (0..folds-1) of a ground-truth text, by the hash of its bytes. */
unsigned text_fold_of(const char *s, size_t n, unsigned folds);
/* text_open, with the naive Bayes half trained without fold `fold` of
 * `folds` (folds 0: the whole ground truth, as text_open): for the
 * out-of-fold figures of bench/text_dev.c and bench/text_bench.c. */
cx_err text_open_fold(text_model **out, unsigned fold, unsigned folds);

/* Lower-cases the ASCII letters of s[0..n) into out (at most cap - 1 bytes,
 * NUL-terminated), writing the typographic apostrophe U+2019 as '. Returns
 * the length, or (size_t)-1 when it does not fit. */
size_t text_lower(const char *s, size_t n, char *out, size_t cap);
int text_is_space(unsigned char c);
int text_is_punct(unsigned char c); /* ASCII punctuation (Python's string.punctuation) */
/* Bytes of the UTF-8 sequence that starts with c (1 for ASCII and for
 * continuation bytes, which valid input never starts with). */
size_t text_utf8_len(unsigned char c);

/* The calling thread's English stemmer, created on first use; NULL when out
 * of memory. */
struct sb_stemmer *text_stemmer(void);

#endif
