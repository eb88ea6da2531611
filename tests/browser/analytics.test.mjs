// The journey analytics pages (Funnels, Retention, Paths, Lifecycle) in real
// Chromium against a real `cxm serve` filled with the demo company, as
// dashboard.test.mjs does: each page loads with its defaults, shows the
// demo's numbers (the same as the API answers for the same request), has no
// console errors and no failed requests; screenshots at 1366×800 and
// 390×844 go to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startServer, tempDir, api, demo } from '../api/server.mjs';

const ARTIFACTS = new URL('../artifacts/', import.meta.url).pathname;
const WIDE = { width: 1366, height: 800 };
const PHONE = { width: 390, height: 844 };

let srv;
let browser;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const data = tempDir('cxm-web-analytics-');
  srv = await startServer({ data, creds: demo(data, { customers: 1500, seed: 3 }) });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  if (srv) {
    const r = await srv.stop();
    assert.equal(r.code, 0);
    srv.cleanup();
  }
});

// The same page helpers as dashboard.test.mjs: problems() lists console
// errors, page errors, failed requests and HTTP errors not allowed.
async function openPage(viewport = WIDE) {
  // en-US, so that the numbers read as the test formats them
  const context = await browser.newContext({ viewport, locale: 'en-US' });
  const page = await context.newPage();
  const seen = [];
  const allowed = [];
  page.on('console', (m) => { if (m.type() === 'error') seen.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => seen.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') seen.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => { if (r.status() >= 400) seen.push(`HTTP ${r.status()}: ${r.url()}`); });
  return {
    page,
    allow(re) { allowed.push(re); },
    problems() { return seen.filter((s) => !allowed.some((re) => re.test(s))); },
    async close() { await context.close(); },
  };
}

async function signIn(page) {
  await page.goto(srv.url + '/');
  await page.getByLabel('Admin token').fill(srv.adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#nav').waitFor({ state: 'attached' });
}

async function shoot(page, name) {
  await page.setViewportSize(WIDE);
  await page.waitForTimeout(800); // let the chart's first drawing finish
  await page.screenshot({ path: `${ARTIFACTS}${name}-1366.png`, fullPage: true });
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(600);
  await page.screenshot({ path: `${ARTIFACTS}${name}-390.png`, fullPage: true });
  // nothing sticks out sideways on a phone
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), `${name}: wider than the phone`);
  await page.setViewportSize(WIDE);
}

async function assertLabelled(page) {
  const unlabelled = await page.$$eval('input:not([type=hidden]), select, textarea', (els) =>
    els.filter((e) => !(e.labels?.length || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')))
      .map((e) => e.outerHTML));
  assert.deepEqual(unlabelled, [], 'controls without a label');
}

// Goes to a page by the navigation, and returns the body of the first
// request the page makes to `path` and the answer the page got.
async function openAnalytics(page, link, heading, path) {
  const req = page.waitForRequest((r) => r.url().endsWith(`/api/v1/${path}`) && r.method() !== 'OPTIONS');
  const res = page.waitForResponse((r) => r.url().endsWith(`/api/v1/${path}`));
  await page.locator('#nav').getByRole('link', { name: link }).click();
  await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
  const r = await res;
  assert.equal(r.status(), 200, await r.text());
  return { body: (await req).postDataJSON(), answer: await r.json() };
}

const num = (s) => Number(String(s).replace(/[^\d]/g, ''));

test('funnels: the default purchase funnel shows the API\'s numbers; a breakdown; a bad rule shows the server\'s error at its step', async () => {
  const p = await openPage();
  const { page } = p;
  await signIn(page);
  const { body, answer } = await openAnalytics(page, 'Funnels', 'Funnels', 'analytics/funnel');
  assert.deepEqual(body.steps.map((s) => s.event), ['Product Viewed', 'Product Added', 'Checkout Started', 'Order Completed']);
  assert.equal(body.window, '7d');
  assert.ok(Date.parse(body.from) < Date.parse(body.to), JSON.stringify(body));

  // the same request to the API gives what the page shows
  const direct = await api(srv, '/analytics/funnel', { method: 'POST', body });
  assert.equal(direct.status, 200, direct.text);
  const steps = direct.json.steps;
  assert.ok(steps[0].customers > 0, `step 1 customers: ${direct.text}`);
  assert.ok(steps[3].customers > 0, `the demo has orders in the range: ${direct.text}`);
  assert.deepEqual(answer.steps.map((s) => s.customers), steps.map((s) => s.customers));
  await page.locator('.funnel-chart svg').waitFor();
  const rows = await page.$$eval('.funnel-table tbody tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  assert.equal(rows.length, 4);
  rows.forEach((r, i) => {
    assert.match(r[0], new RegExp(steps[i].event));
    assert.equal(num(r[1]), steps[i].customers, `step ${i + 1}: ${r}`);
  });
  assert.equal(rows[0][2], '100%');
  // the bars are labelled with the customers and conversion
  const labels = await page.locator('.funnel-chart svg text').allTextContents();
  assert.ok(labels.some((t) => t.includes('100%')), labels.join('|'));
  assert.match(rows[1][4], /\d ?(s|min|h|days)$/, `a median time: ${rows[1]}`);
  await assertLabelled(page);
  await shoot(page, 'funnels');

  // by source: a table of groups, largest first
  const grouped = page.waitForResponse((r) => r.url().endsWith('/api/v1/analytics/funnel'));
  await page.getByLabel('Break down by').fill('source');
  await page.getByRole('button', { name: 'Show funnel' }).click();
  assert.equal((await grouped).status(), 200);
  await page.getByRole('heading', { name: 'By source' }).waitFor();
  const groups = await page.$$eval('.groups-table tbody tr', (trs) => trs.map((tr) => tr.querySelector('th').textContent));
  assert.ok(groups.length >= 1, 'groups');
  assert.ok(groups.some((g) => g === 'web' || g === 'app'), groups.join(','));
  assert.match(page.url(), /by=source/);
  await shoot(page, 'funnels-by-source');

  // a rule that does not compile: the server's message next to step 2's rule
  p.allow(/HTTP 400: .*\/api\/v1\/analytics\/funnel/);
  p.allow(/console: Failed to load resource: the server responded with a status of 400/);
  const rule = 'event.source ==';
  const bad = { ...body, steps: body.steps.map((s, i) => (i === 1 ? { ...s, where: rule } : s)) };
  const refused = await api(srv, '/analytics/funnel', { method: 'POST', body: bad });
  assert.equal(refused.status, 400, refused.text);
  const err = refused.json.error;
  assert.ok(err.message && err.field, refused.text);
  await page.getByLabel('Break down by').fill('');
  await page.getByLabel('Step 2 where').fill(rule);
  const answered = page.waitForResponse((r) => r.url().endsWith('/api/v1/analytics/funnel'));
  await page.getByRole('button', { name: 'Show funnel' }).click();
  assert.equal((await answered).status(), 400);
  const where = page.getByLabel('Step 2 where');
  // the message names the step as people count: "Step 2's rule: at …"
  assert.equal(err.field, 'steps[1].where');
  const shown = err.message;
  assert.match(shown, /^Step 2's rule: at \d+: /);
  assert.match(shown, /\S/);
  await page.getByText(shown, { exact: true }).waitFor();
  assert.equal(await where.getAttribute('aria-invalid'), 'true');
  // the message is the field's description, next to it
  const described = await where.getAttribute('aria-describedby');
  assert.equal(await page.locator(`[id="${described.split(' ')[0]}"]`).textContent(), shown);
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'where');
  await page.screenshot({ path: `${ARTIFACTS}funnels-error-1366.png` });

  // mended, it answers again and the error goes
  await where.fill('');
  await page.getByRole('button', { name: 'Show funnel' }).click();
  await page.locator('.funnel-chart svg').waitFor();
  assert.equal(await page.locator('.field-error:not([hidden])').count(), 0);
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('retention: monthly cohorts of the first order, as the API counts them', async () => {
  const p = await openPage();
  const { page } = p;
  await signIn(page);
  const { body } = await openAnalytics(page, 'Retention', 'Retention', 'analytics/retention');
  assert.equal(body.start_event, 'Order Completed');
  assert.equal(body.return_event, 'Order Completed');
  assert.equal(body.interval, 'month');
  const direct = await api(srv, '/analytics/retention', { method: 'POST', body });
  assert.equal(direct.status, 200, direct.text);
  const cohorts = direct.json.cohorts;
  assert.ok(cohorts.length >= 2, direct.text);
  assert.ok(cohorts.some((c) => c.size > 0), direct.text);

  await page.locator('table.heatmap').waitFor();
  const rows = await page.$$eval('table.heatmap tbody tr:not(.avg)', (trs) => trs.map((tr) => ({
    size: tr.children[1].textContent,
    cells: [...tr.querySelectorAll('td.heat')].map((td) => ({ text: td.textContent, title: td.title })),
  })));
  assert.equal(rows.length, cohorts.length, 'one row per cohort');
  rows.forEach((r, i) => assert.equal(num(r.size), cohorts[i].size, `cohort ${i}`));
  // a cell of a cohort with customers: its share, and its counts in the title
  const i = cohorts.findIndex((c) => c.size > 0 && c.retained.length > 0);
  assert.ok(i >= 0);
  const c = cohorts[i];
  assert.match(rows[i].cells[0].text, /%$/);
  assert.match(rows[i].cells[0].title, new RegExp(`${c.retained[0].toLocaleString('en-US')} of ${c.size.toLocaleString('en-US')} customers`));
  assert.ok(await page.locator('table.heatmap thead th', { hasText: 'Month 0' }).count() === 1);
  await assertLabelled(page);
  await shoot(page, 'retention');
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('paths: a Sankey of what follows Product Viewed, with the API\'s nodes', async () => {
  const p = await openPage();
  const { page } = p;
  await signIn(page);
  const { body } = await openAnalytics(page, 'Paths', 'Paths', 'analytics/paths');
  assert.equal(body.event, 'Product Viewed');
  assert.equal(body.direction, 'next');
  const direct = await api(srv, '/analytics/paths', { method: 'POST', body });
  assert.equal(direct.status, 200, direct.text);
  assert.ok(direct.json.customers > 0, direct.text);
  assert.ok(direct.json.links.length > 0, direct.text);

  await page.locator('.chart.sankey svg path').first().waitFor();
  assert.ok(await page.locator('.chart.sankey svg path').count() >= direct.json.links.length);
  const names = await page.locator('.chart.sankey svg text').allTextContents();
  assert.ok(names.includes('Product Viewed'), names.join('|'));
  const rows = await page.$$eval('.paths-table tbody tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  assert.equal(rows.length, direct.json.nodes.length);
  assert.equal(num(rows[0][2]), direct.json.customers);
  await assertLabelled(page);
  await shoot(page, 'paths');

  // the other way: what came before
  const before = page.waitForRequest((r) => r.url().endsWith('/api/v1/analytics/paths') && r.postDataJSON()?.direction === 'previous');
  await page.getByText('Previous events', { exact: true }).click();
  await before;
  await page.getByRole('heading', { name: 'Paths into the event' }).waitFor();
  await page.locator('.chart.sankey svg path').first().waitFor();
  assert.match(page.url(), /direction=previous/);
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('lifecycle: customers per stage in the stage order, summing to the customers', async () => {
  const p = await openPage();
  const { page } = p;
  await signIn(page);
  const { answer } = await openAnalytics(page, 'Lifecycle', 'Lifecycle', 'lifecycle');
  const direct = await api(srv, '/lifecycle');
  assert.equal(direct.status, 200, direct.text);
  assert.ok(direct.json.customers > 0);
  assert.deepEqual(answer.stages.map((s) => s.name), direct.json.stages.map((s) => s.name));

  await page.locator('.results .chart svg').waitFor();
  const rows = await page.$$eval('.stages-table tbody tr', (trs) => trs.map((tr) => [tr.querySelector('th').textContent, tr.children[2].textContent]));
  assert.deepEqual(rows.map((r) => r[0]), direct.json.stages.map((s) => s.name.replace(/_/g, ' ')));
  const sum = rows.reduce((s, r) => s + num(r[1]), 0);
  assert.equal(sum, direct.json.customers, 'the stages sum to the customers');
  assert.equal(num(await page.locator('.stages-table tfoot td.num').first().textContent()), direct.json.customers);
  // one bar per stage, labelled with its count
  const labels = await page.locator('.results .chart svg text').allTextContents();
  for (const s of direct.json.stages) assert.ok(labels.some((t) => t.startsWith(s.customers.toLocaleString('en-US') + ' ·')), `${s.name}: ${labels.join('|')}`);
  await assertLabelled(page);
  await shoot(page, 'lifecycle');
  assert.deepEqual(p.problems(), []);
  await p.close();
});
