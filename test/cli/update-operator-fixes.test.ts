/**
 * What an operator trying `dchat update` found (each with its fix): a dead mirror is warned about
 * once per run and never with "resuming" after a refused connection; `update check` before
 * `trust init` leaves no placeholder mirror behind to be contacted later; the progress bar shows
 * an ETA, in the same binary units `--limit-rate` is read in.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_SETTINGS, defaultMirrors, serializeMirrors } from '../../src/store/mirrors.ts';
import {
  addMirror,
  CHUNK,
  type MirrorRepo,
  makeHome,
  makeMirrorRepo,
  ndjson,
  runDchat,
} from '../download/fixture.ts';
import { downloadArgs } from '../helpers/cli.ts';
import { type FaultMirror, startFaultMirror } from '../helpers/fault-mirror.ts';
import { makeTestCa, type TestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';

const skip = requireTool('openssl');

/** A loopback port nobody listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('update: warnings, placeholder mirrors, rates', { skip }, () => {
  let ca: TestCa;
  let repo: MirrorRepo;
  let good: FaultMirror;
  let env: NodeJS.ProcessEnv;
  const args = (home: string, ...more: string[]) => [
    '--home',
    home,
    ...downloadArgs('1.0.0', 'linux-x64'),
    ...more,
  ];

  before(async () => {
    ca = makeTestCa();
    env = { NODE_EXTRA_CA_CERTS: ca.caCert };
    repo = await makeMirrorRepo();
    await repo.publish('1.0.0', 24 * CHUNK + 3);
    good = await startFaultMirror(repo.dir, ca, [{ kind: 'slow', bytesPerSec: 1024 * 1024 }]);
  });
  after(async () => {
    await good?.stop();
  });

  test('a dead mirror is warned about once per run, with no "resuming" after a refused connection', async () => {
    const home = (await makeHome(repo)).home;
    const dead = `https://127.0.0.1:${await deadPort()}`;
    await addMirror(home, dead, 1);
    await addMirror(home, good.url, 20);
    const r = await runDchat(args(home, '--json'), { env });
    assert.equal(r.code, 0, r.stderr);
    const failures = ndjson(r.stdout).filter((x) => x.type === 'source-failed' && x.source === dead);
    assert.ok(failures.length <= 1, `${failures.length} source-failed records for the dead mirror`);
    const home2 = (await makeHome(repo)).home;
    await addMirror(home2, dead, 1);
    await addMirror(home2, good.url, 20);
    const h = await runDchat(args(home2, '--parallel', '2'), { env });
    assert.equal(h.code, 0, h.stderr);
    const warnings = h.stderr.split('\n').filter((l) => l.includes(dead));
    assert.equal(warnings.length, 1, h.stderr);
    assert.match(warnings[0] as string, /⚠️ .*E_NETWORK .*connection refused/);
    assert.doesNotMatch(h.stderr, /resuming from the last verified chunk/);
  });

  test('update check before trust init leaves no mirrors.toml; a placeholder left by an older run is not contacted', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'dchat-fresh-'));
    const r = await runDchat(['--home', fresh, 'update', 'check']);
    assert.notEqual(r.code, 0, 'the placeholder mirror is not reachable here');
    assert.ok(!existsSync(join(fresh, 'mirrors.toml')), 'the shipped defaults were not written out');

    const paths = await makeHome(repo);
    writeFileSync(
      paths.mirrorsToml,
      serializeMirrors({ settings: DEFAULT_SETTINGS, mirrors: defaultMirrors() }),
    );
    await addMirror(paths.home, good.url, 50);
    const c = await runDchat(['--home', paths.home, '--json', 'update', 'check'], { env });
    assert.equal(c.code, 0, c.stderr);
    const doc = JSON.parse(c.stdout) as { metadata: { source: string; rejected: { source: string }[] } };
    assert.equal(doc.metadata.source, good.url);
    assert.deepEqual(doc.metadata.rejected, [], 'releases.dchat.network was not contacted');
  });

  test('the bar shows bytes, rate and ETA in binary units; --limit-rate 24M is 24 MiB/s', async () => {
    const home = (await makeHome(repo)).home;
    await addMirror(home, good.url);
    const r = await runDchat(args(home, '--limit-rate', '24M'), { env, ttyStderr: true });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /\r {2}\[[█░]{30}\] +\d+% [\d.]+ (B|KiB|MiB)\/[\d.]+ (KiB|MiB) [\d.]+ (B|KiB|MiB)\/s ETA (\d+:\d\d|--:--)/,
    );
    assert.doesNotMatch(r.stderr, / MB\/s| KB\/s/);
  });
});
