/**
 * Cancelled IPFS reads and what they leave behind (kept apart from helia.ts so that the IPFS
 * source can note a cancelled read without loading Helia: an idle node loads none of it).
 */

/** Errors Helia's block layer raises when a read's signal aborts (directly or wrapped). */
const CANCELLED_READ_ERRORS = new Set([
  'AbortError',
  'LoadBlockFailedError',
  'PutFailedError',
  'GetFailedError',
]);

let cancelledReads = 0;
/**
 * The reasons cancelled reads were aborted with: the block layer rejects with the signal's own
 * reason (the download machine's E_ABORTED "overtaken", "every chunk is verified"...), not only
 * with its abort errors.
 */
const abortReasons = new WeakSet<object>();

/**
 * An IPFS read was cancelled (its signal aborted, with `reason`): what it leaves behind may now
 * surface.
 */
export function noteCancelledRead(reason?: unknown): void {
  cancelledReads++;
  if (typeof reason === 'object' && reason !== null) abortReasons.add(reason);
}

/**
 * True for a rejection a cancelled read leaves behind: the reason a read was cancelled with, or
 * one of the block layer's abort errors (an aborted want, a failed load or put of a block whose
 * read was aborted) once a read has been cancelled in this process. Anything else is not.
 */
export function isAbortedBlockRead(reason: unknown): boolean {
  if (typeof reason === 'object' && reason !== null && abortReasons.has(reason)) return true;
  const name = (reason as { name?: unknown } | null | undefined)?.name;
  return cancelledReads > 0 && typeof name === 'string' && CANCELLED_READ_ERRORS.has(name);
}

let guarded = false;

/**
 * ipfs-unixfs-exporter 16 walks a file of more than one DAG level with p-queue and drops the
 * promise of each child walk (`void queue.add(...)`, its errors go to an 'error' event as well):
 * when a read is cancelled (the planner gave its chunks to a faster source, the download ended,
 * the stall timer fired), the aborted block wants and puts reject that dropped promise, and Node
 * ends the process on an unhandled rejection (nodes died mid-download in `bench channels` at
 * 256 MiB). Those rejections, and only those, are dropped; any other still ends the process.
 */
export function guardCancelledReads(): void {
  if (guarded) return;
  guarded = true;
  process.on('unhandledRejection', (reason) => {
    if (isAbortedBlockRead(reason)) return;
    throw reason;
  });
}
