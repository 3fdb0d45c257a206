// Typed commands of the openvpn 2.6 management interface on top of a ManagementSession. Each method
// names the reply shape openvpn uses for it (see management.message.ts); replies were checked against
// 2.6.14 (integration spec, fake server vectors).
import { InvalidArgumentError } from '@weft/core';
import { parseLogRow, parseStateRow } from './management.message.js';
import type {
  ManagementCallOptions,
  ManagementSession,
  ManagementSubscribeOptions,
  ManagementSubscription,
} from './management.session.js';
import { parseStatus } from './management.status.js';
import type { OpenvpnLogLine, OpenvpnState, OpenvpnStatus } from './management.types.js';

/** Signals the management `signal` command accepts. */
export type OpenvpnSignal = 'SIGHUP' | 'SIGTERM' | 'SIGUSR1' | 'SIGUSR2';

export interface OpenvpnByteCount {
  /** Present for `>BYTECOUNT_CLI:` (server mode). */
  clientId?: number;
  bytesIn: number;
  bytesOut: number;
}

export class ManagementClient {
  constructor(readonly session: ManagementSession) {}

  /** `state`: the current state (openvpn's last state row). */
  async state(options?: ManagementCallOptions): Promise<OpenvpnState> {
    const { rows } = await this.session.command('state', 'list', options);
    const last = rows.at(-1);
    if (last === undefined) throw new InvalidArgumentError('openvpn answered `state` without a row');
    return parseStateRow(last);
  }

  /**
   * `state on` (or `state on all`): turns on `>STATE:` notifications for this connection. With
   * `history`, returns the states so far, oldest first.
   */
  async stateOn(options: ManagementCallOptions & { history?: boolean } = {}): Promise<OpenvpnState[]> {
    if (!options.history) {
      await this.session.command('state on', 'single', options);
      return [];
    }
    const { rows } = await this.session.command('state on all', 'single-then-list', options);
    return rows.map(parseStateRow);
  }

  /** `status 3`: statistics (p2p, client) or the client list and routing table (server). */
  async status(options?: ManagementCallOptions): Promise<OpenvpnStatus> {
    const { rows } = await this.session.command('status 3', 'list', options);
    return parseStatus(rows);
  }

  /** `bytecount N`: a `>BYTECOUNT:` (or one `>BYTECOUNT_CLI:` per client) every N seconds; 0 stops them. */
  async bytecount(intervalSeconds: number, options?: ManagementCallOptions): Promise<void> {
    if (!Number.isSafeInteger(intervalSeconds) || intervalSeconds < 0) {
      throw new InvalidArgumentError(
        `bytecount interval must be a whole number of seconds ≥ 0, got ${intervalSeconds}`,
      );
    }
    await this.session.command(`bytecount ${intervalSeconds}`, 'single', options);
  }

  /** `log on` (or `log on all`): turns on `>LOG:` notifications; with `history`, returns the log so far. */
  async logOn(options: ManagementCallOptions & { history?: boolean } = {}): Promise<OpenvpnLogLine[]> {
    if (!options.history) {
      await this.session.command('log on', 'single', options);
      return [];
    }
    const { rows } = await this.session.command('log on all', 'single-then-list', options);
    return rows.map(parseLogRow);
  }

  /** `log off`. */
  async logOff(options?: ManagementCallOptions): Promise<void> {
    await this.session.command('log off', 'single', options);
  }

  /** `hold release`: lets an openvpn started with --management-hold go on. */
  async holdRelease(options?: ManagementCallOptions): Promise<void> {
    await this.session.command('hold release', 'single', options);
  }

  /** `signal SIGUSR1` etc.: SIGUSR1 restarts the connection, SIGHUP re-reads the config, SIGTERM stops. */
  async signal(signal: OpenvpnSignal, options?: ManagementCallOptions): Promise<void> {
    await this.session.command(`signal ${signal}`, 'single', options);
  }

  /**
   * `kill <cn>` (server mode): disconnects every client with this common name; returns how many.
   * openvpn answers `ERROR: common name '…' not found` (→ not-found) and, in p2p mode, that the
   * command is not supported.
   */
  async kill(commonName: string, options?: ManagementCallOptions): Promise<number> {
    // openvpn splits the command line at blanks and takes quotes and backslashes as escapes: a common
    // name with any of them cannot be passed through unambiguously.
    if (commonName === '' || /[\s"'\\]/.test(commonName)) {
      throw new InvalidArgumentError(`cannot pass common name ${JSON.stringify(commonName)} to 'kill'`);
    }
    const { message } = await this.session.command(`kill ${commonName}`, 'single', options);
    const killed = /(\d+) client\(s\) killed/.exec(message);
    return killed?.[1] !== undefined ? Number(killed[1]) : 0;
  }

  // --- notifications ---

  /** `>STATE:` notifications (they flow once stateOn() was called). */
  states(options?: ManagementSubscribeOptions): ManagementSubscription<OpenvpnState> {
    return this.session.subscribe((n) => (n.type === 'state' ? n.state : undefined), options);
  }

  /** `>LOG:` notifications (they flow once logOn() was called). */
  logs(options?: ManagementSubscribeOptions): ManagementSubscription<OpenvpnLogLine> {
    return this.session.subscribe((n) => (n.type === 'log' ? n.log : undefined), options);
  }

  /** `>BYTECOUNT:` and `>BYTECOUNT_CLI:` (they flow once bytecount() set an interval). */
  byteCounts(options?: ManagementSubscribeOptions): ManagementSubscription<OpenvpnByteCount> {
    return this.session.subscribe((n) => {
      if (n.type === 'bytecount') return { bytesIn: n.bytesIn, bytesOut: n.bytesOut };
      if (n.type === 'bytecount-cli')
        return { clientId: n.clientId, bytesIn: n.bytesIn, bytesOut: n.bytesOut };
      return undefined;
    }, options);
  }
}
