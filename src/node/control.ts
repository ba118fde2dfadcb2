/**
 * The node's local control socket: a unix domain socket at $DCHAT_HOME/run/node.sock, in a
 * directory of mode 0700, the socket itself 0600, so only the node's owner can talk to it.
 * Protocol (model/control.ts, `dchat.control/1`): newline-delimited JSON, one request and one
 * response per connection:
 *   -> {"format":"dchat.control/1","method":"status","params":{...}}\n
 *   <- {"format":"dchat.control/1","ok":true,"result":{...}}\n
 *   <- {"format":"dchat.control/1","ok":false,"error":{"code":"E_...","message":"..."}}\n
 * Params of the protocol's methods are checked against their schema before a handler runs, and
 * the client checks each result against its schema; another format version is E_PROTOCOL.
 * Requests are capped at MAX_REQUEST_BYTES and answered within a deadline; responses are capped
 * by the client. A malformed request gets an error response, never a crash.
 */
import { chmod, mkdir, stat, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { z } from 'zod';
import { DchatError, type ErrorCode, toDchatError } from '../errors.ts';
import {
  CONTROL_FORMAT,
  CONTROL_METHODS,
  type ControlMethod,
  type ControlParams,
  ControlRequestSchema,
  type ControlResponse,
  ControlResponseSchema,
  type ControlResult,
  isControlMethod,
} from '../model/control.ts';
import { parseWith } from '../model/schema-util.ts';
import type { HomePaths } from '../store/home.ts';

export const MAX_REQUEST_BYTES = 64 * 1024;
export const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
/** Linux sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;
/** Time a client has to send its request line; the handler's own work is bounded by the handler. */
const REQUEST_DEADLINE_MS = 10_000;

export function controlSocketPath(paths: HomePaths): string {
  return join(paths.runDir, 'node.sock');
}

/** A handler of a method outside the protocol (tests); gets the params unchecked. */
export type ControlHandler = (params: Record<string, unknown>) => Promise<unknown>;

/** The node's implementation of the protocol: params and results as the schemas type them. */
export type TypedHandlers = {
  [M in ControlMethod]: (p: z.output<(typeof CONTROL_METHODS)[M]['params']>) => Promise<ControlResult<M>>;
};

/** Wraps typed handlers as the server's: params parsed with their schema (E_MALFORMED naming the field). */
export function protocolHandlers(h: TypedHandlers): Record<string, ControlHandler> {
  const out: Record<string, ControlHandler> = {};
  for (const m of Object.keys(CONTROL_METHODS) as ControlMethod[]) {
    const schema: z.ZodType = CONTROL_METHODS[m].params;
    const fn = h[m] as (p: unknown) => Promise<unknown>;
    out[m] = async (params) => fn(parseWith(schema, params, `control request '${m}' params`));
  }
  return out;
}

type Unformatted<T> = T extends unknown ? Omit<T, 'format'> : never;
const response = (doc: Unformatted<ControlResponse>): ControlResponse =>
  ({ format: CONTROL_FORMAT, ...doc }) as ControlResponse;

export class ControlServer {
  private readonly path: string;
  private readonly runDir: string;
  private readonly handlers: Map<string, ControlHandler>;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  private readonly requestDeadlineMs: number;

  constructor(
    paths: HomePaths,
    handlers: Record<string, ControlHandler>,
    o: { requestDeadlineMs?: number } = {},
  ) {
    this.requestDeadlineMs = o.requestDeadlineMs ?? REQUEST_DEADLINE_MS;
    this.path = controlSocketPath(paths);
    this.runDir = paths.runDir;
    this.handlers = new Map(Object.entries(handlers));
  }

  get socketPath(): string {
    return this.path;
  }

  async start(): Promise<void> {
    if (Buffer.byteLength(this.path) > MAX_SOCKET_PATH)
      throw new DchatError(
        'E_CONFIG',
        `control socket path ${this.path} is longer than ${MAX_SOCKET_PATH} bytes; use a shorter --home`,
      );
    await mkdir(this.runDir, { recursive: true, mode: 0o700 });
    await chmod(this.runDir, 0o700);
    await removeStaleSocket(this.path);
    const server = createServer({ allowHalfOpen: false }, (socket) => this.onConnection(socket));
    server.maxConnections = 32;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(this.path, 0o600);
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await unlink(this.path).catch(() => {});
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(this.requestDeadlineMs, () => socket.destroy());
    const parts: Buffer[] = [];
    let size = 0;
    let done = false;
    const reply = (doc: unknown) => {
      if (done) return;
      done = true;
      socket.end(`${JSON.stringify(doc)}\n`);
    };
    socket.on('data', (data: Buffer) => {
      if (done) return;
      const nl = data.indexOf(0x0a);
      const take = nl >= 0 ? data.subarray(0, nl) : data;
      size += take.byteLength;
      if (size > MAX_REQUEST_BYTES) {
        reply(
          response({
            ok: false,
            error: { code: 'E_TOO_LARGE', message: `request over ${MAX_REQUEST_BYTES} bytes` },
          }),
        );
        return;
      }
      parts.push(take);
      if (nl < 0) return;
      socket.pause();
      // The request is in: a long answer (a download) must not be cut by the request deadline.
      socket.setTimeout(0);
      this.dispatch(Buffer.concat(parts)).then(
        (result) => reply(response({ ok: true, result })),
        (err) => {
          const e = toDchatError(err);
          reply(response({ ok: false, error: { code: e.code, message: e.message } }));
        },
      );
    });
  }

  private async dispatch(line: Buffer): Promise<unknown> {
    let req: unknown;
    try {
      req = JSON.parse(line.toString('utf8'));
    } catch {
      throw new DchatError('E_MALFORMED', 'control request is not JSON');
    }
    if (typeof req !== 'object' || req === null || Array.isArray(req))
      throw new DchatError('E_MALFORMED', 'control request is not a JSON object');
    const format = (req as { format?: unknown }).format;
    if (format !== CONTROL_FORMAT)
      throw new DchatError(
        'E_PROTOCOL',
        `control protocol ${typeof format === 'string' ? `'${format.slice(0, 40)}'` : '(no format)'} is not supported: this node speaks ${CONTROL_FORMAT}`,
      );
    const { method, params } = parseWith(ControlRequestSchema, req, 'control request');
    const handler = this.handlers.get(method);
    if (!handler) throw new DchatError('E_USAGE', `unknown control method '${method.slice(0, 40)}'`);
    return handler(params);
  }
}

/** A socket file left by a node that died: remove it; one that answers belongs to a live node. */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    await stat(path);
  } catch {
    return;
  }
  const alive = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new DchatError('E_BUSY', `a node is already running with this home (${path} answers)`);
  await unlink(path).catch(() => {});
}

/**
 * Sends one request to the node of `paths` and returns its result, checked against the method's
 * schema. E_NOT_FOUND when no node is running (no socket, or nobody listening); the node's own
 * error (with its code) otherwise; E_PROTOCOL when the node speaks another protocol version.
 */
export async function controlRequest<M extends ControlMethod>(
  paths: HomePaths,
  method: M,
  params?: ControlParams<M>,
  timeoutMs?: number,
): Promise<ControlResult<M>>;
/** A method outside the protocol (tests of the transport): the result unchecked. */
export async function controlRequest(
  paths: HomePaths,
  method: string,
  params?: Record<string, unknown>,
  timeoutMs?: number,
): Promise<unknown>;
export async function controlRequest(
  paths: HomePaths,
  method: string,
  params: Record<string, unknown> = {},
  timeoutMs = 15_000,
): Promise<unknown> {
  const path = controlSocketPath(paths);
  if (isControlMethod(method))
    params = parseWith<Record<string, unknown>>(
      CONTROL_METHODS[method].params,
      params,
      `control '${method}' params`,
    );
  const line = `${JSON.stringify({ format: CONTROL_FORMAT, method, params })}\n`;
  if (Buffer.byteLength(line) > MAX_REQUEST_BYTES)
    throw new DchatError('E_TOO_LARGE', 'control request too large');
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(path);
    const parts: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DchatError('E_TIMEOUT', `the node did not answer '${method}' within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => socket.write(line));
    socket.on('data', (d: Buffer) => {
      size += d.byteLength;
      if (size > MAX_RESPONSE_BYTES) {
        clearTimeout(timer);
        socket.destroy();
        reject(new DchatError('E_TOO_LARGE', `control response over ${MAX_RESPONSE_BYTES} bytes`));
        return;
      }
      parts.push(d);
    });
    socket.once('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(parts).toString('utf8'));
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')
        reject(
          new DchatError(
            'E_NOT_FOUND',
            `no node is running with home ${paths.home} (start one: dchat node start)`,
            {
              cause: err,
            },
          ),
        );
      else reject(new DchatError('E_IO', `control socket ${path}: ${err.message}`, { cause: err }));
    });
  });
  let doc: unknown;
  try {
    doc = JSON.parse(text.trim());
  } catch (cause) {
    throw new DchatError('E_MALFORMED', 'the node answered something that is not JSON', { cause });
  }
  const format = (doc as { format?: unknown } | null)?.format;
  if (format !== CONTROL_FORMAT)
    throw new DchatError(
      'E_PROTOCOL',
      `the node answered in ${typeof format === 'string' ? `'${format.slice(0, 40)}'` : 'an unversioned format'}, not ${CONTROL_FORMAT} (is it an older or newer dchat?)`,
    );
  const r = parseWith(ControlResponseSchema, doc, 'control response');
  if (!r.ok) throw new DchatError(asErrorCode(r.error.code), r.error.message);
  if (!isControlMethod(method)) return r.result;
  const schema: z.ZodType = CONTROL_METHODS[method].result;
  return parseWith(schema, r.result, `control '${method}' result`);
}

/** The node's error code if it is one of ours, else E_INTERNAL (never an unknown code). */
function asErrorCode(code: string): ErrorCode {
  return /^E_[A-Z_]{1,40}$/.test(code) && new DchatError(code as ErrorCode, '').exitCode !== undefined
    ? (code as ErrorCode)
    : 'E_INTERNAL';
}
