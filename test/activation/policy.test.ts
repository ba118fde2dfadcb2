/**
 * The auto-update policy (src/activation/schedule/policy.ts): every saved setting changes the
 * decision (enabled, security_only, channel, pin, check interval, background download,
 * auto_restart), staged releases reach the signed share of 1,000 nodes, and properties: the
 * target is always a trusted release newer than the running one (or the pin), never outside the
 * channel or the stage.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  type Candidate,
  checkPin,
  decideAutoUpdate,
  type PolicyInput,
} from '../../src/activation/schedule/policy.ts';
import { inRollout } from '../../src/activation/schedule/rollout.ts';
import { type AutoUpdateConfig, DEFAULT_AUTO_UPDATE } from '../../src/model/auto-update.ts';
import { CHANNELS } from '../../src/model/package.ts';
import { compareVersions } from '../../src/model/version.ts';

const HOUR = 3_600_000;
const RELEASES: Candidate[] = [
  { version: '1.0.0', channel: 'stable', security: false },
  { version: '1.0.1', channel: 'stable', security: true },
  { version: '1.1.0', channel: 'stable', security: false },
  { version: '1.2.0-beta.1', channel: 'beta', security: false },
  { version: '1.3.0-nightly.5', channel: 'nightly', security: true },
];

function decide(config: Partial<AutoUpdateConfig>, over: Partial<PolicyInput> = {}) {
  return decideAutoUpdate({
    config: { ...DEFAULT_AUTO_UPDATE, enabled: true, ...config },
    current: '1.0.0',
    node_id: 'node-a',
    now_ms: 100 * HOUR,
    last_check_ms: null,
    candidates: RELEASES,
    ...over,
  });
}

describe('auto-update policy: each setting', () => {
  test('disabled: no check, no target, whatever is available', () => {
    const d = decide({ enabled: false });
    assert.equal(d.check_due, false);
    assert.equal(d.target, null);
  });

  test('security_only (the default): only releases flagged security in the signed metadata', () => {
    assert.equal(decide({}).target, '1.0.1');
    assert.deepEqual(
      decide({}).skipped.find((s) => s.version === '1.1.0'),
      { version: '1.1.0', reason: 'not-security' },
    );
    assert.equal(decide({ security_only: false }).target, '1.1.0');
  });

  test('channels: stable < beta < nightly', () => {
    assert.equal(decide({ security_only: false, channel: 'stable' }).target, '1.1.0');
    assert.equal(decide({ security_only: false, channel: 'beta' }).target, '1.2.0-beta.1');
    assert.equal(decide({ security_only: false, channel: 'nightly' }).target, '1.3.0-nightly.5');
    assert.equal(decide({ security_only: true, channel: 'nightly' }).target, '1.3.0-nightly.5');
  });

  test('pin: the pinned release only (channel and security-only aside), never below the running one', () => {
    const d = decide({ pin: '1.1.0', channel: 'nightly' });
    assert.equal(d.target, '1.1.0');
    assert.ok(d.skipped.some((s) => s.version === '1.3.0-nightly.5' && s.reason === 'pinned'));
    assert.equal(decide({ pin: '1.1.0' }, { current: '1.1.0' }).target, null);
    assert.equal(decide({ pin: '1.0.0' }, { current: '1.1.0' }).target, null);
    assert.match(decide({ pin: '9.9.9' }).reason, /not a trusted release/);
    assert.equal(decide({ pin: '9.9.9' }).target, null);
  });

  test('check interval: due at last check + interval, not before', () => {
    assert.equal(decide({}).check_due, true);
    const last = 90 * HOUR;
    assert.equal(decide({ check_interval_hours: 12 }, { last_check_ms: last }).check_due, false);
    assert.equal(decide({ check_interval_hours: 12 }, { last_check_ms: last }).next_check_ms, 102 * HOUR);
    assert.equal(decide({ check_interval_hours: 10 }, { last_check_ms: last }).check_due, true);
  });

  test('background_download and auto_restart are passed on with the target', () => {
    assert.deepEqual(
      [decide({ background_download: true, auto_restart: false }).download, decide({}).restart],
      [true, false],
    );
    const d = decide({ background_download: false, auto_restart: true });
    assert.deepEqual([d.download, d.restart], [false, true]);
  });

  test('up to date: nothing', () => {
    assert.equal(
      decide({ security_only: false, channel: 'nightly' }, { current: '1.3.0-nightly.5' }).target,
      null,
    );
  });

  test('staged security release: 1,000 nodes, the share that updates matches the signed 20% within 3 points', () => {
    const staged: Candidate[] = [
      ...RELEASES.slice(0, 2),
      { version: '1.0.2', channel: 'stable', security: true, rollout_percentage: 20 },
    ];
    let updated = 0;
    for (let i = 0; i < 1000; i++) {
      const d = decide({}, { node_id: `node-${i}-${(i * 2654435761) % 1e9}`, candidates: staged });
      if (d.target === '1.0.2') updated++;
      // Nodes outside the stage keep the previous version (the staged release is skipped, not a fallback to nothing else).
      else assert.equal(d.target, '1.0.1');
    }
    assert.ok(Math.abs(updated / 10 - 20) <= 3, `${updated / 10}% updated`);
  });

  test('checkPin: a trusted version or none', () => {
    assert.equal(checkPin(null, []), 'ok');
    assert.equal(checkPin('1.1.0', ['1.0.0', '1.1.0']), 'ok');
    assert.equal(checkPin('9.9.9', ['1.0.0', '1.1.0']), 'untrusted');
  });
});

const versionArb = fc
  .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }))
  .map(([a, b, c]) => `${a}.${b}.${c}`);
const candidateArb: fc.Arbitrary<Candidate> = fc.record({
  version: versionArb,
  channel: fc.constantFrom(...CHANNELS),
  security: fc.boolean(),
  rollout_percentage: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
});

describe('auto-update policy: properties', () => {
  test('the target is newer than the running version, in the channel, security if asked, in its stage, or the pin', () => {
    const rank = { stable: 0, beta: 1, nightly: 2 };
    fc.assert(
      fc.property(
        fc.record({
          enabled: fc.boolean(),
          security_only: fc.boolean(),
          channel: fc.constantFrom(...CHANNELS),
          pin: fc.option(versionArb, { nil: null }),
          check_interval_hours: fc.integer({ min: 1, max: 48 }),
          auto_restart: fc.boolean(),
          background_download: fc.boolean(),
          keep_versions: fc.constant(3),
        }),
        fc.option(versionArb, { nil: null }),
        fc.uniqueArray(candidateArb, { selector: (c) => c.version, maxLength: 6 }),
        fc.string({ maxLength: 20 }),
        (config, current, candidates, node) => {
          const d = decideAutoUpdate({
            config,
            current,
            node_id: node,
            now_ms: 0,
            last_check_ms: null,
            candidates,
          });
          if (!config.enabled) return assert.equal(d.target, null);
          if (d.target === null) return;
          const c = candidates.find((x) => x.version === d.target);
          assert.ok(c, 'target is a trusted release');
          if (current !== null) assert.ok(compareVersions(c.version, current) > 0);
          if (config.pin !== null) return assert.equal(d.target, config.pin);
          assert.ok(rank[c.channel] <= rank[config.channel]);
          if (config.security_only) assert.ok(c.security);
          assert.ok(inRollout(node, c.version, c.rollout_percentage));
          assert.equal(d.download, config.background_download);
          assert.equal(d.restart, config.auto_restart);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
