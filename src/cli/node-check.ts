/**
 * The first thing every bin runs, before it imports anything else: a Node too old for the rest of
 * the CLI (package.json `engines`) gets one line saying what is needed and how to get it, and exit
 * 2, instead of a SyntaxError about a missing export from deep inside the module graph.
 *
 * This file must parse, link and run on old Node (20 and earlier): no imports, no newer syntax or
 * APIs. Tests run it under the machine's system Node (test/cli/engines.test.ts).
 */

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

/** True when this process may go on; otherwise the line is printed and the exit code set to 2. */
export function checkNode(bin: string): boolean {
  const message = nodeTooOld(bin, process.versions.node, process.execPath);
  if (message === undefined) return true;
  process.stderr.write(message);
  process.exitCode = 2;
  return false;
}
