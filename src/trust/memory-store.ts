/**
 * A trust store held in memory (a gossip bundle check, the simulator, tests): the same one-set,
 * one-writer contract as the home's store, with writers of one instance run one after another.
 */
import type { RoleName } from './metadata.ts';
import type { TrustCommit, TrustDocs, TrustStore } from './updater.ts';

export class MemoryTrustStore implements TrustStore {
  docs: TrustDocs;
  /** Every root committed, oldest first (what the home's root history would hold). */
  readonly roots: Uint8Array[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(initial: TrustDocs = {}) {
    this.docs = { ...initial };
  }

  async load(role: RoleName): Promise<Uint8Array | undefined> {
    return this.docs[role];
  }

  async loadSet(): Promise<TrustDocs> {
    return { ...this.docs };
  }

  transact<T>(cycle: (current: TrustDocs, commit: TrustCommit) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      let committed = false;
      return cycle({ ...this.docs }, async (next, roots) => {
        if (committed) throw new Error('a trust cycle commits at most once');
        committed = true;
        this.roots.push(...roots);
        this.docs = { ...next };
      });
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => {});
    return result;
  }
}
