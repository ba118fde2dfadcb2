/**
 * Deterministic staged rollout (Chrome Omaha's "rollout percentage", made reproducible): a node is
 * in the stage of a release when hash(node id, version) falls under the signed percentage. The same
 * node always lands in the same bucket for a version (no flapping between checks), buckets of
 * different versions are independent (the same nodes are not always first), and anyone can
 * recompute who was in a stage from the node ids alone.
 */
import { sha256Hex } from '../../crypto/hash.ts';

/** 2^48: the first 12 hex digits of the hash, read as an integer, are uniform below it. */
const BUCKET_SPACE = 2 ** 48;

/** The node's bucket for `version`, uniform in [0, 100). */
export function rolloutBucket(nodeId: string, version: string): number {
  // A separator that occurs in neither part keeps ("ab","c") and ("a","bc") apart.
  const h = sha256Hex(`dchat.rollout/1\u0000${nodeId}\u0000${version}`);
  return (Number.parseInt(h.slice(0, 12), 16) / BUCKET_SPACE) * 100;
}

/** In the stage iff bucket < percentage; 100 (or no percentage in the metadata) means everyone. */
export function inRollout(nodeId: string, version: string, percentage: number | undefined): boolean {
  if (percentage === undefined || percentage >= 100) return true;
  if (!(percentage > 0)) return false;
  return rolloutBucket(nodeId, version) < percentage;
}
