/**
 * A Byzantine node for `dchat-test chaos-byzantine`: a real libp2p process on the same stack as
 * `dchat node start`, that joins the network and lies. Per round it publishes, under fresh
 * announcement ids, to every connected peer over /dchat/gossip/1: forged announcements (genuine
 * bundle, targets altered after signing), announcements signed by a key nobody trusts, replays of
 * an old genuine release, and spam (junk frames, half-formed messages); it serves the real package over
 * /dchat/chunks/1 with corrupted chunks. It never validates anything it receives. Its counters
 * go to $HOME/malicious-stats.json when it stops.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { PeerId } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { z } from 'zod';
import { encodeGossipMessage, GOSSIP_FORMAT } from '../gossip/core/index.ts';
import { BanList } from '../gossip/libp2p/bans.ts';
import { ChunkServer } from '../gossip/libp2p/chunks.ts';
import { GOSSIP_PROTOCOL } from '../gossip/libp2p/wire.ts';
import { type VersionAnnouncement, VersionAnnouncementSchema } from '../model/announcement.ts';
import { loadOrCreateIdentity } from '../node/identity.ts';
import { bootstrapToDial, createNodeLibp2p } from '../node/libp2p.ts';
import { PackageStore } from '../node/package-store.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { loadDefaultRoot } from '../store/default-root.ts';
import type { HomePaths } from '../store/home.ts';
import { FileTrustStore } from '../store/trust-store.ts';
import { loadTrustOffline } from '../trust/updater.ts';

export const AttackPlanSchema = z.object({
  announcements: z
    .array(
      z.object({ kind: z.enum(['forged', 'untrusted', 'replay']), announcement: VersionAnnouncementSchema }),
    )
    .max(16),
  spamPerRound: z.number().int().min(0).max(1000),
  roundMs: z.number().int().min(50).max(60_000),
  rounds: z.number().int().min(1).max(10_000),
  corruptChunks: z.boolean(),
});
export type AttackPlan = z.infer<typeof AttackPlanSchema>;

export interface MaliciousStats {
  forged_announcements: number;
  untrusted_announcements: number;
  replayed_announcements: number;
  spam_messages: number;
  corrupted_chunks_served: number;
  rounds: number;
}

export interface MaliciousNodeHandle {
  peerId: string;
  addresses: string[];
  stats: MaliciousStats;
  stop(): Promise<void>;
}

export async function startMaliciousNode(
  paths: HomePaths,
  plan: AttackPlan,
  bootstrap: string[],
): Promise<MaliciousNodeHandle> {
  const stats: MaliciousStats = {
    forged_announcements: 0,
    untrusted_announcements: 0,
    replayed_announcements: 0,
    spam_messages: 0,
    corrupted_chunks_served: 0,
    rounds: 0,
  };
  const { key } = await loadOrCreateIdentity(paths);
  const node = await createNodeLibp2p({
    privateKey: key,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bans: new BanList(),
  });
  const store = new PackageStore(paths);
  try {
    await store.scan(await loadTrustOffline(new FileTrustStore(paths, await loadDefaultRoot()), new Date()));
  } catch {
    // No package to serve: the attacker only lies in gossip then.
  }
  const server = new ChunkServer(
    node,
    store.chunkBackend(async () => undefined),
    plan.corruptChunks
      ? {
          tamper: (_t, _s, bytes) => {
            stats.corrupted_chunks_served++;
            const out = Buffer.from(bytes);
            out[0] = (out[0] ?? 0) ^ 0xff;
            return out;
          },
        }
      : {},
  );
  await server.start();
  // What honest peers send it is read and thrown away: it never validates or relays anything.
  await node.handle(GOSSIP_PROTOCOL, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: 1 << 20 });
    try {
      for (;;) await lp.read();
    } catch {
      stream.abort(new Error('done'));
    }
  });
  /** One frame to one peer on a fresh stream (a refusal or a ban is the defence working). */
  const sendTo = async (peer: PeerId, bytes: Uint8Array) => {
    try {
      const s = await node.dialProtocol(peer, GOSSIP_PROTOCOL, { signal: AbortSignal.timeout(2000) });
      await lpStream(s).write(bytes);
      await s.close();
    } catch {
      // Refused or banned.
    }
  };
  const publish = async (bytes: Uint8Array) => {
    await Promise.all(node.getPeers().map((p) => sendTo(p, bytes)));
  };
  const round = async () => {
    stats.rounds++;
    for (const { kind, announcement } of plan.announcements) {
      const a: VersionAnnouncement = {
        ...announcement,
        id: randomUUID(),
        timestamp: new Date().toISOString(),
      };
      await publish(
        encodeGossipMessage({ format: GOSSIP_FORMAT, type: 'announce', kind: 'release', announcement: a }),
      );
      if (kind === 'forged') stats.forged_announcements++;
      else if (kind === 'untrusted') stats.untrusted_announcements++;
      else stats.replayed_announcements++;
    }
    for (let i = 0; i < plan.spamPerRound; i++) {
      const junk =
        i % 2 === 0
          ? randomBytes(64 + (i % 512))
          : Buffer.from(`{"format":"${GOSSIP_FORMAT}","type":"announce"}`);
      await publish(junk);
      stats.spam_messages++;
    }
  };

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const loop = async () => {
    if (stopped || stats.rounds >= plan.rounds) return;
    const connected = new Set(node.getPeers().map(String));
    for (const ma of bootstrapToDial(bootstrap, connected))
      node.dial(ma, { signal: AbortSignal.timeout(3000) }).catch(() => {});
    await round().catch(() => {});
    timer = setTimeout(() => void loop(), plan.roundMs);
  };
  void loop();

  const writeStats = () =>
    writeFileAtomic(join(paths.home, 'malicious-stats.json'), `${JSON.stringify(stats, null, 2)}\n`).catch(
      () => {},
    );
  return {
    peerId: node.peerId.toString(),
    addresses: node.getMultiaddrs().map(String),
    stats,
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await writeStats();
      await server.stop();
      try {
        await node.stop();
      } catch {
        // Stopping anyway.
      }
    },
  };
}
