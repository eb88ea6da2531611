// The KPI at a scope and its owner, as the scorecard's targets and the
// initiatives name them (docs/targets.md): the KPI and scope selects, the
// scope's values (units, journey maps, segments, surveys, touchpoints) and
// the owners (enabled users), all loaded from the API once. Every text
// goes in as a text node.
import { h, replace } from './dom';
import { get } from './api';
import { aborted } from './ui';
import { field, type Field } from './analytics';

export interface Named { id: string; name: string }

export const KPIS: { id: string; label: string; lo: number; hi: number; step: string; rate?: boolean }[] = [
  { id: 'nps', label: 'NPS', lo: -100, hi: 100, step: '1' },
  { id: 'csat', label: 'CSAT (%)', lo: 0, hi: 100, step: '0.1' },
  { id: 'ces', label: 'CES (1–7)', lo: 1, hi: 7, step: '0.1' },
  { id: 'activation_rate', label: 'Activation rate', lo: 0, hi: 1, step: '0.01', rate: true },
  { id: 'repeat_rate', label: 'Repeat rate', lo: 0, hi: 1, step: '0.01', rate: true },
  { id: 'loyalty_rate', label: 'Loyalty rate', lo: 0, hi: 1, step: '0.01', rate: true },
  { id: 'churn_rate', label: 'Churn rate', lo: 0, hi: 1, step: '0.01', rate: true },
];
export const SCOPES: Record<string, string> = {
  company: 'Whole company', unit: 'Unit (and below)', touchpoint: 'Touchpoint', journey: 'Journey map',
  segment: 'Segment', survey: 'Survey',
};
const RATE_SCOPES = ['company', 'segment'];

/** A KPI's value as people read it: NPS points, CSAT %, CES, a rate in %. */
export function fmtValue(kpi: string, v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  if (kpi === 'nps') return v.toFixed(1);
  if (kpi === 'csat') return `${v.toFixed(1)} %`;
  if (kpi === 'ces') return v.toFixed(2);
  return `${(100 * v).toFixed(1)} %`;
}

export interface KpiScope {
  kpi: Field<HTMLSelectElement>;
  scope: Field<HTMLSelectElement>;
  value: Field<HTMLSelectElement>;
  owner: Field<HTMLSelectElement>;
  /** Resolves once the lists are in (it never rejects). */
  ready: Promise<void>;
  /** Shows kpi/scope/value (after ready: the value is chosen). */
  set(kpi: string, scope: string, value: string | null): void;
  /** Called after the KPI changed (range of a target, say). */
  onKpi(f: () => void): void;
}

/** The fields; with none, the KPI may be "none" (the scope is then off). */
export function kpiScopeFields(signal: AbortSignal, opts: { none?: boolean; onError?: (m: string) => void } = {}): KpiScope {
  const kpi = field('KPI', h('select', { name: 'kpi' }, opts.none ? h('option', { value: '' }, 'None') : null,
    KPIS.map((k) => h('option', { value: k.id }, k.label))));
  const scope = field('Scope', h('select', { name: 'scope' }));
  const value = field('Which', h('select', { name: 'scope_value', disabled: true }, h('option', { value: '' }, '—')));
  const owner = field('Owner', h('select', { name: 'owner', required: true }, h('option', { value: '' }, 'Loading…')));
  const lists: Record<string, Named[]> = {};
  let listsLoaded = false;
  const kpiHooks: (() => void)[] = [];

  const setValues = (): void => {
    const s = scope.input.value;
    const v = value.input;
    if (!s || s === 'company') {
      replace(v, h('option', { value: '' }, '—'));
      v.disabled = true;
      return;
    }
    const items = lists[s] ?? [];
    replace(v, items.length ? items.map((x) => h('option', { value: x.id }, x.name)) : h('option', { value: '' }, listsLoaded ? 'None to choose' : 'Loading…'));
    v.disabled = !items.length;
  };
  const setScopes = (): void => {
    const k = KPIS.find((x) => x.id === kpi.input.value);
    const allowed = !k ? [] : k.rate ? RATE_SCOPES : Object.keys(SCOPES);
    const was = scope.input.value;
    replace(scope.input, allowed.length ? allowed.map((s) => h('option', { value: s }, SCOPES[s])) : h('option', { value: '' }, '—'));
    scope.input.disabled = !allowed.length;
    scope.input.value = allowed.includes(was) ? was : allowed.length ? 'company' : '';
    setValues();
    for (const f of kpiHooks) f();
  };
  kpi.input.addEventListener('change', setScopes);
  scope.input.addEventListener('change', setValues);

  const ready = (async () => {
    const q = { signal };
    const [units, maps, segs, surveys, users, tpN, tpC, tpE] = await Promise.all([
      get<{ units: Named[] }>('units', {}, q).catch(() => ({ units: [] })),
      get<{ maps: Named[] }>('journey-maps', {}, q).catch(() => ({ maps: [] })),
      get<{ segments: Named[] }>('segments', {}, q).catch(() => ({ segments: [] })),
      get<{ surveys: Named[] }>('surveys', {}, q).catch(() => ({ surveys: [] })),
      get<{ users: (Named & { email: string; disabled: boolean })[] }>('users', {}, q).catch(() => ({ users: [] })),
      ...['nps', 'csat', 'ces'].map((m) => get<{ groups: { key: string | null }[] }>(`metrics/${m}`, { by: 'touchpoint' }, q).catch(() => ({ groups: [] }))),
    ]);
    const tps = [...new Set([tpN, tpC, tpE].flatMap((g) => g.groups.map((x) => x.key)).filter((k): k is string => !!k))].sort();
    lists.unit = units.units;
    lists.journey = maps.maps;
    lists.segment = segs.segments;
    lists.survey = surveys.surveys;
    lists.touchpoint = tps.map((t) => ({ id: t, name: t }));
    listsLoaded = true;
    const people = users.users.filter((u) => !u.disabled);
    replace(owner.input, h('option', { value: '' }, 'Choose an owner'), people.map((u) => h('option', { value: u.id }, `${u.name} (${u.email})`)));
    setValues();
  })().catch((e) => { if (!aborted(e)) opts.onError?.('The lists could not be loaded; reload the page.'); });
  setScopes();

  return {
    kpi, scope, value, owner, ready,
    set(k: string, s: string, v: string | null): void {
      kpi.input.value = k;
      setScopes();
      scope.input.value = s || (k ? 'company' : '');
      setValues();
      if (v !== null) value.input.value = v;
    },
    onKpi(f: () => void): void { kpiHooks.push(f); },
  };
}
