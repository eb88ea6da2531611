// Funnels: a builder (2 to 20 steps, each an event and an optional rule;
// window, range, breakdown) and the answer of POST /api/v1/analytics/funnel:
// customers per step with conversion and the median time between steps,
// and the same per group.
import { h, replace, uid } from '../dom';
import { post, type Funnel, type FunnelQuery, type FunnelStep } from '../api';
import { fmtInt, fmtPercent } from '../format';
import { chartFailed, emptyState, loading, pageHeader } from '../ui';
import { setQuery, type PageContext } from '../router';
import {
  dateInput, dayBefore, eventInput, field, fmtDuration, namesList, rangeOf, rangeText, runner, startFromData, type Field,
} from '../analytics';

const MIN_STEPS = 2;
const MAX_STEPS = 20;
const DEFAULT_STEPS = ['Product Viewed', 'Product Added', 'Checkout Started', 'Order Completed'];
const WINDOWS = [
  ['30m', '30 minutes'], ['1h', '1 hour'], ['12h', '12 hours'], ['1d', '1 day'], ['7d', '7 days'],
  ['14d', '14 days'], ['30d', '30 days'], ['90d', '90 days'],
] as const;
const BY_SUGGESTIONS = ['source', 'traits.plan', 'traits.country', 'traits.city', 'traits.signup_channel'];

interface StepRow { li: HTMLElement; event: Field; where: Field }

export function funnelsPage(main: HTMLElement, ctx: PageContext): void {
  const q = ctx.query;
  const names = namesList();
  const sub = h('span', null, 'How many customers go through a sequence of events, and how fast.');

  // ---- The builder ----
  const initialSteps = q.getAll('step').filter(Boolean);
  const initialWhere = q.getAll('where');
  const stepsList = h('ol', { class: 'steps' });
  let rows: StepRow[] = [];
  const addBtn = h('button', { type: 'button', class: 'btn' }, '+ Add step');

  function stepRow(event: string, where: string): StepRow {
    const ev = field('Step', eventInput(event, names, 'step'), { cls: 'grow' });
    const wh = field('where', h('input', {
      type: 'text', name: 'where', value: where, autocomplete: 'off', spellcheck: 'false',
      placeholder: 'optional rule, e.g. event.source == "web"', class: 'mono-input',
    }), { cls: 'grow' });
    const remove = h('button', { type: 'button', class: 'btn btn-icon' }, '×');
    const li = h('li', { class: 'step-row' }, ev.el, wh.el, remove);
    const row = { li, event: ev, where: wh };
    remove.addEventListener('click', () => {
      const at = rows.indexOf(row);
      rows = rows.filter((r) => r !== row);
      renumber();
      (rows[Math.max(0, at - 1)]?.event.input ?? addBtn).focus();
    });
    return row;
  }
  function renumber(): void {
    stepsList.replaceChildren(...rows.map((r) => r.li));
    rows.forEach((r, i) => {
      const n = i + 1;
      (r.event.el.querySelector('label') as HTMLLabelElement).textContent = `Step ${n}`;
      const wl = r.where.el.querySelector('label') as HTMLLabelElement;
      wl.replaceChildren(h('span', { class: 'sr-only' }, `Step ${n} `), 'where');
      const rm = r.li.querySelector('button') as HTMLButtonElement;
      rm.setAttribute('aria-label', `Remove step ${n}`);
      rm.disabled = rows.length <= MIN_STEPS;
    });
    addBtn.disabled = rows.length >= MAX_STEPS;
  }
  const start = initialSteps.length >= 1 ? initialSteps : DEFAULT_STEPS;
  rows = start.slice(0, MAX_STEPS).map((e, i) => stepRow(e, initialWhere[i] ?? ''));
  while (rows.length < MIN_STEPS) rows.push(stepRow('', ''));
  renumber();
  addBtn.addEventListener('click', () => {
    const r = stepRow('', '');
    rows.push(r);
    renumber();
    r.event.input.focus();
  });

  const windowSel = h('select', { name: 'window' },
    WINDOWS.map(([v, label]) => h('option', { value: v }, label)));
  const win = q.get('window') ?? '7d';
  if (!WINDOWS.some(([v]) => v === win)) windowSel.append(h('option', { value: win }, win));
  windowSel.value = win;
  const windowF = field('Window', windowSel);
  const fromF = field('From', dateInput(q.get('from') ?? '', 'from'));
  const toF = field('To', dateInput(q.get('to') ?? '', 'to'));
  const byList = h('datalist', { id: uid('by') }, BY_SUGGESTIONS.map((v) => h('option', { value: v })));
  const byF = field('Break down by', h('input', {
    type: 'text', name: 'by', value: q.get('by') ?? '', list: byList.id, autocomplete: 'off', spellcheck: 'false',
    placeholder: 'source or traits.plan',
  }), { help: 'Optional: source, or a trait as traits.<name>.' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Show funnel');
  const formErr = h('div', { class: 'form-alert' });
  const form = h('form', { class: 'builder', 'aria-label': 'Funnel' },
    h('fieldset', { class: 'steps-set' }, h('legend', null, 'Steps, in order'),
      h('p', { class: 'help' }, 'A customer enters at the first step and counts for each later step done in this order, within the window.'),
      stepsList, addBtn),
    h('div', { class: 'form-row' }, windowF.el, fromF.el, toF.el, byF.el),
    h('div', { class: 'form-actions' }, submit),
    formErr, names, byList);

  const results = h('div', { class: 'results', 'aria-busy': 'false' });
  // What an answer says, for screen readers (the results are not announced).
  const said = h('p', { class: 'sr-only', role: 'status' });
  main.append(pageHeader('Funnels', sub), h('section', { class: 'card' }, form), said, results);

  // ---- Asking ----
  let chartAc: AbortController | null = null;
  const chartMod = import('../chart');
  chartMod.catch(() => { /* said where the chart goes */ });

  function fieldsMap(): Record<string, Field<HTMLElement>> {
    const m: Record<string, Field<HTMLElement>> = { window: windowF, from: fromF, to: toF, by: byF };
    rows.forEach((r, i) => {
      m[`steps.${i}.event`] = r.event;
      m[`steps.${i}`] = r.event;
      m[`steps.${i}.where`] = r.where;
    });
    if (rows[0]) m.steps = rows[0].event;
    return m;
  }

  const run = runner(ctx.signal, results, formErr, 'Computing the funnel…', fieldsMap, async (signal) => {
    const body: FunnelQuery = {
      steps: rows.map((r) => {
        const where = r.where.input.value.trim();
        return where ? { event: r.event.input.value.trim(), where } : { event: r.event.input.value.trim() };
      }),
      window: windowSel.value,
      ...rangeOf(fromF.input.value, toF.input.value),
    };
    const by = byF.input.value.trim();
    if (by) body.by = by;
    // The address keeps the question, so it can be shared and reloaded.
    const nq = new URLSearchParams();
    for (const s of body.steps) {
      nq.append('step', s.event);
      nq.append('where', s.where ?? '');
    }
    nq.set('window', body.window);
    nq.set('from', fromF.input.value);
    nq.set('to', toF.input.value);
    if (by) nq.set('by', by);
    setQuery(nq);

    const f = await post<Funnel>('analytics/funnel', body, { signal });
    sub.textContent = `${rangeText(f.from ?? body.from, f.to ?? body.to)} · within ${windowLabel(f.window ?? body.window)} of the first step`;
    said.textContent = `${fmtInt(f.steps[0]?.customers ?? 0)} customers entered the funnel; ${fmtInt(f.steps[f.steps.length - 1]?.customers ?? 0)} reached the last step.`;
    chartAc?.abort();
    chartAc = new AbortController();
    render(results, f, by, chartMod, AbortSignal.any([ctx.signal, chartAc.signal]));
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run();
  });

  // Names for the suggestions; and, unless the address gives a range, the
  // last 30 days of the data.
  replace(results, loading('Loading…'));
  startFromData(ctx.signal, names, fromF, toF, (end) => dayBefore(end, 29), run);
}

function windowLabel(w: string): string {
  return WINDOWS.find(([v]) => v === w)?.[1] ?? w;
}

function render(
  box: HTMLElement, f: Funnel, by: string, chartMod: Promise<typeof import('../chart')>, signal: AbortSignal,
): void {
  const steps = f.steps;
  const entered = steps[0]?.customers ?? 0;
  const chartBox = h('div', {
    class: 'chart funnel-chart', role: 'img', style: `height:${Math.max(180, 44 * steps.length + 24)}px`,
    'aria-label': `Customers per step: ${steps.map((s, i) => `step ${i + 1}, ${s.event}, ${fmtInt(s.customers)}`).join('; ')}. The table below lists the same.`,
  });
  const stepsTable = h('table', { class: 'table funnel-table stack-sm' },
    h('caption', { class: 'sr-only' }, 'Customers per step'),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Step'),
      h('th', { scope: 'col', class: 'num' }, 'Customers'),
      h('th', { scope: 'col', class: 'num' }, 'Conversion'),
      h('th', { scope: 'col', class: 'num' }, 'From previous'),
      h('th', { scope: 'col', class: 'num' }, 'Median time'))),
    h('tbody', null, steps.map((s, i) => h('tr', null,
      h('th', { scope: 'row', class: 'cell-full' }, h('span', { class: 'step-no' }, `${i + 1}`), s.event),
      h('td', { class: 'num', 'data-label': 'Customers' }, fmtInt(s.customers)),
      h('td', { class: 'num', 'data-label': 'Conversion' }, i === 0 ? '100%' : fmtPercent(s.conversion)),
      h('td', { class: 'num', 'data-label': 'From previous' }, i === 0 ? '—' : fromPrev(steps, i)),
      h('td', { class: 'num', 'data-label': 'Median time', title: s.median_seconds === null ? null : `${fmtInt(s.median_seconds)} s` }, i === 0 ? '—' : fmtDuration(s.median_seconds))))));
  const main = h('section', { class: 'card', 'aria-labelledby': 'h-funnel' },
    h('h2', { id: 'h-funnel' }, 'Customers per step'),
    entered ? chartBox : emptyState('No customer entered this funnel.', 'Nobody did the first step in this range (with its rule). Try a longer range or another first step.'),
    h('div', { class: 'table-wrap' }, stepsTable));

  const groups = f.groups ?? [];
  const groupCard = by
    ? h('section', { class: 'card', 'aria-labelledby': 'h-groups' },
      h('h2', { id: 'h-groups' }, `By ${by}`),
      groups.length ? h('div', { class: 'table-wrap' }, groupsTable(groups, steps)) : emptyState('No groups.'))
    : null;
  replace(box, h('div', { class: 'stack' }, main, groupCard));

  if (entered) {
    chartMod.then(({ hBars }) => {
      if (signal.aborted) return;
      hBars(chartBox, steps.map((s, i) => `${i + 1}. ${s.event}`), steps.map((s) => s.customers), {
        label: (i) => `${fmtInt(steps[i]?.customers ?? 0)} · ${fmtPercent(i === 0 ? 1 : steps[i]?.conversion ?? 0)}`,
        tip: (i) => {
          const s = steps[i] as FunnelStep;
          return i === 0
            ? `${s.event}: ${fmtInt(s.customers)} customers entered`
            : `${s.event}: ${fmtInt(s.customers)} customers, ${fmtPercent(s.conversion)} of those who entered, ${fromPrev(steps, i)} of the previous step; median ${fmtDuration(s.median_seconds)} after it`;
        },
      }, signal);
    }).catch(() => chartFailed(chartBox));
  }
}

function fromPrev(steps: FunnelStep[], i: number): string {
  const prev = steps[i - 1]?.customers ?? 0;
  return prev ? fmtPercent((steps[i]?.customers ?? 0) / prev) : '—';
}

/** The groups: customers who entered, then each later step's customers and
 *  conversion within the group. */
function groupsTable(groups: { key: string; steps: FunnelStep[] }[], steps: FunnelStep[]): HTMLElement {
  return h('table', { class: 'table groups-table' },
    h('caption', { class: 'sr-only' }, 'Customers per step in each group'),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Group'),
      steps.map((s, i) => h('th', { scope: 'col', class: 'num' }, `${i + 1}. ${s.event}`)))),
    h('tbody', null, groups.map((g) => h('tr', null,
      h('th', { scope: 'row' }, g.key === '(none)' || g.key === '(other)' ? h('span', { class: 'muted' }, g.key) : g.key),
      g.steps.map((s, i) => h('td', { class: 'num' },
        fmtInt(s.customers),
        i > 0 ? h('span', { class: 'muted small' }, ` ${fmtPercent(s.conversion)}`) : null,
        h('span', { class: 'cell-bar', style: `width:${(100 * (i === 0 ? 1 : s.conversion)).toFixed(1)}%`, 'aria-hidden': 'true' })))))));
}
