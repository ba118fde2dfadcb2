/**
 * `dchat governance init|propose-upgrade|propose-genesis|vote|approve|status`. `init` pins the genesis in the home
 * (restart the node to use it). The others talk to the running node over its control socket; the
 * signing ones load `--key` here, ask the node what to sign against (network, current height and
 * time, the release's hashes in the trusted TUF targets), sign, and hand the signed object to the
 * node, which checks it like any peer's and gossips it. Keys never leave this process.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { DchatError, UsageError } from '../../errors.ts';
import {
  buildApproval,
  buildProposal,
  buildVote,
  type GovernanceContext,
} from '../../governance/builders.ts';
import { trustGenesis } from '../../governance/genesis.ts';
import { buildGenesisProposal } from '../../governance/genesis-change.ts';
import type { DownloadSource } from '../../model/download-source.ts';
import { parseDuration } from '../../model/duration.ts';
import {
  FORK_TYPES,
  type ForkType,
  MAX_GENESIS_BYTES,
  MAX_PROPOSAL_MIRRORS,
  MAX_VOTING_PERIOD_MS,
  VOTE_OPTIONS,
  type VoteOption,
} from '../../model/governance.ts';
import type { ProposalStatus } from '../../model/governance-control.ts';
import { isAllowedMirrorUrl } from '../../model/loopback.ts';
import { hostPlatform } from '../../model/platform.ts';
import { parseJsonBytes } from '../../model/schema-util.ts';
import { controlRequest } from '../../node/control.ts';
import { keyFileOptions, loadSigningKeyFile } from '../../release/key-files.ts';
import { GovernanceStore } from '../../store/governance-store.ts';
import { readFlagFile } from '../../store/read-capped.ts';
import { intFlag, versionFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';
import { passphraseSource } from './release-keys.ts';

export async function init(o: { genesis: string }, env: CommandEnv): Promise<void> {
  const path = resolve(env.ctx.cwd, o.genesis);
  const bytes = await readFlagFile('--genesis', path, MAX_GENESIS_BYTES);
  const g = trustGenesis(parseJsonBytes(bytes, MAX_GENESIS_BYTES, path));
  const store = new GovernanceStore(env.paths);
  const pinned = await store.readGenesis();
  if (pinned !== undefined) {
    const old = trustGenesis(pinned);
    if (old.hash !== g.hash)
      throw new DchatError(
        'E_CONFIG',
        `a different genesis (network ${old.networkId}, ${old.hash.slice(0, 16)}) is already pinned in ${store.genesisFile}; it changes only by a certified governance decision`,
      );
  } else await store.writeGenesis(bytes);
  env.out.line(`🏛️  Genesis pinned: network ${g.networkId} (${g.hash.slice(0, 16)})`);
  env.out.line(
    `   ${g.body.holders.length} token holders (weight ${g.totalWeight}), ${g.body.validators.length} validators (stake ${g.totalStake})`,
  );
  env.out.line(
    `   Quorum ${g.body.params.quorum}, threshold ${g.body.params.threshold}, approval ${g.body.params.approval_threshold}`,
  );
  env.out.line('   Restart the node to use it.');
  env.out.result({
    ok: true,
    network_id: g.networkId,
    genesis_hash: g.hash,
    holders: g.body.holders.length,
    total_weight: g.totalWeight,
    validators: g.body.validators.length,
    total_stake: g.totalStake,
    params: g.body.params,
    file: store.genesisFile,
  });
}

interface KeyFlags {
  key: string;
  passphraseFile?: string;
  allowInsecureKeyPermissions?: boolean;
}

async function signingKey(o: KeyFlags, env: CommandEnv) {
  const k = await loadSigningKeyFile(
    resolve(env.ctx.cwd, o.key),
    '--key',
    passphraseSource(env, o.passphraseFile),
    keyFileOptions(o),
  );
  return k.privateKey;
}

async function context(env: CommandEnv, version?: string): Promise<GovernanceContext> {
  return controlRequest(env.paths, 'governance_context', version === undefined ? {} : { version });
}

function mirrorList(value: string): DownloadSource[] {
  const urls = value
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u.length > 0);
  if (urls.length === 0) throw new UsageError('--mirrors', 'at least one mirror URL is required');
  if (urls.length > MAX_PROPOSAL_MIRRORS)
    throw new UsageError('--mirrors', `at most ${MAX_PROPOSAL_MIRRORS} mirrors`);
  return urls.map((u, i) => {
    let url: URL;
    try {
      url = new URL(u);
    } catch (cause) {
      throw new UsageError('--mirrors', `'${u.slice(0, 120)}' is not a URL`, { cause });
    }
    if (!isAllowedMirrorUrl(url))
      throw new UsageError('--mirrors', `'${u.slice(0, 120)}' must be https:// (http:// on loopback only)`);
    return {
      id: randomUUID(),
      source_type: 'HttpsMirror',
      uri: url.toString(),
      priority: 10 + i,
      failure_count: 0,
      origin: 'configured',
    };
  });
}

export interface ProposeFlags extends KeyFlags {
  version: string;
  ipfsCid: string;
  mirrors: string;
  activationHeight?: string;
  fork: string;
  votingPeriod?: string;
  minCompatibleVersion?: string;
  title?: string;
}

export async function proposeUpgrade(o: ProposeFlags, env: CommandEnv): Promise<void> {
  const version = versionFlag(o.version);
  if (!(FORK_TYPES as readonly string[]).includes(o.fork))
    throw new UsageError('--fork', `'${o.fork.slice(0, 20)}' is not hard or soft`);
  const cid = o.ipfsCid.trim();
  if (!/^[A-Za-z0-9]{10,128}$/.test(cid))
    throw new UsageError('--ipfs-cid', `'${cid.slice(0, 40)}' is not a CID`);
  const mirrors = mirrorList(o.mirrors);
  const activation = intFlag(o.activationHeight, '--activation-height', 1, Number.MAX_SAFE_INTEGER);
  const period =
    o.votingPeriod === undefined
      ? undefined
      : parseDuration(o.votingPeriod, '--voting-period', MAX_VOTING_PERIOD_MS / 1000) * 1000;
  const minCompatible =
    o.minCompatibleVersion === undefined
      ? undefined
      : versionFlag(o.minCompatibleVersion, '--min-compatible-version');
  const key = await signingKey(o, env);
  const ctx = await context(env, version);
  const proposal = buildProposal(ctx, key, {
    version,
    ipfs_cid: cid,
    mirrors,
    fork: o.fork as ForkType,
    ...(activation !== undefined ? { activation_height: activation } : {}),
    ...(period !== undefined ? { voting_period_ms: period } : {}),
    ...(minCompatible !== undefined ? { min_compatible_version: minCompatible } : {}),
    ...(o.title !== undefined ? { title: o.title.slice(0, 256) } : {}),
  });
  const r = await controlRequest(env.paths, 'governance_submit', { kind: 'proposal', object: proposal });
  const end = new Date(proposal.submit_time_ms + proposal.voting_period_ms).toISOString();
  env.out.line(`🗳️  Proposal ${r.id}`);
  env.out.line(`   Upgrade to ${version} (${proposal.fork} fork) at height ${proposal.activation_height}`);
  env.out.line(`   Voting until ${end} (${proposal.voting_period_blocks} blocks)`);
  env.out.result({ ok: true, id: r.id, proposal });
}

export interface ProposeGenesisFlags extends KeyFlags {
  genesis: string;
  votingPeriod?: string;
  title?: string;
}

/**
 * `propose-genesis`: the next genesis, checked here as the node will (signed by its root keys, of
 * this network, the pinned version plus one), proposed by a holder with the minimum deposit.
 */
export async function proposeGenesis(o: ProposeGenesisFlags, env: CommandEnv): Promise<void> {
  const path = resolve(env.ctx.cwd, o.genesis);
  const next = trustGenesis(
    parseJsonBytes(await readFlagFile('--genesis', path, MAX_GENESIS_BYTES), MAX_GENESIS_BYTES, path),
  );
  const period =
    o.votingPeriod === undefined
      ? undefined
      : parseDuration(o.votingPeriod, '--voting-period', MAX_VOTING_PERIOD_MS / 1000) * 1000;
  const key = await signingKey(o, env);
  const ctx = await context(env);
  if (next.networkId !== ctx.network_id)
    throw new UsageError(
      '--genesis',
      `the genesis is for network ${next.networkId}, the node's is ${ctx.network_id}`,
    );
  const proposal = buildGenesisProposal(ctx, key, next.genesis, {
    ...(period !== undefined ? { voting_period_ms: period } : {}),
    ...(o.title !== undefined ? { title: o.title.slice(0, 256) } : {}),
  });
  const r = await controlRequest(env.paths, 'governance_submit', { kind: 'proposal', object: proposal });
  const end = new Date(proposal.submit_time_ms + proposal.voting_period_ms).toISOString();
  env.out.line(`🗳️  Proposal ${r.id}`);
  env.out.line(
    `   Genesis version ${next.body.version} (${next.hash.slice(0, 16)}): ${next.body.holders.length} holders, ${next.body.validators.length} validators`,
  );
  env.out.line(`   Voting until ${end} (${proposal.voting_period_blocks} blocks)`);
  env.out.result({
    ok: true,
    id: r.id,
    genesis_hash: next.hash,
    genesis_version: next.body.version,
    proposal,
  });
}

/** A full proposal id from an id or a unique prefix (8+ hex digits), as the node knows them. */
async function resolveProposal(env: CommandEnv, given: string): Promise<ProposalStatus> {
  const p = given.trim().toLowerCase();
  if (!/^[0-9a-f]{8,64}$/.test(p))
    throw new UsageError('--proposal', `'${given.slice(0, 70)}' is not a proposal id`);
  const st = await controlRequest(env.paths, 'governance_status', {});
  const found = st.proposals.filter((x) => x.id.startsWith(p));
  if (found.length === 0) throw new DchatError('E_NOT_FOUND', `no proposal ${p} is known to the node`);
  if (found.length > 1)
    throw new UsageError('--proposal', `'${p}' matches ${found.length} proposals; give more of the id`);
  return found[0] as ProposalStatus;
}

export async function vote(
  o: KeyFlags & { proposal: string; option: string },
  env: CommandEnv,
): Promise<void> {
  if (!(VOTE_OPTIONS as readonly string[]).includes(o.option))
    throw new UsageError('--option', `'${o.option.slice(0, 20)}' is not yes, no or abstain`);
  const key = await signingKey(o, env);
  const p = await resolveProposal(env, o.proposal);
  const ctx = await context(env);
  const v = buildVote(ctx, key, p.id, o.option as VoteOption);
  const r = await controlRequest(env.paths, 'governance_submit', { kind: 'vote', object: v });
  env.out.line(
    `✅ Voted ${v.option} on ${p.id.slice(0, 16)} (${p.genesis ? `genesis version ${p.genesis.version}` : `upgrade to ${p.version}`})`,
  );
  env.out.result({ ok: true, id: r.id, proposal: p.id, option: v.option, voter: v.voter });
}

export async function approve(o: KeyFlags & { proposal: string }, env: CommandEnv): Promise<void> {
  const key = await signingKey(o, env);
  const p = await resolveProposal(env, o.proposal);
  const ctx = await context(env);
  await requireReproducible(env, p);
  // While voting is open: consent (hard forks). Once it has ended: the tally the node holds.
  const a = buildApproval(ctx, key, p.id, p, p.status === 'voting' ? null : p.tally_commitment);
  const r = await controlRequest(env.paths, 'governance_submit', { kind: 'approval', object: a });
  env.out.line(
    p.genesis
      ? `🛡️  Approved ${p.id.slice(0, 16)}: genesis version ${p.genesis.version} (${p.genesis.hash.slice(0, 16)})`
      : `🛡️  Approved ${p.id.slice(0, 16)}: ${p.version} at height ${p.activation_height}`,
  );
  if (a.tally)
    env.out.line(
      `   Attested tally: ${a.tally.voters} votes, yes ${a.tally.yes}, no ${a.tally.no}, abstain ${a.tally.abstain} (root ${a.tally.votes_root.slice(0, 16)})`,
    );
  else env.out.line('   Voting is open: your validator node attests the final tally when it ends.');
  env.out.result({ ok: true, id: r.id, proposal: p.id, validator: a.validator, tally: a.tally });
}

/**
 * A network whose genesis asks for reproducible builds: a hard fork is approved only when enough of
 * its named builders rebuilt this node's package of the release from source (E_ATTESTATIONS).
 */
async function requireReproducible(env: CommandEnv, p: ProposalStatus): Promise<void> {
  if (p.fork !== 'hard' || p.kind !== 'upgrade') return;
  const pinned = await new GovernanceStore(env.paths).readGenesis();
  const policy = pinned === undefined ? undefined : trustGenesis(pinned).body.reproducible;
  if (!policy || policy.min_attestations === 0) return;
  const { requireAttestedRelease } = await import('../../update/attestations.ts');
  const c = await requireAttestedRelease(
    env.paths,
    env.ctx.now(),
    p.version,
    hostPlatform(process.platform, process.arch),
    policy,
  );
  env.out.line(
    `✅ Reproducible build: ${c.matching.length} of the network's builders rebuilt ${c.target} (${policy.min_attestations} required)`,
  );
}

export async function status(o: { proposal?: string }, env: CommandEnv): Promise<void> {
  const id = o.proposal === undefined ? undefined : (await resolveProposal(env, o.proposal)).id;
  const st = await controlRequest(env.paths, 'governance_status', id === undefined ? {} : { proposal: id });
  const h = st.now.height === null ? 'unknown' : String(st.now.height);
  env.out.line(`🏛️  Network ${st.network_id} at height ${h}`);
  if (st.proposals.length === 0) env.out.line('   No proposals.');
  for (const p of st.proposals) {
    const t = p.tally;
    const pct = (n: number, d: number) => (d > 0 ? `${((100 * n) / d).toFixed(1)}%` : '0%');
    env.out.line('');
    env.out.line(`📜 ${p.id}`);
    env.out.line(
      p.genesis
        ? `   ${p.title}: genesis version ${p.genesis.version} (${p.genesis.hash.slice(0, 16)}): ${p.status.toUpperCase()}`
        : `   ${p.title}: ${p.version} (${p.fork} fork) at height ${p.activation_height}: ${p.status.toUpperCase()}`,
    );
    env.out.line(
      `   Votes: yes ${t.yes}, no ${t.no}, abstain ${t.abstain} (${t.voters} holders); turnout ${pct(t.voted, t.total_weight)} of quorum ${t.quorum}${t.quorum_reached ? ' ✓' : ''}`,
    );
    env.out.line(
      `   Approving stake: ${p.approving_stake} of ${p.total_stake} (${pct(p.approving_stake, p.total_stake)}, needs ${p.approval_threshold})`,
    );
    if (p.tally_commitment)
      env.out.line(
        `   Tally held here: root ${p.tally_commitment.votes_root.slice(0, 16)}, attested by ${p.attesting_stake} of ${p.total_stake} stake`,
      );
    const blocks = p.blocks_left === null ? '' : `${p.blocks_left} blocks, `;
    env.out.line(`   Voting left: ${blocks}${Math.ceil(p.time_left_ms / 1000)} s`);
    if (p.certificate) env.out.line(`   ✅ Certificate ${p.certificate.id}`);
    const who = p.ready_validators.map((v) => v.key_id).join(', ');
    env.out.line(
      `   🚦 Ready: ${p.ready_stake} of ${p.total_stake} stake (${pct(p.ready_stake, p.total_stake)})${who ? `: ${who}` : ''}`,
    );
  }
  if (st.rollbacks.length > 0) env.out.line('');
  for (const r of st.rollbacks)
    env.out.line(
      `↩️  ${r.key_id ?? `node ${r.signer.slice(0, 16)}`} (stake ${r.stake}) rolled back ${r.version} -> ${r.to}${r.height === null ? '' : ` at height ${r.height}`}: ${r.reason}`,
    );
  env.out.result(st);
}
