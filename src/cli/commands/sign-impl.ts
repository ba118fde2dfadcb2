import { basename, resolve } from 'node:path';
import { DchatError, UsageError } from '../../errors.ts';
import { parsePackageName } from '../../model/platform.ts';
import { keyFileOptions, loadSigningKeyFile, writeNewKeyPair } from '../../release/key-files.ts';
import { PASSPHRASE_ENV, passphraseFor } from '../../release/passphrase.ts';
import { writeFileAtomic } from '../../store/atomic.ts';
import { digestFile } from '../../store/file-digest.ts';
import { buildStatement, signStatement } from '../../trust/statement.ts';
import { platformFlag, requireFlag, versionFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';
import { passphraseSource } from './release-keys.ts';

/** Minimum passphrase length for new encrypted keys (a human-chosen secret guarding a release key). */
const MIN_PASSPHRASE = 8;

export async function keygen(
  o: { out: string; force?: boolean; encrypt?: boolean; passphraseFile?: string },
  env: CommandEnv,
): Promise<void> {
  const path = resolve(env.ctx.cwd, o.out);
  if (o.passphraseFile !== undefined && !o.encrypt)
    throw new UsageError('--passphrase-file', 'only with --encrypt (keygen writes a plain key otherwise)');
  let passphrase: string | undefined;
  if (o.encrypt) {
    const src = passphraseSource(env, o.passphraseFile);
    passphrase = await passphraseFor(src, path);
    // Typed at a prompt: ask twice, a typo would lock the key away for good.
    if (o.passphraseFile === undefined && !env.ctx.env[PASSPHRASE_ENV] && src.prompt) {
      const again = await src.prompt(`Repeat passphrase for ${path}: `);
      if (again !== passphrase)
        throw new DchatError('E_PASSPHRASE', 'the passphrases do not match', {
          details: { reason: 'mismatch' },
        });
    }
    if (passphrase.length < MIN_PASSPHRASE)
      throw new DchatError('E_PASSPHRASE', `a key passphrase needs at least ${MIN_PASSPHRASE} characters`, {
        details: { reason: 'short' },
      });
  }
  const key = await writeNewKeyPair(path, Boolean(o.force), passphrase);
  env.out.line(
    `🔑 Wrote ${path} (private${passphrase === undefined ? '' : ', encrypted'}, mode 0600) and ${path}.pub`,
  );
  env.out.line(`   Key id: ${key.keyId}`);
  env.out.line(`   Public: ${key.publicHex}`);
  env.out.result({
    ok: true,
    private_key: path,
    public_key: `${path}.pub`,
    keyid: key.keyId,
    public: key.publicHex,
    encrypted: passphrase !== undefined,
  });
}

export async function sign(
  o: {
    key?: string;
    input?: string;
    output?: string;
    version?: string;
    platform?: string;
    passphraseFile?: string;
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
  const key = await loadSigningKeyFile(
    keyPath,
    '--key',
    passphraseSource(env, o.passphraseFile),
    keyFileOptions(o),
  );
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
