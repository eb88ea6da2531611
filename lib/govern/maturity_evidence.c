/* maturity_evidence.c - what cxm can measure of an organisation's CX
 * practice from its own data, for the maturity assessment (maturity.h,
 * docs/maturity.md "Evidence"). Each item names its component, says the
 * measured figures in a sentence and suggests a score by the thresholds
 * written next to it (and in the docs). Tables that another module adds
 * (cases) are read only when sqlite_master has them. Everything counts
 * only what existed at now_ms, so that an assessment dated in the past
 * (the demo's) sees the data of its day. */
#include "maturity_int.h"
#include "../base/time.h"
#include <stdio.h>
#include <string.h>

#define DAY_MS 86400000LL

typedef struct {
  sqlite3 *db;
  int64_t since, now; /* bound as ?1 and ?2 */
  cx_buf *b;
  int n; /* items written */
} ev;

static int table_exists(sqlite3 *db, const char *name) {
  sqlite3_stmt *s = NULL;
  int yes = 0;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", -1, &s, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    yes = sqlite3_step(s) == SQLITE_ROW;
  }
  sqlite3_finalize(s);
  return yes;
}

/* Runs sql (?1 = since, ?2 = now when it uses them) and reads the first n
 * integer columns of its one row into out (null reads as 0). */
static cx_err counts(ev *e, const char *sql, int64_t *out, int n) {
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(e->db, sql, -1, &s, NULL) != SQLITE_OK) {
    sqlite3_finalize(s);
    return CX_EDB;
  }
  int np = sqlite3_bind_parameter_count(s);
  if (np >= 1) sqlite3_bind_int64(s, 1, e->since);
  if (np >= 2) sqlite3_bind_int64(s, 2, e->now);
  cx_err rc = CX_OK;
  if (sqlite3_step(s) == SQLITE_ROW)
    for (int i = 0; i < n; i++) out[i] = sqlite3_column_int64(s, i);
  else
    rc = CX_EDB;
  sqlite3_finalize(s);
  return rc;
}

/* 12345 as "12,345" into out (32 bytes). */
static const char *num(int64_t v, char out[32]) {
  char raw[24];
  int n = snprintf(raw, sizeof raw, "%lld", (long long)(v < 0 ? -v : v));
  size_t k = 0;
  if (v < 0) out[k++] = '-';
  for (int i = 0; i < n; i++) {
    if (i && (n - i) % 3 == 0) out[k++] = ',';
    out[k++] = raw[i];
  }
  out[k] = 0;
  return out;
}

static const char *plural(int64_t n, const char *one, const char *many) { return n == 1 ? one : many; }

/* One item: text is the sentence, figures the members of "figures"
 * (without braces); suggested 1..5. */
static cx_err item(ev *e, const char *id, const char *component, const char *text, const char *figures,
                   int suggested) {
  cx_err rc = cx_buf_printf(e->b, "%s{\"id\":\"%s\",\"component\":\"%s\",\"text\":", e->n ? "," : "", id, component);
  if (!rc) rc = cx_buf_json_str(e->b, text, strlen(text));
  if (!rc) rc = cx_buf_printf(e->b, ",\"figures\":{%s},\"suggested_score\":%d}", figures, suggested);
  if (!rc) e->n++;
  return rc;
}

/* insight: live customer surveys and their answers in the window */
static cx_err listening(ev *e) {
  int64_t v[2] = {0};
  cx_err rc = counts(e,
                     "SELECT (SELECT count(*) FROM surveys WHERE status = 'live' AND kind = 'customer'"
                     "   AND created_at <= ?2),"
                     " (SELECT count(*) FROM responses r JOIN surveys s ON s.id = r.survey_id"
                     "   WHERE s.kind = 'customer' AND s.created_at <= ?2 AND r.replaced_by IS NULL"
                     "   AND r.submitted_at >= ?1 AND r.submitted_at < ?2)",
                     v, 2);
  if (rc) return rc;
  /* 0 live: 1; answers < 30: 2; >= 30: 3; 3+ live and >= 300: 4; 5+ live and >= 1000: 5 */
  int s = !v[0] ? 1 : v[1] < 30 ? 2 : v[0] >= 5 && v[1] >= 1000 ? 5 : v[0] >= 3 && v[1] >= 300 ? 4 : 3;
  char text[256], fig[128], a[32], b[32];
  snprintf(text, sizeof text, "Listening: %s live customer %s and %s %s in the last %d days.", num(v[0], a),
           plural(v[0], "survey", "surveys"), num(v[1], b), plural(v[1], "response", "responses"), GV_EVIDENCE_DAYS);
  snprintf(fig, sizeof fig, "\"live_surveys\":%lld,\"responses\":%lld,\"days\":%d", (long long)v[0],
           (long long)v[1], GV_EVIDENCE_DAYS);
  return item(e, "listening", "insight", text, fig, s);
}

/* insight: touchpoints with NPS or CSAT answers in the window (a
 * response's scores text holds "0:q:9;" for NPS and "1:q:4;" for CSAT) */
static cx_err touchpoints(ev *e) {
  int64_t v[1] = {0};
  cx_err rc = counts(e,
                     "SELECT count(DISTINCT r.touchpoint) FROM responses r JOIN surveys s ON s.id = r.survey_id"
                     " WHERE s.kind = 'customer' AND s.created_at <= ?2 AND r.touchpoint IS NOT NULL"
                     " AND r.touchpoint != '' AND r.replaced_by IS NULL AND r.submitted_at >= ?1 AND r.submitted_at < ?2"
                     " AND (r.scores LIKE '0:%' OR r.scores LIKE '%;0:%' OR r.scores LIKE '1:%' OR r.scores LIKE '%;1:%')",
                     v, 1);
  if (rc) return rc;
  /* 0: 1; 1: 2; 2-3: 3; 4-6: 4; 7 or more: 5 */
  int s = !v[0] ? 1 : v[0] == 1 ? 2 : v[0] <= 3 ? 3 : v[0] <= 6 ? 4 : 5;
  char text[256], fig[96], a[32];
  if (v[0])
    snprintf(text, sizeof text, "NPS or CSAT measured at %s %s in the last %d days.", num(v[0], a),
             plural(v[0], "touchpoint", "touchpoints"), GV_EVIDENCE_DAYS);
  else
    snprintf(text, sizeof text, "No NPS or CSAT answer names a touchpoint in the last %d days (context.touchpoint).",
             GV_EVIDENCE_DAYS);
  snprintf(fig, sizeof fig, "\"touchpoints\":%lld,\"days\":%d", (long long)v[0], GV_EVIDENCE_DAYS);
  return item(e, "touchpoint_scores", "insight", text, fig, s);
}

/* design: journey maps (future-state ones) and segments */
static cx_err design(ev *e) {
  int64_t v[3] = {0};
  cx_err rc = counts(e,
                     "SELECT (SELECT count(*) FROM journey_maps WHERE created_at <= ?2),"
                     " (SELECT count(*) FROM journey_maps WHERE state = 'future' AND created_at <= ?2),"
                     " (SELECT count(*) FROM segments WHERE created_at <= ?2)",
                     v, 3);
  if (rc) return rc;
  /* no map: 1 (2 with segments); a map: 3; 2+ maps, a future state and 3+
   * segments: 4; 3+ maps, a future state and 5+ segments: 5 */
  int s = !v[0] ? (v[2] ? 2 : 1)
          : v[0] >= 3 && v[1] && v[2] >= 5 ? 5
          : v[0] >= 2 && v[1] && v[2] >= 3 ? 4
                                           : 3;
  char text[256], fig[128], a[32], b[32], c[32];
  snprintf(text, sizeof text, "%s journey %s (%s future state) and %s %s defined.", num(v[0], a),
           plural(v[0], "map", "maps"), num(v[1], b), num(v[2], c), plural(v[2], "segment", "segments"));
  snprintf(fig, sizeof fig, "\"journey_maps\":%lld,\"future_state_maps\":%lld,\"segments\":%lld", (long long)v[0],
           (long long)v[1], (long long)v[2]);
  return item(e, "journeys_and_segments", "design", text, fig, s);
}

/* process: survey triggers (surveys sent after an event) */
static cx_err triggers(ev *e) {
  int64_t v[2] = {0};
  cx_err rc = counts(e,
                     "SELECT count(*), count(DISTINCT event) FROM distributions WHERE kind = 'trigger'"
                     " AND deleted = 0 AND created_at <= ?2",
                     v, 2);
  if (rc) return rc;
  /* 0: 1; 1: 2; 2-3: 3; 4 or more: 4 (the rest of process alignment is
   * beyond what cxm sees) */
  int s = !v[0] ? 1 : v[0] == 1 ? 2 : v[0] <= 3 ? 3 : 4;
  char text[256], fig[96], a[32], b[32];
  if (v[0])
    snprintf(text, sizeof text, "Survey triggers in place: %s %s send surveys after %s %s.", num(v[0], a),
             plural(v[0], "trigger", "triggers"), num(v[1], b), plural(v[1], "event", "different events"));
  else
    snprintf(text, sizeof text, "No survey trigger: surveys are not sent automatically after events.");
  snprintf(fig, sizeof fig, "\"triggers\":%lld,\"events\":%lld", (long long)v[0], (long long)v[1]);
  return item(e, "survey_triggers", "process", text, fig, s);
}

/* culture: the closed loop, from the cases of migration 10 (lib/cases),
 * counted as GET /cases/metrics counts "within SLA" (docs/cases.md):
 * over the cases opened in the window, a case is settled once resolved,
 * or while open once a due time has passed without its action; it met
 * its SLA when resolved with both the first response and the resolution
 * by their due times. A first response or resolution after now_ms has
 * not happened yet (an assessment dated in the past). */
static cx_err closed_loop(ev *e) {
  int64_t v[3] = {0};
  if (table_exists(e->db, "cases")) {
    cx_err rc = counts(e,
                       "SELECT count(*), coalesce(sum(settled), 0), coalesce(sum(met), 0) FROM"
                       " (SELECT (res IS NOT NULL OR (fr IS NULL AND frd <= ?2) OR rd <= ?2) AS settled,"
                       "   (res IS NOT NULL AND fr IS NOT NULL AND fr <= frd AND res <= rd) AS met FROM"
                       "  (SELECT CASE WHEN resolved_at <= ?2 THEN resolved_at END AS res,"
                       "    CASE WHEN first_response_at <= ?2 THEN first_response_at END AS fr,"
                       "    first_response_due_at AS frd, resolution_due_at AS rd"
                       "   FROM cases WHERE opened_at >= ?1 AND opened_at < ?2))",
                       v, 3);
    if (rc) return rc;
  }
  int64_t total = v[0], settled = v[1], met = v[2];
  char text[256], fig[192], a[32], b[32], c[32];
  int pct = settled ? (int)((200 * met + settled) / (2 * settled)) : 0;
  /* no cases: 1; none settled yet or < 50%: 2; 50-79%: 3; 80-94%: 4;
   * 95% or more: 5 */
  int s = !total ? 1 : !settled || pct < 50 ? 2 : pct < 80 ? 3 : pct < 95 ? 4 : 5;
  if (!total)
    snprintf(text, sizeof text, "No cases yet: no case was opened in the last %d days (the closed loop: cases with "
             "an SLA for detractors and low scores).", GV_EVIDENCE_DAYS);
  else if (!settled)
    snprintf(text, sizeof text, "Closed loop started: %s open %s, none resolved or past a due time yet.",
             num(total, a), plural(total, "case", "cases"));
  else
    snprintf(text, sizeof text, "Closed loop in place: %d%% of %s %s within SLA (%s missed, %s still open).", pct,
             num(settled, a), plural(settled, "case", "cases"), num(settled - met, b), num(total - settled, c));
  char share[16] = "null";
  if (settled) snprintf(share, sizeof share, "%d", pct);
  snprintf(fig, sizeof fig,
           "\"cases\":%lld,\"settled\":%lld,\"within_sla\":%lld,\"missed\":%lld,\"within_sla_percent\":%s,"
           "\"days\":%d",
           (long long)total, (long long)settled, (long long)met, (long long)(settled - met), share, GV_EVIDENCE_DAYS);
  return item(e, "closed_loop", "culture", text, fig, s);
}

/* governance: units and users */
static cx_err people(ev *e) {
  int64_t v[2] = {0};
  if (table_exists(e->db, "units") && table_exists(e->db, "users")) {
    cx_err rc = counts(e,
                       "SELECT (SELECT count(*) FROM units WHERE created_at <= ?2),"
                       " (SELECT count(*) FROM users WHERE disabled = 0 AND created_at <= ?2)",
                       v, 2);
    if (rc) return rc;
  }
  /* nothing: 1; users, no units: 2; units: 3; 3+ units and 5+ users: 4 */
  int s = !v[0] && !v[1] ? 1 : !v[0] ? 2 : v[0] >= 3 && v[1] >= 5 ? 4 : 3;
  char text[256], fig[96], a[32], b[32];
  snprintf(text, sizeof text, "%s %s and %s %s defined: who is accountable for which customers.", num(v[0], a),
           plural(v[0], "unit", "units"), num(v[1], b), plural(v[1], "user", "users"));
  snprintf(fig, sizeof fig, "\"units\":%lld,\"users\":%lld", (long long)v[0], (long long)v[1]);
  return item(e, "units_and_users", "governance", text, fig, s);
}

/* governance: the audit log's hash chain */
static cx_err audit(ev *e) {
  int64_t v[2] = {0};
  if (table_exists(e->db, "audit")) {
    cx_err rc = counts(e,
                       "SELECT count(*), coalesce(sum(at >= ?1), 0) FROM audit WHERE at <= ?2", v, 2);
    if (rc) return rc;
  }
  /* empty: 1; entries: 3 (that someone reviews them, the assessor knows) */
  int s = v[0] ? 3 : 1;
  char text[256], fig[96], a[32], b[32];
  if (v[0])
    snprintf(text, sizeof text, "Audit chain present: %s %s on record, %s in the last %d days.", num(v[0], a),
             plural(v[0], "change", "changes"), num(v[1], b), GV_EVIDENCE_DAYS);
  else
    snprintf(text, sizeof text, "The audit log is empty: no change is on record yet.");
  snprintf(fig, sizeof fig, "\"entries\":%lld,\"recent_entries\":%lld,\"days\":%d", (long long)v[0], (long long)v[1],
           GV_EVIDENCE_DAYS);
  return item(e, "audit_chain", "governance", text, fig, s);
}

/* change management: initiatives measured before and after on their KPI
 * (docs/initiatives.md) */
static cx_err initiatives(ev *e) {
  int64_t v[4] = {0};
  if (table_exists(e->db, "initiatives")) {
    cx_err rc = counts(e,
                       "SELECT count(*), coalesce(sum(started_at <= ?2 AND (done_at IS NULL OR done_at > ?2)), 0),"
                       " coalesce(sum(done_at <= ?2), 0),"
                       " coalesce(sum(kpi IS NOT NULL AND coalesce(done_at, started_at) <= ?2), 0)"
                       " FROM initiatives WHERE created_at <= ?2 AND status != 'dropped'",
                       v, 4);
    if (rc) return rc;
  }
  /* dropped ones left out. none: 1; initiatives, none measured: 2; one
   * with a KPI whose after window has begun (from done_at, or started_at
   * while in progress), so measured before and after: 3; three or more: 4 */
  int s = !v[0] ? 1 : !v[3] ? 2 : v[3] >= 3 ? 4 : 3;
  char text[256], fig[160], a[32], b[32], c[32], d[32];
  if (v[0])
    snprintf(text, sizeof text, "%s %s on record (%s in progress, %s done); %s with a KPI measured before and after.",
             num(v[0], a), plural(v[0], "initiative", "initiatives"), num(v[1], b), num(v[2], c), num(v[3], d));
  else
    snprintf(text, sizeof text, "No initiatives yet: no change is measured before and after on its KPI.");
  snprintf(fig, sizeof fig, "\"initiatives\":%lld,\"in_progress\":%lld,\"done\":%lld,\"measured\":%lld",
           (long long)v[0], (long long)v[1], (long long)v[2], (long long)v[3]);
  return item(e, "measured_changes", "change", text, fig, s);
}

/* people: employee listening (eNPS) */
static cx_err employees(ev *e) {
  int64_t v[2] = {0};
  cx_err rc = counts(e,
                     "SELECT (SELECT count(*) FROM surveys WHERE status = 'live' AND kind = 'employee'"
                     "   AND created_at <= ?2),"
                     " (SELECT count(*) FROM responses r JOIN surveys s ON s.id = r.survey_id"
                     "   WHERE s.kind = 'employee' AND s.created_at <= ?2 AND r.replaced_by IS NULL"
                     "   AND r.submitted_at >= ?1 AND r.submitted_at < ?2)",
                     v, 2);
  if (rc) return rc;
  /* no answers: 1 (2 with a live survey); answers: 3; 30 or more: 4 */
  int s = !v[1] ? (v[0] ? 2 : 1) : v[1] >= 30 ? 4 : 3;
  char text[256], fig[128], a[32], b[32];
  snprintf(text, sizeof text, "Employee listening: %s live employee %s and %s %s in the last %d days.", num(v[0], a),
           plural(v[0], "survey", "surveys"), num(v[1], b), plural(v[1], "answer", "answers"), GV_EVIDENCE_DAYS);
  snprintf(fig, sizeof fig, "\"live_surveys\":%lld,\"responses\":%lld,\"days\":%d", (long long)v[0], (long long)v[1],
           GV_EVIDENCE_DAYS);
  return item(e, "employee_listening", "people", text, fig, s);
}

/* technology: sources feeding one customer record */
static cx_err technology(ev *e) {
  int64_t v[3] = {0};
  cx_err rc = counts(e,
                     "SELECT (SELECT count(*) FROM sources WHERE created_at <= ?2),"
                     " (SELECT count(*) FROM customers WHERE merged_into IS NULL AND created_at <= ?2),"
                     " (SELECT count(*) FROM identities WHERE created_at <= ?2)",
                     v, 3);
  if (rc) return rc;
  /* no customer: 1; one source: 2; 2 sources: 3; 3+ sources with
   * identities joined (more identities than customers): 4 */
  int s = !v[1] ? 1 : v[0] <= 1 ? 2 : v[0] >= 3 && v[2] > v[1] ? 4 : 3;
  char text[256], fig[128], a[32], b[32], c[32];
  snprintf(text, sizeof text, "%s %s feed one record of %s %s, unified from %s %s.", num(v[0], a),
           plural(v[0], "source", "sources"), num(v[1], b), plural(v[1], "customer", "customers"), num(v[2], c),
           plural(v[2], "identity", "identities"));
  snprintf(fig, sizeof fig, "\"sources\":%lld,\"customers\":%lld,\"identities\":%lld", (long long)v[0],
           (long long)v[1], (long long)v[2]);
  return item(e, "unified_customer", "technology", text, fig, s);
}

cx_err gv_maturity_evidence_items(store *st, int64_t now_ms, cx_buf *out) {
  ev e = {.db = store_reader_get(st), .since = now_ms - GV_EVIDENCE_DAYS * DAY_MS, .now = now_ms, .b = out};
  /* in the model's order of their components */
  static cx_err (*const items[])(ev *) = {closed_loop, employees, initiatives, people,      audit,
                                          triggers,    design,    listening,   touchpoints, technology};
  cx_err rc = cx_buf_puts(out, "[");
  for (size_t i = 0; i < sizeof items / sizeof items[0] && !rc; i++) rc = items[i](&e);
  if (!rc) rc = cx_buf_puts(out, "]");
  store_reader_put(st, e.db);
  return rc;
}

cx_err gv_maturity_evidence(store *st, int64_t now_ms, cx_buf *out) {
  cx_err rc = cx_buf_puts(out, "{\"computed_at\":");
  if (!rc) rc = cx_buf_json_time(out, now_ms);
  if (!rc) rc = cx_buf_printf(out, ",\"days\":%d,\"evidence\":", GV_EVIDENCE_DAYS);
  if (!rc) rc = gv_maturity_evidence_items(st, now_ms, out);
  if (!rc) rc = cx_buf_puts(out, "}");
  return rc;
}
