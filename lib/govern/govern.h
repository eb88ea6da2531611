/* govern.h - people and access: units (the organisation tree), users,
 * roles and the one permission matrix, API tokens and dashboard sessions,
 * and the audit log (docs/access.md, docs/audit.md).
 *
 * The matrix (access.c) is the only place that says which role may do
 * what: lib/http asks gv_route_permission for the permission a request
 * needs and gv_allows whether the caller's role has it, before any
 * handler runs. Units scope data: a caller whose user belongs to a unit
 * sees only the cases and responses of that unit's subtree.
 *
 * Secrets (passwords, tokens, sessions) are never stored: passwords as
 * argon2id strings (libsodium crypto_pwhash_str), tokens and sessions as
 * BLAKE2b hashes, compared in constant time. Every function is
 * thread-safe; units and credentials are cached in memory and the cache
 * is updated after each commit. */
#ifndef CX_GOVERN_H
#define CX_GOVERN_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include "../analytics/analytics.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../store/store.h"

typedef enum { GV_ADMIN, GV_CX_LEAD, GV_ANALYST, GV_AGENT, GV_VIEWER, GV_ROLE_COUNT } gv_role;

/* What a request needs. The matrix (access.c, docs/access.md) gives each
 * role a set of these. */
typedef enum {
  GV_P_NONE,     /* any signed-in caller (their own profile and tokens) */
  GV_P_READ,     /* customers, events, analytics, segments, journeys, surveys, metrics */
  GV_P_FEEDBACK, /* verbatims and responses (scoped by unit) */
  GV_P_ANALYSE,  /* change segments and journey maps */
  GV_P_PROGRAM,  /* change surveys, distributions, lifecycle, case rules, SLA, root causes,
                    targets, initiatives, maturity assessments */
  GV_P_RESPOND,  /* submit survey responses through the API */
  GV_P_CASES,    /* read cases (scoped by unit) */
  GV_P_WORK,     /* open, assign, note and resolve cases (scoped by unit) */
  GV_P_PEOPLE,   /* read units and users */
  GV_P_ADMIN,    /* users, units, sources, settings, outbox, audit, privacy */
  GV_P_COUNT
} gv_perm;

#define GV_ALL_UNITS 0 /* a principal's unit_id when it is not scoped */

/* Who is calling: built from a token or a session by gv_authenticate;
 * plain data, copied freely. */
typedef struct {
  int64_t user_id;  /* 0: a token of no user (the admin token of cxm init) */
  int64_t token_id; /* the token or session row */
  gv_role role;
  int64_t unit_id;  /* GV_ALL_UNITS or the user's unit: scopes cases and responses */
  int session;      /* 1: a dashboard session cookie (mutations need the CSRF token) */
  char actor[130];  /* how the audit names the caller: "user:<email>" or "token:<name>" */
} gv_principal;

typedef struct govern govern;

/* Loads units and credentials from st (borrowed; must outlive it). */
cx_err gv_open(store *st, govern **out);
void gv_close(govern *g);

/* ---- the matrix (access.c) ---- */
const char *gv_role_name(gv_role r);
/* CX_EINVAL for an unknown name. */
cx_err gv_role_parse(const char *s, gv_role *out);
/* The permission that method on rest (the path after /api/v1/, without
 * the query) needs; GV_P_NONE for the caller's own things. */
gv_perm gv_route_permission(const char *method, const char *rest);
int gv_allows(gv_role r, gv_perm p);
/* 1 when role r holds no permission that role `of` lacks (a token's role
 * must be within its user's). */
int gv_role_within(gv_role r, gv_role of);
/* 1 when method on rest changes something (what the audit records): any
 * method but GET/HEAD, except the POSTed queries of GV_P_READ. */
int gv_route_mutates(const char *method, const char *rest);
/* The same, for a route whose permission the caller has looked up. */
int gv_mutates(const char *method, gv_perm need);
const char *gv_perm_name(gv_perm p);
/* The matrix as JSON {"roles":[…],"permissions":{perm:[roles…]}} (GET
 * /api/v1/roles). */
cx_err gv_matrix_json(cx_buf *out);

/* ---- units ---- */
/* 1 when unit is unit_id scope or below it (any unit when scope is
 * GV_ALL_UNITS; never for unit 0 otherwise). */
int gv_unit_in_scope(govern *g, int64_t scope, int64_t unit);
/* The same test by a unit's name (responses and cases name their unit):
 * a name that is no unit is in scope only of GV_ALL_UNITS. */
int gv_unit_name_in_scope(govern *g, int64_t scope, const char *name);
/* The unit with this name, 0 when none. */
int64_t gv_unit_by_name(govern *g, const char *name);

/* ---- authentication (auth.c) ---- */
/* The principal of a bearer token or a session id (the cookie's value);
 * CX_EAUTH when unknown, revoked, expired or its user is disabled. */
cx_err gv_authenticate(govern *g, const char *secret, size_t n, int session, gv_principal *out);
/* The CSRF token of a session (hex BLAKE2b keyed by the session id) into
 * out (65 bytes); a session's mutating requests must send it in
 * X-CSRF-Token. */
void gv_csrf_token(const char *session, size_t n, char out[65]);

/* ---- people (people.c): requests checked whole; CX_EINVAL with err,
 * CX_ENOTFOUND, CX_EEXIST (a taken name or e-mail). before/after, when
 * not NULL, receive the resource's JSON around the change for the audit
 * (never a password hash). ---- */
#define GV_MAX_UNITS 10000
#define GV_PASSWORD_MIN 10  /* characters */
#define GV_PASSWORD_MAX 128 /* bytes */
cx_err gv_units_json(govern *g, cx_buf *out);
cx_err gv_unit_get(govern *g, int64_t id, cx_buf *out);
cx_err gv_unit_create(govern *g, const cJSON *req, cx_buf *out, cx_buf *after, analytics_error *err);
cx_err gv_unit_update(govern *g, int64_t id, const cJSON *req, cx_buf *out, cx_buf *before, cx_buf *after,
                      analytics_error *err);
/* CX_EINVAL (unit_in_use) while the unit has sub-units, users or cases. */
cx_err gv_unit_delete(govern *g, int64_t id, cx_buf *before, analytics_error *err);
/* scope: list only users of units in that subtree (GV_ALL_UNITS: all). */
cx_err gv_users_json(govern *g, int64_t scope, cx_buf *out);
cx_err gv_user_get(govern *g, int64_t id, cx_buf *out);
cx_err gv_user_create(govern *g, const cJSON *req, cx_buf *out, cx_buf *after, analytics_error *err);
/* name, role, unit, password, disabled; a role change or disabling
 * revokes the user's sessions and tokens. */
cx_err gv_user_update(govern *g, int64_t id, const cJSON *req, cx_buf *out, cx_buf *before, cx_buf *after,
                      analytics_error *err);

/* ---- sign-in (auth.c) ---- */
#define GV_SESSION_MS (12LL * 3600 * 1000) /* a session and its login token */
#define GV_LOCK_FAILURES 5                   /* failed sign-ins per e-mail before a lock */
#define GV_LOCK_IP_FAILURES 20               /* failed sign-ins per client address */
#define GV_LOCK_MS (15LL * 60 * 1000)        /* the window and the lock's length */
typedef struct {
  char session[64]; /* the cookie's value */
  char token[64];   /* a bearer token for the API, expiring with the session */
  char csrf[65];
  gv_principal who;
} gv_login_result;
/* Checks email and password (argon2id; as slow for an unknown e-mail as
 * for a known one) and opens a session. CX_EAUTH on wrong credentials,
 * CX_EFULL while the e-mail or client address is locked out after too
 * many failures (*retry_after_s set), CX_EINVAL for a malformed request. */
cx_err gv_login(govern *g, const char *email, const char *password, const char *client, gv_login_result *out,
                int *retry_after_s);
/* Revokes the credential the principal came with. */
cx_err gv_logout(govern *g, const gv_principal *p);
/* API tokens: the caller's (all of them for an admin). create: {"name",
 * "role" (within the caller's), "expires_in_days"?}; the token is shown
 * once in out. */
cx_err gv_tokens_json(govern *g, const gv_principal *p, cx_buf *out);
cx_err gv_token_create(govern *g, const gv_principal *p, const cJSON *req, cx_buf *out, cx_buf *after,
                       analytics_error *err);
cx_err gv_token_revoke(govern *g, const gv_principal *p, int64_t id, cx_buf *before);
/* The principal as JSON for GET /api/v1/me and /auth/me (with its
 * permissions, and csrf when not NULL). */
cx_err gv_principal_json(govern *g, const gv_principal *p, const char *csrf, cx_buf *out);

/* ---- audit (audit.c, docs/audit.md) ---- */
/* Appends an entry (before/after: JSON texts or NULL), chained to the
 * previous one, through the store's writer. */
cx_err gv_audit(govern *g, const char *actor, const char *action, const char *target, const char *before,
                const char *after);
typedef struct {
  const char *actor, *action, *target; /* exact (target: a prefix) */
  int64_t from, to;                    /* at in [from, to) */
  int64_t before_id;                   /* the cursor: entries older than this id; 0: newest */
  size_t limit;
} gv_audit_query;
cx_err gv_audit_list(govern *g, const gv_audit_query *q, cx_buf *out);
/* Recomputes the chain over db: *entries checked, *bad the first entry
 * whose hash does not follow (0 when all do), head the last hash. */
cx_err gv_audit_verify(sqlite3 *db, int64_t *entries, int64_t *bad, char head[65]);

#endif
