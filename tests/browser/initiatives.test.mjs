// The initiatives board in real Chromium against the demo company: the CX
// lead signs in and sees every demo initiative in its status column, ranked
// by RICE score, with its KPI, root causes and themes, and the measured
// before/after and verdict of the started ones as the API computes them;
// adds one through the form (a refused value under its field first), moves
// it along the board with its status select, edits and removes it; a viewer
// reads the board on a phone without the form. Screenshots at 1366×800 and
// 390×844 go to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';
import { WIDE, PHONE } from './harness.mjs';
import { api } from '../api/server.mjs';

let srv;
let browser;

before(async () => {
  ({ srv, browser } = await h.startDemo('cxm-web-initiatives-'));
});

after(() => h.stopDemo(srv, browser));

const openPage = (viewport = WIDE) => h.openPage(browser, viewport, { locale: 'en-US' });
const VERDICT = {
  improved: 'Improved', worse: 'Got worse', no_significant_change: 'No significant change',
  not_enough_data: 'Not enough answers to tell', too_early: 'Too early to tell', no_kpi: 'No KPI linked',
};

test('a CX lead reads the demo board, adds an initiative, moves, edits and removes it', async () => {
  const board = (await api(srv, '/initiatives')).json;
  assert.ok(board.initiatives.length >= 5, 'the demo has initiatives');
  const p = await openPage();
  const { page } = p;
  await h.signInAs(page, srv.url, 'lead@northwind.example', srv.creds.password);
  await page.getByRole('link', { name: 'Initiatives' }).click();
  await page.getByRole('heading', { name: 'Initiatives', level: 1 }).waitFor();
  const cards = page.locator('.board li.initiative');
  await cards.first().waitFor();
  const shown = board.initiatives.filter((x) => x.status !== 'dropped');
  assert.equal(await cards.count(), shown.length);
  // each column holds its status's cards in the API's order (score first)
  for (const [st, name] of [['idea', 'Ideas'], ['planned', 'Planned'], ['in_progress', 'In progress'], ['done', 'Done']]) {
    const col = page.getByRole('region', { name: new RegExp(`^${name}`) });
    const titles = await col.locator('li.initiative h3').allInnerTexts();
    assert.deepEqual(titles, shown.filter((x) => x.status === st).map((x) => x.title), name);
  }
  // a done one with a KPI: its before → after and verdict in words, as measured
  const done = board.initiatives.find((x) => x.status === 'done' && x.kpi && x.measurement.before);
  const c = page.locator(`li[data-initiative="${done.id}"]`);
  const text = await c.innerText();
  assert.match(text, new RegExp(VERDICT[done.measurement.verdict]));
  assert.match(text, new RegExp(`n = ${done.measurement.before.n}\\) before`));
  for (const r of done.root_causes) assert.match(text, new RegExp(`${r.name}\\s*· ${r.cases} cases`));
  for (const t of done.themes) assert.ok(text.replace(/\s*·/g, ' ·').includes(`${t.name} · ${t.volume.toLocaleString('en-US')} verbatims`), t.name);
  if (done.score !== null) assert.match(text, new RegExp(`RICE ${Math.round(done.score).toLocaleString('en-US')}`));
  await h.assertLabelled(page);
  await h.shoot(page, 'initiatives');

  // the form: a confidence out of range is refused under its field
  await page.getByLabel('Title').fill('Refund in one day');
  await page.getByLabel('Owner', { exact: true }).selectOption({ label: 'Maya Lindqvist (lead@northwind.example)' });
  await page.getByLabel('KPI').selectOption('csat');
  await page.getByLabel('Scope', { exact: true }).selectOption('unit');
  await page.getByLabel('Which').selectOption({ label: 'Care West' });
  await page.getByLabel('Expected change').fill('8');
  await page.getByLabel('Reach (customers a quarter)').fill('4000');
  await page.getByLabel('Impact').selectOption('2');
  await page.getByLabel('Confidence (%)').fill('150');
  await page.getByLabel('Effort (person-months)').fill('2');
  await page.getByLabel('Billing › Refund delay').check();
  await page.getByLabel('Billing & refunds').check();
  p.allow(/HTTP 400: .*\/api\/v1\/initiatives/);
  p.allow(/status of 400/);
  await page.getByRole('button', { name: 'Add initiative' }).click();
  await page.getByText('confidence must be a percentage from 0 to 100.').waitFor();
  await page.getByLabel('Confidence (%)').fill('50');
  await page.getByRole('button', { name: 'Add initiative' }).click();
  await page.getByText(/^Added: Refund in one day \(idea, RICE 2,000\)/).waitFor();
  const added = (await api(srv, '/initiatives')).json.initiatives.find((x) => x.title === 'Refund in one day');
  assert.deepEqual([added.kpi, added.scope_label, added.expected_change, added.score, added.root_causes.map((r) => r.name),
    added.themes.map((t) => t.name)], ['csat', 'Care West', 8, 2000, ['Refund delay'], ['Billing & refunds']]);
  const ideas = page.getByRole('region', { name: /^Ideas/ });
  await ideas.getByRole('heading', { name: 'Refund in one day' }).waitFor();

  // along the board: in progress, measured from today
  await page.getByLabel('Status of Refund in one day').selectOption('in_progress');
  const progress = page.getByRole('region', { name: /^In progress/ });
  await progress.getByRole('heading', { name: 'Refund in one day' }).waitFor();
  const moved = (await api(srv, `/initiatives/${added.id}`)).json;
  assert.equal(moved.status, 'in_progress');
  assert.ok(Date.now() - Date.parse(moved.started_at) < 120000);
  // edit: the form takes its values; the title changes
  await page.getByRole('button', { name: 'Edit Refund in one day' }).click();
  assert.equal(await page.getByLabel('Title').inputValue(), 'Refund in one day');
  assert.equal(await page.getByLabel('Billing › Refund delay').isChecked(), true);
  await page.getByLabel('Title').fill('Refund within one day');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await progress.getByRole('heading', { name: 'Refund within one day' }).waitFor();
  const edited = (await api(srv, `/initiatives/${added.id}`)).json;
  assert.deepEqual([edited.title, edited.status, edited.started_at], ['Refund within one day', 'in_progress', moved.started_at]);
  await h.shoot(page, 'initiatives-added');
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Remove Refund within one day' }).click();
  await page.getByText('Removed: Refund within one day.').waitFor();
  assert.equal((await api(srv, `/initiatives/${added.id}`)).status, 404);
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('a viewer reads the board on a phone, without the form', async () => {
  const p = await openPage(PHONE);
  const { page } = p;
  await h.signInAs(page, srv.url, 'viewer@northwind.example', srv.creds.password);
  await page.goto(srv.url + '/#/initiatives');
  await page.getByRole('heading', { name: 'Initiatives', level: 1 }).waitFor();
  await page.locator('.board li.initiative').first().waitFor();
  assert.equal(await page.getByRole('button', { name: 'Add initiative' }).count(), 0);
  assert.equal(await page.locator('.board select').count(), 0);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), 'wider than the phone');
  await h.shoot(page, 'initiatives-viewer');
  assert.deepEqual(p.problems(), []);
  await p.close();
});
