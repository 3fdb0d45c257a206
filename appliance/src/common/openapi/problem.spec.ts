import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarizeErrors, validationProblem } from './problem.js';

void describe('validation problem', () => {
  void it('builds the RFC 9457 body with every error and a summary of the first', () => {
    const errors = [
      { pointer: '/links/0/type', message: 'must be one of: wireguard, ipsec, openvpn (got "gre")' },
      { pointer: '/query/dry_run', message: 'must be true or false (got "maybe")' },
    ];
    assert.deepEqual(validationProblem(errors, '/api/v1/config'), {
      type: 'urn:weft:problem:validation',
      title: 'Request does not match the API schema',
      status: 400,
      detail:
        '2 problems in the request; first: /links/0/type must be one of: wireguard, ipsec, openvpn (got "gre")',
      instance: '/api/v1/config',
      errors,
    });
  });

  void it('names the whole body and counts one problem in the singular', () => {
    assert.equal(
      summarizeErrors([{ pointer: '', message: 'a JSON body is required' }]),
      '1 problem in the request; first: (body) a JSON body is required',
    );
    assert.equal('instance' in validationProblem([]), false);
  });
});
