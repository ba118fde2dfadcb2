/**
 * What the gossip adapter (adapter.ts) needs of a libp2p node, what it is configured with, and
 * what it reports: types only, plus the per-node seed of the core's random choices.
 */
import type { PeerId } from '@libp2p/interface';
import type { VersionAnnouncement } from '../../model/announcement.ts';
import type { DownloadSource } from '../../model/download-source.ts';
import type { TrustStore } from '../../trust/updater.ts';
import type {
  AcceptedVia,
  GossipConfig,
  SignedObject,
  SignedObjectKind,
  ValidateObject,
} from '../core/index.ts';
import type { BanList } from './bans.ts';
import type { RootHistory } from './bundle.ts';
import type { ProtocolHost } from './rpc.ts';

/** What the adapter needs of a libp2p node (narrow, so it can be wired and tested plainly). */
export interface GossipHost extends ProtocolHost {
  peerId: PeerId;
  hangUp(peer: PeerId): Promise<void>;
  addEventListener(type: 'peer:connect' | 'peer:disconnect', fn: (e: CustomEvent<PeerId>) => void): void;
  removeEventListener(type: 'peer:connect' | 'peer:disconnect', fn: (e: CustomEvent<PeerId>) => void): void;
  getPeers(): PeerId[];
  /** Open connections to `peer`, with who dialled (libp2p Connection.direction). */
  getConnections(peer: PeerId): readonly { direction: 'inbound' | 'outbound' }[];
  /** Dials under way (libp2p getDialQueue), to recognise a simultaneous open. */
  getDialQueue(): readonly { peerId?: PeerId | undefined }[];
}

export interface AcceptedRelease {
  announcement: VersionAnnouncement;
  from: string | undefined;
  via: AcceptedVia;
}

/** A signed object (governance) the core accepted; `replaced` is the one it superseded. */
export interface AcceptedObject {
  kind: SignedObjectKind;
  id: string;
  object: SignedObject;
  replaced: string | undefined;
  from: string | undefined;
  via: AcceptedVia;
  proof: unknown;
}

export interface GossipServiceInit {
  trustStore: TrustStore & Partial<RootHistory>;
  bans: BanList;
  config?: Partial<GossipConfig>;
  mirrors?: readonly DownloadSource[];
  /** Hops put on announcements this node originates (default: the core's maxTtl). */
  defaultTtl?: number;
  now?: () => number;
  /** Reference time of expiry decisions (the CLI's clock, DCHAT_FAKE_NOW in tests); default: now. */
  trustClock?: () => Date;
  /** A release was accepted (and, unless local, its trusted state written). */
  onAccepted?: (r: AcceptedRelease) => void;
  onLog?: (level: 'debug' | 'info' | 'warn', msg: string, data?: Record<string, unknown>) => void;
  /** The core's mirror list changed (a peer shared mirrors): every mirror, best first. */
  onMirrorsChanged?: (mirrors: DownloadSource[]) => void;
  /** The signed-object check (governance); absent: the node takes no objects. */
  validateObject?: ValidateObject;
  /** A signed object was accepted (to persist it and act on it). */
  onObject?: (o: AcceptedObject) => void;
  /** Where this node can be reached, put in its announcements as a Peer source. */
  selfAddrs?: () => string[];
}

/** What the adapter counts of the actions it performed (the core keeps its own stats). */
export interface AdapterStats {
  /** Announcements the core rejected as invalid (forged, untrusted key, tampered...). */
  forgedAnnouncements: number;
  /** Releases the core accepted, by how they came: gossip push, anti-entropy sync, our own. */
  acceptedVia: Record<AcceptedVia, number>;
  /** Messages sent, by core message type (hello, announce, ihave, digest, want, bundle...). */
  sentByType: Record<string, number>;
  /** Frames not sent because a peer's queue was full, and frames received. */
  sendDropped: number;
  received: number;
  /** Peers disconnected and banned for their score. */
  refusedPeers: number;
  /** Per peer: messages of theirs that were rejected. */
  rejectedBy: Record<string, number>;
}

/** A per-node seed for the core's random choices (mesh, gossip targets, jitter). */
export function seedOf(peerId: string): number {
  let h = 2166136261;
  for (let i = 0; i < peerId.length; i++) h = Math.imul(h ^ peerId.charCodeAt(i), 16777619);
  return h >>> 0;
}
