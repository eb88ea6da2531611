/* static_server.c - the latency reference: a trivial HTTP/1.1 responder.
 *
 *   static_server [--port P]     (P = 0: any free port)
 *
 * One thread, epoll, keep-alive. It reads each request (head, then
 * Content-Length bytes of body), ignores it, and answers 200 with the body
 * cxm sends ({"success":true}). What it costs is the floor that loopback,
 * the kernel and the load generator put under any server's latency.
 * Prints {"port":N} on stdout once listening; exits on SIGTERM/SIGINT. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 65536

typedef struct {
  int fd;
  size_t len;
  char buf[BUF];
} client;

static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "Content-Length: 16\r\n\r\n{\"success\":true}";

static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

/* Bytes of the first complete request in c->buf, 0 if incomplete, -1 bad. */
static long request_len(const client *c) {
  const char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
  if (!end) return c->len >= BUF ? -1 : 0;
  size_t head = (size_t)(end - c->buf) + 4;
  long clen = 0;
  for (const char *p = memchr(c->buf, '\n', head); p && p < end;
       p = memchr(p, '\n', (size_t)(end - p))) {
    p++;
    if (!strncasecmp(p, "content-length:", 15)) clen = atol(p + 15);
  }
  if (clen < 0 || head + (size_t)clen > BUF) return -1;
  return head + (size_t)clen <= c->len ? (long)(head + (size_t)clen) : 0;
}

static void drop(int ep, client *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c);
}

int main(int argc, char **argv) {
  int port = 0;
  for (int i = 1; i + 1 < argc; i += 2)
    if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1024)) {
    perror("static_server: bind/listen");
    return 1;
  }
  socklen_t al = sizeof a;
  getsockname(ls, (struct sockaddr *)&a, &al);
  printf("{\"port\":%d}\n", ntohs(a.sin_port));
  fflush(stdout);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  struct epoll_event evs[256];
  while (!stop) {
    int n = epoll_wait(ep, evs, 256, 200);
    for (int e = 0; e < n; e++) {
      client *c = evs[e].data.ptr;
      if (!c) {
        int fd;
        while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          client *nc = malloc(sizeof *nc);
          if (!nc) {
            close(fd);
            continue;
          }
          nc->fd = fd;
          nc->len = 0;
          struct epoll_event cev = {.events = EPOLLIN, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      ssize_t r = read(c->fd, c->buf + c->len, BUF - c->len);
      if (r < 0 && errno == EAGAIN) continue;
      if (r <= 0) {
        drop(ep, c);
        continue;
      }
      c->len += (size_t)r;
      long k;
      int bad = 0;
      while ((k = request_len(c)) > 0) {
        /* replies are tiny; a full socket buffer here means a broken client */
        if (write(c->fd, reply, sizeof reply - 1) != (ssize_t)(sizeof reply - 1)) {
          bad = 1;
          break;
        }
        memmove(c->buf, c->buf + k, c->len - (size_t)k);
        c->len -= (size_t)k;
      }
      if (bad || k < 0) drop(ep, c);
    }
  }
  return 0;
}
