/**
 * One interface for every transport that can hand us bytes of a release: local cache, HTTPS
 * mirror, IPFS, peer transfer, BitTorrent, GitHub Releases, F-Droid. A Source never decides
 * trust: it returns bytes, the download engine verifies each chunk against the signed chunk table
 * and the whole file against the signed target before anything is kept.
 */
import type { DchatError } from '../errors.ts';
import type { PackageTarget } from '../model/package.ts';
import { parsePackageName } from '../model/platform.ts';
import type { SourceKind } from '../model/source-kind.ts';

/** A source's kind, from the one vocabulary in model/source-kind.ts. */
export type SourceType = SourceKind;

export interface FetchOptions {
  signal?: AbortSignal;
  /** Hard cap: a source that sends more than this fails with E_TOO_LARGE (endless data). */
  maxBytes: number;
  /**
   * For fetchChunkTable: the signed chunk size of the target, so a source that stores no table
   * (BitTorrent) can derive one from the whole file; the engine checks it like any other.
   */
  chunkSize?: number;
  /** The package's signed IPFS CIDs (custom.ipfs_cid, ipfs_chunks_cid), for content-addressed sources. */
  ipfs?: { cid?: string; chunksCid?: string };
  /**
   * The target's signed BitTorrent info hash and magnet (custom.btih, magnet): a torrent source
   * whose own torrent lacks the target (a patch of the release it names) joins this one instead.
   */
  torrent?: { btih: string; magnet?: string };
}

/** The `ipfs` hint of requests for `custom` (undefined when the release has no CID). */
export function ipfsHint(custom: {
  ipfs_cid?: string | undefined;
  ipfs_chunks_cid?: string | undefined;
}): FetchOptions['ipfs'] {
  if (!custom.ipfs_cid && !custom.ipfs_chunks_cid) return undefined;
  return {
    ...(custom.ipfs_cid ? { cid: custom.ipfs_cid } : {}),
    ...(custom.ipfs_chunks_cid ? { chunksCid: custom.ipfs_chunks_cid } : {}),
  };
}

/**
 * Whether a channel whose address names one package's bytes (an `ipfs://CID` mirror, a gateway
 * URL, a magnet) may be asked for `target`: a package, or an encoded target (a patch: no package
 * name) only by a signed address of its own (`own`: its CID or info hash), never the package's.
 */
export function servesByOwnAddress(target: PackageTarget, own: string | undefined): boolean {
  return parsePackageName(target.path) !== undefined || own !== undefined;
}

/** The `torrent` hint of requests for `custom` (undefined when the target has no info hash). */
export function torrentHint(custom: {
  btih?: string | undefined;
  magnet?: string | undefined;
}): FetchOptions['torrent'] {
  if (!custom.btih) return undefined;
  return { btih: custom.btih, ...(custom.magnet ? { magnet: custom.magnet } : {}) };
}

export interface RangeRequest extends FetchOptions {
  /** TUF target path, e.g. "dchat-1.0.0-linux-x64". */
  target: string;
  /** SHA-256 of the target (lets consistent-snapshot mirrors and content stores find it). */
  sha256: string;
  /** Byte range [start, end) of the package. */
  start: number;
  end: number;
}

export interface Source {
  readonly id: string;
  readonly type: SourceType;
  /** Human-readable location (URL, multiaddr, CID), for logs and reports. */
  readonly uri: string;
  /**
   * A metadata file of the TUF repository ("timestamp.json", "3.snapshot.json", "2.root.json"),
   * or undefined when the source says it does not exist (HTTP 404): the root chain stops there.
   * Sources that cannot serve metadata return undefined.
   */
  fetchMetadata(name: string, opts: FetchOptions): Promise<Uint8Array | undefined>;
  /**
   * True for a source that stores no chunk table but derives one from the whole package when
   * given `chunkSize` (BitTorrent): asked last, with a longer deadline (download/chunk-table.ts).
   */
  readonly derivesChunkTable?: boolean;
  /**
   * A download of `target` starts: a source with a slow start (BitTorrent: tracker, peers, torrent
   * metadata) begins it now, while the chunk table is fetched. Never throws.
   */
  prepare?(target: string): void;
  /**
   * Coded failures of the peers behind this source that it dropped itself (a BitTorrent peer
   * sending pieces that fail their hash): the source kept working, the report lists them.
   */
  readonly peerFailures?: readonly { code: string; message: string }[];
  /** The chunk table kept beside a package, or undefined if this source has none. */
  fetchChunkTable(target: string, opts: FetchOptions): Promise<Uint8Array | undefined>;
  /**
   * The rebuild attestations kept beside a package (`<target>.intoto.jsonl`), or undefined when
   * this source has none. Optional: only sources laid out like a mirror directory serve them.
   */
  fetchAttestations?(target: string, opts: FetchOptions): Promise<Uint8Array | undefined>;
  /** Bytes [start, end) of a package. Must return exactly end-start bytes or throw a SourceError. */
  fetchRange(req: RangeRequest): Promise<Uint8Array>;
  /**
   * Optional streaming form for long ranges (one HTTP request for many chunks): yields the bytes
   * of [start, end) in order, in pieces of any size, and never more than end-start bytes in total.
   */
  streamRange?(req: RangeRequest): AsyncIterable<Uint8Array>;
  /**
   * Whether this source can have `target` at all (an F-Droid repository carries APKs only). False
   * leaves the source out of that download: it is neither asked nor blamed for not having it.
   */
  serves?(target: PackageTarget): boolean;
  close?(): Promise<void>;
}

/** What a source reports when it fails, so the planner can penalise it. */
export interface SourceFailure {
  source: string;
  error: DchatError;
}

/** fetchRange for sources that stream: gathers streamRange's pieces into one exact-size buffer. */
export async function collectRange(
  pieces: AsyncIterable<Uint8Array>,
  req: RangeRequest,
): Promise<Uint8Array> {
  const out = Buffer.allocUnsafe(req.end - req.start);
  let off = 0;
  for await (const piece of pieces) {
    out.set(piece, off);
    off += piece.byteLength;
  }
  return out;
}
