// eNPS × CX, the scores on journey maps and personal links, in real
// Chromium against a real `cxm serve` on an empty store. First the eNPS
// page with no employee survey (its empty state). Then, made through the
// API: an employee survey whose eNPS question is answered anonymously by
// five teams (context.unit; one team with too few answers to count in r)
// and a customer CSAT + NPS survey answered for the same teams, some at the
// touchpoint "Ticket solved". eNPS × CX: the table, r, p and the scatter
// are the API's for the page's own request, for CSAT and for NPS (p by the
// t distribution, the API's normal approximation beside it); the
// eNPS per team of the employee survey is GET /metrics/nps?by=unit's.
// Journey map: the card of "Ticket solved" shows the CSAT and NPS given
// there with their n, and the measured emotion curve is drawn beside the
// expected one, with a gap where no one answered. Surveys: the list marks
// the employee survey; a survey's page mints a personal link (a bad
// e-mail is refused under its field), shows it, copies it, and the link
// opens the survey. Names carry markup, which must stay text. No console
// errors and no failed requests but the provoked ones; screenshots at
// 1366×800 and 390×844 go to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';
import { WIDE } from './harness.mjs';
import { api, startServer } from '../api/server.mjs';

let srv;
let browser;

before(async () => {
  srv = await startServer();
  browser = await h.launch();
});

after(() => h.stopDemo(srv, browser));

const openPage = (viewport = WIDE, options = {}) => h.openPage(browser, viewport, { locale: 'en-US', ...options });
const signIn = (page) => h.signIn(page, srv.url, srv.adminToken);
const shoot = (page, name) => h.shoot(page, name, { settle: 700 });
const { assertLabelled } = h;

const one = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 });
const signedOne = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1, signDisplay: 'exceptZero' });
const FMT = { nps: (x) => signedOne.format(x), csat: (x) => `${one.format(x)}%` };

// Five teams; one name is markup, which must stay text.
const TEAMS = ['Care North', 'Care West', 'Care East', 'Care <i>South</i>', 'Care Central'];
// eNPS answers per team (the last has 3: fewer than min_n = 5, not in r)
const ENPS = [
  [10, 9, 9, 10, 8, 9, 7],
  [6, 5, 9, 7, 3, 8],
  [2, 4, 6, 9, 5, 7, 1, 6],
  [9, 10, 8, 7, 9],
  [9, 10, 8],
];
// CSAT (1..5) and NPS (0..10) answers of the customers each team served
const CSAT = [
  [5, 5, 4, 5, 4, 3],
  [4, 3, 5, 2, 4, 4, 3],
  [2, 3, 1, 4, 2, 3],
  [5, 4, 5, 5, 4, 5],
  [3, 4, 5, 4, 2, 5],
];

let employee;
let customer;

async function seed() {
  const e = await api(srv, '/surveys', {
    method: 'POST',
    body: { name: 'Team pulse <b>Q4</b>', kind: 'employee', status: 'live', questions: [{ id: 'enps', type: 'nps', text: 'Would you recommend working here?' }] },
  });
  assert.equal(e.status, 201, e.text);
  employee = e.json;
  const c = await api(srv, '/surveys', {
    method: 'POST',
    body: {
      name: 'Support follow-up', status: 'live',
      questions: [{ id: 'sat', type: 'csat', text: 'How satisfied are you?' }, { id: 'rec', type: 'nps', text: 'Recommend us?', required: false }],
    },
  });
  assert.equal(c.status, 201, c.text);
  customer = c.json;
  for (let t = 0; t < TEAMS.length; t++) {
    for (const score of ENPS[t]) {
      // anonymous: no customer, the team in context.unit
      const r = await api(srv, `/surveys/${employee.id}/responses`, { method: 'POST', body: { answers: { enps: score }, context: { unit: TEAMS[t] } } });
      assert.equal(r.status, 201, r.text);
    }
    for (let i = 0; i < CSAT[t].length; i++) {
      const r = await api(srv, `/surveys/${customer.id}/responses`, {
        method: 'POST',
        body: {
          customer: { user_id: `cust-${t}-${i}` },
          answers: { sat: CSAT[t][i], rec: (CSAT[t][i] * 2 + i) % 11 },
          // the first two teams handle tickets: their answers land on the map
          context: { unit: TEAMS[t], ...(t < 2 ? { touchpoint: 'Ticket solved' } : { channel: 'phone' }) },
        },
      });
      assert.equal(r.status, 201, r.text);
    }
  }
}

const pText = (p) => (p < 0.001 ? 'p < 0.001' : `p = ${p.toFixed(p < 0.01 ? 3 : 2)}`);

// The page's own request, and the same asked directly: equal answers.
async function fromPage(page, pathname, act) {
  const got = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/v1/${pathname}` && r.status() === 200);
  await act();
  const res = await got;
  const u = new URL(res.url());
  const direct = await api(srv, `/${pathname}${u.search}`);
  assert.equal(direct.status, 200, direct.text);
  assert.deepEqual(await res.json(), direct.json);
  return { query: u.searchParams, json: direct.json };
}

// The table's rows and the correlation's words are the API's.
async function assertEnpsCx(page, d) {
  const label = d.cx_metric === 'csat' ? 'CSAT' : 'NPS';
  await page.getByRole('heading', { name: `eNPS and ${label}: Pearson’s r` }).waitFor();
  const rows = page.locator('.enps-table tbody tr');
  assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.unit)), d.units.map((u) => u.unit));
  for (const u of d.units) {
    const row = page.locator('.enps-table tbody tr').filter({ has: page.locator('th', { hasText: u.unit }) });
    assert.equal(await row.count(), 1, u.unit);
    assert.equal(await row.locator('.u-enps').getAttribute('data-value'), u.enps === null ? '' : String(u.enps), u.unit);
    assert.equal(await row.locator('.u-enps').textContent(), u.enps === null ? '—' : FMT.nps(u.enps));
    assert.equal(await row.locator('.u-enps-n').textContent(), String(u.enps_n));
    assert.equal(await row.locator('.u-cx').getAttribute('data-value'), u.cx === null ? '' : String(u.cx), u.unit);
    assert.equal(await row.locator('.u-cx').textContent(), u.cx === null ? '—' : FMT[d.cx_metric](u.cx));
    assert.equal(await row.locator('.u-cx-n').textContent(), String(u.cx_n));
    assert.equal(await row.getAttribute('data-in'), String(u.in_correlation));
    assert.match(await row.locator('.u-in').textContent(), u.in_correlation ? /^Yes$/ : /^No: .*it takes \d+$/);
  }
  const r = page.locator('.corr-r');
  assert.equal(await r.getAttribute('data-value'), d.correlation === null ? '' : String(d.correlation));
  if (d.correlation !== null) {
    assert.equal(await r.textContent(), `r = ${d.correlation.toFixed(2)}`);
    assert.match(await page.locator('.corr-headline').textContent(), new RegExp(`over ${d.units_compared} teams`));
    // p: the server's, by the t distribution (df = k - 2; for df = 2 it
    // has a closed form, checked here)
    const k = d.units_compared;
    const corrP = page.locator('.corr-p');
    if (k <= 3) {
      assert.match(await corrP.textContent(), /^No p-value/);
    } else {
      const r2 = d.correlation * d.correlation;
      const t = Math.abs(d.correlation) * Math.sqrt((k - 2) / (1 - r2));
      const pt = Number(await corrP.getAttribute('data-t'));
      if (k === 4) assert.ok(Math.abs(pt - (1 - t / Math.sqrt(t * t + 2))) < 5e-4, `t-test p ${pt}`); // 4 digits from the API
      assert.ok((await corrP.textContent()).startsWith(`${pText(pt)} by the t test (${k - 2} degrees of freedom): `));
      assert.ok((await corrP.textContent()).includes(pt < 0.05 ? 'unlikely by chance' : 'could well be chance'));
      assert.equal(await corrP.getAttribute('data-value'), String(d.p_value), 'the server\'s t-test p');
    }
    if (d.units_compared < 10) {
      assert.ok((await page.locator('.corr-caution').textContent()).startsWith(`With ${d.units_compared} teams this is a hint, not proof`));
    }
  } else {
    assert.match(await page.locator('.corr-headline').textContent(), /^Too few teams to correlate/);
  }
}

test('eNPS × CX with no employee survey: the empty state, in the Listen menu', async () => {
  const p = await openPage();
  const { page } = p;
  await signIn(page);
  await page.locator('#nav').getByRole('link', { name: 'eNPS × CX' }).click();
  await page.getByRole('heading', { name: 'eNPS × CX', level: 1 }).waitFor();
  await page.getByText('No employee surveys yet.').waitFor();
  await page.getByRole('link', { name: 'Create a survey' }).waitFor();
  assert.equal(await page.locator('.enps-table').count(), 0);
  await assertLabelled(page);
  await shoot(page, 'enps-empty');
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('eNPS × CX: table, r and p in words, the scatter and the eNPS per team are the API\'s, for CSAT and NPS', async () => {
  await seed();
  const p = await openPage();
  const { page } = p;
  await signIn(page);
  // the eNPS per team of the employee survey, asked at the same time
  const perTeam = fromPage(page, 'metrics/nps', async () => {});
  const { json: d, query } = await fromPage(page, 'metrics/enps-cx', () => page.goto(`${srv.url}/#/enps`));
  const { json: m, query: mq } = await perTeam;
  assert.equal(query.get('cx'), 'csat');
  assert.equal(query.get('min_n'), '5');
  assert.equal((Date.parse(query.get('to')) - Date.parse(query.get('from'))) / 86400000, 365);
  assert.equal(mq.get('survey'), employee.id);
  assert.equal(mq.get('by'), 'unit');
  assert.equal(mq.get('from'), query.get('from'));
  // what was sent: five teams, the last with too few eNPS answers
  assert.deepEqual(d.units.map((u) => u.unit).sort(), [...TEAMS].sort());
  assert.equal(d.units_compared, 4);
  assert.equal(d.units.find((u) => u.unit === TEAMS[4]).in_correlation, false);
  assert.notEqual(d.correlation, null);
  assert.notEqual(d.p_value, null);

  await page.locator('.enps-table tbody tr').first().waitFor();
  await assertEnpsCx(page, d);
  assert.equal(await page.locator('main i').count(), 0, 'a team\'s name stays text');
  assert.equal(await page.locator('main b').count(), 0, 'a survey\'s name stays text');
  // the scatter: a point per team with both figures, labelled with the team
  const scatter = page.locator('.enps-scatter');
  await scatter.locator('svg').waitFor();
  await page.waitForTimeout(500);
  const aria = await scatter.getAttribute('aria-label');
  for (const u of d.units) assert.ok(aria.includes(`${u.unit}: eNPS ${FMT.nps(u.enps)}, CSAT ${FMT.csat(u.cx)}, ${u.enps_n + u.cx_n} answers`), `${aria} has ${u.unit}`);
  assert.match(aria, /Care Central: [^;]*not counted in r(;|\.$)/);
  assert.match(aria, /Care <i>South<\/i>: eNPS/);
  const texts = await scatter.locator('svg text').allTextContents();
  for (const u of d.units) assert.ok(texts.includes(u.unit), `the point of ${u.unit} is labelled: ${texts}`);
  assert.ok(texts.includes('Counts in r') && texts.includes('Too few answers'), 'the legend');
  // the employee survey's eNPS per team
  const card = page.locator(`.enps-survey[data-survey="${employee.id}"]`);
  await card.getByRole('heading', { name: 'eNPS per team: Team pulse <b>Q4</b>' }).waitFor();
  assert.equal(await card.locator('.survey-enps').getAttribute('data-value'), String(m.nps));
  assert.equal(await card.locator('.survey-enps').getAttribute('data-n'), String(m.n));
  assert.deepEqual(await card.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.key)), m.groups.map((g) => g.key));
  assert.deepEqual(await card.locator('.g-enps').evaluateAll((tds) => tds.map((td) => td.dataset.value)), m.groups.map((g) => String(g.nps)));
  assert.equal(m.n, ENPS.flat().length);
  await assertLabelled(page);
  await shoot(page, 'enps-cx');

  // NPS as the customer metric: asked again, shown again
  const { json: dn, query: qn } = await fromPage(page, 'metrics/enps-cx', () => page.locator('label', { hasText: /^NPS$/ }).click());
  assert.equal(qn.get('cx'), 'nps');
  assert.equal(dn.cx_metric, 'nps');
  await page.getByRole('heading', { name: 'eNPS and NPS: Pearson’s r' }).waitFor();
  await page.waitForFunction(() => !document.querySelector('.results.stale'));
  await assertEnpsCx(page, dn);
  assert.match(page.url(), /cx=nps/);
  // a higher minimum leaves too few teams: r is not given, and the page says why
  const { json: d9, query: q9 } = await fromPage(page, 'metrics/enps-cx', async () => {
    await page.getByLabel('Fewest answers').fill('7');
    await page.getByLabel('Fewest answers').press('Enter');
  });
  assert.equal(q9.get('min_n'), '7');
  await page.waitForFunction(() => !document.querySelector('.results.stale'));
  assert.equal(d9.correlation, null);
  await assertEnpsCx(page, d9);
  await page.locator('label', { hasText: /^CSAT$/ }).click();
  await page.getByRole('heading', { name: 'eNPS and CSAT: Pearson’s r' }).waitFor();
  assert.match(page.url(), /min_n=7/);
  await shoot(page, 'enps-cx-min7');
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('journey map: the touchpoint card shows the scores given there, the measured curve beside the expected one', async () => {
  const map = {
    name: 'Support <em>journey</em>', state: 'current',
    stages: [
      { name: 'Ask', touchpoints: [
        { id: 'ticket', name: 'Ticket opened', expected_emotion: -1 },
        { id: 'triage', name: 'Triage', lane: 'back' },
      ] },
      { name: 'Resolve', touchpoints: [
        { id: 'solved', name: 'Ticket solved', expected_emotion: 1, moment_of_truth: true },
        { id: 'survey', name: 'Follow-up call', expected_emotion: 0 },
      ] },
    ],
  };
  const made = await api(srv, '/journey-maps', { method: 'POST', body: map });
  assert.equal(made.status, 201, made.text);
  const id = made.json.id;
  const p = await openPage();
  const { page } = p;
  await signIn(page);
  const { json: m } = await fromPage(page, `journey-maps/${id}`, () => page.goto(`${srv.url}/#/journeys/${id}`));
  await page.getByRole('heading', { name: 'Support <em>journey</em>', level: 1 }).waitFor();
  const solved = m.stages[1].touchpoints[0].scores;
  // what was sent at "Ticket solved": the first two teams' answers
  const sats = [...CSAT[0], ...CSAT[1]];
  assert.equal(solved.csat_n, sats.length);
  assert.equal(solved.nps_n, sats.length);
  assert.equal(solved.ces_n, 0);
  assert.ok(Math.abs(solved.csat - (100 * sats.filter((x) => x >= 4).length) / sats.length) < 0.01, JSON.stringify(solved));
  assert.equal(m.stages[0].touchpoints[0].scores.measured_emotion, null);

  const card = page.locator('.tp-card[data-tp="solved"]');
  await card.locator('.tp-scores').waitFor();
  const dd = (k) => card.locator(`.tp-scores dd[data-k="${k}"]`);
  assert.equal(await dd('csat').getAttribute('data-value'), String(solved.csat));
  assert.equal(await dd('csat').textContent(), `${FMT.csat(solved.csat)} n = ${solved.csat_n}`);
  assert.equal(await dd('nps').textContent(), `${FMT.nps(solved.nps)} n = ${solved.nps_n}`);
  assert.equal(await dd('ces').count(), 0, 'no CES answers: not shown');
  assert.equal(await dd('measured').getAttribute('data-value'), String(solved.measured_emotion));
  // touchpoints without answers show no scores
  assert.equal(await page.locator('.tp-card[data-tp="ticket"] .tp-scores').count(), 0);
  assert.equal(await page.locator('.tp-card[data-tp="triage"] .tp-scores').count(), 0);

  // both curves: the legend names them; the measured one has one point
  // (its only touchpoint with answers) and gaps elsewhere
  const curve = page.locator('.emotion-chart');
  await curve.locator('svg').waitFor();
  await page.waitForTimeout(600);
  const label = await curve.getAttribute('aria-label');
  assert.match(label, /^Expected emotion: Ticket opened -1, Ticket solved \+1, Follow-up call 0\. /);
  const me = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2, signDisplay: 'exceptZero' }).format(solved.measured_emotion);
  assert.ok(label.endsWith(`Measured emotion from survey scores: Ticket opened no answers, Ticket solved ${me}, Follow-up call no answers.`), label);
  const texts = await curve.locator('svg text').allTextContents();
  assert.ok(texts.includes('Expected emotion') && texts.includes('Measured emotion (survey scores)'), `legend: ${texts}`);
  // the measured series is drawn in its own colour (squares, dashed)
  const measuredColour = await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--measured').trim());
  assert.ok(await curve.locator(`svg path[fill="${measuredColour}"]`).count() >= 1, 'the measured point is drawn');
  await page.getByText('Emotion — expected and measured').waitFor();
  assert.equal(await page.locator('main em').count(), 0, 'a map\'s name stays text');
  await assertLabelled(page);
  await shoot(page, 'journey-map-scores');
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('surveys: the list marks employee surveys; a survey\'s page mints a personal link, refuses a bad e-mail under its field, copies the link', async () => {
  const p = await openPage(WIDE, { permissions: ['clipboard-read', 'clipboard-write'] });
  const { page } = p;
  await signIn(page);
  await page.goto(`${srv.url}/#/surveys`);
  await page.getByRole('heading', { name: 'Surveys', level: 1 }).waitFor();
  await page.locator('.surveys-table tbody tr').first().waitFor();
  const kinds = (await api(srv, '/surveys')).json.surveys.map((s) => [s.id, s.kind]);
  assert.deepEqual(await page.locator('.surveys-table tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.dataset.id, tr.dataset.kind])), kinds);
  assert.equal(await page.locator(`.surveys-table tr[data-id="${employee.id}"] .survey-kind .kind-employee`).textContent(), 'Employee');
  assert.equal(await page.locator(`.surveys-table tr[data-id="${customer.id}"] .survey-kind`).textContent(), 'Customer');
  assert.equal(await page.locator('.surveys-table b').count(), 0);
  await assertLabelled(page);
  await shoot(page, 'surveys-kinds');

  // the employee survey's page says what a personal link means for it
  await page.goto(`${srv.url}/#/surveys/${employee.id}`);
  await page.getByRole('heading', { name: 'Personal link' }).waitFor();
  await page.getByText(/answers through a personal link are not anonymous/).waitFor();
  await page.locator('main').getByRole('link', { name: 'eNPS × CX' }).waitFor();

  await page.goto(`${srv.url}/#/surveys/${customer.id}`);
  await page.getByRole('heading', { name: 'Support follow-up', level: 1 }).waitFor();
  const who = page.getByLabel('Respondent');
  // nothing given: said under the field, nothing asked
  await page.getByRole('button', { name: 'Make link' }).click();
  await page.getByText('Give the respondent’s user id or e-mail.').waitFor();
  assert.equal(await who.getAttribute('aria-invalid'), 'true');

  // a bad e-mail: the server's message under the field
  p.allow(/HTTP 400: .*\/links$/);
  p.allow(/console: Failed to load resource: the server responded with a status of 400/);
  await who.fill('ada@');
  assert.equal(await page.getByLabel('Identify by').inputValue(), 'email', 'an @ picks e-mail');
  const refused = await api(srv, `/surveys/${customer.id}/links`, { method: 'POST', body: { customer: { email: 'ada@' }, expires_in: '30d' } });
  assert.equal(refused.status, 400);
  assert.equal(refused.json.error.field, 'customer.email');
  let res = page.waitForResponse((r) => r.url().endsWith(`/api/v1/surveys/${customer.id}/links`));
  await page.getByRole('button', { name: 'Make link' }).click();
  assert.equal((await res).status(), 400);
  const shown = refused.json.error.message.replace(/^customer\.email (\w)/, (_, c) => c.toUpperCase());
  await page.getByText(shown, { exact: true }).waitFor();
  assert.equal(await who.getAttribute('aria-invalid'), 'true');
  assert.equal(await page.locator(`[id="${(await who.getAttribute('aria-describedby')).split(' ')[0]}"]`).textContent(), shown);
  // a bad expiry: under its field
  await who.fill('u-42');
  await page.getByLabel('Expires in').fill('400d');
  res = page.waitForResponse((r) => r.url().endsWith(`/api/v1/surveys/${customer.id}/links`));
  await page.getByRole('button', { name: 'Make link' }).click();
  assert.equal((await res).status(), 400);
  assert.equal(await page.getByLabel('Expires in').getAttribute('aria-invalid'), 'true');
  assert.equal(await who.getAttribute('aria-invalid'), null);

  // a user id and 2 weeks: the link is shown, copied, and opens the survey
  await page.getByLabel('Expires in').fill('2w');
  const req = page.waitForRequest((r) => r.url().endsWith(`/api/v1/surveys/${customer.id}/links`) && r.method() === 'POST');
  res = page.waitForResponse((r) => r.url().endsWith(`/api/v1/surveys/${customer.id}/links`));
  await page.getByRole('button', { name: 'Make link' }).click();
  assert.deepEqual((await req).postDataJSON(), { customer: { user_id: 'u-42' }, expires_in: '2w' });
  const link = await (await res).json();
  assert.match(link.url, new RegExp(`^/s/${customer.id}\\?t=[A-Za-z0-9_-]+$`));
  const out = page.getByLabel('Personal link for User id u-42');
  await out.waitFor();
  assert.equal(await out.inputValue(), srv.url + link.url);
  const days = (Date.parse(link.expires_at) - Date.now()) / 86400000;
  assert.ok(days > 13.9 && days <= 14, link.expires_at);
  await page.getByRole('button', { name: 'Copy' }).click();
  await page.getByText('Copied.').waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), srv.url + link.url);
  await assertLabelled(page);
  await shoot(page, 'survey-personal-link');
  const opened = await fetch(srv.url + link.url);
  assert.equal(opened.status, 200);
  assert.match(await opened.text(), /How satisfied are you\?/);
  assert.deepEqual(p.problems(), []);
  await p.close();
});
