// How well the closed loop runs: the SLA board (open cases by unit and SLA
// state, % within SLA, median times to first response and resolution) and
// the root causes (the Pareto of resolved cases, the recovery rate) with,
// for roles with 'program', the editors of the root-cause tree, the case
// rules and the SLA policies (docs/cases.md). Everything shown is text.
import { h, replace } from '../dom';
import { ApiError, del, get, post, put } from '../api';
import { fmtInt } from '../format';
import { aborted, chartFailed, emptyState, errorState, loading, pageHeader } from '../ui';
import type { PageContext } from '../router';
import { field, fmtDuration, type Field } from '../analytics';
import { can } from '../session';
import { OPEN_STATUSES, PRIORITY_LABEL, breached, causeOptions, type CaseItem, type RootCause } from '../cases';

interface Metrics {
  from: string; to: string; cases: number; open: number; overdue: number;
  median_first_response_seconds: number | null; median_resolution_seconds: number | null;
  within_sla: { settled: number; met: number; percent: number | null };
  root_causes: { id: string; name: string; count: number; percent: number; cumulative_percent: number }[];
  recovery: { detractor_cases: number; answered: number; recovered: number; rate: number | null };
}
interface Unit { id: string; name: string; parent: string | null }
interface Rule { id: string; name: string; when: string; unit: string; priority: string; sla_policy: string | null; follow_up_survey: string | null; enabled: boolean }
interface Policy { id: string; name: string; first_response_seconds: number; resolution_seconds: number; default: boolean }

const one = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const SOON = 4 * 3600 * 1000;

function tile(label: string, value: string, sub: string): HTMLElement {
  return h('div', { class: 'card kpi' }, h('p', { class: 'kpi-label' }, label), h('p', { class: 'kpi-value' }, value),
    h('p', { class: 'kpi-compare muted' }, sub));
}

async function openCases(signal: AbortSignal): Promise<CaseItem[]> {
  const pages = await Promise.all(OPEN_STATUSES.map((s) => get<{ cases: CaseItem[] }>('cases', { status: s, limit: 1000 }, { signal })));
  return pages.flatMap((p) => p.cases);
}

export function slaPage(main: HTMLElement, ctx: PageContext): void {
  const body = h('div', { 'aria-busy': 'true' }, loading('Loading the SLA board…'));
  main.append(pageHeader('SLA board', 'Open cases by unit and SLA state, and how the last 30 days went.'), body);
  const chartMod = import('../chart');

  async function load(): Promise<void> {
    try {
      const [m, open] = await Promise.all([get<Metrics>('cases/metrics', {}, { signal: ctx.signal }), openCases(ctx.signal)]);
      render(m, open);
    } catch (e) {
      if (!aborted(e)) replace(body, errorState(e, load));
    } finally {
      body.setAttribute('aria-busy', 'false');
    }
  }

  function render(m: Metrics, open: CaseItem[]): void {
    const now = Date.now();
    const state = (c: CaseItem): 0 | 1 | 2 => {
      if (breached(c) || c.overdue || (c.due_at && Date.parse(c.due_at) < now)) return 2;
      return c.due_at && Date.parse(c.due_at) - now < SOON ? 1 : 0;
    };
    const byUnit = new Map<string, [number, number, number]>();
    for (const c of open) {
      const k = c.unit_name ?? c.unit;
      const row = byUnit.get(k) ?? [0, 0, 0];
      row[state(c)]++;
      byUnit.set(k, row);
    }
    const units = [...byUnit.keys()].sort((a, b) => a.localeCompare(b));
    const totals = [0, 1, 2].map((i) => open.filter((c) => state(c) === i).length);
    const tiles = h('div', { class: 'kpis' },
      tile('Within SLA', m.within_sla.percent === null ? '—' : `${one.format(m.within_sla.percent)} %`,
        `${fmtInt(m.within_sla.met)} of ${fmtInt(m.within_sla.settled)} settled cases, last 30 days`),
      tile('Median first response', fmtDuration(m.median_first_response_seconds), 'from opening to the first note or move'),
      tile('Median resolution', fmtDuration(m.median_resolution_seconds), 'from opening to resolved'),
      tile('Open now', fmtInt(open.length), `${fmtInt(totals[2] ?? 0)} breached or overdue, ${fmtInt(totals[1] ?? 0)} due within 4 h`));
    const chart = h('div', { class: 'chart', role: 'img', 'aria-label': 'Open cases by unit and SLA state (the table below gives the numbers)' });
    const table = h('div', { class: 'table-wrap' }, h('table', { class: 'table sla-table' },
      h('caption', { class: 'sr-only' }, 'Open cases by unit and SLA state'),
      h('thead', null, h('tr', null, h('th', null, 'Unit'), h('th', { class: 'num' }, 'On time'), h('th', { class: 'num' }, 'Due within 4 h'),
        h('th', { class: 'num' }, 'Breached or overdue'), h('th', { class: 'num' }, 'Open'))),
      h('tbody', null, units.map((u) => {
        const r = byUnit.get(u) ?? [0, 0, 0];
        return h('tr', null, h('th', { scope: 'row' }, u), h('td', { class: 'num' }, fmtInt(r[0])), h('td', { class: 'num' }, fmtInt(r[1])),
          h('td', { class: 'num' }, r[2] ? h('strong', null, `${fmtInt(r[2])} late`) : '0'), h('td', { class: 'num' }, fmtInt(r[0] + r[1] + r[2])));
      })),
      h('tfoot', null, h('tr', null, h('th', { scope: 'row' }, 'All'), totals.map((t) => h('td', { class: 'num' }, fmtInt(t))),
        h('td', { class: 'num' }, fmtInt(open.length))))));
    replace(body, h('div', { class: 'stack' }, tiles,
      h('section', { class: 'card', 'aria-labelledby': 'sla-units-h' }, h('h2', { id: 'sla-units-h' }, 'Open cases by unit'),
        open.length ? [chart, table] : emptyState('No open cases.', 'Every case is resolved or closed.'))));
    if (open.length) {
      chartMod.then((c) => c.stackedBars(chart, units, [
        { name: 'On time', color: '#2f9e44', data: units.map((u) => byUnit.get(u)?.[0] ?? 0) },
        { name: 'Due within 4 h', color: '#e07b00', data: units.map((u) => byUnit.get(u)?.[1] ?? 0) },
        { name: 'Breached or overdue', color: '#c92a2a', data: units.map((u) => byUnit.get(u)?.[2] ?? 0) },
      ], fmtInt, ctx.signal, 64, true)).catch(() => chartFailed(chart));
    }
  }

  load();
}

// ---- root causes and the configuration ----

/** One editable kind: how its form reads and fills its fields. */
interface Spec<T> {
  path: string;
  title: string;
  noun: string;
  fields: () => Record<string, Field<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>>;
  read: (f: Record<string, Field<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>>) => Record<string, unknown>;
  fill: (f: Record<string, Field<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>>, item: T) => void;
  cells: (item: T) => (Node | string)[];
  heads: string[];
  name: (item: T) => string;
}

function errorTo(fields: Record<string, Field<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>>, msg: HTMLElement, err: unknown,
  alias: Record<string, string> = {}): void {
  const text = err instanceof Error ? err.message : String(err);
  const key = err instanceof ApiError && err.field ? alias[err.field] ?? err.field : '';
  const f = fields[key];
  if (f) { f.error(text); f.input.focus(); } else { msg.className = 'form-msg error'; msg.textContent = text; }
}

function editor<T extends { id: string }>(spec: Spec<T>, items: T[], reload: () => Promise<void>, alias: Record<string, string> = {}): HTMLElement {
  const msg = h('p', { class: 'form-msg', role: 'alert' });
  const rows = items.map((it) => {
    const edit = h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'aria-label': `Edit ${spec.name(it)}` }, 'Edit');
    const remove = h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'aria-label': `Delete ${spec.name(it)}` }, 'Delete');
    const tr = h('tr', null, spec.cells(it).map((c) => h('td', null, c)), h('td', { class: 'nowrap' }, edit, remove));
    edit.addEventListener('click', () => {
      tr.nextElementSibling?.classList.contains('edit-row') && tr.nextElementSibling.remove();
      const fields = spec.fields();
      spec.fill(fields, it);
      const emsg = h('p', { class: 'form-msg', role: 'alert' });
      const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
      const form = h('form', { class: 'inline-edit', 'aria-label': `Edit ${spec.name(it)}`, novalidate: true },
        h('div', { class: 'filters' }, Object.values(fields).map((f) => f.el)), emsg,
        h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save'), cancel));
      const row = h('tr', { class: 'edit-row' }, h('td', { colspan: String(spec.heads.length + 1) }, form));
      tr.after(row);
      cancel.addEventListener('click', () => row.remove());
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        for (const f of Object.values(fields)) f.error('');
        try {
          await put(`${spec.path}/${encodeURIComponent(it.id)}`, spec.read(fields));
          await reload();
        } catch (err) {
          errorTo(fields, emsg, err, alias);
        }
      });
      (Object.values(fields)[0]?.input as HTMLElement | undefined)?.focus();
    });
    remove.addEventListener('click', async () => {
      if (!confirm(`Delete ${spec.noun} "${spec.name(it)}"?`)) return;
      try {
        await del(`${spec.path}/${encodeURIComponent(it.id)}`);
        await reload();
      } catch (err) {
        msg.className = 'form-msg error';
        msg.textContent = `${spec.name(it)}: ${err instanceof Error ? err.message : String(err)}`;
      }
    });
    return tr;
  });
  const fields = spec.fields();
  const amsg = h('p', { class: 'form-msg', role: 'alert' });
  const add = h('form', { class: 'add-form', 'aria-label': `Add ${spec.noun}`, novalidate: true },
    h('h3', null, `Add ${spec.noun}`), h('div', { class: 'filters' }, Object.values(fields).map((f) => f.el)), amsg,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, `Add ${spec.noun}`)));
  add.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const f of Object.values(fields)) f.error('');
    amsg.textContent = '';
    try {
      await post(spec.path, spec.read(fields));
      await reload();
    } catch (err) {
      errorTo(fields, amsg, err, alias);
    }
  });
  const id = `cfg-${spec.path}`;
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, spec.title),
    items.length
      ? h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
        h('thead', null, h('tr', null, spec.heads.map((x) => h('th', null, x)), h('th', null, h('span', { class: 'sr-only' }, 'Actions')))),
        h('tbody', null, rows)))
      : emptyState(`No ${spec.noun} yet.`),
    msg, add);
}

const text = (label: string, max = 100): Field<HTMLInputElement> =>
  field(label, h('input', { type: 'text', maxlength: String(max), autocomplete: 'off' }));
const check = (label: string): Field<HTMLInputElement> => field(label, h('input', { type: 'checkbox' }), { cls: 'check-field' });
const hoursOf = (s: number): string => String(Math.round((s / 3600) * 100) / 100);

export function rootCausesPage(main: HTMLElement, ctx: PageContext): void {
  const program = can('program');
  const body = h('div', { 'aria-busy': 'true' }, loading('Loading the root causes…'));
  main.append(pageHeader('Root causes', program
    ? 'What causes the cases (the Pareto of the last 90 days), and the tree, rules and SLA policies the loop runs on.'
    : 'What causes the cases: the Pareto of the last 90 days.'), body);
  const chartMod = import('../chart');

  async function load(): Promise<void> {
    try {
      const to = new Date();
      const from = new Date(to.getTime() - 90 * 86400000);
      const [m, rc] = await Promise.all([
        get<Metrics>('cases/metrics', { from: from.toISOString(), to: to.toISOString() }, { signal: ctx.signal }),
        get<{ root_causes: RootCause[] }>('root-causes', {}, { signal: ctx.signal }),
      ]);
      let config: HTMLElement[] = [];
      if (program) {
        const [rules, sla, units] = await Promise.all([
          get<{ case_rules: Rule[] }>('case-rules', {}, { signal: ctx.signal }),
          get<{ sla_policies: Policy[] }>('sla-policies', {}, { signal: ctx.signal }),
          get<{ units: Unit[] }>('units', {}, { signal: ctx.signal }),
        ]);
        config = editors(rc.root_causes, rules.case_rules, sla.sla_policies, units.units);
      }
      render(m, config);
    } catch (e) {
      if (!aborted(e)) replace(body, errorState(e, load));
    } finally {
      body.setAttribute('aria-busy', 'false');
    }
  }

  function render(m: Metrics, config: HTMLElement[]): void {
    const rec = m.recovery;
    const tiles = h('div', { class: 'kpis' },
      tile('Cases with a root cause', fmtInt(m.root_causes.reduce((s, r) => s + r.count, 0)), `of ${fmtInt(m.cases)} opened in the last 90 days`),
      tile('Top cause', m.root_causes[0]?.name ?? '—', m.root_causes[0] ? `${one.format(m.root_causes[0].percent)} % of the causes found` : 'none yet'),
      tile('Recovery rate', rec.rate === null ? '—' : `${one.format(rec.rate * 100)} %`,
        rec.answered ? `${fmtInt(rec.recovered)} of ${fmtInt(rec.answered)} detractors answered the follow-up as promoters`
          : `${fmtInt(rec.detractor_cases)} detractor cases; no follow-up answers yet`));
    const chart = h('div', { class: 'chart pareto-chart', role: 'img', 'aria-label': 'Pareto of root causes (the table below gives the numbers)' });
    const table = h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('caption', { class: 'sr-only' }, 'Resolved cases by root cause'),
      h('thead', null, h('tr', null, h('th', null, 'Root cause'), h('th', { class: 'num' }, 'Cases'), h('th', { class: 'num' }, 'Share'),
        h('th', { class: 'num' }, 'Cumulative'))),
      h('tbody', null, m.root_causes.map((r) => h('tr', null, h('th', { scope: 'row' }, r.name), h('td', { class: 'num' }, fmtInt(r.count)),
        h('td', { class: 'num' }, `${one.format(r.percent)} %`), h('td', { class: 'num' }, `${one.format(r.cumulative_percent)} %`))))));
    replace(body, h('div', { class: 'stack' }, tiles,
      h('section', { class: 'card', 'aria-labelledby': 'pareto-h' }, h('h2', { id: 'pareto-h' }, 'Pareto of root causes'),
        m.root_causes.length ? [chart, table] : emptyState('No case has a root cause yet.', 'Resolving a case records its root cause.')),
      config));
    if (m.root_causes.length) {
      chartMod.then((c) => c.pareto(chart, m.root_causes.map((r) => r.name), m.root_causes.map((r) => r.count),
        m.root_causes.map((r) => r.cumulative_percent), ctx.signal)).catch(() => chartFailed(chart));
    }
  }

  function editors(causes: RootCause[], rules: Rule[], policies: Policy[], units: Unit[]): HTMLElement[] {
    const causeName = new Map(causeOptions(causes).map((o) => [o.id, o.label]));
    const unitName = new Map(units.map((u) => [u.id, u.name]));
    const policyName = new Map(policies.map((p) => [p.id, p.name]));
    const causesSpec: Spec<RootCause> = {
      path: 'root-causes', title: 'Root-cause tree', noun: 'a root cause', heads: ['Root cause'],
      fields: () => ({
        name: text('Name'),
        parent: field('Under', h('select', null, h('option', { value: '' }, 'At the top'),
          causeOptions(causes).map((o) => h('option', { value: o.id }, o.label)))),
      }),
      read: (f) => ({ name: f.name!.input.value.trim(), parent: f.parent!.input.value || null }),
      fill: (f, it) => { f.name!.input.value = it.name; f.parent!.input.value = it.parent ?? ''; },
      cells: (it) => [causeName.get(it.id) ?? it.name],
      name: (it) => it.name,
    };
    const policiesSpec: Spec<Policy> = {
      path: 'sla-policies', title: 'SLA policies', noun: 'an SLA policy', heads: ['Policy', 'First response', 'Resolution', 'Default'],
      fields: () => ({
        name: text('Name'),
        first_response_seconds: field('First response within (hours)', h('input', { type: 'number', min: '0.01', step: 'any' })),
        resolution_seconds: field('Resolution within (hours)', h('input', { type: 'number', min: '0.01', step: 'any' })),
        default: check('The default policy'),
      }),
      read: (f) => ({
        name: f.name!.input.value.trim(),
        first_response_seconds: Math.round(Number(f.first_response_seconds!.input.value) * 3600),
        resolution_seconds: Math.round(Number(f.resolution_seconds!.input.value) * 3600),
        default: (f.default!.input as HTMLInputElement).checked,
      }),
      fill: (f, it) => {
        f.name!.input.value = it.name;
        f.first_response_seconds!.input.value = hoursOf(it.first_response_seconds);
        f.resolution_seconds!.input.value = hoursOf(it.resolution_seconds);
        (f.default!.input as HTMLInputElement).checked = it.default;
      },
      cells: (it) => [it.name, fmtDuration(it.first_response_seconds), fmtDuration(it.resolution_seconds), it.default ? 'Default' : ''],
      name: (it) => it.name,
    };
    const rulesSpec: Spec<Rule> = {
      path: 'case-rules', title: 'Case rules', noun: 'a case rule', heads: ['Rule', 'When', 'Unit', 'Priority', 'SLA', 'On'],
      fields: () => ({
        name: text('Name'),
        when: field('When (rules language)', h('input', { type: 'text', maxlength: '2000', autocomplete: 'off', spellcheck: 'false', class: 'mono-input', placeholder: 'response.nps <= 6' })),
        unit: field('Unit', h('select', null, h('option', { value: '' }, 'Choose a unit…'), units.map((u) => h('option', { value: u.id }, u.name)))),
        priority: field('Priority', h('select', null, Object.entries(PRIORITY_LABEL).map(([k, v]) => h('option', { value: k }, v)))),
        sla_policy: field('SLA policy', h('select', null, h('option', { value: '' }, 'The default policy'),
          policies.map((p) => h('option', { value: p.id }, p.name)))),
        enabled: check('Enabled'),
      }),
      read: (f) => ({
        name: f.name!.input.value.trim(), when: f.when!.input.value.trim(), unit: f.unit!.input.value,
        priority: f.priority!.input.value, sla_policy: f.sla_policy!.input.value || null,
        enabled: (f.enabled!.input as HTMLInputElement).checked,
      }),
      fill: (f, it) => {
        f.name!.input.value = it.name; f.when!.input.value = it.when; f.unit!.input.value = it.unit;
        f.priority!.input.value = it.priority; f.sla_policy!.input.value = it.sla_policy ?? '';
        (f.enabled!.input as HTMLInputElement).checked = it.enabled;
      },
      cells: (it) => [it.name, h('code', null, it.when), unitName.get(it.unit) ?? it.unit, PRIORITY_LABEL[it.priority] ?? it.priority,
        it.sla_policy ? policyName.get(it.sla_policy) ?? it.sla_policy : 'Default', it.enabled ? 'On' : 'Off'],
      name: (it) => it.name,
    };
    const rulesCard = editor(rulesSpec, rules, load);
    // a new rule is enabled unless unticked
    const addEnabled = rulesCard.querySelector<HTMLInputElement>('.add-form input[type=checkbox]');
    if (addEnabled) addEnabled.checked = true;
    return [editor(causesSpec, causes, load), rulesCard, editor(policiesSpec, policies, load)];
  }

  load();
}
