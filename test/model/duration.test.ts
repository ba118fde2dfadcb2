/** parseDuration (src/model/duration.ts): `<n>s|m|h|d` or a usage error naming the flag. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { UsageError } from '../../src/errors.ts';
import { parseDuration } from '../../src/model/duration.ts';
import { outcome } from '../helpers/fuzz.ts';

const UNIT = { s: 1, m: 60, h: 3600, d: 86400 } as const;
const MAX = 20 * 365 * 86400;

describe('parseDuration', () => {
  test('examples', () => {
    assert.equal(parseDuration('30s', '--expires'), 30);
    assert.equal(parseDuration('15m', '--expires'), 900);
    assert.equal(parseDuration('12h', '--expires'), 43_200);
    assert.equal(parseDuration(' 7d ', '--expires'), 604_800);
    for (const bad of ['', '7', 'd', '7w', '-1d', '1.5h', '0s', '7D', '7 d', '7300d1', '99999d'])
      assert.throws(() => parseDuration(bad, '--expires'), /^UsageError: --expires: /);
  });

  test('valid durations give n * unit seconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7300 }), fc.constantFrom('s', 'm', 'h', 'd'), (n, u) => {
        assert.equal(parseDuration(`${n}${u}`, '--x'), n * UNIT[u as keyof typeof UNIT]);
      }),
    );
  });

  test('any string: seconds in [1, max] or E_USAGE naming the flag, nothing else', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 30 }),
          fc
            .tuple(fc.bigInt({ min: -10n, max: 10n ** 12n }), fc.constantFrom('s', 'm', 'h', 'd', 'w', ''))
            .map(([n, u]) => `${n}${u}`),
        ),
        fc.constantFrom('--expires', '--duration'),
        (s, flag) => {
          const r = outcome(() => parseDuration(s, flag), ['E_USAGE']);
          if (r.ok) assert.ok(Number.isInteger(r.value) && r.value >= 1 && r.value <= MAX, String(r.value));
          else {
            assert.ok(r.error instanceof UsageError);
            assert.ok(r.error.message.startsWith(`${flag}: `), r.error.message);
            assert.deepEqual(r.error.details, { flag });
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
