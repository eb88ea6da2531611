// text_ref.mjs - part 7's reference: VADER itself (npm vader-sentiment, the
// JavaScript port published by VADER's authors) on the same data, measured
// exactly as bench/text_bench.c measures cxm; prints the same JSON.
//   node text_ref.mjs DATASETS/sentiment [runs]
import fs from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const vader = require('vader-sentiment');

const dir = process.argv[2];
const runs = Math.max(3, Number(process.argv[3] || 5));
const score = (t) => vader.SentimentIntensityAnalyzer.polarity_scores(t).compound;
const lines = (p) => fs.readFileSync(p, 'utf8').split('\n').map((l) => l.replace(/\r+$/, '')).filter((l) => l);
const label = (s) => (s >= 0.05 ? 1 : s <= -0.05 ? -1 : 0);

const out = { engine: 'VADER (npm vader-sentiment ' + require('vader-sentiment/package.json').version + ')', accuracy: {}, correlation: {} };
const all = [];
let tot = 0, totOk = 0, totStrict = 0, totCov = 0;
for (const [name, file] of [['amazon', 'amazon_cells_labelled.txt'], ['yelp', 'yelp_labelled.txt'], ['imdb', 'imdb_labelled.txt']]) {
  let n = 0, ok = 0, strict = 0, cov = 0;
  for (const l of lines(`${dir}/uci-labelled/${file}`)) {
    const tab = l.lastIndexOf('\t');
    if (tab < 0) continue;
    const text = l.slice(0, tab), want = Number(l.slice(tab + 1)) > 0.5 ? 1 : -1;
    const got = label(score(text));
    n++;
    if (got === 0) ok += 0.5;
    else { cov++; if (got === want) { ok++; strict++; } }
    all.push(text);
  }
  out.accuracy[name] = { n, accuracy: ok / n, strict: strict / n, coverage: cov / n };
  tot += n; totOk += ok; totStrict += strict; totCov += cov;
}
out.accuracy.overall = { n: tot, accuracy: totOk / tot, strict: totStrict / tot, coverage: totCov / tot };
for (const [name, file] of [['amazon_snippets', 'amazonReviewSnippets_GroundTruth.txt'], ['tweets', 'tweets_GroundTruth.txt']]) {
  let n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (const l of lines(`${dir}/vader/ground-truth/${file}`)) {
    const f = l.split('\t');
    if (f.length < 3) continue;
    const text = f.slice(2).join('\t'), y = Number(f[1]), x = score(text);
    sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y; n++;
    all.push(text);
  }
  const cov = sxy - (sx * sy) / n, vx = sxx - (sx * sx) / n, vy = syy - (sy * sy) / n;
  out.correlation[name] = { n, skipped: 0, pearson: cov / Math.sqrt(vx * vy) };
}
const rates = [];
let sink = 0;
for (let r = 0; r < runs; r++) {
  const t0 = process.hrtime.bigint();
  let done = 0, t;
  do {
    for (const s of all) sink += score(s);
    done += all.length;
    t = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (t < 1.0);
  rates.push(Math.round(done / t));
}
out.speed = { verbatims: all.length, runs: rates.slice(), median_per_s: rates.sort((a, b) => a - b)[Math.floor(runs / 2)] };
if (Number.isNaN(sink)) out.speed.note = 'NaN';
console.log(JSON.stringify(out));
