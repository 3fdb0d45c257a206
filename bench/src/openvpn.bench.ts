// OpenVPN through Weft against the same openvpn configured by hand, in one lab and one run: iperf3 LAN
// host a → LAN host b (one TCP stream) through a p2p link made through the two APIs (A dials, B imports
// A's bundle), then through openvpn started by hand on both gateways from a hand-written p2p config with
// what Weft's link runs on — the same data ciphers, tls-crypt, tun-mtu and mssfix (read from Weft's
// link), userspace data channel — its own CA and certificates (openssl) and tls-crypt key
// (`openvpn --genkey`), its own port and tun. Rounds alternate so drift on this shared machine hits both.
// Run as root from the repository: `npm run -w @weft/bench openvpn` (or `make bench`).
import type { ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { caOf, importPeerConfig, run, waitFor, type Site } from '@weft/e2e';
import {
  alternate,
  iperf,
  ping,
  ROUNDS,
  SECONDS,
  startInAppliance,
  runLabBench,
  stopProcess,
} from './lab-bench.js';

const WEFT_PORT = 1194;
const HAND_PORT = 1195;
const HAND_DEVICE = 'ovh0';
/** The hand tunnel's /30, away from Weft's tunnel pool. */
const HAND_TUNNEL = { server: '10.254.99.1', client: '10.254.99.2' };

/** What the hand config copies from Weft's rendered one, so only management differs. */
interface DataPlane {
  dataCiphers: string;
  tunMtu: string;
  mssfix: string;
}

function option(config: string, name: string): string {
  const m = new RegExp(`^${name} (.+)$`, 'm').exec(config);
  if (!m?.[1]) throw new Error(`Weft's openvpn config has no ${name}`);
  return m[1].trim();
}

async function dataPlaneOf(site: Site, link: string): Promise<DataPlane> {
  const config = await readFile(join(site.dataDir, 'openvpn', link, 'openvpn.conf'), 'utf8');
  return {
    dataCiphers: option(config, 'data-ciphers'),
    tunMtu: option(config, 'tun-mtu'),
    mssfix: option(config, 'mssfix'),
  };
}

/** A CA and one EC P-256 certificate per end, with openssl, as an operator makes them. */
async function handPki(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const at = (f: string): string => join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run([
    'openssl',
    'req',
    '-x509',
    ...ec,
    '-keyout',
    at('ca.key'),
    '-out',
    at('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=hand-ca',
  ]);
  for (const end of ['hand-a', 'hand-b']) {
    await run([
      'openssl',
      'req',
      ...ec,
      '-keyout',
      at(`${end}.key`),
      '-out',
      at(`${end}.csr`),
      '-subj',
      `/CN=${end}`,
    ]);
    await run([
      'openssl',
      'x509',
      '-req',
      '-in',
      at(`${end}.csr`),
      '-CA',
      at('ca.pem'),
      '-CAkey',
      at('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      at(`${end}.pem`),
    ]);
  }
  await run(['openvpn', '--genkey', 'tls-crypt', at('tls-crypt.key')]);
  await run(['chmod', '0600', at('ca.key'), at('hand-a.key'), at('hand-b.key'), at('tls-crypt.key')]);
}

/** The hand-written p2p config: B listens, A dials; the same data plane as Weft's link. */
function handConfig(dir: string, own: Site, other: Site, listen: boolean, plane: DataPlane): string {
  const me = listen ? 'hand-b' : 'hand-a';
  const peer = listen ? 'hand-a' : 'hand-b';
  const [local, remote] = listen
    ? [HAND_TUNNEL.server, HAND_TUNNEL.client]
    : [HAND_TUNNEL.client, HAND_TUNNEL.server];
  const [network] = other.lanPrefix.split('/');
  return [
    `dev ${HAND_DEVICE}`,
    'dev-type tun',
    'proto udp4',
    ...(listen ? [`lport ${HAND_PORT}`] : ['nobind', `remote ${other.wanAddress} ${HAND_PORT}`]),
    'float',
    listen ? 'tls-server' : 'tls-client',
    ...(listen ? ['dh none'] : []),
    `ca ${join(dir, 'ca.pem')}`,
    `cert ${join(dir, `${me}.pem`)}`,
    `key ${join(dir, `${me}.key`)}`,
    `tls-crypt ${join(dir, 'tls-crypt.key')}`,
    `verify-x509-name ${peer} name`,
    'tls-version-min 1.2',
    `data-ciphers ${plane.dataCiphers}`,
    `ifconfig ${local} ${remote}`,
    `tun-mtu ${plane.tunMtu}`,
    `mssfix ${plane.mssfix}`,
    'allow-compression no',
    'keepalive 10 60',
    'persist-tun',
    'persist-key',
    'disable-dco',
    `route ${network} 255.255.255.0`,
    'verb 3',
    `log ${join(dir, `${own.name}.log`)}`,
    '',
  ].join('\n');
}

async function throughput(a: Site, b: Site): Promise<void> {
  let plane: DataPlane | undefined;
  const byWeft = async (): Promise<number> => {
    const made = await a.api.post('/links', {
      name: 'to-b',
      type: 'openvpn',
      remote_endpoint: `${b.wanAddress}:${WEFT_PORT}`,
      remote_subnets: [b.lanPrefix],
      openvpn: { remote_ca: await caOf(b) },
    });
    if (made.status !== 201) throw new Error(`POST /links: ${made.status} ${JSON.stringify(made.body)}`);
    const onB = await importPeerConfig(a, b, 'to-b');
    await waitFor(() => ping(a, b.lanHost), { what: 'ping through the Weft link', timeoutMs: 30_000 });
    plane = await dataPlaneOf(a, 'to-b');
    const mbps = await iperf(a, b);
    for (const [site, name] of [
      [a, 'to-b'],
      [b, onB],
    ] as const) {
      const res = await site.api.delete(`/links/${name}`);
      if (res.status !== 200) throw new Error(`delete ${name}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    return mbps;
  };
  const dir = join(a.dir, 'hand-openvpn');
  await handPki(dir);
  const byHand = async (): Promise<number> => {
    if (!plane) throw new Error('the Weft round runs first: its data plane is what the hand config copies');
    const procs: ChildProcess[] = [];
    try {
      // The listening end first, so the dialling end's first packet is answered.
      for (const [site, other, listen] of [
        [b, a, true],
        [a, b, false],
      ] as const) {
        const conf = join(dir, `${site.name}.conf`);
        await writeFile(conf, handConfig(dir, site, other, listen, plane), { mode: 0o600 });
        procs.push(startInAppliance(site, ['openvpn', '--config', conf]));
      }
      await waitFor(() => ping(a, b.lanHost), {
        what: 'ping through the hand-made tunnel',
        timeoutMs: 30_000,
        intervalMs: 200,
      });
      return await iperf(a, b);
    } finally {
      for (const p of procs) await stopProcess(p);
    }
  };
  // The first round is Weft's (alternate() starts with it), so the hand config knows the data plane.
  const { weft: w, hand: h } = await alternate('openvpn Mbit/s', byWeft, byHand);
  console.log(
    `iperf3 LAN→LAN, one TCP stream, ${SECONDS} s × ${ROUNDS} rounds (medians), p2p, data-ciphers ${plane?.dataCiphers ?? '?'}, tun-mtu ${plane?.tunMtu ?? '?'}, tls-crypt, userspace data channel`,
  );
  console.log(`baseline  openvpn configured by hand (p2p)   ${h.toFixed(0)} Mbit/s`);
  console.log(
    `weft      link made through the APIs         ${w.toFixed(0)} Mbit/s   ratio ${(w / h).toFixed(2)} (target ≥ 0.95)`,
  );
}

runLabBench('bench-openvpn', { throughput });
