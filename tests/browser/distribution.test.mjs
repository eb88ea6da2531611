// A survey's Distribution section and the survey settings in Chromium, on a
// real server with a real SMTP server on loopback (tests/api/mail.mjs): a
// distribution sent from the form to two customers by user id (and one
// unknown), its counts in words, the list row going from invited 2 to sent
// 2 as the mails arrive, one answered through the link in its mail
// (responded 1, 50 %), its invitations; a body without {{link}} refused
// under the body; a trigger added, refused under its field, deleted after
// the confirmation; the fatigue setting changed and a bad public URL
// refused under its field; and, on a server without --smtp, the notice that
// mails stay queued. What the API gave is shown as text, never as markup.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';
import { WIDE } from './harness.mjs';
import { startServer, api, track } from '../api/server.mjs';
import { smtpServer, until, mailsTo } from '../api/mail.mjs';

let srv, smtp, browser, sid;
const NAME = 'Q4 <b>relationship</b> NPS';

async function survey(s, name) {
  const r = await api(s, '/surveys', { method: 'POST', body: {
    name, questions: [{ id: 'q1', type: 'nps', text: 'How likely are you to recommend us to a friend?' }] } });
  assert.equal(r.status, 201, r.text);
  return r.json.id;
}

before(async () => {
  smtp = await smtpServer();
  srv = await startServer({
    args: ['--smtp', `smtp://127.0.0.1:${smtp.port}`, '--mail-from', 'Northwind CX <cx@northwind.example>', '--mail-rate', '6000'],
    env: { CXM_SURVEY_TICK_MS: '200' },
  });
  browser = await h.launch();
  for (const [id, email] of [['ann', 'ann@example.com'], ['bob', 'bob@example.com'], ['cat', 'cat@example.com']]) {
    const r = await track(srv, '/v1/identify', { userId: id, traits: { email, name: id } });
    assert.equal(r.status, 200, r.text);
  }
  assert.equal((await track(srv, '/v1/track', { userId: 'cat', event: 'Order Completed', properties: { revenue: 80 } })).status, 200);
  sid = await survey(srv, 'Relationship <i>NPS</i>');
});

after(async () => {
  await h.stopDemo(srv, browser);
  await smtp.close();
});

// The error shown under the field whose control is `control`.
const errorUnder = (control) => control.locator('xpath=ancestor::div[contains(@class,"field")][1]').locator('.field-error');

test('send a distribution from the form, see it sent and answered; triggers; settings', async () => {
  const p = await h.openPage(browser, WIDE, { locale: 'en-US' });
  p.allow(/HTTP 400: .*\/api\/v1\/(surveys\/\d+\/(distributions|triggers)|survey-settings)$/);
  const { page } = p;
  await h.signIn(page, srv.url, srv.adminToken);
  await page.goto(`${srv.url}/#/surveys/${sid}`);
  await page.getByRole('heading', { name: 'Distribution', level: 2, exact: true }).waitFor();
  await page.getByText('Not sent yet.').waitFor();
  assert.equal(await page.locator('.mail-off').count(), 0, 'mail is configured: no notice');
  assert.equal(await page.locator('h1 i').count(), 0, 'the survey name is text');
  await h.assertLabelled(page);

  const form = page.getByRole('form', { name: 'Send a distribution' });
  const body = form.getByLabel('Message');
  assert.match(await body.inputValue(), /\{\{link\}\}/);
  assert.match(await body.inputValue(), /\{\{unsubscribe\}\}/);
  await form.getByLabel('Name').fill(NAME);
  await form.getByLabel('Subject').fill('Two minutes for Northwind?');
  await form.getByLabel('User ids or e-mails').fill('ann\nbob\nnobody-here\n');

  // a body without {{link}}: refused under the body, nothing sent
  await body.fill('Hello, there is no link here.');
  await form.getByRole('button', { name: 'Send' }).click();
  await errorUnder(body).filter({ hasText: /link/ }).waitFor();
  assert.equal((await api(srv, `/surveys/${sid}/distributions`)).json.distributions.length, 0);
  await h.shoot(page, 'distribution-body-error', { full: false });

  await body.fill('Hi,\n\nHow are we doing? {{link}}\n\nNo more of these: {{unsubscribe}}');
  await form.getByRole('button', { name: 'Send' }).click();
  const said = page.locator('.sent-counts');
  await said.waitFor();
  const saidText = await said.textContent();
  assert.match(saidText, /2 customers invited/);
  assert.match(saidText, /1 skipped: 1 unknown customer/);
  assert.ok(saidText.includes(NAME), 'the name as text');
  assert.equal(await errorUnder(body).isVisible(), false, 'the error is gone');

  // the list: invited 2, and sent 2 once the SMTP server has both mails
  const row = page.locator('.dist-table tbody tr').first();
  await row.locator('.dist-invited', { hasText: /^2$/ }).waitFor();
  assert.ok((await row.locator('th').textContent()).includes(NAME));
  assert.equal(await page.locator('.dist-table b').count(), 0, 'the name is not markup');
  assert.match(await row.locator('.dist-skipped').textContent(), /1 unknown customer/);
  await until('both mails', () => mailsTo(smtp, 'ann@example.com').length && mailsTo(smtp, 'bob@example.com').length);
  await row.locator('.dist-sent', { hasText: /^2$/ }).waitFor({ timeout: 15000 });
  assert.equal(mailsTo(smtp, 'cat@example.com').length, 0);

  // Ann answers through the link in her mail
  const [mail] = mailsTo(smtp, 'ann@example.com');
  const m = mail.body.match(new RegExp(`${srv.url}/s/${sid}\\?t=([A-Za-z0-9_-]+)`));
  assert.ok(m, mail.body);
  const res = await fetch(`${srv.url}/s/${sid}`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ t: m[1], page: '0', q1: '9' }).toString(),
  });
  assert.equal(res.status, 200, await res.text());
  await page.reload();
  await row.locator('.dist-responded', { hasText: /^1$/ }).waitFor();
  assert.equal((await row.locator('.dist-rate').textContent()).trim(), '50%');
  assert.equal(await row.locator('[role=img]').getAttribute('aria-label'), '1 of 2 responded');

  // the row opens its invitations, with the addresses
  await row.getByRole('button', { name: NAME }).click();
  const inv = page.locator('.invitations-table tbody tr');
  await inv.nth(1).waitFor();
  assert.equal(await inv.count(), 2);
  const emails = (await page.locator('.inv-email').allTextContents()).sort();
  assert.deepEqual(emails, ['ann@example.com', 'bob@example.com']);
  assert.deepEqual((await page.locator('.inv-responded').allTextContents()).sort(), ['No', 'Yes']);
  await h.assertLabelled(page);
  await h.shoot(page, 'distribution-survey');

  // triggers: a bad delay under its field, then one added, then deleted
  const tf = page.getByRole('form', { name: 'Add a trigger' });
  const ev = tf.getByLabel('Event');
  assert.equal(await page.locator(`datalist#${await ev.getAttribute('list')} option[value="Order Completed"]`).count(), 1,
    'the event names are offered');
  await ev.fill('Order Completed');
  const delay = tf.getByLabel('Delay');
  await delay.fill('soon');
  await tf.getByLabel('Where').fill('event.properties.revenue > 50');
  await tf.getByRole('button', { name: 'Add trigger' }).click();
  await errorUnder(delay).filter({ hasText: /./ }).waitFor();
  await delay.fill('2h');
  await tf.getByRole('button', { name: 'Add trigger' }).click();
  const trow = page.locator('.trigger-table tbody tr');
  await trow.first().waitFor();
  assert.equal(await trow.count(), 1);
  const ttext = await trow.first().textContent();
  assert.match(ttext, /Order Completed/);
  assert.match(ttext, /2h/);
  assert.match(ttext, /event\.properties\.revenue > 50/);
  assert.equal((await api(srv, `/surveys/${sid}/triggers`)).json.triggers.length, 1);
  await h.assertLabelled(page);
  await h.shoot(page, 'distribution-triggers', { full: false });
  await trow.first().getByRole('button', { name: 'Delete the trigger on Order Completed' }).click();
  await page.getByRole('group', { name: /Confirm deleting/ }).getByRole('button', { name: 'Delete trigger' }).click();
  await page.getByText('No triggers.').waitFor();
  assert.deepEqual((await api(srv, `/surveys/${sid}/triggers`)).json.triggers, []);

  // settings on the Surveys list
  await page.goto(`${srv.url}/#/surveys`);
  const sf = page.getByRole('form', { name: 'Survey settings' });
  const fatigue = sf.getByLabel('Fatigue (days)');
  await fatigue.waitFor();
  assert.equal(await fatigue.inputValue(), '30');
  const url = sf.getByLabel('Public URL of the links');
  assert.equal(await url.inputValue(), srv.url);
  await h.assertLabelled(page);
  await fatigue.fill('7');
  await sf.getByRole('button', { name: 'Save settings' }).click();
  await sf.getByText(/Saved: at most one invitation per customer every 7 days/).waitFor();
  assert.equal((await api(srv, '/survey-settings')).json.fatigue_days, 7);
  await url.fill('ftp://cx.example.com');
  await sf.getByRole('button', { name: 'Save settings' }).click();
  await errorUnder(url).filter({ hasText: /./ }).waitFor();
  assert.equal(await url.getAttribute('aria-invalid'), 'true');
  assert.equal((await api(srv, '/survey-settings')).json.public_url, srv.url, 'the bad URL is not stored');
  await h.shoot(page, 'distribution-settings');
  // the three refusals asked for (body, delay, public URL), and nothing else
  const consoled = p.problems().filter((x) => /^console: .*status of 400/.test(x));
  assert.equal(consoled.length, 3, p.problems().join('\n'));
  assert.deepEqual(p.problems().filter((x) => !consoled.includes(x)), []);
  await p.close();
});

test('without --smtp the page says that invitations stay queued', async () => {
  const bare = await startServer({ env: { CXM_SURVEY_TICK_MS: '200' } });
  try {
    const id = await survey(bare, 'Queued survey');
    const p = await h.openPage(browser, WIDE, { locale: 'en-US' });
    await h.signIn(p.page, bare.url, bare.adminToken);
    await p.page.goto(`${bare.url}/#/surveys/${id}`);
    const notice = p.page.locator('.mail-off');
    await notice.waitFor();
    assert.match(await notice.textContent(), /stay queued.*--smtp/s);
    await h.shoot(p.page, 'distribution-no-mail', { full: false });
    assert.deepEqual(p.problems(), []);
    await p.close();
  } finally {
    const r = await bare.stop();
    bare.cleanup();
    assert.equal(r.code, 0);
  }
});
