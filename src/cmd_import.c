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
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT_BATCH 20000

int cmd_import(const cli_opts *o) {
  FILE *f = stdin;
  if (strcmp(o->file, "-") && !(f = fopen(o->file, "r"))) {
    cli_error("cannot read %s: %s.", o->file, strerror(errno));
    return 1;
  }
  /* 1 MiB reads: stdio's own 4 KiB buffer made the reading thread of a
   * 1M-line import spend a system call every 15 lines */
  static char inbuf[1 << 20]; /* glibc takes no size without a buffer */
  setvbuf(f, inbuf, _IOFBF, sizeof inbuf);
  /* Each batch's trees (tens of MB in 256 KiB arena chunks) and its
   * messages (a few MB) are freed once it is committed, and the next batch
   * takes as much again. By default glibc maps blocks this large apart and
   * hands freed memory back to the kernel, so every batch first faults in
   * fresh zeroed pages: a twentieth of the reading thread. Keep up to
   * 256 MiB for reuse (the import holds five batches at a time anyway). */
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
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
      (rc = ingest_start(in, CLI_FEED_QUEUE(IMPORT_BATCH))) || (rc = ingest_source_ensure(in, o->source, &source))) {
    cli_error("the store could not be prepared for import (%s).", cx_strerror(rc));
    goto out;
  }
  cli_feed *feed;
  if ((rc = cli_feed_open(in, source, IMPORT_BATCH, &feed))) {
    cli_error("out of memory.");
    goto out;
  }
  char *buf = NULL;
  size_t cap = 0;
  ssize_t len;
  int failed = 0;
  while ((len = getline(&buf, &cap, f)) >= 0) {
    line++;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) len--;
    size_t sp = 0;
    while (sp < (size_t)len && (buf[sp] == ' ' || buf[sp] == '\t')) sp++;
    if (sp == (size_t)len) continue; /* blank line */
    ingest_error err;
    rc = cli_feed_line(feed, buf, (size_t)len, 0, &err);
    if (rc == CX_EINVAL) {
      cli_error("line %llu: %s%s%s (%s).", (unsigned long long)line, err.message,
                err.field[0] ? " Field: " : "", err.field, err.code);
      failed = 1;
      rc = CX_OK; /* the lines before it are still committed below */
      break;
    }
    if (rc) break;
  }
  free(buf);
  cx_err frc = cli_feed_close(feed, !rc, &imported, &dups);
  if (rc == CX_ENOMEM) cli_error("line %llu: out of memory.", (unsigned long long)line);
  else if (rc) cli_error("committing failed at line %llu (%s).", (unsigned long long)line, cx_strerror(rc));
  else if (frc && failed) cli_error("committing the lines before line %llu failed (%s).", (unsigned long long)line, cx_strerror(frc));
  else if (frc) cli_error("committing failed at line %llu (%s).", (unsigned long long)line, cx_strerror(frc));
  if (!rc) rc = frc;
  double secs = (double)(cx_mono_ns() - t0) / 1e9;
  fprintf(stderr, "cxm: imported %llu events (%llu duplicates skipped) in %.2f s (%.0f events/s)%s\n",
          (unsigned long long)imported, (unsigned long long)dups, secs,
          secs > 0 ? (double)imported / secs : 0.0, failed || rc ? "; stopped early" : "");
  if (!failed && !rc) status = 0;
out:
  cli_close(st, pr, in);
  if (f != stdin) fclose(f);
  return status;
}
