/**
 * A dashboard endpoint: the static page (assets.ts) and `/api/state`, the document the page polls.
 * A sampler reads the statuses once a second into the propagation history, so the chart covers
 * the time the dashboard has been up whether or not a browser is watching.
 */

import { type HttpEndpoint, startHttpEndpoint } from '../metrics/http.ts';
import type { StatusResult } from '../model/control.ts';
import type { GovernanceStatusResult } from '../model/governance-control.ts';
import { staticRoutes } from './assets.ts';
import {
  type DashboardState,
  dashboardNode,
  type ExtraPanel,
  type MirrorHealth,
  type NodeInput,
  PropagationHistory,
  updateNotice,
} from './state.ts';
import { activationEvents, type JournalEntry, upgradePanel } from './upgrade.ts';

export interface DashboardSource {
  title: string;
  /** Each node with its current status (undefined: not answering). */
  nodes(): Promise<NodeInput[]>;
  mirrors?(): Promise<MirrorHealth[]>;
  releases?(): { version: string; published_at: string }[];
  /** Panels of later parts: read at each poll. */
  panels?(): Promise<ExtraPanel[]>;
  /** Governance status (one node's view) and the supervisors' journals: read at each poll. */
  upgrade?(): Promise<UpgradeSource>;
}

export interface UpgradeSource {
  governance: GovernanceStatusResult | undefined;
  /** The network's block interval (genesis params), for the countdown's estimate. */
  blockIntervalMs: number | null;
  journals: { id: string; history: JournalEntry[] }[];
}

export interface Dashboard {
  url: string;
  close(): Promise<void>;
}

const SAMPLE_MS = 1000;

export async function startDashboard(
  host: string,
  port: number,
  src: DashboardSource,
  flag = '--dashboard',
): Promise<Dashboard> {
  const history = new PropagationHistory();
  let last: NodeInput[] = [];
  let mirrors: MirrorHealth[] = [];
  let sampling = false;
  let mirrorsAt = 0;
  const sample = async () => {
    if (sampling) return;
    sampling = true;
    try {
      last = await src.nodes();
      history.sample(
        Date.now(),
        last.map((n) => n.status),
      );
      if (src.mirrors && Date.now() - mirrorsAt > 5000) {
        mirrorsAt = Date.now();
        mirrors = await src.mirrors();
      }
    } catch {
      // A failed sample leaves a gap in the chart; the next one tries again.
    } finally {
      sampling = false;
    }
  };
  await sample();
  const timer = setInterval(() => void sample(), SAMPLE_MS);
  timer.unref();
  const state = async (): Promise<DashboardState> => {
    const nodes = last.map(dashboardNode);
    const newest = (s: StatusResult | undefined) => s?.releases.highest_trusted ?? null;
    const latest =
      last
        .map((n) => newest(n.status))
        .filter(Boolean)
        .sort()
        .pop() ?? null;
    const up = await src.upgrade?.().catch(() => undefined);
    return {
      format: 'dchat.dashboard/1',
      title: src.title,
      now: new Date().toISOString(),
      nodes,
      mirrors,
      channels: [{ name: 'stable', latest: updateNotice(nodes)?.version ?? latest }],
      releases: src.releases?.() ?? [],
      update_notice: updateNotice(nodes),
      history: history.toJSON(),
      panels: (await src.panels?.()) ?? [],
      upgrade: up?.governance ? upgradePanel(up.governance, up.blockIntervalMs) : null,
      events: up ? activationEvents(up.journals) : [],
    };
  };
  let ep: HttpEndpoint;
  try {
    ep = await startHttpEndpoint(
      host,
      port,
      {
        ...staticRoutes(),
        '/api/state': async () => ({ type: 'application/json', body: JSON.stringify(await state()) }),
      },
      flag,
    );
  } catch (err) {
    clearInterval(timer);
    throw err;
  }
  return {
    url: `${ep.url}/`,
    close: async () => {
      clearInterval(timer);
      await ep.close();
    },
  };
}
