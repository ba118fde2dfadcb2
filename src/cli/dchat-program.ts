import type { Command } from 'commander';
import { registerGovernance } from './commands/governance.ts';
import { registerMirror } from './commands/mirror.ts';
import { registerNode } from './commands/node.ts';
import { registerRelease } from './commands/release.ts';
import { registerTestnet } from './commands/testnet.ts';
import { registerTrust } from './commands/trust.ts';
import { registerUpdate } from './commands/update.ts';
import type { CliContext } from './context.ts';
import { action, newProgram } from './program.ts';

/** The `dchat` program: every command group registers itself; bodies load lazily. */
export function buildDchat(ctx: CliContext): Command {
  const program = newProgram(
    'dchat',
    'dchat update distribution: releases, trust, updates, node, mirror',
    ctx,
  );
  registerRelease(program, ctx);
  registerTrust(program, ctx);
  registerUpdate(program, ctx);
  registerNode(program, ctx);
  registerGovernance(program, ctx);
  registerMirror(program, ctx);
  registerTestnet(program, ctx);
  program
    .command('completion')
    .description('shell completion script on stdout')
    .argument('<shell>', 'bash|zsh|fish')
    .action(
      action(ctx, async (_o, env, args) => {
        const { completionScript } = await import('./completion.ts');
        const script = completionScript(program, args[0] ?? '');
        env.out.line(script.trimEnd());
        env.out.result({ shell: args[0], script });
      }),
    );
  return program;
}
