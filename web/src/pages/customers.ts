// Customers: search by identity or trait text, a paged results table.
import { h, replace } from '../dom';
import { customerName, customerSub, get, type Customer, type CustomerList } from '../api';
import { fmtInt, time } from '../format';
import { aborted, emptyState, errorState, loading, pageHeader, stageBadge } from '../ui';
import { setQuery, type PageContext } from '../router';

const PAGE = 25;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function customersPage(main: HTMLElement, ctx: PageContext): void {
  const input = h('input', {
    id: 'customer-q', name: 'q', type: 'search', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'e.g. ada@example.com', value: ctx.query.get('q') ?? '', 'aria-describedby': 'customer-q-help',
  });
  const form = h('form', { class: 'search', role: 'search' },
    h('label', { for: 'customer-q' }, 'Search customers'),
    h('div', { class: 'search-row' }, input, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Search')),
    h('p', { id: 'customer-q-help', class: 'help' }, 'Finds text in user ids, anonymous ids, e-mails and trait values.'));
  const results = h('div', { class: 'results' });
  // What a search found, for screen readers (the table is not announced).
  const said = h('p', { class: 'sr-only', role: 'status' });
  main.append(
    pageHeader('Customers', 'Every person, across their identities and channels.'),
    h('div', { class: 'card' }, form, said, results));

  // Cursors of the pages seen so far: cursors[k] opens page k.
  let cursors: (string | null)[] = [null];
  let pageNo = 0;
  let ac: AbortController | null = null;

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (input.value.trim()) q.set('q', input.value.trim());
    setQuery(q);
    cursors = [null];
    load(0);
  });

  async function load(page: number): Promise<void> {
    ac?.abort();
    ac = new AbortController();
    const signal = AbortSignal.any([ctx.signal, ac.signal]);
    const q = input.value.trim();
    replace(results, loading(q ? `Searching for “${q}”…` : 'Loading customers…'));
    try {
      const cursor = cursors[page] ?? null;
      // The API's q is a substring search over identities and traits; an
      // e-mail is also looked up exactly, and those matches come first.
      const [list, exact] = await Promise.all([
        get<CustomerList>('customers', { q, limit: PAGE, cursor }, { signal }),
        page === 0 && EMAIL.test(q)
          ? get<CustomerList>('customers', { email: q, limit: PAGE }, { signal }).catch(() => null)
          : Promise.resolve(null),
      ]);
      const seen = new Set<string>();
      const rows = [...(exact?.customers ?? []), ...list.customers].filter((c) => !seen.has(c.id) && !!seen.add(c.id));
      pageNo = page;
      cursors[page + 1] = list.next_cursor;
      show(rows, q, list.next_cursor !== null);
    } catch (e) {
      if (!aborted(e)) replace(results, errorState(e, () => load(page)));
    }
  }

  function show(rows: Customer[], q: string, more: boolean): void {
    said.textContent = rows.length ? `${rows.length} customers shown${more ? ', more on the next page' : ''}.` : 'No customer found.';
    if (!rows.length) {
      replace(results, q
        ? emptyState(`No customer matches “${q}”.`, 'Search looks inside user ids, anonymous ids, e-mails and trait values. Try part of a name or e-mail.')
        : emptyState('No customers yet.', 'Customers appear once a source sends events through the Tracking API.'));
      return;
    }
    const first = pageNo * PAGE + 1;
    const summary = h('p', { class: 'muted result-count' },
      `${q ? `Results for “${q}”` : 'All customers'} · ${fmtInt(first)}–${fmtInt(first + rows.length - 1)}`);
    const table = h('table', { class: 'table customers-table stack-sm' },
      h('caption', { class: 'sr-only' }, q ? `Customers matching ${q}` : 'Customers'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Customer'),
        h('th', { scope: 'col', class: 'hide-sm' }, 'User id'),
        h('th', { scope: 'col', class: 'hide-sm' }, 'First seen'),
        h('th', { scope: 'col' }, 'Last seen'),
        h('th', { scope: 'col', class: 'num' }, 'Events'),
        h('th', { scope: 'col', class: 'hide-sm' }, 'Stage'))),
      h('tbody', null, rows.map(row)));
    const prev = h('button', { type: 'button', class: 'btn', disabled: pageNo === 0 }, '← Previous');
    const next = h('button', { type: 'button', class: 'btn', disabled: !more }, 'Next →');
    prev.addEventListener('click', () => load(pageNo - 1));
    next.addEventListener('click', () => load(pageNo + 1));
    replace(results, summary, h('div', { class: 'table-wrap' }, table),
      pageNo > 0 || more
        ? h('nav', { class: 'pager', 'aria-label': 'Pages of results' }, prev, h('span', { class: 'muted' }, `Page ${pageNo + 1}`), next)
        : null);
  }

  load(0);
}

function row(c: Customer): HTMLElement {
  const name = customerName(c);
  const sub = customerSub(c);
  const userId = c.identities.find((i) => i.type === 'user_id')?.value;
  const link = h('a', { href: `#/customers/${encodeURIComponent(c.id)}`, class: 'strong' }, name);
  const tr = h('tr', { class: 'clickable' },
    h('th', { scope: 'row', class: 'cell-full' }, link, sub ? h('div', { class: 'muted small' }, sub) : null),
    h('td', { class: 'hide-sm mono small' }, userId ?? h('span', { class: 'muted' }, 'anonymous')),
    h('td', { class: 'hide-sm nowrap' }, time(c.first_seen, 'short')),
    h('td', { class: 'nowrap', 'data-label': 'Last seen' }, time(c.last_seen, 'short')),
    h('td', { class: 'num', 'data-label': 'Events' }, c.event_count === undefined ? '—' : fmtInt(c.event_count)),
    h('td', { class: 'hide-sm' }, stageBadge(c.stage)));
  // A click anywhere on the row opens the customer (the link stays the
  // keyboard and screen reader way in); selecting text does not.
  tr.addEventListener('click', (e) => {
    if ((e.target as Element).closest('a') || getSelection()?.toString()) return;
    link.click();
  });
  return tr;
}
