/* ticker.c - see ticker.h. */
#include "ticker.h"
#include "mem.h"
#include <errno.h>
#include <pthread.h>
#include <time.h>

struct cx_ticker {
  int64_t tick_ms;
  void (*fn)(void *ctx);
  void *ctx;
  pthread_mutex_t mu; /* stop */
  pthread_cond_t cv;
  int stop;
  pthread_t thread;
};

static void *ticker_main(void *arg) {
  cx_ticker *t = arg;
  pthread_mutex_lock(&t->mu);
  while (!t->stop) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (t->tick_ms % 1000) * 1000000;
    ts.tv_sec += t->tick_ms / 1000 + ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    while (!t->stop && pthread_cond_timedwait(&t->cv, &t->mu, &ts) != ETIMEDOUT) {
    }
    if (t->stop) break;
    pthread_mutex_unlock(&t->mu);
    t->fn(t->ctx);
    pthread_mutex_lock(&t->mu);
  }
  pthread_mutex_unlock(&t->mu);
  return NULL;
}

cx_err cx_ticker_start(int64_t tick_ms, void (*fn)(void *ctx), void *ctx, cx_ticker **out) {
  cx_ticker *t = cx_calloc(1, sizeof *t);
  if (!t) return CX_ENOMEM;
  t->tick_ms = tick_ms, t->fn = fn, t->ctx = ctx;
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->cv, NULL);
  if (pthread_create(&t->thread, NULL, ticker_main, t)) {
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    cx_free(t);
    return CX_ENOMEM;
  }
  *out = t;
  return CX_OK;
}

void cx_ticker_stop(cx_ticker *t) {
  if (!t) return;
  pthread_mutex_lock(&t->mu);
  t->stop = 1;
  pthread_cond_signal(&t->cv);
  pthread_mutex_unlock(&t->mu);
  pthread_join(t->thread, NULL);
  pthread_cond_destroy(&t->cv);
  pthread_mutex_destroy(&t->mu);
  cx_free(t);
}
