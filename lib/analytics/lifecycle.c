/* lifecycle.c - customers per lifecycle stage now and, over a period, how
 * they moved (docs/analytics.md): the stage rules (profile's stage.c)
 * evaluated for every root customer at the instants that matter — now,
 * the start of the period, each event in it and each interval's end — in
 * parallel. A stage can change only at an event or with the passing of
 * time (at_risk, churned); the second is seen at the next event or
 * interval end, so a transition's time is exact to the event and within
 * an interval otherwise. */
#include "analytics_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define MAX_STAGES 32 /* stage indexes, "(new)" included; 6 bits in the packing */
_Static_assert(PROFILE_MAX_STAGES < MAX_STAGES, "room for (new)");
#define MAX_INTERVALS 100
#define NEW (MAX_STAGES - 1) /* "(new)": no event yet at the start of the period */
#define MS_BITS 48

typedef struct {
  uint64_t now[MAX_STAGES];
  uint64_t *series;                          /* [interval][stage] */
  uint64_t flows[MAX_STAGES][MAX_STAGES]; /* stage at from (or NEW) -> stage at to */
  uint64_t *dur;                              /* (kind << 56 | a << 52 | b << 48 | ms) */
  size_t ndur, capdur;
  cx_err rc;
  profile_name_cache cache;
} part;

typedef struct {
  const analytics_ctx *c;
  size_t nstages;
  int period;          /* from/to given */
  int64_t from, to;    /* to is capped at now */
  int64_t *ends;       /* interval ends, capped at to: [0..nint) */
  int64_t *starts;
  size_t nint;
  part parts[ANALYTICS_THREADS];
} lifecycle;

static cx_err push(part *pt, uint64_t v) { return an_push(&pt->dur, &pt->ndur, &pt->capdur, v); }

/* kind 1: a transition a -> b, ms spent in a (entry seen); kind 2: a stay
 * in a that began and ended in the period */
static uint64_t pack(uint64_t kind, uint64_t a, uint64_t b, int64_t ms) {
  uint64_t m = ms < 0 ? 0 : (uint64_t)ms;
  if (m >= 1ULL << MS_BITS) m = (1ULL << MS_BITS) - 1;
  return kind << 60 | a << 54 | b << 48 | m;
}

static void scan(void *arg, int which, int64_t lo, int64_t hi) {
  lifecycle *l = arg;
  part *pt = &l->parts[which];
  const profile *pr = l->c->pr;
  int64_t now = l->c->now_ms;
  for (int64_t id = lo; id < hi && !pt->rc; id++) {
    if (profile_root_of(pr, id) != id) continue;
    pt->now[profile_stage_of(pr, id, now, &pt->cache)]++;
    if (!l->period) continue;
    size_t n;
    const profile_point *tl = profile_points(pr, id, &n);
    if (!n || tl[0].ts >= l->to) continue; /* not a customer yet by the end */
    size_t first = tl[0].ts <= l->from ? profile_stage_of(pr, id, l->from, &pt->cache) : NEW;
    size_t cur = first;
    int64_t since = INT64_MIN; /* when cur began, when seen */
    size_t e = an_first_at(tl, n, l->from + 1), k = 0;
    /* the instants in order: events in (from, to) and interval ends */
    for (;;) {
      int64_t te = e < n && tl[e].ts < l->to ? tl[e].ts : INT64_MAX;
      int64_t ti = k < l->nint ? l->ends[k] : INT64_MAX;
      if (te == INT64_MAX && ti == INT64_MAX) break;
      int64_t t = te < ti ? te : ti;
      size_t s = cur;
      if (tl[0].ts <= t) s = profile_stage_of(pr, id, t, &pt->cache);
      if (s != cur && tl[0].ts <= t) {
        if (cur != NEW) {
          if ((pt->rc = push(pt, pack(1, cur, s, since == INT64_MIN ? -1 : t - since)))) return;
          if (since != INT64_MIN && (pt->rc = push(pt, pack(2, cur, 0, t - since)))) return;
        } else if ((pt->rc = push(pt, pack(1, NEW, s, -1)))) {
          return;
        }
        cur = s;
        since = t;
      }
      if (t == ti) {
        if (tl[0].ts <= t) pt->series[k * MAX_STAGES + cur]++;
        k++;
      }
      if (t == te) {
        while (e < n && tl[e].ts == t) e++; /* one instant per millisecond */
      }
    }
    size_t last = tl[0].ts <= l->to - 1 ? profile_stage_of(pr, id, l->to - 1, &pt->cache) : cur;
    pt->flows[first][last]++;
  }
}

static int u64cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* The median of the sorted d[i..j) (masked): the two middles averaged. */
static double mid(const uint64_t *d, size_t i, size_t j, uint64_t mask) {
  size_t n = j - i, m = i + (n - 1) / 2;
  return n % 2 ? (double)(d[m] & mask) : ((double)(d[m] & mask) + (double)(d[m + 1] & mask)) / 2;
}

static const char *stage_name(const char *const *names, size_t s) {
  return s == NEW ? "(new)" : names[s];
}

cx_err analytics_lifecycle(const analytics_ctx *c, const cJSON *req, cx_buf *out,
                           analytics_error *err) {
  int64_t started = cx_mono_ns();
  /* the stage names, copied in the scan's read section (the model may
   * change between answers, not within one) */
  char name_buf[MAX_STAGES][PROFILE_STAGE_NAME_MAX + 1];
  const char *names[MAX_STAGES];
  size_t ns = 0;
  lifecycle *l = cx_calloc(1, sizeof *l);
  if (!l) return CX_ENOMEM;
  l->c = c;
  cx_err rc = CX_OK;
  cx_interval iv = CX_WEEK;
  if (req && cJSON_GetObjectItemCaseSensitive(req, "from")) {
    const char *ivs = NULL;
    l->period = 1;
    l->to = c->now_ms;
    if ((rc = an_get_time(req, "from", &l->from, err)) ||
        (cJSON_GetObjectItemCaseSensitive(req, "to") && (rc = an_get_time(req, "to", &l->to, err))) ||
        (rc = an_get_string(req, "interval", 0, &ivs, err)))
      goto out;
    if (ivs && cx_interval_parse(ivs, &iv)) {
      rc = an_fail(err, "invalid_field", "interval", "interval must be day, week or month.");
      goto out;
    }
    if (l->to > c->now_ms) l->to = c->now_ms;
    l->from = cx_interval_floor(l->from, iv);
    if (l->to <= l->from) {
      rc = an_fail(err, "invalid_field", "to", "to must be after from (and from before now).");
      goto out;
    }
    l->ends = cx_malloc(MAX_INTERVALS * sizeof *l->ends);
    l->starts = cx_malloc(MAX_INTERVALS * sizeof *l->starts);
    if (!l->ends || !l->starts) {
      rc = CX_ENOMEM;
      goto out;
    }
    for (int64_t t = l->from; t < l->to; t = cx_interval_next(t, iv)) {
      if (l->nint == MAX_INTERVALS) {
        rc = an_fail(err, "invalid_field", "to", "from..to spans more than %d %ss; choose a longer interval.",
                     MAX_INTERVALS, cx_interval_name(iv));
        goto out;
      }
      int64_t end = cx_interval_next(t, iv);
      l->starts[l->nint] = t;
      l->ends[l->nint++] = (end < l->to ? end : l->to) - 1; /* the interval's last millisecond */
    }
  }
  for (size_t t = 0; t < ANALYTICS_THREADS; t++)
    if (l->period && !(l->parts[t].series = cx_calloc(l->nint * MAX_STAGES, sizeof(uint64_t)))) rc = CX_ENOMEM;
  if (rc) goto out;
  profile_read_begin(c->pr);
  const char *const *model_names;
  ns = profile_stage_names(c->pr, &model_names);
  for (size_t i = 0; i < ns && i < PROFILE_MAX_STAGES; i++) {
    snprintf(name_buf[i], sizeof name_buf[i], "%s", model_names[i]);
    names[i] = name_buf[i];
  }
  l->nstages = ns;
  an_parallel(ANALYTICS_THREADS, profile_max_id(c->pr), scan, l);
  profile_read_end(c->pr);
  for (size_t t = 0; t < ANALYTICS_THREADS; t++)
    if (l->parts[t].rc) rc = l->parts[t].rc;
  if (rc) goto out;

  uint64_t total = 0, now[MAX_STAGES] = {0};
  for (size_t s = 0; s < ns; s++)
    for (size_t t = 0; t < ANALYTICS_THREADS; t++) now[s] += l->parts[t].now[s];
  rc = cx_buf_puts(out, "{\"stages\":[");
  for (size_t s = 0; !rc && s < ns; s++) {
    total += now[s];
    rc = cx_buf_puts(out, s ? ",{\"name\":" : "{\"name\":");
    if (!rc) rc = cx_buf_json_str(out, names[s], strlen(names[s]));
    if (!rc) rc = cx_buf_printf(out, ",\"customers\":%llu}", (unsigned long long)now[s]);
  }
  if (!rc) rc = cx_buf_printf(out, "],\"customers\":%llu,\"as_of\":", (unsigned long long)total);
  if (!rc) rc = cx_buf_json_time(out, c->now_ms);
  if (!rc && l->period) {
    rc = cx_buf_puts(out, ",\"from\":");
    if (!rc) rc = cx_buf_json_time(out, l->from);
    if (!rc) rc = cx_buf_puts(out, ",\"to\":");
    if (!rc) rc = cx_buf_json_time(out, l->to);
    if (!rc) rc = cx_buf_printf(out, ",\"interval\":\"%s\",\"series\":[", cx_interval_name(iv));
    for (size_t k = 0; !rc && k < l->nint; k++) {
      rc = cx_buf_puts(out, k ? ",{\"start\":" : "{\"start\":");
      if (!rc) rc = cx_buf_json_time(out, l->starts[k]);
      /* an interval cut at to (or now): its counts are at to, not at its end */
      if (!rc) rc = cx_buf_printf(out, ",\"partial\":%s", l->ends[k] + 1 < cx_interval_next(l->starts[k], iv) ? "true" : "false");
      if (!rc) rc = cx_buf_puts(out, ",\"stages\":[");
      for (size_t s = 0; !rc && s < ns; s++) {
        uint64_t v = 0;
        for (size_t t = 0; t < ANALYTICS_THREADS; t++) v += l->parts[t].series[k * MAX_STAGES + s];
        rc = cx_buf_printf(out, s ? ",%llu" : "%llu", (unsigned long long)v);
      }
      if (!rc) rc = cx_buf_puts(out, "]}");
    }
    if (!rc) rc = cx_buf_puts(out, "],\"flows\":[");
    int first = 1;
    for (size_t a = 0; !rc && a < MAX_STAGES; a++) {
      if (a >= ns && a != NEW) continue;
      for (size_t b = 0; !rc && b < ns; b++) {
        uint64_t v = 0;
        for (size_t t = 0; t < ANALYTICS_THREADS; t++) v += l->parts[t].flows[a][b];
        if (!v) continue;
        rc = cx_buf_puts(out, first ? "{\"from\":" : ",{\"from\":");
        first = 0;
        if (!rc) rc = cx_buf_json_str(out, stage_name(names, a), strlen(stage_name(names, a)));
        if (!rc) rc = cx_buf_puts(out, ",\"to\":");
        if (!rc) rc = cx_buf_json_str(out, names[b], strlen(names[b]));
        if (!rc) rc = cx_buf_printf(out, ",\"customers\":%llu}", (unsigned long long)v);
      }
    }
    /* transitions and stays: one sorted array of the packed records */
    size_t nd = 0;
    for (size_t t = 0; t < ANALYTICS_THREADS; t++) nd += l->parts[t].ndur;
    uint64_t *d = cx_malloc((nd ? nd : 1) * sizeof *d);
    if (!rc && !d) rc = CX_ENOMEM;
    if (!rc) {
      size_t k = 0;
      for (size_t t = 0; t < ANALYTICS_THREADS; t++)
        for (size_t i = 0; i < l->parts[t].ndur; i++) d[k++] = l->parts[t].dur[i];
      qsort(d, nd, sizeof *d, u64cmp);
      rc = cx_buf_puts(out, "],\"transitions\":[");
      first = 1;
      const uint64_t MS = (1ULL << MS_BITS) - 1;
      for (size_t i = 0; !rc && i < nd;) {
        uint64_t key = d[i] >> MS_BITS;
        size_t j = i, known = i;
        while (j < nd && d[j] >> MS_BITS == key) j++;
        while (known < j && (d[known] & MS) == 0 && (d[i] >> 60) == 1) known++; /* unknown entry: ms 0 */
        size_t a = (size_t)(key >> 6 & 63), b = (size_t)(key & 63);
        if ((key >> 12) == 1) {
          rc = cx_buf_puts(out, first ? "{\"from\":" : ",{\"from\":");
          first = 0;
          if (!rc) rc = cx_buf_json_str(out, stage_name(names, a), strlen(stage_name(names, a)));
          if (!rc) rc = cx_buf_puts(out, ",\"to\":");
          if (!rc) rc = cx_buf_json_str(out, names[b], strlen(names[b]));
          if (!rc) rc = cx_buf_printf(out, ",\"customers\":%zu,\"median_days_in_from\":", j - i);
          if (!rc) rc = known < j ? cx_buf_printf(out, "%.2f}", mid(d, known, j, MS) / 86400000.0)
                                  : cx_buf_puts(out, "null}");
        }
        i = j;
      }
      if (!rc) rc = cx_buf_puts(out, "],\"time_in_stage\":[");
      first = 1;
      for (size_t i = 0; !rc && i < nd;) {
        uint64_t key = d[i] >> MS_BITS;
        size_t j = i;
        while (j < nd && d[j] >> MS_BITS == key) j++;
        if ((key >> 12) == 2) {
          size_t a = (size_t)(key >> 6 & 63);
          rc = cx_buf_puts(out, first ? "{\"name\":" : ",{\"name\":");
          first = 0;
          if (!rc) rc = cx_buf_json_str(out, names[a], strlen(names[a]));
          if (!rc) rc = cx_buf_printf(out, ",\"stays\":%zu,\"median_days\":%.2f}", j - i,
                                      mid(d, i, j, MS) / 86400000.0);
        }
        i = j;
      }
    }
    cx_free(d);
    if (!rc) rc = cx_buf_puts(out, "]");
  }
  if (!rc) rc = cx_buf_puts(out, ",");
  if (!rc) rc = an_took(out, started);
  if (!rc) rc = cx_buf_puts(out, "}");
out:
  for (size_t t = 0; t < ANALYTICS_THREADS; t++) {
    cx_free(l->parts[t].series);
    cx_free(l->parts[t].dur);
  }
  cx_free(l->ends);
  cx_free(l->starts);
  cx_free(l);
  return rc;
}
