// The timelines snapshot: saved at a clean stop, read at the next start with
// only the log after it scanned. Whatever happens after it (more events,
// merges of customers it holds, a SIGKILL) or to it (damage, a store that
// no longer matches), a start gives the same customers and timelines as a
// full scan of the log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, unlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, track, api } from './server.mjs';
import { uid } from './helpers.mjs';

// Everything a start derives: stats, and every customer's identities and
// timeline (message ids, newest first).
async function state(srv) {
  const stats = (await api(srv, '/stats')).json;
  const customers = [];
  let cursor = null;
  do {
    const r = await api(srv, `/customers?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200, r.text);
    customers.push(...r.json.customers);
    cursor = r.json.next_cursor;
  } while (cursor);
  const out = { events: stats.events, customers: stats.customers, merged: stats.merged_customers, timelines: {} };
  for (const c of customers) {
    const ev = (await api(srv, `/customers/${c.id}/events?limit=1000`)).json.events;
    out.timelines[c.id] = { ids: c.identities.map((i) => `${i.type}:${i.value}`).sort(),
      events: ev.map((e) => e.messageId), count: c.event_count, first: c.first_seen, last: c.last_seen };
  }
  return out;
}

async function send(srv, msgs) {
  const r = await track(srv, '/v1/batch', { batch: msgs });
  assert.equal(r.status, 200, r.text);
}

function events(user, n, day) {
  return Array.from({ length: n }, (_, i) => ({
    type: 'track', userId: user, event: i % 2 ? 'Order Completed' : 'Product Viewed',
    messageId: `${user}-${day}-${i}`, timestamp: `2026-0${day}-1${i % 10}T10:00:00Z`,
    properties: { i },
  }));
}

test('a start from the snapshot plus the log equals a full scan, after merges, a SIGKILL and damage', async () => {
  let srv = await startServer();
  const creds = srv.creds, dir = srv.data, snap = join(dir, 'cxm.db-timelines');
  const a = uid('snap-a'), b = uid('snap-b'), anon = uid('snap-anon');
  try {
    // before the snapshot: two customers, one anonymous visitor
    await send(srv, [...events(a, 6, 1), ...events(b, 5, 2),
      { type: 'page', anonymousId: anon, name: 'Home', messageId: `${anon}-p`, timestamp: '2026-01-05T09:00:00Z' }]);
    assert.equal((await srv.stop()).code, 0);
    assert.ok(existsSync(snap), 'a clean stop saves the snapshot');

    srv = await startServer({ data: dir, creds });
    assert.match(srv.logs, /"msg":"snapshot_loaded"/);
    assert.ok(existsSync(join(dir, 'cxm.db-dedupe')), 'and the messageId window');
    const saved = await state(srv);
    // the saved window still drops what was sent before the stop
    const dup0 = (await api(srv, '/stats')).json.duplicates_dropped;
    await send(srv, events(a, 6, 1));
    assert.equal((await api(srv, '/stats')).json.duplicates_dropped, dup0 + 6);
    assert.deepEqual(await state(srv), saved);
    // after it: more events, and merges of customers it holds
    await send(srv, [...events(a, 3, 3),
      { type: 'identify', userId: a, anonymousId: anon, messageId: `${a}-merge-anon`, timestamp: '2026-03-01T00:00:00Z' },
      { type: 'alias', userId: a, previousId: b, messageId: `${a}-alias-b`, timestamp: '2026-03-02T00:00:00Z' }]);
    const before = await state(srv);
    assert.equal(before.merged, saved.merged + 2);
    await srv.kill(); // no snapshot of this: the log after the old one is replayed

    srv = await startServer({ data: dir, creds });
    assert.match(srv.logs, /"msg":"snapshot_loaded"/);
    assert.deepEqual(await state(srv), before, 'snapshot + log tail after SIGKILL');
    const merged = Object.values(before.timelines).find((t) => t.ids.includes(`user_id:${a}`));
    assert.equal(merged.events.length, 6 + 5 + 1 + 3 + 2, 'the merged timeline holds every event');
    assert.equal((await srv.stop()).code, 0);

    // the same without the snapshot (a full scan)
    unlinkSync(snap);
    srv = await startServer({ data: dir, creds });
    assert.doesNotMatch(srv.logs, /snapshot_loaded|snapshot_ignored/);
    assert.deepEqual(await state(srv), before, 'full scan');
    assert.equal((await srv.stop()).code, 0);

    // a damaged snapshot and window are ignored, and the log scanned
    const bytes = readFileSync(snap);
    bytes[bytes.length - 5] ^= 0xff;
    writeFileSync(snap, bytes);
    const dd = join(dir, 'cxm.db-dedupe'), ddBytes = readFileSync(dd);
    ddBytes[ddBytes.length - 3] ^= 0xff;
    writeFileSync(dd, ddBytes);
    srv = await startServer({ data: dir, creds });
    assert.match(srv.logs, /"msg":"snapshot_ignored".*damaged/);
    assert.match(srv.logs, /"msg":"dedupe_saved_ignored".*damaged/);
    assert.deepEqual(await state(srv), before, 'damaged snapshot');
    const dup1 = (await api(srv, '/stats')).json.duplicates_dropped;
    await send(srv, events(b, 5, 2));
    assert.equal((await api(srv, '/stats')).json.duplicates_dropped, dup1 + 5, 'still deduplicated');
    assert.equal((await srv.stop()).code, 0);

    // a truncated one too
    writeFileSync(snap, readFileSync(snap).subarray(0, 40));
    srv = await startServer({ data: dir, creds });
    assert.match(srv.logs, /"msg":"snapshot_ignored"/);
    assert.deepEqual(await state(srv), before, 'truncated snapshot');
  } finally {
    await srv.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a snapshot that does not match the log (a store restored from an older copy) is ignored', async () => {
  let srv = await startServer();
  const creds = srv.creds, dir = srv.data, snap = join(dir, 'cxm.db-timelines');
  const a = uid('snap-old');
  try {
    await send(srv, events(a, 4, 1));
    assert.equal((await srv.stop()).code, 0);
    const older = readFileSync(snap);
    srv = await startServer({ data: dir, creds });
    await send(srv, events(a, 4, 2));
    assert.equal((await srv.stop()).code, 0);
    // the newer snapshot put beside a store it does not describe: take a
    // fresh store with other events, and give it this snapshot
    const other = await startServer();
    const otherDir = other.data, otherCreds = other.creds;
    await send(other, events(uid('snap-other'), 9, 3)); // more events than the snapshot holds
    const expect = await state(other);
    assert.equal((await other.stop()).code, 0);
    writeFileSync(join(otherDir, 'cxm.db-timelines'), older);
    const again = await startServer({ data: otherDir, creds: otherCreds });
    try {
      assert.match(again.logs, /"msg":"snapshot_ignored".*does not match/);
      assert.deepEqual(await state(again), expect);
    } finally {
      await again.stop();
      rmSync(otherDir, { recursive: true, force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
