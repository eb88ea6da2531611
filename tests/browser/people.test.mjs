// People and access in real Chromium against the demo company: signing in
// with e-mail and password (a session cookie, CSRF on every change), the
// navigation each role gets, an agent seeing only its unit's verbatims,
// the People page (add a unit and a user, a refused password under its
// field, change a role), the audit log with the chain verified, and
// signing out ending the session on the server. Names carry markup, which
// must stay text. Screenshots at 1366×800 and 390×844 go to
// tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';
import { WIDE, PHONE } from './harness.mjs';
import { api } from '../api/server.mjs';

let srv;
let browser;

before(async () => {
  ({ srv, browser } = await h.startDemo('cxm-web-people-'));
  assert.ok(srv.creds.password, 'cxm demo prints the demo password');
});

after(() => h.stopDemo(srv, browser));

const openPage = (viewport = WIDE) => h.openPage(browser, viewport, { locale: 'en-US' });
const navLabels = async (page) => (await page.locator('#nav .nav-links a').allInnerTexts()).map((s) => s.trim());

test('a CX lead signs in with e-mail and password: a session cookie, the lead\'s navigation', async () => {
  const p = await openPage();
  const { page } = p;
  await page.goto(srv.url + '/');
  await h.assertLabelled(page);
  await h.shoot(page, 'signin-password');
  // wrong password: the form says so, nothing else happens
  p.allow(/HTTP 401: .*\/api\/v1\/auth\/login/);
  p.allow(/status of 401/);
  await page.getByLabel('E-mail').fill('lead@northwind.example');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByText('The e-mail address or password is wrong.').waitFor();
  await page.getByLabel('Password').fill(srv.creds.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  const cookies = await p.context.cookies();
  const session = cookies.find((c) => c.name === 'cxm_session');
  assert.ok(session?.httpOnly, 'an HttpOnly session cookie');
  assert.equal(session.sameSite, 'Strict');
  // the page keeps no secret it could leak: only the CSRF token
  assert.equal(await page.evaluate(() => sessionStorage.getItem('cxm.token')), null);
  const labels = await navLabels(page);
  assert.ok(labels.includes('Overview') && labels.includes('People'));
  assert.ok(!labels.includes('Audit log'), 'the audit log is for admins');
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('an agent sees the verbatims of its own team only, and no analytics', async () => {
  const p = await openPage(PHONE);
  const { page } = p;
  const feedback = [];
  page.on('response', async (r) => {
    if (/\/api\/v1\/feedback\?/.test(r.url()) && r.status() === 200) feedback.push(await r.json());
  });
  await h.signInAs(page, srv.url, 'ana@northwind.example', srv.creds.password);
  await page.getByRole('heading', { name: 'Verbatims', level: 1 }).waitFor();
  await page.locator('.verbatim').first().waitFor();
  await page.getByRole('button', { name: 'Menu' }).click();
  const labels = await navLabels(page);
  assert.ok(!labels.includes('Overview') && !labels.includes('Customers'), labels.join(', '));
  assert.ok(labels.includes('Verbatims') && labels.includes('People'));
  await page.keyboard.press('Escape');
  assert.ok(feedback.length >= 1);
  const units = new Set(feedback.flatMap((f) => f.responses.map((v) => v.context?.unit)));
  assert.deepEqual([...units], ['Care North'], 'only Care North');
  await h.shoot(page, 'agent-verbatims', { full: false });
  assert.deepEqual(p.problems(), []);
  await p.close();
});

test('an admin adds a unit and an agent on the People page, changes a role, and reads the verified audit log', async () => {
  const p = await openPage();
  const { page } = p;
  await h.signInAs(page, srv.url, 'admin@northwind.example', srv.creds.password);
  await page.goto(srv.url + '/#/people');
  await page.getByRole('heading', { name: 'People', level: 1 }).waitFor();
  await page.locator('tr[data-email="lead@northwind.example"]').waitFor();
  await h.assertLabelled(page);
  // a unit whose name is markup
  const unitName = '<b>Care Central</b>';
  const addUnit = page.locator('form', { has: page.getByRole('heading', { name: 'Add a unit' }) });
  await addUnit.getByLabel('Name').fill(unitName);
  await addUnit.getByLabel('Inside').selectOption({ label: 'Customer care' });
  await addUnit.getByRole('button', { name: 'Add unit' }).click();
  await page.locator('.unit-tree').getByText(unitName, { exact: true }).waitFor();
  assert.equal(await page.locator('.unit-tree b').count(), 0, 'the name stays text');
  // a user: a short password is refused under its field, nothing stored
  p.allow(/HTTP 400: .*\/api\/v1\/users$/);
  p.allow(/status of 400/);
  const addUser = page.locator('form', { has: page.getByRole('heading', { name: 'Add a user' }) });
  await addUser.getByLabel('E-mail').fill('ivo@northwind.example');
  await addUser.getByLabel('Name').fill('Ivo');
  await addUser.getByLabel('Password').fill('short');
  const central = (await api(srv, '/units')).json.units.find((u) => u.name === unitName);
  await addUser.getByLabel('Unit').selectOption(central.id);
  await addUser.getByRole('button', { name: 'Add user' }).click();
  await addUser.getByText('password must be 10 to 128 bytes').waitFor();
  assert.equal(await addUser.getByLabel('Password').getAttribute('aria-invalid'), 'true');
  assert.equal((await api(srv, '/users')).json.users.filter((u) => u.email === 'ivo@northwind.example').length, 0);
  await addUser.getByLabel('Password').fill('a much better passphrase');
  await addUser.getByRole('button', { name: 'Add user' }).click();
  const row = page.locator('tr[data-email="ivo@northwind.example"]');
  await row.waitFor();
  assert.match(await row.innerText(), /Agent/);
  await h.shoot(page, 'people');
  // make Ivo a viewer
  await row.getByRole('button', { name: 'Edit Ivo' }).click();
  await page.getByRole('form', { name: 'Edit Ivo' }).getByLabel('Role').selectOption('viewer');
  await page.getByRole('form', { name: 'Edit Ivo' }).getByRole('button', { name: 'Save' }).click();
  await page.locator('tr[data-email="ivo@northwind.example"]', { hasText: 'Viewer' }).waitFor();
  // the audit log: those changes, by this admin, and the chain holds
  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
  const table = page.locator('.audit-table');
  await table.waitFor();
  const text = await table.innerText();
  assert.match(text, /user:admin@northwind\.example/);
  assert.match(text, /user\.update/);
  assert.match(text, /unit\.create/);
  assert.doesNotMatch(text, /a much better passphrase/);
  await page.getByRole('button', { name: 'Verify the chain' }).click();
  await page.getByText(/The chain holds: \d+ entries/).waitFor();
  await h.shoot(page, 'audit');
  // signing out ends the session on the server, not only in the page
  const cookie = (await p.context.cookies()).find((c) => c.name === 'cxm_session').value;
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByText('You are signed out.').waitFor();
  let status = 0;
  for (let i = 0; i < 50 && status !== 401; i++) {
    status = (await fetch(srv.url + '/api/v1/auth/me', { headers: { cookie: `cxm_session=${cookie}` } })).status;
    if (status !== 401) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(status, 401);
  assert.deepEqual(p.problems(), []);
  await p.close();
});
