/* cxm import events FILE|-: JSON Lines of tracking messages, through the
 * same parse/validate/commit pipeline as HTTP. Lines are committed in
 * batches; the first bad line stops the import with its line number, and
 * everything before it stays committed (re-running is safe for messages
 * that carry a messageId: they are deduplicated). */
#include "cli.h"
#include "../lib/base/mem.h"
#include "../lib/base/time.h"
#include "../lib/ingest/ingest.h"
#include "../lib/profile/profile.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT_BATCH 50000
#define IMPORT_BATCH_BYTES ((size_t)256 << 20)

typedef struct {
  ingest *in;
  ingest_batch batch;
  int64_t source;
  cx_err rc;
  pthread_t thread;
  int running;
} pending;

static void *submit_main(void *arg) {
  pending *p = arg;
  p->rc = ingest_submit(p->in, &p->batch, p->source);
  return NULL;
}

/* Waits for the batch in flight, if any; returns its result. */
static cx_err finish(pending *p, uint64_t *imported, uint64_t *dups) {
  if (!p->running) return CX_OK;
  pthread_join(p->thread, NULL);
  p->running = 0;
  if (!p->rc)
    for (size_t i = 0; i < p->batch.n; i++) {
      if (p->batch.msgs[i].duplicate) (*dups)++;
      else (*imported)++;
    }
  ingest_batch_free(&p->batch);
  return p->rc;
}

int cmd_import(const cli_opts *o) {
  FILE *f = stdin;
  if (strcmp(o->file, "-") && !(f = fopen(o->file, "r"))) {
    cli_error("cannot read %s: %s.", o->file, strerror(errno));
    return 1;
  }
  store *st;
  cx_err rc = store_open(o->data, 0, &st);
  if (rc) {
    cli_error("%s: %s.", o->data, cli_store_error(rc));
    if (f != stdin) fclose(f);
    return 1;
  }
  profile *pr = NULL;
  ingest *in = NULL;
  int64_t source = 0;
  int status = 1;
  uint64_t imported = 0, dups = 0, line = 0;
  int64_t t0 = cx_mono_ns();
  if ((rc = ingest_open(st, &pr, &in)) ||
      (rc = ingest_start(in, 4 * IMPORT_BATCH)) || (rc = ingest_source_ensure(in, o->source, &source))) {
    cli_error("the store could not be prepared for import (%s).", cx_strerror(rc));
    goto out;
  }
  pending slots[2];
  memset(slots, 0, sizeof slots);
  int cur = 0;
  ingest_batch *b = &slots[cur].batch;
  ingest_batch_init(b, cx_now_ms());
  char *buf = NULL;
  size_t cap = 0;
  ssize_t len;
  int failed = 0;
  while (!failed && (len = getline(&buf, &cap, f)) >= 0) {
    line++;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) len--;
    size_t sp = 0;
    while (sp < (size_t)len && (buf[sp] == ' ' || buf[sp] == '\t')) sp++;
    if (sp == (size_t)len) continue; /* blank line */
    ingest_error err;
    rc = ingest_parse(INGEST_ANY, buf, (size_t)len, b->received_at, b, &err);
    if (rc) {
      if (rc == CX_ENOMEM) cli_error("line %llu: out of memory.", (unsigned long long)line);
      else
        cli_error("line %llu: %s%s%s (%s).", (unsigned long long)line, err.message,
                  err.field[0] ? " Field: " : "", err.field, err.code);
      failed = 1;
      rc = CX_OK; /* the lines before it are still committed below */
      break;
    }
    if (b->n >= IMPORT_BATCH || ingest_batch_bytes(b) > IMPORT_BATCH_BYTES) {
      /* hand this batch to a submitter and parse the next meanwhile */
      if ((rc = finish(&slots[1 - cur], &imported, &dups))) break;
      slots[cur].in = in;
      slots[cur].source = source;
      slots[cur].running = 1;
      if (pthread_create(&slots[cur].thread, NULL, submit_main, &slots[cur])) {
        slots[cur].running = 0;
        rc = CX_EIO;
        break;
      }
      cur = 1 - cur;
      b = &slots[cur].batch;
      ingest_batch_init(b, cx_now_ms());
    }
  }
  free(buf);
  cx_err frc = finish(&slots[1 - cur], &imported, &dups);
  if (!rc) rc = frc;
  if (frc && failed) cli_error("committing the lines before line %llu failed (%s).", (unsigned long long)line, cx_strerror(frc));
  if (!rc) {
    /* the lines before a bad one are committed, as the help says */
    rc = ingest_submit(in, b, source);
    if (!rc)
      for (size_t i = 0; i < b->n; i++) {
        if (b->msgs[i].duplicate) dups++;
        else imported++;
      }
  }
  ingest_batch_free(b);
  if (rc && !failed) cli_error("committing failed at line %llu (%s).", (unsigned long long)line, cx_strerror(rc));
  double secs = (double)(cx_mono_ns() - t0) / 1e9;
  fprintf(stderr, "cxm: imported %llu events (%llu duplicates skipped) in %.2f s (%.0f events/s)%s\n",
          (unsigned long long)imported, (unsigned long long)dups, secs,
          secs > 0 ? (double)imported / secs : 0.0, failed || rc ? "; stopped early" : "");
  if (!failed && !rc) status = 0;
out:
  store_writer_stop(st);
  ingest_close(in);
  profile_close(pr);
  store_close(st);
  if (f != stdin) fclose(f);
  return status;
}
