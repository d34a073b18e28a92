// The page's files, all from the package (no network): our page and uPlot's build. Resolved once
// from the installed package, so they work from a clone and from `npm install clusterfit`.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PAGE = join(PACKAGE_ROOT, 'src', 'explore', 'page');
const UPLOT = join(dirname(createRequire(import.meta.url).resolve('uplot')), '..', 'dist');

export interface Asset {
  file: string;
  type: string;
}

/** Every file the server hands out under /assets/, by name: nothing else is reachable there. */
export const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ['app.js', { file: join(PAGE, 'app.js'), type: 'text/javascript; charset=utf-8' }],
  ['style.css', { file: join(PAGE, 'style.css'), type: 'text/css; charset=utf-8' }],
  ['uPlot.iife.min.js', { file: join(UPLOT, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' }],
  ['uPlot.min.css', { file: join(UPLOT, 'uPlot.min.css'), type: 'text/css; charset=utf-8' }],
]);

export const PAGE_HTML = join(PAGE, 'index.html');

export function readAsset(name: string): string {
  const asset = ASSETS.get(name);
  if (asset === undefined) throw new RangeError(`no asset ${name}`);
  return readFileSync(asset.file, 'utf8');
}
