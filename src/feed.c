/* feed.c - commits messages in large batches for import and demo: one
 * batch is committed on its own thread while the next one is parsed. */
#include "cli.h"
#include "../lib/base/mem.h"
#include "../lib/base/time.h"
#include <pthread.h>
#include <string.h>

#define FEED_BATCH_BYTES ((size_t)256 << 20)

typedef struct {
  ingest *in;
  ingest_batch batch;
  int64_t source;
  cx_err rc;
  pthread_t thread;
  int running;
} pending;

struct cli_feed {
  ingest *in;
  int64_t source;
  size_t batch_msgs;
  pending slots[2];
  int cur;
  uint64_t imported, dups;
};

static void *submit_main(void *arg) {
  pending *p = arg;
  p->rc = ingest_submit(p->in, &p->batch, p->source);
  return NULL;
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
  pthread_join(p->thread, NULL);
  p->running = 0;
  if (!p->rc) tally(f, &p->batch);
  ingest_batch_free(&p->batch);
  return p->rc;
}

cx_err cli_feed_open(ingest *in, int64_t source, size_t batch_msgs, cli_feed **out) {
  cli_feed *f = cx_calloc(1, sizeof *f);
  if (!f) return CX_ENOMEM;
  f->in = in;
  f->source = source;
  f->batch_msgs = batch_msgs;
  ingest_batch_init(&f->slots[0].batch, cx_now_ms());
  *out = f;
  return CX_OK;
}

cx_err cli_feed_line(cli_feed *f, const char *s, size_t n, int64_t source, ingest_error *err) {
  ingest_batch *b = &f->slots[f->cur].batch;
  cx_err rc = ingest_parse(INGEST_ANY, s, n, b->received_at, b, err);
  if (rc) return rc == CX_ENOMEM ? rc : CX_EINVAL; /* err says why */
  if (source) b->msgs[b->n - 1].source = source;
  if (b->n < f->batch_msgs && ingest_batch_bytes(b) <= FEED_BATCH_BYTES) return CX_OK;
  /* hand this batch to a submitter and parse the next meanwhile */
  pending *other = &f->slots[1 - f->cur], *mine = &f->slots[f->cur];
  if ((rc = finish(f, other))) return rc;
  mine->in = f->in;
  mine->source = f->source;
  mine->running = 1;
  if (pthread_create(&mine->thread, NULL, submit_main, mine)) {
    mine->running = 0;
    return CX_EIO;
  }
  f->cur = 1 - f->cur;
  ingest_batch_init(&f->slots[f->cur].batch, cx_now_ms());
  return CX_OK;
}

cx_err cli_feed_close(cli_feed *f, int commit, uint64_t *imported, uint64_t *dups) {
  cx_err rc = finish(f, &f->slots[1 - f->cur]);
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
