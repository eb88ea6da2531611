// bench/feedback.mjs - part 8 of make bench: survey responses and the NPS
// metric at scale, each beside its reference in the same run.
//
//   node bench/feedback.mjs --bin build/cxm --dir DIR [--responses N] [--reps R]
//
// 1. Starts `cxm serve` on an empty DIR, creates a survey (nps, csat, text)
//    and posts N responses (default 1,000,000) through
//    POST /api/v1/surveys/{id}/responses/batch, 1,000 per request, two
//    requests in flight: responses per second, durable (reported; the
//    reference for ingest is part 1).
// 2. NPS by month by channel over all of them (GET /api/v1/metrics/nps
//    ?survey=&by=channel&interval=month: each channel's monthly series),
//    R times (default 21), beside the same aggregation in SQL over the same
//    rows: DuckDB in memory (@duckdb/node-api) and SQLite (a table of
//    (ts, channel, score) in a file, through the sqlite3 CLI), interleaved.
//    The answers are checked equal. The query is what a dashboard's trend
//    by channel asks; the target is < 20 ms.
// Progress on stderr; the last line on stdout is the JSON of the results.
import { spawn, execFileSync } from "node:child_process";
import { writeFileSync, rmSync, mkdirSync } from "node:fs";
import { DuckDBInstance } from "@duckdb/node-api";

const args = {};
for (let i = 2; i < process.argv.length; i++) args[process.argv[i].slice(2)] = process.argv[++i];
const N = Number(args.responses || 1_000_000);
const reps = Math.max(3, Number(args.reps || 21));
const dir = args.dir;
const log = (...a) => console.error(...a);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const now = () => Number(process.hrtime.bigint()) / 1e6;

rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const proc = spawn(args.bin, ["serve", "--data", dir, "--listen", "127.0.0.1:0"], { stdio: ["ignore", "ignore", "pipe"] });
const { port, token } = await new Promise((resolve, reject) => {
  let logs = "", tok = null;
  proc.stderr.on("data", (c) => {
    logs += c;
    for (const line of logs.split("\n")) {
      if (line.startsWith('{"data"')) tok = JSON.parse(line).admin_token;
      if (line.includes('"msg":"listening"')) resolve({ port: JSON.parse(line).port, token: tok });
    }
  });
  proc.on("exit", (code) => reject(new Error(`cxm serve exited ${code}: ${logs}`)));
});
const base = `http://127.0.0.1:${port}/api/v1`;
log(`feedback: cxm on port ${port} (pid ${proc.pid}), token ${token}`);
const H = { authorization: `Bearer ${token}`, "content-type": "application/json" };
async function call(path, body) {
  const r = await fetch(base + path, { method: body ? "POST" : "GET", headers: H, body: body && JSON.stringify(body) });
  const t = await r.text();
  if (r.status >= 300) throw new Error(`${path}: ${r.status} ${t.slice(0, 300)}`);
  return JSON.parse(t);
}

const survey = await call("/surveys", { name: "Bench NPS", questions: [
  { id: "nps", type: "nps", text: "How likely…?" }, { id: "csat", type: "csat", text: "Satisfied?", required: false },
  { id: "why", type: "text", text: "Why?", required: false }] });

// the rows: deterministic, 2025, five channels with different NPS
const CH = ["web", "app", "store", "phone", "chat"];
const T0 = Date.parse("2025-01-01T00:00:00Z"), SPAN = 365 * 86400000;
const TEXTS = ["Fast delivery, great quality.", "Waited on hold for ages.", "Fine overall.", "Refund still not here."];
let seed = 42;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const ts = new Float64Array(N), ch = new Uint8Array(N), sc = new Uint8Array(N);
for (let i = 0; i < N; i++) {
  ch[i] = Math.floor(rnd() * 5);
  ts[i] = T0 + Math.floor(rnd() * SPAN);
  sc[i] = Math.min(10, Math.max(0, Math.round(7 + ch[i] * 0.4 + (rnd() + rnd() + rnd() - 1.5) * 4)));
}

log(`feedback: posting ${N} responses in batches of 1,000`);
const B = 1000;
let next = 0;
const t1 = now();
async function poster() {
  for (;;) {
    const lo = next;
    if (lo >= N) return;
    next += B;
    const responses = [];
    for (let i = lo; i < Math.min(N, lo + B); i++) {
      const answers = { nps: sc[i] };
      if (i % 3 === 0) answers.csat = 1 + (sc[i] >> 1) % 5;
      if (i % 4 === 0) answers.why = TEXTS[i % 4 === 0 ? sc[i] % 4 : 0];
      responses.push({ customer: { user_id: `b${i % 200000}` }, answers, context: { channel: CH[ch[i]] }, submitted_at: new Date(ts[i]).toISOString() });
    }
    await call(`/surveys/${survey.id}/responses/batch`, { responses });
  }
}
await Promise.all([poster(), poster()]);
const ingestS = (now() - t1) / 1000;
log(`feedback: ${N} responses in ${ingestS.toFixed(1)} s (${Math.round(N / ingestS)} responses/s)`);

// the references
const inst = await DuckDBInstance.create(":memory:");
const duck = await inst.connect();
await duck.run("CREATE TABLE r(ts TIMESTAMP, channel VARCHAR, score TINYINT)");
const app = await duck.createAppender("r");
for (let i = 0; i < N; i++) {
  app.appendTimestamp({ micros: BigInt(ts[i]) * 1000n });
  app.appendVarchar(CH[ch[i]]);
  app.appendTinyInt(sc[i]);
  app.endRow();
}
app.closeSync();
const SQL = (trunc) => `SELECT ${trunc} AS m, channel, count(*) AS n, 100.0 * (sum(CASE WHEN score >= 9 THEN 1 ELSE 0 END) - sum(CASE WHEN score <= 6 THEN 1 ELSE 0 END)) / count(*) AS nps FROM r GROUP BY 1, 2 ORDER BY 1, 2`;
const duckSQL = SQL("date_trunc('month', ts)");
const csv = `${dir}/bench-responses.csv`, sdb = `${dir}/bench-ref.sqlite`;
let text = "";
for (let i = 0; i < N; i++) text += `${ts[i]},${CH[ch[i]]},${sc[i]}\n`;
writeFileSync(csv, text);
text = "";
execFileSync("sqlite3", [sdb], { input: `CREATE TABLE r(ts INTEGER, channel TEXT, score INTEGER);\n.mode csv\n.import ${csv} r\n` });
const liteSQL = SQL("strftime('%Y-%m', ts / 1000, 'unixepoch')");
function sqliteOnce() {
  const out = execFileSync("sqlite3", [sdb], { input: `.timer on\n${liteSQL};\n` }).toString();
  const m = out.match(/Run Time: real ([\d.]+)/);
  return { ms: Number(m[1]) * 1000, rows: out.split("\n").filter((l) => /^\d{4}-\d\d\|/.test(l)) };
}

const path = `/metrics/nps?survey=${survey.id}&by=channel&interval=month`;
const cx = [], dk = [], sl = [];
let cxAns, dkAns, slAns;
for (let k = 0; k < reps; k++) {
  let t = now();
  cxAns = await call(path);
  cx.push(now() - t);
  t = now();
  dkAns = (await (await duck.runAndReadAll(duckSQL)).getRowObjectsJS());
  dk.push(now() - t);
  const s = sqliteOnce();
  sl.push(s.ms);
  slAns = s.rows;
}
// the answers, equal
let cells = 0;
for (const g of cxAns.groups) for (const b of g.series) {
  if (!b.n) continue;
  cells++;
  const row = dkAns.find((r) => new Date(r.m).toISOString() === b.start && r.channel === g.key);
  if (!row || Number(row.n) !== b.n || Math.abs(Number(row.nps) - b.nps) > 0.01) throw new Error(`cell ${g.key} ${b.start}: cxm ${b.n}/${b.nps}, DuckDB ${row && row.n}/${row && row.nps}`);
}
if (cells !== dkAns.length || cells !== slAns.length) throw new Error(`cells: cxm ${cells}, DuckDB ${dkAns.length}, SQLite ${slAns.length}`);
proc.kill("SIGTERM");
await new Promise((r) => proc.on("exit", r));
const res = {
  responses: N, ingest_per_s: Math.round(N / ingestS),
  nps_by_month_by_channel_ms: median(cx), duckdb_ms: median(dk), sqlite_ms: median(sl), cells, reps,
};
log(`feedback: NPS by month by channel over ${N} responses: cxm ${res.nps_by_month_by_channel_ms.toFixed(2)} ms, ` +
    `DuckDB ${res.duckdb_ms.toFixed(2)} ms (${(res.duckdb_ms / res.nps_by_month_by_channel_ms).toFixed(1)}x), ` +
    `SQLite ${res.sqlite_ms.toFixed(1)} ms (${(res.sqlite_ms / res.nps_by_month_by_channel_ms).toFixed(1)}x); ${cells} cells, answers equal; target < 20 ms`);
console.log(JSON.stringify(res));
