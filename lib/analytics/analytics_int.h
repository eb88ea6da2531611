/* analytics_int.h - private to the analytics module: request checking,
 * the parallel scan, trait columns, the rule environment over one event,
 * and the breakdown groups shared by funnel.c, retention.c and paths.c. */
#ifndef CX_ANALYTICS_INT_H
#define CX_ANALYTICS_INT_H
#include "analytics.h"
#include "../rules/rules.h"

/* Fills err and returns CX_EINVAL (analytics_refuse, by its short name). */
#define an_fail analytics_refuse

/* Request members. Each returns CX_EINVAL (err filled) when the member is
 * present but wrong, or absent and required. */
cx_err an_get_string(const cJSON *req, const char *name, int required, const char **out,
                     analytics_error *err);
cx_err an_get_time(const cJSON *req, const char *name, int64_t *out, analytics_error *err);
/* An integer in [lo, hi]; *out keeps its value when absent. */
cx_err an_get_int(const cJSON *req, const char *name, int64_t lo, int64_t hi, int64_t *out,
                  analytics_error *err);
/* A duration such as "7d" (the rules language's), above 0, at most max_ms. */
cx_err an_get_duration(const cJSON *req, const char *name, int64_t max_ms, int64_t *out,
                       analytics_error *err);
/* Compiles a rule member; *out NULL when absent. An error names field and
 * starts its message with label (words for people: "Step 2's rule"). */
cx_err an_compile(const cJSON *item, const char *field, const char *label, rules_expr **out,
                  analytics_error *err);

/* The kinds named name (any message type): match[kind] |= bit. Returns
 * how many kinds carry the name. [section] */
size_t an_mark_kinds(const profile *p, const char *name, uint32_t *match, uint32_t bit);

/* One trait's value per root customer, loaded before the section. */
typedef struct an_trait an_trait;
typedef struct {
  an_trait *t;
  size_t n;
  sqlite3_stmt *refresh; /* an_traits_refresh's statement, on refresh_db */
  sqlite3 *refresh_db;
} an_traits;
/* Loads the traits the rules read (traits.<key>) and the key of by, when
 * by is "traits.<key>" (by may be NULL). */
cx_err an_traits_load(const analytics_ctx *c, rules_expr *const *rules, size_t nrules,
                      const char *by, an_traits *out);
void an_traits_free(an_traits *t);
/* Finalizes an_traits_refresh's statement: call before giving its reader
 * connection back (another thread may use the connection next). */
void an_traits_release(an_traits *t);

/* Adds to t the columns of the traits the rules read that t lacks,
 * loaded now (a scan of the store's traits of each such key); t's other
 * columns stay as they are. On failure t holds what it held. */
cx_err an_traits_ensure(const analytics_ctx *c, an_traits *t, rules_expr *const *rules,
                        size_t nrules);
/* The same for one key (traits.<key>). */
cx_err an_traits_ensure_key(const analytics_ctx *c, an_traits *t, const char *key);
/* 1 when t holds key's column. */
int an_traits_has(const an_traits *t, const char *key);
/* Drops key's column (when t holds it). */
void an_traits_drop(an_traits *t, const char *key);
/* The bytes t's columns hold (for /metrics and the docs' memory figures). */
size_t an_traits_bytes(const an_traits *t);
/* key's column: the value index of each root customer [0..*maxid] (0:
 * none), values 1..*nvalues, distinct (same type and text: one index);
 * NULL when t lacks key. Borrowed: valid while t is unchanged. */
const uint32_t *an_trait_column(const an_traits *t, const char *key, int64_t *maxid,
                                size_t *nvalues);
/* Value idx of key's column as the rules read it (strings borrowed from t);
 * null for idx 0. */
void an_trait_value(const an_traits *t, const char *key, uint32_t idx, rules_value *out);

/* A breakdown: each root customer's group, decided before the scan.
 * Groups are numbered 1..n (0: "(none)"); a trait's distinct values get
 * their own group up to max_keys (at most AN_MAX_KEYS), after which the
 * rest share group n + 1, "(other)". */
#define AN_MAX_KEYS 10000
typedef struct {
  int by_source; /* the group is the source of the entry event */
  const an_trait *trait;
  char **names; /* [1..n], owned */
  size_t n;
  uint32_t *of; /* trait: group per root customer [0..maxid], owned */
  int64_t maxid;
} an_groups;
/* by: NULL (no groups), "source", or "traits.<key>". CX_EINVAL (err) for
 * anything else. Call inside the section, after an_traits_load. The
 * caller's per-group state scales with max_keys: bound it. */
cx_err an_groups_init(const analytics_ctx *c, const an_traits *t, const char *by,
                      size_t max_keys, an_groups *g, analytics_error *err);
/* The group of root customer id whose entry event is pt. */
uint32_t an_group_of(const an_groups *g, int64_t id, const profile_point *pt);
static inline size_t an_group_count(const an_groups *g) { return g->n + 2; } /* + (none), (other) */
/* The display key of group k (0..n+1). */
const char *an_group_name(const an_groups *g, size_t k);
void an_groups_free(an_groups *g);
/* Folds the groups into the answer's slots: up to ANALYTICS_MAX_GROUPS
 * named groups by size (desc, then name), "(none)" when not empty, then
 * "(other)" for the rest. slot_of[group] is its slot (0-based); name[slot]
 * its key (both an_group_count entries). Returns how many slots to show
 * ("(other)" only when it holds someone); 0 when memory ran out. */
size_t an_group_slots(const an_groups *g, const uint64_t *size, uint32_t *slot_of, const char **name);

/* Counts computed ahead for a scan of every customer at one instant: for
 * each count(name, window) of the rules, the events per filed-under id
 * (a root's count sums its merged members'), from the kinds' index
 * instead of every timeline. */
typedef struct {
  const char *name; /* the rule's pointer */
  int64_t window;   /* ms; -1: all time */
  uint32_t *count;  /* [id], ncount ids; owned */
  size_t ncount;
} an_precount;
typedef struct {
  an_precount *v;
  size_t n;
  int64_t now;
} an_precounts;
/* [section] Fills out for the rules' count() calls at now; n stays 0 (and
 * the env walks timelines) when the index cannot serve, or when
 * CXM_ANALYTICS_INDEX=never. */
cx_err an_precounts_build(profile *p, rules_expr *const *rules, size_t nrules, int64_t now,
                          an_precounts *out);
void an_precounts_free(an_precounts *pc);

/* [section] Evaluates rule (about the customer, at now) for every root
 * customer over columns (columns.c) when all it reads is count() — through
 * the kinds' index — and traits of t: sets the bits (by id; nwords words
 * covering profile_max_id, zeroed by the caller) of the roots it holds for
 * and returns how many. -1, having set nothing, when it cannot (it reads
 * something else, too many distinct values, no index, or
 * CXM_ANALYTICS_INDEX=never): evaluate each customer instead. */
int64_t an_columns_match(profile *p, const an_traits *t, const rules_expr *rule, int64_t now,
                         uint64_t *bits, size_t nwords);

/* The rule environment of one event on one root customer's timeline: the
 * history functions read the timeline up to the event's time. */
typedef struct {
  const analytics_ctx *c;
  const an_traits *traits;
  store_body_reader *body; /* owned; the stored messages, opened on first use */
  cJSON *doc;         /* the current event's body, fetched on first use */
  int64_t doc_seq;
  int64_t cust;
  const profile_point *tl;
  size_t n, i;  /* i: the event (SIZE_MAX: none, a rule about the customer) */
  size_t upto;  /* the history the functions read: tl[0..upto) */
  int64_t now;
  const an_precounts *pre; /* counts computed ahead (customer mode), or NULL */
  profile_name_cache stage; /* customer.stage's event names */
  profile_name_cache names; /* the history functions' event names */
  char scratch[1024];
} an_env;
void an_env_init(an_env *e, const analytics_ctx *c, const an_traits *t);
void an_env_free(an_env *e);
/* 1 when rule (NULL: always) holds for tl[i] of customer cust. */
int an_env_match(an_env *e, const rules_expr *rule, int64_t cust, const profile_point *tl,
                 size_t n, size_t i);
/* 1 when rule holds for root customer cust at now (no event: event.*
 * reads null; the history is the events at or before now). */
int an_env_match_customer(an_env *e, const rules_expr *rule, int64_t cust, int64_t now);
/* Reloads root customer cust's values of the loaded traits (after its
 * traits or identities changed); grows the columns for new customers.
 * Call outside a read section (it reads the merge forest). */
cx_err an_traits_refresh(const analytics_ctx *c, an_traits *t, int64_t cust);

/* Runs fn(arg, part, lo, hi) over customer id ranges [lo, hi) that cover
 * 1..maxid, one per thread (threads: 1..ANALYTICS_THREADS), and joins
 * them. Ranges start at multiples of 64 (but the first), so that threads
 * setting bits of a bitmap by id never share a word. One thread when the rules read the store: the reader connection
 * is not shared between threads. */
void an_parallel(int threads, int64_t maxid,
                 void (*fn)(void *arg, int part, int64_t lo, int64_t hi), void *arg);
/* The same over the set bits of bits (ids 1..maxid; NULL: an_parallel),
 * in chunks that hold about as many set bits each (the candidates of a
 * query crowd the low ids: the earliest customers are the busiest), which
 * the threads take in turn until none is left. fn is then called several
 * times per part, with ranges in no order, and must add up what it finds
 * in one part over its calls. */
void an_parallel_bits(int threads, int64_t maxid, const uint64_t *bits,
                      void (*fn)(void *arg, int part, int64_t lo, int64_t hi), void *arg);
/* 1 when rule reads the store while it runs (event.properties and the
 * like, or sum()). */
int an_reads_store(const rules_expr *rule);

/* The candidates of a scan: the root customers with an event of a kind
 * marked in kinds[] in [from, to), as a bitmap over ids (caller frees
 * with cx_free), when the kinds' index makes finding them cheaper than
 * reading every timeline; NULL otherwise (scan everyone). The
 * environment variable CXM_ANALYTICS_INDEX=always or never forces the
 * choice (tests run both). [section] */
uint64_t *an_candidates(profile *p, const uint8_t *kinds, int64_t from, int64_t to);
/* The most index entries a query should read instead of scanning every
 * timeline (the max of profile_customers_with); -1: never use the index
 * (CXM_ANALYTICS_INDEX as above). [section] */
int64_t an_index_max(const profile *p);
/* Calls fn for each id in [lo, hi): every id, or the set bits of cand. */
#define AN_EACH(cand, lo, hi, id)                                                       \
  for (int64_t id = an_next((cand), (lo), (hi)); id < (hi); id = an_next((cand), id + 1, (hi)))
static inline int64_t an_next(const uint64_t *cand, int64_t id, int64_t hi) {
  if (!cand) return id;
  while (id < hi) {
    uint64_t w = cand[id >> 6] >> (id & 63);
    if (w) return id + __builtin_ctzll(w);
    id = (id | 63) + 1;
  }
  return hi;
}

/* AN_EACH with the memory each id leads to asked for ahead: the
 * customer's record AN_FAR ids ahead, its timeline AN_NEAR ids ahead, so
 * that the cache misses of scattered candidates overlap instead of
 * following one another. The current id is cur.id. */
#define AN_NEAR 8
#define AN_FAR 16
typedef struct {
  const profile *p;
  const uint64_t *cand;
  int64_t hi, id, near, far;
} an_cursor;
static inline void an_ahead_timeline(const profile *p, int64_t id) {
  size_t n;
  const profile_point *tl = profile_points(p, id, &n);
  profile_prefetch(tl, n);
}
static inline void an_cursor_init(an_cursor *c, const profile *p, const uint64_t *cand, int64_t lo,
                                  int64_t hi) {
  *c = (an_cursor){p, cand, hi, an_next(cand, lo, hi), 0, 0};
  c->near = c->far = c->id;
  for (int k = 0; k < AN_FAR && c->far < hi; k++, c->far = an_next(cand, c->far + 1, hi))
    profile_prefetch_customer(p, c->far);
  for (int k = 0; k < AN_NEAR && c->near < hi; k++, c->near = an_next(cand, c->near + 1, hi))
    an_ahead_timeline(p, c->near);
}
static inline void an_cursor_advance(an_cursor *c) {
  c->id = an_next(c->cand, c->id + 1, c->hi);
  if (c->far < c->hi) {
    profile_prefetch_customer(c->p, c->far);
    c->far = an_next(c->cand, c->far + 1, c->hi);
  }
  if (c->near < c->hi) {
    an_ahead_timeline(c->p, c->near);
    c->near = an_next(c->cand, c->near + 1, c->hi);
  }
}
#define AN_EACH_AHEAD(cur, p, cand, lo, hi) \
  for (an_cursor_init(&(cur), (p), (cand), (lo), (hi)); (cur).id < (hi); an_cursor_advance(&(cur)))

/* Appends x to the growing array *v (*n used of *cap; doubles). */
cx_err an_push(uint64_t **v, size_t *n, size_t *cap, uint64_t x);
/* Median of v[0..n) (reorders v); n > 0. */
double an_median(uint64_t *v, size_t n);
/* The index of the first point with ts >= t. */
size_t an_first_at(const profile_point *tl, size_t n, int64_t t);
/* The same from index lo on (lo <= n), in steps that double: cheap when
 * the answer is near lo. */
size_t an_gallop(const profile_point *tl, size_t lo, size_t n, int64_t t);
/* Appends `"took_ms":N` measured from started_ns (cx_mono_ns). */
cx_err an_took(cx_buf *out, int64_t started_ns);

#endif
