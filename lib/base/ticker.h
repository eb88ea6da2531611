/* ticker.h - a thread that calls a function every tick until stopped: the
 * schedulers of survey distribution, cases, KPI targets and retention. */
#ifndef CX_TICKER_H
#define CX_TICKER_H
#include <stdint.h>
#include "err.h"

typedef struct cx_ticker cx_ticker;

/* Starts a thread that waits tick_ms, calls fn(ctx), and again, until
 * cx_ticker_stop; fn runs on that thread only. CX_ENOMEM when the thread
 * cannot start. */
cx_err cx_ticker_start(int64_t tick_ms, void (*fn)(void *ctx), void *ctx, cx_ticker **out);
/* Wakes the thread, waits for a call in progress to end, joins it and
 * frees t. NULL is fine. */
void cx_ticker_stop(cx_ticker *t);

#endif
