import type { DownloadSource } from '../../model/download-source.ts';
import { MAX_SHARED_MIRRORS } from './messages.ts';

export interface MirrorBookLimits {
  /** Learned mirrors kept in all. */
  maxLearned: number;
  /** Learned mirrors kept from any one peer, so one liar cannot fill the book. */
  maxPerPeer: number;
  /** Added to a learned mirror's priority (lower = preferred) until it proves itself. */
  priorityPenalty: number;
  /** Successful downloads after which a learned mirror ranks with the configured ones. */
  provenAfter: number;
  /** Failures after which a learned mirror is forgotten (making room for others). */
  dropAfterFailures: number;
}

interface Learned<P> {
  source: DownloadSource;
  from: P;
  successes: number;
  failures: number;
}

const PRIORITY_MAX = 1_000_000;
const NONE: readonly DownloadSource[] = Object.freeze([]);
const NO_URIS: ReadonlySet<string> = new Set();

/**
 * Mirror-list sharing (issue 5 item 3). Peers tell each other which mirrors they use; a mirror
 * learned this way is untrusted transport (every byte is verified anyway), so it is kept apart:
 * origin 'learned', capped in number overall and per peer, ranked after every configured mirror
 * until downloads from it succeed, and forgotten after repeated failures. Only configured and
 * proven mirrors are passed on, so gossip does not launder a stranger's URL across the network.
 */
export class MirrorBook<P> {
  private configured: readonly DownloadSource[] = NONE;
  private configuredUris: ReadonlySet<string> = NO_URIS;
  // Created on first use: most simulated nodes never learn a mirror, and 100,000 empty Maps cost.
  private learnedMap: Map<string, Learned<P>> | undefined;
  private perPeerMap: Map<P, number> | undefined;
  private readonly limits: MirrorBookLimits;
  private shareCache: readonly DownloadSource[] | undefined;

  constructor(configured: readonly DownloadSource[], limits: MirrorBookLimits) {
    this.limits = limits;
    this.reconfigure(configured);
  }

  /** The operator changed the configured list; learned mirrors it now names become configured. */
  reconfigure(configured: readonly DownloadSource[]): void {
    if (configured.length > 0) {
      this.configured = [...configured].sort((a, b) => a.priority - b.priority);
      this.configuredUris = new Set(configured.map((s) => s.uri));
    } else {
      this.configured = NONE;
      this.configuredUris = NO_URIS;
    }
    if (this.learnedMap)
      for (const [uri, l] of this.learnedMap) if (this.configuredUris.has(uri)) this.forget(uri, l);
    this.shareCache = undefined;
  }

  get learnedCount(): number {
    return this.learnedMap?.size ?? 0;
  }

  private get learned(): Map<string, Learned<P>> {
    this.learnedMap ??= new Map();
    return this.learnedMap;
  }

  private get perPeer(): Map<P, number> {
    this.perPeerMap ??= new Map();
    return this.perPeerMap;
  }

  /** Takes mirrors a peer shared; returns how many were new. */
  learn(from: P, sources: readonly DownloadSource[]): number {
    if (sources.length === 0) return 0;
    let added = 0;
    for (const s of sources) {
      if (this.learned.size >= this.limits.maxLearned) break;
      if ((this.perPeer.get(from) ?? 0) >= this.limits.maxPerPeer) break;
      if (this.configuredUris.has(s.uri) || this.learned.has(s.uri) || !isShareableSource(s)) continue;
      // Nothing the peer says about the mirror's track record is believed; it starts from zero.
      const source: DownloadSource = {
        id: s.id,
        source_type: s.source_type,
        uri: s.uri,
        priority: Math.min(PRIORITY_MAX, s.priority + this.limits.priorityPenalty),
        failure_count: 0,
        origin: 'learned',
        ...(s.region === undefined ? {} : { region: s.region }),
      };
      this.learned.set(s.uri, { source, from, successes: 0, failures: 0 });
      this.perPeer.set(from, (this.perPeer.get(from) ?? 0) + 1);
      added++;
    }
    if (added) this.shareCache = undefined;
    return added;
  }

  /** A download from `uri` succeeded or failed (reported by the download engine). */
  report(uri: string, ok: boolean, nowIso?: string): void {
    const l = this.learnedMap?.get(uri);
    if (!l) return;
    if (ok) {
      l.successes++;
      l.failures = 0;
      l.source = { ...l.source, failure_count: 0, ...(nowIso ? { last_success: nowIso } : {}) };
      if (l.successes === this.limits.provenAfter) {
        l.source = {
          ...l.source,
          priority: Math.max(0, l.source.priority - this.limits.priorityPenalty),
        };
        this.shareCache = undefined;
      }
    } else {
      l.failures++;
      l.source = { ...l.source, failure_count: l.source.failure_count + 1 };
      if (l.failures >= this.limits.dropAfterFailures) this.forget(uri, l);
    }
  }

  /** The peer is gone: its unproven mirrors go with it (its proven ones earned their place). */
  forgetPeer(from: P): void {
    if (!this.perPeerMap?.has(from)) return;
    for (const [uri, l] of this.learned)
      if (l.from === from && l.successes < this.limits.provenAfter) this.forget(uri, l);
    this.perPeerMap.delete(from);
  }

  /** Every mirror, best first: configured ones by priority, then proven learned, then unproven. */
  ranked(): DownloadSource[] {
    const proven: DownloadSource[] = [];
    const unproven: DownloadSource[] = [];
    for (const l of this.learnedMap?.values() ?? [])
      (l.successes >= this.limits.provenAfter ? proven : unproven).push(l.source);
    const byPriority = (a: DownloadSource, b: DownloadSource) => a.priority - b.priority;
    return [...this.configured, ...proven.sort(byPriority), ...unproven.sort(byPriority)];
  }

  /** What we tell peers: configured and proven mirrors only, at most a message's worth. */
  shareable(): readonly DownloadSource[] {
    if (!this.shareCache) {
      const proven = [...(this.learnedMap?.values() ?? [])]
        .filter((l) => l.successes >= this.limits.provenAfter)
        .map((l) => l.source);
      this.shareCache = [...this.configured, ...proven].slice(0, MAX_SHARED_MIRRORS);
    }
    return this.shareCache;
  }

  private forget(uri: string, l: Learned<P>): void {
    this.learned.delete(uri);
    const n = (this.perPeer.get(l.from) ?? 1) - 1;
    if (n > 0) this.perPeer.set(l.from, n);
    else this.perPeer.delete(l.from);
    this.shareCache = undefined;
  }
}

/**
 * Only URIs a download source can actually use are learned: https for HTTP-style sources, ipfs
 * for IPFS, magnet for BitTorrent. Anything else (file:, http:, javascript:, credentials in the
 * URL) is a way to point a node at something local or to leak secrets, not a mirror.
 */
export function isShareableSource(s: DownloadSource): boolean {
  const uri = s.uri;
  switch (s.source_type) {
    case 'Ipfs':
      return /^(ipfs:\/\/|\/ipfs\/)[A-Za-z0-9]+(\/[^\s]*)?$/.test(uri) || isHttpsUrl(uri);
    case 'BitTorrent':
      return /^magnet:\?xt=urn:btih:[A-Za-z0-9]{32,40}(&[^\s]*)?$/.test(uri);
    default:
      return isHttpsUrl(uri);
  }
}

function isHttpsUrl(uri: string): boolean {
  if (!URL.canParse(uri)) return false;
  const u = new URL(uri);
  return u.protocol === 'https:' && u.username === '' && u.password === '' && u.hostname !== '';
}
