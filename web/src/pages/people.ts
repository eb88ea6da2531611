// People: the organisation tree (units), the users with their roles, and
// for admins the forms that add units and users and change a user's role,
// unit or access (docs/access.md). Names and e-mails only ever go in as
// text.
import { h, replace } from '../dom';
import { ApiError, get, patch, post } from '../api';
import { time } from '../format';
import { aborted, emptyState, errorState, loading, pageHeader } from '../ui';
import type { PageContext } from '../router';
import { field } from '../analytics';
import { can, whoAmI } from '../session';

interface Unit { id: string; name: string; parent: string | null; users: number; children: number }
interface User { id: string; email: string; name: string; role: string; unit: string | null; unit_name: string | null; disabled: boolean; created_at: string }

const ROLES = ['admin', 'cx_lead', 'analyst', 'agent', 'viewer'];
const ROLE_LABEL: Record<string, string> = { admin: 'Admin', cx_lead: 'CX lead', analyst: 'Analyst', agent: 'Agent', viewer: 'Viewer' };

/** The units as an indented list of options (the tree, depth first). */
function treeOrder(units: Unit[]): { unit: Unit; depth: number }[] {
  const kids = new Map<string | null, Unit[]>();
  for (const u of units) kids.set(u.parent, [...(kids.get(u.parent) ?? []), u]);
  const out: { unit: Unit; depth: number }[] = [];
  const walk = (p: string | null, d: number): void => {
    for (const u of (kids.get(p) ?? []).sort((a, b) => a.name.localeCompare(b.name))) {
      out.push({ unit: u, depth: d });
      if (d < 50) walk(u.id, d + 1);
    }
  };
  walk(null, 0);
  return out;
}

function unitSelect(units: Unit[], value: string | null, none: string): HTMLSelectElement {
  const s = h('select', null, h('option', { value: '' }, none),
    treeOrder(units).map(({ unit, depth }) => h('option', { value: unit.id }, `${'  '.repeat(depth)}${depth ? '└ ' : ''}${unit.name}`)));
  s.value = value ?? '';
  return s;
}

export function peoplePage(main: HTMLElement, ctx: PageContext): void {
  const admin = can('admin');
  const body = h('div', { 'aria-busy': 'true' }, loading('Loading the people…'));
  const me = whoAmI();
  main.append(pageHeader('People', me?.unit && !admin
    ? 'The units and people of your part of the organisation.'
    : 'The organisation tree, who works where, and what each role may do.'), body);

  async function load(): Promise<void> {
    try {
      const [u, p] = await Promise.all([
        get<{ units: Unit[] }>('units', {}, { signal: ctx.signal }),
        get<{ users: User[] }>('users', {}, { signal: ctx.signal }),
      ]);
      render(u.units, p.users);
    } catch (e) {
      if (aborted(e)) return;
      replace(body, errorState(e, load));
    } finally {
      body.setAttribute('aria-busy', 'false');
    }
  }

  function render(units: Unit[], users: User[]): void {
    const byUnit = new Map<string, string>(units.map((u) => [u.id, u.name]));
    const tree = treeOrder(units);
    const unitsCard = h('section', { class: 'card', 'aria-labelledby': 'units-h' },
      h('h2', { id: 'units-h' }, 'Units'),
      tree.length
        ? h('ul', { class: 'unit-tree' }, tree.map(({ unit, depth }) => h('li', { style: `padding-left:${depth * 1.25}rem` },
          h('strong', null, unit.name), h('span', { class: 'muted small' }, ` · ${unit.users} ${unit.users === 1 ? 'person' : 'people'}`))))
        : emptyState('No units yet.', admin ? 'Add the teams and regions that own cases and responses.' : undefined));
    const rows = users.map((u) => {
      const tr = h('tr', { 'data-email': u.email },
        h('td', null, h('strong', null, u.name), h('div', { class: 'muted small' }, u.email)),
        h('td', null, ROLE_LABEL[u.role] ?? u.role),
        h('td', null, u.unit ? (byUnit.get(u.unit) ?? u.unit_name ?? u.unit) : h('span', { class: 'muted' }, 'Whole company')),
        h('td', null, u.disabled ? h('span', { class: 'badge' }, 'Disabled') : 'Active'),
        h('td', null, time(u.created_at, 'short')));
      if (admin) {
        const edit = h('button', { type: 'button', class: 'btn btn-quiet' }, 'Edit');
        edit.setAttribute('aria-label', `Edit ${u.name}`);
        edit.addEventListener('click', () => editUser(u, units, tr));
        tr.appendChild(h('td', null, edit));
      }
      return tr;
    });
    const usersCard = h('section', { class: 'card', 'aria-labelledby': 'users-h' },
      h('h2', { id: 'users-h' }, 'Users'),
      users.length
        ? h('div', { class: 'table-wrap' }, h('table', { class: 'table people-table' },
          h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Role'), h('th', null, 'Unit'),
            h('th', null, 'Access'), h('th', null, 'Since'), admin ? h('th', null, h('span', { class: 'sr-only' }, 'Actions')) : null)),
          h('tbody', null, rows)))
        : emptyState('No users yet.'));
    replace(body, unitsCard, usersCard, admin ? forms(units) : null);
  }

  function editUser(u: User, units: Unit[], tr: HTMLTableRowElement): void {
    const role = h('select', null, ROLES.map((r) => h('option', { value: r }, ROLE_LABEL[r])));
    role.value = u.role;
    const unit = unitSelect(units, u.unit, 'Whole company');
    const disabled = h('input', { type: 'checkbox' });
    disabled.checked = u.disabled;
    const msg = h('p', { class: 'form-msg', role: 'alert' });
    const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save');
    const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
    const form = h('form', { class: 'inline-edit', 'aria-label': `Edit ${u.name}` },
      field('Role', role).el, field('Unit', unit).el,
      h('label', { class: 'check' }, disabled, ' Disabled (signs them out everywhere)'),
      msg, h('div', { class: 'form-actions' }, save, cancel));
    const cell = h('td', { colspan: '6' }, form);
    const editRow = h('tr', { class: 'edit-row' }, cell);
    tr.after(editRow);
    role.focus();
    cancel.addEventListener('click', () => editRow.remove());
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      save.disabled = true;
      try {
        await patch(`users/${encodeURIComponent(u.id)}`, { role: role.value, unit: unit.value || null, disabled: disabled.checked });
        await load();
      } catch (err) {
        msg.className = 'form-msg error';
        msg.textContent = err instanceof Error ? err.message : String(err);
        save.disabled = false;
      }
    });
  }

  function forms(units: Unit[]): HTMLElement {
    // a unit
    const uname = field('Name', h('input', { type: 'text', required: true, maxlength: '100', autocomplete: 'off' }));
    const uparent = field('Inside', unitSelect(units, null, 'At the top'));
    const umsg = h('p', { class: 'form-msg', role: 'alert' });
    const uform = h('form', { class: 'card', 'aria-labelledby': 'add-unit-h', novalidate: true },
      h('h2', { id: 'add-unit-h' }, 'Add a unit'),
      h('div', { class: 'filters' }, uname.el, uparent.el),
      umsg, h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add unit')));
    uform.addEventListener('submit', async (e) => {
      e.preventDefault();
      uname.error('');
      try {
        await post('units', { name: uname.input.value.trim(), parent: uparent.input.value || null });
        await load();
      } catch (err) {
        if (err instanceof ApiError && err.field === 'name') uname.error(err.message);
        else { umsg.className = 'form-msg error'; umsg.textContent = err instanceof Error ? err.message : String(err); }
      }
    });
    // a user
    const email = field('E-mail', h('input', { type: 'email', required: true, autocomplete: 'off' }));
    const name = field('Name', h('input', { type: 'text', required: true, maxlength: '100', autocomplete: 'off' }));
    const pw = field('Password', h('input', { type: 'password', required: true, autocomplete: 'new-password', minlength: '10' }),
      { help: 'At least 10 characters; they can change it later.' });
    const role = field('Role', h('select', null, ROLES.map((r) => h('option', { value: r }, ROLE_LABEL[r]))));
    role.input.value = 'agent';
    const unit = field('Unit', unitSelect(units, null, 'Whole company'), { help: 'Agents need a unit: they see its cases and responses.' });
    const fields: Record<string, ReturnType<typeof field>> = { email, name, password: pw, role, unit };
    const msg = h('p', { class: 'form-msg', role: 'alert' });
    const form = h('form', { class: 'card', 'aria-labelledby': 'add-user-h', novalidate: true },
      h('h2', { id: 'add-user-h' }, 'Add a user'),
      h('div', { class: 'filters' }, email.el, name.el, pw.el, role.el, unit.el),
      msg, h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add user')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      for (const f of Object.values(fields)) f.error('');
      msg.textContent = '';
      try {
        await post('users', { email: email.input.value.trim(), name: name.input.value.trim(), password: pw.input.value,
          role: role.input.value, unit: unit.input.value || null });
        await load();
      } catch (err) {
        const f = err instanceof ApiError && err.field ? fields[err.field] : undefined;
        if (f) { f.error(err instanceof Error ? err.message : String(err)); f.input.focus(); }
        else { msg.className = 'form-msg error'; msg.textContent = err instanceof Error ? err.message : String(err); }
      }
    });
    return h('div', { class: 'grid people-forms' }, uform, form);
  }

  load();
}
