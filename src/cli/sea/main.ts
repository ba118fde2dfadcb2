/**
 * Entry of the single executable (`dchat release build`; docs/architecture.md "Packaging"). It runs
 * as the CommonJS main of a Node SEA: the bundle holds the whole `dchat` CLI, and the few files that
 * must exist on disk (native addon, worker bundles, the default root) are extracted lazily by
 * ./root.ts, so `dchat --version` writes nothing. No version check here: the binary is Node 24.
 */
import './tune.ts';
import './root.ts';
import { processContext } from '../context.ts';
import { buildDchat } from '../dchat-program.ts';
import { runProgram } from '../program.ts';

runProgram(buildDchat(processContext()), process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`error[E_INTERNAL]: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
