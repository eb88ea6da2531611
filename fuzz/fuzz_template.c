/* fuzz_template.c - libFuzzer driver for a distribution's e-mail template
 * (lib/feedback/distribute.c): arbitrary bytes as the body, checked as
 * POST /surveys/{id}/distributions checks it, then filled.
 *
 * Invariants: a refusal names a code and a UTF-8 message; an accepted
 * body fills into a text that holds the link, and into HTML whose every
 * tag is one the composer writes (the respondent's and the author's text
 * is escaped: no markup gets through). */
#include "../lib/base/buf.h"
#include "../lib/base/util.h"
#include "../lib/feedback/distribute.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_template: invariant broken: %s\n", what);
    abort();
  }
}

static const char *const tags[] = {"<!doctype html>", "<html>", "<head>", "<meta charset=\"utf-8\">", "</head>",
                                   "<body>", "<div style=\"", "<br>", "<a href=\"", "</a>", "</div>", "</body>",
                                   "</html>", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 30000) return 0;
  char *body = malloc(size + 1);
  if (!body) return 0;
  memcpy(body, data, size);
  body[size] = 0;
  static const char *const link = "http://127.0.0.1:8080/s/1?t=a&b", *unsub = "http://127.0.0.1:8080/s/unsubscribe?t=z";
  cx_buf text, html;
  cx_buf_init(&text, 1 << 20);
  cx_buf_init(&html, 1 << 20);
  analytics_error err = {{0}, {0}, {0}};
  cx_err rc = feedback_dist_template(body, "Survey <b>&", link, unsub, &text, &html, &err);
  if (rc == CX_EINVAL) {
    check(err.code[0] && cx_utf8_valid(err.message, strlen(err.message)), "a refusal has a code and a UTF-8 message");
  } else if (!rc) {
    check(cx_buf_append(&text, "", 1) == CX_OK && strstr(text.p, link) != NULL, "the text holds the link");
    check(cx_buf_append(&html, "", 1) == CX_OK, "room");
    for (const char *p = strchr(html.p, '<'); p; p = strchr(p + 1, '<')) {
      int ok = 0;
      for (size_t i = 0; tags[i] && !ok; i++) ok = !strncmp(p, tags[i], strlen(tags[i]));
      check(ok, "every tag in the HTML is the composer's");
    }
  }
  cx_buf_free(&text);
  cx_buf_free(&html);
  free(body);
  return 0;
}
