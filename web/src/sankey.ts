// An ECharts Sankey (the Paths page, and the Lifecycle page's flows), in its
// own lazy chunk: only those pages download it; echarts/core is shared with
// src/chart.ts.
import * as echarts from 'echarts/core';
import { SankeyChart, type SankeySeriesOption } from 'echarts/charts';
import { TooltipComponent, type TooltipComponentOption } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';

echarts.use([SankeyChart, TooltipComponent, SVGRenderer]);

type Option = echarts.ComposeOption<SankeySeriesOption | TooltipComponentOption>;

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export interface SankeyNode { id: string; label: string; depth: number; value: number; color: string }
export interface SankeyLink { source: string; target: string; value: number }

/** Draws nodes (placed in columns by `depth`) and links in `el`. `fmt`
 *  formats customers. Resizes with its box; disposed when `signal` aborts. */
export function sankey(el: HTMLElement, nodes: SankeyNode[], links: SankeyLink[], fmt: (n: number) => string, signal: AbortSignal): void {
  const chart = echarts.init(el, null, { renderer: 'svg' });
  const fontFamily = getComputedStyle(document.body).fontFamily;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const narrow = (): boolean => el.clientWidth < 560;
  const last = Math.max(0, ...nodes.map((n) => n.depth));
  const option = (): Option => ({
    animationDuration: 300,
    textStyle: { fontFamily },
    tooltip: {
      trigger: 'item',
      backgroundColor: cssVar('--surface'),
      borderColor: cssVar('--border'),
      textStyle: { color: cssVar('--text'), fontFamily },
      formatter: (p) => {
        const d = (p as { dataType?: string; data: { id?: string; source?: string; target?: string; value: number } });
        if (d.dataType === 'edge') {
          const a = byId.get(d.data.source ?? '')?.label ?? '';
          const b = byId.get(d.data.target ?? '')?.label ?? '';
          return `${esc(a)} → ${esc(b)}: ${fmt(d.data.value)} customers`;
        }
        return `${esc(byId.get(d.data.id ?? '')?.label ?? '')}: ${fmt(d.data.value)} customers`;
      },
    },
    series: [{
      type: 'sankey',
      left: 4, right: 4, top: 8, bottom: 8,
      nodeWidth: 12,
      nodeGap: 10,
      nodeAlign: 'left',
      layoutIterations: 32,
      draggable: false,
      emphasis: { focus: 'adjacency' },
      label: {
        color: cssVar('--text'), fontFamily, fontSize: narrow() ? 10 : 12,
        formatter: (p) => byId.get((p.data as { id: string }).id)?.label ?? '',
      },
      // The last column's labels go on the left of their nodes, inside the box.
      levels: [{ depth: last, label: { position: 'left' } }],
      lineStyle: { color: 'gradient', opacity: 0.35, curveness: 0.5 },
      data: nodes.map((n) => ({ id: n.id, name: n.id, depth: n.depth, value: n.value, itemStyle: { color: n.color, borderWidth: 0 } })),
      links: links.map((l) => ({ source: l.source, target: l.target, value: l.value })),
    }],
  });
  let wasNarrow = narrow();
  chart.setOption(option());
  const ro = new ResizeObserver(() => {
    if (narrow() !== wasNarrow) {
      wasNarrow = narrow();
      chart.setOption(option());
    }
    chart.resize();
  });
  ro.observe(el);
  signal.addEventListener('abort', () => {
    ro.disconnect();
    chart.dispose();
  });
}

/** The tooltip is HTML: event names go in escaped. */
function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
