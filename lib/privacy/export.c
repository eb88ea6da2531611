/* export.c - one JSON document of everything held about a customer. Each
 * part is one query over the customer's profiles: the canonical id and
 * every id merged into it, directly or through another (a recursive CTE
 * over customers.merged_into, bound as ?1). */
#include "privacy_int.h"
#include <stdio.h>
#include <string.h>


/* How a column goes into the JSON. */
enum { C_INT, C_TEXT, C_TIME, C_JSON, C_REAL };
typedef struct {
  const char *name;
  int kind;
} col;

/* "events":[{"seq":…,"message":{…}},…]: the customer's events in time
 * order, each with its stored message (events without one are left out),
 * read through one body reader (lib/store/bodies.c) */
static cx_err part_events(sqlite3 *db, cx_buf *out, int64_t customer) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, PRIVACY_PROFILES "SELECT seq FROM events WHERE customer_id IN m ORDER BY ts, seq", -1, &st,
                         NULL) != SQLITE_OK)
    return CX_EDB;
  sqlite3_bind_int64(st, 1, customer);
  store_body_reader *br;
  cx_err rc = store_body_reader_open(db, &br);
  if (!rc) rc = cx_buf_puts(out, ",\"events\":[");
  int n = 0, r = SQLITE_DONE;
  while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t seq = sqlite3_column_int64(st, 0);
    const char *body;
    size_t len;
    if ((rc = store_body_read(br, seq, &body, &len)) || !body) continue;
    rc = cx_buf_printf(out, "%s{\"seq\":%lld,\"message\":", n++ ? "," : "", (long long)seq);
    if (!rc) rc = cx_buf_append(out, body, len); /* JSON cxm wrote */
    if (!rc) rc = cx_buf_puts(out, "}");
  }
  if (!rc && r != SQLITE_DONE) rc = CX_EDB;
  store_body_reader_close(br);
  sqlite3_finalize(st);
  if (!rc) rc = cx_buf_puts(out, "]");
  return rc;
}

int privacy_table_exists(sqlite3 *db, const char *name) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", -1, &st, NULL)) return 0;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int yes = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return yes;
}

/* "name":[{…},…] from sql's rows, columns described by cols. */
static cx_err part(sqlite3 *db, cx_buf *out, const char *name, const char *sql, int64_t customer, const col *cols,
                   int ncols) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return CX_EDB;
  sqlite3_bind_int64(st, 1, customer);
  cx_err rc = cx_buf_printf(out, ",\"%s\":[", name);
  int n = 0, r;
  while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
    rc = cx_buf_puts(out, n++ ? ",{" : "{");
    for (int i = 0; !rc && i < ncols; i++) {
      rc = cx_buf_printf(out, "%s\"%s\":", i ? "," : "", cols[i].name);
      if (rc) break;
      if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        rc = cx_buf_puts(out, "null");
        continue;
      }
      const char *t = (const char *)sqlite3_column_text(st, i);
      size_t len = (size_t)sqlite3_column_bytes(st, i);
      switch (cols[i].kind) {
      case C_INT: rc = cx_buf_printf(out, "%lld", (long long)sqlite3_column_int64(st, i)); break;
      case C_REAL: rc = cx_buf_printf(out, "%.6g", sqlite3_column_double(st, i)); break;
      case C_TIME: rc = cx_buf_json_time(out, sqlite3_column_int64(st, i)); break;
      case C_JSON: rc = cx_buf_append(out, t, len); break; /* JSON cxm wrote */
      default: rc = cx_buf_json_str(out, t, len);
      }
    }
    if (!rc) rc = cx_buf_puts(out, "}");
  }
  if (!rc && r != SQLITE_DONE) rc = CX_EDB;
  sqlite3_finalize(st);
  if (!rc) rc = cx_buf_puts(out, "]");
  return rc;
}

cx_err privacy_export(sqlite3 *db, int64_t customer, int64_t now_ms, cx_buf *out) {
  if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) return CX_EDB;
  sqlite3_stmt *st;
  cx_err rc = CX_OK;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM customers WHERE id = ?1 AND merged_into IS NULL", -1, &st, NULL)) {
    rc = CX_EDB;
  } else {
    sqlite3_bind_int64(st, 1, customer);
    if (sqlite3_step(st) != SQLITE_ROW) rc = CX_ENOTFOUND;
    sqlite3_finalize(st);
  }
  if (!rc) rc = cx_buf_printf(out, "{\"customer_id\":\"%lld\",\"exported_at\":", (long long)customer);
  if (!rc) rc = cx_buf_json_time(out, now_ms);
  static const col profiles[] = {{"id", C_INT}, {"created_at", C_TIME}, {"merged_into", C_INT}};
  static const col identities[] = {{"type", C_TEXT}, {"value", C_TEXT}, {"created_at", C_TIME}};
  static const col traits[] = {{"key", C_TEXT}, {"value", C_JSON}, {"set_at", C_TIME}};
  static const col groups[] = {{"account_id", C_TEXT}, {"joined_at", C_TIME}};
  static const col merges[] = {{"at", C_TIME}, {"from_id", C_INT}, {"into_id", C_INT}, {"reason", C_TEXT}};
  static const col responses[] = {{"id", C_INT}, {"survey_id", C_INT}, {"survey", C_TEXT}, {"submitted_at", C_TIME},
                                  {"complete", C_INT}, {"channel", C_TEXT}, {"touchpoint", C_TEXT}, {"unit", C_TEXT},
                                  {"agent", C_TEXT}, {"language", C_TEXT}, {"answers", C_JSON}};
  static const col verbatims[] = {{"response_id", C_INT}, {"question", C_TEXT}, {"text", C_TEXT},
                                  {"sentiment", C_REAL}, {"phrases", C_TEXT}};
  static const col invitations[] = {{"survey_id", C_INT}, {"email", C_TEXT}, {"status", C_TEXT},
                                    {"skip_reason", C_TEXT}, {"sent_at", C_TIME}, {"reminded_at", C_TIME}};
  static const col optouts[] = {{"email", C_TEXT}, {"at", C_TIME}};
  if (!rc) rc = part(db, out, "profiles", PRIVACY_PROFILES "SELECT c.id, c.created_at, c.merged_into FROM customers c WHERE c.id IN m ORDER BY c.id",
                     customer, profiles, 3);
  if (!rc) rc = part(db, out, "identities",
                     PRIVACY_PROFILES "SELECT CASE type WHEN 1 THEN 'user_id' WHEN 2 THEN 'anonymous_id' ELSE 'email' END, value, created_at"
                              " FROM identities WHERE customer_id IN m ORDER BY type, value",
                     customer, identities, 3);
  if (!rc) rc = part(db, out, "traits", PRIVACY_PROFILES "SELECT key, value, ts FROM traits WHERE customer_id IN m ORDER BY key", customer,
                     traits, 3);
  if (!rc) rc = part(db, out, "accounts", PRIVACY_PROFILES "SELECT account_id, ts FROM memberships WHERE customer_id IN m ORDER BY account_id",
                     customer, groups, 2);
  if (!rc) rc = part(db, out, "merges", PRIVACY_PROFILES "SELECT at, from_id, into_id, reason FROM merges WHERE from_id IN m OR into_id IN m ORDER BY id",
                     customer, merges, 4);
  if (!rc) rc = part_events(db, out, customer);
  if (!rc) rc = part(db, out, "survey_responses",
                     PRIVACY_PROFILES "SELECT r.id, r.survey_id, s.name, r.submitted_at, r.complete, r.channel, r.touchpoint, r.unit,"
                              " r.agent, r.language, r.answers FROM responses r LEFT JOIN surveys s ON s.id = r.survey_id"
                              " WHERE r.customer_id IN m AND r.replaced_by IS NULL ORDER BY r.id",
                     customer, responses, 11);
  if (!rc) rc = part(db, out, "verbatims",
                     PRIVACY_PROFILES "SELECT response_id, question, text, score, phrases FROM verbatims WHERE customer_id IN m ORDER BY id",
                     customer, verbatims, 5);
  if (!rc) rc = part(db, out, "survey_invitations",
                     PRIVACY_PROFILES "SELECT survey_id, email, status, skip_reason, sent_at, reminded_at FROM invitations"
                              " WHERE customer_id IN m ORDER BY id",
                     customer, invitations, 6);
  if (!rc) rc = part(db, out, "survey_optouts",
                     PRIVACY_PROFILES "SELECT email, created_at FROM survey_optouts WHERE email IN"
                              " (SELECT value FROM identities WHERE type = 3 AND customer_id IN m)",
                     customer, optouts, 2);
  if (!rc && privacy_table_exists(db, "cases")) {
    static const col cases[] = {{"id", C_INT}, {"status", C_TEXT}, {"title", C_TEXT}, {"opened_at", C_TIME},
                                {"resolved_at", C_TIME}, {"closed_at", C_TIME}};
    rc = part(db, out, "cases", PRIVACY_PROFILES "SELECT id, status, title, opened_at, resolved_at, closed_at FROM cases"
                                         " WHERE customer_id IN m ORDER BY id",
              customer, cases, 6);
    if (!rc && privacy_table_exists(db, "case_notes")) {
      static const col notes[] = {{"case_id", C_INT}, {"at", C_TIME}, {"text", C_TEXT}};
      rc = part(db, out, "case_notes", PRIVACY_PROFILES "SELECT n.case_id, n.at, n.body FROM case_notes n"
                                                " JOIN cases c ON c.id = n.case_id WHERE c.customer_id IN m ORDER BY n.id",
                customer, notes, 3);
    }
  }
  if (!rc) rc = cx_buf_puts(out, "}");
  sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  return rc;
}
