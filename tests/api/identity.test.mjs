// Identity resolution and the single customer view against a live server:
// linking by userId / anonymousId / e-mail, merges, traits by event time,
// accounts, search, paging, the admin API's auth and errors, and sources.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, track, api } from './server.mjs';
import {
  ISO_MS, uid, stats, findCustomers, customerByUser, getCustomer, allEvents, eventsOfUser,
  assertError, request, basic, ms,
} from './helpers.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => {
  const r = await srv.stop();
  srv.cleanup();
  assert.equal(r.code, 0, 'cxm serve must exit 0 on SIGTERM');
});

async function send(path, body) {
  const r = await track(srv, path, body);
  assert.equal(r.status, 200, `${path}: ${r.text}`);
}

async function merges(query = '') {
  const r = await api(srv, `/merges${query}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// Every customer of a list query, following next_cursor.
async function listAll(query, limit) {
  const out = [];
  const pages = [];
  let cursor = null;
  for (let i = 0; i < 1000; i++) {
    const sep = query ? '&' : '';
    const r = await api(srv, `/customers?${query}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(r.status, 200, r.text);
    pages.push(r.json);
    out.push(...r.json.customers);
    cursor = r.json.next_cursor;
    if (cursor === null) return { customers: out, pages };
    assert.equal(typeof cursor, 'string');
  }
  throw new Error('customer paging did not end');
}

// ---------------------------------------------------------------- linking

test('anonymous events, then identify(userId, anonymousId): one customer holds everything', async () => {
  const a = uid('anon');
  const u = uid('user');
  const before = await stats(srv);
  await send('/v1/page', { anonymousId: a, name: 'Landing' });
  await send('/v1/track', { anonymousId: a, event: 'Viewed Product' });
  await send('/v1/track', { anonymousId: a, event: 'Added To Cart' });
  const anonCust = await findCustomers(srv, 'anonymous_id', a);
  assert.equal(anonCust.length, 1);
  assert.equal(anonCust[0].stage, 'awareness');
  await send('/v1/identify', { userId: u, anonymousId: a, traits: { name: 'Ada' } });
  await send('/v1/track', { userId: u, event: 'Order Completed' });
  const c = await customerByUser(srv, u);
  assert.equal(c.id, anonCust[0].id, 'the identify lands on the anonymous customer');
  assert.equal(c.event_count, 5);
  assert.deepEqual(c.identities, [{ type: 'user_id', value: u }, { type: 'anonymous_id', value: a }]);
  assert.equal(c.stage, 'purchase', 'identified, and one order (the default stage rules)');
  assert.deepEqual(c.traits, { name: 'Ada' });
  assert.match(c.first_seen, ISO_MS);
  assert.match(c.last_seen, ISO_MS);
  assert.ok(ms(c.first_seen) <= ms(c.last_seen));
  const { events } = await allEvents(srv, c.id);
  assert.deepEqual(events.map((e) => e.event ?? e.name ?? e.type).sort(),
    ['Added To Cart', 'Landing', 'Order Completed', 'Viewed Product', 'identify']);
  const after = await stats(srv);
  assert.equal(after.customers, before.customers + 1);
  assert.equal(after.events, before.events + 5);
});

test('e-mail links devices: identify traits.email, then context.traits.email, case-insensitively', async () => {
  const u = uid('mail');
  const a = uid('phone');
  const tag = uid('gh').toLowerCase();
  await send('/v1/identify', { userId: u, traits: { email: `Grace.Hopper.${tag}@Example.COM`, name: 'Grace' } });
  await send('/v1/track', { anonymousId: a, event: 'Opened App', context: { traits: { email: `grace.hopper.${tag}@example.com` } } });
  const c = await customerByUser(srv, u);
  assert.equal(c.event_count, 2, 'the track from the phone lands on the same customer');
  assert.ok(c.identities.some((i) => i.type === 'email' && i.value === `grace.hopper.${tag}@example.com`), JSON.stringify(c.identities));
  assert.ok(c.identities.some((i) => i.type === 'anonymous_id' && i.value === a), JSON.stringify(c.identities));
  for (const q of [`grace.hopper.${tag}@example.com`, `GRACE.HOPPER.${tag.toUpperCase()}@EXAMPLE.COM`, `Grace.Hopper.${tag}@example.Com`]) {
    const found = await findCustomers(srv, 'email', q);
    assert.deepEqual(found.map((x) => x.id), [c.id], `email=${q}`);
  }
  assert.deepEqual((await findCustomers(srv, 'anonymous_id', a)).map((x) => x.id), [c.id]);
});

test('identify merges two existing customers: the older survives and the merge is recorded', async () => {
  const a = uid('anon');
  const u = uid('user');
  const mid = uid('merge-msg');
  await send('/v1/track', { anonymousId: a, event: 'Browsed' });
  await send('/v1/track', { anonymousId: a, event: 'Browsed Again' });
  const older = (await findCustomers(srv, 'anonymous_id', a))[0];
  await send('/v1/track', { userId: u, event: 'Logged In' });
  const newer = await customerByUser(srv, u);
  assert.ok(Number(older.id) < Number(newer.id));
  const before = await stats(srv);
  await send('/v1/identify', { userId: u, anonymousId: a, messageId: mid, traits: { plan: 'pro' } });
  const after = await stats(srv);
  assert.equal(after.customers, before.customers - 1);
  assert.equal(after.merged_customers, before.merged_customers + 1);

  const c = await customerByUser(srv, u);
  assert.equal(c.id, older.id, 'the older customer survives');
  assert.equal(c.event_count, 4);
  assert.deepEqual(c.traits, { plan: 'pro' });
  assert.deepEqual(c.identities.map((i) => `${i.type}:${i.value}`).sort(), [`anonymous_id:${a}`, `user_id:${u}`].sort());
  // the merged-away id answers with the survivor
  const gone = await getCustomer(srv, newer.id);
  assert.equal(gone.id, older.id);
  assert.equal(gone.event_count, 4);
  assert.equal((await allEvents(srv, newer.id)).events.length, 4);
  // the merge is listed, with its reason and message
  const m = await merges(`?customer_id=${newer.id}`);
  assert.equal(m.merges.length, 1, JSON.stringify(m));
  assert.equal(m.merges[0].from, newer.id);
  assert.equal(m.merges[0].into, older.id);
  assert.equal(m.merges[0].reason, 'identify');
  assert.equal(m.merges[0].message_id, mid);
  assert.match(m.merges[0].at, ISO_MS);
  assert.equal(m.next_cursor, null);
  assert.deepEqual((await merges(`?customer_id=${older.id}`)).merges.map((x) => x.id), [m.merges[0].id]);
  // the customer list no longer shows the merged-away id
  const all = await listAll('', 1000);
  assert.ok(!all.customers.some((x) => x.id === newer.id));
  assert.ok(all.customers.some((x) => x.id === older.id));
});

test('after a merge the timeline interleaves both customers\' events by event time', async () => {
  const a = uid('anon');
  const u = uid('user');
  const at = (h) => `2024-07-01T${String(h).padStart(2, '0')}:00:00.000Z`;
  await send('/v1/track', { anonymousId: a, event: 'A1', timestamp: at(1) });
  await send('/v1/track', { anonymousId: a, event: 'A3', timestamp: at(3) });
  await send('/v1/track', { userId: u, event: 'U2', timestamp: at(2) });
  await send('/v1/track', { userId: u, event: 'U4', timestamp: at(4) });
  await send('/v1/identify', { userId: u, anonymousId: a, timestamp: at(5) });
  const c = await customerByUser(srv, u);
  assert.equal(c.first_seen, at(1));
  assert.equal(c.last_seen, at(5));
  const { events, pages } = await allEvents(srv, c.id, 2);
  assert.equal(pages.length, 3);
  assert.deepEqual(events.map((e) => e.event ?? e.type), ['identify', 'U4', 'A3', 'U2', 'A1']);
});

test('alias merges two customers with different userIds', async () => {
  const oldId = uid('old');
  const newId = uid('new');
  const mid = uid('alias-msg');
  await send('/v1/track', { userId: oldId, event: 'Old Account Event' });
  await send('/v1/track', { userId: newId, event: 'New Account Event' });
  const cOld = await customerByUser(srv, oldId);
  const cNew = await customerByUser(srv, newId);
  assert.notEqual(cOld.id, cNew.id);
  await send('/v1/alias', { userId: newId, previousId: oldId, messageId: mid });
  const a = await customerByUser(srv, newId);
  const b = await customerByUser(srv, oldId);
  assert.equal(a.id, cOld.id);
  assert.equal(b.id, cOld.id);
  assert.equal(a.event_count, 3);
  assert.deepEqual(a.identities.filter((i) => i.type === 'user_id').map((i) => i.value).sort(), [oldId, newId].sort());
  const m = await merges(`?customer_id=${cNew.id}`);
  assert.equal(m.merges.length, 1);
  assert.deepEqual(
    { from: m.merges[0].from, into: m.merges[0].into, reason: m.merges[0].reason, message_id: m.merges[0].message_id },
    { from: cNew.id, into: cOld.id, reason: 'alias', message_id: mid },
  );
});

test('alias with an unknown previousId links that anonymous id to the user', async () => {
  const u = uid('user');
  const prev = uid('device');
  await send('/v1/alias', { userId: u, previousId: prev });
  await send('/v1/track', { anonymousId: prev, event: 'Later On Device' });
  const c = await customerByUser(srv, u);
  assert.equal(c.event_count, 2);
  assert.deepEqual((await findCustomers(srv, 'anonymous_id', prev)).map((x) => x.id), [c.id]);
});

test('customers with different userIds are never merged by a shared anonymousId or e-mail', async () => {
  const shared = uid('shared-device');
  const u1 = uid('u1');
  const u2 = uid('u2');
  const email = `${uid('family')}@example.com`;
  const before = await stats(srv);
  await send('/v1/identify', { userId: u1, anonymousId: shared, traits: { email, name: 'One' } });
  await send('/v1/identify', { userId: u2, anonymousId: shared, traits: { email, name: 'Two' } });
  await send('/v1/track', { userId: u2, event: 'Own Event', context: { traits: { email } } });
  const c1 = await customerByUser(srv, u1);
  const c2 = await customerByUser(srv, u2);
  assert.notEqual(c1.id, c2.id);
  assert.equal(c1.event_count, 1);
  assert.equal(c2.event_count, 2);
  assert.deepEqual(c1.traits, { email, name: 'One' });
  assert.deepEqual(c2.traits, { email, name: 'Two' });
  assert.ok(!c2.identities.some((i) => i.type === 'user_id' && i.value === u1));
  assert.ok(!c1.identities.some((i) => i.type === 'user_id' && i.value === u2));
  // the shared identities stay with the first holder
  assert.deepEqual((await findCustomers(srv, 'anonymous_id', shared)).map((x) => x.id), [c1.id]);
  assert.deepEqual((await findCustomers(srv, 'email', email)).map((x) => x.id), [c1.id]);
  assert.equal((await merges(`?customer_id=${c1.id}`)).merges.length, 0);
  assert.equal((await merges(`?customer_id=${c2.id}`)).merges.length, 0);
  const after = await stats(srv);
  assert.equal(after.customers, before.customers + 2);
  assert.equal(after.merged_customers, before.merged_customers);
});

// ---------------------------------------------------------------- traits

test('traits merge by event time: an older identify does not overwrite a newer trait', async () => {
  const u = uid('traits');
  await send('/v1/identify', { userId: u, timestamp: '2024-03-02T00:00:00Z', traits: { plan: 'pro', city: 'Oslo' } });
  await send('/v1/identify', { userId: u, timestamp: '2024-03-01T00:00:00Z', traits: { plan: 'free', tier: 'gold' } });
  assert.deepEqual((await customerByUser(srv, u)).traits, { plan: 'pro', city: 'Oslo', tier: 'gold' });
  await send('/v1/identify', { userId: u, timestamp: '2024-03-03T00:00:00Z', traits: { plan: 'enterprise', seats: 10 } });
  assert.deepEqual((await customerByUser(srv, u)).traits, { plan: 'enterprise', city: 'Oslo', tier: 'gold', seats: 10 });
  // the late old message is still on the timeline
  assert.equal((await customerByUser(srv, u)).event_count, 3);
});

test('traits follow a merge, the newer value of each trait winning', async () => {
  const a = uid('anon');
  const u = uid('user');
  await send('/v1/identify', { anonymousId: a, timestamp: '2024-01-10T00:00:00Z', traits: { color: 'red', shape: 'round' } });
  await send('/v1/identify', { userId: u, timestamp: '2024-01-05T00:00:00Z', traits: { color: 'blue', size: 'L' } });
  await send('/v1/identify', { userId: u, timestamp: '2024-01-15T00:00:00Z', traits: { shape: 'square' } });
  await send('/v1/identify', { userId: u, anonymousId: a, timestamp: '2024-01-01T00:00:00Z' });
  const c = await customerByUser(srv, u);
  assert.deepEqual((await findCustomers(srv, 'anonymous_id', a)).map((x) => x.id), [c.id]);
  assert.deepEqual(c.traits, { color: 'red', shape: 'square', size: 'L' });
});

// ---------------------------------------------------------------- accounts

test('group records the account with its traits and members', async () => {
  const g = uid('acme');
  const m1 = uid('member');
  const m2 = uid('member');
  await send('/v1/group', { userId: m1, groupId: g, timestamp: '2024-06-02T00:00:00Z', traits: { name: 'Acme Inc', plan: 'enterprise' } });
  await send('/v1/group', { userId: m2, groupId: g, timestamp: '2024-06-01T00:00:00Z', traits: { plan: 'startup', industry: 'rockets' } });
  const c1 = await customerByUser(srv, m1);
  const c2 = await customerByUser(srv, m2);
  const r = await api(srv, `/accounts/${g}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.id, g);
  assert.match(r.json.created_at, ISO_MS);
  assert.deepEqual(r.json.traits, { name: 'Acme Inc', plan: 'enterprise', industry: 'rockets' });
  assert.deepEqual([...r.json.members].sort(), [c1.id, c2.id].sort());
  assert.deepEqual(c1.accounts, [g]);
  assert.deepEqual(c2.accounts, [g]);
  // group traits are the account's, not the person's
  assert.deepEqual(c1.traits, {});
  const missing = await api(srv, `/accounts/${uid('nope')}`);
  assertError(missing, 404, 'account_not_found', undefined);
});

// ---------------------------------------------------------------- search

test('search by user_id, anonymous_id, email and q (identity and trait text)', async () => {
  const tag = uid('srch').toLowerCase();
  const u = `${tag}-user`;
  const a = `${tag}-anon`;
  const email = `${tag}@example.org`;
  await send('/v1/identify', { userId: u, anonymousId: a, traits: { email, name: `Ada Lovelace ${tag}`, company: 'Analytical Engines' } });
  await send('/v1/identify', { userId: `${tag}-other`, traits: { name: 'Charles Babbage' } });
  const c = await customerByUser(srv, u);
  assert.deepEqual((await findCustomers(srv, 'user_id', u)).map((x) => x.id), [c.id]);
  assert.deepEqual((await findCustomers(srv, 'anonymous_id', a)).map((x) => x.id), [c.id]);
  assert.deepEqual((await findCustomers(srv, 'email', email)).map((x) => x.id), [c.id]);
  // exact lookups do not match parts of an id
  assert.deepEqual(await findCustomers(srv, 'user_id', tag), []);
  assert.deepEqual(await findCustomers(srv, 'user_id', uid('nobody')), []);
  // q: identity text, case-insensitive
  const byId = await findCustomers(srv, 'q', `${tag.toUpperCase()}-USER`);
  assert.deepEqual(byId.map((x) => x.id), [c.id]);
  const byTag = await findCustomers(srv, 'q', tag);
  assert.equal(byTag.length, 2);
  // q: trait text
  const byTrait = await findCustomers(srv, 'q', `lovelace ${tag}`);
  assert.deepEqual(byTrait.map((x) => x.id), [c.id]);
  assert.ok((await findCustomers(srv, 'q', 'analytical engines')).some((x) => x.id === c.id));
  assert.deepEqual(await findCustomers(srv, 'q', uid('no-such-text')), []);
  const r = await api(srv, `/customers?q=${uid('none')}`);
  assert.deepEqual(r.json, { customers: [], next_cursor: null });
});

test('customer list paging: limit, cursor, next_cursor null at the end', async () => {
  const tag = uid('page').toLowerCase();
  for (let i = 0; i < 7; i++) await send('/v1/identify', { userId: `${tag}-${i}`, traits: { i } });
  const { customers, pages } = await listAll(`q=${tag}`, 3);
  assert.deepEqual(pages.map((p) => p.customers.length), [3, 3, 1]);
  assert.equal(typeof pages[0].next_cursor, 'string');
  assert.equal(pages[2].next_cursor, null);
  const users = customers.map((c) => c.identities.find((i) => i.type === 'user_id').value).sort();
  assert.deepEqual(users, Array.from({ length: 7 }, (_, i) => `${tag}-${i}`));
  assert.equal(new Set(customers.map((c) => c.id)).size, 7);
  // a last page that is exactly full ends with null too
  const exact = await api(srv, `/customers?q=${tag}&limit=7`);
  assert.equal(exact.json.customers.length, 7);
  assert.equal(exact.json.next_cursor, null);
  // the whole list, page by page, holds every customer once
  const all = await listAll('', 4);
  const s = await stats(srv);
  assert.equal(all.customers.length, s.customers);
  assert.equal(new Set(all.customers.map((c) => c.id)).size, s.customers);
  for (const p of all.pages.slice(0, -1)) assert.equal(p.customers.length, 4);
  for (const c of customers) assert.ok(all.customers.some((x) => x.id === c.id));
});

test('timeline paging: newest first by event time, every event exactly once', async () => {
  const u = uid('timeline');
  const base = Date.parse('2024-02-01T00:00:00Z');
  // 20 events at distinct times, sent out of order, and 3 sharing one time
  const times = Array.from({ length: 20 }, (_, i) => base + i * 3_600_000);
  const order = [13, 2, 19, 7, 0, 11, 5, 16, 9, 3, 18, 1, 14, 6, 10, 17, 4, 12, 8, 15];
  const msgs = order.map((i) => ({ type: 'track', userId: u, event: `E${i}`, messageId: `${u}-${i}`, timestamp: new Date(times[i]).toISOString() }));
  await send('/v1/batch', { batch: msgs.slice(0, 10) });
  for (const m of msgs.slice(10)) await send('/v1/track', m);
  for (let k = 0; k < 3; k++) await send('/v1/track', { userId: u, event: `Tie${k}`, messageId: `${u}-tie${k}`, timestamp: new Date(base + 5 * 3_600_000).toISOString() });
  const c = await customerByUser(srv, u);
  assert.equal(c.event_count, 23);
  const { events, pages } = await allEvents(srv, c.id, 4);
  assert.deepEqual(pages.map((p) => p.events.length), [4, 4, 4, 4, 4, 3]);
  for (const p of pages.slice(0, -1)) assert.equal(typeof p.next_cursor, 'string');
  assert.equal(pages.at(-1).next_cursor, null);
  const ids = events.map((e) => e.messageId);
  assert.equal(new Set(ids).size, 23, 'an event was repeated across pages');
  assert.deepEqual([...ids].sort(), [...msgs.map((m) => m.messageId), `${u}-tie0`, `${u}-tie1`, `${u}-tie2`].sort());
  for (let i = 1; i < events.length; i++)
    assert.ok(ms(events[i - 1].timestamp) >= ms(events[i].timestamp), `not newest first at ${i}: ${events[i - 1].timestamp} < ${events[i].timestamp}`);
  assert.equal(events[0].event, 'E19');
  assert.equal(events.at(-1).event, 'E0');
  // one page that fits exactly; and the default limit
  const exact = await api(srv, `/customers/${c.id}/events?limit=23`);
  assert.equal(exact.json.events.length, 23);
  assert.equal(exact.json.next_cursor, null);
  const dflt = await api(srv, `/customers/${c.id}/events`);
  assert.deepEqual(dflt.json.events.map((e) => e.messageId), ids);
});

test('identities, merges, traits and timelines survive a graceful restart', async () => {
  const s1 = await startServer();
  let s2;
  try {
    const t = (s, p, b) => track(s, p, b).then((r) => assert.equal(r.status, 200, r.text));
    await t(s1, '/v1/track', { anonymousId: 'r-anon', event: 'Anon', timestamp: '2024-04-01T00:00:00Z' });
    await t(s1, '/v1/track', { userId: 'r-user', event: 'User', timestamp: '2024-04-03T00:00:00Z' });
    await t(s1, '/v1/identify', { userId: 'r-user', anonymousId: 'r-anon', timestamp: '2024-04-02T00:00:00Z', traits: { email: 'R@Example.com', plan: 'pro' } });
    await t(s1, '/v1/group', { userId: 'r-user', groupId: 'r-acct', traits: { name: 'R Corp' } });
    const before = await customerByUser(s1, 'r-user');
    const beforeEvents = (await allEvents(s1, before.id)).events;
    const beforeMerges = (await api(s1, '/merges')).json;
    const beforeStats = await stats(s1);
    assert.equal(beforeMerges.merges.length, 1);
    assert.equal((await s1.stop()).code, 0);

    s2 = await startServer({ data: s1.data, creds: s1.creds });
    const after = await customerByUser(s2, 'r-user');
    assert.deepEqual(after, before);
    assert.deepEqual((await allEvents(s2, after.id)).events, beforeEvents);
    assert.deepEqual((await api(s2, '/merges')).json, beforeMerges);
    assert.deepEqual(await stats(s2), { ...beforeStats, duplicates_dropped: 0 });
    const mergedAway = beforeMerges.merges[0].from;
    assert.equal((await getCustomer(s2, mergedAway)).id, before.id);
    // new messages find the same customer by each identity
    await t(s2, '/v1/track', { anonymousId: 'r-anon', event: 'Back Again' });
    await t(s2, '/v1/track', { anonymousId: 'r-laptop', event: 'By Mail', context: { traits: { email: 'r@EXAMPLE.com' } } });
    const now = await customerByUser(s2, 'r-user');
    assert.equal(now.id, before.id);
    assert.equal(now.event_count, before.event_count + 2);
    assert.equal((await stats(s2)).customers, beforeStats.customers);
  } finally {
    if (s2) assert.equal((await s2.stop()).code, 0);
    s1.cleanup();
  }
});

test('events dated before 1970 keep their dates in the customer view and page correctly', async () => {
  const u = uid('history');
  const dates = ['1969-07-20T20:17:00.000Z', '1955-11-05T06:00:00.000Z', '2024-07-20T20:17:00.000Z', '1970-01-01T00:00:00.000Z'];
  for (const [i, t] of dates.entries()) await send('/v1/track', { userId: u, event: `H${i}`, timestamp: t });
  const c = await customerByUser(srv, u);
  assert.equal(c.first_seen, '1955-11-05T06:00:00.000Z');
  assert.equal(c.last_seen, '2024-07-20T20:17:00.000Z');
  const { events } = await allEvents(srv, c.id, 1);
  assert.deepEqual(events.map((e) => e.timestamp), [...dates].sort().reverse());
});

// ---------------------------------------------------------------- admin API

test('admin API auth: no token or a wrong one is 401', async () => {
  for (const headers of [
    {},
    { authorization: 'Bearer cxm_at_00000000000000000000000000000000' },
    { authorization: `Bearer ${srv.writeKey}` },
    { authorization: basic(srv.adminToken) },
    { authorization: 'Bearer ' },
  ]) {
    for (const path of ['/api/v1/customers', '/api/v1/stats', '/api/v1/sources', '/api/v1/nope']) {
      const r = await request(srv, 'GET', path, { headers });
      assertError(r, 401, 'unauthorized', null);
      assert.match(r.headers.get('www-authenticate') || '', /^Bearer/);
      assert.ok(!r.text.includes('"customers"'));
    }
  }
  const ok = await request(srv, 'GET', '/api/v1/stats', { headers: { authorization: `Bearer ${srv.adminToken}` } });
  assert.equal(ok.status, 200);
});

test('admin API errors: unknown resource 404, unknown customer 404, wrong method 405', async () => {
  assertError(await api(srv, '/nope'), 404, 'not_found', null);
  assertError(await api(srv, '/customers/1/nope'), 404, 'not_found', null);
  const c404 = await api(srv, '/customers/987654321');
  assertError(c404, 404, 'customer_not_found', 'id');
  assert.deepEqual(Object.keys(c404.json), ['error']);
  assertError(await api(srv, '/customers/987654321/events'), 404, 'customer_not_found', 'id');
  assertError(await api(srv, '/customers/abc'), 404, 'customer_not_found', 'id');
  assertError(await api(srv, '/customers/0'), 404, 'customer_not_found', 'id');
  assertError(await api(srv, '/customers', { method: 'POST', body: {} }), 405, 'method_not_allowed', null);
});

test('bad limit or cursor is 400 invalid_parameter naming the parameter', async () => {
  const u = uid('params');
  await send('/v1/track', { userId: u, event: 'E' });
  const c = await customerByUser(srv, u);
  const cases = [
    ['/customers?limit=0', 'limit'],
    ['/customers?limit=1001', 'limit'],
    ['/customers?limit=ten', 'limit'],
    ['/customers?limit=-3', 'limit'],
    ['/customers?cursor=abc', 'cursor'],
    ['/customers?cursor=-5', 'cursor'],
    ['/customers?q=x&cursor=zz', 'cursor'],
    [`/customers/${c.id}/events?limit=0`, 'limit'],
    [`/customers/${c.id}/events?limit=5000`, 'limit'],
    [`/customers/${c.id}/events?cursor=abc`, 'cursor'],
    [`/customers/${c.id}/events?cursor=123`, 'cursor'],
    [`/customers/${c.id}/events?cursor=123_0`, 'cursor'],
    [`/customers/${c.id}/events?cursor=x_y`, 'cursor'],
    ['/merges?limit=abc', 'limit'],
    ['/merges?cursor=abc', 'cursor'],
    ['/merges?customer_id=abc', 'customer_id'],
  ];
  for (const [path, field] of cases) assertError(await api(srv, path), 400, 'invalid_parameter', field);
  // and the limits at their ends are fine
  assert.equal((await api(srv, '/customers?limit=1')).status, 200);
  assert.equal((await api(srv, '/customers?limit=1000')).status, 200);
});

test('merges list pages with limit and cursor, newest first', async () => {
  const mids = [];
  for (let i = 0; i < 3; i++) {
    const a = uid('pa');
    const u = uid('pu');
    await send('/v1/track', { anonymousId: a, event: 'E' });
    await send('/v1/track', { userId: u, event: 'E' });
    const mid = uid('pm');
    mids.push(mid);
    await send('/v1/identify', { userId: u, anonymousId: a, messageId: mid });
  }
  const seen = [];
  let cursor = null;
  for (let i = 0; i < 100; i++) {
    const m = await merges(`?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
    assert.ok(m.merges.length <= 1);
    seen.push(...m.merges);
    cursor = m.next_cursor;
    if (cursor === null) break;
  }
  const total = (await merges('?limit=1000')).merges;
  assert.equal(seen.length, total.length);
  assert.deepEqual(seen.map((m) => m.id), total.map((m) => m.id));
  for (let i = 1; i < seen.length; i++) assert.ok(Number(seen[i - 1].id) > Number(seen[i].id));
  assert.deepEqual(seen.slice(0, 3).map((m) => m.message_id), [...mids].reverse());
});

// ---------------------------------------------------------------- sources

test('sources: create one, its write key works and the event is recorded', async () => {
  const name = `web-${uid('s')}`;
  const r = await api(srv, '/sources', { method: 'POST', body: { name } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.name, name);
  assert.match(r.json.id, /^\d+$/);
  assert.match(r.json.write_key, /^wk_[0-9a-f]{32}$/);
  assert.notEqual(r.json.write_key, srv.writeKey);
  const key = r.json.write_key;
  const u = uid('src');
  const t1 = await track(srv, '/v1/track', { userId: u, event: 'From Web' }, { key });
  assert.equal(t1.status, 200, t1.text);
  const t2 = await track(srv, '/v1/identify', { userId: u, traits: { via: 'body' }, writeKey: key }, { key: null });
  assert.equal(t2.status, 200, t2.text);
  const evs = await eventsOfUser(srv, u);
  assert.equal(evs.length, 2);
  for (const e of evs) assert.ok(!JSON.stringify(e).includes(key));
  // the first key still works
  assert.equal((await track(srv, '/v1/track', { userId: u, event: 'Default' })).status, 200);
  // listed, without any key
  const l = await api(srv, '/sources');
  assert.equal(l.status, 200, l.text);
  const names = l.json.sources.map((s) => s.name);
  assert.ok(names.includes('default'));
  assert.ok(names.includes(name));
  const mine = l.json.sources.find((s) => s.name === name);
  assert.equal(mine.id, r.json.id);
  assert.match(mine.created_at, ISO_MS);
  for (const s of l.json.sources) {
    assert.equal(s.write_key, undefined);
    assert.equal(s.key_hash, undefined);
  }
  assert.ok(!l.text.includes(key) && !l.text.includes(srv.writeKey), 'a write key leaked into the list');
  assert.ok(!/[0-9a-f]{64}/.test(l.text), 'a key hash leaked into the list');
});

test('sources: duplicate name 409, invalid name 400', async () => {
  const name = `app-${uid('s')}`;
  assert.equal((await api(srv, '/sources', { method: 'POST', body: { name } })).status, 201);
  assertError(await api(srv, '/sources', { method: 'POST', body: { name } }), 409, 'source_exists', 'name');
  assertError(await api(srv, '/sources', { method: 'POST', body: { name: 'default' } }), 409, 'source_exists', 'name');
  for (const bad of ['', 'a/b', 'x'.repeat(64), 'tab\there', 'é-store', 42, null, ['web']]) {
    assertError(await api(srv, '/sources', { method: 'POST', body: { name: bad } }), 400, 'invalid_field', 'name');
  }
  assertError(await api(srv, '/sources', { method: 'POST', body: {} }), 400, 'invalid_field', 'name');
  const raw = await request(srv, 'POST', '/api/v1/sources', {
    headers: { authorization: `Bearer ${srv.adminToken}`, 'content-type': 'application/json' },
    body: '{"name":',
  });
  assertError(raw, 400, 'malformed_json', undefined);
  // nothing of the refused ones was created
  const l = (await api(srv, '/sources')).json.sources;
  assert.equal(l.filter((s) => s.name === name).length, 1);
  assert.ok(!l.some((s) => s.name === 'a/b' || s.name === ''));
});

test('sources: a new source\'s write key still works after a restart', async () => {
  const s1 = await startServer();
  let s2;
  try {
    const r = await api(s1, '/sources', { method: 'POST', body: { name: 'call centre' } });
    assert.equal(r.status, 201, r.text);
    assert.equal((await s1.stop()).code, 0);
    s2 = await startServer({ data: s1.data, creds: s1.creds });
    const t = await track(s2, '/v1/track', { userId: 'after-restart', event: 'Called' }, { key: r.json.write_key });
    assert.equal(t.status, 200, t.text);
    assert.equal((await eventsOfUser(s2, 'after-restart')).length, 1);
    assert.deepEqual((await api(s2, '/sources')).json.sources.map((s) => s.name), ['default', 'call centre']);
  } finally {
    if (s2) assert.equal((await s2.stop()).code, 0);
    s1.cleanup();
  }
});
