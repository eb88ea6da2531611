// The admin API client: the bearer token (kept in sessionStorage), typed
// requests, and the API's error body turned into an ApiError.

const TOKEN_KEY = 'cxm.token';
const CSRF_KEY = 'cxm.csrf';

/** The API token of a token sign-in, or null. */
export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}
export function setToken(token: string): void {
  sessionStorage.removeItem(CSRF_KEY);
  sessionStorage.setItem(TOKEN_KEY, token);
}
/** A password sign-in: the session lives in an HttpOnly cookie the page
 *  cannot read; the page keeps only the session's CSRF token, sent with
 *  every change. */
export function setSession(csrf: string): void {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.setItem(CSRF_KEY, csrf);
}
export function signedIn(): boolean {
  return !!(getToken() || sessionStorage.getItem(CSRF_KEY));
}
export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(CSRF_KEY);
}

/** The caller as GET /api/v1/me describes it. */
export interface Me {
  role: 'admin' | 'cx_lead' | 'analyst' | 'agent' | 'viewer';
  actor: string;
  user: { id: string; email: string; name: string; unit: string | null; unit_name: string | null } | null;
  unit: string | null;
  session: boolean;
  permissions: string[];
  csrf?: string;
}

function authHeaders(method: string, token?: string): Record<string, string> {
  const t = token ?? getToken();
  if (t !== null && t !== undefined) return { authorization: `Bearer ${t}` };
  const csrf = sessionStorage.getItem(CSRF_KEY);
  return csrf && method !== 'GET' ? { 'x-csrf-token': csrf } : {};
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
  return request<T>('GET', `/api/v1/${path}${qs.size ? `?${qs}` : ''}`, undefined, opts);
}

/** POST /api/v1/<path> with a JSON body; errors as get(). */
export async function post<T>(path: string, body: unknown, opts: { signal?: AbortSignal } = {}): Promise<T> {
  return request<T>('POST', `/api/v1/${path}`, JSON.stringify(body), opts);
}

/** PATCH /api/v1/<path> with a JSON body; errors as get(). */
export async function patch<T>(path: string, body: unknown, opts: { signal?: AbortSignal } = {}): Promise<T> {
  return request<T>('PATCH', `/api/v1/${path}`, JSON.stringify(body), opts);
}

/** PUT /api/v1/<path> with a JSON body; errors as get(). */
export async function put<T>(path: string, body: unknown, opts: { signal?: AbortSignal } = {}): Promise<T> {
  return request<T>('PUT', `/api/v1/${path}`, JSON.stringify(body), opts);
}

/** DELETE /api/v1/<path>: resolves on a 204; errors as get(). */
export async function del(path: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
  await request<null>('DELETE', `/api/v1/${path}`, undefined, opts);
}

/** GET /api/v1/<path>?<query> as text (a CSV export), with the token;
 *  errors (JSON bodies) as get(). */
export async function getText(path: string, query: Query = {}, opts: { signal?: AbortSignal } = {}): Promise<string> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== null && v !== undefined && v !== '') qs.set(k, String(v));
  const url = `/api/v1/${path}${qs.size ? `?${qs}` : ''}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: authHeaders('GET'), signal: opts.signal ?? null });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The server cannot be reached. Check that cxm is running, then try again.');
  }
  if (res.ok) return res.text();
  throw await errorOf(res, false);
}

/** The ApiError of a refused answer; a 401 calls the handler. */
async function errorOf(res: Response, ownToken: boolean): Promise<ApiError> {
  let data: unknown = null;
  try {
    data = await res.json();
  } catch {
    /* not JSON */
  }
  const err = (data as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
  const e = new ApiError(
    res.status,
    err?.code ?? 'http_' + res.status,
    err?.message ?? `The server answered ${res.status} ${res.statusText}.`.replace(' .', '.'),
    err?.field,
  );
  if (res.status === 401 && !ownToken) onUnauthorized(e.message);
  return e;
}

async function request<T>(method: string, url: string, body: string | undefined, opts: { signal?: AbortSignal; token?: string }): Promise<T> {
  const headers: Record<string, string> = { ...authHeaders(method, opts.token), accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: body ?? null, signal: opts.signal ?? null });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The server cannot be reached. Check that cxm is running, then try again.');
  }
  if (res.status === 204) return null as T; // DELETE: no body
  let data: unknown = null;
  try {
    data = await res.json();
  } catch {
    /* not JSON: handled below */
  }
  if (res.ok && data !== null) return data as T;
  const err = (data as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
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
  first_event_at?: string | null;
  last_event_at?: string | null;
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

// ---- Journey analytics (docs/analytics.md) ----

export interface FunnelStepQuery {
  event: string;
  where?: string;
}

export interface FunnelQuery {
  steps: FunnelStepQuery[];
  window: string;
  from: string;
  to: string;
  by?: string;
}

export interface FunnelStep {
  event: string;
  customers: number;
  conversion: number;
  median_seconds: number | null;
}

export interface Funnel {
  steps: FunnelStep[];
  groups?: { key: string; steps: FunnelStep[] }[];
  window: string;
  from: string;
  to: string;
  took_ms?: number;
}

export interface RetentionQuery {
  start_event: string;
  return_event: string;
  interval: 'day' | 'week' | 'month';
  periods: number;
  from: string;
  to: string;
}

export interface Cohort {
  start: string;
  size: number;
  retained: number[];
}

export interface Retention {
  cohorts: Cohort[];
  interval: 'day' | 'week' | 'month';
  periods: number;
  took_ms?: number;
}

export interface PathsQuery {
  event: string;
  direction: 'next' | 'previous';
  depth: number;
  limit: number;
  from: string;
  to: string;
}

export interface PathNode {
  id: string;
  step: number;
  event: string;
  customers: number;
}

export interface Paths {
  event: string;
  direction: 'next' | 'previous';
  customers: number;
  nodes: PathNode[];
  links: { source: string; target: string; customers: number }[];
  took_ms?: number;
}

export interface Lifecycle {
  stages: { name: string; customers: number }[];
  customers: number;
  as_of: string;
  took_ms?: number;
}

/** GET /lifecycle?from=&to=&interval=: the stages now, and how customers
 *  moved in the period (docs/analytics.md, Lifecycle). */
export interface LifecyclePeriod extends Lifecycle {
  from: string;
  to: string;
  interval: 'day' | 'week' | 'month';
  /** per interval, the customers in each stage (in the order of `stages`) at its end */
  series: { start: string; partial: boolean; stages: number[] }[];
  /** stage at `from` → stage at `to`; "(new)" for customers first seen after `from` */
  flows: { from: string; to: string; customers: number }[];
  transitions: { from: string; to: string; customers: number; median_days_in_from: number | null }[];
  time_in_stage: { name: string; stays: number; median_days: number | null }[];
}

export interface KpiPoint {
  start: string;
  /** the interval has not ended (or is cut at `to`): its rates are not final */
  partial: boolean;
  activation_rate: number | null;
  repeat_customer_rate: number | null;
  loyalty_rate: number | null;
  churn_rate: number | null;
  new_customers: number;
  activated: number;
  buyers: number;
  repeat_buyers: number;
  buyers_before: number;
  loyal_buyers: number;
  active_before: number;
  churned: number;
  active: number;
}

/** GET /analytics/kpis (docs/analytics.md, KPIs). */
export interface Kpis {
  interval: 'day' | 'week' | 'month';
  purchase_event: string;
  activation_event: string;
  activation_window_days: number;
  series: KpiPoint[];
  took_ms?: number;
}

export interface EventNames {
  events: { name: string; type: string }[];
}

// ---- Journey maps (lib/journey/maps.c) ----

export interface TouchpointLive {
  events: number;
  customers: number;
  next_customers?: number;
  /** of this touchpoint's customers, the share who reached the next bound touchpoint; null for the last */
  conversion_to_next: number | null;
  median_hours_to_next: number | null;
}

/** The survey scores given at a touchpoint (responses whose
 *  context.touchpoint is its name) in the range; values null without
 *  answers. measured_emotion is their mean on the map's -2..2 scale. */
export interface TouchpointScores {
  nps: number | null;
  nps_n: number;
  csat: number | null;
  csat_n: number;
  ces: number | null;
  ces_n: number;
  measured_emotion: number | null;
}

export interface Touchpoint {
  id?: string;
  name: string;
  channel?: string;
  owner?: string;
  expected_emotion?: number;
  moment_of_truth?: boolean;
  lane?: 'front' | 'back';
  pain_points?: string[];
  binding?: { event: string; where?: string };
  live?: TouchpointLive;
  /** with live numbers (docs/journey-maps.md, Scores and the measured emotion) */
  scores?: TouchpointScores;
}

export interface JourneyStage {
  id?: string;
  name: string;
  touchpoints: Touchpoint[];
  /** with live numbers: the customers of the stage's bound touchpoints in the range */
  customers?: number;
}

/** The document POSTed or PUT. */
export interface JourneyMapDoc {
  name: string;
  state: 'current' | 'future';
  description?: string;
  stages: JourneyStage[];
}

export interface JourneyMap extends JourneyMapDoc {
  id: string;
  version: number;
  latest_version: number;
  version_saved_at: string;
  created_at: string;
  updated_at: string;
  live?: { from: string; to: string; window_hours: number };
}

export interface JourneyMapList {
  maps: { id: string; name: string; state: 'current' | 'future'; version: number; stages: number; touchpoints: number; updated_at: string }[];
}

// ---- Segments and personas (docs/segments.md) ----

export interface Persona {
  goals?: string[];
  pain_points?: string[];
}

export interface Segment {
  id: string;
  name: string;
  rule: string;
  description: string;
  persona: Persona | null;
  size: number;
  created_at: string;
  updated_at: string;
  computed_at: string | null;
  compute_ms?: number;
}

export interface SegmentDetail extends Segment {
  /** the size per UTC day over the last 90 days */
  sizes: { day: string; size: number }[];
}

export interface SegmentPreview {
  size: number;
  sample: string[];
  took_ms?: number;
}

export interface SegmentMembers {
  members: Customer[];
  next_cursor: string | null;
}

// ---- Listening: surveys, responses, feedback metrics (lib/feedback) ----

/** A text, or texts by language ({"en":"…","de":"…"}). */
export type Localised = string | Record<string, string>;

export type QuestionType = 'nps' | 'csat' | 'ces' | 'rating' | 'choice' | 'text';

export interface SurveyQuestion {
  id: string;
  type: QuestionType;
  text: Localised;
  required?: boolean;
  /** rating only: answers are 1..scale */
  scale?: number;
  /** choice only */
  options?: { id: string; text: Localised }[];
  multiple?: boolean;
  /** a rule on earlier answers, such as answers.q1 <= 6 */
  show_if?: string;
  description?: Localised;
  placeholder?: Localised;
}

/** The document POSTed or PUT. */
export interface SurveyDoc {
  name: string;
  kind?: 'customer' | 'employee';
  status?: 'draft' | 'live';
  description?: string;
  language?: string;
  title?: Localised;
  intro?: Localised;
  thanks?: Localised;
  questions: SurveyQuestion[];
}

export type SurveyStatus = 'draft' | 'live' | 'closed';

export interface Survey extends Omit<SurveyDoc, 'status'> {
  id: string;
  kind: 'customer' | 'employee';
  status: SurveyStatus;
  language: string;
  version: number;
  latest_version: number;
  responses: number;
  /** the public respondent page, "/s/{id}" */
  link: string;
  version_saved_at: string;
  created_at: string;
  updated_at: string;
}

export interface SurveyList {
  surveys: {
    id: string; name: string; kind: 'customer' | 'employee'; status: SurveyStatus; version: number;
    questions: number; types: QuestionType[]; responses: number; created_at: string; updated_at: string;
  }[];
}

export interface SurveyResponse {
  id: string;
  survey_id: string;
  survey_version: number;
  customer_id: string;
  complete: boolean;
  submitted_at: string;
  context: Record<string, string>;
  answers: Record<string, number | string | string[]>;
}

export interface SurveyResponses {
  responses: SurveyResponse[];
  next_cursor: string | null;
}

export type MetricKind = 'nps' | 'csat' | 'ces';

/** One figure of GET /metrics/{nps|csat|ces} (lib/feedback/metrics.c): the
 *  value is under the metric's own name (NPS points, CSAT %, CES mean);
 *  null when n is 0. */
export interface MetricFigure {
  nps?: number | null;
  csat?: number | null;
  ces?: number | null;
  n: number;
  promoters?: number;
  passives?: number;
  detractors?: number;
  satisfied?: number;
  agree?: number;
  agree_pct?: number | null;
  ci95: [number, number] | null;
  distribution: number[];
}

export interface Metric extends MetricFigure {
  by?: string;
  groups?: (MetricFigure & { key: string | null })[];
  interval?: string;
  series?: (MetricFigure & { start: string })[];
  compare?: MetricFigure & {
    from: string; to: string; change: number | null; z: number | null; p_value: number | null; significant: boolean;
  };
  from: string | null;
  to: string | null;
}

export type SentimentLabel = 'negative' | 'neutral' | 'positive';

/** GET /feedback: the text answers, newest first. */
export interface Verbatim {
  id: string;
  survey_id: string;
  question: string;
  customer_id: string;
  submitted_at: string;
  text: string;
  score: number | null; /* the response's NPS answer, or else its first CSAT or CES answer */
  score_type: 'nps' | 'csat' | 'ces' | null;
  sentiment: { score: number; label: SentimentLabel } | null;
  themes: string[];
  context: Record<string, string>;
}

export interface VerbatimList {
  responses: Verbatim[];
  next_cursor: string | null;
}

/** GET /feedback/themes. */
export interface Theme {
  name: string;
  volume: number;
  share: number;
  sentiment: number | null;
  nps_with: number | null;
  nps_without: number | null;
  nps_impact: number | null;
  detractor_share: number | null;
  phrases: { phrase: string; count: number }[];
}

export interface Themes {
  n: number;
  themes: Theme[];
}

/** POST /surveys/{id}/links: a personal link (docs/respondent-page.md). */
export interface PersonalLink {
  survey_id: string;
  /** the path to send, /s/{id}?t={token} */
  url: string;
  token: string;
  expires_at: string;
}

/** GET /metrics/enps-cx: each unit's eNPS beside the CX of the customers
 *  it served, and Pearson's r over the units with min_n answers of both. */
export interface EnpsCx {
  cx_metric: 'csat' | 'nps';
  min_n: number;
  units: { unit: string; enps: number | null; enps_n: number; cx: number | null; cx_n: number; in_correlation: boolean }[];
  units_compared: number;
  /** null below three units */
  correlation: number | null;
  p_value: number | null; /* t test of r = 0; null below 4 teams */
}

// ---- Sending surveys by e-mail (docs/distribution.md) ----

export type SkipReason = 'no_email' | 'fatigue' | 'unsubscribed' | 'no_consent' | 'unknown' | 'duplicate';

export interface SurveySettings {
  fatigue_days: number;
  public_url: string;
}

/** Counts shared by a distribution and a trigger. */
export interface SendCounts {
  invited: number;
  sent: number;
  failed: number;
  reminded: number;
  responded: number;
  /** responded / invited; null before any invitation */
  response_rate: number | null;
  skipped: Partial<Record<SkipReason, number>>;
}

export interface Distribution extends SendCounts {
  id: string;
  name: string;
  created_at: string;
  subject: string;
  reminder_after: string | null;
  expires_in: string | null;
}

export interface Invitation {
  id: string;
  customer_id: string;
  /** masked (a***@example.com) for a read-only token */
  email: string | null;
  status: 'scheduled' | 'sent' | 'skipped' | 'cancelled';
  /** the outbox status: queued, sending, sent or failed */
  delivery: string | null;
  sent_at: string | null;
  reminded_at: string | null;
  responded: boolean;
}

export interface DistributionDetail extends Distribution {
  invitations: Invitation[];
  next_cursor: string | null;
}

/** POST /surveys/{id}/distributions. */
export interface DistributionDoc {
  name: string;
  subject: string;
  body: string;
  to: { customers: ({ user_id: string } | { email: string })[] } | { segment: string };
  reminder_after?: string;
  expires_in?: string;
}

export interface DistributionSent {
  id: string;
  invited: number;
  skipped: Partial<Record<SkipReason, number>>;
}

export interface SurveyTrigger extends SendCounts {
  id: string;
  name: string;
  created_at: string;
  event: string;
  delay: string | null;
  where: string | null;
  subject: string;
  reminder_after: string | null;
  expires_in: string | null;
  scheduled: number;
}

export interface OutboxList {
  deliveries: unknown[];
  next_cursor: string | null;
  /** false when cxm serve runs without --smtp: mail stays queued */
  mail_configured: boolean;
}
