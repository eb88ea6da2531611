// The respondent page in real Chromium on a phone (390×844): the public link
// opens, an NPS of 4 brings the follow-up question, the text is typed and
// sent, the thank-you page shows; every control has a label, nothing sticks
// out sideways, the NPS row wraps onto two rows, and the same walk works
// with JavaScript disabled. Screenshots go to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';
import { ARTIFACTS, PHONE } from './harness.mjs';
import { startServer, api } from '../api/server.mjs';

let srv;
let browser;
let id;

before(async () => {
  srv = await startServer();
  browser = await h.launch();
  const r = await api(srv, '/surveys', {
    method: 'POST',
    body: {
      name: 'Browser respondent',
      title: 'How was your visit?',
      intro: 'Two short questions.',
      questions: [
        { id: 'q1', type: 'nps', text: 'How likely are you to recommend us to a friend?' },
        { id: 'q2', type: 'text', text: 'What should we do better?', show_if: 'answers.q1 <= 6' },
        { id: 'q3', type: 'choice', text: 'How did you buy?', options: [{ id: 'web', text: 'Online' }, { id: 'shop', text: 'In a shop' }], required: false },
      ],
    },
  });
  assert.equal(r.status, 201, r.text);
  id = r.json.id;
});

after(() => h.stopDemo(srv, browser));

async function walk(p, name, text) {
  const { page } = p;
  await page.goto(`${srv.url}/s/${id}`);
  await page.getByRole('heading', { name: 'How was your visit?', level: 1 }).waitFor();
  await h.assertLabelled(page);
  // the eleven scores wrap onto two rows on a phone, each a large target
  const boxes = await page.locator('.scale label').evaluateAll((els) => els.map((e) => e.getBoundingClientRect()).map((r) => ({ top: Math.round(r.top), w: r.width, h: r.height })));
  assert.equal(boxes.length, 11);
  assert.equal(new Set(boxes.map((b) => b.top)).size, 2, 'two rows of scores');
  for (const b of boxes) assert.ok(b.w >= 44 && b.h >= 44, `a score's target is ${b.w}×${b.h}`);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), 'wider than the phone');
  await page.screenshot({ path: `${ARTIFACTS}respondent-${name}-page1-390.png`, fullPage: true });

  // sending without a score: the error at the question and in the summary
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('alert').waitFor();
  const err = page.locator('#f-q1-err');
  assert.equal(await err.textContent(), 'Please answer this question.');
  assert.match(await page.locator('#f-q1').getAttribute('aria-describedby'), /f-q1-err/);
  p.allow(/HTTP 400: .*\/s\/\d+$/);
  p.allow(/console: Failed to load resource: the server responded with a status of 400/);

  await page.getByLabel('4', { exact: true }).check();
  await page.getByRole('button', { name: 'Next' }).click();
  const follow = page.getByLabel('What should we do better?');
  await follow.waitFor();
  await h.assertLabelled(page);
  await follow.fill(text);
  await page.getByLabel('In a shop').check();
  await page.screenshot({ path: `${ARTIFACTS}respondent-${name}-page2-390.png`, fullPage: true });
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByRole('heading', { name: 'Thank you', level: 1 }).waitFor();
  await page.screenshot({ path: `${ARTIFACTS}respondent-${name}-thanks-390.png`, fullPage: true });
  assert.deepEqual(p.problems(), []);
}

async function stored(text) {
  const r = await api(srv, `/surveys/${id}/responses`);
  return r.json.responses.filter((x) => x.answers.q2 === text);
}

test('a phone answers the public link: NPS, the follow-up, the thank-you page', async () => {
  const p = await h.openPage(browser, PHONE, { locale: 'en-US' });
  try {
    await walk(p, 'js', 'Faster delivery, please. <b>ok</b>');
    const mine = await stored('Faster delivery, please. <b>ok</b>');
    assert.equal(mine.length, 1);
    assert.deepEqual(mine[0].answers, { q1: 4, q2: 'Faster delivery, please. <b>ok</b>', q3: 'shop' });
    assert.equal(mine[0].complete, true);
  } finally {
    await p.close();
  }
});

test('the same walk with JavaScript disabled', async () => {
  const p = await h.openPage(browser, PHONE, { locale: 'en-US', javaScriptEnabled: false });
  try {
    await walk(p, 'nojs', 'Works without scripts');
    assert.equal((await stored('Works without scripts')).length, 1);
  } finally {
    await p.close();
  }
});

test('a German browser gets the German page', async () => {
  const p = await h.openPage(browser, PHONE, { locale: 'de-DE', extraHTTPHeaders: { 'accept-language': 'de-DE,de;q=0.9' } });
  try {
    await p.page.goto(`${srv.url}/s/${id}`);
    assert.equal(await p.page.getAttribute('html', 'lang'), 'en', 'the survey has English texts only');
    await p.page.goto(`${srv.url}/s/999999`);
    await p.page.getByRole('heading', { name: 'Umfrage nicht gefunden' }).waitFor();
    assert.equal(await p.page.getAttribute('html', 'lang'), 'de');
  } finally {
    await p.close();
  }
});
