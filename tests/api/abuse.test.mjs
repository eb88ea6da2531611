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
