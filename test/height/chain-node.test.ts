/**
 * `dchat node start --height-source cometbft:URL --upgrade-api URL` on a real node process: the
 * node follows a (local) CometBFT RPC and Cosmos API server answering their documented JSON, and
 * `node status --json` shows the chain's height, its chain id and the scheduled x/upgrade plan.
 * Bad flag values are usage errors (exit 2) naming the flag.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { HeightStatus } from '../../src/node/heights.ts';
import { type NodeProcess, spawnNode, stopAll } from '../../src/testnet/process.ts';
import { makeHome, makeMirrorRepo } from '../download/fixture.ts';
import { dchat, describeRun } from '../helpers/cli.ts';
import { waitFor } from '../helpers/node-procs.ts';

let server: Server;
let base = '';
let height = 1000;
const nodes: NodeProcess[] = [];

before(async () => {
  server = createServer((req, res) => {
    const body =
      req.url === '/status'
        ? {
            jsonrpc: '2.0',
            id: -1,
            result: {
              node_info: { network: 'dchat-chain-7', version: '0.38.12' },
              sync_info: {
                latest_block_height: String(height),
                latest_block_time: '2026-12-06T05:00:00.123456789Z',
                catching_up: false,
              },
            },
          }
        : req.url === '/cosmos/upgrade/v1beta1/current_plan'
          ? {
              plan: {
                name: '1.1.0',
                time: '0001-01-01T00:00:00Z',
                height: '1200',
                info: '',
                upgraded_client_state: null,
              },
            }
          : { code: 5, message: 'Not Found', details: [] };
    res.writeHead(body && 'code' in body ? 404 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await stopAll(nodes);
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

test('a node follows a CometBFT chain height and shows its upgrade plan', { timeout: 120_000 }, async () => {
  const home = await makeHome(await makeMirrorRepo());
  const n = await spawnNode({
    name: 'chain-follower',
    home: home.home,
    role: 'user',
    args: [
      '--home',
      home.home,
      'node',
      'start',
      '--json',
      '--height-source',
      `cometbft:${base}`,
      '--upgrade-api',
      base,
    ],
  });
  nodes.push(n);
  const status = async () => {
    const r = await dchat(['--home', home.home, 'node', 'status', '--json'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, describeRun(r));
    return (JSON.parse(r.stdout) as { height: HeightStatus }).height;
  };
  const h = await waitFor(
    'the chain height in node status',
    async () => {
      const s = await status();
      return s.height === 1000 && s;
    },
    60_000,
  );
  assert.equal(h.source, 'cometbft');
  assert.equal(h.time_ms, Date.UTC(2026, 11, 6, 5, 0, 0, 123));
  assert.equal(h.chain?.chain_id, 'dchat-chain-7');
  assert.deepEqual(h.chain?.plan, { name: '1.1.0', height: 1200, info: '' });
  height = 1005;
  await waitFor('the next height', async () => (await status()).height === 1005, 60_000);
});

test('bad --height-source / --upgrade-api / --validator-key values are usage errors', async () => {
  const home = await makeHome(await makeMirrorRepo());
  for (const args of [
    ['--height-source', 'tendermint:http://127.0.0.1:1'],
    ['--height-source', 'cometbft:http://rpc.example.com:26657'],
    ['--upgrade-api', 'http://127.0.0.1:1317'],
    ['--height-source', `cometbft:${base}`, '--upgrade-api', 'ftp://127.0.0.1/'],
    ['--validator-key', '/nonexistent.key'],
  ]) {
    const r = await dchat(['--home', home.home, 'node', 'start', '--json', ...args], { timeoutMs: 60_000 });
    assert.equal(r.code, 2, `${args.join(' ')}: ${describeRun(r)}`);
    assert.match(r.stderr, /E_USAGE/, args.join(' '));
  }
});
