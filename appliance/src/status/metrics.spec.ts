import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Schemas } from '@weft/api-spec';
import { renderMetrics } from './metrics.js';

const status = (extra: Partial<Schemas['Status']> = {}): Schemas['Status'] =>
  ({
    appliance: { name: 'a', version: '0', started_at: '2026-12-04T00:00:00.000Z' },
    reconciler: { state: 'idle', drift_corrections: 3 },
    modules: [],
    links: [{ name: 'to-b', type: 'wireguard', state: 'up', rx_bytes: 120, tx_bytes: 80 }],
    ...extra,
  }) as Schemas['Status'];

void describe('renderMetrics', () => {
  void it('renders link states and bytes, and drift corrections, with HELP and TYPE', () => {
    const text = renderMetrics(status());
    assert.ok(text.endsWith('\n'));
    assert.match(text, /^# HELP weft_link_state .*\n# TYPE weft_link_state gauge\n/);
    assert.match(text, /\nweft_link_state\{link="to-b",type="wireguard",state="up"\} 1\n/);
    assert.match(text, /\nweft_link_state\{link="to-b",type="wireguard",state="down"\} 0\n/);
    assert.match(text, /\nweft_link_receive_bytes_total\{link="to-b",type="wireguard"\} 120\n/);
    assert.match(text, /\nweft_link_transmit_bytes_total\{link="to-b",type="wireguard"\} 80\n/);
    assert.match(text, /\nweft_reconciler_drift_corrections_total 3\n/);
    assert.doesNotMatch(text, /weft_multicast_packets_total\{/);
  });

  void it('renders each multicast group’s counters and state, escaping label values', () => {
    const text = renderMetrics(
      status({
        multicast: [
          {
            name: 'g"1',
            group: '239.1.1.1',
            state: 'forwarding',
            packets: 7,
            bytes: 210,
            wrong_interface: 2,
            senders: [],
          },
        ],
      }),
    );
    assert.match(text, /\nweft_multicast_packets_total\{name="g\\"1",group="239\.1\.1\.1"\} 7\n/);
    assert.match(text, /\nweft_multicast_bytes_total\{name="g\\"1",group="239\.1\.1\.1"\} 210\n/);
    assert.match(text, /\nweft_multicast_wrong_interface_total\{name="g\\"1",group="239\.1\.1\.1"\} 2\n/);
    assert.match(
      text,
      /\nweft_multicast_group_state\{name="g\\"1",group="239\.1\.1\.1",state="forwarding"\} 1\n/,
    );
    assert.match(
      text,
      /\nweft_multicast_group_state\{name="g\\"1",group="239\.1\.1\.1",state="waiting"\} 0\n/,
    );
  });
});
