/* distribute.h - sending surveys by e-mail (docs/distribution.md): the
 * settings (fatigue, public URL), distributions (one mailing of personal
 * links to customers or a segment), triggers (an invitation some time
 * after an event), reminders, and the survey opt-out list.
 *
 * Each invitation is a row of `invitations` with its personal link; its
 * mail is an outbox delivery written in the same transaction, so that an
 * answered request means every row and mail is on disk and delivery is at
 * least once (lib/outbox). The scheduler thread (feedback_dist_start)
 * reads new events for the triggers, sends what became due and the
 * reminders, each tick in one store job.
 *
 * Requests are checked whole before anything is written: CX_EINVAL with
 * err filled (code, field, message), and nothing stored. Every function is
 * thread-safe; strings given are copied or used during the call only. */
#ifndef CX_DISTRIBUTE_H
#define CX_DISTRIBUTE_H
#include "feedback.h"
#include "../outbox/outbox.h"

#define DIST_MAX_RECIPIENTS 10000
#define DIST_MAX_SUBJECT 255
#define DIST_MAX_BODY 20000
#define DIST_MAX_PLACEHOLDERS 20 /* {{…}} in one body */
#define DIST_MAX_URL 300         /* bytes of public_url */
#define DIST_MAX_TRIGGERS 100    /* live triggers, all surveys */

typedef struct feedback_dist feedback_dist;

/* The modules are borrowed and must outlive it; seg and ob may be NULL
 * (no segments; mail stays queued). default_url: the base of links when
 * the settings hold none ("http://127.0.0.1:8080"); copied. */
cx_err feedback_dist_open(store *st, profile *pr, analytics_segments *seg, feedback *fb, outbox *ob,
                          const char *default_url, feedback_dist **out);
/* Replaces the default base URL (once the real port is known). */
void feedback_dist_set_default_url(feedback_dist *d, const char *url);
/* Starts the scheduler thread: a tick every tick_ms (0: 30 s). The
 * store's writer must run; feedback_dist_close stops it. */
cx_err feedback_dist_start(feedback_dist *d, int64_t tick_ms);
/* Stops the thread (before the writer stops) and frees d. NULL is fine. */
void feedback_dist_close(feedback_dist *d);
/* Runs one tick now, on the caller's thread (tests, and the thread). */
cx_err feedback_dist_tick(feedback_dist *d);

/* {"fatigue_days":N,"public_url":"…"} */
cx_err feedback_dist_settings_get(feedback_dist *d, cx_buf *out);
/* req may hold either member; answers like _get. */
cx_err feedback_dist_settings_put(feedback_dist *d, const cJSON *req, cx_buf *out, analytics_error *err);

/* POST /surveys/{id}/distributions: {"id","invited","skipped":{…}}.
 * CX_ENOTFOUND for an unknown survey. */
cx_err feedback_dist_create(feedback_dist *d, int64_t survey, const cJSON *req, cx_buf *out, analytics_error *err);
/* {"distributions":[…]} newest first. */
cx_err feedback_dist_list(feedback_dist *d, int64_t survey, cx_buf *out);
/* One distribution with a page of its invitations (ids below cursor, 0:
 * from the newest); show_email 0 masks the addresses. CX_ENOTFOUND. */
cx_err feedback_dist_get(feedback_dist *d, int64_t survey, int64_t id, int64_t cursor, size_t limit,
                         int show_email, cx_buf *out);

/* Triggers: POST, GET, DELETE /surveys/{id}/triggers[/{tid}]. */
cx_err feedback_dist_trigger_create(feedback_dist *d, int64_t survey, const cJSON *req, cx_buf *out,
                                    analytics_error *err);
cx_err feedback_dist_triggers_list(feedback_dist *d, int64_t survey, cx_buf *out);
/* Stops the trigger; invitations it scheduled and not yet sent are
 * cancelled. CX_ENOTFOUND. */
cx_err feedback_dist_trigger_delete(feedback_dist *d, int64_t survey, int64_t id);

/* The unsubscribe link: token[0..len) is a personal link's token of any
 * survey (an expired one still unsubscribes). *forged 1 when it is not
 * ours; otherwise masked gets the address (masked: a***@example.com, ""
 * when none could be found) and, when apply, the address is put on the
 * opt-out list (on disk when CX_OK). */
cx_err feedback_dist_unsubscribe(feedback_dist *d, const char *token, size_t len, int apply, int *forged,
                                 char masked[OUTBOX_MAX_ADDRESS + 1]);

/* Invites one customer to a survey by e-mail inside the caller's store
 * job (db: the writer's connection), so that what asked for it (a closed
 * case's follow-up, docs/cases.md) and the invitation commit together.
 * d is a feedback_dist. The invitation counts under the survey's
 * "Case follow-ups" mailing (kind follow_up, made on first use; not
 * listed with the distributions), with a personal link valid 30 days and
 * the default follow-up text; it is skipped like a distribution's (no
 * e-mail, no consent, unsubscribed, fatigue). *invitation gets its id, or
 * 0 when skipped or when the survey is not live (not an error). The mail
 * is queued in the outbox: kick it after the job (outbox_kick). Call
 * feedback_dist_invite_ready first, outside any store job. */
struct sqlite3;
cx_err feedback_dist_invite_in(void *d, struct sqlite3 *db, int64_t survey, int64_t customer, int64_t now_ms,
                               int64_t *invitation);
/* Loads what feedback_dist_invite_in needs outside the job (the links'
 * key). d is a feedback_dist. */
cx_err feedback_dist_invite_ready(void *d);

/* A distribution's template checked as POST …/distributions checks it,
 * then filled: the mail's text and HTML bodies (for tests and the fuzzer). */
cx_err feedback_dist_template(const char *body, const char *survey_name, const char *link, const char *unsub,
                              cx_buf *text, cx_buf *html, analytics_error *err);

#endif
