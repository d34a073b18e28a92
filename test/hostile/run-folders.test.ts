// Damaged, copied and moved run folders under `assign`, `status`, `report` and the explorer: sizes
// in summaries are checked against the files before anything is allocated from them, paths a
// stage recorded inside its folder are found in the folder as it is now (a copy reads its own
// files), special files are refused unread, and every case ends in one message naming the file.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { startExplorer, stagesOf } from '../../src/explore/index.js';
import { writeReport } from '../../src/explore/report.js';
import { assignTask } from '../../src/tasks/assign.js';
import { relocate } from '../../src/tasks/run-paths.js';
import { runStatus } from '../../src/tasks/status.js';
import { tensor } from '../../src/torch/index.js';
import { writeNpy } from '../../src/torch/io/index.js';
import { fifo, linkToDevZero, tempDir } from './files.js';

const BOUND = { timeout: 60_000 };
const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
const dir = tempDir();

function npy(path: string, values: number[], shape: number[], dtype: 'float32' | 'int64' = 'float32'): void {
  const t = tensor(values, { dtype, shape });
  writeNpy(path, t);
  t.dispose();
}

/** A cluster stage's folder as assign reads it: its record, its config and its centroids (K x dim). */
function clusterFolder(name: string, rows: number, values?: number[]): string {
  const folder = join(dir, name, 'clusters');
  mkdirSync(folder, { recursive: true });
  const centroids = join(folder, 'demo_N4_D3_centroids.npy');
  npy(centroids, values ?? Array.from({ length: rows * 3 }, (_, i) => i / 10), [rows, 3]);
  const result = { dir: folder, numClusters: 4, dim: 3, objective: [1], centroids, splits: [] };
  writeFileSync(join(folder, 'cluster_done.json'), JSON.stringify({ result }));
  writeFileSync(join(folder, 'cluster_config.yaml'), 'config: {}\n');
  return join(dir, name);
}

const assignTo = (run: string) =>
  assignTask({ run, images: join(dir, 'no-images'), outputDir: join(dir, 'assigned'), log: { quiet: true } });

describe('assign on damaged, copied and moved run folders', () => {
  it('centroids that do not match the record are named before any work', BOUND, async () => {
    const cases: [string, number, number[] | undefined, RegExp][] = [
      [
        'fewer',
        3,
        undefined,
        /demo_N4_D3_centroids\.npy has shape \[3, 3\], where cluster_done\.json says 4 clusters of 3 dimensions/,
      ],
      ['none', 0, [], /has shape \[0, 3\], where cluster_done\.json says 4 clusters/],
      ['nan', 4, Array(12).fill(Number.NaN), /demo_N4_D3_centroids\.npy holds NaN or infinite values/],
    ];
    for (const [name, rows, values, pattern] of cases) {
      await assert.rejects(assignTo(clusterFolder(`assign-${name}`, rows, values)), pattern, name);
    }
  });

  it('a garbage or wrong-typed cluster_done.json is named as damaged', BOUND, async () => {
    const run = clusterFolder('assign-garbage', 4);
    const record = join(run, 'clusters', 'cluster_done.json');
    const cases: [string, RegExp][] = [
      ['{"result": {', /cluster_done\.json: not valid JSON/],
      ['42', /cluster_done\.json: no 'result' object/],
      [
        '{"result": {"numClusters": "50", "dim": 3, "centroids": "x.npy"}}',
        /result\.numClusters is "50", not a positive integer/,
      ],
      ['{"result": {"numClusters": 4, "dim": 3, "centroids": 42}}', /result\.centroids is 42, not the path/],
    ];
    for (const [text, pattern] of cases) {
      writeFileSync(record, text);
      await assert.rejects(assignTo(run), pattern, text);
    }
    rmSync(record);
    fifo(join(run, 'clusters'), 'cluster_done.json');
    await assert.rejects(assignTo(run), /cluster_done\.json: is a FIFO/);
  });

  it('a copied folder reads its own centroids, not the original ones', BOUND, async () => {
    const original = clusterFolder('assign-original', 4);
    const copy = join(dir, 'assign-copy');
    cpSync(original, copy, { recursive: true });
    // Only the copy is damaged: an error naming the copy's file shows the copy is the one read.
    npy(join(copy, 'clusters', 'demo_N4_D3_centroids.npy'), [1, 2, 3], [1, 3]);
    await assert.rejects(
      assignTo(copy),
      new RegExp(`${copy}/clusters/demo_N4_D3_centroids\\.npy has shape \\[1, 3\\]`),
    );
    assert.equal(
      relocate('/old/run/clusters/c.npy', '/old/run/clusters', '/new/run/clusters'),
      '/new/run/clusters/c.npy',
    );
    assert.equal(relocate('/data/imagenet/x.jpg', '/old/run/clusters', '/new/run/clusters'), '/data/imagenet/x.jpg');
    assert.equal(
      relocate('/old/run/clusters2/c.npy', '/old/run/clusters', '/new/run/clusters'),
      '/old/run/clusters2/c.npy',
    );
  });
});

describe('status, report and the explorer on damaged run folders', () => {
  /** A clustering of `n` images (`<root>/clusters/demo_N<k>_D3_*`) whose summary claims `numClusters`. */
  async function clustering(root: string, k: number, labels: number[], numClusters = k): Promise<string> {
    const folder = join(root, 'clusters');
    mkdirSync(folder, { recursive: true });
    const prefix = join(folder, `demo_train_flatten_N${k}_D3`);
    writeFileSync(`${prefix}_summary.json`, JSON.stringify({ numClusters, dim: 3, objective: [2, 1] }));
    npy(`${prefix}_labels.npy`, labels, [labels.length], 'int64');
    npy(
      `${prefix}_distances.npy`,
      labels.map(() => 0.5),
      [labels.length],
    );
    const images = labels.map((_, i) => join(root, 'images', `${i}.jpg`));
    mkdirSync(join(root, 'images'), { recursive: true });
    const jpeg = await sharp(Buffer.alloc(8 * 8 * 3, 80), { raw: { width: 8, height: 8, channels: 3 } })
      .jpeg()
      .toBuffer();
    for (const image of images) writeFileSync(image, jpeg);
    writeNpy(`${prefix}_images.npy`, images);
    return prefix;
  }

  it('status refuses a FIFO or /dev/zero metrics.jsonl by name instead of hanging', BOUND, () => {
    const run = join(dir, 'status-fifo');
    mkdirSync(run, { recursive: true });
    writeFileSync(join(run, 'train_config.yaml'), 'config:\n  OPTIMIZER:\n    num_epochs: 2\n');
    fifo(run, 'metrics.jsonl');
    assert.throws(() => runStatus(run), /metrics\.jsonl: is a FIFO \(named pipe\), not a regular metrics file/);
    rmSync(join(run, 'metrics.jsonl'));
    linkToDevZero(run, 'metrics.jsonl');
    assert.throws(() => runStatus(run), /metrics\.jsonl: is a device, not a regular metrics file/);
  });

  it('report: a summary claiming 2e9 clusters, labels out of range, and an empty folder are named', BOUND, async () => {
    const huge = join(dir, 'report-huge');
    await clustering(huge, 3, [0, 1, 2, 0], 2_000_000_000);
    await assert.rejects(
      writeReport(huge, join(dir, 'r1.html')),
      /numClusters is 2000000000, but .*_labels\.npy labels 4 images/,
    );
    const outside = join(dir, 'report-outside');
    await clustering(outside, 3, [0, 1, 9, 0]);
    await assert.rejects(
      writeReport(outside, join(dir, 'r2.html')),
      /_labels\.npy: image 2 has label 9, outside the summary's 3 clusters/,
    );
    const empty = join(dir, 'report-empty');
    mkdirSync(empty);
    await assert.rejects(writeReport(empty, join(dir, 'r3.html')), /report-empty: nothing to report/);
  });

  it(
    'explorer: bad names are 400, dot-dot names are files, FIFO images fail fast, junk is skipped, rewrites are seen',
    BOUND,
    async () => {
      const root = join(dir, 'explore');
      const prefix = await clustering(root, 2, [0, 1, 1, 0]);
      writeFileSync(join(root, '..dotdot_name.txt'), 'hello');
      writeFileSync(join(root, 'metrics.jsonl'), '42\n{"event": "train_epoch", "epoch": 0, "loss": 1}\n[1]\n');
      mkdirSync(join(root, 'eval'));
      writeFileSync(join(root, 'eval', 'evaluation.json'), '{"layers": 7}');
      const explorer = await startExplorer(root);
      const get = (path: string): Promise<{ status: number; body: string }> =>
        new Promise((done, fail) => {
          const { hostname, port } = new URL(explorer.url);
          // The path as written: a URL parser would fold `..` away before the server saw it.
          const req = request({ host: hostname, port, path, timeout: 20_000 }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => done({ status: res.statusCode ?? 0, body }));
          });
          req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
          req.on('error', fail);
          req.end();
        });
      try {
        assert.equal((await get('/thumb/%zz/0.jpg')).status, 400);
        const dotdot = await get('/files/..dotdot_name.txt');
        assert.deepEqual([dotdot.status, dotdot.body], [200, 'hello']);
        assert.equal((await get('/files/../outside.txt')).status, 403);
        const overview = await get('/api/overview');
        assert.equal(overview.status, 200, overview.body);
        const parsed = JSON.parse(overview.body) as { stages: unknown[]; problems: string[] };
        assert.equal(parsed.stages.length, 1, 'the junk lines are skipped, the epoch line kept');
        assert.match(parsed.problems.join('\n'), /eval\/evaluation\.json: not an evaluation record/);
        const id = 'demo_train_flatten_N2_D3';
        // Images that are FIFOs: refused at once, many times over (they used to hold libuv's threads).
        for (let i = 0; i < 4; i++) rmSync(join(root, 'images', `${i}.jpg`));
        for (let i = 0; i < 4; i++) fifo(join(root, 'images'), `${i}.jpg`);
        for (let round = 0; round < 3; round++) {
          const answers = await Promise.all([0, 1, 2, 3].map((i) => get(`/thumb/${id}/${i}.jpg`)));
          for (const answer of answers) assert.match(answer.body, /is a FIFO/);
        }
        assert.equal((await get('/api/overview')).status, 200, 'the server still answers');
        // images.npy rewritten: the new list is read, not the old open file.
        writeNpy(`${prefix}_images.npy`, ['/a.jpg', '/b.jpg', '/c.jpg', '/d.jpg']);
        const after = await get(`/thumb/${id}/0.jpg`);
        assert.match(after.body, /\/a\.jpg/);
      } finally {
        await explorer.close();
      }
    },
  );

  it(
    'explorer: a junk metrics line is one warning naming the file and line; a half-written last line is none',
    BOUND,
    () => {
      const root = join(dir, 'explore-junk');
      mkdirSync(root, { recursive: true });
      const file = join(root, 'metrics.jsonl');
      const epoch = '{"event": "train_epoch", "epoch": 0, "loss": 1}';
      writeFileSync(file, `${epoch}\nnot json at all\n[1]\n${epoch.replace('0', '1')}\n{"event": "tr`);
      const warnings: string[] = [];
      const stages = stagesOf(file, root, (m) => warnings.push(m));
      assert.equal(stages.length, 1);
      assert.deepEqual(warnings, [
        `${file}: line 2 is not a metrics record (a JSON object) (and 1 more line(s)); skipped`,
      ]);
      writeFileSync(file, `${epoch}\n{"event": "tr`);
      warnings.length = 0;
      stagesOf(file, root, (m) => warnings.push(m));
      assert.deepEqual(warnings, [], 'a line being written is not junk');
    },
  );

  it('explorer: Ctrl-C stops the server while thumbnail requests for FIFO images are in flight', BOUND, async () => {
    const root = join(dir, 'explore-sigint');
    const prefix = await clustering(root, 2, [0, 1, 1, 0]);
    for (let i = 0; i < 4; i++) rmSync(join(root, 'images', `${i}.jpg`));
    for (let i = 0; i < 4; i++) fifo(join(root, 'images'), `${i}.jpg`);
    writeFileSync(join(root, 'metrics.jsonl'), '{"event": "train_epoch", "epoch": 0, "loss": 1}\njunk\n');
    const child = spawn(process.execPath, [CLI, 'explore', root], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
      child.on('close', (code, signal) => done({ code, signal })),
    );
    const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    try {
      const url = await new Promise<string>((done, fail) => {
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          const found = / on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr);
          if (found) done(found[1] as string);
        });
        child.on('close', () => fail(new Error(`explore ended before serving: ${stderr}`)));
      });
      const id = `${prefix.split('/').at(-1)}`;
      // Requests left in flight: sent, never awaited before the signal.
      const pending = [0, 1, 2, 3, 0, 1, 2, 3].map((i) =>
        fetch(`${url}thumb/${id}/${i}.jpg`).then(
          (r) => r.text(),
          (e: Error) => e.message,
        ),
      );
      const overview = await fetch(`${url}api/overview`);
      assert.equal(overview.status, 200);
      child.kill('SIGINT');
      const end = await closed;
      assert.deepEqual(end, { code: 0, signal: null }, stderr);
      await Promise.all(pending);
      assert.equal(
        stderr.match(/warning: .*metrics\.jsonl: line 2 is not a metrics record/g)?.length,
        1,
        `one warning for the junk line: ${stderr}`,
      );
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
    }
  });
});
