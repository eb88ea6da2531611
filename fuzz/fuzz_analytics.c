/* fuzz_analytics.c - libFuzzer driver for the analytics and journey-map
 * requests: what a client POSTs to /api/v1/analytics/{funnel,retention,
 * paths}, the query of /lifecycle and /analytics/kpis, segment previews
 * and journey maps.
 *
 * The first byte picks the request; the rest is parsed as JSON (cJSON, as
 * the server does) and run against a small real store: a few customers
 * with events, traits and properties. An accepted request must give one
 * valid JSON object; a refused one CX_EINVAL with a message and nothing
 * written. Journey maps are checked through create on the store (and the
 * map is deleted after, so that names stay free). */
#include "../lib/analytics/analytics.h"
#include "../lib/base/time.h"
#include "../lib/journey/journey.h"
#include "../lib/profile/profile.h"
#include "../lib/store/store.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static store *st;
static profile *pr;
static analytics_segments *seg;
static char dir[] = "/tmp/cxm-fuzz-analytics-XXXXXX";

/* at exit: the store closed and its directory gone */
static void cleanup(void) {
  analytics_segments_close(seg);
  store_writer_stop(st);
  profile_close(pr);
  store_close(st);
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[512];
  while (d && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name), unlink(path);
  if (d) closedir(d);
  rmdir(dir);
}

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_analytics: invariant broken: %s\n", what);
    abort();
  }
}

#define T0 1772409600000LL /* 2026-03-02 */

static cx_err seed(store_job *job, sqlite3 *db) {
  (void)job;
  static const char *const names[] = {"A", "B", "C", "Order Completed"};
  int64_t seq = 0;
  profile_write_begin(pr);
  for (int i = 0; i < 40; i++) {
    char uid[16], body[160];
    snprintf(uid, sizeof uid, "u%d", i);
    profile_ids ids = {.user_id = uid, .message_id = "m", .reason = "identify", .ts = T0};
    int64_t c;
    if (profile_resolve(pr, db, &ids, T0, &c)) return CX_EDB;
    cJSON *traits = cJSON_Parse(i % 3 ? "{\"plan\":\"pro\",\"n\":3}" : "{\"plan\":\"free\"}");
    profile_set_traits(pr, db, c, traits, T0);
    cJSON_Delete(traits);
    for (int k = 0; k < 8; k++) {
      int64_t ts = T0 + (int64_t)((i * 7 + k * 13) % 40) * 3600000LL;
      snprintf(body, sizeof body, "{\"type\":\"track\",\"event\":\"%s\",\"properties\":{\"revenue\":%d}}",
               names[(i + k) % 4], i + k);
      sqlite3_stmt *s;
      sqlite3_prepare_v2(db, "INSERT INTO event_bodies(seq, body) VALUES(?1, ?2)", -1, &s, NULL);
      sqlite3_bind_int64(s, 1, ++seq);
      sqlite3_bind_text(s, 2, body, -1, SQLITE_STATIC);
      sqlite3_step(s);
      sqlite3_finalize(s);
      profile_note_event(pr, c, seq, ts, 1, names[(i + k) % 4], 1);
    }
  }
  profile_write_end(pr);
  return CX_OK;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  if (!mkdtemp(dir) || store_open(dir, 1, &st) || profile_open(store_db(st), &pr)) abort();
  store_writer_cfg cfg = {.max_queue = 1000, .max_group = 100};
  if (store_writer_start(st, &cfg)) abort();
  store_job job = {.apply = seed, .weight = 1};
  if (store_run(st, &job) || analytics_segments_open(st, pr, &seg)) abort();
  atexit(cleanup);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  int which = data[0] % 8;
  cJSON *req = cJSON_ParseWithLength((const char *)data + 1, size - 1);
  if (!cJSON_IsObject(req)) {
    cJSON_Delete(req);
    return 0;
  }
  static const char *const sources[] = {NULL, "web"};
  sqlite3 *rdb = store_reader_get(st);
  analytics_ctx c = {.pr = pr, .rdb = rdb, .source_names = sources, .nsource_names = 2,
                     .now_ms = T0 + 30 * 86400000LL};
  analytics_error err = {{0}, {0}, {0}};
  cx_buf out;
  cx_buf_init(&out, 8 << 20);
  cx_err rc;
  switch (which) {
  case 0: rc = analytics_funnel(&c, req, &out, &err); break;
  case 1: rc = analytics_retention(&c, req, &out, &err); break;
  case 2: rc = analytics_paths(&c, req, &out, &err); break;
  case 3: rc = analytics_lifecycle(&c, req, &out, &err); break;
  case 4: rc = analytics_kpis(&c, req, &out, &err); break;
  case 5: rc = analytics_rfm(&c, req, &out, &err); break;
  case 6: rc = analytics_segment_preview(seg, req, &out, &err); break;
  default: rc = journey_map_create(st, req, &out, &err); break;
  }
  store_reader_put(st, rdb);
  if (rc == CX_EINVAL) {
    check(out.len == 0 || which == 7, "a refused request wrote an answer");
    check(err.message[0] != 0 && err.code[0] != 0, "a refusal says what and why");
  } else if (!rc) {
    cJSON *ans = cJSON_ParseWithLength(out.p, out.len);
    check(cJSON_IsObject(ans), "the answer is one JSON object");
    if (which == 7) { /* free the name for the next input */
      const cJSON *id = cJSON_GetObjectItem(ans, "id");
      check(cJSON_IsString(id), "a created map has an id");
      check(!journey_map_delete(st, strtoll(id->valuestring, NULL, 10)), "a created map can be deleted");
    }
    cJSON_Delete(ans);
  } else {
    check(rc == CX_EEXIST || rc == CX_ETOOBIG || rc == CX_ENOMEM, "only bad input, a taken name or a limit fail");
  }
  cx_buf_free(&out);
  cJSON_Delete(req);
  return 0;
}
