// The CX maturity pages in real Chromium against a real `cxm serve` filled
// with the demo company (two assessments six months apart): the result
// (radar of the latest against the one before, levels, recommendations,
// evidence, history) matches the API; the questionnaire refuses to send an
// unanswered statement, then, filled in, saves an assessment and shows it,
// with its note as text (no markup); a viewer reads the result but is not
// offered the questionnaire. No console errors and no failed requests;
// screenshots at 1366×800 and 390×844 go to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';
import { api } from '../api/server.mjs';

let srv;
let browser;

before(async () => {
  ({ srv, browser } = await h.startDemo('cxm-web-maturity-'));
});

after(() => h.stopDemo(srv, browser));

test('the demo: latest against previous, levels, next steps, evidence and history', async () => {
  const hist = (await api(srv, '/maturity/assessments')).json.assessments;
  assert.equal(hist.length, 2, 'the demo has two assessments');
  const latest = (await api(srv, `/maturity/assessments/${hist[0].id}`)).json;
  assert.ok(latest.overall.score > hist[1].overall.score, 'the demo improves');

  const p = await h.openPage(browser, h.WIDE, { locale: 'en-US' });
  const { page } = p;
  await h.signIn(page, srv.url, srv.adminToken);
  await page.goto(`${srv.url}/#/maturity`);
  await page.getByRole('heading', { name: 'CX maturity', level: 1 }).waitFor();
  await page.locator('.mat-radar svg').waitFor();
  assert.equal(await page.getByRole('link', { name: 'CX maturity' }).first().getAttribute('aria-current'), 'page');
  assert.equal(await page.locator('.mat-overall .kpi-value').getAttribute('data-value'), String(latest.overall.score));
  assert.match(await page.locator('.mat-overall').innerText(), new RegExp(latest.overall.level_name));
  // the radar's label says each component's score now and before
  const label = await page.locator('.mat-radar').getAttribute('aria-label');
  for (const c of latest.components) assert.ok(label.includes(`${c.name} ${c.score.toFixed(2)} (before `), `${c.id} in the radar's label`);
  // per component
  for (const c of latest.components) {
    const row = page.locator(`.mat-components tr[data-component="${c.id}"]`);
    assert.equal(await row.locator('.c-score').getAttribute('data-value'), String(c.score));
    assert.equal((await row.locator('.c-level').innerText()).trim(), c.level_name);
  }
  // the next steps, in the API's order
  const recs = await page.locator('.mat-rec-list > li').evaluateAll((els) => els.map((e) => e.dataset.component));
  assert.deepEqual(recs, latest.recommendations.map((r) => r.component));
  assert.match(await page.locator('.mat-rec-list > li').first().innerText(), new RegExp(latest.recommendations[0].next_step.slice(0, 30).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  // evidence and history
  assert.equal(await page.locator('.card [data-evidence]').count() >= latest.evidence.length, true);
  assert.equal(await page.locator('.mat-history tbody tr').count(), 2);
  await page.locator('.mat-history-chart svg').waitFor();
  await h.shoot(page, 'maturity');
  // the older one opens from the history
  await page.locator('.mat-history tbody tr').nth(1).getByRole('link').click();
  await page.waitForFunction((v) => document.querySelector('.mat-overall .kpi-value')?.getAttribute('data-value') === v,
    String(hist[1].overall.score));
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('the questionnaire: an unanswered statement is pointed at; filled in, it saves and shows the result', async () => {
  const before = (await api(srv, '/maturity/assessments')).json.assessments.length;
  const p = await h.openPage(browser, h.WIDE, { locale: 'en-US' });
  const { page } = p;
  await h.signIn(page, srv.url, srv.adminToken);
  await page.goto(`${srv.url}/#/maturity`);
  await page.getByRole('link', { name: 'Take the assessment' }).first().click();
  await page.getByRole('heading', { name: 'CX maturity assessment', level: 1 }).waitFor();
  const groups = page.locator('fieldset.mat-statement');
  await groups.first().waitFor();
  const n = await groups.count();
  const model = (await api(srv, '/maturity/model')).json;
  assert.equal(n, model.components.reduce((k, c) => k + c.statements.length, 0));
  await h.assertLabelled(page);
  // each statement is a radio group named by its text
  const first = model.components[0].statements[0];
  assert.equal(await page.getByRole('group', { name: first.text }).getByRole('radio').count(), 5);

  // all but one answered: the form points at the open one and sends nothing
  const choose = async (i, v) => groups.nth(i).locator(`label[for$="-${v}"]`).click();
  const ids = await groups.evaluateAll((els) => els.map((e) => e.dataset.statement));
  for (let i = 0; i < n; i++) if (ids[i] !== 'governance_3') await choose(i, ids[i].startsWith('change') ? 1 : 4);
  await page.getByLabel('Note (optional)').fill('<img src=x onerror="window.hacked=1"> Workshop & review');
  await page.getByRole('button', { name: 'Save the assessment' }).click();
  const open = page.locator('fieldset[data-statement="governance_3"]');
  assert.equal(await open.getAttribute('aria-invalid'), 'true');
  assert.match(await open.locator('.field-error').innerText(), /Choose 1 to 5/);
  assert.equal((await api(srv, '/maturity/assessments')).json.assessments.length, before, 'nothing was sent');
  await choose(ids.indexOf('governance_3'), 3);
  assert.match(await page.locator('.mat-progress').innerText(), new RegExp(`${n} of ${n} answered`));
  await h.shoot(page, 'maturity-questionnaire', { settle: 300 });

  await page.getByRole('button', { name: 'Save the assessment' }).click();
  await page.waitForURL(/#\/maturity\?id=\d+$/);
  await page.locator('.mat-radar svg').waitFor();
  const saved = (await api(srv, '/maturity/assessments')).json.assessments;
  assert.equal(saved.length, before + 1);
  const x = (await api(srv, `/maturity/assessments/${saved[0].id}`)).json;
  assert.match(await page.getByRole('status').first().innerText(), new RegExp(`Assessment saved: ${x.overall.score.toFixed(2)}`));
  // change management (all 1) is the weakest, and says its Initiate step
  const top = page.locator('.mat-rec-list > li').first();
  assert.equal(await top.getAttribute('data-component'), 'change');
  assert.match(await top.innerText(), /Change management/);
  assert.match(await top.innerText(), /Initiate/);
  // the note is text, not markup
  assert.equal(await page.locator('.mat-note').innerText(), '<img src=x onerror="window.hacked=1"> Workshop & review');
  assert.equal(await page.locator('.mat-note img').count(), 0);
  assert.equal(await page.evaluate(() => window.hacked), undefined);
  assert.equal(await page.locator('.mat-history tbody tr').count(), before + 1);
  await h.shoot(page, 'maturity-result');
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('a viewer reads the assessments but is not offered the questionnaire', async () => {
  const p = await h.openPage(browser, h.WIDE, { locale: 'en-US' });
  const { page } = p;
  await h.signInAs(page, srv.url, 'viewer@northwind.example', srv.creds.password);
  await page.goto(`${srv.url}/#/maturity`);
  await page.locator('.mat-radar svg').waitFor();
  assert.equal(await page.getByRole('link', { name: 'Take the assessment' }).count(), 0);
  assert.match(await page.locator('.mat-history').innerText(), /user:lead@northwind\.example/); // the demo's CX lead
  await page.goto(`${srv.url}/#/maturity/new`);
  await page.getByText('Your role may read the assessments but not answer them.').waitFor();
  assert.equal(await page.locator('fieldset.mat-statement').count(), 0);
  assert.deepEqual(p.problems(), []);
  await p.close();
});
