// Sending a survey by e-mail (docs/distribution.md), on a survey's page:
// its distributions with their counts and response rate (a row opens its
// invitations, a page at a time), the form that sends one to a segment or
// a list of customers, its triggers (an invitation some time after a
// tracked event) with their form and delete, and a notice when the server
// has no --smtp (mail stays queued). And the listening settings card of
// the Surveys list: contact fatigue and the public URL of the links.
//
// Every refusal of the API goes under the field it names; what is not a
// field's goes under the form.
import { h, replace, uid } from '../dom';
import {
  ApiError, del, get, post, put,
  type Distribution, type DistributionDetail, type DistributionDoc, type DistributionSent, type EventNames,
  type OutboxList, type Segment, type SkipReason, type Survey, type SurveySettings, type SurveyTrigger,
} from '../api';
import { fmtInt, fmtPercent, time } from '../format';
import { aborted, emptyState, errorState, loading } from '../ui';
import type { PageContext } from '../router';
import { field, type Field } from '../analytics';

const INVITATIONS_PAGE = 25;
/** While mails are still queued the list is asked again this often. */
const POLL_MS = 2000;

const SKIPS: { id: SkipReason; label: string }[] = [
  { id: 'no_email', label: 'no e-mail' },
  { id: 'fatigue', label: 'contacted recently (fatigue)' },
  { id: 'unsubscribed', label: 'unsubscribed' },
  { id: 'no_consent', label: 'no consent' },
  { id: 'unknown', label: 'unknown customer' },
  { id: 'duplicate', label: 'duplicate' },
];

export const TEMPLATE = 'Hi,\n\nWe would love to hear how we are doing. It takes two minutes:\n\n{{link}}\n\nThank you!\n\nNo more survey invitations: {{unsubscribe}}';
const TEMPLATE_HELP = 'Plain text. {{link}} (required) becomes the customer’s personal link, {{survey}} the survey’s name, {{unsubscribe}} a link to stop survey invitations.';

const base = (s: Survey): string => `surveys/${encodeURIComponent(s.id)}`;

/** "2 skipped: 1 no e-mail, 1 unknown customer", or "none skipped". */
export function skippedWords(skipped: Partial<Record<SkipReason, number>>): string {
  const parts = SKIPS.filter((k) => (skipped[k.id] ?? 0) > 0).map((k) => `${fmtInt(skipped[k.id] ?? 0)} ${k.label}`);
  const total = SKIPS.reduce((n, k) => n + (skipped[k.id] ?? 0), 0);
  return total ? `${fmtInt(total)} skipped: ${parts.join(', ')}` : 'none skipped';
}

const rate = (r: number | null): string => (r === null ? '—' : fmtPercent(r));

/** responded / invited as a bar, its words beside it for who cannot see it. */
function progress(responded: number, invited: number): HTMLElement {
  const share = invited ? Math.min(1, responded / invited) : 0;
  return h('div', { class: 'dist-progress', role: 'img', 'aria-label': `${fmtInt(responded)} of ${fmtInt(invited)} responded` },
    h('span', { class: 'dist-progress-bar', style: `width:${(share * 100).toFixed(1)}%` }));
}

function refusedBox(e: unknown, retry?: () => void): HTMLElement {
  const box = errorState(e, retry);
  if (e instanceof ApiError && e.status === 403) {
    box.append(h('p', { class: 'muted' }, 'Sending surveys, triggers and settings are changed with the admin token; this token can only read them.'));
  }
  return box;
}

/** "to.customers[0] is …" under the field reads "Is …". */
function under(message: string, f: string): string {
  for (const prefix of [`${f}: `, `${f} `]) {
    if (f && message.startsWith(prefix)) {
      const rest = message.slice(prefix.length);
      return rest.charAt(0).toUpperCase() + rest.slice(1);
    }
  }
  return message;
}

/** Puts a 400/409 under the field `pick` finds for its field name; else
 *  under the form. */
function placeError(e: unknown, pick: (f: string) => Field<HTMLElement> | null | undefined, formErr: HTMLElement): void {
  if (e instanceof ApiError && (e.status === 400 || e.status === 409) && e.field) {
    const f = pick(e.field);
    if (f) {
      f.error(under(e.message, e.field));
      f.input.focus();
      return;
    }
  }
  formErr.append(refusedBox(e));
}

// ------------------------------------------------------ survey's page --

/** The cards of a survey's page: the mail notice, distributions, the send
 *  form and the triggers. */
export function distributionSection(s: Survey, ctx: PageContext): HTMLElement {
  const notice = h('div', { class: 'mail-notice' });
  const listBox = h('div', { class: 'dist-list', 'aria-live': 'polite' });
  const detail = h('div', { class: 'dist-detail' });
  let timer = 0;
  ctx.signal.addEventListener('abort', () => clearTimeout(timer));

  let opened: string | null = null;
  async function loadList(): Promise<void> {
    clearTimeout(timer);
    if (!listBox.firstChild) listBox.append(loading('Loading distributions…'));
    try {
      const { distributions } = await get<{ distributions: Distribution[] }>(`${base(s)}/distributions`, {}, { signal: ctx.signal });
      renderList(distributions);
      // mails still queued: their sent / failed change soon
      if (distributions.some((d) => d.sent + d.failed < d.invited) && !ctx.signal.aborted && listBox.isConnected) timer = window.setTimeout(loadList, POLL_MS);
    } catch (e) {
      if (aborted(e)) return;
      replace(listBox, errorState(e, () => loadList()));
    }
  }

  function renderList(list: Distribution[]): void {
    if (!list.length) {
      replace(listBox, emptyState('Not sent yet.', 'Send the survey to a segment or a list of customers with the form below.'));
      return;
    }
    replace(listBox, h('div', { class: 'table-wrap' }, h('table', { class: 'table dist-table stack-sm' },
      h('caption', { class: 'sr-only' }, 'Distributions, newest first'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Distribution'), h('th', { scope: 'col' }, 'Created'),
        h('th', { scope: 'col', class: 'num' }, 'Invited'), h('th', { scope: 'col', class: 'num' }, 'Sent'),
        h('th', { scope: 'col', class: 'num' }, 'Failed'), h('th', { scope: 'col', class: 'num' }, 'Reminded'),
        h('th', { scope: 'col', class: 'num' }, 'Responded'), h('th', { scope: 'col', class: 'num' }, 'Response rate'),
        h('th', { scope: 'col' }, 'Skipped'))),
      h('tbody', null, list.map((d) => {
        const open = h('button', { type: 'button', class: 'linkish strong', 'aria-expanded': String(opened === d.id), 'aria-controls': 'dist-detail' }, d.name);
        open.addEventListener('click', () => {
          opened = opened === d.id ? null : d.id;
          for (const b of listBox.querySelectorAll('button[aria-expanded]')) b.setAttribute('aria-expanded', 'false');
          open.setAttribute('aria-expanded', String(opened === d.id));
          if (opened) showDetail(d.id, 0, [null]);
          else replace(detail);
        });
        return h('tr', { 'data-id': d.id },
          h('th', { scope: 'row', class: 'cell-full' }, open, h('div', { class: 'muted small' }, d.subject)),
          h('td', { 'data-label': 'Created', class: 'nowrap' }, time(d.created_at, 'short')),
          h('td', { class: 'num dist-invited', 'data-label': 'Invited' }, fmtInt(d.invited)),
          h('td', { class: 'num dist-sent', 'data-label': 'Sent' }, fmtInt(d.sent)),
          h('td', { class: 'num dist-failed', 'data-label': 'Failed' }, fmtInt(d.failed)),
          h('td', { class: 'num dist-reminded', 'data-label': 'Reminded' }, fmtInt(d.reminded)),
          h('td', { class: 'num dist-responded', 'data-label': 'Responded' }, fmtInt(d.responded)),
          h('td', { class: 'num dist-rate', 'data-label': 'Response rate' }, rate(d.response_rate), progress(d.responded, d.invited)),
          h('td', { class: 'dist-skipped small', 'data-label': 'Skipped' }, skippedWords(d.skipped)));
      })))));
  }

  async function showDetail(did: string, page: number, cursors: (string | null)[]): Promise<void> {
    if (!detail.firstChild) detail.append(loading('Loading invitations…'));
    else detail.classList.add('stale');
    try {
      const d = await get<DistributionDetail>(`${base(s)}/distributions/${encodeURIComponent(did)}`,
        { limit: INVITATIONS_PAGE, cursor: cursors[page] ?? null }, { signal: ctx.signal });
      if (opened !== did) return;
      cursors[page + 1] = d.next_cursor;
      detail.classList.remove('stale');
      const prev = h('button', { type: 'button', class: 'btn', disabled: page === 0 }, '← Newer');
      const next = h('button', { type: 'button', class: 'btn', disabled: d.next_cursor === null }, 'Older →');
      prev.addEventListener('click', () => showDetail(did, page - 1, cursors));
      next.addEventListener('click', () => showDetail(did, page + 1, cursors));
      replace(detail, h('section', { class: 'dist-open', 'aria-labelledby': 'h-dist-open' },
        h('h3', { id: 'h-dist-open' }, `Invitations of “${d.name}”`),
        h('p', { class: 'muted small' }, `Subject “${d.subject}” · link expires after ${d.expires_in ?? '30d'}`,
          d.reminder_after ? ` · one reminder after ${d.reminder_after}` : ' · no reminder'),
        d.invitations.length
          ? h('div', { class: 'table-wrap' }, h('table', { class: 'table invitations-table stack-sm' },
            h('caption', { class: 'sr-only' }, `Invitations of ${d.name}`),
            h('thead', null, h('tr', null,
              h('th', { scope: 'col' }, 'E-mail'), h('th', { scope: 'col' }, 'Customer'), h('th', { scope: 'col' }, 'Status'),
              h('th', { scope: 'col' }, 'Delivery'), h('th', { scope: 'col' }, 'Sent'), h('th', { scope: 'col' }, 'Reminded'),
              h('th', { scope: 'col' }, 'Responded'))),
            h('tbody', null, d.invitations.map((i) => h('tr', { 'data-id': i.id },
              h('td', { class: 'cell-full inv-email' }, i.email ?? '—'),
              h('td', { 'data-label': 'Customer' }, h('a', { href: `#/customers/${encodeURIComponent(i.customer_id)}` }, `Customer ${i.customer_id}`)),
              h('td', { 'data-label': 'Status' }, i.status),
              h('td', { 'data-label': 'Delivery', class: 'inv-delivery' }, i.delivery ?? '—'),
              h('td', { 'data-label': 'Sent' }, time(i.sent_at, 'short')),
              h('td', { 'data-label': 'Reminded' }, time(i.reminded_at, 'short')),
              h('td', { 'data-label': 'Responded', class: 'inv-responded' }, i.responded ? 'Yes' : 'No'))))))
          : emptyState('No invitations.', 'Everyone was skipped.'),
        page > 0 || d.next_cursor !== null
          ? h('nav', { class: 'pager', 'aria-label': 'Pages of invitations' }, prev, h('span', { class: 'muted' }, `Page ${page + 1}`), next)
          : null));
    } catch (e) {
      if (aborted(e)) return;
      detail.classList.remove('stale');
      replace(detail, errorState(e, () => showDetail(did, page, cursors)));
    }
  }

  get<OutboxList>('outbox', { limit: 1 }, { signal: ctx.signal }).then((o) => {
    if (!o.mail_configured) {
      replace(notice, h('p', { class: 'notice warn mail-off', role: 'status' },
        h('strong', null, 'E-mail is not configured. '),
        'Invitations are recorded and their mails stay queued in the outbox until the server runs with ',
        h('code', null, '--smtp'), ' and ', h('code', null, '--mail-from'), '; they go out then. See “Configuring e-mail” in ', h('code', null, 'docs/outbox.md'), '.'));
    }
  }).catch(() => { /* the notice is a help; the outbox may be out of this token's reach */ });

  loadList();
  return h('div', { class: 'distribution' },
    h('section', { class: 'card', 'aria-labelledby': 'h-dist' },
      h('h2', { id: 'h-dist' }, 'Distribution'),
      h('p', { class: 'muted small' }, 'Personal links sent by e-mail. Each customer gets at most one invitation in the fatigue window (Surveys › Settings); answers through a link count towards its distribution’s response rate.'),
      notice, listBox, h('div', { id: 'dist-detail' }, detail)),
    sendCard(s, ctx, () => loadList()),
    triggersCard(s, ctx));
}

// ------------------------------------------------------------ sending --

function sendCard(s: Survey, ctx: PageContext, sent: () => void): HTMLElement {
  const nameF = field('Name', h('input', { type: 'text', name: 'dist_name', maxlength: 100, autocomplete: 'off', placeholder: 'e.g. Q4 relationship NPS' }), { cls: 'grow' });
  const subjectF = field('Subject', h('input', { type: 'text', name: 'subject', maxlength: 255, autocomplete: 'off', value: `${s.name}: two minutes?` }), { cls: 'grow' });
  const bodyIn = h('textarea', { name: 'body', rows: 8, maxlength: 20000, class: 'mono-input' });
  bodyIn.value = TEMPLATE;
  const bodyF = field('Message', bodyIn, { cls: 'grow', help: TEMPLATE_HELP });

  const kind = uid('to');
  const segRadio = h('input', { type: 'radio', name: kind, id: `${kind}-seg`, value: 'segment' });
  const listRadio = h('input', { type: 'radio', name: kind, id: `${kind}-list`, value: 'list', checked: true });
  const segSel = h('select', { name: 'segment' }, h('option', { value: '' }, 'Loading segments…'));
  const segF = field('Segment', segSel, { cls: 'grow', help: 'Its members now (at most 10,000).' });
  const listIn = h('textarea', { name: 'recipients', rows: 4, spellcheck: 'false', class: 'mono-input', placeholder: 'u-42\nada@example.com' });
  const listF = field('User ids or e-mails', listIn, { cls: 'grow', help: 'One user id or e-mail per line (at most 10,000).' });
  const toBox = h('div', { class: 'form-row' });
  const showTo = (): void => replace(toBox, segRadio.checked ? segF.el : listF.el);
  segRadio.addEventListener('change', showTo);
  listRadio.addEventListener('change', showTo);
  showTo();
  get<{ segments: Segment[] }>('segments', {}, { signal: ctx.signal }).then(({ segments }) => {
    replace(segSel, segments.length
      ? segments.map((g) => h('option', { value: g.id }, `${g.name} (${fmtInt(g.size)})`))
      : h('option', { value: '' }, 'No segments yet'));
  }).catch((e) => {
    if (!aborted(e)) replace(segSel, h('option', { value: '' }, 'The segments could not be loaded'));
  });

  const remF = field('Reminder after', h('input', { type: 'text', name: 'reminder_after', maxlength: 12, autocomplete: 'off', spellcheck: 'false', class: 'short', placeholder: '3d' }),
    { help: 'Optional: one reminder to who has not answered, e.g. 3d.' });
  const expF = field('Links valid for', h('input', { type: 'text', name: 'expires_in', maxlength: 12, autocomplete: 'off', spellcheck: 'false', class: 'short', value: '30d' }),
    { help: 'How long the links work (they expire after); at most 366d.' });

  const send = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Send');
  const formErr = h('div', { class: 'form-alert' });
  const out = h('div', { class: 'send-out', 'aria-live': 'polite' });
  const form = h('form', { class: 'builder send-form', 'aria-label': 'Send a distribution', novalidate: true },
    s.status !== 'live' ? h('p', { class: 'notice' }, s.status === 'draft' ? 'This survey is a draft: publish it to send it.' : 'This survey is closed: reopen it to send it.') : null,
    h('div', { class: 'form-row' }, nameF.el, subjectF.el),
    h('div', { class: 'form-row' }, bodyF.el),
    h('fieldset', { class: 'to-pick' }, h('legend', null, 'Recipients'),
      h('div', { class: 'toolbar' },
        h('span', { class: 'radio' }, listRadio, h('label', { for: listRadio.id }, 'A list of customers')),
        h('span', { class: 'radio' }, segRadio, h('label', { for: segRadio.id }, 'A segment'))),
      toBox),
    h('div', { class: 'form-row' }, remF.el, expF.el),
    h('div', { class: 'form-actions' }, send),
    formErr, out);

  const all = [nameF, subjectF, bodyF, segF, listF, remF, expF];
  const pick = (f: string): Field<HTMLElement> | null => {
    if (f === 'name') return nameF;
    if (f === 'subject') return subjectF;
    if (f === 'body') return bodyF;
    if (f === 'reminder_after') return remF;
    if (f === 'expires_in') return expF;
    if (f.startsWith('to')) return segRadio.checked ? segF : listF;
    return null;
  };
  let busy = false;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (busy) return;
    for (const f of all) f.error('');
    formErr.replaceChildren();
    replace(out);
    const name = nameF.input.value.trim();
    if (!name) {
      nameF.error('Give the distribution a name, to find it in the list.');
      nameF.input.focus();
      return;
    }
    let to: DistributionDoc['to'];
    if (segRadio.checked) {
      if (!segSel.value) {
        segF.error('Pick a segment.');
        segSel.focus();
        return;
      }
      to = { segment: segSel.value };
    } else {
      const lines = listIn.value.split('\n').map((x) => x.trim()).filter(Boolean);
      if (!lines.length) {
        listF.error('Give at least one user id or e-mail, one per line.');
        listIn.focus();
        return;
      }
      to = { customers: lines.map((x) => (x.includes('@') ? { email: x } : { user_id: x })) };
    }
    const body: DistributionDoc = { name, subject: subjectF.input.value.trim(), body: bodyIn.value, to };
    const rem = remF.input.value.trim();
    if (rem) body.reminder_after = rem;
    const exp = expF.input.value.trim();
    if (exp) body.expires_in = exp;
    busy = true;
    send.disabled = true;
    send.textContent = 'Sending…';
    try {
      const r = await post<DistributionSent>(`${base(s)}/distributions`, body, { signal: ctx.signal });
      replace(out, h('p', { class: 'notice sent-counts', role: 'status' },
        h('strong', null, `“${name}”: ${fmtInt(r.invited)} ${r.invited === 1 ? 'customer' : 'customers'} invited`), `, ${skippedWords(r.skipped)}.`,
        r.invited ? ' The mails are in the outbox; the list shows when they are sent.' : ''));
      nameF.input.value = '';
      sent();
    } catch (e) {
      if (aborted(e)) return;
      placeError(e, pick, formErr);
    } finally {
      busy = false;
      send.disabled = false;
      send.textContent = 'Send';
    }
  });
  return h('section', { class: 'card', 'aria-labelledby': 'h-send' },
    h('h2', { id: 'h-send' }, 'Send a distribution'),
    h('p', { class: 'muted small' }, 'Skipped, with the reason: unknown customers, duplicates, no e-mail, no consent (trait survey_consent false or unsubscribed true), addresses that unsubscribed, and customers invited within the fatigue window.'),
    form);
}

// ------------------------------------------------------------ triggers --

function triggersCard(s: Survey, ctx: PageContext): HTMLElement {
  const listBox = h('div', { class: 'trigger-list', 'aria-live': 'polite' });
  const msg = h('div', { class: 'action-msg' });

  async function load(): Promise<void> {
    if (!listBox.firstChild) listBox.append(loading('Loading triggers…'));
    try {
      const { triggers } = await get<{ triggers: SurveyTrigger[] }>(`${base(s)}/triggers`, {}, { signal: ctx.signal });
      render(triggers);
    } catch (e) {
      if (aborted(e)) return;
      replace(listBox, errorState(e, () => load()));
    }
  }

  function render(list: SurveyTrigger[]): void {
    if (!list.length) {
      replace(listBox, emptyState('No triggers.', 'A trigger sends the survey some time after an event, such as CES 2 hours after “Order Completed”.'));
      return;
    }
    replace(listBox, h('div', { class: 'table-wrap' }, h('table', { class: 'table trigger-table stack-sm' },
      h('caption', { class: 'sr-only' }, 'Triggers'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Event'), h('th', { scope: 'col' }, 'Delay'), h('th', { scope: 'col' }, 'Where'),
        h('th', { scope: 'col' }, 'Subject'), h('th', { scope: 'col', class: 'num' }, 'Scheduled'),
        h('th', { scope: 'col', class: 'num' }, 'Invited'), h('th', { scope: 'col', class: 'num' }, 'Response rate'),
        h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
      h('tbody', null, list.map((t) => {
        const delBtn = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'aria-label': `Delete the trigger on ${t.event}`, 'aria-expanded': 'false' }, 'Delete');
        const confirmBox = h('div', { class: 'confirm', hidden: true, role: 'group', 'aria-label': `Confirm deleting the trigger on ${t.event}` });
        const yes = h('button', { type: 'button', class: 'btn btn-danger' }, 'Delete trigger');
        const no = h('button', { type: 'button', class: 'btn' }, 'Cancel');
        const err = h('div');
        replace(confirmBox, h('p', null, h('strong', null, `Delete the trigger on “${t.event}”?`),
          ' It stops, and the invitations it scheduled and has not sent are cancelled.'),
        h('div', { class: 'form-actions' }, yes, no), err);
        delBtn.addEventListener('click', () => { confirmBox.hidden = false; delBtn.setAttribute('aria-expanded', 'true'); no.focus(); });
        no.addEventListener('click', () => { confirmBox.hidden = true; err.replaceChildren(); delBtn.setAttribute('aria-expanded', 'false'); delBtn.focus(); });
        yes.addEventListener('click', async () => {
          yes.disabled = true;
          err.replaceChildren();
          try {
            await del(`${base(s)}/triggers/${encodeURIComponent(t.id)}`, { signal: ctx.signal });
            replace(msg, h('p', { class: 'form-msg info', role: 'status' }, `Deleted the trigger on “${t.event}”.`));
            await load();
          } catch (e) {
            if (aborted(e)) return;
            err.append(refusedBox(e));
            yes.disabled = false;
          }
        });
        return h('tr', { 'data-id': t.id },
          h('th', { scope: 'row', class: 'cell-full' }, h('span', { class: 'strong trigger-event' }, t.event), t.name ? h('div', { class: 'muted small' }, t.name) : null),
          h('td', { 'data-label': 'Delay' }, t.delay ?? '0s'),
          h('td', { 'data-label': 'Where' }, t.where ? h('code', null, t.where) : h('span', { class: 'muted' }, 'every one')),
          h('td', { 'data-label': 'Subject' }, t.subject),
          h('td', { class: 'num', 'data-label': 'Scheduled' }, fmtInt(t.scheduled)),
          h('td', { class: 'num', 'data-label': 'Invited' }, fmtInt(t.invited)),
          h('td', { class: 'num', 'data-label': 'Response rate' }, rate(t.response_rate)),
          h('td', { class: 'cell-full' }, delBtn, confirmBox));
      })))));
  }

  // the form
  const names = h('datalist', { id: uid('events') });
  const eventF = field('Event', h('input', { type: 'text', name: 'event', maxlength: 255, autocomplete: 'off', spellcheck: 'false', list: names.id, placeholder: 'Order Completed' }),
    { cls: 'grow', help: 'The track event that starts the wait.' });
  const delayF = field('Delay', h('input', { type: 'text', name: 'delay', maxlength: 12, autocomplete: 'off', spellcheck: 'false', class: 'short', value: '2h' }),
    { help: 'e.g. 30m, 2h, 1d; 0s: at once.' });
  const whereF = field('Where', h('input', { type: 'text', name: 'where', autocomplete: 'off', spellcheck: 'false', class: 'mono-input', placeholder: 'event.properties.revenue > 50' }),
    { cls: 'grow', help: 'Optional: a rule on the event (event.name, event.timestamp, event.properties.…; docs/rules.md).' });
  const subjectF = field('Subject', h('input', { type: 'text', name: 'trigger_subject', maxlength: 255, autocomplete: 'off', value: 'How did it go?' }), { cls: 'grow' });
  const bodyIn = h('textarea', { name: 'trigger_body', rows: 6, maxlength: 20000, class: 'mono-input' });
  bodyIn.value = TEMPLATE;
  const bodyF = field('Message', bodyIn, { cls: 'grow', help: TEMPLATE_HELP });
  get<EventNames>('events/names', {}, { signal: ctx.signal }).then((n) => {
    const list = [...new Set(n.events.filter((e) => e.type === 'track').map((e) => e.name))].sort((a, b) => a.localeCompare(b));
    replace(names, list.map((x) => h('option', { value: x })));
  }).catch(() => { /* the names only help typing */ });
  const add = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add trigger');
  const formErr = h('div', { class: 'form-alert' });
  const form = h('form', { class: 'builder trigger-form', 'aria-label': 'Add a trigger', novalidate: true },
    h('div', { class: 'form-row' }, eventF.el, delayF.el),
    h('div', { class: 'form-row' }, whereF.el),
    h('div', { class: 'form-row' }, subjectF.el),
    h('div', { class: 'form-row' }, bodyF.el),
    names,
    h('div', { class: 'form-actions' }, add), formErr);
  const fields: Record<string, Field<HTMLElement>> = { event: eventF, delay: delayF, where: whereF, subject: subjectF, body: bodyF };
  let busy = false;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (busy) return;
    for (const f of Object.values(fields)) f.error('');
    formErr.replaceChildren();
    msg.replaceChildren();
    const event = eventF.input.value.trim();
    if (!event) {
      eventF.error('Name the event that starts the wait.');
      eventF.input.focus();
      return;
    }
    const body: Record<string, string> = { event, subject: subjectF.input.value.trim(), body: bodyIn.value };
    const delay = delayF.input.value.trim();
    if (delay) body.delay = delay;
    const where = whereF.input.value.trim();
    if (where) body.where = where;
    busy = true;
    add.disabled = true;
    try {
      const t = await post<SurveyTrigger>(`${base(s)}/triggers`, body, { signal: ctx.signal });
      replace(msg, h('p', { class: 'form-msg info', role: 'status' }, `Added: “${t.event}” sends the survey ${t.delay && t.delay !== '0s' ? `${t.delay} after` : 'at'} each such event from now on.`));
      eventF.input.value = '';
      whereF.input.value = '';
      await load();
    } catch (e) {
      if (aborted(e)) return;
      placeError(e, (f) => fields[f], formErr);
    } finally {
      busy = false;
      add.disabled = false;
    }
  });
  load();
  return h('section', { class: 'card', 'aria-labelledby': 'h-triggers' },
    h('h2', { id: 'h-triggers' }, 'Triggers'),
    h('p', { class: 'muted small' }, 'Send this survey some time after a tracked event, to the customer who did it (from now on: older events are not read). The skips and fatigue of a distribution apply.'),
    listBox, msg,
    h('h3', { class: 'h-sub' }, 'Add a trigger'),
    form);
}

// ------------------------------------------------------------ settings --

/** Contact fatigue and the public URL of the links (GET/PUT
 *  /survey-settings), for the Surveys list. */
export function settingsCard(ctx: PageContext): HTMLElement {
  const fatigueF = field('Fatigue (days)', h('input', { type: 'number', name: 'fatigue_days', min: 0, max: 365, step: 1, class: 'short' }),
    { help: 'At most one invitation per customer in this many days, over all surveys; 0 turns it off.' });
  const urlF = field('Public URL of the links', h('input', { type: 'url', name: 'public_url', autocomplete: 'off', spellcheck: 'false', placeholder: 'https://cx.example.com' }),
    { cls: 'grow', help: 'The base of the links in the mails (http or https, no query); set it when the server is behind a proxy.' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save settings');
  const formErr = h('div', { class: 'form-alert' });
  const said = h('div', { 'aria-live': 'polite' });
  const fields: Record<string, Field<HTMLElement>> = { fatigue_days: fatigueF, public_url: urlF };
  const form = h('form', { class: 'builder settings-form', 'aria-label': 'Survey settings', novalidate: true },
    h('div', { class: 'form-row' }, fatigueF.el, urlF.el, h('div', { class: 'form-actions align-end' }, save)),
    formErr, said);
  const box = h('div', null, loading('Loading settings…'));
  get<SurveySettings>('survey-settings', {}, { signal: ctx.signal }).then((st) => {
    fatigueF.input.value = String(st.fatigue_days);
    urlF.input.value = st.public_url;
    replace(box, form);
  }).catch((e) => {
    if (!aborted(e)) replace(box, errorState(e));
  });
  let busy = false;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (busy) return;
    for (const f of Object.values(fields)) f.error('');
    formErr.replaceChildren();
    replace(said);
    const days = fatigueF.input.value.trim();
    if (!/^\d+$/.test(days)) {
      fatigueF.error('A whole number of days, 0 to 365.');
      fatigueF.input.focus();
      return;
    }
    busy = true;
    save.disabled = true;
    try {
      const st = await put<SurveySettings>('survey-settings', { fatigue_days: Number(days), public_url: urlF.input.value.trim() }, { signal: ctx.signal });
      fatigueF.input.value = String(st.fatigue_days);
      urlF.input.value = st.public_url;
      replace(said, h('p', { class: 'form-msg info', role: 'status' },
        `Saved: ${st.fatigue_days ? `at most one invitation per customer every ${fmtInt(st.fatigue_days)} ${st.fatigue_days === 1 ? 'day' : 'days'}` : 'no fatigue limit'}; links start with ${st.public_url}.`));
    } catch (e) {
      if (aborted(e)) return;
      placeError(e, (f) => fields[f], formErr);
    } finally {
      busy = false;
      save.disabled = false;
    }
  });
  return h('section', { class: 'card settings-card', 'aria-labelledby': 'h-settings' },
    h('h2', { id: 'h-settings' }, 'Settings for sending surveys'), box);
}
