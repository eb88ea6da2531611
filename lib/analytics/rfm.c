/* rfm.c - RFM segmentation (docs/segments.md): every customer who bought
 * gets a recency, frequency and monetary score from 1 to 5 (quintiles of
 * the buyers), and a named group from the (recency, frequency) grid.
 * Recency and frequency come from the timelines (in parallel); monetary
 * sums a property of the purchase events, read from the store on one
 * thread (a reader connection is not shared). */
#include "analytics_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int64_t id;
  int64_t last;   /* the latest purchase */
  uint32_t count; /* purchases */
  double money;
} buyer;

typedef struct {
  const analytics_ctx *c;
  uint8_t *purchase; /* [kind] */
  int64_t now;
  buyer *b[ANALYTICS_THREADS];
  size_t n[ANALYTICS_THREADS], cap[ANALYTICS_THREADS];
  cx_err rc[ANALYTICS_THREADS];
} rfm;

/* The grid: group by recency score (rows 5..1) and frequency score (1..5). */
static const char *const grid[5][5] = {
    /* R5 */ {"New customers", "Potential loyalists", "Potential loyalists", "Champions", "Champions"},
    /* R4 */ {"Promising", "Potential loyalists", "Potential loyalists", "Champions", "Champions"},
    /* R3 */ {"Need attention", "Need attention", "Loyal customers", "Loyal customers", "Loyal customers"},
    /* R2 */ {"About to sleep", "About to sleep", "At risk", "At risk", "At risk"},
    /* R1 */ {"Lost", "Hibernating", "At risk", "Can't lose them", "Can't lose them"},
};
static const char *const groups[] = {"Champions", "Loyal customers", "Potential loyalists", "New customers",
                                     "Promising", "Need attention", "About to sleep", "At risk",
                                     "Can't lose them", "Hibernating", "Lost"};
#define NGROUPS (sizeof groups / sizeof groups[0])

static void scan(void *arg, int which, int64_t lo, int64_t hi) {
  rfm *q = arg;
  for (int64_t id = lo; id < hi && !q->rc[which]; id++) {
    size_t n;
    const profile_point *tl = profile_points(q->c->pr, id, &n);
    buyer b = {id, CX_NO_TIME, 0, 0};
    for (size_t i = 0; i < n && tl[i].ts <= q->now; i++)
      if (q->purchase[tl[i].kind]) b.count++, b.last = tl[i].ts;
    if (!b.count) continue;
    if (q->n[which] == q->cap[which]) {
      size_t cap = q->cap[which] ? q->cap[which] * 2 : 1024;
      buyer *nb = cx_realloc(q->b[which], cap * sizeof *nb);
      if (!nb) {
        q->rc[which] = CX_ENOMEM;
        return;
      }
      q->b[which] = nb;
      q->cap[which] = cap;
    }
    q->b[which][q->n[which]++] = b;
  }
}

static int dcmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The 20/40/60/80 % quantiles of v[0..n) (sorted in place). */
static void quintiles(double *v, size_t n, double q[4]) {
  qsort(v, n, sizeof *v, dcmp);
  for (int i = 0; i < 4; i++) q[i] = n ? v[(size_t)((double)n * (i + 1) / 5.0 - 1e-9)] : 0;
}

/* 1..5: how many thresholds the value is above, plus one. */
static int score(double v, const double q[4]) {
  int s = 1;
  for (int i = 0; i < 4; i++) s += v > q[i];
  return s;
}

cx_err analytics_rfm(const analytics_ctx *c, const cJSON *req, cx_buf *out, analytics_error *err) {
  int64_t started = cx_mono_ns();
  const char *purchase = NULL, *prop = NULL;
  cx_err rc;
  if ((rc = an_get_string(req, "purchase_event", 0, &purchase, err))) return rc;
  if (!purchase) purchase = "Order Completed";
  const cJSON *rp = cJSON_GetObjectItemCaseSensitive(req, "revenue_property");
  if (rp && !cJSON_IsString(rp))
    return an_fail(err, "invalid_field", "revenue_property", "revenue_property must be a string.");
  prop = rp ? rp->valuestring : "revenue"; /* given empty: no monetary score */
  for (const char *x = prop; x && *x; x++) /* a property name, read through a JSON path */
    if (!((*x >= 'a' && *x <= 'z') || (*x >= 'A' && *x <= 'Z') || (*x >= '0' && *x <= '9') || *x == '_') ||
        x - prop >= 64)
      return an_fail(err, "invalid_field", "revenue_property",
                     "revenue_property must be 1 to 64 letters, digits or '_' (a top-level property).");
  rfm q = {.c = c, .now = c->now_ms};
  profile_read_begin(c->pr);
  uint32_t nk = profile_kind_count(c->pr);
  uint32_t *m = cx_calloc((size_t)nk + 1, sizeof *m);
  q.purchase = cx_calloc((size_t)nk + 1, 1);
  rc = m && q.purchase ? CX_OK : CX_ENOMEM;
  if (!rc && !an_mark_kinds(c->pr, purchase, m, 1))
    rc = an_fail(err, "unknown_event", "purchase_event", "No customer has sent the event \"%.120s\".", purchase);
  for (uint32_t k = 0; !rc && k <= nk; k++) q.purchase[k] = (uint8_t)m[k];
  if (!rc) an_parallel(ANALYTICS_THREADS, profile_max_id(c->pr), scan, &q);
  for (int t = 0; !rc && t < ANALYTICS_THREADS; t++) rc = q.rc[t];
  size_t total = 0;
  for (int t = 0; t < ANALYTICS_THREADS; t++) total += q.n[t];
  buyer *all = rc ? NULL : cx_malloc((total ? total : 1) * sizeof *all);
  if (!rc && !all) rc = CX_ENOMEM;
  if (!rc) {
    size_t k = 0;
    for (int t = 0; t < ANALYTICS_THREADS; t++)
      for (size_t i = 0; i < q.n[t]; i++) all[k++] = q.b[t][i];
  }
  /* the purchases' seqs, by buyer, to read their bodies after the
   * section: the writer must not wait on the store's reads */
  size_t npur = 0, *first = NULL;
  int64_t *seqs = NULL;
  if (!rc && prop && *prop) {
    for (size_t i = 0; i < total; i++) npur += all[i].count;
    first = cx_malloc((total + 1) * sizeof *first);
    seqs = cx_malloc((npur ? npur : 1) * sizeof *seqs);
    if (!first || !seqs) rc = CX_ENOMEM;
    for (size_t i = 0, k = 0; !rc && i < total; i++) {
      size_t n;
      const profile_point *tl = profile_points(c->pr, all[i].id, &n);
      first[i] = k;
      for (size_t j = 0; j < n && tl[j].ts <= q.now && k < npur; j++)
        if (q.purchase[tl[j].kind]) seqs[k++] = tl[j].seq;
      first[i + 1] = k;
    }
  }
  profile_read_end(c->pr);
  if (!rc && seqs) { /* monetary: the property summed over each buyer's purchases */
    sqlite3_stmt *st = NULL;
    store_body_reader *br = NULL;
    if (sqlite3_prepare_v2(c->rdb, "SELECT json_extract(?1, '$.properties.' || ?2)", -1, &st, NULL))
      rc = CX_EDB;
    if (!rc) rc = store_body_reader_open(c->rdb, &br);
    for (size_t i = 0; !rc && i < total; i++)
      for (size_t k = first[i]; !rc && k < first[i + 1]; k++) {
        const char *body;
        size_t len;
        if ((rc = store_body_read(br, seqs[k], &body, &len)) || !body) continue;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, body, (int)len, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, prop, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
          int t = sqlite3_column_type(st, 0);
          if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) all[i].money += sqlite3_column_double(st, 0);
        } else if (step != SQLITE_DONE) {
          rc = CX_EDB;
        }
      }
    sqlite3_finalize(st);
    store_body_reader_close(br);
  }
  cx_free(first);
  cx_free(seqs);
  double qr[4] = {0}, qf[4] = {0}, qm[4] = {0};
  double *v = rc ? NULL : cx_malloc((total ? total : 1) * sizeof *v);
  if (!rc && !v) rc = CX_ENOMEM;
  if (!rc) {
    for (size_t i = 0; i < total; i++) v[i] = (double)(q.now - all[i].last) / 86400000.0;
    quintiles(v, total, qr);
    for (size_t i = 0; i < total; i++) v[i] = all[i].count;
    quintiles(v, total, qf);
    for (size_t i = 0; i < total; i++) v[i] = all[i].money;
    quintiles(v, total, qm);
  }
  uint64_t gn[NGROUPS] = {0}, cells[5][5] = {{0}};
  double gr[NGROUPS] = {0}, gf[NGROUPS] = {0}, gm[NGROUPS] = {0};
  for (size_t i = 0; !rc && i < total; i++) {
    double days = (double)(q.now - all[i].last) / 86400000.0;
    int r = 6 - score(days, qr); /* fewer days since: a higher score */
    int f = score(all[i].count, qf);
    cells[r - 1][f - 1]++;
    const char *name = grid[5 - r][f - 1];
    size_t g = 0;
    while (strcmp(groups[g], name)) g++;
    gn[g]++, gr[g] += days, gf[g] += all[i].count, gm[g] += all[i].money;
  }
  if (!rc) rc = cx_buf_printf(out, "{\"buyers\":%zu,\"purchase_event\":", total);
  if (!rc) rc = cx_buf_json_str(out, purchase, strlen(purchase));
  if (!rc) rc = cx_buf_puts(out, ",\"revenue_property\":");
  if (!rc) rc = prop && *prop ? cx_buf_json_str(out, prop, strlen(prop)) : cx_buf_puts(out, "null");
  if (!rc) rc = cx_buf_puts(out, ",\"groups\":[");
  for (size_t g = 0; !rc && g < NGROUPS; g++) {
    rc = cx_buf_puts(out, g ? ",{\"name\":" : "{\"name\":");
    if (!rc) rc = cx_buf_json_str(out, groups[g], strlen(groups[g]));
    double n = gn[g] ? (double)gn[g] : 1;
    if (!rc)
      rc = cx_buf_printf(out, ",\"customers\":%llu,\"share\":%.4f,\"avg_recency_days\":%.1f,\"avg_frequency\":%.2f,"
                         "\"avg_monetary\":%.2f}",
                         (unsigned long long)gn[g], total ? (double)gn[g] / (double)total : 0, gr[g] / n, gf[g] / n,
                         gm[g] / n);
  }
  if (!rc) rc = cx_buf_puts(out, "],\"grid\":[");
  for (int r = 5; !rc && r >= 1; r--) { /* rows: recency 5..1; columns: frequency 1..5 */
    rc = cx_buf_printf(out, "%s[", r == 5 ? "" : ",");
    for (int f = 1; !rc && f <= 5; f++)
      rc = cx_buf_printf(out, f > 1 ? ",%llu" : "%llu", (unsigned long long)cells[r - 1][f - 1]);
    if (!rc) rc = cx_buf_puts(out, "]");
  }
  if (!rc)
    rc = cx_buf_printf(out, "],\"thresholds\":{\"recency_days\":[%.2f,%.2f,%.2f,%.2f],\"frequency\":[%g,%g,%g,%g],"
                       "\"monetary\":[%.2f,%.2f,%.2f,%.2f]},",
                       qr[0], qr[1], qr[2], qr[3], qf[0], qf[1], qf[2], qf[3], qm[0], qm[1], qm[2], qm[3]);
  if (!rc) rc = an_took(out, started);
  if (!rc) rc = cx_buf_puts(out, "}");
  cx_free(v);
  cx_free(all);
  cx_free(m);
  cx_free(q.purchase);
  for (int t = 0; t < ANALYTICS_THREADS; t++) cx_free(q.b[t]);
  return rc;
}
