/**
 * The connection handshake (`dchat.hello/1`, protocol /dchat/hello/1): what a node says about
 * itself to every peer it connects to, so that fork rules are applied before anything else is
 * exchanged: its network and fork id (EIP-2124 style, governance/fork-id.ts), its software
 * version (soft forks: min_compatible_version) and its height. A node with no genesis pinned sends
 * nulls and takes part in no fork rule. One small JSON frame each way; capped.
 */
import { z } from 'zod';
import { networkId } from './governance.ts';
import { safeUint, versionString } from './schema-util.ts';

export const HELLO_FORMAT = 'dchat.hello/1';
export const MAX_HELLO_BYTES = 1024;

export const HelloSchema = z.strictObject({
  format: z.literal(HELLO_FORMAT),
  network_id: networkId.nullable(),
  fork: z.strictObject({ hash: z.string().regex(/^[0-9a-f]{8}$/), next: safeUint }).nullable(),
  version: versionString,
  height: safeUint.nullable(),
});
export type Hello = z.infer<typeof HelloSchema>;
