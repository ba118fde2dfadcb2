/**
 * `dchat release sign` and `dchat release finish`: detached signing. A maintainer reviews and signs
 * a staged metadata file on their own machine with their own key (never two private keys on one
 * machine); `finish` merges the signed copies, checks every threshold, and publishes with the
 * online key. docs/maintainer-keys.md has the whole ceremony.
 */
import { resolve } from 'node:path';
import type { Root, Targets } from '@tufjs/models';
import { sha256Hex } from '../../crypto/hash.ts';
import { parseDuration } from '../../model/duration.ts';
import { finishStaged } from '../../release/ceremony.ts';
import { keyFileOptions } from '../../release/key-files.ts';
import { readMetadataFile } from '../../release/staging.ts';
import { writeFileAtomic } from '../../store/atomic.ts';
import { serializeMetadata } from '../../trust/metadata.ts';
import { addSignatures, signedBytes } from '../../trust/repository.ts';
import { tallySignatures } from '../../trust/signatures.ts';
import { requireFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';
import { repoResult } from './release-impl.ts';
import { KeyLoader, passphraseSource } from './release-keys.ts';

export async function sign(
  o: { metadata: string; key?: string; output?: string; passphraseFile?: string },
  env: CommandEnv,
): Promise<void> {
  const path = resolve(env.ctx.cwd, o.metadata);
  const md = await readMetadataFile(path, '--metadata');
  const loader = new KeyLoader(env, passphraseSource(env, o.passphraseFile), keyFileOptions(o));
  const [key] = await loader.signing([requireFlag(o.key, '--key')], '--key');
  const digest = sha256Hex(signedBytes(md));
  const s = md.signed;
  env.out.line(
    `✍️  Signing ${s.type} v${s.version} (expires ${s.expires}) with key ${key!.keyId.slice(0, 16)}…`,
  );
  env.out.line(`   Digest of what is signed (compare with the other signers): sha256:${digest}`);
  const review: Record<string, unknown> = {};
  if (s.type === 'targets') {
    const targets = (s as Targets).targets;
    review.targets = Object.values(targets).map((t) => ({
      name: t.path,
      length: t.length,
      sha256: t.hashes.sha256,
    }));
    for (const t of Object.values(targets))
      env.out.line(`   ${t.path}  ${t.length} bytes  sha256:${t.hashes.sha256}`);
  }
  if (s.type === 'root') {
    const root = s as Root;
    review.roles = Object.fromEntries(
      Object.entries(root.roles).map(([r, def]) => [r, { threshold: def.threshold, keyids: def.keyIDs }]),
    );
    for (const [r, def] of Object.entries(root.roles))
      env.out.line(
        `   ${r.padEnd(9)} ${def.threshold} of ${def.keyIDs.length}: ${def.keyIDs.map((k) => k.slice(0, 12)).join(', ')}`,
      );
  }
  addSignatures(md, [key!]);
  const output = o.output === undefined ? path : resolve(env.ctx.cwd, o.output);
  await writeFileAtomic(output, serializeMetadata(md));
  const count = Object.keys(md.signatures).length;
  const self = s.type === 'root' ? tallySignatures(s as Root, 'root', md) : undefined;
  env.out.line(
    `   Wrote ${output}: ${count} signature${count === 1 ? '' : 's'}${self ? ` (${self.valid} of ${self.threshold} of the keys this root lists)` : ''}`,
  );
  env.out.result({
    ok: true,
    output,
    role: s.type,
    version: s.version,
    expires: s.expires,
    keyid: key!.keyId,
    signed_sha256: digest,
    signatures: count,
    ...review,
  });
}

export async function finish(
  o: { out: string; key: string[]; signatures?: string[]; expires: string; passphraseFile?: string },
  env: CommandEnv,
): Promise<void> {
  const loader = new KeyLoader(env, passphraseSource(env, o.passphraseFile), keyFileOptions(o));
  const keys = await loader.signing(o.key, '--key');
  const dir = resolve(env.ctx.cwd, o.out);
  const r = await finishStaged({
    dir,
    keys,
    signatureFiles: (o.signatures ?? []).map((f) => resolve(env.ctx.cwd, f)),
    now: env.ctx.now(),
    expiresSec: parseDuration(o.expires, '--expires'),
  });
  const repo = r.repo;
  env.out.line(
    `✅ Published ${r.committedRoles.map((role) => `${role} v${repo[role].signed.version}`).join(' and ')} to ${dir}`,
  );
  env.out.line(
    `   Snapshot v${repo.snapshot.signed.version}, timestamp v${repo.timestamp.signed.version} (expires ${repo.timestamp.signed.expires})`,
  );
  if (repo.root.signed.version === 1 && r.committedRoles.includes('root'))
    env.out.line(`   Pin it on nodes with: dchat trust init --root ${dir}/root.json`);
  env.out.result({ ok: true, dir, committed: r.committedRoles, ...repoResult(env, repo) });
}
