/* signin.c - signing in (argon2id, lockout after repeated failures),
 * sessions, and API tokens. */
#include "govern_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/util.h"
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* ---- lockout: call with lock_mu held ---- */

static gv_lock *lock_slot(govern *g, const char *key, int create, int64_t now) {
  gv_lock *free_slot = NULL, *oldest = NULL;
  for (size_t i = 0; i < GV_LOCK_SLOTS; i++) {
    gv_lock *l = &g->locks[i];
    if (l->key[0] && !strcmp(l->key, key)) return l;
    if (!l->key[0]) {
      if (!free_slot) free_slot = l;
    } else if (l->locked_until <= now && (!oldest || l->last_at < oldest->last_at)) {
      oldest = l;
    }
  }
  if (!create) return NULL;
  /* a full table forgets the stalest entry that is not locked; when every
   * slot is locked the failure goes uncounted (the locks still hold) */
  gv_lock *l = free_slot ? free_slot : oldest;
  if (l) {
    memset(l, 0, sizeof *l);
    snprintf(l->key, sizeof l->key, "%s", key);
  }
  return l;
}

/* Seconds until key may try again; 0 when it may now. */
static int locked_for(govern *g, const char *key, int64_t now) {
  gv_lock *l = lock_slot(g, key, 0, now);
  return l && l->locked_until > now ? (int)((l->locked_until - now + 999) / 1000) : 0;
}

static void count_failure(govern *g, const char *key, int limit, int64_t now) {
  gv_lock *l = lock_slot(g, key, 1, now);
  if (!l) return;
  if (now - l->first_at > GV_LOCK_MS) {
    l->first_at = now;
    l->failures = 0;
  }
  l->last_at = now;
  if (++l->failures >= limit) {
    l->locked_until = now + GV_LOCK_MS;
    l->failures = 0;
    l->first_at = now;
  }
}

static void forget(govern *g, const char *key) {
  gv_lock *l = lock_slot(g, key, 0, 0);
  if (l) memset(l, 0, sizeof *l);
}

/* ---- writes ---- */

typedef struct {
  store_job job;
  int op; /* 'l' login, 'c' create a token, 'r' revoke */
  int64_t user_id, id, now, expires_at, owner, admin, logout;
  const char *session_hash, *token_hash, *name, *role, *scope;
  int outcome; /* 'n': no such token (or not the caller's) */
} cred_job;

static cx_err cstep(sqlite3 *db, const char *sql, cred_job *j, int64_t *out) {
  const store_param p[] = {{":user", 0, NULL, j->user_id},   {":id", 0, NULL, j->id},
                           {":now", 0, NULL, j->now},        {":exp", 0, NULL, j->expires_at},
                           {":owner", 0, NULL, j->owner},    {":admin", 0, NULL, j->admin},
                           {":shash", 1, j->session_hash, 0}, {":thash", 1, j->token_hash, 0},
                           {":name", 1, j->name, 0},         {":role", 1, j->role, 0},
                           {":scope", 1, j->scope, 0},       {":logout", 0, NULL, j->logout}};
  return store_step_named(db, sql, p, sizeof p / sizeof p[0], out);
}

static cx_err cred_apply(store_job *job, sqlite3 *db) {
  cred_job *j = (cred_job *)job;
  cx_err rc;
  if (j->op == 'l') {
    /* sign-ins leave expired sessions behind: sweep them here */
    if ((rc = cstep(db, "DELETE FROM tokens WHERE kind IN ('session', 'login') AND expires_at < :now", j, NULL)))
      return rc;
    if ((rc = cstep(db, "INSERT INTO tokens(name, token_hash, scope, created_at, kind, user_id, role, expires_at)"
                        " VALUES(:name, :shash, :scope, :now, 'session', :user, :role, :exp)", j, NULL)))
      return rc;
    return cstep(db, "INSERT INTO tokens(name, token_hash, scope, created_at, kind, user_id, role, expires_at)"
                     " VALUES(:name, :thash, :scope, :now, 'login', :user, :role, :exp)", j, NULL);
  }
  if (j->op == 'c') {
    if ((rc = cstep(db, "INSERT INTO tokens(name, token_hash, scope, created_at, kind, user_id, role, expires_at)"
                        " VALUES(:name, :thash, :scope, :now, 'api', NULLIF(:user, 0), :role, NULLIF(:exp, 0))", j, NULL)))
      return rc;
    j->id = sqlite3_last_insert_rowid(db);
    return CX_OK;
  }
  int64_t v;
  if ((rc = cstep(db, "SELECT 1 FROM tokens WHERE id = :id AND revoked_at IS NULL"
                      " AND (:admin OR COALESCE(user_id, 0) = :owner)"
                      " AND (:logout = 0 OR kind IN ('session', 'login'))", j, &v)))
    return rc;
  if (v < 0) return j->outcome = 'n', CX_OK;
  return cstep(db, "UPDATE tokens SET revoked_at = :now WHERE id = :id", j, NULL);
}

static cx_err cred_run(govern *g, cred_job *j) {
  j->job.apply = cred_apply;
  j->job.weight = 1;
  j->now = cx_now_ms();
  cx_err rc = store_run(g->st, &j->job);
  if (!rc && !j->outcome) rc = gv_reload(g);
  return rc;
}

/* ---- sign-in ---- */

cx_err gv_login(govern *g, const char *email, const char *password, const char *client, gv_login_result *out,
                int *retry_after_s) {
  size_t en = strlen(email), pn = strlen(password);
  if (!en || en > GV_EMAIL_MAX || !pn || pn > GV_PASSWORD_MAX) return CX_EINVAL;
  char ekey[GV_EMAIL_MAX + 4], akey[GV_EMAIL_MAX + 4];
  snprintf(ekey, sizeof ekey, "e:");
  for (size_t i = 0; i <= en; i++) ekey[2 + i] = (char)(email[i] >= 'A' && email[i] <= 'Z' ? email[i] + 32 : email[i]);
  snprintf(akey, sizeof akey, "a:%.250s", client ? client : "?");
  int64_t now = cx_now_ms();
  pthread_mutex_lock(&g->lock_mu);
  int wait_e = locked_for(g, ekey, now), wait_a = locked_for(g, akey, now);
  pthread_mutex_unlock(&g->lock_mu);
  if (wait_e || wait_a) {
    *retry_after_s = wait_e > wait_a ? wait_e : wait_a;
    return CX_EFULL;
  }
  /* the user */
  int64_t uid = 0;
  char hash[crypto_pwhash_STRBYTES] = "", role[16] = "";
  sqlite3 *db = store_reader_get(g->st);
  sqlite3_stmt *st;
  cx_err rc = CX_OK;
  if (sqlite3_prepare_v2(db, "SELECT id, pw_hash, role FROM users WHERE email = ?1 AND disabled = 0", -1, &st, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_text(st, 1, ekey + 2, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
      uid = sqlite3_column_int64(st, 0);
      snprintf(hash, sizeof hash, "%s", (const char *)sqlite3_column_text(st, 1));
      snprintf(role, sizeof role, "%s", (const char *)sqlite3_column_text(st, 2));
    }
    sqlite3_finalize(st);
  } else {
    rc = CX_EDB;
  }
  store_reader_put(g->st, db);
  if (rc) return rc;
  sem_wait(&g->hashing);
  int ok = crypto_pwhash_str_verify(uid ? hash : g->dummy_hash, password, pn) == 0 && uid;
  sem_post(&g->hashing);
  sodium_memzero(hash, sizeof hash);
  pthread_mutex_lock(&g->lock_mu);
  if (ok) {
    forget(g, ekey);
  } else {
    count_failure(g, ekey, GV_LOCK_FAILURES, now);
    count_failure(g, akey, GV_LOCK_IP_FAILURES, now);
  }
  pthread_mutex_unlock(&g->lock_mu);
  if (!ok) return CX_EAUTH;
  /* a fresh session id and token every time: nothing the client held
   * before becomes a session (no fixation) */
  memset(out, 0, sizeof *out);
  cx_secret("cxm_s_", out->session, sizeof out->session);
  cx_secret("cxm_lt_", out->token, sizeof out->token);
  gv_csrf_token(out->session, strlen(out->session), out->csrf);
  char sh[65], th[65], name[GV_EMAIL_MAX + 16];
  cx_secret_hash(out->session, strlen(out->session), sh);
  cx_secret_hash(out->token, strlen(out->token), th);
  snprintf(name, sizeof name, "sign-in %s", ekey + 2);
  cred_job j = {.op = 'l', .user_id = uid, .session_hash = sh, .token_hash = th, .name = name, .role = role,
                .scope = strcmp(role, "admin") ? "read" : "admin", .expires_at = now + GV_SESSION_MS};
  if ((rc = cred_run(g, &j))) return rc;
  return gv_authenticate(g, out->session, strlen(out->session), 1, &out->who);
}

cx_err gv_logout(govern *g, const gv_principal *p) {
  /* only what a sign-in made: an API token is revoked by DELETE /tokens/{id} */
  cred_job j = {.op = 'r', .id = p->token_id, .owner = p->user_id, .admin = 1, .logout = 1};
  cx_err rc = cred_run(g, &j);
  return !rc && j.outcome ? CX_EINVAL : rc;
}

/* ---- API tokens ---- */

cx_err gv_tokens_json(govern *g, const gv_principal *p, cx_buf *out) {
  sqlite3 *db = store_reader_get(g->st);
  sqlite3_stmt *st;
  cx_err rc = CX_EDB;
  if (sqlite3_prepare_v2(db,
                         "SELECT t.id, t.name, t.kind,"
                         " COALESCE(t.role, CASE t.scope WHEN 'admin' THEN 'admin' ELSE 'viewer' END),"
                         " u.email, t.created_at, t.expires_at, t.revoked_at"
                         " FROM tokens t LEFT JOIN users u ON u.id = t.user_id"
                         " WHERE t.kind != 'session' AND (?1 OR COALESCE(t.user_id, 0) = ?2)"
                         " AND (t.expires_at IS NULL OR t.expires_at > ?3) ORDER BY t.id DESC LIMIT 1000",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int(st, 1, p->role == GV_ADMIN);
    sqlite3_bind_int64(st, 2, p->user_id);
    sqlite3_bind_int64(st, 3, cx_now_ms());
    rc = cx_buf_puts(out, "{\"tokens\":[");
    for (int n = 0; !rc && sqlite3_step(st) == SQLITE_ROW; n++) {
      const char *name = (const char *)sqlite3_column_text(st, 1), *email = (const char *)sqlite3_column_text(st, 4);
      rc = cx_buf_printf(out, "%s{\"id\":\"%lld\",\"name\":", n ? "," : "", (long long)sqlite3_column_int64(st, 0));
      if (!rc) rc = cx_buf_json_str(out, name, strlen(name));
      if (!rc) rc = cx_buf_printf(out, ",\"kind\":\"%s\",\"role\":\"%s\",\"user\":", (const char *)sqlite3_column_text(st, 2),
                                  (const char *)sqlite3_column_text(st, 3));
      if (!rc) rc = email ? cx_buf_json_str(out, email, strlen(email)) : cx_buf_puts(out, "null");
      if (!rc) rc = cx_buf_puts(out, ",\"created_at\":");
      if (!rc) rc = cx_buf_json_time(out, sqlite3_column_int64(st, 5));
      for (int c = 6; !rc && c <= 7; c++) {
        rc = cx_buf_puts(out, c == 6 ? ",\"expires_at\":" : ",\"revoked_at\":");
        if (!rc) rc = sqlite3_column_type(st, c) == SQLITE_NULL ? cx_buf_puts(out, "null")
                                                                : cx_buf_json_time(out, sqlite3_column_int64(st, c));
      }
      if (!rc) rc = cx_buf_puts(out, "}");
    }
    sqlite3_finalize(st);
    if (!rc) rc = cx_buf_puts(out, "]}");
  }
  store_reader_put(g->st, db);
  return rc;
}

cx_err gv_token_create(govern *g, const gv_principal *p, const cJSON *req, cx_buf *out, cx_buf *after,
                       analytics_error *err) {
  for (const cJSON *m = req->child; m; m = m->next)
    if (strcmp(m->string, "name") && strcmp(m->string, "role") && strcmp(m->string, "expires_in_days"))
      return analytics_refuse(err, "invalid_field", m->string, "A token has name, role and expires_in_days; not %.40s.", m->string);
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(req, "name");
  if (!cJSON_IsString(name) || !*name->valuestring || strlen(name->valuestring) > GV_NAME_MAX ||
      !cx_utf8_valid(name->valuestring, strlen(name->valuestring)))
    return analytics_refuse(err, "invalid_field", "name", "name must be 1 to 100 bytes, such as \"CRM sync\".");
  gv_role role = p->role;
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(req, "role");
  if (r && (!cJSON_IsString(r) || gv_role_parse(r->valuestring, &role)))
    return analytics_refuse(err, "invalid_field", "role", "role must be admin, cx_lead, analyst, agent or viewer.");
  if (!gv_role_within(role, p->role))
    return analytics_refuse(err, "role_too_high", "role", "A token may do at most what its creator may: choose a role within %s.",
                            gv_role_name(p->role));
  const cJSON *days = cJSON_GetObjectItemCaseSensitive(req, "expires_in_days");
  int64_t now = cx_now_ms(), exp = 0;
  if (days && !cJSON_IsNull(days)) {
    if (!cJSON_IsNumber(days) || days->valuedouble < 1 || days->valuedouble > 3650 ||
        days->valuedouble != (double)(int)days->valuedouble)
      return analytics_refuse(err, "invalid_field", "expires_in_days", "expires_in_days must be a whole number from 1 to 3650, or null (never).");
    exp = now + (int64_t)days->valuedouble * 86400000LL;
  }
  char token[64], th[65];
  cx_secret("cxm_pat_", token, sizeof token);
  cx_secret_hash(token, strlen(token), th);
  cred_job j = {.op = 'c', .user_id = p->user_id, .token_hash = th, .name = name->valuestring,
                .role = gv_role_name(role), .scope = role == GV_ADMIN ? "admin" : "read", .expires_at = exp};
  cx_err rc = cred_run(g, &j);
  if (rc) return rc;
  rc = cx_buf_printf(out, "{\"id\":\"%lld\",\"name\":", (long long)j.id);
  if (!rc) rc = cx_buf_json_str(out, name->valuestring, strlen(name->valuestring));
  if (!rc) rc = cx_buf_printf(out, ",\"role\":\"%s\",\"token\":\"%s\",\"expires_at\":", gv_role_name(role), token);
  if (!rc) rc = exp ? cx_buf_json_time(out, exp) : cx_buf_puts(out, "null");
  if (!rc) rc = cx_buf_puts(out, "}");
  /* the audit sees the token's name and role, never the token */
  if (!rc && after) {
    rc = cx_buf_printf(after, "{\"id\":\"%lld\",\"name\":", (long long)j.id);
    if (!rc) rc = cx_buf_json_str(after, name->valuestring, strlen(name->valuestring));
    if (!rc) rc = cx_buf_printf(after, ",\"role\":\"%s\"}", gv_role_name(role));
  }
  return rc;
}

cx_err gv_token_revoke(govern *g, const gv_principal *p, int64_t id, cx_buf *before) {
  cred_job j = {.op = 'r', .id = id, .owner = p->user_id, .admin = p->role == GV_ADMIN};
  cx_err rc = cred_run(g, &j);
  if (!rc && j.outcome) return CX_ENOTFOUND;
  if (!rc && before) rc = cx_buf_printf(before, "{\"id\":\"%lld\"}", (long long)id);
  return rc;
}

cx_err gv_principal_json(govern *g, const gv_principal *p, const char *csrf, cx_buf *out) {
  cx_err rc = cx_buf_printf(out, "{\"role\":\"%s\",\"scope\":\"%s\",\"actor\":", gv_role_name(p->role),
                            p->role == GV_ADMIN ? "admin" : "read");
  if (!rc) rc = cx_buf_json_str(out, p->actor, strlen(p->actor));
  if (!rc) rc = cx_buf_puts(out, ",\"user\":");
  if (!rc) {
    if (p->user_id) {
      sqlite3 *db = store_reader_get(g->st);
      rc = gv_user_json_db(db, p->user_id, out);
      store_reader_put(g->st, db);
    } else {
      rc = cx_buf_puts(out, "null");
    }
  }
  if (!rc) rc = p->unit_id ? cx_buf_printf(out, ",\"unit\":\"%lld\"", (long long)p->unit_id) : cx_buf_puts(out, ",\"unit\":null");
  if (!rc) rc = cx_buf_printf(out, ",\"session\":%s,\"permissions\":[", p->session ? "true" : "false");
  int n = 0;
  for (int i = 0; !rc && i < GV_P_COUNT; i++)
    if (i != GV_P_NONE && gv_allows(p->role, (gv_perm)i)) rc = cx_buf_printf(out, "%s\"%s\"", n++ ? "," : "", gv_perm_name((gv_perm)i));
  if (!rc) rc = cx_buf_puts(out, "]");
  if (!rc && csrf) rc = cx_buf_printf(out, ",\"csrf\":\"%s\"", csrf);
  if (!rc) rc = cx_buf_puts(out, "}");
  return rc;
}
