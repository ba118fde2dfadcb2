/**
 * Caps on every untrusted length and count. Anything larger is refused with E_TOO_LARGE before it
 * is parsed or stored: endless data and memory exhaustion are attacks, not edge cases.
 */
export const LIMITS = {
  /** TUF root.json (tuf-js uses the same default). */
  rootBytes: 512_000,
  /** timestamp.json (tuf-js default). */
  timestampBytes: 16_384,
  /** snapshot.json when no length is given by the timestamp. */
  snapshotBytes: 2_000_000,
  /** targets.json when no length is given by the snapshot. */
  targetsBytes: 5_000_000,
  /** Chunk table file kept beside a package. */
  chunkTableBytes: 4_000_000,
  /** A dchat-sign .sig document. */
  signatureFileBytes: 8_192,
  /** Largest package we ever accept (16 GiB). */
  packageBytes: 16 * 1024 ** 3,
  /** Root chain steps followed in one update (tuf-js: maxRootRotations). */
  maxRootRotations: 256,
  /** Keys in a root, signatures on a document. */
  maxKeys: 64,
  maxSignatures: 64,
  /** Targets listed in one targets.json. */
  maxTargets: 10_000,
  /** Length of any free-form string we keep (URLs, notes, names). */
  maxString: 2_048,
  /** A gossip message on the wire. */
  gossipMessageBytes: 256 * 1024,
  /** Config files we read (mirrors.toml, auto_update_config.json). */
  configBytes: 1_000_000,
  /** Mirrors in mirrors.toml. */
  maxMirrors: 256,
} as const;

/** Default chunk size of the chunk table: 1 MiB. */
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
/** Allowed chunk sizes: powers of two from 16 KiB to 16 MiB. */
export const MIN_CHUNK_SIZE = 16 * 1024;
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
