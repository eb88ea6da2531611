/* fuzz_ingest.c - libFuzzer driver for ingest_parse, the parser of every
 * tracking request body.
 *
 * Input: byte 0 picks the endpoint (value % 8: INGEST_BATCH..INGEST_ANY, so
 * the seeds can start with the digits '0'..'7'); the rest is the body.
 *
 * The batch handed to ingest_parse already holds one message, as it does
 * when `cxm import` gathers lines: a failed parse must leave it untouched.
 *
 * Checked on success, for every new message: a body of at most
 * INGEST_MAX_STORED bytes that parses back as a JSON object whose type,
 * messageId, timestamp and receivedAt are what the struct says; a messageId
 * of 1..INGEST_MAX_MESSAGE_ID characters; a userId or an anonymousId; the fields
 * each type requires. On failure: status 400 with CX_EINVAL or 413 with
 * CX_ETOOBIG, a code and a message.
 * Also: writeKey is never stored, and the stored timestamp reads back as
 * the message's ts. */
#include "../lib/base/time.h"
#include "../lib/base/util.h"
#include "../lib/ingest/ingest.h"
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECEIVED_AT 1714564800123LL /* 2024-05-01T12:00:00.123Z */

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_ingest: invariant broken: %s\n", what);
    abort();
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  ingest_global_init();
  if (cx_crypto_init()) abort();
  return 0;
}

static const char *member_string(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int str_eq(const char *a, const char *b) { return a && b && !strcmp(a, b); }

static size_t utf8_chars(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

static void check_message(const ingest_msg *m, int endpoint) {
  check(m->type >= INGEST_IDENTIFY && m->type <= INGEST_ALIAS, "type in range");
  check(m->item != NULL, "item owned");
  check(m->body != NULL, "body present");
  check(m->body_len == strlen(m->body), "body_len is strlen(body)");
  check(m->body_len <= INGEST_MAX_STORED, "body within INGEST_MAX_STORED");
  check(cx_utf8_valid(m->body, m->body_len), "body is UTF-8");

  check(m->message_id && m->message_id[0], "messageId present");
  check(utf8_chars(m->message_id) <= INGEST_MAX_MESSAGE_ID, "messageId <= 100 characters");
  check(m->mid_hash == cx_hash64(0x6d6964, m->message_id, strlen(m->message_id)),
        "mid_hash is the hash of messageId");
  check((m->user_id && m->user_id[0]) || (m->anonymous_id && m->anonymous_id[0]),
        "userId or anonymousId");
  if (m->user_id) check(strlen(m->user_id) <= PROFILE_ID_MAX, "userId length");
  if (m->anonymous_id) check(strlen(m->anonymous_id) <= PROFILE_ID_MAX, "anonymousId length");
  if (m->email) check(m->email[0] && strlen(m->email) <= PROFILE_ID_MAX, "email length");
  switch (m->type) {
  case INGEST_TRACK:
    check(m->name && m->name[0] && strlen(m->name) <= INGEST_MAX_NAME, "track has an event");
    break;
  case INGEST_PAGE:
  case INGEST_SCREEN:
    if (m->name) check(strlen(m->name) <= INGEST_MAX_NAME, "page name length");
    break;
  case INGEST_GROUP:
    check(m->group_id && m->group_id[0], "group has a groupId");
    break;
  case INGEST_ALIAS:
    check(m->previous_id && m->previous_id[0] && m->user_id, "alias has previousId and userId");
    break;
  default:
    break;
  }
  if (m->type != INGEST_IDENTIFY && m->type != INGEST_GROUP) check(!m->traits, "traits only for identify/group");

  cJSON *doc = cJSON_ParseWithLength(m->body, m->body_len);
  check(doc != NULL, "body parses as JSON");
  check(cJSON_IsObject(doc), "body is an object");
  check(str_eq(member_string(doc, "type"), ingest_type_name(m->type)), "body type");
  check(str_eq(member_string(doc, "messageId"), m->message_id), "body messageId");
  char t[CX_TIME_LEN];
  cx_time_format(m->ts, t);
  check(str_eq(member_string(doc, "timestamp"), t), "body timestamp is m->ts");
  const char *rcv = member_string(doc, "receivedAt");
  int64_t rcv_ms = 0;
  check(rcv && cx_time_parse(rcv, strlen(rcv), &rcv_ms) == CX_OK, "body receivedAt parses");
  if (endpoint != INGEST_ANY) check(rcv_ms == RECEIVED_AT, "receivedAt stamped"); /* import keeps its own */
  check(cJSON_GetObjectItemCaseSensitive(doc, "originalTimestamp") ||
            !cJSON_GetObjectItemCaseSensitive(m->item, "originalTimestamp"),
        "originalTimestamp kept");
  /* ids sent as numbers are stored as strings under their own names */
  if (m->user_id) check(str_eq(member_string(doc, "userId"), m->user_id), "body userId");
  if (m->anonymous_id)
    check(str_eq(member_string(doc, "anonymousId"), m->anonymous_id), "body anonymousId");
  if (m->group_id) check(str_eq(member_string(doc, "groupId"), m->group_id), "body groupId");
  if (m->previous_id)
    check(str_eq(member_string(doc, "previousId"), m->previous_id), "body previousId");
  check(!cJSON_GetObjectItemCaseSensitive(doc, "writeKey"), "writeKey is never stored");
  int64_t back = 0;
  const char *ts = member_string(doc, "timestamp");
  check(ts && cx_time_parse(ts, strlen(ts), &back) == CX_OK && back == m->ts,
        "body timestamp reads back as m->ts");
  cJSON_Delete(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int type = data[0] % 8;
  const char *body = (const char *)data + 1;
  size_t len = size - 1;

  ingest_batch batch;
  ingest_error err;
  ingest_batch_init(&batch, RECEIVED_AT);
  static const char first[] = "{\"userId\":\"seed\",\"messageId\":\"m-0\",\"traits\":{\"a\":1}}";
  cx_err rc = ingest_parse(INGEST_IDENTIFY, first, sizeof first - 1, RECEIVED_AT, &batch, &err);
  check(rc == CX_OK && batch.n == 1, "the fixed first message parses");
  char *first_body = malloc(batch.msgs[0].body_len + 1);
  check(first_body != NULL, "malloc");
  memcpy(first_body, batch.msgs[0].body, batch.msgs[0].body_len + 1);

  memset(&err, 0x5a, sizeof err); /* ingest_parse must set every field it reports */
  rc = ingest_parse(type, body, len, RECEIVED_AT, &batch, &err);
  if (rc == CX_OK) {
    check(batch.n >= 1, "count");
    if (type != INGEST_BATCH) check(batch.n == 2, "one message per non-batch body");
    else check(batch.n - 1 <= INGEST_MAX_COUNT, "at most INGEST_MAX_COUNT");
    for (size_t i = 1; i < batch.n; i++) {
      check_message(&batch.msgs[i], type);
      if (type != INGEST_BATCH && type != INGEST_ANY)
        check(batch.msgs[i].type == type, "endpoint type wins");
    }
  } else {
    check(rc == CX_EINVAL || rc == CX_ETOOBIG, "rc is EINVAL or ETOOBIG");
    check((rc == CX_EINVAL && err.status == 400) || (rc == CX_ETOOBIG && err.status == 413),
          "status matches rc");
    check(memchr(err.code, 0, sizeof err.code) && err.code[0], "error code");
    check(memchr(err.message, 0, sizeof err.message) && err.message[0], "error message");
    check(memchr(err.field, 0, sizeof err.field) != NULL, "error field terminated");
    check(batch.n == 1, "nothing appended on failure");
  }
  /* the message that was there before is untouched either way */
  check(batch.msgs[0].body_len == strlen(first_body) && !strcmp(batch.msgs[0].body, first_body),
        "earlier message untouched");
  free(first_body);
  ingest_batch_free(&batch);
  return 0;
}
