/**
 * The one vocabulary of download source kinds (DESIGN.md `sources/`, `update/`): the short names
 * used by `--source`, `--mirror-type`, `Source.type`, download reports and package origins; the
 * seed's DownloadSource.source_type spelling of each (mirrors.toml and gossip carry that one); and
 * the default priority table (the seed's order: cache, HTTPS 10, IPFS 20, peers 30, BitTorrent 40;
 * lower is tried first). Every layer imports these; none spells a kind or a priority itself.
 */

/** Seed SourceType names (DownloadSource.source_type), as written in mirrors.toml and on the wire. */
export const SEED_SOURCE_TYPES = [
  'HttpsMirror',
  'Ipfs',
  'BitTorrent',
  'Gossip',
  'Peer',
  'GitHub',
  'FDroid',
] as const;
export type SeedSourceType = (typeof SEED_SOURCE_TYPES)[number];

export const SOURCE_KINDS = [
  'cache',
  'https',
  'ipfs',
  'peer',
  'bittorrent',
  'github',
  'fdroid',
  'gossip',
] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

export interface SourceKindInfo {
  /** The seed's spelling; undefined for the local cache, which is never a DownloadSource. */
  seed?: SeedSourceType;
  /** Default priority among sources (lower is tried first). */
  priority: number;
  /** May be configured with `update add-mirror --mirror-type` (mirrors.toml). */
  mirror: boolean;
  /** Delivers package bytes (gossip only discovers releases and mirrors). */
  bytes: boolean;
}

export const SOURCE_KIND_INFO: Readonly<Record<SourceKind, SourceKindInfo>> = {
  cache: { priority: 0, mirror: false, bytes: true },
  https: { seed: 'HttpsMirror', priority: 10, mirror: true, bytes: true },
  ipfs: { seed: 'Ipfs', priority: 20, mirror: true, bytes: true },
  peer: { seed: 'Peer', priority: 30, mirror: false, bytes: true },
  // The seed lists gossip discovery at the peers' priority: what it finds is fetched from peers.
  gossip: { seed: 'Gossip', priority: 30, mirror: false, bytes: false },
  bittorrent: { seed: 'BitTorrent', priority: 40, mirror: true, bytes: true },
  github: { seed: 'GitHub', priority: 50, mirror: true, bytes: true },
  fdroid: { seed: 'FDroid', priority: 50, mirror: true, bytes: true },
};

/** Default priority of each kind (the priority table). */
export function defaultPriority(kind: SourceKind): number {
  return SOURCE_KIND_INFO[kind].priority;
}

/** Priority given to a mirror added without `--priority` (spec/CLI.md: default 10). */
export const DEFAULT_MIRROR_PRIORITY = SOURCE_KIND_INFO.https.priority;

export function isSourceKind(s: string): s is SourceKind {
  return (SOURCE_KINDS as readonly string[]).includes(s);
}

/** The kind of a seed source_type. */
export function kindOfSeed(seed: SeedSourceType): SourceKind {
  const k = SOURCE_KINDS.find((k) => SOURCE_KIND_INFO[k].seed === seed);
  return k as SourceKind;
}

/** The seed source_type of a kind (undefined for the cache). */
export function seedOfKind(kind: SourceKind): SeedSourceType | undefined {
  return SOURCE_KIND_INFO[kind].seed;
}

/** A kind named on the command line (any case, seed spelling accepted too), or undefined. */
export function parseSourceKind(flag: string): SourceKind | undefined {
  const s = flag.trim().toLowerCase();
  if (isSourceKind(s)) return s;
  return SOURCE_KINDS.find((k) => SOURCE_KIND_INFO[k].seed?.toLowerCase() === s);
}

/** Kinds `--mirror-type` accepts, in table order. */
export const MIRROR_KINDS: readonly SourceKind[] = SOURCE_KINDS.filter((k) => SOURCE_KIND_INFO[k].mirror);

/** Kinds `update download --source` accepts (everything that delivers bytes, except the cache). */
export const DOWNLOAD_KINDS: readonly SourceKind[] = SOURCE_KINDS.filter(
  (k) => SOURCE_KIND_INFO[k].bytes && k !== 'cache',
);
