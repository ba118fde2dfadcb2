/**
 * The simulator's clock: a binary min-heap of events ordered by virtual time, ties broken by
 * insertion order so a run is deterministic. Nothing here is an object per event: the heap keeps
 * each entry's time and sequence number beside its slot (so sifting reads contiguous memory, not
 * scattered slots), and the event's fields live in typed arrays indexed by a recycled slot. A
 * 100,000-node run schedules millions of events. `pop()` copies the earliest event into the
 * `cur*` registers and frees its slot at once.
 */
export class EventQueue<T> {
  // Heap order: entry k has time hTime[k], tie-break hSeq[k], fields in slot hSlot[k].
  private hTime = new Float64Array(1024);
  private hSeq = new Float64Array(1024);
  private hSlot = new Int32Array(1024);
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
    return this.count === 0 ? Number.POSITIVE_INFINITY : (this.hTime[0] as number);
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
    if (this.count === this.hTime.length) this.growHeap();
    const seq = this.nextSeq++;
    const hTime = this.hTime;
    const hSeq = this.hSeq;
    const hSlot = this.hSlot;
    let i = this.count++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = hTime[p] as number;
      if (pt < time || (pt === time && (hSeq[p] as number) < seq)) break;
      hTime[i] = pt;
      hSeq[i] = hSeq[p] as number;
      hSlot[i] = hSlot[p] as number;
      i = p;
    }
    hTime[i] = time;
    hSeq[i] = seq;
    hSlot[i] = s;
  }

  /** Moves the earliest event into the cur* fields; false when there is none. */
  pop(): boolean {
    if (this.count === 0) return false;
    const hTime = this.hTime;
    const hSeq = this.hSeq;
    const hSlot = this.hSlot;
    const top = hSlot[0] as number;
    this.curTime = hTime[0] as number;
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
    const lt = hTime[n] as number;
    const ls = hSeq[n] as number;
    const lslot = hSlot[n] as number;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      let ct = hTime[c] as number;
      let cs = hSeq[c] as number;
      const r = c + 1;
      if (r < n) {
        const rt = hTime[r] as number;
        const rs = hSeq[r] as number;
        if (rt < ct || (rt === ct && rs < cs)) {
          c = r;
          ct = rt;
          cs = rs;
        }
      }
      if (lt < ct || (lt === ct && ls < cs)) break;
      hTime[i] = ct;
      hSeq[i] = cs;
      hSlot[i] = hSlot[c] as number;
      i = c;
    }
    hTime[i] = lt;
    hSeq[i] = ls;
    hSlot[i] = lslot;
    return true;
  }

  private growHeap(): void {
    const n = this.hTime.length * 2;
    const t = new Float64Array(n);
    t.set(this.hTime);
    this.hTime = t;
    const q = new Float64Array(n);
    q.set(this.hSeq);
    this.hSeq = q;
    const s = new Int32Array(n);
    s.set(this.hSlot);
    this.hSlot = s;
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
