/* privacy.h - what cxm holds about one person, for the GDPR's right of
 * access (docs/privacy.md). */
#ifndef CX_PRIVACY_H
#define CX_PRIVACY_H
#include <sqlite3.h>
#include <stdint.h>
#include "../base/buf.h"
#include "../base/err.h"

#define PRIVACY_EXPORT_MAX (256u << 20) /* bytes of one export */

/* Writes into out one JSON document of everything the store holds about
 * customer (the canonical id) and every profile merged into it: the
 * profiles, identities, traits, group memberships, every event as
 * stored, survey responses with their verbatims, survey invitations and
 * opt-outs, and cases with their notes when the cases table exists.
 * Reads through db (a reader connection; one transaction, so the parts
 * agree). CX_ENOTFOUND when no such customer, CX_ETOOBIG past
 * PRIVACY_EXPORT_MAX. */
cx_err privacy_export(sqlite3 *db, int64_t customer, int64_t now_ms, cx_buf *out);

#endif
