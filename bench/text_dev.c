/* text_dev.c - the development set for lib/text's sentiment: VADER's
 * ground truth (vader/ground-truth: 3,708 Amazon review snippets and 4,200
 * tweets, each with the mean of ~20 human ratings on -4..+4). Every change
 * to the sentiment rules or lexicons is decided on these figures; the
 * uci-labelled sentences of bench part 7 are the held-out test and are
 * never read here.
 *
 *   text_dev DATASETS/sentiment      one JSON object on stdout
 *
 * Per file: Pearson r between the score and the mean rating, and a binary
 * accuracy on the snippets whose |rating| >= 0.5 (positive when the rating
 * is), counted as part 7 counts uci-labelled: a score >= 0.05 says
 * positive, <= -0.05 negative, neutral is half right. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../lib/text/text.h"

static const char *gt[] = {"amazonReviewSnippets_GroundTruth.txt", "tweets_GroundTruth.txt"};
static const char *gt_names[] = {"amazon_snippets", "tweets"};

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: text_dev DATASETS/sentiment\n");
    return 2;
  }
  text_model *m;
  if (text_open(&m)) return 1;
  char path[4096];
  double all_ok = 0, all_n = 0;
  printf("{\"dev\":{");
  for (int d = 0; d < 2; d++) {
    snprintf(path, sizeof path, "%s/vader/ground-truth/%s", argv[1], gt[d]);
    FILE *f = fopen(path, "r");
    if (!f) {
      perror(path);
      return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, ok = 0, strict = 0, nb = 0;
    size_t n = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
      while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
      char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
      if (!t2) continue;
      double y = strtod(t1 + 1, NULL);
      text_sentiment r;
      if (text_sentiment_of(m, t2 + 1, strlen(t2 + 1), &r)) continue;
      double x = r.score;
      sx += x, sy += y, sxx += x * x, syy += y * y, sxy += x * y, n++;
      if (fabs(y) >= 0.5) {
        int want = y > 0 ? TEXT_POSITIVE : TEXT_NEGATIVE;
        nb++;
        if (r.label == TEXT_NEUTRAL) ok += 0.5;
        else if (r.label == want) ok++, strict++;
      }
    }
    free(line);
    fclose(f);
    double cv = sxy - sx * sy / (double)n, vx = sxx - sx * sx / (double)n,
           vy = syy - sy * sy / (double)n;
    printf("%s\"%s\":{\"n\":%zu,\"pearson\":%.4f,\"binary_n\":%.0f,\"binary\":%.4f,\"strict\":%.4f}",
           d ? "," : "", gt_names[d], n, cv / sqrt(vx * vy), nb, ok / nb, strict / nb);
    all_ok += ok;
    all_n += nb;
  }
  printf(",\"binary_both\":%.4f}}\n", all_ok / all_n);
  text_close(m);
  return 0;
}
