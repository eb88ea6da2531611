// Lifecycle: the customers in each lifecycle stage now
// (GET /api/v1/lifecycle), in the order the stage rules are tried; how they
// moved over a period (the same call with from, to and interval: stages per
// interval, flows from the stage at the start to the stage at the end,
// transitions, time in stage); and the KPIs of the period
// (GET /api/v1/analytics/kpis).
import { h, replace } from '../dom';
import { get, type KpiPoint, type Kpis, type Lifecycle, type LifecyclePeriod } from '../api';
import { bucketLabel, fmtInt, fmtPercent, time } from '../format';
import { aborted, chartFailed, emptyState, errorState, loading, pageHeader, stageBadge } from '../ui';
import { setQuery, type PageContext } from '../router';
import {
  dateInput, field, fmtDuration, monthStartBefore, rangeOf, rangeText, runner, settled, startFromData, type Field,
} from '../analytics';

/** A colour per default stage, from cold (churned) to warm (advocacy). */
const STAGE_COLOURS: Record<string, string> = {
  churned: '#868e96', at_risk: '#c92a2a', support_experience: '#e07b00', advocacy: '#2f9e44', bonding: '#0e9aa7',
  purchase: '#4f5bd5', evaluation: '#8c5cd6', engagement: '#d6336c', awareness: '#a9b4c2', '(new)': '#5c6b7a',
};
const EXTRA = ['#1971c2', '#f08c00', '#5f3dc4', '#087f5b', '#e64980'];
function stageColour(name: string, i: number): string {
  return STAGE_COLOURS[name] ?? EXTRA[i % EXTRA.length] as string;
}

/** What each KPI means (docs/analytics.md, KPIs); `counts` says the
 *  numbers it is made of, for its tooltip and title. */
const KPIS: { key: 'activation_rate' | 'repeat_customer_rate' | 'loyalty_rate' | 'churn_rate'; name: string; colour: string;
  means: (k: Kpis) => string; counts: (p: KpiPoint) => string }[] = [
  {
    key: 'activation_rate', name: 'Activation', colour: '#4f5bd5',
    means: (k) => `Of the customers whose first event is in the interval, the share who did “${k.activation_event}” within ${k.activation_window_days} days of that first event.`,
    counts: (p) => `${fmtInt(p.activated)} of ${fmtInt(p.new_customers)} new customers`,
  },
  {
    key: 'repeat_customer_rate', name: 'Repeat customers', colour: '#0e9aa7',
    means: (k) => `Of the customers who did “${k.purchase_event}” in the interval, the share with at least two of them ever by the interval’s end.`,
    counts: (p) => `${fmtInt(p.repeat_buyers)} of ${fmtInt(p.buyers)} buyers`,
  },
  {
    key: 'loyalty_rate', name: 'Loyalty', colour: '#2f9e44',
    means: (k) => `Of the customers who did “${k.purchase_event}” in the interval before, the share who did it again in this one.`,
    counts: (p) => `${fmtInt(p.loyal_buyers)} of ${fmtInt(p.buyers_before)} buyers before`,
  },
  {
    key: 'churn_rate', name: 'Churn', colour: '#c92a2a',
    means: () => 'Of the customers active (any event) in the interval before, the share with no event in this one.',
    counts: (p) => `${fmtInt(p.churned)} of ${fmtInt(p.active_before)} active before`,
  },
];

/** What each default stage rule says (docs/guide.md), as tried after the
 *  stages above it; a stage of a custom rule set shows without a hint. */
const HINTS: Record<string, string> = {
  churned: 'Identified, and no event for more than 120 days',
  at_risk: 'Bought, but not in the last 60 days',
  support_experience: 'More tickets opened than closed in 14 days',
  advocacy: 'Two orders or more, and a review or referral',
  bonding: 'Two orders or more',
  purchase: 'One order',
  evaluation: 'Added a product or started a checkout',
  engagement: 'Identified (user id or e-mail)',
  awareness: 'Anonymous visitors',
};

export function lifecyclePage(main: HTMLElement, ctx: PageContext): void {
  const sub = h('span', null, 'Customers in each lifecycle stage now.');
  const refresh = h('button', { type: 'button', class: 'btn' }, 'Refresh');
  const body = h('div', { class: 'results', 'aria-busy': 'false' });
  const period = h('section', { class: 'period', 'aria-labelledby': 'h-period' });
  main.append(pageHeader('Lifecycle', sub, refresh), body, period);
  const chartMod = import('../chart');
  chartMod.catch(() => { /* said where the chart goes */ });
  periodView(period, ctx, chartMod);

  let ac: AbortController | null = null;
  async function load(): Promise<void> {
    ac?.abort();
    ac = new AbortController();
    const signal = AbortSignal.any([ctx.signal, ac.signal]);
    body.setAttribute('aria-busy', 'true');
    if (!body.firstChild || body.querySelector('.state')) replace(body, loading('Counting the stages…'));
    else body.classList.add('stale');
    try {
      const l = await get<Lifecycle>('lifecycle', {}, { signal });
      replace(sub, `${fmtInt(l.customers)} customers, as of `, time(l.as_of, 'seconds'), '. Each customer is in the first stage whose rule holds, tried in this order.');
      render(body, l, chartMod, signal);
    } catch (e) {
      if (!aborted(e)) replace(body, errorState(e, () => load()));
    } finally {
      settled(body, signal);
    }
  }
  refresh.addEventListener('click', () => load());
  load();
}

const INTERVALS = ['day', 'week', 'month'] as const;

/** The period: a form (from, to, interval), then the stages per interval,
 *  the flows, the transitions, the time in stage and the KPIs. */
function periodView(box: HTMLElement, ctx: PageContext, chartMod: Promise<typeof import('../chart')>): void {
  const q = ctx.query;
  const fromF = field('From', dateInput(q.get('from') ?? '', 'from'));
  const toF = field('To', dateInput(q.get('to') ?? '', 'to'));
  const intSel = h('select', { name: 'interval' }, INTERVALS.map((i) => h('option', { value: i }, i.charAt(0).toUpperCase() + i.slice(1))));
  intSel.value = (INTERVALS as readonly string[]).includes(q.get('interval') ?? '') ? q.get('interval') as string : 'month';
  const intF = field('Interval', intSel);
  const formErr = h('div', { class: 'form-alert' });
  const form = h('form', { class: 'builder', 'aria-label': 'Period' },
    h('div', { class: 'form-row' }, fromF.el, toF.el, intF.el,
      h('div', { class: 'form-actions period-go' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Show period'))),
    formErr);
  const range = h('p', { class: 'muted sub' });
  const results = h('div', { class: 'period-results', 'aria-busy': 'false' });
  const said = h('p', { class: 'sr-only', role: 'status' });
  replace(box, h('div', { class: 'page-head period-head' },
    h('div', null, h('h2', { id: 'h-period', class: 'h-section' }, 'How customers moved'), range)),
  h('section', { class: 'card' }, form), said, results);
  const fields: Record<string, Field<HTMLElement>> = { from: fromF, to: toF, interval: intF };
  const sankeyMod = import('../sankey');
  sankeyMod.catch(() => { /* said where the chart goes */ });

  const run = runner(ctx.signal, results, formErr, 'Following the customers through the period…', () => fields, async (signal) => {
    const query = { ...rangeOf(fromF.input.value, toF.input.value), interval: intSel.value };
    setQuery(new URLSearchParams({ from: fromF.input.value, to: toF.input.value, interval: intSel.value }));
    const [l, k] = await Promise.all([
      get<LifecyclePeriod>('lifecycle', query, { signal }),
      get<Kpis>('analytics/kpis', query, { signal }),
    ]);
    range.textContent = `${rangeText(l.from, l.to)}, by ${l.interval}`;
    said.textContent = `The period from ${fromF.input.value} to ${toF.input.value} is shown.`;
    renderPeriod(results, l, k, chartMod, sankeyMod, signal);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run();
  });
  intSel.addEventListener('change', () => run());

  // The last six months of the data, by month.
  replace(results, loading('Loading…'));
  startFromData(ctx.signal, null, fromF, toF, (end) => monthStartBefore(end, 5), run);
}

function renderPeriod(
  box: HTMLElement, l: LifecyclePeriod, k: Kpis,
  chartMod: Promise<typeof import('../chart')>, sankeyMod: Promise<typeof import('../sankey')>, signal: AbortSignal,
): void {
  const names = l.stages.map((s) => s.name);
  const labels = l.series.map((p) => bucketLabel(p.start, l.interval));

  // Stages per interval
  const stackBox = h('div', {
    class: 'chart stage-stack', role: 'img',
    'aria-label': `Customers per stage at the end of each ${l.interval}, stacked: ${l.series.map((p, i) => `${labels[i]} ${fmtInt(p.stages.reduce((a, b) => a + b, 0))}`).join(', ')}.`,
  });

  // Flows: the stage at the start (left) to the stage at the end (right)
  const flows = l.flows.filter((f) => f.customers > 0);
  const order = (n: string): number => (n === '(new)' ? names.length : Math.max(0, names.indexOf(n)));
  const left = [...new Set(flows.map((f) => f.from))].sort((a, b) => order(a) - order(b));
  const right = [...new Set(flows.map((f) => f.to))].sort((a, b) => order(a) - order(b));
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  const nodes = [
    ...left.map((n) => ({ id: `a:${n}`, label: label(n), depth: 0, value: sum(flows.filter((f) => f.from === n).map((f) => f.customers)), color: stageColour(n, order(n)) })),
    ...right.map((n) => ({ id: `b:${n}`, label: label(n), depth: 1, value: sum(flows.filter((f) => f.to === n).map((f) => f.customers)), color: stageColour(n, order(n)) })),
  ];
  const links = flows.map((f) => ({ source: `a:${f.from}`, target: `b:${f.to}`, value: f.customers }));
  const sankeyBox = h('div', {
    class: 'chart sankey flows-chart', role: 'img',
    'aria-label': `Flows of ${fmtInt(sum(flows.map((f) => f.customers)))} customers from their stage at the start of the period to their stage at its end. The largest: ${[...flows].sort((a, b) => b.customers - a.customers).slice(0, 5).map((f) => `${label(f.from)} to ${label(f.to)} ${fmtInt(f.customers)}`).join(', ')}.`,
  });

  const transitions = [...l.transitions].sort((a, b) => b.customers - a.customers);
  const transTable = h('table', { class: 'table transitions-table' },
    h('caption', { class: 'sr-only' }, 'Changes of stage in the period'),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'From'), h('th', { scope: 'col' }, 'To'),
      h('th', { scope: 'col', class: 'num' }, 'Customers'), h('th', { scope: 'col', class: 'num' }, 'Median time in “from”'))),
    h('tbody', null, transitions.map((t) => h('tr', { 'data-from': t.from, 'data-to': t.to },
      h('td', null, stageBadge(t.from)), h('td', null, stageBadge(t.to)),
      h('td', { class: 'num' }, fmtInt(t.customers)),
      h('td', { class: 'num', title: t.median_days_in_from === null ? 'The stays that began before the period are not timed' : `${t.median_days_in_from} days` },
        t.median_days_in_from === null ? '—' : fmtDuration(t.median_days_in_from * 86400))))));
  const timeTable = h('table', { class: 'table time-table' },
    h('caption', { class: 'sr-only' }, 'Time spent in each stage'),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Stage'), h('th', { scope: 'col', class: 'num' }, 'Stays'), h('th', { scope: 'col', class: 'num' }, 'Median time'))),
    h('tbody', null, l.time_in_stage.map((t) => h('tr', { 'data-stage': t.name },
      h('th', { scope: 'row' }, stageBadge(t.name)),
      h('td', { class: 'num' }, fmtInt(t.stays)),
      h('td', { class: 'num', title: t.median_days === null ? '' : `${t.median_days} days` }, t.median_days === null ? '—' : fmtDuration(t.median_days * 86400))))));

  // KPIs
  // an interval that has not ended says so: its rates are not final
  const kpiLabels = k.series.map((p) => bucketLabel(p.start, k.interval) + (p.partial ? ' (so far)' : ''));
  const kpiBox = h('div', {
    class: 'chart kpi-chart', role: 'img',
    'aria-label': `KPIs per ${k.interval}. The table "KPIs per ${k.interval}" lists the same.`,
  });
  const pct = (x: number | null): string => (x === null ? '—' : fmtPercent(x));
  const kpiTable = h('table', { class: 'table kpi-table' },
    h('caption', { class: 'sr-only' }, `KPIs per ${k.interval}`),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, k.interval.charAt(0).toUpperCase() + k.interval.slice(1)),
      KPIS.map((x) => h('th', { scope: 'col', class: 'num' }, x.name)))),
    h('tbody', null, k.series.map((p, i) => h('tr', { 'data-start': p.start },
      h('th', { scope: 'row', class: 'nowrap' }, kpiLabels[i]),
      KPIS.map((x) => h('td', { class: 'num', 'data-k': x.key, title: x.counts(p) }, pct(p[x.key])))))));
  const defs = h('dl', { class: 'kpi-defs' }, KPIS.map((x) => h('div', null,
    h('dt', null, h('span', { class: 'swatch', style: `background:${x.colour}`, 'aria-hidden': 'true' }), x.name),
    h('dd', null, x.means(k)))));

  const any = l.series.some((p) => p.stages.some((n) => n > 0));
  replace(box, h('div', { class: 'stack' },
    h('section', { class: 'card', 'aria-labelledby': 'h-stack' }, h('h2', { id: 'h-stack' }, `Customers per stage, at the end of each ${l.interval}`),
      any ? stackBox : emptyState('No customer had an event by the end of this period.')),
    h('div', { class: 'grid period-grid' },
      h('section', { class: 'card', 'aria-labelledby': 'h-flows' }, h('h2', { id: 'h-flows' }, 'From the stage at the start to the stage at the end'),
        flows.length ? sankeyBox : emptyState('No flows in this period.')),
      h('section', { class: 'card', 'aria-labelledby': 'h-time' }, h('h2', { id: 'h-time' }, 'Time in stage'),
        h('p', { class: 'muted small' }, 'Over the stays that began and ended in the period.'),
        l.time_in_stage.length ? h('div', { class: 'table-wrap' }, timeTable) : emptyState('No stay began and ended in the period.'))),
    h('section', { class: 'card', 'aria-labelledby': 'h-trans' }, h('h2', { id: 'h-trans' }, 'Transitions'),
      h('p', { class: 'muted small' }, 'Every change of stage in the period (a customer may skip stages or go back; each change counts); the median time spent in the stage left, for the stays whose start was seen in the period.'),
      transitions.length ? h('div', { class: 'table-wrap' }, transTable) : emptyState('No customer changed stage in this period.')),
    h('section', { class: 'card', 'aria-labelledby': 'h-kpis' }, h('h2', { id: 'h-kpis' }, `KPIs per ${k.interval}`),
      k.series.length ? [kpiBox, defs, h('div', { class: 'table-wrap' }, kpiTable)] : emptyState('No intervals in this period.'))));

  chartMod.then(({ stackedBars, rateLines }) => {
    if (signal.aborted) return;
    if (any) {
      stackedBars(stackBox, labels, names.map((n, i) => ({ name: label(n), color: stageColour(n, i), data: l.series.map((p) => p.stages[i] ?? 0) })), fmtInt, signal, 24 * Math.ceil(names.length / 3) + 16);
    }
    if (k.series.length) {
      rateLines(kpiBox, kpiLabels, KPIS.map((x) => ({ name: x.name, color: x.colour, data: k.series.map((p) => p[x.key]) })),
        (si, i) => {
          const x = KPIS[si];
          const p = k.series[i];
          return x && p ? `${x.name}: ${pct(p[x.key])} (${x.counts(p)})` : '';
        }, fmtPercent, signal);
    }
  }).catch(() => chartFailed(stackBox));
  if (flows.length) {
    sankeyMod.then(({ sankey }) => {
      if (signal.aborted) return;
      sankey(sankeyBox, nodes, links, fmtInt, signal);
    }).catch(() => chartFailed(sankeyBox));
  }
}

function label(name: string): string {
  const s = name.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function render(box: HTMLElement, l: Lifecycle, chartMod: Promise<typeof import('../chart')>, signal: AbortSignal): void {
  if (!l.customers) {
    replace(box, h('section', { class: 'card' }, emptyState('No customers yet.', 'Stages appear once customers send events.')));
    return;
  }
  const stages = l.stages;
  const chartBox = h('div', {
    class: 'chart', role: 'img', style: `height:${Math.max(200, 38 * stages.length + 24)}px`,
    'aria-label': `Customers per stage: ${stages.map((s) => `${label(s.name)} ${fmtInt(s.customers)}`).join(', ')}. The table lists the same.`,
  });
  const table = h('table', { class: 'table stages-table' },
    h('caption', { class: 'sr-only' }, 'Customers per lifecycle stage'),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Stage'), h('th', { scope: 'col', class: 'hide-sm' }, 'Means'),
      h('th', { scope: 'col', class: 'num' }, 'Customers'), h('th', { scope: 'col', class: 'num' }, 'Share'))),
    h('tbody', null, stages.map((s) => h('tr', null,
      h('th', { scope: 'row' }, stageBadge(s.name)),
      h('td', { class: 'hide-sm muted' }, HINTS[s.name] ?? ''),
      h('td', { class: 'num' }, fmtInt(s.customers)),
      h('td', { class: 'num' }, fmtPercent(s.customers / l.customers))))),
    h('tfoot', null, h('tr', null,
      h('th', { scope: 'row' }, 'All customers'), h('td', { class: 'hide-sm' }),
      h('td', { class: 'num' }, fmtInt(l.customers)), h('td', { class: 'num' }, fmtPercent(1)))));
  replace(box, h('div', { class: 'stack' },
    h('section', { class: 'card', 'aria-labelledby': 'h-stage-chart' }, h('h2', { id: 'h-stage-chart' }, 'Customers per stage'), chartBox),
    h('section', { class: 'card', 'aria-labelledby': 'h-stage-table' }, h('h2', { id: 'h-stage-table' }, 'Stages'), h('div', { class: 'table-wrap' }, table))));

  chartMod.then(({ hBars }) => {
    if (signal.aborted) return;
    hBars(chartBox, stages.map((s) => label(s.name)), stages.map((s) => s.customers), {
      label: (i) => `${fmtInt(stages[i]?.customers ?? 0)} · ${fmtPercent((stages[i]?.customers ?? 0) / l.customers)}`,
      tip: (i) => `${label(stages[i]?.name ?? '')}: ${fmtInt(stages[i]?.customers ?? 0)} customers`,
    }, signal);
  }).catch(() => chartFailed(chartBox));
}
