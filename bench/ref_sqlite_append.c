/* ref_sqlite_append.c - the reference the ingest benchmarks are measured
 * against: a plain C program that appends the same rows to SQLite the way
 * cxm's store does (WAL, synchronous=FULL, one prepared INSERT, BEGIN
 * IMMEDIATE ... COMMIT per group), with nothing else: no HTTP, no JSON
 * parse, no identity resolution, no in-memory indexes.
 *
 * It applies cxm's own migrations (lib/store/migrations.c is compiled in),
 * so the file has the server's schema, then appends each event the plain
 * way: one row, one INSERT, into a table of the events columns plus the
 * message text (ref_events). (cxm keeps the text apart, in blocks of
 * consecutive events: lib/store/bodies.c. Up to 2026-12 this reference
 * mirrored cxm's earlier layout, an events row and an event_bodies row per
 * event, two inserts.)
 *
 *   ref_sqlite_append synth --db PATH --rows N --group G [--body-bytes B] [--users U]
 *       N synthetic track rows (~B-byte JSON bodies, U distinct customers).
 *   ref_sqlite_append file --db PATH --input FILE [--group G]
 *       one row per JSON line of FILE: the line is the body, with the
 *       receivedAt (and messageId when absent) a store adds; type, name and
 *       customer taken by a substring search, not a JSON parse.
 *   ref_sqlite_append scan --db PATH
 *       reads (seq, customer_id, ts) of every event, as a start-up rebuild
 *       must at least do.
 *
 * Prints one JSON object: rows, seconds (open to close, the final WAL
 * checkpoint included), rows_per_s, group, avg_body, db_bytes, write_bytes
 * (what the process wrote to storage: WAL, checkpoints), layout. */
#include "../lib/store/store_int.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int64_t wall_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint64_t next_u64(void) {
  uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static void die(sqlite3 *db, const char *what) {
  fprintf(stderr, "ref_sqlite_append: %s: %s\n", what, db ? sqlite3_errmsg(db) : "failed");
  exit(1);
}

static void exec(sqlite3 *db, const char *sql) {
  if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) die(db, sql);
}

static long long file_size(const char *p) {
  struct stat s;
  return stat(p, &s) == 0 ? (long long)s.st_size : 0;
}

/* the same PRAGMAs and schema as store_open */
static sqlite3 *open_db(const char *path, int create) {
  sqlite3 *db;
  if (create) {
    char p[4200];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
  }
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
                                     SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
    die(db, "open");
  exec(db, "PRAGMA page_size=8192; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-65536;"
           "PRAGMA temp_store=MEMORY; PRAGMA foreign_keys=OFF; PRAGMA mmap_size=1073741824;");
  if (create) {
    exec(db, "BEGIN IMMEDIATE");
    for (int i = 0; i < store_migration_count; i++) exec(db, store_migrations[i]);
    exec(db, "COMMIT");
  }
  return db;
}

typedef struct {
  sqlite3 *db;
  sqlite3_stmt *ins;
  long group, in_group;
  long long rows, body_bytes;
} appender;

static const char *layout = "ref_events: one row per event, the events columns and the body";

static void app_init(appender *a, sqlite3 *db, long group) {
  memset(a, 0, sizeof *a);
  a->db = db;
  a->group = group > 0 ? group : 1;
  exec(db, "CREATE TABLE IF NOT EXISTS ref_events(seq INTEGER PRIMARY KEY, mid_hash INTEGER NOT NULL,"
           " type INTEGER NOT NULL, customer_id INTEGER NOT NULL, source_id INTEGER NOT NULL,"
           " ts INTEGER NOT NULL, received_at INTEGER NOT NULL, name TEXT, body TEXT NOT NULL)");
  if (sqlite3_prepare_v3(db,
                         "INSERT INTO ref_events(mid_hash, type, customer_id, source_id, ts, received_at, name,"
                         " body) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                         -1, SQLITE_PREPARE_PERSISTENT, &a->ins, NULL) != SQLITE_OK)
    die(db, "prepare");
}

static void app_row(appender *a, int type, int64_t cust, int64_t ts, int64_t recv, const char *name,
                    int name_len, const char *body, int body_len) {
  if (!a->in_group) exec(a->db, "BEGIN IMMEDIATE");
  sqlite3_stmt *st = a->ins;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)next_u64());
  sqlite3_bind_int(st, 2, type);
  sqlite3_bind_int64(st, 3, cust);
  sqlite3_bind_int64(st, 4, 1);
  sqlite3_bind_int64(st, 5, ts);
  sqlite3_bind_int64(st, 6, recv);
  if (name) sqlite3_bind_text(st, 7, name, name_len, SQLITE_STATIC);
  else sqlite3_bind_null(st, 7);
  sqlite3_bind_text(st, 8, body, body_len, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_DONE) die(a->db, "insert");
  sqlite3_reset(st);
  a->rows++;
  a->body_bytes += body_len;
  if (++a->in_group >= a->group) {
    exec(a->db, "COMMIT");
    a->in_group = 0;
  }
}

static void app_finish(appender *a) {
  if (a->in_group) exec(a->db, "COMMIT");
  a->in_group = 0;
  sqlite3_finalize(a->ins);
}

/* bytes this process has caused to be written to storage (/proc/self/io) */
static long long io_write_bytes(void) {
  FILE *f = fopen("/proc/self/io", "r");
  char line[128];
  long long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "write_bytes:", 12)) v = atoll(line + 12);
  if (f) fclose(f);
  return v;
}

static void report(const char *mode, const char *path, long long rows, double secs, long group,
                   long long body_bytes, long long db_bytes) {
  printf("{\"mode\":\"%s\",\"rows\":%lld,\"seconds\":%.4f,\"rows_per_s\":%.0f,\"group\":%ld,"
         "\"avg_body\":%.1f,\"db_bytes\":%lld,\"write_bytes\":%lld,\"layout\":\"%s\",\"db\":\"%s\"}\n",
         mode, rows, secs, secs > 0 ? (double)rows / secs : 0.0, group,
         rows ? (double)body_bytes / (double)rows : 0.0, db_bytes, io_write_bytes(), layout, path);
}

static const char *const names[] = {"Product Viewed", "Product Added", "Cart Viewed",
                                    "Checkout Started", "Order Completed", "Product Searched"};

/* a stored track message of about `bytes` bytes, shaped like the server's */
static int synth_body(char *out, size_t cap, int bytes, const char *name, uint64_t user, int64_t ts) {
  int n = snprintf(out, cap,
                   "{\"type\":\"track\",\"userId\":\"user-%05" PRIu64 "\",\"event\":\"%s\","
                   "\"properties\":{\"product_id\":\"sku-%05" PRIu64 "\",\"price\":%" PRIu64
                   ".99,\"note\":\"",
                   user, name, next_u64() % 100000, next_u64() % 300);
  const char *tail_fmt = "\"},\"context\":{\"ip\":\"10.0.%u.%u\"},\"timestamp\":\"%" PRId64
                         "\",\"receivedAt\":\"%" PRId64 "\",\"messageId\":\"%016" PRIx64 "%016" PRIx64 "\"}";
  char tail[256];
  int t = snprintf(tail, sizeof tail, tail_fmt, (unsigned)(user >> 8) & 255, (unsigned)user & 255,
                   ts, ts, next_u64(), next_u64());
  int pad = bytes - n - t;
  for (int i = 0; i < pad && (size_t)n + 1 < cap; i++) out[n++] = (char)('a' + next_u64() % 26);
  if ((size_t)(n + t) >= cap) return -1;
  memcpy(out + n, tail, (size_t)t + 1);
  return n + t;
}

static int synth(const char *path, long long rows, long group, int body_bytes, uint64_t users) {
  enum { POOL = 16384 };
  static char pool[POOL][1024];
  static int pool_len[POOL], pool_name[POOL];
  static uint64_t pool_user[POOL];
  if (body_bytes > 1000) body_bytes = 1000;
  int64_t base = wall_ms();
  for (int i = 0; i < POOL; i++) {
    pool_user[i] = next_u64() % users + 1;
    pool_name[i] = (int)(next_u64() % (sizeof names / sizeof names[0]));
    pool_len[i] = synth_body(pool[i], sizeof pool[i], body_bytes, names[pool_name[i]], pool_user[i], base);
    if (pool_len[i] < 0) return 1;
  }
  double t0 = now_s();
  sqlite3 *db = open_db(path, 1);
  appender a;
  app_init(&a, db, group);
  for (long long r = 0; r < rows; r++) {
    int k = (int)(next_u64() % POOL);
    int64_t ts = base + r;
    app_row(&a, 2, (int64_t)pool_user[k], ts, ts, names[pool_name[k]], -1, pool[k], pool_len[k]);
  }
  app_finish(&a);
  if (sqlite3_close(db) != SQLITE_OK) die(db, "close");
  double secs = now_s() - t0;
  char wal[4200];
  snprintf(wal, sizeof wal, "%s-wal", path);
  report("synth", path, a.rows, secs, group, a.body_bytes, file_size(path) + file_size(wal));
  return 0;
}

/* the value of "key":"..." in line, by substring search */
static const char *str_field(const char *line, const char *key, int *len) {
  const char *p = strstr(line, key);
  if (!p) return NULL;
  p += strlen(key);
  const char *e = strchr(p, '"');
  if (!e) return NULL;
  *len = (int)(e - p);
  return p;
}

static int from_file(const char *path, const char *input, long group) {
  FILE *f = fopen(input, "r");
  if (!f) {
    perror(input);
    return 1;
  }
  static char rdbuf[1 << 20];
  setvbuf(f, rdbuf, _IOFBF, sizeof rdbuf);
  double t0 = now_s();
  sqlite3 *db = open_db(path, 1);
  appender a;
  app_init(&a, db, group);
  char *line = NULL, *body = NULL;
  size_t cap = 0, bcap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) > 0) {
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    if (n < 2 || line[n - 1] != '}') continue;
    if (bcap < (size_t)n + 160) {
      bcap = (size_t)n + 160;
      body = realloc(body, bcap);
      if (!body) return 1;
    }
    int64_t recv = wall_ms();
    int tl = 0, nl = 0, ul = 0;
    const char *type = str_field(line, "\"type\":\"", &tl);
    int t = !type ? 2 : !strncmp(type, "identify", 8) ? 1 : !strncmp(type, "page", 4) ? 3 : 2;
    const char *name = str_field(line, t == 2 ? "\"event\":\"" : "\"name\":\"", &nl);
    const char *user = str_field(line, "\"userId\":\"", &ul);
    if (!user) user = str_field(line, "\"anonymousId\":\"", &ul);
    uint64_t cust = 1469598103934665603ULL;
    for (int i = 0; user && i < ul; i++) cust = (cust ^ (unsigned char)user[i]) * 1099511628211ULL;
    int bl = (int)n - 1;
    memcpy(body, line, (size_t)bl);
    bl += snprintf(body + bl, bcap - (size_t)bl, ",\"receivedAt\":\"%" PRId64 "\"", recv);
    if (!strstr(line, "\"messageId\":"))
      bl += snprintf(body + bl, bcap - (size_t)bl, ",\"messageId\":\"%016" PRIx64 "%016" PRIx64 "\"",
                     next_u64(), next_u64());
    body[bl++] = '}';
    app_row(&a, t, (int64_t)(cust % 1000000) + 1, recv, recv, name, nl, body, bl);
  }
  free(line);
  free(body);
  fclose(f);
  app_finish(&a);
  if (sqlite3_close(db) != SQLITE_OK) die(db, "close");
  double secs = now_s() - t0;
  char wal[4200];
  snprintf(wal, sizeof wal, "%s-wal", path);
  report("file", path, a.rows, secs, group, a.body_bytes, file_size(path) + file_size(wal));
  return 0;
}

static int scan(const char *path) {
  double t0 = now_s();
  sqlite3 *db = open_db(path, 0);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT seq, customer_id, ts FROM events", -1, &st, NULL) != SQLITE_OK)
    die(db, "prepare");
  long long rows = 0;
  int64_t sum = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    sum += sqlite3_column_int64(st, 0) ^ sqlite3_column_int64(st, 1) ^ sqlite3_column_int64(st, 2);
    rows++;
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  double secs = now_s() - t0;
  if (sum == 42) fputc(' ', stderr); /* keep the loop */
  char wal[4200];
  snprintf(wal, sizeof wal, "%s-wal", path);
  report("scan", path, rows, secs, 0, 0, file_size(path) + file_size(wal));
  return 0;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "", *db = NULL, *input = NULL;
  long long rows = 1000000;
  long group = 1000;
  int body = 380;
  uint64_t users = 10000;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--db")) db = argv[i + 1];
    else if (!strcmp(argv[i], "--input")) input = argv[i + 1];
    else if (!strcmp(argv[i], "--rows")) rows = atoll(argv[i + 1]);
    else if (!strcmp(argv[i], "--group")) group = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--body-bytes")) body = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--users")) users = (uint64_t)atoll(argv[i + 1]);
    else {
      fprintf(stderr, "ref_sqlite_append: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (!db || (strcmp(mode, "synth") && strcmp(mode, "file") && strcmp(mode, "scan")) ||
      (!strcmp(mode, "file") && !input)) {
    fprintf(stderr, "usage: ref_sqlite_append synth|file|scan --db PATH [--rows N] [--group G]"
                    " [--body-bytes B] [--users U] [--input FILE]\n");
    return 2;
  }
  if (users < 1) users = 1;
  if (!strcmp(mode, "synth")) return synth(db, rows, group, body, users);
  if (!strcmp(mode, "file")) return from_file(db, input, group);
  return scan(db);
}
