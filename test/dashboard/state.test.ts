/**
 * The dashboard's pure parts (src/dashboard/state.ts): the propagation history counts nodes that
 * trust each version (a node trusting a newer one trusts it too) and nodes holding its verified
 * package, versions in order whenever they appear; the update notice names the newest version.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dashboardNode, PropagationHistory, updateNotice } from '../../src/dashboard/state.ts';
import type { StatusResult } from '../../src/model/control.ts';

function status(trusted: string | null, held: string[]): StatusResult {
  return {
    peer_id: '12D3KooWx',
    role: 'user',
    pid: 1,
    started_at: '',
    addresses: [],
    connected_peers: [{ id: 'p', score: 0 }],
    banned_peers: [],
    releases: {
      highest_trusted: trusted,
      announcements: [],
      packages: held.map((version) => ({
        target: `dchat-${version}-linux-x64`,
        version,
        platform: 'linux-x64',
        verified: true as const,
        source: 'peer' as const,
        verified_at: '',
      })),
      downloads: [],
    },
  } as unknown as StatusResult;
}

test('history: trust and verified counts per version over samples', () => {
  const h = new PropagationHistory();
  h.sample(1000, [status(null, []), status(null, []), undefined]);
  h.sample(2000, [status('1.0.0', ['1.0.0']), status('1.0.0', []), undefined]);
  h.sample(3000, [status('1.1.0', ['1.0.0', '1.1.0']), status('1.0.0', ['1.0.0']), status('1.0.0', [])]);
  const j = h.toJSON();
  assert.deepEqual(j.t, [1, 2, 3]);
  assert.deepEqual(j.versions, ['1.0.0', '1.1.0']);
  assert.deepEqual(j.trusted, [
    [0, 2, 3],
    [0, 0, 1],
  ]);
  assert.deepEqual(j.verified, [
    [0, 1, 2],
    [0, 0, 1],
  ]);
  // A version that appears later, but sorts earlier, gets its own zero-filled row in order.
  h.sample(4000, [status('1.0.5', [])]);
  assert.deepEqual(h.toJSON().versions, ['1.0.0', '1.0.5', '1.1.0']);
  assert.deepEqual(h.toJSON().trusted[1], [0, 0, 0, 1]);
});

test('nodes and the update notice', () => {
  const nodes = [
    dashboardNode({ id: 'a', role: 'user', version: '0.1.0', status: status('1.1.0', ['1.1.0']) }),
    dashboardNode({ id: 'b', role: 'relay', version: '0.1.0', status: status('1.0.0', ['1.0.0']) }),
    dashboardNode({ id: 'c', role: 'user', version: '0.1.0', status: undefined }),
  ];
  assert.deepEqual(
    nodes.map((n) => [n.ready_version, n.update_pending, n.up]),
    [
      ['1.1.0', true, true],
      ['1.0.0', true, true],
      [null, false, false],
    ],
  );
  assert.deepEqual(updateNotice(nodes), { version: '1.1.0', nodes_pending: 2, nodes_ready: 1 });
  assert.equal(updateNotice([nodes[2] as (typeof nodes)[number]]), null);
});
