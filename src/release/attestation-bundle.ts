/**
 * The attestations of one package in a mirror directory, `packages/<target name>.intoto.jsonl`
 * (one DSSE envelope per line), served by any static server beside the package. A builder's new
 * attestation replaces its older one for the same package (the file stays one line per builder);
 * the file is rewritten atomically under a lock next to it, so two builders attesting at once
 * both end up in it.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DchatError } from '../errors.ts';
import { type Envelope, MAX_ATTESTATIONS_PER_PACKAGE, MAX_BUNDLE_BYTES } from '../model/attestation.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { acquire, LOCK_WAIT_MS } from '../store/lock.ts';
import { readCappedIfExists } from '../store/read-capped.ts';
import { openEnvelope, parseBundle } from '../trust/attestations.ts';
import { mirrorPaths } from './mirror-dir.ts';

/** Adds `env` (signed by one builder) to the package's bundle; returns the bundle's path. */
export async function appendAttestation(
  mirrorDir: string,
  targetName: string,
  env: Envelope,
): Promise<string> {
  const file = mirrorPaths(mirrorDir).attestations(targetName);
  await mkdir(dirname(file), { recursive: true });
  const mine = openEnvelope(env);
  if (!mine.ok) throw new DchatError('E_INTERNAL', `the new attestation does not verify: ${mine.detail}`);
  const release = await acquire(`${file}.lock`, LOCK_WAIT_MS);
  try {
    const old = (await readCappedIfExists(file, MAX_BUNDLE_BYTES))?.toString('utf8') ?? '';
    const kept = parseBundle(old).envelopes.filter((e) => {
      const o = openEnvelope(e);
      return !o.ok || o.builder !== mine.builder;
    });
    if (kept.length >= MAX_ATTESTATIONS_PER_PACKAGE)
      throw new DchatError('E_TOO_LARGE', `${file} already holds ${kept.length} attestations`);
    const lines = [...kept, env].map((e) => JSON.stringify(e));
    await writeFileAtomic(file, `${lines.join('\n')}\n`);
    return file;
  } finally {
    await release();
  }
}
