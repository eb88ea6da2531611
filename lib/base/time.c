#include "time.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t cx_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cx_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t yy = (int64_t)yoe + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int)(yy + (*m <= 2));
}

static int digits(const char *s, size_t n, size_t at, size_t count, int *out) {
  if (at + count > n) return 0;
  int v = 0;
  for (size_t i = 0; i < count; i++) {
    char c = s[at + i];
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return 1;
}

cx_err cx_time_parse(const char *s, size_t n, int64_t *out_ms) {
  int y, mo, d, h = 0, mi = 0, se = 0;
  size_t i = 0;
  if (!digits(s, n, 0, 4, &y) || n < 10 || s[4] != '-' || !digits(s, n, 5, 2, &mo) ||
      s[7] != '-' || !digits(s, n, 8, 2, &d))
    return CX_EINVAL;
  i = 10;
  int64_t ms = 0, offset_min = 0;
  if (i < n) {
    if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return CX_EINVAL;
    i++;
    if (!digits(s, n, i, 2, &h) || i + 2 >= n || s[i + 2] != ':' || !digits(s, n, i + 3, 2, &mi))
      return CX_EINVAL;
    i += 5;
    if (i < n && s[i] == ':') {
      if (!digits(s, n, i + 1, 2, &se)) return CX_EINVAL;
      i += 3;
      if (i < n && (s[i] == '.' || s[i] == ',')) {
        i++;
        size_t start = i;
        int scale = 100;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
          ms += (s[i] - '0') * scale;
          scale /= 10;
          i++;
        }
        if (i == start || i - start > 9) return CX_EINVAL;
      }
    }
    if (i >= n) return CX_EINVAL; /* a time needs a zone: Z or an offset */
    if (s[i] == 'Z' || s[i] == 'z') {
      i++;
    } else if (s[i] == '+' || s[i] == '-') {
      int sign = s[i] == '-' ? -1 : 1, oh, om;
      i++;
      if (!digits(s, n, i, 2, &oh)) return CX_EINVAL;
      i += 2;
      if (i < n && s[i] == ':') i++;
      if (!digits(s, n, i, 2, &om)) return CX_EINVAL;
      i += 2;
      if (oh > 23 || om > 59) return CX_EINVAL;
      offset_min = sign * (oh * 60 + om);
    } else {
      return CX_EINVAL;
    }
    if (i != n) return CX_EINVAL;
  }
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1000 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
    return CX_EINVAL;
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo == 2 && d == 29 && !leap) return CX_EINVAL;
  if (se == 60) se = 59; /* leap second: clamp */
  int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
  *out_ms = ((days * 86400 + h * 3600 + mi * 60 + se) - offset_min * 60) * 1000 + ms;
  return CX_OK;
}

void cx_time_format(int64_t ms, char out[CX_TIME_LEN]) {
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int milli = (int)(ms - secs * 1000);
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t rem = secs - days * 86400;
  int y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  /* by hand: snprintf here showed up in the ingest profile */
  if (y < 0) y = 0;
  if (y > 9999) y = 9999;
  int hh = (int)(rem / 3600), mm = (int)(rem % 3600 / 60), ss = (int)(rem % 60);
  char *o = out;
  o[0] = (char)('0' + y / 1000); o[1] = (char)('0' + y / 100 % 10);
  o[2] = (char)('0' + y / 10 % 10); o[3] = (char)('0' + y % 10); o[4] = '-';
  o[5] = (char)('0' + m / 10); o[6] = (char)('0' + m % 10); o[7] = '-';
  o[8] = (char)('0' + d / 10); o[9] = (char)('0' + d % 10); o[10] = 'T';
  o[11] = (char)('0' + hh / 10); o[12] = (char)('0' + hh % 10); o[13] = ':';
  o[14] = (char)('0' + mm / 10); o[15] = (char)('0' + mm % 10); o[16] = ':';
  o[17] = (char)('0' + ss / 10); o[18] = (char)('0' + ss % 10); o[19] = '.';
  o[20] = (char)('0' + milli / 100); o[21] = (char)('0' + milli / 10 % 10);
  o[22] = (char)('0' + milli % 10); o[23] = 'Z'; o[24] = 0;
}

#define DAY_MS 86400000LL

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

cx_err cx_interval_parse(const char *s, cx_interval *out) {
  if (!strcmp(s, "day")) *out = CX_DAY;
  else if (!strcmp(s, "week")) *out = CX_WEEK;
  else if (!strcmp(s, "month")) *out = CX_MONTH;
  else return CX_EINVAL;
  return CX_OK;
}

const char *cx_interval_name(cx_interval u) {
  return u == CX_WEEK ? "week" : u == CX_MONTH ? "month" : "day";
}

int64_t cx_interval_floor(int64_t ms, cx_interval u) {
  int64_t days = floor_div(ms, DAY_MS);
  if (u == CX_WEEK) days -= ((days + 3) % 7 + 7) % 7; /* days since Monday; 1970-01-01 was a Thursday */
  if (u == CX_MONTH) {
    int y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    days = days_from_civil(y, m, 1);
  }
  return days * DAY_MS;
}

int64_t cx_interval_next(int64_t start, cx_interval u) {
  if (u == CX_DAY) return start + DAY_MS;
  if (u == CX_WEEK) return start + 7 * DAY_MS;
  int y;
  unsigned m, d;
  civil_from_days(floor_div(start, DAY_MS), &y, &m, &d);
  return days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * DAY_MS;
}
