/**
 * `dchat governance` and `dchat-sign genesis` without a node: bad input is a coded error with the
 * right exit code, a pinned genesis is never replaced, and the node-backed commands say what is
 * missing.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runDchat } from '../download/fixture.ts';
import { key } from '../governance/fixtures.ts';

const ok = (r: { code: number; stdout: string; stderr: string }) => {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
};

test('dchat-sign genesis, governance init: defaults, refusals, exit codes', async () => {
  const { runBin } = await import('../helpers/cli.ts');
  const dir = await mkdtemp(join(tmpdir(), 'dchat-gov-cli-'));
  const home = join(dir, 'home');
  const rootKey = join(dir, 'root.key');
  assert.equal((await runBin('dchat-sign', ['keygen', '--out', rootKey])).code, 0);
  const holders = [key(), key()].map((k, i) => ({ public_key: k.pub, weight: 10 * (i + 1) }));
  const spec = join(dir, 'spec.json');
  await writeFile(spec, JSON.stringify({ network_id: 'dchat-cli', holders }));
  const sign = (out: string, s = spec) =>
    runBin('dchat-sign', ['genesis', '--spec', s, '--root-key', rootKey, '--out', out, '--json']);
  const made = await sign(join(dir, 'genesis.json'));
  assert.equal(made.code, 0, made.stderr);
  const genesis = JSON.parse(await readFile(join(dir, 'genesis.json'), 'utf8'));
  assert.equal(genesis.signed.params.quorum, '0.67');
  assert.equal(genesis.signed.params.voting_period_ms, 14 * 24 * 3600 * 1000);

  const init = ok(
    await runDchat(['--home', home, 'governance', 'init', '--genesis', join(dir, 'genesis.json'), '--json']),
  );
  assert.equal(init.network_id, 'dchat-cli');
  assert.equal(init.total_weight, 30);
  // The same genesis again: fine. Another one: refused (exit 2), the pinned one stays.
  ok(
    await runDchat(['--home', home, 'governance', 'init', '--genesis', join(dir, 'genesis.json'), '--json']),
  );
  await writeFile(spec, JSON.stringify({ network_id: 'dchat-other', holders }));
  assert.equal((await sign(join(dir, 'other.json'))).code, 0);
  const other = await runDchat(['--home', home, 'governance', 'init', '--genesis', join(dir, 'other.json')]);
  assert.equal(other.code, 2);
  assert.match(other.stderr, /E_CONFIG/);
  // A tampered genesis: exit 3.
  genesis.signed.holders[0].weight = 1000;
  await writeFile(join(dir, 'forged.json'), JSON.stringify(genesis));
  const forged = await runDchat([
    '--home',
    join(dir, 'h2'),
    'governance',
    'init',
    '--genesis',
    join(dir, 'forged.json'),
  ]);
  assert.equal(forged.code, 3);
  assert.match(forged.stderr, /E_SIGNATURE/);
  // A malformed spec is E_MALFORMED (exit 3); a bad flag value is exit 2.
  await writeFile(join(dir, 'bad.json'), '{"network_id":"X Y","holders":[]}');
  const bad = await sign(join(dir, 'x.json'), join(dir, 'bad.json'));
  assert.equal(bad.code, 3);
  const badOption = await runDchat([
    '--home',
    home,
    'governance',
    'vote',
    '--proposal',
    'zz',
    '--option',
    'maybe',
    '--key',
    rootKey,
  ]);
  assert.equal(badOption.code, 2);
  // No node running: the node-backed commands say so.
  const st = await runDchat(['--home', home, 'governance', 'status']);
  assert.notEqual(st.code, 0);
  assert.match(st.stderr, /error\[E_/);
});
