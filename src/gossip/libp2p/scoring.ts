/**
 * gossipsub v1.1 peer scoring for dchat topics. Without per-topic parameters every score stays 0
 * (NOTES.md), so invalid senders would never be graylisted. With these, each message our topic
 * validator REJECTs (forged, untrusted key, malformed, oversized) counts as an invalid delivery:
 * P4 = -(invalid^2) * 10, so the third forgery in a row puts a peer below the graylist threshold
 * and gossipsub ignores everything it sends until the penalty decays. The application score (P5)
 * is the gossip core's own per-peer score (bad chunks, broken promises, rate limits), so a peer
 * that serves bad chunks also loses its standing in the mesh.
 *
 * Honest nodes are never penalised for being quiet: announcements are rare, so the mesh-delivery
 * deficit (P3) and mesh-failure (P3b) weights are 0.
 */
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score';

export const INVALID_MESSAGE_WEIGHT = -10;

export function topicScoreParams(): Partial<TopicScoreParams> {
  return {
    topicWeight: 1,
    timeInMeshWeight: 0.01,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 300,
    firstMessageDeliveriesWeight: 1,
    firstMessageDeliveriesDecay: 0.5,
    firstMessageDeliveriesCap: 10,
    meshMessageDeliveriesWeight: 0,
    meshMessageDeliveriesDecay: 0.5,
    meshMessageDeliveriesCap: 10,
    meshMessageDeliveriesThreshold: 1,
    meshMessageDeliveriesWindow: 10,
    meshMessageDeliveriesActivation: 5000,
    meshFailurePenaltyWeight: 0,
    meshFailurePenaltyDecay: 0.5,
    invalidMessageDeliveriesWeight: INVALID_MESSAGE_WEIGHT,
    // Per decay interval (1 s): 0.99 keeps most of a penalty for about a minute.
    invalidMessageDeliveriesDecay: 0.99,
  };
}

export interface ScoringInit {
  topics: readonly string[];
  /** The gossip core's score of a peer (0 for unknown peers). */
  appScore: (peerId: string) => number;
  /** IPs whose peers are never penalised for sharing an address (loopback testnets). */
  colocationWhitelist?: readonly string[];
}

export function peerScoreParams(init: ScoringInit): Partial<PeerScoreParams> {
  return {
    topics: Object.fromEntries(init.topics.map((t) => [t, topicScoreParams() as TopicScoreParams])),
    topicScoreCap: 10,
    appSpecificScore: (p: string) => init.appScore(p),
    appSpecificWeight: 1,
    IPColocationFactorWeight: -5,
    IPColocationFactorThreshold: 10,
    IPColocationFactorWhitelist: new Set(init.colocationWhitelist ?? []),
    behaviourPenaltyWeight: -10,
    behaviourPenaltyThreshold: 0,
    behaviourPenaltyDecay: 0.2,
    decayInterval: 1000,
    decayToZero: 0.01,
    retainScore: 3600 * 1000,
  };
}

export function peerScoreThresholds(): Partial<PeerScoreThresholds> {
  return {
    gossipThreshold: -10,
    publishThreshold: -50,
    graylistThreshold: -80,
    acceptPXThreshold: 100,
    opportunisticGraftThreshold: 1,
  };
}
