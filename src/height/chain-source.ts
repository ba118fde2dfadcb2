/**
 * A real chain as the node's height source (DESIGN.md `governance/`: "an adapter interface admits
 * a real chain"): a CometBFT node's RPC `/status` gives the height and its block time, and the
 * Cosmos SDK x/upgrade REST API (`/cosmos/upgrade/v1beta1/current_plan`, optional) the upgrade the
 * chain's own governance scheduled. A pump: it polls, keeps the last good answer, and never lets
 * the height go back (a load-balanced RPC may answer from a node a block behind).
 *
 * Every answer is capped (MAX_ANSWER_BYTES, checked while it streams in) and timed out; errors
 * are coded (E_NETWORK, E_TIMEOUT, E_HTTP, E_TOO_LARGE, E_MALFORMED) and kept in `lastError` for
 * `node status`, while the last good height stays served.
 */
import { DchatError, toDchatError } from '../errors.ts';
import type { HeightSource } from '../governance/height-source.ts';
import {
  type ChainStatus,
  chainUrl,
  parseCometStatus,
  parseCurrentPlan,
  type UpgradePlan,
} from '../model/chain.ts';
import { requestUrl, sharedAgent } from '../sources/undici-lite.ts';
import { undiciError } from '../sources/undici-range.ts';

/** An RPC answer larger than this is refused (a `/status` is ~2 KiB, a plan with info a few). */
export const MAX_ANSWER_BYTES = 256 * 1024;
export const DEFAULT_POLL_MS = 1000;
export const DEFAULT_TIMEOUT_MS = 5000;
const UPGRADE_PLAN_PATH = '/cosmos/upgrade/v1beta1/current_plan';

export interface ChainSourceInit {
  /** CometBFT RPC base URL, e.g. http://127.0.0.1:26657 (https anywhere, http on loopback). */
  rpc: string;
  /** Cosmos SDK REST (API server) base URL, e.g. http://127.0.0.1:1317; optional. */
  upgradeApi?: string;
  pollMs?: number;
  timeoutMs?: number;
  onError?: (error: DchatError) => void;
}

/** GET `url` as JSON with a size cap and a deadline. */
export async function getJson(url: URL, timeoutMs: number, maxBytes = MAX_ANSWER_BYTES): Promise<unknown> {
  const where = `${url.origin}${url.pathname}`;
  let res: Awaited<ReturnType<typeof requestUrl>>;
  try {
    res = await requestUrl(sharedAgent(), url, {
      method: 'GET',
      headers: { accept: 'application/json' },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    if ((err as Error)?.name === 'TimeoutError')
      throw new DchatError('E_TIMEOUT', `${where}: no answer in ${timeoutMs} ms`, { cause: err });
    throw undiciError(err, where);
  }
  const declared = Number(res.headers['content-length'] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    res.body.destroy();
    throw new DchatError(
      'E_TOO_LARGE',
      `${where}: answer of ${declared} bytes, more than the ${maxBytes} allowed`,
    );
  }
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of res.body) {
      n += (chunk as Buffer).byteLength;
      if (n > maxBytes) {
        res.body.destroy();
        throw new DchatError('E_TOO_LARGE', `${where}: answer of more than ${maxBytes} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof DchatError) throw err;
    if ((err as Error)?.name === 'TimeoutError')
      throw new DchatError('E_TIMEOUT', `${where}: answer stalled (${timeoutMs} ms)`, { cause: err });
    throw undiciError(err, where);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    if (res.statusCode !== 200)
      throw new DchatError('E_HTTP', `${where}: HTTP ${res.statusCode}`, {
        details: { status: res.statusCode },
      });
    throw new DchatError('E_MALFORMED', `${where}: answer is not JSON`, { cause });
  }
  // CometBFT answers JSON-RPC errors with HTTP 500 and the gateway its errors with 4xx/5xx: the
  // parsers turn their bodies into E_HTTP with the chain's own message. Other statuses stop here.
  if (
    res.statusCode !== 200 &&
    !(typeof data === 'object' && data !== null && ('error' in data || 'code' in data))
  )
    throw new DchatError('E_HTTP', `${where}: HTTP ${res.statusCode}`, {
      details: { status: res.statusCode },
    });
  return data;
}

export class ChainHeightSource implements HeightSource {
  private readonly rpc: URL;
  private readonly upgradeApi: URL | undefined;
  private readonly pollMs: number;
  private readonly timeoutMs: number;
  private readonly onError: ((e: DchatError) => void) | undefined;
  private status: ChainStatus | undefined;
  private scheduled: UpgradePlan | null = null;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  lastError: DchatError | undefined;
  /** Answers whose height was below one already seen (ignored). */
  wentBack = 0;

  constructor(init: ChainSourceInit) {
    this.rpc = chainUrl(init.rpc, 'CometBFT RPC');
    this.upgradeApi = init.upgradeApi ? chainUrl(init.upgradeApi, 'upgrade API') : undefined;
    this.pollMs = init.pollMs ?? DEFAULT_POLL_MS;
    this.timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.onError = init.onError;
  }

  /** HeightSource: the latest block height and its time, null until the first good answer. */
  current(): { height: number; time_ms: number } | null {
    const s = this.status;
    return s && s.height > 0 ? { height: s.height, time_ms: s.time_ms } : null;
  }

  /** The chain's scheduled upgrade (x/upgrade), null when none or no upgrade API is configured. */
  plan(): UpgradePlan | null {
    return this.scheduled;
  }

  get catchingUp(): boolean {
    return this.status?.catching_up ?? false;
  }

  get chainId(): string | undefined {
    return this.status?.chain_id;
  }

  /** One round: `/status`, then the plan. Throws the first coded error (and keeps it). */
  async poll(): Promise<void> {
    try {
      const s = parseCometStatus(await getJson(endpoint(this.rpc, '/status'), this.timeoutMs));
      if (this.status && s.height < this.status.height) this.wentBack++;
      else this.status = s;
      if (this.upgradeApi)
        this.scheduled = parseCurrentPlan(
          await getJson(endpoint(this.upgradeApi, UPGRADE_PLAN_PATH), this.timeoutMs),
        );
      this.lastError = undefined;
    } catch (err) {
      const e = toDchatError(err);
      this.lastError = e;
      throw e;
    }
  }

  /** Polls every `pollMs` until `stop()`; errors go to `onError` and `lastError`. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const tick = async () => {
      try {
        await this.poll();
      } catch (err) {
        this.onError?.(toDchatError(err));
      }
      if (!this.running) return;
      this.timer = setTimeout(tick, this.pollMs);
      this.timer.unref();
    };
    void tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function endpoint(base: URL, path: string): URL {
  const u = new URL(base.href);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}${path}`;
  return u;
}
