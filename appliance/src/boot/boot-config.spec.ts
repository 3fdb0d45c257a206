import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BootConfigError, parseCommand } from './boot-config.js';

const noFile = (): string => {
  throw new Error('no file expected');
};

describe('parseCommand', () => {
  it('reads serve with its flags', () => {
    const cmd = parseCommand(
      ['serve', '--data-dir', '/var/lib/weft', '--listen', '198.18.0.10:8080'],
      noFile,
    );
    assert.equal(cmd.name, 'serve');
    assert.ok(cmd.name === 'serve');
    assert.deepEqual(cmd.config, {
      dataDir: '/var/lib/weft',
      listenHost: '198.18.0.10',
      listenPort: 8080,
      logLevel: 'info',
      driftIntervalSeconds: 30,
      configFile: undefined,
      wireguardImplementation: 'auto',
      ipsecDataplane: 'auto',
      multicastEngine: 'auto',
    });
  });

  it('takes the multicast forwarder from the command line or the file', () => {
    const cli = parseCommand(
      ['serve', '--data-dir', '/d', '--listen', '1.2.3.4:80', '--multicast', 'nftables'],
      noFile,
    );
    assert.ok(cli.name === 'serve');
    assert.equal(cli.config.multicastEngine, 'nftables');
    const file = parseCommand(
      ['serve', '--config', 'w.yaml', '--data-dir', '/d'],
      () => 'listen: 1.2.3.4:80\nmulticast: mroute\n',
    );
    assert.ok(file.name === 'serve');
    assert.equal(file.config.multicastEngine, 'mroute');
  });

  it('takes IPv6 listen addresses in brackets', () => {
    const cmd = parseCommand(['serve', '--data-dir', '/d', '--listen', '[::1]:9000'], noFile);
    assert.ok(cmd.name === 'serve');
    assert.equal(cmd.config.listenHost, '::1');
  });

  it('merges a config file under the command line', () => {
    const file = 'listen: 127.0.0.1:7000\nlog_level: debug\ndrift_interval: 5\n';
    const cmd = parseCommand(
      ['serve', '--config', 'w.yaml', '--data-dir', '/d', '--log-level', 'warn'],
      () => file,
    );
    assert.ok(cmd.name === 'serve');
    assert.equal(cmd.config.listenPort, 7000);
    assert.equal(cmd.config.logLevel, 'warn');
    assert.equal(cmd.config.driftIntervalSeconds, 5);
  });

  it('fails fast with the fix in the message', () => {
    const cases: [string[], RegExp, string?][] = [
      [['serve', '--listen', '1.2.3.4:80'], /--data-dir is required/],
      [['serve', '--data-dir', '/d'], /--listen ADDR:PORT is required/],
      [['serve', '--data-dir', '/d', '--listen', '1.2.3.4'], /"1\.2\.3\.4" is not ADDR:PORT/],
      [['serve', '--data-dir', '/d', '--listen', '1.2.3.4:99999'], /is not ADDR:PORT/],
      [
        ['serve', '--data-dir', '/d', '--listen', '1.2.3.4:80', '--log-level', 'loud'],
        /log level "loud" is not one of/,
      ],
      [['serve', '--data-dir', '/d', '--listen', '1.2.3.4:80', '--bogus'], /Unknown option '--bogus'/],
      [
        ['serve', '--data-dir', '/d', '--listen', '1.2.3.4:80', '--multicast', 'pim'],
        /multicast "pim" is not one of auto, mroute, nftables/,
      ],
      [['serve', '--config', 'x', '--data-dir', '/d'], /unknown key "colour"/, 'colour: red\n'],
      [['launch'], /unknown command "launch"/],
    ];
    for (const [argv, re, file] of cases) {
      assert.throws(
        () => parseCommand(argv, () => file ?? ''),
        (err: unknown) => err instanceof BootConfigError && re.test(err.message),
        argv.join(' '),
      );
    }
  });
});
