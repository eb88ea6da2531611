// The follow-up survey on close (docs/cases.md) against a live server and a
// real SMTP receiver on loopback: closing a case of a rule with a
// follow_up_survey mails the customer a personal link to that survey in the
// same store job (follow_up.invitation set), once per case; the answer
// through that survey counts in the recovery rate; a customer without an
// e-mail address gets no mail and the case closes all the same.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, startServer, track } from './server.mjs';
import { smtpServer, until, mailsTo } from './mail.mjs';

let srv, smtp;

before(async () => {
  smtp = await smtpServer();
  srv = await startServer({
    args: ['--smtp', `smtp://127.0.0.1:${smtp.port}`, '--mail-from', 'CX <cx@example.com>', '--mail-rate', '6000'],
    env: { CXM_CASES_TICK_MS: '100', CXM_OUTBOX_RETRY_MS: '200,200,200,200' },
  });
});

after(async () => {
  const r = await srv.stop();
  srv.cleanup();
  await smtp.close();
  assert.equal(r.code, 0);
});

async function ok(path, opts, status = 201) {
  const r = await api(srv, path, opts);
  assert.equal(r.status, status, `${path}: ${r.text}`);
  return r.json;
}

async function caseOf(responseId) {
  return until('the case', async () => (await ok('/cases?limit=100', {}, 200)).cases.find((c) => c.response_id === responseId));
}

async function closeCase(c, cause) {
  await ok(`/cases/${c.id}`, { method: 'PATCH', body: { status: 'resolved', root_cause: cause, note: 'Refunded.' } }, 200);
  return ok(`/cases/${c.id}`, { method: 'PATCH', body: { status: 'closed' } }, 200);
}

test('closing a case mails the follow-up survey, once; the answer counts in the recovery rate', async () => {
  const unit = await ok('/units', { method: 'POST', body: { name: 'Care' } });
  const rel = await ok('/surveys', { method: 'POST', body: { name: 'Relationship NPS', status: 'live',
    questions: [{ id: 'nps', type: 'nps', text: 'How likely are you to recommend us?' }] } });
  const follow = await ok('/surveys', { method: 'POST', body: { name: 'After your case', status: 'live',
    questions: [{ id: 'nps', type: 'nps', text: 'How likely are you to recommend us now?' }] } });
  await ok('/case-rules', { method: 'POST', body: { name: 'Detractors', when: `response.nps <= 6 && response.survey == ${rel.id}`, unit: unit.id,
    follow_up_survey: follow.id } });
  const cause = (await ok('/root-causes', {}, 200)).root_causes.find((r) => r.name === 'Long wait').id;
  for (const [id, traits] of [['fu-1', { email: 'fu1@example.com', name: 'Fay' }], ['fu-2', { name: 'No Mail' }]]) {
    const r = await track(srv, '/v1/identify', { userId: id, traits });
    assert.equal(r.status, 200, r.text);
  }
  const a = await ok(`/surveys/${rel.id}/responses`, { method: 'POST', body: { customer: { user_id: 'fu-1' }, answers: { nps: 2 } } });
  const b = await ok(`/surveys/${rel.id}/responses`, { method: 'POST', body: { customer: { user_id: 'fu-2' }, answers: { nps: 5 } } });
  const ca = await caseOf(a.id);
  const cb = await caseOf(b.id);

  const closed = await closeCase(ca, cause);
  assert.equal(closed.follow_up.survey, follow.id);
  assert.ok(closed.follow_up.invitation, 'the invitation is made with the close');
  assert.ok(closed.history.some((e) => e.action === 'follow_up_sent'));
  const [mail] = await until('the follow-up mail', () => mailsTo(smtp, 'fu1@example.com').length && mailsTo(smtp, 'fu1@example.com'));
  assert.match(mail.headers.subject, /Did we put it right\?/);
  const link = mail.body.match(new RegExp(`${srv.url}/s/${follow.id}\\?t=([A-Za-z0-9_-]+)`));
  assert.ok(link, mail.body);

  // reopened and closed again: no second invitation
  await ok(`/cases/${ca.id}`, { method: 'PATCH', body: { status: 'open' } }, 200);
  const reclosed = await closeCase(ca, cause);
  assert.equal(reclosed.follow_up.invitation, closed.follow_up.invitation);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(mailsTo(smtp, 'fu1@example.com').length, 1, 'one follow-up per case');

  // no e-mail address: closed all the same, nothing sent
  const closedB = await closeCase(cb, cause);
  assert.equal(closedB.status, 'closed');
  assert.equal(closedB.follow_up.survey, follow.id);
  assert.equal(closedB.follow_up.invitation, null);

  // the customer answers the follow-up as a promoter: recovered
  // through the respondent page, as the customer's browser would: the
  // page's form carries the link's token
  const first = await fetch(`${srv.url}/s/${follow.id}?t=${link[1]}`);
  assert.equal(first.status, 200);
  const cookie = first.headers.get('set-cookie')?.split(';')[0];
  const r = await fetch(`${srv.url}/s/${follow.id}`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams({ page: '0', lang: 'en', t: link[1], nps: '10' }).toString(),
  });
  assert.equal(r.status, 200, await r.text());
  const m = await until('the recovery', async () => {
    const x = await ok('/cases/metrics', {}, 200);
    return x.recovery.answered === 1 && x;
  });
  assert.deepEqual(m.recovery, { detractor_cases: 2, answered: 1, recovered: 1, rate: 1 });
});
