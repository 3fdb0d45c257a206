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
