/* bayes.c - the learnt half of the sentiment score: a naive Bayes model
 * (Bernoulli-style presence features, Laplace smoothing) trained in
 * text_open on VADER's ground truth (lib/text/data/gt_*.txt, the same
 * sentences bench/text_dev.c evaluates out of fold), read by
 * text_sentiment_of. docs/internals/text.md says how the two halves meet.
 *
 * Features of a text (as in Wang & Manning's NBSVM baselines and Pang et
 * al. 2002): its ASCII letters lower-cased, words are runs of [a-z'] (’ read
 * as '), each of . , ! ? ; : is a token of its own, any other byte
 * separates. A word after a negation ("not", "no", "never", "cannot",
 * "nothing", "nor", "hardly", "dont" and every word ending in "n't") and
 * before the next punctuation token is marked NOT_. The features are the
 * tokens and the pairs of consecutive tokens, each counted once per text.
 *
 * Training: the ground-truth texts whose mean human rating is at least 0.5
 * away from 0, positive or negative by its sign (6,417 of 7,908). The
 * table holds, per feature seen in training, its log-odds
 * log P(f | positive) - log P(f | negative) with P(f | c) = (texts of class
 * c with f + 1) / (texts of class c + 2). A text's log-odds is the sum over
 * its distinct features in the table, without the prior (the two classes
 * weigh the same); a text without a letter gets 0. A feature is known by
 * its 64-bit hash alone (no key is kept: ~67,000 features, so a collision
 * is a 1-in-10^9 event and a false match per lookup 1-in-10^14).
 *
 * Cost: text_open trains in ~12 ms (~200,000 feature occurrences counted
 * in a hash table), the table takes 2 MB; scoring adds ~1.3 us per
 * verbatim (the slots are prefetched while the features are hashed, then
 * read). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../base/mem.h"
#include "text_int.h"

#define FNV_BASIS 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL
#define STACK_FEATURES 512

/* splitmix64's finaliser */
static uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static int is_letter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* An apostrophe at s[i]: ' or ’ (U+2019); its length in *len. */
static int is_apos(const char *s, size_t n, size_t i, size_t *len) {
  if (s[i] == '\'') return *len = 1, 1;
  if ((unsigned char)s[i] == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
      (unsigned char)s[i + 2] == 0x99)
    return *len = 3, 1;
  return 0;
}

/* The negations, lower case (and every word ending in n't). */
static int is_negation(const char *w, size_t n) {
  if (n >= 3 && w[n - 1] == 't' && w[n - 2] == '\'' && w[n - 3] == 'n') return 1;
  switch (n) {
  case 2: return !memcmp(w, "no", 2);
  case 3: return !memcmp(w, "not", 3) || !memcmp(w, "nor", 3);
  case 4: return !memcmp(w, "dont", 4);
  case 5: return !memcmp(w, "never", 5);
  case 6: return !memcmp(w, "cannot", 6) || !memcmp(w, "hardly", 6);
  case 7: return !memcmp(w, "nothing", 7);
  default: return 0;
  }
}

typedef struct {
  uint64_t *h;
  size_t n, cap;
  uint64_t stack[STACK_FEATURES];
} features;

static int add(features *f, uint64_t h) {
  if (f->n == f->cap) {
    size_t cap = f->cap * 2;
    uint64_t *p = f->h == f->stack ? cx_malloc(cap * sizeof *p) : cx_realloc(f->h, cap * sizeof *p);
    if (!p) return -1;
    if (f->h == f->stack) memcpy(p, f->stack, f->n * sizeof *p);
    f->h = p;
    f->cap = cap;
  }
  f->h[f->n++] = h;
  return 0;
}

/* Drops the repeats of f's values (never 0), keeping the first of each, in
 * time linear in their number (a set on the stack, or on the heap when
 * long). -1 when out of memory. */
static int unique(features *f) {
  uint64_t stack[2 * STACK_FEATURES], *set = stack;
  size_t cap = 16;
  while (cap < 2 * f->n) cap *= 2;
  if (cap > sizeof stack / sizeof stack[0]) {
    if (!(set = cx_calloc(cap, sizeof *set))) return -1;
  } else {
    memset(set, 0, cap * sizeof *set);
  }
  size_t o = 0;
  for (size_t i = 0; i < f->n; i++) {
    uint64_t x = f->h[i];
    size_t j = (size_t)(mix(x) & (cap - 1));
    while (set[j] && set[j] != x) j = (j + 1) & (cap - 1);
    if (set[j]) continue;
    set[j] = x;
    f->h[o++] = x;
  }
  f->n = o;
  if (set != stack) cx_free(set);
  return 0;
}

static const text_nb_feature *find(const text_model *m, uint64_t h) {
  for (size_t i = h & m->nb_mask;; i = (i + 1) & m->nb_mask) {
    const text_nb_feature *e = &m->nb[i];
    if (e->hash == h) return e;
    if (!e->hash) return NULL;
  }
}

/* The features of s[0..n) into f, repeats included (with m, their slots
 * in m's table are fetched into the cache); *words: the words with a
 * letter. -1 when out of memory. A feature is a 64-bit hash, never 0: a
 * token's is FNV-1a over its lower-case bytes (as text_hash), mixed again
 * when it carries NOT_; a pair's mixes the two tokens' (a pair that would
 * hash to 0 is left out). */
static int extract(const text_model *m, const char *s, size_t n, features *f, size_t *words) {
  uint64_t prev = 0;
  *words = 0;
  int negated = 0;
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    size_t al;
    uint64_t h = FNV_BASIS;
    if (is_letter(c) || is_apos(s, n, i, &al)) {
      char w[8]; /* the first bytes and the last three, for the negations */
      uint32_t tail = 0;
      size_t wn = 0;
      int letters = 0;
      while (i < n) {
        c = (unsigned char)s[i];
        if (is_letter(c)) {
          if (c <= 'Z') c = (unsigned char)(c + 32);
          letters = 1;
          i++;
        } else if (is_apos(s, n, i, &al)) {
          c = '\'';
          i += al;
        } else {
          break;
        }
        h = (h ^ c) * FNV_PRIME;
        if (wn < sizeof w) w[wn] = (char)c;
        wn++;
        tail = (tail << 8 | c) & 0xffffff;
      }
      h ^= h >> 29;
      *words += (size_t)letters;
      if (wn <= sizeof w ? is_negation(w, wn) : tail == ('n' << 16 | '\'' << 8 | 't'))
        negated = 1;
      else if (negated)
        h = mix(h ^ 0x5f544f4eULL); /* NOT_ */
    } else if (c < 0x80 && memchr(".,!?;:", c, 6)) {
      negated = 0;
      h = (h ^ c) * FNV_PRIME;
      h ^= h >> 29;
      i++;
    } else {
      i += c < 0x80 ? 1 : text_utf8_len(c);
      continue;
    }
    if (!h) h = 1;
    uint64_t pair = prev ? mix(prev * 0x9e3779b97f4a7c15ULL + h) : 0; /* none before the first */
    prev = h;
    if (m) { /* looked up once all are known: the loads overlap */
      __builtin_prefetch(&m->nb[h & m->nb_mask]);
      if (pair) __builtin_prefetch(&m->nb[pair & m->nb_mask]);
    }
    if (add(f, h) || (pair && add(f, pair))) return -1;
  }
  return 0;
}

cx_err text_bayes_of(const text_model *m, const char *s, size_t n, double *out) {
  features f = {.n = 0, .cap = STACK_FEATURES};
  f.h = f.stack;
  size_t words;
  if (extract(m, s, n, &f, &words) || unique(&f)) {
    if (f.h != f.stack) cx_free(f.h);
    return CX_ENOMEM;
  }
  double sum = 0; /* punctuation alone says nothing */
  for (size_t i = 0; i < f.n && words; i++) {
    const text_nb_feature *e = find(m, f.h[i]);
    if (e) sum += e->weight;
  }
  if (f.h != f.stack) cx_free(f.h);
  *out = sum;
  return CX_OK;
}

/* ---- training ---- */

typedef struct {
  uint64_t hash;     /* the feature (never 0); 0: empty slot */
  uint32_t count[2]; /* texts of each class with the feature */
} counted;

typedef struct {
  counted *slot;
  size_t mask, n;
} counts;

static int count_add(counts *c, uint64_t h, int cls) {
  if ((c->n + 1) * 10 > (c->mask + 1) * 7) { /* keep the load at most 70 % */
    size_t cap = (c->mask + 1) * 2;
    counted *s = cx_calloc(cap, sizeof *s);
    if (!s) return -1;
    for (size_t i = 0; i <= c->mask; i++) {
      if (!c->slot[i].hash) continue;
      size_t j = c->slot[i].hash & (cap - 1);
      while (s[j].hash) j = (j + 1) & (cap - 1);
      s[j] = c->slot[i];
    }
    cx_free(c->slot);
    c->slot = s;
    c->mask = cap - 1;
  }
  size_t i = h & c->mask;
  while (c->slot[i].hash && c->slot[i].hash != h) i = (i + 1) & c->mask;
  if (!c->slot[i].hash) {
    c->slot[i].hash = h;
    c->n++;
  }
  c->slot[i].count[cls]++;
  return 0;
}

unsigned text_fold_of(const char *s, size_t n, unsigned folds) {
  return folds ? (unsigned)(text_hash(s, n) % folds) : 0;
}

/* Counts the texts of one ground-truth file ("id<TAB>rating<TAB>text", CRLF
 * line ends) whose |rating| >= 0.5, leaving out fold `fold` of `folds`. */
static int count_file(const unsigned char *data, size_t len, unsigned fold, unsigned folds,
                      counts *c, size_t docs[2]) {
  const char *p = (const char *)data, *end = p + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *eol = nl ? nl : end;
    const char *next = nl ? nl + 1 : end;
    if (eol > p && eol[-1] == '\r') eol--;
    const char *t1 = memchr(p, '\t', (size_t)(eol - p));
    const char *t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(eol - t1 - 1)) : NULL;
    if (t2) {
      char num[32];
      size_t nn = (size_t)(t2 - t1 - 1);
      if (nn >= sizeof num) nn = sizeof num - 1;
      memcpy(num, t1 + 1, nn);
      num[nn] = 0;
      double r = strtod(num, NULL);
      const char *text = t2 + 1;
      size_t tn = (size_t)(eol - text);
      if (fabs(r) >= 0.5 && (!folds || text_fold_of(text, tn, folds) != fold)) {
        int cls = r > 0;
        features f = {.n = 0, .cap = STACK_FEATURES};
        f.h = f.stack;
        size_t words;
        int bad = extract(NULL, text, tn, &f, &words) || unique(&f);
        if (!bad) {
          for (size_t i = 0; i < f.n && !bad; i++) bad = count_add(c, f.h[i], cls);
        }
        if (f.h != f.stack) cx_free(f.h);
        if (bad) return -1;
        docs[cls]++;
      }
    }
    p = next;
  }
  return 0;
}

cx_err text_bayes_train(text_model *m, unsigned fold, unsigned folds) {
  counts c = {.mask = (1u << 17) - 1, .n = 0}; /* ~67,000 features: no growing */
  size_t docs[2] = {0, 0};
  cx_err rc = CX_ENOMEM;
  if (!(c.slot = cx_calloc(c.mask + 1, sizeof *c.slot))) return CX_ENOMEM;
  if (count_file(text_gt_amazon, text_gt_amazon_len, fold, folds, &c, docs) ||
      count_file(text_gt_tweets, text_gt_tweets_len, fold, folds, &c, docs))
    goto done;
  /* the table: a power of two at most 70 % full */
  size_t cap = 1024;
  while (c.n * 10 > cap * 7) cap *= 2;
  m->nb = cx_arena_alloc(&m->arena, cap * sizeof *m->nb);
  if (!m->nb) goto done;
  memset(m->nb, 0, cap * sizeof *m->nb);
  m->nb_mask = cap - 1;
  m->nb_n = c.n;
  double l1 = log((double)docs[1] + 2), l0 = log((double)docs[0] + 2);
  for (size_t i = 0; i <= c.mask; i++) {
    const counted *e = &c.slot[i];
    if (!e->hash) continue;
    size_t j = e->hash & m->nb_mask;
    while (m->nb[j].hash) j = (j + 1) & m->nb_mask;
    m->nb[j].hash = e->hash;
    m->nb[j].weight = (float)((log(e->count[1] + 1.0) - l1) - (log(e->count[0] + 1.0) - l0));
  }
  rc = CX_OK;
done:
  cx_free(c.slot);
  return rc;
}
