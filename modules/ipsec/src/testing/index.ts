// Test doubles for @weft/ipsec (import from '@weft/ipsec/testing').
export {
  FakeViciConnection,
  FakeViciServer,
  type FakeViciHandler,
  type FakeViciReceived,
  type FakeViciReply,
  type FakeViciServerOptions,
} from './fake-vici-server.js';
export { SeededRandom } from './seeded-random.js';
// charon supervision: strict process/host doubles, a virtual clock, the private-/run launcher.
export * from '../charon/testing/index.js';
