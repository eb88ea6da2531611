/* ingest.h - tracking-API messages: parse, validate, normalise, dedupe,
 * and hand them to the store's writer.
 *
 * Flow: ingest_parse turns one request body into an ingest_batch of
 * normalised messages or an ingest_error naming the problem and the field
 * (nothing is kept of a rejected body). ingest_submit queues the batch for
 * the writer thread and returns once it is committed (or failed): only then
 * may the caller answer 200. */
#ifndef CX_INGEST_H
#define CX_INGEST_H
#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "../base/arena.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../profile/profile.h"
#include "../store/store.h"

#define INGEST_MAX_MESSAGE (32 * 1024)   /* bytes per message, as sent */
#define INGEST_MAX_STORED (64 * 1024)    /* bytes per message once normalised */
#define INGEST_MAX_BATCH_STORED (2 * INGEST_MAX_BATCH) /* per request, normalised */
#define INGEST_MAX_BATCH (500 * 1024)    /* bytes per request, after gunzip */
#define INGEST_MAX_COUNT 2500            /* messages per batch */
#define INGEST_MAX_MESSAGE_ID 100
#define INGEST_MAX_NAME 255              /* event and page names */
/* A track event with this name records consent: properties.purpose (1 to
 * 40 of a-z, 0-9, '_') and properties.granted (true/false) set the trait
 * "<purpose>_consent" at the event's time (docs/privacy.md). */
#define INGEST_CONSENT_EVENT "Consent Updated"
#define INGEST_MAX_DEPTH 64              /* nesting of objects and arrays */

typedef enum {
  INGEST_BATCH = 0, /* /v1/batch: each item carries its type */
  INGEST_IDENTIFY,
  INGEST_TRACK,
  INGEST_PAGE,
  INGEST_SCREEN,
  INGEST_GROUP,
  INGEST_ALIAS,
  INGEST_ANY /* one message that carries its type (import lines) */
} ingest_type;

const char *ingest_type_name(int type);

/* Why a body was rejected: HTTP status, a snake_case code, one sentence,
 * and the JSON path of the field at fault (empty when none). */
typedef struct {
  int status;
  char code[40];
  char message[256];
  char field[128];
} ingest_error;

/* One normalised message. Its JSON tree (item) and stored text (body) live
 * in the batch's arena; the string pointers point into item. */
typedef struct {
  int type;
  cJSON *item;
  char *body;
  size_t body_len;
  const char *user_id, *anonymous_id, *email, *previous_id, *group_id, *name, *message_id;
  const cJSON *traits; /* identify/group traits; NULL if none */
  int64_t ts;
  uint64_t mid_hash;
  /* profile_id_hash of user_id and anonymous_id (0: absent), computed
   * while parsing so that the writer does not */
  uint64_t user_hash, anonymous_hash;
  int duplicate; /* set by the writer when messageId was seen */
  /* what the module that built this message attached to it for its
   * listener (never set by parsing: SDK messages carry none); borrowed */
  void *attach;
  int64_t source; /* the source it came through; 0: the batch's */
  int64_t seq;    /* set by the writer: the event's seq; 0 for a duplicate */
} ingest_msg;

/* Messages msgs[first .. first + n) whose bodies are one block's data,
 * packed[at .. at + len) (store_block_build). */
typedef struct {
  size_t first, at, len;
  uint32_t n;
} ingest_chunk;

typedef struct {
  ingest_msg *msgs;
  size_t n, cap;
  cx_arena arena; /* the messages' JSON trees and bodies */
  cx_buf scratch; /* where a body is written before it is copied to the arena */
  char write_key[128]; /* from the body; empty when absent */
  int64_t received_at;
  /* the bodies packed into blocks by ingest_submit*, on the caller's
   * thread, so that the writer only stores them; none when packing
   * failed (the writer then builds the blocks itself) */
  ingest_chunk *chunks; /* owned */
  size_t nchunks;
  cx_buf packed;
} ingest_batch;

/* One-time set-up (cJSON allocation hooks). */
void ingest_global_init(void);
/* Parses body[0..len) received at received_at for endpoint `type`,
 * appending its messages to out (which may already hold messages: import
 * gathers lines). On error nothing is appended and err says why. */
cx_err ingest_parse(int type, const char *body, size_t len, int64_t received_at, ingest_batch *out,
                    ingest_error *err);
void ingest_batch_init(ingest_batch *b, int64_t received_at);
/* Makes room for n messages in all (a caller that knows its batch size
 * saves the array's regrowth). CX_ENOMEM. */
cx_err ingest_batch_reserve(ingest_batch *b, size_t n);
void ingest_batch_free(ingest_batch *b); /* frees the messages; b can be reused after init */
/* Bytes the batch's arena holds (import flushes batches by size too). */
size_t ingest_batch_bytes(const ingest_batch *b);

typedef struct ingest ingest;

/* Builds the profile indexes (profile_open) and loads the messageId window
 * and the sources, in parallel. The caller owns *pr_out (profile_close after
 * ingest_close). Call before ingest_start. */
cx_err ingest_open(store *st, profile **pr_out, ingest **out);
/* Starts the store's writer thread with ingest's rollback handling. */
cx_err ingest_start(ingest *in, size_t max_queue);
void ingest_close(ingest *in);
/* Saves the messageId window next to the database ("<file>-dedupe") so
 * that the next ingest_open reads it and scans only the log after it.
 * Call at a clean stop, with the writer stopped. */
cx_err ingest_save(ingest *in);

/* The listener of messages built by another module (survey responses):
 * on_message runs on the writer thread, inside the group's transaction,
 * for each new (not duplicate) message whose attach is set, with the
 * customer it resolved to and the event's seq; an error rolls back the
 * group. after_commit and after_rollback follow every group. Set it once,
 * before ingest_start. */
typedef struct {
  cx_err (*on_message)(void *ctx, sqlite3 *db, ingest_msg *m, int64_t customer, int64_t seq);
  void (*after_commit)(void *ctx);
  void (*after_rollback)(void *ctx);
  void *ctx;
} ingest_listener;
void ingest_listen(ingest *in, const ingest_listener *l);

/* Commits batch as coming from source_id. CX_OK once on disk; CX_EFULL
 * (queue full), CX_ESTOPPED (shutting down) or CX_EDB otherwise, in which
 * case nothing of the batch is stored. Duplicates are marked and skipped. */
cx_err ingest_submit(ingest *in, ingest_batch *batch, int64_t source_id);

/* The asynchronous form, for an event loop: the caller owns p (and batch)
 * until done(p) has been called, on the store's writer or syncer thread,
 * with the store's lock held: done must only wake the caller. The caller
 * then calls ingest_async_result. A non-zero return means nothing was
 * queued and done will not be called. stop (may be NULL): when it is
 * non-zero by the time the writer comes to the batch, the batch is not
 * applied and ends with CX_ESTOPPED (its group rolls back), so that a
 * caller with several batches queued can stop the later ones once an
 * earlier one failed (its done can set p->stop: it runs before the writer
 * takes the next group). */
typedef struct ingest_async ingest_async;
struct ingest_async {
  store_job job; /* first */
  ingest *in;
  ingest_batch *batch;
  int64_t source_id;
  void (*done)(ingest_async *p);
  void *arg;                /* the caller's */
  atomic_int *stop;         /* the caller's; may be NULL */
};
cx_err ingest_submit_async(ingest *in, ingest_batch *batch, int64_t source_id, ingest_async *p,
                           void (*done)(ingest_async *p), void *arg, atomic_int *stop);
/* What ingest_submit would have returned; counts the batch in the stats. */
cx_err ingest_async_result(ingest_async *p);

/* Sources: a source is a channel with its own write key (kept hashed). */
/* 1 when name is 1..63 letters, digits, spaces, '-', '_' or '.'. */
int ingest_source_name_valid(const char *name);
/* The source whose key is key[0..n), compared in constant time. */
cx_err ingest_source_auth(ingest *in, const char *key, size_t n, int64_t *out_source);
/* Creates a source; writes its new key (shown once) into key_out (64 bytes). */
cx_err ingest_source_create(ingest *in, const char *name, int64_t *out_id, char key_out[64]);
/* Id of the source called name, creating it without a key when missing. */
cx_err ingest_source_ensure(ingest *in, const char *name, int64_t *out_id);
/* Names of the sources by id: *out holds *n pointers (index = id, NULL
 * where there is no source) into one block the caller frees (cx_free).
 * Ids from INGEST_MAX_SOURCE_ID on are left out. */
#define INGEST_MAX_SOURCE_ID 65536
cx_err ingest_source_names(ingest *in, const char ***out, size_t *n);
/* Appends [{"id":…,"name":…,"created_at":…}…] of all sources. */
cx_err ingest_sources_json(ingest *in, cx_buf *out);

typedef struct {
  uint64_t events, duplicates, batches;
  size_t dedupe_ids;
} ingest_stats;
void ingest_get_stats(ingest *in, ingest_stats *out);

#endif
