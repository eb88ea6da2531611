/* assets.h - the dashboard's static files, embedded into the binary.
 *
 * `make` builds web/ into web/dist and tools/embed turns that folder into
 * build/web_assets.c, which defines http_assets and http_nassets. static.c
 * refers to them weakly: binaries linked without that file (unit tests,
 * fuzz targets) have no files and answer 404 at "/". */
#ifndef CX_HTTP_ASSETS_H
#define CX_HTTP_ASSETS_H
#include <stddef.h>

typedef struct {
  const char *path;  /* "/index.html", "/assets/index-1a2b3c.js" */
  const char *type;  /* Content-Type */
  const char *etag;  /* quoted, from the content */
  const unsigned char *data;
  size_t len;
  const unsigned char *gz; /* gzip of data, or NULL when that is not smaller */
  size_t gzlen;
} http_asset;

extern const http_asset http_assets[];
extern const size_t http_nassets;

#endif
