/**
 * `dchat mirror serve` tells the operator an `add-mirror` URL; that URL must be one add-mirror
 * accepts, whatever --listen was (a wildcard address such as 0.0.0.0 is not dialable, and plain
 * http is accepted on loopback only). The suggestions are fed to the real add-mirror command; a
 * real serve process on loopback prints one that works too. (Tests listen on loopback only.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { suggestedMirrorUrl } from '../../src/cli/commands/mirror-impl.ts';
import { makeMirrorRepo, runDchat } from '../download/fixture.ts';
import { BINS } from '../helpers/cli.ts';

const CASES: [host: string, tls: boolean][] = [
  ['0.0.0.0', false],
  ['::', false],
  ['[::]', false],
  ['0.0.0.0', true],
  ['::', true],
  ['192.168.1.20', false],
  ['192.168.1.20', true],
  ['127.0.0.1', false],
  ['::1', false],
  ['mirror.example.org', true],
];

test('every suggested add-mirror URL is accepted by `dchat update add-mirror`', async () => {
  const repo = await makeMirrorRepo();
  for (const [host, tls] of CASES) {
    const s = suggestedMirrorUrl(host, 8480, tls, 'node1.example.org');
    const home = mkdtempSync(join(repo.base, 'home-'));
    const r = await runDchat([
      '--home',
      home,
      'update',
      'add-mirror',
      '--url',
      s.url,
      '--mirror-type',
      'https',
    ]);
    assert.equal(r.code, 0, `${host} tls=${tls}: ${s.url} rejected: ${r.stderr}`);
    assert.doesNotMatch(s.url, /0\.0\.0\.0|\[::\]/);
  }
  assert.deepEqual(suggestedMirrorUrl('0.0.0.0', 8480, false, 'n'), {
    url: 'http://127.0.0.1:8480',
    note: suggestedMirrorUrl('0.0.0.0', 8480, false, 'n').note,
  });
  assert.match(suggestedMirrorUrl('0.0.0.0', 8480, false, 'n').note ?? '', /--tls-cert/);
  assert.equal(suggestedMirrorUrl('0.0.0.0', 8443, true, 'n.example').url, 'https://n.example:8443');
});

test('a real `mirror serve` prints an add-mirror line whose URL add-mirror accepts', async () => {
  const repo = await makeMirrorRepo();
  await repo.publish('1.0.0', 1024);
  const child = spawn(
    process.execPath,
    [BINS.dchat, 'mirror', 'serve', '--dir', repo.dir, '--listen', '127.0.0.1:0'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString('utf8');
        const m = /add-mirror --url (\S+)/.exec(out);
        if (m) resolve(m[1] as string);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    assert.match(line, /^http:\/\/127\.0\.0\.1:\d+$/);
    const home = mkdtempSync(join(repo.base, 'home-'));
    const r = await runDchat([
      '--home',
      home,
      'update',
      'add-mirror',
      '--url',
      line,
      '--mirror-type',
      'https',
    ]);
    assert.equal(r.code, 0, r.stderr);
  } finally {
    child.kill('SIGTERM');
  }
});
