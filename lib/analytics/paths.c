/* paths.c - the most common next (or previous) events after a chosen one,
 * as Sankey nodes and links (docs/analytics.md). Kinds are first mapped
 * to distinct event names; each customer's path is stored as up to depth
 * name ids; the most frequent names per step keep their node and the rest
 * fold into "(other)"; then the links are counted over the stored paths. */
#include "analytics_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define END 0u /* no event: the path ended */

typedef struct {
  uint32_t *paths; /* [customer][depth] name ids (0: ended) */
  size_t npaths, cap;
  cx_err rc;
} part;

typedef struct {
  const analytics_ctx *c;
  const char *event;
  int backward;
  int64_t depth, limit, from, to;
  uint32_t *name_of;  /* [kind]: distinct name id (1..nnames); 0: kinds without a name */
  const char **names; /* [name id] */
  size_t nnames;
  uint8_t *anchor; /* [kind]: 1 when it is the event */
  part parts[ANALYTICS_THREADS];
} paths;

static void scan(void *arg, int which, int64_t lo, int64_t hi) {
  paths *q = arg;
  part *pt = &q->parts[which];
  size_t D = (size_t)q->depth;
  for (int64_t id = lo; id < hi; id++) {
    size_t n;
    const profile_point *tl = profile_points_in(q->c->pr, id, q->from, q->to, &n);
    if (!n) continue;
    size_t i = an_first_at(tl, n, q->from);
    while (i < n && tl[i].ts < q->to && !q->anchor[tl[i].kind]) i++;
    if (i == n || tl[i].ts >= q->to) continue;
    if (pt->npaths == pt->cap) {
      size_t cap = pt->cap ? pt->cap * 2 : 4096;
      uint32_t *p = cx_realloc(pt->paths, cap * D * sizeof *p);
      if (!p) {
        pt->rc = CX_ENOMEM;
        return;
      }
      pt->paths = p;
      pt->cap = cap;
    }
    uint32_t *out = &pt->paths[pt->npaths++ * D];
    memset(out, 0, D * sizeof *out);
    uint32_t last = q->name_of[tl[i].kind];
    size_t k = 0;
    if (q->backward) {
      for (size_t j = i; j-- > 0 && k < D;) {
        uint32_t nm = q->name_of[tl[j].kind];
        if (nm && nm != last) out[k++] = last = nm;
      }
    } else {
      for (size_t j = i + 1; j < n && k < D; j++) {
        uint32_t nm = q->name_of[tl[j].kind];
        if (nm && nm != last) out[k++] = last = nm; /* repeats in a row count once */
      }
    }
  }
}

static int by_count(const void *a, const void *b, void *ctx) { /* most first, then by name id */
  const uint64_t *count = ctx;
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  if (count[x] != count[y]) return count[x] > count[y] ? -1 : 1;
  return (x > y) - (x < y);
}

/* Node ids: per step, slot 1..limit for kept names, limit + 1 "(other)". */
static cx_err answer(paths *q, cx_buf *out, int64_t started) {
  size_t D = (size_t)q->depth, N = q->nnames + 1, L = (size_t)q->limit + 2, total = 0;
  for (size_t t = 0; t < ANALYTICS_THREADS; t++) total += q->parts[t].npaths;
  uint64_t *cnt = cx_calloc(D * N, sizeof *cnt);    /* [step][name] */
  uint32_t *slot = cx_calloc(D * N, sizeof *slot);  /* [step][name] -> node slot */
  uint32_t *kept = cx_calloc(D * L, sizeof *kept);  /* [step][slot] -> name */
  uint64_t *node = cx_calloc(D * L, sizeof *node);  /* [step][slot] customers */
  uint64_t *link = cx_calloc(D * L * L, sizeof *link); /* [step][from slot][to slot] */
  uint32_t *order = cx_malloc(N * sizeof *order);
  cx_err rc = cnt && slot && kept && node && link && order ? CX_OK : CX_ENOMEM;
  if (rc) goto out;
  for (size_t t = 0; t < ANALYTICS_THREADS; t++)
    for (size_t p = 0; p < q->parts[t].npaths; p++)
      for (size_t k = 0; k < D; k++) cnt[k * N + q->parts[t].paths[p * D + k]]++;
  for (size_t k = 0; k < D; k++) {
    size_t m = 0;
    for (uint32_t nm = 1; nm < N; nm++)
      if (cnt[k * N + nm]) order[m++] = nm;
    qsort_r(order, m, sizeof *order, by_count, &cnt[k * N]);
    for (size_t i = 0; i < m; i++) {
      uint32_t s = i < (size_t)q->limit ? (uint32_t)i + 1 : (uint32_t)L - 1;
      slot[k * N + order[i]] = s;
      if (s < L - 1) kept[k * L + s] = order[i];
    }
  }
  for (size_t t = 0; t < ANALYTICS_THREADS; t++)
    for (size_t p = 0; p < q->parts[t].npaths; p++) {
      const uint32_t *path = &q->parts[t].paths[p * D];
      uint32_t from = 0; /* the anchor's node */
      for (size_t k = 0; k < D && path[k] != END; k++) {
        uint32_t to = slot[k * N + path[k]];
        node[k * L + to]++;
        link[(k * L + from) * L + to]++;
        from = to;
      }
    }
  rc = cx_buf_puts(out, "{\"event\":");
  if (!rc) rc = cx_buf_json_str(out, q->event, strlen(q->event));
  if (!rc) rc = cx_buf_printf(out, ",\"direction\":\"%s\",\"depth\":%lld,\"customers\":%zu,\"nodes\":[",
                              q->backward ? "previous" : "next", (long long)q->depth, total);
  char id[300];
  size_t nid;
#define NODE_ID(step, name) (nid = (size_t)snprintf(id, sizeof id, "%zu:%s", (size_t)(step), (name)), \
                             nid >= sizeof id ? sizeof id - 1 : nid)
  if (!rc) rc = cx_buf_puts(out, "{\"id\":");
  if (!rc) rc = cx_buf_json_str(out, id, NODE_ID(0, q->event));
  if (!rc) rc = cx_buf_puts(out, ",\"step\":0,\"event\":");
  if (!rc) rc = cx_buf_json_str(out, q->event, strlen(q->event));
  if (!rc) rc = cx_buf_printf(out, ",\"customers\":%zu}", total);
  for (size_t k = 0; !rc && k < D; k++)
    for (size_t s = 1; !rc && s < L; s++) {
      if (!node[k * L + s]) continue;
      const char *name = s < L - 1 ? q->names[kept[k * L + s]] : "(other)";
      rc = cx_buf_puts(out, ",{\"id\":");
      if (!rc) rc = cx_buf_json_str(out, id, NODE_ID(k + 1, name));
      if (!rc) rc = cx_buf_printf(out, ",\"step\":%zu,\"event\":", k + 1);
      if (!rc) rc = cx_buf_json_str(out, name, strlen(name));
      if (!rc) rc = cx_buf_printf(out, ",\"customers\":%llu}", (unsigned long long)node[k * L + s]);
    }
  if (!rc) rc = cx_buf_puts(out, "],\"links\":[");
  int first = 1;
  for (size_t k = 0; !rc && k < D; k++)
    for (size_t a = 0; !rc && a < L; a++)
      for (size_t b = 1; !rc && b < L; b++) {
        uint64_t v = link[(k * L + a) * L + b];
        if (!v) continue;
        const char *an = k == 0 ? q->event : a < L - 1 ? q->names[kept[(k - 1) * L + a]] : "(other)";
        const char *bn = b < L - 1 ? q->names[kept[k * L + b]] : "(other)";
        rc = cx_buf_puts(out, first ? "{\"source\":" : ",{\"source\":");
        first = 0;
        if (!rc) rc = cx_buf_json_str(out, id, NODE_ID(k, an));
        if (!rc) rc = cx_buf_puts(out, ",\"target\":");
        if (!rc) rc = cx_buf_json_str(out, id, NODE_ID(k + 1, bn));
        if (!rc) rc = cx_buf_printf(out, ",\"customers\":%llu}", (unsigned long long)v);
      }
#undef NODE_ID
  if (!rc) rc = cx_buf_puts(out, "],");
  if (!rc) rc = an_took(out, started);
  if (!rc) rc = cx_buf_puts(out, "}");
out:
  cx_free(cnt);
  cx_free(slot);
  cx_free(kept);
  cx_free(node);
  cx_free(link);
  cx_free(order);
  return rc;
}

static int by_name(const void *a, const void *b, void *ctx) {
  const profile *p = ctx;
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  int c = strcmp(profile_kind_name(p, x, NULL), profile_kind_name(p, y, NULL));
  return c ? c : (x > y) - (x < y);
}

/* Distinct event names over the kinds: name_of[kind] and names[id]; kinds
 * sorted by name, so that those sharing one (a page and a track event)
 * are neighbours. */
static cx_err name_kinds(paths *q) {
  uint32_t nk = profile_kind_count(q->c->pr);
  q->name_of = cx_calloc((size_t)nk + 1, sizeof *q->name_of);
  q->names = cx_calloc((size_t)nk + 1, sizeof *q->names);
  q->anchor = cx_calloc((size_t)nk + 1, 1);
  uint32_t *order = cx_malloc(((size_t)nk + 1) * sizeof *order);
  if (!q->name_of || !q->names || !q->anchor || !order) {
    cx_free(order);
    return CX_ENOMEM;
  }
  size_t m = 0;
  for (uint32_t k = 1; k <= nk; k++)
    if (*profile_kind_name(q->c->pr, k, NULL)) order[m++] = k;
  qsort_r(order, m, sizeof *order, by_name, (void *)q->c->pr);
  for (size_t i = 0; i < m; i++) {
    uint32_t k = order[i];
    const char *nm = profile_kind_name(q->c->pr, k, NULL);
    if (!i || strcmp(nm, q->names[q->nnames])) q->names[++q->nnames] = nm;
    q->name_of[k] = (uint32_t)q->nnames;
    if (!strcmp(nm, q->event)) q->anchor[k] = 1;
  }
  cx_free(order);
  return CX_OK;
}

cx_err analytics_paths(const analytics_ctx *c, const cJSON *req, cx_buf *out,
                       analytics_error *err) {
  int64_t started = cx_mono_ns();
  paths *q = cx_calloc(1, sizeof *q);
  if (!q) return CX_ENOMEM;
  q->c = c;
  q->depth = 3;
  q->limit = 8;
  const char *dir = NULL;
  cx_err rc;
  if ((rc = an_get_string(req, "event", 1, &q->event, err)) ||
      (rc = an_get_string(req, "direction", 0, &dir, err)) ||
      (rc = an_get_int(req, "depth", 1, ANALYTICS_MAX_DEPTH, &q->depth, err)) ||
      (rc = an_get_int(req, "limit", 1, ANALYTICS_MAX_LIMIT, &q->limit, err)) ||
      (rc = an_get_time(req, "from", &q->from, err)) || (rc = an_get_time(req, "to", &q->to, err)))
    goto done;
  if (dir && strcmp(dir, "next") && strcmp(dir, "previous")) {
    rc = an_fail(err, "invalid_field", "direction", "direction must be next or previous.");
    goto done;
  }
  q->backward = dir && !strcmp(dir, "previous");
  if (q->to <= q->from) {
    rc = an_fail(err, "invalid_field", "to", "to must be after from.");
    goto done;
  }
  profile_read_begin(c->pr);
  if (!(rc = name_kinds(q))) {
    int known = 0;
    for (uint32_t k = 1; k <= profile_kind_count(c->pr); k++) known |= q->anchor[k];
    if (!known)
      rc = an_fail(err, "unknown_event", "event", "No customer has sent the event \"%.120s\".", q->event);
  }
  if (!rc) an_parallel(ANALYTICS_THREADS, profile_max_id(c->pr), scan, q);
  for (size_t t = 0; !rc && t < ANALYTICS_THREADS; t++) rc = q->parts[t].rc;
  if (!rc) rc = answer(q, out, started);
  profile_read_end(c->pr);
done:
  for (size_t t = 0; t < ANALYTICS_THREADS; t++) cx_free(q->parts[t].paths);
  cx_free(q->name_of);
  cx_free(q->names);
  cx_free(q->anchor);
  cx_free(q);
  return rc;
}
