/** The threads of this process as Linux shows them in /proc (each has a priority of its own). */
import { readdirSync, readFileSync } from 'node:fs';

export interface ThreadInfo {
  tid: number;
  /** As the thread named itself (e.g. `libuv-worker`, `WorkerThread`, `MainThread`). */
  name: string;
  nice: number;
}

export function threads(): ThreadInfo[] {
  const out: ThreadInfo[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Fields after the name in parentheses (which may hold spaces): state is field 3, nice 19.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      out.push({ tid: Number(tid), name, nice: Number(fields[16]) });
    } catch {
      // The thread ended between the listing and the reads.
    }
  }
  return out;
}

/** The nice value of every thread of this process, by thread id. */
export function threadNices(): Map<number, number> {
  return new Map(threads().map((t) => [t.tid, t.nice]));
}
