// The command line: --version, help, exit statuses, init, import events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, tempDir, track, api, cxm } from './server.mjs';
import { stats, customerByUser, eventsOfUser, ISO_MS, withServer, request } from './helpers.mjs';

// The non-log lines of stderr: what a person reads.
function sentences(stderr) {
  return stderr.split('\n').filter((l) => l && !l.startsWith('{'));
}

function assertOneSentence(stderr, re) {
  const lines = sentences(stderr);
  assert.equal(lines.length, 1, `expected one sentence on stderr, got:\n${stderr}`);
  assert.match(lines[0], /^cxm: .+[.)]$/);
  if (re) assert.match(lines[0], re);
  return lines[0];
}

function withDir(fn) {
  const d = tempDir('cxm-cli-');
  return Promise.resolve(fn(d)).finally(() => rmSync(d, { recursive: true, force: true }));
}

function init(dir) {
  const r = cxm(['init', '--data', dir]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('cxm --version prints the version and exits 0', () => {
  const r = cxm(['--version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^cxm \d+\.\d+\.\d+\S*\n$/);
});

test('cxm help lists the commands; cxm help serve describes serve', () => {
  const r = cxm(['help']);
  assert.equal(r.code, 0);
  for (const c of ['init', 'serve', 'import events', 'help', '--version', '--data', '--listen'])
    assert.ok(r.stdout.includes(c), `help does not mention ${c}`);
  const s = cxm(['help', 'serve']);
  assert.equal(s.code, 0);
  assert.match(s.stdout, /^usage: cxm serve \[--data DIR\] \[--listen HOST:PORT\]/);
  assert.match(s.stdout, /SIGTERM/);
  const i = cxm(['help', 'import']);
  assert.equal(i.code, 0);
  assert.match(i.stdout, /^usage: cxm import events FILE\|-/);
  const n = cxm(['help', 'frobnicate']);
  assert.equal(n.code, 2);
  assertOneSentence(n.stderr, /frobnicate/);
});

test('bad usage exits 2 with one sentence on stderr', () => {
  const unknown = cxm(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stdout, '');
  assertOneSentence(unknown.stderr, /frobnicate/);
  assert.equal(cxm([]).code, 2);
  const opt = cxm(['init', '--bogus']);
  assert.equal(opt.code, 2);
  assertOneSentence(opt.stderr, /--bogus/);
  const noval = cxm(['init', '--data']);
  assert.equal(noval.code, 2);
  assertOneSentence(noval.stderr, /--data/);
  const what = cxm(['import', 'customers', 'x.jsonl']);
  assert.equal(what.code, 2);
  assertOneSentence(what.stderr);
  const nofile = cxm(['import', 'events']);
  assert.equal(nofile.code, 2);
  assertOneSentence(nofile.stderr);
});

test('cxm init prints one JSON object; a second init exits 1 with a sentence', () => withDir(async (dir) => {
  const d = join(dir, 'data');
  const r = cxm(['init', '--data', d]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, r.stdout);
  const creds = JSON.parse(lines[0]);
  assert.deepEqual(Object.keys(creds).sort(), ['admin_token', 'data', 'write_key']);
  assert.equal(creds.data, d);
  assert.match(creds.admin_token, /^\S{16,}$/);
  assert.match(creds.write_key, /^\S{16,}$/);
  assert.notEqual(creds.admin_token, creds.write_key);

  const again = cxm(['init', '--data', d]);
  assert.equal(again.code, 1);
  assert.equal(again.stdout, '', 'secrets must not be shown again');
  assertOneSentence(again.stderr, /already initialised/);

  // the printed secrets are the ones the server accepts
  await withServer({ data: d, creds }, async (srv) => {
    assert.equal((await track(srv, '/v1/track', { userId: 'init-user', event: 'E' })).status, 200);
    assert.equal((await api(srv, '/stats')).json.events, 1);
    assert.ok(!srv.logs.includes(creds.admin_token), 'serve printed the secrets of an initialised directory again');
  });
}));

function jsonl(lines) {
  return lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
}

test('cxm import events FILE --data D imports JSON lines through the pipeline', () => withDir(async (dir) => {
  const d = join(dir, 'data');
  const creds = init(d);
  const lines = [];
  for (let i = 0; i < 30; i++) lines.push({ type: 'track', userId: `imp-${i % 5}`, event: 'Imported', messageId: `imp-m${i}`, timestamp: `2023-01-${String(1 + i).padStart(2, '0')}T00:00:00Z`, properties: { i } });
  lines.push({ type: 'identify', userId: 'imp-0', anonymousId: 'imp-anon', traits: { email: 'Imp@Example.com', plan: 'gold' }, messageId: 'imp-id1' });
  lines.push('');
  lines.push({ type: 'page', anonymousId: 'imp-anon', name: 'Home', messageId: 'imp-p1', writeKey: 'not-stored' });
  lines.push({ type: 'group', userId: 'imp-1', groupId: 'imp-acct', traits: { name: 'Imp Ltd' } });
  lines.push({ type: 'alias', userId: 'imp-2', previousId: 'imp-old' });
  lines.push({ type: 'screen', userId: 'imp-3', name: 'Settings' });
  const file = join(dir, 'events.jsonl');
  writeFileSync(file, jsonl(lines));
  const r = cxm(['import', 'events', file, '--data', d]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /imported 35 events/);
  // again: the messages with a messageId are duplicates now
  const again = cxm(['import', 'events', file, '--data', d]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /imported 3 events \(32 duplicates skipped\)/);

  await withServer({ data: d, creds }, async (srv) => {
    const s = await stats(srv);
    assert.equal(s.events, 38);
    const c0 = await customerByUser(srv, 'imp-0');
    assert.equal(c0.event_count, 6 + 2, 'imp-0: 6 tracks, the identify and the page of its anonymous id');
    assert.deepEqual(c0.traits, { email: 'Imp@Example.com', plan: 'gold' });
    assert.ok(c0.identities.some((i) => i.type === 'email' && i.value === 'imp@example.com'));
    const evs = await eventsOfUser(srv, 'imp-0');
    for (const e of evs) {
      assert.ok(e.messageId);
      assert.match(e.timestamp, ISO_MS);
      assert.match(e.receivedAt, ISO_MS);
      assert.equal(e.writeKey, undefined);
    }
    assert.equal(evs.filter((e) => e.type === 'page').length, 1);
    assert.equal(evs.find((e) => e.messageId === 'imp-m5').timestamp, '2023-01-06T00:00:00.000Z');
    const acct = await api(srv, '/accounts/imp-acct');
    assert.equal(acct.status, 200);
    assert.deepEqual(acct.json.traits, { name: 'Imp Ltd' });
    // the import is recorded as a source of its own
    assert.ok((await api(srv, '/sources')).json.sources.some((x) => x.name === 'import'));
  });
}));

test('cxm import events - reads standard input', () => withDir(async (dir) => {
  const d = join(dir, 'data');
  const creds = init(d);
  const r = cxm(['import', 'events', '-', '--data', d], {
    input: jsonl([{ type: 'track', userId: 'stdin-user', event: 'Piped', messageId: 's1' }, { type: 'track', userId: 'stdin-user', event: 'Piped', messageId: 's2' }]),
  });
  assert.equal(r.code, 0, r.stderr);
  await withServer({ data: d, creds }, async (srv) => {
    assert.deepEqual((await eventsOfUser(srv, 'stdin-user')).map((e) => e.messageId).sort(), ['s1', 's2']);
  });
}));

// Eight batches (src/cmd_import.c commits 20,000 lines at a time after two
// smaller first ones, with up to five queued or committing), the last one
// short: every line is counted once, none refused.
test('cxm import: 120,007 lines in eight batches, all imported', () => withDir(async (dir) => {
  const d = join(dir, 'data');
  init(d);
  const n = 120007;
  const lines = new Array(n);
  for (let i = 0; i < n; i++) lines[i] = `{"type":"track","userId":"u${i % 97}","event":"E","messageId":"many-${i}"}`;
  const file = join(dir, 'many.jsonl');
  writeFileSync(file, lines.join('\n') + '\n');
  const r = cxm(['import', 'events', file, '--data', d]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /imported 120007 events \(0 duplicates skipped\)/);
}));

const BAD_LINE_3 = [
  { type: 'track', userId: 'bad3-user', event: 'One', messageId: 'bad3-1' },
  { type: 'track', userId: 'bad3-user', event: 'Two', messageId: 'bad3-2' },
  { type: 'track', event: 'Three, with nobody' },
  { type: 'track', userId: 'bad3-user', event: 'Four', messageId: 'bad3-4' },
];

test('cxm import: a bad line 3 exits 1 naming line 3, and nothing after it is imported', () => withDir(async (dir) => {
  const d = join(dir, 'data');
  const creds = init(d);
  const file = join(dir, 'bad.jsonl');
  writeFileSync(file, jsonl(BAD_LINE_3));
  const r = cxm(['import', 'events', file, '--data', d]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  const first = sentences(r.stderr)[0];
  assert.match(first, /^cxm: line 3: /);
  assert.match(first, /userId|anonymousId/);
  // a line that is not JSON
  const file2 = join(dir, 'bad2.jsonl');
  writeFileSync(file2, jsonl([BAD_LINE_3[0], '', '{"type":"track",', BAD_LINE_3[3]]));
  const r2 = cxm(['import', 'events', file2, '--data', d]);
  assert.equal(r2.code, 1);
  assert.match(sentences(r2.stderr)[0], /^cxm: line 3: .*JSON/);
  await withServer({ data: d, creds }, async (srv) => {
    const ids = (await eventsOfUser(srv, 'bad3-user')).map((e) => e.messageId);
    assert.ok(!ids.includes('bad3-4'), 'a line after the bad one was imported');
  });
}));

test('cxm import: the lines before a bad one stay committed (as `cxm help import` says)', () => withDir(async (dir) => {
  assert.match(cxm(['help', 'import']).stdout, /lines\s+before it stay committed/);
  const d = join(dir, 'data');
  const creds = init(d);
  const file = join(dir, 'bad.jsonl');
  writeFileSync(file, jsonl(BAD_LINE_3));
  const r = cxm(['import', 'events', file, '--data', d]);
  assert.equal(r.code, 1);
  await withServer({ data: d, creds }, async (srv) => {
    const ids = (await eventsOfUser(srv, 'bad3-user')).map((e) => e.messageId).sort();
    assert.deepEqual(ids, ['bad3-1', 'bad3-2']);
    assert.equal((await stats(srv)).events, 2);
  });
}));

test('cxm import while a server holds the directory exits 1 with a clear message', () => withDir(async (dir) => {
  const d = join(dir, 'data');
  const creds = init(d);
  const file = join(dir, 'ok.jsonl');
  writeFileSync(file, jsonl([{ type: 'track', userId: 'busy-user', event: 'E' }]));
  await withServer({ data: d, creds }, async (srv) => {
    const r = cxm(['import', 'events', file, '--data', d]);
    assert.equal(r.code, 1);
    assertOneSentence(r.stderr, /in use by another cxm process/);
    assert.equal((await stats(srv)).events, 0);
    assert.equal((await request(srv, 'GET', '/healthz')).status, 200, 'the server is unharmed');
  });
}));

test('cxm import: a missing file or an uninitialised directory exits 1 with a sentence', () => withDir(async (dir) => {
  const d = join(dir, 'data');
  init(d);
  const missing = cxm(['import', 'events', join(dir, 'nope.jsonl'), '--data', d]);
  assert.equal(missing.code, 1);
  assertOneSentence(missing.stderr, /cannot read/);
  const file = join(dir, 'ok.jsonl');
  writeFileSync(file, jsonl([{ type: 'track', userId: 'x', event: 'E' }]));
  const empty = cxm(['import', 'events', file, '--data', join(dir, 'never-initialised')]);
  assert.equal(empty.code, 1);
  assertOneSentence(empty.stderr, /cxm init/);
}));
