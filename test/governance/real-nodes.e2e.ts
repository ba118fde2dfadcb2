/**
 * Governance on real node processes (issue 10, "Must show"): three `dchat node start` processes
 * on loopback pin one genesis; `dchat governance propose-upgrade`, `vote` and `approve` (real CLI
 * processes, keys as dchat-sign writes them) go through different nodes; once the vote ends every
 * node's `governance status --json` shows the same approved certificate and activation height; a
 * fourth node started after approval gets the certificate by anti-entropy alone; a restarted node
 * has it from its home.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { HomePaths } from '../../src/store/home.ts';
import { keygen, makeGovernance } from '../../src/testnet/governance-net.ts';
import { stopAll } from '../../src/testnet/process.ts';
import { type MirrorRepo, makeMirrorRepo } from '../download/fixture.ts';
import { describeRun } from '../helpers/cli.ts';
import { waitFor } from '../helpers/node-procs.ts';
import { GovernanceNodes, gov, json, proposeUpgrade, govStatus as status } from './node-set.ts';

// Long enough for the CLI processes below (each a second or two) to vote within it.
const VOTING = '45s';
const ACTIVATION_HEIGHT = 500;

describe('governance on real node processes', () => {
  let repo: MirrorRepo;
  let dir: string;
  const net = new GovernanceNodes(
    () => repo,
    () => genesisFile,
  );
  let genesisFile: string;
  const holders: { file: string; pub: string }[] = [];
  const validators: { file: string; pub: string }[] = [];

  before(async () => {
    repo = await makeMirrorRepo();
    await repo.publish('1.1.0', 4096);
    dir = await mkdtemp(join(repo.base, 'keys-'));
    // The founders' step (src/testnet/governance-net.ts: dchat-sign keygen and dchat-sign genesis).
    // Holder 3 has 100 of 400: the others' three votes are 75% turnout. Validators 0 and 1 hold 70%
    // of stake.
    const g = await makeGovernance({ dir, networkId: 'dchat-govtest', holders: 4, stakes: [40, 30, 30] });
    holders.push(...g.holders);
    validators.push(...g.validators);
    genesisFile = g.genesisFile;
    assert.equal(JSON.parse(await readFile(genesisFile, 'utf8')).signed.network_id, 'dchat-govtest');
  });
  after(() => net.stop());

  test('propose, vote, approve: every node holds the same certificate; a late node catches up', {
    timeout: 180_000,
  }, async () => {
    const [ha, hb, hc] = [await net.home(), await net.home(), await net.home()] as [
      HomePaths,
      HomePaths,
      HomePaths,
    ];
    // Validator 0's node holds its key: it attests the tally itself once voting ends. Validator 1's
    // node does not: its operator runs `approve` again after the end, which signs the tally.
    const a = await net.start(ha, 'val-a', 'validator', { key: (validators[0] as { file: string }).file });
    await net.start(hb, 'val-b', 'validator');
    const c = await net.start(hc, 'user-c', 'user');

    // A proposal from a holder through node A.
    const proposed = json<{ id: string; proposal: { activation_height: number } }>(
      await proposeUpgrade(ha, {
        activation: ACTIVATION_HEIGHT,
        fork: 'hard',
        voting: VOTING,
        key: (holders[0] as { file: string }).file,
      }),
    );
    const id = proposed.id;
    assert.equal(proposed.proposal.activation_height, ACTIVATION_HEIGHT);
    for (const h of [hb, hc])
      await waitFor('the proposal on every node', async () =>
        (await status(h)).proposals.some((p) => p.id === id),
      );

    // Votes through different nodes; a key that holds no tokens is refused (exit 3), not counted.
    const votes: [HomePaths, number, string][] = [
      [ha, 0, 'yes'],
      [hb, 1, 'yes'],
      [hc, 2, 'no'],
    ];
    for (const [home, i, option] of votes) {
      const r = await gov(home, [
        'vote',
        '--proposal',
        id.slice(0, 12),
        '--option',
        option,
        '--key',
        (holders[i] as { file: string }).file,
      ]);
      assert.equal(r.code, 0, describeRun(r));
    }
    const outsider = await keygen(dir, 'outsider');
    const refused = await gov(hc, ['vote', '--proposal', id, '--option', 'yes', '--key', outsider.file]);
    assert.equal(refused.code, 3, describeRun(refused));
    assert.match(refused.stderr + refused.stdout, /E_UNTRUSTED_KEY/);
    // Validator approvals (consent while voting is open): 40 + 30 of 100 stake.
    for (const [home, i] of [
      [ha, 0],
      [hb, 1],
    ] as const) {
      const r = await gov(home, [
        'approve',
        '--proposal',
        id,
        '--key',
        (validators[i] as { file: string }).file,
      ]);
      assert.equal(r.code, 0, describeRun(r));
    }
    const during = (await status(hc)).proposals.find((p) => p.id === id);
    assert.ok(during);
    await waitFor('votes and approvals on node C', async () => {
      const p = (await status(hc)).proposals.find((x) => x.id === id);
      return p && p.tally.voters === 3 && p.approving_stake === 70;
    });

    // After the period: validator 1 attests the tally its node holds (validator 0's node does so
    // by itself).
    const ended = await waitFor(
      'the end of voting on node B',
      async () => {
        const p = (await status(hb)).proposals.find((x) => x.id === id);
        return p && p.status !== 'voting' && p.tally_commitment !== null && p;
      },
      90_000,
    );
    assert.equal(ended.tally_commitment?.voters, 3);
    const attest = await gov(hb, [
      'approve',
      '--proposal',
      id,
      '--key',
      (validators[1] as { file: string }).file,
    ]);
    assert.equal(attest.code, 0, describeRun(attest));
    const attested = JSON.parse(attest.stdout) as { tally: { votes_root: string; yes: number } | null };
    assert.equal(attested.tally?.votes_root, ended.tally_commitment?.votes_root);
    assert.equal(attested.tally?.yes, 200);

    // The same certificate and activation height on every node.
    const certs = await waitFor(
      'the certificate on every node',
      async () => {
        const all = await Promise.all([ha, hb, hc].map(status));
        const ps = all.map((s) => s.proposals.find((p) => p.id === id));
        if (!ps.every((p) => p?.certificate)) return false;
        const ids = new Set(ps.map((p) => p?.certificate?.id));
        return ids.size === 1 ? ps : false;
      },
      60_000,
    );
    for (const p of certs) {
      assert.equal(p?.status, 'approved');
      assert.equal(p?.activation_height, ACTIVATION_HEIGHT);
      assert.equal(
        (p?.certificate?.certificate.proposal as { activation_height?: number } | undefined)
          ?.activation_height,
        ACTIVATION_HEIGHT,
      );
      assert.equal(p?.tally.yes, 200);
      assert.equal(p?.tally.no, 100);
      assert.equal(p?.tally.quorum_reached, true);
      assert.equal(p?.approving_stake, 70);
    }
    assert.deepEqual(certs[1]?.certificate, certs[0]?.certificate);
    assert.deepEqual(certs[2]?.certificate, certs[0]?.certificate);

    // The certificate verifies offline on its own against the pinned genesis.
    const { trustGenesis } = await import('../../src/governance/genesis.ts');
    const { verifyCertificate } = await import('../../src/governance/certificate.ts');
    const g = trustGenesis(JSON.parse(await readFile(genesisFile, 'utf8')));
    const v = verifyCertificate(g, certs[0]?.certificate?.certificate as never, { version: '1.1.0' });
    assert.ok(v.ok, v.ok ? '' : v.reason);

    // A node started after approval, bootstrapped to C only: it learns the certificate by anti-entropy.
    const hd = await net.home();
    await net.start(hd, 'late-d', 'user', { bootstrap: [c] });
    const late = await waitFor(
      'the certificate on the late node',
      async () => (await status(hd)).proposals.find((p) => p.id === id && p.certificate),
      60_000,
    );
    assert.equal(late.certificate?.id, certs[0]?.certificate?.id);
    assert.equal(late.activation_height, ACTIVATION_HEIGHT);
    assert.equal(late.status, 'approved');

    // Node A restarts alone (no peers): what it held comes back from governance/ in its home.
    await stopAll([a]);
    await net.start(ha, 'val-a-again', 'validator', {
      key: (validators[0] as { file: string }).file,
      bootstrap: [],
    });
    const again = (await status(ha)).proposals.find((p) => p.id === id);
    assert.equal(again?.certificate?.id, certs[0]?.certificate?.id);
    assert.equal(again?.tally.voters, 3);
  });
});
