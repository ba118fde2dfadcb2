import { createHash } from 'node:crypto';

/**
 * Merkle tree hash as RFC 6962 §2.1 defines it (SHA-256, 0x00 leaf and 0x01 node prefixes, split at
 * the largest power of two below n), over the chunk hashes of a package. Only the root is signed;
 * the split rule is what lets a later inclusion proof show one chunk without the whole table.
 */
export function merkleRoot(leaves: readonly Uint8Array[]): Buffer {
  return subtree(leaves, 0, leaves.length);
}

export function merkleRootHex(leavesHex: readonly string[]): string {
  return merkleRoot(leavesHex.map((h) => Buffer.from(h, 'hex'))).toString('hex');
}

function subtree(leaves: readonly Uint8Array[], start: number, end: number): Buffer {
  const n = end - start;
  if (n === 0) return createHash('sha256').digest();
  if (n === 1)
    return createHash('sha256')
      .update(Buffer.of(0))
      .update(leaves[start] as Uint8Array)
      .digest();
  let k = 1;
  while (k * 2 < n) k *= 2;
  return createHash('sha256')
    .update(Buffer.of(1))
    .update(subtree(leaves, start, start + k))
    .update(subtree(leaves, start + k, end))
    .digest();
}
