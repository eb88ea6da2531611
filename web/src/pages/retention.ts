// Retention: cohorts by the interval of their first start event, and the
// share of each cohort who did the return event in each later interval
// (POST /api/v1/analytics/retention), as a shaded table.
import { h, replace } from '../dom';
import { post, type Retention, type RetentionQuery } from '../api';
import { bucketLabel, fmtInt, fmtPercent } from '../format';
import { emptyState, loading, pageHeader } from '../ui';
import { setQuery, type PageContext } from '../router';
import {
  dateInput, eventInput, field, monthStartBefore, namesList, rangeOf, rangeText, runner, startFromData, type Field,
} from '../analytics';

const INTERVALS = [['day', 'Day'], ['week', 'Week'], ['month', 'Month']] as const;
type Interval = (typeof INTERVALS)[number][0];

export function retentionPage(main: HTMLElement, ctx: PageContext): void {
  const q = ctx.query;
  const names = namesList();
  const sub = h('span', null, 'Of the customers who started in an interval, how many came back in each later one.');

  const startF = field('Start event', eventInput(q.get('start') ?? 'Order Completed', names, 'start'),
    { help: 'A customer joins the cohort of their first one in the range.' });
  const returnF = field('Return event', eventInput(q.get('return') ?? 'Order Completed', names, 'return'),
    { help: 'What counts as coming back.' });
  const intervalSel = h('select', { name: 'interval' }, INTERVALS.map(([v, l]) => h('option', { value: v }, l)));
  intervalSel.value = INTERVALS.some(([v]) => v === q.get('interval')) ? q.get('interval') as string : 'month';
  const intervalF = field('Interval', intervalSel);
  const periodsF = field('Periods', h('input', {
    type: 'number', name: 'periods', min: 1, max: 100, step: 1, value: q.get('periods') ?? '6', required: true, class: 'narrow',
  }));
  const fromF = field('From', dateInput(q.get('from') ?? '', 'from'));
  const toF = field('To', dateInput(q.get('to') ?? '', 'to'));
  const formErr = h('div', { class: 'form-alert' });
  const form = h('form', { class: 'builder', 'aria-label': 'Retention' },
    h('div', { class: 'form-row' }, startF.el, returnF.el),
    h('div', { class: 'form-row' }, intervalF.el, periodsF.el, fromF.el, toF.el),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Show retention')),
    formErr, names);
  const results = h('div', { class: 'results', 'aria-busy': 'false' });
  // What an answer says, for screen readers (the results are not announced).
  const said = h('p', { class: 'sr-only', role: 'status' });
  main.append(pageHeader('Retention', sub), h('section', { class: 'card' }, form), said, results);

  const fields: Record<string, Field<HTMLElement>> = {
    start_event: startF, return_event: returnF, interval: intervalF, periods: periodsF, from: fromF, to: toF,
  };
  const run = runner(ctx.signal, results, formErr, 'Computing the cohorts…', () => fields, async (signal) => {
    const body: RetentionQuery = {
      start_event: startF.input.value.trim(),
      return_event: returnF.input.value.trim(),
      interval: intervalSel.value as Interval,
      periods: Number(periodsF.input.value) || 0,
      ...rangeOf(fromF.input.value, toF.input.value),
    };
    setQuery(new URLSearchParams({
      start: body.start_event, return: body.return_event, interval: body.interval,
      periods: String(body.periods), from: fromF.input.value, to: toF.input.value,
    }));
    const r = await post<Retention>('analytics/retention', body, { signal });
    sub.textContent = `${rangeText(body.from, body.to)} · cohorts by ${r.interval} of the first “${body.start_event}”, returns as “${body.return_event}”`;
    said.textContent = `${r.cohorts.length} cohorts shown.`;
    replace(results, heatmap(r, body));
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run();
  });

  // Unless the address says otherwise: the last six months of the data.
  replace(results, loading('Loading…'));
  startFromData(ctx.signal, names, fromF, toF, (end) => monthStartBefore(end, 5), run);
}

/** The cohort table: one row per cohort, its size, then the share retained
 *  in each period, shaded by that share; the title of a cell says the
 *  counts. A first row averages the cohorts (weighted by size). */
function heatmap(r: Retention, qy: RetentionQuery): HTMLElement {
  const cohorts = r.cohorts;
  if (!cohorts.length) return emptyState('No cohorts in this range.');
  const periods = Math.max(r.periods ?? qy.periods, ...cohorts.map((c) => c.retained.length));
  const unit = INTERVALS.find(([v]) => v === r.interval)?.[1] ?? r.interval;
  const total = cohorts.reduce((s, c) => s + c.size, 0);

  const cell = (n: number | undefined, size: number, title: string): HTMLElement => {
    if (n === undefined) return h('td', { class: 'num heat future', title: 'Not happened yet' }, h('span', { class: 'sr-only' }, 'not yet'));
    if (!size) return h('td', { class: 'num heat muted', title }, '—');
    const share = n / size;
    // The shade grows with the share, up to 60% of the accent so that the
    // text stays readable on it (light and dark). The text says the value;
    // colour is only a help.
    const pct = Math.round(Math.min(1, share) * 60);
    return h('td', { class: 'num heat', title, style: `--heat:${Math.max(pct, share > 0 ? 3 : 0)}%` }, fmtPercent(share));
  };
  // All cohorts together: for each period, the cohorts that reached it.
  const avg = Array.from({ length: periods }, (_, k) => {
    let n = 0;
    let size = 0;
    for (const c of cohorts) {
      const v = c.retained[k];
      if (v !== undefined) {
        n += v;
        size += c.size;
      }
    }
    return size ? { n, size } : null;
  });

  const table = h('table', { class: 'table heatmap' },
    h('caption', { class: 'sr-only' }, `Share of each cohort who did ${qy.return_event}, by ${r.interval} after their first ${qy.start_event}`),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Cohort'),
      h('th', { scope: 'col', class: 'num' }, 'Customers'),
      Array.from({ length: periods }, (_, k) => h('th', { scope: 'col', class: 'num' }, `${unit} ${k}`)))),
    h('tbody', null,
      h('tr', { class: 'avg' },
        h('th', { scope: 'row' }, 'All cohorts'),
        h('td', { class: 'num' }, fmtInt(total)),
        avg.map((a, k) => (a ? cell(a.n, a.size, `All cohorts, ${unit.toLowerCase()} ${k}: ${fmtInt(a.n)} of ${fmtInt(a.size)} customers`) : cell(undefined, 0, '')))),
      cohorts.map((c) => {
        const label = bucketLabel(c.start, r.interval);
        return h('tr', null,
          h('th', { scope: 'row', class: 'nowrap', title: c.start }, label),
          h('td', { class: 'num' }, fmtInt(c.size)),
          Array.from({ length: periods }, (_, k) => cell(c.retained[k], c.size,
            `${label}, ${unit.toLowerCase()} ${k}: ${fmtInt(c.retained[k] ?? 0)} of ${fmtInt(c.size)} customers returned`)));
      })));
  return h('section', { class: 'card', 'aria-labelledby': 'h-cohorts' },
    h('h2', { id: 'h-cohorts' }, 'Cohorts'),
    h('p', { class: 'help' }, `${unit} 0 is the cohort's own ${r.interval} (returns after the start event only). Hover a cell for the counts.`),
    h('div', { class: 'table-wrap' }, table));
}
