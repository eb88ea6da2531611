// A real SMTP server on loopback for the tests (npm smtp-server), and what
// they read of the mails it receives.
import { SMTPServer } from 'smtp-server';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts a receiver on a free loopback port: { mails: [{raw, to}], port, close() }.
export async function smtpServer() {
  const mails = [];
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false, closeTimeout: 1000,
    onData(stream, session, cb) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ raw: Buffer.concat(chunks).toString('utf8'), to: session.envelope.rcptTo.map((r) => r.address) });
        cb();
      });
    },
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return { mails, port: server.server.address().port, close: () => new Promise((r) => server.close(r)) };
}

// Polls fn until it returns something truthy; throws after timeout ms.
export async function until(what, fn, timeout = 20000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// Headers (unfolded, lower-case keys) and the body decoded from
// quoted-printable.
export function parseMail(raw) {
  const at = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, at).replace(/\r\n[ \t]/g, ' ');
  const headers = {};
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  const body = raw.slice(at + 4).replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
  return { headers, body };
}

export const mailsTo = (smtp, addr) => smtp.mails.filter((m) => m.to.includes(addr)).map((m) => ({ ...m, ...parseMail(m.raw) }));
