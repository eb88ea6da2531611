// Initiatives board (docs/initiatives.md): what the organisation does about
// what customers say. A column per status (idea, planned, in progress,
// done; dropped folded away), each card ranked by its RICE score, with its
// owner, the KPI it should move, the root causes and themes it answers
// with their evidence, and, once started, the measured before/after of its
// KPI with the test's verdict said in words. Callers who may program get
// a status select on each card, edit and remove, and the form. Every text
// goes in as a text node.
import { h, replace } from '../dom';
import { ApiError, del, get, patch, post } from '../api';
import { fmtInt, time } from '../format';
import { aborted, emptyState, errorState, loading, pageHeader } from '../ui';
import type { PageContext } from '../router';
import { field } from '../analytics';
import { can } from '../session';
import { causeOptions, type RootCause } from '../cases';
import { SCOPES, fmtValue, kpiScopeFields } from '../kpiscope';

interface Window { from: string; to: string; value: number | null; n: number }
interface Measurement {
  verdict: string; complete: boolean; before?: Window; after?: Window | null; change?: number | null;
  z?: number | null; p_value?: number | null; significant?: boolean; expected_change?: number | null;
  root_cause_cases?: { before: number | null; after: number | null; before_per_week: number | null; after_per_week: number | null } | null;
}
interface Initiative {
  id: string; title: string; description: string; owner: string; owner_name: string | null; status: string;
  kpi: string | null; kpi_label: string | null; scope: string | null; scope_value: string | null; scope_label: string | null;
  direction: 'higher' | 'lower' | null; expected_change: number | null; reach: number | null; impact: number | null;
  confidence: number | null; effort: number | null; score: number | null; measure_days: number;
  started_at: string | null; done_at: string | null; updated_at: string;
  root_causes: { id: string; name: string; cases: number }[];
  themes: { name: string; volume: number; share: number; nps_impact: number | null }[];
  measurement: Measurement;
}
interface Board { initiatives: Initiative[]; summary: Record<string, number> }

const STATUSES: [string, string][] = [
  ['idea', 'Ideas'], ['planned', 'Planned'], ['in_progress', 'In progress'], ['done', 'Done'], ['dropped', 'Dropped'],
];
const STATUS_ONE: Record<string, string> = { idea: 'Idea', planned: 'Planned', in_progress: 'In progress', done: 'Done', dropped: 'Dropped' };
const IMPACTS: [string, string][] = [['', '—'], ['3', '3 · massive'], ['2', '2 · high'], ['1', '1 · medium'], ['0.5', '0.5 · low'], ['0.25', '0.25 · minimal']];
const VERDICT: Record<string, [string, string, string]> = { // text, icon, class
  improved: ['Improved', '✓', 'target-on'],
  worse: ['Got worse', '✗', 'target-off'],
  no_significant_change: ['No significant change', '=', ''],
  not_enough_data: ['Not enough answers to tell', '?', ''],
  too_early: ['Too early to tell', '…', ''],
  no_kpi: ['No KPI linked', '–', ''],
  not_started: ['Not started', '–', ''],
};

const one = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

function signed(kpi: string, v: number): string {
  const s = v > 0 ? '+' : v < 0 ? '−' : '±';
  const a = Math.abs(v);
  if (kpi === 'nps') return `${s}${a.toFixed(1)} pts`;
  if (kpi === 'csat') return `${s}${a.toFixed(1)} pts`;
  if (kpi === 'ces') return `${s}${a.toFixed(2)}`;
  return `${s}${(100 * a).toFixed(1)} pts`;
}

function pText(p: number | null | undefined): string {
  if (p === null || p === undefined) return 'p —';
  return p < 0.001 ? 'p < 0.001' : `p = ${p.toFixed(3)}`;
}

function kpiLine(x: Initiative): string {
  if (!x.kpi) return 'No KPI linked';
  const scope = x.scope === 'company' ? 'company' : `${SCOPES[x.scope ?? ''] ?? x.scope}: ${x.scope_label}`;
  const exp = x.expected_change !== null ? `, expected ${signed(x.kpi, x.expected_change)}` : '';
  return `${x.kpi_label} · ${scope}${exp}`;
}

function riceText(x: Initiative): string {
  const parts = [
    x.reach !== null ? `reach ${fmtInt(x.reach)}` : 'reach —', x.impact !== null ? `impact ${x.impact}` : 'impact —',
    x.confidence !== null ? `confidence ${x.confidence} %` : 'confidence —', x.effort !== null ? `effort ${x.effort} pm` : 'effort —',
  ];
  return parts.join(' · ');
}

function days(w: Window): string {
  const n = Math.max(1, Math.round((Date.parse(w.to) - Date.parse(w.from)) / 86400000));
  return `${n} day${n === 1 ? '' : 's'}`;
}

function measurementBox(x: Initiative): HTMLElement | null {
  const m = x.measurement;
  if (m.verdict === 'not_started') return null;
  const [text, icon, cls] = VERDICT[m.verdict] ?? [m.verdict, '', ''];
  const box = h('div', { class: 'measure', 'data-verdict': m.verdict },
    h('span', { class: `badge ${cls}` }, h('span', { 'aria-hidden': 'true' }, `${icon} `), text));
  if (x.kpi && m.before) {
    const after = m.after;
    box.append(h('p', { class: 'small' },
      `${x.kpi_label}: ${fmtValue(x.kpi, m.before.value)} (n = ${fmtInt(m.before.n)}) before → `,
      after ? `${fmtValue(x.kpi, after.value)} (n = ${fmtInt(after.n)}) after` : 'after: not yet',
      m.change !== null && m.change !== undefined ? `; ${signed(x.kpi, m.change)}, ${pText(m.p_value)}` : ''),
    h('p', { class: 'muted small' }, `${x.measure_days} days before `, time(m.before.to, 'short'),
      after ? ' against ' : '', after ? `${days(after)} from ` : '',
      after ? time(after.from, 'short') : '', m.complete ? '' : ' (still running)'));
  }
  const rc = m.root_cause_cases;
  if (rc && rc.after !== null) {
    box.append(h('p', { class: 'muted small' }, 'Cases with its root causes: ',
      rc.before_per_week !== null ? `${one.format(rc.before_per_week)} a week before` : 'not recorded before (the closed loop began later)',
      rc.after_per_week !== null ? `, ${one.format(rc.after_per_week)} a week after` : `, ${fmtInt(rc.after)} after so far`));
  }
  return box;
}

export function initiativesPage(main: HTMLElement, ctx: PageContext): void {
  const program = can('program');
  const summary = h('p', { class: 'muted', 'aria-live': 'polite' });
  const flash = h('p', { id: 'initiatives-msg', class: 'form-msg ok', role: 'status' });
  const body = h('div', { 'aria-busy': 'true' }, loading('Loading the initiatives…'));
  const formSlot = h('div');
  main.append(pageHeader('Initiatives', 'What we are doing about what customers say: ranked by RICE score, each measured on the KPI it should move.'),
    summary, flash, body, formSlot);
  let edit: ((x: Initiative | null) => void) | null = null;

  async function load(): Promise<void> {
    try {
      render(await get<Board>('initiatives', {}, { signal: ctx.signal }));
    } catch (e) {
      if (aborted(e)) return;
      replace(body, errorState(e, load));
    } finally {
      body.setAttribute('aria-busy', 'false');
    }
  }

  function card(x: Initiative): HTMLElement {
    const li = h('li', { class: 'card initiative', 'data-initiative': x.id, 'data-status': x.status },
      h('h3', null, x.title),
      h('p', { class: 'muted small' }, x.owner_name ?? `user ${x.owner}`, ' ',
        x.score !== null ? h('span', { class: 'badge score', title: riceText(x) }, `RICE ${fmtInt(Math.round(x.score))}`) : h('span', { class: 'badge', title: riceText(x) }, 'not scored')),
      x.description ? h('p', { class: 'small' }, x.description) : null,
      h('p', { class: 'small kpi-line' }, kpiLine(x)),
      x.root_causes.length || x.themes.length
        ? h('ul', { class: 'chips', 'aria-label': 'Root causes and themes it answers' },
          x.root_causes.map((r) => h('li', { class: 'chip' }, h('span', { class: 'chip-label' }, r.name),
            ` · ${fmtInt(r.cases)} cases in ${x.measure_days} d`)),
          x.themes.map((t) => h('li', { class: 'chip' }, h('span', { class: 'chip-label' }, t.name),
            ` · ${fmtInt(t.volume)} verbatims in 90 d`)))
        : null,
      measurementBox(x));
    if (program) {
      const move = h('select', { 'aria-label': `Status of ${x.title}` },
        STATUSES.map(([v]) => h('option', { value: v, selected: v === x.status }, STATUS_ONE[v])));
      move.addEventListener('change', async () => {
        try {
          const y = await patch<Initiative>(`initiatives/${encodeURIComponent(x.id)}`, { status: move.value });
          flash.textContent = `${y.title}: ${STATUS_ONE[y.status].toLowerCase()}.`;
          await load();
        } catch (e) { move.value = x.status; alert(e instanceof Error ? e.message : String(e)); }
      });
      const ed = h('button', { type: 'button', class: 'btn btn-quiet' }, 'Edit');
      ed.setAttribute('aria-label', `Edit ${x.title}`);
      ed.addEventListener('click', () => edit?.(x));
      const rm = h('button', { type: 'button', class: 'btn btn-quiet' }, 'Remove');
      rm.setAttribute('aria-label', `Remove ${x.title}`);
      rm.addEventListener('click', async () => {
        if (!confirm(`Remove the initiative “${x.title}”?`)) return;
        try { await del(`initiatives/${encodeURIComponent(x.id)}`); flash.textContent = `Removed: ${x.title}.`; await load(); } catch (e) { alert(e instanceof Error ? e.message : String(e)); }
      });
      li.append(h('div', { class: 'form-actions' }, move, ed, rm));
    }
    return li;
  }

  function render(b: Board): void {
    const s = b.summary;
    const total = Object.values(s).reduce((a, n) => a + n, 0);
    summary.textContent = total
      ? `${total} initiatives: ${s.idea} ideas, ${s.planned} planned, ${s.in_progress} in progress, ${s.done} done${s.dropped ? `, ${s.dropped} dropped` : ''}.`
      : '';
    if (!total) {
      replace(body, h('section', { class: 'card' }, emptyState('No initiatives yet.', program ? 'Add the first one below.' : 'A CX lead adds them.')));
    } else {
      const col = ([st, label]: [string, string]): HTMLElement => {
        const items = b.initiatives.filter((x) => x.status === st);
        return h('section', { class: 'board-col', 'aria-labelledby': `col-${st}` },
          h('h2', { id: `col-${st}` }, label, h('span', { class: 'muted small' }, ` ${items.length}`)),
          items.length ? h('ol', { class: 'board-list' }, items.map(card)) : h('p', { class: 'muted small' }, 'None.'));
      };
      const dropped = b.initiatives.filter((x) => x.status === 'dropped');
      replace(body, h('div', { class: 'board' }, STATUSES.slice(0, 4).map(col)),
        dropped.length ? h('details', { class: 'card' }, h('summary', null, `Dropped (${dropped.length})`),
          h('ol', { class: 'board-list' }, dropped.map(card))) : null);
    }
    if (program && !formSlot.firstChild) formSlot.append(form());
  }

  function form(): HTMLElement {
    const msg = h('p', { class: 'form-msg', role: 'alert' });
    const ks = kpiScopeFields(ctx.signal, { none: true, onError: (m) => { msg.textContent = m; } });
    const { kpi, scope, value, owner } = ks;
    const title = field('Title', h('input', { name: 'title', required: true, maxlength: '200' }));
    const desc = field('Description', h('textarea', { name: 'description', rows: 2, maxlength: '4000' }));
    const status = field('Status', h('select', { name: 'status' }, STATUSES.map(([v]) => h('option', { value: v }, STATUS_ONE[v]))));
    const expected = field('Expected change', h('input', { type: 'number', name: 'expected_change', step: 'any' }), { help: 'in the KPI’s units: NPS or CSAT points, CES, a rate as a fraction' });
    const reach = field('Reach (customers a quarter)', h('input', { type: 'number', name: 'reach', min: '0', step: '1' }));
    const impact = field('Impact', h('select', { name: 'impact' }, IMPACTS.map(([v, l]) => h('option', { value: v }, l))));
    const confidence = field('Confidence (%)', h('input', { type: 'number', name: 'confidence', min: '0', max: '100' }));
    const effort = field('Effort (person-months)', h('input', { type: 'number', name: 'effort', min: '0', step: 'any' }));
    const days = field('Measure over (days)', h('input', { type: 'number', name: 'measure_days', min: '1', max: '366', value: '30' }));
    const started = field('Started on', h('input', { type: 'date', name: 'started_at' }));
    const done = field('Done on', h('input', { type: 'date', name: 'done_at' }));
    const causes = h('fieldset', { class: 'checks' }, h('legend', null, 'Root causes it answers'), h('p', { class: 'muted small' }, 'Loading…'));
    const themes = h('fieldset', { class: 'checks' }, h('legend', null, 'Themes it answers'), h('p', { class: 'muted small' }, 'Loading…'));
    const causeErr = h('p', { class: 'field-error', hidden: true });
    const themeErr = h('p', { class: 'field-error', hidden: true });
    const groupError = (el: HTMLElement) => ({ error(m: string) { el.textContent = m; el.hidden = !m; } });
    const fields: Record<string, { error(m: string): void }> = {
      title, description: desc, status, owner, kpi, scope, scope_value: value, expected_change: expected, reach, impact,
      confidence, effort, measure_days: days, started_at: started, done_at: done,
      root_causes: groupError(causeErr), themes: groupError(themeErr),
    };
    const heading = h('h2', { id: 'add-initiative-h' }, 'Add an initiative');
    const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add initiative');
    const cancel = h('button', { type: 'button', class: 'btn btn-quiet', hidden: true }, 'Cancel');
    let editing: Initiative | null = null;

    const listsReady = (async () => {
      const [rc, th] = await Promise.all([
        get<{ root_causes: RootCause[] }>('root-causes', {}, { signal: ctx.signal }).catch(() => ({ root_causes: [] })),
        get<{ catalogue: string[] }>('feedback/themes', {}, { signal: ctx.signal }).catch(() => ({ catalogue: [] })),
      ]);
      replace(causes, h('legend', null, 'Root causes it answers'),
        causeOptions(rc.root_causes).map((c) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'root_causes', value: c.id }), c.label)), causeErr);
      replace(themes, h('legend', null, 'Themes it answers'),
        th.catalogue.map((t) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'themes', value: t }), t)), themeErr);
    })();

    // dates are the user's own days: a start at the day's local midnight,
    // an end at its last moment (or now, today); shown as local dates
    const pad = (n: number): string => String(n).padStart(2, '0');
    const dateOf = (iso: string | null): string => {
      if (!iso) return '';
      const d = new Date(iso);
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    };
    const dayStart = (v: string): string => {
      const [y, mo, d] = v.split('-').map(Number);
      return new Date(y, mo - 1, d).toISOString();
    };
    const dayEnd = (v: string): string => {
      const [y, mo, d] = v.split('-').map(Number);
      return new Date(Math.min(new Date(y, mo - 1, d + 1).getTime() - 1, Date.now())).toISOString();
    };
    const num = (el: HTMLInputElement | HTMLSelectElement): number | null => (el.value === '' ? null : Number(el.value));
    const checked = (fs: HTMLElement): string[] => [...fs.querySelectorAll<HTMLInputElement>('input:checked')].map((i) => i.value);

    edit = (x: Initiative | null): void => {
      editing = x;
      heading.textContent = x ? `Edit “${x.title}”` : 'Add an initiative';
      submit.textContent = x ? 'Save changes' : 'Add initiative';
      cancel.hidden = !x;
      title.input.value = x?.title ?? '';
      desc.input.value = x?.description ?? '';
      status.input.value = x?.status ?? 'idea';
      void ks.ready.then(() => {
        if (x && ![...owner.input.options].some((o) => o.value === x.owner)) // an owner disabled since
          owner.input.append(h('option', { value: x.owner }, `${x.owner_name ?? `user ${x.owner}`} (disabled)`));
        owner.input.value = x?.owner ?? '';
        ks.set(x?.kpi ?? '', x?.scope ?? '', x?.scope_value ?? null);
      });
      expected.input.value = x?.expected_change !== null && x?.expected_change !== undefined ? String(x.expected_change) : '';
      reach.input.value = x?.reach !== null && x?.reach !== undefined ? String(x.reach) : '';
      impact.input.value = x?.impact !== null && x?.impact !== undefined ? String(x.impact) : '';
      confidence.input.value = x?.confidence !== null && x?.confidence !== undefined ? String(x.confidence) : '';
      effort.input.value = x?.effort !== null && x?.effort !== undefined ? String(x.effort) : '';
      days.input.value = String(x?.measure_days ?? 30);
      started.input.value = dateOf(x?.started_at ?? null);
      done.input.value = dateOf(x?.done_at ?? null);
      void listsReady.then(() => { // the boxes exist once the lists are in
        for (const i of causes.querySelectorAll<HTMLInputElement>('input')) i.checked = !!x?.root_causes.some((r) => r.id === i.value);
        for (const i of themes.querySelectorAll<HTMLInputElement>('input')) i.checked = !!x?.themes.some((t) => t.name === i.value);
      });
      if (x) title.input.focus();
    };
    cancel.addEventListener('click', () => edit?.(null));

    const f = h('form', { class: 'card initiative-form', 'aria-labelledby': 'add-initiative-h', novalidate: true },
      heading,
      h('div', { class: 'filters' }, title.el, owner.el, status.el),
      desc.el,
      h('div', { class: 'filters' }, kpi.el, scope.el, value.el, expected.el),
      h('div', { class: 'filters' }, reach.el, impact.el, confidence.el, effort.el),
      h('div', { class: 'filters' }, days.el, started.el, done.el),
      causes, themes,
      msg, h('div', { class: 'form-actions' }, submit, cancel));
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      for (const x of Object.values(fields)) x.error('');
      msg.textContent = '';
      msg.className = 'form-msg';
      const bodyOut: Record<string, unknown> = {
        title: title.input.value.trim(), description: desc.input.value, owner: owner.input.value, status: status.input.value,
        kpi: kpi.input.value || null, expected_change: kpi.input.value ? num(expected.input) : null,
        reach: num(reach.input), impact: num(impact.input), confidence: num(confidence.input), effort: num(effort.input),
        measure_days: Number(days.input.value || 30), root_causes: checked(causes), themes: checked(themes),
      };
      if (kpi.input.value) {
        bodyOut.scope = scope.input.value;
        if (scope.input.value !== 'company') bodyOut.scope_value = value.input.value;
      }
      const st = status.input.value;
      // a date is sent when it was changed: an unchanged day keeps the stored time
      if (st !== 'idea' && st !== 'planned') {
        if (started.input.value && started.input.value !== dateOf(editing?.started_at ?? null))
          bodyOut.started_at = dayStart(started.input.value);
        if (st !== 'in_progress' && done.input.value && done.input.value !== dateOf(editing?.done_at ?? null))
          bodyOut.done_at = dayEnd(done.input.value);
      }
      try {
        const y = editing
          ? await patch<Initiative>(`initiatives/${encodeURIComponent(editing.id)}`, bodyOut)
          : await post<Initiative>('initiatives', bodyOut);
        flash.textContent = `${editing ? 'Saved' : 'Added'}: ${y.title} (${STATUS_ONE[y.status].toLowerCase()}${y.score !== null ? `, RICE ${fmtInt(Math.round(y.score))}` : ''}).`;
        edit?.(null);
        await load();
      } catch (err) {
        if (err instanceof ApiError && err.field && fields[err.field]) fields[err.field].error(err.message);
        else { msg.className = 'form-msg error'; msg.textContent = err instanceof Error ? err.message : String(err); }
      }
    });
    return f;
  }

  void load();
}
