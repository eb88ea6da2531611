/* eval.c - evaluating a compiled rule against a rules_env.
 *
 * Evaluation allocates nothing: values live on the C stack, strings are
 * borrowed from the rule, the callbacks or the env's scratch buffer. The
 * recursion is as deep as the tree, at most RULES_MAX_NODES.
 *
 * Type mismatches at run time are not errors (docs/rules.md, "Types and
 * null"): arithmetic on the wrong types or on null gives null, ordering
 * across types or with null is false, == across types is false. */
#include "rules_int.h"
#include "../base/time.h"
#include <math.h>
#include <string.h>

int rules_arith_result(int op, int a, int b); /* parse.c */

typedef struct {
  const rules_expr *e;
  const rules_env *env;
  size_t scratch_used;
} evaluator;

static void set_null(rules_value *v) {
  memset(v, 0, sizeof *v);
  v->type = RULES_NULL;
}

static void set_bool(rules_value *v, int b) {
  memset(v, 0, sizeof *v);
  v->type = RULES_BOOL;
  v->u.boolean = b != 0;
}

static void set_number(rules_value *v, double d) {
  memset(v, 0, sizeof *v);
  if (isnan(d) || isinf(d)) { /* overflow, 0/0 from the callbacks: no number */
    v->type = RULES_NULL;
    return;
  }
  v->type = RULES_NUMBER;
  v->u.number = d;
}

static void set_ms(rules_value *v, rules_type t, int64_t ms) {
  memset(v, 0, sizeof *v);
  if (ms == CX_NO_TIME) {
    v->type = RULES_NULL;
    return;
  }
  v->type = t;
  v->u.ms = ms;
}

static int is_true(const rules_value *v) { return v->type == RULES_BOOL && v->u.boolean; }

/* == as the manual defines it; lists compare item by item, nested lists
 * from the callbacks at most 8 deep (deeper ones are unequal). */
static int equal(const rules_value *a, const rules_value *b, int depth) {
  if (a->type != b->type) return 0;
  switch (a->type) {
  case RULES_NULL: return 1;
  case RULES_BOOL: return !a->u.boolean == !b->u.boolean;
  case RULES_NUMBER: return a->u.number == b->u.number;
  case RULES_STRING:
    return a->u.str.n == b->u.str.n && (a->u.str.n == 0 || !memcmp(a->u.str.p, b->u.str.p, a->u.str.n));
  case RULES_DURATION:
  case RULES_TIME: return a->u.ms == b->u.ms;
  case RULES_LIST:
    if (a->u.list.n != b->u.list.n || depth >= 8) return 0;
    for (size_t i = 0; i < a->u.list.n; i++)
      if (!equal(&a->u.list.items[i], &b->u.list.items[i], depth + 1)) return 0;
    return 1;
  }
  return 0;
}

/* -1, 0, 1 into *c; 0 when a and b cannot be ordered. */
static int order(const rules_value *a, const rules_value *b, int *c) {
  if (a->type != b->type) return 0;
  switch (a->type) {
  case RULES_NUMBER: *c = (a->u.number > b->u.number) - (a->u.number < b->u.number); return 1;
  case RULES_DURATION:
  case RULES_TIME: *c = (a->u.ms > b->u.ms) - (a->u.ms < b->u.ms); return 1;
  case RULES_STRING: {
    size_t n = a->u.str.n < b->u.str.n ? a->u.str.n : b->u.str.n;
    int r = n ? memcmp(a->u.str.p, b->u.str.p, n) : 0;
    if (!r) r = (a->u.str.n > b->u.str.n) - (a->u.str.n < b->u.str.n);
    *c = (r > 0) - (r < 0);
    return 1;
  }
  default: return 0;
  }
}

static void arith(int op, const rules_value *a, const rules_value *b, rules_value *out) {
  int t = (a->type == RULES_NULL || b->type == RULES_NULL || a->type == RULES_LIST ||
           b->type == RULES_LIST)
              ? -1
              : rules_arith_result(op, (int)a->type, (int)b->type);
  if (t < 0) {
    set_null(out);
    return;
  }
  if (a->type == RULES_NUMBER && b->type == RULES_NUMBER) {
    double x = a->u.number, y = b->u.number;
    switch (op) {
    case OP_ADD: set_number(out, x + y); return;
    case OP_SUB: set_number(out, x - y); return;
    case OP_MUL: set_number(out, x * y); return;
    case OP_DIV:
      if (y == 0) set_null(out);
      else set_number(out, x / y);
      return;
    default:
      if (y == 0) set_null(out);
      else set_number(out, fmod(x, y));
      return;
    }
  }
  /* durations and times: integer milliseconds; overflow gives null */
  int64_t r = 0;
  int over = 0;
  if (op == OP_ADD) over = __builtin_add_overflow(a->u.ms, b->u.ms, &r);
  else if (op == OP_SUB) over = __builtin_sub_overflow(a->u.ms, b->u.ms, &r);
  else if (op == OP_MOD) {
    if (b->u.ms == 0 || (b->u.ms == -1)) r = 0, over = b->u.ms == 0;
    else r = a->u.ms % b->u.ms;
  } else if (op == OP_DIV && b->type == RULES_DURATION) {
    if (b->u.ms == 0) set_null(out);
    else set_number(out, (double)a->u.ms / (double)b->u.ms);
    return;
  } else { /* duration * number, number * duration, duration / number */
    double d = a->type == RULES_DURATION ? (double)a->u.ms : (double)b->u.ms;
    double k = a->type == RULES_NUMBER ? a->u.number : b->u.number;
    double x = op == OP_MUL ? d * k : (k == 0 ? NAN : d / k);
    if (!(fabs(x) <= (double)RULES_MAX_DURATION_MS)) over = 1;
    else r = (int64_t)llround(x);
  }
  if (over || r == CX_NO_TIME) set_null(out);
  else set_ms(out, (rules_type)t, r);
}

static cx_err eval_node(evaluator *x, int32_t i, rules_value *out);

static const char *lit_str(const evaluator *x, int32_t i) { return x->e->nodes[i].lit.u.str.p; }

static cx_err eval_call(evaluator *x, const rules_node *nd, rules_value *out) {
  const rules_env *env = x->env;
  cx_err rc = CX_OK;
  switch (nd->op) {
  case F_COUNT:
  case F_SUM: {
    int w = nd->op == F_COUNT ? 1 : 2;
    int64_t window = nd->nargs > w ? x->e->nodes[nd->kid[w]].lit.u.ms : -1;
    double d = 0;
    if (nd->op == F_COUNT && env->count) rc = env->count(env->ctx, lit_str(x, nd->kid[0]), window, &d);
    if (nd->op == F_SUM && env->sum)
      rc = env->sum(env->ctx, lit_str(x, nd->kid[0]), lit_str(x, nd->kid[1]), window, &d);
    if (!rc) set_number(out, d);
    return rc;
  }
  case F_DAYS_SINCE: {
    int64_t t = CX_NO_TIME;
    if (env->last_time) rc = env->last_time(env->ctx, lit_str(x, nd->kid[0]), &t);
    if (rc) return rc;
    int64_t d;
    if (t == CX_NO_TIME || __builtin_sub_overflow(env->now_ms, t, &d)) set_null(out);
    else set_number(out, floor((double)d / 86400000.0));
    return CX_OK;
  }
  case F_HAS: {
    rules_value v;
    rc = eval_node(x, nd->kid[0], &v);
    if (!rc) set_bool(out, v.type != RULES_NULL);
    return rc;
  }
  case F_LOWER: {
    rules_value v;
    rc = eval_node(x, nd->kid[0], &v);
    if (rc) return rc;
    if (v.type != RULES_STRING) {
      set_null(out);
      return CX_OK;
    }
    if (!env->scratch || env->scratch_size - x->scratch_used < v.u.str.n ||
        x->scratch_used > env->scratch_size)
      return CX_ETOOBIG;
    char *o = env->scratch + x->scratch_used;
    for (size_t k = 0; k < v.u.str.n; k++) {
      char c = v.u.str.p[k];
      o[k] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    x->scratch_used += v.u.str.n;
    memset(out, 0, sizeof *out);
    out->type = RULES_STRING;
    out->u.str.p = o;
    out->u.str.n = v.u.str.n;
    return CX_OK;
  }
  default: { /* contains, starts_with, ends_with */
    rules_value s, q;
    rc = eval_node(x, nd->kid[0], &s);
    if (!rc) rc = eval_node(x, nd->kid[1], &q);
    if (rc) return rc;
    if (s.type != RULES_STRING || q.type != RULES_STRING || q.u.str.n > s.u.str.n) {
      set_bool(out, 0);
      return CX_OK;
    }
    size_t n = s.u.str.n, m = q.u.str.n;
    int hit = 0;
    if (m == 0) hit = 1;
    else if (nd->op == F_STARTS_WITH) hit = !memcmp(s.u.str.p, q.u.str.p, m);
    else if (nd->op == F_ENDS_WITH) hit = !memcmp(s.u.str.p + n - m, q.u.str.p, m);
    else
      for (size_t k = 0; k + m <= n && !hit; k++) hit = !memcmp(s.u.str.p + k, q.u.str.p, m);
    set_bool(out, hit);
    return CX_OK;
  }
  }
}

static cx_err eval_node(evaluator *x, int32_t i, rules_value *out) {
  const rules_node *nd = &x->e->nodes[i];
  const rules_env *env = x->env;
  rules_value a, b;
  cx_err rc;
  switch ((rules_node_kind)nd->kind) {
  case N_LIT:
  case N_LIST: *out = nd->lit; return CX_OK;
  case N_PATH:
    set_null(&a);
    if (env->lookup) {
      rc = env->lookup(env->ctx, rules_root_name[nd->op], nd->parts, nd->nparts, &a);
      if (rc) return rc;
    }
    if ((a.type == RULES_TIME && a.u.ms == CX_NO_TIME) || (a.type == RULES_NUMBER && (isnan(a.u.number) || isinf(a.u.number))) || a.type > RULES_LIST)
      set_null(&a);
    *out = a;
    return CX_OK;
  case N_NOW: set_ms(out, RULES_TIME, env->now_ms); return CX_OK;
  case N_FIRST_SEEN:
  case N_LAST_SEEN: {
    int64_t t = CX_NO_TIME;
    cx_err (*f)(void *, int64_t *) = nd->kind == N_FIRST_SEEN ? env->first_seen : env->last_seen;
    if (f && (rc = f(env->ctx, &t))) return rc;
    set_ms(out, RULES_TIME, t);
    return CX_OK;
  }
  case N_NOT:
    if ((rc = eval_node(x, nd->kid[0], &a))) return rc;
    set_bool(out, !is_true(&a));
    return CX_OK;
  case N_NEG:
    if ((rc = eval_node(x, nd->kid[0], &a))) return rc;
    if (a.type == RULES_NUMBER) set_number(out, -a.u.number);
    else if (a.type == RULES_DURATION && a.u.ms != INT64_MIN) set_ms(out, RULES_DURATION, -a.u.ms);
    else set_null(out);
    return CX_OK;
  case N_AND:
  case N_OR:
    if ((rc = eval_node(x, nd->kid[0], &a))) return rc;
    if (is_true(&a) == (nd->kind == N_OR)) { /* short circuit */
      set_bool(out, nd->kind == N_OR);
      return CX_OK;
    }
    if ((rc = eval_node(x, nd->kid[1], &b))) return rc;
    set_bool(out, is_true(&b));
    return CX_OK;
  case N_CMP: {
    if ((rc = eval_node(x, nd->kid[0], &a)) || (rc = eval_node(x, nd->kid[1], &b))) return rc;
    int c = 0;
    switch (nd->op) {
    case OP_EQ: set_bool(out, equal(&a, &b, 0)); break;
    case OP_NE: set_bool(out, !equal(&a, &b, 0)); break;
    case OP_LT: set_bool(out, order(&a, &b, &c) && c < 0); break;
    case OP_LE: set_bool(out, order(&a, &b, &c) && c <= 0); break;
    case OP_GT: set_bool(out, order(&a, &b, &c) && c > 0); break;
    default: set_bool(out, order(&a, &b, &c) && c >= 0); break;
    }
    return CX_OK;
  }
  case N_IN: {
    if ((rc = eval_node(x, nd->kid[0], &a)) || (rc = eval_node(x, nd->kid[1], &b))) return rc;
    int hit = 0;
    if (b.type == RULES_LIST)
      for (size_t k = 0; k < b.u.list.n && !hit; k++) hit = equal(&a, &b.u.list.items[k], 0);
    set_bool(out, hit);
    return CX_OK;
  }
  case N_ARITH:
    if ((rc = eval_node(x, nd->kid[0], &a)) || (rc = eval_node(x, nd->kid[1], &b))) return rc;
    arith(nd->op, &a, &b, out);
    return CX_OK;
  case N_CALL: return eval_call(x, nd, out);
  }
  set_null(out);
  return CX_OK;
}

cx_err rules_eval(const rules_expr *e, const rules_env *env, rules_value *out) {
  evaluator x = {.e = e, .env = env, .scratch_used = 0};
  rules_value v;
  cx_err rc = eval_node(&x, e->root, &v);
  if (!rc) *out = v;
  return rc;
}

int rules_match(const rules_expr *e, const rules_env *env) {
  rules_value v;
  return rules_eval(e, env, &v) == CX_OK && is_true(&v);
}
