// Apache ECharts, imported piece by piece (bars, grid, tooltip, legend, SVG
// renderer) to keep the bundle small. Loaded on demand by the Overview page.
import * as echarts from 'echarts/core';
import { BarChart, type BarSeriesOption } from 'echarts/charts';
import {
  GridComponent, TooltipComponent, LegendComponent,
  type GridComponentOption, type TooltipComponentOption, type LegendComponentOption,
} from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';

echarts.use([BarChart, GridComponent, TooltipComponent, LegendComponent, SVGRenderer]);

type Option = echarts.ComposeOption<BarSeriesOption | GridComponentOption | TooltipComponentOption | LegendComponentOption>;

/** Reads a colour from the page's CSS variables, so the chart follows the
 *  light or dark scheme. */
function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** Draws stacked bars in `el`: one series per name, `labels` on the x axis.
 *  The chart resizes with its box and is disposed when `signal` aborts. */
export function stackedBars(
  el: HTMLElement,
  labels: string[],
  series: { name: string; color: string; data: number[] }[],
  fmt: (n: number) => string,
  signal: AbortSignal,
): void {
  const chart = echarts.init(el, null, { renderer: 'svg' });
  const text = cssVar('--text-2');
  const grid = cssVar('--border');
  // ECharts measures text on a canvas, so it needs a real font name, not
  // "inherit", or its labels overlap.
  const fontFamily = getComputedStyle(document.body).fontFamily;
  const option: Option = {
    animationDuration: 300,
    textStyle: { fontFamily },
    grid: { left: 8, right: 8, top: 36, bottom: 4, containLabel: true },
    legend: { top: 0, left: 0, icon: 'roundRect', itemWidth: 10, itemHeight: 10, itemGap: 16, textStyle: { color: text, fontFamily } },
    tooltip: {
      trigger: 'axis',
      axisPointer: { type: 'shadow' },
      valueFormatter: (v) => (typeof v === 'number' ? fmt(v) : String(v)),
      backgroundColor: cssVar('--surface'),
      borderColor: grid,
      textStyle: { color: cssVar('--text'), fontFamily },
    },
    xAxis: {
      type: 'category', data: labels,
      axisLine: { lineStyle: { color: grid } }, axisTick: { show: false },
      axisLabel: { color: text, hideOverlap: true, fontFamily },
    },
    yAxis: {
      type: 'value', splitLine: { lineStyle: { color: grid } },
      axisLabel: { color: text, fontFamily, formatter: (v: number) => fmt(v) },
    },
    series: series.map((s) => ({
      type: 'bar', name: s.name, stack: 'all', data: s.data, itemStyle: { color: s.color },
      barMaxWidth: 28, emphasis: { focus: 'series' },
    })),
  };
  // On a narrow chart the legend takes two lines: leave it room.
  const top = (): number => (el.clientWidth < 520 ? 64 : 36);
  chart.setOption({ ...option, grid: { ...option.grid, top: top() } });
  const ro = new ResizeObserver(() => {
    chart.setOption({ grid: { top: top() } });
    chart.resize();
  });
  ro.observe(el);
  signal.addEventListener('abort', () => {
    ro.disconnect();
    chart.dispose();
  });
}

/** Horizontal bars, one per label, top to bottom in the given order (a
 *  funnel's steps, the lifecycle stages), each labelled at its end with
 *  `label(i)`; the tooltip says `tip(i)`. Resizes with its box; disposed
 *  when `signal` aborts. */
export function hBars(
  el: HTMLElement,
  labels: string[],
  values: number[],
  opts: { label: (i: number) => string; tip: (i: number) => string; color?: string; colors?: string[] },
  signal: AbortSignal,
): void {
  const chart = echarts.init(el, null, { renderer: 'svg' });
  const grid = cssVar('--border');
  const fontFamily = getComputedStyle(document.body).fontFamily;
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
      backgroundColor: cssVar('--surface'),
      borderColor: grid,
      textStyle: { color: cssVar('--text'), fontFamily },
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
  const ro = new ResizeObserver(() => {
    chart.setOption({ yAxis: { axisLabel: { width: narrowY() } } });
    chart.resize();
  });
  ro.observe(el);
  signal.addEventListener('abort', () => {
    ro.disconnect();
    chart.dispose();
  });
}

/** A custom tooltip is HTML: names from the API go in escaped. */
function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
