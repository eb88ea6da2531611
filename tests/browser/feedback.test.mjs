// The listening pages in real Chromium against a real `cxm serve`: an
// empty store first (empty states), then a survey (NPS, text, choice and
// CSAT questions) made through the API with 36 responses over seven
// months. Feedback: the tiles show the API's value, n and interval, the
// trend draws its line and confidence band, the breakdown lists the API's
// groups, the comparison says in words what the API's test says. Surveys:
// the list, a draft built in the builder with a bad show_if shown under
// that question's field, publish, close, reopen, an edit of a live survey
// making version 2, and the latest responses. Verbatims and themes: their
// API may not be on this branch yet; then the pages must say so, and the
// test says it skipped. No console errors and no failed requests but the
// 4xx provoked; screenshots at 1366×800 and 390×844 go to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';
import { ARTIFACTS, WIDE } from './harness.mjs';
import { api, startServer } from '../api/server.mjs';

let srv;
let browser;

before(async () => {
  srv = await startServer();
  browser = await h.launch();
});

after(() => h.stopDemo(srv, browser));

const openPage = (viewport = WIDE) => h.openPage(browser, viewport, { locale: 'en-US' });
const signIn = (page) => h.signIn(page, srv.url, srv.adminToken);
const shoot = (page, name) => h.shoot(page, name, { settle: 700 });
const { assertLabelled } = h;

const one = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 });
const signedOne = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1, signDisplay: 'exceptZero' });
const FMT = { nps: (x) => signedOne.format(x), csat: (x) => `${one.format(x)}%`, ces: (x) => one.format(x) };

// What the page must say about a comparison (pages/feedback.ts).
function sentence(label, unit, m, previous) {
  const c = m.compare;
  if (!m.n) return `No ${label} answers in this period to compare with ${previous}.`;
  if (!c.n) return `No ${label} answers in ${previous} to compare with.`;
  const change = c.change ?? 0;
  const moved = Math.abs(change) < 0.05 ? 'did not change' : `${change > 0 ? 'rose' : 'fell'} ${one.format(Math.abs(change))}${unit ? ` ${unit}` : ''}`;
  const t = c.p_value === null ? 'too few answers to test'
    : `p ${c.p_value < 0.001 ? '< 0.001' : `= ${c.p_value.toFixed(c.p_value < 0.01 ? 3 : 2)}`}, ${c.significant ? 'significant' : 'not significant'}`;
  return `${label} ${moved} vs ${previous} (${t}).`;
}

const DAY = 86400000;
const CHANNELS = ['web', 'store', 'phone'];
const TEXTS = ['Delivery was late <b>again</b>', 'Great support, quick answer', 'The app crashed at checkout', 'Fine overall', 'Prices went up'];

let survey;
async function seed() {
  const made = await api(srv, '/surveys', {
    method: 'POST',
    body: {
      name: 'Checkout NPS', status: 'live', language: 'en',
      questions: [
        { id: 'q1', type: 'nps', text: 'How likely are you to recommend us?' },
        { id: 'q2', type: 'text', text: 'Why?', required: false },
        { id: 'q3', type: 'choice', text: 'Where did you buy?', options: ['web', 'store', 'phone'], required: false },
        { id: 'q4', type: 'csat', text: 'How satisfied are you with checkout?', required: false },
      ],
    },
  });
  assert.equal(made.status, 201, made.text);
  survey = made.json;
  // 36 responses, one every 6 days back from now: older ones lower, so that
  // the last 90 days score better than the 90 before.
  const now = Date.now();
  for (let i = 0; i < 36; i++) {
    const old = i >= 15;
    const score = old ? [3, 6, 7, 9, 5, 8][i % 6] : [10, 9, 8, 10, 6, 9][i % 6];
    const r = await api(srv, `/surveys/${survey.id}/responses`, {
      method: 'POST',
      body: {
        customer: { user_id: `fb-${i % 20}` },
        answers: { q1: score, q2: TEXTS[i % TEXTS.length], q3: CHANNELS[i % 3], q4: old ? 2 + (i % 3) : 3 + (i % 3) },
        context: { channel: CHANNELS[i % 3] },
        submitted_at: new Date(now - i * 6 * DAY - 3600000).toISOString(),
      },
    });
    assert.equal(r.status, 201, r.text);
  }
}

// The page's own request for a metric, and the same asked directly.
async function metricOfPage(page, kind, act) {
  const got = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/v1/metrics/${kind}` && r.status() === 200);
  await act();
  const res = await got;
  const u = new URL(res.url());
  const direct = await api(srv, `/metrics/${kind}${u.search}`);
  assert.equal(direct.status, 200, direct.text);
  assert.deepEqual(await res.json(), direct.json);
  return { query: u.searchParams, m: direct.json };
}

test('listen pages on an empty store: empty states, labelled, in the menu', async () => {
  const p = await openPage();
  const { page } = p;
  await signIn(page);
  const nav = page.locator('#nav');
  for (const name of ['Feedback', 'Surveys', 'Verbatims', 'Themes']) await nav.getByRole('link', { name }).waitFor();
  await nav.getByRole('link', { name: 'Feedback' }).click();
  await page.getByRole('heading', { name: 'Feedback', level: 1 }).waitFor();
  await page.getByText('No surveys yet.').waitFor();
  for (const k of ['nps', 'csat', 'ces']) {
    assert.equal(await page.locator(`.score-tile[data-metric="${k}"] .kpi-value`).textContent(), '—');
    assert.equal(await page.locator(`.score-tile[data-metric="${k}"] .tile-n`).textContent(), 'No answers in this period');
  }
  await assertLabelled(page);
  await shoot(page, 'feedback-empty');
  await nav.getByRole('link', { name: 'Surveys' }).click();
  await page.getByRole('heading', { name: 'Surveys', level: 1 }).waitFor();
  await page.getByText('No surveys yet.').waitFor();
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('feedback: tiles, trend with its band, breakdown and the comparison in words are the API\'s', async () => {
  await seed();
  const p = await openPage();
  const { page } = p;
  await signIn(page);
  const all = {};
  const first = metricOfPage(page, 'nps', () => page.goto(`${srv.url}/#/feedback`));
  const csat = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/metrics/csat');
  ({ m: all.nps } = await first);
  const csatRes = await csat;
  all.csat = (await api(srv, `/metrics/csat${new URL(csatRes.url()).search}`)).json;
  const { query } = await first;
  assert.equal(query.get('interval'), 'month');
  assert.equal(query.get('by'), 'channel');
  const days = (Date.parse(query.get('to')) - Date.parse(query.get('from'))) / DAY;
  assert.equal(days, 90);
  assert.equal(query.get('compare_to'), query.get('from'));
  assert.ok(all.nps.n > 10 && all.nps.compare.n > 10, JSON.stringify(all.nps));

  await page.locator('.score-tile[data-metric="nps"] .kpi-value[data-value]').first().waitFor();
  for (const k of ['nps', 'csat']) {
    const m = all[k];
    const tile = page.locator(`.score-tile[data-metric="${k}"]`);
    assert.equal(await tile.locator('.kpi-value').getAttribute('data-value'), String(m[k]));
    assert.equal(await tile.locator('.kpi-value').textContent(), FMT[k](m[k]));
    assert.equal(await tile.locator('.tile-n').textContent(), `n = ${m.n}`);
    assert.equal(await tile.locator('.tile-ci').textContent(), `95% CI ${FMT[k](m.ci95[0])} to ${FMT[k](m.ci95[1])}`);
  }
  const npsSentence = sentence('NPS', 'points', all.nps, 'the previous 90 days');
  assert.match(npsSentence, /^NPS rose [\d.]+ points vs the previous 90 days \(p [=<] [\d.]+, (not )?significant\)\.$/);
  assert.ok((await page.locator('.score-tile[data-metric="nps"] .compare-sentence').textContent()).endsWith(npsSentence));
  // CES was not asked: its tile says so
  assert.equal(await page.locator('.score-tile[data-metric="ces"] .kpi-value').textContent(), '—');

  // the trend: a point per month, the line and the shaded band
  const series = all.nps.series;
  assert.ok(series.length >= 3, JSON.stringify(series));
  const trend = page.locator('.trend-chart');
  await trend.locator('svg').waitFor();
  await page.waitForTimeout(500);
  assert.ok(await trend.locator('svg path[fill-opacity="0.16"]').count() >= 1, 'the confidence band is drawn');
  const label = await trend.getAttribute('aria-label');
  for (const s of series.filter((x) => x.n)) assert.ok(label.includes(`NPS ${FMT.nps(s.nps)}`), `${label} has ${s.nps}`);

  // the breakdown: the API's groups, biggest first, with their values
  const rows = page.locator('.breakdown-table tbody tr');
  assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.key)), all.nps.groups.map((g) => g.key ?? ''));
  assert.deepEqual(await page.locator('.breakdown-table .group-value').evaluateAll((tds) => tds.map((td) => td.dataset.value)),
    all.nps.groups.map((g) => String(g.nps)));
  await assertLabelled(page);
  await shoot(page, 'feedback');

  // CSAT in the trend and the breakdown; by survey; by quarter over 12 months
  await page.locator('label', { hasText: 'CSAT' }).click();
  await page.getByRole('heading', { name: 'CSAT per month' }).waitFor();
  await page.getByRole('heading', { name: 'CSAT by channel' }).waitFor();
  const bySurvey = metricOfPage(page, 'nps', () => page.getByLabel('Breakdown by').selectOption('survey'));
  const { m: bs } = await bySurvey;
  assert.equal(bs.groups[0].key, survey.id);
  await page.getByRole('heading', { name: 'CSAT by survey' }).waitFor();
  await page.locator('.breakdown-table tbody th', { hasText: 'Checkout NPS' }).waitFor();
  const q12 = metricOfPage(page, 'nps', async () => {
    await page.getByLabel('Trend by').selectOption('quarter');
  });
  await q12;
  const year = metricOfPage(page, 'nps', () => page.locator('label', { hasText: '12 months' }).click());
  const { m: ym, query: yq } = await year;
  assert.equal(yq.get('interval'), 'quarter');
  await page.getByRole('heading', { name: 'CSAT per quarter' }).waitFor();
  await page.locator(`.score-tile[data-metric="nps"] .kpi-value[data-value="${ym.nps}"]`).waitFor();
  assert.equal(ym.compare.n, 0, 'no answers a year before');
  assert.ok((await page.locator('.score-tile[data-metric="nps"] .compare-sentence').textContent()).endsWith('No NPS answers in the previous 12 months to compare with.'));
  assert.match(page.url(), /period=365d/);
  assert.match(page.url(), /metric=csat/);
  await shoot(page, 'feedback-csat-quarter');
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('surveys: list, builder with a show_if error under its field, publish, close, reopen, a new version, responses', async () => {
  const p = await openPage();
  const { page } = p;
  await signIn(page);
  p.allow(/HTTP 400: .*\/api\/v1\/surveys$/);
  p.allow(/console: Failed to load resource: the server responded with a status of 400/);
  await page.goto(`${srv.url}/#/surveys`);
  await page.getByRole('heading', { name: 'Surveys', level: 1 }).waitFor();
  const listed = (await api(srv, '/surveys')).json.surveys;
  const row = page.locator(`.surveys-table tbody tr[data-id="${survey.id}"]`);
  await row.waitFor();
  assert.equal(await row.locator('.survey-responses').textContent(), String(listed.find((s) => s.id === survey.id).responses));
  assert.equal(await row.locator(`a[href="/s/${survey.id}"]`).count(), 1);
  await shoot(page, 'surveys-list');

  await page.getByRole('link', { name: '+ New survey' }).click();
  await page.getByRole('heading', { name: 'New survey', level: 1 }).waitFor();
  await page.getByLabel('Name').fill('Onboarding <i>survey</i>');
  await page.getByLabel('Question 2 show if').fill('answers.q9 <= 6');
  await page.getByRole('button', { name: '+ Add question' }).click();
  await page.getByLabel('Question 3 type').selectOption('choice');
  await page.getByLabel('Question 3 text').fill('What did you try first?');
  await page.getByLabel('Question 3 options').fill('Import\nTracking API\nThe demo');
  await page.getByRole('button', { name: '+ Add question' }).click();
  await page.getByLabel('Question 4 type').selectOption('rating');
  await page.getByLabel('Question 4 text').fill('How clear were the docs?');
  await page.getByLabel('Question 4 scale').fill('7');
  await assertLabelled(page);

  // the API's refusal of that show_if, under question 2's field
  const refused = await api(srv, '/surveys', { method: 'POST', body: { name: 'x', status: 'draft', questions: [
    { id: 'q1', type: 'nps', text: 'a' }, { id: 'q2', type: 'text', text: 'b', show_if: 'answers.q9 <= 6' }] } });
  assert.equal(refused.status, 400);
  assert.equal(refused.json.error.field, 'questions[1].show_if');
  // shown without the field's path, since it sits under the field
  assert.match(refused.json.error.message, /^questions\[1\]\.show_if reads answers\.q9/);
  const shown = refused.json.error.message.replace(/^questions\[1\]\.show_if r/, 'R');
  const saveBad = page.waitForResponse((r) => r.url().endsWith('/api/v1/surveys') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Create draft' }).click();
  assert.equal((await saveBad).status(), 400);
  await page.getByText(shown, { exact: true }).waitFor();
  const show = page.getByLabel('Question 2 show if');
  assert.equal(await show.getAttribute('aria-invalid'), 'true');
  assert.equal(await page.locator(`[id="${(await show.getAttribute('aria-describedby')).split(' ')[0]}"]`).textContent(), shown);
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Question 2 show if');
  assert.equal((await api(srv, '/surveys')).json.surveys.length, 1, 'nothing saved');
  await shoot(page, 'survey-builder-error');

  await show.fill('answers.q1 <= 6');
  const created = page.waitForResponse((r) => r.url().endsWith('/api/v1/surveys') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Create draft' }).click();
  const cr = await created;
  assert.equal(cr.status(), 201, await cr.text());
  const s = await cr.json();
  assert.equal(s.status, 'draft');
  assert.deepEqual(s.questions.map((q) => [q.id, q.type]), [['q1', 'nps'], ['q2', 'text'], ['q3', 'choice'], ['q4', 'rating']]);
  assert.equal(s.questions[1].show_if, 'answers.q1 <= 6');
  assert.deepEqual(s.questions[2].options.map((o) => o.id), ['import', 'tracking_api', 'the_demo']);
  assert.equal(s.questions[3].scale, 7);
  await page.getByRole('heading', { name: 'Onboarding <i>survey</i>', level: 1 }).waitFor();
  assert.equal(await page.locator('main h1 i').count(), 0, 'a name stays text');
  await page.getByText(/Created “Onboarding <i>survey<\/i>” as a draft/).waitFor();
  assert.equal(await page.locator('.survey-state').textContent(), 'draft');
  await page.getByText('No responses yet.').waitFor();

  // publish, close, reopen: each as the API says
  await page.getByRole('button', { name: 'Publish' }).click();
  await page.getByText(/is live: its public page takes answers/).waitFor();
  assert.equal(await page.locator('.survey-state').textContent(), 'live');
  assert.equal((await api(srv, `/surveys/${s.id}`)).json.status, 'live');
  await page.getByRole('button', { name: 'Close' }).click();
  await page.getByText(/is closed: it takes no more answers/).waitFor();
  assert.equal((await api(srv, `/surveys/${s.id}`)).json.status, 'closed');
  await page.getByRole('button', { name: 'Reopen' }).click();
  await page.getByText(/is live/).waitFor();
  assert.equal((await api(srv, `/surveys/${s.id}`)).json.status, 'live');

  // editing a live survey says it makes a new version, and does
  await page.getByRole('link', { name: 'Edit' }).click();
  await page.locator('.version-note', { hasText: 'saving makes version 2' }).waitFor();
  assert.equal(await page.getByLabel('Question 3 options').inputValue(), 'Import\nTracking API\nThe demo');
  await page.getByLabel('Question 1 text').fill('How likely are you to recommend cxm?');
  await assertLabelled(page);
  await shoot(page, 'survey-builder-live');
  const putDone = page.waitForResponse((r) => r.url().endsWith(`/api/v1/surveys/${s.id}`) && r.request().method() === 'PUT');
  await page.getByRole('button', { name: 'Save changes' }).click();
  assert.equal((await putDone).status(), 200);
  await page.getByText(/as version 2\./).waitFor();
  const v2 = (await api(srv, `/surveys/${s.id}`)).json;
  assert.equal(v2.version, 2);
  assert.equal(v2.status, 'live');
  assert.deepEqual(v2.questions[2].options.map((o) => o.id), ['import', 'tracking_api', 'the_demo'], 'option ids kept');

  // the seeded survey's latest responses: the API's first page
  await page.goto(`${srv.url}/#/surveys/${survey.id}`);
  await page.getByRole('heading', { name: 'Checkout NPS', level: 1 }).waitFor();
  const first = (await api(srv, `/surveys/${survey.id}/responses?limit=25`)).json;
  await page.locator('.responses-table tbody tr').first().waitFor();
  assert.deepEqual(await page.locator('.responses-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.id)), first.responses.map((r) => r.id));
  assert.equal(await page.locator('.responses-table b').count(), 0, 'answers stay text');
  await page.getByRole('button', { name: 'Older →' }).click();
  const second = (await api(srv, `/surveys/${survey.id}/responses?limit=25&cursor=${first.next_cursor}`)).json;
  await page.locator(`.responses-table tbody tr[data-id="${second.responses[0].id}"]`).waitFor();
  await assertLabelled(page);
  await shoot(page, 'survey-view');
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('verbatims and themes: filters, chips, paging, impact — or a clear note when the API is not here yet', async (t) => {
  const probe = await api(srv, '/feedback');
  const p = await openPage();
  const { page } = p;
  await signIn(page);
  if (probe.status === 404) {
    // the pages say the server does not offer this yet, and stay usable
    p.allow(/HTTP 404: .*\/api\/v1\/feedback/);
    p.allow(/console: Failed to load resource: the server responded with a status of 404/);
    await page.goto(`${srv.url}/#/verbatims`);
    await page.getByRole('heading', { name: 'Verbatims', level: 1 }).waitFor();
    await page.getByText('This server does not offer this yet').waitFor();
    await assertLabelled(page);
    await page.screenshot({ path: `${ARTIFACTS}verbatims-no-api-1366.png` });
    await page.goto(`${srv.url}/#/themes`);
    await page.getByRole('heading', { name: 'Themes', level: 1 }).waitFor();
    await page.getByText('This server does not offer this yet').waitFor();
    await assertLabelled(page);
    assert.deepEqual(p.problems(), []);
    await p.close();
    t.skip('GET /api/v1/feedback answers 404 on this build: the verbatims and themes contract is not implemented yet');
    return;
  }
  assert.equal(probe.status, 200, probe.text);

  await page.goto(`${srv.url}/#/verbatims`);
  await page.getByRole('heading', { name: 'Verbatims', level: 1 }).waitFor();
  const firstPage = (await api(srv, '/feedback?limit=25')).json;
  assert.ok(firstPage.responses.length > 0, probe.text);
  await page.locator('.verbatim').first().waitFor();
  assert.deepEqual(await page.locator('.verbatim').evaluateAll((li) => li.map((x) => x.dataset.id)), firstPage.responses.map((r) => r.id));
  assert.equal(await page.locator('.verbatim-text b').count(), 0, 'respondents\' text stays text');
  await page.getByText('Delivery was late <b>again</b>').first().waitFor();
  await assertLabelled(page);
  await shoot(page, 'verbatims');
  // a theme chip filters by it
  const withTheme = firstPage.responses.find((r) => r.themes.length);
  if (withTheme) {
    const theme = withTheme.themes[0];
    const asked = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/feedback' && new URL(r.url()).searchParams.get('theme') === theme);
    await page.locator(`.verbatim[data-id="${withTheme.id}"] .theme-chip`, { hasText: theme }).click();
    assert.equal((await asked).status(), 200);
    assert.equal(await page.getByLabel('Theme', { exact: true }).inputValue(), theme);
  }
  // sentiment filter
  const neg = page.waitForResponse((r) => new URL(r.url()).searchParams.get('sentiment') === 'negative');
  await page.getByLabel('Sentiment').selectOption('negative');
  assert.equal((await neg).status(), 200);

  // waited for before the page asks: its answer may come before the heading is seen
  const themesRes = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/feedback/themes');
  await page.goto(`${srv.url}/#/themes`);
  await page.getByRole('heading', { name: 'Themes', level: 1 }).waitFor();
  const th = await (await themesRes).json();
  if (th.themes.length) {
    await page.locator('.themes-table tbody tr').first().waitFor();
    assert.deepEqual((await page.locator('.themes-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.theme))).sort(),
      th.themes.map((x) => x.name).sort());
    await page.locator('.themes-volume svg').waitFor();
    await shoot(page, 'themes');
    await page.locator('.themes-table tbody a').first().click();
    await page.getByRole('heading', { name: 'Verbatims', level: 1 }).waitFor();
    assert.match(page.url(), /theme=/);
  }
  await assertLabelled(page);
  assert.deepEqual(p.problems(), []);
  await p.close();
});

// Until GET /feedback and /feedback/themes exist on this branch, the pages
// are checked against answers shaped as the contract in the issue says,
// served by the browser (page.route) in place of the server's. Texts carry
// markup to show that it stays text.
const CONTRACT_VERBATIMS = (theme, cursor) => ({
  responses: [
    { id: '901', survey_id: '1', question: 'q2', customer_id: '7', submitted_at: '2026-11-30T10:00:00Z', text: 'Delivery took <script>alert(1)</script> two weeks',
      score: 3, sentiment: { score: -0.8, label: 'negative' }, themes: ['Delivery', 'Support'], context: { channel: 'web' } },
    { id: '902', survey_id: '1', question: 'q2', customer_id: '8', submitted_at: '2026-11-29T10:00:00Z', text: 'Lovely staff',
      score: 10, sentiment: { score: 0.9, label: 'positive' }, themes: ['Staff'], context: {} },
    { id: '903', survey_id: '1', question: 'q2', customer_id: '9', submitted_at: '2026-11-28T10:00:00Z', text: 'ok',
      score: null, sentiment: { score: 0, label: 'neutral' }, themes: [], context: { channel: 'store' } },
  ].filter((r) => !theme || r.themes.includes(theme)).map((r) => (cursor ? { ...r, id: `${r.id}b` } : r)),
  next_cursor: cursor || theme ? null : 'c2',
});
const CONTRACT_THEMES = {
  n: 120,
  themes: [
    { name: 'Delivery', volume: 50, share: 0.42, sentiment: -0.6, nps_with: -20, nps_without: 35, nps_impact: -55, detractor_share: 0.7,
      phrases: [{ phrase: 'late <b>delivery</b>', count: 12 }, { phrase: 'two weeks', count: 6 }] },
    { name: 'Staff', volume: 30, share: 0.25, sentiment: 0.7, nps_with: 60, nps_without: 10, nps_impact: 50, detractor_share: 0.05,
      phrases: [{ phrase: 'friendly staff', count: 9 }] },
    { name: 'Price', volume: 20, share: 0.17, sentiment: -0.1, nps_with: 5, nps_without: 20, nps_impact: -15, detractor_share: 0.4, phrases: [] },
  ],
};

test('verbatims and themes against the contract\'s answers (served by the browser until the API exists)', async () => {
  const p = await openPage();
  const { page } = p;
  const asked = [];
  await page.route(/\/api\/v1\/feedback(\?|$)/, (route) => {
    const u = new URL(route.request().url());
    asked.push(u.search);
    route.fulfill({ json: CONTRACT_VERBATIMS(u.searchParams.get('theme'), u.searchParams.get('cursor')) });
  });
  await page.route(/\/api\/v1\/feedback\/themes/, (route) => route.fulfill({ json: CONTRACT_THEMES }));
  await signIn(page);
  await page.goto(`${srv.url}/#/verbatims`);
  await page.getByRole('heading', { name: 'Verbatims', level: 1 }).waitFor();
  await page.locator('.verbatim[data-id="901"]').waitFor();
  assert.equal(await page.locator('.verbatim').count(), 3);
  assert.equal(await page.locator('.verbatim-text script').count(), 0, 'a respondent\'s markup stays text');
  await page.getByText('Delivery took <script>alert(1)</script> two weeks').waitFor();
  const v = page.locator('.verbatim[data-id="901"]');
  assert.equal(await v.locator('.sentiment').textContent(), 'Negative');
  assert.equal(await v.locator('.score').textContent(), '3');
  assert.equal(await v.locator('a[href="#/customers/7"]').count(), 1);
  assert.equal(await page.locator('.verbatim[data-id="903"] .verbatim-score .muted').textContent(), '—');
  await assertLabelled(page);
  await shoot(page, 'verbatims');
  // paging by next_cursor, and back
  await page.getByRole('button', { name: 'Older →' }).click();
  await page.locator('.verbatim[data-id="901b"]').waitFor();
  assert.match(asked.at(-1), /cursor=c2/);
  await page.getByRole('button', { name: '← Newer' }).click();
  await page.locator('.verbatim[data-id="901"]').waitFor();
  // a theme chip filters by it; the address keeps it
  await v.getByRole('button', { name: 'Support' }).click();
  await page.locator('.verbatim').first().waitFor();
  assert.match(asked.at(-1), /theme=Support/);
  assert.equal(await page.getByLabel('Theme', { exact: true }).inputValue(), 'Support');
  assert.match(page.url(), /#\/verbatims\?theme=Support/);
  // sentiment and words go to the API
  await page.getByLabel('Search').fill('late');
  await page.getByLabel('Sentiment').selectOption('negative');
  const filtered = page.waitForRequest((r) => new URL(r.url()).searchParams.get('q') === 'late');
  await page.getByRole('button', { name: 'Filter' }).click();
  await filtered;
  const last = new URLSearchParams(asked.at(-1));
  assert.equal(last.get('sentiment'), 'negative');
  assert.equal(last.get('q'), 'late');

  await page.goto(`${srv.url}/#/themes`);
  await page.getByRole('heading', { name: 'Themes', level: 1 }).waitFor();
  await page.locator('.themes-table tbody tr').first().waitFor();
  assert.deepEqual(await page.locator('.themes-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.theme)), ['Delivery', 'Staff', 'Price']);
  assert.equal(await page.locator('.themes-table tr[data-theme="Delivery"] .impact').textContent(), '-55.0');
  await page.getByText('“late <b>delivery</b>” (12)').waitFor();
  assert.equal(await page.locator('.themes-table b').count(), 0);
  // the why behind detractors: most detractor-heavy first
  assert.deepEqual(await page.locator('.why-list li').evaluateAll((li) => li.map((x) => x.dataset.theme)), ['Delivery', 'Price', 'Staff']);
  await page.locator('.themes-volume svg').waitFor();
  await page.locator('.themes-impact svg').waitFor();
  assert.match(await page.locator('.themes-impact').getAttribute('aria-label'), /Delivery -55\.0; Price -15\.0; Staff \+50\.0/);
  await assertLabelled(page);
  await shoot(page, 'themes');
  await page.locator('.themes-table tbody a', { hasText: 'Staff' }).click();
  await page.getByRole('heading', { name: 'Verbatims', level: 1 }).waitFor();
  await page.locator('.verbatim[data-id="902"]').waitFor();
  assert.equal(await page.getByLabel('Theme', { exact: true }).inputValue(), 'Staff');
  assert.deepEqual(p.problems(), []);
  await p.close();
});
