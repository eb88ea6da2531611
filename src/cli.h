/* cli.h - shared by the cxm subcommands. */
#ifndef CXM_CLI_H
#define CXM_CLI_H
#include "../lib/base/err.h"
#include "../lib/store/store.h"
#include "../lib/ingest/ingest.h"
#include "../lib/profile/profile.h"

#define CXM_VERSION "0.1.0"

typedef struct {
  const char *data;   /* --data, env CXM_DATA, default ./cxm-data */
  const char *listen; /* --listen, env CXM_LISTEN, default 127.0.0.1:8080 */
  const char *source; /* --source (import) */
  const char *file;   /* positional (import) */
  const char *end;    /* --end (demo): when the demo's history ends */
  int64_t customers;  /* --customers (demo) */
  uint64_t seed;      /* --seed (demo) */
  const char *smtp;      /* --smtp (serve), env CXM_SMTP: NULL keeps mail queued */
  const char *mail_from; /* --mail-from (serve), env CXM_MAIL_FROM */
  const char *mail_rate; /* --mail-rate (serve): mails per minute */
} cli_opts;

/* Prints "cxm: <sentence>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Creates the admin token and the default source in a new store and writes
 * the credentials JSON object ({"data","admin_token","write_key"}) into out.
 * CX_EEXIST when the store was initialised before. */
cx_err cli_initialise(store *st, const char *dir, char *out, size_t outlen);
/* One sentence explaining rc for a data directory. */
const char *cli_store_error(cx_err rc);

/* Commits messages in batches of batch_msgs (or 256 MB): while one batch is
 * parsed, up to CLI_FEED_INFLIGHT before it are queued or being committed
 * (import, demo), and one more as it is handed over. The writer's queue
 * (ingest_start) must hold CLI_FEED_QUEUE(batch_msgs) messages, or a
 * batch is refused as the queue is full. */
#define CLI_FEED_INFLIGHT 4
#define CLI_FEED_QUEUE(batch_msgs) ((size_t)(CLI_FEED_INFLIGHT + 1) * (batch_msgs))
typedef struct cli_feed cli_feed;
cx_err cli_feed_open(ingest *in, int64_t source, size_t batch_msgs, cli_feed **out);
/* Parses one message (s[0..n)) into the current batch, as coming from
 * source (0: the feed's); commits the batch when it is full. An invalid
 * message is CX_EINVAL with err filled; it leaves the feed usable. */
cx_err cli_feed_line(cli_feed *f, const char *s, size_t n, int64_t source, ingest_error *err);
/* Waits for the batch in flight, commits the rest when commit is set, and
 * frees f. Counts what was committed. Returns the first commit error. */
cx_err cli_feed_close(cli_feed *f, int commit, uint64_t *imported, uint64_t *dups);

/* Ends a command that opened the store and ingest: stops the writer (what
 * was accepted is committed), saves the timelines and the messageId window
 * beside the database unless the store has failed (the next start reads
 * them instead of the whole log; a failure to save is logged and only
 * makes that start slower), and closes everything. pr and in may be NULL. */
void cli_close(store *st, profile *pr, ingest *in);

int cmd_init(const cli_opts *o);
int cmd_serve(const cli_opts *o);
int cmd_import(const cli_opts *o);
int cmd_demo(const cli_opts *o);
int cmd_audit(const cli_opts *o);

#endif
