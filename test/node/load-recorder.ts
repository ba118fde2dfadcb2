/**
 * Preloaded (`--import`) into a `dchat node start` under test by idle-footprint.test.ts: appends
 * the URL of every module any thread of the process loads to $DCHAT_LOAD_LOG, and every 200 ms
 * writes the main thread's V8 new-space size to $DCHAT_LOAD_LOG.heap. Not a test itself.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { getHeapSpaceStatistics } from 'node:v8';
import { isMainThread } from 'node:worker_threads';

const log = process.env.DCHAT_LOAD_LOG;
if (log) {
  registerHooks({
    load(url, context, nextLoad) {
      appendFileSync(log, `${url}\n`);
      return nextLoad(url, context);
    },
  });
  if (isMainThread)
    setInterval(() => {
      const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
      writeFileSync(`${log}.heap`, JSON.stringify({ new_space: space?.space_size ?? -1 }));
    }, 200).unref();
}
