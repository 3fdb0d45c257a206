// A third-party OpenVPN device linked to a Weft site from the exported `.ovpn`, then the doctor against
// deliberately broken copies of that file:
//
//   LAN a ── gw a (appliance, openvpn) ══ OpenVPN UDP, tls-crypt ══ gw b (stock `openvpn --config`) ── LAN b
//
// Site b's gateway runs no Weft link: the device is openvpn 2.6.14 started by hand in b's namespace with
// the exported file, its <cert>/<key> filled in with a certificate this test issues with strongSwan's
// `pki` from a CA of its own (a's link trusts that CA as remote_ca and the certificate's CN as
// remote_name). Each broken copy must be named in a's link status: cipher, tls-crypt key, dev tap,
// compression (comp-lzo by itself; compress lz4-v2 through the on-request check), tun-mtu (on request),
// a blocked port and a wrong port (with a dialing the device).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  applySiteSettings,
  caOf,
  diagnosisOf,
  Lab,
  linkStatus,
  ping,
  run,
  waitFor,
  type Json,
  type Site,
} from '../../lib/index.js';

const DEVICE_CN = 'device-b';
const LINK = 'dev-b';

/** A well-formed tls-crypt key that is not the link's. */
function otherTlsCryptKey(): string {
  const lines = Array.from({ length: 16 }, (_, i) => i.toString(16).padStart(2, '0').repeat(16));
  return ['-----BEGIN OpenVPN Static key V1-----', ...lines, '-----END OpenVPN Static key V1-----'].join(
    '\n',
  );
}

/** Replaces one whole option line (`name …`) of an .ovpn; fails when it is not there. */
function withOption(ovpn: string, name: string, replacement: string): string {
  const re = new RegExp(`^${name}( .*)?$`, 'm');
  assert.match(ovpn, re, `the exported file has ${name}`);
  return ovpn.replace(re, replacement);
}

describe(
  'OpenVPN: a third-party device from the exported .ovpn, and the doctor',
  { timeout: 240_000 },
  () => {
    let lab: Lab;
    let a: Site;
    let b: Site;
    let dir: string;
    let ovpn: string;
    let tunnelLocal: string;
    let device: ChildProcess | undefined;
    let runs = 0;

    /** A test CA and the device's certificate and key, with strongSwan's pki. */
    async function makeDevicePki(): Promise<{ ca: string; cert: string; key: string }> {
      const pki = async (args: string[], stdin?: string): Promise<string> =>
        (await run(['pki', ...args], stdin === undefined ? {} : { input: stdin })).stdout;
      const caKey = await pki(['--gen', '--type', 'ecdsa', '--size', '256', '--outform', 'pem']);
      await writeFile(join(dir, 'ca.key'), caKey, { mode: 0o600 });
      const ca = await pki([
        '--self',
        '--ca',
        '--lifetime',
        '2',
        '--in',
        join(dir, 'ca.key'),
        '--type',
        'ecdsa',
        '--dn',
        'CN=Weft e2e third-party CA',
        '--outform',
        'pem',
      ]);
      await writeFile(join(dir, 'ca.crt'), ca);
      const key = await pki(['--gen', '--type', 'ecdsa', '--size', '256', '--outform', 'pem']);
      await writeFile(join(dir, 'device.key'), key, { mode: 0o600 });
      const pub = await pki([
        '--pub',
        '--in',
        join(dir, 'device.key'),
        '--type',
        'ecdsa',
        '--outform',
        'pem',
      ]);
      const cert = await pki(
        [
          '--issue',
          '--lifetime',
          '2',
          '--cacert',
          join(dir, 'ca.crt'),
          '--cakey',
          join(dir, 'ca.key'),
          '--type',
          'pub',
          '--dn',
          `CN=${DEVICE_CN}`,
          '--outform',
          'pem',
        ],
        pub,
      );
      return { ca, cert, key };
    }

    /** Starts the device's openvpn in b's gateway namespace with `text` as its config. */
    async function startDevice(text: string): Promise<void> {
      assert.equal(device, undefined, 'one device at a time');
      const file = join(dir, `device-${++runs}.ovpn`);
      await writeFile(file, text, { mode: 0o600 });
      const log = openSync(join(dir, `device-${runs}.log`), 'a', 0o600);
      try {
        device = spawn('ip', ['netns', 'exec', b.netns, 'openvpn', '--config', file], {
          stdio: ['ignore', log, log],
          detached: true,
        });
      } finally {
        closeSync(log);
      }
      device.unref();
    }

    /** Ends the device's openvpn by its PID and waits for it to exit. */
    async function stopDevice(): Promise<void> {
      const d = device;
      device = undefined;
      if (d?.pid === undefined || d.exitCode !== null || d.signalCode !== null) return;
      // Keeps the test process alive until it has exited (it was unref'd while it ran).
      d.ref();
      const exited = new Promise((resolve) => d.once('exit', resolve));
      process.kill(d.pid, 'SIGTERM');
      await exited;
    }

    async function deviceLog(): Promise<string> {
      return readFile(join(dir, `device-${runs}.log`), 'utf8').catch(() => '');
    }

    /** Waits until a's link status names `code`, poking the tunnel with `traffic` meanwhile. */
    async function named(code: string, timeoutMs: number, traffic?: () => Promise<unknown>): Promise<Json> {
      try {
        return await waitFor(
          async () => {
            if (traffic) await traffic();
            return linkStatus(a, LINK);
          },
          {
            what: `link ${LINK} on a names ${code}`,
            until: (s) => diagnosisOf(s).code === code,
            timeoutMs,
            intervalMs: 300,
          },
        );
      } catch (err) {
        throw new Error(
          `${(err as Error).message}\nstatus: ${JSON.stringify(await linkStatus(a, LINK))}\ndevice log:\n${(await deviceLog()).slice(-3000)}`,
          { cause: err },
        );
      }
    }

    /** One packet from b's gateway toward a's end of the tunnel (across a tun, or an ARP on a tap). */
    const poke = (): Promise<unknown> =>
      b.exec(['ping', '-n', '-q', '-c', '1', '-W', '1', tunnelLocal]).catch(() => undefined);

    async function upBothWays(): Promise<void> {
      await waitFor(() => ping(b, a.lanHost), {
        what: 'LAN b pings LAN a through the device',
        timeoutMs: 30_000,
      });
      assert.ok(await ping(a, b.lanHost), 'and LAN a pings LAN b');
    }

    before(async () => {
      lab = await Lab.create({ sites: ['a', 'b'], name: 'openvpn-3p' });
      [a, b] = [lab.site('a'), lab.site('b')];
      await applySiteSettings(a);
      dir = join(b.dir, 'third-party');
      await mkdir(dir, { recursive: true, mode: 0o700 });
    });
    after(async () => {
      await stopDevice();
      await lab?.destroy();
    });

    it('the exported .ovpn, with a certificate of its own filled in, links a stock openvpn to site a', async () => {
      const own = await makeDevicePki();
      const made = await a.api.post('/links', {
        name: LINK,
        type: 'openvpn',
        remote_subnets: [b.lanPrefix],
        openvpn: { remote_ca: own.ca, remote_name: DEVICE_CN, keepalive_interval: 2, keepalive_timeout: 10 },
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const tunnel = String(((await a.api.get<Json>(`/links/${LINK}`)).body.openvpn as Json).tunnel_network);
      const [net] = tunnel.split('/');
      const parts = (net ?? '').split('.').map(Number);
      tunnelLocal = [...parts.slice(0, 3), (parts[3] ?? 0) + 1].join('.');

      const exported = await a.api.get<string>(`/links/${LINK}/peer-config?format=ovpn`);
      assert.equal(exported.status, 200, JSON.stringify(exported.body));
      assert.match(String(exported.headers['content-type']), /text\/plain/);
      ovpn = exported.body;
      const port = /^remote (\S+) (\d+)$/m.exec(ovpn);
      assert.equal(port?.[1], a.wanAddress, 'the device dials a');
      assert.ok(ovpn.includes(`<ca>\n${(await caOf(a)).trim()}\n</ca>`), "a's CA inline");
      assert.match(ovpn, /^<tls-crypt>\n(#.*\n)*-----BEGIN OpenVPN Static key V1-----/m);
      assert.match(ovpn, new RegExp(`^verify-x509-name ${a.wanAddress.replace(/\./g, '\\.')} name$`, 'm'));
      assert.match(ovpn, /^tls-client$/m);
      assert.match(ovpn, /^dev tun$/m);
      assert.match(ovpn, /^# disable-dco$/m);
      assert.doesNotMatch(ovpn, /^(comp-lzo|compress)/m);
      assert.match(ovpn, new RegExp(`common name \\(CN\\) "${DEVICE_CN}"`));
      // Viewers do not get it (it carries the tls-crypt key).
      const viewerToken = (await a.api.post<{ token: string }>('/tokens', { name: 'ro', role: 'viewer' }))
        .body.token;
      const asViewer = await a.api.get(`/links/${LINK}/peer-config?format=ovpn`, { token: viewerToken });
      assert.equal(asViewer.status, 403);

      // The device's own part, exactly where the header says.
      ovpn = ovpn
        .replace(/<cert>\n[^\n]*\n<\/cert>/, `<cert>\n${own.cert.trim()}\n</cert>`)
        .replace(/<key>\n[^\n]*\n<\/key>/, `<key>\n${own.key.trim()}\n</key>`);
      await startDevice(ovpn);
      await upBothWays();
      const status = await waitFor(() => linkStatus(a, LINK), {
        what: `${LINK} up`,
        until: (s) => s.state === 'up',
        timeoutMs: 10_000,
      });
      assert.match(String(status.endpoint), new RegExp(`^${b.wanAddress.replace(/\./g, '\\.')}:`));
      assert.equal(status.diagnosis, null);
    });

    it('data-ciphers AES-128-GCM on the device: cipher-mismatch', async () => {
      await stopDevice();
      await startDevice(withOption(ovpn, 'data-ciphers', 'data-ciphers AES-128-GCM'));
      const s = await named('cipher-mismatch', 30_000);
      assert.match(diagnosisOf(s).fix ?? '', /data_ciphers/);
    });

    it('another tls-crypt key on the device: tls-key-mismatch', async () => {
      await stopDevice();
      await startDevice(
        ovpn.replace(
          /<tls-crypt>\n[\s\S]*?\n<\/tls-crypt>/,
          `<tls-crypt>\n${otherTlsCryptKey()}\n</tls-crypt>`,
        ),
      );
      const s = await named('tls-key-mismatch', 30_000);
      assert.equal(s.state, 'down');
    });

    it('dev tap on the device: the tun refuses its frames, and the OCC check it triggers names dev-type-mismatch', async () => {
      await stopDevice();
      const tap = withOption(
        withOption(ovpn, 'dev', 'dev tap'),
        'ifconfig',
        `ifconfig ${/^ifconfig (\S+)/m.exec(ovpn)?.[1] ?? ''} 255.255.255.252`,
      );
      await startDevice(tap);
      const s = await named('dev-type-mismatch', 45_000, poke);
      assert.equal(s.state, 'down', 'nothing crosses');
      assert.match(diagnosisOf(s).message ?? '', /tun.*tap|tap.*tun/);
    });

    it('comp-lzo yes on the device: compression-mismatch, by itself', async () => {
      await stopDevice();
      const lzo = withOption(ovpn, 'allow-compression', 'allow-compression yes\ncomp-lzo yes');
      await startDevice(lzo);
      const s = await named('compression-mismatch', 45_000, poke);
      assert.match(diagnosisOf(s).fix ?? '', /compress/);
    });

    it('tun-mtu 1400 on the device: silent, traffic passes; POST /links/{name}/check names mtu-mismatch', async () => {
      await stopDevice();
      await startDevice(withOption(ovpn, 'tun-mtu', 'tun-mtu 1400'));
      await upBothWays();
      const checked = await a.api.post<Json>(`/links/${LINK}/check`, {}, { timeoutMs: 90_000 });
      assert.equal(checked.status, 200, JSON.stringify(checked.body));
      assert.equal(diagnosisOf(checked.body).code, 'mtu-mismatch', JSON.stringify(checked.body));
      assert.match(diagnosisOf(checked.body).message ?? '', /1448 here, 1400 on the peer/);
      assert.equal(checked.body.state, 'up', 'the tunnel carries traffic');
      // The keys verb 7 printed are blanked in openvpn's own log, which stays whole.
      const log = await readFile(join(a.dataDir, 'openvpn', LINK, 'openvpn.log'), 'latin1');
      assert.doesNotMatch(log, /(CIPHER|HMAC) KEY: [0-9a-f]{8}/);
      assert.match(log, /(CIPHER|HMAC) KEY: \*{8}/, 'verb 7 ran');
      assert.doesNotMatch(log, /\0/);
      await upBothWays();
    });

    it('compress lz4-v2 on the device (stock, asymmetric): silent; the check names compression-mismatch', async () => {
      await stopDevice();
      await startDevice(withOption(ovpn, 'allow-compression', 'compress lz4-v2'));
      await waitFor(() => linkStatus(a, LINK), {
        what: `${LINK} up with the lz4-v2 device`,
        until: (s) => s.state === 'up' && s.diagnosis === null,
        timeoutMs: 30_000,
      });
      const checked = await a.api.post<Json>(`/links/${LINK}/check`, {}, { timeoutMs: 90_000 });
      assert.equal(checked.status, 200, JSON.stringify(checked.body));
      assert.equal(diagnosisOf(checked.body).code, 'compression-mismatch', JSON.stringify(checked.body));
    });

    it('a dials the device: its listening-end .ovpn works; a drop rule on a names peer-unreachable, a wrong port port-unreachable', async () => {
      await stopDevice();
      const link = (await a.api.get<Json>(`/links/${LINK}`)).body;
      const put = await a.api.put(`/links/${LINK}`, { ...link, remote_endpoint: `${b.wanAddress}:1194` });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const exported = (await a.api.get<string>(`/links/${LINK}/peer-config?format=ovpn`)).body;
      assert.match(exported, /^lport 1194$/m);
      assert.match(exported, /^tls-server$/m);
      // The inline blocks only (the header names <cert> and <key> too).
      const block = (tag: string): RegExp => new RegExp(`^<${tag}>\\n[\\s\\S]*?\\n</${tag}>$`, 'm');
      const cert = block('cert').exec(ovpn)?.[0] ?? '';
      const key = block('key').exec(ovpn)?.[0] ?? '';
      assert.match(cert, /BEGIN CERTIFICATE/);
      const listening = exported.replace(block('cert'), cert).replace(block('key'), key);
      assert.doesNotMatch(listening, /^remote /m);
      await startDevice(listening);
      await upBothWays();

      await a.exec(['nft', '-f', '-'], {
        input: `table inet e2e_block {\n chain input { type filter hook input priority -10; ip saddr ${b.wanAddress} udp sport 1194 drop\n }\n}\n`,
      });
      const s = await named('peer-unreachable', 45_000);
      assert.notEqual(s.state, 'up');
      await a.exec(['nft', 'delete', 'table', 'inet', 'e2e_block']);

      await stopDevice();
      await startDevice(withOption(listening, 'lport', 'lport 1195'));
      await named('port-unreachable', 45_000);
    });
  },
);
