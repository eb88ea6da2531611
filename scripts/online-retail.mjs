#!/usr/bin/env node
// Turns the UCI Online Retail data set (Chen, Sain & Guo 2012) into JSON Lines
// of Segment-spec tracking messages for `cxm import events`: one `identify`
// per customer and one "Order Completed" (or "Order Refunded") `track` per
// invoice. The recipe, the field mapping and the caveats are in
// docs/online-retail.md. Node.js 18 or later, no npm packages.
//
//   node scripts/online-retail.mjs online_retail_2010-2011.csv.gz --out retail.jsonl
//   cxm import events retail.jsonl --data ./cxm-data --source online-retail
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

const USAGE = `usage: node scripts/online-retail.mjs [FILE|-] [--out FILE] [--limit-lines N]
                                    [--cancellations refund|skip] [--guests]

Reads the Online Retail CSV (gzip or plain; FILE, or stdin when FILE is "-" or
absent) and writes JSON Lines for \`cxm import events\` to stdout or --out FILE.
  --limit-lines N       read only the first N data lines (after the header)
  --cancellations skip  leave out cancelled invoices (InvoiceNo "C…"); the
                        default "refund" writes them as "Order Refunded"
  --guests              keep the invoices that have no CustomerID, each as its
                        own anonymous customer (anonymousId "guest-<InvoiceNo>");
                        by default their lines are skipped and counted
Exit status: 0 success, 1 bad input, 2 bad usage.
`;

const HEADER = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country';
// `cxm import events` stops at a line longer than this (bytes, as in the file).
const MAX_LINE_BYTES = 32768;

class InputError extends Error {
  constructor(line, message) {
    super(`line ${line}: ${message}`);
    this.line = line;
  }
}

class UsageError extends Error {}

function parseArgs(argv) {
  const o = { file: '-', out: null, limit: Infinity, cancellations: 'refund', guests: false };
  let file = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value.`);
      return argv[++i];
    };
    if (a === '--help' || a === '-h') o.help = true;
    else if (a === '--out') o.out = value();
    else if (a === '--limit-lines') {
      const v = value();
      if (!/^\d+$/.test(v)) throw new UsageError(`--limit-lines takes a whole number, not "${v}".`);
      o.limit = Number(v);
    } else if (a === '--cancellations') {
      const v = value();
      if (v !== 'refund' && v !== 'skip') throw new UsageError(`--cancellations takes "refund" or "skip", not "${v}".`);
      o.cancellations = v;
    } else if (a === '--guests') o.guests = true;
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option ${a}.`);
    else if (file !== null) throw new UsageError(`only one input file, got "${file}" and "${a}".`);
    else file = a;
  }
  if (file !== null) o.file = file;
  return o;
}

// The input as a byte stream, gunzipped when it starts with the gzip magic.
async function openInput(path) {
  const raw = path === '-' ? process.stdin : createReadStream(path);
  const it = raw[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  let done = false;
  while (head.length < 2) {
    const r = await it.next();
    if (r.done) { done = true; break; }
    head = Buffer.concat([head, r.value]);
  }
  async function* rest() {
    if (head.length) yield head;
    while (!done) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  const s = Readable.from(rest(), { objectMode: false });
  if (head[0] !== 0x1f || head[1] !== 0x8b) return s;
  const gz = createGunzip();
  s.on('error', (e) => gz.destroy(e));
  return s.pipe(gz);
}

// Arrays of text lines (without their line end), one array per input chunk.
async function* lineBatches(stream) {
  const dec = new TextDecoder('utf-8');
  let rest = '';
  for await (const chunk of stream) {
    const text = rest + dec.decode(chunk, { stream: true });
    const lines = text.split('\n');
    rest = lines.pop();
    yield lines;
  }
  rest += dec.decode();
  if (rest !== '') yield [rest];
}

// One CSV record (RFC 4180: fields in double quotes may hold commas, line
// ends and "" for a quote). Returns the fields, or null when a quoted field
// is still open at the end of `text` (the record goes on on the next line).
function parseRecord(text, lineNo) {
  if (!text.includes('"')) return text.split(',');
  const fields = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    if (text[i] === '"') {
      let v = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q === -1) return null;
        v += text.slice(j, q);
        if (text[q + 1] === '"') { v += '"'; j = q + 2; continue; }
        i = q + 1;
        break;
      }
      fields.push(v);
      if (i === n) return fields;
      if (text[i] !== ',')
        throw new InputError(lineNo, `field ${fields.length} has text after its closing double quote.`);
      i++;
    } else {
      let c = text.indexOf(',', i);
      if (c === -1) c = n;
      const v = text.slice(i, c);
      if (v.includes('"'))
        throw new InputError(lineNo, `field ${fields.length + 1} has a double quote inside a field that does not start with one.`);
      fields.push(v);
      if (c === n) return fields;
      i = c + 1;
    }
  }
}

const RE_INVOICE = /^[A-Za-z]?\d+$/;
const RE_QUANTITY = /^-?\d+$/;
const RE_PRICE = /^(-?)(\d+)(?:\.(\d{1,3}))?$/;
const RE_CUSTOMER = /^(\d+)(?:\.0+)?$/;
// 2010-12-01 08:26:00 (this copy) or 12/1/2010 8:26 (the UCI/Kaggle export)
const RE_DATE_ISO = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/;
const RE_DATE_US = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?$/;
const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const pad = (v, w = 2) => String(v).padStart(w, '0');

// InvoiceDate as ISO-8601 UTC ("2010-12-01T08:26:00Z"), or null.
function isoTime(s) {
  let y, mo, d, h, mi, se;
  let m = RE_DATE_ISO.exec(s);
  if (m) [, y, mo, d, h, mi, se] = m;
  else if ((m = RE_DATE_US.exec(s))) [, mo, d, y, h, mi, se] = m;
  else return null;
  [y, mo, d, h, mi, se] = [y, mo, d, h, mi, se || '0'].map(Number);
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  if (y < 1000 || mo < 1 || mo > 12 || d < 1 || d > DAYS[mo - 1] || (mo === 2 && d === 29 && !leap) ||
      h > 23 || mi > 59 || se > 59) return null;
  return `${pad(y, 4)}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(se)}Z`;
}

// A price in thousandths of a pound, as an exact integer.
function priceMilli(m) {
  const v = Number(m[2]) * 1000 + Number((m[3] || '').padEnd(3, '0'));
  return m[1] ? -v : v;
}

// Thousandths to pounds, rounded half away from zero to whole pence.
function pounds(milli) {
  const pence = Math.round(Math.abs(milli) / 10);
  return (milli < 0 ? -pence : pence) / 100;
}

// Reads the whole CSV and groups it by invoice. Returns
// { invoices: Map, lines, skippedLines, skippedInvoices }.
async function readInvoices(input, o) {
  const invoices = new Map();
  const skippedInvoices = new Map(); // InvoiceNo -> its first line
  let lineNo = 0;        // physical line number of the line being read
  let dataLines = 0;     // records after the header
  let skippedLines = 0;
  let pending = null;    // a record whose quoted field spans lines
  let pendingLine = 0;
  let header = false;

  const take = (f, at) => {
    if (f.length !== 8) throw new InputError(at, `expected 8 fields (${HEADER}), found ${f.length}.`);
    const [no, stock, desc, qty, date, price, cust, country] = f;
    if (!RE_INVOICE.test(no)) throw new InputError(at, `InvoiceNo "${no}" is not a number with an optional letter before it (536365, C536379).`);
    if (stock === '') throw new InputError(at, 'StockCode is empty.');
    if (!RE_QUANTITY.test(qty)) throw new InputError(at, `Quantity "${qty}" is not a whole number.`);
    const pm = RE_PRICE.exec(price);
    if (!pm) throw new InputError(at, `UnitPrice "${price}" is not a decimal number with at most 3 decimals.`);
    const time = isoTime(date);
    if (!time) throw new InputError(at, `InvoiceDate "${date}" is not a date and time like 2010-12-01 08:26:00.`);
    let userId = '';
    if (cust !== '') {
      const cm = RE_CUSTOMER.exec(cust);
      if (!cm) throw new InputError(at, `CustomerID "${cust}" is not a whole number (like 17850 or 17850.0).`);
      userId = cm[1];
    }
    const cancelled = no[0] === 'C' || no[0] === 'c';
    let inv = invoices.get(no);
    if (!inv && skippedInvoices.has(no)) {
      if (userId)
        throw new InputError(at, `invoice ${no} is for customer ${userId} here but for no customer on line ${skippedInvoices.get(no)}.`);
      skippedLines++;
      return;
    }
    if (inv) {
      if (inv.userId !== userId)
        throw new InputError(at, `invoice ${no} is for ${userId ? 'customer ' + userId : 'no customer'} here but for ${inv.userId ? 'customer ' + inv.userId : 'no customer'} on line ${inv.line}.`);
      if (time < inv.time) inv.time = time;
    } else {
      if (!userId && !o.guests) {
        skippedLines++;
        skippedInvoices.set(no, at);
        return;
      }
      inv = { no, userId, country, time, line: at, cancelled, milli: 0, products: [] };
      invoices.set(no, inv);
    }
    const q = Number(qty);
    inv.milli += q * priceMilli(pm);
    const sign = cancelled ? -1 : 1;
    const p = { product_id: stock };
    const name = desc.trim();
    if (name) p.name = name;
    p.quantity = sign * q;
    p.price = Number(price);
    inv.products.push(p);
  };

  outer:
  for await (const batch of lineBatches(input)) {
    for (let text of batch) {
      lineNo++;
      if (text.endsWith('\r')) text = text.slice(0, -1);
      if (!header) {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        if (text !== HEADER)
          throw new InputError(lineNo, `the header is not "${HEADER}" (is this the Online Retail CSV?).`);
        header = true;
        continue;
      }
      if (text.includes('\ufffd'))
        throw new InputError(lineNo, 'the line is not valid UTF-8 (convert a Latin-1 file with: iconv -f latin1 -t utf-8).');
      if (pending !== null) {
        text = pending + '\n' + text;
      } else {
        if (text.trim() === '') continue;
        if (dataLines >= o.limit) break outer;
        pendingLine = lineNo;
      }
      const f = parseRecord(text, pendingLine);
      if (f === null) { pending = text; continue; }
      pending = null;
      dataLines++;
      take(f, pendingLine);
    }
  }
  if (pending !== null) throw new InputError(pendingLine, 'a double-quoted field is not closed before the end of the file.');
  if (!header) throw new InputError(1, `the input is empty; expected the header "${HEADER}".`);
  return { invoices, lines: dataLines, skippedLines, skippedInvoices: skippedInvoices.size };
}

// Buffered writes to a stream, waiting for 'drain'.
function writer(stream) {
  let parts = [];
  let size = 0;
  const flush = async () => {
    if (!parts.length) return;
    const chunk = parts.join('');
    parts = [];
    size = 0;
    if (!stream.write(chunk)) await once(stream, 'drain');
  };
  return {
    async line(s) {
      parts.push(s, '\n');
      size += s.length + 1;
      if (size >= 1 << 20) await flush();
    },
    flush,
  };
}

// The message of one invoice. A message must fit in MAX_LINE_BYTES: for the
// few invoices with hundreds of lines it would not, so the names of their
// last products are left out (product_id, quantity and price stay), and if
// that is not enough the last products themselves (properties.products_omitted
// says how many). Returns { json, unnamed, omitted }.
function orderLine(inv, ids) {
  const props = { order_id: inv.no };
  if (inv.cancelled) {
    props.total = pounds(-inv.milli);
  } else {
    props.revenue = pounds(inv.milli);
    props.total = props.revenue;
  }
  props.currency = 'GBP';
  props.products = inv.products;
  const msg = {
    type: 'track',
    messageId: `retail-inv-${inv.no}`,
    ...ids,
    event: inv.cancelled ? 'Order Refunded' : 'Order Completed',
    timestamp: inv.time,
    properties: props,
  };
  let json = JSON.stringify(msg);
  let excess = Buffer.byteLength(json) - MAX_LINE_BYTES;
  let unnamed = 0;
  let omitted = 0;
  // 1. names, from the last product backwards (each saves its bytes + 9)
  for (let i = inv.products.length - 1; excess > 0 && i >= 0; i--) {
    const p = inv.products[i];
    if (p.name === undefined) continue;
    excess -= Buffer.byteLength(JSON.stringify(p.name)) + 8;
    delete p.name;
    unnamed++;
  }
  if (unnamed) {
    json = JSON.stringify(msg);
    excess = Buffer.byteLength(json) - MAX_LINE_BYTES;
  }
  // 2. whole products, from the end
  if (excess > 0) {
    const all = inv.products;
    let keep = all.length;
    props.products_omitted = 0;
    while (excess > 0 && keep > 0) {
      keep--;
      excess -= Buffer.byteLength(JSON.stringify(all[keep])) + 1;
    }
    for (;;) {
      props.products = all.slice(0, keep);
      props.products_omitted = all.length - keep;
      json = JSON.stringify(msg);
      if (Buffer.byteLength(json) <= MAX_LINE_BYTES || keep === 0) break;
      keep--;
    }
    omitted = all.length - keep;
  }
  return { json, unnamed, omitted };
}

// "ENOENT: no such file or directory, open 'x'" -> "no such file or directory"
function systemMessage(e) {
  const m = /^[A-Z]+: ([^,]+)/.exec(e.message);
  return m ? m[1] : e.message;
}

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

async function main(argv) {
  let o;
  try {
    o = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`online-retail: ${e.message}\n${USAGE}`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const t0 = process.hrtime.bigint();
  let data;
  try {
    data = await readInvoices(await openInput(o.file), o);
  } catch (e) {
    if (e instanceof InputError) process.stderr.write(`online-retail: ${o.file === '-' ? 'stdin' : o.file}, ${e.message}\n`);
    else process.stderr.write(`online-retail: cannot read ${o.file === '-' ? 'stdin' : o.file}: ${systemMessage(e)}.\n`);
    return 1;
  }

  // Which invoices become events, and each customer's first one.
  const orders = [];
  const customers = new Map(); // key -> { time, country, done }
  for (const inv of data.invoices.values()) {
    if (inv.cancelled && o.cancellations === 'skip') continue;
    orders.push(inv);
    const key = inv.userId || `guest-${inv.no}`;
    const c = customers.get(key);
    if (!c) customers.set(key, { time: inv.time, country: inv.country, done: false });
    else if (inv.time < c.time) { c.time = inv.time; c.country = inv.country; }
  }

  const out = o.out ? createWriteStream(o.out) : process.stdout;
  const outErr = new Promise((_, reject) => out.on('error', reject));
  outErr.catch(() => {});
  const w = writer(out);
  let completed = 0, refunded = 0, identifies = 0, cut = 0, cutNames = 0, cutProducts = 0;
  const write = async () => {
    for (const inv of orders) {
      const key = inv.userId || `guest-${inv.no}`;
      const ids = inv.userId ? { userId: inv.userId } : { anonymousId: key };
      const c = customers.get(key);
      if (!c.done) {
        c.done = true;
        identifies++;
        await w.line(JSON.stringify({
          type: 'identify',
          messageId: `retail-id-${key}`,
          ...ids,
          traits: { country: c.country },
          timestamp: c.time,
        }));
      }
      const { json, unnamed, omitted } = orderLine(inv, ids);
      if (unnamed || omitted) cut++;
      cutNames += unnamed;
      cutProducts += omitted;
      if (inv.cancelled) refunded++;
      else completed++;
      await w.line(json);
    }
    await w.flush();
    if (o.out) {
      out.end();
      await once(out, 'finish');
    }
  };
  try {
    await Promise.race([write(), outErr]);
  } catch (e) {
    process.stderr.write(`online-retail: cannot write ${o.out || 'stdout'}: ${systemMessage(e)}.\n`);
    return 1;
  }

  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const skipped = o.guests ? '' :
    `; skipped ${plural(data.skippedLines, 'line')} without a CustomerID (${plural(data.skippedInvoices, 'invoice')})`;
  const cutNote = !cut ? '' :
    `; ${plural(cut, 'invoice')} too long for one ${MAX_LINE_BYTES}-byte message: ${cutNames} of their products lost their name` +
    (cutProducts ? ` and ${plural(cutProducts, 'product')} were left out (properties.products_omitted)` : '') +
    ', their totals are complete';
  process.stderr.write(
    `online-retail: read ${plural(data.lines, 'line')}; wrote ${plural(identifies, 'customer')} (identify), ` +
    `${completed} "Order Completed" and ${refunded} "Order Refunded" to ${o.out || 'stdout'}` +
    `${skipped}${cutNote}; ${secs.toFixed(1)} s.\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => {
    process.stderr.write(`online-retail: ${e.stack || e}\n`);
    process.exitCode = 1;
  },
);
