// The page's files, all from the package (no network): our page and uPlot's build. Resolved once
// from the installed package, so they work from a clone and from `npm install clusterfit`.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PAGE = join(PACKAGE_ROOT, 'src', 'explore', 'page');
const UPLOT = join(dirname(createRequire(import.meta.url).resolve('uplot')), '..', 'dist');

export interface Asset {
  file: string;
  type: string;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/** Every file the server hands out under /assets/, by name: the page's scripts and styles and uPlot's, nothing else. */
export const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ...readdirSync(PAGE)
    .filter((name) => extname(name) in TYPES)
    .map((name): [string, Asset] => [name, { file: join(PAGE, name), type: TYPES[extname(name)] as string }]),
  ['uPlot.iife.min.js', { file: join(UPLOT, 'uPlot.iife.min.js'), type: TYPES['.js'] as string }],
  ['uPlot.min.css', { file: join(UPLOT, 'uPlot.min.css'), type: TYPES['.css'] as string }],
]);

export const PAGE_HTML = join(PAGE, 'index.html');

export function readAsset(name: string): string {
  const asset = ASSETS.get(name);
  if (asset === undefined) throw new RangeError(`no asset ${name}`);
  return readFileSync(asset.file, 'utf8');
}
