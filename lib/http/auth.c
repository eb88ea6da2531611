/* auth.c - bearer tokens for the admin API, kept as BLAKE2b hashes and
 * compared in constant time. */
#include "http_int.h"
#include "../base/mem.h"
#include "../base/util.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

cx_err http_tokens_load(http_server *h) {
  sqlite3 *db = store_reader_get(h->cfg.st);
  sqlite3_stmt *st;
  cx_err rc = CX_OK;
  if (sqlite3_prepare_v2(db, "SELECT token_hash, scope FROM tokens", -1, &st, NULL) !=
      SQLITE_OK) {
    store_reader_put(h->cfg.st, db);
    return CX_EDB;
  }
  http_token *list = NULL;
  size_t n = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    http_token *l = cx_realloc(list, (n + 1) * sizeof *l);
    if (!l) {
      rc = CX_ENOMEM;
      break;
    }
    list = l;
    snprintf(list[n].hash, sizeof list[n].hash, "%s", sqlite3_column_text(st, 0));
    list[n].admin = !strcmp((const char *)sqlite3_column_text(st, 1), "admin");
    n++;
  }
  sqlite3_finalize(st);
  store_reader_put(h->cfg.st, db);
  if (rc) {
    cx_free(list);
    return rc;
  }
  pthread_mutex_lock(&h->mu);
  cx_free(h->tokens);
  h->tokens = list;
  h->ntokens = n;
  pthread_mutex_unlock(&h->mu);
  return CX_OK;
}

cx_err http_bearer(http_server *h, struct MHD_Connection *c, int *admin) {
  const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  if (!a || strncasecmp(a, "Bearer ", 7)) return CX_EAUTH;
  const char *tok = a + 7;
  while (*tok == ' ') tok++;
  size_t n = strlen(tok);
  if (!n || n > 256) return CX_EAUTH;
  char hash[65];
  cx_secret_hash(tok, n, hash);
  int found = -1;
  pthread_mutex_lock(&h->mu);
  for (size_t i = 0; i < h->ntokens; i++)
    if (cx_ct_equal(h->tokens[i].hash, hash, 64)) found = h->tokens[i].admin;
  pthread_mutex_unlock(&h->mu);
  if (found < 0) return CX_EAUTH;
  *admin = found;
  return CX_OK;
}
