/**
 * `dchat testnet --validators 3 --relays 3` as a user runs it: a real process that starts six
 * node processes, an embedded HTTPS mirror and the testnet dashboard, writes DIR/testnet.json and
 * the Prometheus files, spreads its first release and a second one (--release-every) to every
 * node, and on SIGTERM stops everything: no node process is left, no port still answers.
 * The dashboard is loaded in headless Chromium while it runs: it shows every node with its role
 * and version, the update notice and the propagation chart; its screenshot is kept in artifacts/.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DashboardState } from '../../src/dashboard/state.ts';
import type { TestnetInfo } from '../../src/testnet/local-net.ts';
import { ARTIFACTS, loadInChromium } from '../helpers/chromium.ts';
import { BINS } from '../helpers/cli.ts';
import { alive, waitFor } from '../helpers/node-procs.ts';
import { requireTool } from '../helpers/tools.ts';

const skip = requireTool('openssl') || requireTool('chromium');

test('dchat testnet: six nodes, two releases spread, dashboard in Chromium, nothing left after SIGTERM', {
  skip,
  timeout: 280_000,
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dchat-testnet-'));
  const child = spawn(
    process.execPath,
    [
      BINS.dchat,
      '--json',
      'testnet',
      '--validators',
      '3',
      '--relays',
      '3',
      '--dir',
      dir,
      '--release-every',
      '20s',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DCHAT_HOME: join(dir, 'home') } },
  );
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  const started = await waitFor(
    'the started record',
    async () => {
      const line = out.split('\n').find((l) => l.includes('"event":"started"'));
      return line ? (JSON.parse(line) as TestnetInfo & { event: string }) : undefined;
    },
    120_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${stderr}`);
  });
  const info = JSON.parse(await readFile(join(dir, 'testnet.json'), 'utf8')) as TestnetInfo;
  assert.deepEqual(
    info.nodes.map((n) => [n.id, n.role]),
    [
      ['v0', 'validator'],
      ['v1', 'validator'],
      ['v2', 'validator'],
      ['r0', 'relay'],
      ['r1', 'relay'],
      ['r2', 'relay'],
    ],
  );
  assert.equal(started.dashboard_url, info.dashboard_url);
  for (const n of info.nodes) {
    assert.equal(n.home, join(dir, n.id));
    assert.match(n.metrics_url ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    assert.ok(n.pid && alive(n.pid));
  }
  const targets = JSON.parse(await readFile(join(dir, 'prometheus-targets.json'), 'utf8')) as unknown[];
  assert.equal(targets.length, 6);
  assert.match(await readFile(join(dir, 'prometheus.yml'), 'utf8'), /prometheus-targets\.json/);
  const dash = info.dashboard_url as string;

  const state = async () => (await (await fetch(`${dash}api/state`)).json()) as DashboardState;
  await waitFor(
    'every node verified 1.0.0 and 1.0.1',
    async () => {
      const s = await state();
      return s.nodes.length === 6 && s.nodes.every((n) => n.ready_version === '1.0.1');
    },
    150_000,
  ).catch(async (e: Error) => {
    throw new Error(
      `${e.message}\n${JSON.stringify((await state()).nodes.map((n) => [n.id, n.ready_version, n.downloads]))}`,
    );
  });
  const s = await state();
  assert.deepEqual(s.history.versions, ['1.0.0', '1.0.1']);
  assert.ok(s.history.t.length >= 5);
  // The chart's series rose to every node for both versions.
  for (const row of s.history.verified) assert.equal(Math.max(...row), 6);
  assert.equal(s.mirrors.length, 1);
  assert.equal(s.mirrors[0]?.ok, true, JSON.stringify(s.mirrors));
  assert.deepEqual(s.releases.map((r) => r.version).slice(0, 2), ['1.0.0', '1.0.1']);
  // A node's metrics show the downloads it made.
  const m = await (await fetch(info.nodes[5]?.metrics_url as string)).text();
  assert.match(m, /^dchat_update_auto_downloads_total [1-9]/m);

  await mkdir(ARTIFACTS, { recursive: true });
  const png = join(ARTIFACTS, 'dashboard-testnet.png');
  const dom = await loadInChromium(dash, png);
  assert.match(dom, /<body[^>]*data-loaded="true"/);
  assert.match(dom, /<h1 id="title">dchat testnet \(6 nodes\)<\/h1>/);
  for (const n of info.nodes)
    assert.match(dom, new RegExp(`<tr data-node-id="${n.id}" data-role="${n.role}" data-up="true">`));
  assert.match(dom, /Update available: dchat 1\.0\.\d+ — verified on \d of 6 nodes/);
  assert.match(dom, /<div id="chart"><div class="uplot[^"]*">/);
  assert.match(dom, /<canvas/);
  assert.match(dom, /verified 1\.0\.1/);
  assert.match(dom, /class="mirror ok"/);
  const shot = await readFile(png);
  assert.ok(shot.length > 20_000 && shot.subarray(1, 4).toString() === 'PNG', 'a real screenshot');

  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.match(out, /"event":"stopped"/);
  for (const n of info.nodes) assert.equal(alive(n.pid as number), false, `${n.id} is still running`);
  await assert.rejects(fetch(`${dash}api/state`), 'the dashboard is closed');
  await assert.rejects(fetch(info.mirror.url), 'the mirror is closed');
});
