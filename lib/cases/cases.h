/* cases.h - the closed loop (docs/cases.md, docs/internals/cases.md):
 * case rules that open a case for a survey response (rules language over
 * response.* and answers.*), routing to a unit and an owner (round robin),
 * SLA policies with due times and breaches, statuses, notes, history,
 * root causes, a follow-up survey on close, and the metrics.
 *
 * Opening is exactly once per (rule, response): the scheduler thread
 * (cases_start) reads the responses after each rule's cursor and, in one
 * store job, opens the cases and moves the cursors; the same job records
 * the SLA breaches now due and queues the owners' mails (lib/outbox).
 *
 * Every request is checked whole before anything is written: CX_EINVAL
 * with err filled (code, field, message; code "conflict" for an illegal
 * transition or a thing in use, which the HTTP layer answers 409), and
 * nothing stored. Cases are scoped by unit: a principal whose unit_id is
 * not GV_ALL_UNITS sees and works only the cases of that unit's subtree;
 * another case reads as CX_ENOTFOUND. Every function is thread-safe;
 * strings given are copied or used during the call only; answers are
 * appended to out. */
#ifndef CX_CASES_H
#define CX_CASES_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include "../analytics/analytics.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../govern/govern.h"
#include "../outbox/outbox.h"
#include "../profile/profile.h"
#include "../store/store.h"

#define CASES_MAX_NAME 100     /* bytes of a rule's, policy's or root cause's name */
#define CASES_MAX_TITLE 200    /* bytes of a case's title */
#define CASES_MAX_NOTE 10000   /* bytes of a note */
#define CASES_MAX_RULES 100    /* case rules */
#define CASES_MAX_SLA_S (366LL * 86400) /* an SLA span: at most a year */
#define CASES_SCAN_ROWS 1000   /* responses read per tick */

typedef struct cases cases;

/* pr (may be NULL: customer ids as stored) and ob (may be NULL: breach
 * mails stay queued) are borrowed and must outlive it. */
cx_err cases_open(store *st, profile *pr, outbox *ob, cases **out);
/* Starts the scheduler: a tick every tick_ms (0: 10 s). The store's
 * writer must run; cases_close stops it (before the writer stops). */
cx_err cases_start(cases *c, int64_t tick_ms);
void cases_close(cases *c);
/* One tick on the caller's thread: open the cases of new responses,
 * record breaches due at now_ms (0: the clock). *opened (may be NULL)
 * gets how many cases were opened. */
cx_err cases_tick(cases *c, int64_t now_ms, int *opened);

/* ---- cases (work.c) ---- */
typedef struct {
  const char *status;  /* NULL or a status */
  int64_t owner;       /* 0: any, -1: unassigned */
  int64_t unit;        /* 0: any (within the principal's scope): that unit's subtree */
  int64_t customer;    /* 0: any */
  int64_t cursor;      /* 0: from the newest */
  size_t limit;
} cases_query;
/* {"cases":[CASE…],"next_cursor":…} newest first. */
cx_err cases_list(cases *c, const cases_query *q, const gv_principal *p, cx_buf *out, analytics_error *err);
/* CASE with "notes" and "history". CX_ENOTFOUND. */
cx_err cases_get(cases *c, int64_t id, const gv_principal *p, cx_buf *out);
/* POST /cases: {"customer_id","title","unit","owner"?,"priority"?,
 * "sla_policy"?,"note"?}; answers like cases_get. */
cx_err cases_create(cases *c, const cJSON *req, const gv_principal *p, cx_buf *out, analytics_error *err);
/* PATCH: any of status, owner, root_cause, note. */
cx_err cases_patch(cases *c, int64_t id, const cJSON *req, const gv_principal *p, cx_buf *out, analytics_error *err);
/* POST /cases/{id}/notes {"body":"…"}: the note. */
cx_err cases_note(cases *c, int64_t id, const cJSON *req, const gv_principal *p, cx_buf *out, analytics_error *err);
/* GET /cases/metrics: from, to ([from, to) on opened_at), unit (0: all
 * in scope). */
cx_err cases_metrics(cases *c, int64_t from, int64_t to, int64_t unit, const gv_principal *p, cx_buf *out,
                     analytics_error *err);

/* ---- configuration (config.c): case rules, SLA policies, root causes ---- */
/* kind: CASES_RULES, CASES_SLA or CASES_ROOTS */
typedef enum { CASES_RULES, CASES_SLA, CASES_ROOTS } cases_kind;
cx_err cases_config_list(cases *c, cases_kind kind, cx_buf *out);
cx_err cases_config_get(cases *c, cases_kind kind, int64_t id, cx_buf *out);
/* id 0: create (POST), else replace (PUT). CX_ENOTFOUND, CX_EEXIST (the
 * name is taken). */
cx_err cases_config_put(cases *c, cases_kind kind, int64_t id, const cJSON *req, const gv_principal *p, cx_buf *out,
                        analytics_error *err);
/* CX_ENOTFOUND; CX_EINVAL (code "conflict") when in use. */
cx_err cases_config_delete(cases *c, cases_kind kind, int64_t id, const gv_principal *p, analytics_error *err);

/* ---- validators (validate.c): checks a request's shape without a store,
 * as the functions above do first (for tests and the fuzzer) ---- */
typedef struct {
  const char *name, *when, *priority; /* borrowed from the request */
  int64_t unit, sla_policy, follow_up_survey;
  int enabled;
} cases_rule_req;
cx_err cases_rule_check(const cJSON *req, cases_rule_req *out, analytics_error *err);
typedef struct {
  int has_status, has_owner, has_root_cause, has_note;
  const char *status, *note; /* borrowed */
  int64_t owner;             /* 0: unassign */
  int64_t root_cause;
} cases_patch_req;
cx_err cases_patch_check(const cJSON *req, cases_patch_req *out, analytics_error *err);
/* 1 when a case may go from status a to b (docs/cases.md). */
int cases_transition_ok(const char *from, const char *to);

#endif
