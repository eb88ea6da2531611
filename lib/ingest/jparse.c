/* jparse.c - the JSON parser of the tracking path: cJSON's parser, step for
 * step (see jparse.h), with its two slow parts replaced.
 *
 * - Numbers: cJSON copies the run of [0-9+-eE.] and calls strtod. Here a
 *   number of the form -?D+(.D+)? with at most 15 digits is m / 10^k in
 *   one IEEE division: m and 10^k are exact doubles, so the
 *   quotient is the correctly rounded value of the decimal, which is what
 *   glibc's strtod returns (under the default rounding, which cxm never
 *   changes, and without -ffast-math). Anything else still goes to
 *   strtod.
 * - Strings: cJSON finds the closing quote, then copies byte by byte
 *   decoding escapes. Here the search runs to the next quote or backslash
 *   at a time, and a string without a backslash is one memcpy.
 *
 * Everything else (the whitespace cJSON skips: every byte <= 32; its UTF-8
 * BOM; its handling of \u escapes, a bad hex digit reading as 0; its
 * nesting limit; where it leaves the offset when it fails) is kept as it
 * is, so that what is accepted, what is built and the error position do
 * not change. */
#include "jparse.h"
#include <limits.h>
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const unsigned char *s;
  size_t len, off, depth;
  void *(*alloc)(size_t);
  int plain; /* so far, the text is what cx_json_write writes of its tree */
} jp;

#define AT(p, i) ((p)->off + (i) < (p)->len) /* cJSON's can_access_at_index */

static cJSON *new_item(jp *p) {
  cJSON *n = p->alloc(sizeof *n);
  if (n) memset(n, 0, sizeof *n);
  return n;
}

static inline void skip_ws(jp *p) {
  if (!AT(p, 0) || p->s[p->off] > 32) return; /* nothing to skip: the usual case */
  while (AT(p, 0) && p->s[p->off] <= 32) p->off++;
  p->plain = 0;
  if (p->off == p->len) p->off--;
}

/* The bytes of s[0..n) before its first quote, backslash or control
 * character: eight at a time where it can (each test below flags the
 * lowest matching byte exactly; a borrow can only flag bytes after it). */
static size_t plain_run(const unsigned char *s, size_t n) {
  size_t i = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  for (; i + 8 <= n; i += 8) {
    uint64_t w, q, b;
    memcpy(&w, s + i, 8);
    q = w ^ (ones * '"');
    b = w ^ (ones * '\\');
    uint64_t t = (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & highs;
    if (t) return i + ((size_t)__builtin_ctzll(t) >> 3);
  }
#endif
  while (i < n && s[i] != '"' && s[i] != '\\' && s[i] >= 0x20) i++;
  return i;
}

static unsigned hex4(const unsigned char *in) {
  unsigned h = 0;
  for (int i = 0; i < 4; i++) {
    unsigned char c = in[i];
    if (c >= '0' && c <= '9') h += (unsigned)(c - '0');
    else if (c >= 'A' && c <= 'F') h += 10u + (unsigned)(c - 'A');
    else if (c >= 'a' && c <= 'f') h += 10u + (unsigned)(c - 'a');
    else return 0; /* as cJSON: an invalid digit makes the code 0 */
    if (i < 3) h <<= 4;
  }
  return h;
}

/* One \uXXXX (or a surrogate pair) at in, the string ending at end, as
 * UTF-8 into *out: the sequence's length, 0 when it is refused. */
static unsigned utf16_to_utf8(const unsigned char *in, const unsigned char *end, unsigned char **out) {
  if (end - in < 6) return 0;
  unsigned first = hex4(in + 2), len;
  unsigned long cp;
  if (first >= 0xDC00 && first <= 0xDFFF) return 0;
  if (first >= 0xD800 && first <= 0xDBFF) {
    const unsigned char *second = in + 6;
    if (end - second < 6 || second[0] != '\\' || second[1] != 'u') return 0;
    unsigned low = hex4(second + 2);
    if (low < 0xDC00 || low > 0xDFFF) return 0;
    cp = 0x10000 + (((unsigned long)(first & 0x3FF) << 10) | (low & 0x3FF));
    len = 12;
  } else {
    cp = first;
    len = 6;
  }
  unsigned n;
  unsigned char mark = 0;
  if (cp < 0x80) n = 1;
  else if (cp < 0x800) n = 2, mark = 0xC0;
  else if (cp < 0x10000) n = 3, mark = 0xE0;
  else if (cp <= 0x10FFFF) n = 4, mark = 0xF0;
  else return 0;
  for (unsigned i = n - 1; i > 0; i--) {
    (*out)[i] = (unsigned char)((cp | 0x80) & 0xBF);
    cp >>= 6;
  }
  (*out)[0] = n > 1 ? (unsigned char)((cp | mark) & 0xFF) : (unsigned char)(cp & 0x7F);
  *out += n;
  return len;
}

/* The string at off into item (valuestring). On a refusal the offset is
 * where cJSON leaves it: just past the opening quote, or at the escape it
 * could not read. */
static int parse_string(jp *p, cJSON *item) {
  if (p->off >= p->len) { /* after a last ',' of an object: cJSON stops one on */
    p->off++;
    return 0;
  }
  const unsigned char *base = p->s, *start = base + p->off;
  const unsigned char *in = start + 1, *end = start + 1;
  if (*start != '"') goto fail;
  size_t skipped = 0;
  for (;;) {
    /* the run up to the next quote, backslash or control character (which
     * cJSON takes as it is, and cx_json_write escapes) */
    end += plain_run(end, p->len - (size_t)(end - base));
    if ((size_t)(end - base) < p->len && *end < 0x20) {
      p->plain = 0;
      end++;
      continue;
    }
    if ((size_t)(end - base) >= p->len || *end == '"') break;
    if ((size_t)(end + 1 - base) >= p->len) goto fail; /* a backslash last */
    skipped++;
    end += 2;
  }
  if ((size_t)(end - base) >= p->len || *end != '"') goto fail;
  if (skipped) p->plain = 0; /* cx_json_write would escape differently, or not at all */
  size_t cap = (size_t)(end - start) - skipped;
  unsigned char *out = p->alloc(cap + 1), *o = out;
  if (!out) goto fail;
  if (!skipped) {
    memcpy(o, in, (size_t)(end - in));
    o += end - in;
    in = end;
  }
  while (in < end) {
    if (*in != '\\') {
      *o++ = *in++;
      continue;
    }
    unsigned seq = 2;
    switch (in[1]) {
    case 'b': *o++ = '\b'; break;
    case 'f': *o++ = '\f'; break;
    case 'n': *o++ = '\n'; break;
    case 'r': *o++ = '\r'; break;
    case 't': *o++ = '\t'; break;
    case '"':
    case '\\':
    case '/': *o++ = in[1]; break;
    case 'u':
      if (!(seq = utf16_to_utf8(in, end, &o))) goto fail;
      break;
    default: goto fail;
    }
    in += seq;
  }
  *o = 0;
  item->type = cJSON_String;
  item->valuestring = (char *)out;
  p->off = (size_t)(end - base) + 1;
  return 1;
fail:
  p->off = (size_t)(in - base);
  return 0;
}

static const double pow10_exact[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/* b[0..n) as -?D+(.D+)? with at most 15 digits, into *d: 0 otherwise.
 * *same: 1 when cx_json_write writes d as b (lib/base/json.c): an integer
 * without leading zeros and not -0; or a decimal under 1e9, without
 * leading zeros, with 1 to 6 decimals, the last not 0 (two decimals of at
 * most 15 digits that read as the same double are the same number, so no
 * shorter one is found before it). */
static int plain_decimal(const unsigned char *b, size_t n, double *d, int *same) {
  size_t i = 0, digits = 0, frac = 0;
  int neg = 0, dot = 0;
  if (n > 17) return 0; /* "-" and 15 digits and "." at most */
  uint64_t m = 0;
  if (i < n && b[i] == '-') neg = 1, i++;
  size_t first = i;
  for (; i < n; i++) {
    if (b[i] >= '0' && b[i] <= '9') {
      m = m * 10 + (uint64_t)(b[i] - '0');
      digits++;
      frac += (size_t)dot;
    } else if (b[i] == '.' && !dot && i > first) {
      dot = 1;
    } else {
      return 0;
    }
  }
  if (!digits || digits > 15 || (dot && !frac)) return 0;
  double v = (double)m;
  if (frac) v /= pow10_exact[frac];
  *d = neg ? -v : v;
  size_t whole = digits - frac; /* digits before the point */
  *same = !(whole > 1 && b[first] == '0') &&
          (frac ? frac <= 6 && b[n - 1] != '0' && v < 1e9 : !(neg && m == 0));
  return 1;
}

/* As Debian's cJSON (its fix of CVE-2023-26819): the whole run of
 * [0-9+-eE.] is copied into a buffer taken from the hook (freed again by
 * cJSON; kept by an arena, so taken here too, for the same arena use). */
static int parse_number(jp *p, cJSON *item) {
  size_t n = 0;
  for (; AT(p, n); n++) {
    unsigned char c = p->s[p->off + n];
    if (!((c >= '0' && c <= '9') || c == '+' || c == '-' || c == 'e' || c == 'E' || c == '.')) break;
  }
  unsigned char *b = p->alloc(n + 1);
  if (!b) return 0;
  memcpy(b, p->s + p->off, n);
  b[n] = 0;
  double d;
  size_t used = n;
  int same = 0;
  if (!plain_decimal(b, n, &d, &same)) {
    /* as cJSON: '.' is the locale's decimal point for strtod (cxm never
     * sets a locale, so it is '.') */
    char dp = *localeconv()->decimal_point, *after;
    if (dp != '.')
      for (size_t i = 0; i < n; i++)
        if (b[i] == '.') b[i] = (unsigned char)dp;
    d = strtod((const char *)b, &after);
    if (after == (char *)b) return 0;
    used = (size_t)(after - (char *)b);
  }
  if (!same) p->plain = 0;
  item->valuedouble = d;
  item->valueint = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
  item->type = cJSON_Number;
  p->off += used;
  return 1;
}

static int parse_value(jp *p, cJSON *item);

/* An array or an object (open '[' or '{') into item, as cJSON's
 * parse_array and parse_object. */
static int parse_list(jp *p, cJSON *item, int obj) {
  cJSON *head = NULL, *cur = NULL;
  unsigned char close = obj ? '}' : ']';
  if (p->depth >= CJSON_NESTING_LIMIT) return 0;
  p->depth++;
  p->off++;
  skip_ws(p);
  if (AT(p, 0) && p->s[p->off] == close) goto done;
  if (!AT(p, 0)) {
    p->off--;
    return 0;
  }
  p->off--;
  do {
    cJSON *n = new_item(p);
    if (!n) return 0;
    if (!head) {
      head = cur = n;
    } else {
      cur->next = n;
      n->prev = cur;
      cur = n;
    }
    p->off++;
    skip_ws(p);
    if (obj) {
      if (!parse_string(p, cur)) return 0;
      skip_ws(p);
      cur->string = cur->valuestring;
      cur->valuestring = NULL;
      if (!AT(p, 0) || p->s[p->off] != ':') return 0;
      p->off++;
      skip_ws(p);
    }
    if (!parse_value(p, cur)) return 0;
    skip_ws(p);
  } while (AT(p, 0) && p->s[p->off] == ',');
  if (!AT(p, 0) || p->s[p->off] != close) return 0;
done:
  p->depth--;
  if (head) head->prev = cur;
  item->type = obj ? cJSON_Object : cJSON_Array;
  item->child = head;
  p->off++;
  return 1;
}

static int parse_value(jp *p, cJSON *item) {
  const unsigned char *c = p->s + p->off;
  if (p->off + 4 <= p->len && !memcmp(c, "null", 4)) {
    item->type = cJSON_NULL;
    p->off += 4;
    return 1;
  }
  if (p->off + 5 <= p->len && !memcmp(c, "false", 5)) {
    item->type = cJSON_False;
    p->off += 5;
    return 1;
  }
  if (p->off + 4 <= p->len && !memcmp(c, "true", 4)) {
    item->type = cJSON_True;
    item->valueint = 1;
    p->off += 4;
    return 1;
  }
  if (!AT(p, 0)) return 0;
  if (*c == '"') return parse_string(p, item);
  if (*c == '-' || (*c >= '0' && *c <= '9')) return parse_number(p, item);
  if (*c == '[') return parse_list(p, item, 0);
  if (*c == '{') return parse_list(p, item, 1);
  return 0;
}

cJSON *ingest_json_parse(const char *s, size_t len, const char **end, void *(*alloc)(size_t),
                         int *plain) {
  jp p = {(const unsigned char *)s, len, 0, 0, alloc, 1};
  cJSON *item = NULL;
  if (plain) *plain = 0;
  if (!s || !len || !(item = new_item(&p))) goto fail;
  if (len > 4 && !memcmp(s, "\xEF\xBB\xBF", 3)) p.off = 3, p.plain = 0; /* cJSON's skip_utf8_bom */
  skip_ws(&p);
  if (!parse_value(&p, item)) goto fail;
  if (end) *end = s + p.off;
  if (plain) *plain = p.plain && p.off == len;
  return item;
fail:
  /* what was allocated is not freed: the allocator is an arena (ingest's
   * batch), freed whole; cJSON's free of it would be a no-op there */
  if (s && end) *end = s + (p.off < p.len ? p.off : p.len ? p.len - 1 : 0);
  return NULL;
}
