/**
 * One writer per home (store/lock.ts) and one-set commits (store/trust-store.ts), shown by the
 * race that used to roll homes back: two processes apply state v2 and state v3 of one repository
 * to the same home at the same time, with random start offsets, 200 times. After each round the
 * stored set is never below the highest version either process reported as accepted, never mixed
 * (timestamp, snapshot and targets of one state), and verifies offline.
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import { loadTrustOffline, updateTrust } from '../../src/trust/updater.ts';
import { makeTempDir } from '../helpers/repo.ts';
import { setVersions, storeAt, type TrustStates, writeTrustStates } from '../helpers/trust-states.ts';

const WRITER = fileURLToPath(new URL('../fixtures/trust-writer.ts', import.meta.url));
const ROUNDS = 200;

interface Writer {
  child: ChildProcessWithoutNullStreams;
  lines: Interface;
  ask(job: object): Promise<{ ok: boolean; ts?: number; code?: string }>;
}

function startWriter(): Writer {
  const child = spawn(process.execPath, [WRITER], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = createInterface({ input: child.stdout });
  const waiting: ((l: string) => void)[] = [];
  lines.on('line', (l) => waiting.shift()?.(l));
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  return {
    child,
    lines,
    ask: (job) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`writer did not answer: ${stderr}`)), 60_000);
        waiting.push((l) => {
          clearTimeout(timer);
          resolve(JSON.parse(l));
        });
        child.stdin.write(`${JSON.stringify(job)}\n`);
      }),
  };
}

let dir: { path: string; cleanup(): Promise<void> };
let states: TrustStates;
let writers: Writer[] = [];
before(async () => {
  dir = await makeTempDir('dchat-trust-race-');
  states = writeTrustStates(dir.path, 3);
  writers = [startWriter(), startWriter()];
});
after(async () => {
  for (const w of writers) w.child.kill();
  await dir.cleanup();
});

test(`two processes apply v2 and v3 to one home (${ROUNDS} rounds): never below the highest accepted, never mixed`, async () => {
  let rollbacksRefused = 0;
  let bothAccepted = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const home = join(dir.path, `home-${round}`);
    const store = storeAt(home);
    await store.pinRoot(states.root);
    // Half the homes start with state v1 stored, half with the root alone.
    if (round % 2 === 0) await updateTrust(store, new DirectoryFetcher(states.dirs[1]!), new Date());
    const order = Math.random() < 0.5 ? [2, 3] : [3, 2];
    const results = await Promise.all(
      order.map((v, i) =>
        writers[i]!.ask({ home, dir: states.dirs[v], delayMs: Math.floor(Math.random() * 4) }).then((r) => ({
          v,
          ...r,
        })),
      ),
    );
    const where = `round ${round}: ${JSON.stringify(results)}`;
    for (const r of results) {
      if (!r.ok) assert.equal(r.code, 'E_ROLLBACK', where);
      else assert.equal(r.ts, r.v, where);
    }
    const accepted = results.filter((r) => r.ok).map((r) => r.v);
    assert.ok(accepted.includes(3), `v3 is always accepted by someone: ${where}`);
    if (accepted.length === 2) bothAccepted++;
    else rollbacksRefused++;
    const set = await store.loadSet();
    const v = setVersions(set);
    assert.ok(v.consistent, `mixed set stored: ${where}`);
    assert.equal(v.ts, Math.max(...accepted), `stored ${v.ts} below the highest accepted: ${where}`);
    const offline = await loadTrustOffline(store, new Date());
    assert.equal(offline.timestamp?.signed.version, 3);
  }
  // Both interleavings happened (otherwise the test did not race anything).
  assert.ok(rollbacksRefused > 0 && bothAccepted > 0, `refused ${rollbacksRefused}, both ${bothAccepted}`);
});
