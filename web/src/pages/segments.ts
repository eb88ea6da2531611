// Segments and personas (docs/segments.md): the list with sizes and their
// trend, the builder (create and edit) with a live size as the rule is
// typed, and one segment's view: size history, persona, members (paged,
// each opening the customer), CSV export and delete.
//
// The dashboard cannot tell an admin token from a read-only one (the API
// has no call that says), so the controls that change a segment are shown
// to everyone and a 403 shows the server's message where it happened.
import { append, h, replace, svg, uid } from '../dom';
import {
  ApiError, customerName, customerSub, del, get, getText, patch, post,
  type Customer, type Persona, type Segment, type SegmentDetail, type SegmentMembers, type SegmentPreview,
} from '../api';
import { bucketLabel, fmtInt, time } from '../format';
import { aborted, chartFailed, emptyState, errorState, loading, pageHeader, setFlash, stageBadge, takeFlash } from '../ui';
import type { PageContext } from '../router';
import { field, type Field } from '../analytics';

const PREVIEW_DELAY = 400;
const MEMBERS_PAGE = 50;
const CSV_PAGE = 100000;
const MAX_PERSONA_ITEMS = 20;

/** Rules to start from (the demo company has these events and traits). */
const EXAMPLES: { label: string; rule: string }[] = [
  { label: 'Repeat buyers (90 days)', rule: 'count("Order Completed", 90d) >= 2' },
  { label: 'Lapsed buyers', rule: 'days_since("Order Completed") > 60 && count("Order Completed") >= 1' },
  { label: 'At risk', rule: 'customer.stage == "at_risk"' },
  { label: 'Premium plan', rule: 'traits.plan == "premium"' },
  { label: 'Big spenders (a year)', rule: 'sum("Order Completed", "revenue", 365d) > 300' },
  { label: 'Recent support tickets', rule: 'count("Ticket Opened", 30d) >= 1' },
];


const segPath = (id: string): string => `segments/${encodeURIComponent(id)}`;
const segHref = (id: string): string => `#/segments/${encodeURIComponent(id)}`;

/** The hint after a 403: the dashboard only learns the scope from it. */
function refusedState(e: unknown, retry?: () => void): HTMLElement {
  const box = errorState(e, retry);
  if (e instanceof ApiError && e.status === 403) {
    box.append(h('p', { class: 'muted' }, 'Segments are created, changed and deleted with the admin token; this token can only read them.'));
  }
  return box;
}

// ---------------------------------------------------------------- list --

export function segmentsPage(main: HTMLElement, ctx: PageContext): void {
  const add = h('a', { class: 'btn btn-primary', href: '#/segments/new' }, '+ New segment');
  const results = h('div', { class: 'results', 'aria-busy': 'true' });
  main.append(
    pageHeader('Segments', 'Named rules about customers, kept current as events arrive; a persona gives one a face.', add),
    takeFlash() ?? '',
    results);

  async function load(): Promise<void> {
    replace(results, loading('Loading segments…'));
    results.setAttribute('aria-busy', 'true');
    try {
      const { segments } = await get<{ segments: Segment[] }>('segments', {}, { signal: ctx.signal });
      results.setAttribute('aria-busy', 'false');
      if (!segments.length) {
        replace(results, h('div', { class: 'card' },
          emptyState('No segments yet.', 'A segment is a rule about customers, such as count("Order Completed", 90d) >= 2. Its members stay current as events arrive.'),
          h('p', { class: 'center' }, h('a', { class: 'btn btn-primary', href: '#/segments/new' }, 'Create the first segment'))));
        return;
      }
      const trends = new Map<string, HTMLElement>();
      const table = h('table', { class: 'table segments-table stack-sm' },
        h('caption', { class: 'sr-only' }, 'Segments'),
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, 'Segment'),
          h('th', { scope: 'col' }, 'Rule'),
          h('th', { scope: 'col', class: 'num' }, 'Size'),
          h('th', { scope: 'col', class: 'trend-col' }, h('span', { class: 'sr-only' }, 'Size per day'), h('span', { 'aria-hidden': 'true' }, 'Trend')))),
        h('tbody', null, segments.map((s) => {
          const trend = h('td', { class: 'trend-col' });
          trends.set(s.id, trend);
          return h('tr', { 'data-id': s.id },
            h('th', { scope: 'row', class: 'cell-full' },
              h('a', { href: segHref(s.id), class: 'strong seg-name' }, s.name),
              s.persona ? h('span', { class: 'badge persona-badge' }, 'Persona') : null,
              s.description ? h('div', { class: 'muted small clamp' }, s.description) : null),
            h('td', { class: 'cell-full' }, h('code', { class: 'rule' }, s.rule)),
            h('td', { class: 'num seg-size', 'data-label': 'Size' }, fmtInt(s.size)),
            trend);
        })));
      replace(results, h('div', { class: 'card' }, h('div', { class: 'table-wrap' }, table)));
      // The size per day of each segment, a few at a time, for the trends.
      const queue = [...segments];
      const worker = async (): Promise<void> => {
        for (let s = queue.shift(); s && !ctx.signal.aborted; s = queue.shift()) {
          try {
            const d = await get<SegmentDetail>(segPath(s.id), {}, { signal: ctx.signal });
            const cell = trends.get(s.id);
            if (cell && d.sizes.length > 1) cell.append(sparkline(d.sizes, s.name));
          } catch (e) {
            if (aborted(e)) return; // a trend is a help; the size is shown
          }
        }
      };
      await Promise.all([worker(), worker(), worker()]);
    } catch (e) {
      if (aborted(e)) return;
      results.setAttribute('aria-busy', 'false');
      replace(results, errorState(e, () => load()));
    }
  }
  load();
}

/** A small line of the size per day; its label says first and last. */
function sparkline(sizes: { day: string; size: number }[], name: string): SVGElement {
  const W = 96;
  const H = 24;
  const vals = sizes.map((s) => s.size);
  const lo = Math.min(...vals);
  const hi = Math.max(...vals, lo + 1);
  const x = (i: number): number => (i * W) / Math.max(1, vals.length - 1);
  const y = (v: number): number => H - 2 - ((v - lo) / (hi - lo)) * (H - 4);
  const d = vals.map((v, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join('');
  const s = svg('svg', { class: 'spark spark-mini', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img' });
  const first = sizes[0] as { day: string; size: number };
  const last = sizes[sizes.length - 1] as { day: string; size: number };
  s.setAttribute('aria-label', `${name}: ${fmtInt(first.size)} on ${bucketLabel(first.day, 'day')}, ${fmtInt(last.size)} on ${bucketLabel(last.day, 'day')}`);
  s.append(svg('path', { d, class: 'spark-line', 'vector-effect': 'non-scaling-stroke' }));
  return s;
}

// ------------------------------------------------------------- builder --

/** A list of short lines (persona goals, pain points): add and remove. */
function linesEditor(legend: string, item: string, values: string[]): {
  el: HTMLElement; values(): string[]; first(): HTMLElement; error(message: string): void;
} {
  const list = h('ul', { class: 'lines' });
  const addBtn = h('button', { type: 'button', class: 'btn btn-small' }, `+ Add ${item.toLowerCase()}`);
  const err = h('p', { class: 'field-error', id: uid('lines-err'), hidden: true });
  let inputs: HTMLInputElement[] = [];
  const renumber = (): void => {
    list.replaceChildren(...inputs.map((inp, i) => {
      inp.setAttribute('aria-label', `${item} ${i + 1}`);
      const rm = h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': `Remove ${item.toLowerCase()} ${i + 1}` }, '×');
      rm.addEventListener('click', () => {
        inputs = inputs.filter((x) => x !== inp);
        renumber();
        (inputs[Math.max(0, i - 1)] ?? addBtn).focus();
      });
      return h('li', null, inp, rm);
    }));
    addBtn.disabled = inputs.length >= MAX_PERSONA_ITEMS;
  };
  const line = (v: string): HTMLInputElement =>
    h('input', { type: 'text', value: v, maxlength: 300, autocomplete: 'off', name: item.toLowerCase().replace(/ /g, '_') });
  inputs = values.map(line);
  renumber();
  addBtn.addEventListener('click', () => {
    const inp = line('');
    inputs.push(inp);
    renumber();
    inp.focus();
  });
  const el = h('fieldset', { class: 'lines-set' }, h('legend', null, legend), list, addBtn, err);
  return {
    el,
    values: () => inputs.map((i) => i.value.trim()).filter(Boolean),
    first: () => inputs[0] ?? addBtn,
    error(message: string) {
      err.textContent = message;
      err.hidden = !message;
    },
  };
}

/** `#/segments/new` and `#/segments/{id}/edit`. */
export function segmentEditPage(main: HTMLElement, ctx: PageContext): void {
  const id = ctx.params.id ?? '';
  if (!id) {
    builder(main, ctx, null);
    return;
  }
  main.append(loading('Loading the segment…'));
  get<SegmentDetail>(segPath(id), {}, { signal: ctx.signal }).then((s) => {
    main.replaceChildren();
    builder(main, ctx, s);
  }).catch((e) => {
    if (aborted(e)) return;
    replace(main, h('a', { class: 'back', href: '#/segments' }, '← Segments'), pageHeader('Edit segment'), errorState(e));
  });
}

function builder(main: HTMLElement, ctx: PageContext, seg: Segment | null): void {
  const nameF = field('Name', h('input', {
    type: 'text', name: 'name', value: seg?.name ?? '', maxlength: 100, autocomplete: 'off', required: true,
    placeholder: 'e.g. Recent repeat buyers',
  }), { cls: 'grow' });
  const ruleInput = h('textarea', {
    name: 'rule', rows: 3, spellcheck: 'false', autocomplete: 'off', autocapitalize: 'off', class: 'mono-input', required: true,
    placeholder: 'count("Order Completed", 90d) >= 2',
  });
  ruleInput.value = seg?.rule ?? ctx.query.get('rule') ?? '';
  const ruleF = field('Rule', ruleInput, {
    cls: 'rule-field',
    help: 'A condition about a customer: traits.*, customer.stage, customer.identified, count, sum, days_since, first_seen, last_seen (docs/rules.md).',
  });
  // The live size: what a segment with this rule would hold now.
  const live = h('p', { class: 'live-size', role: 'status', 'aria-live': 'polite' });
  ruleF.el.append(live);
  const examples = h('div', { class: 'examples' },
    h('p', { class: 'help', id: uid('ex') }, 'Examples — click one to use it:'),
    h('ul', { class: 'chips' }, EXAMPLES.map((x) => {
      const b = h('button', { type: 'button', class: 'chip', title: x.label }, h('span', { class: 'chip-label' }, x.label), h('code', null, x.rule));
      b.addEventListener('click', () => {
        ruleInput.value = x.rule;
        if (!nameF.input.value.trim()) nameF.input.value = x.label;
        schedule(0);
        ruleInput.focus();
      });
      return h('li', null, b);
    })));
  const descInput = h('textarea', { name: 'description', rows: 2, maxlength: 2000 });
  descInput.value = seg?.description ?? '';
  const descF = field('Description', descInput, { cls: 'grow', help: 'Optional: who these customers are.' });
  const goals = linesEditor('Persona goals', 'Goal', seg?.persona?.goals ?? []);
  const pains = linesEditor('Persona pain points', 'Pain point', seg?.persona?.pain_points ?? []);
  const personaErr = h('p', { class: 'field-error', hidden: true });
  const personaF: Field<HTMLElement> = {
    el: h('div'),
    get input() { return goals.first(); },
    error(message: string) {
      personaErr.textContent = message;
      personaErr.hidden = !message;
    },
  };
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, seg ? 'Save changes' : 'Create segment');
  const cancel = h('a', { class: 'btn', href: seg ? segHref(seg.id) : '#/segments' }, 'Cancel');
  const formErr = h('div', { class: 'form-alert' });
  const form = h('form', { class: 'builder segment-builder', 'aria-label': seg ? 'Edit segment' : 'New segment', novalidate: true },
    h('div', { class: 'form-row' }, nameF.el),
    ruleF.el,
    examples,
    descF.el,
    h('div', { class: 'persona-edit' },
      h('p', { class: 'help' }, 'Persona (optional): what these customers want and what gets in their way.'),
      h('div', { class: 'persona-cols' }, goals.el, pains.el),
      personaErr),
    h('div', { class: 'form-actions' }, save, cancel),
    formErr);
  main.append(
    h('a', { class: 'back', href: seg ? segHref(seg.id) : '#/segments' }, seg ? `← ${seg.name}` : '← Segments'),
    pageHeader(seg ? `Edit “${seg.name}”` : 'New segment', 'The size updates as you type the rule.'),
    h('section', { class: 'card' }, form));

  // ---- Live size ----
  let timer = 0;
  let pvAc: AbortController | null = null;
  ctx.signal.addEventListener('abort', () => clearTimeout(timer));
  function schedule(delay = PREVIEW_DELAY): void {
    clearTimeout(timer);
    pvAc?.abort();
    const rule = ruleInput.value.trim();
    if (!rule) {
      ruleF.error('');
      setLive('', 'Type a rule to see how many customers it holds.');
      return;
    }
    live.classList.add('stale');
    timer = window.setTimeout(() => preview(rule), delay);
  }
  function setLive(state: '' | 'ok' | 'error', text: string, size?: number): void {
    live.className = `live-size ${state}`.trim();
    live.replaceChildren();
    if (size === undefined) {
      live.removeAttribute('data-size');
      live.textContent = text;
    } else {
      live.setAttribute('data-size', String(size));
      append(live, [h('strong', { class: 'live-n' }, fmtInt(size)), ` ${size === 1 ? 'customer matches' : 'customers match'} now`,
        text ? h('span', { class: 'muted' }, ` · ${text}`) : null]);
    }
  }
  async function preview(rule: string): Promise<void> {
    pvAc = new AbortController();
    const signal = AbortSignal.any([ctx.signal, pvAc.signal]);
    try {
      const p = await post<SegmentPreview>('segments/preview', { rule }, { signal });
      ruleF.error('');
      setLive('ok', p.took_ms === undefined ? '' : `computed in ${fmtInt(Math.max(1, Math.round(p.took_ms)))} ms`, p.size);
    } catch (e) {
      if (aborted(e)) return;
      if (e instanceof ApiError && e.field === 'rule') {
        ruleF.error(stripField(e.message, 'rule'));
        setLive('error', 'No size: the rule has an error.');
      } else {
        setLive('error', `No size: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
  ruleInput.addEventListener('input', () => schedule());
  schedule(0);

  // ---- Save ----
  const fields: Record<string, Field<HTMLElement>> = {
    name: nameF, rule: ruleF, description: descF, persona: personaF,
  };
  let saving = false;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (saving) return;
    for (const f of Object.values(fields)) f.error('');
    formErr.replaceChildren();
    const g = goals.values();
    const pp = pains.values();
    const persona: Persona | null = g.length || pp.length ? { goals: g, pain_points: pp } : null;
    const body: Record<string, unknown> = {
      name: nameF.input.value.trim(),
      rule: ruleInput.value.trim(),
      description: descInput.value.trim(),
    };
    if (persona || seg?.persona) body.persona = persona;
    saving = true;
    save.disabled = true;
    save.textContent = 'Saving…';
    try {
      const out = seg
        ? await patch<Segment>(segPath(seg.id), body, { signal: ctx.signal })
        : await post<Segment>('segments', body, { signal: ctx.signal });
      setFlash(`${seg ? 'Saved' : 'Created'} “${out.name}”: ${fmtInt(out.size)} ${out.size === 1 ? 'customer' : 'customers'}.`);
      location.hash = segHref(out.id);
    } catch (err) {
      if (aborted(err)) return;
      const f = err instanceof ApiError && (err.status === 400 || err.status === 409) && err.field ? fields[err.field] : undefined;
      if (f && err instanceof ApiError) {
        f.error(stripField(err.message, err.field ?? ''));
        f.input.focus();
      } else {
        formErr.append(refusedState(err));
      }
    } finally {
      saving = false;
      save.disabled = false;
      save.textContent = seg ? 'Save changes' : 'Create segment';
    }
  });
}

/** "rule: at 16: …" reads, under the rule, as "at 16: …". */
function stripField(message: string, f: string): string {
  return f && message.startsWith(`${f}: `) ? message.slice(f.length + 2) : message;
}

// ---------------------------------------------------------------- view --

export function segmentPage(main: HTMLElement, ctx: PageContext): void {
  const id = ctx.params.id ?? '';
  const notice = takeFlash();
  main.append(h('a', { class: 'back', href: '#/segments' }, '← Segments'), loading('Loading the segment…'));
  const chartMod = import('../chart');
  chartMod.catch(() => { /* said where the chart goes */ });

  get<SegmentDetail>(segPath(id), {}, { signal: ctx.signal }).then((s) => {
    render(s);
  }).catch((e) => {
    if (aborted(e)) return;
    replace(main, h('a', { class: 'back', href: '#/segments' }, '← Segments'), pageHeader('Segment'),
      e instanceof ApiError && e.status === 404
        ? emptyState('This segment does not exist.', 'It may have been deleted. The list shows the segments there are.')
        : errorState(e));
  });

  function render(s: SegmentDetail): void {
    const edit = h('a', { class: 'btn', href: `${segHref(s.id)}/edit` }, 'Edit');
    const exportBtn = h('button', { type: 'button', class: 'btn' }, 'Export CSV');
    const delBtn = h('button', { type: 'button', class: 'btn btn-danger' }, 'Delete');
    const actionMsg = h('div', { class: 'action-msg' });
    const confirmBox = h('div', { class: 'confirm', hidden: true, role: 'group', 'aria-label': 'Confirm delete' });
    // main.ts focused main while the page loaded: move it to the heading.
    const focusH1 = (): void => {
      if (document.activeElement === main) main.querySelector<HTMLElement>('h1')?.focus({ preventScroll: true });
    };

    exportBtn.addEventListener('click', async () => {
      exportBtn.disabled = true;
      exportBtn.textContent = 'Exporting…';
      actionMsg.replaceChildren();
      try {
        const { text, rows } = await exportCsv(s.id, ctx.signal);
        const fname = `${fileName(s.name)}.csv`;
        const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
        const a = h('a', { href: url, download: fname, hidden: true });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60000);
        actionMsg.append(h('p', { class: 'form-msg info', role: 'status' }, `Exported ${fmtInt(rows)} ${rows === 1 ? 'member' : 'members'} to ${fname}.`));
      } catch (e) {
        if (aborted(e)) return;
        actionMsg.append(refusedState(e));
      } finally {
        exportBtn.disabled = false;
        exportBtn.textContent = 'Export CSV';
      }
    });

    const yes = h('button', { type: 'button', class: 'btn btn-danger' }, 'Delete segment');
    const no = h('button', { type: 'button', class: 'btn' }, 'Cancel');
    const confirmErr = h('div');
    replace(confirmBox,
      h('p', null, h('strong', null, `Delete “${s.name}”?`), ' Its rule, persona and size history go; the customers stay.'),
      h('div', { class: 'form-actions' }, yes, no), confirmErr);
    delBtn.addEventListener('click', () => {
      confirmBox.hidden = false;
      delBtn.setAttribute('aria-expanded', 'true');
      no.focus();
    });
    no.addEventListener('click', () => {
      confirmBox.hidden = true;
      confirmErr.replaceChildren();
      delBtn.setAttribute('aria-expanded', 'false');
      delBtn.focus();
    });
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      confirmErr.replaceChildren();
      try {
        await del(segPath(s.id), { signal: ctx.signal });
        setFlash(`Deleted “${s.name}”.`);
        location.hash = '#/segments';
      } catch (e) {
        if (aborted(e)) return;
        confirmErr.append(refusedState(e));
      } finally {
        yes.disabled = false;
      }
    });
    delBtn.setAttribute('aria-expanded', 'false');

    const actions = h('div', { class: 'toolbar' }, edit, exportBtn, delBtn);
    const persona = s.persona && ((s.persona.goals?.length ?? 0) + (s.persona.pain_points?.length ?? 0) > 0) ? s.persona : null;
    const facts = h('section', { class: 'card seg-facts', 'aria-labelledby': 'h-facts' },
      h('h2', { id: 'h-facts', class: 'sr-only' }, 'Summary'),
      h('dl', { class: 'facts' },
        h('div', null, h('dt', null, 'Members now'), h('dd', { class: 'seg-size big' }, fmtInt(s.size))),
        h('div', null, h('dt', null, 'Computed'), h('dd', null, time(s.computed_at, 'short'),
          s.compute_ms === undefined ? null : h('span', { class: 'muted small' }, ` in ${fmtInt(Math.max(1, Math.round(s.compute_ms)))} ms`))),
        h('div', null, h('dt', null, 'Created'), h('dd', null, time(s.created_at, 'short'))),
        h('div', null, h('dt', null, 'Changed'), h('dd', null, time(s.updated_at, 'short')))),
      h('p', { class: 'rule-line' }, h('span', { class: 'muted small' }, 'Rule '), h('code', { class: 'rule' }, s.rule)));

    // Size history
    const chartBox = h('div', {
      class: 'chart size-chart', role: 'img',
      'aria-label': `Members per day: ${s.sizes.map((x) => `${bucketLabel(x.day, 'day')} ${fmtInt(x.size)}`).join('; ')}.`,
    });
    const history = h('section', { class: 'card', 'aria-labelledby': 'h-history' },
      h('h2', { id: 'h-history' }, 'Size per day (UTC, last 90 days)'),
      s.sizes.length > 1
        ? chartBox
        : h('p', { class: 'muted' }, s.sizes.length === 1
          ? `One day recorded so far (${bucketLabel((s.sizes[0] as { day: string }).day, 'day')}: ${fmtInt((s.sizes[0] as { size: number }).size)}); the chart grows a bar a day.`
          : 'No size recorded yet; cxm records it once a day.'));
    if (s.sizes.length > 1) {
      chartMod.then(({ stackedBars }) => {
        if (ctx.signal.aborted) return;
        stackedBars(chartBox, s.sizes.map((x) => bucketLabel(x.day, 'day')),
          [{ name: 'Members', color: getComputedStyle(document.documentElement).getPropertyValue('--accent').trim(), data: s.sizes.map((x) => x.size) }],
          fmtInt, ctx.signal);
      }).catch(() => chartFailed(chartBox));
    }

    const personaCard = h('section', { class: 'card persona-card', 'aria-labelledby': 'h-persona' },
      h('h2', { id: 'h-persona' }, persona ? 'Persona' : 'About'),
      s.description ? h('p', { class: 'persona-desc' }, s.description) : h('p', { class: 'muted' }, 'No description.'),
      persona ? h('div', { class: 'persona-cols' },
        h('div', null, h('h3', null, 'Goals'), list(persona.goals ?? [], 'No goals written.')),
        h('div', null, h('h3', null, 'Pain points'), list(persona.pain_points ?? [], 'No pain points written.'))) : null,
      persona ? null : h('p', { class: 'muted small' }, 'Add goals and pain points with Edit to make this segment a persona.'));

    const membersBox = h('div');
    const membersCard = h('section', { class: 'card', 'aria-labelledby': 'h-members' },
      h('h2', { id: 'h-members' }, 'Members'), membersBox);

    replace(main,
      h('a', { class: 'back', href: '#/segments' }, '← Segments'),
      pageHeader(s.name, persona ? h('span', { class: 'badge persona-badge' }, 'Persona') : null, actions),
      notice, actionMsg, confirmBox,
      facts,
      h('div', { class: 'grid seg-grid' }, history, personaCard),
      h('div', { class: 'stack seg-members' }, membersCard));
    focusH1();
    members(membersBox, s.id, ctx);
  }
}

function list(items: string[], none: string): HTMLElement {
  return items.length ? h('ul', { class: 'persona-list' }, items.map((t) => h('li', null, t))) : h('p', { class: 'muted' }, none);
}

/** The members, a page at a time (next_cursor), each opening the customer. */
function members(box: HTMLElement, id: string, ctx: PageContext): void {
  const cursors: (string | null)[] = [null];
  let pageNo = 0;
  let ac: AbortController | null = null;
  async function load(page: number): Promise<void> {
    ac?.abort();
    ac = new AbortController();
    const signal = AbortSignal.any([ctx.signal, ac.signal]);
    if (!box.firstChild) box.append(loading('Loading members…'));
    else box.classList.add('stale');
    try {
      const m = await get<SegmentMembers>(`${segPath(id)}/members`, { limit: MEMBERS_PAGE, cursor: cursors[page] ?? null }, { signal });
      pageNo = page;
      cursors[page + 1] = m.next_cursor;
      box.classList.remove('stale');
      if (!m.members.length) {
        replace(box, emptyState(page ? 'No more members.' : 'No customer is in this segment now.',
          page ? undefined : 'Members join as soon as the rule holds for them.'));
        return;
      }
      const first = pageNo * MEMBERS_PAGE + 1;
      const prev = h('button', { type: 'button', class: 'btn', disabled: pageNo === 0 }, '← Previous');
      const next = h('button', { type: 'button', class: 'btn', disabled: m.next_cursor === null }, 'Next →');
      prev.addEventListener('click', () => load(pageNo - 1));
      next.addEventListener('click', () => load(pageNo + 1));
      replace(box,
        h('p', { class: 'muted result-count', role: 'status' }, `Members ${fmtInt(first)}–${fmtInt(first + m.members.length - 1)}`),
        h('div', { class: 'table-wrap' }, h('table', { class: 'table members-table stack-sm' },
          h('caption', { class: 'sr-only' }, 'Members'),
          h('thead', null, h('tr', null,
            h('th', { scope: 'col' }, 'Customer'),
            h('th', { scope: 'col' }, 'Last seen'),
            h('th', { scope: 'col', class: 'num' }, 'Events'),
            h('th', { scope: 'col', class: 'hide-sm' }, 'Stage'))),
          h('tbody', null, m.members.map(memberRow)))),
        pageNo > 0 || m.next_cursor !== null
          ? h('nav', { class: 'pager', 'aria-label': 'Pages of members' }, prev, h('span', { class: 'muted' }, `Page ${pageNo + 1}`), next)
          : null);
    } catch (e) {
      if (aborted(e)) return;
      box.classList.remove('stale');
      replace(box, errorState(e, () => load(page)));
    }
  }
  load(0);
}

function memberRow(c: Customer): HTMLElement {
  const sub = customerSub(c);
  return h('tr', { 'data-id': c.id },
    h('th', { scope: 'row', class: 'cell-full' },
      h('a', { href: `#/customers/${encodeURIComponent(c.id)}`, class: 'strong' }, customerName(c)),
      sub ? h('div', { class: 'muted small' }, sub) : null),
    h('td', { class: 'nowrap', 'data-label': 'Last seen' }, time(c.last_seen, 'short')),
    h('td', { class: 'num', 'data-label': 'Events' }, c.event_count === undefined ? '—' : fmtInt(c.event_count)),
    h('td', { class: 'hide-sm' }, stageBadge(c.stage)));
}

/** Every member as CSV: pages of CSV_PAGE lines, the next one starting
 *  after the last line's id (the API's cursor), one header line. */
async function exportCsv(id: string, signal: AbortSignal): Promise<{ text: string; rows: number }> {
  let out = '';
  let rows = 0;
  let cursor: string | null = null;
  for (;;) {
    const text = await getText(`${segPath(id)}/members`, { format: 'csv', limit: CSV_PAGE, cursor }, { signal });
    const lines = text.split('\r\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const header = lines.shift() ?? '';
    if (!out) out = `${header}\r\n`;
    if (lines.length) out += `${lines.join('\r\n')}\r\n`;
    rows += lines.length;
    if (lines.length < CSV_PAGE) break;
    cursor = (lines[lines.length - 1] as string).split(',')[0] ?? null;
  }
  return { text: out, rows };
}

/** A file name from a segment's name: letters, digits, - and _ only. */
function fileName(name: string): string {
  const f = name.normalize('NFKD').replace(/[^\w.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 80);
  return f || 'segment';
}
