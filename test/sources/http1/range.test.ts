/**
 * The lean HTTP/1.1 body path (src/sources/http1/range.ts) against a scripted raw server on
 * loopback: every framing (Content-Length, chunked, close), interim answers, kept-alive connections
 * and stale ones, bytes past the body, odd heads, and answers split at any byte (property test).
 * The TLS side runs against real nginx in https.test.ts and the download tests.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { HttpsSource } from '../../../src/sources/https.ts';
import { assertCode } from '../../helpers/repo.ts';
import { split } from './split.ts';

const BODY = randomBytes(300_000);
/** In a script: the server closes the connection here. */
const END = '\u0000end';

/** What the server answers to one request: raw pieces written with a pause between them. */
type Script = (req: { range: [number, number]; n: number }) => (Buffer | string | number)[] | 'close';

interface RawServer {
  url: string;
  connections: number;
  requests: number;
  script: Script;
  stop(): Promise<void>;
}

async function startRawServer(): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const state: RawServer = {
    url: '',
    connections: 0,
    requests: 0,
    script: ({ range: [a, b] }) => [head206(a, b), BODY.subarray(a, b + 1)],
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server: Server = createServer((sock) => {
    state.connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = '';
    sock.on('data', async (d) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const reqHead = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const m = /range: bytes=(\d+)-(\d+)/i.exec(reqHead);
        const range: [number, number] = m ? [Number(m[1]), Number(m[2])] : [0, BODY.byteLength - 1];
        const out = state.script({ range, n: state.requests++ });
        if (out === 'close') {
          sock.destroy();
          return;
        }
        for (const piece of out) {
          if (sock.destroyed) return;
          if (piece === END) {
            sock.end();
            return;
          }
          if (typeof piece === 'number') {
            await new Promise((r) => setTimeout(r, piece));
            continue;
          }
          sock.write(piece);
          await new Promise((r) => setImmediate(r));
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  state.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return state;
}

function head206(a: number, b: number, extra = ''): string {
  return `HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ${a}-${b}/${BODY.byteLength}\r\nContent-Length: ${b - a + 1}\r\n${extra}\r\n`;
}

function chunked(data: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  for (const n of sizes) {
    if (off >= data.byteLength) break;
    const part = data.subarray(off, off + n);
    out.push(Buffer.from(`${part.byteLength.toString(16)};ext=1\r\n`), part, Buffer.from('\r\n'));
    off += part.byteLength;
  }
  if (off < data.byteLength) {
    const part = data.subarray(off);
    out.push(Buffer.from(`${part.byteLength.toString(16)}\r\n`), part, Buffer.from('\r\n'));
  }
  out.push(Buffer.from('0\r\nX-Trailer: 1\r\n\r\n'));
  return out;
}

describe('lean HTTP/1.1 range bodies', () => {
  let srv: RawServer;
  before(async () => {
    srv = await startRawServer();
  });
  after(async () => {
    await srv?.stop();
  });

  const source = (o: { headersTimeoutMs?: number; bodyTimeoutMs?: number } = {}) =>
    new HttpsSource({ url: srv.url, pieceBytes: 64 * 1024, ...o });
  const req = (start: number, end: number) => ({
    target: 'dchat-1.0.0-linux-x64',
    sha256: 'a'.repeat(64),
    start,
    end,
    maxBytes: end - start,
  });
  const fetch = (s: HttpsSource, a: number, b: number) => s.fetchRange(req(a, b));

  test('Content-Length bodies on one kept-alive connection', async () => {
    srv.script = ({ range: [a, b] }) => [head206(a, b), BODY.subarray(a, b + 1)];
    srv.connections = 0;
    const s = source();
    try {
      for (const [a, b] of [
        [0, 1000],
        [1000, 250_000],
        [250_000, BODY.byteLength],
      ] as const)
        assert.deepEqual(Buffer.from(await fetch(s, a, b)), BODY.subarray(a, b));
      assert.equal(srv.connections, 1, 'one connection carried all three requests');
    } finally {
      await s.close();
    }
  });

  test('a kept-alive connection the server closed is retried once on a fresh one', async () => {
    srv.script = ({ range: [a, b], n }) => (n === 1 ? 'close' : [head206(a, b), BODY.subarray(a, b + 1)]);
    srv.requests = 0;
    srv.connections = 0;
    const s = source();
    try {
      assert.deepEqual(Buffer.from(await fetch(s, 0, 10)), BODY.subarray(0, 10));
      assert.deepEqual(Buffer.from(await fetch(s, 10, 20)), BODY.subarray(10, 20));
      assert.equal(srv.connections, 2);
      // A fresh connection that closes without an answer is an error, not a retry loop.
      srv.script = () => 'close';
      await s.close();
      await assertCode(() => fetch(source(), 0, 10), 'E_NETWORK');
    } finally {
      await s.close();
    }
  });

  test('chunked bodies, interim answers and close-framed bodies', async () => {
    const s = source();
    try {
      srv.script = ({ range: [a, b] }) => [
        'HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n',
        `HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ${a}-${b}/${BODY.byteLength}\r\nTransfer-Encoding: chunked\r\n\r\n`,
        ...chunked(BODY.subarray(a, b + 1), [1, 7000, 65_536, 3]),
      ];
      assert.deepEqual(Buffer.from(await fetch(s, 5, 200_005)), BODY.subarray(5, 200_005));
      // Close-framed: no length, the body ends with the connection.
      srv.script = ({ range: [a, b] }) => [
        `HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ${a}-${b}/${BODY.byteLength}\r\nConnection: close\r\n\r\n`,
        BODY.subarray(a, b + 1),
        END,
      ];
      assert.deepEqual(Buffer.from(await fetch(s, 100, 50_100)), BODY.subarray(100, 50_100));
      // ... and one that closes early is a truncation.
      srv.script = ({ range: [a, b] }) => [
        `HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ${a}-${b}/${BODY.byteLength}\r\nConnection: close\r\n\r\n`,
        BODY.subarray(a, b - 10),
        END,
      ];
      await assertCode(() => fetch(s, 100, 50_100), 'E_NETWORK');
    } finally {
      await s.close();
    }
  });

  test('bad answers are coded errors: more than the range, short bodies, odd heads, silence', async () => {
    const s = source({ headersTimeoutMs: 200, bodyTimeoutMs: 200 });
    try {
      srv.script = ({ range: [a, b] }) => [
        `HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ${a}-${b}/1\r\nTransfer-Encoding: chunked\r\n\r\n`,
        ...chunked(BODY.subarray(a, b + 100), [4096]),
      ];
      await assertCode(() => fetch(s, 0, 10_000), 'E_TOO_LARGE');
      srv.script = ({ range: [a, b] }) => [
        `HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ${a}-${b}/1\r\nTransfer-Encoding: chunked\r\n\r\n`,
        ...chunked(BODY.subarray(a, b - 100), [4096]),
      ];
      await assertCode(() => fetch(s, 0, 10_000), 'E_NETWORK');
      srv.script = () => [`HTTP/1.1 206 Partial Content\r\n${'X-Pad: y\r\n'.repeat(5000)}\r\n`];
      await assertCode(() => fetch(s, 0, 10), 'E_HTTP');
      srv.script = () => ['SPDY/9 200 OK\r\n\r\n'];
      await assertCode(() => fetch(s, 0, 10), 'E_HTTP');
      srv.script = () => ['HTTP/1.1 206 Partial Content\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'];
      await assertCode(() => fetch(s, 0, 10), 'E_HTTP');
      // All the data, then trailer fields without end.
      srv.script = ({ range: [a, b] }) => [
        `HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ${a}-${b}/1\r\nTransfer-Encoding: chunked\r\n\r\n`,
        ...chunked(BODY.subarray(a, b + 1), [4096]).slice(0, -1),
        '0\r\n',
        ...Array.from({ length: 2000 }, (_, i) => `X-Trailer-${i}: ${'v'.repeat(40)}\r\n`),
      ];
      await assertCode(() => fetch(s, 0, 10_000), 'E_HTTP');
      srv.script = () => [];
      await assertCode(() => fetch(s, 0, 10), 'E_TIMEOUT');
      srv.script = ({ range: [a, b] }) => [head206(a, b), BODY.subarray(a, a + 5)];
      await assertCode(() => fetch(s, 0, 10), 'E_TIMEOUT');
      srv.script = () => ['HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\n\r\n'];
      const e = await assertCode(() => fetch(s, 0, 10), 'E_HTTP');
      assert.deepEqual(e.details, { status: 416 });
    } finally {
      await s.close();
    }
  });

  test('a body that pauses mid-piece: the part so far is handed over, the rest lands after it', async () => {
    // Pauses longer than the 50 ms after which a partly filled piece is handed over.
    srv.script = ({ range: [a, b] }) => [
      head206(a, b),
      BODY.subarray(a, a + 1000),
      120,
      BODY.subarray(a + 1000, a + 70_000),
      120,
      BODY.subarray(a + 70_000, b + 1),
    ];
    const s = source();
    try {
      assert.deepEqual(Buffer.from(await fetch(s, 7, 150_007)), BODY.subarray(7, 150_007));
    } finally {
      await s.close();
    }
  });

  test('bytes past the body: the answer is kept, the connection is not reused', async () => {
    srv.script = ({ range: [a, b] }) => [
      head206(a, b),
      Buffer.concat([BODY.subarray(a, b + 1), Buffer.from('junk')]),
    ];
    srv.connections = 0;
    const s = source();
    try {
      assert.deepEqual(Buffer.from(await fetch(s, 0, 100)), BODY.subarray(0, 100));
      srv.script = ({ range: [a, b] }) => [head206(a, b), BODY.subarray(a, b + 1)];
      assert.deepEqual(Buffer.from(await fetch(s, 0, 100)), BODY.subarray(0, 100));
      assert.equal(srv.connections, 2);
    } finally {
      await s.close();
    }
  });

  test('an idle kept-alive connection does not keep a process alive', async () => {
    srv.script = ({ range: [a, b] }) => [head206(a, b), BODY.subarray(a, b + 1)];
    const mod = new URL('../../../src/sources/https.ts', import.meta.url).href;
    const code = `
      import { HttpsSource } from ${JSON.stringify(mod)};
      const s = new HttpsSource({ url: ${JSON.stringify(srv.url)} });
      const b = await s.fetchRange({ target: 'dchat-1.0.0-linux-x64', sha256: 'a'.repeat(64), start: 0, end: 100, maxBytes: 100 });
      console.log(b.byteLength); // and no close(): the process must still end now
    `;
    const t0 = Date.now();
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let text = '';
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString();
      });
      child.on('error', reject);
      child.on('close', () => resolve(text.trim()));
    });
    assert.equal(out, '100');
    assert.ok(Date.now() - t0 < 10_000, 'exited without waiting for the idle connection');
  });

  test('a transfer coding this path does not read goes to undici', async () => {
    srv.script = ({ range: [a, b] }) => [
      `HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ${a}-${b}/1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n`,
      ...chunked(BODY.subarray(a, b + 1), [100]),
    ];
    srv.requests = 0;
    const s = source();
    try {
      // undici takes the last coding (chunked) and hands the rest over as is.
      assert.deepEqual(Buffer.from(await fetch(s, 0, 10)), BODY.subarray(0, 10));
      assert.equal(srv.requests, 2, 'asked again through undici');
    } finally {
      await s.close();
    }
  });

  test('property: any split of a Content-Length or chunked answer gives the exact bytes', async () => {
    const s = source();
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 200_000 }),
          fc.integer({ min: 1, max: 90_000 }),
          fc.boolean(),
          fc.array(fc.integer({ min: 0, max: 100_000 }), { maxLength: 12 }),
          fc.array(fc.integer({ min: 1, max: 20_000 }), { maxLength: 6 }),
          async (a, len, isChunked, cuts, sizes) => {
            const b = Math.min(BODY.byteLength, a + len);
            const body = BODY.subarray(a, b);
            const raw = isChunked
              ? Buffer.concat([
                  Buffer.from(
                    `HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ${a}-${b - 1}/1\r\nTransfer-Encoding: chunked\r\n\r\n`,
                  ),
                  ...chunked(body, sizes),
                ])
              : Buffer.concat([Buffer.from(head206(a, b - 1)), body]);
            srv.script = () => split(raw, cuts);
            assert.deepEqual(Buffer.from(await fetch(s, a, b)), body);
          },
        ),
        { numRuns: 60 },
      );
    } finally {
      await s.close();
    }
  });
});
