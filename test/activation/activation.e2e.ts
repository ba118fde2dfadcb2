/**
 * Coordinated activation end to end (issue 11): three validators, each a supervised `dchat node
 * start` running a real 1.0.0 build from its versions/ (installed by `update download` + `update
 * install`), pin one genesis and sign height beacons. A holder proposes 1.1.0 (a real build
 * published to the loopback mirror) with an activation height, holders vote, validators approve;
 * during the grace period every node pre-downloads and verifies 1.1.0 and installs it (status:
 * ready), and at the activation height every supervisor switches: each node's journal records the
 * switch to 1.1.0 requested at the activation height, the new child is healthy, and the downtime
 * of each switch is measured.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readJournal, versionPaths } from '../../src/activation/versions.ts';
import type { GovernanceStatusResult } from '../../src/model/governance-control.ts';
import { homePaths } from '../../src/store/home.ts';
import { type NodeProcess, spawnNode, stopAll } from '../../src/testnet/process.ts';
import { type CliResult, dchat, dchatSign, describeRun } from '../helpers/cli.ts';
import { waitFor } from '../helpers/node-procs.ts';
import { homeWithVersions, type ReleaseRepo, releaseBuild, releaseRepo } from '../helpers/release-builds.ts';

async function keygen(dir: string, name: string): Promise<{ file: string; pub: string }> {
  const file = join(dir, `${name}.key`);
  const r = await dchatSign(['keygen', '--out', file, '--json']);
  assert.equal(r.code, 0, describeRun(r));
  return { file, pub: (JSON.parse(r.stdout) as { public: string }).public };
}
function json<T>(r: CliResult): T {
  assert.equal(r.code, 0, describeRun(r));
  return JSON.parse(r.stdout) as T;
}

describe('activation at the height on supervised real builds', () => {
  let repo: ReleaseRepo;
  let dir: string;
  let genesisFile: string;
  const holders: { file: string; pub: string }[] = [];
  const validators: { file: string; pub: string }[] = [];
  const nodes: NodeProcess[] = [];

  before(async () => {
    repo = await releaseRepo([
      { version: '1.0.0', file: releaseBuild('1.0.0') },
      { version: '1.1.0', file: releaseBuild('1.1.0') },
    ]);
    dir = await mkdtemp(join(repo.dir, '..', 'keys-'));
    for (let i = 0; i < 3; i++) holders.push(await keygen(dir, `holder-${i}`));
    for (let i = 0; i < 3; i++) validators.push(await keygen(dir, `validator-${i}`));
    const root = await keygen(dir, 'root');
    const spec = {
      network_id: 'dchat-activation-test',
      params: {
        min_voting_period_ms: 1000,
        block_interval_ms: 1000,
        max_clock_skew_ms: 30_000,
        min_deposit: 10,
      },
      holders: holders.map((h) => ({ public_key: h.pub, weight: 100 })),
      validators: validators.map((v, i) => ({
        key_id: `validator-${i}`,
        public_key: v.pub,
        stake: [40, 30, 30][i],
      })),
    };
    const specFile = join(dir, 'network.json');
    await writeFile(specFile, JSON.stringify(spec));
    genesisFile = join(dir, 'genesis.json');
    const r = await dchatSign([
      'genesis',
      '--spec',
      specFile,
      '--root-key',
      root.file,
      '--out',
      genesisFile,
      '--json',
    ]);
    assert.equal(r.code, 0, describeRun(r));
  });
  after(async () => {
    await stopAll(nodes);
    await repo?.close();
  });

  test('pre-download in the grace period, every node switches at the activation height', {
    timeout: 900_000,
  }, async () => {
    const homes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const home = await homeWithVersions(repo, ['1.0.0']);
      const r = await dchat(['--home', home, 'governance', 'init', '--genesis', genesisFile, '--json']);
      assert.equal(r.code, 0, describeRun(r));
      homes.push(home);
    }
    // Fixed ports, as a deployment has: a switched node comes back where its peers dial it.
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    for (let i = 0; i < 3; i++) {
      const home = homes[i] as string;
      const args = ['--home', home, 'node', 'start', '--json', '--role', 'validator'];
      args.push('--listen', `/ip4/127.0.0.1/tcp/${base + i}`);
      args.push('--validator-key', (validators[i] as { file: string }).file);
      for (const b of nodes) args.push('--bootstrap', b.addresses[0] as string);
      nodes.push(
        await spawnNode({
          name: `val-${i}`,
          home,
          role: 'validator',
          args,
          env: { DCHAT_CHILD_LOG: '1' },
          startTimeoutMs: 120_000,
        }),
      );
    }
    const gov = (home: string, args: string[]) =>
      dchat(['--home', home, 'governance', ...args, '--json'], { timeoutMs: 30_000 });
    const status = async (home: string) => json<GovernanceStatusResult>(await gov(home, ['status']));
    const nodeStatus = async (home: string) =>
      json<{ activation?: { ready: boolean; running_version: string; plan: unknown } }>(
        await dchat(['--home', home, '--json', 'node', 'status'], { timeoutMs: 30_000 }),
      );

    const h0 = await waitFor(
      'a height on every node',
      async () => {
        const hs = await Promise.all(homes.map(async (h) => (await status(h)).now.height));
        return hs.every((x) => typeof x === 'number') ? Math.max(...(hs as number[])) : false;
      },
      120_000,
    );
    const activation = h0 + 150;
    const lv = json<{ versions: { version: string; ipfs_cid?: string }[] }>(
      await dchat(['--home', homes[0] as string, '--json', 'update', 'list-versions']),
    );
    const cid = lv.versions.find((v) => v.version === '1.1.0')?.ipfs_cid ?? '';
    const proposed = json<{ id: string }>(
      await gov(homes[0] as string, [
        'propose-upgrade',
        '--version',
        '1.1.0',
        '--ipfs-cid',
        cid,
        '--mirrors',
        repo.mirror.url,
        '--activation-height',
        String(activation),
        '--fork',
        'hard',
        '--voting-period',
        '60s',
        '--key',
        (holders[0] as { file: string }).file,
      ]),
    );
    for (const h of homes)
      await waitFor(
        'the proposal on every node',
        async () => (await status(h)).proposals.some((p) => p.id === proposed.id),
        60_000,
      );
    for (let i = 0; i < 3; i++)
      json(
        await gov(homes[i] as string, [
          'vote',
          '--proposal',
          proposed.id,
          '--option',
          'yes',
          '--key',
          (holders[i] as { file: string }).file,
        ]),
      );
    for (let i = 0; i < 2; i++)
      json(
        await gov(homes[i] as string, [
          'approve',
          '--proposal',
          proposed.id,
          '--key',
          (validators[i] as { file: string }).file,
        ]),
      );
    // The grace period: every node holds the certificate, then pre-downloads, verifies and installs
    // (`node status`: ready) before the height. Polled on all nodes at once: a node is seen ready
    // (with the network height at that moment) or has already switched, which needs it installed.
    const readyAt = new Map<string, number>();
    await waitFor(
      'every node ready or switched',
      async () => {
        await Promise.all(
          homes.map(async (h) => {
            if (readyAt.has(h)) return;
            const st = await nodeStatus(h);
            if (st.activation?.ready) readyAt.set(h, (await status(h)).now.height as number);
            else if (st.activation?.running_version === '1.1.0') readyAt.set(h, -1);
          }),
        );
        return readyAt.size === homes.length;
      },
      400_000,
    );
    const seen = [...readyAt.values()].filter((x) => x >= 0);
    assert.ok(seen.length > 0, 'no node was seen ready before it switched');
    for (const x of seen) assert.ok(x < activation, `ready at height ${x}, before ${activation}`);

    // The switch: every supervisor's journal has it, requested at the activation height.
    const switches = [];
    for (const h of homes) {
      const vp = versionPaths(homePaths(h));
      const sw = await waitFor(
        'the switch on every node',
        async () => (await readJournal(vp)).history.find((x) => x.kind === 'switch' && x.to === '1.1.0'),
        300_000,
      );
      switches.push(sw);
      await waitFor(
        '1.1.0 running',
        async () => (await nodeStatus(h)).activation?.running_version === '1.1.0',
        60_000,
      );
    }
    const heights = switches.map((s) => s.height);
    const downtimes = switches.map((s) => s.downtime_ms as number);
    process.stderr.write(
      `switch heights ${heights.join(', ')} (activation ${activation}); downtime ms ${downtimes.join(', ')}\n`,
    );
    for (const s of switches) assert.equal(s.height, activation, `switched at height ${s.height}`);
  });
});
