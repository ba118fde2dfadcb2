/**
 * Key flags of the `release` commands -> role definitions and signing keys. Every key file goes
 * through release/key-files.ts (private, encrypted or public PEM); each path is read once, so an
 * encrypted key named by two flags asks for its passphrase once.
 *
 * Which keys a role gets: its own flags (`--root-key`, `--targets-key`, `--snapshot-key`,
 * `--timestamp-key`; `--online-key` counts for snapshot and timestamp), else the general list
 * (`--key` for init, `--new-key` for rotate-keys), else (rotate-keys) what the current root says.
 * Its threshold: `--<role>-threshold`, else 1 for a role given only by `--online-key` (one online
 * key), else `--threshold`, else 1 (init) or the current threshold (rotate-keys, role kept).
 */
import { resolve } from 'node:path';
import { UsageError } from '../../errors.ts';
import { type KeyFileOptions, type LoadedKey, loadKeyFile } from '../../release/key-files.ts';
import { type PassphraseSource, terminalPrompt } from '../../release/passphrase.ts';
import type { PublicKeyRef, SigningKey } from '../../trust/keys.ts';
import type { RoleName } from '../../trust/metadata.ts';
import { checkRoleSpecs, ROLES, type RoleSpec, type RoleSpecs } from '../../trust/repository.ts';
import { intFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';

export interface RoleKeyFlags {
  threshold?: string;
  rootKey: string[];
  rootThreshold?: string;
  targetsKey: string[];
  targetsThreshold?: string;
  snapshotKey: string[];
  snapshotThreshold?: string;
  timestampKey: string[];
  timestampThreshold?: string;
  onlineKey: string[];
}

export function passphraseSource(env: CommandEnv, file: string | undefined): PassphraseSource {
  return {
    file: file === undefined ? undefined : resolve(env.ctx.cwd, file),
    env: env.ctx.env,
    prompt: terminalPrompt(env.ctx.stderr.isTTY),
  };
}

/** Loads key files relative to the command's cwd, each path once. */
export class KeyLoader {
  private readonly cache = new Map<string, Promise<LoadedKey>>();
  readonly signers: SigningKey[] = [];
  private readonly env: CommandEnv;
  private readonly pass: PassphraseSource;
  private readonly opts: KeyFileOptions;

  constructor(env: CommandEnv, pass: PassphraseSource, opts: KeyFileOptions = {}) {
    this.env = env;
    this.pass = pass;
    this.opts = opts;
  }

  async load(paths: readonly string[], flag: string): Promise<LoadedKey[]> {
    const out: LoadedKey[] = [];
    for (const p of paths) {
      const abs = resolve(this.env.ctx.cwd, p);
      let k = this.cache.get(abs);
      if (!k) {
        k = loadKeyFile(abs, flag, this.pass, this.opts);
        this.cache.set(abs, k);
        const loaded = await k;
        if (loaded.kind === 'private') this.signers.push(loaded.key);
      }
      out.push(await k);
    }
    return out;
  }

  /** Private keys only (signing commands): a public key file is a usage error naming the flag. */
  async signing(paths: readonly string[], flag: string, required = true): Promise<SigningKey[]> {
    if (required && paths.length === 0) throw new UsageError(flag, 'at least one key is required');
    const keys = await this.load(paths, flag);
    return keys.map((k, i) => {
      if (k.kind === 'public')
        throw new UsageError(flag, `${paths[i]} is a public key; this needs the private key to sign with`);
      return k.key;
    });
  }
}

const roleFlag = (role: RoleName) => `--${role}-key`;

/**
 * Role definitions from the flags. `general` is the `--key`/`--new-key` list and its flag name;
 * `current` the definitions to keep for roles no flag names (rotate-keys), absent for init.
 */
export async function roleSpecsFromFlags(
  o: RoleKeyFlags,
  loader: KeyLoader,
  general: { paths: string[]; flag: string },
  current?: RoleSpecs,
): Promise<RoleSpecs> {
  const generalThreshold = intFlag(o.threshold, '--threshold', 1, 64);
  const generalKeys = await loader.load(general.paths, general.flag);
  const thresholdFlag: Partial<Record<RoleName, string>> = {};
  const specs = {} as Record<RoleName, RoleSpec>;
  const own: Record<RoleName, string[]> = {
    root: o.rootKey,
    targets: o.targetsKey,
    snapshot: o.snapshotKey,
    timestamp: o.timestampKey,
  };
  const explicit: Record<RoleName, string | undefined> = {
    root: o.rootThreshold,
    targets: o.targetsThreshold,
    snapshot: o.snapshotThreshold,
    timestamp: o.timestampThreshold,
  };
  for (const role of ROLES) {
    const online = role === 'snapshot' || role === 'timestamp' ? o.onlineKey : [];
    const paths = [...own[role], ...online];
    const roleThreshold = intFlag(explicit[role], `--${role}-threshold`, 1, 64);
    let keys: PublicKeyRef[];
    let threshold: number;
    if (paths.length > 0) {
      keys = (await loader.load(own[role], roleFlag(role))).map((k) => k.key);
      keys.push(...(await loader.load(online, '--online-key')).map((k) => k.key));
      const onlyOnline = own[role].length === 0;
      threshold = roleThreshold ?? (onlyOnline ? 1 : (generalThreshold ?? 1));
      thresholdFlag[role] =
        roleThreshold !== undefined || onlyOnline || generalThreshold === undefined
          ? `--${role}-threshold`
          : '--threshold';
    } else if (generalKeys.length > 0) {
      keys = generalKeys.map((k) => k.key);
      threshold = roleThreshold ?? generalThreshold ?? 1;
      thresholdFlag[role] = roleThreshold !== undefined ? `--${role}-threshold` : '--threshold';
    } else if (current) {
      keys = [...current[role].keys];
      threshold = roleThreshold ?? current[role].threshold;
      thresholdFlag[role] = `--${role}-threshold`;
    } else {
      throw new UsageError(
        general.flag,
        `no keys for the ${role} role: give ${general.flag} (all roles) or ${roleFlag(role)}`,
      );
    }
    specs[role] = { keys, threshold };
  }
  checkRoleSpecs(specs, (r) => thresholdFlag[r] ?? '--threshold');
  return specs;
}
