/* maturity.c - the CX maturity self-assessment: checking and scoring an
 * assessment, its history in the store, and the model as JSON
 * (maturity.h; the evidence is in maturity_evidence.c). */
#include "maturity.h"
#include "maturity_int.h"
#include "../base/mem.h"
#include <stdio.h>
#include <string.h>

/* ---- scoring ---- */

int gv_maturity_level_of(int hundredths) {
  int level = 0;
  for (int i = 1; i < GV_MATURITY_LEVELS; i++)
    if (hundredths >= gv_maturity_levels[i].from) level = i;
  return level;
}

void gv_maturity_score(const gv_maturity_answers *a, gv_maturity_result *out) {
  int sum = 0;
  for (int c = 0; c < GV_MATURITY_COMPONENTS; c++) {
    const gv_maturity_component *m = &gv_maturity_model[c];
    int n = (int)m->nstatements, s = 0;
    for (int i = 0; i < n; i++) s += a->answer[c][i];
    /* the mean in hundredths, rounded half up (all terms positive) */
    out->component[c] = (200 * s + n) / (2 * n);
    out->component_level[c] = gv_maturity_level_of(out->component[c]);
    sum += out->component[c];
  }
  /* the mean of the component scores as shown */
  out->overall = (2 * sum + GV_MATURITY_COMPONENTS) / (2 * GV_MATURITY_COMPONENTS);
  out->overall_level = gv_maturity_level_of(out->overall);
  /* the weakest: lowest score first, model order among equals (a stable
   * selection: a later component replaces an earlier one only when it is
   * strictly lower) */
  int taken[GV_MATURITY_COMPONENTS] = {0};
  for (int k = 0; k < GV_MATURITY_RECOMMENDATIONS; k++) {
    int best = -1;
    for (int c = 0; c < GV_MATURITY_COMPONENTS; c++)
      if (!taken[c] && (best < 0 || out->component[c] < out->component[best])) best = c;
    taken[best] = 1;
    out->weakest[k] = best;
  }
}

/* ---- checking a request ---- */

/* The component and statement of id; 0 when there is none. */
static int find_statement(const char *id, int *comp, int *stmt) {
  for (int c = 0; c < GV_MATURITY_COMPONENTS; c++)
    for (size_t i = 0; i < gv_maturity_model[c].nstatements; i++)
      if (!strcmp(gv_maturity_model[c].statements[i].id, id)) {
        *comp = c, *stmt = (int)i;
        return 1;
      }
  return 0;
}

/* An id that may be quoted in a field name: short, plain characters. */
static int quotable(const char *s) {
  size_t n = strlen(s);
  if (!n || n > GV_MATURITY_ID_MAX) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
          s[i] == '_' || s[i] == '-' || s[i] == '.'))
      return 0;
  return 1;
}

cx_err gv_maturity_check(const cJSON *req, gv_maturity_answers *out, const char **note, analytics_error *err) {
  memset(out, 0, sizeof *out);
  *note = NULL;
  if (!cJSON_IsObject(req)) return analytics_refuse(err, "malformed_json", NULL, "The body must be a JSON object.");
  for (const cJSON *m = req->child; m; m = m->next)
    if (strcmp(m->string, "answers") && strcmp(m->string, "note"))
      return analytics_refuse(err, "invalid_field", quotable(m->string) ? m->string : NULL,
                              "An assessment has answers and note; not \"%.40s\".", m->string);
  const cJSON *nv = cJSON_GetObjectItemCaseSensitive(req, "note");
  if (nv && !cJSON_IsNull(nv)) {
    if (!cJSON_IsString(nv) || strlen(nv->valuestring) > GV_MATURITY_NOTE_MAX)
      return analytics_refuse(err, "invalid_field", "note", "note must be a text of at most %d bytes.",
                              GV_MATURITY_NOTE_MAX);
    *note = nv->valuestring;
  }
  const cJSON *ans = cJSON_GetObjectItemCaseSensitive(req, "answers");
  if (!cJSON_IsObject(ans))
    return analytics_refuse(err, "invalid_field", "answers",
                            "answers must be an object of statement id to a whole number from 1 to 5 "
                            "(GET /api/v1/maturity/model lists the statements).");
  char field[64];
  for (const cJSON *a = ans->child; a; a = a->next) {
    int c, s;
    int ok = quotable(a->string);
    snprintf(field, sizeof field, "answers.%s", ok ? a->string : "");
    if (!ok || !find_statement(a->string, &c, &s))
      return analytics_refuse(err, "unknown_statement", ok ? field : "answers",
                              "\"%.40s\" is no statement of the model (GET /api/v1/maturity/model lists them).",
                              a->string);
    if (out->answer[c][s])
      return analytics_refuse(err, "invalid_field", field, "%s is answered twice.", field);
    if (!cJSON_IsNumber(a) || a->valuedouble < 1 || a->valuedouble > 5 || a->valuedouble != (double)(int)a->valuedouble)
      return analytics_refuse(err, "invalid_field", field,
                              "%s must be a whole number from 1 (not true) to 5 (true everywhere, consistently).",
                              field);
    out->answer[c][s] = (int)a->valuedouble;
  }
  for (int c = 0; c < GV_MATURITY_COMPONENTS; c++)
    for (size_t i = 0; i < gv_maturity_model[c].nstatements; i++)
      if (!out->answer[c][i]) {
        snprintf(field, sizeof field, "answers.%s", gv_maturity_model[c].statements[i].id);
        return analytics_refuse(err, "missing_answer", field, "Every statement needs an answer: %s is missing.",
                                field);
      }
  return CX_OK;
}

/* ---- JSON ---- */

static cx_err json_text(cx_buf *b, const char *s) { return cx_buf_json_str(b, s, strlen(s)); }

static cx_err score_json(cx_buf *b, int hundredths) {
  return cx_buf_printf(b, "%d.%02d", hundredths / 100, hundredths % 100);
}

/* "score":N,"level":"…","level_name":"…" */
static cx_err scored(cx_buf *b, int hundredths, int level) {
  cx_err rc = cx_buf_puts(b, "\"score\":");
  if (!rc) rc = score_json(b, hundredths);
  if (!rc) rc = cx_buf_printf(b, ",\"level\":\"%s\",\"level_name\":", gv_maturity_levels[level].id);
  if (!rc) rc = json_text(b, gv_maturity_levels[level].name);
  return rc;
}

cx_err gv_maturity_model_json(cx_buf *out) {
  cx_err rc = cx_buf_puts(out, "{\"scale\":[");
  for (int i = 0; i < 5 && !rc; i++) {
    rc = cx_buf_printf(out, "%s{\"value\":%d,\"label\":", i ? "," : "", i + 1);
    if (!rc) rc = json_text(out, gv_maturity_scale[i]);
    if (!rc) rc = cx_buf_puts(out, "}");
  }
  if (!rc) rc = cx_buf_puts(out, "],\"levels\":[");
  for (int i = 0; i < GV_MATURITY_LEVELS && !rc; i++) {
    const gv_maturity_level *l = &gv_maturity_levels[i];
    rc = cx_buf_printf(out, "%s{\"id\":\"%s\",\"name\":", i ? "," : "", l->id);
    if (!rc) rc = json_text(out, l->name);
    if (!rc) rc = cx_buf_puts(out, ",\"from\":");
    if (!rc) rc = score_json(out, l->from);
    if (!rc) rc = cx_buf_puts(out, ",\"to\":");
    if (!rc) rc = i + 1 < GV_MATURITY_LEVELS ? score_json(out, gv_maturity_levels[i + 1].from - 1) : score_json(out, 500);
    if (!rc) rc = cx_buf_puts(out, ",\"description\":");
    if (!rc) rc = json_text(out, l->description);
    if (!rc) rc = cx_buf_puts(out, "}");
  }
  if (!rc) rc = cx_buf_puts(out, "],\"components\":[");
  for (int c = 0; c < GV_MATURITY_COMPONENTS && !rc; c++) {
    const gv_maturity_component *m = &gv_maturity_model[c];
    rc = cx_buf_printf(out, "%s{\"id\":\"%s\",\"name\":", c ? "," : "", m->id);
    if (!rc) rc = json_text(out, m->name);
    if (!rc) rc = cx_buf_puts(out, ",\"description\":");
    if (!rc) rc = json_text(out, m->description);
    if (!rc) rc = cx_buf_puts(out, ",\"statements\":[");
    for (size_t i = 0; i < m->nstatements && !rc; i++) {
      rc = cx_buf_printf(out, "%s{\"id\":\"%s\",\"text\":", i ? "," : "", m->statements[i].id);
      if (!rc) rc = json_text(out, m->statements[i].text);
      if (!rc) rc = cx_buf_puts(out, "}");
    }
    if (!rc) rc = cx_buf_puts(out, "],\"next_steps\":{");
    for (int l = 0; l < GV_MATURITY_LEVELS && !rc; l++) {
      rc = cx_buf_printf(out, "%s\"%s\":", l ? "," : "", gv_maturity_levels[l].id);
      if (!rc) rc = json_text(out, m->next_step[l]);
    }
    if (!rc) rc = cx_buf_puts(out, "}}");
  }
  if (!rc) rc = cx_buf_printf(out, "],\"recommendations\":%d}", GV_MATURITY_RECOMMENDATIONS);
  return rc;
}

/* The members of a result, without braces: "overall":…,"components":[…],
 * "recommendations":[…] (the evidence is added by the caller). */
static cx_err result_members(const gv_maturity_result *r, cx_buf *b) {
  cx_err rc = cx_buf_puts(b, "\"overall\":{");
  if (!rc) rc = scored(b, r->overall, r->overall_level);
  if (!rc) rc = cx_buf_puts(b, "},\"components\":[");
  for (int c = 0; c < GV_MATURITY_COMPONENTS && !rc; c++) {
    rc = cx_buf_printf(b, "%s{\"id\":\"%s\",\"name\":", c ? "," : "", gv_maturity_model[c].id);
    if (!rc) rc = json_text(b, gv_maturity_model[c].name);
    if (!rc) rc = cx_buf_puts(b, ",");
    if (!rc) rc = scored(b, r->component[c], r->component_level[c]);
    if (!rc) rc = cx_buf_puts(b, "}");
  }
  if (!rc) rc = cx_buf_puts(b, "],\"recommendations\":[");
  for (int k = 0; k < GV_MATURITY_RECOMMENDATIONS && !rc; k++) {
    int c = r->weakest[k];
    rc = cx_buf_printf(b, "%s{\"rank\":%d,\"component\":\"%s\",\"name\":", k ? "," : "", k + 1,
                       gv_maturity_model[c].id);
    if (!rc) rc = json_text(b, gv_maturity_model[c].name);
    if (!rc) rc = cx_buf_puts(b, ",");
    if (!rc) rc = scored(b, r->component[c], r->component_level[c]);
    if (!rc) rc = cx_buf_puts(b, ",\"next_step\":");
    if (!rc) rc = json_text(b, gv_maturity_model[c].next_step[r->component_level[c]]);
    if (!rc) rc = cx_buf_puts(b, "}");
  }
  if (!rc) rc = cx_buf_puts(b, "]");
  return rc;
}

static cx_err answers_json(const gv_maturity_answers *a, cx_buf *b) {
  cx_err rc = cx_buf_puts(b, "{");
  int first = 1;
  for (int c = 0; c < GV_MATURITY_COMPONENTS && !rc; c++)
    for (size_t i = 0; i < gv_maturity_model[c].nstatements && !rc; i++, first = 0)
      rc = cx_buf_printf(b, "%s\"%s\":%d", first ? "" : ",", gv_maturity_model[c].statements[i].id, a->answer[c][i]);
  if (!rc) rc = cx_buf_puts(b, "}");
  return rc;
}

/* ---- the store ---- */

typedef struct {
  store_job job;
  int op; /* 'c' create, 'd' delete */
  int64_t id, now;
  const char *actor, *answers, *result, *note;
  int missing;
} assess_job;

static cx_err apply_assess(store_job *job, sqlite3 *db) {
  assess_job *j = (assess_job *)job;
  const store_param p[] = {{":id", 0, NULL, j->id},          {":now", 0, NULL, j->now},
                           {":actor", 1, j->actor, 0},       {":answers", 1, j->answers, 0},
                           {":result", 1, j->result, 0},     {":note", 1, j->note, 0}};
  const size_t n = sizeof p / sizeof p[0];
  if (j->op == 'd') {
    int64_t v;
    cx_err rc = store_step_named(db, "SELECT id FROM maturity_assessments WHERE id = :id", p, n, &v);
    if (rc) return rc;
    if (v < 0) {
      j->missing = 1;
      return CX_OK;
    }
    return store_step_named(db, "DELETE FROM maturity_assessments WHERE id = :id", p, n, NULL);
  }
  cx_err rc = store_step_named(db,
                               "INSERT INTO maturity_assessments(created_at, actor, answers, result, note)"
                               " VALUES(:now, :actor, :answers, :result, :note)",
                               p, n, NULL);
  if (!rc) j->id = sqlite3_last_insert_rowid(db);
  return rc;
}

cx_err gv_maturity_create(store *st, const cJSON *req, const char *actor, int64_t now_ms, cx_buf *out,
                          analytics_error *err) {
  gv_maturity_answers a;
  const char *note;
  cx_err rc = gv_maturity_check(req, &a, &note, err);
  if (rc) return rc;
  gv_maturity_result r;
  gv_maturity_score(&a, &r);
  cx_buf ans, res;
  cx_buf_init(&ans, 8 << 10);
  cx_buf_init(&res, 1 << 20);
  rc = answers_json(&a, &ans);
  if (!rc) rc = cx_buf_puts(&res, "{");
  if (!rc) rc = result_members(&r, &res);
  if (!rc) rc = cx_buf_puts(&res, ",\"evidence\":");
  if (!rc) rc = gv_maturity_evidence_items(st, now_ms, &res);
  if (!rc) rc = cx_buf_puts(&res, "}");
  assess_job j = {.job = {.apply = apply_assess, .weight = 1}, .op = 'c', .now = now_ms,
                  .actor = actor && *actor ? actor : "unknown", .answers = ans.p, .result = res.p, .note = note};
  if (!rc) rc = store_run(st, &j.job);
  cx_buf_free(&ans);
  cx_buf_free(&res);
  if (!rc) rc = gv_maturity_get(st, j.id, out);
  return rc;
}

cx_err gv_maturity_delete(store *st, int64_t id) {
  assess_job j = {.job = {.apply = apply_assess, .weight = 1}, .op = 'd', .id = id};
  cx_err rc = store_run(st, &j.job);
  if (!rc && j.missing) rc = CX_ENOTFOUND;
  return rc;
}

/* "id":"…","created_at":…,"actor":…,"note":… of the row's columns 0..3 */
static cx_err head_members(sqlite3_stmt *s, cx_buf *b) {
  cx_err rc = cx_buf_printf(b, "\"id\":\"%lld\",\"created_at\":", (long long)sqlite3_column_int64(s, 0));
  if (!rc) rc = cx_buf_json_time(b, sqlite3_column_int64(s, 1));
  if (!rc) rc = cx_buf_puts(b, ",\"actor\":");
  if (!rc) rc = cx_buf_json_str(b, (const char *)sqlite3_column_text(s, 2), (size_t)sqlite3_column_bytes(s, 2));
  if (!rc) rc = cx_buf_puts(b, ",\"note\":");
  if (!rc)
    rc = sqlite3_column_type(s, 3) == SQLITE_NULL
             ? cx_buf_puts(b, "null")
             : cx_buf_json_str(b, (const char *)sqlite3_column_text(s, 3), (size_t)sqlite3_column_bytes(s, 3));
  return rc;
}

/* A stored JSON object's members, without its braces. */
static cx_err inner(cx_buf *b, sqlite3_stmt *s, int col) {
  const char *t = (const char *)sqlite3_column_text(s, col);
  size_t n = (size_t)sqlite3_column_bytes(s, col);
  if (!t || n < 2 || t[0] != '{' || t[n - 1] != '}') return CX_EDB;
  return cx_buf_append(b, t + 1, n - 2);
}

cx_err gv_maturity_get(store *st, int64_t id, cx_buf *out) {
  sqlite3 *db = store_reader_get(st);
  sqlite3_stmt *s = NULL;
  cx_err rc = CX_OK;
  if (sqlite3_prepare_v2(db, "SELECT id, created_at, actor, note, result, answers FROM maturity_assessments"
                             " WHERE id = ?1", -1, &s, NULL) != SQLITE_OK)
    rc = CX_EDB;
  else {
    sqlite3_bind_int64(s, 1, id);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
      rc = cx_buf_puts(out, "{");
      if (!rc) rc = head_members(s, out);
      if (!rc) rc = cx_buf_puts(out, ",");
      if (!rc) rc = inner(out, s, 4);
      if (!rc) rc = cx_buf_puts(out, ",\"answers\":");
      if (!rc) rc = cx_buf_append(out, sqlite3_column_text(s, 5), (size_t)sqlite3_column_bytes(s, 5));
      if (!rc) rc = cx_buf_puts(out, "}");
    } else {
      rc = step == SQLITE_DONE ? CX_ENOTFOUND : CX_EDB;
    }
  }
  sqlite3_finalize(s);
  store_reader_put(st, db);
  return rc;
}

/* A list item's summary of a stored result: its overall and its
 * components (score and level each), without the recommendations and
 * the evidence. */
static cx_err summary(cx_buf *b, const char *result) {
  cJSON *doc = cJSON_Parse(result);
  if (!doc) return CX_EDB;
  cx_err rc = CX_OK;
  const cJSON *overall = cJSON_GetObjectItemCaseSensitive(doc, "overall");
  const cJSON *comps = cJSON_GetObjectItemCaseSensitive(doc, "components");
  char *o = overall ? cJSON_PrintUnformatted(overall) : NULL;
  if (!o) rc = CX_EDB;
  if (!rc) rc = cx_buf_puts(b, ",\"overall\":");
  if (!rc) rc = cx_buf_puts(b, o);
  if (!rc) rc = cx_buf_puts(b, ",\"components\":[");
  int first = 1;
  for (const cJSON *c = comps ? comps->child : NULL; c && !rc; c = c->next, first = 0) {
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive(c, "id"), *sc = cJSON_GetObjectItemCaseSensitive(c, "score"),
                *lv = cJSON_GetObjectItemCaseSensitive(c, "level");
    if (!cJSON_IsString(cid) || !cJSON_IsNumber(sc) || !cJSON_IsString(lv)) {
      rc = CX_EDB;
      break;
    }
    rc = cx_buf_printf(b, "%s{\"id\":", first ? "" : ",");
    if (!rc) rc = json_text(b, cid->valuestring);
    if (!rc) rc = cx_buf_puts(b, ",\"score\":");
    if (!rc) rc = score_json(b, (int)(sc->valuedouble * 100 + 0.5));
    if (!rc) rc = cx_buf_puts(b, ",\"level\":");
    if (!rc) rc = json_text(b, lv->valuestring);
    if (!rc) rc = cx_buf_puts(b, "}");
  }
  if (!rc) rc = cx_buf_puts(b, "]");
  cJSON_free(o);
  cJSON_Delete(doc);
  return rc;
}

cx_err gv_maturity_list(store *st, int64_t cursor, size_t limit, cx_buf *out) {
  sqlite3 *db = store_reader_get(st);
  sqlite3_stmt *s = NULL;
  cx_err rc = cx_buf_puts(out, "{\"assessments\":[");
  if (!rc && sqlite3_prepare_v2(db, "SELECT id, created_at, actor, note, result FROM maturity_assessments"
                                    " WHERE id < ?1 ORDER BY id DESC LIMIT ?2", -1, &s, NULL) != SQLITE_OK)
    rc = CX_EDB;
  if (!rc) {
    sqlite3_bind_int64(s, 1, cursor > 0 ? cursor : INT64_MAX);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)limit + 1);
  }
  size_t k = 0;
  int64_t last = 0;
  int more = 0;
  while (!rc && sqlite3_step(s) == SQLITE_ROW) {
    if (k == limit) {
      more = 1;
      break;
    }
    last = sqlite3_column_int64(s, 0);
    rc = cx_buf_puts(out, k ? ",{" : "{");
    if (!rc) rc = head_members(s, out);
    if (!rc) rc = summary(out, (const char *)sqlite3_column_text(s, 4));
    if (!rc) rc = cx_buf_puts(out, "}");
    k++;
  }
  sqlite3_finalize(s);
  store_reader_put(st, db);
  if (!rc) rc = more ? cx_buf_printf(out, "],\"next_cursor\":\"%lld\"}", (long long)last)
                     : cx_buf_puts(out, "],\"next_cursor\":null}");
  return rc;
}
