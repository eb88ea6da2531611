// What the cases pages share (docs/cases.md): the case as the API answers
// it, the labels of statuses and priorities, the allowed moves, and the
// due-time marker that says in words (not colour alone) when a case is
// late.
import { h } from './dom';
import { time } from './format';
import { fmtDuration } from './analytics';

export interface CaseItem {
  id: string;
  status: 'new' | 'open' | 'waiting' | 'resolved' | 'closed';
  title: string;
  priority: string;
  customer_id: string;
  response_id: string | null;
  rule_id: string | null;
  unit: string;
  unit_name: string | null;
  owner: string | null;
  owner_name: string | null;
  sla_policy: string | null;
  nps: number | null;
  opened_at: string;
  first_response_at: string | null;
  resolved_at: string | null;
  closed_at: string | null;
  first_response_due_at: string;
  resolution_due_at: string;
  due_at: string | null;
  overdue: boolean;
  breached: { first_response: string | null; resolution: string | null };
  root_cause: string | null;
  root_cause_name: string | null;
  follow_up: { survey: string | null; invitation: string | null };
  updated_at: string;
}
export interface CaseNote { id: string; at: string; actor: string; user_id: string | null; body: string }
export interface CaseHistory { at: string; actor: string; user_id: string | null; action: string; before: string | null; after: string | null }
export interface CaseFull extends CaseItem { notes: CaseNote[]; history: CaseHistory[] }
export interface RootCause { id: string; name: string; parent: string | null }

export const STATUS_LABEL: Record<string, string> = {
  new: 'New', open: 'Open', waiting: 'Waiting', resolved: 'Resolved', closed: 'Closed',
};
export const PRIORITY_LABEL: Record<string, string> = { low: 'Low', normal: 'Normal', high: 'High', urgent: 'Urgent' };
export const OPEN_STATUSES = ['new', 'open', 'waiting'];

/** The moves docs/cases.md allows from a status (resolve is its own form). */
export const MOVES: Record<string, string[]> = {
  new: ['open', 'waiting'], open: ['waiting'], waiting: ['open'], resolved: ['closed', 'open'], closed: ['open'],
};

export function statusBadge(s: string): HTMLElement {
  return h('span', { class: `badge case-status case-${s.replace(/[^a-z]/g, '')}` }, STATUS_LABEL[s] ?? s);
}

export function breached(c: CaseItem): boolean {
  return !!(c.breached.first_response || c.breached.resolution);
}

/** The due time with its state in words: "Breached", "Overdue", "Due in
 *  3 h", or "Done" once resolved. */
export function dueCell(c: CaseItem, now = Date.now()): HTMLElement {
  const wrap = h('span', { class: 'due' });
  if (!c.due_at) {
    wrap.append(h('span', { class: 'muted' }, c.status === 'resolved' || c.status === 'closed' ? 'Done' : '—'));
    if (breached(c)) wrap.append(' ', h('span', { class: 'badge due-breached' }, 'SLA breached'));
    return wrap;
  }
  const left = (Date.parse(c.due_at) - now) / 1000;
  const what = c.first_response_at ? 'resolution' : 'first response';
  if (breached(c)) wrap.append(h('span', { class: 'badge due-breached' }, 'Breached'), ' ');
  else if (c.overdue || left < 0) wrap.append(h('span', { class: 'badge due-overdue' }, 'Overdue'), ' ');
  else if (left < 4 * 3600) wrap.append(h('span', { class: 'badge due-soon' }, `Due in ${fmtDuration(left)}`), ' ');
  wrap.append(time(c.due_at, 'short'), h('span', { class: 'muted small' }, ` · ${what}`));
  return wrap;
}

/** "3 h", "2.5 days": how long since the case opened. */
export function age(c: CaseItem, now = Date.now()): string {
  const end = c.closed_at ?? c.resolved_at;
  return fmtDuration(((end ? Date.parse(end) : now) - Date.parse(c.opened_at)) / 1000);
}

/** The root causes as "Parent › Child" options, in tree order. */
export function causeOptions(causes: RootCause[]): { id: string; label: string; leaf: boolean }[] {
  const kids = new Map<string | null, RootCause[]>();
  for (const c of causes) kids.set(c.parent, [...(kids.get(c.parent) ?? []), c]);
  const out: { id: string; label: string; leaf: boolean }[] = [];
  const walk = (p: string | null, prefix: string, d: number): void => {
    for (const c of kids.get(p) ?? []) {
      out.push({ id: c.id, label: prefix + c.name, leaf: !kids.has(c.id) });
      if (d < 20) walk(c.id, `${prefix}${c.name} › `, d + 1);
    }
  };
  walk(null, '', 0);
  return out;
}
