/**
 * The TUF client's trusted set (TUF 1.0 §5, "detailed client workflow"), over bytes from any
 * channel: a mirror, a peer's gossip, a directory. Pure: the reference time is an argument, no I/O.
 * Each check cites the spec step it implements. Errors carry our stable codes.
 */
import type { Metadata, MetaFile, Root, Snapshot, Targets, Timestamp } from '@tufjs/models';
import { sha256Hex } from '../crypto/hash.ts';
import { DchatError } from '../errors.ts';
import { DEFAULT_MAX_BYTES, parseMetadata } from './metadata.ts';
import { requireThreshold } from './signatures.ts';

export type TimestampOutcome = 'updated' | 'unchanged';

export class TrustedSet {
  readonly referenceTime: Date;
  private _root: Metadata<Root>;
  private _timestamp: Metadata<Timestamp> | undefined;
  private _snapshot: Metadata<Snapshot> | undefined;
  private _targets: Metadata<Targets> | undefined;

  /** §5.2: load the trusted root. An expired initial root is still a valid start of the chain. */
  constructor(rootBytes: Uint8Array, referenceTime: Date) {
    this.referenceTime = referenceTime;
    const root = parseMetadata('root', rootBytes);
    requireThreshold(root.signed, 'root', root, 'trusted root');
    this._root = root;
  }

  get root(): Metadata<Root> {
    return this._root;
  }
  get timestamp(): Metadata<Timestamp> | undefined {
    return this._timestamp;
  }
  get snapshot(): Metadata<Snapshot> | undefined {
    return this._snapshot;
  }
  get targets(): Metadata<Targets> | undefined {
    return this._targets;
  }

  /** §5.3.4-5.3.8: the next root must be signed by the old and the new root, version N+1. */
  updateRoot(bytes: Uint8Array): Metadata<Root> {
    if (this._timestamp) throw new DchatError('E_INTERNAL', 'cannot update root after timestamp');
    const next = parseMetadata('root', bytes);
    // §5.3.5: a threshold of the keys of the trusted root...
    requireThreshold(this._root.signed, 'root', next, `root v${next.signed.version}`);
    // ...and of the new root itself.
    requireThreshold(next.signed, 'root', next, `root v${next.signed.version} (self)`);
    // §5.3.6: rollback.
    const want = this._root.signed.version + 1;
    if (next.signed.version !== want) {
      const code = next.signed.version < want ? 'E_ROLLBACK' : 'E_VERSION_MISMATCH';
      throw new DchatError(code, `root version ${next.signed.version} where ${want} was expected`);
    }
    this._root = next;
    return next;
  }

  /** §5.3.10: after the chain is followed, the final root must not be expired (freeze attack). */
  checkRootFresh(): void {
    if (this._root.signed.isExpired(this.referenceTime)) {
      throw new DchatError(
        'E_EXPIRED',
        `root v${this._root.signed.version} expired at ${this._root.signed.expires}`,
      );
    }
  }

  /**
   * §5.4. `trusted` marks a copy from our own store (loaded for its version, to refuse rollback):
   * its expiry is not checked here, so an expired local copy still protects against rollback.
   */
  updateTimestamp(bytes: Uint8Array, trusted = false): TimestampOutcome {
    if (this._snapshot) throw new DchatError('E_INTERNAL', 'cannot update timestamp after snapshot');
    this.checkRootFresh();
    const next = parseMetadata('timestamp', bytes);
    // §5.4.2: arbitrary software attack.
    requireThreshold(this._root.signed, 'timestamp', next, 'timestamp');
    const prev = this._timestamp;
    if (prev) {
      // §5.4.3.1: rollback of the timestamp itself.
      if (next.signed.version < prev.signed.version) {
        throw new DchatError(
          'E_ROLLBACK',
          `timestamp version ${next.signed.version} is older than the trusted ${prev.signed.version}`,
        );
      }
      if (next.signed.version === prev.signed.version) {
        if (!sameSignedMeta(prev.signed.snapshotMeta, next.signed.snapshotMeta)) {
          throw new DchatError(
            'E_VERSION_MISMATCH',
            `two different timestamps carry version ${next.signed.version}`,
          );
        }
        return 'unchanged';
      }
      // §5.4.3.2: rollback of the snapshot it points to.
      if (next.signed.snapshotMeta.version < prev.signed.snapshotMeta.version) {
        throw new DchatError(
          'E_ROLLBACK',
          `timestamp points to snapshot ${next.signed.snapshotMeta.version}, older than the trusted ${prev.signed.snapshotMeta.version}`,
        );
      }
    }
    this._timestamp = next;
    // §5.4.4: freeze attack (not for our stored copy: see above).
    if (!trusted) this.checkTimestampFresh();
    return 'updated';
  }

  checkTimestampFresh(): void {
    const ts = this.requireTimestamp();
    if (ts.signed.isExpired(this.referenceTime)) {
      throw new DchatError('E_EXPIRED', `timestamp v${ts.signed.version} expired at ${ts.signed.expires}`);
    }
  }

  /** Bytes cap for the snapshot: the length the timestamp signed, else the default cap. */
  snapshotMaxBytes(): number {
    return this.requireTimestamp().signed.snapshotMeta.length ?? DEFAULT_MAX_BYTES.snapshot;
  }

  /** §5.5. `trusted`: our stored copy (hash already checked when it was stored, expiry not yet). */
  updateSnapshot(bytes: Uint8Array, trusted = false): void {
    const ts = this.requireTimestamp();
    if (this._targets) throw new DchatError('E_INTERNAL', 'cannot update snapshot after targets');
    this.checkTimestampFresh();
    const meta = ts.signed.snapshotMeta;
    // §5.5.2: hashes and length that the timestamp signed.
    if (!trusted) checkMetaFile(meta, bytes, 'snapshot');
    const next = parseMetadata('snapshot', bytes, meta.length ?? DEFAULT_MAX_BYTES.snapshot);
    // §5.5.3
    requireThreshold(this._root.signed, 'snapshot', next, 'snapshot');
    // §5.5.5: no file listed by the trusted snapshot may go back or disappear.
    const prev = this._snapshot;
    if (prev) {
      for (const [name, info] of Object.entries(prev.signed.meta)) {
        const now = next.signed.meta[name];
        if (!now) throw new DchatError('E_ROLLBACK', `snapshot v${next.signed.version} drops ${name}`);
        if (now.version < info.version) {
          throw new DchatError(
            'E_ROLLBACK',
            `snapshot lists ${name} version ${now.version}, older than the trusted ${info.version}`,
          );
        }
      }
    }
    this._snapshot = next;
    if (!trusted) this.checkSnapshotFinal();
  }

  /** §5.5.4 and §5.5.6: the final snapshot is the one the timestamp names, and not expired. */
  checkSnapshotFinal(): void {
    const snap = this.requireSnapshot();
    const ts = this.requireTimestamp();
    if (snap.signed.isExpired(this.referenceTime)) {
      throw new DchatError('E_EXPIRED', `snapshot v${snap.signed.version} expired at ${snap.signed.expires}`);
    }
    if (snap.signed.version !== ts.signed.snapshotMeta.version) {
      throw new DchatError(
        'E_VERSION_MISMATCH',
        `snapshot version ${snap.signed.version} is not the ${ts.signed.snapshotMeta.version} the timestamp signed`,
      );
    }
  }

  targetsMeta(): MetaFile {
    const snap = this.requireSnapshot();
    const meta = snap.signed.meta['targets.json'];
    if (!meta) throw new DchatError('E_MALFORMED', 'snapshot does not list targets.json');
    return meta;
  }

  /** §5.6 for the top-level targets role. */
  updateTargets(bytes: Uint8Array, trusted = false): void {
    this.checkSnapshotFinal();
    const meta = this.targetsMeta();
    // §5.6.2
    if (!trusted) checkMetaFile(meta, bytes, 'targets');
    const next = parseMetadata('targets', bytes, meta.length ?? DEFAULT_MAX_BYTES.targets);
    // §5.6.3
    requireThreshold(this._root.signed, 'targets', next, 'targets');
    // §5.6.4: the version the snapshot signed (a different one is a rollback or a fast-forward).
    if (next.signed.version !== meta.version) {
      const code = next.signed.version < meta.version ? 'E_ROLLBACK' : 'E_VERSION_MISMATCH';
      throw new DchatError(
        code,
        `targets version ${next.signed.version} is not the ${meta.version} the snapshot signed`,
      );
    }
    // §5.6.5: freeze.
    if (next.signed.isExpired(this.referenceTime)) {
      throw new DchatError('E_EXPIRED', `targets v${next.signed.version} expired at ${next.signed.expires}`);
    }
    this._targets = next;
  }

  /** The complete, fresh trusted targets, or an error saying what is missing. */
  requireTargets(): Metadata<Targets> {
    if (!this._targets)
      throw new DchatError(
        'E_NOT_INITIALIZED',
        'no trusted targets metadata yet: refresh from a mirror or pass --metadata',
      );
    return this._targets;
  }

  private requireTimestamp(): Metadata<Timestamp> {
    if (!this._timestamp) throw new DchatError('E_NOT_INITIALIZED', 'no trusted timestamp metadata');
    return this._timestamp;
  }

  private requireSnapshot(): Metadata<Snapshot> {
    if (!this._snapshot) throw new DchatError('E_NOT_INITIALIZED', 'no trusted snapshot metadata');
    return this._snapshot;
  }
}

/** Length and hashes that a parent role signed for a metadata file (when it signed them). */
function checkMetaFile(meta: MetaFile, bytes: Uint8Array, what: string): void {
  if (meta.length !== undefined && bytes.byteLength !== meta.length) {
    const code = bytes.byteLength > meta.length ? 'E_TOO_LARGE' : 'E_SIZE_MISMATCH';
    throw new DchatError(code, `${what} is ${bytes.byteLength} bytes, ${meta.length} were signed`);
  }
  const want = meta.hashes?.sha256;
  if (want !== undefined && sha256Hex(bytes) !== want) {
    throw new DchatError('E_HASH_MISMATCH', `${what} does not match the SHA-256 its parent signed`);
  }
}

function sameSignedMeta(a: MetaFile, b: MetaFile): boolean {
  return a.version === b.version && a.length === b.length && a.hashes?.sha256 === b.hashes?.sha256;
}
