/* view.c - the single customer view, read through a reader connection. */
#include "profile_int.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/vec.h"
#include <stdlib.h>
#include <string.h>

static const char *type_name(int t) {
  return t == PROFILE_USER_ID ? "user_id" : t == PROFILE_ANONYMOUS_ID ? "anonymous_id" : "email";
}

#define MAX_MEMBERS 100000 /* customers gathered into one view */

/* The JSON array of the customers merged into id's root: the rows of a
 * merged customer stay under its own id, so views read them all. */
static cx_err members_json(profile *p, int64_t id, cx_buf *out) {
  size_t n = profile_members(p, id, NULL, 0);
  if (n > MAX_MEMBERS) n = MAX_MEMBERS;
  int64_t *m = cx_malloc((n ? n : 1) * sizeof *m);
  if (!m) return CX_ENOMEM;
  size_t got = profile_members(p, id, m, n);
  if (got < n) n = got;
  cx_err rc = cx_buf_puts(out, "[");
  for (size_t i = 0; i < n && !rc; i++) rc = cx_buf_printf(out, "%s%lld", i ? "," : "", (long long)m[i]);
  if (!rc) rc = cx_buf_puts(out, "]");
  cx_free(m);
  return rc;
}

cx_err profile_customer_json(profile *p, sqlite3 *rdb, int64_t id, cx_buf *out) {
  profile_summary sum;
  cx_err rc = profile_get_summary(p, id, &sum);
  if (rc) return rc;
  cx_buf members;
  cx_buf_init(&members, 16 << 20);
  if ((rc = members_json(p, id, &members))) {
    cx_buf_free(&members);
    return rc;
  }
  sqlite3_stmt *st = NULL;
  int identified = 0;
  rc = cx_buf_printf(out, "{\"id\":\"%lld\",\"identities\":[", (long long)id);
  if (sqlite3_prepare_v2(rdb,
                         "SELECT type, value FROM identities"
                         " WHERE customer_id IN (SELECT value FROM json_each(?1))"
                         " ORDER BY type, created_at, value",
                         -1, &st, NULL) != SQLITE_OK)
    goto dberr;
  sqlite3_bind_text(st, 1, members.p, (int)members.len, SQLITE_STATIC);
  for (int first = 1; !rc && sqlite3_step(st) == SQLITE_ROW; first = 0) {
    int t = sqlite3_column_int(st, 0);
    if (t != PROFILE_ANONYMOUS_ID) identified = 1;
    rc = cx_buf_printf(out, "%s{\"type\":\"%s\",\"value\":", first ? "" : ",", type_name(t));
    if (!rc) rc = cx_buf_json_str(out, (const char *)sqlite3_column_text(st, 1),
                                  (size_t)sqlite3_column_bytes(st, 1));
    if (!rc) rc = cx_buf_puts(out, "}");
  }
  sqlite3_finalize(st);
  st = NULL;
  if (!rc) rc = cx_buf_puts(out, "],\"traits\":{");
  /* per key, the newest value over the members (the root's on a tie):
   * traits merge by event time */
  if (sqlite3_prepare_v2(rdb,
                         "SELECT key, value FROM (SELECT key, value, row_number() OVER ("
                         "  PARTITION BY key ORDER BY ts DESC, customer_id = ?2 DESC) AS rn"
                         "  FROM traits WHERE customer_id IN (SELECT value FROM json_each(?1)))"
                         " WHERE rn = 1 ORDER BY key",
                         -1, &st, NULL) != SQLITE_OK)
    goto dberr;
  sqlite3_bind_text(st, 1, members.p, (int)members.len, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, id);
  for (int first = 1; !rc && sqlite3_step(st) == SQLITE_ROW; first = 0) {
    if (!first) rc = cx_buf_puts(out, ",");
    if (!rc) rc = cx_buf_json_str(out, (const char *)sqlite3_column_text(st, 0),
                                  (size_t)sqlite3_column_bytes(st, 0));
    if (!rc) rc = cx_buf_puts(out, ":");
    /* values were stored as JSON text by the writer */
    if (!rc) rc = cx_buf_append(out, sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1));
  }
  sqlite3_finalize(st);
  st = NULL;
  if (!rc) rc = cx_buf_puts(out, "},\"accounts\":[");
  if (sqlite3_prepare_v2(rdb, "SELECT DISTINCT account_id FROM memberships"
                              " WHERE customer_id IN (SELECT value FROM json_each(?1))"
                              " ORDER BY account_id",
                         -1, &st, NULL) != SQLITE_OK)
    goto dberr;
  sqlite3_bind_text(st, 1, members.p, (int)members.len, SQLITE_STATIC);
  for (int first = 1; !rc && sqlite3_step(st) == SQLITE_ROW; first = 0) {
    if (!first) rc = cx_buf_puts(out, ",");
    if (!rc) rc = cx_buf_json_str(out, (const char *)sqlite3_column_text(st, 0),
                                  (size_t)sqlite3_column_bytes(st, 0));
  }
  sqlite3_finalize(st);
  /* the first stage rule that matches (stage.c) */
  char stage[PROFILE_STAGE_NAME_MAX + 1];
  profile_stage(p, id, identified, cx_now_ms(), stage);
  if (!rc) rc = cx_buf_printf(out, "],\"stage\":\"%s\",\"first_seen\":", stage);
  if (!rc) rc = cx_buf_json_time(out, sum.first_seen);
  if (!rc) rc = cx_buf_puts(out, ",\"last_seen\":");
  if (!rc) rc = cx_buf_json_time(out, sum.last_seen);
  if (!rc) rc = cx_buf_printf(out, ",\"event_count\":%llu}", (unsigned long long)sum.event_count);
  cx_buf_free(&members);
  return rc;
dberr:
  cx_log("error", "customer_view_failed", "error", sqlite3_errmsg(rdb), NULL);
  sqlite3_finalize(st);
  cx_buf_free(&members);
  return CX_EDB;
}

#define MAX_SEARCH_MATCHES 100000 /* rows a text search looks at */

size_t profile_list(profile *p, sqlite3 *rdb, const char *q, int64_t after_id, int64_t *out,
                    size_t max) {
  size_t k = 0;
  if (!q) {
    pthread_rwlock_rdlock(&p->lock);
    for (int64_t i = after_id + 1; i <= p->ncust && k < max; i++)
      if (p->cust[i].parent == i) out[k++] = i;
    pthread_rwlock_unlock(&p->lock);
    return k;
  }
  /* Rows belong to the customer that wrote them: map each match to its
   * root, then page over the sorted, distinct roots. */
  /* LIKE is case-insensitive for ASCII, as lower() is, and several times
   * faster than instr(lower(…)): escape its wildcards in q */
  size_t qn = strlen(q);
  char *pat = cx_malloc(2 * qn + 3);
  if (!pat) return 0;
  size_t j = 0;
  pat[j++] = '%';
  for (size_t i = 0; i < qn; i++) {
    if (q[i] == '%' || q[i] == '_' || q[i] == '\\') pat[j++] = '\\';
    pat[j++] = q[i];
  }
  pat[j++] = '%';
  pat[j] = 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(rdb,
                         "SELECT customer_id FROM identities WHERE value LIKE ?1 ESCAPE '\\'"
                         " UNION SELECT customer_id FROM traits WHERE value LIKE ?1 ESCAPE '\\'"
                         " LIMIT ?2",
                         -1, &st, NULL) != SQLITE_OK) {
    cx_free(pat);
    cx_log("error", "customer_search_failed", "error", sqlite3_errmsg(rdb), NULL);
    return 0;
  }
  sqlite3_bind_text(st, 1, pat, (int)j, cx_free);
  sqlite3_bind_int64(st, 2, MAX_SEARCH_MATCHES);
  cx_vec all = {0};
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW && !cx_vec_push(&all, sqlite3_column_int64(st, 0)))
    ;
  if (step == SQLITE_ROW) cx_log("warn", "customer_search_truncated", "reason", "out of memory", NULL);
  sqlite3_finalize(st);
  pthread_rwlock_rdlock(&p->lock);
  for (size_t i = 0; i < all.n; i++) all.v[i] = profile_root(p, all.v[i]);
  pthread_rwlock_unlock(&p->lock);
  if (all.n) qsort(all.v, all.n, sizeof *all.v, cx_i64_cmp);
  for (size_t i = 0; i < all.n && k < max; i++)
    if (all.v[i] > after_id && (!k || out[k - 1] != all.v[i])) out[k++] = all.v[i];
  cx_vec_free(&all);
  return k;
}
