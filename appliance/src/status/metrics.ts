// Status as Prometheus text exposition (format 0.0.4): what a scraper graphs and alerts on — link
// states and bytes, multicast group counters, reconciler drift corrections. Pure.
import type { Schemas } from '@weft/api-spec';

const LINK_STATES = ['up', 'connecting', 'down', 'disabled', 'unavailable'] as const;
const GROUP_STATES = ['forwarding', 'waiting', 'disabled', 'unavailable'] as const;

/** A label value with `\`, `"` and newlines escaped as the format wants. */
const escape = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labels = (l: Record<string, string>): string =>
  `{${Object.entries(l)
    .map(([k, v]) => `${k}="${escape(v)}"`)
    .join(',')}}`;

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: { labels: Record<string, string>; value: number }[];
}

export function renderMetrics(status: Schemas['Status']): string {
  const links = status.links;
  const groups = status.multicast ?? [];
  const families: Family[] = [
    {
      name: 'weft_link_state',
      help: 'Link state: 1 for the state the link is in, 0 for the others.',
      type: 'gauge',
      samples: links.flatMap((l) =>
        LINK_STATES.map((s) => ({
          labels: { link: l.name, type: l.type, state: s },
          value: l.state === s ? 1 : 0,
        })),
      ),
    },
    {
      name: 'weft_link_receive_bytes_total',
      help: 'Bytes received through the link, as its tunnel counts them.',
      type: 'counter',
      samples: links.map((l) => ({ labels: { link: l.name, type: l.type }, value: l.rx_bytes ?? 0 })),
    },
    {
      name: 'weft_link_transmit_bytes_total',
      help: 'Bytes sent through the link, as its tunnel counts them.',
      type: 'counter',
      samples: links.map((l) => ({ labels: { link: l.name, type: l.type }, value: l.tx_bytes ?? 0 })),
    },
    {
      name: 'weft_multicast_group_state',
      help: 'Multicast group state: 1 for the state the group is in, 0 for the others.',
      type: 'gauge',
      samples: groups.flatMap((g) =>
        GROUP_STATES.map((s) => ({
          labels: { name: g.name, group: g.group, state: s },
          value: g.state === s ? 1 : 0,
        })),
      ),
    },
    {
      name: 'weft_multicast_packets_total',
      help: 'Packets of the multicast group forwarded by this appliance.',
      type: 'counter',
      samples: groups.map((g) => ({ labels: { name: g.name, group: g.group }, value: g.packets })),
    },
    {
      name: 'weft_multicast_bytes_total',
      help: 'Bytes of the multicast group forwarded by this appliance.',
      type: 'counter',
      samples: groups.map((g) => ({ labels: { name: g.name, group: g.group }, value: g.bytes })),
    },
    {
      name: 'weft_multicast_wrong_interface_total',
      help: 'Packets of the group that arrived by another interface than its from (not forwarded).',
      type: 'counter',
      samples: groups.map((g) => ({ labels: { name: g.name, group: g.group }, value: g.wrong_interface })),
    },
    {
      name: 'weft_reconciler_drift_corrections_total',
      help: 'Times the reconciler put the kernel or a daemon back to the applied revision.',
      type: 'counter',
      samples: [{ labels: {}, value: status.reconciler.drift_corrections ?? 0 }],
    },
  ];
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      lines.push(`${f.name}${Object.keys(s.labels).length > 0 ? labels(s.labels) : ''} ${s.value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
