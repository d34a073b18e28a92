// The explorer on a small finished run (the demo pipeline shrunk to seconds), in a real browser:
// Debian's Chromium driven by playwright-core. The page and the static report must show every
// chart, one tile per cluster with its images, and answer a nearest-neighbour click, with no console
// error. The server must bind to loopback only and refuse every path out of the run folder.
// Screenshots go to a temporary folder, printed for a person to look at.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { loadConfig, type Config } from '../../src/config/index.js';
import { releaseRunFolders } from '../../src/engine/run-lock.js';
import { RunLogger } from '../../src/engine/run-logger.js';
import { startExplorer, type ExplorerServer } from '../../src/explore/index.js';
import { nearTieTolerance } from '../../src/explore/near-ties.js';
import { runPipeline, trainTask } from '../../src/tasks/index.js';
import { PYTHON } from '../support/oracle.js';
import { makeImageFolders, tinyRun } from '../tasks/support.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
const CHROMIUM = process.env.CLUSTERFIT_CHROMIUM ?? '/usr/bin/chromium';
const CLUSTERS = 4;
const TIMEOUT = 30_000;

/** A GET with the path sent as written (a URL parser would fold `..` away before the server sees it). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((done, fail) => {
    const req = request({ host: hostname, port, path, method: 'GET', timeout: TIMEOUT }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', fail);
    req.end();
  });
}

/** A page expression: every image `selector` matches has loaded. */
function allLoaded(selector: string): string {
  return `[...document.querySelectorAll(${JSON.stringify(selector)})].every((i) => i.complete && i.naturalWidth > 0)`;
}

/** The text of a select's chosen option. */
function selectedText(page: Page, selector: string): Promise<string | undefined> {
  return page.$eval(
    selector,
    (s) => (s as unknown as { selectedOptions: { textContent: string }[] }).selectedOptions[0]?.textContent,
  );
}

/** Types a value into an input and commits it, as Enter or leaving the field does. */
function setInput(page: Page, selector: string, value: string): Promise<void> {
  return page.$eval(
    selector,
    (input, v) => {
      (input as unknown as { value: string }).value = v;
      input.dispatchEvent(new Event('change'));
    },
    value,
  );
}

/**
 * A page expression: the newest view has loaded (an older grid may pass the order by chance) and
 * the tiles are ordered by `field` (`sign` 1 ascending, -1 descending), those of at least `min`
 * images first, then the smaller ones, each part in that order.
 */
function rankedBy(field: 'purity' | 'spread', sign: 1 | -1, min: number): string {
  return `(() => {
    const tiles = [...document.querySelectorAll('.tile')].map((t) => ({ v: Number(t.dataset.${field}), n: Number(t.dataset.size) }));
    const big = tiles.filter((t) => t.n >= ${min});
    const ordered = (ts) => ts.every((t, i) => i === 0 || ${sign} * (t.v - ts[i - 1].v) >= 0);
    return !document.querySelector('.clustering[data-loading]') && tiles.length === ${CLUSTERS} &&
      tiles.slice(0, big.length).every((t) => t.n >= ${min}) &&
      ordered(big) && ordered(tiles.slice(big.length));
  })()`;
}

/** Opens `url` and checks what both the served page and the report must show; returns console errors. */
async function checkPage(context: BrowserContext, url: string, shots: string, name: string): Promise<string[]> {
  const page: Page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  try {
    await page.goto(url, { timeout: TIMEOUT });
    await page.waitForSelector('body[data-ready="true"]', { timeout: TIMEOUT });

    // Every chart drew a canvas: 5 for the training stages (overlaid), 2 per clustering.
    const charts = await page.$$eval('.chart', (nodes) =>
      nodes.map((n) => {
        const canvas = n.querySelector('canvas');
        return { id: n.getAttribute('data-chart'), width: canvas?.width ?? 0, height: canvas?.height ?? 0 };
      }),
    );
    assert.equal(charts.length, 5 + 2, JSON.stringify(charts.map((c) => c.id)));
    for (const c of charts) assert.ok(c.width > 0 && c.height > 0, `chart ${c.id} drew nothing`);
    // RotNet and ClusterFit on the same charts: a series each (test dashed beside train), in the
    // legend, each stage its own colour, named beside its state.
    for (const id of ['train-epoch-loss', 'train-epoch-top1', 'train-step-loss', 'train-lr', 'train-speed']) {
      const counts = (await page.getAttribute(`.chart[data-chart="${id}"]`, 'data-counts')) ?? '';
      assert.match(counts, /\brotnet=[1-9]\d*\b/, `${id}: ${counts}`);
      assert.match(counts, /\bclusterfit=[1-9]\d*\b/, `${id}: ${counts}`);
    }
    const legend = await page.$$eval('.chart[data-chart="train-epoch-loss"] .u-legend .u-label', (labels) =>
      labels.map((l) => l.textContent ?? ''),
    );
    for (const want of ['rotnet train', 'rotnet test', 'clusterfit train'])
      assert.ok(legend.includes(want), JSON.stringify(legend));
    const swatches = await page.$$eval('.stage .swatch', (s) =>
      s.map((x) => (x as unknown as { style: { background: string } }).style.background),
    );
    assert.equal(swatches.length, 2);
    assert.notEqual(swatches[0], swatches[1]);
    // Whole epochs on the epoch axes, and one label per tick everywhere.
    // (uPlot draws its axes on the canvas: the labels it drew are on its axes, charts.js keeps the plots.)
    const ticks = (await page.evaluate(`[...charts].map(([id, c]) => ({
      id, axes: c.plot.axes.map((a) => (a._values ?? []).map(String)),
    }))`)) as { id: string; axes: string[][] }[];
    assert.equal(ticks.length, charts.length);
    for (const { id, axes } of ticks) {
      for (const labels of axes) assert.equal(new Set(labels).size, labels.length, `${id}: ticks ${labels}`);
      if (id.startsWith('train-')) for (const t of axes[0] ?? []) assert.match(t, /^[\d,]+$/, `${id}: x tick ${t}`);
    }
    // TensorBoard's smoothing (debiased EMA), against its values worked by hand.
    const smoothed = (await page.evaluate('smooth([1, 2, 3, 4, null, 5], 0.5)')) as (number | null)[];
    [1, 5 / 3, 17 / 7, 49 / 15, null, 129 / 31].forEach((want, i) =>
      want === null ? assert.equal(smoothed[i], null) : assert.ok(Math.abs(smoothed[i]! - want) < 1e-12, `${i}`),
    );
    await page.$eval('#training .smoothing', (input) => {
      (input as unknown as { value: string }).value = '0.6';
      input.dispatchEvent(new Event('input'));
      input.dispatchEvent(new Event('change'));
    });
    assert.match(new URL(page.url()).hash, /smooth=0\.6/);
    assert.match((await page.textContent('.chart[data-chart="train-step-loss"] .u-title')) ?? '', /smoothed 0\.60/);
    // uPlot drew the series: the epoch-loss canvas is not blank.
    const inked = (await page.evaluate(`(() => {
      const canvas = document.querySelector('.chart[data-chart$="-epoch-loss"] canvas');
      const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let inked = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
      return inked;
    })()`)) as number;
    assert.ok(inked > 100, `the loss chart has ${inked} drawn pixels`);

    // The grid: one tile per cluster, each with its images (thumbnails loaded).
    assert.equal(await page.locator('.tile').count(), CLUSTERS);
    assert.match((await page.textContent('.page-info')) ?? '', new RegExp(`of ${CLUSTERS}$`));
    await page.waitForFunction(allLoaded('.tile img'), undefined, { timeout: TIMEOUT });
    const sizes = await page.$$eval('.tile', (tiles) =>
      tiles.map((t) => ({ images: t.querySelectorAll('img').length, size: Number(t.getAttribute('data-size')) })),
    );
    for (const tile of sizes) {
      assert.ok(tile.size > 0);
      assert.equal(tile.images, Math.min(tile.size, 8));
    }
    assert.equal(await page.locator('.heatmap').count(), 1);
    assert.match(
      (await page.textContent('.clustering .stats')) ?? '',
      /purity \d\.\d{3}, NMI \d\.\d{3}, ARI -?\d\.\d{3}/,
    );
    // One row per layer with the three models side by side, in the method's order (as the CLI table).
    assert.equal(await page.locator('#evaluation tr').count(), 2 + 3);
    assert.deepEqual(await page.$$eval('#evaluation th.model', (ths) => ths.map((th) => th.textContent)), [
      'random init',
      'RotNet',
      'ClusterFit',
    ]);

    // Sorted by purity, clusters under the minimum size go last (a 4-image cluster is pure by
    // chance): the menu names the purity order, the page line says how many went last.
    const tileSizes = await page.$$eval('.tile', (tiles) => tiles.map((t) => Number(t.getAttribute('data-size'))));
    const min = Math.max(...tileSizes);
    const under = tileSizes.filter((n) => n < min).length;
    await page.selectOption('.clustering select.sort', 'purity');
    assert.equal(await selectedText(page, '.clustering select.order'), 'purest first');
    assert.equal(await page.isVisible('.clustering label.min'), true);
    await setInput(page, '.clustering input.min-size', String(min));
    await page.waitForFunction(rankedBy('purity', -1, min), undefined, { timeout: TIMEOUT });
    if (under > 0)
      assert.match((await page.textContent('.page-info')) ?? '', new RegExp(`\\(${under} under ${min} images last\\)`));
    // By spread, tightest first: the clusters a degenerate feature collapses, and the menu says so.
    await page.selectOption('.clustering select.sort', 'spread');
    await page.selectOption('.clustering select.order', 'asc');
    assert.equal(await selectedText(page, '.clustering select.order'), 'tightest first (degenerate clusters)');
    await page.waitForFunction(rankedBy('spread', 1, min), undefined, { timeout: TIMEOUT });

    // The view is in the URL: a link opens the same sort, minimum size and selected cluster, and
    // back/forward step through the changes.
    await page.selectOption('.clustering select.sort', 'purity');
    await page.selectOption('.clustering select.order', 'desc');
    await page.waitForFunction(rankedBy('purity', -1, min), undefined, { timeout: TIMEOUT });
    const picked = await page.getAttribute('.tile >> nth=1', 'data-cluster');
    await page.click('.tile >> nth=1 >> .tile-head');
    await page.waitForSelector(`.tile.selected[data-cluster="${picked}"]`, { timeout: TIMEOUT });
    const link = page.url();
    const id = (await page.getAttribute('.clustering', 'data-clustering')) ?? '';
    const hash = new URLSearchParams(new URL(link).hash.slice(1));
    assert.equal(hash.get(`${id}:sort`), 'purity');
    assert.equal(hash.get(`${id}:min`), String(min));
    assert.equal(hash.get(`${id}:cluster`), picked);
    assert.equal(hash.get('view'), id);
    const order = await page.$$eval('.tile', (tiles) => tiles.map((t) => t.getAttribute('data-cluster')));
    const reopened = await page.context().newPage();
    try {
      await reopened.goto(link, { timeout: TIMEOUT });
      await reopened.waitForSelector('body[data-ready="true"]', { timeout: TIMEOUT });
      assert.equal(
        await reopened.$eval('.clustering select.sort', (s) => (s as unknown as { value: string }).value),
        'purity',
      );
      assert.equal(
        await reopened.$eval('.clustering input.min-size', (i) => (i as unknown as { value: string }).value),
        String(min),
      );
      assert.deepEqual(
        await reopened.$$eval('.tile', (tiles) => tiles.map((t) => t.getAttribute('data-cluster'))),
        order,
      );
      assert.equal(await reopened.getAttribute('.tile.selected', 'data-cluster'), picked);
      assert.match(
        (await reopened.textContent('.chart[data-chart="train-step-loss"] .u-title')) ?? '',
        /smoothed 0\.60/,
      );
    } finally {
      await reopened.close();
    }
    await page.goBack({ timeout: TIMEOUT });
    await page.waitForFunction(`document.querySelectorAll('.tile.selected').length === 0`, undefined, {
      timeout: TIMEOUT,
    });
    await page.goBack({ timeout: TIMEOUT });
    await page.waitForFunction(`document.querySelector('.clustering select.order').value === 'asc'`, undefined, {
      timeout: TIMEOUT,
    });
    await page.goForward({ timeout: TIMEOUT });
    await page.goForward({ timeout: TIMEOUT });
    await page.waitForSelector(`.tile.selected[data-cluster="${picked}"]`, { timeout: TIMEOUT });

    // The heat map: a row per cluster on the page, a column per class present, cells large enough to read.
    const heat = await page.$eval('.heatmap', (c) => ({
      rows: Number(c.getAttribute('data-rows')),
      columns: Number(c.getAttribute('data-columns')),
      height: (c as unknown as { getBoundingClientRect(): { height: number } }).getBoundingClientRect().height,
    }));
    assert.equal(heat.rows, CLUSTERS);
    assert.ok(heat.columns >= 1 && heat.height >= CLUSTERS * 24, JSON.stringify(heat));
    await page.screenshot({ path: join(shots, `${name}-page.png`), fullPage: true });

    // A click on an image: its neighbours in feature space, with their clusters.
    await page.click('.tile img >> nth=0');
    await page.waitForSelector('#neighbours .nb', { timeout: TIMEOUT });
    assert.equal(await page.locator('#neighbours .nb').count(), 12);
    assert.match((await page.textContent('#neighbours .query')) ?? '', /cluster #\d+ · class class\d/);
    // Each neighbour: its cluster, its class and the cosine similarity, with the digits that tell them apart.
    for (const text of await page.$$eval('#neighbours .nb', (nbs) => nbs.map((nb) => nb.textContent ?? '')))
      assert.match(text, /^#\d+ · class\d · -?[01]\.\d{5}$/);
    assert.match((await page.textContent('#neighbours')) ?? '', /cosine similarity/);
    await page.waitForFunction(allLoaded('#neighbours img'), undefined, { timeout: TIMEOUT });
    await page.screenshot({ path: join(shots, `${name}-neighbours.png`) });
    await page.keyboard.press('Escape');
    assert.equal(await page.isHidden('#neighbours'), true, 'Escape closes the panel');
    return errors;
  } finally {
    await page.close();
  }
}

describe('cluster explorer', () => {
  let out = '';
  let explorer: ExplorerServer;
  let context: BrowserContext;
  const shots = mkdtempSync(join(tmpdir(), 'clusterfit-explorer-shots-'));
  const profile = mkdtempSync(join(tmpdir(), 'clusterfit-chromium-'));

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `no Chromium at ${CHROMIUM}: apt-get install chromium (scripts/setup.sh does), or set CLUSTERFIT_CHROMIUM`,
      );
    }
    const root = await makeImageFolders(8, 3);
    out = join(root, 'run');
    const shrink = ['config.OPTIMIZER.num_epochs=1', 'config.DATA.NUM_DATALOADER_WORKERS=1'];
    await runPipeline({
      preset: 'demo',
      outputDir: out,
      dataRoot: root,
      overrides: [
        'config.DATA.TRAIN.BATCHSIZE_PER_REPLICA=6',
        'config.DATA.TEST.BATCHSIZE_PER_REPLICA=6',
        'config.LOG_FREQUENCY=1',
      ],
      stageOverrides: {
        pretrain: shrink,
        cluster: [...shrink, `config.CLUSTERFIT.NUM_CLUSTERS=${CLUSTERS}`, 'config.CLUSTERFIT.NUM_ITER=5'],
        train: shrink,
        evaluate: ['config.OPTIMIZER.num_epochs=1', 'config.NEAREST_NEIGHBOR.TOPK=5'],
      },
      logger: new RunLogger({ quiet: true, jsonToStdout: false, metricsFile: join(out, 'metrics.jsonl') }),
    });
    explorer = await startExplorer(out);
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: TIMEOUT,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    process.stderr.write(`explorer screenshots: ${shots}\n`);
  });

  after(async () => {
    await context?.close();
    await explorer?.close();
    rmSync(profile, { recursive: true, force: true });
  });

  it('binds to loopback only and refuses paths out of the run folder', async () => {
    assert.equal((explorer.server.address() as AddressInfo).address, '127.0.0.1');
    assert.equal((await rawGet(explorer.url, '/files/metrics.jsonl')).status, 200);
    symlinkSync('/etc', join(out, 'escape'));
    for (const path of [
      '/files/../../../../etc/passwd',
      '/files/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/files/..%2f..%2f..%2f..%2fetc%2fpasswd',
      '/files/%2E%2E%2F%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
      '/files/clusters/..%2F..%2F..%2F..%2F..%2Fetc/passwd',
      '/files/escape/passwd',
    ]) {
      const { status, body } = await rawGet(explorer.url, path);
      assert.equal(status, 403, `${path}: ${status} ${body}`);
      assert.doesNotMatch(body, /root:/);
    }
    for (const path of [
      '/files/%2fetc%2fpasswd',
      '/assets/../package.json',
      '/assets/%2e%2e%2fpackage.json',
      '/thumb/x/..%2f1.jpg',
    ]) {
      const { status, body } = await rawGet(explorer.url, path);
      assert.ok(status === 404 || status === 400, `${path}: ${status}`);
      assert.doesNotMatch(body, /root:|"name": "clusterfit"/);
    }
    assert.equal((await rawGet(explorer.url, '/files/%E0%A4%A')).status, 400);
  });

  it('`clusterfit explore` serves the run on a printed loopback URL until Ctrl-C', async () => {
    const child = spawn(process.execPath, [CLI, 'explore', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    try {
      const url = await new Promise<string>((done, fail) => {
        let stderr = '';
        const timer = setTimeout(() => fail(new Error(`no URL printed in time: ${stderr}`)), TIMEOUT);
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          const found = /on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr);
          if (found) {
            clearTimeout(timer);
            done(found[1] as string);
          }
        });
      });
      const overview = JSON.parse((await rawGet(url, '/api/overview')).body) as {
        clusterings: { numClusters: number }[];
      };
      assert.equal(overview.clusterings[0]?.numClusters, CLUSTERS);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0);
  });

  it('finds the same neighbours as a brute-force search in numpy, near ties by index', () => {
    const clustering = explorer.run.clusterings()[0]!;
    const queries = [0, 5, 17];
    const ours = clustering.neighboursOfMany(queries, 6);
    assert.deepEqual(ours[1], clustering.neighbours(5, 6));
    const features = join(out, 'rotnet_features', 'rank0_chunk0_train_flatten_features.npy');
    const tolerance = nearTieTolerance(clustering.info.dim);
    // Exact (float64) distances 2 - 2 a.b of the explorer's normalised rows, ranked, then runs of
    // near ties put in index order as the explorer does (near-ties.ts).
    const expected = JSON.parse(
      execFileSync(PYTHON, [
        '-c',
        `import numpy as np, json, sys
x = np.load(sys.argv[1]).astype(np.float64); x = x.reshape(len(x), -1); x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-5
tolerance = float(sys.argv[3])
out = []
for q in json.loads(sys.argv[2]):
    d = np.maximum(0, 2 - 2 * (x @ x[q])); d[q] = np.inf
    order = [int(i) for i in np.argsort(d, kind="stable")]
    runs = [[order[0]]]
    for a, b in zip(order, order[1:]):
        if d[b] - d[a] <= tolerance: runs[-1].append(b)
        else: runs.append([b])
    ranked = [i for run in runs for i in sorted(run)][:6]
    out.append({"index": ranked, "distance": [float(d[i]) for i in ranked]})
print(json.dumps(out))`,
        features,
        JSON.stringify(queries),
        String(tolerance),
      ]).toString(),
    ) as { index: number[]; distance: number[] }[];
    ours.forEach((answer, q) => {
      const what = `neighbours of image ${queries[q]}`;
      assert.deepEqual(
        answer.neighbours.map((n) => n.index),
        expected[q]!.index,
        what,
      );
      answer.neighbours.forEach((n, i) => {
        // One distance is off by at most half the tolerance (near-ties.ts), and they ascend but for near ties.
        assert.ok(Math.abs(n.distance - expected[q]!.distance[i]!) <= tolerance / 2, `${what}: distance ${i}`);
        if (i > 0) assert.ok(n.distance >= answer.neighbours[i - 1]!.distance - tolerance, `${what}: order at ${i}`);
      });
    });
  });

  it('shows curves, every cluster with its images, and neighbours in a real browser', async () => {
    const errors = await checkPage(context, explorer.url, shots, 'explorer');
    assert.deepEqual(errors, []);
    assert.ok(existsSync(join(out, '.explore', 'thumbs')), 'thumbnails are cached in the run folder');
  });

  it('views that overlap (back/forward while a page of clusters loads) show the newest, never a stale grid redrawn later', async () => {
    const page: Page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    try {
      await page.goto(explorer.url, { timeout: TIMEOUT });
      await page.waitForSelector('body[data-ready="true"]', { timeout: TIMEOUT });
      const id = (await page.getAttribute('.clustering', 'data-clustering')) ?? '';
      const cluster = (await page.getAttribute('.tile >> nth=2', 'data-cluster')) ?? '';
      // Every page of clusters from now on is answered late, so the second view arrives while the
      // first one's page is still on its way (as two quick back/forward steps on a slow server).
      const LATE_MS = 400;
      await page.route(/\/api\/clusters\?/, async (route) => {
        await new Promise((wake) => setTimeout(wake, LATE_MS));
        await route.continue();
      });
      const base = `view=${encodeURIComponent(id)}&${encodeURIComponent(`${id}:sort`)}=purity`;
      const go = (hash: string) => page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
      await go(base);
      await page.waitForTimeout(LATE_MS / 4);
      await go(`${base}&${encodeURIComponent(`${id}:cluster`)}=${cluster}`);
      // When the selection shows, the view is complete: sorted by purity, and nothing on it is
      // replaced afterwards (the older load, answered later, must not redraw the grid or heat map).
      await page.waitForSelector(`.tile.selected[data-cluster="${cluster}"]`, { timeout: TIMEOUT });
      await page.evaluate(`window.shown = [document.querySelector('.heatmap'), ...document.querySelectorAll('.tile')]`);
      const min = Number(
        await page.$eval('.clustering input.min-size', (i) => (i as unknown as { value: string }).value),
      );
      assert.equal(await page.evaluate(rankedBy('purity', -1, min)), true, 'the grid is the newest view');
      await page.waitForTimeout(3 * LATE_MS);
      const still = await page.evaluate(`window.shown.map((node) => node.isConnected)`);
      assert.deepEqual(still, new Array(CLUSTERS + 1).fill(true), 'the shown heat map and tiles stay on the page');
      assert.equal(await page.getAttribute('.tile.selected', 'data-cluster'), cluster);
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });

  it('two neighbour searches in a row show the second image, whichever answer comes back first', async () => {
    const page: Page = await context.newPage();
    try {
      await page.goto(explorer.url, { timeout: TIMEOUT });
      await page.waitForSelector('body[data-ready="true"]', { timeout: TIMEOUT });
      await page.waitForFunction(allLoaded('.tile img'), undefined, { timeout: TIMEOUT });
      const [first, second] = await page.$$eval('.tile img', (imgs) =>
        imgs.slice(0, 2).map((img) => img.getAttribute('data-image') ?? ''),
      );
      // The first search is answered last.
      await page.route(/\/api\/neighbours\?/, async (route) => {
        const image = new URL(route.request().url()).searchParams.get('image');
        await new Promise((wake) => setTimeout(wake, image === first ? 800 : 50));
        await route.continue();
      });
      await page.click(`.tile img[data-image="${first}"]`);
      await page.click(`.tile img[data-image="${second}"]`);
      await page.waitForSelector('#neighbours .nb', { timeout: TIMEOUT });
      await page.waitForTimeout(1200);
      assert.match((await page.textContent('#neighbours .query')) ?? '', new RegExp(`^image ${second}cluster`));
    } finally {
      await page.close();
    }
  });

  it('writes a static report that opens the same way with no server', async () => {
    // Through the command line, as a user (or CI) makes one.
    const file = join(shots, 'report.html');
    const printed = execFileSync(process.execPath, [CLI, 'report', out, `--out=${file}`], {
      timeout: 120_000,
    }).toString();
    assert.match(printed, /^wrote .*report\.html \(\d+\.\d MB\)/);
    const errors = await checkPage(context, `file://${file}`, shots, 'report');
    assert.deepEqual(errors, []);
  });

  it('shows a training stopped mid-run as stopped at epoch e of n, never finished, in the explorer and the report', async () => {
    // RotNet's place finished (1 epoch), ClusterFit's stopped one step into its second of 2, as
    // Ctrl-C stops it: one metrics file in the run folder, as a pipeline writes.
    const run = join(dirname(out), 'stopped');
    const metricsFile = join(run, 'metrics.jsonl');
    const stage = (name: string, epochs: number): Config =>
      loadConfig({
        config: 'demo/rotnet',
        overrides: [
          `config.DATA.TRAIN.DATA_PATHS=[${JSON.stringify(join(dirname(out), 'train'))}]`,
          `config.DATA.TEST.DATA_PATHS=[${JSON.stringify(join(dirname(out), 'test'))}]`,
          ...tinyRun(join(run, name), epochs),
          'config.TEST_MODEL=False',
        ],
      });
    mkdirSync(run, { recursive: true });
    const done = await trainTask(stage('rotnet', 1), {
      logger: new RunLogger({ quiet: true, jsonToStdout: false, metricsFile }),
    });
    releaseRunFolders();
    assert.equal(done.completed, true);
    let stopNow = false;
    const stopped = await trainTask(stage('clusterfit', 2), {
      logger: new RunLogger({
        quiet: true,
        jsonToStdout: false,
        metricsFile,
        onProgress: (event) => {
          if (event.label.startsWith('train epoch 2/')) stopNow = true;
        },
      }),
      stop: {
        get requested() {
          return stopNow;
        },
      },
    });
    releaseRunFolders();
    assert.equal(stopped.completed, false);

    const check = async (url: string, name: string): Promise<void> => {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      try {
        await page.goto(url, { timeout: TIMEOUT });
        await page.waitForSelector('body[data-ready="true"]', { timeout: TIMEOUT });
        const state = async (stageName: string): Promise<{ state: string; text: string }> =>
          page.$eval(`.stage[data-stage="${stageName}"] .stage-state`, (s) => ({
            state: (s as unknown as { dataset: Record<string, string | undefined> }).dataset.state ?? '',
            text: s.textContent ?? '',
          }));
        const second = await state('clusterfit');
        assert.equal(second.state, 'stopped', `${name}: ${JSON.stringify(second)}`);
        assert.match(second.text, /^stopped at epoch 1 of 2; the same command resumes it/, name);
        assert.doesNotMatch(second.text, /finished/, name);
        assert.match((await state('rotnet')).text, /^finished \(1 of 1 epochs\)/, name);
        assert.equal((await page.textContent('#live')) ?? '', '', `${name}: a stopped run is not live`);
        // Both stages on the same charts; the stopped one's curve ends where it stopped.
        const counts = (await page.getAttribute('.chart[data-chart="train-epoch-loss"]', 'data-counts')) ?? '';
        assert.match(counts, /rotnet=1/, `${name}: ${counts}`);
        assert.match(counts, /clusterfit=1/, `${name}: ${counts}`);
        await page.locator('#training').screenshot({ path: join(shots, `${name}-stopped.png`) });
        assert.deepEqual(errors, []);
      } finally {
        await page.close();
      }
    };
    const server = await startExplorer(run);
    try {
      await check(server.url, 'explorer');
    } finally {
      await server.close();
    }
    const file = join(shots, 'stopped.html');
    execFileSync(process.execPath, [CLI, 'report', run, `--out=${file}`], { timeout: 120_000 });
    await check(`file://${file}`, 'report');
  });

  it('draws a stage in progress live, as its metrics.jsonl grows', async () => {
    const page = await context.newPage();
    try {
      await page.goto(explorer.url, { timeout: TIMEOUT });
      await page.waitForSelector('body[data-ready="true"]', { timeout: TIMEOUT });
      const metrics = join(out, 'metrics.jsonl');
      const step = (iteration: number): string =>
        JSON.stringify({
          event: 'train',
          iteration,
          epoch: 0,
          step: iteration,
          lr: 0.1,
          loss: 2 / iteration,
          images_per_sec: 50,
        }) + '\n';
      // As a training writes it: its stage_start, then steps and a checkpoint.
      appendFileSync(
        metrics,
        JSON.stringify({ event: 'stage_start', stage: 'train', dir: join(out, 'live') }) +
          '\n' +
          step(1) +
          JSON.stringify({ event: 'checkpoint', path: join(out, 'live', 'model_phase0.torch') }) +
          '\n',
      );
      // The new stage joins the overlaid charts as a series of its own.
      const lossChart = '.chart[data-chart="train-step-loss"]';
      await page.waitForSelector(`${lossChart}[data-counts~="live=1"]`, { timeout: TIMEOUT });
      assert.match((await page.textContent('[id="stage-live"]')) ?? '', /live/);
      assert.match((await page.textContent('#live')) ?? '', /live/);
      appendFileSync(metrics, step(2) + step(3));
      await page.waitForSelector(`${lossChart}[data-counts~="live=3"]`, { timeout: TIMEOUT });
    } finally {
      await page.close();
    }
  });
});
