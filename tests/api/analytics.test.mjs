// Journey analytics (docs/analytics.md): funnels, retention, paths and the
// lifecycle distribution against a live server, on events whose answers
// are worked out by hand below; and every bad request gets a 400 naming
// its field.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, track, api } from './server.mjs';
import { uid } from './helpers.mjs';

const H = 3600_000;
const D = 24 * H;
const T0 = Date.parse('2026-03-02T09:00:00Z'); // a Monday
const iso = (ms) => new Date(ms).toISOString();

let srv, appKey;
const u = {}; // name -> userId
const ids = {}; // name -> customer id

function ev(user, event, at, extra = {}) {
  return { type: 'track', userId: u[user], event, timestamp: iso(at), messageId: uid('m'), ...extra };
}

before(async () => {
  srv = await startServer();
  for (const n of ['a', 'b', 'c', 'd', 'e', 'f', 'r1', 'r2', 'r3', 'p1', 'p2']) u[n] = uid(n);
  const src = await api(srv, '/sources', { method: 'POST', body: { name: 'app' } });
  assert.equal(src.status, 201, src.text);
  appKey = src.json.write_key;
  const web = [
    // a: through the whole funnel in two days (plan pro), order worth 80
    { type: 'identify', userId: u.a, traits: { plan: 'pro' }, timestamp: iso(T0 - D) },
    ev('a', 'Product Viewed', T0),
    ev('a', 'Product Added', T0 + H),
    ev('a', 'Order Completed', T0 + 2 * D, { properties: { revenue: 80 } }),
    // b: ordered before adding: reaches step 2 only (plan free)
    { type: 'identify', userId: u.b, traits: { plan: 'free' }, timestamp: iso(T0 - D) },
    ev('b', 'Product Viewed', T0),
    ev('b', 'Order Completed', T0 + H, { properties: { revenue: 30 } }),
    ev('b', 'Product Added', T0 + 2 * H),
    // c: a view before `from` does not count; the add is 8 days after the
    // entry: outside the 7-day window
    ev('c', 'Product Viewed', T0 - 40 * D),
    ev('c', 'Product Viewed', T0 + D),
    ev('c', 'Product Added', T0 + 9 * D),
    // d: never viewed: not in the funnel
    ev('d', 'Product Added', T0),
    // e: all three at the same millisecond, in order (plan pro), worth 20
    { type: 'identify', userId: u.e, traits: { plan: 'pro' }, timestamp: iso(T0 - D) },
    ev('e', 'Product Viewed', T0 + 5 * H),
    ev('e', 'Product Added', T0 + 5 * H),
    ev('e', 'Order Completed', T0 + 5 * H, { properties: { revenue: 20 } }),
  ];
  // order matters for e's same-millisecond events: one batch keeps it
  let r = await track(srv, '/v1/batch', { batch: web });
  assert.equal(r.status, 200, r.text);
  // f: from the app source
  r = await track(srv, '/v1/batch', {
    batch: [ev('f', 'Product Viewed', T0), ev('f', 'Product Added', T0 + H)],
  }, { key: appKey });
  assert.equal(r.status, 200, r.text);
  for (const n of ['a', 'b', 'c', 'd', 'e', 'f']) {
    const c = await api(srv, `/customers?user_id=${u[n]}`);
    ids[n] = c.json.customers[0].id;
  }
});

after(async () => {
  if (srv) {
    assert.equal((await srv.stop()).code, 0);
    srv.cleanup();
  }
});

const FUNNEL = {
  steps: [{ event: 'Product Viewed' }, { event: 'Product Added' }, { event: 'Order Completed' }],
  window: '7d', from: iso(T0 - D), to: iso(T0 + 7 * D),
};

async function funnel(body) {
  const r = await api(srv, '/analytics/funnel', { method: 'POST', body });
  assert.equal(r.status, 200, r.text);
  return r.json;
}
const counts = (steps) => steps.map((s) => s.customers);

test('funnel: entry, order, window and ties as documented', async () => {
  const f = await funnel(FUNNEL);
  // entered: a b c e f; step 2: a b e f; step 3: a e
  assert.deepEqual(counts(f.steps), [5, 4, 2]);
  assert.deepEqual(f.steps.map((s) => s.event), ['Product Viewed', 'Product Added', 'Order Completed']);
  assert.equal(f.steps[0].conversion, 1);
  assert.equal(f.steps[1].conversion, 0.8);
  assert.equal(f.steps[2].conversion, 0.4);
  // step 2 took 1h (a), 2h (b), 0 (e), 1h (f): median 1h; step 3: 47h (a), 0 (e)
  assert.equal(f.steps[0].median_seconds, null);
  assert.equal(f.steps[1].median_seconds, 3600);
  assert.equal(f.steps[2].median_seconds, 47 * 3600 / 2);
  // the time-to-convert distribution: step 2 took 0, 1h, 1h and 2h
  const hist = Object.fromEntries(f.steps[1].time_to_convert.map((b) => [b.below_seconds, b.customers]));
  assert.deepEqual(hist, { 60: 1, 300: 0, 900: 0, 3600: 0, 21600: 3, 86400: 0, 259200: 0, 604800: 0, 2592000: 0, null: 0 });
  assert.equal(f.steps[0].time_to_convert, undefined);
  assert.equal(f.window, '7d');
  assert.equal(f.from, iso(T0 - D));
  assert.equal(typeof f.took_ms, 'number');
  assert.equal(f.groups, undefined);
});

test('funnel: a window of 1h keeps only the quick ones', async () => {
  const f = await funnel({ ...FUNNEL, window: '1h' });
  assert.deepEqual(counts(f.steps), [5, 3, 1]); // a, e, f add within the hour; e orders
});

test('funnel: where rules on event properties, traits and source', async () => {
  let f = await funnel({ ...FUNNEL, steps: [FUNNEL.steps[0], FUNNEL.steps[1], { event: 'Order Completed', where: 'event.properties.revenue > 50' }] });
  assert.deepEqual(counts(f.steps), [5, 4, 1]);
  f = await funnel({ ...FUNNEL, steps: [{ event: 'Product Viewed', where: 'traits.plan == "pro"' }, FUNNEL.steps[1]] });
  assert.deepEqual(counts(f.steps), [2, 2]);
  f = await funnel({ ...FUNNEL, steps: [{ event: 'Product Viewed', where: 'event.source == "app"' }, FUNNEL.steps[1]] });
  assert.deepEqual(counts(f.steps), [1, 1]);
  // history functions read the customer's past at the event's time
  f = await funnel({ ...FUNNEL, steps: [FUNNEL.steps[0], { event: 'Product Added', where: 'count("Order Completed") == 0' }] });
  assert.deepEqual(counts(f.steps), [5, 3]); // b had ordered before adding
  f = await funnel({ ...FUNNEL, steps: [FUNNEL.steps[0], { event: 'Product Added', where: 'sum("Order Completed", "revenue") >= 30' }] });
  assert.deepEqual(counts(f.steps), [5, 1]); // b
});

test('funnel: breakdown by a trait and by source', async () => {
  let f = await funnel({ ...FUNNEL, by: 'traits.plan' });
  const byKey = Object.fromEntries(f.groups.map((g) => [g.key, counts(g.steps)]));
  assert.deepEqual(byKey, { pro: [2, 2, 2], free: [1, 1, 0], '(none)': [2, 1, 0] });
  assert.deepEqual(f.groups.map((g) => g.key), ['pro', 'free', '(none)']); // named by size, then (none)
  assert.equal(f.groups[0].steps[2].median_seconds, 47 * 3600 / 2);
  f = await funnel({ ...FUNNEL, by: 'source' });
  assert.deepEqual(Object.fromEntries(f.groups.map((g) => [g.key, counts(g.steps)])),
    { default: [4, 3, 2], app: [1, 1, 0] });
});

test('funnel: the customers who dropped before a step', async () => {
  const f = await funnel({ ...FUNNEL, dropped_at: 3 });
  assert.equal(f.dropped.step, 3);
  assert.deepEqual([...f.dropped.customers].sort(), [ids.b, ids.f].sort());
  const g = await funnel({ ...FUNNEL, dropped_at: 2 });
  assert.deepEqual(g.dropped.customers, [ids.c]);
});

test('funnel: live data: an event acknowledged now is in the next answer', async () => {
  const before = await funnel(FUNNEL);
  const r = await track(srv, '/v1/track', ev('c', 'Order Completed', T0 + 2 * D));
  assert.equal(r.status, 200);
  // c: entry T0+1d, no add within the window: still step 1. Send an add too.
  await track(srv, '/v1/track', ev('c', 'Product Added', T0 + D + H));
  const after = await funnel(FUNNEL);
  assert.deepEqual(counts(before.steps), [5, 4, 2]);
  assert.deepEqual(counts(after.steps), [5, 5, 3]);
});

const bad = [
  [{}, 'steps', 'invalid_field'],
  [{ ...FUNNEL, steps: [] }, 'steps', 'invalid_field'],
  [{ ...FUNNEL, steps: Array(21).fill({ event: 'Product Viewed' }) }, 'steps', 'invalid_field'],
  [{ ...FUNNEL, steps: [{ event: 'Product Viewed' }, { where: 'true' }] }, 'steps[1].event', 'invalid_field'],
  [{ ...FUNNEL, steps: [{ event: 'Product Viewed' }, 'Product Added'] }, 'steps[1].event', 'invalid_field'],
  [{ ...FUNNEL, steps: [{ event: 'Product Viewed', where: 'traits.plan ==' }] }, 'steps[0].where', 'invalid_rule'],
  [{ ...FUNNEL, steps: [{ event: 'Product Viewed', where: 'nosuch(1)' }] }, 'steps[0].where', 'invalid_rule'],
  [{ ...FUNNEL, steps: [{ event: 'Product Viewed', where: 42 }] }, 'steps[0].where', 'invalid_field'],
  [{ ...FUNNEL, steps: [{ event: 'Never Sent' }] }, 'steps[0].event', 'unknown_event'],
  [{ ...FUNNEL, window: '0d' }, 'window', 'invalid_field'],
  [{ ...FUNNEL, window: '-7d' }, 'window', 'invalid_field'],
  [{ ...FUNNEL, window: 'seven days' }, 'window', 'invalid_field'],
  [{ ...FUNNEL, window: '400d' }, 'window', 'invalid_field'],
  [{ ...FUNNEL, window: 7 }, 'window', 'invalid_field'],
  [{ ...FUNNEL, from: 'yesterday' }, 'from', 'invalid_field'],
  [{ ...FUNNEL, from: FUNNEL.to, to: FUNNEL.from }, 'to', 'invalid_field'],
  [{ ...FUNNEL, to: undefined }, 'to', 'invalid_field'],
  [{ ...FUNNEL, by: 'plan' }, 'by', 'invalid_field'],
  [{ ...FUNNEL, dropped_at: 1 }, 'dropped_at', 'invalid_field'],
  [{ ...FUNNEL, dropped_at: 4 }, 'dropped_at', 'invalid_field'],
  [{ ...FUNNEL, steps: [FUNNEL.steps[0]], dropped_at: 2 }, 'dropped_at', 'invalid_field'],
];

test('funnel: bad requests get a 400 naming the field', async () => {
  for (const [body, field, code] of bad) {
    const r = await api(srv, '/analytics/funnel', { method: 'POST', body });
    assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 120)}: ${r.text}`);
    assert.equal(r.json.error.code, code, r.text);
    assert.equal(r.json.error.field, field, r.text);
    assert.ok(r.json.error.message.length > 10, r.text);
  }
  const rule = await api(srv, '/analytics/funnel', { method: 'POST', body: { ...FUNNEL, steps: [{ event: 'Product Viewed', where: 'traits.plan ==' }] } });
  assert.match(rule.json.error.message, /at \d+: expected/);
});

test('analytics: method, body, path and token errors', async () => {
  let r = await api(srv, '/analytics/funnel');
  assert.equal(r.status, 405);
  r = await fetch(srv.url + '/api/v1/analytics/funnel', {
    method: 'POST', headers: { authorization: `Bearer ${srv.adminToken}` }, body: '{"steps":',
  });
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error.code, 'malformed_json');
  r = await api(srv, '/analytics/nosuch', { method: 'POST', body: {} });
  assert.equal(r.status, 404);
  r = await api(srv, '/analytics/funnel', { method: 'POST', body: FUNNEL, token: null });
  assert.equal(r.status, 401);
  r = await api(srv, '/lifecycle', { method: 'POST', body: {} });
  assert.equal(r.status, 405);
});

test('retention: weekly cohorts from the first start event in range', async () => {
  const W = 7 * D;
  const batch = [
    // r1: signs up Monday of week 0, orders Wednesday (period 0) and the
    // next week (period 1) twice (counted once)
    ev('r1', 'Signed Up', T0),
    ev('r1', 'Order Completed', T0 + 2 * D),
    ev('r1', 'Order Completed', T0 + W + D),
    ev('r1', 'Order Completed', T0 + W + 2 * D),
    // r2: an order before signing up does not count; signs up Tuesday,
    // orders in week 2; a second sign-up later does not move the cohort
    ev('r2', 'Order Completed', T0),
    ev('r2', 'Signed Up', T0 + D),
    ev('r2', 'Signed Up', T0 + W),
    ev('r2', 'Order Completed', T0 + 2 * W),
    // r3: cohort of week 1, never orders
    ev('r3', 'Signed Up', T0 + W + 3 * D),
  ];
  assert.equal((await track(srv, '/v1/batch', { batch })).status, 200);
  const body = { start_event: 'Signed Up', return_event: 'Order Completed', interval: 'week', periods: 4,
    from: iso(T0 + 3 * D), to: '2026-03-16T00:00:00Z' }; // from mid-week: rounded down to its week
  const r = await api(srv, '/analytics/retention', { method: 'POST', body });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.cohorts, [
    { start: '2026-03-02T00:00:00.000Z', size: 2, retained: [1, 1, 1, 0] },
    { start: '2026-03-09T00:00:00.000Z', size: 1, retained: [0, 0, 0, 0] },
  ]);
  assert.equal(r.json.interval, 'week');
  // by source: everyone came through the default source: one group, the same cohorts
  const bySource = await api(srv, '/analytics/retention', { method: 'POST', body: { ...body, by: 'source' } });
  assert.equal(bySource.status, 200, bySource.text);
  assert.deepEqual(bySource.json.groups, [{ key: 'default', cohorts: r.json.cohorts }]);
  // by day: r1's cohort is Monday, r2's Tuesday
  const days = await api(srv, '/analytics/retention', { method: 'POST',
    body: { ...body, interval: 'day', periods: 3, from: iso(T0), to: iso(T0 + 2 * D) } });
  assert.equal(days.status, 200, days.text);
  assert.deepEqual(days.json.cohorts.map((c) => [c.size, c.retained]), [[1, [0, 0, 1]], [1, [0, 0, 0]], [0, [0, 0, 0]]]);
  // future periods are left out
  const now = Date.now();
  const fut = await api(srv, '/analytics/retention', { method: 'POST',
    body: { ...body, interval: 'month', periods: 12, from: iso(now - 40 * D), to: iso(now) } });
  assert.equal(fut.status, 200);
  const cs = fut.json.cohorts; // the months of now-40d .. now: the last is this month
  assert.ok(cs.length >= 2);
  cs.forEach((c, i) => assert.equal(c.retained.length, cs.length - i, JSON.stringify(c)));
});

test('retention: bad requests', async () => {
  const ok = { start_event: 'Signed Up', return_event: 'Order Completed', interval: 'week', periods: 4,
    from: iso(T0), to: iso(T0 + 14 * D) };
  const cases = [
    [{ ...ok, start_event: undefined }, 'start_event', 'invalid_field'],
    [{ ...ok, return_event: 'Never Sent' }, 'return_event', 'unknown_event'],
    [{ ...ok, interval: 'fortnight' }, 'interval', 'invalid_field'],
    [{ ...ok, periods: 0 }, 'periods', 'invalid_field'],
    [{ ...ok, periods: 101 }, 'periods', 'invalid_field'],
    [{ ...ok, periods: 2.5 }, 'periods', 'invalid_field'],
    [{ ...ok, to: ok.from }, 'to', 'invalid_field'],
    [{ ...ok, interval: 'day', from: '2000-01-01T00:00:00Z' }, 'to', 'invalid_field'],
    [{ ...ok, by: 'traits.' }, 'by', 'invalid_field'],
  ];
  for (const [body, field, code] of cases) {
    const r = await api(srv, '/analytics/retention', { method: 'POST', body });
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.error.code, code, r.text);
    assert.equal(r.json.error.field, field, r.text);
  }
});

test('paths: next and previous events, repeats counted once, the rest as (other)', async () => {
  const t = T0 + 30 * D;
  const batch = [
    ev('p1', 'Home', t), ev('p1', 'Search', t + 1000), ev('p1', 'Search', t + 2000),
    ev('p1', 'Cart', t + 3000),
    ev('p2', 'Help', t - 1000), ev('p2', 'Home', t), ev('p2', 'Cart', t + 1000),
  ];
  assert.equal((await track(srv, '/v1/batch', { batch })).status, 200);
  const body = { event: 'Home', depth: 2, limit: 1, from: iso(t - H), to: iso(t + H) };
  let r = await api(srv, '/analytics/paths', { method: 'POST', body });
  assert.equal(r.status, 200, r.text);
  const p = r.json;
  assert.equal(p.customers, 2);
  const nodes = Object.fromEntries(p.nodes.map((n) => [n.id, n.customers]));
  // step 1: Search and Cart once each; limit 1 keeps one name (ties by name
  // order of first sight) and folds the other into (other)
  assert.equal(nodes['0:Home'], 2);
  assert.equal(Object.keys(nodes).filter((k) => k.startsWith('1:')).length, 2);
  assert.ok('1:(other)' in nodes, JSON.stringify(nodes));
  assert.equal(nodes['2:Cart'], 1); // p1: Home → Search (twice, once) → Cart
  const links = p.links.map((l) => `${l.source}>${l.target}=${l.customers}`);
  assert.equal(links.filter((l) => l.startsWith('0:Home>')).length, 2);
  r = await api(srv, '/analytics/paths', { method: 'POST', body: { ...body, direction: 'previous', limit: 5 } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.nodes.map((n) => n.id), ['0:Home', '1:Help']);
  assert.deepEqual(r.json.links, [{ source: '0:Home', target: '1:Help', customers: 1 }]);
  for (const [b, field] of [[{ ...body, direction: 'up' }, 'direction'], [{ ...body, depth: 7 }, 'depth'],
    [{ ...body, limit: 0 }, 'limit'], [{ ...body, event: 'Never Sent' }, 'event']]) {
    const e = await api(srv, '/analytics/paths', { method: 'POST', body: b });
    assert.equal(e.status, 400, e.text);
    assert.equal(e.json.error.field, field);
  }
});

test('lifecycle: every customer in one stage, in the stage order', async () => {
  const r = await api(srv, '/lifecycle');
  assert.equal(r.status, 200, r.text);
  const names = r.json.stages.map((s) => s.name);
  assert.deepEqual(names, ['churned', 'at_risk', 'support_experience', 'advocacy', 'bonding',
    'purchase', 'evaluation', 'engagement', 'awareness']);
  const stats = (await api(srv, '/stats')).json;
  assert.equal(r.json.customers, stats.customers);
  assert.equal(r.json.stages.reduce((s, x) => s + x.customers, 0), stats.customers);
  // a customer's stage on its page is counted in that stage
  const a = (await api(srv, `/customers/${ids.a}`)).json;
  assert.ok(r.json.stages.find((s) => s.name === a.stage).customers >= 1);
});

test('lifecycle over a period: series, flows, transitions and time in stage', async () => {
  const T = Date.parse('2025-06-02T10:00:00Z'); // a Monday, before every other event here
  const who = uid('life');
  const batch = [
    { type: 'identify', userId: who, traits: { plan: 'pro' }, timestamp: iso(T) },
    { type: 'track', userId: who, event: 'Product Added', timestamp: iso(T + D) },
    { type: 'track', userId: who, event: 'Order Completed', timestamp: iso(T + 2 * D) },
    { type: 'track', userId: who, event: 'Order Completed', timestamp: iso(T + 3 * D) },
  ];
  assert.equal((await track(srv, '/v1/batch', { batch })).status, 200);
  const q = `from=${iso(T - D)}&to=${iso(T + 5 * D)}&interval=day`;
  const r = await api(srv, `/lifecycle?${q}`);
  assert.equal(r.status, 200, r.text);
  const l = r.json;
  const names = l.stages.map((s) => s.name);
  assert.equal(l.interval, 'day');
  assert.equal(l.from, '2025-06-01T00:00:00.000Z'); // rounded down to its day
  assert.equal(l.series.length, 7); // 1 to 7 June
  const at = (k) => Object.fromEntries(l.series[k].stages.map((n, i) => [names[i], n]).filter(([, n]) => n));
  assert.deepEqual(at(0), {}); // 1 June: not a customer yet
  assert.deepEqual(at(1), { engagement: 1 });
  assert.deepEqual(at(2), { evaluation: 1 });
  assert.deepEqual(at(3), { purchase: 1 });
  assert.deepEqual(at(4), { bonding: 1 });
  assert.deepEqual(l.flows, [{ from: '(new)', to: 'bonding', customers: 1 }]);
  // in the order of the stage rules (from), "(new)" last
  assert.deepEqual(l.transitions.map((t) => [t.from, t.to, t.customers, t.median_days_in_from]), [
    ['purchase', 'bonding', 1, 1], ['evaluation', 'purchase', 1, 1], ['engagement', 'evaluation', 1, 1],
    ['(new)', 'engagement', 1, null]]);
  assert.deepEqual(Object.fromEntries(l.time_in_stage.map((s) => [s.name, [s.stays, s.median_days]])),
    { purchase: [1, 1], evaluation: [1, 1], engagement: [1, 1] });
  for (const [query, field] of [['from=soon', 'from'], [`from=${iso(T)}&to=${iso(T - D)}`, 'to'],
    [`from=${iso(T)}&interval=year`, 'interval'], [`from=2000-01-01T00:00:00Z&interval=day`, 'to']]) {
    const e = await api(srv, `/lifecycle?${query}`);
    assert.equal(e.status, 400, `${query}: ${e.text}`);
    assert.equal(e.json.error.field, field);
  }
});

test('kpis: activation, repeat-customer, loyalty and churn rates per interval', async () => {
  // months of 2024, before every other event here: k1 new in Jan, buys in
  // Jan and Feb (activated, repeat, loyal); k2 new in Jan, buys in Feb
  // (40 days after: not activated within 30d), active in Jan only before;
  // k3 active in Jan only (churns in Feb)
  const m = (month, day) => Date.parse(`2024-${month}-${day}T12:00:00Z`);
  const k = { k1: uid('k1'), k2: uid('k2'), k3: uid('k3') };
  const t = (who, event, at) => ({ type: 'track', userId: k[who], event, timestamp: iso(at) });
  const batch = [
    t('k1', 'Home', m('01', '05')), t('k1', 'Order Completed', m('01', '06')), t('k1', 'Order Completed', m('02', '03')),
    t('k2', 'Home', m('01', '10')), t('k2', 'Order Completed', m('02', '19')),
    t('k3', 'Home', m('01', '20')),
  ];
  assert.equal((await track(srv, '/v1/batch', { batch })).status, 200);
  const r = await api(srv, '/analytics/kpis?from=2024-01-01T00:00:00Z&to=2024-03-01T00:00:00Z&interval=month');
  assert.equal(r.status, 200, r.text);
  const [jan, feb] = r.json.series;
  assert.equal(r.json.series.length, 2);
  assert.equal(jan.start, '2024-01-01T00:00:00.000Z');
  assert.equal(jan.new_customers, 3);
  assert.equal(jan.activated, 1); // k1; k2 bought 40 days after its first event
  assert.ok(Math.abs(jan.activation_rate - 1 / 3) < 1e-6, jan.activation_rate); // 6 significant digits
  assert.equal(jan.buyers, 1);
  assert.equal(jan.repeat_customer_rate, 0); // k1 had one order by the end of January
  assert.equal(jan.churn_rate, null); // nobody was active in December
  assert.equal(feb.new_customers, 0);
  assert.equal(feb.activation_rate, null);
  assert.equal(feb.buyers, 2);
  assert.equal(feb.repeat_customer_rate, 0.5); // k1: 2 orders ever by February's end
  assert.equal(feb.loyalty_rate, 1); // January's one buyer bought again
  assert.equal(feb.active_before, 3);
  assert.equal(feb.churned, 1); // k3
  assert.ok(Math.abs(feb.churn_rate - 1 / 3) < 1e-6, feb.churn_rate);
  const w = await api(srv, '/analytics/kpis?from=2024-01-01T00:00:00Z&to=2024-03-01T00:00:00Z&activation_window=45d');
  assert.equal(w.json.series[0].activated, 2);
  // an activation after `to` still counts within its window: k1 ordered on
  // 6 January at noon, the period ends that morning
  const early = await api(srv, '/analytics/kpis?from=2024-01-01T00:00:00Z&to=2024-01-06T06:00:00Z');
  assert.equal(early.json.series[0].new_customers, 1);
  assert.equal(early.json.series[0].activated, 1);
  assert.equal(early.json.series[0].partial, true);
  for (const [query, field] of [['to=2024-03-01T00:00:00Z', 'from'], ['from=2024-01-01T00:00:00Z&interval=year', 'interval'],
    ['from=2024-01-01T00:00:00Z&purchase_event=Never', 'purchase_event'],
    ['from=2024-01-01T00:00:00Z&activation_window=0d', 'activation_window'],
    ['from=2024-03-01T00:00:00Z&to=2024-01-01T00:00:00Z', 'to']]) {
    const e = await api(srv, `/analytics/kpis?${query}`);
    assert.equal(e.status, 400, `${query}: ${e.text}`);
    assert.equal(e.json.error.field, field);
  }
  assert.equal((await api(srv, '/analytics/kpis', { method: 'POST', body: {} })).status, 405);
});

test('lifecycle stages: the model is configurable, saved, and used everywhere; bad models change nothing', async () => {
  const def = await api(srv, '/lifecycle/stages');
  assert.equal(def.status, 200);
  assert.equal(def.json.default, true);
  assert.equal(def.json.stages.length, 9);
  const model = { stages: [
    { name: 'buyer', rule: 'count("Order Completed") >= 1' },
    { name: 'browser', rule: 'count("Product Viewed") >= 1' },
    { name: 'other', rule: 'true' },
  ] };
  let r = await api(srv, '/lifecycle/stages', { method: 'PUT', body: model });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { default: false, stages: model.stages });
  const l = (await api(srv, '/lifecycle')).json;
  assert.deepEqual(l.stages.map((s) => s.name), ['buyer', 'browser', 'other']);
  assert.equal(l.stages.reduce((a, s) => a + s.customers, 0), l.customers);
  assert.equal((await api(srv, `/customers/${ids.a}`)).json.stage, 'buyer');
  assert.equal((await api(srv, `/customers/${ids.c}`)).json.stage, 'buyer'); // c ordered in the live-data test
  assert.equal((await api(srv, `/customers/${ids.d}`)).json.stage, 'other');
  for (const [body, field, code] of [
    [{}, 'stages', 'invalid_field'],
    [{ stages: [] }, 'stages', 'invalid_field'],
    [{ stages: Array.from({ length: 17 }, (_, i) => ({ name: `s${i}`, rule: 'true' })) }, 'stages', 'invalid_field'],
    [{ stages: [{ name: 'Bad Name', rule: 'true' }] }, 'stages[0].name', 'invalid_field'],
    [{ stages: [{ name: 'a', rule: 'true' }, { name: 'a', rule: 'true' }] }, 'stages[1].name', 'invalid_field'],
    [{ stages: [{ name: 'a', rule: 'count(' }] }, 'stages[0].rule', 'invalid_rule'],
    [{ stages: [{ name: 'a', rule: 'count("x")' }] }, 'stages[0].rule', 'invalid_rule'],
    [{ stages: [{ name: 'a' }] }, 'stages[0]', 'invalid_field'],
    [{ stages: [{ name: 'rule_x', rule: 'true' }, { name: 'rule_x', rule: 'true' }] }, 'stages[1].name', 'invalid_field'],
  ]) {
    const e = await api(srv, '/lifecycle/stages', { method: 'PUT', body });
    assert.equal(e.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${e.text}`);
    assert.equal(e.json.error.field, field, e.text);
    assert.equal(e.json.error.code, code, e.text);
  }
  assert.deepEqual((await api(srv, '/lifecycle/stages')).json.stages, model.stages, 'a refused model changes nothing');
  // saved: a restart keeps it
  assert.equal((await srv.stop()).code, 0);
  srv = await startServer({ data: srv.data, creds: srv.creds });
  assert.deepEqual((await api(srv, '/lifecycle/stages')).json.stages, model.stages);
  r = await api(srv, '/lifecycle/stages', { method: 'DELETE' });
  assert.equal(r.status, 200);
  assert.equal(r.json.default, true);
  assert.equal((await api(srv, '/lifecycle')).json.stages.length, def.json.stages.length, 'the default model again');
  assert.equal((await api(srv, '/lifecycle/stages', { method: 'POST', body: {} })).status, 405);
});
