// Number and time formatting in the viewer's locale and time zone.
import { h } from './dom';

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
const percent = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 });
const signedPercent = new Intl.NumberFormat(undefined, {
  style: 'percent', maximumFractionDigits: 1, signDisplay: 'exceptZero',
});
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateTimeSec = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const monthDayTime = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

/** Short form for lists: the time today, "Jul 17, 10:16 PM" this year,
 *  else the date. */
function short(d: Date, seconds: boolean): string {
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return seconds ? timeOnly.format(d) : monthDayTime.format(d);
  if (d.getFullYear() === now.getFullYear()) return monthDayTime.format(d);
  return dateOnly.format(d);
}

export const fmtInt = (n: number): string => integer.format(n);
export const fmtCompact = (n: number): string => (Math.abs(n) < 10000 ? integer.format(n) : compact.format(n));
export const fmtPercent = (x: number): string => percent.format(x);
/** A relative change: "+12.5%"; from ten-fold on, a multiple ("×61"),
 *  which reads better and stays narrow. */
export const fmtChange = (x: number): string =>
  x >= 9 ? `×${integer.format(Math.round(x + 1))}` : signedPercent.format(x);

/** A <time> showing `iso` in local time, with the ISO value as its title.
 *  Styles: full date and time, the same with seconds, or short (lists;
 *  "short-s" shows seconds for today's times). */
export function time(iso: string | null | undefined, style: 'datetime' | 'seconds' | 'short' | 'short-s' = 'datetime'): HTMLElement {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', null, iso);
  const text = style === 'seconds' ? dateTimeSec.format(d)
    : style === 'short' || style === 'short-s' ? short(d, style === 'short-s') : dateTime.format(d);
  return h('time', { datetime: iso, title: iso }, text);
}

/** Labels for chart buckets. Buckets are UTC interval starts, so they are
 *  shown in UTC: a day bucket must not move to the day before in America. */
export function bucketLabel(iso: string, interval: string): string {
  const d = new Date(iso);
  const opts: Intl.DateTimeFormatOptions =
    interval === 'month' ? { month: 'short', year: 'numeric', timeZone: 'UTC' }
      : { month: 'short', day: 'numeric', timeZone: 'UTC' };
  return new Intl.DateTimeFormat(undefined, opts).format(d);
}

/** Relative change from `prev` to `cur`, or null when it is not defined. */
export function change(cur: number | null, prev: number | null): number | null {
  if (cur === null || prev === null) return null;
  if (prev === 0) return cur === 0 ? 0 : null;
  return (cur - prev) / prev;
}
