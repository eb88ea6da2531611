// Segments and personas (docs/segments.md) against a live server: members
// follow every event, trait change and merge; a changed rule recomputes;
// members list and CSV export; definitions survive a restart; bad input
// gets a 400 and changes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, track, api } from './server.mjs';
import { uid } from './helpers.mjs';

let srv, data;
const u = {};
const iso = (ms) => new Date(ms).toISOString();
const NOW = Date.now();

async function idOf(userId) {
  const r = await api(srv, `/customers?user_id=${encodeURIComponent(userId)}`);
  return r.json.customers[0]?.id;
}

async function memberIds(segId) {
  const r = await api(srv, `/segments/${segId}/members?limit=1000`);
  assert.equal(r.status, 200, r.text);
  return r.json.members.map((m) => m.id).sort();
}

async function send(batch) {
  const r = await track(srv, '/v1/batch', { batch });
  assert.equal(r.status, 200, r.text);
}

const order = (who, daysAgo, revenue = 10) => ({ type: 'track', userId: u[who], event: 'Order Completed',
  properties: { revenue }, timestamp: iso(NOW - daysAgo * 86400000) });

before(async () => {
  srv = await startServer();
  data = srv.data;
  for (const n of ['ann', 'bob', 'cy', 'dee']) u[n] = uid(n);
  await send([
    { type: 'identify', userId: u.ann, traits: { plan: 'pro', email: `${u.ann}@example.com`, name: '=cmd|calc, "x"' } },
    { type: 'identify', userId: u.bob, traits: { plan: 'free' } },
    { type: 'identify', userId: u.cy, traits: { plan: 'pro' } },
    order('ann', 10, 120), order('ann', 5, 30), order('bob', 3), order('cy', 200),
  ]);
});

after(async () => {
  if (srv) {
    assert.equal((await srv.stop()).code, 0);
    srv.cleanup();
  }
});

let pro, repeat, big;

test('create: the answer has the size; list and get agree', async () => {
  let r = await api(srv, '/segments', { method: 'POST', body: { name: 'Pro plan', rule: 'traits.plan == "pro"' } });
  assert.equal(r.status, 201, r.text);
  pro = r.json;
  assert.match(pro.id, /^\d+$/);
  assert.equal(pro.size, 2); // ann, cy
  assert.equal(pro.persona, null);
  r = await api(srv, '/segments', { method: 'POST', body: {
    name: 'Recent repeat buyers', rule: 'count("Order Completed", 30d) >= 2',
    description: 'Two orders in 30 days', persona: { goals: ['Quick reorder'], pain_points: ['Delivery costs'] } } });
  assert.equal(r.status, 201, r.text);
  repeat = r.json;
  assert.equal(repeat.size, 1); // ann
  assert.deepEqual(repeat.persona, { goals: ['Quick reorder'], pain_points: ['Delivery costs'] });
  r = await api(srv, '/segments', { method: 'POST', body: { name: 'Big spenders', rule: 'sum("Order Completed", "revenue") > 100' } });
  assert.equal(r.status, 201, r.text);
  big = r.json;
  assert.equal(big.size, 1); // ann: 150
  const list = (await api(srv, '/segments')).json.segments;
  assert.deepEqual(list.map((s) => [s.name, s.size]), [['Pro plan', 2], ['Recent repeat buyers', 1], ['Big spenders', 1]]);
  const one = (await api(srv, `/segments/${repeat.id}`)).json;
  assert.equal(one.description, 'Two orders in 30 days');
  assert.ok(Array.isArray(one.sizes) && one.sizes.length === 1 && one.sizes[0].size === 1, JSON.stringify(one.sizes));
  assert.deepEqual(await memberIds(pro.id), [await idOf(u.ann), await idOf(u.cy)].sort());
});

test('preview: the size a rule would have, saving nothing', async () => {
  const count = (await api(srv, '/segments')).json.segments.length;
  const r = await api(srv, '/segments/preview', { method: 'POST', body: { rule: 'traits.plan == "pro"' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.size, 2);
  assert.deepEqual([...r.json.sample].sort(), [await idOf(u.ann), await idOf(u.cy)].sort());
  const bad = await api(srv, '/segments/preview', { method: 'POST', body: { rule: 'traits.plan ==' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, 'rule');
  assert.equal((await api(srv, '/segments/preview')).status, 405);
  assert.equal((await api(srv, '/segments')).json.segments.length, count);
});

test('preview: right at once after a trait changes, a merge and an erasure (the kept columns follow)', async () => {
  const preview = async (rule) => {
    const r = await api(srv, '/segments/preview', { method: 'POST', body: { rule } });
    assert.equal(r.status, 200, r.text);
    return [...r.json.sample].sort();
  };
  const gift = (who) => ({ type: 'track', userId: who, event: 'Gift Sent', timestamp: iso(NOW - 3600000) });
  const ev = uid('eve'), fa = uid('fay');
  await send([{ type: 'identify', userId: ev, traits: { tier: 'gold' } }, { type: 'identify', userId: fa, traits: { tier: 'silver' } },
    gift(ev), gift(fa), gift(fa)]);
  const eve = await idOf(ev), fay = await idOf(fa);
  const gold = 'traits.tier == "gold"', twoGifts = 'count("Gift Sent") >= 2';
  // the first preview loads the tier column and the gift counts; later ones keep them
  assert.deepEqual(await preview(gold), [eve]);
  assert.deepEqual(await preview(twoGifts), [fay]);
  // a trait changes
  await send([{ type: 'identify', userId: fa, traits: { tier: 'gold' } }]);
  assert.deepEqual(await preview(gold), [eve, fay].sort());
  // a visitor with a newer tier and a gift merges into eve: eve is bronze, with two gifts
  const anon = uid('anon');
  await send([{ type: 'identify', anonymousId: anon, traits: { tier: 'bronze' } },
    { type: 'track', anonymousId: anon, event: 'Gift Sent', timestamp: iso(NOW - 1000) }]);
  const visitor = (await api(srv, `/customers?anonymous_id=${anon}`)).json.customers[0].id;
  assert.deepEqual(await preview('traits.tier == "bronze"'), [visitor]);
  await send([{ type: 'identify', userId: ev, anonymousId: anon }]);
  assert.equal(await idOf(ev), eve);
  assert.deepEqual(await preview('traits.tier == "bronze"'), [eve]);
  assert.deepEqual(await preview(gold), [fay]);
  assert.deepEqual(await preview(twoGifts), [eve, fay].sort());
  // fay is erased
  assert.equal((await api(srv, `/customers/${fay}`, { method: 'DELETE' })).status, 200);
  assert.deepEqual(await preview(gold), []);
  assert.deepEqual(await preview(twoGifts), [eve]);
  assert.deepEqual(await preview('has(traits.tier)'), [eve]);
});

test('members follow events, trait changes and merges as they come', async () => {
  // bob orders again: a repeat buyer now; he moves to pro
  await send([order('bob', 1), { type: 'identify', userId: u.bob, traits: { plan: 'pro' } }]);
  assert.equal((await api(srv, `/segments/${repeat.id}`)).json.size, 2);
  assert.equal((await api(srv, `/segments/${pro.id}`)).json.size, 3);
  // cy leaves pro
  await send([{ type: 'identify', userId: u.cy, traits: { plan: 'free' } }]);
  assert.deepEqual(await memberIds(pro.id), [await idOf(u.ann), await idOf(u.bob)].sort());
  // an anonymous visitor with two recent orders joins; then is merged into dee
  // dee is known; an anonymous visitor with two recent orders joins; an
  // identify then proves them one person: the visitor merges into dee
  await send([{ type: 'identify', userId: u.dee, traits: { plan: 'free' }, timestamp: iso(NOW - 9 * 86400000) }]);
  const dee = await idOf(u.dee);
  const anon = uid('anon');
  await track(srv, '/v1/batch', { batch: [
    { type: 'track', anonymousId: anon, event: 'Order Completed', timestamp: iso(NOW - 2 * 86400000) },
    { type: 'track', anonymousId: anon, event: 'Order Completed', timestamp: iso(NOW - 86400000) },
  ] });
  const visitor = (await api(srv, `/customers?anonymous_id=${anon}`)).json.customers[0].id;
  assert.notEqual(visitor, dee);
  const before = await memberIds(repeat.id);
  assert.equal(before.length, 3);
  assert.ok(before.includes(visitor) && !before.includes(dee));
  await send([{ type: 'identify', userId: u.dee, anonymousId: anon, traits: { plan: 'pro' } }]);
  assert.equal(await idOf(u.dee), dee, 'the older customer survives');
  const afterMerge = await memberIds(repeat.id);
  assert.equal(afterMerge.length, 3, 'the merged pair counts once');
  assert.ok(afterMerge.includes(dee) && !afterMerge.includes(visitor), `${dee} in ${afterMerge}`);
  assert.ok((await memberIds(pro.id)).includes(dee));
  // the list agrees with the members
  const listed = (await api(srv, '/segments')).json.segments.find((s) => s.id === repeat.id);
  assert.equal(listed.size, 3);
  // the refresh thread evaluates changes without anyone asking: /metrics
  // (which drains nothing) shows the evaluations grow after an event
  const evaluations = async () => {
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    return Number(/^cxm_segment_evaluations_total (\d+)$/m.exec(text)[1]);
  };
  const seen = await evaluations();
  await send([{ type: 'track', userId: u.ann, event: 'Page Seen', timestamp: iso(NOW) }]); // changes no segment
  let now = seen;
  for (let i = 0; i < 40 && now === seen; i++) {
    await new Promise((r) => setTimeout(r, 100));
    now = await evaluations();
  }
  assert.ok(now > seen, `evaluations ${seen} -> ${now}`);
});

test('a changed rule recomputes; a rename to a taken name is refused', async () => {
  let r = await api(srv, `/segments/${repeat.id}`, { method: 'PATCH', body: { rule: 'count("Order Completed", 30d) >= 3' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.size, 0);
  assert.equal(r.json.description, 'Two orders in 30 days', 'what the request leaves out stays');
  r = await api(srv, `/segments/${repeat.id}`, { method: 'PATCH', body: { rule: 'count("Order Completed", 30d) >= 2' } });
  assert.equal(r.json.size, 3);
  r = await api(srv, `/segments/${repeat.id}`, { method: 'PATCH', body: { name: 'Pro plan' } });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.error.code, 'segment_exists');
  assert.equal((await api(srv, `/segments/${repeat.id}`)).json.name, 'Recent repeat buyers');
});

test('members as CSV: one line per member, fields quoted and formulas defused', async () => {
  const res = await fetch(`${srv.url}/api/v1/segments/${pro.id}/members?format=csv`, {
    headers: { authorization: `Bearer ${srv.adminToken}` } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/csv/);
  const lines = (await res.text()).trimEnd().split('\r\n');
  assert.equal(lines[0], 'id,user_id,email,stage,first_seen,last_seen,event_count');
  assert.equal(lines.length, 1 + (await memberIds(pro.id)).length);
  const ann = lines.find((l) => l.includes(u.ann));
  assert.match(ann, new RegExp(`^\\d+,${u.ann},${u.ann}@example.com,[a-z_]+,\\d{4}-`));
  // paging: limit and cursor
  const page = await api(srv, `/segments/${pro.id}/members?limit=1`);
  assert.equal(page.json.members.length, 1);
  const next = await api(srv, `/segments/${pro.id}/members?limit=1000&cursor=${page.json.next_cursor}`);
  assert.equal(next.json.members.length, (await memberIds(pro.id)).length - 1);
  assert.equal(next.json.next_cursor, null);
});

const bad = [
  [{}, 'name', 'invalid_field'],
  [{ name: '', rule: 'true' }, 'name', 'invalid_field'],
  [{ name: 'x'.repeat(101), rule: 'true' }, 'name', 'invalid_field'],
  [{ name: 'x' }, 'rule', 'invalid_field'],
  [{ name: 'x', rule: 'traits.plan ==' }, 'rule', 'invalid_rule'],
  [{ name: 'x', rule: 'count("a", 30d' }, 'rule', 'invalid_rule'],
  [{ name: 'x', rule: 'nosuch()' }, 'rule', 'invalid_rule'],
  [{ name: 'x', rule: 'count("a")' }, 'rule', 'invalid_rule'],
  [{ name: 'x', rule: 'event.name == "a"' }, 'rule', 'invalid_rule'],
  [{ name: 'x', rule: 'true', colour: 'red' }, 'colour', 'invalid_field'],
  [{ name: 'x', rule: 'true', description: 7 }, 'description', 'invalid_field'],
  [{ name: 'x', rule: 'true', persona: ['a'] }, 'persona', 'invalid_field'],
  [{ name: 'x', rule: 'true', persona: { goals: 'fast' } }, 'persona', 'invalid_field'],
  [{ name: 'x', rule: 'true', persona: { fears: ['x'] } }, 'persona', 'invalid_field'],
];

test('bad input: 400 naming the field, and nothing is saved', async () => {
  const count = (await api(srv, '/segments')).json.segments.length;
  for (const [body, field, code] of bad) {
    const r = await api(srv, '/segments', { method: 'POST', body });
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.error.code, code, r.text);
    assert.equal(r.json.error.field, field, r.text);
  }
  const rule = await api(srv, '/segments', { method: 'POST', body: { name: 'x', rule: 'count("a", 30d' } });
  assert.match(rule.json.error.message, /at \d+: expected/);
  const dupe = await api(srv, '/segments', { method: 'POST', body: { name: 'Pro plan', rule: 'true' } });
  assert.equal(dupe.status, 409);
  const r = await fetch(`${srv.url}/api/v1/segments`, { method: 'POST',
    headers: { authorization: `Bearer ${srv.adminToken}` }, body: '{"name":' });
  assert.equal(r.status, 400);
  const patch = await api(srv, `/segments/${pro.id}`, { method: 'PATCH', body: { rule: 'nosuch(' } });
  assert.equal(patch.status, 400);
  assert.equal((await api(srv, `/segments/${pro.id}`)).json.rule, 'traits.plan == "pro"');
  assert.equal((await api(srv, '/segments')).json.segments.length, count);
  for (const [path, method, status] of [['/segments/999', 'GET', 404], ['/segments/999/members', 'GET', 404],
    ['/segments/999', 'PATCH', 404], ['/segments/999', 'DELETE', 404], ['/segments/abc', 'GET', 404],
    ['/segments/1/nosuch', 'GET', 404], ['/segments', 'DELETE', 405], [`/segments/${pro.id}/members`, 'POST', 405]]) {
    const x = await api(srv, path, { method, body: method === 'GET' || method === 'DELETE' ? undefined : {} });
    assert.equal(x.status, status, `${method} ${path}: ${x.text}`);
  }
  const f = await api(srv, `/segments/${pro.id}/members?format=xml`);
  assert.equal(f.status, 400);
  assert.equal(f.json.error.field, 'format');
});

test('definitions survive a restart; members are computed again', async () => {
  const sizes = Object.fromEntries((await api(srv, '/segments')).json.segments.map((s) => [s.name, s.size]));
  assert.equal((await srv.stop()).code, 0);
  srv = await startServer({ data, creds: srv.creds });
  const again = Object.fromEntries((await api(srv, '/segments')).json.segments.map((s) => [s.name, s.size]));
  assert.deepEqual(again, sizes);
  const one = (await api(srv, `/segments/${repeat.id}`)).json;
  assert.deepEqual(one.persona, { goals: ['Quick reorder'], pain_points: ['Delivery costs'] });
  assert.ok(one.sizes.length >= 1);
});

test('delete: 204, then gone', async () => {
  const r = await api(srv, `/segments/${big.id}`, { method: 'DELETE' });
  assert.equal(r.status, 204);
  assert.equal((await api(srv, `/segments/${big.id}`)).status, 404);
  assert.ok(!(await api(srv, '/segments')).json.segments.some((s) => s.id === big.id));
});

test('RFM: scores from quintiles of the buyers, groups from the recency × frequency grid', async () => {
  // ten buyers: buyer i bought i+1 times, the last i*10 days ago, revenue 10 each
  const names = [];
  const batch = [];
  for (let i = 0; i < 10; i++) {
    const who = uid(`rfm${i}`);
    names.push(who);
    for (let k = 0; k <= i; k++)
      batch.push({ type: 'track', userId: who, event: 'Plan Renewed', properties: { amount: 10 },
        timestamp: iso(NOW - (i * 10 + k) * 86400000) });
  }
  await send(batch);
  const r = await api(srv, '/segments/rfm?purchase_event=Plan%20Renewed&revenue_property=amount');
  assert.equal(r.status, 200, r.text);
  const x = r.json;
  assert.equal(x.buyers, 10);
  assert.equal(x.grid.flat().reduce((a, b) => a + b, 0), 10);
  assert.equal(x.groups.reduce((a, g) => a + g.customers, 0), 10);
  // the most recent buyers bought least: "New customers" (R5 F1) ... the
  // oldest bought most: "Can't lose them" (R1 F5)
  const g = Object.fromEntries(x.groups.map((y) => [y.name, y]));
  assert.equal(g['New customers'].customers, 2);
  assert.equal(g["Can't lose them"].customers, 2);
  assert.equal(g["Can't lose them"].avg_monetary, 95); // 9 and 10 renewals of 10
  assert.deepEqual(x.thresholds.frequency, [2, 4, 6, 8]);
  const none = await api(srv, '/segments/rfm?purchase_event=Plan%20Renewed&revenue_property=');
  assert.equal(none.json.revenue_property, null);
  for (const [q, field] of [['purchase_event=Never', 'purchase_event'], ['revenue_property=a.b', 'revenue_property']]) {
    const e = await api(srv, `/segments/rfm?${q}`);
    assert.equal(e.status, 400, e.text);
    assert.equal(e.json.error.field, field);
  }
  assert.equal((await api(srv, '/segments/rfm', { method: 'POST', body: {} })).status, 405);
});
