/* maturity_int.h - private to the maturity assessment (lib/govern). */
#ifndef CX_GOVERN_MATURITY_INT_H
#define CX_GOVERN_MATURITY_INT_H
#include "maturity.h"

#define GV_EVIDENCE_DAYS 90 /* the window of the evidence that counts recent activity */

/* The evidence at now_ms as a JSON array of items (maturity_evidence.c),
 * appended to out: what gv_maturity_evidence answers and what an
 * assessment saves. */
cx_err gv_maturity_evidence_items(store *st, int64_t now_ms, cx_buf *out);

#endif
