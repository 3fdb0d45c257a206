// Start-up and shut-down order: modules start → first token → active revision re-applied → ready;
// then drift checks run on a timer and whenever a module reports a change behind our back.
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { TokenService } from './auth/token.service.js';
import { BOOT_CONFIG, type BootConfig } from './boot/boot-config.js';
import { Clock, type TimerHandle } from './common/clock.js';
import { describeError } from './common/errors.js';
import { ConfigService } from './desired-state/config.service.js';
import { DesiredStateStore } from './desired-state/desired-state.store.js';
import { MODULE_DRIVERS, type ModuleDriver } from './reconciler/module-driver.js';
import { StatusService } from './status/status.service.js';

/** A burst of kernel notifications (ours included) becomes one drift check after this quiet time. */
const DRIFT_DEBOUNCE_MS = 300;
/** How often link states are read to publish `link.state` events. */
const LINK_POLL_MS = 2_000;

@Injectable()
export class LifecycleService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: TimerHandle | undefined;
  private linkPoll: TimerHandle | undefined;
  private polling = false;
  private debounce: TimerHandle | undefined;
  private stopping = false;

  constructor(
    @Inject(BOOT_CONFIG) private readonly boot: BootConfig,
    @Inject(MODULE_DRIVERS) private readonly drivers: ModuleDriver[],
    @Inject(DesiredStateStore) private readonly store: DesiredStateStore,
    private readonly tokens: TokenService,
    private readonly config: ConfigService,
    private readonly status: StatusService,
    private readonly clock: Clock,
    @InjectPinoLogger(LifecycleService.name) private readonly log: PinoLogger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const d of this.drivers) {
      await d.start();
      this.log.info({ module: d.name, detail: d.detail() }, 'module started');
    }
    const token = this.tokens.bootstrap();
    if (token) {
      // Printed once, on first start only; the same secret is in the 0600 file.
      process.stdout.write(`\nWeft admin API token (also in ${this.tokens.adminTokenFile}):\n  ${token}\n\n`);
    }
    await this.config.resume();
    this.status.ready = true;
    this.timer = this.clock.every(this.boot.driftIntervalSeconds * 1000, () =>
      this.scheduleDriftCheck('timer', 0),
    );
    for (const d of this.drivers) if (d.changes) void this.follow(d);
    this.linkPoll = this.clock.every(LINK_POLL_MS, () => void this.pollLinks());
  }

  private async pollLinks(): Promise<void> {
    if (this.polling || this.stopping) return;
    this.polling = true;
    try {
      await this.status.pollLinkStates();
    } catch (err) {
      this.log.warn({ err: describeError(err) }, 'link state poll failed');
    } finally {
      this.polling = false;
    }
  }

  private async follow(driver: ModuleDriver): Promise<void> {
    const changes = driver.changes?.();
    if (!changes) return;
    try {
      for await (const what of changes) {
        if (this.stopping) break;
        this.scheduleDriftCheck(`${driver.name}: ${what}`, DRIFT_DEBOUNCE_MS);
      }
    } catch (err) {
      if (!this.stopping)
        this.log.error({ module: driver.name, err: describeError(err) }, 'change watch ended');
    }
  }

  private scheduleDriftCheck(trigger: string, delayMs: number): void {
    if (this.stopping) return;
    this.debounce?.cancel();
    this.debounce = this.clock.after(delayMs, () => {
      this.debounce = undefined;
      void this.config.correctDrift(trigger);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.timer?.cancel();
    this.linkPoll?.cancel();
    this.debounce?.cancel();
    for (const d of [...this.drivers].reverse()) {
      try {
        await d.stop();
      } catch (err) {
        this.log.warn({ module: d.name, err: describeError(err) }, 'module stop failed');
      }
    }
    this.store.close();
  }
}
