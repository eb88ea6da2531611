/* privacy.h - what cxm holds about one person, for the GDPR's right of
 * access (docs/privacy.md). */
#ifndef CX_PRIVACY_H
#define CX_PRIVACY_H
#include <sqlite3.h>
#include <stdint.h>
#include "../base/buf.h"
#include "../base/err.h"
#include "../store/store.h"
#include "../analytics/analytics.h"
#include <cjson/cJSON.h>

#define PRIVACY_EXPORT_MAX (256u << 20) /* bytes of one export */
#define PRIVACY_COMPACT_TRIES 20         /* of 1 s each: emptying the WAL after an erasure */

/* Writes into out one JSON document of everything the store holds about
 * customer (the canonical id) and every profile merged into it: the
 * profiles, identities, traits, group memberships, every event as
 * stored, survey responses with their verbatims, survey invitations and
 * opt-outs, and cases with their notes when the cases table exists.
 * Reads through db (a reader connection; one transaction, so the parts
 * agree). CX_ENOTFOUND when no such customer, CX_ETOOBIG past
 * PRIVACY_EXPORT_MAX. */
cx_err privacy_export(sqlite3 *db, int64_t customer, int64_t now_ms, cx_buf *out);

/* What an erasure needs from the modules that keep derived state. Both
 * run on the writer thread, inside the erasure's transaction. */
typedef struct {
  /* drop one response's scores at the commit (feedback_forget_response) */
  cx_err (*forget_responses)(void *ctx, int64_t response);
  /* rebuild the indexes built from the log, from db (profile_rebuild) */
  cx_err (*rebuild)(void *ctx, sqlite3 *db);
  void *ctx;
} privacy_erase_ctx;
typedef struct {
  int64_t profiles, events, identities, traits, responses, invitations, mails, cases;
  int compacted; /* the file was rewritten and the WAL emptied */
} privacy_erase_counts;
/* Erases customer (the canonical id) and every profile merged into it:
 * events, identities, traits, memberships, merges, survey responses and
 * verbatims, invitations, the mails to them, opt-outs, cases with their
 * notes and history. Then VACUUM and a TRUNCATE checkpoint leave no copy
 * in the files. CX_ENOTFOUND when there is no such customer. Blocks the
 * writer for the rebuild and the VACUUM (docs/privacy.md). */
cx_err privacy_erase(store *st, int64_t customer, const privacy_erase_ctx *ctx, privacy_erase_counts *out);

/* VACUUM (an exclusive writer job) and a TRUNCATE checkpoint from a
 * connection of its own: no copy of deleted rows stays in the files.
 * 1 when the WAL could be emptied. */
int privacy_compact(store *st);

/* ---- retention (retention.c) ---- */
#define PRIVACY_RETENTION_MIN_DAYS 1
#define PRIVACY_RETENTION_EVERY_MS (24LL * 3600 * 1000) /* a run a day */
typedef struct {
  int64_t events_days;  /* 0: keep events for ever */
  int64_t last_run_at;  /* ms; 0: never */
  int64_t last_deleted; /* events the last run deleted */
} privacy_retention;
cx_err privacy_retention_get(store *st, privacy_retention *out);
cx_err privacy_retention_json(const privacy_retention *r, cx_buf *out);
/* {"events_days": N | null}; CX_EINVAL with err. */
cx_err privacy_retention_set(store *st, const cJSON *req, privacy_retention *out, analytics_error *err);
/* Deletes the events older than the policy's days at now (all but the
 * newest event), rebuilds through ctx, then compacts the files. Nothing
 * without a policy. *deleted: events deleted. */
cx_err privacy_retention_run(store *st, int64_t now, const privacy_erase_ctx *ctx, int64_t *deleted);
/* A thread that runs the policy when a day has passed since the last run,
 * looking every tick_ms (0: an hour). ctx must outlive it. */
typedef struct privacy_retention_thread privacy_retention_thread;
cx_err privacy_retention_start(store *st, const privacy_erase_ctx *ctx, int64_t tick_ms, privacy_retention_thread **out);
void privacy_retention_stop(privacy_retention_thread *t);

#endif
