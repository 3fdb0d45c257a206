// `make demo`: a three-site lab (a, b, c) on the management net 198.18.0.0/24, one appliance per
// gateway with a starter config, the sites linked through their APIs (a–b WireGuard, a–c IPsec, b–c
// OpenVPN; demo-setup.ts) with one multicast group from LAN a to LANs b and c, a table of how to reach
// everything, then it runs until Ctrl-C.
import type { components } from '@weft/api-spec';
import { describeAppliance, defaultAppliance } from './appliance-command.js';
import { DEMO_GROUP, demoMulticast, linkDemoSites, type DemoLink } from './demo-setup.js';
import { Lab } from './lab.js';
import { describeExit, type Site } from './site.js';

type ConfigDocument = components['schemas']['ConfigDocument'];

const DEMO_MGMT_NET = 0;
const MONITOR_INTERVAL_MS = 2_000;

function starterConfig(site: Site): ConfigDocument {
  return {
    appliance: {
      name: `site-${site.name}`,
      underlay_interface: 'wan0',
      public_endpoint: site.wanAddress,
      local_subnets: [site.lanPrefix],
    },
    links: [],
    routes: [],
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, col) => cell.padEnd(widths[col] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function main(): Promise<number> {
  // Signals are ours from the start: a Ctrl-C while the lab is being built aborts the build cleanly.
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stop.signal.aborted) {
      process.stderr.write(`${signal} again: still cleaning up, please wait\n`);
      return;
    }
    process.stderr.write(`\n${signal}: stopping the appliances and removing the lab…\n`);
    stop.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const appliance = defaultAppliance();
  console.log(`Building a three-site lab with the ${describeAppliance(appliance)}…`);
  let lab: Lab;
  try {
    lab = await Lab.create({
      sites: ['a', 'b', 'c'],
      name: 'demo',
      mgmtNet: DEMO_MGMT_NET,
      appliance,
      handleSignals: false,
      signal: stop.signal,
    });
  } catch (err) {
    if (stop.signal.aborted) return 0;
    console.error(`demo: ${(err as Error).message}`);
    return 1;
  }

  let monitor: NodeJS.Timeout | undefined;
  try {
    for (const site of lab.sites) {
      const res = await site.api.put('/config', starterConfig(site));
      if (res.status < 200 || res.status >= 300) {
        console.warn(
          `warning: site ${site.name}: PUT /config answered ${res.status}: ${JSON.stringify(res.body)}`,
        );
      }
    }
    let links: DemoLink[] = [];
    const [sa, sb, sc] = lab.sites;
    if (sa && sb && sc) {
      console.log('Linking the sites through their APIs: a–b WireGuard, a–c IPsec, b–c OpenVPN…');
      try {
        links = await linkDemoSites(sa, sb, sc);
        await demoMulticast(links);
      } catch (err) {
        console.warn(`warning: linking the demo sites failed: ${(err as Error).message}`);
      }
    }
    const rows = [['SITE', 'API', 'ADMIN TOKEN', 'LAN', 'WAN', 'SHELL (gateway)', 'SHELL (LAN host)']];
    for (const site of lab.sites) {
      rows.push([
        site.name,
        site.apiUrl,
        await site.adminToken(),
        site.lanPrefix,
        site.wanAddress,
        `ip netns exec ${site.netns} bash`,
        `ip netns exec ${site.lanNetns} bash`,
      ]);
    }
    const first = lab.sites[0];
    console.log(`\nLab ${lab.id} is up. Files and appliance logs: ${lab.dir}\n`);
    console.log(table(rows));
    console.log(
      `\nFake internet: ip netns exec ${lab.inetNetns} bash   (server address ${lab.internetServer})`,
    );
    if (first) {
      console.log(
        `Try: curl -s -H "Authorization: Bearer $(cat ${first.dataDir}/admin-token)" ${first.apiUrl}/config`,
      );
      console.log(
        `     nsenter -t ${first.pid} -m -n bash   (site ${first.name}'s appliance view: private /run)`,
      );
    }
    if (links.length > 0) {
      console.log('\nLinks (GET /links/{name}/status on either end):');
      console.log(
        table([
          ['FROM', 'TO', 'TYPE', 'LINK ON FROM', 'LINK ON TO'],
          ...links.map((l) => [l.from.name, l.to.name, l.type, l.onFrom, l.onTo]),
        ]),
      );
      console.log('\nTry, once the links are up (a few seconds):');
      for (const l of links) {
        console.log(
          `  ip netns exec ${l.from.lanNetns} ping -c 3 ${l.to.lanHost}   # LAN ${l.from.name} → LAN ${l.to.name} over ${l.type}`,
        );
      }
      const [a, ...receivers] = [sa, ...links.filter((l) => l.from === sa).map((l) => l.to)];
      if (a) {
        console.log(
          `  multicast ${DEMO_GROUP} (TTL 1) from LAN ${a.name} to LANs ${receivers.map((r) => r.name).join(' and ')}: listen on each with`,
        );
        for (const r of receivers) {
          console.log(`    ip netns exec ${r.lanNetns} tcpdump -ni any udp port 5000`);
        }
        console.log(
          `    and send: ip netns exec ${a.lanNetns} python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1); s.sendto(b'hello', ('${DEMO_GROUP}', 5000))"`,
        );
        console.log(`    counters: GET /status (multicast) or GET /metrics on any site`);
      }
    }
    console.log('\nCtrl-C stops the appliances and removes the lab.');

    // Keeps the process alive until a signal, and says so when an appliance dies meanwhile.
    const reported = new Set<string>();
    monitor = setInterval(() => {
      for (const site of lab.sites) {
        if (!site.running && !reported.has(site.name)) {
          reported.add(site.name);
          console.warn(
            `warning: site ${site.name}: the appliance ${describeExit(site.lastExit)}; see ${site.logFile}`,
          );
        }
      }
    }, MONITOR_INTERVAL_MS);
    if (!stop.signal.aborted) {
      await new Promise<void>((resolve) =>
        stop.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
    }
    return 0;
  } catch (err) {
    console.error(`demo: ${(err as Error).message}`);
    return 1;
  } finally {
    clearInterval(monitor);
    await lab.destroy();
    console.log(`Lab ${lab.id} removed.`);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`demo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
