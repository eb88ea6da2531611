// eNPS × CX (GET /api/v1/metrics/enps-cx, docs/feedback-metrics.md "eNPS,
// and eNPS beside CX"): each team's eNPS (employee surveys, context.unit)
// beside the CSAT or NPS of the customers it served, as a scatter plot and
// a table, Pearson's r over the teams with enough answers of both, said in
// words with its p (by the t distribution; the API's normal approximation
// is far too small with few teams, and the page says so) and an honest
// caution (a handful of teams is a hint, not proof); and each employee survey's eNPS per team
// (GET /api/v1/metrics/nps?survey=&by=unit).
import { h, replace } from '../dom';
import { ApiError, get, type EnpsCx, type Metric, type SurveyList } from '../api';
import { fmtInt } from '../format';
import { aborted, chartFailed, emptyState, errorState, loading, pageHeader } from '../ui';
import { setQuery, type PageContext } from '../router';
import { field, rangeText } from '../analytics';
import { METRICS, PERIODS, dataEnd, periodOf, periodRange, segmented, surveys, type PeriodId } from '../listen';

type Cx = 'csat' | 'nps';
const CXS: readonly { id: Cx; label: string }[] = [{ id: 'csat', label: 'CSAT' }, { id: 'nps', label: 'NPS' }];
const DEFAULT_MIN_N = 5;

const teams = (n: number): string => `${fmtInt(n)} ${n === 1 ? 'team' : 'teams'}`;

/** "p = 0.07", "p < 0.001". */
export function pText(p: number): string {
  return p < 0.001 ? 'p < 0.001' : `p = ${p.toFixed(p < 0.01 ? 3 : 2)}`;
}

/** Pearson's r, its p and what they may and may not say, in words. */
export function correlationWords(d: EnpsCx): { headline: string; p: string; pt?: number | null; caution: string } {
  const cx = METRICS[d.cx_metric].label;
  const k = d.units_compared;
  const r = d.correlation;
  if (r === null) {
    if (k >= 3) {
      return {
        headline: `r cannot be computed over these ${teams(k)}: they all have the same eNPS or the same ${cx}, so there is nothing to line up.`,
        p: '',
        caution: 'Choose a longer period, or wait for more answers.',
      };
    }
    return {
      headline: `Too few teams to correlate: ${teams(k)} ${k === 1 ? 'has' : 'have'} at least ${fmtInt(d.min_n)} answers of both eNPS and ${cx}; it takes 3.`,
      p: '',
      caution: 'Lower the fewest answers a team needs, choose a longer period, or wait for more answers.',
    };
  }
  const a = Math.abs(r);
  const strength = a < 0.1 ? '' : a < 0.3 ? 'weak' : a < 0.5 ? 'moderate' : 'strong';
  const headline = strength
    ? `r = ${r.toFixed(2)} over ${teams(k)}: a ${strength} ${r > 0 ? 'positive' : 'negative'} link — teams with a higher eNPS tend to have a ${r > 0 ? 'higher' : 'lower'} ${cx}.`
    : `r = ${r.toFixed(2)} over ${teams(k)}: no linear link between a team's eNPS and its ${cx}.`;
  // the server's p: Student's t with k - 2 degrees of freedom
  const pt = d.p_value;
  let p: string;
  if (pt === null) {
    p = k <= 3 ? `No p-value: with ${teams(k)} r cannot be tested; it takes 4.` : 'No p-value: the teams lie exactly on a line.';
  } else {
    const verdict = pt < 0.05 ? 'a link this strong would be unlikely by chance alone' : 'a link this strong could well be chance';
    p = `${pText(pt)} by the t test (${k - 2} degrees of freedom): ${verdict}.`;
  }
  const caution = k < 10
    ? `With ${teams(k)} this is a hint, not proof: a few teams can line up by chance, and one team can swing r. A correlation does not say which causes which.`
    : 'A correlation does not say which causes which: happier teams may serve customers better, or happier customers may make work easier.';
  return { headline, p, pt, caution };
}

export function enpsPage(main: HTMLElement, ctx: PageContext): void {
  const q = ctx.query;
  let period: PeriodId = periodOf(q.get('period'), '365d').id;
  let cx: Cx = q.get('cx') === 'nps' ? 'nps' : 'csat';
  const picker = segmented('Period', PERIODS, period, (p) => {
    period = p;
    load();
  });
  const cxPick = segmented('Customer metric', CXS, cx, (k) => {
    cx = k;
    load();
  });
  const minIn = h('input', { type: 'number', name: 'min_n', min: 1, max: 100000, step: 1, value: String(Number(q.get('min_n')) >= 1 ? Number(q.get('min_n')) : DEFAULT_MIN_N), class: 'short' });
  const minF = field('Fewest answers', minIn, { help: 'of both eNPS and CX for a team to count in r' });
  const sub = h('span', null, 'Each team’s eNPS (employee surveys) beside the satisfaction of the customers it served.');
  const controls = h('section', { class: 'card filters-card', 'aria-label': 'Filters' },
    h('div', { class: 'filters' },
      h('div', { class: 'field' }, h('span', { class: 'label', 'aria-hidden': 'true' }, 'Customer metric'), cxPick),
      minF.el));
  const results = h('div', { class: 'results', 'aria-busy': 'true' });
  main.append(pageHeader('eNPS × CX', sub, picker), controls, results);
  const chartMod = import('../chart');
  chartMod.catch(() => { /* said where the chart goes */ });
  let ac: AbortController | null = null;

  async function load(): Promise<void> {
    ac?.abort();
    ac = new AbortController();
    const signal = AbortSignal.any([ctx.signal, ac.signal]);
    const minN = minIn.value.trim();
    setQuery(new URLSearchParams({ period, cx, ...(minN && minN !== String(DEFAULT_MIN_N) ? { min_n: minN } : {}) }));
    minF.error('');
    results.setAttribute('aria-busy', 'true');
    if (!results.firstChild || results.querySelector('.state')) replace(results, loading('Comparing the teams…'));
    else results.classList.add('stale');
    try {
      const [list, end] = await Promise.all([surveys(signal), dataEnd(signal)]);
      const employee = list.filter((s) => s.kind === 'employee');
      const p = periodOf(period);
      const r = periodRange(end, p.days);
      sub.textContent = `${rangeText(r.from, r.to)} · ${employee.length ? `${employee.length} employee ${employee.length === 1 ? 'survey' : 'surveys'}` : 'no employee survey'}.`;
      if (!employee.length) {
        replace(results, h('section', { class: 'card' },
          emptyState('No employee surveys yet.',
            'An employee survey (kind “Employee”) with an NPS question, answered with the team in context.unit, gives each team’s eNPS; this page puts it beside the CSAT or NPS of the customers the team served (customer answers with the same context.unit).'),
          h('p', { class: 'center' }, h('a', { class: 'btn btn-primary', href: '#/surveys/new' }, 'Create a survey'))));
        return;
      }
      const [both, ...perSurvey] = await Promise.all([
        get<EnpsCx>('metrics/enps-cx', { cx, from: r.from, to: r.to, min_n: minN }, { signal }),
        ...employee.map((s) => get<Metric>('metrics/nps', { survey: s.id, by: 'unit', from: r.from, to: r.to }, { signal })),
      ]);
      render(both, employee.map((s, i) => ({ survey: s, m: perSurvey[i] as Metric })), signal);
    } catch (e) {
      if (aborted(e)) return;
      if (e instanceof ApiError && e.status === 400 && e.field === 'min_n') {
        minF.error(e.message);
        replace(results);
      } else {
        replace(results, errorState(e, () => load()));
      }
    } finally {
      if (!signal.aborted) {
        results.setAttribute('aria-busy', 'false');
        results.classList.remove('stale');
      }
    }
  }

  function render(d: EnpsCx, per: { survey: SurveyList['surveys'][number]; m: Metric }[], signal: AbortSignal): void {
    const def = METRICS[d.cx_metric];
    const nps = METRICS.nps;
    const words = correlationWords(d);
    const plotted = d.units.filter((u) => u.enps !== null && u.cx !== null);
    const why = (u: EnpsCx['units'][number]): string => {
      if (u.in_correlation) return 'Yes';
      const answers = (n: number, what: string): string => `${fmtInt(n)} ${what} ${n === 1 ? 'answer' : 'answers'}`;
      const short = [u.enps_n < d.min_n ? answers(u.enps_n, 'eNPS') : '', u.cx_n < d.min_n ? answers(u.cx_n, def.label) : ''].filter(Boolean);
      return short.length ? `No: ${short.join(', ')}; it takes ${fmtInt(d.min_n)}` : 'No';
    };
    const corr = h('section', { class: 'card corr-card', 'aria-labelledby': 'h-corr' },
      h('h2', { id: 'h-corr' }, `eNPS and ${def.label}: Pearson’s r`),
      h('p', { class: 'kpi-value corr-r', 'data-value': d.correlation === null ? '' : String(d.correlation) },
        d.correlation === null ? '—' : `r = ${d.correlation.toFixed(2)}`),
      h('p', { class: 'corr-headline' }, words.headline),
      words.p ? h('p', {
        class: 'corr-p', 'data-value': d.p_value === null ? '' : String(d.p_value),
        'data-t': words.pt === null || words.pt === undefined ? '' : String(words.pt),
      }, words.p) : null,
      h('p', { class: 'notice corr-caution' }, words.caution));
    const box = h('div', {
      class: 'chart enps-scatter', role: 'img',
      'aria-label': `eNPS (across) against ${def.label} (up) per team: ${plotted.map((u) =>
        `${u.unit}: eNPS ${nps.fmt(u.enps as number)}, ${def.label} ${def.fmt(u.cx as number)}, ${fmtInt(u.enps_n + u.cx_n)} answers${u.in_correlation ? '' : ', not counted in r'}`).join('; ')}.`,
    });
    const chartCard = h('section', { class: 'card', 'aria-labelledby': 'h-scatter' },
      h('h2', { id: 'h-scatter' }, `eNPS against ${def.label}, a point per team`),
      h('p', { class: 'muted small' }, 'The bigger the point, the more answers behind it (eNPS and CX together). Hollow points have too few answers to count in r.'),
      plotted.length ? box : emptyState(`No team has both eNPS and ${def.label} answers in this period.`,
        'Customer answers count for a team when they carry the same context.unit as its employee answers.'));
    const table = h('table', { class: 'table enps-table stack-sm' },
      h('caption', { class: 'sr-only' }, `eNPS and ${def.label} per team`),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Team (unit)'),
        h('th', { scope: 'col', class: 'num' }, 'eNPS'), h('th', { scope: 'col', class: 'num' }, 'eNPS answers'),
        h('th', { scope: 'col', class: 'num' }, def.label), h('th', { scope: 'col', class: 'num' }, `${def.label} answers`),
        h('th', { scope: 'col' }, 'Counts in r'))),
      h('tbody', null, d.units.map((u) => h('tr', { 'data-unit': u.unit, 'data-in': String(u.in_correlation) },
        h('th', { scope: 'row', class: 'cell-full' }, u.unit),
        h('td', { class: 'num u-enps', 'data-label': 'eNPS', 'data-value': u.enps === null ? '' : String(u.enps) }, u.enps === null ? '—' : nps.fmt(u.enps)),
        h('td', { class: 'num u-enps-n', 'data-label': 'eNPS answers' }, fmtInt(u.enps_n)),
        h('td', { class: 'num u-cx', 'data-label': def.label, 'data-value': u.cx === null ? '' : String(u.cx) }, u.cx === null ? '—' : def.fmt(u.cx)),
        h('td', { class: 'num u-cx-n', 'data-label': `${def.label} answers` }, fmtInt(u.cx_n)),
        h('td', { class: `u-in ${u.in_correlation ? '' : 'muted'}`, 'data-label': 'Counts in r' }, why(u))))));
    const tableCard = h('section', { class: 'card', 'aria-labelledby': 'h-teams' },
      h('h2', { id: 'h-teams' }, 'Per team'),
      d.units.length ? h('div', { class: 'table-wrap' }, table)
        : emptyState('No employee answers name a team in this period.', 'eNPS per team needs context.unit on the employee survey’s answers.'));
    replace(results, h('div', { class: 'stack' },
      h('div', { class: 'grid enps-grid' }, corr, chartCard),
      tableCard,
      per.map(({ survey, m }) => surveyCard(survey, m)),
      h('p', { class: 'muted small' },
        `eNPS: ${nps.means} ${def.label}: ${def.means} r is Pearson’s correlation over the teams with at least ${fmtInt(d.min_n)} answers of both, from −1 to 1; p is the chance of a link at least this strong if there were none, by the t test on r.`)));
    if (plotted.length) {
      chartMod.then(({ scatterPlot }) => {
        if (signal.aborted) return;
        scatterPlot(box, plotted.map((u) => ({
          x: u.enps as number, y: u.cx as number, name: u.unit, size: u.enps_n + u.cx_n, muted: !u.in_correlation,
          tip: `eNPS ${nps.fmt(u.enps as number)} (n = ${fmtInt(u.enps_n)}) · ${def.label} ${def.fmt(u.cx as number)} (n = ${fmtInt(u.cx_n)})${u.in_correlation ? '' : ' · not counted in r'}`,
        })), {
          xName: 'eNPS', yName: def.label, fmtX: (v) => String(Math.round(v)), fmtY: (v) => (d.cx_metric === 'csat' ? `${Math.round(v)}%` : String(Math.round(v))),
          xRange: [nps.min, nps.max], yRange: [def.min, def.max], series: ['Counts in r', `Too few answers`],
        }, signal);
      }).catch(() => chartFailed(box));
    }
  }

  minIn.addEventListener('change', () => load());
  load();
}

/** One employee survey's eNPS, overall and per team. */
function surveyCard(s: SurveyList['surveys'][number], m: Metric): HTMLElement {
  const nps = METRICS.nps;
  const id = `h-survey-${s.id.replace(/[^A-Za-z0-9_-]/g, '')}`;
  const groups = m.groups ?? [];
  return h('section', { class: 'card enps-survey', 'data-survey': s.id, 'aria-labelledby': id },
    h('h2', { id }, `eNPS per team: `, h('a', { href: `#/surveys/${encodeURIComponent(s.id)}` }, s.name)),
    h('p', { class: 'muted small survey-enps', 'data-value': m.nps === null || m.nps === undefined ? '' : String(m.nps), 'data-n': String(m.n) },
      m.n ? `All teams: eNPS ${nps.fmt(m.nps ?? 0)}${m.ci95 ? ` (95% CI ${nps.fmt(m.ci95[0])} to ${nps.fmt(m.ci95[1])})` : ''}, n = ${fmtInt(m.n)}.`
        : 'No answers in this period.'),
    groups.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table enps-survey-table stack-sm' },
      h('caption', { class: 'sr-only' }, `eNPS per team of ${s.name}`),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Team (unit)'), h('th', { scope: 'col', class: 'num' }, 'Answers'),
        h('th', { scope: 'col', class: 'num' }, 'eNPS'), h('th', { scope: 'col', class: 'num hide-sm' }, '95% CI'),
        h('th', { scope: 'col', class: 'num hide-sm' }, 'Promoters · passives · detractors'))),
      h('tbody', null, groups.map((g) => h('tr', { 'data-key': g.key ?? '' },
        h('th', { scope: 'row', class: 'cell-full' }, g.key ?? '(no team given)'),
        h('td', { class: 'num', 'data-label': 'Answers' }, fmtInt(g.n)),
        h('td', { class: 'num g-enps', 'data-label': 'eNPS', 'data-value': g.nps === null || g.nps === undefined ? '' : String(g.nps) },
          g.nps === null || g.nps === undefined ? '—' : nps.fmt(g.nps)),
        h('td', { class: 'num hide-sm nowrap' }, g.ci95 ? `${nps.fmt(g.ci95[0])} to ${nps.fmt(g.ci95[1])}` : '—'),
        h('td', { class: 'num hide-sm' }, `${fmtInt(g.promoters ?? 0)} · ${fmtInt(g.passives ?? 0)} · ${fmtInt(g.detractors ?? 0)}`))))))
      : m.n ? emptyState('None of its answers names a team.', 'Send the team as context.unit with each answer.') : null);
}
