/**
 * The multi-process test harness behind `dchat-test distribute-update`, `chaos-byzantine` and
 * `verify-distribution`: a release published with a fresh key into a local mirror directory, N
 * real `dchat node start` processes on 127.0.0.1 with their own homes (all `trust init`ed to that
 * release's root), the first one seeded from the mirror (TUF update + its package), and the rest
 * learning of the release over the network and fetching it from peers: over /dchat/chunks/1
 * (methods gossip and peer), over IPFS bitswap by the signed CID (method ipfs), or from HTTPS
 * mirrors of the release (method https: two loopback mirrors behind a CA made for the run, in every
 * node's mirrors.toml), each node prefetching from that kind of source only (`node start
 * --prefetch-source`). The run is kept under $DCHAT_HOME/testnet/runs/<id>; its report follows
 * spec/CLI.md ("Test harness").
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { sha256Hex } from '../crypto/hash.ts';
import { trustOffline, trustUpdate } from '../download/trust-session.ts';
import { verifyFile } from '../download/verify-file.ts';
import { DchatError, toDchatError } from '../errors.ts';
import { ANNOUNCE_FORMAT, type TufBundle, type VersionAnnouncement } from '../model/announcement.ts';
import { controlRequest } from '../node/control.ts';
import { DirectoryFetcher } from '../sources/directory-fetcher.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { type HomePaths, homePaths } from '../store/home.ts';
import { writeTrustOrigin } from '../store/trust-origin.ts';
import { FileTrustStore } from '../store/trust-store.ts';
import { sleep } from '../util/sleep.ts';
import { joinSwarm, originArgs, planSwarm } from './bittorrent.ts';
import { type ChaosMirrors, configureMirrors, startChaosMirrors } from './chaos-mirrors.ts';
import type { AttackPlan, MaliciousStats } from './malicious.ts';
import { type SplitOutcome, splitNetwork, watchSplit } from './partition.ts';
import { type NodeProcess, spawnMaliciousNode, spawnNode, stopAll } from './process.ts';
import { forgeBundle, prepareReleases, type TestRelease } from './release.ts';

export const METHODS = ['gossip', 'peer', 'ipfs', 'bittorrent', 'https'] as const;
export type Method = (typeof METHODS)[number];

/** The source kind nodes prefetch from under each method (gossip finds the release; peers carry it). */
const PREFETCH_SOURCE: Record<Method, string> = {
  gossip: 'peer',
  peer: 'peer',
  ipfs: 'ipfs',
  bittorrent: 'bittorrent',
  https: 'https',
};

export interface NodeReport {
  id: string;
  role: string;
  version: string | null;
  verified: boolean;
  source: string | null;
  switch_height: number | null;
  rejected: number;
  home: string;
  peers_served_from?: number;
  error?: string;
}

export interface DistributionReport {
  ok: boolean;
  version: string;
  method: Method;
  duration_ms: number;
  nodes: NodeReport[];
  injected: Record<string, number>;
  rejected: { forged_announcements: number; bad_chunks: number; refused_peers: number };
  run_dir: string;
}

export interface ScenarioOptions {
  home: string;
  version: string;
  method: Method;
  nodes: number;
  malicious: number;
  platform: string;
  packageBytes: number;
  chunkSize: number;
  timeoutMs: number;
  now: Date;
  /** Progress lines for humans (stderr under --json). */
  note?: (line: string) => void;
  /** chaos-mirrors: every honest node also has these broken mirrors (chaos-mirrors.ts). */
  chaosMirrors?: { count: number; failRate: number; seed: string };
  /** chaos-partition: the honest nodes split in two for this long, then healed (partition.ts). */
  partitionMs?: number;
}

const LAST_RUN = 'last-distribution.json';
const ROLES = ['relay', 'user', 'user'] as const;

/** Pins `rootFile` as the home's trust anchor, as `dchat trust init --root` does. */
export async function trustInit(paths: HomePaths, rootBytes: Uint8Array, now: Date): Promise<void> {
  await new FileTrustStore(paths).pinRoot(rootBytes);
  await writeTrustOrigin(paths, {
    origin: 'trust-init',
    root_sha256: sha256Hex(rootBytes),
    at: now.toISOString(),
  });
}

/** A node that got the release from the mirror: trusted metadata and the verified package. */
export async function seedFromMirror(paths: HomePaths, rel: TestRelease, now: Date): Promise<void> {
  await trustUpdate(paths, new DirectoryFetcher(rel.repoDir), now);
  await mkdir(paths.packagesDir, { recursive: true });
  await copyFile(rel.packageFile, paths.packageFile(rel.version, rel.platform));
}

function announcementOf(version: string, bundle: TufBundle, nodeId: string): VersionAnnouncement {
  return {
    format: ANNOUNCE_FORMAT,
    id: '00000000-0000-4000-8000-000000000000',
    node_id: nodeId,
    version,
    metadata: bundle,
    sources: [],
    timestamp: new Date().toISOString(),
    ttl: 8,
  };
}

type Status = {
  peer_id: string;
  role: string;
  connected_peers: { id: string }[];
  releases: {
    highest_trusted: string | null;
    packages: { target: string; version: string; source: string }[];
    downloads: { target: string; peers?: Record<string, number> }[];
  };
  stats: {
    adapter: {
      forged_announcements: number;
      refused_peers: number;
      rejected_by: Record<string, number>;
    };
    gossip: { invalid: number; malformed: number };
    bad_chunks: number;
  };
};

async function statusOf(p: NodeProcess): Promise<Status | undefined> {
  try {
    return (await controlRequest(homePaths(p.home), 'status', {}, 5000)) as unknown as Status;
  } catch {
    return undefined;
  }
}

async function until(deadline: number, check: () => Promise<boolean>, stepMs = 300): Promise<boolean> {
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(stepMs);
  }
  return check();
}

export async function runScenario(o: ScenarioOptions): Promise<DistributionReport> {
  const t0 = Date.now();
  const note = o.note ?? (() => {});
  const runId = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(3).toString('hex')}`;
  const runDir = join(o.home, 'testnet', 'runs', runId);
  await mkdir(runDir, { recursive: true });
  const oldVersion = o.malicious > 0 ? '0.0.1' : undefined;
  note(
    `📦 Publishing ${o.version} (${o.packageBytes} bytes) into ${join(runDir, 'mirror')} with a fresh key`,
  );
  const releases = await prepareReleases({
    dir: runDir,
    versions: oldVersion ? [oldVersion, o.version] : [o.version],
    platform: o.platform,
    packageBytes: o.packageBytes,
    chunkSize: o.chunkSize,
    now: o.now,
  });
  const rel = releases[releases.length - 1] as TestRelease;
  const rootBytes = await readFile(join(rel.repoDir, 'root.json'));
  // --method bittorrent: the origin runs the tracker and seeds; the others join by magnet only.
  const swarm = o.method === 'bittorrent' ? await planSwarm(rel) : undefined;
  const procs: NodeProcess[] = [];
  const honest: NodeProcess[] = [];
  const liars: NodeProcess[] = [];
  const nodeArgs = (home: string, role: string, bootstrap: string[]) => [
    '--home',
    home,
    'node',
    'start',
    '--json',
    '--role',
    role,
    '--prefetch',
    // Under chaos-mirrors the nodes must use the (faulty) mirrors beside their peers.
    ...(o.chaosMirrors ? [] : ['--prefetch-source', PREFETCH_SOURCE[o.method]]),
    '--platform',
    o.platform,
    ...bootstrap.flatMap((b) => ['--bootstrap', b]),
  ];
  let chaos: ChaosMirrors | undefined;
  const nodeEnv: NodeJS.ProcessEnv = {};
  try {
    // --method https: the same mirrors as chaos-mirrors, none failing (the metadata still spreads
    // between peers; the bytes come from the mirrors only).
    const c = o.chaosMirrors ?? (o.method === 'https' ? { count: 2, failRate: 0, seed: 'https' } : undefined);
    if (c) {
      chaos = await startChaosMirrors(rel.repoDir, c.count, c.failRate, c.seed);
      nodeEnv.NODE_EXTRA_CA_CERTS = chaos.caCert;
      note(
        o.chaosMirrors
          ? `💥 ${c.count} HTTPS mirror(s) failing, stalling or corrupting ${Math.round(c.failRate * 100)}% of package requests (seed ${c.seed})`
          : `🌐 ${c.count} HTTPS mirror(s) of the release: ${chaos.urls.join(', ')}`,
      );
    }
    // Origin: the node that got the release from the mirror.
    const originHome = join(runDir, 'nodes', 'n0');
    const originPaths = homePaths(originHome);
    await trustInit(originPaths, rootBytes, o.now);
    // Split runs: the origin gets the release only once the halves are apart (a node holding a
    // release serves it to every peer by anti-entropy as soon as they connect).
    if (!o.partitionMs) await seedFromMirror(originPaths, rel, o.now);
    const origin = await spawnNode({
      name: 'n0',
      home: originHome,
      role: 'validator',
      args: [...nodeArgs(originHome, 'validator', []), ...(swarm ? originArgs(swarm) : [])],
    });
    procs.push(origin);
    honest.push(origin);

    if (o.malicious > 0) {
      const untrusted = (
        await prepareReleases({
          dir: join(runDir, 'untrusted'),
          versions: ['9.9.9'],
          platform: o.platform,
          packageBytes: 4096,
          chunkSize: 16 * 1024,
          now: o.now,
        })
      )[0] as TestRelease;
      const old = releases[0] as TestRelease;
      const plan: AttackPlan = {
        announcements: [
          {
            kind: 'forged',
            announcement: announcementOf('9.0.0', forgeBundle(rel.bundle, '9.0.0'), 'forger'),
          },
          { kind: 'untrusted', announcement: announcementOf('9.9.9', untrusted.bundle, 'forger') },
          { kind: 'replay', announcement: announcementOf(old.version, old.bundle, 'forger') },
        ],
        spamPerRound: 10,
        roundMs: 400,
        // The plan's schema allows at most 10,000 rounds.
        rounds: Math.min(10_000, Math.ceil(o.timeoutMs / 400)),
        corruptChunks: true,
      };
      for (let k = 0; k < o.malicious; k++) {
        const home = join(runDir, 'nodes', `m${k}`);
        const paths = homePaths(home);
        await trustInit(paths, rootBytes, o.now);
        await seedFromMirror(paths, rel, o.now);
        const m = await spawnMaliciousNode({
          name: `m${k}`,
          home,
          plan,
          bootstrap: origin.addresses[0] as string,
        });
        procs.push(m);
        liars.push(m);
      }
      note(
        `😈 ${o.malicious} malicious node(s) started: forged, untrusted-key, replayed announcements, spam, corrupted chunks`,
      );
    }

    for (let i = 1; i < o.nodes; i++) {
      const home = join(runDir, 'nodes', `n${i}`);
      await trustInit(homePaths(home), rootBytes, o.now);
      if (chaos) await configureMirrors(homePaths(home), chaos.urls);
      const role = ROLES[i % ROLES.length] as string;
      // A connected graph that is not a star: the previous node, one earlier node, one liar.
      const boot = new Set<string>([honest[i - 1]?.addresses[0] as string]);
      if (i >= 2) boot.add(honest[Math.floor(Math.random() * (i - 1))]?.addresses[0] as string);
      if (liars.length) boot.add(liars[i % liars.length]?.addresses[0] as string);
      const bt = swarm ? await joinSwarm(homePaths(home), rel, swarm, o.now) : [];
      const args = [...nodeArgs(home, role, swarm ? [] : [...boot]), ...bt];
      const p = await spawnNode({ name: `n${i}`, home, role, args, env: nodeEnv });
      procs.push(p);
      honest.push(p);
    }
    note(`🚀 ${honest.length} honest node(s) running on 127.0.0.1`);

    const deadline = t0 + o.timeoutMs + (o.partitionMs ?? 0);
    const target = `dchat-${o.version}-${o.platform}`;
    let split: ReturnType<typeof splitNetwork> | undefined;
    if (o.partitionMs) {
      // Everyone connected first, so the split cuts live connections.
      await until(deadline, async () =>
        (await Promise.all(honest.map(statusOf))).every((s) => (s?.connected_peers.length ?? 0) > 0),
      );
      split = splitNetwork(honest, o.partitionMs);
      const sp = await split;
      await seedFromMirror(originPaths, rel, o.now);
      note(
        `✂️  Network split for ${o.partitionMs / 1000} s: ${sp.a.map((p) => p.name).join(',')} | ${sp.b.map((p) => p.name).join(',')}`,
      );
    }
    if (o.method === 'gossip') {
      await until(deadline, async () => {
        const s = await statusOf(origin);
        return (s?.connected_peers.length ?? 0) > 0;
      });
      await controlRequest(originPaths, 'announce', { version: o.version }, 10_000);
      note(`📣 ${origin.name} announced ${o.version} over gossip`);
    }
    let splitOutcome: SplitOutcome | undefined;
    if (split) {
      splitOutcome = await watchSplit(
        await split,
        async (p) => Boolean((await statusOf(p))?.releases.packages.some((x) => x.target === target)),
        async (p) => (await statusOf(p))?.connected_peers.map((c) => c.id) ?? [],
      );
      note(
        `🩹 Healed: while split ${splitOutcome.a_verified_while_split} node(s) of the first half and ${splitOutcome.b_verified_while_split} of the second held ${o.version}`,
      );
    }
    const healedAt = Date.now();
    await until(deadline, async () => {
      const all = await Promise.all(honest.map(statusOf));
      return all.every((s) => s?.releases.packages.some((p) => p.target === target));
    });
    const convergedAt = Date.now();

    const statuses = await Promise.all(honest.map(statusOf));
    const nodes: NodeReport[] = [];
    const rejected = { forged_announcements: 0, bad_chunks: 0, refused_peers: 0 };
    for (const [i, p] of honest.entries()) {
      const s = statuses[i];
      const r = await recheck(p.home, p.peerId, p.role, o.version, o.platform, s, o.now);
      nodes.push(r);
      if (s) {
        const a = s.stats.adapter;
        rejected.forged_announcements += a.forged_announcements + s.stats.gossip.malformed;
        rejected.bad_chunks += s.stats.bad_chunks;
        rejected.refused_peers += a.refused_peers;
      }
    }
    for (const m of liars)
      nodes.push({
        id: m.peerId,
        role: 'malicious',
        version: null,
        verified: false,
        source: null,
        switch_height: null,
        rejected: 0,
        home: m.home,
      });
    await stopAll(procs);
    const injected: Record<string, number> = { malicious_nodes: liars.length };
    if (splitOutcome && o.partitionMs) {
      Object.assign(injected, {
        partition_ms: o.partitionMs,
        half_a: Math.ceil(honest.length / 2),
        half_b: Math.floor(honest.length / 2),
        ...splitOutcome,
        converged_after_heal_ms: convergedAt - healedAt,
      });
    }
    if (chaos && o.chaosMirrors) {
      const c = chaos.counts();
      Object.assign(injected, {
        mirrors: o.chaosMirrors.count,
        fail_rate: o.chaosMirrors.failRate,
        mirror_requests: c.requests,
        mirror_failed: c.failed,
        mirror_stalled: c.stalled,
        mirror_corrupted: c.corrupted,
      });
    }
    for (const m of liars) {
      try {
        const st = JSON.parse(await readFile(join(m.home, 'malicious-stats.json'), 'utf8')) as MaliciousStats;
        for (const [k, v] of Object.entries(st)) if (k !== 'rounds') injected[k] = (injected[k] ?? 0) + v;
      } catch {
        // A liar that died without its stats: counted as injecting nothing.
      }
    }
    const ok = nodes
      .filter((n) => n.role !== 'malicious')
      .every((n) => n.verified && n.version === o.version);
    const report: DistributionReport = {
      ok,
      version: o.version,
      method: o.method,
      duration_ms: Date.now() - t0,
      nodes,
      injected,
      rejected,
      run_dir: runDir,
    };
    await writeFileAtomic(join(runDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    await writeFileAtomic(
      join(o.home, 'testnet', LAST_RUN),
      `${JSON.stringify({ version: o.version, method: o.method, platform: o.platform, run_dir: runDir, nodes: nodes.map((n) => ({ id: n.id, role: n.role, home: n.home, source: n.source })) }, null, 2)}\n`,
    );
    return report;
  } finally {
    await stopAll(procs);
    await chaos?.stop();
  }
}

/** Rechecks one node's package from its own home: its trusted metadata, then every byte. */
async function recheck(
  home: string,
  id: string,
  role: string,
  version: string,
  platform: string,
  s: Status | undefined,
  now: Date,
): Promise<NodeReport> {
  const paths = homePaths(home);
  const pkg = s?.releases.packages.find((p) => p.version === version);
  const base: NodeReport = {
    id,
    role,
    version: null,
    verified: false,
    source: pkg?.source ?? null,
    switch_height: null,
    rejected: s ? Object.values(s.stats.adapter.rejected_by).reduce((a, b) => a + b, 0) : 0,
    home,
  };
  const dl = s?.releases.downloads.find((d) => d.target === `dchat-${version}-${platform}`);
  if (dl?.peers) base.peers_served_from = Object.keys(dl.peers).length;
  try {
    const trusted = await trustOffline(paths, now);
    const { verdict } = await verifyFile(trusted, paths.packageFile(version, platform), version, platform);
    if (!verdict.ok) return { ...base, error: `${verdict.code}: ${verdict.message}` };
    return { ...base, version, verified: true };
  } catch (err) {
    const e = toDchatError(err);
    return { ...base, error: `${e.code}: ${e.message}` };
  }
}

const LastRunSchema = z.object({
  version: z.string(),
  method: z.enum(METHODS),
  platform: z.string(),
  run_dir: z.string(),
  nodes: z.array(
    z.object({
      id: z.string(),
      role: z.string(),
      home: z.string(),
      source: z.string().nullable().optional(),
    }),
  ),
});

/** `verify-distribution`: rechecks every honest node of the last run, offline, from its home. */
export async function verifyDistribution(
  home: string,
  version: string,
  now: Date,
): Promise<DistributionReport> {
  const t0 = Date.now();
  let last: z.infer<typeof LastRunSchema>;
  try {
    last = LastRunSchema.parse(JSON.parse(await readFile(join(home, 'testnet', LAST_RUN), 'utf8')));
  } catch (cause) {
    const msg = `no distribution run is kept under ${home} (run dchat-test distribute-update)`;
    throw new DchatError('E_NOT_FOUND', msg, { cause });
  }
  if (last.version !== version)
    throw new DchatError(
      'E_NOT_FOUND',
      `version ${version} was never distributed here (the last run distributed ${last.version})`,
    );
  const nodes: NodeReport[] = [];
  for (const n of last.nodes) {
    if (n.role === 'malicious') continue;
    const r = await recheck(n.home, n.id, n.role, version, last.platform, undefined, now);
    nodes.push({ ...r, source: n.source ?? null });
  }
  return {
    ok: nodes.length > 0 && nodes.every((n) => n.verified),
    version,
    method: last.method,
    duration_ms: Date.now() - t0,
    nodes,
    injected: {},
    rejected: { forged_announcements: 0, bad_chunks: 0, refused_peers: 0 },
    run_dir: last.run_dir,
  };
}
