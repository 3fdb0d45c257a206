// Test doubles for code built on @weft/core (import from '@weft/core/testing').
export { FakeNetlink, MemorySysctl, type FakeNetlinkCall } from './fake-netlink.js';
export {
  addVeth,
  assertInsideThrowawayNetns,
  deleteLinkIfPresent,
  ip,
  ipJson,
  waitForItem,
} from './kernel-helpers.js';
export { HeldNetns, linkNetns, waitUntil } from './netns-lab.js';
export { FakeClock } from './fake-clock.js';
export { SeededRandom } from './seeded-random.js';
export {
  createMulticastLab,
  G1,
  G2,
  type Deliveries,
  type MulticastLab,
} from '../multicast/multicast.lab.js';
