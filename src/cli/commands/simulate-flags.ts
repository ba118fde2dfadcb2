/** Flag table for the program that registers the command (commander camel-cases the keys). */
export const SIMULATE_FLAGS: readonly { flags: string; description: string }[] = [
  { flags: '--nodes <n>', description: 'simulated nodes, 1..1000000 (default 10000)' },
  { flags: '--malicious <fraction>', description: 'fraction of malicious nodes, 0..0.95 (default 0)' },
  {
    flags: '--malicious-mode <mode>',
    description: 'mixed (forge, replay, spam, swallow) or silent (swallow only)',
  },
  { flags: '--loss <fraction>', description: 'probability that a message is lost, 0..0.9 (default 0)' },
  { flags: '--churn <fraction>', description: 'fraction of nodes joining late and again leaving, 0..0.9' },
  {
    flags: '--churn-window <duration>',
    description: 'churn happens within this after publication (default 10s)',
  },
  { flags: '--partition <fraction>', description: 'fraction of nodes cut off before publication, 0..0.9' },
  {
    flags: '--partition-ms <duration>',
    description: 'how long the partition lasts after publication (default 15s)',
  },
  { flags: '--ttl <hops>', description: 'announcement hop budget, 0..255 (default 10)' },
  { flags: '--degree <min-max>', description: 'peers per node in the random graph (default 8-12)' },
  { flags: '--topology <kind>', description: 'random, line or ring (default random)' },
  { flags: '--protocol <which>', description: 'ours, flood or both (default both)' },
  { flags: '--no-anti-entropy', description: 'turn periodic anti-entropy off (on-connect digests stay)' },
  { flags: '--uniform-latency', description: 'every link 100 ms, unlimited bandwidth: time = rounds' },
  { flags: '--announcement-bytes <n>', description: 'size of one announcement on the wire (default 8192)' },
  {
    flags: '--max-time <duration>',
    description: 'stop this long after publication at the latest (default 120s)',
  },
  { flags: '--seed <n>', description: 'seed of every random choice (default 1)' },
  { flags: '--out <file>', description: 'write both coverage curves to this SVG file' },
  {
    flags: '--ttl-sweep <from-to>',
    description: 'also run each ttl in the range without anti-entropy: what the hop bound costs',
  },
  { flags: '--no-parallel', description: 'run the protocols one after the other in this thread' },
  {
    flags: '--swarm',
    description:
      'swarm mode: 64 MiB from one seed to --nodes nodes (default 1000) over the download machine, against the Kumar-Ross bound',
  },
  {
    flags: '--governance',
    description:
      'governance mode: time for an upgrade certificate to reach 99.9% of --nodes nodes (default 10000), for each --malicious share (a list, default 0,10%,30%)',
  },
  {
    flags: '--swarm-sweep <list>',
    description: 'with --swarm: also run these node counts (e.g. 10,100,1000)',
  },
];
