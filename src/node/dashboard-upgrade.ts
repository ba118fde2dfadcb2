/**
 * What the dashboard's upgrade panels read (dashboard/upgrade.ts): one node's governance status
 * (in process for a node's own dashboard, over the control socket for a testnet's) and the
 * supervisor journal of every home, which records each switch and rollback and survives the
 * restart of the node that serves the page.
 */
import { readJournal, versionPaths } from '../activation/versions.ts';
import type { UpgradeSource } from '../dashboard/server.ts';
import type { GovernanceStatusResult } from '../model/governance-control.ts';
import { homePaths } from '../store/home.ts';
import { controlRequest } from './control.ts';

export async function upgradeSourceFor(
  homes: readonly { id: string; home: string }[],
  governance?: () => GovernanceStatusResult | undefined,
): Promise<UpgradeSource> {
  let gov = governance?.();
  if (!governance)
    for (const h of homes) {
      gov = await controlRequest(homePaths(h.home), 'governance_status', {}, 3000).catch(() => undefined);
      if (gov) break;
    }
  const journals = await Promise.all(
    homes.map(async (h) => ({
      id: h.id,
      history: (await readJournal(versionPaths(homePaths(h.home))).catch(() => undefined))?.history ?? [],
    })),
  );
  return { governance: gov, blockIntervalMs: gov?.block_interval_ms ?? null, journals };
}
