// Route precedence between two links to the same prefix, through the APIs alone: site a and site b are
// joined twice, over WireGuard (metric 100, the primary) and OpenVPN (metric 200, the backup), both
// carrying the other's LAN. Pings take the primary; with the primary disabled on both ends they take the
// backup; with both disabled the fail-closed fallback answers "unreachable".
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  applySiteSettings,
  caOf,
  captureIn,
  ExecError,
  Lab,
  linkWireGuard,
  ping,
  waitFor,
  type Json,
  type Site,
} from '../../lib/index.js';

describe('routing: a primary and a backup link to one site', { timeout: 240_000 }, () => {
  let lab: Lab;
  let a: Site;
  let b: Site;
  const onB = { primary: '', backup: 'site-a-backup' };

  const setEnabled = async (site: Site, link: string, enabled: boolean): Promise<void> => {
    const current = (await site.api.get<Json>(`/links/${link}`)).body;
    const res = await site.api.put(`/links/${link}`, { ...current, enabled });
    assert.equal(res.status, 200, `site ${site.name}: ${JSON.stringify(res.body)}`);
  };
  /** The device on gw a that a's echo request to b's host left by. */
  const via = async (devices: string[]): Promise<string> => {
    const seen = await Promise.all(
      devices.map((dev) =>
        captureIn(a.netns, dev, 1, () => ping(a, b.lanHost), {
          filter: `icmp[icmptype] = icmp-echo and host ${b.lanHost}`,
          timeoutMs: 3_000,
        }).then(
          () => dev,
          () => undefined,
        ),
      ),
    );
    return seen.filter((d) => d !== undefined).join(' ');
  };

  before(async () => {
    lab = await Lab.create({ sites: [{ name: 'a' }, { name: 'b' }], name: 'backup' });
    [a, b] = [lab.site('a'), lab.site('b')];
    for (const s of [a, b]) await applySiteSettings(s);
    onB.primary = (await linkWireGuard(a, b)).onB;
    const made = await a.api.post('/links', {
      name: 'to-b2',
      type: 'openvpn',
      remote_endpoint: `${b.wanAddress}:1194`,
      remote_subnets: [b.lanPrefix],
      metric: 200,
      openvpn: { remote_ca: await caOf(b) },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const bundle = await a.api.get<Json>('/links/to-b2/peer-config?format=weft');
    assert.equal(bundle.body.metric, 200, 'the bundle carries the metric');
    const imported = await b.api.post('/links', { ...bundle.body, name: onB.backup });
    assert.equal(imported.status, 201, JSON.stringify(imported.body));
  });
  after(async () => {
    await lab?.destroy();
  });

  it('both links up: the table holds both routes, and pings take the primary', async () => {
    await waitFor(() => ping(a, b.lanHost), { what: 'a reaches b', timeoutMs: 30_000 });
    const routes = (await a.exec(['ip', 'route', 'show', 'table', '7373', b.lanPrefix])).stdout;
    assert.match(routes, new RegExp(`${b.lanPrefix.replace(/\./g, '\\.')} dev wg-to-b .*metric 100`));
    assert.match(routes, /dev ovpn-to-b2 .*metric 200/);
    assert.match(routes, /unreachable .*metric 70000/);
    assert.equal(await via(['wg-to-b', 'ovpn-to-b2']), 'wg-to-b');
  });

  it('the primary disabled on both ends: pings take the backup', async () => {
    await setEnabled(a, 'to-b', false);
    await setEnabled(b, onB.primary, false);
    await waitFor(() => ping(a, b.lanHost), { what: 'a reaches b over the backup', timeoutMs: 40_000 });
    assert.equal(await via(['ovpn-to-b2']), 'ovpn-to-b2');
  });

  it('both disabled: the fallback answers unreachable; the primary back: pings take it again', async () => {
    await setEnabled(a, 'to-b2', false);
    const answer = await a
      .lanExec(['ping', '-n', '-c', '1', '-W', '1', b.lanHost])
      .then((r) => r.stdout)
      .catch((e: unknown) => (e instanceof ExecError ? e.result.stdout : String(e)));
    assert.match(answer, /Destination (Net|Host) Unreachable/, answer);
    await setEnabled(a, 'to-b2', true);
    await setEnabled(a, 'to-b', true);
    await setEnabled(b, onB.primary, true);
    await waitFor(async () => (await ping(a, b.lanHost)) && (await via(['wg-to-b'])) === 'wg-to-b', {
      what: 'pings over the primary again',
      timeoutMs: 60_000,
    });
  });
});
