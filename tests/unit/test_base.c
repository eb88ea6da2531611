/* test_base.c - unit tests of lib/base: time, UTF-8, bounded buffers, JSON
 * string escaping, allocation failure, integer parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../lib/base/buf.h"
#include "../../lib/base/mem.h"
#include "../../lib/base/time.h"
#include "../../lib/base/util.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* ---- time ---- */

#define T_2024_05_01_NOON 1714564800000LL /* 2024-05-01T12:00:00.000Z */
#define T_2024_05_01 1714521600000LL      /* 2024-05-01T00:00:00.000Z */
#define T_MIN (-30610224000000LL)         /* 1000-01-01T00:00:00.000Z */
#define T_MAX 253402300799999LL           /* 9999-12-31T23:59:59.999Z */

/* Parses s from an exactly sized heap copy, so that ASan sees any read
 * past n. Returns the rc; *ms keeps 777 when nothing was written. */
static cx_err parse_time(const char *s, int64_t *ms) {
  size_t n = strlen(s);
  char *copy = malloc(n ? n : 1);
  assert_non_null(copy);
  memcpy(copy, s, n);
  *ms = 777;
  cx_err rc = cx_time_parse(copy, n, ms);
  free(copy);
  return rc;
}

static int64_t time_ok(const char *s) {
  int64_t ms;
  cx_err rc = parse_time(s, &ms);
  if (rc) print_error("cx_time_parse rejected \"%s\"\n", s);
  assert_int_equal(rc, CX_OK);
  return ms;
}

static void time_bad(const char *s) {
  int64_t ms;
  cx_err rc = parse_time(s, &ms);
  if (rc != CX_EINVAL) print_error("cx_time_parse accepted \"%s\"\n", s);
  assert_int_equal(rc, CX_EINVAL);
  assert_true(ms == 777); /* output untouched on failure */
}

static int64_t T(const char *iso) {
  int64_t ms;
  assert_int_equal(cx_time_parse(iso, strlen(iso), &ms), CX_OK);
  return ms;
}

/* days from midnight, weeks from Monday, calendar months; before 1970 too */
static void test_time_intervals(void **state) {
  (void)state;
  assert_int_equal(cx_interval_floor(T("2026-11-23T19:10:00Z"), CX_DAY), T("2026-11-23"));
  assert_int_equal(cx_interval_floor(T("2026-11-23T00:00:00Z"), CX_WEEK), T("2026-11-23")); /* a Monday */
  assert_int_equal(cx_interval_floor(T("2026-11-29T23:59:59.999Z"), CX_WEEK), T("2026-11-23"));
  assert_int_equal(cx_interval_floor(T("2026-11-30T00:00:00Z"), CX_WEEK), T("2026-11-30"));
  assert_int_equal(cx_interval_floor(T("1969-12-31T23:00:00Z"), CX_DAY), T("1969-12-31"));
  assert_int_equal(cx_interval_floor(T("1969-12-31T23:00:00Z"), CX_WEEK), T("1969-12-29"));
  assert_int_equal(cx_interval_floor(T("1970-01-01T00:00:00Z"), CX_WEEK), T("1969-12-29"));
  assert_int_equal(cx_interval_floor(T("2024-02-29T12:00:00Z"), CX_MONTH), T("2024-02-01"));
  assert_int_equal(cx_interval_next(T("2024-02-01"), CX_MONTH), T("2024-03-01"));
  assert_int_equal(cx_interval_next(T("2026-12-01"), CX_MONTH), T("2027-01-01"));
  assert_int_equal(cx_interval_next(T("2026-11-23"), CX_WEEK), T("2026-11-30"));
  assert_int_equal(cx_interval_next(T("2026-11-23"), CX_DAY), T("2026-11-24"));
  cx_interval u;
  assert_int_equal(cx_interval_parse("week", &u), CX_OK);
  assert_int_equal(u, CX_WEEK);
  assert_string_equal(cx_interval_name(u), "week");
  assert_int_equal(cx_interval_parse("year", &u), CX_EINVAL);
  assert_int_equal(cx_interval_parse("", &u), CX_EINVAL);
}

static void test_time_parse_utc(void **state) {
  (void)state;
  assert_true(time_ok("1970-01-01T00:00:00Z") == 0);
  assert_true(time_ok("1970-01-01T00:00:00.001Z") == 1);
  assert_true(time_ok("2024-05-01T12:00:00.000Z") == T_2024_05_01_NOON);
  assert_true(time_ok("2024-05-01T12:00:00Z") == T_2024_05_01_NOON);
  assert_true(time_ok("2024-05-01T12:00Z") == T_2024_05_01_NOON); /* seconds optional */
  assert_true(time_ok("2024-05-01t12:00:00z") == T_2024_05_01_NOON);
  assert_true(time_ok("2024-05-01 12:00:00Z") == T_2024_05_01_NOON);
  assert_true(time_ok("1969-12-31T23:59:59.999Z") == -1);
  assert_true(time_ok("1000-01-01T00:00:00Z") == T_MIN);
  assert_true(time_ok("9999-12-31T23:59:59.999Z") == T_MAX);
}

static void test_time_parse_offsets(void **state) {
  (void)state;
  assert_true(time_ok("2024-05-01T14:00:00+02:00") == T_2024_05_01_NOON);
  assert_true(time_ok("2024-05-01T14:00:00+0200") == T_2024_05_01_NOON);
  assert_true(time_ok("2024-05-01T07:30:00-04:30") == T_2024_05_01_NOON);
  assert_true(time_ok("2024-05-01T12:00:00+00:00") == T_2024_05_01_NOON);
  assert_true(time_ok("2024-05-01T12:00:00-00:00") == T_2024_05_01_NOON);
  /* the offset moves the day and the year */
  assert_true(time_ok("2024-05-02T05:45:00+17:45") == T_2024_05_01_NOON);
  assert_true(time_ok("2024-01-01T00:30:00+01:00") == time_ok("2023-12-31T23:30:00Z"));
  assert_true(time_ok("2024-05-01T23:59:00+23:59") == T_2024_05_01);
  time_bad("2024-05-01T12:00:00+24:00");
  time_bad("2024-05-01T12:00:00+05:60");
  time_bad("2024-05-01T12:00:00+05");
  time_bad("2024-05-01T12:00:00+5:00");
  time_bad("2024-05-01T12:00:00+05:00:00");
  time_bad("2024-05-01T12:00:00 +05:00");
  time_bad("2024-05-01T12:00:00UTC");
}

static void test_time_parse_fractions(void **state) {
  (void)state;
  assert_true(time_ok("2024-05-01T12:00:00.5Z") == T_2024_05_01_NOON + 500);
  assert_true(time_ok("2024-05-01T12:00:00.05Z") == T_2024_05_01_NOON + 50);
  assert_true(time_ok("2024-05-01T12:00:00.123Z") == T_2024_05_01_NOON + 123);
  assert_true(time_ok("2024-05-01T12:00:00,25Z") == T_2024_05_01_NOON + 250);
  /* digits past the millisecond are dropped, not rounded */
  assert_true(time_ok("2024-05-01T12:00:00.1239Z") == T_2024_05_01_NOON + 123);
  assert_true(time_ok("2024-05-01T12:00:00.999999999Z") == T_2024_05_01_NOON + 999);
  assert_true(time_ok("2024-05-01T14:00:00.750+02:00") == T_2024_05_01_NOON + 750);
  time_bad("2024-05-01T12:00:00.Z");
  time_bad("2024-05-01T12:00:00.1234567890Z"); /* ten digits */
  time_bad("2024-05-01T12:00.5Z");            /* a fraction needs seconds */
  time_bad("2024-05-01T12:00:00.5x");
}

static void test_time_parse_date_only(void **state) {
  (void)state;
  assert_true(time_ok("2024-05-01") == T_2024_05_01);
  assert_true(time_ok("1970-01-01") == 0);
  /* n is respected: only the date of a longer string */
  int64_t ms = 0;
  assert_int_equal(cx_time_parse("2024-05-01T12:00:00Z", 10, &ms), CX_OK);
  assert_true(ms == T_2024_05_01);
  time_bad("2024-05-01T");
  time_bad("2024-05-01 ");
  time_bad("2024-5-01");
  time_bad("2024/05/01");
  time_bad("20240501");
  time_bad("");
  time_bad("2024");
  time_bad("0999-12-31"); /* years 1000..9999 */
  time_bad("+2024-05-01");
}

static void test_time_parse_invalid_dates(void **state) {
  (void)state;
  time_bad("2023-02-29");
  time_bad("2023-02-29T00:00:00Z");
  time_bad("2024-02-30");
  time_bad("2024-04-31T00:00:00Z");
  time_bad("2024-06-31");
  time_bad("2024-13-01");
  time_bad("2024-00-10");
  time_bad("2024-05-00");
  time_bad("2024-05-32");
  time_bad("2024-05-01T24:00:00Z");
  time_bad("2024-05-01T24:00Z");
  time_bad("2024-05-01T23:60:00Z");
  time_bad("2024-05-01T23:59:61Z");
  time_bad("2024-05-01T1:00:00Z");
  time_bad("2024-05-01T12:00:00Zjunk");
}

static void test_time_parse_missing_zone(void **state) {
  (void)state;
  time_bad("2024-05-01T12:00");
  time_bad("2024-05-01T12:00:00");
  time_bad("2024-05-01T12:00:00.123");
  time_bad("2024-05-01 12:00:00");
}

static void test_time_parse_leap_years(void **state) {
  (void)state;
  assert_true(time_ok("2024-02-29") == time_ok("2024-02-28") + 86400000);
  assert_true(time_ok("2024-03-01") == time_ok("2024-02-29") + 86400000);
  assert_true(time_ok("2000-02-29T00:00:00Z") == 951782400000LL);
  assert_true(time_ok("1600-02-29") == time_ok("1600-03-01") - 86400000);
  time_bad("1900-02-29");
  time_bad("2100-02-29");
  time_bad("2023-02-29");
  assert_true(time_ok("2023-03-01") == time_ok("2023-02-28") + 86400000);
  /* a leap second is clamped to :59 */
  assert_true(time_ok("2016-12-31T23:59:60Z") == time_ok("2016-12-31T23:59:59Z"));
}

static void format_is(int64_t ms, const char *want) {
  char out[CX_TIME_LEN];
  memset(out, 'x', sizeof out);
  cx_time_format(ms, out);
  assert_string_equal(out, want);
}

static void test_time_format(void **state) {
  (void)state;
  format_is(0, "1970-01-01T00:00:00.000Z");
  format_is(T_2024_05_01_NOON + 123, "2024-05-01T12:00:00.123Z");
  format_is(-1, "1969-12-31T23:59:59.999Z");
  format_is(-1000, "1969-12-31T23:59:59.000Z");
  format_is(-86400000, "1969-12-31T00:00:00.000Z");
  format_is(951782400000LL, "2000-02-29T00:00:00.000Z");
  format_is(T_MIN, "1000-01-01T00:00:00.000Z");
  format_is(T_MAX, "9999-12-31T23:59:59.999Z");
  /* round trip over the whole range, on a step that visits every field */
  for (int64_t ms = T_MIN; ms <= T_MAX; ms += 7919LL * 86400000 + 3723001) {
    char out[CX_TIME_LEN];
    cx_time_format(ms, out);
    assert_int_equal(strlen(out), 24);
    int64_t back = 0;
    assert_int_equal(cx_time_parse(out, strlen(out), &back), CX_OK);
    assert_true(back == ms);
  }
}

static void test_buf_json_time(void **state) {
  (void)state;
  cx_buf b;
  cx_buf_init(&b, 64);
  assert_int_equal(cx_buf_json_time(&b, CX_NO_TIME), CX_OK);
  assert_string_equal(b.p, "null");
  cx_buf_reset(&b);
  assert_int_equal(cx_buf_json_time(&b, 0), CX_OK);
  assert_string_equal(b.p, "\"1970-01-01T00:00:00.000Z\"");
  cx_buf_reset(&b);
  assert_int_equal(cx_buf_json_time(&b, -1), CX_OK); /* before 1970 is a time too */
  assert_string_equal(b.p, "\"1969-12-31T23:59:59.999Z\"");
  cx_buf_free(&b);
}

/* ---- UTF-8 ---- */

#define UTF8(lit) cx_utf8_valid(lit, sizeof lit - 1)

static void test_utf8_valid(void **state) {
  (void)state;
  assert_int_equal(cx_utf8_valid("", 0), 1);
  assert_int_equal(UTF8("plain ascii"), 1);
  assert_int_equal(UTF8("a\0b"), 1);                /* NUL is a character */
  assert_int_equal(UTF8("\xC2\x80"), 1);            /* U+0080 */
  assert_int_equal(UTF8("\xDF\xBF"), 1);            /* U+07FF */
  assert_int_equal(UTF8("\xE0\xA0\x80"), 1);        /* U+0800 */
  assert_int_equal(UTF8("\xE2\x82\xAC"), 1);        /* euro sign */
  assert_int_equal(UTF8("\xED\x9F\xBF"), 1);        /* U+D7FF, below the surrogates */
  assert_int_equal(UTF8("\xEE\x80\x80"), 1);        /* U+E000, above them */
  assert_int_equal(UTF8("\xEF\xBF\xBF"), 1);        /* U+FFFF */
  assert_int_equal(UTF8("\xF0\x90\x80\x80"), 1);    /* U+10000 */
  assert_int_equal(UTF8("\xF0\x9F\x98\x80"), 1);    /* emoji */
  assert_int_equal(UTF8("\xF4\x8F\xBF\xBF"), 1);    /* U+10FFFF */
  assert_int_equal(UTF8("Gr\xC3\xBC\xC3\x9F" "e"), 1);
}

static void test_utf8_overlongs(void **state) {
  (void)state;
  assert_int_equal(UTF8("\xC0\xAF"), 0);         /* '/' in two bytes */
  assert_int_equal(UTF8("\xC0\x80"), 0);         /* NUL in two bytes */
  assert_int_equal(UTF8("\xC1\xBF"), 0);
  assert_int_equal(UTF8("\xE0\x80\xAF"), 0);
  assert_int_equal(UTF8("\xE0\x9F\xBF"), 0);     /* U+07FF in three bytes */
  assert_int_equal(UTF8("\xF0\x80\x80\xAF"), 0);
  assert_int_equal(UTF8("\xF0\x8F\xBF\xBF"), 0); /* U+FFFF in four bytes */
}

static void test_utf8_surrogates_and_range(void **state) {
  (void)state;
  assert_int_equal(UTF8("\xED\xA0\x80"), 0); /* U+D800 */
  assert_int_equal(UTF8("\xED\xAD\xBF"), 0); /* U+DB7F */
  assert_int_equal(UTF8("\xED\xBF\xBF"), 0); /* U+DFFF */
  assert_int_equal(UTF8("\xED\xA0\xBD\xED\xB8\x80"), 0); /* CESU-8 pair */
  assert_int_equal(UTF8("\xF4\x90\x80\x80"), 0); /* U+110000 */
  assert_int_equal(UTF8("\xF5\x80\x80\x80"), 0);
  assert_int_equal(UTF8("\xF8\x88\x80\x80\x80"), 0);
  assert_int_equal(UTF8("\xFE"), 0);
  assert_int_equal(UTF8("\xFF"), 0);
}

static void test_utf8_truncated(void **state) {
  (void)state;
  assert_int_equal(UTF8("\x80"), 0); /* a lone continuation byte */
  assert_int_equal(UTF8("a\xBF"), 0);
  assert_int_equal(UTF8("\xC3"), 0);
  assert_int_equal(UTF8("\xE2\x82"), 0);
  assert_int_equal(UTF8("\xF0\x9F\x98"), 0);
  assert_int_equal(UTF8("\xC3" "b"), 0); /* the next byte is not a continuation */
  assert_int_equal(UTF8("\xE2\x82" "c"), 0);
  assert_int_equal(UTF8("ok\xF0\x9F\x98\x80\xF0\x9F"), 0);
  /* n is respected: a valid sequence cut by n is invalid */
  assert_int_equal(cx_utf8_valid("\xE2\x82\xAC", 2), 0);
  assert_int_equal(cx_utf8_valid("ab\xE2\x82\xAC", 2), 1);
}

/* ---- bounded buffers ---- */

static void test_buf_append_limit(void **state) {
  (void)state;
  cx_buf b;
  cx_buf_init(&b, 8);
  assert_int_equal(cx_buf_append(&b, "12345", 5), CX_OK);
  assert_int_equal(cx_buf_append(&b, "678", 3), CX_OK); /* exactly at the limit */
  assert_int_equal(b.len, 8);
  assert_string_equal(b.p, "12345678");
  char *before = b.p;
  assert_int_equal(cx_buf_append(&b, "9", 1), CX_ETOOBIG); /* one past */
  assert_int_equal(b.len, 8);
  assert_ptr_equal(b.p, before);
  assert_string_equal(b.p, "12345678");
  assert_int_equal(cx_buf_append(&b, "", 0), CX_OK); /* nothing at the limit is fine */
  assert_int_equal(cx_buf_puts(&b, "x"), CX_ETOOBIG);
  assert_int_equal(cx_buf_printf(&b, "%d", 1), CX_ETOOBIG);
  assert_int_equal(cx_buf_json_str(&b, "", 0), CX_ETOOBIG);
  assert_string_equal(b.p, "12345678");
  cx_buf_free(&b);
  assert_null(b.p);
  assert_int_equal(b.len, 0);

  /* one past on an empty buffer allocates nothing */
  cx_buf_init(&b, 8);
  assert_int_equal(cx_buf_append(&b, "123456789", 9), CX_ETOOBIG);
  assert_null(b.p);
  assert_int_equal(b.len, 0);
  assert_int_equal(cx_buf_reserve(&b, (size_t)-1), CX_ETOOBIG);
  assert_int_equal(cx_buf_reserve(&b, 8), CX_OK);
  assert_int_equal(cx_buf_reserve(&b, 9), CX_ETOOBIG);
  cx_buf_free(&b);
}

static void test_buf_printf_limit(void **state) {
  (void)state;
  cx_buf b;
  cx_buf_init(&b, 10);
  assert_int_equal(cx_buf_printf(&b, "%s-%d", "abc", 12345), CX_OK); /* 9 bytes */
  assert_int_equal(cx_buf_printf(&b, "%c", 'z'), CX_OK);             /* 10: at the limit */
  assert_string_equal(b.p, "abc-12345z");
  assert_int_equal(cx_buf_printf(&b, "%c", 'y'), CX_ETOOBIG);
  assert_string_equal(b.p, "abc-12345z");
  assert_int_equal(b.len, 10);
  cx_buf_free(&b);

  /* output longer than printf's 512-byte stack buffer */
  char big[1500];
  memset(big, 'q', sizeof big - 1);
  big[sizeof big - 1] = 0;
  cx_buf_init(&b, 1501);
  assert_int_equal(cx_buf_printf(&b, "<%s>", big), CX_OK); /* 1501: at the limit */
  assert_int_equal(b.len, 1501);
  assert_int_equal(b.p[0], '<');
  assert_int_equal(b.p[1500], '>');
  assert_int_equal(b.p[1501], 0);
  cx_buf_free(&b);
  cx_buf_init(&b, 1500);
  assert_int_equal(cx_buf_puts(&b, "k"), CX_OK);
  assert_int_equal(cx_buf_printf(&b, "<%s>", big), CX_ETOOBIG);
  assert_int_equal(b.len, 1);
  assert_string_equal(b.p, "k");
  cx_buf_free(&b);
}

static void test_buf_take_reset_i64(void **state) {
  (void)state;
  cx_buf b;
  cx_buf_init(&b, 100);
  assert_null(cx_buf_take(&b)); /* empty */
  assert_int_equal(cx_buf_printf(&b, "%lld", (long long)INT64_MIN), CX_OK);
  assert_int_equal(cx_buf_puts(&b, " "), CX_OK);
  assert_int_equal(cx_buf_printf(&b, "%lld", (long long)INT64_MAX), CX_OK);
  assert_int_equal(cx_buf_puts(&b, " "), CX_OK);
  assert_int_equal(cx_buf_printf(&b, "%d", -1), CX_OK);
  assert_int_equal(cx_buf_printf(&b, "%d", 0), CX_OK);
  assert_string_equal(b.p, "-9223372036854775808 9223372036854775807 -10");
  size_t cap = b.cap;
  cx_buf_reset(&b);
  assert_int_equal(b.len, 0);
  assert_string_equal(b.p, "");
  assert_int_equal(b.cap, cap);
  assert_int_equal(cx_buf_puts(&b, "mine"), CX_OK);
  char *p = cx_buf_take(&b);
  assert_string_equal(p, "mine");
  assert_null(b.p);
  assert_int_equal(b.len, 0);
  assert_int_equal(b.max, 100); /* the limit survives */
  cx_free(p);
  cx_buf_free(&b);
}

static void json_str_is(const char *s, size_t n, const char *want) {
  cx_buf b;
  cx_buf_init(&b, 1 << 16);
  assert_int_equal(cx_buf_json_str(&b, s, n), CX_OK);
  assert_string_equal(b.p, want);
  assert_int_equal(b.len, strlen(want));
  cx_buf_free(&b);
}

static void test_json_escaping(void **state) {
  (void)state;
  json_str_is("", 0, "\"\"");
  json_str_is("plain", 5, "\"plain\"");
  json_str_is("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
  json_str_is("\n\r\t", 3, "\"\\n\\r\\t\"");
  json_str_is("\x01\x08\x0c\x1f", 4, "\"\\u0001\\u0008\\u000c\\u001f\"");
  json_str_is("a\0b", 3, "\"a\\u0000b\"");
  json_str_is("</script>&", 10, "\"</script>&\""); /* pages escape for HTML, not JSON */
  json_str_is("\x7f", 1, "\"\x7f\"");                    /* DEL needs no escape */
  const char *utf8 = "Gr\xC3\xBC\xC3\x9F" "e \xF0\x9F\x98\x80";
  json_str_is(utf8, strlen(utf8), "\"Gr\xC3\xBC\xC3\x9F" "e \xF0\x9F\x98\x80\"");
  json_str_is("/", 1, "\"/\"");
  /* n is respected */
  json_str_is("abc", 2, "\"ab\"");

  /* appends after what is there, and cJSON reads it back */
  const char text[] = "tab\there \"quoted\" back\\slash <b>&amp;</b> \xE2\x82\xAC \x01";
  cx_buf b;
  cx_buf_init(&b, 4096);
  assert_int_equal(cx_buf_puts(&b, "{\"k\":"), CX_OK);
  assert_int_equal(cx_buf_json_str(&b, text, sizeof text - 1), CX_OK);
  assert_int_equal(cx_buf_puts(&b, "}"), CX_OK);
  cJSON *doc = cJSON_Parse(b.p);
  assert_non_null(doc);
  const cJSON *k = cJSON_GetObjectItemCaseSensitive(doc, "k");
  assert_true(cJSON_IsString(k));
  assert_string_equal(k->valuestring, text);
  cJSON_Delete(doc);
  cx_buf_free(&b);
}

static void test_json_str_limit(void **state) {
  (void)state;
  cx_buf b;
  cx_buf_init(&b, 4);
  assert_int_equal(cx_buf_json_str(&b, "ab", 2), CX_OK); /* "ab" with quotes: 4 */
  assert_string_equal(b.p, "\"ab\"");
  cx_buf_free(&b);
  cx_buf_init(&b, 3);
  assert_int_equal(cx_buf_json_str(&b, "ab", 2), CX_ETOOBIG);
  assert_int_equal(b.len, 0);
  cx_buf_free(&b);
  /* with an escape: "a\"" is 5 bytes */
  cx_buf_init(&b, 5);
  assert_int_equal(cx_buf_json_str(&b, "a\"", 2), CX_OK);
  assert_string_equal(b.p, "\"a\\\"\"");
  cx_buf_free(&b);
  /* one past through an escape: CX_ETOOBIG, and never past max (a partial
   * string may be left behind: docs/internals/base.md, callers discard) */
  cx_buf_init(&b, 4);
  assert_int_equal(cx_buf_json_str(&b, "a\"", 2), CX_ETOOBIG);
  assert_true(b.len <= b.max);
  cx_buf_free(&b);
  cx_buf_init(&b, 8);
  assert_int_equal(cx_buf_puts(&b, "[1,"), CX_OK);
  assert_int_equal(cx_buf_json_str(&b, "ab\x01", 3), CX_ETOOBIG); /* 3 + 10 > 8 */
  assert_true(b.len <= b.max);
  assert_memory_equal(b.p, "[1,", 3); /* what was there before is kept */
  cx_buf_free(&b);
}

/* ---- allocation failure ---- */

static void test_mem_fail_after(void **state) {
  (void)state;
  cx_mem_fail_after(2);
  void *a = cx_malloc(10), *b = cx_calloc(2, 8), *c = cx_malloc(1);
  cx_mem_fail_after(-1);
  assert_non_null(a);
  assert_non_null(b);
  assert_null(c);
  cx_free(a);
  cx_free(b);
  cx_mem_fail_after(0);
  assert_null(cx_realloc(NULL, 16));
  assert_null(cx_calloc(1, 1));
  cx_mem_fail_after(-1);
  cx_free(NULL);
}

static void test_buf_enomem(void **state) {
  (void)state;
  cx_buf b;
  cx_buf_init(&b, 1 << 20);
  /* the first allocation fails: CX_ENOMEM and still an empty buffer */
  cx_mem_fail_after(0);
  assert_int_equal(cx_buf_append(&b, "abc", 3), CX_ENOMEM);
  assert_int_equal(cx_buf_json_str(&b, "abc", 3), CX_ENOMEM);
  assert_int_equal(cx_buf_printf(&b, "%d", 42), CX_ENOMEM);
  cx_mem_fail_after(-1);
  assert_null(b.p);
  assert_int_equal(b.len, 0);
  /* growth fails: the content is kept */
  assert_int_equal(cx_buf_append(&b, "abc", 3), CX_OK);
  size_t cap = b.cap;
  char big[2000];
  memset(big, 'x', sizeof big);
  cx_mem_fail_after(0);
  assert_int_equal(cx_buf_append(&b, big, sizeof big), CX_ENOMEM);
  assert_int_equal(cx_buf_printf(&b, "%.*s", (int)sizeof big, big), CX_ENOMEM);
  assert_int_equal(cx_buf_json_str(&b, big, sizeof big), CX_ENOMEM);
  cx_mem_fail_after(-1);
  assert_int_equal(b.len, 3);
  assert_int_equal(b.cap, cap);
  assert_string_equal(b.p, "abc");
  /* and works again once memory is back */
  assert_int_equal(cx_buf_append(&b, big, sizeof big), CX_OK);
  assert_int_equal(b.len, 3 + sizeof big);
  cx_buf_free(&b); /* ASan's leak check at exit sees anything lost above */
}

/* ---- integers ---- */

static cx_err i64(const char *s, int64_t *out) {
  *out = 777;
  return cx_parse_i64(s, strlen(s), out);
}

static void test_parse_i64(void **state) {
  (void)state;
  int64_t v;
  assert_int_equal(i64("0", &v), CX_OK);
  assert_true(v == 0);
  assert_int_equal(i64("-0", &v), CX_OK);
  assert_true(v == 0);
  assert_int_equal(i64("42", &v), CX_OK);
  assert_true(v == 42);
  assert_int_equal(i64("-42", &v), CX_OK);
  assert_true(v == -42);
  assert_int_equal(i64("007", &v), CX_OK);
  assert_true(v == 7);
  assert_int_equal(i64("1714564800123", &v), CX_OK); /* a timestamp cursor */
  assert_true(v == 1714564800123LL);
  assert_int_equal(i64("999999999999999999", &v), CX_OK);
  assert_true(v == 999999999999999999LL);
  static const char *const bad[] = {"", "-", "+1", " 1", "1 ", "1a", "0x10", "1.0", "1e3", "--1",
                                    "99999999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (i64(bad[i], &v) != CX_EINVAL) print_error("cx_parse_i64 accepted \"%s\"\n", bad[i]);
    assert_int_equal(i64(bad[i], &v), CX_EINVAL);
    assert_true(v == 777);
  }
  /* n is respected */
  assert_int_equal(cx_parse_i64("12x", 2, &v), CX_OK);
  assert_true(v == 12);
}

static void test_parse_i64_length_limit(void **state) {
  (void)state;
  /* at most 18 characters, so that it cannot overflow (docs/internals/base.md) */
  int64_t v;
  assert_int_equal(i64("999999999999999999", &v), CX_OK);
  assert_true(v == 999999999999999999LL);
  assert_int_equal(i64("-99999999999999999", &v), CX_OK);
  assert_true(v == -99999999999999999LL);
  assert_int_equal(i64("1000000000000000000", &v), CX_EINVAL);
  assert_int_equal(i64("-999999999999999999", &v), CX_EINVAL);
  assert_int_equal(i64("000000000000000001", &v), CX_OK);
  assert_true(v == 1);
  assert_int_equal(i64("9223372036854775807", &v), CX_EINVAL);
  assert_true(v == 777);
}

static void test_misc_util(void **state) {
  (void)state;
  char u[37];
  cx_uuid4(u);
  assert_int_equal(strlen(u), 36);
  assert_int_equal(u[8], '-');
  assert_int_equal(u[14], '4'); /* version 4 */
  assert_true(strchr("89ab", u[19]) != NULL);
  char u2[37];
  cx_uuid4(u2);
  assert_string_not_equal(u, u2);
  assert_true(cx_hash64(1, "abc", 3) != cx_hash64(2, "abc", 3));
  assert_true(cx_hash64(1, "abc", 3) == cx_hash64(1, "abcd", 3));
  assert_true(cx_hash64(0, "", 0) != 0);
  char h1[65], h2[65];
  cx_secret_hash("wk_1", 4, h1);
  cx_secret_hash("wk_2", 4, h2);
  assert_int_equal(strlen(h1), 64);
  assert_string_not_equal(h1, h2);
  assert_int_equal(cx_ct_equal(h1, h1, 64), 1);
  assert_int_equal(cx_ct_equal(h1, h2, 64), 0);
  char key[40];
  cx_secret("wk_", key, sizeof key);
  assert_int_equal(strlen(key), 35);
  assert_memory_equal(key, "wk_", 3);
}

/* An argument runs only the tests whose names match it (cmocka's filter). */
int main(int argc, char **argv) {
  if (argc > 1) cmocka_set_test_filter(argv[1]);
  if (cx_crypto_init()) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_time_intervals),
      cmocka_unit_test(test_time_parse_utc),
      cmocka_unit_test(test_time_parse_offsets),
      cmocka_unit_test(test_time_parse_fractions),
      cmocka_unit_test(test_time_parse_date_only),
      cmocka_unit_test(test_time_parse_invalid_dates),
      cmocka_unit_test(test_time_parse_missing_zone),
      cmocka_unit_test(test_time_parse_leap_years),
      cmocka_unit_test(test_time_format),
      cmocka_unit_test(test_buf_json_time),
      cmocka_unit_test(test_utf8_valid),
      cmocka_unit_test(test_utf8_overlongs),
      cmocka_unit_test(test_utf8_surrogates_and_range),
      cmocka_unit_test(test_utf8_truncated),
      cmocka_unit_test(test_buf_append_limit),
      cmocka_unit_test(test_buf_printf_limit),
      cmocka_unit_test(test_buf_take_reset_i64),
      cmocka_unit_test(test_json_escaping),
      cmocka_unit_test(test_json_str_limit),
      cmocka_unit_test(test_mem_fail_after),
      cmocka_unit_test(test_buf_enomem),
      cmocka_unit_test(test_parse_i64),
      cmocka_unit_test(test_parse_i64_length_limit),
      cmocka_unit_test(test_misc_util),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
