/**
 * Which proxy a request goes through, read from the environment the way curl reads it, so an
 * operator's existing proxy settings mean the same thing to dchat:
 * - https:// targets use `https_proxy`, else `HTTPS_PROXY`; http:// targets use `http_proxy` only
 *   (curl ignores upper-case HTTP_PROXY: CGI servers set it from a request header); both fall back
 *   to `all_proxy` / `ALL_PROXY`. An empty value means "no proxy".
 * - `no_proxy` (else `NO_PROXY`): comma- or space-separated; `*` alone matches every host; a name
 *   matches itself and its subdomains (a leading dot is ignored); an IP address matches itself, an
 *   address with /BITS a CIDR range. Ports in entries are ignored, as curl does.
 * - A proxy given without a scheme is http://; without a port, curl's 1080.
 * Only http:// proxies are supported (CONNECT tunnels for https targets, absolute-URI requests for
 * plain http on loopback); anything else is E_CONFIG rather than a silent direct connection.
 */
import { BlockList, isIP } from 'node:net';
import { DchatError } from '../errors.ts';

/** The proxy for `target`, or undefined for a direct connection. */
export function proxyFor(target: URL, env: NodeJS.ProcessEnv | undefined): URL | undefined {
  if (!env) return undefined;
  const pick = (...names: string[]): string | undefined => {
    for (const n of names) {
      const v = env[n];
      if (v !== undefined) return v.trim();
    }
    return undefined;
  };
  const raw =
    (target.protocol === 'https:' ? pick('https_proxy', 'HTTPS_PROXY') : pick('http_proxy')) ??
    pick('all_proxy', 'ALL_PROXY');
  if (!raw) return undefined;
  if (bypassed(target.hostname, pick('no_proxy', 'NO_PROXY') ?? '')) return undefined;
  return parseProxy(raw);
}

/** A proxy setting as a URL (http:// assumed, port 1080 by default). */
export function parseProxy(raw: string): URL {
  const withScheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(raw) ? raw : `http://${raw}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch (cause) {
    throw new DchatError('E_CONFIG', `proxy setting '${raw.slice(0, 100)}' is not a URL`, { cause });
  }
  if (u.protocol !== 'http:')
    throw new DchatError(
      'E_CONFIG',
      `proxy ${u.protocol}//${u.host}: only http:// proxies are supported (CONNECT tunnel)`,
    );
  if (!u.port) u.port = '1080';
  return u;
}

/** True when `host` matches an entry of the no_proxy list. */
export function bypassed(host: string, noProxy: string): boolean {
  const h = host
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '');
  const entries = noProxy
    .split(/[\s,]+/)
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e.length > 0);
  for (const entry of entries) {
    if (entry === '*') return true;
    if (matches(h, entry)) return true;
  }
  return false;
}

function matches(host: string, entry: string): boolean {
  const hostIp = isIP(host);
  const [addrPart, bits] = entry.split('/') as [string, string | undefined];
  const addr = stripPort(addrPart);
  const entryIp = isIP(addr);
  if (entryIp !== 0) {
    if (hostIp !== entryIp) return false;
    const family = entryIp === 4 ? 'ipv4' : 'ipv6';
    // BlockList compares parsed addresses, so two spellings of one IPv6 address match.
    const list = new BlockList();
    if (bits === undefined) list.addAddress(addr, family);
    else {
      const prefix = Number(bits);
      if (!/^\d{1,3}$/.test(bits) || prefix > (entryIp === 4 ? 32 : 128)) return false;
      list.addSubnet(addr, prefix, family);
    }
    return list.check(host, family);
  }
  if (hostIp !== 0 || bits !== undefined) return false;
  const name = addr.replace(/^\*?\./, '').replace(/\.$/, '');
  if (name.length === 0) return false;
  return host === name || host.endsWith(`.${name}`);
}

/** "host:port" and "[v6]:port" lose their port; a bare IPv6 address is kept whole. */
function stripPort(entry: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(entry);
  if (bracketed) return bracketed[1] as string;
  if (isIP(entry) === 6) return entry;
  return entry.replace(/:\d+$/, '');
}
