// Hash routing helpers shared by main.ts and the pages.

/** What a page gets: the route's parameters, the query of the hash, and a
 *  signal that aborts when the viewer leaves the page (pending requests,
 *  timers and charts listen to it). */
export interface PageContext {
  params: Record<string, string>;
  query: URLSearchParams;
  signal: AbortSignal;
}

/** Parses "#/a/b?x=1" into path "/a/b" and its query. */
export function parseHash(): { path: string; query: URLSearchParams } {
  const raw = location.hash.replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  return { path: q < 0 ? raw : raw.slice(0, q), query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

/** Pages that only change their query (search, filters) call this so the
 *  address can be shared and reloaded, without a re-render. */
export function setQuery(query: URLSearchParams): void {
  const { path } = parseHash();
  const qs = query.toString();
  history.replaceState(history.state, '', `#${path}${qs ? `?${qs}` : ''}`);
}
