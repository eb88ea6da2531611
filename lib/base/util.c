#include "util.h"
#include <sodium.h>
#include <stdio.h>
#include <string.h>

cx_err cx_crypto_init(void) { return sodium_init() < 0 ? CX_EIO : CX_OK; }

int cx_utf8_valid(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) { i++; continue; }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
    else return 0;
    if (i + len > n) return 0;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    i += len;
  }
  return 1;
}

void cx_utf8_scrub(char *s) {
  size_t n = strlen(s), i = 0;
  while (i < n) {
    size_t len = 1;
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x80) {
      len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
      if (!len || i + len > n || !cx_utf8_valid(s + i, len)) {
        s[i++] = '?';
        continue;
      }
    }
    i += len;
  }
}

uint64_t cx_hash64(uint64_t seed, const char *s, size_t n) {
  uint64_t h = 1469598103934665603ULL ^ (seed * 0x9E3779B97F4A7C15ULL);
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ULL;
  }
  /* final avalanche (murmur3 fmix64) so that low bits are usable directly */
  h ^= h >> 33; h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h ? h : 1;
}

/* UUIDs come from a per-thread ChaCha20 stream (libsodium's deterministic
 * generator keyed once from the OS): a getrandom(2) call per message was
 * measurable on the ingest path. */
static _Thread_local unsigned char uuid_seed[randombytes_SEEDBYTES];
static _Thread_local uint64_t uuid_counter;

void cx_uuid4(char out[37]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char b[16];
  if (uuid_counter == 0) randombytes_buf(uuid_seed, sizeof uuid_seed);
  uuid_counter++;
  memcpy(uuid_seed, &uuid_counter, sizeof uuid_counter); /* a fresh seed per call */
  randombytes_buf_deterministic(b, sizeof b, uuid_seed);
  b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
  size_t k = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[k++] = '-';
    out[k++] = hex[b[i] >> 4];
    out[k++] = hex[b[i] & 15];
  }
  out[k] = 0;
}

void cx_secret(const char *prefix, char *out, size_t outlen) {
  unsigned char b[16];
  char hex[33];
  randombytes_buf(b, sizeof b);
  sodium_bin2hex(hex, sizeof hex, b, sizeof b);
  snprintf(out, outlen, "%s%s", prefix, hex);
}

void cx_secret_hash(const char *secret, size_t n, char out[65]) {
  unsigned char h[32];
  crypto_generichash(h, sizeof h, (const unsigned char *)secret, n, NULL, 0);
  sodium_bin2hex(out, 65, h, sizeof h);
}

int cx_ct_equal(const char *a, const char *b, size_t len) { return sodium_memcmp(a, b, len) == 0; }

cx_err cx_parse_i64(const char *s, size_t n, int64_t *out) {
  if (n == 0 || n > 18) return CX_EINVAL;
  int64_t v = 0;
  size_t i = 0;
  int neg = 0;
  if (s[0] == '-') { neg = 1; i = 1; if (n == 1) return CX_EINVAL; }
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return CX_EINVAL;
    v = v * 10 + (s[i] - '0');
  }
  *out = neg ? -v : v;
  return CX_OK;
}
