// What the other end of a WireGuard link needs: a Link another Weft appliance takes as-is, or a stock
// wg-quick file for a third-party device.
import { ConflictError } from '../common/errors.js';
import {
  effectiveLocalSubnets,
  type Link,
  type NormalizedDocument,
  type WireGuardLink,
  wireSubnets,
} from '../desired-state/document.js';
import { mirroredNetmap, thirdPartyNetmapNote } from '../desired-state/netmap.js';

export interface PeerConfigInput {
  doc: NormalizedDocument;
  link: WireGuardLink;
  publicKey: string;
  listenPort: number | undefined;
}

function endpointOf({ doc, link, listenPort }: PeerConfigInput): string {
  const host = doc.appliance.public_endpoint;
  if (!host) {
    throw new ConflictError(
      'the appliance has no public_endpoint: set it (PUT /appliance) so the remote side knows where to reach this site',
    );
  }
  if (listenPort === undefined) {
    throw new ConflictError(
      `link "${link.name}" has no listen port yet: its device is not set up (see /status)`,
    );
  }
  return host.includes(':') ? `[${host}]:${listenPort}` : `${host}:${listenPort}`;
}

/**
 * The remote appliance's side of this link, as a body for its `POST /links`: the real subnets of both
 * sides, and this link's netmap mirrored (the far end translates its own LAN to our netmap.remote).
 */
export function weftBundle(input: PeerConfigInput): Link {
  const { doc, link, publicKey } = input;
  const netmap = mirroredNetmap(link);
  return {
    name: doc.appliance.name,
    type: 'wireguard',
    description: `WireGuard link to ${doc.appliance.name} (exported from its link "${link.name}")`,
    remote_endpoint: endpointOf(input),
    remote_subnets: effectiveLocalSubnets(doc, link),
    local_subnets: [...link.remote_subnets],
    ...(netmap ? { netmap } : {}),
    ...(link.metric !== undefined ? { metric: link.metric } : {}),
    ...(link.mtu ? { mtu: link.mtu } : {}),
    wireguard: {
      peer_public_key: publicKey,
      ...(link.wireguard.preshared_key ? { preshared_key: link.wireguard.preshared_key } : {}),
      persistent_keepalive: link.wireguard.persistent_keepalive ?? 25,
    },
  };
}

/**
 * A wg-quick file for a third-party device; its own private key stays with it. It names the prefixes
 * as the tunnel carries them: the device sees this site's mapped net.
 */
export function wgQuick(input: PeerConfigInput): string {
  const { doc, link, publicKey } = input;
  const note = thirdPartyNetmapNote(link);
  const lines = [
    `# WireGuard peer configuration for the link "${link.name}" of Weft appliance "${doc.appliance.name}".`,
    '# Put this device’s own private key below; its public key must be the link’s peer_public_key',
    `# (${link.wireguard.peer_public_key}).`,
    ...(note ? [`# ${note}`] : []),
    '[Interface]',
    'PrivateKey = REPLACE_WITH_THIS_DEVICE_PRIVATE_KEY',
    ...(link.mtu ? [`MTU = ${link.mtu}`] : []),
    '',
    '[Peer]',
    `# ${doc.appliance.name}`,
    `PublicKey = ${publicKey}`,
    ...(link.wireguard.preshared_key ? [`PresharedKey = ${link.wireguard.preshared_key}`] : []),
    `Endpoint = ${endpointOf(input)}`,
    `AllowedIPs = ${wireSubnets(doc, link).local.join(', ')}`,
    `PersistentKeepalive = ${link.wireguard.persistent_keepalive ?? 25}`,
    '',
  ];
  return lines.join('\n');
}
