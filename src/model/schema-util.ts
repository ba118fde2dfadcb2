import { z } from 'zod';
import { DchatError } from '../errors.ts';
import { LIMITS } from './limits.ts';
import { isValidPlatform } from './platform.ts';
import { isValidVersion } from './version.ts';

export const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits');
export const hex128 = z.string().regex(/^[0-9a-f]{128}$/, 'expected 128 lowercase hex digits');
export const base64 = z
  .string()
  .max(LIMITS.maxString)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64');
export const boundedString = z.string().max(LIMITS.maxString);
export const versionString = z.string().refine(isValidVersion, 'expected a SemVer version like 1.2.3');
export const platformString = z.string().refine(isValidPlatform, 'expected a platform like linux-x64');
export const isoDate = z.iso.datetime({ offset: false });
export const safeUint = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * Parses untrusted data with a zod schema; any failure becomes E_MALFORMED naming the first bad
 * field, never an exception of zod's own.
 */
export function parseWith<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue?.path.length ? issue.path.join('.') : '(top)';
  throw new DchatError('E_MALFORMED', `${what}: ${where}: ${issue?.message ?? 'invalid'}`, {
    cause: r.error,
  });
}

/**
 * Decodes UTF-8 JSON bytes with a size cap, before anything is parsed: E_TOO_LARGE past the cap,
 * E_MALFORMED for bad UTF-8, bad JSON, or a top level that is not an object.
 */
export function parseJsonBytes(bytes: Uint8Array, maxBytes: number, what: string): Record<string, unknown> {
  if (bytes.byteLength > maxBytes) {
    throw new DchatError(
      'E_TOO_LARGE',
      `${what} is ${bytes.byteLength} bytes, more than the ${maxBytes} allowed`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new DchatError('E_MALFORMED', `${what} is not valid UTF-8`, { cause });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new DchatError('E_MALFORMED', `${what} is not valid JSON`, { cause });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new DchatError('E_MALFORMED', `${what} is not a JSON object`);
  }
  return data as Record<string, unknown>;
}
