/**
 * `dchat-test distribute-update --method ipfs` end to end: real `dchat node start` processes on
 * 127.0.0.1, each prefetching over IPFS only (`--prefetch-source ipfs`); the origin provides the
 * release it got from the mirror by its signed CID, the others fetch it over bitswap, verify it and
 * provide it in turn. The report follows spec/CLI.md and `verify-distribution` rechecks the run.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runBin } from '../helpers/cli.ts';

type Report = {
  ok: boolean;
  method: string;
  nodes: { id: string; role: string; version: string | null; verified: boolean; source: string | null }[];
};

let home = '';
after(async () => {
  if (home) await rm(home, { recursive: true, force: true });
});

test('distribute-update --method ipfs: every node ends verified, fetched over IPFS', {
  timeout: 320_000,
}, async () => {
  home = await mkdtemp(join(tmpdir(), 'dchat-harness-ipfs-'));
  const run = (args: string[]) =>
    runBin('dchat-test', args, { env: { DCHAT_HOME: home }, timeoutMs: 280_000 });
  const r = await run([
    'distribute-update',
    '--version',
    '1.0.0',
    '--method',
    'ipfs',
    '--nodes',
    '3',
    '--package-size',
    '1500000',
    // Generous: a loaded 2-core machine runs these processes slowly.
    '--timeout',
    '240s',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as Report;
  assert.equal(rep.ok, true);
  assert.equal(rep.method, 'ipfs');
  assert.equal(rep.nodes.length, 3);
  assert.ok(rep.nodes.every((n) => n.verified && n.version === '1.0.0'));
  assert.deepEqual(rep.nodes.map((n) => n.source).sort(), ['cache', 'ipfs', 'ipfs']);
  assert.match(r.stderr, /distribute-update: 1\.0\.0 via ipfs/);
  const v = await run(['verify-distribution', '--version', '1.0.0', '--json']);
  assert.equal(v.code, 0, v.stderr);
  assert.equal((JSON.parse(v.stdout) as Report).method, 'ipfs');
});
