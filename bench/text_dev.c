/* text_dev.c - the development set for lib/text's sentiment: VADER's
 * ground truth (vader/ground-truth: 3,708 Amazon review snippets and 4,200
 * tweets, each with the mean of ~20 human ratings on -4..+4). Every change
 * to the sentiment rules, lexicons and model is decided on these figures;
 * the uci-labelled sentences of bench part 7 are the held-out test and are
 * never read here.
 *
 *   text_dev DATASETS/sentiment      one JSON object on stdout
 *
 * The naive Bayes half of the score learns from these very sentences, so
 * every figure here is out of fold: the ground truth is cut into 5 folds
 * (by the hash of each text, text_fold_of), and each sentence is scored by
 * a model trained on the other 4 (text_open_fold).
 *
 * Per file: Pearson r between the score and the mean rating, and a binary
 * accuracy on the snippets whose |rating| >= 0.5 (positive when the rating
 * is), counted as part 7 counts uci-labelled: a score >= 0.05 says
 * positive, <= -0.05 negative, neutral is half right. "lexicon" is the
 * same for VADER's rules alone (cxm's lexicons, no learning: the score
 * before the model). "grid": the binary accuracy over both files and r
 * for other weights k of the log-odds (the shipped k was chosen there). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../lib/text/text_int.h"

#define FOLDS 5

static const char *gt[] = {"amazonReviewSnippets_GroundTruth.txt", "tweets_GroundTruth.txt"};
static const char *gt_names[] = {"amazon_snippets", "tweets"};

typedef struct {
  text_parts p;
  double y;
  int file;
} row;

typedef struct {
  double sx, sy, sxx, syy, sxy, n, ok, strict, nb;
} stat;

static void put(stat *s, double x, double y) {
  s->sx += x, s->sy += y, s->sxx += x * x, s->syy += y * y, s->sxy += x * y, s->n++;
  if (fabs(y) >= 0.5) {
    int want = y > 0 ? 1 : -1, got = x >= 0.05 ? 1 : x <= -0.05 ? -1 : 0;
    s->nb++;
    if (!got) s->ok += 0.5;
    else if (got == want) s->ok++, s->strict++;
  }
}

static double pearson(const stat *s) {
  double cv = s->sxy - s->sx * s->sy / s->n, vx = s->sxx - s->sx * s->sx / s->n,
         vy = s->syy - s->sy * s->sy / s->n;
  return cv / sqrt(vx * vy);
}

static double round4(double x) { return round(x * 10000) / 10000; }

/* the shipped combination with another weight k */
static double combine_k(const text_parts *p, double k) {
  text_parts q = *p;
  q.bayes *= k / TEXT_BAYES_WEIGHT;
  return text_combine(&q);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: text_dev DATASETS/sentiment\n");
    return 2;
  }
  text_model *m[FOLDS];
  for (unsigned f = 0; f < FOLDS; f++)
    if (text_open_fold(&m[f], f, FOLDS)) return 1;
  row *rows = NULL;
  size_t nrows = 0, cap = 0;
  char path[4096];
  for (int d = 0; d < 2; d++) {
    snprintf(path, sizeof path, "%s/vader/ground-truth/%s", argv[1], gt[d]);
    FILE *f = fopen(path, "r");
    if (!f) {
      perror(path);
      return 1;
    }
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) > 0) {
      while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
      char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
      if (!t2) continue;
      const char *text = t2 + 1;
      size_t tn = strlen(text);
      row r = {.y = strtod(t1 + 1, NULL), .file = d};
      if (text_sentiment_parts(m[text_fold_of(text, tn, FOLDS)], text, tn, &r.p)) continue;
      if (nrows == cap) {
        cap = cap ? cap * 2 : 8192;
        if (!(rows = realloc(rows, cap * sizeof *rows))) return 1;
      }
      rows[nrows++] = r;
    }
    free(line);
    fclose(f);
  }
  stat model[3] = {{0}}, lex[3] = {{0}}; /* per file, and both */
  for (size_t i = 0; i < nrows; i++) {
    double x = round4(text_combine(&rows[i].p)), c = round4(rows[i].p.compound);
    put(&model[rows[i].file], x, rows[i].y);
    put(&model[2], x, rows[i].y);
    put(&lex[rows[i].file], c, rows[i].y);
    put(&lex[2], c, rows[i].y);
  }
  printf("{\"dev\":{\"out_of_fold\":%d,", FOLDS);
  for (int d = 0; d < 2; d++)
    printf("\"%s\":{\"n\":%.0f,\"pearson\":%.4f,\"binary_n\":%.0f,\"binary\":%.4f,\"strict\":%.4f,"
           "\"lexicon\":{\"pearson\":%.4f,\"binary\":%.4f,\"strict\":%.4f}},",
           gt_names[d], model[d].n, pearson(&model[d]), model[d].nb, model[d].ok / model[d].nb,
           model[d].strict / model[d].nb, pearson(&lex[d]), lex[d].ok / lex[d].nb,
           lex[d].strict / lex[d].nb);
  printf("\"binary_both\":%.4f,\"lexicon_binary_both\":%.4f,\"grid\":[", model[2].ok / model[2].nb,
         lex[2].ok / lex[2].nb);
  static const double ks[] = {0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5};
  for (size_t k = 0; k < sizeof ks / sizeof ks[0]; k++) {
    stat s[3] = {{0}};
    for (size_t i = 0; i < nrows; i++) {
      double x = round4(combine_k(&rows[i].p, ks[k]));
      put(&s[rows[i].file], x, rows[i].y);
      put(&s[2], x, rows[i].y);
    }
    printf("%s{\"k\":%g,\"binary_both\":%.4f,\"pearson_snippets\":%.4f,\"pearson_tweets\":%.4f}",
           k ? "," : "", ks[k], s[2].ok / s[2].nb, pearson(&s[0]), pearson(&s[1]));
  }
  printf("]}}\n");
  for (unsigned f = 0; f < FOLDS; f++) text_close(m[f]);
  free(rows);
  return 0;
}
