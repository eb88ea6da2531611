// Lifecycle: the customers in each lifecycle stage now
// (GET /api/v1/lifecycle), in the order the stage rules are tried.
import { h, replace } from '../dom';
import { get, type Lifecycle } from '../api';
import { fmtInt, fmtPercent, time } from '../format';
import { aborted, emptyState, errorState, loading, pageHeader, stageBadge } from '../ui';
import type { PageContext } from '../router';

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
  main.append(pageHeader('Lifecycle', sub, refresh), body);
  const chartMod = import('../chart');
  chartMod.catch(() => { /* said where the chart goes */ });

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
      if (!signal.aborted) {
        body.setAttribute('aria-busy', 'false');
        body.classList.remove('stale');
      }
    }
  }
  refresh.addEventListener('click', () => load());
  load();
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
  }).catch(() => replace(chartBox, errorState(new Error('The chart could not be loaded. Reload the page.'))));
}
