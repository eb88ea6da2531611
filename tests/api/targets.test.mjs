// KPI owners and targets (docs/targets.md) against a live server, a real
// SMTP server on loopback (npm smtp-server) and a webhook receiver started
// here: targets at each scope whose values match GET /metrics/… for the
// same answers, the scorecard, a target pushed off by detractors that
// alerts its owner exactly once by e-mail and once by a signed webhook
// (and not again after a restart), the history with the transition, and
// bad input that is refused with the field and stores nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac } from 'node:crypto';
import { startServer, api, track } from './server.mjs';
import { assertError } from './helpers.mjs';
import { smtpServer, until, mailsTo, sleep } from './mail.mjs';

const FROM = 'Acme CX <cx@acme.example>';
const OWNER = 'olga@acme.example';
let srv, smtp, receiver, hooks = [], hookUrl;
let survey, csatSurvey, care, north, owner, map, segment;

function serveOpts(data, creds) {
  return {
    data, creds,
    args: ['--smtp', `smtp://127.0.0.1:${smtp.port}`, '--mail-from', FROM, '--mail-rate', '6000'],
    env: { CXM_TARGET_TICK_MS: '150', CXM_OUTBOX_RETRY_MS: '200,200,200' },
  };
}

const ok = (r, status = 200) => { assert.equal(r.status, status, r.text); return r.json; };

async function respond(id, user, answers, context) {
  ok(await api(srv, `/surveys/${id}/responses`, { method: 'POST', body: { customer: { user_id: user }, answers, context } }), 201);
}

before(async () => {
  smtp = await smtpServer();
  receiver = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      hooks.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${receiver.address().port}/kpi`;
  srv = await startServer(serveOpts());
  survey = ok(await api(srv, '/surveys', { method: 'POST', body: { name: 'Relationship',
    questions: [{ id: 'q1', type: 'nps', text: 'How likely are you to recommend us?' }] } }), 201).id;
  csatSurvey = ok(await api(srv, '/surveys', { method: 'POST', body: { name: 'Support',
    questions: [{ id: 'c', type: 'csat', text: 'How satisfied?' }, { id: 'e', type: 'ces', text: 'Easy?' }] } }), 201).id;
  care = ok(await api(srv, '/units', { method: 'POST', body: { name: 'Care' } }), 201).id;
  north = ok(await api(srv, '/units', { method: 'POST', body: { name: 'Care North', parent: care } }), 201).id;
  owner = ok(await api(srv, '/users', { method: 'POST', body: { email: OWNER, name: 'Olga Owner',
    password: 'a long password', role: 'cx_lead', unit: care } }), 201).id;
  map = ok(await api(srv, '/journey-maps', { method: 'POST', body: { name: 'Buying', state: 'current', stages: [
    { name: 'Purchase', touchpoints: [{ name: 'Checkout' }, { name: 'Delivery' }] }] } }), 201).id;
  // answers: promoters at Checkout (Care North), detractors at Delivery (Care), passives in the app
  for (let i = 0; i < 8; i++) await respond(survey, `p${i}`, { q1: 10 }, { touchpoint: 'Checkout', unit: 'Care North', channel: 'web' });
  for (let i = 0; i < 3; i++) await respond(survey, `d${i}`, { q1: 2 }, { touchpoint: 'Delivery', unit: 'Care', channel: 'web' });
  for (let i = 0; i < 4; i++) await respond(survey, `m${i}`, { q1: 8 }, { touchpoint: 'App home', channel: 'app' });
  for (let i = 0; i < 6; i++) await respond(csatSurvey, `p${i}`, { c: i < 5 ? 5 : 2, e: 2 + (i % 3) }, { touchpoint: 'Checkout', unit: 'Care North' });
  for (let i = 0; i < 8; i++) assert.equal((await track(srv, '/v1/identify', { userId: `p${i}`, traits: { club: 'p' } })).status, 200);
  segment = ok(await api(srv, '/segments', { method: 'POST', body: { name: 'Promoters p', rule: 'traits.club == "p"' } }), 201);
});

after(async () => {
  const r = await srv.stop();
  srv.cleanup();
  await smtp.close();
  receiver.close();
  assert.equal(r.code, 0);
});

async function create(body, status = 201) {
  return ok(await api(srv, '/targets', { method: 'POST', body: { owner, min_n: 3, alert: 'none', ...body } }), status);
}

async function metric(kind, query) {
  return ok(await api(srv, `/metrics/${kind}?${new URLSearchParams(query)}`));
}

const group = (m, key) => m.groups.find((g) => g.key === key);

test('targets at each scope measure what GET /metrics measures for the same answers', async () => {
  const company = await create({ kpi: 'nps', target: 10 });
  const all = await metric('nps', {});
  assert.equal(company.value, all.nps);
  assert.equal(company.n, all.n);
  assert.equal(company.n, 15);
  assert.equal(company.status, all.nps >= 10 ? 'on' : 'off');
  assert.equal(company.scope_label, 'Company');
  assert.equal(company.owner_name, 'Olga Owner');

  const tp = await create({ kpi: 'nps', scope: 'touchpoint', scope_value: 'Checkout', target: 50 });
  const byTp = await metric('nps', { by: 'touchpoint' });
  assert.equal(tp.value, group(byTp, 'Checkout').nps);
  assert.equal(tp.n, 8);
  assert.equal(tp.status, 'on');

  // a unit's subtree: Care's own answers and Care North's
  const unit = await create({ kpi: 'nps', scope: 'unit', scope_value: care, target: 0 });
  const byUnit = await metric('nps', { by: 'unit' });
  const c = group(byUnit, 'Care'), n = group(byUnit, 'Care North');
  assert.equal(unit.n, c.n + n.n);
  assert.ok(Math.abs(unit.value - 100 * (n.promoters + c.promoters - n.detractors - c.detractors) / (c.n + n.n)) < 0.01, String(unit.value));
  assert.equal(unit.scope_label, 'Care');
  const leaf = await create({ kpi: 'csat', scope: 'unit', scope_value: north, target: 80 });
  assert.equal(leaf.value, group(await metric('csat', { by: 'unit' }), 'Care North').csat);

  // a journey: its touchpoints' answers (Checkout and Delivery, not the app)
  const journey = await create({ kpi: 'nps', scope: 'journey', scope_value: map, target: 0 });
  assert.equal(journey.n, 11);
  assert.equal(journey.scope_label, 'Buying');

  const sv = await create({ kpi: 'ces', scope: 'survey', scope_value: csatSurvey, target: 3.5, direction: 'lower' });
  const ces = await metric('ces', { survey: csatSurvey });
  assert.equal(sv.value, ces.ces);
  assert.equal(sv.direction, 'lower');
  assert.equal(sv.status, ces.ces <= 3.5 ? 'on' : 'off');

  const seg = await create({ kpi: 'nps', scope: 'segment', scope_value: segment.id, target: 90 });
  const bySeg = await metric('nps', { by: 'segment' });
  assert.equal(seg.value, group(bySeg, 'Promoters p').nps);
  assert.equal(seg.n, 8);

  // below min_n: unknown
  const few = await create({ kpi: 'nps', scope: 'touchpoint', scope_value: 'App home', target: 0, min_n: 30 });
  assert.equal(few.status, 'unknown');
  assert.equal(few.n, 4);
  // a rate: the company's churn, counted over customers
  const churn = await create({ kpi: 'churn_rate', target: 0.1, min_n: 1 });
  assert.equal(churn.direction, 'lower');

  const card = ok(await api(srv, '/scorecard'));
  assert.ok(card.targets.length >= 9);
  const row = card.targets.find((t) => t.id === tp.id);
  assert.equal(row.value, tp.value);
  assert.equal(row.owner_name, 'Olga Owner');
  assert.ok(Array.isArray(row.series) && row.series.length >= 1);
  assert.equal(card.summary.on + card.summary.off + card.summary.unknown, card.targets.length);
  // a viewer reads the scorecard; it may not add a target
  for (const id of [company, unit, leaf, journey, sv, seg, few, churn].map((t) => t.id))
    assert.equal((await api(srv, `/targets/${id}`, { method: 'DELETE' })).status, 204);
  assertError(await api(srv, `/targets/${company.id}`), 404, 'target_not_found', 'id');
  assert.equal((await api(srv, `/targets/${tp.id}`, { method: 'DELETE' })).status, 204);
});

test('off target: exactly one e-mail to the owner and one signed webhook per transition, across a restart', async () => {
  const t = await create({ kpi: 'nps', scope: 'touchpoint', scope_value: 'Checkout', target: 30, alert: 'both',
    webhook_url: hookUrl });
  assert.equal(t.status, 'on');
  assert.equal(t.value, 100);
  await sleep(500); // ticks while on: no alert
  assert.equal(mailsTo(smtp, OWNER).length, 0);
  // detractors at Checkout push NPS to (8 - 12) / 20 = -20
  for (let i = 0; i < 12; i++) await respond(survey, `x${i}`, { q1: 1 }, { touchpoint: 'Checkout' });
  const now = ok(await api(srv, `/targets/${t.id}`));
  assert.equal(now.value, -20);
  assert.equal(now.status, 'off');
  const [mail] = await until('the alert mail', () => mailsTo(smtp, OWNER).length && mailsTo(smtp, OWNER));
  await until('the webhook', () => hooks.length);
  await sleep(800); // more ticks while off: nothing more
  const mails = mailsTo(smtp, OWNER);
  assert.equal(mails.length, 1, mails.map((m) => m.headers.subject).join('\n'));
  assert.equal(hooks.length, 1);
  assert.match(mail.headers.subject, /NPS/);
  assert.match(mail.headers.subject, /Checkout/);
  // the value the tick saw (it may have come while the detractors arrived): off, in subject and body
  const seen = Number(mail.body.match(/Value:\s+(-?[0-9.]+)/)[1]);
  assert.ok(seen < 30, mail.body);
  assert.ok(mail.headers.subject.includes(`is ${seen.toFixed(1)} (target >= 30.0)`), mail.headers.subject);
  assert.match(mail.body, /KPI:\s+NPS/);
  assert.match(mail.body, /Scope:\s+Touchpoint Checkout/);
  assert.match(mail.body, /Target: >= 30\.0/);
  assert.ok(mail.body.includes(`${srv.url}/#/scorecard`), mail.body);
  // the webhook: signed with the outbox's secret, the target in its body
  const secret = ok(await api(srv, '/outbox/webhook-secret')).secret;
  const h = hooks[0];
  assert.equal(h.headers['x-cxm-event'], 'kpi.off_target');
  const expect = 'sha256=' + createHmac('sha256', secret).update(`${h.headers['x-cxm-timestamp']}.${h.body}`).digest('hex');
  assert.equal(h.headers['x-cxm-signature'], expect);
  const body = JSON.parse(h.body);
  assert.equal(body.event, 'kpi.off_target');
  assert.equal(body.target.id, t.id);
  assert.ok(Math.abs(body.target.value - seen) <= 0.05, `${body.target.value} vs ${seen}`); // the mail rounds to 0.1
  assert.equal(body.target.status, 'off');
  // the history: the baseline, the checks, and the one transition
  const hist = ok(await api(srv, `/targets/${t.id}/history`));
  assert.equal(hist.history[0].status, 'on');
  assert.equal(hist.history.at(-1).status, 'off');
  assert.deepEqual(hist.transitions.map((x) => `${x.from}>${x.to}`), ['on>off']);
  // a restart: the status was stored with the alert, so no second alert
  const { data, creds } = srv;
  assert.equal((await srv.stop()).code, 0);
  srv = await startServer(serveOpts(data, creds));
  await sleep(800);
  assert.equal(mailsTo(smtp, OWNER).length, 1);
  assert.equal(hooks.length, 1);
  assert.equal(ok(await api(srv, `/targets/${t.id}`)).checked_status, 'off');
  // back on (a lower target: a new baseline, no alert), then off again: one more
  const patched = ok(await api(srv, `/targets/${t.id}`, { method: 'PATCH', body: { target: -50 } }));
  assert.equal(patched.status, 'on');
  assert.equal(patched.target, -50);
  await sleep(400);
  for (let i = 12; i < 40; i++) await respond(survey, `x${i}`, { q1: 0 }, { touchpoint: 'Checkout' });
  await until('the second alert', () => mailsTo(smtp, OWNER).length === 2 && hooks.length === 2);
  await sleep(600);
  assert.equal(mailsTo(smtp, OWNER).length, 2);
  assert.equal(hooks.length, 2);
  // the audit recorded the target's changes with before and after
  const audit = ok(await api(srv, `/audit?target=target:${t.id}`));
  const mine = audit.entries.filter((e) => e.target === `target:${t.id}`);
  assert.deepEqual(mine.map((e) => e.action).sort(), ['target.create', 'target.update']);
  assert.equal(mine.find((e) => e.action === 'target.update').before.target, 30);
  assert.equal((await api(srv, `/targets/${t.id}`, { method: 'DELETE' })).status, 204);
});

test('bad input: 400 naming the field, and nothing stored', async () => {
  const before = ok(await api(srv, '/targets')).targets.length;
  const disabled = ok(await api(srv, '/users', { method: 'POST', body: { email: 'gone@acme.example', name: 'Gone',
    password: 'a long password', role: 'viewer' } }), 201).id;
  ok(await api(srv, `/users/${disabled}`, { method: 'PATCH', body: { disabled: true } }));
  const base = { kpi: 'nps', owner, target: 30 };
  const cases = [
    [{ ...base, kpi: 'happiness' }, 'kpi'],
    [{ ...base, scope: 'galaxy' }, 'scope'],
    [{ ...base, scope: 'unit' }, 'scope_value'],
    [{ ...base, scope: 'unit', scope_value: '99999' }, 'scope_value'],
    [{ ...base, scope: 'journey', scope_value: '99999' }, 'scope_value'],
    [{ ...base, scope: 'segment', scope_value: '99999' }, 'scope_value'],
    [{ ...base, scope: 'survey', scope_value: '99999' }, 'scope_value'],
    [{ ...base, scope: 'touchpoint', scope_value: 'Nowhere at all' }, 'scope_value'],
    [{ ...base, kpi: 'churn_rate', target: 0.1, scope: 'unit', scope_value: care }, 'scope'],
    [{ ...base, kpi: 'repeat_rate', target: 0.1, scope: 'touchpoint', scope_value: 'Checkout' }, 'scope'],
    [{ ...base, owner: '99999' }, 'owner'],
    [{ ...base, owner: disabled }, 'owner'],
    [{ ...base, owner: undefined }, 'owner'],
    [{ ...base, target: 101 }, 'target'],
    [{ ...base, target: -101 }, 'target'],
    [{ ...base, kpi: 'csat', target: 101 }, 'target'],
    [{ ...base, kpi: 'ces', target: 8 }, 'target'],
    [{ ...base, kpi: 'ces', target: 0 }, 'target'],
    [{ ...base, kpi: 'loyalty_rate', target: 1.5 }, 'target'],
    [{ ...base, target: 'high' }, 'target'],
    [{ ...base, direction: 'sideways' }, 'direction'],
    [{ ...base, period_days: 0 }, 'period_days'],
    [{ ...base, period_days: 367 }, 'period_days'],
    [{ ...base, period_days: '30' }, 'period_days'],
    [{ ...base, min_n: 0 }, 'min_n'],
    [{ ...base, alert: 'pigeon' }, 'alert'],
    [{ ...base, alert: 'webhook' }, 'webhook_url'],
    [{ ...base, alert: 'webhook', webhook_url: 'javascript:alert(1)' }, 'webhook_url'],
    [{ ...base, colour: 'red' }, 'colour'],
  ];
  for (const [body, field] of cases) {
    const r = await api(srv, '/targets', { method: 'POST', body });
    assertError(r, 400, 'invalid_field', field);
  }
  assertError(await api(srv, '/targets', { method: 'POST', body: '[1]' }), 400, 'malformed_json', null);
  // a PATCH that fails changes nothing
  const t = await create({ kpi: 'nps', target: 5 });
  assertError(await api(srv, `/targets/${t.id}`, { method: 'PATCH', body: { target: 500 } }), 400, 'invalid_field', 'target');
  assertError(await api(srv, `/targets/${t.id}`, { method: 'PATCH', body: { kpi: 'churn_rate', scope: 'survey', scope_value: survey } }), 400, 'invalid_field', 'scope');
  assertError(await api(srv, `/targets/${t.id}`, { method: 'PATCH', body: { kpi: 'churn_rate' } }), 400, 'invalid_field', 'target');
  assert.equal(ok(await api(srv, `/targets/${t.id}`)).target, 5);
  assertError(await api(srv, '/targets/99999', { method: 'PATCH', body: { target: 1 } }), 404, 'target_not_found', 'id');
  assertError(await api(srv, '/targets/abc'), 404, 'target_not_found', 'id');
  assertError(await api(srv, '/targets/99999/history'), 404, 'target_not_found', 'id');
  assert.equal((await api(srv, `/targets/${t.id}`, { method: 'DELETE' })).status, 204);
  assert.equal(ok(await api(srv, '/targets')).targets.length, before);
});
