/* parse.c - the rules lexer, recursive-descent parser and compile-time
 * checks. The grammar, lowest precedence first:
 *
 *   or      = and { "||" and }
 *   and     = not { "&&" not }
 *   not     = "!" not | cmp
 *   cmp     = add [ ("==" | "!=" | "<" | "<=" | ">" | ">=" | "in") add ]
 *   add     = mul { ("+" | "-") mul }
 *   mul     = unary { ("*" | "/" | "%") unary }
 *   unary   = "-" unary | primary
 *   primary = number | duration | string | true | false | null | list
 *           | "(" or ")" | path | now | first_seen | last_seen
 *           | name "(" [ or { "," or } ] ")"
 *
 * Comparisons do not chain. The first error stops the parse; it is the one
 * reported, with its byte position. */
#include "rules_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const rules_op_text[] = {"==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%"};
const char *const rules_root_name[] = {"traits", "event", "customer", "response", "answers"};
const char *const rules_fn_name[] = {[F_COUNT] = "count",       [F_SUM] = "sum",
                                     [F_DAYS_SINCE] = "days_since", [F_HAS] = "has",
                                     [F_LOWER] = "lower",       [F_CONTAINS] = "contains",
                                     [F_STARTS_WITH] = "starts_with", [F_ENDS_WITH] = "ends_with"};

#define M(t) (1u << (t))
#define M_ANY 0x7Fu

typedef enum {
  T_END, T_NUM, T_DUR, T_STR, T_IDENT, T_IN, T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK,
  T_COMMA, T_DOT, T_NOT, T_AND, T_OR, T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE,
  T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PERCENT
} tok_kind;

typedef struct {
  tok_kind kind;
  size_t pos, len; /* source bytes */
  double num;
  int64_t ms;
  const char *str; /* T_STR: decoded, in the pool; T_IDENT: src + pos */
  size_t slen;
} token;

typedef struct {
  const char *src;
  size_t n, at;
  token tok;
  rules_expr *e;
  rules_error *err;
  cx_err rc; /* CX_OK until the first error */
  int depth;
} parser;

/* ---- errors ---- */

/* Cuts s (NUL-terminated) so that it does not end inside a UTF-8 sequence. */
static void trim_utf8(char *s) {
  size_t n = strlen(s), k = n;
  while (k > 0 && ((unsigned char)s[k - 1] & 0xC0) == 0x80) k--;
  if (k == 0) return;
  unsigned char c = (unsigned char)s[k - 1];
  size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  if (n - (k - 1) < need) s[k - 1] = 0;
}

static void fail(parser *p, cx_err rc, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(parser *p, cx_err rc, size_t pos, const char *fmt, ...) {
  if (p->rc) return;
  p->rc = rc;
  p->err->pos = pos;
  int k = snprintf(p->err->message, sizeof p->err->message, "at %zu: ", pos);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err->message + k, sizeof p->err->message - (size_t)k, fmt, ap);
  va_end(ap);
  trim_utf8(p->err->message);
}

/* How the current token reads in "found ...". */
static const char *tok_text(const parser *p, char out[48]) {
  const token *t = &p->tok;
  if (t->kind == T_END) return "end of input";
  size_t n = t->len;
  int cut = n > 24;
  if (cut) { /* at a character boundary */
    n = 24;
    while (n > 0 && ((unsigned char)p->src[t->pos + n] & 0xC0) == 0x80) n--;
  }
  if (t->kind == T_STR) {
    snprintf(out, 48, "the string %.*s%s", (int)n, p->src + t->pos, cut ? "…" : "");
  } else {
    snprintf(out, 48, "\"%.*s%s\"", (int)n, p->src + t->pos, cut ? "…" : "");
  }
  trim_utf8(out);
  return out;
}

static const char *type_name(unsigned mask) {
  if (mask == M_ANY) return "a value";
  if (mask == M(RULES_NULL)) return "null";
  static const char *const names[] = {"null",     "a boolean", "a number", "a string",
                                      "a duration", "a time",  "a list"};
  for (int t = 1; t < 7; t++)
    if (mask & M(t)) return names[t];
  return "null";
}

/* ---- UTF-8 ---- */

/* Offset of the first ill-formed sequence, or n (Unicode table 3-7). */
static size_t utf8_bad_at(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else return i;
    if (n - i < len) return i;
    if (s[i + 1] < lo || s[i + 1] > hi) return i;
    for (size_t k = 2; k < len; k++)
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
    i += len;
  }
  return n;
}

static size_t put_utf8(char *o, uint32_t cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* ---- lexer ---- */

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_ident(char c) { return is_ident_start(c) || is_digit(c); }

static int hex4(const char *s, uint32_t *out) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    v <<= 4;
    if (is_digit(c)) v |= (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
    else return 0;
  }
  *out = v;
  return 1;
}

/* A string literal from p->at (the opening quote), decoded into the pool. */
static void lex_string(parser *p, token *t) {
  const char *s = p->src;
  size_t i = p->at + 1;
  rules_expr *e = p->e;
  char *o = e->pool + e->npool;
  size_t k = 0;
  for (;;) {
    if (i >= p->n) {
      fail(p, CX_EINVAL, t->pos, "unterminated string: expected a closing \"");
      return;
    }
    unsigned char c = (unsigned char)s[i];
    if (c == '"') break;
    if (c < 0x20 || c == 0x7F) {
      fail(p, CX_EINVAL, i, "control character 0x%02X in a string; write \\n or \\t", c);
      return;
    }
    if (c != '\\') {
      o[k++] = (char)c;
      i++;
      continue;
    }
    if (i + 1 >= p->n) {
      fail(p, CX_EINVAL, t->pos, "unterminated string: expected a closing \"");
      return;
    }
    char x = s[i + 1];
    if (x == '"' || x == '\\') o[k++] = x;
    else if (x == 'n') o[k++] = '\n';
    else if (x == 't') o[k++] = '\t';
    else if (x == 'u') {
      uint32_t cp, lo;
      if (p->n - i < 6 || !hex4(s + i + 2, &cp)) {
        fail(p, CX_EINVAL, i, "expected four hex digits after \\u");
        return;
      }
      size_t len = 6;
      if (cp >= 0xDC00 && cp <= 0xDFFF) {
        fail(p, CX_EINVAL, i, "\\u%04X is half of a surrogate pair; it must follow a \\uD800-\\uDBFF",
             (unsigned)cp);
        return;
      }
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (p->n - i < 12 || s[i + 6] != '\\' || s[i + 7] != 'u' || !hex4(s + i + 8, &lo) ||
            lo < 0xDC00 || lo > 0xDFFF) {
          fail(p, CX_EINVAL, i, "\\u%04X must be followed by a low surrogate \\uDC00-\\uDFFF",
               (unsigned)cp);
          return;
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        len = 12;
      }
      if (cp == 0) {
        fail(p, CX_EINVAL, i, "\\u0000 is not allowed in a string");
        return;
      }
      /* an escape is at least as long as the bytes it stands for */
      k += put_utf8(o + k, cp);
      i += len;
      continue;
    } else {
      fail(p, CX_EINVAL, i, "unknown escape \\%c; use \\\", \\\\, \\n, \\t or \\uXXXX",
           (x > 0x20 && x < 0x7F) ? x : '?');
      return;
    }
    i += 2;
  }
  o[k] = 0;
  t->kind = T_STR;
  t->str = o;
  t->slen = k;
  e->npool += k + 1;
  t->len = i + 1 - t->pos;
}

static const struct {
  const char *name;
  int64_t ms;
} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"w", 604800000}};

/* m = m * 10 + digit; 1 on overflow */
static int push_digit(uint64_t *m, char digit) {
  if (__builtin_mul_overflow(*m, 10, m)) return 1;
  return __builtin_add_overflow(*m, (uint64_t)(digit - '0'), m);
}

/* A number or a duration from p->at. */
static void lex_number(parser *p, token *t) {
  const char *s = p->src;
  size_t i = p->at, int_end, frac_start = 0, frac_end = 0;
  while (i < p->n && is_digit(s[i])) i++;
  int_end = i;
  if (i < p->n && s[i] == '.') {
    frac_start = ++i;
    while (i < p->n && is_digit(s[i])) i++;
    frac_end = i;
    if (frac_end == frac_start) {
      fail(p, CX_EINVAL, i, "expected a digit after the decimal point");
      return;
    }
  }
  size_t unit_start = i;
  while (i < p->n && is_ident(s[i])) i++;
  t->len = i - t->pos;
  if (unit_start == i) {
    char buf[RULES_MAX_SOURCE + 1];
    memcpy(buf, s + t->pos, t->len);
    buf[t->len] = 0;
    double v = strtod(buf, NULL);
    if (v > 1.7976931348623157e308) {
      fail(p, CX_EINVAL, t->pos, "number too large");
      return;
    }
    t->kind = T_NUM;
    t->num = v;
    return;
  }
  int64_t unit = 0;
  for (size_t u = 0; u < sizeof units / sizeof units[0]; u++)
    if (strlen(units[u].name) == i - unit_start &&
        !memcmp(units[u].name, s + unit_start, i - unit_start))
      unit = units[u].ms;
  if (!unit) {
    fail(p, CX_EINVAL, unit_start, "unknown duration unit \"%.*s\"; use ms, s, m, h, d or w",
         (int)(i - unit_start > 16 ? 16 : i - unit_start), s + unit_start);
    return;
  }
  /* exactly: the digits as an integer m with k decimals, ms = m * unit / 10^k */
  uint64_t m = 0, scale = 1;
  int over = 0;
  for (size_t j = t->pos; j < int_end; j++)
    over |= push_digit(&m, s[j]);
  for (size_t j = frac_start; j < frac_end; j++) {
    over |= push_digit(&m, s[j]);
    over |= __builtin_mul_overflow(scale, 10, &scale);
  }
  over |= __builtin_mul_overflow(m, (uint64_t)unit, &m);
  if (over || m / scale > (uint64_t)RULES_MAX_DURATION_MS) {
    fail(p, CX_EINVAL, t->pos, "duration too long (the limit is about 285,000 years)");
    return;
  }
  if (m % scale) {
    fail(p, CX_EINVAL, t->pos, "duration is not a whole number of milliseconds");
    return;
  }
  t->kind = T_DUR;
  t->ms = (int64_t)(m / scale);
}

static void next(parser *p) {
  const char *s = p->src;
  while (p->at < p->n && (s[p->at] == ' ' || s[p->at] == '\t' || s[p->at] == '\n' || s[p->at] == '\r'))
    p->at++;
  token *t = &p->tok;
  memset(t, 0, sizeof *t);
  t->pos = p->at;
  if (p->rc || p->at >= p->n) {
    t->kind = T_END;
    return;
  }
  char c = s[p->at], d = p->at + 1 < p->n ? s[p->at + 1] : 0;
  t->len = 1;
  switch (c) {
  case '(': t->kind = T_LPAREN; break;
  case ')': t->kind = T_RPAREN; break;
  case '[': t->kind = T_LBRACK; break;
  case ']': t->kind = T_RBRACK; break;
  case ',': t->kind = T_COMMA; break;
  case '.': t->kind = T_DOT; break;
  case '+': t->kind = T_PLUS; break;
  case '-': t->kind = T_MINUS; break;
  case '*': t->kind = T_STAR; break;
  case '/': t->kind = T_SLASH; break;
  case '%': t->kind = T_PERCENT; break;
  case '!':
    t->kind = d == '=' ? T_NE : T_NOT;
    t->len = d == '=' ? 2 : 1;
    break;
  case '<':
    t->kind = d == '=' ? T_LE : T_LT;
    t->len = d == '=' ? 2 : 1;
    break;
  case '>':
    t->kind = d == '=' ? T_GE : T_GT;
    t->len = d == '=' ? 2 : 1;
    break;
  case '=':
    if (d != '=') {
      fail(p, CX_EINVAL, t->pos, "unexpected \"=\"; write == to compare");
      t->kind = T_END;
      return;
    }
    t->kind = T_EQ;
    t->len = 2;
    break;
  case '&':
  case '|':
    if (d != c) {
      fail(p, CX_EINVAL, t->pos, "unexpected \"%c\"; write %c%c", c, c, c);
      t->kind = T_END;
      return;
    }
    t->kind = c == '&' ? T_AND : T_OR;
    t->len = 2;
    break;
  case '"':
    lex_string(p, t);
    break;
  default:
    if (is_digit(c)) {
      lex_number(p, t);
    } else if (is_ident_start(c)) {
      size_t i = p->at;
      while (i < p->n && is_ident(s[i])) i++;
      t->len = i - p->at;
      t->kind = (t->len == 2 && !memcmp(s + p->at, "in", 2)) ? T_IN : T_IDENT;
      t->str = s + p->at;
      t->slen = t->len;
    } else if ((unsigned char)c >= 0x80) {
      size_t k = 1;
      while (p->at + k < p->n && ((unsigned char)s[p->at + k] & 0xC0) == 0x80) k++;
      fail(p, CX_EINVAL, t->pos, "unexpected character \"%.*s\"", (int)k, s + p->at);
    } else if ((unsigned char)c < 0x20 || c == 0x7F) {
      fail(p, CX_EINVAL, t->pos, "unexpected control character 0x%02X", (unsigned)(unsigned char)c);
    } else {
      fail(p, CX_EINVAL, t->pos, "unexpected character \"%c\"", c);
    }
  }
  if (p->rc) {
    t->kind = T_END;
    return;
  }
  p->at = t->pos + t->len;
}

/* ---- tree building ---- */

static int32_t node_new(parser *p, rules_node_kind kind, size_t pos, size_t start, unsigned types) {
  rules_expr *e = p->e;
  if (p->rc) return -1;
  if (e->nnodes >= e->cap_nodes) {
    fail(p, CX_ETOOBIG, pos, "the rule is too complex: more than %d operators and operands",
         RULES_MAX_NODES);
    return -1;
  }
  rules_node *nd = &e->nodes[e->nnodes];
  memset(nd, 0, sizeof *nd);
  nd->kind = (uint8_t)kind;
  nd->pos = (uint32_t)pos;
  nd->start = (uint32_t)start;
  nd->types = (uint8_t)types;
  nd->kid[0] = nd->kid[1] = nd->kid[2] = -1;
  return (int32_t)e->nnodes++;
}

static rules_node *N(parser *p, int32_t i) { return &p->e->nodes[i]; }

static int deeper(parser *p) {
  if (++p->depth > RULES_MAX_DEPTH) {
    fail(p, CX_ETOOBIG, p->tok.pos, "nested more than %d levels deep", RULES_MAX_DEPTH);
    return 0;
  }
  return 1;
}

static int32_t parse_or(parser *p);

/* ---- static types ---- */

/* The result type of a op b for non-null a, b; -1 when undefined. */
static int arith_result(int op, int a, int b) {
  switch (op) {
  case OP_ADD:
    if (a == RULES_NUMBER && b == RULES_NUMBER) return RULES_NUMBER;
    if (a == RULES_DURATION && b == RULES_DURATION) return RULES_DURATION;
    if (a == RULES_TIME && b == RULES_DURATION) return RULES_TIME;
    if (a == RULES_DURATION && b == RULES_TIME) return RULES_TIME;
    return -1;
  case OP_SUB:
    if (a == RULES_NUMBER && b == RULES_NUMBER) return RULES_NUMBER;
    if (a == RULES_DURATION && b == RULES_DURATION) return RULES_DURATION;
    if (a == RULES_TIME && b == RULES_DURATION) return RULES_TIME;
    if (a == RULES_TIME && b == RULES_TIME) return RULES_DURATION;
    return -1;
  case OP_MUL:
    if (a == RULES_NUMBER && b == RULES_NUMBER) return RULES_NUMBER;
    if (a == RULES_DURATION && b == RULES_NUMBER) return RULES_DURATION;
    if (a == RULES_NUMBER && b == RULES_DURATION) return RULES_DURATION;
    return -1;
  case OP_DIV:
    if (a == RULES_NUMBER && b == RULES_NUMBER) return RULES_NUMBER;
    if (a == RULES_DURATION && b == RULES_NUMBER) return RULES_DURATION;
    if (a == RULES_DURATION && b == RULES_DURATION) return RULES_NUMBER;
    return -1;
  case OP_MOD:
    if (a == RULES_NUMBER && b == RULES_NUMBER) return RULES_NUMBER;
    if (a == RULES_DURATION && b == RULES_DURATION) return RULES_DURATION;
    return -1;
  }
  return -1;
}

/* The exported twin used by eval.c. */
int rules_arith_result(int op, int a, int b);
int rules_arith_result(int op, int a, int b) { return arith_result(op, a, b); }

static unsigned arith_types(int op, unsigned ma, unsigned mb) {
  unsigned r = 0;
  for (int a = 1; a < 7; a++)
    for (int b = 1; b < 7; b++)
      if ((ma & M(a)) && (mb & M(b))) {
        int t = arith_result(op, a, b);
        if (t >= 0) r |= M(t);
      }
  return r;
}

static const char *const op_verb[] = {"", "", "", "", "", "", "add", "subtract", "multiply",
                                      "divide", "take the remainder of"};

static int check_cond(parser *p, int32_t i, const char *where) {
  if (N(p, i)->types & (M(RULES_BOOL) | M(RULES_NULL))) return 1;
  fail(p, CX_EINVAL, N(p, i)->start, "expected a condition %s, found %s", where,
       type_name(N(p, i)->types));
  return 0;
}

/* ---- parser ---- */

static int32_t binary(parser *p, rules_node_kind kind, int op, size_t pos, int32_t a, int32_t b,
                      unsigned types) {
  int32_t i = node_new(p, kind, pos, N(p, a)->start, types);
  if (i < 0) return -1;
  N(p, i)->op = (uint8_t)op;
  N(p, i)->kid[0] = a;
  N(p, i)->kid[1] = b;
  return i;
}

static int32_t parse_list(parser *p) {
  size_t pos = p->tok.pos;
  if (!deeper(p)) return -1;
  next(p);
  rules_expr *e = p->e;
  size_t first = e->nitems, count = 0;
  if (p->tok.kind != T_RBRACK) {
    for (;;) {
      size_t at = p->tok.pos;
      int32_t it = parse_or(p);
      if (it < 0) return -1;
      rules_node *nd = N(p, it);
      if (nd->kind != N_LIT) {
        fail(p, CX_EINVAL, at,
             "a list holds only literals (numbers, strings, durations, true, false, null)");
        return -1;
      }
      if (e->nitems >= e->cap_items) { /* cannot happen: an item takes a byte */
        fail(p, CX_ETOOBIG, at, "too many list items");
        return -1;
      }
      e->items[e->nitems++] = nd->lit;
      count++;
      if (p->tok.kind == T_RBRACK) break;
      if (p->tok.kind != T_COMMA) {
        char b[48];
        fail(p, CX_EINVAL, p->tok.pos, "expected \",\" or \"]\" in the list, found %s", tok_text(p, b));
        return -1;
      }
      next(p);
    }
  }
  next(p);
  p->depth--;
  int32_t i = node_new(p, N_LIST, pos, pos, M(RULES_LIST));
  if (i < 0) return -1;
  N(p, i)->lit.type = RULES_LIST;
  N(p, i)->lit.u.list.items = e->items + first;
  N(p, i)->lit.u.list.n = count;
  return i;
}

static int ident_is(const token *t, const char *s) {
  return t->kind == T_IDENT && strlen(s) == t->len && !memcmp(t->str, s, t->len);
}

static int32_t parse_path(parser *p, int root) {
  size_t pos = p->tok.pos;
  rules_expr *e = p->e;
  next(p);
  size_t first = e->nparts, count = 0;
  if (p->tok.kind != T_DOT) {
    char b[48];
    fail(p, CX_EINVAL, p->tok.pos, "expected \".\" and a name after %s (as in %s.%s), found %s",
         rules_root_name[root], rules_root_name[root],
         root == ROOT_TRAITS ? "plan" : root == ROOT_EVENT ? "properties.revenue" : root == ROOT_CUSTOMER ? "stage" : root == ROOT_RESPONSE ? "nps" : "q1",
         tok_text(p, b));
    return -1;
  }
  while (p->tok.kind == T_DOT) {
    next(p);
    if (p->tok.kind != T_IDENT && p->tok.kind != T_IN) {
      char b[48];
      fail(p, CX_EINVAL, p->tok.pos, "expected a name after \".\", found %s", tok_text(p, b));
      return -1;
    }
    if (count == RULES_MAX_PATH) {
      fail(p, CX_ETOOBIG, p->tok.pos, "a path has at most %d names after its root", RULES_MAX_PATH);
      return -1;
    }
    char *o = e->pool + e->npool;
    memcpy(o, p->tok.str, p->tok.len);
    o[p->tok.len] = 0;
    e->npool += p->tok.len + 1;
    e->parts[e->nparts++] = o;
    count++;
    next(p);
  }
  int32_t i = node_new(p, N_PATH, pos, pos, M_ANY);
  if (i < 0) return -1;
  N(p, i)->op = (uint8_t)root;
  N(p, i)->parts = e->parts + first;
  N(p, i)->nparts = (uint32_t)count;
  return i;
}

static const struct {
  const char *sig;
  uint8_t min, max;
} fns[] = {
    [F_COUNT] = {"count(name[, window])", 1, 2},
    [F_SUM] = {"sum(name, property[, window])", 2, 3},
    [F_DAYS_SINCE] = {"days_since(name)", 1, 1},
    [F_HAS] = {"has(path)", 1, 1},
    [F_LOWER] = {"lower(text)", 1, 1},
    [F_CONTAINS] = {"contains(text, part)", 2, 2},
    [F_STARTS_WITH] = {"starts_with(text, prefix)", 2, 2},
    [F_ENDS_WITH] = {"ends_with(text, suffix)", 2, 2},
};

static int fn_lookup(const token *t) {
  for (int f = F_COUNT; f <= F_ENDS_WITH; f++)
    if (ident_is(t, rules_fn_name[f])) return f;
  return -1;
}

static const char *const ordinal[] = {"first", "second", "third"};

static int check_args(parser *p, int f, const char *fname, int32_t call) {
  rules_node *c = N(p, call);
  for (int a = 0; a < c->nargs; a++) {
    rules_node *x = N(p, c->kid[a]);
    int history = f == F_COUNT || f == F_SUM || f == F_DAYS_SINCE;
    int is_str = x->kind == N_LIT && x->lit.type == RULES_STRING;
    if (history && a == 0 && !is_str) {
      fail(p, CX_EINVAL, x->start,
           "the first argument of %s must be an event name in quotes, such as \"Order Completed\"",
           fname);
      return 0;
    }
    if (f == F_SUM && a == 1 && !is_str) {
      fail(p, CX_EINVAL, x->start,
           "the second argument of sum must be a property name in quotes, such as \"revenue\"");
      return 0;
    }
    if ((f == F_COUNT && a == 1) || (f == F_SUM && a == 2)) {
      if (x->kind != N_LIT || x->lit.type != RULES_DURATION) {
        fail(p, CX_EINVAL, x->start, "the window of %s must be a duration such as 30d", fname);
        return 0;
      }
      if (x->lit.u.ms <= 0) {
        fail(p, CX_EINVAL, x->start, "the window of %s must be longer than 0", fname);
        return 0;
      }
    }
    if (f == F_HAS && x->kind != N_PATH) {
      fail(p, CX_EINVAL, x->start, "has expects a path such as traits.plan");
      return 0;
    }
    if (f >= F_LOWER && !(x->types & (M(RULES_STRING) | M(RULES_NULL)))) {
      fail(p, CX_EINVAL, x->start, "the %s argument of %s must be a string, found %s", ordinal[a],
           fname, type_name(x->types));
      return 0;
    }
  }
  return 1;
}

static int32_t parse_call(parser *p) {
  token name = p->tok;
  int f = fn_lookup(&name);
  char fname[32];
  snprintf(fname, sizeof fname, "%.*s", (int)(name.len > 24 ? 24 : name.len), name.str);
  if (f < 0) {
    fail(p, CX_EINVAL, name.pos,
         "unknown function \"%s\"; the functions are count, sum, days_since, has, lower, "
         "contains, starts_with and ends_with", fname);
    return -1;
  }
  next(p); /* ( */
  if (!deeper(p)) return -1;
  next(p);
  int32_t kid[3] = {-1, -1, -1};
  int nargs = 0;
  if (p->tok.kind != T_RPAREN) {
    for (;;) {
      int32_t a = parse_or(p);
      if (a < 0) return -1;
      kid[nargs++] = a;
      if (p->tok.kind == T_RPAREN) break;
      char b[48];
      if (nargs == fns[f].max) {
        fail(p, CX_EINVAL, p->tok.pos, "expected \")\" after the arguments of %s, found %s", fname,
             tok_text(p, b));
        return -1;
      }
      if (p->tok.kind != T_COMMA) {
        fail(p, CX_EINVAL, p->tok.pos, "expected \",\" or \")\" after an argument of %s, found %s",
             fname, tok_text(p, b));
        return -1;
      }
      next(p);
    }
  }
  if (nargs < fns[f].min) {
    fail(p, CX_EINVAL, p->tok.pos, "too few arguments: %s", fns[f].sig);
    return -1;
  }
  next(p);
  p->depth--;
  static const unsigned result[] = {
      [F_COUNT] = M(RULES_NUMBER),     [F_SUM] = M(RULES_NUMBER),
      [F_DAYS_SINCE] = M(RULES_NUMBER), [F_HAS] = M(RULES_BOOL),
      [F_LOWER] = M(RULES_STRING),     [F_CONTAINS] = M(RULES_BOOL),
      [F_STARTS_WITH] = M(RULES_BOOL), [F_ENDS_WITH] = M(RULES_BOOL)};
  int32_t i = node_new(p, N_CALL, name.pos, name.pos, result[f]);
  if (i < 0) return -1;
  N(p, i)->op = (uint8_t)f;
  N(p, i)->nargs = (uint8_t)nargs;
  for (int k = 0; k < 3; k++) N(p, i)->kid[k] = kid[k];
  if (!check_args(p, f, fname, i)) return -1;
  return i;
}

static int32_t literal(parser *p, rules_value v) {
  static const unsigned m[] = {M(RULES_NULL), M(RULES_BOOL), M(RULES_NUMBER), M(RULES_STRING),
                               M(RULES_DURATION)};
  int32_t i = node_new(p, N_LIT, p->tok.pos, p->tok.pos, m[v.type]);
  if (i < 0) return -1;
  N(p, i)->lit = v;
  next(p);
  return i;
}

static int32_t parse_primary(parser *p) {
  token *t = &p->tok;
  rules_value v;
  memset(&v, 0, sizeof v);
  char b[48];
  switch (t->kind) {
  case T_NUM:
    v.type = RULES_NUMBER;
    v.u.number = t->num;
    return literal(p, v);
  case T_DUR:
    v.type = RULES_DURATION;
    v.u.ms = t->ms;
    return literal(p, v);
  case T_STR:
    v.type = RULES_STRING;
    v.u.str.p = t->str;
    v.u.str.n = t->slen;
    return literal(p, v);
  case T_LBRACK: return parse_list(p);
  case T_LPAREN: {
    size_t open = t->pos;
    if (!deeper(p)) return -1;
    next(p);
    int32_t i = parse_or(p);
    if (i < 0) return -1;
    if (p->tok.kind != T_RPAREN) {
      fail(p, CX_EINVAL, p->tok.pos, "expected \")\" to close the \"(\" at %zu, found %s", open,
           tok_text(p, b));
      return -1;
    }
    next(p);
    p->depth--;
    N(p, i)->start = (uint32_t)open;
    return i;
  }
  case T_IDENT: {
    if (ident_is(t, "true") || ident_is(t, "false")) {
      v.type = RULES_BOOL;
      v.u.boolean = ident_is(t, "true");
      return literal(p, v);
    }
    if (ident_is(t, "null")) return literal(p, v);
    /* a call? look past blanks for "(" */
    size_t j = p->at;
    while (j < p->n && (p->src[j] == ' ' || p->src[j] == '\t' || p->src[j] == '\n' || p->src[j] == '\r'))
      j++;
    if (j < p->n && p->src[j] == '(') return parse_call(p);
    for (int r = 0; r < ROOT_COUNT; r++)
      if (ident_is(t, rules_root_name[r])) return parse_path(p, r);
    rules_node_kind k = ident_is(t, "now")          ? N_NOW
                        : ident_is(t, "first_seen") ? N_FIRST_SEEN
                        : ident_is(t, "last_seen")  ? N_LAST_SEEN
                                                    : N_LIT;
    if (k == N_LIT) {
      fail(p, CX_EINVAL, t->pos,
           "unknown name %s; a path starts with traits., event., customer., response. or answers., and the other "
           "names are now, first_seen and last_seen", tok_text(p, b));
      return -1;
    }
    int32_t i = node_new(p, k, t->pos, t->pos, M(RULES_TIME));
    next(p);
    return i;
  }
  default:
    fail(p, CX_EINVAL, t->pos, "expected a value, a path or \"(\", found %s", tok_text(p, b));
    return -1;
  }
}

static int32_t parse_unary(parser *p) {
  if (p->tok.kind != T_MINUS) return parse_primary(p);
  size_t pos = p->tok.pos;
  if (!deeper(p)) return -1;
  next(p);
  int32_t a = parse_unary(p);
  if (a < 0) return -1;
  p->depth--;
  rules_node *x = N(p, a);
  if (x->kind == N_LIT && x->lit.type == RULES_NUMBER) { /* fold -5 into a literal */
    x->lit.u.number = -x->lit.u.number;
    x->start = x->pos = (uint32_t)pos;
    return a;
  }
  if (x->kind == N_LIT && x->lit.type == RULES_DURATION) {
    x->lit.u.ms = -x->lit.u.ms;
    x->start = x->pos = (uint32_t)pos;
    return a;
  }
  unsigned t = x->types & (M(RULES_NUMBER) | M(RULES_DURATION));
  if (!t) {
    fail(p, CX_EINVAL, pos, "cannot negate %s", type_name(x->types));
    return -1;
  }
  int32_t i = node_new(p, N_NEG, pos, pos, t);
  if (i < 0) return -1;
  N(p, i)->kid[0] = a;
  return i;
}

static int32_t parse_arith(parser *p, int level) {
  int32_t a = level ? parse_unary(p) : parse_arith(p, 1);
  while (a >= 0) {
    tok_kind k = p->tok.kind;
    int op = -1;
    if (level == 0 && (k == T_PLUS || k == T_MINUS)) op = k == T_PLUS ? OP_ADD : OP_SUB;
    if (level == 1 && (k == T_STAR || k == T_SLASH || k == T_PERCENT))
      op = k == T_STAR ? OP_MUL : k == T_SLASH ? OP_DIV : OP_MOD;
    if (op < 0) break;
    size_t pos = p->tok.pos;
    next(p);
    int32_t b = level ? parse_unary(p) : parse_arith(p, 1);
    if (b < 0) return -1;
    unsigned t = arith_types(op, N(p, a)->types, N(p, b)->types);
    if (!t) {
      const char *ta = type_name(N(p, a)->types), *tb = type_name(N(p, b)->types);
      if (op == OP_DIV || op == OP_MOD)
        fail(p, CX_EINVAL, pos, "cannot %s %s by %s", op_verb[op], ta, tb);
      else if (op == OP_SUB)
        fail(p, CX_EINVAL, pos, "cannot subtract %s from %s", tb, ta);
      else
        fail(p, CX_EINVAL, pos, "cannot %s %s and %s", op_verb[op], ta, tb);
      return -1;
    }
    a = binary(p, N_ARITH, op, pos, a, b, t);
  }
  return a;
}

static int cmp_op(tok_kind k) {
  switch (k) {
  case T_EQ: return OP_EQ;
  case T_NE: return OP_NE;
  case T_LT: return OP_LT;
  case T_LE: return OP_LE;
  case T_GT: return OP_GT;
  case T_GE: return OP_GE;
  case T_IN: return 100;
  default: return -1;
  }
}

static int32_t parse_cmp(parser *p) {
  int32_t a = parse_arith(p, 0);
  if (a < 0) return -1;
  int op = cmp_op(p->tok.kind);
  if (op < 0) return a;
  size_t pos = p->tok.pos;
  next(p);
  int32_t b = parse_arith(p, 0);
  if (b < 0) return -1;
  unsigned ma = N(p, a)->types, mb = N(p, b)->types;
  char buf[48];
  if (op == 100) {
    if (!(mb & M(RULES_LIST))) {
      fail(p, CX_EINVAL, N(p, b)->start, "expected a list after in, such as [\"plus\", \"premium\"], found %s",
           type_name(mb));
      return -1;
    }
  } else if (op == OP_EQ || op == OP_NE) {
    if (!(ma & mb) && !((ma | mb) & M(RULES_NULL))) {
      fail(p, CX_EINVAL, pos, "cannot compare %s with %s; they are never equal", type_name(ma),
           type_name(mb));
      return -1;
    }
  } else {
    unsigned ord = M(RULES_NUMBER) | M(RULES_STRING) | M(RULES_DURATION) | M(RULES_TIME);
    if (!(ma & mb & ord)) {
      const char *hint = "";
      if (((ma | mb) & M(RULES_NUMBER)) && ((ma | mb) & M(RULES_DURATION)))
        hint = "; write a duration such as 30d";
      fail(p, CX_EINVAL, pos, "cannot order %s and %s%s", type_name(ma), type_name(mb), hint);
      return -1;
    }
  }
  int32_t i = binary(p, op == 100 ? N_IN : N_CMP, op == 100 ? 0 : op, pos, a, b, M(RULES_BOOL));
  if (i >= 0 && cmp_op(p->tok.kind) >= 0) {
    fail(p, CX_EINVAL, p->tok.pos, "comparisons do not chain: join them with &&, found %s",
         tok_text(p, buf));
    return -1;
  }
  return i;
}

static int32_t parse_not(parser *p) {
  if (p->tok.kind != T_NOT) return parse_cmp(p);
  size_t pos = p->tok.pos;
  if (!deeper(p)) return -1;
  next(p);
  int32_t a = parse_not(p);
  if (a < 0) return -1;
  p->depth--;
  if (!check_cond(p, a, "after !")) return -1;
  int32_t i = node_new(p, N_NOT, pos, pos, M(RULES_BOOL));
  if (i >= 0) N(p, i)->kid[0] = a;
  return i;
}

static int32_t parse_logic(parser *p, int is_or) {
  int32_t a = is_or ? parse_logic(p, 0) : parse_not(p);
  tok_kind k = is_or ? T_OR : T_AND;
  const char *op = is_or ? "||" : "&&";
  while (a >= 0 && p->tok.kind == k) {
    size_t pos = p->tok.pos;
    char where[24];
    snprintf(where, sizeof where, "before %s", op);
    if (!check_cond(p, a, where)) return -1;
    next(p);
    int32_t b = is_or ? parse_logic(p, 0) : parse_not(p);
    if (b < 0) return -1;
    snprintf(where, sizeof where, "after %s", op);
    if (!check_cond(p, b, where)) return -1;
    a = binary(p, is_or ? N_OR : N_AND, 0, pos, a, b, M(RULES_BOOL));
  }
  return a;
}

static int32_t parse_or(parser *p) { return parse_logic(p, 1); }

/* ---- entry points ---- */

cx_err rules_compile(const char *src, size_t n, rules_expr **out, rules_error *err) {
  rules_error spare;
  if (!err) err = &spare;
  err->pos = 0;
  err->message[0] = 0;
  parser p = {.src = src, .n = n, .err = err};
  if (n > RULES_MAX_SOURCE) {
    fail(&p, CX_ETOOBIG, RULES_MAX_SOURCE, "the rule is longer than %d bytes", RULES_MAX_SOURCE);
    return p.rc;
  }
  size_t bad = utf8_bad_at((const unsigned char *)src, n);
  if (bad < n) {
    fail(&p, CX_EINVAL, bad, "invalid UTF-8");
    return p.rc;
  }
  /* every node, item and path part takes at least one source byte; each
   * string in the pool is at most its source bytes plus a NUL */
  size_t cap_nodes = n + 1 < RULES_MAX_NODES ? n + 1 : RULES_MAX_NODES;
  size_t cap_items = n + 1, cap_parts = n + 1, cap_pool = 2 * n + 2;
  size_t sz = sizeof(rules_expr) + cap_nodes * sizeof(rules_node) + cap_items * sizeof(rules_value) +
              cap_parts * sizeof(char *) + cap_pool;
  rules_expr *e = cx_malloc(sz);
  if (!e) {
    fail(&p, CX_ENOMEM, 0, "out of memory");
    return p.rc;
  }
  char *at = (char *)(e + 1);
  e->nodes = (rules_node *)at;
  at += cap_nodes * sizeof(rules_node);
  e->items = (rules_value *)at;
  at += cap_items * sizeof(rules_value);
  e->parts = (const char **)at;
  at += cap_parts * sizeof(char *);
  e->pool = at;
  e->nnodes = 0;
  e->cap_nodes = (uint32_t)cap_nodes;
  e->nitems = e->nparts = e->npool = 0;
  e->cap_items = cap_items;
  e->cap_parts = cap_parts;
  e->cap_pool = cap_pool;
  p.e = e;
  next(&p);
  int32_t root = parse_or(&p);
  if (root >= 0 && p.tok.kind != T_END) {
    char b[48];
    const char *what = "an operator";
    if (p.tok.kind == T_RPAREN) what = "an operator (this \")\" closes nothing)";
    fail(&p, CX_EINVAL, p.tok.pos, "expected %s or the end of the rule, found %s", what,
         tok_text(&p, b));
  }
  if (p.rc) {
    cx_free(e);
    return p.rc;
  }
  e->root = root;
  *out = e;
  return CX_OK;
}

void rules_free(rules_expr *e) { cx_free(e); }
