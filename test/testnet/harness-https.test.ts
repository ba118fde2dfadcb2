/**
 * `dchat-test distribute-update --method https` end to end: real `dchat node start` processes on
 * 127.0.0.1, each prefetching from HTTPS mirrors only (`--prefetch-source https`): two loopback
 * mirrors of the release behind a CA made for the run. The origin holds the release from the mirror
 * directory; the others learn of it from their peers and fetch every byte from the mirrors, verify
 * it, and the report follows spec/CLI.md; `verify-distribution` rechecks the run from the homes.
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { after, test } from 'node:test';
import { runBin } from '../helpers/cli.ts';
import { distributeChecked, harnessHome } from '../helpers/distribution.ts';

let h: Awaited<ReturnType<typeof harnessHome>> | undefined;
after(async () => {
  await h?.close();
});

test('distribute-update --method https: every node ends verified, fetched from the HTTPS mirrors', {
  timeout: 320_000,
}, async () => {
  h = await harnessHome('dchat-harness-https-', 280_000);
  const { rep, stderr } = await distributeChecked(h.run, {
    method: 'https',
    nodes: 3,
    packageSize: 1_500_000,
    timeout: '240s',
  });
  // Healthy mirrors: nothing was injected.
  assert.deepEqual(rep.injected, { malicious_nodes: 0 });
  assert.match(stderr, /2 HTTPS mirror\(s\) of the release: https:\/\/127\.0\.0\.1:\d+/);
});

test('distribute-update --method with an unknown method: a usage error naming every method', async () => {
  const r = await runBin(
    'dchat-test',
    ['distribute-update', '--version', '1.0.0', '--method', 'carrier-pigeon'],
    { env: { DCHAT_HOME: h?.home ?? tmpdir() }, timeoutMs: 60_000 },
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /E_USAGE/);
  assert.match(r.stderr, /gossip, peer, ipfs, bittorrent, https/);
});
