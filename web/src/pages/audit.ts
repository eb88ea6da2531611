// Audit log: every change, newest first (GET /api/v1/audit), filtered by
// actor and action, paged by cursor, with the hash chain checked on demand
// (GET /api/v1/audit/verify). Everything shown is text.
import { h, replace } from '../dom';
import { get } from '../api';
import { time } from '../format';
import { aborted, emptyState, errorState, loading, pageHeader } from '../ui';
import { setQuery, type PageContext } from '../router';
import { field } from '../analytics';

interface Entry { id: string; at: string; actor: string; action: string; target: string; before: unknown; after: unknown; hash: string }
const PAGE = 50;

function summary(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = JSON.stringify(v);
  return s.length > 240 ? s.slice(0, 239) + '…' : s;
}

export function auditPage(main: HTMLElement, ctx: PageContext): void {
  const actor = field('Actor', h('input', { type: 'text', value: ctx.query.get('actor') ?? '', placeholder: 'user:ana@example.com', autocomplete: 'off' }));
  const action = field('Action', h('input', { type: 'text', value: ctx.query.get('action') ?? '', placeholder: 'user.update', autocomplete: 'off' }));
  const form = h('form', { class: 'card filters-card', role: 'search', 'aria-label': 'Filter the audit log' },
    h('div', { class: 'filters' }, actor.el, action.el,
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Filter'))));
  const verifyOut = h('p', { class: 'form-msg', role: 'status' });
  const verifyBtn = h('button', { type: 'button', class: 'btn' }, 'Verify the chain');
  const results = h('div', { 'aria-busy': 'true' });
  main.append(pageHeader('Audit log', 'Every change made through cxm: who, what, when, before and after. Append-only and hash-chained.',
    h('div', { class: 'head-actions' }, verifyBtn)), verifyOut, form, results);

  verifyBtn.addEventListener('click', async () => {
    verifyBtn.disabled = true;
    verifyOut.className = 'form-msg';
    verifyOut.textContent = 'Checking…';
    try {
      const v = await get<{ ok: boolean; entries: number; head?: string; first_bad?: string }>('audit/verify', {}, { signal: ctx.signal });
      verifyOut.className = v.ok ? 'form-msg ok' : 'form-msg error';
      verifyOut.textContent = v.ok
        ? `The chain holds: ${v.entries} entries, head ${v.head?.slice(0, 16)}…`
        : `The chain is broken at entry ${v.first_bad}: it or an entry before it was changed.`;
    } catch (e) {
      if (!aborted(e)) { verifyOut.className = 'form-msg error'; verifyOut.textContent = e instanceof Error ? e.message : String(e); }
    } finally {
      verifyBtn.disabled = false;
    }
  });

  const cursors: (string | null)[] = [null];
  let pageNo = 0;
  async function load(page: number): Promise<void> {
    const filters = { actor: actor.input.value.trim(), action: action.input.value.trim() };
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    setQuery(q);
    results.setAttribute('aria-busy', 'true');
    replace(results, loading('Loading the audit log…'));
    try {
      const r = await get<{ entries: Entry[]; next_cursor: string | null }>('audit', { ...filters, limit: PAGE, cursor: cursors[page] }, { signal: ctx.signal });
      pageNo = page;
      cursors[page + 1] = r.next_cursor;
      if (!r.entries.length) {
        replace(results, h('section', { class: 'card' }, emptyState(page ? 'No older entries.' : 'Nothing recorded yet.')));
        return;
      }
      const prev = h('button', { type: 'button', class: 'btn', disabled: pageNo === 0 }, '← Newer');
      const next = h('button', { type: 'button', class: 'btn', disabled: r.next_cursor === null }, 'Older →');
      prev.addEventListener('click', () => load(pageNo - 1));
      next.addEventListener('click', () => load(pageNo + 1));
      replace(results, h('section', { class: 'card', 'aria-label': 'Audit entries' },
        h('div', { class: 'table-wrap' }, h('table', { class: 'table audit-table' },
          h('thead', null, h('tr', null, h('th', null, 'When'), h('th', null, 'Who'), h('th', null, 'Action'), h('th', null, 'Target'), h('th', null, 'Change'))),
          h('tbody', null, r.entries.map((e) => h('tr', null,
            h('td', null, time(e.at, 'short-s')),
            h('td', null, e.actor),
            h('td', null, h('code', null, e.action)),
            h('td', null, e.target),
            h('td', { class: 'audit-change' },
              e.before !== null ? h('div', null, h('span', { class: 'muted small' }, 'before '), h('code', null, summary(e.before))) : null,
              e.after !== null ? h('div', null, h('span', { class: 'muted small' }, 'after '), h('code', null, summary(e.after))) : null)))))),
        h('nav', { class: 'pager', 'aria-label': 'Pages of the audit log' }, prev, h('span', { class: 'muted' }, `Page ${pageNo + 1}`), next)));
    } catch (e) {
      if (aborted(e)) return;
      replace(results, errorState(e, () => load(page)));
    } finally {
      results.setAttribute('aria-busy', 'false');
    }
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    cursors.length = 1;
    load(0);
  });
  load(0);
}
