/**
 * `dchat-sign genesis`: the founders' step of a network's governance. Reads a spec (network id,
 * token-holder snapshot, validator set, optional parameters), fills the seed's defaults, signs it
 * with the root keys (`--root-key`, repeatable; the threshold defaults to all of them) and writes
 * genesis.json, which every node then pins with `dchat governance init --genesis`.
 */
import { resolve } from 'node:path';
import { UsageError } from '../../errors.ts';
import { signGenesis, trustGenesis } from '../../governance/genesis.ts';
import {
  DEFAULT_GOVERNANCE_PARAMS,
  GENESIS_FORMAT,
  type GenesisBody,
  GenesisSpecSchema,
  MAX_GENESIS_BYTES,
  MAX_ROOT_KEYS,
} from '../../model/governance.ts';
import { parseJsonBytes, parseWith } from '../../model/schema-util.ts';
import { keyFileOptions } from '../../release/key-files.ts';
import { writeFileAtomic } from '../../store/atomic.ts';
import { readFlagFile } from '../../store/read-capped.ts';
import { intFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';
import { KeyLoader, passphraseSource } from './release-keys.ts';

export interface GenesisFlags {
  spec: string;
  rootKey: string[];
  rootThreshold?: string;
  out: string;
  passphraseFile?: string;
  allowInsecureKeyPermissions?: boolean;
}

export async function genesis(o: GenesisFlags, env: CommandEnv): Promise<void> {
  if (o.rootKey.length === 0) throw new UsageError('--root-key', 'at least one root key is required');
  if (o.rootKey.length > MAX_ROOT_KEYS)
    throw new UsageError('--root-key', `at most ${MAX_ROOT_KEYS} root keys`);
  const threshold = intFlag(o.rootThreshold, '--root-threshold', 1, o.rootKey.length) ?? o.rootKey.length;
  const specPath = resolve(env.ctx.cwd, o.spec);
  const spec = parseWith(
    GenesisSpecSchema,
    parseJsonBytes(await readFlagFile('--spec', specPath, MAX_GENESIS_BYTES), MAX_GENESIS_BYTES, specPath),
    specPath,
  );
  const keys = await new KeyLoader(env, passphraseSource(env, o.passphraseFile), keyFileOptions(o)).signing(
    o.rootKey,
    '--root-key',
  );
  const body: GenesisBody = {
    format: GENESIS_FORMAT,
    network_id: spec.network_id,
    version: spec.version,
    ...(spec.origin !== undefined ? { origin: spec.origin } : {}),
    created:
      spec.created ??
      env.ctx
        .now()
        .toISOString()
        .replace(/\.\d+Z$/, '.000Z'),
    params: { ...DEFAULT_GOVERNANCE_PARAMS, ...spec.params },
    root: { public_keys: keys.map((k) => k.publicHex), threshold },
    holders: spec.holders,
    validators: spec.validators,
    ...(spec.reproducible ? { reproducible: spec.reproducible } : {}),
  };
  // Checked as every node will check it before it is written.
  const g = trustGenesis(signGenesis(body, keys));
  const out = resolve(env.ctx.cwd, o.out);
  await writeFileAtomic(out, `${JSON.stringify(g.genesis, null, 2)}\n`);
  env.out.line(`🏛️  Genesis of ${g.networkId} written to ${out}`);
  env.out.line(
    `   ${g.body.holders.length} holders (weight ${g.totalWeight}), ${g.body.validators.length} validators (stake ${g.totalStake})`,
  );
  env.out.line(`   Signed by ${keys.length} root key(s), threshold ${threshold}; hash ${g.hash}`);
  env.out.result({
    ok: true,
    file: out,
    network_id: g.networkId,
    genesis_hash: g.hash,
    params: g.body.params,
  });
}
