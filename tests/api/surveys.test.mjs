// Surveys, responses and the NPS/CSAT/CES metrics (docs/surveys.md,
// docs/feedback-metrics.md) against a live server: a survey is checked
// whole; responses are checked against it and go through the ingest
// pipeline; the metrics are recomputed here from the answers sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, track, api } from './server.mjs';
import { uid, assertError, customerByUser, allEvents } from './helpers.mjs';

const D = 24 * 3600_000;
const iso = (ms) => new Date(ms).toISOString();
let srv;

const SURVEY = {
  name: 'Relationship NPS',
  language: 'en',
  title: { en: 'Your opinion', de: 'Ihre Meinung' },
  questions: [
    { id: 'q1', type: 'nps', text: { en: 'How likely are you to recommend us?', de: 'Wie wahrscheinlich…?' } },
    { id: 'q2', type: 'text', text: 'What is the main reason?', required: false, show_if: 'answers.q1 <= 6' },
    { id: 'q3', type: 'choice', text: 'Which did you use?', options: ['web', 'store', { id: 'phone', text: 'Phone' }], multiple: true, required: false },
    { id: 'q4', type: 'csat', text: 'How satisfied were you?', required: false },
    { id: 'q5', type: 'ces', text: 'It was easy', required: false },
    { id: 'q6', type: 'rating', scale: 4, text: 'Rate the app', required: false },
  ],
};

before(async () => { srv = await startServer(); });
after(async () => {
  if (srv) {
    assert.equal((await srv.stop()).code, 0);
    srv.cleanup();
  }
});

async function respond(id, body) { return api(srv, `/surveys/${id}/responses`, { method: 'POST', body }); }
async function count(id) {
  let n = 0;
  let cursor = null;
  do {
    const r = await api(srv, `/surveys/${id}/responses?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200, r.text);
    n += r.json.responses.length;
    cursor = r.json.next_cursor;
  } while (cursor);
  return n;
}

let sid;

test('create: the survey comes back checked, normalised, live, version 1', async () => {
  const r = await api(srv, '/surveys', { method: 'POST', body: SURVEY });
  assert.equal(r.status, 201, r.text);
  sid = r.json.id;
  assert.equal(r.json.status, 'live');
  assert.equal(r.json.version, 1);
  assert.equal(r.json.kind, 'customer');
  assert.equal(r.json.link, `/s/${sid}`);
  assert.deepEqual(r.json.questions[2].options, [{ id: 'web', text: 'web' }, { id: 'store', text: 'store' }, { id: 'phone', text: 'Phone' }]);
  assert.equal(r.json.questions[0].required, true);
  assert.equal(r.json.questions[1].required, false);
  const l = await api(srv, '/surveys');
  assert.equal(l.json.surveys.length, 1);
  assert.deepEqual(l.json.surveys[0].types, ['nps', 'text', 'choice', 'csat', 'ces', 'rating']);
  assertError(await api(srv, '/surveys', { method: 'POST', body: SURVEY }), 409, 'survey_exists', 'name');
});

test('bad surveys: a 400 naming the field, and nothing saved', async () => {
  const q = (over) => ({ name: uid('s'), questions: [{ id: 'q1', type: 'nps', text: 'x' }, { id: 'q2', type: 'text', text: 'y', ...over }] });
  const cases = [
    [{ name: '', questions: SURVEY.questions }, 'invalid_field', 'name'],
    [{ name: 'x', questions: [] }, 'invalid_field', 'questions'],
    [{ name: 'x', questions: SURVEY.questions, colour: 'red' }, 'invalid_field', 'colour'],
    [{ name: 'x', kind: 'partner', questions: SURVEY.questions }, 'invalid_field', 'kind'],
    [q({ type: 'stars' }), 'invalid_field', 'questions[1].type'],
    [q({ id: 'q1' }), 'invalid_field', 'questions[1].id'],
    [q({ id: 'bad id' }), 'invalid_field', 'questions[1].id'],
    [q({ id: 'page' }), 'invalid_field', 'questions[1].id'],
    [q({ id: 'lang' }), 'invalid_field', 'questions[1].id'],
    [q({ text: '' }), 'invalid_field', 'questions[1].text'],
    [q({ text: { english: 'x' } }), 'invalid_field', 'questions[1].text'],
    [q({ required: 'yes' }), 'invalid_field', 'questions[1].required'],
    [q({ show_if: 'answers.q3 > 1' }), 'invalid_rule', 'questions[1].show_if'],
    [q({ show_if: 'answers.q1 <=' }), 'invalid_rule', 'questions[1].show_if'],
    [q({ show_if: 'traits.plan == "pro"' }), 'invalid_rule', 'questions[1].show_if'],
    [q({ show_if: 'answers.q1 + 1' }), 'invalid_rule', 'questions[1].show_if'],
    [q({ type: 'rating', scale: 11 }), 'invalid_field', 'questions[1].scale'],
    [q({ type: 'nps', scale: 5 }), 'invalid_field', 'questions[1].scale'],
    [q({ type: 'choice', options: ['a'] }), 'invalid_field', 'questions[1].options'],
    [q({ type: 'choice', options: ['a', 'a'] }), 'invalid_field', 'questions[1].options[1]'],
    [q({ options: ['a', 'b'] }), 'invalid_field', 'questions[1].options'],
    [{ name: 'x', questions: [{ id: 'q1', type: 'nps', text: 'x', show_if: 'answers.q1 > 1' }] }, 'invalid_field', 'questions[0].show_if'],
  ];
  for (const [body, code, field] of cases) assertError(await api(srv, '/surveys', { method: 'POST', body }), 400, code, field);
  const mal = await fetch(srv.url + '/api/v1/surveys', { method: 'POST', headers: { authorization: `Bearer ${srv.adminToken}` }, body: '{"name":' });
  assert.equal(mal.status, 400);
  assert.equal((await api(srv, '/surveys')).json.surveys.length, 1);
});

test('responses: checked against the survey, resolved to the customer, on the timeline', async () => {
  const user = uid('u');
  const r = await respond(sid, { customer: { user_id: user }, answers: { q1: 3, q2: 'Waited on hold for 40 minutes', q3: ['web', 'phone'] }, context: { channel: 'phone', agent: 'ana' } });
  assert.equal(r.status, 201, r.text);
  assert.match(r.json.id, /^\d+$/);
  const c = await customerByUser(srv, user);
  assert.equal(r.json.customer_id, c.id);
  const ev = (await allEvents(srv, c.id)).events.find((e) => e.event === 'Survey Responded');
  assert.ok(ev, 'the response is on the timeline');
  assert.equal(ev.properties.nps, 3);
  assert.equal(ev.properties.survey_id, sid);
  assert.equal(ev.properties.channel, 'phone');
  assert.equal(ev.properties.answers.q2, true, 'the text stays in the response, not the event');
  const l = await api(srv, `/surveys/${sid}/responses`);
  assert.deepEqual(l.json.responses[0].answers, { q1: 3, q2: 'Waited on hold for 40 minutes', q3: ['web', 'phone'] });
  assert.deepEqual(l.json.responses[0].context, { channel: 'phone', agent: 'ana' });
  assert.equal(l.json.responses[0].survey_version, 1);
  // e-mail alone joins the customer who has that e-mail
  const u2 = uid('u');
  const email = `${u2}@example.com`;
  assert.equal((await track(srv, '/v1/identify', { userId: u2, traits: { email } })).status, 200);
  const r2 = await respond(sid, { customer: { email: email.toUpperCase() }, answers: { q1: 10 } });
  assert.equal(r2.status, 201, r2.text);
  assert.equal(r2.json.customer_id, (await customerByUser(srv, u2)).id);
});

test('bad responses: the right error naming the field, and nothing stored', async () => {
  const before = await count(sid);
  const who = { user_id: uid('u') };
  const cases = [
    [{ customer: who, answers: { q1: 11 } }, 'out_of_range', 'answers.q1'],
    [{ customer: who, answers: { q1: -1 } }, 'out_of_range', 'answers.q1'],
    [{ customer: who, answers: { q1: 7.5 } }, 'out_of_range', 'answers.q1'],
    [{ customer: who, answers: { q1: '9' } }, 'wrong_type', 'answers.q1'],
    [{ customer: who, answers: { q1: 9, q4: 6 } }, 'out_of_range', 'answers.q4'],
    [{ customer: who, answers: { q1: 9, q5: 0 } }, 'out_of_range', 'answers.q5'],
    [{ customer: who, answers: { q1: 9, q6: 5 } }, 'out_of_range', 'answers.q6'],
    [{ customer: who, answers: { q1: 9, q3: 'web' } }, 'wrong_type', 'answers.q3'],
    [{ customer: who, answers: { q1: 9, q3: ['fax'] } }, 'unknown_option', 'answers.q3'],
    [{ customer: who, answers: { q1: 9, q3: ['web', 'web'] } }, 'invalid_answer', 'answers.q3'],
    [{ customer: who, answers: { q1: 9, q9: 1 } }, 'unknown_question', 'answers'],
    [{ customer: who, answers: { q4: 5 } }, 'missing_answer', 'answers.q1'],
    [{ customer: who, answers: { q1: 9, q2: 'great' } }, 'not_asked', 'answers.q2'],
    [{ customer: who, answers: { q1: 2, q2: 'x'.repeat(10001) } }, 'too_long', 'answers.q2'],
    [{ customer: who, answers: { q1: 2, q2: 42 } }, 'wrong_type', 'answers.q2'],
    [{ customer: who, answers: [9] }, 'invalid_field', 'answers'],
    [{ customer: {}, answers: { q1: 9 } }, 'missing_identity', 'customer'],
    [{ customer: { user_id: 7 }, answers: { q1: 9 } }, 'wrong_type', 'customer'],
    [{ customer: { user_id: 'x'.repeat(300) }, answers: { q1: 9 } }, 'invalid_field', 'customer.user_id'],
    [{ customer: who, answers: { q1: 9 }, context: { channel: '' } }, 'invalid_field', 'context.channel'],
    [{ customer: who, answers: { q1: 9 }, context: { colour: 'red' } }, 'invalid_field', 'context'],
    [{ customer: who, answers: { q1: 9 }, submitted_at: 'yesterday' }, 'invalid_field', 'submitted_at'],
    [{ customer: who, answers: { q1: 9 }, submitted_at: iso(Date.now() + 2 * D) }, 'invalid_field', 'submitted_at'],
    [{ customer: who, answers: { q1: 9 }, score: 9 }, 'invalid_field', 'score'],
  ];
  for (const [body, code, field] of cases) assertError(await respond(sid, body), 400, code, field);
  // a 10,000-character text (in characters, not bytes) is fine
  const ok = await respond(sid, { customer: who, answers: { q1: 1, q2: 'é'.repeat(10000) } });
  assert.equal(ok.status, 201, ok.text);
  assertError(await respond(999, { customer: who, answers: { q1: 9 } }), 404, 'survey_not_found', 'id');
  assertError(await api(srv, `/surveys/${sid}/responses`, { method: 'POST', body: { customer: who, answers: { q1: 9 } }, token: 'nope' }), 401, 'unauthorized');
  assert.equal(await count(sid), before + 1);
});

test('responses in bulk: all stored in one go, or none when one is bad', async () => {
  const before = await count(sid);
  const ok = Array.from({ length: 300 }, (_, i) => ({ customer: { user_id: `bulk-${i}` }, answers: { q1: i % 11 }, submitted_at: iso(Date.now() - i * D) }));
  const r = await api(srv, `/surveys/${sid}/responses/batch`, { method: 'POST', body: { responses: ok } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.ids.length, 300);
  assert.equal(new Set(r.json.ids).size, 300);
  assert.equal(await count(sid), before + 300);
  const bad = [...ok.slice(0, 5), { customer: { user_id: 'x' }, answers: { q1: 12 } }];
  assertError(await api(srv, `/surveys/${sid}/responses/batch`, { method: 'POST', body: { responses: bad } }), 400, 'out_of_range', 'responses[5].answers.q1');
  assertError(await api(srv, `/surveys/${sid}/responses/batch`, { method: 'POST', body: { responses: [] } }), 400, 'invalid_field', 'responses');
  assertError(await api(srv, `/surveys/${sid}/responses/batch`, { method: 'POST', body: { responses: [{ customer: {}, answers: { q1: 1 } }] } }), 400, 'missing_identity', 'responses[0].customer');
  assert.equal(await count(sid), before + 300, 'nothing of a refused batch is stored');
});

test('editing a live survey makes a new version; answers keep theirs', async () => {
  const v2 = { ...SURVEY, questions: [...SURVEY.questions, { id: 'q7', type: 'text', text: 'Anything else?', required: false }] };
  const r = await api(srv, `/surveys/${sid}`, { method: 'PUT', body: v2 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.version, 2);
  const a = await respond(sid, { customer: { user_id: uid('u') }, answers: { q1: 8, q7: 'no' } });
  assert.equal(a.status, 201, a.text);
  const l = (await api(srv, `/surveys/${sid}/responses?limit=50`)).json.responses;
  assert.equal(l[0].survey_version, 2);
  assert.equal(l.at(-1).survey_version, 1);
  const old = await api(srv, `/surveys/${sid}?version=1`);
  assert.equal(old.json.questions.length, 6);
  assert.equal(old.json.latest_version, 2);
  assertError(await api(srv, `/surveys/${sid}?version=9`), 404, 'survey_not_found', 'id');
});

test('drafts change in place and take no answers; closed surveys take none; one with answers is not deleted', async () => {
  const d = await api(srv, '/surveys', { method: 'POST', body: { name: uid('draft'), status: 'draft', questions: [{ id: 'q1', type: 'csat', text: 'x' }] } });
  assert.equal(d.status, 201, d.text);
  assert.equal(d.json.status, 'draft');
  const e = await api(srv, `/surveys/${d.json.id}`, { method: 'PUT', body: { name: d.json.name, questions: [{ id: 'q1', type: 'csat', text: 'y' }] } });
  assert.equal(e.json.version, 1);
  assert.equal(e.json.questions[0].text, 'y');
  assertError(await respond(d.json.id, { customer: { user_id: 'x' }, answers: { q1: 5 } }), 409, 'survey_not_live', 'survey');
  assert.equal((await api(srv, `/surveys/${d.json.id}/publish`, { method: 'POST' })).json.status, 'live');
  assert.equal((await respond(d.json.id, { customer: { user_id: 'x' }, answers: { q1: 5 } })).status, 201);
  assert.equal((await api(srv, `/surveys/${d.json.id}/close`, { method: 'POST' })).json.status, 'closed');
  assertError(await respond(d.json.id, { customer: { user_id: 'x' }, answers: { q1: 4 } }), 409, 'survey_closed', 'survey');
  assertError(await api(srv, `/surveys/${d.json.id}/unpublish`, { method: 'POST' }), 409, 'has_responses', 'status');
  assertError(await api(srv, `/surveys/${d.json.id}`, { method: 'DELETE' }), 409, 'has_responses', 'id');
  const gone = await api(srv, '/surveys', { method: 'POST', body: { name: uid('gone'), questions: [{ id: 'q1', type: 'ces', text: 'x' }] } });
  assert.equal((await api(srv, `/surveys/${gone.json.id}`, { method: 'DELETE' })).status, 204);
  assertError(await api(srv, `/surveys/${gone.json.id}`), 404, 'survey_not_found', 'id');
});

// ---- metrics, recomputed here ----

function npsOf(scores) {
  const n = scores.length;
  const p = scores.filter((s) => s >= 9).length;
  const d = scores.filter((s) => s <= 6).length;
  const m = (p - d) / n;
  const se = Math.sqrt(((p + d) / n - m * m) / n);
  return { nps: 100 * m, n, promoters: p, detractors: d, passives: n - p - d, lo: 100 * Math.max(-1, m - 1.959964 * se), hi: 100 * Math.min(1, m + 1.959964 * se), m, v: (p + d) / n - m * m };
}
const near = (a, b, what) => assert.ok(Math.abs(a - b) < Math.max(0.01, Math.abs(b) * 1e-3), `${what}: ${a} vs ${b}`);

test('metrics: NPS, CSAT and CES with their intervals, breakdown, series and a two-period test', async () => {
  const s = await api(srv, '/surveys', { method: 'POST', body: { name: uid('metrics'), questions: [
    { id: 'n', type: 'nps', text: 'x' }, { id: 'c', type: 'csat', text: 'y' }, { id: 'e', type: 'ces', text: 'z' }] } });
  const id = s.json.id;
  // a deterministic spread over two quarters and three channels
  const T = Date.parse('2026-01-15T10:00:00Z');
  const rows = [];
  let x = 7;
  for (let i = 0; i < 240; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const nps = x % 11;
    const q2 = i >= 120; // the second quarter does better
    const score = q2 ? Math.min(10, nps + 2) : nps;
    rows.push({ at: T + (q2 ? 91 : 0) * D + (i % 60) * D / 2, nps: score, csat: 1 + (x >> 4) % 5, ces: 1 + (x >> 8) % 7, channel: ['web', 'store', 'phone'][i % 3] });
  }
  for (const r of rows) {
    const a = await respond(id, { customer: { user_id: uid('m') }, answers: { n: r.nps, c: r.csat, e: r.ces }, context: { channel: r.channel }, submitted_at: iso(r.at) });
    assert.equal(a.status, 201, a.text);
  }
  const all = npsOf(rows.map((r) => r.nps));
  const m = (await api(srv, `/metrics/nps?survey=${id}&by=channel&interval=quarter`)).json;
  near(m.nps, all.nps, 'nps');
  assert.equal(m.n, 240);
  assert.equal(m.promoters, all.promoters);
  assert.equal(m.detractors, all.detractors);
  near(m.ci95[0], all.lo, 'ci lo');
  near(m.ci95[1], all.hi, 'ci hi');
  const quarterEnd = (lo) => (lo === Date.parse('2026-01-01') ? Date.parse('2026-04-01') : Date.parse('2026-07-01'));
  for (const g of m.groups) {
    const e = npsOf(rows.filter((r) => r.channel === g.key).map((r) => r.nps));
    near(g.nps, e.nps, `nps of ${g.key}`);
    assert.equal(g.n, e.n);
    // by and interval together: each group's own series
    assert.equal(g.series.length, 2);
    for (const b of g.series) {
      const lo = Date.parse(b.start);
      const cell = rows.filter((r) => r.channel === g.key && r.at >= lo && r.at < quarterEnd(lo)).map((r) => r.nps);
      assert.equal(b.n, cell.length);
      near(b.nps, npsOf(cell).nps, `nps of ${g.key} in ${b.start}`);
    }
  }
  assert.equal(m.groups.length, 3);
  assert.deepEqual(m.series.map((b) => b.start), ['2026-01-01T00:00:00.000Z', '2026-04-01T00:00:00.000Z']);
  for (const b of m.series) {
    const lo = Date.parse(b.start);
    const hi = lo === Date.parse('2026-01-01') ? Date.parse('2026-04-01') : Date.parse('2026-07-01');
    near(b.nps, npsOf(rows.filter((r) => r.at >= lo && r.at < hi).map((r) => r.nps)).nps, `nps of ${b.start}`);
  }
  // the second quarter against the first: a z test on the +1/0/-1 means
  const q1 = npsOf(rows.slice(0, 120).map((r) => r.nps)), q2 = npsOf(rows.slice(120).map((r) => r.nps));
  const z = (q2.m - q1.m) / Math.sqrt(q2.v / q2.n + q1.v / q1.n);
  const cmp = (await api(srv, `/metrics/nps?survey=${id}&from=2026-04-01&to=2026-07-01&compare_from=2026-01-01&compare_to=2026-04-01`)).json;
  near(cmp.nps, q2.nps, 'q2');
  near(cmp.compare.nps, q1.nps, 'q1');
  near(cmp.compare.change, q2.nps - q1.nps, 'change');
  near(cmp.compare.z, z, 'z');
  assert.equal(cmp.compare.significant, cmp.compare.p_value < 0.05);
  // CSAT: % of 4 and 5, Wilson interval
  const cs = rows.map((r) => r.csat), sat = cs.filter((v) => v >= 4).length, n = cs.length, ph = sat / n, z2 = 1.959964 ** 2;
  const c = (ph + z2 / (2 * n)) / (1 + z2 / n), w = 1.959964 * Math.sqrt(ph * (1 - ph) / n + z2 / (4 * n * n)) / (1 + z2 / n);
  const csat = (await api(srv, `/metrics/csat?survey=${id}`)).json;
  near(csat.csat, 100 * ph, 'csat');
  assert.equal(csat.satisfied, sat);
  near(csat.ci95[0], 100 * (c - w), 'csat lo');
  near(csat.ci95[1], 100 * (c + w), 'csat hi');
  // CES: the mean, and the share who agree (5 to 7)
  const es = rows.map((r) => r.ces), mean = es.reduce((a, b) => a + b) / n;
  const ces = (await api(srv, `/metrics/ces?survey=${id}`)).json;
  near(ces.ces, mean, 'ces');
  near(ces.agree_pct, 100 * es.filter((v) => v >= 5).length / n, 'agree');
  // no answers: null, not 0
  const none = (await api(srv, `/metrics/nps?survey=${id}&from=2020-01-01&to=2020-02-01`)).json;
  assert.equal(none.nps, null);
  assert.equal(none.n, 0);
  assert.equal(none.ci95, null);
});

test('metrics by a trait and by segment: the customers\' plan, and every segment they are in', async () => {
  const s = await api(srv, '/surveys', { method: 'POST', body: { name: uid('plans'), questions: [{ id: 'n', type: 'nps', text: 'x' }] } });
  const seg = await api(srv, '/segments', { method: 'POST', body: { name: uid('pro'), rule: 'traits.plan == "pro"' } });
  assert.equal(seg.status, 201, seg.text);
  const people = [['pro', 10], ['pro', 9], ['pro', 3], ['free', 2], ['free', 8], [null, 10]];
  for (const [plan, n] of people) {
    const u = uid('p');
    if (plan) assert.equal((await track(srv, '/v1/identify', { userId: u, traits: { plan } })).status, 200);
    assert.equal((await respond(s.json.id, { customer: { user_id: u }, answers: { n } })).status, 201);
  }
  const byPlan = (await api(srv, `/metrics/nps?survey=${s.json.id}&by=traits.plan`)).json;
  const g = Object.fromEntries(byPlan.groups.map((x) => [x.key, x]));
  assert.equal(g.pro.n, 3);
  assert.ok(Math.abs(g.pro.nps - 100 * (2 - 1) / 3) < 0.01);
  assert.equal(g.free.n, 2);
  assert.equal(g.free.nps, -50);
  assert.equal(g.null.n, 1, 'the customer without the trait');
  // segments are kept current within a second: wait for the member count
  for (let i = 0; i < 50; i++) {
    const m = await api(srv, `/segments/${seg.json.id}`);
    if (m.json.size >= 3) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const bySeg = (await api(srv, `/metrics/nps?survey=${s.json.id}&by=segment`)).json;
  const pro = bySeg.groups.find((x) => x.key === seg.json.name);
  assert.ok(pro, JSON.stringify(bySeg.groups));
  assert.equal(pro.n, 3);
  assert.ok(Math.abs(pro.nps - 100 / 3) < 0.01);
  const none = bySeg.groups.find((x) => x.key === null);
  assert.ok(none && none.n >= 3, 'customers in no segment');
});

test('metrics: bad parameters are refused', async () => {
  assertError(await api(srv, '/metrics/nps?by=colour'), 400, 'invalid_parameter', 'by');
  assertError(await api(srv, '/metrics/nps?by=traits.'), 400, 'invalid_parameter', 'by');
  assertError(await api(srv, '/metrics/nps?interval=year'), 400, 'invalid_parameter', 'interval');
  assertError(await api(srv, '/metrics/nps?from=soon'), 400, 'invalid_parameter', 'from');
  assertError(await api(srv, '/metrics/nps?from=2026-02-01&to=2026-01-01'), 400, 'invalid_parameter', 'to');
  assertError(await api(srv, '/metrics/nps?question=q1'), 400, 'invalid_parameter', 'question');
  assertError(await api(srv, `/metrics/nps?survey=${sid}&question=q4`), 400, 'wrong_type', 'question');
  assertError(await api(srv, `/metrics/nps?survey=${sid}&question=zz`), 400, 'unknown_question', 'question');
  assertError(await api(srv, '/metrics/nps?survey=999'), 400, 'unknown_survey', 'survey');
  assertError(await api(srv, '/metrics/nps?compare_from=2026-01-01'), 400, 'invalid_parameter', 'compare_to');
  assertError(await api(srv, '/metrics/nps?interval=day&from=2000-01-01&to=2026-01-01'), 400, 'invalid_parameter', 'interval');
  assertError(await api(srv, '/metrics/eps'), 404, 'not_found');
});

test('verbatims: each text answer with its sentiment and themes, filtered; themes with their NPS impact', async () => {
  const s = await api(srv, '/surveys', { method: 'POST', body: { name: uid('voice'), questions: [
    { id: 'n', type: 'nps', text: 'x' }, { id: 'why', type: 'text', text: 'Why?', required: false }] } });
  const id = s.json.id;
  const said = [
    [2, 'I was on hold for 40 minutes and then transferred three times. Terrible.'],
    [3, 'Delivery took two weeks and nobody told me why.'],
    [1, 'The refund still has not arrived after ten days.'],
    [10, 'Great quality and super fast delivery!'],
    [9, 'The support team was friendly and solved my problem quickly.'],
    [8, 'Good value.'],
    [10, null],
  ];
  for (const [n, text] of said) {
    const r = await respond(id, { customer: { user_id: uid('v') }, answers: text ? { n, why: text } : { n }, context: { channel: 'web' } });
    assert.equal(r.status, 201, r.text);
  }
  const all = (await api(srv, `/feedback?survey=${id}&limit=100`)).json;
  assert.equal(all.responses.length, 6, 'one verbatim per text answer');
  const byText = Object.fromEntries(all.responses.map((v) => [v.text, v]));
  assert.equal(byText['I was on hold for 40 minutes and then transferred three times. Terrible.'].sentiment.label, 'negative');
  assert.equal(byText['Great quality and super fast delivery!'].sentiment.label, 'positive');
  assert.equal(byText['Great quality and super fast delivery!'].score, 10);
  assert.equal(byText['Great quality and super fast delivery!'].score_type, 'nps');
  // a survey without NPS: the verbatim carries its CSAT
  const cs = await api(srv, '/surveys', { method: 'POST', body: { name: uid('csatv'), questions: [
    { id: 'c', type: 'csat', text: 'x' }, { id: 'w', type: 'text', text: 'y', required: false }] } });
  assert.equal((await respond(cs.json.id, { customer: { user_id: uid('c') }, answers: { c: 2, w: 'The agent was rude.' } })).status, 201);
  const [cv] = (await api(srv, `/feedback?survey=${cs.json.id}`)).json.responses;
  assert.equal(cv.score, 2);
  assert.equal(cv.score_type, 'csat');
  for (const v of all.responses) {
    assert.ok(v.sentiment.score >= -1 && v.sentiment.score <= 1);
    assert.equal(v.survey_id, id);
    assert.ok(Array.isArray(v.themes));
    assert.deepEqual(v.context, { channel: 'web' });
  }
  assert.ok(byText['Delivery took two weeks and nobody told me why.'].themes.includes('Delivery'));
  const neg = (await api(srv, `/feedback?survey=${id}&sentiment=negative`)).json.responses;
  assert.ok(neg.length >= 2 && neg.every((v) => v.sentiment.label === 'negative'));
  const del = (await api(srv, `/feedback?survey=${id}&theme=Delivery`)).json.responses;
  assert.ok(del.length >= 2 && del.every((v) => v.themes.includes('Delivery')));
  const words = (await api(srv, `/feedback?survey=${id}&q=${encodeURIComponent('on hold')}`)).json.responses;
  assert.deepEqual(words.map((v) => v.text), ['I was on hold for 40 minutes and then transferred three times. Terrible.']);
  assert.equal((await api(srv, `/feedback?survey=${id}&q=${encodeURIComponent('100%')}`)).json.responses.length, 0, 'LIKE wildcards are literal');
  // paging
  const p1 = (await api(srv, `/feedback?survey=${id}&limit=4`)).json;
  const p2 = (await api(srv, `/feedback?survey=${id}&limit=4&cursor=${p1.next_cursor}`)).json;
  assert.equal(p1.responses.length + p2.responses.length, 6);
  assert.equal(p2.next_cursor, null);
  // themes: NPS with and without, recomputed here
  const th = (await api(srv, `/feedback/themes?survey=${id}`)).json;
  assert.equal(th.n, 6);
  const d = th.themes.find((t) => t.name === 'Delivery');
  const withIt = all.responses.filter((v) => v.themes.includes('Delivery')).map((v) => v.score);
  const nps = (xs) => 100 * (xs.filter((x) => x >= 9).length - xs.filter((x) => x <= 6).length) / xs.length;
  assert.equal(d.volume, withIt.length);
  assert.ok(Math.abs(d.nps_with - nps(withIt)) < 0.01, `${d.nps_with} vs ${nps(withIt)}`);
  const without = all.responses.filter((v) => !v.themes.includes('Delivery')).map((v) => v.score);
  assert.ok(Math.abs(d.nps_without - nps(without)) < 0.01, `${d.nps_without} vs ${nps(without)}`);
  assert.ok(Array.isArray(d.phrases) && d.phrases.length > 0);
  assert.ok(th.catalogue.includes('Delivery'));
  for (let i = 1; i < th.themes.length; i++) assert.ok(th.themes[i - 1].volume >= th.themes[i].volume, 'biggest first');
  assertError(await api(srv, '/feedback?sentiment=angry'), 400, 'invalid_parameter', 'sentiment');
  assertError(await api(srv, '/feedback?theme=Weather'), 400, 'unknown_theme', 'theme');
  assertError(await api(srv, '/feedback?limit=0'), 400, 'invalid_parameter', 'limit');
  assertError(await api(srv, '/feedback/moods'), 404, 'not_found');
});

test('employee surveys: anonymous, out of the customers\' NPS; eNPS beside CX by unit with the correlation', async () => {
  const before = (await api(srv, '/stats')).json.customers;
  const allNps = (await api(srv, '/metrics/nps')).json.n;
  const e = await api(srv, '/surveys', { method: 'POST', body: { name: uid('pulse'), kind: 'employee', questions: [
    { id: 'enps', type: 'nps', text: 'How likely are you to recommend working here?' }, { id: 'why', type: 'text', text: 'Why?', required: false }] } });
  assert.equal(e.status, 201, e.text);
  assert.equal(e.json.kind, 'employee');
  const c = await api(srv, '/surveys', { method: 'POST', body: { name: uid('care'), questions: [{ id: 'c', type: 'csat', text: 'Satisfied?' }] } });
  // four teams: eNPS and the CSAT of the customers they served move together
  const teams = { North: [[10, 9, 9, 10, 8], [5, 5, 4, 5, 4]], South: [[9, 8, 7, 9, 9], [4, 5, 4, 4, 3]], East: [[6, 7, 5, 8, 6], [3, 4, 3, 3, 4]], West: [[2, 4, 6, 3, 5], [2, 1, 3, 2, 2]] };
  for (const [unit, [enps, csat]] of Object.entries(teams)) {
    for (const n of enps) {
      const rr = await respond(e.json.id, { answers: { enps: n }, context: { unit } });
      assert.equal(rr.status, 201, rr.text);
      assert.equal(rr.json.customer_id, null, 'anonymous');
    }
    for (const v of csat) assert.equal((await respond(c.json.id, { customer: { user_id: uid('cs') }, answers: { c: v }, context: { unit } })).status, 201);
  }
  assertError(await respond(e.json.id, { customer: { user_id: 'x' }, answers: { enps: 9 }, context: { unit: 'North' } }), 400, 'invalid_field', 'customer');
  assert.equal((await api(srv, '/stats')).json.customers, before + 20, 'employees are not customers: only the 20 CSAT answers made customers');
  assert.equal((await api(srv, '/metrics/nps')).json.n, allNps, 'eNPS answers stay out of the NPS of every survey');
  assert.ok((await api(srv, `/surveys/${e.json.id}/responses`)).json.responses.every((x) => x.customer_id === null));
  const en = (await api(srv, `/metrics/nps?survey=${e.json.id}&by=unit`)).json;
  assert.equal(en.n, 20);
  const x = (await api(srv, '/metrics/enps-cx?cx=csat&min_n=5')).json;
  assert.equal(x.units_compared, 4);
  const npsOfList = (xs) => 100 * (xs.filter((v) => v >= 9).length - xs.filter((v) => v <= 6).length) / xs.length;
  const pts = Object.entries(teams).map(([u, [a, b]]) => [npsOfList(a), 100 * b.filter((v) => v >= 4).length / b.length]);
  for (const [u, [a, b]] of Object.entries(teams)) {
    const row = x.units.find((r) => r.unit === u);
    assert.ok(Math.abs(row.enps - npsOfList(a)) < 0.01);
    assert.ok(Math.abs(row.cx - 100 * b.filter((v) => v >= 4).length / b.length) < 0.01);
    assert.equal(row.in_correlation, true);
  }
  const mx = pts.reduce((s, p) => s + p[0], 0) / 4, my = pts.reduce((s, p) => s + p[1], 0) / 4;
  const sxy = pts.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0);
  const r = sxy / Math.sqrt(pts.reduce((s, p) => s + (p[0] - mx) ** 2, 0) * pts.reduce((s, p) => s + (p[1] - my) ** 2, 0));
  assert.ok(Math.abs(x.correlation - r) < 1e-3, `${x.correlation} vs ${r}`);
  assert.ok(x.correlation > 0.8);
  assertError(await api(srv, '/metrics/enps-cx?cx=ces'), 400, 'invalid_parameter', 'cx');
});

test('journey maps: each touchpoint shows the scores given at it and the emotion they measure', async () => {
  const tp = uid('Checkout');
  const m = await api(srv, '/journey-maps', { method: 'POST', body: { name: uid('map'), state: 'current', stages: [
    { name: 'Purchase', touchpoints: [{ name: tp, expected_emotion: -1, binding: { event: 'Order Completed' } }, { name: uid('quiet') }] }] } });
  assert.equal(m.status, 201, m.text);
  const s = await api(srv, '/surveys', { method: 'POST', body: { name: uid('tp'), questions: [{ id: 'c', type: 'csat', text: 'x' }, { id: 'e', type: 'ces', text: 'y', required: false }] } });
  for (const [c, e] of [[5, 7], [4, 6], [2, 3], [5, null]])
    assert.equal((await respond(s.json.id, { customer: { user_id: uid('tp') }, answers: e ? { c, e } : { c }, context: { touchpoint: tp } })).status, 201);
  const g = (await api(srv, `/journey-maps/${m.json.id}`)).json;
  const [a, b] = g.stages[0].touchpoints;
  assert.equal(a.scores.csat_n, 4);
  assert.equal(a.scores.csat, 75);
  assert.equal(a.scores.ces_n, 3);
  assert.ok(Math.abs(a.scores.ces - 16 / 3) < 0.01);
  assert.equal(a.scores.nps, null);
  // measured emotion: the mean of CSAT (75 % -> +1) and CES (5.33 -> +0.89)
  assert.ok(Math.abs(a.scores.measured_emotion - (1 + (16 / 3 - 4) / 1.5) / 2) < 0.01, String(a.scores.measured_emotion));
  assert.equal(b.scores.csat_n, 0);
  assert.equal(b.scores.measured_emotion, null);
});

test('rules: response.* and answers.* are refused where they mean nothing', async () => {
  assertError(await api(srv, '/segments', { method: 'POST', body: { name: uid('s'), rule: 'response.nps <= 6' } }), 400, 'invalid_rule', 'rule');
});

test('kill -9: every acknowledged response is there after a restart, exactly once', async () => {
  const s = await api(srv, '/surveys', { method: 'POST', body: { name: uid('crash'), questions: [{ id: 'q', type: 'nps', text: 'x' }] } });
  const id = s.json.id;
  const acked = new Set();
  let stop = false;
  const worker = async (w) => {
    for (let i = 0; !stop; i++) {
      try {
        const r = await respond(id, { customer: { user_id: `crash-${w}-${i}` }, answers: { q: i % 11 } });
        if (r.status === 201) acked.add(r.json.id);
      } catch { return; }
    }
  };
  const workers = [0, 1, 2, 3].map(worker);
  await new Promise((r) => setTimeout(r, 600 + Math.random() * 600));
  await srv.kill();
  stop = true;
  await Promise.all(workers);
  assert.ok(acked.size > 0, 'some responses were acknowledged');
  const data = srv.data, creds = srv.creds;
  srv = await startServer({ data, creds });
  const ids = [];
  let cursor = null;
  do {
    const r = await api(srv, `/surveys/${id}/responses?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    ids.push(...r.json.responses.map((x) => x.id));
    cursor = r.json.next_cursor;
  } while (cursor);
  assert.equal(new Set(ids).size, ids.length, 'no response twice');
  for (const a of acked) assert.ok(ids.includes(a), `acknowledged response ${a} is stored`);
  const m = (await api(srv, `/metrics/nps?survey=${id}`)).json;
  assert.equal(m.n, ids.length, 'the index after the restart holds every stored response');
  const prom = await (await fetch(srv.url + '/metrics')).text();
  assert.match(prom, /^cxm_survey_responses \d+$/m);
  assert.match(prom, /^cxm_survey_scores \d+$/m);
});
