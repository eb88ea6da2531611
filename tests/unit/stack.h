/* stack.h - the store, profile, ingest and feedback modules open over a
 * fresh data directory, as the tests of the modules built on them
 * (respondent, cases, targets) need them. Header only, as unit.h. */
#ifndef CXM_UNIT_STACK_H
#define CXM_UNIT_STACK_H
#include "../../lib/feedback/feedback.h"
#include "../../lib/ingest/ingest.h"
#include "../../lib/store/store.h"
#include "unit.h"
#include <stdlib.h>

typedef struct {
  char dir[64];
  store *st;
  profile *pr;
  ingest *in;
  feedback *fb;
} unit_stack;

/* Opens u over a new directory from tmpl ("/tmp/cxm-…-XXXXXX"); sql (may
 * be NULL) runs on the store before the other modules load. 0, or -1. */
static inline int unit_stack_open(unit_stack *u, const char *tmpl, const char *sql) {
  snprintf(u->dir, sizeof u->dir, "%s", tmpl);
  if (!mkdtemp(u->dir) || store_open(u->dir, 1, &u->st)) return -1;
  if (sql && store_exec(store_db(u->st), sql)) return -1;
  if (ingest_open(u->st, &u->pr, &u->in) || feedback_open(u->st, u->pr, u->in, &u->fb) || ingest_start(u->in, 1000))
    return -1;
  return 0;
}

/* Closes what unit_stack_open opened (the modules on top closed first)
 * and removes the directory. */
static inline void unit_stack_close(unit_stack *u) {
  store_writer_stop(u->st);
  feedback_close(u->fb); /* after the writer, whose listener it is; before the store */
  ingest_close(u->in);
  profile_close(u->pr);
  store_close(u->st);
  remove_dir(u->dir);
}

#endif
