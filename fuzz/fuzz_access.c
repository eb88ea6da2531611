/* fuzz_access.c - libFuzzer driver for the permission matrix's route
 * matching (lib/govern/access.c), which reads the request's method and
 * path: the first line of the input is the method, the rest the path.
 *
 * Invariants: every answer is a permission the matrix knows; admin may
 * do everything; a GET or HEAD never counts as a change; a path the
 * matrix does not name needs admin (least privilege), so a path with an
 * empty segment is never open to any other role. */
#include "../lib/govern/govern.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_access: invariant broken: %s\n", what);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  char *in = malloc(size + 1);
  if (!in) return 0;
  memcpy(in, data, size);
  in[size] = 0;
  char *nl = memchr(in, '\n', size);
  const char *method = "GET", *path = in;
  if (nl) {
    *nl = 0;
    method = in;
    path = nl + 1;
  }
  gv_perm p = gv_route_permission(method, path);
  check(p >= GV_P_NONE && p < GV_P_COUNT, "a known permission");
  check(gv_allows(GV_ADMIN, p), "admin may do everything");
  check(strcmp(gv_perm_name(p), "?") != 0, "a named permission");
  if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) check(!gv_route_mutates(method, path), "a read changes nothing");
  if (strstr(path, "//") || (*path && path[strlen(path) - 1] == '/' && strcmp(path, "/")))
    check(p == GV_P_ADMIN || p == GV_P_NONE, "an empty segment is no named route");
  free(in);
  return 0;
}
