/**
 * `dchat node start` on a busy port and `node status --json` (real processes): the busy port is one
 * `error[E_ADDR_IN_USE]` line naming the address (no stack, no libp2p configuration advice), exit
 * 1; the status document uses one key style, snake_case, like the seed's JSON.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type NodeProcess, spawnNode, stopAll } from '../../src/testnet/process.ts';
import { runBin } from '../helpers/cli.ts';

/** Field names of a JSON document, skipping the keys of data maps (peer ids, message types). */
function fieldNames(doc: unknown, path = '', out: string[] = []): string[] {
  if (Array.isArray(doc)) for (const d of doc) fieldNames(d, path, out);
  else if (doc && typeof doc === 'object')
    for (const [k, v] of Object.entries(doc)) {
      if (/^(12D3Koo|Qm)/.test(k)) continue;
      out.push(`${path}${k}`);
      fieldNames(v, `${path}${k}.`, out);
    }
  return out;
}

describe('node start on a busy port; node status key style', () => {
  let dir: string;
  const procs: NodeProcess[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dchat-listen-'));
  });
  after(async () => {
    await stopAll(procs);
    await rm(dir, { recursive: true, force: true });
  });

  test('busy --listen: E_ADDR_IN_USE, one line; status --json is snake_case throughout', async () => {
    const home = join(dir, 'a');
    await mkdir(home, { recursive: true });
    const a = await spawnNode({
      name: 'a',
      home,
      role: 'user',
      args: ['--home', home, 'node', 'start', '--json'],
    });
    procs.push(a);
    const addr = (a.addresses[0] as string).replace(/\/p2p\/.*$/, '');
    const r = await runBin('dchat', ['--home', join(dir, 'b'), 'node', 'start', '--listen', addr]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr,
      `error[E_ADDR_IN_USE]: --listen ${addr}: address already in use (another process listens there; choose another port, or /tcp/0 for any free one)\n`,
    );
    assert.doesNotMatch(r.stderr, /faultTolerance|\n\s+at /);

    const st = await runBin('dchat', ['--home', home, 'node', 'status', '--json']);
    assert.equal(st.code, 0, st.stderr);
    const names = fieldNames(JSON.parse(st.stdout));
    assert.ok(names.includes('stats.adapter.forged_announcements'), names.join(' '));
    assert.deepEqual(
      names.filter((n) => !/^[a-z0-9_.]+$/.test(n)),
      [],
      'every field name is snake_case',
    );
  });
});
