#include "log.h"
#include "buf.h"
#include "time.h"
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

static int min_level = 1;

void cx_log_set_level(int level) { min_level = level; }

static int level_rank(const char *level) {
  if (!strcmp(level, "debug")) return 0;
  if (!strcmp(level, "info")) return 1;
  return 2;
}

void cx_log(const char *level, const char *msg, ...) {
  if (level_rank(level) < min_level) return;
  cx_buf b;
  cx_buf_init(&b, 8192);
  cx_buf_puts(&b, "{\"ts\":");
  cx_buf_json_time(&b, cx_now_ms());
  cx_buf_puts(&b, ",\"level\":");
  cx_buf_json_str(&b, level, strlen(level));
  cx_buf_puts(&b, ",\"msg\":");
  cx_buf_json_str(&b, msg, strlen(msg));
  va_list ap;
  va_start(ap, msg);
  for (;;) {
    const char *k = va_arg(ap, const char *);
    if (!k) break;
    const char *v = va_arg(ap, const char *);
    cx_buf_puts(&b, ",");
    cx_buf_json_str(&b, k, strlen(k));
    cx_buf_puts(&b, ":");
    cx_buf_json_str(&b, v ? v : "", v ? strlen(v) : 0);
  }
  va_end(ap);
  if (cx_buf_puts(&b, "}\n") == CX_OK) {
    ssize_t w = write(2, b.p, b.len);
    (void)w;
  }
  cx_buf_free(&b);
}
