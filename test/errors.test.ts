import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { asErrorCode, DchatError, EXIT_SECURITY, EXIT_USAGE, exitCodeFor } from '../src/errors.ts';

test('asErrorCode keeps our codes and turns anything else into the fallback', () => {
  assert.equal(asErrorCode('E_BUSY'), 'E_BUSY');
  assert.equal(asErrorCode('E_CHUNK_MISMATCH'), 'E_CHUNK_MISMATCH');
  assert.equal(asErrorCode('E_NOT_OURS'), 'E_INTERNAL');
  assert.equal(asErrorCode('e_busy'), 'E_INTERNAL');
  assert.equal(asErrorCode(undefined, 'E_NETWORK'), 'E_NETWORK');
  assert.equal(asErrorCode(7), 'E_INTERNAL');
  assert.equal(exitCodeFor(asErrorCode('E_USAGE')), EXIT_USAGE);
  assert.equal(exitCodeFor(asErrorCode('E_SIGNATURE')), EXIT_SECURITY);
});

test('whatever a peer sends as a code, the error made from it has a code we define', () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string(), fc.constantFrom('E_BUSY', 'E_MALFORMED', '__proto__', 'toString')),
      (c) => {
        const e = new DchatError(asErrorCode(c), 'from a peer');
        assert.equal(asErrorCode(e.code), e.code);
      },
    ),
  );
});
