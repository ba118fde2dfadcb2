/**
 * `dchat-test distribute-update --method bittorrent` end to end, as the acceptance checks run it:
 * real node processes on loopback, the origin running the tracker and seeding, every other node
 * holding only the magnet and downloading over BitTorrent, each ending verified; the JSON report of
 * spec/CLI.md; `verify-distribution` rechecks every node's package from its home.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runBin } from '../helpers/cli.ts';

type Report = {
  ok: boolean;
  version: string;
  method: string;
  duration_ms: number;
  nodes: { id: string; role: string; version: string | null; verified: boolean; source: string | null }[];
  rejected: { forged_announcements: number; bad_chunks: number; refused_peers: number };
};

let home: string;
before(async () => {
  home = await mkdtemp(join(tmpdir(), 'dchat-harness-bt-'));
});
after(async () => {
  await rm(home, { recursive: true, force: true });
});
const run = (args: string[], timeoutMs = 200_000) =>
  runBin('dchat-test', args, { env: { DCHAT_HOME: home }, timeoutMs });

test('distribute-update --method bittorrent: a swarm through the origin tracker; every node verified', async () => {
  const r = await run([
    'distribute-update',
    '--version',
    '1.0.0',
    '--method',
    'bittorrent',
    '--nodes',
    '4',
    '--package-size',
    String(1536 * 1024),
    '--timeout',
    '150s',
    '--json',
  ]);
  assert.equal(r.code, 0, `${r.stderr}\n${r.stdout}`);
  const rep = JSON.parse(r.stdout) as Report;
  assert.equal(rep.ok, true);
  assert.equal(rep.method, 'bittorrent');
  assert.equal(rep.nodes.length, 4);
  for (const n of rep.nodes) {
    assert.equal(n.verified, true, JSON.stringify(n));
    assert.equal(n.version, '1.0.0');
  }
  // The origin had it from the mirror; everyone else got it over BitTorrent, and nothing else.
  assert.equal(rep.nodes[0]?.source, 'cache');
  assert.deepEqual(
    rep.nodes.slice(1).map((n) => n.source),
    ['bittorrent', 'bittorrent', 'bittorrent'],
  );
  assert.match(r.stderr, /via bittorrent/);

  const v = await run(['verify-distribution', '--version', '1.0.0', '--json']);
  assert.equal(v.code, 0, v.stderr);
  const again = JSON.parse(v.stdout) as Report;
  assert.equal(again.method, 'bittorrent');
  assert.ok(again.nodes.every((n) => n.verified));
});
