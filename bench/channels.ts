/**
 * `npm run bench -- channels [--size 256M] [--runs N]`: the same release (random bytes, 256 MiB by
 * default) fetched by `dchat update download` over each distribution channel alone and over all
 * of them together, each as a ratio to the HTTPS-only time measured in the same run (runs
 * interleaved, medians). Channels:
 * - https: a loopback nginx HTTPS mirror of the repository;
 * - github: the GitHub Releases source against a local server answering the REST API's shapes
 *   (test/helpers/github-api.ts), assets redirecting to a second nginx (the download host), the
 *   asset set written by `release publish --github-assets`;
 * - ipfs, bittorrent, fdroid: measured when this build has their transport (update/registry.ts);
 *   otherwise the line says so. F-Droid needs an APK repository made by fdroidserver at this size,
 *   which the bench does not build.
 * The fake API answers from this process, so downloads run as asynchronous child processes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeGitHubAssets } from '../src/release/github-assets.ts';
import { hasTransport } from '../src/update/registry.ts';
import { startGitHubApi } from '../test/helpers/github-api.ts';
import { freePort, runNginx } from '../test/helpers/nginx.ts';
import { makeTestCa } from '../test/helpers/tls.ts';
import { dchatCli, publishRandom, settle } from './download-fixture.ts';
import { fmt, median, parseSize, timeCommand } from './util.ts';

interface Channel {
  name: string;
  /** add-mirror arguments of each mirror of this channel. */
  mirrors: string[][];
}

export async function benchChannels(args: string[]): Promise<boolean> {
  const { values } = parseArgs({
    args,
    options: { size: { type: 'string' }, runs: { type: 'string' } },
    allowPositionals: false,
  });
  const size = parseSize(values.size ?? process.env.DCHAT_BENCH_SIZE ?? '256M', '--size');
  const runs = Number(values.runs ?? 3);
  if (!(Number.isInteger(runs) && runs >= 1 && runs <= 20)) throw new Error('--runs: 1..20');
  const dir = mkdtempSync(join(tmpdir(), 'dchat-bench-channels-'));
  const ca = makeTestCa();
  const stops: (() => Promise<void>)[] = [];
  try {
    const pub = await publishRandom(dir, size);
    const dl = join(dir, 'download-host');
    const files = await writeGitHubAssets(pub.repo, [pub.name], join(dl, 'v1.0.0'));
    const [mirrorPort, dlPort] = [await freePort(), await freePort()];
    const tls = `ssl_certificate ${ca.serverCert}; ssl_certificate_key ${ca.serverKey};`;
    const nginx = await runNginx(
      `  server { listen 127.0.0.1:${mirrorPort} ssl; ${tls} root ${pub.repo}; location / { try_files $uri =404; } }
  server { listen 127.0.0.1:${dlPort} ssl; ${tls} root ${dl}; location / { try_files $uri =404; } }`,
      dlPort,
    );
    stops.push(nginx.stop);
    const api = await startGitHubApi({
      ca,
      downloadBase: `https://127.0.0.1:${dlPort}`,
      releases: [{ tag: 'v1.0.0', files: files.map((f) => join(dl, 'v1.0.0', f)) }],
    });
    stops.push(api.stop);
    const https: Channel = {
      name: 'https',
      mirrors: [['--url', `https://127.0.0.1:${mirrorPort}`, '--mirror-type', 'https']],
    };
    const github: Channel = { name: 'github', mirrors: [['--url', api.repoUrl, '--mirror-type', 'github']] };
    const channels = [https, github];
    console.log(
      'channels: ipfs: measured by `npm run bench -- channels-ipfs` (bitswap between two node processes)',
    );
    for (const kind of ['bittorrent', 'fdroid'] as const)
      console.log(
        `channels: ${kind}: not measured (${hasTransport(kind) ? 'no fixture for it in this bench yet' : 'no transport in this build'})`,
      );
    const all: Channel = {
      name: `all (${channels.map((c) => c.name).join(' + ')})`,
      mirrors: channels.flatMap((c) => c.mirrors),
    };
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: ca.caCert };
    const homes = [...channels, all].map((c) => ({
      c,
      home: makeHome(join(dir, `home-${c.name.split(' ')[0]}`), pub.repo, c, env),
    }));
    console.log(`channels: ${(size / 1024 ** 2).toFixed(0)} MiB, ${runs} interleaved runs per channel`);
    for (const h of homes) await download(h.home, pub.name, pub.sha256, env); // warm-up
    const times = new Map<string, number[]>(homes.map((h) => [h.c.name, []]));
    for (let i = 0; i < runs; i++)
      for (const h of homes) times.get(h.c.name)?.push(await download(h.home, pub.name, pub.sha256, env));
    const ref = median(times.get('https') as number[]);
    for (const h of homes) {
      const t = times.get(h.c.name) as number[];
      const m = median(t);
      console.log(
        `channels: ${h.c.name}: median ${m.toFixed(0)} ms, ratio to https-only ${(m / ref).toFixed(3)}x (runs ${fmt(t)})`,
      );
    }
    return true;
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A data dir trusting the repository's root with the channel's mirrors (each at priority 10). */
function makeHome(home: string, repo: string, c: Channel, env: NodeJS.ProcessEnv): string {
  const cli = dchatCli();
  timeCommand(process.execPath, [cli, '--home', home, 'trust', 'init', '--root', join(repo, 'root.json')], {
    env,
  });
  for (const m of c.mirrors)
    timeCommand(process.execPath, [cli, '--home', home, 'update', 'add-mirror', ...m], { env });
  return home;
}

/** One `update download` as a child process (this process serves the API meanwhile): wall ms. */
async function download(home: string, name: string, sha256: string, env: NodeJS.ProcessEnv): Promise<number> {
  const final = join(home, 'packages', name);
  for (const f of [final, `${final}.chunks`, `${final}.target.json`]) rmSync(f, { force: true });
  settle();
  const t0 = performance.now();
  const args = [
    dchatCli(),
    '--home',
    home,
    'update',
    'download',
    '--version',
    '1.0.0',
    '--platform',
    'linux-x64',
  ];
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.on('error', reject);
    child.on('close', (c) =>
      c === 0 ? resolve(0) : reject(new Error(`download in ${home} exited ${c}: ${err.slice(0, 2000)}`)),
    );
  });
  const ms = performance.now() - t0;
  if (code !== 0 || readFileSync(`${final}.target.json`, 'utf8').indexOf(sha256) < 0)
    throw new Error('download did not leave the verified package');
  return ms;
}
