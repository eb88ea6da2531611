/* time.h - wall-clock time as UTC milliseconds since the Unix epoch. */
#ifndef CX_TIME_H
#define CX_TIME_H
#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define CX_TIME_LEN 32 /* room for "YYYY-MM-DDTHH:MM:SS.mmmZ" and NUL */
#define CX_NO_TIME INT64_MIN /* "no time": printed as null */
#define CX_TIME_MIN (-30610224000000LL) /* 1000-01-01T00:00:00.000Z */
#define CX_TIME_MAX (253402300799999LL) /* 9999-12-31T23:59:59.999Z */

int64_t cx_now_ms(void);
/* Monotonic clock in nanoseconds, for measuring durations. */
int64_t cx_mono_ns(void);
/* Parses an ISO-8601 / RFC 3339 date-time from s[0..n): YYYY-MM-DD, then
 * optionally [T or space]HH:MM[:SS[.fraction]] and Z or ±HH[:]MM. Years
 * 1000..9999. A date alone means midnight UTC. CX_EINVAL if malformed. */
cx_err cx_time_parse(const char *s, size_t n, int64_t *out_ms);
/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (CX_TIME_LEN bytes). */
void cx_time_format(int64_t ms, char out[CX_TIME_LEN]);

/* Calendar intervals in UTC: days from midnight, weeks from Monday,
 * calendar months (what analytics buckets by). */
typedef enum { CX_DAY = 1, CX_WEEK, CX_MONTH } cx_interval;
/* "day" | "week" | "month"; CX_EINVAL otherwise. */
cx_err cx_interval_parse(const char *s, cx_interval *out);
const char *cx_interval_name(cx_interval u);
/* Start of the interval holding ms. */
int64_t cx_interval_floor(int64_t ms, cx_interval u);
/* Start of the interval after the one that starts at start. */
int64_t cx_interval_next(int64_t start, cx_interval u);

#endif
