/**
 * One whole upgrade run (`dchat-test upgrade`, the demo): a fresh UpgradeNet, driven through the
 * governance path, then stopped with nothing left running. The report is written to
 * DIR/report.json beside the run's homes and logs.
 */
import { writeFileAtomic } from '../store/atomic.ts';
import { driveUpgrade, type UpgradeDrive, type UpgradeReport } from './upgrade.ts';
import { UpgradeNet, type UpgradeNetOptions } from './upgrade-net.ts';

export type UpgradeRunOptions = UpgradeNetOptions & Omit<UpgradeDrive, 'note' | 'signal'>;

/** `signal` aborts the run: every process it started is stopped, then the promise rejects. */
export async function runUpgrade(o: UpgradeRunOptions): Promise<UpgradeReport> {
  const t0 = Date.now();
  const net = new UpgradeNet(o);
  const onAbort = () => void net.stop();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await net.start();
    const report = await driveUpgrade(net, { ...o, timeoutMs: o.timeoutMs - (Date.now() - t0) });
    report.duration_ms = Date.now() - t0;
    await writeFileAtomic(`${o.dir}/report.json`, `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await net.stop();
  }
}
