// People and access against a live server: units, users, sign-in with
// sessions and CSRF, lockout, API tokens, the whole endpoint × role
// matrix (every /api/v1 operation of docs/openapi.yaml), unit scoping, no
// secret stored in clear, and the audit log with its hash chain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startServer, api, cxm } from './server.mjs';
import { assertError, request, withServerLog } from './helpers.mjs';

let srv;
const PASSWORD = 'a long enough passphrase';
const users = {}; // role -> { id, email, token }
let units;

// What each role may do (docs/access.md), written here independently of
// lib/govern/access.c.
const GRANTS = {
  admin: ['none', 'read', 'feedback', 'analyse', 'program', 'respond', 'cases', 'work', 'people', 'admin'],
  cx_lead: ['none', 'read', 'feedback', 'analyse', 'program', 'respond', 'cases', 'work', 'people'],
  analyst: ['none', 'read', 'feedback', 'analyse', 'cases', 'people'],
  agent: ['none', 'feedback', 'cases', 'work', 'people'],
  viewer: ['none', 'read', 'feedback', 'cases', 'people'],
};
// The permission every /api/v1 operation needs. A new operation in
// openapi.yaml fails the test until it is added here.
const NEED = {
  'GET /customers': 'read', 'GET /customers/{id}': 'read', 'GET /customers/{id}/events': 'read',
  'GET /merges': 'read', 'GET /accounts/{id}': 'read', 'GET /overview': 'read', 'GET /events': 'read',
  'GET /stats': 'read', 'GET /sources': 'read', 'POST /sources': 'admin',
  'POST /analytics/funnel': 'read', 'POST /analytics/retention': 'read', 'POST /analytics/paths': 'read',
  'GET /analytics/kpis': 'read',
  'GET /lifecycle/stages': 'read', 'PUT /lifecycle/stages': 'program', 'DELETE /lifecycle/stages': 'program',
  'GET /lifecycle': 'read', 'GET /events/names': 'read',
  'GET /segments': 'read', 'POST /segments': 'analyse', 'GET /segments/rfm': 'read', 'POST /segments/preview': 'read',
  'GET /segments/{id}': 'read', 'PATCH /segments/{id}': 'analyse', 'DELETE /segments/{id}': 'analyse',
  'GET /segments/{id}/members': 'read',
  'GET /me': 'none', 'GET /auth/me': 'none', 'GET /roles': 'none',
  'GET /journey-maps': 'read', 'POST /journey-maps': 'analyse', 'GET /journey-maps/{id}': 'read',
  'PUT /journey-maps/{id}': 'analyse', 'DELETE /journey-maps/{id}': 'analyse',
  'GET /surveys': 'feedback', 'POST /surveys': 'program', 'GET /surveys/{id}': 'feedback', 'PUT /surveys/{id}': 'program',
  'DELETE /surveys/{id}': 'program', 'POST /surveys/{id}/{action}': 'program',
  'GET /surveys/{id}/responses': 'read', 'POST /surveys/{id}/responses': 'respond',
  'POST /surveys/{id}/responses/batch': 'respond', 'GET /metrics/{metric}': 'read',
  'POST /surveys/{id}/links': 'program',
  'GET /outbox': 'admin', 'GET /outbox/{id}': 'admin', 'POST /outbox/{id}/retry': 'admin',
  'POST /outbox/test-mail': 'admin', 'POST /outbox/test-webhook': 'admin', 'GET /outbox/webhook-secret': 'admin',
  'GET /survey-settings': 'read', 'PUT /survey-settings': 'admin',
  'GET /surveys/{id}/distributions': 'read', 'POST /surveys/{id}/distributions': 'program',
  'GET /surveys/{id}/distributions/{did}': 'read',
  'GET /surveys/{id}/triggers': 'read', 'POST /surveys/{id}/triggers': 'program',
  'DELETE /surveys/{id}/triggers/{tid}': 'program',
  'GET /feedback': 'feedback', 'GET /feedback/themes': 'read', 'GET /metrics/enps-cx': 'read',
  'GET /units': 'people', 'POST /units': 'admin', 'GET /units/{id}': 'people', 'PATCH /units/{id}': 'admin',
  'DELETE /units/{id}': 'admin',
  'GET /users': 'people', 'POST /users': 'admin', 'GET /users/{id}': 'people', 'PATCH /users/{id}': 'admin',
  'GET /tokens': 'none', 'POST /tokens': 'none', 'DELETE /tokens/{id}': 'none',
  'GET /audit': 'admin', 'GET /audit/verify': 'admin',
  'GET /customers/{id}/export': 'admin', 'DELETE /customers/{id}': 'admin',
  'GET /privacy/retention': 'admin', 'PUT /privacy/retention': 'admin', 'POST /privacy/retention/run': 'admin',
  'GET /cases': 'cases', 'POST /cases': 'work', 'GET /cases/metrics': 'cases', 'GET /cases/{id}': 'cases',
  'PATCH /cases/{id}': 'work', 'POST /cases/{id}/notes': 'work', 'GET /cases/{id}/timeline': 'cases',
  'GET /case-rules': 'cases', 'POST /case-rules': 'program', 'GET /case-rules/{id}': 'cases',
  'PUT /case-rules/{id}': 'program', 'DELETE /case-rules/{id}': 'program',
  'GET /sla-policies': 'cases', 'POST /sla-policies': 'program', 'GET /sla-policies/{id}': 'cases',
  'PUT /sla-policies/{id}': 'program', 'DELETE /sla-policies/{id}': 'program',
  'GET /root-causes': 'cases', 'POST /root-causes': 'program', 'GET /root-causes/{id}': 'cases',
  'PUT /root-causes/{id}': 'program', 'DELETE /root-causes/{id}': 'program',
  'GET /maturity/model': 'read', 'GET /maturity/evidence': 'read', 'GET /maturity/assessments': 'read',
  'POST /maturity/assessments': 'program', 'GET /maturity/assessments/{id}': 'read',
  'DELETE /maturity/assessments/{id}': 'program',
  'GET /targets': 'read', 'POST /targets': 'program', 'GET /targets/{id}': 'read', 'PATCH /targets/{id}': 'program',
  'DELETE /targets/{id}': 'program', 'GET /targets/{id}/history': 'read', 'GET /scorecard': 'read',
  'GET /initiatives': 'read', 'POST /initiatives': 'program', 'GET /initiatives/{id}': 'read',
  'PATCH /initiatives/{id}': 'program', 'DELETE /initiatives/{id}': 'program',
  // tested on their own below: signing in and out changes the caller
  'POST /auth/login': null, 'POST /auth/logout': null,
};

function openapiOperations() {
  const text = readFileSync(new URL('../../docs/openapi.yaml', import.meta.url), 'utf8');
  const py = spawnSync('python3', ['-c', `import sys,yaml,json
d=yaml.safe_load(sys.stdin)
print(json.dumps([[m.upper(),p] for p,ops in d['paths'].items() for m in ops if m in ('get','post','put','patch','delete')]))`],
  { input: text, encoding: 'utf8' });
  assert.equal(py.status, 0, py.stderr);
  return JSON.parse(py.stdout).filter(([, p]) => p.startsWith('/api/v1/')).map(([m, p]) => [m, p.slice(7)]);
}

async function login(email, password = PASSWORD, headers = {}) {
  return request(srv, 'POST', '/api/v1/auth/login', {
    headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ email, password }),
  });
}

function cookieOf(r) {
  const c = r.headers.get('set-cookie') || '';
  const m = /cxm_session=([^;]*)/.exec(c);
  return m ? m[1] : null;
}

before(async () => {
  srv = await startServer();
  const mk = async (body) => {
    const r = await api(srv, '/units', { method: 'POST', body });
    assert.equal(r.status, 201, r.text);
    return r.json.id;
  };
  const eu = await mk({ name: 'Europe', parent: null });
  const north = await mk({ name: 'Care North', parent: eu });
  const south = await mk({ name: 'Care South', parent: eu });
  const us = await mk({ name: 'Americas', parent: null });
  units = { eu, north, south, us };
  for (const [role, unit] of [['admin', null], ['cx_lead', eu], ['analyst', null], ['agent', north], ['viewer', null]]) {
    const email = `${role}@example.com`;
    const r = await api(srv, '/users', { method: 'POST', body: { email, name: `The ${role}`, password: PASSWORD, role, unit } });
    assert.equal(r.status, 201, r.text);
    const l = await login(email);
    assert.equal(l.status, 200, l.text);
    users[role] = { id: r.json.id, email, token: l.json.token };
  }
  const s = await api(srv, '/users', { method: 'POST', body: { email: 'south@example.com', name: 'South agent', password: PASSWORD, role: 'agent', unit: south } });
  assert.equal(s.status, 201, s.text);
});

after(async () => {
  if (!srv) return;
  await srv.stop();
  srv.cleanup();
});

test('units: a tree; bad input names the field and stores nothing', async () => {
  const list = (await api(srv, '/units')).json.units;
  assert.equal(list.length, 4);
  const north = list.find((u) => u.name === 'Care North');
  assert.equal(north.parent, units.eu);
  assert.equal(north.users, 1);
  assertError(await api(srv, '/units', { method: 'POST', body: { name: '' } }), 400, 'invalid_field', 'name');
  assertError(await api(srv, '/units', { method: 'POST', body: { name: 'X', parent: '999' } }), 400, 'unknown_unit', 'parent');
  assertError(await api(srv, '/units', { method: 'POST', body: { name: 'X', colour: 'red' } }), 400, 'invalid_field', 'colour');
  assertError(await api(srv, '/units', { method: 'POST', body: { name: 'Europe' } }), 409, 'unit_exists', 'name');
  // a unit cannot move under its own subtree
  assertError(await api(srv, `/units/${units.eu}`, { method: 'PATCH', body: { parent: units.north } }), 400, 'invalid_field', 'parent');
  assertError(await api(srv, `/units/${units.eu}`, { method: 'DELETE' }), 400, 'unit_in_use');
  assert.equal((await api(srv, '/units')).json.units.length, 4, 'nothing stored');
  const tmp = await api(srv, '/units', { method: 'POST', body: { name: 'Temporary', parent: units.us } });
  assert.equal(tmp.status, 201);
  const ren = await api(srv, `/units/${tmp.json.id}`, { method: 'PATCH', body: { name: 'Temp' } });
  assert.equal(ren.json.name, 'Temp');
  assert.equal((await api(srv, `/units/${tmp.json.id}`, { method: 'DELETE' })).status, 204);
  assert.equal((await api(srv, `/units/${tmp.json.id}`)).status, 404);
});

test('users: checked whole; an agent needs a unit; e-mails are unique and lower-cased', async () => {
  const bad = [
    [{ email: 'nope', name: 'N', password: PASSWORD, role: 'viewer' }, 'email'],
    [{ email: 'n@example.com', name: '', password: PASSWORD, role: 'viewer' }, 'name'],
    [{ email: 'n@example.com', name: 'N', password: 'short', role: 'viewer' }, 'password'],
    [{ email: 'n@example.com', name: 'N', password: PASSWORD, role: 'boss' }, 'role'],
    [{ email: 'n@example.com', name: 'N', password: PASSWORD, role: 'agent' }, 'unit'],
    [{ email: 'n@example.com', name: 'N', password: PASSWORD, role: 'viewer', unit: '999' }, 'unit'],
    [{ email: 'n@example.com', name: 'N', password: PASSWORD, role: 'viewer', shoe: 42 }, 'shoe'],
  ];
  for (const [body, field] of bad) {
    const r = await api(srv, '/users', { method: 'POST', body });
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.error.field, field, r.text);
  }
  assertError(await api(srv, '/users', { method: 'POST', body: { email: 'VIEWER@example.com', name: 'V', password: PASSWORD, role: 'viewer' } }),
    409, 'user_exists');
  const all = (await api(srv, '/users')).json.users;
  assert.equal(all.length, 6, 'nothing stored');
  assert.ok(all.every((u) => !('pw_hash' in u) && !('password' in u)));
});

test('the endpoint × role matrix: every operation of openapi.yaml, every role', async () => {
  const ops = openapiOperations();
  const missing = ops.filter(([m, p]) => !(`${m} ${p}` in NEED)).map(([m, p]) => `${m} ${p}`);
  assert.deepEqual(missing, [], 'operations without an expected permission');
  const sample = (p) => p.replace('{metric}', 'nps').replace('{action}', 'close').replace(/\{[a-z]+\}/g, '999999');
  let checked = 0;
  for (const [method, path] of ops) {
    const need = NEED[`${method} ${path}`];
    if (need === null) continue;
    for (const role of Object.keys(GRANTS)) {
      const r = await request(srv, method, '/api/v1' + sample(path), {
        headers: { authorization: `Bearer ${users[role].token}`, ...(method === 'GET' ? {} : { 'content-type': 'application/json' }) },
        body: method === 'GET' ? undefined : '{}',
      });
      const allowed = GRANTS[role].includes(need);
      if (allowed) assert.notEqual(r.status, 403, `${role} ${method} ${path} (${need}) was refused: ${r.text}`);
      else assertError(r, 403, 'forbidden', null);
      assert.notEqual(r.status, 500, `${role} ${method} ${path}: ${r.text}`);
      checked++;
    }
  }
  assert.ok(checked >= 5 * 75, `only ${checked} checks`);
  // a route the matrix does not name is refused to all but admins
  assert.equal((await api(srv, '/no-such-thing', { token: users.viewer.token })).status, 403);
  assert.equal((await api(srv, '/no-such-thing', { token: users.admin.token })).status, 404);
  // no credential: 401 everywhere
  assertError(await request(srv, 'GET', '/api/v1/stats'), 401, 'unauthorized', null);
  assertError(await request(srv, 'GET', '/api/v1/stats', { headers: { authorization: 'Bearer nope' } }), 401, 'unauthorized', null);
});

test('unit scoping: a scoped caller sees the people of its subtree only', async () => {
  const agent = (await api(srv, '/users', { token: users.agent.token })).json.users.map((u) => u.email).sort();
  assert.deepEqual(agent, ['agent@example.com']);
  const lead = (await api(srv, '/users', { token: users.cx_lead.token })).json.users.map((u) => u.email).sort();
  assert.deepEqual(lead, ['agent@example.com', 'cx_lead@example.com', 'south@example.com']);
  assert.equal((await api(srv, '/users', { token: users.viewer.token })).json.users.length, 6);
});

test('sign-in: wrong credentials 401 alike; the session cookie is HttpOnly, SameSite=Strict and new', async () => {
  assertError(await login('viewer@example.com', 'wrong password!'), 401, 'invalid_credentials', null);
  assertError(await login('nobody@example.com', PASSWORD), 401, 'invalid_credentials', null);
  assertError(await request(srv, 'POST', '/api/v1/auth/login', { body: '{"email":' }), 400, 'malformed_json', null);
  // session fixation: a cookie the client brings is neither kept nor honoured
  const planted = 'cxm_s_00000000000000000000000000000000';
  const r = await login('Viewer@Example.com', PASSWORD, { cookie: `cxm_session=${planted}` });
  assert.equal(r.status, 200, r.text);
  const cookie = cookieOf(r);
  assert.ok(cookie && cookie !== planted);
  const sc = r.headers.get('set-cookie');
  assert.match(sc, /HttpOnly/);
  assert.match(sc, /SameSite=Strict/);
  assert.match(sc, /Path=\//);
  assertError(await request(srv, 'GET', '/api/v1/auth/me', { headers: { cookie: `cxm_session=${planted}` } }), 401, 'unauthorized', null);
  const me = await request(srv, 'GET', '/api/v1/auth/me', { headers: { cookie: `cxm_session=${cookie}` } });
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json.role, 'viewer');
  assert.equal(me.json.user.email, 'viewer@example.com');
  assert.equal(me.json.csrf, r.json.me.csrf);
  // the API token of the sign-in works too, and is not the cookie
  assert.notEqual(r.json.token, cookie);
  assert.equal((await api(srv, '/stats', { token: r.json.token })).status, 200);
  // signing out ends the session
  const out = await request(srv, 'POST', '/api/v1/auth/logout', { headers: { cookie: `cxm_session=${cookie}`, 'x-csrf-token': me.json.csrf } });
  assert.equal(out.status, 204, out.text);
  assertError(await request(srv, 'GET', '/api/v1/auth/me', { headers: { cookie: `cxm_session=${cookie}` } }), 401, 'unauthorized', null);
});

test('CSRF: a session changes nothing without its token', async () => {
  const r = await login('cx_lead@example.com');
  const cookie = cookieOf(r);
  const h = { cookie: `cxm_session=${cookie}`, 'content-type': 'application/json' };
  const body = JSON.stringify({ name: 'csrf test', rule: 'traits.plan == "pro"' });
  assertError(await request(srv, 'POST', '/api/v1/segments', { headers: h, body }), 403, 'csrf_failed', null);
  assertError(await request(srv, 'POST', '/api/v1/segments', { headers: { ...h, 'x-csrf-token': 'f'.repeat(64) }, body }), 403, 'csrf_failed', null);
  // another session's token does not fit this one
  const other = await login('analyst@example.com');
  assertError(await request(srv, 'POST', '/api/v1/segments', { headers: { ...h, 'x-csrf-token': other.json.me.csrf }, body }), 403, 'csrf_failed', null);
  assert.equal((await api(srv, '/segments')).json.segments.filter((s) => s.name === 'csrf test').length, 0);
  const ok = await request(srv, 'POST', '/api/v1/segments', { headers: { ...h, 'x-csrf-token': r.json.me.csrf }, body });
  assert.equal(ok.status, 201, ok.text);
  // reads need no CSRF token
  assert.equal((await request(srv, 'GET', '/api/v1/segments', { headers: h })).status, 200);
});

test('lockout: five wrong passwords lock the e-mail for 15 minutes, even with the right one', async () => {
  const c = await api(srv, '/users', { method: 'POST', body: { email: 'locked@example.com', name: 'L', password: PASSWORD, role: 'viewer' } });
  assert.equal(c.status, 201);
  for (let i = 0; i < 5; i++) assertError(await login('locked@example.com', 'not the password'), 401, 'invalid_credentials', null);
  const r = await login('locked@example.com', PASSWORD);
  assertError(r, 429, 'too_many_attempts', null);
  const wait = Number(r.headers.get('retry-after'));
  assert.ok(wait > 800 && wait <= 900, `Retry-After ${wait}`);
  // another user of the same address is not locked (4 failures here so far... below the address limit)
  assert.equal((await login('viewer@example.com')).status, 200);
});

test('API tokens: within the creator\'s role, shown once, hashed, revocable', async () => {
  const t = users.analyst.token;
  assertError(await api(srv, '/tokens', { method: 'POST', token: t, body: { name: 'x', role: 'admin' } }), 400, 'role_too_high', 'role');
  assertError(await api(srv, '/tokens', { method: 'POST', token: t, body: { name: '' } }), 400, 'invalid_field', 'name');
  assertError(await api(srv, '/tokens', { method: 'POST', token: t, body: { name: 'x', expires_in_days: 0 } }), 400, 'invalid_field', 'expires_in_days');
  const r = await api(srv, '/tokens', { method: 'POST', token: t, body: { name: 'BI export', role: 'viewer', expires_in_days: 30 } });
  assert.equal(r.status, 201, r.text);
  assert.match(r.json.token, /^cxm_pat_[0-9a-f]{32}$/);
  const me = await api(srv, '/me', { token: r.json.token });
  assert.equal(me.json.role, 'viewer');
  assert.equal(me.json.actor, 'user:analyst@example.com');
  const list = (await api(srv, '/tokens', { token: t })).json.tokens;
  assert.ok(list.some((x) => x.id === r.json.id && x.name === 'BI export' && !('token' in x)));
  // another user cannot revoke it; its owner can
  assertError(await api(srv, `/tokens/${r.json.id}`, { method: 'DELETE', token: users.viewer.token }), 404, 'token_not_found');
  assert.equal((await api(srv, `/tokens/${r.json.id}`, { method: 'DELETE', token: t })).status, 204);
  assertError(await api(srv, '/me', { token: r.json.token }), 401, 'unauthorized', null);
});

test('a role change or disabling ends the user\'s sessions and tokens', async () => {
  const c = await api(srv, '/users', { method: 'POST', body: { email: 'temp@example.com', name: 'T', password: PASSWORD, role: 'cx_lead' } });
  const l = await login('temp@example.com');
  assert.equal((await api(srv, '/segments', { token: l.json.token })).status, 200);
  const d = await api(srv, `/users/${c.json.id}`, { method: 'PATCH', body: { role: 'viewer' } });
  assert.equal(d.status, 200, d.text);
  assertError(await api(srv, '/segments', { token: l.json.token }), 401, 'unauthorized', null);
  const l2 = await login('temp@example.com');
  assert.equal((await api(srv, '/me', { token: l2.json.token })).json.role, 'viewer');
  assert.equal((await api(srv, `/users/${c.json.id}`, { method: 'PATCH', body: { disabled: true } })).status, 200);
  assertError(await api(srv, '/me', { token: l2.json.token }), 401, 'unauthorized', null);
  assertError(await login('temp@example.com'), 401, 'invalid_credentials', null);
});

test('no secret in clear: passwords are argon2id, tokens and sessions BLAKE2b, none in the files', async () => {
  const db = join(srv.data, 'cxm.db');
  const q = spawnSync('sqlite3', [db, 'SELECT pw_hash FROM users'], { encoding: 'utf8' });
  assert.equal(q.status, 0, q.stderr);
  for (const line of q.stdout.trim().split('\n')) assert.match(line, /^\$argon2id\$v=19\$/);
  const secrets = [PASSWORD, srv.adminToken, users.admin.token, users.agent.token];
  for (const f of readdirSync(srv.data).filter((n) => n.startsWith('cxm.db'))) {
    const bytes = readFileSync(join(srv.data, f));
    for (const s of secrets) assert.equal(bytes.indexOf(Buffer.from(s)), -1, `${s.slice(0, 10)}… found in ${f}`);
  }
});

test('audit: every change on record with who, before and after; the chain verifies and catches tampering', async () => {
  const u = await api(srv, `/units/${units.us}`, { method: 'PATCH', token: users.admin.token, body: { name: 'The Americas' } });
  assert.equal(u.status, 200);
  const seg = await api(srv, '/segments', { method: 'POST', token: users.cx_lead.token, body: { name: 'audited', rule: 'traits.plan == "pro"' } });
  assert.equal(seg.status, 201, seg.text);
  const e = (await api(srv, '/audit?limit=50')).json.entries;
  const ren = e.find((x) => x.action === 'unit.update' && x.target === `units/${units.us}`);
  assert.ok(ren, 'the rename is recorded');
  assert.equal(ren.actor, 'user:admin@example.com');
  assert.equal(ren.before.name, 'Americas');
  assert.equal(ren.after.name, 'The Americas');
  const s = e.find((x) => x.action === 'POST segments' && x.after?.name === 'audited');
  assert.equal(s.actor, 'user:cx_lead@example.com');
  const created = (await api(srv, '/audit?action=user.create&limit=100')).json.entries;
  assert.ok(created.length >= 6);
  assert.ok(created.every((x) => x.after.password === undefined && !JSON.stringify(x).includes(PASSWORD)));
  // failed requests change nothing and are not recorded as changes
  assert.equal(e.filter((x) => x.action === 'POST units' || (x.action === 'unit.create' && !x.after)).length, 0);
  // paging
  const p1 = await api(srv, '/audit?limit=2');
  assert.equal(p1.json.entries.length, 2);
  const p2 = await api(srv, `/audit?limit=2&cursor=${p1.json.next_cursor}`);
  assert.ok(Number(p2.json.entries[0].id) < Number(p1.json.entries[1].id));
  assertError(await api(srv, '/audit?limit=0'), 400, 'invalid_parameter', 'limit');
  // append-only: no method changes it
  assertError(await api(srv, '/audit', { method: 'DELETE' }), 405, 'method_not_allowed', null);
  const v = await api(srv, '/audit/verify');
  assert.equal(v.json.ok, true);
  assert.ok(v.json.entries >= 10);
  const cli = cxm(['audit', 'verify', '--data', srv.data]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(JSON.parse(cli.stdout).head, v.json.head);
  // tamper with one entry in the file: the chain breaks there
  const t = spawnSync('sqlite3', [join(srv.data, 'cxm.db'), `UPDATE audit SET actor = 'user:eve@example.com' WHERE id = 3`], { encoding: 'utf8' });
  assert.equal(t.status, 0, t.stderr);
  const bad = cxm(['audit', 'verify', '--data', srv.data]);
  assert.equal(bad.code, 1);
  assert.equal(JSON.parse(bad.stdout).first_bad, 3);
  assert.match(bad.stderr, /broken at entry 3/);
  assert.equal((await api(srv, '/audit/verify')).json.ok, false);
});

test('unit scoping: an agent sees the verbatims of its unit\'s subtree only; a lead sees its region', async () => {
  const s = await api(srv, '/surveys', { method: 'POST', body: { name: 'Scoped CSAT', questions: [
    { id: 'q1', type: 'nps', text: 'How likely…?' }, { id: 'q2', type: 'text', text: 'Why?', required: false }] } });
  assert.equal(s.status, 201, s.text);
  for (const unit of ['Care North', 'Care South', 'The Americas', null]) {
    const r = await api(srv, `/surveys/${s.json.id}/responses`, { method: 'POST', body: {
      customer: { user_id: `scoped-${unit}` }, answers: { q1: 3, q2: `Slow answer from ${unit ?? 'nobody'}` },
      context: unit ? { unit } : {} } });
    assert.equal(r.status, 201, r.text);
  }
  const texts = async (token) => (await api(srv, `/feedback?survey=${s.json.id}`, { token })).json.responses.map((x) => x.text).sort();
  assert.deepEqual(await texts(users.agent.token), ['Slow answer from Care North']);
  assert.deepEqual(await texts(users.cx_lead.token), ['Slow answer from Care North', 'Slow answer from Care South']);
  assert.equal((await texts(users.viewer.token)).length, 4);
});
