// Observed state: reconciler, modules and links, read from the drivers (which read the kernel/daemons).
import { Inject, Injectable } from '@nestjs/common';
import type { Schemas } from '@weft/api-spec';
import { Clock } from '../common/clock.js';
import { EventBus } from '../events/event-bus.js';
import { NotFoundError } from '../common/errors.js';
import { ConfigService } from '../desired-state/config.service.js';
import type { NormalizedDocument } from '../desired-state/document.js';
import {
  MODULE_DRIVERS,
  type LinkStatus,
  type ModuleDriver,
  type MulticastGroupStatus,
} from '../reconciler/module-driver.js';
import { Reconciler } from '../reconciler/reconciler.js';
import { WEFT_VERSION } from '../version.js';

@Injectable()
export class StatusService {
  private readonly startedAt: string;
  private readonly lastStates = new Map<string, string>();
  ready = false;

  constructor(
    private readonly config: ConfigService,
    private readonly reconciler: Reconciler,
    @Inject(MODULE_DRIVERS) private readonly drivers: ModuleDriver[],
    private readonly events: EventBus,
    clock: Clock,
  ) {
    this.startedAt = clock.now().toISOString();
  }

  async links(doc: NormalizedDocument): Promise<LinkStatus[]> {
    const byName = new Map<string, LinkStatus>();
    for (const d of this.drivers) {
      if (d.linkTypes.length === 0) continue;
      for (const s of await d.linkStatus(doc)) byName.set(s.name, s);
    }
    return doc.links.map(
      (link) =>
        byName.get(link.name) ??
        (link.enabled === false
          ? {
              name: link.name,
              type: link.type,
              state: 'disabled',
              interface: null,
              rx_bytes: 0,
              tx_bytes: 0,
              diagnosis: null,
            }
          : {
              name: link.name,
              type: link.type,
              state: 'unavailable',
              interface: null,
              rx_bytes: 0,
              tx_bytes: 0,
              diagnosis: {
                code: 'no-driver',
                message: `this build has no ${link.type} driver: the link is stored but not set up`,
                fix: `install a Weft build with the ${link.type} module`,
              },
            }),
    );
  }

  /** Each multicast group with its state and counters, from the module that routes them. */
  async multicast(doc: NormalizedDocument): Promise<MulticastGroupStatus[]> {
    for (const d of this.drivers) if (d.multicastStatus) return d.multicastStatus(doc);
    return (doc.multicast?.groups ?? []).map((g) => ({
      name: g.name,
      group: g.group,
      state: 'unavailable',
      detail: 'this build has no multicast module',
      packets: 0,
      bytes: 0,
      wrong_interface: 0,
      senders: [],
    }));
  }

  /** Publishes a `link.state` event for every link whose state changed since the last poll. */
  async pollLinkStates(): Promise<void> {
    const doc = this.config.active().document;
    const seen = new Set<string>();
    for (const s of await this.links(doc)) {
      seen.add(s.name);
      const previous = this.lastStates.get(s.name);
      if (previous !== s.state) {
        this.lastStates.set(s.name, s.state);
        this.events.publish('link.state', {
          name: s.name,
          state: s.state,
          previous: previous ?? null,
          ...(s.diagnosis ? { diagnosis: s.diagnosis } : {}),
        });
      }
    }
    for (const name of [...this.lastStates.keys()]) if (!seen.has(name)) this.lastStates.delete(name);
  }

  async link(name: string): Promise<LinkStatus> {
    const doc = this.config.active().document;
    if (!doc.links.some((l) => l.name === name)) throw new NotFoundError(`no link named "${name}"`);
    const all = await this.links(doc);
    const found = all.find((s) => s.name === name);
    if (!found) throw new NotFoundError(`no status for link "${name}"`);
    return found;
  }

  async status(): Promise<Schemas['Status']> {
    const { document, revision } = this.config.active();
    const r = this.reconciler.status;
    return {
      appliance: {
        name: revision ? document.appliance.name : null,
        version: WEFT_VERSION,
        started_at: this.startedAt,
      },
      reconciler: {
        state: r.state,
        active_revision: revision?.number ?? null,
        applied_revision: r.appliedRevision,
        pending_confirm: revision?.state === 'pending-confirm' ? revision.number : null,
        last_apply_at: r.lastApplyAt,
        last_drift_check_at: r.lastDriftCheckAt,
        drift_corrections: r.driftCorrections,
        last_error: r.lastError,
      },
      modules: this.drivers.map((d) => ({ name: d.name, detail: d.detail() })),
      links: await this.links(document),
      ...((document.multicast?.groups ?? []).length > 0 ? { multicast: await this.multicast(document) } : {}),
    };
  }

  health(): { ok: boolean; body: Schemas['Health'] } {
    if (!this.ready)
      return { ok: false, body: { status: 'starting', detail: 'applying the active revision' } };
    const r = this.reconciler.status;
    const active = this.config.active().revision?.number ?? null;
    if (r.state === 'failed')
      return { ok: false, body: { status: 'degraded', detail: r.lastError ?? 'apply failed' } };
    if (r.appliedRevision !== active) {
      return { ok: false, body: { status: 'degraded', detail: `revision ${active} is not applied yet` } };
    }
    return { ok: true, body: { status: 'ok' } };
  }
}
