/* lifecycle.c - the customers in each lifecycle stage now: the stage
 * rules (profile's stage.c) evaluated over every root customer, in
 * parallel. */
#include "analytics_int.h"
#include "../base/time.h"
#include <string.h>

#define MAX_STAGES 32

typedef struct {
  const analytics_ctx *c;
  uint64_t counts[ANALYTICS_THREADS][MAX_STAGES];
} lifecycle;

static void scan(void *arg, int which, int64_t lo, int64_t hi) {
  lifecycle *l = arg;
  const profile *pr = l->c->pr;
  uint64_t *counts = l->counts[which];
  for (int64_t id = lo; id < hi; id++)
    if (profile_root_of(pr, id) == id) counts[profile_stage_of(pr, id, l->c->now_ms)]++;
}

cx_err analytics_lifecycle(const analytics_ctx *c, cx_buf *out) {
  int64_t started = cx_mono_ns();
  const char *const *names;
  size_t n = profile_stage_names(&names);
  if (n > MAX_STAGES) return CX_ETOOBIG;
  lifecycle l = {.c = c};
  profile_read_begin(c->pr);
  an_parallel(ANALYTICS_THREADS, profile_max_id(c->pr), scan, &l);
  profile_read_end(c->pr);
  uint64_t total = 0;
  cx_err rc = cx_buf_puts(out, "{\"stages\":[");
  for (size_t s = 0; !rc && s < n; s++) {
    uint64_t v = 0;
    for (size_t t = 0; t < ANALYTICS_THREADS; t++) v += l.counts[t][s];
    total += v;
    rc = cx_buf_puts(out, s ? ",{\"name\":" : "{\"name\":");
    if (!rc) rc = cx_buf_json_str(out, names[s], strlen(names[s]));
    if (!rc) rc = cx_buf_printf(out, ",\"customers\":%llu}", (unsigned long long)v);
  }
  if (!rc) rc = cx_buf_printf(out, "],\"customers\":%llu,\"as_of\":", (unsigned long long)total);
  if (!rc) rc = cx_buf_json_time(out, c->now_ms);
  if (!rc) rc = cx_buf_puts(out, ",");
  if (!rc) rc = an_took(out, started);
  if (!rc) rc = cx_buf_puts(out, "}");
  return rc;
}
