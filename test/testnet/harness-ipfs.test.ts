/**
 * `dchat-test distribute-update --method ipfs` end to end: real `dchat node start` processes on
 * 127.0.0.1, each prefetching over IPFS only (`--prefetch-source ipfs`); the origin provides the
 * release it got from the mirror by its signed CID, the others fetch it over bitswap, verify it and
 * provide it in turn. The report follows spec/CLI.md and `verify-distribution` rechecks the run.
 */
import { after, test } from 'node:test';
import { distributeChecked, harnessHome } from '../helpers/distribution.ts';

let h: Awaited<ReturnType<typeof harnessHome>> | undefined;
after(async () => {
  await h?.close();
});

test('distribute-update --method ipfs: every node ends verified, fetched over IPFS', {
  timeout: 320_000,
}, async () => {
  h = await harnessHome('dchat-harness-ipfs-', 280_000);
  await distributeChecked(h.run, { method: 'ipfs', nodes: 3, packageSize: 1_500_000, timeout: '240s' });
});
