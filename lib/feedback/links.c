/* links.c - personal survey links signed with HMAC-SHA256, and the answers
 * kept per link (feedback.h).
 *
 * The key is 32 random bytes kept hex-encoded in the meta table under
 * "survey_link_key": made by the first process that needs it (through a
 * store job, so that two racing requests keep the same one) and cached in
 * the feedback object. Losing it voids every link sent; rotating it is
 * deleting the row. */
#include "feedback_int.h"
#include "../base/util.h"
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define KEY_NAME "survey_link_key"
#define VERSION 1
#define RAW_ID 12 /* bytes of a link id */
#define HEAD (1 + 8 + RAW_ID + 8 + 1 + 1) /* version, survey, id, expiry, kind, length */
#define MAC crypto_auth_hmacsha256_BYTES
#define RAW_MAX (HEAD + PROFILE_ID_MAX + MAC)

typedef struct {
  store_job job;
  const char *fresh; /* hex of a new key, kept only when there is none */
  char kept[65];     /* the key stored after the job */
} key_job;

static cx_err apply_key(store_job *job, sqlite3 *db) {
  key_job *j = (key_job *)job;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "INSERT INTO meta(key, value) VALUES('" KEY_NAME "', ?1) ON CONFLICT(key) DO NOTHING", -1,
                         &st, NULL))
    return CX_EDB;
  sqlite3_bind_text(st, 1, j->fresh, -1, SQLITE_STATIC);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  if (r != SQLITE_DONE) return CX_EDB;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = '" KEY_NAME "'", -1, &st, NULL)) return CX_EDB;
  cx_err rc = CX_EDB;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 64) {
    memcpy(j->kept, sqlite3_column_text(st, 0), 65);
    rc = CX_OK;
  }
  sqlite3_finalize(st);
  return rc;
}

static cx_err key_from_hex(const char *hex, unsigned char key[32]) {
  size_t n = 0;
  if (sodium_hex2bin(key, 32, hex, 64, NULL, &n, NULL) || n != 32) return CX_EDB;
  return CX_OK;
}

/* The key into key, loaded (or made) at the first call. */
static cx_err link_key(feedback *f, unsigned char key[32]) {
  pthread_mutex_lock(&f->mu);
  int ready = f->link_key_ready;
  if (ready) memcpy(key, f->link_key, 32);
  pthread_mutex_unlock(&f->mu);
  if (ready) return CX_OK;
  char hex[65] = "";
  sqlite3 *db = store_reader_get(f->st);
  sqlite3_stmt *st;
  if (!sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = '" KEY_NAME "'", -1, &st, NULL)) {
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 64) memcpy(hex, sqlite3_column_text(st, 0), 65);
    sqlite3_finalize(st);
  }
  store_reader_put(f->st, db);
  if (!hex[0]) {
    unsigned char fresh[32];
    char fresh_hex[65];
    randombytes_buf(fresh, sizeof fresh);
    sodium_bin2hex(fresh_hex, sizeof fresh_hex, fresh, sizeof fresh);
    sodium_memzero(fresh, sizeof fresh);
    key_job j = {.job = {.apply = apply_key, .weight = 1}, .fresh = fresh_hex};
    cx_err rc = store_run(f->st, &j.job);
    sodium_memzero(fresh_hex, sizeof fresh_hex);
    if (rc) return rc;
    memcpy(hex, j.kept, 65);
    sodium_memzero(j.kept, sizeof j.kept);
  }
  cx_err rc = key_from_hex(hex, key);
  sodium_memzero(hex, sizeof hex);
  if (rc) return rc;
  pthread_mutex_lock(&f->mu);
  memcpy(f->link_key, key, 32);
  f->link_key_ready = 1;
  pthread_mutex_unlock(&f->mu);
  return CX_OK;
}

static void put64(unsigned char *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (unsigned char)v;
}

static uint64_t get64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

cx_err feedback_link_key_load(feedback *f) {
  unsigned char key[32];
  cx_err rc = link_key(f, key);
  sodium_memzero(key, sizeof key);
  return rc;
}

cx_err feedback_link_make(feedback *f, int64_t survey, const feedback_who *who, int64_t expires_at, char *out,
                          size_t cap) {
  int kinds = !!who->user_id + !!who->anonymous_id + !!who->email;
  const char *ident = who->user_id ? who->user_id : who->anonymous_id ? who->anonymous_id : who->email;
  char kind = who->user_id ? 'u' : who->anonymous_id ? 'a' : 'e';
  size_t n = ident ? strlen(ident) : 0;
  if (kinds != 1 || !n || n > PROFILE_ID_MAX || !cx_utf8_valid(ident, n) || survey <= 0 || expires_at <= 0)
    return CX_EINVAL;
  unsigned char raw[RAW_MAX], key[32];
  cx_err rc = link_key(f, key);
  if (rc) return rc;
  raw[0] = VERSION;
  put64(raw + 1, (uint64_t)survey);
  randombytes_buf(raw + 9, RAW_ID);
  put64(raw + 9 + RAW_ID, (uint64_t)expires_at);
  raw[HEAD - 2] = (unsigned char)kind;
  raw[HEAD - 1] = (unsigned char)n;
  memcpy(raw + HEAD, ident, n);
  crypto_auth_hmacsha256(raw + HEAD + n, raw, HEAD + n, key);
  sodium_memzero(key, sizeof key);
  size_t len = HEAD + n + MAC;
  if (cap < sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING)) return CX_ETOOBIG;
  sodium_bin2base64(out, cap, raw, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return CX_OK;
}

cx_err feedback_link_check(feedback *f, const char *token, size_t len, int64_t survey, int64_t now,
                           feedback_link *out, feedback_link_status *status) {
  *status = FEEDBACK_LINK_FORGED;
  unsigned char raw[RAW_MAX], key[32];
  size_t n = 0;
  const char *end = NULL;
  if (!token || !len || len > FEEDBACK_LINK_MAX) return CX_OK;
  if (sodium_base642bin(raw, sizeof raw, token, len, NULL, &n, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
      end != token + len || n < HEAD + 1 + MAC)
    return CX_OK;
  size_t ilen = raw[HEAD - 1];
  if (raw[0] != VERSION || n != HEAD + ilen + MAC) return CX_OK;
  cx_err rc = link_key(f, key);
  if (rc) return rc;
  int ok = crypto_auth_hmacsha256_verify(raw + HEAD + ilen, raw, HEAD + ilen, key) == 0; /* constant time */
  sodium_memzero(key, sizeof key);
  if (!ok) return CX_OK;
  char kind = (char)raw[HEAD - 2];
  if ((kind != 'u' && kind != 'a' && kind != 'e') || !cx_utf8_valid((const char *)raw + HEAD, ilen) ||
      memchr(raw + HEAD, 0, ilen))
    return CX_OK; /* signed by us, but not as we write them */
  memset(out, 0, sizeof *out);
  out->survey = (int64_t)get64(raw + 1);
  out->expires_at = (int64_t)get64(raw + 9 + RAW_ID);
  sodium_bin2hex(out->id, sizeof out->id, raw + 9, RAW_ID);
  memcpy(out->ident, raw + HEAD, ilen);
  out->ident[ilen] = 0;
  if (kind == 'u') out->who.user_id = out->ident;
  else if (kind == 'a') out->who.anonymous_id = out->ident;
  else out->who.email = out->ident;
  *status = survey && out->survey != survey ? FEEDBACK_LINK_OTHER_SURVEY
            : now >= out->expires_at        ? FEEDBACK_LINK_EXPIRED
                                            : FEEDBACK_LINK_VALID;
  return CX_OK;
}

cx_err feedback_partial_get(feedback *f, int64_t survey, const char *link, cJSON **answers, int *complete) {
  *answers = NULL;
  *complete = 0;
  sqlite3 *db = store_reader_get(f->st);
  sqlite3_stmt *st;
  cx_err rc = CX_OK;
  if (sqlite3_prepare_v2(db, "SELECT answers, complete FROM responses WHERE link = ?1 AND survey_id = ?2"
                             " AND replaced_by IS NULL ORDER BY id DESC LIMIT 1", -1, &st, NULL)) {
    store_reader_put(f->st, db);
    return CX_EDB;
  }
  sqlite3_bind_text(st, 1, link, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, survey);
  int r = sqlite3_step(st);
  if (r == SQLITE_ROW) {
    *answers = cJSON_ParseWithLength((const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    *complete = sqlite3_column_int(st, 1);
    if (!*answers) rc = CX_ENOMEM;
  } else if (r != SQLITE_DONE) {
    rc = CX_EDB;
  }
  sqlite3_finalize(st);
  store_reader_put(f->st, db);
  return rc;
}
