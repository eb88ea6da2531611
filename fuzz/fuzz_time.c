/* fuzz_time.c - libFuzzer driver for cx_time_parse / cx_time_format.
 *
 * Two oracles:
 *  - a reference parser written here from the grammar in time.h, which
 *    leaves the calendar to the C library (timegm, and gmtime_r to reject
 *    dates that timegm would silently normalise, such as 2023-02-29): the
 *    two must accept the same inputs and agree on the milliseconds;
 *  - the round trip: for a result in years 1000..9999, cx_time_format gives
 *    24 characters that cx_time_parse reads back to the same milliseconds;
 *  - the interval helpers on that time: floor(t) <= t < next(floor(t)),
 *    floor is idempotent, days start at midnight, weeks on a Monday (by
 *    gmtime_r), months on the 1st, and the next interval is 1, 7 or 28..31
 *    days later. */
#include "../lib/base/time.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_MS (-30610224000000LL) /* 1000-01-01T00:00:00.000Z */
#define MAX_MS 253402300799999LL   /* 9999-12-31T23:59:59.999Z */

static void check(int ok, const char *what, const uint8_t *data, size_t size) {
  if (!ok) {
    fprintf(stderr, "fuzz_time: %s for \"%.*s\"\n", what, (int)size, (const char *)data);
    abort();
  }
}

static int num(const char *s, size_t n, size_t at, size_t count, int *out) {
  if (at > n || count > n - at) return 0;
  int v = 0;
  for (size_t i = 0; i < count; i++) {
    if (s[at + i] < '0' || s[at + i] > '9') return 0;
    v = v * 10 + (s[at + i] - '0');
  }
  *out = v;
  return 1;
}

/* date [sep time [:ss [.frac]] zone] */
static int ref_parse(const char *s, size_t n, int64_t *out) {
  int y, mo, d, h = 0, mi = 0, se = 0, frac_ms = 0, off = 0;
  if (!num(s, n, 0, 4, &y) || n < 10 || s[4] != '-' || !num(s, n, 5, 2, &mo) || s[7] != '-' ||
      !num(s, n, 8, 2, &d))
    return 0;
  size_t i = 10;
  if (i < n) {
    if (!strchr("Tt ", s[i]) || s[i] == 0) return 0;
    i++;
    if (!num(s, n, i, 2, &h) || i + 2 >= n || s[i + 2] != ':' || !num(s, n, i + 3, 2, &mi)) return 0;
    i += 5;
    if (i < n && s[i] == ':') {
      if (!num(s, n, i + 1, 2, &se)) return 0;
      i += 3;
      if (i < n && (s[i] == '.' || s[i] == ',')) {
        size_t start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        size_t digits = i - start;
        if (digits < 1 || digits > 9) return 0;
        char ms3[4] = "000";
        memcpy(ms3, s + start, digits < 3 ? digits : 3);
        frac_ms = (ms3[0] - '0') * 100 + (ms3[1] - '0') * 10 + (ms3[2] - '0');
      }
    }
    if (i == n) return 0; /* a time without a zone */
    if (s[i] == 'Z' || s[i] == 'z') {
      i++;
    } else if (s[i] == '+' || s[i] == '-') {
      int neg = s[i] == '-', oh, om;
      i++;
      if (!num(s, n, i, 2, &oh)) return 0;
      i += 2;
      if (i < n && s[i] == ':') i++;
      if (!num(s, n, i, 2, &om)) return 0;
      i += 2;
      if (oh > 23 || om > 59) return 0;
      off = (neg ? -1 : 1) * (oh * 60 + om);
    } else {
      return 0;
    }
    if (i != n) return 0;
  }
  if (y < 1000 || h > 23 || mi > 59 || se > 60) return 0;
  if (se == 60) se = 59; /* the documented clamp of a leap second */
  struct tm tm = {0};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return 0;
  time_t t = timegm(&tm);
  struct tm back;
  if (!gmtime_r(&t, &back) || back.tm_year != y - 1900 || back.tm_mon != mo - 1 ||
      back.tm_mday != d)
    return 0; /* not a real calendar date */
  *out = ((int64_t)t - (int64_t)off * 60) * 1000 + frac_ms;
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  int64_t ms = 0, ref = 0;
  cx_err rc = cx_time_parse(s, size, &ms);
  int ref_ok = ref_parse(s, size, &ref);
  check(rc == CX_OK || rc == CX_EINVAL, "rc is OK or EINVAL", data, size);
  check((rc == CX_OK) == ref_ok, rc ? "rejected what the reference accepts" : "accepted what the reference rejects",
        data, size);
  if (rc != CX_OK) return 0;
  check(ms == ref, "value differs from the reference", data, size);

  char out[CX_TIME_LEN];
  cx_time_format(ms, out);
  check(memchr(out, 0, sizeof out) != NULL, "format terminates", data, size);
  /* an offset can move a time out of years 1000..9999, which time.h does
   * not promise to format */
  if (ms < MIN_MS || ms > MAX_MS) return 0;
  check(strlen(out) == 24 && out[23] == 'Z' && out[10] == 'T', "format shape", data, size);
  int64_t again = -1;
  check(cx_time_parse(out, strlen(out), &again) == CX_OK, "formatted time parses", data, size);
  check(again == ms, "round trip keeps the milliseconds", data, size);
  char out2[CX_TIME_LEN];
  cx_time_format(again, out2);
  check(!strcmp(out, out2), "format is stable", data, size);

  static const cx_interval units[] = {CX_DAY, CX_WEEK, CX_MONTH};
  for (size_t u = 0; u < 3; u++) {
    int64_t f = cx_interval_floor(ms, units[u]), nx = cx_interval_next(f, units[u]);
    check(f <= ms && ms < nx, "floor <= t < next", data, size);
    check(cx_interval_floor(f, units[u]) == f, "floor is idempotent", data, size);
    check(cx_interval_floor(nx, units[u]) == nx, "next starts an interval", data, size);
    int64_t days = (nx - f) / 86400000;
    check((nx - f) % 86400000 == 0 && (units[u] == CX_DAY ? days == 1 : units[u] == CX_WEEK ? days == 7
                                                                           : days >= 28 && days <= 31),
          "interval length", data, size);
    time_t secs = (time_t)(f / 1000);
    struct tm tm;
    check(f % 1000 == 0 && gmtime_r(&secs, &tm) && !tm.tm_hour && !tm.tm_min && !tm.tm_sec,
          "intervals start at midnight", data, size);
    if (units[u] == CX_WEEK) check(tm.tm_wday == 1, "weeks start on Monday", data, size);
    if (units[u] == CX_MONTH) check(tm.tm_mday == 1, "months start on the 1st", data, size);
  }
  return 0;
}
