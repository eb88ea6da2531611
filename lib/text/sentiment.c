/* sentiment.c - text_sentiment_of: VADER's rules (Hutto & Gilbert, ICWSM
 * 2014, as in vaderSentiment 3.3) over VADER's lexicon, with cxm's
 * multi-word customer-service vocabulary matched first, AFINN-165 for the
 * words VADER's lexicon lacks, and "however", "although" and "though"
 * weighed like "but"; then the naive Bayes log-odds of bayes.c added to
 * VADER's compound. The differences from VADER are listed in
 * docs/internals/text.md. */
#include <math.h>
#include <string.h>
#include "../base/mem.h"
#include "../base/util.h"
#include "text_int.h"

#define N_SCALAR -0.74 /* a negated valence is multiplied by this */
#define C_INCR 0.733   /* an ALL-CAPS word among others that are not */
#define STACK_TOKENS 256

typedef struct {
  const char *p; /* the word as written, surrounding punctuation stripped */
  uint32_t len;
  const text_word *w; /* its entry in the word table, or NULL */
  uint8_t upper;      /* letters, all upper case */
  uint8_t negate;
  uint8_t clause_end; /* followed by , ; : . ! ? */
} token;

typedef struct {
  float valence, boost;
  uint8_t in_lex, booster, negate, special, upper, clause_end;
} item;

typedef struct {
  token *t;
  size_t n, cap;
  token stack[STACK_TOKENS];
} tokens;

static int push(tokens *ts, const token *t) {
  if (ts->n == ts->cap) {
    size_t cap = ts->cap * 2;
    token *p = ts->t == ts->stack ? cx_malloc(cap * sizeof *p) : cx_realloc(ts->t, cap * sizeof *p);
    if (!p) return -1;
    if (ts->t == ts->stack) memcpy(p, ts->stack, ts->n * sizeof *p);
    ts->t = p;
    ts->cap = cap;
  }
  ts->t[ts->n++] = *t;
  return 0;
}

static int has_nt(const char *s, size_t n) {
  for (size_t i = 0; i + 2 < n; i++)
    if ((s[i] == 'n' || s[i] == 'N') && s[i + 1] == '\'' && (s[i + 2] == 't' || s[i + 2] == 'T'))
      return 1;
  for (size_t i = 0; i + 4 < n; i++) /* n’t */
    if ((s[i] == 'n' || s[i] == 'N') && !memcmp(s + i + 1, "\xE2\x80\x99", 3) &&
        (s[i + 4] == 't' || s[i + 4] == 'T'))
      return 1;
  return 0;
}

static int all_upper(const char *s, size_t n) {
  int upper = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] >= 'a' && s[i] <= 'z') return 0;
    if (s[i] >= 'A' && s[i] <= 'Z') upper = 1;
  }
  return upper;
}

/* Adds the whitespace-free chunk s[0..n) as a token: as a whole when it is
 * a sentiment word (":)", ":-("), otherwise without the punctuation around
 * it; pure punctuation is no token. */
static int add_token(const text_model *m, tokens *ts, const char *s, size_t n) {
  char low[TEXT_WORD_MAX + 1];
  token t = {.p = s, .len = (uint32_t)n};
  size_t ln = text_lower(s, n, low, sizeof low);
  t.w = ln != (size_t)-1 ? text_word_find(m, low, ln) : NULL;
  if (!t.w || !(t.w->flags & TW_LEX)) {
    size_t a = 0, b = n;
    while (a < b && text_is_punct((unsigned char)s[a])) a++;
    while (b > a && text_is_punct((unsigned char)s[b - 1])) b--;
    if (a == b) {
      for (size_t k = 0; k < n; k++)
        if (memchr(",;:.!?", s[k], 6) && ts->n) ts->t[ts->n - 1].clause_end = 1;
      return 0;
    }
    for (size_t k = b; k < n; k++) t.clause_end |= memchr(",;:.!?", s[k], 6) != NULL;
    if (a || b != n) {
      t.p = s + a;
      t.len = (uint32_t)(b - a);
      ln = text_lower(t.p, t.len, low, sizeof low);
      t.w = ln != (size_t)-1 ? text_word_find(m, low, ln) : NULL;
    }
  }
  t.upper = (uint8_t)all_upper(t.p, t.len);
  t.negate = (uint8_t)((t.w && (t.w->flags & TW_NEGATE)) || has_nt(t.p, t.len));
  return push(ts, &t);
}

/* The words of text, emoji replaced by VADER's description of them. */
static int tokenize(const text_model *m, const char *s, size_t n, tokens *ts) {
  size_t i = 0;
  while (i < n) {
    while (i < n && text_is_space((unsigned char)s[i])) i++;
    size_t start = i;
    while (i < n && !text_is_space((unsigned char)s[i])) {
      unsigned char c = (unsigned char)s[i];
      if (c < 0x80) {
        i++;
        continue;
      }
      /* the longest emoji that starts here, at code point boundaries */
      size_t ends[16], ne = 0, j = i;
      while (j < n && ne < 16 && j - i < m->emoji_max_len && (unsigned char)s[j] >= 0x80) {
        j += text_utf8_len((unsigned char)s[j]);
        if (j > n) break;
        ends[ne++] = j;
      }
      const text_emoji *e = NULL;
      while (ne && !e) {
        ne--;
        e = text_emoji_find(m, s + i, ends[ne] - i);
      }
      if (!e) {
        i += text_utf8_len(c);
        continue;
      }
      if (i > start && add_token(m, ts, s + start, i - start)) return -1;
      for (size_t k = 0; k < e->desc_len;) {
        while (k < e->desc_len && e->desc[k] == ' ') k++;
        size_t ws = k;
        while (k < e->desc_len && e->desc[k] != ' ') k++;
        if (k > ws && add_token(m, ts, e->desc + ws, k - ws)) return -1;
      }
      i = ends[ne];
      /* emoji presentation selectors (U+FE0E, U+FE0F) belong to the emoji */
      while (i + 3 <= n && !memcmp(s + i, "\xEF\xB8", 2) &&
             ((unsigned char)s[i + 2] == 0x8E || (unsigned char)s[i + 2] == 0x8F))
        i += 3;
      start = i;
    }
    if (i > start && add_token(m, ts, s + start, i - start)) return -1;
  }
  return 0;
}

static int word_is(const token *t, const char *w, size_t wn) {
  if (wn == 1 && w[0] == '*') return 1;
  char low[TEXT_WORD_MAX + 1];
  size_t ln = text_lower(t->p, t->len, low, sizeof low);
  return ln == wn && !memcmp(low, w, wn);
}

/* The multi-word expression that starts at token i, longest first. */
static const text_mwe *match_mwe(const text_model *m, const token *t, size_t nt, size_t i) {
  const text_word *w = t[i].w;
  if (!w || !w->mwe_n) return NULL;
  for (size_t k = w->mwe_first; k < w->mwe_first + w->mwe_n; k++) {
    const text_mwe *e = &m->mwes[k];
    if (i + e->n > nt) continue;
    size_t j = 1;
    while (j < e->n && word_is(&t[i + j], e->word[j], e->len[j])) j++;
    if (j == e->n) return e;
  }
  return NULL;
}

static size_t build_items(const text_model *m, const token *t, size_t nt, item *it) {
  size_t ni = 0;
  for (size_t i = 0; i < nt;) {
    item x = {0};
    const text_mwe *e = match_mwe(m, t, nt, i);
    if (e) {
      x.upper = 1;
      for (size_t j = 0; j < e->n; j++) x.upper &= t[i + j].upper;
      if (e->boost) {
        x.booster = 1;
        x.boost = e->weight;
      } else {
        x.in_lex = 1;
        x.valence = e->weight;
      }
      x.clause_end = t[i + e->n - 1].clause_end;
      i += e->n;
    } else {
      const text_word *w = t[i].w;
      x.upper = t[i].upper;
      x.negate = t[i].negate;
      x.clause_end = t[i].clause_end;
      if (w) {
        x.special = w->special;
        x.booster = (w->flags & TW_BOOST) != 0;
        x.boost = w->boost;
        x.in_lex = (w->flags & TW_LEX) != 0;
        x.valence = w->valence;
      }
      i++;
    }
    it[ni++] = x;
  }
  return ni;
}

static double scalar_inc_dec(const item *b, double valence, int cap_diff) {
  if (!b->booster) return 0;
  double scalar = b->boost;
  if (valence < 0) scalar = -scalar;
  if (b->upper && cap_diff) scalar += valence > 0 ? C_INCR : -C_INCR;
  return scalar;
}

static int is(const item *x, int special) { return x->special == special; }
static int so_or_this(const item *x) { return is(x, TS_SO) || is(x, TS_THIS); }

static double negation_check(double v, const item *it, size_t start_i, size_t i) {
  if (start_i == 0) {
    if (it[i - 1].negate) v *= N_SCALAR;
  } else if (start_i == 1) {
    if (is(&it[i - 2], TS_NEVER) && so_or_this(&it[i - 1])) v *= 1.25;
    else if (is(&it[i - 2], TS_WITHOUT) && is(&it[i - 1], TS_DOUBT)) {
    } else if (it[i - 2].negate) v *= N_SCALAR;
  } else {
    /* as VADER 3.3 has it: "so"/"this" right before the word also counts */
    if ((is(&it[i - 3], TS_NEVER) && so_or_this(&it[i - 2])) || so_or_this(&it[i - 1])) v *= 1.25;
    else if (is(&it[i - 3], TS_WITHOUT) && (is(&it[i - 2], TS_DOUBT) || is(&it[i - 1], TS_DOUBT))) {
    } else if (it[i - 3].negate) v *= N_SCALAR;
  }
  return v;
}

static double valence_of(const item *it, size_t ni, size_t i, int cap_diff) {
  const item *x = &it[i];
  if (x->booster || !x->in_lex) return 0;
  double v = x->valence;
  if (is(x, TS_NO) && i + 1 < ni && it[i + 1].in_lex) v = 0; /* "no" negates what follows */
  if ((i > 0 && is(&it[i - 1], TS_NO)) || (i > 1 && is(&it[i - 2], TS_NO)) ||
      (i > 2 && is(&it[i - 3], TS_NO) && (is(&it[i - 1], TS_OR) || is(&it[i - 1], TS_NOR))))
    v = x->valence * N_SCALAR;
  if (x->upper && cap_diff) v += v > 0 ? C_INCR : -C_INCR;
  for (size_t start_i = 0; start_i < 3; start_i++) {
    if (i <= start_i || it[i - (start_i + 1)].in_lex) continue;
    double s = scalar_inc_dec(&it[i - (start_i + 1)], v, cap_diff);
    if (start_i == 1) s *= 0.95;
    if (start_i == 2) s *= 0.9;
    v += s;
    v = negation_check(v, it, start_i, i);
  }
  /* "least": "the least helpful" is negative, "at least helpful" is not */
  if (i > 1 && !it[i - 1].in_lex && is(&it[i - 1], TS_LEAST)) {
    if (!is(&it[i - 2], TS_AT) && !is(&it[i - 2], TS_VERY)) v *= N_SCALAR;
  } else if (i > 0 && !it[i - 1].in_lex && is(&it[i - 1], TS_LEAST)) {
    v *= N_SCALAR;
  }
  return v;
}

static double punctuation_emphasis(const char *s, size_t n) {
  size_t ep = 0, qm = 0;
  for (size_t i = 0; i < n; i++) {
    ep += s[i] == '!';
    qm += s[i] == '?';
  }
  double amp = (double)(ep > 4 ? 4 : ep) * 0.292;
  if (qm > 1) amp += qm <= 3 ? (double)qm * 0.18 : 0.96;
  return amp;
}

/* VADER's sum of valences of s[0..n), emphasis included. */
static cx_err lexicon_sum(const text_model *m, const char *s, size_t n, double *out) {
  tokens ts = {.t = NULL, .n = 0, .cap = STACK_TOKENS};
  ts.t = ts.stack;
  item stack_items[STACK_TOKENS], *it = stack_items;
  cx_err rc = CX_ENOMEM;
  if (tokenize(m, s, n, &ts)) goto done;
  if (ts.n > STACK_TOKENS && !(it = cx_malloc(ts.n * sizeof *it))) goto done;
  size_t ni = build_items(m, ts.t, ts.n, it);
  size_t upper = 0;
  for (size_t i = 0; i < ni; i++) upper += it[i].upper;
  int cap_diff = upper > 0 && upper < ni;
  double sum = 0;
  size_t but = ni, al_end = ni;
  for (size_t i = 0; i < ni && but == ni; i++)
    if (is(&it[i], TS_BUT) || is(&it[i], TS_ALTHOUGH)) but = i;
  if (but < ni && is(&it[but], TS_ALTHOUGH)) {
    al_end = but;
    while (al_end < ni && !it[al_end].clause_end) al_end++;
  }
  for (size_t i = 0; i < ni; i++) {
    double v = valence_of(it, ni, i, cap_diff);
    if (but < ni && !is(&it[but], TS_ALTHOUGH))
      v *= i < but ? 0.5 : i > but ? 1.5 : 1; /* the clause after "but" weighs more */
    else if (but < ni) /* the clause of "although" weighs less, the rest more */
      v *= i > but && i <= al_end ? 0.5 : i != but ? 1.5 : 1;
    sum += v;
  }
  if (sum > 0) sum += punctuation_emphasis(s, n);
  else if (sum < 0) sum -= punctuation_emphasis(s, n);
  *out = sum;
  rc = CX_OK;
done:
  if (it != stack_items) cx_free(it);
  if (ts.t != ts.stack) cx_free(ts.t);
  return rc;
}

cx_err text_sentiment_parts(const text_model *m, const char *s, size_t n, text_parts *out) {
  if (!m || !out || (!s && n)) return CX_EINVAL;
  if (n > TEXT_MAX_INPUT) return CX_ETOOBIG;
  if (n && !cx_utf8_valid(s, n)) return CX_EINVAL;
  text_parts p;
  cx_err rc = lexicon_sum(m, s, n, &p.sum);
  if (!rc) rc = text_bayes_of(m, s, n, &p.bayes);
  if (rc) return rc;
  p.compound = p.sum / sqrt(p.sum * p.sum + 15);
  *out = p;
  return CX_OK;
}

double text_combine(const text_parts *p) {
  double z = p->compound + TEXT_BAYES_WEIGHT * p->bayes;
  double score = z / sqrt(z * z + TEXT_COMBINED_ALPHA);
  return score < -1 ? -1 : score > 1 ? 1 : score;
}

cx_err text_sentiment_of(const text_model *m, const char *s, size_t n, text_sentiment *out) {
  text_parts p;
  cx_err rc = text_sentiment_parts(m, s, n, &p);
  if (rc) return rc;
  double score = round(text_combine(&p) * 10000) / 10000;
  out->score = score;
  out->label = score >= TEXT_THRESHOLD ? TEXT_POSITIVE : score <= -TEXT_THRESHOLD ? TEXT_NEGATIVE
                                                                                 : TEXT_NEUTRAL;
  return CX_OK;
}
