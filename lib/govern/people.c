/* people.c - units (the organisation tree) and users: checking requests,
 * writing them through the store's writer, and their JSON. */
#include "govern_int.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/util.h"
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* A write: apply runs on the writer thread; outcome tells what it found
 * (0 done, 'n' not found, 'e' name or e-mail taken, 'p' no such parent or
 * unit, 'c' a cycle, 'u' in use). The submitter owns it. */
typedef struct {
  store_job job;
  cx_err (*fn)(void *self, sqlite3 *db);
  int64_t id, parent, unit, now;
  const char *name, *email, *pw_hash, *role;
  int has_name, has_parent, has_unit, has_role, has_pw, has_disabled, disabled;
  int outcome;
} people_job;

static cx_err step(sqlite3 *db, const char *sql, people_job *j, int64_t *out) {
  const store_param p[] = {{":id", 0, NULL, j->id},          {":parent", 0, NULL, j->parent},
                           {":unit", 0, NULL, j->unit},      {":now", 0, NULL, j->now},
                           {":name", 1, j->name, 0},         {":email", 1, j->email, 0},
                           {":pw", 1, j->pw_hash, 0},        {":role", 1, j->role, 0},
                           {":disabled", 0, NULL, j->disabled}};
  return store_step_named(db, sql, p, sizeof p / sizeof p[0], out);
}

static cx_err apply(store_job *job, sqlite3 *db) {
  people_job *j = (people_job *)job;
  return j->fn(j, db);
}

static cx_err run(govern *g, people_job *j) {
  j->job.apply = apply;
  j->job.weight = 1;
  j->now = cx_now_ms();
  cx_err rc = store_run(g->st, &j->job);
  if (!rc && !j->outcome) rc = gv_reload(g);
  return rc;
}

/* ---- checking ---- */

static const char *unknown_member(const cJSON *obj, const char *const *names) {
  for (const cJSON *m = obj->child; m; m = m->next) {
    int ok = 0;
    for (size_t i = 0; names[i] && !ok; i++) ok = !strcmp(m->string, names[i]);
    if (!ok) return m->string;
  }
  return NULL;
}

static int name_ok(const char *s) {
  size_t n = strlen(s);
  if (!n || n > GV_NAME_MAX || !cx_utf8_valid(s, n)) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20) return 0;
  return s[0] != ' ' && s[n - 1] != ' ';
}

/* An id given as "12" or 12; 0 when it is not one. */
static int64_t id_of(const cJSON *v) {
  int64_t id = 0;
  if (cJSON_IsString(v) && !cx_parse_i64(v->valuestring, strlen(v->valuestring), &id) && id > 0) return id;
  if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble < 9e15 && v->valuedouble == (double)(int64_t)v->valuedouble)
    return (int64_t)v->valuedouble;
  return 0;
}

static cx_err refuse(analytics_error *err, const char *code, const char *field, const char *msg) {
  return analytics_refuse(err, code, field, "%s", msg);
}

/* ---- units ---- */

static cx_err unit_json(sqlite3 *db, int64_t id, cx_buf *out) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT id, name, parent_id, created_at, updated_at,"
                         " (SELECT count(*) FROM users WHERE unit_id = u.id AND disabled = 0),"
                         " (SELECT count(*) FROM units WHERE parent_id = u.id)"
                         " FROM units u WHERE id = ?1 OR ?1 = 0 ORDER BY id",
                         -1, &st, NULL) != SQLITE_OK)
    return CX_EDB;
  sqlite3_bind_int64(st, 1, id);
  cx_err rc = CX_OK;
  int r, n = 0;
  while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(st, 1);
    rc = cx_buf_printf(out, "%s{\"id\":\"%lld\",\"name\":", n++ ? "," : "", (long long)sqlite3_column_int64(st, 0));
    if (!rc) rc = cx_buf_json_str(out, name, strlen(name));
    if (!rc) rc = sqlite3_column_type(st, 2) == SQLITE_NULL
                      ? cx_buf_puts(out, ",\"parent\":null")
                      : cx_buf_printf(out, ",\"parent\":\"%lld\"", (long long)sqlite3_column_int64(st, 2));
    if (!rc) rc = cx_buf_printf(out, ",\"users\":%lld,\"children\":%lld,\"created_at\":",
                                (long long)sqlite3_column_int64(st, 5), (long long)sqlite3_column_int64(st, 6));
    if (!rc) rc = cx_buf_json_time(out, sqlite3_column_int64(st, 3));
    if (!rc) rc = cx_buf_puts(out, ",\"updated_at\":");
    if (!rc) rc = cx_buf_json_time(out, sqlite3_column_int64(st, 4));
    if (!rc) rc = cx_buf_puts(out, "}");
  }
  sqlite3_finalize(st);
  if (!rc && id && !n) rc = CX_ENOTFOUND;
  return rc;
}

cx_err gv_units_json(govern *g, cx_buf *out) {
  sqlite3 *db = store_reader_get(g->st);
  cx_err rc = cx_buf_puts(out, "{\"units\":[");
  if (!rc) rc = unit_json(db, 0, out);
  if (!rc) rc = cx_buf_puts(out, "]}");
  store_reader_put(g->st, db);
  return rc;
}

cx_err gv_unit_get(govern *g, int64_t id, cx_buf *out) {
  sqlite3 *db = store_reader_get(g->st);
  cx_err rc = unit_json(db, id, out);
  store_reader_put(g->st, db);
  return rc;
}

static cx_err check_unit(const cJSON *req, int create, people_job *j, analytics_error *err) {
  static const char *const members[] = {"name", "parent", NULL};
  const char *u = unknown_member(req, members);
  if (u) return analytics_refuse(err, "invalid_field", u, "A unit has name and parent; not %.40s.", u);
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(req, "name");
  if (name || create) {
    if (!cJSON_IsString(name) || !name_ok(name->valuestring))
      return refuse(err, "invalid_field", "name", "name must be 1 to 100 bytes of text without control characters or outer spaces.");
    j->name = name->valuestring;
    j->has_name = 1;
  }
  const cJSON *parent = cJSON_GetObjectItemCaseSensitive(req, "parent");
  if (parent) {
    if (!cJSON_IsNull(parent) && !(j->parent = id_of(parent)))
      return refuse(err, "invalid_field", "parent", "parent must be a unit's id or null (at the top).");
    j->has_parent = 1;
  }
  return CX_OK;
}

static cx_err unit_write(void *self, sqlite3 *db) {
  people_job *j = self;
  int64_t v;
  cx_err rc;
  if (j->id) {
    if ((rc = step(db, "SELECT 1 FROM units WHERE id = :id", j, &v))) return rc;
    if (v < 0) return j->outcome = 'n', CX_OK;
  }
  if (j->has_parent && j->parent) {
    if ((rc = step(db, "SELECT 1 FROM units WHERE id = :parent", j, &v))) return rc;
    if (v < 0) return j->outcome = 'p', CX_OK;
    if (j->id) { /* the new parent may not sit under the unit itself */
      if ((rc = step(db, "WITH RECURSIVE sub(id) AS (SELECT :id UNION SELECT u.id FROM units u JOIN sub ON u.parent_id = sub.id)"
                         " SELECT 1 FROM sub WHERE id = :parent", j, &v)))
        return rc;
      if (v == 1) return j->outcome = 'c', CX_OK;
    }
  }
  if (j->has_name) {
    if ((rc = step(db, "SELECT 1 FROM units WHERE name = :name AND id != :id", j, &v))) return rc;
    if (v == 1) return j->outcome = 'e', CX_OK;
  }
  if (!j->id) {
    if ((rc = step(db, "SELECT count(*) FROM units", j, &v))) return rc;
    if (v >= GV_MAX_UNITS) return j->outcome = 'f', CX_OK;
    if ((rc = step(db, "INSERT INTO units(name, parent_id, created_at, updated_at)"
                       " VALUES(:name, NULLIF(:parent, 0), :now, :now)", j, NULL)))
      return rc;
    j->id = sqlite3_last_insert_rowid(db);
    return CX_OK;
  }
  if (j->has_name && (rc = step(db, "UPDATE units SET name = :name, updated_at = :now WHERE id = :id", j, NULL)))
    return rc;
  if (j->has_parent &&
      (rc = step(db, "UPDATE units SET parent_id = NULLIF(:parent, 0), updated_at = :now WHERE id = :id", j, NULL)))
    return rc;
  return CX_OK;
}

static cx_err unit_outcome(people_job *j, analytics_error *err) {
  switch (j->outcome) {
  case 'n': return CX_ENOTFOUND;
  case 'p': return refuse(err, "unknown_unit", "parent", "parent names no unit (GET /api/v1/units lists them).");
  case 'c': return refuse(err, "invalid_field", "parent", "A unit cannot move under itself or one of its sub-units.");
  case 'e': return CX_EEXIST;
  case 'f': return refuse(err, "too_many_units", NULL, "cxm holds at most 10,000 units.");
  default: return CX_OK;
  }
}

cx_err gv_unit_create(govern *g, const cJSON *req, cx_buf *out, cx_buf *after, analytics_error *err) {
  people_job j = {.fn = unit_write};
  cx_err rc = check_unit(req, 1, &j, err);
  if (!rc) rc = run(g, &j);
  if (!rc) rc = unit_outcome(&j, err);
  if (!rc) rc = gv_unit_get(g, j.id, out);
  if (!rc && after) rc = gv_unit_get(g, j.id, after);
  return rc;
}

cx_err gv_unit_update(govern *g, int64_t id, const cJSON *req, cx_buf *out, cx_buf *before, cx_buf *after,
                      analytics_error *err) {
  people_job j = {.fn = unit_write, .id = id};
  cx_err rc = check_unit(req, 0, &j, err);
  if (!rc && before) rc = gv_unit_get(g, id, before);
  if (!rc) rc = run(g, &j);
  if (!rc) rc = unit_outcome(&j, err);
  if (!rc) rc = gv_unit_get(g, id, out);
  if (!rc && after) rc = gv_unit_get(g, id, after);
  return rc;
}

static cx_err unit_remove(void *self, sqlite3 *db) {
  people_job *j = self;
  int64_t v;
  cx_err rc;
  if ((rc = step(db, "SELECT 1 FROM units WHERE id = :id", j, &v))) return rc;
  if (v < 0) return j->outcome = 'n', CX_OK;
  if ((rc = step(db, "SELECT (SELECT count(*) FROM units WHERE parent_id = :id) + (SELECT count(*) FROM users WHERE unit_id = :id)",
                 j, &v)))
    return rc;
  int64_t cases = 0;
  if (!rc && !v && (rc = step(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cases'", j, &cases))) return rc;
  if (cases == 1 && (rc = step(db, "SELECT count(*) FROM cases WHERE unit_id = :id", j, &cases))) return rc;
  if (v > 0 || cases > 0) return j->outcome = 'u', CX_OK;
  return step(db, "DELETE FROM units WHERE id = :id", j, NULL);
}

cx_err gv_unit_delete(govern *g, int64_t id, cx_buf *before, analytics_error *err) {
  people_job j = {.fn = unit_remove, .id = id};
  cx_err rc = before ? gv_unit_get(g, id, before) : CX_OK;
  if (!rc) rc = run(g, &j);
  if (!rc && j.outcome == 'u')
    return refuse(err, "unit_in_use", NULL, "The unit still has sub-units, users or cases; move or remove them first.");
  if (!rc) rc = unit_outcome(&j, err);
  return rc;
}

/* ---- users ---- */

cx_err gv_user_json_db(sqlite3 *db, int64_t id, cx_buf *out) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT u.id, u.email, u.name, u.role, u.unit_id, n.name, u.disabled, u.created_at, u.updated_at"
                         " FROM users u LEFT JOIN units n ON n.id = u.unit_id WHERE u.id = ?1",
                         -1, &st, NULL) != SQLITE_OK)
    return CX_EDB;
  sqlite3_bind_int64(st, 1, id);
  cx_err rc = CX_ENOTFOUND;
  if (sqlite3_step(st) == SQLITE_ROW) {
    const char *email = (const char *)sqlite3_column_text(st, 1), *name = (const char *)sqlite3_column_text(st, 2);
    rc = cx_buf_printf(out, "{\"id\":\"%lld\",\"email\":", (long long)sqlite3_column_int64(st, 0));
    if (!rc) rc = cx_buf_json_str(out, email, strlen(email));
    if (!rc) rc = cx_buf_puts(out, ",\"name\":");
    if (!rc) rc = cx_buf_json_str(out, name, strlen(name));
    if (!rc) rc = cx_buf_printf(out, ",\"role\":\"%s\",\"unit\":", (const char *)sqlite3_column_text(st, 3));
    if (!rc) rc = sqlite3_column_type(st, 4) == SQLITE_NULL
                      ? cx_buf_puts(out, "null,\"unit_name\":null")
                      : cx_buf_printf(out, "\"%lld\",\"unit_name\":", (long long)sqlite3_column_int64(st, 4));
    const char *un = (const char *)sqlite3_column_text(st, 5);
    if (!rc && sqlite3_column_type(st, 4) != SQLITE_NULL) rc = un ? cx_buf_json_str(out, un, strlen(un)) : cx_buf_puts(out, "null");
    if (!rc) rc = cx_buf_printf(out, ",\"disabled\":%s,\"created_at\":", sqlite3_column_int(st, 6) ? "true" : "false");
    if (!rc) rc = cx_buf_json_time(out, sqlite3_column_int64(st, 7));
    if (!rc) rc = cx_buf_puts(out, ",\"updated_at\":");
    if (!rc) rc = cx_buf_json_time(out, sqlite3_column_int64(st, 8));
    if (!rc) rc = cx_buf_puts(out, "}");
  }
  sqlite3_finalize(st);
  return rc;
}

cx_err gv_user_get(govern *g, int64_t id, cx_buf *out) {
  sqlite3 *db = store_reader_get(g->st);
  cx_err rc = gv_user_json_db(db, id, out);
  store_reader_put(g->st, db);
  return rc;
}

cx_err gv_users_json(govern *g, int64_t scope, cx_buf *out) {
  sqlite3 *db = store_reader_get(g->st);
  sqlite3_stmt *st;
  cx_err rc = CX_EDB;
  if (sqlite3_prepare_v2(db, "SELECT id, COALESCE(unit_id, 0) FROM users ORDER BY id", -1, &st, NULL) == SQLITE_OK) {
    rc = cx_buf_puts(out, "{\"users\":[");
    int n = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
      if (scope != GV_ALL_UNITS && !gv_unit_in_scope(g, scope, sqlite3_column_int64(st, 1))) continue;
      if (n++) rc = cx_buf_puts(out, ",");
      if (!rc) rc = gv_user_json_db(db, sqlite3_column_int64(st, 0), out);
    }
    sqlite3_finalize(st);
    if (!rc) rc = cx_buf_puts(out, "]}");
  }
  store_reader_put(g->st, db);
  return rc;
}

/* Lower-cases an e-mail address into out when it is plausible. */
static int email_ok(const char *s, char *out, size_t cap) {
  size_t n = strlen(s);
  if (n < 3 || n > GV_EMAIL_MAX || n >= cap) return 0;
  const char *at = strchr(s, '@');
  if (!at || at == s || strchr(at + 1, '@') || !strchr(at + 1, '.') || at[1] == '.' || s[n - 1] == '.') return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == ',') return 0;
    out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  out[n] = 0;
  return 1;
}

typedef struct {
  char email[GV_EMAIL_MAX + 1];
  char pw_hash[crypto_pwhash_STRBYTES];
  gv_role role;
} user_in;

static cx_err check_user(govern *g, const cJSON *req, int create, people_job *j, user_in *in, analytics_error *err) {
  static const char *const members[] = {"email", "name", "password", "role", "unit", "disabled", NULL};
  const char *u = unknown_member(req, members);
  if (u) return analytics_refuse(err, "invalid_field", u, "A user has email, name, password, role, unit and disabled; not %.40s.", u);
  const cJSON *email = cJSON_GetObjectItemCaseSensitive(req, "email");
  if (email && !create) return refuse(err, "invalid_field", "email", "A user's e-mail cannot change; create a new user.");
  if (create) {
    if (!cJSON_IsString(email) || !email_ok(email->valuestring, in->email, sizeof in->email))
      return refuse(err, "invalid_field", "email", "email must be an e-mail address such as ana@example.com.");
    j->email = in->email;
  }
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(req, "name");
  if (name || create) {
    if (!cJSON_IsString(name) || !name_ok(name->valuestring))
      return refuse(err, "invalid_field", "name", "name must be 1 to 100 bytes of text without control characters or outer spaces.");
    j->name = name->valuestring;
    j->has_name = 1;
  }
  const cJSON *role = cJSON_GetObjectItemCaseSensitive(req, "role");
  if (role || create) {
    if (!cJSON_IsString(role) || gv_role_parse(role->valuestring, &in->role))
      return refuse(err, "invalid_field", "role", "role must be admin, cx_lead, analyst, agent or viewer.");
    j->role = gv_role_name(in->role);
    j->has_role = 1;
  }
  const cJSON *unit = cJSON_GetObjectItemCaseSensitive(req, "unit");
  if (unit) {
    if (!cJSON_IsNull(unit) && !(j->unit = id_of(unit)))
      return refuse(err, "invalid_field", "unit", "unit must be a unit's id, or null for the whole company.");
    j->has_unit = 1;
  }
  if (create && j->has_role && in->role == GV_AGENT && !j->unit)
    return refuse(err, "unit_required", "unit", "An agent works in a unit: give unit (GET /api/v1/units lists them).");
  const cJSON *dis = cJSON_GetObjectItemCaseSensitive(req, "disabled");
  if (dis) {
    if (!cJSON_IsBool(dis)) return refuse(err, "invalid_field", "disabled", "disabled must be true or false.");
    j->has_disabled = 1;
    j->disabled = cJSON_IsTrue(dis);
  }
  const cJSON *pw = cJSON_GetObjectItemCaseSensitive(req, "password");
  if (pw || create) {
    size_t n = cJSON_IsString(pw) ? strlen(pw->valuestring) : 0;
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) chars += ((unsigned char)pw->valuestring[i] & 0xC0) != 0x80;
    if (!cJSON_IsString(pw) || chars < GV_PASSWORD_MIN || n > GV_PASSWORD_MAX || !cx_utf8_valid(pw->valuestring, n))
      return refuse(err, "weak_password", "password", "password must be 10 to 128 bytes long (a passphrase of a few words is best).");
    /* the slow part, done before the writer is involved; bounded to two at once */
    sem_wait(&g->hashing);
    int bad = crypto_pwhash_str(in->pw_hash, pw->valuestring, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                crypto_pwhash_MEMLIMIT_INTERACTIVE);
    sem_post(&g->hashing);
    if (bad) return CX_ENOMEM;
    j->pw_hash = in->pw_hash;
    j->has_pw = 1;
  }
  return CX_OK;
}

static cx_err user_write(void *self, sqlite3 *db) {
  people_job *j = self;
  int64_t v;
  cx_err rc;
  if (j->id) {
    if ((rc = step(db, "SELECT 1 FROM users WHERE id = :id", j, &v))) return rc;
    if (v < 0) return j->outcome = 'n', CX_OK;
  }
  if (j->has_unit && j->unit) {
    if ((rc = step(db, "SELECT 1 FROM units WHERE id = :unit", j, &v))) return rc;
    if (v < 0) return j->outcome = 'p', CX_OK;
  }
  if (!j->id) {
    if ((rc = step(db, "SELECT 1 FROM users WHERE email = :email", j, &v))) return rc;
    if (v == 1) return j->outcome = 'e', CX_OK;
    if ((rc = step(db, "INSERT INTO users(email, name, pw_hash, role, unit_id, disabled, created_at, updated_at)"
                       " VALUES(:email, :name, :pw, :role, NULLIF(:unit, 0), :disabled, :now, :now)", j, NULL)))
      return rc;
    j->id = sqlite3_last_insert_rowid(db);
    return CX_OK;
  }
  if (j->has_role) { /* an agent keeps a unit */
    if ((rc = step(db, "SELECT unit_id IS NULL FROM users WHERE id = :id", j, &v))) return rc;
    if (!strcmp(j->role, "agent") && (j->has_unit ? !j->unit : v == 1)) return j->outcome = 'a', CX_OK;
  } else if (j->has_unit && !j->unit) {
    if ((rc = step(db, "SELECT role = 'agent' FROM users WHERE id = :id", j, &v))) return rc;
    if (v == 1) return j->outcome = 'a', CX_OK;
  }
  if (j->has_name && (rc = step(db, "UPDATE users SET name = :name WHERE id = :id", j, NULL))) return rc;
  if (j->has_role && (rc = step(db, "UPDATE users SET role = :role WHERE id = :id", j, NULL))) return rc;
  if (j->has_unit && (rc = step(db, "UPDATE users SET unit_id = NULLIF(:unit, 0) WHERE id = :id", j, NULL))) return rc;
  if (j->has_pw && (rc = step(db, "UPDATE users SET pw_hash = :pw WHERE id = :id", j, NULL))) return rc;
  if (j->has_disabled && (rc = step(db, "UPDATE users SET disabled = :disabled WHERE id = :id", j, NULL))) return rc;
  if ((rc = step(db, "UPDATE users SET updated_at = :now WHERE id = :id", j, NULL))) return rc;
  /* what a credential may do changed: every one of the user's ends */
  if (j->has_role || j->has_pw || (j->has_disabled && j->disabled))
    rc = step(db, "UPDATE tokens SET revoked_at = :now WHERE user_id = :id AND revoked_at IS NULL", j, NULL);
  return rc;
}

static cx_err user_outcome(people_job *j, analytics_error *err) {
  switch (j->outcome) {
  case 'n': return CX_ENOTFOUND;
  case 'p': return refuse(err, "unknown_unit", "unit", "unit names no unit (GET /api/v1/units lists them).");
  case 'a': return refuse(err, "unit_required", "unit", "An agent works in a unit: give unit (GET /api/v1/units lists them).");
  case 'e': return CX_EEXIST;
  default: return CX_OK;
  }
}

cx_err gv_user_create(govern *g, const cJSON *req, cx_buf *out, cx_buf *after, analytics_error *err) {
  people_job j = {.fn = user_write};
  user_in in;
  cx_err rc = check_user(g, req, 1, &j, &in, err);
  if (!rc) rc = run(g, &j);
  if (!rc) rc = user_outcome(&j, err);
  if (!rc) rc = gv_user_get(g, j.id, out);
  if (!rc && after) rc = gv_user_get(g, j.id, after);
  sodium_memzero(in.pw_hash, sizeof in.pw_hash);
  return rc;
}

cx_err gv_user_update(govern *g, int64_t id, const cJSON *req, cx_buf *out, cx_buf *before, cx_buf *after,
                      analytics_error *err) {
  people_job j = {.fn = user_write, .id = id};
  user_in in;
  cx_err rc = check_user(g, req, 0, &j, &in, err);
  if (!rc && before) rc = gv_user_get(g, id, before);
  if (!rc) rc = run(g, &j);
  if (!rc) rc = user_outcome(&j, err);
  if (!rc) rc = gv_user_get(g, id, out);
  if (!rc && after) rc = gv_user_get(g, id, after);
  sodium_memzero(in.pw_hash, sizeof in.pw_hash);
  return rc;
}
