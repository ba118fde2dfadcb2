import { basename, resolve } from 'node:path';
import { DchatError } from '../../errors.ts';
import type { PackageTarget } from '../../model/package.ts';
import { hostPlatform, parsePackageName } from '../../model/platform.ts';
import { startFileDigest } from '../../store/file-digest.ts';
import { takeEarlyDigest } from '../early-digest.ts';
import { intFlag, platformFlag, versionFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';

export interface VerifyFlags {
  package: string;
  version: string;
  platform?: string;
  metadata?: string;
  attestations?: string;
  builderKey?: string[];
  minAttestations?: string;
}

/** Seed output lines: "✅ Hash verification passed (SHA-256)". */
const CHECK_LABEL: Record<string, [string, string]> = {
  size: ['Size check', ''],
  sha256: ['Hash verification', ' (SHA-256)'],
  blake3: ['Hash verification', ' (BLAKE3)'],
  signature: ['Package signature verification', ' (dchat-sign, Ed25519)'],
};

/** `dchat update verify`: the update service's verdict, rendered (seed lines, or one JSON document). */
export async function verify(o: VerifyFlags, env: CommandEnv): Promise<number> {
  const version = versionFlag(o.version);
  const file = resolve(env.ctx.cwd, o.package);
  const platform = platformFlag(
    o.platform ?? parsePackageName(basename(file))?.platform ?? hostPlatform(process.platform, process.arch),
  );
  env.out.line(`🔒 Verifying package: ${file}`);
  // Hashing starts now, on its own threads, while the update service loads and the metadata is
  // read and checked (about a tenth of a 1 GiB verify when done one after the other); the check
  // caps it as soon as the signed sizes are in.
  // Already under way when the bin started it from argv (../early-digest.ts).
  const hashing = takeEarlyDigest(file) ?? startFileDigest(file);
  let service: import('../../update/service.ts').UpdateService;
  try {
    service = (await import('./update-shared-impl.ts')).updateService(env);
  } catch (err) {
    hashing.stop();
    throw err;
  }
  const { verdict, digests, trusted } = await service.verify({
    file,
    version,
    platform,
    hashing,
    ...(o.metadata ? { metadataDir: resolve(env.ctx.cwd, o.metadata) } : {}),
  });
  const root = trusted.root.signed;
  const targets = trusted.requireTargets().signed;
  const doc = {
    ok: verdict.ok,
    package: file,
    version,
    platform,
    size: digests.size,
    sha256: digests.sha256,
    blake3: digests.blake3,
    checks: Object.fromEntries(verdict.checks.map((c) => [c.name, c.ok])),
    metadata: {
      root_version: root.version,
      targets_version: targets.version,
      targets_expires: targets.expires,
      metadata_signatures: 'ok',
    },
    ...(verdict.ok ? {} : { error: { code: verdict.code, message: verdict.message } }),
  };
  for (const c of verdict.checks) {
    if (c.name === 'size') continue;
    const [what, how] = CHECK_LABEL[c.name] ?? [c.name, ''];
    env.out.line(`${c.ok ? '✅' : '❌'} ${what} ${c.ok ? 'passed' : 'failed'}${how}`);
  }
  if (!verdict.ok) {
    env.out.result(doc);
    env.ctx.stderr.write(`error[${verdict.code}]: ${verdict.message}\n`);
    return new DchatError(verdict.code, verdict.message).exitCode;
  }
  env.out.line(
    `✅ Signature verification passed (Ed25519, ${root.roles.targets?.threshold} of ${root.roles.targets?.keyIDs.length} release keys, targets v${targets.version})`,
  );
  const attested = await attestationsOf(o, env, verdict.target);
  env.out.line('✅ Package verified successfully');
  env.out.result({ ...doc, attestations: attested });
  return 0;
}

/**
 * Rebuild attestations of the verified package, counted against its signed target; with
 * `--min-attestations N` fewer than N matching builders is E_ATTESTATIONS (exit 3).
 */
async function attestationsOf(o: VerifyFlags, env: CommandEnv, target: PackageTarget) {
  const min = intFlag(o.minAttestations ?? '0', '--min-attestations', 0, 256) as number;
  const builders = o.builderKey?.length ? await builderKeys(o.builderKey, env) : undefined;
  const { readAttestations, checkAttestations } = await import('../../update/attestations.ts');
  const found = await readAttestations(env.paths, target.path, {
    ...(o.attestations ? { file: resolve(env.ctx.cwd, o.attestations) } : {}),
    ...(o.metadata ? { metadataDir: resolve(env.ctx.cwd, o.metadata) } : {}),
  });
  const c = checkAttestations(found.envelopes, target, { min, ...(builders ? { builders } : {}) });
  const n = c.matching.length;
  if (found.from === null) env.out.line('ℹ️  No rebuild attestations for this package');
  else
    env.out.line(
      `${n > 0 ? '✅' : 'ℹ️ '} Reproducible build: ${n} independent builder${n === 1 ? '' : 's'} rebuilt these exact bytes from source${c.rejected.length ? ` (${c.rejected.length} attestation(s) did not count)` : ''}`,
    );
  return {
    from: found.from,
    matching: n,
    required: min,
    builders: c.matching,
    rejected: c.rejected,
  };
}

async function builderKeys(files: string[], env: CommandEnv): Promise<Set<string>> {
  const { loadKeyFile } = await import('../../release/key-files.ts');
  const out = new Set<string>();
  for (const f of files) out.add((await loadKeyFile(resolve(env.ctx.cwd, f), '--builder-key')).key.publicHex);
  return out;
}
