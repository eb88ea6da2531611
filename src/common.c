#include "cli.h"
#include "../lib/profile/profile.h"
#include "../lib/base/time.h"
#include "../lib/base/util.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void cli_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("cxm: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

const char *cli_store_error(cx_err rc) {
  switch (rc) {
  case CX_EBUSY: return "the data directory is in use by another cxm process (a running 'cxm serve'?)";
  case CX_ENOTFOUND: return "the data directory holds no cxm store; run 'cxm init' first";
  case CX_EIO: return "the data directory cannot be created or opened (check the path and permissions)";
  default: return "the store could not be opened (see the log line above)";
  }
}

static cx_err exec_bind(sqlite3 *db, const char *sql, const char *a, const char *b) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return CX_EDB;
  if (a) sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
  if (b) sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, cx_now_ms());
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  return r == SQLITE_DONE ? CX_OK : r == SQLITE_CONSTRAINT ? CX_EEXIST : CX_EDB;
}

cx_err cli_initialise(store *st, const char *dir, char *out, size_t outlen) {
  sqlite3 *db = store_db(st);
  char token[64], key[64], th[65], kh[65];
  cx_secret("cxm_at_", token, sizeof token);
  cx_secret("wk_", key, sizeof key);
  cx_secret_hash(token, strlen(token), th);
  cx_secret_hash(key, strlen(key), kh);
  if (store_exec(db, "BEGIN IMMEDIATE")) return CX_EDB;
  cx_err rc = exec_bind(db, "INSERT INTO meta(key, value) VALUES(?1, ?3)", "initialised_at", NULL);
  if (!rc) rc = exec_bind(db, "INSERT INTO tokens(name, token_hash, scope, created_at) VALUES(?1, ?2, 'admin', ?3)",
                          "admin", th);
  if (!rc) rc = exec_bind(db, "INSERT INTO sources(name, key_hash, created_at) VALUES(?1, ?2, ?3)",
                          "default", kh);
  if (!rc) rc = store_exec(db, "COMMIT");
  if (rc) {
    store_exec(db, "ROLLBACK");
    return rc;
  }
  /* the secrets are shown once: make them durable before showing them
   * (the connection runs synchronous=NORMAL; a checkpoint syncs) */
  if ((rc = store_exec(db, "PRAGMA wal_checkpoint(FULL)"))) return rc;
  /* dir is the user's own path; keep it printable JSON */
  char esc[2048];
  size_t k = 0;
  for (const char *p = dir; *p && k < sizeof esc - 7; p++) {
    if (*p == '"' || *p == '\\') esc[k++] = '\\';
    if ((unsigned char)*p < 0x20) continue;
    esc[k++] = *p;
  }
  esc[k] = 0;
  snprintf(out, outlen, "{\"data\":\"%s\",\"admin_token\":\"%s\",\"write_key\":\"%s\"}", esc, token, key);
  return CX_OK;
}

typedef struct {
  store *st;
  profile *pr;
  ingest *in;
} saves;

static void *save_main(void *arg) {
  saves *a = arg;
  profile_save(a->pr, store_db(a->st));
  ingest_save(a->in);
  return NULL;
}

void cli_close(store *st, profile *pr, ingest *in) {
  store_writer_stop(st);
  /* a failed store's memory is not the log's: save nothing then */
  if (pr && in && !store_failed(st)) {
    /* the saved timelines and dedupe window are written while the WAL is
     * folded into the database: after a large import, tens of ms each */
    saves a = {st, pr, in};
    pthread_t t;
    if (pthread_create(&t, NULL, save_main, &a) == 0) {
      store_checkpoint(st);
      pthread_join(t, NULL);
    } else {
      save_main(&a);
    }
  }
  ingest_close(in);
  profile_close(pr);
  store_close(st);
}
