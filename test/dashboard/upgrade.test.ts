/**
 * The dashboard's upgrade panels (src/dashboard/upgrade.ts): a proposal's tally, stake approving
 * and ready and the countdown to its activation height from a governance status; the switches and
 * rollbacks of every node from their supervisors' journals, in time order; and a node's row
 * following the version its supervisor runs after a switch.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dashboardNode } from '../../src/dashboard/state.ts';
import { activationEvents, type JournalEntry, upgradePanel } from '../../src/dashboard/upgrade.ts';
import type { StatusResult } from '../../src/model/control.ts';
import type { GovernanceStatusResult, ProposalStatus } from '../../src/model/governance-control.ts';

const PID = 'a'.repeat(64);

function proposalStatus(over: Partial<ProposalStatus> = {}): ProposalStatus {
  return {
    id: PID,
    kind: 'upgrade',
    genesis: null,
    title: 'upgrade to 1.1.0',
    version: '1.1.0',
    fork: 'hard',
    min_compatible_version: '1.0.0',
    proposer: 'b'.repeat(64),
    activation_height: 500,
    ipfs_cid: 'bafy',
    mirrors: [],
    status: 'approved',
    submit_time_ms: 0,
    submit_height: 10,
    voting_end_time_ms: 60_000,
    voting_end_height: 70,
    blocks_left: 0,
    time_left_ms: 0,
    tally: {
      yes: 200,
      no: 100,
      abstain: 0,
      voted: 300,
      total_weight: 400,
      voters: 3,
      quorum: '0.67',
      threshold: '0.5',
      quorum_reached: true,
      passed: true,
    },
    approving_stake: 70,
    total_stake: 100,
    approval_threshold: '0.67',
    approval_reached: true,
    tally_commitment: null,
    attesting_stake: 70,
    certificate: null,
    ready_stake: 40,
    ready_share: '0.4000',
    ready_validators: [
      { key_id: 'validator-0', public_key: 'c'.repeat(64), stake: 40, time_ms: 5, height: 100 },
    ],
    ...over,
  };
}

function govStatus(height: number | null, proposals: ProposalStatus[]): GovernanceStatusResult {
  return {
    network_id: 'dchat-test',
    genesis_hash: 'd'.repeat(64),
    now: { height, time_ms: 1000 },
    block_interval_ms: 5000,
    proposals,
    rollbacks: [
      {
        version: '1.1.0',
        to: '1.0.0',
        proposal_id: PID,
        height: 500,
        reason: 'did not report healthy within 30000 ms',
        signer: 'e'.repeat(64),
        key_id: null,
        stake: 0,
        time_ms: Date.UTC(2026, 0, 1),
      },
    ],
  };
}

test('upgrade panel: tally, stakes, countdown in blocks and time; rollbacks with who and stake', () => {
  const u = upgradePanel(govStatus(380, [proposalStatus()]), 5000);
  const p = u.proposals[0];
  assert.equal(p?.turnout, 0.75);
  assert.deepEqual(
    [p?.yes, p?.no, p?.approving_stake, p?.ready_stake, p?.total_stake],
    [200, 100, 70, 40, 100],
  );
  assert.deepEqual(p?.ready_validators, ['validator-0']);
  assert.equal(p?.blocks_left, 120);
  assert.equal(p?.eta_s, 600);
  assert.deepEqual(u.rollbacks, [
    {
      who: `node ${'e'.repeat(12)}`,
      stake: 0,
      version: '1.1.0',
      to: '1.0.0',
      height: 500,
      reason: 'did not report healthy within 30000 ms',
      at: '2026-01-01T00:00:00.000Z',
    },
  ]);
  // Past the height: 0 blocks left; no height known: no countdown; no interval: no time estimate.
  assert.equal(upgradePanel(govStatus(600, [proposalStatus()]), 5000).proposals[0]?.blocks_left, 0);
  const unknown = upgradePanel(govStatus(null, [proposalStatus()]), 5000).proposals[0];
  assert.deepEqual([unknown?.blocks_left, unknown?.eta_s], [null, null]);
  assert.equal(upgradePanel(govStatus(380, [proposalStatus()]), null).proposals[0]?.eta_s, null);
  // At most four proposals, as the status lists them (newest first).
  const many = Array.from({ length: 6 }, (_, i) => proposalStatus({ id: String(i).repeat(64) }));
  assert.equal(upgradePanel(govStatus(1, many), 5000).proposals.length, 4);
});

test('activation events: switches and rollbacks of every node in time order, marks left out', () => {
  const entry = (
    kind: JournalEntry['kind'],
    from: string | null,
    to: string,
    at: string,
    height: number | null,
  ) => ({
    kind,
    from,
    to,
    at,
    height,
    downtime_ms: kind === 'switch' ? 900 : null,
  });
  const ev = activationEvents([
    {
      id: 'val-1',
      history: [
        entry('switch', null, '1.0.0', '2026-01-01T00:00:00.000Z', null),
        entry('switch', '1.0.0', '1.1.0', '2026-01-01T00:10:00.000Z', 500),
        entry('rollback', '1.1.0', '1.0.0', '2026-01-01T00:10:40.000Z', 500),
      ],
    },
    {
      id: 'val-0',
      history: [
        entry('switch', '1.0.0', '1.1.0', '2026-01-01T00:10:00.000Z', 500),
        entry('mark-successful', '1.0.0', '1.1.0', '2026-01-01T00:10:02.000Z', null),
        entry('switch', '1.0.0', '1.1.0', 'not a date', 500),
      ],
    },
  ]);
  assert.deepEqual(
    ev.map((e) => [e.node, e.kind, e.from, e.to, e.height]),
    [
      ['val-1', 'switch', null, '1.0.0', null],
      ['val-0', 'switch', '1.0.0', '1.1.0', 500],
      ['val-1', 'switch', '1.0.0', '1.1.0', 500],
      ['val-1', 'rollback', '1.1.0', '1.0.0', 500],
    ],
  );
  assert.equal(ev[1]?.downtime_ms, 900);
  const long = Array.from({ length: 80 }, (_, i) =>
    entry('switch', '1.0.0', '1.1.0', new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(), i),
  );
  const kept = activationEvents([{ id: 'n', history: long }]);
  assert.equal(kept.length, 50);
  assert.equal(kept[49]?.height, 79);
});

test('a node row follows the version its supervisor runs, its next step and readiness', () => {
  const status = {
    peer_id: '12D3KooWx',
    role: 'validator',
    connected_peers: [],
    banned_peers: [],
    releases: { highest_trusted: '1.1.0', announcements: [], packages: [], downloads: [] },
    activation: { running_version: '1.1.0', next_action: 'none', ready: false, plan: null, rolled_back: [] },
    fork: { fork_id: { hash: 'abcd1234', next: 0 }, refused_peers: 0 },
  } as unknown as StatusResult;
  const n = dashboardNode({ id: 'v', role: 'validator', version: '1.0.0', status });
  assert.deepEqual(
    [n.version, n.update_pending, n.next_action, n.fork_id],
    ['1.1.0', false, null, 'abcd1234/0'],
  );
  const waiting = dashboardNode({
    id: 'v',
    role: 'validator',
    version: '1.0.0',
    status: {
      ...status,
      activation: { running_version: '1.0.0', next_action: 'wait', ready: true, plan: null, rolled_back: [] },
    } as unknown as StatusResult,
  });
  assert.deepEqual(
    [waiting.version, waiting.update_pending, waiting.next_action, waiting.upgrade_ready],
    ['1.0.0', true, 'wait', true],
  );
});
