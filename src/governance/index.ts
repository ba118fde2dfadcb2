/**
 * Governance, pure (no I/O, no clock: time and height come in as arguments): genesis, proposal,
 * votes and tally, validator approval, the upgrade certificate and its offline verification.
 */
export type { ApprovalResult } from './approval.ts';
export { approvalMatches, approvingStake, checkApproval } from './approval.ts';
export type { ApprovedPlan, BuildResult, CertificateExpectation, CertificateVerdict } from './certificate.ts';
export { buildCertificate, verifyCertificate } from './certificate.ts';
export type { TrustedGenesis } from './genesis.ts';
export { genesisHash, genesisSignedBytes, trustGenesis } from './genesis.ts';
export type { HeightSource } from './height-source.ts';
export type { ObjectCheckContext, ObjectVerdict } from './object-check.ts';
export { makeObjectCheck } from './object-check.ts';
export type { ChainPoint, SignedTargets } from './proposal.ts';
export {
  checkProposal,
  checkReleaseBinding,
  periodBlocks,
  votingEnd,
  votingEnded,
  withinPeriod,
} from './proposal.ts';
export { objectId, signedBytes, signObject, verifyObject } from './signing.ts';
export type { CountedVote, TallyResult } from './tally.ts';
export { checkVote, countedVotes, tally, voteCounts } from './tally.ts';
export type { Verdict } from './verdict.ts';
