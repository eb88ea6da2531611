// The CX maturity self-assessment (docs/maturity.md) against a live
// server: the model, an assessment scored as worked out by hand below,
// every kind of bad answer refused with its field and nothing stored, the
// history newest first in pages, who may read and who may answer (and the
// answerer recorded as its actor), and the evidence's figures checked
// against surveys, responses, journey maps, segments, a trigger and cases
// that this test creates (the closed loop's as GET /cases/metrics says).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api } from './server.mjs';
import { assertError, ISO_MS, request } from './helpers.mjs';

const D = 24 * 3600_000;
const iso = (ms) => new Date(ms).toISOString();
let srv;
let model;

before(async () => { srv = await startServer(); });
after(async () => {
  if (srv) {
    assert.equal((await srv.stop()).code, 0);
    srv.cleanup();
  }
});

/** Every statement answered with `f(component, index)`. */
function answers(f = () => 3) {
  const a = {};
  for (const c of model.components) c.statements.forEach((s, i) => { a[s.id] = f(c.id, i); });
  return a;
}

async function history() {
  const r = await api(srv, '/maturity/assessments?limit=1000');
  assert.equal(r.status, 200, r.text);
  return r.json.assessments;
}

test('the model: ten components of 3 to 5 statements, five levels with their cut-offs, the scale', async () => {
  const r = await api(srv, '/maturity/model');
  assert.equal(r.status, 200, r.text);
  model = r.json;
  assert.deepEqual(model.components.map((c) => c.id),
    ['culture', 'leadership', 'people', 'change', 'strategy', 'governance', 'process', 'design', 'insight', 'technology']);
  for (const c of model.components) {
    assert.ok(c.statements.length >= 3 && c.statements.length <= 5, c.id);
    assert.deepEqual(Object.keys(c.next_steps), ['initiate', 'develop', 'practice', 'optimize', 'differentiate']);
  }
  assert.deepEqual(model.levels.map((l) => [l.name, l.from, l.to]),
    [['Initiate', 1, 1.79], ['Develop', 1.8, 2.59], ['Practice', 2.6, 3.39], ['Optimize', 3.4, 4.19], ['Differentiate', 4.2, 5]]);
  assert.deepEqual(model.scale.map((s) => s.value), [1, 2, 3, 4, 5]);
  assert.equal(model.recommendations, 3);
  assertError(await api(srv, '/maturity/model', { method: 'POST', body: {} }), 405, 'method_not_allowed');
  assertError(await api(srv, '/maturity/model', { token: 'nope' }), 401, 'unauthorized');
});

test('an assessment: per-component scores and levels, the overall, the weakest three with their next step', async () => {
  // culture all 5 (5.00); change 1,1,2 (1.33); technology 2 each (2.00);
  // leadership 2 each (2.00); the rest 3 (3.00).
  // overall = (500 + 133 + 200 + 200 + 6 * 300) / 10 = 283.3 -> 2.83
  const a = answers((c, i) => (c === 'culture' ? 5 : c === 'change' ? (i === 2 ? 2 : 1)
    : c === 'technology' || c === 'leadership' ? 2 : 3));
  const r = await api(srv, '/maturity/assessments', { method: 'POST', body: { answers: a, note: 'Baseline <b>Q1</b>' } });
  assert.equal(r.status, 201, r.text);
  const x = r.json;
  assert.match(x.id, /^\d+$/);
  assert.match(x.created_at, ISO_MS);
  assert.equal(x.actor, 'token:admin');
  assert.equal(x.note, 'Baseline <b>Q1</b>');
  const by = Object.fromEntries(x.components.map((c) => [c.id, c]));
  assert.equal(by.culture.score, 5);
  assert.equal(by.culture.level, 'differentiate');
  assert.equal(by.change.score, 1.33);
  assert.equal(by.change.level, 'initiate');
  assert.equal(by.leadership.score, 2);
  assert.equal(by.leadership.level_name, 'Develop');
  assert.equal(by.insight.level, 'practice');
  assert.deepEqual(x.overall, { score: 2.83, level: 'practice', level_name: 'Practice' });
  // the weakest: change, then leadership and technology tied at 2.00 in model order
  assert.deepEqual(x.recommendations.map((k) => [k.rank, k.component, k.level]),
    [[1, 'change', 'initiate'], [2, 'leadership', 'develop'], [3, 'technology', 'develop']]);
  const change = model.components.find((c) => c.id === 'change');
  assert.equal(x.recommendations[0].next_step, change.next_steps.initiate);
  assert.deepEqual(x.answers, a);
  assert.ok(Array.isArray(x.evidence) && x.evidence.length >= 5);
  // read back the same
  const g = await api(srv, `/maturity/assessments/${x.id}`);
  assert.equal(g.status, 200, g.text);
  assert.deepEqual(g.json, x);
});

test('bad answers: 400 naming the field, and nothing stored', async () => {
  const before = (await history()).length;
  const without = answers();
  delete without.process_3;
  const cases = [
    [{ answers: without }, 'missing_answer', 'answers.process_3'],
    [{ answers: { ...answers(), insight_2: 6 } }, 'invalid_field', 'answers.insight_2'],
    [{ answers: { ...answers(), insight_2: 0 } }, 'invalid_field', 'answers.insight_2'],
    [{ answers: { ...answers(), insight_2: 2.5 } }, 'invalid_field', 'answers.insight_2'],
    [{ answers: { ...answers(), insight_2: '3' } }, 'invalid_field', 'answers.insight_2'],
    [{ answers: { ...answers(), insight_2: null } }, 'invalid_field', 'answers.insight_2'],
    [{ answers: { ...answers(), culture_9: 3 } }, 'unknown_statement', 'answers.culture_9'],
    [{ answers: answers(), score: 5 }, 'invalid_field', 'score'],
    [{ answers: answers(), note: 'x'.repeat(2001) }, 'invalid_field', 'note'],
    [{ answers: answers(), note: 7 }, 'invalid_field', 'note'],
    [{ answers: [3, 3] }, 'invalid_field', 'answers'],
    [{}, 'invalid_field', 'answers'],
  ];
  for (const [body, code, field] of cases) {
    assertError(await api(srv, '/maturity/assessments', { method: 'POST', body }), 400, code, field);
  }
  assertError(await api(srv, '/maturity/assessments', { method: 'POST', body: '[' }), 400, 'malformed_json');
  assert.equal((await history()).length, before, 'a refused assessment was stored');
  // a note at its limit is fine
  const ok = await api(srv, '/maturity/assessments', { method: 'POST', body: { answers: answers(), note: 'é'.repeat(1000) } });
  assert.equal(ok.status, 201, ok.text);
  assert.equal((await history()).length, before + 1);
});

test('history: newest first, limit and cursor, read and delete', async () => {
  for (let v = 1; v <= 3; v++) {
    const r = await api(srv, '/maturity/assessments', { method: 'POST', body: { answers: answers(() => v), note: `round ${v}` } });
    assert.equal(r.status, 201, r.text);
  }
  const all = await history();
  const ids = all.map((a) => Number(a.id));
  assert.deepEqual(ids, [...ids].sort((p, q) => q - p), 'newest first');
  assert.equal(all[0].note, 'round 3');
  assert.equal(all[0].overall.score, 3);
  assert.equal(all[0].components.length, 10);
  assert.equal(all[0].recommendations, undefined, 'the list carries summaries');
  const seen = [];
  let cursor = null;
  do {
    const r = await api(srv, `/maturity/assessments?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.assessments.length <= 2);
    seen.push(...r.json.assessments.map((a) => a.id));
    cursor = r.json.next_cursor;
  } while (cursor);
  assert.deepEqual(seen, all.map((a) => a.id));
  assertError(await api(srv, '/maturity/assessments?limit=0'), 400, 'invalid_parameter', 'limit');
  assertError(await api(srv, '/maturity/assessments?cursor=abc'), 400, 'invalid_parameter', 'cursor');
  const gone = all[1].id;
  assert.equal((await api(srv, `/maturity/assessments/${gone}`, { method: 'DELETE' })).status, 204);
  assertError(await api(srv, `/maturity/assessments/${gone}`), 404, 'assessment_not_found', 'id');
  assertError(await api(srv, `/maturity/assessments/${gone}`, { method: 'DELETE' }), 404, 'assessment_not_found', 'id');
  assertError(await api(srv, '/maturity/assessments/x'), 404, 'assessment_not_found', 'id');
  assert.equal((await history()).length, all.length - 1);
});

test('roles: every role that reads sees the assessments; only program (admin, CX lead) answers and deletes', async () => {
  const password = 'a long enough passphrase';
  const tokens = {};
  for (const role of ['cx_lead', 'analyst', 'viewer']) {
    const email = `${role}@maturity.example`;
    const u = await api(srv, '/users', { method: 'POST', body: { email, name: `The ${role}`, password, role } });
    assert.equal(u.status, 201, u.text);
    const l = await request(srv, 'POST', '/api/v1/auth/login', {
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
    assert.equal(l.status, 200, l.text);
    tokens[role] = l.json.token;
  }
  const before = (await history()).length;
  for (const role of ['analyst', 'viewer']) {
    const token = tokens[role];
    for (const path of ['/maturity/model', '/maturity/evidence', '/maturity/assessments']) {
      assert.equal((await api(srv, path, { token })).status, 200, `${role} reads ${path}`);
    }
    assertError(await api(srv, '/maturity/assessments', { method: 'POST', body: { answers: answers() }, token }), 403, 'forbidden');
    const some = (await history())[0].id;
    assertError(await api(srv, `/maturity/assessments/${some}`, { method: 'DELETE', token }), 403, 'forbidden');
  }
  assert.equal((await history()).length, before, 'a forbidden request stored nothing');
  const r = await api(srv, '/maturity/assessments', { method: 'POST', body: { answers: answers(() => 4) }, token: tokens.cx_lead });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.actor, 'user:cx_lead@maturity.example');
  assert.equal((await history())[0].actor, 'user:cx_lead@maturity.example');
  // the change is on the audit log, by the same actor
  const audit = (await api(srv, '/audit')).json.entries;
  assert.ok(audit.some((e) => e.actor === 'user:cx_lead@maturity.example' && /maturity/.test(`${e.action} ${e.target}`)),
    JSON.stringify(audit.slice(-3)));
  assert.equal((await api(srv, `/maturity/assessments/${r.json.id}`, { method: 'DELETE', token: tokens.cx_lead })).status, 204);
});

test('evidence: figures from the data this test creates', async () => {
  const ev = async () => {
    const r = await api(srv, '/maturity/evidence');
    assert.equal(r.status, 200, r.text);
    assert.match(r.json.computed_at, ISO_MS);
    return Object.fromEntries(r.json.evidence.map((e) => [e.id, e]));
  };
  let e = await ev();
  assert.match(e.closed_loop.text, /^No cases yet/);
  assert.equal(e.closed_loop.component, 'culture');
  assert.equal(e.listening.figures.live_surveys, 0);
  assert.equal(e.survey_triggers.suggested_score, 1);
  for (const item of Object.values(e)) {
    assert.ok(model.components.some((c) => c.id === item.component), item.component);
    assert.ok(item.suggested_score >= 1 && item.suggested_score <= 5);
    assert.ok(item.text.length > 10);
  }

  // a live survey; 4 answers in the last 90 days at 3 touchpoints (one
  // without a touchpoint) and one 100 days ago at a 4th
  const s = await api(srv, '/surveys', { method: 'POST', body: {
    name: 'Post-purchase', questions: [{ id: 'q1', type: 'nps', text: 'Recommend us?' }] } });
  assert.equal(s.status, 201, s.text);
  const now = Date.now();
  const resp = [['Checkout', 2], ['Delivery', 3], ['Support', 4], [null, 5], ['Returns', 100]];
  for (const [tp, daysAgo] of resp) {
    const r = await api(srv, `/surveys/${s.json.id}/responses`, { method: 'POST', body: {
      customer: { user_id: `m-${daysAgo}` }, answers: { q1: 10 }, submitted_at: iso(now - daysAgo * D),
      ...(tp ? { context: { touchpoint: tp } } : {}) } });
    assert.equal(r.status, 201, r.text);
  }
  // two journey maps (one future state), two segments, a trigger
  for (const state of ['current', 'future']) {
    const r = await api(srv, '/journey-maps', { method: 'POST', body: {
      name: `Buying (${state})`, state, stages: [{ name: 'Purchase', touchpoints: [{ name: 'Checkout' }] }] } });
    assert.equal(r.status, 201, r.text);
  }
  for (const name of ['Loyal', 'New']) {
    const r = await api(srv, '/segments', { method: 'POST', body: { name, rule: 'count("Order Completed", 365d) >= 1' } });
    assert.equal(r.status, 201, r.text);
  }
  const t = await api(srv, `/surveys/${s.json.id}/triggers`, { method: 'POST', body: {
    event: 'Order Completed', delay: '1h', subject: 'How was it?', body: 'Tell us: {{link}}' } });
  assert.equal(t.status, 201, t.text);

  e = await ev();
  assert.deepEqual(e.listening.figures, { live_surveys: 1, responses: 4, days: 90 });
  assert.equal(e.listening.text, 'Listening: 1 live customer survey and 4 responses in the last 90 days.');
  assert.equal(e.listening.suggested_score, 2); // fewer than 30 responses
  assert.equal(e.touchpoint_scores.figures.touchpoints, 3);
  assert.equal(e.touchpoint_scores.text, 'NPS or CSAT measured at 3 touchpoints in the last 90 days.');
  assert.equal(e.touchpoint_scores.suggested_score, 3);
  assert.deepEqual(e.journeys_and_segments.figures, { journey_maps: 2, future_state_maps: 1, segments: 2 });
  assert.equal(e.journeys_and_segments.text, '2 journey maps (1 future state) and 2 segments defined.');
  assert.equal(e.journeys_and_segments.suggested_score, 3);
  assert.deepEqual(e.survey_triggers.figures, { triggers: 1, events: 1 });
  assert.equal(e.survey_triggers.suggested_score, 2);
  assert.equal(e.unified_customer.figures.sources, (await api(srv, '/sources')).json.sources.length);
  assert.equal(e.unified_customer.figures.customers, 5);

  // the closed loop: two cases opened by hand, neither due yet; the
  // figures are those of GET /cases/metrics over the same 90 days
  const unit = await api(srv, '/units', { method: 'POST', body: { name: 'Care', parent: null } });
  assert.equal(unit.status, 201, unit.text);
  const cust = (await api(srv, '/customers?user_id=m-2')).json.customers[0].id;
  for (const title of ['Called back', 'Wrong size']) {
    const c = await api(srv, '/cases', { method: 'POST', body: { customer_id: cust, title, unit: unit.json.id } });
    assert.equal(c.status, 201, c.text);
  }
  e = await ev();
  assert.equal(e.closed_loop.figures.cases, 2);
  assert.equal(e.closed_loop.text, 'Closed loop started: 2 open cases, none resolved or past a due time yet.');
  assert.equal(e.closed_loop.suggested_score, 2);
  const m = await api(srv, `/cases/metrics?from=${iso(Date.now() - 90 * D)}&to=${iso(Date.now() + 60_000)}`);
  assert.equal(m.status, 200, m.text);
  assert.equal(e.closed_loop.figures.settled, m.json.within_sla.settled);
  assert.equal(e.closed_loop.figures.within_sla, m.json.within_sla.met);

  // an assessment saves the evidence of its moment
  const r = await api(srv, '/maturity/assessments', { method: 'POST', body: { answers: answers() } });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.json.evidence.find((x) => x.id === 'listening').figures, e.listening.figures);
});
