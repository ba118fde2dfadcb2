/**
 * Which chunks each source fetches (pure). Missing chunks are handed out as contiguous runs, so an
 * HTTPS mirror serves many chunks with one long Range request; with several sources the remaining
 * work is shared between them, and a source that runs out of work takes over the tail of the
 * largest run still in flight (work stealing), so a slow source never holds up the end.
 */

const MISSING = 0;
const ASSIGNED = 1;
const DONE = 2;

/** Chunks [next, end) of one source's current run. `end` may shrink when another source steals. */
export interface Assignment {
  readonly id: number;
  readonly sourceId: string;
  next: number;
  end: number;
}

export interface AssignOptions {
  /** Sources expected to share the remaining work (the run is about 1/share of it). */
  share: number;
  /** Upper bound on a run, in chunks (bounds memory held for reordering with several sources). */
  maxRunChunks: number;
  /** Look for missing chunks from this index first, then wrap round (default 0). */
  from?: number;
}

/** Chunks a source must not be given (it lacks them, or holds them damaged). */
export interface ChunkFilter {
  has(index: number): boolean;
}

export class ChunkScheduler {
  readonly count: number;
  private readonly status: Uint8Array;
  private readonly running = new Map<number, Assignment>();
  private doneCount = 0;
  private missingCount: number;
  private nextId = 1;
  /** No missing chunk below this index (search hint). */
  private low = 0;

  constructor(count: number, done: Iterable<number> = []) {
    this.count = count;
    this.status = new Uint8Array(count);
    for (const i of done) {
      if (i >= 0 && i < count && this.status[i] !== DONE) {
        this.status[i] = DONE;
        this.doneCount++;
      }
    }
    this.missingCount = count - this.doneCount;
  }

  get done(): number {
    return this.doneCount;
  }

  /** Chunks neither done nor in a run. */
  get unassigned(): number {
    return this.missingCount;
  }

  isComplete(): boolean {
    return this.doneCount === this.count;
  }

  isDone(index: number): boolean {
    return this.status[index] === DONE;
  }

  active(): Assignment[] {
    return [...this.running.values()];
  }

  /**
   * The next run of missing chunks for `sourceId`, or undefined when none is left to hand out.
   * `exclude`: chunks this source is known not to have intact (it is never given them again).
   */
  assign(sourceId: string, o: AssignOptions, exclude?: ChunkFilter): Assignment | undefined {
    if (this.missingCount === 0) return undefined;
    let low = this.low;
    while (low < this.count && this.status[low] !== MISSING) low++;
    this.low = low;
    const usable = (i: number) => this.status[i] === MISSING && !exclude?.has(i);
    // From `from` on, then wrapping round (a swarm's nodes start at different places).
    const from = Math.max(low, Math.min(this.count, o.from ?? 0));
    let start = from;
    while (start < this.count && !usable(start)) start++;
    if (start >= this.count) {
      start = low;
      while (start < from && !usable(start)) start++;
      if (start >= from) return undefined;
    }
    const want = Math.max(1, Math.min(o.maxRunChunks, Math.ceil(this.missingCount / Math.max(1, o.share))));
    let end = start;
    while (end < this.count && end - start < want && usable(end)) end++;
    return this.open(sourceId, start, end);
  }

  /** Chunk `index` (the next of run `a`) is given back alone; the run moves past it. */
  skip(a: Assignment, index: number): void {
    if (index !== a.next || this.status[index] !== ASSIGNED) return;
    this.status[index] = MISSING;
    this.missingCount++;
    if (index < this.low) this.low = index;
    a.next++;
    if (a.next >= a.end) this.running.delete(a.id);
  }

  /**
   * Work stealing: the back half of the run with the most chunks left (of another source that
   * `canStealFrom` allows), at most `maxChunks` of it, or undefined if no run has at least
   * `minChunks` chunks beyond the one being received.
   */
  steal(
    sourceId: string,
    minChunks = 2,
    canStealFrom: (a: Assignment) => boolean = () => true,
    maxChunks = Number.POSITIVE_INFINITY,
  ): Assignment | undefined {
    let victim: Assignment | undefined;
    for (const a of this.running.values()) {
      if (a.sourceId === sourceId || !canStealFrom(a)) continue;
      if (!victim || a.end - a.next > victim.end - victim.next) victim = a;
    }
    if (!victim) return undefined;
    // The victim is receiving chunk `next` now: only what lies beyond it can move.
    const movable = victim.end - victim.next - 1;
    if (movable < minChunks) return undefined;
    const mid = victim.end - Math.max(1, Math.min(Math.floor(movable / 2), maxChunks));
    const end = victim.end;
    victim.end = mid;
    const a: Assignment = { id: this.nextId++, sourceId, next: mid, end };
    this.running.set(a.id, a);
    return a;
  }

  /** Chunk `index` of run `a` is verified and written: the run moves on. */
  complete(a: Assignment, index: number): void {
    this.markDone(index);
    if (index === a.next) a.next++;
    if (a.next >= a.end) this.running.delete(a.id);
  }

  markDone(index: number): void {
    const s = this.status[index];
    if (s === DONE || s === undefined) return;
    if (s === MISSING) this.missingCount--;
    this.status[index] = DONE;
    this.doneCount++;
  }

  /**
   * The unfinished part of run `a` as a new run for the same source (a dropped connection resumed
   * from its last verified chunk: nobody else gets those chunks meanwhile).
   */
  reopen(a: Assignment): Assignment | undefined {
    if (!this.running.delete(a.id) || a.next >= a.end) return undefined;
    const b: Assignment = { id: this.nextId++, sourceId: a.sourceId, next: a.next, end: a.end };
    this.running.set(b.id, b);
    return b;
  }

  /**
   * Hedging: the rest of run `a` (its source stalls) as a new run for `sourceId`, starting with the
   * chunk `a` is receiving now, which both keep (whichever verifies it first wins); `a` is cut down
   * to that one chunk. Undefined if `a` is not running or has nothing left.
   */
  hedge(a: Assignment, sourceId: string): Assignment | undefined {
    if (!this.running.has(a.id) || a.next >= a.end || a.sourceId === sourceId) return undefined;
    const b: Assignment = { id: this.nextId++, sourceId, next: a.next, end: a.end };
    a.end = a.next + 1;
    this.running.set(b.id, b);
    return b;
  }

  /** The first chunk at or after `a.next` not yet done (chunks another run delivered are passed over). */
  advance(a: Assignment): void {
    while (a.next < a.end && this.status[a.next] === DONE) a.next++;
    if (a.next >= a.end) this.running.delete(a.id);
  }

  /** Gives the unfinished chunks of run `a` back (its source failed or stopped). */
  release(a: Assignment): void {
    if (!this.running.delete(a.id)) return;
    for (let i = a.next; i < a.end; i++) {
      // A chunk a hedging run still fetches stays assigned to it.
      if (this.status[i] === ASSIGNED && !this.covered(i)) {
        this.status[i] = MISSING;
        this.missingCount++;
        if (i < this.low) this.low = i;
      }
    }
    a.end = a.next;
  }

  /** A chunk thought done turned out bad (a resumed chunk failed its re-check): fetch it again. */
  markMissing(index: number): void {
    if (this.status[index] !== DONE) return;
    this.status[index] = MISSING;
    this.doneCount--;
    this.missingCount++;
    if (index < this.low) this.low = index;
  }

  private covered(index: number): boolean {
    for (const r of this.running.values()) if (index >= r.next && index < r.end) return true;
    return false;
  }

  private open(sourceId: string, start: number, end: number): Assignment {
    for (let i = start; i < end; i++) this.status[i] = ASSIGNED;
    this.missingCount -= end - start;
    const a: Assignment = { id: this.nextId++, sourceId, next: start, end };
    this.running.set(a.id, a);
    return a;
  }
}

/** Compact form of a set of chunk indices: sorted [first, last] ranges (resume state on disk). */
export function toRanges(indices: Iterable<number>): [number, number][] {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && last[1] === i - 1) last[1] = i;
    else out.push([i, i]);
  }
  return out;
}

export function fromRanges(ranges: readonly (readonly [number, number])[], count: number): number[] {
  const out: number[] = [];
  for (const [a, b] of ranges) {
    for (let i = Math.max(0, a); i <= Math.min(b, count - 1); i++) out.push(i);
  }
  return out;
}
