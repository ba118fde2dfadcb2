/**
 * contrib/prometheus: the scrape configuration passes `promtool check config`, and every metric the
 * Grafana dashboard queries is one a node exports (src/metrics/registry.ts), so a renamed metric
 * cannot leave an empty panel behind.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { NodeMetrics } from '../../src/metrics/registry.ts';
import type { StatusResult } from '../../src/model/control.ts';
import { REPO_ROOT } from '../helpers/cli.ts';
import { requireTool } from '../helpers/tools.ts';

const DIR = `${REPO_ROOT}contrib/prometheus/`;

test('promtool accepts the scrape configuration', { skip: requireTool('promtool') }, () => {
  const out = execFileSync('promtool', ['check', 'config', `${DIR}prometheus.yml`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  assert.match(out, /SUCCESS/);
});

test('every metric the Grafana dashboard queries is exported by a node', async () => {
  const dash = JSON.parse(readFileSync(`${DIR}grafana-dashboard.json`, 'utf8')) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  const status = {
    peer_id: '12D3KooWtest',
    role: 'user',
    pid: 1,
    started_at: new Date().toISOString(),
    addresses: [],
    connected_peers: [],
    banned_peers: [],
    releases: { highest_trusted: '1.0.0', announcements: [], packages: [], downloads: [] },
  } as unknown as StatusResult;
  const m = new NodeMetrics({ status: () => status, version: '0.1.0', platform: 'linux-x64' });
  const exported = new Set<string>();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    exported.add(metric.name);
    if (String(metric.type) === 'histogram')
      for (const s of ['_bucket', '_sum', '_count']) exported.add(metric.name + s);
  }
  m.close();
  const queried = new Set<string>();
  for (const p of dash.panels)
    for (const t of p.targets) for (const name of t.expr.match(/dchat_[a-z0-9_]+/g) ?? []) queried.add(name);
  assert.ok(queried.size >= 15, `only ${queried.size} metrics queried`);
  for (const name of queried) assert.ok(exported.has(name), `${name} is queried but not exported`);
});
