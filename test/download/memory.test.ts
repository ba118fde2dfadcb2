/**
 * Peak memory of `dchat update download` is bounded by the buffers in flight (DESIGN, download
 * targets), not by the package's size or the number of sources: the built CLI downloads a 64 MiB
 * and a 256 MiB package from one loopback nginx, and the 256 MiB one from three; the peak resident
 * set sizes (getrusage maxRSS of the child) may differ by less than SLACK_MIB. A chunk kept for the
 * whole-file hashes and never let go (or a buffer per chunk kept anywhere) grows with both.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeRandomFile } from '../../bench/util.ts';
import { generateEd25519 } from '../../src/crypto/ed25519.ts';
import { initRepository, publishRelease } from '../../src/release/publish.ts';
import { signingKeyFromPrivate } from '../../src/trust/keys.ts';
import { type NginxServer, startNginx } from '../helpers/nginx.ts';
import { makeTestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';

const skip = requireTool('nginx') || requireTool('openssl');
const MIB = 1024 * 1024;
const SLACK_MIB = 64;
const CLI = resolve(import.meta.dirname, '..', '..', 'dist', 'cli', 'dchat.js');
const USAGE = fileURLToPath(new URL('../fixtures/report-usage.ts', import.meta.url));

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ stderr: string; maxRssMib: number }> {
  return new Promise((done, fail) => {
    execFile(process.execPath, ['--import', USAGE, CLI, ...args], { env }, (err, _out, stderr) => {
      if (err) return fail(new Error(`dchat ${args.join(' ')}: ${err.message}\n${stderr}`));
      const m = /USAGE (\{.*\})/.exec(stderr);
      if (!m) return fail(new Error(`no usage line in: ${stderr}`));
      done({ stderr, maxRssMib: (JSON.parse(m[1] as string) as { maxRssKb: number }).maxRssKb / 1024 });
    });
  });
}

describe('update download: peak memory does not grow with size or sources', { skip }, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const servers: NginxServer[] = [];
  const homes: Record<1 | 3, string> = { 1: '', 3: '' };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dchat-memory-'));
    const ca = makeTestCa();
    env = { ...process.env, NODE_EXTRA_CA_CERTS: ca.caCert };
    const key = signingKeyFromPrivate(generateEd25519().privateKey);
    const repo = join(dir, 'repo');
    const now = new Date();
    await initRepository({ dir: repo, keys: [key], threshold: 1, now });
    for (const [version, mib] of [
      ['1.0.0', 64],
      ['2.0.0', 256],
    ] as const) {
      const src = join(dir, `dchat-${version}`);
      writeRandomFile(src, mib * MIB);
      await publishRelease({ dir: repo, packagePath: src, version, platform: 'linux-x64', keys: [key], now });
      rmSync(src);
    }
    for (let i = 0; i < 3; i++) servers.push(await startNginx(repo, ca));
    for (const n of [1, 3] as const) {
      homes[n] = join(dir, `home${n}`);
      await run(['--home', homes[n], 'trust', 'init', '--root', join(repo, 'root.json')], env);
      for (const s of servers.slice(0, n))
        await run(
          ['--home', homes[n], 'update', 'add-mirror', '--url', s.url, '--mirror-type', 'https'],
          env,
        );
    }
  });
  after(async () => {
    for (const s of servers) await s.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const download = async (n: 1 | 3, version: string) =>
    (
      await run(
        ['--home', homes[n], 'update', 'download', '--version', version, '--platform', 'linux-x64'],
        env,
      )
    ).maxRssMib;

  test('64 MiB vs 256 MiB from one mirror, 256 MiB from one vs three mirrors', async () => {
    const small = await download(1, '1.0.0');
    const one = await download(1, '2.0.0');
    const three = await download(3, '2.0.0');
    const at = `peak RSS: 64 MiB/1 mirror ${small.toFixed(0)} MiB, 256 MiB/1 ${one.toFixed(0)}, 256 MiB/3 ${three.toFixed(0)}`;
    assert.ok(one - small < SLACK_MIB, at);
    assert.ok(three - one < SLACK_MIB, at);
  });
});
