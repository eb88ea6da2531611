/* gen_events.c - deterministic JSON Lines of tracking messages for the
 * import and scale benchmarks.
 *
 *   gen_events [--events N] [--users U] [--seed S] [--no-message-id] > FILE
 *
 * The same arguments always give the same bytes (splitmix64, no clock, no
 * locale). The mix is what a history export looks like: ~67 % track, ~25 %
 * page, ~8 % identify (traits with e-mail, name, plan, company). Identify
 * links the userId to the user's anonymousId; track and page carry the
 * userId, except ~5 % pre-login ones that carry only the anonymousId.
 * Users are drawn half uniformly, half skewed towards a core of heavy
 * users, so ~99 % of U users appear at 10 events per user.
 * Timestamps rise over a year from 2024-01-01 with a little jitter. Lines
 * average ~260 bytes with their messageId (~210 without). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static uint64_t next_u64(void) {
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static uint64_t below(uint64_t n) { return next_u64() % n; }
static double unit(void) { return (double)(next_u64() >> 11) / 9007199254740992.0; }

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

/* the anonymous id a user's browser carries: a stable uuid-shaped string */
static void anon_id(uint64_t user, char out[37]) {
  uint64_t a = mix(user * 2 + 1), b = mix(user * 2 + 2);
  snprintf(out, 37, "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-a%03" PRIx64 "-%012" PRIx64,
           a >> 32, (a >> 16) & 0xffff, a & 0xfff, b >> 52, b & (uint64_t)0xffffffffffff);
}

static void uuid(char out[37]) {
  uint64_t a = next_u64(), b = next_u64();
  snprintf(out, 37, "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-8%03" PRIx64 "-%012" PRIx64,
           a >> 32, (a >> 16) & 0xffff, a & 0xfff, b >> 52, b & (uint64_t)0xffffffffffff);
}

/* civil date from days since 1970-01-01 (Howard Hinnant's algorithm) */
static void iso_time(int64_t ms, char out[32]) {
  int64_t secs = ms / 1000, days = secs / 86400, rem = secs % 86400;
  int64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) y++;
  snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y % 10000, (int)m % 100,
           (int)d % 100, (int)(rem / 3600) % 100, (int)(rem / 60 % 60), (int)(rem % 60),
           (int)(ms % 1000 + 1000) % 1000);
}

static const char *const track_names[] = {"Product Viewed", "Product Added", "Cart Viewed",
                                          "Checkout Started", "Order Completed", "Product Searched",
                                          "Coupon Applied", "Support Ticket Opened", "Email Opened",
                                          "Signed In"};
static const double track_weights[] = {0.34, 0.14, 0.10, 0.07, 0.05, 0.12, 0.03, 0.03, 0.08, 0.04};
static const char *const categories[] = {"shoes", "jackets", "bags", "accessories", "shirts",
                                         "dresses", "sport", "kids"};
static const char *const pages[] = {"Home", "Product", "Category", "Cart", "Checkout", "Search",
                                    "Account", "Help"};
static const char *const plans[] = {"free", "basic", "pro", "enterprise"};
static const char *const firsts[] = {"Ada", "Grace", "Alan", "Linus", "Barbara", "Ken", "Margaret",
                                     "Dennis", "Frances", "John", "Radia", "Edsger"};
static const char *const lasts[] = {"Lovelace", "Hopper", "Turing", "Torvalds", "Liskov", "Thompson",
                                    "Hamilton", "Ritchie", "Allen", "Backus", "Perlman", "Dijkstra"};
static const char *const agents[] = {"Mozilla/5.0 (Windows NT 10.0) Chrome/124",
                                     "Mozilla/5.0 (Macintosh) Safari/605.1",
                                     "Mozilla/5.0 (iPhone; iOS 17_4) Mobile",
                                     "Mozilla/5.0 (Android 14) Chrome/124"};
#define COUNT(a) (sizeof a / sizeof a[0])

static const char *pick_track(void) {
  double x = unit(), acc = 0;
  for (size_t i = 0; i < COUNT(track_names); i++)
    if (x < (acc += track_weights[i])) return track_names[i];
  return track_names[0];
}

int main(int argc, char **argv) {
  uint64_t events = 1000000, users = 50000, seed = 42;
  int with_mid = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--events") && i + 1 < argc) events = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--users") && i + 1 < argc) users = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--no-message-id")) with_mid = 0;
    else {
      fprintf(stderr, "usage: gen_events [--events N] [--users U] [--seed S] [--no-message-id]\n");
      return 2;
    }
  }
  if (!users) users = 1;
  rng_state = seed;
  static char out[1 << 20];
  setvbuf(stdout, out, _IOFBF, sizeof out);
  const int64_t start = 1704067200000LL; /* 2024-01-01T00:00:00Z */
  const double span = 365.0 * 86400 * 1000;
  for (uint64_t i = 0; i < events; i++) {
    /* half uniform, half skewed to a heavy core (x^3 piles up near 0) */
    double x = unit();
    uint64_t u = (i & 1) ? below(users) : (uint64_t)(x * x * x * (double)users);
    char uid[32], aid[37], mid[37], ts[32];
    snprintf(uid, sizeof uid, "user-%07" PRIu64, u);
    anon_id(u, aid);
    int64_t ms = start + (int64_t)(span * (double)i / (double)events) + (int64_t)below(60000);
    iso_time(ms, ts);
    char midf[64] = "";
    if (with_mid) {
      uuid(mid);
      snprintf(midf, sizeof midf, "\"messageId\":\"%s\",", mid);
    }
    int anon_only = below(100) < 5;
    char who[128];
    if (anon_only) snprintf(who, sizeof who, "\"anonymousId\":\"%s\"", aid);
    else snprintf(who, sizeof who, "\"userId\":\"%s\"", uid);
    const char *ua = agents[mix(u) % COUNT(agents)];
    unsigned ip = (unsigned)mix(u ^ 0x1234);
    uint64_t kind = below(100);
    if (kind < 8 && !anon_only) {
      const char *f = firsts[mix(u + 7) % COUNT(firsts)], *l = lasts[mix(u + 11) % COUNT(lasts)];
      printf("{\"type\":\"identify\",%s\"userId\":\"%s\",\"anonymousId\":\"%s\",\"traits\":{"
             "\"email\":\"%s.%s.%" PRIu64 "@example.com\",\"name\":\"%s %s\",\"plan\":\"%s\","
             "\"company\":\"Company %" PRIu64 "\"},\"timestamp\":\"%s\"}\n",
             midf, uid, aid, f, l, u, f, l, plans[mix(u + 3) % COUNT(plans)], mix(u) % 5000, ts);
    } else if (kind < 33) {
      const char *pg = pages[below(COUNT(pages))];
      printf("{\"type\":\"page\",%s%s,\"name\":\"%s\",\"properties\":{\"path\":\"/%s/%" PRIu64
             "\"},\"context\":{\"userAgent\":\"%s\"},\"timestamp\":\"%s\"}\n",
             midf, who, pg, pg, below(5000), ua, ts);
    } else {
      const char *ev = pick_track();
      printf("{\"type\":\"track\",%s%s,\"event\":\"%s\",\"properties\":{\"product_id\":\"sku-%05" PRIu64
             "\",\"category\":\"%s\",\"price\":%" PRIu64 ".%02" PRIu64 "},\"context\":{\"ip\":"
             "\"10.%u.%u.%u\"},\"timestamp\":\"%s\"}\n",
             midf, who, ev, below(20000), categories[below(COUNT(categories))], 5 + below(295),
             below(100), (ip >> 16) & 255, (ip >> 8) & 255, ip & 255, ts);
    }
  }
  return fflush(stdout) == 0 ? 0 : 1;
}
