// CX maturity (docs/maturity.md): where the organisation stands on the ten
// components of the maturity model, and what to do next.
//  #/maturity[?id=]  the latest assessment (or the one asked for) as a
//                    radar beside the one before it, each component's
//                    score and level, the recommendations, the evidence
//                    saved with it, and the history of the overall level.
//  #/maturity/new    the questionnaire, grouped by component, each
//                    statement a radio group 1–5, with what cxm measures
//                    of itself (GET /maturity/evidence) beside each
//                    component.
// Every text from the API goes into the page as a text node (dom.ts).
import { h, replace, uid } from '../dom';
import { ApiError, get, post, type Me } from '../api';
import { time } from '../format';
import { aborted, chartFailed, emptyState, errorState, loading, pageHeader, setFlash, takeFlash } from '../ui';
import { type PageContext } from '../router';

interface Level { id: string; name: string; from: number; to: number; description: string }
interface Statement { id: string; text: string }
interface Component { id: string; name: string; description: string; statements: Statement[]; next_steps: Record<string, string> }
interface Model { scale: { value: number; label: string }[]; levels: Level[]; components: Component[]; recommendations: number }
interface Scored { score: number; level: string; level_name?: string }
interface Evidence { id: string; component: string; text: string; figures: Record<string, number | null>; suggested_score: number }
interface Assessment {
  id: string; created_at: string; actor: string; note: string | null;
  overall: Scored & { level_name: string };
  components: (Scored & { id: string; name?: string })[];
  recommendations?: (Scored & { rank: number; component: string; name: string; next_step: string })[];
  evidence?: Evidence[];
  answers?: Record<string, number>;
}
interface History { assessments: Assessment[]; next_cursor: string | null }

const score = (v: number): string => v.toFixed(2);
const levelName = (m: Model, id: string): string => m.levels.find((l) => l.id === id)?.name ?? id;
const HISTORY_MAX = 100;

function levelBadge(m: Model, id: string): HTMLElement {
  return h('span', { class: `badge mat-level mat-${id.replace(/[^a-z]/g, '')}` }, levelName(m, id));
}

function evidenceList(m: Model, items: Evidence[], only?: string): HTMLElement | null {
  const list = only ? items.filter((e) => e.component === only) : items;
  if (!list.length) return null;
  return h('ul', { class: 'mat-evidence' }, list.map((e) => h('li', { 'data-evidence': e.id },
    h('span', null, e.text), ' ',
    h('span', { class: 'muted small nowrap' },
      only ? `Suggests ${e.suggested_score}.` : `${m.components.find((c) => c.id === e.component)?.name ?? e.component} · suggests ${e.suggested_score}.`))));
}

// ---- the result and the history ----

export function maturityPage(main: HTMLElement, ctx: PageContext): void {
  const results = h('div', { class: 'results', 'aria-busy': 'true' }, loading('Loading the assessments…'));
  const take = h('a', { class: 'btn btn-primary', href: '#/maturity/new', hidden: true }, 'Take the assessment');
  main.append(pageHeader('CX maturity', 'Where the organisation stands on the ten components of the maturity model, and what to do next.', take),
    takeFlash() ?? '', results);
  const chartMod = import('../chart');
  chartMod.catch(() => { /* said where the chart goes */ });

  async function load(): Promise<void> {
    const signal = ctx.signal;
    try {
      const [model, hist, me] = await Promise.all([
        get<Model>('maturity/model', {}, { signal }),
        get<History>('maturity/assessments', { limit: HISTORY_MAX }, { signal }),
        get<Me>('me', {}, { signal }),
      ]);
      // answering needs the program permission (admins and CX leads)
      const mayAnswer = me.permissions.includes('program');
      take.hidden = !mayAnswer;
      const list = hist.assessments;
      if (!list.length) {
        replace(results, h('section', { class: 'card' },
          emptyState('No assessment yet.', mayAnswer
            ? 'Answer the statements of the ten components (about 15 minutes) to see where the organisation stands and what to do next.'
            : 'An admin or a CX lead answers the assessment; its result will show here.'),
          mayAnswer ? h('p', { class: 'center' }, h('a', { class: 'btn btn-primary', href: '#/maturity/new' }, 'Take the assessment')) : null));
        return;
      }
      const want = ctx.query.get('id');
      const idx = Math.max(0, want ? list.findIndex((a) => a.id === want) : 0);
      const shown = await get<Assessment>(`maturity/assessments/${encodeURIComponent((list[idx] as Assessment).id)}`, {}, { signal });
      render(model, shown, list[idx + 1] ?? null, list);
    } catch (e) {
      if (aborted(e)) return;
      replace(results, errorState(e, () => load()));
    } finally {
      if (!signal.aborted) results.setAttribute('aria-busy', 'false');
    }
  }

  function render(m: Model, a: Assessment, prev: Assessment | null, list: Assessment[]): void {
    const signal = ctx.signal;
    const byId = (x: Assessment | null, id: string): number | null => x?.components.find((c) => c.id === id)?.score ?? null;
    const when = (x: Assessment): string => new Date(x.created_at).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
    const lvl = m.levels.find((l) => l.id === a.overall.level);
    const overall = h('section', { class: 'card mat-overall', 'aria-labelledby': 'h-overall' },
      h('h2', { id: 'h-overall' }, 'Overall'),
      h('p', { class: 'kpi-value', 'data-value': String(a.overall.score) }, score(a.overall.score), ' ', levelBadge(m, a.overall.level)),
      prev ? h('p', { class: 'muted small mat-change' },
        `${a.overall.score >= prev.overall.score ? '+' : '−'}${score(Math.abs(a.overall.score - prev.overall.score))} since ${when(prev)} (${score(prev.overall.score)}, ${levelName(m, prev.overall.level)}).`) : null,
      lvl ? h('p', null, lvl.description) : null,
      h('p', { class: 'muted small' }, 'Assessed ', time(a.created_at), ` by ${a.actor}.`),
      a.note ? h('p', { class: 'mat-note' }, a.note) : null);
    const box = h('div', {
      class: 'chart mat-radar', role: 'img',
      'aria-label': `Score per component, from 1 to 5: ${m.components.map((c) => {
        const cur = byId(a, c.id), before = byId(prev, c.id);
        return `${c.name} ${cur === null ? '—' : score(cur)}${before === null ? '' : ` (before ${score(before)})`}`;
      }).join('; ')}.`,
    });
    const radarCard = h('section', { class: 'card', 'aria-labelledby': 'h-radar' },
      h('h2', { id: 'h-radar' }, prev ? `The ten components: ${when(a)} against ${when(prev)}` : `The ten components on ${when(a)}`),
      box);
    const table = h('table', { class: 'table mat-components stack-sm' },
      h('caption', { class: 'sr-only' }, 'Score and level per component'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Component'), h('th', { scope: 'col', class: 'num' }, 'Score'),
        h('th', { scope: 'col' }, 'Level'), h('th', { scope: 'col', class: 'num' }, 'Before'))),
      h('tbody', null, m.components.map((c) => {
        const cur = a.components.find((x) => x.id === c.id);
        const before = byId(prev, c.id);
        return h('tr', { 'data-component': c.id },
          h('th', { scope: 'row', class: 'cell-full' }, c.name),
          h('td', { class: 'num c-score', 'data-label': 'Score', 'data-value': cur ? String(cur.score) : '' }, cur ? score(cur.score) : '—'),
          h('td', { class: 'c-level', 'data-label': 'Level' }, cur ? levelBadge(m, cur.level) : '—'),
          h('td', { class: 'num muted', 'data-label': 'Before' }, before === null ? '—' : score(before)));
      })));
    const recs = a.recommendations ?? [];
    const recCard = h('section', { class: 'card mat-recs', 'aria-labelledby': 'h-recs' },
      h('h2', { id: 'h-recs' }, 'Next steps for the weakest components'),
      h('ol', { class: 'mat-rec-list' }, recs.map((r) => h('li', { 'data-component': r.component },
        h('strong', null, r.name), ' ', h('span', { class: 'muted' }, `${score(r.score)} · `), levelBadge(m, r.level),
        h('p', null, r.next_step),
        evidenceList(m, a.evidence ?? [], r.component)))),
      h('p', { class: 'muted small' }, `The ${m.recommendations} lowest-scoring components, lowest first (equal scores in the model’s order), with the step for the level each is at.`));
    const ev = a.evidence ?? [];
    const evCard = h('section', { class: 'card', 'aria-labelledby': 'h-evidence' },
      h('h2', { id: 'h-evidence' }, 'Evidence from cxm at the time'),
      h('p', { class: 'muted small' }, 'What cxm measured of its own data when this assessment was saved, each with the score it suggests for its component. The assessor’s answers decide the score.'),
      evidenceList(m, ev) ?? emptyState('No evidence was saved with this assessment.'));
    const histBox = h('div', {
      class: 'chart mat-history-chart', role: 'img',
      'aria-label': `Overall score over time: ${[...list].reverse().map((x) => `${when(x)} ${score(x.overall.score)} (${levelName(m, x.overall.level)})`).join('; ')}.`,
    });
    const histTable = h('table', { class: 'table mat-history stack-sm' },
      h('caption', { class: 'sr-only' }, 'Assessments, newest first'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Date'), h('th', { scope: 'col', class: 'num' }, 'Overall'),
        h('th', { scope: 'col' }, 'Level'), h('th', { scope: 'col', class: 'hide-sm' }, 'By'), h('th', { scope: 'col' }, 'Note'))),
      h('tbody', null, list.map((x) => h('tr', { 'data-id': x.id, class: x.id === a.id ? 'selected' : null },
        h('th', { scope: 'row' }, x.id === a.id ? h('span', { 'aria-current': 'true' }, when(x))
          : h('a', { href: `#/maturity?id=${encodeURIComponent(x.id)}` }, when(x))),
        h('td', { class: 'num', 'data-label': 'Overall' }, score(x.overall.score)),
        h('td', { 'data-label': 'Level' }, levelBadge(m, x.overall.level)),
        h('td', { class: 'hide-sm' }, x.actor),
        h('td', { class: 'cell-full muted' }, x.note ?? '')))));
    const histCard = h('section', { class: 'card', 'aria-labelledby': 'h-history' },
      h('h2', { id: 'h-history' }, 'History'),
      list.length > 1 ? histBox : h('p', { class: 'muted' }, 'One assessment so far: the next one will show the trend.'),
      h('div', { class: 'table-wrap' }, histTable));
    replace(results, h('div', { class: 'stack' },
      h('div', { class: 'grid mat-grid' }, radarCard, overall),
      h('div', { class: 'grid mat-grid' }, h('section', { class: 'card', 'aria-labelledby': 'h-comp' },
        h('h2', { id: 'h-comp' }, 'Per component'), h('div', { class: 'table-wrap' }, table)), recCard),
      evCard, histCard));
    const css = getComputedStyle(document.documentElement);
    const accent = css.getPropertyValue('--accent').trim() || '#2f6fde';
    const before = css.getPropertyValue('--text-2').trim() || '#888';
    chartMod.then(({ radar, scoreLine }) => {
      if (signal.aborted) return;
      const series = [{ name: `${when(a)} (${score(a.overall.score)})`, color: accent, data: m.components.map((c) => byId(a, c.id) ?? 0) }];
      if (prev) series.push({ name: `${when(prev)} (${score(prev.overall.score)})`, color: before, data: m.components.map((c) => byId(prev, c.id) ?? 0) });
      radar(box, m.components.map((c) => c.name), series, { min: 0, max: 5, fmt: score }, signal);
      if (list.length > 1) {
        const old = [...list].reverse();
        scoreLine(histBox, old.map(when), old.map((x) => x.overall.score), {
          min: 1, max: 5, fmt: (v) => (Number.isInteger(v) ? String(v) : score(v)),
          tip: (i) => { const x = old[i] as Assessment; return `${when(x)}: ${score(x.overall.score)}, ${levelName(m, x.overall.level)}`; },
        }, signal);
      }
    }).catch(() => {
      chartFailed(box);
      if (list.length > 1) chartFailed(histBox);
    });
  }

  load();
}

// ---- the questionnaire ----

export function maturityNewPage(main: HTMLElement, ctx: PageContext): void {
  const body = h('div', { class: 'results', 'aria-busy': 'true' }, loading('Loading the questionnaire…'));
  main.append(pageHeader('CX maturity assessment',
    'Say how true each statement is of the organisation today, from 1 (not true) to 5 (true everywhere, consistently). Answer what is, not what is planned.'),
  body);

  async function load(): Promise<void> {
    try {
      const me = await get<Me>('me', {}, { signal: ctx.signal });
      if (!me.permissions.includes('program')) {
        replace(body, h('section', { class: 'card' },
          emptyState('Your role may read the assessments but not answer them.',
            'Answering needs the program permission, which admins and CX leads have.'),
          h('p', { class: 'center' }, h('a', { class: 'btn', href: '#/maturity' }, 'See the assessments'))));
        return;
      }
      const [model, ev] = await Promise.all([
        get<Model>('maturity/model', {}, { signal: ctx.signal }),
        get<{ evidence: Evidence[] }>('maturity/evidence', {}, { signal: ctx.signal }).catch((e) => {
          if (aborted(e)) throw e;
          return { evidence: [] as Evidence[] };
        }),
      ]);
      form(model, ev.evidence);
    } catch (e) {
      if (aborted(e)) return;
      replace(body, errorState(e, () => load()));
    } finally {
      if (!ctx.signal.aborted) body.setAttribute('aria-busy', 'false');
    }
  }

  function form(m: Model, evidence: Evidence[]): void {
    const groups = new Map<string, { fs: HTMLFieldSetElement; err: HTMLElement }>();
    const total = m.components.reduce((n, c) => n + c.statements.length, 0);
    const progress = h('p', { class: 'muted small mat-progress', 'aria-live': 'polite' }, `0 of ${total} answered.`);
    const count = (): number => m.components.reduce((n, c) => n + c.statements.filter((s) =>
      (groups.get(s.id)?.fs.querySelector('input:checked') ?? null) !== null).length, 0);
    const sections = m.components.map((c, ci) => {
      const hid = `h-c-${c.id.replace(/[^a-z_]/g, '')}`;
      const ev = evidenceList(m, evidence, c.id);
      return h('section', { class: 'card mat-component', 'aria-labelledby': hid, 'data-component': c.id },
        h('h2', { id: hid }, `${ci + 1}. ${c.name}`),
        h('p', { class: 'muted' }, c.description),
        ev ? h('div', { class: 'mat-hint' }, h('p', { class: 'small' }, h('strong', null, 'What cxm sees')), ev) : null,
        c.statements.map((s) => {
          const name = uid('q');
          const err = h('p', { class: 'field-error', id: `${name}-err`, hidden: true });
          const fs = h('fieldset', { class: 'mat-statement', 'data-statement': s.id, 'aria-describedby': `${name}-err` },
            h('legend', null, s.text),
            h('div', { class: 'mat-scale' }, m.scale.map((o) => {
              const id = `${name}-${o.value}`;
              const input = h('input', { type: 'radio', name: s.id, id, value: String(o.value), required: true });
              input.addEventListener('change', () => {
                err.hidden = true;
                fs.removeAttribute('aria-invalid');
                progress.textContent = `${count()} of ${total} answered.`;
              });
              return h('span', { class: 'mat-option' }, input,
                h('label', { for: id, title: o.label }, String(o.value), h('span', { class: 'sr-only' }, `: ${o.label}`)));
            })),
            err);
          groups.set(s.id, { fs, err });
          return fs;
        }));
    });
    const legend = h('p', { class: 'muted small mat-legend' }, m.scale.map((o) => `${o.value} ${o.label}`).join(' · '));
    const noteIn = h('textarea', { name: 'note', id: uid('note'), rows: 3, maxlength: 2000, placeholder: 'e.g. Leadership team workshop, Q2' });
    const formErr = h('p', { class: 'field-error', role: 'alert', hidden: true });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save the assessment');
    const f = h('form', { class: 'stack mat-form', novalidate: true },
      legend, sections,
      h('section', { class: 'card' },
        h('div', { class: 'field' }, h('label', { for: noteIn.id }, 'Note (optional)'), noteIn),
        progress, formErr,
        h('div', { class: 'form-actions' }, submit, h('a', { class: 'btn btn-quiet', href: '#/maturity' }, 'Cancel'))));
    const showError = (id: string, message: string): void => {
      const g = groups.get(id);
      if (!g) {
        formErr.textContent = message;
        formErr.hidden = false;
        return;
      }
      g.err.textContent = message;
      g.err.hidden = false;
      g.fs.setAttribute('aria-invalid', 'true');
      g.fs.scrollIntoView({ block: 'center' });
      g.fs.querySelector<HTMLInputElement>('input')?.focus({ preventScroll: true });
    };
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      formErr.hidden = true;
      const answers: Record<string, number> = {};
      for (const [id, g] of groups) {
        const v = g.fs.querySelector<HTMLInputElement>('input:checked');
        if (v) answers[id] = Number(v.value);
      }
      const missing = [...groups.keys()].find((id) => !(id in answers));
      if (missing) {
        showError(missing, `Choose 1 to 5 for this statement (${total - Object.keys(answers).length} still open).`);
        return;
      }
      submit.disabled = true;
      try {
        const note = noteIn.value.trim();
        const out = await post<Assessment>('maturity/assessments', { answers, ...(note ? { note } : {}) }, { signal: ctx.signal });
        setFlash(`Assessment saved: ${score(out.overall.score)}, ${out.overall.level_name}.`);
        location.hash = `#/maturity?id=${encodeURIComponent(out.id)}`;
      } catch (err) {
        if (aborted(err)) return;
        if (err instanceof ApiError && err.field?.startsWith('answers.')) showError(err.field.slice(8), err.message);
        else {
          formErr.textContent = err instanceof Error ? err.message : String(err);
          formErr.hidden = false;
        }
      } finally {
        submit.disabled = false;
      }
    });
    replace(body, f);
  }

  load();
}
