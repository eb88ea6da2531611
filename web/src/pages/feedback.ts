// Feedback: NPS, CSAT and CES over a period (GET /api/v1/metrics/{nps,csat,
// ces}, lib/feedback/metrics.c): a tile per metric with its value, the
// number of answers and the 95% confidence interval, and in words whether
// it changed significantly from the period before; the chosen metric's
// trend per week, month or quarter with its confidence band; and a
// breakdown by channel, touchpoint, unit, agent or survey.
import { h, replace } from '../dom';
import { get, type Metric, type MetricFigure, type MetricKind, type SurveyList } from '../api';
import { bucketLabel, fmtInt, fmtPercent } from '../format';
import { aborted, chartFailed, emptyState, errorState, loading, pageHeader } from '../ui';
import { setQuery, type PageContext } from '../router';
import { field } from '../analytics';
import { rangeText } from '../analytics';
import {
  METRICS, PERIODS, dataEnd, one, periodOf, periodRange, segmented, surveySelect, surveys, type PeriodId,
} from '../listen';

const KINDS: MetricKind[] = ['nps', 'csat', 'ces'];
const INTERVALS = [
  { id: 'week', label: 'Week' }, { id: 'month', label: 'Month' }, { id: 'quarter', label: 'Quarter' },
] as const;
const BYS = [
  { id: 'channel', label: 'Channel' }, { id: 'touchpoint', label: 'Touchpoint' }, { id: 'unit', label: 'Unit' },
  { id: 'agent', label: 'Agent' }, { id: 'survey', label: 'Survey' },
] as const;

/** The figure's value (under the metric's own name). */
export function valueOf(k: MetricKind, f: MetricFigure | undefined | null): number | null {
  const v = f?.[k];
  return typeof v === 'number' ? v : null;
}

/** "NPS rose 6.2 points vs the previous 90 days (p = 0.03, significant)". */
export function compareSentence(k: MetricKind, m: Metric, previous: string): string {
  const def = METRICS[k];
  const c = m.compare;
  if (!c) return '';
  if (!m.n) return `No ${def.label} answers in this period to compare with ${previous}.`;
  if (!c.n) return `No ${def.label} answers in ${previous} to compare with.`;
  const change = c.change ?? 0;
  const amount = `${one.format(Math.abs(change))}${def.unit ? ` ${def.unit}` : ''}`;
  const moved = Math.abs(change) < 0.05 ? 'did not change' : `${change > 0 ? 'rose' : 'fell'} ${amount}`;
  const test = c.p_value === null
    ? 'too few answers to test'
    : `p ${c.p_value < 0.001 ? '< 0.001' : `= ${c.p_value.toFixed(c.p_value < 0.01 ? 3 : 2)}`}, ${c.significant ? 'significant' : 'not significant'}`;
  return `${def.label} ${moved} vs ${previous} (${test}).`;
}

function intervalLabel(iso: string, interval: string): string {
  if (interval !== 'quarter') return bucketLabel(iso, interval === 'week' ? 'day' : interval);
  const d = new Date(iso);
  return `Q${Math.floor(d.getUTCMonth() / 3) + 1} ${d.getUTCFullYear()}`;
}

export function feedbackPage(main: HTMLElement, ctx: PageContext): void {
  const q = ctx.query;
  let period: PeriodId = periodOf(q.get('period')).id;
  let metric: MetricKind = KINDS.includes(q.get('metric') as MetricKind) ? q.get('metric') as MetricKind : 'nps';
  const picker = segmented('Period', PERIODS, period, (p) => {
    period = p;
    load();
  });
  const sub = h('span', null, 'What customers say in surveys: NPS, CSAT and CES with their confidence.');
  const { select: surveySel, fill } = surveySelect(q.get('survey') ?? '');
  const intSel = h('select', { name: 'interval' }, INTERVALS.map((i) => h('option', { value: i.id }, i.label)));
  intSel.value = INTERVALS.some((i) => i.id === q.get('interval')) ? q.get('interval') as string : 'month';
  const bySel = h('select', { name: 'by' }, BYS.map((b) => h('option', { value: b.id }, b.label)));
  bySel.value = BYS.some((b) => b.id === q.get('by')) ? q.get('by') as string : 'channel';
  const surveyF = field('Survey', surveySel);
  const intF = field('Trend by', intSel);
  const byF = field('Breakdown by', bySel);
  const metricPick = segmented('Metric for the trend and the breakdown', KINDS.map((k) => ({ id: k, label: METRICS[k].label })), metric, (k) => {
    metric = k;
    if (last) {
      saveQuery();
      draw(last);
    }
  });
  const controls = h('section', { class: 'card filters-card', 'aria-label': 'Filters' },
    h('div', { class: 'filters' }, surveyF.el, intF.el, byF.el,
      h('div', { class: 'field' }, h('span', { class: 'label', 'aria-hidden': 'true' }, 'Metric'), metricPick)));
  const results = h('div', { class: 'results', 'aria-busy': 'true' });
  main.append(pageHeader('Feedback', sub, picker), controls, results);
  const chartMod = import('../chart');
  chartMod.catch(() => { /* said where the chart goes */ });

  let names = new Map<string, string>();
  let last: { metrics: Record<MetricKind, Metric>; interval: string; by: string; previous: string } | null = null;
  let chartAc: AbortController | null = null;
  let ac: AbortController | null = null;

  function saveQuery(): void {
    const out = new URLSearchParams({ period, metric, interval: intSel.value, by: bySel.value });
    if (surveySel.value) out.set('survey', surveySel.value);
    setQuery(out);
  }

  async function load(): Promise<void> {
    ac?.abort();
    ac = new AbortController();
    const signal = AbortSignal.any([ctx.signal, ac.signal]);
    saveQuery();
    results.setAttribute('aria-busy', 'true');
    if (!results.firstChild || results.querySelector('.state')) replace(results, loading('Computing the scores…'));
    else results.classList.add('stale');
    try {
      const [list, end] = await Promise.all([surveys(signal), dataEnd(signal)]);
      fill(list);
      names = new Map(list.map((s) => [s.id, s.name]));
      const p = periodOf(period);
      const r = periodRange(end, p.days);
      const query = { survey: surveySel.value, ...r, interval: intSel.value, by: bySel.value };
      const got = await Promise.all(KINDS.map((k) => get<Metric>(`metrics/${k}`, query, { signal })));
      sub.textContent = `${rangeText(r.from, r.to)}, compared with the ${p.label} before.`;
      last = {
        metrics: { nps: got[0] as Metric, csat: got[1] as Metric, ces: got[2] as Metric },
        interval: intSel.value, by: bySel.value, previous: `the previous ${p.label}`,
      };
      draw(last, list);
    } catch (e) {
      if (aborted(e)) return;
      replace(results, errorState(e, () => load()));
    } finally {
      if (!signal.aborted) {
        results.setAttribute('aria-busy', 'false');
        results.classList.remove('stale');
      }
    }
  }

  function draw(d: NonNullable<typeof last>, list?: SurveyList['surveys']): void {
    chartAc?.abort();
    chartAc = new AbortController();
    const signal = AbortSignal.any([ctx.signal, chartAc.signal]);
    const none = KINDS.every((k) => !d.metrics[k].n);
    const tiles = h('section', { class: 'kpis score-tiles', 'aria-label': 'Scores' },
      KINDS.map((k) => tile(k, d.metrics[k], d.previous)));
    if (none) {
      const noSurveys = list !== undefined && !list.length;
      replace(results, h('div', { class: 'stack' }, tiles, h('section', { class: 'card' },
        emptyState(noSurveys ? 'No surveys yet.' : 'No scored answers in this period.',
          noSurveys
            ? 'Create a survey with an NPS, CSAT or CES question and publish it; its answers show here.'
            : 'Choose a longer period or another survey.'),
        noSurveys ? h('p', { class: 'center' }, h('a', { class: 'btn btn-primary', href: '#/surveys/new' }, 'Create a survey')) : null)));
      return;
    }
    const m = d.metrics[metric];
    const def = METRICS[metric];
    replace(results, h('div', { class: 'stack' }, tiles,
      trendCard(metric, m, d.interval, chartMod, signal),
      breakdownCard(metric, m, d.by, names),
      h('p', { class: 'muted small' }, `${def.label}: ${def.means} The band and the intervals are 95% confidence intervals; a change is called significant when a two-sided test gives p < 0.05.`)));
  }

  for (const s of [surveySel, intSel, bySel]) s.addEventListener('change', () => load());
  load();
}

function tile(k: MetricKind, m: Metric, previous: string): HTMLElement {
  const def = METRICS[k];
  const v = valueOf(k, m);
  const c = m.compare;
  const change = c && m.n && c.n ? c.change : null;
  const dir = change === null ? 'flat' : change > 0.05 ? 'up' : change < -0.05 ? 'down' : 'flat';
  const detail = k === 'nps' && m.n
    ? `${fmtPercent((m.promoters ?? 0) / m.n)} promoters · ${fmtPercent((m.passives ?? 0) / m.n)} passives · ${fmtPercent((m.detractors ?? 0) / m.n)} detractors`
    : k === 'csat' && m.n ? `${fmtInt(m.satisfied ?? 0)} satisfied of ${fmtInt(m.n)}`
      : k === 'ces' && m.n && m.agree_pct !== null && m.agree_pct !== undefined ? `${one.format(m.agree_pct)}% found it easy (5–7)` : '';
  return h('article', { class: 'card kpi score-tile', 'data-metric': k, 'aria-labelledby': `tile-${k}` },
    h('h2', { class: 'kpi-label', id: `tile-${k}`, title: def.means }, `${def.label} · ${def.long}`),
    h('p', { class: 'kpi-value', 'data-value': v === null ? '' : String(v) }, v === null ? '—' : def.fmt(v)),
    h('p', { class: 'muted small tile-n', 'data-n': String(m.n) }, m.n ? `n = ${fmtInt(m.n)}` : 'No answers in this period'),
    m.ci95 ? h('p', { class: 'muted small tile-ci', 'data-lo': String(m.ci95[0]), 'data-hi': String(m.ci95[1]) },
      `95% CI ${def.fmt(m.ci95[0])} to ${def.fmt(m.ci95[1])}`) : null,
    detail ? h('p', { class: 'muted small' }, detail) : null,
    c ? h('p', { class: 'kpi-compare compare-sentence', 'data-significant': String(!!c.significant) },
      change !== null ? h('span', { class: `delta ${dir}`, 'aria-hidden': 'true' }, dir === 'up' ? '▲ ' : dir === 'down' ? '▼ ' : '● ') : null,
      compareSentence(k, m, previous)) : null);
}

function trendCard(k: MetricKind, m: Metric, interval: string, chartMod: Promise<typeof import('../chart')>, signal: AbortSignal): HTMLElement {
  const def = METRICS[k];
  const series = m.series ?? [];
  const labels = series.map((p) => intervalLabel(p.start, interval));
  const any = series.some((p) => p.n > 0);
  const figures = (i: number): string => {
    const p = series[i];
    const v = valueOf(k, p);
    if (!p || v === null) return 'No answers';
    return `${def.label} ${def.fmt(v)}${p.ci95 ? ` (95% CI ${def.fmt(p.ci95[0])} to ${def.fmt(p.ci95[1])})` : ''}, n = ${fmtInt(p.n)}`;
  };
  const box = h('div', {
    class: 'chart trend-chart', role: 'img',
    'aria-label': `${def.label} per ${interval} with its 95% confidence band: ${series.map((_, i) => `${labels[i]} ${figures(i)}`).join('; ')}.`,
  });
  if (any) {
    chartMod.then(({ bandLine }) => {
      if (signal.aborted) return;
      bandLine(box, labels, series.map((p) => ({ value: valueOf(k, p), lo: p.ci95?.[0] ?? null, hi: p.ci95?.[1] ?? null })),
        { name: def.label, tip: figures, fmt: (x) => (k === 'ces' ? one.format(x) : String(Math.round(x))), min: def.min, max: def.max }, signal);
    }).catch(() => chartFailed(box));
  }
  return h('section', { class: 'card', 'aria-labelledby': 'h-trend' },
    h('h2', { id: 'h-trend' }, `${def.label} per ${interval}`),
    h('p', { class: 'muted small' }, 'The shaded band is the 95% confidence interval: wide where there are few answers.'),
    any ? box : emptyState(`No ${def.label} answers in this period.`));
}

function breakdownCard(k: MetricKind, m: Metric, by: string, names: Map<string, string>): HTMLElement {
  const def = METRICS[k];
  const groups = m.groups ?? [];
  const span = def.max - def.min;
  const pos = (x: number): number => Math.max(0, Math.min(100, ((x - def.min) / span) * 100));
  const keyName = (key: string | null): string =>
    key === null ? '(not given)' : by === 'survey' ? names.get(key) ?? `Survey ${key}` : key;
  const table = h('table', { class: 'table breakdown-table stack-sm' },
    h('caption', { class: 'sr-only' }, `${def.label} by ${by}`),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, by.charAt(0).toUpperCase() + by.slice(1)),
      h('th', { scope: 'col', class: 'num' }, 'Answers'),
      h('th', { scope: 'col', class: 'num' }, def.label),
      h('th', { scope: 'col', class: 'num hide-sm' }, '95% CI'),
      h('th', { scope: 'col', class: 'ci-col' }, h('span', { class: 'sr-only' }, 'Value and interval on the scale'),
        h('span', { 'aria-hidden': 'true' }, `${def.fmt(def.min)} … ${def.fmt(def.max)}`)))),
    h('tbody', null, groups.map((g) => {
      const v = valueOf(k, g);
      const name = keyName(g.key);
      return h('tr', { 'data-key': g.key ?? '' },
        h('th', { scope: 'row', class: 'cell-full' }, name),
        h('td', { class: 'num', 'data-label': 'Answers' }, fmtInt(g.n)),
        h('td', { class: 'num group-value', 'data-label': def.label, 'data-value': v === null ? '' : String(v) }, v === null ? '—' : def.fmt(v)),
        h('td', { class: 'num hide-sm nowrap' }, g.ci95 ? `${def.fmt(g.ci95[0])} to ${def.fmt(g.ci95[1])}` : '—'),
        h('td', { class: 'ci-col' }, v === null ? null : h('div', {
          class: 'ci-track', role: 'img',
          'aria-label': `${name}: ${def.label} ${def.fmt(v)}${g.ci95 ? `, 95% CI ${def.fmt(g.ci95[0])} to ${def.fmt(g.ci95[1])}` : ''}`,
        },
        def.min < 0 ? h('span', { class: 'ci-zero', style: `left:${pos(0)}%` }) : null,
        g.ci95 ? h('span', { class: 'ci-range', style: `left:${pos(g.ci95[0])}%;width:${pos(g.ci95[1]) - pos(g.ci95[0])}%` }) : null,
        h('span', { class: 'ci-dot', style: `left:${pos(v)}%` }))));
    })));
  return h('section', { class: 'card', 'aria-labelledby': 'h-breakdown' },
    h('h2', { id: 'h-breakdown' }, `${def.label} by ${by}`),
    groups.length
      ? [h('p', { class: 'muted small' }, 'Largest groups first. The bar is the 95% confidence interval, the dot the value: groups whose bars do not overlap differ.'),
        h('div', { class: 'table-wrap' }, table)]
      : emptyState(`No answer in this period says its ${by}.`));
}
