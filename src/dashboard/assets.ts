/**
 * The dashboard's static files: its page and script (assets/dashboard/, shipped in the npm
 * package) and uPlot, the chart library, served from the installed package: nothing from a CDN.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Route } from '../metrics/http.ts';

const OWN = (name: string) => fileURLToPath(new URL(`../../assets/dashboard/${name}`, import.meta.url));

function uplotFile(name: string): string {
  return createRequire(import.meta.url).resolve(`uplot/dist/${name}`);
}

const cache = new Map<string, Promise<Buffer>>();
function cached(file: string): Promise<Buffer> {
  let p = cache.get(file);
  if (!p) {
    p = readFile(file);
    cache.set(file, p);
    p.catch(() => cache.delete(file));
  }
  return p;
}

/** `/`, `/dashboard.js`, `/dashboard.css`, `/uplot.js`, `/uplot.css`. */
export function staticRoutes(): Record<string, Route> {
  const file =
    (path: () => string, type: string): Route =>
    async () => ({ type, body: await cached(path()) });
  return {
    '/': file(() => OWN('index.html'), 'text/html; charset=utf-8'),
    '/dashboard.js': file(() => OWN('dashboard.js'), 'text/javascript; charset=utf-8'),
    '/dashboard.css': file(() => OWN('dashboard.css'), 'text/css; charset=utf-8'),
    '/uplot.js': file(() => uplotFile('uPlot.iife.min.js'), 'text/javascript; charset=utf-8'),
    '/uplot.css': file(() => uplotFile('uPlot.min.css'), 'text/css; charset=utf-8'),
  };
}
