/* deliver.c - the delivery thread: picks due deliveries on a reader
 * connection, claims them (status sending) through the writer, sends mail
 * with libcurl's SMTP and webhooks with a signed POST, and records each
 * outcome through the writer: sent, queued again after a backoff, or
 * failed (docs/internals/outbox.md). */
#include "outbox_int.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/util.h"
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32            /* due rows taken per pass */
#define POLL_MS 1000        /* look again at least this often */
#define MAX_DELAYS 16
#define MAX_MESSAGE (2 * OUTBOX_MAX_TEXT * 2 + 64 * 1024) /* both bodies quoted-printable, headers */
#define ERROR_LEN 300

static const int64_t default_delays[] = {60000, 300000, 1800000, 7200000}; /* 1 min, 5 min, 30 min, 2 h */

struct outbox {
  store *st;
  sqlite3 *wdb; /* the store's writer connection: how the *_in forms find us */
  outbox *next; /* in the registry */
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stopping, kicked;
  atomic_int abort_transfer;
  char *smtp_url;
  char from_name[OUTBOX_MAX_NAME + 1], from_addr[OUTBOX_MAX_ADDRESS + 1], domain[OUTBOX_MAX_ADDRESS + 1];
  outbox_bucket bucket;
  int64_t delays[MAX_DELAYS];
  size_t ndelays;
  int64_t smtp_timeout_ms, webhook_timeout_ms;
  char secret[OUTBOX_SECRET_LEN];
  CURL *smtp, *http;
  /* the sockets curl has open (-1: none), so that outbox_stop can shut
   * them down: a server that stops answering would otherwise hold curl
   * (and the stop) for up to its response timeout, QUIT included */
  pthread_mutex_t sock_mu;
  int socks[4];
  atomic_uint_fast64_t attempts[2], delivered[2], retried[2], gave_up[2];
};

/* ---- schedule and rate ---- */

int64_t outbox_backoff_ms(const int64_t *delays, size_t n, int attempts) {
  if (attempts < 1 || (size_t)attempts > n) return -1;
  return delays[attempts - 1];
}

void outbox_bucket_init(outbox_bucket *b, int per_minute, int burst, int64_t now_ms) {
  b->per_ms = (per_minute > 0 ? per_minute : 60) / 60000.0;
  b->burst = burst > 0 ? burst : (per_minute / 10 > 1 ? per_minute / 10 : 1);
  b->tokens = b->burst;
  b->last_ms = now_ms;
}

int64_t outbox_bucket_take(outbox_bucket *b, int64_t now_ms) {
  if (now_ms > b->last_ms) {
    b->tokens += (double)(now_ms - b->last_ms) * b->per_ms;
    if (b->tokens > b->burst) b->tokens = b->burst;
    b->last_ms = now_ms;
  }
  if (b->tokens >= 1.0) {
    b->tokens -= 1.0;
    return 0;
  }
  int64_t wait = (int64_t)((1.0 - b->tokens) / b->per_ms) + 1;
  return wait > 0 ? wait : 1;
}

/* ---- the registry: the *_in forms know only the writer connection ---- */

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static outbox *registry;

void outbox_kick(outbox *ob) {
  if (!ob) return;
  pthread_mutex_lock(&ob->mu);
  ob->kicked = 1;
  pthread_cond_signal(&ob->cv);
  pthread_mutex_unlock(&ob->mu);
}

void outbox_kick_db(sqlite3 *db) {
  pthread_mutex_lock(&registry_mu);
  for (outbox *o = registry; o; o = o->next)
    if (o->wdb == db) outbox_kick(o);
  pthread_mutex_unlock(&registry_mu);
}

int outbox_mail_configured(const outbox *ob) { return ob && ob->smtp_url; }

void outbox_webhook_secret(const outbox *ob, char out[OUTBOX_SECRET_LEN]) {
  memcpy(out, ob->secret, OUTBOX_SECRET_LEN);
}

void outbox_counts(outbox *ob, outbox_stats *out) {
  for (int k = 0; k < 2; k++) {
    out->attempts[k] = atomic_load(&ob->attempts[k]);
    out->delivered[k] = atomic_load(&ob->delivered[k]);
    out->retried[k] = atomic_load(&ob->retried[k]);
    out->gave_up[k] = atomic_load(&ob->gave_up[k]);
  }
}

/* ---- writer jobs ---- */

typedef struct {
  store_job job;
  char secret[OUTBOX_SECRET_LEN];
  int64_t now;
} start_job;

/* The webhook secret (made once, kept in meta) and the deliveries the
 * last run left sending, queued again. */
static cx_err apply_start(store_job *job, sqlite3 *db) {
  start_job *j = (start_job *)job;
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'webhook_secret'", -1, &s, NULL)) return CX_EDB;
  int r = sqlite3_step(s);
  if (r == SQLITE_ROW) snprintf(j->secret, sizeof j->secret, "%s", (const char *)sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  if (r != SQLITE_ROW) {
    unsigned char key[32];
    char hex[65];
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(hex, sizeof hex, key, sizeof key);
    snprintf(j->secret, sizeof j->secret, "whsec_%s", hex);
    if (sqlite3_prepare_v2(db, "INSERT INTO meta(key, value) VALUES('webhook_secret', ?1)", -1, &s, NULL))
      return CX_EDB;
    sqlite3_bind_text(s, 1, j->secret, -1, SQLITE_STATIC);
    r = sqlite3_step(s);
    sqlite3_finalize(s);
    if (r != SQLITE_DONE) return CX_EDB;
  }
  if (sqlite3_prepare_v2(db, "UPDATE outbox SET status = 'queued', next_attempt_at = ?1 WHERE status = 'sending'",
                         -1, &s, NULL))
    return CX_EDB;
  sqlite3_bind_int64(s, 1, j->now);
  r = sqlite3_step(s);
  sqlite3_finalize(s);
  if (r != SQLITE_DONE) return CX_EDB;
  int n = sqlite3_changes(db);
  if (n) {
    char count[16];
    snprintf(count, sizeof count, "%d", n);
    cx_log("warn", "outbox_requeued", "deliveries", count, "why",
           "the last run stopped while sending them; they are sent again (at least once)", NULL);
  }
  return CX_OK;
}

/* One due delivery, copied from the reader. */
typedef struct {
  int64_t id, created_at;
  int kind, attempts, claimed;
  char *recipient, *subject, *payload;
} item;

static void item_free(item *it) {
  cx_free(it->recipient);
  cx_free(it->subject);
  cx_free(it->payload);
  memset(it, 0, sizeof *it);
}

static char *dup_col(sqlite3_stmt *s, int col) {
  const char *t = (const char *)sqlite3_column_text(s, col);
  size_t n = (size_t)sqlite3_column_bytes(s, col);
  char *p = cx_malloc(n + 1);
  if (p) {
    if (n) memcpy(p, t, n);
    p[n] = 0;
  }
  return p;
}

typedef struct {
  store_job job;
  item *items;
  size_t n;
} claim_job;

static cx_err apply_claim(store_job *job, sqlite3 *db) {
  claim_job *j = (claim_job *)job;
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(db, "UPDATE outbox SET status = 'sending' WHERE id = ?1 AND status = 'queued'", -1, &s,
                         NULL))
    return CX_EDB;
  for (size_t i = 0; i < j->n; i++) {
    sqlite3_bind_int64(s, 1, j->items[i].id);
    if (sqlite3_step(s) != SQLITE_DONE) {
      sqlite3_finalize(s);
      return CX_EDB;
    }
    j->items[i].claimed = sqlite3_changes(db) > 0;
    sqlite3_reset(s);
  }
  sqlite3_finalize(s);
  return CX_OK;
}

enum { SENT, RETRY, FAILED, REQUEUE };

typedef struct {
  store_job job;
  int64_t id, now, next_at;
  int outcome, attempts;
  const char *error;
} result_job;

static cx_err apply_result(store_job *job, sqlite3 *db) {
  result_job *j = (result_job *)job;
  static const char *const sql[] = {
      [SENT] = "UPDATE outbox SET status = 'sent', attempts = ?2, sent_at = ?3, next_attempt_at = NULL"
               " WHERE id = ?1 AND status = 'sending'",
      [RETRY] = "UPDATE outbox SET status = 'queued', attempts = ?2, next_attempt_at = ?4, last_error = ?5"
                " WHERE id = ?1 AND status = 'sending'",
      [FAILED] = "UPDATE outbox SET status = 'failed', attempts = ?2, next_attempt_at = NULL, last_error = ?5"
                 " WHERE id = ?1 AND status = 'sending'",
      [REQUEUE] = "UPDATE outbox SET status = 'queued', next_attempt_at = ?3 WHERE id = ?1 AND status = 'sending'"};
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(db, sql[j->outcome], -1, &s, NULL)) return CX_EDB;
  int n = sqlite3_bind_parameter_count(s);
  sqlite3_bind_int64(s, 1, j->id);
  if (n >= 2) sqlite3_bind_int(s, 2, j->attempts);
  if (n >= 3) sqlite3_bind_int64(s, 3, j->now);
  if (n >= 4) sqlite3_bind_int64(s, 4, j->next_at);
  if (n >= 5) sqlite3_bind_text(s, 5, j->error ? j->error : "", -1, SQLITE_STATIC);
  int r = sqlite3_step(s);
  sqlite3_finalize(s);
  return r == SQLITE_DONE ? CX_OK : CX_EDB;
}

static void record(outbox *ob, const item *it, int outcome, const char *error) {
  result_job j = {.job = {.apply = apply_result, .weight = 1}, .id = it->id, .now = cx_now_ms(),
                  .outcome = outcome, .attempts = it->attempts + 1, .error = error};
  const char *what = "outbox_sent", *level = "info";
  if (outcome == RETRY) {
    int64_t wait = outbox_backoff_ms(ob->delays, ob->ndelays, j.attempts);
    if (wait < 0) {
      j.outcome = FAILED;
    } else {
      j.next_at = j.now + wait;
      what = "outbox_retry";
      level = "warn";
    }
  }
  if (j.outcome == FAILED) what = "outbox_failed", level = "warn";
  if (outcome != REQUEUE) {
    atomic_fetch_add(&ob->attempts[it->kind], 1);
    atomic_fetch_add(j.outcome == SENT ? &ob->delivered[it->kind] : j.outcome == RETRY ? &ob->retried[it->kind]
                                                                                      : &ob->gave_up[it->kind], 1);
    char id[24], attempts[16];
    snprintf(id, sizeof id, "%lld", (long long)it->id);
    snprintf(attempts, sizeof attempts, "%d", j.attempts);
    cx_log(level, what, "id", id, "kind", it->kind == OUTBOX_MAIL ? "mail" : "webhook", "attempts", attempts,
           error ? "error" : NULL, error, NULL);
  }
  cx_err rc = store_run(ob->st, &j.job);
  if (rc) {
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)it->id);
    cx_log("error", "outbox_record_failed", "id", id, "error", cx_strerror(rc), "hint",
           "the delivery stays 'sending' and is sent again at the next start", NULL);
  }
}

/* ---- sending ---- */

static curl_socket_t open_socket(void *p, curlsocktype purpose, struct curl_sockaddr *a) {
  outbox *ob = p;
  int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
  if (fd < 0) return CURL_SOCKET_BAD;
  pthread_mutex_lock(&ob->sock_mu);
  for (int i = 0; i < 4; i++)
    if (ob->socks[i] < 0) {
      ob->socks[i] = fd;
      break;
    }
  if (atomic_load(&ob->abort_transfer)) shutdown(fd, SHUT_RDWR);
  pthread_mutex_unlock(&ob->sock_mu);
  return fd;
}

static int close_socket(void *p, curl_socket_t fd) {
  outbox *ob = p;
  pthread_mutex_lock(&ob->sock_mu);
  for (int i = 0; i < 4; i++)
    if (ob->socks[i] == fd) ob->socks[i] = -1;
  int r = close(fd);
  pthread_mutex_unlock(&ob->sock_mu);
  return r;
}

static void sockets(CURL *c, outbox *ob) {
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, ob);
  curl_easy_setopt(c, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
  curl_easy_setopt(c, CURLOPT_CLOSESOCKETDATA, ob);
}

static int progress(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
  outbox *ob = p;
  return atomic_load(&ob->abort_transfer) ? 1 : 0;
}

/* What every transfer sets: timeouts, no signals, the progress callback
 * that lets outbox_stop cut a transfer short, and the error buffer. */
static void transfer_options(CURL *c, outbox *ob, int64_t timeout_ms, char *errbuf) {
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, ob);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
}

/* Keeps printable ASCII of s[0..n) into out (ERROR_LEN). */
static void printable(const char *s, size_t n, char *out, size_t cap) {
  size_t k = 0;
  for (size_t i = 0; i < n && k + 1 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\r' || c == '\n') {
      if (k && out[k - 1] != ' ') out[k++] = ' ';
    } else {
      out[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
  }
  while (k && out[k - 1] == ' ') k--;
  out[k] = 0;
}

typedef struct {
  char last[ERROR_LEN]; /* the server's first refusal */
} smtp_trace;

static int smtp_debug(CURL *c, curl_infotype type, char *data, size_t size, void *p) {
  smtp_trace *t = p;
  /* the first refusal (4xx or 5xx): what follows (the QUIT's 221) says less */
  if (type == CURLINFO_HEADER_IN && !t->last[0] && size >= 3 && (data[0] == '4' || data[0] == '5'))
    printable(data, size, t->last, sizeof t->last);
  return 0;
}

typedef struct {
  const char *p;
  size_t left;
} upload;

static size_t read_upload(char *buf, size_t size, size_t nmemb, void *arg) {
  upload *u = arg;
  size_t n = size * nmemb < u->left ? size * nmemb : u->left;
  memcpy(buf, u->p, n);
  u->p += n;
  u->left -= n;
  return n;
}

static const char *str_member(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Sends one mail; returns SENT, RETRY or FAILED with error filled. */
static int send_mail(outbox *ob, const item *it, char *error) {
  cJSON *parts = cJSON_Parse(it->payload);
  outbox_mail m = {.to = it->recipient, .subject = it->subject, .to_name = str_member(parts, "to_name"),
                   .from_name = str_member(parts, "from_name"), .text = str_member(parts, "text"),
                   .html = str_member(parts, "html"), .unsubscribe_url = str_member(parts, "unsubscribe_url")};
  char mid[320];
  snprintf(mid, sizeof mid, "cxm.%lld.%lld@%s", (long long)it->id, (long long)it->created_at, ob->domain);
  outbox_envelope e = {.from_name = m.from_name ? m.from_name : ob->from_name, .from_addr = ob->from_addr,
                       .message_id = mid, .date_ms = cx_now_ms()};
  cx_buf msg;
  cx_buf_init(&msg, MAX_MESSAGE);
  cx_err rc = !parts ? CX_ENOMEM : outbox_mail_check(&m, NULL) ? CX_EINVAL : outbox_compose(&m, &e, &msg);
  cJSON_Delete(parts);
  if (rc) {
    cx_buf_free(&msg);
    snprintf(error, ERROR_LEN, "the message could not be composed (%s)", cx_strerror(rc));
    return rc == CX_ENOMEM ? RETRY : FAILED;
  }
  char from[OUTBOX_MAX_ADDRESS + 3], to[OUTBOX_MAX_ADDRESS + 3], errbuf[CURL_ERROR_SIZE] = "";
  snprintf(from, sizeof from, "<%s>", ob->from_addr);
  snprintf(to, sizeof to, "<%s>", it->recipient);
  struct curl_slist *rcpt = curl_slist_append(NULL, to);
  upload u = {msg.p, msg.len};
  smtp_trace trace = {""};
  CURL *c = ob->smtp;
  curl_easy_reset(c);
  sockets(c, ob);
  curl_easy_setopt(c, CURLOPT_URL, ob->smtp_url);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(c, CURLOPT_USE_SSL, (long)(strncmp(ob->smtp_url, "smtps:", 6) ? CURLUSESSL_TRY : CURLUSESSL_ALL));
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(c, CURLOPT_READDATA, &u);
  curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg.len);
  transfer_options(c, ob, ob->smtp_timeout_ms, errbuf);
  curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, smtp_debug);
  curl_easy_setopt(c, CURLOPT_DEBUGDATA, &trace);
  CURLcode r = rcpt ? curl_easy_perform(c) : CURLE_OUT_OF_MEMORY;
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(rcpt);
  cx_buf_free(&msg);
  if (r == CURLE_OK) return SENT;
  if (r == CURLE_ABORTED_BY_CALLBACK || atomic_load(&ob->abort_transfer)) return REQUEUE; /* stopping */
  if (code >= 400 && trace.last[0]) snprintf(error, ERROR_LEN, "SMTP %.280s", trace.last);
  else snprintf(error, ERROR_LEN, "%s%s%s", curl_easy_strerror(r), errbuf[0] ? ": " : "", errbuf);
  /* a 5xx is the server's final word on this message; a refused login is
   * the operator's to fix, so it waits for a retry */
  return code >= 500 && code < 600 && r != CURLE_LOGIN_DENIED ? FAILED : RETRY;
}

typedef struct {
  char text[ERROR_LEN];
  size_t len;
} response_head;

static size_t write_response(char *data, size_t size, size_t nmemb, void *p) {
  response_head *h = p;
  size_t n = size * nmemb, room = sizeof h->text - 1 - h->len;
  memcpy(h->text + h->len, data, n < room ? n : room);
  h->len += n < room ? n : room;
  h->text[h->len] = 0;
  return n;
}

/* The X-Cxm-Signature value for body sent at ts (unix seconds). */
static void sign(const char *secret, const char *ts, const char *body, size_t n, char out[72]) {
  crypto_auth_hmacsha256_state st;
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, n);
  crypto_auth_hmacsha256_final(&st, mac);
  memcpy(out, "sha256=", 7);
  sodium_bin2hex(out + 7, 65, mac, sizeof mac);
}

static int send_webhook(outbox *ob, const item *it, char *error) {
  char ts[24], sig[72], hdr[5][160], errbuf[CURL_ERROR_SIZE] = "";
  size_t n = strlen(it->payload);
  snprintf(ts, sizeof ts, "%lld", (long long)(cx_now_ms() / 1000));
  sign(ob->secret, ts, it->payload, n, sig);
  snprintf(hdr[0], sizeof hdr[0], "X-Cxm-Event: %s", it->subject);
  snprintf(hdr[1], sizeof hdr[1], "X-Cxm-Delivery: %lld", (long long)it->id);
  snprintf(hdr[2], sizeof hdr[2], "X-Cxm-Timestamp: %s", ts);
  snprintf(hdr[3], sizeof hdr[3], "X-Cxm-Signature: %s", sig);
  snprintf(hdr[4], sizeof hdr[4], "Content-Type: application/json");
  struct curl_slist *h = NULL, *t;
  for (int i = 0; i < 5; i++)
    if ((t = curl_slist_append(h, hdr[i]))) h = t;
  if ((t = curl_slist_append(h, "Expect:"))) h = t;
  response_head head = {"", 0};
  CURL *c = ob->http;
  curl_easy_reset(c);
  sockets(c, ob);
  curl_easy_setopt(c, CURLOPT_URL, it->recipient);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "cxm-outbox");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, it->payload);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_response);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &head);
  transfer_options(c, ob, ob->webhook_timeout_ms, errbuf);
  CURLcode r = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(h);
  if (r == CURLE_ABORTED_BY_CALLBACK || (r != CURLE_OK && atomic_load(&ob->abort_transfer))) return REQUEUE;
  if (r == CURLE_OK && code >= 200 && code < 300) return SENT;
  if (r != CURLE_OK) {
    snprintf(error, ERROR_LEN, "%s%s%s", curl_easy_strerror(r), errbuf[0] ? ": " : "", errbuf);
    return RETRY;
  }
  char body[ERROR_LEN];
  printable(head.text, head.len, body, 200);
  snprintf(error, ERROR_LEN, "HTTP %ld%s%.200s", code, body[0] ? ": " : "", body);
  /* the receiver may get better: a timeout, a rate limit, its own error */
  return code == 408 || code == 429 || code >= 500 ? RETRY : FAILED;
}

/* ---- the thread ---- */

static int64_t min_due(sqlite3 *db, const char *kind) {
  sqlite3_stmt *s;
  int64_t at = INT64_MAX;
  if (sqlite3_prepare_v2(db, "SELECT min(next_attempt_at) FROM outbox WHERE status = 'queued' AND kind = ?1", -1,
                         &s, NULL))
    return at;
  sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) at = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return at;
}

/* One pass: sends what is due (up to BATCH); returns when to look next,
 * and sets *found when something was due. */
static int64_t pass(outbox *ob, int *found) {
  int64_t now = cx_now_ms(), mail_wait = 0;
  item items[BATCH];
  size_t n = 0, rows = 0;
  memset(items, 0, sizeof items);
  sqlite3 *db = store_reader_get(ob->st);
  sqlite3_stmt *s;
  if (!sqlite3_prepare_v2(db,
                          "SELECT id, kind, recipient, subject, payload, attempts, created_at FROM outbox"
                          " WHERE status = 'queued' AND next_attempt_at <= ?1 AND (kind = 'webhook' OR ?2)"
                          " ORDER BY next_attempt_at, id LIMIT ?3",
                          -1, &s, NULL)) {
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int(s, 2, ob->smtp_url != NULL);
    sqlite3_bind_int(s, 3, BATCH);
    while (n < BATCH && sqlite3_step(s) == SQLITE_ROW) {
      rows++;
      int kind = !strcmp((const char *)sqlite3_column_text(s, 1), "webhook") ? OUTBOX_WEBHOOK : OUTBOX_MAIL;
      if (kind == OUTBOX_MAIL && (mail_wait || (mail_wait = outbox_bucket_take(&ob->bucket, now)))) continue;
      item *it = &items[n];
      *it = (item){.id = sqlite3_column_int64(s, 0), .kind = kind, .attempts = sqlite3_column_int(s, 5),
                   .created_at = sqlite3_column_int64(s, 6), .recipient = dup_col(s, 2), .subject = dup_col(s, 3),
                   .payload = dup_col(s, 4)};
      if (!it->recipient || !it->subject || !it->payload) {
        item_free(it);
        break;
      }
      n++;
    }
    sqlite3_finalize(s);
  }
  store_reader_put(ob->st, db);
  *found = rows > 0;
  if (n) {
    claim_job cj = {.job = {.apply = apply_claim, .weight = 1}, .items = items, .n = n};
    if (store_run(ob->st, &cj.job)) n = 0; /* stopping or failed: nothing claimed */
  }
  for (size_t i = 0; i < n; i++) {
    item *it = &items[i];
    if (!it->claimed) continue;
    char error[ERROR_LEN] = "";
    int outcome = REQUEUE;
    if (!atomic_load(&ob->abort_transfer))
      outcome = it->kind == OUTBOX_MAIL ? send_mail(ob, it, error) : send_webhook(ob, it, error);
    record(ob, it, outcome, error[0] ? error : NULL);
  }
  for (size_t i = 0; i < BATCH; i++) item_free(&items[i]);
  now = cx_now_ms();
  if (rows == BATCH && !mail_wait) return now; /* more may be due */
  db = store_reader_get(ob->st);
  int64_t next = now + POLL_MS, w = min_due(db, "webhook");
  if (w < next) next = w;
  if (ob->smtp_url) {
    int64_t m = min_due(db, "mail");
    if (mail_wait && m < now + mail_wait) m = now + mail_wait;
    if (m < next) next = m;
  }
  store_reader_put(ob->st, db);
  return next;
}

static void *run(void *arg) {
  outbox *ob = arg;
  static const int64_t quick[] = {25, 100, 400};
  int64_t wake = 0;
  int after_kick = 0; /* a kick may come before its transaction commits: look again soon */
  for (;;) {
    pthread_mutex_lock(&ob->mu);
    for (;;) {
      int64_t now = cx_now_ms();
      if (ob->stopping || ob->kicked || now >= wake) break;
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      int64_t ns = (int64_t)ts.tv_nsec + (wake - now) * 1000000;
      ts.tv_sec += (time_t)(ns / 1000000000);
      ts.tv_nsec = (long)(ns % 1000000000);
      pthread_cond_timedwait(&ob->cv, &ob->mu, &ts);
    }
    int stopping = ob->stopping;
    if (ob->kicked) after_kick = 3;
    ob->kicked = 0;
    pthread_mutex_unlock(&ob->mu);
    if (stopping) break;
    int found = 0;
    wake = pass(ob, &found);
    if (found) after_kick = 0;
    if (after_kick) {
      int64_t soon = cx_now_ms() + quick[3 - after_kick--];
      if (soon < wake) wake = soon;
    }
  }
  return NULL;
}

/* ---- start and stop ---- */

static cx_err refuse_cfg(outbox_error *err, const char *field, const char *msg) {
  return outbox_refuse(err, field, "%s", msg);
}

cx_err outbox_start(store *st, const outbox_cfg *cfg, outbox **out, outbox_error *err) {
  if (cfg->smtp_url && strncmp(cfg->smtp_url, "smtp://", 7) && strncmp(cfg->smtp_url, "smtps://", 8))
    return refuse_cfg(err, "smtp", "--smtp must be an smtp://HOST:PORT or smtps://HOST:PORT URL.");
  if (cfg->smtp_url && (strlen(cfg->smtp_url) > 1000 || strpbrk(cfg->smtp_url, " \r\n")))
    return refuse_cfg(err, "smtp", "--smtp must be a URL of at most 1000 characters without spaces.");
  if (cfg->mail_per_minute < 0 || cfg->mail_per_minute > 100000 || cfg->mail_burst < 0)
    return refuse_cfg(err, "mail_rate", "--mail-rate must be a whole number of mails per minute from 1 to 100000.");
  if (cfg->nretry_delays > MAX_DELAYS) return refuse_cfg(err, "retry", "At most 16 retry delays.");
  outbox *ob = cx_calloc(1, sizeof *ob);
  if (!ob) return CX_ENOMEM;
  if (cfg->smtp_url || cfg->mail_from) {
    if (!cfg->mail_from || outbox_parse_mailbox(cfg->mail_from, ob->from_name, ob->from_addr)) {
      cx_free(ob);
      return refuse_cfg(err, "mail_from",
                        "--mail-from must be \"Name <address@example.com>\" or an address alone.");
    }
    snprintf(ob->domain, sizeof ob->domain, "%s", strrchr(ob->from_addr, '@') + 1);
  }
  ob->st = st;
  ob->wdb = store_db(st);
  if (cfg->smtp_url) {
    size_t n = strlen(cfg->smtp_url);
    if ((ob->smtp_url = cx_malloc(n + 1))) memcpy(ob->smtp_url, cfg->smtp_url, n + 1);
  }
  outbox_bucket_init(&ob->bucket, cfg->mail_per_minute ? cfg->mail_per_minute : 60, cfg->mail_burst, cx_now_ms());
  ob->ndelays = cfg->retry_delays_ms ? cfg->nretry_delays : sizeof default_delays / sizeof *default_delays;
  memcpy(ob->delays, cfg->retry_delays_ms ? cfg->retry_delays_ms : default_delays, ob->ndelays * sizeof *ob->delays);
  ob->smtp_timeout_ms = cfg->smtp_timeout_ms > 0 ? cfg->smtp_timeout_ms : 60000;
  ob->webhook_timeout_ms = cfg->webhook_timeout_ms > 0 ? cfg->webhook_timeout_ms : 15000;
  ob->smtp = curl_easy_init();
  ob->http = curl_easy_init();
  pthread_mutex_init(&ob->mu, NULL);
  pthread_cond_init(&ob->cv, NULL);
  pthread_mutex_init(&ob->sock_mu, NULL);
  for (int i = 0; i < 4; i++) ob->socks[i] = -1;
  start_job sj = {.job = {.apply = apply_start, .weight = 1}, .now = cx_now_ms()};
  cx_err rc = (cfg->smtp_url && !ob->smtp_url) || !ob->smtp || !ob->http ? CX_ENOMEM : store_run(st, &sj.job);
  if (!rc) {
    memcpy(ob->secret, sj.secret, sizeof ob->secret);
    if (pthread_create(&ob->thread, NULL, run, ob)) rc = CX_ENOMEM;
  }
  if (rc) {
    curl_easy_cleanup(ob->smtp);
    curl_easy_cleanup(ob->http);
    pthread_mutex_destroy(&ob->mu);
    pthread_cond_destroy(&ob->cv);
    pthread_mutex_destroy(&ob->sock_mu);
    cx_free(ob->smtp_url);
    cx_free(ob);
    return rc;
  }
  pthread_mutex_lock(&registry_mu);
  ob->next = registry;
  registry = ob;
  pthread_mutex_unlock(&registry_mu);
  *out = ob;
  return CX_OK;
}

void outbox_stop(outbox *ob) {
  if (!ob) return;
  pthread_mutex_lock(&registry_mu);
  for (outbox **p = &registry; *p; p = &(*p)->next)
    if (*p == ob) {
      *p = ob->next;
      break;
    }
  pthread_mutex_unlock(&registry_mu);
  pthread_mutex_lock(&ob->mu);
  ob->stopping = 1;
  atomic_store(&ob->abort_transfer, 1);
  pthread_cond_signal(&ob->cv);
  pthread_mutex_unlock(&ob->mu);
  pthread_mutex_lock(&ob->sock_mu);
  for (int i = 0; i < 4; i++)
    if (ob->socks[i] >= 0) shutdown(ob->socks[i], SHUT_RDWR);
  pthread_mutex_unlock(&ob->sock_mu);
  pthread_join(ob->thread, NULL);
  curl_easy_cleanup(ob->smtp);
  curl_easy_cleanup(ob->http);
  pthread_mutex_destroy(&ob->mu);
  pthread_cond_destroy(&ob->cv);
  pthread_mutex_destroy(&ob->sock_mu);
  cx_free(ob->smtp_url);
  cx_free(ob);
}
