// The outbox (docs/outbox.md) against a live server and a real SMTP server
// on loopback (the npm package smtp-server): the test e-mail arrives with
// correct headers and shows as sent; a server that is down is retried and
// the delivery shows its attempts and error; a 5xx fails at once and can be
// retried; a webhook arrives signed; bad input gets clear errors; and an
// acknowledged test e-mail survives SIGKILL and is sent after the restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { createHmac } from 'node:crypto';
import { SMTPServer } from 'smtp-server';
import { startServer, api } from './server.mjs';
import { assertError, parseMetrics, withServer, withServerLog, ISO_MS } from './helpers.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const FROM = 'Acme CX <cx@acme.example>';

// An SMTP server on loopback collecting what it receives. rcpt(addr) may
// return an SMTP error code to refuse a recipient.
async function smtpServer({ port = 0, rcpt } = {}) {
  const mails = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 1000,
    onRcptTo(address, session, cb) {
      const code = rcpt && rcpt(address.address);
      if (!code) return cb();
      const e = new Error(code >= 500 ? 'No such user here' : 'Try again later');
      e.responseCode = code;
      return cb(e);
    },
    onData(stream, session, cb) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ raw: Buffer.concat(chunks).toString('utf8'), from: session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address) });
        cb();
      });
    },
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return { mails, port: server.server.address().port, close: () => new Promise((r) => server.close(r)) };
}

// A port nothing listens on (taken and given back).
async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function until(what, fn, timeout = 15000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function delivery(srv, id) {
  const r = await api(srv, `/outbox/${id}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// Headers of a raw message (unfolded), keyed in lower case, and its body.
function parseMail(raw) {
  const at = raw.indexOf('\r\n\r\n');
  assert.ok(at > 0, 'no header/body separator');
  const head = raw.slice(0, at).replace(/\r\n[ \t]/g, ' ');
  const headers = {};
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { headers, body: raw.slice(at + 4) };
}

function serve(smtpPort, extra = {}) {
  const args = smtpPort ? ['--smtp', `smtp://127.0.0.1:${smtpPort}`, '--mail-from', FROM, '--mail-rate', '600'] : [];
  return { args, env: { CXM_OUTBOX_RETRY_MS: '200,200,200,200', ...extra.env } };
}

test('test e-mail: 202, arrives with correct headers and body, shows as sent; list, get, metrics', async () => {
  const smtp = await smtpServer();
  try {
    await withServer(serve(smtp.port), async (srv) => {
      const r = await api(srv, '/outbox/test-mail', { method: 'POST', body: { to: 'ops@example.com' } });
      assert.equal(r.status, 202, r.text);
      assert.match(r.json.id, /^\d+$/);
      const mail = await until('the mail', () => smtp.mails[0]);
      assert.equal(mail.from, 'cx@acme.example');
      assert.deepEqual(mail.to, ['ops@example.com']);
      assert.doesNotMatch(mail.raw.replace(/\r\n/g, ''), /\n/, 'bare LF in the message');
      const { headers: h, body } = parseMail(mail.raw);
      assert.equal(h.from, 'Acme CX <cx@acme.example>');
      assert.equal(h.to, 'ops@example.com');
      assert.equal(h.subject, 'cxm test e-mail');
      assert.equal(h['mime-version'], '1.0');
      assert.match(h['message-id'], new RegExp(`^<cxm\\.${r.json.id}\\.\\d+@acme\\.example>$`));
      assert.ok(Math.abs(Date.parse(h.date) - Date.now()) < 60_000, h.date);
      assert.equal(h['content-type'], 'text/plain; charset=UTF-8');
      assert.equal(h['content-transfer-encoding'], 'quoted-printable');
      assert.match(body, /This is a test e-mail from cxm/);
      const d = await until('sent', async () => { const x = await delivery(srv, r.json.id); return x.status === 'sent' && x; });
      assert.deepEqual(Object.keys(d).sort(), ['attempts', 'created_at', 'id', 'kind', 'last_error', 'next_attempt_at',
        'ref', 'sent_at', 'status', 'subject', 'to'].sort());
      assert.equal(d.kind, 'mail');
      assert.equal(d.to, 'ops@example.com');
      assert.equal(d.ref, 'test-mail');
      assert.equal(d.attempts, 1);
      assert.equal(d.last_error, null);
      assert.equal(d.next_attempt_at, null);
      assert.match(d.created_at, ISO_MS);
      assert.match(d.sent_at, ISO_MS);
      // the list: filters, never the body, and whether mail is configured
      const l = await api(srv, '/outbox?status=sent&kind=mail&ref=test-mail&limit=10');
      assert.equal(l.status, 200, l.text);
      assert.equal(l.json.mail_configured, true);
      assert.deepEqual(l.json.deliveries.map((x) => x.id), [r.json.id]);
      assert.equal(l.json.next_cursor, null);
      assert.doesNotMatch(l.text, /test e-mail from cxm/);
      assert.deepEqual((await api(srv, '/outbox?status=failed')).json.deliveries, []);
      assert.deepEqual((await api(srv, '/outbox?ref=nothing')).json.deliveries, []);
      // paging
      const r2 = await api(srv, '/outbox/test-mail', { method: 'POST', body: { to: 'ops2@example.com' } });
      assert.equal(r2.status, 202, r2.text);
      const p1 = await api(srv, '/outbox?limit=1');
      assert.deepEqual(p1.json.deliveries.map((x) => x.id), [r2.json.id]);
      const p2 = await api(srv, `/outbox?limit=1&cursor=${p1.json.next_cursor}`);
      assert.deepEqual(p2.json.deliveries.map((x) => x.id), [r.json.id]);
      await until('the second mail', () => smtp.mails[1]);
      await until('sent', async () => (await delivery(srv, r2.json.id)).status === 'sent');
      const m = await fetch(`${srv.url}/metrics`);
      const metrics = parseMetrics(await m.text());
      assert.equal(metrics['cxm_outbox_deliveries{kind="mail",status="sent"}'], 2);
      assert.equal(metrics['cxm_outbox_deliveries{kind="mail",status="queued"}'], 0);
      assert.equal(metrics['cxm_outbox_deliveries{kind="webhook",status="failed"}'], 0);
      assert.equal(metrics['cxm_outbox_attempts_total{kind="mail",outcome="sent"}'], 2);
      assert.equal(metrics['cxm_outbox_mail_configured'], 1);
    });
  } finally {
    await smtp.close();
  }
});

test('bad input: clear errors, nothing queued', async () => {
  const smtp = await smtpServer();
  try {
    await withServer(serve(smtp.port), async (srv) => {
      const post = (body) => api(srv, '/outbox/test-mail', { method: 'POST', body });
      let e = assertError(await post({ to: 'a@example.com\r\nBcc: victim@example.com' }), 400, 'invalid_field', 'to');
      assert.match(e.message, /line breaks/);
      assertError(await post({ to: 'not-an-address' }), 400, 'invalid_field', 'to');
      assertError(await post({}), 400, 'invalid_field', 'to');
      assertError(await post({ to: 42 }), 400, 'invalid_field', 'to');
      const raw = await fetch(`${srv.url}/api/v1/outbox/test-mail`, {
        method: 'POST', headers: { authorization: `Bearer ${srv.adminToken}`, 'content-type': 'application/json' }, body: '{"to":',
      });
      assert.equal(raw.status, 400);
      assert.equal((await raw.json()).error.code, 'malformed_json');
      assertError(await api(srv, '/outbox?status=lost'), 400, 'invalid_parameter', 'status');
      assertError(await api(srv, '/outbox?kind=fax'), 400, 'invalid_parameter', 'kind');
      assertError(await api(srv, '/outbox?limit=0'), 400, 'invalid_parameter', 'limit');
      assertError(await api(srv, '/outbox?cursor=x'), 400, 'invalid_parameter', 'cursor');
      assertError(await api(srv, '/outbox/999'), 404, 'delivery_not_found', 'id');
      assertError(await api(srv, '/outbox/abc'), 404, 'delivery_not_found', 'id');
      assertError(await api(srv, '/outbox/999/retry', { method: 'POST' }), 404, 'delivery_not_found', 'id');
      assertError(await api(srv, '/outbox/test-mail'), 405, 'method_not_allowed');
      assertError(await api(srv, '/outbox', { method: 'POST', body: {} }), 405, 'method_not_allowed');
      assertError(await api(srv, '/outbox', { token: null }), 401, 'unauthorized');
      assertError(await api(srv, '/outbox/test-mail', { method: 'POST', body: { to: 'a@example.com' }, token: 'wrong' }),
        401, 'unauthorized');
      assertError(await api(srv, '/outbox/test-webhook', { method: 'POST', body: { url: 'ftp://x.example/' } }),
        400, 'invalid_field', 'url');
      assert.deepEqual((await api(srv, '/outbox')).json.deliveries, []);
      // a sent delivery cannot be retried
      const ok = await post({ to: 'ok@example.com' });
      await until('sent', async () => (await delivery(srv, ok.json.id)).status === 'sent');
      assertError(await api(srv, `/outbox/${ok.json.id}/retry`, { method: 'POST' }), 409, 'delivery_not_failed', 'id');
      assert.equal(smtp.mails.length, 1);
    });
  } finally {
    await smtp.close();
  }
});

test('without --smtp: mail is not configured; the test e-mail is refused', async () => {
  await withServer(serve(0), async (srv) => {
    const e = assertError(await api(srv, '/outbox/test-mail', { method: 'POST', body: { to: 'a@example.com' } }),
      409, 'mail_not_configured', null);
    assert.match(e.message, /--smtp/);
    const l = await api(srv, '/outbox');
    assert.equal(l.json.mail_configured, false);
    const metrics = parseMetrics(await (await fetch(`${srv.url}/metrics`)).text());
    assert.equal(metrics['cxm_outbox_mail_configured'], 0);
  });
});

test('SMTP server down: retried with attempts and last_error; sent once it is up', async () => {
  const port = await freePort();
  let smtp; // started once cxm has failed to reach it; closed after cxm stops (it keeps its connection)
  await withServer(serve(port, { env: { CXM_OUTBOX_RETRY_MS: '300,300,300,3000' } }), async (srv) => {
    const r = await api(srv, '/outbox/test-mail', { method: 'POST', body: { to: 'ops@example.com' } });
    assert.equal(r.status, 202, r.text);
    const d = await until('two attempts', async () => { const x = await delivery(srv, r.json.id); return x.attempts >= 2 && x; });
    assert.equal(d.status, 'queued');
    assert.match(d.last_error, /connect/i);
    assert.match(d.next_attempt_at, ISO_MS);
    assert.equal(d.sent_at, null);
    smtp = await smtpServer({ port });
    const sent = await until('sent', async () => { const x = await delivery(srv, r.json.id); return x.status === 'sent' && x; });
    assert.ok(sent.attempts >= 3 && sent.attempts <= 4, `attempts ${sent.attempts}`);
    assert.match(sent.last_error, /connect/i, 'the last failure stays visible');
    assert.equal(smtp.mails.length, 1);
  }).finally(() => smtp && smtp.close());
});

test('SMTP 5xx: failed after one attempt; retry queues it again and it goes', async () => {
  let refuse = true;
  const smtp = await smtpServer({ rcpt: () => (refuse ? 550 : 0) });
  try {
    await withServer(serve(smtp.port), async (srv) => {
      const r = await api(srv, '/outbox/test-mail', { method: 'POST', body: { to: 'nobody@example.com' } });
      assert.equal(r.status, 202, r.text);
      const d = await until('failed', async () => { const x = await delivery(srv, r.json.id); return x.status === 'failed' && x; });
      assert.equal(d.attempts, 1);
      assert.match(d.last_error, /^SMTP 550/);
      assert.equal(d.next_attempt_at, null);
      assert.deepEqual((await api(srv, '/outbox?status=failed')).json.deliveries.map((x) => x.id), [r.json.id]);
      refuse = false;
      const q = await api(srv, `/outbox/${r.json.id}/retry`, { method: 'POST' });
      assert.equal(q.status, 200, q.text);
      assert.ok(['queued', 'sending', 'sent'].includes(q.json.status), q.text);
      await until('sent', async () => (await delivery(srv, r.json.id)).status === 'sent');
      assert.equal(smtp.mails.length, 1);
    });
  } finally {
    await smtp.close();
  }
});

test('webhook: the test webhook arrives signed with the secret the API shows', async () => {
  const got = [];
  const receiver = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(got.length === 1 ? 500 : 204).end();
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  try {
    await withServer(serve(0), async (srv) => {
      const s = await api(srv, '/outbox/webhook-secret');
      assert.equal(s.status, 200, s.text);
      assert.match(s.json.secret, /^whsec_[0-9a-f]{64}$/);
      const url = `http://127.0.0.1:${receiver.address().port}/hooks/cxm`;
      const r = await api(srv, '/outbox/test-webhook', { method: 'POST', body: { url } });
      assert.equal(r.status, 202, r.text);
      const d = await until('sent', async () => { const x = await delivery(srv, r.json.id); return x.status === 'sent' && x; });
      assert.equal(d.kind, 'webhook');
      assert.equal(d.to, url);
      assert.equal(d.subject, 'cxm.test');
      assert.equal(d.attempts, 2);
      assert.match(d.last_error, /^HTTP 500/);
      assert.equal(got.length, 2);
      const h = got[1];
      assert.equal(h.method, 'POST');
      assert.equal(h.url, '/hooks/cxm');
      assert.equal(h.headers['content-type'], 'application/json');
      assert.equal(h.headers['x-cxm-event'], 'cxm.test');
      assert.equal(h.headers['x-cxm-delivery'], r.json.id);
      const ts = h.headers['x-cxm-timestamp'];
      assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 60, ts);
      const expect = 'sha256=' + createHmac('sha256', s.json.secret).update(`${ts}.${h.body}`).digest('hex');
      assert.equal(h.headers['x-cxm-signature'], expect);
      assert.equal(JSON.parse(h.body).event, 'cxm.test');
    });
  } finally {
    receiver.close();
  }
});

test('kill -9: an acknowledged test e-mail survives and is sent after the restart', async () => {
  // an SMTP server that accepts and never answers: the first attempt hangs
  // (or has not started) when the server is killed, so nothing pushes the
  // delivery's next attempt into the future; either way it is due at the restart
  const mute = net.createServer(() => {});
  await new Promise((resolve) => mute.listen(0, '127.0.0.1', resolve));
  const first = await startServer(serve(mute.address().port, { env: { CXM_OUTBOX_RETRY_MS: '60000' } }));
  let r;
  try {
    r = await api(first, '/outbox/test-mail', { method: 'POST', body: { to: 'survivor@example.com' } });
    assert.equal(r.status, 202, r.text);
  } catch (e) {
    throw withServerLog(e, first);
  }
  await first.kill();
  mute.close();
  const smtp = await smtpServer();
  const second = await startServer({ data: first.data, creds: first.creds, ...serve(smtp.port) });
  try {
    await withServerOk(second, async () => {
      const d = await until('sent', async () => { const x = await delivery(second, r.json.id); return x.status === 'sent' && x; });
      assert.equal(d.to, 'survivor@example.com');
      assert.equal(smtp.mails.length, 1);
      assert.deepEqual(smtp.mails[0].to, ['survivor@example.com']);
    });
  } finally {
    await smtp.close();
    second.cleanup();
  }
});

// Runs fn, then stops srv gracefully and checks it exited 0.
async function withServerOk(srv, fn) {
  try {
    await fn();
  } catch (e) {
    await srv.kill();
    throw withServerLog(e, srv);
  }
  assert.equal((await srv.stop()).code, 0);
}
