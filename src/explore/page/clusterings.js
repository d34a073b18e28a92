// A clustering: its statistics and charts, then a grid of clusters (sorted, paged, a cluster
// selectable) and the clusters x classes heat map of the page. Its view state lives in the URL
// (url-state.js).
'use strict';

function sizeHistogram(sizes) {
  const min = Math.min(...sizes);
  const max = Math.max(...sizes);
  const bins = Math.max(1, Math.min(30, max - min + 1));
  const width = (max - min + 1) / bins;
  const counts = new Array(bins).fill(0);
  for (const s of sizes) counts[Math.min(bins - 1, Math.floor((s - min) / width))] += 1;
  return [counts.map((_, i) => min + i * width), counts];
}

/**
 * The size under which a cluster is ranked last when sorting by purity or spread: 10% of the mean
 * cluster size, at least 5 images (a 4-image cluster is 100% pure by chance), never above the mean.
 */
function defaultMinSize(info) {
  const mean = info.images / Math.max(1, info.numClusters);
  return Math.max(1, Math.min(Math.floor(mean), Math.max(5, Math.round(mean / 10))));
}

// The order menu's words follow the sort, so it never says "largest first" over purities.
const ORDER_WORDS = {
  size: ['largest first', 'smallest first'],
  purity: ['purest first', 'least pure first'],
  spread: ['widest first', 'tightest first (degenerate clusters)'],
  id: ['highest id first', 'lowest id first'],
};

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
  const clusters = [{ label: 'clusters', colour: COLOURS[0] }];
  chart(
    box,
    `${info.id}-sizes`,
    'cluster sizes (clusters per size)',
    'images in cluster',
    clusters,
    sizeHistogram(info.sizes),
    {
      bars: true,
      yLabel: 'clusters',
    },
  );
  chart(
    box,
    `${info.id}-objective`,
    'k-means objective',
    'iteration',
    [{ label: 'objective', colour: COLOURS[0] }],
    [info.objective.map((_, i) => i + 1), info.objective],
    { yLabel: 'objective', integerX: true },
  );

  const defaults = { sort: 'size', order: 'desc', page: 1, min: defaultMinSize(info), cluster: null };
  const state = { ...defaults };
  const sortSelect = el(
    'select',
    { class: 'sort' },
    el('option', { value: 'size' }, 'by size'),
    ...(info.classes.length ? [el('option', { value: 'purity' }, 'by purity (majority class share)')] : []),
    el('option', { value: 'spread' }, 'by spread (mean distance to centroid)'),
    el('option', { value: 'id' }, 'by id'),
  );
  const orderSelect = el('select', { class: 'order' }, el('option', { value: 'desc' }), el('option', { value: 'asc' }));
  const minInput = el('input', { type: 'number', class: 'min-size', min: 1, step: 1, value: state.min });
  const minLabel = el(
    'label',
    { class: 'min', title: 'small clusters are trivially pure or tight: they go after the others' },
    'clusters under ',
    minInput,
    ' images last',
  );
  const pageInfo = el('span', { class: 'page-info' });
  const grid = el('div', { class: 'grid' });
  const heat = el('div', { class: 'heat' });
  let heatRows = null;

  const showControls = () => {
    sortSelect.value = state.sort;
    ORDER_WORDS[state.sort].forEach((words, i) => (orderSelect.options[i].textContent = words));
    orderSelect.value = state.order;
    minInput.value = String(state.min);
    minLabel.hidden = !MIN_SIZE_SORTS.includes(state.sort);
  };
  const select = (cluster) => {
    state.cluster = cluster;
    for (const tile of grid.querySelectorAll('.tile'))
      tile.classList.toggle('selected', Number(tile.dataset.cluster) === cluster);
    if (heatRows) renderHeatmap(heat, heatRows, cluster);
  };
  /** A click on a tile's title or image: selected, and kept in the link. */
  const pick = (cluster) => {
    select(cluster);
    viewState.save(info.id);
  };
  // The page of clusters on screen, and the newest load: back/forward and quick changes start loads
  // that overlap, and only the newest may touch the page. An older one still waiting on the server
  // gives way (it would draw a stale grid, or redraw the heat map after the newer view was shown);
  // the newer one fetches its own page rather than trust one still in flight.
  let shown = null;
  let newest = 0;
  const load = async () => {
    const ticket = ++newest;
    const offset = (state.page - 1) * PAGE_SIZE;
    const key = JSON.stringify([state.sort, state.order, state.page, state.min]);
    if (shown !== key) {
      // Marked while the newest view is on its way (the grid dims; tests wait for it to clear).
      section.dataset.loading = 'true';
      let page, rows;
      try {
        page = await api.clusters(info.id, { ...state, offset, limit: PAGE_SIZE, minSize: state.min });
        rows = info.classes.length
          ? await api.heatmap(
              info.id,
              page.tiles.map((t) => t.cluster),
            )
          : null;
      } catch (error) {
        if (ticket === newest) delete section.dataset.loading;
        throw error;
      }
      if (ticket !== newest) return;
      const last = offset + page.tiles.length;
      const below =
        MIN_SIZE_SORTS.includes(state.sort) && page.below > 0 ? ` (${page.below} under ${state.min} images last)` : '';
      pageInfo.textContent = `clusters ${page.total === 0 ? 0 : offset + 1}–${last} of ${page.total}${below}`;
      grid.replaceChildren(...page.tiles.map((tile) => renderTile(info, tile, pick)));
      prev.disabled = state.page <= 1;
      next.disabled = offset + PAGE_SIZE >= page.total;
      heatRows = rows;
      shown = key;
    }
    delete section.dataset.loading;
    select(state.cluster);
    section.dataset.view = JSON.stringify(state);
  };
  /** A change made here: show it, and record it in the URL as a new history entry. */
  const change = (fields) => {
    Object.assign(state, fields);
    showControls();
    viewState.save(info.id);
    return load();
  };
  const prev = el('button', { class: 'prev', onclick: () => change({ page: state.page - 1 }) }, '◀ previous');
  const next = el('button', { class: 'next', onclick: () => change({ page: state.page + 1 }) }, 'next ▶');
  sortSelect.addEventListener('change', () => change({ sort: sortSelect.value, page: 1 }));
  orderSelect.addEventListener('change', () => change({ order: orderSelect.value, page: 1 }));
  minInput.addEventListener('change', () => {
    const min = Math.max(1, Math.round(Number(minInput.value)) || defaults.min);
    change({ min, page: 1 });
  });
  grid.addEventListener('click', (event) => {
    const head = event.target.closest('.tile-head');
    if (!head) return;
    const cluster = Number(head.parentElement.dataset.cluster);
    pick(state.cluster === cluster ? null : cluster);
  });
  showControls();
  section.append(
    el('h3', {}, 'Clusters'),
    el('div', { class: 'controls' }, 'sort', sortSelect, orderSelect, minLabel, prev, next, pageInfo),
    el(
      'p',
      { class: 'muted' },
      'nearest to the centroid first, then a random sample; click a cluster\u2019s title to select it, an image for its neighbours',
    ),
    grid,
    ...(info.classes.length ? [el('h3', {}, 'Clusters × classes (this page\u2019s clusters)'), heat] : []),
  );
  viewState.register(info.id, {
    state: () => ({ ...state }),
    defaults: () => ({ ...defaults }),
    apply: (wanted) => {
      const sort = Object.keys(ORDER_WORDS).includes(wanted.sort) ? wanted.sort : defaults.sort;
      Object.assign(state, {
        sort: sort === 'purity' && !info.classes.length ? defaults.sort : sort,
        order: wanted.order === 'asc' ? 'asc' : 'desc',
        page: Number.isInteger(wanted.page) && wanted.page >= 1 ? wanted.page : 1,
        min: Number.isInteger(wanted.min) && wanted.min >= 1 ? wanted.min : defaults.min,
        cluster: Number.isInteger(wanted.cluster) ? wanted.cluster : null,
      });
      showControls();
      return load();
    },
  });
}

function renderTile(info, tile, pick) {
  return el(
    'div',
    {
      class: 'tile',
      'data-cluster': tile.cluster,
      'data-size': tile.size,
      'data-spread': tile.spread,
      'data-purity': tile.purity ?? '',
    },
    el(
      'div',
      { class: 'tile-head', title: 'select this cluster (kept in the link)' },
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
          onclick: () => {
            pick(tile.cluster);
            showNeighbours(info, index);
          },
        }),
      ),
    ),
  );
}
