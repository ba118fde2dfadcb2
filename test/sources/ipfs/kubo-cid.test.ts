/**
 * The CID `release publish` records is Kubo's: the published `ipfs add` vector, and files of many
 * shapes (empty, one chunk, chunk boundaries, a tree deeper than one level of 174 links) checked
 * against an independent implementation, Debian's `ipfs-cid` (`ipfs_cid FILE`, Go, not ours).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { create as digestOf } from 'multiformats/hashes/digest';
import { KUBO_CHUNK_BYTES, KUBO_MAX_CHILDREN, kuboCid } from '../../../src/sources/ipfs/kubo-cid.ts';
import { requireTool } from '../../helpers/tools.ts';

const skip = requireTool('ipfs_cid');

function toolCid(path: string): { CIDv0: string; CIDv1: string } {
  // ipfs_cid prints the JSON on stdout and its statistics on stderr.
  const out = execFileSync('ipfs_cid', [path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return JSON.parse(out.slice(0, out.lastIndexOf('}') + 1)) as { CIDv0: string; CIDv1: string };
}

test("'hello world\\n' is Kubo's published CIDv0; `--cid-version 1` makes it one raw leaf", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dchat-cid-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const f = join(dir, 'hw');
  const bytes = Buffer.from('hello world\n');
  await writeFile(f, bytes);
  assert.equal(await kuboCid(f), 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o');
  // `ipfs add --cid-version 1` stores a one-chunk file as a single raw leaf: its CID is the raw
  // codec over the SHA-256 of the bytes, computed here without the importer.
  const sha = createHash('sha256').update(bytes).digest();
  const rawCid = CID.create(1, raw.code, digestOf(0x12, sha)).toString();
  assert.equal(await kuboCid(f, 1), rawCid);
});

test('multi-chunk files: CIDv0 equals ipfs_cid (an independent implementation)', { skip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dchat-cid-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const sizes = [
    0,
    1,
    KUBO_CHUNK_BYTES - 1,
    KUBO_CHUNK_BYTES,
    KUBO_CHUNK_BYTES + 1,
    3 * KUBO_CHUNK_BYTES + 12_345,
    // One more chunk than a single node can link: the balanced tree gains a level.
    KUBO_MAX_CHILDREN * KUBO_CHUNK_BYTES + 1,
  ];
  for (const size of sizes) {
    const f = join(dir, `f${size}`);
    await writeFile(f, randomBytes(size));
    const want = toolCid(f);
    assert.equal(await kuboCid(f), want.CIDv0, `size ${size}`);
    // The tool's CIDv1 is the same DAG as CIDv0, re-encoded (not `--cid-version 1`).
    assert.equal(
      CID.parse(await kuboCid(f))
        .toV1()
        .toString(),
      want.CIDv1,
      `size ${size} as v1`,
    );
  }
});

test('property: any file up to 1.5 MiB gets the CIDv0 ipfs_cid gives it', { skip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dchat-cid-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 1.5 * 1024 * 1024 }), fc.integer(), async (size, seed) => {
      const f = join(dir, `p${n++}`);
      // Compressible and random regions alike: a seeded pattern, not only zeros.
      const buf = Buffer.alloc(size);
      for (let i = 0; i + 4 <= size; i += 4) buf.writeInt32LE((seed ^ Math.imul(i, 0x9e3779b1)) | 0, i);
      await writeFile(f, buf);
      assert.equal(await kuboCid(f), toolCid(f).CIDv0);
    }),
    { numRuns: 25 },
  );
});

test('an unreadable file is a coded error', async () => {
  await assert.rejects(kuboCid('/nonexistent/dchat-package'), { code: 'E_NOT_FOUND' });
});
