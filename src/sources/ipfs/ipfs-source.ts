/**
 * IPFS as a download Source: package bytes fetched by CID over bitswap from the peers of an
 * embedded Helia node (ipfs/helia.ts), through the UnixFS exporter, so a range costs only the
 * blocks under it. Every block is checked against its CID by bitswap as it arrives (a peer that
 * sends other bytes is ignored for that block); the engine then checks every chunk against the
 * signed chunk table and the whole file against the signed target, as for any source.
 *
 * The CID is the signed one (`custom.ipfs_cid`, passed with each request) or, for a mirror
 * configured as `ipfs://CID`, that one, which is untrusted until the bytes check out (for packages:
 * an encoded target, a patch, always comes by its own signed CID). The chunk
 * table comes by its signed CID (`custom.ipfs_chunks_cid`) when the release has one, and is checked
 * against the signed Merkle root by the engine.
 *
 * Bitswap waits as long as nobody has a block: a request that receives nothing for `stallMs` ends
 * in E_TIMEOUT, so a channel whose peers cannot (or will not) serve the blocks is dropped by the
 * planner and the download goes on from the others.
 */
import { CID } from 'multiformats/cid';
import { DchatError, SourceError } from '../../errors.ts';
import type { PackageTarget } from '../../model/package.ts';
import { parsePackageName } from '../../model/platform.ts';
import {
  collectRange,
  type FetchOptions,
  type RangeRequest,
  type Source,
  servesByOwnAddress,
} from '../source.ts';
import { noteCancelledRead } from './cancelled-reads.ts';
import type { EmbeddedHelia } from './helia.ts';

export const IPFS_STALL_MS = 30_000;

/** The UnixFS exporter, loaded at the first IPFS request (registry users that never fetch skip it). */
const loadUnixfs = () => import('@helia/unixfs').then((m) => m.unixfs);

export interface IpfsSourceInit {
  id: string;
  /** `ipfs://CID` for a mirror; a label (e.g. `ipfs:bitswap`) when the CID comes signed. */
  uri: string;
  /** A fixed CID (an `ipfs://CID` mirror): used for every package, checked like any bytes. */
  cid?: string;
  /** The embedded node, started on first use. */
  helia: () => Promise<EmbeddedHelia>;
  /** Silence allowed before a request fails with E_TIMEOUT. */
  stallMs?: number;
}

export class IpfsSource implements Source {
  readonly id: string;
  readonly type = 'ipfs' as const;
  readonly uri: string;
  private readonly init: IpfsSourceInit;
  private readonly fixed: CID | undefined;

  constructor(init: IpfsSourceInit) {
    this.init = init;
    this.id = init.id;
    this.uri = init.uri;
    this.fixed = init.cid === undefined ? undefined : parseCid(init.cid, 'E_CONFIG', init.uri);
  }

  /**
   * An encoded target (a patch: no package name) only by a CID of its own: an `ipfs://CID`
   * mirror names a package's bytes, never a patch's.
   */
  serves(target: PackageTarget): boolean {
    return servesByOwnAddress(target, target.custom.ipfs_cid);
  }

  /** IPFS carries packages, not the TUF repository: metadata comes from other channels. */
  async fetchMetadata(): Promise<undefined> {
    return undefined;
  }

  async fetchChunkTable(target: string, opts: FetchOptions): Promise<Uint8Array | undefined> {
    // By the CID the release signed (also for an `ipfs://CID` mirror: its CID is the package's only).
    if (!opts.ipfs?.chunksCid) return undefined;
    const cid = parseCid(opts.ipfs.chunksCid, 'E_MALFORMED', `${target} chunk table`);
    return collectRange(this.cat(cid, 0, opts.maxBytes, opts, true), {
      target,
      sha256: '',
      start: 0,
      end: await this.sizeOf(cid, opts),
      maxBytes: opts.maxBytes,
    });
  }

  async fetchRange(req: RangeRequest): Promise<Uint8Array> {
    return collectRange(this.streamRange(req), req);
  }

  async *streamRange(req: RangeRequest): AsyncGenerator<Uint8Array> {
    const want = req.end - req.start;
    if (!(req.start >= 0 && want > 0))
      throw new DchatError('E_INTERNAL', `bad range ${req.start}-${req.end}`);
    if (want > req.maxBytes)
      throw new SourceError('E_TOO_LARGE', `range of ${want} bytes is above the ${req.maxBytes}-byte cap`);
    const cid = this.cidFor(req);
    let got = 0;
    for await (const piece of this.cat(cid, req.start, want, req, false)) {
      got += piece.byteLength;
      yield piece;
    }
    if (got !== want)
      throw new SourceError(
        'E_SIZE_MISMATCH',
        `${this.uri}: ${cid} ends after ${req.start + got} bytes, not at ${req.end} (${req.target})`,
      );
  }

  private cidFor(req: RangeRequest): CID {
    // A mirror's CID is a package's; a patch of it comes by its own signed CID (serves()).
    if (this.fixed && parsePackageName(req.target) !== undefined) return this.fixed;
    if (!req.ipfs?.cid)
      throw new SourceError(
        'E_NOT_FOUND',
        `${req.target} was published without an IPFS CID (custom.ipfs_cid)`,
      );
    return parseCid(req.ipfs.cid, 'E_MALFORMED', `${req.target} custom.ipfs_cid`);
  }

  private async sizeOf(cid: CID, opts: FetchOptions): Promise<number> {
    const fs = (await loadUnixfs())(await this.init.helia());
    const st = await this.guard(cid, opts.signal, (signal) => fs.stat(cid, { signal }));
    const size = Number(st.size);
    if (st.type !== 'file' && st.type !== 'raw')
      throw new SourceError('E_MALFORMED', `${this.uri}: ${cid} is a ${st.type}, not a file`);
    if (size > opts.maxBytes)
      throw new SourceError(
        'E_TOO_LARGE',
        `${this.uri}: ${cid} is ${size} bytes, over the ${opts.maxBytes} cap`,
      );
    return size;
  }

  /**
   * The bytes [offset, offset+length) of the file `cid`, in order; fails E_TIMEOUT after `stallMs`
   * without a piece, E_TOO_LARGE past `length` (exact: a short file is the caller's to judge).
   */
  private async *cat(
    cid: CID,
    offset: number,
    length: number,
    opts: FetchOptions,
    whole: boolean,
  ): AsyncGenerator<Uint8Array> {
    const fs = (await loadUnixfs())(await this.init.helia());
    const stallMs = this.init.stallMs ?? IPFS_STALL_MS;
    const stall = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, stall.signal]) : stall.signal;
    // The exporter may leave rejections behind once this read is cancelled (helia.ts).
    signal.addEventListener('abort', () => noteCancelledRead(signal.reason), { once: true });
    let timer = setTimeout(() => stall.abort(), stallMs);
    let got = 0;
    try {
      for await (const piece of fs.cat(cid, { offset, length, signal })) {
        clearTimeout(timer);
        got += piece.byteLength;
        if (got > length)
          throw new SourceError(
            'E_TOO_LARGE',
            `${this.uri}: ${cid} gave more than the ${length} bytes ${whole ? 'allowed' : 'asked for'}`,
          );
        yield piece;
        timer = setTimeout(() => stall.abort(), stallMs);
      }
    } catch (err) {
      throw this.mapError(err, cid, opts.signal, stall.signal, stallMs);
    } finally {
      clearTimeout(timer);
    }
  }

  private async guard<T>(
    cid: CID,
    outer: AbortSignal | undefined,
    run: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const stallMs = this.init.stallMs ?? IPFS_STALL_MS;
    const stall = AbortSignal.timeout(stallMs);
    try {
      return await run(outer ? AbortSignal.any([outer, stall]) : stall);
    } catch (err) {
      throw this.mapError(err, cid, outer, stall, stallMs);
    }
  }

  private mapError(
    err: unknown,
    cid: CID,
    outer: AbortSignal | undefined,
    stall: AbortSignal,
    stallMs: number,
  ): DchatError {
    if (err instanceof DchatError) return err;
    if (outer?.aborted) {
      const reason: unknown = outer.reason;
      return reason instanceof DchatError
        ? reason
        : new SourceError('E_ABORTED', `${this.uri}: aborted`, { cause: err });
    }
    if (stall.aborted)
      return new SourceError(
        'E_TIMEOUT',
        `${this.uri}: no block of ${cid} arrived from any IPFS peer in ${Math.round(stallMs / 1000)} s`,
        { cause: err },
      );
    const e = err as Error;
    const code = /NotUnixFS|NotAFile|NoContent|not a file/i.test(`${e?.name} ${e?.message}`)
      ? 'E_MALFORMED'
      : 'E_NETWORK';
    return new SourceError(code, `${this.uri}: ${cid}: ${e?.message ?? String(err)}`, { cause: err });
  }
}

/** A CID from configuration (E_CONFIG) or signed metadata (E_MALFORMED), with a clear message. */
export function parseCid(s: string, code: 'E_CONFIG' | 'E_MALFORMED', what: string): CID {
  try {
    if (s.length > 512) throw new Error('longer than 512 characters');
    return CID.parse(s);
  } catch (cause) {
    throw new DchatError(
      code,
      `${what}: '${s.slice(0, 80)}' is not an IPFS CID (${(cause as Error).message})`,
      {
        cause,
      },
    );
  }
}
