/* cxm init [--data DIR]: create a data directory and print its secrets once. */
#include "cli.h"
#include <stdio.h>

int cmd_init(const cli_opts *o) {
  store *st;
  cx_err rc = store_open(o->data, 1, &st);
  if (rc) {
    cli_error("%s: %s.", o->data, cli_store_error(rc));
    return 1;
  }
  char creds[4096];
  rc = cli_initialise(st, o->data, creds, sizeof creds);
  store_close(st);
  if (rc == CX_EEXIST) {
    cli_error("%s is already initialised; its secrets were shown when it was created.", o->data);
    return 1;
  }
  if (rc) {
    cli_error("%s could not be initialised (see the log line above).", o->data);
    return 1;
  }
  printf("%s\n", creds);
  return 0;
}
