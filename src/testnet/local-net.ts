/**
 * `dchat testnet`: a whole dchat network on one machine. Real `dchat node start` processes on
 * 127.0.0.1 (validators in a full mesh, relays bootstrapped to the validators, users to the
 * relays), each with `--metrics` and `--prefetch`, all trusting a release repository made for the
 * run (fresh key) and served by dchat's embedded HTTPS mirror with a CA the run makes. Releases are
 * published into the repository, given to the first validator (as a maintainer's node gets them)
 * and announced over gossip; the others fetch them from the mirror and from each other.
 * DIR/testnet.json lists every node; DIR/prometheus-targets.json and DIR/prometheus.yml let a local
 * Prometheus scrape them. `stop` ends every process it started.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dashboard } from '../dashboard/server.ts';
import type { MirrorHealth } from '../dashboard/state.ts';
import { DchatError } from '../errors.ts';
import { type StaticServer, startStaticServer } from '../mirror/static-server.ts';
import type { StatusResult } from '../model/control.ts';
import { controlRequest } from '../node/control.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { homePaths } from '../store/home.ts';
import { configureMirrors } from './chaos-mirrors.ts';
import { seedFromMirror, trustInit } from './harness.ts';
import { type NodeProcess, spawnNode, stopAll } from './process.ts';
import { prepareReleases, publishNext, type TestRelease } from './release.ts';
import { makeTestCa } from './test-ca.ts';

export interface TestnetOptions {
  dir: string;
  validators: number;
  relays: number;
  users: number;
  /** 0: any free ports. Else mirror P, dashboard P+1, node i libp2p P+10+i, metrics P+10+n+i. */
  basePort: number;
  platform: string;
  packageBytes: number;
  chunkSize: number;
  /** The first release, published and announced at start. */
  firstVersion: string;
  now: () => Date;
  note?: (line: string) => void;
}

export interface TestnetNode {
  id: string;
  /** legacy: kept on an old version (`--scenario upgrade`). */
  role: 'validator' | 'relay' | 'user' | 'legacy';
  peer_id: string;
  pid: number | undefined;
  home: string;
  addresses: string[];
  metrics_url: string | null;
  dashboard_url: string | null;
}

export interface TestnetInfo {
  format: 'dchat.testnet/1';
  dir: string;
  started_at: string;
  mirror: { url: string; ca_cert: string };
  dashboard_url: string | null;
  nodes: TestnetNode[];
  releases: { version: string; published_at: string }[];
}

const PROMETHEUS_YML = fileURLToPath(new URL('../../contrib/prometheus/prometheus.yml', import.meta.url));

export class LocalTestnet {
  readonly o: TestnetOptions;
  readonly procs: NodeProcess[] = [];
  private mirror: StaticServer | undefined;
  private release: TestRelease | undefined;
  private readonly releases: { version: string; published_at: string }[] = [];
  private caCert = '';
  dashboardUrl: string | null = null;
  private dashboard: Dashboard | undefined;
  startedAt = '';

  constructor(o: TestnetOptions) {
    this.o = o;
  }

  private port(offset: number): number {
    return this.o.basePort ? this.o.basePort + offset : 0;
  }

  get size(): number {
    return this.o.validators + this.o.relays + this.o.users;
  }

  /** Everything up (or nothing left running and the error thrown). */
  async start(): Promise<void> {
    this.startedAt = this.o.now().toISOString();
    const note = this.o.note ?? (() => {});
    try {
      await mkdir(this.o.dir, { recursive: true });
      const caDir = join(this.o.dir, 'ca');
      await mkdir(caDir, { recursive: true });
      const ca = makeTestCa(caDir);
      this.caCert = ca.caCert;
      const [rel] = await prepareReleases({
        dir: join(this.o.dir, 'release'),
        versions: [this.o.firstVersion],
        platform: this.o.platform,
        packageBytes: this.o.packageBytes,
        chunkSize: this.o.chunkSize,
        now: this.o.now(),
      });
      this.release = rel as TestRelease;
      this.releases.push({ version: this.o.firstVersion, published_at: this.o.now().toISOString() });
      this.mirror = await startStaticServer({
        root: this.release.repoDir,
        host: '127.0.0.1',
        port: this.port(0),
        tls: { cert: await readFile(ca.serverCert), key: await readFile(ca.serverKey) },
      });
      note(`🪞 Embedded HTTPS mirror ${this.mirror.url} (CA ${ca.caCert})`);
      const rootBytes = await readFile(join(this.release.repoDir, 'root.json'));
      const roles: ('validator' | 'relay' | 'user')[] = [
        ...Array<'validator'>(this.o.validators).fill('validator'),
        ...Array<'relay'>(this.o.relays).fill('relay'),
        ...Array<'user'>(this.o.users).fill('user'),
      ];
      const count = { validator: 0, relay: 0, user: 0 };
      for (const [i, role] of roles.entries()) {
        const id = `${role[0]}${count[role]++}`;
        const home = join(this.o.dir, id);
        const paths = homePaths(home);
        await trustInit(paths, rootBytes, this.o.now());
        await configureMirrors(paths, [this.mirror.url]);
        const boot = this.bootstrapFor(role);
        const args = [
          '--home',
          home,
          'node',
          'start',
          '--json',
          '--role',
          role,
          '--prefetch',
          '--platform',
          this.o.platform,
          '--listen',
          `/ip4/127.0.0.1/tcp/${this.port(10 + i)}`,
          '--metrics',
          `127.0.0.1:${this.port(10 + this.size + i)}`,
          ...boot.flatMap((b) => ['--bootstrap', b]),
        ];
        const p = await spawnNode({
          name: id,
          home,
          role,
          args,
          env: { NODE_EXTRA_CA_CERTS: ca.caCert },
        });
        this.procs.push(p);
        note(`🚀 ${id} (${role}) ${p.peerId} ${p.metricsUrl ?? ''}`);
      }
      await this.writeInfo();
      // The first validator is where releases enter the network (a maintainer's node).
      await this.announce(this.release);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private bootstrapFor(role: TestnetNode['role']): string[] {
    const by = (r: string) => this.procs.filter((p) => p.role === r).map((p) => p.addresses[0] as string);
    if (role === 'validator') return by('validator');
    if (role === 'relay') return by('validator');
    const relays = by('relay');
    return relays.length ? relays : by('validator');
  }

  private get publisher(): NodeProcess {
    const p = this.procs[0];
    if (!p) throw new DchatError('E_INTERNAL', 'the testnet has no node');
    return p;
  }

  private async announce(rel: TestRelease): Promise<void> {
    const pub = this.publisher;
    await seedFromMirror(homePaths(pub.home), rel, this.o.now());
    await controlRequest(homePaths(pub.home), 'announce', { version: rel.version }, 10_000);
    this.o.note?.(`📣 ${rel.version} published to the mirror and announced by ${pub.name}`);
  }

  /** Publishes `version` (random bytes) into the mirror and announces it. */
  async publish(version: string): Promise<void> {
    if (!this.release) throw new DchatError('E_INTERNAL', 'testnet not started');
    this.release = await publishNext(this.release, {
      dir: join(this.o.dir, 'release'),
      version,
      packageBytes: this.o.packageBytes,
      chunkSize: this.o.chunkSize,
      now: this.o.now(),
    });
    this.releases.push({ version, published_at: this.o.now().toISOString() });
    await this.announce(this.release);
    await this.writeInfo();
  }

  /** Each node's status (undefined for one that does not answer). */
  async statuses(): Promise<(StatusResult | undefined)[]> {
    return Promise.all(
      this.procs.map((p) => controlRequest(homePaths(p.home), 'status', {}, 5000).catch(() => undefined)),
    );
  }

  info(): TestnetInfo {
    return {
      format: 'dchat.testnet/1',
      dir: this.o.dir,
      started_at: this.startedAt,
      mirror: { url: this.mirror?.url ?? '', ca_cert: this.caCert },
      dashboard_url: this.dashboardUrl,
      nodes: this.procs.map((p) => ({
        id: p.name,
        role: p.role as TestnetNode['role'],
        peer_id: p.peerId,
        pid: p.child.pid,
        home: p.home,
        addresses: p.addresses,
        metrics_url: p.metricsUrl ?? null,
        dashboard_url: p.dashboardUrl ?? null,
      })),
      releases: [...this.releases],
    };
  }

  async writeInfo(): Promise<void> {
    await writeTestnetFiles(this.info());
  }

  /** The testnet dashboard (src/dashboard/): every node, the mirror, the releases, the chart. */
  async startDashboard(host: string, port: number, version: string): Promise<string> {
    const { startDashboard } = await import('../dashboard/server.ts');
    this.dashboard = await startDashboard(host, port, {
      title: `dchat testnet (${this.size} nodes)`,
      nodes: async () => {
        const st = await this.statuses();
        return this.procs.map((p, i) => ({
          id: p.name,
          role: p.role,
          version,
          metricsUrl: p.metricsUrl ?? null,
          status: st[i],
        }));
      },
      mirrors: async () => (this.mirror ? [await probe(this.mirror.url, this.caCert)] : []),
      releases: () => [...this.releases],
      upgrade: async () =>
        (await import('../node/dashboard-upgrade.ts')).upgradeSourceFor(
          this.procs.map((p) => ({ id: p.name, home: p.home })),
        ),
    });
    this.dashboardUrl = this.dashboard.url;
    return this.dashboard.url;
  }

  async stop(): Promise<void> {
    await this.dashboard?.close();
    this.dashboard = undefined;
    await stopAll(this.procs);
    await this.mirror?.close();
    this.mirror = undefined;
  }
}

/** DIR/testnet.json, and DIR/prometheus-targets.json and prometheus.yml for a local Prometheus. */
export async function writeTestnetFiles(info: TestnetInfo): Promise<void> {
  await writeFileAtomic(join(info.dir, 'testnet.json'), `${JSON.stringify(info, null, 2)}\n`);
  const targets = info.nodes
    .filter((n) => n.metrics_url)
    .map((n) => ({
      targets: [new URL(n.metrics_url as string).host],
      labels: { node: n.id, role: n.role, peer_id: n.peer_id },
    }));
  await writeFileAtomic(join(info.dir, 'prometheus-targets.json'), `${JSON.stringify(targets, null, 2)}\n`);
  const yml = await readFile(PROMETHEUS_YML, 'utf8').catch(() => undefined);
  if (yml) await writeFileAtomic(join(info.dir, 'prometheus.yml'), yml);
}

/** One GET of the mirror's metadata/timestamp.json: up, and how fast. */
async function probe(url: string, caCert: string): Promise<MirrorHealth> {
  const t0 = performance.now();
  const ca = await readFile(caCert);
  return new Promise((resolve) => {
    const req = request(`${url}/metadata/timestamp.json`, { ca, timeout: 3000 }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({
          url,
          ok: res.statusCode === 200,
          latency_ms: Math.round(performance.now() - t0),
          ...(res.statusCode === 200 ? {} : { error: `HTTP ${res.statusCode}` }),
        }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => resolve({ url, ok: false, latency_ms: null, error: e.message }));
    req.end();
  });
}
