/* util.h - small helpers for untrusted text: UTF-8 validation, hashing,
 * random identifiers, secret hashing. */
#ifndef CX_UTIL_H
#define CX_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include "err.h"

/* 1 when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates). */
int cx_utf8_valid(const char *s, size_t n);
/* Replaces each byte of s (NUL-terminated) that is not part of a valid
 * UTF-8 sequence with '?': for messages that quote their input. */
void cx_utf8_scrub(char *s);
/* 64-bit FNV-1a of s[0..n), salted by `seed`; never returns 0. */
uint64_t cx_hash64(uint64_t seed, const char *s, size_t n);
/* Random UUID version 4 into out (37 bytes). */
void cx_uuid4(char out[37]);
/* Random secret: prefix followed by 32 hex characters (16 random bytes).
 * out must hold strlen(prefix) + 33 bytes. */
void cx_secret(const char *prefix, char *out, size_t outlen);
/* Hex BLAKE2b-256 of secret[0..n) into out (65 bytes): how secrets are kept. */
void cx_secret_hash(const char *secret, size_t n, char out[65]);
/* Constant-time comparison of two equal-length strings of len bytes. */
int cx_ct_equal(const char *a, const char *b, size_t len);
/* Parses a decimal int64 from s[0..n) entirely; CX_EINVAL otherwise. */
cx_err cx_parse_i64(const char *s, size_t n, int64_t *out);
/* Initialise libsodium; call once at start. */
cx_err cx_crypto_init(void);

#endif
