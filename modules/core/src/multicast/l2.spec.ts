import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../errors.js';
import { renderL2Nft, validateL2Desired, type L2Desired } from './l2.js';

const segment = (extra: Partial<L2Desired> = {}): L2Desired => ({
  vni: 42,
  port: 4789,
  local: '10.1.0.1',
  lan: 'lan0',
  mtu: 1370,
  peers: ['10.2.0.1', '10.3.0.1'],
  groups: ['224.0.0.0/24'],
  broadcast: false,
  ...extra,
});

void describe('renderL2Nft', () => {
  void it('dups the groups from the LAN to weft-l2 and forwards only them from weft-l2 to the LAN', () => {
    assert.equal(
      renderL2Nft(segment({ groups: ['239.255.255.250', '224.0.0.0/24'], broadcast: true })),
      `table netdev weft_l2 {}
delete table netdev weft_l2
table netdev weft_l2 {
\tchain from_lan {
\t\ttype filter hook ingress device "lan0" priority filter; policy accept;
\t\tip daddr { 224.0.0.0/24, 239.255.255.250/32 } dup to "weft-l2" comment "to the other sites"
\t\tip daddr 255.255.255.255 dup to "weft-l2" comment "to the other sites"
\t}

\tchain from_sites {
\t\ttype filter hook ingress device "weft-l2" priority filter; policy accept;
\t\tip daddr { 224.0.0.0/24, 239.255.255.250/32 } fwd to "lan0" comment "to this LAN"
\t\tip daddr 255.255.255.255 fwd to "lan0" comment "to this LAN"
\t\tdrop comment "nothing else from the segment"
\t}
}
`,
    );
  });

  void it('refuses an invalid segment, listing every problem by field', () => {
    assert.deepEqual(
      validateL2Desired(
        segment({
          vni: 0,
          local: 'x',
          peers: ['10.1.0.1', '10.9.0.1', '10.9.0.1'],
          groups: ['10.0.0.0/8'],
          mtu: 100,
        }),
      ),
      [
        'vni: 0 is not a VXLAN network identifier of 1 to 16777215',
        'local: "x" is not an IPv4 address',
        'mtu: 100 is not an MTU of 576 to 65535',
        'peers[2]: 10.9.0.1 is named twice',
        'groups[0]: "10.0.0.0/8" is not an IPv4 group or range inside 224.0.0.0/4',
      ],
    );
    assert.deepEqual(validateL2Desired(segment({ local: '10.2.0.1' })), [
      "peers[0]: 10.2.0.1 is this site's own end",
    ]);
    assert.deepEqual(validateL2Desired(segment({ groups: [], peers: [] })), [
      'peers: name at least one far end',
      'groups: name at least one group, or carry broadcasts',
    ]);
    assert.throws(() => renderL2Nft(segment({ vni: 0 })), InvalidArgumentError);
  });
});
