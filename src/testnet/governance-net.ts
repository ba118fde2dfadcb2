/**
 * A governed test network's founding papers, made the way founders make them: token holders' and
 * validators' keys from `dchat-sign keygen`, and genesis.json signed by a root key with
 * `dchat-sign genesis`. Fast governance parameters (1 s blocks, short voting) so an upgrade runs
 * in minutes. Shared by `dchat-test upgrade`, `dchat testnet --scenario upgrade` and the tests.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cliJson } from './cli-run.ts';

export interface KeyFile {
  /** The private key file (PKCS#8 PEM, as dchat-sign writes it). */
  file: string;
  /** Its public key as hex. */
  pub: string;
}

export interface GovernanceKeys {
  dir: string;
  holders: KeyFile[];
  validators: (KeyFile & { keyId: string; stake: number })[];
  genesisFile: string;
  networkId: string;
}

export interface GovernanceNetOptions {
  dir: string;
  networkId: string;
  holders: number;
  /** Stake of each validator, in order. */
  stakes: number[];
  /** Token weight of each holder (default 100). */
  holderWeight?: number;
  blockIntervalMs?: number;
}

/** `dchat-sign keygen --out DIR/NAME.key`: the key file and its public key. */
export async function keygen(dir: string, name: string): Promise<KeyFile> {
  const file = join(dir, `${name}.key`);
  const r = await cliJson<{ public: string }>('dchat-sign', ['keygen', '--out', file]);
  return { file, pub: r.public };
}

/** Keys for every holder and validator, and the genesis that names them. */
export async function makeGovernance(o: GovernanceNetOptions): Promise<GovernanceKeys> {
  await mkdir(o.dir, { recursive: true });
  const [holders, validators, root] = await Promise.all([
    Promise.all(Array.from({ length: o.holders }, (_, i) => keygen(o.dir, `holder-${i}`))),
    Promise.all(o.stakes.map((_, i) => keygen(o.dir, `validator-${i}`))),
    keygen(o.dir, 'root'),
  ]);
  const spec = {
    network_id: o.networkId,
    params: {
      min_voting_period_ms: 1000,
      block_interval_ms: o.blockIntervalMs ?? 1000,
      max_clock_skew_ms: 30_000,
      min_deposit: 10,
    },
    holders: holders.map((h) => ({ public_key: h.pub, weight: o.holderWeight ?? 100 })),
    validators: validators.map((v, i) => ({
      key_id: `validator-${i}`,
      public_key: v.pub,
      stake: o.stakes[i] as number,
    })),
  };
  const specFile = join(o.dir, 'network.json');
  await writeFile(specFile, `${JSON.stringify(spec, null, 2)}\n`);
  const genesisFile = join(o.dir, 'genesis.json');
  await cliJson('dchat-sign', ['genesis', '--spec', specFile, '--root-key', root.file, '--out', genesisFile]);
  return {
    dir: o.dir,
    holders,
    validators: validators.map((v, i) => ({ ...v, keyId: `validator-${i}`, stake: o.stakes[i] as number })),
    genesisFile,
    networkId: o.networkId,
  };
}
