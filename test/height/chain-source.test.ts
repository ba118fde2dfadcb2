/**
 * The chain adapter (height/chain-source.ts) against a local HTTP server that answers as a
 * CometBFT node's RPC (`/status`, JSON-RPC 2.0 envelope, int64 as strings, RFC 3339 nanosecond
 * times) and a Cosmos SDK API server (`/cosmos/upgrade/v1beta1/current_plan`) do, and as broken
 * or hostile ones do: every failure is a coded error, never a crash, and the last good height stays.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { DchatError } from '../../src/errors.ts';
import { ChainHeightSource, MAX_ANSWER_BYTES } from '../../src/height/chain-source.ts';

/** CometBFT v0.38 `/status`, as its RPC documentation shows it. */
function cometStatus(height: number, time: string, catchingUp = false) {
  return {
    jsonrpc: '2.0',
    id: -1,
    result: {
      node_info: {
        protocol_version: { p2p: '8', block: '11', app: '0' },
        id: '5576458aef205977e18fd50b274e9b5d9014525a',
        listen_addr: 'tcp://0.0.0.0:26656',
        network: 'dchat-chain-1',
        version: '0.38.12',
        channels: '40202122233038606100',
        moniker: 'validator-1',
        other: { tx_index: 'on', rpc_address: 'tcp://0.0.0.0:26657' },
      },
      sync_info: {
        latest_block_hash: '50F03C0EAACA8BCA7F9C14189ACE9C05A9A1BBB5268DB63DC6A3C848D1ECFD27',
        latest_app_hash: '2316CFF7644219F4F15BEE456435F280E2B38955EEA6D4617CCB6D7ABF781C22',
        latest_block_height: String(height),
        latest_block_time: time,
        earliest_block_hash: '08E0C2B4BE2E8A4C7F3B0B5E2B1F6A1B0C1D2E3F405060708090A0B0C0D0E0F0',
        earliest_app_hash: 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855',
        earliest_block_height: '1',
        earliest_block_time: '2023-01-01T00:00:00Z',
        catching_up: catchingUp,
      },
      validator_info: {
        address: '5D6A51A2C2A4F1E8F5C5B3D0A8E4F2C1B0A9D8E7',
        pub_key: { type: 'tendermint/PubKeyEd25519', value: 'A6DFIo3dG6kCz8JjVn7ALHeYpvhMyNP+P1dkL4sQH4E=' },
        voting_power: '10',
      },
    },
  };
}

/** x/upgrade `current_plan` through the gRPC gateway (int64 as a string, unset time as year 1). */
function currentPlan(name: string, height: number) {
  return {
    plan: {
      name,
      time: '0001-01-01T00:00:00Z',
      height: String(height),
      info: '{"binaries":{"linux/amd64":"https://example.invalid/dchat-1.1.0.tar.gz"}}',
      upgraded_client_state: null,
    },
  };
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let server: Server;
let base = '';
let handler: Handler = (_req, res) => res.end();

before(async () => {
  server = createServer((req, res) => handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function json(res: ServerResponse, body: unknown, status = 200) {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.byteLength });
  res.end(bytes);
}

/** A chain at `height` with `plan`, served on both APIs of the one test server. */
function chainAt(height: number, plan: unknown = { plan: null }): Handler {
  return (req, res) => {
    if (req.url === '/status') return json(res, cometStatus(height, '2026-12-06T04:05:06.123456789Z'));
    if (req.url === '/cosmos/upgrade/v1beta1/current_plan') return json(res, plan);
    json(res, { code: 5, message: 'Not Found', details: [] }, 404);
  };
}

async function pollError(src: ChainHeightSource): Promise<DchatError> {
  try {
    await src.poll();
  } catch (err) {
    assert.ok(err instanceof DchatError, `not coded: ${err}`);
    return err;
  }
  assert.fail('poll should have failed');
}

test('height and time from /status; the scheduled upgrade from current_plan', async () => {
  handler = chainAt(5_622_165, currentPlan('1.1.0', 5_700_000));
  const src = new ChainHeightSource({ rpc: base, upgradeApi: base });
  assert.equal(src.current(), null, 'nothing before the first answer');
  await src.poll();
  assert.deepEqual(src.current(), { height: 5_622_165, time_ms: Date.UTC(2026, 11, 6, 4, 5, 6, 123) });
  assert.deepEqual(src.plan(), {
    name: '1.1.0',
    height: 5_700_000,
    info: '{"binaries":{"linux/amd64":"https://example.invalid/dchat-1.1.0.tar.gz"}}',
  });
  assert.equal(src.chainId, 'dchat-chain-1');
  assert.equal(src.catchingUp, false);

  handler = chainAt(5_622_166);
  await src.poll();
  assert.equal(src.current()?.height, 5_622_166);
  assert.equal(src.plan(), null, '{"plan": null}: nothing scheduled');

  // A load-balanced RPC answering from a node one block behind: the height never goes back.
  handler = chainAt(5_622_160);
  await src.poll();
  assert.equal(src.current()?.height, 5_622_166);
  assert.equal(src.wentBack, 1);
});

test('start() polls until stop()', async () => {
  let h = 10;
  handler = (req, res) =>
    req.url === '/status' ? json(res, cometStatus(h++, '2026-12-06T00:00:00Z')) : res.end();
  const src = new ChainHeightSource({ rpc: `${base}/`, pollMs: 20 });
  src.start();
  const t0 = Date.now();
  while ((src.current()?.height ?? 0) < 13 && Date.now() - t0 < 5000)
    await new Promise((r) => setTimeout(r, 10));
  src.stop();
  assert.ok((src.current()?.height ?? 0) >= 13, `height ${src.current()?.height}`);
});

test('broken and hostile answers are coded errors; the last good height stays', async () => {
  handler = chainAt(100);
  const src = new ChainHeightSource({ rpc: base, upgradeApi: base, timeoutMs: 300 });
  await src.poll();
  const cases: [string, Handler, string][] = [
    ['not JSON', (_q, res) => res.end('<html>hello</html>'), 'E_MALFORMED'],
    [
      'no sync_info',
      (_q, res) => json(res, { jsonrpc: '2.0', id: -1, result: { node_info: {} } }),
      'E_MALFORMED',
    ],
    [
      'height as a number (not the documented string)',
      (_q, res) => {
        const s = cometStatus(101, '2026-12-06T00:00:00Z');
        (s.result.sync_info as Record<string, unknown>).latest_block_height = 101;
        json(res, s);
      },
      'E_MALFORMED',
    ],
    ['negative height', (_q, res) => json(res, cometStatus(-1, '2026-12-06T00:00:00Z')), 'E_MALFORMED'],
    ['bad time', (_q, res) => json(res, cometStatus(101, 'yesterday')), 'E_MALFORMED'],
    [
      'height past 2^53',
      (_q, res) => {
        const s = cometStatus(1, '2026-12-06T00:00:00Z');
        s.result.sync_info.latest_block_height = '9223372036854775807';
        json(res, s);
      },
      'E_MALFORMED',
    ],
    [
      'JSON-RPC error',
      (_q, res) =>
        json(
          res,
          { jsonrpc: '2.0', id: -1, error: { code: -32603, message: 'Internal error', data: 'x' } },
          500,
        ),
      'E_HTTP',
    ],
    [
      'HTTP 502 from a proxy',
      (_q, res) => {
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end('<html>Bad Gateway</html>');
      },
      'E_HTTP',
    ],
    [
      'oversized answer with a Content-Length',
      (_q, res) =>
        json(res, { ...cometStatus(101, '2026-12-06T00:00:00Z'), pad: 'x'.repeat(MAX_ANSWER_BYTES) }),
      'E_TOO_LARGE',
    ],
    [
      'endless chunked answer',
      (_q, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const pump = () => {
          while (res.write(chunk)) if (res.destroyed) return;
          res.once('drain', pump);
        };
        res.on('error', () => {});
        pump();
      },
      'E_TOO_LARGE',
    ],
    ['no answer at all', () => {}, 'E_TIMEOUT'],
  ];
  for (const [what, h, code] of cases) {
    handler = h;
    const e = await pollError(src);
    assert.equal(e.code, code, `${what}: ${e.code} ${e.message}`);
    assert.equal(src.lastError?.code, code);
    assert.equal(src.current()?.height, 100, `${what}: the last good height stays`);
  }

  // The upgrade API's own failures.
  const planCases: [string, unknown, number, string][] = [
    ['gateway error', { code: 12, message: 'Not Implemented', details: [] }, 501, 'E_HTTP'],
    ['plan without height', { plan: { name: 'v2', info: '' } }, 200, 'E_MALFORMED'],
    ['no plan field', { plans: [] }, 200, 'E_MALFORMED'],
  ];
  for (const [what, body, status, code] of planCases) {
    handler = (req, res) =>
      req.url === '/status' ? json(res, cometStatus(101, '2026-12-06T00:00:00Z')) : json(res, body, status);
    const e = await pollError(src);
    assert.equal(e.code, code, `${what}: ${e.message}`);
  }
  handler = chainAt(102);
  await src.poll();
  assert.equal(src.lastError, undefined, 'a good answer clears the error');
  assert.equal(src.current()?.height, 102);
});

test('unreachable node: E_NETWORK; URLs: https anywhere, http on loopback only', async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const e = await pollError(new ChainHeightSource({ rpc: `http://127.0.0.1:${port}` }));
  assert.equal(e.code, 'E_NETWORK');
  for (const bad of [
    'http://rpc.example.com:26657',
    'ftp://127.0.0.1/',
    'not a url',
    'http://u:p@127.0.0.1/',
  ])
    assert.throws(
      () => new ChainHeightSource({ rpc: bad }),
      (err: DchatError) => err.code === 'E_CONFIG',
      bad,
    );
  assert.doesNotThrow(
    () => new ChainHeightSource({ rpc: 'https://rpc.example.com', upgradeApi: 'http://[::1]:1317' }),
  );
});
