// Apache ECharts, imported piece by piece (bars, lines, scatter, grid,
// tooltip, legend, SVG renderer) to keep the bundle small. Loaded on demand by the pages with
// charts.
import * as echarts from 'echarts/core';
import {
  BarChart, LineChart, ScatterChart, RadarChart,
  type BarSeriesOption, type LineSeriesOption, type ScatterSeriesOption, type RadarSeriesOption,
} from 'echarts/charts';
import {
  GridComponent, TooltipComponent, LegendComponent, RadarComponent,
  type GridComponentOption, type TooltipComponentOption, type LegendComponentOption, type RadarComponentOption,
} from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';

echarts.use([BarChart, LineChart, ScatterChart, RadarChart, GridComponent, TooltipComponent, LegendComponent, RadarComponent, SVGRenderer]);

type Option = echarts.ComposeOption<BarSeriesOption | LineSeriesOption | ScatterSeriesOption | RadarSeriesOption | GridComponentOption | TooltipComponentOption | LegendComponentOption | RadarComponentOption>;

/** Reads a colour from the page's CSS variables, so the chart follows the
 *  light or dark scheme. */
function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** What every chart takes from the page: the axis text and grid colours,
 *  the font (ECharts measures text on a canvas, so it needs a real font
 *  name, not "inherit", or its labels overlap), the legend, and the
 *  tooltip's box (spread into each tooltip). */
function look() {
  const text = cssVar('--text-2');
  const grid = cssVar('--border');
  const fontFamily = getComputedStyle(document.body).fontFamily;
  return {
    text, grid, fontFamily,
    legend: { top: 0, left: 0, icon: 'roundRect' as const, itemWidth: 10, itemHeight: 10, itemGap: 16, textStyle: { color: text, fontFamily } },
    box: { backgroundColor: cssVar('--surface'), borderColor: grid, textStyle: { color: cssVar('--text'), fontFamily } },
  };
}

/** Draws stacked bars in `el`: one series per name, `labels` on the x axis.
 *  The chart resizes with its box and is disposed when `signal` aborts. */
export function stackedBars(
  el: HTMLElement,
  labels: string[],
  series: { name: string; color: string; data: number[] }[],
  fmt: (n: number) => string,
  signal: AbortSignal,
  /** room above the plot for the legend, on a narrow chart (many series take more lines) */
  narrowTop = 64,
  /** counts: no ticks between whole numbers */
  integer = false,
): void {
  const chart = echarts.init(el, null, { renderer: 'svg' });
  const { text, grid, fontFamily, legend, box } = look();
  const option: Option = {
    animationDuration: 300,
    textStyle: { fontFamily },
    grid: { left: 8, right: 8, top: 36, bottom: 4, containLabel: true },
    legend,
    tooltip: {
      trigger: 'axis',
      axisPointer: { type: 'shadow' },
      valueFormatter: (v) => (typeof v === 'number' ? fmt(v) : String(v)),
      ...box,
    },
    xAxis: {
      type: 'category', data: labels,
      axisLine: { lineStyle: { color: grid } }, axisTick: { show: false },
      axisLabel: { color: text, hideOverlap: true, fontFamily },
    },
    yAxis: {
      type: 'value', splitLine: { lineStyle: { color: grid } }, minInterval: integer ? 1 : 0,
      axisLabel: { color: text, fontFamily, formatter: (v: number) => fmt(v) },
    },
    series: series.map((s) => ({
      type: 'bar', name: s.name, stack: 'all', data: s.data, itemStyle: { color: s.color },
      barMaxWidth: 28, emphasis: { focus: 'series' },
    })),
  };
  // On a narrow chart the legend takes two lines (or more): leave it room.
  const top = (): number => (el.clientWidth < 520 ? narrowTop : 36);
  chart.setOption({ ...option, grid: { ...option.grid, top: top() } });
  follow(chart, el, signal, () => chart.setOption({ grid: { top: top() } }));
}

/** Horizontal bars, one per label, top to bottom in the given order (a
 *  funnel's steps, the lifecycle stages), each labelled at its end with
 *  `label(i)`; the tooltip says `tip(i)`. Resizes with its box; disposed
 *  when `signal` aborts. */
export function hBars(
  el: HTMLElement,
  labels: string[],
  values: number[],
  opts: { label: (i: number) => string; tip: (i: number) => string; color?: string; colors?: string[]; onClick?: (i: number) => void },
  signal: AbortSignal,
): void {
  const chart = echarts.init(el, null, { renderer: 'svg' });
  const { grid, fontFamily, box } = look();
  const accent = opts.color ?? cssVar('--accent');
  // Room at the right of the longest bar for its label.
  const room = (): number => (el.clientWidth < 520 ? 1.9 : 1.3);
  const narrowY = (): number => (el.clientWidth < 520 ? 110 : 170);
  const option: Option = {
    animationDuration: 300,
    textStyle: { fontFamily },
    grid: { left: 8, right: 8, top: 4, bottom: 4, containLabel: true },
    tooltip: {
      trigger: 'item',
      formatter: (p) => esc(opts.tip((p as { dataIndex: number }).dataIndex)),
      ...box,
    },
    yAxis: {
      type: 'category', data: labels, inverse: true,
      axisLine: { lineStyle: { color: grid } }, axisTick: { show: false },
      axisLabel: { color: cssVar('--text'), fontFamily, width: narrowY(), overflow: 'truncate' },
    },
    // The bars carry their values; the axis only leaves room for them.
    xAxis: {
      type: 'value', splitLine: { show: false }, axisLabel: { show: false },
      max: (v: { max: number }) => Math.max(1, v.max) * room(),
    },
    series: [{
      type: 'bar',
      data: values.map((v, i) => ({ value: v, itemStyle: { color: opts.colors?.[i] ?? accent } })),
      barMaxWidth: 34,
      label: { show: true, position: 'right', color: cssVar('--text'), fontFamily, formatter: (p) => opts.label(p.dataIndex) },
    }],
  };
  chart.setOption(option);
  if (opts.onClick) {
    const click = opts.onClick;
    chart.on('click', (p) => click(p.dataIndex));
    el.style.cursor = 'pointer';
  }
  follow(chart, el, signal, () => chart.setOption({ yAxis: { axisLabel: { width: narrowY() } } }));
}

/** Lines of rates (0..1) per bucket, one series per name; the tooltip
 *  shows each rate with `tip(series, i)` (its counts). null is a gap.
 *  Resizes with its box; disposed when `signal` aborts. */
export function rateLines(
  el: HTMLElement,
  labels: string[],
  series: { name: string; color: string; data: (number | null)[] }[],
  tip: (series: number, i: number) => string,
  fmt: (x: number) => string,
  signal: AbortSignal,
): void {
  const chart = echarts.init(el, null, { renderer: 'svg' });
  const { text, grid, fontFamily, legend, box } = look();
  const top = (): number => (el.clientWidth < 520 ? 64 : 36);
  const option: Option = {
    animationDuration: 300,
    textStyle: { fontFamily },
    grid: { left: 8, right: 12, top: top(), bottom: 4, containLabel: true },
    legend,
    tooltip: {
      trigger: 'axis',
      ...box,
      formatter: (ps) => {
        const list = (Array.isArray(ps) ? ps : [ps]) as { seriesIndex: number; dataIndex: number; marker?: string }[];
        const first = list[0];
        if (!first) return '';
        return [esc(labels[first.dataIndex] ?? ''),
          ...list.map((p) => `${typeof p.marker === 'string' ? p.marker : ''}${esc(tip(p.seriesIndex, p.dataIndex))}`)].join('<br>');
      },
    },
    xAxis: {
      type: 'category', data: labels, boundaryGap: false,
      axisLine: { lineStyle: { color: grid } }, axisTick: { show: false },
      axisLabel: { color: text, hideOverlap: true, fontFamily },
    },
    yAxis: {
      type: 'value', min: 0, max: (v: { max: number }) => (v.max > 0.5 ? 1 : Math.min(1, Math.ceil(v.max * 10 + 0.5) / 10)),
      splitLine: { lineStyle: { color: grid } },
      axisLabel: { color: text, fontFamily, formatter: (v: number) => fmt(v) },
    },
    series: series.map((s) => ({
      type: 'line', name: s.name, data: s.data, connectNulls: false, symbol: 'circle', symbolSize: 7,
      itemStyle: { color: s.color }, lineStyle: { color: s.color, width: 2 }, emphasis: { focus: 'series' },
    })),
  };
  chart.setOption(option);
  follow(chart, el, signal, () => chart.setOption({ grid: { top: top() } }));
}

/** A point of a journey map's emotion curves: x in 0..columns (a column
 *  per stage, so that it sits above the stage's cards), y on the map's
 *  emotion scale (-2..2; null: no answers there, a gap in the curve), and
 *  the words its tooltip says. */
export interface EmotionPoint {
  x: number;
  y: number | null;
  name: string;
  stage: string;
  mot: boolean;
  /** what the tooltip adds after the value (the scores behind it) */
  detail?: string;
}

/** A journey map's emotion curves: the expected emotion (a smooth line,
 *  moments of truth as diamonds) and, when `measured` is given, the
 *  emotion the survey scores measure at the same touchpoints (squares, a
 *  gap where no one answered), with a legend. The y labels sit inside the
 *  plot, so the plot spans the box exactly as the columns do. */
export function emotionCurve(
  el: HTMLElement,
  columns: number,
  points: EmotionPoint[],
  signal: AbortSignal,
  measured?: EmotionPoint[],
): void {
  const chart = echarts.init(el, null, { renderer: 'svg' });
  const { grid, fontFamily, box } = look();
  const up = cssVar('--up');
  const down = cssVar('--down');
  const mid = cssVar('--text-2');
  const measuredColour = cssVar('--measured') || '#c2410c';
  const words = ['Very negative', 'Negative', 'Neutral', 'Positive', 'Very positive'];
  const word = (y: number): string => words[Math.max(0, Math.min(4, Math.round(y) + 2))] ?? '';
  const signed = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2, signDisplay: 'exceptZero' });
  const legend = !!measured;
  const option: Option = {
    animationDuration: 300,
    textStyle: { fontFamily },
    grid: { left: 0, right: 0, top: legend ? 34 : 12, bottom: 12 },
    legend: legend ? {
      top: 0, left: 0, itemWidth: 18, itemHeight: 10, itemGap: 16,
      data: ['Expected emotion', 'Measured emotion (survey scores)'],
      textStyle: { color: mid, fontFamily },
    } : { show: false },
    tooltip: {
      trigger: 'item',
      ...box,
      formatter: (p) => {
        const { dataIndex, seriesIndex } = p as { dataIndex: number; seriesIndex: number };
        const pt = (seriesIndex === 1 ? measured ?? [] : points)[dataIndex];
        if (!pt || pt.y === null) return '';
        const what = seriesIndex === 1 ? 'Measured emotion' : 'Expected emotion';
        return `${esc(pt.stage)} · ${esc(pt.name)}<br>${what}: ${signed.format(pt.y)} (${esc(word(pt.y))})`
          + `${pt.detail ? `<br>${esc(pt.detail)}` : ''}${seriesIndex === 0 && pt.mot ? '<br>Moment of truth' : ''}`;
      },
    },
    xAxis: { type: 'value', min: 0, max: columns, show: false },
    yAxis: {
      type: 'value', min: -2, max: 2, interval: 1,
      splitLine: { lineStyle: { color: grid, type: 'dashed' } },
      axisLabel: { inside: true, color: mid, fontFamily, fontSize: 11, verticalAlign: 'bottom', formatter: (v: number) => (v === 0 ? 'neutral' : v > 0 ? `+${v}` : String(v)) },
      axisLine: { show: false }, axisTick: { show: false },
    },
    series: [{
      type: 'line', name: 'Expected emotion', smooth: 0.3, data: points.map((p) => ({
        value: [p.x, p.y ?? 0],
        symbol: p.mot ? 'diamond' : 'circle',
        symbolSize: p.mot ? 16 : 10,
        itemStyle: { color: (p.y ?? 0) > 0 ? up : (p.y ?? 0) < 0 ? down : mid, borderColor: cssVar('--surface'), borderWidth: 1.5 },
      })),
      itemStyle: { color: cssVar('--accent') },
      lineStyle: { color: cssVar('--accent'), width: 2.5 },
      areaStyle: { color: cssVar('--accent'), opacity: 0.06, origin: 0 },
    }, ...(measured ? [{
      type: 'line' as const, name: 'Measured emotion (survey scores)', connectNulls: false,
      // '-' is ECharts' empty value: the curve breaks there
      data: measured.map((p) => ({ value: [p.x, p.y === null ? '-' : p.y] as [number, number | string] })),
      symbol: 'rect', symbolSize: 9,
      itemStyle: { color: measuredColour, borderColor: cssVar('--surface'), borderWidth: 1 },
      lineStyle: { color: measuredColour, width: 2.5, type: 'dashed' as const },
    }] : [])],
  };
  chart.setOption(option);
  follow(chart, el, signal);
}

/** A scatter plot, a point per item at (x, y), labelled with its name and
 *  sized by `size` (answers); the `muted` ones (which do not count) are
 *  drawn hollow in a second series, so the legend says what they are.
 *  The tooltip says `tip`. Resizes with its box; disposed on abort. */
export function scatterPlot(
  el: HTMLElement,
  points: { x: number; y: number; name: string; size: number; muted: boolean; tip: string }[],
  opts: {
    xName: string; yName: string; fmtX: (v: number) => string; fmtY: (v: number) => string;
    xRange: [number, number]; yRange: [number, number]; series: [string, string];
  },
  signal: AbortSignal,
): void {
  const chart = echarts.init(el, null, { renderer: 'svg' });
  const { text, grid, fontFamily, box } = look();
  const accent = cssVar('--accent');
  const maxSize = Math.max(1, ...points.map((p) => p.size));
  // area ∝ answers: radius from 8 px to 30 px
  const symbolSize = (size: number): number => 8 + 22 * Math.sqrt(size / maxSize);
  // the data's range padded by a tenth, within the scale, on round tens
  const span = (vals: number[], [lo, hi]: [number, number]): [number, number] => {
    if (!vals.length) return [lo, hi];
    const pad = Math.max(10, (Math.max(...vals) - Math.min(...vals)) * 0.15);
    const step = hi - lo > 100 ? 50 : 20;
    return [Math.max(lo, Math.floor((Math.min(...vals) - pad) / step) * step), Math.min(hi, Math.ceil((Math.max(...vals) + pad) / step) * step)];
  };
  const [x0, x1] = span(points.map((p) => p.x), opts.xRange);
  const [y0, y1] = span(points.map((p) => p.y), opts.yRange);
  const part = (muted: boolean): { p: (typeof points)[number]; i: number }[] =>
    points.map((p, i) => ({ p, i })).filter((d) => d.p.muted === muted);
  const axis = (name: string, min: number, max: number, fmt: (v: number) => string, gap: number) => ({
    type: 'value' as const, name, nameLocation: 'middle' as const, nameGap: gap, min, max,
    nameTextStyle: { color: text, fontFamily, fontWeight: 600 as const },
    splitLine: { lineStyle: { color: grid } }, axisLine: { lineStyle: { color: grid } },
    axisLabel: { color: text, fontFamily, formatter: fmt },
  });
  const top = (): number => (el.clientWidth < 520 ? 56 : 36);
  const option: Option = {
    animationDuration: 300,
    textStyle: { fontFamily },
    grid: { left: 28, right: 24, top: top(), bottom: 36, containLabel: true },
    legend: { top: 0, left: 0, itemWidth: 12, itemHeight: 12, itemGap: 16, data: opts.series, textStyle: { color: text, fontFamily } },
    tooltip: {
      trigger: 'item',
      ...box,
      formatter: (p) => {
        const d = (p as { data?: { i?: number } }).data;
        const pt = d?.i === undefined ? undefined : points[d.i];
        return pt ? `<strong>${esc(pt.name)}</strong><br>${esc(pt.tip)}` : '';
      },
    },
    xAxis: axis(opts.xName, x0, x1, opts.fmtX, 28),
    yAxis: axis(opts.yName, y0, y1, opts.fmtY, 44),
    labelLayout: { hideOverlap: true },
    series: [false, true].map((muted) => ({
      type: 'scatter' as const,
      name: opts.series[muted ? 1 : 0],
      // labels point inwards, so that they stay in the box
      data: part(muted).map(({ p, i }) => ({
        value: [p.x, p.y], i, symbolSize: symbolSize(p.size),
        label: { position: p.x > (x0 + x1) / 2 ? 'left' as const : 'right' as const },
      })),
      itemStyle: muted
        ? { color: 'transparent', borderColor: text, borderWidth: 1.5, borderType: 'dashed' as const }
        : { color: accent, opacity: 0.75, borderColor: cssVar('--surface'), borderWidth: 1 },
      label: {
        show: true, position: 'right' as const, color: cssVar('--text'), fontFamily, fontSize: 12,
        formatter: (q: { data?: unknown }) => points[(q.data as { i: number }).i]?.name ?? '',
      },
      emphasis: { focus: 'self' as const },
    })),
  };
  chart.setOption(option);
  follow(chart, el, signal, () => chart.setOption({ grid: { top: top() } }));
}

/** A trend with its 95% confidence band: the value per bucket as a line,
 *  the band as a shaded area between lo and hi (a transparent series at lo
 *  with the band's height stacked on it; stackStrategy "all" so that a band
 *  below zero stacks as drawn). null is a gap. `tip(i)` says the bucket's
 *  figures. Resizes with its box; disposed when `signal` aborts. */
export function bandLine(
  el: HTMLElement,
  labels: string[],
  points: { value: number | null; lo: number | null; hi: number | null }[],
  opts: { name: string; tip: (i: number) => string; fmt: (x: number) => string; min?: number; max?: number },
  signal: AbortSignal,
): void {
  const chart = echarts.init(el, null, { renderer: 'svg' });
  const { text, grid, fontFamily, box } = look();
  const accent = cssVar('--accent');
  const band = (p: { lo: number | null; hi: number | null }): number | null => (p.lo === null || p.hi === null ? null : p.hi - p.lo);
  const option: Option = {
    animationDuration: 300,
    textStyle: { fontFamily },
    grid: { left: 8, right: 12, top: 36, bottom: 4, containLabel: true },
    legend: {
      top: 0, left: 0, icon: 'roundRect', itemWidth: 10, itemHeight: 10, itemGap: 16, data: [opts.name, '95% confidence'],
      textStyle: { color: text, fontFamily },
    },
    tooltip: {
      trigger: 'axis',
      ...box,
      formatter: (ps) => {
        const first = (Array.isArray(ps) ? ps : [ps])[0] as { dataIndex: number } | undefined;
        return first ? `${esc(labels[first.dataIndex] ?? '')}<br>${esc(opts.tip(first.dataIndex))}` : '';
      },
    },
    xAxis: {
      type: 'category', data: labels, boundaryGap: false,
      axisLine: { lineStyle: { color: grid } }, axisTick: { show: false },
      axisLabel: { color: text, hideOverlap: true, fontFamily },
    },
    yAxis: {
      type: 'value', scale: true, min: opts.min, max: opts.max,
      splitLine: { lineStyle: { color: grid } },
      axisLabel: { color: text, fontFamily, formatter: (v: number) => opts.fmt(v) },
    },
    series: [
      {
        type: 'line', name: 'band-base', stack: 'ci', stackStrategy: 'all', data: points.map((p) => p.lo),
        lineStyle: { opacity: 0 }, symbol: 'none', silent: true, tooltip: { show: false }, connectNulls: false,
      },
      {
        type: 'line', name: '95% confidence', stack: 'ci', stackStrategy: 'all', data: points.map(band),
        lineStyle: { opacity: 0 }, symbol: 'none', silent: true, connectNulls: false,
        itemStyle: { color: accent }, areaStyle: { color: accent, opacity: 0.16 },
      },
      {
        type: 'line', name: opts.name, data: points.map((p) => p.value), connectNulls: false, symbol: 'circle', symbolSize: 7,
        itemStyle: { color: accent }, lineStyle: { color: accent, width: 2.5 },
      },
    ],
  };
  chart.setOption(option);
  follow(chart, el, signal);
}

/** Horizontal bars that go left (negative) or right (positive) of zero, one
 *  per label top to bottom, coloured by sign; labelled with `label(i)`, the
 *  tooltip `tip(i)`. null draws no bar. Resizes; disposed on abort. */
export function divergingBars(
  el: HTMLElement,
  labels: string[],
  values: (number | null)[],
  opts: { label: (i: number) => string; tip: (i: number) => string; onClick?: (i: number) => void },
  signal: AbortSignal,
): void {
  const chart = echarts.init(el, null, { renderer: 'svg' });
  const { fontFamily, box } = look();
  const up = cssVar('--up');
  const down = cssVar('--down');
  const m = Math.max(1, ...values.map((v) => Math.abs(v ?? 0)));
  const narrowY = (): number => (el.clientWidth < 520 ? 96 : 150);
  const option: Option = {
    animationDuration: 300,
    textStyle: { fontFamily },
    grid: { left: 8, right: 8, top: 4, bottom: 4, containLabel: true },
    tooltip: {
      trigger: 'item',
      formatter: (p) => esc(opts.tip((p as { dataIndex: number }).dataIndex)),
      ...box,
    },
    yAxis: {
      type: 'category', data: labels, inverse: true,
      axisLine: { show: false }, axisTick: { show: false },
      axisLabel: { color: cssVar('--text'), fontFamily, width: narrowY(), overflow: 'truncate' },
    },
    // room on both sides for the labels at the bars' ends
    xAxis: {
      type: 'value', min: -m * 1.45, max: m * 1.45, splitLine: { show: false }, axisLabel: { show: false },
      axisLine: { show: false },
    },
    series: [{
      type: 'bar',
      // a label sits at the bar's outer end: left of a negative bar
      data: values.map((v) => ({
        value: v ?? 0, itemStyle: { color: (v ?? 0) < 0 ? down : up },
        label: { position: (v ?? 0) < 0 ? 'left' as const : 'right' as const },
      })),
      barMaxWidth: 26,
      label: { show: true, color: cssVar('--text'), fontFamily, formatter: (p) => opts.label(p.dataIndex) },
    }],
  };
  chart.setOption(option);
  if (opts.onClick) {
    const click = opts.onClick;
    chart.on('click', (p) => click(p.dataIndex));
  }
  follow(chart, el, signal, () => chart.setOption({ yAxis: { axisLabel: { width: narrowY() } } }));
}

/** Keeps `chart` fitted to `el` as it resizes (after `onResize`, when
 *  given), until `signal` aborts; then disposes of it. */
/** A radar of `axes` (each from `min` to `max`), one filled shape per
 *  series (the first drawn strongest); the tooltip lists each axis with
 *  `fmt`. On a narrow chart the axis names wrap and the radar shrinks so
 *  that they fit. Resizes with its box; disposed when `signal` aborts. */
export function radar(
  el: HTMLElement,
  axes: string[],
  series: { name: string; color: string; data: number[] }[],
  opts: { min: number; max: number; fmt: (v: number) => string },
  signal: AbortSignal,
): void {
  const chart = echarts.init(el, null, { renderer: 'svg' });
  const { grid, fontFamily, legend, box } = look();
  const narrow = (): boolean => el.clientWidth < 520;
  const radarOpt = (): RadarComponentOption => ({
    indicator: axes.map((name) => ({ name, min: opts.min, max: opts.max })),
    center: ['50%', narrow() ? '56%' : '54%'],
    radius: narrow() ? '46%' : '62%',
    splitNumber: opts.max - opts.min,
    axisName: { color: cssVar('--text'), fontFamily, fontSize: narrow() ? 10 : 12, lineHeight: narrow() ? 12 : 15, formatter: (name?: string) => wrap(name ?? '', narrow() ? 11 : 16) },
    axisLine: { lineStyle: { color: grid } },
    splitLine: { lineStyle: { color: grid } },
    splitArea: { show: false },
  });
  const option: Option = {
    animationDuration: 300,
    textStyle: { fontFamily },
    legend,
    tooltip: {
      trigger: 'item',
      ...box,
      formatter: (p) => {
        const q = p as { seriesIndex?: number; name?: string; value?: number[] };
        const s = series[q.seriesIndex ?? 0];
        if (!s) return '';
        return [esc(s.name), ...axes.map((a, i) => `${esc(a)}: ${esc(opts.fmt(s.data[i] ?? 0))}`)].join('<br>');
      },
    },
    radar: radarOpt(),
    series: [{
      type: 'radar',
      data: series.map((s, i) => ({
        name: s.name, value: s.data, symbol: 'circle', symbolSize: i ? 4 : 6,
        itemStyle: { color: s.color }, lineStyle: { color: s.color, width: i ? 1.5 : 2.5, type: i ? 'dashed' : 'solid' },
        areaStyle: { color: s.color, opacity: i ? 0.06 : 0.18 },
      })),
    }],
  };
  chart.setOption(option);
  follow(chart, el, signal, () => chart.setOption({ radar: radarOpt() }));
}

/** A line of scores over time (`labels` on the x axis) on a fixed scale
 *  from `min` to `max`; the tooltip says `tip(i)`. Resizes with its box;
 *  disposed when `signal` aborts. */
export function scoreLine(
  el: HTMLElement,
  labels: string[],
  values: number[],
  opts: { min: number; max: number; color?: string; fmt: (v: number) => string; tip: (i: number) => string },
  signal: AbortSignal,
): void {
  const chart = echarts.init(el, null, { renderer: 'svg' });
  const { text, grid, fontFamily, box } = look();
  const color = opts.color ?? cssVar('--accent');
  const option: Option = {
    animationDuration: 300,
    textStyle: { fontFamily },
    grid: { left: 8, right: 16, top: 12, bottom: 4, containLabel: true },
    tooltip: {
      trigger: 'item',
      ...box,
      formatter: (p) => esc(opts.tip((p as { dataIndex: number }).dataIndex)),
    },
    xAxis: {
      type: 'category', data: labels, boundaryGap: labels.length < 3,
      axisLine: { lineStyle: { color: grid } }, axisTick: { show: false },
      axisLabel: { color: text, hideOverlap: true, fontFamily },
    },
    yAxis: {
      type: 'value', min: opts.min, max: opts.max, interval: 1,
      splitLine: { lineStyle: { color: grid } },
      axisLabel: { color: text, fontFamily, formatter: (v: number) => opts.fmt(v) },
    },
    series: [{
      type: 'line', data: values, symbol: 'circle', symbolSize: 8,
      itemStyle: { color }, lineStyle: { color, width: 2 },
      label: { show: true, position: 'top', color: cssVar('--text'), fontFamily, formatter: (p) => opts.fmt(Number(p.value)) },
    }],
  };
  chart.setOption(option);
  follow(chart, el, signal);
}

function follow(chart: echarts.ECharts, el: HTMLElement, signal: AbortSignal, onResize?: () => void): void {
  const ro = new ResizeObserver(() => {
    onResize?.();
    chart.resize();
  });
  ro.observe(el);
  signal.addEventListener('abort', () => {
    ro.disconnect();
    chart.dispose();
  });
}

/** s in lines of about n characters, broken between words (ECharts
 *  draws "\n" as a line break). */
function wrap(s: string, n: number): string {
  const lines: string[] = [];
  for (const w of s.split(' ')) {
    const last = lines[lines.length - 1];
    if (last !== undefined && last.length + 1 + w.length <= n) lines[lines.length - 1] = `${last} ${w}`;
    else lines.push(w);
  }
  return lines.join('\n');
}

/** A custom tooltip is HTML: names from the API go in escaped. */
function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A Pareto chart: bars of `counts` (largest first, as given) on the left
 *  axis and the cumulative percent as a line on a 0–100 % right axis.
 *  Resizes; disposed on abort. */
export function pareto(
  el: HTMLElement,
  labels: string[],
  counts: number[],
  cumulative: number[],
  signal: AbortSignal,
): void {
  const chart = echarts.init(el, null, { renderer: 'svg' });
  const { text, grid, fontFamily, legend, box } = look();
  const narrow = (): boolean => el.clientWidth < 520;
  const option: Option = {
    animationDuration: 300,
    textStyle: { fontFamily },
    grid: { left: 8, right: 8, top: 36, bottom: 4, containLabel: true },
    legend,
    tooltip: {
      trigger: 'axis',
      axisPointer: { type: 'shadow' },
      ...box,
    },
    xAxis: {
      type: 'category', data: labels,
      axisLine: { lineStyle: { color: grid } }, axisTick: { show: false },
      axisLabel: { color: text, fontFamily, interval: 0, rotate: narrow() ? 60 : 30, width: 110, overflow: 'truncate' },
    },
    yAxis: [
      { type: 'value', minInterval: 1, splitLine: { lineStyle: { color: grid } }, axisLabel: { color: text, fontFamily } },
      { type: 'value', min: 0, max: 100, splitLine: { show: false }, axisLabel: { color: text, fontFamily, formatter: '{value} %' } },
    ],
    series: [
      { type: 'bar', name: 'Cases', data: counts, itemStyle: { color: cssVar('--accent') || '#4f5bd5' }, barMaxWidth: 36 },
      {
        type: 'line', name: 'Cumulative %', yAxisIndex: 1, data: cumulative, symbolSize: 6,
        itemStyle: { color: '#e07b00' }, lineStyle: { color: '#e07b00', width: 2 },
        tooltip: { valueFormatter: (v) => (typeof v === 'number' ? `${v.toFixed(1)} %` : String(v)) },
      },
    ],
  };
  chart.setOption(option);
  follow(chart, el, signal, () => chart.setOption({ xAxis: { axisLabel: { rotate: narrow() ? 60 : 30 } } }));
}
