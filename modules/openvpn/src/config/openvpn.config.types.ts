// What one openvpn process is asked to be: a typed spec the renderer turns into a config file. Secrets
// (PEM private key, tls-crypt key) travel in the spec as text and end up in 0600 files next to the config,
// which only names their paths (openvpnFiles() lists what to write).

/** The data ciphers openvpn may negotiate; the first both ends have wins. */
export const OPENVPN_DATA_CIPHERS = ['AES-256-GCM', 'CHACHA20-POLY1305', 'AES-128-GCM'] as const;
export type OpenvpnDataCipher = (typeof OPENVPN_DATA_CIPHERS)[number];
/** Weft's default order: AES-GCM (AES-NI) first, ChaCha20 for CPUs without it. */
export const DEFAULT_DATA_CIPHERS: readonly OpenvpnDataCipher[] = ['AES-256-GCM', 'CHACHA20-POLY1305'];

/** X.509 material from the appliance CA, as PEM text. */
export interface OpenvpnCredentials {
  /** The CA that issued the peer's certificate (may hold several certificates). */
  caPem: string;
  certPem: string;
  keyPem: string;
}

/**
 * The control-channel wrapping key. `v1` is one shared `OpenVPN Static key V1` (both ends, or every
 * spoke and the hub); `v2-server` / `v2-client` are tls-crypt-v2 keys (hub only: one server key, a
 * client key per spoke, made by `openvpn --genkey tls-crypt-v2-…`).
 */
export type OpenvpnTlsCrypt =
  { kind: 'v1'; key: string } | { kind: 'v2-server'; key: string } | { kind: 'v2-client'; key: string };

/** Both ends of the underlay socket. `address` is an IP literal or a DNS name (remote only). */
export interface OpenvpnEndpoint {
  host: string;
  port: number;
}

export interface OpenvpnKeepalive {
  /** `ping`: seconds between pings when nothing else was sent (default 10). */
  intervalSeconds: number;
  /** `ping-restart`: seconds without a packet from the peer before a reconnect (default 60). */
  timeoutSeconds: number;
}

/** Settings every kind of instance has. */
export interface OpenvpnCommonSpec {
  /** The instance name: file names, log lines, `setenv WEFT_INSTANCE` ([a-z0-9-], 1–40). */
  name: string;
  /** The TUN device (`dev`), ≤ 15 bytes. */
  device: string;
  credentials: OpenvpnCredentials;
  tlsCrypt: OpenvpnTlsCrypt;
  /**
   * The underlay's MTU toward the peer (the smallest on the path, the same on both ends): tun-mtu and
   * mssfix are derived from it (mtu.ts). Default 1500.
   */
  underlayMtu?: number;
  /** The underlay's address family (the outer header size differs). Default `inet`. */
  underlayFamily?: 'inet' | 'inet6';
  /** Data channel offload. The caller resolves `auto` (detectDco) before rendering. */
  dco: boolean;
  dataCiphers?: readonly OpenvpnDataCipher[];
  keepalive?: OpenvpnKeepalive;
  /** `hand-window`: seconds a TLS handshake may take before it fails and is reported (default 30). */
  handWindowSeconds?: number;
  /** Routes openvpn installs into the tun (IPv4 prefixes). Weft's core may install them instead. */
  routes?: readonly string[];
  /** `verb`, 0–6 (default 3). */
  verbosity?: number;
}

/**
 * A point-to-point link: one process per link on each side. `listen` is the TLS server and binds
 * `local.port`; `connect` is the TLS client. Either may name `remote`: a listener without it accepts its
 * peer from any address (the first authenticated one, then `float`).
 */
export interface OpenvpnP2pSpec extends OpenvpnCommonSpec {
  kind: 'p2p';
  role: 'listen' | 'connect';
  /** Bind address/port. A connector without a local port uses `nobind` (any source port). */
  local?: { address?: string; port?: number };
  remote?: OpenvpnEndpoint;
  /** The tunnel's addresses: `ifconfig <local> <remote>` (IPv4). */
  tunnel: { local: string; remote: string };
  /** The peer certificate's common name (`verify-x509-name <cn> name`). */
  peerCommonName: string;
}

/** A spoke as the hub sees it: its certificate's CN, its fixed tunnel address and its LAN prefixes. */
export interface OpenvpnSpoke {
  commonName: string;
  /** Fixed tunnel address inside the hub's subnet (`ifconfig-push`). */
  tunnelAddress: string;
  /** The spoke's site subnets (`iroute`), IPv4 prefixes. */
  subnets: readonly string[];
  /**
   * The CA that must have issued this spoke's certificate (PEM; several blocks for a chain or a CA
   * rollover). Without it, any CA the hub trusts could issue a certificate with this common name and get
   * this spoke's ccd entry (its tunnel address and iroutes). With it, the hub refuses a certificate with
   * this common name whose issuer is not one of the bound CAs: those certificates of the bundle that issued
   * no other certificate of it (the bottom of a chain). Each of them must also be trusted
   * (credentials.caPem). When one spoke of a hub has it, every spoke must (no half-bound hub).
   */
  caPem?: string;
}

/** The hub: one server process for every spoke. */
export interface OpenvpnHubServerSpec extends OpenvpnCommonSpec {
  kind: 'hub-server';
  local: { address?: string; port: number };
  /** The tunnel subnet (`topology subnet`); the hub takes `serverAddress` in it. */
  tunnel: { subnet: string; serverAddress: string };
  spokes: readonly OpenvpnSpoke[];
  /**
   * How spoke-to-spoke traffic goes: `kernel` (default) hands it up to the tun so the hub's routing and
   * firewall see it, then back down to the spoke whose iroute matches; `client-to-client` forwards it
   * inside openvpn.
   */
  spokeToSpoke?: 'kernel' | 'client-to-client';
  /**
   * `max-clients` (default: the number of spokes; with `caPath`, every address of the tunnel subnet, so a
   * spoke added while the server runs is not refused).
   */
  maxClients?: number;
  /**
   * Trust the spokes' CAs through a hashed directory (`capath <layout.caDir>`, one file per CA plus the
   * `openssl rehash` links) instead of one `ca` file. OpenSSL looks a CA up in it at each handshake, so
   * a spoke with a new CA can be added to the running server (OpenvpnSupervisor.applySpokes): no restart,
   * no other spoke's session lost. openvpn 2.6 then warns `unable to get certificate CRL` per handshake
   * and accepts (integration spec).
   */
  caPath?: boolean;
}

/** A spoke: a client of the hub. The hub pushes its tunnel address. */
export interface OpenvpnHubClientSpec extends OpenvpnCommonSpec {
  kind: 'hub-client';
  remote: OpenvpnEndpoint;
  /** The hub certificate's common name. */
  hubCommonName: string;
}

/**
 * What changes when a running hub server gets a new spec that differs in its spokes only (and the CAs
 * they bring): hubSpokesChange() makes it, OpenvpnSupervisor.applySpokes() applies it.
 */
export interface OpenvpnHubSpokesChange {
  /** New common names: their ccd entries are written (and their CAs trusted) before they connect. */
  added: OpenvpnSpoke[];
  /** Gone: their ccd entries are deleted (ccd-exclusive then refuses them) and their sessions killed. */
  removed: OpenvpnSpoke[];
  /** Same common name, new address or subnets: entry rewritten, session killed so it reconnects with it. */
  changed: OpenvpnSpoke[];
  /** Spoke subnets the hub routes into its tun now, and those it no longer does. */
  routesAdded: string[];
  routesRemoved: string[];
  /** The set of trusted CA certificates differs: the capath directory is rewritten and rehashed. */
  caChanged: boolean;
  /** The (common name, bound CA) pairs differ: the tls-verify allow-list (layout.spokeCaBindings) is rewritten. */
  bindingsChanged: boolean;
}

export type OpenvpnSpec = OpenvpnP2pSpec | OpenvpnHubServerSpec | OpenvpnHubClientSpec;
export type OpenvpnSpecKind = OpenvpnSpec['kind'];

/** Where an instance's files live; made by openvpnLayout() so every path comes from the safe set. */
export interface OpenvpnLayout {
  /** The instance's private directory (0700). */
  dir: string;
  config: string;
  ca: string;
  cert: string;
  key: string;
  tlsCrypt: string;
  /** Hub server only: the client-config-dir. */
  ccdDir: string;
  /** Hub server with `caPath` only: the hashed CA directory (`capath`). */
  caDir: string;
  /** Hub server with bound spokes only: the `tls-verify` script (0700), see renderTlsVerifyScript(). */
  tlsVerifyScript: string;
  /** Hub server with bound spokes only: the script's allow-list, `<common name> <issuer sha256>` lines (0600). */
  spokeCaBindings: string;
  managementSocket: string;
  /** stdout/stderr of openvpn (its log; no `log` directive, so early errors land there too). */
  log: string;
  /** The PID of the openvpn we started (ours, not openvpn's `writepid`). */
  pidFile: string;
}

/** One file to write before openvpn starts: 0600, or 0700 for the one script openvpn executes. */
export interface OpenvpnFile {
  path: string;
  text: string;
  mode: 0o600 | 0o700;
}
