// Survey distribution by e-mail (docs/distribution.md) against a live
// server and a real SMTP server on loopback (npm smtp-server): a mailing
// with every kind of skip, the mails' personal links and List-Unsubscribe,
// an answer through the link counted in the response rate, fatigue, the
// unsubscribe page, reminders, triggers on tracked events, bad input that
// stores nothing, and a mailing that survives kill -9.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, track } from './server.mjs';
import { assertError, withServerLog } from './helpers.mjs';
import { smtpServer, until, mailsTo, sleep } from './mail.mjs';

const FROM = 'Acme CX <cx@acme.example>';
const BODY = 'Hi,\n\nTwo minutes for {{survey}}? {{link}}\n\nNo more of these: {{unsubscribe}}';

function serveOpts(smtpPort) {
  return {
    args: smtpPort ? ['--smtp', `smtp://127.0.0.1:${smtpPort}`, '--mail-from', FROM, '--mail-rate', '6000'] : [],
    env: { CXM_SURVEY_TICK_MS: '200', CXM_OUTBOX_RETRY_MS: '200,200,200,200' },
  };
}

let srv, smtp;

before(async () => {
  smtp = await smtpServer();
  srv = await startServer(serveOpts(smtp.port));
});

after(async () => {
  const r = await srv.stop();
  srv.cleanup();
  await smtp.close();
  assert.equal(r.code, 0);
});

async function survey(name, status) {
  const r = await api(srv, '/surveys', { method: 'POST', body: {
    name, ...(status ? { status } : {}),
    questions: [{ id: 'q1', type: 'nps', text: 'How likely are you to recommend us?' }],
  } });
  assert.equal(r.status, 201, r.text);
  return r.json.id;
}

async function identify(userId, traits) {
  const r = await track(srv, '/v1/identify', { userId, traits });
  assert.equal(r.status, 200, r.text);
}

async function distribute(id, body) {
  return api(srv, `/surveys/${id}/distributions`, { method: 'POST', body: { name: 'Q4 relationship NPS',
    subject: 'How are we doing?', body: BODY, ...body } });
}

// The personal link and its token in a mail's text.
function linkOf(mail, id) {
  const m = mail.body.match(new RegExp(`${srv.url}/s/${id}\\?t=([A-Za-z0-9_-]+)`));
  assert.ok(m, mail.body);
  return { url: m[0], token: m[1] };
}

async function answer(id, token, score) {
  const res = await fetch(`${srv.url}/s/${id}`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ t: token, page: '0', q1: String(score) }).toString(),
  });
  assert.equal(res.status, 200, await res.text());
}

async function distributions(id) {
  const r = await api(srv, `/surveys/${id}/distributions`);
  assert.equal(r.status, 200, r.text);
  return r.json.distributions;
}

test('settings: defaults, change, refusals', async () => {
  let r = await api(srv, '/survey-settings');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { fatigue_days: 30, public_url: srv.url });
  r = await api(srv, '/survey-settings', { method: 'PUT', body: { fatigue_days: 14 } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { fatigue_days: 14, public_url: srv.url });
  for (const [body, field] of [[{ fatigue_days: 366 }, 'fatigue_days'], [{ fatigue_days: -1 }, 'fatigue_days'],
    [{ fatigue_days: 1.5 }, 'fatigue_days'], [{ fatigue_days: '3' }, 'fatigue_days'],
    [{ public_url: 'ftp://x.example' }, 'public_url'], [{ public_url: 'http://a b.example' }, 'public_url'],
    [{ public_url: 'http://x.example/?q=1' }, 'public_url'], [{ colour: 'red' }, 'colour']]) {
    r = await api(srv, '/survey-settings', { method: 'PUT', body });
    assertError(r, 400, 'invalid_field', field);
  }
  r = await api(srv, '/survey-settings', { method: 'PUT', body: { fatigue_days: 30, public_url: `${srv.url}/` } });
  assert.deepEqual(r.json, { fatigue_days: 30, public_url: srv.url }, 'a trailing slash is dropped');
});

test('a distribution: skips, mails with personal links and List-Unsubscribe, response rate, fatigue', async () => {
  const id = await survey('Distribution NPS');
  await identify('d-ok1', { email: 'ok1@example.com' });
  await identify('d-ok2', { email: 'OK2@Example.com' });
  await identify('d-noemail', { name: 'No Mail' });
  await identify('d-noconsent', { email: 'nc@example.com', survey_consent: false });
  await identify('d-optout', { email: 'oo@example.com' });

  // d-optout unsubscribes through an earlier personal link
  const m = await api(srv, `/surveys/${id}/links`, { method: 'POST', body: { customer: { email: 'oo@example.com' } } });
  assert.equal(m.status, 201, m.text);
  let page = await fetch(`${srv.url}/s/unsubscribe?t=${m.json.token}`);
  let html = await page.text();
  assert.equal(page.status, 200, html);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.match(page.headers.get('content-security-policy'), /default-src 'none'/);
  assert.match(page.headers.get('x-frame-options'), /DENY/);
  assert.match(html, /o\*\*\*@example\.com/);
  assert.match(html, new RegExp(`<form method="post" action="/s/unsubscribe\\?t=${m.json.token}">`));
  assert.doesNotMatch(html, /<script/i);
  page = await fetch(`${srv.url}/s/unsubscribe?t=${m.json.token}`, { method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
  html = await page.text();
  assert.equal(page.status, 200, html);
  assert.match(html, /You are unsubscribed/);
  const forged = await fetch(`${srv.url}/s/unsubscribe?t=${m.json.token.slice(0, -2)}AA`);
  assert.equal(forged.status, 403);
  assert.match(await forged.text(), /not valid/);
  assert.equal((await fetch(`${srv.url}/s/unsubscribe`)).status, 403);

  const r = await distribute(id, { to: { customers: [{ user_id: 'd-ok1' }, { email: 'ok2@example.com' },
    { user_id: 'd-noemail' }, { user_id: 'd-noconsent' }, { user_id: 'd-optout' }, { user_id: 'nobody-here' },
    { email: 'OK1@example.com' }] } });
  assert.equal(r.status, 201, r.text);
  assert.match(r.json.id, /^\d+$/);
  assert.equal(r.json.invited, 2);
  assert.deepEqual(r.json.skipped, { no_email: 1, fatigue: 0, unsubscribed: 1, no_consent: 1, unknown: 1, duplicate: 1 });

  const [m1] = await until('the first mail', () => { const x = mailsTo(smtp, 'ok1@example.com'); return x.length && x; });
  await until('the second mail', () => mailsTo(smtp, 'ok2@example.com').length);
  assert.equal(m1.headers.subject, 'How are we doing?');
  assert.match(m1.headers['content-type'], /^multipart\/alternative/);
  assert.match(m1.headers['list-unsubscribe'], new RegExp(`^<${srv.url}/s/unsubscribe\\?t=[A-Za-z0-9_-]+>$`));
  assert.equal(m1.headers['list-unsubscribe-post'], 'List-Unsubscribe=One-Click');
  assert.match(m1.body, /Two minutes for Distribution NPS\?/);
  assert.match(m1.body, /<a href="http:\/\/127\.0\.0\.1:\d+\/s\/\d+\?t=[A-Za-z0-9_-]+">/);
  const { url, token } = linkOf(m1, id);

  // the link opens the survey; the answer is counted
  const open = await fetch(url);
  assert.equal(open.status, 200);
  assert.match(await open.text(), /How likely are you to recommend us\?/);
  await answer(id, token, 9);
  const [d] = await until('sent and responded', async () => {
    const l = await distributions(id);
    return l[0].sent === 2 && l[0].responded === 1 && l;
  });
  assert.equal(d.id, r.json.id);
  assert.equal(d.name, 'Q4 relationship NPS');
  assert.equal(d.invited, 2);
  assert.equal(d.failed, 0);
  assert.equal(d.reminded, 0);
  assert.equal(d.response_rate, 0.5);
  assert.deepEqual(d.skipped, r.json.skipped);

  const one = await api(srv, `/surveys/${id}/distributions/${r.json.id}?limit=1`);
  assert.equal(one.status, 200, one.text);
  assert.equal(one.json.invitations.length, 1);
  assert.match(one.json.next_cursor, /^\d+$/);
  const rest = await api(srv, `/surveys/${id}/distributions/${r.json.id}?cursor=${one.json.next_cursor}`);
  const all = [...one.json.invitations, ...rest.json.invitations];
  assert.deepEqual(all.map((i) => i.email).sort(), ['ok1@example.com', 'ok2@example.com']);
  assert.deepEqual(all.map((i) => i.responded).sort(), [false, true]);
  assert.ok(all.every((i) => i.delivery === 'sent' && i.status === 'sent'));
  assertError(await api(srv, `/surveys/${id}/distributions/99999`), 404, 'not_found');

  // within fatigue_days: both skipped
  const again = await distribute(id, { to: { customers: [{ user_id: 'd-ok1' }, { user_id: 'd-ok2' }] } });
  assert.equal(again.status, 201, again.text);
  assert.equal(again.json.invited, 0);
  assert.equal(again.json.skipped.fatigue, 2);
  assert.equal((await distributions(id)).length, 2);
});

test('a segment as the audience', async () => {
  const id = await survey('Segment NPS');
  await identify('seg-1', { email: 'seg1@example.com', plan: 'gold-dist' });
  const s = await api(srv, '/segments', { method: 'POST', body: { name: 'Gold for surveys', rule: 'traits.plan == "gold-dist"' } });
  assert.equal(s.status, 201, s.text);
  const r = await until('the segment computed', async () => {
    const x = await distribute(id, { to: { segment: s.json.id } });
    assert.equal(x.status, 201, x.text);
    return x.json.invited === 1 && x;
  });
  assert.equal(r.json.invited, 1);
  await until('the mail', () => mailsTo(smtp, 'seg1@example.com').length);
});

test('reminders: one to who did not answer, none to who did', async () => {
  const id = await survey('Reminder NPS');
  await identify('r-1', { email: 'r1@example.com' });
  await identify('r-2', { email: 'r2@example.com' });
  const r = await distribute(id, { subject: 'Quick question', reminder_after: '2s',
    to: { customers: [{ user_id: 'r-1' }, { user_id: 'r-2' }] } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.invited, 2);
  const [m1] = await until('r1 mail', () => { const x = mailsTo(smtp, 'r1@example.com'); return x.length && x; });
  await answer(id, linkOf(m1, id).token, 10);
  const rem = await until('the reminder', () => mailsTo(smtp, 'r2@example.com').find((m) => /^Reminder:/.test(m.headers.subject)));
  assert.equal(rem.headers.subject, 'Reminder: Quick question');
  assert.match(rem.headers['list-unsubscribe'], /\/s\/unsubscribe\?t=/);
  const first = mailsTo(smtp, 'r2@example.com')[0];
  assert.equal(linkOf(rem, id).token, linkOf(first, id).token, 'the reminder carries the same link');
  await sleep(1500);
  assert.equal(mailsTo(smtp, 'r1@example.com').length, 1, 'who answered gets no reminder');
  assert.equal(mailsTo(smtp, 'r2@example.com').length, 2, 'one reminder only');
  const [d] = await distributions(id);
  assert.equal(d.reminded, 1);
  assert.equal(d.responded, 1);
});

test('triggers: an invitation after the event, none for other events or where false; delete', async () => {
  const id = await survey('Trigger CES');
  await identify('t-1', { email: 't1@example.com' });
  await identify('t-2', { email: 't2@example.com' });
  await identify('t-3', { email: 't3@example.com' });
  // an event before the trigger exists: no back-fill
  await track(srv, '/v1/track', { userId: 't-3', event: 'Order Completed', properties: { revenue: 99 } });
  const t = await api(srv, `/surveys/${id}/triggers`, { method: 'POST', body: { event: 'Order Completed', delay: '1s',
    where: 'event.properties.revenue > 50', subject: 'How easy was it?', body: 'Tell us: {{link}}' } });
  assert.equal(t.status, 201, t.text);
  assert.equal(t.json.event, 'Order Completed');
  assert.equal(t.json.delay, '1s');
  assert.equal(t.json.scheduled, 0);
  const at = Date.now();
  let r = await track(srv, '/v1/track', { userId: 't-1', event: 'Order Completed', properties: { revenue: 80 } });
  assert.equal(r.status, 200, r.text);
  await track(srv, '/v1/track', { userId: 't-2', event: 'Ticket Closed', properties: { revenue: 80 } });
  await track(srv, '/v1/track', { userId: 't-2', event: 'Order Completed', properties: { revenue: 10 } });
  const [m] = await until('the triggered mail', () => { const x = mailsTo(smtp, 't1@example.com'); return x.length && x; });
  assert.ok(Date.now() - at >= 900, 'sent after the delay');
  assert.equal(m.headers.subject, 'How easy was it?');
  linkOf(m, id);
  await sleep(1500);
  assert.equal(mailsTo(smtp, 't2@example.com').length, 0, 'another event, or where false: nothing');
  assert.equal(mailsTo(smtp, 't3@example.com').length, 0, 'no back-fill');
  r = await api(srv, `/surveys/${id}/triggers`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.triggers.length, 1);
  assert.equal(r.json.triggers[0].invited, 1);
  assert.equal(r.json.triggers[0].where, 'event.properties.revenue > 50');
  // bad triggers
  for (const [body, code, field] of [
    [{ event: 'X', where: 'answers.q1 > 3', subject: 's', body: '{{link}}' }, 'invalid_rule', 'where'],
    [{ event: 'X', where: 'event.properties.revenue >', subject: 's', body: '{{link}}' }, 'invalid_rule', 'where'],
    [{ event: 'X', delay: 'soon', subject: 's', body: '{{link}}' }, 'invalid_field', 'delay'],
    [{ subject: 's', body: '{{link}}' }, 'invalid_field', 'event'],
    [{ event: 'X', subject: 's', body: 'no link' }, 'invalid_template', 'body']]) {
    const x = await api(srv, `/surveys/${id}/triggers`, { method: 'POST', body });
    const e = assertError(x, 400, code, field);
    if (body.where === 'event.properties.revenue >') assert.match(e.message, /at \d+/);
  }
  assert.equal((await api(srv, `/surveys/${id}/triggers`)).json.triggers.length, 1);
  r = await api(srv, `/surveys/${id}/triggers/${t.json.id}`, { method: 'DELETE' });
  assert.equal(r.status, 204, r.text);
  assertError(await api(srv, `/surveys/${id}/triggers/${t.json.id}`, { method: 'DELETE' }), 404, 'not_found');
  assert.deepEqual((await api(srv, `/surveys/${id}/triggers`)).json.triggers, []);
  await track(srv, '/v1/track', { userId: 't-3', event: 'Order Completed', properties: { revenue: 99 } });
  await sleep(1500);
  assert.equal(mailsTo(smtp, 't3@example.com').length, 0, 'a deleted trigger sends nothing');
});

test('bad input: clear 400/409 and nothing stored', async () => {
  const id = await survey('Bad input NPS');
  await identify('b-1', { email: 'b1@example.com' });
  const outbox = async () => (await api(srv, '/outbox?limit=1000')).json.deliveries.length;
  const before = { outbox: await outbox(), list: await distributions(id) };
  const to = { customers: [{ user_id: 'b-1' }] };
  const cases = [
    [{ body: 'Hello, no link here', to }, 400, 'invalid_template', 'body'],
    [{ body: 'Hi {{name}}, {{link}}', to }, 400, 'invalid_template', 'body'],
    [{ body: 'x'.repeat(20001) + '{{link}}', to }, 400, 'invalid_field', 'body'],
    [{ subject: 's'.repeat(256), to }, 400, 'invalid_field', 'subject'],
    [{ subject: 'two\nlines', to }, 400, 'invalid_field', 'subject'],
    [{ to: { segment: '999999' } }, 400, 'unknown_segment', 'to.segment'],
    [{ to: { customers: [] } }, 400, 'invalid_field', 'to.customers'],
    [{ to: { customers: [{ phone: '1' }] } }, 400, 'invalid_field', 'to.customers[0]'],
    [{ to: { customers: Array.from({ length: 10001 }, (_, i) => ({ user_id: `u${i}` })) } }, 400, 'invalid_field', 'to.customers'],
    [{ to, reminder_after: 'later' }, 400, 'invalid_field', 'reminder_after'],
    [{ to, expires_in: '400d' }, 400, 'invalid_field', 'expires_in'],
    [{ to, colour: 'red' }, 400, 'invalid_field', 'colour'],
  ];
  for (const [body, status, code, field] of cases) assertError(await distribute(id, body), status, code, field);
  const ok = await distribute(id, { to: { customers: Array.from({ length: 10000 }, (_, i) => ({ user_id: `nobody-${i}` })) } });
  assert.equal(ok.status, 201, 'exactly 10,000 recipients is fine');
  assert.equal(ok.json.skipped.unknown, 10000);
  const closed = await survey('Closed NPS');
  assert.equal((await api(srv, `/surveys/${closed}/close`, { method: 'POST' })).status, 200);
  assertError(await distribute(closed, { to }), 409, 'survey_closed');
  const draft = await survey('Draft NPS', 'draft');
  assertError(await distribute(draft, { to }), 409, 'survey_not_live');
  assertError(await distribute(999999, { to }), 404, 'not_found');
  assert.equal(await outbox(), before.outbox, 'no mail was queued');
  const afterList = await distributions(id);
  assert.equal(afterList.length, before.list.length + 1, 'only the accepted distribution was stored');
  assert.equal(afterList[0].invited, 0);
  assert.equal(mailsTo(smtp, 'b1@example.com').length, 0);
});

test('kill -9 after a 201: the invitations are kept and every mail is delivered after the restart', async () => {
  const first = await startServer(serveOpts(null)); // no SMTP: the mails stay queued
  let did, sid;
  try {
    const s = await api(first, '/surveys', { method: 'POST', body: { name: 'Crash NPS',
      questions: [{ id: 'q1', type: 'nps', text: 'Recommend us?' }] } });
    sid = s.json.id;
    for (let i = 0; i < 3; i++) await track(first, '/v1/identify', { userId: `k-${i}`, traits: { email: `k${i}@example.com` } });
    const r = await api(first, `/surveys/${sid}/distributions`, { method: 'POST', body: { name: 'Crash', subject: 'Crash test',
      body: '{{link}}', to: { customers: [0, 1, 2].map((i) => ({ user_id: `k-${i}` })) } } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.invited, 3);
    did = r.json.id;
  } catch (e) {
    await first.kill();
    throw withServerLog(e, first);
  }
  await first.kill();
  const mail = await smtpServer();
  const second = await startServer({ data: first.data, creds: first.creds, ...serveOpts(mail.port) });
  try {
    const r = await api(second, `/surveys/${sid}/distributions/${did}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.invitations.length, 3);
    await until('three mails', () => mail.mails.length >= 3);
    assert.deepEqual(mail.mails.flatMap((m) => m.to).sort(), ['k0@example.com', 'k1@example.com', 'k2@example.com']);
    const d = await until('sent', async () => { const x = (await api(second, `/surveys/${sid}/distributions`)).json.distributions[0]; return x.sent === 3 && x; });
    assert.equal(d.invited, 3);
    assert.equal((await second.stop()).code, 0);
  } catch (e) {
    await second.kill();
    throw withServerLog(e, second);
  } finally {
    await mail.close();
    second.cleanup();
  }
});
