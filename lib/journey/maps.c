/* maps.c - journey maps: checking a map, saving its versions, and drawing
 * its live numbers from lib/analytics (journey.h). */
#include "journey.h"
#include "../base/mem.h"
#include "../base/time.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_NAME 100
#define MAX_TEXT 2000
#define MAX_SHORT 100
#define MAX_ITEMS 20
#define MAX_ITEM 300
#define MAX_ID 40

static int text_ok(const cJSON *v, size_t max, int required) {
  if (!v || cJSON_IsNull(v)) return !required;
  return cJSON_IsString(v) && (!required || *v->valuestring) && strlen(v->valuestring) <= max;
}

static int id_ok(const char *s) {
  size_t n = strlen(s);
  if (!n || n > MAX_ID) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
          s[i] == '_' || s[i] == '-'))
      return 0;
  return 1;
}

/* Copies a short text member into out when present. */
static cx_err copy_text(const cJSON *in, cJSON *out, const char *name, size_t max, int required,
                        const char *field, analytics_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, name);
  if (!text_ok(v, max, required))
    return analytics_refuse(err, "invalid_field", field, "%s must be a %sstring of at most %zu bytes.", field,
                required ? "non-empty " : "", max);
  if (v && !cJSON_IsNull(v) && !cJSON_AddStringToObject(out, name, v->valuestring)) return CX_ENOMEM;
  return CX_OK;
}

static cx_err copy_list(const cJSON *in, cJSON *out, const char *name, const char *field,
                        analytics_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, name);
  cJSON *list = cJSON_AddArrayToObject(out, name);
  if (!list) return CX_ENOMEM;
  if (!v || cJSON_IsNull(v)) return CX_OK;
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > MAX_ITEMS)
    return analytics_refuse(err, "invalid_field", field, "%s must be a list of at most %d strings.", field, MAX_ITEMS);
  for (const cJSON *i = v->child; i; i = i->next) {
    if (!cJSON_IsString(i) || !*i->valuestring || strlen(i->valuestring) > MAX_ITEM)
      return analytics_refuse(err, "invalid_field", field, "%s holds strings of 1 to %d bytes.", field, MAX_ITEM);
    cJSON *s = cJSON_CreateString(i->valuestring);
    if (!s || !cJSON_AddItemToArray(list, s)) {
      cJSON_Delete(s);
      return CX_ENOMEM;
    }
  }
  return CX_OK;
}

static int known(const cJSON *obj, const char *const *names) {
  for (const cJSON *m = obj->child; m; m = m->next) {
    int ok = 0;
    for (size_t i = 0; names[i] && !ok; i++) ok = !strcmp(m->string, names[i]);
    if (!ok) return 0;
  }
  return 1;
}

static const char *unknown(const cJSON *obj, const char *const *names) {
  for (const cJSON *m = obj->child; m; m = m->next) {
    int ok = 0;
    for (size_t i = 0; names[i] && !ok; i++) ok = !strcmp(m->string, names[i]);
    if (!ok) return m->string;
  }
  return NULL;
}

/* A touchpoint, checked into out. */
static cx_err check_touchpoint(const cJSON *t, cJSON *out, size_t si, size_t ti, size_t *tcount,
                               analytics_error *err) {
  static const char *const members[] = {"id", "name", "channel", "owner", "expected_emotion",
                                        "moment_of_truth", "lane", "pain_points", "binding", NULL};
  char f[64];
  snprintf(f, sizeof f, "stages[%zu].touchpoints[%zu]", si, ti);
  if (!cJSON_IsObject(t)) return analytics_refuse(err, "invalid_field", f, "%s must be an object.", f);
  if (!known(t, members)) {
    char g[120];
    snprintf(g, sizeof g, "%s.%.40s", f, unknown(t, members));
    return analytics_refuse(err, "invalid_field", g, "A touchpoint has id, name, channel, owner, expected_emotion, moment_of_truth, lane, pain_points and binding; not %.40s.", unknown(t, members));
  }
  char g[120];
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(t, "id");
  snprintf(g, sizeof g, "%s.id", f);
  if (id && !(cJSON_IsString(id) && id_ok(id->valuestring)))
    return analytics_refuse(err, "invalid_field", g, "%s must be 1 to %d letters, digits, '_' or '-'.", g, MAX_ID);
  char gen[16];
  snprintf(gen, sizeof gen, "t%zu", ++*tcount);
  if (!cJSON_AddStringToObject(out, "id", id ? id->valuestring : gen)) return CX_ENOMEM;
  cx_err rc;
  snprintf(g, sizeof g, "%s.name", f);
  if ((rc = copy_text(t, out, "name", MAX_SHORT, 1, g, err))) return rc;
  snprintf(g, sizeof g, "%s.channel", f);
  if ((rc = copy_text(t, out, "channel", 63, 0, g, err))) return rc;
  snprintf(g, sizeof g, "%s.owner", f);
  if ((rc = copy_text(t, out, "owner", MAX_SHORT, 0, g, err))) return rc;
  const cJSON *emo = cJSON_GetObjectItemCaseSensitive(t, "expected_emotion");
  snprintf(g, sizeof g, "%s.expected_emotion", f);
  if (emo && !cJSON_IsNull(emo) && !(cJSON_IsNumber(emo) && emo->valuedouble >= -2 && emo->valuedouble <= 2))
    return analytics_refuse(err, "invalid_field", g, "%s must be a number from -2 (very negative) to 2 (very positive).", g);
  if (emo && cJSON_IsNumber(emo) && !cJSON_AddNumberToObject(out, "expected_emotion", emo->valuedouble)) return CX_ENOMEM;
  const cJSON *mot = cJSON_GetObjectItemCaseSensitive(t, "moment_of_truth");
  snprintf(g, sizeof g, "%s.moment_of_truth", f);
  if (mot && !cJSON_IsNull(mot) && !cJSON_IsBool(mot)) return analytics_refuse(err, "invalid_field", g, "%s must be true or false.", g);
  if (!cJSON_AddBoolToObject(out, "moment_of_truth", cJSON_IsTrue(mot))) return CX_ENOMEM;
  const cJSON *lane = cJSON_GetObjectItemCaseSensitive(t, "lane");
  snprintf(g, sizeof g, "%s.lane", f);
  if (lane && !cJSON_IsNull(lane) &&
      !(cJSON_IsString(lane) && (!strcmp(lane->valuestring, "front") || !strcmp(lane->valuestring, "back"))))
    return analytics_refuse(err, "invalid_field", g, "%s must be front (the customer sees it) or back (behind the scenes).", g);
  if (!cJSON_AddStringToObject(out, "lane", cJSON_IsString(lane) ? lane->valuestring : "front")) return CX_ENOMEM;
  snprintf(g, sizeof g, "%s.pain_points", f);
  if ((rc = copy_list(t, out, "pain_points", g, err))) return rc;
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(t, "binding");
  if (b && !cJSON_IsNull(b)) {
    static const char *const bm[] = {"event", "where", NULL};
    snprintf(g, sizeof g, "%s.binding", f);
    if (!cJSON_IsObject(b) || !known(b, bm))
      return analytics_refuse(err, "invalid_field", g, "%s must be {\"event\":\"…\",\"where\":\"rule (optional)\"}.", g);
    cJSON *ob = cJSON_AddObjectToObject(out, "binding");
    if (!ob) return CX_ENOMEM;
    snprintf(g, sizeof g, "%s.binding.event", f);
    if ((rc = copy_text(b, ob, "event", 200, 1, g, err))) return rc;
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(b, "where");
    snprintf(g, sizeof g, "%s.binding.where", f);
    if (w && !cJSON_IsNull(w)) {
      if (!cJSON_IsString(w)) return analytics_refuse(err, "invalid_field", g, "%s must be a rule (a string).", g);
      rules_expr *e;
      rules_error re;
      cx_err c = rules_compile(w->valuestring, strlen(w->valuestring), &e, &re);
      if (c == CX_ENOMEM) return c;
      if (c) return analytics_refuse(err, "invalid_rule", g, "The rule of touchpoint %zu of stage %zu: %s", ti + 1, si + 1, re.message);
      rules_free(e);
      if (!cJSON_AddStringToObject(ob, "where", w->valuestring)) return CX_ENOMEM;
    }
  }
  return CX_OK;
}

/* The whole map, checked into a new document (*out, caller deletes). */
static cx_err check_map(const cJSON *req, cJSON **out, analytics_error *err) {
  static const char *const members[] = {"name", "state", "description", "stages", NULL};
  *out = NULL;
  const char *bad = unknown(req, members);
  if (bad) return analytics_refuse(err, "invalid_field", bad, "A journey map has name, state, description and stages; not %.40s.", bad);
  cJSON *doc = cJSON_CreateObject();
  if (!doc) return CX_ENOMEM;
  cx_err rc = copy_text(req, doc, "name", MAX_NAME, 1, "name", err);
  const cJSON *state = cJSON_GetObjectItemCaseSensitive(req, "state");
  if (!rc && state && !cJSON_IsNull(state) &&
      !(cJSON_IsString(state) && (!strcmp(state->valuestring, "current") || !strcmp(state->valuestring, "future"))))
    rc = analytics_refuse(err, "invalid_field", "state", "state must be current (the journey as it is) or future (as it should be).");
  if (!rc && !cJSON_AddStringToObject(doc, "state", cJSON_IsString(state) ? state->valuestring : "current")) rc = CX_ENOMEM;
  if (!rc) rc = copy_text(req, doc, "description", MAX_TEXT, 0, "description", err);
  const cJSON *stages = cJSON_GetObjectItemCaseSensitive(req, "stages");
  if (!rc && (!cJSON_IsArray(stages) || cJSON_GetArraySize(stages) < 1 || cJSON_GetArraySize(stages) > JOURNEY_MAX_STAGES))
    rc = analytics_refuse(err, "invalid_field", "stages", "stages must be a list of 1 to %d stages.", JOURNEY_MAX_STAGES);
  cJSON *os = rc ? NULL : cJSON_AddArrayToObject(doc, "stages");
  if (!rc && !os) rc = CX_ENOMEM;
  size_t si = 0, tcount = 0, scount = 0;
  for (const cJSON *s = rc ? NULL : stages->child; !rc && s; s = s->next, si++) {
    static const char *const sm[] = {"id", "name", "touchpoints", NULL};
    char f[64];
    snprintf(f, sizeof f, "stages[%zu]", si);
    if (!cJSON_IsObject(s) || !known(s, sm)) {
      rc = analytics_refuse(err, "invalid_field", f, "%s must be {\"name\":\"…\",\"touchpoints\":[…]}.", f);
      break;
    }
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(os, o)) {
      cJSON_Delete(o);
      rc = CX_ENOMEM;
      break;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(s, "id");
    char g[80], gen[16];
    snprintf(g, sizeof g, "%s.id", f);
    if (id && !(cJSON_IsString(id) && id_ok(id->valuestring))) {
      rc = analytics_refuse(err, "invalid_field", g, "%s must be 1 to %d letters, digits, '_' or '-'.", g, MAX_ID);
      break;
    }
    snprintf(gen, sizeof gen, "s%zu", ++scount);
    if (!cJSON_AddStringToObject(o, "id", id ? id->valuestring : gen)) rc = CX_ENOMEM;
    snprintf(g, sizeof g, "%s.name", f);
    if (!rc) rc = copy_text(s, o, "name", MAX_SHORT, 1, g, err);
    const cJSON *tps = cJSON_GetObjectItemCaseSensitive(s, "touchpoints");
    snprintf(g, sizeof g, "%s.touchpoints", f);
    if (!rc && tps && !cJSON_IsNull(tps) && !cJSON_IsArray(tps))
      rc = analytics_refuse(err, "invalid_field", g, "%s must be a list.", g);
    cJSON *ot = rc ? NULL : cJSON_AddArrayToObject(o, "touchpoints");
    if (!rc && !ot) rc = CX_ENOMEM;
    size_t ti = 0;
    for (const cJSON *t = cJSON_IsArray(tps) ? tps->child : NULL; !rc && t; t = t->next, ti++) {
      if (tcount == JOURNEY_MAX_TOUCHPOINTS) {
        rc = analytics_refuse(err, "invalid_field", g, "A map has at most %d touchpoints.", JOURNEY_MAX_TOUCHPOINTS);
        break;
      }
      cJSON *x = cJSON_CreateObject();
      if (!x || !cJSON_AddItemToArray(ot, x)) {
        cJSON_Delete(x);
        rc = CX_ENOMEM;
        break;
      }
      rc = check_touchpoint(t, x, si, ti, &tcount, err);
    }
  }
  /* ids are unique within the map: stages among stages, touchpoints among
   * all touchpoints (t1, t2… are given in map order to those without one) */
  for (const cJSON *s = rc ? NULL : os->child; !rc && s; s = s->next)
    for (const cJSON *u = s->next; !rc && u; u = u->next)
      if (!strcmp(cJSON_GetObjectItem(s, "id")->valuestring, cJSON_GetObjectItem(u, "id")->valuestring))
        rc = analytics_refuse(err, "invalid_field", "stages", "Two stages have the id %.40s.", cJSON_GetObjectItem(s, "id")->valuestring);
  const cJSON *tp[JOURNEY_MAX_TOUCHPOINTS];
  size_t ntp = 0;
  for (const cJSON *s = rc ? NULL : os->child; s; s = s->next)
    for (const cJSON *t = cJSON_GetObjectItem(s, "touchpoints")->child; t && ntp < JOURNEY_MAX_TOUCHPOINTS; t = t->next)
      tp[ntp++] = t;
  for (size_t i = 0; !rc && i < ntp; i++)
    for (size_t j = i + 1; !rc && j < ntp; j++)
      if (!strcmp(cJSON_GetObjectItem(tp[i], "id")->valuestring, cJSON_GetObjectItem(tp[j], "id")->valuestring))
        rc = analytics_refuse(err, "invalid_field", "stages",
                  "Two touchpoints have the id %.40s (touchpoints without an id get t1, t2… in map order).",
                  cJSON_GetObjectItem(tp[i], "id")->valuestring);
  if (rc) {
    cJSON_Delete(doc);
    return rc;
  }
  *out = doc;
  return CX_OK;
}

/* ---- the store ---- */

typedef struct {
  store_job job;
  int op; /* 'c' create, 'u' update (a new version), 'd' delete */
  int64_t id;
  const char *name, *state, *doc;
  int64_t now;
  int exists, missing;
  int64_t version;
} map_job;

static cx_err step(sqlite3 *db, const char *sql, map_job *j, int64_t *out) {
  const store_param p[] = {{":id", 0, NULL, j->id}, {":name", 1, j->name, 0},  {":state", 1, j->state, 0},
                           {":doc", 1, j->doc, 0},  {":now", 0, NULL, j->now}, {":version", 0, NULL, j->version}};
  return store_step_named(db, sql, p, sizeof p / sizeof p[0], out);
}

static cx_err apply_map(store_job *job, sqlite3 *db) {
  map_job *j = (map_job *)job;
  int64_t v;
  cx_err rc;
  if (j->op != 'c') {
    if ((rc = step(db, "SELECT version FROM journey_maps WHERE id = :id", j, &v))) return rc;
    if (v < 0) {
      j->missing = 1;
      return CX_OK;
    }
    j->version = v + 1;
  }
  if (j->op == 'd') {
    if ((rc = step(db, "DELETE FROM journey_map_versions WHERE map_id = :id", j, NULL))) return rc;
    return step(db, "DELETE FROM journey_maps WHERE id = :id", j, NULL);
  }
  if ((rc = step(db, "SELECT 1 FROM journey_maps WHERE name = :name AND id != :id", j, &v))) return rc;
  if (v == 1) {
    j->exists = 1;
    return CX_OK;
  }
  if (j->op == 'c') {
    j->version = 1;
    if ((rc = step(db, "INSERT INTO journey_maps(name, state, version, created_at, updated_at)"
                       " VALUES(:name, :state, :version, :now, :now)", j, NULL)))
      return rc;
    j->id = sqlite3_last_insert_rowid(db);
  } else if ((rc = step(db, "UPDATE journey_maps SET name = :name, state = :state, version = :version,"
                            " updated_at = :now WHERE id = :id", j, NULL))) {
    return rc;
  }
  return step(db, "INSERT INTO journey_map_versions(map_id, version, doc, created_at)"
                  " VALUES(:id, :version, :doc, :now)", j, NULL);
}

static cx_err save(store *st, int op, int64_t id, const cJSON *req, cx_buf *out, analytics_error *err) {
  cJSON *doc = NULL;
  cx_err rc = op == 'd' ? CX_OK : check_map(req, &doc, err);
  if (rc) return rc;
  char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
  if (doc && !text) {
    cJSON_Delete(doc);
    return CX_ENOMEM;
  }
  map_job j = {.job = {.apply = apply_map, .weight = 1}, .op = op, .id = id, .now = cx_now_ms()};
  if (doc) {
    j.name = cJSON_GetObjectItem(doc, "name")->valuestring;
    j.state = cJSON_GetObjectItem(doc, "state")->valuestring;
    j.doc = text;
  }
  rc = store_run(st, &j.job);
  if (!rc && j.missing) rc = CX_ENOTFOUND;
  if (!rc && j.exists) rc = CX_EEXIST;
  cJSON_free(text);
  cJSON_Delete(doc);
  if (!rc && op != 'd') rc = journey_map_get(st, j.id, 0, NULL, NULL, 0, 0, 0, out, err);
  return rc;
}

cx_err journey_map_create(store *st, const cJSON *req, cx_buf *out, analytics_error *err) {
  return save(st, 'c', 0, req, out, err);
}

cx_err journey_map_update(store *st, int64_t id, const cJSON *req, cx_buf *out,
                          analytics_error *err) {
  return save(st, 'u', id, req, out, err);
}

cx_err journey_map_delete(store *st, int64_t id) { return save(st, 'd', id, NULL, NULL, NULL); }

cx_err journey_maps_list(store *st, cx_buf *out) {
  sqlite3 *db = store_reader_get(st);
  sqlite3_stmt *s = NULL;
  cx_err rc = sqlite3_prepare_v2(db,
                                 "SELECT m.id, m.name, m.state, m.version, m.updated_at, v.doc FROM journey_maps m"
                                 " JOIN journey_map_versions v ON v.map_id = m.id AND v.version = m.version"
                                 " ORDER BY m.id", -1, &s, NULL) ? CX_EDB : CX_OK;
  if (!rc) rc = cx_buf_puts(out, "{\"maps\":[");
  for (int first = 1; !rc && sqlite3_step(s) == SQLITE_ROW; first = 0) {
    cJSON *doc = cJSON_Parse((const char *)sqlite3_column_text(s, 5));
    size_t nst = 0, ntp = 0;
    const cJSON *stages = cJSON_GetObjectItem(doc, "stages");
    for (const cJSON *x = stages ? stages->child : NULL; x; x = x->next, nst++)
      ntp += (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(x, "touchpoints"));
    cJSON_Delete(doc);
    rc = cx_buf_printf(out, "%s{\"id\":\"%lld\",\"name\":", first ? "" : ",", (long long)sqlite3_column_int64(s, 0));
    if (!rc) rc = cx_buf_json_str(out, (const char *)sqlite3_column_text(s, 1), (size_t)sqlite3_column_bytes(s, 1));
    if (!rc) rc = cx_buf_printf(out, ",\"state\":\"%s\",\"version\":%lld,\"stages\":%zu,\"touchpoints\":%zu,\"updated_at\":",
                                (const char *)sqlite3_column_text(s, 2), (long long)sqlite3_column_int64(s, 3), nst, ntp);
    if (!rc) rc = cx_buf_json_time(out, sqlite3_column_int64(s, 4));
    if (!rc) rc = cx_buf_puts(out, "}");
  }
  if (!rc) rc = cx_buf_puts(out, "]}");
  sqlite3_finalize(s);
  store_reader_put(st, db);
  return rc;
}

/* Adds the live numbers to doc's touchpoints and stages. */
static cx_err num_or_null(cJSON *o, const char *name, double v) {
  return (isnan(v) ? cJSON_AddNullToObject(o, name) : cJSON_AddNumberToObject(o, name, round(v * 100) / 100)) ? CX_OK : CX_ENOMEM;
}

/* Each touchpoint's feedback: the scores given at it (context.touchpoint
 * = its name) and the emotion they measure beside the expected one. */
static cx_err add_scores(feedback *fb, cJSON *const *node, size_t n, int64_t from, int64_t to) {
  const char *names[JOURNEY_MAX_TOUCHPOINTS];
  feedback_tp_scores sc[JOURNEY_MAX_TOUCHPOINTS];
  for (size_t i = 0; i < n; i++) names[i] = cJSON_GetObjectItem(node[i], "name")->valuestring;
  cx_err rc = feedback_touchpoint_scores(fb, names, n, from, to, sc);
  for (size_t i = 0; !rc && i < n; i++) {
    cJSON *o = cJSON_AddObjectToObject(node[i], "scores");
    if (!o) return CX_ENOMEM;
    if ((rc = num_or_null(o, "nps", sc[i].nps)) || !cJSON_AddNumberToObject(o, "nps_n", (double)sc[i].nps_n) ||
        (rc = num_or_null(o, "csat", sc[i].csat)) || !cJSON_AddNumberToObject(o, "csat_n", (double)sc[i].csat_n) ||
        (rc = num_or_null(o, "ces", sc[i].ces)) || !cJSON_AddNumberToObject(o, "ces_n", (double)sc[i].ces_n) ||
        (rc = num_or_null(o, "measured_emotion", sc[i].emotion)))
      return rc ? rc : CX_ENOMEM;
  }
  return rc;
}

static cx_err add_live(cJSON *doc, const analytics_ctx *live, feedback *fb, int64_t from, int64_t to, int64_t window,
                       analytics_error *err) {
  analytics_touchpoint tp[JOURNEY_MAX_TOUCHPOINTS];
  cJSON *node[JOURNEY_MAX_TOUCHPOINTS];
  rules_expr *rules[JOURNEY_MAX_TOUCHPOINTS] = {0};
  size_t n = 0, si = 0;
  cx_err rc = CX_OK;
  cJSON *stages = cJSON_GetObjectItem(doc, "stages");
  if (cJSON_GetArraySize(stages) > JOURNEY_MAX_STAGES) return CX_ETOOBIG; /* checked when saved */
  for (cJSON *s = stages->child; s; s = s->next, si++) {
    size_t ti = 0;
    for (cJSON *t = cJSON_GetObjectItem(s, "touchpoints")->child; t && n < JOURNEY_MAX_TOUCHPOINTS; t = t->next, ti++) {
      const cJSON *b = cJSON_GetObjectItem(t, "binding");
      const cJSON *ev = cJSON_GetObjectItem(b, "event"), *w = cJSON_GetObjectItem(b, "where");
      tp[n] = (analytics_touchpoint){.event = cJSON_IsString(ev) ? ev->valuestring : NULL, .stage = si};
      if (cJSON_IsString(w) && !rc) {
        rules_error re;
        rc = rules_compile(w->valuestring, strlen(w->valuestring), &rules[n], &re);
        if (rc && rc != CX_ENOMEM) { /* it compiled when saved: a newer syntax */
          char f[96];
          snprintf(f, sizeof f, "stages[%zu].touchpoints[%zu].binding.where", si, ti);
          rc = analytics_refuse(err, "invalid_rule", f, "The rule of touchpoint %zu of stage %zu no longer compiles: %s", ti + 1,
                    si + 1, re.message);
        }
        tp[n].where = rules[n];
      }
      node[n++] = t;
    }
  }
  analytics_touchpoint_live *lv = cx_calloc(n + 1, sizeof *lv);
  uint64_t stage_customers[JOURNEY_MAX_STAGES] = {0};
  if (!rc && !lv) rc = CX_ENOMEM;
  if (!rc) rc = analytics_touchpoints(live, tp, n, si, from, to, window, lv, stage_customers);
  for (size_t i = 0; !rc && i < n; i++) {
    if (!tp[i].event) continue;
    cJSON *l = cJSON_AddObjectToObject(node[i], "live");
    if (!l || !cJSON_AddNumberToObject(l, "events", (double)lv[i].events) ||
        !cJSON_AddNumberToObject(l, "customers", (double)lv[i].customers)) {
      rc = CX_ENOMEM;
      break;
    }
    if (lv[i].has_next && lv[i].customers) {
      if (!cJSON_AddNumberToObject(l, "next_customers", (double)lv[i].next_customers) ||
          !cJSON_AddNumberToObject(l, "conversion_to_next", (double)lv[i].next_customers / (double)lv[i].customers))
        rc = CX_ENOMEM;
    } else if (!cJSON_AddNullToObject(l, "conversion_to_next")) {
      rc = CX_ENOMEM;
    }
    if (!rc && (lv[i].median_ms_to_next >= 0 ? !cJSON_AddNumberToObject(l, "median_hours_to_next", lv[i].median_ms_to_next / 3600000.0)
                                             : !cJSON_AddNullToObject(l, "median_hours_to_next")))
      rc = CX_ENOMEM;
  }
  si = 0;
  for (cJSON *s = stages->child; !rc && s; s = s->next, si++)
    if (!cJSON_AddNumberToObject(s, "customers", (double)stage_customers[si])) rc = CX_ENOMEM;
  if (!rc && fb) rc = add_scores(fb, node, n, from, to);
  for (size_t i = 0; i < n; i++) rules_free(rules[i]);
  cx_free(lv);
  return rc;
}

cx_err journey_map_get(store *st, int64_t id, int64_t version, const analytics_ctx *live, feedback *fb,
                       int64_t from, int64_t to, int64_t window, cx_buf *out, analytics_error *err) {
  sqlite3 *db = store_reader_get(st);
  sqlite3_stmt *s = NULL;
  cx_err rc = sqlite3_prepare_v2(db,
                                 "SELECT v.doc, v.version, v.created_at, m.version, m.created_at, m.updated_at"
                                 " FROM journey_maps m JOIN journey_map_versions v ON v.map_id = m.id"
                                 " WHERE m.id = ?1 AND v.version = CASE WHEN ?2 > 0 THEN ?2 ELSE m.version END",
                                 -1, &s, NULL) ? CX_EDB : CX_OK;
  cJSON *doc = NULL;
  int64_t v = 0, vat = 0, latest = 0, created = 0, updated = 0;
  if (!rc) {
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, version);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
      doc = cJSON_Parse((const char *)sqlite3_column_text(s, 0));
      v = sqlite3_column_int64(s, 1), vat = sqlite3_column_int64(s, 2), latest = sqlite3_column_int64(s, 3);
      created = sqlite3_column_int64(s, 4), updated = sqlite3_column_int64(s, 5);
      if (!doc) rc = CX_ENOMEM;
    } else {
      rc = r == SQLITE_DONE ? CX_ENOTFOUND : CX_EDB;
    }
  }
  sqlite3_finalize(s);
  store_reader_put(st, db);
  if (!rc && live) rc = add_live(doc, live, fb, from, to, window, err);
  char *text = rc ? NULL : cJSON_PrintUnformatted(doc);
  if (!rc && !text) rc = CX_ENOMEM;
  if (!rc) {
    /* the document, then what the store knows about it */
    rc = cx_buf_printf(out, "{\"id\":\"%lld\",\"version\":%lld,\"latest_version\":%lld,\"version_saved_at\":",
                       (long long)id, (long long)v, (long long)latest);
    if (!rc) rc = cx_buf_json_time(out, vat);
    if (!rc) rc = cx_buf_puts(out, ",\"created_at\":");
    if (!rc) rc = cx_buf_json_time(out, created);
    if (!rc) rc = cx_buf_puts(out, ",\"updated_at\":");
    if (!rc) rc = cx_buf_json_time(out, updated);
    if (!rc && live) {
      rc = cx_buf_puts(out, ",\"live\":{\"from\":");
      if (!rc) rc = cx_buf_json_time(out, from);
      if (!rc) rc = cx_buf_puts(out, ",\"to\":");
      if (!rc) rc = cx_buf_json_time(out, to);
      if (!rc) rc = cx_buf_printf(out, ",\"window_hours\":%.6g}", (double)window / 3600000.0);
    }
    if (!rc) rc = cx_buf_puts(out, ",");
    if (!rc) rc = cx_buf_puts(out, text + 1); /* the document's members */
  }
  cJSON_free(text);
  cJSON_Delete(doc);
  return rc;
}
