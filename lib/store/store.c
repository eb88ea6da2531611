#include "store_int.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/time.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

cx_err store_exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    cx_log("error", "sql_failed", "error", msg ? msg : sqlite3_errmsg(db), NULL);
    sqlite3_free(msg);
    return CX_EDB;
  }
  return CX_OK;
}

cx_err store_log_head(sqlite3 *db, int64_t *seq, int64_t *mid) {
  sqlite3_stmt *st;
  *seq = *mid = 0;
  if (sqlite3_prepare_v2(db, "SELECT seq, mid_hash FROM events ORDER BY seq DESC LIMIT 1", -1, &st,
                         NULL) != SQLITE_OK)
    return CX_EDB;
  int r = sqlite3_step(st);
  if (r == SQLITE_ROW) {
    *seq = sqlite3_column_int64(st, 0);
    *mid = sqlite3_column_int64(st, 1);
  }
  sqlite3_finalize(st);
  return r == SQLITE_ROW || r == SQLITE_DONE ? CX_OK : CX_EDB;
}

void store_side_path(sqlite3 *db, const char *suffix, char *out, size_t cap) {
  const char *f = sqlite3_db_filename(db, "main");
  if (f && *f) snprintf(out, cap, "%s-%s", f, suffix);
  else if (cap) out[0] = 0;
}

int store_log_holds(sqlite3 *db, int64_t seq, int64_t mid) {
  if (seq == 0) return 1; /* saved from an empty log: every event is after it */
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT mid_hash FROM events WHERE seq = ?1", -1, &st, NULL) != SQLITE_OK)
    return 0;
  sqlite3_bind_int64(st, 1, seq);
  int ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == mid;
  sqlite3_finalize(st);
  return ok;
}

static cx_err migrate(store *s) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return CX_EDB;
  int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
  sqlite3_finalize(st);
  if (v < 0) return CX_EDB;
  if (v > store_migration_count) {
    cx_log("error", "schema_too_new", "hint", "this data directory was written by a newer cxm", NULL);
    return CX_EDB;
  }
  for (; v < store_migration_count; v++) {
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d;", v + 1);
    if (store_exec(s->db, "BEGIN IMMEDIATE") || store_exec(s->db, store_migrations[v]) ||
        store_exec(s->db, pragma) || store_exec(s->db, "COMMIT")) {
      store_exec(s->db, "ROLLBACK");
      return CX_EDB;
    }
    char vs[16];
    snprintf(vs, sizeof vs, "%d", v + 1);
    cx_log("info", "schema_migrated", "version", vs, NULL);
  }
  s->version = v;
  return CX_OK;
}

/* Before SQLite's first use in the process: no memory statistics, which
 * nothing reads and which cost every sqlite3_malloc and free a global mutex
 * (each connection is used by one thread at a time, SQLITE_OPEN_NOMUTEX).
 * Refused with SQLITE_MISUSE when SQLite is already initialised: harmless. */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;
static void sqlite_setup(void) { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

cx_err store_open(const char *dir, int create, store **out) {
  char path[4096];
  if (strlen(dir) > sizeof path - 32) return CX_EINVAL;
  if (create && mkdir(dir, 0700) != 0 && errno != EEXIST) return CX_EIO;
  snprintf(path, sizeof path, "%s/cxm.db", dir);
  if (!create && access(path, F_OK) != 0) return CX_ENOTFOUND;
  store *s = cx_calloc(1, sizeof *s);
  if (!s) return CX_ENOMEM;
  s->lock_fd = -1;
  s->wal_fd = -1;
  char lockp[4096];
  snprintf(lockp, sizeof lockp, "%s/cxm.lock", dir);
  s->lock_fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (s->lock_fd < 0) {
    cx_free(s);
    return CX_EIO;
  }
  if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    close(s->lock_fd);
    cx_free(s);
    return CX_EBUSY;
  }
  pthread_once(&sqlite_once, sqlite_setup);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->work, NULL);
  pthread_mutex_init(&s->rmu, NULL);
  pthread_cond_init(&s->rcv, NULL);
  cx_err rc = CX_EDB;
  if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK)
    goto fail;
  sqlite3_busy_timeout(s->db, 5000);
  /* synchronous=NORMAL: COMMIT writes the WAL without fsync; the syncer
   * thread (writer.c) fdatasyncs it before any job is acknowledged */
  snprintf(s->wal_path, sizeof s->wal_path, "%s-wal", path);
  s->wal_fd = -1;
  /* page_size takes effect only while the file is empty (a new store):
   * 8 KiB pages made an import 1.1x faster than 4 KiB (fewer pages and
   * frames for the same rows; docs/internals/store.md); older stores keep
   * theirs */
  if (store_exec(s->db, "PRAGMA page_size=8192; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                        "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;"
                        "PRAGMA foreign_keys=OFF; PRAGMA mmap_size=0;"))
    goto fail;
  if ((rc = migrate(s))) goto fail;
  if (sqlite3_open_v2(path, &s->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
      SQLITE_OK) {
    rc = CX_EDB;
    goto fail;
  }
  sqlite3_busy_timeout(s->ckpt_db, 1000);
  store_exec(s->ckpt_db, "PRAGMA synchronous=FULL");
  for (int i = 0; i < STORE_READERS; i++) {
    if (sqlite3_open_v2(path, &s->readers[i], SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
      rc = CX_EDB;
      goto fail;
    }
    sqlite3_busy_timeout(s->readers[i], 5000);
    store_exec(s->readers[i], "PRAGMA mmap_size=0; PRAGMA cache_size=-16384;");
    s->reader_free[i] = 1;
  }
  *out = s;
  return CX_OK;
fail:
  if (s->db) cx_log("error", "store_open_failed", "error", sqlite3_errmsg(s->db), "path", path, NULL);
  store_close(s);
  return rc;
}

cx_err store_checkpoint(store *s) {
  if (!s || !s->ckpt_db || s->failed) return CX_OK;
  int rc = sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
  return rc == SQLITE_OK ? CX_OK : rc == SQLITE_BUSY ? CX_EBUSY : CX_EDB;
}

void store_close(store *s) {
  if (!s) return;
  store_writer_stop(s);
  for (int i = 0; i < STORE_READERS; i++) sqlite3_close(s->readers[i]);
  sqlite3_close(s->ckpt_db);
  if (s->db) {
    /* fold the WAL back into the database so the directory is compact;
     * not after a failure: recovery at the next start replays the WAL.
     * (SQLite would checkpoint on the last close: keep the WAL then.) */
    if (!s->failed) sqlite3_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    else sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    sqlite3_close(s->db);
  }
  if (s->lock_fd >= 0) close(s->lock_fd);
  if (s->wal_fd >= 0) close(s->wal_fd);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->work);
  pthread_mutex_destroy(&s->rmu);
  pthread_cond_destroy(&s->rcv);
  cx_free(s);
}

sqlite3 *store_db(store *s) { return s->db; }
int store_schema_version(store *s) { return s->version; }

sqlite3 *store_reader_get(store *s) {
  pthread_mutex_lock(&s->rmu);
  for (;;) {
    for (int i = 0; i < STORE_READERS; i++)
      if (s->reader_free[i]) {
        s->reader_free[i] = 0;
        pthread_mutex_unlock(&s->rmu);
        return s->readers[i];
      }
    pthread_cond_wait(&s->rcv, &s->rmu);
  }
}

void store_reader_put(store *s, sqlite3 *db) {
  pthread_mutex_lock(&s->rmu);
  for (int i = 0; i < STORE_READERS; i++)
    if (s->readers[i] == db) s->reader_free[i] = 1;
  pthread_cond_signal(&s->rcv);
  pthread_mutex_unlock(&s->rmu);
}

cx_err store_step_named(sqlite3 *db, const char *sql, const store_param *params, size_t n, int64_t *out) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL)) return CX_EDB;
  int np = sqlite3_bind_parameter_count(st);
  for (int i = 1; i <= np; i++) {
    const char *name = sqlite3_bind_parameter_name(st, i);
    for (size_t k = 0; name && k < n; k++) {
      if (strcmp(name, params[k].name)) continue;
      if (!params[k].is_text) sqlite3_bind_int64(st, i, params[k].i64);
      else if (params[k].text) sqlite3_bind_text(st, i, params[k].text, -1, SQLITE_STATIC);
      else sqlite3_bind_null(st, i);
      break;
    }
  }
  int r = sqlite3_step(st);
  if (out) *out = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  return r == SQLITE_ROW || r == SQLITE_DONE ? CX_OK : CX_EDB;
}
