// The listening issue's "done when", end to end with real parts: a survey
// goes out by e-mail (a real SMTP server on loopback receives it), the
// customer opens the personal link from the mail in Chromium on a phone and
// answers, and the dashboard shows the NPS with its interval, the trend,
// the verbatim with its sentiment and the theme it speaks of.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';
import { PHONE, WIDE } from './harness.mjs';
import { startServer, api, track } from '../api/server.mjs';
import { smtpServer, until, mailsTo } from '../api/mail.mjs';

let srv, smtp, browser, sid;
const TEXT = 'I waited on hold for 40 minutes and nobody called back.';

before(async () => {
  smtp = await smtpServer();
  srv = await startServer({
    args: ['--smtp', `smtp://127.0.0.1:${smtp.port}`, '--mail-from', 'Northwind CX <cx@northwind.example>', '--mail-rate', '6000'],
    env: { CXM_SURVEY_TICK_MS: '200' },
  });
  browser = await h.launch();
  const s = await api(srv, '/surveys', { method: 'POST', body: {
    name: 'Relationship NPS', title: 'How are we doing?',
    questions: [
      { id: 'nps', type: 'nps', text: 'How likely are you to recommend us to a friend?' },
      { id: 'why', type: 'text', text: 'What is the main reason for your score?', show_if: 'answers.nps <= 6' },
    ] } });
  assert.equal(s.status, 201, s.text);
  sid = s.json.id;
  assert.equal((await track(srv, '/v1/identify', { userId: 'ada', traits: { email: 'ada@example.com', name: 'Ada' } })).status, 200);
});

after(async () => {
  await h.stopDemo(srv, browser);
  await smtp.close();
});

test('an e-mailed survey answered on a phone shows on the dashboard: NPS, interval, trend, verbatim, sentiment, theme', async () => {
  const d = await api(srv, `/surveys/${sid}/distributions`, { method: 'POST', body: {
    name: 'December', subject: 'Two minutes for Northwind?', body: 'Hi Ada,\n\nHow are we doing? {{link}}\n\n{{unsubscribe}}',
    to: { customers: [{ user_id: 'ada' }] } } });
  assert.equal(d.status, 201, d.text);
  assert.equal(d.json.invited, 1);
  const [mail] = await until('the invitation', () => { const m = mailsTo(smtp, 'ada@example.com'); return m.length && m; });
  assert.equal(mail.headers.subject, 'Two minutes for Northwind?');
  const link = mail.body.match(new RegExp(`${srv.url}/s/${sid}\\?t=[A-Za-z0-9_-]+`));
  assert.ok(link, mail.body);

  // the phone: the link from the mail, a 3, the follow-up, the thank-you page
  const phone = await h.openPage(browser, PHONE);
  await phone.page.goto(link[0]);
  await phone.page.getByRole('heading', { name: 'How are we doing?', level: 1 }).waitFor();
  await h.assertLabelled(phone.page);
  assert.equal(await phone.page.locator('body').textContent().then((t) => t.includes('ada@example.com') || t.includes('Ada')), false,
    'the page shows nothing about the customer');
  await phone.page.getByLabel('3', { exact: true }).check();
  // "Send" until an answer asks for more: a 3 brings the follow-up page
  await phone.page.getByRole('button', { name: /Next|Send/ }).click();
  await phone.page.getByLabel(/main reason/).fill(TEXT);
  await phone.page.getByRole('button', { name: /Send/ }).click();
  await phone.page.getByText(/Thank you/i).first().waitFor();
  await phone.page.screenshot({ path: `${h.ARTIFACTS}listen-e2e-thanks-390.png`, fullPage: true });
  assert.deepEqual(phone.problems(), []);
  await phone.close();

  // the answer is the customer's, counted in the distribution's response rate
  const [dist] = (await api(srv, `/surveys/${sid}/distributions`)).json.distributions;
  assert.equal(dist.responded, 1);
  const api1 = (await api(srv, `/metrics/nps?survey=${sid}`)).json;
  assert.equal(api1.n, 1);
  assert.equal(api1.nps, -100);

  // the dashboard
  const p = await h.openPage(browser, WIDE, { locale: 'en-US' });
  await h.signIn(p.page, srv.url, srv.adminToken);
  await p.page.goto(`${srv.url}/#/feedback?survey=${sid}`);
  const tile = p.page.locator('[data-metric="nps"]');
  await tile.locator('.tile-n[data-n="1"]').waitFor();
  assert.match(await tile.textContent(), /100/);
  assert.ok(await tile.locator('.tile-ci').count(), 'the interval is shown');
  await p.page.locator('.trend-chart svg').first().waitFor();
  await h.shoot(p.page, 'listen-e2e-feedback', { narrow: false });
  await p.page.goto(`${srv.url}/#/verbatims?survey=${sid}`);
  const v = p.page.getByText(TEXT);
  await v.waitFor();
  const card = p.page.locator('li, article, tr').filter({ hasText: TEXT }).first();
  assert.match(await card.textContent(), /negative/i);
  assert.match(await card.textContent(), /Wait time/);
  await p.page.goto(`${srv.url}/#/themes?survey=${sid}`);
  await p.page.getByText('Wait time').first().waitFor();
  await h.shoot(p.page, 'listen-e2e-themes', { narrow: false });
  assert.deepEqual(p.problems(), []);
  await p.close();
});
