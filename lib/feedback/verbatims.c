/* verbatims.c - the customers' own words: every text answer scored for
 * sentiment, tagged with themes and key phrases (lib/text) when the
 * response is taken, stored beside it in the same transaction, listed with
 * filters, and summed up per theme with its impact on NPS
 * (docs/sentiment-and-themes.md). */
#include "feedback_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PHRASES 8

/* The longest prefix of s[0..n) of at most max bytes that ends on a
 * character boundary: text beyond TEXT_MAX_INPUT bytes is scored on its
 * first TEXT_MAX_INPUT bytes. */
static size_t utf8_prefix(const char *s, size_t n, size_t max) {
  if (n <= max) return n;
  size_t k = max;
  while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
  return k;
}

cx_err fb_verbatims_of(feedback *f, const feedback_survey *s, const cJSON *norm, fb_verbatim *out, size_t *n) {
  *n = 0;
  for (size_t i = 0; i < s->nq; i++) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(norm, s->q[i].id);
    if (!a || s->q[i].type != Q_TEXT || !cJSON_IsString(a)) continue;
    fb_verbatim *v = &out[(*n)++];
    memset(v, 0, sizeof *v);
    v->question = s->q[i].id;
    v->text = a->valuestring;
    size_t len = utf8_prefix(a->valuestring, strlen(a->valuestring), TEXT_MAX_INPUT);
    text_sentiment ts;
    cx_err rc = text_sentiment_of(f->text, a->valuestring, len, &ts);
    if (rc) return rc; /* checked UTF-8 before: only CX_ENOMEM */
    v->score = ts.score, v->label = ts.label;
    v->themes = text_themes_of(f->text, a->valuestring, len);
    text_phrase ph[MAX_PHRASES];
    size_t np = text_phrases_of(f->text, a->valuestring, len, ph, MAX_PHRASES);
    cx_buf_init(&v->phrases, 4096);
    for (size_t k = 0; k < np && !rc; k++) rc = cx_buf_printf(&v->phrases, "%s\t%s\n", ph[k].key, ph[k].shown);
    if (!rc) rc = cx_buf_append(&v->phrases, "", 1);
    if (rc) return rc;
  }
  return CX_OK;
}

void fb_verbatims_free(fb_verbatim *v, size_t n) {
  for (size_t i = 0; i < n; i++) cx_buf_free(&v[i].phrases);
}

cx_err fb_verbatims_write(feedback *f, sqlite3 *db, const fb_verbatim_of *o, const fb_verbatim *v, size_t n) {
  if (!n) return CX_OK;
  if (f->ins_verb_db != db) {
    sqlite3_finalize(f->ins_verb);
    f->ins_verb = NULL;
    f->ins_verb_db = NULL;
    if (sqlite3_prepare_v3(db, "INSERT INTO verbatims(response_id, question, survey_id, customer_id, submitted_at, nps,"
                               " channel, score, label, themes, phrases, text, rating, rating_type)"
                               " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                           -1, SQLITE_PREPARE_PERSISTENT, &f->ins_verb, NULL))
      return CX_EDB;
    f->ins_verb_db = db;
  }
  sqlite3_stmt *st = f->ins_verb;
  for (size_t i = 0; i < n; i++) {
    sqlite3_bind_int64(st, 1, o->response);
    sqlite3_bind_text(st, 2, v[i].question, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, o->survey);
    sqlite3_bind_int64(st, 4, o->customer);
    sqlite3_bind_int64(st, 5, o->submitted);
    if (o->nps >= 0) sqlite3_bind_int(st, 6, o->nps);
    else sqlite3_bind_null(st, 6);
    if (o->channel) sqlite3_bind_text(st, 7, o->channel, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, 7);
    if (o->rating >= 0) {
      sqlite3_bind_int(st, 13, o->rating);
      sqlite3_bind_text(st, 14, fb_type_name[o->rating_type], -1, SQLITE_STATIC);
    } else {
      sqlite3_bind_null(st, 13), sqlite3_bind_null(st, 14);
    }
    sqlite3_bind_double(st, 8, v[i].score);
    sqlite3_bind_int(st, 9, v[i].label);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)v[i].themes);
    sqlite3_bind_text(st, 11, v[i].phrases.p ? v[i].phrases.p : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, v[i].text, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (r != SQLITE_DONE) return CX_EDB;
  }
  return CX_OK;
}

/* ---- listing ---- */

static const char *label_name(int l) { return l < 0 ? "negative" : l > 0 ? "positive" : "neutral"; }

static cx_err theme_list(feedback *f, cx_buf *out, uint64_t themes) {
  cx_err rc = cx_buf_puts(out, "[");
  int first = 1;
  for (size_t t = 0; t < text_theme_count(f->text) && !rc; t++) {
    if (!(themes >> t & 1)) continue;
    const char *name = text_theme_name(f->text, t);
    if (!first) rc = cx_buf_puts(out, ",");
    if (!rc) rc = cx_buf_json_str(out, name, strlen(name));
    first = 0;
  }
  if (!rc) rc = cx_buf_puts(out, "]");
  return rc;
}

cx_err feedback_verbatims(feedback *f, const feedback_verbatim_query *q, cx_buf *out, analytics_error *err) {
  int64_t bit = 0;
  if (q->theme) {
    for (size_t t = 0; t < text_theme_count(f->text); t++)
      if (!strcmp(text_theme_name(f->text, t), q->theme)) bit = (int64_t)(1ULL << t);
    if (!bit) return analytics_refuse(err, "unknown_theme", "theme", "No theme is called %.60s: GET /api/v1/feedback/themes lists them.", q->theme);
  }
  int label = 2;
  if (q->sentiment) {
    if (!strcmp(q->sentiment, "negative")) label = -1;
    else if (!strcmp(q->sentiment, "neutral")) label = 0;
    else if (!strcmp(q->sentiment, "positive")) label = 1;
    else return analytics_refuse(err, "invalid_parameter", "sentiment", "sentiment must be positive, neutral or negative.");
  }
  char like[2 * 200 + 3];
  if (q->q) { /* a LIKE pattern with its wildcards escaped */
    size_t k = 0, n = strlen(q->q);
    if (!n || n > 200) return analytics_refuse(err, "invalid_parameter", "q", "q must be 1 to 200 bytes of text.");
    like[k++] = '%';
    for (size_t i = 0; i < n; i++) {
      if (q->q[i] == '%' || q->q[i] == '_' || q->q[i] == '\\') like[k++] = '\\';
      like[k++] = q->q[i];
    }
    like[k++] = '%';
    like[k] = 0;
  }
  sqlite3 *db = store_reader_get(f->st);
  sqlite3_stmt *s = NULL;
  cx_err rc = sqlite3_prepare_v2(db,
                                 "SELECT v.id, v.response_id, v.question, v.survey_id, v.customer_id, v.submitted_at,"
                                 " coalesce(v.nps, v.rating), v.channel, v.score, v.label, v.themes, v.text,"
                                 " CASE WHEN v.nps IS NOT NULL THEN 'nps' ELSE v.rating_type END, r.touchpoint, r.unit, r.agent FROM verbatims v"
                                 " JOIN responses r ON r.id = v.response_id AND r.replaced_by IS NULL"
                                 " WHERE (?1 = 0 OR v.survey_id = ?1) AND (?2 = 2 OR v.label = ?2) AND (?3 = 0 OR v.themes & ?3 != 0)"
                                 " AND (?4 IS NULL OR v.text LIKE ?4 ESCAPE '\\') AND (?5 = 0 OR v.id < ?5)"
                                 " AND v.submitted_at >= ?6 AND v.submitted_at < ?7"
                                 /* a caller scoped to a unit: responses whose unit is in its subtree */
                                 " AND (?9 = 0 OR r.unit IN (WITH RECURSIVE sub(id) AS (SELECT ?9 UNION"
                                 " SELECT u.id FROM units u JOIN sub ON u.parent_id = sub.id)"
                                 " SELECT name FROM units WHERE id IN sub))"
                                 " ORDER BY v.id DESC LIMIT ?8", -1, &s, NULL) ? CX_EDB : CX_OK;
  if (!rc) {
    sqlite3_bind_int64(s, 1, q->survey);
    sqlite3_bind_int(s, 2, label);
    sqlite3_bind_int64(s, 3, bit);
    if (q->q) sqlite3_bind_text(s, 4, like, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, q->cursor);
    sqlite3_bind_int64(s, 6, q->from);
    sqlite3_bind_int64(s, 7, q->to);
    sqlite3_bind_int64(s, 8, (int64_t)q->limit + 1);
    sqlite3_bind_int64(s, 9, q->unit_scope);
    rc = cx_buf_puts(out, "{\"responses\":[");
  }
  size_t n = 0;
  int64_t last = 0;
  while (!rc && sqlite3_step(s) == SQLITE_ROW) {
    if (n == q->limit) {
      n++;
      break;
    }
    last = sqlite3_column_int64(s, 0);
    rc = cx_buf_printf(out, "%s{\"id\":\"%lld\",\"response_id\":\"%lld\",\"survey_id\":\"%lld\",\"question\":", n ? "," : "",
                       (long long)last, (long long)sqlite3_column_int64(s, 1), (long long)sqlite3_column_int64(s, 3));
    if (!rc) rc = cx_buf_json_str(out, (const char *)sqlite3_column_text(s, 2), (size_t)sqlite3_column_bytes(s, 2));
    if (!rc) rc = cx_buf_printf(out, ",\"customer_id\":\"%lld\",\"submitted_at\":",
                                (long long)fb_root(f, sqlite3_column_int64(s, 4)));
    if (!rc) rc = cx_buf_json_time(out, sqlite3_column_int64(s, 5));
    if (!rc) rc = cx_buf_puts(out, ",\"text\":");
    if (!rc) rc = cx_buf_json_str(out, (const char *)sqlite3_column_text(s, 11), (size_t)sqlite3_column_bytes(s, 11));
    if (!rc) rc = sqlite3_column_type(s, 6) == SQLITE_NULL ? cx_buf_puts(out, ",\"score\":null,\"score_type\":null")
                                                         : cx_buf_printf(out, ",\"score\":%d,\"score_type\":\"%s\"", sqlite3_column_int(s, 6),
                                                                         (const char *)sqlite3_column_text(s, 12));
    if (!rc) rc = cx_buf_printf(out, ",\"sentiment\":{\"score\":%.4g,\"label\":\"%s\"},\"themes\":", sqlite3_column_double(s, 8),
                                label_name(sqlite3_column_int(s, 9)));
    if (!rc) rc = theme_list(f, out, (uint64_t)sqlite3_column_int64(s, 10));
    if (!rc) rc = cx_buf_puts(out, ",\"context\":{");
    /* the response's context: channel, touchpoint, unit, agent */
    static const struct {
      int col;
      const char *name;
    } ctx[] = {{7, "channel"}, {13, "touchpoint"}, {14, "unit"}, {15, "agent"}};
    for (size_t c = 0, k = 0; !rc && c < 4; c++) {
      if (sqlite3_column_type(s, ctx[c].col) == SQLITE_NULL) continue;
      rc = cx_buf_printf(out, "%s\"%s\":", k++ ? "," : "", ctx[c].name);
      if (!rc) rc = cx_buf_json_str(out, (const char *)sqlite3_column_text(s, ctx[c].col),
                                    (size_t)sqlite3_column_bytes(s, ctx[c].col));
    }
    if (!rc) rc = cx_buf_puts(out, "}}");
    n++;
  }
  if (!rc) rc = n > q->limit ? cx_buf_printf(out, "],\"next_cursor\":\"%lld\"}", (long long)last) : cx_buf_puts(out, "],\"next_cursor\":null}");
  sqlite3_finalize(s);
  store_reader_put(f->st, db);
  return rc;
}

/* ---- themes ---- */

#define TOP_PHRASES 5
#define MAX_KEYS 4096 /* distinct phrases counted per theme */

typedef struct {
  char key[64], shown[96];
  uint32_t n;
} phrase_count;

typedef struct {
  phrase_count *p;
  size_t n;
  size_t detractors; /* verbatims with the theme whose response is a detractor */
  size_t promoters_with, rated_with;
} theme_acc;

static void count_phrase(theme_acc *a, const char *key, const char *shown) {
  for (size_t i = 0; i < a->n; i++)
    if (!strcmp(a->p[i].key, key)) {
      a->p[i].n++;
      return;
    }
  if (a->n >= MAX_KEYS) return;
  phrase_count *c = &a->p[a->n++];
  snprintf(c->key, sizeof c->key, "%s", key);
  snprintf(c->shown, sizeof c->shown, "%s", shown);
  c->n = 1;
}

static int by_count(const void *x, const void *y) {
  const phrase_count *a = x, *b = y;
  return a->n != b->n ? (a->n < b->n ? 1 : -1) : strcmp(a->key, b->key);
}

cx_err feedback_themes(feedback *f, int64_t survey, int64_t from, int64_t to, cx_buf *out, analytics_error *err) {
  (void)err;
  size_t nt = text_theme_count(f->text);
  sqlite3 *db = store_reader_get(f->st);
  sqlite3_stmt *s = NULL;
  cx_err rc = sqlite3_prepare_v2(db,
                                 "SELECT v.themes, v.score, v.nps, v.phrases FROM verbatims v"
                                 " JOIN responses r ON r.id = v.response_id AND r.replaced_by IS NULL"
                                 " WHERE (?1 = 0 OR v.survey_id = ?1) AND v.submitted_at >= ?2 AND v.submitted_at < ?3",
                                 -1, &s, NULL) ? CX_EDB : CX_OK;
  uint64_t *themes = NULL;
  double *scores = NULL;
  int *ratings = NULL;
  size_t n = 0, cap = 0;
  theme_acc *acc = cx_calloc(nt ? nt : 1, sizeof *acc);
  for (size_t t = 0; acc && t < nt; t++)
    if (!(acc[t].p = cx_calloc(MAX_KEYS, sizeof *acc[t].p))) rc = CX_ENOMEM;
  if (!acc) rc = CX_ENOMEM;
  if (!rc) {
    sqlite3_bind_int64(s, 1, survey);
    sqlite3_bind_int64(s, 2, from);
    sqlite3_bind_int64(s, 3, to);
  }
  while (!rc && sqlite3_step(s) == SQLITE_ROW) {
    if (n == cap) {
      size_t nc = cap ? 2 * cap : 4096;
      uint64_t *a = cx_realloc(themes, nc * sizeof *a);
      if (a) themes = a;
      double *b = a ? cx_realloc(scores, nc * sizeof *b) : NULL;
      if (b) scores = b;
      int *c = b ? cx_realloc(ratings, nc * sizeof *c) : NULL;
      if (c) ratings = c;
      if (!a || !b || !c) {
        rc = CX_ENOMEM;
        break;
      }
      cap = nc;
    }
    uint64_t th = (uint64_t)sqlite3_column_int64(s, 0);
    int rating = sqlite3_column_type(s, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 2);
    themes[n] = th, scores[n] = sqlite3_column_double(s, 1), ratings[n] = rating;
    n++;
    if (!th) continue;
    /* the phrases: "key\tshown\n"… */
    const char *p = (const char *)sqlite3_column_text(s, 3);
    for (size_t t = 0; t < nt; t++) {
      if (!(th >> t & 1)) continue;
      acc[t].detractors += rating >= 0 && rating <= 6;
      acc[t].promoters_with += rating >= 9;
      acc[t].rated_with += rating >= 0;
      for (const char *l = p; l && *l;) {
        const char *tab = strchr(l, '\t'), *nl = tab ? strchr(tab, '\n') : NULL;
        if (!tab || !nl) break;
        char key[64], shown[96];
        snprintf(key, sizeof key, "%.*s", (int)(tab - l), l);
        snprintf(shown, sizeof shown, "%.*s", (int)(nl - tab - 1), tab + 1);
        count_phrase(&acc[t], key, shown);
        l = nl + 1;
      }
    }
  }
  sqlite3_finalize(s);
  store_reader_put(f->st, db);
  text_theme_stat *st = rc ? NULL : cx_calloc(nt ? nt : 1, sizeof *st);
  if (!rc && !st) rc = CX_ENOMEM;
  if (!rc) rc = text_theme_stats(f->text, themes, scores, ratings, n, st);
  /* themes by volume, the biggest first */
  size_t order[TEXT_MAX_THEMES];
  for (size_t t = 0; t < nt; t++) order[t] = t;
  for (size_t i = 1; !rc && i < nt; i++)
    for (size_t j = i; j > 0 && st[order[j]].volume > st[order[j - 1]].volume; j--) {
      size_t x = order[j];
      order[j] = order[j - 1], order[j - 1] = x;
    }
  if (!rc) rc = cx_buf_printf(out, "{\"n\":%zu,\"themes\":[", n);
  int first = 1;
  for (size_t i = 0; !rc && i < nt; i++) {
    size_t t = order[i];
    if (!st[t].volume) continue;
    const char *name = text_theme_name(f->text, t);
    rc = cx_buf_puts(out, first ? "{\"name\":" : ",{\"name\":");
    first = 0;
    if (!rc) rc = cx_buf_json_str(out, name, strlen(name));
    double with = acc[t].rated_with ? 100.0 * ((double)acc[t].promoters_with - (double)acc[t].detractors) / (double)acc[t].rated_with : NAN;
    if (!rc) rc = cx_buf_printf(out, ",\"volume\":%zu,\"share\":%.4g,\"sentiment\":%.4g,\"rated\":%zu,\"nps_with\":", st[t].volume,
                                n ? (double)st[t].volume / (double)n : 0.0, st[t].sentiment, st[t].rated);
    if (!rc) rc = isnan(with) ? cx_buf_puts(out, "null") : cx_buf_printf(out, "%.4g", with);
    if (!rc) rc = cx_buf_puts(out, ",\"nps_without\":");
    if (!rc) rc = isnan(st[t].nps_without) ? cx_buf_puts(out, "null") : cx_buf_printf(out, "%.4g", st[t].nps_without);
    if (!rc) rc = cx_buf_printf(out, ",\"nps_impact\":%.4g,\"detractor_share\":%.4g,\"phrases\":[", st[t].nps_impact,
                                acc[t].rated_with ? (double)acc[t].detractors / (double)acc[t].rated_with : 0.0);
    qsort(acc[t].p, acc[t].n, sizeof *acc[t].p, by_count);
    for (size_t k = 0; !rc && k < acc[t].n && k < TOP_PHRASES; k++) {
      rc = cx_buf_puts(out, k ? ",{\"phrase\":" : "{\"phrase\":");
      if (!rc) rc = cx_buf_json_str(out, acc[t].p[k].shown, strlen(acc[t].p[k].shown));
      if (!rc) rc = cx_buf_printf(out, ",\"count\":%u}", acc[t].p[k].n);
    }
    if (!rc) rc = cx_buf_puts(out, "]}");
  }
  if (!rc) rc = cx_buf_puts(out, "],\"catalogue\":[");
  for (size_t t = 0; !rc && t < nt; t++) {
    const char *name = text_theme_name(f->text, t);
    if (t) rc = cx_buf_puts(out, ",");
    if (!rc) rc = cx_buf_json_str(out, name, strlen(name));
  }
  if (!rc) rc = cx_buf_puts(out, "]}");
  for (size_t t = 0; acc && t < nt; t++) cx_free(acc[t].p);
  cx_free(acc), cx_free(st), cx_free(themes), cx_free(scores), cx_free(ratings);
  return rc;
}
