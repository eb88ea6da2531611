// Verbatims: what respondents wrote (GET /api/v1/feedback), newest first,
// each with its sentiment, its themes (a click filters by the theme), the
// score given beside it and a link to the customer; filters by survey,
// sentiment, theme and free text, kept in the address; pages by cursor.
// The texts come from respondents: they only ever go in as text.
import { h, replace } from '../dom';
import { get, type VerbatimList } from '../api';
import { fmtInt, time } from '../format';
import { aborted, emptyState, errorState, loading, pageHeader } from '../ui';
import { setQuery, type PageContext } from '../router';
import { field } from '../analytics';
import { sentimentChip, surveySelect, surveys } from '../listen';

const PAGE = 25;

export function verbatimsPage(main: HTMLElement, ctx: PageContext): void {
  const q = ctx.query;
  const { select: surveySel, fill } = surveySelect(q.get('survey') ?? '');
  const sentSel = h('select', { name: 'sentiment' },
    h('option', { value: '' }, 'Any'), h('option', { value: 'negative' }, 'Negative'),
    h('option', { value: 'neutral' }, 'Neutral'), h('option', { value: 'positive' }, 'Positive'));
  sentSel.value = ['negative', 'neutral', 'positive'].includes(q.get('sentiment') ?? '') ? q.get('sentiment') as string : '';
  const themeIn = h('input', { type: 'text', name: 'theme', value: q.get('theme') ?? '', autocomplete: 'off', placeholder: 'e.g. Delivery' });
  const textIn = h('input', { type: 'search', name: 'q', value: q.get('q') ?? '', autocomplete: 'off', placeholder: 'Words in the answer' });
  const surveyF = field('Survey', surveySel);
  const sentF = field('Sentiment', sentSel);
  const themeF = field('Theme', themeIn);
  const textF = field('Search', textIn, { cls: 'grow' });
  const form = h('form', { class: 'card filters-card', role: 'search', 'aria-label': 'Filter the verbatims' },
    h('div', { class: 'filters' }, surveyF.el, sentF.el, themeF.el, textF.el,
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Filter'))));
  const results = h('div', { class: 'results', 'aria-busy': 'true' });
  const said = h('p', { class: 'sr-only', role: 'status' });
  main.append(pageHeader('Verbatims', 'What respondents wrote, with its sentiment and themes. Click a theme to see only its answers.'), form, said, results);

  const names = new Map<string, string>();
  surveys(ctx.signal).then((list) => {
    fill(list);
    for (const s of list) names.set(s.id, s.name);
    for (const el of results.querySelectorAll<HTMLElement>('.verbatim-survey[data-survey]')) {
      el.textContent = names.get(el.dataset.survey ?? '') ?? el.textContent;
    }
  }).catch(() => { /* the list still works without names */ });

  const cursors: (string | null)[] = [null];
  let pageNo = 0;
  let ac: AbortController | null = null;
  async function load(page: number): Promise<void> {
    ac?.abort();
    ac = new AbortController();
    const signal = AbortSignal.any([ctx.signal, ac.signal]);
    const filters = { survey: surveySel.value, sentiment: sentSel.value, theme: themeIn.value.trim(), q: textIn.value.trim() };
    const out = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) out.set(k, v);
    setQuery(out);
    results.setAttribute('aria-busy', 'true');
    if (!results.firstChild || results.querySelector('.state')) replace(results, loading('Loading the verbatims…'));
    else results.classList.add('stale');
    try {
      const r = await get<VerbatimList>('feedback', { ...filters, limit: PAGE, cursor: cursors[page] ?? null }, { signal });
      pageNo = page;
      cursors[page + 1] = r.next_cursor;
      const filtered = Object.values(filters).some(Boolean);
      if (!r.responses.length) {
        said.textContent = 'No verbatims.';
        replace(results, h('section', { class: 'card' }, emptyState(
          page ? 'No more verbatims.' : filtered ? 'No verbatim matches these filters.' : 'No verbatims yet.',
          page ? undefined : filtered ? 'Clear a filter or choose another survey.' : 'Text answers to surveys appear here, with their sentiment and themes.')));
        return;
      }
      const first = pageNo * PAGE + 1;
      said.textContent = `Verbatims ${first} to ${first + r.responses.length - 1}.`;
      const prev = h('button', { type: 'button', class: 'btn', disabled: pageNo === 0 }, '← Newer');
      const next = h('button', { type: 'button', class: 'btn', disabled: r.next_cursor === null }, 'Older →');
      prev.addEventListener('click', () => load(pageNo - 1));
      next.addEventListener('click', () => load(pageNo + 1));
      replace(results, h('section', { class: 'card', 'aria-label': 'Verbatims' },
        h('p', { class: 'muted result-count' }, `Verbatims ${fmtInt(first)}–${fmtInt(first + r.responses.length - 1)}`),
        h('ul', { class: 'verbatims' }, r.responses.map((v) => h('li', { class: 'verbatim', 'data-id': v.id },
          h('div', { class: 'verbatim-score', title: 'The score given in the same response' },
            v.score === null ? h('span', { class: 'muted' }, '—') : h('span', { class: 'score' }, String(v.score)),
            v.score !== null && v.score_type ? h('span', { class: 'muted small', 'aria-hidden': 'true' }, v.score_type.toUpperCase()) : null,
            h('span', { class: 'sr-only' }, v.score === null ? 'No score' : `${(v.score_type ?? 'score').toUpperCase()} ${v.score}`)),
          h('div', { class: 'verbatim-body' },
            h('blockquote', { class: 'verbatim-text' }, v.text),
            h('div', { class: 'verbatim-meta' },
              sentimentChip(v.sentiment),
              v.themes.length ? h('ul', { class: 'chips theme-chips', 'aria-label': 'Themes' }, v.themes.map((t) => {
                const b = h('button', { type: 'button', class: 'chip theme-chip', 'aria-pressed': String(t === themeIn.value.trim()) }, t);
                b.addEventListener('click', () => {
                  themeIn.value = t;
                  cursors.length = 1;
                  load(0);
                });
                return h('li', null, b);
              })) : null),
            h('p', { class: 'muted small' },
              time(v.submitted_at, 'short'), ' · ',
              h('a', { href: `#/customers/${encodeURIComponent(v.customer_id)}` }, `Customer ${v.customer_id}`),
              ' · ', h('span', { class: 'verbatim-survey', 'data-survey': v.survey_id }, names.get(v.survey_id) ?? `Survey ${v.survey_id}`),
              `, question ${v.question}`,
              v.context?.channel ? ` · ${v.context.channel}` : ''))))),
        pageNo > 0 || r.next_cursor !== null
          ? h('nav', { class: 'pager', 'aria-label': 'Pages of verbatims' }, prev, h('span', { class: 'muted' }, `Page ${pageNo + 1}`), next)
          : null));
    } catch (e) {
      if (aborted(e)) return;
      replace(results, errorState(e, () => load(page)));
    } finally {
      if (!signal.aborted) {
        results.setAttribute('aria-busy', 'false');
        results.classList.remove('stale');
      }
    }
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    cursors.length = 1;
    load(0);
  });
  for (const s of [surveySel, sentSel]) s.addEventListener('change', () => {
    cursors.length = 1;
    load(0);
  });
  load(0);
}
