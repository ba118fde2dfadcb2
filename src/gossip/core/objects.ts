import {
  MAX_DIGEST_OBJECTS,
  type SignedObject,
  type SignedObjectKind,
  type SignedObjectOf,
} from './messages.ts';
import { BEACON_TIP_SLOT, type KindRule, type KindRules } from './object-kinds.ts';

/** An accepted signed object as the node keeps it for relaying, IWANT and WANT. */
export interface HeldObject<P> {
  kind: SignedObjectKind;
  id: string;
  object: SignedObject;
  slot: string;
  /** Hops put on every copy this node sends; -1: held quietly, never pushed. */
  relayTtl: number;
  acceptedAt: number;
  knownHave: Set<P>;
  sentTo: Set<P>;
  bundledTo: Set<P>;
  /** Peers this object was sent to as the answer to a request for an object it superseded. */
  answeredTo: Set<P>;
}

export type DigestObject = { kind: SignedObjectKind; id: string };

/**
 * Ids of superseded objects remembered (with their slot), so a request for one is answered with
 * the object that replaced it: a height beacon is superseded every block interval, often between
 * a peer's IHAVE and our IWANT, and an unanswered IWANT is a broken promise (pending-requests.ts).
 */
const MAX_SUPERSEDED = 1024;

/** Kinds always listed in full in a digest (few, and what a late joiner needs first). */
const FIRST_KINDS: readonly SignedObjectKind[] = ['certificate', 'proposal'];

/**
 * The signed objects a node holds, one per slot (object-kinds.ts), each kind capped. The digest
 * lists certificates and proposals first, then a window over the other objects that moves on at
 * every `rotate()`, so periodic anti-entropy covers every held vote and approval in turn.
 */
export class ObjectBook<P> {
  private readonly byId = new Map<string, HeldObject<P>>();
  private readonly bySlot = new Map<string, string>();
  private readonly order = new Map<SignedObjectKind, string[]>();
  /** Superseded id -> its slot, oldest first (insertion order), at most MAX_SUPERSEDED. */
  private readonly superseded = new Map<string, string>();
  private readonly rules: KindRules;
  private window = 0;
  private cachedDigest: DigestObject[] | undefined;

  constructor(rules: KindRules) {
    this.rules = rules;
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: string): HeldObject<P> | undefined {
    return this.byId.get(id);
  }

  /** Held objects of `kind`, oldest first. */
  list(kind: SignedObjectKind): HeldObject<P>[] {
    return (this.order.get(kind) ?? []).map((id) => this.byId.get(id) as HeldObject<P>);
  }

  // Generic over the kind, so a kind's rule takes that kind's objects without a cast (the
  // correlated-union pattern: `KindRules[K]` is `KindRule<K>`).
  private rule<K extends SignedObjectKind>(kind: K): KindRule<K> {
    return this.rules[kind];
  }

  /** The slot key of an object (kind-qualified). */
  slotOf<K extends SignedObjectKind>(kind: K, object: SignedObjectOf<K>, id: string): string {
    return `${kind}|${this.rule(kind).slot(object, id)}`;
  }

  /** 'new': slot free; 'supersedes': replaces the holder; 'replay': the holder stays. */
  standing<K extends SignedObjectKind>(
    kind: K,
    object: SignedObjectOf<K>,
    id: string,
  ): 'new' | 'supersedes' | 'replay' {
    const holderId = this.bySlot.get(this.slotOf(kind, object, id));
    if (holderId === undefined) return 'new';
    const holder = this.byId.get(holderId) as HeldObject<P>;
    // A slot key starts with its kind, so the holder is of kind K too.
    return this.rule(kind).supersedes(object, id, holder.object as SignedObjectOf<K>, holderId)
      ? 'supersedes'
      : 'replay';
  }

  add(
    kind: SignedObjectKind,
    id: string,
    object: SignedObject,
    relayTtl: number,
    now: number,
  ): HeldObject<P> {
    const slot = this.slotOf(kind, object, id);
    const old = this.bySlot.get(slot);
    if (old !== undefined) {
      this.remove(old);
      this.superseded.set(old, slot);
      if (this.superseded.size > MAX_SUPERSEDED)
        this.superseded.delete(this.superseded.keys().next().value as string);
    }
    const held: HeldObject<P> = {
      kind,
      id,
      object,
      slot,
      relayTtl,
      acceptedAt: now,
      knownHave: new Set(),
      sentTo: new Set(),
      bundledTo: new Set(),
      answeredTo: new Set(),
    };
    this.byId.set(id, held);
    this.bySlot.set(slot, id);
    let ids = this.order.get(kind);
    if (!ids) {
      ids = [];
      this.order.set(kind, ids);
    }
    ids.push(id);
    while (ids.length > this.rule(kind).maxHeld) this.remove(ids[0] as string);
    this.cachedDigest = undefined;
    return held;
  }

  private remove(id: string): void {
    const held = this.byId.get(id);
    if (!held) return;
    this.byId.delete(id);
    if (this.bySlot.get(held.slot) === id) this.bySlot.delete(held.slot);
    const ids = this.order.get(held.kind);
    const i = ids?.indexOf(id) ?? -1;
    if (ids && i >= 0) ids.splice(i, 1);
    this.cachedDigest = undefined;
  }

  /** The object now holding the slot of `id`, if `id` was superseded (not merely dropped by a cap). */
  successor(id: string): HeldObject<P> | undefined {
    const slot = this.superseded.get(id);
    if (slot === undefined) return undefined;
    const holder = this.bySlot.get(slot);
    return holder === undefined ? undefined : this.byId.get(holder);
  }

  forgetPeer(peer: P): void {
    for (const held of this.byId.values()) {
      held.knownHave.delete(peer);
      held.sentTo.delete(peer);
      held.bundledTo.delete(peer);
      held.answeredTo.delete(peer);
    }
  }

  /** Moves the digest's window over votes and approvals on (each anti-entropy round). */
  rotate(): void {
    this.window += MAX_DIGEST_OBJECTS;
    this.cachedDigest = undefined;
  }

  /**
   * Up to MAX_DIGEST_OBJECTS ids: the certified height beacon, certificates and proposals newest
   * first, then the window.
   */
  digest(): DigestObject[] {
    if (this.cachedDigest) return this.cachedDigest;
    const out: DigestObject[] = [];
    const tip = this.bySlot.get(`beacon|${BEACON_TIP_SLOT}`);
    if (tip !== undefined) out.push({ kind: 'beacon', id: tip });
    for (const kind of FIRST_KINDS) {
      const ids = this.order.get(kind) ?? [];
      for (let i = ids.length - 1; i >= 0 && out.length < MAX_DIGEST_OBJECTS; i--)
        out.push({ kind, id: ids[i] as string });
    }
    const rest: DigestObject[] = [];
    for (const [kind, ids] of this.order) {
      if (FIRST_KINDS.includes(kind)) continue;
      for (const id of ids) if (id !== tip) rest.push({ kind, id });
    }
    const room = MAX_DIGEST_OBJECTS - out.length;
    if (rest.length > 0 && room > 0) {
      const start = this.window % rest.length;
      for (let i = 0; i < Math.min(room, rest.length); i++)
        out.push(rest[(start + i) % rest.length] as DigestObject);
    }
    this.cachedDigest = out;
    return out;
  }

  /** True if we hold an object that the peer's listed objects lack (it may want our digest). */
  hasUnlisted(theirs: readonly DigestObject[] | undefined): boolean {
    const ours = this.digest();
    if (ours.length === 0) return false;
    if (!theirs || theirs.length === 0) return true;
    const have = new Set(theirs.map((o) => o.id));
    return ours.some((o) => !have.has(o.id));
  }
}
