// The explorer page. It reads the run through `api`: the server's JSON routes, or, in a static
// report, the data embedded in the file (window.CLUSTERFIT_REPORT), so both show the same views.
'use strict';

const REPORT = window.CLUSTERFIT_REPORT || null;
const PAGE_SIZE = 24;
const PER_TILE = 8;

const api = REPORT ? reportApi(REPORT) : serverApi();

function serverApi() {
  const get = async (path, params) => {
    const response = await fetch(`${path}?${new URLSearchParams(params)}`);
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return response.json();
  };
  return {
    live: true,
    overview: () => get('/api/overview', {}),
    stages: () => get('/api/stages', {}),
    clusters: (clustering, sort, order, offset, limit) =>
      get('/api/clusters', { clustering, sort, order, offset, limit, per: PER_TILE }),
    heatmap: (clustering, clusters) => get('/api/heatmap', { clustering, clusters: clusters.join(',') }),
    neighbours: (clustering, image) => get('/api/neighbours', { clustering, image, k: 12 }),
    thumb: (clustering, index) => `/thumb/${encodeURIComponent(clustering)}/${index}.jpg`,
  };
}

// The report holds a bounded set of clusters per clustering (their tiles, class counts and the
// neighbours of every image shown); paging and sorting happen here, over those.
function reportApi(report) {
  const key = { size: (t) => t.size, purity: (t) => t.purity ?? 0, spread: (t) => t.spread, id: (t) => t.cluster };
  return {
    live: false,
    overview: async () => report.overview,
    clusters: async (clustering, sort, order, offset, limit) => {
      const data = report.clusterings[clustering];
      const sign = order === 'asc' ? 1 : -1;
      const sorted = [...data.tiles].sort((a, b) => sign * (key[sort](a) - key[sort](b)) || a.cluster - b.cluster);
      return { total: data.tiles.length, tiles: sorted.slice(offset, offset + limit) };
    },
    heatmap: async (clustering, clusters) => {
      const heat = report.clusterings[clustering].heatmap;
      return { classes: heat.classes, rows: heat.rows.filter((r) => clusters.includes(r.cluster)) };
    },
    neighbours: async (clustering, image) => {
      const found = report.clusterings[clustering].neighbours[image];
      if (!found) throw new Error(`image ${image}: not in this report`);
      return found;
    },
    thumb: (clustering, index) => report.thumbs[clustering][index],
  };
}

// ---- helpers ---------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'onclick') node.addEventListener('click', value);
    else if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of children.flat())
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

const fmt = (v, digits = 2) => (v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(digits));
const COLOURS = ['#1e88e5', '#e53935', '#43a047', '#8e24aa'];
const charts = new Map();

/** A uPlot line (or bar) chart in `container`, kept by `id` so live updates only swap its data. */
function chart(container, id, title, xLabel, series, data, { bars = false, width = 340, yLabel, integerX } = {}) {
  const existing = charts.get(id);
  if (existing && document.body.contains(existing.holder)) {
    existing.plot.setData(data);
    existing.holder.dataset.points = String(data[0].length);
    return;
  }
  // data-points: how many x values the chart holds (tests watch it grow on a live run); an empty
  // chart says so instead of showing bare axes.
  const holder = el('div', { class: 'chart', 'data-chart': id, 'data-points': data[0].length });
  container.append(holder);
  const plot = new uPlot(
    {
      title,
      width,
      height: 200,
      scales: { x: { time: false } },
      axes: [
        // Epochs are whole numbers: no 1.5 ticks.
        { label: xLabel, ...(integerX ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] } : {}) },
        // Enough significant digits that neighbouring ticks never read the same (0.1, 0.1).
        { label: yLabel, values: (u, ticks) => ticks.map((v) => String(Number(v.toPrecision(4)))) },
      ],
      series: [
        { label: xLabel },
        ...series.map((label, i) => ({
          label,
          stroke: COLOURS[i % COLOURS.length],
          width: 1.5,
          spanGaps: true,
          points: { show: data[0].length < 40 },
          ...(bars
            ? { paths: uPlot.paths.bars({ size: [0.9, 60] }), fill: COLOURS[i] + '88', points: { show: false } }
            : {}),
        })),
      ],
    },
    data,
    holder,
  );
  charts.set(id, { plot, holder });
}

/** Says "no data yet" over charts that have no point (a stage that has not logged them, or never will). */
function markEmptyCharts(box) {
  for (const holder of box.querySelectorAll('.chart')) {
    const empty = holder.dataset.points === '0';
    holder.classList.toggle('empty', empty);
    if (empty && !holder.querySelector('.no-data')) holder.append(el('div', { class: 'no-data' }, 'no data yet'));
    if (!empty) holder.querySelector('.no-data')?.remove();
  }
}

/** Rows keyed by x from several series, merged on the union of their x values (nulls elsewhere). */
function align(...series) {
  const xs = [...new Set(series.flatMap((s) => s.x))].sort((a, b) => a - b);
  return [
    xs,
    ...series.map((s) =>
      xs.map((x) => {
        const i = s.x.indexOf(x);
        return i < 0 ? null : s.y[i];
      }),
    ),
  ];
}

// ---- training stages -------------------------------------------------------------------------

/** A stage's state in words, from its state record (the one `clusterfit status` reads). */
function stateText(stage) {
  const s = stage.state;
  if (!s) return stage.finished ? 'finished' : 'not finished (this run folder predates state records)';
  const of = s.epochs !== undefined ? ` of ${s.epochs}` : '';
  const attempts = s.attempts.length > 1 ? ` · ${s.attempts.length} attempts` : '';
  const words = {
    done: `finished${s.epoch !== undefined ? ` (${s.epoch}${of} epochs)` : ''}`,
    running: `running${s.epoch !== undefined ? `: epoch ${s.epoch}${of} done` : ''}`,
    stopped: `stopped at epoch ${s.epoch ?? 0}${of}; the same command resumes it`,
    failed: `failed: ${s.error ?? 'no error recorded'}`,
  }[s.state];
  return `${words}${attempts}`;
}

/** True while a stage runs (for folders without state records: while no summary closed it). */
function isRunning(stage) {
  return stage.state ? stage.state.state === 'running' : !stage.finished;
}

function renderStages(root, stages) {
  for (const stage of stages) {
    const id = `stage-${stage.name}`;
    let section = document.getElementById(id);
    if (!section) {
      section = el(
        'section',
        { id, class: 'stage' },
        el('h2', {}, `Training: ${stage.name}`),
        el('div', { class: 'stage-state muted' }),
        el('div', { class: 'charts' }),
      );
      root.append(section);
    }
    const state = section.querySelector('.stage-state');
    state.textContent = stateText(stage);
    state.dataset.state = stage.state?.state ?? (stage.finished ? 'done' : 'unknown');
    const box = section.querySelector('.charts');
    const epochs = (e) => e.epoch.map((x) => x + 1);
    chart(
      box,
      `${id}-epoch-loss`,
      'loss per epoch',
      'epoch',
      ['train', 'test'],
      align({ x: epochs(stage.epochs), y: stage.epochs.loss }, { x: epochs(stage.tests), y: stage.tests.loss }),
      { yLabel: 'loss', integerX: true },
    );
    chart(
      box,
      `${id}-epoch-top1`,
      'top-1 accuracy (%) per epoch',
      'epoch',
      ['train', 'test'],
      align({ x: epochs(stage.epochs), y: stage.epochs.top1 }, { x: epochs(stage.tests), y: stage.tests.top1 }),
      { yLabel: 'top-1 (%)', integerX: true },
    );
    const steps = stage.steps;
    chart(
      box,
      `${id}-step-loss`,
      'loss (running mean in the epoch)',
      'iteration',
      ['train'],
      [steps.iteration, steps.loss],
      { yLabel: 'loss' },
    );
    chart(box, `${id}-lr`, 'learning rate', 'iteration', ['lr'], [steps.iteration, steps.lr], { yLabel: 'lr' });
    chart(box, `${id}-speed`, 'images/s', 'iteration', ['images/s'], [steps.iteration, steps.imagesPerSec], {
      yLabel: 'images/s',
    });
    markEmptyCharts(box);
  }
}

/** The models in the order the method runs them (the CLI table's): baseline, pretext, ClusterFit, then others. */
const MODEL_ORDER = ['random init', 'RotNet', 'ClusterFit'];

/** One row per layer, the models side by side: linear top-1 and kNN top-1 of each (top-5 in the tooltip). */
function renderEvaluations(root, rows) {
  if (rows.length === 0) return;
  const rank = (m) => (MODEL_ORDER.includes(m) ? MODEL_ORDER.indexOf(m) : MODEL_ORDER.length);
  const models = [...new Set(rows.map((r) => r.model))].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const layers = [...new Set(rows.map((r) => r.layer))];
  const at = (model, layer) => rows.find((r) => r.model === model && r.layer === layer);
  root.append(
    el(
      'section',
      { id: 'evaluation' },
      el('h2', {}, `Evaluation: ${models.join(' / ')}`),
      el('p', { class: 'muted' }, 'top-1 accuracy (%) on the test images of frozen features: linear probe and kNN'),
      el(
        'table',
        {},
        el(
          'tr',
          {},
          el('th', { rowspan: 2 }, 'layer'),
          el('th', { rowspan: 2 }, 'dim'),
          models.map((m) => el('th', { colspan: 2, class: 'model' }, m)),
        ),
        el(
          'tr',
          {},
          models.flatMap(() => [el('th', {}, 'linear'), el('th', {}, 'kNN')]),
        ),
        layers.map((layer) =>
          el(
            'tr',
            { 'data-layer': layer },
            el('td', { class: 'text' }, layer),
            el(
              'td',
              {},
              at(
                models.find((m) => at(m, layer)),
                layer,
              )?.dim ?? '',
            ),
            models.flatMap((m) => {
              const r = at(m, layer);
              return [
                el(
                  'td',
                  { title: r?.linearTop5 != null ? `top-5 ${fmt(r.linearTop5)}` : '' },
                  fmt(r?.linearTop1 ?? null),
                ),
                el('td', {}, fmt(r?.knnTop1 ?? null)),
              ];
            }),
          ),
        ),
      ),
    ),
  );
}

// ---- clusterings -----------------------------------------------------------------------------

function sizeHistogram(sizes) {
  const min = Math.min(...sizes);
  const max = Math.max(...sizes);
  const bins = Math.max(1, Math.min(30, max - min + 1));
  const width = (max - min + 1) / bins;
  const counts = new Array(bins).fill(0);
  for (const s of sizes) counts[Math.min(bins - 1, Math.floor((s - min) / width))] += 1;
  return [counts.map((_, i) => min + i * width), counts];
}

function renderClustering(root, info) {
  const section = el('section', { class: 'clustering', 'data-clustering': info.id });
  const s = info.stats;
  const scores = info.scores
    ? el(
        'span',
        {},
        ' · against the image folders\u2019 ',
        String(info.classes.length),
        ' classes: purity ',
        el('b', { class: 'purity' }, fmt(info.scores.purity, 3)),
        ', NMI ',
        el('b', { class: 'nmi' }, fmt(info.scores.nmi, 3)),
        ', ARI ',
        el('b', { class: 'ari' }, fmt(info.scores.ari, 3)),
      )
    : el('span', { class: 'muted' }, ' · no ground-truth classes (images are not in class folders)');
  section.append(
    el('h2', {}, `Clustering: ${info.id}`),
    el(
      'div',
      { class: 'stats' },
      `K = ${info.numClusters} on ${info.images} images (${info.dim}-d ${info.layer} features) · sizes min ${s.smallest} / median ${s.median} / max ${s.largest}, ${s.empty} empty · imbalance ${fmt(s.imbalance, 3)}`,
      scores,
    ),
  );
  const box = el('div', { class: 'charts' });
  section.append(box);
  root.append(section);
  chart(
    box,
    `${info.id}-sizes`,
    'cluster sizes (clusters per size)',
    'images in cluster',
    ['clusters'],
    sizeHistogram(info.sizes),
    { bars: true },
  );
  chart(
    box,
    `${info.id}-objective`,
    'k-means objective',
    'iteration',
    ['objective'],
    [info.objective.map((_, i) => i + 1), info.objective],
  );

  const state = { sort: 'size', order: 'desc', offset: 0 };
  const sortSelect = el(
    'select',
    { class: 'sort' },
    el('option', { value: 'size' }, 'by size'),
    ...(info.classes.length ? [el('option', { value: 'purity' }, 'by purity')] : []),
    el('option', { value: 'spread' }, 'by spread (mean distance to centroid)'),
    el('option', { value: 'id' }, 'by id'),
  );
  const orderSelect = el('select', { class: 'order' }, el('option', { value: 'desc' }), el('option', { value: 'asc' }));
  // The order's words follow the sort, so the menu never says "largest first" over purities.
  const ORDER_WORDS = {
    size: ['largest first', 'smallest first'],
    purity: ['purest first', 'least pure first'],
    spread: ['widest first', 'tightest first (degenerate clusters)'],
    id: ['highest id first', 'lowest id first'],
  };
  const nameOrders = () => ORDER_WORDS[state.sort].forEach((words, i) => (orderSelect.options[i].textContent = words));
  nameOrders();
  const pageInfo = el('span', { class: 'page-info' });
  const grid = el('div', { class: 'grid' });
  const heat = el('div', { class: 'heat' });
  const load = async () => {
    const page = await api.clusters(info.id, state.sort, state.order, state.offset, PAGE_SIZE);
    pageInfo.textContent = `clusters ${page.total === 0 ? 0 : state.offset + 1}–${state.offset + page.tiles.length} of ${page.total}`;
    grid.replaceChildren(...page.tiles.map((tile) => renderTile(info, tile)));
    prev.disabled = state.offset === 0;
    next.disabled = state.offset + PAGE_SIZE >= page.total;
    if (info.classes.length)
      renderHeatmap(
        heat,
        await api.heatmap(
          info.id,
          page.tiles.map((t) => t.cluster),
        ),
      );
  };
  const prev = el(
    'button',
    {
      class: 'prev',
      onclick: () => {
        state.offset = Math.max(0, state.offset - PAGE_SIZE);
        load();
      },
    },
    '◀ previous',
  );
  const next = el(
    'button',
    {
      class: 'next',
      onclick: () => {
        state.offset += PAGE_SIZE;
        load();
      },
    },
    'next ▶',
  );
  sortSelect.addEventListener('change', () => {
    state.sort = sortSelect.value;
    nameOrders();
    state.offset = 0;
    load();
  });
  orderSelect.addEventListener('change', () => {
    state.order = orderSelect.value;
    state.offset = 0;
    load();
  });
  section.append(
    el('h3', {}, 'Clusters'),
    el(
      'div',
      { class: 'controls' },
      'sort',
      sortSelect,
      orderSelect,
      prev,
      next,
      pageInfo,
      el(
        'span',
        { class: 'muted' },
        'nearest to the centroid first, then a random sample; click an image for its neighbours',
      ),
    ),
    grid,
    ...(info.classes.length ? [el('h3', {}, 'Clusters × classes (this page\u2019s clusters)'), heat] : []),
  );
  return load();
}

function renderTile(info, tile) {
  return el(
    'div',
    { class: 'tile', 'data-cluster': tile.cluster, 'data-size': tile.size, 'data-spread': tile.spread },
    el(
      'div',
      { class: 'tile-head' },
      el('b', {}, `#${tile.cluster}`),
      el(
        'span',
        { title: 'mean distance of its images to the centroid' },
        `${tile.size} images · ${fmt(tile.spread, 3)}`,
      ),
      tile.purity === null
        ? ''
        : el('span', { title: 'most common class' }, `${tile.majority ?? ''} ${fmt(100 * tile.purity, 0)}%`),
    ),
    el(
      'div',
      { class: 'thumbs' },
      tile.images.map((index) =>
        el('img', {
          src: api.thumb(info.id, index),
          alt: `image ${index}`,
          'data-image': index,
          onclick: () => showNeighbours(info, index),
        }),
      ),
    ),
  );
}

function renderHeatmap(holder, heat) {
  const cell = 16;
  const left = 60;
  const top = 90;
  const canvas = el('canvas', {
    class: 'heatmap',
    width: left + heat.classes.length * cell + 10,
    height: top + heat.rows.length * cell + 10,
  });
  const g = canvas.getContext('2d');
  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#333';
  heat.classes.forEach((name, c) => {
    g.save();
    g.translate(left + c * cell + cell / 2 + 3, top - 4);
    g.rotate(-Math.PI / 3);
    g.fillText(name.slice(0, 14), 0, 0);
    g.restore();
  });
  heat.rows.forEach((row, r) => {
    const total = row.counts.reduce((a, b) => a + b, 0) || 1;
    g.fillStyle = '#333';
    g.fillText(`#${row.cluster}`, 4, top + r * cell + cell - 4);
    row.counts.forEach((count, c) => {
      const share = count / total;
      g.fillStyle = `rgba(30, 136, 229, ${share.toFixed(3)})`;
      g.fillRect(left + c * cell, top + r * cell, cell - 1, cell - 1);
    });
  });
  holder.replaceChildren(canvas);
}

// Escape closes the neighbour panel, as any overlay.
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape') document.getElementById('neighbours').hidden = true;
});

/** Cosine similarity from the squared L2 distance of unit vectors (d = 2 - 2 cos), as a researcher reads it. */
function cosine(distance) {
  return 1 - distance / 2;
}

async function showNeighbours(info, index) {
  const panel = document.getElementById('neighbours');
  panel.hidden = false;
  panel.replaceChildren(el('p', { class: 'muted' }, 'searching…'));
  try {
    const found = await api.neighbours(info.id, index);
    panel.replaceChildren(
      el(
        'div',
        { class: 'query' },
        el('img', { src: api.thumb(info.id, index), alt: `image ${index}` }),
        el(
          'div',
          {},
          el('b', {}, `image ${index}`),
          el('br'),
          `cluster #${found.cluster}`,
          found.className ? ` · class ${found.className}` : '',
          el('br'),
          el(
            'button',
            {
              onclick: () => {
                panel.hidden = true;
              },
            },
            'close',
          ),
        ),
      ),
      el('h3', {}, `nearest ${found.neighbours.length} in feature space`),
      el('p', { class: 'muted' }, 'cluster · class · cosine similarity of the L2-normalised features (Esc closes)'),
      el(
        'div',
        { class: 'nb-grid' },
        found.neighbours.map((n) =>
          el(
            'div',
            { class: 'nb', 'data-image': n.index },
            el('img', {
              src: api.thumb(info.id, n.index),
              alt: `image ${n.index}`,
              onclick: () => showNeighbours(info, n.index),
            }),
            el(
              'span',
              { title: `squared L2 distance ${n.distance.toExponential(3)}` },
              `#${n.cluster}${n.className ? ` · ${n.className}` : ''} · ${cosine(n.distance).toFixed(5)}`,
            ),
          ),
        ),
      ),
    );
  } catch (error) {
    panel.replaceChildren(
      el('p', {}, String(error.message)),
      el(
        'button',
        {
          onclick: () => {
            panel.hidden = true;
          },
        },
        'close',
      ),
    );
  }
}

// ---- the page --------------------------------------------------------------------------------

async function main() {
  const app = document.getElementById('app');
  const overview = await api.overview();
  document.getElementById('run-name').textContent = overview.name;
  const training = el('div', { id: 'training' });
  app.replaceChildren(training);
  renderStages(training, overview.stages);
  for (const problem of overview.problems) app.append(el('p', { class: 'problem' }, `cannot show ${problem}`));
  renderEvaluations(app, overview.evaluations);
  if (overview.stages.length === 0 && overview.clusterings.length === 0 && overview.evaluations.length === 0) {
    app.append(
      el('p', { class: 'muted' }, 'nothing to show yet: no metrics.jsonl, clustering or evaluation in this folder'),
    );
  }
  await Promise.all(overview.clusterings.map((info) => renderClustering(app, info)));
  document.body.dataset.ready = 'true';
  if (api.live) poll(training, overview.stages);
}

/** Curves of a run in progress: the server reads a metrics file again only when it has grown. */
function poll(training, stages) {
  const running = stages.some(isRunning);
  document.getElementById('live').textContent = running ? '● live' : '';
  setTimeout(async () => {
    try {
      const next = await api.stages();
      renderStages(training, next);
      poll(training, next);
    } catch {
      document.getElementById('live').textContent = 'server gone';
    }
  }, 3000);
}

main().catch((error) => {
  document
    .getElementById('app')
    .replaceChildren(el('p', { class: 'error' }, `could not load the run: ${error.message}`));
  throw error;
});
