// `clusterfit report`: the explorer's views as one self-contained HTML file (no server, no network):
// the page, uPlot and the run's data inlined, thumbnails as data URIs. A report holds a bounded part
// of a large clustering, the `maxClusters` largest clusters with `perTile` images each and the
// neighbours of every image shown, so the file stays a size that opens in a browser.
import { accessSync, constants, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PAGE_HTML, readAsset } from './assets.js';
import type { NeighbourAnswer } from './clustering.js';
import { RunFolder } from './run.js';
import { Thumbnails } from './thumbnails.js';

export interface ReportOptions {
  /** Clusters per clustering in the report (the largest). */
  maxClusters?: number;
  perTile?: number;
  /** Neighbours kept per image shown. */
  neighbours?: number;
}

/** JSON that can sit inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function unwritable(outFile: string, error: unknown): Error {
  const { code, message } = error as NodeJS.ErrnoException;
  return new Error(
    code === 'ENOENT'
      ? `out=${outFile}: the folder ${dirname(resolve(outFile))} does not exist; create it, or give another path`
      : `out=${outFile}: the report cannot be written there (${message}); give another path`,
  );
}

export async function writeReport(
  runFolder: string,
  outFile: string,
  options: ReportOptions = {},
): Promise<{ file: string; bytes: number; missing: string[] }> {
  const { maxClusters = 200, perTile = 8, neighbours = 12 } = options;
  // Before the work: a report that cannot be written is said at once, not after the thumbnails.
  try {
    accessSync(dirname(resolve(outFile)), constants.W_OK);
    if (existsSync(outFile) && statSync(outFile).isDirectory()) {
      throw Object.assign(new Error(`${outFile} is a folder`), { code: 'EISDIR' });
    }
  } catch (error) {
    throw unwritable(outFile, error);
  }
  const run = new RunFolder(runFolder);
  const thumbnails = new Thumbnails(run.root);
  try {
    const overview = run.overview();
    if (overview.stages.length + overview.clusterings.length + overview.evaluations.length === 0) {
      const why = overview.problems.length > 0 ? `: ${overview.problems.join('; ')}` : '';
      throw new Error(
        `${run.root}: nothing to report (no metrics.jsonl, no readable clustering *_summary.json, no evaluation)${why}; ` +
          'give the output folder of a pipeline or of one stage',
      );
    }
    const clusterings: Record<string, unknown> = {};
    const thumbs: Record<string, Record<number, string>> = {};
    const missing: string[] = [];
    for (const info of overview.clusterings) {
      const clustering = run.clustering(info.id);
      const { tiles } = clustering.page({ sort: 'size', limit: maxClusters, perTile });
      const shown = [...new Set(tiles.flatMap((t) => t.images))];
      const found: Record<number, NeighbourAnswer> = {};
      if (info.neighboursUnavailable === null) {
        for (const answer of clustering.neighboursOfMany(shown, neighbours)) found[answer.index] = answer;
      }
      const pictured = new Set([...shown, ...Object.values(found).flatMap((f) => f.neighbours.map((n) => n.index))]);
      thumbs[info.id] = {};
      for (const image of pictured) {
        try {
          const jpeg = await thumbnails.get(clustering, image);
          (thumbs[info.id] as Record<number, string>)[image] = `data:image/jpeg;base64,${jpeg.toString('base64')}`;
        } catch (error) {
          // A missing or unreadable image leaves an empty square, not a report that is not written.
          missing.push((error as Error).message);
        }
      }
      clusterings[info.id] = {
        tiles,
        heatmap: clustering.heatmap(tiles.map((t) => t.cluster)),
        neighbours: found,
      };
    }
    const data = { overview, clusterings, thumbs };
    // Every stylesheet and script the page links, inlined in place (a function replacement, so `$`
    // in the inlined code is never read as a pattern); the run's data before the first script.
    const html = readFileSync(PAGE_HTML, 'utf8')
      .replace(
        /<link rel="stylesheet" href="\/assets\/([^"]+)" \/>/g,
        (_, name: string) => `<style>\n${readAsset(name)}\n</style>`,
      )
      .replace('<script src=', () => `<script>window.CLUSTERFIT_REPORT = ${scriptJson(data)};</script>\n<script src=`)
      .replace(
        /<script src="\/assets\/([^"]+)"><\/script>/g,
        (_, name: string) => `<script>\n${readAsset(name)}\n</script>`,
      );
    const file = resolve(outFile);
    try {
      writeFileSync(file, html);
    } catch (error) {
      throw unwritable(outFile, error);
    }
    return { file, bytes: Buffer.byteLength(html), missing };
  } finally {
    run.dispose();
  }
}
