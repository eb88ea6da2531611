/* store.h - the system of record: one SQLite database in WAL mode.
 *
 * A data directory holds cxm.db (plus its -wal/-shm files) and cxm.lock. One
 * process at a time owns a directory (an exclusive flock on cxm.lock).
 *
 * Threads: the writer connection belongs to the writer thread once
 * store_writer_start has run (before that, to the thread that opened the
 * store). Every mutation is a store_job submitted to that thread, which
 * applies queued jobs in one transaction (group commit); a job that
 * completes with CX_OK is on disk.
 * Readers borrow connections from a small pool.
 *
 * Durability: COMMIT writes the WAL (synchronous=NORMAL) and a syncer
 * thread fdatasyncs it; a job completes with CX_OK only after that sync. */
#ifndef CX_STORE_H
#define CX_STORE_H
#include <semaphore.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include "../base/buf.h"
#include "../base/err.h"

typedef struct store store;

/* Opens (creating when `create`) DIR/cxm.db, takes the directory lock and
 * runs pending migrations. CX_EBUSY when another process holds the lock,
 * CX_ENOTFOUND when the database is missing and !create. */
cx_err store_open(const char *dir, int create, store **out);
/* Stops the writer if it runs, then closes everything. NULL is fine. */
void store_close(store *s);
/* After store_writer_stop: folds the WAL into the database file and
 * empties it (what store_close does, which then has nothing left to do),
 * through the store's checkpoint connection, so that another thread may
 * read through the writer connection meanwhile. Nothing after a failure:
 * the WAL is then what recovery replays. */
cx_err store_checkpoint(store *s);
/* The writer connection: see the threading note above. */
sqlite3 *store_db(store *s);
/* Schema version after migrations. */
int store_schema_version(store *s);

/* Borrow a read-only connection (blocks while all are lent); give it back
 * with store_reader_put. */
sqlite3 *store_reader_get(store *s);
void store_reader_put(store *s, sqlite3 *db);

/* A unit of work for the writer thread. The submitter owns the job and must
 * keep it alive until store_wait returns. */
typedef struct store_job store_job;
struct store_job {
  /* Runs on the writer thread inside the group's transaction. Returning an
   * error rolls back the whole group. */
  cx_err (*apply)(store_job *job, sqlite3 *db);
  size_t weight; /* counts against the queue bound (e.g. messages) */
  /* When set, the job runs alone and outside any transaction (after the
   * group before it has committed, before any job after it): for
   * statements that cannot run in one, such as VACUUM. It completes once
   * the WAL it wrote is synced. A failure fails only this job. */
  int exclusive;
  /* When set, the job is asynchronous: instead of posting sem, the store
   * calls on_done(job) once the job is complete (rc and done set), on the
   * writer or syncer thread and with the store's lock held, so on_done must
   * not call into the store; it must be quick (a wake-up). The job may be
   * freed as soon as on_done has been called; store_wait is not used. */
  void (*on_done)(store_job *job);
  /* set by the writer */
  cx_err rc;
  int done;
  store_job *next;
  sem_t sem; /* posted when done; store_submit sets it up, store_wait ends it */
};

typedef struct {
  size_t max_queue;  /* total weight that may wait; beyond it submit says CX_EFULL */
  size_t max_group;  /* weight applied per transaction (soft) */
  int wal_bound_frames; /* see writer.c; 0: the default (16,384 frames: 128 MiB of 8 KiB pages) */
  /* Called on the writer thread after a group was rolled back, so that
   * derived in-memory state can be rebuilt from the store. An error puts
   * the store in the failed state (below). May be NULL. */
  cx_err (*after_rollback)(void *ctx, sqlite3 *db);
  /* Called on the writer thread right after a group's COMMIT (readers can
   * see it from now on; it may not be synced yet). May be NULL. */
  void (*after_commit)(void *ctx);
  void *ctx;
} store_writer_cfg;

cx_err store_writer_start(store *s, const store_writer_cfg *cfg);
/* Queues job. CX_EFULL when the queue bound would be passed, CX_ESTOPPED once
 * stopping has begun, the failure once the store has failed; in all these
 * cases the job was not queued. */
cx_err store_submit(store *s, store_job *job);
/* Blocks until the writer has finished job; returns job->rc. Call it
 * exactly once for every job that store_submit accepted. */
cx_err store_wait(store *s, store_job *job);
/* submit + wait. */
cx_err store_run(store *s, store_job *job);
/* store_run of a job that calls fn(ctx, db) on the writer thread, inside
 * the group's transaction; weight 0 counts as 1. */
cx_err store_run_fn(store *s, cx_err (*fn)(void *ctx, sqlite3 *db), void *ctx, size_t weight);
/* CX_OK, or why the store stopped taking writes: a WAL fdatasync failed
 * (CX_EIO: what was written may not be on disk, and Linux may have dropped
 * the pages), or derived state could not be rebuilt after a rollback. Like
 * PostgreSQL after a failed fsync, only a restart (which recovers from the
 * WAL) clears it. */
cx_err store_failed(store *s);
/* Lets every queued job finish, then joins the writer thread. */
void store_writer_stop(store *s);

typedef struct {
  uint64_t commits, committed_weight, rollbacks;
  uint64_t commit_ns_total; /* time in COMMIT (writing the WAL), summed */
  uint64_t syncs, sync_ns_total; /* WAL fdatasyncs and their time */
  uint64_t wal_restarts; /* the writer copied the rest of a long WAL so that it starts over */
  size_t queue_weight, queue_max;
} store_stats;
void store_get_stats(store *s, store_stats *out);

/* A named parameter of store_step_named: text (NULL binds null) when
 * is_text, else the integer. */
typedef struct {
  const char *name; /* ":id" */
  int is_text;
  const char *text;
  int64_t i64;
} store_param;
/* Prepares sql on db, binds each of its named parameters from params (a
 * parameter not in params stays null) and steps once: CX_OK on a row or
 * done, CX_EDB otherwise. *out, when out is not NULL: the row's first
 * column, or -1 without a row. */
cx_err store_step_named(sqlite3 *db, const char *sql, const store_param *params, size_t n, int64_t *out);

/* Runs sql (no parameters) on db; CX_EDB on failure (logged). */
cx_err store_exec(sqlite3 *db, const char *sql);

/* State derived from the log and saved beside it (the timelines snapshot,
 * the messageId window) records the log's head when it was made: the
 * newest event's seq and mid_hash (0 and 0 for an empty log). The log is
 * append-only, so the saved state stays true of the events up to that
 * seq for as long as the log still holds that event. */
cx_err store_log_head(sqlite3 *db, int64_t *seq, int64_t *mid);
/* 1 when db's log still holds mid at seq (always for seq 0). */
int store_log_holds(sqlite3 *db, int64_t seq, int64_t mid);
/* Where such state lives: "<db's file>-<suffix>" into out ("" when db has
 * no file). */
void store_side_path(sqlite3 *db, const char *suffix, char *out, size_t cap);

/* ---- the events' message text (bodies.c): one event_blocks row holds the
 * bodies of consecutive events ---- */
#define STORE_BLOCK_BYTES (32 * 1024) /* bodies per block, unless one alone is larger */
#define STORE_BLOCK_EVENTS 1024      /* events per block */
#define STORE_BODY_MAX (64 * 1024)    /* the largest body (INGEST_MAX_STORED) */
/* the longest block unpacked: a header and a full block, or one largest body */
#define STORE_BLOCK_RAW_MAX (4 + 4 * STORE_BLOCK_EVENTS + STORE_BLOCK_BYTES + STORE_BODY_MAX)

/* The writer's open block: bodies wait in it until it is full, the next seq
 * does not follow, or the job flushes it. One connection, one thread. */
typedef struct store_blocks store_blocks;
cx_err store_blocks_new(store_blocks **out);
void store_blocks_free(store_blocks *b);
/* Adds seq's body (1 to STORE_BODY_MAX bytes; CX_EINVAL otherwise), writing
 * the open block first when seq does not follow it or it is full. */
cx_err store_blocks_add(store_blocks *b, sqlite3 *db, int64_t seq, const char *body, size_t len);
/* Writes the open block, if any, inside the caller's transaction. */
cx_err store_blocks_flush(store_blocks *b, sqlite3 *db);
/* Forgets the open block (its transaction is rolled back). */
void store_blocks_discard(store_blocks *b);

/* Blocks built ahead of the writer, by whoever made the bodies (ingest
 * packs a batch on its caller's thread, so that the writer only stores
 * them). 1 when a block of n bodies holding `bytes` may take one more of
 * len bytes. */
int store_block_fits(uint32_t n, size_t bytes, size_t len);
/* The most bytes store_block_build appends for n bodies of `bytes` in all. */
size_t store_block_bound(uint32_t n, size_t bytes);
/* Appends to out a block's data holding body[0..n): n from 1, each body
 * 1 to STORE_BODY_MAX bytes, added as store_block_fits allows (CX_EINVAL
 * otherwise); raw is scratch. */
cx_err store_block_build(const char *const *body, const size_t *len, uint32_t n, cx_buf *raw,
                         cx_buf *out);
/* Writes data (from store_block_build) as the bodies of seqs first ..
 * first + n - 1, after the open block, inside the caller's transaction. */
cx_err store_blocks_put(store_blocks *b, sqlite3 *db, int64_t first, uint32_t n, const void *data,
                        size_t len);

/* Reads bodies through one connection; it keeps the last block read. A
 * reader only sees what its connection's statements see; close it before
 * giving the connection back. */
typedef struct store_body_reader store_body_reader;
cx_err store_body_reader_open(sqlite3 *db, store_body_reader **out);
/* *body (not NUL-terminated) stays valid until the next call; NULL when seq
 * has no body (none stored, not committed yet, or erased). */
cx_err store_body_read(store_body_reader *r, int64_t seq, const char **body, size_t *len);
void store_body_reader_close(store_body_reader *r);
/* Erases the bodies of the seqs that seq_sql selects (one column,
 * ascending; ?1, if it has one, is arg): their blocks are rewritten
 * without them, or deleted when nothing is left. *erased (may be NULL):
 * how many had a body. */
cx_err store_bodies_erase(sqlite3 *db, const char *seq_sql, int64_t arg, uint64_t *erased);

#endif
