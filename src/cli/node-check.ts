/**
 * The first thing every bin runs, before it imports anything else. A Node too old for the rest of
 * the CLI (package.json `engines`) does not run it: in a checkout, where `npm ci` installed the
 * pinned Node (package.json devDependency `node`), the same command is run again under that Node,
 * so `dchat ...` works whatever `node` comes first on the PATH; anywhere else (a global install
 * on an old Node) one line says what is needed and how to get it, and the exit is 2, instead of a
 * SyntaxError about a missing export from deep inside the module graph.
 *
 * This file must parse, link and run on old Node (20 and earlier): no imports but Node's own, no
 * newer syntax or APIs. Tests run it under the machine's system Node (test/cli/engines.test.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Keep equal to package.json `engines.node` (a test checks it). */
export const MIN_NODE_MAJOR = 24;

/** The message for a Node that is too old, or undefined when `version` (like "20.20.2") is enough. */
export function nodeTooOld(bin: string, version: string, execPath: string): string | undefined {
  const major = Number(String(version).split('.')[0]);
  if (major >= MIN_NODE_MAJOR) return undefined;
  return (
    `error[E_NODE_VERSION]: ${bin} needs Node.js >= ${MIN_NODE_MAJOR}, this is ${version} (${execPath}); ` +
    `install Node ${MIN_NODE_MAJOR} (https://nodejs.org or \`nvm install ${MIN_NODE_MAJOR}\`), ` +
    'or use the single executable that needs no Node (docs/operator-guide.md)\n'
  );
}

/**
 * The checkout's pinned Node, when this file runs from a checkout that has it (src/cli or
 * dist/cli: two levels below the package root) and this process is not already it.
 */
function pinnedNode(): string | undefined {
  const node = fileURLToPath(new URL('../../node_modules/node/bin/node', import.meta.url));
  return existsSync(node) && node !== process.execPath ? node : undefined;
}

/**
 * True when this process may go on. Otherwise the command is run again under the pinned Node (this
 * process then only waits for it and exits as it did), or the line is printed and the exit code
 * set to 2.
 */
export function checkNode(bin: string): boolean {
  const message = nodeTooOld(bin, process.versions.node, process.execPath);
  if (message === undefined) return true;
  const node = pinnedNode();
  if (node) runUnder(node, message);
  else {
    process.stderr.write(message);
    process.exitCode = 2;
  }
  return false;
}

/**
 * This command (its script and arguments) under `node`, sharing stdin, stdout and stderr. Ctrl-C
 * reaches both processes (one process group), so SIGINT here is only kept from ending this one
 * (passed on, it would arrive twice: the second ends a download at once); SIGTERM and SIGHUP,
 * sent to this process alone, are passed on. It exits as the child did, by the same signal.
 */
function runUnder(node: string, message: string): void {
  const child = spawn(node, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.on('SIGINT', () => {});
  for (const signal of ['SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  child.on('error', () => {
    process.stderr.write(message);
    process.exitCode = 2;
  });
  child.on('exit', (code, signal) => {
    if (signal === null) process.exit(code ?? 1);
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  });
}
