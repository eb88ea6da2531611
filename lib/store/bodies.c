/* bodies.c - the events' message text, kept in blocks.
 *
 * The events table holds what the indexes read (customer, type, name,
 * times); the message itself is only read back for a timeline, an export,
 * an event property in a rule. Stored one row per event, its insert cost
 * more than the events row and the whole identity resolution together
 * (docs/internals/store.md). So the bodies of consecutive events are
 * written together, one event_blocks row per block:
 *
 *   first_seq  the seq of the block's first event (the rowid)
 *   n          how many events follow from it (first_seq .. first_seq+n-1)
 *   data       the block, packed or not (below)
 *
 * A block is u32 n | u32 end[n] | the bodies, back to back. end[i] is
 * where body i ends, counted from the end of the header (u32s
 * little-endian); body i starts where body i-1 ends (0 for the first). An
 * empty body is an erased one. A block holds the bodies of one job's
 * consecutive events, up to STORE_BLOCK_BYTES, so that a reader of one
 * body reads one block of a few pages.
 *
 * data is the block packed with LZ4 when that makes it smaller (JSON
 * messages pack about 3 to 1): u32 PACKED | u32 the block's length | u32
 * the CRC-32 of the LZ4 block | the LZ4 block. A block's first u32 is n,
 * at most STORE_BLOCK_EVENTS, so PACKED cannot be mistaken for one. LZ4
 * has no check of its own, and a damaged reference would copy other
 * events' bytes into a body: the CRC makes damage an error instead. Every
 * byte stored is written three times (WAL, checkpoint, disk); ingest packs
 * on the submitting thread (store_block_build), the writer only what it
 * groups itself (docs/internals/store.md). Blocks written before
 * migration 16 are not packed and are read as they are.
 *
 * Databases written before migration 14 hold one event_bodies row per
 * event: a seq that no block covers is looked up there. */
#include "store_int.h"
#include "../base/buf.h"
#include "../base/log.h"
#include "../base/mem.h"
#include <lz4.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define HDR(n) (4 + 4 * (size_t)(n))
#define PACKED 0x31345A4Cu /* "LZ41" */
#define PACK_HDR 12
#define BLOCK_MAX STORE_BLOCK_RAW_MAX

static void put_u32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Checks a block's header against its length: 1 when it can be read. */
static int block_valid(const unsigned char *d, size_t len, int64_t n) {
  if (n <= 0 || n > STORE_BLOCK_EVENTS || len < HDR(n) || get_u32(d) != (uint32_t)n) return 0;
  uint32_t prev = 0;
  for (int64_t i = 0; i < n; i++) {
    uint32_t e = get_u32(d + 4 + 4 * i);
    if (e < prev || HDR(n) + e > len) return 0;
    prev = e;
  }
  return 1;
}

/* Appends to out what to store for the block raw[0..len): packed when
 * that is shorter, raw itself otherwise. */
static cx_err pack(const unsigned char *raw, size_t len, cx_buf *out) {
  int bound = LZ4_compressBound((int)len);
  cx_err rc = cx_buf_reserve(out, PACK_HDR + (size_t)bound);
  if (rc) return rc;
  unsigned char *o = (unsigned char *)out->p + out->len;
  int z = LZ4_compress_default((const char *)raw, (char *)o + PACK_HDR, (int)len, bound);
  if (z > 0 && PACK_HDR + (size_t)z < len) {
    put_u32(o, PACKED);
    put_u32(o + 4, (uint32_t)len);
    put_u32(o + 8, (uint32_t)crc32(0, o + PACK_HDR, (uInt)z));
    out->len += PACK_HDR + (size_t)z;
    out->p[out->len] = 0;
    return CX_OK;
  }
  return cx_buf_append(out, raw, len);
}

/* The block of stored data d[0..dl) into `block` (replacing what it held),
 * unpacked when it is packed, and checked against n: CX_EDB when it is
 * damaged (logged). */
static cx_err unpack(const unsigned char *d, size_t dl, int64_t first, int64_t n, cx_buf *block) {
  cx_buf_reset(block);
  cx_err rc = CX_OK;
  if (d && dl >= PACK_HDR && get_u32(d) == PACKED) {
    uint32_t len = get_u32(d + 4);
    if (len > BLOCK_MAX || dl - PACK_HDR > INT32_MAX ||
        get_u32(d + 8) != (uint32_t)crc32(0, d + PACK_HDR, (uInt)(dl - PACK_HDR)))
      rc = CX_EDB;
    else if (!(rc = cx_buf_reserve(block, len)) &&
             LZ4_decompress_safe((const char *)d + PACK_HDR, block->p, (int)(dl - PACK_HDR), (int)len) != (int)len)
      rc = CX_EDB;
    if (!rc) {
      block->len = len;
      block->p[len] = 0;
    }
  } else if (d) {
    rc = cx_buf_append(block, d, dl);
  } else {
    rc = CX_EDB;
  }
  if (rc == CX_EDB || (!rc && !block_valid((const unsigned char *)block->p, block->len, n))) {
    char at[24];
    snprintf(at, sizeof at, "%lld", (long long)first);
    cx_log("error", "event_block_damaged", "first_seq", at, NULL);
    cx_buf_reset(block);
    return CX_EDB;
  }
  return rc;
}

/* ---- the writer's open block ---- */

struct store_blocks {
  int64_t first;   /* seq of the first body held; 0: none */
  uint32_t n;
  uint32_t ends[STORE_BLOCK_EVENTS];
  cx_buf bodies;   /* owned; the bodies back to back */
  cx_buf out;      /* owned; the assembled block */
  cx_buf packed;   /* owned; out packed */
  sqlite3_stmt *ins;
  sqlite3 *ins_db; /* the connection ins belongs to */
};

cx_err store_blocks_new(store_blocks **out) {
  store_blocks *b = cx_calloc(1, sizeof *b);
  if (!b) return CX_ENOMEM;
  /* a block of one may hold the largest body */
  cx_buf_init(&b->bodies, STORE_BLOCK_BYTES + STORE_BODY_MAX);
  cx_buf_init(&b->out, BLOCK_MAX);
  cx_buf_init(&b->packed, PACK_HDR + (size_t)LZ4_COMPRESSBOUND(BLOCK_MAX));
  *out = b;
  return CX_OK;
}

void store_blocks_free(store_blocks *b) {
  if (!b) return;
  sqlite3_finalize(b->ins);
  cx_buf_free(&b->bodies);
  cx_buf_free(&b->out);
  cx_buf_free(&b->packed);
  cx_free(b);
}

void store_blocks_discard(store_blocks *b) {
  b->first = 0;
  b->n = 0;
  cx_buf_reset(&b->bodies);
}

/* Inserts one block row. */
static cx_err insert(store_blocks *b, sqlite3 *db, int64_t first, uint32_t n, const void *data,
                     size_t len) {
  if (b->ins_db != db) {
    sqlite3_finalize(b->ins);
    b->ins = NULL;
    b->ins_db = NULL;
    if (sqlite3_prepare_v3(db, "INSERT INTO event_blocks(first_seq, n, data) VALUES(?1, ?2, ?3)", -1,
                           SQLITE_PREPARE_PERSISTENT, &b->ins, NULL) != SQLITE_OK)
      return CX_EDB;
    b->ins_db = db;
  }
  sqlite3_bind_int64(b->ins, 1, first);
  sqlite3_bind_int64(b->ins, 2, n);
  sqlite3_bind_blob(b->ins, 3, data, (int)len, SQLITE_STATIC);
  int r = sqlite3_step(b->ins);
  sqlite3_reset(b->ins);
  sqlite3_clear_bindings(b->ins);
  if (r != SQLITE_DONE) {
    cx_log("error", "event_block_insert_failed", "error", sqlite3_errmsg(db), NULL);
    return CX_EDB;
  }
  return CX_OK;
}

cx_err store_blocks_flush(store_blocks *b, sqlite3 *db) {
  if (!b->n) return CX_OK;
  cx_buf_reset(&b->out);
  cx_err rc = cx_buf_reserve(&b->out, HDR(b->n) + b->bodies.len);
  if (rc) return rc;
  unsigned char *p = (unsigned char *)b->out.p;
  put_u32(p, b->n);
  for (uint32_t i = 0; i < b->n; i++) put_u32(p + 4 + 4 * (size_t)i, b->ends[i]);
  memcpy(p + HDR(b->n), b->bodies.p, b->bodies.len);
  cx_buf_reset(&b->packed);
  if ((rc = pack(p, HDR(b->n) + b->bodies.len, &b->packed)) ||
      (rc = insert(b, db, b->first, b->n, b->packed.p, b->packed.len)))
    return rc;
  store_blocks_discard(b);
  return CX_OK;
}

cx_err store_blocks_put(store_blocks *b, sqlite3 *db, int64_t first, uint32_t n, const void *data,
                        size_t len) {
  cx_err rc = store_blocks_flush(b, db);
  return rc ? rc : insert(b, db, first, n, data, len);
}

int store_block_fits(uint32_t n, size_t bytes, size_t len) {
  return !n || (n < STORE_BLOCK_EVENTS && bytes + len <= STORE_BLOCK_BYTES);
}

size_t store_block_bound(uint32_t n, size_t bytes) {
  return PACK_HDR + (size_t)LZ4_COMPRESSBOUND(HDR(n) + bytes);
}

cx_err store_block_build(const char *const *body, const size_t *len, uint32_t n, cx_buf *raw,
                         cx_buf *out) {
  /* what store_blocks_add would take: no empty body (an erased one), none
   * past STORE_BODY_MAX, grouped as store_block_fits allows */
  size_t bytes = 0;
  if (!n) return CX_EINVAL;
  for (uint32_t i = 0; i < n; i++) {
    if (!len[i] || len[i] > STORE_BODY_MAX || !store_block_fits(i, bytes, len[i])) return CX_EINVAL;
    bytes += len[i];
  }
  cx_buf_reset(raw);
  cx_err rc = cx_buf_reserve(raw, HDR(n) + bytes);
  if (rc) return rc;
  unsigned char *p = (unsigned char *)raw->p;
  put_u32(p, n);
  size_t at = 0;
  for (uint32_t i = 0; i < n; i++) {
    memcpy(p + HDR(n) + at, body[i], len[i]);
    at += len[i];
    put_u32(p + 4 + 4 * (size_t)i, (uint32_t)at);
  }
  return pack(p, HDR(n) + bytes, out);
}

cx_err store_blocks_add(store_blocks *b, sqlite3 *db, int64_t seq, const char *body, size_t len) {
  if (!len || len > STORE_BODY_MAX) return CX_EINVAL;
  cx_err rc;
  if (b->n && (seq != b->first + b->n || !store_block_fits(b->n, b->bodies.len, len)) &&
      (rc = store_blocks_flush(b, db)))
    return rc;
  if ((rc = cx_buf_append(&b->bodies, body, len))) return rc;
  if (!b->n) b->first = seq;
  b->ends[b->n++] = (uint32_t)b->bodies.len;
  return CX_OK;
}

/* ---- reading ---- */

struct store_body_reader {
  sqlite3 *db;
  sqlite3_stmt *find, *legacy; /* legacy: prepared when first needed */
  int64_t first, n; /* the block held in `block`; n 0: none */
  cx_buf block;     /* owned: the block, unpacked */
  cx_buf one;       /* owned: a legacy row's body */
};

cx_err store_body_reader_open(sqlite3 *db, store_body_reader **out) {
  *out = NULL;
  store_body_reader *r = cx_calloc(1, sizeof *r);
  if (!r) return CX_ENOMEM;
  r->db = db;
  cx_buf_init(&r->block, BLOCK_MAX);
  cx_buf_init(&r->one, STORE_BODY_MAX + 1024);
  if (sqlite3_prepare_v2(db, "SELECT first_seq, n, data FROM event_blocks WHERE first_seq <= ?1"
                             " ORDER BY first_seq DESC LIMIT 1", -1, &r->find, NULL) != SQLITE_OK) {
    store_body_reader_close(r);
    return CX_EDB;
  }
  *out = r;
  return CX_OK;
}

void store_body_reader_close(store_body_reader *r) {
  if (!r) return;
  sqlite3_finalize(r->find);
  sqlite3_finalize(r->legacy);
  cx_buf_free(&r->block);
  cx_buf_free(&r->one);
  cx_free(r);
}

cx_err store_body_read(store_body_reader *r, int64_t seq, const char **body, size_t *len) {
  *body = NULL;
  *len = 0;
  if (!(r->n && seq >= r->first && seq < r->first + r->n)) {
    r->n = 0;
    cx_buf_reset(&r->block);
    sqlite3_bind_int64(r->find, 1, seq);
    int step = sqlite3_step(r->find);
    cx_err rc = CX_OK;
    if (step == SQLITE_ROW) {
      int64_t first = sqlite3_column_int64(r->find, 0), n = sqlite3_column_int64(r->find, 1);
      if (seq < first + n) {
        const unsigned char *d = sqlite3_column_blob(r->find, 2);
        size_t dl = (size_t)sqlite3_column_bytes(r->find, 2);
        if (!(rc = unpack(d, dl, first, n, &r->block))) {
          r->first = first;
          r->n = n;
        }
      }
    } else if (step != SQLITE_DONE) {
      rc = CX_EDB;
    }
    sqlite3_reset(r->find);
    if (rc) return rc;
  }
  if (r->n) {
    const unsigned char *d = (const unsigned char *)r->block.p;
    size_t i = (size_t)(seq - r->first);
    uint32_t start = i ? get_u32(d + 4 + 4 * (i - 1)) : 0, end = get_u32(d + 4 + 4 * i);
    if (end > start) {
      *body = (const char *)d + HDR(r->n) + start;
      *len = end - start;
    }
    return CX_OK; /* empty: erased */
  }
  /* no block covers seq: a row of an older database, or none */
  if (!r->legacy &&
      sqlite3_prepare_v2(r->db, "SELECT body FROM event_bodies WHERE seq = ?1", -1, &r->legacy, NULL) != SQLITE_OK)
    return CX_EDB;
  sqlite3_bind_int64(r->legacy, 1, seq);
  int step = sqlite3_step(r->legacy);
  cx_err rc = CX_OK;
  if (step == SQLITE_ROW) {
    cx_buf_reset(&r->one);
    rc = cx_buf_append(&r->one, sqlite3_column_text(r->legacy, 0), (size_t)sqlite3_column_bytes(r->legacy, 0));
    if (!rc && r->one.len) {
      *body = r->one.p;
      *len = r->one.len;
    }
  } else if (step != SQLITE_DONE) {
    rc = CX_EDB;
  }
  sqlite3_reset(r->legacy);
  return rc;
}

/* ---- erasing ---- */

/* Rewrites the block held in r with the bodies marked in `gone` emptied
 * (deleted when none is left). */
static cx_err rewrite_block(sqlite3 *db, store_body_reader *r, const unsigned char *gone) {
  const unsigned char *d = (const unsigned char *)r->block.p;
  cx_buf out, packed;
  cx_buf_init(&out, r->block.len + 1);
  cx_buf_init(&packed, PACK_HDR + (size_t)LZ4_COMPRESSBOUND(BLOCK_MAX));
  cx_err rc = cx_buf_reserve(&out, r->block.len);
  size_t kept = 0, at = 0;
  unsigned char *o = (unsigned char *)out.p;
  if (!rc) {
    put_u32(o, (uint32_t)r->n);
    uint32_t prev = 0;
    for (int64_t i = 0; i < r->n; i++) {
      uint32_t end = get_u32(d + 4 + 4 * i);
      if (!gone[i] && end > prev) {
        memcpy(o + HDR(r->n) + at, d + HDR(r->n) + prev, end - prev);
        at += end - prev;
        kept++;
      }
      put_u32(o + 4 + 4 * i, (uint32_t)at);
      prev = end;
    }
  }
  if (!rc && kept) rc = pack(o, HDR(r->n) + at, &packed);
  sqlite3_stmt *st = NULL;
  if (!rc && sqlite3_prepare_v2(db, kept ? "UPDATE event_blocks SET data = ?2 WHERE first_seq = ?1"
                                         : "DELETE FROM event_blocks WHERE first_seq = ?1",
                                -1, &st, NULL) != SQLITE_OK)
    rc = CX_EDB;
  if (!rc) {
    sqlite3_bind_int64(st, 1, r->first);
    if (kept) sqlite3_bind_blob(st, 2, packed.p, (int)packed.len, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) rc = CX_EDB;
  }
  sqlite3_finalize(st);
  cx_buf_free(&out);
  cx_buf_free(&packed);
  return rc;
}

cx_err store_bodies_erase(sqlite3 *db, const char *seq_sql, int64_t arg, uint64_t *erased) {
  sqlite3_stmt *seqs = NULL, *legacy = NULL;
  store_body_reader *r = NULL;
  unsigned char gone[STORE_BLOCK_EVENTS] = {0}; /* of the block r holds */
  int marked = 0;                               /* some of gone[] is set */
  uint64_t count = 0;
  cx_err rc = store_body_reader_open(db, &r);
  if (!rc && (sqlite3_prepare_v2(db, seq_sql, -1, &seqs, NULL) != SQLITE_OK ||
              sqlite3_prepare_v2(db, "DELETE FROM event_bodies WHERE seq = ?1", -1, &legacy, NULL) != SQLITE_OK))
    rc = CX_EDB;
  if (!rc && sqlite3_bind_parameter_count(seqs)) sqlite3_bind_int64(seqs, 1, arg);
  while (!rc) {
    int step = sqlite3_step(seqs);
    if (step != SQLITE_ROW) {
      if (step != SQLITE_DONE) rc = CX_EDB;
      break;
    }
    int64_t seq = sqlite3_column_int64(seqs, 0);
    if (marked && !(seq >= r->first && seq < r->first + r->n)) {
      rc = rewrite_block(db, r, gone);
      memset(gone, 0, sizeof gone);
      marked = 0;
      r->n = 0; /* read the next block afresh */
    }
    const char *body;
    size_t len;
    if (!rc) rc = store_body_read(r, seq, &body, &len);
    if (rc || !body) continue;
    if (r->n) {
      gone[seq - r->first] = 1;
      marked = 1;
    } else {
      sqlite3_bind_int64(legacy, 1, seq);
      if (sqlite3_step(legacy) != SQLITE_DONE) rc = CX_EDB;
      sqlite3_reset(legacy);
    }
    count++;
  }
  if (!rc && marked) rc = rewrite_block(db, r, gone);
  sqlite3_finalize(seqs);
  sqlite3_finalize(legacy);
  store_body_reader_close(r);
  if (erased) *erased = count;
  return rc;
}
