/**
 * Activation notes (governance/notes.ts): the check of readiness and rollback notes as a rule
 * table, the stake-ready count (only validators' valid notes for exactly this proposal, version
 * and package count, once each; a later rollback note withdraws readiness), the gossip core's
 * replay rule for the two kinds, and fast-check properties: the count does not depend on order
 * or repeats, and hostile notes are refused with a code, never a crash.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseGossipMessage } from '../../src/gossip/core/messages.ts';
import { KIND_RULES } from '../../src/gossip/core/object-kinds.ts';
import {
  buildReadiness,
  buildRollbackNote,
  checkNote,
  type NoteCheckContext,
  readyStake,
  rollbackEntries,
  shareString,
} from '../../src/governance/notes.ts';
import { objectId, signObject } from '../../src/governance/signing.ts';
import { MAX_NODE_NOTES, type Readiness, type RollbackNote } from '../../src/model/activation-notes.ts';
import { type Key, key, network, proposal, T0 } from './fixtures.ts';

const net = network({ stakes: [40, 30, 20, 10] });
const p = proposal(net);
const pid = objectId(p);
const [v0, v1, v2, v3] = net.validators as [Key, Key, Key, Key];
const outsider = key();

function ready(k: Key, over: Partial<Readiness> = {}, at = 5000): Readiness {
  return buildReadiness(k.priv, {
    network_id: net.g.networkId,
    proposal_id: pid,
    version: p.version,
    release_sha256: p.release_sha256,
    activation_height: p.activation_height,
    time_ms: T0 + at,
    height: 1200,
    ...over,
  });
}
function rolled(k: Key, over: Partial<RollbackNote> = {}, at = 9000): RollbackNote {
  return buildRollbackNote(k.priv, {
    network_id: net.g.networkId,
    version: p.version,
    to: '1.0.0',
    proposal_id: pid,
    height: p.activation_height,
    reason: 'did not report healthy within 30000 ms',
    time_ms: T0 + at,
    ...over,
  });
}
const ctx = (over: Partial<NoteCheckContext> = {}): NoteCheckContext => ({
  now_ms: T0 + 10_000,
  holds: () => false,
  nodeSigners: () => 0,
  ...over,
});

test('checkNote: rule table', () => {
  const good = ready(v0);
  const forged = { ...good, version: '9.9.9' };
  const resigned = (n: Readiness | RollbackNote, k: Key) =>
    signObject(k.priv, { ...n, signature: undefined }) as unknown as Readiness;
  const rows: [
    string,
    'readiness' | 'rollback',
    Readiness | RollbackNote,
    string | undefined,
    string | null,
  ][] = [
    ['a validator ready', 'readiness', good, undefined, null],
    ['a validator rolled back', 'rollback', rolled(v1), undefined, null],
    ['a node that is not a validator (room left)', 'readiness', ready(outsider), undefined, null],
    ['id that is not the hash', 'readiness', good, 'f'.repeat(64), 'E_MALFORMED'],
    ['readiness sent as a rollback note', 'rollback', good, undefined, 'E_MALFORMED'],
    ['another network', 'readiness', ready(v0, { network_id: 'dchat-other' }), undefined, 'E_WRONG_NETWORK'],
    ['changed after signing', 'readiness', forged, undefined, 'E_SIGNATURE'],
    [
      'signed by another key than it names',
      'readiness',
      { ...resigned(good, v1), signer: v0.pub },
      undefined,
      'E_SIGNATURE',
    ],
    ['dated beyond the clock skew', 'readiness', ready(v0, {}, 10_000 + 61_000), undefined, 'E_BUSY'],
    ['dated within the clock skew', 'readiness', ready(v0, {}, 10_000 + 59_000), undefined, null],
  ];
  for (const [name, kind, note, id, code] of rows) {
    const v = checkNote(net.g, kind, id ?? objectId(note), note, ctx());
    if (code === null) assert.ok(v.ok, `${name}: ${v.ok ? '' : v.reason}`);
    else assert.equal(v.ok ? 'ok' : v.code, code, name);
  }
});

test('checkNote: signers that are not validators are capped; validators and held signers never are', () => {
  const full = ctx({ nodeSigners: () => MAX_NODE_NOTES });
  const n = ready(outsider);
  const refused = checkNote(net.g, 'readiness', objectId(n), n, full);
  assert.equal(refused.ok ? 'ok' : refused.code, 'E_BUSY');
  // A newer note of a signer already held replaces its own slot: taken.
  const again = checkNote(net.g, 'readiness', objectId(n), n, {
    ...full,
    holds: (_k, s) => s === outsider.pub,
  });
  assert.ok(again.ok);
  const v = ready(v3);
  assert.ok(checkNote(net.g, 'readiness', objectId(v), v, full).ok);
});

test('readyStake: rule table', () => {
  const cases: [string, Readiness[], RollbackNote[], number, string[]][] = [
    ['nobody', [], [], 0, []],
    ['two validators', [ready(v0), ready(v2)], [], 60, ['validator-0', 'validator-2']],
    [
      'the same validator twice (two notes) counts once',
      [ready(v1), ready(v1, {}, 6000)],
      [],
      30,
      ['validator-1'],
    ],
    ['a node that is not a validator counts nothing', [ready(outsider), ready(v3)], [], 10, ['validator-3']],
    ['another proposal', [ready(v0, { proposal_id: 'c'.repeat(64) })], [], 0, []],
    ['another version', [ready(v0, { version: '1.2.0' })], [], 0, []],
    ['another package hash', [ready(v0, { release_sha256: 'd'.repeat(64) })], [], 0, []],
    ['another activation height', [ready(v0, { activation_height: 1 })], [], 0, []],
    ['a forged note', [{ ...ready(v0), height: 1 }], [], 0, []],
    ['rolled back after being ready', [ready(v0), ready(v1)], [rolled(v0)], 30, ['validator-1']],
    [
      'rolled back before being ready again',
      [ready(v0, {}, 9500)],
      [rolled(v0, {}, 9000)],
      40,
      ['validator-0'],
    ],
    [
      'a rollback of another version withdraws nothing',
      [ready(v0)],
      [rolled(v0, { version: '1.0.1' })],
      40,
      ['validator-0'],
    ],
    [
      'a forged rollback withdraws nothing',
      [ready(v0)],
      [{ ...rolled(v0), reason: 'x' }],
      40,
      ['validator-0'],
    ],
    [
      'every validator',
      [ready(v0), ready(v1), ready(v2), ready(v3)],
      [],
      100,
      ['validator-0', 'validator-1', 'validator-2', 'validator-3'],
    ],
  ];
  for (const [name, notes, rollbacks, stake, who] of cases) {
    const r = readyStake(net.g, p, pid, notes, rollbacks);
    assert.equal(r.ready_stake, stake, name);
    assert.equal(r.total_stake, 100, name);
    assert.deepEqual(
      r.validators.map((v) => v.key_id),
      who,
      name,
    );
    assert.equal(r.ready_share, shareString(stake, 100), name);
  }
});

test('shareString: rounded down, four decimals', () => {
  assert.equal(shareString(0, 0), '0.0000');
  assert.equal(shareString(2, 3), '0.6666');
  assert.equal(shareString(100, 100), '1.0000');
  assert.equal(shareString(7, 10), '0.7000');
});

test('rollbackEntries: who and stake, newest first, forged ones left out, capped', () => {
  const notes = [rolled(v0, {}, 1000), rolled(outsider, { reason: 'crashed' }, 3000), rolled(v2, {}, 2000)];
  notes.push({ ...rolled(v1), to: '0.9.0' });
  const e = rollbackEntries(net.g, notes, 10);
  assert.deepEqual(
    e.map((x) => [x.key_id, x.stake, x.time_ms - T0]),
    [
      [null, 0, 3000],
      ['validator-2', 20, 2000],
      ['validator-0', 40, 1000],
    ],
  );
  assert.equal(e[0]?.signer, outsider.pub);
  assert.equal(e[0]?.reason, 'crashed');
  assert.equal(rollbackEntries(net.g, notes, 1).length, 1);
});

test('gossip core: one note of each kind per signer, the latest signed one wins', () => {
  for (const kind of ['readiness', 'rollback'] as const) {
    const rule = KIND_RULES[kind];
    const a = kind === 'readiness' ? ready(v0, {}, 1000) : rolled(v0, {}, 1000);
    const b = kind === 'readiness' ? ready(v0, {}, 2000) : rolled(v0, {}, 2000);
    const other = kind === 'readiness' ? ready(v1) : rolled(v1);
    assert.equal(rule.slot(a as never, objectId(a)), rule.slot(b as never, objectId(b)));
    assert.notEqual(rule.slot(a as never, objectId(a)), rule.slot(other as never, objectId(other)));
    assert.ok(rule.supersedes(b as never, objectId(b), a as never, objectId(a)));
    assert.ok(!rule.supersedes(a as never, objectId(a), b as never, objectId(b)));
    // The wire: both kinds travel in announce messages and pass the schema.
    const m = parseGossipMessage({
      format: 'dchat.gossip/1',
      type: 'announce',
      kind,
      id: objectId(a),
      object: a,
      ttl: 3,
    });
    assert.ok(m.ok, m.ok ? '' : m.error.message);
  }
});

test('property: the stake ready does not depend on note order or repeats', () => {
  const pool: Readiness[] = [
    ...net.validators.flatMap((v, i) => [ready(v, {}, 1000 + i), ready(v, {}, 3000 + (i % 2) * 1000)]),
    ready(outsider),
    ready(v0, { version: '2.0.0' }),
    { ...ready(v1), height: 7 },
  ];
  const rb: RollbackNote[] = [rolled(v2, {}, 3500), rolled(v3, {}, 500)];
  fc.assert(
    fc.property(
      fc
        .subarray(pool)
        .chain((s) => fc.tuple(fc.constant(s), fc.shuffledSubarray(s, { minLength: s.length }))),
      fc.subarray(rb),
      fc.nat(),
      ([subset, shuffled], rollbacks, cut) => {
        const base = readyStake(net.g, p, pid, subset, rollbacks);
        assert.deepEqual(readyStake(net.g, p, pid, shuffled, [...rollbacks].reverse()), base);
        const repeated = [...shuffled, ...shuffled.slice(0, cut % (shuffled.length + 1))];
        assert.deepEqual(readyStake(net.g, p, pid, repeated, rollbacks), base);
        assert.ok(base.ready_stake <= base.total_stake);
      },
    ),
    { numRuns: 200 },
  );
});

test('property: hostile notes get a coded refusal or pass the schema first, never a crash', () => {
  const base = ready(v0);
  fc.assert(
    fc.property(
      fc.record({
        time_ms: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
        height: fc.option(fc.nat()),
        signer: fc.oneof(fc.constant(v0.pub), fc.constant(outsider.pub), fc.stringMatching(/^[0-9a-f]{64}$/)),
        network_id: fc.oneof(fc.constant(net.g.networkId), fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/)),
        signature: fc.oneof(fc.constant(base.signature), fc.stringMatching(/^[0-9a-f]{128}$/)),
      }),
      (over) => {
        const n = { ...base, ...over } as Readiness;
        const v = checkNote(
          net.g,
          'readiness',
          objectId(n),
          n,
          ctx({ now_ms: Number.MAX_SAFE_INTEGER - 60_001 }),
        );
        if (v.ok) assert.equal(JSON.stringify(n), JSON.stringify(base));
        else assert.match(v.code, /^E_[A-Z_]+$/);
      },
    ),
    { numRuns: 300 },
  );
});
