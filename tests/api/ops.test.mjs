// Operations against a live server: /healthz, /metrics, backpressure (503 +
// Retry-After when the ingest queue is full) and graceful shutdown that
// loses nothing acknowledged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, track, api } from './server.mjs';
import {
  uid, stats, customerByUser, allEvents, eventsOfUser, assertError, request, parseMetrics,
  withServer, withServerLog,
} from './helpers.mjs';

async function metrics(srv) {
  const r = await request(srv, 'GET', '/metrics');
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-type') || '', /^text\/plain/);
  return { text: r.text, m: parseMetrics(r.text) };
}

// A request is counted when the server has finished with it (MHD's
// completion callback), which can come just after the client has read the
// answer: read /metrics until the track route's count has caught up with
// the answers the test saw (2 s at most). It only waits: the asserts
// below still compare the exact counts.
async function metricsAfter(srv, answered) {
  const until = Date.now() + 2000;
  for (;;) {
    const got = await metrics(srv);
    const n = Object.entries(got.m).filter(([k]) => k.startsWith('cxm_http_requests_total{route="track"'))
      .reduce((a, [, v]) => a + v, 0);
    const timed = got.m.cxm_ingest_request_seconds_count || 0; // counted in the same callback, just after
    if ((n >= answered && timed >= answered) || Date.now() > until) return got;
    await new Promise((res) => setTimeout(res, 20));
  }
}

test('/healthz answers 200 {"status":"ok"}', async () => {
  await withServer({}, async (srv) => {
    const r = await request(srv, 'GET', '/healthz');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: 'ok' });
    assert.match(r.headers.get('content-type') || '', /^application\/json/);
    // no token needed; a POST is the wrong method
    assertError(await request(srv, 'POST', '/healthz'), 405, 'method_not_allowed', null);
  });
});

test('/metrics: Prometheus text with events ingested and rejections by reason', async () => {
  await withServer({}, async (srv) => {
    const u = uid('metrics');
    for (let i = 0; i < 3; i++) assert.equal((await track(srv, '/v1/track', { userId: u, event: 'E', messageId: `${u}-${i}` })).status, 200);
    const b = await track(srv, '/v1/batch', { batch: Array.from({ length: 4 }, (_, i) => ({ type: 'identify', userId: u, messageId: `${u}-b${i}` })) });
    assert.equal(b.status, 200);
    // a duplicate is not an ingested event
    assert.equal((await track(srv, '/v1/track', { userId: u, event: 'E', messageId: `${u}-0` })).status, 200);
    let { text, m } = await metricsAfter(srv, 5);
    assert.match(text, /^# TYPE cxm_events_ingested_total counter$/m);
    assert.match(text, /^# HELP cxm_events_ingested_total .+$/m);
    assert.equal(m.cxm_events_ingested_total, 7);
    assert.equal(m.cxm_events_duplicate_total, 1);
    assert.equal(m['cxm_http_requests_total{route="track",status="2xx"}'], 5);
    assert.equal(m['cxm_http_requests_total{route="track",status="4xx"}'], 0);
    assert.equal(m.cxm_customers, 1);
    assert.equal(m.cxm_ingest_queue_depth, 0);
    assert.ok(m.cxm_resident_memory_bytes > 0);
    assert.equal(m['cxm_ingest_request_seconds_count'], 5);
    assert.equal(m['cxm_ingest_request_seconds_bucket{le="+Inf"}'], 5);
    assert.equal(Object.keys(m).filter((k) => k.startsWith('cxm_ingest_rejected_total')).length, 0);

    assert.equal((await track(srv, '/v1/track', '{"userId":')).status, 400);
    assert.equal((await track(srv, '/v1/track', '{"userId":')).status, 400);
    assert.equal((await track(srv, '/v1/track', { userId: u, event: 'E' }, { key: null })).status, 401);
    assert.equal((await track(srv, '/v1/batch', { batch: [{ type: 'nope', userId: u }] })).status, 400);
    ({ m } = await metricsAfter(srv, 9));
    assert.equal(m['cxm_ingest_rejected_total{reason="malformed_json"}'], 2);
    assert.equal(m['cxm_ingest_rejected_total{reason="missing_write_key"}'], 1);
    assert.equal(m['cxm_ingest_rejected_total{reason="unknown_type"}'], 1);
    assert.equal(m['cxm_http_requests_total{route="track",status="4xx"}'], 4);
    assert.equal(m.cxm_events_ingested_total, 7, 'rejections are not ingested');
    assert.equal((await stats(srv)).events, 7);
  });
});

test('a full queue answers 503 with Retry-After, and stores exactly what got 200', async () => {
  await withServer({ env: { CXM_QUEUE_MESSAGES: '1' } }, async (srv) => {
    const { m } = await metrics(srv);
    assert.equal(m.cxm_ingest_queue_capacity, 1);
    const N = 80;
    const PER = 25;
    const reqs = Array.from({ length: N }, (_, k) => {
      const u = uid(`q${k}`);
      return { u, body: { batch: Array.from({ length: PER }, (_, i) => ({ type: 'track', userId: u, event: 'Burst', messageId: `${u}-${i}` })) } };
    });
    const results = await Promise.all(reqs.map((r) => track(srv, '/v1/batch', r.body)));
    const ok = [];
    const busy = [];
    results.forEach((r, k) => {
      if (r.status === 200) {
        assert.deepEqual(r.json, { success: true });
        ok.push(reqs[k]);
      } else {
        assertError(r, 503, 'overloaded', null);
        const ra = r.headers.get('retry-after');
        assert.match(ra || '', /^\d+$/, 'a 503 carries Retry-After in seconds');
        assert.ok(Number(ra) >= 1);
        busy.push(reqs[k]);
      }
    });
    assert.ok(ok.length >= 1, 'at least the first batch is admitted');
    assert.ok(busy.length >= 1, `the queue of 1 never filled (${ok.length} of ${N} admitted)`);
    assert.equal((await stats(srv)).events, ok.length * PER);
    for (const r of ok) {
      const evs = await eventsOfUser(srv, r.u);
      assert.deepEqual(evs.map((e) => e.messageId).sort(), r.body.batch.map((x) => x.messageId).sort());
    }
    for (const r of busy) assert.equal(await customerByUser(srv, r.u), null, `${r.u} got 503 but was stored`);
    const { m: m2 } = await metrics(srv);
    assert.equal(m2['cxm_ingest_rejected_total{reason="overloaded"}'], busy.length);
    assert.equal(m2['cxm_http_requests_total{route="track",status="5xx"}'], busy.length);
    // retried one at a time, the refused batches all go in, once
    for (const r of busy) {
      const again = await track(srv, '/v1/batch', r.body);
      assert.equal(again.status, 200, again.text);
    }
    const s = await stats(srv);
    assert.equal(s.events, N * PER);
    assert.equal(s.duplicates_dropped, 0);
  });
});

// Fires the first wave of tracking requests at once; as soon as the first is
// answered sends SIGTERM (through srv.stop) and fires the second wave into
// the stopping server. Resolves with every request's outcome, in order.
async function stormAndStop(srv, wave1, wave2) {
  let settled = 0;
  let settledAtSignal = -1;
  let stopping = null;
  let second = Promise.resolve([]);
  const fire = (r) => track(srv, r.path, r.body)
    .then((res) => ({ status: res.status, text: res.text }), (e) => ({ status: 0, error: String(e.cause?.code || e.message) }));
  const startStop = () => {
    if (stopping) return;
    settledAtSignal = settled;
    stopping = srv.stop();
    second = Promise.all(wave2.map(fire));
  };
  const first = await Promise.all(wave1.map((r) => fire(r).finally(() => { settled++; startStop(); })));
  startStop();
  const exit = await stopping;
  return { outcomes: [...first, ...(await second)], exit, settledAtSignal };
}

test('graceful shutdown under load: exit 0, and every message that got 200 is stored once', async () => {
  const srv = await startServer();
  let s2;
  try {
    const users = Array.from({ length: 8 }, () => uid('shut'));
    const reqs = [];
    for (let k = 0; k < 300; k++) {
      const u = users[k % users.length];
      if (k % 3 === 0) {
        const ids = Array.from({ length: 40 }, (_, i) => `${u}-${k}-${i}`);
        reqs.push({ path: '/v1/batch', ids, body: { batch: ids.map((id) => ({ type: 'track', userId: u, event: 'Load', messageId: id })) } });
      } else {
        reqs.push({ path: '/v1/track', ids: [`${u}-${k}`], body: { userId: u, event: 'Load', messageId: `${u}-${k}` } });
      }
    }
    const sent = new Set(reqs.flatMap((r) => r.ids));
    const { outcomes, exit, settledAtSignal } = await stormAndStop(srv, reqs.slice(0, 240), reqs.slice(240));
    assert.equal(exit.code, 0, `exit ${exit.code} signal ${exit.signal}`);
    assert.match(srv.logs, /"msg":"stopped"/);
    assert.ok(settledAtSignal < 240, 'SIGTERM came after every request was answered: nothing was in flight');
    const acked = new Set();
    outcomes.forEach((o, k) => {
      assert.ok([200, 503, 0].includes(o.status), `request ${k}: unexpected ${o.status} ${o.text}`);
      if (o.status === 503) assert.match(o.text, /shutting_down|overloaded/);
      if (o.status === 200) for (const id of reqs[k].ids) acked.add(id);
    });
    assert.ok(acked.size > 0, "no request was acknowledged");

    s2 = await startServer({ data: srv.data, creds: srv.creds });
    const stored = [];
    for (const u of users) stored.push(...(await eventsOfUser(s2, u)).map((e) => e.messageId));
    const storedSet = new Set(stored);
    assert.equal(storedSet.size, stored.length, 'a message was stored twice');
    const lost = [...acked].filter((id) => !storedSet.has(id));
    assert.deepEqual(lost, [], `${lost.length} acknowledged messages were lost`);
    for (const id of stored) assert.ok(sent.has(id), `stored a message never sent: ${id}`);
    assert.equal((await stats(s2)).events, stored.length);
  } catch (e) {
    throw withServerLog(e, s2 || srv);
  } finally {
    if (s2) assert.equal((await s2.stop()).code, 0);
    srv.cleanup();
  }
});

test('SIGINT stops the server gracefully too (exit 0, data kept)', async () => {
  const srv = await startServer();
  try {
    const u = uid('sigint');
    assert.equal((await track(srv, '/v1/track', { userId: u, event: 'Before SIGINT' })).status, 200);
    srv.proc.kill('SIGINT');
    const exit = await srv.exited;
    assert.equal(exit.code, 0);
    assert.doesNotMatch(srv.logs, /ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:/);
    const s2 = await startServer({ data: srv.data, creds: srv.creds });
    try {
      assert.equal((await eventsOfUser(s2, u)).length, 1);
    } finally {
      assert.equal((await s2.stop()).code, 0);
    }
  } finally {
    srv.cleanup();
  }
});

test('the server refuses to start on a data directory another server holds', async () => {
  await withServer({}, async (srv) => {
    await assert.rejects(startServer({ data: srv.data, creds: srv.creds }), /exited with 1/);
    // the first one is unharmed
    assert.equal((await request(srv, 'GET', '/healthz')).status, 200);
    assert.equal((await api(srv, '/stats')).status, 200);
  });
});
