/* static.c - serves the embedded dashboard (assets.h) at "/". */
#include "http_int.h"
#include "assets.h"
#include <stdlib.h>
#include <string.h>

/* weak references: a binary linked without build/web_assets.c (unit
 * tests, fuzz targets) has none, and their addresses are NULL */
extern const http_asset http_assets[] __attribute__((weak));
extern const size_t http_nassets __attribute__((weak));

/* What the dashboard may do in a browser: its own files and API only. */
#define CSP                                                                                        \
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " \
  "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "   \
  "frame-ancestors 'none'"

static const http_asset *find(const char *path) {
  if (!&http_nassets) return NULL;
  if (!strcmp(path, "/")) path = "/index.html";
  for (size_t i = 0; i < http_nassets; i++)
    if (!strcmp(http_assets[i].path, path)) return &http_assets[i];
  return NULL;
}

/* 1 when the Accept-Encoding header lists gzip (without q=0). */
static int accepts_gzip(struct MHD_Connection *c) {
  const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
  if (!ae) return 0;
  const char *g = strstr(ae, "gzip");
  if (!g) return 0;
  const char *q = g + 4;
  while (*q == ' ') q++;
  if (strncmp(q, ";q=", 3)) return 1;
  return strtod(q + 3, NULL) > 0; /* "gzip;q=0" refuses it */
}

enum MHD_Result http_static(http_server *h, struct MHD_Connection *c, http_req *r) {
  const http_asset *a = find(r->url);
  if (!a) return http_send_error(h, c, r, 404, "not_found", "There is nothing at this path.", NULL);
  if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD"))
    return http_send_error(h, c, r, 405, "method_not_allowed", "Use GET.", NULL);
  const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
  int not_modified = inm && strstr(inm, a->etag);
  int gz = a->gz && accepts_gzip(c);
  struct MHD_Response *resp =
      not_modified ? MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT)
      : gz ? MHD_create_response_from_buffer(a->gzlen, (void *)a->gz, MHD_RESPMEM_PERSISTENT)
           : MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
  if (!resp) return MHD_NO;
  if (!not_modified) MHD_add_response_header(resp, "Content-Type", a->type);
  if (gz && !not_modified) MHD_add_response_header(resp, "Content-Encoding", "gzip");
  MHD_add_response_header(resp, "Vary", "Accept-Encoding");
  MHD_add_response_header(resp, "ETag", a->etag);
  /* hashed file names never change; index.html is checked each time */
  MHD_add_response_header(resp, "Cache-Control", strncmp(a->path, "/assets/", 8)
                                                     ? "no-cache"
                                                     : "public, max-age=31536000, immutable");
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(resp, "Content-Security-Policy", CSP);
  MHD_add_response_header(resp, "X-Frame-Options", "DENY");
  MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
  int status = not_modified ? 304 : 200;
  r->status = status;
  enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
  MHD_destroy_response(resp);
  return ret;
}
