/* outbox.h - durable delivery of e-mail (SMTP) and webhooks (signed HTTP
 * POST): docs/outbox.md for users, docs/internals/outbox.md for the design.
 *
 * A delivery is a row of the table `outbox`, written through the store's
 * writer. Enqueueing commits with the caller's own writes when the caller
 * uses the *_in form inside its store_job apply; the delivery thread
 * (outbox_start) then sends it, retries temporary failures with backoff and
 * records the outcome. Delivery is at least once: a delivery whose outcome
 * was not recorded (the process died while sending) is sent again at the
 * next start; a mail keeps its Message-ID across attempts so receivers can
 * tell a repeat.
 *
 * Ownership: the outbox copies everything it is given; the caller's
 * strings may be freed when a call returns. Every function is thread-safe. */
#ifndef CX_OUTBOX_H
#define CX_OUTBOX_H
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include "../base/buf.h"
#include "../base/err.h"
#include "../store/store.h"

/* Limits, each checked before anything is written (CX_EINVAL). */
#define OUTBOX_MAX_ADDRESS 254    /* an e-mail address, bytes */
#define OUTBOX_MAX_NAME 100       /* a display name, bytes of UTF-8 */
#define OUTBOX_MAX_SUBJECT 255    /* bytes of UTF-8 */
#define OUTBOX_MAX_TEXT (256 * 1024) /* each of the text and the HTML body */
#define OUTBOX_MAX_URL 900        /* a webhook or List-Unsubscribe URL */
#define OUTBOX_MAX_REF 200        /* the caller's lookup key */
#define OUTBOX_MAX_EVENT 64       /* a webhook's event name */
#define OUTBOX_MAX_WEBHOOK_BODY (256 * 1024)
#define OUTBOX_SECRET_LEN 72      /* "whsec_" + 64 hex + NUL, rounded up */

typedef struct outbox outbox;

/* Why a mail or webhook was refused: code "invalid_field", field the
 * member ("to", "subject"…), message one sentence a person can act on. */
typedef struct {
  char code[32];
  char field[64];
  char message[256];
} outbox_error;

/* An e-mail. The sender's address comes from the server's configuration
 * (--mail-from) when the mail is sent; from_name only replaces its
 * display name. Texts are UTF-8. */
typedef struct {
  const char *to;              /* required: local@domain.tld (ASCII; see docs) */
  const char *to_name;         /* optional display name of the recipient */
  const char *from_name;       /* optional display name of the sender */
  const char *subject;         /* required, 1..255 bytes, no control characters */
  const char *text;            /* required plain-text body */
  const char *html;            /* optional HTML body: multipart/alternative */
  const char *unsubscribe_url; /* optional http(s) URL: List-Unsubscribe + one-click POST */
  const char *ref;             /* optional lookup key, e.g. "invitation:42" */
} outbox_mail;

/* A webhook: POST body (a JSON text) to url, signed (docs/outbox.md). */
typedef struct {
  const char *url;   /* required http:// or https:// URL */
  const char *event; /* required, 1..64 of [a-z0-9._-], e.g. "kpi.alert": header X-Cxm-Event */
  const char *body;  /* required JSON text (object or array) */
  const char *ref;   /* optional lookup key, e.g. "kpi-alert:7" */
} outbox_webhook;

/* Checks m / w without writing anything: CX_OK, or CX_EINVAL with err
 * filled (err may be NULL). Call it before submitting a store_job that
 * will enqueue with the *_in form: an error inside a job rolls back the
 * writer's whole group, other submitters' jobs included. */
cx_err outbox_mail_check(const outbox_mail *m, outbox_error *err);
cx_err outbox_webhook_check(const outbox_webhook *w, outbox_error *err);

/* Inserts a queued delivery on db, the writer connection, from inside a
 * store_job apply (the caller's transaction): it commits or rolls back
 * with the caller's writes. CX_EINVAL for input outbox_*_check refuses,
 * CX_EDB. *id_out (may be NULL) gets the delivery's id. A running outbox
 * on the same store is woken. */
cx_err outbox_enqueue_mail_in(sqlite3 *db, const outbox_mail *m, int64_t *id_out);
cx_err outbox_enqueue_webhook_in(sqlite3 *db, const outbox_webhook *w, int64_t *id_out);
/* The same in a job of their own (store_run): on CX_OK the delivery is
 * on disk. CX_EINVAL with err filled (err may be NULL); store errors. */
cx_err outbox_enqueue_mail(store *st, const outbox_mail *m, int64_t *id_out, outbox_error *err);
cx_err outbox_enqueue_webhook(store *st, const outbox_webhook *w, int64_t *id_out, outbox_error *err);

/* ---- reading and operating (the HTTP API uses these) ---- */

typedef struct {
  const char *status; /* NULL or queued|sending|sent|failed */
  const char *kind;   /* NULL or mail|webhook */
  const char *ref;    /* NULL or the exact ref */
  int64_t before;     /* ids below this only (a cursor); 0: no bound */
  size_t limit;       /* 1..1000 */
} outbox_filter;

/* {"deliveries":[DELIVERY…],"next_cursor":"…"|null}, newest first. A
 * DELIVERY is {id, kind, to, subject, ref, status, attempts, last_error,
 * created_at, sent_at, next_attempt_at}: never the body. CX_EINVAL for a
 * status or kind outside the lists above. */
cx_err outbox_list(store *st, const outbox_filter *f, cx_buf *out);
/* One DELIVERY; CX_ENOTFOUND. */
cx_err outbox_get(store *st, int64_t id, cx_buf *out);
/* Queues a failed delivery again, due now, with a fresh retry schedule
 * (attempts back to 0; last_error kept). CX_ENOTFOUND, CX_EEXIST when it
 * is not failed (queued, sending or sent). */
cx_err outbox_retry(store *st, int64_t id);

typedef struct {
  /* rows now, by kind (0 mail, 1 webhook) and status */
  uint64_t queued[2], sending[2], sent[2], failed[2];
  /* since start, by kind: attempts and how they ended */
  uint64_t attempts[2], delivered[2], retried[2], gave_up[2];
} outbox_stats;
/* ob may be NULL (counts since start are then 0). */
cx_err outbox_get_stats(store *st, outbox *ob, outbox_stats *out);

/* ---- the delivery thread ---- */

typedef struct {
  const char *smtp_url;  /* smtp://[user:password@]host:port or smtps://…; NULL: mail stays queued */
  const char *mail_from; /* "Name <address>" or "address"; required with smtp_url */
  int mail_per_minute;   /* token bucket rate; 0: 60 */
  int mail_burst;        /* bucket size; 0: a tenth of a minute's rate, at least 1 */
  /* delay after the 1st, 2nd… failed attempt; NULL: 1 min, 5 min, 30 min,
   * 2 h. A delivery fails for good after nretry_delays + 1 attempts. */
  const int64_t *retry_delays_ms;
  size_t nretry_delays;
  int64_t smtp_timeout_ms, webhook_timeout_ms; /* whole attempt; 0: 60 s, 15 s */
} outbox_cfg;

/* Checks cfg (CX_EINVAL with a sentence in err), makes the webhook secret
 * when the store has none, queues again what the last run left sending,
 * and starts the delivery thread. The store's writer must be running and
 * must outlive the outbox. curl_global_init must have run. */
cx_err outbox_start(store *st, const outbox_cfg *cfg, outbox **out, outbox_error *err);
/* Stops the thread: a transfer in progress is abandoned and its delivery
 * queued again (it may have arrived: at least once). Then frees ob. The
 * writer must still run. NULL is fine. */
void outbox_stop(outbox *ob);
/* Wakes the delivery thread (something was enqueued or became due). */
void outbox_kick(outbox *ob);
/* 1 when mail can be sent (smtp_url was given). */
int outbox_mail_configured(const outbox *ob);
/* The webhook signing secret ("whsec_…") into out. */
void outbox_webhook_secret(const outbox *ob, char out[OUTBOX_SECRET_LEN]);

#endif
