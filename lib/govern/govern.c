/* govern.c - the module's state: units and live credentials cached from
 * the store, the unit tree's scope tests, and authentication. */
#include "govern_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/util.h"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cx_err load_units(sqlite3 *db, gv_unit **out, size_t *n) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT id, COALESCE(parent_id, 0), name FROM units ORDER BY id", -1, &st, NULL) !=
      SQLITE_OK)
    return CX_EDB;
  gv_unit *list = NULL;
  size_t k = 0, cap = 0;
  cx_err rc = CX_OK;
  int r;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    if (k == cap) {
      cap = cap ? cap * 2 : 16;
      gv_unit *l = cx_realloc(list, cap * sizeof *l);
      if (!l) {
        rc = CX_ENOMEM;
        break;
      }
      list = l;
    }
    list[k].id = sqlite3_column_int64(st, 0);
    list[k].parent = sqlite3_column_int64(st, 1);
    snprintf(list[k].name, sizeof list[k].name, "%s", (const char *)sqlite3_column_text(st, 2));
    k++;
  }
  if (!rc && r != SQLITE_DONE) rc = CX_EDB;
  sqlite3_finalize(st);
  if (rc) {
    cx_free(list);
    return rc;
  }
  *out = list;
  *n = k;
  return CX_OK;
}

static cx_err load_creds(sqlite3 *db, int64_t now, gv_cred **out, size_t *n) {
  sqlite3_stmt *st;
  const char *sql =
      "SELECT t.id, t.token_hash, t.kind, t.name,"
      " COALESCE(t.role, CASE t.scope WHEN 'admin' THEN 'admin' ELSE 'viewer' END),"
      " COALESCE(t.user_id, 0), COALESCE(t.expires_at, 0), COALESCE(u.unit_id, 0), u.email"
      " FROM tokens t LEFT JOIN users u ON u.id = t.user_id"
      " WHERE t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?1)"
      " AND (t.user_id IS NULL OR (u.id IS NOT NULL AND u.disabled = 0))"
      " ORDER BY t.id DESC LIMIT ?2";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return CX_EDB;
  sqlite3_bind_int64(st, 1, now);
  sqlite3_bind_int64(st, 2, GV_MAX_CREDS);
  gv_cred *list = NULL;
  size_t k = 0, cap = 0;
  cx_err rc = CX_OK;
  int r;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    gv_role role;
    if (gv_role_parse((const char *)sqlite3_column_text(st, 4), &role)) continue; /* never written */
    if (k == cap) {
      cap = cap ? cap * 2 : 16;
      gv_cred *l = cx_realloc(list, cap * sizeof *l);
      if (!l) {
        rc = CX_ENOMEM;
        break;
      }
      list = l;
    }
    gv_cred *c = &list[k++];
    c->id = sqlite3_column_int64(st, 0);
    snprintf(c->hash, sizeof c->hash, "%s", (const char *)sqlite3_column_text(st, 1));
    const char *kind = (const char *)sqlite3_column_text(st, 2);
    c->session = !strcmp(kind, "session");
    c->role = role;
    c->user_id = sqlite3_column_int64(st, 5);
    c->expires_at = sqlite3_column_int64(st, 6);
    c->unit_id = sqlite3_column_int64(st, 7);
    const char *email = (const char *)sqlite3_column_text(st, 8);
    if (email) snprintf(c->actor, sizeof c->actor, "user:%.120s", email);
    else snprintf(c->actor, sizeof c->actor, "token:%.120s", (const char *)sqlite3_column_text(st, 3));
  }
  if (!rc && r != SQLITE_DONE) rc = CX_EDB;
  sqlite3_finalize(st);
  if (rc) {
    cx_free(list);
    return rc;
  }
  *out = list;
  *n = k;
  return CX_OK;
}

static int cred_cmp(const void *a, const void *b) {
  return memcmp(((const gv_cred *)a)->hash, ((const gv_cred *)b)->hash, 64);
}

cx_err gv_reload(govern *g) {
  sqlite3 *db = store_reader_get(g->st);
  gv_unit *units = NULL;
  gv_cred *creds = NULL;
  size_t nu = 0, nc = 0;
  cx_err rc = load_units(db, &units, &nu);
  if (!rc) rc = load_creds(db, cx_now_ms(), &creds, &nc);
  store_reader_put(g->st, db);
  if (rc) {
    cx_free(units);
    return rc;
  }
  /* looked up by hash: a binary search on hashes of random secrets tells
   * nothing about any secret */
  if (nc) qsort(creds, nc, sizeof *creds, cred_cmp);
  pthread_rwlock_wrlock(&g->lock);
  cx_free(g->units);
  cx_free(g->creds);
  g->units = units;
  g->nunits = nu;
  g->creds = creds;
  g->ncreds = nc;
  pthread_rwlock_unlock(&g->lock);
  return CX_OK;
}

cx_err gv_open(store *st, govern **out) {
  govern *g = cx_calloc(1, sizeof *g);
  if (!g) return CX_ENOMEM;
  g->st = st;
  pthread_rwlock_init(&g->lock, NULL);
  pthread_mutex_init(&g->lock_mu, NULL);
  sem_init(&g->hashing, 0, 2);
  /* an unknown e-mail costs the same argon2id verification as a known one */
  char pw[40];
  cx_secret("", pw, sizeof pw);
  if (crypto_pwhash_str(g->dummy_hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE)) {
    gv_close(g);
    return CX_ENOMEM;
  }
  cx_err rc = gv_reload(g);
  if (rc) {
    gv_close(g);
    return rc;
  }
  *out = g;
  return CX_OK;
}

void gv_close(govern *g) {
  if (!g) return;
  cx_free(g->units);
  cx_free(g->creds);
  pthread_rwlock_destroy(&g->lock);
  pthread_mutex_destroy(&g->lock_mu);
  sem_destroy(&g->hashing);
  cx_free(g);
}

/* ---- units: call with the lock held ---- */

static const gv_unit *unit_find(const govern *g, int64_t id) {
  size_t lo = 0, hi = g->nunits;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (g->units[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < g->nunits && g->units[lo].id == id ? &g->units[lo] : NULL;
}

static int in_scope_locked(const govern *g, int64_t scope, int64_t unit) {
  if (scope == GV_ALL_UNITS) return 1;
  /* walk up; the tree has no cycles (people.c refuses them), and the
   * bound keeps a damaged table from looping */
  for (size_t steps = 0; unit && steps <= g->nunits; steps++) {
    if (unit == scope) return 1;
    const gv_unit *u = unit_find(g, unit);
    if (!u) return 0;
    unit = u->parent;
  }
  return 0;
}

int gv_unit_in_scope(govern *g, int64_t scope, int64_t unit) {
  pthread_rwlock_rdlock(&g->lock);
  int ok = in_scope_locked(g, scope, unit);
  pthread_rwlock_unlock(&g->lock);
  return ok;
}

static int64_t by_name_locked(const govern *g, const char *name) {
  for (size_t i = 0; name && i < g->nunits; i++)
    if (!strcmp(g->units[i].name, name)) return g->units[i].id;
  return 0;
}

int gv_unit_name_in_scope(govern *g, int64_t scope, const char *name) {
  if (scope == GV_ALL_UNITS) return 1;
  pthread_rwlock_rdlock(&g->lock);
  int64_t id = by_name_locked(g, name);
  int ok = id && in_scope_locked(g, scope, id);
  pthread_rwlock_unlock(&g->lock);
  return ok;
}

int64_t gv_unit_by_name(govern *g, const char *name) {
  pthread_rwlock_rdlock(&g->lock);
  int64_t id = by_name_locked(g, name);
  pthread_rwlock_unlock(&g->lock);
  return id;
}


/* ---- authentication ---- */

cx_err gv_authenticate(govern *g, const char *secret, size_t n, int session, gv_principal *out) {
  if (!n || n > 256) return CX_EAUTH;
  char hash[65];
  cx_secret_hash(secret, n, hash);
  int64_t now = cx_now_ms();
  int found = 0;
  pthread_rwlock_rdlock(&g->lock);
  size_t lo = 0, hi = g->ncreds;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (memcmp(g->creds[mid].hash, hash, 64) < 0) lo = mid + 1;
    else hi = mid;
  }
  if (lo < g->ncreds) {
    const gv_cred *c = &g->creds[lo];
    if (cx_ct_equal(c->hash, hash, 64) && c->session == session && (!c->expires_at || c->expires_at > now)) {
      found = 1;
      *out = (gv_principal){.user_id = c->user_id, .token_id = c->id, .role = c->role,
                            .unit_id = c->unit_id, .session = session};
      memcpy(out->actor, c->actor, sizeof out->actor);
    }
  }
  pthread_rwlock_unlock(&g->lock);
  return found ? CX_OK : CX_EAUTH;
}

void gv_csrf_token(const char *session, size_t n, char out[65]) {
  unsigned char key[crypto_generichash_KEYBYTES];
  unsigned char h[32];
  /* the key is the session id's own hash, so the CSRF token reveals
   * nothing of the session */
  crypto_generichash(key, sizeof key, (const unsigned char *)session, n, NULL, 0);
  crypto_generichash(h, sizeof h, (const unsigned char *)"cxm csrf", 8, key, sizeof key);
  sodium_bin2hex(out, 65, h, sizeof h);
}
