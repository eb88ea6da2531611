/* test_ingest.c - unit tests of lib/ingest: ingest_parse's validation and
 * normalisation of tracking messages.
 *
 * Every parse uses the fixed receivedAt R below, so that the clock-skew
 * arithmetic can be checked to the millisecond. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../lib/base/arena.h"
#include "../../lib/base/buf.h"
#include "../../lib/base/mem.h"
#include "../../lib/base/time.h"
#include "../../lib/base/util.h"
#include "../../lib/base/json.h"
#include "../../lib/ingest/ingest.h"
#include "../../lib/ingest/jparse.h"
#include "stack.h"
#include <semaphore.h>
#include <stdatomic.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define R 1714564800123LL /* receivedAt: 2024-05-01T12:00:00.123Z */
#define R_TEXT "2024-05-01T12:00:00.123Z"

static int64_t ms_of(const char *iso) {
  int64_t ms = 0;
  assert_int_equal(cx_time_parse(iso, strlen(iso), &ms), CX_OK);
  return ms;
}

/* ---- helpers: one batch per test, freed by the teardown ---- */

typedef struct {
  ingest_batch b;
  ingest_error err;
  cJSON *docs[8]; /* parsed bodies, freed at teardown */
  int ndocs;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  ingest_batch_init(&f->b, R);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  for (int i = 0; i < f->ndocs; i++) cJSON_Delete(f->docs[i]);
  ingest_batch_free(&f->b);
  free(f);
  return 0;
}

static cx_err parse(fixture *f, int type, const char *body) {
  return ingest_parse(type, body, strlen(body), R, &f->b, &f->err);
}

/* Parses body as endpoint type, expecting success and exactly one new
 * message; returns that message. */
static ingest_msg *parse_one(fixture *f, int type, const char *body) {
  size_t before = f->b.n;
  cx_err rc = parse(f, type, body);
  if (rc) print_error("ingest_parse: %s %s (%s)\n", f->err.code, f->err.field, f->err.message);
  assert_int_equal(rc, CX_OK);
  assert_int_equal(f->b.n, before + 1);
  return &f->b.msgs[before];
}

/* The stored body of m as a JSON tree (checked: valid, an object). */
static cJSON *body_of(fixture *f, const ingest_msg *m) {
  assert_non_null(m->body);
  assert_int_equal(strlen(m->body), m->body_len);
  cJSON *doc = cJSON_ParseWithLength(m->body, m->body_len);
  assert_non_null(doc);
  assert_true(cJSON_IsObject(doc));
  assert_true(f->ndocs < 8);
  f->docs[f->ndocs++] = doc;
  return doc;
}

/* obj's member at a dotted path ("context.library.name"), or NULL. */
static const cJSON *at(const cJSON *obj, const char *path) {
  char key[64];
  while (obj && *path) {
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    assert_true(n < sizeof key);
    memcpy(key, path, n);
    key[n] = 0;
    obj = cJSON_GetObjectItemCaseSensitive(obj, key);
    path += n + (dot ? 1 : 0);
  }
  return obj;
}

static const char *str_at(const cJSON *obj, const char *path) {
  const cJSON *v = at(obj, path);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* How many members of obj are called key (cJSON keeps repeated keys). */
static int members_named(const cJSON *obj, const char *key) {
  int n = 0;
  for (const cJSON *c = obj ? obj->child : NULL; c; c = c->next) n += c->string && !strcmp(c->string, key);
  return n;
}

static void expect_str(const cJSON *obj, const char *path, const char *want) {
  const char *got = str_at(obj, path);
  if (!got) print_error("no string at %s\n", path);
  assert_non_null(got);
  assert_string_equal(got, want);
}

/* Expects rejection with status, code and field; nothing appended. */
static void expect_error(fixture *f, int type, const char *body, int status, const char *code,
                         const char *field) {
  size_t before = f->b.n;
  cx_err rc = parse(f, type, body);
  if (rc == CX_OK || strcmp(f->err.code, code) || strcmp(f->err.field, field))
    print_error("body %.200s: got rc %d %s \"%s\", want %s \"%s\"\n", body, rc, f->err.code,
                f->err.field, code, field);
  assert_int_equal(rc, status == 413 ? CX_ETOOBIG : CX_EINVAL);
  assert_int_equal(f->err.status, status);
  assert_string_equal(f->err.code, code);
  assert_string_equal(f->err.field, field);
  assert_true(f->err.message[0] != 0);
  assert_int_equal(f->b.n, before);
}

/* A string of n copies of c, in a static buffer (one per call site use). */
static char *repeat(char c, size_t n) {
  static char buf[4][70000];
  static int next;
  char *s = buf[next++ % 4];
  assert_true(n < sizeof buf[0]);
  memset(s, c, n);
  s[n] = 0;
  return s;
}

/* ---- normalisation ---- */

static void test_identify_normalised(void **state) {
  fixture *f = *state;
  ingest_msg *m = parse_one(
      f, INGEST_IDENTIFY,
      "{\"type\":\"track\",\"userId\":\"u1\",\"writeKey\":\"wk_abc\",\"messageId\":\"m-1\","
      "\"traits\":{\"email\":\"Ada@Example.com\",\"plan\":\"pro\"},\"context\":{\"ip\":\"1.2.3.4\"}}");
  assert_int_equal(m->type, INGEST_IDENTIFY);
  assert_string_equal(m->user_id, "u1");
  assert_null(m->anonymous_id);
  assert_string_equal(m->message_id, "m-1");
  assert_string_equal(m->email, "Ada@Example.com"); /* normalised later, by profile */
  assert_non_null(m->traits);
  assert_string_equal(str_at(m->traits, "plan"), "pro");
  assert_true(m->ts == R); /* no client time: the time of receipt */
  assert_string_equal(f->b.write_key, "wk_abc");

  cJSON *doc = body_of(f, m);
  expect_str(doc, "type", "identify"); /* the endpoint's type wins */
  expect_str(doc, "userId", "u1");
  expect_str(doc, "messageId", "m-1");
  expect_str(doc, "timestamp", R_TEXT);
  expect_str(doc, "receivedAt", R_TEXT);
  expect_str(doc, "traits.plan", "pro");
  expect_str(doc, "context.ip", "1.2.3.4");
  assert_null(at(doc, "writeKey"));
  assert_null(at(doc, "originalTimestamp")); /* none was sent */
  assert_int_equal(members_named(doc, "type"), 1);
}

static void test_each_endpoint_type(void **state) {
  fixture *f = *state;
  ingest_msg *m = parse_one(f, INGEST_TRACK, "{\"anonymousId\":\"a\",\"event\":\"Order Completed\"}");
  assert_int_equal(m->type, INGEST_TRACK);
  assert_string_equal(m->name, "Order Completed");
  assert_string_equal(m->anonymous_id, "a");
  assert_null(m->traits);
  expect_str(body_of(f, m), "type", "track");

  m = parse_one(f, INGEST_PAGE, "{\"anonymousId\":\"a\",\"name\":\"Pricing\"}");
  assert_int_equal(m->type, INGEST_PAGE);
  assert_string_equal(m->name, "Pricing");
  m = parse_one(f, INGEST_PAGE, "{\"anonymousId\":\"a\"}"); /* a page name is optional */
  assert_null(m->name);
  m = parse_one(f, INGEST_SCREEN, "{\"userId\":\"u\",\"name\":\"Home\"}");
  assert_int_equal(m->type, INGEST_SCREEN);
  assert_string_equal(m->name, "Home");
  m = parse_one(f, INGEST_GROUP, "{\"userId\":\"u\",\"groupId\":\"acme\",\"traits\":{\"n\":1}}");
  assert_int_equal(m->type, INGEST_GROUP);
  assert_string_equal(m->group_id, "acme");
  assert_non_null(m->traits);
  m = parse_one(f, INGEST_ALIAS, "{\"userId\":\"u\",\"previousId\":\"anon-1\"}");
  assert_int_equal(m->type, INGEST_ALIAS);
  assert_string_equal(m->previous_id, "anon-1");
  m = parse_one(f, INGEST_ANY, "{\"type\":\"page\",\"anonymousId\":\"a\",\"name\":\"Home\"}");
  assert_int_equal(m->type, INGEST_PAGE);
  assert_int_equal(f->b.n, 7);
  assert_string_equal(ingest_type_name(INGEST_BATCH), "batch");
  assert_string_equal(ingest_type_name(INGEST_ALIAS), "alias");
  assert_string_equal(ingest_type_name(99), "unknown");
}

static void test_email_sources(void **state) {
  fixture *f = *state;
  /* track: the e-mail comes from context.traits */
  ingest_msg *m = parse_one(f, INGEST_TRACK,
                            "{\"userId\":\"u\",\"event\":\"e\",\"traits\":{\"email\":\"no@x\"},"
                            "\"context\":{\"traits\":{\"email\":\"ctx@x\"}}}");
  assert_string_equal(m->email, "ctx@x");
  /* identify: traits first */
  m = parse_one(f, INGEST_IDENTIFY,
                "{\"userId\":\"u\",\"traits\":{\"email\":\"t@x\"},\"context\":{\"traits\":{\"email\":\"c@x\"}}}");
  assert_string_equal(m->email, "t@x");
  m = parse_one(f, INGEST_IDENTIFY, "{\"userId\":\"u\",\"traits\":{\"email\":\"\"}}");
  assert_null(m->email);
  m = parse_one(f, INGEST_IDENTIFY, "{\"userId\":\"u\",\"traits\":{\"email\":5}}");
  assert_null(m->email);
}

static void test_numeric_ids_become_strings(void **state) {
  fixture *f = *state;
  ingest_msg *m = parse_one(f, INGEST_TRACK, "{\"userId\":42,\"event\":\"Signed Up\",\"anonymousId\":-7}");
  assert_string_equal(m->user_id, "42");
  assert_string_equal(m->anonymous_id, "-7");
  assert_string_equal(m->name, "Signed Up"); /* members after the id are still found */
  cJSON *doc = body_of(f, m);
  expect_str(doc, "userId", "42"); /* rewritten in the stored tree, under its name */
  expect_str(doc, "anonymousId", "-7");
  assert_null(cJSON_GetObjectItemCaseSensitive(doc, ""));
  expect_str(doc, "messageId", m->message_id);
  /* without a messageId one is assigned as usual */
  m = parse_one(f, INGEST_IDENTIFY, "{\"userId\":42}");
  assert_string_equal(m->user_id, "42");
  assert_int_equal(strlen(m->message_id), 36);
  m = parse_one(f, INGEST_IDENTIFY, "{\"userId\":9007199254740991}"); /* 2^53 - 1 */
  assert_string_equal(m->user_id, "9007199254740991");
  m = parse_one(f, INGEST_IDENTIFY, "{\"userId\":1e3}");
  assert_string_equal(m->user_id, "1000");
  m = parse_one(f, INGEST_GROUP, "{\"groupId\":12,\"userId\":\"u\",\"traits\":{\"n\":1}}");
  assert_string_equal(m->group_id, "12");
  assert_non_null(m->traits);
  expect_str(body_of(f, m), "groupId", "12");
  m = parse_one(f, INGEST_ALIAS, "{\"previousId\":3,\"userId\":\"u\"}");
  assert_string_equal(m->previous_id, "3");
  expect_str(body_of(f, m), "previousId", "3");
  expect_error(f, INGEST_IDENTIFY, "{\"userId\":1.5}", 400, "invalid_field", "userId");
  expect_error(f, INGEST_IDENTIFY, "{\"userId\":1e300}", 400, "invalid_field", "userId");
  expect_error(f, INGEST_IDENTIFY, "{\"userId\":true}", 400, "invalid_field", "userId");
  expect_error(f, INGEST_IDENTIFY, "{\"anonymousId\":[1]}", 400, "invalid_field", "anonymousId");
}

static void test_unsafe_integer_id(void **state) {
  fixture *f = *state;
  expect_error(f, INGEST_IDENTIFY, "{\"messageId\":\"m\",\"userId\":9007199254740993}", 400,
               "invalid_field", "userId");
}

static void test_message_id_assigned(void **state) {
  fixture *f = *state;
  ingest_msg *a = parse_one(f, INGEST_TRACK, "{\"userId\":\"u\",\"event\":\"e\"}");
  ingest_msg *b = parse_one(f, INGEST_TRACK, "{\"userId\":\"u\",\"event\":\"e\",\"messageId\":\"\"}");
  ingest_msg *c = parse_one(f, INGEST_TRACK, "{\"userId\":\"u\",\"event\":\"e\",\"messageId\":null}");
  ingest_msg *msgs[] = {a, b, c};
  for (int i = 0; i < 3; i++) {
    const char *id = msgs[i]->message_id;
    assert_int_equal(strlen(id), 36); /* a UUID v4 */
    assert_int_equal(id[8], '-');
    assert_int_equal(id[14], '4');
    expect_str(body_of(f, msgs[i]), "messageId", id);
  }
  assert_string_not_equal(a->message_id, b->message_id);
  assert_string_not_equal(b->message_id, c->message_id);
  assert_true(a->mid_hash != b->mid_hash);
  /* a given one is kept, and hashes the same each time */
  ingest_msg *d = parse_one(f, INGEST_TRACK, "{\"userId\":\"u\",\"event\":\"e\",\"messageId\":\"same\"}");
  ingest_msg *e = parse_one(f, INGEST_PAGE, "{\"anonymousId\":\"x\",\"messageId\":\"same\"}");
  assert_string_equal(d->message_id, "same");
  assert_true(d->mid_hash == e->mid_hash);
  assert_true(d->mid_hash != 0);
}

/* ---- time ---- */

static void test_timestamp_without_sent_at(void **state) {
  fixture *f = *state;
  ingest_msg *m = parse_one(f, INGEST_TRACK,
                            "{\"userId\":\"u\",\"event\":\"e\",\"timestamp\":\"2024-05-01T10:00:00+02:00\"}");
  assert_true(m->ts == ms_of("2024-05-01T08:00:00Z"));
  cJSON *doc = body_of(f, m);
  expect_str(doc, "timestamp", "2024-05-01T08:00:00.000Z");
  expect_str(doc, "originalTimestamp", "2024-05-01T10:00:00+02:00"); /* as the client sent it */
  expect_str(doc, "receivedAt", R_TEXT);

  /* originalTimestamp alone is the client's time */
  m = parse_one(f, INGEST_TRACK,
                "{\"userId\":\"u\",\"event\":\"e\",\"originalTimestamp\":\"2024-04-30T23:00:00.5Z\"}");
  assert_true(m->ts == ms_of("2024-04-30T23:00:00.500Z"));
  doc = body_of(f, m);
  expect_str(doc, "originalTimestamp", "2024-04-30T23:00:00.5Z");
  expect_str(doc, "timestamp", "2024-04-30T23:00:00.500Z");
}

static void test_clock_skew_correction(void **state) {
  fixture *f = *state;
  /* the client's clock is 10 s ahead of its own sentAt: ts = R - (sentAt - timestamp) */
  ingest_msg *m = parse_one(f, INGEST_TRACK,
                            "{\"userId\":\"u\",\"event\":\"e\",\"timestamp\":\"2024-05-01T11:00:00.000Z\","
                            "\"sentAt\":\"2024-05-01T11:00:10.000Z\"}");
  assert_true(m->ts == R - 10000);
  cJSON *doc = body_of(f, m);
  expect_str(doc, "timestamp", "2024-05-01T11:59:50.123Z");
  expect_str(doc, "originalTimestamp", "2024-05-01T11:00:00.000Z");
  expect_str(doc, "sentAt", "2024-05-01T11:00:10.000Z");

  /* originalTimestamp wins over timestamp, and is kept verbatim */
  m = parse_one(f, INGEST_TRACK,
                "{\"userId\":\"u\",\"event\":\"e\",\"timestamp\":\"2020-01-01T00:00:00Z\","
                "\"originalTimestamp\":\"2024-05-01T13:59:00+02:00\",\"sentAt\":\"2024-05-01T12:00:30Z\"}");
  assert_true(m->ts == R - 90000);
  doc = body_of(f, m);
  expect_str(doc, "timestamp", "2024-05-01T11:58:30.123Z");
  expect_str(doc, "originalTimestamp", "2024-05-01T13:59:00+02:00");

  /* a client clock running a day behind */
  m = parse_one(f, INGEST_TRACK,
                "{\"userId\":\"u\",\"event\":\"e\",\"timestamp\":\"2024-04-30T12:00:00.000Z\","
                "\"sentAt\":\"2024-04-30T12:00:02.250Z\"}");
  assert_true(m->ts == R - 2250);

  /* sentAt without a client time: the time of receipt */
  m = parse_one(f, INGEST_TRACK, "{\"userId\":\"u\",\"event\":\"e\",\"sentAt\":\"2024-05-01T00:00:00Z\"}");
  assert_true(m->ts == R);
}

static void test_skew_out_of_range(void **state) {
  fixture *f = *state;
  static const char *const bodies[] = {
      "{\"userId\":\"u\",\"event\":\"e\",\"timestamp\":\"2024-05-01T00:00:00Z\",\"sentAt\":\"4293-05-01T00:00:00Z\"}",
      "{\"userId\":\"u\",\"event\":\"e\",\"timestamp\":\"9999-12-31T00:00:00Z\",\"sentAt\":\"1000-01-01T00:00:00Z\"}"};
  for (int i = 0; i < 2; i++) {
    size_t before = f->b.n;
    if (parse(f, INGEST_TRACK, bodies[i]) != CX_OK) {
      /* refusing the message is a fine answer too */
      assert_string_equal(f->err.code, "invalid_timestamp");
      continue;
    }
    ingest_msg *m = &f->b.msgs[before];
    const char *ts = str_at(body_of(f, m), "timestamp");
    assert_non_null(ts);
    int64_t back = 0;
    assert_int_equal(cx_time_parse(ts, strlen(ts), &back), CX_OK);
    assert_true(back == m->ts);
  }
}

static void test_batch_sent_at(void **state) {
  fixture *f = *state;
  assert_int_equal(parse(f, INGEST_BATCH,
                         "{\"sentAt\":\"2024-05-01T08:00:05Z\",\"batch\":["
                         "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"a\",\"timestamp\":\"2024-05-01T08:00:00Z\"},"
                         "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"b\",\"timestamp\":\"2024-05-01T08:00:00Z\","
                         "\"sentAt\":\"2024-05-01T08:00:01Z\"},"
                         "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"c\"}]}"),
                   CX_OK);
  assert_int_equal(f->b.n, 3);
  assert_true(f->b.msgs[0].ts == R - 5000); /* the batch's sentAt */
  assert_true(f->b.msgs[1].ts == R - 1000); /* the item's own sentAt wins */
  assert_true(f->b.msgs[2].ts == R);
}

static void test_import_received_at(void **state) {
  fixture *f = *state;
  /* an imported line is history: its own receivedAt is the base of the
   * correction, and is kept */
  ingest_msg *m = parse_one(f, INGEST_ANY,
                            "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\","
                            "\"timestamp\":\"2024-01-01T00:00:00Z\",\"sentAt\":\"2024-01-01T00:00:10Z\","
                            "\"receivedAt\":\"2024-01-01T00:00:05Z\"}");
  assert_true(m->ts == ms_of("2023-12-31T23:59:55Z"));
  cJSON *doc = body_of(f, m);
  expect_str(doc, "receivedAt", "2024-01-01T00:00:05.000Z");
  expect_str(doc, "timestamp", "2023-12-31T23:59:55.000Z");
  /* without one, the timestamp stands as sent */
  m = parse_one(f, INGEST_ANY,
                "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\","
                "\"timestamp\":\"2024-01-01T00:00:00Z\",\"sentAt\":\"2024-01-01T00:00:10Z\"}");
  assert_true(m->ts == ms_of("2024-01-01T00:00:00Z"));
  expect_str(body_of(f, m), "receivedAt", R_TEXT);
  expect_error(f, INGEST_ANY, "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"receivedAt\":\"x\"}",
               400, "invalid_timestamp", "receivedAt");
  /* a live endpoint stamps its own receivedAt over the client's */
  m = parse_one(f, INGEST_TRACK,
                "{\"userId\":\"u\",\"event\":\"e\",\"receivedAt\":\"2020-01-01T00:00:00Z\","
                "\"timestamp\":\"2024-05-01T11:00:00Z\",\"sentAt\":\"2024-05-01T11:00:01Z\"}");
  assert_true(m->ts == R - 1000);
  expect_str(body_of(f, m), "receivedAt", R_TEXT);
}

/* ---- batches ---- */

static void test_batch_context_merge(void **state) {
  fixture *f = *state;
  assert_int_equal(
      parse(f, INGEST_BATCH,
            "{\"writeKey\":\"wk_top\",\"context\":{\"ip\":\"1.2.3.4\",\"library\":{\"name\":\"top\","
            "\"version\":\"1\"},\"locale\":\"de-DE\"},\"integrations\":{\"All\":false},\"batch\":["
            "{\"type\":\"identify\",\"userId\":\"u1\",\"writeKey\":\"wk_item\",\"context\":{\"library\":"
            "{\"name\":\"item\"},\"locale\":\"fr-FR\"},\"integrations\":{\"All\":true,\"X\":true}},"
            "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"e\"}]}"),
      CX_OK);
  assert_int_equal(f->b.n, 2);
  assert_string_equal(f->b.write_key, "wk_top");
  cJSON *d0 = body_of(f, &f->b.msgs[0]);
  expect_str(d0, "context.library.name", "item"); /* the item's key wins, whole */
  assert_null(at(d0, "context.library.version"));
  expect_str(d0, "context.locale", "fr-FR");
  expect_str(d0, "context.ip", "1.2.3.4"); /* what the item lacks comes from the batch */
  assert_true(cJSON_IsTrue(at(d0, "integrations.All")));
  assert_true(cJSON_IsTrue(at(d0, "integrations.X")));
  assert_null(at(d0, "writeKey"));
  assert_null(at(d0, "batch"));
  /* each key once: the batch's copy of a key the item has is not added */
  const cJSON *ctx0 = at(d0, "context");
  assert_int_equal(members_named(ctx0, "library"), 1);
  assert_int_equal(members_named(ctx0, "locale"), 1);
  assert_int_equal(members_named(ctx0, "ip"), 1);
  assert_int_equal(cJSON_GetArraySize(ctx0), 3);
  assert_int_equal(members_named(at(d0, "integrations"), "All"), 1);
  assert_int_equal(members_named(d0, "context"), 1);
  assert_int_equal(members_named(d0, "type"), 1);
  assert_int_equal(members_named(d0, "messageId"), 1);
  assert_int_equal(members_named(d0, "timestamp"), 1);
  cJSON *d1 = body_of(f, &f->b.msgs[1]);
  expect_str(d1, "context.library.name", "top");
  expect_str(d1, "context.library.version", "1");
  expect_str(d1, "context.locale", "de-DE");
  expect_str(d1, "context.ip", "1.2.3.4");
  assert_true(cJSON_IsFalse(at(d1, "integrations.All")));
  expect_str(d1, "type", "track");
  expect_str(d1, "receivedAt", R_TEXT);
}

static void test_batch_types_and_prefix(void **state) {
  fixture *f = *state;
  assert_int_equal(parse(f, INGEST_BATCH,
                         "{\"batch\":[{\"type\":\"identify\",\"userId\":\"u\"},"
                         "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\"},"
                         "{\"type\":\"page\",\"userId\":\"u\"},{\"type\":\"screen\",\"userId\":\"u\"},"
                         "{\"type\":\"group\",\"userId\":\"u\",\"groupId\":\"g\"},"
                         "{\"type\":\"alias\",\"userId\":\"u\",\"previousId\":\"p\"}]}"),
                   CX_OK);
  assert_int_equal(f->b.n, 6);
  for (int i = 0; i < 6; i++) assert_int_equal(f->b.msgs[i].type, INGEST_IDENTIFY + i);
  assert_int_equal(parse(f, INGEST_BATCH, "{\"batch\":[]}"), CX_OK); /* empty is fine */
  assert_int_equal(f->b.n, 6);
  /* the error in item 11 names it */
  cx_buf body;
  cx_buf_init(&body, 4096);
  assert_int_equal(cx_buf_puts(&body, "{\"batch\":["), CX_OK);
  for (int i = 0; i < 11; i++)
    assert_int_equal(cx_buf_puts(&body, "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\"},"), CX_OK);
  assert_int_equal(cx_buf_puts(&body, "{\"type\":\"track\",\"anonymousId\":\"a\"}]}"), CX_OK);
  expect_error(f, INGEST_BATCH, body.p, 400, "missing_field", "batch[11].event");
  cx_buf_free(&body);
}

static void test_failed_parse_appends_nothing(void **state) {
  fixture *f = *state;
  parse_one(f, INGEST_IDENTIFY, "{\"userId\":\"first\",\"messageId\":\"m-0\"}");
  char *kept = strdup(f->b.msgs[0].body);
  assert_non_null(kept);
  /* a batch whose second item fails: its first item is not kept */
  expect_error(f, INGEST_BATCH,
               "{\"batch\":[{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\"},"
               "{\"type\":\"track\",\"event\":\"e\"}]}",
               400, "missing_identity", "batch[1].userId");
  assert_int_equal(f->b.n, 1);
  assert_string_equal(f->b.msgs[0].body, kept);
  assert_string_equal(f->b.msgs[0].user_id, "first");
  /* and the batch goes on working */
  parse_one(f, INGEST_TRACK, "{\"userId\":\"u\",\"event\":\"after\"}");
  assert_int_equal(f->b.n, 2);
  assert_string_equal(f->b.msgs[1].name, "after");
  assert_string_equal(f->b.msgs[0].body, kept);
  free(kept);
}

/* ---- errors ---- */

typedef struct {
  int type;
  const char *body;
  int status;
  const char *code, *field;
} bad_case;

static void test_error_codes_and_fields(void **state) {
  fixture *f = *state;
  static const bad_case cases[] = {
      {INGEST_TRACK, "", 400, "malformed_json", ""},
      {INGEST_TRACK, "{\"userId\":", 400, "malformed_json", ""},
      {INGEST_TRACK, "{'userId':'u'}", 400, "malformed_json", ""},
      {INGEST_TRACK, "{\"userId\":\"\xC0\xAF\",\"event\":\"e\"}", 400, "invalid_utf8", ""},
      {INGEST_TRACK, "{\"userId\":\"\xED\xA0\x80\",\"event\":\"e\"}", 400, "invalid_utf8", ""},
      {INGEST_TRACK, "[{\"userId\":\"u\"}]", 400, "not_an_object", ""},
      {INGEST_TRACK, "\"text\"", 400, "not_an_object", ""},
      {INGEST_BATCH, "{}", 400, "missing_field", "batch"},
      {INGEST_BATCH, "{\"batch\":{}}", 400, "invalid_field", "batch"},
      {INGEST_BATCH, "{\"batch\":[{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\"},\"x\"]}", 400,
       "not_an_object", "batch[1]"},
      {INGEST_BATCH, "{\"batch\":[{\"userId\":\"u\"}]}", 400, "missing_field", "batch[0].type"},
      {INGEST_BATCH, "{\"batch\":[{\"type\":7,\"userId\":\"u\"}]}", 400, "invalid_field", "batch[0].type"},
      {INGEST_BATCH, "{\"batch\":[{\"type\":\"purchase\",\"userId\":\"u\"}]}", 400, "unknown_type",
       "batch[0].type"},
      {INGEST_BATCH, "{\"batch\":[{\"type\":\"batch\",\"userId\":\"u\"}]}", 400, "unknown_type",
       "batch[0].type"},
      {INGEST_BATCH, "{\"batch\":[{\"type\":\"identify\",\"userId\":\"u\"},{\"type\":\"identify\"}]}",
       400, "missing_identity", "batch[1].userId"},
      {INGEST_BATCH, "{\"sentAt\":\"soon\",\"batch\":[{\"type\":\"identify\",\"userId\":\"u\"}]}", 400,
       "invalid_timestamp", "sentAt"},
      {INGEST_BATCH, "{\"batch\":[{\"type\":\"identify\",\"userId\":\"u\",\"sentAt\":\"2024-02-30\"}]}",
       400, "invalid_timestamp", "batch[0].sentAt"},
      {INGEST_BATCH, "{\"batch\":[{\"type\":\"identify\",\"userId\":\"u\",\"context\":{\"traits\":1}}]}",
       400, "invalid_field", "batch[0].context.traits"},
      {INGEST_BATCH, "{\"context\":\"x\",\"batch\":[{\"type\":\"identify\",\"userId\":\"u\"}]}", 400,
       "invalid_field", "context"},
      {INGEST_BATCH, "{\"integrations\":[],\"batch\":[{\"type\":\"identify\",\"userId\":\"u\"}]}", 400,
       "invalid_field", "integrations"},
      {INGEST_ANY, "{\"userId\":\"u\"}", 400, "missing_field", "type"},
      {INGEST_IDENTIFY, "{}", 400, "missing_identity", "userId"},
      {INGEST_IDENTIFY, "{\"userId\":\"\",\"anonymousId\":null}", 400, "missing_identity", "userId"},
      {INGEST_IDENTIFY, "{\"userId\":{}}", 400, "invalid_field", "userId"},
      {INGEST_IDENTIFY, "{\"userId\":\"u\",\"messageId\":5}", 400, "invalid_field", "messageId"},
      {INGEST_IDENTIFY, "{\"userId\":\"u\",\"context\":\"x\"}", 400, "invalid_field", "context"},
      {INGEST_IDENTIFY, "{\"userId\":\"u\",\"context\":{\"traits\":[]}}", 400, "invalid_field",
       "context.traits"},
      {INGEST_IDENTIFY, "{\"userId\":\"u\",\"properties\":[]}", 400, "invalid_field", "properties"},
      {INGEST_IDENTIFY, "{\"userId\":\"u\",\"traits\":\"x\"}", 400, "invalid_field", "traits"},
      {INGEST_IDENTIFY, "{\"userId\":\"u\",\"integrations\":1}", 400, "invalid_field", "integrations"},
      {INGEST_IDENTIFY, "{\"userId\":\"u\",\"timestamp\":\"2023-02-29T00:00:00Z\"}", 400,
       "invalid_timestamp", "timestamp"},
      {INGEST_IDENTIFY, "{\"userId\":\"u\",\"timestamp\":\"2024-05-01T12:00:00\"}", 400,
       "invalid_timestamp", "timestamp"},
      {INGEST_IDENTIFY, "{\"userId\":\"u\",\"timestamp\":1714564800}", 400, "invalid_timestamp",
       "timestamp"},
      {INGEST_IDENTIFY, "{\"userId\":\"u\",\"originalTimestamp\":\"24:00\"}", 400, "invalid_timestamp",
       "originalTimestamp"},
      {INGEST_IDENTIFY, "{\"userId\":\"u\",\"sentAt\":\"yesterday\"}", 400, "invalid_timestamp", "sentAt"},
      {INGEST_IDENTIFY, "{\"userId\":\"u\",\"writeKey\":5}", 400, "invalid_field", "writeKey"},
      {INGEST_TRACK, "{\"userId\":\"u\"}", 400, "missing_field", "event"},
      {INGEST_TRACK, "{\"userId\":\"u\",\"event\":null}", 400, "missing_field", "event"},
      {INGEST_TRACK, "{\"userId\":\"u\",\"event\":\"\"}", 400, "invalid_field", "event"},
      {INGEST_TRACK, "{\"userId\":\"u\",\"event\":5}", 400, "invalid_field", "event"},
      {INGEST_PAGE, "{\"userId\":\"u\",\"name\":5}", 400, "invalid_field", "name"},
      {INGEST_SCREEN, "{\"userId\":\"u\",\"name\":[]}", 400, "invalid_field", "name"},
      {INGEST_GROUP, "{\"userId\":\"u\"}", 400, "missing_field", "groupId"},
      {INGEST_GROUP, "{\"userId\":\"u\",\"groupId\":\"\"}", 400, "missing_field", "groupId"},
      {INGEST_GROUP, "{\"userId\":\"u\",\"groupId\":{}}", 400, "invalid_field", "groupId"},
      {INGEST_ALIAS, "{\"userId\":\"u\"}", 400, "missing_field", "previousId"},
      {INGEST_ALIAS, "{\"anonymousId\":\"a\",\"previousId\":\"p\"}", 400, "missing_field", "userId"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    expect_error(f, cases[i].type, cases[i].body, cases[i].status, cases[i].code, cases[i].field);
  assert_int_equal(f->b.n, 0);
}

static void test_field_lengths(void **state) {
  fixture *f = *state;
  char body[2048];
  /* ids: 255 bytes fit, 256 do not */
  snprintf(body, sizeof body, "{\"userId\":\"%s\"}", repeat('u', 255));
  assert_int_equal(strlen(parse_one(f, INGEST_IDENTIFY, body)->user_id), 255);
  snprintf(body, sizeof body, "{\"userId\":\"%s\"}", repeat('u', 256));
  expect_error(f, INGEST_IDENTIFY, body, 400, "field_too_long", "userId");
  snprintf(body, sizeof body, "{\"userId\":\"u\",\"anonymousId\":\"%s\"}", repeat('a', 256));
  expect_error(f, INGEST_IDENTIFY, body, 400, "field_too_long", "anonymousId");
  snprintf(body, sizeof body, "{\"userId\":\"u\",\"groupId\":\"%s\"}", repeat('g', 256));
  expect_error(f, INGEST_GROUP, body, 400, "field_too_long", "groupId");
  snprintf(body, sizeof body, "{\"userId\":\"u\",\"previousId\":\"%s\"}", repeat('p', 256));
  expect_error(f, INGEST_ALIAS, body, 400, "field_too_long", "previousId");
  /* messageId: 100 fit, 101 do not */
  snprintf(body, sizeof body, "{\"userId\":\"u\",\"messageId\":\"%s\"}", repeat('m', 100));
  assert_int_equal(strlen(parse_one(f, INGEST_IDENTIFY, body)->message_id), 100);
  snprintf(body, sizeof body, "{\"userId\":\"u\",\"messageId\":\"%s\"}", repeat('m', 101));
  expect_error(f, INGEST_IDENTIFY, body, 400, "field_too_long", "messageId");
  /* characters, not bytes: 100 two-byte characters fit */
  cx_buf mid;
  cx_buf_init(&mid, 1024);
  for (int i = 0; i < 100; i++) assert_int_equal(cx_buf_puts(&mid, "\xC3\xA9"), CX_OK);
  snprintf(body, sizeof body, "{\"userId\":\"u\",\"messageId\":\"%s\"}", mid.p);
  assert_int_equal(strlen(parse_one(f, INGEST_IDENTIFY, body)->message_id), 200);
  assert_int_equal(cx_buf_puts(&mid, "\xC3\xA9"), CX_OK);
  snprintf(body, sizeof body, "{\"userId\":\"u\",\"messageId\":\"%s\"}", mid.p);
  expect_error(f, INGEST_IDENTIFY, body, 400, "field_too_long", "messageId");
  cx_buf_free(&mid);
  snprintf(body, sizeof body, "{\"batch\":[{\"type\":\"identify\",\"userId\":\"u\",\"messageId\":\"%s\"}]}",
           repeat('m', 101));
  expect_error(f, INGEST_BATCH, body, 400, "field_too_long", "batch[0].messageId");
  /* event and page names: 255 fit, 256 do not */
  snprintf(body, sizeof body, "{\"userId\":\"u\",\"event\":\"%s\"}", repeat('e', 255));
  parse_one(f, INGEST_TRACK, body);
  snprintf(body, sizeof body, "{\"userId\":\"u\",\"event\":\"%s\"}", repeat('e', 256));
  expect_error(f, INGEST_TRACK, body, 400, "field_too_long", "event");
  snprintf(body, sizeof body, "{\"userId\":\"u\",\"name\":\"%s\"}", repeat('n', 256));
  expect_error(f, INGEST_PAGE, body, 400, "field_too_long", "name");
  /* e-mail: 255 fit, 256 do not; the field names where it came from */
  snprintf(body, sizeof body, "{\"userId\":\"u\",\"traits\":{\"email\":\"%s\"}}", repeat('x', 255));
  assert_int_equal(strlen(parse_one(f, INGEST_IDENTIFY, body)->email), 255);
  snprintf(body, sizeof body, "{\"userId\":\"u\",\"traits\":{\"email\":\"%s\"}}", repeat('x', 256));
  expect_error(f, INGEST_IDENTIFY, body, 400, "field_too_long", "traits.email");
  snprintf(body, sizeof body, "{\"userId\":\"u\",\"event\":\"e\",\"context\":{\"traits\":{\"email\":\"%s\"}}}",
           repeat('x', 256));
  expect_error(f, INGEST_TRACK, body, 400, "field_too_long", "context.traits.email");
  /* writeKey: 127 fit, 128 do not */
  snprintf(body, sizeof body, "{\"userId\":\"u\",\"writeKey\":\"%s\"}", repeat('k', 127));
  parse_one(f, INGEST_IDENTIFY, body);
  assert_int_equal(strlen(f->b.write_key), 127);
  snprintf(body, sizeof body, "{\"userId\":\"u\",\"writeKey\":\"%s\"}", repeat('k', 128));
  expect_error(f, INGEST_IDENTIFY, body, 400, "invalid_field", "writeKey");
}

static void test_trailing_garbage(void **state) {
  fixture *f = *state;
  expect_error(f, INGEST_TRACK, "{\"userId\":\"u\",\"event\":\"e\"} trailing", 400, "malformed_json", "");
  expect_error(f, INGEST_TRACK, "{\"userId\":\"u\",\"event\":\"e\"}{}", 400, "malformed_json", "");
  expect_error(f, INGEST_BATCH, "{\"batch\":[]}[]", 400, "malformed_json", "");
  /* whitespace after the value is fine */
  parse_one(f, INGEST_TRACK, "{\"userId\":\"u\",\"event\":\"e\"} \r\n\t");
}

static void test_repeated_write_key(void **state) {
  fixture *f = *state;
  /* every writeKey member goes, not just the first */
  ingest_msg *m = parse_one(f, INGEST_IDENTIFY,
                            "{\"userId\":\"u\",\"writeKey\":\"wk_1\",\"writeKey\":\"wk_secret\"}");
  assert_null(strstr(m->body, "wk_secret"));
  assert_null(at(body_of(f, m), "writeKey"));
  assert_string_equal(f->b.write_key, "wk_1");
}

static void test_thrice_repeated_write_key(void **state) {
  fixture *f = *state;
  ingest_msg *m = parse_one(f, INGEST_IDENTIFY,
                            "{\"userId\":\"u\",\"writeKey\":\"wk_1\",\"writeKey\":\"wk_2\",\"writeKey\":\"wk_3\"}");
  assert_null(strstr(m->body, "wk_3"));
  assert_null(at(body_of(f, m), "writeKey"));
}

/* ---- limits ---- */

static char *batch_of(size_t count) {
  static const char item[] = "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\"}";
  size_t cap = 16 + count * sizeof item;
  char *s = malloc(cap);
  assert_non_null(s);
  size_t k = 0;
  memcpy(s + k, "{\"batch\":[", 10);
  k += 10;
  for (size_t i = 0; i < count; i++) {
    if (i) s[k++] = ',';
    memcpy(s + k, item, sizeof item - 1);
    k += sizeof item - 1;
  }
  memcpy(s + k, "]}", 3);
  return s;
}

static void test_batch_count_limit(void **state) {
  fixture *f = *state;
  char *ok = batch_of(INGEST_MAX_COUNT), *over = batch_of(INGEST_MAX_COUNT + 1);
  assert_int_equal(INGEST_MAX_COUNT, 2500);
  expect_error(f, INGEST_BATCH, over, 400, "batch_too_many", "batch");
  assert_int_equal(parse(f, INGEST_BATCH, ok), CX_OK);
  assert_int_equal(f->b.n, 2500);
  assert_string_equal(f->b.msgs[2499].name, "e");
  free(ok);
  free(over);
}

static void test_body_size_limits(void **state) {
  fixture *f = *state;
  /* a whole request: the limit is on the raw bytes, before parsing */
  size_t n = INGEST_MAX_BATCH + 1;
  char *big = malloc(n + 1);
  assert_non_null(big);
  memset(big, ' ', n);
  big[n] = 0;
  memcpy(big, "{\"batch\":[]}", 12); /* valid JSON padded with spaces */
  expect_error(f, INGEST_BATCH, big, 413, "batch_too_large", "");
  big[INGEST_MAX_BATCH] = 0; /* exactly at the limit */
  assert_int_equal(parse(f, INGEST_BATCH, big), CX_OK);
  /* one message outside a batch */
  n = INGEST_MAX_MESSAGE + 1;
  memset(big, ' ', n);
  big[n] = 0;
  memcpy(big, "{\"userId\":\"u\"}", 14);
  expect_error(f, INGEST_IDENTIFY, big, 413, "message_too_large", "");
  big[INGEST_MAX_MESSAGE] = 0;
  parse_one(f, INGEST_IDENTIFY, big);
  free(big);
}

/* A batch of one small track message whose stored body is exactly `want`
 * bytes: the batch's shared context (a pad) is merged into the item, so the
 * item as sent stays far below INGEST_MAX_MESSAGE. */
static char *stored_size_message(size_t want) {
  static char body[80000];
  const char *fmt = "{\"context\":{\"pad\":\"%s\"},\"batch\":[{\"type\":\"track\",\"userId\":\"u\","
                    "\"event\":\"e\",\"messageId\":\"m\",\"timestamp\":\"2024-05-01T10:00:00Z\"}]}";
  snprintf(body, sizeof body, fmt, repeat('p', 10));
  ingest_batch b;
  ingest_error e;
  ingest_batch_init(&b, R);
  assert_int_equal(ingest_parse(INGEST_BATCH, body, strlen(body), R, &b, &e), CX_OK);
  size_t base = b.msgs[0].body_len - 10;
  ingest_batch_free(&b);
  assert_true(want > base);
  snprintf(body, sizeof body, fmt, repeat('p', want - base));
  return body;
}

static void test_stored_size_limit(void **state) {
  fixture *f = *state;
  assert_int_equal(INGEST_MAX_STORED, 64 * 1024);
  assert_int_equal(parse(f, INGEST_BATCH, stored_size_message(INGEST_MAX_STORED)), CX_OK);
  assert_int_equal(f->b.msgs[f->b.n - 1].body_len, INGEST_MAX_STORED); /* at the limit: stored */
  expect_error(f, INGEST_BATCH, stored_size_message(INGEST_MAX_STORED + 1), 413,
               "message_too_large", "batch[0]");
}

/* A batch whose first item holds lt '<' (lt + ~90 bytes as sent), and
 * whose second item brings the whole body past INGEST_MAX_MESSAGE. */
static char *batch_with_escapes(size_t lt) {
  static char body[80000];
  snprintf(body, sizeof body,
           "{\"batch\":[{\"type\":\"track\",\"userId\":\"u\",\"event\":\"html\",\"properties\":{\"h\":\"%s\"}},"
           "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"pad\",\"properties\":{\"p\":\"%s\"}}]}",
           repeat('<', lt), repeat('p', 32680));
  return body;
}

static void test_message_size_as_sent(void **state) {
  fixture *f = *state;
  /* one message: the limit is on the bytes sent */
  char *one = malloc(INGEST_MAX_MESSAGE + 64);
  assert_non_null(one);
  snprintf(one, INGEST_MAX_MESSAGE + 64, "{\"userId\":\"u\",\"event\":\"e\",\"properties\":{\"h\":\"%s\"}}",
           repeat('<', 6000));
  parse_one(f, INGEST_TRACK, one); /* 6 KB sent, 36 KB stored: fine */
  free(one);
  /* a batch item of 31,000 plain bytes passes, 33,000 do not */
  static char body[80000];
  snprintf(body, sizeof body,
           "{\"batch\":[{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"properties\":{\"p\":\"%s\"}}]}",
           repeat('p', 31000));
  assert_int_equal(parse(f, INGEST_BATCH, body), CX_OK);
  snprintf(body, sizeof body,
           "{\"batch\":[{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\"},{\"type\":\"track\",\"userId\":"
           "\"u\",\"event\":\"e\",\"properties\":{\"p\":\"%s\"}}]}",
           repeat('p', 33000));
  expect_error(f, INGEST_BATCH, body, 413, "message_too_large", "batch[1]");
  /* the same 6 KB item in a batch of more than 32 KB */
  assert_true(strlen(batch_with_escapes(10)) > INGEST_MAX_MESSAGE);
  assert_int_equal(parse(f, INGEST_BATCH, batch_with_escapes(10)), CX_OK);
}

static void test_batch_item_measured_as_written(void **state) {
  fixture *f = *state;
  assert_int_equal(parse(f, INGEST_BATCH, batch_with_escapes(6000)), CX_OK);
  assert_int_equal(f->b.n, 2);
}

/* A track message nesting `containers` objects (the message itself
 * included), the innermost holding a number when leaf, empty otherwise. */
static char *nested(int containers, int leaf, int wrap) {
  static char body[4096];
  cx_buf b;
  cx_buf_init(&b, sizeof body - 1);
  assert_int_equal(cx_buf_puts(&b, wrap ? "{\"batch\":[{\"type\":\"track\"," : "{"), CX_OK);
  assert_int_equal(cx_buf_puts(&b, "\"userId\":\"u\",\"event\":\"e\",\"properties\":"), CX_OK);
  for (int i = 0; i < containers - 2; i++) assert_int_equal(cx_buf_puts(&b, "{\"a\":"), CX_OK);
  assert_int_equal(cx_buf_puts(&b, leaf ? "{\"a\":1}" : "{}"), CX_OK);
  for (int i = 0; i < containers - 2; i++) assert_int_equal(cx_buf_puts(&b, "}"), CX_OK);
  assert_int_equal(cx_buf_puts(&b, wrap ? "}]}" : "}"), CX_OK);
  memcpy(body, b.p, b.len + 1);
  cx_buf_free(&b);
  return body;
}

static void test_nesting_limit(void **state) {
  fixture *f = *state;
  assert_int_equal(INGEST_MAX_DEPTH, 64);
  parse_one(f, INGEST_TRACK, nested(INGEST_MAX_DEPTH, 0, 0));
  parse_one(f, INGEST_TRACK, nested(INGEST_MAX_DEPTH - 1, 1, 0));
  expect_error(f, INGEST_TRACK, nested(INGEST_MAX_DEPTH + 1, 0, 0), 400, "too_deep", "");
  expect_error(f, INGEST_TRACK, nested(INGEST_MAX_DEPTH + 1, 1, 0), 400, "too_deep", "");
  expect_error(f, INGEST_BATCH, nested(INGEST_MAX_DEPTH + 1, 0, 1), 400, "too_deep", "batch[0]");
  /* arrays count as well */
  char body[512];
  snprintf(body, sizeof body, "{\"userId\":\"u\",\"event\":\"e\",\"properties\":{\"a\":%s%s}}",
           repeat('[', 70), repeat(']', 70));
  expect_error(f, INGEST_TRACK, body, 400, "too_deep", "");
}

static void test_nesting_limit_with_values(void **state) {
  fixture *f = *state;
  parse_one(f, INGEST_TRACK, nested(INGEST_MAX_DEPTH, 1, 0));
}

/* ---- allocation failure ---- */

static const char torture_body[] =
    "{\"writeKey\":\"wk\",\"sentAt\":\"2024-05-01T12:00:05Z\",\"context\":{\"ip\":\"1.2.3.4\","
    "\"library\":{\"name\":\"t\"}},\"integrations\":{\"All\":true},\"batch\":["
    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"email\":\"a@b.c\",\"plan\":\"pro\"},"
    "\"timestamp\":\"2024-05-01T12:00:00Z\"},"
    "{\"type\":\"track\",\"anonymousId\":\"a1\",\"event\":\"Clicked\",\"messageId\":\"m2\","
    "\"context\":{\"library\":{\"name\":\"item\"}},\"properties\":{\"n\":[1,2.5,\"x\",null,true]}},"
    "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"g\",\"traits\":{\"name\":\"Acme\"}},"
    "{\"type\":\"alias\",\"userId\":\"u1\",\"previousId\":\"a1\",\"originalTimestamp\":\"2024-05-01T11:00:00Z\"}]}";

/* Fails the k-th allocation for k = 0, 1, ... until ingest_parse gets
 * through: each failure must be reported cleanly (no crash, no leak under
 * ASan, nothing appended), and the final parse must be complete. */
static void test_allocation_failures(void **state) {
  (void)state;
  int failures = 0, ok = 0;
  for (long k = 0; k < 10000 && !ok; k++) {
    ingest_batch b;
    ingest_error e;
    ingest_batch_init(&b, R);
    cx_mem_fail_after(k);
    cx_err rc = ingest_parse(INGEST_BATCH, torture_body, sizeof torture_body - 1, R, &b, &e);
    cx_mem_fail_after(-1);
    if (rc == CX_OK) {
      assert_int_equal(b.n, 4);
      assert_string_equal(b.msgs[3].previous_id, "a1");
      ingest_batch_free(&b);
      ok = 1;
      break;
    }
    failures++;
    /* CX_ENOMEM is the contract; an OOM inside cJSON's parser is reported
     * as malformed JSON today (test_allocation_failure_code) */
    assert_true(rc == CX_ENOMEM || (rc == CX_EINVAL && !strcmp(e.code, "malformed_json")));
    assert_int_equal(b.n, 0);
    ingest_batch_free(&b);
  }
  assert_true(ok);
  assert_true(failures > 0); /* the injection did reach ingest_parse */
}

static void test_allocation_failure_code(void **state) {
  (void)state;
  for (long k = 0; k < 10000; k++) {
    ingest_batch b;
    ingest_error e;
    ingest_batch_init(&b, R);
    cx_mem_fail_after(k);
    cx_err rc = ingest_parse(INGEST_BATCH, torture_body, sizeof torture_body - 1, R, &b, &e);
    cx_mem_fail_after(-1);
    ingest_batch_free(&b);
    if (rc == CX_OK) break;
    if (rc != CX_ENOMEM) print_error("allocation %ld failed: got %s\n", k, e.code);
    assert_int_equal(rc, CX_ENOMEM);
  }
}

/* ---- queued batches that stop once one fails (src/feed.c's use) ---- */

typedef struct {
  ingest_async a;
  sem_t done;
} queued;

static void queued_done(ingest_async *a) {
  if (a->job.rc) atomic_store(a->stop, 1);
  sem_post(&((queued *)a->arg)->done);
}

static cx_err queued_wait(queued *q) {
  while (sem_wait(&q->done) != 0)
    ;
  sem_destroy(&q->done);
  return ingest_async_result(&q->a);
}

static int64_t count_events(unit_stack *u) {
  sqlite3 *r = store_reader_get(u->st);
  sqlite3_stmt *st;
  int64_t n = -1;
  if (sqlite3_prepare_v2(r, "SELECT count(*) FROM events", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  store_reader_put(u->st, r);
  return n;
}

/* A stack whose events table refuses an event named Boom: its job fails
 * in the writer. */
static void open_with_boom(unit_stack *u) {
  assert_int_equal(unit_stack_open(u, "/tmp/cxm-unit-ingest-XXXXXX",
                                   "CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.name = 'Boom'"
                                   " BEGIN SELECT RAISE(ABORT, 'boom'); END;"),
                   0);
}

static void test_async_stop_after_failure(void **state) {
  (void)state;
  unit_stack u;
  /* an event named Boom cannot be stored: its batch fails in the writer */
  open_with_boom(&u);
  atomic_int failed;
  atomic_init(&failed, 0);
  const char *lines[3] = {"{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"Fine\"}",
                          "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"Boom\"}",
                          "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"Later\"}"};
  ingest_batch b[3];
  queued q[3];
  ingest_error e;
  for (int i = 0; i < 3; i++) {
    ingest_batch_init(&b[i], cx_now_ms());
    assert_int_equal(ingest_parse(INGEST_ANY, lines[i], strlen(lines[i]), b[i].received_at, &b[i], &e), CX_OK);
    assert_int_equal(sem_init(&q[i].done, 0, 0), 0);
  }
  /* the first commits; the second fails and, from its done, stops the third */
  assert_int_equal(ingest_submit_async(u.in, &b[0], 0, &q[0].a, queued_done, &q[0], &failed), CX_OK);
  assert_int_equal(queued_wait(&q[0]), CX_OK);
  assert_int_equal(ingest_submit_async(u.in, &b[1], 0, &q[1].a, queued_done, &q[1], &failed), CX_OK);
  assert_int_equal(queued_wait(&q[1]), CX_EDB);
  assert_int_equal(atomic_load(&failed), 1);
  assert_int_equal(ingest_submit_async(u.in, &b[2], 0, &q[2].a, queued_done, &q[2], &failed), CX_OK);
  assert_int_equal(queued_wait(&q[2]), CX_ESTOPPED);
  assert_int_equal(count_events(&u), 1); /* only "Fine" */
  /* without the flag the same batch is stored */
  atomic_store(&failed, 0);
  assert_int_equal(sem_init(&q[2].done, 0, 0), 0);
  assert_int_equal(ingest_submit_async(u.in, &b[2], 0, &q[2].a, queued_done, &q[2], &failed), CX_OK);
  assert_int_equal(queued_wait(&q[2]), CX_OK);
  assert_int_equal(count_events(&u), 2);
  for (int i = 0; i < 3; i++) ingest_batch_free(&b[i]);
  unit_stack_close(&u);
}

/* ---- bodies packed into blocks on the submitting thread ---- */

static int64_t q_int64(unit_stack *u, const char *sql) {
  sqlite3 *r = store_reader_get(u->st);
  sqlite3_stmt *st;
  int64_t n = -1;
  if (sqlite3_prepare_v2(r, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  store_reader_put(u->st, r);
  return n;
}

/* The stored body of the event whose messageId is mid: equals want when
 * whole, else contains it. */
static void check_body(unit_stack *u, const char *mid, const char *want, size_t want_len, int whole) {
  sqlite3 *r = store_reader_get(u->st);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(r, "SELECT seq FROM events WHERE mid_hash = ?1", -1, &st, NULL), SQLITE_OK);
  sqlite3_bind_int64(st, 1, (sqlite3_int64)cx_hash64(0x6d6964, mid, strlen(mid)));
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int64_t seq = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  store_body_reader *br;
  assert_int_equal(store_body_reader_open(r, &br), CX_OK);
  const char *got;
  size_t n;
  assert_int_equal(store_body_read(br, seq, &got, &n), CX_OK);
  assert_non_null(got);
  if (whole ? n != want_len || memcmp(got, want, n) : !memmem(got, n, want, want_len))
    fail_msg("seq %lld holds %.*s", (long long)seq, (int)n, got);
  store_body_reader_close(br);
  store_reader_put(u->st, r);
}

static void stored_body_is(unit_stack *u, const char *mid, const char *want, size_t want_len) {
  check_body(u, mid, want, want_len, 1);
}

static void submit_lines(unit_stack *u, ingest_batch *b, const char *const *mids, int n) {
  ingest_error e;
  ingest_batch_init(b, cx_now_ms());
  for (int i = 0; i < n; i++) {
    char line[512];
    snprintf(line, sizeof line,
             "{\"type\":\"track\",\"messageId\":\"%s\",\"userId\":\"u1\",\"event\":\"Product Viewed\","
             "\"properties\":{\"category\":\"jackets\",\"note\":\"the same words, the same words, the same words\"}}",
             mids[i]);
    assert_int_equal(ingest_parse(INGEST_ANY, line, strlen(line), b->received_at, b, &e), CX_OK);
  }
  assert_int_equal(ingest_submit(u->in, b, 0), CX_OK);
}

/* The body stored under the seq of messageId mid contains mid. */
static void body_has_mid(unit_stack *u, const char *mid) {
  char want[64];
  snprintf(want, sizeof want, "\"messageId\":\"%s\"", mid);
  check_body(u, mid, want, strlen(want), 0);
}

static cx_err submit_named(unit_stack *u, int from, int n, int dup_at, int boom_at) {
  ingest_batch b;
  ingest_error e;
  ingest_batch_init(&b, cx_now_ms());
  for (int i = from; i < from + n; i++) {
    char line[256];
    snprintf(line, sizeof line, "{\"type\":\"track\",\"messageId\":\"m%d\",\"userId\":\"u%d\",\"event\":\"%s\"}",
             i == dup_at ? from : i, i % 7, i == boom_at ? "Boom" : "Fine");
    assert_int_equal(ingest_parse(INGEST_ANY, line, strlen(line), b.received_at, &b, &e), CX_OK);
  }
  cx_err rc = ingest_submit(u->in, &b, 0);
  ingest_batch_free(&b);
  return rc;
}

/* Events rows go in 64 at a time with the seqs the writer hands out: the
 * seqs run on without gaps, each row's seq is its body's, and after a
 * rolled-back job the next event gets the seq after the log's newest. */
static void test_event_rows(void **state) {
  (void)state;
  unit_stack u;
  open_with_boom(&u);
  /* 150 messages, the 71st a repeat of the first: 149 stored */
  assert_int_equal(submit_named(&u, 0, 150, 70, -1), CX_OK);
  assert_int_equal(q_int64(&u, "SELECT count(*) FROM events"), 149);
  assert_int_equal(q_int64(&u, "SELECT min(seq) FROM events"), 1);
  assert_int_equal(q_int64(&u, "SELECT max(seq) FROM events"), 149);
  const char *mids[] = {"m0", "m63", "m64", "m69", "m71", "m128", "m149"};
  for (size_t i = 0; i < sizeof mids / sizeof *mids; i++) body_has_mid(&u, mids[i]);
  /* a job that fails in its 81st row (in the second 64) stores nothing */
  assert_int_equal(submit_named(&u, 1000, 100, -1, 1080), CX_EDB);
  assert_int_equal(q_int64(&u, "SELECT count(*) FROM events"), 149);
  /* the next one goes on from 150 */
  assert_int_equal(submit_named(&u, 2000, 10, -1, -1), CX_OK);
  assert_int_equal(q_int64(&u, "SELECT min(seq) FROM events WHERE seq > 149"), 150);
  assert_int_equal(q_int64(&u, "SELECT max(seq) FROM events"), 159);
  body_has_mid(&u, "m2000");
  body_has_mid(&u, "m2009");
  unit_stack_close(&u);
}

static cx_arena plain_arena; /* jparse frees nothing: its trees go in an arena */
static void *plain_alloc(size_t n) { return cx_arena_alloc(&plain_arena, n); }

/* jparse says "plain" exactly for the texts cx_json_write writes back as
 * they are; ingest then stores such a message's text with its added
 * members after it, and the body is what writing the tree gives. */
static void test_plain_text(void **state) {
  (void)state;
  static const struct {
    const char *text;
    int plain;
  } cases[] = {
      {"{\"type\":\"track\",\"event\":\"A\",\"properties\":{\"price\":175.08,\"n\":12,\"x\":-0.5,"
       "\"ok\":true,\"no\":null,\"l\":[1,2,\"b\"]}}", 1},
      {"{}", 1},
      {"{\"a\":999999999999999}", 1},
      {"{\"a\":0.000001}", 1},
      {"{ \"a\":1}", 0},         /* whitespace */
      {"{\"a\":1}\n", 0},         /* after the value */
      {"{\"a\":\"\\u00e9\"}", 0},  /* an escape */
      {"{\"a\":\"\\/\"}", 0},      /* another */
      {"{\"a\":\"x\ty\"}", 0},      /* a raw control character */
      {"{\"a\":2.50}", 0},        /* cx_json_write writes 2.5 */
      {"{\"a\":1.0}", 0},         /* 1 */
      {"{\"a\":007}", 0},         /* 7 */
      {"{\"a\":-0}", 0},          /* 0 */
      {"{\"a\":1e3}", 0},         /* 1000 */
      {"{\"a\":0.0000001}", 0},   /* 1e-07 */
      {"{\"a\":1234567890.5}", 0},/* %.15g */
      {"\xEF\xBB\xBF{\"a\":1}", 0},
  };
  cx_arena_init(&plain_arena, 1 << 20);
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const char *t = cases[i].text, *end = NULL;
    int plain = -1;
    cJSON *tree = ingest_json_parse(t, strlen(t), &end, plain_alloc, &plain);
    assert_non_null(tree);
    if (plain != cases[i].plain) fail_msg("%s: plain %d", t, plain);
    if (plain) {
      cx_buf b;
      cx_buf_init(&b, 1 << 20);
      assert_int_equal(cx_json_write(&b, tree), CX_OK);
      assert_int_equal(b.len, strlen(t));
      assert_memory_equal(b.p, t, b.len);
      cx_buf_free(&b);
    }
  }
  cx_arena_free(&plain_arena);
  /* stored: the text as sent, then what ingest adds (originalTimestamp,
   * receivedAt, messageId), as writing the normalised tree gives it; a
   * text that is not plain is stored as that tree writes */
  static const struct {
    const char *line, *stored_prefix;
  } lines[] = {
      {"{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"A\",\"properties\":{\"p\":1.5},"
       "\"timestamp\":\"2024-01-01T00:00:52.291Z\"}",
       "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"A\",\"properties\":{\"p\":1.5},"
       "\"timestamp\":\"2024-01-01T00:00:52.291Z\",\"originalTimestamp\":\"2024-01-01T00:00:52.291Z\","
       "\"receivedAt\":\"2024-05-01T12:00:00.123Z\",\"messageId\":\""},
      {"{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"A\",\"properties\":{\"p\":1.50},"
       "\"timestamp\":\"2024-01-01T00:00:52Z\",\"writeKey\":\"k\"}",
       "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"A\",\"properties\":{\"p\":1.5},"
       "\"timestamp\":\"2024-01-01T00:00:52.000Z\",\"originalTimestamp\":\"2024-01-01T00:00:52Z\","
       "\"receivedAt\":\"2024-05-01T12:00:00.123Z\",\"messageId\":\""},
      {"{\"userId\":\"u1\",\"type\":\"identify\",\"traits\":{\"a\":1,\"a\":2}}",
       "{\"userId\":\"u1\",\"type\":\"identify\",\"traits\":{\"a\":1},"
       "\"timestamp\":\"2024-05-01T12:00:00.123Z\",\"receivedAt\":\"2024-05-01T12:00:00.123Z\",\"messageId\":\""},
  };
  for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
    ingest_batch b;
    ingest_error e;
    ingest_batch_init(&b, 1714564800123LL);
    assert_int_equal(ingest_parse(INGEST_ANY, lines[i].line, strlen(lines[i].line), b.received_at, &b, &e), CX_OK);
    assert_int_equal(b.n, 1);
    size_t n = strlen(lines[i].stored_prefix);
    if (b.msgs[0].body_len < n || memcmp(b.msgs[0].body, lines[i].stored_prefix, n))
      fail_msg("stored %s", b.msgs[0].body);
    ingest_batch_free(&b);
  }
}

static void test_packed_bodies(void **state) {
  (void)state;
  unit_stack u;
  assert_int_equal(unit_stack_open(&u, "/tmp/cxm-unit-ingest-XXXXXX", NULL), 0);
  /* three new messages: their chunk is stored whole, packed */
  const char *first[3] = {"m1", "m2", "m3"};
  ingest_batch a;
  submit_lines(&u, &a, first, 3);
  assert_int_equal(a.nchunks, 1);
  assert_int_equal(q_int64(&u, "SELECT count(*) FROM event_blocks"), 1);
  assert_int_equal(q_int64(&u, "SELECT n FROM event_blocks"), 3);
  assert_int_equal(q_int64(&u, "SELECT hex(substr(data, 1, 4)) = '4C5A3431' FROM event_blocks"), 1);
  for (int i = 0; i < 3; i++) stored_body_is(&u, first[i], a.msgs[i].body, a.msgs[i].body_len);
  /* a duplicate among them: the chunk is not stored as packed; the writer
   * builds a block of the two new bodies */
  const char *second[3] = {"m4", "m2", "m5"};
  ingest_batch b;
  submit_lines(&u, &b, second, 3);
  assert_int_equal(b.msgs[1].duplicate, 1);
  assert_int_equal(b.msgs[1].seq, 0);
  assert_int_equal(q_int64(&u, "SELECT count(*) FROM events"), 5);
  assert_int_equal(q_int64(&u, "SELECT count(*) FROM event_blocks"), 2);
  assert_int_equal(q_int64(&u, "SELECT n FROM event_blocks ORDER BY first_seq DESC LIMIT 1"), 2);
  stored_body_is(&u, "m4", b.msgs[0].body, b.msgs[0].body_len);
  stored_body_is(&u, "m5", b.msgs[2].body, b.msgs[2].body_len);
  stored_body_is(&u, "m2", a.msgs[1].body, a.msgs[1].body_len); /* the first one's */
  /* lines added to a batch after it was packed: packed again, all stored */
  ingest_error e;
  const char *more = "{\"type\":\"track\",\"messageId\":\"m6\",\"userId\":\"u1\",\"event\":\"Later\"}";
  assert_int_equal(ingest_parse(INGEST_ANY, more, strlen(more), a.received_at, &a, &e), CX_OK);
  assert_int_equal(ingest_submit(u.in, &a, 0), CX_OK);
  assert_int_equal(a.chunks[a.nchunks - 1].first + a.chunks[a.nchunks - 1].n, 4);
  assert_int_equal(q_int64(&u, "SELECT count(*) FROM events"), 6);
  stored_body_is(&u, "m6", a.msgs[3].body, a.msgs[3].body_len);
  ingest_batch_free(&a);
  ingest_batch_free(&b);
  unit_stack_close(&u);
}

/* An argument runs only the tests whose names match it (cmocka's filter). */
int main(int argc, char **argv) {
  if (argc > 1) cmocka_set_test_filter(argv[1]);
  ingest_global_init();
  if (cx_crypto_init()) return 1;
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_identify_normalised),
      T(test_each_endpoint_type),
      T(test_email_sources),
      T(test_numeric_ids_become_strings),
      T(test_unsafe_integer_id),
      T(test_message_id_assigned),
      T(test_timestamp_without_sent_at),
      T(test_clock_skew_correction),
      T(test_batch_sent_at),
      T(test_skew_out_of_range),
      T(test_import_received_at),
      T(test_batch_context_merge),
      T(test_batch_types_and_prefix),
      T(test_failed_parse_appends_nothing),
      T(test_error_codes_and_fields),
      T(test_field_lengths),
      T(test_trailing_garbage),
      T(test_repeated_write_key),
      T(test_thrice_repeated_write_key),
      T(test_batch_count_limit),
      T(test_body_size_limits),
      T(test_stored_size_limit),
      T(test_message_size_as_sent),
      T(test_batch_item_measured_as_written),
      T(test_nesting_limit),
      T(test_nesting_limit_with_values),
      T(test_allocation_failures),
      T(test_allocation_failure_code),
      cmocka_unit_test(test_async_stop_after_failure),
      cmocka_unit_test(test_packed_bodies),
      cmocka_unit_test(test_plain_text),
      cmocka_unit_test(test_event_rows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
