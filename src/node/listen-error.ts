import { DchatError } from '../errors.ts';

/**
 * A listen address another process holds, as one line naming it (libp2p's own message carries a
 * stack and advice about its configuration, which a `--listen` user has no use for).
 */
export function listenError(err: unknown): DchatError | undefined {
  const text =
    err instanceof Error ? `${err.message} ${String((err as { cause?: unknown }).cause ?? '')}` : '';
  if (!/EADDRINUSE/.test(text)) return undefined;
  const addr = /(\/ip[46]\/[^\s:]+\/tcp\/\d+)/.exec(text)?.[1];
  return new DchatError(
    'E_ADDR_IN_USE',
    `--listen ${addr ?? ''}: address already in use (another process listens there; choose another port, or /tcp/0 for any free one)`.replace(
      '--listen : ',
      '--listen: ',
    ),
    { cause: err },
  );
}
