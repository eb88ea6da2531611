// Journey maps (lib/journey/maps.c): the list, one map drawn as a journey
// map is drawn in CX practice (a column per stage, touchpoints as cards in
// a front-stage and a back-stage lane split by the line of visibility, the
// expected emotion as a curve above them and, beside it, the emotion the
// survey scores given at each touchpoint measure; each bound touchpoint
// with its live numbers, each with its scores), and the editor (create;
// save as a new version).
import { h, replace } from '../dom';
import {
  ApiError, get, post, put,
  type EventNames, type JourneyMap, type JourneyMapDoc, type JourneyMapList, type JourneyStage, type MetricKind, type Touchpoint,
  type TouchpointScores,
} from '../api';
import type { EmotionPoint } from '../chart';
import { METRICS } from '../listen';
import { fmtInt, fmtPercent, time } from '../format';
import { aborted, chartFailed, emptyState, errorState, loading, pageHeader, setFlash, takeFlash } from '../ui';
import { setQuery, type PageContext } from '../router';
import {
  dateInput, dayBefore, field, fmtDuration, normalField, rangeOf, rangeText, settled, startFromData, type Field,
} from '../analytics';

const WINDOWS = ['1d', '7d', '14d', '30d', '90d'];
const EMOTIONS: [string, string][] = [
  ['', 'Not set'], ['2', '+2 very positive'], ['1', '+1 positive'], ['0', '0 neutral'], ['-1', '−1 negative'], ['-2', '−2 very negative'],
];

/** A message for the next page shown (after a save). */

const mapPath = (id: string): string => `journey-maps/${encodeURIComponent(id)}`;
const mapHref = (id: string): string => `#/journeys/${encodeURIComponent(id)}`;

function stateBadge(state: string): HTMLElement {
  return h('span', { class: `badge map-state state-${state === 'future' ? 'future' : 'current'}`, title: state === 'future' ? 'The journey as it should be' : 'The journey as it is' },
    state === 'future' ? 'Future state' : 'Current state');
}

// ---------------------------------------------------------------- list --

export function journeysPage(main: HTMLElement, ctx: PageContext): void {
  const add = h('a', { class: 'btn btn-primary', href: '#/journeys/new' }, '+ New journey map');
  const results = h('div', { class: 'results', 'aria-busy': 'true' });
  main.append(
    pageHeader('Journey maps', 'Stages and touchpoints of a customer journey, with live numbers from the events they are bound to.', add),
    takeFlash() ?? '',
    results);
  replace(results, loading('Loading journey maps…'));
  get<JourneyMapList>('journey-maps', {}, { signal: ctx.signal }).then(({ maps }) => {
    results.setAttribute('aria-busy', 'false');
    if (!maps.length) {
      replace(results, h('div', { class: 'card' },
        emptyState('No journey maps yet.', 'A journey map lays out the stages a customer goes through and the touchpoints of each; bind a touchpoint to an event to see how many customers reach it.'),
        h('p', { class: 'center' }, h('a', { class: 'btn btn-primary', href: '#/journeys/new' }, 'Create the first journey map'))));
      return;
    }
    replace(results, h('div', { class: 'card' }, h('div', { class: 'table-wrap' }, h('table', { class: 'table maps-table stack-sm' },
      h('caption', { class: 'sr-only' }, 'Journey maps'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Map'), h('th', { scope: 'col' }, 'State'),
        h('th', { scope: 'col', class: 'num' }, 'Stages'), h('th', { scope: 'col', class: 'num' }, 'Touchpoints'),
        h('th', { scope: 'col', class: 'num' }, 'Version'), h('th', { scope: 'col' }, 'Saved'))),
      h('tbody', null, maps.map((m) => h('tr', { 'data-id': m.id },
        h('th', { scope: 'row', class: 'cell-full' }, h('a', { href: mapHref(m.id), class: 'strong' }, m.name)),
        h('td', { 'data-label': 'State' }, stateBadge(m.state)),
        h('td', { class: 'num', 'data-label': 'Stages' }, fmtInt(m.stages)),
        h('td', { class: 'num', 'data-label': 'Touchpoints' }, fmtInt(m.touchpoints)),
        h('td', { class: 'num', 'data-label': 'Version' }, fmtInt(m.version)),
        h('td', { class: 'nowrap', 'data-label': 'Saved' }, time(m.updated_at, 'short')))))))));
  }).catch((e) => {
    if (aborted(e)) return;
    results.setAttribute('aria-busy', 'false');
    replace(results, errorState(e));
  });
}

// ----------------------------------------------------------------- map --

export function journeyPage(main: HTMLElement, ctx: PageContext): void {
  const id = ctx.params.id ?? '';
  const q = ctx.query;
  const notice = takeFlash();
  const title = h('div');
  const fromF = field('From', dateInput(q.get('from') ?? '', 'from'));
  const toF = field('To', dateInput(q.get('to') ?? '', 'to'));
  const winSel = h('select', { name: 'window' }, WINDOWS.map((w) => h('option', { value: w }, w)));
  winSel.value = WINDOWS.includes(q.get('window') ?? '') ? q.get('window') as string : '7d';
  const winF = field('Window', winSel);
  winSel.title = 'How long after a touchpoint the next one counts';
  const verSel = h('select', { name: 'version' });
  const verF = field('Version', verSel);
  const formErr = h('div', { class: 'form-alert' });
  const form = h('form', { class: 'builder map-controls', 'aria-label': 'Range of the live numbers' },
    h('div', { class: 'form-row' }, fromF.el, toF.el, winF.el, verF.el,
      h('div', { class: 'form-actions align-end' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Show'))),
    formErr);
  const body = h('div', { class: 'results', 'aria-busy': 'true' });
  const said = h('p', { class: 'sr-only', role: 'status' });
  main.append(h('a', { class: 'back', href: '#/journeys' }, '← Journey maps'), title, notice ?? '',
    h('section', { class: 'card' }, form), said, body);
  replace(title, pageHeader('Journey map'));
  const fields: Record<string, Field<HTMLElement>> = { from: fromF, to: toF, window: winF, version: verF };
  const chartMod = import('../chart');
  chartMod.catch(() => { /* said where the chart goes */ });

  let version = /^\d+$/.test(q.get('version') ?? '') ? Number(q.get('version')) : 0;
  let ac: AbortController | null = null;
  async function load(): Promise<void> {
    ac?.abort();
    ac = new AbortController();
    const signal = AbortSignal.any([ctx.signal, ac.signal]);
    const range = rangeOf(fromF.input.value, toF.input.value);
    const query = { ...range, window: winSel.value, version: version || null };
    const qs = new URLSearchParams({ from: fromF.input.value, to: toF.input.value, window: winSel.value });
    if (version) qs.set('version', String(version));
    setQuery(qs);
    for (const f of Object.values(fields)) f.error('');
    formErr.replaceChildren();
    body.setAttribute('aria-busy', 'true');
    if (!body.firstChild || body.querySelector('.state')) replace(body, loading('Counting the touchpoints…'));
    else body.classList.add('stale');
    try {
      const m = await get<JourneyMap>(mapPath(id), query, { signal });
      const focused = document.activeElement === main;
      replace(title, pageHeader(m.name,
        h('span', null, stateBadge(m.state), ' ', `Version ${m.version} of ${m.latest_version}, saved `, time(m.version_saved_at, 'short'),
          m.live ? ` · live numbers ${rangeText(m.live.from, m.live.to)}` : ''),
        h('a', { class: 'btn', href: `${mapHref(m.id)}/edit${m.version !== m.latest_version ? `?version=${m.version}` : ''}` }, 'Edit · save as new version')));
      if (focused) main.querySelector<HTMLElement>('h1')?.focus({ preventScroll: true });
      verSel.replaceChildren(...Array.from({ length: m.latest_version }, (_, i) => m.latest_version - i).map((v) =>
        h('option', { value: v }, v === m.latest_version ? `${v} (latest)` : String(v))));
      verSel.value = String(m.version);
      said.textContent = `${m.name}, version ${m.version}: ${m.stages.length} stages shown.`;
      render(body, m, chartMod, signal);
    } catch (e) {
      if (aborted(e)) return;
      replace(body);
      if (e instanceof ApiError && e.status === 404) {
        replace(body, emptyState(version ? 'This version does not exist.' : 'This journey map does not exist.', 'The list shows the maps there are.'));
      } else {
        const f = e instanceof ApiError && e.status === 400 && e.field ? fields[normalField(e.field)] : undefined;
        if (f && e instanceof ApiError) f.error(e.message);
        else formErr.append(errorState(e, () => load()));
      }
    } finally {
      settled(body, signal);
    }
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load();
  });
  winSel.addEventListener('change', () => load());
  verSel.addEventListener('change', () => {
    version = Number(verSel.value) || 0;
    load();
  });

  replace(body, loading('Loading…'));
  startFromData(ctx.signal, null, fromF, toF, (end) => dayBefore(end, 29), load);
}

function render(box: HTMLElement, m: JourneyMap, chartMod: Promise<typeof import('../chart')>, signal: AbortSignal): void {
  const n = m.stages.length;
  const cols = `repeat(${n}, minmax(var(--map-col), 1fr))`;
  const lane = (which: 'front' | 'back'): HTMLElement[] => m.stages.map((s, si) => {
    const tps = s.touchpoints.filter((t) => (t.lane ?? 'front') === which);
    return h('ul', { class: `map-cell lane-${which}`, style: `grid-column:${si + 1}`, 'aria-label': `${s.name}: ${which === 'front' ? 'front stage' : 'back stage'}` },
      tps.length ? tps.map((t) => h('li', null, card(t))) : h('li', { class: 'map-none muted small' }, '—'));
  });
  // Emotion: a slot per touchpoint with an expected or a measured emotion,
  // spread over its stage's column in the order of the stage's
  // touchpoints; the expected curve joins its points, the measured one
  // breaks where a touchpoint has no answers.
  const points: EmotionPoint[] = [];
  const measured: EmotionPoint[] = [];
  m.stages.forEach((s, si) => {
    const slots = s.touchpoints.filter((t) => typeof t.expected_emotion === 'number' || typeof t.scores?.measured_emotion === 'number');
    slots.forEach((t, j) => {
      const x = si + (j + 0.5) / slots.length;
      const base = { x, name: t.name, stage: s.name, mot: !!t.moment_of_truth };
      if (typeof t.expected_emotion === 'number') points.push({ ...base, y: t.expected_emotion });
      const sc = t.scores;
      measured.push({ ...base, y: sc?.measured_emotion ?? null, detail: sc ? scoreList(sc).map((x) => `${x.label} ${x.value} (n = ${fmtInt(x.n)})`).join(' · ') : '' });
    });
  });
  const anyMeasured = measured.some((p) => p.y !== null);
  const withScores = m.stages.some((s) => s.touchpoints.some((t) => t.scores));
  const curve = h('div', {
    class: `chart emotion-chart${anyMeasured ? ' with-measured' : ''}`, role: 'img',
    'aria-label': [
      points.length
        ? `Expected emotion: ${points.map((p) => `${p.name} ${signedEmotion(p.y as number)}`).join(', ')}.`
        : 'No touchpoint has an expected emotion.',
      anyMeasured
        ? `Measured emotion from survey scores: ${measured.map((p) => `${p.name} ${p.y === null ? 'no answers' : signedEmotion(p.y)}`).join(', ')}.`
        : '',
    ].filter(Boolean).join(' '),
  });
  const grid = h('div', { class: 'jmap', style: `grid-template-columns:${cols}` },
    m.stages.map((s, si) => h('div', { class: 'map-stage', style: `grid-column:${si + 1}` },
      h('h2', { class: 'stage-name' }, h('span', { class: 'stage-no', 'aria-hidden': 'true' }, String(si + 1)), s.name),
      typeof s.customers === 'number' ? h('p', { class: 'muted small stage-customers' }, `${fmtInt(s.customers)} customers`) : null)),
    h('div', { class: 'map-row-label', style: 'grid-column:1/-1' }, anyMeasured ? 'Emotion — expected and measured' : 'Expected emotion'),
    h('div', { class: 'map-emotion', style: 'grid-column:1/-1' },
      points.length || anyMeasured ? curve : h('p', { class: 'muted small' }, 'Give touchpoints an expected emotion (−2 to +2) to draw the curve.'),
      withScores && !anyMeasured
        ? h('p', { class: 'muted small no-measured' }, 'No survey answers at these touchpoints in the range: the measured curve appears when responses carry context.touchpoint set to a touchpoint’s name.')
        : null),
    h('div', { class: 'map-row-label', style: 'grid-column:1/-1' }, 'Front stage — what the customer sees and does'),
    lane('front'),
    h('div', { class: 'line-of-visibility', style: 'grid-column:1/-1', role: 'separator', 'aria-label': 'Line of visibility' },
      h('span', null, 'Line of visibility')),
    h('div', { class: 'map-row-label', style: 'grid-column:1/-1' }, 'Back stage — behind the scenes'),
    lane('back'));
  replace(box, h('div', { class: 'stack' },
    m.description ? h('p', { class: 'map-desc' }, m.description) : null,
    h('section', { class: 'card map-card', 'aria-label': 'Journey map' }, h('div', { class: 'jmap-scroll', tabindex: 0, role: 'region', 'aria-label': 'Journey map, scrolls sideways' }, grid)),
    h('p', { class: 'muted small' },
      'Live numbers: the customers who did a touchpoint’s event (and rule) in the range; “to next”, the share of them who then did the next bound touchpoint within the window, and the median time it took.',
      withScores ? ' Scores: the NPS, CSAT and CES of the customer survey answers given at the touchpoint (context.touchpoint is its name) in the range, with their number of answers; the measured emotion puts them on the −2 to +2 scale (NPS −100…100, CSAT 0…100 % with 50 % at neutral, CES 1…7 with 4 at neutral) and averages them.' : '')));
  if (points.length || anyMeasured) {
    chartMod.then(({ emotionCurve }) => {
      if (signal.aborted) return;
      emotionCurve(curve, n, points, signal, anyMeasured ? measured : undefined);
    }).catch(() => chartFailed(curve));
  }
}

const emotionFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2, signDisplay: 'exceptZero' });
function signedEmotion(y: number): string {
  return emotionFmt.format(y);
}

/** The scores given at a touchpoint, those with answers only. */
function scoreList(sc: TouchpointScores): { k: MetricKind; label: string; value: string; raw: number; n: number }[] {
  return (['nps', 'csat', 'ces'] as const).flatMap((k) => {
    const v = sc[k];
    const n = sc[`${k}_n`];
    return typeof v === 'number' && n > 0 ? [{ k, label: METRICS[k].label, value: METRICS[k].fmt(v), raw: v, n }] : [];
  });
}

function card(t: Touchpoint): HTMLElement {
  const l = t.live;
  const scores = t.scores ? scoreList(t.scores) : [];
  const felt = t.scores?.measured_emotion;
  return h('article', { class: `tp-card${t.moment_of_truth ? ' mot' : ''}`, 'data-tp': t.id ?? '' },
    h('h3', { class: 'tp-name' }, t.name),
    h('p', { class: 'tp-meta' },
      t.channel ? h('span', { class: 'source tp-channel', title: 'Channel' }, t.channel) : null,
      t.moment_of_truth ? h('span', { class: 'badge mot-badge', title: 'A moment of truth: it decides how the customer feels about the journey' }, '★ Moment of truth') : null),
    t.owner ? h('p', { class: 'small tp-owner' }, h('span', { class: 'muted' }, 'Owner: '), t.owner) : null,
    t.pain_points?.length ? h('div', { class: 'tp-pains' }, h('p', { class: 'small muted' }, 'Pain points'),
      h('ul', { class: 'small' }, t.pain_points.map((p) => h('li', null, p)))) : null,
    t.binding ? h('p', { class: 'small tp-binding' }, h('span', { class: 'muted' }, 'Event '), h('code', null, t.binding.event),
      t.binding.where ? [h('span', { class: 'muted' }, ' where '), h('code', { class: 'rule' }, t.binding.where)] : null) : null,
    l ? h('dl', { class: 'tp-live' },
      h('div', null, h('dt', null, 'Events'), h('dd', { 'data-k': 'events' }, fmtInt(l.events))),
      h('div', null, h('dt', null, 'Customers'), h('dd', { 'data-k': 'customers' }, fmtInt(l.customers))),
      h('div', null, h('dt', null, 'To next'), h('dd', { 'data-k': 'conversion', title: l.next_customers === undefined ? '' : `${fmtInt(l.next_customers)} of ${fmtInt(l.customers)} customers` },
        l.conversion_to_next === null ? '—' : fmtPercent(l.conversion_to_next))),
      h('div', null, h('dt', null, 'Median to next'), h('dd', { 'data-k': 'median' },
        l.median_hours_to_next === null ? '—' : fmtDuration(l.median_hours_to_next * 3600))))
      : t.binding ? null : h('p', { class: 'small muted tp-unbound' }, 'Not bound to an event'),
    scores.length ? h('dl', { class: 'tp-scores', 'aria-label': `Survey scores at ${t.name}` },
      scores.map((x) => h('div', null, h('dt', null, x.label),
        h('dd', { 'data-k': x.k, 'data-value': String(x.raw), 'data-n': String(x.n) }, x.value, h('span', { class: 'n' }, ` n = ${fmtInt(x.n)}`)))),
      typeof felt === 'number' ? h('div', null, h('dt', null, 'Measured emotion'),
        h('dd', { 'data-k': 'measured', 'data-value': String(felt) }, signedEmotion(felt))) : null)
      : null);
}

// -------------------------------------------------------------- editor --

interface TpEditor {
  el: HTMLElement;
  fields: Record<string, Field<HTMLElement>>;
  value(): Touchpoint;
  setIndex(si: number, ti: number): void;
  focus(): void;
}

interface StageEditor {
  el: HTMLElement;
  fields: Record<string, Field<HTMLElement>>;
  tps: TpEditor[];
  value(): JourneyStage;
  setIndex(si: number): void;
  focus(): void;
}

/** A label with a visible text and, for screen readers and tests, where
 *  the field is ("Where rule — stage 2, touchpoint 1"). */
function where(text: string): { node: HTMLElement; set(s: string): void } {
  const extra = h('span', { class: 'sr-only' });
  return { node: h('span', null, text, extra), set: (s) => { extra.textContent = ` — ${s}`; } };
}

/** `#/journeys/new` and `#/journeys/{id}/edit?version=`. */
export function journeyEditPage(main: HTMLElement, ctx: PageContext): void {
  const id = ctx.params.id ?? '';
  main.append(loading(id ? 'Loading the journey map…' : 'Loading…'));
  const names = get<EventNames>('events/names', {}, { signal: ctx.signal })
    .then((e) => [...new Set(e.events.map((x) => x.name))].sort((a, b) => a.localeCompare(b)))
    .catch((e) => {
      if (aborted(e)) throw e;
      return [] as string[];
    });
  const version = /^\d+$/.test(ctx.query.get('version') ?? '') ? Number(ctx.query.get('version')) : null;
  const map = id ? get<JourneyMap>(mapPath(id), { live: 'false', version }, { signal: ctx.signal }) : Promise.resolve(null);
  Promise.all([names, map]).then(([n, m]) => {
    main.replaceChildren();
    editor(main, ctx, m, n);
    if (document.activeElement === main) main.querySelector<HTMLElement>('h1')?.focus({ preventScroll: true });
  }).catch((e) => {
    if (aborted(e)) return;
    replace(main, h('a', { class: 'back', href: '#/journeys' }, '← Journey maps'), pageHeader('Edit journey map'), errorState(e));
  });
}

function editor(main: HTMLElement, ctx: PageContext, m: JourneyMap | null, names: string[]): void {
  const nameF = field('Name', h('input', {
    type: 'text', name: 'name', value: m?.name ?? '', maxlength: 100, autocomplete: 'off', required: true, placeholder: 'e.g. First purchase',
  }), { cls: 'grow' });
  const stateSel = h('select', { name: 'state' },
    h('option', { value: 'current' }, 'Current state (as it is)'), h('option', { value: 'future' }, 'Future state (as it should be)'));
  stateSel.value = m?.state ?? 'current';
  const stateF = field('State', stateSel);
  const desc = h('textarea', { name: 'description', rows: 2, maxlength: 2000 });
  desc.value = m?.description ?? '';
  const descF = field('Description', desc, { cls: 'grow', help: 'Optional: whose journey, and from where to where.' });

  const stageList = h('ol', { class: 'stage-edits' });
  let stages: StageEditor[] = [];
  const addStageBtn = h('button', { type: 'button', class: 'btn' }, '+ Add stage');
  const stagesErr = h('p', { class: 'field-error', hidden: true });
  const stagesF: Field<HTMLElement> = {
    el: h('div'), get input() { return stages[0]?.el.querySelector('input') ?? addStageBtn; },
    error(message: string) { stagesErr.textContent = message; stagesErr.hidden = !message; },
  };
  const renumber = (): void => {
    stages.forEach((s, i) => s.setIndex(i));
    stageList.replaceChildren(...stages.map((s) => s.el));
    addStageBtn.disabled = stages.length >= 20;
  };
  const addStage = (s: JourneyStage | null): StageEditor => {
    const ed = stageEditor(s, names, {
      remove(x) {
        const i = stages.indexOf(x);
        stages = stages.filter((y) => y !== x);
        renumber();
        (stages[Math.max(0, i - 1)]?.el.querySelector('input') ?? addStageBtn).focus();
      },
    });
    stages.push(ed);
    return ed;
  };
  for (const s of m?.stages ?? [{ name: '', touchpoints: [{ name: '' }] }]) addStage(s);
  renumber();
  addStageBtn.addEventListener('click', () => {
    const ed = addStage({ name: '', touchpoints: [{ name: '' }] });
    renumber();
    ed.focus();
  });

  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, m ? 'Save as new version' : 'Create journey map');
  const cancel = h('a', { class: 'btn', href: m ? mapHref(m.id) : '#/journeys' }, 'Cancel');
  const formErr = h('div', { class: 'form-alert' });
  const form = h('form', { class: 'builder map-builder', 'aria-label': m ? 'Edit journey map' : 'New journey map', novalidate: true },
    h('div', { class: 'form-row' }, nameF.el, stateF.el),
    descF.el,
    h('fieldset', { class: 'stages-set' }, h('legend', null, 'Stages'),
      h('p', { class: 'help' }, 'Left to right, as the customer goes. Bind a touchpoint to an event to see its live numbers; “to next” goes to the next bound touchpoint.'),
      stageList, stagesErr, addStageBtn),
    h('div', { class: 'form-actions' }, save, cancel),
    formErr);
  main.append(
    h('a', { class: 'back', href: m ? mapHref(m.id) : '#/journeys' }, m ? `← ${m.name}` : '← Journey maps'),
    pageHeader(m ? `Edit “${m.name}”` : 'New journey map',
      m ? `Starting from version ${m.version}; saving makes version ${m.latest_version + 1}.` : 'Stages, their touchpoints, and the events they are bound to.'),
    h('section', { class: 'card' }, form));

  let saving = false;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (saving) return;
    const fields: Record<string, Field<HTMLElement>> = { name: nameF, state: stateF, description: descF, stages: stagesF };
    stages.forEach((s, si) => {
      for (const [k, f] of Object.entries(s.fields)) fields[`stages.${si}.${k}`] = f;
      s.tps.forEach((t, ti) => { for (const [k, f] of Object.entries(t.fields)) fields[`stages.${si}.touchpoints.${ti}.${k}`] = f; });
    });
    for (const f of Object.values(fields)) f.error('');
    formErr.replaceChildren();
    const doc: JourneyMapDoc = { name: nameF.input.value.trim(), state: stateSel.value === 'future' ? 'future' : 'current', stages: stages.map((s) => s.value()) };
    const d = desc.value.trim();
    if (d) doc.description = d;
    saving = true;
    save.disabled = true;
    save.textContent = 'Saving…';
    try {
      const out = m ? await put<JourneyMap>(mapPath(m.id), doc, { signal: ctx.signal }) : await post<JourneyMap>('journey-maps', doc, { signal: ctx.signal });
      setFlash(m ? `Saved “${out.name}” as version ${out.version}.` : `Created “${out.name}”.`);
      location.hash = mapHref(out.id);
    } catch (err) {
      if (aborted(err)) return;
      // The field named, else the nearest field that holds it
      // ("stages[1].touchpoints[0]" → that touchpoint's name).
      let f: Field<HTMLElement> | undefined;
      if (err instanceof ApiError && (err.status === 400 || err.status === 409) && err.field) {
        const path = normalField(err.field).split('.');
        while (path.length && !f) {
          f = fields[path.join('.')] ?? fields[`${path.join('.')}.name`];
          path.pop();
        }
      }
      if (f && err instanceof ApiError) {
        f.error(err.message);
        f.input.focus();
      } else {
        formErr.append(errorState(err));
      }
    } finally {
      saving = false;
      save.disabled = false;
      save.textContent = m ? 'Save as new version' : 'Create journey map';
    }
  });
}

function stageEditor(s: JourneyStage | null, names: string[], on: { remove(x: StageEditor): void }): StageEditor {
  const label = where('Stage name');
  const nameF = field(label.node, h('input', { type: 'text', name: 'stage', value: s?.name ?? '', maxlength: 100, autocomplete: 'off', placeholder: 'e.g. Discover' }), { cls: 'grow' });
  const legend = h('legend', null);
  const rm = h('button', { type: 'button', class: 'btn btn-small btn-danger' }, 'Remove stage');
  const tpList = h('ol', { class: 'tp-edits' });
  const addTp = h('button', { type: 'button', class: 'btn btn-small' }, '+ Add touchpoint');
  let index = 0;
  const tpErr = h('p', { class: 'field-error', hidden: true });
  const ed: StageEditor = {
    el: h('li', { class: 'stage-edit' }),
    fields: {},
    tps: [],
    value: () => {
      const out: JourneyStage = { name: nameF.input.value.trim(), touchpoints: ed.tps.map((t) => t.value()) };
      if (s?.id) out.id = s.id;
      return out;
    },
    setIndex(si: number) {
      index = si;
      legend.textContent = `Stage ${si + 1}`;
      label.set(`stage ${si + 1}`);
      rm.setAttribute('aria-label', `Remove stage ${si + 1}`);
      addTp.setAttribute('aria-label', `Add a touchpoint to stage ${si + 1}`);
      ed.tps.forEach((t, ti) => t.setIndex(si, ti));
    },
    focus: () => nameF.input.focus(),
  };
  ed.fields = {
    name: nameF,
    touchpoints: {
      el: h('div'), get input() { return ed.tps[0]?.el.querySelector('input') ?? addTp; },
      error(message: string) { tpErr.textContent = message; tpErr.hidden = !message; },
    },
  };
  const redraw = (): void => {
    ed.tps.forEach((t, ti) => t.setIndex(index, ti));
    tpList.replaceChildren(...ed.tps.map((t) => t.el));
  };
  const add = (t: Touchpoint | null): TpEditor => {
    const x = tpEditor(t, names, () => {
      const i = ed.tps.indexOf(x);
      ed.tps = ed.tps.filter((y) => y !== x);
      redraw();
      (ed.tps[Math.max(0, i - 1)]?.el.querySelector('input') ?? addTp).focus();
    });
    ed.tps.push(x);
    return x;
  };
  for (const t of s?.touchpoints ?? []) add(t);
  addTp.addEventListener('click', () => {
    const x = add(null);
    redraw();
    x.focus();
  });
  rm.addEventListener('click', () => on.remove(ed));
  redraw();
  ed.el.append(h('fieldset', { class: 'stage-set' }, legend,
    h('div', { class: 'form-row' }, nameF.el, h('div', { class: 'align-end' }, rm)),
    tpList, tpErr, addTp));
  return ed;
}

function tpEditor(t: Touchpoint | null, names: string[], remove: () => void): TpEditor {
  const labels: ReturnType<typeof where>[] = [];
  const lf = <E extends HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>(text: string, input: E, cls?: string): Field<E> => {
    const l = where(text);
    labels.push(l);
    return field(l.node, input, cls ? { cls } : {});
  };
  const nameF = lf('Touchpoint', h('input', { type: 'text', name: 'tp-name', value: t?.name ?? '', maxlength: 100, autocomplete: 'off', placeholder: 'e.g. Product page' }), 'grow');
  const channelF = lf('Channel', h('input', { type: 'text', name: 'channel', value: t?.channel ?? '', maxlength: 63, autocomplete: 'off', placeholder: 'web, app, e-mail…', class: 'short' }));
  const ownerF = lf('Owner', h('input', { type: 'text', name: 'owner', value: t?.owner ?? '', maxlength: 100, autocomplete: 'off', placeholder: 'e.g. Marketing', class: 'short' }));
  const laneSel = h('select', { name: 'lane' }, h('option', { value: 'front' }, 'Front stage'), h('option', { value: 'back' }, 'Back stage'));
  laneSel.value = t?.lane === 'back' ? 'back' : 'front';
  const laneF = lf('Lane', laneSel);
  const emoSel = h('select', { name: 'emotion' }, EMOTIONS.map(([v, l]) => h('option', { value: v }, l)));
  emoSel.value = typeof t?.expected_emotion === 'number' ? String(Math.round(t.expected_emotion)) : '';
  const emoF = lf('Expected emotion', emoSel);
  const mot = h('input', { type: 'checkbox', name: 'mot', checked: !!t?.moment_of_truth });
  const motF = lf('Moment of truth', mot, 'inline check');
  const pains = h('textarea', { name: 'pains', rows: 2, placeholder: 'One per line' });
  pains.value = (t?.pain_points ?? []).join('\n');
  const painsF = lf('Pain points', pains, 'grow');
  const evSel = h('select', { name: 'event' }, h('option', { value: '' }, '— not bound —'), names.map((n) => h('option', { value: n }, n)));
  const bound = t?.binding?.event ?? '';
  if (bound && !names.includes(bound)) evSel.append(h('option', { value: bound }, bound));
  evSel.value = bound;
  const evF = lf('Bound to event', evSel, 'grow');
  const whereIn = h('input', { type: 'text', name: 'where', value: t?.binding?.where ?? '', autocomplete: 'off', spellcheck: 'false', class: 'mono-input', placeholder: 'optional, e.g. event.source == "web"' });
  const whereF = lf('Where (rule)', whereIn, 'grow');
  const legend = h('legend', { class: 'sr-only' });
  const rm = h('button', { type: 'button', class: 'btn btn-icon' }, '×');
  rm.addEventListener('click', remove);
  const el = h('li', { class: 'tp-edit' }, h('fieldset', null, legend,
    h('div', { class: 'form-row' }, nameF.el, channelF.el, ownerF.el, laneF.el, emoF.el, motF.el, h('div', { class: 'align-end' }, rm)),
    h('div', { class: 'form-row' }, evF.el, whereF.el, painsF.el)));
  return {
    el,
    fields: {
      name: nameF, channel: channelF, owner: ownerF, lane: laneF, expected_emotion: emoF, moment_of_truth: motF,
      pain_points: painsF, binding: evF, 'binding.event': evF, 'binding.where': whereF,
    },
    value() {
      const out: Touchpoint = { name: nameF.input.value.trim(), lane: laneSel.value === 'back' ? 'back' : 'front', moment_of_truth: mot.checked };
      if (t?.id) out.id = t.id;
      const ch = channelF.input.value.trim();
      if (ch) out.channel = ch;
      const ow = ownerF.input.value.trim();
      if (ow) out.owner = ow;
      if (emoSel.value !== '') out.expected_emotion = Number(emoSel.value);
      const pp = pains.value.split('\n').map((x) => x.trim()).filter(Boolean);
      if (pp.length) out.pain_points = pp;
      const w = whereIn.value.trim();
      if (evSel.value || w) out.binding = w ? { event: evSel.value, where: w } : { event: evSel.value };
      return out;
    },
    setIndex(si: number, ti: number) {
      const s = `stage ${si + 1}, touchpoint ${ti + 1}`;
      legend.textContent = `Touchpoint ${ti + 1} of stage ${si + 1}`;
      for (const l of labels) l.set(s);
      rm.setAttribute('aria-label', `Remove touchpoint ${ti + 1} of stage ${si + 1}`);
      rm.title = 'Remove touchpoint';
    },
    focus: () => nameF.input.focus(),
  };
}
