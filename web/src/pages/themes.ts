// Themes: what respondents write about (GET /api/v1/feedback/themes): the
// themes by volume coloured by their sentiment, their NPS impact (NPS of
// the responses with the theme minus those without) as a diverging bar,
// the themes behind detractors, and the top phrases of each; a theme opens
// the verbatims filtered by it.
import { h, replace } from '../dom';
import { get, type Theme, type Themes } from '../api';
import { fmtInt, fmtPercent } from '../format';
import { aborted, chartFailed, emptyState, errorState, loading, pageHeader } from '../ui';
import { setQuery, type PageContext } from '../router';
import { field, rangeText } from '../analytics';
import { PERIODS, dataEnd, one, periodOf, periodRange, segmented, sentimentColour, surveySelect, surveys, type PeriodId } from '../listen';

const signed = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1, minimumFractionDigits: 1, signDisplay: 'exceptZero' });
const verbatimsOf = (t: string, survey: string): string =>
  `#/verbatims?${new URLSearchParams({ ...(survey ? { survey } : {}), theme: t })}`;

function sentimentWord(s: number | null): string {
  if (s === null) return 'no sentiment';
  return s <= -0.15 ? 'negative' : s >= 0.15 ? 'positive' : 'neutral';
}

export function themesPage(main: HTMLElement, ctx: PageContext): void {
  const q = ctx.query;
  let period: PeriodId = periodOf(q.get('period')).id;
  const picker = segmented('Period', PERIODS, period, (p) => {
    period = p;
    load();
  });
  const { select: surveySel, fill } = surveySelect(q.get('survey') ?? '');
  const surveyF = field('Survey', surveySel);
  const sub = h('span', null, 'What respondents write about, and how each theme moves NPS.');
  const results = h('div', { class: 'results', 'aria-busy': 'true' });
  main.append(pageHeader('Themes', sub, picker),
    h('section', { class: 'card filters-card', 'aria-label': 'Filters' }, h('div', { class: 'filters' }, surveyF.el)), results);
  const chartMod = import('../chart');
  chartMod.catch(() => { /* said where the chart goes */ });
  let ac: AbortController | null = null;

  async function load(): Promise<void> {
    ac?.abort();
    ac = new AbortController();
    const signal = AbortSignal.any([ctx.signal, ac.signal]);
    const out = new URLSearchParams({ period });
    if (surveySel.value) out.set('survey', surveySel.value);
    setQuery(out);
    results.setAttribute('aria-busy', 'true');
    if (!results.firstChild || results.querySelector('.state')) replace(results, loading('Finding the themes…'));
    else results.classList.add('stale');
    try {
      const [list, end] = await Promise.all([surveys(signal).catch((e) => {
        if (aborted(e)) throw e;
        return null;
      }), dataEnd(signal)]);
      if (list) fill(list);
      const p = periodOf(period);
      const r = periodRange(end, p.days);
      const t = await get<Themes>('feedback/themes', { survey: surveySel.value, from: r.from, to: r.to }, { signal });
      sub.textContent = `${rangeText(r.from, r.to)} · ${fmtInt(t.n)} text ${t.n === 1 ? 'answer' : 'answers'}.`;
      render(t, signal);
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

  function render(t: Themes, signal: AbortSignal): void {
    const survey = surveySel.value;
    if (!t.themes.length) {
      replace(results, h('section', { class: 'card' }, emptyState(t.n ? 'No themes found in these answers.' : 'No text answers in this period.',
        'Themes come from the text answers to surveys: choose a longer period or another survey.')));
      return;
    }
    const byVolume = [...t.themes].sort((a, b) => b.volume - a.volume);
    const volBox = h('div', {
      class: 'chart themes-volume', role: 'img', style: `height:${Math.max(180, 34 * byVolume.length + 24)}px`,
      'aria-label': `Themes by volume: ${byVolume.map((x) => `${x.name} ${fmtInt(x.volume)} answers, ${sentimentWord(x.sentiment)}`).join('; ')}. The table lists the same.`,
    });
    const withImpact = t.themes.filter((x) => x.nps_impact !== null).sort((a, b) => (a.nps_impact ?? 0) - (b.nps_impact ?? 0));
    const impactBox = h('div', {
      class: 'chart themes-impact', role: 'img', style: `height:${Math.max(180, 34 * withImpact.length + 24)}px`,
      'aria-label': `NPS impact per theme (NPS with the theme minus NPS without it): ${withImpact.map((x) => `${x.name} ${signed.format(x.nps_impact ?? 0)}`).join('; ')}.`,
    });
    const detractors = t.themes.filter((x) => x.detractor_share !== null && (x.detractor_share ?? 0) > 0)
      .sort((a, b) => (b.detractor_share ?? 0) - (a.detractor_share ?? 0)).slice(0, 5);
    const link = (x: Theme): HTMLElement => h('a', { href: verbatimsOf(x.name, survey), class: 'strong theme-link' }, x.name);
    const table = h('table', { class: 'table themes-table stack-sm' },
      h('caption', { class: 'sr-only' }, 'Themes'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Theme'), h('th', { scope: 'col', class: 'num' }, 'Answers'), h('th', { scope: 'col', class: 'num' }, 'Share'),
        h('th', { scope: 'col', class: 'num' }, 'Sentiment'), h('th', { scope: 'col', class: 'num' }, 'NPS with'),
        h('th', { scope: 'col', class: 'num' }, 'NPS without'), h('th', { scope: 'col', class: 'num' }, 'Impact'),
        h('th', { scope: 'col' }, 'Top phrases'))),
      h('tbody', null, byVolume.map((x) => h('tr', { 'data-theme': x.name },
        h('th', { scope: 'row', class: 'cell-full' }, h('span', { class: 'swatch', style: `background:${sentimentColour(x.sentiment)}`, 'aria-hidden': 'true' }), link(x)),
        h('td', { class: 'num', 'data-label': 'Answers' }, fmtInt(x.volume)),
        h('td', { class: 'num', 'data-label': 'Share' }, fmtPercent(x.share)),
        h('td', { class: 'num', 'data-label': 'Sentiment' }, x.sentiment === null ? '—' : `${one.format(x.sentiment)} (${sentimentWord(x.sentiment)})`),
        h('td', { class: 'num', 'data-label': 'NPS with' }, x.nps_with === null ? '—' : signed.format(x.nps_with)),
        h('td', { class: 'num', 'data-label': 'NPS without' }, x.nps_without === null ? '—' : signed.format(x.nps_without)),
        h('td', { class: `num impact ${(x.nps_impact ?? 0) < 0 ? 'down' : 'up'}`, 'data-label': 'Impact' }, x.nps_impact === null ? '—' : signed.format(x.nps_impact)),
        h('td', { class: 'cell-full small' }, x.phrases.length ? x.phrases.slice(0, 5).map((p) => `“${p.phrase}” (${fmtInt(p.count)})`).join(', ') : '—')))));
    replace(results, h('div', { class: 'stack' },
      h('div', { class: 'grid themes-grid' },
        h('section', { class: 'card', 'aria-labelledby': 'h-volume' }, h('h2', { id: 'h-volume' }, 'Themes by volume'),
          h('p', { class: 'muted small' }, 'Coloured by the mean sentiment of their answers: red negative, grey neutral, green positive.'), volBox),
        h('section', { class: 'card', 'aria-labelledby': 'h-impact' }, h('h2', { id: 'h-impact' }, 'NPS impact'),
          h('p', { class: 'muted small' }, 'NPS of the responses that mention the theme minus NPS of those that do not: the themes at the top pull NPS down.'),
          withImpact.length ? impactBox : emptyState('No NPS answers beside these texts.'))),
      h('section', { class: 'card', 'aria-labelledby': 'h-why' }, h('h2', { id: 'h-why' }, 'The why behind detractors'),
        detractors.length
          ? h('ol', { class: 'why-list' }, detractors.map((x) => h('li', { 'data-theme': x.name },
            link(x), ` — ${fmtPercent(x.detractor_share ?? 0)} of its answers come from detractors`,
            x.phrases.length ? h('div', { class: 'muted small' }, `They write: ${x.phrases.slice(0, 3).map((p) => `“${p.phrase}”`).join(', ')}`) : null)))
          : emptyState('No detractor wrote about a theme in this period.')),
      h('section', { class: 'card', 'aria-labelledby': 'h-themes' }, h('h2', { id: 'h-themes' }, 'All themes'), h('div', { class: 'table-wrap' }, table))));

    const open = (name: string | undefined): void => {
      if (name) location.hash = verbatimsOf(name, survey);
    };
    chartMod.then(({ hBars, divergingBars }) => {
      if (signal.aborted) return;
      hBars(volBox, byVolume.map((x) => x.name), byVolume.map((x) => x.volume), {
        label: (i) => `${fmtInt(byVolume[i]?.volume ?? 0)} · ${fmtPercent(byVolume[i]?.share ?? 0)}`,
        tip: (i) => `${byVolume[i]?.name ?? ''}: ${fmtInt(byVolume[i]?.volume ?? 0)} answers, sentiment ${sentimentWord(byVolume[i]?.sentiment ?? null)} — click for the verbatims`,
        colors: byVolume.map((x) => sentimentColour(x.sentiment)),
        onClick: (i) => open(byVolume[i]?.name),
      }, signal);
      if (withImpact.length) {
        divergingBars(impactBox, withImpact.map((x) => x.name), withImpact.map((x) => x.nps_impact), {
          label: (i) => signed.format(withImpact[i]?.nps_impact ?? 0),
          tip: (i) => {
            const x = withImpact[i];
            return x ? `${x.name}: NPS ${signed.format(x.nps_with ?? 0)} with, ${signed.format(x.nps_without ?? 0)} without — click for the verbatims` : '';
          },
          onClick: (i) => open(withImpact[i]?.name),
        }, signal);
      }
    }).catch(() => chartFailed(volBox));
  }

  surveySel.addEventListener('change', () => load());
  load();
}
