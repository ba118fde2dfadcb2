/**
 * Rebuild attestations travel by gossip (node/attestation-gossip.ts), with real node processes on
 * loopback: the attestation a node keeps beside a package reaches a connected node, which keeps it
 * beside the same package name; a forged one (payload edited after signing) is refused by the
 * first node already and reaches nobody.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateEd25519 } from '../../src/crypto/ed25519.ts';
import {
  builderId,
  DCHAT_BUILD_TYPE,
  type Envelope,
  SLSA_PROVENANCE,
  STATEMENT_TYPE,
  type Statement,
} from '../../src/model/attestation.ts';
import { homePaths } from '../../src/store/home.ts';
import { type NodeProcess, stopAll } from '../../src/testnet/process.ts';
import { signStatement } from '../../src/trust/attestations.ts';
import { signingKeyFromPrivate } from '../../src/trust/keys.ts';
import { startUserNode, waitFor } from '../helpers/node-procs.ts';

const PLATFORM = 'linux-x64';

function attestation(target: string): Envelope {
  const k = signingKeyFromPrivate(generateEd25519().privateKey);
  const st: Statement = {
    _type: STATEMENT_TYPE,
    subject: [{ name: target, digest: { sha256: 'a'.repeat(64) } }],
    predicateType: SLSA_PROVENANCE,
    predicate: {
      buildDefinition: {
        buildType: DCHAT_BUILD_TYPE,
        externalParameters: { version: '3.0.0', platform: PLATFORM, source: { commit: null, dirty: false } },
      },
      runDetails: { builder: { id: builderId(k.publicHex) } },
    },
  };
  return signStatement(st, k);
}

describe('attestations over gossip between real nodes', () => {
  let dir: string;
  const procs: NodeProcess[] = [];
  const good = attestation('dchat-3.0.0-linux-x64');
  const forgedBase = attestation('dchat-3.0.1-linux-x64');
  const forged: Envelope = {
    ...forgedBase,
    payload: Buffer.from(
      Buffer.from(forgedBase.payload, 'base64').toString('utf8').replace('"3.0.0"', '"3.0.9"'),
    ).toString('base64'),
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dchat-att-gossip-'));
    const a = homePaths(join(dir, 'a'));
    await mkdir(a.packagesDir, { recursive: true });
    await mkdir(join(dir, 'b'), { recursive: true });
    await writeFile(join(a.packagesDir, 'dchat-3.0.0-linux-x64.intoto.jsonl'), `${JSON.stringify(good)}\n`);
    await writeFile(join(a.packagesDir, 'dchat-3.0.1-linux-x64.intoto.jsonl'), `${JSON.stringify(forged)}\n`);
  });
  after(async () => {
    await stopAll(procs);
    await rm(dir, { recursive: true, force: true });
  });

  test('the attestation node A keeps reaches node B; the forged one does not', async () => {
    const a = await startUserNode({
      name: 'a',
      home: join(dir, 'a'),
      platform: PLATFORM,
      bootstrap: [],
      prefetch: false,
    });
    procs.push(a);
    const b = await startUserNode({
      name: 'b',
      home: join(dir, 'b'),
      platform: PLATFORM,
      bootstrap: [a],
      prefetch: false,
    });
    procs.push(b);
    const got = join(homePaths(b.home).packagesDir, 'dchat-3.0.0-linux-x64.intoto.jsonl');
    const text = await waitFor('the attestation on node B', () => readFile(got, 'utf8'), 30_000);
    assert.deepEqual(JSON.parse(text.trim()), good);
    await assert.rejects(readFile(join(homePaths(b.home).packagesDir, 'dchat-3.0.1-linux-x64.intoto.jsonl')));
  });
});
