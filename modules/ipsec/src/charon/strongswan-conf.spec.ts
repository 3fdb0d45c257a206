import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '@weft/core';
import {
  CHARON_DEFAULT_RETRANSMIT,
  FAST_RETRANSMIT,
  charonPlugins,
  renderStrongswanConf,
  retransmitGiveUpSeconds,
  type StrongswanConfOptions,
} from './strongswan-conf.js';

const BASE: StrongswanConfOptions = {
  viciSocket: '/run/weft/ipsec/charon.vici',
  dataplane: 'libipsec',
  log: { file: '/var/log/weft/charon.log' },
  routing: { table: 7374, priority: 5400 },
};

// Goldens. charon.supervisor.int-spec.ts starts the real charon 5.9.8 with the libipsec settings (and
// FAST_RETRANSMIT); the kernel variant was started by hand here (charon does not probe ESP at start).
const GOLDEN_LIBIPSEC = `# Written by Weft for its own charon; changes here are overwritten.
charon {
  load = random nonce drbg openssl aes sha1 sha2 hmac gcm gmp curve25519 kdf mgf1 pem pkcs1 pkcs8 x509 revocation constraints pubkey kernel-libipsec! kernel-netlink socket-default! vici!
  install_routes = no
  routing_table = 7374
  routing_table_prio = 5400
  install_virtual_ip = no
  retransmit_tries = 5
  retransmit_timeout = 4
  retransmit_base = 1.8
  plugins {
    vici {
      socket = unix:///run/weft/ipsec/charon.vici
    }
  }
  filelog {
    weft {
      path = /var/log/weft/charon.log
      append = yes
      flush_line = yes
      time_format = %Y-%m-%dT%H:%M:%S
      time_add_ms = yes
      ike_name = yes
      default = 1
    }
  }
  syslog {
    daemon {
      default = -1
    }
  }
}
`;

const GOLDEN_KERNEL_CHARON_ROUTES = `# Written by Weft for its own charon; changes here are overwritten.
charon {
  load = random nonce drbg openssl aes sha1 sha2 hmac gcm gmp curve25519 kdf mgf1 pem pkcs1 pkcs8 x509 revocation constraints pubkey kernel-netlink! socket-default! vici!
  install_routes = yes
  routing_table = 1000
  routing_table_prio = 1000
  install_virtual_ip = yes
  retransmit_tries = 2
  retransmit_timeout = 1
  retransmit_base = 1.5
  plugins {
    vici {
      socket = unix:///run/weft/ipsec/charon.vici
    }
  }
  filelog {
    weft {
      path = /var/log/weft/charon.log
      append = yes
      flush_line = yes
      time_format = %Y-%m-%dT%H:%M:%S
      time_add_ms = yes
      ike_name = yes
      default = 0
      ike = 2
      knl = 1
    }
  }
  syslog {
    daemon {
      default = -1
    }
  }
}
`;

void describe('renderStrongswanConf', () => {
  void it('libipsec, charon’s routes in a table of ours behind Weft’s, charon’s retransmit defaults (golden)', () => {
    assert.equal(renderStrongswanConf(BASE), GOLDEN_LIBIPSEC);
  });

  void it('kernel ESP with install_routes, fast retransmits, subsystem levels (golden)', () => {
    assert.equal(
      renderStrongswanConf({
        ...BASE,
        dataplane: 'kernel',
        log: { file: BASE.log.file, level: 0, subsystems: { ike: 2, knl: 1 } },
        routing: { table: 1000, priority: 1000, installRoutes: true },
        retransmit: FAST_RETRANSMIT,
        installVirtualIp: true,
      }),
      GOLDEN_KERNEL_CHARON_ROUTES,
    );
  });

  void it('kernel-libipsec comes before kernel-netlink, which is then not critical', () => {
    const libipsec = charonPlugins('libipsec');
    assert.ok(libipsec.indexOf('kernel-libipsec!') < libipsec.indexOf('kernel-netlink'));
    assert.ok(!charonPlugins('kernel').some((p) => p.startsWith('kernel-libipsec')));
    assert.ok(charonPlugins('kernel').includes('kernel-netlink!'));
    for (const dp of ['kernel', 'libipsec'] as const) {
      assert.ok(!charonPlugins(dp).includes('updown'), 'Weft runs no updown script');
      assert.ok(charonPlugins(dp).includes('vici!'));
    }
  });

  void it('retransmit give-up times: charon’s ≈ 165 s, FAST_RETRANSMIT 4.75 s', () => {
    assert.equal(Math.round(retransmitGiveUpSeconds(CHARON_DEFAULT_RETRANSMIT)), 165);
    assert.equal(retransmitGiveUpSeconds(FAST_RETRANSMIT), 4.75);
  });

  void it('refuses values that would break out of their line or section', () => {
    const bad: [Partial<StrongswanConfOptions>, RegExp][] = [
      [{ viciSocket: '/run/x.vici\n  load = evil' }, /viciSocket must be an absolute path/],
      [{ viciSocket: '/run/x}' }, /viciSocket/],
      [{ viciSocket: '/run/x#c' }, /viciSocket/],
      [{ viciSocket: 'run/relative.vici' }, /viciSocket/],
      [{ viciSocket: '/run/../etc/x' }, /no "\.\."/],
      [{ viciSocket: `/run/${'a'.repeat(110)}` }, /at most 107 bytes/],
      [{ log: { file: '/var/log/a b.log' } }, /log\.file/],
      [{ log: { file: '/var/log/{x}.log' } }, /log\.file/],
      [{ log: { file: '/x.log', level: 5 as 1 } }, /log\.level must be an integer from -1 to 4/],
      [{ log: { file: '/x.log', subsystems: { 'ike {': 1 } as never } }, /log\.subsystems must be one of/],
      [{ dataplane: 'xfrm' as 'kernel' }, /dataplane must be one of kernel, libipsec/],
      [{ routing: { table: 254, priority: 100 } }, /main \(254\)/],
      [{ routing: { table: 0, priority: 100 } }, /routing\.table must be an integer from 1/],
      [{ routing: { table: 100, priority: 32766 } }, /routing\.priority must be an integer from 1 to 32765/],
      [{ retransmit: { tries: 1.5, timeoutS: 1, base: 1 } }, /retransmit\.tries/],
      [{ retransmit: { tries: 3, timeoutS: Number.NaN, base: 1 } }, /retransmit\.timeoutS/],
      [
        { retransmit: { tries: 3, timeoutS: 1, base: 0.5 } },
        /retransmit\.base must be a number from 1 to 10/,
      ],
    ];
    for (const [override, message] of bad) {
      assert.throws(
        () => renderStrongswanConf({ ...BASE, ...override }),
        (err: Error) => err instanceof InvalidArgumentError && message.test(err.message),
        JSON.stringify(override),
      );
    }
  });
});
