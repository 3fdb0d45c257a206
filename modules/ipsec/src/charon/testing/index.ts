// Test doubles for charon supervision (not re-exported by the product barrel).
export { FakeCharonSystem, type FakeCharonBehaviour, type FakeCharonProcess } from './fake-charon.js';
export { FakeClock } from './fake-clock.js';
