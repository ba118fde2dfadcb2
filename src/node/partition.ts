/**
 * A network partition made on purpose (control method `partition`, used by `dchat-test
 * chaos-partition`): the listed peers are put on the ban list the connection gater consults
 * (node/libp2p.ts), so neither side can dial or accept the other, and open connections to them are
 * closed. The bans lapse after `ms`; the node's bootstrap redial then heals the split.
 */
import type { BanList } from '../gossip/libp2p/bans.ts';
import type { ControlParams, ControlResult } from '../model/control.ts';
import type { DchatLibp2p } from './libp2p.ts';

export async function partition(
  node: DchatLibp2p,
  bans: BanList,
  p: ControlParams<'partition'>,
  now: number,
): Promise<ControlResult<'partition'>> {
  const until = now + p.ms;
  const self = node.peerId.toString();
  const refuse = new Set(p.peers.filter((id) => id !== self));
  for (const id of refuse) bans.ban(id, until);
  await Promise.all(
    node
      .getPeers()
      .filter((peer) => refuse.has(peer.toString()))
      .map((peer) => node.hangUp(peer).catch(() => {})),
  );
  const refused = refuse.size;
  return { refused, until: new Date(until).toISOString() };
}
