/**
 * The gossip protocol core: pure, sans-IO, shared by the libp2p adapter (which carries its
 * messages on /dchat/gossip/1) and the simulator, so both run the same protocol.
 */
export type {
  AcceptedVia,
  GossipAction,
  GossipActionSink,
  GossipStats,
  RejectReason,
  ValidateAnnouncement,
  ValidateObject,
  ValidationResult,
} from './actions.ts';
export { emptyStats } from './actions.ts';
export type { GossipConfig } from './config.ts';
export { defaultGossipConfig, resolveGossipConfig } from './config.ts';
export type {
  DecodeResult,
  Digest,
  GossipMessage,
  GossipMessageType,
  MessageOf,
  ObjectKind,
  SignedObject,
  SignedObjectKind,
  SignedObjectOf,
} from './messages.ts';
export {
  decodeGossipMessage,
  encodeGossipMessage,
  GOSSIP_FORMAT,
  GOSSIP_MESSAGE_TYPES,
  MAX_DIGEST_ENTRIES,
  MAX_IDS_PER_MESSAGE,
  MAX_SHARED_MIRRORS,
  OBJECT_KINDS,
  parseGossipMessage,
  SIGNED_OBJECT_KINDS,
} from './messages.ts';
export type { MirrorBookLimits } from './mirror-book.ts';
export { isShareableSource, MirrorBook } from './mirror-book.ts';
export type { GossipNodeInit } from './node.ts';
export { GossipNode } from './node.ts';
export type { KindRule, KindRules } from './object-kinds.ts';
export { KIND_RULES } from './object-kinds.ts';
export { deriveSeed, Rng } from './rng.ts';
