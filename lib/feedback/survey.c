/* survey.c - surveys: checking a survey document, saving its versions, the
 * cache of compiled current versions, and show-if logic (feedback.h). */
#include "feedback_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/util.h"
#include <stdio.h>
#include <string.h>

#define MAX_NAME 100
#define MAX_QTEXT 2000
#define MAX_LONG 4000

const char *const fb_type_name[Q_TYPES] = {"nps", "csat", "ces", "rating", "choice", "text"};
const char *const fb_status_name[3] = {"draft", "live", "closed"};

static int id_ok(const char *s) {
  size_t n = strlen(s);
  if (!n || n > FB_MAX_ID) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
          s[i] == '_' || s[i] == '-'))
      return 0;
  return 1;
}

/* A language tag as BCP 47 begins: 2 or 3 letters, then "-" subtags of
 * 2 to 8 letters or digits (en, pt-BR, zh-Hant), at most 20 bytes. */
static int lang_ok(const char *s) {
  size_t n = strlen(s), i = 0;
  if (n > 20) return 0;
  while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) i++;
  if (i < 2 || i > 3) return 0;
  while (i < n) {
    if (s[i++] != '-') return 0;
    size_t k = 0;
    while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'))) i++, k++;
    if (k < 2 || k > 8) return 0;
  }
  return 1;
}

const char *fb_unknown_member(const cJSON *obj, const char *const *names) {
  for (const cJSON *m = obj->child; m; m = m->next) {
    int ok = 0;
    for (size_t i = 0; names[i] && !ok; i++) ok = !strcmp(m->string, names[i]);
    if (!ok) return m->string;
  }
  return NULL;
}

/* A localised text: a string, or {"en":"…","de":"…"}; copied to out[name]. */
static cx_err copy_localised(const cJSON *in, cJSON *out, const char *name, size_t max, int required,
                             const char *field, analytics_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, name);
  if (!v || cJSON_IsNull(v)) {
    if (required) return analytics_refuse(err, "invalid_field", field, "%s is required: a text, or texts by language such as {\"en\":\"…\",\"de\":\"…\"}.", field);
    return CX_OK;
  }
  if (cJSON_IsString(v)) {
    if (!*v->valuestring || strlen(v->valuestring) > max || !cx_utf8_valid(v->valuestring, strlen(v->valuestring)))
      return analytics_refuse(err, "invalid_field", field, "%s must be a text of 1 to %zu bytes.", field, max);
  } else if (cJSON_IsObject(v)) {
    int n = 0;
    for (const cJSON *m = v->child; m; m = m->next, n++) {
      if (!lang_ok(m->string))
        return analytics_refuse(err, "invalid_field", field, "%s: \"%.20s\" is not a language tag (such as en or pt-BR).", field, m->string);
      if (!cJSON_IsString(m) || !*m->valuestring || strlen(m->valuestring) > max ||
          !cx_utf8_valid(m->valuestring, strlen(m->valuestring)))
        return analytics_refuse(err, "invalid_field", field, "%s.%s must be a text of 1 to %zu bytes.", field, m->string, max);
    }
    if (!n || n > FEEDBACK_MAX_LANGUAGES)
      return analytics_refuse(err, "invalid_field", field, "%s must hold 1 to %d languages.", field, FEEDBACK_MAX_LANGUAGES);
  } else {
    return analytics_refuse(err, "invalid_field", field, "%s must be a text, or texts by language such as {\"en\":\"…\"}.", field);
  }
  cJSON *c = cJSON_Duplicate(v, 1);
  if (!c || !cJSON_AddItemToObject(out, name, c)) {
    cJSON_Delete(c);
    return CX_ENOMEM;
  }
  return CX_OK;
}

static int type_of(const char *s) {
  for (int t = 0; t < Q_TYPES; t++)
    if (!strcmp(s, fb_type_name[t])) return t;
  return -1;
}

/* show_if may read answers.<earlier question> only. */
typedef struct {
  const cJSON *earlier; /* the questions before this one */
  const cJSON *self;
  char bad[64];
  int other_root;
} show_check;

static cx_err show_path(void *ctx, const char *root, const char *const *parts, size_t nparts) {
  show_check *c = ctx;
  if (strcmp(root, "answers")) {
    c->other_root = 1;
    return CX_OK;
  }
  if (!nparts) return CX_OK;
  for (const cJSON *q = c->earlier; q && q != c->self; q = q->next)
    if (!strcmp(cJSON_GetObjectItem(q, "id")->valuestring, parts[0])) return CX_OK;
  if (!c->bad[0]) snprintf(c->bad, sizeof c->bad, "%s", parts[0]);
  return CX_OK;
}

static cx_err check_question(const cJSON *q, size_t i, const cJSON *out_questions, cJSON *out,
                             analytics_error *err) {
  char f[64];
  static const char *const names[] = {"id", "type", "text", "required", "scale", "options", "multiple",
                                      "show_if", "description", "placeholder", NULL};
  if (!cJSON_IsObject(q)) return analytics_refuse(err, "invalid_field", "questions", "questions[%zu] must be an object.", i);
  const char *u = fb_unknown_member(q, names);
  if (u) {
    snprintf(f, sizeof f, "questions[%zu].%.30s", i, u);
    return analytics_refuse(err, "invalid_field", f, "Unknown member \"%.30s\": a question has id, type, text, required, scale, options, multiple, show_if, description and placeholder.", u);
  }
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(q, "id");
  snprintf(f, sizeof f, "questions[%zu].id", i);
  if (!cJSON_IsString(id) || !id_ok(id->valuestring))
    return analytics_refuse(err, "invalid_field", f, "%s must be 1 to %d letters, digits, '_' or '-', such as q1.", f, FB_MAX_ID);
  if (!strcmp(id->valuestring, "page") || !strcmp(id->valuestring, "t") || !strcmp(id->valuestring, "lang"))
    return analytics_refuse(err, "invalid_field", f, "%s: page, t and lang are the respondent page's own fields; choose another id.", f);
  for (const cJSON *o = out_questions->child; o; o = o->next)
    if (!strcmp(cJSON_GetObjectItem(o, "id")->valuestring, id->valuestring))
      return analytics_refuse(err, "invalid_field", f, "Two questions have the id %s.", id->valuestring);
  if (!cJSON_AddStringToObject(out, "id", id->valuestring)) return CX_ENOMEM;
  const cJSON *ty = cJSON_GetObjectItemCaseSensitive(q, "type");
  snprintf(f, sizeof f, "questions[%zu].type", i);
  int t = cJSON_IsString(ty) ? type_of(ty->valuestring) : -1;
  if (t < 0) return analytics_refuse(err, "invalid_field", f, "%s must be one of nps, csat, ces, rating, choice and text.", f);
  if (!cJSON_AddStringToObject(out, "type", fb_type_name[t])) return CX_ENOMEM;
  cx_err rc;
  snprintf(f, sizeof f, "questions[%zu].text", i);
  if ((rc = copy_localised(q, out, "text", MAX_QTEXT, 1, f, err))) return rc;
  snprintf(f, sizeof f, "questions[%zu].description", i);
  if ((rc = copy_localised(q, out, "description", MAX_QTEXT, 0, f, err))) return rc;
  snprintf(f, sizeof f, "questions[%zu].placeholder", i);
  if ((rc = copy_localised(q, out, "placeholder", 200, 0, f, err))) return rc;
  const cJSON *req = cJSON_GetObjectItemCaseSensitive(q, "required");
  snprintf(f, sizeof f, "questions[%zu].required", i);
  if (req && !cJSON_IsBool(req)) return analytics_refuse(err, "invalid_field", f, "%s must be true or false.", f);
  if (!cJSON_AddBoolToObject(out, "required", !req || cJSON_IsTrue(req))) return CX_ENOMEM;
  const cJSON *scale = cJSON_GetObjectItemCaseSensitive(q, "scale");
  snprintf(f, sizeof f, "questions[%zu].scale", i);
  if (t == Q_RATING) {
    double v = scale ? (cJSON_IsNumber(scale) ? scale->valuedouble : -1) : 5;
    if (v != (int)v || v < 2 || v > 10) return analytics_refuse(err, "invalid_field", f, "%s must be a whole number from 2 to 10 (answers are 1 to scale).", f);
    if (!cJSON_AddNumberToObject(out, "scale", v)) return CX_ENOMEM;
  } else if (scale) {
    return analytics_refuse(err, "invalid_field", f, "Only rating questions have a scale: nps is 0-10, csat 1-5, ces 1-7.");
  }
  const cJSON *opts = cJSON_GetObjectItemCaseSensitive(q, "options");
  const cJSON *mult = cJSON_GetObjectItemCaseSensitive(q, "multiple");
  snprintf(f, sizeof f, "questions[%zu].options", i);
  if (t == Q_CHOICE) {
    int n = cJSON_GetArraySize(opts);
    if (!cJSON_IsArray(opts) || n < 2 || n > FEEDBACK_MAX_OPTIONS)
      return analytics_refuse(err, "invalid_field", f, "%s must list 2 to %d options.", f, FEEDBACK_MAX_OPTIONS);
    cJSON *ol = cJSON_AddArrayToObject(out, "options");
    if (!ol) return CX_ENOMEM;
    size_t k = 0;
    for (const cJSON *o = opts->child; o; o = o->next, k++) {
      snprintf(f, sizeof f, "questions[%zu].options[%zu]", i, k);
      cJSON *no = cJSON_CreateObject();
      if (!no || !cJSON_AddItemToArray(ol, no)) {
        cJSON_Delete(no);
        return CX_ENOMEM;
      }
      const char *oid;
      if (cJSON_IsString(o)) { /* "Web": id and text alike */
        if (!id_ok(o->valuestring))
          return analytics_refuse(err, "invalid_field", f, "%s: an option given as a string is its own id: 1 to %d letters, digits, '_' or '-'; give {\"id\":…,\"text\":…} otherwise.", f, FB_MAX_ID);
        oid = o->valuestring;
        if (!cJSON_AddStringToObject(no, "id", oid) || !cJSON_AddStringToObject(no, "text", oid)) return CX_ENOMEM;
      } else if (cJSON_IsObject(o) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "id")) &&
                 id_ok(cJSON_GetObjectItemCaseSensitive(o, "id")->valuestring)) {
        oid = cJSON_GetObjectItemCaseSensitive(o, "id")->valuestring;
        if (!cJSON_AddStringToObject(no, "id", oid)) return CX_ENOMEM;
        char tf[80];
        snprintf(tf, sizeof tf, "%s.text", f);
        if ((rc = copy_localised(o, no, "text", 300, 1, tf, err))) return rc;
      } else {
        return analytics_refuse(err, "invalid_field", f, "%s must be {\"id\":\"…\",\"text\":\"…\"} with an id of 1 to %d letters, digits, '_' or '-'.", f, FB_MAX_ID);
      }
      for (const cJSON *p = ol->child; p != no; p = p->next)
        if (!strcmp(cJSON_GetObjectItem(p, "id")->valuestring, oid))
          return analytics_refuse(err, "invalid_field", f, "Two options have the id %s.", oid);
    }
    snprintf(f, sizeof f, "questions[%zu].multiple", i);
    if (mult && !cJSON_IsBool(mult)) return analytics_refuse(err, "invalid_field", f, "%s must be true or false.", f);
    if (!cJSON_AddBoolToObject(out, "multiple", cJSON_IsTrue(mult))) return CX_ENOMEM;
  } else if (opts || mult) {
    return analytics_refuse(err, "invalid_field", f, "Only choice questions have options and multiple.");
  }
  const cJSON *show = cJSON_GetObjectItemCaseSensitive(q, "show_if");
  snprintf(f, sizeof f, "questions[%zu].show_if", i);
  if (show && !cJSON_IsNull(show)) {
    if (!cJSON_IsString(show) || !*show->valuestring)
      return analytics_refuse(err, "invalid_field", f, "%s must be a rule on earlier answers, such as answers.q1 <= 6.", f);
    if (!i) return analytics_refuse(err, "invalid_field", f, "The first question is always shown: it has no earlier answers to depend on.");
    rules_expr *e;
    rules_error re;
    rc = rules_compile(show->valuestring, strlen(show->valuestring), &e, &re);
    if (rc == CX_ENOMEM) return rc;
    if (rc) return analytics_refuse(err, "invalid_rule", f, "%s: %s", f, re.message);
    show_check c = {.earlier = out_questions->child, .self = NULL};
    rules_each_path(e, show_path, &c);
    int cond = rules_may_be(e, RULES_BOOL), hist = rules_calls(e, "count") || rules_calls(e, "sum") ||
                                                   rules_calls(e, "days_since");
    rules_free(e);
    if (c.other_root || hist)
      return analytics_refuse(err, "invalid_rule", f, "%s may read only earlier answers (answers.q1), not traits, events or history.", f);
    if (c.bad[0])
      return analytics_refuse(err, "invalid_rule", f, "%s reads answers.%s, which is not an earlier question.", f, c.bad);
    if (!cond) return analytics_refuse(err, "invalid_rule", f, "%s must be a condition (true or false).", f);
    if (!cJSON_AddStringToObject(out, "show_if", show->valuestring)) return CX_ENOMEM;
  }
  return CX_OK;
}

/* Checks req and builds the document saved as a version. */
static cx_err check_survey(const cJSON *req, cJSON **out, int *status, analytics_error *err) {
  static const char *const names[] = {"name", "kind", "status", "description", "language", "title", "intro",
                                      "thanks", "questions", NULL};
  if (!cJSON_IsObject(req)) return analytics_refuse(err, "malformed_json", NULL, "A survey is a JSON object.");
  const char *u = fb_unknown_member(req, names);
  if (u) return analytics_refuse(err, "invalid_field", u, "Unknown member \"%.40s\": a survey has name, kind, status, description, language, title, intro, thanks and questions.", u);
  cJSON *doc = cJSON_CreateObject();
  if (!doc) return CX_ENOMEM;
  cx_err rc = CX_OK;
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(req, "name");
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(req, "kind");
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(req, "status");
  const cJSON *desc = cJSON_GetObjectItemCaseSensitive(req, "description");
  const cJSON *lang = cJSON_GetObjectItemCaseSensitive(req, "language");
  const cJSON *qs = cJSON_GetObjectItemCaseSensitive(req, "questions");
  if (!cJSON_IsString(name) || !*name->valuestring || strlen(name->valuestring) > MAX_NAME ||
      !cx_utf8_valid(name->valuestring, strlen(name->valuestring)))
    rc = analytics_refuse(err, "invalid_field", "name", "name must be a text of 1 to %d bytes.", MAX_NAME);
  else if (kind && !(cJSON_IsString(kind) && (!strcmp(kind->valuestring, "customer") || !strcmp(kind->valuestring, "employee"))))
    rc = analytics_refuse(err, "invalid_field", "kind", "kind must be customer (the default) or employee (eNPS and other employee surveys).");
  else if (st && !(cJSON_IsString(st) && (!strcmp(st->valuestring, "draft") || !strcmp(st->valuestring, "live"))))
    rc = analytics_refuse(err, "invalid_field", "status", "status must be draft or live when saving; close a survey with POST /surveys/{id}/close.");
  else if (desc && !cJSON_IsNull(desc) && (!cJSON_IsString(desc) || strlen(desc->valuestring) > MAX_LONG))
    rc = analytics_refuse(err, "invalid_field", "description", "description must be a text of at most %d bytes.", MAX_LONG);
  else if (lang && !(cJSON_IsString(lang) && lang_ok(lang->valuestring)))
    rc = analytics_refuse(err, "invalid_field", "language", "language must be a language tag such as en or pt-BR: the one shown when the respondent's is missing.");
  else if (!cJSON_IsArray(qs) || cJSON_GetArraySize(qs) < 1 || cJSON_GetArraySize(qs) > FEEDBACK_MAX_QUESTIONS)
    rc = analytics_refuse(err, "invalid_field", "questions", "questions must list 1 to %d questions.", FEEDBACK_MAX_QUESTIONS);
  if (!rc && (!cJSON_AddStringToObject(doc, "name", name->valuestring) ||
              !cJSON_AddStringToObject(doc, "kind", kind ? kind->valuestring : "customer") ||
              !cJSON_AddStringToObject(doc, "description", cJSON_IsString(desc) ? desc->valuestring : "") ||
              !cJSON_AddStringToObject(doc, "language", lang ? lang->valuestring : "en")))
    rc = CX_ENOMEM;
  if (!rc) rc = copy_localised(req, doc, "title", 300, 0, "title", err);
  if (!rc) rc = copy_localised(req, doc, "intro", MAX_LONG, 0, "intro", err);
  if (!rc) rc = copy_localised(req, doc, "thanks", MAX_LONG, 0, "thanks", err);
  cJSON *ql = rc ? NULL : cJSON_AddArrayToObject(doc, "questions");
  if (!rc && !ql) rc = CX_ENOMEM;
  size_t i = 0;
  for (const cJSON *q = rc ? NULL : qs->child; q && !rc; q = q->next, i++) {
    cJSON *o = cJSON_CreateObject();
    if (!o) {
      rc = CX_ENOMEM;
      break;
    }
    rc = check_question(q, i, ql, o, err);
    if (rc) cJSON_Delete(o);
    else if (!cJSON_AddItemToArray(ql, o)) {
      cJSON_Delete(o);
      rc = CX_ENOMEM;
    }
  }
  if (rc) {
    cJSON_Delete(doc);
    return rc;
  }
  *status = st && !strcmp(st->valuestring, "draft") ? S_DRAFT : S_LIVE;
  *out = doc;
  return CX_OK;
}

/* ---- compiled versions and the cache ---- */

void fb_survey_free(feedback_survey *s) {
  if (!s) return;
  for (size_t i = 0; i < s->nq; i++) rules_free(s->q[i].show_if);
  cJSON_Delete(s->doc);
  cx_free(s);
}

static const int scale_min[Q_TYPES] = {0, 1, 1, 1, 0, 0}, scale_max[Q_TYPES] = {10, 5, 7, 0, 0, 0};

static cx_err compile(int64_t id, int64_t version, int status, cJSON *doc, feedback_survey **out) {
  feedback_survey *s = cx_calloc(1, sizeof *s);
  if (!s) {
    cJSON_Delete(doc);
    return CX_ENOMEM;
  }
  s->id = id, s->version = version, s->status = status, s->doc = doc, s->refs = 1;
  s->name = cJSON_GetObjectItem(doc, "name")->valuestring;
  s->language = cJSON_GetObjectItem(doc, "language")->valuestring;
  s->employee = !strcmp(cJSON_GetObjectItem(doc, "kind")->valuestring, "employee");
  cx_err rc = CX_OK;
  for (const cJSON *q = cJSON_GetObjectItem(doc, "questions")->child; q && s->nq < FEEDBACK_MAX_QUESTIONS && !rc; q = q->next) {
    fb_question *x = &s->q[s->nq++];
    x->json = q;
    x->id = cJSON_GetObjectItem(q, "id")->valuestring;
    x->type = type_of(cJSON_GetObjectItem(q, "type")->valuestring);
    x->required = cJSON_IsTrue(cJSON_GetObjectItem(q, "required"));
    x->multiple = cJSON_IsTrue(cJSON_GetObjectItem(q, "multiple"));
    x->min = scale_min[x->type], x->max = scale_max[x->type];
    if (x->type == Q_RATING) x->max = cJSON_GetObjectItem(q, "scale")->valueint;
    const cJSON *opts = cJSON_GetObjectItem(q, "options");
    for (const cJSON *o = opts ? opts->child : NULL; o && x->nopt < FEEDBACK_MAX_OPTIONS; o = o->next)
      x->opt[x->nopt++] = cJSON_GetObjectItem(o, "id")->valuestring;
    const cJSON *show = cJSON_GetObjectItem(q, "show_if");
    if (cJSON_IsString(show)) rc = rules_compile(show->valuestring, strlen(show->valuestring), &x->show_if, NULL);
  }
  if (rc) {
    fb_survey_free(s);
    return rc == CX_ENOMEM ? rc : CX_EDB; /* it compiled when saved */
  }
  *out = s;
  return CX_OK;
}

cx_err fb_survey_from_json(const cJSON *req, feedback_survey **out, analytics_error *err) {
  cJSON *doc = NULL;
  int status = S_LIVE;
  cx_err rc = check_survey(req, &doc, &status, err);
  if (rc) return rc;
  return compile(1, 1, status, doc, out);
}

cx_err fb_survey_load(feedback *f, sqlite3 *db, int64_t id, int64_t version, feedback_survey **out) {
  (void)f;
  sqlite3_stmt *s = NULL;
  cx_err rc = sqlite3_prepare_v2(db,
                                 "SELECT v.doc, v.version, m.status FROM surveys m JOIN survey_versions v ON v.survey_id = m.id"
                                 " WHERE m.id = ?1 AND v.version = CASE WHEN ?2 > 0 THEN ?2 ELSE m.version END",
                                 -1, &s, NULL) ? CX_EDB : CX_OK;
  cJSON *doc = NULL;
  int64_t v = 0;
  int status = 0;
  if (!rc) {
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, version);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
      doc = cJSON_Parse((const char *)sqlite3_column_text(s, 0));
      v = sqlite3_column_int64(s, 1);
      const char *stt = (const char *)sqlite3_column_text(s, 2);
      status = !strcmp(stt, "draft") ? S_DRAFT : !strcmp(stt, "live") ? S_LIVE : S_CLOSED;
      if (!doc) rc = CX_ENOMEM;
    } else {
      rc = r == SQLITE_DONE ? CX_ENOTFOUND : CX_EDB;
    }
  }
  sqlite3_finalize(s);
  if (rc) return rc;
  return compile(id, v, status, doc, out);
}

cx_err feedback_survey_acquire(feedback *f, int64_t id, const feedback_survey **out) {
  pthread_mutex_lock(&f->mu);
  for (size_t i = 0; i < f->ncache; i++)
    if (f->cache[i]->id == id) {
      f->cache[i]->refs++;
      *out = f->cache[i];
      pthread_mutex_unlock(&f->mu);
      return CX_OK;
    }
  pthread_mutex_unlock(&f->mu);
  sqlite3 *db = store_reader_get(f->st);
  feedback_survey *s = NULL;
  cx_err rc = fb_survey_load(f, db, id, 0, &s);
  store_reader_put(f->st, db);
  if (rc) return rc;
  pthread_mutex_lock(&f->mu);
  for (size_t i = 0; i < f->ncache; i++)
    if (f->cache[i]->id == id) { /* another thread was quicker */
      fb_survey_free(s);
      s = f->cache[i];
      s->refs++;
      *out = s;
      pthread_mutex_unlock(&f->mu);
      return CX_OK;
    }
  if (f->ncache == f->capcache) {
    size_t cap = f->capcache ? 2 * f->capcache : 16;
    feedback_survey **n = cx_realloc(f->cache, cap * sizeof *n);
    if (!n) {
      pthread_mutex_unlock(&f->mu);
      *out = s; /* uncached: released (freed) by the caller */
      return CX_OK;
    }
    f->cache = n, f->capcache = cap;
  }
  s->refs++; /* the cache's */
  f->cache[f->ncache++] = s;
  *out = s;
  pthread_mutex_unlock(&f->mu);
  return CX_OK;
}

void feedback_survey_release(feedback *f, const feedback_survey *cs) {
  feedback_survey *s = (feedback_survey *)cs;
  if (!s) return;
  pthread_mutex_lock(&f->mu);
  int last = --s->refs == 0;
  pthread_mutex_unlock(&f->mu);
  if (last) fb_survey_free(s);
}

/* Drops survey id from the cache (it changed). */
static void uncache(feedback *f, int64_t id) {
  feedback_survey *gone = NULL;
  pthread_mutex_lock(&f->mu);
  for (size_t i = 0; i < f->ncache; i++)
    if (f->cache[i]->id == id) {
      gone = f->cache[i];
      f->cache[i] = f->cache[--f->ncache];
      break;
    }
  int last = gone && --gone->refs == 0;
  pthread_mutex_unlock(&f->mu);
  if (last) fb_survey_free(gone);
}

const char *fb_text(const feedback_survey *s, const cJSON *v, const char *lang) {
  if (!v) return NULL;
  if (cJSON_IsString(v)) return v->valuestring;
  if (!cJSON_IsObject(v)) return NULL;
  const cJSON *t = lang ? cJSON_GetObjectItemCaseSensitive(v, lang) : NULL;
  if (!t && lang && strlen(lang) > 2) { /* pt-BR falls back to pt */
    char base[4] = {lang[0], lang[1], 0, 0};
    if (lang[2] == '-') t = cJSON_GetObjectItemCaseSensitive(v, base);
  }
  if (!t) t = cJSON_GetObjectItemCaseSensitive(v, s->language);
  if (!t) t = v->child;
  return cJSON_IsString(t) ? t->valuestring : NULL;
}

/* ---- show-if: answers.<id> over a JSON object of answers ---- */

typedef struct {
  const cJSON *answers;
  rules_value items[FEEDBACK_MAX_OPTIONS];
} show_env;

static cx_err show_lookup(void *ctx, const char *root, const char *const *parts, size_t nparts, rules_value *out) {
  show_env *e = ctx;
  if (strcmp(root, "answers") || nparts != 1) return CX_OK;
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(e->answers, parts[0]);
  if (cJSON_IsNumber(a)) *out = (rules_value){.type = RULES_NUMBER, .u.number = a->valuedouble};
  else if (cJSON_IsString(a)) *out = (rules_value){.type = RULES_STRING, .u.str = {a->valuestring, strlen(a->valuestring)}};
  else if (cJSON_IsArray(a)) {
    size_t n = 0;
    for (const cJSON *x = a->child; x && n < FEEDBACK_MAX_OPTIONS; x = x->next)
      if (cJSON_IsString(x)) e->items[n++] = (rules_value){.type = RULES_STRING, .u.str = {x->valuestring, strlen(x->valuestring)}};
    *out = (rules_value){.type = RULES_LIST, .u.list = {e->items, n}};
  }
  return CX_OK;
}

int fb_shown(const feedback_survey *s, size_t i, const cJSON *answers) {
  if (!s->q[i].show_if) return 1;
  show_env e = {.answers = answers};
  char scratch[256];
  rules_env env = {.ctx = &e, .now_ms = cx_now_ms(), .lookup = show_lookup, .scratch = scratch,
                   .scratch_size = sizeof scratch};
  return rules_match(s->q[i].show_if, &env);
}

/* ---- saving ---- */

typedef struct {
  store_job job;
  int op; /* 'c'reate, 'u'pdate, 's'tatus, 'd'elete */
  int64_t id, now;
  const char *name, *kind, *doc, *status;
  int missing, exists, has_responses;
  int64_t version;
} survey_job;

static cx_err exec1(sqlite3 *db, const char *sql, survey_job *j, int64_t *out) {
  const store_param p[] = {{":id", 0, NULL, j->id},        {":name", 1, j->name, 0}, {":kind", 1, j->kind, 0},
                           {":status", 1, j->status, 0}, {":doc", 1, j->doc, 0},   {":now", 0, NULL, j->now},
                           {":version", 0, NULL, j->version}};
  return store_step_named(db, sql, p, sizeof p / sizeof p[0], out);
}

static cx_err apply_survey(store_job *job, sqlite3 *db) {
  survey_job *j = (survey_job *)job;
  cx_err rc;
  int64_t v = -1, other = -1, nresp = 0;
  char cur_status[8] = "";
  if (j->op != 'c') {
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "SELECT version, status FROM surveys WHERE id = ?1", -1, &s, NULL)) return CX_EDB;
    sqlite3_bind_int64(s, 1, j->id);
    if (sqlite3_step(s) == SQLITE_ROW) {
      v = sqlite3_column_int64(s, 0);
      snprintf(cur_status, sizeof cur_status, "%s", (const char *)sqlite3_column_text(s, 1));
    }
    sqlite3_finalize(s);
    if (v < 0) {
      j->missing = 1;
      return CX_OK;
    }
    if ((rc = exec1(db, "SELECT count(*) FROM responses WHERE survey_id = :id", j, &nresp))) return rc;
  }
  if (j->name && (rc = exec1(db, "SELECT id FROM surveys WHERE name = :name AND id != :id", j, &other))) return rc;
  if (other >= 0) {
    j->exists = 1;
    return CX_OK;
  }
  if (j->op == 'd') {
    if (nresp) {
      j->has_responses = 1;
      return CX_OK;
    }
    if ((rc = exec1(db, "DELETE FROM survey_versions WHERE survey_id = :id", j, NULL))) return rc;
    return exec1(db, "DELETE FROM surveys WHERE id = :id", j, NULL);
  }
  if (j->op == 's') {
    if (!strcmp(j->status, "draft") && nresp) {
      j->has_responses = 1;
      return CX_OK;
    }
    return exec1(db, "UPDATE surveys SET status = :status, updated_at = :now WHERE id = :id", j, NULL);
  }
  if (j->op == 'c') {
    j->version = 1;
    if ((rc = exec1(db, "INSERT INTO surveys(name, kind, status, version, created_at, updated_at)"
                        " VALUES(:name, :kind, :status, 1, :now, :now)", j, NULL)))
      return rc;
    j->id = sqlite3_last_insert_rowid(db);
    return exec1(db, "INSERT INTO survey_versions(survey_id, version, doc, created_at) VALUES(:id, 1, :doc, :now)", j, NULL);
  }
  /* update: a draft in place, otherwise a new version */
  int in_place = !strcmp(cur_status, "draft");
  j->version = in_place ? v : v + 1;
  if (!j->status) j->status = in_place ? "draft" : cur_status;
  else if (!strcmp(j->status, "draft") && !in_place && nresp) {
    j->has_responses = 1;
    return CX_OK;
  }
  if ((rc = exec1(db, "UPDATE surveys SET name = :name, kind = :kind, status = :status, version = :version,"
                      " updated_at = :now WHERE id = :id", j, NULL)))
    return rc;
  return exec1(db, in_place ? "UPDATE survey_versions SET doc = :doc, created_at = :now WHERE survey_id = :id AND version = :version"
                            : "INSERT INTO survey_versions(survey_id, version, doc, created_at) VALUES(:id, :version, :doc, :now)",
               j, NULL);
}

static cx_err run(feedback *f, survey_job *j, analytics_error *err) {
  j->job = (store_job){.apply = apply_survey, .weight = 1};
  j->now = cx_now_ms();
  cx_err rc = store_run(f->st, &j->job);
  if (!rc && j->missing) rc = CX_ENOTFOUND;
  if (!rc && j->exists) rc = CX_EEXIST;
  if (!rc && j->has_responses)
    rc = analytics_refuse(err, "has_responses", j->op == 'd' ? "id" : "status",
                          j->op == 'd' ? "This survey has responses: close it instead (POST /surveys/{id}/close)."
                                       : "A survey with responses cannot go back to draft: close it, or edit it to make a new version.");
  if (!rc && j->id) uncache(f, j->id);
  return rc;
}

static cx_err save(feedback *f, int op, int64_t id, const cJSON *req, cx_buf *out, analytics_error *err) {
  cJSON *doc = NULL;
  int status = S_LIVE;
  cx_err rc = check_survey(req, &doc, &status, err);
  if (rc) return rc;
  char *text = cJSON_PrintUnformatted(doc);
  if (!text) {
    cJSON_Delete(doc);
    return CX_ENOMEM;
  }
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(req, "status");
  survey_job j = {.op = op, .id = id, .name = cJSON_GetObjectItem(doc, "name")->valuestring,
                  .kind = cJSON_GetObjectItem(doc, "kind")->valuestring, .doc = text,
                  .status = op == 'c' ? fb_status_name[status] : st ? fb_status_name[status] : NULL};
  rc = run(f, &j, err);
  cJSON_free(text);
  cJSON_Delete(doc);
  if (!rc) rc = feedback_survey_get(f, j.id, 0, out);
  return rc;
}

cx_err feedback_survey_create(feedback *f, const cJSON *req, cx_buf *out, analytics_error *err) {
  return save(f, 'c', 0, req, out, err);
}

cx_err feedback_survey_update(feedback *f, int64_t id, const cJSON *req, cx_buf *out, analytics_error *err) {
  return save(f, 'u', id, req, out, err);
}

cx_err feedback_survey_set_status(feedback *f, int64_t id, const char *status, cx_buf *out, analytics_error *err) {
  survey_job j = {.op = 's', .id = id, .status = status};
  cx_err rc = run(f, &j, err);
  if (!rc) rc = feedback_survey_get(f, id, 0, out);
  return rc;
}

cx_err feedback_survey_delete(feedback *f, int64_t id, analytics_error *err) {
  survey_job j = {.op = 'd', .id = id};
  return run(f, &j, err);
}

/* Responses counted from the index: survey id -> complete responses. */
static uint64_t response_count(feedback *f, sqlite3 *db, int64_t id) {
  (void)f;
  sqlite3_stmt *s;
  uint64_t n = 0;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM responses WHERE survey_id = ?1 AND replaced_by IS NULL", -1, &s, NULL))
    return 0;
  sqlite3_bind_int64(s, 1, id);
  if (sqlite3_step(s) == SQLITE_ROW) n = (uint64_t)sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return n;
}

cx_err feedback_surveys_list(feedback *f, cx_buf *out) {
  sqlite3 *db = store_reader_get(f->st);
  sqlite3_stmt *s = NULL;
  cx_err rc = sqlite3_prepare_v2(db,
                                 "SELECT m.id, m.name, m.kind, m.status, m.version, m.created_at, m.updated_at, v.doc"
                                 " FROM surveys m JOIN survey_versions v ON v.survey_id = m.id AND v.version = m.version"
                                 " ORDER BY m.id", -1, &s, NULL) ? CX_EDB : CX_OK;
  if (!rc) rc = cx_buf_puts(out, "{\"surveys\":[");
  for (int first = 1; !rc && sqlite3_step(s) == SQLITE_ROW; first = 0) {
    int64_t id = sqlite3_column_int64(s, 0);
    cJSON *doc = cJSON_Parse((const char *)sqlite3_column_text(s, 7));
    const cJSON *qs = cJSON_GetObjectItem(doc, "questions");
    rc = cx_buf_printf(out, "%s{\"id\":\"%lld\",\"name\":", first ? "" : ",", (long long)id);
    if (!rc) rc = cx_buf_json_str(out, (const char *)sqlite3_column_text(s, 1), (size_t)sqlite3_column_bytes(s, 1));
    if (!rc) rc = cx_buf_printf(out, ",\"kind\":\"%s\",\"status\":\"%s\",\"version\":%lld,\"questions\":%d,\"types\":[",
                                (const char *)sqlite3_column_text(s, 2), (const char *)sqlite3_column_text(s, 3),
                                (long long)sqlite3_column_int64(s, 4), cJSON_GetArraySize(qs));
    int qi = 0;
    for (const cJSON *q = qs ? qs->child : NULL; !rc && q; q = q->next, qi++)
      rc = cx_buf_printf(out, "%s\"%s\"", qi ? "," : "", cJSON_GetObjectItem(q, "type")->valuestring);
    if (!rc) rc = cx_buf_printf(out, "],\"responses\":%llu,\"created_at\":", (unsigned long long)response_count(f, db, id));
    if (!rc) rc = cx_buf_json_time(out, sqlite3_column_int64(s, 5));
    if (!rc) rc = cx_buf_puts(out, ",\"updated_at\":");
    if (!rc) rc = cx_buf_json_time(out, sqlite3_column_int64(s, 6));
    if (!rc) rc = cx_buf_puts(out, "}");
    cJSON_Delete(doc);
  }
  if (!rc) rc = cx_buf_puts(out, "]}");
  sqlite3_finalize(s);
  store_reader_put(f->st, db);
  return rc;
}

cx_err feedback_survey_get(feedback *f, int64_t id, int64_t version, cx_buf *out) {
  sqlite3 *db = store_reader_get(f->st);
  sqlite3_stmt *s = NULL;
  cx_err rc = sqlite3_prepare_v2(db,
                                 "SELECT v.doc, v.version, v.created_at, m.version, m.status, m.created_at, m.updated_at"
                                 " FROM surveys m JOIN survey_versions v ON v.survey_id = m.id"
                                 " WHERE m.id = ?1 AND v.version = CASE WHEN ?2 > 0 THEN ?2 ELSE m.version END",
                                 -1, &s, NULL) ? CX_EDB : CX_OK;
  if (!rc) {
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, version);
    int r = sqlite3_step(s);
    if (r != SQLITE_ROW) rc = r == SQLITE_DONE ? CX_ENOTFOUND : CX_EDB;
  }
  if (!rc) {
    const char *doc = (const char *)sqlite3_column_text(s, 0);
    rc = cx_buf_printf(out, "{\"id\":\"%lld\",\"version\":%lld,\"latest_version\":%lld,\"status\":\"%s\",\"responses\":%llu,\"link\":\"/s/%lld\",\"version_saved_at\":",
                       (long long)id, (long long)sqlite3_column_int64(s, 1), (long long)sqlite3_column_int64(s, 3),
                       (const char *)sqlite3_column_text(s, 4), (unsigned long long)response_count(f, db, id), (long long)id);
    if (!rc) rc = cx_buf_json_time(out, sqlite3_column_int64(s, 2));
    if (!rc) rc = cx_buf_puts(out, ",\"created_at\":");
    if (!rc) rc = cx_buf_json_time(out, sqlite3_column_int64(s, 5));
    if (!rc) rc = cx_buf_puts(out, ",\"updated_at\":");
    if (!rc) rc = cx_buf_json_time(out, sqlite3_column_int64(s, 6));
    if (!rc) rc = cx_buf_puts(out, ",");
    if (!rc) rc = cx_buf_puts(out, doc + 1); /* the document's members */
  }
  sqlite3_finalize(s);
  store_reader_put(f->st, db);
  return rc;
}
