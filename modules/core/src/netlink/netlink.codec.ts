// Pure translation between the `netlink` package's message objects and our kernel types. Kept apart
// from the socket code so it can be tested without a kernel.
import { rt } from 'netlink';
import { formatIp, maskBytes, maxPrefixLength, parseIp, parsePrefix, type IpFamily } from '../common/ip.js';
import { InvalidArgumentError } from '../errors.js';
import {
  AF,
  FR_ACT,
  IF_OPER,
  RT_SCOPE,
  RTM,
  RTN,
  type AddressSpec,
  type KernelAddress,
  type KernelChange,
  type KernelLink,
  type KernelRoute,
  type KernelRule,
  type RouteSelector,
  type RouteSpec,
  type RouteType,
  type RuleAction,
  type RuleSpec,
} from './netlink.types.js';

/** RT_TABLE_UNSPEC: the 8-bit table field is left empty when the id only fits RTA_TABLE/FRA_TABLE. */
const RT_TABLE_UNSPEC = 0;
/** IFLA_INFO_KIND inside IFLA_LINKINFO */
const IFLA_INFO_KIND = 1;
/** NLA_TYPE_MASK: strips NLA_F_NESTED / NLA_F_NET_BYTEORDER from an attribute type. */
const NLA_TYPE_MASK = 0x3fff;

export function familyFromAf(af: number | undefined): IpFamily | undefined {
  if (af === AF.inet) return 'inet';
  if (af === AF.inet6) return 'inet6';
  return undefined;
}

/** The netlink package gives enum fields as their key when it knows the value, else as the number. */
function enumNumber(table: Record<string, string | number>, value: string | number | undefined): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  const n = table[value];
  return typeof n === 'number' ? n : 0;
}

function keyOf<K extends string>(table: Record<K, number>, value: number, fallback: K): K {
  for (const key of Object.keys(table) as K[]) if (table[key] === value) return key;
  return fallback;
}

function tableField(table: number): number {
  return table < 256 ? table : RT_TABLE_UNSPEC;
}

export function linkInfoKind(linkinfo: Buffer | undefined): string | undefined {
  if (!linkinfo) return undefined;
  for (let off = 0; off + 4 <= linkinfo.length;) {
    const len = linkinfo.readUInt16LE(off);
    const type = linkinfo.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    if (len < 4 || off + len > linkinfo.length) return undefined;
    if (type === IFLA_INFO_KIND) return linkinfo.toString('utf8', off + 4, off + len).replace(/\0+$/, '');
    off += (len + 3) & ~3;
  }
  return undefined;
}

export function linkFromKernel(m: rt.LinkMessage): KernelLink {
  const type = m.data.type;
  return {
    index: m.data.index ?? 0,
    name: m.attrs.ifname ?? '',
    up: m.data.flags?.up === true,
    lowerUp: m.data.flags?.lowerUp === true,
    operState: IF_OPER[m.attrs.operstate ?? 0] ?? 'unknown',
    mtu: m.attrs.mtu,
    linkType: typeof type === 'number' ? (rt.LinkType[type] ?? String(type)) : (type ?? 'NONE'),
    kind: linkInfoKind(m.attrs.linkinfo),
    master: m.attrs.master,
  };
}

export function addressFromKernel(m: rt.AddressMessage): KernelAddress | undefined {
  const family = familyFromAf(m.data.family);
  const local = m.attrs.local ?? m.attrs.address;
  if (!family || !local) return undefined;
  const address = formatIp(local);
  const prefixLength = m.data.prefixlen ?? maxPrefixLength(family);
  const other = m.attrs.local && m.attrs.address ? formatIp(m.attrs.address) : undefined;
  return {
    family,
    address,
    prefixLength,
    cidr: `${address}/${prefixLength}`,
    ifindex: m.data.index ?? 0,
    scope: m.data.scope ?? 0,
    label: m.attrs.label,
    peer: other !== undefined && other !== address ? other : undefined,
  };
}

export function addressToKernel(spec: AddressSpec): { data: rt.Address; attrs: rt.AddressAttrs } {
  const local = parsePrefix(spec.cidr, { allowHostBits: true });
  const peer = spec.peer === undefined ? undefined : parseIp(spec.peer);
  if (peer && peer.family !== local.family) {
    throw new InvalidArgumentError(`peer ${spec.peer} is not of the same family as ${spec.cidr}`);
  }
  return {
    data: { family: AF[local.family], prefixlen: local.prefixLength, index: spec.ifindex },
    // As ip(8) does: IFA_LOCAL is our address, IFA_ADDRESS the peer (or our address again).
    attrs: {
      local: local.bytes,
      address: peer?.bytes ?? local.bytes,
      ...(spec.label !== undefined ? { label: spec.label } : {}),
    },
  };
}

export function routeFromKernel(m: rt.RouteMessage): KernelRoute | undefined {
  const family = familyFromAf(m.data.family);
  if (!family) return undefined;
  const dstLen = m.data.dstLen ?? 0;
  const dst = m.attrs.dst ?? Buffer.alloc(family === 'inet' ? 4 : 16);
  return {
    family,
    destination: `${formatIp(maskBytes(dst, dstLen))}/${dstLen}`,
    type: keyOf<RouteType>(RTN, enumNumber(rt.RouteType, m.data.type), 'unspec'),
    table: m.attrs.table ?? m.data.table ?? 0,
    protocol: enumNumber(rt.RouteProtocol, m.data.protocol),
    scope: enumNumber(rt.RouteScope, m.data.scope),
    metric: m.attrs.priority ?? 0,
    ifindex: m.attrs.oif,
    gateway: m.attrs.gateway ? formatIp(m.attrs.gateway) : undefined,
    prefsrc: m.attrs.prefsrc ? formatIp(m.attrs.prefsrc) : undefined,
    multipath: m.attrs.multipath !== undefined,
  };
}

export function routeToKernel(spec: RouteSpec): { data: rt.Route; attrs: rt.RouteAttrs } {
  const dst = parsePrefix(spec.destination);
  const where = `route ${spec.destination}`;
  const attrs: rt.RouteAttrs = { dst: dst.bytes, table: spec.table, priority: spec.metric };
  if (spec.type === 'unicast') {
    if (spec.ifindex === undefined && spec.gateway === undefined) {
      throw new InvalidArgumentError(`${where}: a unicast route needs an interface or a gateway`);
    }
  } else if (spec.ifindex !== undefined || spec.gateway !== undefined) {
    throw new InvalidArgumentError(`${where}: a ${spec.type} route takes neither interface nor gateway`);
  }
  if (spec.ifindex !== undefined) attrs.oif = spec.ifindex;
  if (spec.gateway !== undefined) {
    const gw = parseIp(spec.gateway);
    // IPv4 via an IPv6 next hop needs RTA_VIA, which this model does not offer.
    if (gw.family !== dst.family)
      throw new InvalidArgumentError(`${where}: gateway ${spec.gateway} is of another family`);
    attrs.gateway = gw.bytes;
  }
  if (spec.prefsrc !== undefined) attrs.prefsrc = parseIp(spec.prefsrc).bytes;
  return {
    data: {
      family: AF[dst.family],
      dstLen: dst.prefixLength,
      srcLen: 0,
      tos: 0,
      table: tableField(spec.table),
      protocol: spec.protocol,
      // ip(8) gives a directly connected route (no gateway) link scope; the rest are universe.
      scope: spec.type === 'unicast' && spec.gateway === undefined ? RT_SCOPE.link : RT_SCOPE.universe,
      type: RTN[spec.type],
    },
    attrs,
  };
}

export function routeSelectorToKernel(sel: RouteSelector): { data: rt.Route; attrs: rt.RouteAttrs } {
  const dst = parsePrefix(sel.destination);
  return {
    data: {
      family: AF[dst.family],
      dstLen: dst.prefixLength,
      srcLen: 0,
      tos: 0,
      table: tableField(sel.table),
      // 0 (RTPROT_UNSPEC), RTN_UNSPEC and RT_SCOPE_NOWHERE are wildcards for RTM_DELROUTE.
      protocol: sel.protocol ?? 0,
      scope: RT_SCOPE.nowhere,
      type: sel.type === undefined ? RTN.unspec : RTN[sel.type],
    },
    attrs: { dst: dst.bytes, table: sel.table, priority: sel.metric },
  };
}

export function ruleFromKernel(m: rt.RuleMessage): KernelRule | undefined {
  const family = familyFromAf(m.data.family);
  if (!family) return undefined;
  const a = m.attrs;
  const prefix = (bytes: Buffer | undefined, len: number | undefined): string | undefined =>
    bytes && len ? `${formatIp(maskBytes(bytes, len))}/${len}` : undefined;
  const src = prefix(a.src, m.data.srcLen);
  const dst = prefix(a.dst, m.data.dstLen);
  const invert = m.data.flags?.invert === true;
  const marked = (a.fwmark ?? 0) !== 0 || (a.fwmask ?? 0) !== 0;
  const narrowed =
    marked ||
    src !== undefined ||
    dst !== undefined ||
    a.iifname !== undefined ||
    a.oifname !== undefined ||
    (m.data.tos ?? 0) !== 0 ||
    a.uidRange !== undefined ||
    a.ipProto !== undefined ||
    a.sportRange !== undefined ||
    a.dportRange !== undefined ||
    invert;
  return {
    family,
    priority: a.priority ?? 0,
    table: a.table ?? m.data.table ?? 0,
    action: keyOf<RuleAction>(FR_ACT, enumNumber(rt.RuleAction, m.data.action), 'unspec'),
    protocol: a.protocol ?? 0,
    src,
    dst,
    fwmark: a.fwmark,
    fwmask: a.fwmask,
    iifname: a.iifname,
    oifname: a.oifname,
    invert,
    fromAll: !narrowed,
  };
}

export function ruleToKernel(spec: RuleSpec): { data: rt.Rule; attrs: rt.RuleAttrs } {
  const src = spec.src === undefined ? undefined : parsePrefix(spec.src);
  const dst = spec.dst === undefined ? undefined : parsePrefix(spec.dst);
  for (const p of [src, dst]) {
    if (p && p.family !== spec.family) {
      throw new InvalidArgumentError(
        `rule priority ${spec.priority}: ${formatIp(p.bytes)} is not ${spec.family}`,
      );
    }
  }
  const attrs: rt.RuleAttrs = { table: spec.table, priority: spec.priority };
  if (spec.protocol !== undefined) attrs.protocol = spec.protocol;
  if (src) attrs.src = src.bytes;
  if (dst) attrs.dst = dst.bytes;
  if (spec.fwmark !== undefined) attrs.fwmark = spec.fwmark;
  if (spec.fwmask !== undefined) attrs.fwmask = spec.fwmask;
  if (spec.iifname !== undefined) attrs.iifname = spec.iifname;
  if (spec.oifname !== undefined) attrs.oifname = spec.oifname;
  return {
    data: {
      family: AF[spec.family],
      dstLen: dst?.prefixLength ?? 0,
      srcLen: src?.prefixLength ?? 0,
      tos: 0,
      table: tableField(spec.table),
      action: FR_ACT.lookup,
      flags: {},
    },
    attrs,
  };
}

/** Turns one multicast notification into a KernelChange; undefined for what we do not model. */
export function changeFromKernel(nlmsgType: number, payload: Buffer): KernelChange | undefined {
  let msg: rt.Message;
  try {
    msg = rt.parseMessage(nlmsgType, payload);
  } catch {
    return undefined;
  }
  const del =
    nlmsgType === RTM.DELLINK ||
    nlmsgType === RTM.DELADDR ||
    nlmsgType === RTM.DELROUTE ||
    nlmsgType === RTM.DELRULE;
  const action = del ? 'del' : 'new';
  switch (msg.kind) {
    case 'link':
      return { kind: 'link', action, nlmsgType, link: linkFromKernel(msg) };
    case 'address': {
      const address = addressFromKernel(msg);
      return address && { kind: 'address', action, nlmsgType, address };
    }
    case 'route': {
      const route = routeFromKernel(msg);
      return route && { kind: 'route', action, nlmsgType, route };
    }
    case 'rule': {
      const rule = ruleFromKernel(msg);
      return rule && { kind: 'rule', action, nlmsgType, rule };
    }
    case 'ndUserOption':
    case 'neighbor':
    case 'neighborTable':
    case 'prefix':
    case 'nexthop':
    case 'tc':
    case 'tcAction':
      return undefined;
  }
}

/** The errno name in an error from the netlink package (`Request rejected: EEXIST`, or an ErrnoException). */
export function errnoName(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
  return /Request rejected: (E[A-Z0-9]+)/.exec(err.message)?.[1];
}
