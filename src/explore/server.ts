// `clusterfit explore`: the explorer over node:http, bound to 127.0.0.1 only. node:http is enough
// here: a dozen GET routes, JSON answers and files, one user on loopback; a framework would add
// dependencies and a routing layer for no feature we use. Everything it serves comes from the
// package (page, uPlot) or from inside the run folder; a path that resolves outside it (`..`,
// encoded or not, or a symbolic link out) is refused with 403.
import { createReadStream, existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { ASSETS, PAGE_HTML } from './assets.js';
import { SORT_KEYS, type SortKey } from './clustering.js';
import { RunFolder } from './run.js';
import { Thumbnails } from './thumbnails.js';

export interface ExplorerServer {
  url: string;
  server: Server;
  run: RunFolder;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The file under `root` that a URL path (percent-encoded, after its route prefix) names, or an
 * HttpError: 400 for a malformed path, 403 for one that leaves the folder, 404 for none.
 */
export function fileInside(root: string, encodedPath: string): string {
  let path: string;
  try {
    path = decodeURIComponent(encodedPath);
  } catch {
    throw new HttpError(400, 'malformed path');
  }
  if (path.includes('\0')) throw new HttpError(400, 'malformed path');
  // `..` as a whole component leaves the folder; a name that merely starts with two dots does not.
  const inside = (p: string, base: string): boolean => {
    const rel = relative(base, p);
    return rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
  };
  const file = resolve(root, `./${path}`);
  if (!inside(file, root)) throw new HttpError(403, 'outside the run folder');
  if (!existsSync(file)) throw new HttpError(404, 'no such file');
  // A symbolic link inside the folder may still point out of it.
  if (!inside(realpathSync(file), realpathSync(root))) throw new HttpError(403, 'outside the run folder');
  if (!statSync(file).isFile()) throw new HttpError(404, 'not a file');
  return file;
}

function int(params: URLSearchParams, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = params.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new HttpError(400, `${name} must be a non-negative integer`);
  return Math.min(value, max);
}

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

export async function startExplorer(runFolder: string, { port = 0 }: { port?: number } = {}): Promise<ExplorerServer> {
  const run = new RunFolder(runFolder);
  const thumbnails = new Thumbnails(run.root);

  const routes = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'only GET');
    // The raw path, not a parsed URL: a parser would fold `..` away before we could refuse it.
    const raw = req.url ?? '/';
    const [pathPart = '/', query = ''] = raw.split('?', 2);
    const params = new URLSearchParams(query);
    if (pathPart === '/' || pathPart === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(readFileSync(PAGE_HTML, 'utf8'));
      return;
    }
    if (pathPart.startsWith('/assets/')) {
      const asset = ASSETS.get(pathPart.slice('/assets/'.length));
      if (asset === undefined) throw new HttpError(404, 'no such asset');
      res.writeHead(200, { 'content-type': asset.type });
      createReadStream(asset.file).pipe(res);
      return;
    }
    if (pathPart === '/api/overview') return json(res, run.overview());
    if (pathPart === '/api/stages') return json(res, run.stages());
    if (pathPart === '/api/clusters') {
      const clustering = run.clustering(params.get('clustering') ?? '');
      const sort = (params.get('sort') ?? 'size') as SortKey;
      if (!SORT_KEYS.includes(sort)) throw new HttpError(400, `sort is one of ${SORT_KEYS.join(', ')}`);
      return json(
        res,
        clustering.page({
          sort,
          descending: params.get('order') !== 'asc',
          offset: int(params, 'offset', 0),
          // Pages are bounded whatever the client asks: never all clusters or all images at once.
          limit: int(params, 'limit', 24, 200),
          perTile: int(params, 'per', 8, 64),
          minSize: int(params, 'min', 0),
        }),
      );
    }
    if (pathPart === '/api/heatmap') {
      const clustering = run.clustering(params.get('clustering') ?? '');
      const ids = (params.get('clusters') ?? '')
        .split(',')
        .filter((s) => s !== '')
        .map(Number)
        .slice(0, 200);
      return json(res, clustering.heatmap(ids));
    }
    if (pathPart === '/api/neighbours') {
      const clustering = run.clustering(params.get('clustering') ?? '');
      return json(res, clustering.neighbours(int(params, 'image', 0), int(params, 'k', 12, 100)));
    }
    const thumb = /^\/thumb\/([^/]+)\/(\d+)\.jpg$/.exec(pathPart);
    if (thumb) {
      let id: string;
      try {
        id = decodeURIComponent(thumb[1] as string);
      } catch {
        throw new HttpError(400, 'malformed clustering name');
      }
      const clustering = run.clustering(id);
      const jpeg = await thumbnails.get(clustering, Number(thumb[2]));
      res.writeHead(200, { 'content-type': 'image/jpeg', 'cache-control': 'max-age=86400' });
      res.end(jpeg);
      return;
    }
    if (pathPart.startsWith('/files/')) {
      const file = fileInside(run.root, pathPart.slice('/files/'.length));
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      createReadStream(file).pipe(res);
      return;
    }
    throw new HttpError(404, 'no such page');
  };

  const server = createServer((req, res) => {
    routes(req, res).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : error instanceof RangeError ? 404 : 500;
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`${(error as Error).message}\n`);
    });
  });
  await new Promise<void>((done, fail) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      run.dispose();
      fail(
        error.code === 'EADDRINUSE'
          ? new Error(`port ${port} on 127.0.0.1 is in use: give another (port=<n>), or leave port out for a free one`)
          : error.code === 'EACCES'
            ? new Error(`port ${port} needs privileges this process lacks: give a port above 1023, or leave port out`)
            : error,
      );
    });
    server.listen(port, '127.0.0.1', done);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}/`,
    server,
    run,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => {
          run.dispose();
          done();
        });
      }),
  };
}
