// Small shared pieces of UI: page header, loading / error / empty states.
import { h, replace } from './dom';
import { ApiError } from './api';

/** Sets the document title and returns the page's header; its <h1> takes
 *  focus after a navigation (see main.ts). */
export function pageHeader(title: string, sub?: Node | string | null, actions?: Node | null): HTMLElement {
  document.title = `${title} · cxm`;
  return h('header', { class: 'page-head' },
    h('div', null, h('h1', { tabindex: '-1' }, title), sub ? h('p', { class: 'muted sub' }, sub) : null),
    actions ?? null);
}

export function loading(text = 'Loading…'): HTMLElement {
  return h('div', { class: 'state loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

/** An error state showing the API's message, with an optional retry. */
export function errorState(err: unknown, retry?: () => void): HTMLElement {
  const msg = err instanceof ApiError ? err.message : err instanceof Error ? err.message : String(err);
  const title = err instanceof ApiError && err.status === 404 && err.code === 'not_found'
    ? 'This server does not offer this yet'
    : 'Something went wrong';
  return h('div', { class: 'state error', role: 'alert' },
    h('strong', null, title),
    h('p', null, msg),
    err instanceof ApiError && err.field ? h('p', { class: 'muted' }, `Field: ${err.field}`) : null,
    retry ? h('button', { type: 'button', class: 'btn', onclick: retry }, 'Try again') : null);
}

/** In place of a chart whose code could not be loaded. */
export function chartFailed(el: HTMLElement): void {
  replace(el, errorState(new Error('The chart could not be loaded. Reload the page.')));
}

export function emptyState(title: string, text?: string): HTMLElement {
  return h('div', { class: 'state empty' }, h('strong', null, title), text ? h('p', { class: 'muted' }, text) : null);
}

/** True when `e` is the rejection of an aborted fetch (page left). */
export function aborted(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}

const TYPE_CLASS: Record<string, string> = {
  track: 't-track', page: 't-page', screen: 't-screen', identify: 't-identify', group: 't-group', alias: 't-alias',
};
/** A coloured label for a message type (the text says the type; colour is
 *  only a help). */
export function typeBadge(type: string): HTMLElement {
  return h('span', { class: `badge ${TYPE_CLASS[type] ?? ''}` }, type);
}

export function stageBadge(stage: string | null | undefined): HTMLElement {
  if (!stage) return h('span', { class: 'muted' }, '—');
  return h('span', { class: `badge stage stage-${stage.replace(/[^a-z_-]/gi, '')}` }, stage.replace(/_/g, ' '));
}

/** A message for the next page shown (after a save or a delete): set it,
 * then the page that shows next takes it (once). */
let flash = '';
export function setFlash(message: string): void {
  flash = message;
}
export function takeFlash(): HTMLElement | null {
  const m = flash;
  flash = '';
  return m ? h('p', { class: 'notice', role: 'status' }, m) : null;
}
