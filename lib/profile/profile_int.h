/* profile_int.h - private to the profile module. */
#ifndef CX_PROFILE_INT_H
#define CX_PROFILE_INT_H
#include "profile.h"
#include <pthread.h>

typedef struct {
  /* what a scan over every customer reads comes first */
  int64_t parent;    /* == own id unless merged */
  profile_point *tl; /* sorted by (ts, seq) ascending once settled; owned unless in_slab */
  int64_t first_seen, last_seen;
  uint32_t n, cap;
  uint32_t sorted; /* tl[0..sorted) is in order; the rest awaits settle() */
  uint32_t dirty : 1;   /* while listed in profile.dirty */
  uint32_t in_slab : 1; /* tl lies in profile.slab (not owned): copy it out to grow */
  int64_t next_member; /* ring of the customers merged into one root */
  uint64_t uid_hash; /* hash of the user id it holds; 0 = none */
  /* it (or a customer merged into it: roots only) holds an e-mail. Not a
   * bit-field: the identity loader sets it while the timeline loader
   * writes the bit-fields above, on another thread */
  uint8_t has_email;
} profile_customer;

typedef struct {
  uint64_t hash; /* 0 = empty slot */
  int64_t customer;
  char *key; /* type byte + value + NUL, in the key arena */
} profile_slot;

/* An interned event kind: (message type, name). */
typedef struct {
  uint64_t hash;
  int type;
  const char *name; /* in the key arena; "" for none */
} profile_kind;

typedef struct profile_chunk {
  struct profile_chunk *next;
  size_t used, cap;
  char data[];
} profile_chunk;

/* postings.c: who did a kind when */
typedef struct {
  int64_t ts;
  int64_t cust; /* the customer it was filed under (map to the root) */
} profile_posting;
typedef struct {
  int built, failed;
  profile_posting *e; /* [0, nb) bucketed by day; [nb, n) the tail, as appended */
  size_t n, nb, cap;
  uint32_t *off; /* [ndays + 1]: day d's entries are e[off[d] .. off[d + 1]) */
  int64_t day0;
  uint32_t ndays;
} profile_postings;

/* kindcounts.c: events of one kind per customer id */
#define PROFILE_KIND_COUNTS 8
typedef struct {
  uint32_t kind;
  uint32_t max; /* the largest of n[] */
  uint32_t *n;  /* [ids]: events filed under each id (all times); owned */
  size_t ids;
} profile_kind_tally;

struct profile {
  pthread_rwlock_t lock;
  pthread_mutex_t post_mu; /* guards post among readers (the writer has the write lock) */
  profile_postings *post;  /* [kind], built on first use */
  profile_stages *stages;  /* the lifecycle stage model; NULL: the defaults (stage.c) */
  uint32_t npost;
  profile_kind_tally kcount[PROFILE_KIND_COUNTS]; /* kindcounts.c, built when asked */
  uint32_t nkcount;
  profile_customer *cust; /* indexed by id; [0] unused */
  uint64_t *roots; /* bit per id (capcust bits), set while cust[id].parent == id: the
                    * kinds' index maps most ids to their root without the record */
  int64_t ncust, capcust;
  profile_slot *slots;
  size_t nslots, nused;
  profile_chunk *keys;       /* identity keys */
  profile_chunk *kind_names; /* event kind names (kept apart: loaded on another thread) */
  profile_point *slab; /* the timelines built at load, exactly sized, one block */
  uint64_t merged, events;
  uint64_t holes; /* ids with no customers row (erased, lib/privacy): parent 0, no times */
  int64_t first_ts, last_ts; /* the oldest and newest event times; CX_NO_TIME when none */
  profile_kind *kinds; /* [1..nkinds]; [0] unused */
  uint32_t nkinds, capkinds;
  uint32_t *kind_slots; /* open addressing: index into kinds, 0 = empty */
  uint32_t nkind_slots;
  /* [writer appends, readers copy] a ring of the customers the writer
   * changed (events, traits, identities, merges: both sides), for
   * consumers that keep derived state current (segments) */
  int64_t *changes; /* PROFILE_CHANGES entries, allocated on first use */
  uint64_t changes_head; /* entries ever appended; the ring holds the last PROFILE_CHANGES */
  uint64_t changes_published; /* entries committed to the store: readers see up to here */
  int64_t *dirty; /* [writer] customers with an unsorted tail */
  size_t ndirty, capdirty;
  sqlite3 *stmt_db; /* the connection the statements below belong to */
  sqlite3_stmt *ins_customer, *ins_identity, *set_merged, *ins_merge, *upsert_trait,
      *ins_account, *upsert_account_trait, *ins_membership;
  cx_buf tval; /* [writer] a trait's value as JSON text, reused */
};

#define PROFILE_CHANGES (1u << 16)
/* [writer] Notes that customer id changed: what is 0 (an event, an
 * identity) or PROFILE_CHANGED_TRAITS (its traits may differ: set, or
 * merged with another's). */
void profile_changed(profile *p, int64_t id, int64_t what);

/* postings.c */
void profile_postings_free(profile *p);
/* [writer] an event of kind at ts, filed under cust */
void profile_postings_note(profile *p, uint32_t kind, int64_t ts, int64_t cust);

/* kindcounts.c */
void profile_kind_counts_free(profile *p);
/* [writer] an event of kind filed under cust */
void profile_kind_counts_note(profile *p, uint32_t kind, int64_t cust);

/* [writer, or a load] The kind of (type, name), added when new. */
cx_err profile_kind_intern(profile *p, int type, const char *name, uint32_t *out);

/* snapshot.c: during a load, files the points of the timelines snapshot
 * (when there is a valid one) as rows (rowc: root customer, rowp: point;
 * at most max, counted in *n) and interns its kinds; *snap_seq = the
 * newest event it covers. Returns 1 when used; 0 (logged unless there is
 * no snapshot) when the log must be scanned from the start. */
int profile_snapshot_load(profile *p, sqlite3 *db, const uint32_t *root, uint32_t *rowc,
                          profile_point *rowp, size_t max, size_t *n, int64_t *snap_seq);


/* Root of id's merge tree; 0 for an unknown id. Callers hold the lock
 * (read or write); the writer also shortens chains (find_root_w). */
static inline int64_t profile_root(const profile *p, int64_t id) {
  if (id <= 0 || id > p->ncust || !p->cust[id].parent) return 0;
  while (p->cust[id].parent != id) id = p->cust[id].parent;
  return id;
}

/* profile_root, without reading the record of an id that is a root. */
static inline int64_t profile_root_quick(const profile *p, int64_t id) {
  if (id > 0 && id <= p->ncust && (p->roots[id >> 6] >> (id & 63) & 1)) return id;
  return profile_root(p, id);
}

#endif
