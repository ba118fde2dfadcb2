/**
 * Request/response over one libp2p stream, for our own protocols (/dchat/chunks/1,
 * /dchat/digest/1): length-prefixed frames (lpStream) with a hard cap on every frame, a JSON
 * request, a JSON response header and, for byte payloads, one raw frame after the header. Every
 * exchange has a deadline; a stream that breaks any rule is aborted, never trusted.
 */
import type { AbortOptions, Connection, PeerId, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { DchatError, toDchatError } from '../../errors.ts';

export const MAX_REQUEST_FRAME = 16 * 1024;
export const MAX_HEADER_FRAME = 64 * 1024;
export const DEFAULT_RPC_TIMEOUT_MS = 15_000;

/** What a protocol handler needs of libp2p (narrow, so tests can stub it). */
export interface ProtocolHost {
  handle(
    protocol: string,
    handler: (stream: Stream, connection: Connection) => void | Promise<void>,
    options?: { maxInboundStreams?: number; maxOutboundStreams?: number },
  ): Promise<void>;
  unhandle(protocol: string): Promise<void>;
  dialProtocol(peer: PeerId, protocol: string, options?: AbortOptions): Promise<Stream>;
}

export interface ResponseHeader {
  ok: boolean;
  /** Length of the byte frame that follows an ok header, if any. */
  size?: number;
  code?: string;
  message?: string;
  [k: string]: unknown;
}

export interface RpcResult {
  header: ResponseHeader;
  body?: Uint8Array;
}

function withDeadline(opts: AbortOptions, timeoutMs: number): AbortSignal {
  const t = AbortSignal.timeout(timeoutMs);
  return opts.signal ? AbortSignal.any([opts.signal, t]) : t;
}

function parseJsonFrame(bytes: Uint8Array, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new DchatError('E_MALFORMED', `${what} is not JSON`, { cause });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new DchatError('E_MALFORMED', `${what} is not a JSON object`);
  return doc as Record<string, unknown>;
}

/**
 * Sends `request` to `peer` on `protocol` and reads the header and, when the header says so, a
 * body of at most `maxBody` bytes. Throws a DchatError (E_TIMEOUT, E_NETWORK, E_TOO_LARGE,
 * E_MALFORMED) on any transport or framing failure.
 */
export async function rpcCall(
  host: Pick<ProtocolHost, 'dialProtocol'>,
  peer: PeerId,
  protocol: string,
  request: Record<string, unknown>,
  opts: AbortOptions & { maxBody: number; timeoutMs?: number },
): Promise<RpcResult> {
  const signal = withDeadline(opts, opts.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS);
  let stream: Stream | undefined;
  try {
    stream = await host.dialProtocol(peer, protocol, { signal });
    const lp = lpStream(stream, { maxDataLength: Math.max(MAX_HEADER_FRAME, opts.maxBody) });
    await lp.write(new TextEncoder().encode(JSON.stringify(request)), { signal });
    const headerFrame = await lp.read({ signal });
    if (headerFrame.byteLength > MAX_HEADER_FRAME)
      throw new DchatError('E_TOO_LARGE', `response header over ${MAX_HEADER_FRAME} bytes`);
    const header = parseJsonFrame(headerFrame.subarray(), 'response header') as ResponseHeader;
    if (typeof header.ok !== 'boolean') throw new DchatError('E_MALFORMED', 'response header has no ok');
    let body: Uint8Array | undefined;
    if (header.ok && typeof header.size === 'number') {
      if (!Number.isSafeInteger(header.size) || header.size < 0 || header.size > opts.maxBody)
        throw new DchatError(
          'E_TOO_LARGE',
          `peer announced ${header.size} bytes, at most ${opts.maxBody} allowed`,
        );
      body = header.size === 0 ? new Uint8Array(0) : (await lp.read({ signal })).subarray();
      if (body.byteLength !== header.size)
        throw new DchatError(
          'E_MALFORMED',
          `peer sent ${body.byteLength} bytes after announcing ${header.size}`,
        );
    }
    await stream.close({ signal }).catch(() => stream?.abort(new Error('close failed')));
    return body === undefined ? { header } : { header, body };
  } catch (err) {
    stream?.abort(err instanceof Error ? err : new Error(String(err)));
    if (err instanceof DchatError) throw err;
    if (signal.aborted && !opts.signal?.aborted)
      throw new DchatError('E_TIMEOUT', `${protocol} to ${peer.toString().slice(-8)} timed out`, {
        cause: err,
      });
    const e = toDchatError(err, 'E_NETWORK');
    const code = e.code === 'E_INTERNAL' || e.code === 'E_IO' ? 'E_NETWORK' : e.code;
    const name = (err as Error)?.name;
    if (name === 'InvalidDataLengthError')
      throw new DchatError('E_TOO_LARGE', `${protocol}: frame over the size cap`, { cause: err });
    throw new DchatError(code, `${protocol} to ${peer.toString().slice(-8)}: ${e.message}`, { cause: err });
  }
}

export interface ServerReply {
  header: ResponseHeader;
  body?: Uint8Array;
}

/**
 * Serves one request on an inbound stream: reads one request frame of at most MAX_REQUEST_FRAME
 * bytes (a longer one is answered E_TOO_LARGE unread), calls `handle`, and writes its header (and
 * body). Handler errors become `{ok:false, code, message}`; transport errors abort the stream.
 * Never throws.
 */
export async function rpcServe(
  stream: Stream,
  handle: (request: Record<string, unknown>) => Promise<ServerReply>,
  opts: { timeoutMs?: number } = {},
): Promise<void> {
  const signal = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS);
  try {
    // The cap applies to what is read (the request), not to the reply written back.
    const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_FRAME });
    let reply: ServerReply;
    let frame: Awaited<ReturnType<typeof lp.read>> | undefined;
    try {
      frame = await lp.read({ signal });
    } catch (err) {
      if ((err as Error)?.name !== 'InvalidDataLengthError') throw err;
    }
    if (!frame) {
      reply = {
        header: { ok: false, code: 'E_TOO_LARGE', message: `request over ${MAX_REQUEST_FRAME} bytes` },
      };
    } else {
      try {
        reply = await handle(parseJsonFrame(frame.subarray(), 'request'));
      } catch (err) {
        const e = toDchatError(err);
        reply = { header: { ok: false, code: e.code, message: e.message.slice(0, 300) } };
      }
    }
    const header = reply.body ? { ...reply.header, size: reply.body.byteLength } : reply.header;
    const frames: Uint8Array[] = [new TextEncoder().encode(JSON.stringify(header))];
    if (reply.body) frames.push(reply.body);
    await lp.writeV(frames, { signal });
    await stream.close({ signal });
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)));
  }
}
