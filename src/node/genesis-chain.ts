/**
 * The chain of geneses a node followed (governance/genesis-change.ts): the one pinned now and
 * those pinned before it, by hash. A certified change moves the node on: the old genesis goes to
 * history/ in the home and the new one is pinned, so a restart starts from it; the past ones let
 * the node check and relay earlier steps to nodes still behind. Wiring only: the rules are in
 * src/governance/.
 */
import canonicalJson from '@tufjs/canonical-json';
import type { Logger } from 'pino';
import { type TrustedGenesis, trustGenesis } from '../governance/genesis.ts';
import type { GenesisChange } from '../governance/genesis-change.ts';
import type { GovernanceStore } from '../store/governance-store.ts';

export class GenesisChain {
  private pinned: TrustedGenesis | undefined;
  private readonly past = new Map<string, TrustedGenesis>();
  private readonly store: GovernanceStore;
  private readonly log: Logger;

  private constructor(store: GovernanceStore, log: Logger, pinned: TrustedGenesis | undefined) {
    this.store = store;
    this.log = log;
    this.pinned = pinned;
  }

  /** The pinned genesis (none: governance off) and the history under the home. */
  static async load(store: GovernanceStore, log: Logger): Promise<GenesisChain> {
    const data = await store.readGenesis();
    const chain = new GenesisChain(store, log, data === undefined ? undefined : trustGenesis(data));
    if (chain.pinned)
      for (const old of await store.readGenesisHistory()) {
        try {
          const g = trustGenesis(old);
          if (g.networkId === chain.pinned.networkId && g.body.version < chain.pinned.body.version)
            chain.past.set(g.hash, g);
        } catch {
          log.warn('a damaged genesis in governance/history/ skipped');
        }
      }
    return chain;
  }

  get current(): TrustedGenesis | undefined {
    return this.pinned;
  }

  pastGenesis(hash: string): TrustedGenesis | undefined {
    return this.past.get(hash);
  }

  /** True if `key` was a holder or validator of a past genesis but is neither now. */
  pastMember(key: string): boolean {
    const now = this.pinned;
    if (now && (now.holderIndex.has(key) || now.validatorIndex.has(key))) return false;
    for (const g of this.past.values()) if (g.holderIndex.has(key) || g.validatorIndex.has(key)) return true;
    return false;
  }

  /** Moves on by a verified step from the pinned genesis; false if it is not from the pinned one. */
  async move(change: GenesisChange): Promise<boolean> {
    const old = this.pinned;
    if (!old || change.from_hash !== old.hash) return false;
    this.past.set(old.hash, old);
    this.pinned = change.next;
    this.log.info(
      {
        from: { version: old.body.version, hash: old.hash },
        to: { version: change.next.body.version, hash: change.next.hash },
        certificate: change.certificate_id,
      },
      'network genesis changed by a certified governance decision',
    );
    const bytes = (g: TrustedGenesis) => Buffer.from(`${canonicalJson.canonicalize(g.genesis)}\n`);
    try {
      await this.store.moveGenesis(old.hash, bytes(old), bytes(change.next));
    } catch (err) {
      this.log.warn(
        { error: (err as Error).message },
        'could not save the new genesis; it holds until restart',
      );
    }
    return true;
  }
}
