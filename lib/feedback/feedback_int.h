/* feedback_int.h - private to the feedback module. */
#ifndef CX_FEEDBACK_INT_H
#define CX_FEEDBACK_INT_H
#include "feedback.h"
#include "../rules/rules.h"
#include "../text/text.h"
#include <pthread.h>
#include <stdatomic.h>

enum { Q_NPS, Q_CSAT, Q_CES, Q_RATING, Q_CHOICE, Q_TEXT, Q_TYPES };
extern const char *const fb_type_name[Q_TYPES];
enum { S_DRAFT, S_LIVE, S_CLOSED };
extern const char *const fb_status_name[3];

#define FB_MAX_ID 40

typedef struct {
  const char *id;  /* into doc */
  int type, required, multiple;
  int min, max;    /* the scale of a scored question */
  size_t nopt;
  const char *opt[FEEDBACK_MAX_OPTIONS]; /* option ids, into doc */
  rules_expr *show_if; /* owned; NULL: always shown */
  const cJSON *json;   /* the question in doc */
} fb_question;

/* A compiled survey version; immutable once built, shared through the
 * cache with a reference count (fb->mu). */
struct feedback_survey {
  int64_t id, version;
  int status, employee;
  int refs;
  cJSON *doc; /* owned: the saved document */
  const char *name, *language; /* into doc */
  size_t nq;
  fb_question q[FEEDBACK_MAX_QUESTIONS];
};

/* One scored answer, kept in two arrays so that the common scan (survey,
 * type, time, channel) reads 16 bytes per answer:
 * hot: what most queries filter and group on; */
typedef struct {
  int64_t ts;      /* submitted_at */
  uint32_t survey; /* survey id */
  uint16_t channel; /* interned; 0: none */
  uint8_t type; /* Q_NPS, Q_CSAT, Q_CES; 0x80 set: replaced (a later answer of the same link) */
  int8_t score;
} fb_hot;
/* cold: the rest, read by question filters and the other breakdowns. */
typedef struct {
  int64_t customer;  /* as stored (follow merges through the profile) */
  uint32_t response; /* response id (the row) */
  uint16_t question; /* interned question id */
  uint16_t touchpoint, unit, agent; /* interned; 0: none */
} fb_cold;
typedef struct {
  fb_hot h;
  fb_cold c;
} fb_score;

/* The first and last answer time per survey and type (series bounds). */
typedef struct {
  uint32_t survey;
  int64_t lo[3], hi[3];
} fb_span;

/* Interned short strings of one field: id 0 is "none". */
typedef struct {
  char **s;
  size_t n, cap;
} fb_keys;

struct feedback {
  store *st;
  profile *pr;
  ingest *in;
  _Atomic int64_t source; /* the "surveys" source, made at the first response */
  pthread_mutex_t mu; /* the survey cache */
  feedback_survey **cache;
  size_t ncache, capcache;
  /* the index: readers take rd, the writer's commit takes wr */
  pthread_rwlock_t lock;
  fb_hot *hot;
  fb_cold *cold;
  size_t nsc, capsc; /* in response order: loaded ORDER BY id, then
                        appended in commit order, and ids only grow */
  fb_span *span;
  size_t nspan;
  uint64_t responses;
  fb_keys keys[5]; /* question, channel, touchpoint, unit, agent */
  /* written on the writer thread inside a group, published at commit */
  fb_score *pend;
  size_t npend, cappend;
  uint32_t *pend_replaced; /* response ids superseded by a pending answer */
  size_t nrepl, caprepl;
  uint64_t pend_new; /* responses that replace none */
  uint64_t pend_gone; /* responses erased (feedback_forget_response) */
  /* the listener's statements, on the writer's connection */
  sqlite3 *stmt_db, *ins_verb_db;
  sqlite3_stmt *ins_resp, *sel_link, *upd_repl, *ins_verb;
  text_model *text; /* sentiment and themes; owned */
  /* links.c: the personal links' HMAC key, loaded at first use (mu) */
  unsigned char link_key[32];
  int link_key_ready;
};
enum { K_QUESTION, K_CHANNEL, K_TOUCHPOINT, K_UNIT, K_AGENT };

/* A text answer with what lib/text made of it (verbatims.c). */
typedef struct {
  const char *question, *text; /* borrowed from the survey and the answers */
  double score;
  int label;
  uint64_t themes;
  cx_buf phrases; /* "key\tshown\n"…, NUL-terminated; owned */
} fb_verbatim;

/* The root customer of a stored customer id, in a profile read section
 * of its own (respond.c); 0 for 0 (an employee's answer). */
int64_t fb_root(feedback *f, int64_t customer);

/* survey.c */
/* The first member of obj whose name is not in names (NULL-terminated);
 * NULL when all are known. */
const char *fb_unknown_member(const cJSON *obj, const char *const *names);
/* Checks req as POST /surveys would and compiles it (id 1, version 1),
 * without a store: for tests and the fuzzer. */
cx_err fb_survey_from_json(const cJSON *req, feedback_survey **out, analytics_error *err);
cx_err fb_survey_load(feedback *f, sqlite3 *db, int64_t id, int64_t version, feedback_survey **out);
void fb_survey_free(feedback_survey *s);
/* Text of a localised member (a string or {"en":…}) in lang, falling back
 * to the survey's language, then to any. NULL when absent. */
const char *fb_text(const feedback_survey *s, const cJSON *v, const char *lang);
/* 1 when question i is shown for answers (an object by question id). */
int fb_shown(const feedback_survey *s, size_t i, const cJSON *answers);

/* respond.c: the index */
cx_err fb_index_load(feedback *f, sqlite3 *db);
/* Appends x[0..n) to the index (caller holds lock for writing, or none
 * is needed yet); CX_ENOMEM leaves it unchanged. */
cx_err fb_index_append(feedback *f, const fb_score *x, size_t n);
/* Interned id of s in keys k, adding it (caller holds lock for writing or
 * is the writer); 0 when s is NULL. CX_ETOOBIG past FEEDBACK_MAX_KEYS. */
cx_err fb_key(feedback *f, int k, const char *s, uint16_t *out);
/* Checks answers against s: code/field/message in err. */
cx_err fb_check_answers(const feedback_survey *s, const cJSON *answers, int complete, cJSON **norm,
                        analytics_error *err);

/* verbatims.c: the text answers of norm scored into out (room for
 * s->nq), *n of them; free with fb_verbatims_free. */
cx_err fb_verbatims_of(feedback *f, const feedback_survey *s, const cJSON *norm, fb_verbatim *out, size_t *n);
void fb_verbatims_free(fb_verbatim *v, size_t n);
/* The response a verbatim belongs to: nps its NPS answer, rating its
 * first CSAT or CES answer (rating_type Q_CSAT or Q_CES); -1 when none. */
typedef struct {
  int64_t response, survey, customer, submitted;
  int nps, rating, rating_type;
  const char *channel; /* borrowed */
} fb_verbatim_of;
/* On the writer thread, inside the response's transaction. */
cx_err fb_verbatims_write(feedback *f, sqlite3 *db, const fb_verbatim_of *o, const fb_verbatim *v, size_t n);

#endif
