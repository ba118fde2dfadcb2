/**
 * One error base class for the whole program. Every failure a user or a peer can cause carries a
 * stable `code` (never renamed, never reused: scripts and acceptance checks branch on it) and the
 * process exit code its category implies (spec/CLI.md: 1 operational, 2 usage, 3 security).
 */

/** Exit 2: the caller asked for something malformed. */
const USAGE_CODES = [
  'E_USAGE',
  'E_CONFIG',
  'E_NOT_A_REPOSITORY',
  /** An encrypted private key and no passphrase, or one that does not open it. */
  'E_PASSPHRASE',
  /** `--pin` names a version the trusted metadata does not list. */
  'E_PIN_UNTRUSTED',
  /** A rollback to a version below a hard fork already activated on the network. */
  'E_BELOW_HARD_FORK',
] as const;

/** Exit 1: the world did not cooperate (network, disk, nothing reachable, nothing known). */
const OPERATIONAL_CODES = [
  'E_IO',
  'E_NETWORK',
  'E_HTTP',
  'E_TIMEOUT',
  'E_SLOW_SOURCE',
  'E_NO_SOURCE',
  'E_NOT_FOUND',
  'E_NOT_INITIALIZED',
  'E_ABORTED',
  'E_BUSY',
  'E_INTERNAL',
  /** A listen address another process holds. */
  'E_ADDR_IN_USE',
  /** A peer (the node's control socket) speaks another version of our protocol. */
  'E_PROTOCOL',
  /** Stopped by SIGINT/SIGTERM; the exit status is 128 + the signal's number (130, 143). */
  'E_INTERRUPTED',
  /** A version switched to did not report healthy within the bound (it was rolled back). */
  'E_UNHEALTHY',
  /** A web source's redirect not followed: a loop, too many hops, a downgrade to http, no Location. */
  'E_REDIRECT',
  /** An API (GitHub) refused for now: its rate limit is spent; details.retry_after_s says when to retry. */
  'E_RATE_LIMITED',
  /**
   * A validly signed height beacon that does not follow this node's accepted chain (a validator
   * one block behind signs such beacons): dropped, not held against the peer that relayed it.
   */
  'E_CHAIN_MISMATCH',
] as const;

/** Exit 3: the bytes or metadata failed a security check. Nothing is installed, marked or served. */
const SECURITY_CODES = [
  'E_HASH_MISMATCH',
  'E_SIZE_MISMATCH',
  'E_TOO_LARGE',
  'E_SIGNATURE',
  'E_UNTRUSTED_KEY',
  'E_THRESHOLD',
  'E_EXPIRED',
  'E_ROLLBACK',
  'E_VERSION_MISMATCH',
  'E_WRONG_TARGET',
  /** Signed for another network or genesis (a governance object, a beacon, a peer's handshake): never valid here. */
  'E_WRONG_NETWORK',
  'E_MALFORMED',
  'E_UNSUPPORTED',
  'E_CHUNK_MISMATCH',
  /** A peer on another fork (EIP-2124 fork id) or below the min compatible version: refused. */
  'E_FORK_MISMATCH',
  /** A rebuild from source gave other bytes than the published package (release verify-build). */
  'E_BUILD_MISMATCH',
  /** Fewer matching rebuild attestations from distinct trusted builders than required. */
  'E_ATTESTATIONS',
  /** A BitTorrent peer sent a piece that fails the torrent's SHA-1 piece hash (peer dropped). */
  'E_BAD_PIECE',
] as const;

export type UsageCode = (typeof USAGE_CODES)[number];
export type OperationalCode = (typeof OPERATIONAL_CODES)[number];
export type SecurityCode = (typeof SECURITY_CODES)[number];
export type ErrorCode = UsageCode | OperationalCode | SecurityCode;

export const EXIT_OK = 0;
export const EXIT_OPERATIONAL = 1;
export const EXIT_USAGE = 2;
export const EXIT_SECURITY = 3;

const exitByCode = new Map<string, number>([
  ...USAGE_CODES.map((c) => [c, EXIT_USAGE] as const),
  ...OPERATIONAL_CODES.map((c) => [c, EXIT_OPERATIONAL] as const),
  ...SECURITY_CODES.map((c) => [c, EXIT_SECURITY] as const),
]);

export function exitCodeFor(code: ErrorCode): number {
  return exitByCode.get(code) ?? EXIT_OPERATIONAL;
}

/**
 * A code that came from elsewhere (a peer's refusal, an error's JSON details) as one of ours, or
 * `fallback` when it is not: a stranger's string never becomes a code we do not define.
 */
export function asErrorCode(code: unknown, fallback: ErrorCode = 'E_INTERNAL'): ErrorCode {
  return typeof code === 'string' && exitByCode.has(code) ? (code as ErrorCode) : fallback;
}

export function isSecurityCode(code: string): code is SecurityCode {
  return (SECURITY_CODES as readonly string[]).includes(code);
}

export class DchatError extends Error {
  readonly code: ErrorCode;
  /** Extra structured facts for --json output (e.g. which flag, which key, which chunk). */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details;
  }

  get exitCode(): number {
    return exitCodeFor(this.code);
  }

  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message };
  }
}

/** A bad flag or value. `flag` is named in the message, as spec/CLI.md requires. */
export class UsageError extends DchatError {
  constructor(flag: string, message: string, options: { cause?: unknown } = {}) {
    super('E_USAGE', `${flag}: ${message}`, { ...options, details: { flag } });
  }
}

/**
 * The command was stopped by a signal. Exits 128 + the signal number, as shells report a process
 * killed by it (130 for SIGINT, 143 for SIGTERM), so `download && install` stops there.
 */
export class InterruptedError extends DchatError {
  readonly signal: 'SIGINT' | 'SIGTERM';

  constructor(signal: 'SIGINT' | 'SIGTERM', message: string) {
    super('E_INTERRUPTED', message, { details: { signal } });
    this.signal = signal;
  }

  override get exitCode(): number {
    return this.signal === 'SIGINT' ? 130 : 143;
  }
}

/** Signed metadata or package bytes failed a check. */
export class VerificationError extends DchatError {}

/** Transport-level failure of one source (mirror, peer, ...). Never a trust decision. */
export class SourceError extends DchatError {}

/** Wraps anything thrown into a DchatError, keeping the original as `cause`. */
export function toDchatError(err: unknown, fallback: ErrorCode = 'E_INTERNAL'): DchatError {
  if (err instanceof DchatError) return err;
  if (err instanceof Error) {
    const errno = (err as NodeJS.ErrnoException).code;
    if (errno === 'ENOENT') return new DchatError('E_NOT_FOUND', err.message, { cause: err });
    if (typeof errno === 'string' && /^E[A-Z]+$/.test(errno))
      return new DchatError('E_IO', err.message, { cause: err });
    if (err.name === 'AbortError') return new DchatError('E_ABORTED', err.message, { cause: err });
    return new DchatError(fallback, err.message, { cause: err });
  }
  return new DchatError(fallback, String(err));
}
