// Helpers for the API tests (tracking, identity, ops, cli). Builds on the
// shared harness in server.mjs; not a test file itself.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { track, api } from './server.mjs';

export const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

// A fresh id with a readable prefix.
export function uid(prefix = 'u') {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

// GET /api/v1/stats, asserting it answers.
export async function stats(srv) {
  const r = await api(srv, '/stats');
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// The customers matching one identity query (user_id, anonymous_id, email).
export async function findCustomers(srv, param, value) {
  const r = await api(srv, `/customers?${param}=${encodeURIComponent(value)}`);
  assert.equal(r.status, 200, r.text);
  return r.json.customers;
}

// The one customer holding userId, or null when there is none.
export async function customerByUser(srv, userId) {
  const list = await findCustomers(srv, 'user_id', userId);
  assert.ok(list.length <= 1, `user_id ${userId} matched ${list.length} customers`);
  return list[0] || null;
}

export async function getCustomer(srv, id) {
  const r = await api(srv, `/customers/${id}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// Every event of a customer, following next_cursor; returns { events, pages }.
export async function allEvents(srv, customerId, limit = 1000) {
  const events = [];
  const pages = [];
  let cursor = null;
  for (let guard = 0; guard < 10000; guard++) {
    const q = `limit=${limit}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : '');
    const r = await api(srv, `/customers/${customerId}/events?${q}`);
    assert.equal(r.status, 200, r.text);
    assert.ok(Array.isArray(r.json.events), r.text);
    pages.push(r.json);
    events.push(...r.json.events);
    cursor = r.json.next_cursor;
    if (cursor === null) return { events, pages };
    assert.equal(typeof cursor, 'string', 'next_cursor must be a string or null');
  }
  throw new Error('events paging did not end');
}

// The events stored for userId (none if the user is unknown).
export async function eventsOfUser(srv, userId) {
  const c = await customerByUser(srv, userId);
  if (!c) return [];
  return (await allEvents(srv, c.id)).events;
}

// Asserts an error body of the API.md shape and returns its error object.
export function assertError(r, status, code, field) {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status}: ${r.text}`);
  assert.ok(r.json && typeof r.json.error === 'object', `not a JSON error body: ${r.text}`);
  const e = r.json.error;
  // code: the one expected, or a list of acceptable ones
  if (Array.isArray(code)) assert.ok(code.includes(e.code), `code ${e.code} not one of ${code}: ${r.text}`);
  else assert.equal(e.code, code, r.text);
  assert.match(e.code, SNAKE);
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length >= 5, `message too short: ${r.text}`);
  if (field === undefined) {
    // not checked
  } else if (field === null) {
    assert.equal(e.field, undefined, `no field expected: ${r.text}`);
  } else {
    assert.equal(e.field, field, r.text);
  }
  assert.match(r.headers.get('content-type') || '', /^application\/json/);
  return e;
}

// Sends a bad request and checks that it is rejected as expected and that
// nothing of it was stored: the store's counters do not move, and the users
// named in `absentUsers` (valid messages of the same request) are unknown.
export async function expectRejected(srv, path, body, opts, { status, code, field, absentUsers = [] }) {
  const before = await stats(srv);
  const r = await track(srv, path, body, opts);
  const err = assertError(r, status, code, field);
  const after = await stats(srv);
  assert.equal(after.events, before.events, 'events were stored');
  assert.equal(after.customers, before.customers, 'customers were created');
  assert.equal(after.identities, before.identities, 'identities were created');
  for (const u of absentUsers) assert.equal(await customerByUser(srv, u), null, `${u} was stored`);
  return { r, err };
}

// Raw HTTP request to the server (any method). Resolves { status, json, text, headers }.
export async function request(srv, method, path, { headers = {}, body } = {}) {
  const stream = body instanceof ReadableStream;
  const res = await fetch(srv.url + path, { method, headers, body, ...(stream ? { duplex: 'half' } : {}) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}

export function basic(key) {
  return 'Basic ' + Buffer.from(`${key}:`).toString('base64');
}

// A JSON text of exactly `size` bytes: obj with properties.pad grown to fit.
export function sizedJson(obj, size, padPath = ['properties', 'pad']) {
  const o = structuredClone(obj);
  let t = o;
  for (const k of padPath.slice(0, -1)) t = t[k] ??= {};
  const last = padPath[padPath.length - 1];
  t[last] = '';
  const base = Buffer.byteLength(JSON.stringify(o));
  assert.ok(size >= base, `size ${size} below the skeleton's ${base}`);
  t[last] = 'x'.repeat(size - base);
  const s = JSON.stringify(o);
  assert.equal(Buffer.byteLength(s), size);
  return { text: s, obj: o };
}

export function ms(iso) {
  const t = Date.parse(iso);
  assert.ok(Number.isFinite(t), `not a date: ${iso}`);
  return t;
}

// Parses Prometheus text into { 'name{labels}': value }.
export function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/);
    assert.ok(m, `not a Prometheus sample line: ${line}`);
    out[m[1]] = Number(m[2]);
  }
  return out;
}

// Runs fn(srv) against a server of its own, then stops it gracefully (exit
// code 0, no sanitizer report) and removes its data directory.
export async function withServer(opts, fn) {
  const { startServer } = await import('./server.mjs');
  const s = await startServer(opts);
  let ok = false;
  try {
    await fn(s);
    ok = true;
  } catch (e) {
    throw withServerLog(e, s);
  } finally {
    let res, err;
    try { res = await s.stop(); } catch (e) { err = e; }
    s.cleanup();
    if (ok) {
      if (err) throw err;
      assert.equal(res.code, 0, `cxm serve exited with ${res.code} (signal ${res.signal})`);
    }
  }
}

// Adds the server's crash report, if any, to a test failure (a bare "fetch
// failed" says little when the process died).
export function withServerLog(e, s) {
  const dead = s.proc.exitCode !== null || s.proc.signalCode !== null;
  const lines = s.logs.split('\n');
  const report = lines.filter((l) => /runtime error|Sanitizer|SUMMARY|#\d+ 0x/.test(l)).slice(0, 12);
  // a death without a sanitizer report (an abort from a library, say):
  // the last lines it wrote say more than nothing
  if (dead && !report.length) report.push(...lines.filter((l) => l.trim()).slice(-12));
  if (!dead && !report.length) return e;
  const err = new Error(`${e.message}\ncxm serve ${dead ? `died (exit ${s.proc.exitCode}, signal ${s.proc.signalCode})` : 'reported'}:\n${report.join('\n')}`);
  err.cause = e;
  return err;
}

// LZ4's block format (lz4_Block_format.md in lz4's repository): sequences
// of a token (literal count, match length), the literals, a 2-byte offset
// back into what is written and the match. src unpacks to size bytes.
export function lz4Unpack(src, size) {
  const out = Buffer.alloc(size);
  let i = 0;
  let o = 0;
  const more = (n) => {
    let b;
    do { b = src[i++]; n += b; } while (b === 255);
    return n;
  };
  while (i < src.length) {
    const token = src[i++];
    let lit = token >> 4;
    if (lit === 15) lit = more(lit);
    src.copy(out, o, i, i + lit);
    i += lit;
    o += lit;
    if (i >= src.length) break;
    const off = src[i] | (src[i + 1] << 8);
    i += 2;
    let len = token & 15;
    if (len === 15) len = more(len);
    len += 4;
    if (!off || off > o) throw new Error('lz4: bad offset');
    for (let k = 0; k < len; k++, o++) out[o] = out[o - off];
  }
  if (o !== size) throw new Error(`lz4: ${o} bytes, expected ${size}`);
  return out;
}

// The data of every event_blocks row of a store, unpacked as
// lib/store/bodies.c packs it ("LZ41", the length, a CRC-32, the LZ4
// block): what a scan of the files' bytes cannot see through.
export function storedBlocks(dbFile) {
  const q = spawnSync('sqlite3', ['-readonly', dbFile, 'SELECT hex(data) FROM event_blocks'],
    { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (q.status !== 0) throw new Error(`sqlite3: ${q.stderr}`);
  return q.stdout.split('\n').filter(Boolean).map((h) => {
    const d = Buffer.from(h, 'hex');
    return d.length >= 12 && d.readUInt32LE(0) === 0x31345A4C ? lz4Unpack(d.subarray(12), d.readUInt32LE(4)) : d;
  });
}
