/* json.h - writing cJSON trees compactly into bounded buffers.
 *
 * cJSON's own printer formats every number through sprintf and sscanf and
 * grows its output by copying; on the ingest path that was a fifth of the
 * CPU. This writer appends to a cx_buf, prints integers directly, and
 * escapes strings with cx_buf_json_str. Output is compact JSON that cJSON
 * parses back to an equal tree. */
#ifndef CX_JSON_H
#define CX_JSON_H
#include <cjson/cJSON.h>
#include "buf.h"

cx_err cx_json_write(cx_buf *b, const cJSON *v);

#endif
