/* text_bench.c - part 7 of bench/run.sh: lib/text's sentiment on public
 * labelled data, and its speed. bench/text_ref.mjs measures the reference
 * (VADER, npm vader-sentiment) the same way and prints the same JSON.
 *
 *   text_bench DATASETS/sentiment [runs]   one JSON object on stdout
 *   text_bench --score                     score each line of stdin
 *
 * Accuracy on uci-labelled (label 1 positive, 0 negative): a score >= 0.05
 * says positive, <= -0.05 negative, between is neutral and counts as half
 * right (the expected accuracy of a coin toss); "strict" counts neutral as
 * wrong; "coverage" is the share that is not neutral. Correlation: Pearson
 * r between the score and the mean human rating of vader/ground-truth, out
 * of fold: the naive Bayes half of the score learns from those very
 * sentences, so each is scored by a model trained without its fold (5
 * folds by the hash of the text, as bench/text_dev.c).
 * Speed: every sentence of both sets scored over and over for about a
 * second, per run, on one thread; the median of the runs. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../lib/text/text_int.h"

typedef struct {
  char **text;
  size_t *len;
  double *gold;
  size_t n, cap;
} set;

static void add(set *s, const char *t, size_t n, double gold) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 1024;
    s->text = realloc(s->text, s->cap * sizeof *s->text);
    s->len = realloc(s->len, s->cap * sizeof *s->len);
    s->gold = realloc(s->gold, s->cap * sizeof *s->gold);
    if (!s->text || !s->len || !s->gold) abort();
  }
  s->text[s->n] = strndup(t, n);
  s->len[s->n] = n;
  s->gold[s->n++] = gold;
}

/* uci: "sentence<TAB>0|1"; ground truth: "id<TAB>rating<TAB>text" (CRLF) */
static set load(const char *path, int ground_truth) {
  set s = {0};
  FILE *f = fopen(path, "r");
  if (!f) {
    perror(path);
    exit(1);
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) > 0) {
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    if (ground_truth) {
      char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
      if (!t2) continue;
      add(&s, t2 + 1, strlen(t2 + 1), strtod(t1 + 1, NULL));
    } else {
      char *tab = strrchr(line, '\t');
      if (!tab) continue;
      add(&s, line, (size_t)(tab - line), atof(tab + 1));
    }
  }
  free(line);
  fclose(f);
  return s;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static const char *uci[] = {"amazon_cells_labelled.txt", "yelp_labelled.txt", "imdb_labelled.txt"};
static const char *uci_names[] = {"amazon", "yelp", "imdb"};
static const char *gt[] = {"amazonReviewSnippets_GroundTruth.txt", "tweets_GroundTruth.txt"};
static const char *gt_names[] = {"amazon_snippets", "tweets"};
#define FOLDS 5

int main(int argc, char **argv) {
  text_model *m;
  if (text_open(&m)) return 1;
  if (argc > 1 && !strcmp(argv[1], "--score")) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
      while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
      text_sentiment r;
      cx_err rc = text_sentiment_of(m, line, (size_t)n, &r);
      printf("%s\t%.4f\t%d\t%s\n", rc ? "ERR" : "ok", rc ? 0 : r.score, rc ? 0 : r.label, line);
    }
    free(line);
    text_close(m);
    return 0;
  }
  if (argc < 2) {
    fprintf(stderr, "usage: text_bench DATASETS/sentiment [runs] | --score\n");
    return 2;
  }
  int runs = argc > 2 ? atoi(argv[2]) : 5;
  if (runs < 3) runs = 3;
  char path[4096];
  set all = {0};
  printf("{\"engine\":\"cxm lib/text\",\"accuracy\":{");
  size_t tot = 0;
  double tot_ok = 0, tot_strict = 0, tot_cov = 0;
  for (int d = 0; d < 3; d++) {
    snprintf(path, sizeof path, "%s/uci-labelled/%s", argv[1], uci[d]);
    set s = load(path, 0);
    double ok = 0, strict = 0, cov = 0;
    for (size_t i = 0; i < s.n; i++) {
      text_sentiment r = {0};
      if (text_sentiment_of(m, s.text[i], s.len[i], &r)) r.label = TEXT_NEUTRAL;
      int want = s.gold[i] > 0.5 ? TEXT_POSITIVE : TEXT_NEGATIVE;
      if (r.label == TEXT_NEUTRAL) ok += 0.5;
      else {
        cov++;
        ok += r.label == want;
        strict += r.label == want;
      }
      add(&all, s.text[i], s.len[i], 0);
    }
    printf("%s\"%s\":{\"n\":%zu,\"accuracy\":%.4f,\"strict\":%.4f,\"coverage\":%.4f}",
           d ? "," : "", uci_names[d], s.n, ok / (double)s.n, strict / (double)s.n,
           cov / (double)s.n);
    tot += s.n;
    tot_ok += ok;
    tot_strict += strict;
    tot_cov += cov;
  }
  printf(",\"overall\":{\"n\":%zu,\"accuracy\":%.4f,\"strict\":%.4f,\"coverage\":%.4f}}", tot,
         tot_ok / (double)tot, tot_strict / (double)tot, tot_cov / (double)tot);
  printf(",\"correlation\":{\"out_of_fold\":%d,", FOLDS);
  text_model *fm[FOLDS];
  for (unsigned f = 0; f < FOLDS; f++)
    if (text_open_fold(&fm[f], f, FOLDS)) return 1;
  for (int d = 0; d < 2; d++) {
    snprintf(path, sizeof path, "%s/vader/ground-truth/%s", argv[1], gt[d]);
    set s = load(path, 1);
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    size_t n = 0, skipped = 0;
    for (size_t i = 0; i < s.n; i++) {
      text_sentiment r;
      const text_model *fold = fm[text_fold_of(s.text[i], s.len[i], FOLDS)];
      if (text_sentiment_of(fold, s.text[i], s.len[i], &r)) {
        skipped++;
        continue;
      }
      double x = r.score, y = s.gold[i];
      sx += x, sy += y, sxx += x * x, syy += y * y, sxy += x * y, n++;
      add(&all, s.text[i], s.len[i], 0);
    }
    double cov = sxy - sx * sy / (double)n, vx = sxx - sx * sx / (double)n,
           vy = syy - sy * sy / (double)n;
    printf("%s\"%s\":{\"n\":%zu,\"skipped\":%zu,\"pearson\":%.4f}", d ? "," : "", gt_names[d], n,
           skipped, cov / sqrt(vx * vy));
  }
  printf("}");
  for (unsigned f = 0; f < FOLDS; f++) text_close(fm[f]);
  /* speed: sentiment alone, then themes + phrases */
  double *rate = calloc((size_t)runs, sizeof *rate), *trate = calloc((size_t)runs, sizeof *trate);
  volatile double sink = 0;
  for (int r = 0; r < runs; r++) {
    double t0 = now(), t;
    size_t done = 0;
    do {
      for (size_t i = 0; i < all.n; i++) {
        text_sentiment s;
        if (!text_sentiment_of(m, all.text[i], all.len[i], &s)) sink += s.score;
      }
      done += all.n;
    } while ((t = now() - t0) < 1.0);
    rate[r] = (double)done / t;
    t0 = now();
    done = 0;
    do {
      for (size_t i = 0; i < all.n; i++) {
        text_phrase ph[16];
        sink += (double)text_themes_of(m, all.text[i], all.len[i]);
        sink += (double)text_phrases_of(m, all.text[i], all.len[i], ph, 16);
      }
      done += all.n;
    } while ((t = now() - t0) < 1.0);
    trate[r] = (double)done / t;
  }
  printf(",\"speed\":{\"verbatims\":%zu,\"runs\":[", all.n);
  for (int r = 0; r < runs; r++) printf("%s%.0f", r ? "," : "", rate[r]);
  qsort(rate, (size_t)runs, sizeof *rate, cmp_d);
  qsort(trate, (size_t)runs, sizeof *trate, cmp_d);
  printf("],\"median_per_s\":%.0f,\"themes_phrases_median_per_s\":%.0f}}\n", rate[runs / 2],
         trate[runs / 2]);
  text_close(m);
  return 0;
}
