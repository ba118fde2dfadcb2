/**
 * Private keys encrypted at rest: `dchat-sign keygen --encrypt` writes PKCS#8 "ENCRYPTED PRIVATE
 * KEY" PEM (scrypt + AES-256-CBC) that openssl opens with the same passphrase; every command that
 * takes `--key` opens it with `--passphrase-file`, env DCHAT_KEY_PASSPHRASE, or (on a terminal) a
 * prompt; a wrong or missing passphrase is exit 2 E_PASSPHRASE with nothing written. Keys that
 * openssl encrypted are read too.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { rawPublicKeyHex } from '../../src/crypto/ed25519.ts';
import { parseSigDocument, verifyStatementSignature } from '../../src/trust/statement.ts';
import { type CliResult, dchat, dchatSign, describeRun, publishArgs, runInProcess } from '../helpers/cli.ts';
import { makeTempDir, packageBytes } from '../helpers/repo.ts';
import { requireTool } from '../helpers/tools.ts';

const PASS = 'correct horse battery staple';
let dir: { path: string; cleanup(): Promise<void> };
const sign = (args: string[], env?: Record<string, string>) => dchatSign(args, { cwd: dir.path, env });
const local = (bin: 'dchat' | 'dchat-sign', args: string[], env?: Record<string, string>) =>
  runInProcess(bin, args, { cwd: dir.path, env });
const signArgs = (key: string, out: string) => [
  '--key',
  key,
  '--input',
  'dchat-1.0.0-linux-x64',
  '--output',
  out,
];
function assertPassphraseError(r: CliResult, re: RegExp) {
  assert.equal(r.code, 2, describeRun(r));
  assert.match(r.stderr, /^error\[E_PASSPHRASE\]: /m);
  assert.match(r.stderr, re);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}
const exists = (p: string) =>
  stat(join(dir.path, p)).then(
    () => true,
    () => false,
  );

before(async () => {
  dir = await makeTempDir('dchat-cli-enc-');
  await writeFile(join(dir.path, 'dchat-1.0.0-linux-x64'), packageBytes('enc 1.0.0', 50_000));
  await writeFile(join(dir.path, 'pass'), `${PASS}\n`, { mode: 0o600 });
  await writeFile(join(dir.path, 'wrong'), 'not the passphrase\n', { mode: 0o600 });
});
after(() => dir.cleanup());

describe('dchat-sign keygen --encrypt', () => {
  test('writes an ENCRYPTED PRIVATE KEY (mode 0600) and the plain .pub', async () => {
    const r = await sign(['keygen', '--out', 'enc.key', '--encrypt', '--passphrase-file', 'pass', '--json']);
    assert.equal(r.code, 0, describeRun(r));
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.encrypted, true);
    const pem = await readFile(join(dir.path, 'enc.key'), 'utf8');
    assert.match(pem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    assert.doesNotMatch(pem, /BEGIN PRIVATE KEY/);
    assert.equal((await stat(join(dir.path, 'enc.key'))).mode & 0o777, 0o600);
    assert.equal(rawPublicKeyHex(createPublicKey(await readFile(join(dir.path, 'enc.key.pub')))), doc.public);
  });

  test('openssl opens it with the passphrase (same public key) and refuses a wrong one', {
    skip: requireTool('openssl'),
  }, async () => {
    const pub = execFileSync('openssl', ['pkey', '-in', 'enc.key', '-passin', 'file:pass', '-pubout'], {
      cwd: dir.path,
      encoding: 'utf8',
    });
    assert.equal(pub, await readFile(join(dir.path, 'enc.key.pub'), 'utf8'));
    const asn1 = execFileSync('openssl', ['asn1parse', '-in', 'enc.key'], {
      cwd: dir.path,
      encoding: 'utf8',
    });
    assert.match(asn1, /PBES2/);
    assert.match(asn1, /scrypt/);
    assert.match(asn1, /aes-256-cbc/);
    const bad = spawnSync('openssl', ['pkey', '-in', 'enc.key', '-passin', 'file:wrong', '-noout'], {
      cwd: dir.path,
    });
    assert.notEqual(bad.status, 0);
  });

  test('env DCHAT_KEY_PASSPHRASE works for keygen too', async () => {
    const r = await local('dchat-sign', ['keygen', '--out', 'env.key', '--encrypt'], {
      DCHAT_KEY_PASSPHRASE: PASS,
    });
    assert.equal(r.code, 0, describeRun(r));
    assert.match(await readFile(join(dir.path, 'env.key'), 'utf8'), /ENCRYPTED PRIVATE KEY/);
  });

  test('no passphrase source (no terminal) / too short / --passphrase-file without --encrypt: refused, no key written', async () => {
    assertPassphraseError(
      await sign(['keygen', '--out', 'none.key', '--encrypt']),
      /--passphrase-file|DCHAT_KEY_PASSPHRASE/,
    );
    assert.equal(await exists('none.key'), false);
    await writeFile(join(dir.path, 'short'), 'abc\n');
    assertPassphraseError(
      await local('dchat-sign', ['keygen', '--out', 'short.key', '--encrypt', '--passphrase-file', 'short']),
      /at least 8 characters/,
    );
    assert.equal(await exists('short.key'), false);
    const r = await local('dchat-sign', ['keygen', '--out', 'plain.key', '--passphrase-file', 'pass']);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /^error\[E_USAGE\]: --passphrase-file: /m);
  });
});

describe('an encrypted --key, everywhere a key is read', () => {
  test('dchat-sign: right passphrase from a file signs; the signature verifies', async () => {
    const r = await sign([...signArgs('enc.key', 'a.sig'), '--passphrase-file', 'pass']);
    assert.equal(r.code, 0, describeRun(r));
    const doc = parseSigDocument(await readFile(join(dir.path, 'a.sig')));
    const pub = rawPublicKeyHex(createPublicKey(await readFile(join(dir.path, 'enc.key.pub'))));
    // Throws unless the signature verifies under the key's public half.
    verifyStatementSignature(doc.statement, doc.signature, doc.signer_pubkey, new Set([pub]));
  });

  test('dchat-sign: right passphrase from DCHAT_KEY_PASSPHRASE signs', async () => {
    const r = await sign(signArgs('enc.key', 'b.sig'), { DCHAT_KEY_PASSPHRASE: PASS });
    assert.equal(r.code, 0, describeRun(r));
  });

  test('wrong passphrase (file or env): exit 2 E_PASSPHRASE, no signature written', async () => {
    assertPassphraseError(
      await sign([...signArgs('enc.key', 'c.sig'), '--passphrase-file', 'wrong']),
      /enc\.key: wrong passphrase/,
    );
    assertPassphraseError(
      await local('dchat-sign', signArgs('enc.key', 'c.sig'), { DCHAT_KEY_PASSPHRASE: 'nope nope' }),
      /wrong passphrase/,
    );
    assert.equal(await exists('c.sig'), false);
  });

  test('missing passphrase with no terminal: exit 2 E_PASSPHRASE naming the ways to give one', async () => {
    assertPassphraseError(
      await sign(signArgs('enc.key', 'd.sig')),
      /--passphrase-file FILE or set DCHAT_KEY_PASSPHRASE/,
    );
    assert.equal(await exists('d.sig'), false);
  });

  test('--passphrase-file that cannot be read: exit 2 naming the flag', async () => {
    const r = await local('dchat-sign', [...signArgs('enc.key', 'e.sig'), '--passphrase-file', 'nowhere']);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /^error\[E_USAGE\]: --passphrase-file: /m);
  });

  test('release init and publish with an encrypted key; wrong passphrase -> E_PASSPHRASE as the --json error', async () => {
    const init = await dchat(
      ['release', 'init', '--out', 'repo', '--key', 'enc.key', '--passphrase-file', 'pass'],
      {
        cwd: dir.path,
      },
    );
    assert.equal(init.code, 0, describeRun(init));
    const pub = (extra: string[], env?: Record<string, string>) =>
      local(
        'dchat',
        [
          ...publishArgs({
            package: 'dchat-1.0.0-linux-x64',
            version: '1.0.0',
            platform: 'linux-x64',
            out: 'repo',
            key: 'enc.key',
          }),
          ...extra,
        ],
        env,
      );
    const wrong = await pub(['--passphrase-file', 'wrong', '--json']);
    assertPassphraseError(wrong, /wrong passphrase/);
    assert.equal(JSON.parse(wrong.stdout).error.code, 'E_PASSPHRASE');
    assert.equal(await exists('repo/metadata/2.targets.json'), false);
    const r = await pub([], { DCHAT_KEY_PASSPHRASE: PASS });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(await exists('repo/metadata/2.targets.json'), true);
  });
});

describe('keys that openssl encrypted', { skip: requireTool('openssl') }, () => {
  for (const [what, flags] of [
    ['scrypt (openssl pkcs8 -scrypt)', ['-scrypt']],
    ['PBKDF2 + AES-256-CBC (openssl pkcs8 -v2 aes-256-cbc)', ['-v2', 'aes-256-cbc']],
  ] as const) {
    test(`${what}: dchat-sign signs with it`, async () => {
      const name = `ossl-${flags[0].replace(/\W/g, '')}.key`;
      execFileSync(
        'sh',
        [
          '-c',
          `umask 077; openssl genpkey -algorithm ed25519 | openssl pkcs8 -topk8 ${flags.join(' ')} -passout file:pass -out ${name}`,
        ],
        { cwd: dir.path },
      );
      const r = await local('dchat-sign', [...signArgs(name, `${name}.sig`), '--passphrase-file', 'pass']);
      assert.equal(r.code, 0, describeRun(r));
      assertPassphraseError(
        await local('dchat-sign', [...signArgs(name, `${name}.bad.sig`), '--passphrase-file', 'wrong']),
        /wrong passphrase/,
      );
    });
  }
});
