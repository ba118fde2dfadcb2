import { GOSSIP_FORMAT, type GossipMessage } from '../gossip/core/messages.ts';
import type { Rng } from '../gossip/core/rng.ts';
import { SIM_FORGED_VERSION, simAnnouncement, type World } from './world.ts';

/** One message an attacker sends, with the size it claims on the wire. */
export interface AttackMessage {
  message: GossipMessage;
  bytes: number;
}

/**
 * The mixed-mode attacker's burst, sent to each of its peers right after publication (issue 5
 * item 8: forge announcements, replay old versions, spam). Built once per attacker and sent to
 * every peer, as a real attacker would reuse its material:
 *  - a forged announcement of a higher version (fails validation: must be dropped, not relayed);
 *  - a replay of the old genuine release with a fresh id and a maximal ttl (must be ignored);
 *  - `spamPerPeer` IHAVEs of releases that do not exist (promises it will never keep);
 *  - one message over the size cap.
 * Every attacker also swallows everything it receives, in both modes.
 */
export function attackBurst(world: World, rng: Rng, maxMessageBytes: number): AttackMessage[] {
  const size = world.opts.announcementBytes;
  const forged = simAnnouncement(rng.uuid(), SIM_FORGED_VERSION, world.opts.ttl, false);
  const replay = { ...world.oldRelease, id: rng.uuid(), ttl: 255 };
  const out: AttackMessage[] = [
    {
      message: { format: GOSSIP_FORMAT, type: 'announce', kind: 'release', announcement: forged },
      bytes: size,
    },
    {
      message: { format: GOSSIP_FORMAT, type: 'announce', kind: 'release', announcement: replay },
      bytes: size,
    },
  ];
  for (let k = 0; k < world.opts.spamPerPeer; k++) {
    out.push({
      message: {
        format: GOSSIP_FORMAT,
        type: 'ihave',
        items: [{ id: rng.uuid(), version: SIM_FORGED_VERSION }],
      },
      bytes: 122,
    });
  }
  out.push({
    message: { format: GOSSIP_FORMAT, type: 'announce', kind: 'release', announcement: forged },
    bytes: maxMessageBytes + 1,
  });
  return out;
}
