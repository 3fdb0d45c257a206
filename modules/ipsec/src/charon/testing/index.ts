// Test doubles and fixtures for charon supervision (not re-exported by the product barrel; the testing
// barrel '@weft/ipsec/testing' does).
export { FakeCharonSystem, type FakeCharonBehaviour, type FakeCharonProcess } from './fake-charon.js';
export { FakeClock } from './fake-clock.js';
export { PRIVATE_RUN_LAUNCHER, PRIVATE_RUN_SCRIPT } from './private-run.js';
