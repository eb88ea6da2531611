/* profile.h - customers, identities, traits and timelines.
 *
 * The store holds the record (customers, identities, traits, merges,
 * accounts, memberships). This module keeps derived, in-memory indexes
 * rebuilt at start: identity -> customer, the merge forest (a merged
 * customer points at its survivor), and each customer's timeline of
 * (timestamp, event seq) sorted by time.
 *
 * Threads: functions marked [writer] run on the store's writer thread inside
 * a transaction and must be bracketed by profile_write_begin/end, which
 * hold the module's write lock. Functions marked [reader] may be called
 * from any thread; they take the read lock themselves. */
#ifndef CX_PROFILE_H
#define CX_PROFILE_H
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include "../base/buf.h"
#include "../base/err.h"
#include "../base/time.h"
#include <cjson/cJSON.h>

typedef struct profile profile;

enum { PROFILE_USER_ID = 1, PROFILE_ANONYMOUS_ID = 2, PROFILE_EMAIL = 3 };
#define PROFILE_ID_MAX 255 /* bytes in one identity value */

/* Builds the indexes from db. */
cx_err profile_open(sqlite3 *db, profile **out);
void profile_close(profile *p);
/* Saves the timelines next to db's file ("<file>-timelines") so that the
 * next profile_open reads them and scans only the log after them. Call at
 * a clean stop, when every applied event is committed and no writer runs.
 * CX_EIO if it could not be written (the next start scans the log). */
cx_err profile_save(profile *p, sqlite3 *db);
/* Rebuilds the indexes from db (after a rolled-back group). On failure the
 * old indexes stay and the error is returned. */
cx_err profile_rebuild(profile *p, sqlite3 *db);

/* The identities one message carries. Pointers are borrowed; a NULL or
 * empty value means absent. */
typedef struct {
  const char *user_id, *anonymous_id, *email, *previous_id;
  /* profile_id_hash of user_id and of anonymous_id when the caller has
   * it (ingest's parsing thread computes it), else 0 */
  uint64_t user_hash, anonymous_hash;
  const char *message_id; /* recorded on merges */
  const char *reason;     /* recorded on merges: the message type (required) */
  int64_t ts;             /* event time */
} profile_ids;

/* [writer] A hint for a run of messages: starts loading what resolving
 * these ids will read, so that it is in the cache by then. Shallow: the
 * ids' hash slots. Deep (a few messages later, the slots loaded): the
 * keys and customers they point at. Reads nothing it needs to be right. */
void profile_prefetch_ids(profile *p, uint64_t user_hash, uint64_t anonymous_hash, int deep);
/* [any thread] The hash an id of that type (PROFILE_USER_ID…) is looked
 * up by: what profile_ids.user_hash and anonymous_hash hold, and the
 * prefetch takes (0 there: no id). */
uint64_t profile_id_hash(int type, const char *v, size_t n);
void profile_write_begin(profile *p);
void profile_write_end(profile *p);
/* [writer] Finds or creates the customer of ids, merging customers the
 * message proves to be one person (the older survives) unless they hold
 * different user ids. Writes identities, customers and merges rows. */
cx_err profile_resolve(profile *p, sqlite3 *db, const profile_ids *ids, int64_t now,
                       int64_t *out_customer);
/* [writer] Upserts each top-level member of the traits object
 * as a trait of customer, unless a newer value is stored. */
cx_err profile_set_traits(profile *p, sqlite3 *db, int64_t customer, const cJSON *traits,
                          int64_t ts);
/* [writer] Records group membership and account traits (B2B). */
cx_err profile_group(profile *p, sqlite3 *db, int64_t customer, const char *group_id,
                     const cJSON *traits, int64_t ts, int64_t now);
/* [writer] Adds event seq at ts to the customer's timeline: its message
 * type (ingest's numbering, 1..255), its name (the track event or the
 * page/screen name; NULL when none; copied) and the source it came from. */
cx_err profile_note_event(profile *p, int64_t customer, int64_t seq, int64_t ts, int type,
                          const char *name, int64_t source);

/* [reader] The customer that id has become (itself unless merged); 0 when
 * there is no such customer. */
int64_t profile_canonical(profile *p, int64_t id);
/* [reader] Customer holding the identity; 0 when none. */
int64_t profile_find(profile *p, int type, const char *value, size_t n);

typedef struct {
  int64_t first_seen, last_seen; /* CX_NO_TIME when no events */
  uint64_t event_count;
} profile_summary;
cx_err profile_get_summary(profile *p, int64_t id, profile_summary *out);

/* One event on a timeline. kind is the interned (type, name) pair of the
 * event (profile_kind); kinds are numbered from 1 and live as long as the
 * profile. */
typedef struct {
  int64_t ts, seq;
  uint32_t kind;
  uint32_t source;
} profile_point;

/* What a timeline is filtered by; 0 / NULL match everything. */
typedef struct {
  int type;
  const char *name;
  int64_t source;
} profile_filter;

/* [reader] Copies up to max points of the timeline of canonical customer
 * id that match f (NULL: all), newest first, strictly before
 * (before_ts, before_seq) when before_seq > 0. Returns how many were
 * written. */
size_t profile_timeline(profile *p, int64_t id, int64_t before_ts, int64_t before_seq,
                        const profile_filter *f, profile_point *out, size_t max);

/* A read section: between profile_read_begin and profile_read_end the
 * writer is held off, and the functions below marked [section] may be
 * called without locking, from the caller's thread or from threads it
 * runs and joins inside the section (analytics scans in parallel). A
 * section must not call the locking [reader] functions. */
void profile_read_begin(profile *p);
void profile_read_end(profile *p);
/* [section] The highest customer id (ids are dense from 1). */
int64_t profile_max_id(const profile *p);
/* [section] The root of id's merge tree; 0 for an unknown id. */
int64_t profile_root_of(const profile *p, int64_t id);
/* [section] The settled timeline of id, sorted by (ts, seq), when id is a
 * root customer; NULL (and *n = 0) for a merged or unknown id. Borrowed:
 * valid until the section ends. */
const profile_point *profile_points(const profile *p, int64_t id, size_t *n);
/* [section] The same, but NULL (and *n = 0) too when the customer has no
 * event in [from, to): the timeline is not touched then. */
const profile_point *profile_points_in(const profile *p, int64_t id, int64_t from, int64_t to,
                                       size_t *n);
/* [section] Sets the bits (by id, nwords words) of the root customers with
 * an event in [from, to) of a kind marked in kinds[1..profile_kind_count],
 * and returns how many were set. -1, setting nothing, when the range holds
 * more than max events of those kinds (a scan of every timeline is then
 * cheaper) or the index could not be built. Builds the kinds' index on
 * first use (one pass over the timelines), then keeps it current. */
int64_t profile_customers_with(profile *p, const uint8_t *kinds, int64_t from, int64_t to,
                               int64_t max, uint64_t *bits, size_t nwords);
/* [section] The root customers (neither merged nor erased) as a bitmap
 * over ids, *nwords words (ids past it: ask profile_root_of); NULL with
 * no customer. Kept current by the writer. Borrowed: valid until the
 * section ends. */
const uint64_t *profile_roots(profile *p, size_t *nwords);
/* [section] Asks the CPU to fetch id's timeline (its first 256 bytes) into
 * the cache: a scan calls it a few customers ahead. */
static inline void profile_prefetch(const profile_point *tl, size_t n) {
  if (!tl) return;
  size_t bytes = n * sizeof *tl;
  for (size_t b = 0; b < bytes && b < 256; b += 64) __builtin_prefetch((const char *)tl + b);
}
/* [section] Calls fn(arg, root, ts, tail) for each event in [from, to)
 * of a kind marked in kinds[] (root: its root customer): first those the
 * writer added since the kinds' index was last put in order (tail 1, in
 * no order), then the others a UTC day after the other, days ascending
 * (tail 0; a day's events in no order), so that the first call for a root
 * with tail 0 carries its earliest day, when no call with tail 1 named it.
 * Returns 0, or -1 without calling fn when the range holds more than max
 * events of those kinds or the index could not be built. */
int profile_postings_each(profile *p, const uint8_t *kinds, int64_t from, int64_t to, int64_t max,
                          void (*fn)(void *arg, int64_t root, int64_t ts, int tail), void *arg);
/* [section] Asks the CPU to fetch customer id's record (what
 * profile_points reads) into the cache: a scan over scattered ids calls it
 * some customers ahead, then profile_prefetch for the same id nearer. */
void profile_prefetch_customer(const profile *p, int64_t id);
/* [section] Adds to counts[id] (by the id each event was filed under,
 * ids < ncounts) one per event of a kind marked in kinds[] in
 * [from, to), through the kinds' index (built on first use). -1 when the
 * index could not be built (count from the timelines instead). */
int profile_count_events(profile *p, const uint8_t *kinds, int64_t from, int64_t to,
                         uint32_t *counts, size_t ncounts);
/* [section] The events of kind filed under each customer id, of all
 * times, as an array of *ids counts (ids past it: none; a root's count
 * adds its merged members', like profile_count_events), the largest in
 * *max. Built on first use, then kept by the writer. NULL when an event
 * lies after upto (the counts would include it), or more kinds are kept
 * than there is room for: count through the index instead. Borrowed:
 * valid until the section ends. */
const uint32_t *profile_kind_counts(profile *p, uint32_t kind, int64_t upto, size_t *ids,
                                    uint32_t *max);
/* [section] The next customer in the ring of those merged into id's root
 * (the root comes back after the last): a root's events may be filed
 * under its members' ids. */
int64_t profile_member_next(const profile *p, int64_t id);
/* [section] 1 when root customer id holds a user id or an e-mail. */
int profile_identified(const profile *p, int64_t id);
/* [section] Kinds are numbered 1..profile_kind_count(p). The name is ""
 * for a kind without one; borrowed, valid as long as the profile. */
uint32_t profile_kind_count(const profile *p);
const char *profile_kind_name(const profile *p, uint32_t kind, int *type);

/* The lifecycle stage model (stage.c): stages in the order their rules are
 * tried; a customer is in the first whose rule matches, or the last. */
#define PROFILE_MAX_STAGES 16
#define PROFILE_STAGE_NAME_MAX 32
typedef struct profile_stages profile_stages;
/* Compiles a model of n stages (names: lower-case letters, digits, '_';
 * rules: conditions). CX_EINVAL with the stage's index in *bad, *bad_rule
 * 1 when its rule is at fault (0: its name, or the count), and a sentence
 * in msg; CX_ENOMEM. */
cx_err profile_stages_compile(const char *const *names, const char *const *rules, size_t n,
                              profile_stages **out, size_t *bad, int *bad_rule, char *msg,
                              size_t msglen);
void profile_stages_free(profile_stages *m);
/* Makes m (taken; NULL: the defaults) the model, for every later call. */
void profile_stages_install(profile *p, profile_stages *m);
/* Installs the model saved in the meta table, when there is one. */
cx_err profile_stages_load(profile *p, sqlite3 *db);
/* Appends m as {"default":bool,"stages":[{"name","rule"}…]}: the form
 * the API answers with and the store keeps (profile_stages_load reads it). */
cx_err profile_stages_write(const profile_stages *m, cx_buf *out);
/* [reader] The model in use, written as above. */
cx_err profile_stages_json(profile *p, cx_buf *out);
/* [reader] The stage of customer id at now, into out. identified: it holds
 * a user id or an e-mail. */
void profile_stage(profile *p, int64_t id, int identified, int64_t now,
                   char out[PROFILE_STAGE_NAME_MAX + 1]);
/* [section] The stages' names, valid until the section ends. */
size_t profile_stage_names(const profile *p, const char *const **names);
/* Which kinds carry an event name, looked up once and kept between calls
 * by one thread within one read section (names are compared by pointer:
 * a rule's strings are stable); zero it before first use. */
#define PROFILE_CACHE_NAMES 16
#define PROFILE_CACHE_KINDS 4
typedef struct {
  const char *name; /* the rule's string (compared by pointer) */
  uint32_t kind[PROFILE_CACHE_KINDS];
  uint32_t nk; /* kinds with the name; above PROFILE_CACHE_KINDS: compare names */
} profile_cached_name;
typedef struct {
  profile_cached_name names[PROFILE_CACHE_NAMES];
  uint32_t n, nkinds;
} profile_name_cache;
/* [section] 1 when pt's kind is named name (through cache). */
int profile_point_named(const profile *p, profile_name_cache *cache, const profile_point *pt,
                        const char *name);
/* [section] The rules language's history over tl[0..upto) (a timeline's
 * points at or before now): count(name, window) — window_ms -1 for all
 * time — and the time of the latest event named name (CX_NO_TIME). Stage
 * rules and analytics both read a customer's history through these. */
double profile_history_count(const profile *p, profile_name_cache *cache, const profile_point *tl,
                             size_t upto, int64_t now, const char *name, int64_t window_ms);
int64_t profile_history_last(const profile *p, profile_name_cache *cache, const profile_point *tl,
                             size_t upto, const char *name);
/* [section] The stage of root customer id at now (its events at or before
 * now): an index into profile_stage_names. */
size_t profile_stage_of(const profile *p, int64_t id, int64_t now, profile_name_cache *cache);

/* [reader] Customers the writer changed since *cursor, up to the last
 * commit (an event, traits,
 * an identity, a merge; a merged customer is listed with its survivor),
 * in order, repeats possible, each id flagged with
 * PROFILE_CHANGED_TRAITS when its traits may have changed: copies up to max ids into out, advances
 * *cursor past them and returns how many. Returns PROFILE_CHANGES_LOST
 * (and moves *cursor to now) when more changed than the log holds or the
 * indexes were rebuilt, from the publish of the commit that follows (not
 * before: the store would not show it yet): the caller must look at every
 * customer. Start with *cursor = profile_changes_now(p). */
#define PROFILE_CHANGES_LOST SIZE_MAX
/* set in a listed id when the customer's traits may have changed (mask
 * it off: id & ~PROFILE_CHANGED_TRAITS) */
#define PROFILE_CHANGED_TRAITS ((int64_t)1 << 62)
uint64_t profile_changes_now(profile *p);
size_t profile_changes(profile *p, uint64_t *cursor, int64_t *out, size_t max);
/* [writer] The changes logged so far are committed: profile_changes lists
 * only published ones, so that a consumer reading the store (traits, event
 * bodies) sees what the change made. Call after each COMMIT. */
void profile_changes_publish(profile *p);

/* [reader] The customers merged into id's root, the root included (first):
 * writes up to max ids and returns how many there are. */
size_t profile_members(profile *p, int64_t id, int64_t *out, size_t max);

typedef struct {
  uint64_t customers; /* canonical (unmerged) customers */
  uint64_t merged;    /* customers merged into another */
  uint64_t identities, events;
  int64_t first_event_at, last_event_at; /* event times (timestamp); CX_NO_TIME when none */
} profile_stats;
void profile_get_stats(profile *p, profile_stats *out);

/* The overview of the dashboard: KPIs per UTC interval over [from, to)
 * and the same figures for the period of equal length before it. */
typedef struct {
  int64_t from, to; /* from is an interval start; to > from */
  cx_interval interval;
  const char *purchase; /* the track event that is a purchase */
  int purchase_type;    /* its message type (track) */
  unsigned active_types; /* bit t set: a message of type t makes a customer active */
  const char *(*type_name)(int type);
  /* source names by id (NULL or "" for ids without a name); borrowed */
  const char *const *source_names;
  size_t nsource_names;
  size_t max_buckets; /* CX_ETOOBIG when [from, to) needs more */
} profile_overview_req;
/* [reader] Appends the overview JSON object (see docs/openapi.yaml). */
cx_err profile_overview(profile *p, const profile_overview_req *q, cx_buf *out);

/* [reader] Appends the CUSTOMER JSON object of API.md for canonical id,
 * reading identities and traits through rdb. */
cx_err profile_customer_json(profile *p, sqlite3 *rdb, int64_t id, cx_buf *out);
/* [reader] Canonical customer ids > after_id, ascending, up to max, whose
 * identity or trait text contains q (all customers when q is NULL). */
size_t profile_list(profile *p, sqlite3 *rdb, const char *q, int64_t after_id, int64_t *out,
                    size_t max);
/* Normalises an email for matching: trimmed, lower-cased ASCII, into out
 * (PROFILE_ID_MAX + 1 bytes). CX_EINVAL if empty or too long. */
cx_err profile_normalise_email(const char *in, size_t n, char *out);

#endif
