// The peer diff both configurers apply, like `wg syncconf`: remove the peers nobody wants, add the new
// ones, and for a changed peer send only what changed (UPDATE_ONLY, REPLACE_ALLOWEDIPS for that peer
// alone). An unchanged peer gets no operation at all, so its session, handshake time and learned
// endpoint survive. Pure: desired vs observed → operations.
import { canonicalEndpoint, canonicalPrefixes, normalizePeers } from './validate.js';
import type { WgPeerConfig } from './wireguard.types.js';

/** A peer as the diff needs it; WgPeerState fits. */
export interface ObservedPeer {
  publicKey: string;
  endpoint?: string;
  allowedIps: readonly string[];
  persistentKeepalive: number;
  hasPresharedKey: boolean;
  /**
   * The key itself, when the caller read it (UAPI and genetlink report it). Without it a changed PSK
   * cannot be seen, only one added or removed.
   */
  presharedKey?: string;
}

/** The fields of an existing peer that change; a field left out is left alone. */
export interface PeerChanges {
  endpoint?: string;
  /** The complete new list: sent with replace_allowed_ips / WGPEER_F_REPLACE_ALLOWEDIPS. */
  allowedIps?: string[];
  /** null removes the key (all zeros on the wire). */
  presharedKey?: string | null;
  /** 0 turns it off. */
  persistentKeepalive?: number;
}

export type PeerOperation =
  | { op: 'remove'; publicKey: string }
  | { op: 'add'; peer: WgPeerConfig }
  | { op: 'update'; publicKey: string; changes: PeerChanges };

/** What syncPeers did, by public key. */
export interface PeerDiff {
  added: string[];
  updated: string[];
  removed: string[];
}

/**
 * Operations that turn `observed` into `desired`: removals first (they free allowed IPs another peer
 * may take), then updates, then additions. Throws InvalidArgumentError when `desired` is invalid.
 */
export function diffPeers(
  desired: readonly WgPeerConfig[],
  observed: readonly ObservedPeer[],
): PeerOperation[] {
  const wanted = normalizePeers(desired);
  const wantedKeys = new Set(wanted.map((p) => p.publicKey));
  const current = new Map(observed.map((p) => [p.publicKey, p]));

  const removals: PeerOperation[] = observed
    .filter((p) => !wantedKeys.has(p.publicKey))
    .map((p) => ({ op: 'remove', publicKey: p.publicKey }));
  const updates: PeerOperation[] = [];
  const additions: PeerOperation[] = [];
  for (const peer of wanted) {
    const have = current.get(peer.publicKey);
    if (have === undefined) {
      additions.push({ op: 'add', peer });
      continue;
    }
    const changes = peerChanges(peer, have);
    if (Object.keys(changes).length > 0) updates.push({ op: 'update', publicKey: peer.publicKey, changes });
  }
  return [...removals, ...updates, ...additions];
}

/** True when syncPeers(desired) would change anything. */
export function peersDiffer(desired: readonly WgPeerConfig[], observed: readonly ObservedPeer[]): boolean {
  return diffPeers(desired, observed).length > 0;
}

export function summarizeOperations(ops: readonly PeerOperation[]): PeerDiff {
  const diff: PeerDiff = { added: [], updated: [], removed: [] };
  for (const op of ops) {
    switch (op.op) {
      case 'add':
        diff.added.push(op.peer.publicKey);
        break;
      case 'update':
        diff.updated.push(op.publicKey);
        break;
      case 'remove':
        diff.removed.push(op.publicKey);
        break;
    }
  }
  return diff;
}

/** `desired` must be normalized. */
function peerChanges(desired: WgPeerConfig, have: ObservedPeer): PeerChanges {
  const changes: PeerChanges = {};
  if (desired.endpoint !== undefined && desired.endpoint !== endpointOrUndefined(have.endpoint)) {
    changes.endpoint = desired.endpoint;
  }
  const haveIps = canonicalPrefixes(have.allowedIps, 'observed allowedIps');
  if (!sameList(desired.allowedIps, haveIps)) changes.allowedIps = [...desired.allowedIps];
  if (desired.presharedKey === undefined) {
    if (have.hasPresharedKey) changes.presharedKey = null;
  } else if (
    !have.hasPresharedKey ||
    (have.presharedKey !== undefined && have.presharedKey !== desired.presharedKey)
  ) {
    changes.presharedKey = desired.presharedKey;
  }
  const keepalive = desired.persistentKeepalive ?? 0;
  if (keepalive !== have.persistentKeepalive) changes.persistentKeepalive = keepalive;
  return changes;
}

function endpointOrUndefined(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    return canonicalEndpoint(text);
  } catch {
    return text; // something we cannot parse never equals a valid desired endpoint
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
