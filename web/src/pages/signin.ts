// Sign-in: the admin token, checked with GET /api/v1/stats, then kept in
// sessionStorage (it leaves with the tab).
import { h, replace } from '../dom';
import { ApiError, get, setToken, type Stats } from '../api';

export function signInPage(
  app: HTMLElement,
  opts: { message: string; signal: AbortSignal; onSignedIn: () => void },
): void {
  document.title = 'Sign in · cxm';
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', required: true, autocomplete: 'off',
    spellcheck: 'false', autocapitalize: 'off', placeholder: 'cxm_at_…', 'aria-describedby': 'token-help',
  });
  const status = h('p', { class: 'form-msg', role: 'alert' }, opts.message || null);
  if (opts.message) status.classList.add('info');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in');
  const form = h('form', { class: 'signin-form', novalidate: true },
    h('label', { for: 'token' }, 'Admin token'),
    input,
    h('p', { id: 'token-help', class: 'help' },
      'cxm prints the admin token once, on stderr, the first time ',
      h('code', null, 'cxm serve'), ' (or ', h('code', null, 'cxm init'), ', ', h('code', null, 'cxm demo'),
      ') starts on a new data directory: copy the value of ', h('code', null, '"admin_token"'),
      ' from the line that begins with ', h('code', null, '{"data":'), '.'),
    status,
    submit);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    status.className = 'form-msg';
    if (!token) {
      status.textContent = 'Paste the admin token first.';
      status.classList.add('error');
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Checking…';
    try {
      await get<Stats>('stats', {}, { token, signal: opts.signal });
      setToken(token);
      opts.onSignedIn();
    } catch (err) {
      if (opts.signal.aborted) return;
      status.classList.add('error');
      input.setAttribute('aria-invalid', 'true');
      status.textContent = err instanceof ApiError && err.status === 401
        ? 'This token was not accepted. Check that you copied the whole admin token of this server.'
        : err instanceof Error ? err.message : String(err);
      input.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  });

  replace(app, h('main', { id: 'main', class: 'signin' },
    h('div', { class: 'signin-card' },
      h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, 'cx'), 'cxm'),
      h('h1', null, 'Sign in to the dashboard'),
      h('p', { class: 'muted' }, 'Customer experience, from every channel, in one place.'),
      form)));
  input.focus();
}
