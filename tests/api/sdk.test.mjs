// Real-client tests: the npm SDKs of Segment (@segment/analytics-node) and
// RudderStack (@rudderstack/rudder-sdk-node), unmodified, pointed at a live
// `cxm serve`. Each sends identify, track, page, group and alias; the test
// then reads back through the admin API what was stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { Analytics as SegmentAnalytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { startServer, api } from './server.mjs';

// ---- admin API helpers ----

async function customerBy(srv, param, value) {
  const r = await api(srv, `/customers?${param}=${encodeURIComponent(value)}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.customers.length, 1, `one customer for ${param}=${value}: ${r.text}`);
  assert.equal(r.json.next_cursor, null);
  return r.json.customers[0];
}

async function customer(srv, id) {
  const r = await api(srv, `/customers/${id}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// every event of a customer's timeline, following next_cursor
async function timeline(srv, id) {
  const out = [];
  let cursor = null;
  for (let page = 0; page < 100; page++) {
    const q = `/customers/${id}/events?limit=2` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : '');
    const r = await api(srv, q);
    assert.equal(r.status, 200, r.text);
    out.push(...r.json.events);
    cursor = r.json.next_cursor;
    if (cursor === null) return out;
  }
  throw new Error('timeline paging did not end');
}

async function merges(srv, id) {
  const r = await api(srv, `/merges?customer_id=${id}`);
  assert.equal(r.status, 200, r.text);
  return r.json.merges;
}

function identitySet(c) {
  return c.identities.map((i) => `${i.type}:${i.value}`).sort();
}

function byMessageId(events) {
  const m = new Map();
  for (const e of events) {
    assert.ok(!m.has(e.messageId), `messageId ${e.messageId} stored twice`);
    m.set(e.messageId, e);
  }
  return m;
}

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

// The stored form of a message: what the SDK sent plus the server's stamps.
function assertStoredLike(stored, sent, { t0, t1 }) {
  assert.equal(stored.type, sent.type);
  assert.equal(stored.messageId, sent.messageId);
  assert.equal(stored.userId, sent.userId);
  assert.equal(stored.anonymousId, sent.anonymousId);
  for (const k of ['event', 'name', 'groupId', 'previousId']) assert.deepEqual(stored[k], sent[k], k);
  for (const k of ['properties', 'traits']) assert.deepEqual(stored[k], sent[k], k);
  assert.deepEqual(stored.context.library, sent.context.library);
  assert.equal(stored.writeKey, undefined, 'writeKey is never stored');
  assert.match(stored.timestamp, ISO_MS);
  assert.match(stored.receivedAt, ISO_MS);
  const rec = Date.parse(stored.receivedAt), ts = Date.parse(stored.timestamp);
  assert.ok(rec >= t0 - 1000 && rec <= t1 + 1000, `receivedAt ${stored.receivedAt} within the test`);
  // the SDKs' clocks are the server's clock: skew correction keeps it close
  assert.ok(Math.abs(ts - rec) < 5000, `timestamp ${stored.timestamp} near receivedAt ${stored.receivedAt}`);
}

// ---- Segment ----

test('@segment/analytics-node: identify, track, page, group and alias are stored', async (t) => {
  const srv = await startServer();
  t.after(async () => {
    const r = await srv.stop();
    srv.cleanup();
    assert.equal(r.code, 0);
  });
  const t0 = Date.now();

  // Every HTTP exchange of the SDK goes through this fetch and is recorded.
  const requests = [];
  const recordingFetch = async (url, init) => {
    const res = await fetch(url, init);
    const text = await res.clone().text();
    requests.push({ url: String(url), method: init.method, headers: init.headers, body: init.body, status: res.status, text });
    return res;
  };
  const analytics = new SegmentAnalytics({
    writeKey: srv.writeKey,
    host: srv.url,
    flushAt: 20,
    flushInterval: 5000,
    maxRetries: 0,
    httpClient: recordingFetch,
  });
  const errors = [];
  analytics.on('error', (e) => errors.push(e));
  const call = (method, msg) =>
    new Promise((resolve) => analytics[method](msg, (err, ctx) => resolve({ err, event: ctx?.event })));

  // phase 1: an older customer, an anonymous visit, then the visitor
  // identifies, buys and joins an account
  const phase1 = [
    call('track', { userId: 'seg-old-1', event: 'Signed Up', properties: { plan: 'free' } }),
    call('page', {
      anonymousId: 'seg-anon-1', name: 'Pricing', category: 'Docs',
      properties: { path: '/pricing', referrer: 'https://example.org/' },
    }),
    call('identify', {
      userId: 'seg-user-1', anonymousId: 'seg-anon-1',
      traits: { email: 'Ada.Lovelace@Example.com', name: 'Ada Lovelace', plan: 'pro', logins: 3, beta: true },
    }),
    call('track', {
      userId: 'seg-user-1', event: 'Order Completed',
      properties: { order_id: 'o-1001', revenue: 42.5, currency: 'EUR', products: [{ sku: 'p-1', qty: 2 }] },
    }),
    call('group', {
      userId: 'seg-user-1', groupId: 'seg-acct-1',
      traits: { name: 'Analytical Engines Ltd', employees: 12, industry: 'Computing' },
    }),
  ];
  await analytics.flush({ timeout: 10000 });
  const r1 = await Promise.all(phase1);
  for (const r of r1) assert.equal(r.err, undefined, `SDK reported: ${r.err}`);
  const [oldTrack, page, identify, order, group] = r1.map((r) => r.event);

  const old = await customerBy(srv, 'user_id', 'seg-old-1');
  const ada = await customerBy(srv, 'user_id', 'seg-user-1');
  assert.notEqual(old.id, ada.id, 'two different user ids are two customers');
  assert.deepEqual(identitySet(ada), [
    'anonymous_id:seg-anon-1', 'email:ada.lovelace@example.com', 'user_id:seg-user-1',
  ]);
  assert.deepEqual(ada.traits, { email: 'Ada.Lovelace@Example.com', name: 'Ada Lovelace', plan: 'pro', logins: 3, beta: true });
  assert.deepEqual(ada.accounts, ['seg-acct-1']);
  assert.equal(ada.event_count, 4);
  assert.equal(ada.stage, 'purchase'); // one Order Completed
  assert.equal((await customerBy(srv, 'anonymous_id', 'seg-anon-1')).id, ada.id);
  assert.equal((await customerBy(srv, 'email', 'ADA.LOVELACE@example.com')).id, ada.id);
  assert.deepEqual(identitySet(old), ['user_id:seg-old-1']);
  assert.deepEqual(old.traits, {});
  assert.equal(old.event_count, 1);

  const adaEvents = byMessageId(await timeline(srv, ada.id));
  assert.deepEqual([...adaEvents.keys()].sort(), [page, identify, order, group].map((e) => e.messageId).sort());
  const t1 = Date.now();
  // the SDK's own view of what it sent, from the recorded request bodies
  const sentById = new Map();
  for (const rq of requests) for (const m of JSON.parse(rq.body).batch) sentById.set(m.messageId, m);
  for (const e of [page, identify, order, group]) assertStoredLike(adaEvents.get(e.messageId), sentById.get(e.messageId), { t0, t1 });
  const storedOrder = adaEvents.get(order.messageId);
  assert.equal(storedOrder.event, 'Order Completed');
  assert.deepEqual(storedOrder.properties, { order_id: 'o-1001', revenue: 42.5, currency: 'EUR', products: [{ sku: 'p-1', qty: 2 }] });
  assert.equal(storedOrder.context.library.name, '@segment/analytics-node');
  // Segment's only timestamp is `timestamp`; the server keeps it as originalTimestamp
  assert.equal(storedOrder.originalTimestamp, sentById.get(order.messageId).timestamp);
  const storedPage = adaEvents.get(page.messageId);
  assert.equal(storedPage.type, 'page');
  assert.equal(storedPage.name, 'Pricing');
  assert.equal(storedPage.anonymousId, 'seg-anon-1');
  assert.equal(storedPage.properties.path, '/pricing');
  assert.equal(adaEvents.get(group.messageId).groupId, 'seg-acct-1');
  const oldEvents = await timeline(srv, old.id);
  assert.equal(oldEvents.length, 1);
  assert.equal(oldEvents[0].messageId, oldTrack.messageId);
  assert.equal(oldEvents[0].event, 'Signed Up');
  assert.deepEqual(oldEvents[0].properties, { plan: 'free' });

  const acct = await api(srv, '/accounts/seg-acct-1');
  assert.equal(acct.status, 200, acct.text);
  assert.equal(acct.json.id, 'seg-acct-1');
  assert.deepEqual(acct.json.traits, { name: 'Analytical Engines Ltd', employees: 12, industry: 'Computing' });
  assert.deepEqual(acct.json.members, [ada.id]);
  assert.deepEqual(await merges(srv, ada.id), [], 'no merge before the alias');

  // phase 2: alias says the old user id is the same person
  const aliasP = call('alias', { userId: 'seg-user-1', previousId: 'seg-old-1' });
  await analytics.closeAndFlush({ timeout: 10000 });
  const aliasR = await aliasP;
  assert.equal(aliasR.err, undefined, `SDK reported: ${aliasR.err}`);
  const alias = aliasR.event;

  const merged = await customerBy(srv, 'user_id', 'seg-user-1');
  assert.equal((await customerBy(srv, 'user_id', 'seg-old-1')).id, merged.id);
  assert.ok([old.id, ada.id].includes(merged.id), 'the survivor is one of the two');
  const loser = merged.id === ada.id ? old.id : ada.id;
  assert.equal((await customer(srv, loser)).id, merged.id, 'the merged-away id leads to the survivor');
  assert.deepEqual(identitySet(merged), [
    'anonymous_id:seg-anon-1', 'email:ada.lovelace@example.com', 'user_id:seg-old-1', 'user_id:seg-user-1',
  ]);
  assert.deepEqual(merged.traits, ada.traits);
  assert.deepEqual(merged.accounts, ['seg-acct-1']);
  assert.equal(merged.event_count, 6);
  const all = byMessageId(await timeline(srv, merged.id));
  assert.deepEqual([...all.keys()].sort(),
    [oldTrack, page, identify, order, group, alias].map((e) => e.messageId).sort());
  const storedAlias = all.get(alias.messageId);
  assert.equal(storedAlias.type, 'alias');
  assert.equal(storedAlias.previousId, 'seg-old-1');
  assert.equal(storedAlias.userId, 'seg-user-1');

  const ms = await merges(srv, merged.id);
  assert.equal(ms.length, 1, JSON.stringify(ms));
  assert.equal(ms[0].reason, 'alias');
  assert.equal(ms[0].message_id, alias.messageId);
  assert.equal(ms[0].into, merged.id);
  assert.equal(ms[0].from, loser);
  assert.match(ms[0].at, ISO_MS);
  const acct2 = await api(srv, '/accounts/seg-acct-1');
  assert.deepEqual(acct2.json.members, [merged.id]);
  const stats = await api(srv, '/stats');
  assert.equal(stats.json.events, 6);
  assert.equal(stats.json.customers, 1);

  // what went over the wire: POST /v1/batch, writeKey in the body, all 200
  assert.deepEqual(errors, []);
  assert.ok(requests.length >= 2, `at least one request per phase, got ${requests.length}`);
  let n = 0;
  for (const rq of requests) {
    assert.equal(rq.url, `${srv.url}/v1/batch`);
    assert.equal(rq.method, 'POST');
    assert.equal(rq.status, 200, rq.text);
    assert.deepEqual(JSON.parse(rq.text), { success: true });
    const body = JSON.parse(rq.body);
    assert.equal(body.writeKey, srv.writeKey);
    assert.equal(rq.headers.Authorization, undefined, 'Segment sends the key in the body, not as Basic auth');
    n += body.batch.length;
  }
  assert.equal(n, 6, 'each message sent once');
});

// ---- RudderStack ----

test('@rudderstack/rudder-sdk-node (gzip): identify, track, page, group and alias are stored', async (t) => {
  const srv = await startServer();
  t.after(async () => {
    const r = await srv.stop();
    srv.cleanup();
    assert.equal(r.code, 0);
  });
  const t0 = Date.now();
  const client = new RudderAnalytics(srv.writeKey, {
    dataPlaneUrl: srv.url,
    flushAt: 20,
    flushInterval: 5000,
    retryCount: 0,
    logLevel: 'error',
  });
  // record every response the SDK's axios instance sees
  const requests = [];
  const record = (res, err) => {
    const cfg = res ? res.config : err.config;
    const r = res || err.response;
    requests.push({
      url: cfg.url, method: cfg.method,
      encoding: cfg.headers.get('Content-Encoding'),
      auth: cfg.auth, // axios turns this into the Basic header in its adapter
      body: Buffer.isBuffer(cfg.data) ? cfg.data : Buffer.from(cfg.data ?? ''),
      status: r ? r.status : err.code, data: r ? r.data : null,
    });
  };
  client.axiosInstance.interceptors.response.use(
    (res) => { record(res); return res; },
    (err) => { record(null, err); return Promise.reject(err); },
  );
  const callErrors = [];
  const cb = (err) => { if (err) callErrors.push(err); };
  const flushAll = async () => {
    while (client.queue.length) await client.flush();
    await client.flush(); // waits for a pending flush
  };

  // phase 1. The first call is sent at once on its own (the SDK's rule),
  // the rest wait for flush.
  client.identify({
    userId: 'rs-user-1',
    traits: { email: 'Grace@Example.com', name: 'Grace Hopper', title: 'Rear Admiral', languages: ['COBOL', 'FLOW-MATIC'] },
  }, cb);
  client.page({ anonymousId: 'rs-anon-1', name: 'Docs Home', properties: { path: '/docs', title: 'Docs' } }, cb);
  client.track({
    userId: 'rs-user-1', event: 'Report Downloaded',
    properties: { report: 'q3', pages: 12, tags: ['finance', 'quarterly'], nested: { a: { b: null } } },
  }, cb);
  client.group({ userId: 'rs-user-1', groupId: 'rs-acct-1', traits: { name: 'US Navy', plan: 'enterprise', seats: 250 } }, cb);
  await flushAll();
  assert.deepEqual(callErrors, []);

  const sent = () => {
    const m = new Map();
    for (const rq of requests) for (const msg of JSON.parse(gunzipSync(rq.body)).batch) m.set(msg.messageId, msg);
    return m;
  };
  const sent1 = [...sent().values()];
  assert.equal(sent1.length, 4);
  const find = (type) => sent1.find((m) => m.type === type);
  const [identify, page, trackMsg, group] = ['identify', 'page', 'track', 'group'].map(find);

  const grace = await customerBy(srv, 'user_id', 'rs-user-1');
  const anon = await customerBy(srv, 'anonymous_id', 'rs-anon-1');
  assert.notEqual(grace.id, anon.id, 'nothing links the anonymous visit yet');
  assert.deepEqual(identitySet(grace), ['email:grace@example.com', 'user_id:rs-user-1']);
  assert.deepEqual(grace.traits, { email: 'Grace@Example.com', name: 'Grace Hopper', title: 'Rear Admiral', languages: ['COBOL', 'FLOW-MATIC'] });
  assert.deepEqual(grace.accounts, ['rs-acct-1']);
  assert.equal(grace.event_count, 3);
  assert.equal((await customerBy(srv, 'email', 'grace@example.com')).id, grace.id);
  assert.deepEqual(identitySet(anon), ['anonymous_id:rs-anon-1']);
  assert.equal(anon.stage, 'awareness');
  assert.equal(anon.event_count, 1);

  const t1 = Date.now();
  const gEvents = byMessageId(await timeline(srv, grace.id));
  assert.deepEqual([...gEvents.keys()].sort(), [identify, trackMsg, group].map((m) => m.messageId).sort());
  for (const m of [identify, trackMsg, group]) assertStoredLike(gEvents.get(m.messageId), m, { t0, t1 });
  const st = gEvents.get(trackMsg.messageId);
  assert.equal(st.event, 'Report Downloaded');
  assert.deepEqual(st.properties, { report: 'q3', pages: 12, tags: ['finance', 'quarterly'], nested: { a: { b: null } } });
  assert.equal(st.context.library.name, 'analytics-node');
  // RudderStack sends originalTimestamp and sentAt on each item: kept as sent
  assert.equal(st.originalTimestamp, trackMsg.originalTimestamp);
  assert.equal(st.sentAt, trackMsg.sentAt);
  // RudderStack copies identify traits into context.traits as well
  assert.equal(gEvents.get(identify.messageId).context.traits.email, 'Grace@Example.com');
  const aEvents = await timeline(srv, anon.id);
  assert.equal(aEvents.length, 1);
  assertStoredLike(aEvents[0], page, { t0, t1 });
  assert.equal(aEvents[0].name, 'Docs Home');
  assert.deepEqual(aEvents[0].properties, { path: '/docs', title: 'Docs' });

  const acct = await api(srv, '/accounts/rs-acct-1');
  assert.equal(acct.status, 200, acct.text);
  assert.deepEqual(acct.json.traits, { name: 'US Navy', plan: 'enterprise', seats: 250 });
  assert.deepEqual(acct.json.members, [grace.id]);

  // phase 2: alias links the anonymous visitor to the user
  client.alias({ userId: 'rs-user-1', previousId: 'rs-anon-1' }, cb);
  await flushAll();
  assert.deepEqual(callErrors, []);
  const alias = [...sent().values()].find((m) => m.type === 'alias');
  assert.ok(alias, 'the alias was sent');

  const merged = await customerBy(srv, 'user_id', 'rs-user-1');
  assert.equal((await customerBy(srv, 'anonymous_id', 'rs-anon-1')).id, merged.id);
  assert.ok([grace.id, anon.id].includes(merged.id));
  const loser = merged.id === grace.id ? anon.id : grace.id;
  assert.deepEqual(identitySet(merged), ['anonymous_id:rs-anon-1', 'email:grace@example.com', 'user_id:rs-user-1']);
  assert.deepEqual(merged.traits, grace.traits);
  assert.deepEqual(merged.accounts, ['rs-acct-1']);
  assert.equal(merged.event_count, 5);
  assert.equal(merged.stage, 'engagement');
  const all = byMessageId(await timeline(srv, merged.id));
  assert.deepEqual([...all.keys()].sort(), [identify, page, trackMsg, group, alias].map((m) => m.messageId).sort());
  assert.equal(all.get(alias.messageId).previousId, 'rs-anon-1');
  const ms = await merges(srv, merged.id);
  assert.equal(ms.length, 1, JSON.stringify(ms));
  assert.deepEqual({ reason: ms[0].reason, from: ms[0].from, into: ms[0].into, message_id: ms[0].message_id },
    { reason: 'alias', from: loser, into: merged.id, message_id: alias.messageId });
  const stats = await api(srv, '/stats');
  assert.equal(stats.json.events, 5);
  assert.equal(stats.json.customers, 1);

  // over the wire: gzip, Basic auth with the write key, POST /v1/batch, 200
  assert.ok(requests.length >= 3, `identify alone, then the rest, then alias: ${requests.length}`);
  let n = 0;
  for (const rq of requests) {
    assert.equal(rq.url, `${srv.url}/v1/batch`);
    assert.equal(rq.method, 'post');
    assert.equal(rq.status, 200, JSON.stringify(rq.data));
    assert.deepEqual(rq.data, { success: true });
    assert.equal(rq.encoding, 'gzip');
    assert.deepEqual(rq.auth, { username: srv.writeKey });
    const body = JSON.parse(gunzipSync(rq.body));
    assert.equal(body.writeKey, undefined, 'RudderStack authenticates by Basic auth only');
    n += body.batch.length;
  }
  assert.equal(n, 5, 'each message sent once');
});

test('@rudderstack/rudder-sdk-node without gzip, and a wrong write key is refused', async (t) => {
  const srv = await startServer();
  t.after(async () => {
    const r = await srv.stop();
    srv.cleanup();
    assert.equal(r.code, 0);
  });
  const plain = new RudderAnalytics(srv.writeKey, { dataPlaneUrl: srv.url, gzip: false, retryCount: 0, logLevel: 'error', flushInterval: 5000 });
  const errs = [];
  plain.track({ userId: 'rs-plain', event: 'Plain Sent', properties: { n: 1 } }, (e) => e && errs.push(e));
  plain.track({ userId: 'rs-plain', event: 'Plain Sent', properties: { n: 2 } }, (e) => e && errs.push(e));
  while (plain.queue.length) await plain.flush();
  await plain.flush();
  assert.deepEqual(errs, []);
  const c = await customerBy(srv, 'user_id', 'rs-plain');
  const evs = await timeline(srv, c.id);
  assert.deepEqual(evs.map((e) => e.properties.n).sort(), [1, 2]);

  // a wrong key: the SDK must see a failure (401) and nothing is stored
  const handled = [];
  const bad = new RudderAnalytics('wk_not_a_real_key', {
    dataPlaneUrl: srv.url, retryCount: 0, logLevel: 'none', flushInterval: 5000,
    errorHandler: (e) => handled.push(e),
  });
  let status = null;
  bad.axiosInstance.interceptors.response.use(null, (err) => { status = err.response?.status; return Promise.reject(err); });
  const failed = new Promise((resolve) => bad.track({ userId: 'rs-bad', event: 'Never Stored' }, resolve));
  const err = await failed;
  assert.ok(err instanceof Error, 'the SDK reports the refusal to the callback');
  await bad.flush();
  assert.equal(status, 401);
  assert.equal(handled.length, 1);
  assert.equal(handled[0].response.status, 401);
  const none = await api(srv, '/customers?user_id=rs-bad');
  assert.equal(none.status, 200);
  assert.deepEqual(none.json.customers, []);
  const stats = await api(srv, '/stats');
  assert.equal(stats.json.events, 2);
});

// The SDKs' own size rules (Segment: 32 KB per event, ~480 KB per batch;
// RudderStack: flush at 450 KB queued) must fit the server's limits (32 KB
// per message as sent, 500 KB per request after gunzip).
test('both SDKs: their largest batches (15 messages of exactly 32 KB) are accepted', async (t) => {
  const srv = await startServer();
  t.after(async () => {
    const r = await srv.stop();
    srv.cleanup();
    assert.equal(r.code, 0);
  });
  const bytes = (m) => Buffer.byteLength(JSON.stringify(m));

  // Segment: a probe message tells the size of everything but the blob
  const segBodies = [];
  const segClient = (flushAt) => new SegmentAnalytics({
    writeKey: srv.writeKey, host: srv.url, flushAt, flushInterval: 5000, maxRetries: 0,
    httpClient: async (url, init) => {
      const res = await fetch(url, init);
      segBodies.push({ status: res.status, body: init.body, text: await res.clone().text() });
      return res;
    },
  });
  const probe = segClient(1);
  await new Promise((r) => probe.track({ userId: 'seg-big', event: 'Big', properties: { i: 10, blob: '' } }, r));
  await probe.closeAndFlush({ timeout: 10000 });
  const segBase = bytes(JSON.parse(segBodies[0].body).batch[0]);
  const seg = segClient(15);
  const segDone = [];
  for (let i = 11; i < 26; i++) {
    segDone.push(new Promise((r) => seg.track(
      { userId: 'seg-big', event: 'Big', properties: { i, blob: 's'.repeat(32768 - segBase) } }, (err) => r(err))));
  }
  await seg.closeAndFlush({ timeout: 10000 });
  assert.deepEqual(await Promise.all(segDone), Array(15).fill(undefined), 'no Segment delivery error');
  assert.equal(segBodies.length, 2);
  const big = segBodies[1];
  assert.equal(big.status, 200, big.text);
  assert.deepEqual(JSON.parse(big.body).batch.map(bytes), Array(15).fill(32768));
  assert.ok(Buffer.byteLength(big.body) > 480 * 1024 && Buffer.byteLength(big.body) <= 500 * 1024);

  // RudderStack (gzip): the first call goes alone; the next 15 reach the
  // 450 KB mark and go as one batch
  const rsBodies = [];
  const rs = new RudderAnalytics(srv.writeKey, { dataPlaneUrl: srv.url, retryCount: 0, logLevel: 'error', flushInterval: 5000 });
  rs.axiosInstance.interceptors.response.use(
    (res) => { rsBodies.push({ status: res.status, body: JSON.parse(gunzipSync(res.config.data)) }); return res; },
    (err) => { rsBodies.push({ status: err.response?.status ?? err.code, body: JSON.parse(gunzipSync(err.config.data)) }); return Promise.reject(err); },
  );
  const rsErrors = [];
  rs.track({ userId: 'rs-big', event: 'Big', properties: { i: 10, blob: '' } }, (e) => e && rsErrors.push(e));
  while (rs.queue.length) await rs.flush();
  await rs.flush();
  const rsBase = bytes(rsBodies[0].body.batch[0]);
  for (let i = 11; i < 26; i++)
    rs.track({ userId: 'rs-big', event: 'Big', properties: { i, blob: 'r'.repeat(32768 - rsBase) } }, (e) => e && rsErrors.push(e));
  while (rs.queue.length) await rs.flush();
  await rs.flush();
  assert.deepEqual(rsErrors, []);
  assert.deepEqual(rsBodies.map((b) => b.status), [200, 200]);
  assert.deepEqual(rsBodies[1].body.batch.map(bytes), Array(15).fill(32768));
  assert.ok(bytes(rsBodies[1].body) > 480 * 1024 && bytes(rsBodies[1].body) <= 500 * 1024);

  for (const [uid, n] of [['seg-big', 16], ['rs-big', 16]]) {
    const c = await customerBy(srv, 'user_id', uid);
    assert.equal(c.event_count, n);
    const evs = await timeline(srv, c.id);
    assert.deepEqual(evs.map((e) => e.properties.i).sort((a, b) => a - b), Array.from({ length: 16 }, (_, k) => 10 + k));
    for (const e of evs) assert.equal(e.properties.blob.length, e.properties.i === 10 ? 0 : 32768 - (uid === 'seg-big' ? segBase : rsBase));
  }
});
