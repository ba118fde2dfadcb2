/**
 * What keeps an idle node small (DESIGN.md, performance targets: idle node <= 100 MB; the number
 * itself is `npm run bench -- node-rss`): a real `dchat node start` that has come up and idled has
 * not loaded the update service, the download engine or undici (loaded at the first download), has
 * started no hashing worker, and runs with V8's young generation kept small (the size-over-speed
 * flag src/cli/dchat.ts sets before any module loads). A load recorder preloaded into the process
 * lists every module any of its threads loaded.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  MALLOC_TUNING,
  STREAM_MALLOC_TUNING,
  tunedEnv,
  tuningFor,
} from '../../src/activation/malloc-tuning.ts';
import { type NodeProcess, spawnNode, stopAll } from '../../src/testnet/process.ts';
import { dchat } from '../helpers/cli.ts';

const RECORDER = fileURLToPath(new URL('./load-recorder.ts', import.meta.url));
/** Without the flag V8 grows the new space to 32 MiB and more while libp2p loads; with it, 4 MiB. */
const MAX_NEW_SPACE = 8 * 1024 * 1024;

test('an idle node has loaded no download machinery and keeps a small young generation', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dchat-idle-'));
  const procs: NodeProcess[] = [];
  t.after(async () => {
    await stopAll(procs);
    await rm(dir, { recursive: true, force: true });
  });
  const loadLog = join(dir, 'loaded.txt');
  procs.push(
    await spawnNode({
      name: 'idle',
      home: dir,
      role: 'user',
      args: ['--home', dir, 'node', 'start', '--json'],
      env: { NODE_OPTIONS: `--import ${RECORDER}`, DCHAT_LOAD_LOG: loadLog },
    }),
  );
  const st = await dchat(['--home', dir, 'node', 'status', '--json']);
  assert.equal(st.code, 0, st.stderr);
  // The node restarted itself in place (same pid) with glibc's malloc told to give freed memory
  // back (src/activation/malloc-tuning.ts); the operator's environment is kept.
  const environ = (await readFile(`/proc/${procs[0]?.child.pid}/environ`, 'utf8')).split('\0');
  for (const [k, v] of Object.entries(MALLOC_TUNING))
    assert.ok(environ.includes(`${k}=${v}`), `${k} not set`);
  assert.ok(environ.includes(`DCHAT_LOAD_LOG=${loadLog}`));
  await sleep(1500);

  const loaded = (await readFile(loadLog, 'utf8')).split('\n').filter(Boolean);
  // The recorder saw the node itself, so an empty or broken log cannot pass.
  assert.ok(
    loaded.some((u) => u.endsWith('/src/node/daemon.ts')),
    'recorder saw no daemon',
  );
  assert.ok(
    loaded.some((u) => u.includes('/node_modules/libp2p/')),
    'recorder saw no libp2p',
  );
  for (const lazy of [
    '/src/update/service.ts',
    '/src/download/engine.ts',
    '/src/sources/https.ts',
    '/node_modules/undici/',
    '/src/crypto/digest-worker.ts',
    // IPFS starts at its first use (a release to provide, an IPFS download), not with the node.
    '/node_modules/helia/',
    '/node_modules/@helia/bitswap/',
    // Metrics and dashboard: only with --metrics / --dashboard.
    '/node_modules/prom-client/',
    '/src/dashboard/',
    '/node_modules/pino-pretty/',
  ])
    assert.deepEqual(
      loaded.filter((u) => u.includes(lazy)),
      [],
      `an idle node loaded ${lazy}`,
    );
  const heap = JSON.parse(await readFile(`${loadLog}.heap`, 'utf8')) as { new_space: number };
  assert.ok(heap.new_space > 0, 'no heap statistics');
  assert.ok(
    heap.new_space <= MAX_NEW_SPACE,
    `new space ${heap.new_space} bytes > ${MAX_NEW_SPACE}: the size-over-speed flag is not in effect`,
  );
});

test("malloc tuning: set once on Linux, never over the operator's own MALLOC_ settings", () => {
  assert.deepEqual(tunedEnv({ A: '1' }, 'linux'), { A: '1', ...MALLOC_TUNING });
  // Already restarted with it: no second restart.
  assert.equal(tunedEnv({ A: '1', ...MALLOC_TUNING }, 'linux'), undefined);
  assert.equal(tunedEnv({ MALLOC_ARENA_MAX: '2' }, 'linux'), undefined);
  assert.equal(tunedEnv({ A: '1' }, 'darwin'), undefined);
  // Which commands: node start and update download, wherever their words are on the line.
  assert.equal(tuningFor(['--home', 'h', 'node', 'start', '--json']), MALLOC_TUNING);
  assert.equal(tuningFor(['update', 'download', '--version', '1.0.0']), STREAM_MALLOC_TUNING);
  for (const other of [['update', 'verify'], ['node', 'status'], ['start', 'node'], ['node']])
    assert.equal(tuningFor(other), undefined, other.join(' '));
});
