// The agent's day: the cases inbox (the caller's cases by default, the
// unit's, or all they may see; overdue first) and the case view (the case,
// its notes and history, the actions its status allows, resolve with a
// root cause, and the customer's timeline beside it). Everything shown is
// text; API errors go under the field they name (docs/cases.md).
import { h, replace } from '../dom';
import { ApiError, get, patch, post, type MessageList } from '../api';
import { time } from '../format';
import { aborted, emptyState, errorState, loading, pageHeader, takeFlash } from '../ui';
import { setQuery, type PageContext } from '../router';
import { field } from '../analytics';
import { segmented } from '../listen';
import { can, whoAmI } from '../session';
import { eventRow } from './customer';
import {
  MOVES, OPEN_STATUSES, PRIORITY_LABEL, STATUS_LABEL, age, breached, causeOptions, dueCell, statusBadge,
  type CaseFull, type CaseItem, type RootCause,
} from '../cases';

interface Unit { id: string; name: string; parent: string | null }
interface User { id: string; name: string; email: string; role: string; unit: string | null; disabled: boolean }

type Scope = 'mine' | 'unit' | 'all';
const SCOPES: { id: Scope; label: string }[] = [
  { id: 'mine', label: 'Mine' }, { id: 'unit', label: 'My unit' }, { id: 'all', label: 'All I can see' },
];
const STATUS_FILTERS = [
  { id: 'active', label: 'Open (new, open, waiting)' },
  ...Object.entries(STATUS_LABEL).map(([id, label]) => ({ id, label })),
  { id: 'any', label: 'Any status' },
];

/** Overdue and breached first, then by the next due time, then newest. */
function urgency(a: CaseItem, b: CaseItem): number {
  const late = (c: CaseItem): number => (c.due_at && (c.overdue || breached(c)) ? 0 : 1);
  if (late(a) !== late(b)) return late(a) - late(b);
  const due = (c: CaseItem): number => (c.due_at ? Date.parse(c.due_at) : Number.MAX_SAFE_INTEGER);
  if (due(a) !== due(b)) return due(a) - due(b);
  return Date.parse(b.opened_at) - Date.parse(a.opened_at);
}

export function casesPage(main: HTMLElement, ctx: PageContext): void {
  const me = whoAmI();
  const canMine = !!me?.user;
  const canUnit = !!me?.unit;
  const q = ctx.query;
  let scope: Scope = (q.get('scope') as Scope | null) ?? (canMine ? 'mine' : 'all');
  if ((scope === 'mine' && !canMine) || (scope === 'unit' && !canUnit)) scope = 'all';
  const scopes = SCOPES.filter((s) => (s.id !== 'mine' || canMine) && (s.id !== 'unit' || canUnit));
  const status = field('Status', h('select', { name: 'status' }, STATUS_FILTERS.map((s) => h('option', { value: s.id }, s.label))));
  status.input.value = q.get('status') ?? 'active';
  const picker = segmented('Whose cases', scopes, scope, (s) => {
    scope = s;
    load();
  });
  const results = h('div', { 'aria-busy': 'true' });
  const count = h('p', { class: 'muted result-count', role: 'status' });
  main.append(pageHeader('Cases', 'Detractors and unhappy customers to call back, the most urgent first.'),
    takeFlash() ?? '',
    h('section', { class: 'card filters-card', 'aria-label': 'Which cases' },
      h('div', { class: 'filters' }, h('div', { class: 'field' }, h('span', { class: 'label' }, 'Whose'), picker), status.el)),
    count, results);
  status.input.addEventListener('change', () => load());

  async function load(): Promise<void> {
    const qs = new URLSearchParams();
    if (scope !== (canMine ? 'mine' : 'all')) qs.set('scope', scope);
    if (status.input.value !== 'active') qs.set('status', status.input.value);
    setQuery(qs);
    results.setAttribute('aria-busy', 'true');
    replace(results, loading('Loading the cases…'));
    const base: Record<string, string | number> = { limit: 500 };
    if (scope === 'mine' && me?.user) base.owner = me.user.id;
    if (scope === 'unit' && me?.unit) base.unit = me.unit;
    const st = status.input.value;
    const asks = st === 'active' ? OPEN_STATUSES : st === 'any' ? [''] : [st];
    try {
      const pages = await Promise.all(asks.map((s) => get<{ cases: CaseItem[] }>('cases', { ...base, status: s }, { signal: ctx.signal })));
      const list = pages.flatMap((p) => p.cases).sort(urgency);
      render(list);
    } catch (e) {
      if (aborted(e)) return;
      replace(results, errorState(e, load));
    } finally {
      results.setAttribute('aria-busy', 'false');
    }
  }

  function render(list: CaseItem[]): void {
    const late = list.filter((c) => c.due_at && (c.overdue || breached(c))).length;
    count.textContent = `${list.length} ${list.length === 1 ? 'case' : 'cases'}${late ? `, ${late} overdue` : ''}`;
    if (!list.length) {
      replace(results, h('section', { class: 'card' }, emptyState(scope === 'mine' ? 'No cases for you here.' : 'No cases here.',
        'Cases open when a case rule matches a survey answer (a detractor, a low CSAT), or by hand.')));
      return;
    }
    const now = Date.now();
    replace(results, h('section', { class: 'card', 'aria-label': 'Cases' }, h('div', { class: 'table-wrap' },
      h('table', { class: 'table cases-table' },
        h('thead', null, h('tr', null, h('th', null, 'Case'), h('th', null, 'Status'), h('th', null, 'Priority'),
          h('th', null, 'Unit'), h('th', null, 'Owner'), h('th', null, 'Due'), h('th', null, 'Age'))),
        h('tbody', null, list.map((c) => h('tr', { 'data-case': c.id, class: c.due_at && (c.overdue || breached(c)) ? 'late' : null },
          h('td', null, h('a', { href: `#/cases/${encodeURIComponent(c.id)}` }, c.title),
            h('div', { class: 'muted small' }, `Customer ${c.customer_id}${c.nps !== null ? ` · NPS ${c.nps}` : ''} · #${c.id}`)),
          // data-label: the column's name above the value on a phone (CSS)
          h('td', { 'data-label': 'Status' }, statusBadge(c.status)),
          h('td', { 'data-label': 'Priority' }, PRIORITY_LABEL[c.priority] ?? c.priority),
          h('td', { 'data-label': 'Unit' }, c.unit_name ?? c.unit),
          h('td', { 'data-label': 'Owner' }, c.owner_name ?? h('span', { class: 'muted' }, 'Unassigned')),
          h('td', { 'data-label': 'Due' }, dueCell(c, now)),
          h('td', { 'data-label': 'Age', class: 'nowrap' }, age(c, now)))))))));
  }

  load();
}

/** The units at or below top. */
function subtree(units: Unit[], top: string): Set<string> {
  const out = new Set([top]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const u of units) if (u.parent && out.has(u.parent) && !out.has(u.id)) { out.add(u.id); grew = true; }
  }
  return out;
}

function historyText(e: { action: string; before: string | null; after: string | null }): string {
  const a = e.action.replace(/_/g, ' ');
  if (e.before !== null && e.after !== null) return `${a}: ${e.before} → ${e.after}`;
  if (e.after !== null) return `${a}: ${e.after}`;
  return a;
}

export function casePage(main: HTMLElement, ctx: PageContext): void {
  const id = ctx.params.id ?? '';
  const back = h('a', { class: 'back', href: '#/cases' }, '← Cases');
  main.append(back, loading('Loading the case…'));
  let causes: RootCause[] = [];
  let people: { users: User[]; units: Unit[] } | null = null;

  async function load(flash?: string): Promise<void> {
    try {
      const [c, rc, ppl] = await Promise.all([
        get<CaseFull>(`cases/${encodeURIComponent(id)}`, {}, { signal: ctx.signal }),
        causes.length ? Promise.resolve({ root_causes: causes }) : get<{ root_causes: RootCause[] }>('root-causes', {}, { signal: ctx.signal }),
        people ?? Promise.all([
          get<{ users: User[] }>('users', {}, { signal: ctx.signal }).catch(() => ({ users: [] as User[] })),
          get<{ units: Unit[] }>('units', {}, { signal: ctx.signal }).catch(() => ({ units: [] as Unit[] })),
        ]).then(([u, n]) => ({ users: u.users, units: n.units })),
      ]);
      causes = rc.root_causes;
      people = ppl;
      render(c, flash);
    } catch (e) {
      if (aborted(e)) return;
      if (e instanceof ApiError && e.status === 404) {
        replace(main, back, pageHeader('Case not found'),
          emptyState('No case has this id in your units.', 'It may belong to another team, or the address is wrong.'));
        return;
      }
      replace(main, back, errorState(e, () => load()));
    }
  }

  function render(c: CaseFull, flash?: string): void {
    const work = can('work');
    const head = pageHeader(c.title, h('span', null, statusBadge(c.status), ` Case #${c.id} · customer ${c.customer_id} · ${c.unit_name ?? c.unit}`));
    const facts = h('dl', { class: 'facts' },
      h('div', null, h('dt', null, 'Owner'), h('dd', null, c.owner_name ?? 'Unassigned')),
      h('div', null, h('dt', null, 'Priority'), h('dd', null, PRIORITY_LABEL[c.priority] ?? c.priority)),
      h('div', null, h('dt', null, 'Opened'), h('dd', null, time(c.opened_at, 'short'), h('span', { class: 'muted small' }, ` · ${age(c)} ago`))),
      h('div', null, h('dt', null, 'Due'), h('dd', null, dueCell(c))),
      h('div', null, h('dt', null, 'First response'), h('dd', null, c.first_response_at ? time(c.first_response_at, 'short') : h('span', null, 'Not yet · due ', time(c.first_response_due_at, 'short')),
        c.breached.first_response ? h('span', { class: 'badge due-breached' }, ' Breached') : null)),
      h('div', null, h('dt', null, 'Resolution'), h('dd', null, c.resolved_at ? time(c.resolved_at, 'short') : h('span', null, 'Due ', time(c.resolution_due_at, 'short')),
        c.breached.resolution ? h('span', { class: 'badge due-breached' }, ' Breached') : null)),
      h('div', null, h('dt', null, 'Root cause'), h('dd', null, c.root_cause_name ?? h('span', { class: 'muted' }, 'Not set'))),
      h('div', null, h('dt', null, 'Score'), h('dd', null, c.nps !== null ? `NPS ${c.nps}` : '—')),
      c.follow_up.survey ? h('div', null, h('dt', null, 'Follow-up survey'),
        h('dd', null, c.follow_up.invitation ? 'Invitation sent' : c.status === 'closed' ? 'Not sent (no e-mail, consent or fatigue)' : 'Sent when the case closes')) : null);
    const summary = h('section', { class: 'card', 'aria-labelledby': 'case-facts-h' }, h('h2', { id: 'case-facts-h' }, 'The case'), facts);
    const actions = work ? actionsCard(c) : null;
    const notes = h('section', { class: 'card', 'aria-labelledby': 'case-notes-h' }, h('h2', { id: 'case-notes-h' }, 'Notes'),
      c.notes.length
        ? h('ol', { class: 'case-notes' }, c.notes.map((n) => h('li', null,
          h('div', { class: 'muted small' }, time(n.at, 'short'), ` · ${n.actor}`), h('p', { class: 'note-body' }, n.body))))
        : h('p', { class: 'muted' }, 'No notes yet.'),
      work ? noteForm(c) : null);
    const history = h('section', { class: 'card', 'aria-labelledby': 'case-history-h' }, h('h2', { id: 'case-history-h' }, 'History'),
      h('ol', { class: 'case-history' }, c.history.map((e) => h('li', null,
        time(e.at, 'short'), ' ', h('strong', null, historyText(e)), h('span', { class: 'muted small' }, ` · ${e.actor}`)))));
    const timeline = h('section', { class: 'card timeline-card', 'aria-labelledby': 'case-timeline-h' },
      h('h2', { id: 'case-timeline-h' }, "The customer's timeline"), loading('Loading the timeline…'));
    replace(main, back, head, flash ? h('p', { class: 'notice', role: 'status' }, flash) : null,
      h('div', { class: 'case-layout' },
        h('div', { class: 'stack' }, summary, actions, notes, history),
        timeline));
    loadTimeline(timeline);
  }

  async function loadTimeline(box: HTMLElement): Promise<void> {
    const title = box.firstElementChild as HTMLElement;
    try {
      const r = await get<MessageList>(`cases/${encodeURIComponent(id)}/timeline`, { limit: 30 }, { signal: ctx.signal });
      replace(box, title, r.events.length
        ? h('ol', { class: 'timeline' }, r.events.map(eventRow))
        : emptyState('No events for this customer.'),
      r.next_cursor ? h('p', { class: 'muted small' }, 'The 30 newest events.') : null);
    } catch (e) {
      if (!aborted(e)) replace(box, title, errorState(e, () => loadTimeline(box)));
    }
  }

  function actionsCard(c: CaseFull): HTMLElement {
    const msg = h('p', { class: 'form-msg', role: 'alert' });
    const act = async (body: Record<string, unknown>, done: string, fields: Record<string, ReturnType<typeof field>> = {}): Promise<boolean> => {
      for (const f of Object.values(fields)) f.error('');
      msg.textContent = '';
      try {
        await patch(`cases/${encodeURIComponent(c.id)}`, body);
        await load(done);
        return true;
      } catch (err) {
        const f = err instanceof ApiError && err.field ? fields[err.field] : undefined;
        const text = err instanceof Error ? err.message : String(err);
        if (f) { f.error(text); f.input.focus(); } else { msg.className = 'form-msg error'; msg.textContent = text; }
        return false;
      }
    };
    const me = whoAmI();
    // the owner: anyone enabled in the case's unit or below
    const inUnit = people ? subtree(people.units, c.unit) : new Set([c.unit]);
    const candidates = (people?.users ?? []).filter((u) => !u.disabled && u.unit && inUnit.has(u.unit));
    const owner = field('Owner', h('select', { name: 'owner' }, h('option', { value: '' }, 'Unassigned'),
      candidates.map((u) => h('option', { value: u.id }, `${u.name} (${u.email})`))));
    if (c.owner && !candidates.some((u) => u.id === c.owner)) owner.input.append(h('option', { value: c.owner }, c.owner_name ?? `User ${c.owner}`));
    owner.input.value = c.owner ?? '';
    const assign = h('button', { type: 'submit', class: 'btn' }, 'Assign');
    const take = me?.user && me.user.id !== c.owner && (!me.unit || inUnit.has(me.unit) || candidates.some((u) => u.id === me.user?.id))
      ? h('button', { type: 'button', class: 'btn btn-primary' }, 'Take it') : null;
    const ownerForm = h('form', { class: 'form-row', 'aria-label': 'Owner' }, owner.el, h('div', { class: 'form-actions' }, assign, take));
    ownerForm.addEventListener('submit', (e) => {
      e.preventDefault();
      void act({ owner: owner.input.value || null }, 'Owner changed.', { owner });
    });
    take?.addEventListener('click', () => void act({ owner: me?.user?.id }, 'The case is yours.', { owner }));

    const moveLabel: Record<string, string> = { open: c.status === 'new' ? 'Mark open' : 'Reopen', waiting: 'Waiting on the customer', closed: 'Close' };
    if (c.status === 'waiting') moveLabel.open = 'Back to open';
    const moves = (MOVES[c.status] ?? []).map((s) => {
      const b = h('button', { type: 'button', class: s === 'closed' ? 'btn btn-primary' : 'btn' }, moveLabel[s] ?? STATUS_LABEL[s] ?? s);
      b.addEventListener('click', () => void act({ status: s }, `The case is ${STATUS_LABEL[s]?.toLowerCase() ?? s}.`));
      return b;
    });

    let resolveForm: HTMLElement | null = null;
    if (OPEN_STATUSES.includes(c.status)) {
      const opts = causeOptions(causes);
      const cause = field('Root cause', h('select', { name: 'root_cause' }, h('option', { value: '' }, 'Choose the root cause…'),
        opts.map((o) => h('option', { value: o.id }, o.label))), { help: 'Required to resolve: what caused the problem.' });
      cause.input.value = c.root_cause ?? '';
      const note = field('Resolution note (optional)', h('textarea', { name: 'resolution_note', rows: '2', maxlength: '10000' }));
      const f = h('form', { class: 'resolve-form', 'aria-labelledby': 'resolve-h', novalidate: true },
        h('h3', { id: 'resolve-h' }, 'Resolve'), cause.el, note.el,
        h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Resolve')));
      f.addEventListener('submit', (e) => {
        e.preventDefault();
        const body: Record<string, unknown> = { status: 'resolved' };
        if (cause.input.value) body.root_cause = cause.input.value;
        if (note.input.value.trim()) body.note = note.input.value.trim();
        void act(body, 'The case is resolved.', { root_cause: cause, note });
      });
      resolveForm = f;
    }
    return h('section', { class: 'card', 'aria-labelledby': 'case-actions-h' }, h('h2', { id: 'case-actions-h' }, 'Work the case'),
      ownerForm,
      moves.length ? h('div', { class: 'form-actions case-moves', role: 'group', 'aria-label': 'Change the status' }, moves) : null,
      resolveForm, msg);
  }

  function noteForm(c: CaseFull): HTMLElement {
    const body = field('Add a note', h('textarea', { name: 'note', rows: '3', maxlength: '10000', required: true }),
      { help: c.status === 'new' ? 'The first note is the first response: it opens the case.' : undefined });
    const f = h('form', { class: 'note-form', novalidate: true }, body.el,
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn' }, 'Add note')));
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      body.error('');
      try {
        await post(`cases/${encodeURIComponent(c.id)}/notes`, { body: body.input.value.trim() });
        await load('Note added.');
      } catch (err) {
        body.error(err instanceof Error ? err.message : String(err));
        body.input.focus();
      }
    });
    return f;
  }

  load();
}
