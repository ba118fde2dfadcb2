/**
 * What a node is started with, and the records it keeps about itself ($DCHAT_HOME/node/state.json,
 * its downloads): the shapes shared by the daemon and the `node` commands.
 */

import type { KeyObject } from 'node:crypto';
import type { GossipConfig } from '../gossip/core/index.ts';
import type { ChunkServerInit } from '../gossip/libp2p/chunks.ts';
import type { HeightSource } from '../governance/height-source.ts';
import type { SourceKind } from '../model/source-kind.ts';
import type { BitTorrentNodeConfig } from './bittorrent.ts';
import type { HeightSourceSpec } from './heights.ts';

export const NODE_ROLES = ['validator', 'relay', 'user'] as const;
export type NodeRole = (typeof NODE_ROLES)[number];

export interface NodeConfig {
  listen: string[];
  bootstrap: string[];
  role: NodeRole;
  /** Download (from peers) and verify every newly trusted release for `platform`. */
  prefetch: boolean;
  /** Prefetch from this kind of source only (`--prefetch-source`); all kinds when undefined. */
  prefetchSource?: SourceKind;
  platform: string;
  /** Hops put on announcements this node originates. */
  announceTtl: number;
  gossip?: Partial<GossipConfig>;
  /** How often unconnected bootstrap peers are redialled. */
  redialMs: number;
  /** Reference time of trust (expiry) decisions; the CLI passes its clock (DCHAT_FAKE_NOW). */
  clock?: () => Date;
  /** The process environment (TLS roots for HTTPS mirrors: NODE_EXTRA_CA_CERTS). */
  env?: NodeJS.ProcessEnv;
  /** Seeding verified packages over BitTorrent, and the tracker this node may run (node/bittorrent.ts). */
  bittorrent?: BitTorrentNodeConfig;
  /** The network's block height (governance voting periods, activation); none: time only. */
  heightSource?: HeightSource;
  /** Where the height comes from (node/heights.ts); default: validator-signed beacons. */
  height?: { spec: HeightSourceSpec; validatorKey?: { privateKey: KeyObject; publicKeyHex: string } };
  /** This node's software version (its handshake; soft-fork rules). */
  version?: string;
  /** Test harness only (chaos-byzantine): corrupt served chunks. */
  chunkServer?: Pick<ChunkServerInit, 'tamper'>;
}

export const DEFAULT_LISTEN = '/ip4/127.0.0.1/tcp/0';

export interface NodeState {
  format: 'dchat.node-state/1';
  peer_id: string;
  pid: number;
  role: NodeRole;
  addresses: string[];
  started_at: string;
  control_socket: string;
}

export interface DownloadRecord {
  target: string;
  version: string;
  state: 'downloading' | 'verified' | 'failed';
  attempts: number;
  error?: string;
  /** Verified bytes by peer id, and by source (mirror URL or the peer source), of the last attempt. */
  peers?: Record<string, number>;
  sources?: Record<string, number>;
}
