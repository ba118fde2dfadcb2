/**
 * Counting rebuild attestations (trust/attestations.ts): only a DSSE envelope whose signature
 * verifies under the key its builder id names, whose subject is the signed package, and whose
 * builder was not counted already (and is trusted, when the network names its builders) counts.
 * Forged, wrong-subject and duplicate-builder attestations are reported, never counted, and junk
 * of any shape is a reason, never an exception.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { generateEd25519 } from '../../src/crypto/ed25519.ts';
import {
  builderId,
  COMPARISON_BYPRODUCT,
  DCHAT_BUILD_TYPE,
  type Envelope,
  SLSA_PROVENANCE,
  STATEMENT_TYPE,
  type Statement,
} from '../../src/model/attestation.ts';
import { countAttestations, openEnvelope, parseBundle, signStatement } from '../../src/trust/attestations.ts';
import { signingKeyFromPrivate } from '../../src/trust/keys.ts';

const target = { name: 'dchat-1.2.0-linux-x64', sha256: 'a'.repeat(64), blake3: 'b'.repeat(64) };
const builder = () => signingKeyFromPrivate(generateEd25519().privateKey);

function statement(
  publicHex: string,
  digest = { sha256: target.sha256, blake3: target.blake3 },
  name = target.name,
): Statement {
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name, digest }],
    predicateType: SLSA_PROVENANCE,
    predicate: {
      buildDefinition: {
        buildType: DCHAT_BUILD_TYPE,
        externalParameters: {
          version: '1.2.0',
          platform: 'linux-x64',
          source: { commit: 'c'.repeat(40), dirty: false },
        },
      },
      runDetails: {
        builder: { id: builderId(publicHex) },
        byproducts: [{ name: COMPARISON_BYPRODUCT, annotations: { matched_published: true } }],
      },
    },
  };
}

const attest = (k = builder(), digest?: { sha256: string; blake3: string }) =>
  signStatement(statement(k.publicHex, digest), k);

describe('countAttestations', () => {
  test('distinct honest builders each count once', () => {
    const [a, b] = [builder(), builder()];
    const c = countAttestations([attest(a), attest(b)], target);
    assert.deepEqual(c.matching.map((m) => m.builder).sort(), [a.publicHex, b.publicHex].sort());
    assert.deepEqual(c.rejected, []);
    assert.equal(c.matching[0]?.commit, 'c'.repeat(40));
  });

  test('a forged attestation (payload changed after signing, or signed by a key other than the named builder) does not count', () => {
    const a = builder();
    const good = attest(a);
    const payload = JSON.parse(Buffer.from(good.payload, 'base64').toString('utf8')) as Statement;
    (payload.predicate.buildDefinition.externalParameters as { version: string }).version = '9.9.9';
    const edited: Envelope = { ...good, payload: Buffer.from(JSON.stringify(payload)).toString('base64') };
    const impostor = builder();
    // Names builder a, signed by another key: a key cannot vote in another builder's name.
    const stolenName = signStatement(statement(a.publicHex), impostor);
    const c = countAttestations([edited, stolenName], target);
    assert.equal(c.matching.length, 0);
    assert.deepEqual(
      c.rejected.map((r) => r.reason),
      ['forged', 'forged'],
    );
  });

  test('a wrong-subject attestation (other bytes, other BLAKE3, other package name) does not count', () => {
    const k = builder();
    const other = attest(k, { sha256: 'd'.repeat(64), blake3: target.blake3 });
    const otherBlake = attest(builder(), { sha256: target.sha256, blake3: 'e'.repeat(64) });
    const k3 = builder();
    const otherName = signStatement(statement(k3.publicHex, undefined, 'dchat-1.2.0-linux-arm64'), k3);
    const c = countAttestations([other, otherBlake, otherName], target);
    assert.equal(c.matching.length, 0);
    assert.deepEqual(
      c.rejected.map((r) => r.reason),
      ['wrong_subject', 'wrong_subject', 'wrong_subject'],
    );
  });

  test('the same builder twice counts once (duplicate builder)', () => {
    const k = builder();
    const c = countAttestations([attest(k), attest(k), attest(k)], target);
    assert.equal(c.matching.length, 1);
    assert.deepEqual(
      c.rejected.map((r) => r.reason),
      ['duplicate_builder', 'duplicate_builder'],
    );
  });

  test('when the network names its builders, others do not count', () => {
    const [trusted, stranger] = [builder(), builder()];
    const c = countAttestations([attest(stranger), attest(trusted)], target, new Set([trusted.publicHex]));
    assert.deepEqual(
      c.matching.map((m) => m.builder),
      [trusted.publicHex],
    );
    assert.deepEqual(
      c.rejected.map((r) => r.reason),
      ['untrusted_builder'],
    );
  });

  test('a bundle of lines: junk lines are malformed, good lines still count', () => {
    const k = builder();
    const text = `${JSON.stringify(attest(k))}\nnot json\n{"payloadType":"x"}\n\n${'{'.repeat(10)}\n`;
    const { envelopes, lines } = parseBundle(text);
    assert.equal(lines, 4);
    const c = countAttestations(envelopes, target);
    assert.equal(c.matching.length, 1);
    assert.deepEqual(
      c.rejected.map((r) => r.reason),
      ['malformed', 'malformed', 'malformed'],
    );
  });

  test('property: any value is a reason, never an exception; the count does not depend on order', () => {
    const keys = [builder(), builder(), builder()];
    const pool = [
      ...keys.map((k) => attest(k)),
      attest(keys[0]),
      attest(builder(), { sha256: 'f'.repeat(64), blake3: target.blake3 }),
    ];
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.anything(), fc.constantFrom(...pool)), { maxLength: 12 }), (items) => {
        const a = countAttestations(items, target);
        const b = countAttestations([...items].reverse(), target);
        const set = (c: typeof a) => c.matching.map((m) => m.builder).sort();
        assert.deepEqual(set(a), set(b));
        assert.equal(a.matching.length + a.rejected.length, items.length);
        for (const x of items) openEnvelope(x);
      }),
      { numRuns: 300 },
    );
  });
});
