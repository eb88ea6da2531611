// Requests built to make the server spend memory or disk out of proportion
// to their size are refused, and refuse nothing of anyone else's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, track, api } from './server.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { const r = await srv.stop(); assert.equal(r.code, 0); srv.cleanup(); });

const stats = async () => (await api(srv, '/stats')).json;

test('a body of tiny JSON values is refused as too complex, without a write key', async () => {
  const body = '{"batch":[' + Array(240000).fill('0').join(',') + ']}';
  assert.ok(body.length < 500 * 1024);
  const r = await track(srv, '/v1/batch', body, { key: null });
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, 'too_complex');
});

test('a shared context copied into many items cannot multiply what is written', async () => {
  const before = await stats();
  const batch = Array.from({ length: 2500 }, (_, i) => ({ type: 'track', userId: `amp-${i % 7}`, event: 'E' }));
  const body = { context: { pad: 'x'.repeat(60 * 1024) }, batch };
  const r = await track(srv, '/v1/batch', body);
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, 'batch_too_large');
  assert.deepEqual(await stats(), before); // nothing of it stored
  // the same context with a few items is fine
  const ok = await track(srv, '/v1/batch', { ...body, batch: batch.slice(0, 5) });
  assert.equal(ok.status, 200);
  assert.equal((await stats()).events, before.events + 5);
});

test('a repeated trait keeps its first value, as the e-mail identity does', async () => {
  const body = '{"userId":"dup-traits","traits":{"email":"Real@Example.com","email":"attacker@evil.example"}}';
  const r = await track(srv, '/v1/identify', body);
  assert.equal(r.status, 200);
  const c = (await api(srv, '/customers?user_id=dup-traits')).json.customers[0];
  assert.equal(c.traits.email, 'Real@Example.com');
  assert.ok(c.identities.some((i) => i.type === 'email' && i.value === 'real@example.com'));
});

test('an item with a null context still gets the batch context', async () => {
  const r = await track(srv, '/v1/batch', {
    context: { ip: '10.0.0.1' },
    batch: [{ type: 'track', userId: 'null-ctx', event: 'E', context: null }],
  });
  assert.equal(r.status, 200);
  const c = (await api(srv, '/customers?user_id=null-ctx')).json.customers[0];
  const ev = (await api(srv, `/customers/${c.id}/events`)).json.events[0];
  assert.equal(ev.context.ip, '10.0.0.1');
});

test('a long chain of merges ends in one customer holding every identity', async () => {
  const n = 2000;
  const tag = `chain-${Date.now()}`;
  // n anonymous visitors, each its own customer
  for (let i = 0; i < n; i += 500) {
    const batch = [];
    for (let k = i; k < i + 500; k++) batch.push({ type: 'track', anonymousId: `${tag}-${k}`, event: 'Visit' });
    assert.equal((await track(srv, '/v1/batch', { batch })).status, 200);
  }
  // then each newest-first shows the same e-mail: every message merges the
  // cluster so far into an older customer
  for (let i = n - 1; i >= 0; i -= 500) {
    const batch = [];
    for (let k = i; k > i - 500 && k >= 0; k--)
      batch.push({ type: 'track', anonymousId: `${tag}-${k}`, event: 'Login', context: { traits: { email: `${tag}@example.com` } } });
    assert.equal((await track(srv, '/v1/batch', { batch })).status, 200);
  }
  const found = (await api(srv, `/customers?email=${tag}@example.com`)).json.customers;
  assert.equal(found.length, 1);
  const c = found[0];
  assert.equal(c.identities.filter((i) => i.type === 'anonymous_id').length, n);
  assert.equal(c.event_count, 2 * n);
  const first = (await api(srv, `/customers?anonymous_id=${tag}-0`)).json.customers[0];
  assert.equal(first.id, c.id); // the oldest customer survived
  const merges = (await api(srv, `/merges?customer_id=${c.id}&limit=1000`)).json.merges;
  assert.ok(merges.length > 0 && merges.every((m) => m.into === c.id));
});

test('history sent newest first lands in time order on the timeline', async () => {
  const user = `rev-${Date.now()}`;
  const n = 3000, t0 = Date.parse('2025-01-01T00:00:00Z');
  for (let i = n - 1; i >= 0; i -= 1000) {
    const batch = [];
    for (let k = i; k > i - 1000; k--)
      batch.push({ type: 'track', userId: user, event: `E${k}`, timestamp: new Date(t0 + k * 60000).toISOString() });
    assert.equal((await track(srv, '/v1/batch', { batch })).status, 200);
  }
  const c = (await api(srv, `/customers?user_id=${user}`)).json.customers[0];
  const seen = [];
  let cursor = null;
  do {
    const page = (await api(srv, `/customers/${c.id}/events?limit=1000${cursor ? `&cursor=${cursor}` : ''}`)).json;
    seen.push(...page.events.map((e) => e.event));
    cursor = page.next_cursor;
  } while (cursor);
  assert.equal(seen.length, n);
  assert.deepEqual(seen, Array.from({ length: n }, (_, i) => `E${n - 1 - i}`)); // newest first
});
