/* test_rules.c - unit tests of lib/rules: every example of docs/rules.md
 * against the manual's example customer, then precedence, error messages
 * and their positions, limits (at and one past), escapes, UTF-8,
 * durations, null semantics, short-circuiting, callbacks' errors, the
 * scratch buffer, allocation failure and the describe round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../lib/base/buf.h"
#include "../../lib/base/mem.h"
#include "../../lib/base/time.h"
#include "../../lib/rules/rules.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the manual's example customer (docs/rules.md, "The example customer") ---- */

#define NOW 1748779200000LL /* 2025-06-01T12:00:00.000Z */
#define DAY 86400000LL
#define HOUR 3600000LL

typedef struct {
  const char *name;
  int64_t ago;
  double revenue; /* NAN: no revenue property */
} event;

static const event history[] = {
    {"Signed Up", 400 * DAY, NAN},       {"Order Completed", 300 * DAY, 200},
    {"Order Completed", 150 * DAY, 120}, {"Order Completed", 80 * DAY, 180},
    {"Order Completed", 40 * DAY, 250},  {"Order Completed", 12 * DAY, 95.5},
    {"Product Viewed", 5 * DAY, NAN},    {"Product Viewed", 2 * DAY, NAN},
    {"Order Completed", 1 * HOUR, 149.5}, /* the current event */
};
#define NHISTORY (sizeof history / sizeof history[0])

static const rules_value tag_items[] = {
    {.type = RULES_STRING, .u.str = {"newsletter", 10}},
    {.type = RULES_STRING, .u.str = {"beta", 4}},
};

typedef struct {
  int calls;       /* callbacks made */
  cx_err fail;     /* returned by every callback when set */
  int no_history;  /* a customer with no events */
} customer;

static void str_value(rules_value *out, const char *s) {
  out->type = RULES_STRING;
  out->u.str.p = s;
  out->u.str.n = strlen(s);
}

static void num_value(rules_value *out, double d) {
  out->type = RULES_NUMBER;
  out->u.number = d;
}

static cx_err c_lookup(void *ctx, const char *root, const char *const *parts, size_t nparts,
                       rules_value *out) {
  customer *c = ctx;
  c->calls++;
  if (c->fail) return c->fail;
  const char *a = parts[0];
  if (!strcmp(root, "traits") && nparts == 1) {
    if (!strcmp(a, "plan")) str_value(out, "plus");
    else if (!strcmp(a, "email")) str_value(out, "Ana.Souza@Example.com");
    else if (!strcmp(a, "name")) str_value(out, "Ana Souza");
    else if (!strcmp(a, "country")) str_value(out, "BR");
    else if (!strcmp(a, "vip")) out->type = RULES_BOOL, out->u.boolean = 1;
    else if (!strcmp(a, "lifetime_value")) num_value(out, 995);
    else if (!strcmp(a, "tags")) out->type = RULES_LIST, out->u.list.items = tag_items, out->u.list.n = 2;
  } else if (!strcmp(root, "customer") && nparts == 1) {
    if (!strcmp(a, "stage")) str_value(out, "active");
    else if (!strcmp(a, "id")) str_value(out, "c_1042");
  } else if (!strcmp(root, "event")) {
    if (nparts == 1 && !strcmp(a, "name")) str_value(out, "Order Completed");
    else if (nparts == 1 && !strcmp(a, "type")) str_value(out, "track");
    else if (nparts == 1 && !strcmp(a, "timestamp")) out->type = RULES_TIME, out->u.ms = NOW - HOUR;
    else if (nparts == 2 && !strcmp(a, "properties")) {
      if (!strcmp(parts[1], "revenue")) num_value(out, 149.5);
      else if (!strcmp(parts[1], "currency")) str_value(out, "EUR");
      else if (!strcmp(parts[1], "coupon")) str_value(out, "SPRING25");
    }
  }
  return CX_OK;
}

static int in_window(const event *ev, int64_t window) { return window < 0 || ev->ago < window; }

static cx_err c_count(void *ctx, const char *name, int64_t window, double *out) {
  customer *c = ctx;
  c->calls++;
  if (c->fail) return c->fail;
  double n = 0;
  for (size_t i = 0; i < NHISTORY && !c->no_history; i++)
    if (!strcmp(history[i].name, name) && in_window(&history[i], window)) n++;
  *out = n;
  return CX_OK;
}

static cx_err c_sum(void *ctx, const char *name, const char *property, int64_t window, double *out) {
  customer *c = ctx;
  c->calls++;
  if (c->fail) return c->fail;
  double s = 0;
  for (size_t i = 0; i < NHISTORY && !c->no_history; i++)
    if (!strcmp(history[i].name, name) && in_window(&history[i], window) &&
        !strcmp(property, "revenue") && !isnan(history[i].revenue))
      s += history[i].revenue;
  *out = s;
  return CX_OK;
}

static cx_err c_last_time(void *ctx, const char *name, int64_t *out) {
  customer *c = ctx;
  c->calls++;
  if (c->fail) return c->fail;
  *out = CX_NO_TIME;
  for (size_t i = 0; i < NHISTORY && !c->no_history; i++)
    if (!strcmp(history[i].name, name)) *out = NOW - history[i].ago;
  return CX_OK;
}

static cx_err c_first_seen(void *ctx, int64_t *out) {
  customer *c = ctx;
  c->calls++;
  if (c->fail) return c->fail;
  *out = c->no_history ? CX_NO_TIME : NOW - history[0].ago;
  return CX_OK;
}

static cx_err c_last_seen(void *ctx, int64_t *out) {
  customer *c = ctx;
  c->calls++;
  if (c->fail) return c->fail;
  *out = c->no_history ? CX_NO_TIME : NOW - history[NHISTORY - 1].ago;
  return CX_OK;
}

static char scratch[256];

static rules_env make_env(customer *c) {
  rules_env env = {.ctx = c,
                   .now_ms = NOW,
                   .lookup = c_lookup,
                   .count = c_count,
                   .sum = c_sum,
                   .last_time = c_last_time,
                   .first_seen = c_first_seen,
                   .last_seen = c_last_seen,
                   .scratch = scratch,
                   .scratch_size = sizeof scratch};
  return env;
}

/* ---- helpers ---- */

/* Compiles s from an exactly sized heap copy, so that ASan sees any read
 * past the end. */
static cx_err compile(const char *s, size_t n, rules_expr **out, rules_error *err) {
  char *copy = malloc(n ? n : 1);
  assert_non_null(copy);
  memcpy(copy, s, n);
  cx_err rc = rules_compile(copy, n, out, err);
  free(copy);
  return rc;
}

/* The result of s against the example customer, as the manual writes it
 * ("true", "3", "error at 4: ..."), into out. */
static void run(const char *s, size_t n, char *out, size_t outlen) {
  rules_expr *e = NULL;
  rules_error err;
  cx_err rc = compile(s, n, &e, &err);
  if (rc) {
    snprintf(out, outlen, "error %s", err.message);
    return;
  }
  customer c = {0};
  rules_env env = make_env(&c);
  rules_value v;
  rc = rules_eval(e, &env, &v);
  if (rc) {
    snprintf(out, outlen, "eval failed: %s", cx_strerror(rc));
  } else {
    cx_buf b;
    cx_buf_init(&b, 4096);
    assert_int_equal(rules_value_describe(&v, &b), CX_OK);
    snprintf(out, outlen, "%s", b.p);
    cx_buf_free(&b);
  }
  rules_free(e);
}

static void expect(const char *src, const char *want) {
  char got[512];
  run(src, strlen(src), got, sizeof got);
  if (strcmp(got, want)) print_error("%s\n  want: %s\n  got:  %s\n", src, want, got);
  assert_string_equal(got, want);
}

static void expect_describe(const char *src, const char *want) {
  rules_expr *e = NULL;
  rules_error err;
  cx_err rc = compile(src, strlen(src), &e, &err);
  if (rc) print_error("%s: %s\n", src, err.message);
  assert_int_equal(rc, CX_OK);
  cx_buf b;
  cx_buf_init(&b, 1 << 16);
  assert_int_equal(rules_describe(e, &b), CX_OK);
  if (strcmp(b.p, want)) print_error("%s\n  want: %s\n  got:  %s\n", src, want, b.p);
  assert_string_equal(b.p, want);
  /* and the round trip */
  rules_expr *e2 = NULL;
  rc = compile(b.p, b.len, &e2, &err);
  if (rc) print_error("recompiling %s: %s\n", b.p, err.message);
  assert_int_equal(rc, CX_OK);
  cx_buf b2;
  cx_buf_init(&b2, 1 << 16);
  assert_int_equal(rules_describe(e2, &b2), CX_OK);
  assert_string_equal(b.p, b2.p);
  cx_buf_free(&b);
  cx_buf_free(&b2);
  rules_free(e);
  rules_free(e2);
}

static char *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, len = 0;
  char *p = malloc(cap + 1);
  size_t k;
  while (p && (k = fread(p + len, 1, cap - len, f)) > 0) {
    len += k;
    if (len == cap) p = realloc(p, (cap *= 2) + 1);
  }
  fclose(f);
  if (p) p[len] = 0;
  *n = len;
  return p;
}

/* docs/rules.md from the repository root (where `make unit` runs the
 * tests), or next to this file. */
static char *read_manual(size_t *n) {
  char *p = read_file("docs/rules.md", n);
  if (p) return p;
  char path[1024];
  snprintf(path, sizeof path, "%s", __FILE__);
  char *slash = strrchr(path, '/');
  if (slash) {
    snprintf(slash, sizeof path - (size_t)(slash - path), "/../../docs/rules.md");
    p = read_file(path, n);
  }
  return p;
}

/* ---- the manual ---- */

/* Every ```rule block is followed (after blank lines) by "→ result". */
static void test_manual_examples(void **state) {
  (void)state;
  size_t n;
  char *doc = read_manual(&n);
  if (!doc) fail_msg("cannot read docs/rules.md");
  const char *open = "```rule\n", *arrow = "→ ";
  int examples = 0, failures = 0;
  for (char *at = strstr(doc, open); at; at = strstr(at, open)) {
    char *src = at + strlen(open);
    char *end = strstr(src, "\n```");
    assert_non_null(end);
    size_t len = (size_t)(end - src);
    char *line = end + 4;
    while (*line == '\n') line++;
    if (strncmp(line, arrow, strlen(arrow))) {
      fail_msg("docs/rules.md: no \"→ result\" line after the example: %.*s", (int)len, src);
    }
    char *want = line + strlen(arrow);
    char *eol = strchr(want, '\n');
    size_t wlen = eol ? (size_t)(eol - want) : strlen(want);
    char got[512];
    run(src, len, got, sizeof got);
    if (strlen(got) != wlen || memcmp(got, want, wlen)) {
      print_error("docs/rules.md example:\n%.*s\n  want: %.*s\n  got:  %s\n", (int)len, src,
                  (int)wlen, want, got);
      failures++;
    }
    examples++;
    at = end;
  }
  free(doc);
  print_message("docs/rules.md: %d examples, %d failed\n", examples, failures);
  assert_true(examples >= 40);
  assert_int_equal(failures, 0);
}

/* ---- focused tests ---- */

static void test_precedence(void **state) {
  (void)state;
  expect("1 + 2 * 3", "7");
  expect("(1 + 2) * 3", "9");
  expect("10 - 4 - 3", "3");       /* left-associative */
  expect("100 / 10 / 5", "2");
  expect("2 * 7 % 4", "2");        /* (2 * 7) % 4 */
  expect("-2 * 3", "-6");
  expect("- (2 + 3) * 2", "-10");
  expect("true || false && false", "true");
  expect("(true || false) && false", "false");
  expect("!true || true", "true");     /* (!true) || true */
  expect("!false && false", "false");  /* (!false) && false */
  expect("!1 == 2", "true");           /* !(1 == 2): ! is weaker than == */
  expect("1 + 1 == 2 && 2 * 2 == 4", "true");
  expect("1 in [1, 2] && 3 in [1, 2] || true", "true");
  expect("!!true", "true");
  expect("- -3", "3");
  expect("--3", "3");
  expect_describe("1 + 2 * 3", "1 + 2 * 3");
  expect_describe("(1 + 2) * 3", "(1 + 2) * 3");
  expect_describe("1 - (2 - 3)", "1 - (2 - 3)");
  expect_describe("(1 - 2) - 3", "1 - 2 - 3");
  expect_describe("((((traits.a))))", "traits.a");
  expect_describe("!(traits.a == 1)", "!traits.a == 1");
  expect_describe("!(traits.a && traits.b)", "!(traits.a && traits.b)");
  expect_describe("traits.a || traits.b && traits.c", "traits.a || traits.b && traits.c");
  expect_describe("(traits.a || traits.b) && traits.c", "(traits.a || traits.b) && traits.c");
  expect_describe("traits.a == (!traits.b)", "traits.a == (!traits.b)");
  expect_describe("(traits.a == 1) == true", "(traits.a == 1) == true");
  expect_describe("-(traits.x)", "-traits.x");
  expect_describe("-(-traits.x)", "- -traits.x");
  expect_describe("2 - -traits.x", "2 - -traits.x");
  expect_describe("(-2) * 3", "-2 * 3");
  expect_describe("- - 2", "2");
  expect_describe("traits.a in [1, \"a\", 2h, null, true, -1]",
                  "traits.a in [1, \"a\", 2h, null, true, -1]");
}

typedef struct {
  const char *src;
  const char *message;
  size_t pos;
} bad_case;

static void test_error_messages(void **state) {
  (void)state;
  static const bad_case cases[] = {
      {"", "at 0: expected a value, a path or \"(\", found end of input", 0},
      {"   ", "at 3: expected a value, a path or \"(\", found end of input", 3},
      {"count(\"Order Completed\", 30d 30d)",
       "at 29: expected \")\" after the arguments of count, found \"30d\"", 29},
      {"count(\"a\" 30d)", "at 10: expected \",\" or \")\" after an argument of count, found \"30d\"", 10},
      {"count()", "at 6: too few arguments: count(name[, window])", 6},
      {"sum(\"Order Completed\")", "at 21: too few arguments: sum(name, property[, window])", 21},
      {"count(traits.plan)",
       "at 6: the first argument of count must be an event name in quotes, such as \"Order Completed\"", 6},
      {"sum(\"a\", revenue)", "at 9: unknown name \"revenue\"; a path starts with traits., event., customer., response. or answers., "
                              "and the other names are now, first_seen and last_seen", 9},
      {"sum(\"a\", 3)", "at 9: the second argument of sum must be a property name in quotes, such as \"revenue\"", 9},
      {"count(\"a\", 30)", "at 11: the window of count must be a duration such as 30d", 11},
      {"count(\"a\", -30d)", "at 11: the window of count must be longer than 0", 11},
      {"count(\"a\", 0s)", "at 11: the window of count must be longer than 0", 11},
      {"frequency(\"a\")", "at 0: unknown function \"frequency\"; the functions are count, sum, days_since, "
                           "has, lower, contains, starts_with and ends_with", 0},
      {"plan == 1", "at 0: unknown name \"plan\"; a path starts with traits., event., customer., response. or answers., and the "
                    "other names are now, first_seen and last_seen", 0},
      {"traits", "at 6: expected \".\" and a name after traits (as in traits.plan), found end of input", 6},
      {"traits.", "at 7: expected a name after \".\", found end of input", 7},
      {"traits.1", "at 7: expected a name after \".\", found \"1\"", 7},
      {"(1 + 2", "at 6: expected \")\" to close the \"(\" at 0, found end of input", 6},
      {"1 + 2)", "at 5: expected an operator (this \")\" closes nothing) or the end of the rule, found \")\"", 5},
      {"1 2", "at 2: expected an operator or the end of the rule, found \"2\"", 2},
      {"a = 1", "at 0: unknown name \"a\"; a path starts with traits., event., customer., response. or answers., and the other "
                "names are now, first_seen and last_seen", 0},
      {"traits.a = 1", "at 9: unexpected \"=\"; write == to compare", 9},
      {"true & false", "at 5: unexpected \"&\"; write &&", 5},
      {"true | false", "at 5: unexpected \"|\"; write ||", 5},
      {"1 < 2 < 3", "at 6: comparisons do not chain: join them with &&, found \"<\"", 6},
      {"\"abc", "at 0: unterminated string: expected a closing \"", 0},
      {"\"a\\qb\"", "at 2: unknown escape \\q; use \\\", \\\\, \\n, \\t or \\uXXXX", 2},
      {"\"\\u12\"", "at 1: expected four hex digits after \\u", 1},
      {"\"\\u0000\"", "at 1: \\u0000 is not allowed in a string", 1},
      {"\"\\uD800\"", "at 1: \\uD800 must be followed by a low surrogate \\uDC00-\\uDFFF", 1},
      {"\"\\uDC00\"", "at 1: \\uDC00 is half of a surrogate pair; it must follow a \\uD800-\\uDBFF", 1},
      {"\"a\nb\"", "at 2: control character 0x0A in a string; write \\n or \\t", 2},
      {"30x", "at 2: unknown duration unit \"x\"; use ms, s, m, h, d or w", 2},
      {"30days", "at 2: unknown duration unit \"days\"; use ms, s, m, h, d or w", 2},
      {"1.", "at 2: expected a digit after the decimal point", 2},
      {"1.h", "at 2: expected a digit after the decimal point", 2},
      {"0.0001s", "at 0: duration is not a whole number of milliseconds", 0},
      {"99999999999999999999w", "at 0: duration too long (the limit is about 285,000 years)", 0},
      {"now - first_seen > 30", "at 17: cannot order a duration and a number; write a duration such as 30d", 17},
      {"\"a\" < 1", "at 4: cannot order a string and a number", 4},
      {"1 < null", "at 2: cannot order a number and null", 2},
      {"count(\"a\") == \"3\"", "at 11: cannot compare a number with a string; they are never equal", 11},
      {"\"a\" + 1", "at 4: cannot add a string and a number", 4},
      {"null + 1", "at 5: cannot add null and a number", 5},
      {"1 - now", "at 2: cannot subtract a time from a number", 2},
      {"30d / \"x\"", "at 4: cannot divide a duration by a string", 4},
      {"-\"a\"", "at 0: cannot negate a string", 0},
      {"!5", "at 1: expected a condition after !, found a number", 1},
      {"1 && true", "at 0: expected a condition before &&, found a number", 0},
      {"true || 30d", "at 8: expected a condition after ||, found a duration", 8},
      {"traits.plan in \"plus\"", "at 15: expected a list after in, such as [\"plus\", \"premium\"], found a string", 15},
      {"traits.plan in [traits.a]", "at 16: a list holds only literals (numbers, strings, durations, true, false, null)", 16},
      {"[1 2]", "at 3: expected \",\" or \"]\" in the list, found \"2\"", 3},
      {"has(1)", "at 4: has expects a path such as traits.plan", 4},
      {"lower(1)", "at 6: the first argument of lower must be a string, found a number", 6},
      {"contains(traits.a, 2)", "at 19: the second argument of contains must be a string, found a number", 19},
      {"1 # 2", "at 2: unexpected character \"#\"", 2},
      {"1 \x01", "at 2: unexpected control character 0x01", 2},
      {"traits.a == é", "at 12: unexpected character \"é\"", 12},
      {"\"abcdefghijklmnopqrstuvwxyz\" \"b\"",
       "at 29: expected an operator or the end of the rule, found the string \"b\"", 29},
      {"1 \"abcdefghijklmnopqrstuvwxyz\"",
       "at 2: expected an operator or the end of the rule, found the string \"abcdefghijklmnopqrstuvw…", 2},
      /* the excerpt is cut at a character boundary (found by fuzz_rules) */
      {"1 \"aaaaaaaaaaaaaaaaaaaaaaéb\"",
       "at 2: expected an operator or the end of the rule, found the string \"aaaaaaaaaaaaaaaaaaaaaa…", 2},
      {"count(\"a\", 1d, 2)", "at 13: expected \")\" after the arguments of count, found \",\"", 13},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rules_expr *e = NULL;
    rules_error err;
    cx_err rc = compile(cases[i].src, strlen(cases[i].src), &e, &err);
    if (rc == CX_OK) {
      print_error("compiled: %s\n", cases[i].src);
      rules_free(e);
    }
    assert_int_not_equal(rc, CX_OK);
    assert_null(e);
    if (strcmp(err.message, cases[i].message) || err.pos != cases[i].pos)
      print_error("%s\n  want: %s (%zu)\n  got:  %s (%zu)\n", cases[i].src, cases[i].message,
                  cases[i].pos, err.message, err.pos);
    assert_string_equal(err.message, cases[i].message);
    assert_int_equal(err.pos, cases[i].pos);
  }
  /* a NULL err is allowed */
  rules_expr *e = NULL;
  assert_int_equal(rules_compile("1 +", 3, &e, NULL), CX_EINVAL);
}

static cx_err compile_str(const char *s, rules_error *err) {
  rules_expr *e = NULL;
  cx_err rc = compile(s, strlen(s), &e, err);
  rules_free(e);
  return rc;
}

static void test_limits(void **state) {
  (void)state;
  rules_error err;
  char *s = malloc(RULES_MAX_SOURCE + 2);
  assert_non_null(s);
  /* source: 4096 bytes, then one more */
  memset(s, ' ', RULES_MAX_SOURCE);
  s[0] = '1';
  s[RULES_MAX_SOURCE] = 0;
  assert_int_equal(compile_str(s, &err), CX_OK);
  s[RULES_MAX_SOURCE] = ' ';
  s[RULES_MAX_SOURCE + 1] = 0;
  assert_int_equal(compile_str(s, &err), CX_ETOOBIG);
  assert_string_equal(err.message, "at 4096: the rule is longer than 4096 bytes");
  /* depth: 64 parentheses, then 65 */
  size_t k = 0;
  for (int i = 0; i < RULES_MAX_DEPTH; i++) s[k++] = '(';
  s[k++] = '1';
  for (int i = 0; i < RULES_MAX_DEPTH; i++) s[k++] = ')';
  s[k] = 0;
  assert_int_equal(compile_str(s, &err), CX_OK);
  k = 0;
  for (int i = 0; i < RULES_MAX_DEPTH + 1; i++) s[k++] = '(';
  s[k++] = '1';
  for (int i = 0; i < RULES_MAX_DEPTH + 1; i++) s[k++] = ')';
  s[k] = 0;
  assert_int_equal(compile_str(s, &err), CX_ETOOBIG);
  assert_string_equal(err.message, "at 64: nested more than 64 levels deep");
  /* depth counts !, unary -, calls and lists too */
  k = 0;
  for (int i = 0; i < RULES_MAX_DEPTH; i++) s[k++] = '!';
  memcpy(s + k, "true", 5);
  assert_int_equal(compile_str(s, &err), CX_OK);
  s[k++] = '!';
  memcpy(s + k, "true", 5);
  assert_int_equal(compile_str(s, &err), CX_ETOOBIG);
  assert_int_equal(err.pos, 64);
  /* nodes: a list of 1023 items is 1024 nodes; 1024 items is one too many */
  k = 0;
  s[k++] = '[';
  for (int i = 0; i < RULES_MAX_NODES - 1; i++) {
    if (i) s[k++] = ',';
    s[k++] = '1';
  }
  s[k++] = ']';
  s[k] = 0;
  assert_int_equal(compile_str(s, &err), CX_OK);
  memcpy(s + k - 1, ",1]", 4);
  assert_int_equal(compile_str(s, &err), CX_ETOOBIG);
  assert_string_equal(err.message, "at 0: the rule is too complex: more than 1024 operators and operands");
  /* paths: 16 names after the root, then 17 */
  k = (size_t)snprintf(s, 64, "traits");
  for (int i = 0; i < RULES_MAX_PATH; i++) k += (size_t)snprintf(s + k, 8, ".a");
  assert_int_equal(compile_str(s, &err), CX_OK);
  snprintf(s + k, 8, ".a");
  assert_int_equal(compile_str(s, &err), CX_ETOOBIG);
  assert_string_equal(err.message, "at 39: a path has at most 16 names after its root");
  free(s);
}

static void test_strings_and_escapes(void **state) {
  (void)state;
  expect("\"a\\\"b\"", "\"a\\\"b\"");
  expect("\"a\\\\b\" == \"a\" + \"\"", "error at 14: cannot add a string and a string");
  expect("contains(\"line\\nnext\", \"\\n\")", "true");
  expect("\"tab\\there\" == \"tab\\u0009here\"", "true");
  expect("\"\\u00e9\" == \"é\"", "true");
  expect("\"\\u00E9\"", "\"é\"");
  expect("\"\\uD83D\\uDE00\" == \"😀\"", "true");
  expect("\"\\u0007\"", "\"\\u0007\"");
  expect("\"\"", "\"\"");
  expect("\"b\" > \"a\" && \"a\" < \"ab\" && \"Z\" < \"a\"", "true"); /* bytewise */
  expect("\"é\" > \"z\"", "true");
  expect_describe("\"q\\\"uo\\\\te\\n\\t\\u0001é\"", "\"q\\\"uo\\\\te\\n\\t\\u0001é\"");
}

static void test_invalid_utf8(void **state) {
  (void)state;
  static const struct {
    const char *s;
    size_t pos;
  } cases[] = {
      {"\"\xff\"", 1},        {"\"a\xc3\"", 2},        {"\"\xc0\xaf\"", 1}, /* overlong */
      {"\"\xed\xa0\x80\"", 1}, /* surrogate */        {"\"\xf4\x90\x80\x80\"", 1}, /* > U+10FFFF */
      {"1 == \xe2\x82", 5},   {"\x80", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rules_error err;
    rules_expr *e = NULL;
    assert_int_equal(compile(cases[i].s, strlen(cases[i].s), &e, &err), CX_EINVAL);
    assert_int_equal(err.pos, cases[i].pos);
    char want[64];
    snprintf(want, sizeof want, "at %zu: invalid UTF-8", cases[i].pos);
    assert_string_equal(err.message, want);
  }
  /* a NUL byte is a control character, not the end */
  rules_error err;
  rules_expr *e = NULL;
  assert_int_equal(compile("\"a\0b\"", 5, &e, &err), CX_EINVAL);
  assert_string_equal(err.message, "at 2: control character 0x00 in a string; write \\n or \\t");
  assert_int_equal(compile("1\0", 2, &e, &err), CX_EINVAL);
  assert_string_equal(err.message, "at 1: unexpected control character 0x00");
}

static void test_durations(void **state) {
  (void)state;
  expect("1500ms", "1500ms");
  expect("90s", "90s");
  expect("60s", "1m");
  expect("1.5h", "90m");
  expect("24h", "1d");
  expect("14d", "2w");
  expect("0.5s", "500ms");
  expect("0s", "0s");
  expect("-30d", "-30d");
  expect("30d == 720h", "true");
  expect("1d + 12h", "36h");
  expect("1w - 1d", "6d");
  expect("2 * 30m", "1h");
  expect("30m * 2", "1h");
  expect("1h / 2", "30m");
  expect("1d / 1h", "24");
  expect("25h % 1d", "1h");
  expect("1h / 0", "null");
  expect("1d / 0s", "null");
  expect("30d > 4w && 1h < 61m", "true");
  expect("now - 1d", "2025-05-31T12:00:00.000Z");
  expect("now - (now - 2h)", "2h");
  expect("first_seen + 400d == now", "true");
  expect("9007199254740992ms", "9007199254740992ms");
  expect("9007199254740993ms", "error at 0: duration too long (the limit is about 285,000 years)");
  expect_describe("[1000ms, 7d, 1.25h, 0.001s]", "[1s, 1w, 75m, 1ms]");
}

static void test_numbers(void **state) {
  (void)state;
  expect("0.1 + 0.2", "0.30000000000000004");
  expect("123.450", "123.45");
  expect("007", "7");
  expect("1 / 3", "0.3333333333333333");
  expect("100000000000000000000", "100000000000000000000");
  expect("0.000001", "0.000001");
  expect("1 / 0", "null");
  expect("5 % 0", "null");
  expect("7 % 3", "1");
  expect("-7 % 3", "-1");
  expect("-0", "-0");
  expect("-0 == 0", "true");
  expect("1" "000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "000000000000000000000000000000000000000000000000000000000000000000000000000000",
         "error at 0: number too large");
  {
    char big[400]; /* 10^308 * 10 overflows to infinity, which is null */
    big[0] = '1';
    memset(big + 1, '0', 308);
    snprintf(big + 309, sizeof big - 309, " * 10");
    expect(big, "null");
    snprintf(big + 309, sizeof big - 309, " / 10");
    char want[400];
    want[0] = '1';
    memset(want + 1, '0', 307);
    want[308] = 0;
    expect(big, want);
  }
  expect("1e3", "error at 1: unknown duration unit \"e3\"; use ms, s, m, h, d or w");
  expect_describe("[0.5, 0.1, 1234567.125, -2.5]", "[0.5, 0.1, 1234567.125, -2.5]");
}

static void test_null_semantics(void **state) {
  (void)state;
  expect("traits.missing", "null");
  expect("traits.missing == null", "true");
  expect("traits.missing != null", "false");
  expect("null == null", "true");
  expect("traits.missing == 0", "false");
  expect("traits.missing != \"x\"", "true");
  expect("traits.missing > 0", "false");
  expect("traits.missing <= 0", "false");
  expect("!traits.missing", "true");
  expect("!null", "true");
  expect("traits.missing && true", "false");
  expect("traits.missing || true", "true");
  expect("null || null", "false");
  expect("traits.missing + 1", "null");
  expect("-traits.missing", "null");
  expect("traits.plan + 1", "null");      /* a string: wrong type at run time */
  expect("traits.plan > 1", "false");     /* ordering across types */
  expect("traits.plan == 1", "false");
  expect("traits.plan != 1", "true");
  expect("traits.plan in [1, 2]", "false");
  expect("traits.missing in [null]", "true");
  expect("traits.missing in [1]", "false");
  expect("1 in traits.plan", "false");     /* not a list at run time */
  expect("lower(traits.missing)", "null");
  expect("contains(traits.missing, \"a\")", "false");
  expect("has(traits.missing)", "false");
  expect("has(traits.plan)", "true");
  expect("days_since(\"Refund Issued\")", "null");
  expect("days_since(\"Refund Issued\") > 30", "false");
  expect("!(days_since(\"Refund Issued\") <= 30)", "true");
  expect("traits.vip", "true");
  expect("!traits.vip", "false");
  expect("!traits.plan", "true"); /* only true is true */
  expect("traits.tags == [\"newsletter\", \"beta\"]", "true");
  expect("traits.tags == [\"beta\", \"newsletter\"]", "false");
}

static void test_no_history(void **state) {
  (void)state;
  rules_expr *e;
  rules_error err;
  const char *s = "first_seen == null && last_seen == null && count(\"Order Completed\") == 0 && "
                  "days_since(\"Order Completed\") == null && now - first_seen == null";
  assert_int_equal(rules_compile(s, strlen(s), &e, &err), CX_OK);
  customer c = {.no_history = 1};
  rules_env env = make_env(&c);
  assert_int_equal(rules_match(e, &env), 1);
  /* an env with no callbacks at all: paths and times are null, counts 0 */
  rules_env bare = {.now_ms = NOW};
  assert_int_equal(rules_match(e, &bare), 1);
  rules_free(e);
}

static void test_short_circuit(void **state) {
  (void)state;
  static const struct {
    const char *src;
    int calls;
  } cases[] = {
      {"false && count(\"Order Completed\") > 0", 0},
      {"true || count(\"Order Completed\") > 0", 0},
      {"null && count(\"Order Completed\") > 0", 0},
      {"traits.missing && count(\"Order Completed\") > 0", 1},
      {"true && count(\"Order Completed\") > 0", 1},
      {"false || count(\"Order Completed\") > 0", 1},
      {"traits.vip || days_since(\"x\") > 1 || count(\"y\") > 1", 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rules_expr *e;
    rules_error err;
    assert_int_equal(rules_compile(cases[i].src, strlen(cases[i].src), &e, &err), CX_OK);
    customer c = {0};
    rules_env env = make_env(&c);
    rules_value v;
    assert_int_equal(rules_eval(e, &env, &v), CX_OK);
    assert_int_equal(c.calls, cases[i].calls);
    /* a failing callback that is skipped does not fail the evaluation */
    customer f = {.fail = CX_EIO};
    rules_env fenv = make_env(&f);
    assert_int_equal(rules_eval(e, &fenv, &v), cases[i].calls ? CX_EIO : CX_OK);
    rules_free(e);
  }
}

static void test_callback_errors(void **state) {
  (void)state;
  const char *srcs[] = {"traits.plan == \"plus\"", "count(\"Order Completed\") > 1",
                        "sum(\"Order Completed\", \"revenue\") > 1", "days_since(\"Signed Up\") > 1", "first_seen < now", "last_seen < now",
                        "has(traits.plan)", "lower(traits.plan) == \"plus\""};
  for (size_t i = 0; i < sizeof srcs / sizeof srcs[0]; i++) {
    rules_expr *e;
    rules_error err;
    assert_int_equal(rules_compile(srcs[i], strlen(srcs[i]), &e, &err), CX_OK);
    customer c = {.fail = CX_EDB};
    rules_env env = make_env(&c);
    rules_value v = {.type = RULES_NUMBER, .u.number = 42};
    assert_int_equal(rules_eval(e, &env, &v), CX_EDB);
    assert_int_equal(v.type, RULES_NUMBER); /* untouched */
    assert_int_equal(rules_match(e, &env), 0);
    c.fail = CX_OK;
    assert_int_equal(rules_match(e, &env), 1);
    rules_free(e);
  }
}

static void test_lower_scratch(void **state) {
  (void)state;
  const char *s = "lower(traits.name) == \"ana souza\" && lower(traits.plan) == \"plus\"";
  rules_expr *e;
  rules_error err;
  assert_int_equal(rules_compile(s, strlen(s), &e, &err), CX_OK);
  customer c = {0};
  char small[12];
  rules_env env = make_env(&c);
  env.scratch = small;
  env.scratch_size = sizeof small; /* one byte short of "ana souza" (9) + "plus" (4) */
  rules_value v;
  assert_int_equal(rules_eval(e, &env, &v), CX_ETOOBIG);
  char exact[13];
  env.scratch = exact;
  env.scratch_size = sizeof exact;
  assert_int_equal(rules_match(e, &env), 1);
  env.scratch = NULL;
  env.scratch_size = 0;
  assert_int_equal(rules_eval(e, &env, &v), CX_ETOOBIG);
  rules_free(e);
  expect("lower(\"ÀBC-Déf\")", "\"Àbc-déf\""); /* ASCII letters only */
}

static void test_alloc_failure(void **state) {
  (void)state;
  rules_expr *e = NULL;
  rules_error err;
  cx_mem_fail_after(0);
  cx_err rc = rules_compile("1 + 1", 5, &e, &err);
  cx_mem_fail_after(-1);
  assert_int_equal(rc, CX_ENOMEM);
  assert_null(e);
  assert_string_equal(err.message, "at 0: out of memory");
  assert_int_equal(rules_compile("1 + 1", 5, &e, &err), CX_OK);
  rules_free(e);
  rules_free(NULL);
}

static void test_describe_round_trip(void **state) {
  (void)state;
  expect_describe("count(\"Order Completed\",90d)>=3&&sum(\"Order Completed\",\"revenue\",365d)>500",
                  "count(\"Order Completed\", 90d) >= 3 && sum(\"Order Completed\", \"revenue\", 365d) > 500");
  expect_describe("days_since( \"Order Completed\" ) > 60\n&& count(\"Order Completed\") >= 2",
                  "days_since(\"Order Completed\") > 60 && count(\"Order Completed\") >= 2");
  expect_describe("traits.plan in [\"plus\",\"premium\"]", "traits.plan in [\"plus\", \"premium\"]");
  expect_describe("event.properties.revenue>100", "event.properties.revenue > 100");
  expect_describe("now-first_seen<=7d||last_seen>now-1h", "now - first_seen <= 1w || last_seen > now - 1h");
  expect_describe("has(customer.stage)&&!(customer.stage==\"churned\")",
                  "has(customer.stage) && !customer.stage == \"churned\"");
  expect_describe("starts_with(lower(traits.email),\"ana\") && ends_with(traits.email, \".com\")",
                  "starts_with(lower(traits.email), \"ana\") && ends_with(traits.email, \".com\")");
  expect_describe("traits.in.null", "traits.in.null");
  expect_describe("[]", "[]");
  expect_describe("(1 < 2) != (2 < 1)", "(1 < 2) != (2 < 1)");
  expect_describe("1 + (2 + 3)", "1 + (2 + 3)");
  expect_describe("1 * (2 / 3) % 4", "1 * (2 / 3) % 4");
  expect_describe("(now - first_seen) / 1d", "(now - first_seen) / 1d");
  expect_describe("1.0 + 2.50 + 0.125", "1 + 2.5 + 0.125");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_manual_examples),
      cmocka_unit_test(test_precedence),
      cmocka_unit_test(test_error_messages),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_strings_and_escapes),
      cmocka_unit_test(test_invalid_utf8),
      cmocka_unit_test(test_durations),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_null_semantics),
      cmocka_unit_test(test_no_history),
      cmocka_unit_test(test_short_circuit),
      cmocka_unit_test(test_callback_errors),
      cmocka_unit_test(test_lower_scratch),
      cmocka_unit_test(test_alloc_failure),
      cmocka_unit_test(test_describe_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
