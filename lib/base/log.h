/* log.h - JSON-lines logging to stderr.
 *
 * cx_log("info", "server_started", "listen", "127.0.0.1:8080", NULL) writes
 * {"ts":"…","level":"info","msg":"server_started","listen":"127.0.0.1:8080"}.
 * Arguments after msg are key/value string pairs ending with NULL. Lines are
 * written with one write(2) so that threads do not interleave. */
#ifndef CX_LOG_H
#define CX_LOG_H

void cx_log(const char *level, const char *msg, ...) __attribute__((sentinel));
/* 0 = everything, 1 = info and above (default), 2 = warnings and errors. */
void cx_log_set_level(int level);

#endif
