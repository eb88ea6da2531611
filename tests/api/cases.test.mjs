// The closed loop against a live server (docs/cases.md): case rules open
// cases for detractors, routed round robin to the unit's agents with SLA
// due times; bad input refused; resolving needs a root cause; breaches
// detected and mailed to the owner; metrics checked against figures
// computed here by hand; and a SIGKILL after an acknowledged response
// still opens its case exactly once.
//
// Units and users are written into the database before the server
// starts (sqlite3), until the units and users API lands (lib/govern).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startServer, api, cxm, tempDir } from './server.mjs';
import { smtpServer, until, mailsTo, sleep } from './mail.mjs';

const PEOPLE = `
INSERT INTO units(id, name, parent_id, created_at, updated_at) VALUES (1, 'Support', NULL, 0, 0), (2, 'North', 1, 0, 0);
INSERT INTO users(id, email, name, pw_hash, role, unit_id, disabled, created_at, updated_at) VALUES
  (1, 'agent1@example.com', 'Agent One', 'x', 'agent', 1, 0, 0, 0),
  (2, 'agent2@example.com', 'Agent Two', 'x', 'agent', 1, 0, 0, 0),
  (3, 'lead@example.com', 'Lead', 'x', 'cx_lead', 1, 0, 0, 0),
  (4, 'north@example.com', 'North Agent', 'x', 'agent', 2, 0, 0, 0);`;

// a data directory with the people above; its credentials
function initWithPeople() {
  const dir = tempDir('cxm-cases-');
  const r = cxm(['init', '--data', dir]);
  assert.equal(r.code, 0, r.stderr);
  const creds = JSON.parse(r.stdout.trim().split('\n').pop());
  const s = spawnSync('sqlite3', [join(dir, 'cxm.db')], { input: PEOPLE, encoding: 'utf8' });
  assert.equal(s.status, 0, s.stderr);
  return { dir, creds };
}

async function ok(p, status = 200) {
  const r = await p;
  assert.equal(r.status, status, r.text);
  return r.json;
}

async function answer(srv, survey, user, answers, context) {
  return ok(api(srv, `/surveys/${survey}/responses`, {
    method: 'POST', body: { customer: { user_id: user }, answers, ...(context ? { context } : {}) },
  }), 201);
}

const secs = (a, b) => (Date.parse(b) - Date.parse(a)) / 1000;
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

let srv, smtp, dir;
before(async () => {
  smtp = await smtpServer();
  const d = initWithPeople();
  dir = d.dir;
  srv = await startServer({
    data: dir, creds: d.creds, env: { CXM_CASES_TICK_MS: '100' },
    args: ['--smtp', `smtp://127.0.0.1:${smtp.port}`, '--mail-from', 'cx@example.com', '--mail-rate', '6000'],
  });
});
after(async () => {
  if (srv) {
    const { code } = await srv.stop();
    assert.equal(code, 0);
    srv.cleanup();
  }
  await smtp?.close();
});

test('the closed loop: rules, routing, SLA, statuses, root causes, breaches, metrics', { timeout: 60000 }, async () => {
  const survey = (await ok(api(srv, '/surveys', { method: 'POST', body: {
    name: 'Relationship', questions: [{ id: 'q1', type: 'nps', text: 'Recommend us?' },
      { id: 'q2', type: 'text', text: 'Why?', required: false }] } }), 201)).id;
  const followUp = (await ok(api(srv, '/surveys', { method: 'POST', body: {
    name: 'Follow-up', questions: [{ id: 'f1', type: 'nps', text: 'And now?' }] } }), 201)).id;

  // bad rules: the position, the field; nothing stored
  let r = await api(srv, '/case-rules', { method: 'POST', body: { name: 'x', when: 'response.nps <=', unit: '1' } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.field, 'when');
  assert.match(r.json.error.message, /at 15/);
  r = await api(srv, '/case-rules', { method: 'POST', body: { name: 'x', when: 'traits.plan == "pro"', unit: '1' } });
  assert.equal(r.status, 400);
  r = await api(srv, '/case-rules', { method: 'POST', body: { name: 'x', when: 'response.nps <= 6', unit: '77' } });
  assert.deepEqual([r.status, r.json.error.code, r.json.error.field], [400, 'unknown_unit', 'unit']);
  r = await api(srv, '/case-rules', { method: 'POST', body: { name: 'x', when: 'response.nps <= 6', unit: '1', colour: 1 } });
  assert.deepEqual([r.status, r.json.error.field], [400, 'colour']);
  assert.deepEqual((await ok(api(srv, '/case-rules'))).case_rules, []);

  const rule = await ok(api(srv, '/case-rules', { method: 'POST', body: {
    name: 'Detractors', when: 'response.nps <= 6', unit: '1', follow_up_survey: followUp } }), 201);
  assert.equal(rule.when, 'response.nps <= 6');
  r = await api(srv, '/case-rules', { method: 'POST', body: { name: 'Detractors', when: 'response.nps <= 2', unit: '1' } });
  assert.equal(r.status, 409);

  // three detractors, a promoter, and a detractor of North (its context unit)
  await answer(srv, survey, 'c1', { q1: 2, q2: 'Waited an hour on the phone' });
  await answer(srv, survey, 'c2', { q1: 9 });
  await answer(srv, survey, 'c3', { q1: 5 });
  await answer(srv, survey, 'c4', { q1: 0 });
  await answer(srv, survey, 'c5', { q1: 6 }, { unit: 'North' });
  const cases = await until('4 cases', async () => {
    const l = await ok(api(srv, '/cases'));
    return l.cases.length === 4 ? l.cases.reverse() : null;
  });
  // round robin among Support's agents (not the lead), North's own agent
  assert.deepEqual(cases.map((c) => [c.unit, c.owner, c.status, c.nps]),
    [['1', '1', 'new', 2], ['1', '2', 'new', 5], ['1', '1', 'new', 0], ['2', '4', 'new', 6]]);
  for (const c of cases) {
    assert.equal(secs(c.opened_at, c.first_response_due_at), 86400); // the default policy: 1 day, 5 days
    assert.equal(secs(c.opened_at, c.resolution_due_at), 432000);
    assert.equal(c.due_at, c.first_response_due_at);
    assert.ok(c.customer_id);
  }
  const [k1, k2, k3] = cases;

  // statuses: illegal moves 409, resolving needs a root cause
  r = await api(srv, `/cases/${k1.id}`, { method: 'PATCH', body: { status: 'closed' } });
  assert.deepEqual([r.status, r.json.error.code], [409, 'illegal_transition']);
  r = await api(srv, `/cases/${k1.id}`, { method: 'PATCH', body: { status: 'resolved' } });
  assert.deepEqual([r.status, r.json.error.code, r.json.error.field], [400, 'root_cause_required', 'root_cause']);
  r = await api(srv, `/cases/${k1.id}`, { method: 'PATCH', body: { status: 'resolved', root_cause: '999' } });
  assert.deepEqual([r.status, r.json.error.code], [400, 'unknown_root_cause']);
  r = await api(srv, `/cases/${k1.id}`, { method: 'PATCH', body: { owner: '4' } }); // North is below Support
  assert.equal(r.status, 200, r.text);
  r = await api(srv, `/cases/${cases[3].id}`, { method: 'PATCH', body: { owner: '1' } }); // Support's agent on a North case
  assert.deepEqual([r.status, r.json.error.code, r.json.error.field], [400, 'invalid_owner', 'owner']);
  r = await api(srv, `/cases/${k1.id}`, { method: 'PATCH', body: { status: 'open', mood: 1 } });
  assert.deepEqual([r.status, r.json.error.field], [400, 'mood']);
  assert.equal((await ok(api(srv, `/cases/${k1.id}`))).status, 'new'); // nothing stored

  const noted = await ok(api(srv, `/cases/${k1.id}/notes`, { method: 'POST', body: { body: 'Called back, apologised.' } }), 201);
  assert.equal(noted.status, 'open'); // a note is the first response
  assert.ok(noted.first_response_at);
  const long = (await ok(api(srv, '/root-causes'))).root_causes.find((c) => c.name === 'Long wait');
  const res1 = await ok(api(srv, `/cases/${k1.id}`, { method: 'PATCH', body: { status: 'resolved', root_cause: long.id } }));
  assert.equal(res1.status, 'resolved');
  assert.equal(res1.root_cause, long.id);
  const wrong = (await ok(api(srv, '/root-causes'))).root_causes.find((c) => c.name === 'Wrong charge');
  await ok(api(srv, `/cases/${k2.id}`, { method: 'PATCH', body: { status: 'waiting' } }));
  const res2 = await ok(api(srv, `/cases/${k2.id}`, { method: 'PATCH', body: { status: 'resolved', root_cause: wrong.id } }));
  const res3 = await ok(api(srv, `/cases/${k3.id}`, { method: 'PATCH', body: { status: 'resolved', root_cause: long.id } }));
  const full = await ok(api(srv, `/cases/${k1.id}`));
  assert.deepEqual(full.history.map((h) => h.action), ['opened', 'owner', 'note', 'status', 'root_cause', 'status']);
  assert.equal(full.history[1].actor, 'token:admin');

  // close: the follow-up survey; c1 answers as a promoter, c4 as a passive
  for (const k of [k1, k3]) {
    const closed = await ok(api(srv, `/cases/${k.id}`, { method: 'PATCH', body: { status: 'closed' } }));
    assert.equal(closed.follow_up.survey, followUp);
  }
  await answer(srv, followUp, 'c1', { f1: 10 });
  await answer(srv, followUp, 'c4', { f1: 7 }); // k3 is c4's case

  // breach: a manual case under a 1 s / 2 s policy, owned by agent 2
  const fast = await ok(api(srv, '/sla-policies', { method: 'POST', body: {
    name: 'Fast', first_response_seconds: 1, resolution_seconds: 2 } }), 201);
  r = await api(srv, '/sla-policies', { method: 'POST', body: { name: 'Bad', first_response_seconds: 5, resolution_seconds: 1 } });
  assert.deepEqual([r.status, r.json.error.field], [400, 'resolution_seconds']);
  const manual = await ok(api(srv, '/cases', { method: 'POST', body: {
    customer_id: k1.customer_id, title: 'Called the hotline', unit: '1', owner: '2', sla_policy: fast.id } }), 201);
  assert.equal(manual.status, 'new');
  const breached = await until('the resolution breach', async () => {
    const c = await ok(api(srv, `/cases/${manual.id}`));
    return c.breached.resolution ? c : null;
  }, 15000);
  assert.ok(breached.breached.first_response);
  assert.ok(breached.overdue);
  assert.deepEqual(breached.history.map((h) => h.action), ['opened', 'breach_first_response', 'breach_resolution']);
  await until('the owner\'s breach mails', () => mailsTo(smtp, 'agent2@example.com').length >= 2, 15000);

  // metrics, by hand: 5 cases; open: k4 (North) and the manual one;
  // overdue: the manual one; settled: k1, k2, k3 resolved in time, the
  // manual one breached → 3 of 4 within SLA
  const m = await ok(api(srv, '/cases/metrics'));
  assert.equal(m.cases, 5);
  assert.equal(m.open, 2);
  assert.equal(m.overdue, 1);
  assert.deepEqual(m.within_sla, { settled: 4, met: 3, percent: 75 });
  const resolved = [res1, res2, res3];
  const close = (a, b) => Math.abs(a - b) < 0.002;
  assert.ok(close(m.median_resolution_seconds, median(resolved.map((c) => secs(c.opened_at, c.resolved_at)))));
  assert.ok(close(m.median_first_response_seconds, median(resolved.map((c) => secs(c.opened_at, c.first_response_at)))));
  // Pareto: Long wait 2 (66.67%, 66.67%), Wrong charge 1 (33.33%, 100%)
  assert.deepEqual(m.root_causes.map((c) => [c.name, c.count, c.percent, c.cumulative_percent]),
    [['Long wait', 2, 66.67, 66.67], ['Wrong charge', 1, 33.33, 100]]);
  // recovery: 4 detractor cases, 2 follow-up answers, 1 promoter
  assert.deepEqual(m.recovery, { detractor_cases: 4, answered: 2, recovered: 1, rate: 0.5 });
  const north = await ok(api(srv, '/cases/metrics?unit=2'));
  assert.equal(north.cases, 1);
  r = await api(srv, '/cases/metrics?unit=99');
  assert.deepEqual([r.status, r.json.error.field], [400, 'unit']);

  // lists filter by status and owner
  assert.equal((await ok(api(srv, '/cases?status=closed'))).cases.length, 2);
  assert.equal((await ok(api(srv, '/cases?owner=4'))).cases.length, 2);
  r = await api(srv, '/cases?status=done');
  assert.deepEqual([r.status, r.json.error.field], [400, 'status']);
  assert.equal((await api(srv, '/cases/999')).status, 404);
});

test('SIGKILL after acknowledged responses: each opens its case exactly once', { timeout: 90000 }, async (t) => {
  const d = initWithPeople();
  // a scheduler too slow to run before the kill
  let s = await startServer({ data: d.dir, creds: d.creds, env: { CXM_CASES_TICK_MS: '600000' } });
  const survey = (await ok(api(s, '/surveys', { method: 'POST', body: {
    name: 'S', questions: [{ id: 'q1', type: 'nps', text: 'Recommend us?' }] } }), 201)).id;
  await ok(api(s, '/case-rules', { method: 'POST', body: { name: 'D', when: 'response.nps <= 6', unit: '1' } }), 201);
  for (let i = 0; i < 5; i++) await answer(s, survey, `k${i}`, { q1: i });
  await s.kill();
  // then with a fast scheduler, killed while it works through more
  s = await startServer({ data: d.dir, creds: d.creds, env: { CXM_CASES_TICK_MS: '20' } });
  const posts = [];
  for (let i = 5; i < 40; i++) posts.push(answer(s, survey, `k${i}`, { q1: i % 11 }).then(() => i, () => null));
  await sleep(150);
  await s.kill();
  const acked = (await Promise.all(posts)).filter((i) => i !== null);
  s = await startServer({ data: d.dir, creds: d.creds, env: { CXM_CASES_TICK_MS: '50' } });
  try {
    // every detractor response on disk (acknowledged or not) opens one case
    const stored = (await ok(api(s, `/surveys/${survey}/responses?limit=1000`))).responses;
    const want = stored.filter((x) => x.answers.q1 <= 6).length;
    assert.ok(want >= 5 + acked.filter((i) => i % 11 <= 6).length);
    t.diagnostic(`acknowledged ${5 + acked.length} responses; ${stored.length} stored; ${want} detractors`);
    const all = await until(`${want} cases`, async () => {
      const l = await ok(api(s, '/cases?limit=1000'));
      return l.cases.length >= want ? l.cases : null;
    }, 30000);
    await sleep(300); // a tick or two more: nothing more opens
    const again = (await ok(api(s, '/cases?limit=1000'))).cases;
    assert.equal(all.length, want);
    assert.equal(again.length, want);
    const responses = again.map((c) => c.response_id);
    assert.equal(new Set(responses).size, responses.length, 'one case per response');
  } finally {
    await s.stop();
    s.cleanup();
  }
});
