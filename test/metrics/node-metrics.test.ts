/**
 * `dchat node start --metrics HOST:PORT` on real node processes: a seed holding release 1.0.0
 * announces it; a user node with --prefetch learns of it over gossip and downloads it from the seed
 * (as a peer or over IPFS) and from an HTTPS mirror that answers its first package requests with
 * errors. promtool accepts both /metrics documents, the seed's ten metric names are there, and
 * those the download drives moved (UPDATE_DISTRIBUTION.md "Metrics"); /health answers.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { trustUpdate } from '../../src/download/trust-session.ts';
import { controlRequest } from '../../src/node/control.ts';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import { type NodeProcess, spawnNode, stopAll } from '../../src/testnet/process.ts';
import { addMirror, CHUNK, makeHome, makeMirrorRepo, PLATFORM } from '../download/fixture.ts';
import { type FaultMirror, startFaultMirror } from '../helpers/fault-mirror.ts';
import { waitFor } from '../helpers/node-procs.ts';
import { makeTestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';

const skip = requireTool('promtool') || requireTool('openssl');

export const SEED_METRICS = [
  'dchat_update_versions_discovered_total',
  'dchat_update_announcements_received_total',
  'dchat_update_announcements_propagated_total',
  'dchat_update_downloads_total',
  'dchat_update_download_duration_seconds',
  'dchat_update_download_failures_total',
  'dchat_update_verifications_total',
  'dchat_update_auto_checks_total',
  'dchat_update_auto_downloads_total',
  'dchat_update_auto_installs_total',
] as const;

/** Sample values of a Prometheus text document: `name{labels}` -> value. */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+?(?:\{[^}]*\})?)\s+(\S+)$/.exec(line);
    if (m) out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

/** Sum of every sample of `name` (all label sets; for a histogram, pass `name_count`). */
export function total(s: Map<string, number>, name: string, labels = ''): number {
  let n = 0;
  for (const [k, v] of s) if (k === name || (k.startsWith(`${name}{`) && k.includes(labels))) n += v;
  return n;
}

export function promtoolCheck(text: string): string {
  return execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
}

const procs: NodeProcess[] = [];
let mirror: FaultMirror | undefined;
after(async () => {
  await stopAll(procs);
  await mirror?.stop();
});

test('the seed metrics are served, accepted by promtool and move during a download', {
  skip,
  timeout: 120_000,
}, async () => {
  const ca = makeTestCa();
  const repo = await makeMirrorRepo();
  const pkg = await repo.publish('1.0.0', 40 * CHUNK + 7);
  mirror = await startFaultMirror(repo.dir, ca, [{ kind: 'status', status: 503, times: 3 }]);

  const seedPaths = await makeHome(repo);
  await trustUpdate(seedPaths, new DirectoryFetcher(repo.dir), new Date());
  await mkdir(seedPaths.packagesDir, { recursive: true });
  await copyFile(pkg.file, seedPaths.packageFile('1.0.0', PLATFORM));
  const start = (name: string, home: string, role: string, extra: string[], log = 'warn') =>
    spawnNode({
      name,
      home,
      role,
      args: ['--home', home, 'node', 'start', '--json', '--role', role, '--platform', PLATFORM, ...extra],
      env: { NODE_EXTRA_CA_CERTS: ca.caCert, DCHAT_LOG: log },
    });
  const seed = await start('seed', seedPaths.home, 'validator', ['--metrics', '127.0.0.1:0']);
  procs.push(seed);

  const userPaths = await makeHome(repo);
  await addMirror(userPaths.home, mirror.url);
  const user = await start(
    'user',
    userPaths.home,
    'user',
    ['--prefetch', '--metrics', '127.0.0.1:0', '--bootstrap', seed.addresses[0] as string],
    'dchat::gossip=debug,dchat::package=debug,warn',
  );
  procs.push(user);
  assert.match(user.metricsUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  const scrape = async (p: NodeProcess) => {
    const r = await fetch(p.metricsUrl as string);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /text\/plain/);
    return r.text();
  };

  const beforeText = await scrape(user);
  promtoolCheck(beforeText);
  const before = samples(beforeText);
  await waitFor('the user connected', async () => {
    const st = await controlRequest(userPaths, 'status');
    return st.connected_peers.length > 0;
  });
  await controlRequest(seedPaths, 'announce', { version: '1.0.0' });
  await waitFor(
    'the user verified 1.0.0',
    async () => {
      const st = await controlRequest(userPaths, 'status');
      return st.releases.packages.some((p) => p.version === '1.0.0');
    },
    60_000,
  );

  const afterText = await scrape(user);
  promtoolCheck(afterText);
  const seedText = await scrape(seed);
  promtoolCheck(seedText);
  for (const name of SEED_METRICS) {
    assert.match(afterText, new RegExp(`^# TYPE ${name} (counter|histogram)$`, 'm'), name);
  }
  const now = samples(afterText);
  const moved = (name: string, labels = '') => total(now, name, labels) - total(before, name, labels);
  assert.ok(moved('dchat_update_versions_discovered_total') >= 1, 'versions discovered');
  assert.ok(moved('dchat_update_announcements_received_total') >= 1, 'announcements received');
  assert.ok(moved('dchat_update_downloads_total') >= 1, 'downloads');
  assert.ok(moved('dchat_update_download_duration_seconds_count') >= 1, 'download duration');
  assert.ok(
    moved('dchat_update_download_failures_total', 'source_type="https"') >= 1,
    'https failures (the mirror answered 503)',
  );
  assert.equal(moved('dchat_update_verifications_total', 'result="success"'), 1, 'verification');
  assert.ok(moved('dchat_update_auto_checks_total') >= 1, 'auto checks');
  assert.equal(moved('dchat_update_auto_downloads_total'), 1, 'auto downloads');
  assert.ok(
    mirror.requests.some((r) => r.status === 503),
    'the mirror was asked and failed',
  );
  const seedNow = samples(seedText);
  assert.ok(total(seedNow, 'dchat_update_announcements_propagated_total') >= 1, 'seed propagated');
  // Labels exactly as the seed names them: every downloads sample carries one of its four source
  // types, and the download is counted under one of them. Which one delivered is the planner's
  // choice by speed: the seed serves as a peer and over IPFS (a clean-clone run had every byte
  // come by IPFS), the mirror after its 503s.
  const downloadSamples = afterText.split('\n').filter((l) => l.startsWith('dchat_update_downloads_total'));
  assert.ok(downloadSamples.length > 0, 'downloads samples');
  for (const l of downloadSamples)
    assert.match(l, /^dchat_update_downloads_total\{source_type="(https|ipfs|bittorrent|peer)"\} \d+$/);
  assert.ok(
    downloadSamples.some((l) => / [1-9]\d*$/.test(l)),
    'the download counted under its source type',
  );
  assert.match(afterText, /^dchat_update_verifications_total\{result="hash_fail"\} 0$/m);
  // Gossip, peer and readiness gauges, and the process's own.
  assert.equal(total(now, 'dchat_peers_connected'), 1);
  assert.equal(total(now, 'dchat_update_ready'), 1);
  assert.match(afterText, /^dchat_node_info\{version="[^"]+",role="user",/m);
  assert.ok(total(now, 'dchat_process_resident_memory_bytes') > 10e6);

  const health = (await (await fetch((user.metricsUrl as string).replace(/metrics$/, 'health'))).json()) as {
    status: string;
    highest_trusted: string;
    ready: boolean;
  };
  assert.equal(health.status, 'ok');
  assert.equal(health.highest_trusted, '1.0.0');
  assert.equal(health.ready, true);
  assert.equal((await fetch((user.metricsUrl as string).replace(/metrics$/, 'nope'))).status, 404);

  // The node's log (JSON: stderr is not a terminal) has the seed's debug lines too.
  const log = (await readFile(join(userPaths.home, 'node.log'), 'utf8'))
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: string; target: string; msg: string });
  const has = (target: string, level: string, msg: string | RegExp) =>
    log.some(
      (l) =>
        l.target === target &&
        l.level === level &&
        (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg)),
    );
  assert.ok(
    has('dchat::gossip', 'debug', `Received version announcement for 1.0.0 from node ${seed.peerId}`),
  );
  assert.ok(has('dchat::package', 'debug', `Trying download from ${mirror.url}`));
  assert.ok(has('dchat::package', 'debug', 'Trying download from libp2p:/dchat/chunks/1'));
  assert.ok(has('dchat::package', 'debug', 'Hash verification: BLAKE3 match ✓'));
  assert.ok(has('dchat::package', 'info', 'Package 1.0.0 verified successfully'));
});
