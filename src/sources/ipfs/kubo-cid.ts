/**
 * The UnixFS DAG of a package exactly as Kubo's default `ipfs add` builds it, so the CID that
 * `release publish` records in the target's `custom.ipfs_cid` is the one every IPFS tool computes
 * for the same bytes. Kubo's defaults need all four importer options spelled out (the importer's
 * own defaults, and its `profile` option, differ): CIDv0, leaves wrapped in dag-pb (no raw
 * leaves), fixed 256 KiB chunks, a balanced tree of at most 174 links per node. CIDv1 on request
 * is `ipfs add --cid-version 1`: raw leaves, the same chunker and layout.
 *
 * The same options import a verified package into a node's blockstore (ipfs/node.ts), so the blocks
 * a node provides hash to the signed CID.
 */
import { createReadStream } from 'node:fs';
import type { ImporterOptions, WritableStorage } from 'ipfs-unixfs-importer';
import { importByteStream, importBytes } from 'ipfs-unixfs-importer';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import { balanced } from 'ipfs-unixfs-importer/layout';
import type { CID } from 'multiformats/cid';
import { DchatError } from '../../errors.ts';

export type CidVersion = 0 | 1;

/** Kubo's `ipfs add` chunk size and tree width (its defaults since go-ipfs 0.4). */
export const KUBO_CHUNK_BYTES = 262_144;
export const KUBO_MAX_CHILDREN = 174;

/** Importer options that reproduce `ipfs add` (CIDv0) or `ipfs add --cid-version 1`. */
export function kuboImporterOptions(version: CidVersion = 0): ImporterOptions {
  return {
    cidVersion: version,
    rawLeaves: version === 1,
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: KUBO_CHUNK_BYTES }),
    layout: balanced({ maxChildrenPerNode: KUBO_MAX_CHILDREN }),
  };
}

/** A blockstore that keeps nothing: computing a CID needs the blocks hashed, not stored. */
const DISCARD: WritableStorage = { put: async (cid) => cid };

/**
 * Imports the file at `path` into `blockstore` (or only hashes it) with Kubo's options; returns the
 * root CID. Reads the file once, in 256 KiB pieces.
 */
export async function importFileKubo(
  path: string,
  o: { version?: CidVersion; blockstore?: WritableStorage; signal?: AbortSignal } = {},
): Promise<CID> {
  const stream = createReadStream(path, { highWaterMark: KUBO_CHUNK_BYTES });
  try {
    const r = await importByteStream(stream, o.blockstore ?? DISCARD, {
      ...kuboImporterOptions(o.version ?? 0),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    return r.cid;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EISDIR')
      throw new DchatError('E_NOT_FOUND', `cannot read ${path}: ${e.message}`, { cause: err });
    throw err;
  } finally {
    stream.destroy();
  }
}

/** The CID `ipfs add` (or `ipfs add --cid-version 1`) prints for the file at `path`. */
export async function kuboCid(path: string, version: CidVersion = 0): Promise<string> {
  return (await importFileKubo(path, { version })).toString();
}

/** The CID `ipfs add` gives `bytes` (a chunk table), imported into `blockstore` when one is given. */
export async function importBytesKubo(
  bytes: Uint8Array,
  o: { version?: CidVersion; blockstore?: WritableStorage } = {},
): Promise<CID> {
  return (await importBytes(bytes, o.blockstore ?? DISCARD, kuboImporterOptions(o.version ?? 0))).cid;
}
