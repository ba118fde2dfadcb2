/**
 * Shared pieces of the property/fuzz tests (fast-check): arbitraries for hostile input, structural
 * mutations of valid JSON documents (flip a byte, change a field, drop a field, give it a value of
 * another type), and the assertion every parser must satisfy: it returns, or it throws a DchatError
 * whose code is one of the expected ones. Anything else (a TypeError, a RangeError, a zod error, a
 * code we did not expect) fails the property.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DchatError, type ErrorCode } from '../../src/errors.ts';
import type { JsonDoc } from './repo.ts';

/** Bytes a hostile peer might send: random, random UTF-8 text, random JSON text. */
export function hostileBytes(maxLength = 2048): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength }),
    fc.string({ unit: 'binary', maxLength }).map((s) => Buffer.from(s, 'utf8')),
    fc.json({ maxDepth: 4 }).map((s) => Buffer.from(s, 'utf8')),
  );
}

/**
 * Runs `fn`; a result passes, a DchatError with one of `codes` passes, anything else fails the
 * property with the error. Returns the outcome for further checks.
 */
export function outcome<T>(
  fn: () => T,
  codes: readonly ErrorCode[],
): { ok: true; value: T } | { ok: false; error: DchatError } {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    assertCoded(err, codes);
    return { ok: false, error: err as DchatError };
  }
}

export async function outcomeAsync<T>(
  fn: () => Promise<T>,
  codes: readonly ErrorCode[],
): Promise<{ ok: true; value: T } | { ok: false; error: DchatError }> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    assertCoded(err, codes);
    return { ok: false, error: err as DchatError };
  }
}

export function assertCoded(err: unknown, codes: readonly ErrorCode[]): asserts err is DchatError {
  if (!(err instanceof DchatError)) {
    assert.fail(`expected a DchatError (${codes.join('|')}), got ${(err as Error)?.stack ?? String(err)}`);
  }
  assert.ok(
    codes.includes(err.code),
    `unexpected code ${err.code} (${err.message}); allowed: ${codes.join(', ')}`,
  );
}

/** Every path (list of keys/indices) inside a JSON document, the root excluded. */
export function jsonPaths(doc: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [];
  if (Array.isArray(doc)) {
    doc.forEach((v, i) => {
      out.push([...prefix, i], ...jsonPaths(v, [...prefix, i]));
    });
  } else if (doc !== null && typeof doc === 'object') {
    for (const [k, v] of Object.entries(doc)) out.push([...prefix, k], ...jsonPaths(v, [...prefix, k]));
  }
  return out;
}

export function getAt(doc: JsonDoc, path: readonly (string | number)[]): unknown {
  let cur = doc;
  for (const k of path) cur = cur?.[k];
  return cur;
}

function parentOf(doc: JsonDoc, path: readonly (string | number)[]): JsonDoc {
  return getAt(doc, path.slice(0, -1));
}

export function setAt(doc: JsonDoc, path: readonly (string | number)[], value: unknown): void {
  parentOf(doc, path)[path[path.length - 1] as string] = value;
}

export function deleteAt(doc: JsonDoc, path: readonly (string | number)[]): void {
  const parent = parentOf(doc, path);
  const key = path[path.length - 1] as string | number;
  if (Array.isArray(parent)) parent.splice(key as number, 1);
  else delete parent[key];
}

function jsonType(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** A JSON value whose type differs from `value`'s (a string where a number was, etc.). */
export function wrongTypeFor(value: unknown): fc.Arbitrary<unknown> {
  const t = jsonType(value);
  return fc
    .oneof(
      fc.string({ maxLength: 20 }),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.integer(), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
    )
    .filter((v) => jsonType(v) !== t);
}

export type Mutation =
  | { kind: 'flip-byte'; index: number; xor: number }
  | { kind: 'set-byte'; index: number; value: number }
  | { kind: 'truncate'; index: number }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'delete-field'; pick: number }
  | { kind: 'replace-field'; pick: number; value: unknown }
  | { kind: 'dup-signature'; pick: number }
  | { kind: 'drop-signature'; pick: number };

/** Mutations of a serialized JSON document; `pick` selects a path/byte modulo what exists. */
export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('flip-byte' as const),
    index: fc.nat(),
    xor: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    kind: fc.constant('set-byte' as const),
    index: fc.nat(),
    value: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), index: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete-field' as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constant('replace-field' as const),
    pick: fc.nat(),
    value: fc.jsonValue({ maxDepth: 2 }),
  }),
  fc.record({ kind: fc.constant('dup-signature' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('drop-signature' as const), pick: fc.nat() }),
);

/** Applies a mutation to the bytes of a JSON document (a TUF envelope or any other). */
export function mutate(bytes: Uint8Array, m: Mutation): Buffer {
  const buf = Buffer.from(bytes);
  switch (m.kind) {
    case 'flip-byte': {
      const i = m.index % buf.byteLength;
      buf[i] = (buf[i] as number) ^ m.xor;
      return buf;
    }
    case 'set-byte': {
      buf[m.index % buf.byteLength] = m.value;
      return buf;
    }
    case 'truncate':
      return buf.subarray(0, m.index % buf.byteLength);
    case 'append':
      return Buffer.concat([buf, m.bytes]);
    default:
      break;
  }
  const doc = JSON.parse(buf.toString('utf8'));
  const paths = jsonPaths(doc);
  if (m.kind === 'delete-field') {
    deleteAt(doc, paths[m.pick % paths.length] as (string | number)[]);
  } else if (m.kind === 'replace-field') {
    setAt(doc, paths[m.pick % paths.length] as (string | number)[], m.value);
  } else if (Array.isArray(doc.signatures) && doc.signatures.length > 0) {
    const i = m.pick % doc.signatures.length;
    if (m.kind === 'dup-signature') doc.signatures.push(structuredClone(doc.signatures[i]));
    else doc.signatures.splice(i, 1);
  }
  return Buffer.from(`${JSON.stringify(doc, null, 1)}\n`);
}
