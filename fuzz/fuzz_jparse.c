/* fuzz_jparse.c - libFuzzer driver for ingest_json_parse (lib/ingest/jparse.c).
 *
 * Differential: on every input it must do what cJSON_ParseWithLengthOpts
 * (libcjson, default hooks) does: refuse the same inputs, stop at the same
 * place, and build the same tree (types, keys, strings, numbers bit for
 * bit, valueint, links). It gets exactly the input's bytes, so ASan sees
 * any read past them; cJSON gets a NUL-terminated copy, as it may read one
 * byte past the end before refusing. */
#include "../lib/ingest/jparse.h"
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_jparse: differs from cJSON: %s\n", what);
    abort();
  }
}

/* what ingest_json_parse allocated, freed after each input */
static void **held;
static size_t nheld, capheld;

static void *track(size_t n) {
  if (nheld == capheld) {
    size_t cap = capheld ? capheld * 2 : 1024;
    void **h = realloc(held, cap * sizeof *h);
    if (!h) return NULL;
    held = h;
    capheld = cap;
  }
  void *p = malloc(n);
  if (p) held[nheld++] = p;
  return p;
}

static void same(const cJSON *a, const cJSON *b) {
  for (; a && b; a = a->next, b = b->next) {
    check(a->type == b->type, "type");
    check(!a->string == !b->string && (!a->string || !strcmp(a->string, b->string)), "key");
    check(!a->valuestring == !b->valuestring && (!a->valuestring || !strcmp(a->valuestring, b->valuestring)),
          "string value");
    check(!memcmp(&a->valuedouble, &b->valuedouble, sizeof a->valuedouble), "number value");
    check(a->valueint == b->valueint, "valueint");
    check(!a->child == !b->child, "children");
    if (a->child) {
      check(!a->child->prev == !b->child->prev, "head's prev");
      same(a->child, b->child);
    }
  }
  check(!a && !b, "list length");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *exact = malloc(size ? size : 1), *terminated = malloc(size + 1);
  if (!exact || !terminated) abort();
  memcpy(exact, data, size);
  memcpy(terminated, data, size);
  terminated[size] = 0;
  const char *e1 = NULL, *e2 = NULL;
  cJSON *ref = cJSON_ParseWithLengthOpts(terminated, size, &e1, 0);
  cJSON *got = ingest_json_parse(exact, size, &e2, track);
  check(!ref == !got, "accepted or refused");
  check((e1 ? e1 - terminated : -1) == (e2 ? e2 - exact : -1), "where it stopped");
  if (ref) same(ref, got);
  cJSON_Delete(ref);
  for (size_t i = 0; i < nheld; i++) free(held[i]);
  nheld = 0;
  free(exact);
  free(terminated);
  return 0;
}
