/* compose.c - checking a mail's parts and composing its RFC 5322 / MIME
 * message (outbox_int.h). Nothing here touches the store or the network. */
#include "outbox_int.h"
#include "../base/util.h"
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* RFC 5322 atext */
static int is_atext(int c) {
  return is_alpha(c) || is_digit(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

int outbox_address_valid(const char *s) {
  if (!s) return 0;
  size_t n = strlen(s);
  const char *at = strrchr(s, '@');
  if (!n || n > OUTBOX_MAX_ADDRESS || !at) return 0;
  size_t local = (size_t)(at - s);
  if (!local || local > 64 || s[0] == '.' || s[local - 1] == '.') return 0;
  for (size_t i = 0; i < local; i++) {
    if (s[i] == '.') {
      if (s[i + 1] == '.') return 0;
    } else if (!is_atext((unsigned char)s[i])) {
      return 0;
    }
  }
  const char *d = at + 1;
  size_t labels = 0, len = 0;
  for (const char *p = d;; p++) {
    if (*p == '.' || !*p) {
      if (!len || len > 63 || p[-1] == '-') return 0;
      labels++;
      if (!*p) break;
      len = 0;
      continue;
    }
    if (!(is_alpha((unsigned char)*p) || is_digit((unsigned char)*p) || *p == '-')) return 0;
    if (!len && *p == '-') return 0;
    len++;
  }
  return labels >= 2;
}

int outbox_url_valid(const char *s) {
  if (!s) return 0;
  size_t n = strlen(s);
  if (n > OUTBOX_MAX_URL) return 0;
  size_t scheme = !strncmp(s, "https://", 8) ? 8 : !strncmp(s, "http://", 7) ? 7 : 0;
  if (!scheme || n == scheme || s[scheme] == '/') return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\') return 0;
  }
  return 1;
}

/* UTF-8 text without control characters (C0, DEL; tab included) */
static int line_text_ok(const char *s, size_t max) {
  size_t n = strlen(s);
  if (n > max || !cx_utf8_valid(s, n)) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 0;
  /* U+0085, U+2028 and U+2029 end lines too in some readers */
  return !strstr(s, "\xc2\x85") && !strstr(s, "\xe2\x80\xa8") && !strstr(s, "\xe2\x80\xa9");
}

static int has_crlf(const char *s) { return strchr(s, '\r') || strchr(s, '\n'); }

cx_err outbox_parse_mailbox(const char *s, char name[OUTBOX_MAX_NAME + 1], char addr[OUTBOX_MAX_ADDRESS + 1]) {
  if (!s) return CX_EINVAL;
  const char *lt = strchr(s, '<');
  name[0] = addr[0] = 0;
  if (!lt) {
    if (strlen(s) > OUTBOX_MAX_ADDRESS || !outbox_address_valid(s)) return CX_EINVAL;
    snprintf(addr, OUTBOX_MAX_ADDRESS + 1, "%s", s);
    return CX_OK;
  }
  const char *gt = strchr(lt, '>');
  if (!gt || gt[1]) return CX_EINVAL;
  size_t an = (size_t)(gt - lt - 1);
  if (an > OUTBOX_MAX_ADDRESS) return CX_EINVAL;
  memcpy(addr, lt + 1, an);
  addr[an] = 0;
  if (!outbox_address_valid(addr)) return CX_EINVAL;
  const char *b = s, *e = lt;
  while (b < e && *b == ' ') b++;
  while (e > b && e[-1] == ' ') e--;
  if (e - b >= 2 && *b == '"' && e[-1] == '"') b++, e--;
  if ((size_t)(e - b) > OUTBOX_MAX_NAME) return CX_EINVAL;
  memcpy(name, b, (size_t)(e - b));
  name[e - b] = 0;
  return line_text_ok(name, OUTBOX_MAX_NAME) ? CX_OK : CX_EINVAL;
}

cx_err outbox_mail_check(const outbox_mail *m, outbox_error *err) {
  if (!m->to || !*m->to) return outbox_refuse(err, "to", "to must be an e-mail address.");
  if (has_crlf(m->to))
    return outbox_refuse(err, "to", "to must not contain line breaks (they would inject mail headers).");
  if (!outbox_address_valid(m->to))
    return outbox_refuse(err, "to", "to must be a plain address such as name@example.com (ASCII, no display name, at most %d bytes).",
                         OUTBOX_MAX_ADDRESS);
  if (m->to_name && !line_text_ok(m->to_name, OUTBOX_MAX_NAME))
    return outbox_refuse(err, "to_name", "to_name must be UTF-8 of at most %d bytes without line breaks or control characters.",
                         OUTBOX_MAX_NAME);
  if (m->from_name && !line_text_ok(m->from_name, OUTBOX_MAX_NAME))
    return outbox_refuse(err, "from_name", "from_name must be UTF-8 of at most %d bytes without line breaks or control characters.",
                         OUTBOX_MAX_NAME);
  if (!m->subject || !*m->subject) return outbox_refuse(err, "subject", "subject must not be empty.");
  if (has_crlf(m->subject))
    return outbox_refuse(err, "subject", "subject must not contain line breaks (they would inject mail headers).");
  if (!line_text_ok(m->subject, OUTBOX_MAX_SUBJECT))
    return outbox_refuse(err, "subject", "subject must be UTF-8 of at most %d bytes without control characters.",
                         OUTBOX_MAX_SUBJECT);
  if (!m->text) return outbox_refuse(err, "text", "text (the plain-text body) is required.");
  if (strlen(m->text) > OUTBOX_MAX_TEXT || !cx_utf8_valid(m->text, strlen(m->text)))
    return outbox_refuse(err, "text", "text must be UTF-8 of at most %d bytes.", OUTBOX_MAX_TEXT);
  if (m->html && (strlen(m->html) > OUTBOX_MAX_TEXT || !cx_utf8_valid(m->html, strlen(m->html))))
    return outbox_refuse(err, "html", "html must be UTF-8 of at most %d bytes.", OUTBOX_MAX_TEXT);
  if (m->unsubscribe_url && !outbox_url_valid(m->unsubscribe_url))
    return outbox_refuse(err, "unsubscribe_url",
                         "unsubscribe_url must be an http(s) URL of at most %d bytes without spaces, quotes or angle brackets.",
                         OUTBOX_MAX_URL);
  if (m->ref && !line_text_ok(m->ref, OUTBOX_MAX_REF))
    return outbox_refuse(err, "ref", "ref must be text of at most %d bytes without control characters.", OUTBOX_MAX_REF);
  return CX_OK;
}

/* ---- encodings ---- */

static const char HEX[] = "0123456789ABCDEF";

cx_err outbox_qp_encode(const char *s, size_t n, cx_buf *out) {
  size_t col = 0;
  cx_err rc = CX_OK;
  for (size_t i = 0; i < n && !rc; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\r' || c == '\n') { /* CRLF, LF or a lone CR: one line end */
      if (c == '\r' && i + 1 < n && s[i + 1] == '\n') i++;
      rc = cx_buf_append(out, "\r\n", 2);
      col = 0;
      continue;
    }
    int eol = i + 1 == n || s[i + 1] == '\r' || s[i + 1] == '\n';
    int literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !eol);
    if (col == 0 && (c == '.' || (c == 'F' && n - i >= 5 && !memcmp(s + i, "From ", 5)))) literal = 0;
    size_t w = literal ? 1 : 3;
    /* room for the soft break's '=' within 76 */
    if (col + w > 75 && !(eol && col + w <= 76)) {
      rc = cx_buf_append(out, "=\r\n", 3);
      col = 0;
      if (rc) break;
      if (c == '.') literal = 0, w = 3;
    }
    if (literal) {
      rc = cx_buf_append(out, (char *)&c, 1);
    } else {
      char e[3] = {'=', HEX[c >> 4], HEX[c & 15]};
      rc = cx_buf_append(out, e, 3);
    }
    col += w;
  }
  return rc;
}

static int printable_ascii(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) return 0;
  return 1;
}

/* Appends s as encoded-words, the first after `col` characters of the
 * line, each word at most 75 characters, folded with CRLF SP. */
static cx_err encoded_words(cx_buf *out, const char *s, size_t col) {
  size_t n = strlen(s), i = 0;
  cx_err rc = CX_OK;
  while (i < n && !rc) {
    size_t take = n - i > 39 ? 39 : n - i; /* 39 bytes: 52 of base64 + 12 = 64 */
    /* never split a character */
    while (take < n - i && take && ((unsigned char)s[i + take] & 0xC0) == 0x80) take--;
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, (const unsigned char *)s + i, take, sodium_base64_VARIANT_ORIGINAL);
    if (i || col > 12) rc = cx_buf_append(out, "\r\n ", 3);
    if (!rc) rc = cx_buf_printf(out, "=?UTF-8?B?%s?=", b64);
    i += take;
  }
  return rc;
}

cx_err outbox_header_text(cx_buf *out, const char *name, const char *value) {
  cx_err rc = cx_buf_printf(out, "%s: ", name);
  if (rc) return rc;
  /* "=?" in plain text could be read as an encoded-word: encode that too */
  if (printable_ascii(value) && !strstr(value, "=?")) rc = cx_buf_puts(out, value);
  else rc = encoded_words(out, value, strlen(name) + 2);
  return rc ? rc : cx_buf_append(out, "\r\n", 2);
}

/* A mailbox: "name <addr>", the name as atoms, a quoted string or
 * encoded-words; addr alone when there is no name. */
static cx_err mailbox(cx_buf *out, const char *header, const char *name, const char *addr) {
  cx_err rc = cx_buf_printf(out, "%s: ", header);
  if (!rc && name && *name) {
    int atoms = 1;
    for (const char *p = name; *p && atoms; p++) atoms = is_atext((unsigned char)*p) || *p == ' ';
    if (atoms) {
      rc = cx_buf_puts(out, name);
    } else if (printable_ascii(name) && !strstr(name, "=?")) {
      rc = cx_buf_puts(out, "\"");
      for (const char *p = name; *p && !rc; p++) {
        if (*p == '"' || *p == '\\') rc = cx_buf_puts(out, "\\");
        if (!rc) rc = cx_buf_append(out, p, 1);
      }
      if (!rc) rc = cx_buf_puts(out, "\"");
    } else {
      rc = encoded_words(out, name, strlen(header) + 2);
    }
    if (!rc) rc = cx_buf_printf(out, " <%s>\r\n", addr);
  } else if (!rc) {
    rc = cx_buf_printf(out, "%s\r\n", addr);
  }
  return rc;
}

void outbox_rfc5322_date(int64_t ms, char out[40]) {
  static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
           months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static cx_err part(cx_buf *out, const char *type, const char *body) {
  cx_err rc = cx_buf_printf(out, "Content-Type: text/%s; charset=UTF-8\r\n"
                                 "Content-Transfer-Encoding: quoted-printable\r\n\r\n", type);
  if (!rc) rc = outbox_qp_encode(body, strlen(body), out);
  if (!rc) rc = cx_buf_append(out, "\r\n", 2);
  return rc;
}

cx_err outbox_compose(const outbox_mail *m, const outbox_envelope *e, cx_buf *out) {
  char date[40], boundary[48];
  outbox_rfc5322_date(e->date_ms, date);
  if (e->boundary) {
    snprintf(boundary, sizeof boundary, "%s", e->boundary);
  } else {
    /* "=_" never occurs in quoted-printable text: the boundary cannot
     * collide with a body */
    unsigned char r[16];
    char hex[33];
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(hex, sizeof hex, r, sizeof r);
    snprintf(boundary, sizeof boundary, "=_cxm_%s", hex);
  }
  cx_err rc = cx_buf_printf(out, "Date: %s\r\n", date);
  if (!rc) rc = mailbox(out, "From", e->from_name, e->from_addr);
  if (!rc) rc = mailbox(out, "To", m->to_name, m->to);
  if (!rc) rc = outbox_header_text(out, "Subject", m->subject);
  if (!rc) rc = cx_buf_printf(out, "Message-ID: <%s>\r\nMIME-Version: 1.0\r\n", e->message_id);
  if (!rc && m->unsubscribe_url)
    rc = cx_buf_printf(out, "List-Unsubscribe: <%s>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
                       m->unsubscribe_url);
  if (rc) return rc;
  if (!m->html) return part(out, "plain", m->text);
  rc = cx_buf_printf(out, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n"
                          "This is a multi-part message in MIME format.\r\n--%s\r\n", boundary, boundary);
  if (!rc) rc = part(out, "plain", m->text);
  if (!rc) rc = cx_buf_printf(out, "--%s\r\n", boundary);
  if (!rc) rc = part(out, "html", m->html);
  if (!rc) rc = cx_buf_printf(out, "--%s--\r\n", boundary);
  return rc;
}
