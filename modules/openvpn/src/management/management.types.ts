// Typed values of the openvpn 2.6 management interface (management-notes.txt, checked against 2.6.14's
// own output in the integration spec). Names keep openvpn's words beside ours where they differ.

/** The states `state` and `>STATE:` report (openvpn's `state_name[]`). */
export const OPENVPN_STATE_NAMES = [
  'CONNECTING',
  'WAIT',
  'AUTH',
  'GET_CONFIG',
  'ASSIGN_IP',
  'ADD_ROUTES',
  'CONNECTED',
  'RECONNECTING',
  'EXITING',
  'RESOLVE',
  'TCP_CONNECT',
  'AUTH_PENDING',
] as const;

/** A state openvpn reported; `UNKNOWN` for a name this client does not know (see `rawName`). */
export type OpenvpnStateName = (typeof OPENVPN_STATE_NAMES)[number] | 'UNKNOWN';

/** One `state` row or `>STATE:` notification: `time,name,description,tunIp,remoteAddr,remotePort,localAddr,localPort,tunIpv6`. */
export interface OpenvpnState {
  /** Seconds since the epoch, as openvpn stamped it. */
  time: number;
  name: OpenvpnStateName;
  /** openvpn's word, kept even when known. */
  rawName: string;
  /** Why (`SUCCESS`, `SIGUSR1`, `init_instance`, `tls-error`…), empty when openvpn gave none. */
  description: string;
  /** The tunnel's local IPv4 address. */
  tunIpv4?: string;
  tunIpv6?: string;
  remoteAddress?: string;
  remotePort?: number;
  localAddress?: string;
  localPort?: number;
}

/** `F` fatal, `N` non-fatal error, `W` warning, `I` info, `D` debug (management-notes.txt). */
export type OpenvpnLogLevel = 'fatal' | 'error' | 'warning' | 'info' | 'debug' | 'none';

/** One `>LOG:` notification or `log all` row: `time,flags,message`. */
export interface OpenvpnLogLine {
  time: number;
  /** openvpn's flag letters as sent (often empty). */
  flags: string;
  level: OpenvpnLogLevel;
  message: string;
}

export type ManagementNotification =
  | { type: 'state'; state: OpenvpnState }
  | { type: 'log'; log: OpenvpnLogLine }
  /** `>BYTECOUNT:in,out` — p2p and client mode, bytes on the link since the connection started. */
  | { type: 'bytecount'; bytesIn: number; bytesOut: number }
  /** `>BYTECOUNT_CLI:cid,in,out` — server mode, one per client (irregular for idle clients). */
  | { type: 'bytecount-cli'; clientId: number; bytesIn: number; bytesOut: number }
  /** `>HOLD:Waiting for hold release:<seconds>` — openvpn waits for `hold release`. */
  | { type: 'hold'; message: string; waitSeconds?: number }
  | { type: 'info'; message: string }
  /** `>FATAL:` — openvpn is about to exit. */
  | { type: 'fatal'; message: string }
  /**
   * `>CLIENT:<event>,<args>` (server mode, with --management-client-auth): CONNECT, REAUTH, ESTABLISHED,
   * DISCONNECT, CR_RESPONSE carry the `>CLIENT:ENV,name=value` lines that follow, up to `ENV,END`;
   * ADDRESS has none.
   */
  | {
      type: 'client';
      event: string;
      clientId?: number;
      keyId?: number;
      args: string[];
      env: Record<string, string>;
    }
  /** Any other real-time message (`>PASSWORD:`, `>NEED-OK:`, `>ECHO:`, …), as sent. */
  | { type: 'other'; source: string; payload: string };

export type ManagementNotificationType = ManagementNotification['type'];

/** `status 3` in p2p or client mode: the `OpenVPN STATISTICS` block. */
export interface OpenvpnP2pStatus {
  mode: 'p2p';
  /** openvpn's local time text (`Updated,2026-11-22 11:00:12`). */
  updated: string;
  tunReadBytes?: number;
  tunWriteBytes?: number;
  linkReadBytes?: number;
  linkWriteBytes?: number;
  authReadBytes?: number;
  /** Every counter row by openvpn's name (`TCP/UDP read bytes` …), compression counters included. */
  counters: Record<string, number>;
}

/** A CLIENT_LIST row of `status 3` in server mode. */
export interface OpenvpnStatusClient {
  commonName: string;
  /** `Real Address`: `ip:port` of the client's packets. */
  realAddress: string;
  virtualAddress: string;
  virtualIpv6Address: string;
  bytesReceived: number;
  bytesSent: number;
  /** `Connected Since (time_t)`. */
  connectedSince: number;
  username: string;
  clientId?: number;
  peerId?: number;
  dataChannelCipher?: string;
}

/** A ROUTING_TABLE row. */
export interface OpenvpnStatusRoute {
  virtualAddress: string;
  commonName: string;
  realAddress: string;
  /** `Last Ref (time_t)`. */
  lastRef: number;
}

/** `status 3` in server mode: TAB-separated TITLE/TIME/HEADER/CLIENT_LIST/ROUTING_TABLE/GLOBAL_STATS. */
export interface OpenvpnServerStatus {
  mode: 'server';
  title: string;
  /** `TIME` in seconds since the epoch. */
  time: number;
  clients: OpenvpnStatusClient[];
  routes: OpenvpnStatusRoute[];
  /** GLOBAL_STATS rows by name (`Max bcast/mcast queue length`, `dco_enabled`…). */
  globalStats: Record<string, string>;
}

export type OpenvpnStatus = OpenvpnP2pStatus | OpenvpnServerStatus;
