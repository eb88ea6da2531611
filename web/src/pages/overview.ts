// Overview: KPI tiles with sparklines and period comparison, events by
// channel over time, the channels table and the top events.
import { h, replace, svg, uid } from '../dom';
import { get, type Kpi, type Overview } from '../api';
import { bucketLabel, change, fmtChange, fmtCompact, fmtInt, fmtPercent } from '../format';
import { aborted, chartFailed, emptyState, errorState, loading, pageHeader, typeBadge } from '../ui';
import { setQuery, type PageContext } from '../router';

const DAY = 86400000;
const PERIODS = [
  { id: '7d', label: '7 days', long: 'the 7 days before' },
  { id: '30d', label: '30 days', long: 'the 30 days before' },
  { id: '90d', label: '90 days', long: 'the 13 weeks before' },
  { id: '12m', label: '12 months', long: 'the 12 months before' },
] as const;
type PeriodId = (typeof PERIODS)[number]['id'];

/** The range asked for a period. `from` starts on a UTC interval boundary
 *  so that buckets are whole days, weeks (from Monday) or months; `to` is
 *  now, and the server compares with the same length just before. */
function range(p: PeriodId): { from: string; to: string; interval: string } {
  const now = new Date();
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  let from: number;
  let interval = 'day';
  if (p === '7d') from = today - 6 * DAY;
  else if (p === '30d') from = today - 29 * DAY;
  else if (p === '90d') {
    interval = 'week';
    const monday = today - ((now.getUTCDay() + 6) % 7) * DAY;
    from = monday - 12 * 7 * DAY; // 13 weeks
  } else {
    interval = 'month';
    from = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 11, 1);
  }
  return { from: new Date(from).toISOString(), to: now.toISOString(), interval };
}

/** Colours for channels, in order; each reads on light and dark. */
export const PALETTE = ['#4f5bd5', '#0e9aa7', '#e07b00', '#2f9e44', '#d6336c', '#8c5cd6', '#868e96', '#c92a2a'];

const KPIS: { key: keyof Overview['kpis']; label: string; rate?: boolean; hint: string }[] = [
  { key: 'customers', label: 'Customers', hint: 'All known customers at the end of the period' },
  { key: 'active_customers', label: 'Active customers', hint: 'Customers with at least one event in the period' },
  { key: 'new_customers', label: 'New customers', hint: 'Customers first seen in the period' },
  { key: 'repeat_purchase_rate', label: 'Repeat-purchase rate', rate: true, hint: 'Share of buyers in the period who bought more than once' },
  { key: 'events', label: 'Events', hint: 'Events received in the period' },
];

export function overviewPage(main: HTMLElement, ctx: PageContext): void {
  const initial = PERIODS.find((p) => p.id === ctx.query.get('period'))?.id ?? '30d';
  const picker = periodPicker(initial, (p) => {
    const q = new URLSearchParams(ctx.query);
    q.set('period', p);
    setQuery(q);
    load(p);
  });
  const sub = h('span', null, 'How customers engage across every channel.');
  const body = h('div', { class: 'overview', 'aria-busy': 'false' });
  main.append(pageHeader('Overview', sub, picker), body);

  // Requests of a replaced load are aborted, so an older answer never
  // overwrites a newer one. The chart shown lives until the next one
  // replaces it (it stays visible, dimmed, while the next loads).
  let ac: AbortController | null = null;
  let chartAc: AbortController | null = null;
  async function load(p: PeriodId): Promise<void> {
    ac?.abort();
    ac = new AbortController();
    const signal = AbortSignal.any([ctx.signal, ac.signal]);
    body.setAttribute('aria-busy', 'true');
    if (!body.firstChild || body.querySelector('.state')) replace(body, loading('Loading the overview…'));
    else body.classList.add('stale');
    const r = range(p);
    // The chart code loads while the numbers are fetched.
    const chartMod = import('../chart');
    chartMod.catch(() => { /* said where the chart goes */ });
    try {
      const data = await get<Overview>('overview', r, { signal });
      const day = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });
      sub.textContent = `${day.formatRange(new Date(data.from), new Date(data.to))} (UTC) · by ${data.interval} · compared with ${PERIODS.find((x) => x.id === p)?.long}`;
      chartAc?.abort();
      chartAc = new AbortController();
      render(body, data, chartMod, AbortSignal.any([ctx.signal, chartAc.signal]));
    } catch (e) {
      if (aborted(e)) return;
      replace(body, errorState(e, () => load(p)));
    } finally {
      if (!signal.aborted) {
        body.setAttribute('aria-busy', 'false');
        body.classList.remove('stale');
      }
    }
  }
  load(initial);
}

function periodPicker(initial: PeriodId, onChange: (p: PeriodId) => void): HTMLElement {
  const name = uid('period');
  const group = h('fieldset', { class: 'segmented' }, h('legend', { class: 'sr-only' }, 'Period'));
  for (const p of PERIODS) {
    const id = `${name}-${p.id}`;
    const input = h('input', { type: 'radio', name, id, value: p.id, checked: p.id === initial });
    input.addEventListener('change', () => input.checked && onChange(p.id));
    group.append(input, h('label', { for: id }, p.label));
  }
  return group;
}

function render(body: HTMLElement, d: Overview, chartMod: Promise<typeof import('../chart')>, signal: AbortSignal): void {
  const labels = d.buckets.map((b) => bucketLabel(b, d.interval));
  const tiles = h('section', { class: 'kpis', 'aria-label': 'Key figures' },
    KPIS.map((k) => kpiTile(k.label, k.hint, d.kpis[k.key], !!k.rate, labels)));

  // Channels, busiest first; colours follow that order.
  const channels = [...d.channels].sort((a, b) => b.events - a.events);
  const color = (i: number): string => PALETTE[i % PALETTE.length] as string;
  const chartBox = h('div', {
    class: 'chart', role: 'img',
    'aria-label': `Events per channel per ${d.interval}, stacked. The table "Channels" lists the same totals.`,
  });
  const chartCard = h('section', { class: 'card', 'aria-labelledby': 'h-by-channel' },
    h('h2', { id: 'h-by-channel' }, 'Events by channel'),
    channels.length ? chartBox : emptyState('No events in this period.'));

  const total = channels.reduce((s, c) => s + c.events, 0);
  const channelTable = channels.length
    ? h('table', { class: 'table' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Channel'), h('th', { scope: 'col', class: 'num' }, 'Events'),
        h('th', { scope: 'col', class: 'num' }, 'Share'), h('th', { scope: 'col', class: 'num' }, 'Change'))),
      h('tbody', null, channels.map((c, i) => h('tr', null,
        h('th', { scope: 'row', class: 'nowrap' }, h('span', { class: 'swatch', style: `background:${color(i)}`, 'aria-hidden': 'true' }), c.source),
        h('td', { class: 'num' }, fmtInt(c.events)),
        h('td', { class: 'num' }, total ? fmtPercent(c.events / total) : '—'),
        h('td', { class: 'num' }, delta(c.events, c.previous, false))))))
    : emptyState('No channel sent events in this period.');
  const channelCard = h('section', { class: 'card', 'aria-labelledby': 'h-channels' },
    h('h2', { id: 'h-channels' }, 'Channels'), h('div', { class: 'table-wrap' }, channelTable));

  const max = Math.max(1, ...d.top_events.map((e) => e.events));
  const topCard = h('section', { class: 'card span-all', 'aria-labelledby': 'h-top' },
    h('h2', { id: 'h-top' }, 'Top events'),
    d.top_events.length
      ? h('table', { class: 'table' },
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, 'Event'), h('th', { scope: 'col' }, 'Type'),
          h('th', { scope: 'col', class: 'num' }, 'Events'), h('th', { scope: 'col', class: 'bar-col' }, h('span', { class: 'sr-only' }, 'Relative volume')))),
        h('tbody', null, d.top_events.map((e) => h('tr', null,
          h('th', { scope: 'row' }, e.name || h('span', { class: 'muted' }, `(${e.type})`)),
          h('td', null, typeBadge(e.type)),
          h('td', { class: 'num' }, fmtInt(e.events)),
          h('td', { class: 'bar-col', 'aria-hidden': 'true' }, h('span', { class: 'bar', style: `width:${(100 * e.events) / max}%` }))))))
      : emptyState('No events in this period.'));

  // A store without customers: say how to get data in.
  const start = d.kpis.customers?.value === 0
    ? h('div', { class: 'notice' },
      h('strong', null, 'No customers yet. '),
      'Send events from a Segment-compatible SDK or to ', h('code', null, 'POST /v1/batch'),
      ' with a source\'s write key, or try cxm with demo data: ', h('code', null, 'cxm demo --data DIR'), '.')
    : null;
  replace(body, start, tiles, h('div', { class: 'grid' }, chartCard, channelCard, topCard));

  if (channels.length) {
    chartMod.then(({ stackedBars }) => {
      if (signal.aborted) return;
      stackedBars(chartBox, labels, channels.map((c, i) => ({ name: c.source, color: color(i), data: c.series })), fmtCompact, signal);
    }).catch(() => chartFailed(chartBox));
  }
}

/** A KPI tile: value, change against the previous period, and sparkline. */
function kpiTile(label: string, hint: string, k: Kpi | undefined, rate: boolean, labels: string[]): HTMLElement {
  const fmt = (v: number | null): string => (v === null ? '—' : rate ? fmtPercent(v) : fmtInt(v));
  const id = uid('kpi');
  return h('article', { class: 'card kpi', 'aria-labelledby': id, title: hint },
    h('h2', { id, class: 'kpi-label' }, label),
    h('p', { class: 'kpi-value' }, fmt(k?.value ?? null)),
    h('p', { class: 'kpi-compare' }, k ? delta(k.value, k.previous, rate) : null,
      h('span', { class: 'muted' }, ` vs ${fmt(k?.previous ?? null)} before`)),
    k && k.series.length > 1 ? sparkline(k.series, labels, label, fmt) : null);
}

/** The change from `prev` to `cur`: "▲ +12.5%" (a rate: "+1.2 pts"), in
 *  green or red, with a text for screen readers (colour is not the only
 *  cue: the arrow and sign say it too). */
function delta(cur: number | null, prev: number | null, rate: boolean): HTMLElement {
  if (cur === null || prev === null) return h('span', { class: 'delta flat' }, '—');
  const diff = cur - prev;
  const rel = change(cur, prev);
  const text = rate
    ? `${diff > 0 ? '+' : diff < 0 ? '−' : '±'}${Math.abs(diff * 100).toFixed(1)} pts`
    : rel === null ? 'new' : fmtChange(rel);
  const dir = diff > 0 ? 'up' : diff < 0 ? 'down' : 'flat';
  const word = dir === 'up' ? 'Up' : dir === 'down' ? 'Down' : 'No change';
  return h('span', { class: `delta ${dir}` },
    h('span', { 'aria-hidden': 'true' }, dir === 'up' ? '▲ ' : dir === 'down' ? '▼ ' : '● '),
    h('span', { class: 'sr-only' }, `${word}: `),
    text);
}

/** A small SVG trend line; null values break the line. */
function sparkline(series: (number | null)[], labels: string[], label: string, fmt: (v: number | null) => string): SVGElement {
  const W = 120;
  const H = 32;
  const vals = series.filter((v): v is number => v !== null);
  // Scaled to the series' own range: a sparkline shows the shape.
  const lo = Math.min(...vals);
  const hi = Math.max(...vals, lo + 1e-9);
  const x = (i: number): number => (i * W) / Math.max(1, series.length - 1);
  const y = (v: number): number => H - 2 - ((v - lo) / (hi - lo)) * (H - 4);
  let d = '';
  let pen = false;
  series.forEach((v, i) => {
    if (v === null) {
      pen = false;
      return;
    }
    d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  });
  const first = series.findIndex((v) => v !== null);
  const last = series.length - 1;
  const s = svg('svg', { class: 'spark', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img' });
  s.setAttribute('aria-label',
    `${label} trend from ${labels[first] ?? ''} (${fmt(series[first] ?? null)}) to ${labels[last] ?? ''} (${fmt(series[last] ?? null)})`);
  // The area under the line only when the line has no gaps.
  if (d && vals.length === series.length) s.append(svg('path', { d: `${d}L${x(last)},${H}L${x(first)},${H}Z`, class: 'spark-area' }));
  if (d) s.append(svg('path', { d, class: 'spark-line', 'vector-effect': 'non-scaling-stroke' }));
  return s;
}
