// Golden byte vectors for the packet layer (strongSwan vici README, "Packet layer").
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ViciEncodeError, ViciParseError } from './vici.errors.js';
import { encodeMessage } from './vici.message.js';
import { decodePacket, encodePacket, type ViciPacket } from './vici.packet.js';

const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];
const msg = encodeMessage({ k: 'v' }); // 3, 1, 'k', 0, 1, 'v'

const vectors: Array<[string, ViciPacket, number[]]> = [
  [
    'CMD_REQUEST',
    { type: 'cmd-request', name: 'version', message: Buffer.alloc(0) },
    [0, 7, ...ascii('version')],
  ],
  [
    'CMD_REQUEST with a message',
    { type: 'cmd-request', name: 'unload-conn', message: encodeMessage({ name: 'a' }) },
    [0, 11, ...ascii('unload-conn'), 3, 4, ...ascii('name'), 0, 1, ...ascii('a')],
  ],
  ['CMD_RESPONSE', { type: 'cmd-response', message: msg }, [1, 3, 1, ...ascii('k'), 0, 1, ...ascii('v')]],
  ['an empty CMD_RESPONSE', { type: 'cmd-response', message: Buffer.alloc(0) }, [1]],
  ['CMD_UNKNOWN', { type: 'cmd-unknown' }, [2]],
  ['EVENT_REGISTER', { type: 'event-register', name: 'list-sa' }, [3, 7, ...ascii('list-sa')]],
  ['EVENT_UNREGISTER', { type: 'event-unregister', name: 'log' }, [4, 3, ...ascii('log')]],
  ['EVENT_CONFIRM', { type: 'event-confirm' }, [5]],
  ['EVENT_UNKNOWN', { type: 'event-unknown' }, [6]],
  [
    'EVENT',
    { type: 'event', name: 'ike-updown', message: msg },
    [7, 10, ...ascii('ike-updown'), 3, 1, ...ascii('k'), 0, 1, ...ascii('v')],
  ],
];

describe('VICI packets', () => {
  for (const [what, packet, bytes] of vectors) {
    it(`encodes and decodes ${what}`, () => {
      assert.deepEqual([...encodePacket(packet)], bytes);
      assert.deepEqual(decodePacket(Buffer.from(bytes)), packet);
    });
  }

  it('refuses a name over 255 bytes', () => {
    assert.throws(() => encodePacket({ type: 'event-register', name: 'e'.repeat(256) }), ViciEncodeError);
  });

  const malformed: Array<[string, number[]]> = [
    ['an empty packet', []],
    ['type 8', [8]],
    ['type 255', [255]],
    ['a named packet without its name length', [0]],
    ['a truncated name', [7, 5, ...ascii('lo')]],
    ['a CMD_UNKNOWN with a body', [2, 0]],
    ['an EVENT_CONFIRM with a body', [5, 1, 2]],
    ['an EVENT_UNKNOWN with a body', [6, 0]],
    ['an EVENT_REGISTER with a message', [3, 1, ...ascii('x'), 3]],
  ];
  for (const [what, bytes] of malformed) {
    it(`rejects ${what} with ViciParseError`, () => {
      assert.throws(() => decodePacket(Buffer.from(bytes)), ViciParseError);
    });
  }
});
