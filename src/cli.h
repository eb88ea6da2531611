/* cli.h - shared by the cxm subcommands. */
#ifndef CXM_CLI_H
#define CXM_CLI_H
#include "../lib/base/err.h"
#include "../lib/store/store.h"

#define CXM_VERSION "0.1.0"

typedef struct {
  const char *data;   /* --data, env CXM_DATA, default ./cxm-data */
  const char *listen; /* --listen, env CXM_LISTEN, default 127.0.0.1:8080 */
  const char *source; /* --source (import) */
  const char *file;   /* positional (import) */
} cli_opts;

/* Prints "cxm: <sentence>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Creates the admin token and the default source in a new store and writes
 * the credentials JSON object ({"data","admin_token","write_key"}) into out.
 * CX_EEXIST when the store was initialised before. */
cx_err cli_initialise(store *st, const char *dir, char *out, size_t outlen);
/* One sentence explaining rc for a data directory. */
const char *cli_store_error(cx_err rc);

int cmd_init(const cli_opts *o);
int cmd_serve(const cli_opts *o);
int cmd_import(const cli_opts *o);

#endif
