/* audit.c - the append-only audit log and its hash chain.
 *
 * Entry i's hash is BLAKE2b-256 over entry i-1's hash (64 hex digits; 64
 * zeros for the first) followed by the entry's fields id, at, actor,
 * action, target, before and after, each as an 8-byte little-endian
 * length and its bytes (a NULL as the length 2^64-1 and no bytes).
 * Changing, inserting or removing an entry breaks every hash after it;
 * docs/audit.md says what the chain does not catch. */
#include "govern_int.h"
#include "../base/time.h"
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void feed(crypto_generichash_state *s, const char *p, int is_null) {
  uint64_t n = is_null ? UINT64_MAX : (uint64_t)strlen(p);
  unsigned char len[8];
  for (int i = 0; i < 8; i++) len[i] = (unsigned char)(n >> (8 * i));
  crypto_generichash_update(s, len, sizeof len);
  if (!is_null) crypto_generichash_update(s, (const unsigned char *)p, strlen(p));
}

static void chain(const char *prev, int64_t id, int64_t at, const char *actor, const char *action, const char *target,
                  const char *before, const char *after, char out[65]) {
  crypto_generichash_state s;
  unsigned char h[32];
  char num[24];
  crypto_generichash_init(&s, NULL, 0, sizeof h);
  crypto_generichash_update(&s, (const unsigned char *)prev, 64);
  snprintf(num, sizeof num, "%lld", (long long)id);
  feed(&s, num, 0);
  snprintf(num, sizeof num, "%lld", (long long)at);
  feed(&s, num, 0);
  feed(&s, actor, 0);
  feed(&s, action, 0);
  feed(&s, target, 0);
  feed(&s, before ? before : "", !before);
  feed(&s, after ? after : "", !after);
  crypto_generichash_final(&s, h, sizeof h);
  sodium_bin2hex(out, 65, h, sizeof h);
}

static const char GENESIS[65] = "0000000000000000000000000000000000000000000000000000000000000000";

typedef struct {
  store_job job;
  int64_t at;
  const char *actor, *action, *target, *before, *after;
} audit_job;

static cx_err audit_apply(store_job *job, sqlite3 *db) {
  audit_job *j = (audit_job *)job;
  sqlite3_stmt *st;
  char prev[65];
  int64_t id = 1;
  memcpy(prev, GENESIS, sizeof prev);
  if (sqlite3_prepare_v2(db, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
    return CX_EDB;
  if (sqlite3_step(st) == SQLITE_ROW) {
    id = sqlite3_column_int64(st, 0) + 1;
    snprintf(prev, sizeof prev, "%s", (const char *)sqlite3_column_text(st, 1));
  }
  sqlite3_finalize(st);
  char hash[65];
  chain(prev, id, j->at, j->actor, j->action, j->target, j->before, j->after, hash);
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO audit(id, at, actor, action, target, before, after, hash)"
                         " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                         -1, &st, NULL) != SQLITE_OK)
    return CX_EDB;
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int64(st, 2, j->at);
  sqlite3_bind_text(st, 3, j->actor, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, j->action, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, j->target, -1, SQLITE_STATIC);
  if (j->before) sqlite3_bind_text(st, 6, j->before, -1, SQLITE_STATIC);
  if (j->after) sqlite3_bind_text(st, 7, j->after, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 8, hash, -1, SQLITE_STATIC);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  return r == SQLITE_DONE ? CX_OK : CX_EDB;
}

cx_err gv_audit(govern *g, const char *actor, const char *action, const char *target, const char *before,
                const char *after) {
  audit_job j = {.job = {.apply = audit_apply, .weight = 1}, .at = cx_now_ms(), .actor = actor, .action = action,
                 .target = target, .before = before, .after = after};
  return store_run(g->st, &j.job);
}

cx_err gv_audit_list(govern *g, const gv_audit_query *q, cx_buf *out) {
  sqlite3 *db = store_reader_get(g->st);
  sqlite3_stmt *st;
  cx_err rc = CX_EDB;
  if (sqlite3_prepare_v2(db,
                         "SELECT id, at, actor, action, target, before, after, hash FROM audit"
                         " WHERE (?1 = 0 OR id < ?1) AND (?2 IS NULL OR actor = ?2) AND (?3 IS NULL OR action = ?3)"
                         " AND (?4 IS NULL OR substr(target, 1, length(?4)) = ?4) AND at >= ?5 AND at < ?6"
                         " ORDER BY id DESC LIMIT ?7",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, q->before_id);
    if (q->actor) sqlite3_bind_text(st, 2, q->actor, -1, SQLITE_STATIC);
    if (q->action) sqlite3_bind_text(st, 3, q->action, -1, SQLITE_STATIC);
    if (q->target) sqlite3_bind_text(st, 4, q->target, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, q->from);
    sqlite3_bind_int64(st, 6, q->to);
    sqlite3_bind_int64(st, 7, (int64_t)q->limit + 1);
    rc = cx_buf_puts(out, "{\"entries\":[");
    size_t n = 0;
    int64_t last = 0;
    int more = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
      if (n == q->limit) {
        more = 1;
        break;
      }
      last = sqlite3_column_int64(st, 0);
      rc = cx_buf_printf(out, "%s{\"id\":\"%lld\",\"at\":", n++ ? "," : "", (long long)last);
      if (!rc) rc = cx_buf_json_time(out, sqlite3_column_int64(st, 1));
      static const char *const names[] = {"actor", "action", "target"};
      for (int c = 2; !rc && c <= 4; c++) {
        const char *v = (const char *)sqlite3_column_text(st, c);
        rc = cx_buf_printf(out, ",\"%s\":", names[c - 2]);
        if (!rc) rc = cx_buf_json_str(out, v, strlen(v));
      }
      /* before and after are JSON texts written by cxm */
      for (int c = 5; !rc && c <= 6; c++) {
        const char *v = (const char *)sqlite3_column_text(st, c);
        rc = cx_buf_printf(out, ",\"%s\":%s", c == 5 ? "before" : "after", v ? v : "null");
      }
      if (!rc) rc = cx_buf_printf(out, ",\"hash\":\"%s\"}", (const char *)sqlite3_column_text(st, 7));
    }
    sqlite3_finalize(st);
    if (!rc) rc = more ? cx_buf_printf(out, "],\"next_cursor\":\"%lld\"}", (long long)last) : cx_buf_puts(out, "],\"next_cursor\":null}");
  }
  store_reader_put(g->st, db);
  return rc;
}

cx_err gv_audit_verify(sqlite3 *db, int64_t *entries, int64_t *bad, char head[65]) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT id, at, actor, action, target, before, after, hash FROM audit ORDER BY id", -1,
                         &st, NULL) != SQLITE_OK)
    return CX_EDB;
  char prev[65];
  memcpy(prev, GENESIS, sizeof prev);
  *entries = 0;
  *bad = 0;
  int r;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0);
    const char *f[6];
    for (int c = 2; c <= 7; c++) f[c - 2] = (const char *)sqlite3_column_text(st, c);
    char want[65];
    chain(prev, id, sqlite3_column_int64(st, 1), f[0] ? f[0] : "", f[1] ? f[1] : "", f[2] ? f[2] : "", f[3], f[4],
          want);
    ++*entries;
    if (!f[5] || strcmp(want, f[5])) {
      *bad = id;
      break;
    }
    memcpy(prev, want, sizeof prev);
  }
  sqlite3_finalize(st);
  if (r != SQLITE_ROW && r != SQLITE_DONE) return CX_EDB;
  memcpy(head, prev, 65);
  return CX_OK;
}
