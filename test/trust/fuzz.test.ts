/**
 * Property/fuzz tests (fast-check) on the TUF metadata parser and the trusted set, and on the
 * dchat-sign .sig parser: random bytes, random JSON, random metadata-shaped documents and MUTATED
 * genuine documents (a byte flipped or overwritten, truncation, trailing bytes, a field changed,
 * dropped or replaced by another type, signatures duplicated or dropped) never crash with anything
 * but a DchatError, always carry a security code, and never get a changed document trusted: when a
 * mutated document is accepted at all, what the client trusts is exactly the genuine content (a
 * relay may re-indent JSON or duplicate a signature, it cannot change what was signed).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import canonicalJson from '@tufjs/canonical-json';
import fc from 'fast-check';
import { digestBytes } from '../../src/crypto/hash.ts';
import type { ErrorCode } from '../../src/errors.ts';
import type { SigningKey } from '../../src/trust/keys.ts';
import { type AnyMetadata, parseMetadata, type RoleName } from '../../src/trust/metadata.ts';
import { checkPackage, findPackage, listPackages } from '../../src/trust/package-check.ts';
import {
  buildStatement,
  parseSigDocument,
  signStatement,
  verifyStatementSignature,
} from '../../src/trust/statement.ts';
import { TrustedSet } from '../../src/trust/trusted-set.ts';
import { updateTrust } from '../../src/trust/updater.ts';
import { hostileBytes, type Mutation, mutate, mutationArb, outcome, outcomeAsync } from '../helpers/fuzz.ts';
import {
  bytesOf,
  InMemoryTrustStore,
  MapFetcher,
  makeKeys,
  makeRepo,
  makeRoot,
  NOW,
  packageBytes,
  publish,
  sameKeysForAllRoles,
  targetFor,
} from '../helpers/repo.ts';

const RUNS = 150;
const PARSE_CODES: ErrorCode[] = ['E_MALFORMED', 'E_TOO_LARGE', 'E_UNSUPPORTED'];
/** Every code a trust decision may end with (all exit 3). */
const SECURITY: ErrorCode[] = [
  'E_HASH_MISMATCH',
  'E_SIZE_MISMATCH',
  'E_TOO_LARGE',
  'E_SIGNATURE',
  'E_UNTRUSTED_KEY',
  'E_THRESHOLD',
  'E_EXPIRED',
  'E_ROLLBACK',
  'E_VERSION_MISMATCH',
  'E_WRONG_TARGET',
  'E_MALFORMED',
  'E_UNSUPPORTED',
];
const ROLES: RoleName[] = ['root', 'timestamp', 'snapshot', 'targets'];

// A 2-of-3 repository, every role signed by exactly two keys (a, b), one release published, and a
// root v2 in the chain: dropping one signature or duplicating one must then fall below threshold.
const [a, b, c] = makeKeys(3) as [SigningKey, SigningKey, SigningKey];
const PKG = packageBytes('fuzz 1.0.0', 70_000);
const base = makeRepo({ keys: [a, b, c], threshold: 2 });
const T = publish(base, [targetFor(PKG, '1.0.0', 'linux-x64')], { keys: [a, b] });
const ROOT1 = bytesOf(T.repo.root);
const ROOT2 = makeRoot(sameKeysForAllRoles([a, b, c]), { threshold: 2, version: 2, signers: [a, b] });
const GENUINE: Record<string, Buffer> = {
  root1: ROOT1,
  root2: bytesOf(ROOT2),
  timestamp: bytesOf(T.repo.timestamp),
  snapshot: bytesOf(T.repo.snapshot),
  targets: bytesOf(T.repo.targets),
};
const FILE_NAME: Record<string, string> = {
  root2: '2.root.json',
  timestamp: 'timestamp.json',
  snapshot: '2.snapshot.json',
  targets: '2.targets.json',
};

const canon = (md: AnyMetadata | undefined) => canonicalJson.canonicalize(md?.signed.toJSON() as never);
const GENUINE_SIGNED = {
  root1: canon(T.repo.root),
  root2: canon(ROOT2),
  timestamp: canon(T.repo.timestamp),
  snapshot: canon(T.repo.snapshot),
  targets: canon(T.repo.targets),
};

/** A mirror with the genuine repository, one file replaced, serving whatever it has (no caps). */
function mirrorWith(name: string, bytes: Uint8Array): MapFetcher {
  const m = new MapFetcher(T.repo, [ROOT2]).set(name, bytes);
  m.honourMaxBytes = false;
  return m;
}

describe('TUF metadata parser: hostile input', () => {
  test('baseline: the genuine repository (with its root chain) is trusted', async () => {
    const r = await updateTrust(
      new InMemoryTrustStore(ROOT1),
      mirrorWith('timestamp.json', GENUINE.timestamp!),
      NOW,
    );
    assert.deepEqual(r.rootsApplied, [2]);
    assert.equal(canon(r.trusted.targets), GENUINE_SIGNED.targets);
  });

  for (const role of ROLES) {
    test(`parseMetadata('${role}'): random bytes and random JSON yield E_MALFORMED/E_TOO_LARGE/E_UNSUPPORTED only`, () => {
      fc.assert(
        fc.property(hostileBytes(), (bytes) => {
          const r = outcome(() => parseMetadata(role, bytes), PARSE_CODES);
          assert.equal(r.ok, false, 'random bytes parsed as metadata');
        }),
        { numRuns: RUNS },
      );
    });
  }

  test('parseMetadata caps: one byte over the cap -> E_TOO_LARGE before anything is parsed', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ROLES), fc.integer({ min: 1, max: 64 }), (role, cap) => {
        const r = outcome(() => parseMetadata(role, Buffer.alloc(cap + 1, 0x20), cap), PARSE_CODES);
        assert.equal(!r.ok && r.error.code, 'E_TOO_LARGE');
      }),
      { numRuns: 50 },
    );
  });

  // Documents with the right overall shape and random contents: deeper into the parser and the
  // trusted set than random JSON gets. Real key ids and a real (but unrelated) signature included.
  const keyIds = [a, b, c].map((k) => k.keyId);
  const realSig = JSON.parse(GENUINE.timestamp!.toString()).signatures[0].sig as string;
  const hex = (n: number) =>
    fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
  const anyVersion = fc.oneof(
    fc.integer({ min: -2, max: 5 }),
    fc.double(),
    fc.string({ maxLength: 3 }),
    fc.constant(null),
  );
  const metaFile = fc.record(
    {
      version: anyVersion,
      length: fc.oneof(fc.integer({ min: -5, max: 5000 }), fc.string({ maxLength: 3 })),
      hashes: fc.dictionary(
        fc.constantFrom('sha256', 'sha512', 'md5', 'x'),
        fc.oneof(hex(64), fc.string({ maxLength: 5 })),
        {
          maxKeys: 2,
        },
      ),
    },
    { requiredKeys: [] },
  );
  const keyArb = fc.record(
    {
      keytype: fc.constantFrom('ed25519', 'rsa', 'ecdsa', 'x'),
      scheme: fc.constantFrom('ed25519', 'rsassa-pss-sha256', 'x'),
      keyval: fc.record({ public: fc.oneof(hex(64), fc.string({ maxLength: 10 })) }, { requiredKeys: [] }),
    },
    { requiredKeys: [] },
  );
  const envelopeArb = fc.record(
    {
      signatures: fc.oneof(
        fc.array(
          fc.record(
            {
              keyid: fc.oneof(fc.constantFrom(...keyIds), fc.string({ maxLength: 8 })),
              sig: fc.oneof(fc.constant(realSig), hex(128), fc.string({ maxLength: 8 })),
            },
            { requiredKeys: [] },
          ),
          { maxLength: 4 },
        ),
        fc.jsonValue({ maxDepth: 1 }),
      ),
      signed: fc.record(
        {
          _type: fc.constantFrom('root', 'timestamp', 'snapshot', 'targets', 'mirrors', ''),
          spec_version: fc.constantFrom('1.0.31', '1.0', '1', '2.0.0', '1.0.0.0', ''),
          version: anyVersion,
          expires: fc.constantFrom('2030-01-01T00:00:00Z', '2001-01-01T00:00:00Z', '2030-01-01', 'soon'),
          consistent_snapshot: fc.oneof(fc.boolean(), fc.string({ maxLength: 2 })),
          keys: fc.dictionary(fc.oneof(fc.constantFrom(...keyIds), fc.string({ maxLength: 6 })), keyArb, {
            maxKeys: 3,
          }),
          roles: fc.dictionary(
            fc.constantFrom('root', 'timestamp', 'snapshot', 'targets', 'x'),
            fc.record(
              {
                keyids: fc.array(fc.oneof(fc.constantFrom(...keyIds), fc.string({ maxLength: 4 })), {
                  maxLength: 3,
                }),
                threshold: fc.integer({ min: -1, max: 3 }),
              },
              { requiredKeys: [] },
            ),
            { maxKeys: 5 },
          ),
          meta: fc.dictionary(fc.constantFrom('snapshot.json', 'targets.json', 'x.json'), metaFile, {
            maxKeys: 2,
          }),
          targets: fc.dictionary(
            fc.constantFrom('dchat-1.0.0-linux-x64', 'x', '../etc/passwd'),
            fc.record(
              {
                length: fc.integer({ min: -1, max: 100 }),
                hashes: fc.dictionary(fc.constantFrom('sha256'), hex(64)),
                custom: fc.jsonValue({ maxDepth: 2 }),
              },
              { requiredKeys: [] },
            ),
            { maxKeys: 2 },
          ),
        },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: [] },
  );

  test('random metadata-shaped documents: parser and trusted set give coded errors and never trust them', async () => {
    await fc.assert(
      fc.asyncProperty(envelopeArb, fc.constantFrom(...ROLES), async (doc, role) => {
        const bytes = Buffer.from(JSON.stringify(doc));
        outcome(() => parseMetadata(role, bytes), PARSE_CODES);
        const name =
          role === 'root' ? '2.root.json' : role === 'timestamp' ? 'timestamp.json' : `2.${role}.json`;
        const r = await outcomeAsync(
          () => updateTrust(new InMemoryTrustStore(ROOT1), mirrorWith(name, bytes), NOW),
          SECURITY,
        );
        assert.equal(r.ok, false, `a random ${role} document was trusted`);
        // As the pinned root itself.
        const pinned = outcome(() => new TrustedSet(bytes, NOW), SECURITY);
        assert.equal(pinned.ok, false, 'a random document was accepted as a root');
      }),
      { numRuns: 300 },
    );
  });
});

describe('trusted set: mutated genuine documents never get changed content trusted', () => {
  /** Runs the client with one genuine file replaced; returns the canonical content trusted for it. */
  async function trustedContent(which: keyof typeof GENUINE, bytes: Uint8Array): Promise<string> {
    if (which === 'root1') return canon(new TrustedSet(bytes, NOW).root);
    const r = await updateTrust(new InMemoryTrustStore(ROOT1), mirrorWith(FILE_NAME[which]!, bytes), NOW);
    if (which === 'root2') return canon(r.trusted.root);
    return canon(r.trusted[which as 'timestamp' | 'snapshot' | 'targets']);
  }

  for (const which of ['root1', 'root2', 'timestamp', 'snapshot', 'targets'] as const) {
    test(`${which}: every mutation is refused with a security code, or trusted unchanged`, async () => {
      const genuine = GENUINE[which]!;
      assert.equal(await trustedContent(which, genuine), GENUINE_SIGNED[which]); // baseline
      const refused = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(mutationArb, async (m: Mutation) => {
          const bytes = mutate(genuine, m);
          fc.pre(!bytes.equals(genuine));
          const r = await outcomeAsync(() => trustedContent(which, bytes), SECURITY);
          if (r.ok) {
            assert.equal(
              r.value,
              GENUINE_SIGNED[which],
              `mutation ${JSON.stringify(m)} got changed ${which} trusted`,
            );
            // Byte-level mutations of metadata whose parent pins its hash can never be accepted.
            if (which === 'snapshot' || which === 'targets')
              assert.fail(`hash-pinned ${which} accepted after ${m.kind}`);
          } else {
            refused.set(r.error.code, (refused.get(r.error.code) ?? 0) + 1);
          }
        }),
        { numRuns: RUNS },
      );
      assert.ok(refused.size > 0, 'no mutation was refused at all');
    });
  }

  test('duplicating or dropping signatures of a 2-of-3 timestamp: duplicates are harmless, one signature is not enough', async () => {
    const doc = JSON.parse(GENUINE.timestamp!.toString());
    const [s1, s2] = doc.signatures;
    const variants: [unknown[], ErrorCode | 'ok'][] = [
      [[s1, s2, s1], 'ok'],
      [[s1, s1], 'E_THRESHOLD'],
      [[s2, s2, s2], 'E_THRESHOLD'],
      [[s1], 'E_THRESHOLD'],
      [[], 'E_THRESHOLD'],
    ];
    for (const [sigs, want] of variants) {
      const bytes = Buffer.from(JSON.stringify({ ...doc, signatures: sigs }));
      const r = await outcomeAsync(() => trustedContent('timestamp', bytes), SECURITY);
      assert.equal(r.ok ? 'ok' : r.error.code, want, `signatures ${sigs.length}`);
    }
  });
});

describe('package check: random digests', () => {
  test('digests other than the signed ones never pass, always with a size or hash code', async () => {
    const r = await updateTrust(new InMemoryTrustStore(ROOT1), new MapFetcher(T.repo), NOW);
    const targets = r.trusted.requireTargets();
    const target = findPackage(targets, '1.0.0', 'linux-x64');
    const genuine = digestBytes(PKG);
    const hex64 = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 });
    fc.assert(
      fc.property(
        fc.record({
          size: fc.oneof(fc.constant(genuine.size), fc.nat({ max: 200_000 })),
          sha256: fc.oneof(fc.constant(genuine.sha256), hex64),
          blake3: fc.oneof(fc.constant(genuine.blake3), hex64),
        }),
        (d) => {
          const v = checkPackage(target, d, r.trusted.root.signed, listPackages(targets));
          const same = d.size === genuine.size && d.sha256 === genuine.sha256 && d.blake3 === genuine.blake3;
          assert.equal(v.ok, same);
          if (!same)
            assert.ok(['E_SIZE_MISMATCH', 'E_TOO_LARGE', 'E_HASH_MISMATCH'].includes(v.code!), v.code);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('dchat-sign .sig documents', () => {
  const d = digestBytes(PKG);
  const statement = buildStatement('1.0.0', 'linux-x64', d);
  const sigDoc = signStatement(a.privateKey, statement);
  const SIG = Buffer.from(`${JSON.stringify(sigDoc, null, 2)}\n`);
  const trustedKeys = new Set([a.publicHex]);

  test('baseline: the genuine .sig parses and verifies', () => {
    const doc = parseSigDocument(SIG);
    verifyStatementSignature(statement, doc.signature, doc.signer_pubkey, trustedKeys);
  });

  test('random bytes and JSON: E_MALFORMED or E_TOO_LARGE only', () => {
    fc.assert(
      fc.property(hostileBytes(9000), (bytes) => {
        const r = outcome(() => parseSigDocument(bytes), ['E_MALFORMED', 'E_TOO_LARGE']);
        assert.equal(r.ok, false);
      }),
      { numRuns: RUNS },
    );
  });

  test('mutated .sig: refused with a coded error, or verifies only with the genuine signature and key', () => {
    const genuineSig = Buffer.from(sigDoc.signature, 'base64');
    const genuineKey = Buffer.from(sigDoc.signer_pubkey, 'base64');
    fc.assert(
      fc.property(mutationArb, (m) => {
        const bytes = mutate(SIG, m);
        fc.pre(!bytes.equals(SIG));
        const r = outcome(() => {
          const doc = parseSigDocument(bytes);
          // What `release publish --sig` and checkPackage rely on: the statement for the real
          // bytes, the signature and the signer, checked against the release keys.
          verifyStatementSignature(statement, doc.signature, doc.signer_pubkey, trustedKeys);
          return doc;
        }, ['E_MALFORMED', 'E_TOO_LARGE', 'E_SIGNATURE', 'E_UNTRUSTED_KEY']);
        if (r.ok) {
          assert.ok(Buffer.from(r.value.signature, 'base64').equals(genuineSig));
          assert.ok(Buffer.from(r.value.signer_pubkey, 'base64').equals(genuineKey));
        }
      }),
      { numRuns: 300 },
    );
  });
});
