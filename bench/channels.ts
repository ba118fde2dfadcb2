/**
 * `npm run bench -- channels [--size 256M] [--runs 1] [--only https,ipfs,...] [--keep]`: the same release
 * (random bytes, 256 MiB by default; a signed APK of them with fdroid) fetched over each
 * distribution channel alone and over all of them together, each as a ratio to the HTTPS-only
 * time measured in the same run (runs interleaved, medians). One set-up serves every channel:
 * - a loopback nginx HTTPS mirror of the repository (the release's metadata always comes from it);
 * - a seed: a real `dchat node start` holding the verified package, which runs the tracker the
 *   .torrent announces to and seeds over BitTorrent (no web seed, so BitTorrent means peers only),
 *   provides the package over IPFS by its signed CID (bitswap), and serves it to peers over
 *   /dchat/chunks/1;
 * - GitHub Releases: a local server answering the REST API's shapes (test/helpers/github-api.ts),
 *   assets redirecting to a second nginx, the asset set written by `release publish
 *   --github-assets` (measured alone; the seed's channels are the other four);
 * - F-Droid (when `fdroid` is picked, as by default): F-Droid serves only APKs, so the release is
 *   then a real signed APK of about --size bytes (the random bytes as a stored asset; aapt,
 *   zipalign, apksigner) for every channel, so every row still fetches the same file; an F-Droid
 *   repository made from it by fdroidserver (bench/fdroid-repo.ts) is served by a third nginx and
 *   added with its key's fingerprint pinned. fdroidserver and its Java tooling are installed by
 *   no test script: without them the fdroid row fails, printing the apt-get line. All together
 *   includes it, as a node's download uses every configured mirror that serves the package.
 * Each measured download is a fresh fetcher node (`node start --bootstrap <seed>`, metadata from
 * `update check`, the mirror and the magnet in its mirrors.toml, each at the seed's priority for
 * its kind: HTTPS 10, IPFS 20, peers 30, BitTorrent 40, F-Droid 50) asked over its control socket
 * to download the release: `only` one kind of source for a channel alone, nothing for all
 * together, so every channel runs through the same code (the update service inside a node) and
 * ends in the verified package. Node start-up is not timed; Helia and webtorrent starting inside
 * the download are (that is what a user waits for), from a warm compile cache (an untimed warm-up
 * download over every channel leaves it; a node that ran before has one).
 */
import { createHash } from 'node:crypto';
import { cpSync, createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultPriority, type SourceKind } from '../src/model/source-kind.ts';
import { controlRequest } from '../src/node/control.ts';
import { writeGitHubAssets } from '../src/release/github-assets.ts';
import { homePaths } from '../src/store/home.ts';
import { type NodeProcess, spawnNode, stopAll } from '../src/testnet/process.ts';
import { startGitHubApi } from '../test/helpers/github-api.ts';
import { freePort, startNginx } from '../test/helpers/nginx.ts';
import { makeTestCa } from '../test/helpers/tls.ts';
import { dchatCli, publishFile, publishRandom, settle } from './download-fixture.ts';
import { buildApk, buildFdroidRepo, fdroidToolsMissing } from './fdroid-repo.ts';
import { fmt, median, parseSize, timeCommand } from './util.ts';

interface Channel {
  name: string;
  /** The kind the node may use (`download` control request); every kind when undefined. */
  only?: SourceKind;
  /** Extra add-mirror arguments for this channel's fetcher (beyond the HTTPS mirror and magnet). */
  extraMirrors?: string[][];
  /** Why this channel could not be set up: its row fails with this, unmeasured. */
  unavailable?: string;
}

const ALL_CHANNELS = ['https', 'ipfs', 'bittorrent', 'peer', 'github', 'fdroid', 'all'] as const;

/** The machine's load averages (six helpers share two cores: a ratio is read beside them). */
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function waitForLog(file: string, needles: string[], timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    let log = '';
    try {
      log = readFileSync(file, 'utf8');
    } catch {
      // Not written yet.
    }
    if (needles.every((n) => log.includes(n))) return;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(
        `${file}: not all of ${needles.join(', ')} within ${timeoutMs} ms:\n${log.slice(-2000)}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const b of createReadStream(path)) h.update(b as Buffer);
  return h.digest('hex');
}

export async function benchChannels(args: string[]): Promise<boolean> {
  const { values } = parseArgs({
    args,
    options: {
      size: { type: 'string' },
      runs: { type: 'string' },
      only: { type: 'string' },
      keep: { type: 'boolean' },
    },
    allowPositionals: false,
  });
  const size = parseSize(values.size ?? process.env.DCHAT_BENCH_SIZE ?? '256M', '--size');
  const runs = Number(values.runs ?? 1);
  if (!(Number.isInteger(runs) && runs >= 1 && runs <= 20)) throw new Error('--runs: 1..20');
  const picked = (values.only ?? ALL_CHANNELS.join(',')).split(',').map((s) => s.trim());
  for (const p of picked)
    if (!(ALL_CHANNELS as readonly string[]).includes(p))
      throw new Error(`--only: '${p}' is not one of ${ALL_CHANNELS.join(', ')}`);
  // The reference is always measured: a ratio needs it from the same run.
  if (!picked.includes('https')) picked.unshift('https');

  const dir = mkdtempSync(join(tmpdir(), 'dchat-bench-channels-'));
  const ca = makeTestCa();
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: ca.caCert, DCHAT_LOG: process.env.DCHAT_LOG ?? 'info' };
  const node = process.execPath;
  const cli = dchatCli();
  const stops: (() => Promise<void>)[] = [];
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  const procs: NodeProcess[] = [];
  try {
    const trackerPort = await freePort();
    const announce = `http://127.0.0.1:${trackerPort}/announce`;
    // With F-Droid among the channels the release is a signed APK of about `size` bytes (F-Droid
    // serves nothing else), published for every channel so each row fetches the same file.
    let apk: string | undefined;
    let fdroidUnavailable: string | undefined;
    if (picked.includes('fdroid')) {
      fdroidUnavailable = fdroidToolsMissing();
      if (!fdroidUnavailable)
        try {
          console.log(`channels: building a signed APK of ${mib(size)} (aapt, zipalign, apksigner)...`);
          apk = buildApk(join(dir, 'apk'), size, '1.0.0');
        } catch (err) {
          fdroidUnavailable = `building the APK failed: ${(err as Error).message}`;
        }
      if (fdroidUnavailable) console.log(`channels: fdroid: FAILED: ${fdroidUnavailable}`);
    }
    const pub = apk
      ? await publishFile(dir, apk, { announce: [announce], platform: 'android-arm64', packageType: 'APK' })
      : await publishRandom(dir, size, [announce]);
    if (!pub.magnet) throw new Error('the release was published without a magnet link');
    const nginx = await startNginx(pub.repo, ca);
    stops.push(nginx.stop);
    /** add-mirror arguments of the F-Droid repository, when it could be made and served. */
    let fdroidMirror: string[] | undefined;
    if (apk)
      try {
        console.log('channels: making the F-Droid repository (fdroid init, fdroid update)...');
        const fd = buildFdroidRepo(join(dir, 'fdroid-work'), join(dir, 'fdroid-www'), apk, pub);
        const host = await startNginx(fd.root, ca);
        stops.push(host.stop);
        fdroidMirror = [
          ...['--url', `${host.url}/fdroid/repo`, '--mirror-type', 'fdroid', '--fingerprint', fd.fingerprint],
          ...['--priority', String(defaultPriority('fdroid'))],
        ];
      } catch (err) {
        fdroidUnavailable = `making the F-Droid repository failed: ${(err as Error).message}`;
        console.log(`channels: fdroid: FAILED: ${fdroidUnavailable}`);
      }

    const cliRun = (home: string, a: string[]) => timeCommand(node, [cli, '--home', home, ...a], { env });
    /** A home trusting the repository, with the HTTPS mirror, the magnet and `extra` mirrors. */
    const makeHome = (home: string, extra: string[][] = []) => {
      cliRun(home, ['trust', 'init', '--root', join(pub.repo, 'root.json')]);
      for (const m of [
        ['--url', nginx.url, '--mirror-type', 'https'],
        // At the seed's priority for BitTorrent (add-mirror's default is a mirror's 10).
        [
          '--url',
          pub.magnet as string,
          '--mirror-type',
          'bittorrent',
          '--priority',
          String(defaultPriority('bittorrent')),
        ],
        ...extra,
      ])
        cliRun(home, ['update', 'add-mirror', ...m]);
      return home;
    };

    // The seed: verified the package from the mirror, then serves it on every channel.
    const seedHome = makeHome(join(dir, 'seed'));
    cliRun(seedHome, ['update', 'download', '--version', '1.0.0', '--platform', pub.platform]);
    const seed = await spawnNode({
      name: 'seed',
      home: seedHome,
      role: 'relay',
      entry: cli,
      env,
      args: [
        '--home',
        seedHome,
        'node',
        'start',
        '--json',
        '--tracker',
        `127.0.0.1:${trackerPort}`,
        '--bt-announce',
        announce,
      ],
    });
    procs.push(seed);
    console.log(`channels: seed node started; importing ${mib(pub.bytes)} into IPFS and seeding...`);
    await waitForLog(
      join(seedHome, 'node.log'),
      ['package provided over IPFS', 'seeding over BitTorrent'],
      900_000,
    );

    // All together is every channel the product combines for this package: the seed's four and,
    // for an APK, the F-Droid repository (a node's download uses every configured mirror that
    // serves the package; GitHub Releases stays out of it, as before: measured alone).
    const all: Channel = { name: 'all', ...(fdroidMirror ? { extraMirrors: [fdroidMirror] } : {}) };
    const channels: Channel[] = [];
    for (const name of picked) {
      if (name === 'all') channels.push(all);
      else if (name === 'fdroid')
        channels.push(
          fdroidMirror
            ? { name, only: 'fdroid', extraMirrors: [fdroidMirror] }
            : { name, unavailable: fdroidUnavailable ?? 'the F-Droid repository was not made' },
        );
      else if (name !== 'github') channels.push({ name, only: name as SourceKind });
      else {
        const dl = join(dir, 'download-host');
        const files = await writeGitHubAssets(pub.repo, [pub.name], join(dl, 'v1.0.0'));
        const host = await startNginx(dl, ca);
        stops.push(host.stop);
        const api = await startGitHubApi({
          ca,
          downloadBase: host.url,
          releases: [{ tag: 'v1.0.0', files: files.map((f) => join(dl, 'v1.0.0', f)) }],
        });
        stops.push(api.stop);
        channels.push({
          name,
          only: 'github',
          extraMirrors: [['--url', api.repoUrl, '--mirror-type', 'github']],
        });
      }
    }

    /**
     * One timed download by a fresh fetcher node over `c`: wall ms and bytes per source kind. With
     * `warm`, the home starts with that compile cache (a node that ran before has compiled Helia,
     * webtorrent and the rest once; a fresh home would time V8 compiling them).
     */
    const measure = async (
      c: Channel,
      run: number | 'warm-up',
      warm?: string,
    ): Promise<{ ms: number; by: Record<string, number> }> => {
      const home = makeHome(join(dir, `fetch-${c.name}-${run}`), c.extraMirrors);
      if (warm) cpSync(warm, join(home, 'cache', 'compile'), { recursive: true });
      cliRun(home, ['update', 'check']);
      const fetcher = await spawnNode({
        name: `fetch-${c.name}`,
        home,
        role: 'user',
        entry: cli,
        env,
        args: ['--home', home, 'node', 'start', '--json', '--bootstrap', seed.addresses[0] as string],
      });
      try {
        const paths = homePaths(home);
        for (let i = 0; ; i++) {
          const st = (await controlRequest(paths, 'status', {}, 5000)) as { connected_peers: unknown[] };
          if (st.connected_peers.length > 0) break;
          if (i > 200) throw new Error(`${c.name}: the fetcher never connected to the seed`);
          await new Promise((r) => setTimeout(r, 100));
        }
        settle();
        const t0 = performance.now();
        const r = await controlRequest(
          paths,
          'download',
          { version: '1.0.0', platform: pub.platform, ...(c.only ? { only: c.only } : {}) },
          900_000,
        ).catch(async (err: unknown) => {
          // Say what happened to the node (an empty answer means it went away mid-download).
          const gone = fetcher.child.exitCode ?? fetcher.child.signalCode;
          const log = readFileSync(join(home, 'node.log'), 'utf8').slice(-1500);
          throw new Error(
            `${c.name}: ${(err as Error).message} (fetcher node ${gone === null ? 'still running' : `exited: ${gone}`}; log tail: ${log})`,
            { cause: err },
          );
        });
        const ms = performance.now() - t0;
        if (values.keep)
          console.log(
            `channels: ${c.name} download ended ${new Date().toISOString()} after ${ms.toFixed(0)} ms`,
          );
        if (r.source === 'cache') throw new Error(`${c.name}: the fetcher already held the package`);
        if ((await sha256File(r.path)) !== pub.sha256)
          throw new Error(`${c.name}: the download did not leave the verified package`);
        const by: Record<string, number> = {};
        for (const s of r.sources) by[s.type] = (by[s.type] ?? 0) + s.bytes;
        return { ms, by };
      } finally {
        await stopAll([fetcher]);
        if (run === 'warm-up') cpSync(join(home, 'cache', 'compile'), warmCache, { recursive: true });
        if (!values.keep) rmSync(home, { recursive: true, force: true });
      }
    };

    console.log(
      `channels: ${pub.name} (${mib(pub.bytes)}), ${runs} interleaved run(s) per channel; load average ${loadavg()} (2 cores shared)`,
    );
    // Not timed: one download over every channel, which leaves the compile cache every run starts with.
    const warmCache = join(dir, 'compile-cache');
    console.log(`channels: warm-up download over all channels (load average ${loadavg()})`);
    await measure(all, 'warm-up');
    const times = new Map<string, number[]>(channels.map((c) => [c.name, []]));
    const split = new Map<string, Record<string, number>>();
    const failed = new Map<string, string>();
    for (let i = 0; i < runs; i++)
      for (const c of channels) {
        if (c.unavailable) {
          failed.set(c.name, c.unavailable);
          continue;
        }
        const r = await measure(c, i, warmCache).catch((err: unknown) => {
          // One channel failing is a result to report, not a reason to lose the others'.
          failed.set(c.name, (err as Error).message);
          console.log(`channels: run ${i + 1} ${c.name}: FAILED: ${(err as Error).message}`);
          return undefined;
        });
        if (!r) continue;
        times.get(c.name)?.push(r.ms);
        split.set(c.name, r.by);
        console.log(`channels: run ${i + 1} ${c.name}: ${r.ms.toFixed(0)} ms (load average ${loadavg()})`);
      }
    if (!times.get('https')?.length) throw new Error('the HTTPS reference failed: no ratio to give');
    const ref = median(times.get('https') as number[]);
    const ratio = (name: string) => median(times.get(name) as number[]) / ref;
    for (const c of channels) {
      const t = times.get(c.name) as number[];
      if (t.length === 0) {
        console.log(
          `channels: ${c.name.padEnd(10)} FAILED in every run (${failed.get(c.name)?.slice(0, 300)})`,
        );
        continue;
      }
      const m = median(t);
      const by = Object.entries(split.get(c.name) ?? {})
        .map(([k, v]) => `${k} ${mib(v)}`)
        .join(', ');
      console.log(
        `channels: ${c.name.padEnd(10)} median ${m.toFixed(0)} ms (${(pub.bytes / 2 ** 20 / (m / 1000)).toFixed(0)} MiB/s), ratio to https-only ${ratio(c.name).toFixed(3)}x (runs ${fmt(t)}; bytes from ${by})`,
      );
    }
    console.log(`channels: load average ${loadavg()} at the end`);
    if (failed.size > 0) return false;
    if (!times.has('all')) return true;
    // Together must not be slower than the fastest channel alone (the planner gives a slow channel less).
    const fastest = Math.min(...channels.filter((c) => c.name !== 'all').map((c) => ratio(c.name)));
    const ok = ratio('all') <= fastest * 1.1;
    console.log(
      `channels: all together ${ratio('all').toFixed(3)}x vs fastest alone ${fastest.toFixed(3)}x (target: within 10%) ${ok ? 'MET' : 'NOT MET'}`,
    );
    return ok;
  } finally {
    await stopAll(procs);
    for (const stop of stops.reverse()) await stop().catch(() => {});
    if (values.keep) console.log(`channels: kept ${dir} (--keep)`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
