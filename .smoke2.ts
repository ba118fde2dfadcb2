import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { initRepository, publishRelease } from './src/release/publish.ts';
import { signingKeyFromPrivate } from './src/trust/keys.ts';
import { makeTestCa } from './test/helpers/tls.ts';
import { startNginx } from './test/helpers/nginx.ts';
import { HttpsSource } from './src/sources/https.ts';
import { homePaths } from './src/store/home.ts';
import { FileTrustStore } from './src/store/trust-store.ts';
import { updateTrustFromSources } from './src/sources/mirror-fetcher.ts';
import { findPackage, listPackages } from './src/trust/package-check.ts';
import { downloadPackage } from './src/download/engine.ts';
import { writeRandomFile } from './bench/util.ts';
const dir = '/tmp/smoke-big';
const repo = join(dir, 'repo');
const now = new Date();
if (!existsSync(repo)) {
  mkdirSync(dir, { recursive: true });
  const key = signingKeyFromPrivate(generateKeyPairSync('ed25519').privateKey);
  await initRepository({ dir: repo, keys: [key], threshold: 1, now });
  writeRandomFile(join(dir, 'pkg'), 1024 * 1024 * 1024);
  await publishRelease({ dir: repo, packagePath: join(dir, 'pkg'), version: '1.0.0', platform: 'linux-x64', keys: [key], now });
}
const ca = makeTestCa();
const ng = await startNginx(repo, ca);
rmSync(join(dir, 'home'), { recursive: true, force: true });
const paths = homePaths(join(dir, 'home'));
const store = new FileTrustStore(paths);
await store.save('root', readFileSync(join(repo, 'root.json')));
const src = new HttpsSource({ url: ng.url, ca: ca.caPem });
const up = await updateTrustFromSources(store, [src], now);
const targets = up.trusted.requireTargets();
const target = findPackage(targets, '1.0.0', 'linux-x64');
const ckpt = Number(process.argv[2] ?? 500);
for (let i = 0; i < 1; i++) {
  rmSync(paths.packageFile('1.0.0', 'linux-x64'), { force: true });
  const t0 = performance.now();
  const res = await downloadPackage({ target, allTargets: listPackages(targets), root: up.trusted.root.signed, sources: [{ source: src, priority: 10 }], paths, checkpointMs: ckpt });
  console.log('took', (performance.now() - t0).toFixed(0), 'ms', res.fetchedBytes);
}
await src.close();
await ng.stop();
