// The Journey maps pages in real Chromium against a real `cxm serve` filled
// with the demo company: a map made through the API is drawn (stages,
// touchpoint cards in their lanes, the live numbers the API gives for the
// same range, the emotion curve), the version selector follows a PUT, and
// the editor creates a map, showing the server's message under a bad rule.
// No console errors and no failed requests but the provoked ones;
// screenshots at 1366×800 and 390×844 go to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';
import { ARTIFACTS, WIDE } from './harness.mjs';
import { api } from '../api/server.mjs';

let srv;
let browser;
let mapId;

// Bound to the demo's events (src/cmd_demo.c).
const MAP = {
  name: 'First purchase',
  state: 'current',
  description: 'From the first product viewed to the first order.',
  stages: [
    {
      name: 'Discover',
      touchpoints: [
        { id: 'browse', name: 'Browse products', channel: 'web', owner: 'Marketing', lane: 'front', expected_emotion: 1,
          pain_points: ['Too many similar products'], binding: { event: 'Product Viewed' } },
        { id: 'recs', name: 'Recommendations', owner: 'Data team', lane: 'back' },
      ],
    },
    {
      name: 'Decide',
      touchpoints: [
        { id: 'cart', name: 'Add to cart', channel: 'web', owner: 'Product', expected_emotion: 0,
          binding: { event: 'Product Added', where: 'event.source == "web"' } },
        { id: 'checkout', name: 'Checkout', channel: 'web', owner: 'Payments', expected_emotion: -1,
          pain_points: ['Long form', 'Shipping cost shown late'], binding: { event: 'Checkout Started' } },
      ],
    },
    {
      name: 'Buy',
      touchpoints: [
        { id: 'order', name: 'Order placed', owner: 'Operations', moment_of_truth: true, expected_emotion: 2,
          binding: { event: 'Order Completed' } },
        { id: 'fulfil', name: 'Pick and pack', owner: 'Warehouse', lane: 'back' },
      ],
    },
  ],
};

before(async () => {
  ({ srv, browser } = await h.startDemo('cxm-web-journeys-'));
  const r = await api(srv, '/journey-maps', { method: 'POST', body: MAP });
  assert.equal(r.status, 201, r.text);
  mapId = r.json.id;
});

after(() => h.stopDemo(srv, browser));

const openPage = (viewport = WIDE) => h.openPage(browser, viewport, { locale: 'en-US' });
const signIn = (page) => h.signIn(page, srv.url, srv.adminToken);
const shoot = (page, name) => h.shoot(page, name);
const { assertLabelled } = h;

const num = (s) => Number(String(s).replace(/[^\d]/g, ''));
const pct = (x) => new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 1 }).format(x);
const isMap = (r, id) => new RegExp(`/api/v1/journey-maps/${id}\\?`).test(r.url()) && r.request().method() === 'GET';

// The live numbers of every bound card equal the API's for the request the
// page made (its query: from, to, window, version).
async function assertLive(page, response) {
  const url = new URL(response.url());
  const direct = await api(srv, `/journey-maps/${mapId}${url.search}`);
  assert.equal(direct.status, 200, direct.text);
  const stages = direct.json.stages;
  let bound = 0;
  for (const s of stages) {
    for (const t of s.touchpoints) {
      const card = page.locator(`.tp-card[data-tp="${t.id}"]`);
      assert.equal(await card.count(), 1, t.id);
      if (!t.live) {
        assert.equal(await card.locator('.tp-live').count(), 0, t.id);
        continue;
      }
      bound++;
      const dd = async (k) => (await card.locator(`dd[data-k="${k}"]`).textContent()).trim();
      assert.equal(num(await dd('events')), t.live.events, `${t.id} events`);
      assert.equal(num(await dd('customers')), t.live.customers, `${t.id} customers`);
      assert.equal(await dd('conversion'), t.live.conversion_to_next === null ? '—' : pct(t.live.conversion_to_next), `${t.id} conversion`);
      if (t.live.median_hours_to_next === null) assert.equal(await dd('median'), '—');
      else assert.match(await dd('median'), /\d ?(s|min|h|days)$/);
    }
  }
  assert.equal(bound, 4);
  // the stage headers say the customers of each stage
  const heads = await page.locator('.stage-customers').allTextContents();
  assert.deepEqual(heads.map(num), stages.map((s) => s.customers));
  return direct.json;
}

test('journey map: stages, cards in their lanes, the API\'s live numbers, the emotion curve, versions', async () => {
  const p = await openPage();
  const { page } = p;
  await signIn(page);
  await page.locator('#nav').getByRole('link', { name: 'Journey maps' }).click();
  await page.getByRole('heading', { name: 'Journey maps', level: 1 }).waitFor();
  const row = page.locator(`.maps-table tr[data-id="${mapId}"]`);
  assert.match(await row.textContent(), /First purchase/);
  assert.equal(num(await row.locator('td').nth(1).textContent()), MAP.stages.length, 'stages');
  assert.equal(num(await row.locator('td').nth(2).textContent()), MAP.stages.flatMap((st) => st.touchpoints).length, 'touchpoints');
  await shoot(page, 'journeys-list');

  let res = page.waitForResponse((r) => isMap(r, mapId));
  await row.getByRole('link', { name: 'First purchase' }).click();
  await page.getByRole('heading', { name: 'First purchase', level: 1 }).waitFor();
  let r = await res;
  assert.equal(r.status(), 200, await r.text());
  // the default range ends where the data ends; the window is 7 days
  const q = new URL(r.url()).searchParams;
  assert.equal(q.get('window'), '7d');
  const stats = (await api(srv, '/stats')).json;
  const end = Math.min(Date.parse(stats.last_event_at) + 1, Date.now());
  assert.ok(Date.parse(q.get('to')) <= Date.now() + 1000 && Date.parse(q.get('to')) >= end - 86400000, q.toString());
  assert.equal(Date.parse(q.get('to')) - Date.parse(q.get('from')) <= 30 * 86400000, true);

  await page.locator('.tp-card').first().waitFor();
  // stages as columns, in order
  const names = await page.locator('.map-stage .stage-name').allTextContents();
  assert.deepEqual(names.map((n) => n.replace(/^\d+/, '')), ['Discover', 'Decide', 'Buy']);
  // front and back stage, split by the line of visibility
  assert.deepEqual(await page.locator('.lane-front .tp-card').evaluateAll((cs) => cs.map((c) => c.dataset.tp)), ['browse', 'cart', 'checkout', 'order']);
  assert.deepEqual(await page.locator('.lane-back .tp-card').evaluateAll((cs) => cs.map((c) => c.dataset.tp)), ['recs', 'fulfil']);
  await page.getByRole('separator', { name: 'Line of visibility' }).waitFor();
  // a card: channel, owner, pain points, moment of truth
  const browse = page.locator('.tp-card[data-tp="browse"]');
  assert.equal(await browse.locator('.tp-channel').textContent(), 'web');
  assert.match(await browse.locator('.tp-owner').textContent(), /Marketing/);
  assert.deepEqual(await browse.locator('.tp-pains li').allTextContents(), ['Too many similar products']);
  assert.equal(await page.locator('.tp-card[data-tp="order"] .mot-badge').count(), 1);
  assert.equal(await page.locator('.tp-card.mot').count(), 1);
  assert.match(await page.locator('.tp-card[data-tp="cart"] .tp-binding').textContent(), /Product Added where event\.source == "web"/);
  // the live numbers are the API's for the same range
  const first = await assertLive(page, r);
  assert.ok(first.stages[0].touchpoints[0].live.customers > 0, 'the demo viewed products in the range');
  // the emotion curve: one point per touchpoint with an emotion (4 circles
  // and a diamond for the moment of truth), above the columns
  await page.locator('.emotion-chart svg path').first().waitFor({ state: 'attached' });
  const curveLabel = await page.locator('.emotion-chart').getAttribute('aria-label');
  assert.match(curveLabel, /Browse products \+1, Add to cart 0, Checkout -1, Order placed \+2/);
  assert.ok(await page.locator('.emotion-chart svg path').count() >= 5);
  await page.getByText('Current state', { exact: true }).waitFor();
  await assertLabelled(page);
  await shoot(page, 'journey-map');

  // another range re-queries the live numbers
  res = page.waitForResponse((r2) => isMap(r2, mapId) && new URL(r2.url()).searchParams.get('window') === '1d');
  await page.getByLabel('Window').selectOption('1d');
  r = await res;
  assert.equal(r.status(), 200);
  await page.waitForFunction(() => !document.querySelector('.results.stale'));
  await assertLive(page, r);
  assert.match(page.url(), /window=1d/);

  // a new version through the API: the selector offers both
  const v2 = structuredClone(MAP);
  v2.state = 'future';
  v2.stages[1].touchpoints[1].name = 'One-page checkout';
  v2.stages[1].touchpoints[1].expected_emotion = 1;
  const put = await api(srv, `/journey-maps/${mapId}`, { method: 'PUT', body: v2 });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.version, 2);
  res = page.waitForResponse((r2) => isMap(r2, mapId));
  await page.reload();
  await res;
  await page.locator('.tp-card[data-tp="checkout"]').waitFor();
  assert.deepEqual(await page.getByLabel('Version').locator('option').allTextContents(), ['2 (latest)', '1']);
  assert.equal(await page.locator('.tp-card[data-tp="checkout"] .tp-name').textContent(), 'One-page checkout');
  await page.getByText('Future state', { exact: true }).waitFor();
  res = page.waitForResponse((r2) => isMap(r2, mapId) && new URL(r2.url()).searchParams.get('version') === '1');
  await page.getByLabel('Version').selectOption('1');
  r = await res;
  assert.equal(r.status(), 200);
  await page.getByText('Version 1 of 2', { exact: false }).waitFor();
  assert.equal(await page.locator('.tp-card[data-tp="checkout"] .tp-name').textContent(), 'Checkout');
  await page.getByText('Current state', { exact: true }).waitFor();
  assert.match(page.url(), /version=1/);
  await assertLive(page, r);
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('journey editor: a bad where rule shows the server\'s message under it; the map is created, then saved as a new version', async () => {
  const p = await openPage();
  const { page } = p;
  await signIn(page);
  await page.goto(`${srv.url}/#/journeys`);
  await page.getByRole('link', { name: '+ New journey map' }).click();
  await page.getByRole('heading', { name: 'New journey map', level: 1 }).waitFor();
  // the event choices are the API's names
  const names = [...new Set((await api(srv, '/events/names')).json.events.map((e) => e.name))];
  const opts = await page.getByLabel('Bound to event — stage 1, touchpoint 1').locator('option').allTextContents();
  assert.deepEqual(opts.slice(1).sort(), names.sort());

  await page.getByLabel('Name', { exact: true }).fill('Support journey');
  await page.getByLabel('State').selectOption('future');
  await page.getByLabel('Stage name — stage 1').fill('Ask for help');
  await page.getByLabel('Touchpoint — stage 1, touchpoint 1').fill('Ticket opened');
  await page.getByLabel('Channel — stage 1, touchpoint 1').fill('e-mail');
  await page.getByLabel('Owner — stage 1, touchpoint 1').fill('Support');
  await page.getByLabel('Expected emotion — stage 1, touchpoint 1').selectOption('-1');
  await page.getByLabel('Pain points — stage 1, touchpoint 1').fill('Slow first answer\nAsked twice for the order number');
  await page.getByLabel('Bound to event — stage 1, touchpoint 1').selectOption('Ticket Opened');
  await page.getByRole('button', { name: 'Add a touchpoint to stage 1' }).click();
  await page.getByLabel('Touchpoint — stage 1, touchpoint 2').fill('Triage');
  await page.getByLabel('Lane — stage 1, touchpoint 2').selectOption('back');
  await page.getByRole('button', { name: '+ Add stage' }).click();
  await page.getByLabel('Stage name — stage 2').fill('Resolved');
  await page.getByLabel('Touchpoint — stage 2, touchpoint 1').fill('Ticket closed');
  await page.getByLabel('Moment of truth — stage 2, touchpoint 1').check();
  await page.getByLabel('Expected emotion — stage 2, touchpoint 1').selectOption('2');
  await page.getByLabel('Bound to event — stage 2, touchpoint 1').selectOption('Ticket Closed');
  const badRule = 'event.source ==';
  await page.getByLabel('Where (rule) — stage 2, touchpoint 1').fill(badRule);
  await assertLabelled(page);
  await shoot(page, 'journey-editor');

  // the server refuses the rule: its message under that field
  p.allow(/HTTP 400: .*\/api\/v1\/journey-maps$/);
  p.allow(/console: Failed to load resource: the server responded with a status of 400/);
  let req = page.waitForRequest((r) => r.url().endsWith('/api/v1/journey-maps') && r.method() === 'POST');
  let res = page.waitForResponse((r) => r.url().endsWith('/api/v1/journey-maps') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Create journey map' }).click();
  const sent = (await req).postDataJSON();
  assert.equal((await res).status(), 400);
  const refused = await api(srv, '/journey-maps', { method: 'POST', body: sent });
  assert.equal(refused.status, 400, refused.text);
  assert.equal(refused.json.error.field, 'stages[1].touchpoints[0].binding.where');
  const where = page.getByLabel('Where (rule) — stage 2, touchpoint 1');
  await page.getByText(refused.json.error.message, { exact: true }).waitFor();
  assert.equal(await where.getAttribute('aria-invalid'), 'true');
  const described = (await where.getAttribute('aria-describedby')).split(' ')[0];
  assert.equal(await page.locator(`[id="${described}"]`).textContent(), refused.json.error.message);
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'where');
  await page.screenshot({ path: `${ARTIFACTS}journey-editor-error-1366.png` });

  // mended, the map is created and shown
  await where.fill('event.source == "web" || event.source == "app"');
  res = page.waitForResponse((r) => r.url().endsWith('/api/v1/journey-maps') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Create journey map' }).click();
  const created = await res;
  assert.equal(created.status(), 201, await created.text());
  const id = (await created.json()).id;
  await page.getByRole('heading', { name: 'Support journey', level: 1 }).waitFor();
  await page.getByText('Created “Support journey”.').waitFor();
  assert.match(page.url(), new RegExp(`#/journeys/${id}`));
  const saved = (await api(srv, `/journey-maps/${id}?live=false`)).json;
  assert.equal(saved.state, 'future');
  assert.deepEqual(saved.stages.map((s) => s.name), ['Ask for help', 'Resolved']);
  const [t1, t2] = saved.stages[0].touchpoints;
  assert.deepEqual({ ...t1, id: undefined }, {
    id: undefined, name: 'Ticket opened', channel: 'e-mail', owner: 'Support', expected_emotion: -1, moment_of_truth: false, lane: 'front',
    pain_points: ['Slow first answer', 'Asked twice for the order number'], binding: { event: 'Ticket Opened' },
  });
  assert.equal(t2.lane, 'back');
  assert.deepEqual(saved.stages[1].touchpoints[0].binding, { event: 'Ticket Closed', where: 'event.source == "web" || event.source == "app"' });
  assert.equal(saved.stages[1].touchpoints[0].moment_of_truth, true);
  await page.locator('.tp-card').first().waitFor();
  assert.equal(await page.locator('.tp-card .tp-live').count(), 2);

  // save as a new version: PUT of the whole document
  await page.getByRole('link', { name: 'Edit · save as new version' }).click();
  await page.getByRole('heading', { name: 'Edit “Support journey”', level: 1 }).waitFor();
  assert.equal(await page.getByLabel('Touchpoint — stage 1, touchpoint 1').inputValue(), 'Ticket opened');
  await page.getByLabel('Touchpoint — stage 1, touchpoint 1').fill('Ticket opened (web form)');
  req = page.waitForRequest((r) => r.url().endsWith(`/api/v1/journey-maps/${id}`) && r.method() === 'PUT');
  await page.getByRole('button', { name: 'Save as new version' }).click();
  const doc = (await req).postDataJSON();
  assert.equal(doc.stages.length, 2);
  assert.equal(doc.stages[0].touchpoints[0].id, t1.id, 'ids are kept');
  await page.getByText('Saved “Support journey” as version 2.').waitFor();
  await page.getByText('Version 2 of 2', { exact: false }).waitFor();
  assert.equal((await api(srv, `/journey-maps/${id}?live=false`)).json.stages[0].touchpoints[0].name, 'Ticket opened (web form)');
  assert.deepEqual(p.problems(), []);
  await p.close();
});
