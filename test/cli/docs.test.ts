/**
 * docs/cli.md is generated from the programs (scripts/gen-cli-docs.ts): a flag, command, example
 * or environment variable changed without `npm run docs` fails here. Also: the docs the README
 * points to exist, and the README links nothing outside the repository checkout.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { CLI_DOC, renderCliDocs } from '../../scripts/gen-cli-docs.ts';
import { REPO_ROOT } from '../helpers/cli.ts';

test('docs/cli.md is what the generator makes from the programs now', () => {
  const current = existsSync(CLI_DOC) ? readFileSync(CLI_DOC, 'utf8') : '';
  assert.ok(current === renderCliDocs(), 'docs/cli.md is stale: run `npm run docs` and commit it');
});

test('the generator check mode fails on a stale page and passes on a fresh one', () => {
  const ok = spawnSync(process.execPath, ['scripts/gen-cli-docs.ts', '--check'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  assert.equal(ok.status, 0, ok.stderr);
  const text = renderCliDocs();
  // Every command of every program has its section, hidden internals none.
  for (const heading of [
    '`dchat update download`',
    '`dchat release build`',
    '`dchat completion`',
    '`dchat-sign keygen`',
    '`dchat-test simulate`',
  ])
    assert.ok(text.includes(heading), `${heading} missing`);
  assert.ok(!text.includes('_malicious-node'));
  assert.match(text, /Examples:\n {2}\$ dchat update download --version 1\.0\.0/);
  const dir = mkdtempSync(join(tmpdir(), 'dchat-docs-'));
  try {
    const stale = join(dir, 'cli.md');
    writeFileSync(stale, text.replace('--limit-rate', '--rate-limit'));
    const r = spawnSync(process.execPath, ['scripts/gen-cli-docs.ts', '--check', '--file', stale], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /is stale: run `npm run docs`/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('README and docs/ link only files that exist in the repository, never ../shared or DESIGN.md', () => {
  const pages = [
    'README.md',
    'docs/cli.md',
    'docs/operator-guide.md',
    'docs/maintainer-guide.md',
    'docs/architecture.md',
  ];
  for (const page of pages) {
    const file = join(REPO_ROOT, page);
    assert.ok(existsSync(file), `${page} missing`);
    const text = readFileSync(file, 'utf8');
    assert.doesNotMatch(text, /\.\.\/shared|DESIGN\.md/, `${page} points outside the repository`);
    for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      const target = m[1] as string;
      if (/^[a-z]+:/.test(target)) continue;
      const p = resolve(dirname(file), target);
      assert.ok(p.startsWith(REPO_ROOT) && existsSync(p), `${page} links ${target}, which does not exist`);
    }
  }
  assert.ok(existsSync(join(REPO_ROOT, 'LICENSE')));
  assert.match(readFileSync(join(REPO_ROOT, 'LICENSE'), 'utf8'), /^MIT License/);
});

test('the operator guide explains every error code src/errors.ts defines (and the bins E_NODE_VERSION)', () => {
  const codes = new Set(
    readFileSync(join(REPO_ROOT, 'src', 'errors.ts'), 'utf8').match(/'E_[A-Z_]+'/g) ?? [],
  );
  assert.ok(codes.size >= 20);
  const guide = readFileSync(join(REPO_ROOT, 'docs', 'operator-guide.md'), 'utf8');
  const section = guide.slice(guide.indexOf('## Troubleshooting by error code'));
  for (const quoted of [...codes, "'E_NODE_VERSION'"]) {
    const code = quoted.slice(1, -1);
    assert.match(
      section,
      // E_INTERRUPTED alone exits as shells report a signal (spec/CLI.md conventions: 130/143).
      new RegExp(`^\\| \`${code}\` \\| ${code === 'E_INTERRUPTED' ? '130/143' : '[123]'} \\|`, 'm'),
      `${code} missing from the table`,
    );
  }
});
