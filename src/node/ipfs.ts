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
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Libp2p } from '@libp2p/interface';
import type { Logger } from 'pino';
import { toDchatError } from '../errors.ts';
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
  async provideAll(pkgs: readonly StoredPackage[]): Promise<void> {
    for (const p of pkgs) await this.provide(p);
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
        await writeFile(marker, '');
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

async function pin(helia: EmbeddedHelia, cid: Parameters<EmbeddedHelia['pins']['add']>[0]): Promise<void> {
  if (await helia.pins.isPinned(cid)) return;
  for await (const _ of helia.pins.add(cid)) {
    // Walks the DAG: every block is already local (imported above), nothing is fetched.
  }
}
