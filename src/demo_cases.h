/* demo_cases.h - the demo company's closed loop (demo_cases.c). */
#ifndef CXM_DEMO_CASES_H
#define CXM_DEMO_CASES_H
#include "demo_voice.h"
#include "../lib/govern/govern.h"
#include "../lib/profile/profile.h"
#include "../lib/store/store.h"

#define DEMO_CASES_WEEKS 6 /* the weeks of answers replayed through the loop */
#define DEMO_USERS 12

typedef struct {
  int64_t id, unit; /* unit 0: none */
  const char *email; /* static */
  gv_role role;
} demo_user;

/* The demo's people (cmd_demo.c's demo_people): units[0] is Customer
 * care, units[1..4] its care teams North, South, East and West. */
typedef struct {
  int64_t units[5];
  demo_user users[DEMO_USERS];
  size_t nusers;
} demo_org;

typedef struct {
  size_t cases, open, breached;
} demo_cases_figures;

/* The closed loop over the last weeks: an SLA policy, two case rules (a
 * detractor on the relationship NPS for Customer care, a CSAT of 1 or 2
 * for the care team the answer names), then hour by hour from cut to end:
 * the answers of that hour are stored (demo_voice_save_window), the rules'
 * tick opens and routes their cases, and the owners work them (a call
 * back, sometimes waiting on the customer, resolved with a root cause,
 * closed), each action dated when it happens; what falls after end stays
 * open, and a late first response or resolution is a breach the tick
 * records. *responses grows by the answers stored. 0, or 1 after saying
 * why. */
int demo_cases(store *st, profile *pr, feedback *fb, demo_voice *v, const demo_org *org, int64_t cut, int64_t end,
               size_t *responses, demo_cases_figures *out);

#endif
