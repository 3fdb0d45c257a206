// A charon stand-in for tests: a real UNIX socket speaking VICI, built on the client's own codec layers
// (their golden byte vectors pin those down independently). Like charon, it handles one connection's
// packets strictly in order, sends events only to connections registered for them, answers unknown
// commands with CMD_UNKNOWN and unknown events with EVENT_UNKNOWN.
import { createServer, type Server, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { decodeMessage, encodeMessage, type ViciInput, type ViciSection } from '../vici/vici.message.js';
import { decodePacket, encodePacket, type ViciPacket } from '../vici/vici.packet.js';
import { encodeFrame, FrameDecoder } from '../vici/vici.transport.js';

/** What a command handler answers: a response message, a bare CMD_UNKNOWN, or hang up. */
export type FakeViciReply = ViciInput | { unknown: true } | { hangUp: true };

export type FakeViciHandler = (
  request: ViciSection,
  connection: FakeViciConnection,
) => FakeViciReply | Promise<FakeViciReply>;

export interface FakeViciServerOptions {
  /** Command handlers by name, on top of a default `version`. */
  commands?: Record<string, FakeViciHandler>;
  /** Event names a client may register for; default the ones charon 5.9 knows. */
  events?: readonly string[];
}

/** A packet the server received, with its message decoded. */
export interface FakeViciReceived {
  connection: number;
  type: ViciPacket['type'];
  name: string | undefined;
  message: ViciSection | undefined;
}

const CHARON_EVENTS = [
  'log',
  'control-log',
  'ike-updown',
  'child-updown',
  'ike-rekey',
  'child-rekey',
  'ike-state-change',
  'child-state-change',
  'list-sa',
  'list-conn',
  'list-policy',
  'list-cert',
  'list-authority',
];

export class FakeViciConnection {
  readonly registered = new Set<string>();
  private chain: Promise<void> = Promise.resolve();
  private readonly decoder = new FrameDecoder();

  constructor(
    readonly id: number,
    readonly socket: Socket,
    private readonly server: FakeViciServer,
  ) {}

  /** Sends `event` if this connection registered for it (as charon does); returns whether it did. */
  emit(event: string, message: ViciInput): boolean {
    if (!this.registered.has(event)) return false;
    this.sendPacket({ type: 'event', name: event, message: encodeMessage(message) });
    return true;
  }

  sendPacket(packet: ViciPacket): void {
    this.sendRaw(encodeFrame(encodePacket(packet)));
  }

  /** Writes bytes as they are (no framing added): for malformed-input tests. */
  sendRaw(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  hangUp(): void {
    this.socket.destroy();
  }

  /** @internal */
  onData(chunk: Buffer): void {
    for (const frame of this.decoder.push(chunk)) {
      this.chain = this.chain.then(() => this.handle(frame)).catch(() => this.hangUp());
    }
  }

  private async handle(frame: Buffer): Promise<void> {
    const packet = decodePacket(frame);
    const message = packet.type === 'cmd-request' ? decodeMessage(packet.message) : undefined;
    const name = 'name' in packet ? packet.name : undefined;
    this.server.received.push({ connection: this.id, type: packet.type, name, message });
    switch (packet.type) {
      case 'cmd-request': {
        const handler = this.server.commands.get(packet.name);
        if (!handler) {
          this.sendPacket({ type: 'cmd-unknown' });
          return;
        }
        const reply = await handler(message ?? {}, this);
        if ('hangUp' in reply && reply.hangUp === true) this.hangUp();
        else if ('unknown' in reply && reply.unknown === true) this.sendPacket({ type: 'cmd-unknown' });
        else this.sendPacket({ type: 'cmd-response', message: encodeMessage(reply) });
        return;
      }
      case 'event-register':
        if (!this.server.events.has(packet.name)) {
          this.sendPacket({ type: 'event-unknown' });
          return;
        }
        this.registered.add(packet.name);
        this.sendPacket({ type: 'event-confirm' });
        return;
      case 'event-unregister':
        if (!this.registered.delete(packet.name)) {
          this.sendPacket({ type: 'event-unknown' });
          return;
        }
        this.sendPacket({ type: 'event-confirm' });
        return;
      case 'cmd-response':
      case 'cmd-unknown':
      case 'event-confirm':
      case 'event-unknown':
      case 'event':
        this.hangUp(); // a server packet from a client: charon drops such a connection
    }
  }
}

export class FakeViciServer {
  readonly commands = new Map<string, FakeViciHandler>();
  readonly events: Set<string>;
  /** Every packet received, in order, over all connections. */
  readonly received: FakeViciReceived[] = [];
  readonly connections: FakeViciConnection[] = [];
  private nextId = 1;

  private constructor(
    readonly path: string,
    private readonly server: Server,
    options: FakeViciServerOptions,
  ) {
    this.events = new Set(options.events ?? CHARON_EVENTS);
    this.commands.set('version', () => ({
      daemon: 'charon',
      version: '5.9.8',
      sysname: 'Linux',
      release: '6.18.0',
      machine: 'x86_64',
    }));
    for (const [name, handler] of Object.entries(options.commands ?? {})) this.commands.set(name, handler);
  }

  static async listen(path: string, options: FakeViciServerOptions = {}): Promise<FakeViciServer> {
    const server = createServer();
    const fake = new FakeViciServer(path, server, options);
    server.on('connection', (socket) => {
      const connection = new FakeViciConnection(fake.nextId++, socket, fake);
      fake.connections.push(connection);
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => {
        try {
          connection.onData(chunk);
        } catch {
          socket.destroy();
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, resolve);
    });
    return fake;
  }

  /** Sends `event` to every connection registered for it; returns how many got it. */
  emit(event: string, message: ViciInput): number {
    return this.connections.filter((c) => !c.socket.destroyed && c.emit(event, message)).length;
  }

  /** Received packets of one type (and name). */
  receivedOf(type: ViciPacket['type'], name?: string): FakeViciReceived[] {
    return this.received.filter((r) => r.type === type && (name === undefined || r.name === name));
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.path, { force: true });
  }
}
