// The Segment-compatible Tracking API against a live `cxm serve`: what each
// endpoint stores, auth, gzip, messageId, dedupe, clock skew, batch merging,
// the limits, and every kind of bad input (rejected, and nothing stored).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { startServer, track, api } from './server.mjs';
import {
  ISO_MS, UUID, uid, stats, customerByUser, getCustomer, allEvents, eventsOfUser, assertError,
  expectRejected, request, basic, sizedJson, ms, parseMetrics, withServer,
} from './helpers.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => {
  const r = await srv.stop();
  srv.cleanup();
  assert.equal(r.code, 0, 'cxm serve must exit 0 on SIGTERM');
});

// Checks what every stored message carries.
function assertStoredShape(ev) {
  assert.equal(typeof ev.messageId, 'string');
  assert.ok(ev.messageId.length > 0);
  assert.match(ev.timestamp, ISO_MS);
  assert.match(ev.receivedAt, ISO_MS);
  assert.ok(Math.abs(ms(ev.receivedAt) - Date.now()) < 60_000, `receivedAt ${ev.receivedAt} is not now`);
  assert.equal(ev.writeKey, undefined, 'writeKey must never be stored');
  assert.ok(!JSON.stringify(ev).includes(srv.writeKey), 'the write key leaked into the stored message');
}

async function onlyEventOf(userId) {
  const evs = await eventsOfUser(srv, userId);
  assert.equal(evs.length, 1, `expected one event for ${userId}, got ${JSON.stringify(evs)}`);
  assertStoredShape(evs[0]);
  return evs[0];
}

// ---------------------------------------------------------------- endpoints

test('identify stores the message and the traits', async () => {
  const u = uid('ident');
  const r = await track(srv, '/v1/identify', {
    userId: u, anonymousId: `${u}-anon`, traits: { name: 'Ada Lovelace', plan: 'pro', seats: 3 },
    context: { ip: '203.0.113.7' }, messageId: `${u}-m1`,
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { success: true });
  const ev = await onlyEventOf(u);
  assert.equal(ev.type, 'identify');
  assert.equal(ev.userId, u);
  assert.equal(ev.anonymousId, `${u}-anon`);
  assert.equal(ev.messageId, `${u}-m1`);
  assert.deepEqual(ev.traits, { name: 'Ada Lovelace', plan: 'pro', seats: 3 });
  assert.deepEqual(ev.context, { ip: '203.0.113.7' });
  const c = await customerByUser(srv, u);
  assert.deepEqual(c.traits, { name: 'Ada Lovelace', plan: 'pro', seats: 3 });
  assert.deepEqual(c.identities, [
    { type: 'user_id', value: u },
    { type: 'anonymous_id', value: `${u}-anon` },
  ]);
  assert.equal(c.event_count, 1);
});

test('track stores event and properties', async () => {
  const u = uid('track');
  const r = await track(srv, '/v1/track', {
    userId: u, event: 'Order Completed', properties: { revenue: 42.5, items: [{ sku: 'A1' }] },
  });
  assert.equal(r.status, 200, r.text);
  const ev = await onlyEventOf(u);
  assert.equal(ev.type, 'track');
  assert.equal(ev.event, 'Order Completed');
  assert.deepEqual(ev.properties, { revenue: 42.5, items: [{ sku: 'A1' }] });
});

test('page stores name and properties', async () => {
  const u = uid('page');
  const r = await track(srv, '/v1/page', {
    anonymousId: u, name: 'Pricing', category: 'Docs', properties: { url: 'https://example.com/pricing' },
  });
  assert.equal(r.status, 200, r.text);
  const list = (await api(srv, `/customers?anonymous_id=${u}`)).json.customers;
  assert.equal(list.length, 1);
  const { events } = await allEvents(srv, list[0].id);
  assert.equal(events.length, 1);
  assertStoredShape(events[0]);
  assert.equal(events[0].type, 'page');
  assert.equal(events[0].anonymousId, u);
  assert.equal(events[0].name, 'Pricing');
  assert.equal(events[0].category, 'Docs');
  assert.deepEqual(events[0].properties, { url: 'https://example.com/pricing' });
});

test('screen stores name and properties', async () => {
  const u = uid('screen');
  const r = await track(srv, '/v1/screen', { userId: u, name: 'Home', properties: { variant: 'b' } });
  assert.equal(r.status, 200, r.text);
  const ev = await onlyEventOf(u);
  assert.equal(ev.type, 'screen');
  assert.equal(ev.name, 'Home');
  assert.deepEqual(ev.properties, { variant: 'b' });
});

test('group stores groupId and traits and records the account', async () => {
  const u = uid('group');
  const g = uid('acct');
  const r = await track(srv, '/v1/group', { userId: u, groupId: g, traits: { name: 'Acme', employees: 120 } });
  assert.equal(r.status, 200, r.text);
  const ev = await onlyEventOf(u);
  assert.equal(ev.type, 'group');
  assert.equal(ev.groupId, g);
  assert.deepEqual(ev.traits, { name: 'Acme', employees: 120 });
  const a = await api(srv, `/accounts/${g}`);
  assert.equal(a.status, 200, a.text);
  assert.deepEqual(a.json.traits, { name: 'Acme', employees: 120 });
});

test('alias stores previousId and userId', async () => {
  const u = uid('alias');
  const r = await track(srv, '/v1/alias', { userId: u, previousId: `${u}-old` });
  assert.equal(r.status, 200, r.text);
  const ev = await onlyEventOf(u);
  assert.equal(ev.type, 'alias');
  assert.equal(ev.userId, u);
  assert.equal(ev.previousId, `${u}-old`);
});

test('batch stores every item with its own type', async () => {
  const u = uid('batch');
  const before = await stats(srv);
  const r = await track(srv, '/v1/batch', {
    batch: [
      { type: 'identify', userId: u, traits: { plan: 'free' }, messageId: `${u}-1` },
      { type: 'track', userId: u, event: 'Signed Up', messageId: `${u}-2` },
      { type: 'page', userId: u, name: 'Welcome', messageId: `${u}-3` },
      { type: 'screen', userId: u, name: 'Onboarding', messageId: `${u}-4` },
      { type: 'group', userId: u, groupId: `${u}-g`, messageId: `${u}-5` },
      { type: 'alias', userId: u, previousId: `${u}-prev`, messageId: `${u}-6` },
    ],
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { success: true });
  const evs = await eventsOfUser(srv, u);
  assert.equal(evs.length, 6);
  const byId = Object.fromEntries(evs.map((e) => [e.messageId, e]));
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((i) => byId[`${u}-${i}`]?.type),
    ['identify', 'track', 'page', 'screen', 'group', 'alias'],
  );
  for (const e of evs) assertStoredShape(e);
  assert.equal(byId[`${u}-2`].event, 'Signed Up');
  assert.equal(byId[`${u}-5`].groupId, `${u}-g`);
  assert.equal((await stats(srv)).events, before.events + 6);
});

test('a single endpoint sets type from the path, whatever the body says', async () => {
  const u = uid('typed');
  const r = await track(srv, '/v1/track', { type: 'identify', userId: u, event: 'Clicked' });
  assert.equal(r.status, 200, r.text);
  assert.equal((await onlyEventOf(u)).type, 'track');
});

test('stored messages and traits keep every JSON value exactly (strings, escapes, numbers)', async () => {
  const u = uid('roundtrip');
  const values = {
    quote: 'say "hi"', backslash: 'C:\\path\\', newline: 'a\nb\r\tc', ctrl: '\u0001\u001f\u007f',
    unicode: 'Zoë 日本 😀', lineSep: '\u2028\u2029', slash: '</script>',
    ints: [0, -1, 42, 9007199254740991, -9007199254740991],
    floats: [0.1, -0.5, 3.14159, 1e-7, 1.5e300, 0.30000000000000004, 123456.789, 19.99, -0.000001, 999999999.999999, 5e-324, 1.7976931348623157e308],
    big: 1e21, nested: { a: { b: { c: [[], {}, [null, true, false]] } } },
    empty: '', emptyObj: {}, emptyArr: [], 'we"ird\\key': 1, 'ключ': 2,
  };
  let r = await track(srv, '/v1/track', { userId: u, event: 'Ünïcödé 😀 "quoted"', properties: values });
  assert.equal(r.status, 200, r.text);
  r = await track(srv, '/v1/identify', { userId: u, traits: values });
  assert.equal(r.status, 200, r.text);
  const evs = Object.fromEntries((await eventsOfUser(srv, u)).map((e) => [e.type, e]));
  assert.equal(evs.track.event, 'Ünïcödé 😀 "quoted"');
  assert.deepEqual(evs.track.properties, values);
  assert.deepEqual(evs.identify.traits, values);
  assert.deepEqual((await customerByUser(srv, u)).traits, values);
});

// Numeric ids are converted to strings. A server of its own: this used to
// take the process down.
test('numeric userId, anonymousId and groupId are stored as strings', async () => {
  await withServer({}, async (s) => {
    let r = await track(s, '/v1/identify', { userId: 42, traits: { plan: 'pro' } });
    assert.equal(r.status, 200, r.text);
    r = await track(s, '/v1/track', { event: 'Numeric', userId: 43, properties: { n: 1 } });
    assert.equal(r.status, 200, r.text);
    r = await track(s, '/v1/page', { anonymousId: 44, name: 'Home' });
    assert.equal(r.status, 200, r.text);
    r = await track(s, '/v1/group', { userId: 'g-member', groupId: 77, traits: { name: 'Seventy-Seven' } });
    assert.equal(r.status, 200, r.text);
    const e42 = await eventsOfUser(s, '42');
    assert.equal(e42.length, 1);
    assert.equal(e42[0].userId, '42');
    assert.deepEqual(e42[0].traits, { plan: 'pro' });
    assert.deepEqual((await customerByUser(s, '42')).traits, { plan: 'pro' });
    const e43 = await eventsOfUser(s, '43');
    assert.equal(e43.length, 1);
    assert.equal(e43[0].userId, '43');
    assert.equal(e43[0].event, 'Numeric');
    assert.deepEqual(e43[0].properties, { n: 1 });
    const anon = (await api(s, '/customers?anonymous_id=44')).json.customers;
    assert.equal(anon.length, 1);
    assert.equal((await allEvents(s, anon[0].id)).events[0].anonymousId, '44');
    const g = await eventsOfUser(s, 'g-member');
    assert.equal(g[0].groupId, '77');
    const a = await api(s, '/accounts/77');
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(a.json.traits, { name: 'Seventy-Seven' });
    for (const e of [...e42, ...e43, ...g]) {
      assert.equal(e[''], undefined, 'a member without a name was stored');
      assert.match(e.messageId, UUID);
    }
  });
});

// ---------------------------------------------------------------- auth

test('the write key in the body authenticates every endpoint and is not stored', async () => {
  const u = uid('bodykey');
  const bodies = {
    identify: { userId: u, traits: { a: 1 } },
    track: { userId: u, event: 'E' },
    page: { userId: u, name: 'P' },
    screen: { userId: u, name: 'S' },
    group: { userId: u, groupId: `${u}-g` },
    alias: { userId: u, previousId: `${u}-p` },
  };
  for (const [ep, body] of Object.entries(bodies)) {
    const r = await track(srv, `/v1/${ep}`, { ...body, writeKey: srv.writeKey }, { key: null });
    assert.equal(r.status, 200, `${ep}: ${r.text}`);
  }
  const rb = await track(srv, '/v1/batch', {
    writeKey: srv.writeKey,
    batch: [{ type: 'track', userId: u, event: 'In Batch', writeKey: srv.writeKey }],
  }, { key: null });
  assert.equal(rb.status, 200, rb.text);
  const evs = await eventsOfUser(srv, u);
  assert.equal(evs.length, 7);
  for (const e of evs) assertStoredShape(e);
});

test('Basic auth with the write key as user name and an empty password', async () => {
  const u = uid('basic');
  const r = await request(srv, 'POST', '/v1/track', {
    headers: { 'content-type': 'application/json', authorization: basic(srv.writeKey) },
    body: JSON.stringify({ userId: u, event: 'Basic' }),
  });
  assert.equal(r.status, 200, r.text);
  await onlyEventOf(u);
});

// ---------------------------------------------------------------- gzip

test('gzip bodies are accepted on single endpoints and batches', async () => {
  const u = uid('gzip');
  const r1 = await track(srv, '/v1/track', { userId: u, event: 'Zipped', properties: { n: 1 } }, { gzip: true });
  assert.equal(r1.status, 200, r1.text);
  const r2 = await track(srv, '/v1/batch', {
    batch: [{ type: 'track', userId: u, event: 'Zipped Batch' }, { type: 'identify', userId: u, traits: { z: true } }],
  }, { gzip: true });
  assert.equal(r2.status, 200, r2.text);
  const evs = await eventsOfUser(srv, u);
  assert.deepEqual(evs.map((e) => e.event ?? e.type).sort(), ['Zipped', 'Zipped Batch', 'identify']);
  assert.deepEqual((await customerByUser(srv, u)).traits, { z: true });
});

// ---------------------------------------------------------------- messageId

test('a messageId is assigned when absent, a fresh one per message', async () => {
  const u = uid('mid');
  for (let i = 0; i < 2; i++) {
    const r = await track(srv, '/v1/track', { userId: u, event: 'Same Body' });
    assert.equal(r.status, 200, r.text);
  }
  const r = await track(srv, '/v1/track', { userId: u, event: 'Empty Id', messageId: '' });
  assert.equal(r.status, 200, r.text);
  const evs = await eventsOfUser(srv, u);
  assert.equal(evs.length, 3, 'messages without a messageId are never deduplicated');
  for (const e of evs) assert.match(e.messageId, UUID);
  assert.equal(new Set(evs.map((e) => e.messageId)).size, 3);
});

test('the same messageId twice is stored once', async () => {
  const u = uid('dedupe');
  const before = await stats(srv);
  const msg = { userId: u, event: 'Paid', messageId: `${u}-once`, properties: { v: 1 } };
  for (let i = 0; i < 2; i++) {
    const r = await track(srv, '/v1/track', msg);
    assert.equal(r.status, 200, r.text);
  }
  // the same id again, in a batch beside a new one, and inside one batch twice
  const rb = await track(srv, '/v1/batch', {
    batch: [
      { ...msg, type: 'track' },
      { type: 'track', userId: u, event: 'New', messageId: `${u}-two` },
      { type: 'track', userId: u, event: 'New', messageId: `${u}-two` },
    ],
  });
  assert.equal(rb.status, 200, rb.text);
  const evs = await eventsOfUser(srv, u);
  assert.deepEqual(evs.map((e) => e.messageId).sort(), [`${u}-once`, `${u}-two`]);
  const after = await stats(srv);
  assert.equal(after.events, before.events + 2);
  assert.equal(after.duplicates_dropped, before.duplicates_dropped + 3);
});

test('dedupe survives a graceful restart', async () => {
  const s1 = await startServer();
  let s2;
  try {
    const u = uid('restart');
    const m = { userId: u, event: 'Before Restart', messageId: `${u}-m` };
    assert.equal((await track(s1, '/v1/track', m)).status, 200);
    assert.equal((await s1.stop()).code, 0);
    s2 = await startServer({ data: s1.data, creds: s1.creds });
    assert.equal((await track(s2, '/v1/track', m)).status, 200);
    assert.equal((await track(s2, '/v1/batch', { batch: [{ ...m, type: 'track' }] })).status, 200);
    assert.equal((await track(s2, '/v1/track', { ...m, messageId: `${u}-new` })).status, 200);
    const evs = await eventsOfUser(s2, u);
    assert.deepEqual(evs.map((e) => e.messageId).sort(), [`${u}-m`, `${u}-new`]);
    assert.equal((await stats(s2)).events, 2);
  } finally {
    if (s2) assert.equal((await s2.stop()).code, 0);
    s1.cleanup();
  }
});

// ---------------------------------------------------------------- time

test('clock skew: timestamp = receivedAt - (sentAt - originalTimestamp)', async () => {
  const u = uid('skew');
  // the client's clock is years ahead; it sent the message 5.25 s after the event
  const r = await track(srv, '/v1/track', {
    userId: u, event: 'Skewed',
    originalTimestamp: '2031-06-01T10:00:00.000Z', sentAt: '2031-06-01T10:00:05.250Z',
  });
  assert.equal(r.status, 200, r.text);
  const ev = await onlyEventOf(u);
  assert.equal(ev.originalTimestamp, '2031-06-01T10:00:00.000Z', 'originalTimestamp is kept as sent');
  const diff = ms(ev.receivedAt) - ms(ev.timestamp);
  assert.ok(Math.abs(diff - 5250) <= 1000, `timestamp should be receivedAt - 5.25 s, is receivedAt - ${diff} ms`);
  assert.ok(Math.abs(ms(ev.timestamp) - (Date.now() - 5250)) < 10_000, ev.timestamp);
});

test('clock skew from timestamp and sentAt (client clock a day behind)', async () => {
  const u = uid('skew2');
  const clientNow = Date.now() - 86_400_000;
  const r = await track(srv, '/v1/track', {
    userId: u, event: 'Behind',
    timestamp: new Date(clientNow - 60_000).toISOString(), sentAt: new Date(clientNow).toISOString(),
  });
  assert.equal(r.status, 200, r.text);
  const ev = await onlyEventOf(u);
  const diff = ms(ev.receivedAt) - ms(ev.timestamp);
  assert.ok(Math.abs(diff - 60_000) <= 1000, `expected receivedAt - 60 s, got receivedAt - ${diff} ms`);
});

test('a batch-level sentAt corrects the items\' timestamps', async () => {
  const u = uid('skewb');
  const r = await track(srv, '/v1/batch', {
    sentAt: '2020-01-01T00:01:00.000Z',
    batch: [
      { type: 'track', userId: u, event: 'A', timestamp: '2020-01-01T00:00:00.000Z', messageId: `${u}-a` },
      { type: 'track', userId: u, event: 'B', timestamp: '2020-01-01T00:00:30.000Z', messageId: `${u}-b` },
    ],
  });
  assert.equal(r.status, 200, r.text);
  const evs = Object.fromEntries((await eventsOfUser(srv, u)).map((e) => [e.event, e]));
  const a = ms(evs.A.receivedAt) - ms(evs.A.timestamp);
  const b = ms(evs.B.receivedAt) - ms(evs.B.timestamp);
  assert.ok(Math.abs(a - 60_000) <= 1000, `A: receivedAt - ${a} ms`);
  assert.ok(Math.abs(b - 30_000) <= 1000, `B: receivedAt - ${b} ms`);
});

test('originalTimestamp alone is accepted as the event time', async () => {
  const u = uid('ots');
  const r = await track(srv, '/v1/track', { userId: u, event: 'Old', originalTimestamp: '2023-03-04T05:06:07.089Z' });
  assert.equal(r.status, 200, r.text);
  const ev = await onlyEventOf(u);
  assert.equal(ev.timestamp, '2023-03-04T05:06:07.089Z');
  assert.equal(ev.originalTimestamp, '2023-03-04T05:06:07.089Z');
});

test('a timestamp with an offset is normalised to UTC milliseconds; no timestamp means receivedAt', async () => {
  const u = uid('tz');
  let r = await track(srv, '/v1/track', { userId: u, event: 'Offset', timestamp: '2024-05-01T14:30:00+02:00' });
  assert.equal(r.status, 200, r.text);
  r = await track(srv, '/v1/track', { userId: u, event: 'Now' });
  assert.equal(r.status, 200, r.text);
  const evs = Object.fromEntries((await eventsOfUser(srv, u)).map((e) => [e.event, e]));
  assert.equal(evs.Offset.timestamp, '2024-05-01T12:30:00.000Z');
  assert.equal(evs.Now.timestamp, evs.Now.receivedAt);
});

test('an absurd clock skew never stores a timestamp that is not ISO-8601 UTC', async () => {
  const u = uid('absurd');
  const cases = [
    { originalTimestamp: '1000-01-01T00:00:00Z', sentAt: '9999-12-31T23:59:59Z' },
    { originalTimestamp: '9999-12-31T23:59:59Z', sentAt: '1000-01-01T00:00:00Z' },
  ];
  for (const t of cases) {
    const r = await track(srv, '/v1/track', { userId: u, event: 'Absurd', ...t });
    // either refused as a bad timestamp, or stored with a valid one
    if (r.status !== 200) assertError(r, 400, 'invalid_timestamp', undefined);
  }
  const evs = await eventsOfUser(srv, u);
  for (const e of evs) {
    assert.match(e.timestamp, ISO_MS, `stored timestamp ${e.timestamp}`);
    assert.ok(Number.isFinite(Date.parse(e.timestamp)), e.timestamp);
  }
  const c = await customerByUser(srv, u);
  if (c) {
    // the customer view agrees with the events it holds
    const times = evs.map((e) => e.timestamp).sort();
    assert.equal(c.first_seen, times[0], `first_seen ${c.first_seen}, events ${times}`);
    assert.equal(c.last_seen, times.at(-1), `last_seen ${c.last_seen}, events ${times}`);
  }
});

// ---------------------------------------------------------------- batch merging

test('batch top-level context and integrations merge into items; item keys win', async () => {
  const u = uid('merge');
  const r = await track(srv, '/v1/batch', {
    context: { ip: '198.51.100.1', locale: 'en-GB', library: { name: 'top', version: '1' } },
    integrations: { All: false, Mixpanel: true },
    batch: [
      { type: 'track', userId: u, event: 'Plain', messageId: `${u}-plain` },
      {
        type: 'track', userId: u, event: 'Own', messageId: `${u}-own`,
        context: { ip: '192.0.2.9', library: { name: 'item' } },
        integrations: { Mixpanel: false, Amplitude: true },
      },
    ],
  });
  assert.equal(r.status, 200, r.text);
  const evs = Object.fromEntries((await eventsOfUser(srv, u)).map((e) => [e.event, e]));
  assert.deepEqual(evs.Plain.context, { ip: '198.51.100.1', locale: 'en-GB', library: { name: 'top', version: '1' } });
  assert.deepEqual(evs.Plain.integrations, { All: false, Mixpanel: true });
  assert.deepEqual(evs.Own.context, { ip: '192.0.2.9', library: { name: 'item' }, locale: 'en-GB' });
  assert.deepEqual(evs.Own.integrations, { Mixpanel: false, Amplitude: true, All: false });
});

// ---------------------------------------------------------------- limits, at the limit

test('a batch of exactly 2,500 messages is accepted and stored whole', async () => {
  const u = uid('max');
  const before = await stats(srv);
  const batch = Array.from({ length: 2500 }, (_, i) => ({ type: 'track', userId: u, event: 'Bulk', messageId: `${u}-${i}` }));
  const r = await track(srv, '/v1/batch', { batch });
  assert.equal(r.status, 200, r.text);
  assert.equal((await stats(srv)).events, before.events + 2500);
  assert.equal((await customerByUser(srv, u)).event_count, 2500);
});

test('a message just under 32 KB (32,767 bytes) is accepted', async () => {
  const u = uid('big');
  const { text } = sizedJson({
    userId: u, event: 'Big', messageId: `${u}-m`, timestamp: '2024-01-01T00:00:00.000Z', properties: {},
  }, 32 * 1024 - 1);
  const r = await track(srv, '/v1/track', text);
  assert.equal(r.status, 200, r.text);
  const ev = await onlyEventOf(u);
  assert.equal(ev.properties.pad.length, JSON.parse(text).properties.pad.length);
});

test('a batch item just under 32 KB (32,767 bytes) is accepted', async () => {
  const u = uid('bigitem');
  const { obj } = sizedJson({
    type: 'track', userId: u, event: 'Big', messageId: `${u}-m`, timestamp: '2024-01-01T00:00:00.000Z', properties: {},
  }, 32 * 1024 - 1);
  const r = await track(srv, '/v1/batch', { batch: [obj] });
  assert.equal(r.status, 200, r.text);
  await onlyEventOf(u);
});

test('a message of 30,000 bytes is accepted', async () => {
  const u = uid('large');
  const { text } = sizedJson({ userId: u, event: 'Large', properties: {} }, 30_000);
  const r = await track(srv, '/v1/track', text);
  assert.equal(r.status, 200, r.text);
  await onlyEventOf(u);
});

test('a batch request of exactly 500 KB (512,000 bytes) is accepted', async () => {
  const u = uid('fullbatch');
  const items = Array.from({ length: 22 }, (_, i) => ({
    type: 'track', userId: u, event: 'Chunk', messageId: `${u}-${i}`, properties: { pad: 'x'.repeat(23_000) },
  }));
  const { text } = sizedJson({ batch: items }, 500 * 1024, ['batch', 0, 'properties', 'pad']);
  const r = await track(srv, '/v1/batch', text);
  assert.equal(r.status, 200, r.text);
  assert.equal((await eventsOfUser(srv, u)).length, 22);
});

test('a gzipped batch of exactly 500 KB once inflated is accepted', async () => {
  const u = uid('gzfull');
  const items = Array.from({ length: 22 }, (_, i) => ({
    type: 'track', userId: u, event: 'Chunk', messageId: `${u}-${i}`, properties: { pad: 'z'.repeat(23_000) },
  }));
  const { text } = sizedJson({ batch: items }, 500 * 1024, ['batch', 0, 'properties', 'pad']);
  const r = await track(srv, '/v1/batch', text, { gzip: true });
  assert.equal(r.status, 200, r.text);
  assert.equal((await eventsOfUser(srv, u)).length, 22);
});

// A body sent with Transfer-Encoding: chunked (no Content-Length).
async function postChunked(path, buf, chunk = 65536) {
  const body = new ReadableStream({
    start(c) {
      for (let i = 0; i < buf.length; i += chunk) c.enqueue(buf.subarray(i, i + chunk));
      c.close();
    },
  });
  return request(srv, 'POST', path, {
    headers: { 'content-type': 'application/json', authorization: basic(srv.writeKey) }, body,
  });
}

test('a chunked body (no Content-Length) is accepted', async () => {
  const u = uid('chunked');
  const r = await postChunked('/v1/batch', Buffer.from(JSON.stringify({ batch: [{ type: 'track', userId: u, event: 'Streamed' }] })), 7);
  assert.equal(r.status, 200, r.text);
  await onlyEventOf(u);
});

test('a rejected request leaves no messageId behind: fixed and resent, it is stored', async () => {
  const u = uid('resend');
  const bad = { batch: [{ type: 'track', userId: u, event: 'Good', messageId: `${u}-1` }, { type: 'track', userId: u, event: 7, messageId: `${u}-2` }] };
  assertError(await track(srv, '/v1/batch', bad), 400, 'invalid_field', 'batch[1].event');
  const good = { batch: [bad.batch[0], { ...bad.batch[1], event: 'Fixed' }] };
  assert.equal((await track(srv, '/v1/batch', good)).status, 200);
  const evs = await eventsOfUser(srv, u);
  assert.deepEqual(evs.map((e) => e.messageId).sort(), [`${u}-1`, `${u}-2`]);
});

// ---------------------------------------------------------------- bad input

const V = () => uid('valid'); // a user id that must never be stored

function badCases() {
  const big = (n) => 'x'.repeat(n);
  const utf8 = (...parts) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
  const cases = [];
  const add = (name, path, body, expect, opts = {}) => cases.push({ name, path, body, expect, opts });
  const batchWith = (bad, v = V()) => ({
    body: { batch: [{ type: 'track', userId: v, event: 'Valid' }, bad] }, absent: [v],
  });
  const withBatch = (name, bad, expect) => {
    const { body, absent } = batchWith(bad);
    add(name, '/v1/batch', body, { ...expect, absentUsers: absent });
  };

  // malformed JSON and bodies that are not objects
  add('malformed JSON', '/v1/track', '{"userId":"x","event":', { status: 400, code: 'malformed_json', field: null });
  { const v = V(); add('malformed JSON in a batch', '/v1/batch', `{"batch":[{"type":"track","userId":"${v}","event":"E"},]}`, { status: 400, code: 'malformed_json', field: null, absentUsers: [v] }); }
  { const v = V(); add('trailing garbage after the JSON object', '/v1/track', `{"userId":"${v}","event":"E"} trailing`, { status: 400, code: 'malformed_json', field: null, absentUsers: [v] }); }
  { const v = V(); add('a second JSON object after the first', '/v1/track', `{"userId":"${v}","event":"E"}{"userId":"${v}","event":"F"}`, { status: 400, code: 'malformed_json', field: null, absentUsers: [v] }); }
  add('empty body', '/v1/track', '', { status: 400, code: 'malformed_json', field: null });
  add('body is an array', '/v1/track', [{ userId: V(), event: 'E' }], { status: 400, code: 'not_an_object', field: null });
  add('batch body is an array', '/v1/batch', [{ type: 'track', userId: V(), event: 'E' }], { status: 400, code: 'not_an_object', field: null });
  add('body is a string', '/v1/identify', '"userId"', { status: 400, code: 'not_an_object', field: null });
  add('body is null', '/v1/track', 'null', { status: 400, code: 'not_an_object', field: null });
  withBatch('batch item is not an object', 'track', { status: 400, code: 'not_an_object', field: 'batch[1]' });
  add('batch is not an array', '/v1/batch', { batch: { type: 'track', userId: V(), event: 'E' } }, { status: 400, code: 'invalid_field', field: 'batch' });
  add('batch field missing', '/v1/batch', { type: 'track', userId: V(), event: 'E' }, { status: 400, code: 'missing_field', field: 'batch' });

  // wrong field types
  add('userId is an object', '/v1/track', { userId: { id: 1 }, event: 'E' }, { status: 400, code: 'invalid_field', field: 'userId' });
  add('userId is a fraction', '/v1/track', { userId: 1.5, event: 'E' }, { status: 400, code: 'invalid_field', field: 'userId' });
  add('userId is a boolean', '/v1/identify', { userId: true }, { status: 400, code: 'invalid_field', field: 'userId' });
  add('anonymousId is an array', '/v1/page', { anonymousId: ['a'], name: 'P' }, { status: 400, code: 'invalid_field', field: 'anonymousId' });
  add('properties is an array', '/v1/track', { userId: V(), event: 'E', properties: [1, 2] }, { status: 400, code: 'invalid_field', field: 'properties' });
  add('event is a number', '/v1/track', { userId: V(), event: 42 }, { status: 400, code: 'invalid_field', field: 'event' });
  add('event is missing', '/v1/track', { userId: V(), properties: {} }, { status: 400, code: 'missing_field', field: 'event' });
  add('event is empty', '/v1/track', { userId: V(), event: '' }, { status: 400, code: 'invalid_field', field: 'event' });
  add('context is a string', '/v1/track', { userId: V(), event: 'E', context: 'web' }, { status: 400, code: 'invalid_field', field: 'context' });
  add('context.traits is a string', '/v1/track', { userId: V(), event: 'E', context: { traits: 'x' } }, { status: 400, code: 'invalid_field', field: 'context.traits' });
  add('traits is an array', '/v1/identify', { userId: V(), traits: ['a'] }, { status: 400, code: 'invalid_field', field: 'traits' });
  add('integrations is a string', '/v1/track', { userId: V(), event: 'E', integrations: 'all' }, { status: 400, code: 'invalid_field', field: 'integrations' });
  add('messageId is a number', '/v1/track', { userId: V(), event: 'E', messageId: 12 }, { status: 400, code: 'invalid_field', field: 'messageId' });
  add('messageId longer than 100 characters', '/v1/track', { userId: V(), event: 'E', messageId: big(101) }, { status: 400, code: 'field_too_long', field: 'messageId' });
  add('page name is a number', '/v1/page', { userId: V(), name: 7 }, { status: 400, code: 'invalid_field', field: 'name' });
  add('groupId is an object', '/v1/group', { userId: V(), groupId: { id: 'g' } }, { status: 400, code: 'invalid_field', field: 'groupId' });
  add('group without groupId', '/v1/group', { userId: V(), traits: { name: 'x' } }, { status: 400, code: 'missing_field', field: 'groupId' });
  add('alias without previousId', '/v1/alias', { userId: V() }, { status: 400, code: 'missing_field', field: 'previousId' });
  add('alias without userId', '/v1/alias', { anonymousId: V(), previousId: 'p' }, { status: 400, code: 'missing_field', field: 'userId' });
  add('writeKey in the body is a number', '/v1/track', { userId: V(), event: 'E', writeKey: 5 }, { status: 400, code: 'invalid_field', field: 'writeKey' }, { key: null });
  withBatch('batch item type is a number', { type: 3, userId: V(), event: 'E' }, { status: 400, code: 'invalid_field', field: 'batch[1].type' });
  withBatch('batch item without type', { userId: V(), event: 'E' }, { status: 400, code: 'missing_field', field: 'batch[1].type' });
  withBatch('batch item properties is an array', { type: 'track', userId: V(), event: 'E', properties: [] }, { status: 400, code: 'invalid_field', field: 'batch[1].properties' });
  withBatch('batch item context.traits is a number', { type: 'identify', userId: V(), context: { traits: 1 } }, { status: 400, code: 'invalid_field', field: 'batch[1].context.traits' });
  { const v = V(); add('batch top-level context is a string', '/v1/batch', { context: 'web', batch: [{ type: 'track', userId: v, event: 'E' }] }, { status: 400, code: 'invalid_field', field: 'context', absentUsers: [v] }); }
  { const v = V(); add('batch top-level integrations is an array', '/v1/batch', { integrations: ['All'], batch: [{ type: 'track', userId: v, event: 'E' }] }, { status: 400, code: 'invalid_field', field: 'integrations', absentUsers: [v] }); }

  // no identity
  add('no userId and no anonymousId', '/v1/track', { event: 'E', properties: { a: 1 } }, { status: 400, code: 'missing_identity', field: 'userId' });
  add('empty userId and null anonymousId', '/v1/identify', { userId: '', anonymousId: null, traits: { a: 1 } }, { status: 400, code: 'missing_identity', field: 'userId' });
  withBatch('batch item without userId or anonymousId', { type: 'track', event: 'E' }, { status: 400, code: 'missing_identity', field: 'batch[1].userId' });

  // invalid UTF-8
  { const v = V(); add('invalid UTF-8 byte 0xFF', '/v1/track', utf8(`{"userId":"${v}","event":"`, [0xff], '"}'), { status: 400, code: 'invalid_utf8', field: null, absentUsers: [v] }); }
  { const v = V(); add('overlong UTF-8 encoding', '/v1/track', utf8(`{"userId":"${v}","event":"`, [0xc0, 0xaf], '"}'), { status: 400, code: 'invalid_utf8', field: null, absentUsers: [v] }); }
  { const v = V(); add('UTF-8 encoded surrogate', '/v1/track', utf8(`{"userId":"${v}","event":"`, [0xed, 0xa0, 0x80], '"}'), { status: 400, code: 'invalid_utf8', field: null, absentUsers: [v] }); }
  { const v = V(); add('truncated UTF-8 sequence', '/v1/track', utf8(`{"userId":"${v}","event":"`, [0xe2, 0x82], '"}'), { status: 400, code: 'invalid_utf8', field: null, absentUsers: [v] }); }
  { const v = V(); add('invalid UTF-8 inside a gzipped batch', '/v1/batch', utf8(`{"batch":[{"type":"track","userId":"${v}","event":"`, [0xfe], '"}]}'), { status: 400, code: 'invalid_utf8', field: null, absentUsers: [v] }, { gzip: true }); }

  // unparseable timestamps
  add('timestamp is not a date', '/v1/track', { userId: V(), event: 'E', timestamp: 'yesterday' }, { status: 400, code: 'invalid_timestamp', field: 'timestamp' });
  add('timestamp is a number', '/v1/track', { userId: V(), event: 'E', timestamp: 1714564800000 }, { status: 400, code: 'invalid_timestamp', field: 'timestamp' });
  add('timestamp on 30 February', '/v1/identify', { userId: V(), timestamp: '2024-02-30T10:00:00Z' }, { status: 400, code: 'invalid_timestamp', field: 'timestamp' });
  add('sentAt with month 13', '/v1/track', { userId: V(), event: 'E', sentAt: '2024-13-01T00:00:00Z' }, { status: 400, code: 'invalid_timestamp', field: 'sentAt' });
  add('originalTimestamp is garbage', '/v1/page', { userId: V(), originalTimestamp: '2024-05-01Tnoon' }, { status: 400, code: 'invalid_timestamp', field: 'originalTimestamp' });
  withBatch('batch item timestamp is garbage', { type: 'track', userId: V(), event: 'E', timestamp: 'soon' }, { status: 400, code: 'invalid_timestamp', field: 'batch[1].timestamp' });
  { const v = V(); add('batch top-level sentAt is garbage', '/v1/batch', { sentAt: 'now', batch: [{ type: 'track', userId: v, event: 'E' }] }, { status: 400, code: 'invalid_timestamp', field: 'sentAt', absentUsers: [v] }); }

  // size and count limits
  { const v = V(); add('single message over 32 KB', '/v1/track', sizedJson({ userId: v, event: 'E', properties: {} }, 40_000).text, { status: 413, code: 'message_too_large', field: null, absentUsers: [v] }); }
  { const v = V(); add('single message of exactly 32 KB + 1 byte', '/v1/track', sizedJson({ userId: v, event: 'E', properties: {} }, 32 * 1024 + 1).text, { status: 413, code: 'message_too_large', field: null, absentUsers: [v] }); }
  { const v = V(); add('gzipped single message over 32 KB once inflated', '/v1/identify', sizedJson({ userId: v, traits: {} }, 100_000, ['traits', 'pad']).text, { status: 413, code: 'message_too_large', field: null, absentUsers: [v] }, { gzip: true }); }
  { const v = V(); add('single message of 600 KB', '/v1/track', sizedJson({ userId: v, event: 'E', properties: {} }, 600_000).text, { status: 413, code: 'message_too_large', field: null, absentUsers: [v] }); }
  withBatch('batch item over 32 KB', sizedJson({ type: 'track', userId: V(), event: 'E', properties: {} }, 40_000).obj, { status: 413, code: 'message_too_large', field: 'batch[1]' });
  {
    const v = V();
    const items = [{ type: 'track', userId: v, event: 'E' }, ...Array.from({ length: 21 }, () => ({ type: 'track', userId: V(), event: 'E', properties: { pad: 'x'.repeat(24_500) } }))];
    add('batch over 500 KB (512,001 bytes)', '/v1/batch', sizedJson({ batch: items }, 500 * 1024 + 1, ['batch', 1, 'properties', 'pad']).text, { status: 413, code: 'batch_too_large', field: null, absentUsers: [v] });
  }
  {
    const v = V();
    const items = [{ type: 'track', userId: v, event: 'E' }, ...Array.from({ length: 30 }, () => ({ type: 'track', userId: V(), event: 'E', properties: { pad: 'y'.repeat(20_000) } }))];
    add('gzipped batch over 500 KB once inflated', '/v1/batch', { batch: items }, { status: 413, code: 'batch_too_large', field: null, absentUsers: [v] }, { gzip: true });
  }
  {
    const v = V();
    const items = [{ type: 'track', userId: v, event: 'E' }, ...Array.from({ length: 21 }, () => ({ type: 'track', userId: V(), event: 'E', properties: { pad: 'x'.repeat(24_500) } }))];
    add('gzipped batch of 500 KB + 1 byte once inflated', '/v1/batch', sizedJson({ batch: items }, 500 * 1024 + 1, ['batch', 1, 'properties', 'pad']).text, { status: 413, code: 'batch_too_large', field: null, absentUsers: [v] }, { gzip: true });
  }
  {
    const v = V();
    add('batch of 2,501 messages', '/v1/batch', { batch: Array.from({ length: 2501 }, () => ({ type: 'track', userId: v, event: 'E' })) }, { status: 400, code: 'batch_too_many', field: 'batch', absentUsers: [v] });
  }

  // unknown type
  withBatch('unknown type in a batch', { type: 'purchase', userId: V(), event: 'E' }, { status: 400, code: 'unknown_type', field: 'batch[1].type' });

  // write keys
  { const v = V(); add('missing write key', '/v1/track', { userId: v, event: 'E' }, { status: 401, code: 'missing_write_key', field: 'writeKey', absentUsers: [v] }, { key: null }); }
  { const v = V(); add('wrong write key in the Authorization header', '/v1/track', { userId: v, event: 'E' }, { status: 401, code: 'invalid_write_key', absentUsers: [v] }, { key: 'wk_00000000000000000000000000000000' }); }
  { const v = V(); add('wrong write key in the body', '/v1/identify', { userId: v, writeKey: 'wk_00000000000000000000000000000000' }, { status: 401, code: 'invalid_write_key', field: 'writeKey', absentUsers: [v] }, { key: null }); }
  { const v = V(); add('wrong header key beside a right body key', '/v1/track', { userId: v, event: 'E', writeKey: '@KEY@' }, { status: 401, code: 'invalid_write_key', absentUsers: [v] }, { key: 'wk_wrong' }); }
  { const v = V(); add('empty user name in Basic auth', '/v1/track', { userId: v, event: 'E' }, { status: 401, code: ['invalid_write_key', 'missing_write_key'], absentUsers: [v] }, { key: '' }); }
  { const v = V(); add('the write key as a Bearer token (not Basic) on the tracking API', '/v1/track', { userId: v, event: 'E' }, { status: 401, code: ['invalid_write_key', 'missing_write_key'], absentUsers: [v] }, { key: null, headers: { authorization: 'Bearer @KEY@' } }); }
  { const v = V(); add('wrong write key on a batch', '/v1/batch', { batch: [{ type: 'track', userId: v, event: 'E' }] }, { status: 401, code: 'invalid_write_key', absentUsers: [v] }, { key: 'wk_nope' }); }

  // gzip
  { add('bad gzip', '/v1/track', Buffer.from('this is not gzip data at all'), { status: 400, code: 'invalid_gzip', field: null }, { headers: { 'content-encoding': 'gzip' } }); }
  { const v = V(); const z = gzipSync(JSON.stringify({ userId: v, event: 'E' })); add('truncated gzip', '/v1/track', z.subarray(0, z.length - 10), { status: 400, code: 'invalid_gzip', field: null, absentUsers: [v] }, { headers: { 'content-encoding': 'gzip' } }); }
  { const v = V(); const z = Buffer.concat([gzipSync(JSON.stringify({ userId: v, event: 'E' })), Buffer.from('junk')]); add('gzip with trailing junk', '/v1/track', z, { status: 400, code: 'invalid_gzip', field: null, absentUsers: [v] }, { headers: { 'content-encoding': 'gzip' } }); }

  // content encoding
  { const v = V(); add('unsupported Content-Encoding', '/v1/track', { userId: v, event: 'E' }, { status: 415, code: 'unsupported_encoding', field: null, absentUsers: [v] }, { headers: { 'content-encoding': 'br' } }); }
  return cases;
}

for (const c of badCases()) {
  test(`bad input: ${c.name}`, async () => {
    const opts = { ...c.opts };
    let body = c.body;
    if (typeof body === 'string' && body.includes('@KEY@')) body = body.replaceAll('@KEY@', srv.writeKey);
    else if (body && typeof body === 'object' && !Buffer.isBuffer(body)) body = JSON.parse(JSON.stringify(body).replaceAll('@KEY@', srv.writeKey));
    if (opts.headers?.authorization) opts.headers = { ...opts.headers, authorization: opts.headers.authorization.replace('@KEY@', srv.writeKey) };
    await expectRejected(srv, c.path, body, opts, c.expect);
  });
}

test('bad input: a gzip bomb (50 MB of zeros) is refused with 413 and the server stays well', async () => {
  const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024));
  assert.ok(bomb.length < 500 * 1024, 'the compressed bomb fits under the body limit');
  for (const [path, code] of [['/v1/batch', 'batch_too_large'], ['/v1/track', 'message_too_large']]) {
    await expectRejected(srv, path, bomb, { headers: { 'content-encoding': 'gzip' } }, { status: 413, code, field: null });
  }
  // a bomb whose JSON is valid up to the limit
  const v = uid('valid');
  const jsonBomb = gzipSync(Buffer.concat([Buffer.from(`{"batch":[{"type":"track","userId":"${v}","event":"E"}],"pad":"`), Buffer.alloc(50 * 1024 * 1024, 0x61), Buffer.from('"}')]));
  await expectRejected(srv, '/v1/batch', jsonBomb, { headers: { 'content-encoding': 'gzip' } }, { status: 413, code: 'batch_too_large', field: null, absentUsers: [v] });
  const h = await request(srv, 'GET', '/healthz');
  assert.equal(h.status, 200);
  const m = parseMetrics((await request(srv, 'GET', '/metrics')).text);
  assert.ok(m.cxm_resident_memory_bytes < 400 * 1024 * 1024, `resident memory ${m.cxm_resident_memory_bytes}`);
  const u = uid('afterbomb');
  assert.equal((await track(srv, '/v1/track', { userId: u, event: 'Still Here' })).status, 200);
  await onlyEventOf(u);
});

test('bad input: a chunked batch over 500 KB is refused with 413', async () => {
  const v = uid('valid');
  const items = [{ type: 'track', userId: v, event: 'E' }, ...Array.from({ length: 30 }, () => ({ type: 'track', userId: uid('valid'), event: 'E', properties: { pad: 'x'.repeat(20_000) } }))];
  const before = await stats(srv);
  const r = await postChunked('/v1/batch', Buffer.from(JSON.stringify({ batch: items })));
  assertError(r, 413, 'batch_too_large', null);
  assert.deepEqual(await stats(srv), before);
  assert.equal(await customerByUser(srv, v), null);
});

test('bad input: wrong method (GET /v1/track, PUT /v1/batch) is 405', async () => {
  const before = await stats(srv);
  const r1 = await request(srv, 'GET', '/v1/track', { headers: { authorization: basic(srv.writeKey) } });
  assertError(r1, 405, 'method_not_allowed', null);
  const v = uid('valid');
  const r2 = await request(srv, 'PUT', '/v1/batch', {
    headers: { authorization: basic(srv.writeKey), 'content-type': 'application/json' },
    body: JSON.stringify({ batch: [{ type: 'track', userId: v, event: 'E' }] }),
  });
  assertError(r2, 405, 'method_not_allowed', null);
  assert.deepEqual(await stats(srv), before);
  assert.equal(await customerByUser(srv, v), null);
});

test('bad input: wrong path (/v1/nope, /nope) is 404', async () => {
  const before = await stats(srv);
  const v = uid('valid');
  const r1 = await track(srv, '/v1/nope', { userId: v, event: 'E' });
  assertError(r1, 404, 'not_found', null);
  const r2 = await request(srv, 'GET', '/v1/nope');
  assertError(r2, 404, 'not_found', null);
  const r3 = await track(srv, '/nope', { userId: v, event: 'E' });
  assertError(r3, 404, 'not_found', null);
  assert.deepEqual(await stats(srv), before);
  assert.equal(await customerByUser(srv, v), null);
});

test('bad input: JSON nested hundreds deep is refused with 400 and the server survives', async () => {
  await withServer({}, async (s) => {
    for (const depth of [200, 900]) {
      const v = uid('valid');
      const body = `{"userId":"${v}","event":"Deep","properties":{"x":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
      const before = await stats(s);
      const r = await track(s, '/v1/track', body);
      assert.equal(r.status, 400, r.text);
      assert.match(r.json?.error?.code || '', /^(too_deep|malformed_json)$/, r.text);
      assert.deepEqual(await stats(s), before);
      assert.equal(await customerByUser(s, v), null);
    }
    assert.equal((await request(s, 'GET', '/healthz')).status, 200);
  });
});

test('after all the bad input, good input is still stored', async () => {
  const u = uid('final');
  assert.equal((await track(srv, '/v1/track', { userId: u, event: 'Fine' })).status, 200);
  const c = await customerByUser(srv, u);
  assert.equal((await getCustomer(srv, c.id)).event_count, 1);
});
