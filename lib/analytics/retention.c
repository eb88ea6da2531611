/* retention.c - cohorts by the interval of the first start event in
 * [from, to), and who came back in each later interval
 * (docs/analytics.md). One pass per customer: find the entry, then walk
 * the later events once, marking the periods with a return.
 *
 * Through the kinds' index most customers need no walk: one pass over the
 * start event's entries, day by day, gives each customer's first day in
 * range, hence their cohort; a customer without any return event in
 * [from, the last period's end) is then counted in their cohort and done.
 * Only the others (and those the writer added events for since the index
 * was last put in order) have their timelines walked. */
#include "analytics_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include <stdio.h>
#include <string.h>

typedef struct {
  uint64_t *size;     /* [group][cohort] */
  uint64_t *retained; /* [group][cohort][period] */
  cx_err rc;
} part;

typedef struct {
  const analytics_ctx *c;
  const char *start_event, *return_event;
  cx_interval interval;
  int64_t periods, from, to;
  int64_t *bounds; /* interval starts: [0..ncohorts + periods] */
  size_t ncohorts, nbounds;
  uint8_t *match; /* [kind]: 1 start, 2 return */
  uint64_t *cand; /* the customers to walk (NULL: everyone) */
  an_traits traits;
  an_groups groups;
  size_t ngroups;
  part parts[ANALYTICS_THREADS];
} retention;

/* the interval holding t: bounds[k] <= t < bounds[k + 1]; t >= bounds[0] */
static size_t interval_of(const retention *r, int64_t t) {
  size_t lo = 0, hi = r->nbounds;
  while (lo + 1 < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (r->bounds[mid] <= t) lo = mid;
    else hi = mid;
  }
  return lo;
}

static void scan(void *arg, int which, int64_t lo, int64_t hi) {
  retention *r = arg;
  part *pt = &r->parts[which];
  const profile *pr = r->c->pr;
  size_t P = (size_t)r->periods, C = r->ncohorts;
  an_cursor cur;
  AN_EACH_AHEAD(cur, pr, r->cand, lo, hi) {
    int64_t id = cur.id;
    size_t n;
    const profile_point *tl = profile_points_in(pr, id, r->from, r->to, &n);
    if (!n) continue;
    size_t i = an_first_at(tl, n, r->from);
    while (i < n && tl[i].ts < r->to && !(r->match[tl[i].kind] & 1)) i++;
    if (i == n || tl[i].ts >= r->to) continue;
    size_t cohort = interval_of(r, tl[i].ts);
    size_t g = an_group_of(&r->groups, id, &tl[i]);
    pt->size[g * C + cohort]++;
    uint64_t *ret = &pt->retained[(g * C + cohort) * P];
    int64_t end = r->bounds[cohort + P];
    size_t k = 0; /* the period of the walk so far: events are in time order */
    for (size_t j = i + 1; j < n && tl[j].ts < end;) {
      if (!(r->match[tl[j].kind] & 2)) {
        j++;
        continue;
      }
      while (tl[j].ts >= r->bounds[cohort + k + 1]) k++;
      ret[k]++;
      /* the rest of period k adds nothing: on to the next one (a long
       * timeline is crossed in a few jumps) */
      j = an_gallop(tl, j + 1, n, r->bounds[cohort + k + 1]);
    }
  }
}

/* The index pass: the first start event of each customer in [from, to). */
typedef struct {
  retention *r;
  uint64_t *seen, *walk; /* bits by root id */
  const uint64_t *returns; /* the customers with a return event in range */
  size_t nwords;
} first_pass;

static void on_start(void *arg, int64_t root, int64_t ts, int tail) {
  first_pass *fp = arg;
  size_t w = (size_t)root >> 6;
  uint64_t m = 1ULL << (root & 63);
  if (w >= fp->nwords || (fp->seen[w] & m)) return;
  fp->seen[w] |= m;
  if (tail || (fp->returns[w] & m)) { /* needs the timeline */
    fp->walk[w] |= m;
    return;
  }
  retention *r = fp->r; /* ts is in the customer's first day in range: its interval is the cohort */
  r->parts[0].size[an_group_of(&r->groups, root, NULL) * r->ncohorts + interval_of(r, ts)]++;
}

/* Counts the customers who never return from the index and sets r->cand
 * to the others; r->cand stays NULL when the index cannot serve. */
static cx_err first_days(retention *r, const uint8_t *start) {
  profile *p = r->c->pr;
  int64_t max = an_index_max(p);
  size_t nwords = (size_t)(profile_max_id(p) >> 6) + 1;
  uint32_t nk = profile_kind_count(p);
  uint8_t *ret = cx_calloc((size_t)nk + 1, 1);
  if (!ret) return CX_ENOMEM;
  for (uint32_t k = 0; k <= nk; k++) ret[k] = (r->match[k] >> 1) & 1;
  first_pass fp = {r, NULL, NULL, NULL, nwords};
  int64_t end = r->bounds[r->ncohorts + (size_t)r->periods]; /* the last period's end */
  uint64_t *returns = max < 0 ? NULL : an_candidates(p, ret, r->from, end);
  cx_free(ret);
  if (!returns) return CX_OK;
  fp.returns = returns;
  fp.seen = cx_calloc(nwords, sizeof *fp.seen);
  fp.walk = cx_calloc(nwords, sizeof *fp.walk);
  cx_err rc = fp.seen && fp.walk ? CX_OK : CX_ENOMEM;
  if (!rc && !profile_postings_each(p, start, r->from, r->to, max, on_start, &fp)) {
    r->cand = fp.walk;
    fp.walk = NULL;
  }
  cx_free(returns);
  cx_free(fp.seen);
  cx_free(fp.walk);
  return rc;
}

static cx_err put_cohorts(cx_buf *out, const retention *r, const uint64_t *size,
                          const uint64_t *retained) {
  size_t P = (size_t)r->periods;
  cx_err rc = cx_buf_puts(out, "[");
  for (size_t c = 0; !rc && c < r->ncohorts; c++) {
    rc = cx_buf_puts(out, c ? ",{\"start\":" : "{\"start\":");
    if (!rc) rc = cx_buf_json_time(out, r->bounds[c]);
    if (!rc) rc = cx_buf_printf(out, ",\"size\":%llu,\"retained\":[", (unsigned long long)size[c]);
    /* only the periods that have begun */
    for (size_t k = 0; !rc && k < P && r->bounds[c + k] <= r->c->now_ms; k++)
      rc = cx_buf_printf(out, k ? ",%llu" : "%llu", (unsigned long long)retained[c * P + k]);
    if (!rc) rc = cx_buf_puts(out, "]}");
  }
  if (!rc) rc = cx_buf_puts(out, "]");
  return rc;
}

static cx_err answer(retention *r, cx_buf *out, int64_t started) {
  size_t P = (size_t)r->periods, C = r->ncohorts, G = r->ngroups;
  uint64_t *size = cx_calloc(G * C, sizeof *size);
  uint64_t *ret = cx_calloc(G * C * P, sizeof *ret);
  uint64_t *all_size = cx_calloc(C, sizeof *all_size), *all_ret = cx_calloc(C * P, sizeof *all_ret);
  uint64_t *gsize = cx_calloc(G, sizeof *gsize);
  uint32_t *slot_of = cx_calloc(G, sizeof *slot_of);
  const char **names = cx_calloc(G, sizeof *names);
  uint64_t *ssize = NULL, *sret = NULL;
  cx_err rc = size && ret && all_size && all_ret && gsize && slot_of && names ? CX_OK : CX_ENOMEM;
  if (rc) goto out;
  for (size_t t = 0; t < ANALYTICS_THREADS; t++) {
    for (size_t i = 0; i < G * C; i++) size[i] += r->parts[t].size[i];
    for (size_t i = 0; i < G * C * P; i++) ret[i] += r->parts[t].retained[i];
  }
  for (size_t g = 0; g < G; g++)
    for (size_t c = 0; c < C; c++) {
      all_size[c] += size[g * C + c];
      gsize[g] += size[g * C + c];
      for (size_t k = 0; k < P; k++) all_ret[c * P + k] += ret[(g * C + c) * P + k];
    }
  rc = cx_buf_puts(out, "{\"cohorts\":");
  if (!rc) rc = put_cohorts(out, r, all_size, all_ret);
  if (!rc && (r->groups.by_source || r->groups.trait)) {
    size_t shown = an_group_slots(&r->groups, gsize, slot_of, names);
    ssize = cx_calloc(G * C, sizeof *ssize); /* [slot][cohort] */
    sret = cx_calloc(G * C * P, sizeof *sret);
    if (!ssize || !sret || (!shown && G)) {
      rc = CX_ENOMEM;
      goto out;
    }
    for (size_t g = 0; g < G; g++)
      for (size_t c = 0; c < C; c++) {
        size_t sc = slot_of[g] * C + c;
        ssize[sc] += size[g * C + c];
        for (size_t k = 0; k < P; k++) sret[sc * P + k] += ret[(g * C + c) * P + k];
      }
    rc = cx_buf_puts(out, ",\"groups\":[");
    for (size_t sl = 0; !rc && sl < shown; sl++) {
      rc = cx_buf_puts(out, sl ? ",{\"key\":" : "{\"key\":");
      if (!rc) rc = cx_buf_json_str(out, names[sl], strlen(names[sl]));
      if (!rc) rc = cx_buf_puts(out, ",\"cohorts\":");
      if (!rc) rc = put_cohorts(out, r, &ssize[sl * C], &sret[sl * C * P]);
      if (!rc) rc = cx_buf_puts(out, "}");
    }
    if (!rc) rc = cx_buf_puts(out, "]");
  }
  if (!rc) rc = cx_buf_printf(out, ",\"interval\":\"%s\",\"periods\":%lld,", cx_interval_name(r->interval),
                              (long long)r->periods);
  if (!rc) rc = an_took(out, started);
  if (!rc) rc = cx_buf_puts(out, "}");
out:
  cx_free(size);
  cx_free(ret);
  cx_free(all_size);
  cx_free(all_ret);
  cx_free(gsize);
  cx_free(slot_of);
  cx_free(names);
  cx_free(ssize);
  cx_free(sret);
  return rc;
}

static cx_err parse(retention *r, const cJSON *req, analytics_error *err) {
  const char *iv;
  r->periods = 8;
  cx_err rc;
  if ((rc = an_get_string(req, "start_event", 1, &r->start_event, err)) ||
      (rc = an_get_string(req, "return_event", 1, &r->return_event, err)) ||
      (rc = an_get_string(req, "interval", 1, &iv, err)))
    return rc;
  if (cx_interval_parse(iv, &r->interval))
    return an_fail(err, "invalid_field", "interval", "interval must be day, week or month.");
  if ((rc = an_get_int(req, "periods", 1, ANALYTICS_MAX_PERIODS, &r->periods, err)) ||
      (rc = an_get_time(req, "from", &r->from, err)) || (rc = an_get_time(req, "to", &r->to, err)))
    return rc;
  if (r->to <= r->from) return an_fail(err, "invalid_field", "to", "to must be after from.");
  /* the cohorts: every interval start in [floor(from), to) */
  int64_t start = cx_interval_floor(r->from, r->interval);
  size_t c = 0;
  for (int64_t t = start; t < r->to; t = cx_interval_next(t, r->interval))
    if (++c > ANALYTICS_MAX_COHORTS)
      return an_fail(err, "invalid_field", "to",
                     "from..to spans more than %d %ss; choose a longer interval or a shorter range.",
                     ANALYTICS_MAX_COHORTS, cx_interval_name(r->interval));
  r->ncohorts = c;
  r->nbounds = c + (size_t)r->periods + 1;
  if (!(r->bounds = cx_malloc(r->nbounds * sizeof *r->bounds))) return CX_ENOMEM;
  r->bounds[0] = start;
  for (size_t i = 1; i < r->nbounds; i++) r->bounds[i] = cx_interval_next(r->bounds[i - 1], r->interval);
  r->from = start; /* the first cohort starts at its interval's start */
  return CX_OK;
}

cx_err analytics_retention(const analytics_ctx *c, const cJSON *req, cx_buf *out,
                           analytics_error *err) {
  int64_t started = cx_mono_ns();
  retention *r = cx_calloc(1, sizeof *r);
  if (!r) return CX_ENOMEM;
  r->c = c;
  const char *by = NULL;
  cx_err rc = parse(r, req, err);
  if (!rc) rc = an_get_string(req, "by", 0, &by, err);
  if (!rc) rc = an_traits_load(c, NULL, 0, by, &r->traits);
  if (rc) goto done;
  profile_read_begin(c->pr);
  if ((rc = an_groups_init(c, &r->traits, by, (8u << 20) / (r->ncohorts * (size_t)r->periods),
                           &r->groups, err))) goto end;
  r->ngroups = an_group_count(&r->groups);
  if (!(r->match = cx_calloc((size_t)profile_kind_count(c->pr) + 1, 1))) {
    rc = CX_ENOMEM;
    goto end;
  }
  uint32_t *m32 = cx_calloc((size_t)profile_kind_count(c->pr) + 1, sizeof *m32);
  if (!m32) {
    rc = CX_ENOMEM;
    goto end;
  }
  size_t ns = an_mark_kinds(c->pr, r->start_event, m32, 1);
  size_t nr = an_mark_kinds(c->pr, r->return_event, m32, 2);
  for (uint32_t k = 0; k <= profile_kind_count(c->pr); k++) r->match[k] = (uint8_t)m32[k];
  cx_free(m32);
  if (!ns || !nr) {
    const char *which = ns ? "return_event" : "start_event";
    rc = an_fail(err, "unknown_event", which, "No customer has sent the event \"%.120s\".",
                 ns ? r->return_event : r->start_event);
    goto end;
  }
  size_t C = r->ncohorts, P = (size_t)r->periods;
  for (size_t t = 0; !rc && t < ANALYTICS_THREADS; t++) {
    r->parts[t].size = cx_calloc(r->ngroups * C, sizeof(uint64_t));
    r->parts[t].retained = cx_calloc(r->ngroups * C * P, sizeof(uint64_t));
    if (!r->parts[t].size || !r->parts[t].retained) rc = CX_ENOMEM;
  }
  uint8_t *start = rc ? NULL : cx_calloc((size_t)profile_kind_count(c->pr) + 1, 1);
  if (start) {
    for (uint32_t k = 0; k <= profile_kind_count(c->pr); k++) start[k] = r->match[k] & 1;
    if (!r->groups.by_source) rc = first_days(r, start); /* by source needs the start event */
    if (!rc && !r->cand) r->cand = an_candidates(c->pr, start, r->from, r->to);
    cx_free(start);
  }
  if (!rc) an_parallel_bits(ANALYTICS_THREADS, profile_max_id(c->pr), r->cand, scan, r);
  if (!rc) rc = answer(r, out, started);
end:
  profile_read_end(c->pr);
done:
  for (size_t t = 0; t < ANALYTICS_THREADS; t++) {
    cx_free(r->parts[t].size);
    cx_free(r->parts[t].retained);
  }
  cx_free(r->bounds);
  cx_free(r->match);
  cx_free(r->cand);
  an_groups_free(&r->groups);
  an_traits_free(&r->traits);
  cx_free(r);
  return rc;
}
