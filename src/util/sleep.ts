/**
 * The one timer-backed wait. This is the only module in src/util that touches time (it arms a
 * timer), so it sits outside the purity fence in biome.json; pure layers never import it.
 *
 * Abort semantics (the same as node:timers/promises and the download engine's waits): when
 * `signal` aborts, before or during the wait, the promise REJECTS with `signal.reason` and the
 * timer is cleared. A caller that wants "stop waiting quietly" catches and checks
 * `signal.aborted`. Rejecting makes a forgotten check fail loudly instead of running one more
 * loop iteration after a stop.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
