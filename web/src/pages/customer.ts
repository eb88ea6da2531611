// The single customer view: profile (identities, traits, accounts, stage,
// first/last seen, events) and the timeline with filters and "load more".
import { h, replace } from '../dom';
import {
  customerName, customerSub, get, messageName,
  type Customer, type Message, type MessageList, type Source,
} from '../api';
import { fmtInt, time } from '../format';
import { aborted, emptyState, errorState, loading, pageHeader, stageBadge, typeBadge } from '../ui';
import { setQuery, type PageContext } from '../router';

const TYPES = ['identify', 'track', 'page', 'screen', 'group', 'alias'];
const IDENTITY_LABEL: Record<string, string> = { user_id: 'User id', anonymous_id: 'Anonymous id', email: 'E-mail' };

export function customerPage(main: HTMLElement, ctx: PageContext): void {
  const id = ctx.params.id ?? '';
  document.title = 'Customer · cxm';
  const back = h('a', { href: '#/customers', class: 'back' }, '← Customers');
  main.append(back, loading('Loading the customer…'));

  const load = async (): Promise<void> => {
    try {
      const [c, sources] = await Promise.all([
        get<Customer>(`customers/${encodeURIComponent(id)}`, {}, { signal: ctx.signal }),
        get<{ sources: Source[] }>('sources', {}, { signal: ctx.signal }).catch(() => ({ sources: [] })),
      ]);
      const [head, side] = profile(c, ctx.signal);
      replace(main, back, head, h('div', { class: 'customer-layout' }, side, timeline(c, sources.sources, ctx)));
    } catch (e) {
      if (aborted(e)) return;
      replace(main, back, pageHeader('Customer'), errorState(e, () => {
        replace(main, back, loading('Loading the customer…'));
        load();
      }));
    }
  };
  load();
}

function profile(c: Customer, signal: AbortSignal): [HTMLElement, HTMLElement] {
  const name = customerName(c);
  const sub = customerSub(c);
  const head = pageHeader(name, h('span', null, sub ? `${sub} · ` : '', `Customer ${c.id}`));

  const facts = h('dl', { class: 'facts' },
    h('div', null, h('dt', null, 'Stage'), h('dd', null, stageBadge(c.stage))),
    h('div', null, h('dt', null, 'First seen'), h('dd', null, time(c.first_seen))),
    h('div', null, h('dt', null, 'Last seen'), h('dd', null, time(c.last_seen))),
    h('div', null, h('dt', null, 'Events'), h('dd', null, c.event_count === undefined ? '—' : fmtInt(c.event_count))));

  const identities = h('section', { class: 'card', 'aria-labelledby': 'h-ids' },
    h('h2', { id: 'h-ids' }, 'Identities'),
    c.identities.length
      ? h('ul', { class: 'identities' }, c.identities.map((i) => h('li', null,
        h('span', { class: 'id-type' }, IDENTITY_LABEL[i.type] ?? i.type),
        h('span', { class: 'mono' }, i.value))))
      : emptyState('No identities.'));

  const traitKeys = Object.keys(c.traits ?? {}).sort();
  const traits = h('section', { class: 'card', 'aria-labelledby': 'h-traits' },
    h('h2', { id: 'h-traits' }, 'Traits'),
    traitKeys.length
      ? h('table', { class: 'table kv' }, h('tbody', null, traitKeys.map((k) => h('tr', null,
        h('th', { scope: 'row' }, k), h('td', null, valueText(c.traits[k]))))))
      : emptyState('No traits yet.', 'Traits come from identify calls.'));

  const accountList = (c.accounts ?? []).map(String);
  const accounts = h('section', { class: 'card', 'aria-labelledby': 'h-accounts' },
    h('h2', { id: 'h-accounts' }, 'Accounts'),
    accountList.length
      ? h('ul', { class: 'plain' }, accountList.map((a) => accountItem(a, signal)))
      : h('p', { class: 'muted' }, 'Not a member of any account.'));

  return [head, h('aside', { class: 'profile', 'aria-label': 'Profile' }, h('div', { class: 'card facts-card' }, facts), identities, accounts, traits)];
}

/** An account: its id at once, its name when /accounts/{id} answers. */
function accountItem(id: string, signal: AbortSignal): HTMLElement {
  const li = h('li', null, h('span', { class: 'mono' }, id));
  if (!id.includes('/')) {
    get<{ traits?: Record<string, unknown> }>(`accounts/${encodeURIComponent(id)}`, {}, { signal })
      .then((a) => {
        const n = a.traits?.name;
        if (typeof n === 'string' && n) replace(li, h('strong', null, n), ' ', h('span', { class: 'muted mono small' }, id));
      })
      .catch(() => { /* the id alone is enough */ });
  }
  return li;
}

function valueText(v: unknown): string {
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

function timeline(c: Customer, sources: Source[], ctx: PageContext): HTMLElement {
  const q = ctx.query;
  const typeSel = h('select', { id: 'f-type', name: 'type' },
    h('option', { value: '' }, 'All types'), TYPES.map((t) => h('option', { value: t, selected: q.get('type') === t }, t)));
  const nameIn = h('input', {
    id: 'f-name', name: 'name', type: 'search', value: q.get('name') ?? '', placeholder: 'e.g. Order Completed',
    list: 'f-names', autocomplete: 'off',
  });
  const names = h('datalist', { id: 'f-names' });
  const sourceSel = h('select', { id: 'f-source', name: 'source' },
    h('option', { value: '' }, 'All sources'),
    sources.map((s) => h('option', { value: s.name, selected: q.get('source') === s.name }, s.name)));
  const filters = h('form', { class: 'filters', 'aria-label': 'Filter the timeline' },
    h('div', { class: 'field' }, h('label', { for: 'f-type' }, 'Type'), typeSel),
    h('div', { class: 'field grow' }, h('label', { for: 'f-name' }, 'Event name'), nameIn, names),
    h('div', { class: 'field' }, h('label', { for: 'f-source' }, 'Source'), sourceSel),
    h('button', { type: 'submit', class: 'btn' }, 'Apply'));
  const list = h('ol', { class: 'timeline' });
  const status = h('div', { 'aria-live': 'polite' });
  const more = h('button', { type: 'button', class: 'btn load-more', hidden: true }, 'Load more');
  const section = h('section', { class: 'card timeline-card', 'aria-labelledby': 'h-timeline' },
    h('h2', { id: 'h-timeline' }, 'Timeline'), filters, list, status, more);

  const seenNames = new Set<string>();
  let cursor: string | null = null;
  let ac: AbortController | null = null;

  async function load(reset: boolean): Promise<void> {
    ac?.abort();
    ac = new AbortController();
    const signal = AbortSignal.any([ctx.signal, ac.signal]);
    if (reset) {
      list.replaceChildren();
      cursor = null;
    }
    more.hidden = true;
    replace(status, loading(reset ? 'Loading the timeline…' : 'Loading more…'));
    try {
      const page = await get<MessageList>(`customers/${encodeURIComponent(c.id)}/events`, {
        limit: 50, cursor, type: typeSel.value, name: nameIn.value.trim(), source: sourceSel.value,
      }, { signal });
      for (const m of page.events) {
        list.append(eventRow(m));
        const n = messageName(m);
        if (n && !seenNames.has(n)) {
          seenNames.add(n);
          names.append(h('option', { value: n }));
        }
      }
      cursor = page.next_cursor;
      more.hidden = cursor === null;
      const filtered = typeSel.value || nameIn.value.trim() || sourceSel.value;
      replace(status, list.childElementCount
        ? (cursor === null ? h('p', { class: 'muted end' }, `${fmtInt(list.childElementCount)} events · the beginning of this timeline`) : null)
        : emptyState(filtered ? 'No events match these filters.' : 'No events yet.'));
    } catch (e) {
      if (!aborted(e)) replace(status, errorState(e, () => load(reset)));
    }
  }

  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    if (typeSel.value) p.set('type', typeSel.value);
    if (nameIn.value.trim()) p.set('name', nameIn.value.trim());
    if (sourceSel.value) p.set('source', sourceSel.value);
    setQuery(p);
    load(true);
  });
  // Selects apply at once; the name applies on Enter or "Apply".
  typeSel.addEventListener('change', () => filters.requestSubmit());
  sourceSel.addEventListener('change', () => filters.requestSubmit());
  more.addEventListener('click', () => load(false));
  load(true);
  return section;
}

/** One timeline entry: time, type, name, source, the properties in one
 *  line, and the full message on demand. */
export function eventRow(m: Message): HTMLElement {
  const name = messageName(m);
  // The one-line summary is the toggle that shows the full message.
  const details = h('details', { class: 'raw' },
    h('summary', null, h('span', { class: 'sr-only' }, 'Full message: '),
      h('span', { class: 'props mono small' }, compact(m) || 'no properties')),
    h('pre', null, JSON.stringify(stripInternal(m), null, 2)));
  return h('li', { class: 'event' },
    h('div', { class: 'event-head' },
      time(m.timestamp, 'seconds'),
      typeBadge(m.type),
      h('span', { class: 'event-name' }, name || h('span', { class: 'muted' }, m.type === 'identify' ? 'Identified' : '—')),
      m._source ? h('span', { class: 'source', title: 'Source' }, m._source) : null),
    details);
}

/** "key: value · key: value" of the properties (traits for identify and
 *  group, previousId for alias), cut at 160 characters. */
function compact(m: Message): string {
  let obj: Record<string, unknown> | undefined =
    m.type === 'identify' || m.type === 'group' ? m.traits ?? (m.context?.traits as Record<string, unknown> | undefined) : m.properties;
  if (m.type === 'alias') obj = { previousId: m.previousId, userId: m.userId };
  if (m.type === 'group') obj = { groupId: m.groupId, ...(obj ?? {}) };
  if (!obj) return '';
  const s = Object.entries(obj)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' · ');
  return s.length > 160 ? `${s.slice(0, 159)}…` : s;
}

/** The message as stored: without the fields the API adds beside it. */
function stripInternal(m: Message): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) if (!k.startsWith('_')) out[k] = v;
  return out;
}
