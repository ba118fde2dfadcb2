/**
 * Kept-alive HTTP/1.1 connections to one origin for the lean range path (range.ts): node:tls
 * sockets (node:net for a loopback http mirror) opened with the `onread` option, so the request
 * that owns a connection decides where each read lands (see range.ts). Failures are SourceErrors
 * with our codes (E_TIMEOUT, E_NETWORK); the abort reason of the caller's signal passes through.
 */
import { connect as netConnect, type OnReadOpts, type Socket } from 'node:net';
import { type ConnectionOptions, type SecureContext, connect as tlsConnect } from 'node:tls';
import { SourceError } from '../../errors.ts';

/** Idle kept-alive connections are closed after this long (servers usually drop them sooner). */
const IDLE_MS = 30_000;
const SCRATCH_BYTES = 16 * 1024;

export interface Http1Origin {
  protocol: 'https:' | 'http:';
  host: string;
  port: number;
  /** Roots to trust (https only); Node's default store when absent. */
  secureContext?: SecureContext;
  connectTimeoutMs: number;
  /** Idle connections kept for reuse. */
  maxIdle: number;
}

/** Whoever owns a connection receives its bytes. */
export interface ConnOwner {
  /** Memory for the socket's next read. */
  room(): Uint8Array;
  /** `n` bytes were written into `buf`. Returns false to pause the socket. */
  onBytes(n: number, buf: Uint8Array): boolean;
  /** The connection closed (`err` undefined) or failed. */
  onClosed(err: SourceError | undefined): void;
}

/**
 * One connection. Node asks `onread.buffer` for the next read's memory right after each callback,
 * so a read may land in memory handed out earlier (the scratch buffer of an idle connection, a
 * piece since handed over): the callback names it.
 */
export interface Conn {
  socket: Socket;
  owner: ConnOwner | undefined;
  /** Where reads land while no request owns the connection or no piece wants them. */
  scratch: Buffer;
  idleTimer: NodeJS.Timeout | undefined;
  dead: boolean;
}

export class Http1Agent {
  private readonly o: Http1Origin;
  private idle: Conn[] = [];
  private closed = false;

  constructor(o: Http1Origin) {
    this.o = o;
  }

  /** A connection for one request: an idle one if allowed and there is, else a new one (`fresh`). */
  async acquire(
    signal: AbortSignal | undefined,
    allowIdle: boolean,
  ): Promise<{ conn: Conn; fresh: boolean }> {
    for (let c = allowIdle ? this.idle.pop() : undefined; c; c = this.idle.pop()) {
      if (c.idleTimer) clearTimeout(c.idleTimer);
      c.idleTimer = undefined;
      if (!c.dead) {
        c.socket.ref();
        return { conn: c, fresh: false };
      }
    }
    return { conn: await this.connect(signal), fresh: true };
  }

  /** Back to the pool after a complete response on a connection the server keeps open. */
  release(c: Conn): void {
    c.owner = undefined;
    this.idle = this.idle.filter((x) => !x.dead);
    if (c.dead || this.closed || this.idle.length >= this.o.maxIdle) {
      destroyConn(c);
      return;
    }
    c.idleTimer = setTimeout(() => {
      this.idle = this.idle.filter((x) => x !== c);
      destroyConn(c);
    }, IDLE_MS);
    c.idleTimer.unref();
    // As node:http's Agent does: an idle connection does not keep the process alive.
    c.socket.unref();
    this.idle.push(c);
  }

  close(): void {
    this.closed = true;
    for (const c of this.idle.splice(0)) destroyConn(c);
  }

  private connect(signal: AbortSignal | undefined): Promise<Conn> {
    const { protocol, host, port } = this.o;
    const where = `${protocol}//${host.includes(':') ? `[${host}]` : host}:${port}`;
    return new Promise<Conn>((resolve, reject) => {
      const conn: Conn = {
        socket: undefined as unknown as Socket,
        owner: undefined,
        scratch: Buffer.allocUnsafe(SCRATCH_BYTES),
        idleTimer: undefined,
        dead: false,
      };
      const onread: OnReadOpts = {
        buffer: () => conn.owner?.room() ?? conn.scratch,
        callback: (n: number, buf: Uint8Array) => {
          if (conn.owner) return conn.owner.onBytes(n, buf);
          // Bytes nobody asked for: the server broke the protocol. This connection is done.
          destroyConn(conn);
          return false;
        },
      };
      const done = (err?: unknown) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (err) {
          destroyConn(conn);
          reject(err);
        } else resolve(conn);
      };
      const onAbort = () => done(signal?.reason ?? new SourceError('E_ABORTED', `${where}: aborted`));
      const timer = setTimeout(
        () => done(new SourceError('E_TIMEOUT', `${where}: connect timed out`)),
        this.o.connectTimeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      const socket =
        protocol === 'https:'
          ? tlsConnect(
              // tls.connect takes `onread` as net.connect does (Node's docs); @types/node omits it.
              {
                host,
                port,
                ALPNProtocols: ['http/1.1'],
                onread,
                ...(this.o.secureContext ? { secureContext: this.o.secureContext } : {}),
              } as ConnectionOptions,
              () => done(),
            )
          : netConnect({ host, port, onread }, () => done());
      conn.socket = socket;
      socket.setNoDelay(true);
      socket.on('error', (err) => {
        conn.dead = true;
        const e = socketError(err, where);
        if (conn.owner) conn.owner.onClosed(e);
        else done(e);
      });
      socket.on('close', () => {
        conn.dead = true;
        if (conn.idleTimer) clearTimeout(conn.idleTimer);
        conn.owner?.onClosed(undefined);
      });
    });
  }
}

export function destroyConn(c: Conn): void {
  c.dead = true;
  if (c.idleTimer) clearTimeout(c.idleTimer);
  c.owner = undefined;
  c.socket?.destroy();
}

/** A socket or TLS failure as our error: the network did not cooperate (E_NETWORK). */
function socketError(err: Error & { code?: string }, where: string): SourceError {
  const what =
    err.code === 'ECONNREFUSED' ? 'connection refused' : `connection dropped (${err.message.slice(0, 200)})`;
  return new SourceError('E_NETWORK', `${where}: ${what}`, { cause: err });
}
