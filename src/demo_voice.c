/* demo_voice.c - the demo company's listening program: a relationship NPS
 * survey, CSAT after support tickets and CES after checkout, with answers
 * whose scores follow the customer's experience in the generated data
 * (loyal customers promote, frustrated ones detract, an unresolved ticket
 * scores low) and verbatims whose words fit their scores.
 *
 * cmd_demo notes each chance to answer while it writes a customer
 * (demo_voice_note); demo_voice_save then creates the surveys and stores
 * the responses through feedback_respond_batch, after the events, so that
 * each response joins its customer by userId. */
#include "demo_voice.h"
#include "../lib/base/mem.h"
#include "../lib/base/time.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int64_t t;
  char uid[32];
  uint8_t kind, persona, a, b; /* a, b: what the kind needs (below) */
  uint32_t r;                  /* random bits for the answer */
} note;

struct demo_voice {
  note *v;
  size_t n, cap;
  int64_t survey[4]; /* the surveys' ids, once saved */
  int64_t start, end;
};

cx_err demo_voice_new(demo_voice **out) {
  *out = cx_calloc(1, sizeof **out);
  return *out ? CX_OK : CX_ENOMEM;
}

void demo_voice_free(demo_voice *d) {
  if (!d) return;
  cx_free(d->v);
  cx_free(d);
}

cx_err demo_voice_note(demo_voice *d, int kind, int64_t t, const char *uid, int persona, int a, int b, uint32_t r) {
  if (d->n == d->cap) {
    size_t cap = d->cap ? 2 * d->cap : 4096;
    note *n = cx_realloc(d->v, cap * sizeof *n);
    if (!n) return CX_ENOMEM;
    d->v = n, d->cap = cap;
  }
  note *x = &d->v[d->n++];
  x->t = t, x->kind = (uint8_t)kind, x->persona = (uint8_t)persona, x->a = (uint8_t)a, x->b = (uint8_t)b, x->r = r;
  snprintf(x->uid, sizeof x->uid, "%s", uid);
  return CX_OK;
}

size_t demo_voice_count(const demo_voice *d) { return d->n; }

/* ---- the surveys ---- */

static const char *const surveys[] = {
    "{\"name\":\"Relationship NPS\",\"description\":\"Every quarter, to a sample of customers.\","
    "\"title\":{\"en\":\"How are we doing?\",\"de\":\"Wie machen wir uns?\"},"
    "\"thanks\":{\"en\":\"Thank you! Every answer is read by our team.\",\"de\":\"Danke! Jede Antwort wird gelesen.\"},"
    "\"questions\":["
    "{\"id\":\"nps\",\"type\":\"nps\",\"text\":{\"en\":\"How likely are you to recommend Northwind to a friend or colleague?\","
    "\"de\":\"Wie wahrscheinlich ist es, dass Sie Northwind einem Freund oder Kollegen empfehlen?\"}},"
    "{\"id\":\"reason\",\"type\":\"text\",\"required\":false,\"text\":{\"en\":\"What is the main reason for your score?\","
    "\"de\":\"Was ist der wichtigste Grund für Ihre Bewertung?\"}},"
    "{\"id\":\"improve\",\"type\":\"choice\",\"multiple\":true,\"required\":false,\"show_if\":\"answers.nps <= 8\","
    "\"text\":\"What should we improve first?\",\"options\":[{\"id\":\"delivery\",\"text\":\"Delivery\"},"
    "{\"id\":\"prices\",\"text\":\"Prices\"},{\"id\":\"support\",\"text\":\"Customer support\"},"
    "{\"id\":\"app\",\"text\":\"Website and app\"},{\"id\":\"range\",\"text\":\"Product range\"}]}]}",
    "{\"name\":\"Support CSAT\",\"description\":\"Sent when a ticket is closed.\","
    "\"questions\":["
    "{\"id\":\"csat\",\"type\":\"csat\",\"text\":\"How satisfied are you with the help you received?\"},"
    "{\"id\":\"better\",\"type\":\"text\",\"required\":false,\"text\":\"What could we have done better?\"}]}",
    "{\"name\":\"Checkout CES\",\"description\":\"Sent after an online order.\","
    "\"questions\":["
    "{\"id\":\"ces\",\"type\":\"ces\",\"text\":\"Northwind made it easy to place my order.\"},"
    "{\"id\":\"hard\",\"type\":\"text\",\"required\":false,\"show_if\":\"answers.ces <= 4\","
    "\"text\":\"What made it hard?\"}]}",
    "{\"name\":\"Employee pulse\",\"kind\":\"employee\",\"description\":\"Every quarter, to every team; anonymous.\","
    "\"questions\":["
    "{\"id\":\"enps\",\"type\":\"nps\",\"text\":\"How likely are you to recommend Northwind as a place to work?\"},"
    "{\"id\":\"why\",\"type\":\"text\",\"required\":false,\"text\":\"What would make it better?\"}]}",
};

/* ---- the words ---- */

static const char *const nps_low[] = {
    "Delivery took almost two weeks and nobody told me why.",
    "I was on hold for 40 minutes and then transferred three times.",
    "Still waiting for my refund after ten days. Not good enough.",
    "The checkout kept declining my card without saying why.",
    "Shipping costs only show up at the very end, which feels sneaky.",
    "The jacket fell apart after a month. Really disappointing quality.",
    "Customer service never called back as promised.",
    "The things I wanted were out of stock again.",
    "Prices went up and the quality went down.",
    "The app crashes every time I try to pay.",
    "My parcel arrived damaged and the return was a nightmare.",
    "Nobody answered my emails for a week.",
};
static const char *const nps_mid[] = {
    "Good products, but delivery could be faster.",
    "Decent value overall, though shipping is expensive.",
    "The app works fine but search is clumsy.",
    "Nice gear. Returns were a bit of a hassle.",
    "Support was polite but it took two emails to sort out.",
    "Quality is good, prices are a little high.",
    "Mostly happy, but my last order was late.",
    "Fine, nothing special.",
};
static const char *const nps_high[] = {
    "Great quality gear and super fast delivery!",
    "The support team sorted out my return in minutes. Thank you!",
    "Love the coffee subscription, it never misses a month.",
    "Easy checkout and the app is brilliant.",
    "Friendly staff in the store and excellent advice.",
    "Best trail shoes I have owned, and they arrived the next day.",
    "Fair prices and everything always in stock.",
    "Excellent service, I recommend you to all my friends.",
};
static const char *const csat_low[] = {
    "The agent didn't listen and I had to explain everything twice.",
    "I waited over an hour for a reply in the chat.",
    "My problem is still not solved.",
    "I was transferred three times before anyone could help.",
    "Promised a call back that never came.",
    "The refund was refused without a clear reason.",
};
static const char *const csat_mid[] = {
    "It got solved in the end, but it took too long.",
    "Friendly, but I had to contact you twice.",
};
static const char *const csat_high[] = {
    "Quick and friendly help, problem solved on the first call.",
    "Resolved in minutes, thank you!",
    "Very helpful and kind. Great service.",
};
static const char *const ces_low[] = {
    "The payment page timed out twice.",
    "Too many steps to check out.",
    "I couldn't apply my discount code.",
    "The delivery options were confusing and expensive.",
};

static const char *const agents[] = {"Ana", "Ben", "Chloe", "Dev", "Eli", "Farah", "Goran", "Hana"};
static const char *const care_units[] = {"Care North", "Care South", "Care East", "Care West"};
static const char *const channels[] = {"web", "app", "store", "phone", "chat"};

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* A roughly normal draw from the note's bits (Irwin-Hall of 4). */
static double noise(uint32_t r) {
  double s = 0;
  for (int i = 0; i < 4; i++) s += (double)((r >> (8 * i)) & 0xff) / 255.0;
  return (s - 2.0) * 1.7;
}

/* The answers of note x, by the demo's personas (see cmd_demo.c):
 * 0 browser, 1 one-timer, 2 regular, 3 loyal, 4 frustrated. */
static cJSON *answers(const note *x, int64_t start, int64_t end, cJSON *ctx) {
  cJSON *a = cJSON_CreateObject();
  if (!a) return NULL;
  uint32_t r = x->r;
  int pick = (int)(r >> 11);
  if (x->kind == DEMO_VOICE_NPS) {
    static const double base[] = {7, 7.2, 8.0, 9.4, 4.2};
    double trend = 0.9 * (double)(x->t - start) / (double)(end - start); /* the year got better */
    int s = clampi((int)lround(base[x->persona] + trend + noise(r)), 0, 10);
    cJSON_AddNumberToObject(a, "nps", s);
    if ((r >> 3) % 100 < 60) {
      const char *t = s <= 6 ? nps_low[pick % 12] : s <= 8 ? nps_mid[pick % 8] : nps_high[pick % 8];
      cJSON_AddStringToObject(a, "reason", t);
    }
    if (s <= 8 && (r >> 5) % 100 < 70) {
      static const char *const opts[] = {"delivery", "prices", "support", "app", "range"};
      cJSON *l = cJSON_AddArrayToObject(a, "improve");
      cJSON_AddItemToArray(l, cJSON_CreateString(opts[pick % 5]));
      if ((r >> 9) % 3 == 0) cJSON_AddItemToArray(l, cJSON_CreateString(opts[(pick + 1 + (int)((r >> 13) % 4)) % 5]));
    }
    cJSON_AddStringToObject(ctx, "channel", channels[x->a % 3]);
  } else if (x->kind == DEMO_VOICE_CSAT) {
    int resolved = x->a & 1, agent = x->b % 8;
    double m = resolved ? (x->persona == 4 ? 3.2 : 4.4) : 1.7;
    if (agent == 6 && x->t < end - DEMO_COACHED_DAYS * 86400000LL) m -= 0.8; /* one agent needs coaching, until it */
    int s = clampi((int)lround(m + noise(r) * 0.6), 1, 5);
    cJSON_AddNumberToObject(a, "csat", s);
    if ((r >> 3) % 100 < 55) {
      const char *t = s <= 2 ? csat_low[pick % 6] : s == 3 ? csat_mid[pick % 2] : csat_high[pick % 3];
      cJSON_AddStringToObject(a, "better", t);
    }
    cJSON_AddStringToObject(ctx, "channel", channels[3 + ((x->a >> 1) & 1)]);
    cJSON_AddStringToObject(ctx, "touchpoint", "Ticket solved");
    cJSON_AddStringToObject(ctx, "unit", care_units[agent / 2]);
    cJSON_AddStringToObject(ctx, "agent", agents[agent]);
  } else {
    double m = x->a ? 6.0 : 5.3; /* the app is easier */
    int s = clampi((int)lround(m + noise(r) * 0.8), 1, 7);
    cJSON_AddNumberToObject(a, "ces", s);
    if (s <= 4 && (r >> 3) % 100 < 70) cJSON_AddStringToObject(a, "hard", ces_low[pick % 4]);
    cJSON_AddStringToObject(ctx, "channel", x->a ? "app" : "web");
    cJSON_AddStringToObject(ctx, "touchpoint", "Checkout");
  }
  return a;
}

/* Saves the answers of kind k noted in [from, to) (and before the end),
 * in batches, in the order noted. */
static cx_err save_kind(demo_voice *d, feedback *f, int k, int64_t from, int64_t to, size_t *saved) {
  cx_err rc = CX_OK;
  int64_t start = d->start, end = d->end, *ids = d->survey;
  cJSON *batch = NULL;
  int n = 0;
  for (size_t i = 0; i <= d->n && !rc; i++) {
    if (i < d->n && (d->v[i].kind != k || d->v[i].t >= end || d->v[i].t < from || d->v[i].t >= to)) continue;
    if (i < d->n) {
      const note *x = &d->v[i];
      if (!batch && !(batch = cJSON_CreateArray())) {
        rc = CX_ENOMEM;
        break;
      }
      cJSON *r = cJSON_CreateObject(), *ctx = cJSON_CreateObject();
      cJSON *c = r ? cJSON_AddObjectToObject(r, "customer") : NULL;
      cJSON *a = ctx ? answers(x, start, end, ctx) : NULL;
      char iso[CX_TIME_LEN];
      cx_time_format(x->t, iso);
      if (!r || !c || !a || !cJSON_AddStringToObject(c, "user_id", x->uid) ||
          !cJSON_AddStringToObject(r, "submitted_at", iso)) {
        cJSON_Delete(r), cJSON_Delete(ctx), cJSON_Delete(a);
        rc = CX_ENOMEM;
        break;
      }
      cJSON_AddItemToObject(r, "answers", a);
      cJSON_AddItemToObject(r, "context", ctx);
      cJSON_AddItemToArray(batch, r);
      n++;
    }
    if (batch && (n == FEEDBACK_MAX_BATCH || i == d->n)) {
      int64_t *got = cx_calloc((size_t)n, sizeof *got);
      analytics_error err = {{0}, {0}, {0}};
      rc = got ? feedback_respond_batch(f, ids[k], batch, got, &err) : CX_ENOMEM;
      if (rc == CX_EINVAL) cli_error("demo responses were refused: %s (%s) - a bug in cxm demo.", err.message, err.field);
      if (!rc) *saved += (size_t)n;
      cx_free(got);
      cJSON_Delete(batch);
      batch = NULL;
      n = 0;
    }
  }
  cJSON_Delete(batch);
  return rc;
}

cx_err demo_voice_save_window(demo_voice *d, feedback *f, int64_t from, int64_t to, size_t *saved) {
  cx_err rc = save_kind(d, f, DEMO_VOICE_NPS, from, to, saved);
  return rc ? rc : save_kind(d, f, DEMO_VOICE_CSAT, from, to, saved);
}

int64_t demo_voice_survey(const demo_voice *d, int kind) { return kind >= 0 && kind < 4 ? d->survey[kind] : 0; }

cx_err demo_voice_save(demo_voice *d, feedback *f, int64_t start, int64_t end, int64_t cut, size_t *saved) {
  int64_t ids[4] = {0};
  cx_err rc = CX_OK;
  *saved = 0;
  for (int i = 0; i < 4 && !rc; i++) {
    cJSON *req = cJSON_Parse(surveys[i]);
    cx_buf out;
    cx_buf_init(&out, 1 << 20);
    analytics_error err = {{0}, {0}, {0}};
    rc = req ? feedback_survey_create(f, req, &out, &err) : CX_ENOMEM;
    if (rc == CX_EINVAL) cli_error("demo survey %d was refused: %s (%s) - a bug in cxm demo.", i, err.message, err.field);
    if (!rc) {
      cJSON *o = cJSON_ParseWithLength(out.p, out.len);
      const cJSON *id = cJSON_GetObjectItem(o, "id");
      ids[i] = cJSON_IsString(id) ? atoll(id->valuestring) : 0;
      cJSON_Delete(o);
      if (!ids[i]) rc = CX_EDB;
    }
    cx_buf_free(&out);
    cJSON_Delete(req);
  }
  d->start = start, d->end = end;
  for (int i = 0; i < 4; i++) d->survey[i] = ids[i];
  /* by survey, in batches; the NPS and CSAT answers from cut on are left
   * for demo_voice_save_window */
  for (int k = 0; k < 3 && !rc; k++) rc = save_kind(d, f, k, INT64_MIN, k == DEMO_VOICE_CES ? end : cut, saved);
  /* the employee pulse: each care team's twelve people, every quarter;
   * the team whose agent needs coaching (Care West) is the least happy */
  static const double team_mean[] = {8.6, 8.0, 7.4, 5.6};
  static const char *const team_words[][3] = {
      {"Great team and a manager who listens.", "Good tools, fair schedules.", "I learn something every week."},
      {"Good people, but we are short-staffed on weekends.", "Mostly good; the new ticket tool is slow.", "Fine."},
      {"Too many tickets per shift.", "Training is rushed.", "Decent colleagues."},
      {"Constant pressure and no time for training.", "Nobody listens to our ideas.", "The schedule changes every week."}};
  cJSON *batch = rc ? NULL : cJSON_CreateArray();
  uint32_t bits = 0x9e3779b9u;
  for (int64_t q = start; !rc && batch && q < end; q += 91 * 86400000LL)
    for (int team = 0; team < 4; team++)
      for (int person = 0; person < 12; person++) {
        bits = bits * 1664525u + 1013904223u;
        if ((bits >> 24) % 10 < 2) continue; /* a fifth do not answer */
        note x = {.t = q + (int64_t)(bits % 10) * 86400000LL + 36000000LL, .r = bits};
        int s = clampi((int)lround(team_mean[team] + noise(x.r) * 0.9), 0, 10);
        cJSON *r = cJSON_CreateObject(), *a = cJSON_CreateObject(), *ctx = cJSON_CreateObject();
        char iso[CX_TIME_LEN];
        cx_time_format(x.t < end ? x.t : end - 1, iso);
        if (!r || !a || !ctx) {
          cJSON_Delete(r), cJSON_Delete(a), cJSON_Delete(ctx);
          rc = CX_ENOMEM;
          break;
        }
        cJSON_AddNumberToObject(a, "enps", s);
        if ((bits >> 5) % 3 == 0) cJSON_AddStringToObject(a, "why", team_words[team][(bits >> 9) % 3]);
        cJSON_AddStringToObject(ctx, "unit", care_units[team]);
        cJSON_AddItemToObject(r, "answers", a);
        cJSON_AddItemToObject(r, "context", ctx);
        cJSON_AddStringToObject(r, "submitted_at", iso);
        cJSON_AddItemToArray(batch, r);
      }
  if (!rc && batch && cJSON_GetArraySize(batch)) {
    int n = cJSON_GetArraySize(batch);
    int64_t *got = cx_calloc((size_t)n, sizeof *got);
    analytics_error err = {{0}, {0}, {0}};
    rc = got ? feedback_respond_batch(f, ids[3], batch, got, &err) : CX_ENOMEM;
    if (rc == CX_EINVAL) cli_error("demo employee responses were refused: %s (%s) - a bug in cxm demo.", err.message, err.field);
    if (!rc) *saved += (size_t)n;
    cx_free(got);
  }
  cJSON_Delete(batch);
  return rc;
}
