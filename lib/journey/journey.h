/* journey.h - journey maps (docs/journey-maps.md): a map of stages and
 * touchpoints, current or future state, saved in versions; a touchpoint
 * bound to an event (and a rule) shows live numbers from the timelines.
 *
 * Maps live in the store (tables journey_maps and journey_map_versions),
 * written through the writer thread; nothing is kept in memory. Every
 * function is thread-safe. A request is checked whole before anything is
 * written: CX_EINVAL with err filled, and nothing saved. */
#ifndef CX_JOURNEY_H
#define CX_JOURNEY_H
#include <cjson/cJSON.h>
#include "../analytics/analytics.h"
#include "../base/buf.h"
#include "../feedback/feedback.h"
#include "../base/err.h"
#include "../store/store.h"

#define JOURNEY_MAX_STAGES 20
#define JOURNEY_MAX_TOUCHPOINTS 100 /* over all stages */

/* Creates a map from req (docs/journey-maps.md); appends it (version 1).
 * CX_EEXIST when the name is taken. */
cx_err journey_map_create(store *st, const cJSON *req, cx_buf *out, analytics_error *err);
/* Saves req as the next version of map id; CX_ENOTFOUND, CX_EEXIST. */
cx_err journey_map_update(store *st, int64_t id, const cJSON *req, cx_buf *out,
                          analytics_error *err);
cx_err journey_map_delete(store *st, int64_t id);
/* {"maps":[{id, name, state, version, stages, touchpoints, updated_at}…]} */
cx_err journey_maps_list(store *st, cx_buf *out);
/* Map id at version (0: the latest) with, when live is not NULL, each bound
 * touchpoint's numbers over [from, to) and the customers per stage, and
 * when fb is not NULL too, each touchpoint's feedback scores ("scores"). */
cx_err journey_map_get(store *st, int64_t id, int64_t version, const analytics_ctx *live, feedback *fb,
                       int64_t from, int64_t to, int64_t window, cx_buf *out, analytics_error *err);

#endif
