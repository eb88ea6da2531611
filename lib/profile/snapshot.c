/* snapshot.c - the timelines saved at a clean stop, so that the next start
 * reads them in one sequential pass and scans only the log's tail.
 *
 * File: "<database>-timelines", written to a temporary name and renamed,
 * not synced: it is a cache of the log, and one that a crash left short or
 * damaged fails its hash at the next start, which then scans the log.
 * Layout (native byte order; the header says which):
 *   header: magic "CXMTL\0\0\1", byte-order mark, sizeof(profile_point),
 *           snap_seq (the newest event covered), the mid_hash of that event,
 *           nkinds, ncust (records), npoints, payload bytes, payload hash
 *   payload: nkinds × {u8 type, u32 len, name bytes}
 *            ncust  × {i64 customer, u32 n, n × profile_point}
 * The payload hash chains cx_hash64 over 1 MiB blocks.
 *
 * Validity: the log is append-only, so events up to snap_seq never change;
 * the snapshot is used only when the log's event snap_seq still has the
 * recorded mid_hash (a store restored from an older backup does not), and
 * when the whole payload hashes and parses. Customers merged since are
 * handled by the loader, which files each record under its current root.
 * Anything else: the snapshot is ignored (logged) and the log is scanned. */
#include "profile_int.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/util.h"
#include "../store/store.h"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define BLOCK (1u << 20)
#define SNAP_MAX_NAME 4096 /* ingest caps names far below this */
static const char MAGIC[8] = {'C', 'X', 'M', 'T', 'L', 0, 0, 1};

typedef struct {
  char magic[8];
  uint32_t bom, point_size;
  int64_t snap_seq;
  int64_t snap_mid;
  uint64_t nkinds, ncust, npoints, payload, hash;
} snap_header;

/* ---- writing ---- */

typedef struct {
  FILE *f;
  char *buf;
  size_t len;
  uint64_t hash, total;
  int err;
} writer;

static void w_flush(writer *w) {
  if (!w->len) return;
  w->hash = cx_hash64(w->hash, w->buf, w->len);
  if (fwrite(w->buf, 1, w->len, w->f) != w->len) w->err = 1;
  w->total += w->len;
  w->len = 0;
}

static void w_put(writer *w, const void *p, size_t n) {
  const char *s = p;
  while (n) {
    size_t k = BLOCK - w->len < n ? BLOCK - w->len : n;
    memcpy(w->buf + w->len, s, k);
    w->len += k;
    s += k;
    n -= k;
    if (w->len == BLOCK) w_flush(w);
  }
}

cx_err profile_save(profile *p, sqlite3 *db) {
  char path[4200], tmp[4210];
  store_side_path(db, "timelines", path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int64_t mid, seq;
  if (!path[0] || store_log_head(db, &seq, &mid)) return CX_EDB;
  writer w = {0};
  if (!(w.buf = cx_malloc(BLOCK))) return CX_ENOMEM;
  if (!(w.f = fopen(tmp, "wb"))) {
    cx_free(w.buf);
    return CX_EIO;
  }
  snap_header h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, MAGIC, sizeof MAGIC);
  h.bom = 0x01020304u;
  h.point_size = sizeof(profile_point);
  h.snap_seq = seq;
  h.snap_mid = mid;
  if (fwrite(&h, sizeof h, 1, w.f) != 1) w.err = 1;
  pthread_rwlock_rdlock(&p->lock);
  h.nkinds = p->nkinds;
  for (uint32_t k = 1; k <= p->nkinds; k++) {
    uint8_t type = (uint8_t)p->kinds[k].type;
    uint32_t len = (uint32_t)strlen(p->kinds[k].name);
    w_put(&w, &type, 1);
    w_put(&w, &len, 4);
    w_put(&w, p->kinds[k].name, len);
  }
  for (int64_t id = 1; id <= p->ncust; id++) {
    const profile_customer *c = &p->cust[id];
    if (c->parent != id || !c->n) continue;
    w_put(&w, &id, 8);
    w_put(&w, &c->n, 4);
    w_put(&w, c->tl, c->n * sizeof *c->tl);
    h.ncust++;
    h.npoints += c->n;
  }
  pthread_rwlock_unlock(&p->lock);
  w_flush(&w);
  h.payload = w.total;
  h.hash = w.hash;
  if (fseek(w.f, 0, SEEK_SET) || fwrite(&h, sizeof h, 1, w.f) != 1 || fflush(w.f)) w.err = 1;
  if (fclose(w.f)) w.err = 1;
  cx_free(w.buf);
  if (w.err || rename(tmp, path)) {
    unlink(tmp);
    cx_log("warn", "snapshot_not_saved", "path", path, NULL);
    return CX_EIO;
  }
  char n[32];
  snprintf(n, sizeof n, "%llu", (unsigned long long)h.npoints);
  cx_log("info", "snapshot_saved", "path", path, "events", n, NULL);
  return CX_OK;
}

/* ---- reading ---- */

typedef struct {
  FILE *f;
  char *buf;
  size_t len, at;
  uint64_t hash, left; /* payload bytes not yet read into buf */
  int err;
} reader;

static int r_fill(reader *r) {
  size_t k = r->left < BLOCK ? (size_t)r->left : BLOCK;
  if (!k || fread(r->buf, 1, k, r->f) != k) return 0;
  r->hash = cx_hash64(r->hash, r->buf, k);
  r->left -= k;
  r->len = k;
  r->at = 0;
  return 1;
}

static int r_get(reader *r, void *p, size_t n) {
  char *d = p;
  while (n) {
    if (r->at == r->len && !r_fill(r)) return r->err = 1, 0;
    size_t k = r->len - r->at < n ? r->len - r->at : n;
    if (d) memcpy(d, r->buf + r->at, k), d += k;
    r->at += k;
    n -= k;
  }
  return 1;
}

/* One pass over the payload: without fill it checks (shape, bounds and
 * hash); with fill it files the points, which the check has proved fit. */
static int pass(profile *p, FILE *f, const snap_header *h, const uint32_t *root, int64_t ncust,
                uint32_t *kind_map, uint32_t *rowc, profile_point *rowp, size_t max, size_t *n,
                int fill) {
  reader r = {.f = f, .left = h->payload};
  if (!(r.buf = cx_malloc(BLOCK)) || fseek(f, sizeof *h, SEEK_SET)) {
    cx_free(r.buf);
    return 0;
  }
  int ok = 1;
  char name[SNAP_MAX_NAME + 1];
  for (uint64_t k = 1; ok && k <= h->nkinds; k++) {
    uint8_t type;
    uint32_t len;
    ok = r_get(&r, &type, 1) && r_get(&r, &len, 4) && len < sizeof name && r_get(&r, name, len);
    if (!ok) break;
    name[len] = 0;
    if (fill && profile_kind_intern(p, type, name, &kind_map[k])) ok = 0;
  }
  size_t got = 0;
  for (uint64_t c = 0; ok && c < h->ncust; c++) {
    int64_t id;
    uint32_t cnt;
    ok = r_get(&r, &id, 8) && r_get(&r, &cnt, 4) && id > 0 && id <= ncust && cnt <= max - got;
    if (!ok) break;
    uint32_t to = root[id];
    for (uint32_t i = 0; ok && i < cnt; i++) {
      profile_point pt;
      ok = r_get(&r, &pt, sizeof pt) && pt.kind >= 1 && pt.kind <= h->nkinds;
      if (ok && fill && to) {
        pt.kind = kind_map[pt.kind];
        rowc[*n] = to;
        rowp[(*n)++] = pt;
      }
    }
    got += cnt;
  }
  ok = ok && got == h->npoints && r.at == r.len && r.left == 0 && (fill || r.hash == h->hash);
  cx_free(r.buf);
  return ok;
}

int profile_snapshot_load(profile *p, sqlite3 *db, const uint32_t *root, uint32_t *rowc,
                          profile_point *rowp, size_t max, size_t *n, int64_t *snap_seq) {
  char path[4200];
  store_side_path(db, "timelines", path, sizeof path);
  FILE *f = path[0] ? fopen(path, "rb") : NULL;
  if (!f) return 0;
  snap_header h;
  const char *why = NULL;
  uint32_t *kind_map = NULL;
  if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, MAGIC, sizeof MAGIC) || h.bom != 0x01020304u ||
      h.point_size != sizeof(profile_point) || h.nkinds >= UINT32_MAX)
    why = "not a timelines snapshot of this version";
  if (!why && (h.npoints > max || !store_log_holds(db, h.snap_seq, h.snap_mid)))
    why = "it does not match the log (restored from a backup?)";
  if (!why && !(kind_map = cx_calloc(h.nkinds + 1, sizeof *kind_map))) why = "out of memory";
  if (!why && !pass(p, f, &h, root, p->ncust, kind_map, rowc, rowp, max, n, 0))
    why = "it is damaged (hash or shape)";
  int used = 0;
  if (!why) {
    /* checked: this pass cannot fail but on a read error */
    if (pass(p, f, &h, root, p->ncust, kind_map, rowc, rowp, max, n, 1)) {
      used = 1;
      *snap_seq = h.snap_seq;
      char ev[32], sq[32];
      snprintf(ev, sizeof ev, "%llu", (unsigned long long)h.npoints);
      snprintf(sq, sizeof sq, "%lld", (long long)h.snap_seq);
      cx_log("info", "snapshot_loaded", "path", path, "events", ev, "up_to_seq", sq, NULL);
    } else {
      why = "it could not be read";
    }
  }
  if (why) cx_log("warn", "snapshot_ignored", "path", path, "reason", why, NULL);
  cx_free(kind_map);
  fclose(f);
  return used;
}
