// A hub that binds each spoke's common name to the CA that must issue it (spoke `caPem` → tls-verify),
// against the real openvpn 2.6.14. As in openvpn.supervisor.int-spec.ts: this file runs in a network
// namespace of its own (the test runner's `unshare --net`), each site is one more namespace held by a
// `sleep`, each openvpn runs there through the supervisor's launcher, and every wait is on a condition.
//
// The attack it closes: the hub trusts every spoke's CA, so spoke 2's CA could issue a certificate with
// spoke 1's common name and get spoke 1's ccd entry (its tunnel address, its iroutes). Also here: the
// rendered script on its own under /bin/sh, with environments a hostile certificate could produce.
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CommandError, NodeProcessRunner } from '@weft/core';
import { assertInsideThrowawayNetns } from '@weft/core/testing';
import { openvpnFiles, openvpnFingerprint } from '../config/openvpn.config.js';
import type {
  OpenvpnHubClientSpec,
  OpenvpnHubServerSpec,
  OpenvpnSpoke,
} from '../config/openvpn.config.types.js';
import { openvpnLayout } from '../config/openvpn.layout.js';
import { generateTlsCryptKey } from '../config/tls-crypt.key.js';
import { linkNamespaces, Netns, TestCa, type TestCredentials } from '../testing/netns-lab.js';
import { systemClock, waitFor } from './openvpn.clock.js';
import { NodeOpenvpnHost } from './openvpn.host.js';
import { OpenvpnSupervisor, type OpenvpnEvent } from './openvpn.supervisor.js';

const processes = new NodeProcessRunner();
const host = new NodeOpenvpnHost();
const fingerprint = (caPem: string): string => openvpnFingerprint(new X509Certificate(caPem));

interface Site {
  ns: Netns;
  supervisor: OpenvpnSupervisor;
  events: OpenvpnEvent[];
}

void describe('hub spokes bound to their CAs (integration, real openvpn 2.6.14)', () => {
  let dir: string;
  const cas: TestCa[] = [];
  const namespaces: Netns[] = [];
  const supervisors: OpenvpnSupervisor[] = [];
  const tlsCryptKey = generateTlsCryptKey((n) => randomBytes(n));
  const common = {
    tlsCrypt: { kind: 'v1' as const, key: tlsCryptKey },
    dco: false,
    device: 'ovpn-bind',
    keepalive: { intervalSeconds: 1, timeoutSeconds: 5 },
    handWindowSeconds: 5,
  };
  let hubCa: TestCa;
  let ca1: TestCa;
  let ca2: TestCa;
  let ca3: TestCa;
  let hubSpec: OpenvpnHubServerSpec;
  let hub: Site;
  let nsHub: Netns;
  const ns = new Map<string, Netns>();

  const until = async (
    what: string,
    condition: () => Promise<boolean> | boolean,
    timeoutMs = 30_000,
  ): Promise<number> => {
    const t0 = Date.now();
    await waitFor(systemClock, async () => condition(), {
      timeoutMs,
      intervalMs: 100,
      onTimeout: () => new Error(`${what} did not happen within ${timeoutMs} ms`),
    });
    return Date.now() - t0;
  };
  const supervise = (where: Netns, spec: OpenvpnHubServerSpec | OpenvpnHubClientSpec): Site => {
    const events: OpenvpnEvent[] = [];
    const supervisor = new OpenvpnSupervisor({
      processes,
      host,
      spec,
      layout: openvpnLayout({ runtimeDir: join(dir, 'run'), name: spec.name }),
      launcher: where.launcher,
      onEvent: (e) => events.push(e),
      restartBackoff: { initialMs: 200, maxMs: 1000 },
    });
    supervisors.push(supervisor);
    return { ns: where, supervisor, events };
  };
  /** A spoke's openvpn in namespace `site`, with `credentials` (any CA, any CN) and the hub's CA. */
  const spoke = (name: string, site: string, credentials: TestCredentials, hubAddress: string): Site => {
    const where = ns.get(site);
    assert.ok(where, site);
    return supervise(where, {
      ...common,
      kind: 'hub-client',
      name,
      credentials: { ...credentials, caPem: hubCa.caPem },
      remote: { host: hubAddress, port: 1194 },
      hubCommonName: 'hub-bound',
    });
  };
  const hubLayout = () => openvpnLayout({ runtimeDir: join(dir, 'run'), name: 'hub-bound' });
  const hubLog = async (): Promise<string> => (await host.readText(hubLayout().log)) ?? '';
  const entry = (n: number, caPem: string): OpenvpnSpoke => ({
    commonName: `spoke-${n}`,
    tunnelAddress: `10.220.0.${10 + n}`,
    subnets: [`10.${30 + n}.0.0/16`],
    caPem,
  });
  const logs = async (): Promise<void> => {
    for (const s of supervisors) {
      const l = openvpnLayout({ runtimeDir: join(dir, 'run'), name: s.name });
      console.log((await host.tail(l.log, 30)).map((x) => `# ${s.name}: ${x}`).join('\n'));
    }
  };

  before(async () => {
    assertInsideThrowawayNetns();
    dir = await mkdtemp(join(tmpdir(), 'weft-ovpn-bind-'));
    // CAs trusted together need subjects of their own (capath looks them up by subject).
    hubCa = await TestCa.create(processes, 'weft-bind-ca-hub');
    ca1 = await TestCa.create(processes, 'weft-bind-ca-1');
    ca2 = await TestCa.create(processes, 'weft-bind-ca-2');
    ca3 = await TestCa.create(processes, 'weft-bind-ca-3');
    cas.push(hubCa, ca1, ca2, ca3);
    nsHub = await Netns.create(processes, 'hub');
    namespaces.push(nsHub);
    // One namespace per client site, each on a /30 of its own to the hub.
    for (const [i, site] of ['s1', 's2', 'rogue'].entries()) {
      const n = await Netns.create(processes, site);
      namespaces.push(n);
      ns.set(site, n);
      await linkNamespaces(
        processes,
        { ns: nsHub, name: `bh${i}`, address: `198.51.100.${4 * i + 1}/30` },
        { ns: n, name: `bu${i}`, address: `198.51.100.${4 * i + 2}/30` },
      );
    }
    hubSpec = {
      ...common,
      kind: 'hub-server',
      name: 'hub-bound',
      caPath: true,
      credentials: { ...(await hubCa.issue('hub-bound')), caPem: `${ca1.caPem}${ca2.caPem}` },
      local: { port: 1194 },
      tunnel: { subnet: '10.220.0.0/24', serverAddress: '10.220.0.1' },
      spokes: [entry(1, ca1.caPem), entry(2, ca2.caPem)],
    };
    hub = supervise(nsHub, hubSpec);
  });

  after(async () => {
    for (const s of supervisors) await s.stop().catch(() => undefined);
    for (const n of namespaces) await n.destroy().catch(() => undefined);
    for (const c of cas) await c.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  let s1: Site;
  let s2: Site;

  void it('(a) spoke 1 (CA 1) and spoke 2 (CA 2), both bound, connect and ping the hub', async () => {
    await hub.supervisor.start();
    const layout = hubLayout();
    assert.equal((await stat(layout.tlsVerifyScript)).mode & 0o777, 0o700);
    assert.equal((await stat(layout.spokeCaBindings)).mode & 0o777, 0o600);
    for (const f of openvpnFiles(hubSpec, layout).filter((x) => !x.path.startsWith(`${layout.caDir}/`))) {
      assert.equal((await stat(f.path)).mode & 0o777, f.mode, f.path);
    }
    s1 = spoke('bind-1', 's1', await ca1.issue('spoke-1'), '198.51.100.1');
    s2 = spoke('bind-2', 's2', await ca2.issue('spoke-2'), '198.51.100.5');
    await Promise.all([s1.supervisor.start(), s2.supervisor.start()]);
    await until('spoke 1 → hub', () => s1.ns.ping('10.220.0.1')).catch(async (e: unknown) => {
      await logs();
      throw e;
    });
    await until('spoke 2 → hub', () => s2.ns.ping('10.220.0.1'));
    const log = await hubLog();
    assert.match(log, /VERIFY SCRIPT OK: depth=0, CN=spoke-1/);
    assert.match(log, /VERIFY SCRIPT OK: depth=0, CN=spoke-2/);
    assert.doesNotMatch(log, /^weft: /m);
  });

  void it('(b) a certificate with CN spoke-1 from CA 2 is refused; the real spoke 1 keeps its session', async () => {
    const rogue = spoke('bind-rogue', 'rogue', await ca2.issue('spoke-1'), '198.51.100.9');
    await rogue.supervisor.start();
    const refusal = `weft: CN "spoke-1" is not issued by the CA bound to it (issuer sha256 ${fingerprint(ca2.caPem)})`;
    await until('the hub refuses the rogue spoke-1', async () => (await hubLog()).includes(refusal));
    const log = await hubLog();
    assert.match(log, /198\.51\.100\.10:\d+ VERIFY SCRIPT ERROR: depth=0, CN=spoke-1/);
    // Refused again on its next attempt, never in: no address, no ping, never CONNECTED.
    const refusals = (): Promise<number> => hubLog().then((t) => t.split(refusal).length - 1);
    await until('a second refusal', async () => (await refusals()) >= 2);
    assert.equal(await rogue.ns.ping('10.220.0.1'), false);
    assert.notEqual(rogue.supervisor.tunnelState?.name, 'CONNECTED');
    assert.doesNotMatch(
      await rogue.ns.run('ip', '-4', '-o', 'addr', 'show'),
      /10\.220\./,
      'no tunnel address',
    );
    assert.ok(await s1.ns.ping('10.220.0.1'), 'the real spoke 1 still pings');
    const status = await hub.supervisor.status();
    assert.equal(status.mode, 'server');
    if (status.mode === 'server') {
      const one = status.clients.filter((c) => c.commonName === 'spoke-1');
      assert.deepEqual(
        one.map((c) => [c.realAddress.replace(/:\d+$/, ''), c.virtualAddress]),
        [['198.51.100.2', '10.220.0.11']],
      );
    }
    assert.doesNotMatch(log, /MULTI: new connection by client 'spoke-1'/, 'no takeover of its session');
    await rogue.supervisor.stop();
  });

  void it('(c) applySpokes binds spoke 2 to CA 3 without a restart: its CA 2 certificate is refused, a CA 3 one gets in', async () => {
    const pid = hub.supervisor.pid;
    assert.ok(pid);
    const before = (await hubLog()).length;
    const next: OpenvpnHubServerSpec = {
      ...hubSpec,
      credentials: { ...hubSpec.credentials, caPem: `${ca1.caPem}${ca3.caPem}` },
      spokes: [entry(1, ca1.caPem), entry(2, ca3.caPem)],
    };
    const change = await hub.supervisor.applySpokes(next);
    assert.deepEqual(
      [change.changed.map((s) => s.commonName), change.bindingsChanged, change.caChanged],
      [['spoke-2'], true, true],
    );
    // The old spoke 2 was killed and comes back with its CA 2 certificate: the binding refuses it.
    // (OpenSSL keeps CA 2 cached from the earlier handshakes, so its chain still verifies: only the
    // binding stands between it and spoke 2's entry.)
    const refusal = `weft: CN "spoke-2" is not issued by the CA bound to it (issuer sha256 ${fingerprint(ca2.caPem)})`;
    await until('the old spoke 2 refused', async () =>
      (await hubLog()).slice(before).includes(refusal),
    ).catch(async (e: unknown) => {
      await logs();
      throw e;
    });
    await until('the old spoke 2 cut off', async () => !(await s2.ns.ping('10.220.0.1')));
    await s2.supervisor.stop();
    const t0 = Date.now();
    const renewed = spoke('bind-2-new', 's2', await ca3.issue('spoke-2'), '198.51.100.5');
    await renewed.supervisor.start();
    await until('spoke 2 with a CA 3 certificate → hub', () => renewed.ns.ping('10.220.0.1'));
    console.log(
      `# hub binding: spoke 2 re-bound to CA 3, its new certificate pings ${Date.now() - t0} ms after its start`,
    );
    assert.match(await renewed.ns.run('ip', '-o', 'addr', 'show', 'ovpn-bind'), /inet 10\.220\.0\.12\/24/);
    assert.ok(await s1.ns.ping('10.220.0.1'), 'spoke 1 untouched');
    assert.equal(hub.supervisor.pid, pid, 'the hub openvpn was not restarted');
    assert.ok(!hub.events.some((e) => e.type === 'exited' || e.type === 'restarted'));
    assert.match(await hubLog(), /VERIFY SCRIPT OK: depth=0, CN=spoke-2/);
  });

  void describe('the rendered script under /bin/sh, with what a certificate could put in its environment', () => {
    let script: string;
    let list: string;
    const marker = (): string => join(dir, 'injected');

    before(async () => {
      const layout = openvpnLayout({ runtimeDir: join(dir, 'sh'), name: 'hub-sh' });
      await host.ensurePrivateDir(layout.dir);
      const spec: OpenvpnHubServerSpec = { ...hubSpec, name: 'hub-sh' };
      for (const f of openvpnFiles(spec, layout)) {
        if (f.path === layout.tlsVerifyScript || f.path === layout.spokeCaBindings) {
          await host.writePrivate(f.path, f.text, f.mode);
        }
      }
      script = layout.tlsVerifyScript;
      list = layout.spokeCaBindings;
    });

    /** Runs the script as openvpn does (exec, its own environment only); exit code and stderr. */
    const verify = async (
      env: Record<string, string>,
      depth = '0',
    ): Promise<{ code: number | null; stderr: string }> => {
      const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
      try {
        const { stderr } = await processes.run('env', ['-i', ...vars, script, depth, 'CN=x'], {
          timeoutMs: 5000,
        });
        return { code: 0, stderr };
      } catch (err) {
        if (err instanceof CommandError) return { code: err.exitCode, stderr: err.stderr };
        throw err;
      }
    };
    const leaf = (
      cn: string,
      issuer: string,
      extra: Record<string, string> = {},
    ): Record<string, string> => ({
      common_name: cn,
      X509_0_CN: cn,
      tls_digest_sha256_1: issuer,
      ...extra,
    });

    void it('accepts the bound pair, and everything above the leaf', async () => {
      assert.deepEqual(await verify(leaf('spoke-1', fingerprint(ca1.caPem))), { code: 0, stderr: '' });
      assert.equal((await verify({}, '1')).code, 0);
      assert.equal((await verify(leaf('spoke-1', fingerprint(ca2.caPem)), '2')).code, 0);
    });

    void it('refuses another CA, an unknown name, two CNs, no or a malformed fingerprint, a missing list', async () => {
      const fp2 = fingerprint(ca2.caPem);
      assert.deepEqual(await verify(leaf('spoke-1', fp2)), {
        code: 1,
        stderr: `weft: CN "spoke-1" is not issued by the CA bound to it (issuer sha256 ${fp2})\n`,
      });
      assert.deepEqual(await verify(leaf('spoke-9', fp2)), {
        code: 1,
        stderr: `weft: CN "spoke-9" has no CA bound to it (issuer sha256 ${fp2})\n`,
      });
      // openvpn 2.6.14 names the session by the LAST CN (common_name) and exports the first as X509_0_CN.
      const two = await verify({
        common_name: 'spoke-1',
        X509_0_CN: 'spoke-2',
        X509_0_CN_1: 'spoke-1',
        tls_digest_sha256_1: fingerprint(ca1.caPem),
      });
      assert.deepEqual(two, {
        code: 1,
        stderr: 'weft: CN "spoke-1" refused: its certificate has more than one common name\n',
      });
      assert.equal((await verify({ common_name: 'spoke-1', X509_0_CN: 'spoke-1' })).code, 1);
      assert.equal((await verify(leaf('spoke-1', fingerprint(ca1.caPem).toUpperCase()))).code, 1);
      await rm(`${list}.away`, { force: true });
      await processes.run('mv', [list, `${list}.away`]);
      try {
        assert.equal((await verify(leaf('spoke-1', fingerprint(ca1.caPem)))).code, 1, 'fails closed');
      } finally {
        await processes.run('mv', [`${list}.away`, list]);
      }
    });

    void it('a hostile common name is refused before it is used: nothing runs, no line is forged', async () => {
      const fp1 = fingerprint(ca1.caPem);
      const hostile = [
        `spoke-1 ${fp1}`,
        `spoke-1\nspoke-1 ${fp1}`,
        `$(touch ${marker()})`,
        `\`touch ${marker()}\``,
        `spoke-1"; touch ${marker()}; "`,
        `spoke-1' -o 'x`,
        '*',
        '-e',
        '../ccd/spoke-1',
        '.spoke-1.weft-new',
        'x'.repeat(65),
        '',
      ];
      for (const cn of hostile) {
        const r = await verify(leaf(cn, fp1));
        assert.equal(r.code, 1, JSON.stringify(cn));
        assert.equal(
          r.stderr,
          'weft: refused a certificate whose common name is not a spoke name\n',
          JSON.stringify(cn),
        );
      }
      // A hostile fingerprint (openvpn computes it, but still): refused, not evaluated.
      const r = await verify(leaf('spoke-1', `$(touch ${marker()})`));
      assert.equal(r.code, 1);
      await assert.rejects(stat(marker()), /ENOENT/);
    });
  });
});
