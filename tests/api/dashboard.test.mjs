// What the dashboard stands on: `cxm demo`, GET /api/v1/overview, the live
// events feed, timeline filters, and the embedded files at "/".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer, tempDir, track, api, cxm, demo as runDemo } from './server.mjs';
import { ISO_MS, uid } from './helpers.mjs';

const END = '2026-06-30T12:00:00Z';
const DAY = 86400000;

// the admin token of each directory demo() filled
const tokens = new Map();

function demo(dir, customers, seed) {
  const creds = runDemo(dir, { customers, seed, end: END });
  tokens.set(dir, creds.admin_token);
  return creds;
}

// The first 1000 events of a store, without what differs between runs.
async function events(s, token) {
  const r = await api(s, '/events?limit=1000', { token });
  assert.equal(r.status, 200, r.text);
  return r.json.events.map(({ type, name, source, timestamp }) => ({ type, name, source, timestamp }));
}

// Every event of the store through the live feed (newest first, paged).
async function feedEvents(srv) {
  const out = [];
  let cursor = null;
  for (;;) {
    const r = await api(srv, `/events?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200, r.text);
    out.push(...r.json.events);
    if (!r.json.next_cursor) return out;
    cursor = r.json.next_cursor;
  }
}

let srv, dir;
before(async () => {
  dir = tempDir('cxm-demo-');
  const creds = demo(dir, 300, 5);
  srv = await startServer({ data: dir, creds });
});
after(async () => {
  if (srv) assert.equal((await srv.stop()).code, 0);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('cxm demo saves segments (personas among them) and journey maps whose numbers are live', async () => {
  const segs = (await api(srv, '/segments')).json.segments;
  assert.deepEqual(segs.map((s) => s.name), ['Champions', 'Premium members', 'Lapsing buyers', 'Support-heavy', 'New this month']);
  for (const s of segs) {
    const p = await api(srv, '/segments/preview', { method: 'POST', body: { rule: s.rule } });
    assert.equal(s.size, p.json.size, `${s.name}: the kept members equal a fresh computation`);
  }
  assert.ok(segs.find((s) => s.name === 'Champions').persona.goals.length > 0);
  // this demo ends in June: the rules with windows up to now (90d, 30d) find no one
  assert.ok(segs.filter((s) => s.size > 0).length >= 2, JSON.stringify(segs.map((s) => [s.name, s.size])));
  const maps = (await api(srv, '/journey-maps')).json.maps;
  assert.deepEqual(maps.map((m) => [m.name, m.state]), [['Online purchase', 'current'], ['Online purchase (future)', 'future']]);
  const m = (await api(srv, `/journey-maps/${maps[0].id}?from=2025-06-30T12:00:00Z&to=${END}`)).json;
  const bound = m.stages.flatMap((s) => s.touchpoints).filter((t) => t.binding);
  assert.ok(bound.every((t) => t.live), 'every bound touchpoint has numbers');
  assert.ok(bound.find((t) => t.name === 'Order placed').live.customers > 0);
});

test('cxm demo fills a new directory with customers across six channels', async () => {
  const s = (await api(srv, '/stats')).json;
  assert.equal(s.customers, 300);
  assert.ok(s.events > 300 * 8, `only ${s.events} events`);
  assert.ok(s.merged_customers > 0, 'app visitors who log in are merged');
  const names = (await api(srv, '/sources')).json.sources.map((x) => x.name).sort();
  for (const n of ['app', 'call_centre', 'chat', 'email', 'store', 'web']) assert.ok(names.includes(n), n);
  // identified customers carry believable traits; some stay anonymous
  const page = (await api(srv, '/customers?limit=300')).json.customers;
  const known = page.filter((c) => c.identities.some((i) => i.type === 'user_id'));
  assert.ok(known.length > 120 && known.length < 280, `${known.length} identified`);
  for (const c of known.slice(0, 20)) {
    assert.match(c.traits.email, /^[a-z]+\.[a-z]+\d+@example\.(com|org|net)$/);
    assert.ok(c.traits.name && c.traits.city && c.traits.plan);
  }
});

test('cxm demo: the same seed gives the same company, another seed another one', async () => {
  const a = tempDir('cxm-demo-'), b = tempDir('cxm-demo-');
  try {
    demo(a, 40, 5);
    demo(b, 40, 6);
    const sa = await startServer({ data: a, creds: {} });
    const again = tempDir('cxm-demo-');
    demo(again, 40, 5);
    const sc = await startServer({ data: again, creds: {} });
    const sb = await startServer({ data: b, creds: {} });
    try {
      const ea = await events(sa, tokens.get(a)), eb = await events(sb, tokens.get(b));
      const ec = await events(sc, tokens.get(again));
      assert.deepEqual(ec, ea, 'same seed: same events');
      assert.notDeepEqual(eb, ea, 'another seed: other events');
    } finally {
      await sa.stop();
      await sb.stop();
      await sc.stop();
      rmSync(again, { recursive: true, force: true });
    }
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test('cxm demo refuses a directory that holds a store, and bad options', () => {
  const used = tempDir('cxm-demo-');
  demo(used, 3, 1);
  const r = cxm(['demo', '--data', used, '--customers', '5']);
  rmSync(used, { recursive: true, force: true });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /already holds a store/);
  for (const bad of [['--customers', '0'], ['--customers', 'many'], ['--seed', '-1'], ['--end', 'yesterday']]) {
    const d = tempDir('cxm-demo-');
    const x = cxm(['demo', '--data', d, ...bad]);
    rmSync(d, { recursive: true, force: true });
    assert.equal(x.code, 2, `${bad.join(' ')}: ${x.stderr}`);
    assert.match(x.stderr, /^cxm: .*\.$/m);
  }
});

test('overview: KPIs agree with the events the feed lists', async () => {
  const from = '2026-06-01T00:00:00Z', to = '2026-06-30T12:00:00Z';
  const r = await api(srv, `/overview?from=${from}&to=${to}&interval=day`);
  assert.equal(r.status, 200, r.text);
  const o = r.json;
  assert.equal(o.interval, 'day');
  assert.equal(o.buckets.length, 30);
  for (const b of o.buckets) assert.match(b, ISO_MS);
  assert.equal(o.previous.to, o.from);
  const evs = await feedEvents(srv);
  const t0 = Date.parse(from), t1 = Date.parse(to), p0 = t0 - (t1 - t0);
  const inCur = evs.filter((e) => Date.parse(e.timestamp) >= t0 && Date.parse(e.timestamp) < t1);
  const inPrev = evs.filter((e) => Date.parse(e.timestamp) >= p0 && Date.parse(e.timestamp) < t0);
  assert.equal(o.kpis.events.value, inCur.length);
  assert.equal(o.kpis.events.previous, inPrev.length);
  const perDay = new Array(30).fill(0);
  for (const e of inCur) perDay[Math.floor((Date.parse(e.timestamp) - t0) / DAY)]++;
  assert.deepEqual(o.kpis.events.series, perDay);
  // channels: per source, the same counts
  const bySource = {};
  for (const e of inCur) bySource[e.source] = (bySource[e.source] || 0) + 1;
  assert.deepEqual(Object.fromEntries(o.channels.filter((c) => c.events).map((c) => [c.source, c.events])), bySource);
  for (const c of o.channels) assert.equal(c.series.reduce((a, b) => a + b, 0), c.events);
  // active: distinct customers with a track, page or screen in the period
  const activeIds = new Set(inCur.filter((e) => ['track', 'page', 'screen'].includes(e.type)).map((e) => e.customer_id));
  assert.equal(o.kpis.active_customers.value, activeIds.size);
  // new and total customers: from first events
  const first = new Map();
  for (const e of evs) {
    const t = Date.parse(e.timestamp);
    if (!first.has(e.customer_id) || t < first.get(e.customer_id)) first.set(e.customer_id, t);
  }
  const firsts = [...first.values()];
  assert.equal(o.kpis.new_customers.value, firsts.filter((t) => t >= t0 && t < t1).length);
  assert.equal(o.kpis.customers.value, firsts.filter((t) => t < t1).length);
  assert.equal(o.kpis.customers.previous, firsts.filter((t) => t < t0).length);
  assert.equal(o.kpis.customers.series.at(-1), o.kpis.customers.value);
  // repeat purchase: buyers in the period with two orders ever by its end
  const orders = evs.filter((e) => e.type === 'track' && e.name === 'Order Completed' && Date.parse(e.timestamp) < t1);
  const count = new Map(), buyers = new Set();
  for (const e of orders) {
    count.set(e.customer_id, (count.get(e.customer_id) || 0) + 1);
    if (Date.parse(e.timestamp) >= t0) buyers.add(e.customer_id);
  }
  const repeat = [...buyers].filter((c) => count.get(c) >= 2).length;
  assert.ok(buyers.size > 0);
  assert.equal(o.kpis.repeat_purchase_rate.value, Math.round((repeat / buyers.size) * 1e4) / 1e4);
  assert.ok(o.top_events.length > 3 && o.top_events[0].events >= o.top_events[1].events);
});

test('overview: weeks start on Monday, months on the 1st; bad parameters are refused', async () => {
  let r = await api(srv, '/overview?from=2026-03-04T10:00:00Z&to=2026-06-30T00:00:00Z&interval=month');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.buckets, ['2026-03-01T00:00:00.000Z', '2026-04-01T00:00:00.000Z',
    '2026-05-01T00:00:00.000Z', '2026-06-01T00:00:00.000Z']);
  r = await api(srv, '/overview?from=2026-06-04T10:00:00Z&to=2026-06-20T00:00:00Z&interval=week');
  assert.equal(r.json.buckets[0], '2026-06-01T00:00:00.000Z'); // a Monday
  assert.equal(r.json.buckets.length, 3);
  r = await api(srv, '/overview');
  assert.equal(r.status, 200);
  assert.equal(r.json.buckets.length, 30);
  for (const [q, field] of [['interval=year', 'interval'], ['from=yesterday', 'from'], ['to=soon', 'to'],
    ['from=2026-06-02T00:00:00Z&to=2026-06-01T00:00:00Z', 'to'],
    ['from=2000-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&interval=day', 'interval']]) {
    r = await api(srv, `/overview?${q}`);
    assert.equal(r.status, 400, q);
    assert.equal(r.json.error.field, field, q);
  }
  r = await api(srv, '/overview', { token: null });
  assert.equal(r.status, 401);
});

test('live feed: new events appear after last_seq; filters narrow it', async () => {
  const head = (await api(srv, '/events?limit=1')).json;
  assert.match(head.last_seq, /^\d+$/);
  const user = uid('live');
  assert.equal((await track(srv, '/v1/track', { userId: user, event: 'Live Check', properties: { n: 1 } })).status, 200);
  const r = await api(srv, `/events?after=${head.last_seq}`);
  assert.equal(r.status, 200);
  assert.equal(r.json.events.length, 1);
  const e = r.json.events[0];
  assert.equal(e.name, 'Live Check');
  assert.equal(e.type, 'track');
  assert.equal(e.source, 'default');
  assert.equal(e.customer_label, user); // no e-mail: the user id
  assert.match(e.received_at, ISO_MS);
  assert.ok(Number(r.json.last_seq) > Number(head.last_seq));
  assert.equal((await api(srv, `/events?after=${r.json.last_seq}`)).json.events.length, 0);
  // filters
  const store = (await api(srv, '/events?source=store&limit=50')).json.events;
  assert.ok(store.length > 0 && store.every((x) => x.source === 'store'));
  // the demo's identified customers are labelled by e-mail, anonymous ones not at all
  const some = (await api(srv, '/events?limit=300')).json.events;
  assert.ok(some.some((x) => /@example\.(com|org|net)$/.test(x.customer_label ?? '')));
  assert.ok(some.every((x) => x.customer_label === null || typeof x.customer_label === 'string'));
  const orders = (await api(srv, '/events?type=track&name=Order%20Completed&limit=50')).json.events;
  assert.ok(orders.length > 0 && orders.every((x) => x.name === 'Order Completed'));
  for (const [q, field] of [['source=nowhere', 'source'], ['type=click', 'type'], ['after=-1', 'after'],
    ['cursor=x', 'cursor'], ['limit=0', 'limit']]) {
    const bad = await api(srv, `/events?${q}`);
    assert.equal(bad.status, 400, q);
    assert.equal(bad.json.error.field, field);
  }
});

test('timeline filters by type, name and source, and names each event\'s source', async () => {
  const orders = (await api(srv, '/events?type=track&name=Order%20Completed&limit=1')).json.events;
  const id = orders[0].customer_id;
  const all = (await api(srv, `/customers/${id}/events?limit=1000`)).json.events;
  assert.ok(all.every((e) => typeof e._source === 'string'));
  const only = (await api(srv, `/customers/${id}/events?type=track&name=Order%20Completed`)).json.events;
  assert.ok(only.length >= 1);
  assert.equal(only.length, all.filter((e) => e.type === 'track' && e.event === 'Order Completed').length);
  const web = (await api(srv, `/customers/${id}/events?source=web&limit=1000`)).json.events;
  assert.equal(web.length, all.filter((e) => e._source === 'web').length);
  // paging a filtered timeline
  const p1 = (await api(srv, `/customers/${id}/events?source=web&limit=2`)).json;
  if (web.length > 2) {
    const p2 = (await api(srv, `/customers/${id}/events?source=web&limit=2&cursor=${p1.next_cursor}`)).json;
    assert.deepEqual([...p1.events, ...p2.events].map((e) => e.messageId), web.slice(0, 4).map((e) => e.messageId));
  }
  assert.equal((await api(srv, `/customers/${id}/events?type=nope`)).status, 400);
  assert.equal((await api(srv, `/customers/${id}/events?source=nope`)).status, 400);
});

test('the dashboard is served at / with a strict policy, gzip and caching', async () => {
  let r = await fetch(srv.url + '/', { headers: { 'accept-encoding': 'identity' } });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  assert.match(r.headers.get('content-security-policy'), /default-src 'self'/);
  assert.equal(r.headers.get('x-frame-options'), 'DENY');
  assert.equal(r.headers.get('cache-control'), 'no-cache');
  const html = await r.text();
  const asset = html.match(/(?:src|href)="(\/assets\/[^"]+\.js)"/);
  assert.ok(asset, html);
  r = await fetch(srv.url + asset[1]); // fetch asks for gzip and inflates
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/javascript/);
  assert.equal(r.headers.get('content-encoding'), 'gzip');
  assert.match(r.headers.get('cache-control'), /immutable/);
  const etag = r.headers.get('etag');
  assert.ok((await r.text()).length > 100);
  r = await fetch(srv.url + asset[1], { headers: { 'if-none-match': etag } });
  assert.equal(r.status, 304);
  r = await fetch(srv.url + asset[1], { headers: { 'accept-encoding': 'gzip;q=0' } });
  assert.equal(r.headers.get('content-encoding'), null);
  r = await fetch(srv.url + '/', { method: 'POST', body: 'x' });
  assert.equal(r.status, 405);
  r = await fetch(srv.url + '/nothing-here');
  assert.equal(r.status, 404);
  assert.equal((await r.json()).error.code, 'not_found');
});

// The default stage rules (lib/profile/stage.c), written again here from
// the guide's table to check the server's answers.
function expectedStage(c, events, now) {
  const DAY = 86400000;
  const count = (name, days) => events.filter((e) => (e.event || e.name) === name &&
    (days === undefined || Date.parse(e.timestamp) > now - days * DAY) && Date.parse(e.timestamp) <= now).length;
  const last = (name) => Math.max(...events.filter((e) => (e.event || e.name) === name).map((e) => Date.parse(e.timestamp)));
  const identified = c.identities.some((i) => i.type !== 'anonymous_id');
  const lastSeen = Date.parse(c.last_seen);
  if (identified && now - lastSeen > 120 * DAY) return 'churned';
  if (count('Order Completed') >= 1 && (now - last('Order Completed')) / DAY > 60) return 'at_risk';
  if (count('Ticket Opened', 14) > count('Ticket Closed', 14)) return 'support_experience';
  if (count('Order Completed') >= 2 && count('Review Submitted') + count('Referral Sent') >= 1) return 'advocacy';
  if (count('Order Completed') >= 2) return 'bonding';
  if (count('Order Completed') >= 1) return 'purchase';
  if (count('Product Added') + count('Checkout Started') >= 1) return 'evaluation';
  return identified ? 'engagement' : 'awareness';
}

test('each customer\'s stage is the first default stage rule that matches', async () => {
  const d = tempDir('cxm-demo-');
  const creds = runDemo(d, { customers: 250, seed: 11 }); // ending now
  const s = await startServer({ data: d, creds });
  try {
    const customers = (await api(s, '/customers?limit=1000')).json.customers;
    const seen = new Map();
    for (const c of customers) {
      const events = (await api(s, `/customers/${c.id}/events?limit=1000`)).json.events;
      assert.ok(events.length < 1000, 'the whole timeline');
      assert.equal(c.stage, expectedStage(c, events, Date.now()), `customer ${c.id}`);
      seen.set(c.stage, (seen.get(c.stage) || 0) + 1);
    }
    assert.ok(seen.size >= 5, `stages seen: ${JSON.stringify([...seen])}`);
  } finally {
    await s.stop();
    rmSync(d, { recursive: true, force: true });
  }
});
