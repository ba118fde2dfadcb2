/**
 * A validator's reproducibility check before approving a hard fork (update/attestations.ts
 * requireAttestedRelease, used by `dchat governance approve` when the genesis names builders and
 * a minimum): the trusted package of the version must carry enough matching attestations from the
 * named builders among those the home kept beside it. Attestations by other keys, of other bytes,
 * or twice from one builder do not make up the number; an untrusted release is E_NOT_FOUND.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { generateEd25519 } from '../../src/crypto/ed25519.ts';
import { trustUpdate } from '../../src/download/trust-session.ts';
import { DchatError } from '../../src/errors.ts';
import {
  builderId,
  DCHAT_BUILD_TYPE,
  SLSA_PROVENANCE,
  STATEMENT_TYPE,
  type Statement,
} from '../../src/model/attestation.ts';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import type { HomePaths } from '../../src/store/home.ts';
import { signStatement } from '../../src/trust/attestations.ts';
import { signingKeyFromPrivate } from '../../src/trust/keys.ts';
import { requireAttestedRelease } from '../../src/update/attestations.ts';
import { makeHome, makeMirrorRepo, PLATFORM, type Published } from '../download/fixture.ts';

const builder = () => signingKeyFromPrivate(generateEd25519().privateKey);

function attestation(k: ReturnType<typeof builder>, pub: Published, sha256 = pub.sha256) {
  const st: Statement = {
    _type: STATEMENT_TYPE,
    subject: [{ name: pub.name, digest: { sha256 } }],
    predicateType: SLSA_PROVENANCE,
    predicate: {
      buildDefinition: {
        buildType: DCHAT_BUILD_TYPE,
        externalParameters: {
          version: pub.version,
          platform: PLATFORM,
          source: { commit: null, dirty: false },
        },
      },
      runDetails: { builder: { id: builderId(k.publicHex) } },
    },
  };
  return JSON.stringify(signStatement(st, k));
}

describe('requireAttestedRelease', () => {
  let paths: HomePaths;
  let pub: Published;
  const [named1, named2, stranger] = [builder(), builder(), builder()];
  const policy = (min: number) => ({ builders: [named1.publicHex, named2.publicHex], min_attestations: min });
  const keep = (lines: string[]) =>
    writeFileSync(join(paths.packagesDir, `${pub.name}.intoto.jsonl`), `${lines.join('\n')}\n`);

  before(async () => {
    const repo = await makeMirrorRepo();
    pub = await repo.publish('2.0.0', 5000);
    paths = await makeHome(repo);
    await trustUpdate(paths, new DirectoryFetcher(repo.dir), new Date());
    mkdirSync(paths.packagesDir, { recursive: true });
  });

  test('enough named builders: passes and says who', async () => {
    keep([attestation(named1, pub), attestation(named2, pub)]);
    const c = await requireAttestedRelease(paths, new Date(), '2.0.0', PLATFORM, policy(2));
    assert.equal(c.matching.length, 2);
    assert.equal(c.target, pub.name);
  });

  test('a stranger, other bytes and a repeated builder do not make up the number: E_ATTESTATIONS', async () => {
    keep([
      attestation(named1, pub),
      attestation(named1, pub),
      attestation(stranger, pub),
      attestation(named2, pub, 'e'.repeat(64)),
    ]);
    await assert.rejects(
      requireAttestedRelease(paths, new Date(), '2.0.0', PLATFORM, policy(2)),
      (e: unknown) => e instanceof DchatError && e.code === 'E_ATTESTATIONS' && e.exitCode === 3,
    );
    const one = await requireAttestedRelease(paths, new Date(), '2.0.0', PLATFORM, policy(1));
    assert.deepEqual(one.rejected.map((r) => r.reason).sort(), [
      'duplicate_builder',
      'untrusted_builder',
      'wrong_subject',
    ]);
  });

  test('no attestations kept at all: E_ATTESTATIONS; a version this home does not trust: E_NOT_FOUND', async () => {
    keep([]);
    await assert.rejects(requireAttestedRelease(paths, new Date(), '2.0.0', PLATFORM, policy(1)), {
      code: 'E_ATTESTATIONS',
    });
    await assert.rejects(requireAttestedRelease(paths, new Date(), '9.9.9', PLATFORM, policy(1)), {
      code: 'E_NOT_FOUND',
    });
  });
});
