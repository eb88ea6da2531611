// bench/analytics.mjs - part 6 of make bench: journey analytics (funnels,
// retention) of cxm beside DuckDB running the equivalent SQL over the same
// events, in the same run, interleaved, with the answers checked equal.
//
//   node bench/analytics.mjs --csv FILE [--traits FILE] [--port P --token T] [--reps N]
//                            [--verify 1]
//
// FILE: the events of the cxm store as CSV rows (root customer id, ts in UTC
// ms, seq, name), one per named event (driver.py exports them from cxm.db,
// merged customers already followed to their root). Without --port only the
// DuckDB side runs. Progress on stderr; the last line on stdout is the JSON
// of the results. --traits FILE: the trait plan as CSV rows (root customer
// id, value as stored: JSON text, ts), for the segment rule on a trait.
//
// DuckDB gets the same head start cxm has (its timelines are in memory, in
// order): before any query is timed the events are loaded into an in-memory
// table, sorted by (ts, seq), with a global ordinal o = row_number() over
// (ts, seq) and the name as an ENUM. "After in timeline order" is then
// e.o > prev.o for the same customer. Load and preparation are timed and
// reported apart; they are not part of the comparison.
//
// The SQL computes the semantics of docs/analytics.md:
//  funnel: entry = the customer's first step-1 event with ts in [from, to);
//    step k = the earliest event after step k-1's in timeline order with
//    step k's name, counted when ts(step k) - ts(entry) <= window. The
//    earliest such event is min(o) over a join of the customers who reached
//    step k-1 with the events of step k's name (a grouped min; DuckDB's
//    ASOF JOIN gave the same answers but ran 1.8-2.3x slower here).
//  retention: cohort = the week (from Monday, UTC) of the customer's first
//    start_event in [from, to); retained[k] = cohort members with a
//    return_event after the start event (in timeline order) in week
//    cohort + k, k < periods.
//  segment (POST /api/v1/segments/preview, docs/segments.md): the number
//    of customers (roots) the rule holds for, from scratch; count(name)
//    without a window counts all of the customer's events of that name (the
//    data is in 2024, before now); traits.plan is the newest value (by ts)
//    over the customers merged into the root. DuckDB counts the same with a
//    GROUP BY over the events (and over the traits).
// Lifecycle (GET /api/v1/lifecycle) is timed on cxm only: its stage rules
// (docs/guide.md) are relative to now, and there is no DuckDB equivalent here.
import http from "node:http";
import { DuckDBInstance } from "@duckdb/node-api";

const args = {};
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
  args[a.slice(2)] = process.argv[++i];
}
if (!args.csv) {
  console.error("usage: node analytics.mjs --csv FILE [--port P --token T] [--reps N]");
  process.exit(2);
}
const reps = Math.max(3, Number(args.reps || 11));
const log = (...a) => console.error(...a);
const DAY = 86400000;
const iso = (ms) => new Date(ms).toISOString();
const sqlStr = (s) => `'${s.replaceAll("'", "''")}'`;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n ? (n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2) : null;
};

// ------------------------------------------------------------------ queries

const month = { from: Date.parse("2024-03-01T00:00:00Z"), to: Date.parse("2024-04-01T00:00:00Z") };
const QUERIES = [
  {
    key: "funnel5",
    label: "funnel, 5 steps, 7d window, March 2024",
    short: "funnel 5 steps 7d",
    target_ms: 150,
    kind: "funnel",
    steps: ["Product Viewed", "Product Added", "Cart Viewed", "Checkout Started", "Order Completed"],
    window_ms: 7 * DAY,
    window: "7d",
    ...month,
  },
  {
    key: "funnel12",
    label: "funnel, 12 steps, 7d window, March 2024",
    short: "funnel 12 steps 7d",
    target_ms: 300,
    kind: "funnel",
    // the 10 track names, two of them twice, and a page name
    steps: ["Home", "Product Searched", "Product Viewed", "Product Added", "Product Viewed",
      "Product Added", "Cart Viewed", "Coupon Applied", "Checkout Started", "Order Completed",
      "Email Opened", "Signed In"],
    window_ms: 7 * DAY,
    window: "7d",
    ...month,
  },
  {
    key: "retention12",
    label: "retention, 12 weekly cohorts × 12 periods",
    short: "retention 12 weekly cohorts",
    target_ms: 200,
    kind: "retention",
    start_event: "Signed In",
    return_event: "Order Completed",
    periods: 12,
    from: Date.parse("2024-01-01T00:00:00Z"), // a Monday
    to: Date.parse("2024-03-25T00:00:00Z"), // 12 weeks later
  },
];

// segment rules (docs/segments.md) whose answer does not depend on now,
// with DuckDB's count of the customers they hold for
const SEGMENTS = [
  {
    key: "seg_orders2",
    short: "segment count(Order Completed) >= 2",
    rule: 'count("Order Completed") >= 2',
    sql: "SELECT count(*) FROM (SELECT cid FROM ev WHERE name = 'Order Completed' GROUP BY cid" +
      " HAVING count(*) >= 2)",
  },
  {
    key: "seg_viewers",
    short: "segment viewed >= 5 && no order",
    rule: 'count("Product Viewed") >= 5 && count("Order Completed") == 0',
    sql: "SELECT count(*) FROM (SELECT cid FROM ev WHERE name IN ('Product Viewed', 'Order Completed')" +
      " GROUP BY cid HAVING count(*) FILTER (WHERE name = 'Product Viewed') >= 5" +
      " AND count(*) FILTER (WHERE name = 'Order Completed') = 0)",
  },
  {
    key: "seg_pro",
    short: "segment traits.plan == pro",
    rule: 'traits.plan == "pro"',
    needs_traits: true,
    // the value is stored as JSON text: '"pro"'
    sql: "SELECT count(*) FROM (SELECT cid, arg_max(value, ts) AS v FROM tr GROUP BY cid)" +
      " WHERE v = '\"pro\"'",
  },
];
const SEGMENT_TARGET_MS = 500;

function funnelSql(q) {
  const { from: F, to: T, window_ms: W } = q;
  // step events lie in [from, to + window): the filter lets DuckDB skip row
  // groups of the ts-sorted table; it does not change the answer
  const parts = [
    `s1 AS (SELECT cid, min(o) AS o, arg_min(ts, o) AS t1, arg_min(ts, o) AS t FROM ev` +
    ` WHERE name = ${sqlStr(q.steps[0])} AND ts >= ${F} AND ts < ${T} GROUP BY cid)`,
  ];
  for (let k = 2; k <= q.steps.length; k++) {
    parts.push(
      `s${k} AS (SELECT s.cid, any_value(s.t1) AS t1, min(e.o) AS o, arg_min(e.ts, e.o) AS t,` +
      ` arg_min(e.ts, e.o) - any_value(s.t) AS d FROM s${k - 1} s JOIN ev e` +
      ` ON e.cid = s.cid AND e.o > s.o AND e.ts <= s.t1 + ${W}` +
      ` WHERE e.name = ${sqlStr(q.steps[k - 1])} AND e.ts >= ${F} AND e.ts < ${T + W}` +
      ` GROUP BY s.cid)`);
  }
  let sql = `WITH ${parts.join(",\n")}\nSELECT 1 AS k, count(*) AS n, NULL::DOUBLE AS med FROM s1`;
  for (let k = 2; k <= q.steps.length; k++)
    sql += `\nUNION ALL SELECT ${k}, count(*), quantile_cont(d, 0.5) / 1000 FROM s${k}`;
  return sql + "\nORDER BY 1";
}

function retentionSql(q) {
  const { from: F, to: T, periods: P } = q;
  const W = 7 * DAY; // from is a Monday, so week k of the answer is [from + kW, from + (k+1)W)
  return `WITH st AS (SELECT cid, min(o) AS o, (arg_min(ts, o) - ${F}) // ${W} AS coh FROM ev` +
    ` WHERE name = ${sqlStr(q.start_event)} AND ts >= ${F} AND ts < ${T} GROUP BY cid),\n` +
    `ret AS (SELECT DISTINCT s.cid, s.coh, (e.ts - ${F}) // ${W} - s.coh AS k FROM st s JOIN ev e` +
    ` ON e.cid = s.cid AND e.o > s.o AND e.ts < ${F} + (s.coh + ${P}) * ${W}` +
    ` WHERE e.name = ${sqlStr(q.return_event)} AND e.ts >= ${F} AND e.ts < ${T + P * W})\n` +
    `SELECT coh, -1 AS k, count(*) AS n FROM st GROUP BY coh\n` +
    `UNION ALL SELECT coh, k, count(*) FROM ret GROUP BY coh, k ORDER BY 1, 2`;
}

// both sides' answers in one shape: funnel {steps:[{customers, median_seconds}]},
// retention {cohorts:[{start, size, retained}]}
function duckAnswer(q, rows) {
  if (q.kind === "funnel") {
    return {
      steps: rows.map((r) => ({
        customers: Number(r[1]),
        median_seconds: r[2] === null ? null : Number(r[2]),
      })),
    };
  }
  const W = 7 * DAY;
  const n = Math.ceil((q.to - q.from) / W);
  const cohorts = Array.from({ length: n }, (_, i) => ({
    start: iso(q.from + i * W), size: 0, retained: new Array(q.periods).fill(0),
  }));
  for (const [coh, k, cnt] of rows) {
    const c = cohorts[Number(coh)];
    if (Number(k) < 0) c.size = Number(cnt);
    else c.retained[Number(k)] = Number(cnt);
  }
  return { cohorts };
}

function cxmBody(q) {
  if (q.kind === "funnel") {
    return {
      steps: q.steps.map((event) => ({ event })), window: q.window,
      from: iso(q.from), to: iso(q.to),
    };
  }
  return {
    start_event: q.start_event, return_event: q.return_event, interval: "week",
    periods: q.periods, from: iso(q.from), to: iso(q.to),
  };
}

// the differences between DuckDB's answer and cxm's; counts must be equal,
// a median within a second (rounding) is the same
function compare(q, ref, got) {
  const diffs = [];
  const notes = [];
  if (q.kind === "funnel") {
    const gs = got.steps || [];
    if (gs.length !== ref.steps.length) diffs.push(`${gs.length} steps in cxm's answer, ${ref.steps.length} asked`);
    ref.steps.forEach((r, i) => {
      const g = gs[i] || {};
      if (g.customers !== r.customers)
        diffs.push(`step ${i + 1} (${q.steps[i]}): customers DuckDB ${r.customers}, cxm ${g.customers}`);
      const a = r.median_seconds, b = g.median_seconds;
      if ((a === null) !== (b === null || b === undefined) ||
          (a !== null && b !== null && b !== undefined && Math.abs(a - b) > 1))
        notes.push(`step ${i + 1} (${q.steps[i]}): median_seconds DuckDB ${a}, cxm ${b}`);
    });
  } else {
    const gc = got.cohorts || [];
    if (gc.length !== ref.cohorts.length) diffs.push(`${gc.length} cohorts from cxm, ${ref.cohorts.length} expected`);
    ref.cohorts.forEach((r, i) => {
      const g = gc[i] || {};
      const where = `cohort ${i} (${r.start})`;
      if (g.start && Date.parse(g.start) !== Date.parse(r.start))
        diffs.push(`${where}: cxm's cohort starts ${g.start}`);
      if (g.size !== r.size) diffs.push(`${where}: size DuckDB ${r.size}, cxm ${g.size}`);
      if (JSON.stringify(g.retained) !== JSON.stringify(r.retained))
        diffs.push(`${where}: retained DuckDB [${r.retained}], cxm [${g.retained}]`);
    });
  }
  return { diffs, notes };
}

// ------------------------------------------------------------------ cxm

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function cxmCall(q) {
  return cxmRequest(`/api/v1/analytics/${q.kind}`, cxmBody(q));
}

// POST path with the JSON of body, or GET when body is null
function cxmRequest(path, bodyObj) {
  const body = bodyObj === null ? "" : JSON.stringify(bodyObj);
  const method = bodyObj === null ? "GET" : "POST";
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const headers = { Authorization: `Bearer ${args.token}` };
    if (method === "POST") {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = Buffer.byteLength(body);
    }
    const req = http.request({
      host: "127.0.0.1", port: Number(args.port), method, path, agent, headers,
    }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const ms = performance.now() - t0;
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode !== 200) {
          reject(new Error(`${method} ${path} ${body}: ${res.statusCode} ${text.slice(0, 300)}`));
          return;
        }
        resolve({ ms, answer: JSON.parse(text) });
      });
    });
    req.on("error", reject);
    req.end(method === "POST" ? body : undefined);
  });
}

// ------------------------------------------------------------------ --verify

// A direct implementation of the contract over the CSV (each customer's
// events in (ts, seq) order, walked step by step): with --verify, DuckDB's
// answers are checked against it before anything is timed, so that a
// difference from cxm is not a mistake in the SQL. Counts only.
async function directAnswers(csv) {
  const { createReadStream } = await import("node:fs");
  const { createInterface } = await import("node:readline");
  const cid = [], ts = [], seq = [], nm = [];
  const names = new Map();
  const rl = createInterface({ input: createReadStream(csv), crlfDelay: Infinity });
  for await (const line of rl) {
    const a = line.indexOf(","), b = line.indexOf(",", a + 1), c = line.indexOf(",", b + 1);
    let name = line.slice(c + 1);
    if (name.startsWith('"')) name = name.slice(1, -1).replaceAll('""', '"');
    if (!names.has(name)) names.set(name, names.size);
    cid.push(Number(line.slice(0, a)));
    ts.push(Number(line.slice(a + 1, b)));
    seq.push(Number(line.slice(b + 1, c)));
    nm.push(names.get(name));
  }
  const idx = Uint32Array.from(cid.keys());
  idx.sort((x, y) => cid[x] - cid[y] || ts[x] - ts[y] || seq[x] - seq[y]);
  const id = (n) => (names.has(n) ? names.get(n) : -1);
  const answers = {};
  for (const q of QUERIES) {
    if (q.kind === "funnel") answers[q.key] = { steps: q.steps.map(() => 0) };
    else {
      const n = Math.ceil((q.to - q.from) / (7 * DAY));
      answers[q.key] = { cohorts: Array.from({ length: n }, () => ({ size: 0, retained: new Array(q.periods).fill(0) })) };
    }
  }
  for (let lo = 0; lo < idx.length;) {
    let hi = lo;
    while (hi < idx.length && cid[idx[hi]] === cid[idx[lo]]) hi++;
    for (const q of QUERIES) {
      const ans = answers[q.key];
      const first = q.kind === "funnel" ? id(q.steps[0]) : id(q.start_event);
      let i = lo;
      while (i < hi && !(nm[idx[i]] === first && ts[idx[i]] >= q.from && ts[idx[i]] < q.to)) i++;
      if (i === hi) continue;
      const t0 = ts[idx[i]];
      if (q.kind === "funnel") {
        ans.steps[0]++;
        let j = i;
        for (let k = 1; k < q.steps.length; k++) {
          const want = id(q.steps[k]);
          let x = j + 1;
          while (x < hi && nm[idx[x]] !== want) x++;
          if (x === hi || ts[idx[x]] - t0 > q.window_ms) break;
          ans.steps[k]++;
          j = x;
        }
      } else {
        const W = 7 * DAY, h = Math.floor((t0 - q.from) / W), ret = id(q.return_event);
        const c = ans.cohorts[h];
        c.size++;
        const seen = new Set();
        for (let x = i + 1; x < hi; x++) {
          if (nm[idx[x]] !== ret) continue;
          const k = Math.floor((ts[idx[x]] - q.from) / W) - h;
          if (k < q.periods) seen.add(k);
        }
        for (const k of seen) c.retained[k]++;
      }
    }
    lo = hi;
  }
  return answers;
}

// ------------------------------------------------------------------ main

const inst = await DuckDBInstance.create(":memory:");
const con = await inst.connect();
const threads = Number((await con.runAndReadAll("SELECT current_setting('threads')")).getRows()[0][0]);
const version = (await con.runAndReadAll("SELECT version()")).getRows()[0][0];
let t = performance.now();
await con.run(`CREATE TABLE raw AS SELECT * FROM read_csv(${sqlStr(args.csv)}, header = false,` +
  ` columns = {'cid': 'INTEGER', 'ts': 'BIGINT', 'seq': 'BIGINT', 'name': 'VARCHAR'})`);
const loadMs = performance.now() - t;
t = performance.now();
await con.run("CREATE TYPE evname AS ENUM (SELECT DISTINCT name FROM raw WHERE name IS NOT NULL ORDER BY name)");
await con.run("CREATE TABLE ev AS SELECT cid, ts, row_number() OVER (ORDER BY ts, seq) AS o," +
  " name::evname AS name FROM raw ORDER BY ts, seq");
await con.run("DROP TABLE raw");
const prepMs = performance.now() - t;
const rows = Number((await con.runAndReadAll("SELECT count(*) FROM ev")).getRows()[0][0]);
const customers = Number((await con.runAndReadAll("SELECT count(DISTINCT cid) FROM ev")).getRows()[0][0]);
log(`  DuckDB ${version} (${threads} threads, in memory): read ${rows.toLocaleString("en")} named events` +
  ` of ${customers.toLocaleString("en")} customers from CSV in ${(loadMs / 1000).toFixed(1)} s,` +
  ` sorted with ordinal and ENUM names in ${(prepMs / 1000).toFixed(1)} s (not timed below)`);

const withCxm = Boolean(args.port);
let direct = null;
if (args.verify !== undefined) {
  t = performance.now();
  direct = await directAnswers(args.csv);
  log(`  --verify: the contract computed directly over the CSV in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
// `reps` rounds of DuckDB and cxm, the one that goes first alternating:
// duck() and cxm() each run once and return { ms, answer } (cxm() null when
// it is not run), recorded in `res`; then the medians and DuckDB/cxm.
async function timeBoth(res, duck, cxm) {
  for (let i = 0; i < reps; i++) {
    const order = i % 2 ? ["duck", "cxm"] : ["cxm", "duck"];
    for (const side of order) {
      if (side === "duck") {
        res.duckdb_ms.push((await duck()).ms);
        continue;
      }
      const r = await cxm();
      if (!r) continue;
      res.cxm_ms.push(r.ms);
      if (typeof r.answer.took_ms === "number") res.cxm_took_ms.push(r.answer.took_ms);
    }
  }
  res.duckdb_median_ms = median(res.duckdb_ms);
  res.cxm_median_ms = median(res.cxm_ms);
  res.cxm_took_median_ms = median(res.cxm_took_ms);
  res.ratio = res.cxm_median_ms ? res.duckdb_median_ms / res.cxm_median_ms : null;
}

const out = {
  duckdb: { version, threads, rows, customers, load_ms: loadMs, prepare_ms: prepMs },
  reps, cxm: withCxm, queries: [],
};
for (const q of QUERIES) {
  const sql = q.kind === "funnel" ? funnelSql(q) : retentionSql(q);
  const duck = async () => {
    const t0 = performance.now();
    const r = (await con.runAndReadAll(sql)).getRows();
    return { ms: performance.now() - t0, answer: duckAnswer(q, r) };
  };
  // one unmeasured warm-up each; then cxm and DuckDB interleaved, the one
  // that goes first alternating
  const refAnswer = (await duck()).answer;
  if (direct) {
    const d = direct[q.key];
    const mine = q.kind === "funnel" ? { steps: refAnswer.steps.map((x) => x.customers) }
      : { cohorts: refAnswer.cohorts.map((c) => ({ size: c.size, retained: c.retained })) };
    const want = q.kind === "funnel" ? { steps: d.steps } : d;
    if (JSON.stringify(mine) !== JSON.stringify(want))
      throw new Error(`--verify: DuckDB's SQL for ${q.key} gives ${JSON.stringify(mine)}, the direct computation ${JSON.stringify(want)}`);
    log(`  --verify: DuckDB's answer to ${q.key} equals the direct computation`);
  }
  const res = { key: q.key, label: q.label, short: q.short, target_ms: q.target_ms, request: cxmBody(q), sql,
    duckdb_ms: [], cxm_ms: [], cxm_took_ms: [], expected: refAnswer };
  let cxmAnswer = null;
  let cxmError = null;
  if (withCxm) {
    try {
      cxmAnswer = (await cxmCall(q)).answer;
    } catch (e) {
      cxmError = e.message;
    }
  }
  await timeBoth(res, async () => {
    const r = await duck();
    if (JSON.stringify(r.answer) !== JSON.stringify(refAnswer)) throw new Error(`DuckDB's answer to ${q.key} changed`);
    return r;
  }, async () => {
    if (!cxmAnswer) return null;
    const r = await cxmCall(q);
    if (JSON.stringify(r.answer.steps || r.answer.cohorts) !==
        JSON.stringify(cxmAnswer.steps || cxmAnswer.cohorts)) cxmError = `cxm's answer to ${q.key} changed between runs`;
    return r;
  });
  if (cxmAnswer) {
    const { diffs, notes } = compare(q, refAnswer, cxmAnswer);
    res.match = diffs.length === 0;
    res.diffs = diffs;
    res.notes = notes;
    res.got = q.kind === "funnel"
      ? { steps: (cxmAnswer.steps || []).map((s) => ({ customers: s.customers, median_seconds: s.median_seconds })) }
      : { cohorts: (cxmAnswer.cohorts || []).map((c) => ({ start: c.start, size: c.size, retained: c.retained })) };
  }
  if (cxmError) res.error = cxmError;
  out.queries.push(res);
  const summary = q.kind === "funnel"
    ? `customers per step [${refAnswer.steps.map((s) => s.customers)}]`
    : `cohort sizes [${refAnswer.cohorts.map((c) => c.size)}]`;
  log(`  ${q.label}: ` + (res.cxm_median_ms !== null
    ? `cxm median ${res.cxm_median_ms.toFixed(1)} ms (server took_ms ${res.cxm_took_median_ms ?? "—"})` +
      ` | DuckDB ${res.duckdb_median_ms.toFixed(1)} ms | DuckDB/cxm ${res.ratio.toFixed(2)}×` +
      ` | answers ${res.match ? "equal" : "DIFFER"}`
    : `DuckDB ${res.duckdb_median_ms.toFixed(1)} ms; cxm: ${cxmError || "not run"}`));
  log(`    DuckDB: ${summary}`);
  for (const d of res.diffs || []) log(`    MISMATCH ${d}`);
  for (const n of res.notes || []) log(`    note ${n}`);
  if (res.match === false) {
    log(`    request: ${JSON.stringify(res.request)}`);
    log(`    DuckDB's answer: ${JSON.stringify(refAnswer)}`);
    log(`    cxm's answer:    ${JSON.stringify(res.got)}`);
  }
}

// ---- segments: a rule over every customer, from scratch (preview) ----
let haveTraits = false;
if (args.traits) {
  t = performance.now();
  await con.run(`CREATE TABLE tr AS SELECT * FROM read_csv(${sqlStr(args.traits)}, header = false,` +
    ` quote = '"', escape = '"', columns = {'cid': 'INTEGER', 'value': 'VARCHAR', 'ts': 'BIGINT'})`);
  const n = Number((await con.runAndReadAll("SELECT count(*) FROM tr")).getRows()[0][0]);
  log(`  DuckDB: read ${n.toLocaleString("en")} values of the trait plan from CSV in` +
    ` ${((performance.now() - t) / 1000).toFixed(1)} s (not timed below)`);
  out.duckdb.trait_rows = n;
  haveTraits = true;
}
out.segments = [];
for (const q of SEGMENTS) {
  if (q.needs_traits && !haveTraits) continue;
  const duck = async () => {
    const t0 = performance.now();
    const r = (await con.runAndReadAll(q.sql)).getRows();
    return { ms: performance.now() - t0, size: Number(r[0][0]) };
  };
  const preview = () => cxmRequest("/api/v1/segments/preview", { rule: q.rule });
  const refSize = (await duck()).size;
  const res = { key: q.key, short: q.short, rule: q.rule, sql: q.sql, target_ms: SEGMENT_TARGET_MS,
    duckdb_ms: [], cxm_ms: [], cxm_took_ms: [], duckdb_size: refSize, cxm_size: null };
  let cxmError = null;
  if (withCxm) {
    try {
      res.cxm_size = (await preview()).answer.size;
    } catch (e) {
      cxmError = e.message;
    }
  }
  await timeBoth(res, async () => {
    const r = await duck();
    if (r.size !== refSize) throw new Error(`DuckDB's answer to ${q.key} changed`);
    return r;
  }, async () => {
    if (res.cxm_size === null || cxmError) return null;
    const r = await preview();
    if (r.answer.size !== res.cxm_size) cxmError = `cxm's size for ${q.rule} changed between runs`;
    return r;
  });
  if (res.cxm_size !== null) res.match = res.cxm_size === refSize;
  if (cxmError) res.error = cxmError;
  out.segments.push(res);
  log(`  segment ${q.rule}: ` + (res.cxm_median_ms !== null
    ? `cxm preview median ${res.cxm_median_ms.toFixed(1)} ms (server took_ms ${res.cxm_took_median_ms ?? "—"})` +
      ` | DuckDB ${res.duckdb_median_ms.toFixed(1)} ms | DuckDB/cxm ${res.ratio.toFixed(2)}×` +
      ` | size cxm ${res.cxm_size}, DuckDB ${refSize}: ${res.match ? "equal" : "DIFFER"}`
    : `DuckDB ${res.duckdb_median_ms.toFixed(1)} ms, size ${refSize}; cxm: ${cxmError || "not run"}`));
  if (res.match === false) log(`    MISMATCH rule ${q.rule}: size DuckDB ${refSize}, cxm ${res.cxm_size}; SQL: ${q.sql}`);
}

// ---- lifecycle: cxm only (stage rules are relative to now; no DuckDB equivalent) ----
if (withCxm) {
  const lc = { cxm_ms: [], cxm_took_ms: [], reference: "none (no DuckDB equivalent)" };
  try {
    const first = (await cxmRequest("/api/v1/lifecycle", null)).answer; // warm-up
    for (let i = 0; i < reps; i++) {
      const r = await cxmRequest("/api/v1/lifecycle", null);
      lc.cxm_ms.push(r.ms);
      if (typeof r.answer.took_ms === "number") lc.cxm_took_ms.push(r.answer.took_ms);
    }
    lc.customers = first.customers;
    lc.stages = first.stages;
    lc.cxm_median_ms = median(lc.cxm_ms);
    lc.cxm_took_median_ms = median(lc.cxm_took_ms);
    log(`  lifecycle (GET /api/v1/lifecycle): cxm median ${lc.cxm_median_ms.toFixed(1)} ms` +
      ` (server took_ms ${lc.cxm_took_median_ms ?? "—"}) over ${first.customers} customers;` +
      ` stages ${first.stages.map((x) => `${x.name} ${x.customers}`).join(", ")}; no DuckDB equivalent`);
  } catch (e) {
    lc.error = e.message;
    log(`  lifecycle: ${e.message}`);
  }
  out.lifecycle = lc;
}
agent.destroy();
console.log(JSON.stringify(out));
