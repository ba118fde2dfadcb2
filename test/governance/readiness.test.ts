/**
 * Readiness and rollback notes on real node processes (issue 11): three validator nodes (each
 * with its validator key) and one user node pin a genesis; an upgrade to 1.1.0 is proposed, voted
 * and approved through the CLI. During the grace period the activation pump of each validator
 * has the release: node A holds the verified package, B and C pre-download it from their peers;
 * each signs a readiness note, and every node (the user too) shows 100% of stake ready in
 * `governance status --json` and `node status --json`, and node A's /metrics gauge says 1.
 * Then validator C's supervisor journal records a rollback (written with the supervisor's own
 * journal functions, as its automatic revert does): node C signs a "rolled back" note, every
 * node lists it (who: validator-2, stake 30) and the stake ready drops to 70. Node A serves its
 * dashboard: headless Chromium shows the proposal, its tally, stake ready, the countdown to the
 * activation height, the pending-upgrade notice and the rollback (screenshot kept in artifacts/).
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { historyEntry, readJournal, versionPaths, writeJournal } from '../../src/activation/versions.ts';
import type { NotesStatus } from '../../src/node/activation-notes.ts';
import type { HomePaths } from '../../src/store/home.ts';
import { makeGovernance } from '../../src/testnet/governance-net.ts';
import { type MirrorRepo, makeMirrorRepo, type Published } from '../download/fixture.ts';
import { ARTIFACTS, loadInChromium } from '../helpers/chromium.ts';
import { dchat, describeRun } from '../helpers/cli.ts';
import { waitFor } from '../helpers/node-procs.ts';
import { requireTool } from '../helpers/tools.ts';
import { GovernanceNodes, gov, govStatus, json, proposeUpgrade } from './node-set.ts';

describe('readiness and rollback notes on real node processes', () => {
  let repo: MirrorRepo;
  let pub: Published;
  let dir: string;
  let genesisFile: string;
  const holders: { file: string; pub: string }[] = [];
  const validators: { file: string; pub: string }[] = [];
  const net = new GovernanceNodes(
    () => repo,
    () => genesisFile,
  );
  const nodeStatus = async (home: HomePaths) =>
    json<Partial<NotesStatus>>(
      await dchat(['--home', home.home, '--json', 'node', 'status'], { timeoutMs: 30_000 }),
    );

  before(async () => {
    repo = await makeMirrorRepo();
    pub = await repo.publish('1.1.0', 200_000);
    dir = await mkdtemp(join(repo.base, 'keys-'));
    const g = await makeGovernance({
      dir,
      networkId: 'dchat-readiness-test',
      holders: 3,
      stakes: [40, 30, 30],
    });
    holders.push(...g.holders);
    validators.push(...g.validators);
    genesisFile = g.genesisFile;
  });
  after(() => net.stop());

  test('stake ready on every node; a rollback note reaches the others; the dashboard shows both', {
    timeout: 400_000,
  }, async () => {
    const homes: HomePaths[] = [];
    for (let i = 0; i < 4; i++) homes.push(await net.home());
    const [ha, hb, hc, hu] = homes as [HomePaths, HomePaths, HomePaths, HomePaths];
    // Node A already holds the verified package (as after `update download`); B and C have none.
    await mkdir(ha.packagesDir, { recursive: true });
    await copyFile(pub.file, join(ha.packagesDir, pub.name));
    const slow = { startTimeoutMs: 120_000 };
    const a = await net.start(ha, 'val-a', 'validator', {
      ...slow,
      key: (validators[0] as { file: string }).file,
      extra: ['--metrics', '127.0.0.1:0', '--dashboard', '127.0.0.1:0'],
    });
    await net.start(hb, 'val-b', 'validator', { ...slow, key: (validators[1] as { file: string }).file });
    await net.start(hc, 'val-c', 'validator', { ...slow, key: (validators[2] as { file: string }).file });
    await net.start(hu, 'user-d', 'user', slow);

    const h0 = await waitFor(
      'a height on every node',
      async () => {
        const hs = await Promise.all(homes.map(async (h) => (await govStatus(h)).now.height));
        return hs.every((x) => typeof x === 'number') ? Math.max(...(hs as number[])) : false;
      },
      120_000,
    );
    // Far enough that the height is not reached during the test: this is the grace period.
    const activation = h0 + 5000;
    const proposed = json<{ id: string }>(
      await proposeUpgrade(ha, {
        activation,
        fork: 'hard',
        voting: '30s',
        key: (holders[0] as { file: string }).file,
      }),
    );
    const id = proposed.id;
    for (const h of homes)
      await waitFor('the proposal on every node', async () =>
        (await govStatus(h)).proposals.some((p) => p.id === id),
      );
    for (let i = 0; i < 3; i++)
      json(
        await gov(homes[i] as HomePaths, [
          'vote',
          '--proposal',
          id,
          '--option',
          'yes',
          '--key',
          (holders[i] as { file: string }).file,
        ]),
      );
    for (let i = 0; i < 2; i++)
      json(
        await gov(homes[i] as HomePaths, [
          'approve',
          '--proposal',
          id,
          '--key',
          (validators[i] as { file: string }).file,
        ]),
      );

    // Before approval nobody is ready (readiness is for an approved release only).
    const early = (await govStatus(hu)).proposals.find((p) => p.id === id);
    assert.equal(early?.ready_stake, 0);

    // The grace period: every validator has the release and says so; every node counts 100 of 100.
    for (const h of homes)
      await waitFor(
        'all stake ready on every node',
        async () => {
          const p = (await govStatus(h)).proposals.find((x) => x.id === id);
          return p?.status === 'approved' && p.ready_stake === 100 ? p : false;
        },
        240_000,
      );
    const seen = (await govStatus(hu)).proposals.find((x) => x.id === id);
    assert.equal(seen?.ready_share, '1.0000');
    assert.deepEqual(
      seen?.ready_validators.map((v) => [v.key_id, v.stake]),
      [
        ['validator-0', 40],
        ['validator-1', 30],
        ['validator-2', 30],
      ],
    );
    for (const h of homes) {
      const st = await nodeStatus(h);
      const r = st.readiness?.proposals.find((p) => p.proposal_id === id);
      assert.equal(r?.ready_stake, 100, `node status of ${h.home}`);
      assert.equal(r?.ready_validators, 3);
    }
    const sb = await nodeStatus(hb);
    assert.equal(sb.readiness?.advertised, id);
    assert.equal(sb.readiness?.validator, true);
    // B pre-downloaded the release from its peers during the grace period.
    const pkgs = (sb as unknown as { releases: { packages: { version: string }[] } }).releases.packages;
    assert.ok(
      pkgs.some((p) => p.version === '1.1.0'),
      'B holds the verified 1.1.0',
    );
    const metrics = await (await fetch(a.metricsUrl as string)).text();
    assert.match(metrics, /^dchat_governance_ready_stake_ratio\{version="1\.1\.0"\} 1$/m);
    assert.match(metrics, /^dchat_governance_ready_stake\{version="1\.1\.0"\} 100$/m);

    // Validator C's supervisor rolls 1.1.0 back (its journal, as Supervisor.rollback writes it).
    const vp = versionPaths(hc);
    const j = await readJournal(vp);
    const at = new Date();
    j.rolled_back.push({
      version: '1.1.0',
      to: '1.0.0',
      at: at.toISOString(),
      reason: 'did not report healthy within 30000 ms',
    });
    j.history.push(historyEntry('rollback', '1.1.0', '1.0.0', at, { height: activation }));
    await mkdir(vp.activationDir, { recursive: true });
    await writeJournal(vp, j);
    for (const h of homes) {
      const st = await waitFor(
        'the rollback note on every node',
        async () => {
          const s = await govStatus(h);
          return s.rollbacks.length > 0 ? s : false;
        },
        60_000,
      );
      assert.deepEqual(
        st.rollbacks.map((r) => [r.key_id, r.stake, r.version, r.to, r.height, r.reason]),
        [['validator-2', 30, '1.1.0', '1.0.0', activation, 'did not report healthy within 30000 ms']],
      );
      assert.equal(st.rollbacks[0]?.proposal_id, id);
      assert.equal(st.rollbacks[0]?.signer, (validators[2] as { pub: string }).pub);
      // C went back: its readiness no longer counts.
      assert.equal(st.proposals.find((p) => p.id === id)?.ready_stake, 70);
    }
    const su = await nodeStatus(hu);
    assert.equal(su.rollback_notes?.[0]?.key_id, 'validator-2');
    const human = await dchat(['--home', hu.home, 'governance', 'status']);
    assert.equal(human.code, 0, describeRun(human));
    assert.match(human.stdout, /Ready: 70 of 100 stake \(70\.0%\): validator-0, validator-1/);
    assert.match(human.stdout, /validator-2 \(stake 30\) rolled back 1\.1\.0 -> 1\.0\.0 at height \d+/);

    // Node A's dashboard, in headless Chromium.
    if (requireTool('chromium')) return;
    const url = a.dashboardUrl as string;
    const state = (await (await fetch(`${url}api/state`)).json()) as {
      upgrade: {
        proposals: { id: string; ready_stake: number; blocks_left: number | null }[];
        rollbacks: unknown[];
      };
    };
    assert.equal(state.upgrade.proposals[0]?.id, id);
    assert.equal(state.upgrade.proposals[0]?.ready_stake, 70);
    assert.equal(state.upgrade.rollbacks.length, 1);
    await mkdir(ARTIFACTS, { recursive: true });
    const dom = await loadInChromium(url, join(ARTIFACTS, 'dashboard-upgrade.png'));
    assert.match(dom, new RegExp(`data-proposal="${id}" data-status="approved" data-ready-stake="70"`));
    assert.match(dom, /Votes: yes 300, no 0, abstain 0 \(3 holders\)/);
    assert.match(dom, /Approving stake: 70 of 100 \(70\.0%, needs 0\.67\) ✓/);
    assert.match(dom, /Stake ready: 70 of 100 \(70\.0%\): validator-0, validator-1/);
    assert.match(dom, new RegExp(`Activation at height ${activation}: \\d+ blocks left \\(about `));
    assert.match(
      dom,
      new RegExp(`Upgrade pending: dchat 1\\.1\\.0 was approved and activates at height ${activation}`),
    );
    assert.match(
      dom,
      /validator-2 \(stake 30\) rolled back 1\.1\.0 → 1\.0\.0 at height \d+: did not report healthy/,
    );
  });
});
