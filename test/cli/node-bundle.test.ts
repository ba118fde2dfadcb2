/**
 * scripts/bundle-node.ts and cli/dchat.ts: `npm run build` writes dist/bundle/, which holds no
 * path of the checkout (it works wherever the package is installed), and `dchat node start` from
 * dist runs it: the started record says so, the node answers `node status`, and SIGTERM stops it.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { REPO_ROOT } from '../helpers/cli.ts';

const DIST_CLI = join(REPO_ROOT, 'dist', 'cli', 'dchat.js');
const BUNDLE = join(REPO_ROOT, 'dist', 'bundle');
const home = mkdtempSync(join(tmpdir(), 'dchat-bundle-'));
after(() => rmSync(home, { recursive: true, force: true }));

test('the bundle is built, minified, and names no path of the checkout', () => {
  assert.ok(existsSync(join(BUNDLE, 'dchat.js')), 'npm run build writes dist/bundle/dchat.js');
  const chunks = readdirSync(BUNDLE).filter((f) => f.endsWith('.js'));
  assert.ok(chunks.length > 10, 'split into chunks loaded at first use');
  for (const f of chunks) {
    const text = readFileSync(join(BUNDLE, f), 'utf8');
    assert.ok(!text.includes(REPO_ROOT.replace(/\/$/, '')), `${f} names the checkout's path`);
  }
});

test('node start from dist runs the bundle, answers and stops on SIGTERM', async () => {
  const child = spawn(
    process.execPath,
    [DIST_CLI, '--home', home, 'node', 'start', '--json', '--listen', '/ip4/127.0.0.1/tcp/0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no started record in 60 s')), 60_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const doc = JSON.parse(line) as Record<string, unknown>;
      if (doc.event === 'started') {
        clearTimeout(t);
        resolve(doc);
      }
    });
    child.once('exit', () => reject(new Error('node exited before it started')));
  });
  try {
    assert.equal(started.bundled, true);
    const st = spawnSync(process.execPath, [DIST_CLI, '--home', home, 'node', 'status', '--json'], {
      encoding: 'utf8',
    });
    assert.equal(st.status, 0, st.stderr);
    assert.equal((JSON.parse(st.stdout) as { peer_id: string }).peer_id, started.peer_id);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
});
