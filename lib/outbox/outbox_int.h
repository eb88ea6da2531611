/* outbox_int.h - private to lib/outbox (and its unit tests). */
#ifndef CX_OUTBOX_INT_H
#define CX_OUTBOX_INT_H
#include "outbox.h"

enum { OUTBOX_MAIL = 0, OUTBOX_WEBHOOK = 1 };

/* ---- compose.c: checking and composing a message ---- */

/* 1 when s is an address this outbox sends to: local@domain, ASCII, the
 * local part 1..64 of letters, digits, !#$%&'*+-/=?^_`{|}~ and single
 * inner dots; the domain two or more labels of letters, digits and inner
 * hyphens, each 1..63; the whole at most 254 bytes. No quoted local parts,
 * no IP literals, no IDN (give the xn-- form). */
int outbox_address_valid(const char *s);
/* Parses "Name <address>" or "address" (the --mail-from form). CX_EINVAL
 * when the address or the name (see outbox_mail_check) is not valid. */
cx_err outbox_parse_mailbox(const char *s, char name[OUTBOX_MAX_NAME + 1],
                            char addr[OUTBOX_MAX_ADDRESS + 1]);
/* 1 when s is an http:// or https:// URL of printable ASCII without
 * spaces, quotes or angle brackets, at most OUTBOX_MAX_URL bytes. */
int outbox_url_valid(const char *s);

/* What a mail is composed with besides its parts. */
typedef struct {
  const char *from_name; /* the mail's from_name, else the configured one; may be "" */
  const char *from_addr;
  const char *message_id; /* without angle brackets */
  int64_t date_ms;
  const char *boundary; /* NULL: a random one */
} outbox_envelope;

/* The whole RFC 5322 / MIME message for m (checked before) into out:
 * CRLF line ends, headers first. CX_ETOOBIG past out's bound. */
cx_err outbox_compose(const outbox_mail *m, const outbox_envelope *e, cx_buf *out);
/* Quoted-printable (RFC 2045) of s[0..n); line ends become CRLF, lines
 * stay within 76 characters, and a line's leading "." or "From " is
 * encoded. */
cx_err outbox_qp_encode(const char *s, size_t n, cx_buf *out);
/* "Name: value" for an unstructured header: value as is when it is
 * printable ASCII, else as RFC 2047 UTF-8 "B" encoded-words of at most 75
 * characters, folded onto continuation lines. Ends with CRLF. */
cx_err outbox_header_text(cx_buf *out, const char *name, const char *value);
/* The date as RFC 5322 wants it, UTC ("Thu, 07 May 2026 10:00:00 +0000"). */
void outbox_rfc5322_date(int64_t ms, char out[40]);

/* ---- deliver.c: retry schedule and rate limit ---- */

/* The wait after the attempts-th failed attempt (1-based) from delays[n],
 * or -1 when that was the last attempt allowed (n + 1). */
int64_t outbox_backoff_ms(const int64_t *delays, size_t n, int attempts);

typedef struct {
  double tokens, burst, per_ms;
  int64_t last_ms;
} outbox_bucket;
void outbox_bucket_init(outbox_bucket *b, int per_minute, int burst, int64_t now_ms);
/* 0 when a token was taken; otherwise the milliseconds until one will be
 * there (nothing taken). */
int64_t outbox_bucket_take(outbox_bucket *b, int64_t now_ms);

/* Wakes a running outbox whose store's writer connection is db (what the
 * *_in forms know). */
void outbox_kick_db(sqlite3 *db);
/* Counts since start, for outbox_get_stats. */
void outbox_counts(outbox *ob, outbox_stats *out);

/* ---- queue.c ---- */
/* Fills err and returns CX_EINVAL. */
cx_err outbox_refuse(outbox_error *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
