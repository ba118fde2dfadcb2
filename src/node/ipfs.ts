/**
 * The node's IPFS side (DESIGN.md `node/`): an embedded Helia node on the node's own libp2p
 * (sources/ipfs/helia.ts: bitswap only, no public bootstrap, DHT, mDNS, autoTLS, UPnP or delegated
 * routing), so blocks move between this node and the dchat peers it is connected to. It starts at
 * the first need, not with the node: when the node holds a verified release to provide, or a
 * download asks IPFS for bytes; an idle node with nothing to serve never loads Helia
 * (test/node/idle-footprint.test.ts).
 *
 * Providing: every verified package and kept encoded target (a patch, checked against its own signed
 * target by the PackageStore: issue 14), with its chunk table, is imported into the blockstore with
 * Kubo's options (sources/ipfs/kubo-cid.ts) and pinned, but only when the result is the CID the
 * release signed (`custom.ipfs_cid`, `ipfs_chunks_cid`): blocks come from the verified file, never
 * from the network, and peers asking for the signed CID get exactly those. A package an earlier
 * start imported whole (a marker under ipfs/imported/, its root block still in the persistent
 * blockstore) is served as it is; blocks are content-addressed, so a peer checks every one it
 * receives anyway.
 *
 * Retention (`retain`): when keep-N prunes a package, its blocks leave the blockstore too (those
 * no kept package shares), with its marker and pin; without it the blockstore kept a whole copy of
 * every release the node ever held (30 packages' blocks beside 3 packages after a 30-release soak).
 */
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as dagPb from '@ipld/dag-pb';
import type { Libp2p } from '@libp2p/interface';
import { CID } from 'multiformats/cid';
import type { Logger } from 'pino';
import { DchatError, toDchatError } from '../errors.ts';
import type { EmbeddedHelia } from '../sources/ipfs/helia.ts';
import { IpfsSource } from '../sources/ipfs/ipfs-source.ts';
import type { StoredPackage } from './package-store.ts';

export interface NodeIpfsInit {
  libp2p: Libp2p;
  /** $DCHAT_HOME/node: blocks go to ipfs/blocks under it. */
  nodeDir: string;
  log: Logger;
  /** Silence allowed on an IPFS request before that channel fails (E_TIMEOUT). */
  stallMs?: number;
}

export class NodeIpfs {
  private readonly init: NodeIpfsInit;
  private helia: Promise<EmbeddedHelia> | undefined;
  private stopped = false;
  /** Targets provided so far, with their signed CID. */
  private readonly provided = new Map<string, string>();
  /** provideAll and retain, one at a time: a retain never sees half an import. */
  private chain: Promise<void> = Promise.resolve();
  /** The download source for releases with a signed CID (priority of the ipfs kind). */
  readonly source: IpfsSource;

  constructor(init: NodeIpfsInit) {
    this.init = init;
    this.source = new IpfsSource({
      id: 'ipfs',
      uri: 'ipfs:bitswap',
      helia: () => this.node(),
      ...(init.stallMs !== undefined ? { stallMs: init.stallMs } : {}),
    });
  }

  /** True once Helia was started (for status and tests). */
  get started(): boolean {
    return this.helia !== undefined;
  }

  /** Packages this node provides over IPFS: target -> CID. */
  providing(): Record<string, string> {
    return Object.fromEntries(this.provided);
  }

  /** The embedded node, started on first call. */
  node(): Promise<EmbeddedHelia> {
    if (this.stopped) return Promise.reject(toDchatError(new Error('node stopping'), 'E_ABORTED'));
    this.helia ??= import('../sources/ipfs/helia.ts').then(async ({ startHelia }) => {
      const h = await startHelia({
        libp2p: this.init.libp2p,
        blocksDir: join(this.init.nodeDir, 'ipfs', 'blocks'),
      });
      this.init.log.info({ peers: this.init.libp2p.getPeers().length }, 'IPFS (bitswap) started');
      return h;
    });
    return this.helia;
  }

  /** Imports, checks and pins each package that was published with a CID; never throws. */
  provideAll(pkgs: readonly StoredPackage[]): Promise<void> {
    return this.queue(async () => {
      for (const p of pkgs) await this.provide(p);
    });
  }

  private queue(f: () => Promise<void>): Promise<void> {
    const run = this.chain.then(f);
    this.chain = run.catch(() => {});
    return run;
  }

  /**
   * Removes what an earlier import (a marker under ipfs/imported/) left for a package that is not
   * among `kept` (the node's packages and encoded targets after keep-N): the blocks of its DAG and
   * of its chunk table that no kept package shares, its pin and its marker. Runs only once Helia
   * is up (a node that never started it has nothing imported this run; the next start's first
   * retain cleans up). Never throws.
   */
  retain(kept: readonly StoredPackage[]): Promise<void> {
    return this.queue(async () => {
      if (!this.helia || this.stopped) return;
      try {
        const dir = join(this.init.nodeDir, 'ipfs', 'imported');
        const roots = (p: StoredPackage) => [p.target.custom.ipfs_cid, p.target.custom.ipfs_chunks_cid];
        const keepRoots = new Set(kept.flatMap(roots).filter((c): c is string => !!c));
        const stale = (await readdir(dir).catch(() => [] as string[])).filter((m) => !keepRoots.has(m));
        if (stale.length === 0) return;
        const helia = await this.helia;
        const keep = new Map<string, CID>();
        for (const r of keepRoots) await dagBlocks(helia, r, keep);
        let removed = 0;
        for (const m of stale) {
          const chunks = (await readFile(join(dir, m), 'utf8').catch(() => '')).trim();
          const blocks = new Map<string, CID>();
          for (const r of [m, chunks]) if (r) await dagBlocks(helia, r, blocks);
          // Helia refuses to delete a pinned block. Then leaves first, the root last: an
          // interrupted removal is walked again from the root.
          for (const r of [m, chunks]) if (r && !keepRoots.has(r)) await unpin(helia, r);
          for (const [key, cid] of [...blocks].reverse()) {
            if (keep.has(key) || !(await helia.blockstore.has(cid))) continue;
            await helia.blockstore.delete(cid);
            removed++;
          }
          await rm(join(dir, m), { force: true });
          for (const [t, c] of this.provided) if (c === m) this.provided.delete(t);
        }
        this.init.log.info(
          { packages: stale.length, blocks: removed },
          'IPFS blocks of pruned packages removed',
        );
      } catch (err) {
        const e = toDchatError(err);
        this.init.log.warn(
          { error: `${e.code}: ${e.message}` },
          'IPFS blocks of pruned packages not removed',
        );
      }
    });
  }

  /** Imports `p` and its chunk table, and pins them if they hash to the signed CIDs; never throws. */
  async provide(p: StoredPackage): Promise<void> {
    const signed = p.target.custom.ipfs_cid;
    if (!signed || this.provided.has(p.target.path) || this.stopped) return;
    try {
      const helia = await this.node();
      const [{ importFileKubo, importBytesKubo }, { CID }] = await Promise.all([
        import('../sources/ipfs/kubo-cid.ts'),
        import('multiformats/cid'),
      ]);
      const version = CID.parse(signed).version;
      // Imported by an earlier start (the blockstore persists): neither imported nor pinned
      // again. Both read the whole package (the pin walks every block), which at every start cost
      // tens of seconds of CPU and 60-100 MB of resident memory per 135 MB package here; the pin
      // guards against a garbage collection that never runs in the node, and its record lives in
      // memory only (Helia's default datastore). The root block alone proves nothing: a download
      // that asked IPFS for a few chunks (a probe) stored it with only some of the leaves. So a
      // marker written after a whole import says so, and the root block must still be there.
      const marker = join(this.init.nodeDir, 'ipfs', 'imported', signed);
      const imported =
        (await stat(marker).then(
          () => true,
          () => false,
        )) && (await helia.blockstore.has(CID.parse(signed)));
      const cid = imported
        ? CID.parse(signed)
        : await importFileKubo(p.file, { version, blockstore: helia.blockstore });
      if (cid.toString() !== signed) {
        this.init.log.warn(
          { target: p.target.path, signed, computed: cid.toString() },
          'package does not hash to its signed IPFS CID: not provided over IPFS',
        );
        return;
      }
      if (!imported) {
        await pin(helia, cid);
        await mkdir(dirname(marker), { recursive: true });
        // The marker names the chunk table's CID too: both go when the package is pruned.
        await writeFile(marker, p.target.custom.ipfs_chunks_cid ?? '');
      }
      const chunks = p.target.custom.ipfs_chunks_cid;
      if (chunks) {
        const t = await importBytesKubo(p.tableBytes, {
          version: CID.parse(chunks).version,
          blockstore: helia.blockstore,
        });
        if (t.toString() === chunks) await pin(helia, t);
        else
          this.init.log.warn({ target: p.target.path }, 'chunk table does not hash to its signed IPFS CID');
      }
      this.provided.set(p.target.path, signed);
      this.init.log.info({ target: p.target.path, cid: signed }, 'package provided over IPFS');
    } catch (err) {
      const e = toDchatError(err);
      this.init.log.warn({ target: p.target.path, error: `${e.code}: ${e.message}` }, 'IPFS provide failed');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const h = await this.helia?.catch(() => undefined);
    // Helia leaves the libp2p running (it is the node's, stopped after this).
    await Promise.resolve(h?.stop()).catch(() => {});
  }
}

/** More blocks than any package's DAG has (a 1 GiB package in 256 KiB leaves: about 4,100). */
const MAX_DAG_BLOCKS = 1_000_000;

/**
 * Every block of the DAG under `root` held here, by multihash (how blockstores key blocks): dag-pb
 * nodes are read for their links, raw leaves are not read; a block not held is listed, not walked.
 */
async function dagBlocks(helia: EmbeddedHelia, root: string, out: Map<string, CID>): Promise<void> {
  const todo = [CID.parse(root)];
  for (let cid = todo.pop(); cid; cid = todo.pop()) {
    const key = Buffer.from(cid.multihash.bytes).toString('base64');
    if (out.has(key)) continue;
    if (out.size >= MAX_DAG_BLOCKS)
      throw new DchatError('E_TOO_LARGE', `DAG under ${root} has too many blocks`);
    out.set(key, cid);
    if (cid.code !== dagPb.code || !(await helia.blockstore.has(cid))) continue;
    const parts: Uint8Array[] = [];
    for await (const b of helia.blockstore.get(cid)) parts.push(b);
    for (const l of dagPb.decode(Buffer.concat(parts)).Links) todo.push(l.Hash);
  }
}

/** Drops the pin of `root` if it has one (pins live in memory: a restart has none). */
async function unpin(helia: EmbeddedHelia, root: string): Promise<void> {
  const cid = CID.parse(root);
  if (!(await helia.pins.isPinned(cid))) return;
  for await (const _ of helia.pins.rm(cid)) {
    // each unpinned block
  }
}

async function pin(helia: EmbeddedHelia, cid: Parameters<EmbeddedHelia['pins']['add']>[0]): Promise<void> {
  if (await helia.pins.isPinned(cid)) return;
  for await (const _ of helia.pins.add(cid)) {
    // Walks the DAG: every block is already local (imported above), nothing is fetched.
  }
}
