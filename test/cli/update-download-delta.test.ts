/**
 * Delta updates end to end (issue 14): `release publish --delta-from` into a real mirror
 * directory served by nginx over TLS, then `dchat update download` on homes holding the older
 * release. A patch that verifies makes the package; a corrupted patch, a signed patch made for
 * another base, and a base changed after its install each fall back to the full package with a
 * W_DELTA_FALLBACK warning and end verified, nothing of the attempt left behind.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import parseTorrent from 'parse-torrent';
import { sha256Hex } from '../../src/crypto/hash.ts';
import { merkleRootHex } from '../../src/crypto/merkle.ts';
import { ENCODED_FORMAT, encodedName } from '../../src/model/encoded.ts';
import { zstdBytes } from '../../src/release/delta.ts';
import { loadRepo, writeRepoRoles } from '../../src/release/mirror-dir.ts';
import { publishRelease } from '../../src/release/publish.ts';
import { importBytesKubo, kuboCid } from '../../src/sources/ipfs/kubo-cid.ts';
import { digestFile } from '../../src/store/file-digest.ts';
import { publishTargets } from '../../src/trust/repository.ts';
import {
  addMirror,
  CHUNK,
  type MirrorRepo,
  makeHome,
  makeMirrorRepo,
  ndjson,
  PLATFORM,
  runDchat,
} from '../download/fixture.ts';
import { publishArgs } from '../helpers/cli.ts';
import { type NginxServer, startNginx } from '../helpers/nginx.ts';
import { textish } from '../helpers/textish.ts';
import { makeTestCa, type TestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';

const skip = requireTool('nginx') || requireTool('openssl') || requireTool('bsdiff') || requireTool('bzip2');

const OLD = textish(1, 700_000);
const NEW = Buffer.concat([OLD.subarray(0, 300_000), textish(2, 6_000), OLD.subarray(300_000, 690_000)]);
const OTHER = textish(3, 700_000);

describe('delta updates: publish patches, download through them, fall back when they fail', { skip }, () => {
  let ca: TestCa;
  let repo: MirrorRepo;
  let good: NginxServer;
  let corrupt: NginxServer;
  let wrongBase: NginxServer;
  let env: NodeJS.ProcessEnv;
  let publishJson: Record<string, unknown>;
  const newName = `dchat-1.1.0-${PLATFORM}`;
  const patchName = (algo: 'bsdiff-best' | 'zstd-patch-from') => encodedName(newName, algo, '1.0.0');
  let patch = '';

  before(async () => {
    ca = makeTestCa();
    env = { NODE_EXTRA_CA_CERTS: ca.caCert };
    repo = await makeMirrorRepo();
    const put = (name: string, b: Buffer) => {
      const f = join(repo.base, name);
      writeFileSync(f, b);
      return f;
    };
    await publishRelease({
      dir: repo.dir,
      packagePath: put('old', OLD),
      version: '1.0.0',
      platform: PLATFORM,
      keys: repo.keys,
      now: new Date(),
      chunkSize: CHUNK,
    });
    // Through the real CLI, as a maintainer does: the key file is the repository's key.
    const keyFile = join(repo.base, 'release.key');
    writeFileSync(keyFile, repo.keys[0]?.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, {
      mode: 0o600,
    });
    const r = await runDchat([
      ...publishArgs({
        package: put('new', NEW),
        version: '1.1.0',
        platform: PLATFORM,
        out: repo.dir,
        key: keyFile,
      }),
      '--chunk-size',
      String(CHUNK),
      '--delta-from',
      '1.0.0',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    publishJson = JSON.parse(r.stdout) as Record<string, unknown>;
    const published = (publishJson.deltas as { name: string | null; published: boolean }[]).filter(
      (d) => d.published,
    );
    patch = (published.find((d) => d.name?.includes('.from-1.0.0'))?.name as string) ?? '';
    good = await startNginx(repo.dir, ca);

    // A copy whose patch bytes were damaged on the mirror (the signed metadata untouched).
    const bad = repo.snapshot();
    for (const f of [
      join(bad, 'packages', patch),
      ...readdirSync(join(bad, 'targets'))
        .filter((n) => n.endsWith(patch))
        .map((n) => join(bad, 'targets', n)),
    ]) {
      const b = readFileSync(f);
      b[Math.floor(b.length / 2)] = (b[Math.floor(b.length / 2)] as number) ^ 0xff;
      writeFileSync(f, b);
    }
    corrupt = await startNginx(bad, ca);

    // A copy whose signed patch was made from another base than the 1.0.0 it names.
    const wrong = repo.snapshot();
    const wrongPatch = await zstdBytes(NEW, OTHER);
    const name = patchName('zstd-patch-from');
    const file = join(wrong, 'packages', name);
    writeFileSync(file, wrongPatch);
    const d = await digestFile(file, { chunkSize: CHUNK });
    cpSync(file, join(wrong, 'targets', `${d.sha256}.${name}`));
    writeFileSync(
      `${file}.chunks`,
      JSON.stringify({
        format: 'dchat.chunks/1',
        hash: 'blake3',
        chunk_size: CHUNK,
        size: d.size,
        chunks: d.chunks,
      }),
    );
    const current = await loadRepo(wrong);
    const next = publishTargets(
      current,
      [
        {
          path: name,
          length: d.size,
          sha256: d.sha256,
          custom: {
            format: ENCODED_FORMAT,
            algorithm: 'zstd-patch-from',
            to: newName,
            from: `dchat-1.0.0-${PLATFORM}`,
            sha256: d.sha256,
            blake3: d.blake3,
            size_bytes: d.size,
            chunks: {
              hash: 'blake3',
              size: CHUNK,
              count: d.chunks?.length ?? 0,
              root: merkleRootHex(d.chunks ?? []),
            },
          },
        },
      ],
      signOpts(),
    );
    // Only the wrong patch is offered (it replaces the good one of that name, if that is the one).
    if (patch !== name) delete next.targets.signed.targets[patch];
    await writeRepoRoles(wrong, publishTargets(next, [], signOpts()));
    wrongBase = await startNginx(wrong, ca);
  });
  after(async () => {
    await Promise.all([good?.stop(), corrupt?.stop(), wrongBase?.stop()]);
  });

  const signOpts = () => ({
    keys: repo.keys,
    now: new Date(),
    targetsExpiresSec: 7 * 86400,
    snapshotExpiresSec: 7 * 86400,
    timestampExpiresSec: 7 * 86400,
  });
  const download = (home: string, version: string) =>
    runDchat(['--home', home, 'update', 'download', '--version', version, '--platform', PLATFORM, '--json'], {
      env,
    });

  /** A home that holds the verified 1.0.0 (downloaded in full from `url`). */
  async function homeWithBase(url: string): Promise<string> {
    const home = (await makeHome(repo)).home;
    await addMirror(home, url);
    const r = await download(home, '1.0.0');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((ndjson(r.stdout).at(-1)?.delta as { used: boolean } | undefined)?.used, false);
    return home;
  }

  function assertVerifiedNew(home: string): void {
    assert.equal(sha256Hex(readFileSync(join(home, 'packages', newName))), sha256Hex(NEW));
    // Nothing of a delta attempt is left over.
    const left = existsSync(join(home, 'partial', 'delta'))
      ? readdirSync(join(home, 'partial', 'delta'))
      : [];
    assert.deepEqual(left, []);
  }

  test('publish: a patch and the compressed package, each a target naming from/to/algorithm', async () => {
    const deltas = publishJson.deltas as {
      name: string;
      from: string | null;
      algorithm: string;
      share: number;
      published: boolean;
    }[];
    assert.ok(patch, JSON.stringify(deltas));
    const p = deltas.find((d) => d.name === patch);
    assert.ok(p && p.share <= 0.8, JSON.stringify(p));
    const full = deltas.find((d) => d.algorithm === 'zstd');
    assert.equal(full?.published, true);
    const targets = (await loadRepo(repo.dir)).targets.signed.targets;
    const t = targets[patch];
    assert.ok(t);
    assert.equal((t.custom as { from?: string }).from, `dchat-1.0.0-${PLATFORM}`);
    assert.equal((t.custom as { to?: string }).to, newName);
    assert.match(
      String((t.custom as { algorithm?: string }).algorithm),
      /^(bsdiff-best|bsdiff-x86|zstd-patch-from)$/,
    );
    assert.ok(targets[encodedName(newName, 'zstd')]);
    // Its own content addresses, made as the package's are: the IPFS CIDs `ipfs add` gives the
    // patch and its chunk table, and the info hash of the .torrent written beside it.
    type Addr = { ipfs_cid?: string; ipfs_chunks_cid?: string; btih?: string; magnet?: string };
    const own = t.custom as Addr;
    const pkg = targets[newName]?.custom as Addr;
    const file = join(repo.dir, 'packages', patch);
    assert.equal(own.ipfs_cid, await kuboCid(file));
    const table = readFileSync(`${file}.chunks`);
    assert.equal(own.ipfs_chunks_cid, (await importBytesKubo(table)).toString());
    assert.equal(own.btih, (await parseTorrent(readFileSync(`${file}.torrent`))).infoHash);
    assert.ok(own.magnet?.includes(`urn:btih:${own.btih}`), own.magnet);
    assert.notEqual(own.ipfs_cid, pkg.ipfs_cid);
    assert.notEqual(own.btih, pkg.btih);
    // The human report names the differs tried for the pair.
    const again = await runDchat(['release', 'publish', '--help']);
    assert.match(again.stdout, /--delta-from/);
  });

  test('a held 1.0.0 and a good patch: the patch is fetched, applied and verified; bytes saved reported', async () => {
    const home = await homeWithBase(good.url);
    const r = await download(home, '1.1.0');
    assert.equal(r.code, 0, r.stderr);
    const res = ndjson(r.stdout).at(-1) as Record<string, unknown>;
    const delta = res.delta as {
      used: boolean;
      target: string;
      from: string;
      bytes: number;
      saved_bytes: number;
    };
    assert.equal(delta.used, true);
    assert.equal(delta.target, patch);
    assert.equal(delta.from, `dchat-1.0.0-${PLATFORM}`);
    assert.equal(delta.saved_bytes, NEW.length - delta.bytes);
    assert.equal(res.fetched_bytes, delta.bytes);
    assert.equal(res.sha256, sha256Hex(NEW));
    assert.deepEqual(res.checks, { chunks: true, size: true, sha256: true, blake3: true });
    assertVerifiedNew(home);
    const v = await runDchat([
      '--home',
      home,
      'update',
      'verify',
      '--package',
      join(home, 'packages', newName),
      '--version',
      '1.1.0',
    ]);
    assert.equal(v.code, 0, v.stderr);
    // Human output says it too.
    const home2 = await homeWithBase(good.url);
    const h = await runDchat(
      ['--home', home2, 'update', 'download', '--version', '1.1.0', '--platform', PLATFORM],
      { env },
    );
    assert.equal(h.code, 0, h.stderr);
    assert.match(
      h.stdout,
      new RegExp(`Patch from dchat-1\\.0\\.0-${PLATFORM} used: ${patch.replace(/\./g, '\\.')}`),
    );
    assert.match(h.stdout, /Fetched \d+ (KB|B) instead of 696 KB: saved \d+ KB/);
  });

  test('no held base: the compressed package is fetched and verified after decompression', async () => {
    const home = (await makeHome(repo)).home;
    await addMirror(home, good.url);
    const r = await download(home, '1.1.0');
    assert.equal(r.code, 0, r.stderr);
    const delta = ndjson(r.stdout).at(-1)?.delta as { used: boolean; algorithm: string; from: string | null };
    assert.equal(delta.used, true);
    assert.equal(delta.algorithm, 'zstd');
    assert.equal(delta.from, null);
    assertVerifiedNew(home);
  });

  const fallback = (out: string) => {
    const recs = ndjson(out);
    const w = recs.find((x) => x.type === 'warning') as { code: string; cause: string } | undefined;
    const res = recs.at(-1) as { delta: { used: boolean }; sha256: string; fetched_bytes: number };
    return { w, res };
  };

  test('a corrupted patch on the mirror: W_DELTA_FALLBACK (E_CHUNK_MISMATCH), then the full package, verified', async () => {
    const home = await homeWithBase(corrupt.url);
    const r = await download(home, '1.1.0');
    assert.equal(r.code, 0, r.stderr);
    const { w, res } = fallback(r.stdout);
    assert.equal(w?.code, 'W_DELTA_FALLBACK');
    assert.equal(w?.cause, 'E_CHUNK_MISMATCH');
    assert.equal(res.delta.used, false);
    assert.equal(res.sha256, sha256Hex(NEW));
    assert.equal(res.fetched_bytes, NEW.length);
    assertVerifiedNew(home);
  });

  test('a signed patch made for another base: the result fails the full hashes; fallback, verified', async () => {
    const home = await homeWithBase(wrongBase.url);
    const r = await download(home, '1.1.0');
    assert.equal(r.code, 0, r.stderr);
    const { w, res } = fallback(r.stdout);
    assert.equal(w?.code, 'W_DELTA_FALLBACK');
    assert.match(String(w?.cause), /^E_(HASH_MISMATCH|MALFORMED|SIZE_MISMATCH|TOO_LARGE)$/);
    assert.equal(res.delta.used, false);
    assertVerifiedNew(home);
  });

  test('the held base changed after its install: never patched; fallback (E_HASH_MISMATCH), verified', async () => {
    const home = await homeWithBase(good.url);
    const base = join(home, 'packages', `dchat-1.0.0-${PLATFORM}`);
    const b = readFileSync(base);
    b[1000] = (b[1000] as number) ^ 0x01;
    writeFileSync(base, b);
    const r = await runDchat(
      ['--home', home, 'update', 'download', '--version', '1.1.0', '--platform', PLATFORM],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /warning\[W_DELTA_FALLBACK\]: .* not used \(E_HASH_MISMATCH: .*no longer matches its signed target/,
    );
    assert.doesNotMatch(r.stdout, /Patch from/);
    assertVerifiedNew(home);
  });
});
