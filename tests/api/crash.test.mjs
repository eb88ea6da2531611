// Crash test: clients stream batches while the server is killed with
// SIGKILL at a random moment, several rounds on one data directory. After
// the last restart every message of a request that got 200 is stored
// exactly once, and every other request is stored whole or not at all.
//
// CXM_BIN_FAST names a binary without sanitizers to use here (the harness's
// CXM_BIN otherwise). CRASH_SEED replays a run (the seed is printed).
import { test } from 'node:test';
import assert from 'node:assert/strict';

if (process.env.CXM_BIN_FAST) process.env.CXM_BIN = process.env.CXM_BIN_FAST;
const { startServer, api, BIN } = await import('./server.mjs');

const ROUNDS = Number(process.env.CRASH_ROUNDS || 5);
const WORKERS = 4;
const USERS = 6;

// small seeded PRNG (mulberry32) so that a failing run can be replayed
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function makeBatch(rand, round, seq) {
  const id = `r${round}b${seq}`;
  const size = 50 + Math.floor(rand() * 151); // 50..200
  const msgs = [];
  for (let i = 0; i < size; i++) {
    msgs.push({
      type: 'track',
      messageId: `crash-${id}-${i}`,
      userId: `crash-u${Math.floor(rand() * USERS)}`,
      event: 'Crash Probe',
      properties: { batch: id, i, round, note: 'x'.repeat(Math.floor(rand() * 120)) },
    });
  }
  return { id, round, mids: msgs.map((m) => m.messageId), body: JSON.stringify({ batch: msgs }), acked: false, sends: 0 };
}

async function post(srv, body) {
  const res = await fetch(`${srv.url}/v1/batch`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: 'Basic ' + Buffer.from(`${srv.writeKey}:`).toString('base64'),
    },
    body,
    signal: AbortSignal.timeout(15000),
  });
  const text = await res.text();
  return { status: res.status, text };
}

// every event of a customer, pages of 1000
async function timeline(srv, id) {
  const out = [];
  let cursor = null;
  for (let page = 0; page < 1000; page++) {
    const r = await api(srv, `/customers/${id}/events?limit=1000` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''));
    assert.equal(r.status, 200, r.text);
    out.push(...r.json.events);
    cursor = r.json.next_cursor;
    if (cursor === null) return out;
  }
  throw new Error('timeline paging did not end');
}

test(`SIGKILL during streaming, ${ROUNDS} rounds: acknowledged batches stored exactly once, others all or nothing`,
  { timeout: 120000 }, async (t) => {
    const seed = Number(process.env.CRASH_SEED || (Date.now() % 2147483647));
    const rand = prng(seed);
    t.diagnostic(`CRASH_SEED=${seed} binary=${BIN}`);

    const batches = new Map(); // id -> batch
    const unexpected = []; // responses other than 200 and 503
    let srv = await startServer();
    const { data, creds } = srv;
    t.after(async () => {
      // on a failure the current server may still run: end it, then the data
      if (srv.proc.exitCode === null && srv.proc.signalCode === null) await srv.kill();
      srv.cleanup();
    });
    let seq = 0, cut = 0;
    const lastAcked = []; // per round, batches in the order they were acknowledged

    for (let round = 0; round < ROUNDS; round++) {
      if (round > 0) srv = await startServer({ data, creds });
      // a client resends about half of what was never acknowledged, with
      // the same messageIds (what a real SDK does after a failure)
      const retries = [...batches.values()].filter((b) => !b.acked && rand() < 0.5);
      const next = () => retries.shift() || (() => {
        const b = makeBatch(rand, round, seq++);
        batches.set(b.id, b);
        return b;
      })();
      let stopped = false;
      let inFlightFailures = 0, refused = 0, overloaded = 0;
      const causes = new Set();
      let acked = 0;
      const ackOrder = [];
      lastAcked.push(ackOrder);
      const worker = async () => {
        while (!stopped) {
          const b = next();
          b.sends++;
          let r;
          try {
            r = await post(srv, b.body);
          } catch (e) {
            // the server died under this request (or just before it)
            const code = e.cause?.code || e.name;
            if (code === 'ECONNREFUSED') refused++;
            else inFlightFailures++;
            causes.add(code);
            return;
          }
          if (r.status === 200) {
            assert.deepEqual(JSON.parse(r.text), { success: true });
            if (!b.acked) ackOrder.push(b);
            b.acked = true;
            acked++;
          } else if (r.status === 503) {
            overloaded++;
            await sleep(20); // overloaded: back off; the batch stays unacknowledged
          } else {
            unexpected.push({ batch: b.id, status: r.status, text: r.text });
          }
        }
      };
      const workers = Array.from({ length: WORKERS }, worker);
      // the kill: at a random moment once the stream runs (after the
      // round's first acknowledgement, so that every round has some)
      for (let waited = 0; !acked && waited < 20000; waited += 5) await sleep(5);
      await sleep(Math.floor(rand() * 1000));
      const ex = await srv.kill();
      assert.equal(ex.signal, 'SIGKILL');
      await Promise.all(workers);
      stopped = true;
      t.diagnostic(`round ${round}: ${acked} batches acknowledged, ${inFlightFailures} requests cut by the kill ` +
        `(${[...causes].join(', ')}), ${refused} refused after it, ${overloaded} answered 503`);
      assert.ok(acked > 0, `round ${round}: some batches were acknowledged before the kill`);
      cut += inFlightFailures;
    }
    assert.deepEqual(unexpected, [], 'no response other than 200 or 503');
    assert.ok(cut >= ROUNDS, `the kills cut requests in flight (${cut})`);

    // final start: read everything back
    srv = await startServer({ data, creds });
    const count = new Map(); // messageId -> times stored
    let seen = 0, customers = 0;
    for (let u = 0; u < USERS; u++) {
      const r = await api(srv, `/customers?user_id=crash-u${u}`);
      assert.equal(r.status, 200, r.text);
      if (r.json.customers.length === 0) continue;
      assert.equal(r.json.customers.length, 1);
      const c = r.json.customers[0];
      customers++;
      const evs = await timeline(srv, c.id);
      assert.equal(evs.length, c.event_count, `crash-u${u}: event_count matches the timeline`);
      for (const e of evs) {
        assert.equal(e.userId, `crash-u${u}`);
        assert.equal(e.type, 'track');
        assert.equal(e.event, 'Crash Probe');
        const m = /^crash-(r\d+b\d+)-(\d+)$/.exec(e.messageId);
        assert.ok(m, `unknown messageId ${e.messageId}`);
        assert.equal(e.properties.batch, m[1]);
        assert.equal(e.properties.i, Number(m[2]));
        assert.ok(batches.has(m[1]), `stored message of a batch never sent: ${e.messageId}`);
        count.set(e.messageId, (count.get(e.messageId) || 0) + 1);
        seen++;
      }
    }
    const stats = await api(srv, '/stats');
    assert.equal(stats.json.events, seen, 'stats and timelines agree');
    assert.equal(stats.json.customers, customers, 'one customer per user that has events');

    const twice = [...count].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], 'no message is stored twice');
    let ackedBatches = 0, wholeUnacked = 0, absentUnacked = 0, ackedMsgs = 0;
    const half = [], lost = [];
    for (const b of batches.values()) {
      const stored = b.mids.filter((mid) => count.has(mid)).length;
      if (b.acked) {
        ackedBatches++;
        ackedMsgs += b.mids.length;
        if (stored !== b.mids.length) lost.push(`${b.id}: ${stored}/${b.mids.length} stored (sent ${b.sends}x)`);
      } else if (stored === 0) absentUnacked++;
      else if (stored === b.mids.length) wholeUnacked++;
      else half.push(`${b.id}: ${stored}/${b.mids.length} stored`);
    }
    t.diagnostic(`${batches.size} batches: ${ackedBatches} acknowledged (${ackedMsgs} messages), ` +
      `unacknowledged: ${wholeUnacked} stored whole, ${absentUnacked} absent; ${seen} events stored`);
    assert.deepEqual(lost, [], 'every acknowledged message is stored');
    assert.deepEqual(half, [], 'no request is half stored');
    assert.ok(ackedBatches >= ROUNDS);

    // dedupe survives the crashes: the clients now resend the last batches
    // acknowledged before each kill and every unacknowledged batch; only the
    // absent ones may add events
    const replay = [...lastAcked.flatMap((l) => l.slice(-3)), ...[...batches.values()].filter((b) => !b.acked)];
    let absentMsgs = 0;
    for (const b of batches.values()) if (!b.acked && !count.has(b.mids[0])) absentMsgs += b.mids.length;
    for (const b of replay) {
      const r = await post(srv, b.body);
      assert.equal(r.status, 200, r.text);
    }
    const after = await api(srv, '/stats');
    assert.equal(after.json.events, seen + absentMsgs, 'resent messageIds are not stored again; absent batches now are');

    const ex = await srv.stop();
    assert.equal(ex.code, 0, 'graceful stop after the crashes');
  });
