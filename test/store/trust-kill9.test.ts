/**
 * Crash consistency of the trusted set (store/trust-store.ts): a process updating homes from state
 * v2 to v3 through the real store is killed with SIGKILL at a random instant, 100 times. Every home
 * it had brought to v2 holds afterwards a complete, consistent set at v2 or v3 (v3 once it said so)
 * that verifies offline, and the lock it held is taken over at once by the next writer.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import { homePaths } from '../../src/store/home.ts';
import { FileTrustStore } from '../../src/store/trust-store.ts';
import { loadTrustOffline, updateTrust } from '../../src/trust/updater.ts';
import { makeTempDir } from '../helpers/repo.ts';
import { setVersions, type TrustStates, writeTrustStates } from '../helpers/trust-states.ts';

const CHILD = fileURLToPath(new URL('../fixtures/trust-crash-child.ts', import.meta.url));
const TRIALS = 100;

let dir: { path: string; cleanup(): Promise<void> };
let states: TrustStates;
let rootFile: string;
before(async () => {
  dir = await makeTempDir('dchat-trust-kill9-');
  states = writeTrustStates(dir.path, 3);
  rootFile = join(dir.path, 'root.json');
  writeFileSync(rootFile, states.root);
});
after(() => dir.cleanup());

/** Runs the child until `delayMs` after its first home reached v2, then SIGKILLs it; returns its lines. */
function runAndKill(base: string, delayMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const args = { base, root: rootFile, v2: states.dirs[2], v3: states.dirs[3] };
    const child = spawn(process.execPath, [CHILD, JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (timer === undefined && out.includes('ready 0\n'))
        timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child ended by itself (exit ${code}):\n${err}`));
      else resolve(out.split('\n').filter(Boolean));
    });
  });
}

test(`kill -9 at random instants while updating (${TRIALS} trials): every set complete, consistent, verifiable`, async () => {
  let homesChecked = 0;
  let cutMidUpdate = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    const base = join(dir.path, `trial-${trial}`);
    const delay = Math.floor(Math.random() * 60);
    const lines = await runAndKill(base, delay);
    const ready = lines.filter((l) => l.startsWith('ready ')).map((l) => Number(l.slice(6)));
    const done = new Set(lines.filter((l) => l.startsWith('done ')).map((l) => Number(l.slice(5))));
    for (const i of ready) {
      const store = new FileTrustStore(homePaths(join(base, `h${i}`)));
      const where = `trial ${trial} (killed after ${delay} ms), home ${i}: ${lines.join(' ')}`;
      const v = setVersions(await store.loadSet());
      assert.ok(v.consistent, `mixed set: ${where}`);
      assert.ok(v.ts === 2 || v.ts === 3, `stored ${v.ts}: ${where}`);
      if (done.has(i)) assert.equal(v.ts, 3, where);
      else if (v.ts === 2) cutMidUpdate++;
      const offline = await loadTrustOffline(store, new Date());
      assert.equal(offline.timestamp?.signed.version, v.ts, where);
      homesChecked++;
    }
    // The last home's lock may still name the killed process: the next writer breaks it at once.
    const last = Math.max(-1, ...ready);
    if (last >= 0) {
      const store = new FileTrustStore(homePaths(join(base, `h${last}`)), undefined, { waitMs: 5_000 });
      const r = await updateTrust(store, new DirectoryFetcher(states.dirs[3]!), new Date());
      assert.equal(r.trusted.timestamp?.signed.version, 3);
    }
  }
  assert.ok(homesChecked >= TRIALS, `only ${homesChecked} homes checked`);
  assert.ok(cutMidUpdate > 0, 'no kill landed inside a v2 -> v3 update');
});
