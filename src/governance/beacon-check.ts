/**
 * The gossip core's check of a `beacon` object (its ValidateObject for that kind), pure: the id
 * must be the object's hash (governance/signing.ts objectId, as for every signed object); an
 * object with several signatures is a certified beacon and must carry >= 2/3 of stake on its own
 * (so it verifies alike on every node); then the beacon book judges it and keeps what it adds.
 * Off-chain beacons come back as E_CHAIN_MISMATCH, an operational code: the core drops them
 * without penalising the relay.
 */
import type { ValidationResult } from '../gossip/core/actions.ts';
import type { SignedBeacon } from '../model/beacon.ts';
import { short } from './beacon.ts';
import type { BeaconBook, BeaconVerdict } from './beacon-book.ts';
import { objectId } from './signing.ts';

export function checkBeaconObject(book: BeaconBook, id: string, b: SignedBeacon): ValidationResult {
  if (objectId(b) !== id)
    return { ok: false, code: 'E_MALFORMED', reason: 'beacon id is not the hash of the object' };
  if (b.signatures.length > 1) {
    let stake = 0n;
    const seen = new Set<string>();
    for (const s of b.signatures) {
      const v = book.validators.get(s.validator);
      if (!v)
        return {
          ok: false,
          code: 'E_UNTRUSTED_KEY',
          reason: `beacon signed by unknown validator ${short(s.validator)}`,
        };
      if (!seen.has(s.validator)) stake += v.stake;
      seen.add(s.validator);
    }
    if (!book.validators.isQuorum(stake))
      return {
        ok: false,
        code: 'E_THRESHOLD',
        reason: `certified beacon ${b.height} carries ${stake} of ${book.validators.total} stake, below 2/3`,
      };
  }
  const v: BeaconVerdict = book.receive(b);
  if (!v.ok) return { ok: false, code: v.code, reason: v.reason };
  return { ok: true, proof: v };
}
