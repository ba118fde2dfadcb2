/**
 * The supervisor (src/activation/supervisor.ts, versions.ts, recover.ts) on real release builds of
 * this source (1.0.0, 1.1.0, and a 1.2.0 that never reports healthy) installed through `update
 * download` + `update install`:
 *  - `node start` on a home with installed versions runs the current one as a child (status from
 *    the child, clean stop, no orphan); `list-versions` marks installed/current/pending;
 *  - a switch: pre-upgrade check, backup, upgrade-info.json, `current` renamed, healthy new child,
 *    history with its downtime; an unhealthy version is rolled back (journal, event), and the
 *    restarted child signs and gossips a "rolled back" note that another node of the network lists;
 *  - `update rollback` below an activated hard fork exits 2 E_BELOW_HARD_FORK; to an allowed
 *    version it switches and a running supervisor restarts on it (SIGHUP);
 *  - kill -9 of the supervisor at random instants of a switch: supervisor-kill9.e2e.ts (20 trials,
 *    in the end-to-end stage).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { Supervisor, type SupervisorEvent } from '../../src/activation/supervisor.ts';
import { readCurrent, readJournal, versionPaths } from '../../src/activation/versions.ts';
import type { GovernanceStatusResult } from '../../src/model/governance-control.ts';
import { homePaths } from '../../src/store/home.ts';
import { type NodeProcess, spawnNode, stopAll } from '../../src/testnet/process.ts';
import { runDchat } from '../download/fixture.ts';
import { dchat, dchatSign, describeRun } from '../helpers/cli.ts';
import { waitFor } from '../helpers/node-procs.ts';
import { homeWithVersions, type ReleaseRepo, releaseBuild, releaseRepo } from '../helpers/release-builds.ts';
import { noOrphans, processesOf, startNode } from '../helpers/supervised.ts';

let repo: ReleaseRepo;

before(async () => {
  repo = await releaseRepo([
    { version: '1.0.0', file: await releaseBuild('1.0.0') },
    { version: '1.1.0', file: await releaseBuild('1.1.0') },
    { version: '1.2.0', file: await releaseBuild('1.2.0', { neverHealthy: true }) },
    { version: '1.3.0', file: await hangingBuild() },
  ]);
});
after(async () => {
  await repo?.close();
});

describe('supervised node start', () => {
  test('runs the current version as a child; list-versions marks installed, current, pending; clean stop', async () => {
    const home = await homeWithVersions(repo, ['1.0.0', '1.1.0']);
    const lv = await runDchat(['--home', home, '--json', 'update', 'list-versions']);
    assert.equal(lv.code, 0, lv.stderr);
    const doc = JSON.parse(lv.stdout) as {
      versions: { version: string; installed: boolean; current: boolean; pending: boolean }[];
    };
    const by = new Map(doc.versions.map((v) => [v.version, v]));
    assert.deepEqual(
      [by.get('1.0.0')?.installed, by.get('1.0.0')?.current, by.get('1.0.0')?.pending],
      [true, true, false],
    );
    assert.deepEqual(
      [by.get('1.1.0')?.installed, by.get('1.1.0')?.current, by.get('1.1.0')?.pending],
      [true, false, true],
    );
    assert.equal(by.get('1.2.0')?.installed, false);
    const text = await runDchat(['--home', home, 'update', 'list-versions']);
    assert.match(text.stdout, /Version 1\.0\.0 \(installed, current\)/);
    assert.match(text.stdout, /Version 1\.1\.0 \(installed, pending\)/);

    const node = startNode(home);
    const started = await node.waitFor('started');
    assert.equal(started.version, '1.0.0');
    assert.equal(started.supervised, true);
    assert.notEqual(started.pid, node.proc.pid, 'the node runs in a child process');
    const st = await runDchat(['--home', home, '--json', 'node', 'status']);
    assert.equal(st.code, 0, st.stderr);
    assert.equal(JSON.parse(st.stdout).peer_id, started.peer_id);
    node.proc.kill('SIGTERM');
    assert.equal(await node.exited, 0);
    assert.ok(node.records.some((r) => r.event === 'stopped'));
    await noOrphans(home, 5_000);
  });

  test('a child that cannot bind its port: start fails E_UNHEALTHY with its exit code and last stderr line', async () => {
    const home = await homeWithVersions(repo, ['1.0.0']);
    const held = createServer();
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', () => r()));
    const port = (held.address() as AddressInfo).port;
    const sup = new Supervisor({
      paths: homePaths(home),
      childArgs: ['--listen', `/ip4/127.0.0.1/tcp/${port}`],
      env: process.env,
      log: pino({ level: 'silent' }),
      now: () => new Date(),
      healthBoundMs: 60_000,
      onEvent: () => {},
    });
    const t0 = Date.now();
    try {
      await assert.rejects(sup.start(), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_UNHEALTHY');
        assert.match(
          e.message,
          /did not report healthy within 60000 ms \(it exited with code [1-9]\d*: .+\)/,
        );
        assert.match(e.message, /EADDRINUSE|in use/i);
        return true;
      });
      assert.ok(Date.now() - t0 < 50_000, 'an exited child is reported at once, not after the bound');
    } finally {
      await sup.stop();
      await new Promise((r) => held.close(r));
    }
  });

  test('a pre-upgrade probe still running when the supervisor stops is killed with it', async () => {
    const home = await homeWithVersions(repo, ['1.0.0', '1.3.0']);
    const node = startNode(home);
    try {
      const started = await node.waitFor('started');
      // The probe of 1.3.0 starts within the supervisor's 2 s preparation tick and never ends.
      const probe = await waitFor(
        'the pre-upgrade probe of 1.3.0',
        async () => processesOf(home).find((pid) => pid !== node.proc.pid && pid !== started.pid),
        30_000,
      );
      assert.match(readFileSync(`/proc/${probe}/cmdline`, 'utf8'), /sleep/);
      node.proc.kill('SIGTERM');
      assert.equal(await node.exited, 0);
      await noOrphans(home, 5_000);
    } finally {
      // Only after a failure is anything left: end it so the test file does not hang.
      node.proc.kill('SIGKILL');
      for (const pid of processesOf(home)) process.kill(pid, 'SIGKILL');
    }
  });
});

/**
 * A "build" whose `--version` never answers (exec keeps the home's environment on the one process,
 * so processesOf() sees it): the supervisor's pre-upgrade probe of it is still running at stop.
 */
async function hangingBuild(): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'dchat-hanging-')), 'dchat');
  await writeFile(file, '#!/bin/sh\nexec sleep 600\n', { mode: 0o755 });
  return file;
}

/** A signed genesis (one holder, one validator) pinned in each of `homes`. */
async function pinGenesis(homes: string[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dchat-genesis-'));
  const keys: Record<string, string> = {};
  for (const k of ['root', 'holder', 'validator']) {
    const r = await dchatSign(['keygen', '--out', join(dir, `${k}.key`), '--json']);
    assert.equal(r.code, 0, describeRun(r));
    keys[k] = (JSON.parse(r.stdout) as { public: string }).public;
  }
  const spec = {
    network_id: 'dchat-supervisor-test',
    holders: [{ public_key: keys.holder, weight: 100 }],
    validators: [{ key_id: 'validator-0', public_key: keys.validator, stake: 100 }],
  };
  await writeFile(join(dir, 'network.json'), JSON.stringify(spec));
  const g = join(dir, 'genesis.json');
  const r = await dchatSign([
    'genesis',
    '--spec',
    join(dir, 'network.json'),
    '--root-key',
    join(dir, 'root.key'),
    '--out',
    g,
  ]);
  assert.equal(r.code, 0, describeRun(r));
  for (const home of homes) {
    const p = await dchat(['--home', home, 'governance', 'init', '--genesis', g]);
    assert.equal(p.code, 0, describeRun(p));
  }
}

describe('switch, health-gated rollback, update rollback', () => {
  const observers: NodeProcess[] = [];
  after(async () => {
    await stopAll(observers);
  });

  test('switch to a healthy version, roll back an unhealthy one (the network is told), refuse a rollback below the hard fork', async () => {
    const home = await homeWithVersions(repo, ['1.0.0', '1.1.0', '1.2.0']);
    const paths = homePaths(home);
    const vp = versionPaths(paths);
    const events: SupervisorEvent[] = [];
    // Another node of the same network (same TUF root and metadata, same genesis), which the
    // supervised node's children dial: it must hear of the rollback from the signed note the
    // restarted child gossips.
    const obsHome = await homeWithVersions(repo, []);
    const check = await runDchat(['--home', obsHome, 'update', 'check']);
    assert.equal(check.code, 0, check.stderr);
    await pinGenesis([home, obsHome]);
    const observer = await spawnNode({
      name: 'observer',
      home: obsHome,
      role: 'relay',
      args: [
        '--home',
        obsHome,
        'node',
        'start',
        '--json',
        '--role',
        'relay',
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
      ],
    });
    observers.push(observer);
    const sup = new Supervisor({
      paths,
      childArgs: ['--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', observer.addresses[0] as string],
      env: process.env,
      log: pino({ level: 'silent' }),
      now: () => new Date(),
      healthBoundMs: 30_000,
      onEvent: (e) => events.push(e),
    });
    try {
      assert.equal((await sup.start()).version, '1.0.0');
      assert.equal(await sup.switchTo('1.1.0', { height: 100, fork: 'hard', reason: 'test' }), true);
      assert.equal(await readCurrent(vp), '1.1.0');
      assert.equal(sup.running?.version, '1.1.0');
      const info = JSON.parse(readFileSync(vp.upgradeInfo, 'utf8'));
      assert.equal(info.name, '1.1.0');
      assert.equal(info.height, 100);
      assert.equal(readdirSync(vp.backupsDir).length, 1);
      let j = await readJournal(vp);
      assert.equal(j.trial, null);
      const sw = j.history.at(-1);
      assert.equal(sw?.kind, 'switch');
      assert.equal(sw?.to, '1.1.0');
      assert.ok(typeof sw?.downtime_ms === 'number' && sw.downtime_ms > 0);

      // 1.2.0 never reports healthy: back to 1.1.0, journaled and announced.
      assert.equal(await sup.switchTo('1.2.0', { height: 200, fork: 'soft', reason: 'test' }), false);
      assert.equal(await readCurrent(vp), '1.1.0');
      assert.equal(sup.running?.version, '1.1.0');
      j = await readJournal(vp);
      assert.equal(j.trial, null);
      assert.equal(j.rolled_back.at(-1)?.version, '1.2.0');
      assert.ok(events.some((e) => e.event === 'rolled_back' && e.from === '1.2.0' && e.to === '1.1.0'));
      const lv = await runDchat(['--home', home, 'update', 'list-versions']);
      assert.match(lv.stdout, /Version 1\.2\.0 \(installed, rolled back\)/);
      // The restarted 1.1.0 child signed a "rolled back" note (its node key: not a validator, no
      // stake) and gossiped it: the other node lists it.
      const heard = await waitFor(
        'the rollback note on the other node',
        async () => {
          const r = await dchat(['--home', obsHome, '--json', 'governance', 'status']);
          if (r.code !== 0) return false;
          const st = JSON.parse(r.stdout) as GovernanceStatusResult;
          return st.rollbacks.find((x) => x.version === '1.2.0');
        },
        60_000,
      );
      assert.deepEqual([heard.to, heard.height, heard.key_id, heard.stake], ['1.1.0', 200, null, 0]);
      assert.match(heard.reason, /did not report healthy within 30000 ms/);

      // 1.0.0 is below the hard fork to 1.1.0 activated at height 100.
      const refused = await runDchat(['--home', home, 'update', 'rollback', '--to', '1.0.0']);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /^error\[E_BELOW_HARD_FORK\]: 1\.0\.0 is below the hard fork to 1\.1\.0/);
      assert.equal(await readCurrent(vp), '1.1.0');
      const missing = await runDchat(['--home', home, 'update', 'rollback', '--to', '0.9.0']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /E_NOT_FOUND/);
    } finally {
      await sup.stop();
    }
    await noOrphans(home, 5_000);
  });

  test('update rollback with a running supervisor: current switches back and the node restarts on it', async () => {
    const home = await homeWithVersions(repo, ['1.0.0', '1.1.0']);
    const vp = versionPaths(homePaths(home));
    // Make 1.1.0 current the operator's way first (no fork recorded: rollback below is allowed).
    const fwd = await runDchat(['--home', home, 'update', 'rollback', '--to', '1.1.0']);
    assert.equal(fwd.code, 0, fwd.stderr);
    const node = startNode(home);
    assert.equal((await node.waitFor('started')).version, '1.1.0');
    const rb = await runDchat(['--home', home, '--json', 'update', 'rollback']);
    assert.equal(rb.code, 0, rb.stderr);
    assert.deepEqual(JSON.parse(rb.stdout), {
      ok: true,
      from: '1.1.0',
      to: '1.0.0',
      supervisor_signalled: true,
    });
    const sw = await node.waitFor('switched');
    assert.equal(sw.to, '1.0.0');
    assert.equal(await readCurrent(vp), '1.0.0');
    node.proc.kill('SIGTERM');
    assert.equal(await node.exited, 0);
    await noOrphans(home, 5_000);
  });
});
