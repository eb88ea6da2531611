// The KPI scorecard in real Chromium against the demo company: the CX lead
// signs in with the demo password, sees every demo target with its status
// in words, value against target, owner, scope and trend; adds a target
// through the form (lists from the API, a refused target under its field);
// a viewer sees the scorecard without the form; the page fits a phone.
// Screenshots at 1366×800 and 390×844 go to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';
import { WIDE, PHONE } from './harness.mjs';
import { api } from '../api/server.mjs';

let srv;
let browser;

before(async () => {
  ({ srv, browser } = await h.startDemo('cxm-web-scorecard-'));
  assert.ok(srv.creds.password, 'cxm demo prints the demo password');
});

after(() => h.stopDemo(srv, browser));

const openPage = (viewport = WIDE) => h.openPage(browser, viewport, { locale: 'en-US' });

test('a CX lead sees the demo scorecard and adds a target', async () => {
  const card = (await api(srv, '/scorecard')).json;
  assert.ok(card.targets.length >= 4, 'the demo has targets');
  const statuses = new Set(card.targets.map((t) => t.status));
  assert.ok(statuses.has('on') && statuses.has('off'), `a mix of on and off: ${[...statuses]}`);
  const p = await openPage();
  const { page } = p;
  await h.signInAs(page, srv.url, 'lead@northwind.example', srv.creds.password);
  await page.getByRole('link', { name: 'Scorecard' }).click();
  await page.getByRole('heading', { name: 'KPI scorecard', level: 1 }).waitFor();
  const rows = page.locator('.scorecard-table tbody tr');
  await rows.first().waitFor();
  assert.equal(await rows.count(), card.targets.length);
  // status in words, not colour alone; the owner and scope by name
  const text = await page.locator('.scorecard-table').innerText();
  assert.match(text, /On target/);
  assert.match(text, /Off target/);
  assert.match(text, /Maya Lindqvist/);
  assert.match(text, /Unit \(and below\): Care North/);
  assert.match(text, /Touchpoint: Checkout/);
  assert.ok(await page.locator('.scorecard-table svg.sparkline').count() >= 1, 'a sparkline');
  await h.assertLabelled(page);
  await h.shoot(page, 'scorecard');

  // the form: Care South's CSAT, owned by Chloe; first a target out of range
  await page.getByLabel('KPI').selectOption('csat');
  await page.getByLabel('Scope', { exact: true }).selectOption('unit');
  await page.getByLabel('Which').selectOption({ label: 'Care South' });
  await page.getByLabel('Owner', { exact: true }).selectOption({ label: 'Chloe (chloe@northwind.example)' });
  await page.getByLabel('Target', { exact: true }).fill('120');
  await page.getByLabel('Answers needed').fill('5');
  p.allow(/HTTP 400: .*\/api\/v1\/targets/);
  p.allow(/status of 400/);
  await page.getByRole('button', { name: 'Add target' }).click();
  await page.getByText('target must be from 0 to 100 for csat.').waitFor();
  await page.getByLabel('Target', { exact: true }).fill('80');
  await page.getByRole('button', { name: 'Add target' }).click();
  await page.getByText(/^Added: CSAT of Care South/).waitFor();
  await page.locator('.scorecard-table tbody tr', { hasText: 'Care South' }).waitFor();
  assert.equal(await rows.count(), card.targets.length + 1);
  const added = (await api(srv, '/targets')).json.targets.find((t) => t.scope_label === 'Care South');
  assert.equal(added.owner_name, 'Chloe');
  assert.equal(added.target, 80);
  assert.equal(added.min_n, 5);
  // a rate offers only the scopes it is measured at
  await page.getByLabel('KPI').selectOption('churn_rate');
  const scopes = await page.getByLabel('Scope', { exact: true }).locator('option').allInnerTexts();
  assert.deepEqual(scopes, ['Whole company', 'Segment']);
  await h.shoot(page, 'scorecard-added');
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('a viewer reads the scorecard on a phone, without the form', async () => {
  const p = await openPage(PHONE);
  const { page } = p;
  await h.signInAs(page, srv.url, 'viewer@northwind.example', srv.creds.password);
  await page.goto(srv.url + '/#/scorecard');
  await page.getByRole('heading', { name: 'KPI scorecard', level: 1 }).waitFor();
  await page.locator('.scorecard-table tbody tr').first().waitFor();
  assert.equal(await page.getByRole('button', { name: 'Add target' }).count(), 0);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), 'wider than the phone');
  await h.shoot(page, 'scorecard-viewer');
  assert.deepEqual(p.problems(), []);
  await p.close();
});
