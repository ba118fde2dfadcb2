/**
 * Synchronous trust over bytes already in memory: `applyBundle(trusted, bundle, now)` runs the TUF
 * client update (update-steps.ts, the same sequence a mirror refresh runs) against an in-memory
 * copy of the trusted documents and a bundle of new ones (a gossip announcement's TUF bundle:
 * exact bytes of timestamp, snapshot, targets and the roots after v1, base64). Nothing is read or
 * written: the result says what the new trusted state is and which documents changed, in order,
 * so the caller persists exactly those bytes once, without verifying them a second time.
 */
import { DchatError } from '../errors.ts';
import type { TufBundle } from '../model/announcement.ts';
import type { RoleName } from './metadata.ts';
import type { TrustedSet } from './trusted-set.ts';
import { updateSteps } from './update-steps.ts';

/** Trusted metadata bytes by role, held in memory. */
export type TrustDocs = Partial<Record<RoleName, Uint8Array>>;

/** One change to persist: a newly trusted document, or a role to forget (keys rotated). */
export type TrustChange = { role: RoleName; bytes: Uint8Array } | { role: RoleName; bytes: undefined };

export interface AppliedBundle {
  trusted: TrustedSet;
  /** The whole trusted state after the update (unchanged roles shared with the input). */
  docs: TrustDocs;
  /** What changed, in the order the update trusted it (roots first): persist in this order. */
  changes: TrustChange[];
  rootsApplied: number[];
  unchanged: boolean;
}

/** The bundle's documents under the names a TUF client asks for (undefined for the rest). */
export function bundleLookup(bundle: TufBundle): (name: string, maxBytes: number) => Uint8Array | undefined {
  const roots = new Map<number, Uint8Array>();
  for (const b64 of bundle.roots) {
    const bytes = Buffer.from(b64, 'base64');
    // Only its version is read here; signatures are checked by the update like any root's.
    const v = versionOf(bytes);
    if (v !== undefined) roots.set(v, bytes);
  }
  const timestamp = Buffer.from(bundle.timestamp, 'base64');
  const snapshot = Buffer.from(bundle.snapshot, 'base64');
  const targets = Buffer.from(bundle.targets, 'base64');
  return (name, maxBytes) => {
    let bytes: Uint8Array | undefined;
    const m = /^(\d{1,12})\.(root|snapshot|targets)\.json$/.exec(name);
    if (name === 'timestamp.json') bytes = timestamp;
    else if (m?.[2] === 'root') bytes = roots.get(Number(m[1]));
    else if (m?.[2] === 'snapshot') bytes = versionOf(snapshot) === Number(m[1]) ? snapshot : undefined;
    else if (m?.[2] === 'targets') bytes = versionOf(targets) === Number(m[1]) ? targets : undefined;
    if (bytes && bytes.byteLength > maxBytes)
      throw new DchatError('E_TOO_LARGE', `bundled ${name} is ${bytes.byteLength} bytes, over ${maxBytes}`);
    return bytes;
  };
}

/**
 * The TUF update of `trusted` by `bundle` at reference time `now`, synchronously. Throws a
 * DchatError (stable code) if the bundle does not verify; `trusted` itself is never modified.
 */
export function applyBundle(trusted: TrustDocs, bundle: TufBundle, now: Date): AppliedBundle {
  const fetch = bundleLookup(bundle);
  const docs: TrustDocs = { ...trusted };
  const changes: TrustChange[] = [];
  const steps = updateSteps(now);
  let r = steps.next();
  while (!r.done) {
    const op = r.value;
    let answer: Uint8Array | undefined;
    if (op.op === 'load') answer = docs[op.role];
    else if (op.op === 'fetch') answer = fetch(op.name, op.maxBytes);
    else if (op.op === 'save') {
      docs[op.role] = op.bytes;
      changes.push({ role: op.role, bytes: op.bytes });
    } else {
      delete docs[op.role];
      changes.push({ role: op.role, bytes: undefined });
    }
    r = steps.next(answer);
  }
  return { ...r.value, docs, changes };
}

function versionOf(bytes: Uint8Array): number | undefined {
  try {
    const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as { signed?: { version?: unknown } };
    const v = doc.signed?.version;
    return typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
