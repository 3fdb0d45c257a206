// Test doubles for @weft/openvpn.
export {
  FakeManagementServer,
  FakeManagementConnection,
  OPENVPN_GREETING,
  P2P_DEFAULT_REPLIES,
  SERVER_STATUS_3,
  type FakeManagementHandler,
  type FakeManagementReply,
  type FakeManagementServerOptions,
} from './fake-management-server.js';
export { SeededRandom } from './seeded-random.js';
export { FakeClock } from './fake-clock.js';
export {
  FakeOpenvpnSystem,
  FakeManagementLink,
  type FakeOpenvpnBehaviour,
  type FakeOpenvpnProcess,
} from './fake-openvpn.js';
