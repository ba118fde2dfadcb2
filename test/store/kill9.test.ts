/**
 * kill -9 at random points (issue 3, "Must show"): a child process (test/fixtures/kill9-child.ts,
 * same Node, .ts sources) loops over writeFileAtomic / copyFileAtomic into a store directory and
 * publishRelease into a mirror directory; the parent SIGKILLs it 5-200 ms after it is ready, over
 * several iterations. After every kill:
 *  - every final file (name without '.tmp-') is complete and valid: store documents prove their
 *    own hash, copies equal their source, package files equal the bytes their version implies,
 *    every metadata file parses and carries a threshold of valid signatures, every SUMS line and
 *    every targets/<sha256>.<name> file matches its hash;
 *  - a TUF client update against the mirror directory (what `dchat update verify --metadata DIR`
 *    runs), by one client that keeps its trusted state across all iterations, succeeds (never a
 *    rollback), and every package its trusted targets list verifies, chunk table included;
 *  - sweepTemp removes every leftover temp file.
 * Iterations continue (up to a cap) until at least one kill has left a temp file behind and at
 * least one release has been committed, so the sweep and the verification are always exercised.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { digestBytes, sha256Hex } from '../../src/crypto/hash.ts';
import { verifyFile } from '../../src/download/verify-file.ts';
import { parseChunkTable } from '../../src/model/chunks.ts';
import { parsePackageName } from '../../src/model/platform.ts';
import { writeNewKeyPair } from '../../src/release/key-files.ts';
import { initRepository } from '../../src/release/publish.ts';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import { sweepTemp, TEMP_MARK } from '../../src/store/atomic.ts';
import { parseMetadata, type RoleName } from '../../src/trust/metadata.ts';
import { checkChunkTable, findPackage, listPackages } from '../../src/trust/package-check.ts';
import { requireThreshold } from '../../src/trust/signatures.ts';
import { updateTrust } from '../../src/trust/updater.ts';
import { checkStoreDocument, specOfVersion } from '../fixtures/kill9-shared.ts';
import { dchat, describeRun } from '../helpers/cli.ts';
import { chunkTableOf, InMemoryTrustStore, makeTempDir, packageBytes } from '../helpers/repo.ts';

const CHILD = fileURLToPath(new URL('../fixtures/kill9-child.ts', import.meta.url));
const MIN_ITERATIONS = 8;
const MAX_ITERATIONS = 30;

let dir: { path: string; cleanup(): Promise<void> };
before(async () => {
  dir = await makeTempDir('dchat-kill9-');
});
after(() => dir.cleanup());

/** Every file under `root`, relative paths. */
async function walk(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const p = rel ? join(rel, e.name) : e.name;
    if (e.isDirectory()) out.push(...(await walk(root, p)));
    else out.push(p);
  }
  return out;
}

/** Spawns the child, waits for "ready", sleeps `delayMs`, SIGKILLs it. Returns what it printed. */
function runAndKill(args: object, delayMs: number): Promise<{ stdout: string; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      if (timer === undefined && stdout.includes('ready\n'))
        timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child ended by itself (exit ${code}):\n${stderr}`));
      else resolve({ stdout, signal });
    });
  });
}

function roleOf(name: string): RoleName | undefined {
  if (name === 'timestamp.json') return 'timestamp';
  const m = /^(?:\d+\.)?(root|snapshot|targets)\.json$/.exec(name);
  return m ? (m[1] as RoleName) : undefined;
}

test('kill -9 while writing the store and publishing: every file complete or absent, the mirror stays valid', async (t) => {
  const mirror = join(dir.path, 'mirror');
  const store = join(dir.path, 'store');
  const keyPath = join(dir.path, 'release.key');
  const copySource = join(dir.path, 'copy-source');
  const copyBytes = packageBytes('kill9 copy source', 6 * 1024 * 1024 + 11);
  // Made here, not by the child: a child killed before its first write would leave no store to walk.
  await mkdir(store, { recursive: true });
  await writeFile(copySource, copyBytes);
  const key = await writeNewKeyPair(keyPath);
  await initRepository({ dir: mirror, keys: [key], threshold: 1, now: new Date() });
  const pinnedRoot = await readFile(join(mirror, 'metadata', '1.root.json'));
  const rootMd = parseMetadata('root', pinnedRoot);

  // One client across all iterations: its trusted state must only ever move forward.
  const client = new InMemoryTrustStore(pinnedRoot);
  let tempsSwept = 0;
  let lastTimestamp = 0;
  const log: string[] = [];

  for (let iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
    if (iteration >= MIN_ITERATIONS && tempsSwept > 0 && lastTimestamp > 1) break;
    const delay = 5 + Math.floor(Math.random() * 196);
    const { stdout } = await runAndKill({ mirror, store, key: keyPath, copySource, iteration }, delay);
    const published = stdout.split('\n').filter((l) => l.startsWith('published')).length;
    log.push(`#${iteration}: killed ${delay} ms after ready, ${published} published`);
    const where = () => log.join('\n');

    // 1. Store: every final file complete.
    for (const name of await walk(store)) {
      if (name.includes(TEMP_MARK)) continue;
      const bytes = await readFile(join(store, name));
      if (name.startsWith('doc-'))
        assert.ok(checkStoreDocument(bytes.toString()), `${name} incomplete\n${where()}`);
      else if (name.startsWith('copy-')) assert.ok(bytes.equals(copyBytes), `${name} incomplete\n${where()}`);
      else if (name.startsWith('pkg-')) {
        const spec = specOfVersion(name.slice(4));
        assert.ok(spec, name);
        assert.ok(bytes.equals(packageBytes(spec.seed, spec.size)), `${name} incomplete\n${where()}`);
      } else assert.fail(`unexpected file ${name} in the store`);
    }

    // 2. Mirror metadata: every final file parses and is signed by the release key.
    for (const name of await readdir(join(mirror, 'metadata'))) {
      if (name.includes(TEMP_MARK)) continue;
      const role = roleOf(name);
      assert.ok(role, `unexpected metadata file ${name}`);
      const md = parseMetadata(role, await readFile(join(mirror, 'metadata', name)));
      requireThreshold(rootMd.signed, role, md, name);
    }

    // 3. The TUF client update against the directory succeeds and moves forward.
    const { trusted } = await updateTrust(client, new DirectoryFetcher(mirror), new Date());
    const ts = trusted.timestamp!.signed.version;
    assert.ok(ts >= lastTimestamp, `timestamp went back from ${lastTimestamp} to ${ts}`);
    lastTimestamp = ts;
    const targets = trusted.requireTargets();
    const committed = new Set(listPackages(targets).map((t) => t.path));

    // 4. Every committed package verifies, with its chunk table, by name and by hash.
    for (const t of listPackages(targets)) {
      const { verdict } = await verifyFile(
        trusted,
        join(mirror, 'packages', t.path),
        t.custom.version,
        t.custom.platform,
      );
      assert.equal(verdict.ok, true, `${t.path}: ${verdict.code} ${verdict.message}\n${where()}`);
      const byHash = await readFile(join(mirror, 'targets', `${t.sha256}.${t.path}`));
      assert.equal(digestBytes(byHash).sha256, t.sha256);
      checkChunkTable(t, parseChunkTable(await readFile(join(mirror, 'packages', `${t.path}.chunks`))));
    }

    // 5. Files of releases not (yet) committed are complete too.
    for (const name of await readdir(join(mirror, 'targets'))) {
      if (name.includes(TEMP_MARK)) continue;
      const sha = name.slice(0, 64);
      assert.equal(
        sha256Hex(await readFile(join(mirror, 'targets', name))),
        sha,
        `targets/${name} incomplete`,
      );
    }
    for (const name of await readdir(join(mirror, 'packages'))) {
      if (name.includes(TEMP_MARK)) continue;
      const bytes = await readFile(join(mirror, 'packages', name));
      if (name.endsWith('.torrent')) {
        // Written atomically beside the package: it parses whole, and a committed release's
        // torrent has the info hash its signed target names.
        const parseTorrent = (await import('parse-torrent')).default as (
          b: Buffer,
        ) => Promise<{ infoHash: string }>;
        const t = await parseTorrent(bytes);
        const tb = name.replace(/\.torrent$/, '');
        const pt = parsePackageName(tb);
        assert.ok(pt, `unexpected file packages/${name}`);
        if (committed.has(tb))
          assert.equal(findPackage(targets, pt.version, pt.platform).custom.btih, t.infoHash, name);
        continue;
      }
      const base = name.replace(/\.chunks$/, '');
      const parsed = parsePackageName(base);
      assert.ok(parsed, `unexpected file packages/${name}`);
      const spec = specOfVersion(parsed.version);
      assert.ok(spec, name);
      const expected = packageBytes(spec.seed, spec.size);
      if (name.endsWith('.chunks')) {
        const table = parseChunkTable(bytes);
        if (committed.has(base))
          checkChunkTable(findPackage(targets, parsed.version, parsed.platform), table);
        else assert.deepEqual(table, chunkTableOf(expected, 64 * 1024), `packages/${name} incomplete`);
      } else {
        assert.ok(bytes.equals(expected), `packages/${name} incomplete\n${where()}`);
      }
    }

    // 6. SHA256SUMS / BLAKE3SUMS: every line names a file with that hash.
    for (const [sums, algo] of [
      ['SHA256SUMS', 'sha256'],
      ['BLAKE3SUMS', 'blake3'],
    ] as const) {
      const text = await readFile(join(mirror, sums), 'utf8');
      for (const line of text.split('\n').filter(Boolean)) {
        const m = /^([0-9a-f]{64}) {2}(packages\/\S+)$/.exec(line);
        assert.ok(m, `${sums}: bad line ${line}`);
        assert.equal(digestBytes(await readFile(join(mirror, m[2]!)))[algo], m[1], `${sums}: ${line}`);
      }
    }

    // 7. Leftover temp files: sweepTemp removes them all.
    const all = [...(await walk(store)), ...(await walk(mirror))];
    const leftovers = all.filter((n) => n.includes(TEMP_MARK));
    let removed = 0;
    for (const d of [store, mirror, ...['metadata', 'targets', 'packages'].map((s) => join(mirror, s))])
      removed += await sweepTemp(d);
    assert.equal(removed, leftovers.length, `sweepTemp removed ${removed} of ${leftovers.join(', ')}`);
    const after = [...(await walk(store)), ...(await walk(mirror))];
    assert.deepEqual(
      after.filter((n) => n.includes(TEMP_MARK)),
      [],
    );
    tempsSwept += removed;
    log[log.length - 1] += `, ${removed} temp file(s) swept, timestamp v${ts}`;
  }
  assert.ok(
    tempsSwept > 0,
    `no kill left a temp file behind in ${MAX_ITERATIONS} iterations\n${log.join('\n')}`,
  );
  assert.ok(lastTimestamp > 1, `no release was ever committed\n${log.join('\n')}`);

  // The real CLI, pinned to the first root, verifies a package of the mirror after all the kills.
  const home = join(dir.path, 'home');
  const pin = await dchat(['--home', home, 'trust', 'init', '--root', join(mirror, 'root.json')]);
  assert.equal(pin.code, 0, describeRun(pin));
  const { trusted } = await updateTrust(client, new DirectoryFetcher(mirror), new Date());
  const last = listPackages(trusted.requireTargets()).at(-1)!;
  const r = await dchat([
    '--home',
    home,
    'update',
    'verify',
    '--package',
    join(mirror, 'packages', last.path),
    '--version',
    last.custom.version,
    '--metadata',
    mirror,
  ]);
  assert.equal(r.code, 0, describeRun(r));
  assert.match(r.stdout, /✅ Package verified successfully/);
  t.diagnostic(log.join('\n'));
});
