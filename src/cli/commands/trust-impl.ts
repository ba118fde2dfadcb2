import { resolve } from 'node:path';
import { sha256Hex } from '../../crypto/hash.ts';
import { UsageError } from '../../errors.ts';
import { LIMITS } from '../../model/limits.ts';
import { loadDefaultRoot } from '../../store/default-root.ts';
import { readFlagFile } from '../../store/read-capped.ts';
import { readTrustOrigin, writeTrustOrigin } from '../../store/trust-origin.ts';
import { FileTrustStore } from '../../store/trust-store.ts';
import { parseMetadata, type RoleName } from '../../trust/metadata.ts';
import { TrustedSet } from '../../trust/trusted-set.ts';
import type { CommandEnv } from '../program.ts';
import { reportExpiry } from './trust-expiry.ts';

export async function init(o: { root: string }, env: CommandEnv): Promise<void> {
  const path = resolve(env.ctx.cwd, o.root);
  const bytes = await readFlagFile('--root', path, LIMITS.rootBytes);
  // Same checks as any root: size cap, well formed, signed by its own threshold.
  const ts = new TrustedSet(bytes, env.ctx.now());
  const root = ts.root.signed;
  // The origin first: a crash between the two writes leaves a home that uses no default mirrors
  // (fails closed), never the pinned root with the public network's mirrors.
  await writeTrustOrigin(env.paths, {
    origin: 'trust-init',
    root_sha256: sha256Hex(bytes),
    at: env.ctx.now().toISOString(),
  });
  // A new trust anchor: the set becomes this root alone (metadata trusted under the previous one
  // is forgotten in the same atomic write).
  await new FileTrustStore(env.paths).pinRoot(bytes);
  const expired = root.isExpired(env.ctx.now());
  env.out.line(
    `🔐 Trusted root pinned: v${root.version}, ${Object.keys(root.keys).length} key(s), expires ${root.expires}`,
  );
  if (expired)
    env.out.line('⚠️  This root has expired: a newer root must be reachable along the signed chain.');
  env.out.line(`   Stored in ${env.paths.trustSetFile}; no default mirrors or bootstrap peers will be used.`);
  env.out.result({
    ok: true,
    root_version: root.version,
    expires: root.expires,
    expired,
    path: env.paths.trustSetFile,
  });
}

export async function show(_o: unknown, env: CommandEnv): Promise<void> {
  const store = new FileTrustStore(env.paths, await loadDefaultRoot());
  const rootBytes = await store.load('root');
  if (!rootBytes)
    throw new UsageError(
      '--home',
      `no trusted root in ${env.paths.home}: run \`dchat trust init --root FILE\``,
    );
  const now = env.ctx.now();
  const root = parseMetadata('root', rootBytes).signed;
  const origin = await readTrustOrigin(env.paths);
  const roles = Object.fromEntries(
    (['root', 'targets', 'snapshot', 'timestamp'] as const).map((r) => [
      r,
      { threshold: root.roles[r]?.threshold ?? 0, keyids: root.roles[r]?.keyIDs ?? [] },
    ]),
  );
  const others: Record<string, { version: number; expires: string; expired: boolean }> = {};
  for (const role of ['targets', 'snapshot', 'timestamp'] as RoleName[]) {
    const b = await store.load(role);
    if (!b) continue;
    try {
      const md = parseMetadata(role, b).signed;
      others[role] = { version: md.version, expires: md.expires, expired: md.isExpired(now) };
    } catch {
      // A damaged local copy is reported as absent; the next update replaces it.
    }
  }
  const doc = {
    origin: origin.origin,
    root: {
      version: root.version,
      expires: root.expires,
      expired: root.isExpired(now),
      consistent_snapshot: root.consistentSnapshot,
    },
    keys: Object.entries(root.keys).map(([id, k]) => ({
      keyid: id,
      keytype: k.keyType,
      public: k.keyVal.public,
      roles: Object.keys(roles).filter((r) => roles[r]?.keyids.includes(id)),
    })),
    roles,
    metadata: others,
    warnings: reportExpiry(
      env,
      [
        { role: 'root' as const, version: root.version, expires: root.expires },
        ...Object.entries(others).map(([role, v]) => ({
          role: role as RoleName,
          version: v.version,
          expires: v.expires,
        })),
      ],
      'node',
    ),
  };
  env.out.line(
    `🔐 Trusted root v${root.version} (${origin.origin === 'default' ? 'public dchat network, shipped default' : 'pinned with trust init'})`,
  );
  env.out.line(`   Expires: ${root.expires}${doc.root.expired ? ' (EXPIRED)' : ''}`);
  env.out.line('');
  env.out.line('🔑 Keys:');
  for (const k of doc.keys)
    env.out.line(
      `  ${k.keyid.slice(0, 16)}… ed25519 ${(k.public ?? '').slice(0, 16)}… roles: ${k.roles.join(', ')}`,
    );
  env.out.line('');
  env.out.line('📜 Thresholds:');
  for (const [r, v] of Object.entries(roles)) env.out.line(`  ${r}: ${v.threshold} of ${v.keyids.length}`);
  if (Object.keys(others).length) {
    env.out.line('');
    env.out.line('🕒 Trusted release metadata:');
    for (const [r, v] of Object.entries(others))
      env.out.line(
        `  ${r}: v${v.version}, expires ${v.expires}${v.expired ? ' (EXPIRED: refresh needed)' : ''}`,
      );
  }
  env.out.result(doc);
}
