// Shared pieces of the journey analytics pages (funnels, retention, paths):
// where the data lies in time and which event names it has, date fields,
// event-name inputs, and the API's 400 shown next to the field it names.
import { h, replace, uid } from './dom';
import { ApiError, get, type EventNames, type Stats } from './api';
import { aborted, errorState, loading } from './ui';

const DAY = 86400000;

interface DataSpan {
  /** every event name sent (GET /events/names), sorted */
  names: string[];
  /** the end of the data (exclusive): just after the newest event, not
   *  past now (a demo made with --end in the past ends there) */
  end: Date;
}

let cached: { at: number; span: DataSpan } | null = null;

/** Where the data ends, and the event names it has. The answer is kept for
 *  a minute, so moving between the analytics pages asks once. */
async function dataSpan(signal: AbortSignal): Promise<DataSpan> {
  if (cached && Date.now() - cached.at < 60000) return cached.span;
  const [n, end] = await Promise.all([get<EventNames>('events/names', {}, { signal }), dataEnd(signal)]);
  const names = [...new Set(n.events.map((e) => e.name))].sort((x, y) => x.localeCompare(y));
  const span = { names, end };
  cached = { at: Date.now(), span };
  return span;
}

/** A page's first answer: unless the address gave a range, the range from
 *  where the data ends (fromOf(end) to its last day; from now when that
 *  cannot be read), the names for the suggestions (when the page has a
 *  `names` list), then run(). */
export function startFromData(
  signal: AbortSignal, names: HTMLDataListElement | null, from: Field<HTMLInputElement>,
  to: Field<HTMLInputElement>, fromOf: (end: Date) => string, run: () => void,
): void {
  const fill = (end: Date): void => {
    if (!from.input.value) from.input.value = fromOf(end);
    if (!to.input.value) to.input.value = dayBefore(end, 0);
    run();
  };
  const end = names
    ? dataSpan(signal).then((s) => {
      fillNames(names, s.names);
      return s.end;
    })
    : dataEnd(signal);
  end.then(fill).catch((e) => {
    if (!aborted(e)) fill(new Date());
  });
}

/** An analytics page's run(): a newer run aborts the one before; the
 *  results show `busy` (the first time, or after an error) or turn stale
 *  until `ask` has put the answer in place; an error goes next to the field
 *  it names (showError), else under the form with a retry. */
export function runner(
  pageSignal: AbortSignal, results: HTMLElement, formErr: HTMLElement, busy: string,
  fields: () => Record<string, Field<HTMLElement> | undefined>, ask: (signal: AbortSignal) => Promise<void>,
): () => Promise<void> {
  let ac: AbortController | null = null;
  const run = async (): Promise<void> => {
    ac?.abort();
    ac = new AbortController();
    const signal = AbortSignal.any([pageSignal, ac.signal]);
    for (const f of Object.values(fields())) f?.error('');
    formErr.replaceChildren();
    results.setAttribute('aria-busy', 'true');
    if (!results.firstChild || results.querySelector('.state')) replace(results, loading(busy));
    else results.classList.add('stale');
    try {
      await ask(signal);
    } catch (e) {
      if (aborted(e)) return;
      replace(results);
      showError(e, fields(), formErr, (x) => errorState(x, () => run()));
    } finally {
      settled(results, signal);
    }
  };
  return run;
}

/** A run has ended (unless a newer one took over): the results are current. */
export function settled(results: HTMLElement, signal: AbortSignal): void {
  if (signal.aborted) return;
  results.setAttribute('aria-busy', 'false');
  results.classList.remove('stale');
}

let endCache: { at: number; end: Date } | null = null;

/** Where the data ends (exclusive): just after the newest event
 *  (`/stats` last_event_at), but not past now; now when there is none.
 *  Kept for a minute, as dataSpan(). */
async function dataEnd(signal: AbortSignal): Promise<Date> {
  if (endCache && Date.now() - endCache.at < 60000) return endCache.end;
  const s = await get<Stats>('stats', {}, { signal });
  const last = s.last_event_at ? Date.parse(s.last_event_at) : NaN;
  const end = new Date(Number.isNaN(last) ? Date.now() : Math.min(last + 1, Date.now()));
  endCache = { at: Date.now(), end };
  return end;
}

/** "2026-11-03" of a time, in UTC. */
function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** The day `days` before the last day of the data (its end is exclusive). */
export function dayBefore(end: Date, days: number): string {
  return isoDay(new Date(end.getTime() - 1 - days * DAY));
}

/** The first day of the month `months` before the month of `end`'s last day. */
export function monthStartBefore(end: Date, months: number): string {
  const last = new Date(end.getTime() - 1);
  return isoDay(new Date(Date.UTC(last.getUTCFullYear(), last.getUTCMonth() - months, 1)));
}

/** The range asked for the date fields: from the start of the first day to
 *  the end of the last (UTC), but not past now. */
export function rangeOf(fromDay: string, toDay: string): { from: string; to: string } {
  const from = `${fromDay}T00:00:00Z`;
  const toMs = Date.parse(`${toDay}T00:00:00Z`) + DAY;
  const to = Number.isNaN(toMs) ? `${toDay}T00:00:00Z` : new Date(Math.min(toMs, Date.now())).toISOString();
  return { from, to };
}

/** A labelled form field whose input can show the server's error under it. */
export interface Field<E extends HTMLElement = HTMLInputElement> {
  el: HTMLElement;
  input: E;
  /** shows a message under the field (empty: clears it) */
  error(message: string): void;
}

export function field<E extends HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>(
  label: string | Node, input: E, opts: { cls?: string; help?: string } = {},
): Field<E> {
  if (!input.id) input.id = uid('f');
  const err = h('p', { class: 'field-error', id: `${input.id}-err`, hidden: true });
  const help = opts.help ? h('p', { class: 'help', id: `${input.id}-help` }, opts.help) : null;
  if (help) input.setAttribute('aria-describedby', help.id);
  const el = h('div', { class: `field ${opts.cls ?? ''}`.trim() }, h('label', { for: input.id }, label), input, help, err);
  return {
    el,
    input,
    error(message: string) {
      err.textContent = message;
      err.hidden = !message;
      if (message) {
        input.setAttribute('aria-invalid', 'true');
        input.setAttribute('aria-describedby', [err.id, help?.id].filter(Boolean).join(' '));
      } else {
        input.removeAttribute('aria-invalid');
        if (help) input.setAttribute('aria-describedby', help.id);
        else input.removeAttribute('aria-describedby');
      }
    },
  };
}

/** A text input for an event name, suggesting the names in `list`. */
export function eventInput(value: string, list: HTMLDataListElement, name: string): HTMLInputElement {
  return h('input', {
    type: 'text', name, value, list: list.id, autocomplete: 'off', spellcheck: 'false', required: true,
    placeholder: 'e.g. Order Completed',
  });
}

/** The <datalist> of event names; filled when the names arrive. */
export function namesList(): HTMLDataListElement {
  return h('datalist', { id: uid('events') });
}

function fillNames(list: HTMLDataListElement, names: string[]): void {
  list.replaceChildren(...names.map((n) => h('option', { value: n })));
}

export function dateInput(value: string, name: string): HTMLInputElement {
  return h('input', { type: 'date', name, value, required: true });
}

/** Shows an API error: next to the field it names when the form has that
 *  field, else in `box`. Returns true when a field took it. */
export function showError(
  e: unknown, fields: Record<string, Field<HTMLElement> | undefined>, box: HTMLElement,
  fallback: (e: unknown) => HTMLElement,
): boolean {
  for (const f of Object.values(fields)) f?.error('');
  box.replaceChildren();
  if (e instanceof ApiError && e.status === 400 && e.field) {
    const f = fields[normalField(e.field)];
    if (f) {
      f.error(e.message); // written for people: "Step 2's rule: at 16: expected …"
      f.input.focus();
      return true;
    }
  }
  box.append(fallback(e));
  return false;
}

/** "steps[1].where", "steps.1.where" and "steps/1/where" all read as
 *  "steps.1.where". */
export function normalField(f: string): string {
  return f.replace(/\[(\d+)\]/g, '.$1').replace(/\//g, '.').replace(/^\.+/, '');
}

/** A duration for people: "45 s", "12 min", "3.5 h", "2.1 days". */
export function fmtDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  const one = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86400) return `${one.format(seconds / 3600)} h`;
  return `${one.format(seconds / 86400)} days`;
}

/** The text of a range for the page's subtitle: "Oct 4 – Nov 2, 2026 (UTC)". */
export function rangeText(from: string, to: string): string {
  const day = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });
  const a = new Date(from);
  const b = new Date(Date.parse(to) - 1);
  if (Number.isNaN(a.getTime()) || Number.isNaN(b.getTime()) || b < a) return '';
  return `${day.formatRange(a, b)} (UTC)`;
}
