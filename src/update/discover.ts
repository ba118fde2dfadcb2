/**
 * Discover (DESIGN.md "The main paths"): the TUF client update through the registry's mirrors, in
 * rank order (sources/mirror-fetcher.ts), persisting what it accepts in $DCHAT_HOME/trust. Each
 * attempt's outcome goes to the run's health, whether the refresh succeeded or not.
 */
import { openTrustStore } from '../download/trust-session.ts';
import { asErrorCode, DchatError, toDchatError } from '../errors.ts';
import { type SourcesUpdate, updateTrustFromSources } from '../sources/mirror-fetcher.ts';
import type { HomePaths } from '../store/home.ts';
import { otherTargets } from '../trust/package-check.ts';
import type { TrustedSet } from '../trust/trusted-set.ts';
import { attemptOutcomes, type MirrorOutcome, type RunHealth } from './health.ts';
import { logRefresh } from './log-lines.ts';
import type { LiveMirror, SourceRegistry } from './registry.ts';

export interface Discovery {
  update: SourcesUpdate;
  trusted: TrustedSet;
  /** Signed targets that are not dchat packages (ignored; the caller may log them). */
  ignored: string[];
}

/** The refresh; throws the refresh's error (E_NO_SOURCE, a security code...) after noting health. */
export async function discover(
  paths: HomePaths,
  reg: SourceRegistry,
  health: RunHealth,
  now: Date,
  signal?: AbortSignal,
): Promise<Discovery> {
  if (reg.live.length === 0) {
    const why = reg.skipped.length
      ? ` (${reg.skipped.map((s) => `${s.record.uri}: ${s.reason}`).join('; ')})`
      : '';
    throw new DchatError(
      'E_NO_SOURCE',
      `no usable mirror configured${why}: add one with \`dchat update add-mirror --url URL --mirror-type https\``,
    );
  }
  const store = await openTrustStore(paths);
  try {
    const update = await updateTrustFromSources(
      store,
      reg.live.map((m) => m.source),
      now,
      signal ? { signal } : {},
    );
    health.add(attemptOutcomes(update.attempts));
    logRefresh(update.attempts, update.trusted);
    return { update, trusted: update.trusted, ignored: otherTargets(update.trusted.requireTargets()) };
  } catch (err) {
    const e = toDchatError(err);
    logRefresh(
      reg.live.map((m) => {
        const f = (
          e.details as { failures?: { source: string; code: string; message: string }[] }
        )?.failures?.find((x) => x.source === m.source.uri);
        return {
          source: m.source,
          ok: false,
          ...(f ? { error: new DchatError(asErrorCode(f.code), f.message) } : {}),
        };
      }),
    );
    health.add(failedOutcomes(reg.live, e));
    throw e;
  }
}

/** Which mirrors a failed refresh blames: those its details list, or the only one tried. */
function failedOutcomes(live: readonly LiveMirror[], e: DchatError): MirrorOutcome[] {
  const attempts = (e.details as { failures?: { source: string; code: string; message: string }[] })
    ?.failures;
  if (attempts) {
    return attempts.flatMap((a) => {
      const m = live.find((l) => l.source.uri === a.source);
      return m ? [{ id: m.record.id, ok: false, error: `${a.code} ${a.message}` }] : [];
    });
  }
  if (live.length === 1 && e.code !== 'E_NOT_INITIALIZED' && e.code !== 'E_ABORTED')
    return [{ id: (live[0] as LiveMirror).record.id, ok: false, error: `${e.code} ${e.message}` }];
  return [];
}
