// Paths: what customers did after (or before) an event, step by step
// (POST /api/v1/analytics/paths), as a Sankey and a table of the steps.
import { h, replace, uid } from '../dom';
import { post, type PathNode, type Paths, type PathsQuery } from '../api';
import { fmtInt, fmtPercent } from '../format';
import { chartFailed, emptyState, loading, pageHeader } from '../ui';
import { setQuery, type PageContext } from '../router';
import { PALETTE } from './overview';
import {
  dateInput, dayBefore, eventInput, field, namesList, rangeOf, rangeText, runner, startFromData, type Field,
} from '../analytics';

// The overview's palette without its grey, which is "(other)"'s here.
const COLOURS = PALETTE.filter((c) => c !== '#868e96');

export function pathsPage(main: HTMLElement, ctx: PageContext): void {
  const q = ctx.query;
  const names = namesList();
  const sub = h('span', null, 'Where customers go from an event, or where they came from.');

  const eventF = field('Event', eventInput(q.get('event') ?? 'Product Viewed', names, 'event'));
  const dirName = uid('dir');
  const dir0 = q.get('direction') === 'previous' ? 'previous' : 'next';
  const direction = h('fieldset', { class: 'segmented' }, h('legend', { class: 'sr-only' }, 'Direction'),
    [['next', 'Next events'], ['previous', 'Previous events']].flatMap(([v, l]) => [
      h('input', { type: 'radio', name: dirName, id: `${dirName}-${v}`, value: v as string, checked: v === dir0 }),
      h('label', { for: `${dirName}-${v}` }, l as string)]));
  const depthSel = h('select', { name: 'depth' }, [1, 2, 3, 4, 5, 6].map((n) => h('option', { value: n }, String(n))));
  depthSel.value = /^[1-6]$/.test(q.get('depth') ?? '') ? q.get('depth') as string : '3';
  const depthF = field('Steps', depthSel);
  const limitF = field('Events per step', h('input', {
    type: 'number', name: 'limit', min: 1, max: 20, step: 1, value: q.get('limit') ?? '6', required: true, class: 'narrow',
  }));
  const fromF = field('From', dateInput(q.get('from') ?? '', 'from'));
  const toF = field('To', dateInput(q.get('to') ?? '', 'to'));
  const formErr = h('div', { class: 'form-alert' });
  const form = h('form', { class: 'builder', 'aria-label': 'Paths' },
    h('div', { class: 'form-row' }, eventF.el,
      h('div', { class: 'field' }, h('span', { class: 'label', 'aria-hidden': 'true' }, 'Direction'), direction)),
    h('div', { class: 'form-row' }, depthF.el, limitF.el, fromF.el, toF.el),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Show paths')),
    formErr, names);
  const results = h('div', { class: 'results', 'aria-busy': 'false' });
  // What an answer says, for screen readers (the results are not announced).
  const said = h('p', { class: 'sr-only', role: 'status' });
  main.append(pageHeader('Paths', sub), h('section', { class: 'card' }, form), said, results);

  const fields: Record<string, Field<HTMLElement>> = { event: eventF, depth: depthF, limit: limitF, from: fromF, to: toF };
  const chartMod = import('../sankey');
  chartMod.catch(() => { /* said where the chart goes */ });
  let chartAc: AbortController | null = null;
  const run = runner(ctx.signal, results, formErr, 'Following the paths…', () => fields, async (signal) => {
    const dir = (direction.querySelector('input:checked') as HTMLInputElement | null)?.value === 'previous' ? 'previous' : 'next';
    const body: PathsQuery = {
      event: eventF.input.value.trim(), direction: dir,
      depth: Number(depthSel.value), limit: Number(limitF.input.value) || 0,
      ...rangeOf(fromF.input.value, toF.input.value),
    };
    setQuery(new URLSearchParams({
      event: body.event, direction: dir, depth: String(body.depth), limit: String(body.limit),
      from: fromF.input.value, to: toF.input.value,
    }));
    const p = await post<Paths>('analytics/paths', body, { signal });
    sub.textContent = `${rangeText(body.from, body.to)} · ${fmtInt(p.customers)} customers, from their first “${body.event}”, ${dir === 'next' ? 'the events after it' : 'the events before it'}`;
    said.textContent = `Paths of ${fmtInt(p.customers)} customers shown.`;
    chartAc?.abort();
    chartAc = new AbortController();
    render(results, p, chartMod, AbortSignal.any([ctx.signal, chartAc.signal]));
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run();
  });
  direction.addEventListener('change', () => run());

  replace(results, loading('Loading…'));
  startFromData(ctx.signal, names, fromF, toF, (end) => dayBefore(end, 29), run);
}

function render(box: HTMLElement, p: Paths, chartMod: Promise<typeof import('../sankey')>, signal: AbortSignal): void {
  if (!p.customers || !p.nodes.length) {
    replace(box, h('section', { class: 'card' }, emptyState(`No customer did “${p.event}” in this range.`, 'Try a longer range or another event.')));
    return;
  }
  const maxStep = Math.max(...p.nodes.map((n) => n.step));
  const prev = p.direction === 'previous';
  // Earlier events on the left: for "previous", step k is drawn at column
  // maxStep - k and the links point from the earlier event to the later.
  const colour = new Map<string, string>();
  const colourOf = (e: string): string => {
    if (e === '(other)') return '#868e96';
    if (!colour.has(e)) colour.set(e, COLOURS[colour.size % COLOURS.length] as string);
    return colour.get(e) as string;
  };
  const nodes = p.nodes.map((n) => ({
    id: n.id, label: n.event, depth: prev ? maxStep - n.step : n.step, value: n.customers, color: colourOf(n.event),
  }));
  const links = p.links.map((l) => (prev ? { source: l.target, target: l.source, value: l.customers } : { source: l.source, target: l.target, value: l.customers }));

  const chartBox = h('div', {
    class: 'chart sankey', role: 'img',
    'aria-label': `Paths ${prev ? 'before' : 'after'} ${p.event} over ${maxStep} steps: ${fmtInt(p.customers)} customers. The table "Steps" lists every node.`,
  });
  const out = new Map<string, number>();
  for (const l of p.links) out.set(l.source, (out.get(l.source) ?? 0) + l.customers);
  const byStep = new Map<number, PathNode[]>();
  for (const n of p.nodes) byStep.set(n.step, [...(byStep.get(n.step) ?? []), n]);
  const table = h('table', { class: 'table paths-table' },
    h('caption', { class: 'sr-only' }, 'Customers at each step of the paths'),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Step'), h('th', { scope: 'col' }, 'Event'),
      h('th', { scope: 'col', class: 'num' }, 'Customers'), h('th', { scope: 'col', class: 'num' }, 'Share'),
      h('th', { scope: 'col', class: 'num hide-sm' }, 'Stopped here'))),
    h('tbody', null, [...byStep.keys()].sort((a, b) => a - b).flatMap((s) =>
      (byStep.get(s) as PathNode[]).sort((a, b) => b.customers - a.customers).map((n) => h('tr', null,
        h('td', { class: 'num-left' }, s === 0 ? 'start' : prev ? `−${s}` : `+${s}`),
        h('th', { scope: 'row' }, h('span', { class: 'swatch', style: `background:${colourOf(n.event)}`, 'aria-hidden': 'true' }), n.event),
        h('td', { class: 'num' }, fmtInt(n.customers)),
        h('td', { class: 'num' }, fmtPercent(n.customers / p.customers)),
        h('td', { class: 'num hide-sm' }, s < maxStep ? fmtInt(Math.max(0, n.customers - (out.get(n.id) ?? 0))) : '—'))))));
  replace(box, h('div', { class: 'stack' },
    h('section', { class: 'card', 'aria-labelledby': 'h-paths' }, h('h2', { id: 'h-paths' }, prev ? 'Paths into the event' : 'Paths from the event'), chartBox),
    h('section', { class: 'card', 'aria-labelledby': 'h-steps' }, h('h2', { id: 'h-steps' }, 'Steps'), h('div', { class: 'table-wrap' }, table))));

  chartMod.then(({ sankey }) => {
    if (signal.aborted) return;
    sankey(chartBox, nodes, links, fmtInt, signal);
  }).catch(() => chartFailed(chartBox));
}
