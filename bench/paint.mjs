// bench/paint.mjs - how fast the dashboard paints, in Debian's chromium
// (playwright-core from tests/node_modules). Called by bench/driver.py:
//   node bench/paint.mjs URL TOKEN RUNS [REF_URL]
// For each run, a fresh browser context (empty cache):
//   - signin_fcp_ms: first contentful paint of the sign-in page at URL;
//   - overview_ms: from navigation to the Overview (signed in) until its KPI
//     values and chart are on screen (the API call included);
//   - ref_fcp_ms: with REF_URL, first contentful paint of the same files
//     served by a plain static server (the reference).
// Prints one JSON object with the medians and every run.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [url, token, runsArg, refUrl] = process.argv.slice(2);
const runs = Math.max(3, Number(runsArg) || 5);
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function fcp(page, target) {
  await page.goto(target, { waitUntil: 'load' });
  return page.evaluate(() => new Promise((resolve) => {
    const get = () => performance.getEntriesByName('first-contentful-paint')[0];
    if (get()) return resolve(get().startTime);
    new PerformanceObserver(() => get() && resolve(get().startTime)).observe({ type: 'paint', buffered: true });
  }));
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox'] });
const out = { runs: [] };
try {
  for (let i = 0; i < runs; i++) {
    const r = {};
    let ctx = await browser.newContext({ viewport: { width: 1366, height: 800 } });
    let page = await ctx.newPage();
    r.signin_fcp_ms = await fcp(page, url + '/');
    await ctx.close();
    // signed in (the token in session storage before any script runs), the
    // Overview from a cold cache
    ctx = await browser.newContext({ viewport: { width: 1366, height: 800 } });
    await ctx.addInitScript((t) => sessionStorage.setItem('cxm.token', t), token);
    page = await ctx.newPage();
    const t0 = Date.now();
    await page.goto(url + '/#/overview', { waitUntil: 'commit' });
    await page.locator('.kpi-value').first().waitFor({ timeout: 30000 });
    await page.locator('.chart svg').waitFor({ timeout: 30000 });
    r.overview_ms = Date.now() - t0;
    await ctx.close();
    if (refUrl) {
      ctx = await browser.newContext({ viewport: { width: 1366, height: 800 } });
      page = await ctx.newPage();
      r.ref_fcp_ms = await fcp(page, refUrl + '/');
      await ctx.close();
    }
    out.runs.push(r);
  }
} finally {
  await browser.close();
}
for (const k of ['signin_fcp_ms', 'overview_ms', 'ref_fcp_ms'])
  if (out.runs[0][k] !== undefined) out[k] = med(out.runs.map((r) => r[k]));
console.log(JSON.stringify(out));
