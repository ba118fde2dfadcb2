/**
 * In-memory sources under virtual time for the download machine's tests: each source is a model
 * (time to the first byte, time per chunk, chunks it corrupts, when its connection drops, a
 * stall), and `runVirtual` drives one DownloadMachine with them, performing every action it
 * emits exactly as the engine's pump does, but on a virtual clock (no timers, no I/O). It
 * records what a property needs: every chunk accepted, fetches started, bans, progress, the end.
 */
import type { FetchError, MachineAction, MachineConfig } from '../../src/download/machine/actions.ts';
import { DownloadMachine } from '../../src/download/machine/machine.ts';

export interface SourceModel {
  id: string;
  priority: number;
  /** ms from a request to its first byte. */
  latencyMs: number;
  /** ms per chunk once data flows (a slowloris: minutes). */
  msPerChunk: number;
  /** Chunks it serves damaged (fail the signed table). */
  corrupt?: readonly number[];
  /** Its connection drops after this many chunks of each request (E_NETWORK). */
  dropAfter?: number;
  /** It sends nothing more, without closing, after this many chunks in all (a stalled stream). */
  stallAfter?: number;
  /** Answers every request with this error at once (e.g. E_HTTP 503, E_NOT_FOUND 404). */
  error?: FetchError;
}

export interface VirtualRun {
  end: 'done' | 'failed' | 'stuck';
  at: number;
  error?: string;
  /** How many times each chunk was accepted (chunkVerified returned true). */
  accepted: number[];
  /** Fetch actions: [source, start, end, time]. */
  fetches: { source: string; start: number; end: number; at: number }[];
  /** Sources banned, with the time of the ban. */
  banned: Map<string, number>;
  progress: { bytesDone: number; chunksDone: number }[];
  /** The chunk indices accepted per source. */
  bySource: Map<string, number[]>;
  doneBeforeAll: boolean;
  actions: MachineAction[];
}

interface Ev {
  at: number;
  seq: number;
  fetch: number;
  kind: 'chunk' | 'error';
  index: number;
}

export function runVirtual(
  config: MachineConfig,
  models: readonly SourceModel[],
  o: { maxMs?: number; resumed?: number[] } = {},
): VirtualRun {
  const m = new DownloadMachine(0, config);
  const byId = new Map(models.map((s) => [s.id, s]));
  const run: VirtualRun = {
    end: 'stuck',
    at: 0,
    accepted: new Array(config.chunkCount).fill(0),
    fetches: [],
    banned: new Map(),
    progress: [],
    bySource: new Map(),
    doneBeforeAll: false,
    actions: [],
  };
  const events: Ev[] = [];
  let seq = 0;
  const fetchEnd = new Map<number, number>();
  const fetchNext = new Map<number, number>();
  const fetchSource = new Map<number, string>();
  const perRequest = new Map<number, number>();
  let now = 0;
  let finished = false;
  const push = (e: Omit<Ev, 'seq'>) => {
    events.push({ ...e, seq: seq++ });
    events.sort((a, b) => a.at - b.at || a.seq - b.seq);
  };
  const len = (i: number) => Math.min(config.chunkSize, config.size - i * config.chunkSize);
  const scheduleNext = (f: number, from: number, first: boolean) => {
    const s = byId.get(fetchSource.get(f) as string) as SourceModel;
    const i = fetchNext.get(f) as number;
    if (i >= (fetchEnd.get(f) as number)) return;
    if (s.error) return push({ at: from + s.latencyMs, fetch: f, kind: 'error', index: i });
    const n = perRequest.get(f) ?? 0;
    if (s.dropAfter !== undefined && n >= s.dropAfter)
      return push({ at: from + 1, fetch: f, kind: 'error', index: i });
    if (s.stallAfter !== undefined && (run.bySource.get(s.id)?.length ?? 0) >= s.stallAfter) return;
    push({ at: from + (first ? s.latencyMs : 0) + s.msPerChunk, fetch: f, kind: 'chunk', index: i });
  };
  const drain = () => {
    for (let a = m.poll(); a !== undefined; a = m.poll()) {
      run.actions.push(a);
      switch (a.type) {
        case 'fetch':
          run.fetches.push({ source: a.source, start: a.start, end: a.end, at: now });
          fetchEnd.set(a.fetch, a.end);
          fetchNext.set(a.fetch, a.start);
          fetchSource.set(a.fetch, a.source);
          m.requestSent(a.source);
          scheduleNext(a.fetch, now, true);
          break;
        case 'shrink':
          fetchEnd.set(a.fetch, Math.min(fetchEnd.get(a.fetch) as number, a.end));
          break;
        case 'cancel':
          // The stream is torn down: nothing more arrives; the host reports its end.
          for (let k = events.length - 1; k >= 0; k--) if (events[k]?.fetch === a.fetch) events.splice(k, 1);
          fetchEnd.set(a.fetch, -1);
          queueMicro.push(() => m.fetchEnded(now, a.fetch, { code: 'E_ABORTED', message: a.reason }));
          break;
        case 'source-failed':
          if (a.action === 'ban' && !run.banned.has(a.source)) run.banned.set(a.source, now);
          break;
        case 'progress':
          run.progress.push({ bytesDone: a.bytesDone, chunksDone: a.chunksDone });
          break;
        case 'done':
          if (run.accepted.some((c) => c === 0)) run.doneBeforeAll = true;
          run.end = 'done';
          run.at = now;
          finished = true;
          break;
        case 'failed':
          run.end = 'failed';
          run.error = `${a.error.code}: ${a.error.message}`;
          run.at = now;
          finished = true;
          break;
        default:
          break;
      }
    }
  };
  const queueMicro: (() => void)[] = [];
  const settle = () => {
    drain();
    while (queueMicro.length > 0) {
      (queueMicro.shift() as () => void)();
      drain();
    }
  };
  for (const s of models) m.sourceAdded(0, { id: s.id, priority: s.priority, label: s.id });
  m.begin(0, o.resumed ?? []);
  for (const i of o.resumed ?? []) run.accepted[i] = 1;
  settle();
  const maxMs = o.maxMs ?? 3_600_000;
  while (!finished) {
    const next = events[0];
    const due = m.pollTimeout();
    const t = Math.min(next?.at ?? Number.POSITIVE_INFINITY, due);
    if (t === Number.POSITIVE_INFINITY || t > maxMs) break;
    now = Math.max(now, t);
    if (next && next.at <= due) {
      events.shift();
      const f = next.fetch;
      if ((fetchEnd.get(f) ?? -1) < 0) continue;
      const s = byId.get(fetchSource.get(f) as string) as SourceModel;
      if (next.kind === 'error') {
        fetchEnd.set(f, -1);
        m.fetchEnded(now, f, s.error ?? { code: 'E_NETWORK', message: `${s.id}: connection dropped` });
        settle();
        continue;
      }
      const i = next.index;
      m.received(now, f, len(i));
      fetchNext.set(f, i + 1);
      perRequest.set(f, (perRequest.get(f) ?? 0) + 1);
      if (s.corrupt?.includes(i)) m.chunkRejected(now, f, i);
      else if (m.chunkVerified(now, f, i)) {
        run.accepted[i] = (run.accepted[i] as number) + 1;
        const list = run.bySource.get(s.id) ?? [];
        list.push(i);
        run.bySource.set(s.id, list);
      }
      settle();
      if ((fetchEnd.get(f) ?? -1) < 0) continue;
      if (i + 1 >= (fetchEnd.get(f) as number)) {
        fetchEnd.set(f, -1);
        m.fetchEnded(now, f);
        settle();
      } else scheduleNext(f, now, false);
    } else {
      m.tick(now);
      settle();
    }
  }
  if (!finished) run.at = now;
  return run;
}
