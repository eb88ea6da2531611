/* fuzz_jparse.c - libFuzzer driver for ingest_json_parse (lib/ingest/jparse.c).
 *
 * Differential: on every input it must do what cJSON_ParseWithLengthOpts
 * (Debian's libcjson) does: refuse the same inputs, stop at the same
 * place, build the same tree (types, keys, strings, numbers bit for bit,
 * valueint, every next and prev link, the head's prev at the last node),
 * and ask its allocator for the same sizes in the same order. Then again
 * with one allocation refused (the first, the last, and one picked from
 * the input), which must end the same way in both: ingest tells "out of
 * memory" and "too complex" (an arena's cap) from what the parse returns.
 * jparse gets exactly the input's bytes, so ASan sees any read past them;
 * cJSON gets a NUL-terminated copy, as it may read one byte past the end
 * before refusing.
 * And its own: when it says the text is plain, cx_json_write writes the
 * tree back as exactly the input (ingest then stores the text as it came). */
#include "../lib/base/json.h"
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

/* one side's allocations: their sizes in order, and (jparse's side, which
 * frees nothing) what to free after the input */
typedef struct {
  size_t *size, n, cap;
  void **held;
  size_t nheld, capheld;
} alloc_log;

static alloc_log ref_log, got_log;
static long fail_at = -1, count; /* the allocation to refuse (-1: none), the number of the next */

static void *grow(void *v, size_t *cap, size_t each) {
  size_t c = *cap ? *cap * 2 : 1024;
  void *p = realloc(v, c * each);
  if (!p) abort(); /* the harness's own memory, not a difference */
  *cap = c;
  return p;
}

static void *logged(alloc_log *l, size_t n, int keep) {
  if (count++ == fail_at) return NULL;
  if (l->n == l->cap) l->size = grow(l->size, &l->cap, sizeof *l->size);
  l->size[l->n++] = n;
  void *p = malloc(n);
  if (!p) abort();
  if (keep) {
    if (l->nheld == l->capheld) l->held = grow(l->held, &l->capheld, sizeof *l->held);
    l->held[l->nheld++] = p;
  }
  return p;
}

static void *ref_alloc(size_t n) { return logged(&ref_log, n, 0); } /* cJSON frees its own */
static void ref_free(void *p) { free(p); }
static void *got_alloc(size_t n) { return logged(&got_log, n, 1); } /* jparse frees nothing */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  cJSON_Hooks h = {ref_alloc, ref_free};
  cJSON_InitHooks(&h);
  return 0;
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
    if (a->child) same(a->child, b->child);
  }
  check(!a && !b, "list length");
}

/* prev links of a list whose head is h: each node's is the one before;
 * the head's is the last node (a child list) or NULL (the root) */
static void links(const cJSON *h, int root) {
  const cJSON *before = NULL;
  for (const cJSON *n = h; n; before = n, n = n->next) {
    if (n != h) check(n->prev == before, "a prev link");
    if (n->child) links(n->child, 0);
  }
  check(root ? h->prev == NULL : h->prev == before, "the head's prev");
}

static void one(const char *exact, const char *terminated, size_t size) {
  ref_log.n = got_log.n = 0;
  const char *e1 = NULL, *e2 = NULL;
  count = 0;
  cJSON *ref = cJSON_ParseWithLengthOpts(terminated, size, &e1, 0);
  count = 0;
  int plain = -1;
  cJSON *got = ingest_json_parse(exact, size, &e2, got_alloc, &plain);
  check(plain == 0 || (plain == 1 && got), "plain is 0 or 1, and 1 only for a tree");
  check(!ref == !got, "accepted or refused");
  check((e1 ? e1 - terminated : -1) == (e2 ? e2 - exact : -1), "where it stopped");
  check(ref_log.n == got_log.n &&
            (!ref_log.n || !memcmp(ref_log.size, got_log.size, ref_log.n * sizeof *ref_log.size)),
        "the allocations");
  if (ref) {
    same(ref, got);
    links(ref, 1);
    links(got, 1);
  }
  if (plain) {
    cx_buf b;
    cx_buf_init(&b, size + 16);
    check(cx_json_write(&b, got) == CX_OK && b.len == size && !memcmp(b.p, exact, size),
          "a plain text is what cx_json_write writes of its tree");
    cx_buf_free(&b);
  }
  cJSON_Delete(ref);
  for (size_t i = 0; i < got_log.nheld; i++) free(got_log.held[i]);
  got_log.nheld = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *exact = malloc(size ? size : 1), *terminated = malloc(size + 1);
  if (!exact || !terminated) abort();
  memcpy(exact, data, size);
  memcpy(terminated, data, size);
  terminated[size] = 0;
  fail_at = -1;
  one(exact, terminated, size);
  long all = (long)ref_log.n;
  if (all) {
    long picks[3] = {0, all - 1, (long)((size * 2654435761u) % (unsigned long)all)};
    for (int i = 0; i < 3; i++) {
      fail_at = picks[i];
      one(exact, terminated, size);
    }
  }
  free(exact);
  free(terminated);
  return 0;
}
