import { z } from 'zod';
import { writeFileAtomic } from './atomic.ts';
import type { HomePaths } from './home.ts';
import { readCappedIfExists } from './read-capped.ts';

/**
 * Where the trusted root came from. A home whose root came from `trust init` is a private network
 * or testnet: it gets no default mirrors or bootstrap peers (spec/CLI.md).
 */
const OriginSchema = z.object({
  origin: z.enum(['default', 'trust-init']),
  root_sha256: z.string().max(64).optional(),
  at: z.string().max(64),
});
export type TrustOrigin = z.infer<typeof OriginSchema>;

export async function readTrustOrigin(paths: HomePaths): Promise<TrustOrigin> {
  try {
    const bytes = await readCappedIfExists(paths.trustOrigin, 4096);
    const r = bytes ? OriginSchema.safeParse(JSON.parse(bytes.toString('utf8'))) : undefined;
    if (r?.success) return r.data;
  } catch {
    // Missing or unreadable: the shipped default root is in use.
  }
  return { origin: 'default', at: '' };
}

export async function writeTrustOrigin(paths: HomePaths, origin: TrustOrigin): Promise<void> {
  await writeFileAtomic(paths.trustOrigin, `${JSON.stringify(origin)}\n`);
}

/** True when this home may use dchat's built-in mirrors and bootstrap peers. */
export async function usesPublicNetwork(paths: HomePaths): Promise<boolean> {
  return (await readTrustOrigin(paths)).origin === 'default';
}
