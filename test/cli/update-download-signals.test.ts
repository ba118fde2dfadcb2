/**
 * SIGTERM and SIGINT during `dchat update download` (real processes, a real HTTPS mirror): the
 * command ends with one `error[E_INTERRUPTED]` line and exit 143 / 130 (so `download && install`
 * stops there), nothing at the final path, the verified chunks kept; the next run resumes from them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { sha256Hex } from '../../src/crypto/hash.ts';
import { partialPaths } from '../../src/download/resume.ts';
import type { HomePaths } from '../../src/store/home.ts';
import { addMirror, CHUNK, makeHome, makeMirrorRepo, ndjson, type Published } from '../download/fixture.ts';
import { BINS, describeRun, downloadArgs, runBin } from '../helpers/cli.ts';
import { type FaultMirror, startFaultMirror } from '../helpers/fault-mirror.ts';
import { makeTestCa, type TestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';

const skip = requireTool('openssl');
const SIZE = 32 * CHUNK + 999;

describe('update download interrupted by a signal', { skip }, () => {
  let ca: TestCa;
  let mirror: FaultMirror;
  let pkg: Published;
  let repo: Awaited<ReturnType<typeof makeMirrorRepo>>;

  before(async () => {
    ca = makeTestCa();
    repo = await makeMirrorRepo();
    pkg = await repo.publish('1.0.0', SIZE);
    mirror = await startFaultMirror(repo.dir, ca, [{ kind: 'slow', bytesPerSec: 512 * 1024 }]);
  });
  after(async () => {
    await mirror?.stop();
  });

  const recordedChunks = (paths: HomePaths): number => {
    try {
      const state = JSON.parse(readFileSync(partialPaths(paths, pkg.name).state, 'utf8'));
      return state.verified.reduce((n: number, [a, b]: [number, number]) => n + b - a + 1, 0);
    } catch {
      return 0;
    }
  };

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    test(`${signal}: E_INTERRUPTED, exit ${code}, partial state kept, the next run resumes`, {
      timeout: 60_000,
    }, async () => {
      mirror.setFaults([{ kind: 'slow', bytesPerSec: 512 * 1024 }]);
      const paths = await makeHome(repo);
      await addMirror(paths.home, mirror.url);
      const args = ['--home', paths.home, ...downloadArgs('1.0.0', 'linux-x64')];
      const env = { PATH: process.env.PATH ?? '', NODE_EXTRA_CA_CERTS: ca.caCert };
      const child = spawn(process.execPath, [BINS.dchat, ...args], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
      });
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      const deadline = Date.now() + 30_000;
      while (recordedChunks(paths) < 4) {
        assert.equal(child.exitCode, null, `the run ended early: ${stderr}`);
        assert.ok(Date.now() < deadline, 'no progress recorded in time');
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill(signal);
      assert.equal(await exited, code, `stdout:\n${stdout}\nstderr:\n${stderr}`);
      const errors = stderr.split('\n').filter((l) => l.startsWith('error['));
      assert.deepEqual(
        errors.map((l) => l.slice(0, 20)),
        ['error[E_INTERRUPTED]'],
        stderr,
      );
      assert.match(errors[0] as string, new RegExp(`${signal}.*resumes`));
      assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
      const kept = recordedChunks(paths);
      assert.ok(kept >= 4 && kept < 33, `kept ${kept} verified chunks`);
      assert.ok(!existsSync(paths.packageFile('1.0.0', 'linux-x64')), 'nothing at the final path');

      mirror.setFaults([]);
      const again = await runBin('dchat', [...args, '--json'], { env });
      assert.equal(again.code, 0, describeRun(again));
      const result = ndjson(again.stdout).at(-1) as Record<string, number>;
      assert.ok((result.resumed_chunks as number) >= kept, `resumed ${result.resumed_chunks} of ${kept}`);
      assert.equal(sha256Hex(readFileSync(paths.packageFile('1.0.0', 'linux-x64'))), pkg.sha256);
    });
  }
});
