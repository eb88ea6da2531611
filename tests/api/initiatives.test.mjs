// CX improvement initiatives (docs/initiatives.md) against a live server:
// the RICE score and the board's order, the status rules and their dates,
// the before/after measurement of the linked KPI checked against
// GET /metrics/nps for the same windows and against the z test worked by
// hand, the cases of the linked root causes (no "before" count from before
// the first case), the themes' evidence, the audit, the role matrix, and
// bad input that is refused with its field and stores nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api } from './server.mjs';
import { assertError } from './helpers.mjs';

const D = 86400000;
const iso = (ms) => new Date(ms).toISOString();
const ok = (r, status = 200) => { assert.equal(r.status, status, r.text); return r.json; };
let srv, survey, owner, viewerToken, unit;
const now = Date.now();

async function respond(user, score, at, reason) {
  const answers = { q1: score };
  if (reason) answers.why = reason;
  ok(await api(srv, `/surveys/${survey}/responses`, { method: 'POST',
    body: { customer: { user_id: user }, answers, submitted_at: iso(at) } }), 201);
}

before(async () => {
  srv = await startServer();
  survey = ok(await api(srv, '/surveys', { method: 'POST', body: { name: 'Relationship', questions: [
    { id: 'q1', type: 'nps', text: 'How likely are you to recommend us?' },
    { id: 'why', type: 'text', text: 'Why?', required: false }] } }), 201).id;
  unit = ok(await api(srv, '/units', { method: 'POST', body: { name: 'Care' } }), 201).id;
  owner = ok(await api(srv, '/users', { method: 'POST', body: { email: 'olga@acme.example', name: 'Olga Owner',
    password: 'a long password', role: 'cx_lead', unit } }), 201).id;
  ok(await api(srv, '/users', { method: 'POST', body: { email: 'vic@acme.example', name: 'Vic Viewer',
    password: 'a long password', role: 'viewer' } }), 201);
  viewerToken = ok(await api(srv, '/auth/login', { method: 'POST', token: null,
    body: { email: 'vic@acme.example', password: 'a long password' } })).token;
  // before the initiative (started 20 days ago): 5 detractors, 5 passives
  for (let i = 0; i < 5; i++) await respond(`b${i}`, 2, now - 30 * D, 'I waited an hour on the phone.');
  for (let i = 0; i < 5; i++) await respond(`c${i}`, 8, now - 31 * D);
  // while it ran (between started_at and done_at): counted in neither window
  for (let i = 0; i < 4; i++) await respond(`m${i}`, 0, now - 15 * D);
  // after it was done (10 days ago): 6 promoters, 4 passives
  for (let i = 0; i < 6; i++) await respond(`a${i}`, 10, now - 5 * D, 'Quick answer, thank you.');
  for (let i = 0; i < 4; i++) await respond(`p${i}`, 7, now - 4 * D);
});

after(async () => {
  const r = await srv.stop();
  srv.cleanup();
  assert.equal(r.code, 0);
});

const create = async (body, status = 201) =>
  ok(await api(srv, '/initiatives', { method: 'POST', body: { owner, ...body } }), status);
const list = async (q = '') => ok(await api(srv, `/initiatives${q}`));

test('the RICE score orders the board; no score comes last', async () => {
  const a = await create({ title: 'Self-service returns', reach: 1000, impact: 2, confidence: 80, effort: 4 });
  assert.equal(a.score, 400); // 1000 × 2 × 0.8 / 4
  assert.equal(a.status, 'idea');
  assert.equal(a.owner_name, 'Olga Owner');
  assert.equal(a.measurement.verdict, 'not_started');
  const b = await create({ title: 'Loyalty card', reach: 5000, impact: 0.5, confidence: 100, effort: 1 });
  assert.equal(b.score, 2500);
  const c = await create({ title: 'Someday', description: 'Not scored yet' });
  assert.equal(c.score, null);
  const l = await list();
  const ids = l.initiatives.map((x) => x.id);
  assert.ok(ids.indexOf(b.id) < ids.indexOf(a.id) && ids.indexOf(a.id) < ids.indexOf(c.id), ids.join());
  assert.equal(l.summary.idea, 3);
  // filters
  assert.deepEqual((await list('?status=done')).initiatives, []);
  assert.equal((await list(`?owner=${owner}`)).initiatives.length, 3);
  assertError(await api(srv, '/initiatives?status=finished'), 400, 'invalid_parameter', 'status');
  for (const x of [a, b, c]) assert.equal((await api(srv, `/initiatives/${x.id}`, { method: 'DELETE' })).status, 204);
  assertError(await api(srv, `/initiatives/${a.id}`), 404, 'initiative_not_found');
});

test('the status sets and clears the dates', async () => {
  const x = await create({ title: 'Chat at night' });
  assert.equal(x.started_at, null);
  const t0 = Date.now();
  let y = ok(await api(srv, `/initiatives/${x.id}`, { method: 'PATCH', body: { status: 'in_progress' } }));
  assert.ok(Date.parse(y.started_at) >= t0 - 1000 && Date.parse(y.started_at) <= Date.now() + 1000);
  assert.equal(y.done_at, null);
  y = ok(await api(srv, `/initiatives/${x.id}`, { method: 'PATCH', body: { status: 'done' } }));
  assert.ok(Date.parse(y.done_at) >= Date.parse(y.started_at));
  assert.equal(y.measurement.verdict, 'no_kpi');
  y = ok(await api(srv, `/initiatives/${x.id}`, { method: 'PATCH', body: { status: 'in_progress' } }));
  assert.equal(y.done_at, null);
  assert.notEqual(y.started_at, null);
  y = ok(await api(srv, `/initiatives/${x.id}`, { method: 'PATCH', body: { status: 'planned' } }));
  assert.deepEqual([y.started_at, y.done_at], [null, null]);
  // dates given are kept; a done one straight away
  y = ok(await api(srv, `/initiatives/${x.id}`, { method: 'PATCH', body: { status: 'done',
    started_at: iso(now - 40 * D), done_at: iso(now - 35 * D) } }));
  assert.deepEqual([Date.parse(y.started_at), Date.parse(y.done_at)], [now - 40 * D, now - 35 * D]);
  assert.equal((await api(srv, `/initiatives/${x.id}`, { method: 'DELETE' })).status, 204);
});

test('the before/after of the linked KPI, its test, the root causes and the themes', async () => {
  const rc = ok(await api(srv, '/root-causes')).root_causes.find((c) => c.name === 'Long wait');
  const x = await create({ title: 'Call back within the hour', status: 'done', kpi: 'nps', expected_change: 20,
    started_at: iso(now - 20 * D), done_at: iso(now - 10 * D), measure_days: 30, root_causes: [rc.id],
    themes: ['Wait time'], reach: 100, impact: 3, confidence: 50, effort: 0.5 });
  const m = x.measurement;
  // the windows: the 30 days before started_at, and from done_at for up to 30 days (to now)
  assert.equal(Date.parse(m.before.from), now - 50 * D);
  assert.equal(Date.parse(m.before.to), now - 20 * D);
  assert.equal(Date.parse(m.after.from), now - 10 * D);
  assert.ok(Date.parse(m.after.to) >= now && Date.parse(m.after.to) <= Date.now() + 1000);
  assert.equal(m.complete, false);
  // by hand: before NPS -50 (5 of 10 detractors), after +60 (6 of 10 promoters)
  assert.deepEqual([m.before.value, m.before.n, m.after.value, m.after.n], [-50, 10, 60, 10]);
  assert.equal(m.change, 110);
  // the z test of the per-answer +1/0/-1 means
  const varOf = (mean, p, d) => (p + d) / 10 - mean * mean;
  const z = (0.6 - -0.5) / Math.sqrt(varOf(-0.5, 0, 5) / 10 + varOf(0.6, 6, 0) / 10);
  assert.ok(Math.abs(m.z - z) < 0.01, `z ${m.z} against ${z}`);
  assert.ok(m.p_value > 0 && m.p_value < 1e-5, String(m.p_value));
  assert.equal(m.significant, true);
  assert.equal(m.verdict, 'improved');
  assert.equal(m.expected_change, 20);
  // the same windows through GET /metrics/nps
  const q = new URLSearchParams({ survey, from: m.after.from, to: m.after.to, compare_from: m.before.from, compare_to: m.before.to });
  const ref = ok(await api(srv, `/metrics/nps?${q}`));
  assert.deepEqual([ref.nps, ref.n, ref.compare.nps, ref.compare.n], [60, 10, -50, 10]);
  assert.ok(Math.abs(ref.compare.z - m.z) < 0.01);
  // no cases yet: nothing to count; a case resolved with the root cause now counts after, not before
  assert.deepEqual([x.root_causes[0].name, x.root_causes[0].cases], ['Long wait', 0]);
  const cust = (await api(srv, '/customers?user_id=b0')).json.customers[0].id;
  const k = ok(await api(srv, '/cases', { method: 'POST', body: { customer_id: cust, title: 'Waited', unit } }), 201);
  ok(await api(srv, `/cases/${k.id}`, { method: 'PATCH', body: { status: 'resolved', root_cause: rc.id } }));
  const y = ok(await api(srv, `/initiatives/${x.id}`));
  assert.equal(y.root_causes[0].cases, 1);
  assert.equal(y.measurement.root_cause_cases.before, null, 'the loop began after the before window');
  assert.equal(y.measurement.root_cause_cases.after, 1);
  assert.ok(Date.parse(y.measurement.root_cause_cases.cases_since) >= now - 1000);
  // the themes of the last 90 days' verbatims
  assert.equal(y.themes[0].name, 'Wait time');
  assert.equal(y.themes[0].volume, 5);
  // a status without a KPI measures nothing; without the KPI the test is gone
  const z2 = ok(await api(srv, `/initiatives/${x.id}`, { method: 'PATCH', body: { kpi: null } }));
  assert.deepEqual([z2.kpi, z2.expected_change, z2.measurement.verdict], [null, null, 'no_kpi']);
  // an in-progress initiative is measured from started_at
  const w = ok(await api(srv, `/initiatives/${x.id}`, { method: 'PATCH', body: { kpi: 'nps', status: 'in_progress' } }));
  assert.equal(Date.parse(w.measurement.after.from), now - 20 * D);
  assert.equal(w.measurement.after.n, 14); // the four detractors while it ran, and the ten after
  // the audit holds each change
  const audit = ok(await api(srv, '/audit?limit=50'));
  const mine = audit.entries.filter((e) => e.target === `initiative:${x.id}`).map((e) => e.action);
  assert.deepEqual(mine.sort(), ['initiative.create', 'initiative.update', 'initiative.update']);
  assert.equal((await api(srv, `/initiatives/${x.id}`, { method: 'DELETE' })).status, 204);
});

test('two PATCHes at once both land; a disabled owner or a linked root cause does not block a move', async () => {
  const x = await create({ title: 'Race', reach: 1 });
  for (let i = 0; i < 10; i++) {
    const [a, b] = await Promise.all([
      api(srv, `/initiatives/${x.id}`, { method: 'PATCH', body: { title: `T${i}` } }),
      api(srv, `/initiatives/${x.id}`, { method: 'PATCH', body: { reach: 100 + i } }),
    ]);
    assert.deepEqual([a.status, b.status], [200, 200], a.text + b.text);
    const y = ok(await api(srv, `/initiatives/${x.id}`));
    assert.deepEqual([y.title, y.reach], [`T${i}`, 100 + i], `round ${i}: one change was lost`);
  }
  // an owner who leaves: the initiative still moves; a new owner must be enabled
  const leaver = ok(await api(srv, '/users', { method: 'POST', body: { email: 'lea@acme.example', name: 'Lea Leaver',
    password: 'a long password', role: 'analyst' } }), 201).id;
  const rc = ok(await api(srv, '/root-causes', { method: 'POST', body: { name: 'Slow refunds' } }), 201);
  ok(await api(srv, `/initiatives/${x.id}`, { method: 'PATCH', body: { owner: leaver, root_causes: [rc.id] } }));
  ok(await api(srv, `/users/${leaver}`, { method: 'PATCH', body: { disabled: true } }));
  const y = ok(await api(srv, `/initiatives/${x.id}`, { method: 'PATCH', body: { status: 'in_progress' } }));
  assert.deepEqual([y.status, y.owner], ['in_progress', leaver]);
  assertError(await api(srv, `/initiatives/${x.id}`, { method: 'PATCH', body: { owner: leaver } }), 400, 'invalid_field', 'owner');
  // the root cause it answers cannot be deleted while it does
  assertError(await api(srv, `/root-causes/${rc.id}`, { method: 'DELETE' }), 409, 'in_use');
  ok(await api(srv, `/initiatives/${x.id}`, { method: 'PATCH', body: { root_causes: [] } }));
  assert.equal((await api(srv, `/root-causes/${rc.id}`, { method: 'DELETE' })).status, 204);
  assert.equal((await api(srv, `/initiatives/${x.id}`, { method: 'DELETE' })).status, 204);
});

test('no spread on either side: no change is no significant change, not a lack of data', async () => {
  const s2 = ok(await api(srv, '/surveys', { method: 'POST', body: { name: 'CSAT only',
    questions: [{ id: 'c', type: 'csat', text: 'Satisfied?' }] } }), 201).id;
  for (const [u, at] of [['z1', now - 6 * D], ['z2', now - 6 * D], ['z3', now - 2 * D], ['z4', now - 2 * D]])
    ok(await api(srv, `/surveys/${s2}/responses`, { method: 'POST',
      body: { customer: { user_id: u }, answers: { c: 5 }, submitted_at: iso(at) } }), 201);
  const x = await create({ title: 'Flat', status: 'done', kpi: 'csat', scope: 'survey', scope_value: s2, measure_days: 3,
    started_at: iso(now - 4 * D), done_at: iso(now - 3 * D) });
  const m = x.measurement;
  assert.deepEqual([m.before.value, m.before.n, m.after.value, m.after.n, m.change], [100, 2, 100, 2, 0]);
  assert.equal(m.verdict, 'no_significant_change');
  assert.equal((await api(srv, `/initiatives/${x.id}`, { method: 'DELETE' })).status, 204);
});

test('a viewer reads the board and changes nothing', async () => {
  const x = await create({ title: 'Read me' });
  assert.equal((await api(srv, '/initiatives', { token: viewerToken })).status, 200);
  assert.equal((await api(srv, `/initiatives/${x.id}`, { token: viewerToken })).status, 200);
  assertError(await api(srv, '/initiatives', { method: 'POST', token: viewerToken, body: { title: 'No', owner } }), 403, 'forbidden');
  assertError(await api(srv, `/initiatives/${x.id}`, { method: 'PATCH', token: viewerToken, body: { title: 'No' } }), 403, 'forbidden');
  assertError(await api(srv, `/initiatives/${x.id}`, { method: 'DELETE', token: viewerToken }), 403, 'forbidden');
  assert.equal(ok(await api(srv, `/initiatives/${x.id}`)).title, 'Read me');
  assert.equal((await api(srv, `/initiatives/${x.id}`, { method: 'DELETE' })).status, 204);
});

test('bad input is refused with its field and stores nothing', async () => {
  const base = { title: 'T', owner };
  const cases = [
    [{ ...base, title: '' }, 'title'],
    [{ ...base, title: 'x'.repeat(201) }, 'title'],
    [{ title: 'T' }, 'owner'],
    [{ ...base, owner: '999' }, 'owner'],
    [{ ...base, status: 'finished' }, 'status'],
    [{ ...base, kpi: 'happiness' }, 'kpi'],
    [{ ...base, scope: 'unit', scope_value: unit }, 'scope'],
    [{ ...base, kpi: 'nps', scope: 'unit' }, 'scope_value'],
    [{ ...base, kpi: 'nps', scope: 'unit', scope_value: '999' }, 'scope_value'],
    [{ ...base, kpi: 'churn_rate', scope: 'unit', scope_value: unit }, 'scope'],
    [{ ...base, expected_change: 5 }, 'expected_change'],
    [{ ...base, kpi: 'ces', expected_change: 9 }, 'expected_change'],
    [{ ...base, reach: -1 }, 'reach'],
    [{ ...base, reach: 1.5 }, 'reach'],
    [{ ...base, impact: 4 }, 'impact'],
    [{ ...base, confidence: 101 }, 'confidence'],
    [{ ...base, effort: 0 }, 'effort'],
    [{ ...base, root_causes: ['999'] }, 'root_causes'],
    [{ ...base, root_causes: 'x' }, 'root_causes'],
    [{ ...base, root_causes: Array.from({ length: 21 }, (_, i) => i + 1) }, 'root_causes'],
    [{ ...base, themes: ['Teleportation'] }, 'themes'],
    [{ ...base, measure_days: 0 }, 'measure_days'],
    [{ ...base, status: 'planned', started_at: iso(now - D) }, 'started_at'],
    [{ ...base, status: 'done', started_at: iso(now - D), done_at: iso(now - 2 * D) }, 'done_at'],
    [{ ...base, status: 'in_progress', started_at: iso(now + 2 * D) }, 'started_at'],
    [{ ...base, status: 'in_progress', started_at: 'last week' }, 'started_at'],
    [{ ...base, colour: 'red' }, 'colour'],
  ];
  for (const [body, field] of cases) {
    const r = await api(srv, '/initiatives', { method: 'POST', body });
    assertError(r, 400, 'invalid_field', field);
  }
  assertError(await api(srv, '/initiatives', { method: 'POST', body: [] }), 400, 'malformed_json');
  assert.deepEqual((await list()).initiatives, []);
  // a PATCH refused leaves the initiative as it was
  const x = await create({ title: 'Keep', kpi: 'nps', expected_change: 5 });
  assertError(await api(srv, `/initiatives/${x.id}`, { method: 'PATCH', body: { title: 'Changed', impact: 7 } }), 400,
    'invalid_field', 'impact');
  const y = ok(await api(srv, `/initiatives/${x.id}`));
  assert.deepEqual([y.title, y.kpi, y.expected_change, y.updated_at], ['Keep', 'nps', 5, x.updated_at]);
  assertError(await api(srv, '/initiatives/999', { method: 'PATCH', body: { title: 'x' } }), 404, 'initiative_not_found');
  assertError(await api(srv, '/initiatives/abc'), 404, 'initiative_not_found');
  assertError(await api(srv, '/initiatives', { method: 'PUT', body: {} }), 405, 'method_not_allowed');
});
