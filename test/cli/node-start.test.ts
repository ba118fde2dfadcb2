/**
 * `dchat node start` / `node status` as real processes: identity persisted (0600) and reused,
 * control socket owner-only, one node per home, status over the socket, graceful SIGTERM,
 * unsupported flags refused with exit 2.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { controlRequest } from '../../src/node/control.ts';
import { homePaths } from '../../src/store/home.ts';
import { type NodeProcess, spawnNode, stopAll } from '../../src/testnet/process.ts';
import { runBin } from '../helpers/cli.ts';

describe('dchat node start/status', () => {
  let dir: string;
  const procs: NodeProcess[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dchat-node-'));
  });
  after(async () => {
    await stopAll(procs);
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (name: string, extra: string[] = []) => {
    const home = join(dir, name);
    const { mkdir } = await import('node:fs/promises');
    await mkdir(home, { recursive: true });
    const p = await spawnNode({
      name,
      home,
      role: 'relay',
      args: ['--home', home, 'node', 'start', '--json', '--role', 'relay', ...extra],
    });
    procs.push(p);
    return p;
  };

  test('status without a running node: exit 1, E_NOT_FOUND', async () => {
    const r = await runBin('dchat', ['--home', join(dir, 'nobody'), 'node', 'status', '--json']);
    assert.equal(r.code, 1);
    assert.equal(JSON.parse(r.stdout).error.code, 'E_NOT_FOUND');
  });

  test('a --metrics value that is not HOST:PORT, a bootstrap without peer id: exit 2, flag named', async () => {
    const r = await runBin('dchat', ['--home', join(dir, 'x'), 'node', 'start', '--metrics', '9100']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--metrics: '9100' is not HOST:PORT/);
    const b = await runBin('dchat', [
      '--home',
      join(dir, 'x'),
      'node',
      'start',
      '--bootstrap',
      '/ip4/127.0.0.1/tcp/1',
    ]);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /--bootstrap: .*p2p/);
  });

  test('identity, socket permissions, status, single instance, restart keeps the peer id', async () => {
    const a = await start('a');
    const b = await start('b', ['--bootstrap', a.addresses[0] as string]);
    const paths = homePaths(a.home);
    const key = await stat(join(paths.nodeDir, 'identity.key'));
    assert.equal(key.mode & 0o777, 0o600);
    assert.equal((await stat(paths.runDir)).mode & 0o777, 0o700);
    assert.equal((await stat(join(paths.runDir, 'node.sock'))).mode & 0o777, 0o600);
    const state = JSON.parse(await readFile(join(paths.nodeDir, 'state.json'), 'utf8'));
    assert.equal(state.peer_id, a.peerId);
    assert.ok(a.addresses.every((x) => x.startsWith('/ip4/127.0.0.1/tcp/')));

    // b dialled a; a sees b over its control socket.
    for (let i = 0; i < 50; i++) {
      const s = (await controlRequest(paths, 'status')) as { connected_peers: { id: string }[] };
      if (s.connected_peers.some((p) => p.id === b.peerId)) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const r = await runBin('dchat', ['--home', a.home, 'node', 'status', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const st = JSON.parse(r.stdout) as { peer_id: string; role: string; connected_peers: { id: string }[] };
    assert.equal(st?.peer_id, a.peerId);
    assert.equal(st?.role, 'relay');
    assert.ok(
      st?.connected_peers.some((p) => p.id === b.peerId),
      'b is connected to a',
    );
    const human = await runBin('dchat', ['--home', a.home, 'node', 'status']);
    assert.match(human.stdout, /Connected peers: 1/);

    // A second node on the same home is refused.
    const dup = await runBin('dchat', ['--home', a.home, 'node', 'start', '--json']);
    assert.equal(dup.code, 1);
    assert.equal(JSON.parse(dup.stdout).error.code, 'E_BUSY');

    // Graceful stop: exit 0 on SIGTERM, state and socket removed; restart keeps the identity.
    a.child.kill('SIGTERM');
    assert.equal(await a.exited, 0);
    await assert.rejects(stat(join(paths.nodeDir, 'state.json')));
    await assert.rejects(stat(join(paths.runDir, 'node.sock')));
    const again = await spawnNode({
      name: 'a2',
      home: a.home,
      role: 'relay',
      args: ['--home', a.home, 'node', 'start', '--json'],
    });
    procs.push(again);
    assert.equal(again.peerId, a.peerId);
  });
});
