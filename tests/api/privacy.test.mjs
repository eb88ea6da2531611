// Privacy against a live server: the GDPR export (one JSON document of
// everything held about a customer, merged profiles included) and the
// erasure (the customer's identities, traits, events, survey answers and
// invitations leave the store, its files and the in-memory indexes),
// checked by searching every data file for the erased identifiers, then
// again after a restart; both recorded in the audit log without the data.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startServer, track, api } from './server.mjs';
import { assertError, customerByUser, storedBlocks } from './helpers.mjs';

let srv;
const ERASED = { user: 'erase-me-7f3a', anon: 'anon-erase-9b1c', email: 'erase.me.7f3a@example.com',
  name: 'Zebulon Erasable', words: 'my parcel zq-secret-4471 never came' };
const KEPT = { user: 'keep-me-2d8e', email: 'keep.me.2d8e@example.com', name: 'Kept Customer' };
let survey;

before(async () => {
  srv = await startServer();
  // the customer: an anonymous visit, then identified (a merge), traits, events
  const batch = [
    { type: 'page', anonymousId: ERASED.anon, name: 'Home' },
    { type: 'identify', userId: ERASED.user, traits: { email: ERASED.email, name: ERASED.name, plan: 'pro' } },
    { type: 'track', userId: ERASED.user, event: 'Order Completed', properties: { revenue: 42, note: 'zq-order-9911' } },
    { type: 'alias', userId: ERASED.user, previousId: ERASED.anon },
    { type: 'identify', userId: KEPT.user, traits: { email: KEPT.email, name: KEPT.name } },
    { type: 'track', userId: KEPT.user, event: 'Order Completed', properties: { revenue: 10 } },
  ];
  const r = await track(srv, '/v1/batch', { batch });
  assert.equal(r.status, 200, r.text);
  const s = await api(srv, '/surveys', { method: 'POST', body: { name: 'Privacy NPS', questions: [
    { id: 'q1', type: 'nps', text: 'How likely…?' }, { id: 'q2', type: 'text', text: 'Why?', required: false }] } });
  assert.equal(s.status, 201, s.text);
  survey = s.json.id;
  for (const [user, score, words] of [[ERASED.user, 2, ERASED.words], [KEPT.user, 10, 'all good']]) {
    const a = await api(srv, `/surveys/${survey}/responses`, { method: 'POST',
      body: { customer: { user_id: user }, answers: { q1: score, q2: words } } });
    assert.equal(a.status, 201, a.text);
  }
});

after(async () => {
  if (!srv) return;
  await srv.stop();
  srv.cleanup();
});

// The needles found in the data files' bytes, and in the events' bodies
// as the blocks hold them once unpacked (packed, a text may be partly a
// reference to earlier bytes, which a scan of the files does not see).
function filesHolding(dir, needles) {
  const found = [];
  for (const f of readdirSync(dir)) {
    if (f === 'cxm.lock') continue;
    const bytes = readFileSync(join(dir, f));
    for (const n of needles) if (bytes.indexOf(Buffer.from(n)) >= 0) found.push(`${n} in ${f}`);
  }
  for (const b of storedBlocks(join(dir, 'cxm.db')))
    for (const n of needles) if (b.indexOf(Buffer.from(n)) >= 0) found.push(`${n} in an event block`);
  return found;
}

test('export: one document of everything held, merged profiles included; audited without the data', async () => {
  const c = await customerByUser(srv, ERASED.user);
  const r = await api(srv, `/customers/${c.id}/export`);
  assert.equal(r.status, 200, r.text);
  const d = r.json;
  assert.equal(d.customer_id, c.id);
  assert.ok(d.profiles.length >= 1);
  const ids = d.identities.map((i) => i.value).sort();
  assert.deepEqual(ids, [ERASED.anon, ERASED.email, ERASED.user].sort());
  assert.ok(d.traits.some((t) => t.key === 'name' && t.value === ERASED.name));
  assert.equal(d.events.length, 5, 'page, identify, track, alias, and the survey response');
  assert.ok(d.events.some((e) => e.message.properties?.note === 'zq-order-9911'));
  assert.equal(d.survey_responses.length, 1);
  assert.equal(d.survey_responses[0].answers.q2, ERASED.words);
  assert.equal(d.verbatims[0].text, ERASED.words);
  assertError(await api(srv, '/customers/999999/export'), 404, 'customer_not_found', 'id');
  const a = (await api(srv, '/audit?action=customer.export')).json.entries;
  assert.equal(a.length, 1);
  assert.equal(a[0].target, `customers/${c.id}`);
  assert.equal(a[0].after, null);
});

test('erasure: gone from the API, the indexes and every data file; the rest untouched; audited without the data', async () => {
  const c = await customerByUser(srv, ERASED.user);
  const kept = await customerByUser(srv, KEPT.user);
  const before = (await api(srv, '/stats')).json;
  const npsBefore = (await api(srv, `/metrics/nps?survey=${survey}`)).json;
  assert.equal(npsBefore.n, 2);
  // before: the identifiers are in the files
  assert.ok(filesHolding(srv.data, [ERASED.email]).length > 0, 'the e-mail is stored before');
  // a property that is only in an event's body (a packed block)
  assert.ok(filesHolding(srv.data, ['zq-order-9911']).includes('zq-order-9911 in an event block'));

  const r = await api(srv, `/customers/${c.id}`, { method: 'DELETE' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.erased, true);
  assert.equal(r.json.identities, 3);
  assert.equal(r.json.responses, 1);
  assert.equal(r.json.compacted, true);

  // the API: no customer, no identity, no answer in any figure
  assertError(await api(srv, `/customers/${c.id}`), 404, 'customer_not_found', 'id');
  for (const [k, v] of [['user_id', ERASED.user], ['email', ERASED.email], ['anonymous_id', ERASED.anon]])
    assert.deepEqual((await api(srv, `/customers?${k}=${encodeURIComponent(v)}`)).json.customers, []);
  assert.deepEqual((await api(srv, `/customers?q=Zebulon`)).json.customers, []);
  const after = (await api(srv, '/stats')).json;
  assert.equal(after.customers, before.customers - 1);
  assert.equal(after.events, before.events - 5);
  const nps = (await api(srv, `/metrics/nps?survey=${survey}`)).json;
  assert.equal(nps.n, 1);
  assert.equal(nps.detractors, 0);
  assert.deepEqual((await api(srv, `/feedback?survey=${survey}`)).json.responses.map((v) => v.text), ['all good']);
  // the other customer is untouched
  const k = (await api(srv, `/customers/${kept.id}`)).json;
  assert.equal(k.traits.name, KEPT.name);
  assert.equal((await api(srv, `/customers/${kept.id}/export`)).json.events.length, 3);
  // the files: no identifier, trait, property or word of the erased customer.
  // The erasure vacuumed the file and emptied the WAL (compacted): every
  // byte left is a live page, so a scan of the bytes plus the blocks
  // unpacked sees all that is stored
  const free = spawnSync('sqlite3', ['-readonly', join(srv.data, 'cxm.db'), 'PRAGMA freelist_count'], { encoding: 'utf8' });
  assert.equal(free.stdout.trim(), '0', free.stderr);
  const needles = [ERASED.user, ERASED.anon, ERASED.email, ERASED.name, 'zq-order-9911', 'zq-secret-4471'];
  assert.deepEqual(filesHolding(srv.data, needles), []);
  assert.ok(filesHolding(srv.data, [KEPT.email]).length > 0, 'the kept customer is still stored');
  // the audit: counts, no data
  const a = (await api(srv, '/audit?action=customer.erase')).json.entries;
  assert.equal(a.length, 1);
  assert.equal(a[0].after.identities, 3);
  assert.doesNotMatch(JSON.stringify(a), /erase-me|Zebulon|example\.com/);
  assertError(await api(srv, `/customers/${c.id}`, { method: 'DELETE' }), 404, 'customer_not_found', 'id');
  // new events keep working after the erasure
  const t = await track(srv, '/v1/track', { userId: KEPT.user, event: 'Order Completed', properties: { revenue: 5 } });
  assert.equal(t.status, 200);
  assert.equal((await api(srv, '/stats')).json.events, after.events + 1);
});

test('erasure holds across a restart: nothing comes back from a snapshot or the log', async () => {
  const creds = srv.creds;
  const data = srv.data;
  assert.equal((await srv.stop()).code, 0);
  srv = await startServer({ data, creds });
  assert.deepEqual((await api(srv, `/customers?user_id=${ERASED.user}`)).json.customers, []);
  const needles = [ERASED.user, ERASED.anon, ERASED.email, ERASED.name, 'zq-order-9911', 'zq-secret-4471'];
  assert.deepEqual(filesHolding(srv.data, needles), []);
  const nps = (await api(srv, `/metrics/nps?survey=${survey}`)).json;
  assert.equal(nps.n, 1);
  assert.equal((await api(srv, '/audit/verify')).json.ok, true);
});

test('consent per purpose: a Consent Updated event sets <purpose>_consent at its time; a bad one is refused whole', async () => {
  const c = await customerByUser(srv, KEPT.user);
  const ok = await track(srv, '/v1/track', { userId: KEPT.user, event: 'Consent Updated',
    properties: { purpose: 'survey', granted: false }, timestamp: '2026-11-20T10:00:00Z' });
  assert.equal(ok.status, 200, ok.text);
  assert.equal((await api(srv, `/customers/${c.id}`)).json.traits.survey_consent, false);
  // an older event does not undo a newer one
  const old = await track(srv, '/v1/track', { userId: KEPT.user, event: 'Consent Updated',
    properties: { purpose: 'survey', granted: true }, timestamp: '2026-11-01T10:00:00Z' });
  assert.equal(old.status, 200);
  assert.equal((await api(srv, `/customers/${c.id}`)).json.traits.survey_consent, false);
  const events = (await api(srv, '/stats')).json.events;
  for (const [properties, field] of [[{ granted: true }, 'properties.purpose'], [{ purpose: 'Marketing!', granted: true }, 'properties.purpose'],
    [{ purpose: 'marketing', granted: 'yes' }, 'properties.granted']]) {
    const r = await track(srv, '/v1/batch', { batch: [
      { type: 'track', userId: KEPT.user, event: 'Order Completed' },
      { type: 'track', userId: KEPT.user, event: 'Consent Updated', properties }] });
    assertError(r, 400, 'invalid_field', `batch[1].${field}`);
  }
  assert.equal((await api(srv, '/stats')).json.events, events, 'nothing of a refused batch is stored');
  const later = await track(srv, '/v1/track', { userId: KEPT.user, event: 'Consent Updated', properties: { purpose: 'marketing', granted: true } });
  assert.equal(later.status, 200);
  const t = (await api(srv, `/customers/${c.id}`)).json.traits;
  assert.equal(t.marketing_consent, true);
  assert.equal(t.survey_consent, false);
});

test('retention: events older than the policy leave the log (run now, or by the daily thread); bad policies refused', async () => {
  for (const [body, field] of [[{ events_days: 0 }, 'events_days'], [{ events_days: 'a year' }, 'events_days'],
    [{ events_days: 1.5 }, 'events_days'], [{ days: 30 }, 'days'], [{}, 'events_days']]) {
    const r = await api(srv, '/privacy/retention', { method: 'PUT', body });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.field, field);
  }
  assert.equal((await api(srv, '/privacy/retention')).json.events_days, null);
  // without a policy a run deletes nothing
  assert.equal((await api(srv, '/privacy/retention/run', { method: 'POST' })).json.events_deleted, 0);
  const old = await track(srv, '/v1/batch', { batch: [
    { type: 'track', userId: 'old-timer', event: 'Order Completed', timestamp: '2020-01-01T00:00:00Z', properties: { note: 'zq-ancient-7001' } },
    { type: 'track', userId: 'old-timer', event: 'Order Completed', timestamp: '2020-02-01T00:00:00Z' }] });
  assert.equal(old.status, 200);
  // (the newest event of the log is kept whatever its age: it is the log's head)
  assert.equal((await track(srv, '/v1/track', { userId: 'old-timer', event: 'Page Viewed' })).status, 200);
  const before = (await api(srv, '/stats')).json.events;
  const set = await api(srv, '/privacy/retention', { method: 'PUT', body: { events_days: 365 } });
  assert.equal(set.status, 200, set.text);
  assert.equal(set.json.events_days, 365);
  const run = await api(srv, '/privacy/retention/run', { method: 'POST' });
  assert.equal(run.status, 200, run.text);
  assert.equal(run.json.events_deleted, 2);
  assert.equal((await api(srv, '/stats')).json.events, before - 2);
  const c = await customerByUser(srv, 'old-timer');
  assert.equal((await api(srv, `/customers/${c.id}/export`)).json.events.length, 1);
  assert.deepEqual(filesHolding(srv.data, ['zq-ancient-7001']), []);
  const got = (await api(srv, '/privacy/retention')).json;
  assert.equal(got.last_deleted, 2);
  assert.ok(got.last_run_at);
  assert.equal((await api(srv, '/privacy/retention', { method: 'PUT', body: { events_days: null } })).json.events_days, null);
  assert.ok((await api(srv, '/audit?action=PUT%20privacy/retention')).json.entries.length >= 2);
});

test('retention: the thread runs the policy by itself', async () => {
  const s = await startServer({ env: { CXM_RETENTION_TICK_MS: '100' } });
  try {
    await track(s, '/v1/track', { userId: 'ancient', event: 'Page Viewed', timestamp: '2019-05-01T00:00:00Z' });
    await track(s, '/v1/track', { userId: 'ancient', event: 'Page Viewed' });
    assert.equal((await api(s, '/privacy/retention', { method: 'PUT', body: { events_days: 30 } })).status, 200);
    let r;
    for (let i = 0; i < 100; i++) {
      r = (await api(s, '/privacy/retention')).json;
      if (r.last_run_at) break;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    assert.ok(r.last_run_at, 'the thread ran');
    assert.equal(r.last_deleted, 1);
    assert.equal((await api(s, '/stats')).json.events, 1);
  } finally {
    assert.equal((await s.stop()).code, 0);
    s.cleanup();
  }
});
