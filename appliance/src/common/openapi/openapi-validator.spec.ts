import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadSpec } from '@weft/api-spec';
import { OpenApiValidator, type RequestToValidate, type ValidationResult } from './openapi-validator.js';
import type { ProblemError } from './problem.js';

const validator = new OpenApiValidator(loadSpec());
const PEER_KEY = Buffer.alloc(32, 7).toString('base64');
const PSK = Buffer.alloc(32, 9).toString('base64');

function request(overrides: Partial<RequestToValidate> & Pick<RequestToValidate, 'method' | 'routePath'>) {
  return validator.validateRequest({ params: {}, query: {}, headers: {}, body: undefined, ...overrides });
}

function putConfig(body: unknown, query: Record<string, unknown> = {}): ValidationResult {
  return request({ method: 'PUT', routePath: '/config', query, body });
}

function errorsOf(result: ValidationResult): ProblemError[] {
  assert.equal(result.ok, false, 'expected the request to be rejected');
  return result.ok ? [] : result.errors;
}

function okOf(result: ValidationResult) {
  assert.ok(result.ok, `expected the request to pass, got ${JSON.stringify(result)}`);
  return result;
}

function wireguardLink(extra: Record<string, unknown> = {}, wireguard: Record<string, unknown> = {}) {
  return {
    name: 'site-b',
    type: 'wireguard',
    remote_subnets: ['10.2.0.0/24'],
    wireguard: { peer_public_key: PEER_KEY, ...wireguard },
    ...extra,
  };
}

function configWith(links: unknown[], extra: Record<string, unknown> = {}) {
  return { appliance: { name: 'site-a' }, links, ...extra };
}

void describe('OpenApiValidator: request bodies', () => {
  void it('accepts a full config document and fills in the schema defaults', () => {
    const doc = {
      schema_version: 1,
      appliance: {
        name: 'site-a',
        underlay_interface: 'eth0',
        public_endpoint: 'vpn.example.com',
        local_subnets: ['10.1.0.0/24', 'fd00:1::/64'],
      },
      links: [
        wireguardLink(
          { remote_endpoint: '198.51.100.7:51820', mtu: 1420, description: 'to B' },
          { listen_port: 51820 },
        ),
        { name: 'site-c', type: 'ipsec', remote_subnets: ['10.3.0.0/24'], enabled: false },
        {
          name: 'site-d',
          type: 'openvpn',
          remote_subnets: ['10.4.0.0/24'],
          openvpn: { topology: 'p2p', remote_ca: 'PEM', remote_name: 'site-d' },
        },
      ],
      routes: [
        { name: 'via-b', destination: '10.20.0.0/16', link: 'site-b' },
        { name: 'lan-gw', destination: '192.168.50.0/24', gateway: '10.1.0.254', metric: 5 },
      ],
    };
    const result = okOf(putConfig(doc));
    const body = result.body as typeof doc & {
      links: Record<string, unknown>[];
      routes: Record<string, unknown>[];
    };
    assert.equal(body.links[0]?.enabled, true);
    assert.deepEqual(body.links[0]?.wireguard, {
      peer_public_key: PEER_KEY,
      listen_port: 51820,
      persistent_keepalive: 25,
      endpoint_refresh: 60,
    });
    assert.equal(body.links[1]?.enabled, false, 'a given value is kept');
    assert.deepEqual(body.links[1]?.ipsec, undefined, 'an absent optional block stays absent');
    assert.equal(body.routes[0]?.metric, 100);
    assert.equal(body.routes[1]?.metric, 5);
    assert.equal(doc.links[0] && 'enabled' in doc.links[0], false, "the caller's body is not modified");
  });

  void it('fills in top-level defaults of a minimal document', () => {
    const result = okOf(putConfig({ appliance: { name: 'a' } }));
    assert.deepEqual(result.body, { appliance: { name: 'a', local_subnets: [] }, links: [], routes: [] });
  });

  void it('reports an unknown link type once, at /type, naming the allowed types', () => {
    const errors = errorsOf(putConfig(configWith([wireguardLink({ type: 'gre' })])));
    assert.deepEqual(errors, [
      { pointer: '/links/0/type', message: 'must be one of: wireguard, ipsec, openvpn (got "gre")' },
    ]);
  });

  void it('reports a missing link type at /type', () => {
    const { type: _type, ...untyped } = wireguardLink();
    const errors = errorsOf(putConfig(configWith([untyped])));
    assert.deepEqual(errors, [
      { pointer: '/links/0/type', message: 'is required (one of: wireguard, ipsec, openvpn)' },
    ]);
  });

  void it('rejects a link that is not an object', () => {
    const errors = errorsOf(putConfig(configWith(['site-b', null])));
    assert.deepEqual(
      errors.map((e) => e.pointer),
      ['/links/0', '/links/1'],
    );
    assert.match(errors[0]?.message ?? '', /^must be an object \(got "site-b"\)$/);
  });

  void it('checks a wireguard link against the wireguard branch only', () => {
    const { peer_public_key: _key, ...noKey } = wireguardLink().wireguard;
    const errors = errorsOf(putConfig(configWith([{ ...wireguardLink(), wireguard: noKey }])));
    assert.deepEqual(errors, [{ pointer: '/links/0/wireguard/peer_public_key', message: 'is required' }]);

    const more = errorsOf(
      putConfig(configWith([wireguardLink({ ipsec: { version: 'ikev2' } }, { listen_port: 0 })])),
    );
    assert.deepEqual(
      more.map((e) => e.pointer),
      ['/links/0/wireguard/listen_port', '/links/0/ipsec'],
    );
    assert.equal(more[0]?.message, 'must be an integer between 1 and 65535 (got 0)');
    assert.match(more[1]?.message ?? '', /^unknown field "ipsec" — allowed here: type, wireguard, name, /);
  });

  void it('requires the wireguard block of a wireguard link', () => {
    const { wireguard: _wg, ...bare } = wireguardLink();
    assert.deepEqual(errorsOf(putConfig(configWith([bare]))), [
      { pointer: '/links/0/wireguard', message: 'is required' },
    ]);
  });

  void it('names the array element of a bad CIDR and says what a CIDR looks like', () => {
    const errors = errorsOf(
      putConfig(configWith([wireguardLink({ remote_subnets: ['10.1.0.0', '10.9.0.0/24'] })])),
    );
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.pointer, '/links/0/remote_subnets/0');
    assert.equal(
      errors[0]?.message,
      'must be an IPv4 or IPv6 prefix in CIDR notation, e.g. 10.1.0.0/24 or fd00:1::/64 (got "10.1.0.0")',
    );
  });

  void it('does not report the known fields of a link as unknown when one of them is invalid', () => {
    const errors = errorsOf(putConfig(configWith([wireguardLink({ mtu: 100, remote_subnets: [] })])));
    assert.deepEqual(errors, [
      { pointer: '/links/0/remote_subnets', message: 'must have between 1 and 256 items (got 0)' },
      { pointer: '/links/0/mtu', message: 'must be an integer between 1280 and 9000 (got 100)' },
    ]);
  });

  void it('reports an unknown top-level field at its own pointer, listing the allowed ones', () => {
    const errors = errorsOf(putConfig(configWith([], { foo: 1 })));
    assert.deepEqual(errors, [
      {
        pointer: '/foo',
        message:
          'unknown field "foo" — allowed here: schema_version, appliance, links, routes, nat, firewall, multicast',
      },
    ]);
  });

  void it('suggests the field a typo meant', () => {
    const errors = errorsOf(putConfig({ appliance: { name: 'a', local_subnet: [] } }));
    assert.equal(errors[0]?.pointer, '/appliance/local_subnet');
    assert.match(errors[0]?.message ?? '', /did you mean "local_subnets"\?/);
  });

  void it('points a missing required field at the field itself', () => {
    assert.deepEqual(errorsOf(putConfig({ appliance: {} })), [
      { pointer: '/appliance/name', message: 'is required' },
    ]);
    assert.deepEqual(errorsOf(putConfig({})), [{ pointer: '/appliance', message: 'is required' }]);
  });

  void it('accepts read-only fields in a request and drops them, so a GET document can be PUT back', () => {
    const link = wireguardLink(
      {},
      { public_key: 'not even a key', preshared_key_set: 'yes', preshared_key: PSK },
    );
    const result = okOf(putConfig(configWith([link])));
    const wg = (result.body as { links: { wireguard: Record<string, unknown> }[] }).links[0]?.wireguard;
    assert.ok(wg);
    assert.equal('public_key' in wg, false);
    assert.equal('preshared_key_set' in wg, false);
    assert.equal(wg.preshared_key, PSK, 'write-only fields are accepted and kept');
  });

  void it('does not list read-only fields as allowed, and never echoes a secret', () => {
    const errors = errorsOf(
      putConfig(configWith([wireguardLink({}, { preshared_key: 'hunter2', pubkey: 'x' })])),
    );
    const psk = errors.find((e) => e.pointer === '/links/0/wireguard/preshared_key');
    assert.ok(psk);
    assert.doesNotMatch(psk.message, /hunter2/);
    const unknown = errors.find((e) => e.pointer === '/links/0/wireguard/pubkey');
    assert.ok(unknown);
    assert.doesNotMatch(unknown.message, /[\s:]public_key|preshared_key_set/);
    assert.match(unknown.message, /peer_public_key/);
  });

  void it('validates other bodies: a route with a bad gateway and an unknown enum value', () => {
    const route = request({
      method: 'POST',
      routePath: '/routes',
      body: { name: 'r1', destination: '10.0.0.0/8', gateway: 'router', metric: -1 },
    });
    assert.deepEqual(
      errorsOf(route).map((e) => e.pointer),
      ['/gateway', '/metric'],
    );
    const token = request({ method: 'POST', routePath: '/tokens', body: { name: 'ops', role: 'root' } });
    assert.deepEqual(errorsOf(token), [
      { pointer: '/role', message: 'must be one of: admin, viewer (got "root")' },
    ]);
  });

  void it('wants a JSON body when one is required', () => {
    const expected = [
      {
        pointer: '',
        message: 'a JSON body is required: send the document with Content-Type: application/json',
      },
    ];
    assert.deepEqual(errorsOf(request({ method: 'POST', routePath: '/links' })), expected);
    assert.deepEqual(errorsOf(request({ method: 'POST', routePath: '/links', body: '' })), expected);
    class NotJson {}
    assert.deepEqual(
      errorsOf(request({ method: 'POST', routePath: '/links', body: new NotJson() })),
      expected,
    );
    assert.deepEqual(errorsOf(request({ method: 'POST', routePath: '/links', body: [] })), [
      { pointer: '', message: 'must be an object (got an empty array)' },
    ]);
  });

  void it('passes a body through for an operation that takes none', () => {
    const result = okOf(request({ method: 'POST', routePath: '/config/confirm', body: { anything: 1 } }));
    assert.deepEqual(result.body, { anything: 1 });
  });

  void it('reports each problem once', () => {
    const errors = errorsOf(
      putConfig(configWith([wireguardLink({ remote_subnets: ['x', 'y'], extra: 1 }, { listen_port: 'z' })])),
    );
    const keys = errors.map((e) => `${e.pointer} ${e.message}`);
    assert.equal(new Set(keys).size, keys.length);
    assert.deepEqual(
      errors.map((e) => e.pointer),
      [
        '/links/0/remote_subnets/0',
        '/links/0/remote_subnets/1',
        '/links/0/wireguard/listen_port',
        '/links/0/extra',
      ],
    );
  });
});

void describe('OpenApiValidator: parameters', () => {
  void it('coerces dry_run=true to a boolean and fills parameter defaults', () => {
    const result = okOf(putConfig(configWith([]), { dry_run: 'true', confirm_timeout: '60' }));
    assert.deepEqual(result.query, { dry_run: true, confirm_timeout: 60 });
    assert.deepEqual(okOf(putConfig(configWith([]))).query, { dry_run: false });
  });

  void it('rejects dry_run=maybe at /query/dry_run', () => {
    assert.deepEqual(errorsOf(putConfig(configWith([]), { dry_run: 'maybe' })), [
      { pointer: '/query/dry_run', message: 'must be true or false (got "maybe")' },
    ]);
  });

  void it('rejects a confirm_timeout below the minimum, naming the range', () => {
    assert.deepEqual(errorsOf(putConfig(configWith([]), { confirm_timeout: '2' })), [
      { pointer: '/query/confirm_timeout', message: 'must be an integer between 5 and 86400 (got 2)' },
    ]);
    assert.equal(
      errorsOf(putConfig(configWith([]), { confirm_timeout: 'soon' }))[0]?.message,
      'must be an integer between 5 and 86400 (got "soon")',
    );
  });

  void it('rejects a parameter given twice and an unknown one', () => {
    const errors = errorsOf(putConfig(configWith([]), { dry_run: ['true', 'false'], dryrun: 'true' }));
    assert.deepEqual(errors, [
      { pointer: '/query/dry_run', message: 'must be given once (got 2 values)' },
      {
        pointer: '/query/dryrun',
        message:
          'unknown query parameter "dryrun" (did you mean "dry_run"?) — allowed here: dry_run, confirm_timeout, message',
      },
    ]);
  });

  void it('can let unknown query parameters through', () => {
    const lenient = new OpenApiValidator(loadSpec(), { unknownQueryParameters: 'ignore' });
    const result = lenient.validateRequest({
      method: 'GET',
      routePath: '/status',
      params: {},
      query: { _: '123' },
      headers: {},
      body: undefined,
    });
    assert.ok(result.ok);
  });

  void it('rejects a path {name} that is not a resource name', () => {
    const errors = errorsOf(
      request({ method: 'DELETE', routePath: '/links/{name}', params: { name: 'Site-B' } }),
    );
    assert.deepEqual(errors, [
      {
        pointer: '/path/name',
        message:
          'must be a resource name — lower case letters, digits and dashes, starting with a letter (got "Site-B")',
      },
    ]);
    okOf(request({ method: 'DELETE', routePath: '/links/{name}', params: { name: 'site-b' } }));
  });

  void it('coerces an integer path parameter', () => {
    const route = '/config/revisions/{number}';
    assert.deepEqual(okOf(request({ method: 'GET', routePath: route, params: { number: '12' } })).params, {
      number: 12,
    });
    assert.equal(
      errorsOf(request({ method: 'GET', routePath: route, params: { number: '0' } }))[0]?.pointer,
      '/path/number',
    );
  });

  void it('validates headers by their spec name, case-insensitively', () => {
    const errors = errorsOf(
      request({ method: 'GET', routePath: '/events', headers: { 'last-event-id': 'abc' } }),
    );
    assert.deepEqual(errors, [
      { pointer: '/header/Last-Event-ID', message: 'must match the pattern ^[0-9]+$ (got "abc")' },
    ]);
    okOf(request({ method: 'GET', routePath: '/events', headers: { 'last-event-id': '42' } }));
  });

  void it('throws for an operation the spec does not have', () => {
    assert.throws(
      () => request({ method: 'PATCH', routePath: '/links/{name}' }),
      /no operation PATCH \/links\/\{name\}/,
    );
  });
});

void describe('OpenApiValidator: operations', () => {
  const spec = loadSpec();

  void it('finds the operation of every method and path template in the spec', () => {
    let count = 0;
    for (const [template, item] of Object.entries(spec.paths)) {
      const concrete = template.replace(/\{[^}]+\}/g, (m) => (m === '{number}' ? '7' : 'site-b'));
      for (const [method, op] of Object.entries(item)) {
        const operationId = (op as { operationId?: string }).operationId;
        if (!operationId) continue;
        const match = validator.findOperation(method.toUpperCase(), concrete);
        assert.ok(match, `${method} ${concrete}`);
        assert.equal(match.operationId, operationId);
        assert.equal(match.routePath, template);
        count++;
      }
    }
    assert.ok(count >= 25, `only ${count} operations`);
  });

  void it('extracts and decodes path parameters, and prefers the literal path', () => {
    assert.deepEqual(validator.findOperation('get', '/config/revisions/12')?.params, { number: '12' });
    assert.equal(validator.findOperation('GET', '/config/revisions')?.operationId, 'listRevisions');
    assert.deepEqual(validator.findOperation('GET', '/links/site%2Db/status')?.params, { name: 'site-b' });
    assert.equal(validator.findOperation('GET', '/links/a/b'), undefined);
    assert.equal(validator.findOperation('PATCH', '/links/a'), undefined);
    assert.equal(validator.findOperation('GET', '/nope'), undefined);
    assert.equal(validator.findOperation('HEAD', '/health')?.operationId, 'getHealth');
  });

  void it('knows which operations need a token', () => {
    assert.equal(validator.findOperation('GET', '/health')?.security, false);
    assert.equal(validator.findOperation('GET', '/docs')?.security, false);
    assert.equal(validator.findOperation('PUT', '/config')?.security, true);
  });

  void it('describes an operation by its operationId', () => {
    const op = validator.operation('putLink');
    assert.ok(op);
    assert.equal(op.method, 'PUT');
    assert.equal(op.routePath, '/links/{name}');
    assert.deepEqual(op.tags, ['links']);
    assert.deepEqual(
      op.parameters.map((p) => `${p.in}:${p.name}:${p.required}`),
      ['path:name:true', 'header:If-Match:false', 'query:dry_run:false'],
    );
    assert.deepEqual(op.requestBody, { required: true, contentTypes: ['application/json'] });
    assert.equal(validator.operation('nope'), undefined);
    assert.equal(
      validator.operations().length,
      new Set(validator.operations().map((o) => o.operationId)).size,
    );
  });

  void it('fails at start-up when a discriminator mapping contradicts its branches', () => {
    const broken = structuredClone(spec);
    const link = broken.components.schemas.Link as { discriminator: { mapping: Record<string, string> } };
    link.discriminator.mapping.ipsec = '#/components/schemas/OpenVpnLink';
    assert.throws(() => new OpenApiValidator(broken), /Link\.discriminator maps "ipsec"/);
  });

  void it('fails at start-up on a schema typo', () => {
    const broken = structuredClone(spec);
    (broken.components.schemas.Name as Record<string, unknown>).minLenght = 1;
    assert.throws(() => new OpenApiValidator(broken), /cannot compile the schema/);
  });
});
