/**
 * `node status` (model/control.ts StatusResult) from the node's parts: one key style, snake_case,
 * as the seed's JSON.
 */
import type { BanList, GossipService } from '../gossip/libp2p/adapter.ts';
import type { ChunkServer } from '../gossip/libp2p/chunks.ts';
import type { StatusResult } from '../model/control.ts';
import { LIMITS } from '../model/limits.ts';
import type { NodeHeights } from './heights.ts';
import type { DchatLibp2p } from './libp2p.ts';
import type { DownloadRecord, NodeRole } from './node-config.ts';
import type { StoredPackage } from './package-store.ts';
import { snakeKeys } from './snake-keys.ts';

export interface StatusParts {
  node: DchatLibp2p;
  gossip: GossipService;
  role: NodeRole;
  startedAt: string;
  bans: BanList;
  packages: readonly StoredPackage[];
  downloads: DownloadRecord[];
  badChunks: number;
  chunkServer: ChunkServer | undefined;
  now: number;
  /** Height (source, beacons or chain) and fork rules (fork id, refused peers). */
  heights?: Pick<NodeHeights, 'status'> | undefined;
}

export function renderStatus(p: StatusParts): StatusResult {
  const { node, gossip } = p;
  return {
    peer_id: node.peerId.toString(),
    role: p.role,
    pid: process.pid,
    started_at: p.startedAt,
    addresses: node.getMultiaddrs().map(String),
    connected_peers: node.getPeers().map((peer) => ({
      id: peer.toString(),
      score: round(gossip.peerScore(peer.toString())),
    })),
    mesh_peers: gossip.core.meshPeers(),
    banned_peers: p.bans.list(p.now),
    releases: {
      highest_trusted: gossip.highestTrusted ?? null,
      announcements: gossip.core
        .heldReleases()
        .map((a) => ({ id: a.id, version: a.version, node_id: a.node_id })),
      packages: p.packages.map((pkg) => ({
        target: pkg.target.path,
        version: pkg.target.custom.version,
        platform: pkg.target.custom.platform,
        verified: true,
        source: pkg.origin,
        verified_at: pkg.verifiedAt,
        ...(pkg.fetched
          ? {
              fetched: {
                bytes: pkg.fetched.bytes,
                patch: pkg.fetched.patch,
                saved_bytes: pkg.fetched.savedBytes,
              },
            }
          : {}),
      })),
      downloads: p.downloads,
    },
    mirrors: gossip.core.mirrors(),
    stats: {
      gossip: snakeKeys(gossip.core.stats),
      adapter: snakeKeys(gossip.stats),
      bad_chunks: p.badChunks,
      chunks_served: p.chunkServer?.served ?? 0,
      chunk_requests_refused: p.chunkServer?.refused ?? 0,
    },
    limits: { gossip_message_bytes: LIMITS.gossipMessageBytes },
    ...(p.heights?.status() ?? {}),
  };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
