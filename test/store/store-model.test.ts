/**
 * A model test of the home's stores (fast-check): two simulated processes (two store instances on
 * one real home, as two commands would open it) run random sequences of operations whose steps
 * fast-check's scheduler interleaves: TUF updates to random states (some of them crashing before
 * the commit), mirror additions and removals (some crashing inside the edit), and crashes that
 * leave a stale lock or a partial temp file behind. Each operation's outcome and the final stored
 * state must match a model that applies the operations one at a time in the order the home's
 * locks let them through: the trusted version is the highest accepted, never mixed; the mirror
 * list holds exactly what was added and not removed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { DchatError } from '../../src/errors.ts';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import { type HomePaths, homePaths } from '../../src/store/home.ts';
import { type LockKind, lockFile } from '../../src/store/lock.ts';
import { addMirror, loadMirrors, removeMirror, updateMirrors } from '../../src/store/mirrors.ts';
import { writeTrustOrigin } from '../../src/store/trust-origin.ts';
import { FileTrustStore } from '../../src/store/trust-store.ts';
import { loadTrustOffline, type MetadataFetcher, updateTrust } from '../../src/trust/updater.ts';
import { makeTempDir } from '../helpers/repo.ts';
import { setVersions, type TrustStates, writeTrustStates } from '../helpers/trust-states.ts';

const STATES = 4;

type Op =
  | { kind: 'apply'; v: number; crash: boolean }
  | { kind: 'add'; m: number; crash: boolean }
  | { kind: 'remove'; m: number }
  | { kind: 'stale-lock'; lock: LockKind }
  | { kind: 'partial-temp' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('apply' as const),
    v: fc.integer({ min: 1, max: STATES }),
    crash: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('add' as const), m: fc.integer({ min: 0, max: 3 }), crash: fc.boolean() }),
  fc.record({ kind: fc.constant('remove' as const), m: fc.integer({ min: 0, max: 3 }) }),
  fc.record({
    kind: fc.constant('stale-lock' as const),
    lock: fc.constantFrom<LockKind>('trust', 'mirrors'),
  }),
  fc.constant({ kind: 'partial-temp' as const }),
);

const url = (m: number) => `https://m${m}.example.com`;

class Crash extends Error {}

/** A fetcher whose every read is a step the scheduler orders; `crash` dies after the timestamp. */
class ScheduledFetcher implements MetadataFetcher {
  private readonly inner: MetadataFetcher;
  private readonly s: fc.Scheduler;
  private readonly label: string;
  private readonly onTimestamp: () => void;
  private readonly crash: boolean;
  constructor(
    inner: MetadataFetcher,
    s: fc.Scheduler,
    label: string,
    onTimestamp: () => void,
    crash: boolean,
  ) {
    this.inner = inner;
    this.s = s;
    this.label = label;
    this.onTimestamp = onTimestamp;
    this.crash = crash;
  }
  async fetch(name: string, maxBytes: number): Promise<Uint8Array | undefined> {
    await this.s.schedule(Promise.resolve(), `${this.label} ${name}`);
    const bytes = await this.inner.fetch(name, maxBytes);
    if (name === 'timestamp.json') {
      this.onTimestamp();
      if (this.crash) throw new Crash('killed after the timestamp');
    }
    return bytes;
  }
}

let dir: { path: string; cleanup(): Promise<void> };
let states: TrustStates;
let deadPid: number;
let runs = 0;
before(async () => {
  dir = await makeTempDir('dchat-store-model-');
  states = writeTrustStates(dir.path, STATES);
  // A pid that belonged to a process that has exited: what a crashed writer leaves in its lock.
  deadPid = spawnSync(process.execPath, ['-e', '0']).pid ?? 999_999;
});
after(() => dir.cleanup());

interface Event {
  proc: number;
  op: Op;
  seq: number;
}

test('two processes, random interleavings and crashes: outcomes and stored state match the model', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.array(opArb, { maxLength: 6 }),
      fc.array(opArb, { maxLength: 6 }),
      async (s, ops0, ops1) => {
        const paths: HomePaths = homePaths(join(dir.path, `home-${++runs}`));
        mkdirSync(paths.home, { recursive: true });
        await writeTrustOrigin(paths, { origin: 'trust-init', at: new Date().toISOString() });
        await new FileTrustStore(paths).pinRoot(states.root);
        await updateTrust(new FileTrustStore(paths), new DirectoryFetcher(states.dirs[1]!), new Date());

        // The order in which the locks let operations through, and what each one returned.
        let seq = 0;
        const serial: Event[] = [];
        const outcomes = new Map<Event, string>();

        const runOp = async (proc: number, op: Op, store: FileTrustStore): Promise<void> => {
          const ev: Event = { proc, op, seq: -1 };
          const enter = () => {
            ev.seq = seq++;
            serial.push(ev);
          };
          try {
            switch (op.kind) {
              case 'apply': {
                const f = new ScheduledFetcher(
                  new DirectoryFetcher(states.dirs[op.v]!),
                  s,
                  `p${proc}`,
                  enter,
                  op.crash,
                );
                const r = await updateTrust(store, f, new Date());
                outcomes.set(ev, `ok ${r.trusted.timestamp?.signed.version}`);
                return;
              }
              case 'add':
              case 'remove': {
                await s.schedule(Promise.resolve(), `p${proc} ${op.kind} ${op.m}`);
                await updateMirrors(paths, (cfg) => {
                  enter();
                  if (op.kind === 'remove')
                    return { settings: cfg.settings, mirrors: removeMirror(cfg.mirrors, url(op.m)).mirrors };
                  const next = addMirror(cfg.mirrors, { url: url(op.m), mirrorType: 'https' }).mirrors;
                  if (op.crash) throw new Crash('killed while editing');
                  return { settings: cfg.settings, mirrors: next };
                });
                outcomes.set(ev, 'ok');
                return;
              }
              case 'stale-lock': {
                await s.schedule(Promise.resolve(), `p${proc} crash holding ${op.lock}`);
                const file = lockFile(paths, op.lock);
                mkdirSync(join(file, '..'), { recursive: true });
                try {
                  // Only if free: a process can crash holding a lock only after taking it.
                  writeFileSync(
                    file,
                    JSON.stringify({
                      pid: deadPid,
                      start: '1',
                      host: hostname(),
                      nonce: `dead${proc}`,
                    }),
                    { flag: 'wx' },
                  );
                } catch {}
                return;
              }
              case 'partial-temp': {
                await s.schedule(Promise.resolve(), `p${proc} crash mid-write`);
                mkdirSync(paths.trustDir, { recursive: true });
                writeFileSync(
                  join(paths.trustDir, `.trusted-set.json.tmp-${deadPid}-0000beef`),
                  '{"format":"dchat-trus',
                );
                return;
              }
            }
          } catch (err) {
            if (err instanceof Crash) outcomes.set(ev, 'crash');
            else if (err instanceof DchatError) outcomes.set(ev, err.code);
            else throw err;
          }
        };

        const proc = async (p: number, ops: Op[]) => {
          const store = new FileTrustStore(paths, undefined, { waitMs: 30_000 });
          for (const op of ops) await runOp(p, op, store);
        };
        let finished = false;
        const all = Promise.all([proc(0, ops0), proc(1, ops1)]).finally(() => {
          finished = true;
        });
        while (!finished) {
          if (s.count() > 0) await s.waitOne();
          else await new Promise((r) => setTimeout(r, 1));
        }
        await all;

        // The model, one operation at a time in lock order.
        let version = 1;
        const mirrors = new Set<number>();
        for (const ev of serial.sort((a, b) => a.seq - b.seq)) {
          const got = outcomes.get(ev);
          const op = ev.op;
          if (op.kind === 'apply') {
            if (op.crash) assert.equal(got, 'crash');
            else if (op.v >= version) {
              assert.equal(got, `ok ${op.v}`, `apply v${op.v} over v${version}`);
              version = op.v;
            } else assert.equal(got, 'E_ROLLBACK', `apply v${op.v} over v${version}`);
          } else if (op.kind === 'add') {
            if (op.crash) assert.equal(got, 'crash');
            else {
              assert.equal(got, 'ok');
              mirrors.add(op.m);
            }
          } else if (op.kind === 'remove') {
            if (mirrors.has(op.m)) {
              assert.equal(got, 'ok');
              mirrors.delete(op.m);
            } else assert.equal(got, 'E_USAGE');
          }
        }
        const store = new FileTrustStore(paths);
        const v = setVersions(await store.loadSet());
        assert.ok(v.consistent, 'stored set mixed');
        assert.equal(v.ts, version, 'stored version is the model version');
        assert.equal((await loadTrustOffline(store, new Date())).timestamp?.signed.version, version);
        const kept = (await loadMirrors(paths)).mirrors.map((m) => m.uri).sort();
        assert.deepEqual(kept, [...mirrors].sort((a, b) => a - b).map(url));
      },
    ),
    { numRuns: 100 },
  );
});
