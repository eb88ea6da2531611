/* privacy_int.h - private to the privacy module. */
#ifndef CX_PRIVACY_INT_H
#define CX_PRIVACY_INT_H
#include "privacy.h"

/* A CTE m(id) of a customer's profiles: the canonical id bound as ?1 and
 * every id merged into it, directly or through another. Put it before a
 * statement that reads "… IN m". */
#define PRIVACY_PROFILES                                                                                  \
  "WITH RECURSIVE m(id) AS (SELECT ?1 UNION SELECT c.id FROM customers c JOIN m ON c.merged_into = m.id) "

/* export.c: 1 when db has a table of this name (cases and their notes come
 * with a later migration than the rest). */
int privacy_table_exists(sqlite3 *db, const char *name);

#endif
