/* themes.c - themes and key phrases of a verbatim, and theme statistics
 * over many. Words are stemmed with libstemmer's English (Snowball)
 * stemmer, one per thread (text_stemmer). */
#include <libstemmer.h>
#include <math.h>
#include <string.h>
#include "../base/util.h"
#include "text_int.h"

/* The code point at s[i] (valid UTF-8) and its length. */
static uint32_t code_point(const char *s, size_t n, size_t i, size_t *len) {
  unsigned char c = (unsigned char)s[i];
  size_t l = text_utf8_len(c);
  if (i + l > n) l = 1;
  *len = l;
  if (l == 1) return c;
  uint32_t cp = c & (0xFF >> (l + 1));
  for (size_t k = 1; k < l; k++) cp = (cp << 6) | ((unsigned char)s[i + k] & 0x3F);
  return cp;
}

/* Letters and digits: ASCII, the alphabets below U+2000 and the CJK and
 * Hangul blocks. Everything else (punctuation, symbols, emoji) separates. */
static int word_cp(uint32_t cp) {
  if (cp < 0x80)
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
  return (cp >= 0xC0 && cp < 0x2000 && cp != 0xD7 && cp != 0xF7) ||
         (cp >= 0x3040 && cp < 0xA000) || (cp >= 0xAC00 && cp < 0xD7B0);
}

typedef struct {
  size_t start, end; /* the word in the input */
  int broken;        /* punctuation (not only spaces) came before it */
} word_span;

/* The next word at or after *pos; 0 at the end. Apostrophes and hyphens
 * between letters belong to the word ("don't", "e-mail"). */
static int next_word(const char *s, size_t n, size_t *pos, word_span *w) {
  size_t i = *pos, len;
  w->broken = 0;
  while (i < n) {
    uint32_t cp = code_point(s, n, i, &len);
    if (word_cp(cp)) break;
    if (!text_is_space((unsigned char)s[i])) w->broken = 1;
    i += len;
  }
  if (i >= n) return 0;
  w->start = i;
  while (i < n) {
    uint32_t cp = code_point(s, n, i, &len);
    if (word_cp(cp)) {
      i += len;
      continue;
    }
    if ((cp == '\'' || cp == 0x2019 || cp == '-') && i + len < n) {
      size_t l2;
      if (word_cp(code_point(s, n, i + len, &l2))) {
        i += len;
        continue;
      }
    }
    break;
  }
  w->end = i;
  *pos = i;
  return 1;
}

static int valid_input(const text_model *m, const char *s, size_t n) {
  return m && n && s && n <= TEXT_MAX_INPUT && cx_utf8_valid(s, n);
}

/* The stem of the lower-case word low[0..ln) into out; its length, or 0. */
static size_t stem(struct sb_stemmer *st, const char *low, size_t ln, char *out, size_t cap) {
  const sb_symbol *r = sb_stemmer_stem(st, (const sb_symbol *)low, (int)ln);
  if (!r) return 0;
  size_t sn = (size_t)sb_stemmer_length(st);
  if (sn == 0 || sn >= cap) return 0;
  memcpy(out, r, sn);
  out[sn] = 0;
  return sn;
}

#define GRAM 4 /* longest theme phrase looked for, in words */

uint64_t text_themes_of(const text_model *m, const char *s, size_t n) {
  if (!valid_input(m, s, n)) return 0;
  struct sb_stemmer *st = text_stemmer();
  if (!st) return 0;
  size_t maxw = m->theme_max_words < GRAM ? m->theme_max_words : GRAM;
  char stems[GRAM][TEXT_WORD_MAX + 1];
  size_t slen[GRAM], have = 0, pos = 0;
  uint64_t themes = 0;
  word_span w;
  while (next_word(s, n, &pos, &w)) {
    char low[TEXT_WORD_MAX + 1];
    size_t ln = text_lower(s + w.start, w.end - w.start, low, sizeof low);
    if (w.broken) have = 0;
    if (ln == (size_t)-1) {
      have = 0;
      continue;
    }
    memmove(stems[1], stems[0], (GRAM - 1) * sizeof stems[0]);
    memmove(slen + 1, slen, (GRAM - 1) * sizeof slen[0]);
    slen[0] = stem(st, low, ln, stems[0], sizeof stems[0]);
    if (!slen[0]) {
      have = 0;
      continue;
    }
    if (have < GRAM) have++;
    /* the n-grams that end at this word: stems[k-1] ... stems[0] */
    char key[GRAM * (TEXT_WORD_MAX + 1)];
    for (size_t k = 1; k <= have && k <= maxw; k++) {
      size_t kn = 0;
      for (size_t j = k; j-- > 0;) {
        if (kn) key[kn++] = ' ';
        memcpy(key + kn, stems[j], slen[j]);
        kn += slen[j];
      }
      themes |= text_theme_key_find(m, key, kn);
    }
  }
  return themes;
}

/* 1 when a word ends a key phrase instead of being part of it. */
static int boundary(const text_model *m, const char *low, size_t ln) {
  if (ln < 2) return 1;
  size_t digits = 0;
  for (size_t i = 0; i < ln; i++) digits += low[i] >= '0' && low[i] <= '9';
  if (digits == ln) return 1;
  const text_word *w = text_word_find(m, low, ln);
  if (!w) return 0;
  if (w->flags & (TW_STOP | TW_BOOST | TW_NEGATE)) return 1;
  return (w->flags & TW_LEX) && !(w->flags & TW_SERVICE) && fabsf(w->valence) >= 1.0f;
}

#define PHRASE_WORDS 3

typedef struct {
  size_t start, end;
  char stem[TEXT_WORD_MAX + 1];
  size_t slen;
} phrase_word;

/* Writes the phrase of words p[0..k) into out, shortened by whole words
 * until it fits; 0 when even one word does not. */
static int phrase_make(const char *s, const phrase_word *p, size_t k, text_phrase *out) {
  for (; k > 0; k--) {
    size_t kn = 0, sn = 0, ok = 1;
    for (size_t j = 0; j < k && ok; j++) {
      size_t wl = p[j].end - p[j].start;
      if (kn + (j > 0) + p[j].slen >= sizeof out->key) ok = 0;
      else if (sn + (j > 0) + wl >= sizeof out->shown) ok = 0;
      if (!ok) break;
      if (j) out->key[kn++] = ' ', out->shown[sn++] = ' ';
      memcpy(out->key + kn, p[j].stem, p[j].slen);
      kn += p[j].slen;
      size_t l = text_lower(s + p[j].start, wl, out->shown + sn, sizeof out->shown - sn);
      if (l == (size_t)-1) ok = 0;
      else sn += l;
    }
    if (ok) {
      out->key[kn] = 0;
      out->shown[sn] = 0;
      return 1;
    }
  }
  return 0;
}

size_t text_phrases_of(const text_model *m, const char *s, size_t n, text_phrase *out,
                       size_t max) {
  if (!out || !max || !valid_input(m, s, n)) return 0;
  struct sb_stemmer *st = text_stemmer();
  if (!st) return 0;
  phrase_word run[PHRASE_WORDS];
  size_t nrun = 0, got = 0, pos = 0;
  word_span w;
  int more = 1;
  while (more && got < max) {
    more = next_word(s, n, &pos, &w);
    char low[TEXT_WORD_MAX + 1];
    size_t ln = more ? text_lower(s + w.start, w.end - w.start, low, sizeof low) : 0;
    int content = more && ln != (size_t)-1 && !boundary(m, low, ln);
    phrase_word pw = {0};
    if (content) {
      pw.start = w.start;
      pw.end = w.end;
      pw.slen = stem(st, low, ln, pw.stem, sizeof pw.stem);
      content = pw.slen > 0;
    }
    /* a phrase ends at a boundary word, punctuation, the end, or 3 words */
    if (nrun && (!content || w.broken || nrun == PHRASE_WORDS)) {
      text_phrase ph;
      memset(&ph, 0, sizeof ph); /* the bytes after the NULs too: out is the same each time */
      if (phrase_make(s, run, nrun, &ph)) {
        size_t k = 0;
        while (k < got && strcmp(out[k].key, ph.key)) k++;
        if (k == got) out[got++] = ph;
      }
      nrun = 0;
    }
    if (content && got < max) run[nrun++] = pw;
  }
  return got;
}

static double nps(size_t promoters, size_t detractors, size_t rated) {
  return rated ? 100.0 * ((double)promoters - (double)detractors) / (double)rated : NAN;
}

cx_err text_theme_stats(const text_model *m, const uint64_t *themes, const double *scores,
                        const int *ratings, size_t n, text_theme_stat *out) {
  if (!m || !out || (n && (!themes || !scores || !ratings))) return CX_EINVAL;
  size_t nt = m->n_themes;
  size_t pro[TEXT_MAX_THEMES] = {0}, det[TEXT_MAX_THEMES] = {0};
  size_t all_pro = 0, all_det = 0, all_rated = 0;
  for (size_t i = 0; i < n; i++)
    if (ratings[i] < -1 || ratings[i] > 10) return CX_EINVAL;
  for (size_t t = 0; t < nt; t++) out[t] = (text_theme_stat){0};
  for (size_t i = 0; i < n; i++) {
    int r = ratings[i];
    if (r >= 0) {
      all_rated++;
      all_pro += r >= 9;
      all_det += r <= 6;
    }
    for (size_t t = 0; t < nt; t++) {
      if (!(themes[i] >> t & 1)) continue;
      out[t].volume++;
      out[t].sentiment += scores[i];
      if (r >= 0) {
        out[t].rated++;
        pro[t] += r >= 9;
        det[t] += r <= 6;
      }
    }
  }
  double all = nps(all_pro, all_det, all_rated);
  for (size_t t = 0; t < nt; t++) {
    if (out[t].volume) out[t].sentiment /= (double)out[t].volume;
    out[t].nps_without = nps(all_pro - pro[t], all_det - det[t], all_rated - out[t].rated);
    out[t].nps_impact =
        out[t].rated && !isnan(out[t].nps_without) ? all - out[t].nps_without : 0;
  }
  return CX_OK;
}
