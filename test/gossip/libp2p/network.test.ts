/**
 * Real node processes on loopback (`dchat node start`): discovery by gossip along a line of
 * nodes (only dialers say HELLO), packages fetched from peers and kept with the files offline
 * `dchat update verify` reads, mirrors shared and saved as learned, a late joiner catching up by
 * anti-entropy (no re-announcement), and a forged announcement that the first honest node drops
 * and never relays.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { trustUpdate } from '../../../src/download/trust-session.ts';
import { ANNOUNCE_FORMAT } from '../../../src/model/announcement.ts';
import { controlRequest } from '../../../src/node/control.ts';
import { DirectoryFetcher } from '../../../src/sources/directory-fetcher.ts';
import { homePaths } from '../../../src/store/home.ts';
import { addMirror, DEFAULT_SETTINGS, saveMirrors } from '../../../src/store/mirrors.ts';
import { trustInit } from '../../../src/testnet/harness.ts';
import type { AttackPlan } from '../../../src/testnet/malicious.ts';
import { type NodeProcess, spawnMaliciousNode, stopAll } from '../../../src/testnet/process.ts';
import { forgeBundle, prepareReleases, type TestRelease } from '../../../src/testnet/release.ts';
import { runBin } from '../../helpers/cli.ts';
import { startUserNode, waitFor } from '../../helpers/node-procs.ts';

const PLATFORM = 'linux-x64';
const TARGET = `dchat-1.0.0-${PLATFORM}`;

type Status = {
  peer_id: string;
  connected_peers: { id: string; score: number }[];
  mesh_peers: string[];
  banned_peers: string[];
  releases: {
    highest_trusted: string | null;
    announcements: { id: string }[];
    packages: { target: string; source: string }[];
  };
  mirrors: { uri: string; origin: string; priority: number }[];
  stats: {
    adapter: {
      forged_announcements: number;
      accepted_via: { push: number; sync: number; local: number };
      sent_by_type: Record<string, number>;
    };
  };
};

const status = (p: NodeProcess) =>
  controlRequest(homePaths(p.home), 'status') as Promise<unknown> as Promise<Status>;

describe('gossip over libp2p between real node processes', () => {
  let dir: string;
  let rel: TestRelease;
  let rootBytes: Buffer;
  const procs: NodeProcess[] = [];
  const nodes: NodeProcess[] = [];

  const startNode = async (name: string, bootstrap: NodeProcess[]) => {
    const home = join(dir, name);
    await trustInit(homePaths(home), rootBytes, new Date());
    const p = await startUserNode({ name, home, platform: PLATFORM, bootstrap });
    procs.push(p);
    return p;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dchat-gossip-'));
    [rel] = (await prepareReleases({
      dir: join(dir, 'release'),
      versions: ['1.0.0'],
      platform: PLATFORM,
      packageBytes: 200_000,
      chunkSize: 16 * 1024,
      now: new Date(),
    })) as [TestRelease];
    rootBytes = await readFile(join(rel.repoDir, 'root.json'));
    // A line n0 - n1 - n2, formed before anyone has the release. n0 uses one HTTPS mirror.
    const home0 = join(dir, 'n0');
    await mkdir(home0, { recursive: true });
    await saveMirrors(homePaths(home0), {
      settings: DEFAULT_SETTINGS,
      mirrors: addMirror([], { url: 'https://mirror.example.org/dchat', mirrorType: 'https' }).mirrors,
    });
    const n0 = await startNode('n0', []);
    const n1 = await startNode('n1', [n0]);
    const n2 = await startNode('n2', [n1]);
    nodes.push(n0, n1, n2);
    await waitFor('the line to connect and the announce mesh to form', async () => {
      const [s0, s1, s2] = await Promise.all(nodes.map(status));
      return (
        s1?.connected_peers.length === 2 &&
        (s0?.mesh_peers.length ?? 0) >= 1 &&
        (s1?.mesh_peers.length ?? 0) >= 2 &&
        (s2?.mesh_peers.length ?? 0) >= 1
      );
    });
  });

  after(async () => {
    await stopAll(procs);
    await rm(dir, { recursive: true, force: true });
  });

  test('only the side that dialled sends HELLO', async () => {
    // n1 dialled n0 and n2 dialled n1; n0 dialled nobody.
    const [s0, s1, s2] = await Promise.all(nodes.map(status));
    assert.equal(s0?.stats.adapter.sent_by_type.hello ?? 0, 0);
    assert.equal(s1?.stats.adapter.sent_by_type.hello, 1);
    assert.equal(s2?.stats.adapter.sent_by_type.hello, 1);
  });

  test('a release announced at one end reaches the other end by gossip and is fetched from peers', async () => {
    const [n0, , n2] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    // n0 gets the release from the mirror, then announces it.
    const p0 = homePaths(n0.home);
    await trustUpdate(p0, new DirectoryFetcher(rel.repoDir), new Date());
    await mkdir(p0.packagesDir, { recursive: true });
    await copyFile(rel.packageFile, p0.packageFile('1.0.0', PLATFORM));
    const a = (await controlRequest(p0, 'announce', { ttl: 4 })) as { id: string; version: string };
    assert.equal(a.version, '1.0.0');

    for (const p of nodes.slice(1)) {
      const s = await waitFor(`${p.name} to verify the package`, async () => {
        const st = await status(p);
        return st.releases.packages.some((x) => x.target === TARGET) && st;
      });
      assert.equal(s.releases.highest_trusted, '1.0.0');
      assert.ok(
        s.releases.announcements.some((x) => x.id === a.id),
        `${p.name} holds the announcement`,
      );
      assert.equal(s.stats.adapter.accepted_via.push, 1, `${p.name} learned it by gossip push`);
      assert.equal(s.releases.packages.find((x) => x.target === TARGET)?.source, 'peer');
    }
    // n2 never talked to n0: it learned through n1's relayed copy.
    const s2 = await status(n2);
    assert.ok(!s2.connected_peers.some((p) => p.id === n0.peerId));
  });

  test('a package fetched from peers is kept with its chunk table and signed target entry: offline verify passes', async () => {
    const n2 = nodes[2] as NodeProcess;
    const p2 = homePaths(n2.home);
    const entry = JSON.parse(await readFile(p2.targetFile('1.0.0', PLATFORM), 'utf8'));
    assert.equal(entry.path, TARGET);
    assert.equal(entry.hashes.sha256, entry.custom.sha256);
    assert.equal(entry.custom.version, '1.0.0');
    const table = JSON.parse(await readFile(p2.chunkTableFile('1.0.0', PLATFORM), 'utf8'));
    assert.equal(table.chunks.length, entry.custom.chunks.count);
    const r = await runBin(
      'dchat',
      ['update', 'verify', '--package', p2.packageFile('1.0.0', PLATFORM), '--version', '1.0.0', '--json'],
      { env: { DCHAT_HOME: n2.home } },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).ok, true);
  });

  test('mirror lists are shared: a neighbour learns the mirror as untrusted and ranks it lower', async () => {
    const [n0, n1] = nodes as [NodeProcess, NodeProcess];
    const s0 = await status(n0);
    const mine = s0.mirrors.find((m) => m.uri === 'https://mirror.example.org/dchat');
    assert.equal(mine?.origin, 'configured');
    const s1 = await waitFor('n1 to learn the mirror', async () => {
      const st = await status(n1);
      return st.mirrors.some((m) => m.uri === mine?.uri) && st;
    });
    const learned = s1.mirrors.find((m) => m.uri === mine?.uri);
    assert.equal(learned?.origin, 'learned');
    assert.ok((learned?.priority ?? 0) > (mine?.priority ?? 0));
    // Saved in n1's mirrors.toml as learned, where `dchat update list-mirrors` shows it.
    const listed = await waitFor('n1 to save the learned mirror', async () => {
      const r = await runBin('dchat', ['update', 'list-mirrors', '--json'], { env: { DCHAT_HOME: n1.home } });
      const doc = JSON.parse(r.stdout) as { mirrors: { uri: string; origin: string }[] };
      return doc.mirrors.some((m) => m.uri === mine?.uri) && doc;
    });
    assert.equal(listed.mirrors.find((m) => m.uri === mine?.uri)?.origin, 'learned');
    const human = await runBin('dchat', ['update', 'list-mirrors'], { env: { DCHAT_HOME: n1.home } });
    assert.match(human.stdout, /Learned from peers:\n\s+1\. https:\/\/mirror\.example\.org\/dchat/);
  });

  test('a late joiner catches up by anti-entropy, without a new announcement', async () => {
    const n2 = nodes[2] as NodeProcess;
    const n3 = await startNode('n3', [n2]);
    const s = await waitFor('n3 to verify the package', async () => {
      const st = await status(n3);
      return st.releases.packages.some((x) => x.target === TARGET) && st;
    });
    assert.equal(s.releases.highest_trusted, '1.0.0');
    assert.equal(s.stats.adapter.accepted_via.push, 0);
    assert.equal(s.stats.adapter.accepted_via.sync, 1, 'learned from a digest exchange (WANT -> BUNDLE)');
    nodes.push(n3);
  });

  test('forged announcements are rejected by the first honest node, never relayed, and the sender scored down', async () => {
    const n1 = nodes[1] as NodeProcess;
    const home = join(dir, 'liar');
    await trustInit(homePaths(home), rootBytes, new Date());
    const plan: AttackPlan = {
      announcements: [
        {
          kind: 'forged',
          announcement: {
            format: ANNOUNCE_FORMAT,
            id: '00000000-0000-4000-8000-000000000000',
            node_id: 'liar',
            version: '9.0.0',
            metadata: forgeBundle(rel.bundle, '9.0.0'),
            sources: [],
            timestamp: new Date().toISOString(),
            ttl: 8,
          },
        },
      ],
      spamPerRound: 0,
      roundMs: 200,
      rounds: 25,
      corruptChunks: false,
    };
    const liar = await spawnMaliciousNode({ name: 'liar', home, plan, bootstrap: n1.addresses[0] as string });
    procs.push(liar);
    const s1 = await waitFor('n1 to reject forgeries', async () => {
      const st = await status(n1);
      // At least one forgery judged and refused; how many more copies arrive before the sender is
      // graylisted or banned depends on scheduling, so the count is not pinned.
      return st.stats.adapter.forged_announcements >= 1 && st;
    });
    assert.equal(s1.releases.highest_trusted, '1.0.0', 'n1 trusts nothing the forger claimed');
    const scored = await waitFor('the forger to be scored below zero or banned', async () => {
      const st = await status(n1);
      const p = st.connected_peers.find((x) => x.id === liar.peerId);
      return (st.banned_peers.includes(liar.peerId) || (p !== undefined && p.score < 0)) && st;
    });
    assert.ok(scored);
    for (const p of nodes.filter((x) => x !== n1)) {
      const st = await status(p);
      assert.equal(st.stats.adapter.forged_announcements, 0, `${p.name} never received a relayed forgery`);
      assert.equal(st.releases.highest_trusted, '1.0.0');
    }
  });
  test('`update download --source peer` asks the running node, which fetches from peers and verifies', async () => {
    const n2 = nodes[2] as NodeProcess;
    const home = join(dir, 'n5');
    await trustInit(homePaths(home), rootBytes, new Date());
    const n5 = await startUserNode({
      name: 'n5',
      home,
      platform: PLATFORM,
      bootstrap: [n2],
      prefetch: false,
    });
    procs.push(n5);
    await waitFor(
      'n5 to trust the release',
      async () => (await status(n5)).releases.highest_trusted === '1.0.0',
    );
    assert.equal((await status(n5)).releases.packages.length, 0, 'no prefetch: nothing fetched yet');
    const r = await runBin(
      'dchat',
      ['update', 'download', '--version', '1.0.0', '--platform', PLATFORM, '--source', 'peer', '--json'],
      { env: { DCHAT_HOME: home } },
    );
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as {
      ok: boolean;
      source: string;
      path: string;
      peers: Record<string, number>;
    };
    assert.equal(doc.source, 'peer');
    assert.ok(Object.keys(doc.peers).length >= 1);
    const v = await runBin('dchat', ['update', 'verify', '--package', doc.path, '--version', '1.0.0'], {
      env: { DCHAT_HOME: home },
    });
    assert.equal(v.code, 0, v.stderr);
    // Without a running node there are no peers: a clear operational error.
    const none = await runBin(
      'dchat',
      ['update', 'download', '--version', '1.0.0', '--platform', PLATFORM, '--source', 'peer'],
      { env: { DCHAT_HOME: join(dir, 'nobody') } },
    );
    assert.equal(none.code, 1);
    assert.match(none.stderr, /error\[E_NO_SOURCE\]/);
  });
});
