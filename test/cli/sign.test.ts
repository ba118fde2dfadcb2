/**
 * `dchat-sign keygen` and `dchat-sign --key --input --output`, end to end: the key pair on disk
 * (private key mode 0600, PEM that node:crypto and openssl read), the .sig document it writes
 * (a statement binding name, version, platform, size and both hashes, signed by the key), and the
 * usage errors (exit 2, the flag named).
 */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { rawPublicKeyHex } from '../../src/crypto/ed25519.ts';
import { digestBytes } from '../../src/crypto/hash.ts';
import { buildStatement, parseSigDocument, verifyStatementSignature } from '../../src/trust/statement.ts';
import { dchatSign, describeRun, runInProcess } from '../helpers/cli.ts';
import { makeTempDir, packageBytes } from '../helpers/repo.ts';

const PKG = packageBytes('sign 1.0.0', 123_456);
let dir: { path: string; cleanup(): Promise<void> };
const sign = (args: string[]) => dchatSign(args, { cwd: dir.path });

before(async () => {
  dir = await makeTempDir('dchat-cli-sign-');
  await writeFile(join(dir.path, 'dchat-1.0.0-linux-x64'), PKG);
  await writeFile(join(dir.path, 'package.bin'), PKG);
});
after(() => dir.cleanup());

describe('dchat-sign', () => {
  test('keygen writes the private key (mode 0600) and the public key, both PEM', async () => {
    const r = await sign(['keygen', '--out', 'release.key']);
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stdout, /🔑 Wrote .*release\.key \(private, mode 0600\)/);
    const priv = join(dir.path, 'release.key');
    assert.equal((await stat(priv)).mode & 0o777, 0o600);
    const key = createPrivateKey(await readFile(priv));
    assert.equal(key.asymmetricKeyType, 'ed25519');
    const pub = createPublicKey(await readFile(`${priv}.pub`));
    assert.equal(rawPublicKeyHex(pub), rawPublicKeyHex(key));
    assert.match(r.stdout, new RegExp(`Public: ${rawPublicKeyHex(key)}`));
  });

  test('keygen --json: exactly one JSON document on stdout', async () => {
    const r = await sign(['keygen', '--out', 'json.key', '--json']);
    assert.equal(r.code, 0, describeRun(r));
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.ok, true);
    assert.match(doc.keyid, /^[0-9a-f]{64}$/);
    assert.equal(doc.public, rawPublicKeyHex(createPrivateKey(await readFile(join(dir.path, 'json.key')))));
  });

  test('keygen refuses to overwrite a key: exit 2 naming --out, key unchanged', async () => {
    const before = await readFile(join(dir.path, 'release.key'));
    const r = await sign(['keygen', '--out', 'release.key']);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /^error\[E_USAGE\]: --out: /m);
    assert.ok((await readFile(join(dir.path, 'release.key'))).equals(before));
  });

  test('sign: the .sig binds name, version, platform, size and both hashes, and verifies with the key', async () => {
    const r = await sign(['--key', 'release.key', '--input', 'dchat-1.0.0-linux-x64', '--output', 'out.sig']);
    assert.equal(r.code, 0, describeRun(r));
    const doc = parseSigDocument(await readFile(join(dir.path, 'out.sig')));
    const d = digestBytes(PKG);
    const statement = buildStatement('1.0.0', 'linux-x64', d);
    assert.deepEqual(doc.statement, statement);
    const pub = rawPublicKeyHex(createPrivateKey(await readFile(join(dir.path, 'release.key'))));
    verifyStatementSignature(statement, doc.signature, doc.signer_pubkey, new Set([pub]));
    assert.match(r.stdout, new RegExp(`SHA-256: ${d.sha256}`));
    assert.match(r.stdout, new RegExp(`BLAKE3:  ${d.blake3}`));
  });

  test('sign a file without the naming convention with --version/--platform', async () => {
    const r = await sign([
      '--key',
      'release.key',
      '--input',
      'package.bin',
      '--output',
      'explicit.sig',
      '--version',
      '2.0.0-rc.1',
      '--platform',
      'darwin-arm64',
    ]);
    assert.equal(r.code, 0, describeRun(r));
    const doc = parseSigDocument(await readFile(join(dir.path, 'explicit.sig')));
    assert.equal(doc.statement.name, 'dchat-2.0.0-rc.1-darwin-arm64');
  });
});

describe('dchat-sign usage errors', () => {
  const usage: [string, string[], string][] = [
    [
      'no version in the file name',
      ['--key', 'release.key', '--input', 'package.bin', '--output', 'x.sig'],
      '--version',
    ],
    ['missing --key', ['--input', 'dchat-1.0.0-linux-x64', '--output', 'x.sig'], '--key'],
    ['missing --output', ['--key', 'release.key', '--input', 'dchat-1.0.0-linux-x64'], '--output'],
    [
      'unreadable key file',
      ['--key', 'nope.key', '--input', 'dchat-1.0.0-linux-x64', '--output', 'x.sig'],
      '--key',
    ],
    [
      'a key that is not PEM',
      ['--key', 'package.bin', '--input', 'dchat-1.0.0-linux-x64', '--output', 'x.sig'],
      '--key',
    ],
    [
      'bad --version',
      [
        '--key',
        'release.key',
        '--input',
        'package.bin',
        '--output',
        'x.sig',
        '--version',
        'v1',
        '--platform',
        'linux-x64',
      ],
      '--version',
    ],
    [
      'bad --platform',
      [
        '--key',
        'release.key',
        '--input',
        'package.bin',
        '--output',
        'x.sig',
        '--version',
        '1.0.0',
        '--platform',
        'Linux X64',
      ],
      '--platform',
    ],
    [
      'missing input',
      ['--key', 'release.key', '--input', 'dchat-9.9.9-linux-x64', '--output', 'x.sig'],
      '--input',
    ],
  ];
  for (const [what, args, flag] of usage) {
    test(`usage error (${what}): exit 2, names ${flag}, writes no .sig`, async () => {
      const r = await runInProcess('dchat-sign', args, { cwd: dir.path });
      assert.equal(r.code, 2, describeRun(r));
      assert.match(r.stderr, new RegExp(`^error\\[E_USAGE\\]: ${flag}: `, 'm'));
      await assert.rejects(stat(join(dir.path, 'x.sig')));
    });
  }

  test('end to end: a usage error of the real executable exits 2 with one error line, no stack', async () => {
    const r = await sign(['--key', 'release.key', '--input', 'package.bin', '--output', 'x.sig']);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(
      r.stderr,
      /^error\[E_USAGE\]: --version: cannot parse version and platform from 'package.bin'/,
    );
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});
