/**
 * `dchat-test distribute-update --method https` end to end: real `dchat node start` processes on
 * 127.0.0.1, each prefetching from HTTPS mirrors only (`--prefetch-source https`): two loopback
 * mirrors of the release behind a CA made for the run. The origin holds the release from the mirror
 * directory; the others learn of it from their peers and fetch every byte from the mirrors, verify
 * it, and the report follows spec/CLI.md; `verify-distribution` rechecks the run from the homes.
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
  injected: Record<string, number>;
  nodes: { id: string; role: string; version: string | null; verified: boolean; source: string | null }[];
};

let home = '';
after(async () => {
  if (home) await rm(home, { recursive: true, force: true });
});

test('distribute-update --method https: every node ends verified, fetched from the HTTPS mirrors', {
  timeout: 320_000,
}, async () => {
  home = await mkdtemp(join(tmpdir(), 'dchat-harness-https-'));
  const run = (args: string[]) =>
    runBin('dchat-test', args, { env: { DCHAT_HOME: home }, timeoutMs: 280_000 });
  const r = await run([
    'distribute-update',
    '--version',
    '1.0.0',
    '--method',
    'https',
    '--nodes',
    '3',
    '--package-size',
    '1500000',
    '--timeout',
    '240s',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as Report;
  assert.equal(rep.ok, true);
  assert.equal(rep.method, 'https');
  assert.equal(rep.nodes.length, 3);
  assert.ok(rep.nodes.every((n) => n.verified && n.version === '1.0.0'));
  // The origin had it from the mirror directory; every other node's bytes came over HTTPS only.
  assert.deepEqual(rep.nodes.map((n) => n.source).sort(), ['cache', 'https', 'https']);
  // Healthy mirrors: nothing was injected.
  assert.deepEqual(rep.injected, { malicious_nodes: 0 });
  assert.match(r.stderr, /2 HTTPS mirror\(s\) of the release: https:\/\/127\.0\.0\.1:\d+/);
  assert.match(r.stderr, /distribute-update: 1\.0\.0 via https/);
  const v = await run(['verify-distribution', '--version', '1.0.0', '--json']);
  assert.equal(v.code, 0, v.stderr);
  assert.equal((JSON.parse(v.stdout) as Report).method, 'https');
});

test('distribute-update --method with an unknown method: a usage error naming every method', async () => {
  const r = await runBin(
    'dchat-test',
    ['distribute-update', '--version', '1.0.0', '--method', 'carrier-pigeon'],
    {
      env: { DCHAT_HOME: home || tmpdir() },
      timeoutMs: 60_000,
    },
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /E_USAGE/);
  assert.match(r.stderr, /gossip, peer, ipfs, bittorrent, https/);
});
