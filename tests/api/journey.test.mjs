// Journey maps (docs/journey-maps.md) against a live server: a map is
// checked whole and saved in versions; bound touchpoints show live numbers
// worked out by hand below; bad maps get a 400 naming the field and save
// nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, track, api } from './server.mjs';
import { uid } from './helpers.mjs';

const H = 3600_000;
const D = 24 * H;
const T0 = Date.parse('2026-04-06T09:00:00Z');
const iso = (ms) => new Date(ms).toISOString();

let srv;
const MAP = {
  name: 'Online purchase', state: 'current', description: 'First visit to order',
  stages: [
    { name: 'Evaluation', touchpoints: [
      { name: 'Product page', channel: 'web', owner: 'E-commerce', expected_emotion: 1, binding: { event: 'Product Viewed' } },
      { name: 'Cart', channel: 'web', binding: { event: 'Product Added' }, pain_points: ['Shipping cost shown late'] },
    ] },
    { name: 'Purchase', touchpoints: [
      { name: 'Order', moment_of_truth: true, expected_emotion: -1, binding: { event: 'Order Completed', where: 'event.properties.revenue >= 50' } },
      { name: 'Warehouse pick', lane: 'back', owner: 'Logistics' },
    ] },
  ],
};

before(async () => {
  srv = await startServer();
  const u = { a: uid('a'), b: uid('b'), c: uid('c') };
  const t = (who, event, at, properties) => ({ type: 'track', userId: u[who], event, timestamp: iso(at), properties });
  const r = await track(srv, '/v1/batch', { batch: [
    // a: views twice, adds after 2h, orders 80 a day later
    t('a', 'Product Viewed', T0), t('a', 'Product Viewed', T0 + H), t('a', 'Product Added', T0 + 2 * H),
    t('a', 'Order Completed', T0 + D + 2 * H, { revenue: 80 }),
    // b: views, adds after 4h, orders 20 (below the rule)
    t('b', 'Product Viewed', T0), t('b', 'Product Added', T0 + 4 * H), t('b', 'Order Completed', T0 + 5 * H, { revenue: 20 }),
    // c: views only; adds 40 days later: outside a 30-day window
    t('c', 'Product Viewed', T0), t('c', 'Product Added', T0 + 40 * D),
  ] });
  assert.equal(r.status, 200, r.text);
});

after(async () => {
  if (srv) {
    assert.equal((await srv.stop()).code, 0);
    srv.cleanup();
  }
});

let id;

test('create: the map comes back checked, with ids, defaults and version 1', async () => {
  const r = await api(srv, '/journey-maps', { method: 'POST', body: MAP });
  assert.equal(r.status, 201, r.text);
  const m = r.json;
  id = m.id;
  assert.equal(m.version, 1);
  assert.equal(m.latest_version, 1);
  assert.equal(m.name, 'Online purchase');
  assert.deepEqual(m.stages.map((s) => s.id), ['s1', 's2']);
  const tps = m.stages.flatMap((s) => s.touchpoints);
  assert.deepEqual(tps.map((x) => x.id), ['t1', 't2', 't3', 't4']);
  assert.deepEqual(tps.map((x) => x.lane), ['front', 'front', 'front', 'back']);
  assert.deepEqual(tps.map((x) => x.moment_of_truth), [false, false, true, false]);
  assert.equal(tps[0].expected_emotion, 1);
  assert.deepEqual(tps[1].pain_points, ['Shipping cost shown late']);
  assert.equal(m.live, undefined, 'no live numbers on create');
  const list = (await api(srv, '/journey-maps')).json.maps;
  assert.deepEqual(list.map((x) => [x.name, x.state, x.version, x.stages, x.touchpoints]),
    [['Online purchase', 'current', 1, 2, 4]]);
});

test('live numbers: events, customers, conversion to the next touchpoint, time between', async () => {
  const r = await api(srv, `/journey-maps/${id}?from=${iso(T0 - D)}&to=${iso(T0 + 60 * D)}`);
  assert.equal(r.status, 200, r.text);
  const [view, cart, order, pick] = r.json.stages.flatMap((s) => s.touchpoints);
  assert.deepEqual(view.live, { events: 4, customers: 3, next_customers: 2, conversion_to_next: 2 / 3, median_hours_to_next: 3 });
  // cart → order (revenue >= 50): a only, a day after its add
  assert.deepEqual(cart.live, { events: 3, customers: 3, next_customers: 1, conversion_to_next: 1 / 3, median_hours_to_next: 24 });
  assert.deepEqual(order.live, { events: 1, customers: 1, conversion_to_next: null, median_hours_to_next: null });
  assert.equal(pick.live, undefined, 'an unbound touchpoint has no numbers');
  assert.deepEqual(r.json.stages.map((s) => s.customers), [3, 1]);
  assert.equal(r.json.live.window_hours, 720);
  // a 1-day window: a (2h) and b (4h) still convert; c (40 days) did not under 30 days either
  const w = await api(srv, `/journey-maps/${id}?from=${iso(T0 - D)}&to=${iso(T0 + 60 * D)}&window=1d`);
  assert.equal(w.json.stages[0].touchpoints[0].live.next_customers, 2);
  // a 3-hour window keeps a (2h from view to add) and drops b (4h)
  const w3 = await api(srv, `/journey-maps/${id}?from=${iso(T0 - D)}&to=${iso(T0 + 60 * D)}&window=3h`);
  assert.equal(w3.json.stages[0].touchpoints[0].live.next_customers, 1);
  // without live numbers
  const plain = await api(srv, `/journey-maps/${id}?live=false`);
  assert.equal(plain.json.stages[0].touchpoints[0].live, undefined);
});

test('a saved change is a new version; old versions stay readable', async () => {
  const next = structuredClone(MAP);
  next.state = 'future';
  next.stages[1].touchpoints[0].binding = { event: 'Order Completed' };
  const r = await api(srv, `/journey-maps/${id}`, { method: 'PUT', body: next });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.version, 2);
  assert.equal(r.json.state, 'future');
  const v1 = await api(srv, `/journey-maps/${id}?version=1&live=false`);
  assert.equal(v1.json.version, 1);
  assert.equal(v1.json.latest_version, 2);
  assert.equal(v1.json.state, 'current');
  const v2 = await api(srv, `/journey-maps/${id}?from=${iso(T0 - D)}&to=${iso(T0 + 60 * D)}`);
  assert.equal(v2.json.stages[0].touchpoints[1].live.next_customers, 2, 'every order counts now');
  assert.equal((await api(srv, `/journey-maps/${id}?version=3`)).status, 404);
});

const bad = [
  [{ ...MAP, name: '' }, 'name'],
  [{ ...MAP, state: 'past' }, 'state'],
  [{ ...MAP, colour: 'red' }, 'colour'],
  [{ ...MAP, stages: [] }, 'stages'],
  [{ ...MAP, stages: Array(21).fill({ name: 'x' }) }, 'stages'],
  [{ ...MAP, stages: [{ touchpoints: [] }] }, 'stages[0].name'],
  [{ ...MAP, stages: [{ name: 'x', touchpoints: [{}] }] }, 'stages[0].touchpoints[0].name'],
  [{ ...MAP, stages: [{ name: 'x', touchpoints: [{ name: 'y', expected_emotion: 3 }] }] }, 'stages[0].touchpoints[0].expected_emotion'],
  [{ ...MAP, stages: [{ name: 'x', touchpoints: [{ name: 'y', lane: 'side' }] }] }, 'stages[0].touchpoints[0].lane'],
  [{ ...MAP, stages: [{ name: 'x', touchpoints: [{ name: 'y', moment_of_truth: 'yes' }] }] }, 'stages[0].touchpoints[0].moment_of_truth'],
  [{ ...MAP, stages: [{ name: 'x', touchpoints: [{ name: 'y', pain_points: 'slow' }] }] }, 'stages[0].touchpoints[0].pain_points'],
  [{ ...MAP, stages: [{ name: 'x', touchpoints: [{ name: 'y', binding: { where: 'true' } }] }] }, 'stages[0].touchpoints[0].binding.event'],
  [{ ...MAP, stages: [{ name: 'x', touchpoints: [{ name: 'y', binding: { event: 'e', where: 'count(' } }] }] }, 'stages[0].touchpoints[0].binding.where', 'invalid_rule'],
  [{ ...MAP, stages: [{ name: 'x', touchpoints: [{ name: 'y', id: 'bad id' }] }] }, 'stages[0].touchpoints[0].id'],
  [{ ...MAP, stages: [{ name: 'x', touchpoints: [{ name: 'y', mood: 1 }] }] }, 'stages[0].touchpoints[0].mood'],
  [{ ...MAP, stages: [{ id: 'a', name: 'x' }, { id: 'a', name: 'y' }] }, 'stages'],
  [{ ...MAP, stages: [{ name: 'x', touchpoints: [{ name: 'a', id: 'p' }, { name: 'b', id: 'p' }] }] }, 'stages'],
  [{ ...MAP, stages: [{ name: 'x', touchpoints: [{ name: 'a', id: 't2' }, { name: 'b' }] }] }, 'stages'], // b would get t2
  [{ ...MAP, stages: [{ name: 'x', touchpoints: Array(101).fill({ name: 't' }) }] }, 'stages[0].touchpoints'],
];

test('bad maps: 400 naming the field, nothing saved', async () => {
  for (const [body, field, code = 'invalid_field'] of bad) {
    const r = await api(srv, '/journey-maps', { method: 'POST', body: { ...body, name: body.name ?? 'Other' } });
    assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 150)}: ${r.text}`);
    assert.equal(r.json.error.code, code, r.text);
    assert.equal(r.json.error.field, field, r.text);
  }
  const put = await api(srv, `/journey-maps/${id}`, { method: 'PUT', body: { ...MAP, state: 'past' } });
  assert.equal(put.status, 400);
  assert.equal((await api(srv, `/journey-maps/${id}?live=false`)).json.version, 2, 'a refused change saves no version');
  assert.equal((await api(srv, '/journey-maps', { method: 'POST', body: MAP })).status, 409);
  assert.equal((await api(srv, '/journey-maps')).json.maps.length, 1);
  for (const [path, method, status] of [['/journey-maps/99', 'GET', 404], ['/journey-maps/99', 'PUT', 404],
    ['/journey-maps/99', 'DELETE', 404], ['/journey-maps/x', 'GET', 404], ['/journey-maps', 'DELETE', 405],
    [`/journey-maps/${id}`, 'POST', 405]]) {
    const x = await api(srv, path, { method, body: method === 'PUT' || method === 'POST' ? MAP : undefined });
    assert.equal(x.status, status, `${method} ${path}: ${x.text}`);
  }
  for (const q of ['window=0d', 'from=soon', 'version=0', `from=${iso(T0)}&to=${iso(T0 - D)}`]) {
    const x = await api(srv, `/journey-maps/${id}?${q}`);
    assert.equal(x.status, 400, `${q}: ${x.text}`);
  }
  const f = await fetch(`${srv.url}/api/v1/journey-maps`, { method: 'POST',
    headers: { authorization: `Bearer ${srv.adminToken}` }, body: '{"name":' });
  assert.equal(f.status, 400);
});

test('delete: 204, every version gone', async () => {
  assert.equal((await api(srv, `/journey-maps/${id}`, { method: 'DELETE' })).status, 204);
  assert.equal((await api(srv, `/journey-maps/${id}?version=1`)).status, 404);
  assert.deepEqual((await api(srv, '/journey-maps')).json.maps, []);
});

test('me: the token says what it may do', async () => {
  const r = await api(srv, '/me');
  assert.equal(r.json.scope, 'admin');
  assert.equal(r.json.role, 'admin');
  assert.equal(r.json.user, null);
});
