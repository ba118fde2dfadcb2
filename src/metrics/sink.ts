/**
 * What the update paths report for the seed's metrics (UPDATE_DISTRIBUTION.md "Metrics"), as plain
 * calls on a process-wide sink. The sink is empty unless a metrics endpoint runs (`node start
 * --metrics`): then src/metrics/registry.ts installs the prom-client one. This file imports nothing,
 * so the download and gossip paths can report without loading prom-client in every process (an idle
 * node stays small; test/node/idle-footprint.test.ts).
 */

/** The seed's `result` label of `dchat_update_verifications_total`. */
export type VerificationResult = 'success' | 'hash_fail' | 'signature_fail';

export interface MetricsSink {
  /** A version this process had not trusted before became trusted (gossip or a mirror refresh). */
  versionDiscovered(version: string): void;
  /** A source of kind `sourceType` delivered verified bytes to a download that completed. */
  downloaded(sourceType: string, seconds: number): void;
  /** A source of kind `sourceType` failed during a download (or the download failed on it). */
  downloadFailed(sourceType: string): void;
  /** A package check ended (a download's whole-file check or `update verify`). */
  verified(result: VerificationResult): void;
  /** The node looked for a release to fetch on its own (auto-update check). */
  autoCheck(): void;
  /** The node fetched and verified a release on its own. */
  autoDownload(): void;
  /** The node switched to a fetched release on its own (the activation supervisor reports it). */
  autoInstall(): void;
  /** A package was made from a patch or compressed copy (`algorithm`), `bytes` fewer fetched. */
  deltaSaved(algorithm: string, bytes: number): void;
  /** A patch or compressed copy failed (`cause`: its error code); the full package was fetched. */
  deltaFallback(cause: string): void;
}

let sink: MetricsSink | undefined;

/** Installs (or, with undefined, removes) the process-wide sink. */
export function setMetricsSink(s: MetricsSink | undefined): void {
  sink = s;
}

/** The process-wide sink's calls; each is a no-op while no sink is installed. */
export const report: MetricsSink = {
  versionDiscovered: (v) => sink?.versionDiscovered(v),
  downloaded: (t, s) => sink?.downloaded(t, s),
  downloadFailed: (t) => sink?.downloadFailed(t),
  verified: (r) => sink?.verified(r),
  autoCheck: () => sink?.autoCheck(),
  autoDownload: () => sink?.autoDownload(),
  autoInstall: () => sink?.autoInstall(),
  deltaSaved: (a, b) => sink?.deltaSaved(a, b),
  deltaFallback: (c) => sink?.deltaFallback(c),
};

/** The seed's verification result for an error code of the package check (undefined: not a verdict). */
export function verificationResultOf(code: string | undefined): VerificationResult | undefined {
  if (code === undefined) return 'success';
  if (/^E_(SIGNATURE|UNTRUSTED_KEY|THRESHOLD)/.test(code)) return 'signature_fail';
  if (/^E_(HASH_MISMATCH|SIZE_MISMATCH|TOO_LARGE|WRONG_TARGET|CHUNK)/.test(code)) return 'hash_fail';
  return undefined;
}
