/**
 * kill -9 in the middle of `dchat update download`, then the same command again: it resumes from
 * the chunks the first process had made durable and recorded, fetches only the rest, and ends with
 * the verified package. Real processes, a real HTTPS mirror, NODE_EXTRA_CA_CERTS for its CA.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { sha256Hex } from '../../src/crypto/hash.ts';
import { partialPaths } from '../../src/download/resume.ts';
import { BINS, describeRun, downloadArgs, runBin } from '../helpers/cli.ts';
import { type FaultMirror, startFaultMirror } from '../helpers/fault-mirror.ts';
import { makeTestCa, type TestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';
import { addMirror, CHUNK, makeHome, makeMirrorRepo, ndjson, type Published } from './fixture.ts';

const skip = requireTool('openssl');
const SIZE = 32 * CHUNK + 999;

let ca: TestCa;
let mirror: FaultMirror;
let pkg: Published;
let home: string;
let paths: Awaited<ReturnType<typeof makeHome>>;

before(async () => {
  if (skip) return;
  ca = makeTestCa();
  const repo = await makeMirrorRepo();
  pkg = await repo.publish('1.0.0', SIZE);
  // About 8 chunks a second: the first run is still far from done when it is killed.
  mirror = await startFaultMirror(repo.dir, ca, [{ kind: 'slow', bytesPerSec: 512 * 1024 }]);
  paths = await makeHome(repo);
  home = paths.home;
  await addMirror(home, mirror.url);
});
after(async () => {
  await mirror?.stop();
});

function recordedChunks(): number {
  try {
    const state = JSON.parse(readFileSync(partialPaths(paths, pkg.name).state, 'utf8'));
    return state.verified.reduce((n: number, [a, b]: [number, number]) => n + b - a + 1, 0);
  } catch {
    return 0;
  }
}

test('kill -9 mid-download, rerun: resumes from what was verified and ends verified', {
  skip,
  timeout: 60_000,
}, async () => {
  const args = ['--home', home, ...downloadArgs('1.0.0', 'linux-x64'), '--json'];
  const env = { PATH: process.env.PATH ?? '', NODE_EXTRA_CA_CERTS: ca.caCert };
  const child = spawn(process.execPath, [BINS.dchat, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + 30_000;
  while (recordedChunks() < 8) {
    assert.equal(child.exitCode, null, `the first run ended early: ${stderr}`);
    assert.ok(Date.now() < deadline, 'no progress recorded in time');
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  const first = await exited;
  assert.equal(first.signal, 'SIGKILL');
  const recorded = recordedChunks();
  const final = paths.packageFile('1.0.0', 'linux-x64');
  assert.ok(!existsSync(final), 'a killed download leaves nothing at the final path');
  assert.ok(recorded >= 8 && recorded < 33, `recorded ${recorded}`);

  mirror.setFaults([]);
  mirror.resetCounters();
  const second = await runBin('dchat', args, { env });
  assert.equal(second.code, 0, describeRun(second));
  const records = ndjson(second.stdout);
  const result = records.at(-1) as Record<string, number | string | boolean>;
  assert.equal(result.type, 'result');
  assert.equal(result.ok, true);
  assert.ok((result.resumed_chunks as number) >= recorded, `resumed ${result.resumed_chunks} of ${recorded}`);
  assert.ok(records.some((r) => r.type === 'start' && (r.resumed_chunks as number) >= recorded));
  // The proof: fewer package bytes crossed the network than the package has.
  assert.ok(mirror.packageBytes < SIZE, `fetched ${mirror.packageBytes} of ${SIZE}`);
  assert.equal(mirror.packageBytes, SIZE - (result.resumed_chunks as number) * CHUNK);
  assert.equal(result.fetched_bytes, mirror.packageBytes);
  assert.equal(sha256Hex(readFileSync(final)), pkg.sha256);
  assert.ok(!existsSync(partialPaths(paths, pkg.name).part), 'partial file gone after the commit');

  const verify = await runBin(
    'dchat',
    ['--home', home, 'update', 'verify', '--package', final, '--version', '1.0.0'],
    {
      env,
    },
  );
  assert.equal(verify.code, 0, describeRun(verify));
});
