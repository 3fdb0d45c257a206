// `status 3` rows → typed. p2p and client mode answer with the `OpenVPN STATISTICS` block (`name,value`
// rows); server mode with TAB-separated rows whose columns a HEADER row names. Columns are looked up by
// those names, so a version that adds or reorders columns still parses. `status 2` (comma-separated) is
// accepted too, but a common name holding a comma would break it; that is why the client asks for 3.
import { ManagementParseError } from './management.errors.js';
import type {
  OpenvpnP2pStatus,
  OpenvpnServerStatus,
  OpenvpnStatus,
  OpenvpnStatusClient,
  OpenvpnStatusRoute,
} from './management.types.js';

export function parseStatus(rows: readonly string[]): OpenvpnStatus {
  const first = rows[0];
  if (first === 'OpenVPN STATISTICS') return parseP2pStatus(rows);
  if (first?.startsWith('TITLE')) return parseServerStatus(rows);
  throw new ManagementParseError(`unrecognised openvpn status block starting with: ${first ?? '(empty)'}`);
}

const P2P_FIELDS: Record<string, keyof OpenvpnP2pStatus> = {
  'TUN/TAP read bytes': 'tunReadBytes',
  'TUN/TAP write bytes': 'tunWriteBytes',
  'TCP/UDP read bytes': 'linkReadBytes',
  'TCP/UDP write bytes': 'linkWriteBytes',
  'Auth read bytes': 'authReadBytes',
};

function parseP2pStatus(rows: readonly string[]): OpenvpnP2pStatus {
  const status: OpenvpnP2pStatus = { mode: 'p2p', updated: '', counters: {} };
  for (const row of rows.slice(1)) {
    const comma = row.lastIndexOf(',');
    if (comma < 0) throw new ManagementParseError(`malformed openvpn statistics row: ${row}`);
    const name = row.slice(0, comma);
    const value = row.slice(comma + 1);
    if (name === 'Updated') {
      status.updated = value;
      continue;
    }
    if (!/^\d+$/.test(value))
      throw new ManagementParseError(`openvpn statistics row without a count: ${row}`);
    const n = Number(value);
    status.counters[name] = n;
    const field = P2P_FIELDS[name];
    if (field) (status as unknown as Record<string, number>)[field] = n;
  }
  return status;
}

function parseServerStatus(rows: readonly string[]): OpenvpnServerStatus {
  const sep = rows[0]?.includes('\t') ? '\t' : ',';
  const status: OpenvpnServerStatus = {
    mode: 'server',
    title: '',
    time: 0,
    clients: [],
    routes: [],
    globalStats: {},
  };
  const headers = new Map<string, string[]>();
  for (const row of rows) {
    const [tag = '', ...fields] = row.split(sep);
    switch (tag) {
      case 'TITLE':
        status.title = fields.join(sep);
        break;
      case 'TIME':
        status.time = int(fields[1] ?? '', row);
        break;
      case 'HEADER': {
        const [of = '', ...names] = fields;
        headers.set(of, names);
        break;
      }
      case 'CLIENT_LIST': {
        const c = columns(headers, 'CLIENT_LIST', fields, row);
        const client: OpenvpnStatusClient = {
          commonName: c('Common Name'),
          realAddress: c('Real Address'),
          virtualAddress: c('Virtual Address'),
          virtualIpv6Address: c('Virtual IPv6 Address', ''),
          bytesReceived: int(c('Bytes Received'), row),
          bytesSent: int(c('Bytes Sent'), row),
          connectedSince: int(c('Connected Since (time_t)'), row),
          username: c('Username', ''),
        };
        const clientId = c('Client ID', '');
        if (clientId !== '') client.clientId = int(clientId, row);
        const peerId = c('Peer ID', '');
        if (peerId !== '') client.peerId = int(peerId, row);
        const cipher = c('Data Channel Cipher', '');
        if (cipher !== '') client.dataChannelCipher = cipher;
        status.clients.push(client);
        break;
      }
      case 'ROUTING_TABLE': {
        const c = columns(headers, 'ROUTING_TABLE', fields, row);
        const route: OpenvpnStatusRoute = {
          virtualAddress: c('Virtual Address'),
          commonName: c('Common Name'),
          realAddress: c('Real Address'),
          lastRef: int(c('Last Ref (time_t)'), row),
        };
        status.routes.push(route);
        break;
      }
      case 'GLOBAL_STATS':
        status.globalStats[fields[0] ?? ''] = fields.slice(1).join(sep);
        break;
      default:
        // Rows this client does not model (CLIENT_LIST of a future version's extra tables…) are skipped.
        break;
    }
  }
  return status;
}

function columns(
  headers: ReadonlyMap<string, readonly string[]>,
  table: string,
  fields: readonly string[],
  row: string,
): (name: string, fallback?: string) => string {
  const names = headers.get(table);
  if (!names) throw new ManagementParseError(`openvpn status: ${table} row before its HEADER: ${row}`);
  return (name, fallback) => {
    const i = names.indexOf(name);
    const value = i < 0 ? undefined : fields[i];
    if (value !== undefined) return value;
    if (fallback !== undefined) return fallback;
    throw new ManagementParseError(`openvpn status: ${table} row has no '${name}': ${row}`);
  };
}

function int(text: string, row: string): number {
  if (!/^\d+$/.test(text)) throw new ManagementParseError(`openvpn status: '${text}' is not a count: ${row}`);
  return Number(text);
}
