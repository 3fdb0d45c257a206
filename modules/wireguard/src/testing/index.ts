// Test doubles for code built on @weft/wireguard (import from '@weft/wireguard/testing').
export { FakeConfigurer, type FakeConfigurerCall } from './fake-configurer.js';
export { FakeLinks } from './fake-links.js';
export {
  FakeUapiServer,
  type FakeUapiPeer,
  type FakeReply,
  type FakeUapiServerOptions,
} from './fake-uapi-server.js';
export { FakeWireGuardGoRunner, type FakeProcess } from './fake-wireguard-go.js';
export { NetnsProcessRunner } from './netns-runner.js';
