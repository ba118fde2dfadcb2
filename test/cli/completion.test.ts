/**
 * `dchat completion bash|zsh|fish` (src/cli/completion.ts) is generated from the program tree: the
 * bash script is loaded into a real bash and asked for completions the way bash asks; the zsh
 * and fish scripts name every command and flag; an unknown shell is a usage error.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { before, describe, test } from 'node:test';
import { completionTree } from '../../src/cli/completion.ts';
import { buildDchat } from '../../src/cli/dchat-program.ts';
import { describeRun, runBin } from '../helpers/cli.ts';

const sink = new PassThrough();
const tree = completionTree(
  buildDchat({ stdout: sink, stderr: sink, env: {}, cwd: '/', now: () => new Date() }),
);

describe('dchat completion', () => {
  const scripts: Record<string, string> = {};
  before(async () => {
    for (const shell of ['bash', 'zsh', 'fish']) {
      const r = await runBin('dchat', ['completion', shell]);
      assert.equal(r.code, 0, describeRun(r));
      scripts[shell] = r.stdout;
    }
  });

  /** What the bash function offers for the words typed so far (the last one being completed). */
  function complete(words: string[]): string[] {
    const out = execFileSync(
      'bash',
      [
        '-c',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash script, not a template
        'eval "$(cat)"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _dchat; printf "%s\\n" "${COMPREPLY[@]}"',
        'bash',
        ...words,
      ],
      { input: scripts.bash, encoding: 'utf8' },
    );
    return out.split('\n').filter(Boolean);
  }

  test('bash: commands, subcommands and flags of the command typed so far', () => {
    assert.deepEqual(complete(['dchat', 'rel']), ['release']);
    assert.deepEqual(complete(['dchat', 'release', 'pu']), ['publish']);
    assert.deepEqual(complete(['dchat', '--home', '/tmp/h', 'update', 'down']), ['download']);
    assert.ok(complete(['dchat', 'update', 'download', '--']).includes('--limit-rate'));
    assert.ok(!complete(['dchat', 'update', 'check', '--']).includes('--limit-rate'));
    assert.deepEqual(complete(['dchat', 'update', 'download', '--version', '1.0.0', '--plat']), [
      '--platform',
    ]);
    const top = complete(['dchat', '']);
    for (const c of ['release', 'trust', 'update', 'node', 'mirror', 'completion'])
      assert.ok(top.includes(c), c);
  });

  test('bash: every command path of the program is reachable', () => {
    for (const node of tree) {
      if (!node.path) continue;
      const words = ['dchat', ...node.path.split(' ')];
      const last = words.pop() as string;
      assert.ok(complete([...words, last.slice(0, -1)]).includes(last), node.path);
    }
  });

  test('zsh and fish scripts name every command and flag', () => {
    assert.match(scripts.zsh ?? '', /^#compdef dchat\n/);
    assert.match(scripts.zsh ?? '', /bashcompinit/);
    for (const node of tree) {
      for (const s of node.subcommands) {
        assert.ok(scripts.zsh?.includes(s.name), `zsh: ${s.name}`);
        assert.ok(scripts.fish?.includes(`-a '${s.name}'`), `fish: ${s.name}`);
      }
      for (const f of node.flags)
        assert.ok(scripts.fish?.includes(`-l ${f.flag.slice(2)}`), `fish: ${f.flag}`);
    }
  });

  test('an unknown shell: exit 2 naming the argument', async () => {
    const r = await runBin('dchat', ['completion', 'powershell']);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /^error\[E_USAGE\]: <shell>: 'powershell' is not bash, zsh or fish/);
  });
});
