// An openvpn stand-in for tests: a real UNIX socket speaking the management protocol, with the replies
// openvpn 2.6.14 gave in the lab (p2p mode) as defaults. Like openvpn, it greets with `>INFO:`, handles
// one connection's commands strictly in order, answers unknown commands with `ERROR: unknown command`,
// and drops the session when the client half-closes. Handlers may return notification lines (`>…`)
// among the reply rows: that is how interleaving is tested.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Reply lines (without CRLF), or hang up instead of answering, or stay silent. */
export type FakeManagementReply = readonly string[] | { hangUp: true } | { silent: true };

export type FakeManagementHandler = (
  command: string,
  connection: FakeManagementConnection,
) => FakeManagementReply | Promise<FakeManagementReply>;

export interface FakeManagementServerOptions {
  /** Handlers by exact command line, on top of the defaults. */
  commands?: Record<string, FakeManagementHandler | readonly string[]>;
  /** The greeting line; `false` for none. */
  greeting?: string | false;
  /** Writes every reply one byte at a time (tests reassembly over real socket reads). */
  byteByByte?: boolean;
}

export const OPENVPN_GREETING = ">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info";

/** openvpn 2.6.14's answers in p2p mode, captured from a real pair. */
export const P2P_DEFAULT_REPLIES: Record<string, readonly string[]> = {
  state: ['1795345208,CONNECTED,SUCCESS,10.99.0.1,127.0.0.1,1195,127.0.0.1,1194', 'END'],
  'state on': ['SUCCESS: real-time state notification set to ON'],
  'state off': ['SUCCESS: real-time state notification set to OFF'],
  'state on all': [
    'SUCCESS: real-time state notification set to ON',
    '1795345207,CONNECTING,,,,,,',
    '1795345207,ASSIGN_IP,,10.99.0.1,,,,',
    '1795345207,WAIT,,,,,,',
    '1795345207,AUTH,,,,,,',
    '1795345208,CONNECTED,SUCCESS,10.99.0.1,127.0.0.1,1195,127.0.0.1,1194',
    'END',
  ],
  'log on': ['SUCCESS: real-time log notification set to ON'],
  'log off': ['SUCCESS: real-time log notification set to OFF'],
  'log on all': [
    'SUCCESS: real-time log notification set to ON',
    '1795345207,I,OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [PKCS11] [MH/PKTINFO] [AEAD] [DCO]',
    '1795345207,,MANAGEMENT: unix domain socket listening on /tmp/ovlab/m1/a.sock',
    '1795345207,I,[site-b] Peer Connection Initiated with [AF_INET]127.0.0.1:1195',
    "1795345208,D,MANAGEMENT: CMD 'log on all'",
    'END',
  ],
  'status 3': [
    'OpenVPN STATISTICS',
    'Updated,2026-11-22 11:00:12',
    'TUN/TAP read bytes,96',
    'TUN/TAP write bytes,48',
    'TCP/UDP read bytes,2111',
    'TCP/UDP write bytes,2110',
    'Auth read bytes,48',
    'END',
  ],
  'bytecount 0': ['SUCCESS: bytecount interval changed'],
  'bytecount 1': ['SUCCESS: bytecount interval changed'],
  'hold release': ['SUCCESS: hold release succeeded'],
  'signal SIGUSR1': ['SUCCESS: signal SIGUSR1 thrown'],
  'signal SIGHUP': ['SUCCESS: signal SIGHUP thrown'],
  version: [
    'OpenVPN Version: OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [PKCS11] [MH/PKTINFO] [AEAD] [DCO]',
    'Management Version: 5',
    'END',
  ],
};

/** openvpn 2.6.14's `status 3` in server mode (two clients with the same certificate, --duplicate-cn). */
export const SERVER_STATUS_3: readonly string[] = [
  'TITLE\tOpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [PKCS11] [MH/PKTINFO] [AEAD] [DCO]',
  'TIME\t2026-11-22 11:00:27\t1795345227',
  'HEADER\tCLIENT_LIST\tCommon Name\tReal Address\tVirtual Address\tVirtual IPv6 Address\tBytes Received\tBytes Sent\tConnected Since\tConnected Since (time_t)\tUsername\tClient ID\tPeer ID\tData Channel Cipher',
  'CLIENT_LIST\tsite-b\t127.0.0.1:45166\t10.98.0.3\t\t2190\t2063\t2026-11-22 11:00:25\t1795345225\tUNDEF\t1\t1\tAES-256-GCM',
  'CLIENT_LIST\tsite-b\t127.0.0.1:57969\t10.98.0.2\t\t2189\t2063\t2026-11-22 11:00:25\t1795345225\tUNDEF\t0\t0\tAES-256-GCM',
  'HEADER\tROUTING_TABLE\tVirtual Address\tCommon Name\tReal Address\tLast Ref\tLast Ref (time_t)',
  'ROUTING_TABLE\t10.98.0.2\tsite-b\t127.0.0.1:57969\t2026-11-22 11:00:25\t1795345225',
  'ROUTING_TABLE\t10.98.0.3\tsite-b\t127.0.0.1:45166\t2026-11-22 11:00:25\t1795345225',
  'GLOBAL_STATS\tMax bcast/mcast queue length\t0',
  'GLOBAL_STATS\tdco_enabled\t0',
  'END',
];

export class FakeManagementConnection {
  private chain: Promise<void> = Promise.resolve();
  private rest = '';

  constructor(
    readonly id: number,
    readonly socket: Socket,
    private readonly server: FakeManagementServer,
  ) {}

  /** Sends lines (CRLF added), e.g. notifications: `connection.send('>STATE:…')`. */
  send(...lines: string[]): void {
    this.sendRaw(Buffer.from(lines.map((l) => `${l}\r\n`).join('')));
  }

  /** Writes bytes as they are: for split-chunk and malformed-input tests. */
  sendRaw(bytes: Uint8Array): void {
    if (this.socket.destroyed) return;
    if (!this.server.byteByByte) {
      this.socket.write(bytes);
      return;
    }
    for (const byte of bytes) this.socket.write(Uint8Array.of(byte));
  }

  hangUp(): void {
    this.socket.destroy();
  }

  /** @internal */
  onData(chunk: Buffer): void {
    const lines = (this.rest + chunk.toString('utf8')).split('\n');
    this.rest = lines.pop() ?? '';
    for (const raw of lines) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      this.chain = this.chain.then(() => this.handle(line)).catch(() => this.hangUp());
    }
  }

  private async handle(line: string): Promise<void> {
    this.server.received.push(line);
    const handler = this.server.handler(line);
    const reply = handler
      ? await handler(line, this)
      : [`ERROR: unknown command [${line.split(' ')[0] ?? ''}], enter 'help' for more options`];
    if ('hangUp' in reply) this.hangUp();
    else if ('silent' in reply) return;
    else this.send(...reply);
  }
}

export class FakeManagementServer {
  /** Every command line received, in order, over all connections. */
  readonly received: string[] = [];
  readonly connections: FakeManagementConnection[] = [];
  readonly byteByByte: boolean;
  private readonly commands = new Map<string, FakeManagementHandler>();
  private waiters: ((c: FakeManagementConnection) => void)[] = [];

  private constructor(
    private readonly server: Server,
    private readonly dir: string,
    readonly path: string,
    private readonly options: FakeManagementServerOptions,
  ) {
    this.byteByByte = options.byteByByte ?? false;
    for (const [line, reply] of Object.entries(P2P_DEFAULT_REPLIES)) this.on(line, reply);
    for (const [line, reply] of Object.entries(options.commands ?? {})) this.on(line, reply);
  }

  /** Listens on a socket in a fresh temporary directory. */
  static async start(options: FakeManagementServerOptions = {}): Promise<FakeManagementServer> {
    const dir = await mkdtemp(join(tmpdir(), 'weft-fake-ovpn-mgmt-'));
    const path = join(dir, 'mgmt.sock');
    const server = createServer();
    const fake = new FakeManagementServer(server, dir, path, options);
    server.on('connection', (socket) => fake.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, resolve);
    });
    return fake;
  }

  /** Sets the reply to one exact command line. */
  on(line: string, reply: FakeManagementHandler | readonly string[]): void {
    this.commands.set(line, typeof reply === 'function' ? reply : () => reply);
  }

  /** @internal */
  handler(line: string): FakeManagementHandler | undefined {
    return this.commands.get(line);
  }

  /** The next connection (or the latest one already made). */
  connection(): Promise<FakeManagementConnection> {
    const last = this.connections.at(-1);
    if (last && !last.socket.destroyed) return Promise.resolve(last);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Sends lines to every open connection. */
  notify(...lines: string[]): void {
    for (const c of this.connections) c.send(...lines);
  }

  /** Stops listening, drops connections, removes the temporary directory. */
  async close(): Promise<void> {
    for (const c of this.connections) c.hangUp();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.dir, { recursive: true, force: true });
  }

  private accept(socket: Socket): void {
    const connection = new FakeManagementConnection(this.connections.length + 1, socket, this);
    this.connections.push(connection);
    socket.on('data', (chunk: Buffer) => connection.onData(chunk));
    // openvpn 2.6 drops the session when the client half-closes (LAB-NOTES); so does the fake.
    socket.on('end', () => socket.destroy());
    socket.on('error', () => undefined);
    if (this.options.greeting !== false) connection.send(this.options.greeting ?? OPENVPN_GREETING);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w(connection);
  }
}
