// A wireguard-go stand-in for tests: an in-memory device behind a real UNIX socket, speaking UAPI with
// wireguard-go's semantics (update_only, remove, replace_allowed_ips, replace_peers, negative errno).
import { createServer, type Server, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';

export interface FakeUapiPeer {
  publicKeyHex: string;
  presharedKeyHex: string;
  endpoint: string | undefined;
  persistentKeepalive: number;
  allowedIps: string[];
  lastHandshakeSec: number;
  rxBytes: number;
  txBytes: number;
}

export interface FakeUapiServerOptions {
  /**
   * Replaces the device: the raw reply to send, or `{ hangUp: true }` (with a `reply`, say a truncated
   * one, to send first).
   */
  respond?: (request: string) => FakeReply;
}

/** A raw reply, or hang up (after sending `reply`, if given). */
export type FakeReply = string | { hangUp: true; reply?: string };

const ZERO = '0'.repeat(64);
const EINVAL = 22;

export class FakeUapiServer {
  privateKeyHex = ZERO;
  listenPort = 0;
  fwmark = 0;
  readonly peers = new Map<string, FakeUapiPeer>();
  /** Every request received, raw. */
  readonly requests: string[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly path: string,
    private readonly server: Server,
    private readonly options: FakeUapiServerOptions,
  ) {}

  static async listen(path: string, options: FakeUapiServerOptions = {}): Promise<FakeUapiServer> {
    const server = createServer();
    const fake = new FakeUapiServer(path, server, options);
    server.on('connection', (socket) => fake.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, resolve);
    });
    return fake;
  }

  /** Stops answering. `leaveSocketFile` imitates SIGKILL, which leaves the file behind. */
  async close(options: { leaveSocketFile?: boolean } = {}): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (!options.leaveSocketFile) await rm(this.path, { force: true });
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      buffer += text;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const request = buffer.slice(0, end + 2);
        buffer = buffer.slice(end + 2);
        this.requests.push(request);
        const reply = this.options.respond ? this.options.respond(request) : this.handle(request);
        if (typeof reply === 'object') {
          if (reply.reply === undefined) socket.destroy();
          else socket.end(reply.reply);
          return;
        }
        socket.write(reply);
      }
    });
  }

  private handle(request: string): FakeReply {
    if (request === 'get=1\n\n') return `${this.dump()}errno=0\n\n`;
    if (request.startsWith('set=1\n'))
      return `errno=${this.set(
        request
          .slice(6, -2)
          .split('\n')
          .filter((l) => l !== ''),
      )}\n\n`;
    return { hangUp: true }; // wireguard-go hangs up on an unknown operation
  }

  private dump(): string {
    const lines: string[] = [];
    if (this.privateKeyHex !== ZERO) lines.push(`private_key=${this.privateKeyHex}`);
    lines.push(`listen_port=${this.listenPort}`);
    if (this.fwmark !== 0) lines.push(`fwmark=${this.fwmark}`);
    for (const p of this.peers.values()) {
      lines.push(`public_key=${p.publicKeyHex}`, `preshared_key=${p.presharedKeyHex}`, 'protocol_version=1');
      if (p.endpoint !== undefined) lines.push(`endpoint=${p.endpoint}`);
      lines.push(
        `last_handshake_time_sec=${p.lastHandshakeSec}`,
        'last_handshake_time_nsec=0',
        `tx_bytes=${p.txBytes}`,
        `rx_bytes=${p.rxBytes}`,
        `persistent_keepalive_interval=${p.persistentKeepalive}`,
        ...p.allowedIps.map((ip) => `allowed_ip=${ip}`),
      );
    }
    return lines.map((l) => `${l}\n`).join('');
  }

  /** Returns the errno to answer (0 or negative, like wireguard-go). */
  private set(lines: string[]): number {
    let peer: FakeUapiPeer | undefined;
    let skipping = false;
    for (const line of lines) {
      const eq = line.indexOf('=');
      const key = line.slice(0, eq);
      const value = line.slice(eq + 1);
      if (key === 'public_key') {
        if (!/^[0-9a-f]{64}$/.test(value)) return -EINVAL;
        skipping = false;
        peer = this.peers.get(value);
        if (!peer) {
          peer = {
            publicKeyHex: value,
            presharedKeyHex: ZERO,
            endpoint: undefined,
            persistentKeepalive: 0,
            allowedIps: [],
            lastHandshakeSec: 0,
            rxBytes: 0,
            txBytes: 0,
          };
          this.peers.set(value, peer);
          (peer as FakeUapiPeer & { created?: boolean }).created = true;
        } else delete (peer as FakeUapiPeer & { created?: boolean }).created;
        continue;
      }
      if (peer === undefined) {
        switch (key) {
          case 'private_key':
            if (!/^[0-9a-f]{64}$/.test(value)) return -EINVAL;
            this.privateKeyHex = value;
            break;
          case 'listen_port':
            this.listenPort = Number(value);
            break;
          case 'fwmark':
            this.fwmark = Number(value);
            break;
          case 'replace_peers':
            this.peers.clear();
            break;
          default:
            return -EINVAL;
        }
        continue;
      }
      if (skipping) continue;
      switch (key) {
        case 'update_only':
          if ((peer as FakeUapiPeer & { created?: boolean }).created) {
            this.peers.delete(peer.publicKeyHex);
            skipping = true;
          }
          break;
        case 'remove':
          this.peers.delete(peer.publicKeyHex);
          skipping = true;
          break;
        case 'preshared_key':
          peer.presharedKeyHex = value;
          break;
        case 'endpoint':
          peer.endpoint = value;
          break;
        case 'persistent_keepalive_interval':
          peer.persistentKeepalive = Number(value);
          break;
        case 'replace_allowed_ips':
          peer.allowedIps = [];
          break;
        case 'allowed_ip':
          if (!/^[0-9a-f.:]+\/\d+$/.test(value)) return -EINVAL;
          for (const other of this.peers.values())
            other.allowedIps = other.allowedIps.filter((ip) => ip !== value);
          peer.allowedIps.push(value);
          break;
        case 'protocol_version':
          break;
        default:
          return -EINVAL;
      }
    }
    return 0;
  }
}
