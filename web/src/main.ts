// The dashboard's entry: the shell (navigation, main landmark), the hash
// router, and the sign-in guard.
import './style.css';
import { h, replace } from './dom';
import { clearToken, get, getToken, post, setUnauthorizedHandler, signedIn, type Me } from './api';
import { setMe } from './session';
import { signInPage } from './pages/signin';
import { overviewPage } from './pages/overview';
import { customersPage } from './pages/customers';
import { customerPage } from './pages/customer';
import { livePage } from './pages/live';
import { funnelsPage } from './pages/funnels';
import { retentionPage } from './pages/retention';
import { pathsPage } from './pages/paths';
import { lifecyclePage } from './pages/lifecycle';
import { segmentsPage, segmentPage, segmentEditPage } from './pages/segments';
import { journeysPage, journeyPage, journeyEditPage } from './pages/journeys';
import { feedbackPage } from './pages/feedback';
import { surveysPage, surveyPage, surveyEditPage } from './pages/surveys';
import { verbatimsPage } from './pages/verbatims';
import { themesPage } from './pages/themes';
import { enpsPage } from './pages/enps';
import { peoplePage } from './pages/people';
import { scorecardPage } from './pages/scorecard';
import { initiativesPage } from './pages/initiatives';
import { auditPage } from './pages/audit';
import { casesPage, casePage } from './pages/cases';
import { slaPage, rootCausesPage } from './pages/casesboard';
import { maturityPage, maturityNewPage } from './pages/maturity';
import { pageHeader, emptyState } from './ui';
import { parseHash, type PageContext } from './router';

type Page = (main: HTMLElement, ctx: PageContext) => void;

const routes: { pattern: RegExp; keys: string[]; page: Page; nav: string }[] = [
  { pattern: /^\/(?:overview)?$/, keys: [], page: overviewPage, nav: 'overview' },
  { pattern: /^\/customers$/, keys: [], page: customersPage, nav: 'customers' },
  { pattern: /^\/customers\/([^/]+)$/, keys: ['id'], page: customerPage, nav: 'customers' },
  { pattern: /^\/segments$/, keys: [], page: segmentsPage, nav: 'segments' },
  { pattern: /^\/segments\/new$/, keys: [], page: segmentEditPage, nav: 'segments' },
  { pattern: /^\/segments\/([^/]+)\/edit$/, keys: ['id'], page: segmentEditPage, nav: 'segments' },
  { pattern: /^\/segments\/([^/]+)$/, keys: ['id'], page: segmentPage, nav: 'segments' },
  { pattern: /^\/journeys$/, keys: [], page: journeysPage, nav: 'journeys' },
  { pattern: /^\/journeys\/new$/, keys: [], page: journeyEditPage, nav: 'journeys' },
  { pattern: /^\/journeys\/([^/]+)\/edit$/, keys: ['id'], page: journeyEditPage, nav: 'journeys' },
  { pattern: /^\/journeys\/([^/]+)$/, keys: ['id'], page: journeyPage, nav: 'journeys' },
  { pattern: /^\/live$/, keys: [], page: livePage, nav: 'live' },
  { pattern: /^\/funnels$/, keys: [], page: funnelsPage, nav: 'funnels' },
  { pattern: /^\/retention$/, keys: [], page: retentionPage, nav: 'retention' },
  { pattern: /^\/paths$/, keys: [], page: pathsPage, nav: 'paths' },
  { pattern: /^\/lifecycle$/, keys: [], page: lifecyclePage, nav: 'lifecycle' },
  { pattern: /^\/feedback$/, keys: [], page: feedbackPage, nav: 'feedback' },
  { pattern: /^\/surveys$/, keys: [], page: surveysPage, nav: 'surveys' },
  { pattern: /^\/surveys\/new$/, keys: [], page: surveyEditPage, nav: 'surveys' },
  { pattern: /^\/surveys\/([^/]+)\/edit$/, keys: ['id'], page: surveyEditPage, nav: 'surveys' },
  { pattern: /^\/surveys\/([^/]+)$/, keys: ['id'], page: surveyPage, nav: 'surveys' },
  { pattern: /^\/verbatims$/, keys: [], page: verbatimsPage, nav: 'verbatims' },
  { pattern: /^\/themes$/, keys: [], page: themesPage, nav: 'themes' },
  { pattern: /^\/enps$/, keys: [], page: enpsPage, nav: 'enps' },
  { pattern: /^\/cases$/, keys: [], page: casesPage, nav: 'cases' },
  { pattern: /^\/cases\/([^/]+)$/, keys: ['id'], page: casePage, nav: 'cases' },
  { pattern: /^\/sla$/, keys: [], page: slaPage, nav: 'sla' },
  { pattern: /^\/root-causes$/, keys: [], page: rootCausesPage, nav: 'root-causes' },
  { pattern: /^\/scorecard$/, keys: [], page: scorecardPage, nav: 'scorecard' },
  { pattern: /^\/initiatives$/, keys: [], page: initiativesPage, nav: 'initiatives' },
  { pattern: /^\/people$/, keys: [], page: peoplePage, nav: 'people' },
  { pattern: /^\/audit$/, keys: [], page: auditPage, nav: 'audit' },
  { pattern: /^\/maturity$/, keys: [], page: maturityPage, nav: 'maturity' },
  { pattern: /^\/maturity\/new$/, keys: [], page: maturityNewPage, nav: 'maturity' },
];

const NAV = [
  { id: 'overview', href: '#/overview', label: 'Overview', icon: 'M3 13h4v8H3zM10 8h4v13h-4zM17 3h4v18h-4z' },
  { id: 'customers', href: '#/customers', label: 'Customers', icon: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-8 9a8 8 0 0 1 16 0z' },
  { id: 'segments', href: '#/segments', label: 'Segments', icon: 'M12 3a9 9 0 1 0 9 9h-9zM15 2v7h7a7 7 0 0 0-7-7z' },
  { id: 'journeys', href: '#/journeys', label: 'Journey maps', icon: 'M3 6l6-3 6 3 6-3v15l-6 3-6-3-6 3zM9 3v15M15 6v15' },
  { id: 'live', href: '#/live', label: 'Live events', icon: 'M2 12h4l3-8 6 16 3-8h4' },
  { id: 'funnels', href: '#/funnels', label: 'Funnels', icon: 'M3 4h18l-7 8v6l-4 2v-8z' },
  { id: 'retention', href: '#/retention', label: 'Retention', icon: 'M4 4h16v16H4zM4 10h16M4 15h16M10 4v16M15 4v16' },
  { id: 'paths', href: '#/paths', label: 'Paths', icon: 'M4 6h4c6 0 6 12 12 12M4 6c6 0 6-2 12-2h4M4 6h16' },
  { id: 'lifecycle', href: '#/lifecycle', label: 'Lifecycle', icon: 'M4 20V10M10 20V4M16 20v-7M22 20H2' },
  // Listen: what customers (and employees) say
  { id: 'feedback', href: '#/feedback', label: 'Feedback', icon: 'M4 4h16v12H8l-4 4zM8 9h8M8 12h5', group: 'Listen' },
  { id: 'surveys', href: '#/surveys', label: 'Surveys', icon: 'M6 3h12v18H6zM9 8h6M9 12h6M9 16h3' },
  { id: 'verbatims', href: '#/verbatims', label: 'Verbatims', icon: 'M7 7h4v4c0 3-2 5-4 6M15 7h4v4c0 3-2 5-4 6' },
  { id: 'themes', href: '#/themes', label: 'Themes', icon: 'M4 6h10M4 12h16M4 18h7' },
  { id: 'enps', href: '#/enps', label: 'eNPS × CX', icon: 'M4 4v16h16M7 13h2v2H7zM11 9h2v2h-2zM15 6h2v2h-2zM13 14h2v2h-2z' },
  // Act: the closed loop (an agent's day starts in the inbox: `home`)
  { id: 'cases', href: '#/cases', label: 'Cases', icon: 'M4 5h16v14H4zM4 9h16M9 13h6', group: 'Act', perm: 'cases', home: true },
  { id: 'sla', href: '#/sla', label: 'SLA board', icon: 'M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 7v5l3 3', perm: 'cases' },
  { id: 'root-causes', href: '#/root-causes', label: 'Root causes', icon: 'M4 20h4V10H4zM10 20h4V4h-4zM16 20h4v-6h-4zM3 8l7-4 7 6 4-2', perm: 'cases' },
  // Govern: the KPIs' owners and targets, who may do what, and the record of what they did
  { id: 'scorecard', href: '#/scorecard', label: 'Scorecard', icon: 'M4 20V10M9 20V4M14 20v-8M19 20v-5M3 20h18M15 5l3 3 4-5', group: 'Govern', perm: 'read' },
  { id: 'initiatives', href: '#/initiatives', label: 'Initiatives', icon: 'M5 4h4v16H5zM10 4h4v10h-4zM15 4h4v6h-4z', perm: 'read' },
  { id: 'people', href: '#/people', label: 'People', icon: 'M9 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM3 20a6 6 0 0 1 12 0M17 11a3 3 0 1 0 0-6M21 20a6 6 0 0 0-4-5.6', perm: 'people' },
  { id: 'audit', href: '#/audit', label: 'Audit log', icon: 'M6 3h9l4 4v14H6zM9 12h7M9 16h7M9 8h3', perm: 'admin' },
  { id: 'maturity', href: '#/maturity', label: 'CX maturity', icon: 'M12 3l8.5 6.2-3.3 9.8H6.8L3.5 9.2zM12 8.5l3.7 2.7-1.4 4.3H9.7l-1.4-4.3z' },
];
// The permission a page needs (GET /api/v1/roles); 'read' unless it says.
const PAGE_PERM: Record<string, string> = { verbatims: 'feedback', people: 'people', audit: 'admin' };
const permOf = (nav: string): string => (NAV.find((n) => n.id === nav) as { perm?: string } | undefined)?.perm ?? PAGE_PERM[nav] ?? 'read';
let me: Me | null = null;

const app = document.getElementById('app') as HTMLElement;
let signInMessage = '';
let current: AbortController | null = null;
const RETURN_KEY = 'cxm.return';

function icon(d: string): SVGElement {
  const s = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  s.setAttribute('viewBox', '0 0 24 24');
  s.setAttribute('aria-hidden', 'true');
  s.setAttribute('class', 'icon');
  const p = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  p.setAttribute('d', d);
  s.appendChild(p);
  return s;
}

// ---- The shell, built once after sign-in ----
let shell: { root: HTMLElement; main: HTMLElement; links: Map<string, HTMLAnchorElement>; setMenu(open: boolean): void } | null = null;

function buildShell(): NonNullable<typeof shell> {
  const main = h('main', { id: 'main', tabindex: '-1' });
  const links = new Map<string, HTMLAnchorElement>();
  const list = h('ul', { class: 'nav-links' });
  let group = '';
  for (const n of NAV) {
    if ('group' in n && n.group) group = n.group;
    if (!me?.permissions.includes(permOf(n.id))) continue;
    if (group) list.appendChild(h('li', { class: 'nav-group', 'aria-hidden': 'true' }, group));
    group = '';
    const a = h('a', { href: n.href }, icon(n.icon), h('span', null, n.label));
    links.set(n.id, a);
    list.appendChild(h('li', null, a));
  }
  const menuBtn = h('button', {
    type: 'button', class: 'menu-btn', 'aria-expanded': 'false', 'aria-controls': 'nav',
  }, icon('M3 6h18M3 12h18M3 18h18'), h('span', null, 'Menu'));
  const root = h('div', { class: 'shell' });
  const setMenu = (open: boolean): void => {
    root.classList.toggle('menu-open', open);
    menuBtn.setAttribute('aria-expanded', String(open));
  };
  menuBtn.addEventListener('click', () => setMenu(!root.classList.contains('menu-open')));
  const signOut = h('button', { type: 'button', class: 'btn btn-quiet sign-out' }, 'Sign out');
  signOut.addEventListener('click', () => {
    // a password sign-in ends its session on the server too
    if (!getToken()) void post('auth/logout', {}).catch(() => undefined);
    clearToken();
    me = null;
    setMe(null);
    signInMessage = 'You are signed out.';
    sessionStorage.removeItem(RETURN_KEY);
    location.hash = '#/signin';
  });
  const skip = h('a', { class: 'skip', href: '#main' }, 'Skip to content');
  // The skip link must not change the hash (that is the router's), so it
  // moves focus itself.
  skip.addEventListener('click', (e) => {
    e.preventDefault();
    main.focus();
  });
  const brand = h('a', { class: 'brand', href: '#/overview' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, 'cx'), 'cxm');
  replace(root,
    skip,
    h('header', { class: 'topbar' }, brand, menuBtn),
    h('nav', { id: 'nav', 'aria-label': 'Main' }, brand.cloneNode(true), list, h('div', { class: 'nav-foot' }, signOut)),
    main);
  root.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && root.classList.contains('menu-open')) {
      setMenu(false);
      menuBtn.focus();
    }
  });
  return { root, main, links, setMenu };
}

function render(): void {
  current?.abort();
  current = new AbortController();
  const { path, query } = parseHash();

  if (!signedIn()) {
    // Remember where the viewer was going, and go there after sign-in.
    if (path !== '/signin') sessionStorage.setItem(RETURN_KEY, location.hash);
    shell = null;
    signInPage(app, {
      message: signInMessage,
      signal: current.signal,
      onSignedIn() {
        const back = sessionStorage.getItem(RETURN_KEY) || '#/overview';
        sessionStorage.removeItem(RETURN_KEY);
        if (location.hash === back) render();
        else location.hash = back;
      },
    });
    signInMessage = '';
    return;
  }
  if (!me) {
    // who is signed in decides the navigation: ask once per sign-in
    replace(app, h('main', { id: 'main', class: 'signin' }, h('p', { class: 'muted', role: 'status' }, 'Loading…')));
    const signal = current.signal;
    get<Me>('me', {}, { signal }).then((m) => {
      me = m;
      setMe(m);
      render();
    }).catch(() => { /* a 401 signs out (the handler); else the next navigation retries */ });
    return;
  }
  // a caller without 'read' lands on the first page marked home it may
  // see (the cases inbox for agents), else on the first page it may see
  const allowed = (n: (typeof NAV)[number]): boolean => !!me?.permissions.includes(permOf(n.id));
  const home = (NAV.find((n) => 'home' in n && n.home && allowed(n)) ?? NAV.find(allowed))?.href ?? '#/people';
  if (path === '/signin' || ((path === '/' || path === '/overview') && !me.permissions.includes('read'))) {
    location.hash = home;
    return;
  }

  if (!shell || !shell.root.isConnected) {
    shell = buildShell();
    replace(app, shell.root);
  }
  shell.setMenu(false);
  const route = routes.find((r) => r.pattern.test(path));
  for (const [id, a] of shell.links) {
    if (route?.nav === id) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const main = shell.main;
  main.replaceChildren();
  window.scrollTo(0, 0);
  if (!route) {
    main.append(pageHeader('Page not found'), emptyState('There is no page at this address.', 'Use the navigation to go to another page.'));
  } else {
    const m = route.pattern.exec(path) as RegExpExecArray;
    const params: Record<string, string> = {};
    route.keys.forEach((k, i) => {
      const raw = m[i + 1] ?? '';
      try {
        params[k] = decodeURIComponent(raw);
      } catch {
        params[k] = raw; // a malformed escape: the API will say it is unknown
      }
    });
    route.page(main, { params, query, signal: current.signal });
  }
  // Move focus to the new page's heading (or main, while it loads), as a
  // screen reader user expects after a navigation; not on the first load.
  if (navigated) (main.querySelector<HTMLElement>('h1') ?? main).focus({ preventScroll: true });
  navigated = true;
}
let navigated = false;

// Any 401 ends the session and returns to the sign-in page with the reason.
setUnauthorizedHandler(() => {
  if (!signedIn()) return;
  clearToken();
  me = null;
  setMe(null);
  signInMessage = 'Your session has ended: the server no longer accepts this token. Sign in again.';
  render();
});

window.addEventListener('hashchange', render);
render();
