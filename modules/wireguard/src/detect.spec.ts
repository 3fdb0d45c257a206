import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detectImplementation } from './detect.js';
import { WireGuardUnavailableError } from './errors.js';
import { FakeLinks } from './testing/fake-links.js';
import { FakeWireGuardGoRunner } from './testing/fake-wireguard-go.js';

function setup(kernel: boolean, installed: boolean): { links: FakeLinks; runner: FakeWireGuardGoRunner } {
  const links = new FakeLinks();
  links.kernelWireGuard = kernel;
  const runner = new FakeWireGuardGoRunner('/nonexistent', links);
  runner.installed = installed;
  return { links, runner };
}

void describe('detectImplementation', () => {
  void it('kernel when a throw-away wireguard link can be created, and deletes it', async () => {
    const { links, runner } = setup(true, true);
    const d = await detectImplementation(runner, { links, probeName: 'wgprobe1' });
    assert.equal(d.kind, 'kernel');
    assert.deepEqual(links.calls, ['add wgprobe1 type wireguard', 'del wgprobe1']);
    assert.equal(links.links.size, 0);
  });

  void it('userspace when the kernel says "Unknown device type" and wireguard-go is installed', async () => {
    const { links, runner } = setup(false, true);
    const d = await detectImplementation(runner, { links });
    assert.equal(d.kind, 'userspace');
    assert.match(d.reason, /Unknown device type.*\/usr\/bin\/wireguard-go/);
  });

  void it('an error saying what to install when neither is there', async () => {
    const { links, runner } = setup(false, false);
    await assert.rejects(
      detectImplementation(runner, { links }),
      (err: Error) => err instanceof WireGuardUnavailableError && /install wireguard-go/i.test(err.message),
    );
  });

  void it('honours a forced choice, and fails clearly when it is missing', async () => {
    const both = setup(true, true);
    assert.equal(
      (await detectImplementation(both.runner, { links: both.links, implementation: 'userspace' })).kind,
      'userspace',
    );
    assert.deepEqual(both.links.calls, [], 'no probe when userspace is forced');
    const noKernel = setup(false, true);
    await assert.rejects(
      detectImplementation(noKernel.runner, { links: noKernel.links, implementation: 'kernel' }),
      (err: Error) =>
        err instanceof WireGuardUnavailableError && /forced to 'kernel'.*CONFIG_WIREGUARD/.test(err.message),
    );
    const noGo = setup(true, false);
    await assert.rejects(
      detectImplementation(noGo.runner, { links: noGo.links, implementation: 'userspace' }),
      /forced to 'userspace'.*apt install wireguard-go/,
    );
  });

  void it('a leftover probe link proves kernel support and is removed', async () => {
    const { links, runner } = setup(true, false);
    links.add('wgprobe2', 'wireguard');
    assert.equal((await detectImplementation(runner, { links, probeName: 'wgprobe2' })).kind, 'kernel');
    assert.equal(links.links.has('wgprobe2'), false);
  });
});
