/* track.c - the Segment-compatible Tracking API: /v1/{identify,track,
 * page,screen,group,alias,batch}. */
#include "http_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include <sodium.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* analytics.js (the browser library) posts to these short paths */
static const char *const short_paths[] = {"b", "i", "t", "p", "s", "g", "a"};

/* Inflates gzip/zlib data in[0..n) into out, never past out->max.
 * Returns CX_ETOOBIG past the limit, CX_EINVAL for a bad stream. */
static cx_err gunzip(const char *in, size_t n, cx_buf *out) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (inflateInit2(&z, 15 + 32) != Z_OK) return CX_ENOMEM;
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)n;
  cx_err rc = CX_OK;
  for (;;) {
    unsigned char probe;
    size_t room = out->max - out->len;
    if (room > 16384) room = 16384;
    if (room && (rc = cx_buf_reserve(out, room))) break;
    /* at the limit, inflate into one spare byte: any output means too big */
    z.next_out = room ? (Bytef *)out->p + out->len : &probe;
    z.avail_out = room ? (uInt)room : 1;
    int zr = inflate(&z, Z_NO_FLUSH);
    if (!room && z.avail_out == 0) {
      rc = CX_ETOOBIG;
      break;
    }
    if (room) {
      out->len += room - z.avail_out;
      out->p[out->len] = 0;
    }
    if (zr == Z_STREAM_END) {
      rc = z.avail_in == 0 ? CX_OK : CX_EINVAL; /* trailing bytes */
      break;
    }
    if (zr != Z_OK || (z.avail_in == 0 && z.avail_out != 0)) { /* corrupt or truncated */
      rc = CX_EINVAL;
      break;
    }
  }
  inflateEnd(&z);
  return rc;
}

/* Write key from "Authorization: Basic base64(key:)". 1 when a Basic
 * header was present (key may then be empty if it is malformed); other
 * schemes are ignored so that a body writeKey still counts. */
static int basic_key(struct MHD_Connection *c, char *key, size_t keylen) {
  const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  key[0] = 0;
  if (!a || strncasecmp(a, "Basic ", 6)) return 0;
  const char *b64 = a + 6;
  while (*b64 == ' ') b64++;
  unsigned char raw[256];
  size_t rawlen = 0;
  if (sodium_base642bin(raw, sizeof raw - 1, b64, strlen(b64), NULL, &rawlen, NULL,
                        sodium_base64_VARIANT_ORIGINAL) != 0)
    return 1;
  raw[rawlen] = 0;
  char *colon = memchr(raw, ':', rawlen);
  size_t n = colon ? (size_t)(colon - (char *)raw) : rawlen;
  if (n >= keylen) return 1;
  memcpy(key, raw, n);
  key[n] = 0;
  return 1;
}

/* The answer once a batch is committed (rc CX_OK) or refused. */
static enum MHD_Result reply_committed(http_server *h, struct MHD_Connection *c, http_req *r,
                                       cx_err rc) {
  if (rc == CX_EFULL || rc == CX_ESTOPPED)
    return http_send_error(h, c, r, 503, rc == CX_EFULL ? "overloaded" : "shutting_down",
                           "The server is busy; retry after the Retry-After seconds.", NULL);
  if (rc && store_failed(h->cfg.st))
    return http_send_error(h, c, r, 503, "store_unavailable",
                           "The server stopped taking writes after a storage failure and needs a "
                           "restart; retry later.",
                           NULL);
  if (rc == CX_ENOMEM)
    return http_send_error(h, c, r, 503, "overloaded", "The server is short of memory; retry.", NULL);
  if (rc)
    return http_send_error(h, c, r, 500, "store_failed",
                           "The events could not be stored; nothing of this request was kept, retry.",
                           NULL);
  cx_buf ok;
  cx_buf_init(&ok, 64);
  cx_buf_puts(&ok, "{\"success\":true}");
  enum MHD_Result ret = http_send_json(c, r, 200, &ok);
  cx_buf_free(&ok);
  return ret;
}

/* [store's thread, its lock held] The batch is committed (or failed):
 * wake the connection; MHD calls the handler again, which answers. */
static void commit_done(ingest_async *p) {
  http_req *r = p->arg;
  atomic_store(&r->ready, 1);
  MHD_resume_connection(r->conn);
}

/* One POST, holding an ingest slot: authenticate, gunzip, parse, submit. */
static enum MHD_Result track_request(http_server *h, struct MHD_Connection *c, http_req *r,
                                     int type) {
  int64_t source = 0;
  char key[160];
  int has_header = basic_key(c, key, sizeof key);
  if (has_header && ingest_source_auth(h->cfg.in, key, strlen(key), &source))
    return http_send_error(h, c, r, 401, "invalid_write_key",
                           "The write key in the Authorization header is unknown.", NULL);
  const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
  cx_buf plain;
  cx_buf_init(&plain, type == INGEST_BATCH ? INGEST_MAX_BATCH : INGEST_MAX_MESSAGE);
  const char *body = r->body.p ? r->body.p : "";
  size_t len = r->body.len;
  if (enc && *enc && strcasecmp(enc, "identity")) {
    if (strcasecmp(enc, "gzip") && strcasecmp(enc, "deflate"))
      return http_send_error(h, c, r, 415, "unsupported_encoding",
                             "Content-Encoding must be gzip, deflate or identity.", NULL);
    cx_err zr = gunzip(body, len, &plain);
    if (zr == CX_ETOOBIG) {
      cx_buf_free(&plain);
      return http_send_error(h, c, r, 413, type == INGEST_BATCH ? "batch_too_large" : "message_too_large",
                             "The body is larger than the limit once decompressed.", NULL);
    }
    if (zr) {
      cx_buf_free(&plain);
      return http_send_error(h, c, r, 400, "invalid_gzip", "The gzip body could not be decompressed.",
                             NULL);
    }
    body = plain.p ? plain.p : "";
    len = plain.len;
  }
  ingest_batch batch;
  ingest_batch_init(&batch, cx_now_ms());
  ingest_error err;
  cx_err rc = ingest_parse(type, body, len, batch.received_at, &batch, &err);
  cx_buf_free(&plain);
  if (rc) {
    ingest_batch_free(&batch);
    if (rc == CX_ENOMEM)
      return http_send_error(h, c, r, 503, "overloaded", "The server is short of memory; retry.", NULL);
    return http_send_error(h, c, r, err.status, err.code, err.message, err.field);
  }
  if (!has_header) {
    if (!batch.write_key[0]) {
      ingest_batch_free(&batch);
      return http_send_error(h, c, r, 401, "missing_write_key",
                             "Send the write key as the Basic auth user name or as writeKey.",
                             "writeKey");
    }
    if (ingest_source_auth(h->cfg.in, batch.write_key, strlen(batch.write_key), &source)) {
      ingest_batch_free(&batch);
      return http_send_error(h, c, r, 401, "invalid_write_key", "The write key is unknown.",
                             "writeKey");
    }
  }
  if (!batch.n) { /* an empty batch: nothing to commit */
    ingest_batch_free(&batch);
    return reply_committed(h, c, r, CX_OK);
  }
  /* stopping: a connection suspended now could still be suspended when
   * MHD_stop_daemon runs, which aborts. This request counted in in_flight
   * before this check, so a stop that saw none in flight has set the flag
   * first (both seq_cst) and it is seen here. */
  if (atomic_load(&h->stopping)) {
    ingest_batch_free(&batch);
    return reply_committed(h, c, r, CX_ESTOPPED);
  }
  /* commit without holding this thread: the connection sleeps until the
   * store calls back (commit_done), and MHD then calls us again */
  r->batch = batch;
  r->conn = c;
  atomic_store(&r->ready, 0);
  r->waiting = 1;
  MHD_suspend_connection(c);
  rc = ingest_submit_async(h->cfg.in, &r->batch, source, &r->pending, commit_done, r, NULL);
  if (rc) { /* not queued: answer it like a failed commit, once resumed */
    r->pending.job.rc = rc;
    commit_done(&r->pending);
  }
  return MHD_YES;
}

enum MHD_Result http_track(http_server *h, struct MHD_Connection *c, http_req *r, const char *rest) {
  if (r->waiting) { /* called again after commit_done resumed us */
    if (!atomic_load(&r->ready)) return MHD_YES; /* not for us yet */
    r->waiting = 0;
    cx_err rc = ingest_async_result(&r->pending);
    ingest_batch_free(&r->batch);
    sem_post(&h->ingest_slots);
    return reply_committed(h, c, r, rc);
  }
  int type = -1;
  for (int i = 0; i < 7; i++)
    if (!strcmp(rest, ingest_type_name(i)) || !strcmp(rest, short_paths[i])) type = i;
  if (type < 0)
    return http_send_error(h, c, r, 404, "not_found",
                           "Unknown tracking endpoint: use identify, track, page, screen, group, "
                           "alias or batch.",
                           NULL);
  if (!strcmp(r->method, "OPTIONS")) /* CORS preflight from browsers */
    return http_send(c, r, 204, "text/plain", NULL);
  if (strcmp(r->method, "POST"))
    return http_send_error(h, c, r, 405, "method_not_allowed", "Tracking endpoints take POST.",
                           NULL);
  /* Requests being parsed or waiting for their commit hold a slot: that
   * bounds the memory their trees, decompressed bodies and queued batches
   * take, whatever the number of connections (raw bodies are bounded by
   * the connection limit times the body limit). */
  if (sem_trywait(&h->ingest_slots))
    return http_send_error(h, c, r, 503, "overloaded",
                           "The server is busy; retry after the Retry-After seconds.", NULL);
  enum MHD_Result ret = track_request(h, c, r, type);
  if (!r->waiting) sem_post(&h->ingest_slots); /* else held until the commit is answered */
  return ret;
}
