// How the page reads the run: the server's JSON routes, or, in a static report, the data embedded
// in the file (window.CLUSTERFIT_REPORT), so both show the same views.
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
    clusters: (clustering, { sort, order, offset, limit, minSize }) =>
      get('/api/clusters', { clustering, sort, order, offset, limit, per: PER_TILE, min: minSize }),
    heatmap: (clustering, clusters) => get('/api/heatmap', { clustering, clusters: clusters.join(',') }),
    neighbours: (clustering, image) => get('/api/neighbours', { clustering, image, k: 12 }),
    thumb: (clustering, index) => `/thumb/${encodeURIComponent(clustering)}/${index}.jpg`,
  };
}

/** Sort keys that rank clusters under the minimum size last (a 4-image cluster is trivially pure or tight). */
const MIN_SIZE_SORTS = ['purity', 'spread'];

// The report holds a bounded set of clusters per clustering (their tiles, class counts and the
// neighbours of every image shown); paging and sorting happen here, over those, as the server does.
function reportApi(report) {
  const key = { size: (t) => t.size, purity: (t) => t.purity ?? 0, spread: (t) => t.spread, id: (t) => t.cluster };
  return {
    live: false,
    overview: async () => report.overview,
    clusters: async (clustering, { sort, order, offset, limit, minSize }) => {
      const data = report.clusterings[clustering];
      const sign = order === 'asc' ? 1 : -1;
      const small = (t) => (MIN_SIZE_SORTS.includes(sort) && t.size < minSize ? 1 : 0);
      const sorted = [...data.tiles].sort(
        (a, b) => small(a) - small(b) || sign * (key[sort](a) - key[sort](b)) || a.cluster - b.cluster,
      );
      return {
        total: data.tiles.length,
        below: sorted.filter(small).length,
        tiles: sorted.slice(offset, offset + limit),
      };
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
