// Shared pieces of the listening pages (feedback, surveys, verbatims,
// themes): the survey picker, the periods, the metrics' words and formats,
// localised texts and sentiment colours.
import { h, uid } from './dom';
import { get, type Localised, type MetricKind, type SentimentLabel, type Stats, type SurveyList } from './api';

const DAY = 86400000;

export const PERIODS = [
  { id: '30d', label: '30 days', days: 30 },
  { id: '90d', label: '90 days', days: 90 },
  { id: '180d', label: '6 months', days: 182 },
  { id: '365d', label: '12 months', days: 365 },
] as const;
export type PeriodId = (typeof PERIODS)[number]['id'];

export function periodOf(id: string | null, fallback: PeriodId = '90d'): (typeof PERIODS)[number] {
  return PERIODS.find((p) => p.id === id) ?? PERIODS.find((p) => p.id === fallback) ?? PERIODS[1];
}

/** The period ending where the data ends, and the same length before it. */
export function periodRange(end: Date, days: number): { from: string; to: string; compare_from: string; compare_to: string } {
  const to = end.getTime();
  const from = to - days * DAY;
  return {
    from: new Date(from).toISOString(), to: new Date(to).toISOString(),
    compare_from: new Date(from - days * DAY).toISOString(), compare_to: new Date(from).toISOString(),
  };
}

/** Where the data ends (exclusive): just after the newest event (a
 *  response is one), not past now; now when there is none. */
export async function dataEnd(signal: AbortSignal): Promise<Date> {
  const s = await get<Stats>('stats', {}, { signal });
  const last = s.last_event_at ? Date.parse(s.last_event_at) : NaN;
  return new Date(Number.isNaN(last) ? Date.now() : Math.min(last + 1000, Date.now()));
}

/** A segmented radio group (a period, a metric, an interval). */
export function segmented<T extends string>(legend: string, items: readonly { id: T; label: string }[], initial: T,
  onChange: (id: T) => void): HTMLFieldSetElement {
  const name = uid('seg');
  const group = h('fieldset', { class: 'segmented' }, h('legend', { class: 'sr-only' }, legend));
  for (const it of items) {
    const id = `${name}-${it.id}`;
    const input = h('input', { type: 'radio', name, id, value: it.id, checked: it.id === initial });
    input.addEventListener('change', () => input.checked && onChange(it.id));
    group.append(input, h('label', { for: id }, it.label));
  }
  return group;
}

/** GET /surveys: the names for the pickers. */
export async function surveys(signal: AbortSignal): Promise<SurveyList['surveys']> {
  return (await get<SurveyList>('surveys', {}, { signal })).surveys;
}

/** A <select> of the surveys, "All surveys" first; `fill` adds them when
 *  they arrive, keeping the value asked for. */
export function surveySelect(value: string): { select: HTMLSelectElement; fill(list: SurveyList['surveys']): void } {
  const select = h('select', { name: 'survey' }, h('option', { value: '' }, 'All surveys'));
  if (value) select.append(h('option', { value }, `Survey ${value}`));
  select.value = value;
  return {
    select,
    fill(list) {
      const keep = select.value;
      select.replaceChildren(h('option', { value: '' }, 'All surveys'),
        ...list.map((s) => h('option', { value: s.id }, `${s.name}${s.status === 'live' ? '' : ` (${s.status})`}`)));
      if (keep && !list.some((s) => s.id === keep)) select.append(h('option', { value: keep }, `Survey ${keep}`));
      select.value = keep;
    },
  };
}

/** A localised text in `lang`, else the first language given. */
export function textOf(t: Localised | undefined | null, lang = 'en'): string {
  if (t === undefined || t === null) return '';
  if (typeof t === 'string') return t;
  return t[lang] ?? Object.values(t)[0] ?? '';
}

export const one = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1, minimumFractionDigits: 1 });
const signedOne = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1, minimumFractionDigits: 1, signDisplay: 'exceptZero' });

/** What each metric is, its scale and how its value reads. */
export const METRICS: Record<MetricKind, {
  id: MetricKind; label: string; long: string; min: number; max: number; fmt: (x: number) => string; unit: string; means: string;
}> = {
  nps: {
    id: 'nps', label: 'NPS', long: 'Net Promoter Score', min: -100, max: 100, unit: 'points',
    fmt: (x) => signedOne.format(x),
    means: 'Promoters (9–10) minus detractors (0–6), as a share of the answers, from −100 to +100.',
  },
  csat: {
    id: 'csat', label: 'CSAT', long: 'Customer satisfaction', min: 0, max: 100, unit: 'points',
    fmt: (x) => `${one.format(x)}%`,
    means: 'The share of answers of 4 or 5 on the 1–5 scale.',
  },
  ces: {
    id: 'ces', label: 'CES', long: 'Customer effort score', min: 1, max: 7, unit: '',
    fmt: (x) => one.format(x),
    means: 'The mean answer on the 1–7 scale (7: it was very easy).',
  },
};

/** The sentiment's colour (the text always says the label too). */
export function sentimentColour(score: number | null | undefined): string {
  if (score === null || score === undefined) return '#868e96';
  if (score <= -0.6) return '#c92a2a';
  if (score < -0.15) return '#e8590c';
  if (score <= 0.15) return '#868e96';
  if (score < 0.6) return '#51a351';
  return '#2f9e44';
}

export function sentimentChip(s: { score: number; label: SentimentLabel } | null | undefined): HTMLElement {
  if (!s) return h('span', { class: 'badge sentiment' }, 'No sentiment');
  return h('span', { class: `badge sentiment sentiment-${s.label}`, title: `Sentiment score ${one.format(s.score)} (−1 to 1)` },
    s.label.charAt(0).toUpperCase() + s.label.slice(1));
}
