// Typed views of what charon answers over VICI. Every view keeps `raw`, the decoded message, for fields
// not modelled here (strongSwan README "Server-issued events" lists them all).
import type { ViciSection } from './vici.message.js';

export interface ViciVersion {
  daemon: string;
  version: string;
  sysname: string;
  release: string;
  machine: string;
}

export interface ViciStats {
  uptime: { running: string; since: string };
  workers: { total: number; idle: number };
  scheduledJobs: number;
  ikeSas: { total: number; halfOpen: number };
  plugins: string[];
  raw: ViciSection;
}

export interface ViciChildSa {
  /** The CHILD_SA config name (charon keys the section `<name>-<uniqueid>`). */
  name: string;
  uniqueId: number | undefined;
  reqid: number | undefined;
  /** INSTALLED, REKEYING, DELETING… */
  state: string;
  mode: string | undefined;
  protocol: string | undefined;
  encap: boolean;
  spiIn: string | undefined;
  spiOut: string | undefined;
  encrAlg: string | undefined;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  installTimeSeconds: number | undefined;
  localTs: string[];
  remoteTs: string[];
  raw: ViciSection;
}

export interface ViciIkeSa {
  /** The IKE_SA config name. */
  name: string;
  uniqueId: number | undefined;
  version: number | undefined;
  /** CREATED, CONNECTING, ESTABLISHED, REKEYING, DELETING… */
  state: string;
  localHost: string | undefined;
  localPort: number | undefined;
  localId: string | undefined;
  remoteHost: string | undefined;
  remotePort: number | undefined;
  remoteId: string | undefined;
  initiator: boolean;
  natLocal: boolean;
  natRemote: boolean;
  natAny: boolean;
  encrAlg: string | undefined;
  establishedSeconds: number | undefined;
  childSas: ViciChildSa[];
  raw: ViciSection;
}

export interface ViciConnChild {
  name: string;
  mode: string | undefined;
  localTs: string[];
  remoteTs: string[];
}

export interface ViciConn {
  name: string;
  localAddrs: string[];
  remoteAddrs: string[];
  /** IKEv1, IKEv2, or 0 for any. */
  version: string | undefined;
  children: ViciConnChild[];
  raw: ViciSection;
}

export interface ViciLogLine {
  group: string;
  level: number;
  thread: number | undefined;
  ikeSaName: string | undefined;
  ikeSaUniqueId: number | undefined;
  message: string;
}

export interface ViciIkeUpdown {
  /** charon omits `up` on a down transition (5.9.8); absent means down. */
  up: boolean;
  ikeSa: ViciIkeSa;
}

export interface ViciChildUpdown {
  up: boolean;
  ikeSa: ViciIkeSa;
  /** The CHILD_SA that changed (charon sends exactly one). */
  childSa: ViciChildSa | undefined;
}

export interface ViciIkeRekey {
  name: string;
  old: ViciIkeSa;
  new: ViciIkeSa;
}

export interface ViciChildRekey {
  ikeSa: ViciIkeSa;
  old: ViciChildSa;
  new: ViciChildSa;
}

/** A shared secret for load-shared. `data` is secret: it never appears in errors or logs. */
export interface ViciSharedSecret {
  /** Unique identifier, required for unload-shared. */
  id?: string;
  type: 'IKE' | 'EAP' | 'XAUTH' | 'NTLM' | 'PPK';
  data: string | Uint8Array;
  owners: readonly string[];
}

export interface ViciCertificate {
  type: 'X509' | 'X509_AC' | 'X509_CRL' | 'OCSP_RESPONSE' | 'PUBKEY';
  flag?: 'NONE' | 'CA' | 'AA' | 'OCSP';
  /** PEM or DER. */
  data: string | Uint8Array;
}

/** A private key for load-key. `data` is secret: it never appears in errors or logs. */
export interface ViciPrivateKey {
  type: 'rsa' | 'ecdsa' | 'ed25519' | 'ed448' | 'any';
  /** PEM or DER. */
  data: string | Uint8Array;
}

export interface ViciInitiateRequest {
  child?: string;
  ike?: string;
  /** charon's own wait before it answers; 0 waits for the outcome, -1 answers at once. */
  timeoutMs?: number;
  initLimits?: boolean;
  /** Control-log verbosity, -1…4 (default charon's: 1). */
  logLevel?: number;
}

export interface ViciTerminateRequest {
  child?: string;
  ike?: string;
  childId?: number;
  ikeId?: number;
  force?: boolean;
  timeoutMs?: number;
  logLevel?: number;
}
