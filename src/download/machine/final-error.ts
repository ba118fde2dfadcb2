/**
 * The error of a download that ran out of sources, from what each source did (pure): a source
 * that served bytes contradicting the signed metadata makes it a security error (exit 3); every
 * source too slow is E_SLOW_SOURCE; one source's own error is kept as it was; else E_NO_SOURCE
 * listing each source's last failure.
 */
import { DchatError, type ErrorCode, VerificationError } from '../../errors.ts';
import type { SourceStats } from './actions.ts';

export function noSourceError(
  stats: readonly SourceStats[],
  label: (id: string) => string,
  target: string,
): DchatError {
  const failed = stats.filter((r) => r.failures.length > 0);
  if (failed.length === 0) return new DchatError('E_NO_SOURCE', `no source to download ${target} from`);
  const all = failed.flatMap((r) => r.failures.map((f) => ({ ...f, uri: label(r.id) })));
  const summary = failed
    .map((r) => `${label(r.id)}: ${r.failures.at(-1)?.code} ${r.failures.at(-1)?.message}`)
    .join('; ');
  const details = { failures: all.map((f) => ({ source: f.uri, code: f.code, message: f.message })) };
  const corrupt = all.find((f) => f.kind === 'corrupt');
  if (corrupt)
    return new VerificationError(
      corrupt.code as ErrorCode,
      `${corrupt.message} (no source left that serves ${target} intact)`,
      { details },
    );
  if (all.every((f) => f.kind === 'slow'))
    return new DchatError('E_SLOW_SOURCE', `every source was too slow: ${summary}`, { details });
  if (failed.length === 1) {
    const last = all.at(-1) as (typeof all)[number];
    return new DchatError(last.code as ErrorCode, last.message, { details });
  }
  return new DchatError('E_NO_SOURCE', `no source could deliver ${target}: ${summary}`, { details });
}
