/**
 * Rebuild attestations travel with their release by gossip, as the `attestation` object kind
 * (one per builder and package: gossip/core/object-kinds.ts). A node offers every attestation its
 * home keeps beside packages (fetched from a mirror by `update download`, or learned here), checks
 * each one it hears (a DSSE envelope whose signature verifies under the builder key it names, and
 * whose id is its hash) and keeps the accepted ones beside the package, where `update verify` and
 * `governance approve` count them. Whether an attestation counts for a release is decided there,
 * against the signed target; gossip only refuses what no one could ever count.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ValidateObject } from '../gossip/core/index.ts';
import type { AcceptedObject, GossipService } from '../gossip/libp2p/adapter.ts';
import { objectId } from '../governance/signing.ts';
import { type Envelope, MAX_ATTESTATIONS_PER_PACKAGE, MAX_BUNDLE_BYTES } from '../model/attestation.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import type { HomePaths } from '../store/home.ts';
import { readCappedIfExists } from '../store/read-capped.ts';
import { openEnvelope, parseBundle } from '../trust/attestations.ts';

const SUFFIX = '.intoto.jsonl';
/** Package names as the home stores them (dchat-<version>-<platform>): nothing else is written. */
const TARGET_NAME = /^dchat-[0-9A-Za-z.+-]{1,80}$/;

export class AttestationGossip {
  private gossip: GossipService | undefined;
  /** Writes to one bundle file at a time, in arrival order. */
  private writes: Promise<void> = Promise.resolve();

  private readonly paths: HomePaths;
  private readonly log: Logger;

  constructor(paths: HomePaths, log: Logger) {
    this.paths = paths;
    this.log = log;
  }

  /** The check and the keeping, for GovernanceService.gossipInit's `others`. */
  gossipKinds(): Record<string, { validate: ValidateObject; accepted: (o: AcceptedObject) => void }> {
    return {
      attestation: {
        validate: (_kind, id, object) => {
          if (id !== objectId(object))
            return { ok: false, code: 'E_MALFORMED', reason: 'id is not the hash of the attestation' };
          const o = openEnvelope(object);
          if (!o.ok)
            return {
              ok: false,
              code: o.reason === 'forged' ? 'E_SIGNATURE' : 'E_MALFORMED',
              reason: o.detail,
            };
          const target = o.statement.subject[0]?.name ?? '';
          if (!TARGET_NAME.test(target))
            return { ok: false, code: 'E_MALFORMED', reason: 'not about a dchat package' };
          return { ok: true };
        },
        accepted: (o) => {
          this.writes = this.writes
            .then(() => this.keep(o.object as Envelope))
            .catch((err: unknown) => {
              this.log.warn({ err: (err as Error).message }, 'could not keep an attestation');
            });
        },
      },
    };
  }

  /** Gossip is up: offer what the home already keeps. */
  async attach(gossip: GossipService): Promise<void> {
    this.gossip = gossip;
    const names = await readdir(this.paths.packagesDir).catch(() => [] as string[]);
    for (const f of names.filter((n) => n.endsWith(SUFFIX)).slice(0, 1024)) {
      const bytes = await readCappedIfExists(join(this.paths.packagesDir, f), MAX_BUNDLE_BYTES).catch(
        () => undefined,
      );
      if (!bytes) continue;
      for (const env of parseBundle(bytes.toString('utf8')).envelopes) {
        if (!openEnvelope(env).ok) continue;
        this.gossip.offerObject('attestation', objectId(env as Envelope), env as Envelope);
      }
    }
  }

  async stop(): Promise<void> {
    await this.writes;
  }

  /** Adds `env` to its package's bundle in the home (replacing the same builder's older one). */
  private async keep(env: Envelope): Promise<void> {
    const mine = openEnvelope(env);
    if (!mine.ok) return;
    const target = mine.statement.subject[0]?.name ?? '';
    if (!TARGET_NAME.test(target)) return;
    const file = join(this.paths.packagesDir, `${target}${SUFFIX}`);
    const old = (await readCappedIfExists(file, MAX_BUNDLE_BYTES))?.toString('utf8') ?? '';
    const kept = parseBundle(old).envelopes.filter((e) => {
      const o = openEnvelope(e);
      return o.ok && o.builder !== mine.builder;
    });
    if (kept.length >= MAX_ATTESTATIONS_PER_PACKAGE) return;
    await writeFileAtomic(file, `${[...kept, env].map((e) => JSON.stringify(e)).join('\n')}\n`);
  }
}
