/**
 * Swarm mode of the simulator (DESIGN.md swarm target): F bytes from one seed to N nodes in
 * virtual time, every node running the real download machine (src/download/machine) with the
 * seed and its neighbours as sources. A node serves every chunk it has verified; neighbours hear
 * of it (`sourceHas`) and may fetch it. Transfers are fluid: an uploader serves `uploadSlots`
 * requests at once and shares its upload max-min fairly among them under each downloader's equal
 * share of its download, recomputed every step; upload a flow leaves unused within a step (its
 * chunk ended, its first byte came late) goes to the uploader's other flows. Every byte is
 * charged to both sides' capacity for the step, so no node moves more than u_i*dt up or d_i*dt
 * down (`peakUploadUse`, `peakDownloadUse` <= 1). The seed super-seeds (it serves first the
 * request for the chunk it has sent least). The result is compared with the Kumar-Ross lower
 * bound for a file to N nodes, max(F/u_s, F/d_min, N*F/(u_s + sum u_i)), over the same rates.
 */
import type { HedgeConfig, MachineAction } from '../download/machine/actions.ts';
import { DownloadMachine } from '../download/machine/machine.ts';
import { Rng } from '../gossip/core/rng.ts';
import { defaultPriority } from '../model/source-kind.ts';

export interface SwarmOptions {
  nodes: number;
  fileBytes: number;
  chunkBytes: number;
  /** Upload of the seed, bytes/s. */
  seedUploadBps: number;
  /** Each node's upload and download are drawn uniformly from these ranges, bytes/s. */
  uploadBps: readonly [number, number];
  downloadBps: readonly [number, number];
  /** Neighbours each node picks at random (links are both ways). */
  degree: number;
  /** Fetches a node runs at once. */
  parallel: number;
  /** Chunks per request at most (short runs: a chunk is never tied to a slow fetch for long). */
  runChunks: number;
  /** Requests an uploader serves at once (the others wait their turn, first come first served). */
  uploadSlots: number;
  /** Time to the first byte of a request, ms. */
  latencyMs: number;
  /**
   * Hedging of each node's machine: a swarm's end game (a node's last chunks stuck behind a busy
   * uploader are asked of an idle neighbour) wants it sooner than the mirror default
   * (DEFAULT_HEDGE, 250 ms / 4x), which guards against a trickling HTTPS mirror.
   */
  hedge: HedgeConfig;
  seed: number;
}

export const DEFAULT_SWARM: SwarmOptions = {
  nodes: 1000,
  fileBytes: 64 * 1024 * 1024,
  chunkBytes: 512 * 1024,
  seedUploadBps: 20e6,
  uploadBps: [2e6, 10e6],
  downloadBps: [20e6, 50e6],
  degree: 12,
  parallel: 12,
  runChunks: 1,
  uploadSlots: 4,
  latencyMs: 20,
  hedge: { minMs: 100, factor: 2 },
  seed: 1,
};

export interface SwarmReport {
  format: 'dchat.sim-swarm/1';
  options: SwarmOptions;
  /** Virtual ms until the last node verified the last chunk (Infinity if some never did). */
  ms: number;
  boundMs: number;
  /** ms / boundMs. */
  ratio: number;
  /** Which term of the bound binds: seed, slowest download or total upload. */
  binding: 'seed' | 'download' | 'upload';
  completed: number;
  /** Completion times of the nodes, sorted (the curve). */
  doneMs: number[];
  /** Bytes uploaded by the seed, in files (1 = it sent the file once). */
  seedCopies: number;
  /**
   * The largest share of its upload (resp. download) capacity any node, or the seed, used in any
   * step: <= 1, the model is physically honest (the bound assumes exactly these capacities).
   */
  peakUploadUse: number;
  peakDownloadUse: number;
  /** Sources the machines penalised (a request queued behind an uploader's slots looks stalled). */
  failures: number;
  wallMs: number;
}

/** max(F/u_s, F/d_min, N*F/(u_s + sum u_i)), ms, and which term it is. */
export function kumarRoss(
  fileBytes: number,
  seedUp: number,
  ups: readonly number[],
  downs: readonly number[],
): { ms: number; binding: SwarmReport['binding'] } {
  const seed = fileBytes / seedUp;
  const down = fileBytes / Math.min(...downs);
  const up = (ups.length * fileBytes) / (seedUp + ups.reduce((a, b) => a + b, 0));
  const ms = Math.max(seed, down, up) * 1000;
  const binding = ms === seed * 1000 ? 'seed' : ms === down * 1000 ? 'download' : 'upload';
  return { ms, binding };
}

interface Flow {
  node: number;
  /** Uploader: a node index, or -1 for the seed. */
  from: number;
  fetch: number;
  chunk: number;
  end: number;
  left: number;
  /** Bytes flow from this instant (request latency). */
  startsAt: number;
  /** The uploader serves it (it has one of the uploader's slots until it ends). */
  granted: boolean;
}

const SEED = 'seed';
/** Peers rank as the node ranks them (model/source-kind.ts); the seed just before them. */
const PEER = defaultPriority('peer');

/**
 * How node `i` names neighbour `j`: like a libp2p peer id, a name that sorts in no relation to
 * the swarm's layout (the machine breaks ties between equal peers by id; one global order would
 * send every node's first requests to the same few uploaders).
 */
function peerId(i: number, j: number): string {
  const h = Math.imul((i + 1) ^ Math.imul(j + 1, 0x9e3779b1), 0x85ebca6b) >>> 0;
  return `p${h.toString(36)}-${j}`;
}

/** Each node's upload and download, bytes/s, as `runSwarm` draws them (first use of the rng). */
export function drawRates(o: SwarmOptions, rng = new Rng(o.seed)): { up: number[]; down: number[] } {
  const draw = ([lo, hi]: readonly [number, number]) => lo + rng.next() * (hi - lo);
  const up = Array.from({ length: o.nodes }, () => draw(o.uploadBps));
  const down = Array.from({ length: o.nodes }, () => draw(o.downloadBps));
  return { up, down };
}

export function runSwarm(partial: Partial<SwarmOptions> = {}): SwarmReport {
  const o: SwarmOptions = { ...DEFAULT_SWARM, ...partial };
  const started = performance.now();
  const rng = new Rng(o.seed);
  const n = o.nodes;
  const chunks = Math.ceil(o.fileBytes / o.chunkBytes);
  const len = (i: number) => Math.min(o.chunkBytes, o.fileBytes - i * o.chunkBytes);
  const { up, down } = drawRates(o, rng);
  const bound = kumarRoss(o.fileBytes, o.seedUploadBps, up, down);
  // Random neighbours, both ways.
  const peers: Set<number>[] = Array.from({ length: n }, () => new Set<number>());
  for (let i = 0; i < n; i++)
    for (let k = 0; k < Math.min(o.degree, n - 1); k++) {
      const j = rng.int(n);
      if (j !== i) {
        peers[i]?.add(j);
        peers[j]?.add(i);
      }
    }
  const machines = Array.from({ length: n }, (_, i) => {
    const m = new DownloadMachine(0, {
      chunkCount: chunks,
      chunkSize: o.chunkBytes,
      size: o.fileBytes,
      parallel: o.parallel,
      runBytes: o.runChunks * o.chunkBytes,
      minRateBps: 0,
      progressMs: Number.POSITIVE_INFINITY,
      checkpointMs: Number.POSITIVE_INFINITY,
      checkpointBytes: Number.POSITIVE_INFINITY,
      startAt: rng.int(chunks),
      hedge: o.hedge,
    });
    // The seed first: one of each node's fetches always goes there, so its upload never idles.
    m.sourceAdded(0, { id: SEED, priority: PEER - 1 });
    for (const j of peers[i] as Set<number>)
      m.sourceAdded(0, { id: peerId(i, j), priority: PEER, partial: true });
    return m;
  });
  const flows = new Map<string, Flow>();
  const doneAt: number[] = new Array(n).fill(-1);
  const dirty = new Set<number>();
  let seedBytes = 0;
  /** Chunks the seed began to send, by index (super-seeding). */
  const seedSent = new Uint32Array(chunks);
  let failures = 0;
  let now = 0;
  const key = (node: number, fetch: number) => `${node}:${fetch}`;
  const drain = (i: number) => {
    const m = machines[i] as DownloadMachine;
    for (let a: MachineAction | undefined = m.poll(); a !== undefined; a = m.poll()) {
      if (a.type === 'fetch') {
        const from = a.source === SEED ? -1 : Number(a.source.slice(a.source.indexOf('-') + 1));
        m.requestSent(a.source);
        flows.set(key(i, a.fetch), {
          node: i,
          from,
          fetch: a.fetch,
          chunk: a.start,
          end: a.end,
          left: len(a.start),
          startsAt: now + o.latencyMs,
          granted: false,
        });
      } else if (a.type === 'shrink') {
        const f = flows.get(key(i, a.fetch));
        if (f) f.end = Math.min(f.end, a.end);
      } else if (a.type === 'cancel') {
        if (flows.delete(key(i, a.fetch))) {
          m.fetchEnded(now, a.fetch, { code: 'E_ABORTED', message: a.reason });
          dirty.add(i);
        }
      } else if (a.type === 'done' && doneAt[i] === -1) doneAt[i] = now;
      else if (a.type === 'source-failed') failures++;
    }
  };
  for (let i = 0; i < n; i++) {
    machines[i]?.begin(0);
    drain(i);
  }
  const upLeft = new Float64Array(n + 1);
  const downLeft = new Float64Array(n);
  /** Moves up to `budget` bytes on flow `f` (within both sides' step capacity); chunks that complete are verified. */
  const move = (k: string, f: Flow, budget: number): void => {
    let b = Math.min(budget, upLeft[f.from + 1] as number, downLeft[f.node] as number);
    const m = machines[f.node] as DownloadMachine;
    while (b > 0 && flows.get(k) === f) {
      const take = Math.min(b, f.left);
      b -= take;
      f.left -= take;
      upLeft[f.from + 1] = (upLeft[f.from + 1] as number) - take;
      downLeft[f.node] = (downLeft[f.node] as number) - take;
      if (f.from < 0) seedBytes += take;
      if (f.left > 1e-6) break;
      const c = f.chunk;
      m.received(now, f.fetch, len(c));
      if (m.chunkVerified(now, f.fetch, c))
        for (const j of peers[f.node] as Set<number>) {
          machines[j]?.sourceHas(peerId(j, f.node), c);
          dirty.add(j);
        }
      drain(f.node);
      if (flows.get(k) !== f) break;
      f.chunk++;
      if (f.chunk >= f.end) {
        flows.delete(k);
        m.fetchEnded(now, f.fetch);
        drain(f.node);
        break;
      }
      f.left = len(f.chunk);
      if (f.from < 0) seedSent[f.chunk] = (seedSent[f.chunk] as number) + 1;
    }
  };
  const dt = Math.max(1, bound.ms / 400);
  const horizon = 20 * bound.ms;
  const nDown = new Float64Array(n);
  let left = n;
  let peakUp = 0;
  let peakDown = 0;
  while (left > 0 && now < horizon) {
    now += dt;
    nDown.fill(0);
    // Rates: a downloader splits its download evenly; an uploader shares its upload max-min
    // fairly among its fetches under those caps (what one TCP bottleneck per side gives).
    const byUploader = new Map<number, Flow[]>();
    for (const f of flows.values()) {
      if (f.startsAt >= now) continue;
      const list = byUploader.get(f.from);
      if (list) list.push(f);
      else byUploader.set(f.from, [f]);
    }
    // Who each uploader serves: the requests it serves already keep their slots; a free slot
    // goes to the first request waiting (first come first served), but the seed super-seeds:
    // it serves the request for the chunk it has sent least, so every chunk enters the swarm
    // early and none is left for the seed alone to send at the end.
    for (const [from, all] of byUploader) {
      const serving = all.filter((f) => f.granted);
      if (serving.length < o.uploadSlots) {
        const waiting = all.filter((f) => !f.granted);
        if (from < 0) waiting.sort((a, b) => (seedSent[a.chunk] as number) - (seedSent[b.chunk] as number));
        for (const f of waiting.slice(0, o.uploadSlots - serving.length)) {
          f.granted = true;
          if (from < 0) seedSent[f.chunk] = (seedSent[f.chunk] as number) + 1;
          serving.push(f);
        }
      }
      byUploader.set(from, serving);
      for (const f of serving) nDown[f.node] = (nDown[f.node] as number) + 1;
    }
    const rateOf = new Map<Flow, number>();
    for (const [from, all] of byUploader) {
      const cap = (f: Flow) => (down[f.node] as number) / (nDown[f.node] as number);
      const list = all.sort((a, b) => cap(a) - cap(b));
      let rest = from < 0 ? o.seedUploadBps : (up[from] as number);
      list.forEach((f, k) => {
        const r = Math.min(cap(f), rest / (list.length - k));
        rateOf.set(f, r);
        rest -= r;
      });
    }
    // Each side's capacity for this step, bytes: what a flow moves is taken from both, so no
    // node ever uploads more than u_i*dt nor downloads more than d_i*dt (index 0: the seed).
    for (let i = 0; i < n; i++) {
      upLeft[i + 1] = ((up[i] as number) * dt) / 1000;
      downLeft[i] = ((down[i] as number) * dt) / 1000;
    }
    upLeft[0] = (o.seedUploadBps * dt) / 1000;
    const served: [string, Flow][] = [];
    for (const [k, f] of flows) {
      if (f.startsAt >= now) continue;
      const rate = rateOf.get(f) ?? 0;
      if (rate === 0) continue;
      served.push([k, f]);
      move(k, f, (rate * Math.min(dt, now - f.startsAt)) / 1000);
    }
    // Work conservation: upload a flow could not use this step (its chunk ended mid-step, its
    // bytes began after a request's latency) goes to the uploader's other served flows whose
    // downloader still has room, as one TCP bottleneck would share it.
    for (let round = 0; round < 2; round++) {
      const byFrom = new Map<number, [string, Flow][]>();
      for (const e of served) {
        const f = e[1];
        if (flows.get(e[0]) !== f || (downLeft[f.node] as number) < 1) continue;
        if ((upLeft[f.from + 1] as number) < 1) continue;
        const l = byFrom.get(f.from);
        if (l) l.push(e);
        else byFrom.set(f.from, [e]);
      }
      if (byFrom.size === 0) break;
      for (const [from, list] of byFrom) {
        const share = (upLeft[from + 1] as number) / list.length;
        for (const [k, f] of list) move(k, f, share);
      }
    }
    for (let i = 0; i <= n; i++) {
      const cap = i === 0 ? o.seedUploadBps : (up[i - 1] as number);
      peakUp = Math.max(peakUp, 1 - (upLeft[i] as number) / ((cap * dt) / 1000));
      if (i < n)
        peakDown = Math.max(peakDown, 1 - (downLeft[i] as number) / (((down[i] as number) * dt) / 1000));
    }
    const busy = new Uint16Array(n);
    for (const f of flows.values()) busy[f.node] = (busy[f.node] as number) + 1;
    for (let i = 0; i < n; i++) {
      // A node with every fetch slot taken has nothing to decide until one ends; otherwise it
      // looks again when a neighbour got a chunk, or when its machine asked for the time.
      if (doneAt[i] !== -1 || (busy[i] as number) >= o.parallel) continue;
      const m = machines[i] as DownloadMachine;
      if (!dirty.has(i) && m.pollTimeout() > now) continue;
      m.tick(now);
      drain(i);
    }
    dirty.clear();
    left = doneAt.filter((t) => t === -1).length;
  }
  const doneMs = doneAt.filter((t) => t >= 0).sort((a, b) => a - b);
  const ms = left > 0 ? Number.POSITIVE_INFINITY : (doneMs.at(-1) ?? 0);
  return {
    format: 'dchat.sim-swarm/1',
    options: o,
    ms,
    boundMs: bound.ms,
    ratio: ms / bound.ms,
    binding: bound.binding,
    completed: doneMs.length,
    doneMs,
    seedCopies: seedBytes / o.fileBytes,
    peakUploadUse: peakUp,
    peakDownloadUse: peakDown,
    failures,
    wallMs: Math.round(performance.now() - started),
  };
}

export function formatSwarm(r: SwarmReport): string {
  const o = r.options;
  const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB/s`;
  return [
    `🐝 Swarm simulation: ${(o.fileBytes / 2 ** 20).toFixed(0)} MiB to ${o.nodes} nodes in ${Math.ceil(o.fileBytes / o.chunkBytes)} chunks, seed ${o.seed}`,
    `   seed upload ${mb(o.seedUploadBps)}; nodes upload ${mb(o.uploadBps[0])}..${mb(o.uploadBps[1])}, download ${mb(o.downloadBps[0])}..${mb(o.downloadBps[1])}; ${o.degree} neighbours, ${o.parallel} fetches each`,
    `   all verified at   ${Number.isFinite(r.ms) ? `${(r.ms / 1000).toFixed(2)} s` : `never (${r.completed}/${o.nodes})`}`,
    `   Kumar-Ross bound  ${(r.boundMs / 1000).toFixed(2)} s (${r.binding} term binds)`,
    `   ratio             ${r.ratio.toFixed(3)}x (DESIGN target <= 1.3x)`,
    `   seed sent         ${r.seedCopies.toFixed(2)} copies of the file`,
  ].join('\n');
}
