/* metrics.c - NPS, CSAT and CES over the index of scored answers, with
 * confidence intervals, breakdowns, a series by interval and a test
 * between two periods (docs/feedback-metrics.md). One pass over the
 * index fills a histogram of scores per cell; every figure comes from
 * the histograms. */
#include "feedback_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BUCKETS 400
#define MAX_GROUPS 50
#define MAX_CELLS 200000 /* groups x intervals of one answer (8.8 MB of histograms) */
#define Z95 1.959963984540054
#define DAY_MS 86400000LL

typedef struct {
  uint32_t h[11]; /* answers by score 0..10 */
} hist;

typedef struct {
  double value; /* nps points, csat %, ces mean; NAN when n = 0 */
  double lo, hi;
  double mean, var; /* of the per-answer variable the test compares */
  uint64_t n;
} figure;

static void figure_of(feedback_metric_kind k, const hist *x, figure *f) {
  uint64_t n = 0;
  for (int i = 0; i < 11; i++) n += x->h[i];
  *f = (figure){.value = NAN, .lo = NAN, .hi = NAN, .n = n};
  if (!n) return;
  double dn = (double)n;
  if (k == FEEDBACK_NPS) {
    double p = 0, d = 0;
    for (int i = 0; i <= 6; i++) d += x->h[i];
    p = (double)x->h[9] + x->h[10];
    double m = (p - d) / dn, v = (p + d) / dn - m * m; /* of +1 / 0 / -1 */
    double se = sqrt(v / dn);
    f->value = 100 * m, f->lo = 100 * fmax(-1, m - Z95 * se), f->hi = 100 * fmin(1, m + Z95 * se);
    f->mean = m, f->var = v;
  } else if (k == FEEDBACK_CSAT) {
    double s = (double)x->h[4] + x->h[5], ph = s / dn, z2 = Z95 * Z95; /* Wilson */
    double c = (ph + z2 / (2 * dn)) / (1 + z2 / dn);
    double w = Z95 * sqrt(ph * (1 - ph) / dn + z2 / (4 * dn * dn)) / (1 + z2 / dn);
    f->value = 100 * ph, f->lo = 100 * fmax(0, c - w), f->hi = 100 * fmin(1, c + w);
    f->mean = ph, f->var = ph * (1 - ph);
  } else {
    double sum = 0, sq = 0;
    for (int i = 1; i <= 7; i++) sum += (double)i * x->h[i], sq += (double)i * i * x->h[i];
    double m = sum / dn, v = n > 1 ? (sq - dn * m * m) / (dn - 1) : 0;
    if (v < 0) v = 0;
    double se = sqrt(v / dn);
    f->value = m, f->lo = m - Z95 * se, f->hi = m + Z95 * se;
    f->mean = m, f->var = v;
  }
}

static cx_err put_num(cx_buf *b, double v) {
  return isnan(v) ? cx_buf_puts(b, "null") : cx_buf_printf(b, "%.4g", fabs(v) < 5e-5 ? 0.0 : v);
}

static const char *const metric_name[] = {"nps", "csat", "ces"};

/* The figure's members (no braces). */
static cx_err put_figure(cx_buf *b, feedback_metric_kind k, const hist *x) {
  figure f;
  figure_of(k, x, &f);
  cx_err rc = cx_buf_printf(b, "\"%s\":", metric_name[k]);
  if (!rc) rc = put_num(b, f.value);
  if (!rc) rc = cx_buf_printf(b, ",\"n\":%llu", (unsigned long long)f.n);
  if (!rc && k == FEEDBACK_NPS) {
    uint64_t d = 0;
    for (int i = 0; i <= 6; i++) d += x->h[i];
    rc = cx_buf_printf(b, ",\"promoters\":%u,\"passives\":%u,\"detractors\":%llu", x->h[9] + x->h[10], x->h[7] + x->h[8],
                       (unsigned long long)d);
  } else if (!rc && k == FEEDBACK_CSAT) {
    rc = cx_buf_printf(b, ",\"satisfied\":%u", x->h[4] + x->h[5]);
  } else if (!rc) {
    uint64_t agree = (uint64_t)x->h[5] + x->h[6] + x->h[7];
    rc = cx_buf_printf(b, ",\"agree\":%llu,\"agree_pct\":", (unsigned long long)agree);
    if (!rc) rc = put_num(b, f.n ? 100.0 * (double)agree / (double)f.n : NAN);
  }
  if (!rc && !f.n) rc = cx_buf_puts(b, ",\"ci95\":null");
  if (!rc && f.n) {
    rc = cx_buf_puts(b, ",\"ci95\":[");
    if (!rc) rc = put_num(b, f.lo);
    if (!rc) rc = cx_buf_puts(b, ",");
    if (!rc) rc = put_num(b, f.hi);
    if (!rc) rc = cx_buf_puts(b, "]");
  }
  if (!rc) {
    rc = cx_buf_puts(b, ",\"distribution\":[");
    int lo = k == FEEDBACK_NPS ? 0 : 1, hi = k == FEEDBACK_NPS ? 10 : k == FEEDBACK_CSAT ? 5 : 7;
    for (int i = lo; i <= hi && !rc; i++) rc = cx_buf_printf(b, "%s%u", i > lo ? "," : "", x->h[i]);
    if (!rc) rc = cx_buf_puts(b, "]");
  }
  return rc;
}

/* Start of the bucket after start, quarters included (interval 4). */
static int64_t next_start(int64_t start, int iv) {
  if (iv == 4) return cx_interval_next(cx_interval_next(cx_interval_next(start, CX_MONTH), CX_MONTH), CX_MONTH);
  return cx_interval_next(start, (cx_interval)iv);
}

static int64_t floor_start(int64_t ms, int iv) {
  if (iv != 4) return cx_interval_floor(ms, (cx_interval)iv);
  int64_t m = cx_interval_floor(ms, CX_MONTH);
  /* back to January, April, July or October */
  for (int i = 0; i < 3; i++) {
    char t[CX_TIME_LEN];
    cx_time_format(m, t);
    int month = (t[5] - '0') * 10 + (t[6] - '0');
    if ((month - 1) % 3 == 0) break;
    m = cx_interval_floor(m - 1, CX_MONTH);
  }
  return m;
}

static int bucket_of(const int64_t *starts, size_t n, int64_t ts) {
  size_t lo = 0, hi = n; /* the last start <= ts */
  while (lo + 1 < hi) {
    size_t mid = (lo + hi) / 2;
    if (starts[mid] <= ts) lo = mid;
    else hi = mid;
  }
  return (int)lo;
}

static double p_two_sided(double z) { return erfc(fabs(z) / sqrt(2.0)); }

/* 1 at [id] for each employee survey, up to the largest survey id in the
 * index (caller frees); *n its length. */
static cx_err employee_mask(feedback *f, uint8_t **out, size_t *n) {
  uint32_t max = 0;
  pthread_rwlock_rdlock(&f->lock);
  for (size_t j = 0; j < f->nspan; j++)
    if (f->span[j].survey > max) max = f->span[j].survey;
  pthread_rwlock_unlock(&f->lock);
  *n = (size_t)max + 1;
  *out = cx_calloc(*n, 1);
  if (!*out) return CX_ENOMEM;
  sqlite3 *db = store_reader_get(f->st);
  sqlite3_stmt *st;
  cx_err rc = sqlite3_prepare_v2(db, "SELECT id FROM surveys WHERE kind = 'employee'", -1, &st, NULL) ? CX_EDB : CX_OK;
  while (!rc && sqlite3_step(st) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0);
    if (id > 0 && (size_t)id < *n) (*out)[id] = 1;
  }
  sqlite3_finalize(st);
  store_reader_put(f->st, db);
  return rc;
}

/* ---- breakdowns by the customer: segments (overlapping) or a trait ---- */

typedef struct {
  size_t n;        /* groups: segments or trait values (key i + 1) */
  char **names;    /* owned */
  int64_t **members; /* segments: sorted root ids */
  size_t *nmembers;
  int64_t *hkey;   /* trait: open addressing, root id -> value */
  uint16_t *hval;
  int64_t *hts;
  size_t hcap;
} cust_groups;

static void cust_groups_free(cust_groups *g) {
  for (size_t i = 0; i < g->n; i++) {
    cx_free(g->names ? g->names[i] : NULL);
    if (g->members) cx_free(g->members[i]);
  }
  cx_free(g->names), cx_free(g->members), cx_free(g->nmembers);
  cx_free(g->hkey), cx_free(g->hval), cx_free(g->hts);
}

static char *dup_str(const char *s, size_t n) {
  char *d = cx_malloc(n + 1);
  if (d) memcpy(d, s, n), d[n] = 0;
  return d;
}

static cx_err load_segments(analytics_segments *seg, cust_groups *g) {
  cx_buf b;
  cx_buf_init(&b, 8 << 20);
  cx_err rc = analytics_segments_list(seg, &b);
  cJSON *l = rc ? NULL : cJSON_ParseWithLength(b.p, b.len);
  cx_buf_free(&b);
  const cJSON *arr = cJSON_GetObjectItem(l, "segments");
  size_t n = (size_t)cJSON_GetArraySize(arr);
  if (n > MAX_GROUPS) n = MAX_GROUPS;
  if (!rc && !l) rc = CX_ENOMEM;
  g->names = rc ? NULL : cx_calloc(n + 1, sizeof *g->names);
  g->members = rc ? NULL : cx_calloc(n + 1, sizeof *g->members);
  g->nmembers = rc ? NULL : cx_calloc(n + 1, sizeof *g->nmembers);
  if (!rc && (!g->names || !g->members || !g->nmembers)) rc = CX_ENOMEM;
  size_t i = 0;
  for (const cJSON *x = arr ? arr->child : NULL; !rc && x && i < n; x = x->next, i++) {
    const cJSON *id = cJSON_GetObjectItem(x, "id"), *name = cJSON_GetObjectItem(x, "name");
    g->n = i + 1;
    if (!cJSON_IsString(id) || !cJSON_IsString(name)) continue;
    if (!(g->names[i] = dup_str(name->valuestring, strlen(name->valuestring)))) rc = CX_ENOMEM;
    int64_t sid = atoll(id->valuestring), after = 0;
    size_t cap = 0;
    for (;;) {
      if (g->nmembers[i] + 65536 > cap) {
        size_t nc = cap ? 2 * cap : 65536;
        while (nc < g->nmembers[i] + 65536) nc *= 2;
        int64_t *m = cx_realloc(g->members[i], nc * sizeof *m);
        if (!m) {
          rc = CX_ENOMEM;
          break;
        }
        g->members[i] = m, cap = nc;
      }
      cx_err mrc = CX_OK;
      size_t got = analytics_segment_members(seg, sid, after, g->members[i] + g->nmembers[i], 65536, &mrc);
      if (mrc) break; /* deleted meanwhile: no members */
      g->nmembers[i] += got;
      if (got < 65536) break;
      after = g->members[i][g->nmembers[i] - 1];
    }
  }
  cJSON_Delete(l);
  return rc;
}

static size_t hslot(const cust_groups *g, int64_t key) {
  uint64_t h = (uint64_t)key * 0x9e3779b97f4a7c15ULL;
  for (size_t i = (size_t)(h >> 20) & (g->hcap - 1);; i = (i + 1) & (g->hcap - 1))
    if (!g->hkey[i] || g->hkey[i] == key) return i;
}

/* A trait's value per root customer: the newest over the customers merged into it. */
static cx_err load_trait(feedback *f, const char *key, cust_groups *g) {
  sqlite3 *db = store_reader_get(f->st);
  sqlite3_stmt *st = NULL;
  int64_t rows = 0;
  cx_err rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM traits WHERE key = ?1", -1, &st, NULL) ? CX_EDB : CX_OK;
  if (!rc) {
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) rows = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  st = NULL;
  g->hcap = 1024;
  while (g->hcap < (size_t)rows * 2) g->hcap *= 2;
  g->hkey = cx_calloc(g->hcap, sizeof *g->hkey);
  g->hval = cx_calloc(g->hcap, sizeof *g->hval);
  g->hts = cx_calloc(g->hcap, sizeof *g->hts);
  g->names = cx_calloc(MAX_GROUPS + 1, sizeof *g->names);
  if (!rc && (!g->hkey || !g->hval || !g->hts || !g->names)) rc = CX_ENOMEM;
  if (!rc && sqlite3_prepare_v2(db, "SELECT customer_id, value, ts FROM traits WHERE key = ?1", -1, &st, NULL)) rc = CX_EDB;
  if (!rc) sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  profile_read_begin(f->pr);
  while (!rc && sqlite3_step(st) == SQLITE_ROW) {
    int64_t root = profile_root_of(f->pr, sqlite3_column_int64(st, 0)), ts = sqlite3_column_int64(st, 2);
    const char *v = (const char *)sqlite3_column_text(st, 1);
    size_t vn = (size_t)sqlite3_column_bytes(st, 1);
    if (!root || !v) continue;
    char shown[FEEDBACK_MAX_CONTEXT + 1];
    if (vn >= 2 && v[0] == '"') { /* a JSON string: its text (escapes kept as written) */
      size_t m = vn - 2 < FEEDBACK_MAX_CONTEXT ? vn - 2 : FEEDBACK_MAX_CONTEXT;
      memcpy(shown, v + 1, m), shown[m] = 0;
    } else {
      size_t m = vn < FEEDBACK_MAX_CONTEXT ? vn : FEEDBACK_MAX_CONTEXT;
      memcpy(shown, v, m), shown[m] = 0;
    }
    uint16_t vi = 0;
    for (size_t i = 0; i < g->n && !vi; i++)
      if (!strcmp(g->names[i], shown)) vi = (uint16_t)(i + 1);
    if (!vi && g->n < MAX_GROUPS) {
      if (!(g->names[g->n] = dup_str(shown, strlen(shown)))) {
        rc = CX_ENOMEM;
        break;
      }
      vi = (uint16_t)++g->n;
    }
    if (!vi) continue; /* past MAX_GROUPS values: counted as none */
    size_t h = hslot(g, root);
    if (!g->hkey[h] || ts >= g->hts[h]) g->hkey[h] = root, g->hval[h] = vi, g->hts[h] = ts;
  }
  profile_read_end(f->pr);
  sqlite3_finalize(st);
  store_reader_put(f->st, db);
  return rc;
}

static int by_id(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* mask[k] = 1 for each key k of keys named in names[0..n) (the caller
 * holds the index's lock); mask has FEEDBACK_MAX_KEYS + 1 entries. */
static void key_mask(const fb_keys *keys, const char *const *names, size_t n, uint8_t *mask) {
  memset(mask, 0, FEEDBACK_MAX_KEYS + 1);
  for (size_t k = 1; k < keys->n && k <= FEEDBACK_MAX_KEYS; k++)
    for (size_t i = 0; i < n && !mask[k]; i++)
      if (names[i] && !strcmp(names[i], keys->s[k])) mask[k] = 1;
}

cx_err feedback_metric(feedback *f, feedback_metric_kind k, const feedback_query *q, cx_buf *out,
                       analytics_error *err) {
  int type = k == FEEDBACK_NPS ? Q_NPS : k == FEEDBACK_CSAT ? Q_CSAT : Q_CES;
  int by = -1; /* K_* or 5: survey, 6: segment, 7: a trait */
  cust_groups cg = {0};
  if (q->by) {
    static const char *const names[] = {NULL, "channel", "touchpoint", "unit", "agent", "survey", "segment"};
    for (int i = 1; i < 7; i++)
      if (!strcmp(q->by, names[i])) by = i;
    if (by < 0 && !strncmp(q->by, "traits.", 7) && q->by[7] && strlen(q->by) < 7 + 100) by = 7;
    if (by < 0)
      return analytics_refuse(err, "invalid_parameter", "by", "by must be channel, touchpoint, unit, agent, survey, segment or traits.<name>.");
    if (by == 6 && !q->seg) return analytics_refuse(err, "invalid_parameter", "by", "Segments are not available here.");
  }
  int iv = 0;
  if (q->interval) {
    if (!strcmp(q->interval, "quarter")) iv = 4;
    else if (cx_interval_parse(q->interval, (cx_interval *)&iv))
      return analytics_refuse(err, "invalid_parameter", "interval", "interval must be day, week, month or quarter.");
  }
  if (q->question && !q->survey)
    return analytics_refuse(err, "invalid_parameter", "question", "question needs survey: question ids belong to a survey.");
  if (q->survey) {
    const feedback_survey *s;
    cx_err rc = feedback_survey_acquire(f, q->survey, &s);
    if (rc == CX_ENOTFOUND) return analytics_refuse(err, "unknown_survey", "survey", "No survey has this id.");
    if (rc) return rc;
    int found = !q->question, typed = !q->question;
    for (size_t i = 0; i < s->nq && q->question; i++)
      if (!strcmp(s->q[i].id, q->question)) found = 1, typed = s->q[i].type == type;
    feedback_survey_release(f, s);
    if (!found) return analytics_refuse(err, "unknown_question", "question", "This survey has no question %.40s.", q->question);
    if (!typed) return analytics_refuse(err, "wrong_type", "question", "Question %.40s is not a %s question.", q->question, metric_name[k]);
  }
  if (by == 6 || by == 7) {
    cx_err rc = by == 6 ? load_segments(q->seg, &cg) : load_trait(f, q->by + 7, &cg);
    for (size_t i = 0; !rc && by == 6 && i < cg.n; i++)
      if (cg.members[i]) qsort(cg.members[i], cg.nmembers[i], sizeof *cg.members[i], by_id);
    if (rc) {
      cust_groups_free(&cg);
      return rc;
    }
  }
  /* every survey: the customers' (employee surveys' answers are eNPS) */
  uint8_t *emp = NULL;
  size_t nemp = 0;
  if (!q->survey) {
    cx_err rc = employee_mask(f, &emp, &nemp);
    if (rc) {
      cx_free(emp);
      cust_groups_free(&cg);
      return rc;
    }
  }
  /* roots of the customers: the profile before our lock, as the writer takes them */
  int rd = by >= 6 || q->customers;
  if (rd) profile_read_begin(f->pr);
  pthread_rwlock_rdlock(&f->lock);
  /* the context filters as masks over the interned keys (0: none, never in) */
  uint8_t tpmask[FEEDBACK_MAX_KEYS + 1], unitmask[FEEDBACK_MAX_KEYS + 1];
  if (q->touchpoints) key_mask(&f->keys[K_TOUCHPOINT], q->touchpoints, q->ntouchpoints, tpmask);
  if (q->units) key_mask(&f->keys[K_UNIT], q->units, q->nunits, unitmask);
  uint16_t qk = 0;
  int no_question = 0;
  if (q->question) {
    no_question = 1;
    for (size_t i = 1; i < f->keys[K_QUESTION].n; i++)
      if (!strcmp(f->keys[K_QUESTION].s[i], q->question)) qk = (uint16_t)i, no_question = 0;
  }
  int64_t from = q->from, to = q->to;
  /* the series' buckets: from the first answer when from is open */
  int64_t starts[MAX_BUCKETS + 1];
  size_t nb = 0;
  if (iv) {
    int64_t lo = from, hi = to;
    if (from <= CX_TIME_MIN || to >= CX_TIME_MAX) { /* the answers' own span */
      int64_t mn = INT64_MAX, mx = INT64_MIN;
      int t = type & 3;
      for (size_t j = 0; j < f->nspan; j++) {
        if (q->survey && f->span[j].survey != q->survey) continue;
        if (f->span[j].lo[t] < mn) mn = f->span[j].lo[t];
        if (f->span[j].hi[t] > mx) mx = f->span[j].hi[t];
      }
      if (mn < from) mn = from;
      if (mx >= to) mx = to - 1;
      if (from <= CX_TIME_MIN) lo = mn == INT64_MAX || mn > mx ? to : mn;
      if (to >= CX_TIME_MAX) hi = mx == INT64_MIN || mn > mx ? lo : mx + 1;
    }
    for (int64_t t = floor_start(lo, iv); t < hi && nb <= MAX_BUCKETS; t = next_start(t, iv)) starts[nb++] = t;
    if (nb > MAX_BUCKETS) {
      pthread_rwlock_unlock(&f->lock);
    cx_free(emp);
    cust_groups_free(&cg);
    if (rd) profile_read_end(f->pr);
      return analytics_refuse(err, "invalid_parameter", "interval", "That makes more than %d intervals: take a longer interval or a shorter range.", MAX_BUCKETS);
    }
  }
  size_t ngk = by < 0 ? 0 : by >= 5 ? 0 : f->keys[by].n ? f->keys[by].n : 1;
  if (by >= 6) ngk = cg.n + 1;
  /* groups by survey: survey ids are small; map through a scan */
  uint32_t max_survey = 0;
  if (by == 5)
    for (size_t j = 0; j < f->nspan; j++)
      if (f->span[j].survey > max_survey) max_survey = f->span[j].survey;
  if (by == 5) ngk = (size_t)max_survey + 1;
  /* by and interval together: each group's series too (a grid) */
  size_t ncell = by > 0 && nb ? ngk * nb : 0;
  if (ncell > MAX_CELLS) {
    pthread_rwlock_unlock(&f->lock);
    cx_free(emp);
    cust_groups_free(&cg);
    if (rd) profile_read_end(f->pr);
    return analytics_refuse(err, "invalid_parameter", "interval",
                            "by and interval together make %zu cells (at most %d): take a longer interval or a shorter range.", ncell, MAX_CELLS);
  }
  hist total = {{0}}, prev = {{0}};
  hist *buck = cx_calloc(nb + 1, sizeof *buck), *grp = cx_calloc(ngk + 1, sizeof *grp);
  hist *grid = ncell ? cx_calloc(ncell, sizeof *grid) : NULL;
  if (!buck || !grp || (ncell && !grid)) {
    pthread_rwlock_unlock(&f->lock);
    cx_free(emp);
    cust_groups_free(&cg);
    if (rd) profile_read_end(f->pr);
    cx_free(buck), cx_free(grp), cx_free(grid);
    return CX_ENOMEM;
  }
  int cmp = q->compare_to > q->compare_from;
  /* the interval of an answer by its day: every start is a UTC midnight */
  uint16_t *daytab = NULL;
  int64_t day0 = nb ? starts[0] : 0, ndays = 0;
  if (nb) {
    int64_t end = next_start(starts[nb - 1], iv);
    ndays = (end - day0) / DAY_MS;
    daytab = cx_malloc((size_t)ndays * sizeof *daytab);
    if (!daytab) {
      pthread_rwlock_unlock(&f->lock);
    cx_free(emp);
    cust_groups_free(&cg);
    if (rd) profile_read_end(f->pr);
      cx_free(buck), cx_free(grp), cx_free(grid);
      return CX_ENOMEM;
    }
    for (int64_t d = 0; d < ndays; d++) daytab[d] = (uint16_t)bucket_of(starts, nb, day0 + d * DAY_MS);
  }
  const fb_hot *hot = f->hot;
  const fb_cold *cold = f->cold;
  uint32_t want_survey = (uint32_t)q->survey;
  for (size_t i = 0; i < f->nsc && !no_question; i++) {
    const fb_hot *x = &hot[i];
    if (x->type != type || (want_survey && x->survey != want_survey) || (qk && cold[i].question != qk)) continue;
    if (emp && (x->survey >= nemp || emp[x->survey])) continue; /* nemp: ids past it came after the mask */
    if ((q->touchpoints && !tpmask[cold[i].touchpoint]) || (q->units && !unitmask[cold[i].unit])) continue;
    if (q->customers) {
      int64_t root = profile_root_of(f->pr, cold[i].customer);
      if (!q->ncustomers || !bsearch(&root, q->customers, q->ncustomers, sizeof root, by_id)) continue;
    }
    if (cmp && x->ts >= q->compare_from && x->ts < q->compare_to) prev.h[x->score]++;
    if (x->ts < from || x->ts >= to) continue;
    total.h[x->score]++;
    int bi = 0;
    if (nb) {
      int64_t d = (x->ts - day0) / DAY_MS;
      if (x->ts < day0 || d >= ndays) continue; /* outside the series: cannot be, as from..to lies within */
      bi = daytab[d];
      buck[bi].h[x->score]++;
    }
    if (by == 6) { /* every segment the customer is in, or none */
      int64_t root = profile_root_of(f->pr, cold[i].customer);
      int in = 0;
      for (size_t sgi = 0; sgi < cg.n; sgi++)
        if (cg.members[sgi] && bsearch(&root, cg.members[sgi], cg.nmembers[sgi], sizeof root, by_id)) {
          grp[sgi + 1].h[x->score]++;
          if (grid) grid[(sgi + 1) * nb + (size_t)bi].h[x->score]++;
          in = 1;
        }
      if (!in) {
        grp[0].h[x->score]++;
        if (grid) grid[(size_t)bi].h[x->score]++;
      }
    } else if (by > 0) {
      size_t g;
      if (by == 7) {
        int64_t root = profile_root_of(f->pr, cold[i].customer);
        size_t h = root ? hslot(&cg, root) : 0;
        g = root && cg.hkey[h] == root ? cg.hval[h] : 0;
      } else {
        g = by == 5 ? x->survey : by == K_CHANNEL ? x->channel : by == K_TOUCHPOINT ? cold[i].touchpoint
                               : by == K_UNIT ? cold[i].unit : cold[i].agent;
      }
      if (g < ngk) {
        grp[g].h[x->score]++;
        if (grid) grid[g * nb + (size_t)bi].h[x->score]++;
      }
    }
  }
  if (rd) profile_read_end(f->pr);
  cx_err rc = cx_buf_puts(out, "{");
  if (!rc) rc = put_figure(out, k, &total);
  if (!rc && by > 0) {
    rc = cx_buf_printf(out, ",\"by\":\"%s\",\"groups\":[", q->by);
    /* biggest first, at most MAX_GROUPS */
    size_t order[MAX_GROUPS], no = 0;
    for (size_t g = 0; g < ngk; g++) {
      uint64_t n = 0;
      for (int s = 0; s < 11; s++) n += grp[g].h[s];
      if (!n) continue;
      size_t at = no < MAX_GROUPS ? no++ : MAX_GROUPS;
      if (at == MAX_GROUPS) {
        uint64_t nl = 0;
        for (int s = 0; s < 11; s++) nl += grp[order[MAX_GROUPS - 1]].h[s];
        if (n <= nl) continue;
        at = MAX_GROUPS - 1;
      }
      order[at] = g;
      while (at > 0) { /* insertion: keep order by n, descending */
        uint64_t a = 0, b = 0;
        for (int s = 0; s < 11; s++) a += grp[order[at]].h[s], b += grp[order[at - 1]].h[s];
        if (a <= b) break;
        size_t t = order[at];
        order[at] = order[at - 1], order[at - 1] = t;
        at--;
      }
    }
    for (size_t i = 0; i < no && !rc; i++) {
      size_t g = order[i];
      rc = cx_buf_puts(out, i ? ",{\"key\":" : "{\"key\":");
      if (!rc) {
        if (by == 5) rc = cx_buf_printf(out, "\"%zu\"", g);
        else if (!g) rc = cx_buf_puts(out, "null");
        else if (by >= 6) rc = cg.names[g - 1] ? cx_buf_json_str(out, cg.names[g - 1], strlen(cg.names[g - 1])) : cx_buf_puts(out, "null");
        else rc = cx_buf_json_str(out, f->keys[by].s[g], strlen(f->keys[by].s[g]));
      }
      if (!rc) rc = cx_buf_puts(out, ",");
      if (!rc) rc = put_figure(out, k, &grp[g]);
      for (size_t j = 0; grid && j < nb && !rc; j++) {
        rc = cx_buf_puts(out, j ? ",{\"start\":" : ",\"series\":[{\"start\":");
        if (!rc) rc = cx_buf_json_time(out, starts[j]);
        if (!rc) rc = cx_buf_puts(out, ",");
        if (!rc) rc = put_figure(out, k, &grid[g * nb + j]);
        if (!rc) rc = cx_buf_puts(out, j + 1 == nb ? "}]" : "}");
      }
      if (!rc) rc = cx_buf_puts(out, "}");
    }
    if (!rc) rc = cx_buf_puts(out, "]");
  }
  if (!rc && nb) {
    rc = cx_buf_printf(out, ",\"interval\":\"%s\",\"series\":[", q->interval);
    for (size_t i = 0; i < nb && !rc; i++) {
      rc = cx_buf_puts(out, i ? ",{\"start\":" : "{\"start\":");
      if (!rc) rc = cx_buf_json_time(out, starts[i]);
      if (!rc) rc = cx_buf_puts(out, ",");
      if (!rc) rc = put_figure(out, k, &buck[i]);
      if (!rc) rc = cx_buf_puts(out, "}");
    }
    if (!rc) rc = cx_buf_puts(out, "]");
  }
  if (!rc && cmp) {
    figure a, b;
    figure_of(k, &total, &a);
    figure_of(k, &prev, &b);
    rc = cx_buf_puts(out, ",\"compare\":{\"from\":");
    if (!rc) rc = cx_buf_json_time(out, q->compare_from);
    if (!rc) rc = cx_buf_puts(out, ",\"to\":");
    if (!rc) rc = cx_buf_json_time(out, q->compare_to);
    if (!rc) rc = cx_buf_puts(out, ",");
    if (!rc) rc = put_figure(out, k, &prev);
    double z = NAN, p = NAN;
    if (a.n > 1 && b.n > 1) {
      double se;
      if (k == FEEDBACK_CSAT) { /* two proportions, pooled */
        double pool = (a.mean * (double)a.n + b.mean * (double)b.n) / (double)(a.n + b.n);
        se = sqrt(pool * (1 - pool) * (1.0 / (double)a.n + 1.0 / (double)b.n));
      } else {
        se = sqrt(a.var / (double)a.n + b.var / (double)b.n);
      }
      if (se > 0) z = (a.mean - b.mean) / se, p = p_two_sided(z);
    }
    if (!rc) rc = cx_buf_puts(out, ",\"change\":");
    if (!rc) rc = put_num(out, a.n && b.n ? a.value - b.value : NAN);
    if (!rc) rc = cx_buf_puts(out, ",\"z\":");
    if (!rc) rc = put_num(out, z);
    if (!rc) rc = cx_buf_puts(out, ",\"p_value\":");
    if (!rc) rc = put_num(out, p);
    if (!rc) rc = cx_buf_printf(out, ",\"significant\":%s}", !isnan(p) && p < 0.05 ? "true" : "false");
  }
  pthread_rwlock_unlock(&f->lock);
  if (!rc) rc = cx_buf_puts(out, ",\"from\":");
  if (!rc) rc = from <= CX_TIME_MIN ? cx_buf_puts(out, "null") : cx_buf_json_time(out, from);
  if (!rc) rc = cx_buf_puts(out, ",\"to\":");
  if (!rc) rc = to >= CX_TIME_MAX ? cx_buf_puts(out, "null") : cx_buf_json_time(out, to);
  if (!rc) rc = cx_buf_puts(out, "}");
  cx_free(buck), cx_free(grp), cx_free(grid), cx_free(daytab), cx_free(emp);
  cust_groups_free(&cg);
  return rc;
}

/* ---- eNPS beside the CX of the customers each team served ---- */

cx_err feedback_enps_cx(feedback *f, feedback_metric_kind cx, int64_t from, int64_t to, uint64_t min_n, cx_buf *out,
                        analytics_error *err) {
  if (cx == FEEDBACK_CES)
    return analytics_refuse(err, "invalid_parameter", "cx", "cx must be nps or csat.");
  uint8_t *emp = NULL;
  size_t nemp = 0;
  cx_err rc = employee_mask(f, &emp, &nemp);
  if (rc) {
    cx_free(emp);
    return rc;
  }
  int ctype = cx == FEEDBACK_NPS ? Q_NPS : Q_CSAT;
  pthread_rwlock_rdlock(&f->lock);
  size_t nu = f->keys[K_UNIT].n ? f->keys[K_UNIT].n : 1;
  hist *e = cx_calloc(nu, sizeof *e), *c = cx_calloc(nu, sizeof *c);
  if (!e || !c) rc = CX_ENOMEM;
  for (size_t i = 0; !rc && i < f->nsc; i++) {
    const fb_hot *x = &f->hot[i];
    uint16_t u = f->cold[i].unit;
    if (!u || u >= nu || x->ts < from || x->ts >= to || x->survey >= nemp) continue;
    if (emp[x->survey]) {
      if (x->type == Q_NPS) e[u].h[x->score]++;
    } else if (x->type == ctype) {
      c[u].h[x->score]++;
    }
  }
  /* the units with enough answers of both */
  double xs[FEEDBACK_MAX_KEYS], ys[FEEDBACK_MAX_KEYS];
  size_t k = 0;
  if (!rc) rc = cx_buf_printf(out, "{\"cx_metric\":\"%s\",\"min_n\":%llu,\"units\":[", metric_name[cx], (unsigned long long)min_n);
  for (size_t u = 1; !rc && u < nu; u++) {
    figure fe, fc;
    figure_of(FEEDBACK_NPS, &e[u], &fe);
    figure_of(cx, &c[u], &fc);
    if (!fe.n && !fc.n) continue;
    int both = fe.n >= min_n && fc.n >= min_n;
    rc = cx_buf_puts(out, out->len && out->p[out->len - 1] == '[' ? "{\"unit\":" : ",{\"unit\":");
    if (!rc) rc = cx_buf_json_str(out, f->keys[K_UNIT].s[u], strlen(f->keys[K_UNIT].s[u]));
    if (!rc) rc = cx_buf_puts(out, ",\"enps\":");
    if (!rc) rc = put_num(out, fe.value);
    if (!rc) rc = cx_buf_printf(out, ",\"enps_n\":%llu,\"cx\":", (unsigned long long)fe.n);
    if (!rc) rc = put_num(out, fc.value);
    if (!rc) rc = cx_buf_printf(out, ",\"cx_n\":%llu,\"in_correlation\":%s}", (unsigned long long)fc.n, both ? "true" : "false");
    if (both && k < FEEDBACK_MAX_KEYS) xs[k] = fe.value, ys[k] = fc.value, k++;
  }
  pthread_rwlock_unlock(&f->lock);
  /* Pearson's r over the units, with a t test of r = 0 */
  double r = NAN, p = NAN;
  if (k >= 3) {
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < k; i++) mx += xs[i], my += ys[i];
    mx /= (double)k, my /= (double)k;
    for (size_t i = 0; i < k; i++)
      sxy += (xs[i] - mx) * (ys[i] - my), sxx += (xs[i] - mx) * (xs[i] - mx), syy += (ys[i] - my) * (ys[i] - my);
    if (sxx > 0 && syy > 0) {
      r = sxy / sqrt(sxx * syy);
      if (k > 3 && fabs(r) < 1) { /* Student's t with k - 2 degrees of freedom (GSL) */
        double t = fabs(r) * sqrt((double)(k - 2) / (1 - r * r));
        p = 2 * gsl_cdf_tdist_Q(t, (double)(k - 2));
      }
    }
  }
  if (!rc) rc = cx_buf_printf(out, "],\"units_compared\":%zu,\"correlation\":", k);
  if (!rc) rc = put_num(out, r);
  if (!rc) rc = cx_buf_puts(out, ",\"p_value\":");
  if (!rc) rc = put_num(out, p);
  if (!rc) rc = cx_buf_puts(out, "}");
  cx_free(e), cx_free(c), cx_free(emp);
  return rc;
}

/* ---- scores by touchpoint (journey maps) ---- */

cx_err feedback_touchpoint_scores(feedback *f, const char *const *names, size_t n, int64_t from, int64_t to,
                                  feedback_tp_scores *out) {
  uint8_t *emp = NULL;
  size_t nemp = 0;
  cx_err rc = employee_mask(f, &emp, &nemp);
  if (rc) {
    cx_free(emp);
    return rc;
  }
  pthread_rwlock_rdlock(&f->lock);
  size_t nk = f->keys[K_TOUCHPOINT].n;
  int32_t *slot = nk ? cx_malloc(nk * sizeof *slot) : NULL; /* touchpoint key -> first name at it */
  hist (*h)[3] = cx_calloc(n ? n : 1, sizeof *h);
  if ((nk && !slot) || !h) rc = CX_ENOMEM;
  for (size_t k = 0; !rc && k < nk; k++) {
    slot[k] = -1;
    for (size_t i = 0; k && i < n && slot[k] < 0; i++)
      if (names[i] && !strcmp(names[i], f->keys[K_TOUCHPOINT].s[k])) slot[k] = (int32_t)i;
  }
  for (size_t i = 0; !rc && nk && i < f->nsc; i++) {
    uint16_t tp = f->cold[i].touchpoint;
    const fb_hot *x = &f->hot[i];
    if (!tp || tp >= nk || slot[tp] < 0 || x->type > Q_CES || x->ts < from || x->ts >= to) continue;
    if (x->survey >= nemp || emp[x->survey]) continue;
    h[slot[tp]][x->type].h[x->score]++;
  }
  pthread_rwlock_unlock(&f->lock);
  for (size_t i = 0; !rc && i < n; i++) {
    figure fg[3];
    figure_of(FEEDBACK_NPS, &h[i][Q_NPS], &fg[0]);
    figure_of(FEEDBACK_CSAT, &h[i][Q_CSAT], &fg[1]);
    figure_of(FEEDBACK_CES, &h[i][Q_CES], &fg[2]);
    out[i] = (feedback_tp_scores){.nps = fg[0].value, .nps_n = fg[0].n, .csat = fg[1].value, .csat_n = fg[1].n,
                                  .ces = fg[2].value, .ces_n = fg[2].n};
    /* the measured emotion on the maps' -2..2 scale: the mean of what
     * there is, each mapped linearly (NPS -100..100, CSAT 0..100 %, CES 1..7) */
    double sum = 0;
    int m = 0;
    if (fg[0].n) sum += fg[0].value / 50.0, m++;
    if (fg[1].n) sum += (fg[1].value - 50.0) / 25.0, m++;
    if (fg[2].n) sum += (fg[2].value - 4.0) / 1.5, m++;
    out[i].emotion = m ? fmax(-2, fmin(2, sum / m)) : NAN;
  }
  cx_free(slot), cx_free(h), cx_free(emp);
  return rc;
}
