/* respond.c - responses: checking answers against a survey version,
 * ingesting a response as a "Survey Responded" event, the ingest listener
 * that writes the response row in the same transaction, and the in-memory
 * index of scored answers the metrics read (feedback.h). */
#include "feedback_int.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENT_NAME "Survey Responded"

int64_t fb_root(feedback *f, int64_t customer) {
  if (!customer) return 0;
  profile_read_begin(f->pr);
  int64_t r = profile_root_of(f->pr, customer);
  profile_read_end(f->pr);
  return r;
}

/* ---- interned keys ---- */

cx_err fb_key(feedback *f, int k, const char *s, uint16_t *out) {
  *out = 0;
  if (!s || !*s) return CX_OK;
  fb_keys *ks = &f->keys[k];
  for (size_t i = 1; i < ks->n; i++)
    if (!strcmp(ks->s[i], s)) {
      *out = (uint16_t)i;
      return CX_OK;
    }
  if (ks->n >= FEEDBACK_MAX_KEYS) return CX_ETOOBIG;
  pthread_rwlock_wrlock(&f->lock);
  cx_err rc = CX_OK;
  if (!ks->n) ks->n = 1; /* 0 is "none" */
  if (ks->n >= ks->cap) {
    size_t cap = ks->cap ? 2 * ks->cap : 64;
    char **n = cx_realloc(ks->s, cap * sizeof *n);
    if (!n) rc = CX_ENOMEM;
    else ks->s = n, ks->cap = cap, ks->s[0] = NULL;
  }
  char *d = rc ? NULL : cx_malloc(strlen(s) + 1);
  if (!rc && !d) rc = CX_ENOMEM;
  if (!rc) {
    strcpy(d, s);
    *out = (uint16_t)ks->n;
    ks->s[ks->n++] = d;
  }
  pthread_rwlock_unlock(&f->lock);
  return rc;
}

/* ---- checking answers ---- */

static size_t utf8_chars(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

static const fb_question *find_q(const feedback_survey *s, const char *id, size_t *at) {
  for (size_t i = 0; i < s->nq; i++)
    if (!strcmp(s->q[i].id, id)) {
      if (at) *at = i;
      return &s->q[i];
    }
  return NULL;
}

static int has_opt(const fb_question *q, const char *o) {
  for (size_t i = 0; i < q->nopt; i++)
    if (!strcmp(q->opt[i], o)) return 1;
  return 0;
}

/* One answer checked and copied into norm (when given: an empty text or
 * an empty list is no answer). */
static cx_err check_one(const fb_question *q, const cJSON *a, cJSON *norm, analytics_error *err) {
  char f[64];
  snprintf(f, sizeof f, "answers.%s", q->id);
  if (cJSON_IsNull(a)) return CX_OK;
  cJSON *c = NULL;
  switch (q->type) {
  case Q_NPS: case Q_CSAT: case Q_CES: case Q_RATING:
    if (!cJSON_IsNumber(a))
      return analytics_refuse(err, "wrong_type", f, "%s must be a whole number from %d to %d.", f, q->min, q->max);
    if (a->valuedouble != floor(a->valuedouble) || a->valuedouble < q->min || a->valuedouble > q->max)
      return analytics_refuse(err, "out_of_range", f, "%s must be a whole number from %d to %d (%s).", f, q->min, q->max,
                              fb_type_name[q->type]);
    c = cJSON_CreateNumber(a->valuedouble);
    break;
  case Q_TEXT: {
    if (!cJSON_IsString(a)) return analytics_refuse(err, "wrong_type", f, "%s must be a text.", f);
    size_t n = strlen(a->valuestring);
    if (!cx_utf8_valid(a->valuestring, n)) return analytics_refuse(err, "invalid_utf8", f, "%s is not valid UTF-8.", f);
    if (utf8_chars(a->valuestring) > FEEDBACK_MAX_TEXT)
      return analytics_refuse(err, "too_long", f, "%s is longer than %d characters.", f, FEEDBACK_MAX_TEXT);
    size_t b = 0, e = n; /* blank text is no answer */
    while (b < e && strchr(" \t\r\n", a->valuestring[b])) b++;
    if (b == e) return CX_OK;
    c = cJSON_CreateString(a->valuestring);
    break;
  }
  case Q_CHOICE:
    if (!q->multiple) {
      if (!cJSON_IsString(a)) return analytics_refuse(err, "wrong_type", f, "%s must be one option id (a string).", f);
      if (!has_opt(q, a->valuestring))
        return analytics_refuse(err, "unknown_option", f, "%s: \"%.40s\" is not one of the options.", f, a->valuestring);
      c = cJSON_CreateString(a->valuestring);
    } else {
      if (!cJSON_IsArray(a)) return analytics_refuse(err, "wrong_type", f, "%s must be a list of option ids.", f);
      if (!cJSON_GetArraySize(a)) return CX_OK;
      c = cJSON_CreateArray();
      if (!c) return CX_ENOMEM;
      for (const cJSON *x = a->child; x; x = x->next) {
        if (!cJSON_IsString(x) || !has_opt(q, x->valuestring)) {
          cJSON_Delete(c);
          return analytics_refuse(err, "unknown_option", f, "%s holds something that is not one of the options.", f);
        }
        for (const cJSON *y = c->child; y; y = y->next)
          if (!strcmp(y->valuestring, x->valuestring)) {
            cJSON_Delete(c);
            return analytics_refuse(err, "invalid_answer", f, "%s names the option %s twice.", f, x->valuestring);
          }
        cJSON *s = cJSON_CreateString(x->valuestring);
        if (!s || !cJSON_AddItemToArray(c, s)) {
          cJSON_Delete(s), cJSON_Delete(c);
          return CX_ENOMEM;
        }
      }
    }
    break;
  }
  if (!c || !cJSON_AddItemToObject(norm, q->id, c)) {
    cJSON_Delete(c);
    return CX_ENOMEM;
  }
  return CX_OK;
}

cx_err fb_check_answers(const feedback_survey *s, const cJSON *answers, int complete, cJSON **out,
                        analytics_error *err) {
  if (!cJSON_IsObject(answers))
    return analytics_refuse(err, "invalid_field", "answers", "answers must be an object of answers by question id, such as {\"q1\":9}.");
  for (const cJSON *a = answers->child; a; a = a->next)
    if (!find_q(s, a->string, NULL))
      return analytics_refuse(err, "unknown_question", "answers", "This survey has no question %.40s.", a->string);
  cJSON *norm = cJSON_CreateObject();
  if (!norm) return CX_ENOMEM;
  cx_err rc = CX_OK;
  size_t given = 0;
  for (size_t i = 0; i < s->nq && !rc; i++) {
    const fb_question *q = &s->q[i];
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(answers, q->id);
    int shown = fb_shown(s, i, norm);
    char f[64];
    snprintf(f, sizeof f, "answers.%s", q->id);
    if (a && !shown && !cJSON_IsNull(a))
      rc = analytics_refuse(err, "not_asked", f, "%s is not asked for these answers (show_if: %s).", q->id,
                            cJSON_GetObjectItem(q->json, "show_if")->valuestring);
    else if (a) rc = check_one(q, a, norm, err);
    if (!rc && shown && q->required && complete && !cJSON_GetObjectItemCaseSensitive(norm, q->id))
      rc = analytics_refuse(err, "missing_answer", f, "%s is required.", q->id);
    if (!rc && cJSON_GetObjectItemCaseSensitive(norm, q->id)) given++;
  }
  if (!rc && !given) rc = analytics_refuse(err, "missing_answer", "answers", "A response answers at least one question.");
  if (rc) {
    cJSON_Delete(norm);
    return rc;
  }
  *out = norm;
  return CX_OK;
}

/* ---- the pending response: what the listener writes ---- */

typedef struct {
  const feedback_survey *s;
  const cJSON *answers; /* normalised */
  const char *answers_text, *scores_text;
  feedback_context ctx;
  const char *link;
  int complete;
  int64_t submitted, received;
  const fb_verbatim *verb; /* the text answers, scored */
  size_t nverb;
  int nps; /* the first NPS answer, -1 when none */
  int rating, rating_type; /* the first CSAT or CES answer and its Q_ type; -1 when none */
  /* set by the listener */
  int64_t id, customer;
} fb_pending;

/* "T:qid:score;…" for each scored answer (T: the type's digit). */
static cx_err scores_text(const feedback_survey *s, const cJSON *norm, cx_buf *b) {
  cx_err rc = CX_OK;
  for (size_t i = 0; i < s->nq && !rc; i++) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(norm, s->q[i].id);
    if (!a || s->q[i].type > Q_CES) continue;
    rc = cx_buf_printf(b, "%d:%s:%d;", s->q[i].type, s->q[i].id, a->valueint);
  }
  return rc;
}

static cx_err push_scores(feedback *f, const char *scores, int64_t id, int64_t survey, int64_t ts, int64_t customer,
                          const uint16_t ctxk[4], fb_score **arr, size_t *n, size_t *cap) {
  const char *p = scores;
  while (*p) {
    int type = p[0] - '0';
    const char *q = p + 2, *c = strchr(q, ':');
    const char *end = c ? strchr(c, ';') : NULL;
    if (type < 0 || type > Q_CES || !c || !end || c - q > FB_MAX_ID) return CX_EINVAL;
    char qid[FB_MAX_ID + 1];
    memcpy(qid, q, (size_t)(c - q));
    qid[c - q] = 0;
    uint16_t qk;
    cx_err rc = fb_key(f, K_QUESTION, qid, &qk);
    if (rc) return rc;
    if (*n == *cap) {
      size_t nc = *cap ? 2 * *cap : 1024;
      fb_score *na = cx_realloc(*arr, nc * sizeof *na);
      if (!na) return CX_ENOMEM;
      *arr = na, *cap = nc;
    }
    (*arr)[(*n)++] = (fb_score){.h = {.ts = ts, .survey = (uint32_t)survey, .channel = ctxk[0], .type = (uint8_t)type,
                                      .score = (int8_t)atoi(c + 1)},
                                .c = {.customer = customer, .response = (uint32_t)id, .question = qk,
                                      .touchpoint = ctxk[1], .unit = ctxk[2], .agent = ctxk[3]}};
    p = end + 1;
  }
  return CX_OK;
}

static cx_err ctx_keys(feedback *f, const feedback_context *c, uint16_t out[4]) {
  cx_err rc = fb_key(f, K_CHANNEL, c->channel, &out[0]);
  if (!rc) rc = fb_key(f, K_TOUCHPOINT, c->touchpoint, &out[1]);
  if (!rc) rc = fb_key(f, K_UNIT, c->unit, &out[2]);
  if (!rc) rc = fb_key(f, K_AGENT, c->agent, &out[3]);
  return rc;
}

static void bind_opt(sqlite3_stmt *st, int i, const char *s) {
  if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, i);
}

/* Writes response p (its verbatims too) and queues its scores for the
 * index; on the writer thread, inside the group's transaction. customer
 * and seq are 0 for an employee survey's (anonymous, no event). */
static cx_err write_response(feedback *f, sqlite3 *db, fb_pending *p, int64_t customer, int64_t seq) {
  uint16_t k[4];
  cx_err rc = ctx_keys(f, &p->ctx, k);
  if (rc == CX_ETOOBIG) k[0] = k[1] = k[2] = k[3] = 0, rc = CX_OK; /* checked before; raced past the bound */
  if (rc) return rc;
  if (f->stmt_db != db) { /* prepared once per connection */
    sqlite3_finalize(f->ins_resp), sqlite3_finalize(f->sel_link), sqlite3_finalize(f->upd_repl);
    f->ins_resp = f->sel_link = f->upd_repl = NULL;
    f->stmt_db = NULL;
    if (sqlite3_prepare_v3(db, "INSERT INTO responses(survey_id, version, customer_id, seq, submitted_at, received_at,"
                               " complete, channel, touchpoint, unit, agent, language, link, answers, scores)"
                               " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                           -1, SQLITE_PREPARE_PERSISTENT, &f->ins_resp, NULL) ||
        sqlite3_prepare_v3(db, "SELECT id FROM responses WHERE link = ?1 AND replaced_by IS NULL", -1,
                           SQLITE_PREPARE_PERSISTENT, &f->sel_link, NULL) ||
        sqlite3_prepare_v3(db, "UPDATE responses SET replaced_by = ?1 WHERE id = ?2", -1, SQLITE_PREPARE_PERSISTENT,
                           &f->upd_repl, NULL))
      return CX_EDB;
    f->stmt_db = db;
  }
  int64_t old = 0;
  sqlite3_stmt *st = f->sel_link;
  if (p->link) {
    sqlite3_bind_text(st, 1, p->link, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) old = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
  }
  st = f->ins_resp;
  sqlite3_bind_int64(st, 1, p->s->id);
  sqlite3_bind_int64(st, 2, p->s->version);
  sqlite3_bind_int64(st, 3, customer);
  sqlite3_bind_int64(st, 4, seq);
  sqlite3_bind_int64(st, 5, p->submitted);
  sqlite3_bind_int64(st, 6, p->received);
  sqlite3_bind_int(st, 7, p->complete);
  bind_opt(st, 8, p->ctx.channel);
  bind_opt(st, 9, p->ctx.touchpoint);
  bind_opt(st, 10, p->ctx.unit);
  bind_opt(st, 11, p->ctx.agent);
  bind_opt(st, 12, p->ctx.language);
  bind_opt(st, 13, p->link);
  sqlite3_bind_text(st, 14, p->answers_text, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 15, p->scores_text, -1, SQLITE_STATIC);
  int r = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (r != SQLITE_DONE) {
    cx_log("error", "response_insert_failed", "error", sqlite3_errmsg(db), NULL);
    return CX_EDB;
  }
  p->id = sqlite3_last_insert_rowid(db);
  p->customer = customer;
  fb_verbatim_of vo = {.response = p->id, .survey = p->s->id, .customer = customer, .submitted = p->submitted,
                       .nps = p->nps, .rating = p->rating, .rating_type = p->rating_type, .channel = p->ctx.channel};
  if ((rc = fb_verbatims_write(f, db, &vo, p->verb, p->nverb)))
    return rc;
  if (old) {
    st = f->upd_repl;
    sqlite3_bind_int64(st, 1, p->id);
    sqlite3_bind_int64(st, 2, old);
    r = sqlite3_step(st);
    sqlite3_reset(st);
    if (r != SQLITE_DONE) return CX_EDB;
    if (f->nrepl == f->caprepl) {
      size_t nc = f->caprepl ? 2 * f->caprepl : 64;
      uint32_t *na = cx_realloc(f->pend_replaced, nc * sizeof *na);
      if (!na) return CX_ENOMEM;
      f->pend_replaced = na, f->caprepl = nc;
    }
    f->pend_replaced[f->nrepl++] = (uint32_t)old;
  } else {
    f->pend_new++;
  }
  return push_scores(f, p->scores_text, p->id, p->s->id, p->submitted, customer, k, &f->pend, &f->npend, &f->cappend);
}

static cx_err on_message(void *ctx, sqlite3 *db, ingest_msg *m, int64_t customer, int64_t seq) {
  return write_response(ctx, db, m->attach, customer, seq);
}

cx_err fb_index_append(feedback *f, const fb_score *x, size_t n) {
  if (f->nsc + n > f->capsc) {
    size_t cap = f->capsc ? f->capsc : 4096;
    while (cap < f->nsc + n) cap *= 2;
    fb_hot *h = cx_realloc(f->hot, cap * sizeof *h);
    if (h) f->hot = h;
    fb_cold *c = h ? cx_realloc(f->cold, cap * sizeof *c) : NULL;
    if (c) f->cold = c;
    if (!h || !c) return CX_ENOMEM; /* the larger block is kept: harmless */
    f->capsc = cap;
  }
  for (size_t i = 0; i < n; i++) {
    f->hot[f->nsc] = x[i].h;
    f->cold[f->nsc++] = x[i].c;
    fb_span *sp = NULL;
    for (size_t k = 0; k < f->nspan && !sp; k++)
      if (f->span[k].survey == x[i].h.survey) sp = &f->span[k];
    if (!sp) {
      fb_span *ns = cx_realloc(f->span, (f->nspan + 1) * sizeof *ns);
      if (!ns) return CX_ENOMEM;
      f->span = ns;
      sp = &f->span[f->nspan++];
      *sp = (fb_span){.survey = x[i].h.survey, .lo = {INT64_MAX, INT64_MAX, INT64_MAX}, .hi = {INT64_MIN, INT64_MIN, INT64_MIN}};
    }
    int t = x[i].h.type & 3;
    if (x[i].h.ts < sp->lo[t]) sp->lo[t] = x[i].h.ts;
    if (x[i].h.ts > sp->hi[t]) sp->hi[t] = x[i].h.ts;
  }
  return CX_OK;
}

static void after_commit(void *ctx) {
  feedback *f = ctx;
  if (!f->npend && !f->nrepl && !f->pend_new && !f->pend_gone) return;
  pthread_rwlock_wrlock(&f->lock);
  f->responses += f->pend_new;
  /* a link answered again (each page of the respondent page saves): the
   * index is in response order, so the replaced answer's scores are found
   * by a binary search, not a scan */
  for (size_t r = 0; r < f->nrepl; r++) {
    size_t lo = 0, hi = f->nsc;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (f->cold[mid].response < f->pend_replaced[r]) lo = mid + 1;
      else hi = mid;
    }
    /* out of every figure; who and what it was no longer kept (an erasure) */
    for (; lo < f->nsc && f->cold[lo].response == f->pend_replaced[r]; lo++) {
      f->hot[lo].type |= 0x80;
      f->hot[lo].score = 0;
      f->cold[lo].customer = 0;
    }
  }
  f->responses -= f->pend_gone < f->responses ? f->pend_gone : f->responses;
  if (fb_index_append(f, f->pend, f->npend))
    cx_log("error", "feedback_index_full", "dropped", "scores of a group (out of memory)", NULL);
  pthread_rwlock_unlock(&f->lock);
  f->npend = f->nrepl = f->pend_new = f->pend_gone = 0;
}

static void after_rollback(void *ctx) {
  feedback *f = ctx;
  f->npend = f->nrepl = f->pend_new = f->pend_gone = 0;
}

cx_err feedback_forget_response(feedback *f, int64_t response) {
  if (response <= 0 || response > UINT32_MAX) return CX_EINVAL;
  /* answered in this same group: not in the index yet */
  for (size_t i = 0; i < f->npend; i++)
    if (f->pend[i].c.response == (uint32_t)response) {
      f->pend[i].h.type |= 0x80;
      f->pend[i].h.score = 0;
      f->pend[i].c.customer = 0;
    }
  if (f->nrepl == f->caprepl) {
    size_t nc = f->caprepl ? 2 * f->caprepl : 64;
    uint32_t *na = cx_realloc(f->pend_replaced, nc * sizeof *na);
    if (!na) return CX_ENOMEM;
    f->pend_replaced = na, f->caprepl = nc;
  }
  f->pend_replaced[f->nrepl++] = (uint32_t)response;
  f->pend_gone++;
  return CX_OK;
}

/* ---- open and load ---- */

cx_err fb_index_load(feedback *f, sqlite3 *db) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT id, survey_id, customer_id, submitted_at, channel, touchpoint, unit, agent, scores"
                             " FROM responses WHERE replaced_by IS NULL ORDER BY id", -1, &st, NULL))
    return CX_EDB;
  cx_err rc = CX_OK;
  int r;
  while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
    feedback_context c = {(const char *)sqlite3_column_text(st, 4), (const char *)sqlite3_column_text(st, 5),
                          (const char *)sqlite3_column_text(st, 6), (const char *)sqlite3_column_text(st, 7), NULL};
    uint16_t k[4];
    rc = ctx_keys(f, &c, k);
    if (rc == CX_ETOOBIG) k[0] = k[1] = k[2] = k[3] = 0, rc = CX_OK;
    if (!rc) rc = push_scores(f, (const char *)sqlite3_column_text(st, 8), sqlite3_column_int64(st, 0),
                              sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 2), k,
                              &f->pend, &f->npend, &f->cappend);
    if (!rc && f->npend >= 65536) rc = fb_index_append(f, f->pend, f->npend), f->npend = 0;
    f->responses++;
  }
  sqlite3_finalize(st);
  if (!rc) rc = fb_index_append(f, f->pend, f->npend);
  f->npend = 0;
  return rc;
}

cx_err feedback_open(store *st, profile *pr, ingest *in, feedback **out) {
  feedback *f = cx_calloc(1, sizeof *f);
  if (!f) return CX_ENOMEM;
  f->st = st, f->pr = pr, f->in = in;
  pthread_mutex_init(&f->mu, NULL);
  pthread_rwlock_init(&f->lock, NULL);
  if (text_open(&f->text)) {
    feedback_close(f);
    return CX_ENOMEM;
  }
  sqlite3 *db = store_reader_get(st);
  int64_t t0 = cx_mono_ns();
  cx_err rc = fb_index_load(f, db);
  store_reader_put(st, db);
  if (rc) {
    feedback_close(f);
    return rc;
  }
  char n[24], ms[24];
  snprintf(n, sizeof n, "%zu", f->nsc);
  snprintf(ms, sizeof ms, "%.1f", (double)(cx_mono_ns() - t0) / 1e6);
  cx_log("info", "feedback_loaded", "scores", n, "ms", ms, NULL);
  ingest_listener l = {.on_message = on_message, .after_commit = after_commit, .after_rollback = after_rollback, .ctx = f};
  ingest_listen(in, &l);
  *out = f;
  return CX_OK;
}

void feedback_close(feedback *f) {
  if (!f) return;
  for (size_t i = 0; i < f->ncache; i++) fb_survey_free(f->cache[i]);
  cx_free(f->cache);
  for (int k = 0; k < 5; k++) {
    for (size_t i = 1; i < f->keys[k].n; i++) cx_free(f->keys[k].s[i]);
    cx_free(f->keys[k].s);
  }
  sqlite3_finalize(f->ins_resp), sqlite3_finalize(f->sel_link), sqlite3_finalize(f->upd_repl);
  sqlite3_finalize(f->ins_verb);
  text_close(f->text);
  cx_free(f->hot);
  cx_free(f->cold);
  cx_free(f->span);
  cx_free(f->pend);
  cx_free(f->pend_replaced);
  pthread_mutex_destroy(&f->mu);
  pthread_rwlock_destroy(&f->lock);
  cx_free(f);
}

void feedback_get_stats(feedback *f, feedback_stats *out) {
  pthread_rwlock_rdlock(&f->lock);
  out->scores = f->nsc;
  out->responses = f->responses;
  pthread_rwlock_unlock(&f->lock);
}

/* ---- submitting ---- */

static cx_err context_ok(const char *v, const char *field, analytics_error *err) {
  if (v && (!*v || strlen(v) > FEEDBACK_MAX_CONTEXT || !cx_utf8_valid(v, strlen(v))))
    return analytics_refuse(err, "invalid_field", field, "%s must be a text of 1 to %d bytes.", field, FEEDBACK_MAX_CONTEXT);
  return CX_OK;
}

static cx_err add_opt(cJSON *o, const char *name, const char *v) {
  return !v || cJSON_AddStringToObject(o, name, v) ? CX_OK : CX_ENOMEM;
}

/* One response made ready to ingest: the event's text and what the
 * listener writes. Owns body, answers_text and sc. */
typedef struct {
  fb_pending p;
  char *body, *answers_text;
  cx_buf sc;
  char anon[48];
  fb_verbatim verb[FEEDBACK_MAX_QUESTIONS];
  size_t nverb;
} prepared;

static void prepared_free(prepared *x) {
  cJSON_free(x->body);
  cJSON_free(x->answers_text);
  cx_buf_free(&x->sc);
  fb_verbatims_free(x->verb, x->nverb);
}

/* Builds the event of a checked response (norm) into x. */
static cx_err prepare(feedback *f, const feedback_survey *s, const cJSON *norm, int complete, const feedback_who *who,
                      const feedback_context *ctx, const char *link, int64_t submitted, prepared *x,
                      analytics_error *err) {
  memset(x, 0, sizeof *x);
  cx_buf_init(&x->sc, 4096);
  if (s->status != S_LIVE)
    return analytics_refuse(err, s->status == S_CLOSED ? "survey_closed" : "survey_not_live", "survey",
                            s->status == S_CLOSED ? "This survey is closed: it takes no more answers."
                                                  : "This survey is a draft: publish it before it takes answers.");
  cx_err rc = context_ok(ctx->channel, "context.channel", err);
  if (!rc) rc = context_ok(ctx->touchpoint, "context.touchpoint", err);
  if (!rc) rc = context_ok(ctx->unit, "context.unit", err);
  if (!rc) rc = context_ok(ctx->agent, "context.agent", err);
  if (rc) return rc;
  if (s->employee) { /* anonymous: no customer, no event */
    x->answers_text = cJSON_PrintUnformatted(norm);
    if (!x->answers_text) return CX_ENOMEM;
    goto scores;
  }
  cJSON *ev = cJSON_CreateObject(), *props = cJSON_CreateObject(), *ans = cJSON_CreateObject();
  char mid[64], uuid[37], ts[CX_TIME_LEN], sid[24];
  cx_uuid4(uuid);
  snprintf(mid, sizeof mid, "survey-response-%s", uuid);
  cx_time_format(submitted, ts);
  snprintf(sid, sizeof sid, "%lld", (long long)s->id);
  if (!ev || !props || !ans) rc = CX_ENOMEM;
  /* the event carries the scores and choices; texts stay in the response */
  for (size_t i = 0; !rc && i < s->nq; i++) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(norm, s->q[i].id);
    if (!a) continue;
    if (s->q[i].type == Q_TEXT) {
      if (!cJSON_AddTrueToObject(ans, s->q[i].id)) rc = CX_ENOMEM;
      continue;
    }
    cJSON *c = cJSON_Duplicate(a, 1);
    if (!c || !cJSON_AddItemToObject(ans, s->q[i].id, c)) {
      cJSON_Delete(c);
      rc = CX_ENOMEM;
    }
    if (!rc && s->q[i].type <= Q_CES && !cJSON_GetObjectItem(props, fb_type_name[s->q[i].type]) &&
        !cJSON_AddNumberToObject(props, fb_type_name[s->q[i].type], a->valuedouble))
      rc = CX_ENOMEM;
  }
  if (!rc && (!cJSON_AddStringToObject(props, "survey_id", sid) || !cJSON_AddStringToObject(props, "survey", s->name) ||
              !cJSON_AddNumberToObject(props, "survey_version", (double)s->version) ||
              !cJSON_AddBoolToObject(props, "complete", complete)))
    rc = CX_ENOMEM;
  if (!rc) {
    cJSON_AddItemToObject(props, "answers", ans);
    ans = NULL;
    rc = add_opt(props, "channel", ctx->channel);
  }
  if (!rc) rc = add_opt(props, "touchpoint", ctx->touchpoint);
  if (!rc) rc = add_opt(props, "unit", ctx->unit);
  if (!rc) rc = add_opt(props, "agent", ctx->agent);
  const char *anon_id = who->anonymous_id;
  if (!who->user_id && !anon_id) { /* e-mail alone: a new anonymous id joined to it */
    snprintf(x->anon, sizeof x->anon, "survey-%s", uuid);
    anon_id = x->anon;
  }
  if (!rc && (!cJSON_AddStringToObject(ev, "type", "track") || !cJSON_AddStringToObject(ev, "event", EVENT_NAME) ||
              !cJSON_AddStringToObject(ev, "messageId", mid) || !cJSON_AddStringToObject(ev, "timestamp", ts)))
    rc = CX_ENOMEM;
  if (!rc) rc = add_opt(ev, "userId", who->user_id);
  if (!rc) rc = add_opt(ev, "anonymousId", anon_id);
  if (!rc && who->email) {
    cJSON *c = cJSON_AddObjectToObject(ev, "context"), *t = c ? cJSON_AddObjectToObject(c, "traits") : NULL;
    if (!t || !cJSON_AddStringToObject(t, "email", who->email)) rc = CX_ENOMEM;
  }
  if (!rc) {
    cJSON_AddItemToObject(ev, "properties", props);
    props = NULL;
  }
  x->body = rc ? NULL : cJSON_PrintUnformatted(ev);
  x->answers_text = rc ? NULL : cJSON_PrintUnformatted(norm);
  cJSON_Delete(ev), cJSON_Delete(props), cJSON_Delete(ans);
  if (!rc && (!x->body || !x->answers_text)) rc = CX_ENOMEM;
scores:
  if (!rc) rc = scores_text(s, norm, &x->sc);
  if (!rc) rc = cx_buf_append(&x->sc, "", 1);
  if (!rc) rc = fb_verbatims_of(f, s, norm, x->verb, &x->nverb);
  int nps = -1, rating = -1, rating_type = -1;
  for (size_t i = 0; i < s->nq; i++) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(norm, s->q[i].id);
    if (!a) continue;
    if (s->q[i].type == Q_NPS && nps < 0) nps = a->valueint;
    if ((s->q[i].type == Q_CSAT || s->q[i].type == Q_CES) && rating < 0) rating = a->valueint, rating_type = s->q[i].type;
  }
  x->p = (fb_pending){.s = s, .answers = norm, .answers_text = x->answers_text, .scores_text = x->sc.p, .ctx = *ctx,
                      .link = link, .complete = complete, .submitted = submitted, .verb = x->verb,
                      .nverb = x->nverb, .nps = nps, .rating = rating, .rating_type = rating_type};
  return rc;
}

/* Parses the prepared events into one batch and ingests it: all or
 * nothing. *bad: the index of the one refused by the parser. */
/* An employee survey's responses: written by a job of their own. */
typedef struct {
  store_job job;
  feedback *f;
  prepared *x;
  size_t n;
} employee_job;

static cx_err apply_employee(store_job *job, sqlite3 *db) {
  employee_job *j = (employee_job *)job;
  cx_err rc = CX_OK;
  for (size_t i = 0; i < j->n && !rc; i++) rc = write_response(j->f, db, &j->x[i].p, 0, 0);
  return rc;
}

static cx_err commit_all(feedback *f, prepared *x, size_t n, size_t *bad, analytics_error *err) {
  if (n && x[0].p.s->employee) {
    int64_t now = cx_now_ms();
    for (size_t i = 0; i < n; i++) x[i].p.received = now;
    employee_job j = {.job = {.apply = apply_employee, .weight = n}, .f = f, .x = x, .n = n};
    cx_err rc = store_run(f->st, &j.job);
    for (size_t i = 0; !rc && i < n; i++)
      if (!x[i].p.id) rc = CX_EDB;
    return rc;
  }
  ingest_batch batch;
  int64_t now = cx_now_ms();
  ingest_batch_init(&batch, now);
  cx_err rc = CX_OK;
  for (size_t i = 0; i < n && !rc; i++) {
    ingest_error ie;
    x[i].p.received = now;
    rc = ingest_parse(INGEST_TRACK, x[i].body, strlen(x[i].body), now, &batch, &ie);
    if (rc == CX_EINVAL || rc == CX_ETOOBIG) { /* the customer's ids, mostly */
      *bad = i;
      rc = analytics_refuse(err, "invalid_field", !strcmp(ie.field, "userId") ? "customer.user_id"
                                                   : !strcmp(ie.field, "anonymousId") ? "customer.anonymous_id"
                                                   : !strncmp(ie.field, "context.traits.email", 20) ? "customer.email" : "customer",
                            "%s", ie.message);
    }
  }
  if (!rc && batch.n != n) rc = CX_EINVAL;
  int64_t source = atomic_load(&f->source);
  if (!rc && !source && !(rc = ingest_source_ensure(f->in, "surveys", &source))) atomic_store(&f->source, source);
  for (size_t i = 0; !rc && i < n; i++) batch.msgs[i].attach = &x[i].p;
  if (!rc) rc = ingest_submit(f->in, &batch, source);
  for (size_t i = 0; !rc && i < n; i++)
    if (!x[i].p.id) rc = CX_EDB; /* not written: a duplicate messageId cannot happen */
  ingest_batch_free(&batch);
  return rc;
}

static cx_err submit(feedback *f, const feedback_survey *s, const cJSON *norm, int complete, const feedback_who *who,
                     const feedback_context *ctx, const char *link, int64_t submitted, int64_t *id_out,
                     int64_t *customer_out, analytics_error *err) {
  prepared x;
  size_t bad = 0;
  cx_err rc = prepare(f, s, norm, complete, who, ctx, link, submitted, &x, err);
  if (!rc) rc = commit_all(f, &x, 1, &bad, err);
  if (!rc && id_out) *id_out = x.p.id;
  if (!rc && customer_out) *customer_out = fb_root(f, x.p.customer);
  prepared_free(&x);
  return rc;
}

static const char *str_member(const cJSON *o, const char *name, int *bad) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  if (!v || cJSON_IsNull(v)) return NULL;
  if (!cJSON_IsString(v)) {
    *bad = 1;
    return NULL;
  }
  return v->valuestring;
}

/* The request's customer, context and time (the answers are checked
 * against the survey apart). */
static cx_err parse_request(const cJSON *req, int employee, feedback_who *who, feedback_context *ctx, int64_t *submitted,
                            analytics_error *err) {
  static const char *const top[] = {"customer", "answers", "context", "submitted_at", NULL};
  static const char *const cust[] = {"user_id", "anonymous_id", "email", NULL};
  static const char *const ctxn[] = {"channel", "touchpoint", "unit", "agent", "language", NULL};
  if (!cJSON_IsObject(req)) return analytics_refuse(err, "invalid_field", "response", "A response is a JSON object.");
  const char *u = fb_unknown_member(req, top);
  if (u) return analytics_refuse(err, "invalid_field", u, "Unknown member \"%.40s\": a response has customer, answers, context and submitted_at.", u);
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(req, "customer");
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(req, "context");
  const cJSON *at = cJSON_GetObjectItemCaseSensitive(req, "submitted_at");
  int bad = 0;
  *who = (feedback_who){0};
  if (employee && c)
    return analytics_refuse(err, "invalid_field", "customer", "Employee surveys are anonymous: leave customer out (give context.unit instead).");
  if (!employee && !cJSON_IsObject(c))
    return analytics_refuse(err, "invalid_field", "customer", "customer must be an object with user_id, anonymous_id or email.");
  if (employee) goto context;
  if ((u = fb_unknown_member(c, cust)))
    return analytics_refuse(err, "invalid_field", "customer", "Unknown member customer.%.40s: use user_id, anonymous_id or email.", u);
  *who = (feedback_who){str_member(c, "user_id", &bad), str_member(c, "anonymous_id", &bad), str_member(c, "email", &bad)};
  if (bad) return analytics_refuse(err, "wrong_type", "customer", "customer's user_id, anonymous_id and email are strings.");
  if (!who->user_id && !who->anonymous_id && !who->email)
    return analytics_refuse(err, "missing_identity", "customer", "customer needs a user_id, an anonymous_id or an email.");
context:
  *ctx = (feedback_context){0};
  if (x && !cJSON_IsNull(x)) {
    if (!cJSON_IsObject(x)) return analytics_refuse(err, "invalid_field", "context", "context must be an object.");
    if ((u = fb_unknown_member(x, ctxn)))
      return analytics_refuse(err, "invalid_field", "context", "Unknown member context.%.40s: use channel, touchpoint, unit, agent and language.", u);
    *ctx = (feedback_context){str_member(x, "channel", &bad), str_member(x, "touchpoint", &bad), str_member(x, "unit", &bad),
                              str_member(x, "agent", &bad), str_member(x, "language", &bad)};
    if (bad) return analytics_refuse(err, "wrong_type", "context", "The members of context are strings.");
    cx_err rc = context_ok(ctx->language, "context.language", err);
    if (rc) return rc;
  }
  *submitted = cx_now_ms();
  if (at && !cJSON_IsNull(at) &&
      (!cJSON_IsString(at) || cx_time_parse(at->valuestring, strlen(at->valuestring), submitted)))
    return analytics_refuse(err, "invalid_field", "submitted_at", "submitted_at must be an ISO-8601 time, such as 2026-03-01T12:00:00Z.");
  if (*submitted > cx_now_ms() + 300000)
    return analytics_refuse(err, "invalid_field", "submitted_at", "submitted_at is in the future.");
  return CX_OK;
}

cx_err feedback_respond(feedback *f, int64_t survey, const cJSON *req, int64_t *id_out, int64_t *customer_out,
                        analytics_error *err) {
  feedback_who who;
  feedback_context ctx;
  int64_t submitted;
  const feedback_survey *s;
  cx_err rc = feedback_survey_acquire(f, survey, &s);
  if (rc) return rc;
  if ((rc = parse_request(req, s->employee, &who, &ctx, &submitted, err))) {
    feedback_survey_release(f, s);
    return rc;
  }
  cJSON *norm = NULL;
  rc = fb_check_answers(s, cJSON_GetObjectItemCaseSensitive(req, "answers"), 1, &norm, err);
  if (!rc) rc = submit(f, s, norm, 1, &who, &ctx, NULL, submitted, id_out, customer_out, err);
  cJSON_Delete(norm);
  feedback_survey_release(f, s);
  return rc;
}

/* Prefixes err's field with "responses[i]." */
static cx_err at_index(analytics_error *err, size_t i) {
  char f[sizeof err->field + 32];
  int n = snprintf(f, sizeof f, "responses[%zu]%s%s", i, *err->field ? "." : "", err->field);
  size_t len = n < 0 ? 0 : (size_t)n < sizeof err->field ? (size_t)n : sizeof err->field - 1;
  memcpy(err->field, f, len);
  err->field[len] = 0;
  return CX_EINVAL;
}

cx_err feedback_respond_batch(feedback *f, int64_t survey, const cJSON *reqs, int64_t *ids, analytics_error *err) {
  int n = cJSON_GetArraySize(reqs);
  if (!cJSON_IsArray(reqs) || n < 1 || n > FEEDBACK_MAX_BATCH)
    return analytics_refuse(err, "invalid_field", "responses", "responses must list 1 to %d responses.", FEEDBACK_MAX_BATCH);
  const feedback_survey *s;
  cx_err rc = feedback_survey_acquire(f, survey, &s);
  if (rc) return rc;
  prepared *x = cx_calloc((size_t)n, sizeof *x);
  cJSON **norm = cx_calloc((size_t)n, sizeof *norm);
  size_t made = 0, bad = 0;
  if (!x || !norm) rc = CX_ENOMEM;
  for (const cJSON *r = reqs->child; r && !rc; r = r->next, made++) {
    feedback_who who;
    feedback_context ctx;
    int64_t submitted;
    rc = parse_request(r, s->employee, &who, &ctx, &submitted, err);
    if (!rc) rc = fb_check_answers(s, cJSON_GetObjectItemCaseSensitive(r, "answers"), 1, &norm[made], err);
    if (!rc) rc = prepare(f, s, norm[made], 1, &who, &ctx, NULL, submitted, &x[made], err);
    else memset(&x[made], 0, sizeof x[made]);
    if (rc == CX_EINVAL) at_index(err, made);
  }
  if (!rc && (rc = commit_all(f, x, made, &bad, err)) == CX_EINVAL) at_index(err, bad);
  for (size_t i = 0; !rc && i < made; i++) ids[i] = x[i].p.id;
  for (size_t i = 0; x && norm && i < made; i++) { /* the slots touched, a failed one included */
    prepared_free(&x[i]);
    cJSON_Delete(norm[i]);
  }
  cx_free(x);
  cx_free(norm);
  feedback_survey_release(f, s);
  return rc;
}

cx_err feedback_respond_page(feedback *f, int64_t survey, const cJSON *answers, int complete, const feedback_who *who,
                             const feedback_context *ctx, const char *link, int64_t *id_out, analytics_error *err) {
  const feedback_survey *s;
  cx_err rc = feedback_survey_acquire(f, survey, &s);
  if (rc) return rc;
  cJSON *norm = NULL;
  rc = fb_check_answers(s, answers, complete, &norm, err);
  if (!rc) rc = submit(f, s, norm, complete, who, ctx, link, cx_now_ms(), id_out, NULL, err);
  cJSON_Delete(norm);
  feedback_survey_release(f, s);
  return rc;
}

cx_err feedback_responses_list(feedback *f, int64_t survey, int64_t cursor, size_t limit, cx_buf *out) {
  sqlite3 *db = store_reader_get(f->st);
  sqlite3_stmt *s = NULL;
  cx_err rc = sqlite3_prepare_v2(db,
                                 "SELECT id, version, customer_id, submitted_at, complete, channel, touchpoint, unit, agent,"
                                 " language, answers FROM responses WHERE survey_id = ?1 AND replaced_by IS NULL"
                                 " AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3", -1, &s, NULL) ? CX_EDB : CX_OK;
  if (!rc) {
    sqlite3_bind_int64(s, 1, survey);
    sqlite3_bind_int64(s, 2, cursor);
    sqlite3_bind_int64(s, 3, (int64_t)limit + 1);
    rc = cx_buf_puts(out, "{\"responses\":[");
  }
  size_t n = 0;
  int64_t last = 0;
  static const char *const cols[] = {"channel", "touchpoint", "unit", "agent", "language"};
  while (!rc && sqlite3_step(s) == SQLITE_ROW) {
    if (n == limit) {
      n++;
      break;
    }
    last = sqlite3_column_int64(s, 0);
    int64_t cust = fb_root(f, sqlite3_column_int64(s, 2)); /* 0: an employee's, anonymous */
    rc = cx_buf_printf(out, "%s{\"id\":\"%lld\",\"survey_id\":\"%lld\",\"survey_version\":%lld,\"customer_id\":",
                       n ? "," : "", (long long)last, (long long)survey, (long long)sqlite3_column_int64(s, 1));
    if (!rc) rc = cust ? cx_buf_printf(out, "\"%lld\"", (long long)cust) : cx_buf_puts(out, "null");
    if (!rc) rc = cx_buf_printf(out, ",\"complete\":%s,\"submitted_at\":", sqlite3_column_int(s, 4) ? "true" : "false");
    if (!rc) rc = cx_buf_json_time(out, sqlite3_column_int64(s, 3));
    if (!rc) rc = cx_buf_puts(out, ",\"context\":{");
    int first = 1;
    for (int i = 0; i < 5 && !rc; i++) {
      if (sqlite3_column_type(s, 5 + i) == SQLITE_NULL) continue;
      rc = cx_buf_printf(out, "%s\"%s\":", first ? "" : ",", cols[i]);
      if (!rc) rc = cx_buf_json_str(out, (const char *)sqlite3_column_text(s, 5 + i), (size_t)sqlite3_column_bytes(s, 5 + i));
      first = 0;
    }
    if (!rc) rc = cx_buf_puts(out, "},\"answers\":");
    if (!rc) rc = cx_buf_append(out, sqlite3_column_text(s, 10), (size_t)sqlite3_column_bytes(s, 10));
    if (!rc) rc = cx_buf_puts(out, "}");
    n++;
  }
  if (!rc) rc = n > limit ? cx_buf_printf(out, "],\"next_cursor\":\"%lld\"}", (long long)last) : cx_buf_puts(out, "],\"next_cursor\":null}");
  sqlite3_finalize(s);
  store_reader_put(f->st, db);
  return rc;
}
