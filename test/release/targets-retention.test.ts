/**
 * targets-retention.ts: which targets `--keep-releases N` leaves out, on hand-made and random
 * target sets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ENCODED_FORMAT, encodedName } from '../../src/model/encoded.ts';
import { packageName, parsePackageName } from '../../src/model/platform.ts';
import { compareVersions } from '../../src/model/version.ts';
import { targetsBeyond } from '../../src/release/targets-retention.ts';

type Targets = Record<string, { custom?: unknown }>;

const pkg = (v: string, p = 'linux-x64') => ({
  [packageName(v, p)]: { custom: { format: 'dchat.target/1' } },
});
const patch = (to: string, from: string) => ({
  [encodedName(packageName(to, 'linux-x64'), 'bsdiff-x86', from)]: {
    custom: {
      format: ENCODED_FORMAT,
      to: packageName(to, 'linux-x64'),
      from: packageName(from, 'linux-x64'),
    },
  },
});
const zst = (v: string) => ({
  [encodedName(packageName(v, 'linux-x64'), 'zstd')]: {
    custom: { format: ENCODED_FORMAT, to: packageName(v, 'linux-x64') },
  },
});

test('keeps the newest N per platform (by version, not by name); patches to or from a dropped one go', () => {
  const t: Targets = {
    ...pkg('1.9.0'),
    ...pkg('1.10.0'),
    ...pkg('1.8.0'),
    ...pkg('2.0.0-beta.1'),
    ...pkg('1.8.0', 'linux-arm64'),
    ...zst('1.10.0'),
    ...zst('1.8.0'),
    ...patch('1.10.0', '1.9.0'),
    ...patch('1.10.0', '1.8.0'),
    'notes.txt': {},
  };
  // 2.0.0-beta.1 and 1.10.0 are the newest two of linux-x64; arm64 keeps its one.
  const x = (v: string) => packageName(v, 'linux-x64');
  assert.deepEqual(
    targetsBeyond(t, 2),
    [
      encodedName(x('1.10.0'), 'bsdiff-x86', '1.8.0'),
      encodedName(x('1.10.0'), 'bsdiff-x86', '1.9.0'),
      x('1.8.0'),
      encodedName(x('1.8.0'), 'zstd'),
      x('1.9.0'),
    ].sort(),
  );
  assert.deepEqual(targetsBeyond(t, 4), []);
  // A fix for an older line is kept by the publish that adds it.
  assert.deepEqual(
    targetsBeyond(t, 1, new Set(['dchat-1.8.0-linux-x64'])).includes('dchat-1.8.0-linux-x64'),
    false,
  );
});

const version = fc.tuple(fc.nat(3), fc.nat(12), fc.nat(5)).map(([a, b, c]) => `${a}.${b}.${c}`);

test('property: per platform at most N packages stay (plus those just published), the newest; every kept patch has both ends', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.tuple(version, fc.constantFrom('linux-x64', 'linux-arm64')), {
        maxLength: 30,
        selector: ([v, p]) => `${v}/${p}`,
      }),
      fc.array(fc.tuple(fc.nat(29), fc.nat(29)), { maxLength: 30 }),
      fc.integer({ min: 1, max: 6 }),
      fc.nat(29),
      (pkgs, pairs, keep, justIdx) => {
        const t: Targets = {};
        for (const [v, p] of pkgs) Object.assign(t, pkg(v, p));
        for (const [i, j] of pairs) {
          const a = pkgs[i % Math.max(1, pkgs.length)];
          const b = pkgs[j % Math.max(1, pkgs.length)];
          if (!a || !b || a[1] !== 'linux-x64' || b[1] !== 'linux-x64' || a[0] === b[0]) continue;
          Object.assign(t, patch(a[0], b[0]));
        }
        const just = pkgs[justIdx % Math.max(1, pkgs.length)];
        const published = new Set(just ? [packageName(just[0], just[1])] : []);
        const dropped = new Set(targetsBeyond(t, keep, published));
        const kept = Object.keys(t).filter((n) => !dropped.has(n));
        for (const p of ['linux-x64', 'linux-arm64']) {
          const all = pkgs.filter(([, q]) => q === p).map(([v]) => v);
          all.sort((a, b) => compareVersions(b, a));
          const stay = kept.flatMap((n) => {
            const parsed = parsePackageName(n);
            return parsed && parsed.platform === p && !n.includes('.from-') ? [parsed.version] : [];
          });
          const newest = all.slice(0, keep);
          // Every one of the newest N stays, and nothing else but what was just published.
          for (const v of newest) assert.ok(stay.includes(v), `${v} kept`);
          for (const v of stay)
            assert.ok(newest.includes(v) || published.has(packageName(v, p)), `${v} not beyond N`);
        }
        for (const n of kept) {
          const c = t[n]?.custom as { format?: string; to?: string; from?: string };
          if (c?.format !== ENCODED_FORMAT) continue;
          assert.ok(c.to && !dropped.has(c.to) && t[c.to], `${n}: its package stays`);
          if (c.from) assert.ok(!dropped.has(c.from) && t[c.from], `${n}: its base stays`);
        }
      },
    ),
    { numRuns: 300 },
  );
});
