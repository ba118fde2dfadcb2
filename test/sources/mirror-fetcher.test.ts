import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HttpsSource } from '../../src/sources/https.ts';
import { updateTrustFromSources } from '../../src/sources/mirror-fetcher.ts';
import { listPackages } from '../../src/trust/package-check.ts';
import { CHUNK, type MirrorRepo, makeMirrorRepo } from '../download/fixture.ts';
import { type FaultMirror, startFaultMirror } from '../helpers/fault-mirror.ts';
import { freePort, type NginxServer, startNginx } from '../helpers/nginx.ts';
import { assertCode, InMemoryTrustStore } from '../helpers/repo.ts';
import { makeTestCa, type TestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';

const skip = requireTool('nginx') || requireTool('openssl');
const DAY = 86_400_000;

describe('metadata through a list of mirrors: signatures decide, never a majority', { skip }, () => {
  const t0 = new Date();
  let ca: TestCa;
  let repo: MirrorRepo;
  let other: MirrorRepo;
  let nginx: NginxServer;
  let stale: FaultMirror[];
  let garbage: FaultMirror;
  let forged: FaultMirror;
  let rootBytes: Buffer;
  const sources: HttpsSource[] = [];
  const src = (url: string) => {
    const s = new HttpsSource({ url, ca: ca.caPem });
    sources.push(s);
    return s;
  };

  before(async () => {
    ca = makeTestCa();
    repo = await makeMirrorRepo(t0);
    await repo.publish('1.0.0', 2 * CHUNK);
    const staleDir = repo.snapshot();
    await repo.publish('1.1.0', 2 * CHUNK);
    // Six days later the publisher refreshes timestamp/snapshot; the stale copy is not refreshed.
    await repo.refresh({ now: new Date(t0.getTime() + 6 * DAY) });
    rootBytes = readFileSync(join(repo.dir, 'root.json'));
    nginx = await startNginx(repo.dir, ca);
    stale = await Promise.all([1, 2, 3].map(() => startFaultMirror(staleDir, ca)));
    const junk = join(repo.base, 'junk.json');
    writeFileSync(junk, randomBytes(3000));
    garbage = await startFaultMirror(repo.dir, ca, [{ kind: 'serve', path: /timestamp\.json$/, file: junk }]);
    // A repository with the same layout, signed by keys this node does not trust.
    other = await makeMirrorRepo(t0);
    await other.publish('9.0.0', CHUNK);
    forged = await startFaultMirror(other.dir, ca);
  });
  after(async () => {
    await Promise.all(sources.map((s) => s.close()));
    await nginx?.stop();
    await Promise.all([...(stale ?? []), garbage, forged].map((m) => m?.stop()));
  });

  test('three stale mirrors, garbage and a forgery ahead of one good mirror: the good one wins', async () => {
    const store = new InMemoryTrustStore(rootBytes);
    const now = new Date(t0.getTime() + 1000);
    // The node has seen the newest timestamp once (from any mirror, or a peer's gossip).
    await updateTrustFromSources(store, [src(nginx.url)], now);
    const r = await updateTrustFromSources(
      store,
      [...stale.map((m) => src(m.url)), src(garbage.url), src(forged.url), src(nginx.url)],
      now,
    );
    assert.equal(r.source.uri, nginx.url);
    assert.deepEqual(
      r.attempts.map((a) => (a.ok ? 'ok' : a.error?.code)),
      ['E_ROLLBACK', 'E_ROLLBACK', 'E_ROLLBACK', 'E_MALFORMED', 'E_UNTRUSTED_KEY', 'ok'],
    );
    const versions = listPackages(r.trusted.requireTargets()).map((p) => p.custom.version);
    assert.deepEqual(versions, ['1.0.0', '1.1.0']);
  });

  test('after the newest metadata was seen, a stale mirror cannot roll the node back', async () => {
    const store = new InMemoryTrustStore(rootBytes);
    const now = new Date(t0.getTime() + 1000);
    await updateTrustFromSources(store, [src(nginx.url)], now);
    const tsVersion = store.version('timestamp');
    const e = await assertCode(() => updateTrustFromSources(store, [src(stale[0]!.url)], now), 'E_ROLLBACK');
    assert.match(e.message, /older than the trusted/);
    assert.equal(store.version('timestamp'), tsVersion, 'trusted state unchanged');
    // With a good mirror after it, the stale one is skipped.
    const r = await updateTrustFromSources(store, [src(stale[1]!.url), src(nginx.url)], now);
    assert.equal(r.attempts[0]?.error?.code, 'E_ROLLBACK');
    assert.equal(r.source.uri, nginx.url);
  });

  test('garbage and forged metadata are skipped with their codes', async () => {
    const store = new InMemoryTrustStore(rootBytes);
    const now = new Date(t0.getTime() + 1000);
    const r = await updateTrustFromSources(store, [src(garbage.url), src(forged.url), src(nginx.url)], now);
    assert.deepEqual(
      r.attempts.map((a) => a.error?.code ?? 'ok'),
      ['E_MALFORMED', 'E_UNTRUSTED_KEY', 'ok'],
    );
    await assertCode(
      () => updateTrustFromSources(new InMemoryTrustStore(rootBytes), [src(forged.url)], now),
      'E_UNTRUSTED_KEY',
    );
  });

  test('an expired mirror cannot freeze the node: E_EXPIRED unless a fresh mirror answers', async () => {
    // Eight days after t0: the stale copy's timestamp (7 days) has expired, the refreshed one has not.
    const now = new Date(t0.getTime() + 8 * DAY);
    await assertCode(
      () =>
        updateTrustFromSources(
          new InMemoryTrustStore(rootBytes),
          [src(stale[0]!.url), src(stale[1]!.url)],
          now,
        ),
      'E_EXPIRED',
    );
    const store = new InMemoryTrustStore(rootBytes);
    const r = await updateTrustFromSources(store, [src(stale[0]!.url), src(nginx.url)], now);
    assert.equal(r.attempts[0]?.error?.code, 'E_EXPIRED');
    assert.equal(r.source.uri, nginx.url);
    // Fifteen days after t0 nothing is fresh any more.
    await assertCode(
      () =>
        updateTrustFromSources(
          new InMemoryTrustStore(rootBytes),
          [src(nginx.url)],
          new Date(t0.getTime() + 15 * DAY),
        ),
      'E_EXPIRED',
    );
  });

  test('nothing reachable: E_NO_SOURCE naming each mirror; no mirror at all: E_NO_SOURCE', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const dead = src(`https://127.0.0.1:${p1}`);
    const dead2 = src(`https://127.0.0.1:${p2}`);
    const e = await assertCode(
      () => updateTrustFromSources(new InMemoryTrustStore(rootBytes), [dead, dead2], new Date()),
      'E_NO_SOURCE',
    );
    assert.ok(e.message.includes(`127.0.0.1:${p1}`) && e.message.includes(`127.0.0.1:${p2}`), e.message);
    await assertCode(
      () => updateTrustFromSources(new InMemoryTrustStore(rootBytes), [dead], new Date()),
      'E_NETWORK',
    );
    await assertCode(
      () => updateTrustFromSources(new InMemoryTrustStore(rootBytes), [], new Date()),
      'E_NO_SOURCE',
    );
  });
});
