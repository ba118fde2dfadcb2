/**
 * When an HTTP(S) source follows a redirect (pure policy; http-client.ts does the requests).
 * Mirrors behind CDNs and GitHub's asset downloads answer 301/302/303/307/308 with a Location;
 * following it is safe for integrity because every byte is still checked against signed metadata,
 * but it must not become a way to hang a download, leak it onto plain HTTP, or reach a host the
 * operator's policy forbids:
 * - at most MAX_REDIRECTS hops per request, and a URL seen twice in one chain is a loop: both cut
 *   with E_REDIRECT;
 * - the next URL must be http(s), without credentials, and plain http only on loopback and only
 *   from a loopback URL: an https mirror can never send us to http (no downgrade);
 * - the Range header and the method (GET) are kept on every hop; an Authorization header is
 *   dropped when the origin changes (as curl does without --location-trusted).
 */
import { SourceError } from '../errors.ts';
import { isLoopbackHost } from '../model/loopback.ts';

export const MAX_REDIRECTS = 10;
export const REDIRECT_CODES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

export function isRedirect(status: number): boolean {
  return REDIRECT_CODES.has(status);
}

/**
 * The URL to ask next after `from` answered `status` with `location`, given the URLs already
 * asked in this chain (`chain`, `from` included). Throws E_REDIRECT naming why it will not follow.
 */
export function nextHop(from: URL, status: number, location: string | undefined, chain: readonly URL[]): URL {
  const fail = (reason: string, why: string) =>
    new SourceError('E_REDIRECT', `${from.origin}${from.pathname}: HTTP ${status} ${why}`, {
      details: { status, reason, hops: chain.length },
    });
  if (location === undefined || location.trim() === '' || location.length > 8192)
    throw fail('bad-location', 'without a usable Location header');
  let next: URL;
  try {
    next = new URL(location.trim(), from);
  } catch {
    throw fail('bad-location', `to '${location.slice(0, 100)}', which is not a URL`);
  }
  next.hash = '';
  if (next.protocol !== 'https:' && next.protocol !== 'http:')
    throw fail('bad-location', `to a ${next.protocol} URL`);
  if (next.username || next.password) throw fail('bad-location', 'to a URL with credentials');
  if (next.protocol === 'http:' && !(isLoopbackHost(next.hostname) && isLoopbackHost(from.hostname)))
    throw fail('downgrade', `to ${next.origin}: plain http is refused off loopback`);
  if (chain.some((u) => u.href === next.href))
    throw fail('loop', `back to ${next.origin}${next.pathname}: a redirect loop`);
  if (chain.length > MAX_REDIRECTS) throw fail('too-many', `after ${MAX_REDIRECTS} redirects`);
  return next;
}

/** Headers for the next hop: all of them, except credentials when the origin changes. */
export function headersForHop(
  headers: Readonly<Record<string, string>>,
  from: URL,
  next: URL,
): Record<string, string> {
  if (from.origin === next.origin) return { ...headers };
  return Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
}
