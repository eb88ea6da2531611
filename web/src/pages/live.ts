// Live events: the newest events, polled every 2 s with
// GET /api/v1/events?after=<seq>, newest on top; pause/resume, a source
// filter, and per-source counts since the page opened.
import { h, replace } from '../dom';
import { get, type LiveEvent, type LiveEventList, type Source } from '../api';
import { fmtInt, time } from '../format';
import { aborted, emptyState, errorState, pageHeader, typeBadge } from '../ui';
import { setQuery, type PageContext } from '../router';

const POLL_MS = 2000;
const KEEP = 500; // events kept in the page
const PAGE = 200; // events per request
const MAX_PAGES = 5; // per poll: a burst larger than this is cut (and said)

export function livePage(main: HTMLElement, ctx: PageContext): void {
  const pause = h('button', { type: 'button', class: 'btn', 'aria-pressed': 'false' }, 'Pause');
  const sourceSel = h('select', { id: 'live-source' }, h('option', { value: '' }, 'All sources'));
  const controls = h('div', { class: 'toolbar' },
    h('div', { class: 'field inline' }, h('label', { for: 'live-source' }, 'Source'), sourceSel),
    pause);
  const status = h('p', { class: 'live-status muted' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), 'Connecting…');
  const counters = h('ul', { class: 'counters', 'aria-label': 'Events since this page opened, by source' });
  const errBox = h('div');
  const tbody = h('tbody');
  const table = h('table', { class: 'table live-table stack-sm' },
    h('caption', { class: 'sr-only' }, 'Latest events, newest first'),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Received'), h('th', { scope: 'col', class: 'hide-sm' }, 'Event time'),
      h('th', { scope: 'col' }, 'Source'), h('th', { scope: 'col' }, 'Type'),
      h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Customer'))),
    tbody);
  table.hidden = true; // until there are rows
  const empty = h('div');
  main.append(
    pageHeader('Live events', 'What arrives, as it arrives. Newest on top.', controls),
    h('div', { class: 'card live-card' }, h('div', { class: 'live-head' }, status, counters), errBox,
      h('div', { class: 'table-wrap' }, table), empty));

  const initialSource = ctx.query.get('source') ?? '';
  let events: (LiveEvent & { fresh?: boolean })[] = [];
  const counts = new Map<string, number>();
  let after: bigint | null = null;
  let paused = false;
  let timer = 0;
  let running = false;

  get<{ sources: Source[] }>('sources', {}, { signal: ctx.signal }).then((r) => {
    for (const s of r.sources) sourceSel.append(h('option', { value: s.name, selected: s.name === initialSource }, s.name));
  }).catch(() => { /* the filter still lists sources seen in events */ });
  sourceSel.addEventListener('change', () => {
    const q = new URLSearchParams();
    if (sourceSel.value) q.set('source', sourceSel.value);
    setQuery(q);
    draw();
  });
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(paused));
    if (paused) {
      clearTimeout(timer);
      setStatus('Paused. Events that arrive meanwhile are shown on resume.', 'paused');
    } else poll();
  });
  ctx.signal.addEventListener('abort', () => clearTimeout(timer));

  function setStatus(text: string, state: 'live' | 'paused' | 'error'): void {
    status.className = `live-status ${state}`;
    replace(status, h('span', { class: 'dot', 'aria-hidden': 'true' }), text);
  }

  /** One poll: every event after `after`, following next_cursor for a
   *  burst. The first poll fetches the latest page as a backlog, which
   *  is not counted. */
  async function poll(): Promise<void> {
    clearTimeout(timer);
    if (running) return; // the poll in flight schedules the next one
    running = true;
    const first = after === null;
    try {
      const got: LiveEvent[] = [];
      let cursor: string | null = null;
      let last: string | null = null;
      let pages = 0;
      do {
        const r: LiveEventList = await get<LiveEventList>('events', {
          limit: first ? 50 : PAGE, after: first ? null : String(after), cursor,
        }, { signal: ctx.signal });
        got.push(...r.events);
        last = r.last_seq;
        cursor = first ? null : r.next_cursor;
      } while (cursor && ++pages < MAX_PAGES);
      // The next `after`: the newest seq received; on an empty answer the
      // server's last_seq only for the first poll (later ones keep theirs,
      // so an event committed meanwhile is not skipped).
      const newest = got.reduce<bigint | null>((m, e) => (m === null || BigInt(e.seq) > m ? BigInt(e.seq) : m), null);
      if (newest !== null) after = after === null || newest > after ? newest : after;
      else if (after === null) after = last ? BigInt(last) : 0n;
      // A store that went back (a new data directory): follow it.
      if (last !== null && after !== null && BigInt(last) < after) after = BigInt(last);
      if (!first) {
        for (const e of got) {
          const s = e.source ?? '(none)';
          counts.set(s, (counts.get(s) ?? 0) + 1);
        }
      }
      if (first || got.length) {
        for (const e of events) e.fresh = false;
        events = [...got.map((e) => ({ ...e, fresh: !first })), ...events].slice(0, KEEP);
        draw();
      }
      replace(errBox);
      const cut = cursor ? ` More than ${fmtInt(PAGE * MAX_PAGES)} arrived at once; the oldest of them are not shown.` : '';
      const clock = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' }).format(new Date());
      if (!paused) setStatus(`Live · checked at ${clock}.${cut}`, 'live');
    } catch (e) {
      if (aborted(e) || ctx.signal.aborted) return;
      setStatus('Not updating: the last request failed. Retrying every 2 seconds.', 'error');
      replace(errBox, errorState(e));
    } finally {
      running = false;
    }
    if (!paused && !ctx.signal.aborted) timer = window.setTimeout(poll, POLL_MS);
  }

  function draw(): void {
    const src = sourceSel.value;
    // Sources only seen in events join the filter.
    for (const e of events) {
      if (e.source && ![...sourceSel.options].some((o) => o.value === e.source)) sourceSel.append(h('option', { value: e.source }, e.source));
    }
    const shown = src ? events.filter((e) => e.source === src) : events;
    tbody.replaceChildren(...shown.map(row));
    table.hidden = shown.length === 0;
    replace(empty, shown.length ? null : emptyState(
      src ? `No events from “${src}” yet.` : 'No events yet.',
      'New events appear here within 2 seconds of arriving.'));
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    replace(counters,
      h('li', { class: 'counter total' }, h('span', null, 'Since opened'), h('strong', null, fmtInt(total))),
      [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([s, n]) =>
        h('li', { class: 'counter' }, h('span', null, s), h('strong', null, fmtInt(n)))));
  }

  poll();
}

function row(e: LiveEvent & { fresh?: boolean }): HTMLElement {
  return h('tr', { class: e.fresh ? 'fresh' : null },
    h('td', { class: 'nowrap' }, time(e.received_at || e.timestamp, 'short-s')),
    h('td', { class: 'nowrap hide-sm muted' }, time(e.timestamp, 'short-s')),
    h('td', null, e.source ? h('span', { class: 'source' }, e.source) : h('span', { class: 'muted' }, '—')),
    h('td', null, typeBadge(e.type)),
    h('td', { class: 'cell-grow' }, e.name || h('span', { class: 'muted' }, '—')),
    h('td', null, e.customer_id
      ? h('a', { href: `#/customers/${encodeURIComponent(e.customer_id)}`, title: `Customer ${e.customer_id}` },
        e.customer_label || `Anonymous visitor ${e.customer_id}`)
      : h('span', { class: 'muted' }, '—')));
}
