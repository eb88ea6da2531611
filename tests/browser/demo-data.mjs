// Demo data for the browser tests. Two ways to fill a data directory:
//   demoCommand(): `cxm demo` (the real thing, once the command exists);
//   demoViaTracking(): a small stand-in that sends a demo company's events
//   through the Tracking API of a running server.
// dashboard.test.mjs picks one with the DEMO_VIA_COMMAND constant.
import { spawn } from 'node:child_process';
import { BIN, track, api } from '../api/server.mjs';

// Runs `cxm demo --data DIR --customers N --seed S`; resolves with the
// credentials line ({data, admin_token, write_key}) it prints on stderr.
export function demoCommand(dir, { customers = 1500, seed = 3 } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, ['demo', '--data', dir, '--customers', String(customers), '--seed', String(seed)], {
      env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    proc.stderr.on('data', (c) => { err += c; });
    proc.stdout.on('data', (c) => { err += c; });
    proc.on('exit', (code) => {
      const line = err.split('\n').find((l) => l.startsWith('{"data"'));
      if (code !== 0 || !line) reject(new Error(`cxm demo exited with ${code}:\n${err}`));
      else resolve(JSON.parse(line));
    });
  });
}

// A deterministic pseudo-random generator (mulberry32), so runs are alike.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = ['Ada', 'Grace', 'Alan', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Dennis', 'Frances', 'Edsger'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Torvalds', 'Hamilton', 'Thompson', 'Liskov', 'Ritchie', 'Allen', 'Dijkstra'];
const PRODUCTS = ['Kettle', 'Teapot', 'Mug', 'Grinder', 'Scale'];

// Sends a demo company to a running server `srv` (from startServer): sources
// web, app, email, store, call_centre, chat; `customers` customers with
// identify calls and page / track events spread over the last 120 days.
// Returns { customers: [{userId, email}] }.
export async function demoViaTracking(srv, { customers = 300, seed = 3 } = {}) {
  const rand = rng(seed);
  const pick = (arr) => arr[Math.floor(rand() * arr.length)];
  const keys = {};
  for (const name of ['web', 'app', 'email', 'store', 'call_centre', 'chat']) {
    const r = await api(srv, '/sources', { method: 'POST', body: { name } });
    if (r.status !== 201) throw new Error(`create source ${name}: ${r.status} ${r.text}`);
    keys[name] = r.json.write_key;
  }
  const now = Date.now();
  const day = 86400000;
  const batches = Object.fromEntries(Object.keys(keys).map((k) => [k, []]));
  const people = [];
  for (let i = 0; i < customers; i++) {
    const userId = `user-${seed}-${i}`;
    const first = pick(FIRST);
    const last = pick(LAST);
    const email = `${first}.${last}.${i}@example.com`.toLowerCase();
    const anonymousId = `anon-${seed}-${i}`;
    people.push({ userId, email });
    let t = now - Math.floor(rand() * 120 * day);
    const ts = () => new Date(Math.min(t, now - 1000)).toISOString();
    // anonymous browsing first, then sign-up (identify), then activity
    batches.web.push({ type: 'page', anonymousId, name: 'Home', properties: { path: '/' }, timestamp: ts() });
    t += 60000;
    batches.web.push({
      type: 'identify', userId, anonymousId, timestamp: ts(),
      traits: { email, name: `${first} ${last}`, plan: pick(['free', 'pro', 'team']) },
    });
    const n = 2 + Math.floor(rand() * 12);
    for (let k = 0; k < n; k++) {
      t += Math.floor(rand() * 6 * day);
      if (t > now) break;
      const src = pick(['web', 'web', 'web', 'app', 'app', 'email', 'store', 'call_centre', 'chat']);
      const product = pick(PRODUCTS);
      let m;
      switch (src) {
        case 'web': m = rand() < 0.7
          ? { type: 'page', name: 'Product', properties: { path: `/p/${product.toLowerCase()}` } }
          : { type: 'track', event: 'Product Viewed', properties: { product } }; break;
        case 'app': m = rand() < 0.5
          ? { type: 'screen', name: 'Basket', properties: {} }
          : { type: 'track', event: 'Order Completed', properties: { product, revenue: Math.round(rand() * 9000) / 100 } }; break;
        case 'email': m = { type: 'track', event: pick(['Email Opened', 'Email Clicked']), properties: { campaign: 'spring' } }; break;
        case 'store': m = { type: 'track', event: 'Order Completed', properties: { product, revenue: Math.round(rand() * 20000) / 100, store: 'Leeds' } }; break;
        case 'call_centre': m = { type: 'track', event: 'Ticket Opened', properties: { topic: pick(['delivery', 'refund', 'billing']) } }; break;
        default: m = { type: 'track', event: 'Chat Started', properties: { agent: pick(FIRST) } };
      }
      batches[src].push({ ...m, userId, timestamp: ts() });
    }
  }
  for (const [name, list] of Object.entries(batches)) {
    for (let i = 0; i < list.length; i += 500) {
      const r = await track(srv, '/v1/batch', { batch: list.slice(i, i + 500) }, { key: keys[name] });
      if (r.status !== 200) throw new Error(`batch to ${name}: ${r.status} ${r.text}`);
    }
  }
  return { customers: people, keys };
}
