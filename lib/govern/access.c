/* access.c - the permission matrix: which role holds which permission, and
 * which permission each API route needs. The one place that decides;
 * docs/access.md prints the same table and tests/api/access.test.mjs
 * checks every route against every role. */
#include "govern.h"
#include <stdio.h>
#include <string.h>

static const char *const role_names[GV_ROLE_COUNT] = {"admin", "cx_lead", "analyst", "agent", "viewer"};
static const char *const perm_names[GV_P_COUNT] = {"none",    "read",    "feedback", "analyse", "program", "respond",
                                                   "cases",   "work",    "people",   "admin"};

#define P(x) (1u << GV_P_##x)
/* role → permissions */
static const unsigned grants[GV_ROLE_COUNT] = {
    [GV_ADMIN] = P(NONE) | P(READ) | P(FEEDBACK) | P(ANALYSE) | P(PROGRAM) | P(RESPOND) | P(CASES) | P(WORK) |
                 P(PEOPLE) | P(ADMIN),
    [GV_CX_LEAD] = P(NONE) | P(READ) | P(FEEDBACK) | P(ANALYSE) | P(PROGRAM) | P(RESPOND) | P(CASES) | P(WORK) |
                   P(PEOPLE),
    [GV_ANALYST] = P(NONE) | P(READ) | P(FEEDBACK) | P(ANALYSE) | P(CASES) | P(PEOPLE),
    [GV_AGENT] = P(NONE) | P(FEEDBACK) | P(CASES) | P(WORK) | P(PEOPLE),
    [GV_VIEWER] = P(NONE) | P(READ) | P(FEEDBACK) | P(CASES) | P(PEOPLE),
};
#undef P

/* A route: methods ("GET" also covers HEAD; "W" is any of POST, PUT,
 * PATCH, DELETE; "*" any) and a path pattern whose segments are literal,
 * "*" (one segment) or "**" (the rest, possibly nothing). The first match
 * wins, so the specific rows come before the general ones. */
typedef struct {
  const char *methods, *pattern;
  gv_perm perm;
} route;

static const route routes[] = {
    /* the caller's own things */
    {"*", "me", GV_P_NONE},
    {"*", "auth/**", GV_P_NONE},
    {"*", "tokens", GV_P_NONE},
    {"*", "tokens/*", GV_P_NONE},
    {"GET", "roles", GV_P_NONE},
    /* people */
    {"GET", "units", GV_P_PEOPLE},
    {"GET", "units/*", GV_P_PEOPLE},
    {"GET", "users", GV_P_PEOPLE},
    {"GET", "users/*", GV_P_PEOPLE},
    {"W", "units/**", GV_P_ADMIN},
    {"W", "units", GV_P_ADMIN},
    {"W", "users/**", GV_P_ADMIN},
    {"W", "users", GV_P_ADMIN},
    {"*", "audit/**", GV_P_ADMIN},
    {"*", "audit", GV_P_ADMIN},
    /* customers: reading, and privacy (export, erasure, retention) */
    {"*", "privacy/**", GV_P_ADMIN},
    {"GET", "customers/*/export", GV_P_ADMIN},
    {"DELETE", "customers/*", GV_P_ADMIN},
    {"GET", "customers/**", GV_P_READ},
    {"GET", "customers", GV_P_READ},
    {"GET", "stats", GV_P_READ},
    {"GET", "merges", GV_P_READ},
    {"GET", "accounts/*", GV_P_READ},
    {"GET", "events", GV_P_READ},
    {"GET", "events/names", GV_P_READ},
    {"GET", "overview", GV_P_READ},
    {"GET", "sources", GV_P_READ},
    {"W", "sources", GV_P_ADMIN},
    /* analytics: POSTed queries that change nothing */
    {"*", "analytics/*", GV_P_READ},
    {"GET", "lifecycle", GV_P_READ},
    {"GET", "lifecycle/stages", GV_P_READ},
    {"W", "lifecycle/stages", GV_P_PROGRAM},
    {"POST", "segments/preview", GV_P_READ},
    {"*", "segments/rfm", GV_P_READ},
    {"GET", "segments/**", GV_P_READ},
    {"GET", "segments", GV_P_READ},
    {"W", "segments/**", GV_P_ANALYSE},
    {"W", "segments", GV_P_ANALYSE},
    {"GET", "journey-maps/**", GV_P_READ},
    {"GET", "journey-maps", GV_P_READ},
    {"W", "journey-maps/**", GV_P_ANALYSE},
    {"W", "journey-maps", GV_P_ANALYSE},
    /* listening */
    {"POST", "surveys/*/responses", GV_P_RESPOND},
    {"POST", "surveys/*/responses/batch", GV_P_RESPOND},
    {"GET", "surveys", GV_P_FEEDBACK}, /* what a response answered: for everyone who reads responses */
    {"GET", "surveys/*", GV_P_FEEDBACK},
    {"GET", "surveys/**", GV_P_READ},
    {"W", "surveys/**", GV_P_PROGRAM},
    {"W", "surveys", GV_P_PROGRAM},
    {"GET", "survey-settings", GV_P_READ},
    {"W", "survey-settings", GV_P_ADMIN},
    {"GET", "metrics/*", GV_P_READ},
    {"GET", "feedback/themes", GV_P_READ},
    {"GET", "feedback", GV_P_FEEDBACK},
    {"*", "outbox/**", GV_P_ADMIN},
    {"*", "outbox", GV_P_ADMIN},
    /* the closed loop */
    {"GET", "cases/**", GV_P_CASES},
    {"GET", "cases", GV_P_CASES},
    {"W", "cases/**", GV_P_WORK},
    {"W", "cases", GV_P_WORK},
    {"GET", "case-rules/**", GV_P_CASES},
    {"GET", "case-rules", GV_P_CASES},
    {"GET", "sla-policies/**", GV_P_CASES},
    {"GET", "sla-policies", GV_P_CASES},
    {"GET", "root-causes/**", GV_P_CASES},
    {"GET", "root-causes", GV_P_CASES},
    {"W", "case-rules/**", GV_P_PROGRAM},
    {"W", "case-rules", GV_P_PROGRAM},
    {"W", "sla-policies/**", GV_P_PROGRAM},
    {"W", "sla-policies", GV_P_PROGRAM},
    {"W", "root-causes/**", GV_P_PROGRAM},
    {"W", "root-causes", GV_P_PROGRAM},
    /* governance: KPI owners and targets (docs/targets.md) */
    {"GET", "scorecard", GV_P_READ},
    {"GET", "targets/**", GV_P_READ},
    {"GET", "targets", GV_P_READ},
    {"W", "targets/**", GV_P_PROGRAM},
    {"W", "targets", GV_P_PROGRAM},
    /* initiatives (docs/initiatives.md) */
    {"GET", "initiatives/**", GV_P_READ},
    {"GET", "initiatives", GV_P_READ},
    {"W", "initiatives/**", GV_P_PROGRAM},
    {"W", "initiatives", GV_P_PROGRAM},
    {"GET", "maturity/**", GV_P_READ},
    {"W", "maturity/**", GV_P_PROGRAM},
};

const char *gv_role_name(gv_role r) { return r >= 0 && r < GV_ROLE_COUNT ? role_names[r] : "?"; }

cx_err gv_role_parse(const char *s, gv_role *out) {
  for (int i = 0; s && i < GV_ROLE_COUNT; i++)
    if (!strcmp(s, role_names[i])) {
      *out = (gv_role)i;
      return CX_OK;
    }
  return CX_EINVAL;
}

int gv_allows(gv_role r, gv_perm p) {
  return r >= 0 && r < GV_ROLE_COUNT && p >= 0 && p < GV_P_COUNT && (grants[r] >> p & 1u);
}

int gv_role_within(gv_role r, gv_role of) {
  return r >= 0 && r < GV_ROLE_COUNT && of >= 0 && of < GV_ROLE_COUNT && (grants[r] & ~grants[of]) == 0;
}

static int method_matches(const char *methods, const char *m) {
  if (!strcmp(methods, "*")) return 1;
  int read = !strcmp(m, "GET") || !strcmp(m, "HEAD");
  if (!strcmp(methods, "GET")) return read;
  if (!strcmp(methods, "W")) return !read;
  return !strcmp(methods, m);
}

/* 1 when path (segments split by '/') matches pattern. */
static int path_matches(const char *pat, const char *path) {
  for (;;) {
    if (!strcmp(pat, "**")) /* the rest, if it has no empty segment */
      return *path && *path != '/' && !strstr(path, "//") && path[strlen(path) - 1] != '/';
    const char *pe = strchr(pat, '/'), *se = strchr(path, '/');
    size_t pn = pe ? (size_t)(pe - pat) : strlen(pat), sn = se ? (size_t)(se - path) : strlen(path);
    if (!sn) return 0; /* an empty segment matches nothing */
    if (!(pn == 1 && *pat == '*') && !(pn == sn && !memcmp(pat, path, pn))) return 0;
    if (!pe && !se) return 1;
    if (!se) return pe && !strcmp(pe + 1, "**"); /* "a" followed by "all the rest" matches "a" */
    if (!pe) return 0;
    pat = pe + 1;
    path = se + 1;
  }
}

gv_perm gv_route_permission(const char *method, const char *rest) {
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
    if (method_matches(routes[i].methods, method) && path_matches(routes[i].pattern, rest)) return routes[i].perm;
  return GV_P_ADMIN; /* a route the matrix does not name: the least privilege */
}

int gv_mutates(const char *method, gv_perm need) {
  if (!strcmp(method, "GET") || !strcmp(method, "HEAD") || !strcmp(method, "OPTIONS")) return 0;
  return strcmp(method, "POST") || need != GV_P_READ; /* a POSTed read is a query */
}

int gv_route_mutates(const char *method, const char *rest) {
  return gv_mutates(method, gv_route_permission(method, rest));
}

cx_err gv_matrix_json(cx_buf *out) {
  cx_err rc = cx_buf_puts(out, "{\"roles\":[");
  for (int r = 0; !rc && r < GV_ROLE_COUNT; r++) rc = cx_buf_printf(out, "%s\"%s\"", r ? "," : "", role_names[r]);
  if (!rc) rc = cx_buf_puts(out, "],\"permissions\":{");
  for (int p = 0; !rc && p < GV_P_COUNT; p++) {
    rc = cx_buf_printf(out, "%s\"%s\":[", p ? "," : "", perm_names[p]);
    int first = 1;
    for (int r = 0; !rc && r < GV_ROLE_COUNT; r++)
      if (gv_allows((gv_role)r, (gv_perm)p)) {
        rc = cx_buf_printf(out, "%s\"%s\"", first ? "" : ",", role_names[r]);
        first = 0;
      }
    if (!rc) rc = cx_buf_puts(out, "]");
  }
  if (!rc) rc = cx_buf_puts(out, "},\"routes\":[");
  for (size_t i = 0; !rc && i < sizeof routes / sizeof routes[0]; i++)
    rc = cx_buf_printf(out, "%s{\"methods\":\"%s\",\"path\":\"%s\",\"permission\":\"%s\"}", i ? "," : "",
                       routes[i].methods, routes[i].pattern, perm_names[routes[i].perm]);
  if (!rc) rc = cx_buf_puts(out, "]}");
  return rc;
}

const char *gv_perm_name(gv_perm p) { return p >= 0 && p < GV_P_COUNT ? perm_names[p] : "?"; }
