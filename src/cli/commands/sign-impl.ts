import { basename, resolve } from 'node:path';
import { digestFile } from '../../crypto/file-digest.ts';
import { UsageError } from '../../errors.ts';
import { parsePackageName } from '../../model/platform.ts';
import { loadSigningKeyFile, writeNewKeyPair } from '../../release/key-files.ts';
import { writeFileAtomic } from '../../store/atomic.ts';
import { buildStatement, signStatement } from '../../trust/statement.ts';
import { platformFlag, requireFlag, versionFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';

export async function keygen(o: { out: string; force?: boolean }, env: CommandEnv): Promise<void> {
  const path = resolve(env.ctx.cwd, o.out);
  const key = await writeNewKeyPair(path, Boolean(o.force));
  env.out.line(`🔑 Wrote ${path} (private, mode 0600) and ${path}.pub`);
  env.out.line(`   Key id: ${key.keyId}`);
  env.out.line(`   Public: ${key.publicHex}`);
  env.out.result({
    ok: true,
    private_key: path,
    public_key: `${path}.pub`,
    keyid: key.keyId,
    public: key.publicHex,
  });
}

export async function sign(
  o: {
    key?: string;
    input?: string;
    output?: string;
    version?: string;
    platform?: string;
    allowInsecureKeyPermissions?: boolean;
  },
  env: CommandEnv,
): Promise<void> {
  const keyPath = resolve(env.ctx.cwd, requireFlag(o.key, '--key'));
  const input = resolve(env.ctx.cwd, requireFlag(o.input, '--input'));
  const output = resolve(env.ctx.cwd, requireFlag(o.output, '--output'));
  const parsed = parsePackageName(basename(input));
  if ((!o.version || !o.platform) && !parsed) {
    throw new UsageError(
      '--version',
      `cannot parse version and platform from '${basename(input)}'; pass --version and --platform`,
    );
  }
  const version = versionFlag(o.version ?? parsed?.version);
  const platform = platformFlag(o.platform ?? parsed?.platform);
  const key = await loadSigningKeyFile(keyPath, '--key', {
    allowInsecurePermissions: o.allowInsecureKeyPermissions === true,
  });
  const d = await digestFile(input).catch((cause) => {
    throw new UsageError('--input', `cannot read ${input}: ${(cause as Error).message}`, { cause });
  });
  const doc = signStatement(key.privateKey, buildStatement(version, platform, d));
  await writeFileAtomic(output, `${JSON.stringify(doc, null, 2)}\n`);
  env.out.line(`✍️  Signed ${doc.statement.name} (${d.size} bytes)`);
  env.out.line(`   SHA-256: ${d.sha256}`);
  env.out.line(`   BLAKE3:  ${d.blake3}`);
  env.out.line(`   Signature written to ${output}`);
  env.out.result({ ok: true, output, ...doc });
}
