// The dashboard in real Chromium (Debian's /usr/bin/chromium through
// playwright-core) against a real `cxm serve` filled with the demo company.
// Each page: it loads, shows the demo's data, has no console errors and no
// failed requests; screenshots at 1366×800 and 390×844 go to
// tests/artifacts/ (look at them).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as h from './harness.mjs';
import { ARTIFACTS, WIDE, PHONE } from './harness.mjs';
import { track, api } from '../api/server.mjs';


let srv;
let browser;
let base; // where the dashboard is served: cxm's own `/`

before(async () => {
  ({ srv, browser } = await h.startDemo('cxm-web-'));
  base = srv.url;
});

after(() => h.stopDemo(srv, browser));

const openPage = (viewport = WIDE) => h.openPage(browser, viewport);
const signIn = (page) => h.signIn(page, base, srv.adminToken);
const shoot = (page, name) => h.shoot(page, name, { settle: 250, full: false, narrow: false });
const { assertLabelled } = h;

test('the dashboard is served at / with a CSP, and its assets', async () => {
  const res = await fetch(base + '/');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/html/);
  assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  const html = await res.text();
  assert.doesNotMatch(html, /<script>(?!<\/script>)/, 'no inline script');
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
  assert.ok(assets.length >= 2, html);
  for (const a of assets) assert.equal((await fetch(base + a)).status, 200, a);
});

test('sign-in: a wrong token is refused with a message, the admin token opens Overview', async () => {
  const p = await openPage();
  const { page } = p;
  await page.goto(base + '/');
  await assert.doesNotReject(page.getByRole('heading', { name: 'Sign in to the dashboard' }).waitFor());
  // the token's help is in the collapsed "Sign in with an API token": on the page, not shown
  assert.match(await page.locator('main').textContent(), /prints the admin token once/);
  await assertLabelled(page);
  await shoot(page, 'signin');

  p.allow(/HTTP 401: .*\/api\/v1\/me/);
  p.allow(/console: Failed to load resource: the server responded with a status of 401/);
  await page.getByText('Sign in with an API token').click();
  await page.getByLabel('API token').fill('cxm_at_not-the-token');
  await page.getByRole('button', { name: 'Sign in with token' }).click();
  await page.getByText('This token was not accepted').waitFor();

  await page.getByLabel('API token').fill(srv.adminToken);
  await page.getByRole('button', { name: 'Sign in with token' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('cxm.token')), srv.adminToken);
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('overview: KPIs above zero with comparisons, channels, chart, top events, period picker', async () => {
  const p = await openPage();
  const { page } = p;
  await signIn(page);
  await page.locator('.kpi-value').first().waitFor();
  const kpis = await page.$$eval('.kpi', (els) => els.map((e) => ({
    label: e.querySelector('.kpi-label').textContent,
    value: e.querySelector('.kpi-value').textContent,
    compare: e.querySelector('.kpi-compare').textContent,
  })));
  assert.deepEqual(kpis.map((k) => k.label),
    ['Customers', 'Active customers', 'New customers', 'Repeat-purchase rate', 'Events']);
  for (const k of kpis) {
    assert.ok(Number(k.value.replace(/[^\d.]/g, '')) > 0, `${k.label} shows ${k.value}`);
    assert.match(k.compare, /vs .* before/);
  }
  // the change says up or down in words, not only in colour
  assert.match(await page.locator('.kpi .delta .sr-only').first().textContent(), /^(Up|Down|No change): $/);
  assert.equal(await page.locator('.kpi svg.spark').count(), 5);

  const channels = await page.$$eval('[aria-labelledby=h-channels] tbody th', (els) => els.map((e) => e.textContent));
  assert.ok(channels.includes('web'), `channels: ${channels}`);
  assert.ok(channels.length >= 3, `channels: ${channels}`);
  await page.locator('.chart svg').waitFor();
  assert.ok(await page.locator('[aria-labelledby=h-top] tbody tr').count() > 0);
  await assertLabelled(page);
  await shoot(page, 'overview');

  // 12 months asks by month and redraws
  const monthly = page.waitForResponse((r) => r.url().includes('/api/v1/overview') && r.url().includes('interval=month'));
  await page.getByText('12 months', { exact: true }).click();
  assert.equal((await monthly).status(), 200);
  await page.getByText(/by month · compared with the 12 months before/).waitFor();
  await page.locator('.chart svg').waitFor();
  assert.match(page.url(), /period=12m/);
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('customers: search by e-mail finds the customer; the view shows identities and the timeline; filters work', async () => {
  // a customer of the demo with an e-mail and a few events
  const list = await api(srv, '/customers?limit=200');
  const c = list.json.customers.find((x) => x.identities.some((i) => i.type === 'email') && x.event_count >= 5);
  assert.ok(c, 'the demo has a customer with an e-mail');
  const email = c.identities.find((i) => i.type === 'email').value;

  const p = await openPage();
  const { page } = p;
  await signIn(page);
  await page.getByRole('link', { name: 'Customers' }).click();
  await page.getByRole('heading', { name: 'Customers', level: 1 }).waitFor();
  await page.locator('table.customers-table tbody tr').first().waitFor();
  await assertLabelled(page);
  await shoot(page, 'customers');
  // paging follows next_cursor, and back
  await page.getByRole('button', { name: 'Next →' }).click();
  await page.getByText(/All customers · 26–50/).waitFor();
  await page.getByRole('button', { name: '← Previous' }).click();
  await page.getByText(/All customers · 1–25/).waitFor();

  await page.getByLabel('Search customers').fill(email);
  await page.getByLabel('Search customers').press('Enter');
  await page.getByText(`Results for “${email}”`).waitFor();
  const link = page.locator(`table.customers-table a[href="#/customers/${c.id}"]`);
  await link.first().waitFor();
  await shoot(page, 'customers-search');
  await link.first().click();

  // the single customer view
  await page.getByRole('heading', { name: 'Identities' }).waitFor();
  const ids = await page.locator('.identities').innerText();
  assert.ok(ids.includes(email), ids);
  for (const i of c.identities) assert.ok(ids.includes(i.value), `${i.value} in ${ids}`);
  await page.locator('.timeline .event').first().waitFor();
  assert.ok(await page.locator('.timeline .event').count() > 0);
  // properties expand to the full message
  await page.locator('.timeline .event summary').first().click();
  assert.match(await page.locator('.timeline .event pre').first().innerText(), /"messageId"/);
  await assertLabelled(page);
  await shoot(page, 'customer');

  // filter by type: every row is a track
  const filtered = page.waitForResponse((r) => r.url().includes(`/customers/${c.id}/events`) && r.url().includes('type=track'));
  await page.getByLabel('Type', { exact: true }).selectOption('track');
  await filtered;
  await page.locator('.timeline .event').first().waitFor();
  const types = await page.$$eval('.timeline .event .badge', (els) => els.map((e) => e.textContent));
  assert.ok(types.length > 0);
  assert.deepEqual([...new Set(types)], ['track']);

  // and by name: every row has that name
  const name = await page.locator('.timeline .event .event-name').first().innerText();
  const named = page.waitForResponse((r) => r.url().includes(`/customers/${c.id}/events`) && r.url().includes('name='));
  await page.getByLabel('Event name').fill(name);
  await page.getByRole('button', { name: 'Apply' }).click();
  await named;
  await page.locator('.timeline .event').first().waitFor();
  const names = await page.$$eval('.timeline .event .event-name', (els) => els.map((e) => e.textContent));
  assert.deepEqual([...new Set(names)], [name]);
  assert.match(page.url(), /type=track/);
  await shoot(page, 'customer-filtered');
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('live events: an event sent now appears, counted by source; its customer opens', async () => {
  const p = await openPage();
  const { page } = p;
  await signIn(page);
  await page.getByRole('link', { name: 'Live events' }).click();
  await page.getByRole('heading', { name: 'Live events', level: 1 }).waitFor();
  await page.locator('.live-table tbody tr').first().waitFor(); // the backlog
  await assertLabelled(page);

  const event = `Browser Test ${randomUUID().slice(0, 8)}`;
  const userId = `browser-${randomUUID().slice(0, 8)}`;
  const r = await track(srv, '/v1/track', { userId, event, properties: { from: 'dashboard.test' } });
  assert.equal(r.status, 200, r.text);
  const row = page.locator('.live-table tbody tr', { hasText: event });
  await row.waitFor({ timeout: 10000 });
  const counters = await page.locator('.counters').innerText();
  assert.match(counters, /Since opened\s*1\b/);
  assert.match(counters, /default\s*1\b/);
  await shoot(page, 'live');

  // the source filter keeps only that source's rows
  await page.getByLabel('Source', { exact: true }).selectOption('default');
  const sources = await page.$$eval('.live-table tbody tr .source', (els) => els.map((e) => e.textContent));
  assert.ok(sources.length >= 1);
  assert.deepEqual([...new Set(sources)], ['default']);
  await page.getByLabel('Source', { exact: true }).selectOption('');

  // pause stops the polling, resume restarts it
  await page.getByRole('button', { name: 'Pause' }).click();
  await page.getByText('Paused.').waitFor();
  await page.getByRole('button', { name: 'Resume' }).click();
  await page.getByText(/Live · checked/).waitFor();

  assert.equal(await row.getByRole('link').innerText(), userId); // labelled by its user id
  await row.getByRole('link').click();
  await page.getByRole('heading', { name: userId, level: 1 }).waitFor();
  await page.locator('.timeline .event', { hasText: event }).waitFor();
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('phone: the navigation is behind a menu button', async () => {
  const p = await openPage(PHONE);
  const { page } = p;
  await signIn(page);
  const menu = page.getByRole('button', { name: 'Menu' });
  assert.equal(await menu.getAttribute('aria-expanded'), 'false');
  assert.equal(await page.locator('#nav').isVisible(), false);
  await menu.click();
  assert.equal(await menu.getAttribute('aria-expanded'), 'true');
  await page.screenshot({ path: `${ARTIFACTS}menu-390.png` });
  await page.locator('#nav').getByRole('link', { name: 'Customers' }).click();
  await page.getByRole('heading', { name: 'Customers', level: 1 }).waitFor();
  assert.equal(await page.locator('#nav').isVisible(), false);
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('a refused token returns to sign-in with a clear message; sign out works', async () => {
  const p = await openPage();
  const { page } = p;
  await signIn(page);
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  p.allow(/HTTP 401/);
  p.allow(/status of 401/);
  await page.evaluate(() => sessionStorage.setItem('cxm.token', 'cxm_at_revoked'));
  await page.goto(base + '/#/customers');
  await page.getByText('Your session has ended').waitFor();
  await page.getByRole('heading', { name: 'Sign in to the dashboard' }).waitFor();
  // signing in again returns to the page that was asked for
  await page.getByText('Sign in with an API token').click();
  await page.getByLabel('API token').fill(srv.adminToken);
  await page.getByRole('button', { name: 'Sign in with token' }).click();
  await page.getByRole('heading', { name: 'Customers', level: 1 }).waitFor();

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByText('You are signed out.').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('cxm.token')), null);
  assert.deepEqual(p.problems(), []);
  await p.close();
});
