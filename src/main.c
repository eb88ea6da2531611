/* cxm - Customer Experience Management in one small server. */
#include "cli.h"
#include "../lib/base/util.h"
#include "../lib/ingest/ingest.h"
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *usage =
    "usage: cxm <command> [options]\n"
    "\n"
    "commands:\n"
    "  init   [--data DIR]                    create a data directory; print its secrets once\n"
    "  serve  [--data DIR] [--listen H:P] [--smtp URL --mail-from ADDR] [--mail-rate N]\n"
    "                                         run the server (initialises DIR when needed)\n"
    "  demo   [--data DIR] [--customers N] [--seed S]\n"
    "                                         fill a new DIR with a demo company\n"
    "  import events FILE|- [--data DIR] [--source NAME]\n"
    "                                         load JSON Lines of tracking messages\n"
    "  audit verify [--data DIR]              check the audit log's hash chain\n"
    "  help   [COMMAND]                       show help\n"
    "  --version                              print the version\n"
    "\n"
    "Defaults: --data ./cxm-data (env CXM_DATA), --listen 127.0.0.1:8080 (env CXM_LISTEN).\n"
    "Mail: --smtp (env CXM_SMTP), --mail-from (env CXM_MAIL_FROM); see 'cxm help serve'.\n";

static const char *help_for(const char *cmd) {
  if (!strcmp(cmd, "init"))
    return "usage: cxm init [--data DIR]\n\nCreates DIR and its store, and prints one JSON object:\n"
           "{\"data\":DIR,\"admin_token\":T,\"write_key\":K}. The secrets are shown only now.\n"
           "Exits 1 if DIR is already initialised.\n";
  if (!strcmp(cmd, "serve"))
    return "usage: cxm serve [--data DIR] [--listen HOST:PORT]\n"
           "                 [--smtp smtp://[USER:PASSWORD@]HOST:PORT --mail-from \"Name <address>\"] [--mail-rate N]\n"
           "\nRuns the server. Initialises DIR first when "
           "needed and then prints its secrets\nonce on stderr. SIGTERM or SIGINT: stop accepting, answer and "
           "commit what was\naccepted, exit 0. Port 0 picks a free port (logged as \"port\").\n"
           "\nOutgoing e-mail (survey invitations, alerts, the test e-mail) goes through the\n"
           "SMTP server --smtp names (env CXM_SMTP; smtps:// for TLS from the start;\n"
           "smtp:// upgrades with STARTTLS when the server offers it), sent as\n"
           "--mail-from (env CXM_MAIL_FROM, needed with --smtp), at most --mail-rate\n"
           "mails per minute (default 60). Without --smtp mail stays queued. Webhooks\n"
           "are sent in any case. Failed attempts are retried after 1 min, 5 min,\n"
           "30 min and 2 h; see docs/outbox.md.\n";
  if (!strcmp(cmd, "import"))
    return "usage: cxm import events FILE|- [--data DIR] [--source NAME]\n\nReads JSON Lines of tracking "
           "messages (each with its \"type\") and commits them\nthrough the same pipeline as HTTP, recorded as "
           "coming from source NAME\n(default \"import\"). The first invalid line stops the import; the lines\n"
           "before it stay committed. Needs the server to be stopped (one process owns DIR).\n";
  if (!strcmp(cmd, "demo"))
    return "usage: cxm demo [--data DIR] [--customers N] [--seed S] [--end TIME]\n\nCreates DIR and fills it with "
           "a synthetic online retailer with a subscription:\nN customers (default 50000, at most 10000000) and "
           "twelve months of their\nevents over web, app, email, store, call_centre and chat, ending at TIME\n"
           "(ISO-8601; default now). The same seed (default 1) gives the same company.\nThe messages go through "
           "the ingest pipeline like an import. Prints the\ncredentials like 'cxm init'. Exits 1 if DIR already "
           "holds a store.\n";
  if (!strcmp(cmd, "audit"))
    return "usage: cxm audit verify [--data DIR]\n\nRecomputes the hash chain of the audit log and prints\n"
           "{\"ok\":true,\"entries\":N,\"head\":H}; keep H somewhere else to detect a later\n"
           "truncation. Exits 1, naming the first broken entry, when an entry was changed,\n"
           "inserted or removed. Reads the store read-only: it runs beside 'cxm serve'.\n";
  if (!strcmp(cmd, "help")) return "usage: cxm help [COMMAND]\n";
  return NULL;
}

int main(int argc, char **argv) {
  umask(077); /* the store holds personal data: owner only */
  if (cx_crypto_init()) {
    cli_error("libsodium could not be initialised.");
    return 1;
  }
  ingest_global_init();
  if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
    cli_error("libcurl could not be initialised.");
    return 1;
  }
  atexit(curl_global_cleanup);
  if (argc < 2) {
    fputs(usage, stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
    printf("cxm %s\n", CXM_VERSION);
    return 0;
  }
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    if (argc > 2) {
      const char *h = help_for(argv[2]);
      if (!h) {
        cli_error("there is no command '%s'; see 'cxm help'.", argv[2]);
        return 2;
      }
      fputs(h, stdout);
    } else {
      fputs(usage, stdout);
    }
    return 0;
  }
  cli_opts o = {.data = getenv("CXM_DATA"), .listen = getenv("CXM_LISTEN"), .source = "import",
                .customers = 50000, .seed = 1};
  const char *customers = NULL, *seed = NULL;
  if (!o.data || !*o.data) o.data = "./cxm-data";
  if (!o.listen || !*o.listen) o.listen = "127.0.0.1:8080";
  o.smtp = getenv("CXM_SMTP");
  o.mail_from = getenv("CXM_MAIL_FROM");
  if (o.smtp && !*o.smtp) o.smtp = NULL;
  if (o.mail_from && !*o.mail_from) o.mail_from = NULL;
  int first = 2;
  if (!strcmp(cmd, "import")) {
    if (argc < 3 || strcmp(argv[2], "events")) {
      cli_error("say what to import: 'cxm import events FILE|-'.");
      return 2;
    }
    first = 3;
  } else if (!strcmp(cmd, "audit")) {
    if (argc < 3 || strcmp(argv[2], "verify")) {
      cli_error("say what to do: 'cxm audit verify'.");
      return 2;
    }
    first = 3;
  } else if (strcmp(cmd, "init") && strcmp(cmd, "serve") && strcmp(cmd, "demo")) {
    cli_error("there is no command '%s'; see 'cxm help'.", cmd);
    return 2;
  }
  for (int i = first; i < argc; i++) {
    const char *a = argv[i];
    const char **slot = !strcmp(a, "--data") ? &o.data
                        : !strcmp(a, "--listen") && !strcmp(cmd, "serve") ? &o.listen
                        : !strcmp(a, "--source") && !strcmp(cmd, "import") ? &o.source
                        : !strcmp(a, "--customers") && !strcmp(cmd, "demo") ? &customers
                        : !strcmp(a, "--seed") && !strcmp(cmd, "demo") ? &seed
                        : !strcmp(a, "--end") && !strcmp(cmd, "demo") ? &o.end
                        : !strcmp(a, "--smtp") && !strcmp(cmd, "serve") ? &o.smtp
                        : !strcmp(a, "--mail-from") && !strcmp(cmd, "serve") ? &o.mail_from
                        : !strcmp(a, "--mail-rate") && !strcmp(cmd, "serve") ? &o.mail_rate
                                                                            : NULL;
    if (slot) {
      if (i + 1 >= argc || !*argv[i + 1]) {
        cli_error("%s needs a value.", a);
        return 2;
      }
      *slot = argv[++i];
    } else if (!strcmp(cmd, "import") && !o.file && (a[0] != '-' || !strcmp(a, "-"))) {
      o.file = a;
    } else {
      cli_error("unknown option '%s' for %s; see 'cxm help %s'.", a, cmd, cmd);
      return 2;
    }
  }
  if (!strcmp(cmd, "init")) return cmd_init(&o);
  if (!strcmp(cmd, "audit")) return cmd_audit(&o);
  if (!strcmp(cmd, "demo")) {
    int64_t v;
    if (customers && (cx_parse_i64(customers, strlen(customers), &v) || v < 1 || v > 10000000)) {
      cli_error("--customers must be a whole number from 1 to 10000000.");
      return 2;
    }
    if (customers) o.customers = v;
    if (seed && (cx_parse_i64(seed, strlen(seed), &v) || v < 0)) {
      cli_error("--seed must be a whole number from 0 to 9223372036854775807.");
      return 2;
    }
    if (seed) o.seed = (uint64_t)v;
    return cmd_demo(&o);
  }
  if (!strcmp(cmd, "serve")) {
    int64_t v;
    if (o.mail_rate && (cx_parse_i64(o.mail_rate, strlen(o.mail_rate), &v) || v < 1 || v > 100000)) {
      cli_error("--mail-rate must be a whole number of mails per minute from 1 to 100000.");
      return 2;
    }
    if (o.smtp && !o.mail_from) {
      cli_error("--smtp needs --mail-from \"Name <address@example.com>\" (the sender of every mail).");
      return 2;
    }
    return cmd_serve(&o);
  }
  if (!o.file) {
    cli_error("name the file to import, or - for standard input.");
    return 2;
  }
  if (!ingest_source_name_valid(o.source)) {
    cli_error("--source must be 1 to 63 letters, digits, spaces, '-', '_' or '.'.");
    return 2;
  }
  return cmd_import(&o);
}
