/* jparse.h - the JSON parser of the tracking path (jparse.c).
 *
 * ingest_json_parse(s, len, &end, alloc) returns the tree that
 * cJSON_ParseWithLengthOpts(s, len, &end, 0) returns with cJSON's
 * allocation hook set to alloc: the same nodes and values, allocated
 * through alloc in the same order and sizes, the same inputs refused (an
 * allocation refused included), and the same *end (after the value; on a
 * refusal, where cJSON stopped). It reads no byte past s[len - 1]. Only
 * faster: cJSON calls strtod for every number and copies strings a byte
 * at a time. fuzz/fuzz_jparse.c holds it to cJSON (Debian 12's libcjson
 * 1.7.15 with its security fixes) on every input, allocations included.
 * Nothing is freed here, not even a number's scratch copy or what a
 * refusal leaves: use it with an arena only (ingest's batch).
 *
 * *plain (when plain is not NULL) is 1 when cx_json_write (lib/base/json.h)
 * writes the tree back as exactly s[0..len): no whitespace, no escape, no
 * control character in a string, every number as cx_json_write writes it
 * (such as 12, -3 or 175.08, not 1e3 or 2.50). Then the text can stand for
 * the tree. 0 otherwise, and on a refusal. */
#ifndef CX_INGEST_JPARSE_H
#define CX_INGEST_JPARSE_H
#include <cjson/cJSON.h>
#include <stddef.h>

cJSON *ingest_json_parse(const char *s, size_t len, const char **end, void *(*alloc)(size_t),
                         int *plain);

#endif
