/* demo_voice.h - the demo company's surveys and answers (demo_voice.c). */
#ifndef CXM_DEMO_VOICE_H
#define CXM_DEMO_VOICE_H
#include "cli.h"
#include "../lib/feedback/feedback.h"

enum { DEMO_VOICE_NPS, DEMO_VOICE_CSAT, DEMO_VOICE_CES };

/* The demo's story for its initiatives board: one agent of Care West
 * needs coaching (a lower CSAT) until the coaching, an initiative done
 * this many days before the end; from then on that agent scores like the
 * others. The initiative's measurement finds (or not) the change in the
 * answers; nothing of it is written into the result. */
#define DEMO_COACHED_DAYS 60

typedef struct demo_voice demo_voice;
cx_err demo_voice_new(demo_voice **out);
void demo_voice_free(demo_voice *d);
/* A chance to answer: kind at t by the customer with userId uid, of
 * persona; a, b: NPS: a = the customer's main channel (0 web, 1 app,
 * 2 store); CSAT: a bit 0 = resolved, bit 1 = chat, b = agent; CES: a = 1
 * in the app. r: random bits that fix the answer. */
cx_err demo_voice_note(demo_voice *d, int kind, int64_t t, const char *uid, int persona, int a, int b, uint32_t r);
size_t demo_voice_count(const demo_voice *d);
/* Creates the surveys and stores every noted answer before end, but the
 * NPS and CSAT answers from cut on (cut = end: all), which
 * demo_voice_save_window stores later (cmd_demo replays the closed loop
 * over them, hour by hour). */
cx_err demo_voice_save(demo_voice *d, feedback *f, int64_t start, int64_t end, int64_t cut, size_t *saved);
/* Stores the NPS and CSAT answers noted in [from, to) (after demo_voice_save). */
cx_err demo_voice_save_window(demo_voice *d, feedback *f, int64_t from, int64_t to, size_t *saved);
/* The id of the survey of kind (DEMO_VOICE_*, 3: the employee pulse), once saved. */
int64_t demo_voice_survey(const demo_voice *d, int kind);

#endif
