/**
 * The three undici dispatchers the node uses (Pool, Agent, ProxyAgent), loaded without undici's
 * index. The index also loads fetch, WebSocket, EventSource, the cache and the mocks: 1.3 MB of
 * source that a node keeps for its whole life, 5.5 MB of heap against 2.8 MB for these files
 * alone (measured with `process.memoryUsage` after a forced GC). Dispatchers get `request()` here
 * as the index gives it them (its `Object.assign(Dispatcher.prototype, api)`); the version is
 * pinned by package-lock.json and test/sources/undici-lite.test.ts checks the classes are the
 * index's.
 */

import type * as Undici from 'undici';
import api from 'undici/lib/api/index.js';
import Agent from 'undici/lib/dispatcher/agent.js';
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import Pool from 'undici/lib/dispatcher/pool.js';
import ProxyAgent from 'undici/lib/dispatcher/proxy-agent.js';

if (typeof (Dispatcher.prototype as { request?: unknown }).request !== 'function')
  Object.assign(Dispatcher.prototype, api);

export { Agent, Pool, ProxyAgent };

/** One agent for the one-off GETs of this process (undici's global dispatcher, without the index). */
let shared: Undici.Agent | undefined;
export function sharedAgent(): Undici.Agent {
  shared ??= new Agent();
  return shared;
}

/** `dispatcher.request` for a whole URL (undici's top-level `request` without its global state). */
export function requestUrl(
  dispatcher: Undici.Dispatcher,
  url: URL | string,
  opts: Omit<Undici.Dispatcher.RequestOptions, 'origin' | 'path'>,
): Promise<Undici.Dispatcher.ResponseData> {
  const u = typeof url === 'string' ? new URL(url) : url;
  return dispatcher.request({ ...opts, origin: u.origin, path: `${u.pathname}${u.search}` });
}
