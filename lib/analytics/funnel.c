/* funnel.c - ordered steps with a conversion window (docs/analytics.md).
 *
 * Per customer, one pass: the entry is the first step-1 event in
 * [from, to); each next step is the earliest later event that matches it
 * within the window of the entry. Taking the earliest match leaves the
 * most room for the steps after it, so the greedy walk finds a way through
 * whenever there is one. Each step's kinds are a bit in a per-kind mask,
 * so matching an event is one load; rules run only on candidates.
 *
 * Through the kinds' index most entrants need no walk at all: a customer
 * with no event of step 2's kinds in [from, to + window) enters and stops
 * at step 1, whatever their timeline holds. When step 1 has no rule and
 * the groups do not need the entry event (by source), those customers are
 * counted from two bitmaps, and only the others' timelines are read. */
#include "analytics_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DROPPED 100 /* customer ids listed for the drop-off step */
#define DUR_BITS 45     /* a duration in ms: up to ~1,100 years */
#define STEP_SHIFT DUR_BITS
#define GROUP_SHIFT (DUR_BITS + 5)

typedef struct {
  uint64_t *reached; /* [group][step] */
  uint64_t *dur;     /* (group, step, ms) packed, one per step reached after the first */
  size_t ndur, capdur;
  int64_t dropped[2 * MAX_DROPPED]; /* the lowest MAX_DROPPED ids kept by add_dropped */
  size_t ndropped;
  an_env env;
  cx_err rc;
} part;

typedef struct {
  const analytics_ctx *c;
  size_t nsteps, ngroups;
  const char *event[ANALYTICS_MAX_STEPS];
  rules_expr *where[ANALYTICS_MAX_STEPS];
  uint32_t *match; /* [kind]: bit k when the kind is step k's event */
  uint64_t *cand;  /* the customers with a step-1 event in range (NULL: everyone) */
  uint64_t *next;  /* NULL, or the customers of cand with a step-2 event in [from,
                    * to + window): the scan walks them, and counts cand minus next
                    * without a walk */
  int64_t from, to, window;
  int64_t dropped_at; /* list customers who reached the step before this one (1-based) but not it; 0: none */
  an_traits traits;
  an_groups groups;
  part parts[ANALYTICS_THREADS];
} funnel;

static cx_err push_dur(part *pt, uint64_t v) { return an_push(&pt->dur, &pt->ndur, &pt->capdur, v); }

static int id_cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Keeps the lowest MAX_DROPPED ids (sorted) of those listed; the ranges
 * of a part come in no order. */
static void keep_lowest(part *pt) {
  qsort(pt->dropped, pt->ndropped, sizeof *pt->dropped, id_cmp);
  if (pt->ndropped > MAX_DROPPED) pt->ndropped = MAX_DROPPED;
}

static void add_dropped(part *pt, int64_t id) {
  if (pt->ndropped == 2 * MAX_DROPPED) keep_lowest(pt);
  pt->dropped[pt->ndropped++] = id;
}

/* The entrants of ids [lo, hi) without a step-2 event in range (cand
 * minus next, next being already cut to cand): counted at step 1, and
 * listed when the drop-off at step 2 is asked. */
static void settle_stayers(funnel *f, part *pt, int64_t lo, int64_t hi) {
  size_t S = f->nsteps, listed = 0; /* ids come in order: past MAX_DROPPED, none is kept */
  int by_id = f->groups.trait != NULL, list = f->dropped_at == 2;
  if (lo >= hi) return; /* an empty range still names a word */
  for (size_t w = (size_t)lo >> 6; w < ((size_t)hi + 63) >> 6; w++) {
    uint64_t stay = f->cand[w] & ~f->next[w];
    if (!by_id && !list) {
      pt->reached[0] += (uint64_t)__builtin_popcountll(stay);
      continue;
    }
    for (; stay; stay &= stay - 1) {
      int64_t id = (int64_t)(w << 6) + __builtin_ctzll(stay);
      pt->reached[an_group_of(&f->groups, id, NULL) * S]++;
      if (list && listed < MAX_DROPPED) add_dropped(pt, id), listed++;
    }
  }
}

static void scan(void *arg, int which, int64_t lo, int64_t hi) {
  funnel *f = arg;
  part *pt = &f->parts[which];
  const profile *pr = f->c->pr;
  const uint32_t *match = f->match;
  size_t S = f->nsteps, listed = 0;
  if (f->next) settle_stayers(f, pt, lo, hi);
  an_cursor cur;
  AN_EACH_AHEAD(cur, pr, f->next ? f->next : f->cand, lo, hi) {
    int64_t id = cur.id;
    if (pt->rc) return;
    size_t n;
    const profile_point *tl = profile_points_in(pr, id, f->from, f->to, &n);
    if (!n) continue;
    size_t i = an_first_at(tl, n, f->from);
    for (; i < n && tl[i].ts < f->to; i++)
      if ((match[tl[i].kind] & 1) && an_env_match(&pt->env, f->where[0], id, tl, n, i)) break;
    if (i == n || tl[i].ts >= f->to) continue;
    uint64_t g = an_group_of(&f->groups, id, &tl[i]);
    uint64_t *reached = &pt->reached[g * S];
    int64_t t0 = tl[i].ts, prev_ts = t0, limit = t0 + f->window;
    size_t k = 1, prev = i;
    reached[0]++;
    for (; k < S; k++) {
      uint32_t bit = 1u << k;
      size_t j = prev + 1;
      for (; j < n && tl[j].ts <= limit; j++)
        if ((match[tl[j].kind] & bit) && an_env_match(&pt->env, f->where[k], id, tl, n, j)) break;
      if (j == n || tl[j].ts > limit) break;
      reached[k]++;
      uint64_t ms = (uint64_t)(tl[j].ts - prev_ts);
      if ((pt->rc = push_dur(pt, g << GROUP_SHIFT | (uint64_t)k << STEP_SHIFT | ms))) return;
      prev = j;
      prev_ts = tl[j].ts;
    }
    if (f->dropped_at && (int64_t)k == f->dropped_at - 1 && listed < MAX_DROPPED)
      add_dropped(pt, id), listed++;
  }
}

/* Appends a steps array: counts[k] customers and the median of the
 * durations in dur[off[k]..off[k+1]). */
static cx_err put_steps(cx_buf *out, const funnel *f, const uint64_t *counts, uint64_t *dur,
                        const size_t *off) {
  cx_err rc = cx_buf_puts(out, "[");
  for (size_t k = 0; !rc && k < f->nsteps; k++) {
    rc = cx_buf_puts(out, k ? ",{\"event\":" : "{\"event\":");
    if (!rc) rc = cx_buf_json_str(out, f->event[k], strlen(f->event[k]));
    double conv = counts[0] ? (double)counts[k] / (double)counts[0] : 0;
    if (!rc) rc = cx_buf_printf(out, ",\"customers\":%llu,\"conversion\":%.6g,\"median_seconds\":",
                                (unsigned long long)counts[k], conv);
    size_t nd = off[k + 1] - off[k];
    if (!rc) rc = k && nd ? cx_buf_printf(out, "%.3f", an_median(dur + off[k], nd) / 1000.0)
                          : cx_buf_puts(out, "null");
    if (!rc && k) { /* the distribution of the time from the previous step */
      static const int64_t le[] = {60, 300, 900, 3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400, -1};
      uint64_t hist[sizeof le / sizeof le[0]] = {0};
      for (size_t i = 0; i < nd; i++) {
        size_t b = 0;
        while (le[b] >= 0 && (int64_t)(dur[off[k] + i] / 1000) >= le[b]) b++;
        hist[b]++;
      }
      rc = cx_buf_puts(out, ",\"time_to_convert\":[");
      for (size_t b = 0; !rc && b < sizeof le / sizeof le[0]; b++)
        rc = le[b] >= 0 ? cx_buf_printf(out, "%s{\"below_seconds\":%lld,\"customers\":%llu}", b ? "," : "",
                                        (long long)le[b], (unsigned long long)hist[b])
                        : cx_buf_printf(out, ",{\"below_seconds\":null,\"customers\":%llu}", (unsigned long long)hist[b]);
      if (!rc) rc = cx_buf_puts(out, "]");
    }
    if (!rc) rc = cx_buf_puts(out, "}");
  }
  if (!rc) rc = cx_buf_puts(out, "]");
  return rc;
}

/* Places the parts' durations by (slot, step), slot_of[group] naming a
 * group's slot (0..nslots-1): step k of slot s is dur[at[s*S+k] ..
 * at[s*S+k+1]). A counting sort: at has nslots * S + 1 entries. */
static void place(const funnel *f, const uint32_t *slot_of, size_t nslots, uint64_t *dur, size_t *at) {
  size_t S = f->nsteps;
  memset(at, 0, (nslots * S + 1) * sizeof *at);
  for (size_t t = 0; t < ANALYTICS_THREADS; t++)
    for (size_t i = 0; i < f->parts[t].ndur; i++) {
      uint64_t v = f->parts[t].dur[i];
      at[slot_of[v >> GROUP_SHIFT] * S + (v >> STEP_SHIFT & 31) + 1]++;
    }
  for (size_t i = 1; i <= nslots * S; i++) at[i] += at[i - 1];
  for (size_t t = 0; t < ANALYTICS_THREADS; t++) /* at[x] moves to x's end, ... */
    for (size_t i = 0; i < f->parts[t].ndur; i++) {
      uint64_t v = f->parts[t].dur[i];
      dur[at[slot_of[v >> GROUP_SHIFT] * S + (v >> STEP_SHIFT & 31)]++] = v & ((1ULL << DUR_BITS) - 1);
    }
  for (size_t i = nslots * S; i > 0; i--) at[i] = at[i - 1]; /* ... and back to its start */
  at[0] = 0;
}

/* The answer, from the parts' counts and durations. */
static cx_err answer(funnel *f, const cJSON *req, cx_buf *out, int64_t started) {
  size_t S = f->nsteps, G = f->ngroups, total = 0;
  for (size_t t = 0; t < ANALYTICS_THREADS; t++) total += f->parts[t].ndur;
  uint64_t *counts = cx_calloc(G * S, sizeof *counts); /* [group][step] over the parts */
  uint64_t *size = cx_calloc(G, sizeof *size);
  uint32_t *slot_of = cx_calloc(G, sizeof *slot_of);
  const char **names = cx_calloc(G, sizeof *names);
  uint64_t *slot_counts = cx_calloc((G + 1) * S, sizeof *slot_counts); /* [slot][step] */
  uint64_t *dur = cx_malloc((total ? total : 1) * sizeof *dur);
  size_t *at = cx_malloc(((G + 1) * S + 1) * sizeof *at);
  cx_err rc = counts && size && names && slot_of && slot_counts && dur && at ? CX_OK : CX_ENOMEM;
  if (rc) goto out;
  for (size_t t = 0; t < ANALYTICS_THREADS; t++)
    for (size_t i = 0; i < G * S; i++) counts[i] += f->parts[t].reached[i];
  for (size_t g = 0; g < G; g++) {
    size[g] = counts[g * S];
    for (size_t k = 0; k < S; k++) slot_counts[k] += counts[g * S + k]; /* slot 0: everyone */
  }
  place(f, slot_of, 1, dur, at);
  rc = cx_buf_puts(out, "{\"steps\":");
  if (!rc) rc = put_steps(out, f, slot_counts, dur, at);
  if (!rc && (f->groups.by_source || f->groups.trait)) {
    size_t shown = an_group_slots(&f->groups, size, slot_of, names);
    if (!shown && G) rc = CX_ENOMEM;
    memset(slot_counts, 0, (G + 1) * S * sizeof *slot_counts);
    for (size_t g = 0; g < G; g++)
      for (size_t k = 0; k < S; k++) slot_counts[slot_of[g] * S + k] += counts[g * S + k];
    place(f, slot_of, G, dur, at);
    if (!rc) rc = cx_buf_puts(out, ",\"groups\":[");
    for (size_t sl = 0; !rc && sl < shown; sl++) {
      rc = cx_buf_puts(out, sl ? ",{\"key\":" : "{\"key\":");
      if (!rc) rc = cx_buf_json_str(out, names[sl], strlen(names[sl]));
      if (!rc) rc = cx_buf_puts(out, ",\"steps\":");
      if (!rc) rc = put_steps(out, f, &slot_counts[sl * S], dur, &at[sl * S]);
      if (!rc) rc = cx_buf_puts(out, "}");
    }
    if (!rc) rc = cx_buf_puts(out, "]");
  }
  if (!rc && f->dropped_at) {
    rc = cx_buf_printf(out, ",\"dropped\":{\"step\":%lld,\"customers\":[", (long long)f->dropped_at);
    part *all = &f->parts[0]; /* every part's lowest, in part 0 */
    for (size_t t = 1; t < ANALYTICS_THREADS; t++)
      for (size_t i = 0; i < f->parts[t].ndropped; i++) add_dropped(all, f->parts[t].dropped[i]);
    keep_lowest(all);
    for (size_t i = 0; !rc && i < all->ndropped; i++)
      rc = cx_buf_printf(out, "%s\"%lld\"", i ? "," : "", (long long)all->dropped[i]);
    if (!rc) rc = cx_buf_puts(out, "]}");
  }
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(req, "window");
  if (!rc) rc = cx_buf_puts(out, ",\"window\":");
  if (!rc) rc = cx_buf_json_str(out, w->valuestring, strlen(w->valuestring));
  if (!rc) rc = cx_buf_puts(out, ",\"from\":");
  if (!rc) rc = cx_buf_json_time(out, f->from);
  if (!rc) rc = cx_buf_puts(out, ",\"to\":");
  if (!rc) rc = cx_buf_json_time(out, f->to);
  if (!rc) rc = cx_buf_puts(out, ",");
  if (!rc) rc = an_took(out, started);
  if (!rc) rc = cx_buf_puts(out, "}");
out:
  cx_free(counts);
  cx_free(size);
  cx_free(names);
  cx_free(slot_of);
  cx_free(slot_counts);
  cx_free(dur);
  cx_free(at);
  return rc;
}

/* Checks the request into f (before the read section). */
static cx_err parse(funnel *f, const cJSON *req, analytics_error *err) {
  const cJSON *steps = cJSON_GetObjectItemCaseSensitive(req, "steps");
  if (!cJSON_IsArray(steps))
    return an_fail(err, "invalid_field", "steps", "steps must be an array of 1 to %d steps.", ANALYTICS_MAX_STEPS);
  int n = cJSON_GetArraySize(steps);
  if (n < 1 || n > ANALYTICS_MAX_STEPS)
    return an_fail(err, "invalid_field", "steps", "A funnel has 1 to %d steps; this one has %d.",
                   ANALYTICS_MAX_STEPS, n);
  cx_err rc;
  char field[64];
  int k = 0;
  for (const cJSON *s = steps->child; s; s = s->next, k++) {
    snprintf(field, sizeof field, "steps[%d].event", k);
    const cJSON *ev = cJSON_IsObject(s) ? cJSON_GetObjectItemCaseSensitive(s, "event") : NULL;
    if (!cJSON_IsString(ev) || !*ev->valuestring)
      return an_fail(err, "invalid_field", field, "Step %d needs an event: {\"event\":\"Order Completed\"}.", k + 1);
    f->event[k] = ev->valuestring;
    char label[32];
    snprintf(field, sizeof field, "steps[%d].where", k);
    snprintf(label, sizeof label, "Step %d's rule", k + 1);
    if ((rc = an_compile(cJSON_GetObjectItemCaseSensitive(s, "where"), field, label, &f->where[k], err)))
      return rc;
  }
  f->nsteps = (size_t)n;
  if ((rc = an_get_duration(req, "window", 365 * 86400000LL, &f->window, err)) ||
      (rc = an_get_time(req, "from", &f->from, err)) || (rc = an_get_time(req, "to", &f->to, err)) ||
      (rc = an_get_int(req, "dropped_at", 2, n < 2 ? 2 : n, &f->dropped_at, err)))
    return rc;
  if (f->dropped_at && n < 2)
    return an_fail(err, "invalid_field", "dropped_at", "dropped_at needs a funnel of 2 steps or more.");
  if (f->to <= f->from) return an_fail(err, "invalid_field", "to", "to must be after from.");
  return CX_OK;
}

cx_err analytics_funnel(const analytics_ctx *c, const cJSON *req, cx_buf *out,
                        analytics_error *err) {
  int64_t started = cx_mono_ns();
  funnel *f = cx_calloc(1, sizeof *f);
  if (!f) return CX_ENOMEM;
  f->c = c;
  const char *by = NULL;
  cx_err rc = parse(f, req, err);
  if (!rc) rc = an_get_string(req, "by", 0, &by, err);
  if (!rc) rc = an_traits_load(c, f->where, f->nsteps, by, &f->traits);
  if (rc) goto done;
  profile_read_begin(c->pr);
  if ((rc = an_groups_init(c, &f->traits, by, AN_MAX_KEYS, &f->groups, err))) goto end;
  f->ngroups = an_group_count(&f->groups);
  if (!(f->match = cx_calloc((size_t)profile_kind_count(c->pr) + 1, sizeof *f->match))) {
    rc = CX_ENOMEM;
    goto end;
  }
  for (size_t k = 0; k < f->nsteps; k++)
    if (!an_mark_kinds(c->pr, f->event[k], f->match, 1u << k)) {
      char field[32];
      snprintf(field, sizeof field, "steps[%zu].event", k);
      rc = an_fail(err, "unknown_event", field, "No customer has sent the event \"%.120s\".", f->event[k]);
      goto end;
    }
  for (size_t t = 0; t < ANALYTICS_THREADS; t++) {
    an_env_init(&f->parts[t].env, c, &f->traits);
    if (!(f->parts[t].reached = cx_calloc(f->ngroups * f->nsteps, sizeof(uint64_t)))) rc = CX_ENOMEM;
  }
  uint8_t *first = cx_calloc((size_t)profile_kind_count(c->pr) + 1, 1);
  if (!rc && first) {
    for (uint32_t k = 0; k <= profile_kind_count(c->pr); k++) first[k] = f->match[k] & 1;
    f->cand = an_candidates(c->pr, first, f->from, f->to);
    /* a step-2 event lies in [entry, entry + window], within [from, to + window) */
    if (f->cand && f->nsteps > 1 && !f->where[0] && !f->groups.by_source) {
      for (uint32_t k = 0; k <= profile_kind_count(c->pr); k++) first[k] = (f->match[k] >> 1) & 1;
      f->next = an_candidates(c->pr, first, f->from, f->to + f->window + 1);
      for (size_t w = 0; f->next && w <= (size_t)(profile_max_id(c->pr) >> 6); w++) f->next[w] &= f->cand[w];
    }
  }
  cx_free(first);
  int threads = ANALYTICS_THREADS;
  for (size_t k = 0; k < f->nsteps; k++)
    if (an_reads_store(f->where[k])) threads = 1;
  if (!rc) an_parallel_bits(threads, profile_max_id(c->pr), f->next ? f->next : f->cand, scan, f);
  for (size_t t = 0; !rc && t < ANALYTICS_THREADS; t++) rc = f->parts[t].rc;
  if (!rc) rc = answer(f, req, out, started);
end:
  profile_read_end(c->pr);
done:
  for (size_t t = 0; t < ANALYTICS_THREADS; t++) {
    an_env_free(&f->parts[t].env);
    cx_free(f->parts[t].reached);
    cx_free(f->parts[t].dur);
  }
  for (size_t k = 0; k < ANALYTICS_MAX_STEPS; k++) rules_free(f->where[k]);
  cx_free(f->match);
  cx_free(f->cand);
  cx_free(f->next);
  an_groups_free(&f->groups);
  an_traits_free(&f->traits);
  cx_free(f);
  return rc;
}
