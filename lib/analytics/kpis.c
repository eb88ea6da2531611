/* kpis.c - the customer KPIs per interval (docs/analytics.md): activation,
 * repeat-customer, loyalty and churn rates, from one pass over each
 * customer's timeline that marks, per interval, whether they were active
 * and how often they bought. The interval before `from` is marked too, so
 * that the first interval has a previous one. */
#include "analytics_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/vec.h"
#include <stdlib.h>
#include <string.h>

#define MAX_INTERVALS 100

typedef struct {
  uint64_t active_prev, churned;  /* churn: active in k-1; and not in k */
  uint64_t buyers, repeat;        /* bought in k; of them, 2+ orders ever by k's end */
  uint64_t buyers_prev, loyal;    /* bought in k-1; of them, bought in k too */
  uint64_t fresh, activated;      /* first event in k; of them, activation within the window */
  uint64_t active;
} counts;

typedef struct {
  const analytics_ctx *c;
  int64_t *bounds; /* [0..n+1]: the interval before from, then the period's */
  size_t n;        /* intervals in the period */
  int64_t window;
  uint8_t *purchase, *activation; /* [kind] */
  const int64_t *members;         /* NULL: every customer; else only these (ascending roots) */
  size_t nmembers;
  counts *parts[ANALYTICS_THREADS];
} kpis;

static void scan(void *arg, int which, int64_t lo, int64_t hi) {
  kpis *q = arg;
  counts *cnt = q->parts[which];
  size_t N = q->n + 1; /* slot 0: the interval before from */
  uint8_t active[MAX_INTERVALS + 1];
  uint32_t bought[MAX_INTERVALS + 1];
  for (int64_t id = lo; id < hi; id++) {
    size_t n;
    const profile_point *tl = profile_points(q->c->pr, id, &n);
    if (!n || tl[0].ts >= q->bounds[N]) continue;
    if (q->members && !bsearch(&id, q->members, q->nmembers, sizeof id, cx_i64_cmp)) continue;
    memset(active, 0, N);
    memset(bought, 0, N * sizeof *bought);
    uint64_t before = 0; /* orders before the interval before from */
    size_t k = 0;
    int64_t first_act = CX_NO_TIME;
    for (size_t i = 0; i < n && tl[i].ts < q->bounds[N]; i++) {
      const profile_point *p = &tl[i];
      if (q->activation[p->kind] && first_act == CX_NO_TIME) first_act = p->ts;
      if (p->ts < q->bounds[0]) {
        before += q->purchase[p->kind];
        continue;
      }
      while (p->ts >= q->bounds[k + 1]) k++;
      active[k] = 1;
      bought[k] += q->purchase[p->kind];
    }
    uint64_t cum = before + bought[0];
    for (size_t j = 1; j < N; j++) {
      counts *c = &cnt[j - 1];
      cum += bought[j];
      c->active += active[j];
      if (active[j - 1]) {
        c->active_prev++;
        c->churned += !active[j];
      }
      if (bought[j]) {
        c->buyers++;
        c->repeat += cum >= 2;
      }
      if (bought[j - 1]) {
        c->buyers_prev++;
        c->loyal += bought[j] > 0;
      }
    }
    int64_t first = tl[0].ts;
    /* the first activation may come after `to`: it counts within the window */
    for (size_t i = 0; first_act == CX_NO_TIME && i < n && tl[i].ts <= first + q->window; i++)
      if (q->activation[tl[i].kind]) first_act = tl[i].ts;
    if (first >= q->bounds[1]) { /* new in the period: which interval */
      size_t j = 1;
      while (first >= q->bounds[j + 1]) j++;
      cnt[j - 1].fresh++;
      cnt[j - 1].activated += first_act != CX_NO_TIME && first_act - first <= q->window;
    }
  }
}

static cx_err rate(cx_buf *out, const char *name, uint64_t num, uint64_t den) {
  return den ? cx_buf_printf(out, ",\"%s\":%.6g", name, (double)num / (double)den)
             : cx_buf_printf(out, ",\"%s\":null", name);
}

cx_err analytics_kpis(const analytics_ctx *c, const cJSON *req, cx_buf *out, analytics_error *err) {
  int64_t started = cx_mono_ns();
  kpis q = {.c = c, .window = 30 * 86400000LL};
  const char *purchase = "Order Completed", *activation = NULL, *ivs = NULL;
  int64_t from, to = c->now_ms;
  cx_interval iv = CX_MONTH;
  cx_err rc;
  if ((rc = an_get_time(req, "from", &from, err)) ||
      (cJSON_GetObjectItemCaseSensitive(req, "to") && (rc = an_get_time(req, "to", &to, err))) ||
      (rc = an_get_string(req, "interval", 0, &ivs, err)) ||
      (rc = an_get_string(req, "purchase_event", 0, &purchase, err)) ||
      (rc = an_get_string(req, "activation_event", 0, &activation, err)))
    return rc;
  if (!purchase) purchase = "Order Completed";
  if (!activation) activation = purchase;
  if (cJSON_GetObjectItemCaseSensitive(req, "activation_window") &&
      (rc = an_get_duration(req, "activation_window", 365 * 86400000LL, &q.window, err)))
    return rc;
  if (ivs && cx_interval_parse(ivs, &iv))
    return an_fail(err, "invalid_field", "interval", "interval must be day, week or month.");
  from = cx_interval_floor(from, iv);
  if (to <= from) return an_fail(err, "invalid_field", "to", "to must be after from.");
  int64_t b[MAX_INTERVALS + 2];
  b[1] = from;
  size_t n = 0;
  for (int64_t t = from; t < to; t = cx_interval_next(t, iv)) {
    if (n == MAX_INTERVALS)
      return an_fail(err, "invalid_field", "to", "from..to spans more than %d %ss; choose a longer interval.",
                     MAX_INTERVALS, cx_interval_name(iv));
    b[++n + 1] = cx_interval_next(t, iv);
  }
  b[n + 1] = b[n + 1] < to ? b[n + 1] : to; /* the last interval ends at to */
  /* the interval before from */
  int64_t prev = cx_interval_floor(from - 1, iv);
  b[0] = prev;
  q.bounds = b;
  q.n = n;
  profile_read_begin(c->pr);
  uint32_t nk = profile_kind_count(c->pr);
  uint32_t *m = cx_calloc((size_t)nk + 1, sizeof *m);
  q.purchase = cx_calloc((size_t)nk + 1, 1);
  q.activation = cx_calloc((size_t)nk + 1, 1);
  for (size_t t = 0; t < ANALYTICS_THREADS; t++) q.parts[t] = cx_calloc(n, sizeof(counts));
  rc = m && q.purchase && q.activation ? CX_OK : CX_ENOMEM;
  for (size_t t = 0; t < ANALYTICS_THREADS; t++)
    if (!q.parts[t]) rc = CX_ENOMEM;
  if (!rc && !an_mark_kinds(c->pr, purchase, m, 1))
    rc = an_fail(err, "unknown_event", "purchase_event", "No customer has sent the event \"%.120s\".", purchase);
  if (!rc && !an_mark_kinds(c->pr, activation, m, 2))
    rc = an_fail(err, "unknown_event", "activation_event", "No customer has sent the event \"%.120s\".", activation);
  for (uint32_t k = 0; !rc && k <= nk; k++) q.purchase[k] = m[k] & 1, q.activation[k] = (m[k] >> 1) & 1;
  if (!rc) an_parallel(ANALYTICS_THREADS, profile_max_id(c->pr), scan, &q);
  profile_read_end(c->pr);
  if (!rc) rc = cx_buf_printf(out, "{\"interval\":\"%s\",\"purchase_event\":", cx_interval_name(iv));
  if (!rc) rc = cx_buf_json_str(out, purchase, strlen(purchase));
  if (!rc) rc = cx_buf_puts(out, ",\"activation_event\":");
  if (!rc) rc = cx_buf_json_str(out, activation, strlen(activation));
  if (!rc) rc = cx_buf_printf(out, ",\"activation_window_days\":%.6g,\"series\":[", (double)q.window / 86400000.0);
  for (size_t j = 0; !rc && j < n; j++) {
    counts s = {0};
    for (size_t t = 0; t < ANALYTICS_THREADS; t++) {
      const counts *p = &q.parts[t][j];
      s.active_prev += p->active_prev, s.churned += p->churned, s.buyers += p->buyers;
      s.repeat += p->repeat, s.buyers_prev += p->buyers_prev, s.loyal += p->loyal;
      s.fresh += p->fresh, s.activated += p->activated, s.active += p->active;
    }
    rc = cx_buf_puts(out, j ? ",{\"start\":" : "{\"start\":");
    if (!rc) rc = cx_buf_json_time(out, b[j + 1]);
    /* an interval that has not ended yet: its rates are not final */
    if (!rc) rc = cx_buf_printf(out, ",\"partial\":%s", b[j + 2] > c->now_ms || b[j + 2] < cx_interval_next(b[j + 1], iv) ? "true" : "false");
    if (!rc) rc = rate(out, "activation_rate", s.activated, s.fresh);
    if (!rc) rc = rate(out, "repeat_customer_rate", s.repeat, s.buyers);
    if (!rc) rc = rate(out, "loyalty_rate", s.loyal, s.buyers_prev);
    if (!rc) rc = rate(out, "churn_rate", s.churned, s.active_prev);
    if (!rc)
      rc = cx_buf_printf(out, ",\"new_customers\":%llu,\"activated\":%llu,\"buyers\":%llu,\"repeat_buyers\":%llu,"
                         "\"buyers_before\":%llu,\"loyal_buyers\":%llu,\"active_before\":%llu,\"churned\":%llu,"
                         "\"active\":%llu}",
                         (unsigned long long)s.fresh, (unsigned long long)s.activated,
                         (unsigned long long)s.buyers, (unsigned long long)s.repeat,
                         (unsigned long long)s.buyers_prev, (unsigned long long)s.loyal,
                         (unsigned long long)s.active_prev, (unsigned long long)s.churned,
                         (unsigned long long)s.active);
  }
  if (!rc) rc = cx_buf_puts(out, "],");
  if (!rc) rc = an_took(out, started);
  if (!rc) rc = cx_buf_puts(out, "}");
  cx_free(m);
  cx_free(q.purchase);
  cx_free(q.activation);
  for (size_t t = 0; t < ANALYTICS_THREADS; t++) cx_free(q.parts[t]);
  return rc;
}

cx_err analytics_kpi_window(const analytics_ctx *c, int64_t from, int64_t to, const char *purchase_event,
                            const int64_t *members, size_t nmembers, analytics_kpi_counts *out) {
  memset(out, 0, sizeof *out);
  if (to <= from) return CX_EINVAL;
  int64_t b[3] = {from - (to - from), from, to};
  kpis q = {.c = c, .window = 30 * 86400000LL, .bounds = b, .n = 1, .members = members, .nmembers = nmembers};
  if (members && !nmembers) return CX_OK;
  const char *purchase = purchase_event ? purchase_event : "Order Completed";
  profile_read_begin(c->pr);
  uint32_t nk = profile_kind_count(c->pr);
  uint32_t *m = cx_calloc((size_t)nk + 1, sizeof *m);
  q.purchase = cx_calloc((size_t)nk + 1, 1);
  q.activation = cx_calloc((size_t)nk + 1, 1);
  for (size_t t = 0; t < ANALYTICS_THREADS; t++) q.parts[t] = cx_calloc(1, sizeof(counts));
  cx_err rc = m && q.purchase && q.activation ? CX_OK : CX_ENOMEM;
  for (size_t t = 0; t < ANALYTICS_THREADS; t++)
    if (!q.parts[t]) rc = CX_ENOMEM;
  int known = !rc && an_mark_kinds(c->pr, purchase, m, 3); /* activation: the purchase */
  for (uint32_t k = 0; !rc && known && k <= nk; k++) q.purchase[k] = m[k] & 1, q.activation[k] = (m[k] >> 1) & 1;
  if (!rc && known) an_parallel(ANALYTICS_THREADS, profile_max_id(c->pr), scan, &q);
  profile_read_end(c->pr);
  for (size_t t = 0; !rc && known && t < ANALYTICS_THREADS; t++) {
    const counts *p = q.parts[t];
    out->active_prev += p->active_prev, out->churned += p->churned, out->buyers += p->buyers;
    out->repeat += p->repeat, out->buyers_prev += p->buyers_prev, out->loyal += p->loyal;
    out->fresh += p->fresh, out->activated += p->activated, out->active += p->active;
  }
  cx_free(m);
  cx_free(q.purchase);
  cx_free(q.activation);
  for (size_t t = 0; t < ANALYTICS_THREADS; t++) cx_free(q.parts[t]);
  return rc;
}
