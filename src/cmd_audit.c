/* cmd_audit.c - cxm audit verify: recomputes the audit log's hash chain
 * (docs/audit.md). Reads the database file directly, read-only, so it
 * runs beside a serving cxm. */
#include "cli.h"
#include "../lib/govern/govern.h"
#include <stdio.h>

int cmd_audit(const cli_opts *o) {
  char path[4096];
  snprintf(path, sizeof path, "%s/cxm.db", o->data);
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    cli_error("%s holds no cxm store (cannot open %s).", o->data, path);
    sqlite3_close(db);
    return 1;
  }
  sqlite3_busy_timeout(db, 5000);
  int64_t n = 0, bad = 0;
  char head[65];
  cx_err rc = gv_audit_verify(db, &n, &bad, head);
  sqlite3_close(db);
  if (rc) {
    cli_error("the audit log of %s could not be read (an older store without one, or a damaged file).", o->data);
    return 1;
  }
  if (bad) {
    printf("{\"ok\":false,\"entries\":%lld,\"first_bad\":%lld}\n", (long long)n, (long long)bad);
    cli_error("the audit log is broken at entry %lld: it or an entry before it was changed, inserted or removed.",
              (long long)bad);
    return 1;
  }
  printf("{\"ok\":true,\"entries\":%lld,\"head\":\"%s\"}\n", (long long)n, head);
  return 0;
}
