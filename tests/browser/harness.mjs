// What the browser tests share: Debian's Chromium through playwright-core,
// pages that record every problem, sign-in, screenshots at two sizes and
// the label check. Not a test file itself.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startServer, tempDir, demo } from '../api/server.mjs';

export const ARTIFACTS = new URL('../artifacts/', import.meta.url).pathname;
export const WIDE = { width: 1366, height: 800 };
export const PHONE = { width: 390, height: 844 };

export async function launch() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
}

// A `cxm serve` filled with the demo company (1500 customers, seed 3) in a
// new directory named from `prefix`, and the browser. `prepare(data)` runs
// between the demo and the server's start.
export async function startDemo(prefix, { prepare } = {}) {
  const data = tempDir(prefix);
  const creds = demo(data, { customers: 1500, seed: 3 });
  await prepare?.(data);
  const srv = await startServer({ data, creds });
  const browser = await launch();
  return { srv, browser };
}

// Closes the browser and stops the server, which must exit cleanly.
export async function stopDemo(srv, browser) {
  await browser?.close();
  if (srv) {
    const r = await srv.stop();
    assert.equal(r.code, 0);
    srv.cleanup();
  }
}

// A new page that records console errors, page errors, failed requests and
// HTTP errors. `problems()` lists them; `allow(re)` accepts the ones whose
// text matches (an expected 401, say). options go to the browser context
// (locale: 'en-US' so that numbers read as the tests format them).
export async function openPage(browser, viewport = WIDE, options = {}) {
  const context = await browser.newContext({ viewport, ...options });
  const page = await context.newPage();
  const seen = [];
  const allowed = [];
  page.on('console', (m) => { if (m.type() === 'error') seen.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => seen.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    // A request aborted because the page moved on is not a failure.
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') seen.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => { if (r.status() >= 400) seen.push(`HTTP ${r.status()}: ${r.url()}`); });
  return {
    page,
    context,
    allow(re) { allowed.push(re); },
    problems() { return seen.filter((s) => !allowed.some((re) => re.test(s))); },
    async close() { await context.close(); },
  };
}

// Signs in with an API token (the admin token of a test server).
export async function signIn(page, url, token) {
  await page.goto(url + '/');
  await page.getByText('Sign in with an API token').click();
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in with token' }).click();
  await page.locator('#nav').waitFor({ state: 'attached' });
}

// Signs in as a user, with e-mail and password (a session cookie).
export async function signInAs(page, url, email, password) {
  await page.goto(url + '/');
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.locator('#nav').waitFor({ state: 'attached' });
}

// Screenshots of the page as it is, wide and on a phone, after the charts
// settle (ms); full: the whole page; and, unless told otherwise, nothing
// sticks out sideways on the phone.
export async function shoot(page, name, { settle = 800, full = true, narrow = true } = {}) {
  await page.setViewportSize(WIDE);
  await page.waitForTimeout(settle);
  await page.screenshot({ path: `${ARTIFACTS}${name}-1366.png`, fullPage: full });
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(settle);
  await page.screenshot({ path: `${ARTIFACTS}${name}-390.png`, fullPage: full });
  if (narrow)
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), `${name}: wider than the phone`);
  await page.setViewportSize(WIDE);
}

// Every form control has a label a screen reader can read.
export async function assertLabelled(page) {
  const unlabelled = await page.$$eval('input:not([type=hidden]), select, textarea', (els) =>
    els.filter((e) => !(e.labels?.length || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')))
      .map((e) => e.outerHTML));
  assert.deepEqual(unlabelled, [], 'controls without a label');
}
