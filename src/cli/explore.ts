// `clusterfit explore` and `clusterfit report`: the cluster explorer's two faces, as command rows.
import type { Command } from './registry.js';

export const EXPLORE_COMMANDS: Command[] = [
  {
    name: 'explore',
    summary: 'A local web page over a run folder: curves (live), clusters with their images, neighbours, scores.',
    usage: '<run folder> [port=<n>]',
    description:
      'Serves on 127.0.0.1 only, everything from the package (no network). Works on a pipeline folder\n' +
      'or any single stage folder. Thumbnails are made once and cached in <run folder>/.explore/.',
    options: [{ name: 'port', value: '<n>', description: 'the port (default: a free one, printed)' }],
    positional: ['run folder'],
    example: ['clusterfit explore runs/demo', 'clusterfit explore runs/demo port=8080'],
    needs: ['native'],
    async handler(args) {
      const { startExplorer } = await import('../explore/index.js');
      const port = Number(args.options.get('port') ?? 0);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new Error(`port=${args.options.get('port')}: give a port number 0-65535`);
      const explorer = await startExplorer(args.positional[0] as string, { port });
      process.stderr.write(`explorer of ${explorer.run.root} on ${explorer.url} (Ctrl-C to stop)\n`);
      await new Promise<void>((done) => process.once('SIGINT', done));
      await explorer.close();
    },
  },
  {
    name: 'report',
    summary: "The explorer's views as one self-contained HTML file (no server), for sharing and CI artifacts.",
    usage: '<run folder> out=<file.html>',
    options: [{ name: 'out', value: '<file.html>', description: 'the report file (default report.html)' }],
    positional: ['run folder'],
    example: ['clusterfit report runs/demo out=report.html', 'clusterfit report runs/demo --out=report.html'],
    needs: ['native'],
    async handler(args) {
      const { writeReport } = await import('../explore/index.js');
      const report = await writeReport(args.positional[0] as string, args.options.get('out') ?? 'report.html');
      const { file, bytes, missing } = report;
      if (missing.length > 0)
        process.stderr.write(`warning: ${missing.length} image(s) left out, e.g. ${missing[0]}\n`);
      console.log(`wrote ${file} (${(bytes / 1e6).toFixed(1)} MB)`);
    },
  },
];
