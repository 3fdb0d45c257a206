export { FakeClock } from '@weft/core/testing';
