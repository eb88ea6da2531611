/* cxm demo [--data DIR] [--customers N] [--seed S] [--end ISO]: fills a new
 * data directory with a synthetic online retailer with a subscription
 * ("Northwind Supply"): twelve months of customers acquired, browsing,
 * buying, asking for help, subscribing, coming back or churning, over web,
 * app, e-mail, store, call centre and chat. Every message goes through the
 * ingest pipeline, as an import would.
 *
 * Deterministic: customer i is generated from its own random stream
 * (seed, i), so a seed always gives the same customers, events and values;
 * times are offsets back from --end (default: now, to the minute). */
#include "cli.h"
#include "demo_voice.h"
#include "demo_cases.h"
#include "../lib/feedback/distribute.h"
#include "../lib/analytics/analytics.h"
#include "../lib/journey/journey.h"
#include "../lib/govern/maturity.h"
#include "../lib/govern/govern.h"
#include "../lib/govern/targets.h"
#include "../lib/govern/initiatives.h"
#include "../lib/base/util.h"
#include "../lib/base/time.h"
#include "../lib/ingest/ingest.h"
#include "../lib/profile/profile.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY 86400000LL
#define HOUR 3600000LL
#define MINUTE 60000LL
#define DEMO_BATCH 50000

/* ---- the random stream (splitmix64) ---- */

typedef struct {
  uint64_t s;
} rng;

static uint64_t rnext(rng *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static double runif(rng *r) { return (double)(rnext(r) >> 11) * (1.0 / 9007199254740992.0); }
static int rchance(rng *r, double p) { return runif(r) < p; }
static int64_t rint_(rng *r, int64_t lo, int64_t hi) { /* [lo, hi] */
  return lo + (int64_t)(rnext(r) % (uint64_t)(hi - lo + 1));
}
static double rexp(rng *r, double mean) { return -mean * log(1.0 - runif(r)); }
#define PICK(r, arr) (arr)[rnext(r) % (sizeof(arr) / sizeof((arr)[0]))]

/* ---- the company ---- */

typedef struct {
  const char *id, *name, *category;
  double price;
} product;

static const product catalog[] = {
    {"NW-101", "Trail Running Shoes", "Footwear", 119.00},
    {"NW-102", "Everyday Sneakers", "Footwear", 79.00},
    {"NW-103", "Merino Hiking Socks", "Footwear", 18.50},
    {"NW-201", "Rain Shell Jacket", "Outerwear", 149.00},
    {"NW-202", "Down Vest", "Outerwear", 99.00},
    {"NW-203", "Fleece Pullover", "Outerwear", 64.00},
    {"NW-301", "Organic Cotton Tee", "Apparel", 24.00},
    {"NW-302", "Stretch Chinos", "Apparel", 69.00},
    {"NW-303", "Wool Beanie", "Apparel", 22.00},
    {"NW-401", "Insulated Bottle", "Gear", 29.00},
    {"NW-402", "Daypack 20L", "Gear", 89.00},
    {"NW-403", "Headlamp", "Gear", 39.00},
    {"NW-404", "Camp Mug", "Gear", 14.00},
    {"NW-501", "Coffee Beans, Monthly", "Pantry", 16.00},
    {"NW-502", "Trail Mix Box", "Pantry", 12.50},
    {"NW-503", "Electrolyte Tabs", "Pantry", 9.00},
};

static const char *const first_names[] = {
    "Ava", "Noah", "Mia", "Liam", "Zoe", "Ethan", "Ines", "Omar", "Sofia", "Lucas", "Hana", "Mateo",
    "Aisha", "Leo", "Chloe", "Yusuf", "Emma", "Arjun", "Lena", "Kai", "Nora", "Diego", "Maya", "Felix",
    "Amara", "Theo", "Priya", "Jonas", "Elif", "Sam", "Grace", "Ravi", "Julia", "Tomas", "Aiko", "Ben"};
static const char *const last_names[] = {
    "Garcia", "Smith", "Nguyen", "Müller", "Rossi", "Kowalski", "Silva", "Khan", "Dubois", "Jensen",
    "Okafor", "Tanaka", "Novak", "Larsen", "Moreau", "Hughes", "Costa", "Schmidt", "Ali", "Brown",
    "Ivanova", "Lopez", "Fischer", "Murphy", "Sato", "Patel", "Berg", "Martin", "Kim", "Walsh"};
static const struct {
  const char *city, *country;
} places[] = {{"London", "GB"},   {"Manchester", "GB"}, {"Dublin", "IE"},  {"Berlin", "DE"},
              {"Munich", "DE"},   {"Paris", "FR"},      {"Lyon", "FR"},    {"Madrid", "ES"},
              {"Amsterdam", "NL"}, {"Copenhagen", "DK"}, {"Stockholm", "SE"}, {"Milan", "IT"},
              {"New York", "US"}, {"Austin", "US"},     {"Seattle", "US"}, {"Toronto", "CA"}};
static const char *const industries[] = {"Retail", "Software", "Hospitality", "Education",
                                         "Health", "Logistics", "Media", "Construction"};
static const char *const ticket_topics[] = {"delivery", "delivery", "returns", "refund",
                                            "product question", "billing", "account", "damaged item"};
static const char *const cancel_reasons[] = {"too expensive", "not using it", "delivery problems",
                                             "poor support", "switched to a competitor"};
static const char *const campaigns[] = {"weekly-picks", "new-arrivals", "back-in-stock",
                                        "member-offer", "trail-guide"};
static const struct {
  const char *name, *path;
} pages[] = {{"Home", "/"}, {"Category", "/c/outdoor"}, {"Search Results", "/search"},
             {"Deals", "/deals"}, {"Journal", "/journal"}};

/* personas: what kind of customer i is */
enum { BROWSER, ONE_TIMER, REGULAR, LOYAL, FRUSTRATED };
static const struct {
  double share;       /* of all customers */
  double session_gap; /* mean days between sessions */
  double lifetime;    /* mean days until they drift away */
  double buy;         /* chance a session ends in an order */
  double ticket;      /* chance an order needs support */
  double subscribe;   /* chance of taking the subscription */
  double app;         /* chance of using the app */
  double store;       /* chance of also buying in a store */
} persona[] = {
    [BROWSER] = {0.30, 12, 20, 0, 0, 0, 0.2, 0},
    [ONE_TIMER] = {0.22, 20, 40, 0.35, 0.10, 0.02, 0.2, 0.1},
    [REGULAR] = {0.28, 16, 200, 0.22, 0.08, 0.15, 0.4, 0.3},
    [LOYAL] = {0.12, 9, 400, 0.30, 0.05, 0.70, 0.7, 0.4},
    [FRUSTRATED] = {0.08, 14, 120, 0.25, 0.45, 0.40, 0.3, 0.1},
};

/* ---- the generator ---- */

typedef struct {
  cli_feed *feed;
  int64_t src_web, src_app, src_email, src_store, src_call, src_chat;
  int64_t start, end; /* the twelve months */
  uint64_t seed;
  uint64_t lines;
  demo_voice *voice; /* chances to answer a survey, noted as they happen */
  ingest_error err;
  cx_err rc;
  /* the customer being written */
  int64_t idx;
  int persona;
  uint64_t msg;
  char uid[48], anon_web[48], anon_app[48], email[96];
  int identified;
  char buf[8192];
} gen;

/* Busier in November and December, quieter in summer and January. */
static double season(int64_t t) {
  static const double month[] = {0.8, 0.8, 0.9, 0.95, 1.0, 0.9, 0.85, 0.85, 1.0, 1.05, 1.35, 1.5};
  char iso[CX_TIME_LEN];
  cx_time_format(t, iso);
  int m = (iso[5] - '0') * 10 + (iso[6] - '0');
  int64_t days = t / DAY;
  int weekday = (int)((days + 3) % 7); /* 0 = Monday */
  return month[m - 1] * (weekday >= 5 ? 1.15 : 1.0);
}

/* A time of day people shop at: evenings, lunchtime. */
static int64_t daytime(rng *r, int64_t day_start) {
  static const int hours[] = {7, 8, 9, 11, 12, 12, 13, 14, 17, 18, 19, 19, 20, 20, 21, 21, 22};
  return day_start + PICK(r, hours) * HOUR + rint_(r, 0, 59) * MINUTE + rint_(r, 0, 59) * 1000;
}

/* Appends printf output to g->buf at *k; stays within the buffer. */
static void put(gen *g, size_t *k, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(gen *g, size_t *k, const char *fmt, ...) {
  if (*k >= sizeof g->buf) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(g->buf + *k, sizeof g->buf - *k, fmt, ap);
  va_end(ap);
  *k += n > 0 ? (size_t)n : 0;
}

/* Starts a message: type, ids, messageId and timestamp. */
static void head(gen *g, size_t *k, const char *type, int64_t t, int app, int anonymous) {
  char iso[CX_TIME_LEN];
  cx_time_format(t, iso);
  *k = 0;
  put(g, k, "{\"type\":\"%s\",\"messageId\":\"demo-%llu-%lld-%llu\",\"timestamp\":\"%s\"", type,
      (unsigned long long)g->seed, (long long)g->idx, (unsigned long long)g->msg++, iso);
  if (!anonymous && g->identified) put(g, k, ",\"userId\":\"%s\"", g->uid);
  const char *anon = app ? g->anon_app : g->anon_web;
  if (anon[0]) put(g, k, ",\"anonymousId\":\"%s\"", anon);
  put(g, k, ",\"context\":{\"library\":{\"name\":\"cxm-demo\",\"version\":\"1\"}%s}",
      app ? ",\"app\":{\"name\":\"Northwind\",\"version\":\"4.2.0\"},\"os\":{\"name\":\"iOS\"}" : "");
}

/* Ends the message and feeds it. */
static void emit(gen *g, size_t k, int64_t source) {
  put(g, &k, "}");
  if (g->rc || k >= sizeof g->buf) {
    if (!g->rc) g->rc = CX_ETOOBIG;
    return;
  }
  g->rc = cli_feed_line(g->feed, g->buf, k, source, &g->err);
  g->lines++;
}

static void track(gen *g, int64_t t, int64_t source, int app, const char *event, const char *props) {
  size_t k;
  if (g->rc || t >= g->end) return;
  head(g, &k, "track", t, app, 0);
  put(g, &k, ",\"event\":\"%s\",\"properties\":{%s}", event, props ? props : "");
  emit(g, k, source);
}

static void page(gen *g, int64_t t, int app, int which) {
  size_t k;
  if (g->rc || t >= g->end) return;
  head(g, &k, app ? "screen" : "page", t, app, 0);
  put(g, &k, ",\"name\":\"%s\",\"properties\":{\"path\":\"%s\"}", pages[which].name, pages[which].path);
  emit(g, k, app ? g->src_app : g->src_web);
}

static void identify(gen *g, rng *r, int64_t t, int64_t source, int app, const char *name,
                     const char *city, const char *country, const char *plan) {
  size_t k;
  if (g->rc || t >= g->end) return;
  g->identified = 1;
  head(g, &k, "identify", t, app, 0);
  char iso[CX_TIME_LEN];
  cx_time_format(t, iso);
  put(g, &k,
      ",\"traits\":{\"name\":\"%s\",\"email\":\"%s\",\"city\":\"%s\",\"country\":\"%s\","
      "\"plan\":\"%s\",\"signup_channel\":\"%s\",\"created_at\":\"%s\",\"marketing_opt_in\":%s}",
      name, g->email, city, country, plan, app ? "app" : source == g->src_store ? "store" : "web", iso,
      rchance(r, 0.7) ? "true" : "false");
  emit(g, k, source);
}

/* One visit: browse, maybe buy. Returns the order value (0: none). */
static double session(gen *g, rng *r, int64_t t, int app, double buy, int64_t *order_no) {
  page(g, t, app, rnext(r) % 2 ? 0 : (int)(rnext(r) % 5));
  t += rint_(r, 10, 90) * 1000;
  int views = (int)rint_(r, 1, 4);
  const product *p = NULL;
  char props[1024];
  for (int v = 0; v < views; v++) {
    p = &PICK(r, catalog);
    snprintf(props, sizeof props,
             "\"product_id\":\"%s\",\"name\":\"%s\",\"category\":\"%s\",\"price\":%.2f", p->id,
             p->name, p->category, p->price);
    track(g, t, app ? g->src_app : g->src_web, app, "Product Viewed", props);
    t += rint_(r, 20, 240) * 1000;
  }
  if (!rchance(r, buy * 1.6)) return 0;
  int qty = rchance(r, 0.8) ? 1 : 2;
  snprintf(props, sizeof props, "\"product_id\":\"%s\",\"name\":\"%s\",\"price\":%.2f,\"quantity\":%d",
           p->id, p->name, p->price, qty);
  track(g, t, app ? g->src_app : g->src_web, app, "Product Added", props);
  t += rint_(r, 30, 600) * 1000;
  double value = p->price * qty;
  if (rchance(r, 0.35)) { /* a second item */
    const product *q = &PICK(r, catalog);
    value += q->price;
  }
  snprintf(props, sizeof props, "\"value\":%.2f,\"currency\":\"USD\"", value);
  track(g, t, app ? g->src_app : g->src_web, app, "Checkout Started", props);
  t += rint_(r, 60, 400) * 1000;
  if (!rchance(r, 0.62)) return 0; /* abandoned at checkout */
  (*order_no)++;
  snprintf(props, sizeof props,
           "\"order_id\":\"NW-%llu-%lld-%lld\",\"revenue\":%.2f,\"currency\":\"USD\","
           "\"products\":[{\"product_id\":\"%s\",\"name\":\"%s\",\"category\":\"%s\",\"price\":%.2f,"
           "\"quantity\":%d}]",
           (unsigned long long)g->seed, (long long)g->idx, (long long)*order_no, value, p->id, p->name,
           p->category, p->price, qty);
  track(g, t, app ? g->src_app : g->src_web, app, "Order Completed", props);
  if (g->identified && !g->rc && rchance(r, 0.12))
    g->rc = demo_voice_note(g->voice, DEMO_VOICE_CES, t + (int64_t)rint_(r, 10, 180) * MINUTE, g->uid, g->persona, app, 0,
                            (uint32_t)rnext(r));
  return value;
}

/* A support contact after an order: opened and, usually, closed. */
static void ticket(gen *g, rng *r, int64_t t, int64_t ticket_no, int frustrated) {
  int chat = rchance(r, 0.6);
  int64_t src = chat ? g->src_chat : g->src_call;
  const char *topic = PICK(r, ticket_topics);
  char props[256];
  snprintf(props, sizeof props, "\"ticket_id\":\"T-%llu-%lld-%lld\",\"topic\":\"%s\",\"channel\":\"%s\"",
           (unsigned long long)g->seed, (long long)g->idx, (long long)ticket_no, topic,
           chat ? "chat" : "phone");
  track(g, t, src, 0, "Ticket Opened", props);
  int resolved = 0;
  if (rchance(r, 0.93)) {
    int64_t wait = (int64_t)rexp(r, frustrated ? 52 : 14) * HOUR + rint_(r, 5, 59) * MINUTE;
    int contacts = frustrated ? (int)rint_(r, 1, 4) : (int)rint_(r, 1, 2);
    snprintf(props, sizeof props,
             "\"ticket_id\":\"T-%llu-%lld-%lld\",\"topic\":\"%s\",\"resolution\":\"%s\",\"contacts\":%d,"
             "\"hours_open\":%.1f",
             (unsigned long long)g->seed, (long long)g->idx, (long long)ticket_no, topic,
             (resolved = rchance(r, frustrated ? 0.6 : 0.9)) ? "resolved" : "unresolved", contacts,
             (double)wait / HOUR);
    track(g, t + wait, src, 0, "Ticket Closed", props);
    if (!g->rc && rchance(r, 0.35))
      g->rc = demo_voice_note(g->voice, DEMO_VOICE_CSAT, t + wait + (int64_t)rint_(r, 1, 20) * HOUR, g->uid, g->persona,
                              resolved | chat << 1, (int)(rnext(r) % 8), (uint32_t)rnext(r));
  }
}

/* Customer idx, from its own stream. */
static void customer(gen *g, int64_t idx) {
  rng r = {g->seed * 0x2545f4914f6cdd1dULL ^ ((uint64_t)idx + 1) * 0x9e3779b97f4a7c15ULL};
  rnext(&r);
  g->idx = idx;
  g->msg = 0;
  g->identified = 0;
  g->anon_app[0] = 0;
  double u = runif(&r), acc = 0;
  int kind = BROWSER;
  for (int k = 0; k < 5; k++)
    if (u < (acc += persona[k].share)) {
      kind = k;
      break;
    }
  /* acquired over the year, more of them lately and in the busy months */
  int64_t span = g->end - g->start, t0;
  span -= DAY; /* the first visit falls before the end */
  do t0 = g->start + (int64_t)(runif(&r) * (double)span);
  while (runif(&r) * 2.1 > (0.6 + 0.8 * (double)(t0 - g->start) / (double)span) * season(t0));
  t0 = daytime(&r, t0 - t0 % DAY);
  int64_t until = t0 + (int64_t)(rexp(&r, persona[kind].lifetime) * DAY);
  if (until > g->end) until = g->end;
  const char *first = PICK(&r, first_names), *last = PICK(&r, last_names);
  int place = (int)(rnext(&r) % (sizeof places / sizeof places[0]));
  char name[96];
  snprintf(name, sizeof name, "%s %s", first, last);
  snprintf(g->uid, sizeof g->uid, "nw-%llu-%lld", (unsigned long long)g->seed % 1000, (long long)idx);
  snprintf(g->anon_web, sizeof g->anon_web, "a-%016llx", (unsigned long long)rnext(&r));
  char lower[48];
  size_t li = 0;
  for (const char *s = first; *s && li < 20; s++) lower[li++] = (char)(*s | 0x20);
  lower[li++] = '.';
  for (const unsigned char *s = (const unsigned char *)last; *s && li < 40; s++)
    if (*s < 0x80) lower[li++] = (char)(*s | 0x20); /* ü and friends are dropped */
  lower[li] = 0;
  snprintf(g->email, sizeof g->email, "%s%lld@example.%s", lower, (long long)idx,
           idx % 3 == 0 ? "org" : idx % 3 == 1 ? "com" : "net");
  int uses_app = rchance(&r, persona[kind].app);
  int store_shopper = rchance(&r, persona[kind].store);

  /* anonymous visits first; then they sign up (all but browsers) */
  int64_t t = t0;
  int64_t orders = 0, tickets = 0;
  int pre = (int)rint_(&r, 1, kind == BROWSER ? 4 : 2);
  for (int v = 0; v < pre && t < until && !g->rc; v++) {
    session(g, &r, t, 0, 0, &orders);
    if (v + 1 < pre) t = daytime(&r, t - t % DAY + (int64_t)(rexp(&r, 4) + 1) * DAY);
  }
  if (kind == BROWSER) return;
  g->persona = kind;
  const char *plan = "free";
  t += rint_(&r, 2, 15) * MINUTE;
  identify(g, &r, t, g->src_web, 0, name, places[place].city, places[place].country, plan);
  track(g, t + 2000, g->src_web, 0, "Signed Up", "\"method\":\"email\"");
  if (rchance(&r, 0.08)) { /* B2B: a member of a business account */
    size_t k;
    int acct = (int)(rnext(&r) % 400);
    head(g, &k, "group", t + 5000, 0, 0);
    put(g, &k,
        ",\"groupId\":\"acct-%d\",\"traits\":{\"name\":\"%s %s Co\",\"industry\":\"%s\",\"employees\":%d}",
        acct, last_names[acct % 30], industries[acct % 8], industries[(acct / 8) % 8],
        (int)(10 + (acct * 37) % 990));
    emit(g, k, g->src_web);
  }
  int subscribed = 0;
  int64_t sub_at = 0;
  if (rchance(&r, persona[kind].subscribe)) {
    sub_at = t + (int64_t)(rexp(&r, 20) * DAY);
    if (sub_at < until) {
      subscribed = 1;
      plan = rchance(&r, 0.3) ? "premium" : "plus";
    }
  }
  /* sessions until they drift away */
  int64_t next_mail = g->start + (t - g->start) / (7 * DAY) * 7 * DAY + 7 * DAY + 9 * HOUR;
  int app_known = 0;
  for (;;) {
    if (g->rc) return;
    double gap = rexp(&r, persona[kind].session_gap / season(t));
    t = daytime(&r, t - t % DAY + (int64_t)(gap + 1) * DAY);
    /* newsletters since the last visit: opened now and then */
    for (; next_mail < t && next_mail < until; next_mail += 7 * DAY)
      if (rchance(&r, kind == LOYAL ? 0.35 : 0.18)) {
        char props[128];
        const char *c = PICK(&r, campaigns);
        snprintf(props, sizeof props, "\"campaign\":\"%s\",\"subject\":\"Northwind %s\"", c, c);
        int64_t open = next_mail + (int64_t)(rexp(&r, 20) * HOUR) + rint_(&r, 1, 59) * MINUTE;
        track(g, open, g->src_email, 0, "Email Opened", props);
        if (rchance(&r, 0.15)) track(g, open + rint_(&r, 1, 30) * 1000, g->src_email, 0, "Email Clicked", props);
      }
    if (subscribed && sub_at < t && sub_at) {
      char props[96];
      snprintf(props, sizeof props, "\"plan\":\"%s\",\"mrr\":%s", plan, strcmp(plan, "premium") ? "9.00" : "19.00");
      track(g, sub_at, g->src_web, 0, "Subscription Started", props);
      identify(g, &r, sub_at + 1000, g->src_web, 0, name, places[place].city, places[place].country, plan);
      sub_at = 0;
    }
    if (t >= until || (kind == ONE_TIMER && orders > 0 && rchance(&r, 0.7))) break;
    int app = uses_app && rchance(&r, 0.6);
    if (app && !app_known) { /* first app start: anonymous, then log in */
      snprintf(g->anon_app, sizeof g->anon_app, "i-%016llx", (unsigned long long)rnext(&r));
      size_t k;
      head(g, &k, "screen", t, 1, 1);
      put(g, &k, ",\"name\":\"Welcome\"");
      emit(g, k, g->src_app);
      identify(g, &r, t + 40000, g->src_app, 1, name, places[place].city, places[place].country, plan);
      t += 60000;
      app_known = 1;
    }
    double value;
    if (store_shopper && rchance(&r, 0.25)) { /* in a store: the till knows the e-mail */
      char props[512];
      const product *p = &PICK(&r, catalog);
      orders++;
      value = p->price;
      snprintf(props, sizeof props,
               "\"order_id\":\"NW-%llu-%lld-%lld\",\"revenue\":%.2f,\"currency\":\"USD\",\"store\":\"%s\","
               "\"products\":[{\"product_id\":\"%s\",\"name\":\"%s\",\"price\":%.2f,\"quantity\":1}]",
               (unsigned long long)g->seed, (long long)idx, (long long)orders, value,
               places[place].city, p->id, p->name, p->price);
      track(g, t, g->src_store, 0, "Order Completed", props);
    } else {
      value = session(g, &r, t, app, persona[kind].buy, &orders);
    }
    if (value > 0 && rchance(&r, persona[kind].ticket))
      ticket(g, &r, t + (int64_t)(rexp(&r, 3) * DAY) + HOUR, ++tickets, kind == FRUSTRATED);
    if (value > 0 && kind == LOYAL && rchance(&r, 0.2)) {
      char props[64];
      snprintf(props, sizeof props, "\"rating\":%d", rchance(&r, 0.8) ? 5 : 4);
      track(g, t + 3 * DAY, g->src_email, 0, "Review Submitted", props);
      if (rchance(&r, 0.3)) track(g, t + 3 * DAY + HOUR, g->src_app, 1, "Referral Sent", "\"reward\":\"$10\"");
    }
  }
  if (subscribed && !sub_at && until < g->end && kind != LOYAL) {
    char props[96];
    snprintf(props, sizeof props, "\"plan\":\"%s\",\"reason\":\"%s\"", plan, PICK(&r, cancel_reasons));
    track(g, until, g->src_web, 0, "Subscription Cancelled", props);
  }
  /* relationship NPS: each quarter (from the first of Jan, Apr, Jul, Oct),
   * a quarter of the customers active then answer within two weeks */
  int main_channel = store_shopper ? 2 : uses_app ? 1 : 0;
  for (int64_t q = g->start; q < until && !g->rc; q += 91 * DAY) {
    int64_t at = q + (int64_t)(runif(&r) * 14 * DAY);
    if (at > t0 + 20 * DAY && at < until + 30 * DAY && rchance(&r, 0.25))
      g->rc = demo_voice_note(g->voice, DEMO_VOICE_NPS, daytime(&r, at - at % DAY), g->uid, kind, main_channel, 0,
                              (uint32_t)rnext(&r));
  }
}

/* The demo's segments (personas among them) and journey maps, saved
 * through the same checks as the API's. */
static const char *const demo_segments[] = {
    "{\"name\":\"Champions\",\"rule\":\"count(\\\"Order Completed\\\", 90d) >= 3\","
    "\"description\":\"Three orders or more in 90 days: our best customers.\","
    "\"persona\":{\"goals\":[\"Reorder favourites in two taps\",\"Early access to new gear\"],"
    "\"pain_points\":[\"Delivery slots fill up at weekends\"]}}",
    "{\"name\":\"Premium members\",\"rule\":\"traits.plan == \\\"premium\\\"\","
    "\"description\":\"Subscribers on the premium plan.\"}",
    "{\"name\":\"Lapsing buyers\",\"rule\":\"count(\\\"Order Completed\\\") >= 1 && days_since(\\\"Order Completed\\\") > 60\","
    "\"description\":\"Bought before, nothing for two months: win them back.\","
    "\"persona\":{\"goals\":[\"Good value\"],\"pain_points\":[\"Found it cheaper elsewhere\",\"Slow refunds\"]}}",
    "{\"name\":\"Support-heavy\",\"rule\":\"count(\\\"Ticket Opened\\\", 90d) >= 2\","
    "\"description\":\"Two tickets or more in 90 days.\"}",
    "{\"name\":\"New this month\",\"rule\":\"now - first_seen < 30d\"}",
};

static const char *const demo_maps[] = {
    "{\"name\":\"Online purchase\",\"state\":\"current\","
    "\"description\":\"From the first visit to the review, as it works today.\",\"stages\":["
    "{\"name\":\"Awareness\",\"touchpoints\":["
    "{\"name\":\"Sign-up\",\"channel\":\"web\",\"owner\":\"Growth\",\"expected_emotion\":1,\"binding\":{\"event\":\"Signed Up\"}},"
    "{\"name\":\"Newsletter\",\"channel\":\"email\",\"owner\":\"CRM\",\"expected_emotion\":0,\"binding\":{\"event\":\"Email Clicked\"}}]},"
    "{\"name\":\"Evaluation\",\"touchpoints\":["
    "{\"name\":\"Product page\",\"channel\":\"web\",\"owner\":\"E-commerce\",\"expected_emotion\":1,\"binding\":{\"event\":\"Product Viewed\"}},"
    "{\"name\":\"Add to cart\",\"channel\":\"web\",\"owner\":\"E-commerce\",\"expected_emotion\":1,"
    "\"pain_points\":[\"Delivery cost shown only at checkout\"],\"binding\":{\"event\":\"Product Added\"}}]},"
    "{\"name\":\"Purchase\",\"touchpoints\":["
    "{\"name\":\"Checkout\",\"channel\":\"web\",\"owner\":\"E-commerce\",\"moment_of_truth\":true,\"expected_emotion\":-1,"
    "\"pain_points\":[\"Card declined without a reason\"],\"binding\":{\"event\":\"Checkout Started\"}},"
    "{\"name\":\"Order placed\",\"owner\":\"E-commerce\",\"expected_emotion\":2,\"binding\":{\"event\":\"Order Completed\"}},"
    "{\"name\":\"Pick and pack\",\"lane\":\"back\",\"owner\":\"Logistics\"}]},"
    "{\"name\":\"Support\",\"touchpoints\":["
    "{\"name\":\"Ticket opened\",\"channel\":\"call_centre\",\"owner\":\"Customer care\",\"moment_of_truth\":true,\"expected_emotion\":-2,"
    "\"binding\":{\"event\":\"Ticket Opened\"}},"
    "{\"name\":\"Ticket solved\",\"channel\":\"call_centre\",\"owner\":\"Customer care\",\"expected_emotion\":1,\"binding\":{\"event\":\"Ticket Closed\"}},"
    "{\"name\":\"Refund booked\",\"lane\":\"back\",\"owner\":\"Finance\",\"pain_points\":[\"Refunds take 10 days\"]}]},"
    "{\"name\":\"Advocacy\",\"touchpoints\":["
    "{\"name\":\"Review\",\"channel\":\"email\",\"owner\":\"CRM\",\"expected_emotion\":1,\"binding\":{\"event\":\"Review Submitted\"}},"
    "{\"name\":\"Referral\",\"channel\":\"app\",\"owner\":\"Growth\",\"expected_emotion\":2,\"binding\":{\"event\":\"Referral Sent\"}}]}]}",
    "{\"name\":\"Online purchase (future)\",\"state\":\"future\","
    "\"description\":\"Delivery cost on the product page; refunds in 2 days.\",\"stages\":["
    "{\"name\":\"Evaluation\",\"touchpoints\":["
    "{\"name\":\"Product page with delivery cost\",\"channel\":\"web\",\"owner\":\"E-commerce\",\"expected_emotion\":2,\"binding\":{\"event\":\"Product Viewed\"}}]},"
    "{\"name\":\"Purchase\",\"touchpoints\":["
    "{\"name\":\"One-step checkout\",\"channel\":\"web\",\"owner\":\"E-commerce\",\"moment_of_truth\":true,\"expected_emotion\":1,\"binding\":{\"event\":\"Checkout Started\"}},"
    "{\"name\":\"Order placed\",\"expected_emotion\":2,\"binding\":{\"event\":\"Order Completed\"}}]},"
    "{\"name\":\"Support\",\"touchpoints\":["
    "{\"name\":\"Refund in 2 days\",\"lane\":\"back\",\"owner\":\"Finance\",\"expected_emotion\":1}]}]}",
};

/* Saves the demo's segments and maps. 0 or 1 (after saying why). */
static int demo_definitions(store *st, profile *pr) {
  analytics_segments *seg = NULL;
  cx_err rc = analytics_segments_open(st, pr, &seg);
  for (size_t i = 0; !rc && i < sizeof demo_segments / sizeof demo_segments[0] + sizeof demo_maps / sizeof demo_maps[0]; i++) {
    size_t nseg = sizeof demo_segments / sizeof demo_segments[0];
    cJSON *req = cJSON_Parse(i < nseg ? demo_segments[i] : demo_maps[i - nseg]);
    cx_buf out;
    cx_buf_init(&out, 1 << 20);
    analytics_error err = {{0}, {0}, {0}};
    rc = !req ? CX_ENOMEM
         : i < nseg ? analytics_segment_create(seg, req, &out, &err)
                    : journey_map_create(st, req, &out, &err);
    if (rc == CX_EINVAL) cli_error("demo definition %zu was refused: %s (%s) - a bug in cxm demo.", i, err.message, err.field);
    cx_buf_free(&out);
    cJSON_Delete(req);
  }
  analytics_segments_close(seg);
  if (rc && rc != CX_EINVAL) cli_error("the demo's segments and journey maps could not be saved (%s).", cx_strerror(rc));
  return rc ? 1 : 0;
}

/* The listening program's triggers from now on: CSAT an hour after a
 * ticket is closed, CES two hours after an online order (surveys 2 and 3
 * of demo_voice.c). They start at the log's head: the demo's past events
 * send nothing. */
static int demo_triggers(store *st, profile *pr, feedback *fb) {
  static const char *const triggers[][2] = {
      {"2", "{\"event\":\"Ticket Closed\",\"delay\":\"1h\",\"subject\":\"How did we do?\","
            "\"body\":\"Hi,\\n\\nYou were in touch with our care team. How did we do? {{link}}\\n\\n{{unsubscribe}}\"}"},
      {"3", "{\"event\":\"Order Completed\",\"delay\":\"2h\",\"where\":\"event.properties.revenue > 0\","
            "\"subject\":\"Was it easy to order?\",\"body\":\"Hi,\\n\\nOne question about your order: {{link}}\\n\\n{{unsubscribe}}\"}"}};
  feedback_dist *d = NULL;
  cx_err rc = feedback_dist_open(st, pr, NULL, fb, NULL, "http://127.0.0.1:8080", &d);
  for (size_t i = 0; !rc && i < 2; i++) {
    cJSON *req = cJSON_Parse(triggers[i][1]);
    cx_buf out;
    cx_buf_init(&out, 1 << 16);
    analytics_error err = {{0}, {0}, {0}};
    rc = req ? feedback_dist_trigger_create(d, atoll(triggers[i][0]), req, &out, &err) : CX_ENOMEM;
    if (rc == CX_EINVAL) cli_error("demo trigger %zu was refused: %s (%s) - a bug in cxm demo.", i, err.message, err.field);
    cx_buf_free(&out);
    cJSON_Delete(req);
  }
  feedback_dist_close(d);
  if (rc && rc != CX_EINVAL) cli_error("the demo's survey triggers could not be saved (%s).", cx_strerror(rc));
  return rc ? 1 : 0;
}

/* Two CX maturity assessments six months apart, the later one better:
 * per component, the answers to its statements in the model's order.
 * The later one is saved now, so that its evidence sees the demo's
 * surveys, maps, triggers, units and users (made just now); the earlier
 * one, dated six months back, sees what existed then: nothing yet. Both
 * are the CX lead's (demo_people). */
static int demo_maturity(store *st) {
  int64_t now = cx_now_ms();
  static const struct {
    int64_t days_ago;
    const char *note;
    const char *answers[GV_MATURITY_COMPONENTS];
  } rounds[] = {
      {182, "Baseline with the leadership team: listening has started, little is acted on yet.",
       {"22132", "2322", "1212", "121", "2212", "21221", "2222", "2312", "33232", "3323"}},
      {0, "Six months on: detractors are called back, triggers send the surveys, KPIs have owners.",
       {"33243", "3433", "2323", "232", "3323", "42332", "4343", "3423", "44343", "4434"}},
  };
  cx_err rc = CX_OK;
  for (size_t k = 0; k < sizeof rounds / sizeof rounds[0] && !rc; k++) {
    cJSON *req = cJSON_CreateObject(), *ans = req ? cJSON_AddObjectToObject(req, "answers") : NULL;
    if (!ans || !cJSON_AddStringToObject(req, "note", rounds[k].note)) rc = CX_ENOMEM;
    for (int c = 0; c < GV_MATURITY_COMPONENTS && !rc; c++)
      for (size_t i = 0; i < gv_maturity_model[c].nstatements && !rc; i++)
        if (!cJSON_AddNumberToObject(ans, gv_maturity_model[c].statements[i].id, rounds[k].answers[c][i] - '0'))
          rc = CX_ENOMEM;
    cx_buf out;
    cx_buf_init(&out, 1 << 20);
    analytics_error err = {{0}, {0}, {0}};
    if (!rc) rc = gv_maturity_create(st, req, "user:lead@northwind.example", now - rounds[k].days_ago * DAY, &out, &err);
    if (rc == CX_EINVAL) cli_error("demo assessment %zu was refused: %s (%s) - a bug in cxm demo.", k, err.message, err.field);
    cx_buf_free(&out);
    cJSON_Delete(req);
  }
  if (rc && rc != CX_EINVAL) cli_error("the demo's maturity assessments could not be saved (%s).", cx_strerror(rc));
  return rc ? 1 : 0;
}

/* The demo's people: units (the care teams its responses name) and a
 * user per role, all with one password made now (out, 40 bytes), printed
 * with the credentials. 0 on success. */
static int demo_people(store *st, char *password, size_t cap, demo_org *org) {
  govern *gv;
  cx_err rc = gv_open(st, &gv);
  if (rc) {
    cli_error("the demo's users could not be created (%s).", cx_strerror(rc));
    return 1;
  }
  cx_secret("demo-", password, cap);
  static const char *const teams[] = {"Care North", "Care South", "Care East", "Care West"};
  static const struct {
    const char *email, *name, *role;
    int team; /* -2: no unit, -1: Customer care, else a team */
  } people[] = {
      {"admin@northwind.example", "Alex Admin", "admin", -2},
      {"lead@northwind.example", "Maya Lindqvist", "cx_lead", -1},
      {"analyst@northwind.example", "Omar Haddad", "analyst", -2},
      {"viewer@northwind.example", "Vera Board", "viewer", -2},
      {"ana@northwind.example", "Ana", "agent", 0},
      {"ben@northwind.example", "Ben", "agent", 0},
      {"chloe@northwind.example", "Chloe", "agent", 1},
      {"dev@northwind.example", "Dev", "agent", 1},
      {"eli@northwind.example", "Eli", "agent", 2},
      {"farah@northwind.example", "Farah", "agent", 2},
      {"goran@northwind.example", "Goran", "agent", 3},
      {"hana@northwind.example", "Hana", "agent", 3},
  };
  int64_t ids[5] = {0};
  char buf[256];
  analytics_error err;
  cx_buf b;
  cx_buf_init(&b, 1 << 16);
  for (int i = -1; !rc && i < 4; i++) {
    if (i < 0) snprintf(buf, sizeof buf, "{\"name\":\"Customer care\"}");
    else snprintf(buf, sizeof buf, "{\"name\":\"%s\",\"parent\":\"%lld\"}", teams[i], (long long)ids[0]);
    cJSON *req = cJSON_Parse(buf);
    cx_buf_reset(&b);
    rc = req ? gv_unit_create(gv, req, &b, NULL, &err) : CX_ENOMEM;
    cJSON_Delete(req);
    const char *idp = rc ? NULL : strstr(b.p, "\"id\":\"");
    if (idp) ids[i + 1] = strtoll(idp + 6, NULL, 10);
  }
  for (size_t i = 0; !rc && i < sizeof people / sizeof people[0]; i++) {
    cJSON *req = cJSON_CreateObject();
    if (!req) {
      rc = CX_ENOMEM;
      break;
    }
    cJSON_AddStringToObject(req, "email", people[i].email);
    cJSON_AddStringToObject(req, "name", people[i].name);
    cJSON_AddStringToObject(req, "password", password);
    cJSON_AddStringToObject(req, "role", people[i].role);
    if (people[i].team >= -1) {
      snprintf(buf, sizeof buf, "%lld", (long long)ids[people[i].team + 1]);
      cJSON_AddStringToObject(req, "unit", buf);
    }
    cx_buf_reset(&b);
    rc = gv_user_create(gv, req, &b, NULL, &err);
    cJSON_Delete(req);
    const char *idp = rc ? NULL : strstr(b.p, "\"id\":\"");
    demo_user *u = &org->users[i];
    u->id = idp ? strtoll(idp + 6, NULL, 10) : 0;
    u->unit = people[i].team >= -1 ? ids[people[i].team + 1] : 0;
    u->email = people[i].email;
    if (!rc) gv_role_parse(people[i].role, &u->role);
    if (!rc) gv_audit(gv, "cli:demo", "user.create", people[i].email, NULL, NULL);
  }
  cx_buf_free(&b);
  gv_close(gv);
  if (rc) {
    cli_error("the demo's users could not be created (%s%s%s).", cx_strerror(rc), rc == CX_EINVAL ? ": " : "",
              rc == CX_EINVAL ? err.message : "");
    return 1;
  }
  org->nusers = sizeof people / sizeof people[0];
  for (int i = 0; i < 5; i++) org->units[i] = ids[i];
  return 0;
}

/* The first column of sql with one text parameter, 0 without a row. */
static int64_t demo_lookup(store *st, const char *sql, const char *text) {
  sqlite3 *db = store_reader_get(st);
  store_param p = {":v", 1, text, 0};
  int64_t id = -1;
  if (store_step_named(db, sql, &p, 1, &id)) id = -1;
  store_reader_put(st, db);
  return id > 0 ? id : 0;
}

/* The demo's KPI targets, each owned by a demo user, and their trend: a
 * check a week for twelve weeks back, computed from the demo's answers
 * and events (no alert for any of it). 0 on success; *n the targets. */
static cx_err demo_targets(store *st, govern *gv, gv_targets *t, int64_t end, size_t *n, analytics_error *err) {
  static const struct {
    const char *owner, *kpi, *scope, *unit, *touchpoint, *direction;
    double target;
    int period_days, min_n; /* the teams answer less often: a quarter, fewer answers */
  } targets[] = {
      {"lead@northwind.example", "nps", "company", NULL, NULL, "higher", 30, 90, 30},
      {"ana@northwind.example", "csat", "unit", "Care North", NULL, "higher", 85, 90, 15},
      {"goran@northwind.example", "csat", "unit", "Care West", NULL, "higher", 80, 90, 15},
      {"lead@northwind.example", "csat", "unit", "Customer care", NULL, "higher", 75, 90, 30},
      /* the demo's CES question is agreement with "made it easy": higher is easier */
      {"analyst@northwind.example", "ces", "touchpoint", NULL, "Checkout", "higher", 5.5, 30, 30},
      {"lead@northwind.example", "churn_rate", "company", NULL, NULL, "lower", 0.1, 30, 30},
  };
  cx_err rc = CX_OK;
  cx_buf b;
  cx_buf_init(&b, 1 << 20);
  for (size_t i = 0; !rc && i < sizeof targets / sizeof targets[0]; i++) {
    int64_t owner = demo_lookup(st, "SELECT id FROM users WHERE email = :v", targets[i].owner);
    cJSON *req = cJSON_CreateObject();
    if (!req) {
      rc = CX_ENOMEM;
      break;
    }
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)owner);
    cJSON_AddStringToObject(req, "kpi", targets[i].kpi);
    cJSON_AddStringToObject(req, "scope", targets[i].scope);
    cJSON_AddStringToObject(req, "owner", id);
    cJSON_AddNumberToObject(req, "target", targets[i].target);
    cJSON_AddStringToObject(req, "direction", targets[i].direction);
    cJSON_AddNumberToObject(req, "period_days", targets[i].period_days);
    cJSON_AddNumberToObject(req, "min_n", targets[i].min_n);
    if (targets[i].unit) {
      snprintf(id, sizeof id, "%lld", (long long)demo_lookup(st, "SELECT id FROM units WHERE name = :v", targets[i].unit));
      cJSON_AddStringToObject(req, "scope_value", id);
    }
    if (targets[i].touchpoint) cJSON_AddStringToObject(req, "scope_value", targets[i].touchpoint);
    cx_buf_reset(&b);
    rc = gv_target_create(t, req, &b, NULL, err);
    cJSON_Delete(req);
    if (!rc) gv_audit(gv, "cli:demo", "target.create", targets[i].kpi, NULL, NULL);
    if (!rc) ++*n;
  }
  cx_buf_free(&b);
  for (int k = 12; !rc && k >= 0; k--) rc = gv_targets_backfill(t, end - (int64_t)k * 7 * DAY);
  return rc;
}

/* The demo's initiatives board: six initiatives in every status, linked
 * to the cases' root causes (the default tree's ids) and the themes, each
 * measured from the demo's data when asked. One of them, the Care West
 * coaching, is the story demo_voice.c tells (DEMO_COACHED_DAYS). 0 on
 * success; *n the initiatives. */
static cx_err demo_initiatives(store *st, govern *gv, gv_targets *t, int64_t end, size_t *n, analytics_error *err) {
  static const struct {
    const char *owner, *json; /* json: the request, with %s for the unit's id */
    int started_days, done_days; /* before the end; 0: not set */
  } items[] = {
      {"lead@northwind.example",
       "{\"title\":\"Coach Care West on refunds and tone\",\"description\":\"Side-by-side coaching for the Care West"
       " agent whose tickets score lowest, on refunds and on tone.\",\"status\":\"done\",\"kpi\":\"csat\","
       "\"scope\":\"unit\",\"scope_value\":\"%s\",\"expected_change\":10,\"reach\":1500,\"impact\":2,"
       "\"confidence\":80,\"effort\":1,\"root_causes\":[7,15],\"themes\":[\"Staff friendliness\",\"Billing & refunds\"],"
       "\"measure_days\":60}",
       DEMO_COACHED_DAYS + 14, DEMO_COACHED_DAYS},
      {"lead@northwind.example",
       "{\"title\":\"Call back within one hour\",\"description\":\"Every caller who waits more than five minutes gets"
       " a call back within the hour.\",\"status\":\"in_progress\",\"kpi\":\"nps\",\"expected_change\":5,"
       "\"reach\":8000,\"impact\":1,\"confidence\":50,\"effort\":4,\"root_causes\":[6],\"themes\":[\"Wait time\"],"
       "\"measure_days\":90}",
       20, 0},
      {"analyst@northwind.example",
       "{\"title\":\"One-page checkout on the web\",\"status\":\"planned\",\"kpi\":\"ces\",\"scope\":\"touchpoint\","
       "\"scope_value\":\"Checkout\",\"expected_change\":0.5,\"reach\":20000,\"impact\":1,\"confidence\":80,"
       "\"effort\":6,\"root_causes\":[4],\"themes\":[\"Checkout & payment\",\"Website & app\"]}",
       0, 0},
      {"lead@northwind.example",
       "{\"title\":\"Delivery updates by text message\",\"status\":\"idea\",\"kpi\":\"nps\",\"expected_change\":3,"
       "\"reach\":15000,\"impact\":0.5,\"confidence\":50,\"effort\":2,\"root_causes\":[10,18],"
       "\"themes\":[\"Delivery\",\"Communication\"]}",
       0, 0},
      {"lead@northwind.example",
       "{\"title\":\"Win-back offer for customers at risk\",\"status\":\"idea\",\"kpi\":\"churn_rate\","
       "\"expected_change\":-0.02,\"reach\":3000,\"impact\":1,\"confidence\":50,\"effort\":1}",
       0, 0},
      {"analyst@northwind.example",
       "{\"title\":\"Fix the payment page time-outs\",\"status\":\"done\",\"kpi\":\"ces\",\"scope\":\"touchpoint\","
       "\"scope_value\":\"Checkout\",\"expected_change\":0.3,\"reach\":20000,\"impact\":0.5,\"confidence\":100,"
       "\"effort\":0.5,\"root_causes\":[2],\"themes\":[\"Checkout & payment\"]}",
       150, 140},
  };
  cx_err rc = CX_OK;
  cx_buf b;
  cx_buf_init(&b, 1 << 20);
  char unit[32];
  snprintf(unit, sizeof unit, "%lld", (long long)demo_lookup(st, "SELECT id FROM units WHERE name = :v", "Care West"));
  for (size_t i = 0; !rc && i < sizeof items / sizeof items[0]; i++) {
    char json[2048], id[32], at[CX_TIME_LEN];
    snprintf(json, sizeof json, items[i].json, unit);
    cJSON *req = cJSON_Parse(json);
    if (!req) {
      rc = CX_ENOMEM;
      break;
    }
    snprintf(id, sizeof id, "%lld", (long long)demo_lookup(st, "SELECT id FROM users WHERE email = :v", items[i].owner));
    cJSON_AddStringToObject(req, "owner", id);
    if (items[i].started_days) {
      cx_time_format(end - (int64_t)items[i].started_days * DAY, at);
      cJSON_AddStringToObject(req, "started_at", at);
    }
    if (items[i].done_days) {
      cx_time_format(end - (int64_t)items[i].done_days * DAY, at);
      cJSON_AddStringToObject(req, "done_at", at);
    }
    cx_buf_reset(&b);
    rc = gv_initiative_create(t, req, &b, NULL, err);
    cJSON_Delete(req);
    if (!rc) {
      cJSON *made = cJSON_ParseWithLength(b.p, b.len);
      const cJSON *mid = cJSON_GetObjectItemCaseSensitive(made, "id");
      char target[64];
      snprintf(target, sizeof target, "initiative:%s", cJSON_IsString(mid) ? mid->valuestring : "?");
      gv_audit(gv, "cli:demo", "initiative.create", target, NULL, NULL);
      cJSON_Delete(made);
    }
    if (!rc) ++*n;
  }
  cx_buf_free(&b);
  return rc;
}

/* The demo's KPI targets and initiatives, through one targets module. 0
 * on success; *ntargets, *ninitiatives: how many. */
static int demo_govern(store *st, profile *pr, feedback *fb, int64_t end, size_t *ntargets, size_t *ninitiatives) {
  govern *gv = NULL;
  gv_targets *t = NULL;
  cx_err rc = gv_open(st, &gv);
  gv_targets_cfg cfg = {.st = st, .pr = pr, .fb = fb, .gv = gv};
  if (!rc) rc = gv_targets_open(&cfg, &t);
  analytics_error err = {{0}, {0}, {0}};
  const char *what = "KPI targets";
  if (!rc) rc = demo_targets(st, gv, t, end, ntargets, &err);
  if (!rc) what = "initiatives", rc = demo_initiatives(st, gv, t, end, ninitiatives, &err);
  gv_targets_close(t);
  gv_close(gv);
  if (rc) {
    cli_error("the demo's %s could not be created (%s%s%s).", what, cx_strerror(rc), rc == CX_EINVAL ? ": " : "",
              rc == CX_EINVAL ? err.message : "");
    return 1;
  }
  return 0;
}

int cmd_demo(const cli_opts *o) {
  int64_t end = cx_now_ms();
  if (o->end && cx_time_parse(o->end, strlen(o->end), &end)) {
    cli_error("--end must be an ISO-8601 time such as 2026-11-01T00:00:00Z.");
    return 2;
  }
  end -= end % MINUTE;
  int64_t t0 = cx_mono_ns();
  store *st;
  cx_err rc = store_open(o->data, 1, &st);
  if (rc) {
    cli_error("%s: %s.", o->data, cli_store_error(rc));
    return 1;
  }
  char creds[4096];
  if ((rc = cli_initialise(st, o->data, creds, sizeof creds))) {
    store_close(st);
    if (rc == CX_EEXIST)
      cli_error("%s already holds a store; cxm demo fills a new data directory (choose another --data).",
                o->data);
    else
      cli_error("%s could not be initialised (see the log line above).", o->data);
    return 1;
  }
  profile *pr = NULL;
  ingest *in = NULL;
  feedback *fb = NULL;
  gen *g = calloc(1, sizeof *g);
  int status = 1;
  size_t responses = 0;
  if (!g || demo_voice_new(&g->voice)) {
    cli_error("out of memory.");
    goto out;
  }
  g->seed = o->seed;
  g->end = end;
  g->start = end - 365 * DAY;
  if ((rc = ingest_open(st, &pr, &in)) || (rc = feedback_open(st, pr, in, &fb)) ||
      (rc = ingest_start(in, CLI_FEED_QUEUE(DEMO_BATCH))) ||
      (rc = ingest_source_ensure(in, "web", &g->src_web)) ||
      (rc = ingest_source_ensure(in, "app", &g->src_app)) ||
      (rc = ingest_source_ensure(in, "email", &g->src_email)) ||
      (rc = ingest_source_ensure(in, "store", &g->src_store)) ||
      (rc = ingest_source_ensure(in, "call_centre", &g->src_call)) ||
      (rc = ingest_source_ensure(in, "chat", &g->src_chat)) ||
      (rc = cli_feed_open(in, g->src_web, DEMO_BATCH, &g->feed))) {
    cli_error("the store could not be prepared for the demo (%s).", cx_strerror(rc));
    goto out;
  }
  for (int64_t i = 0; i < o->customers && !g->rc; i++) customer(g, i);
  uint64_t imported = 0, dups = 0;
  cx_err frc = cli_feed_close(g->feed, !g->rc, &imported, &dups);
  if (g->rc == CX_EINVAL)
    cli_error("demo message %llu was refused: %s (%s) - a bug in cxm demo.", (unsigned long long)g->lines,
              g->err.message, g->err.code);
  else if (g->rc || frc)
    cli_error("the demo data could not be committed (%s).", cx_strerror(g->rc ? g->rc : frc));
  else
    status = demo_definitions(st, pr);
  /* the last weeks of NPS and CSAT answers come in later, hour by hour,
   * while the closed loop works them (demo_cases) */
  int64_t cut = end - DEMO_CASES_WEEKS * 7 * DAY;
  if (!status && (rc = demo_voice_save(g->voice, fb, g->start, g->end, cut, &responses))) {
    if (rc != CX_EINVAL) cli_error("the demo's surveys could not be saved (%s).", cx_strerror(rc));
    status = 1;
  }
  if (!status && demo_triggers(st, pr, fb)) status = 1;
  char password[48];
  demo_org org = {0};
  demo_cases_figures cf = {0};
  if (!status && demo_people(st, password, sizeof password, &org)) status = 1;
  if (!status && demo_cases(st, pr, fb, g->voice, &org, cut, end, &responses, &cf)) status = 1;
  if (!status && demo_maturity(st)) status = 1;
  size_t ntargets = 0;
  size_t ninitiatives = 0;
  if (!status && demo_govern(st, pr, fb, end, &ntargets, &ninitiatives)) status = 1;
  size_t nusers = org.nusers;
  if (!status) {
    /* the credentials of cxm init, and the demo's sign-in */
    size_t len = strlen(creds);
    if (len && creds[len - 1] == '}')
      snprintf(creds + len - 1, sizeof creds - len + 1,
               ",\"users\":{\"admin\":\"admin@northwind.example\",\"cx_lead\":\"lead@northwind.example\","
               "\"analyst\":\"analyst@northwind.example\",\"viewer\":\"viewer@northwind.example\","
               "\"agent\":\"ana@northwind.example\"},\"password\":\"%s\"}",
               password);
    printf("%s\n", creds);
    fflush(stdout);
    profile_stats ps;
    profile_get_stats(pr, &ps);
    double secs = (double)(cx_mono_ns() - t0) / 1e9;
    fprintf(stderr,
            "cxm: demo company ready in %s: %llu customers (%llu profiles merged into them), %llu events"
            " over 12 months, 5 segments, 2 journey maps, 4 surveys with %zu responses, 2 survey triggers, %zu users"
            " in 5 units, %zu cases (%zu open, %zu breached), %zu KPI targets, %zu initiatives and 2 maturity assessments,"
            " in %.1f s\n",
            o->data, (unsigned long long)ps.customers, (unsigned long long)ps.merged,
            (unsigned long long)imported, responses, nusers, cf.cases, cf.open, cf.breached, ntargets, ninitiatives,
            secs);
  }
out:
  store_writer_stop(st);
  feedback_close(fb); /* after the writer, whose listener it is; before the store */
  cli_close(st, pr, in);
  if (g) demo_voice_free(g->voice);
  free(g);
  return status;
}
