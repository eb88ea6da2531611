// Surveys (docs: lib/feedback/survey.c): the list with status, version,
// responses and the public respondent page (/s/{id}); the builder (create
// and edit: name, kind, language, questions with their type, scale,
// options and show_if rule on earlier answers) that shows the API's 400
// under the field it names (questions[1].show_if); one survey's view with
// publish, close and reopen, a personal link for one respondent (POST
// /surveys/{id}/links) to copy, its questions and its latest responses.
//
// Saving a live survey makes a new version (the responses so far stay with
// theirs); a draft is changed in place.
import { h, replace, uid } from '../dom';
import {
  ApiError, get, post, put,
  type Localised, type PersonalLink, type QuestionType, type Survey, type SurveyDoc, type SurveyList, type SurveyQuestion, type SurveyResponses,
} from '../api';
import { fmtInt, time } from '../format';
import { aborted, emptyState, errorState, loading, pageHeader, setFlash, takeFlash } from '../ui';
import type { PageContext } from '../router';
import { field, type Field } from '../analytics';
import { textOf } from '../listen';
import { distributionSection, settingsCard } from './distribution';

const RESPONSES_PAGE = 25;
const MAX_QUESTIONS = 50;

const TYPES: { id: QuestionType; label: string }[] = [
  { id: 'nps', label: 'NPS (0–10)' },
  { id: 'csat', label: 'CSAT (1–5)' },
  { id: 'ces', label: 'CES (1–7)' },
  { id: 'rating', label: 'Rating (1–scale)' },
  { id: 'choice', label: 'Choice' },
  { id: 'text', label: 'Text' },
];


const path = (id: string): string => `surveys/${encodeURIComponent(id)}`;
const href = (id: string): string => `#/surveys/${encodeURIComponent(id)}`;

/** "Employee" stands out: its NPS question is the eNPS, its answers are
 *  anonymous and carry the team in context.unit. */
export function kindBadge(kind: string): HTMLElement {
  return h('span', { class: `badge kind-badge kind-${kind === 'employee' ? 'employee' : 'customer'}` }, kind === 'employee' ? 'Employee' : 'Customer');
}

export function statusBadge(status: string): HTMLElement {
  return h('span', { class: `badge survey-status status-${status.replace(/[^a-z]/g, '')}` }, status);
}

function refused(e: unknown, retry?: () => void): HTMLElement {
  const box = errorState(e, retry);
  if (e instanceof ApiError && e.status === 403) {
    box.append(h('p', { class: 'muted' }, 'Surveys are created, changed, published and closed with the admin token; this token can only read them.'));
  }
  return box;
}

// ---------------------------------------------------------------- list --

export function surveysPage(main: HTMLElement, ctx: PageContext): void {
  const add = h('a', { class: 'btn btn-primary', href: '#/surveys/new' }, '+ New survey');
  const results = h('div', { class: 'results', 'aria-busy': 'true' });
  main.append(
    pageHeader('Surveys', 'NPS, CSAT, CES and your own questions, asked on the public survey page or sent through the API.', add),
    takeFlash() ?? '', results, settingsCard(ctx));
  async function load(): Promise<void> {
    replace(results, loading('Loading surveys…'));
    try {
      const { surveys } = await get<SurveyList>('surveys', {}, { signal: ctx.signal });
      results.setAttribute('aria-busy', 'false');
      if (!surveys.length) {
        replace(results, h('div', { class: 'card' },
          emptyState('No surveys yet.', 'A survey asks customers (or employees) a few questions: an NPS question and a text question “why?” is a good start.'),
          h('p', { class: 'center' }, h('a', { class: 'btn btn-primary', href: '#/surveys/new' }, 'Create the first survey'))));
        return;
      }
      replace(results, h('div', { class: 'card' }, h('div', { class: 'table-wrap' }, h('table', { class: 'table surveys-table stack-sm' },
        h('caption', { class: 'sr-only' }, 'Surveys'),
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, 'Survey'), h('th', { scope: 'col' }, 'Kind'), h('th', { scope: 'col' }, 'Status'),
          h('th', { scope: 'col', class: 'num' }, 'Version'), h('th', { scope: 'col', class: 'num' }, 'Responses'),
          h('th', { scope: 'col' }, 'Public page'))),
        h('tbody', null, surveys.map((s) => h('tr', { 'data-id': s.id, 'data-kind': s.kind },
          h('th', { scope: 'row', class: 'cell-full' }, h('a', { href: href(s.id), class: 'strong' }, s.name),
            h('div', { class: 'muted small' }, `${fmtInt(s.questions)} ${s.questions === 1 ? 'question' : 'questions'}: ${s.types.join(', ')}`)),
          h('td', { class: 'survey-kind', 'data-label': 'Kind' }, kindBadge(s.kind)),
          h('td', { 'data-label': 'Status' }, statusBadge(s.status)),
          h('td', { class: 'num', 'data-label': 'Version' }, fmtInt(s.version)),
          h('td', { class: 'num survey-responses', 'data-label': 'Responses' }, fmtInt(s.responses)),
          h('td', { 'data-label': 'Public page' }, h('a', { href: `/s/${encodeURIComponent(s.id)}`, target: '_blank', rel: 'noopener' },
            `/s/${s.id}`, h('span', { class: 'sr-only' }, ` (the public page of ${s.name}, in a new tab)`))))))))));
    } catch (e) {
      if (aborted(e)) return;
      results.setAttribute('aria-busy', 'false');
      replace(results, errorState(e, () => load()));
    }
  }
  load();
}

// ------------------------------------------------------------- builder --

/** `#/surveys/new` and `#/surveys/{id}/edit`. */
export function surveyEditPage(main: HTMLElement, ctx: PageContext): void {
  const id = ctx.params.id ?? '';
  if (!id) {
    builder(main, ctx, null);
    return;
  }
  main.append(loading('Loading the survey…'));
  get<Survey>(path(id), {}, { signal: ctx.signal }).then((s) => {
    main.replaceChildren();
    builder(main, ctx, s);
    main.querySelector<HTMLElement>('h1')?.focus({ preventScroll: true });
  }).catch((e) => {
    if (aborted(e)) return;
    replace(main, h('a', { class: 'back', href: '#/surveys' }, '← Surveys'), pageHeader('Edit survey'), errorState(e));
  });
}

interface QuestionEditor {
  el: HTMLElement;
  /** the question as sent; texts of other languages kept */
  value(): SurveyQuestion;
  /** errors by the member after questions[i].: id, type, text, … */
  fields: Record<string, Field<HTMLElement>>;
  /** an error about the question as a whole */
  error(message: string): void;
  setNumber(i: number, count: number): void;
}

/** "Very easy" -> "very_easy": an option id from its text. */
function optionId(text: string, taken: Set<string>): string {
  let base = text.normalize('NFKD').toLowerCase().replace(/[^a-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 36) || 'option';
  let id = base;
  for (let n = 2; taken.has(id); n++) id = `${base}_${n}`;
  taken.add(id);
  return id;
}

/** A localised text edited in `lang`: the other languages are kept. */
function localised(orig: Localised | undefined, lang: string, value: string): Localised {
  if (orig && typeof orig === 'object' && Object.keys(orig).length > 1) return { ...orig, [lang]: value };
  return value;
}

function questionEditor(q: SurveyQuestion, lang: () => string, actions: { move(d: -1 | 1): void; remove(): void }): QuestionEditor {
  const idF = field('Id', h('input', { type: 'text', name: 'qid', value: q.id, maxlength: 40, autocomplete: 'off', spellcheck: 'false', class: 'mono-input', required: true }),
    { help: 'Letters, digits, _ or -; show_if rules name it (answers.q1).' });
  const typeSel = h('select', { name: 'type' }, TYPES.map((t) => h('option', { value: t.id }, t.label)));
  typeSel.value = q.type;
  const typeF = field('Type', typeSel);
  const textIn = h('textarea', { name: 'text', rows: 2, maxlength: 2000, required: true });
  textIn.value = textOf(q.text, lang());
  const textF = field('Question', textIn, { cls: 'grow' });
  const reqIn = h('input', { type: 'checkbox', name: 'required', checked: q.required !== false });
  const reqId = uid('req');
  reqIn.id = reqId;
  const reqErr = h('p', { class: 'field-error', hidden: true });
  const reqF: Field<HTMLElement> = {
    el: h('div', { class: 'field check' }, reqIn, h('label', { for: reqId }, 'Required'), reqErr),
    input: reqIn,
    error(m) { reqErr.textContent = m; reqErr.hidden = !m; },
  };
  const scaleF = field('Scale', h('input', { type: 'number', name: 'scale', min: 2, max: 10, step: 1, value: String(q.scale ?? 5) }),
    { help: 'Answers are 1 to this.' });
  const optsIn = h('textarea', { name: 'options', rows: 4 });
  optsIn.value = (q.options ?? []).map((o) => textOf(o.text, lang())).join('\n');
  const optsF = field('Options', optsIn, { cls: 'grow', help: 'One per line, 2 to 30.' });
  const multIn = h('input', { type: 'checkbox', name: 'multiple', checked: !!q.multiple });
  multIn.id = uid('mult');
  const multErr = h('p', { class: 'field-error', hidden: true });
  const multF: Field<HTMLElement> = {
    el: h('div', { class: 'field check' }, multIn, h('label', { for: multIn.id }, 'Several answers allowed'), multErr),
    input: multIn,
    error(m) { multErr.textContent = m; multErr.hidden = !m; },
  };
  const showF = field('Show if', h('input', {
    type: 'text', name: 'show_if', value: q.show_if ?? '', autocomplete: 'off', spellcheck: 'false', class: 'mono-input',
    placeholder: 'answers.q1 <= 6',
  }), { cls: 'grow', help: 'Optional: a rule on earlier answers; the question is asked only when it holds.' });
  const legend = h('legend', null, 'Question');
  const up = h('button', { type: 'button', class: 'btn btn-small' }, '↑ Up');
  const down = h('button', { type: 'button', class: 'btn btn-small' }, '↓ Down');
  const rm = h('button', { type: 'button', class: 'btn btn-small btn-danger' }, 'Remove');
  up.addEventListener('click', () => actions.move(-1));
  down.addEventListener('click', () => actions.move(1));
  rm.addEventListener('click', () => actions.remove());
  const err = h('p', { class: 'field-error', hidden: true });
  const typed = h('div', { class: 'form-row' });
  const showTyped = (): void => {
    const t = typeSel.value;
    replace(typed,
      t === 'rating' ? scaleF.el : null,
      t === 'choice' ? [optsF.el, multF.el] : null);
  };
  typeSel.addEventListener('change', showTyped);
  showTyped();
  const el = h('fieldset', { class: 'question-edit' }, legend,
    h('div', { class: 'form-row' }, idF.el, typeF.el, reqF.el),
    textF.el, typed, showF.el, err,
    h('div', { class: 'toolbar q-actions' }, up, down, rm));
  return {
    el,
    fields: { id: idF, type: typeF, text: textF, required: reqF, scale: scaleF, options: optsF, multiple: multF, show_if: showF },
    error(m) { err.textContent = m; err.hidden = !m; },
    setNumber(i, count) {
      legend.textContent = `Question ${i + 1}`;
      const n = `question ${i + 1}`;
      up.disabled = i === 0;
      down.disabled = i === count - 1;
      rm.disabled = count === 1;
      up.setAttribute('aria-label', `Move ${n} up`);
      down.setAttribute('aria-label', `Move ${n} down`);
      rm.setAttribute('aria-label', `Remove ${n}`);
      // the labels say which question: "Question 2 show if"
      for (const [f, text] of [[idF, 'id'], [typeF, 'type'], [textF, 'text'], [scaleF, 'scale'], [optsF, 'options'], [showF, 'show if']] as const) {
        f.input.setAttribute('aria-label', `Question ${i + 1} ${text}`);
      }
      reqIn.setAttribute('aria-label', `Question ${i + 1} required`);
      multIn.setAttribute('aria-label', `Question ${i + 1} allows several answers`);
    },
    value() {
      const t = typeSel.value as QuestionType;
      const out: SurveyQuestion = {
        id: idF.input.value.trim(), type: t, text: localised(q.text, lang(), textIn.value.trim()),
        required: reqIn.checked,
      };
      if (q.description !== undefined) out.description = q.description;
      if (q.placeholder !== undefined) out.placeholder = q.placeholder;
      if (t === 'rating') out.scale = Number(scaleF.input.value);
      if (t === 'choice') {
        const taken = new Set<string>();
        const old = q.options ?? [];
        out.options = optsIn.value.split('\n').map((x) => x.trim()).filter(Boolean).map((text) => {
          const same = old.find((o) => textOf(o.text, lang()) === text && !taken.has(o.id));
          if (same) {
            taken.add(same.id);
            return { id: same.id, text: localised(same.text, lang(), text) };
          }
          return { id: optionId(text, taken), text };
        });
        out.multiple = multIn.checked;
      }
      const show = showF.input.value.trim();
      if (show) out.show_if = show;
      return out;
    },
  };
}

const STARTER: SurveyQuestion[] = [
  { id: 'q1', type: 'nps', text: 'How likely are you to recommend us to a friend or colleague?', required: true },
  { id: 'q2', type: 'text', text: 'What is the main reason for your score?', required: false },
];

function builder(main: HTMLElement, ctx: PageContext, s: Survey | null): void {
  const nameF = field('Name', h('input', { type: 'text', name: 'name', value: s?.name ?? '', maxlength: 100, autocomplete: 'off', required: true, placeholder: 'e.g. Post-purchase NPS' }), { cls: 'grow' });
  const kindSel = h('select', { name: 'kind' }, h('option', { value: 'customer' }, 'Customer'), h('option', { value: 'employee' }, 'Employee'));
  kindSel.value = s?.kind ?? 'customer';
  const kindF = field('Kind', kindSel);
  const langF = field('Language', h('input', { type: 'text', name: 'language', value: s?.language ?? 'en', maxlength: 10, autocomplete: 'off', spellcheck: 'false', required: true }),
    { help: 'Shown when the respondent’s is missing (en, de, pt-BR).' });
  const descIn = h('textarea', { name: 'description', rows: 2, maxlength: 4000 });
  descIn.value = s?.description ?? '';
  const descF = field('Description', descIn, { cls: 'grow', help: 'Optional: for the team, not shown to respondents.' });
  const lang = (): string => langF.input.value.trim() || 'en';

  const list = h('div', { class: 'questions-edit' });
  const qErr = h('p', { class: 'field-error', hidden: true });
  let editors: QuestionEditor[] = [];
  const renumber = (): void => {
    list.replaceChildren(...editors.map((e) => e.el));
    editors.forEach((e, i) => e.setNumber(i, editors.length));
    addBtn.disabled = editors.length >= MAX_QUESTIONS;
  };
  const make = (q: SurveyQuestion): QuestionEditor => {
    const ed: QuestionEditor = questionEditor(q, lang, {
      move(d) {
        const i = editors.indexOf(ed);
        const j = i + d;
        if (j < 0 || j >= editors.length) return;
        [editors[i], editors[j]] = [editors[j] as QuestionEditor, ed];
        renumber();
      },
      remove() {
        const i = editors.indexOf(ed);
        editors = editors.filter((x) => x !== ed);
        renumber();
        (editors[Math.max(0, i - 1)]?.fields.id?.input ?? addBtn).focus();
      },
    });
    return ed;
  };
  const addBtn = h('button', { type: 'button', class: 'btn' }, '+ Add question');
  addBtn.addEventListener('click', () => {
    const ids = new Set(editors.map((e) => e.value().id));
    let n = editors.length + 1;
    while (ids.has(`q${n}`)) n++;
    const ed = make({ id: `q${n}`, type: 'text', text: '', required: false });
    editors.push(ed);
    renumber();
    ed.fields.text?.input.focus();
  });
  editors = (s?.questions ?? STARTER).map(make);
  renumber();

  const live = s && s.status !== 'draft';
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, s ? 'Save changes' : 'Create draft');
  const cancel = h('a', { class: 'btn', href: s ? href(s.id) : '#/surveys' }, 'Cancel');
  const formErr = h('div', { class: 'form-alert' });
  const form = h('form', { class: 'builder survey-builder', 'aria-label': s ? 'Edit survey' : 'New survey', novalidate: true },
    live ? h('p', { class: 'notice version-note' }, `This survey is ${s.status}: saving makes version ${s.latest_version + 1}. The responses so far stay with version ${s.latest_version}.`) : null,
    h('div', { class: 'form-row' }, nameF.el, kindF.el, langF.el),
    descF.el,
    h('h2', { class: 'h-section' }, 'Questions'),
    h('p', { class: 'help' }, 'Asked in this order. A question with “show if” is asked only when the rule holds for the answers before it, such as answers.q1 <= 6 for detractors.'),
    list, qErr,
    h('div', { class: 'toolbar' }, addBtn),
    h('div', { class: 'form-actions' }, save, cancel),
    formErr);
  main.append(
    h('a', { class: 'back', href: s ? href(s.id) : '#/surveys' }, s ? `← ${s.name}` : '← Surveys'),
    pageHeader(s ? `Edit “${s.name}”` : 'New survey', s ? null : 'A new survey is saved as a draft: publish it to start collecting answers.'),
    h('section', { class: 'card' }, form));

  const top: Record<string, Field<HTMLElement>> = { name: nameF, kind: kindF, language: langF, description: descF };
  const clear = (): void => {
    for (const f of Object.values(top)) f.error('');
    for (const e of editors) {
      e.error('');
      for (const f of Object.values(e.fields)) f.error('');
    }
    qErr.textContent = '';
    qErr.hidden = true;
    formErr.replaceChildren();
  };
  /** Puts the API's error under the field it names; false when none does. */
  const place = (err: ApiError): boolean => {
    const f = err.field ?? '';
    const e = { message: underField(err.message, f) };
    const m = /^questions\[(\d+)\](?:\.([a-z_]+))?/.exec(f);
    if (m) {
      const ed = editors[Number(m[1])];
      if (!ed) return false;
      const sub = ed.fields[m[2] ?? ''];
      if (sub) {
        sub.error(e.message);
        sub.input.focus();
      } else {
        ed.error(e.message);
        ed.fields.id?.input.focus();
      }
      return true;
    }
    if (f === 'questions') {
      qErr.textContent = e.message;
      qErr.hidden = false;
      addBtn.focus();
      return true;
    }
    const t = top[f];
    if (t) {
      t.error(e.message);
      t.input.focus();
      return true;
    }
    return false;
  };

  let saving = false;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (saving) return;
    clear();
    const body: SurveyDoc = {
      name: nameF.input.value.trim(),
      kind: kindSel.value as 'customer' | 'employee',
      language: lang(),
      description: descIn.value.trim(),
      questions: editors.map((e) => e.value()),
    };
    for (const k of ['title', 'intro', 'thanks'] as const) if (s?.[k] !== undefined) body[k] = s[k];
    if (!s) body.status = 'draft';
    saving = true;
    save.disabled = true;
    save.textContent = 'Saving…';
    try {
      const out = s ? await put<Survey>(path(s.id), body, { signal: ctx.signal }) : await post<Survey>('surveys', body, { signal: ctx.signal });
      setFlash(s
        ? out.version > s.version ? `Saved “${out.name}” as version ${out.version}.` : `Saved “${out.name}”.`
        : `Created “${out.name}” as a draft: publish it to collect answers.`);
      location.hash = href(out.id);
    } catch (e) {
      if (aborted(e)) return;
      if (!(e instanceof ApiError && (e.status === 400 || e.status === 409) && place(e))) formErr.append(refused(e));
    } finally {
      saving = false;
      save.disabled = false;
      save.textContent = s ? 'Save changes' : 'Create draft';
    }
  });
}

/** "questions[1].show_if reads answers.q9, …" reads, under that field, as
 *  "Reads answers.q9, …": the field is where it shows. */
export function underField(message: string, f: string): string {
  for (const prefix of [`${f}: `, `${f} `]) {
    if (f && message.startsWith(prefix)) {
      const rest = message.slice(prefix.length);
      return rest.charAt(0).toUpperCase() + rest.slice(1);
    }
  }
  return message;
}

// ---------------------------------------------------------------- view --

export function surveyPage(main: HTMLElement, ctx: PageContext): void {
  const id = ctx.params.id ?? '';
  const notice = takeFlash();
  main.append(h('a', { class: 'back', href: '#/surveys' }, '← Surveys'), loading('Loading the survey…'));
  const load = (message: HTMLElement | null): void => {
    get<Survey>(path(id), {}, { signal: ctx.signal }).then((s) => render(s, message)).catch((e) => {
      if (aborted(e)) return;
      replace(main, h('a', { class: 'back', href: '#/surveys' }, '← Surveys'), pageHeader('Survey'),
        e instanceof ApiError && e.status === 404 ? emptyState('This survey does not exist.', 'The list shows the surveys there are.') : errorState(e));
    });
  };
  load(notice);

  function render(s: Survey, message: HTMLElement | null): void {
    const actionMsg = h('div', { class: 'action-msg' }, message);
    const change = (to: 'publish' | 'close' | 'reopen', label: string, cls = 'btn'): HTMLButtonElement => {
      const b = h('button', { type: 'button', class: cls }, label);
      b.addEventListener('click', async () => {
        b.disabled = true;
        actionMsg.replaceChildren();
        try {
          const out = await post<Survey>(`${path(s.id)}/${to}`, {}, { signal: ctx.signal });
          render(out, h('p', { class: 'notice', role: 'status' },
            out.status === 'live' ? `“${out.name}” is live: its public page takes answers.` : `“${out.name}” is closed: it takes no more answers.`));
        } catch (e) {
          if (aborted(e)) return;
          b.disabled = false;
          actionMsg.append(refused(e));
        }
      });
      return b;
    };
    const actions = h('div', { class: 'toolbar' },
      h('a', { class: 'btn', href: `${href(s.id)}/edit` }, 'Edit'),
      s.status === 'draft' ? change('publish', 'Publish', 'btn btn-primary') : null,
      s.status === 'live' ? change('close', 'Close') : null,
      s.status === 'closed' ? change('reopen', 'Reopen') : null,
      h('a', { class: 'btn', href: `#/feedback?survey=${encodeURIComponent(s.id)}` }, 'Scores'),
      s.kind === 'employee' ? h('a', { class: 'btn', href: '#/enps' }, 'eNPS × CX') : null);
    const facts = h('section', { class: 'card seg-facts', 'aria-labelledby': 'h-facts' },
      h('h2', { id: 'h-facts', class: 'sr-only' }, 'Summary'),
      h('dl', { class: 'facts' },
        h('div', null, h('dt', null, 'Status'), h('dd', { class: 'survey-state' }, statusBadge(s.status))),
        h('div', null, h('dt', null, 'Version'), h('dd', { class: 'survey-version' }, fmtInt(s.latest_version))),
        h('div', null, h('dt', null, 'Responses'), h('dd', { class: 'big survey-count' }, fmtInt(s.responses))),
        h('div', null, h('dt', null, 'Kind'), h('dd', { class: 'survey-kind' }, kindBadge(s.kind))),
        h('div', null, h('dt', null, 'Public page'), h('dd', null, h('a', { href: s.link, target: '_blank', rel: 'noopener' }, s.link))),
        h('div', null, h('dt', null, 'Version saved'), h('dd', null, time(s.version_saved_at, 'short')))),
      s.description ? h('p', { class: 'persona-desc' }, s.description) : null,
      h('p', { class: 'muted small' }, s.status === 'draft'
        ? 'A draft takes no answers; editing it changes it in place.'
        : 'Editing this survey makes a new version; the responses so far stay with theirs.'));
    const questions = h('section', { class: 'card', 'aria-labelledby': 'h-questions' },
      h('h2', { id: 'h-questions' }, 'Questions'),
      h('ol', { class: 'question-list' }, s.questions.map((q) => h('li', { 'data-id': q.id },
        h('p', null, h('strong', null, textOf(q.text, s.language))),
        h('p', { class: 'muted small' },
          h('code', null, q.id), ` · ${TYPES.find((t) => t.id === q.type)?.label ?? q.type}`,
          q.required === false ? ' · optional' : ' · required',
          q.type === 'choice' ? ` · ${q.multiple ? 'several of' : 'one of'}: ${(q.options ?? []).map((o) => textOf(o.text, s.language)).join(', ')}` : null,
          q.show_if ? [' · shown if ', h('code', null, q.show_if)] : null)))));
    const respBox = h('div');
    replace(main,
      h('a', { class: 'back', href: '#/surveys' }, '← Surveys'),
      pageHeader(s.name, `${s.kind === 'employee' ? 'Employee' : 'Customer'} survey · ${fmtInt(s.questions.length)} questions`, actions),
      actionMsg, facts, linkCard(s, ctx), distributionSection(s, ctx), questions,
      h('section', { class: 'card', 'aria-labelledby': 'h-responses' }, h('h2', { id: 'h-responses' }, 'Latest responses'), respBox));
    if (document.activeElement === main || document.activeElement === document.body) main.querySelector<HTMLElement>('h1')?.focus({ preventScroll: true });
    responses(respBox, s, ctx);
  }
}

// ------------------------------------------------------- personal link --

const ID_TYPES = [
  { id: 'user_id', label: 'User id' }, { id: 'email', label: 'E-mail' }, { id: 'anonymous_id', label: 'Anonymous id' },
] as const;

/** Mints a personal link (POST /surveys/{id}/links, docs/respondent-page.md)
 *  for one respondent: the URL to send, with a copy button; the server's
 *  refusal under the field it names. */
function linkCard(s: Survey, ctx: PageContext): HTMLElement {
  const head = h('h2', { id: 'h-link' }, 'Personal link');
  if (s.status === 'closed') {
    return h('section', { class: 'card link-card', 'aria-labelledby': 'h-link' }, head,
      h('p', { class: 'muted' }, 'A closed survey takes no answers: reopen it to send personal links.'));
  }
  const typeSel = h('select', { name: 'id_type' }, ID_TYPES.map((t) => h('option', { value: t.id }, t.label)));
  const typeF = field('Identify by', typeSel);
  const whoF = field('Respondent', h('input', {
    type: 'text', name: 'respondent', maxlength: 255, autocomplete: 'off', spellcheck: 'false', placeholder: 'u-42 or ada@example.com',
  }), { cls: 'grow', help: 'The customer’s user id or e-mail, as your events carry it.' });
  const expF = field('Expires in', h('input', {
    type: 'text', name: 'expires_in', value: '30d', maxlength: 12, autocomplete: 'off', spellcheck: 'false', class: 'short',
  }), { help: '90s, 15m, 12h, 30d or 2w; at most 366 days.' });
  // typing an e-mail picks "E-mail", unless the viewer chose
  let chosen = false;
  typeSel.addEventListener('change', () => { chosen = true; });
  whoF.input.addEventListener('input', () => {
    if (!chosen) typeSel.value = whoF.input.value.includes('@') ? 'email' : 'user_id';
  });
  const make = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Make link');
  const formErr = h('div', { class: 'form-alert' });
  const out = h('div', { class: 'link-out', 'aria-live': 'polite' });
  const form = h('form', { class: 'builder link-form', 'aria-label': 'Make a personal link', novalidate: true },
    h('div', { class: 'form-row' }, typeF.el, whoF.el, expF.el, h('div', { class: 'form-actions align-end' }, make)),
    formErr, out);
  let busy = false;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (busy) return;
    for (const f of [typeF, whoF, expF]) f.error('');
    formErr.replaceChildren();
    const who = whoF.input.value.trim();
    if (!who) {
      whoF.error('Give the respondent’s user id or e-mail.');
      whoF.input.focus();
      return;
    }
    const body: { customer: Record<string, string>; expires_in?: string } = { customer: { [typeSel.value]: who } };
    const exp = expF.input.value.trim();
    if (exp) body.expires_in = exp;
    busy = true;
    make.disabled = true;
    try {
      const link = await post<PersonalLink>(`${path(s.id)}/links`, body, { signal: ctx.signal });
      showLink(out, link, `${ID_TYPES.find((t) => t.id === typeSel.value)?.label ?? ''} ${who}`);
    } catch (e) {
      if (aborted(e)) return;
      const f = e instanceof ApiError && e.status === 400 && e.field
        ? e.field.startsWith('customer') ? whoF : e.field === 'expires_in' ? expF : null
        : null;
      if (f && e instanceof ApiError) {
        f.error(underField(e.message, e.field ?? ''));
        f.input.focus();
      } else {
        formErr.append(refused(e));
      }
    } finally {
      busy = false;
      make.disabled = false;
    }
  });
  return h('section', { class: 'card link-card', 'aria-labelledby': 'h-link' }, head,
    h('p', { class: 'muted small' },
      'A link for one respondent: their answers are kept under the identity it carries, one response per link (answering again replaces it). The identity can be read by whoever holds the link, not changed.',
      s.kind === 'employee' ? ' This is an employee survey: answers through a personal link are not anonymous.' : '',
      s.status === 'draft' ? ' This survey is a draft: its links work once it is published.' : ''),
    form);
}

function showLink(out: HTMLElement, link: PersonalLink, who: string): void {
  const url = new URL(link.url, location.origin).href;
  const input = h('input', { type: 'text', readonly: true, value: url, class: 'mono-input link-url', 'aria-label': `Personal link for ${who}` });
  const copy = h('button', { type: 'button', class: 'btn' }, 'Copy');
  const said = h('span', { class: 'muted small copy-said', role: 'status' });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(url);
      said.textContent = 'Copied.';
    } catch {
      // no clipboard access: select it for the viewer to copy
      input.focus();
      input.select();
      said.textContent = 'Press Ctrl+C (⌘C) to copy the selected link.';
    }
  });
  replace(out,
    h('p', { class: 'small' }, h('strong', null, `Link for ${who}`), ' · expires ', time(link.expires_at, 'short')),
    h('div', { class: 'copy-row' }, input, copy),
    said);
}

function answerText(s: Survey, qid: string, a: number | string | string[]): string {
  const q = s.questions.find((x) => x.id === qid);
  if (Array.isArray(a) || (q?.type === 'choice' && typeof a === 'string')) {
    const ids = Array.isArray(a) ? a : [a];
    return ids.map((o) => textOf(q?.options?.find((x) => x.id === o)?.text, s.language) || o).join(', ');
  }
  return String(a);
}

function responses(box: HTMLElement, s: Survey, ctx: PageContext): void {
  const cursors: (string | null)[] = [null];
  let pageNo = 0;
  let ac: AbortController | null = null;
  async function load(page: number): Promise<void> {
    ac?.abort();
    ac = new AbortController();
    const signal = AbortSignal.any([ctx.signal, ac.signal]);
    if (!box.firstChild) box.append(loading('Loading responses…'));
    else box.classList.add('stale');
    try {
      const r = await get<SurveyResponses>(`${path(s.id)}/responses`, { limit: RESPONSES_PAGE, cursor: cursors[page] ?? null }, { signal });
      pageNo = page;
      cursors[page + 1] = r.next_cursor;
      box.classList.remove('stale');
      if (!r.responses.length) {
        replace(box, emptyState(page ? 'No more responses.' : 'No responses yet.',
          page ? undefined : s.status === 'live' ? 'Answers appear here as they arrive.' : 'Publish the survey to collect answers.'));
        return;
      }
      const prev = h('button', { type: 'button', class: 'btn', disabled: pageNo === 0 }, '← Newer');
      const next = h('button', { type: 'button', class: 'btn', disabled: r.next_cursor === null }, 'Older →');
      prev.addEventListener('click', () => load(pageNo - 1));
      next.addEventListener('click', () => load(pageNo + 1));
      replace(box,
        h('div', { class: 'table-wrap' }, h('table', { class: 'table responses-table stack-sm' },
          h('caption', { class: 'sr-only' }, 'Latest responses'),
          h('thead', null, h('tr', null,
            h('th', { scope: 'col' }, 'Submitted'), h('th', { scope: 'col' }, 'Customer'),
            h('th', { scope: 'col' }, 'Answers'), h('th', { scope: 'col', class: 'hide-sm' }, 'Context'))),
          h('tbody', null, r.responses.map((x) => h('tr', { 'data-id': x.id },
            h('td', { class: 'nowrap', 'data-label': 'Submitted' }, time(x.submitted_at, 'short'),
              x.survey_version !== s.latest_version ? h('div', { class: 'muted small' }, `version ${x.survey_version}`) : null,
              x.complete ? null : h('div', { class: 'muted small' }, 'partial')),
            h('td', { 'data-label': 'Customer' }, h('a', { href: `#/customers/${encodeURIComponent(x.customer_id)}` }, `Customer ${x.customer_id}`)),
            h('td', { class: 'cell-full' }, h('dl', { class: 'answers' }, Object.entries(x.answers).map(([qid, a]) =>
              h('div', null, h('dt', null, qid), h('dd', null, answerText(s, qid, a)))))),
            h('td', { class: 'hide-sm muted small' }, Object.entries(x.context).map(([k, v]) => `${k}: ${v}`).join(' · ') || '—')))))),
        pageNo > 0 || r.next_cursor !== null
          ? h('nav', { class: 'pager', 'aria-label': 'Pages of responses' }, prev, h('span', { class: 'muted' }, `Page ${pageNo + 1}`), next)
          : null);
    } catch (e) {
      if (aborted(e)) return;
      box.classList.remove('stale');
      replace(box, errorState(e, () => load(page)));
    }
  }
  load(0);
}
