/**
 * Height beacons on real node processes (issue 10 point 2): three validators (`dchat node start
 * --role validator --validator-key FILE`, keys as dchat-sign writes them) and a user node pin one
 * genesis; the validators sign a beacon every block (1 s) and every node's `node status --json`
 * shows the same accepted height, climbing. With the validator holding 40% of stake stopped, the
 * other two (60% < 2/3) can make no height: it stops climbing everywhere.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { HeightStatus } from '../../src/node/heights.ts';
import type { HomePaths } from '../../src/store/home.ts';
import { makeGovernance } from '../../src/testnet/governance-net.ts';
import { type NodeProcess, spawnNode, stopAll } from '../../src/testnet/process.ts';
import { type MirrorRepo, makeHome, makeMirrorRepo } from '../download/fixture.ts';
import { dchat, describeRun } from '../helpers/cli.ts';
import { waitFor } from '../helpers/node-procs.ts';

interface Status {
  height?: HeightStatus;
  fork?: { fork_id: { hash: string; next: number } | null; refused_peers: number } | null;
}

describe('height beacons on real node processes', () => {
  let repo: MirrorRepo;
  let genesisFile: string;
  const validators: { file: string; pub: string }[] = [];
  const nodes: NodeProcess[] = [];

  const status = async (home: HomePaths): Promise<Status> => {
    const r = await dchat(['--home', home.home, 'node', 'status', '--json'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, describeRun(r));
    return JSON.parse(r.stdout) as Status;
  };
  const newHome = async () => {
    const paths = await makeHome(repo);
    const r = await dchat(['--home', paths.home, 'governance', 'init', '--genesis', genesisFile, '--json']);
    assert.equal(r.code, 0, describeRun(r));
    return paths;
  };
  const start = async (home: HomePaths, name: string, key: string | undefined, bootstrap: NodeProcess[]) => {
    const args = ['--home', home.home, 'node', 'start', '--json', '--role', key ? 'validator' : 'user'];
    if (key) args.push('--validator-key', key);
    for (const b of bootstrap) args.push('--bootstrap', b.addresses[0] as string);
    const n = await spawnNode({ name, home: home.home, role: key ? 'validator' : 'user', args });
    nodes.push(n);
    return n;
  };

  before(async () => {
    repo = await makeMirrorRepo();
    // Three validators (40/30/30 stake) and a holder, made as founders make them.
    const g = await makeGovernance({
      dir: join(repo.base, 'keys'),
      networkId: 'dchat-heights',
      holders: 1,
      stakes: [40, 30, 30],
      blockIntervalMs: 1000,
    });
    validators.push(...g.validators);
    genesisFile = g.genesisFile;
  });
  after(async () => {
    await stopAll(nodes);
  });

  test('validators sign beacons; every node shows the same climbing height; below 2/3 it stops', {
    timeout: 180_000,
  }, async () => {
    const homes = [await newHome(), await newHome(), await newHome(), await newHome()] as HomePaths[];
    const v0 = await start(homes[0]!, 'val-0', validators[0]!.file, []);
    const v1 = await start(homes[1]!, 'val-1', validators[1]!.file, [v0]);
    await start(homes[2]!, 'val-2', validators[2]!.file, [v0, v1]);
    await start(homes[3]!, 'user', undefined, [v1]);

    // The machine may be loaded: statuses are read one at a time, with room.
    const all = async () => {
      const out: Status[] = [];
      for (const h of homes) out.push(await status(h));
      return out;
    };
    const first = await waitFor(
      'a height on every node',
      async () => {
        const s = await all();
        return s.every((x) => (x.height?.height ?? 0) >= 3) && s;
      },
      120_000,
    );
    for (const s of first) {
      assert.equal(s.height?.source, 'beacon');
      assert.match(s.fork?.fork_id?.hash ?? '', /^[0-9a-f]{8}$/);
      assert.equal(s.fork?.refused_peers, 0);
    }
    assert.equal(first[0]?.height?.beacon?.validator, true);
    assert.ok((first[0]?.height?.beacon?.signed ?? 0) >= 3);
    assert.equal(first[3]?.height?.beacon?.validator, false);
    assert.equal(new Set(first.map((s) => s.fork?.fork_id?.hash)).size, 1, 'one genesis, one fork id');

    // The 40% validator stops: 60% is below 2/3, so the height stops where it is, and every node
    // that is left ends on the very same beacon (height and hash).
    v0.child.kill('SIGTERM');
    await v0.exited;
    const rest = homes.slice(1);
    const settled = await waitFor(
      'the nodes left to settle on one beacon',
      async () => {
        const s: Status[] = [];
        for (const h of rest) s.push(await status(h));
        const tips = new Set(s.map((x) => `${x.height?.height}/${x.height?.beacon?.hash}`));
        return tips.size === 1 && s;
      },
      60_000,
    );
    const stalled = settled[0]?.height?.height as number;
    assert.ok(stalled >= 3);
    await new Promise((r) => setTimeout(r, 4000));
    for (const h of rest) {
      const s = await status(h);
      assert.equal(s.height?.height, stalled, 'no new height without 2/3 of stake');
      assert.equal(s.height?.beacon?.hash, settled[0]?.height?.beacon?.hash);
    }
  });
});
