/* overview.c - the dashboard's KPIs, computed in one pass over the
 * in-memory timelines under the read lock.
 *
 * Definitions (docs/guide.md, "Overview"): a customer is a canonical
 * profile, counted from its first event; active = at least one message of
 * an active type in the interval; new = first event in the interval;
 * repeat-purchase rate = of the customers who purchased in the interval,
 * the share with at least two purchases ever by the interval's end. */
#include "profile_int.h"
#include "../base/mem.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  uint64_t events, active, fresh, buyers, repeaters;
} tally;

typedef struct {
  uint32_t kind;
  uint64_t n;
} kind_count;

static int kind_count_cmp(const void *a, const void *b) {
  const kind_count *x = a, *y = b;
  if (x->n != y->n) return x->n < y->n ? 1 : -1;
  return (x->kind > y->kind) - (x->kind < y->kind);
}

typedef struct {
  size_t id;
  uint64_t events;
} src_rank;

static int src_rank_cmp(const void *a, const void *b) {
  const src_rank *x = a, *y = b;
  if (x->events != y->events) return x->events < y->events ? 1 : -1;
  return (x->id > y->id) - (x->id < y->id);
}

static cx_err put_rate(cx_buf *b, uint64_t num, uint64_t den) {
  if (!den) return cx_buf_puts(b, "null");
  return cx_buf_printf(b, "%.4f", (double)num / (double)den);
}

/* "name":{"value":…,"previous":…,"series":[…]}: a count per interval
 * (the tally field at off), a cumulative count from base, or the
 * repeat-purchase rate */
typedef enum { KPI_COUNT, KPI_CUMULATIVE, KPI_RATE } kpi_shape;

static uint64_t field(const tally *t, size_t off) { return *(const uint64_t *)((const char *)t + off); }

static cx_err put_value(cx_buf *b, kpi_shape shape, const tally *t, uint64_t n) {
  if (shape == KPI_RATE) return put_rate(b, t->repeaters, t->buyers);
  return cx_buf_printf(b, "%llu", (unsigned long long)n);
}

static cx_err put_kpi(cx_buf *b, const char *name, kpi_shape shape, const tally *per,
                      const tally *bk, size_t nb, size_t off, uint64_t before) {
  /* cumulative: `before` counted before the period; per[1] adds to it */
  uint64_t cur = field(&per[1], off), prev = field(&per[0], off);
  if (shape == KPI_CUMULATIVE) cur += before, prev = before;
  cx_err rc = cx_buf_printf(b, "\"%s\":{\"value\":", name);
  if (!rc) rc = put_value(b, shape, &per[1], cur);
  if (!rc) rc = cx_buf_puts(b, ",\"previous\":");
  if (!rc) rc = put_value(b, shape, &per[0], prev);
  if (!rc) rc = cx_buf_puts(b, ",\"series\":[");
  uint64_t cum = before;
  for (size_t k = 0; k < nb && !rc; k++) {
    if (k) rc = cx_buf_puts(b, ",");
    cum += field(&bk[k], off);
    if (!rc) rc = put_value(b, shape, &bk[k], shape == KPI_CUMULATIVE ? cum : field(&bk[k], off));
  }
  if (!rc) rc = cx_buf_puts(b, "]}");
  return rc;
}

cx_err profile_overview(profile *p, const profile_overview_req *q, cx_buf *out) {
  if (q->to <= q->from) return CX_EINVAL;
  /* the buckets: UTC intervals from `from`, the last one cut at `to` */
  size_t nb = 0;
  for (int64_t t = q->from; t < q->to; t = cx_interval_next(t, q->interval))
    if (++nb > q->max_buckets) return CX_ETOOBIG;
  int64_t pfrom = q->from - (q->to - q->from);
  size_t nsrc = q->nsource_names ? q->nsource_names : 1;
  int64_t *end = cx_malloc(nb * sizeof *end);
  tally *bk = cx_calloc(nb, sizeof *bk);
  uint64_t *src_b = cx_calloc(nsrc * nb, sizeof *src_b);
  uint64_t *src_p = cx_calloc(nsrc * 2, sizeof *src_p);
  kind_count *kc = NULL;
  cx_err rc = CX_ENOMEM;
  if (!end || !bk || !src_b || !src_p) goto out;
  {
    int64_t t = q->from;
    for (size_t k = 0; k < nb; k++) {
      t = cx_interval_next(t, q->interval);
      end[k] = t < q->to ? t : q->to;
    }
  }
  tally per[2];
  memset(per, 0, sizeof per);
  uint64_t customers_before_to = 0;

  pthread_rwlock_rdlock(&p->lock);
  uint32_t nk = p->nkinds;
  kc = cx_calloc((size_t)nk + 1, sizeof *kc);
  if (!kc) {
    pthread_rwlock_unlock(&p->lock);
    goto out;
  }
  /* the purchase kind, if any event was ever one */
  uint32_t pk = 0;
  for (uint32_t k = 1; k <= nk && q->purchase; k++)
    if (p->kinds[k].type == q->purchase_type && !strcmp(p->kinds[k].name, q->purchase)) pk = k;
  for (int64_t id = 1; id <= p->ncust; id++) {
    const profile_customer *c = &p->cust[id];
    if (c->parent != id || !c->n) continue;
    int64_t first = c->tl[0].ts;
    if (first >= q->to) continue;
    customers_before_to++;
    uint64_t running = 0;
    int cur_p = -1, bought_p = 0, act_p[2] = {0, 0};
    int64_t cur_b = -1, last_act_b = -1;
    int bought_b = 0;
    size_t b = 0;
    for (uint32_t i = 0; i < c->n; i++) {
      const profile_point *pt = &c->tl[i];
      if (pt->ts >= q->to) break;
      int order = pk && pt->kind == pk;
      if (pt->ts < pfrom) {
        running += (uint64_t)order;
        continue;
      }
      int pi = pt->ts >= q->from;
      if (pi != cur_p) {
        if (cur_p >= 0 && bought_p) per[cur_p].buyers++, per[cur_p].repeaters += running >= 2;
        cur_p = pi;
        bought_p = 0;
      }
      size_t s = pt->source < nsrc ? pt->source : 0;
      per[pi].events++;
      src_p[s * 2 + (size_t)pi]++;
      int active = (q->active_types >> (p->kinds[pt->kind].type & 31)) & 1;
      if (active) act_p[pi] = 1;
      if (pi) {
        while (pt->ts >= end[b]) b++; /* ts < to = end[nb - 1] */
        if ((int64_t)b != cur_b) {
          if (cur_b >= 0 && bought_b) bk[cur_b].buyers++, bk[cur_b].repeaters += running >= 2;
          cur_b = (int64_t)b;
          bought_b = 0;
        }
        bk[b].events++;
        src_b[s * nb + b]++;
        kc[pt->kind].n++;
        if (active && last_act_b != (int64_t)b) bk[b].active++, last_act_b = (int64_t)b;
        if (order) bought_b = 1;
      }
      if (order) running++, bought_p = 1;
    }
    if (cur_p >= 0 && bought_p) per[cur_p].buyers++, per[cur_p].repeaters += running >= 2;
    if (cur_b >= 0 && bought_b) bk[cur_b].buyers++, bk[cur_b].repeaters += running >= 2;
    per[0].active += (uint64_t)act_p[0];
    per[1].active += (uint64_t)act_p[1];
    if (first >= q->from) {
      per[1].fresh++;
      size_t k = 0;
      while (first >= end[k]) k++;
      bk[k].fresh++;
    } else if (first >= pfrom) {
      per[0].fresh++;
    }
  }
  /* top event kinds, copied out with their names while the lock is held */
  for (uint32_t k = 0; k <= nk; k++) kc[k].kind = k;
  qsort(kc + 1, nk, sizeof *kc, kind_count_cmp);
  cx_buf names;
  cx_buf_init(&names, 64 << 10);
  rc = CX_OK;
  size_t ntop = 0;
  for (uint32_t k = 1; k <= nk && ntop < 10 && kc[k].n && !rc; k++, ntop++) {
    const profile_kind *kd = &p->kinds[kc[k].kind];
    if (ntop) rc = cx_buf_puts(&names, ",");
    if (!rc) rc = cx_buf_printf(&names, "{\"type\":\"%s\",\"name\":", q->type_name(kd->type));
    if (!rc) rc = *kd->name ? cx_buf_json_str(&names, kd->name, strlen(kd->name)) : cx_buf_puts(&names, "null");
    if (!rc) rc = cx_buf_printf(&names, ",\"events\":%llu}", (unsigned long long)kc[k].n);
  }
  pthread_rwlock_unlock(&p->lock);

  /* the answer */
  if (!rc) rc = cx_buf_puts(out, "{\"from\":");
  if (!rc) rc = cx_buf_json_time(out, q->from);
  if (!rc) rc = cx_buf_puts(out, ",\"to\":");
  if (!rc) rc = cx_buf_json_time(out, q->to);
  if (!rc) rc = cx_buf_printf(out, ",\"interval\":\"%s\",\"previous\":{\"from\":", cx_interval_name(q->interval));
  if (!rc) rc = cx_buf_json_time(out, pfrom);
  if (!rc) rc = cx_buf_puts(out, ",\"to\":");
  if (!rc) rc = cx_buf_json_time(out, q->from);
  if (!rc) rc = cx_buf_puts(out, "},\"buckets\":[");
  for (size_t k = 0; k < nb && !rc; k++) {
    if (k) rc = cx_buf_puts(out, ",");
    if (!rc) rc = cx_buf_json_time(out, k ? end[k - 1] : q->from);
  }
  if (!rc) rc = cx_buf_puts(out, "],\"kpis\":{");
  uint64_t before_from = customers_before_to - per[1].fresh;
  if (!rc) rc = put_kpi(out, "customers", KPI_CUMULATIVE, per, bk, nb, offsetof(tally, fresh), before_from);
  if (!rc) rc = cx_buf_puts(out, ",");
  if (!rc) rc = put_kpi(out, "active_customers", KPI_COUNT, per, bk, nb, offsetof(tally, active), 0);
  if (!rc) rc = cx_buf_puts(out, ",");
  if (!rc) rc = put_kpi(out, "new_customers", KPI_COUNT, per, bk, nb, offsetof(tally, fresh), 0);
  if (!rc) rc = cx_buf_puts(out, ",");
  if (!rc) rc = put_kpi(out, "repeat_purchase_rate", KPI_RATE, per, bk, nb, offsetof(tally, buyers), 0);
  if (!rc) rc = cx_buf_puts(out, ",");
  if (!rc) rc = put_kpi(out, "events", KPI_COUNT, per, bk, nb, offsetof(tally, events), 0);
  if (!rc) rc = cx_buf_puts(out, "},\"channels\":[");
  src_rank *rank = rc ? NULL : cx_malloc(nsrc * sizeof *rank);
  if (!rc && !rank) rc = CX_ENOMEM;
  size_t nr = 0;
  for (size_t s = 0; s < nsrc && !rc; s++)
    if (src_p[s * 2] || src_p[s * 2 + 1]) rank[nr++] = (src_rank){s, src_p[s * 2 + 1]};
  if (!rc) qsort(rank, nr, sizeof *rank, src_rank_cmp);
  for (size_t i = 0; i < nr && !rc; i++) {
    size_t s = rank[i].id;
    const char *nm = s < q->nsource_names && q->source_names[s] && *q->source_names[s]
                         ? q->source_names[s] : "unknown";
    if (i) rc = cx_buf_puts(out, ",");
    if (!rc) rc = cx_buf_puts(out, "{\"source\":");
    if (!rc) rc = cx_buf_json_str(out, nm, strlen(nm));
    if (!rc)
      rc = cx_buf_printf(out, ",\"events\":%llu,\"previous\":%llu,\"series\":[",
                         (unsigned long long)src_p[s * 2 + 1], (unsigned long long)src_p[s * 2]);
    for (size_t k = 0; k < nb && !rc; k++)
      rc = cx_buf_printf(out, k ? ",%llu" : "%llu", (unsigned long long)src_b[s * nb + k]);
    if (!rc) rc = cx_buf_puts(out, "]}");
  }
  cx_free(rank);
  if (!rc) rc = cx_buf_puts(out, "],\"top_events\":[");
  if (!rc && names.len) rc = cx_buf_append(out, names.p, names.len);
  if (!rc) rc = cx_buf_puts(out, "]}");
  cx_buf_free(&names);
out:
  cx_free(kc);
  cx_free(end);
  cx_free(bk);
  cx_free(src_b);
  cx_free(src_p);
  return rc;
}
