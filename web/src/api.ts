// The admin API client: the bearer token (kept in sessionStorage), typed
// requests, and the API's error body turned into an ApiError.

const TOKEN_KEY = 'cxm.token';

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}
export function setToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}
export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** An error answered by the API (`{"error":{code,message,field}}`) or a
 *  failure to reach it (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Called on any 401 (set by main.ts): the session is over. */
let onUnauthorized: (message: string) => void = () => {};
export function setUnauthorizedHandler(f: (message: string) => void): void {
  onUnauthorized = f;
}

type Query = Record<string, string | number | null | undefined>;

/** GET /api/v1/<path>?<query>. Empty and null query values are left out.
 *  A 401 calls the unauthorized handler (unless `token` is given, as the
 *  sign-in page does) and rejects. */
export async function get<T>(path: string, query: Query = {}, opts: { signal?: AbortSignal; token?: string } = {}): Promise<T> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== null && v !== undefined && v !== '') qs.set(k, String(v));
  const url = `/api/v1/${path}${qs.size ? `?${qs}` : ''}`;
  const token = opts.token ?? getToken() ?? '';
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, signal: opts.signal ?? null });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The server cannot be reached. Check that cxm is running, then try again.');
  }
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON: handled below */
  }
  if (res.ok && body !== null) return body as T;
  const err = (body as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
  const e = new ApiError(
    res.status,
    err?.code ?? 'http_' + res.status,
    err?.message ?? `The server answered ${res.status} ${res.statusText}.`.replace(' .', '.'),
    err?.field,
  );
  if (res.status === 401 && opts.token === undefined) onUnauthorized(e.message);
  throw e;
}

// ---- Types of the answers (only the fields the dashboard reads) ----

export interface Stats {
  events: number;
  customers: number;
  merged_customers?: number;
  identities?: number;
}

export interface Source {
  id: string;
  name: string;
}

export interface Identity {
  type: string;
  value: string;
}

export interface Customer {
  id: string;
  identities: Identity[];
  traits: Record<string, unknown>;
  accounts?: unknown[];
  stage?: string | null;
  first_seen?: string | null;
  last_seen?: string | null;
  event_count?: number;
}

export interface CustomerList {
  customers: Customer[];
  next_cursor: string | null;
}

/** A stored Segment message, plus `_source` (the source's name). */
export interface Message {
  type: string;
  event?: string;
  name?: string;
  properties?: Record<string, unknown>;
  traits?: Record<string, unknown>;
  context?: Record<string, unknown>;
  messageId?: string;
  timestamp?: string;
  receivedAt?: string;
  userId?: string;
  anonymousId?: string;
  groupId?: string;
  previousId?: string;
  _source?: string;
  [k: string]: unknown;
}

export interface MessageList {
  events: Message[];
  next_cursor: string | null;
}

export interface LiveEvent {
  seq: string;
  customer_id: string | null;
  /** the customer's e-mail, else user id; null for an anonymous visitor */
  customer_label?: string | null;
  type: string;
  name: string | null;
  source: string | null;
  timestamp: string;
  received_at: string;
}

export interface LiveEventList {
  events: LiveEvent[];
  next_cursor: string | null;
  last_seq: string | null;
}

export interface Kpi {
  value: number | null;
  previous: number | null;
  series: (number | null)[];
}

export interface Overview {
  from: string;
  to: string;
  interval: 'day' | 'week' | 'month';
  previous: { from: string; to: string };
  buckets: string[];
  kpis: Record<'customers' | 'active_customers' | 'new_customers' | 'repeat_purchase_rate' | 'events', Kpi>;
  channels: { source: string; events: number; previous: number; series: number[] }[];
  top_events: { type: string; name: string | null; events: number }[];
}

/** The name shown for a customer: traits.name, else first + last name,
 *  else the e-mail, else the user id, else "Anonymous visitor". */
export function customerName(c: Customer): string {
  const t = c.traits ?? {};
  const s = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');
  const full = s(t.name) || [s(t.firstName ?? t.first_name), s(t.lastName ?? t.last_name)].filter(Boolean).join(' ');
  return full || customerEmail(c) || c.identities.find((i) => i.type === 'user_id')?.value || 'Anonymous visitor';
}

/** The line under the name: the e-mail when the name is not it, else the
 *  first anonymous id of an anonymous visitor. */
export function customerSub(c: Customer): string {
  const name = customerName(c);
  const email = customerEmail(c);
  if (email && email !== name) return email;
  if (name === 'Anonymous visitor') return c.identities[0]?.value ?? '';
  return '';
}

export function customerEmail(c: Customer): string {
  const t = c.traits?.email;
  if (typeof t === 'string' && t) return t;
  return c.identities.find((i) => i.type === 'email')?.value ?? '';
}

/** The name of a message: track's event, page/screen's name, else its type. */
export function messageName(m: Message): string {
  return m.event ?? m.name ?? '';
}
