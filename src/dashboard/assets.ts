/**
 * The dashboard's static files: its page and script (assets/dashboard/, shipped in the npm
 * package) and uPlot, the chart library, served from the installed package: nothing from a CDN.
 * In the single executable (`dchat release build`) the same files are SEA assets, written out with
 * the other embedded files (cli/sea/extract.ts) and read from there: `import.meta.url` of this
 * module points into the extraction root, and uPlot sits under assets/uplot/ beside the page.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isSea } from 'node:sea';
import { fileURLToPath } from 'node:url';
import type { Route } from '../metrics/http.ts';

/** The page's own files (assets/dashboard/). */
export const DASHBOARD_PAGE_FILES = ['index.html', 'dashboard.js', 'dashboard.css'] as const;
/** uPlot's files the page loads (node_modules/uplot/dist/). */
export const UPLOT_FILES = ['uPlot.iife.min.js', 'uPlot.min.css'] as const;

const OWN = (name: string) => fileURLToPath(new URL(`../../assets/dashboard/${name}`, import.meta.url));

function uplotFile(name: string): string {
  if (isSea()) return fileURLToPath(new URL(`../../assets/uplot/${name}`, import.meta.url));
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
