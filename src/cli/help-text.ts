/**
 * What `--help` adds below commander's usage, for every command of the three programs: worked
 * examples and the environment variables the command reads (spec/CLI.md "Conventions"). One
 * table, so the help, docs/cli.md (scripts/gen-cli-docs.ts) and the shell completion agree.
 */
import type { Command } from 'commander';

/** Every environment variable the programs read, with what it does. */
export const ENV_VARS: Record<string, string> = {
  DCHAT_HOME: 'data directory when --home is not given (default ~/.dchat)',
  DCHAT_LOG: 'log filter to stderr, e.g. DCHAT_LOG=dchat::gossip=debug,info (default warn)',
  RUST_LOG: 'alias of DCHAT_LOG (as the seed documents show)',
  DCHAT_LOG_FORMAT: 'log lines: human ([DEBUG dchat::package] ...) or json (default: human on a terminal)',
  NO_COLOR: 'set: no live progress bar (plain lines instead)',
  DCHAT_DEBUG: 'set: print the stack trace of an internal error (E_INTERNAL)',
  NODE_EXTRA_CA_CERTS: 'PEM file of extra TLS roots for HTTPS mirrors (private CAs)',
  HTTPS_PROXY: 'http:// proxy for https sources, as curl reads it (https_proxy first; CONNECT tunnel)',
  http_proxy: 'http:// proxy for a plain-http loopback mirror (lower case only, as curl)',
  ALL_PROXY: 'proxy when no scheme-specific one is set (all_proxy first)',
  NO_PROXY:
    'hosts, domains, IPs and CIDR ranges reached directly, comma-separated; * for all (no_proxy first)',
  GITHUB_TOKEN: 'token for GitHub Releases sources (sent to the API only; DCHAT_GITHUB_TOKEN wins)',
  DCHAT_GITHUB_TOKEN: 'as GITHUB_TOKEN, for dchat only',
  SOURCE_DATE_EPOCH: 'seconds since 1970: the mtime of the built executable (reproducible builds)',
  DCHAT_KEY_PASSPHRASE: 'passphrase of encrypted private keys when --passphrase-file is not given (CI)',
  DCHAT_FAKE_NOW: 'tests and demos only: the clock every expiry decision uses (an ISO date)',
};

/** Read by every command. */
const COMMON_ENV = [
  'DCHAT_HOME',
  'DCHAT_LOG',
  'RUST_LOG',
  'DCHAT_LOG_FORMAT',
  'NO_COLOR',
  'DCHAT_DEBUG',
  'DCHAT_FAKE_NOW',
];

interface CommandHelp {
  examples?: string[];
  /** Read by this command beyond COMMON_ENV. */
  env?: string[];
}

const MIRRORS = [
  'NODE_EXTRA_CA_CERTS',
  'HTTPS_PROXY',
  'http_proxy',
  'ALL_PROXY',
  'NO_PROXY',
  'GITHUB_TOKEN',
  'DCHAT_GITHUB_TOKEN',
];
const KEYS = ['DCHAT_KEY_PASSPHRASE'];

/** Keyed by the command path as typed: "dchat update download". */
const HELP: Record<string, CommandHelp> = {
  dchat: {
    examples: [
      'dchat trust init --root root.json        # pin your network root (check its fingerprint first)',
      'dchat update add-mirror --url https://mirror.example.org/dchat --mirror-type https',
      'dchat update check',
      'dchat update download --version 1.0.0',
      'dchat node start --listen /ip4/0.0.0.0/tcp/4001',
    ],
    env: MIRRORS,
  },
  'dchat release init': {
    examples: [
      'dchat-sign keygen --out release.key && dchat release init --out mirror --key release.key',
      'dchat release init --out mirror --root-key alice.pub --root-key bob.pub --root-key carol.pub \\\n' +
        '    --root-threshold 2 --targets-key alice.pub --targets-key bob.pub --targets-key carol.pub \\\n' +
        '    --targets-threshold 2 --online-key online.key --prepare',
    ],
    env: KEYS,
  },
  'dchat release sign': {
    examples: ['dchat release sign --metadata root.json --key alice.key --output alice-root.json'],
    env: KEYS,
  },
  'dchat release finish': {
    examples: [
      'dchat release finish --out mirror --key online.key --signatures alice-root.json bob-root.json',
    ],
    env: KEYS,
  },
  'dchat release publish': {
    examples: [
      'dchat release publish --package dchat-1.0.0-linux-x64 --version 1.0.0 --platform linux-x64 \\\n' +
        '    --out mirror --key release.key --sig dchat-1.0.0-linux-x64.sig --base-url https://mirror.example.org/dchat',
      'dchat release publish --package dchat-1.0.0-linux-x64 --version 1.0.0 --platform linux-x64 --out mirror --prepare',
      'dchat release publish --package dchat-1.1.0-linux-x64 --version 1.1.0 --platform linux-x64 \\\n' +
        '    --out mirror --key release.key --delta-from 1.0.0,0.9.0',
      'dchat release publish --package dchat-1.0.0-linux-x64 --version 1.0.0 --platform linux-x64 \\\n' +
        '    --out mirror --key release.key --github-assets gh-assets   # then upload gh-assets/* to the release',
    ],
    env: KEYS,
  },
  'dchat release rotate-keys': {
    examples: [
      'dchat release rotate-keys --out mirror --key old.key --new-key new1.key --new-key new2.key --threshold 2',
    ],
  },
  'dchat release refresh': {
    examples: ['dchat release refresh --out mirror --key release.key --expires 7d'],
  },
  'dchat release build': {
    examples: [
      'dchat release build --source . --out dist/dchat-1.0.0-linux-x64',
      'SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) dchat release build --source . --out dchat --version-stamp 1.0.0',
    ],
    env: ['SOURCE_DATE_EPOCH'],
  },
  'dchat trust init': { examples: ['dchat trust init --root /media/usb/root.json'] },
  'dchat trust show': { examples: ['dchat trust show', 'dchat --json trust show'] },
  'dchat update verify': {
    examples: [
      'dchat update verify --package ~/.dchat/packages/dchat-1.0.0-linux-x64 --version 1.0.0',
      'dchat update verify --package ./dchat-1.0.0-linux-x64 --version 1.0.0 --metadata ./mirror',
    ],
  },
  'dchat update check': { examples: ['dchat update check', 'dchat --json update check'], env: MIRRORS },
  'dchat update list-versions': { examples: ['dchat update list-versions'] },
  'dchat update download': {
    examples: [
      'dchat update download --version 1.0.0',
      'dchat update download --version 1.0.0 --platform windows-x64 --limit-rate 10M',
      'GITHUB_TOKEN=... dchat update download --version 1.0.0 --source github',
      'HTTPS_PROXY=http://proxy.example:3128 NO_PROXY=10.0.0.0/8 dchat update download --version 1.0.0',
    ],
    env: MIRRORS,
  },
  'dchat update add-mirror': {
    examples: [
      'dchat update add-mirror --url https://mirror.example.org/dchat --mirror-type https --region eu',
      'dchat update add-mirror --url http://127.0.0.1:8480 --mirror-type https --priority 1',
      'dchat update add-mirror --url https://api.github.com/repos/OWNER/REPO --mirror-type github',
      'dchat update add-mirror --url https://f-droid.example.org/fdroid/repo --mirror-type fdroid \\\n' +
        '    --fingerprint 1bb321f60d474c3e04319b2196a36b36a3700e8995cd667b6f613043ba2676e0',
    ],
  },
  'dchat update remove-mirror': {
    examples: ['dchat update remove-mirror --url https://mirror.example.org/dchat'],
  },
  'dchat update list-mirrors': { examples: ['dchat update list-mirrors'] },
  'dchat update test-mirrors': {
    examples: ['dchat update test-mirrors', 'dchat --json update test-mirrors'],
    env: MIRRORS,
  },
  'dchat update configure-auto-update': {
    examples: ['dchat update configure-auto-update --enabled true --security-only false --check-interval 12'],
  },
  'dchat update show-config': { examples: ['dchat update show-config'] },
  'dchat node start': {
    examples: [
      'dchat node start --listen /ip4/0.0.0.0/tcp/4001 --bootstrap /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW...',
      'systemctl start dchat-node      # as a service: contrib/systemd/dchat-node.service',
    ],
    env: MIRRORS,
  },
  'dchat node status': { examples: ['dchat node status', 'dchat --json node status'] },
  'dchat mirror serve': {
    examples: [
      'dchat mirror serve --dir mirror --listen 127.0.0.1:8480',
      'dchat mirror serve --dir mirror --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem',
    ],
  },
  'dchat completion': {
    examples: [
      'dchat completion bash > /etc/bash_completion.d/dchat',
      'dchat completion zsh > ~/.zfunc/_dchat       # with fpath+=(~/.zfunc) in ~/.zshrc',
      'dchat completion fish > ~/.config/fish/completions/dchat.fish',
    ],
  },
  'dchat-sign': {
    env: KEYS,
    examples: [
      'dchat-sign keygen --out release.key',
      'dchat-sign --key release.key --input dchat-1.0.0-linux-x64 --output dchat-1.0.0-linux-x64.sig',
    ],
  },
  'dchat-sign keygen': {
    examples: [
      'dchat-sign keygen --out release.key',
      'dchat-sign keygen --out alice.key --encrypt   # asks for a passphrase',
    ],
    env: KEYS,
  },
  'dchat-test': {
    examples: [
      'dchat-test distribute-update --version 1.0.0 --method gossip --nodes 10',
      'dchat-test chaos-byzantine --malicious-nodes 3',
      'dchat-test chaos-mirrors --fail-rate 0.5',
      'dchat-test chaos-partition --duration 60s',
      'dchat-test upgrade --from 1.0.0 --to 1.1.0 --fork hard',
      'dchat-test simulate --nodes 10000 --malicious 10% --out coverage.svg',
    ],
  },
  'dchat testnet': {
    examples: [
      'dchat testnet --validators 3 --relays 3 --users 2 --release-every 60s',
      'dchat testnet --scenario upgrade --fork hard --dir ./net   # upgrades itself by governance; Ctrl-C stops it',
    ],
  },
  'dchat-test upgrade': {
    examples: [
      'dchat-test upgrade --from 1.0.0 --to 1.1.0 --fork hard',
      'dchat-test --json upgrade --from 1.0.0 --to 1.1.0 --fork soft --validators 3 --relays 1 --users 1',
      'dchat-test upgrade --from 1.0.0 --to 1.1.0 --fork hard --unhealthy   # every node must roll back: exit 1',
    ],
  },
  'dchat-test distribute-update': {
    examples: ['dchat-test distribute-update --version 1.0.0 --method gossip --nodes 10'],
  },
  'dchat-test verify-distribution': { examples: ['dchat-test verify-distribution --version 1.0.0'] },
  'dchat-test chaos-byzantine': {
    examples: ['dchat-test --json chaos-byzantine --malicious-nodes 3 --nodes 6'],
  },
  'dchat-test chaos-mirrors': {
    examples: [
      'dchat-test chaos-mirrors --fail-rate 0.5',
      'dchat-test --json chaos-mirrors --fail-rate 0.9 --mirrors 5 --nodes 8 --seed replay-1',
    ],
  },
  'dchat-test chaos-partition': {
    examples: [
      'dchat-test chaos-partition --duration 60s',
      'dchat-test --json chaos-partition --duration 10s --nodes 8',
    ],
  },
  'dchat-sign genesis': {
    examples: [
      'dchat-sign genesis --spec network.json --root-key founder1.key --root-key founder2.key --out genesis.json',
    ],
    env: KEYS,
  },
  'dchat governance init': {
    examples: ['dchat governance init --genesis genesis.json   # then restart the node'],
  },
  'dchat governance propose-upgrade': {
    examples: [
      'dchat governance propose-upgrade --version 1.0.0 --ipfs-cid QmExample \\\n' +
        '    --mirrors https://releases.example.org/dchat --activation-height 110000 --fork hard --key holder.key',
    ],
    env: KEYS,
  },
  'dchat governance propose-genesis': {
    examples: [
      'dchat-sign genesis --spec network-v2.json --root-key founder.key --out genesis-v2.json',
      'dchat governance propose-genesis --genesis genesis-v2.json --voting-period 14d --key holder.key',
    ],
    env: KEYS,
  },
  'dchat governance vote': {
    examples: ['dchat governance vote --proposal 3f2a9c1e --option yes --key holder.key'],
    env: KEYS,
  },
  'dchat governance approve': {
    examples: ['dchat governance approve --proposal 3f2a9c1e --key validator.key'],
    env: KEYS,
  },
  'dchat governance status': {
    examples: ['dchat governance status', 'dchat governance status --proposal 3f2a9c1e --json'],
  },
  'dchat-test simulate': {
    examples: [
      'dchat-test simulate --nodes 10000 --malicious 10% --out coverage.svg',
      'dchat-test simulate --governance --nodes 10000 --malicious 10%,30%',
    ],
  },
};

/** "dchat update download" for the `download` command under `update` under `dchat`. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** The Examples and Environment sections of one command's help (empty for `help`). */
export function extraHelp(cmd: Command): string {
  const h = HELP[commandPath(cmd)] ?? {};
  const lines: string[] = [];
  if (h.examples?.length) {
    lines.push('', 'Examples:');
    for (const e of h.examples) lines.push(`  $ ${e.replaceAll('\n', '\n  ')}`);
  }
  const env = [...(h.env ?? []), ...COMMON_ENV];
  lines.push('', 'Environment:');
  const width = Math.max(...env.map((e) => e.length));
  for (const e of env) lines.push(`  ${e.padEnd(width)}  ${ENV_VARS[e]}`);
  return `${lines.join('\n')}\n`;
}

/** Adds the sections to `--help` of the program and every command under it. */
export function addExtraHelp(program: Command): void {
  program.addHelpText('afterAll', ({ command }) => extraHelp(command));
}
