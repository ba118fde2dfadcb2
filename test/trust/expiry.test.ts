/**
 * Expiry warnings (trust/expiry.ts): a role warns exactly when its expiry is within its window,
 * W_EXPIRED once past, with whole days left; the default windows (release/defaults.ts) are what
 * docs/maintainer-keys.md documents.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_EXPIRY, EXPIRY_WARNING_SEC } from '../../src/release/defaults.ts';
import { expiryWarnings } from '../../src/trust/expiry.ts';
import type { RoleName } from '../../src/trust/metadata.ts';
import { expiryString } from '../../src/trust/repository.ts';
import { at, DAY, NOW, ROLE_NAMES } from '../helpers/repo.ts';

const item = (role: RoleName, seconds: number) => ({ role, version: 3, expires: expiryString(NOW, seconds) });

test('table: inside the window warns, outside does not, past is W_EXPIRED', () => {
  const w = expiryWarnings(
    [item('root', 90 * DAY), item('targets', 9 * DAY + 5), item('snapshot', 3 * DAY), item('timestamp', -60)],
    NOW,
    EXPIRY_WARNING_SEC,
  );
  assert.deepEqual(
    w.map((x) => [x.code, x.role, x.days_left]),
    [
      ['W_EXPIRES_SOON', 'targets', 9],
      ['W_EXPIRED', 'timestamp', -1],
    ],
  );
  assert.equal(w[0]?.version, 3);
  assert.equal(w[0]?.expires, expiryString(NOW, 9 * DAY + 5));
});

test('freshly signed metadata with the default lifetimes never warns', () => {
  const items = ROLE_NAMES.map((r) => item(r, DEFAULT_EXPIRY[r]));
  assert.deepEqual(expiryWarnings(items, NOW, EXPIRY_WARNING_SEC), []);
  // ... and every role has a window shorter than its lifetime (else it would warn forever).
  for (const r of ROLE_NAMES) assert.ok(EXPIRY_WARNING_SEC[r] < DEFAULT_EXPIRY[r], r);
});

test('property: warns iff seconds left <= window; expired iff <= 0; days_left = floor(left / day)', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...ROLE_NAMES),
      fc.integer({ min: -400 * DAY, max: 400 * DAY }),
      fc.integer({ min: 0, max: 100 * DAY }),
      (role, left, window) => {
        const w = expiryWarnings([item(role, left)], NOW, {
          root: window,
          targets: window,
          snapshot: window,
          timestamp: window,
        });
        if (left > window) return w.length === 0;
        return (
          w.length === 1 &&
          w[0]?.code === (left <= 0 ? 'W_EXPIRED' : 'W_EXPIRES_SOON') &&
          w[0]?.days_left === Math.floor(left / DAY)
        );
      },
    ),
  );
});

test('an unparsable expiry is skipped (parsing already refused it; a warning is never a verdict)', () => {
  assert.deepEqual(
    expiryWarnings([{ role: 'root', version: 1, expires: 'soon' }], at(NOW, 0), EXPIRY_WARNING_SEC),
    [],
  );
});
