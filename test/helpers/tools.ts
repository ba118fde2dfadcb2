import { execFileSync } from 'node:child_process';

/**
 * System tools the tests use are installed by scripts/setup-system.sh. In CI (CI=true) a missing
 * tool is a failure, never a silent skip; on a developer machine the test is skipped with a reason.
 */
export function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Returns a node:test `skip` value: false when present; throws in CI when missing. */
export function requireTool(name: string): false | string {
  if (hasTool(name)) return false;
  if (process.env.CI === 'true')
    throw new Error(`${name} is required in CI (scripts/setup-system.sh installs it)`);
  return `${name} not installed (run scripts/setup-system.sh)`;
}
