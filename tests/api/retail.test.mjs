// Real data: a slice of the UCI Online Retail data set, converted by
// scripts/online-retail.mjs and loaded with `cxm import events`. The expected
// figures are computed here from the CSV, independently of the converter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { startServer, tempDir, cxm } from './server.mjs';
import { stats, customerByUser, allEvents } from './helpers.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const CONVERTER = join(ROOT, 'scripts/online-retail.mjs');
const FIXTURE = join(ROOT, 'tests/data/online-retail/slice.csv');
const MAX_LINE = 32768;

// ---- the expected figures, straight from the CSV ----------------------

// Splits CSV text into records of fields (RFC 4180), a character at a time.
function csvRecords(text) {
  const records = [];
  let rec = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { rec.push(field); field = ''; }
    else if (ch === '\n') { rec.push(field); records.push(rec); rec = []; field = ''; }
    else if (ch !== '\r') field += ch;
  }
  if (field !== '' || rec.length) { rec.push(field); records.push(rec); }
  return records;
}

// Per customer: their invoices (order id → { time, pence, refund }).
function expected(csv) {
  const [header, ...rows] = csvRecords(csv);
  const col = Object.fromEntries(header.map((h, i) => [h, i]));
  const customers = new Map();
  let anonymousLines = 0;
  for (const r of rows) {
    const cust = r[col.CustomerID];
    if (cust === '') { anonymousLines++; continue; }
    const user = String(parseInt(cust, 10));
    const no = r[col.InvoiceNo];
    const time = r[col.InvoiceDate].replace(' ', 'T') + '.000Z';
    if (!customers.has(user)) customers.set(user, new Map());
    const inv = customers.get(user);
    if (!inv.has(no)) inv.set(no, { time, tenthsOfPence: 0, lines: 0, refund: no.startsWith('C') });
    const o = inv.get(no);
    if (time < o.time) o.time = time;
    o.lines++;
    o.tenthsOfPence += Number(r[col.Quantity]) * Math.round(Number(r[col.UnitPrice]) * 1000);
  }
  let orders = 0;
  let refunds = 0;
  for (const inv of customers.values())
    for (const o of inv.values()) {
      if (o.refund) refunds++;
      else orders++;
      o.pounds = Math.round(Math.abs(o.tenthsOfPence) / 10) / 100;
    }
  return { customers, orders, refunds, anonymousLines, rows: rows.length };
}

const FIX = expected(readFileSync(FIXTURE, 'utf8'));

// ---- running things ---------------------------------------------------

function convert(args, input) {
  const r = spawnSync(process.execPath, [CONVERTER, ...args], {
    input, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 60_000,
  });
  assert.equal(r.error, undefined, String(r.error));
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function messages(jsonl) {
  return jsonl.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

const HEADER = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country';
const LINE = '536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom';

// ---- the converter ----------------------------------------------------

test('the fixture slice has what the recipe must handle', () => {
  assert.ok(FIX.rows > 3000, `only ${FIX.rows} data lines`);
  assert.ok(FIX.refunds > 0, 'no cancellation with a CustomerID');
  assert.ok(FIX.anonymousLines > 0, 'no line without a CustomerID');
  assert.ok(FIX.customers.size > 50);
});

test('converter: one identify per customer, one track per invoice, stable ids, times in UTC', () => {
  const r = convert([FIXTURE]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter(Boolean);
  for (const l of lines) assert.ok(Buffer.byteLength(l) <= MAX_LINE, `a line of ${Buffer.byteLength(l)} bytes`);
  const msgs = messages(r.stdout);
  const identifies = msgs.filter((m) => m.type === 'identify');
  const tracks = msgs.filter((m) => m.type === 'track');
  assert.equal(identifies.length + tracks.length, msgs.length);
  assert.deepEqual(new Set(identifies.map((m) => m.userId)), new Set(FIX.customers.keys()));
  assert.equal(identifies.length, FIX.customers.size);
  assert.equal(tracks.filter((m) => m.event === 'Order Completed').length, FIX.orders);
  assert.equal(tracks.filter((m) => m.event === 'Order Refunded').length, FIX.refunds);
  assert.equal(new Set(msgs.map((m) => m.messageId)).size, msgs.length, 'messageIds are not unique');
  for (const m of msgs) {
    assert.match(m.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(m.messageId, /^retail-(id|inv)-[A-Z0-9]+$/);
  }
  // every order: its customer, time and amount as computed from the CSV
  for (const t of tracks) {
    const o = FIX.customers.get(t.userId)?.get(t.properties.order_id);
    assert.ok(o, `unexpected order ${t.properties.order_id} of ${t.userId}`);
    assert.equal(t.messageId, `retail-inv-${t.properties.order_id}`);
    assert.equal(t.timestamp.replace('Z', '.000Z'), o.time);
    assert.equal(t.properties.total, o.pounds, `total of ${t.properties.order_id}`);
    assert.equal(t.properties.currency, 'GBP');
    assert.equal(t.properties.products.length, o.lines, `products of ${t.properties.order_id}`);
    assert.equal(t.properties.products_omitted, undefined);
    if (!o.refund) assert.equal(t.properties.revenue, o.pounds);
  }
  // a customer's identify comes at their first invoice, before their orders
  for (const [user, inv] of FIX.customers) {
    const first = [...inv.values()].map((o) => o.time).sort()[0];
    const id = identifies.find((m) => m.userId === user);
    assert.equal(id.timestamp.replace('Z', '.000Z'), first);
    assert.equal(typeof id.traits.country, 'string');
    assert.ok(msgs.indexOf(id) < msgs.findIndex((m) => m.type === 'track' && m.userId === user));
  }
  // the first invoice of the file, checked by hand: 7 lines, £139.12
  const first = tracks.find((m) => m.properties.order_id === '536365');
  assert.equal(first.userId, '17850');
  assert.equal(first.event, 'Order Completed');
  assert.equal(first.timestamp, '2010-12-01T08:26:00Z');
  assert.equal(first.properties.revenue, 139.12);
  assert.equal(first.properties.products.length, 7);
  assert.deepEqual(first.properties.products[0],
    { product_id: '85123A', name: 'WHITE HANGING HEART T-LIGHT HOLDER', quantity: 6, price: 2.55 });
  // a description with a comma inside double quotes
  const sign = tracks.find((m) => m.properties.order_id === '536381');
  assert.ok(sign.properties.products.some((p) => p.name === 'AIRLINE LOUNGE,METAL SIGN'));
  // invoice 542806 is split in two by another invoice in the file: one order
  const split = tracks.filter((m) => m.properties.order_id === '542806');
  assert.equal(split.length, 1);
  assert.equal(split[0].properties.products.length, 39);
  assert.equal(split[0].timestamp, '2011-02-01T11:19:00Z');
  // a cancellation: positive amounts, the refunded order's own number
  const c = tracks.find((m) => m.properties.order_id === 'C536379');
  assert.equal(c.event, 'Order Refunded');
  assert.equal(c.properties.total, 27.5);
  assert.equal(c.properties.revenue, undefined);
  assert.deepEqual(c.properties.products, [{ product_id: 'D', name: 'Discount', quantity: 1, price: 27.5 }]);
  // the summary counts the skipped lines
  assert.match(r.stderr, new RegExp(`skipped ${FIX.anonymousLines} lines without a CustomerID`));
});

test('converter: gzip on stdin and --out give the same lines; --limit-lines and the options', () => {
  const plain = convert([FIXTURE]);
  assert.equal(plain.code, 0, plain.stderr);
  const gz = convert(['-'], gzipSync(readFileSync(FIXTURE)));
  assert.equal(gz.code, 0, gz.stderr);
  assert.equal(gz.stdout, plain.stdout);
  const dir = tempDir('cxm-retail-');
  try {
    const out = join(dir, 'out.jsonl');
    const f = convert([FIXTURE, '--out', out]);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(f.stdout, '');
    assert.equal(readFileSync(out, 'utf8'), plain.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // the first 7 data lines are invoice 536365 only
  const few = convert([FIXTURE, '--limit-lines', '7']);
  assert.equal(few.code, 0, few.stderr);
  assert.deepEqual(messages(few.stdout).map((m) => m.messageId), ['retail-id-17850', 'retail-inv-536365']);
  assert.match(few.stderr, /read 7 lines/);
  const skip = messages(convert([FIXTURE, '--cancellations', 'skip']).stdout);
  assert.equal(skip.filter((m) => m.event === 'Order Refunded').length, 0);
  assert.equal(skip.filter((m) => m.event === 'Order Completed').length, FIX.orders);
  const guests = messages(convert([FIXTURE, '--guests']).stdout);
  const anon = guests.filter((m) => m.anonymousId);
  assert.ok(anon.length > 0);
  for (const m of anon) {
    assert.equal(m.userId, undefined);
    assert.match(m.anonymousId, /^guest-C?\d+$/);
  }
  for (const l of guests) assert.ok(Buffer.byteLength(JSON.stringify(l)) <= MAX_LINE);
  assert.equal(convert(['--bogus']).code, 2);
  assert.equal(convert([FIXTURE, '--limit-lines', 'x']).code, 2);
});

test('converter: bad input stops with the line number and exit status 1', () => {
  const cases = [
    ['InvoiceNo,StockCode\n1,2\n', /line 1: the header/],
    [`${HEADER}\n${LINE}\n536366,22633,HAND WARMER,six,2010-12-01 08:28:00,1.85,17850.0,United Kingdom\n`, /line 3: Quantity "six"/],
    [`${HEADER}\n${LINE}\n${LINE.replace('2010-12-01', '2010-13-01')}\n`, /line 3: InvoiceDate/],
    [`${HEADER}\n${LINE}\n\n536366,22633,"HAND WARMER,6,2010-12-01 08:28:00,1.85,17850.0,United Kingdom\n`, /line 4: .*double-quoted field is not closed/],
    [`${HEADER}\n${LINE.replace(',United Kingdom', '')}\n`, /line 2: expected 8 fields/],
    [`${HEADER}\n${LINE}\n${LINE.replace('17850.0', '13047.0')}\n`, /line 3: invoice 536365 is for customer 13047/],
    [`${HEADER}\n${LINE.replace('2.55', '2,55')}\n`, /line 2: /],
    ['', /empty/],
  ];
  for (const [input, re] of cases) {
    const r = convert([], input);
    assert.equal(r.code, 1, `exit ${r.code} for ${JSON.stringify(input.slice(-60))}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(r.stdout, '');
  }
  const missing = convert([join(tmpdir(), `cxm-retail-missing-${process.pid}.csv`)]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read/);
});

test('converter: an invoice too long for one message keeps its totals', () => {
  const body = [];
  let tenths = 0;
  for (let i = 0; i < 1500; i++) {
    const price = (1 + (i % 97) / 100).toFixed(2);
    body.push(`600000,${10000 + i},"A LONG PRODUCT NAME, NUMBER ${i}",${1 + (i % 5)},2011-06-01 10:00:00,${price},12345.0,France`);
    tenths += (1 + (i % 5)) * Math.round(Number(price) * 1000);
  }
  const r = convert([], `${HEADER}\n${body.join('\n')}\n`);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, 2);
  for (const l of lines) assert.ok(Buffer.byteLength(l) <= MAX_LINE, `a line of ${Buffer.byteLength(l)} bytes`);
  const t = JSON.parse(lines[1]);
  assert.equal(t.properties.revenue, Math.round(tenths / 10) / 100);
  assert.equal(t.properties.products.length + t.properties.products_omitted, 1500);
  assert.ok(t.properties.products_omitted > 0);
  assert.deepEqual(t.properties.products[0], { product_id: '10000', quantity: 1, price: 1 });
  assert.match(r.stderr, /too long for one 32768-byte message/);

  // 400 lines fit once the last products' names are left out: all are kept
  const r400 = convert([], `${HEADER}\n${body.slice(0, 400).join('\n')}\n`);
  assert.equal(r400.code, 0, r400.stderr);
  const l400 = r400.stdout.split('\n').filter(Boolean)[1];
  assert.ok(Buffer.byteLength(l400) <= MAX_LINE);
  const p400 = JSON.parse(l400).properties;
  assert.equal(p400.products.length, 400);
  assert.equal(p400.products_omitted, undefined);
  assert.equal(p400.products[0].name, 'A LONG PRODUCT NAME, NUMBER 0');
  assert.equal(p400.products[399].name, undefined);
  assert.equal(p400.products[399].product_id, '10399');
});

// ---- through cxm ------------------------------------------------------

test('import: the slice through `cxm import events`, checked on the admin API; a second import adds nothing', async () => {
  const dir = tempDir('cxm-retail-');
  let srv;
  try {
    const jsonl = join(dir, 'retail.jsonl');
    const conv = convert([FIXTURE, '--out', jsonl]);
    assert.equal(conv.code, 0, conv.stderr);
    const total = FIX.customers.size + FIX.orders + FIX.refunds;
    const data = join(dir, 'data');
    const init = cxm(['init', '--data', data]);
    assert.equal(init.code, 0, init.stderr);
    const creds = JSON.parse(init.stdout);

    const first = cxm(['import', 'events', jsonl, '--data', data, '--source', 'online-retail']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, new RegExp(`imported ${total} events \\(0 duplicates skipped\\)`));
    const again = cxm(['import', 'events', jsonl, '--data', data, '--source', 'online-retail']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`imported 0 events \\(${total} duplicates skipped\\)`));

    srv = await startServer({ data, creds });
    const s = await stats(srv);
    assert.equal(s.customers, FIX.customers.size);
    assert.equal(s.events, total);
    assert.equal(s.merged_customers, 0);

    let orders = 0;
    let refunds = 0;
    for (const [user, inv] of FIX.customers) {
      const c = await customerByUser(srv, user);
      assert.ok(c, `customer ${user} not found`);
      const times = [...inv.values()].map((o) => o.time).sort();
      assert.equal(c.first_seen, times[0], `first_seen of ${user}`);
      assert.equal(c.last_seen, times[times.length - 1], `last_seen of ${user}`);
      assert.equal(c.event_count, inv.size + 1, `event_count of ${user}`);
      const { events } = await allEvents(srv, c.id);
      const got = events.filter((e) => e.type === 'track');
      assert.equal(got.length, inv.size, `orders of ${user}`);
      for (const e of got) {
        const o = inv.get(e.properties.order_id);
        assert.ok(o, `order ${e.properties.order_id} is not ${user}'s`);
        assert.equal(e.event, o.refund ? 'Order Refunded' : 'Order Completed');
        assert.equal(e.timestamp, o.time);
        assert.equal(e.properties.total, o.pounds);
        if (o.refund) refunds++;
        else orders++;
      }
      assert.equal(events.filter((e) => e.type === 'identify').length, 1);
    }
    assert.equal(orders, FIX.orders);
    assert.equal(refunds, FIX.refunds);

    // one customer by hand: 17850 bought 139.12 at 08:26 on the first day
    const c = await customerByUser(srv, '17850');
    assert.equal(c.traits.country, 'United Kingdom');
    assert.equal(c.first_seen, '2010-12-01T08:26:00.000Z');
    const { events } = await allEvents(srv, c.id);
    const o = events.find((e) => e.properties?.order_id === '536365');
    assert.equal(o.properties.revenue, 139.12);
    assert.equal(o.messageId, 'retail-inv-536365');
    const spent = events.filter((e) => e.event === 'Order Completed')
      .reduce((sum, e) => sum + Math.round(e.properties.revenue * 100), 0);
    const expectedSpent = [...FIX.customers.get('17850').values()]
      .filter((x) => !x.refund).reduce((sum, x) => sum + Math.round(x.pounds * 100), 0);
    assert.equal(spent, expectedSpent);

    assert.equal((await srv.stop()).code, 0);
    srv = null;
    // a third import after the server ran: still nothing new
    const third = cxm(['import', 'events', jsonl, '--data', data, '--source', 'online-retail']);
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stderr, /imported 0 events/);
  } finally {
    if (srv) await srv.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
