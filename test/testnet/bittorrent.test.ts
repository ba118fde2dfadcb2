/**
 * `dchat-test distribute-update --method bittorrent` end to end, as the acceptance checks run it:
 * real node processes on loopback, the origin running the tracker and seeding, every other node
 * holding only the magnet and downloading over BitTorrent, each ending verified; the JSON report of
 * spec/CLI.md; `verify-distribution` rechecks every node's package from its home.
 */
import { after, test } from 'node:test';
import { distributeChecked, harnessHome } from '../helpers/distribution.ts';

let h: Awaited<ReturnType<typeof harnessHome>> | undefined;
after(async () => {
  await h?.close();
});

test('distribute-update --method bittorrent: a swarm through the origin tracker; every node verified', async () => {
  h = await harnessHome('dchat-harness-bt-', 200_000);
  await distributeChecked(h.run, {
    method: 'bittorrent',
    nodes: 4,
    packageSize: 1536 * 1024,
    timeout: '150s',
  });
});
