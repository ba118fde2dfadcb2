/**
 * `npm run bench -- channels-ipfs [--size 256M]` (or DCHAT_BENCH_CHANNELS_SIZE): the IPFS leg of
 * `channels` (bench/channels.ts), which needs two real node processes: the same release fetched
 * over HTTPS alone and over IPFS alone, as a ratio to the HTTPS time measured in the same run:
 * - https: `dchat update download` from a loopback nginx HTTPS mirror (the reference);
 * - ipfs: `dchat update download --source ipfs`, which asks the home's running node: its embedded
 *   IPFS node fetches the chunk table and every byte by the signed CIDs over bitswap from a seed
 *   node (a real `dchat node start` holding the verified release, which imported and pinned it).
 * Both are whole CLI processes ending in the verified package (every chunk against the signed
 * table, the whole file against the signed target).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type NodeProcess, spawnNode, stopAll } from '../src/testnet/process.ts';
import { startNginx } from '../test/helpers/nginx.ts';
import { makeTestCa } from '../test/helpers/tls.ts';
import { dchatCli, dchatHome, publishRandom, settle } from './download-fixture.ts';
import { parseSize, timeCommand } from './util.ts';

async function waitForLog(file: string, needle: string, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    try {
      if (readFileSync(file, 'utf8').includes(needle)) return;
    } catch {
      // Not written yet.
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${file}: no '${needle}' within ${timeoutMs} ms`);
}

export async function benchChannelsIpfs(argv: string[]): Promise<boolean> {
  const { values } = parseArgs({ args: argv, options: { size: { type: 'string' } } });
  const size = parseSize(values.size ?? process.env.DCHAT_BENCH_CHANNELS_SIZE ?? '256M', '--size');
  const dir = mkdtempSync(join(tmpdir(), 'dchat-bench-channels-'));
  const ca = makeTestCa();
  const procs: NodeProcess[] = [];
  let stopNginx: (() => Promise<void>) | undefined;
  try {
    const pub = await publishRandom(dir, size);
    const nginx = await startNginx(pub.repo, ca);
    stopNginx = nginx.stop;
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: ca.caCert };
    const node = process.execPath;
    const cli = dchatCli();

    // https alone (the reference). The seed keeps the package it verified: the IPFS leg's source.
    const seed = dchatHome(join(dir, 'seed'), pub, [nginx.url], env);
    const httpsMs = seed.download().ms;
    console.log(`channels: https alone: ${(size / 2 ** 20).toFixed(0)} MiB in ${httpsMs.toFixed(0)} ms`);

    // ipfs alone: the seed node imports and pins the release, the fetcher's node pulls it by CID.
    const seedNode = await spawnNode({
      name: 'seed',
      home: seed.home,
      role: 'relay',
      args: ['--home', seed.home, 'node', 'start', '--json'],
      env,
    });
    procs.push(seedNode);
    await waitForLog(join(seed.home, 'node.log'), 'package provided over IPFS', 600_000);
    const fetcher = dchatHome(join(dir, 'fetcher'), pub, [nginx.url], env);
    // Trust through the mirror first; the node then has the metadata and IPFS carries the bytes.
    timeCommand(node, [cli, '--home', fetcher.home, 'update', 'check'], { env });
    procs.push(
      await spawnNode({
        name: 'fetcher',
        home: fetcher.home,
        role: 'user',
        args: [
          '--home',
          fetcher.home,
          'node',
          'start',
          '--json',
          '--bootstrap',
          seedNode.addresses[0] as string,
        ],
        env,
      }),
    );
    settle();
    const ipfsMs = timeCommand(
      node,
      [
        cli,
        '--home',
        fetcher.home,
        'update',
        'download',
        '--version',
        '1.0.0',
        '--platform',
        'linux-x64',
        '--source',
        'ipfs',
      ],
      { env },
    );
    const got = readFileSync(`${fetcher.final}.target.json`, 'utf8');
    if (!got.includes(pub.sha256)) throw new Error('the ipfs leg did not leave the verified package');
    console.log(`channels: ipfs alone: ${(size / 2 ** 20).toFixed(0)} MiB in ${ipfsMs.toFixed(0)} ms`);
    console.log(
      `channels: ipfs / https = ${(ipfsMs / httpsMs).toFixed(2)}x (${(size / 2 ** 20 / (ipfsMs / 1000)).toFixed(1)} MiB/s over bitswap)`,
    );
    return true;
  } finally {
    await stopAll(procs);
    await stopNginx?.();
    rmSync(dir, { recursive: true, force: true });
  }
}
