/**
 * `dchat update test-mirrors`: one bounded probe of a mirror. Latency is the time to fetch its
 * timestamp.json (a small file every mirror has); the answer must be real TUF timestamp metadata,
 * signed by the trusted keys when a root is known, not expired and not older than what this node
 * already trusts (a stale mirror is not "operational"). Throughput is measured on up to 1 MiB of a
 * package the trusted targets list, when one is known and time allows.
 */
import type { Metadata, Root, Timestamp } from '@tufjs/models';
import { DchatError, toDchatError } from '../errors.ts';
import { LIMITS } from '../model/limits.ts';
import type { PackageTarget } from '../model/package.ts';
import type { Source } from '../sources/source.ts';
import { parseMetadata } from '../trust/metadata.ts';
import { requireThreshold } from '../trust/signatures.ts';

export interface ProbeContext {
  root?: Root;
  /** The timestamp this node trusts (its version is the floor). */
  timestamp?: Metadata<Timestamp>;
  /** A package to sample for throughput. */
  sample?: PackageTarget;
  now: Date;
  signal: AbortSignal;
}

export interface ProbeResult {
  ok: boolean;
  latencyMs?: number;
  throughputBps?: number;
  error?: DchatError;
}

const SAMPLE_BYTES = 1024 * 1024;

/** Sources that carry packages but no TUF metadata (a torrent): probed on a package sample. */
const PACKAGES_ONLY: ReadonlySet<string> = new Set(['bittorrent']);
/** What a packages-only source is asked for: enough to cross a few pieces, little enough to be quick. */
const PACKAGE_PROBE_BYTES = 256 * 1024;

export async function probeMirror(source: Source, c: ProbeContext): Promise<ProbeResult> {
  if (PACKAGES_ONLY.has(source.type)) return probePackages(source, c);
  const t0 = performance.now();
  let latencyMs: number | undefined;
  try {
    const bytes = await source.fetchMetadata('timestamp.json', {
      maxBytes: LIMITS.timestampBytes,
      signal: c.signal,
    });
    latencyMs = Math.round(performance.now() - t0);
    if (!bytes) throw new DchatError('E_NOT_FOUND', 'no metadata/timestamp.json (not a dchat mirror)');
    const ts = parseMetadata('timestamp', bytes);
    if (c.root) requireThreshold(c.root, 'timestamp', ts, 'timestamp');
    if (ts.signed.isExpired(c.now))
      throw new DchatError(
        'E_EXPIRED',
        `stale: timestamp v${ts.signed.version} expired at ${ts.signed.expires}`,
      );
    const floor = c.timestamp?.signed.version;
    if (floor !== undefined && ts.signed.version < floor)
      throw new DchatError(
        'E_ROLLBACK',
        `stale: timestamp v${ts.signed.version}, this node trusts v${floor}`,
      );
    let throughputBps: number | undefined;
    if (c.sample && c.sample.length > 0 && source.streamRange) {
      const end = Math.min(c.sample.length, SAMPLE_BYTES);
      const t1 = performance.now();
      let n = 0;
      for await (const piece of source.streamRange({
        target: c.sample.path,
        sha256: c.sample.sha256,
        start: 0,
        end,
        maxBytes: end,
        signal: c.signal,
      })) {
        n += piece.byteLength;
      }
      const ms = Math.max(1, performance.now() - t1);
      throughputBps = Math.round((n / ms) * 1000);
    }
    return {
      ok: true,
      latencyMs,
      ...(throughputBps !== undefined ? { throughputBps } : {}),
    };
  } catch (err) {
    const e = toDchatError(err, 'E_NETWORK');
    const reason = c.signal.reason;
    const error =
      c.signal.aborted && !(reason instanceof DchatError)
        ? new DchatError('E_TIMEOUT', 'timeout', { cause: err })
        : reason instanceof DchatError && c.signal.aborted
          ? reason
          : e;
    return { ok: false, ...(latencyMs !== undefined ? { latencyMs } : {}), error };
  }
}

/**
 * A source without metadata (BitTorrent): latency is the time to the first 256 KiB of the trusted
 * sample package (torrent metadata, a peer, hash-checked pieces). It shows the channel delivers; it
 * does not prove the torrent holds the signed bytes (every download checks each chunk for that).
 */
async function probePackages(source: Source, c: ProbeContext): Promise<ProbeResult> {
  if (!c.sample)
    return {
      ok: false,
      error: new DchatError(
        'E_NOT_INITIALIZED',
        'no trusted package to sample yet (run `dchat update check`)',
      ),
    };
  const end = Math.min(c.sample.length, PACKAGE_PROBE_BYTES);
  const t0 = performance.now();
  try {
    const bytes = await source.fetchRange({
      target: c.sample.path,
      sha256: c.sample.sha256,
      start: 0,
      end,
      maxBytes: end,
      signal: c.signal,
    });
    const ms = Math.max(1, performance.now() - t0);
    return { ok: true, latencyMs: Math.round(ms), throughputBps: Math.round((bytes.byteLength / ms) * 1000) };
  } catch (err) {
    const error = c.signal.aborted
      ? new DchatError('E_TIMEOUT', 'timeout', { cause: err })
      : toDchatError(err, 'E_NETWORK');
    return { ok: false, error };
  }
}
