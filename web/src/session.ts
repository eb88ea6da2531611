// Who is signed in (GET /api/v1/me), for the pages that show or hide what
// the role may change. Set by main.ts after sign-in; null when signed out.
import type { Me } from './api';

let current: Me | null = null;
export function setMe(m: Me | null): void {
  current = m;
}
export function whoAmI(): Me | null {
  return current;
}
/** True when the signed-in caller holds permission p (docs/access.md). */
export function can(p: string): boolean {
  return !!current?.permissions.includes(p);
}
