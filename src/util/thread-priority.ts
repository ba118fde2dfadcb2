/**
 * Lowers the calling thread's scheduling priority to `nice`. Linux keeps a nice value per thread,
 * and setpriority(PRIO_PROCESS, 0) changes the caller's alone, so a thread whose work may lag
 * (hash-stage.ts's BLAKE3 stage, the CLI thread while update verify hashes) can leave the cores to
 * the one that sets the pace. An unprivileged process cannot raise it again. A scheduling hint
 * only: where it is refused, the thread runs on as it was.
 */
import { setPriority } from 'node:os';

export function lowerThisThread(nice: number): void {
  try {
    setPriority(0, nice);
  } catch {
    // Refused (a sandbox, another OS): nothing depends on it.
  }
}
