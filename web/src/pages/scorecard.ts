// Scorecard: every KPI target with its owner, scope, value against the
// target, a status said in words (and an icon, never colour alone) and a
// sparkline of the scheduler's last checks (docs/targets.md). Callers who
// may program (cx_lead, admin) get a form that adds a target; its scope
// values, owners and touchpoints come from the API. Every text goes in as
// a text node.
import { h, replace, svg } from '../dom';
import { ApiError, del, get, post } from '../api';
import { SCOPES, fmtValue, kpiScopeFields, KPIS } from '../kpiscope';
import { time } from '../format';
import { aborted, emptyState, errorState, loading, pageHeader } from '../ui';
import type { PageContext } from '../router';
import { field } from '../analytics';
import { can } from '../session';

interface Point { at: string; value: number | null }
interface Target {
  id: string; kpi: string; kpi_label: string; scope: string; scope_value: string | null; scope_label: string;
  owner: string; owner_name: string | null; owner_email: string | null; target: number; direction: 'higher' | 'lower';
  period_days: number; min_n: number; alert: string; value: number | null; n: number;
  status: 'on' | 'off' | 'unknown'; checked_at: string | null; changed_at: string | null; series?: Point[];
}
interface Scorecard { targets: Target[]; summary: { on: number; off: number; unknown: number } }
const STATUS_TEXT: Record<string, string> = { on: 'On target', off: 'Off target', unknown: 'Not enough data' };
const STATUS_ICON: Record<string, string> = { on: '✓', off: '✗', unknown: '?' };

function statusBadge(s: string): HTMLElement {
  return h('span', { class: `badge target-${s}` }, h('span', { 'aria-hidden': 'true' }, `${STATUS_ICON[s] ?? ''} `), STATUS_TEXT[s] ?? s);
}

/** The last checks as a small line (decorative: the table says the numbers). */
function sparkline(t: Target): Element {
  const pts = (t.series ?? []).filter((p) => p.value !== null) as { at: string; value: number }[];
  if (pts.length < 2) return h('span', { class: 'muted small' }, pts.length ? 'one check' : 'no checks yet');
  const W = 96, H = 28, P = 3;
  const vals = pts.map((p) => p.value).concat([t.target]);
  let lo = Math.min(...vals), hi = Math.max(...vals);
  if (hi === lo) { hi += 1; lo -= 1; }
  const x = (i: number): number => P + (i * (W - 2 * P)) / (pts.length - 1);
  const y = (v: number): number => H - P - ((v - lo) * (H - 2 * P)) / (hi - lo);
  const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'sparkline', role: 'img' });
  s.setAttribute('aria-label', `Trend over the last ${pts.length} checks, from ${fmtValue(t.kpi, pts[0].value)} to ${fmtValue(t.kpi, pts[pts.length - 1].value)}`);
  s.appendChild(svg('line', { x1: P, x2: W - P, y1: y(t.target), y2: y(t.target), class: 'spark-target' }));
  s.appendChild(svg('polyline', { points: pts.map((p, i) => `${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join(' '), class: 'spark-line' }));
  return s;
}

export function scorecardPage(main: HTMLElement, ctx: PageContext): void {
  const program = can('program');
  const summary = h('p', { class: 'muted', 'aria-live': 'polite' });
  const body = h('div', { 'aria-busy': 'true' }, loading('Loading the scorecard…'));
  main.append(pageHeader('KPI scorecard', 'Every KPI with an owner and a target: where it stands now, over its period, and its trend.'),
    summary, body);

  async function load(): Promise<void> {
    try {
      const card = await get<Scorecard>('scorecard', {}, { signal: ctx.signal });
      render(card);
    } catch (e) {
      if (aborted(e)) return;
      replace(body, errorState(e, load));
    } finally {
      body.setAttribute('aria-busy', 'false');
    }
  }

  function render(card: Scorecard): void {
    const s = card.summary;
    summary.textContent = card.targets.length
      ? `${card.targets.length} targets: ${s.on} on target, ${s.off} off target, ${s.unknown} without enough data.`
      : '';
    const rows = card.targets.map((t) => {
      const sign = t.direction === 'higher' ? '≥' : '≤';
      const tr = h('tr', { 'data-target': t.id, 'data-status': t.status },
        h('th', { scope: 'row' }, h('strong', null, t.kpi_label),
          h('div', { class: 'muted small' }, t.scope === 'company' ? SCOPES.company : `${SCOPES[t.scope] ?? t.scope}: ${t.scope_label}`)),
        h('td', null, statusBadge(t.status)),
        h('td', { class: 'num' }, h('strong', null, fmtValue(t.kpi, t.value)),
          h('div', { class: 'muted small' }, `target ${sign} ${fmtValue(t.kpi, t.target)}`)),
        h('td', { class: 'num' }, `n = ${t.n}`, h('div', { class: 'muted small' }, `of ${t.min_n} needed · ${t.period_days} d`)),
        h('td', null, t.owner_name ?? `user ${t.owner}`, t.owner_email ? h('div', { class: 'muted small' }, t.owner_email) : null),
        h('td', null, sparkline(t), t.changed_at ? h('div', { class: 'muted small' }, 'since ', time(t.changed_at, 'short')) : null));
      if (program) {
        const rm = h('button', { type: 'button', class: 'btn btn-quiet' }, 'Remove');
        rm.setAttribute('aria-label', `Remove the ${t.kpi_label} target of ${t.scope_label}`);
        rm.addEventListener('click', async () => {
          if (!confirm(`Remove the ${t.kpi_label} target of ${t.scope_label}?`)) return;
          try { await del(`targets/${encodeURIComponent(t.id)}`); await load(); } catch (e) { alert(e instanceof Error ? e.message : String(e)); }
        });
        tr.appendChild(h('td', null, rm));
      }
      return tr;
    });
    const table = card.targets.length
      ? h('section', { class: 'card', 'aria-labelledby': 'targets-h' }, h('h2', { id: 'targets-h' }, 'Targets'),
        h('div', { class: 'table-wrap' }, h('table', { class: 'table scorecard-table' },
          h('caption', { class: 'sr-only' }, 'KPI targets with their status, value, owner and trend'),
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'KPI and scope'), h('th', { scope: 'col' }, 'Status'),
            h('th', { scope: 'col', class: 'num' }, 'Value'), h('th', { scope: 'col', class: 'num' }, 'Answers'),
            h('th', { scope: 'col' }, 'Owner'), h('th', { scope: 'col' }, 'Trend'),
            program ? h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')) : null)),
          h('tbody', null, rows))))
      : h('section', { class: 'card' }, emptyState('No targets yet.', program ? 'Give a KPI an owner and a target below.' : 'A CX lead sets them.'));
    replace(body, table, program ? form() : null);
  }

  function form(): HTMLElement {
    const msg = h('p', { class: 'form-msg', role: 'alert' });
    const ks = kpiScopeFields(ctx.signal, { onError: (m) => { msg.textContent = m; } });
    const { kpi, scope, value, owner } = ks;
    const target = field('Target', h('input', { type: 'number', name: 'target', required: true, inputmode: 'decimal' }));
    const direction = field('On target when the value is', h('select', { name: 'direction' },
      h('option', { value: 'higher' }, 'at least the target'), h('option', { value: 'lower' }, 'at most the target')));
    const period = field('Over the last (days)', h('input', { type: 'number', name: 'period_days', min: '1', max: '366', value: '30' }));
    const minN = field('Answers needed', h('input', { type: 'number', name: 'min_n', min: '1', value: '30' }));
    const alertSel = field('Alert the owner', h('select', { name: 'alert' }, h('option', { value: 'email' }, 'by e-mail'),
      h('option', { value: 'webhook' }, 'by webhook'), h('option', { value: 'both' }, 'by e-mail and webhook'), h('option', { value: 'none' }, 'not at all')));
    const hook = field('Webhook URL', h('input', { type: 'url', name: 'webhook_url', placeholder: 'https://…' }));
    hook.el.hidden = true;
    const fields: Record<string, { error(m: string): void }> = {
      kpi, scope, scope_value: value, owner, target, direction, period_days: period, min_n: minN, alert: alertSel, webhook_url: hook,
    };
    ks.onKpi(() => {
      const k = KPIS.find((x) => x.id === kpi.input.value)!;
      target.input.min = String(k.lo);
      target.input.max = String(k.hi);
      target.input.step = k.step;
      direction.input.value = k.id === 'churn_rate' ? 'lower' : 'higher';
    });
    ks.set(kpi.input.value, 'company', null);
    alertSel.input.addEventListener('change', () => { hook.el.hidden = !['webhook', 'both'].includes(alertSel.input.value); });

    const f = h('form', { class: 'card target-form', 'aria-labelledby': 'add-target-h', novalidate: true },
      h('h2', { id: 'add-target-h' }, 'Add a target'),
      h('div', { class: 'filters' }, kpi.el, scope.el, value.el, owner.el),
      h('div', { class: 'filters' }, target.el, direction.el, period.el, minN.el, alertSel.el, hook.el),
      msg, h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add target')));
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      for (const x of Object.values(fields)) x.error('');
      msg.textContent = '';
      msg.className = 'form-msg';
      const body: Record<string, unknown> = {
        kpi: kpi.input.value, scope: scope.input.value, owner: owner.input.value,
        target: target.input.value === '' ? null : Number(target.input.value), direction: direction.input.value,
        period_days: Number(period.input.value), min_n: Number(minN.input.value), alert: alertSel.input.value,
      };
      if (scope.input.value !== 'company') body.scope_value = value.input.value;
      if (!hook.el.hidden && hook.input.value) body.webhook_url = hook.input.value.trim();
      try {
        const t = await post<Target>('targets', body);
        await load();
        const done = document.getElementById('scorecard-msg');
        if (done) done.textContent = `Added: ${t.kpi_label} of ${t.scope_label}, ${STATUS_TEXT[t.status].toLowerCase()}.`;
      } catch (err) {
        if (err instanceof ApiError && err.field && fields[err.field]) fields[err.field].error(err.message);
        else { msg.className = 'form-msg error'; msg.textContent = err instanceof Error ? err.message : String(err); }
      }
    });
    return h('div', null, h('p', { id: 'scorecard-msg', class: 'form-msg ok', role: 'status' }), f);
  }

  void load();
}
