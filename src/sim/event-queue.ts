/**
 * The simulator's clock: a 4-ary min-heap of events ordered by virtual time, ties broken by
 * insertion order so a run is deterministic. Nothing here is an object per event. Each heap entry
 * is three numbers side by side in one Float64Array (time, sequence, slot), so a sift step reads
 * one or two cache lines, and a 4-ary heap is half as deep as a binary one: with a million
 * pending events, memory latency, not arithmetic, is what a pop costs. The event's fields live in
 * typed arrays indexed by a recycled slot. `pop()` copies the earliest event into the `cur*`
 * registers and frees its slot at once.
 */
export class EventQueue<T> {
  /** Heap entry k: h[3k] time, h[3k+1] insertion sequence, h[3k+2] slot. */
  private h = new Float64Array(3 * 1024);
  // Event fields by slot.
  private kind = new Uint8Array(1024);
  private fa = new Int32Array(1024);
  private fb = new Int32Array(1024);
  private fc = new Int32Array(1024);
  private fd = new Int32Array(1024);
  private payload: (T | undefined)[] = new Array(1024);
  private free = new Int32Array(1024);
  private freeTop = 0;
  private nextSlot = 0;
  private count = 0;
  private nextSeq = 0;

  curTime = 0;
  curKind = 0;
  curA = 0;
  curB = 0;
  curC = 0;
  curD = 0;
  curPayload: T | undefined;

  get size(): number {
    return this.count;
  }

  /** Time of the earliest event (Infinity when empty). */
  peekTime(): number {
    return this.count === 0 ? Number.POSITIVE_INFINITY : (this.h[0] as number);
  }

  push(time: number, kind: number, a = 0, b = 0, c = 0, d = 0, payload?: T): void {
    let s: number;
    if (this.freeTop > 0) s = this.free[--this.freeTop] as number;
    else {
      if (this.nextSlot === this.kind.length) this.growSlots();
      s = this.nextSlot++;
    }
    this.kind[s] = kind;
    this.fa[s] = a;
    this.fb[s] = b;
    this.fc[s] = c;
    this.fd[s] = d;
    this.payload[s] = payload;
    if (3 * this.count === this.h.length) this.growHeap();
    const seq = this.nextSeq++;
    const h = this.h;
    let i = this.count++;
    while (i > 0) {
      const p = (i - 1) >> 2;
      const pt = h[3 * p] as number;
      if (pt < time || (pt === time && (h[3 * p + 1] as number) < seq)) break;
      h[3 * i] = pt;
      h[3 * i + 1] = h[3 * p + 1] as number;
      h[3 * i + 2] = h[3 * p + 2] as number;
      i = p;
    }
    h[3 * i] = time;
    h[3 * i + 1] = seq;
    h[3 * i + 2] = s;
  }

  /** Moves the earliest event into the cur* fields; false when there is none. */
  pop(): boolean {
    if (this.count === 0) return false;
    const h = this.h;
    const top = h[2] as number;
    this.curTime = h[0] as number;
    this.curKind = this.kind[top] as number;
    this.curA = this.fa[top] as number;
    this.curB = this.fb[top] as number;
    this.curC = this.fc[top] as number;
    this.curD = this.fd[top] as number;
    this.curPayload = this.payload[top];
    this.payload[top] = undefined;
    this.free[this.freeTop++] = top;
    const n = --this.count;
    if (n === 0) return true;
    // Sift the last entry down from the root.
    const lt = h[3 * n] as number;
    const ls = h[3 * n + 1] as number;
    const lslot = h[3 * n + 2] as number;
    let i = 0;
    for (;;) {
      const first = 4 * i + 1;
      if (first >= n) break;
      const last = Math.min(first + 4, n);
      let c = first;
      let ct = h[3 * first] as number;
      let cs = h[3 * first + 1] as number;
      for (let k = first + 1; k < last; k++) {
        const kt = h[3 * k] as number;
        if (kt < ct || (kt === ct && (h[3 * k + 1] as number) < cs)) {
          c = k;
          ct = kt;
          cs = h[3 * k + 1] as number;
        }
      }
      if (lt < ct || (lt === ct && ls < cs)) break;
      h[3 * i] = ct;
      h[3 * i + 1] = cs;
      h[3 * i + 2] = h[3 * c + 2] as number;
      i = c;
    }
    h[3 * i] = lt;
    h[3 * i + 1] = ls;
    h[3 * i + 2] = lslot;
    return true;
  }

  private growHeap(): void {
    const h = new Float64Array(this.h.length * 2);
    h.set(this.h);
    this.h = h;
  }

  private growSlots(): void {
    const n = this.kind.length * 2;
    const i32 = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    const k = new Uint8Array(n);
    k.set(this.kind);
    this.kind = k;
    this.fa = i32(this.fa);
    this.fb = i32(this.fb);
    this.fc = i32(this.fc);
    this.fd = i32(this.fd);
    this.free = i32(this.free);
    this.payload.length = n;
  }
}
