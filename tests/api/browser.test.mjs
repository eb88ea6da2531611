// The paths and CORS behaviour that analytics.js (Segment's browser
// library) relies on: /v1/{t,i,p,s,g,a,b}, preflight, and CORS headers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, track, api } from './server.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { const r = await srv.stop(); assert.equal(r.code, 0); srv.cleanup(); });

test('preflight on a short path answers 204 with CORS headers', async () => {
  const res = await fetch(srv.url + '/v1/t', {
    method: 'OPTIONS',
    headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type,x-retry-count' },
  });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  assert.match(res.headers.get('access-control-allow-methods'), /POST/);
  assert.match(res.headers.get('access-control-allow-headers').toLowerCase(), /x-retry-count/);
});

test('short paths store the same messages as the long ones, with body writeKey', async () => {
  const uid = 'browser-user';
  const calls = [
    ['/v1/i', { userId: uid, traits: { email: 'b@example.com' } }],
    ['/v1/t', { userId: uid, event: 'Clicked' }],
    ['/v1/p', { userId: uid, name: 'Home' }],
    ['/v1/s', { userId: uid, name: 'Main' }],
    ['/v1/g', { userId: uid, groupId: 'acme' }],
    ['/v1/a', { userId: uid, previousId: 'anon-b' }],
    ['/v1/b', { batch: [{ type: 'track', userId: uid, event: 'Batched' }] }],
  ];
  for (const [path, body] of calls) {
    // analytics.js sends text/plain to avoid a preflight, key in the body
    const r = await track(srv, path, { ...body, writeKey: srv.writeKey }, {
      key: null, headers: { 'content-type': 'text/plain' },
    });
    assert.equal(r.status, 200, `${path}: ${r.text}`);
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
  }
  const found = await api(srv, `/customers?user_id=${uid}`);
  assert.equal(found.json.customers.length, 1);
  const events = await api(srv, `/customers/${found.json.customers[0].id}/events`);
  const types = events.json.events.map((e) => e.type).sort();
  assert.deepEqual(types, ['alias', 'group', 'identify', 'page', 'screen', 'track', 'track']);
});

test('errors on /v1 carry CORS headers too, so a page can read them', async () => {
  const r = await track(srv, '/v1/t', { userId: 'x', event: 'E' }, { key: 'wk_wrong' });
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
});
