/* describe.c - the canonical text of a compiled rule and of values.
 *
 * Parentheses are written only where precedence needs them, so the text is
 * never nested deeper than the source it came from and compiles within
 * the same depth limit. Numbers are written in the shortest positional
 * form that reads back to the same double (no exponent: the language has
 * none). */
#include "rules_int.h"
#include "../base/time.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shortest round-trip digits of v (finite, non-zero), written positionally. */
static cx_err put_number(cx_buf *b, double v) {
  if (v == 0) return cx_buf_puts(b, signbit(v) ? "-0" : "0");
  char e[40];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(e, sizeof e, "%.*e", prec - 1, v);
    if (strtod(e, NULL) == v) break;
  }
  /* e is [-]d[.ddd]e[+-]x */
  const char *s = e;
  char digits[24];
  size_t nd = 0;
  int neg = *s == '-';
  if (neg) s++;
  for (; *s && *s != 'e'; s++)
    if (*s != '.') digits[nd++] = *s;
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  int ex = 0, exneg = 0;
  if (*s == 'e') s++;
  if (*s == '-' || *s == '+') exneg = *s++ == '-';
  for (; *s; s++) ex = ex * 10 + (*s - '0');
  if (exneg) ex = -ex;
  int point = ex + 1; /* digits before the decimal point */
  cx_err rc = neg ? cx_buf_puts(b, "-") : CX_OK;
  if (!rc && point <= 0) {
    rc = cx_buf_puts(b, "0.");
    for (int k = 0; k < -point && !rc; k++) rc = cx_buf_puts(b, "0");
    if (!rc) rc = cx_buf_append(b, digits, nd);
  } else if (!rc && (size_t)point >= nd) {
    rc = cx_buf_append(b, digits, nd);
    for (size_t k = nd; k < (size_t)point && !rc; k++) rc = cx_buf_puts(b, "0");
  } else if (!rc) {
    rc = cx_buf_append(b, digits, (size_t)point);
    if (!rc) rc = cx_buf_puts(b, ".");
    if (!rc) rc = cx_buf_append(b, digits + point, nd - (size_t)point);
  }
  return rc;
}

static cx_err put_duration(cx_buf *b, int64_t ms) {
  static const struct {
    const char *name;
    int64_t ms;
  } u[] = {{"w", 604800000}, {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
  if (ms == 0) return cx_buf_puts(b, "0s");
  for (size_t k = 0; k < sizeof u / sizeof u[0]; k++)
    if (ms % u[k].ms == 0) return cx_buf_printf(b, "%lld%s", (long long)(ms / u[k].ms), u[k].name);
  return cx_buf_printf(b, "%lldms", (long long)ms);
}

static cx_err put_string(cx_buf *b, const char *s, size_t n) {
  cx_err rc = cx_buf_puts(b, "\"");
  size_t run = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7F) continue;
    rc = cx_buf_append(b, s + run, i - run);
    run = i + 1;
    if (rc) break;
    if (c == '"') rc = cx_buf_puts(b, "\\\"");
    else if (c == '\\') rc = cx_buf_puts(b, "\\\\");
    else if (c == '\n') rc = cx_buf_puts(b, "\\n");
    else if (c == '\t') rc = cx_buf_puts(b, "\\t");
    else rc = cx_buf_printf(b, "\\u%04X", c);
  }
  if (!rc) rc = cx_buf_append(b, s + run, n - run);
  if (!rc) rc = cx_buf_puts(b, "\"");
  return rc;
}

static cx_err put_value(cx_buf *b, const rules_value *v, int depth) {
  switch (v->type) {
  case RULES_NULL: return cx_buf_puts(b, "null");
  case RULES_BOOL: return cx_buf_puts(b, v->u.boolean ? "true" : "false");
  case RULES_NUMBER:
    if (isnan(v->u.number) || isinf(v->u.number)) return cx_buf_puts(b, "null");
    return put_number(b, v->u.number);
  case RULES_STRING: return put_string(b, v->u.str.p, v->u.str.n);
  case RULES_DURATION: return put_duration(b, v->u.ms);
  case RULES_TIME: {
    char t[CX_TIME_LEN];
    cx_time_format(v->u.ms, t);
    return cx_buf_puts(b, t);
  }
  case RULES_LIST: {
    if (depth >= 8) return cx_buf_puts(b, "[…]");
    cx_err rc = cx_buf_puts(b, "[");
    for (size_t i = 0; i < v->u.list.n && !rc; i++) {
      if (i) rc = cx_buf_puts(b, ", ");
      if (!rc) rc = put_value(b, &v->u.list.items[i], depth + 1);
    }
    return rc ? rc : cx_buf_puts(b, "]");
  }
  }
  return cx_buf_puts(b, "null");
}

cx_err rules_value_describe(const rules_value *v, cx_buf *out) { return put_value(out, v, 0); }

/* Precedence levels, as in parse.c's grammar. */
enum { L_OR = 1, L_AND, L_NOT, L_CMP, L_ADD, L_MUL, L_NEG, L_PRIMARY };

static int level(const rules_node *nd) {
  switch ((rules_node_kind)nd->kind) {
  case N_OR: return L_OR;
  case N_AND: return L_AND;
  case N_NOT: return L_NOT;
  case N_CMP:
  case N_IN: return L_CMP;
  case N_ARITH: return nd->op == OP_ADD || nd->op == OP_SUB ? L_ADD : L_MUL;
  case N_NEG: return L_NEG;
  case N_LIT:
    if (nd->lit.type == RULES_NUMBER && signbit(nd->lit.u.number)) return L_NEG;
    if (nd->lit.type == RULES_DURATION && nd->lit.u.ms < 0) return L_NEG;
    return L_PRIMARY;
  default: return L_PRIMARY;
  }
}

static cx_err put_node(const rules_expr *e, cx_buf *b, int32_t i, int need);

static cx_err put_node(const rules_expr *e, cx_buf *b, int32_t i, int need) {
  const rules_node *nd = &e->nodes[i];
  int lv = level(nd);
  cx_err rc = CX_OK;
  if (lv < need && (rc = cx_buf_puts(b, "("))) return rc;
  switch ((rules_node_kind)nd->kind) {
  case N_LIT:
  case N_LIST: rc = put_value(b, &nd->lit, 0); break;
  case N_PATH:
    rc = cx_buf_puts(b, rules_root_name[nd->op]);
    for (uint32_t k = 0; k < nd->nparts && !rc; k++) rc = cx_buf_printf(b, ".%s", nd->parts[k]);
    break;
  case N_NOW: rc = cx_buf_puts(b, "now"); break;
  case N_FIRST_SEEN: rc = cx_buf_puts(b, "first_seen"); break;
  case N_LAST_SEEN: rc = cx_buf_puts(b, "last_seen"); break;
  case N_NOT:
    rc = cx_buf_puts(b, "!");
    if (!rc) rc = put_node(e, b, nd->kid[0], L_NOT);
    break;
  case N_NEG:
    rc = cx_buf_puts(b, level(&e->nodes[nd->kid[0]]) == L_NEG ? "- " : "-");
    if (!rc) rc = put_node(e, b, nd->kid[0], L_NEG);
    break;
  case N_AND:
  case N_OR:
  case N_CMP:
  case N_IN:
  case N_ARITH: {
    const char *op = nd->kind == N_AND  ? "&&"
                     : nd->kind == N_OR ? "||"
                     : nd->kind == N_IN ? "in"
                                        : rules_op_text[nd->op];
    /* left-associative: the right operand binds tighter; comparisons do
     * not chain, so both their operands must */
    int left = nd->kind == N_CMP || nd->kind == N_IN ? lv + 1 : lv;
    rc = put_node(e, b, nd->kid[0], left);
    if (!rc) rc = cx_buf_printf(b, " %s ", op);
    if (!rc) rc = put_node(e, b, nd->kid[1], lv + 1);
    break;
  }
  case N_CALL:
    rc = cx_buf_printf(b, "%s(", rules_fn_name[nd->op]);
    for (int k = 0; k < nd->nargs && !rc; k++) {
      if (k) rc = cx_buf_puts(b, ", ");
      if (!rc) rc = put_node(e, b, nd->kid[k], L_OR);
    }
    if (!rc) rc = cx_buf_puts(b, ")");
    break;
  }
  if (!rc && lv < need) rc = cx_buf_puts(b, ")");
  return rc;
}

cx_err rules_describe(const rules_expr *e, cx_buf *out) { return put_node(e, out, e->root, L_OR); }

cx_err rules_each_path(const rules_expr *e,
                       cx_err (*fn)(void *ctx, const char *root, const char *const *parts,
                                    size_t nparts),
                       void *ctx) {
  for (uint32_t i = 0; i < e->nnodes; i++) { /* nodes are in source order */
    const rules_node *n = &e->nodes[i];
    if (n->kind != N_PATH) continue;
    cx_err rc = fn(ctx, rules_root_name[n->op], n->parts, n->nparts);
    if (rc) return rc;
  }
  return CX_OK;
}

int rules_calls(const rules_expr *e, const char *name) {
  for (uint32_t i = 0; i < e->nnodes; i++)
    if (e->nodes[i].kind == N_CALL && !strcmp(rules_fn_name[e->nodes[i].op], name)) return 1;
  return 0;
}

int rules_reads_seen(const rules_expr *e) {
  for (uint32_t i = 0; i < e->nnodes; i++)
    if (e->nodes[i].kind == N_FIRST_SEEN || e->nodes[i].kind == N_LAST_SEEN) return 1;
  return 0;
}

int rules_may_be(const rules_expr *e, rules_type t) {
  return (e->nodes[e->root].types >> t) & 1;
}

cx_err rules_each_count(const rules_expr *e,
                        cx_err (*fn)(void *ctx, const char *name, int64_t window_ms), void *ctx) {
  for (uint32_t i = 0; i < e->nnodes; i++) {
    const rules_node *n = &e->nodes[i];
    if (n->kind != N_CALL || n->op != F_COUNT) continue;
    /* the arguments are literals: the compiler allows nothing else (and
     * eval.c reads them the same way) */
    int64_t window = n->nargs > 1 ? e->nodes[n->kid[1]].lit.u.ms : -1;
    cx_err rc = fn(ctx, e->nodes[n->kid[0]].lit.u.str.p, window);
    if (rc) return rc;
  }
  return CX_OK;
}

static cx_err root_hit(void *ctx, const char *root, const char *const *parts, size_t nparts) {
  (void)parts, (void)nparts;
  const char **want = ctx;
  if (!strcmp(root, *want)) *want = NULL;
  return CX_OK;
}

int rules_reads_root(const rules_expr *e, const char *root) {
  const char *want = root;
  rules_each_path(e, root_hit, (void *)&want);
  return want == NULL;
}
