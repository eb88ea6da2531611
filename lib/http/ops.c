/* ops.c - /healthz and /metrics (Prometheus text format). */
#include "http_int.h"
#include <stdio.h>
#include <string.h>

const int64_t *http_latency_bounds(void);

enum MHD_Result http_healthz(http_server *h, struct MHD_Connection *c, http_req *r) {
  int failed = store_failed(h->cfg.st) != CX_OK;
  cx_buf b;
  cx_buf_init(&b, 128);
  cx_buf_puts(&b, failed ? "{\"status\":\"failed\",\"reason\":\"storage failure: restart the server\"}"
                         : "{\"status\":\"ok\"}");
  enum MHD_Result ret = http_send_json(c, r, failed ? 503 : 200, &b);
  cx_buf_free(&b);
  return ret;
}

static long rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    fclose(f);
  }
  return rss * 4096;
}

enum MHD_Result http_metrics(http_server *h, struct MHD_Connection *c, http_req *r) {
  static const char *routes[ROUTE_COUNT] = {"track", "api", "ops", "other"};
  cx_buf b;
  cx_buf_init(&b, 1 << 20);
  cx_buf_puts(&b, "# HELP cxm_http_requests_total HTTP requests answered, by route and status class.\n"
                  "# TYPE cxm_http_requests_total counter\n");
  for (int i = 0; i < ROUTE_COUNT; i++)
    for (int s = 1; s <= 5; s++)
      cx_buf_printf(&b, "cxm_http_requests_total{route=\"%s\",status=\"%dxx\"} %llu\n", routes[i], s,
                    (unsigned long long)atomic_load(&h->requests[i][s]));
  const int64_t *bounds = http_latency_bounds();
  cx_buf_puts(&b, "# HELP cxm_ingest_request_seconds Tracking API request latency, to commit.\n"
                  "# TYPE cxm_ingest_request_seconds histogram\n");
  uint64_t cum = 0;
  for (int i = 0; i < HTTP_LAT_BUCKETS; i++) {
    cum += atomic_load(&h->lat_bucket[i]);
    cx_buf_printf(&b, "cxm_ingest_request_seconds_bucket{le=\"%g\"} %llu\n", (double)bounds[i] / 1e6,
                  (unsigned long long)cum);
  }
  cum += atomic_load(&h->lat_bucket[HTTP_LAT_BUCKETS]);
  cx_buf_printf(&b, "cxm_ingest_request_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
  cx_buf_printf(&b, "cxm_ingest_request_seconds_sum %.6f\ncxm_ingest_request_seconds_count %llu\n",
                (double)atomic_load(&h->lat_sum_us) / 1e6, (unsigned long long)atomic_load(&h->lat_count));
  ingest_stats is;
  ingest_get_stats(h->cfg.in, &is);
  store_stats ss;
  store_get_stats(h->cfg.st, &ss);
  profile_stats ps;
  profile_get_stats(h->cfg.pr, &ps);
  cx_buf_printf(&b,
                "# HELP cxm_events_ingested_total Events committed to the store.\n"
                "# TYPE cxm_events_ingested_total counter\ncxm_events_ingested_total %llu\n"
                "# HELP cxm_events_duplicate_total Messages dropped as already seen (messageId).\n"
                "# TYPE cxm_events_duplicate_total counter\ncxm_events_duplicate_total %llu\n"
                "# HELP cxm_ingest_queue_depth Messages waiting for the writer.\n"
                "# TYPE cxm_ingest_queue_depth gauge\ncxm_ingest_queue_depth %zu\n"
                "# HELP cxm_ingest_queue_capacity Messages the queue holds before answering 503.\n"
                "# TYPE cxm_ingest_queue_capacity gauge\ncxm_ingest_queue_capacity %zu\n"
                "# HELP cxm_store_commits_total Group commits.\n"
                "# TYPE cxm_store_commits_total counter\ncxm_store_commits_total %llu\n"
                "# HELP cxm_store_rollbacks_total Groups rolled back.\n"
                "# TYPE cxm_store_rollbacks_total counter\ncxm_store_rollbacks_total %llu\n"
                "# HELP cxm_store_commit_seconds_total Time spent in COMMIT (writing the WAL).\n"
                "# TYPE cxm_store_commit_seconds_total counter\ncxm_store_commit_seconds_total %.6f\n"
                "# HELP cxm_store_syncs_total WAL fdatasyncs (each makes one or more commits durable).\n"
                "# TYPE cxm_store_syncs_total counter\ncxm_store_syncs_total %llu\n"
                "# HELP cxm_store_sync_seconds_total Time spent in fdatasync of the WAL.\n"
                "# TYPE cxm_store_sync_seconds_total counter\ncxm_store_sync_seconds_total %.6f\n"
                "# HELP cxm_store_wal_restarts_total Times the writer copied the rest of a long WAL into the database, so that it starts over.\n"
                "# TYPE cxm_store_wal_restarts_total counter\ncxm_store_wal_restarts_total %llu\n"
                "# HELP cxm_customers Customers (not merged away).\n"
                "# TYPE cxm_customers gauge\ncxm_customers %llu\n"
                "# HELP cxm_resident_memory_bytes Resident set size.\n"
                "# TYPE cxm_resident_memory_bytes gauge\ncxm_resident_memory_bytes %ld\n",
                (unsigned long long)is.events, (unsigned long long)is.duplicates, ss.queue_weight,
                ss.queue_max, (unsigned long long)ss.commits, (unsigned long long)ss.rollbacks,
                (double)ss.commit_ns_total / 1e9, (unsigned long long)ss.syncs,
                (double)ss.sync_ns_total / 1e9, (unsigned long long)ss.wal_restarts,
                (unsigned long long)ps.customers, rss_bytes());
  if (h->cfg.seg) {
    analytics_segments_stats gs;
    analytics_segments_get_stats(h->cfg.seg, &gs);
    cx_buf_printf(&b,
                  "# HELP cxm_segments Segments defined.\n"
                  "# TYPE cxm_segments gauge\ncxm_segments %llu\n"
                  "# HELP cxm_segment_evaluations_total Customers evaluated again after a change, times segments.\n"
                  "# TYPE cxm_segment_evaluations_total counter\ncxm_segment_evaluations_total %llu\n"
                  "# HELP cxm_segment_evaluation_seconds_total Time spent on those evaluations.\n"
                  "# TYPE cxm_segment_evaluation_seconds_total counter\ncxm_segment_evaluation_seconds_total %.6f\n"
                  "# HELP cxm_segment_full_runs_total Computations of every segment's members from scratch.\n"
                  "# TYPE cxm_segment_full_runs_total counter\ncxm_segment_full_runs_total %llu\n"
                  "# HELP cxm_segment_full_seconds The last one's time.\n"
                  "# TYPE cxm_segment_full_seconds gauge\ncxm_segment_full_seconds %.6f\n",
                  (unsigned long long)gs.segments, (unsigned long long)gs.evaluations,
                  (double)gs.eval_ns / 1e9, (unsigned long long)gs.full_runs, (double)gs.last_full_ns / 1e9);
  }
  if (h->cfg.fb) {
    feedback_stats fs;
    feedback_get_stats(h->cfg.fb, &fs);
    cx_buf_printf(&b,
                  "# HELP cxm_survey_responses Survey responses stored (a replaced answer counts once).\n"
                  "# TYPE cxm_survey_responses gauge\ncxm_survey_responses %llu\n"
                  "# HELP cxm_survey_scores Scored answers (NPS, CSAT, CES) in the metrics' index.\n"
                  "# TYPE cxm_survey_scores gauge\ncxm_survey_scores %llu\n",
                  (unsigned long long)fs.responses, (unsigned long long)fs.scores);
  }
  http_outbox_metrics(h, &b);
  cx_buf_puts(&b, "# HELP cxm_ingest_rejected_total Tracking requests rejected, by reason.\n"
                  "# TYPE cxm_ingest_rejected_total counter\n");
  pthread_mutex_lock(&h->mu);
  for (int i = 0; i < HTTP_MAX_REASONS && h->reasons[i].code[0]; i++)
    cx_buf_printf(&b, "cxm_ingest_rejected_total{reason=\"%s\"} %llu\n", h->reasons[i].code,
                  (unsigned long long)h->reasons[i].n);
  pthread_mutex_unlock(&h->mu);
  enum MHD_Result ret = http_send(c, r, 200, "text/plain; version=0.0.4", &b);
  cx_buf_free(&b);
  return ret;
}
