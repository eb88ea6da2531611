/* test_outbox.c - unit tests of lib/outbox: checking and composing a mail
 * (headers, encodings, header injection refused), the retry schedule, the
 * rate limiter, and delivery end to end against a minimal SMTP receiver
 * and a minimal HTTP receiver written here (threads on loopback ports):
 * a 4xx then success, a 5xx that fails at once, a webhook whose signature
 * is checked with libsodium, a delivery left 'sending' by a dead process
 * sent at the next start, and a stop in the middle of a transfer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit.h"

#include "../../lib/base/log.h"
#include "../../lib/base/mem.h"
#include "../../lib/base/time.h"
#include "../../lib/base/util.h"
#include "../../lib/outbox/outbox_int.h"
#include "../../lib/store/store.h"
#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* ---- composition ---- */

static const outbox_envelope ENV = {.from_name = "Acme CX", .from_addr = "cx@acme.example",
                                    .message_id = "cxm.7.1@acme.example", .date_ms = 1778148000000LL,
                                    .boundary = "=_cxm_b"};

static char *compose(const outbox_mail *m) {
  cx_buf b;
  cx_buf_init(&b, 4 << 20);
  assert_int_equal(outbox_compose(m, &ENV, &b), CX_OK);
  return cx_buf_take(&b);
}

/* Every line ends with CRLF, none is longer than 78 characters. */
static void assert_lines(const char *msg) {
  const char *line = msg;
  for (const char *p = msg; *p; p++) {
    if (*p == '\n') {
      assert_true(p > msg && p[-1] == '\r');
      assert_true(p - line - 1 <= 78);
      line = p + 1;
    } else if (*p == '\r') {
      assert_int_equal(p[1], '\n');
    }
  }
  assert_true(line == msg + strlen(msg)); /* ends with a line end */
}

static void qp_decode(const char *s, size_t n, cx_buf *out) {
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '=' && i + 2 < n + 1 && s[i + 1] == '\r' && s[i + 2] == '\n') {
      i += 2;
    } else if (s[i] == '=') {
      char hex[3] = {s[i + 1], s[i + 2], 0};
      char c = (char)strtol(hex, NULL, 16);
      cx_buf_append(out, &c, 1);
      i += 2;
    } else {
      cx_buf_append(out, s + i, 1);
    }
  }
}

/* The decoded value of header name in msg (encoded-words and folding undone). */
static void header_value(const char *msg, const char *name, char *out, size_t cap) {
  char key[64];
  snprintf(key, sizeof key, "\r\n%s: ", name);
  const char *p = strstr(msg, key);
  if (!p && !strncmp(msg, key + 2, strlen(key + 2))) p = msg - 2;
  assert_non_null(p);
  p += strlen(key);
  size_t k = 0;
  while (*p && k + 1 < cap) {
    if (p[0] == '\r' && p[1] == '\n') {
      if (p[2] != ' ' && p[2] != '\t') break;
      p += 3;
      continue;
    }
    if (!strncmp(p, "=?UTF-8?B?", 10)) {
      const char *end = strstr(p + 10, "?=");
      assert_non_null(end);
      size_t bin = 0;
      unsigned char dec[256];
      assert_int_equal(sodium_base642bin(dec, sizeof dec, p + 10, (size_t)(end - p - 10), NULL, &bin, NULL,
                                         sodium_base64_VARIANT_ORIGINAL), 0);
      assert_true(end - p <= 75);
      memcpy(out + k, dec, bin < cap - k - 1 ? bin : cap - k - 1);
      k += bin;
      p = end + 2;
      continue;
    }
    out[k++] = *p++;
  }
  out[k] = 0;
}

static void test_compose_plain(void **state) {
  outbox_mail m = {.to = "ana@example.com", .subject = "Your order", .text = "Hello Ana,\nthanks.\n"};
  char *msg = compose(&m);
  assert_lines(msg);
  assert_non_null(strstr(msg, "Date: Thu, 07 May 2026 10:00:00 +0000\r\n"));
  assert_non_null(strstr(msg, "\r\nFrom: Acme CX <cx@acme.example>\r\n"));
  assert_non_null(strstr(msg, "\r\nTo: ana@example.com\r\n"));
  assert_non_null(strstr(msg, "\r\nSubject: Your order\r\n"));
  assert_non_null(strstr(msg, "\r\nMessage-ID: <cxm.7.1@acme.example>\r\n"));
  assert_non_null(strstr(msg, "\r\nMIME-Version: 1.0\r\n"));
  assert_non_null(strstr(msg, "\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                              "Content-Transfer-Encoding: quoted-printable\r\n\r\nHello Ana,\r\nthanks.\r\n"));
  assert_null(strstr(msg, "List-Unsubscribe"));
  assert_null(strstr(msg, "multipart"));
  cx_free(msg);
}

static void test_compose_utf8_and_html(void **state) {
  const char *subject = "Wie zufrieden waren Sie mit uns? Ihre Meinung zählt – €5 Gutschein für Ihre Antwort 😀";
  outbox_mail m = {.to = "jo@example.com", .to_name = "Jörg \"Jo\" Müller", .from_name = "Acme, Inc.",
                   .subject = subject,
                   .text = "Grüße! =x\n.leading dot\nFrom here\ntrailing space \nA very long line that goes on and on "
                           "and on for well over seventy-six characters so that it must be wrapped softly.\n",
                   .html = "<p>Grüße</p>", .unsubscribe_url = "https://acme.example/u/abc?x=1"};
  outbox_envelope e = ENV;
  e.from_name = m.from_name;
  cx_buf b;
  cx_buf_init(&b, 1 << 20);
  assert_int_equal(outbox_compose(&m, &e, &b), CX_OK);
  const char *msg = b.p;
  assert_lines(msg);
  char v[512];
  header_value(msg, "Subject", v, sizeof v);
  assert_string_equal(v, subject);
  assert_non_null(strstr(msg, "\r\nSubject: =?UTF-8?B?"));
  header_value(msg, "To", v, sizeof v);
  assert_string_equal(v, "Jörg \"Jo\" Müller <jo@example.com>");
  assert_non_null(strstr(msg, "\r\nFrom: \"Acme, Inc.\" <cx@acme.example>\r\n"));
  assert_non_null(strstr(msg, "\r\nList-Unsubscribe: <https://acme.example/u/abc?x=1>\r\n"
                              "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
  assert_non_null(strstr(msg, "Content-Type: multipart/alternative; boundary=\"=_cxm_b\"\r\n"));
  assert_non_null(strstr(msg, "\r\n--=_cxm_b\r\nContent-Type: text/plain; charset=UTF-8\r\n"));
  assert_non_null(strstr(msg, "\r\n--=_cxm_b\r\nContent-Type: text/html; charset=UTF-8\r\n"));
  assert_non_null(strstr(msg, "\r\n--=_cxm_b--\r\n"));
  /* the text part decodes back to the text with CRLF line ends */
  const char *body = strstr(msg, "text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
  assert_non_null(body);
  body = strchr(strstr(body, "\r\n\r\n") + 4, 0) ? strstr(body, "\r\n\r\n") + 4 : NULL;
  const char *end = strstr(body, "\r\n--=_cxm_b");
  assert_non_null(strstr(body, "Gr=C3=BC=C3=9Fe! =3Dx\r\n=2Eleading dot\r\n=46rom here\r\ntrailing space=20\r\n"));
  cx_buf dec;
  cx_buf_init(&dec, 1 << 20);
  qp_decode(body, (size_t)(end - body), &dec);
  assert_string_equal(dec.p, "Grüße! =x\r\n.leading dot\r\nFrom here\r\ntrailing space \r\nA very long line that goes on "
                             "and on and on for well over seventy-six characters so that it must be wrapped softly.\r\n");
  cx_buf_free(&dec);
  cx_buf_free(&b);
}

static void test_qp_long_and_8bit(void **state) {
  char in[3000];
  for (size_t i = 0; i < sizeof in - 1; i++) in[i] = (char)(i % 7 == 0 ? 0xC3 : i % 7 == 1 ? 0xA9 : 'a' + i % 26);
  in[sizeof in - 1] = 0;
  cx_buf b, d;
  cx_buf_init(&b, 1 << 20);
  cx_buf_init(&d, 1 << 20);
  assert_int_equal(outbox_qp_encode(in, strlen(in), &b), CX_OK);
  assert_int_equal(cx_buf_puts(&b, "\r\n"), CX_OK);
  assert_lines(b.p);
  for (const char *p = b.p; *p; p++) assert_true((unsigned char)*p < 0x80);
  qp_decode(b.p, b.len - 2, &d);
  assert_string_equal(d.p, in);
  cx_buf_free(&b);
  cx_buf_free(&d);
}

static void test_injection_refused(void **state) {
  outbox_error err;
  outbox_mail ok = {.to = "a@example.com", .subject = "Hi", .text = "x"};
  assert_int_equal(outbox_mail_check(&ok, &err), CX_OK);
  outbox_mail m = ok;
  m.to = "a@example.com\r\nBcc: victim@example.com";
  assert_int_equal(outbox_mail_check(&m, &err), CX_EINVAL);
  assert_string_equal(err.field, "to");
  assert_non_null(strstr(err.message, "line breaks"));
  m = ok;
  m.subject = "Hi\nBcc: victim@example.com";
  assert_int_equal(outbox_mail_check(&m, &err), CX_EINVAL);
  assert_string_equal(err.field, "subject");
  assert_string_equal(err.code, "invalid_field");
  m = ok;
  m.subject = "tab\there";
  assert_int_equal(outbox_mail_check(&m, &err), CX_EINVAL);
  m = ok;
  m.subject = "bad \xe2\x80\xa8 separator";
  assert_int_equal(outbox_mail_check(&m, &err), CX_EINVAL);
  m = ok;
  m.from_name = "Eve\r\nX-Evil: 1";
  assert_int_equal(outbox_mail_check(&m, &err), CX_EINVAL);
  assert_string_equal(err.field, "from_name");
  m = ok;
  m.to_name = "\x01";
  assert_int_equal(outbox_mail_check(&m, &err), CX_EINVAL);
  m = ok;
  m.unsubscribe_url = "https://x.example/u>\r\nBcc: a@b.c";
  assert_int_equal(outbox_mail_check(&m, &err), CX_EINVAL);
  assert_string_equal(err.field, "unsubscribe_url");
  m = ok;
  m.subject = "\xff\xfe";
  assert_int_equal(outbox_mail_check(&m, &err), CX_EINVAL);
  m = ok;
  m.subject = "";
  assert_int_equal(outbox_mail_check(&m, &err), CX_EINVAL);
  m = ok;
  m.text = NULL;
  assert_int_equal(outbox_mail_check(&m, &err), CX_EINVAL);
  assert_string_equal(err.field, "text");
  /* the limits: at the limit and one past it */
  char subject[OUTBOX_MAX_SUBJECT + 2];
  memset(subject, 's', sizeof subject - 1);
  subject[OUTBOX_MAX_SUBJECT + 1] = 0;
  m = ok;
  m.subject = subject;
  assert_int_equal(outbox_mail_check(&m, &err), CX_EINVAL);
  subject[OUTBOX_MAX_SUBJECT] = 0;
  assert_int_equal(outbox_mail_check(&m, &err), CX_OK);
  char *text = malloc(OUTBOX_MAX_TEXT + 2);
  memset(text, 't', OUTBOX_MAX_TEXT + 1);
  text[OUTBOX_MAX_TEXT + 1] = 0;
  m = ok;
  m.text = text;
  assert_int_equal(outbox_mail_check(&m, &err), CX_EINVAL);
  text[OUTBOX_MAX_TEXT] = 0;
  assert_int_equal(outbox_mail_check(&m, &err), CX_OK);
  free(text);
  /* webhooks */
  outbox_webhook w = {.url = "https://hooks.example/x", .event = "kpi.alert", .body = "{\"a\":1}"};
  assert_int_equal(outbox_webhook_check(&w, &err), CX_OK);
  w.url = "ftp://hooks.example/x";
  assert_int_equal(outbox_webhook_check(&w, &err), CX_EINVAL);
  assert_string_equal(err.field, "url");
  w.url = "https://hooks.example/x";
  w.event = "Bad Event";
  assert_int_equal(outbox_webhook_check(&w, &err), CX_EINVAL);
  w.event = "kpi.alert";
  w.body = "{not json";
  assert_int_equal(outbox_webhook_check(&w, &err), CX_EINVAL);
  assert_string_equal(err.field, "body");
}

static void test_addresses(void **state) {
  static const char *const good[] = {"a@example.com", "first.last+tag@sub.example.co.uk", "x_y-z@a-b.example",
                                     "o'neil@example.ie", "1@2.io"};
  static const char *const bad[] = {"", "a", "@example.com", "a@", "a@example", "a..b@example.com", ".a@example.com",
                                    "a.@example.com", "a@-example.com", "a@example-.com", "a@exa_mple.com",
                                    "a b@example.com", "\"a\"@example.com", "a@[127.0.0.1]", "ü@example.com",
                                    "a@example.com>", "a@@example.com", "a@example..com"};
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) assert_true(outbox_address_valid(good[i]));
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    if (outbox_address_valid(bad[i])) print_error("accepted %s\n", bad[i]);
    assert_false(outbox_address_valid(bad[i]));
  }
  char local[80], addr[400];
  memset(local, 'l', 65);
  local[65] = 0;
  snprintf(addr, sizeof addr, "%s@example.com", local);
  assert_false(outbox_address_valid(addr)); /* local part of 65 */
  local[64] = 0;
  snprintf(addr, sizeof addr, "%s@example.com", local);
  assert_true(outbox_address_valid(addr));
  char name[OUTBOX_MAX_NAME + 1], a[OUTBOX_MAX_ADDRESS + 1];
  assert_int_equal(outbox_parse_mailbox("cxm <cx@example.com>", name, a), CX_OK);
  assert_string_equal(name, "cxm");
  assert_string_equal(a, "cx@example.com");
  assert_int_equal(outbox_parse_mailbox("\"Acme, Inc.\" <cx@example.com>", name, a), CX_OK);
  assert_string_equal(name, "Acme, Inc.");
  assert_int_equal(outbox_parse_mailbox("cx@example.com", name, a), CX_OK);
  assert_string_equal(name, "");
  assert_int_equal(outbox_parse_mailbox("cx <cx@example.com", name, a), CX_EINVAL);
  assert_int_equal(outbox_parse_mailbox("cx <nope>", name, a), CX_EINVAL);
}

/* ---- schedule and rate ---- */

static void test_backoff(void **state) {
  static const int64_t d[] = {60000, 300000, 1800000, 7200000};
  assert_int_equal(outbox_backoff_ms(d, 4, 1), 60000);
  assert_int_equal(outbox_backoff_ms(d, 4, 2), 300000);
  assert_int_equal(outbox_backoff_ms(d, 4, 3), 1800000);
  assert_int_equal(outbox_backoff_ms(d, 4, 4), 7200000);
  assert_int_equal(outbox_backoff_ms(d, 4, 5), -1); /* the fifth failure is the last */
  assert_int_equal(outbox_backoff_ms(d, 4, 0), -1);
  assert_int_equal(outbox_backoff_ms(d, 0, 1), -1);
}

static void test_bucket(void **state) {
  outbox_bucket b;
  outbox_bucket_init(&b, 60, 2, 0); /* one a second, two at once */
  assert_int_equal(outbox_bucket_take(&b, 0), 0);
  assert_int_equal(outbox_bucket_take(&b, 0), 0);
  int64_t w = outbox_bucket_take(&b, 0);
  assert_true(w >= 999 && w <= 1001);
  assert_int_equal(outbox_bucket_take(&b, 500) > 0, 1);
  w = outbox_bucket_take(&b, 500);
  assert_true(w >= 499 && w <= 501);
  assert_int_equal(outbox_bucket_take(&b, 1000), 0);
  assert_true(outbox_bucket_take(&b, 1000) > 0);
  /* a long pause refills only up to the burst */
  assert_int_equal(outbox_bucket_take(&b, 100000), 0);
  assert_int_equal(outbox_bucket_take(&b, 100000), 0);
  assert_true(outbox_bucket_take(&b, 100000) > 0);
  outbox_bucket_init(&b, 600, 0, 0); /* burst: a tenth of a minute's */
  for (int i = 0; i < 60; i++) assert_int_equal(outbox_bucket_take(&b, 0), 0);
  assert_true(outbox_bucket_take(&b, 0) > 0);
}

/* ---- receivers: a thread per connection on a loopback port ---- */

typedef struct {
  int fd, port, smtp;
  atomic_int stop;
  pthread_t accept_thread;
  pthread_t conn[32];
  int nconn;
  pthread_mutex_t mu;
  /* SMTP: the reply to the k-th RCPT (0: 250); hang: never answer DATA */
  int rcpt_codes[8], nrcpt, hang;
  /* HTTP: the status of the k-th request (0: 200) */
  int http_codes[8], nreq;
  char got[8][8192]; /* the messages (SMTP DATA) or requests (HTTP) received */
  int ngot;
} receiver;

typedef struct {
  receiver *r;
  int fd;
  char buf[65536];
  size_t len;
} conn;

/* One line (without CRLF) into out; 0 at the end or when stopping. */
static int read_line(conn *c, char *out, size_t cap) {
  for (;;) {
    char *nl = memchr(c->buf, '\n', c->len);
    if (nl) {
      size_t n = (size_t)(nl - c->buf) + 1, k = n - 1;
      if (k && c->buf[k - 1] == '\r') k--;
      if (k >= cap) k = cap - 1;
      memcpy(out, c->buf, k);
      out[k] = 0;
      memmove(c->buf, c->buf + n, c->len - n);
      c->len -= n;
      return 1;
    }
    if (atomic_load(&c->r->stop) || c->len == sizeof c->buf) return 0;
    ssize_t got = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (got == 0) return 0;
    if (got < 0) continue; /* timeout: look at stop */
    c->len += (size_t)got;
  }
}

static void say(conn *c, const char *s) {
  if (send(c->fd, s, strlen(s), MSG_NOSIGNAL) < 0) return;
}

static void smtp_session(conn *c) {
  receiver *r = c->r;
  char line[1024], msg[8192];
  say(c, "220 test ESMTP\r\n");
  while (read_line(c, line, sizeof line)) {
    if (!strncasecmp(line, "EHLO", 4)) say(c, "250-test\r\n250 SIZE 10000000\r\n");
    else if (!strncasecmp(line, "HELO", 4) || !strncasecmp(line, "MAIL", 4) || !strncasecmp(line, "RSET", 4) ||
             !strncasecmp(line, "NOOP", 4))
      say(c, "250 OK\r\n");
    else if (!strncasecmp(line, "RCPT", 4)) {
      pthread_mutex_lock(&r->mu);
      int code = r->nrcpt < 8 && r->rcpt_codes[r->nrcpt] ? r->rcpt_codes[r->nrcpt] : 250;
      r->nrcpt++;
      pthread_mutex_unlock(&r->mu);
      char reply[100];
      snprintf(reply, sizeof reply, "%d %s\r\n", code,
               code == 250 ? "OK" : code < 500 ? "4.7.1 Try again later" : "5.1.1 No such user here");
      say(c, reply);
    } else if (!strncasecmp(line, "DATA", 4)) {
      say(c, "354 go ahead\r\n");
      size_t k = 0;
      while (read_line(c, line, sizeof line) && strcmp(line, ".")) {
        const char *l = line[0] == '.' ? line + 1 : line; /* dot-unstuffing */
        k += (size_t)snprintf(msg + k, sizeof msg - k, "%s\r\n", l);
        if (k >= sizeof msg) k = sizeof msg - 1;
      }
      if (r->hang) {
        while (!atomic_load(&r->stop)) usleep(10000);
        return;
      }
      pthread_mutex_lock(&r->mu);
      if (r->ngot < 8) snprintf(r->got[r->ngot++], sizeof r->got[0], "%s", msg);
      pthread_mutex_unlock(&r->mu);
      say(c, "250 OK queued\r\n");
    } else if (!strncasecmp(line, "QUIT", 4)) {
      say(c, "221 bye\r\n");
      return;
    } else {
      say(c, "502 unknown\r\n");
    }
  }
}

static void http_session(conn *c) {
  receiver *r = c->r;
  char line[2048], req[8192];
  size_t k = 0;
  long length = 0;
  while (read_line(c, line, sizeof line) && line[0]) {
    if (!strncasecmp(line, "Content-Length:", 15)) length = strtol(line + 15, NULL, 10);
    k += (size_t)snprintf(req + k, sizeof req - k, "%s\n", line);
    if (k >= sizeof req) return;
  }
  k += (size_t)snprintf(req + k, sizeof req - k, "\n");
  while ((long)c->len < length && !atomic_load(&r->stop)) {
    ssize_t got = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (got == 0) return;
    if (got > 0) c->len += (size_t)got;
  }
  if ((size_t)length >= sizeof req - k) return;
  memcpy(req + k, c->buf, (size_t)length);
  req[k + (size_t)length] = 0;
  pthread_mutex_lock(&r->mu);
  int code = r->nreq < 8 && r->http_codes[r->nreq] ? r->http_codes[r->nreq] : 200;
  r->nreq++;
  if (r->ngot < 8) snprintf(r->got[r->ngot++], sizeof r->got[0], "%s", req);
  pthread_mutex_unlock(&r->mu);
  char reply[200];
  snprintf(reply, sizeof reply, "HTTP/1.1 %d X\r\nContent-Length: 7\r\nConnection: close\r\n\r\nnope\r\n\r\n", code);
  say(c, reply);
}

static void *conn_main(void *arg) {
  conn *c = arg;
  if (c->r->smtp) smtp_session(c);
  else http_session(c);
  close(c->fd);
  free(c);
  return NULL;
}

static void *accept_main(void *arg) {
  receiver *r = arg;
  while (!atomic_load(&r->stop)) {
    int fd = accept(r->fd, NULL, NULL);
    if (fd < 0) continue; /* timeout */
    struct timeval tv = {0, 50000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    conn *c = calloc(1, sizeof *c);
    c->r = r;
    c->fd = fd;
    if (r->nconn == 32 || pthread_create(&r->conn[r->nconn], NULL, conn_main, c)) {
      close(fd);
      free(c);
      continue;
    }
    r->nconn++;
  }
  return NULL;
}

static receiver *receiver_start(int smtp) {
  receiver *r = calloc(1, sizeof *r);
  r->smtp = smtp;
  pthread_mutex_init(&r->mu, NULL);
  r->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(r->fd, 16), 0);
  getsockname(r->fd, (struct sockaddr *)&a, &len);
  r->port = ntohs(a.sin_port);
  struct timeval tv = {0, 50000};
  setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  pthread_create(&r->accept_thread, NULL, accept_main, r);
  return r;
}

static void receiver_stop(receiver *r) {
  atomic_store(&r->stop, 1);
  pthread_join(r->accept_thread, NULL);
  for (int i = 0; i < r->nconn; i++) pthread_join(r->conn[i], NULL);
  close(r->fd);
  pthread_mutex_destroy(&r->mu);
  free(r);
}

/* ---- fixture: a store with its writer running ---- */

typedef struct {
  char dir[64];
  store *st;
  outbox *ob;
  receiver *rx;
} fixture;

static const int64_t FAST[] = {50, 50, 50, 50};

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/cxm-outbox-XXXXXX");
  if (!mkdtemp(f->dir) || store_open(f->dir, 1, &f->st)) return -1;
  store_writer_cfg cfg = {.max_queue = 1000, .max_group = 100};
  if (store_writer_start(f->st, &cfg)) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  outbox_stop(f->ob);
  if (f->rx) receiver_stop(f->rx);
  store_close(f->st);
  remove_dir(f->dir);
  free(f);
  return 0;
}

static void start_burst(fixture *f, int smtp_port, int per_minute, int burst) {
  char url[64];
  snprintf(url, sizeof url, "smtp://127.0.0.1:%d", smtp_port);
  outbox_cfg cfg = {.smtp_url = smtp_port ? url : NULL, .mail_from = "Acme CX <cx@acme.example>",
                    .mail_per_minute = per_minute, .mail_burst = burst, .retry_delays_ms = FAST, .nretry_delays = 4,
                    .smtp_timeout_ms = 5000, .webhook_timeout_ms = 5000};
  outbox_error err;
  assert_int_equal(outbox_start(f->st, &cfg, &f->ob, &err), CX_OK);
}

static void start(fixture *f, int smtp_port, int per_minute) { start_burst(f, smtp_port, per_minute, 0); }

typedef struct {
  char status[16], last_error[400];
  int attempts;
} row;

static row get_row(store *st, int64_t id) {
  row r = {"", "", -1};
  sqlite3 *db = store_reader_get(st);
  sqlite3_stmt *s;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT status, attempts, last_error FROM outbox WHERE id = ?1", -1, &s, NULL), 0);
  sqlite3_bind_int64(s, 1, id);
  if (sqlite3_step(s) == SQLITE_ROW) {
    snprintf(r.status, sizeof r.status, "%s", (const char *)sqlite3_column_text(s, 0));
    r.attempts = sqlite3_column_int(s, 1);
    if (sqlite3_column_text(s, 2)) snprintf(r.last_error, sizeof r.last_error, "%s", (const char *)sqlite3_column_text(s, 2));
  }
  sqlite3_finalize(s);
  store_reader_put(st, db);
  return r;
}

/* Waits (10 s at most) for delivery id to reach status. */
static row wait_status(store *st, int64_t id, const char *status) {
  row r = get_row(st, id);
  for (int i = 0; i < 1000 && strcmp(r.status, status); i++) {
    usleep(10000);
    r = get_row(st, id);
  }
  if (strcmp(r.status, status)) print_error("delivery %lld is %s, not %s (%s)\n", (long long)id, r.status, status, r.last_error);
  assert_string_equal(r.status, status);
  return r;
}

static const outbox_mail MAIL = {.to = "ana@example.com", .subject = "How did we do?", .text = "Tell us.\n.\n",
                                 .html = "<p>Tell us.</p>", .ref = "invitation:42"};

static void test_smtp_delivery_after_4xx(void **state) {
  fixture *f = *state;
  f->rx = receiver_start(1);
  f->rx->rcpt_codes[0] = 451; /* greylisted once */
  start(f, f->rx->port, 600);
  int64_t id = 0;
  int64_t t0 = cx_mono_ns();
  assert_int_equal(outbox_enqueue_mail(f->st, &MAIL, &id, NULL), CX_OK);
  row r = wait_status(f->st, id, "sent");
  assert_int_equal(r.attempts, 2);
  assert_non_null(strstr(r.last_error, "451")); /* the earlier attempt's error is kept */
  assert_true((cx_mono_ns() - t0) / 1000000 < 5000); /* woken at once, retried after 50 ms */
  assert_int_equal(f->rx->ngot, 1);
  const char *msg = f->rx->got[0];
  assert_non_null(strstr(msg, "From: Acme CX <cx@acme.example>\r\n"));
  assert_non_null(strstr(msg, "To: ana@example.com\r\n"));
  assert_non_null(strstr(msg, "Subject: How did we do?\r\n"));
  assert_non_null(strstr(msg, "Message-ID: <cxm."));
  assert_non_null(strstr(msg, "@acme.example>\r\n"));
  assert_non_null(strstr(msg, "multipart/alternative"));
  assert_non_null(strstr(msg, "Tell us.\r\n=2E\r\n"));
  outbox_stats s;
  assert_int_equal(outbox_get_stats(f->st, f->ob, &s), CX_OK);
  assert_int_equal(s.sent[0], 1);
  assert_int_equal(s.attempts[0], 2);
  assert_int_equal(s.retried[0], 1);
  assert_int_equal(s.delivered[0], 1);
  /* the list: by ref, never the body */
  cx_buf b;
  cx_buf_init(&b, 1 << 20);
  outbox_filter flt = {.ref = "invitation:42", .limit = 10};
  assert_int_equal(outbox_list(f->st, &flt, &b), CX_OK);
  assert_non_null(strstr(b.p, "\"status\":\"sent\""));
  assert_non_null(strstr(b.p, "\"ref\":\"invitation:42\""));
  assert_null(strstr(b.p, "Tell us"));
  cx_buf_free(&b);
}

static void test_smtp_5xx_fails_at_once(void **state) {
  fixture *f = *state;
  f->rx = receiver_start(1);
  f->rx->rcpt_codes[0] = 550;
  start(f, f->rx->port, 600);
  int64_t id = 0;
  assert_int_equal(outbox_enqueue_mail(f->st, &MAIL, &id, NULL), CX_OK);
  row r = wait_status(f->st, id, "failed");
  assert_int_equal(r.attempts, 1);
  assert_non_null(strstr(r.last_error, "550"));
  assert_int_equal(f->rx->ngot, 0);
  /* retry: queued again with a fresh schedule, and now it goes */
  assert_int_equal(outbox_retry(f->st, id), CX_OK);
  r = wait_status(f->st, id, "sent");
  assert_int_equal(r.attempts, 1);
  assert_int_equal(outbox_retry(f->st, id), CX_EEXIST); /* sent: nothing to retry */
  assert_int_equal(outbox_retry(f->st, id + 100), CX_ENOTFOUND);
}

static void test_smtp_down_gives_up_after_5(void **state) {
  fixture *f = *state;
  receiver *rx = receiver_start(1);
  int port = rx->port;
  receiver_stop(rx); /* nobody listens there now */
  start(f, port, 600);
  int64_t id = 0;
  assert_int_equal(outbox_enqueue_mail(f->st, &MAIL, &id, NULL), CX_OK);
  row r = wait_status(f->st, id, "failed");
  assert_int_equal(r.attempts, 5);
  assert_true(strlen(r.last_error) > 5);
}

static void test_rate_limit(void **state) {
  fixture *f = *state;
  f->rx = receiver_start(1);
  start_burst(f, f->rx->port, 60, 1); /* one a second, a burst of 1 */
  int64_t ids[3];
  int64_t t0 = cx_mono_ns();
  for (int i = 0; i < 3; i++) assert_int_equal(outbox_enqueue_mail(f->st, &MAIL, &ids[i], NULL), CX_OK);
  for (int i = 0; i < 3; i++) wait_status(f->st, ids[i], "sent");
  int64_t ms = (cx_mono_ns() - t0) / 1000000;
  assert_true(ms >= 1900); /* the 2nd a second after the 1st, the 3rd a second later */
}

static void test_mail_without_smtp_stays_queued(void **state) {
  fixture *f = *state;
  start(f, 0, 0);
  assert_false(outbox_mail_configured(f->ob));
  int64_t id = 0;
  assert_int_equal(outbox_enqueue_mail(f->st, &MAIL, &id, NULL), CX_OK);
  usleep(300000);
  row r = get_row(f->st, id);
  assert_string_equal(r.status, "queued");
  assert_int_equal(r.attempts, 0);
}

/* The value of header name (lower-case in req) in an HTTP request text. */
static const char *req_header(const char *req, const char *name, char *out, size_t cap) {
  char key[64];
  snprintf(key, sizeof key, "\n%s: ", name);
  const char *p = strcasestr(req, key);
  out[0] = 0;
  if (!p) return out;
  p += strlen(key);
  size_t k = 0;
  while (p[k] && p[k] != '\n' && k + 1 < cap) k++;
  memcpy(out, p, k);
  out[k] = 0;
  return out;
}

static void test_webhook_signed(void **state) {
  fixture *f = *state;
  f->rx = receiver_start(0);
  f->rx->http_codes[0] = 503; /* retried */
  f->rx->http_codes[1] = 200;
  start(f, 0, 0);
  char url[80];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/hooks/cx", f->rx->port);
  const char *body = "{\"kpi\":\"nps\",\"value\":12.5,\"note\":\"ünïcode\"}";
  outbox_webhook w = {.url = url, .event = "kpi.alert", .body = body, .ref = "kpi-alert:7"};
  int64_t id = 0;
  assert_int_equal(outbox_enqueue_webhook(f->st, &w, &id, NULL), CX_OK);
  row r = wait_status(f->st, id, "sent");
  assert_int_equal(r.attempts, 2);
  assert_non_null(strstr(r.last_error, "HTTP 503"));
  assert_int_equal(f->rx->ngot, 2);
  const char *req = f->rx->got[1];
  assert_true(!strncmp(req, "POST /hooks/cx HTTP/1.1\n", 24));
  char ts[64], sig[128], ev[64], ct[64], dv[32];
  req_header(req, "X-Cxm-Timestamp", ts, sizeof ts);
  req_header(req, "X-Cxm-Signature", sig, sizeof sig);
  req_header(req, "X-Cxm-Event", ev, sizeof ev);
  req_header(req, "Content-Type", ct, sizeof ct);
  req_header(req, "X-Cxm-Delivery", dv, sizeof dv);
  assert_string_equal(ev, "kpi.alert");
  assert_string_equal(ct, "application/json");
  char idtext[32];
  snprintf(idtext, sizeof idtext, "%lld", (long long)id);
  assert_string_equal(dv, idtext);
  int64_t t = strtoll(ts, NULL, 10);
  assert_true(llabs(t - cx_now_ms() / 1000) < 60);
  assert_string_equal(strstr(req, "\n\n") + 2, body);
  /* the receiver's check: HMAC-SHA256(secret, timestamp "." body) */
  char secret[OUTBOX_SECRET_LEN];
  outbox_webhook_secret(f->ob, secret);
  assert_true(!strncmp(secret, "whsec_", 6) && strlen(secret) == 70);
  crypto_auth_hmacsha256_state hs;
  unsigned char mac[32];
  char hex[65];
  crypto_auth_hmacsha256_init(&hs, (const unsigned char *)secret, strlen(secret));
  crypto_auth_hmacsha256_update(&hs, (const unsigned char *)ts, strlen(ts));
  crypto_auth_hmacsha256_update(&hs, (const unsigned char *)".", 1);
  crypto_auth_hmacsha256_update(&hs, (const unsigned char *)body, strlen(body));
  crypto_auth_hmacsha256_final(&hs, mac);
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  assert_true(!strncmp(sig, "sha256=", 7));
  assert_string_equal(sig + 7, hex);
  /* the secret is made once: a restart keeps it */
  outbox_stop(f->ob);
  f->ob = NULL;
  start(f, 0, 0);
  char again[OUTBOX_SECRET_LEN];
  outbox_webhook_secret(f->ob, again);
  assert_string_equal(again, secret);
}

static void test_webhook_4xx_fails(void **state) {
  fixture *f = *state;
  f->rx = receiver_start(0);
  f->rx->http_codes[0] = 404;
  start(f, 0, 0);
  char url[80];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/gone", f->rx->port);
  outbox_webhook w = {.url = url, .event = "kpi.alert", .body = "[1,2]"};
  int64_t id = 0;
  assert_int_equal(outbox_enqueue_webhook(f->st, &w, &id, NULL), CX_OK);
  row r = wait_status(f->st, id, "failed");
  assert_int_equal(r.attempts, 1);
  assert_non_null(strstr(r.last_error, "HTTP 404: nope"));
}

/* The *_in form inside another job: committed with it, and the outbox
 * wakes by itself. */
typedef struct {
  store_job job;
  int64_t id;
  int fail_after;
} caller_job;

static cx_err apply_caller(store_job *job, sqlite3 *db) {
  caller_job *j = (caller_job *)job;
  if (store_exec(db, "INSERT INTO meta(key, value) VALUES('caller_was_here', 'yes')")) return CX_EDB;
  cx_err rc = outbox_enqueue_mail_in(db, &MAIL, &j->id);
  return rc ? rc : j->fail_after ? CX_EINVAL : CX_OK;
}

static void test_enqueue_in_transaction(void **state) {
  fixture *f = *state;
  f->rx = receiver_start(1);
  start(f, f->rx->port, 600);
  caller_job bad = {.job = {.apply = apply_caller, .weight = 1}, .fail_after = 1};
  assert_int_equal(store_run(f->st, &bad.job), CX_EINVAL);
  assert_string_equal(get_row(f->st, bad.id).status, ""); /* rolled back with the caller */
  caller_job good = {.job = {.apply = apply_caller, .weight = 1}};
  assert_int_equal(store_run(f->st, &good.job), CX_OK);
  wait_status(f->st, good.id, "sent");
}

/* A delivery left 'sending' (the process died mid-send) goes at the next start. */
typedef struct {
  store_job job;
  int64_t id;
} mark_job;

static cx_err apply_mark(store_job *job, sqlite3 *db) {
  char sql[96];
  snprintf(sql, sizeof sql, "UPDATE outbox SET status = 'sending' WHERE id = %lld", (long long)((mark_job *)job)->id);
  return store_exec(db, sql);
}

static void test_sending_left_by_a_crash(void **state) {
  fixture *f = *state;
  f->rx = receiver_start(1);
  int64_t id = 0;
  assert_int_equal(outbox_enqueue_mail(f->st, &MAIL, &id, NULL), CX_OK);
  mark_job m = {.job = {.apply = apply_mark, .weight = 1}, .id = id};
  assert_int_equal(store_run(f->st, &m.job), CX_OK);
  assert_string_equal(get_row(f->st, id).status, "sending");
  start(f, f->rx->port, 600);
  row r = wait_status(f->st, id, "sent");
  assert_int_equal(r.attempts, 1);
  assert_int_equal(f->rx->ngot, 1);
}

static void test_stop_during_transfer(void **state) {
  fixture *f = *state;
  f->rx = receiver_start(1);
  f->rx->hang = 1;
  start(f, f->rx->port, 600);
  int64_t id = 0;
  assert_int_equal(outbox_enqueue_mail(f->st, &MAIL, &id, NULL), CX_OK);
  wait_status(f->st, id, "sending");
  usleep(200000);
  int64_t t0 = cx_mono_ns();
  outbox_stop(f->ob);
  f->ob = NULL;
  assert_true((cx_mono_ns() - t0) / 1000000 < 3000);
  row r = get_row(f->st, id);
  assert_string_equal(r.status, "queued"); /* abandoned: sent again at the next start */
  assert_int_equal(r.attempts, 0);
}

int main(void) {
  cx_log_set_level(2);
  if (cx_crypto_init() || curl_global_init(CURL_GLOBAL_DEFAULT)) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_compose_plain),
      cmocka_unit_test(test_compose_utf8_and_html),
      cmocka_unit_test(test_qp_long_and_8bit),
      cmocka_unit_test(test_injection_refused),
      cmocka_unit_test(test_addresses),
      cmocka_unit_test(test_backoff),
      cmocka_unit_test(test_bucket),
      cmocka_unit_test_setup_teardown(test_smtp_delivery_after_4xx, setup, teardown),
      cmocka_unit_test_setup_teardown(test_smtp_5xx_fails_at_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_smtp_down_gives_up_after_5, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mail_without_smtp_stays_queued, setup, teardown),
      cmocka_unit_test_setup_teardown(test_webhook_signed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_webhook_4xx_fails, setup, teardown),
      cmocka_unit_test_setup_teardown(test_enqueue_in_transaction, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sending_left_by_a_crash, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_during_transfer, setup, teardown),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return failed;
}
