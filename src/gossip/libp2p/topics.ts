/** Names on the wire of the libp2p side of dchat gossip. Versioned: a new format is a new name. */

/** gossipsub topic of release announcements (VersionAnnouncement inside a dchat.gossip/1 `announce`). */
export const ANNOUNCE_TOPIC = '/dchat/announce/1';
/**
 * gossipsub topic reserved for governance announcements (proposals, votes, certificates), which
 * take the same validated path once the governance issue defines their messages.
 */
export const GOVERNANCE_TOPIC = '/dchat/governance/1';
/**
 * Direct messages of the gossip core between two connected peers: HELLO on connect (digest and
 * mirror list), periodic DIGEST, WANT and its BUNDLE answers (anti-entropy), MIRRORS updates.
 * One stream per message, one capped frame per stream.
 */
export const DIGEST_PROTOCOL = '/dchat/digest/1';
