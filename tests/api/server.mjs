// Test harness: a real `cxm serve` on a loopback port with a fresh data
// directory. Used by every file in tests/api.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const BIN = process.env.CXM_BIN || new URL('../../build/asan/cxm', import.meta.url).pathname;

// What a sanitizer report looks like in cxm's stderr.
export const SANITIZER = /ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:/;

// Runs `cxm args…` to the end (stdin `input`); fails the test on a sanitizer
// report. Resolves nothing: returns { code, stdout, stderr }.
export function cxm(args, { input, timeout = 120_000 } = {}) {
  const r = spawnSync(BIN, args, {
    input,
    encoding: 'utf8',
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', CXM_DATA: '', CXM_LISTEN: '' },
    timeout,
  });
  assert.equal(r.error, undefined, String(r.error));
  assert.doesNotMatch(r.stderr, SANITIZER, `sanitizer report from cxm ${args.join(' ')}:\n${r.stderr}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// `cxm demo` into a new directory dir; returns the credentials it prints
// ({data, admin_token, write_key}), for startServer({data: dir, creds}).
export function demo(dir, { customers = 1500, seed = 1, end } = {}) {
  const r = cxm(['demo', '--data', dir, '--customers', String(customers), '--seed', String(seed),
    ...(end ? ['--end', end] : [])]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

export function tempDir(prefix = 'cxm-test-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

// Starts `cxm serve` on a free port. Resolves with
// { url, port, data, adminToken, writeKey, proc, stop(), kill(), logs }.
// When `data` is given and already initialised, pass the credentials from the
// first start in `creds`. `args` are more options for `cxm serve`.
export async function startServer({ data, creds, env = {}, args = [] } = {}) {
  const dir = data || tempDir();
  const proc = spawn(BIN, ['serve', '--data', dir, '--listen', '127.0.0.1:0', ...args], {
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logs = '';
  const ready = new Promise((resolve, reject) => {
    let seen = creds ? { ...creds } : null;
    const timer = setTimeout(() => reject(new Error('cxm serve did not start:\n' + logs)), 20000);
    proc.stderr.on('data', (chunk) => {
      logs += chunk.toString();
      for (const line of logs.split('\n')) {
        if (!seen && line.startsWith('{"data"')) seen = JSON.parse(line);
        if (line.includes('"msg":"listening"')) {
          const port = Number(JSON.parse(line).port);
          clearTimeout(timer);
          resolve({ port, creds: seen });
          return;
        }
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`cxm serve exited with ${code}:\n${logs}`));
    });
  });
  const { port, creds: c } = await ready;
  proc.removeAllListeners('exit');
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const srv = {
    url: `http://127.0.0.1:${port}`,
    port,
    data: dir,
    adminToken: c?.admin_token,
    writeKey: c?.write_key,
    creds: c,
    proc,
    get logs() { return logs; },
    exited,
    // Graceful stop; resolves with the exit code (0 expected).
    async stop() {
      proc.kill('SIGTERM');
      const r = await exited;
      if (SANITIZER.test(logs))
        throw new Error('sanitizer report:\n' + logs);
      return r;
    },
    async kill() {
      proc.kill('SIGKILL');
      return exited;
    },
    cleanup() { rmSync(dir, { recursive: true, force: true }); },
  };
  return srv;
}

// POST to the Tracking API. opts: { key (Basic auth), body (object or
// string/Buffer), gzip, headers }. Resolves { status, json, headers }.
export async function track(srv, path, body, { key = srv.writeKey, gzip = false, headers = {} } = {}) {
  const h = { 'content-type': 'application/json', ...headers };
  if (key !== null) h.authorization = 'Basic ' + Buffer.from(`${key}:`).toString('base64');
  let payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  if (gzip) {
    payload = gzipSync(payload);
    h['content-encoding'] = 'gzip';
  }
  const res = await fetch(srv.url + path, { method: 'POST', headers: h, body: payload });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}

// GET/POST the admin API with the admin token (or `token`).
export async function api(srv, path, { method = 'GET', body, token = srv.adminToken } = {}) {
  const h = {};
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const res = await fetch(srv.url + '/api/v1' + path, {
    method, headers: h, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}
