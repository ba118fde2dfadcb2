/**
 * The node's libp2p stack: TCP, noise, yamux, identify, the connection manager and a connection
 * gater that refuses banned peers both ways. Gossip is our own protocol on top (`/dchat/gossip/1`,
 * gossip/libp2p/wire.ts), driven by the gossip core; libp2p only carries it. Nothing here dials public infrastructure: no bootstrap list, no mDNS, no DHT, no relay, no
 * UPnP/autoTLS (only the modules named below are present); peers come from --bootstrap and from
 * whoever dials us.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Identify } from '@libp2p/identify';
import { identify, identifyPush } from '@libp2p/identify';
import type { Libp2p, PrivateKey } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import type { BanList } from '../gossip/libp2p/bans.ts';

export type DchatLibp2p = Libp2p<{ identify: Identify }>;

export interface Libp2pInit {
  privateKey: PrivateKey;
  listen: string[];
  bans: BanList;
  maxConnections?: number;
  agentVersion?: string;
}

export async function createNodeLibp2p(init: Libp2pInit): Promise<DchatLibp2p> {
  return createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: init.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: [],
    connectionManager: { maxConnections: init.maxConnections ?? 64 },
    connectionGater: {
      denyDialPeer: (peer) => init.bans.isBanned(peer.toString()),
      denyInboundEncryptedConnection: (peer) => init.bans.isBanned(peer.toString()),
      // Loopback and private addresses are where testnets and LANs live: allowed.
      denyDialMultiaddr: () => false,
    },
    nodeInfo: { name: 'dchat', version: init.agentVersion ?? '0.1.0' },
    services: {
      identify: identify(),
      // Tells connected peers when this node starts serving a protocol late (IPFS's bitswap is
      // started at its first use, node/ipfs.ts), so they ask it for blocks without reconnecting.
      identifyPush: identifyPush(),
    },
  }) as Promise<DchatLibp2p>;
}

/**
 * The bootstrap addresses worth dialling now: valid multiaddrs whose peer (the /p2p/ part) is
 * neither `connected` nor refused by `skip` (e.g. banned). Bad addresses are left out.
 */
export function bootstrapToDial(
  addrs: readonly string[],
  connected: ReadonlySet<string>,
  skip: (peerId: string) => boolean = () => false,
): Multiaddr[] {
  const out: Multiaddr[] = [];
  for (const addr of addrs) {
    let ma: Multiaddr;
    try {
      ma = multiaddr(addr);
    } catch {
      continue;
    }
    const pid = ma.getComponents().find((c) => c.name === 'p2p')?.value;
    if (pid && (connected.has(pid) || skip(pid))) continue;
    out.push(ma);
  }
  return out;
}
