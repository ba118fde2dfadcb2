/**
 * Interop both ways (issue 3, "Must show"):
 * 1. the stock tuf-js Updater, pointed at a mirror directory that `release publish` wrote, served
 *    by a real nginx over HTTPS, downloads and verifies a package (and refuses a tampered one);
 * 2. our client accepts a repository whose metadata this test builds itself with @tufjs/models,
 *    independently of src/trust/repository.ts.
 */

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import canonicalJson from '@tufjs/canonical-json';
import {
  Key,
  Metadata,
  MetaFile,
  Root,
  Signature,
  Snapshot,
  TargetFile,
  Targets,
  Timestamp,
} from '@tufjs/models';
import { Role } from '@tufjs/models/dist/role.js';
import { blake3Hex, chunkHashHex, digestBytes } from '../../src/crypto/hash.ts';
import { merkleRootHex } from '../../src/crypto/merkle.ts';
import { initRepository, publishRelease } from '../../src/release/publish.ts';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import { signingKeyFromPrivate } from '../../src/trust/keys.ts';
import { MemoryTrustStore } from '../../src/trust/memory-store.ts';
import { checkPackage, findPackage, listPackages } from '../../src/trust/package-check.ts';
import { type TrustStore, updateTrust } from '../../src/trust/updater.ts';
import { type NginxServer, startNginx } from '../helpers/nginx.ts';
import { makeTestCa, type TestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';

const CLIENT = join(import.meta.dirname, '..', 'fixtures', 'tuf-js-client.ts');

function memoryStore(root: Uint8Array): TrustStore {
  return new MemoryTrustStore({ root });
}

describe('stock tuf-js client against our mirror over HTTPS (nginx)', {
  skip: requireTool('nginx') || requireTool('openssl'),
}, () => {
  let dir: string;
  let ca: TestCa;
  let server: NginxServer;
  let pkg: Buffer;
  const now = new Date();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dchat-interop-'));
    const keys = [0, 1, 2].map(() => signingKeyFromPrivate(generateKeyPairSync('ed25519').privateKey));
    const repo = join(dir, 'mirror');
    await initRepository({ dir: repo, keys, threshold: 2, now });
    pkg = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    for (const [v, fill] of [
      ['1.0.0', 1],
      ['1.1.0', 2],
    ] as const) {
      const f = join(dir, `dchat-${v}-linux-x64`);
      writeFileSync(f, Buffer.alloc(pkg.byteLength, fill));
      await publishRelease({
        dir: repo,
        packagePath: f,
        version: v,
        platform: 'linux-x64',
        keys: keys.slice(0, 2),
        now,
      });
    }
    pkg = readFileSync(join(dir, 'dchat-1.1.0-linux-x64'));
    ca = makeTestCa();
    server = await startNginx(repo, ca);
  });

  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
    if (ca) rmSync(ca.dir, { recursive: true, force: true });
  });

  function runClient(target: string): {
    ok: boolean;
    path?: string;
    error?: string;
    custom?: Record<string, unknown>;
  } {
    const metaDir = mkdtempSync(join(dir, 'client-meta-'));
    const targetDir = mkdtempSync(join(dir, 'client-targets-'));
    copyFileSync(join(dir, 'mirror', 'root.json'), join(metaDir, 'root.json'));
    const r = spawnSync(
      process.execPath,
      [CLIENT, `${server.url}/metadata`, `${server.url}/targets`, metaDir, targetDir, target],
      {
        encoding: 'utf8',
        env: { ...process.env, NODE_EXTRA_CA_CERTS: ca.caCert },
        timeout: 60_000,
      },
    );
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop() as string);
  }

  test('downloads and verifies a published package', () => {
    const r = runClient('dchat-1.1.0-linux-x64');
    assert.equal(r.ok, true, r.error);
    assert.deepEqual(readFileSync(r.path as string), pkg);
    assert.equal((r.custom as { version: string }).version, '1.1.0');
  });

  test('refuses a package whose bytes the mirror changed', () => {
    const sha = createHash('sha256').update(pkg).digest('hex');
    const served = join(dir, 'mirror', 'targets', `${sha}.dchat-1.1.0-linux-x64`);
    const original = readFileSync(served);
    const bad = Buffer.from(original);
    bad[10] = (bad[10] ?? 0) ^ 1;
    rmSync(served);
    writeFileSync(served, bad);
    try {
      const r = runClient('dchat-1.1.0-linux-x64');
      assert.equal(r.ok, false);
      assert.match(r.error as string, /hash|length|mismatch/i);
    } finally {
      rmSync(served);
      writeFileSync(served, original);
    }
  });

  test('the SUMS files agree with coreutils', () => {
    execFileSync('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], { cwd: join(dir, 'mirror') });
  });
});

describe('our client accepts metadata made independently with @tufjs/models', () => {
  test('update, find and check a package from a hand-built repository', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dchat-indep-'));
    try {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const pubHex = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url').toString(
        'hex',
      );
      const keyBody = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: pubHex } };
      const keyId = createHash('sha256').update(canonicalJson.canonicalize(keyBody)).digest('hex');
      const key = new Key({
        keyID: keyId,
        keyType: 'ed25519',
        scheme: 'ed25519',
        keyVal: { public: pubHex },
      });
      const signer = (data: Buffer) =>
        new Signature({ keyID: keyId, sig: sign(null, data, privateKey).toString('hex') });
      const expires = new Date(Date.now() + 86400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      const roles = Object.fromEntries(
        ['root', 'targets', 'snapshot', 'timestamp'].map((r) => [
          r,
          new Role({ keyIDs: [keyId], threshold: 1 }),
        ]),
      );
      const root = new Metadata(
        new Root({
          version: 1,
          specVersion: '1.0.31',
          expires,
          keys: { [keyId]: key },
          roles,
          consistentSnapshot: true,
        }),
      );
      root.sign(signer);

      const content = Buffer.alloc(200_000, 3);
      const chunkSize = 65536;
      const chunks: string[] = [];
      for (let o = 0; o < content.byteLength; o += chunkSize)
        chunks.push(chunkHashHex(content.subarray(o, o + chunkSize)));
      const sha = createHash('sha256').update(content).digest('hex');
      const custom = {
        format: 'dchat.target/1',
        version: '2.0.0',
        release_date: '2026-01-01T00:00:00Z',
        package_type: 'Binary',
        platform: 'linux-arm64',
        sha256: sha,
        blake3: blake3Hex(content),
        size_bytes: content.byteLength,
        channel: 'beta',
        security: true,
        chunks: { hash: 'blake3', size: chunkSize, count: chunks.length, root: merkleRootHex(chunks) },
      };
      const name = 'dchat-2.0.0-linux-arm64';
      const targets = new Metadata(
        new Targets({
          version: 1,
          specVersion: '1.0.31',
          expires,
          targets: {
            [name]: new TargetFile({
              path: name,
              length: content.byteLength,
              hashes: { sha256: sha },
              unrecognizedFields: { custom },
            }),
          },
        }),
      );
      targets.sign(signer);
      const tBytes = Buffer.from(JSON.stringify(targets.toJSON()));
      const snapshot = new Metadata(
        new Snapshot({
          version: 1,
          specVersion: '1.0.31',
          expires,
          meta: { 'targets.json': new MetaFile({ version: 1, length: tBytes.byteLength }) },
        }),
      );
      snapshot.sign(signer);
      const sBytes = Buffer.from(JSON.stringify(snapshot.toJSON()));
      const timestamp = new Metadata(
        new Timestamp({
          version: 1,
          specVersion: '1.0.31',
          expires,
          snapshotMeta: new MetaFile({
            version: 1,
            length: sBytes.byteLength,
            hashes: { sha256: createHash('sha256').update(sBytes).digest('hex') },
          }),
        }),
      );
      timestamp.sign(signer);
      mkdirSync(join(dir, 'metadata'));
      const rootBytes = Buffer.from(JSON.stringify(root.toJSON()));
      writeFileSync(join(dir, 'metadata', '1.root.json'), rootBytes);
      writeFileSync(join(dir, 'metadata', '1.targets.json'), tBytes);
      writeFileSync(join(dir, 'metadata', '1.snapshot.json'), sBytes);
      writeFileSync(join(dir, 'metadata', 'timestamp.json'), JSON.stringify(timestamp.toJSON()));

      const { trusted } = await updateTrust(memoryStore(rootBytes), new DirectoryFetcher(dir), new Date());
      const targetsMd = trusted.requireTargets();
      const target = findPackage(targetsMd, '2.0.0', 'linux-arm64');
      assert.equal(target.custom.security, true);
      const verdict = checkPackage(
        target,
        digestBytes(content),
        trusted.root.signed,
        listPackages(targetsMd),
      );
      assert.equal(verdict.ok, true, verdict.message);
      const bad = Buffer.from(content);
      bad[5] = 0;
      assert.equal(checkPackage(target, digestBytes(bad), trusted.root.signed).code, 'E_HASH_MISMATCH');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
