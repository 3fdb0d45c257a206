// Pure: what to do to table weft so that it holds exactly the desired routes.
import { InvalidArgumentError } from '../errors.js';
import { describeRoute, normalizeRoute, routeKey, type OwnedRoute } from './route.types.js';

export type RouteAction =
  | { op: 'create'; route: OwnedRoute }
  | { op: 'replace'; route: OwnedRoute; previous: OwnedRoute }
  | { op: 'delete'; route: OwnedRoute };

/**
 * Diffs desired against observed routes, both identified by (destination, metric) as the kernel does.
 * Order is make-before-break: creations, then replacements, then deletions, so traffic moving from
 * one route to another (say, a new metric) always has one. The same inputs after applying the
 * result give no actions.
 */
export function planRoutes(desired: readonly OwnedRoute[], observed: readonly OwnedRoute[]): RouteAction[] {
  const want = new Map<string, OwnedRoute>();
  for (const route of desired.map(normalizeRoute)) {
    const key = routeKey(route);
    const other = want.get(key);
    if (other && !sameRoute(other, route)) {
      throw new InvalidArgumentError(
        `two different routes to ${route.destination} with metric ${route.metric}: ` +
          `${describeRoute(other)} and ${describeRoute(route)}`,
      );
    }
    want.set(key, route);
  }

  const have = new Map<string, OwnedRoute>();
  const deletes: RouteAction[] = [];
  for (const route of observed.map(normalizeRoute)) {
    const key = routeKey(route);
    if (have.has(key) || !want.has(key)) deletes.push({ op: 'delete', route });
    else have.set(key, route);
  }

  const creates: RouteAction[] = [];
  const replaces: RouteAction[] = [];
  for (const [key, route] of want) {
    const current = have.get(key);
    if (!current) creates.push({ op: 'create', route });
    else if (!sameRoute(route, current)) replaces.push({ op: 'replace', route, previous: current });
  }
  const byKey = (a: RouteAction, b: RouteAction): number => compareRoutes(a.route, b.route);
  return [...creates.sort(byKey), ...replaces.sort(byKey), ...deletes.sort(byKey)];
}

/**
 * True when `observed` already is what `desired` asks for. A desired gateway route without a dev
 * leaves the choice of interface to the kernel, which then reports one: any dev matches.
 */
export function sameRoute(desired: OwnedRoute, observed: OwnedRoute): boolean {
  if (desired.kind !== observed.kind || desired.destination !== observed.destination) return false;
  if (desired.metric !== observed.metric) return false;
  if (desired.kind !== 'unicast') return true;
  if (desired.gateway !== observed.gateway) return false;
  return desired.dev === undefined || desired.dev === observed.dev;
}

/** The action that takes the kernel back to where it was before `action`. */
export function inverseOf(action: RouteAction): RouteAction {
  switch (action.op) {
    case 'create':
      return { op: 'delete', route: action.route };
    case 'replace':
      return { op: 'replace', route: action.previous, previous: action.route };
    case 'delete':
      return { op: 'create', route: action.route };
  }
}

function compareRoutes(a: OwnedRoute, b: OwnedRoute): number {
  if (a.destination !== b.destination) return a.destination < b.destination ? -1 : 1;
  return a.metric - b.metric;
}
