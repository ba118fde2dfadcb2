/**
 * A genesis change on real node processes: three `dchat node start` processes pin genesis v1;
 * a holder proposes v2 (`dchat governance propose-genesis --genesis FILE`, v2 made by `dchat-sign
 * genesis`) which removes one holder and adds another; holders vote, validators consent and
 * their nodes attest the tally; once certified, every node has moved to v2 (`governance status
 * --json` shows its hash, and a restarted node starts from it). After the change a vote by the
 * new holder counts and one by the removed holder is refused.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { HomePaths } from '../../src/store/home.ts';
import { keygen } from '../../src/testnet/governance-net.ts';
import { stopAll } from '../../src/testnet/process.ts';
import { type MirrorRepo, makeMirrorRepo } from '../download/fixture.ts';
import { dchat, dchatSign, describeRun } from '../helpers/cli.ts';
import { waitFor } from '../helpers/node-procs.ts';
import { GovernanceNodes, gov, json, proposeUpgrade, govStatus as status } from './node-set.ts';

const VOTING = '30s';

describe('a certified genesis change on real node processes', () => {
  let repo: MirrorRepo;
  let dir: string;
  const net = new GovernanceNodes(
    () => repo,
    () => v1File,
  );
  let v1File: string;
  let v2File: string;
  let v2Hash: string;
  const k: Record<string, { file: string; pub: string }> = {};

  const signGenesis = async (
    name: string,
    version: number,
    holders: string[],
    origin?: { origin: string; created: string },
  ) => {
    const spec = {
      network_id: 'dchat-genesis-test',
      version,
      ...origin,
      params: {
        min_voting_period_ms: 1000,
        block_interval_ms: 1000,
        max_clock_skew_ms: 30_000,
        min_deposit: 10,
      },
      holders: holders.map((h) => ({ public_key: k[h]?.pub as string, weight: 100 })),
      validators: ['v0', 'v1', 'v2'].map((v, i) => ({
        key_id: v,
        public_key: k[v]?.pub as string,
        stake: [40, 30, 30][i] as number,
      })),
    };
    const specFile = join(dir, `${name}.spec.json`);
    await writeFile(specFile, JSON.stringify(spec));
    const out = join(dir, `${name}.json`);
    const r = await dchatSign([
      'genesis',
      '--spec',
      specFile,
      '--root-key',
      k.root?.file as string,
      '--out',
      out,
      '--json',
    ]);
    return { file: out, hash: json<{ genesis_hash: string }>(r).genesis_hash };
  };

  before(async () => {
    repo = await makeMirrorRepo();
    await repo.publish('1.1.0', 4096);
    dir = await mkdtemp(join(repo.base, 'keys-'));
    for (const name of ['h0', 'h1', 'h2', 'hOld', 'hNew', 'v0', 'v1', 'v2', 'root'])
      k[name] = await keygen(dir, name);
    const v1 = await signGenesis('genesis-v1', 1, ['h0', 'h1', 'h2', 'hOld']);
    v1File = v1.file;
    // The next genesis names the first as its origin and keeps its height clock.
    const created = (JSON.parse(await readFile(v1File, 'utf8')) as { signed: { created: string } }).signed
      .created;
    const v2 = await signGenesis('genesis-v2', 2, ['h0', 'h1', 'h2', 'hNew'], { origin: v1.hash, created });
    v2File = v2.file;
    v2Hash = v2.hash;
  });
  after(() => net.stop());

  test('propose-genesis, vote, approve: every node moves to v2; then a new holder votes, a removed one cannot', {
    timeout: 240_000,
  }, async () => {
    const [ha, hb, hc] = [await net.home(), await net.home(), await net.home()] as [
      HomePaths,
      HomePaths,
      HomePaths,
    ];
    const a = await net.start(ha, 'val-a', 'validator', { key: k.v0?.file as string });
    const b = await net.start(hb, 'val-b', 'validator', { key: k.v1?.file as string });
    const c = await net.start(hc, 'user-c', 'user');
    const v1Hash = (await status(hc)).genesis_hash;
    assert.notEqual(v1Hash, v2Hash);

    // The proposal of v2, by a holder through node A.
    const proposed = json<{ id: string; genesis_hash: string; genesis_version: number }>(
      await gov(ha, [
        'propose-genesis',
        '--genesis',
        v2File,
        '--voting-period',
        VOTING,
        '--key',
        k.h0?.file as string,
      ]),
    );
    assert.equal(proposed.genesis_hash, v2Hash);
    assert.equal(proposed.genesis_version, 2);
    const id = proposed.id;
    for (const h of [hb, hc])
      await waitFor('the genesis proposal on every node', async () =>
        (await status(h)).proposals.some((p) => p.id === id && p.kind === 'genesis'),
      );
    for (const [home, holder] of [
      [ha, 'h0'],
      [hb, 'h1'],
      [hc, 'h2'],
    ] as const) {
      const r = await gov(home, [
        'vote',
        '--proposal',
        id,
        '--option',
        'yes',
        '--key',
        k[holder]?.file as string,
      ]);
      assert.equal(r.code, 0, describeRun(r));
    }
    // Consent of validators with 70% of stake; their nodes attest the tally once voting ends.
    for (const [home, v] of [
      [ha, 'v0'],
      [hb, 'v1'],
    ] as const) {
      const r = await gov(home, ['approve', '--proposal', id, '--key', k[v]?.file as string]);
      assert.equal(r.code, 0, describeRun(r));
    }

    // Every node moves to v2 and shows the certified change.
    await waitFor(
      'every node on genesis v2',
      async () => {
        for (const h of [ha, hb, hc]) if ((await status(h)).genesis_hash !== v2Hash) return false;
        return true;
      },
      120_000,
    );
    const st = await status(hc);
    const change = st.proposals.find((p) => p.id === id);
    assert.equal(change?.status, 'approved');
    assert.equal(change?.genesis?.version, 2);
    assert.equal(change?.genesis?.hash, v2Hash);
    assert.ok(change?.certificate);

    // Under v2: an upgrade proposal; the new holder's vote counts, the removed holder's is refused.
    const up = json<{ id: string }>(
      await proposeUpgrade(ha, { activation: 100_000, voting: '10m', key: k.h0?.file as string }),
    );
    await waitFor('the upgrade proposal on node C', async () =>
      (await status(hc)).proposals.some((p) => p.id === up.id),
    );
    const counted = await gov(hc, [
      'vote',
      '--proposal',
      up.id,
      '--option',
      'yes',
      '--key',
      k.hNew?.file as string,
    ]);
    assert.equal(counted.code, 0, describeRun(counted));
    const refused = await gov(hc, [
      'vote',
      '--proposal',
      up.id,
      '--option',
      'yes',
      '--key',
      k.hOld?.file as string,
    ]);
    assert.equal(refused.code, 3, describeRun(refused));
    assert.match(refused.stderr + refused.stdout, /E_UNTRUSTED_KEY/);
    for (const h of [ha, hb, hc])
      await waitFor('the new holder counted on every node', async () => {
        const p = (await status(h)).proposals.find((x) => x.id === up.id);
        return p && p.tally.voters === 1 && p.tally.yes === 100;
      });

    // A restarted node starts from v2 (pinned under its home), and `init` with v1 is refused.
    await stopAll([c]);
    await net.start(hc, 'user-c-again', 'user', { bootstrap: [a, b] });
    assert.equal((await status(hc)).genesis_hash, v2Hash);
    // The fork id names the network's first genesis: the restarted node (v2 from its home) and
    // the others (moved to v2 while running) are one network, not two forks.
    const forkOf = async (h: HomePaths) =>
      json<{ fork?: { fork_id: { hash: string } | null } | null }>(
        await dchat(['--home', h.home, 'node', 'status', '--json'], { timeoutMs: 30_000 }),
      ).fork?.fork_id?.hash;
    assert.equal(await forkOf(hc), await forkOf(ha));
    const reinit = await gov(hc, ['init', '--genesis', v1File]);
    assert.notEqual(reinit.code, 0, describeRun(reinit));
  });
});
