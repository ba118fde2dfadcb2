/**
 * Wire bytes of a gossip message, encoded once however many peers it goes to: the core hands the
 * same message object to every send of one relay, so the bytes are kept per object (weakly: they go
 * when the message does). A message over the cap is not sent at all.
 */
import { encodeGossipMessage, type GossipMessage } from '../core/index.ts';

export class EncodedOnce {
  private readonly cache = new WeakMap<GossipMessage, Uint8Array>();
  private readonly maxBytes: number;
  private readonly tooLarge: (type: string, error: Error) => void;

  constructor(maxBytes: number, tooLarge: (type: string, error: Error) => void) {
    this.maxBytes = maxBytes;
    this.tooLarge = tooLarge;
  }

  bytes(m: GossipMessage): Uint8Array | undefined {
    let bytes = this.cache.get(m);
    if (bytes) return bytes;
    try {
      bytes = encodeGossipMessage(m, this.maxBytes);
    } catch (err) {
      this.tooLarge(m.type, err as Error);
      return undefined;
    }
    this.cache.set(m, bytes);
    return bytes;
  }
}
