/* cases_int.h - private to lib/cases. */
#ifndef CX_CASES_INT_H
#define CX_CASES_INT_H
#include "cases.h"
#include <pthread.h>
#include <sqlite3.h>
#include "../rules/rules.h"
#include "../base/ticker.h"

struct cases {
  store *st;
  profile *pr; /* may be NULL */
  outbox *ob;  /* may be NULL */
  cx_ticker *ticker; /* the scheduler, once started */
  int64_t clock_ms; /* cases_set_clock: 0, the clock */
  cases_invite_fn invite; /* cases_set_follow_up */
  cx_err (*invite_ready)(void *ctx);
  void *invite_ctx;
};

/* The time an action is dated: the replay clock when set, else now. */
int64_t cs_now(const cases *c);

/* Runs fn(ctx, db) as a store job on the writer thread (store_run). fn
 * must not fail for a refusal: it records it in its ctx and writes
 * nothing (an error rolls back the writer's whole group). */
cx_err cs_run(cases *c, cx_err (*fn)(void *ctx, sqlite3 *db), void *ctx);

/* The subtree of a unit, for SQL: "unit_id IN (" CS_SUBTREE(n) ")" where
 * ?n is the top unit. */
#define CS_SUBTREE(n) \
  "WITH RECURSIVE sub(id) AS (SELECT " n " UNION ALL SELECT u.id FROM units u JOIN sub ON u.parent_id = sub.id)" \
  " SELECT id FROM sub"
/* 1 when unit is top or below it (any unit when top is GV_ALL_UNITS and
 * the unit exists); -1 on a store error. */
int cs_in_subtree(sqlite3 *db, int64_t top, int64_t unit);
/* 1 when the unit exists. */
int cs_unit_exists(sqlite3 *db, int64_t unit);

/* Appends a history row of case id. before/after may be NULL. */
cx_err cs_history(sqlite3 *db, int64_t id, int64_t at, const char *actor, int64_t user_id, const char *action,
                  const char *before, const char *after);
/* The next owner of unit by round robin (0: none), the cursor moved. */
cx_err cs_route_owner(sqlite3 *db, int64_t unit, int64_t *owner);
/* The SLA policy (0: the default) into *first_s, *resolution_s, *id. */
cx_err cs_sla(sqlite3 *db, int64_t policy, int64_t *id, int64_t *first_s, int64_t *resolution_s);
/* Appends case id's JSON (notes and history when full); CX_ENOTFOUND. */
cx_err cs_case_json(sqlite3 *db, int64_t id, int full, cx_buf *out);

/* An id in JSON: a positive integer or a string of its digits; null is 0
 * when nullable. 1 when v is one. */
int cs_json_id(const cJSON *v, int nullable, int64_t *out);
/* 1 when s is 1..max bytes of UTF-8 without control characters. */
int cs_text_ok(const char *s, size_t max);
/* The same for a note: 1..CASES_MAX_NOTE bytes, lines and tabs allowed. */
int cs_note_ok(const char *s);
const char *cs_unknown_member(const cJSON *obj, const char *const *names);
/* Compiles a case rule's `when` and checks what it reads; CX_EINVAL with
 * err (field "when") when it is not a condition about the response. *out
 * (may be NULL) gets the tree. */
cx_err cs_compile_when(const char *src, rules_expr **out, analytics_error *err);

#endif
