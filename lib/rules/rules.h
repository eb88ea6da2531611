/* rules.h - the rules language: one language for every condition in cxm
 * (segments, stage rules; later case triggers, journey branches, alerts).
 *
 * A rule is compiled once (rules_compile) into a tree the caller owns and
 * releases with rules_free, then evaluated any number of times, from any
 * number of threads, against a customer described by a rules_env: a set of
 * callbacks the caller implements over its own data. The compiled tree is
 * read-only during evaluation. docs/rules.md is the manual for analysts;
 * every example in it is run by tests/unit/test_rules.c.
 *
 * Ownership, stated once: strings inside a rules_value are borrowed. They
 * point into the compiled rule, into what the env's callbacks returned
 * (which must stay valid until the evaluation ends), or into the env's
 * scratch buffer; none of them is freed by this module. */
#ifndef CX_RULES_H
#define CX_RULES_H
#include <stddef.h>
#include <stdint.h>
#include "../base/buf.h"
#include "../base/err.h"

#define RULES_MAX_SOURCE 4096 /* bytes of source */
#define RULES_MAX_DEPTH 64    /* nested (), [], calls, ! and unary - */
#define RULES_MAX_NODES 1024  /* operators, operands, list items */
#define RULES_MAX_PATH 16     /* names after the root of a path */
#define RULES_MAX_DURATION_MS 9007199254740992LL /* 2^53 ms, about 285,000 years */

typedef enum {
  RULES_NULL = 0,
  RULES_BOOL,
  RULES_NUMBER,   /* double */
  RULES_STRING,   /* bytes, not necessarily NUL-terminated */
  RULES_DURATION, /* milliseconds */
  RULES_TIME,     /* milliseconds since the Unix epoch, UTC */
  RULES_LIST
} rules_type;

typedef struct rules_value {
  rules_type type;
  union {
    int boolean;
    double number;
    int64_t ms; /* RULES_DURATION, RULES_TIME */
    struct {
      const char *p;
      size_t n;
    } str;
    struct {
      const struct rules_value *items;
      size_t n;
    } list;
  } u;
} rules_value;

typedef struct rules_expr rules_expr;

typedef struct {
  size_t pos;        /* byte offset into the source, 0-based */
  char message[200]; /* "at 14: expected ...", NUL-terminated, UTF-8 */
} rules_error;

/* The customer a rule is evaluated against. Every callback may be NULL,
 * which reads as null (paths, first_seen, last_seen, days_since) or as 0
 * (count, sum). A callback returns CX_OK, or an error that ends the
 * evaluation with that error. Strings and lists a callback returns must
 * stay valid until rules_eval returns. ctx is passed through untouched. */
typedef struct {
  void *ctx;
  int64_t now_ms; /* "now" for the whole evaluation, so that it is one instant */
  /* root is "traits", "event", "customer", "response" or "answers" (a
   * survey response and its answers); parts[0..nparts) are the
   * names after it (traits.plan: parts = {"plan"}). Leave *out alone (it
   * arrives as null) when there is no such value. A time of CX_NO_TIME
   * reads as null. */
  cx_err (*lookup)(void *ctx, const char *root, const char *const *parts, size_t nparts,
                   rules_value *out);
  /* Events named name in the window (now - window_ms, now]; window_ms is
   * -1 for all time. */
  cx_err (*count)(void *ctx, const char *name, int64_t window_ms, double *out);
  /* The sum of the numeric property of those events; others count 0. */
  cx_err (*sum)(void *ctx, const char *name, const char *property, int64_t window_ms,
                double *out);
  /* The time of the latest event named name, CX_NO_TIME if none. */
  cx_err (*last_time)(void *ctx, const char *name, int64_t *out_ms);
  /* The customer's first and latest event times, CX_NO_TIME if none. */
  cx_err (*first_seen)(void *ctx, int64_t *out_ms);
  cx_err (*last_seen)(void *ctx, int64_t *out_ms);
  /* Room for strings the rule builds (lower). Without enough room such a
   * function fails the evaluation with CX_ETOOBIG. One evaluation at a time
   * per scratch buffer. */
  char *scratch;
  size_t scratch_size;
} rules_env;

/* Compiles src[0..n). On success *out is a new tree the caller frees with
 * rules_free. On failure *out is untouched and, when err is not NULL, err
 * names the byte position and what was expected; the result is CX_EINVAL
 * (syntax, names, types), CX_ETOOBIG (a limit above) or CX_ENOMEM. */
cx_err rules_compile(const char *src, size_t n, rules_expr **out, rules_error *err);
void rules_free(rules_expr *e);

/* Evaluates e against env. On success *out holds the value (borrowed
 * strings, see above). Type mismatches are not errors (see docs/rules.md);
 * errors come only from the callbacks or a too small scratch buffer. */
cx_err rules_eval(const rules_expr *e, const rules_env *env, rules_value *out);
/* 1 when e evaluates to boolean true, 0 otherwise (errors included). */
int rules_match(const rules_expr *e, const rules_env *env);

/* What e reads, for a caller that prepares data before evaluating: fn is
 * called once per path in e (root "traits", "event" or "customer", and the
 * names after it), in source order; a nonzero return stops the walk and is
 * returned. */
cx_err rules_each_path(const rules_expr *e,
                       cx_err (*fn)(void *ctx, const char *root, const char *const *parts,
                                    size_t nparts),
                       void *ctx);
/* Calls fn for each count(name[, window]) in e with the name (the very
 * pointer the env's count callback will be given) and the window in ms
 * (-1: all time); a nonzero return stops the walk and is returned. */
cx_err rules_each_count(const rules_expr *e,
                        cx_err (*fn)(void *ctx, const char *name, int64_t window_ms), void *ctx);
/* 1 when e reads a path under root ("event", "response"…). */
int rules_reads_root(const rules_expr *e, const char *root);
/* 1 when e's value may be of type t (the compiler's static types). */
int rules_may_be(const rules_expr *e, rules_type t);
/* 1 when e calls the function named name ("count", "sum", ...). */
int rules_calls(const rules_expr *e, const char *name);
/* 1 when e reads first_seen or last_seen. */
int rules_reads_seen(const rules_expr *e);

/* Appends e's canonical form: one space around binary operators,
 * parentheses only where precedence needs them, numbers and durations in
 * their shortest form. Compiling it gives a rule that describes the same. */
cx_err rules_describe(const rules_expr *e, cx_buf *out);
/* Appends a value as the manual shows results: true, 3, 30d, "plus",
 * ["a", "b"], null; a time as 2025-06-01T12:00:00.000Z. */
cx_err rules_value_describe(const rules_value *v, cx_buf *out);

#endif
