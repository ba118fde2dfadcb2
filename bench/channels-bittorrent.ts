/**
 * `npm run bench -- channels-bittorrent [--size 256M] [--runs 3]`: the same release fetched by `dchat update
 * download` over each distribution channel alone and over all of them together, each as a ratio to
 * the HTTPS-only time measured in the same run (runs interleaved, medians). Channels here: HTTPS
 * (a loopback nginx over TLS) and BitTorrent (a real `dchat node start --tracker` process seeding
 * the verified package; the torrent has no web seed, so BitTorrent alone means peers only). The
 * metadata always comes from the HTTPS mirror; `--source` narrows where the package bytes come
 * from. Every run must leave the verified package.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateEd25519 } from '../src/crypto/ed25519.ts';
import { initRepository, publishRelease } from '../src/release/publish.ts';
import { signingKeyFromPrivate } from '../src/trust/keys.ts';
import { startNginx } from '../test/helpers/nginx.ts';
import { makeTestCa } from '../test/helpers/tls.ts';
import { dchatCli, settle } from './download-fixture.ts';
import { fmt, median, parseSize, timeCommand, writeRandomFile } from './util.ts';

interface Channel {
  name: string;
  mirrors: [url: string, type: string][];
  /** Extra `update download` flags (`--source`). */
  flags: string[];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** `dchat node start` in `home` with `args`, resolved once its log says `until`. */
function startNode(
  home: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  until: RegExp,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [dchatCli(), '--home', home, 'node', 'start', ...args], {
    env: { ...env, DCHAT_LOG: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node did not log ${until} in 120 s:\n${log.slice(-2000)}`));
    }, 120_000);
    child.stderr?.on('data', (b: Buffer) => {
      log += b.toString();
      if (until.test(log)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (c) => {
      clearTimeout(timer);
      reject(new Error(`node exited ${c}:\n${log.slice(-2000)}`));
    });
  });
}

export async function benchChannels(argv: string[]): Promise<boolean> {
  const { values } = parseArgs({
    args: argv,
    options: {
      size: { type: 'string', default: process.env.DCHAT_BENCH_SIZE ?? '256M' },
      runs: { type: 'string', default: '3' },
    },
  });
  const size = parseSize(values.size, '--size');
  const runs = Number(values.runs);
  if (!(Number.isInteger(runs) && runs > 0))
    throw new Error(`--runs: not a positive integer: '${values.runs}'`);
  const dir = mkdtempSync(join(tmpdir(), 'dchat-bench-channels-'));
  const ca = makeTestCa();
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: ca.caCert };
  const node = process.execPath;
  const cli = dchatCli();
  let seeder: ChildProcess | undefined;
  const repo = join(dir, 'repo');
  const key = signingKeyFromPrivate(generateEd25519().privateKey);
  await initRepository({ dir: repo, keys: [key], threshold: 1, now: new Date() });
  const nginx = await startNginx(repo, ca);
  try {
    const trackerPort = await freePort();
    const announce = `http://127.0.0.1:${trackerPort}/announce`;
    const src = join(dir, 'dchat-1.0.0-linux-x64');
    console.log(
      `channels: writing ${size} random bytes and publishing them (.torrent announcing to ${announce})...`,
    );
    writeRandomFile(src, size);
    const pub = await publishRelease({
      dir: repo,
      packagePath: src,
      version: '1.0.0',
      platform: 'linux-x64',
      keys: [key],
      now: new Date(),
      announce: [announce],
    });
    rmSync(src);
    const magnet = pub.custom.magnet as string;
    const dl = (home: string, flags: string[]) =>
      timeCommand(
        node,
        [
          cli,
          '--home',
          home,
          'update',
          'download',
          '--version',
          '1.0.0',
          '--platform',
          'linux-x64',
          ...flags,
        ],
        { env },
      );
    const makeHome = (name: string, mirrors: [string, string][]) => {
      const home = join(dir, name);
      timeCommand(node, [cli, '--home', home, 'trust', 'init', '--root', join(repo, 'root.json')], { env });
      for (const [url, type] of mirrors)
        timeCommand(
          node,
          [cli, '--home', home, 'update', 'add-mirror', '--url', url, '--mirror-type', type],
          { env },
        );
      return home;
    };

    // The seeder: a node that verified the package from the mirror, running the tracker.
    const seedHome = makeHome('seeder', [[nginx.url, 'https']]);
    dl(seedHome, []);
    seeder = await startNode(
      seedHome,
      ['--tracker', `127.0.0.1:${trackerPort}`, '--bt-announce', announce],
      env,
      /seeding over BitTorrent/,
    );

    const channels: Channel[] = [
      { name: 'https', mirrors: [[nginx.url, 'https']], flags: [] },
      {
        name: 'bittorrent',
        mirrors: [
          [nginx.url, 'https'],
          [magnet, 'bittorrent'],
        ],
        flags: ['--source', 'bittorrent'],
      },
      {
        name: 'all',
        mirrors: [
          [nginx.url, 'https'],
          [magnet, 'bittorrent'],
        ],
        flags: [],
      },
    ];
    const homes = channels.map((c) => makeHome(`home-${c.name}`, c.mirrors));
    const times = channels.map(() => [] as number[]);
    for (let r = 0; r < runs; r++) {
      for (const [i, c] of channels.entries()) {
        const home = homes[i] as string;
        const final = join(home, 'packages', pub.name);
        for (const f of [final, `${final}.chunks`, `${final}.target.json`]) rmSync(f, { force: true });
        settle();
        (times[i] as number[]).push(dl(home, c.flags));
        if (readFileSync(`${final}.target.json`, 'utf8').indexOf(pub.custom.sha256) < 0)
          throw new Error(`${c.name}: download did not leave the verified package`);
      }
    }
    const ref = median(times[0] as number[]);
    for (const [i, c] of channels.entries()) {
      const m = median(times[i] as number[]);
      console.log(
        `channels: ${c.name.padEnd(10)} median ${m.toFixed(0)} ms (${fmt(times[i] as number[])}) = ${(m / ref).toFixed(3)}x HTTPS alone`,
      );
    }
    return true;
  } finally {
    seeder?.kill('SIGTERM');
    await nginx.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
