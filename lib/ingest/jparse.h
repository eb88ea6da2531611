/* jparse.h - the JSON parser of the tracking path (jparse.c).
 *
 * ingest_json_parse(s, len, &end, alloc) returns the tree that
 * cJSON_ParseWithLengthOpts(s, len, &end, 0) returns with cJSON's hooks
 * set to alloc: the same nodes and values, allocated through alloc in the
 * same order and sizes, the same inputs refused, and the same *end (after
 * the value; on a refusal, where cJSON stopped). It reads no byte past
 * s[len - 1]. Only faster: cJSON calls strtod for every number and copies
 * every string twice. fuzz/fuzz_jparse.c holds it to cJSON on every input
 * (libcjson 1.7.15, Debian 12's). Nothing is freed here, not even after a
 * refusal: alloc is meant to be an arena, freed whole (ingest's batch). */
#ifndef CX_INGEST_JPARSE_H
#define CX_INGEST_JPARSE_H
#include <cjson/cJSON.h>
#include <stddef.h>

cJSON *ingest_json_parse(const char *s, size_t len, const char **end, void *(*alloc)(size_t));

#endif
