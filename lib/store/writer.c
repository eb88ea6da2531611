/* writer.c - the one writer thread, its group commit, and the syncer.
 *
 * Jobs queue in arrival order. The writer takes every queued job (up to
 * max_group weight) and applies them in one transaction. COMMIT runs with
 * synchronous=NORMAL, so it only writes the WAL; the group then goes to the
 * syncer thread, which fdatasyncs the WAL and only then completes the
 * group's jobs. While the syncer waits on the disk, the writer applies the
 * next group: one fsync can cover several groups. A failed apply or commit
 * rolls the whole group back and its jobs complete at once with the error.
 * Completion is posted to each job's own semaphore: waking every waiting
 * handler on every group (a broadcast) cost more CPU than the requests. */
#include "store_int.h"
#include "../base/log.h"
#include "../base/time.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Called with s->mu held. A job may be freed by its waiter as soon as its
 * semaphore is posted: read what is needed first. */
static void complete(store *s, store_job *first, cx_err rc) {
  for (store_job *j = first, *next; j; j = next) {
    next = j->next;
    s->stats.queue_weight -= j->weight; /* queued until acknowledged */
    j->rc = rc;
    j->done = 1;
    if (j->on_done) j->on_done(j);
    else sem_post(&j->sem);
  }
}

/* Called with s->mu held, once a group [first, last] of weight is over:
 * failed (rc), its jobs are answered; committed (commit_ns: the COMMIT's
 * time, 0 for an exclusive job), it waits for the syncer. */
static void settled(store *s, store_job *first, store_job *last, size_t weight, int64_t commit_ns, cx_err rc) {
  if (rc) {
    s->stats.rollbacks++;
    complete(s, first, rc);
    return;
  }
  s->stats.commits++;
  s->stats.committed_weight += weight;
  s->stats.commit_ns_total += (uint64_t)commit_ns;
  if (s->unsynced_tail) s->unsynced_tail->next = first;
  else s->unsynced_head = first;
  s->unsynced_tail = last;
  pthread_cond_signal(&s->sync_cv);
}

static void fail_stop(store *s, cx_err rc, const char *why) {
  if (!s->failed) {
    s->failed = rc;
    cx_log("error", "store_failed", "reason", why, "hint",
           "the server takes no more writes; restart it (recovery replays the WAL)", NULL);
  }
}

cx_err store_failed(store *s) {
  pthread_mutex_lock(&s->mu);
  cx_err rc = s->failed;
  pthread_mutex_unlock(&s->mu);
  return rc;
}

/* Moves queued jobs, up to max_group weight in all, from the queue to the
 * group ending at *last (or starting a new one when *first is NULL).
 * Called with s->mu held. Returns the first job taken, NULL if none. */
static store_job *take(store *s, store_job **first, store_job **last, size_t *weight) {
  store_job *taken = NULL;
  /* an exclusive job only ever starts a group, and ends it */
  while (s->head && (!*first || (*weight + s->head->weight <= s->cfg.max_group && !s->head->exclusive &&
                                 !(*first)->exclusive))) {
    store_job *j = s->head;
    s->head = j->next;
    if (!s->head) s->tail = NULL;
    j->next = NULL;
    if (*last) (*last)->next = j;
    else *first = j;
    *last = j;
    *weight += j->weight;
    if (!taken) taken = j;
  }
  return taken;
}

/* The WAL restarts from its beginning only once a checkpoint has copied all
 * of it into the database. Under a steady stream of groups the passive
 * checkpointer is always a little behind, so the WAL would grow for as long
 * as the stream lasts (600 MB for a 1M-event import), every commit
 * appending to new blocks of the file, which the kernel first zeroes. Once
 * the WAL passes this many frames the writer, between two groups, copies
 * the rest itself (most of it is already copied) and the next group starts
 * the WAL again from the beginning. */
#define WAL_BOUND_FRAMES 16384 /* 128 MiB of 8 KiB pages; cfg.wal_bound_frames overrides */

static int wal_hook(void *ctx, sqlite3 *db, const char *name, int frames) {
  (void)db;
  (void)name;
  ((store *)ctx)->wal_frames = frames; /* the writer's thread */
  return SQLITE_OK;
}

/* 1 when the WAL was all copied (the next group restarts it) */
static int bound_wal(store *s) {
  int log = 0, done = 0;
  int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
  int all = rc == SQLITE_OK && log == done;
  s->wal_frames = all ? 0 : log;
  return all;
}

static void *writer_main(void *arg) {
  store *s = arg;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->head && !s->stopping) pthread_cond_wait(&s->work, &s->mu);
    if (!s->head) break; /* stopping and drained */
    store_job *first = NULL, *last = NULL, *todo;
    size_t weight = 0;
    todo = take(s, &first, &last, &weight);
    cx_err rc = s->failed;
    pthread_mutex_unlock(&s->mu);

    int began = 0;
    if (first && first->exclusive) {
      /* alone and in autocommit: its statements commit themselves */
      if (!rc) rc = first->apply(first, s->db);
      if (!sqlite3_get_autocommit(s->db)) store_exec(s->db, "ROLLBACK"); /* left open by the job: undo */
      if (rc) cx_log("error", "exclusive_job_failed", "error", cx_strerror(rc), NULL);
      pthread_mutex_lock(&s->mu);
      settled(s, first, last, weight, 0, rc);
      continue;
    }
    if (!rc) began = !(rc = store_exec(s->db, "BEGIN IMMEDIATE"));
    for (;;) {
      for (store_job *j = todo; j && !rc; j = j->next) rc = j->apply(j, s->db);
      /* While the syncer is busy a commit would only wait for it: keep the
       * transaction open and take in what arrives, so that each fsync
       * covers one large commit instead of many small ones. */
      pthread_mutex_lock(&s->mu);
      while (!rc && s->syncing && !s->head && !s->stopping) pthread_cond_wait(&s->work, &s->mu);
      todo = rc || !s->syncing || weight >= s->cfg.max_group ? NULL : take(s, &first, &last, &weight);
      pthread_mutex_unlock(&s->mu);
      if (!todo) break;
    }
    int64_t t0 = cx_mono_ns();
    if (!rc) rc = store_exec(s->db, "COMMIT");
    int64_t dt = cx_mono_ns() - t0;
    if (!rc && s->cfg.after_commit) s->cfg.after_commit(s->cfg.ctx);
    cx_err rebuild = CX_OK;
    if (rc && began) {
      /* a failed COMMIT may have rolled back already */
      if (!sqlite3_get_autocommit(s->db)) store_exec(s->db, "ROLLBACK");
      cx_log("error", "group_rolled_back", "error", cx_strerror(rc), NULL);
      if (s->cfg.after_rollback) rebuild = s->cfg.after_rollback(s->cfg.ctx, s->db);
    }

    pthread_mutex_lock(&s->mu);
    if (rebuild) fail_stop(s, rebuild, "derived state could not be rebuilt after a rollback");
    settled(s, first, last, weight, dt, rc);
    /* wal_frames is the writer's own (set by the hook in COMMIT) */
    if (s->ckpt_running && !s->failed && s->wal_frames >= s->cfg.wal_bound_frames) {
      pthread_mutex_unlock(&s->mu);
      int restarts = bound_wal(s);
      pthread_mutex_lock(&s->mu);
      s->stats.wal_restarts += (uint64_t)restarts;
    }
  }
  s->writer_done = 1;
  pthread_cond_signal(&s->sync_cv);
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* fdatasync of the WAL: every frame written before the call is on disk
 * after it, whichever connection or descriptor wrote it. */
static cx_err sync_wal(store *s) {
  if (s->wal_fd < 0) s->wal_fd = open(s->wal_path, O_RDONLY | O_CLOEXEC);
  if (s->wal_fd < 0 || fdatasync(s->wal_fd) != 0) {
    cx_log("error", "wal_sync_failed", "error", strerror(errno), "path", s->wal_path, NULL);
    return CX_EIO;
  }
  return CX_OK;
}

static void *sync_main(void *arg) {
  store *s = arg;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->unsynced_head && !s->writer_done) pthread_cond_wait(&s->sync_cv, &s->mu);
    if (!s->unsynced_head) break; /* the writer is done and all is synced */
    store_job *first = s->unsynced_head;
    s->unsynced_head = s->unsynced_tail = NULL;
    s->syncing = 1;
    pthread_mutex_unlock(&s->mu);
    int64_t t0 = cx_mono_ns();
    cx_err rc = sync_wal(s);
    int64_t dt = cx_mono_ns() - t0;
    pthread_mutex_lock(&s->mu);
    s->syncing = 0;
    pthread_cond_signal(&s->work); /* a writer holding its commit may go */
    s->stats.syncs++;
    s->stats.sync_ns_total += (uint64_t)dt;
    /* After a failed fsync nothing written since can be trusted to be on
     * disk (Linux may drop the dirty pages): fail-stop */
    if (rc) fail_stop(s, rc, "fdatasync of the WAL failed");
    if (!rc) rc = s->failed;
    complete(s, first, rc);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* Runs PASSIVE checkpoints every 100 ms while the writer runs. The writer
 * connection has auto-checkpoints off, so COMMIT never pays for copying
 * the WAL into the database file; a passive checkpoint never blocks it. */
static void *checkpoint_main(void *arg) {
  store *s = arg;
  pthread_mutex_lock(&s->mu);
  while (!s->stopping) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&s->ckpt_cv, &s->mu, &ts);
    if (s->stopping) break;
    /* after a failure the WAL is the evidence recovery needs: leave it */
    if (s->failed) continue;
    pthread_mutex_unlock(&s->mu);
    int log_frames = 0, done = 0;
    sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &done);
    pthread_mutex_lock(&s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

static void checkpointer_stop(store *s) {
  if (!s->ckpt_running) return;
  pthread_mutex_lock(&s->mu);
  s->stopping = 1;
  pthread_cond_signal(&s->ckpt_cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->ckpt_thread, NULL);
  pthread_cond_destroy(&s->ckpt_cv);
  s->ckpt_running = 0;
  store_exec(s->db, "PRAGMA wal_autocheckpoint=1000"); /* the writer has stopped */
}

cx_err store_writer_start(store *s, const store_writer_cfg *cfg) {
  s->cfg = *cfg;
  if (!s->cfg.max_group) s->cfg.max_group = 20000;
  if (s->cfg.wal_bound_frames <= 0) s->cfg.wal_bound_frames = WAL_BOUND_FRAMES;
  s->stats.queue_max = cfg->max_queue;
  s->stopping = 0;
  s->writer_done = 0;
  /* the checkpointer first, while this thread still owns the writer
   * connection and can switch its auto-checkpoint off (or leave it on) */
  if (s->ckpt_db) {
    pthread_cond_init(&s->ckpt_cv, NULL);
    if (pthread_create(&s->ckpt_thread, NULL, checkpoint_main, s) == 0) {
      s->ckpt_running = 1;
      store_exec(s->db, "PRAGMA wal_autocheckpoint=0");
      s->wal_frames = 0;
      sqlite3_wal_hook(s->db, wal_hook, s); /* after the PRAGMA: it sets the same hook */
    } else {
      pthread_cond_destroy(&s->ckpt_cv);
    }
  }
  pthread_cond_init(&s->sync_cv, NULL);
  if (pthread_create(&s->sync_thread, NULL, sync_main, s) != 0) {
    pthread_cond_destroy(&s->sync_cv);
    checkpointer_stop(s);
    return CX_EIO;
  }
  if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
    pthread_mutex_lock(&s->mu);
    s->writer_done = 1;
    pthread_cond_signal(&s->sync_cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->sync_thread, NULL);
    pthread_cond_destroy(&s->sync_cv);
    checkpointer_stop(s);
    return CX_EIO;
  }
  s->running = 1;
  return CX_OK;
}

cx_err store_submit(store *s, store_job *job) {
  job->done = 0;
  job->rc = CX_OK;
  job->next = NULL;
  pthread_mutex_lock(&s->mu);
  cx_err rc = CX_OK;
  if (s->failed) rc = s->failed;
  else if (!s->running || s->stopping) rc = CX_ESTOPPED;
  /* an empty queue always admits one job, however heavy, so that a single
   * large request can never be refused forever */
  else if (s->stats.queue_weight && s->stats.queue_weight + job->weight > s->cfg.max_queue)
    rc = CX_EFULL;
  if (!rc) {
    if (!job->on_done) sem_init(&job->sem, 0, 0); /* destroyed by store_wait */
    s->stats.queue_weight += job->weight;
    if (s->tail) s->tail->next = job;
    else s->head = job;
    s->tail = job;
    pthread_cond_signal(&s->work);
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

cx_err store_wait(store *s, store_job *job) {
  (void)s;
  while (sem_wait(&job->sem) != 0) /* EINTR: wait on */
    ;
  sem_destroy(&job->sem);
  return job->rc;
}

cx_err store_run(store *s, store_job *job) {
  cx_err rc = store_submit(s, job);
  return rc ? rc : store_wait(s, job);
}

typedef struct {
  store_job job;
  cx_err (*fn)(void *ctx, sqlite3 *db);
  void *ctx;
} fn_job;

static cx_err apply_fn(store_job *job, sqlite3 *db) {
  fn_job *j = (fn_job *)job;
  return j->fn(j->ctx, db);
}

cx_err store_run_fn(store *s, cx_err (*fn)(void *ctx, sqlite3 *db), void *ctx, size_t weight) {
  fn_job j = {.job = {.apply = apply_fn, .weight = weight ? weight : 1}, .fn = fn, .ctx = ctx};
  return store_run(s, &j.job);
}

void store_writer_stop(store *s) {
  pthread_mutex_lock(&s->mu);
  if (!s->running) {
    pthread_mutex_unlock(&s->mu);
    return;
  }
  s->stopping = 1;
  pthread_cond_signal(&s->work);
  if (s->ckpt_running) pthread_cond_signal(&s->ckpt_cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->thread, NULL);
  pthread_join(s->sync_thread, NULL); /* after the writer: it drains last */
  pthread_cond_destroy(&s->sync_cv);
  checkpointer_stop(s);
  s->running = 0;
}

void store_get_stats(store *s, store_stats *out) {
  pthread_mutex_lock(&s->mu);
  *out = s->stats;
  pthread_mutex_unlock(&s->mu);
}
