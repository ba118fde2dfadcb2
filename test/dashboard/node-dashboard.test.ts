/**
 * `dchat node start --dashboard HOST:PORT`: one real node serves the dashboard page, uPlot from the
 * installed package (no CDN: every script and style the page loads comes from the node itself), and
 * /api/state; headless Chromium renders it with the node's row.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type NodeProcess, spawnNode, stopAll } from '../../src/testnet/process.ts';
import { ARTIFACTS, loadInChromium } from '../helpers/chromium.ts';
import { requireTool } from '../helpers/tools.ts';

test('a node dashboard in Chromium, assets served locally', {
  skip: requireTool('chromium'),
  timeout: 200_000,
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dchat-nodedash-'));
  const procs: NodeProcess[] = [];
  t.after(async () => {
    await stopAll(procs);
    await rm(dir, { recursive: true, force: true });
  });
  const p = await spawnNode({
    name: 'n',
    home: dir,
    role: 'relay',
    args: ['--home', dir, 'node', 'start', '--json', '--role', 'relay', '--dashboard', '127.0.0.1:0'],
  });
  procs.push(p);
  const url = p.dashboardUrl as string;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const page = await (await fetch(url)).text();
  const refs = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
  assert.deepEqual(refs.sort(), ['/dashboard.css', '/dashboard.js', '/uplot.css', '/uplot.js']);
  const lib = await fetch(`${url}uplot.js`);
  assert.equal(lib.status, 200);
  assert.match(await lib.text(), /uPlot/);
  assert.equal((await fetch(`${url}../etc/passwd`)).status, 404);
  assert.equal((await fetch(url, { method: 'POST' })).status, 405);

  await mkdir(ARTIFACTS, { recursive: true });
  const dom = await loadInChromium(url, join(ARTIFACTS, 'dashboard-node.png'));
  assert.match(dom, /<h1 id="title">dchat node \(relay\)<\/h1>/);
  assert.match(dom, /<tr data-node-id="this node" data-role="relay" data-up="true">/);
  assert.match(dom, /no mirror probed|class="mirror/);
});
