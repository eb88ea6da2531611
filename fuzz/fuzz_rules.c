/* fuzz_rules.c - libFuzzer driver for the rules language (lib/rules).
 *
 * Arbitrary bytes are compiled. A rejected input must leave a position
 * within the input and a non-empty, valid UTF-8 message. An accepted one
 * is described; the description must compile again (when it fits the
 * source limit) and describe identically, and the two rules must evaluate
 * to the same value against a small fixed customer. */
#include "../lib/base/buf.h"
#include "../lib/base/time.h"
#include "../lib/base/util.h"
#include "../lib/rules/rules.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_rules: invariant broken: %s\n", what);
    abort();
  }
}

#define NOW 1748779200000LL

static const rules_value items[] = {
    {.type = RULES_STRING, .u.str = {"beta", 4}},
    {.type = RULES_NUMBER, .u.number = 2},
    {.type = RULES_NULL},
};
static const rules_value nested[] = {
    {.type = RULES_LIST, .u.list = {items, 3}},
};

static cx_err f_lookup(void *ctx, const char *root, const char *const *parts, size_t nparts,
                       rules_value *out) {
  (void)ctx;
  check(nparts >= 1 && nparts <= RULES_MAX_PATH, "path length");
  switch ((strlen(root) + strlen(parts[nparts - 1]) + nparts) % 7) {
  case 0: out->type = RULES_STRING, out->u.str.p = "Plus Plan", out->u.str.n = 9; break;
  case 1: out->type = RULES_NUMBER, out->u.number = 149.5; break;
  case 2: out->type = RULES_BOOL, out->u.boolean = 1; break;
  case 3: out->type = RULES_LIST, out->u.list.items = items, out->u.list.n = 3; break;
  case 4: out->type = RULES_TIME, out->u.ms = NOW - 3600000; break;
  case 5: out->type = RULES_LIST, out->u.list.items = nested, out->u.list.n = 1; break;
  default: break; /* null */
  }
  return CX_OK;
}

static cx_err f_count(void *ctx, const char *name, int64_t window, double *out) {
  (void)ctx;
  check(window == -1 || window > 0, "window");
  *out = (double)(strlen(name) % 5);
  return CX_OK;
}

static cx_err f_sum(void *ctx, const char *name, const char *property, int64_t window, double *out) {
  (void)ctx;
  check(window == -1 || window > 0, "window");
  *out = (double)strlen(name) * 10.5 + (double)strlen(property);
  return CX_OK;
}

static cx_err f_last_time(void *ctx, const char *name, int64_t *out) {
  (void)ctx;
  *out = strlen(name) % 3 ? NOW - (int64_t)strlen(name) * 86400000 : CX_NO_TIME;
  return CX_OK;
}

static cx_err f_first_seen(void *ctx, int64_t *out) {
  (void)ctx;
  *out = NOW - 400LL * 86400000;
  return CX_OK;
}

static cx_err f_last_seen(void *ctx, int64_t *out) {
  (void)ctx;
  *out = CX_NO_TIME;
  return CX_OK;
}

/* The value as text, or the error's name. */
static void eval_text(const rules_expr *e, char *scratch, size_t scratch_size, cx_buf *out) {
  rules_env env = {.now_ms = NOW,
                   .lookup = f_lookup,
                   .count = f_count,
                   .sum = f_sum,
                   .last_time = f_last_time,
                   .first_seen = f_first_seen,
                   .last_seen = f_last_seen,
                   .scratch = scratch,
                   .scratch_size = scratch_size};
  rules_value v;
  cx_err rc = rules_eval(e, &env, &v);
  if (rc) {
    cx_buf_puts(out, cx_strerror(rc));
    return;
  }
  rules_match(e, &env);
  check(rules_value_describe(&v, out) == CX_OK, "value describe");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rules_expr *e = NULL;
  rules_error err;
  cx_err rc = rules_compile((const char *)data, size, &e, &err);
  if (rc) {
    check(e == NULL, "no tree on error");
    check(rc == CX_EINVAL || rc == CX_ETOOBIG, "error code");
    check(err.pos <= size, "error position within the input");
    size_t mlen = strlen(err.message);
    check(mlen > 0 && mlen < sizeof err.message, "message");
    check(cx_utf8_valid(err.message, mlen), "message is UTF-8");
    return 0;
  }
  cx_buf d1, d2, v1, v2;
  cx_buf_init(&d1, 1 << 20);
  cx_buf_init(&d2, 1 << 20);
  cx_buf_init(&v1, 1 << 20);
  cx_buf_init(&v2, 1 << 20);
  check(rules_describe(e, &d1) == CX_OK, "describe");
  char s1[64], s2[64];
  eval_text(e, s1, sizeof s1, &v1);
  if (d1.len <= RULES_MAX_SOURCE) {
    rules_expr *e2 = NULL;
    rc = rules_compile(d1.p, d1.len, &e2, &err);
    if (rc) fprintf(stderr, "description: %s\nerror: %s\n", d1.p, err.message);
    check(rc == CX_OK, "the description compiles");
    check(rules_describe(e2, &d2) == CX_OK, "describe again");
    if (strcmp(d1.p, d2.p)) fprintf(stderr, "first:  %s\nsecond: %s\n", d1.p, d2.p);
    check(d1.len == d2.len && !memcmp(d1.p, d2.p, d1.len), "describes identically");
    eval_text(e2, s2, sizeof s2, &v2);
    if (strcmp(v1.p ? v1.p : "", v2.p ? v2.p : ""))
      fprintf(stderr, "rule: %s\nvalues: %s / %s\n", d1.p, v1.p, v2.p);
    check(!strcmp(v1.p ? v1.p : "", v2.p ? v2.p : ""), "same value");
    rules_free(e2);
  }
  rules_free(e);
  cx_buf_free(&d1);
  cx_buf_free(&d2);
  cx_buf_free(&v1);
  cx_buf_free(&v2);
  return 0;
}
