// The respondent page, GET/POST /s/{survey}, against a real server: the
// HTML form (fields named by question id, labels, escaping, security
// headers), a walk through pages cut by show-if, partial answers kept and
// resumed with the session cookie, every kind of bad input answered with a
// friendly HTML page and nothing stored, personal links (minted through the
// API, answered twice: one response), forged, expired and closed, and the
// page's language.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api } from './server.mjs';
import { withServerLog } from './helpers.mjs';

let srv;
let main; // q1 nps, q2 text if answers.q1 <= 6, q3 choice (optional)

const SURVEY = {
  name: 'Respondent page',
  title: { en: 'How did we do? <script>alert("t")</script>', de: 'Wie war es?' },
  thanks: { en: 'Thanks a lot & see you!', de: 'Danke!' },
  questions: [
    { id: 'q1', type: 'nps', text: { en: 'How likely are you to recommend us?', de: 'Wie wahrscheinlich empfehlen Sie uns?' } },
    { id: 'q2', type: 'text', text: 'What went wrong?', show_if: 'answers.q1 <= 6' },
    { id: 'q3', type: 'choice', text: 'Where did you buy?', options: ['web', 'shop'], required: false },
  ],
};

before(async () => {
  srv = await startServer();
  const r = await api(srv, '/surveys', { method: 'POST', body: SURVEY });
  assert.equal(r.status, 201, r.text);
  main = r.json.id;
});

after(async () => {
  const r = await srv.stop();
  srv.cleanup();
  assert.equal(r.code, 0);
});

// A browser-like client: keeps the session cookie between requests.
function client() {
  const c = { cookie: null };
  const keep = (res) => {
    const set = res.headers.get('set-cookie');
    if (set) c.cookie = set.split(';')[0];
  };
  c.get = async (path, headers = {}) => {
    const res = await fetch(srv.url + path, { headers: { ...(c.cookie ? { cookie: c.cookie } : {}), ...headers } });
    keep(res);
    return { status: res.status, text: await res.text(), headers: res.headers };
  };
  // fields: an object, a list of pairs, or the raw body
  c.post = async (path, fields, { type = 'application/x-www-form-urlencoded', headers = {} } = {}) => {
    const body = typeof fields === 'string' || Buffer.isBuffer(fields) ? fields
      : new URLSearchParams(Array.isArray(fields) ? fields : Object.entries(fields)).toString();
    const res = await fetch(srv.url + path, {
      method: 'POST', body,
      headers: { 'content-type': type, ...(c.cookie ? { cookie: c.cookie } : {}), ...headers },
    });
    keep(res);
    return { status: res.status, text: await res.text(), headers: res.headers };
  };
  return c;
}

async function responses(id = main) {
  const r = await api(srv, `/surveys/${id}/responses?limit=1000`);
  assert.equal(r.status, 200, r.text);
  return r.json.responses;
}

// A friendly HTML answer with status: never a JSON blob.
function assertHtml(r, status, re) {
  assert.equal(r.status, status, r.text.slice(0, 400));
  assert.match(r.headers.get('content-type'), /^text\/html; charset=utf-8/);
  assert.match(r.text, /^<!doctype html>/);
  if (re) assert.match(r.text, re);
}

// Sends something bad and checks it is refused as a page and nothing moved.
async function refused(c, path, fields, status, re, opts) {
  const before = JSON.stringify(await responses());
  const r = await c.post(path, fields, opts);
  assertHtml(r, status, re);
  assert.equal(JSON.stringify(await responses()), before, 'a refused form stored something');
  return r;
}

const hidden = (html, name) => html.match(new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`))?.[1];

test('the form: fields named by question id, labels, escaping, security headers', async () => {
  const c = client();
  const r = await c.get(`/s/${main}`);
  assertHtml(r, 200);
  assert.match(r.text, /<html lang="en">/);
  assert.match(r.text, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
  assert.match(r.text, new RegExp(`<form method="post" action="/s/${main}"`));
  // page 1 holds q1 only: q2's show_if reads it
  for (let n = 0; n <= 10; n++)
    assert.match(r.text, new RegExp(`<label for="f-q1-${n}"><input type="radio" name="q1" value="${n}" id="f-q1-${n}">`));
  assert.doesNotMatch(r.text, /name="q2"/);
  assert.match(r.text, /<fieldset id="f-q1"[^>]*><legend id="f-q1-legend">How likely are you to recommend us\? <span class="req">\(required\)<\/span><\/legend>/);
  assert.equal(hidden(r.text, 'page'), '0');
  // the survey's texts are escaped; the page has no script at all
  assert.match(r.text, /How did we do\? &lt;script&gt;alert\(&quot;t&quot;\)&lt;\/script&gt;/);
  assert.doesNotMatch(r.text, /<script/i);
  const h = r.headers;
  assert.match(h.get('content-security-policy'), /default-src 'none'/);
  assert.match(h.get('content-security-policy'), /form-action 'self'/);
  assert.match(h.get('content-security-policy'), /frame-ancestors 'none'/);
  assert.equal(h.get('x-frame-options'), 'DENY');
  assert.equal(h.get('referrer-policy'), 'no-referrer');
  assert.equal(h.get('cache-control'), 'no-store');
  assert.equal(h.get('x-content-type-options'), 'nosniff');
  const cookie = h.get('set-cookie');
  assert.match(cookie, /^cxm_survey=[0-9a-f]{32}; Path=\/s\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
  assert.doesNotMatch(cookie, /Secure/, 'plain HTTP: no Secure flag');
  // a second GET keeps the session
  const again = await c.get(`/s/${main}`);
  assert.equal(again.headers.get('set-cookie'), null);
});

test('a walk: a detractor gets the follow-up page, the response and the NPS are stored', async () => {
  const c = client();
  await c.get(`/s/${main}`);
  const p2 = await c.post(`/s/${main}`, { page: '0', lang: 'en', q1: '3' });
  assertHtml(p2, 200, /<textarea name="q2" id="f-q2-0" rows="5" aria-labelledby="f-q2-legend"><\/textarea>/);
  assert.equal(hidden(p2.text, 'page'), '1');
  assert.match(p2.text, /Page 2 of 2/);
  assert.match(p2.text, /<button type="submit">Send<\/button>/);
  const done = await c.post(`/s/${main}`, [['page', '1'], ['lang', 'en'], ['q2', 'Slow delivery + "rude" <staff> é'], ['q3', 'web']]);
  assertHtml(done, 200, /<h1>Thank you<\/h1><p>Thanks a lot &amp; see you!<\/p>/);
  const list = await responses();
  const mine = list.filter((x) => x.answers.q2 === 'Slow delivery + "rude" <staff> é');
  assert.equal(mine.length, 1);
  assert.deepEqual(mine[0].answers, { q1: 3, q2: 'Slow delivery + "rude" <staff> é', q3: 'web' });
  assert.equal(mine[0].complete, true);
  assert.equal(mine[0].context.channel, 'web');
  // a promoter skips q2: page 2 shows q3 only
  const d = client();
  const q3 = await d.post(`/s/${main}`, { page: '0', q1: '10' });
  assertHtml(q3, 200, /name="q3"/);
  assert.doesNotMatch(q3.text, /name="q2"/);
  assertHtml(await d.post(`/s/${main}`, { page: '1' }), 200, /Thank you/);
  const nps = await api(srv, `/metrics/nps?survey=${main}`);
  assert.equal(nps.status, 200, nps.text);
  assert.equal(nps.json.n, 2);
  assert.equal(nps.json.promoters, 1);
  assert.equal(nps.json.detractors, 1);
  assert.equal(nps.json.nps, 0);
  // coming back after the end: the thank-you page, with a way to change the answers
  const back = await d.get(`/s/${main}`);
  assertHtml(back, 200, /Thank you/);
  assert.match(back.text, /href="\/s\/\d+\?edit=1&amp;lang=en">Change my answers<\/a>/);
  const edit = await d.get(`/s/${main}?edit=1`);
  assertHtml(edit, 200, /You have answered this survey already/);
  assert.match(edit.text, /value="10" id="f-q1-10" checked/);
});

test('partial answers are kept and resumed with the session cookie', async () => {
  const c = client();
  const before = (await responses()).length;
  await c.post(`/s/${main}`, { page: '0', q1: '5' });
  let list = await responses();
  assert.equal(list.length, before + 1);
  const partial = list[0];
  assert.equal(partial.complete, false);
  assert.deepEqual(partial.answers, { q1: 5 });
  // back with the cookie: page 2, the follow-up shown; without it: page 1
  const resumed = await c.get(`/s/${main}`);
  assertHtml(resumed, 200, /name="q2"/);
  assert.equal(hidden(resumed.text, 'page'), '1');
  const fresh = await client().get(`/s/${main}`);
  assert.equal(hidden(fresh.text, 'page'), '0');
  // going back to page 1 shows the kept answer chosen
  const edit = await c.get(`/s/${main}?edit=1`);
  assert.match(edit.text, /value="5" id="f-q1-5" checked/);
  // finishing replaces the partial answer: still one response
  assertHtml(await c.post(`/s/${main}`, { page: '1', q2: 'late' }), 200, /Thank you/);
  list = await responses();
  assert.equal(list.length, before + 1);
  assert.deepEqual(list[0].answers, { q1: 5, q2: 'late' });
  assert.equal(list[0].complete, true);
  // changing q1 to a promoter's drops the follow-up it no longer asks
  await c.post(`/s/${main}`, { page: '0', q1: '9' });
  list = await responses();
  assert.equal(list.length, before + 1);
  assert.deepEqual(list[0].answers, { q1: 9 });
});

test('bad input: a friendly page with the right status, the entries kept, and nothing stored', async () => {
  const c = client();
  const path = `/s/${main}`;
  let r = await refused(c, path, { page: '0', q1: '11' }, 400, /role="alert"/);
  assert.match(r.text, /<p class="err" id="f-q1-err">Please choose a number from 0 to 10.<\/p>/);
  assert.match(r.text, /<fieldset id="f-q1" class="invalid" aria-describedby="f-q1-err f-q1-hint">/);
  assert.match(r.text, /<a href="#f-q1-0">/);
  await refused(c, path, { page: '0', q1: '-1' }, 400, /f-q1-err/);
  await refused(c, path, { page: '0', q1: 'nine' }, 400, /f-q1-err/); // wrong type
  await refused(c, path, { page: '0', q1: '7.5' }, 400, /f-q1-err/);
  await refused(c, path, [['page', '0'], ['q1', '7'], ['q1', '8']], 400, /one answer only/);
  r = await refused(c, path, { page: '0', q1: '7', q9: 'x' }, 400, /does not ask for \(q9\)/); // unknown question
  assert.match(r.text, /value="7" id="f-q1-7" checked/, 'the entry is kept');
  await refused(c, path, { page: '0', q1: '7', q3: 'web' }, 400, /does not ask for \(q3\)/); // another page's
  await refused(c, path, { page: '0' }, 400, /Please answer this question/); // missing required
  await refused(c, path, { page: '5', q1: '7' }, 400, /could not be read/);
  await refused(c, path, { q1: '7' }, 400, /could not be read/);
  await refused(c, path, 'page=0&q1=%FF', 400, /not valid UTF-8/);
  await refused(c, path, 'page=0&q1=%C3%28', 400, /not valid UTF-8/);
  await refused(c, path, Buffer.from([0x70, 0x61, 0x67, 0x65, 0x3d, 0x30, 0x26, 0x71, 0x31, 0x3d, 0xff]), 400, /not valid UTF-8/);
  await refused(c, path, 'page=0&q1=%G7', 400, /malformed %-escape/);
  await refused(c, path, 'page=0&q1=7%', 400, /malformed %-escape/);
  await refused(c, path, 'page=0&q1=%00', 400, /NUL/);
  await refused(c, path, 'page=0&page=1&q1=7', 400, /hidden field twice/);
  await refused(c, path, '{"q1":7}', 415, /application\/x-www-form-urlencoded/, { type: 'application/json' });
  await refused(c, path, 'page=0&q1=' + 'x'.repeat(600 * 1024), 413, /too long/);

  // a text of 10,001 characters on the follow-up page (é: 2 bytes, 1 character)
  const d = client();
  await d.post(path, { page: '0', q1: '2' });
  r = await refused(d, path, { page: '1', q2: 'é'.repeat(10001) }, 400, /at most 10000 characters; it has 10001/);
  assert.ok(r.text.includes('é'.repeat(10001)), 'the text is kept to shorten');
  const kept = (await responses())[0];
  assert.deepEqual(kept.answers, { q1: 2 });
  // exactly 10,000 is fine
  assertHtml(await d.post(path, { page: '1', q2: 'é'.repeat(10000) }), 200, /Thank you/);
  assert.equal((await responses())[0].answers.q2.length, 10000);

  // the survey: unknown, a draft, not a number
  assertHtml(await c.get('/s/999999'), 404, /Survey not found/);
  assertHtml(await c.get('/s/abc'), 404, /Survey not found/);
  assertHtml(await c.post('/s/999999', { page: '0', q1: '1' }), 404, /Survey not found/);
  const draft = await api(srv, '/surveys', { method: 'POST', body: { name: 'draft one', status: 'draft', questions: [{ id: 'q1', type: 'nps', text: 'x' }] } });
  assert.equal(draft.status, 201, draft.text);
  assertHtml(await c.get(`/s/${draft.json.id}`), 404, /not open yet/);
  assertHtml(await c.post(`/s/${draft.json.id}`, { page: '0', q1: '1' }), 404, /not open yet/);
  const del = await fetch(srv.url + path, { method: 'DELETE' });
  assert.equal(del.status, 405);
  assert.match(del.headers.get('content-type'), /^text\/html/);
});

async function mint(id, customer, expires_in) {
  return api(srv, `/surveys/${id}/links`, { method: 'POST', body: { customer, ...(expires_in ? { expires_in } : {}) } });
}

test('personal links: minted, answered twice (one response with the second answers), forged, expired, closed', async () => {
  const npsBefore = (await api(srv, `/metrics/nps?survey=${main}`)).json;
  const m = await mint(main, { user_id: 'link-user-1' }, '30d');
  assert.equal(m.status, 201, m.text);
  assert.match(m.json.token, /^[A-Za-z0-9_-]+$/);
  assert.equal(m.json.url, `/s/${main}?t=${m.json.token}`);
  const days = (Date.parse(m.json.expires_at) - Date.now()) / 86400000;
  assert.ok(days > 29.9 && days <= 30, m.json.expires_at);

  const c = client();
  const page = await c.get(m.json.url);
  assertHtml(page, 200);
  assert.equal(hidden(page.text, 't'), m.json.token);
  assert.equal(page.headers.get('set-cookie'), null, 'a personal link needs no cookie');
  assert.doesNotMatch(page.text, /link-user-1/, 'nothing about the customer on the page');
  const t = m.json.token;
  assertHtml(await c.post(`/s/${main}`, { page: '0', t, q1: '8' }), 200, /name="q3"/);
  assertHtml(await c.post(`/s/${main}`, { page: '1', t, q3: 'web' }), 200, /Thank you/);
  // again, from another browser: the same link's response is replaced
  const again = client();
  assertHtml(await again.get(m.json.url), 200, /Thank you/);
  assertHtml(await again.post(`/s/${main}`, { page: '0', t, q1: '2' }), 200, /name="q2"/);
  assertHtml(await again.post(`/s/${main}`, { page: '1', t, q2: 'changed my mind', q3: 'shop' }), 200, /Thank you/);
  const cust = await api(srv, '/customers?user_id=link-user-1');
  assert.equal(cust.json.customers.length, 1);
  const theirs = (await responses()).filter((x) => x.customer_id === cust.json.customers[0].id);
  assert.equal(theirs.length, 1, JSON.stringify(theirs));
  assert.deepEqual(theirs[0].answers, { q1: 2, q2: 'changed my mind', q3: 'shop' });
  // the metrics count the link's last answer once: each page saved replaced the one before
  const npsAfter = (await api(srv, `/metrics/nps?survey=${main}`)).json;
  assert.equal(npsAfter.n, npsBefore.n + 1);
  assert.equal(npsAfter.detractors, npsBefore.detractors + 1);
  assert.equal(npsAfter.passives, npsBefore.passives);
  assert.equal(theirs[0].context.channel, 'link');

  // an e-mail link makes a customer with that e-mail
  const e = await mint(main, { email: 'Link.Person@Example.com' });
  assert.equal(e.status, 201, e.text);
  assertHtml(await c.post(`/s/${main}`, { page: '0', t: e.json.token, q1: '10' }), 200);
  const byMail = await api(srv, '/customers?email=link.person@example.com');
  assert.equal(byMail.json.customers.length, 1);

  // forged: one character changed, cut short, nonsense
  const flip = t.slice(0, 10) + (t[10] === 'A' ? 'B' : 'A') + t.slice(11);
  const before = JSON.stringify(await responses());
  assertHtml(await c.get(`/s/${main}?t=${flip}`), 403, /This link does not work/);
  assertHtml(await c.post(`/s/${main}`, { page: '0', t: flip, q1: '1' }), 403, /This link does not work/);
  assertHtml(await c.get(`/s/${main}?t=${t.slice(0, -3)}`), 403);
  assertHtml(await c.get(`/s/${main}?t=not-a-token`), 403);
  // another survey's link
  const other = await api(srv, '/surveys', { method: 'POST', body: { name: 'other', questions: [{ id: 'q1', type: 'csat', text: 'Happy?' }] } });
  const om = await mint(other.json.id, { user_id: 'link-user-2' });
  assertHtml(await c.get(`/s/${main}?t=${om.json.token}`), 403);
  // expired
  const short = await mint(main, { anonymous_id: 'anon-link' }, '1s');
  assert.equal(short.status, 201, short.text);
  await new Promise((res) => setTimeout(res, 1200));
  assertHtml(await c.get(short.json.url), 410, /This link has expired/);
  assertHtml(await c.post(`/s/${main}`, { page: '0', t: short.json.token, q1: '1' }), 410, /expired/);
  assert.equal(JSON.stringify(await responses()), before, 'a refused link stored something');

  // the API refuses bad requests
  for (const [body, field] of [
    [{ customer: { user_id: 'u' }, expires_in: '-5m' }, 'expires_in'],
    [{ customer: { user_id: 'u' }, expires_in: '0s' }, 'expires_in'],
    [{ customer: { user_id: 'u' }, expires_in: '400d' }, 'expires_in'],
    [{ customer: { user_id: 'u' }, expires_in: 30 }, 'expires_in'],
    [{ customer: {} }, 'customer'],
    [{ customer: { user_id: 'u', email: 'a@b.de' } }, 'customer'],
    [{ customer: { phone: '1' } }, 'customer'],
    [{ customer: { email: 'not an address' } }, 'customer.email'],
    [{ customer: { user_id: 'u' }, extra: 1 }, 'extra'],
  ]) {
    const r = await api(srv, `/surveys/${main}/links`, { method: 'POST', body });
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.error.field, field, r.text);
  }
  assert.equal((await api(srv, '/surveys/999999/links', { method: 'POST', body: { customer: { user_id: 'u' } } })).status, 404);
  assert.equal((await api(srv, `/surveys/${main}/links`, { method: 'POST', body: { customer: { user_id: 'u' } }, token: 'nope' })).status, 401);

  // closed: the links and the public page say so, and minting is refused
  assert.equal((await api(srv, `/surveys/${other.json.id}/close`, { method: 'POST' })).status, 200);
  assertHtml(await c.get(`/s/${other.json.id}?t=${om.json.token}`), 410, /This survey is closed/);
  assertHtml(await c.get(`/s/${other.json.id}`), 410, /closed/);
  assertHtml(await c.post(`/s/${other.json.id}`, { page: '0', t: om.json.token, q1: '5' }), 410, /closed/);
  assert.equal((await responses(other.json.id)).length, 0);
  const closedMint = await mint(other.json.id, { user_id: 'u' });
  assert.equal(closedMint.status, 409, closedMint.text);
});

test('languages: ?lang=, then Accept-Language, then the survey\'s own', async () => {
  const c = client();
  let r = await c.get(`/s/${main}`, { 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' });
  assertHtml(r, 200, /<html lang="de">/);
  assert.match(r.text, /Wie wahrscheinlich empfehlen Sie uns\? <span class="req">\(Pflichtfrage\)<\/span>/);
  assert.match(r.text, /<button type="submit">Weiter<\/button>/);
  assert.equal(r.headers.get('content-language'), 'de');
  r = await c.get(`/s/${main}?lang=en`, { 'accept-language': 'de' });
  assert.match(r.text, /<html lang="en">/);
  r = await c.get(`/s/${main}`, { 'accept-language': 'ja' });
  assert.match(r.text, /<html lang="en">/, 'no Japanese texts: the survey\'s language');
  // a German error, and a German thank-you page
  r = await c.post(`/s/${main}`, { page: '0', lang: 'de' });
  assertHtml(r, 400, /Bitte beantworten Sie diese Frage\./);
  await c.post(`/s/${main}`, { page: '0', lang: 'de', q1: '9' });
  r = await c.post(`/s/${main}`, { page: '1', lang: 'de' });
  assertHtml(r, 200, /<h1>Vielen Dank<\/h1><p>Danke!<\/p>/);
  // notices too
  assertHtml(await c.get('/s/999999', { 'accept-language': 'de' }), 404, /<html lang="de">.*Umfrage nicht gefunden/s);
  assertHtml(await c.get('/s/999999', { 'accept-language': 'ja' }), 404, /<html lang="en">.*Survey not found/s);
});

test('the rest of the server is untouched: /s/ needs no token, the API still does', async () => {
  try {
    const r = await fetch(srv.url + '/api/v1/surveys');
    assert.equal(r.status, 401);
    const h = await fetch(srv.url + '/healthz');
    assert.equal(h.status, 200);
  } catch (e) {
    throw withServerLog(e, srv);
  }
});
