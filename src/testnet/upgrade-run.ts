/**
 * One whole upgrade run (`dchat-test upgrade`, the demo): a fresh UpgradeNet, driven through the
 * governance path, then stopped with nothing left running. The report is written to
 * DIR/report.json beside the run's homes and logs.
 */
import { writeFileAtomic } from '../store/atomic.ts';
import { driveUpgrade, type UpgradeDrive, type UpgradeReport } from './upgrade.ts';
import { UpgradeNet, type UpgradeNetOptions } from './upgrade-net.ts';

export type UpgradeRunOptions = UpgradeNetOptions & Omit<UpgradeDrive, 'note' | 'signal'>;

export async function runUpgrade(o: UpgradeRunOptions): Promise<UpgradeReport> {
  const t0 = Date.now();
  const net = new UpgradeNet(o);
  try {
    await net.start();
    const report = await driveUpgrade(net, { ...o, timeoutMs: o.timeoutMs - (Date.now() - t0) });
    report.duration_ms = Date.now() - t0;
    await writeFileAtomic(`${o.dir}/report.json`, `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    await net.stop();
  }
}
