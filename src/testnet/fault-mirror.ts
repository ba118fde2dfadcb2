/**
 * A misbehaving HTTPS mirror for tests: serves a mirror directory (as `release publish` wrote it)
 * over node:https with the test CA's certificate, honours Range like nginx, and injects faults on
 * request: flipped bytes, HTTP errors, truncated bodies, dropped connections, a slow drip, an
 * endless body, a wrong Content-Length, other files in place of the right ones (another version's
 * package, stale metadata). It counts the package bytes it sends, so tests can show how much a
 * download really fetched.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { join, normalize } from 'node:path';
import type { TestCa } from './test-ca.ts';

/** Which requests a fault applies to: a path regexp (default: package bodies). */
interface Match {
  path?: RegExp;
  /** Apply to the first N matching requests only (default: all). */
  times?: number;
}

export type Fault = Match &
  (
    | { kind: 'flip'; offset: number }
    | { kind: 'status'; status: number }
    | { kind: 'truncate'; after: number }
    | { kind: 'drop'; after: number }
    | { kind: 'slow'; bytesPerSec: number; intervalMs?: number }
    | { kind: 'endless' }
    | { kind: 'wrong-length'; delta: number }
    | { kind: 'serve'; file: string }
    | { kind: 'stall' }
    | { kind: 'no-range' }
    /** One byte of the body, anywhere in the range served, flipped. */
    | { kind: 'corrupt' }
  );

/** Random faults on package requests (chaos-mirrors): each request fails at `rate`. */
export interface ChaosOptions {
  rate: number;
  /** Uniform [0, 1) (seeded by the caller for a reproducible run). */
  random: () => number;
}

/** What the random faults did (chaos-mirrors' report). */
export interface ChaosCounts {
  requests: number;
  failed: number;
  stalled: number;
  corrupted: number;
}

export interface RequestLog {
  path: string;
  range?: string;
  status: number;
  fault?: Fault['kind'];
}

export interface FaultMirror {
  url: string;
  port: number;
  /** Package body bytes sent (targets/ and packages/ files, chunk tables excluded). */
  packageBytes: number;
  requests: RequestLog[];
  chaos: ChaosCounts;
  setFaults(faults: Fault[]): void;
  resetCounters(): void;
  stop(): Promise<void>;
}

const PACKAGE_PATH = /^\/(targets\/[^/]+|packages\/[^/]+)$/;

function isPackagePath(p: string): boolean {
  return PACKAGE_PATH.test(p) && !p.endsWith('.chunks') && !p.endsWith('.sig');
}

export async function startFaultMirror(
  root: string,
  ca: TestCa,
  initial: Fault[] = [],
  chaos?: ChaosOptions,
): Promise<FaultMirror> {
  let faults: { f: Fault; used: number }[] = initial.map((f) => ({ f, used: 0 }));
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const state: FaultMirror = {
    url: '',
    port: 0,
    packageBytes: 0,
    requests: [],
    chaos: { requests: 0, failed: 0, stalled: 0, corrupted: 0 },
    setFaults: (fs) => {
      faults = fs.map((f) => ({ f, used: 0 }));
    },
    resetCounters: () => {
      state.packageBytes = 0;
      state.requests = [];
    },
    stop: async () => {},
  };

  const pick = (path: string): Fault | undefined => {
    for (const entry of faults) {
      const { f } = entry;
      const matches = f.path ? f.path.test(path) : isPackagePath(path);
      if (!matches) continue;
      if (f.times !== undefined && entry.used >= f.times) continue;
      entry.used++;
      return f;
    }
    if (!chaos || !isPackagePath(path)) return undefined;
    const c = state.chaos;
    c.requests++;
    if (chaos.random() >= chaos.rate) return undefined;
    // Fail, stall and corrupt equally often.
    const pickKind = Math.floor(chaos.random() * 3);
    if (pickKind === 0) {
      c.failed++;
      return { kind: 'status', status: 503 };
    }
    if (pickKind === 1) {
      c.stalled++;
      return { kind: 'stall' };
    }
    c.corrupted++;
    return { kind: 'corrupt' };
  };

  const server: Server = createServer(
    { key: readFileSync(ca.serverKey), cert: readFileSync(ca.serverCert) },
    (req, res) => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'https://x').pathname);
      const fault = pick(path);
      const log: RequestLog = {
        path,
        status: 200,
        ...(req.headers.range ? { range: req.headers.range } : {}),
        ...(fault ? { fault: fault.kind } : {}),
      };
      state.requests.push(log);
      const countable = isPackagePath(path);
      const send = (buf: Buffer) => {
        if (countable) state.packageBytes += buf.byteLength;
      };
      if (fault?.kind === 'status') {
        log.status = fault.status;
        res.writeHead(fault.status, { 'content-type': 'text/plain' });
        res.end(`fault ${fault.status}\n`);
        return;
      }
      if (fault?.kind === 'stall') return; // never answers
      const file =
        fault?.kind === 'serve' ? fault.file : join(root, normalize(path).replace(/^(\.\.[/\\])+/, ''));
      let size: number;
      try {
        const st = statSync(file);
        if (!st.isFile()) throw new Error('not a file');
        size = st.size;
      } catch {
        log.status = 404;
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found\n');
        return;
      }
      let start = 0;
      let end = size - 1;
      let status = 200;
      const m = fault?.kind === 'no-range' ? null : /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      if (m) {
        start = Number(m[1]);
        end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
        if (start > end || start >= size) {
          log.status = 416;
          res.writeHead(416, { 'content-range': `bytes */${size}` });
          res.end();
          return;
        }
        status = 206;
      }
      log.status = status;
      const body = Buffer.from(readFileSync(file).subarray(start, end + 1));
      const headers: Record<string, string | number> = {
        'content-type': 'application/octet-stream',
        'accept-ranges': 'bytes',
        ...(status === 206 ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
      };
      switch (fault?.kind) {
        case 'flip': {
          const at = fault.offset - start;
          if (at >= 0 && at < body.byteLength) body[at] = (body[at] as number) ^ 0xff;
          break;
        }
        case 'corrupt': {
          const at = Math.floor(Math.random() * body.byteLength);
          if (body.byteLength > 0) body[at] = (body[at] as number) ^ 0xff;
          break;
        }
        case 'truncate': {
          // A clean end of a chunked body, short of the range: nothing tells the client but the count.
          res.writeHead(status, headers);
          const part = body.subarray(0, Math.min(fault.after, body.byteLength));
          send(part);
          res.end(part);
          return;
        }
        case 'drop': {
          res.writeHead(status, { ...headers, 'content-length': body.byteLength });
          const part = body.subarray(0, Math.min(fault.after, body.byteLength));
          send(part);
          res.write(part, () => {
            const t = setTimeout(() => res.socket?.destroy(), 20);
            timers.add(t);
          });
          return;
        }
        case 'slow': {
          res.writeHead(status, { ...headers, 'content-length': body.byteLength });
          const interval = fault.intervalMs ?? 50;
          const piece = Math.max(1, Math.floor((fault.bytesPerSec * interval) / 1000));
          let off = 0;
          const tick = () => {
            if (res.destroyed || off >= body.byteLength) {
              if (!res.destroyed) res.end();
              return;
            }
            const part = body.subarray(off, off + piece);
            off += part.byteLength;
            send(part);
            res.write(part);
            const t = setTimeout(tick, interval);
            timers.add(t);
          };
          tick();
          return;
        }
        case 'endless': {
          res.writeHead(status, headers);
          const junk = randomBytes(16 * 1024);
          const pump = () => {
            while (!res.destroyed) {
              send(junk);
              if (!res.write(junk)) {
                res.once('drain', pump);
                return;
              }
            }
          };
          res.on('close', () => res.removeAllListeners('drain'));
          pump();
          return;
        }
        case 'wrong-length': {
          // Written raw: node:http itself refuses a body that disagrees with its Content-Length.
          const sock = res.socket as Socket;
          const head = [
            `HTTP/1.1 ${status} ${status === 206 ? 'Partial Content' : 'OK'}`,
            ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
            `content-length: ${body.byteLength + fault.delta}`,
            'connection: close',
            '',
            '',
          ].join('\r\n');
          send(body);
          sock.write(head);
          sock.end(body);
          return;
        }
        default:
          break;
      }
      res.writeHead(status, { ...headers, 'content-length': body.byteLength });
      send(body);
      res.end(body);
    },
  );
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  state.port = typeof addr === 'object' && addr ? addr.port : 0;
  state.url = `https://127.0.0.1:${state.port}`;
  state.stop = () =>
    new Promise<void>((resolve) => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}
