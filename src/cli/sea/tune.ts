/**
 * The single executable's first module (imported before anything else in ./main.ts, so it runs
 * before the bundle's other modules): `node start` and `update download` restart in place with
 * their glibc malloc settings and tell V8 to favour size, as the npm bin does
 * (cli/dchat.ts, activation/malloc-tuning.ts). Without it an unsupervised `node start` of the
 * executable kept glibc's growing mmap threshold. The executable's own arguments follow it: its
 * script is inside it.
 */
import { setFlagsFromString } from 'node:v8';
import { execWithMallocTuning, tuningFor } from '../../activation/malloc-tuning.ts';

const args = process.argv.slice(2);
const tuning = tuningFor(args);
if (tuning) {
  execWithMallocTuning(tuning, args);
  setFlagsFromString('--optimize-for-size');
}
