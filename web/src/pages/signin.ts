// Sign-in: an e-mail and password (POST /api/v1/auth/login; the session
// lives in an HttpOnly cookie and the page keeps its CSRF token), or an API
// token such as the admin token cxm prints on first start (checked with
// GET /api/v1/me, kept in sessionStorage). Either leaves with the tab.
import { h, replace } from '../dom';
import { ApiError, get, post, setSession, setToken, type Me } from '../api';

export function signInPage(
  app: HTMLElement,
  opts: { message: string; signal: AbortSignal; onSignedIn: () => void },
): void {
  document.title = 'Sign in · cxm';
  const email = h('input', { id: 'email', name: 'email', type: 'email', required: true, autocomplete: 'username', spellcheck: 'false', autocapitalize: 'off' });
  const password = h('input', { id: 'password', name: 'password', type: 'password', required: true, autocomplete: 'current-password' });
  const status = h('p', { class: 'form-msg', role: 'alert' }, opts.message || null);
  if (opts.message) status.classList.add('info');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in');
  const form = h('form', { class: 'signin-form', novalidate: true },
    h('label', { for: 'email' }, 'E-mail'), email,
    h('label', { for: 'password' }, 'Password'), password,
    status, submit);

  const fail = (el: HTMLElement, msg: string, input: HTMLInputElement): void => {
    el.className = 'form-msg error';
    el.textContent = msg;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    status.className = 'form-msg';
    status.textContent = '';
    if (!email.value.trim()) return fail(status, 'Enter your e-mail address.', email);
    if (!password.value) return fail(status, 'Enter your password.', password);
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      const r = await post<{ me: Me }>('auth/login', { email: email.value.trim(), password: password.value }, { signal: opts.signal });
      setSession(r.me.csrf ?? '');
      opts.onSignedIn();
    } catch (err) {
      if (opts.signal.aborted) return;
      password.value = '';
      fail(status, err instanceof ApiError && err.status === 401
        ? 'The e-mail address or password is wrong.'
        : err instanceof Error ? err.message : String(err), password);
    } finally {
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  });

  // The API token form: for the admin token of a new server, before any user exists.
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', required: true, autocomplete: 'off',
    spellcheck: 'false', autocapitalize: 'off', placeholder: 'cxm_at_…', 'aria-describedby': 'token-help',
  });
  const tstatus = h('p', { class: 'form-msg', role: 'alert' });
  const tsubmit = h('button', { type: 'submit', class: 'btn' }, 'Sign in with token');
  const tform = h('form', { class: 'signin-form', novalidate: true },
    h('label', { for: 'token' }, 'API token'),
    input,
    h('p', { id: 'token-help', class: 'help' },
      'cxm prints the admin token once, on stderr, the first time ',
      h('code', null, 'cxm serve'), ' (or ', h('code', null, 'cxm init'), ', ', h('code', null, 'cxm demo'),
      ') starts on a new data directory: copy the value of ', h('code', null, '"admin_token"'),
      ' from the line that begins with ', h('code', null, '{"data":'), '.'),
    tstatus,
    tsubmit);
  tform.addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    tstatus.className = 'form-msg';
    if (!token) return fail(tstatus, 'Paste the token first.', input);
    tsubmit.disabled = true;
    tsubmit.textContent = 'Checking…';
    try {
      await get<Me>('me', {}, { token, signal: opts.signal });
      setToken(token);
      opts.onSignedIn();
    } catch (err) {
      if (opts.signal.aborted) return;
      fail(tstatus, err instanceof ApiError && err.status === 401
        ? 'This token was not accepted. Check that you copied the whole token of this server.'
        : err instanceof Error ? err.message : String(err), input);
    } finally {
      tsubmit.disabled = false;
      tsubmit.textContent = 'Sign in with token';
    }
  });
  const details = h('details', { class: 'signin-token' }, h('summary', null, 'Sign in with an API token'), tform);

  replace(app, h('main', { id: 'main', class: 'signin' },
    h('div', { class: 'signin-card' },
      h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, 'cx'), 'cxm'),
      h('h1', null, 'Sign in to the dashboard'),
      h('p', { class: 'muted' }, 'Customer experience, from every channel, in one place.'),
      form, details)));
  email.focus();
}
