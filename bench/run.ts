/**
 * `npm run bench -- <name> [flags]`: benchmarks, each printing a ratio against a reference measured
 * in the same run (never a bare time). Names: verify, download, node-rss, delta, channels, activation, soak, all.
 */
const [name = 'all', ...rest] = process.argv.slice(2);

const benches: Record<string, () => Promise<boolean>> = {
  verify: async () => (await import('./verify.ts')).benchVerify(rest),
  download: async () => (await import('./download.ts')).benchDownload(rest),
  'node-rss': async () => (await import('./node-rss.ts')).benchNodeRss(rest),
  delta: async () => (await import('./delta.ts')).benchDelta(rest),
  channels: async () => (await import('./channels.ts')).benchChannels(rest),
  soak: async () => (await import('./soak.ts')).benchSoak(rest),
  activation: async () => (await import('./activation.ts')).benchActivation(rest),
};

// `all` leaves out the soak: it runs for ten minutes by design.
const chosen = name === 'all' ? Object.keys(benches).filter((b) => b !== 'soak') : [name];
let ok = true;
for (const n of chosen) {
  const b = benches[n];
  if (!b) {
    console.error(`error[E_USAGE]: unknown benchmark '${n}' (have: ${Object.keys(benches).join(', ')}, all)`);
    process.exit(2);
  }
  console.log(`== bench ${n}`);
  ok = (await b()) !== false && ok;
}
process.exitCode = ok ? 0 : 1;
