// A route in table weft as the rest of Weft speaks of it: by interface name, not ifindex.
import { canonicalPrefix, formatIp, parseIp, parsePrefix } from '../common/ip.js';
import { InvalidArgumentError } from '../errors.js';

export type OwnedRouteKind = 'unicast' | 'unreachable' | 'blackhole';

export interface OwnedRoute {
  /** CIDR, host bits clear: `10.1.0.0/16`, `2001:db8:1::/48`. */
  destination: string;
  /** rtm_type: RTN_UNICAST, RTN_UNREACHABLE or RTN_BLACKHOLE. */
  kind: OwnedRouteKind;
  /** Interface name (RTA_OIF by name); a unicast route needs `dev`, `gateway` or both. */
  dev?: string;
  /** RTA_GATEWAY */
  gateway?: string;
  /** RTA_PRIORITY; together with `destination` it identifies the route within the table. */
  metric: number;
}

/**
 * IP6_RT_PRIO_USER: the kernel stores an IPv6 route given metric 0 with metric 1024. Desired routes
 * are normalised the same way, or a metric-0 IPv6 route would be "changed" on every sync.
 */
export const IPV6_DEFAULT_METRIC = 1024;

const MAX_METRIC = 0xffff_ffff;

/** Validates a route and brings it to the form the kernel reports, so that equal routes compare equal. */
export function normalizeRoute(route: OwnedRoute): OwnedRoute {
  const where = `route ${route.destination}`;
  const dst = parsePrefix(route.destination);
  if (!Number.isInteger(route.metric) || route.metric < 0 || route.metric > MAX_METRIC) {
    throw new InvalidArgumentError(`${where}: metric must be an integer from 0 to ${MAX_METRIC}`);
  }
  const metric = dst.family === 'inet6' && route.metric === 0 ? IPV6_DEFAULT_METRIC : route.metric;
  const out: OwnedRoute = { destination: canonicalPrefix(route.destination), kind: route.kind, metric };
  if (route.kind !== 'unicast') {
    if (route.dev !== undefined || route.gateway !== undefined) {
      throw new InvalidArgumentError(`${where}: an ${route.kind} route takes neither dev nor gateway`);
    }
    return out;
  }
  if (route.dev === undefined && route.gateway === undefined) {
    throw new InvalidArgumentError(`${where}: a unicast route needs a dev or a gateway`);
  }
  if (route.dev !== undefined) {
    if (route.dev === '') throw new InvalidArgumentError(`${where}: empty interface name`);
    out.dev = route.dev;
  }
  if (route.gateway !== undefined) {
    const gw = parseIp(route.gateway);
    if (gw.family !== dst.family) {
      throw new InvalidArgumentError(`${where}: gateway ${route.gateway} is not of the destination's family`);
    }
    out.gateway = formatIp(gw.bytes);
  }
  return out;
}

/** What the kernel identifies a route by within one table. */
export function routeKey(route: Pick<OwnedRoute, 'destination' | 'metric'>): string {
  return `${route.destination} metric ${route.metric}`;
}

/** `10.1.0.0/16 via 192.0.2.1 dev wg0 metric 100`, `unreachable 10.2.0.0/16 metric 100` (ip-route order). */
export function describeRoute(route: OwnedRoute): string {
  return [
    route.kind === 'unicast' ? undefined : route.kind,
    route.destination,
    route.gateway === undefined ? undefined : `via ${route.gateway}`,
    route.dev === undefined ? undefined : `dev ${route.dev}`,
    `metric ${route.metric}`,
  ]
    .filter((s) => s !== undefined)
    .join(' ');
}
