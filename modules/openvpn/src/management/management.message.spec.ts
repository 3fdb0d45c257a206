// Golden vectors: the lines are openvpn 2.6.14's own, captured from the management socket of a p2p
// pair and a server with two clients (see the README), unless a comment says otherwise.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SERVER_STATUS_3 } from '../testing/fake-management-server.js';
import { ManagementParseError } from './management.errors.js';
import {
  ManagementParser,
  parseLogRow,
  parseNotification,
  parseStateRow,
  type ParsedLine,
  type ReplyShape,
} from './management.message.js';
import { parseStatus } from './management.status.js';

function run(shape: ReplyShape | undefined, lines: readonly string[]): ParsedLine[] {
  const p = new ManagementParser();
  if (shape) p.expect(shape);
  return lines.flatMap((l) => p.push(l));
}

describe('ManagementParser', () => {
  it('a notification with no command pending (the greeting)', () => {
    assert.deepEqual(
      run(undefined, [">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info"]),
      [
        {
          kind: 'notification',
          notification: {
            type: 'info',
            message: "OpenVPN Management Interface Version 5 -- type 'help' for more info",
          },
        },
      ],
    );
  });

  it('single: SUCCESS and ERROR', () => {
    assert.deepEqual(run('single', ['SUCCESS: bytecount interval changed']), [
      { kind: 'reply', reply: { ok: true, message: 'bytecount interval changed', rows: [] } },
    ]);
    assert.deepEqual(
      run('single', ["ERROR: The 'kill' command is not supported by the current daemon mode"]),
      [
        {
          kind: 'reply',
          reply: { ok: false, message: "The 'kill' command is not supported by the current daemon mode" },
        },
      ],
    );
  });

  it('list: rows up to END, with notifications interleaved in the middle', () => {
    const out = run('list', [
      ">LOG:1795345212,D,MANAGEMENT: CMD 'status 3'",
      'OpenVPN STATISTICS',
      'Updated,2026-11-22 11:00:12',
      '>BYTECOUNT:2111,2110',
      'TUN/TAP read bytes,96',
      '>STATE:1795345214,RECONNECTING,SIGUSR1,,,,,',
      'END',
      '>BYTECOUNT:2111,2110',
    ]);
    assert.deepEqual(
      out.map((o) => (o.kind === 'reply' ? 'reply' : o.notification.type)),
      ['log', 'bytecount', 'state', 'reply', 'bytecount'],
    );
    assert.deepEqual(out[3], {
      kind: 'reply',
      reply: {
        ok: true,
        message: '',
        rows: ['OpenVPN STATISTICS', 'Updated,2026-11-22 11:00:12', 'TUN/TAP read bytes,96'],
      },
    });
  });

  it('list: a single ERROR line ends it', () => {
    assert.deepEqual(run('list', ['ERROR: status command failed']), [
      { kind: 'reply', reply: { ok: false, message: 'status command failed' } },
    ]);
  });

  it('single-then-list: `log on all` answers SUCCESS, then the history, then END', () => {
    const out = run('single-then-list', [
      'SUCCESS: real-time log notification set to ON',
      '1795345207,I,OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [PKCS11] [MH/PKTINFO] [AEAD] [DCO]',
      '1795345207,,VERIFY OK: depth=1, CN=weft-test-ca',
      'END',
      '>LOG:1795345208,I,Initialization Sequence Completed',
      '>LOG:1795345208,,MANAGEMENT: >STATE:1795345208,CONNECTED,SUCCESS,10.99.0.1,127.0.0.1,1195,127.0.0.1,1194',
      '>STATE:1795345208,CONNECTED,SUCCESS,10.99.0.1,127.0.0.1,1195,127.0.0.1,1194',
    ]);
    assert.equal(out[0]?.kind, 'reply');
    assert.deepEqual(out[0]?.kind === 'reply' && out[0].reply.ok ? out[0].reply.rows.length : -1, 2);
    // A log message quoting a state line is still a log line.
    assert.deepEqual(
      out.slice(1).map((o) => (o.kind === 'notification' ? o.notification.type : 'reply')),
      ['log', 'log', 'state'],
    );
  });

  it('a reply line with no command pending is a protocol error', () => {
    assert.throws(() => run(undefined, ['SUCCESS: surprise']), ManagementParseError);
    assert.throws(() => run('single', ['1795345208,CONNECTED,SUCCESS,,,,,']), ManagementParseError);
  });

  it('>CLIENT: blocks collect their ENV lines, ADDRESS stands alone (documented format)', () => {
    // From management-notes.txt (no --management-client-auth server was run here).
    const out = run(undefined, [
      '>CLIENT:CONNECT,0,1',
      '>CLIENT:ENV,common_name=site-b',
      '>CLIENT:ENV,untrusted_ip=192.0.2.7',
      '>CLIENT:ENV,END',
      '>CLIENT:ADDRESS,0,10.98.0.2,1',
      '>CLIENT:DISCONNECT,0',
      '>CLIENT:ENV,bytes_received=2190',
      '>BYTECOUNT_CLI:0,2261,2135',
    ]);
    assert.deepEqual(
      out.map((o) => (o.kind === 'notification' ? o.notification : o)),
      [
        {
          type: 'client',
          event: 'CONNECT',
          args: ['0', '1'],
          env: { common_name: 'site-b', untrusted_ip: '192.0.2.7' },
          clientId: 0,
          keyId: 1,
        },
        { type: 'client', event: 'ADDRESS', args: ['0', '10.98.0.2', '1'], env: {}, clientId: 0 },
        // Cut short by another notification: delivered as far as it got.
        { type: 'client', event: 'DISCONNECT', args: ['0'], env: { bytes_received: '2190' }, clientId: 0 },
        { type: 'bytecount-cli', clientId: 0, bytesIn: 2261, bytesOut: 2135 },
      ],
    );
  });
});

describe('notification payloads', () => {
  it('>STATE: CONNECTED with addresses; RECONNECTING and EXITING without', () => {
    assert.deepEqual(parseStateRow('1795345208,CONNECTED,SUCCESS,10.99.0.1,127.0.0.1,1195,127.0.0.1,1194'), {
      time: 1795345208,
      name: 'CONNECTED',
      rawName: 'CONNECTED',
      description: 'SUCCESS',
      tunIpv4: '10.99.0.1',
      remoteAddress: '127.0.0.1',
      remotePort: 1195,
      localAddress: '127.0.0.1',
      localPort: 1194,
    });
    assert.deepEqual(parseStateRow('1795345214,RECONNECTING,SIGUSR1,,,,,'), {
      time: 1795345214,
      name: 'RECONNECTING',
      rawName: 'RECONNECTING',
      description: 'SIGUSR1',
    });
    assert.equal(parseStateRow('1795345215,EXITING,init_instance,,,,,').name, 'EXITING');
    assert.equal(parseStateRow('1795345207,ASSIGN_IP,,10.99.0.1,,,,').tunIpv4, '10.99.0.1');
    // A server's own state (no remote): `state` in server mode.
    assert.deepEqual(
      parseStateRow('1795345223,CONNECTED,SUCCESS,10.98.0.1,,,127.0.0.1,1194').remotePort,
      undefined,
    );
    assert.equal(parseStateRow('1,SOMETHING_NEW,,,,,,').name, 'UNKNOWN');
    assert.throws(() => parseStateRow('soon,CONNECTED'), ManagementParseError);
  });

  it('>LOG: flags and a message holding commas', () => {
    assert.deepEqual(parseLogRow('1795345207,,VERIFY OK: depth=1, CN=weft-test-ca'), {
      time: 1795345207,
      flags: '',
      level: 'none',
      message: 'VERIFY OK: depth=1, CN=weft-test-ca',
    });
    assert.equal(parseLogRow('1795345208,I,Initialization Sequence Completed').level, 'info');
    assert.equal(parseLogRow("1795345208,D,MANAGEMENT: CMD 'log on all'").level, 'debug');
    assert.equal(parseLogRow('1,F,Exiting due to fatal error').level, 'fatal');
    assert.throws(() => parseLogRow('1795345208'), ManagementParseError);
  });

  it('>BYTECOUNT:, >BYTECOUNT_CLI:, >HOLD:, others', () => {
    assert.deepEqual(parseNotification('BYTECOUNT', '2039,2038'), {
      type: 'bytecount',
      bytesIn: 2039,
      bytesOut: 2038,
    });
    assert.deepEqual(parseNotification('BYTECOUNT_CLI', '1,2262,2135'), {
      type: 'bytecount-cli',
      clientId: 1,
      bytesIn: 2262,
      bytesOut: 2135,
    });
    assert.throws(() => parseNotification('BYTECOUNT', '2039'), ManagementParseError);
    assert.deepEqual(parseNotification('HOLD', 'Waiting for hold release:0'), {
      type: 'hold',
      message: 'Waiting for hold release:0',
      waitSeconds: 0,
    });
    assert.deepEqual(parseNotification('PASSWORD', "Need 'Auth' username/password"), {
      type: 'other',
      source: 'PASSWORD',
      payload: "Need 'Auth' username/password",
    });
  });
});

describe('parseStatus (status 3)', () => {
  it('p2p: the statistics block', () => {
    assert.deepEqual(
      parseStatus([
        'OpenVPN STATISTICS',
        'Updated,2026-11-22 11:00:12',
        'TUN/TAP read bytes,96',
        'TUN/TAP write bytes,48',
        'TCP/UDP read bytes,2111',
        'TCP/UDP write bytes,2110',
        'Auth read bytes,48',
      ]),
      {
        mode: 'p2p',
        updated: '2026-11-22 11:00:12',
        tunReadBytes: 96,
        tunWriteBytes: 48,
        linkReadBytes: 2111,
        linkWriteBytes: 2110,
        authReadBytes: 48,
        counters: {
          'TUN/TAP read bytes': 96,
          'TUN/TAP write bytes': 48,
          'TCP/UDP read bytes': 2111,
          'TCP/UDP write bytes': 2110,
          'Auth read bytes': 48,
        },
      },
    );
  });

  it('server: TAB-separated client list, routing table and global stats', () => {
    const status = parseStatus(SERVER_STATUS_3.slice(0, -1));
    assert.equal(status.mode, 'server');
    if (status.mode !== 'server') return;
    assert.equal(status.time, 1795345227);
    assert.match(status.title, /^OpenVPN 2\.6\.14 /);
    assert.deepEqual(status.clients[0], {
      commonName: 'site-b',
      realAddress: '127.0.0.1:45166',
      virtualAddress: '10.98.0.3',
      virtualIpv6Address: '',
      bytesReceived: 2190,
      bytesSent: 2063,
      connectedSince: 1795345225,
      username: 'UNDEF',
      clientId: 1,
      peerId: 1,
      dataChannelCipher: 'AES-256-GCM',
    });
    assert.equal(status.clients.length, 2);
    assert.deepEqual(status.routes[0], {
      virtualAddress: '10.98.0.2',
      commonName: 'site-b',
      realAddress: '127.0.0.1:57969',
      lastRef: 1795345225,
    });
    assert.deepEqual(status.globalStats, { 'Max bcast/mcast queue length': '0', dco_enabled: '0' });
  });

  it('server: a common name holding a comma survives TABs; columns are found by header name', () => {
    const status = parseStatus([
      'TITLE\tx',
      'TIME\t2026-11-22 11:00:27\t1795345227',
      'HEADER\tCLIENT_LIST\tReal Address\tCommon Name\tVirtual Address\tBytes Received\tBytes Sent\tConnected Since (time_t)',
      'CLIENT_LIST\t192.0.2.7:1194\tsite, b\t10.98.0.2\t1\t2\t3',
    ]);
    assert.equal(status.mode === 'server' ? status.clients[0]?.commonName : undefined, 'site, b');
  });

  it('refuses what it does not know', () => {
    assert.throws(() => parseStatus(['hello']), ManagementParseError);
    assert.throws(() => parseStatus(['TITLE\tx', 'CLIENT_LIST\ta']), ManagementParseError);
  });
});
