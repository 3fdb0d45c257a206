// What changed between two documents, by resource: the readable half of a plan.
import { isDeepStrictEqual } from 'node:util';
import type { NormalizedDocument, PlanChange } from './document.js';

function diffNamed<T extends { name: string }>(
  kind: PlanChange['kind'],
  before: T[],
  after: T[],
): PlanChange[] {
  const out: PlanChange[] = [];
  const old = new Map(before.map((x) => [x.name, x]));
  const next = new Map(after.map((x) => [x.name, x]));
  for (const [name, x] of next) {
    const prev = old.get(name);
    if (!prev) out.push({ kind, name, op: 'create' });
    else if (!isDeepStrictEqual(prev, x)) out.push({ kind, name, op: 'update' });
  }
  for (const name of old.keys()) if (!next.has(name)) out.push({ kind, name, op: 'delete' });
  return out;
}

export function diffDocuments(
  before: NormalizedDocument | undefined,
  after: NormalizedDocument,
): PlanChange[] {
  const changes: PlanChange[] = [];
  if (!before) changes.push({ kind: 'appliance', name: after.appliance.name, op: 'create' });
  else if (!isDeepStrictEqual(before.appliance, after.appliance)) {
    changes.push({ kind: 'appliance', name: after.appliance.name, op: 'update' });
  }
  changes.push(...diffNamed('link', before?.links ?? [], after.links));
  changes.push(...diffNamed('route', before?.routes ?? [], after.routes));
  if (before && before.nat.masquerade !== after.nat.masquerade) {
    changes.push({ kind: 'nat', name: 'masquerade', op: 'update' });
  }
  changes.push(...diffNamed('port-forward', before?.nat.port_forwards ?? [], after.nat.port_forwards));
  changes.push(...diffNamed('firewall-rule', before?.firewall?.rules ?? [], after.firewall?.rules ?? []));
  changes.push(
    ...diffNamed('multicast-group', before?.multicast?.groups ?? [], after.multicast?.groups ?? []),
  );
  return changes;
}
