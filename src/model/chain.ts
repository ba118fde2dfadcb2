/**
 * What a real chain's node answers, as dchat reads it: CometBFT's RPC `/status` (the height and
 * its block time) and the Cosmos SDK x/upgrade REST `GET /cosmos/upgrade/v1beta1/current_plan`
 * (the scheduled upgrade). The JSON shapes are the documented ones: CometBFT wraps results in
 * JSON-RPC 2.0 (`{"jsonrpc":"2.0","id":-1,"result":{...}}`) and writes int64 as decimal strings
 * and times as RFC 3339 with up to nanoseconds; the gRPC gateway also writes int64 as strings and
 * a missing plan as `{"plan": null}`. Parsing happens here, once: anything else is E_MALFORMED,
 * a JSON-RPC or gateway error object is E_HTTP with its code and message.
 */
import { z } from 'zod';
import { DchatError } from '../errors.ts';
import { isAllowedMirrorUrl } from './loopback.ts';

/** Decimal int64 as a string, within what a JS number holds exactly. */
const int64String = z
  .string()
  .regex(/^\d{1,16}$/, 'expected a decimal height')
  .transform(Number)
  .refine(Number.isSafeInteger, 'height too large');
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const rfc3339 = z
  .string()
  .max(64)
  .regex(RFC3339, 'expected an RFC 3339 time')
  .transform((s) => Date.parse(s))
  .refine(Number.isFinite, 'not a valid time');

const SyncInfoSchema = z.object({
  latest_block_height: int64String,
  latest_block_time: rfc3339,
  catching_up: z.boolean(),
});
const StatusResultSchema = z.object({
  node_info: z.object({ network: z.string().max(128) }).optional(),
  sync_info: SyncInfoSchema,
});
const JsonRpcErrorSchema = z.object({
  error: z.object({
    code: z.number().int(),
    message: z.string().max(1024),
    data: z.string().max(4096).optional(),
  }),
});

export interface ChainStatus {
  height: number;
  time_ms: number;
  catching_up: boolean;
  /** The chain id (`node_info.network`), when the node says it. */
  chain_id?: string;
}

/** A CometBFT `/status` answer (JSON-RPC envelope, or the bare result some gateways serve). */
export function parseCometStatus(data: unknown): ChainStatus {
  if (isObject(data) && 'error' in data) {
    const e = JsonRpcErrorSchema.safeParse(data);
    const msg = e.success ? `${e.data.error.code}: ${e.data.error.message}` : 'malformed error object';
    throw new DchatError('E_HTTP', `CometBFT RPC error ${msg.slice(0, 300)}`);
  }
  const body = isObject(data) && 'result' in data ? data.result : data;
  const r = StatusResultSchema.safeParse(body);
  if (!r.success) throw malformed('CometBFT /status', r.error);
  const s = r.data;
  return {
    height: s.sync_info.latest_block_height,
    time_ms: s.sync_info.latest_block_time,
    catching_up: s.sync_info.catching_up,
    ...(s.node_info?.network ? { chain_id: s.node_info.network } : {}),
  };
}

/** x/upgrade's Plan as dchat uses it: `name` is the upgrade (dchat: the version), at `height`. */
export interface UpgradePlan {
  name: string;
  height: number;
  info: string;
}

const PlanSchema = z.object({
  name: z.string().min(1).max(140),
  height: int64String,
  info: z.string().max(64 * 1024),
});
const CurrentPlanSchema = z.object({ plan: PlanSchema.nullable() });
const GatewayErrorSchema = z.object({ code: z.number().int(), message: z.string().max(1024) });

/** A `current_plan` answer: the plan, or null when none is scheduled. */
export function parseCurrentPlan(data: unknown): UpgradePlan | null {
  if (isObject(data) && !('plan' in data) && 'code' in data) {
    const e = GatewayErrorSchema.safeParse(data);
    const msg = e.success ? `${e.data.code}: ${e.data.message}` : 'malformed error object';
    throw new DchatError('E_HTTP', `Cosmos upgrade API error ${msg.slice(0, 300)}`);
  }
  const r = CurrentPlanSchema.safeParse(data);
  if (!r.success) throw malformed('Cosmos current_plan', r.error);
  const p = r.data.plan;
  return p ? { name: p.name, height: p.height, info: p.info } : null;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function malformed(what: string, err: z.ZodError): DchatError {
  const issue = err.issues[0];
  const where = issue?.path.length ? issue.path.join('.') : '(top)';
  return new DchatError('E_MALFORMED', `${what}: ${where}: ${issue?.message ?? 'invalid'}`, { cause: err });
}

/** Checks a chain endpoint URL (a flag's value): https anywhere, http on loopback only (a height
 * over plain HTTP from elsewhere could be forged on the way); E_CONFIG otherwise. */
export function chainUrl(value: string, what: string): URL {
  let u: URL;
  try {
    u = new URL(value);
  } catch (cause) {
    throw new DchatError('E_CONFIG', `${what}: '${value.slice(0, 120)}' is not a URL`, { cause });
  }
  if (!isAllowedMirrorUrl(u))
    throw new DchatError(
      'E_CONFIG',
      `${what}: use https://, or http:// on loopback only (${u.protocol}//${u.host})`,
    );
  if (u.username || u.password || u.search || u.hash)
    throw new DchatError('E_CONFIG', `${what}: no credentials, query or fragment in the URL`);
  return u;
}
