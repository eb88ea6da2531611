/* feed.c - commits messages in large batches for import and demo: while
 * one batch is parsed, up to four before it are in the store's queue
 * (submitted in order, completed asynchronously), so that the writer
 * always has the next one while others are being synced, and a slow sync
 * (the disk busy with other writes) does not stop the parsing. */
#include "cli.h"
#include "../lib/base/mem.h"
#include "../lib/base/time.h"
#include <semaphore.h>
#include <stdatomic.h>
#include <string.h>

#define FEED_BATCH_BYTES ((size_t)256 << 20)
#define FEED_SLOTS (CLI_FEED_INFLIGHT + 1) /* the batch being parsed, and those in flight */

typedef struct {
  ingest_async job; /* in flight while running */
  ingest_batch batch;
  sem_t done;       /* posted by the store when the job is complete */
  int running;
} pending;

struct cli_feed {
  ingest *in;
  int64_t source;
  size_t batch_msgs;
  pending slots[FEED_SLOTS];
  /* set by the first batch that fails: the batches queued after it are
   * then not applied, so that what is stored is always the lines up to
   * some point, as with one batch at a time */
  atomic_int failed;
  int cur; /* the slot being parsed into; the others are in flight, oldest next */
  uint64_t imported, dups;
  uint64_t handed; /* batches submitted so far */
};

/* the store's thread, its lock held: the feed's failure flag (the job's
 * stop) and the wake-up */
static void on_done(ingest_async *a) {
  if (a->job.rc) atomic_store(a->stop, 1);
  sem_post(&((pending *)a->arg)->done);
}

/* Counts a committed batch and frees its messages. */
static void tally(cli_feed *f, ingest_batch *b) {
  for (size_t i = 0; i < b->n; i++) {
    if (b->msgs[i].duplicate) f->dups++;
    else f->imported++;
  }
}

/* Waits for the batch in flight, if any; returns its result. */
static cx_err finish(cli_feed *f, pending *p) {
  if (!p->running) return CX_OK;
  while (sem_wait(&p->done) != 0) /* EINTR: wait on */
    ;
  sem_destroy(&p->done);
  p->running = 0;
  cx_err rc = ingest_async_result(&p->job);
  if (!rc) tally(f, &p->batch);
  ingest_batch_free(&p->batch);
  return rc;
}

cx_err cli_feed_open(ingest *in, int64_t source, size_t batch_msgs, cli_feed **out) {
  cli_feed *f = cx_calloc(1, sizeof *f);
  if (!f) return CX_ENOMEM;
  f->in = in;
  f->source = source;
  f->batch_msgs = batch_msgs;
  atomic_init(&f->failed, 0);
  ingest_batch_init(&f->slots[0].batch, cx_now_ms());
  if (ingest_batch_reserve(&f->slots[0].batch, batch_msgs)) {
    ingest_batch_free(&f->slots[0].batch);
    cx_free(f);
    return CX_ENOMEM;
  }
  *out = f;
  return CX_OK;
}

cx_err cli_feed_line(cli_feed *f, const char *s, size_t n, int64_t source, ingest_error *err) {
  ingest_batch *b = &f->slots[f->cur].batch;
  cx_err rc = ingest_parse(INGEST_ANY, s, n, b->received_at, b, err);
  if (rc) return rc == CX_ENOMEM ? rc : CX_EINVAL; /* err says why */
  if (source) b->msgs[b->n - 1].source = source;
  /* the first batches are smaller, so that the writer starts early
   * instead of waiting for a whole batch to be parsed: 1/16, 1/4, then all */
  size_t want = f->handed == 0 ? f->batch_msgs / 16 : f->handed == 1 ? f->batch_msgs / 4 : f->batch_msgs;
  if (b->n < want && ingest_batch_bytes(b) <= FEED_BATCH_BYTES) return CX_OK;
  /* hand this batch to a submitter and parse the next meanwhile, in the
   * slot of the oldest batch in flight, once that one is committed. The
   * store applies jobs in the order they were submitted. */
  pending *mine = &f->slots[f->cur];
  int next = (f->cur + 1) % FEED_SLOTS;
  if (sem_init(&mine->done, 0, 0)) return CX_EIO;
  if ((rc = ingest_submit_async(f->in, &mine->batch, f->source, &mine->job, on_done, mine, &f->failed))) {
    sem_destroy(&mine->done);
    return rc;
  }
  mine->running = 1;
  f->handed++;
  f->cur = next;
  if ((rc = finish(f, &f->slots[next]))) return rc;
  ingest_batch_init(&f->slots[f->cur].batch, cx_now_ms());
  return ingest_batch_reserve(&f->slots[f->cur].batch, f->batch_msgs);
}

cx_err cli_feed_close(cli_feed *f, int commit, uint64_t *imported, uint64_t *dups) {
  cx_err rc = CX_OK;
  for (int k = 1; k < FEED_SLOTS; k++) { /* oldest first */
    cx_err r = finish(f, &f->slots[(f->cur + k) % FEED_SLOTS]);
    if (!rc) rc = r;
  }
  ingest_batch *b = &f->slots[f->cur].batch;
  if (!rc && commit) {
    rc = ingest_submit(f->in, b, f->source);
    if (!rc) tally(f, b);
  }
  ingest_batch_free(b);
  *imported = f->imported;
  *dups = f->dups;
  cx_free(f);
  return rc;
}
