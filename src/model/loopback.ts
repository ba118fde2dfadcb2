/**
 * Loopback hosts (127.0.0.0/8, ::1, localhost). Plain http:// is accepted for a mirror only there:
 * dchat's embedded mirror on a local testnet has no certificate to offer, and since every byte is
 * checked against signed metadata, TLS there protects nothing the signatures do not. Anywhere
 * else mirrors must be https:// (privacy of what a node fetches, and no downgrade by a proxy).
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** https: anywhere, http: on loopback only. */
export function isAllowedMirrorUrl(u: URL): boolean {
  return u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackHost(u.hostname));
}
