// The journey analytics pages (Funnels, Retention, Paths, Lifecycle) in real
// Chromium against a real `cxm serve` filled with the demo company, as
// dashboard.test.mjs does: each page loads with its defaults, shows the
// demo's numbers (the same as the API answers for the same request), has no
// console errors and no failed requests; screenshots at 1366×800 and
// 390×844 go to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';
import { ARTIFACTS, WIDE } from './harness.mjs';
import { api } from '../api/server.mjs';

let srv;
let browser;

before(async () => {
  ({ srv, browser } = await h.startDemo('cxm-web-analytics-'));
});

after(() => h.stopDemo(srv, browser));

const openPage = (viewport = WIDE) => h.openPage(browser, viewport, { locale: 'en-US' });
const signIn = (page) => h.signIn(page, srv.url, srv.adminToken);
const shoot = (page, name) => h.shoot(page, name);
const { assertLabelled } = h;

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
  assert.equal(rows.length, steps.length);
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

test('lifecycle: customers per stage in the stage order, summing to the customers; the period view and the KPIs equal the API', async () => {
  const p = await openPage();
  const { page } = p;
  await signIn(page);
  // the period view asks /lifecycle and /analytics/kpis with a range
  const isPeriod = (path) => (r) => r.url().includes(`/api/v1/${path}?`) && r.request().method() === 'GET';
  const periodRes = page.waitForResponse(isPeriod('lifecycle'));
  const kpiRes = page.waitForResponse(isPeriod('analytics/kpis'));
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

  // the period: by default the last six months of the data, by month
  const pr = await periodRes;
  assert.equal(pr.status(), 200, await pr.text());
  const q = new URL(pr.url()).searchParams;
  assert.equal(q.get('interval'), 'month');
  const stats = (await api(srv, '/stats')).json;
  const last = new Date(Math.min(Date.parse(stats.last_event_at) + 1, Date.now()) - 1);
  assert.equal(q.get('from'), new Date(Date.UTC(last.getUTCFullYear(), last.getUTCMonth() - 5, 1)).toISOString().replace('.000Z', 'Z'));
  const period = await api(srv, `/lifecycle?${q}`);
  assert.equal(period.status, 200, period.text);
  const L = period.json;
  assert.equal(L.series.length, 6, 'six months');
  assert.ok(L.transitions.length > 0 && L.flows.length > 0, period.text.slice(0, 300));
  // the stacked chart draws a legend of the stages; the flows a Sankey
  await page.locator('.stage-stack svg').waitFor();
  const legend = await page.locator('.stage-stack svg text').allTextContents();
  for (const s of L.stages) assert.ok(legend.includes(s.name.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase())), `${s.name}: ${legend.join('|')}`);
  await page.locator('.flows-chart svg path').first().waitFor({ state: 'attached' });
  assert.ok(await page.locator('.flows-chart svg path').count() >= L.flows.filter((f) => f.customers > 0).length);
  // the transitions table is the API's, largest first
  const trows = await page.$$eval('.transitions-table tbody tr', (trs) => trs.map((tr) => [tr.dataset.from, tr.dataset.to, tr.children[2].textContent]));
  const key = (r) => `${r[0]}>${r[1]}=${r[2]}`;
  assert.deepEqual(trows.map((r) => key([r[0], r[1], num(r[2])])).sort(), L.transitions.map((t) => key([t.from, t.to, t.customers])).sort());
  assert.deepEqual(trows.map((r) => num(r[2])), [...L.transitions.map((t) => t.customers)].sort((a, b) => b - a));
  const srows = await page.$$eval('.time-table tbody tr', (trs) => trs.map((tr) => [tr.dataset.stage, tr.children[1].textContent]));
  assert.deepEqual(srows.map((r) => [r[0], num(r[1])]), L.time_in_stage.map((t) => [t.name, t.stays]));

  // the KPIs: the API's rates, with their counts in each cell's title
  const kr = await kpiRes;
  assert.equal(kr.status(), 200, await kr.text());
  assert.equal(new URL(kr.url()).search, new URL(pr.url()).search, 'the same range');
  const K = (await api(srv, `/analytics/kpis?${q}`)).json;
  const pct = (x) => (x === null ? '—' : new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 1 }).format(x));
  const krows = await page.$$eval('.kpi-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => [td.dataset.k, td.textContent, td.title])));
  assert.equal(krows.length, K.series.length);
  krows.forEach((r, i) => {
    const s = K.series[i];
    assert.deepEqual(r.map((c) => c[1]), [pct(s.activation_rate), pct(s.repeat_customer_rate), pct(s.loyalty_rate), pct(s.churn_rate)], `month ${i}`);
    assert.equal(r[0][2], `${s.activated.toLocaleString('en-US')} of ${s.new_customers.toLocaleString('en-US')} new customers`);
    assert.equal(r[3][2], `${s.churned.toLocaleString('en-US')} of ${s.active_before.toLocaleString('en-US')} active before`);
  });
  // intervals that have not ended say so
  const heads = await page.$$eval('.kpi-table tbody th', (ths) => ths.map((th) => th.textContent));
  assert.equal(heads.length, K.series.length);
  K.series.forEach((p, i) => assert.equal(heads[i].endsWith('(so far)'), p.partial, heads[i]));
  assert.ok(K.series.some((p) => p.partial), 'the period runs to now: its last month is partial');
  await page.locator('.kpi-chart svg').waitFor();
  const kdefs = await page.locator('.kpi-defs dt').allTextContents();
  assert.deepEqual(kdefs, ['Activation', 'Repeat customers', 'Loyalty', 'Churn']);
  assert.match(await page.locator('.kpi-defs').textContent(), /within 30 days of that first event/);

  // another interval asks again
  const weekly = page.waitForResponse((r) => isPeriod('lifecycle')(r) && new URL(r.url()).searchParams.get('interval') === 'week');
  await page.getByLabel('Interval').selectOption('week');
  assert.equal((await weekly).status(), 200);
  await page.getByRole('heading', { name: 'KPIs per week' }).waitFor();
  assert.match(page.url(), /interval=week/);
  await page.getByLabel('Interval').selectOption('month');
  await page.getByRole('heading', { name: 'KPIs per month' }).waitFor();
  await assertLabelled(page);
  await shoot(page, 'lifecycle');
  assert.deepEqual(p.problems(), []);
  await p.close();
});
