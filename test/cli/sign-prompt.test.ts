/**
 * The terminal prompt for key passphrases, through a real pseudo-terminal (util-linux `script`):
 * keygen --encrypt asks twice with echo off, a mismatch is E_PASSPHRASE; signing with an encrypted
 * key asks once; a wrong answer is E_PASSPHRASE; the passphrase never appears in the output.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BINS } from '../helpers/cli.ts';
import { makeTempDir, packageBytes } from '../helpers/repo.ts';
import { requireTool } from '../helpers/tools.ts';

const SECRET = 'tty secret phrase';
let dir: { path: string; cleanup(): Promise<void> };

/** Runs dchat-sign ARGS on a pty; answers each "passphrase" prompt with the next of `answers`. */
function onTerminal(args: string[], answers: string[]): Promise<{ code: number | null; output: string }> {
  const quoted = [process.execPath, BINS['dchat-sign'], ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`);
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', quoted.join(' '), '/dev/null'], {
      cwd: dir.path,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'dumb' },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 30_000,
    });
    let output = '';
    let asked = 0;
    child.stdout.on('data', (b: Buffer) => {
      output += b.toString('utf8');
      const prompts = output.match(/[Pp]assphrase for [^\n]*: /g)?.length ?? 0;
      while (asked < prompts) {
        child.stdin.write(`${answers[asked] ?? ''}\r`);
        asked++;
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

before(async () => {
  dir = await makeTempDir('dchat-cli-prompt-');
  await writeFile(join(dir.path, 'dchat-1.0.0-linux-x64'), packageBytes('prompt', 10_000));
});
after(() => dir.cleanup());

describe('passphrase prompt on a terminal', { skip: requireTool('script') }, () => {
  test('keygen --encrypt asks twice (no echo) and writes an encrypted key', async () => {
    const r = await onTerminal(['keygen', '--out', 'tty.key', '--encrypt'], [SECRET, SECRET]);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /Passphrase for .*tty\.key: /);
    assert.match(r.output, /Repeat passphrase for .*tty\.key: /);
    assert.doesNotMatch(r.output, new RegExp(SECRET), 'the passphrase is not echoed');
    assert.match(await readFile(join(dir.path, 'tty.key'), 'utf8'), /ENCRYPTED PRIVATE KEY/);
  });

  test('keygen --encrypt with two different answers: E_PASSPHRASE, no key written', async () => {
    const r = await onTerminal(['keygen', '--out', 'mismatch.key', '--encrypt'], [SECRET, `${SECRET}x`]);
    assert.equal(r.code, 2, r.output);
    assert.match(r.output, /error\[E_PASSPHRASE\]: the passphrases do not match/);
    await assert.rejects(stat(join(dir.path, 'mismatch.key')));
  });

  test('signing asks once; the right answer signs, a wrong one is E_PASSPHRASE', async () => {
    const args = (out: string) => ['--key', 'tty.key', '--input', 'dchat-1.0.0-linux-x64', '--output', out];
    const good = await onTerminal(args('good.sig'), [SECRET]);
    assert.equal(good.code, 0, good.output);
    assert.ok((await stat(join(dir.path, 'good.sig'))).isFile());
    const bad = await onTerminal(args('bad.sig'), ['not it at all']);
    assert.equal(bad.code, 2, bad.output);
    assert.match(bad.output, /error\[E_PASSPHRASE\]: .*wrong passphrase/);
    await assert.rejects(stat(join(dir.path, 'bad.sig')));
  });
});
