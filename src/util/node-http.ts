/**
 * node:http without its ES module namespace. `import { createServer } from 'node:http'` makes
 * Node build the namespace from every export, and three of them (WebSocket, CloseEvent,
 * MessageEvent) are lazy getters that load Node's bundled undici: about 3 MB of heap kept by every
 * node process that serves metrics, the dashboard or a mirror, for classes it never uses (measured
 * with `v8.getHeapStatistics`; `require` and `process.getBuiltinModule` leave the getters alone).
 * Type-only imports of node:http stay as they are: they are erased.
 */
import type * as NodeHttp from 'node:http';

export const http = process.getBuiltinModule('node:http') as typeof NodeHttp;
