/* loadgen.c - an open-loop, constant-rate HTTP/1.1 load generator.
 *
 *   loadgen --port P [--host 127.0.0.1] [--path /v1/track] [--rate 10000]
 *           [--duration 10] [--warmup 2] [--connections 32] [--auth "Basic …"]
 *           [--users 10000] [--seed 1]
 *
 * Request k is due at t0 + k/rate whatever happened before it (open loop).
 * When it is due it goes out on an idle keep-alive connection; when none is
 * idle it waits for one. Its latency runs from the time it was due, not from
 * when it was sent, so a slow server cannot hide its stalls by slowing the
 * client down (no coordinated omission). Requests due during the warm-up are
 * sent but not recorded; every request due before the end is sent and waited
 * for (up to 10 s after the end), and one that never completes counts as an
 * error.
 *
 * Bodies: a pool of 1024 track messages (~250 bytes, no messageId, userIds
 * spread over --users), POSTed as application/json.
 *
 * Prints one JSON object: target_rate, achieved_rate (2xx answers that
 * arrived inside the measured window, per second), recorded (latencies kept), errors (socket errors,
 * non-2xx answers, timeouts), non2xx, p50_ms … p999_ms, max_ms, mean_ms. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define POOL 1024
#define INBUF 16384

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static uint64_t rng = 1;
static uint64_t next_u64(void) {
  uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

enum { C_DOWN, C_CONNECTING, C_IDLE, C_BUSY };

typedef struct {
  int fd, state;
  int64_t due_ns;    /* when the in-flight request was due */
  int record;        /* in-flight request is in the measured window */
  const char *out;   /* rest of the request still to write */
  size_t out_len;
  char in[INBUF];
  size_t in_len;
} conn;

static struct {
  struct sockaddr_in addr;
  char *req[POOL];
  size_t req_len[POOL];
  conn *c;
  int nconn, ep;
  int *idle;
  int nidle;
  double *lat_ms;
  size_t nlat, caplat;
  uint64_t errors, non2xx, sock_errors, reconnects;
  int64_t win_start, win_end; /* the measured window */
  uint64_t done_in_window;    /* 2xx completions inside it: the achieved rate */
} G;

static void record(int64_t due, int64_t done) {
  if (G.nlat == G.caplat) {
    G.caplat = G.caplat ? G.caplat * 2 : 1 << 16;
    G.lat_ms = realloc(G.lat_ms, G.caplat * sizeof *G.lat_ms);
    if (!G.lat_ms) {
      perror("realloc");
      exit(1);
    }
  }
  G.lat_ms[G.nlat++] = (double)(done - due) / 1e6;
}

static void conn_open(int i) {
  conn *c = &G.c[i];
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    perror("socket");
    exit(1);
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->in_len = 0;
  int r = connect(c->fd, (struct sockaddr *)&G.addr, sizeof G.addr);
  if (r < 0 && errno != EINPROGRESS) {
    perror("connect");
    exit(1);
  }
  c->state = C_CONNECTING;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
  epoll_ctl(G.ep, EPOLL_CTL_ADD, c->fd, &ev);
}

/* The connection failed: its in-flight request (if any) is an error. */
static void conn_fail(int i) {
  conn *c = &G.c[i];
  if (c->state == C_BUSY) {
    G.errors++;
    G.sock_errors++;
  }
  epoll_ctl(G.ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->state = C_DOWN;
  G.reconnects++;
  conn_open(i);
}

static void set_events(int i, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)i};
  epoll_ctl(G.ep, EPOLL_CTL_MOD, G.c[i].fd, &ev);
}

static void flush_out(int i) {
  conn *c = &G.c[i];
  while (c->out_len) {
    ssize_t w = write(c->fd, c->out, c->out_len);
    if (w < 0) {
      if (errno == EAGAIN) {
        set_events(i, EPOLLIN | EPOLLOUT);
        return;
      }
      conn_fail(i);
      return;
    }
    c->out += w;
    c->out_len -= (size_t)w;
  }
  set_events(i, EPOLLIN);
}

static void send_on(int i, int64_t due, int rec) {
  conn *c = &G.c[i];
  int k = (int)(next_u64() % POOL);
  c->state = C_BUSY;
  c->due_ns = due;
  c->record = rec;
  c->out = G.req[k];
  c->out_len = G.req_len[k];
  c->in_len = 0;
  flush_out(i);
}

/* Length of a complete response at the start of buf, 0 if incomplete,
 * -1 if it cannot be parsed. Sets *status and *close_after. */
static long response_len(const char *buf, size_t n, int *status, int *close_after) {
  const char *end = memmem(buf, n, "\r\n\r\n", 4);
  if (!end) return n >= INBUF - 1 ? -1 : 0;
  size_t head = (size_t)(end - buf) + 4;
  if (n < 12 || strncmp(buf, "HTTP/1.", 7)) return -1;
  *status = atoi(buf + 9);
  *close_after = 0;
  long clen = -1;
  int chunked = 0;
  for (const char *p = memchr(buf, '\n', head); p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
    p++;
    if (!strncasecmp(p, "content-length:", 15)) clen = atol(p + 15);
    else if (!strncasecmp(p, "transfer-encoding:", 18) && strstr(p, "chunked") < end) chunked = 1;
    else if (!strncasecmp(p, "connection:", 11)) {
      const char *v = p + 11;
      while (*v == ' ') v++;
      if (!strncasecmp(v, "close", 5)) *close_after = 1;
    }
  }
  if (chunked) {
    const char *z = memmem(buf + head, n - head, "0\r\n\r\n", 5);
    return z ? (long)(z - buf) + 5 : 0;
  }
  if (clen < 0) clen = 0;
  return head + (size_t)clen <= n ? (long)(head + (size_t)clen) : 0;
}

static void on_readable(int i, int64_t t) {
  conn *c = &G.c[i];
  for (;;) {
    ssize_t r = read(c->fd, c->in + c->in_len, INBUF - 1 - c->in_len);
    if (r < 0 && errno == EAGAIN) break;
    if (r <= 0) {
      conn_fail(i);
      return;
    }
    c->in_len += (size_t)r;
    if (c->in_len >= INBUF - 1) break;
  }
  if (c->state != C_BUSY) {
    c->in_len = 0;
    return;
  }
  int status = 0, close_after = 0;
  long len = response_len(c->in, c->in_len, &status, &close_after);
  if (len == 0) return;
  if (len < 0) {
    conn_fail(i);
    return;
  }
  if (status < 200 || status > 299) {
    G.errors++;
    G.non2xx++;
  } else {
    if (c->record) record(c->due_ns, t);
    if (t >= G.win_start && t < G.win_end) G.done_in_window++;
  }
  c->in_len = 0;
  c->state = C_IDLE;
  if (close_after) {
    c->state = C_DOWN;
    epoll_ctl(G.ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    conn_open(i);
    return;
  }
  G.idle[G.nidle++] = i;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double pct(double p) {
  if (!G.nlat) return 0;
  size_t k = (size_t)(p / 100.0 * (double)(G.nlat - 1) + 0.5);
  return G.lat_ms[k];
}

static void build_pool(const char *host, int port, const char *path, const char *auth, uint64_t users) {
  static const char *events[] = {"Product Viewed", "Product Added", "Cart Viewed", "Order Completed",
                                 "Product Searched", "Signed In"};
  static const char *cats[] = {"shoes", "jackets", "bags", "accessories", "shirts", "sport"};
  for (int k = 0; k < POOL; k++) {
    char body[512];
    uint64_t u = next_u64() % users;
    int bl = snprintf(body, sizeof body,
                      "{\"userId\":\"user-%07" PRIu64 "\",\"event\":\"%s\",\"properties\":{"
                      "\"product_id\":\"sku-%05" PRIu64 "\",\"category\":\"%s\",\"price\":%" PRIu64
                      ".%02" PRIu64 "},\"context\":{\"ip\":\"10.0.%u.%u\","
                      "\"library\":{\"name\":\"loadgen\",\"version\":\"1.0\"}},"
                      "\"timestamp\":\"2024-05-01T12:00:00.000Z\"}",
                      u, events[next_u64() % 6], next_u64() % 100000, cats[next_u64() % 6],
                      5 + next_u64() % 295, next_u64() % 100, (unsigned)(u >> 8) & 255,
                      (unsigned)u & 255);
    char *req = malloc(2048);
    if (!req) exit(1);
    int n = snprintf(req, 2048,
                     "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                     "%s%s%sContent-Length: %d\r\n\r\n%s",
                     path, host, port, auth ? "Authorization: " : "", auth ? auth : "",
                     auth ? "\r\n" : "", bl, body);
    G.req[k] = req;
    G.req_len[k] = (size_t)n;
  }
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *path = "/v1/track", *auth = NULL;
  int port = 0, nconn = 32;
  double rate = 10000, duration = 10, warmup = 2;
  uint64_t users = 10000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--host")) host = v;
    else if (!strcmp(k, "--port")) port = atoi(v);
    else if (!strcmp(k, "--path")) path = v;
    else if (!strcmp(k, "--rate")) rate = atof(v);
    else if (!strcmp(k, "--duration")) duration = atof(v);
    else if (!strcmp(k, "--warmup")) warmup = atof(v);
    else if (!strcmp(k, "--connections")) nconn = atoi(v);
    else if (!strcmp(k, "--auth")) auth = v;
    else if (!strcmp(k, "--users")) users = strtoull(v, NULL, 10);
    else if (!strcmp(k, "--seed")) rng = strtoull(v, NULL, 10);
    else {
      fprintf(stderr, "loadgen: unknown option %s\n", k);
      return 2;
    }
  }
  if (!port || rate <= 0 || duration <= 0 || nconn < 1 || !users) {
    fprintf(stderr, "usage: loadgen --port P [--rate R] [--duration S] [--warmup S] "
                    "[--connections N] [--path P] [--auth HEADER] [--users U]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  memset(&G.addr, 0, sizeof G.addr);
  G.addr.sin_family = AF_INET;
  G.addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &G.addr.sin_addr) != 1) {
    fprintf(stderr, "loadgen: --host must be an IPv4 address\n");
    return 2;
  }
  build_pool(host, port, path, auth, users);
  G.ep = epoll_create1(EPOLL_CLOEXEC);
  G.nconn = nconn;
  G.c = calloc((size_t)nconn, sizeof *G.c);
  G.idle = calloc((size_t)nconn, sizeof *G.idle);
  if (!G.c || !G.idle) return 1;
  for (int i = 0; i < nconn; i++) conn_open(i);
  /* let the connections come up before the clock starts */
  int64_t up_deadline = now_ns() + 5000000000LL;
  struct epoll_event evs[256];
  while (G.nidle < nconn && now_ns() < up_deadline) {
    int n = epoll_wait(G.ep, evs, 256, 100);
    for (int e = 0; e < n; e++) {
      int i = (int)evs[e].data.u32;
      conn *c = &G.c[i];
      if (c->state != C_CONNECTING) continue;
      int err = 0;
      socklen_t el = sizeof err;
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
      if (err || (evs[e].events & (EPOLLERR | EPOLLHUP))) {
        fprintf(stderr, "loadgen: cannot connect to %s:%d: %s\n", host, port, strerror(err));
        return 1;
      }
      c->state = C_IDLE;
      set_events(i, EPOLLIN);
      G.idle[G.nidle++] = i;
    }
  }
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  struct epoll_event tev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
  epoll_ctl(G.ep, EPOLL_CTL_ADD, tfd, &tev);

  const double interval_ns = 1e9 / rate;
  const int64_t t0 = now_ns() + 1000000; /* 1 ms from now */
  const int64_t t_rec = t0 + (int64_t)(warmup * 1e9), t_end = t_rec + (int64_t)(duration * 1e9);
  G.win_start = t_rec;
  G.win_end = t_end;
  const int64_t drain_deadline = t_end + 10000000000LL;
  uint64_t next = 0; /* index of the next request to send */
  uint64_t recorded_due = 0; /* requests due inside the measured window */
  int64_t t = now_ns();
  for (;;) {
    t = now_ns();
    /* send what is due while connections are idle */
    for (;;) {
      int64_t due = t0 + (int64_t)((double)next * interval_ns);
      if (due >= t_end || due > t || !G.nidle) break;
      int i = G.idle[--G.nidle];
      int rec = due >= t_rec;
      recorded_due += (uint64_t)rec;
      next++;
      send_on(i, due, rec);
    }
    int64_t due = t0 + (int64_t)((double)next * interval_ns);
    int busy = 0;
    for (int i = 0; i < nconn; i++) busy += G.c[i].state == C_BUSY;
    if (due >= t_end && !busy) break;
    if (t > drain_deadline) {
      G.errors += (uint64_t)busy;
      break;
    }
    /* wake at the next due time unless a request is already waiting */
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (due < t_end && due > t) {
      its.it_value.tv_sec = due / 1000000000;
      its.it_value.tv_nsec = due % 1000000000;
      timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
    }
    int n = epoll_wait(G.ep, evs, 256, 100);
    t = now_ns();
    for (int e = 0; e < n; e++) {
      uint32_t id = evs[e].data.u32;
      if (id == UINT32_MAX) {
        uint64_t x;
        ssize_t r = read(tfd, &x, sizeof x);
        (void)r;
        continue;
      }
      int i = (int)id;
      conn *c = &G.c[i];
      if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
          conn_fail(i);
          continue;
        }
        c->state = C_IDLE;
        set_events(i, EPOLLIN);
        G.idle[G.nidle++] = i;
        continue;
      }
      if (evs[e].events & EPOLLOUT && c->state == C_BUSY && c->out_len) flush_out(i);
      if (evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(i, t);
    }
  }
  uint64_t unsent = 0;
  {
    /* requests due in the window that were never sent (drain deadline) */
    uint64_t window_total = (uint64_t)(duration * rate);
    if (recorded_due < window_total) unsent = window_total - recorded_due;
    G.errors += unsent;
  }
  qsort(G.lat_ms, G.nlat, sizeof *G.lat_ms, cmp_double);
  double sum = 0;
  for (size_t i = 0; i < G.nlat; i++) sum += G.lat_ms[i];
  printf("{\"target_rate\":%.0f,\"achieved_rate\":%.1f,\"recorded\":%zu,\"errors\":%" PRIu64
         ",\"non2xx\":%" PRIu64 ",\"socket_errors\":%" PRIu64 ",\"unsent\":%" PRIu64
         ",\"connections\":%d,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,"
         "\"max_ms\":%.3f,\"mean_ms\":%.3f}\n",
         rate, (double)G.done_in_window / duration, G.nlat, G.errors, G.non2xx, G.sock_errors, unsent, nconn,
         pct(50), pct(90), pct(99), pct(99.9), G.nlat ? G.lat_ms[G.nlat - 1] : 0.0,
         G.nlat ? sum / (double)G.nlat : 0.0);
  return 0;
}
