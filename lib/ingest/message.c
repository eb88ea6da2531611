/* message.c - parsing, validation and normalisation of tracking messages.
 *
 * The stored form of a message is the client's object with: type set,
 * writeKey removed, userId/anonymousId/groupId/previousId as strings,
 * messageId present (assigned when absent), timestamp corrected and
 * normalised to UTC milliseconds, originalTimestamp as the client sent it,
 * receivedAt stamped, and a batch's top-level context/integrations merged
 * in (keys of the item win). */
#include "ingest.h"
#include "jparse.h"
#include "../base/json.h"
#include "../base/mem.h"
#include "../base/time.h"
#include "../base/util.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {"batch", "identify", "track", "page",
                                         "screen", "group", "alias"};

const char *ingest_type_name(int type) {
  return type >= 0 && type <= INGEST_ALIAS ? type_names[type] : "unknown";
}

/* cJSON allocates through these. While ingest_parse runs, nodes come from
 * the batch's arena (tls_arena): a message's tree then costs a few bump
 * allocations and no frees. Every block carries a 16-byte header saying
 * where it came from, so cJSON_Delete elsewhere still frees heap blocks. */
#define FROM_HEAP 0x68656170u
#define FROM_ARENA 0x6172656eu
static _Thread_local cx_arena *tls_arena;
static _Thread_local int tls_alloc_failed; /* tells a parse error from no memory */

static void *hook_malloc(size_t n) {
  unsigned char *p = tls_arena ? cx_arena_alloc(tls_arena, n + 16) : cx_malloc(n + 16);
  if (!p) {
    tls_alloc_failed = 1;
    return NULL;
  }
  *(unsigned *)p = tls_arena ? FROM_ARENA : FROM_HEAP;
  return p + 16;
}

static void hook_free(void *ptr) {
  if (!ptr) return;
  unsigned char *p = (unsigned char *)ptr - 16;
  if (*(unsigned *)p == FROM_HEAP) cx_free(p);
}

void ingest_global_init(void) {
  cJSON_Hooks h = {hook_malloc, hook_free};
  cJSON_InitHooks(&h);
}

static cx_err fail(ingest_error *e, int status, const char *code, const char *prefix,
                   const char *field, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static cx_err fail(ingest_error *e, int status, const char *code, const char *prefix,
                   const char *field, const char *fmt, ...) {
  e->status = status;
  snprintf(e->code, sizeof e->code, "%s", code);
  if (field) snprintf(e->field, sizeof e->field, "%s%s", prefix, field);
  else snprintf(e->field, sizeof e->field, "%.*s", prefix[0] ? (int)strlen(prefix) - 1 : 0, prefix);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  return status == 413 ? CX_ETOOBIG : CX_EINVAL;
}

#define BATCH_ARENA_MAX ((size_t)1 << 30)

void ingest_batch_init(ingest_batch *b, int64_t received_at) {
  memset(b, 0, sizeof *b);
  b->received_at = received_at;
  cx_arena_init(&b->arena, BATCH_ARENA_MAX);
  cx_buf_init(&b->scratch, INGEST_MAX_STORED);
  cx_buf_init(&b->packed, 0);
}

void ingest_batch_free(ingest_batch *b) {
  /* trees and bodies are in the arena: no per-node frees */
  cx_arena_free(&b->arena);
  cx_buf_free(&b->scratch);
  cx_buf_free(&b->packed);
  cx_free(b->chunks);
  cx_free(b->msgs);
  b->msgs = NULL;
  b->chunks = NULL;
  b->n = b->cap = b->nchunks = 0;
}

size_t ingest_batch_bytes(const ingest_batch *b) { return b->arena.total; }

static int type_from_name(const char *s) {
  for (int t = INGEST_IDENTIFY; t <= INGEST_ALIAS; t++)
    if (!strcmp(s, type_names[t])) return t;
  return -1;
}

/* The members of a message that ingest reads or writes, found in one pass
 * over its keys (looking each up by name was a tenth of the ingest CPU). */
enum {
  F_TYPE, F_WRITE_KEY, F_USER_ID, F_ANONYMOUS_ID, F_MESSAGE_ID, F_CONTEXT, F_PROPERTIES,
  F_TRAITS, F_INTEGRATIONS, F_TIMESTAMP, F_ORIGINAL_TIMESTAMP, F_SENT_AT, F_RECEIVED_AT,
  F_EVENT, F_NAME, F_GROUP_ID, F_PREVIOUS_ID, F_COUNT
};
static const char *const field_names[F_COUNT] = {
    "type", "writeKey", "userId", "anonymousId", "messageId", "context", "properties",
    "traits", "integrations", "timestamp", "originalTimestamp", "sentAt", "receivedAt",
    "event", "name", "groupId", "previousId"};

typedef struct {
  cJSON *item;
  cJSON *f[F_COUNT]; /* first member with that key, or NULL */
  /* While not NULL, item is still its text (text_len bytes, borrowed: the
   * request's) with members added after `last`, the last one it had
   * (NULL: it had none): see write_body. */
  const char *text;
  size_t text_len;
  cJSON *last;
} msg_fields;

static int field_id(const char *k) {
  int cand[3] = {-1, -1, -1};
  switch (k[0]) {
  case 'a': cand[0] = F_ANONYMOUS_ID; break;
  case 'c': cand[0] = F_CONTEXT; break;
  case 'e': cand[0] = F_EVENT; break;
  case 'g': cand[0] = F_GROUP_ID; break;
  case 'i': cand[0] = F_INTEGRATIONS; break;
  case 'm': cand[0] = F_MESSAGE_ID; break;
  case 'n': cand[0] = F_NAME; break;
  case 'o': cand[0] = F_ORIGINAL_TIMESTAMP; break;
  case 'p': cand[0] = F_PROPERTIES; cand[1] = F_PREVIOUS_ID; break;
  case 'r': cand[0] = F_RECEIVED_AT; break;
  case 's': cand[0] = F_SENT_AT; break;
  case 't': cand[0] = F_TYPE; cand[1] = F_TRAITS; cand[2] = F_TIMESTAMP; break;
  case 'u': cand[0] = F_USER_ID; break;
  case 'w': cand[0] = F_WRITE_KEY; break;
  default: return -1;
  }
  for (int i = 0; i < 3 && cand[i] >= 0; i++)
    if (!strcmp(k, field_names[cand[i]])) return cand[i];
  return -1;
}

/* Indexes item's known members. A repeated known key keeps its first
 * member only: the server acts on that one, so a later copy (which a
 * JSON.parse reader would take instead) must not be stored. */
static void fields_index(cJSON *item, const char *text, size_t text_len, msg_fields *fx) {
  memset(fx, 0, sizeof *fx);
  fx->item = item;
  fx->text = text;
  fx->text_len = text_len;
  fx->last = item->child ? item->child->prev : NULL; /* a child list's head points at its last */
  for (cJSON *c = item->child, *next; c; c = next) {
    next = c->next;
    int id = c->string ? field_id(c->string) : -1;
    if (id < 0) continue;
    if (!fx->f[id]) {
      fx->f[id] = c;
    } else {
      cJSON_Delete(cJSON_DetachItemViaPointer(item, c));
      fx->text = NULL;
    }
  }
}

/* Sets member k to v (a new node), replacing the old one in place. */
static cx_err fields_set(msg_fields *fx, int k, cJSON *v) {
  if (!v) return CX_ENOMEM;
  cJSON *old = fx->f[k];
  if (old) {
    /* the text still stands when the new value writes as the old did */
    if (!cJSON_IsString(old) || !cJSON_IsString(v) || strcmp(old->valuestring, v->valuestring))
      fx->text = NULL;
    if (old == fx->last) fx->last = v;
    v->string = old->string; /* the key moves with its place */
    v->type |= old->type & cJSON_StringIsConst;
    old->string = NULL;
    cJSON_ReplaceItemViaPointer(fx->item, old, v);
  } else if (!cJSON_AddItemToObjectCS(fx->item, field_names[k], v)) {
    return CX_ENOMEM;
  }
  fx->f[k] = v;
  return CX_OK;
}

/* Makes member `key` of obj a string if it is a number; checks type and
 * length. Sets *out to the string or NULL when absent/empty. */
static cx_err id_field(msg_fields *fx, int k, const char *prefix, size_t maxlen, const char **out,
                       ingest_error *e) {
  const char *key = field_names[k];
  *out = NULL;
  cJSON *v = fx->f[k];
  if (!v || cJSON_IsNull(v)) return CX_OK;
  if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    /* beyond 2^53 a double no longer tells neighbouring integers apart */
    if (!isfinite(d) || d != floor(d) || fabs(d) >= 9007199254740992.0)
      return fail(e, 400, "invalid_field", prefix, key, "%s must be a string or an integer.", key);
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)d); /* -0 is 0 */
    cx_err rc = fields_set(fx, k, cJSON_CreateString(num));
    if (rc) return rc;
    v = fx->f[k];
  }
  if (!cJSON_IsString(v))
    return fail(e, 400, "invalid_field", prefix, key, "%s must be a string.", key);
  size_t n = strlen(v->valuestring);
  if (n > maxlen)
    return fail(e, 400, "field_too_long", prefix, key, "%s is longer than %zu bytes.", key, maxlen);
  if (n) *out = v->valuestring;
  return CX_OK;
}

static cx_err object_member(cJSON *v, const char *key, const char *prefix, cJSON **out,
                            ingest_error *e) {
  if (out) *out = NULL;
  if (!v || cJSON_IsNull(v)) return CX_OK;
  if (!cJSON_IsObject(v))
    return fail(e, 400, "invalid_field", prefix, key, "%s must be an object.", key);
  if (out) *out = v;
  return CX_OK;
}

static cx_err time_member(cJSON *v, const char *key, const char *prefix, int64_t *out, int *has,
                          ingest_error *e) {
  *has = 0;
  if (!v || cJSON_IsNull(v)) return CX_OK;
  if (!cJSON_IsString(v) || cx_time_parse(v->valuestring, strlen(v->valuestring), out))
    return fail(e, 400, "invalid_timestamp", prefix, key,
                "%s must be an ISO-8601 date-time such as 2024-05-01T12:00:00.000Z.", key);
  *has = 1;
  return CX_OK;
}

static cx_err set_time(msg_fields *fx, int k, int64_t ms) {
  /* the last time written, per thread: a batch's receivedAt is the same
   * for all its messages */
  static _Thread_local int64_t last_ms = CX_NO_TIME;
  static _Thread_local char t[CX_TIME_LEN];
  if (ms != last_ms || ms == CX_NO_TIME) {
    cx_time_format(ms, t);
    last_ms = ms;
  }
  return fields_set(fx, k, cJSON_CreateString(t));
}

/* Adds to item[key] each member of top[key] that item lacks. */
static cx_err merge_shared(msg_fields *fx, const cJSON *top, int k) {
  const cJSON *from = cJSON_GetObjectItemCaseSensitive(top, field_names[k]);
  if (!cJSON_IsObject(from)) return CX_OK;
  cJSON *to = fx->f[k];
  if (!to || cJSON_IsNull(to)) return fields_set(fx, k, cJSON_Duplicate(from, 1));
  for (const cJSON *c = from->child; c; c = c->next) {
    if (!c->string || cJSON_GetObjectItemCaseSensitive(to, c->string)) continue;
    cJSON *dup = cJSON_Duplicate(c, 1);
    if (!dup || !cJSON_AddItemToObject(to, c->string, dup)) {
      cJSON_Delete(dup);
      return CX_ENOMEM;
    }
  }
  return CX_OK;
}

/* Characters (code points) in a valid UTF-8 string. */
static size_t utf8_chars(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

/* Containers (objects, arrays) nested in v, v included; 0 for a scalar. */
static int depth_of(const cJSON *v) {
  if (!cJSON_IsObject(v) && !cJSON_IsArray(v)) return 0;
  int d = 0;
  for (const cJSON *c = v->child; c; c = c->next) {
    int k = depth_of(c);
    if (k > d) d = k;
  }
  return d + 1;
}

/* The message as stored: item written out, or while fx->text stands, that
 * text with the members added since (ahead of its closing brace), which
 * is the same bytes (jparse.h: a plain text is what cx_json_write writes)
 * without walking the tree. */
static cx_err write_body(cx_buf *b, const msg_fields *fx) {
  if (!fx->text) return cx_json_write(b, fx->item);
  cx_err rc = cx_buf_append(b, fx->text, fx->text_len - 1);
  int first = !fx->last;
  for (const cJSON *c = fx->last ? fx->last->next : fx->item->child; c && !rc; c = c->next, first = 0) {
    const char *k = c->string ? c->string : "";
    if ((!first && (rc = cx_buf_append(b, ",", 1))) || (rc = cx_buf_json_str(b, k, strlen(k))) ||
        (rc = cx_buf_append(b, ":", 1)))
      break;
    rc = cx_json_write(b, c);
  }
  if (!rc) rc = cx_buf_append(b, "}", 1);
#ifdef CX_SELFCHECK /* the test builds: the two ways agree */
  if (!rc) {
    cx_buf w;
    cx_buf_init(&w, b->max);
    if (cx_json_write(&w, fx->item) || w.len != b->len || memcmp(w.p, b->p, w.len)) {
      fprintf(stderr, "write_body: the text and the tree differ:\n%.*s\n%.*s\n", (int)b->len, b->p,
              (int)w.len, w.p ? w.p : "");
      abort();
    }
    cx_buf_free(&w);
  }
#endif
  return rc;
}

/* Validates and normalises one message; on success m owns item. text:
 * item's own text when it is plain (jparse.h), NULL for a batch item (a
 * shared context may be merged into it): the stored body is then written
 * from it. */
static cx_err one_message(int type, cJSON *item, const cJSON *top, const char *text, size_t text_len,
                          const char *prefix, int64_t received_at, int measure, cx_buf *scratch,
                          ingest_msg *m, ingest_error *e) {
  cx_err rc;
  msg_fields fx;
  int import = type == INGEST_ANY;
  memset(m, 0, sizeof *m);
  if (!cJSON_IsObject(item))
    return fail(e, 400, "not_an_object", prefix, NULL, "A message must be a JSON object.");
  if (measure) {
    /* the limit is on the message as the client sent it (a batch item's
     * own text is not at hand: it is measured by writing it out) */
    size_t max = scratch->max;
    scratch->max = INGEST_MAX_MESSAGE;
    cx_buf_reset(scratch);
    rc = cx_json_write(scratch, item);
    scratch->max = max;
    if (rc == CX_ETOOBIG)
      return fail(e, 413, "message_too_large", prefix, NULL, "A message may hold at most %d bytes.",
                  INGEST_MAX_MESSAGE);
    if (rc) return rc;
  }
  fields_index(item, text, text_len, &fx);
  cJSON *tv = fx.f[F_TYPE];
  if (type == INGEST_BATCH || type == INGEST_ANY) {
    if (!tv) return fail(e, 400, "missing_field", prefix, "type", "type is required in a batch.");
    if (!cJSON_IsString(tv))
      return fail(e, 400, "invalid_field", prefix, "type", "type must be a string.");
    type = type_from_name(tv->valuestring);
    if (type < 0)
      return fail(e, 400, "unknown_type", prefix, "type",
                  "type must be identify, track, page, screen, group or alias.");
  } else if ((rc = fields_set(&fx, F_TYPE, cJSON_CreateStringReference(type_names[type])))) {
    return rc;
  }
  m->type = type;
  if (fx.f[F_WRITE_KEY]) { /* never stored (repeats went in fields_index) */
    cJSON_Delete(cJSON_DetachItemViaPointer(item, fx.f[F_WRITE_KEY]));
    fx.f[F_WRITE_KEY] = NULL;
    fx.text = NULL;
  }
  if ((rc = id_field(&fx, F_USER_ID, prefix, PROFILE_ID_MAX, &m->user_id, e)) ||
      (rc = id_field(&fx, F_ANONYMOUS_ID, prefix, PROFILE_ID_MAX, &m->anonymous_id, e)))
    return rc;
  if (!m->user_id && !m->anonymous_id)
    return fail(e, 400, "missing_identity", prefix, "userId",
                "Every message needs a userId or an anonymousId.");
  cJSON *mid = fx.f[F_MESSAGE_ID];
  if (mid && !cJSON_IsNull(mid)) {
    if (!cJSON_IsString(mid))
      return fail(e, 400, "invalid_field", prefix, "messageId", "messageId must be a string.");
    if (utf8_chars(mid->valuestring) > INGEST_MAX_MESSAGE_ID)
      return fail(e, 400, "field_too_long", prefix, "messageId",
                  "messageId is longer than %d characters.", INGEST_MAX_MESSAGE_ID);
    if (!mid->valuestring[0]) mid = NULL;
  } else {
    mid = NULL;
  }
  cJSON *ctx, *props, *traits;
  if ((rc = object_member(fx.f[F_CONTEXT], "context", prefix, &ctx, e)) ||
      (rc = object_member(fx.f[F_PROPERTIES], "properties", prefix, &props, e)) ||
      (rc = object_member(fx.f[F_TRAITS], "traits", prefix, &traits, e)) ||
      (rc = object_member(fx.f[F_INTEGRATIONS], "integrations", prefix, NULL, e)))
    return rc;
  if (ctx && (rc = object_member(cJSON_GetObjectItemCaseSensitive(ctx, "traits"), "traits", prefix,
                                 NULL, e))) {
    snprintf(e->field, sizeof e->field, "%scontext.traits", prefix);
    return rc;
  }
  int64_t ts_ms = 0, ots_ms = 0, sent_ms = 0;
  int has_ts, has_ots, has_sent;
  if ((rc = time_member(fx.f[F_TIMESTAMP], "timestamp", prefix, &ts_ms, &has_ts, e)) ||
      (rc = time_member(fx.f[F_ORIGINAL_TIMESTAMP], "originalTimestamp", prefix, &ots_ms, &has_ots,
                        e)) ||
      (rc = time_member(fx.f[F_SENT_AT], "sentAt", prefix, &sent_ms, &has_sent, e)))
    return rc;
  if (!has_sent && top) {
    /* a batch's top-level sentAt covers its items */
    if ((rc = time_member(cJSON_GetObjectItemCaseSensitive(top, "sentAt"), "sentAt", "", &sent_ms,
                          &has_sent, e)))
      return rc;
  }
  /* An imported line is history: its own receivedAt (kept) is the base of
   * the clock-skew correction; without one, its timestamp stands as is. */
  int64_t base = received_at, rcv_ms = 0;
  int has_rcv = 0;
  if (import) {
    if ((rc = time_member(fx.f[F_RECEIVED_AT], "receivedAt", prefix, &rcv_ms, &has_rcv, e)))
      return rc;
    if (has_rcv) base = rcv_ms;
    else has_sent = 0;
  }
  /* type-specific fields */
  cJSON *name = NULL;
  switch (type) {
  case INGEST_TRACK:
    name = fx.f[F_EVENT];
    if (!name || cJSON_IsNull(name))
      return fail(e, 400, "missing_field", prefix, "event", "A track call needs an event name.");
    if (!cJSON_IsString(name) || !name->valuestring[0])
      return fail(e, 400, "invalid_field", prefix, "event", "event must be a non-empty string.");
    break;
  case INGEST_PAGE:
  case INGEST_SCREEN:
    name = fx.f[F_NAME];
    if (name && !cJSON_IsNull(name) && !cJSON_IsString(name))
      return fail(e, 400, "invalid_field", prefix, "name", "name must be a string.");
    if (!cJSON_IsString(name)) name = NULL;
    break;
  case INGEST_GROUP:
    if ((rc = id_field(&fx, F_GROUP_ID, prefix, PROFILE_ID_MAX, &m->group_id, e))) return rc;
    if (!m->group_id)
      return fail(e, 400, "missing_field", prefix, "groupId", "A group call needs a groupId.");
    break;
  case INGEST_ALIAS:
    if ((rc = id_field(&fx, F_PREVIOUS_ID, prefix, PROFILE_ID_MAX, &m->previous_id, e)))
      return rc;
    if (!m->previous_id)
      return fail(e, 400, "missing_field", prefix, "previousId",
                  "An alias call needs a previousId.");
    if (!m->user_id)
      return fail(e, 400, "missing_field", prefix, "userId", "An alias call needs a userId.");
    break;
  }
  if (name) {
    if (strlen(name->valuestring) > INGEST_MAX_NAME)
      return fail(e, 400, "field_too_long", prefix, name->string, "%s is longer than %d bytes.",
                  name->string, INGEST_MAX_NAME);
    m->name = name->valuestring;
  }
  if (type == INGEST_TRACK && m->name && !strcmp(m->name, INGEST_CONSENT_EVENT)) {
    const cJSON *purpose = props ? cJSON_GetObjectItemCaseSensitive(props, "purpose") : NULL;
    const cJSON *granted = props ? cJSON_GetObjectItemCaseSensitive(props, "granted") : NULL;
    size_t n = cJSON_IsString(purpose) ? strlen(purpose->valuestring) : 0;
    int ok = n >= 1 && n <= 40;
    for (size_t i = 0; ok && i < n; i++) {
      char ch = purpose->valuestring[i];
      ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
    }
    if (!ok)
      return fail(e, 400, "invalid_field", prefix, "properties.purpose",
                  "A Consent Updated event names its purpose in properties.purpose: 1 to 40 of a-z, 0-9 and '_', such as \"survey\".");
    if (!cJSON_IsBool(granted))
      return fail(e, 400, "invalid_field", prefix, "properties.granted",
                  "A Consent Updated event says in properties.granted whether consent is given: true or false.");
  }
  /* e-mail: identify/group traits, else context.traits */
  const cJSON *email_src = (type == INGEST_IDENTIFY) ? traits : NULL;
  if (!email_src && ctx) email_src = cJSON_GetObjectItemCaseSensitive(ctx, "traits");
  const cJSON *email = email_src ? cJSON_GetObjectItemCaseSensitive(email_src, "email") : NULL;
  if (cJSON_IsString(email) && email->valuestring[0]) {
    if (strlen(email->valuestring) > PROFILE_ID_MAX)
      return fail(e, 400, "field_too_long", prefix,
                  type == INGEST_IDENTIFY ? "traits.email" : "context.traits.email",
                  "The e-mail is longer than %d bytes.", PROFILE_ID_MAX);
    m->email = email->valuestring;
  }
  if (type == INGEST_IDENTIFY || type == INGEST_GROUP) {
    /* a repeated trait keeps its first value, in the profile and here */
    for (cJSON *t = traits ? traits->child : NULL, *next; t; t = next) {
      next = t->next;
      if (t->string && cJSON_GetObjectItemCaseSensitive(traits, t->string) != t) {
        cJSON_Delete(cJSON_DetachItemViaPointer(traits, t));
        fx.text = NULL;
      }
    }
    m->traits = traits;
  }
  if (top && ((rc = merge_shared(&fx, top, F_CONTEXT)) ||
              (rc = merge_shared(&fx, top, F_INTEGRATIONS))))
    return rc;
  /* after the merge: a batch's shared context is part of what is stored */
  if (depth_of(item) > INGEST_MAX_DEPTH)
    return fail(e, 400, "too_deep", prefix, NULL,
                "A message may nest objects and arrays at most %d deep.", INGEST_MAX_DEPTH);
  /* time: corrected for the client's clock when sentAt says how far off */
  int64_t client = has_ots ? ots_ms : ts_ms;
  int has_client = has_ots || has_ts;
  m->ts = !has_client ? base : has_sent ? base - (sent_ms - client) : client;
  /* a sentAt far from the client's time can push the correction out of the
   * years a timestamp can be written in */
  if (m->ts < CX_TIME_MIN || m->ts > CX_TIME_MAX)
    return fail(e, 400, "invalid_timestamp", prefix, has_sent ? "sentAt" : has_ots ? "originalTimestamp" : "timestamp",
                "The time falls outside the years 1000 to 9999 (after the correction for sentAt, if any).");
  if (has_ts && !has_ots) {
    if ((rc = fields_set(&fx, F_ORIGINAL_TIMESTAMP, cJSON_Duplicate(fx.f[F_TIMESTAMP], 0))))
      return rc;
  }
  if ((rc = set_time(&fx, F_TIMESTAMP, m->ts)) ||
      (rc = set_time(&fx, F_RECEIVED_AT, has_rcv ? rcv_ms : received_at)))
    return rc;
  if (!mid) {
    char uuid[37];
    cx_uuid4(uuid);
    if ((rc = fields_set(&fx, F_MESSAGE_ID, cJSON_CreateString(uuid)))) return rc;
    mid = fx.f[F_MESSAGE_ID];
  }
  m->message_id = mid->valuestring;
  m->mid_hash = cx_hash64(0x6d6964, m->message_id, strlen(m->message_id));
  if (m->user_id) m->user_hash = profile_id_hash(PROFILE_USER_ID, m->user_id, strlen(m->user_id));
  if (m->anonymous_id)
    m->anonymous_hash = profile_id_hash(PROFILE_ANONYMOUS_ID, m->anonymous_id, strlen(m->anonymous_id));
  /* written into a per-thread scratch buffer, then copied into the arena */
  cx_buf_reset(scratch);
  rc = write_body(scratch, &fx);
  if (rc) {
    if (rc != CX_ETOOBIG) return rc;
    return fail(e, 413, "message_too_large", prefix, NULL,
                "Once normalised (with any shared batch context) the message passes %d bytes.",
                INGEST_MAX_STORED);
  }
  m->body = cx_arena_alloc(tls_arena, scratch->len + 1);
  if (!m->body) return CX_ENOMEM;
  memcpy(m->body, scratch->p, scratch->len + 1);
  m->body_len = scratch->len;
  m->item = item;
  return CX_OK;
}

static cx_err batch_reserve(ingest_batch *b, size_t extra) {
  if (b->n + extra <= b->cap) return CX_OK;
  size_t cap = b->cap ? b->cap * 2 : 16;
  while (cap < b->n + extra) cap *= 2;
  ingest_msg *m = cx_realloc(b->msgs, cap * sizeof *m);
  if (!m) return CX_ENOMEM;
  b->msgs = m;
  b->cap = cap;
  return CX_OK;
}

cx_err ingest_batch_reserve(ingest_batch *b, size_t n) { return batch_reserve(b, n > b->n ? n - b->n : 0); }

static cx_err parse(int type, const char *body, size_t len, int64_t received_at, ingest_batch *out,
                    ingest_error *e);

cx_err ingest_parse(int type, const char *body, size_t len, int64_t received_at, ingest_batch *out,
                    ingest_error *e) {
  cx_arena *saved = tls_arena;
  tls_arena = &out->arena;
  cx_err rc = parse(type, body, len, received_at, out, e);
  tls_arena = saved;
  return rc;
}

/* Runs with tls_arena set: every tree node lives in out's arena, so
 * nothing here frees JSON (cJSON_Delete would be a walk of no-ops). */
static cx_err parse(int type, const char *body, size_t len, int64_t received_at, ingest_batch *out,
                    ingest_error *e) {
  memset(e, 0, sizeof *e);
  size_t limit = type == INGEST_BATCH ? INGEST_MAX_BATCH : INGEST_MAX_MESSAGE;
  if (len > limit)
    return fail(e, 413, type == INGEST_BATCH ? "batch_too_large" : "message_too_large", "", NULL,
                "The body holds %zu bytes; the limit is %zu.", len, limit);
  if (!cx_utf8_valid(body, len))
    return fail(e, 400, "invalid_utf8", "", NULL, "The body is not valid UTF-8.");
  const char *end = NULL;
  tls_alloc_failed = 0;
  /* The tree may take a bounded multiple of the text: a body of tiny values
   * ("0,0,0,…") would otherwise cost ~40 bytes of nodes per byte. (What
   * normalising adds afterwards is bounded per message and per batch.) */
  size_t max = out->arena.max, cap = out->arena.total + 16 * len + (256 << 10);
  if (cap < max) out->arena.max = cap;
  out->arena.limited = 0;
  int plain = 0;
  cJSON *root = ingest_json_parse(body, len, &end, hook_malloc, &plain); /* cJSON's parser, faster: jparse.h */
  out->arena.max = max;
  if (!root && tls_alloc_failed && out->arena.limited)
    return fail(e, 413, "too_complex", "", NULL,
                "The body holds too many JSON values for its size; send fewer or larger values.");
  if (!root && tls_alloc_failed) return CX_ENOMEM;
  if (root) {
    /* one JSON value only: whatever follows it would be silently lost */
    while (end && end < body + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
      end++;
    if (end && end < body + len)
      return fail(e, 400, "malformed_json", "", NULL,
                  "The body holds more than one JSON value (extra text at byte %zu).",
                  (size_t)(end - body));
  }
  if (!root) {
    if (!end) return CX_ENOMEM;
    return fail(e, 400, "malformed_json", "", NULL, "The body is not valid JSON (at byte %zu).",
                end >= body ? (size_t)(end - body) : 0);
  }
  if (!cJSON_IsObject(root))
    return fail(e, 400, "not_an_object", "", NULL, "The body must be a JSON object.");
  cx_err rc = CX_OK;
  const cJSON *wk = cJSON_GetObjectItemCaseSensitive(root, "writeKey");
  if (wk && !cJSON_IsNull(wk)) {
    if (!cJSON_IsString(wk) || strlen(wk->valuestring) >= sizeof out->write_key)
      return fail(e, 400, "invalid_field", "", "writeKey", "writeKey must be a short string.");
    snprintf(out->write_key, sizeof out->write_key, "%s", wk->valuestring);
  }
  size_t start = out->n;
  if (type != INGEST_BATCH) {
    if ((rc = batch_reserve(out, 1))) goto fail;
    if ((rc = one_message(type, root, NULL, plain ? body : NULL, len, "", received_at, 0, &out->scratch,
                          &out->msgs[out->n], e)))
      goto fail;
    out->n++;
    return CX_OK; /* root is now owned by the message */
  }
  if ((rc = object_member(cJSON_GetObjectItemCaseSensitive(root, "context"), "context", "", NULL, e)) ||
      (rc = object_member(cJSON_GetObjectItemCaseSensitive(root, "integrations"), "integrations", "",
                          NULL, e)))
    goto fail;
  cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "batch");
  if (!items) {
    rc = fail(e, 400, "missing_field", "", "batch", "The body needs a batch array.");
    goto fail;
  }
  if (!cJSON_IsArray(items)) {
    rc = fail(e, 400, "invalid_field", "", "batch", "batch must be an array.");
    goto fail;
  }
  size_t count = (size_t)cJSON_GetArraySize(items);
  if (count > INGEST_MAX_COUNT) {
    rc = fail(e, 400, "batch_too_many", "", "batch",
              "A batch may hold at most %d messages; this one has %zu.", INGEST_MAX_COUNT, count);
    goto fail;
  }
  if ((rc = batch_reserve(out, count))) goto fail;
  size_t i = 0, stored = 0;
  while (items->child) {
    cJSON *item = cJSON_DetachItemViaPointer(items, items->child);
    char prefix[32], digits[24];
    size_t nd = 0, k = 6;
    for (size_t v = i++; nd == 0 || v; v /= 10) digits[nd++] = (char)('0' + v % 10);
    memcpy(prefix, "batch[", 6); /* by hand: snprintf per item showed in profiles */
    while (nd) prefix[k++] = digits[--nd];
    memcpy(prefix + k, "].", 3);
    rc = one_message(INGEST_BATCH, item, root, NULL, 0, prefix, received_at, len > INGEST_MAX_MESSAGE,
                     &out->scratch, &out->msgs[out->n], e);
    if (rc) goto fail;
    /* a shared context is copied into every item: bound what one request
     * may write, not only what it may send */
    stored += out->msgs[out->n].body_len;
    out->n++;
    if (stored > INGEST_MAX_BATCH_STORED) {
      rc = fail(e, 413, "batch_too_large", "", NULL,
                "With the batch's shared context merged into each message, the batch passes %d "
                "bytes.",
                INGEST_MAX_BATCH_STORED);
      goto fail;
    }
  }
  return CX_OK;
fail:
  out->n = start; /* their memory stays in the arena until the batch is freed */
  return rc;
}
