// The clusters x classes heat map of the clusters on screen: each cell is the share of a cluster's
// images in a class, on a sequential scale with its legend; the count is written in the cell. Drawn
// on a canvas at the screen's pixel density, sized so every label fits (no "automob").
'use strict';

/** Light to dark blue: low shares stay visible against white, high ones are dark. */
const HEAT_STOPS = [
  [247, 251, 255],
  [198, 219, 239],
  [107, 174, 214],
  [33, 113, 181],
  [8, 48, 107],
];

function heatColour(share) {
  const t = Math.min(1, Math.max(0, share)) * (HEAT_STOPS.length - 1);
  const i = Math.min(HEAT_STOPS.length - 2, Math.floor(t));
  const f = t - i;
  const [a, b] = [HEAT_STOPS[i], HEAT_STOPS[i + 1]];
  return `rgb(${a.map((v, k) => Math.round(v + f * (b[k] - v))).join(',')})`;
}

function renderHeatmap(holder, heat, selected) {
  const cell = 26;
  const angle = Math.PI / 4;
  const font = '12px system-ui, sans-serif';
  const measure = document.createElement('canvas').getContext('2d');
  measure.font = font;
  const textWidth = (text) => measure.measureText(text).width;
  const columnLabel = Math.max(0, ...heat.classes.map(textWidth));
  const left = Math.ceil(Math.max(...heat.rows.map((r) => textWidth(`#${r.cluster}`)), 20)) + 10;
  const top = Math.ceil(columnLabel * Math.sin(angle)) + 14;
  const gridWidth = heat.classes.length * cell;
  // A rotated label reaches right of its column by its width's horizontal part.
  const right = Math.ceil(columnLabel * Math.cos(angle)) + 10;
  const legendWidth = 200;
  const legendTop = top + heat.rows.length * cell + 16;
  const caption = "share of the cluster's images in the class (count in the cell)";
  const width = Math.ceil(Math.max(left + gridWidth + right, left + legendWidth + 20, left + textWidth(caption) + 10));
  const height = legendTop + 48;

  const ratio = window.devicePixelRatio || 1;
  const canvas = el('canvas', {
    class: 'heatmap',
    width: Math.round(width * ratio),
    height: Math.round(height * ratio),
    style: `width: ${width}px; height: ${height}px`,
    'data-rows': heat.rows.length,
    'data-columns': heat.classes.length,
  });
  const g = canvas.getContext('2d');
  g.scale(ratio, ratio);
  g.font = font;
  g.textBaseline = 'middle';

  heat.classes.forEach((name, c) => {
    g.save();
    g.translate(left + c * cell + cell / 2, top - 6);
    g.rotate(-angle);
    g.fillStyle = '#222';
    g.fillText(name, 0, 0);
    g.restore();
  });
  heat.rows.forEach((row, r) => {
    const total = row.counts.reduce((a, b) => a + b, 0) || 1;
    const y = top + r * cell;
    g.fillStyle = row.cluster === selected ? '#d81b60' : '#222';
    g.textAlign = 'right';
    g.fillText(`#${row.cluster}`, left - 6, y + cell / 2);
    g.textAlign = 'center';
    row.counts.forEach((count, c) => {
      const share = count / total;
      const x = left + c * cell;
      g.fillStyle = heatColour(share);
      g.fillRect(x, y, cell - 1, cell - 1);
      if (count > 0) {
        g.fillStyle = share > 0.45 ? '#fff' : '#222';
        g.font = '10px system-ui, sans-serif';
        g.fillText(String(count), x + (cell - 1) / 2, y + (cell - 1) / 2);
        g.font = font;
      }
    });
    if (row.cluster === selected) {
      g.strokeStyle = '#d81b60';
      g.lineWidth = 2;
      g.strokeRect(left - 1, y - 1, gridWidth + 1, cell + 1);
    }
  });

  // The legend: the colour scale from 0 to 100% of a cluster's images.
  g.textAlign = 'left';
  g.fillStyle = '#222';
  g.fillText(caption, left, legendTop - 2);
  const bar = g.createLinearGradient(left, 0, left + legendWidth, 0);
  HEAT_STOPS.forEach((_, i) => bar.addColorStop(i / (HEAT_STOPS.length - 1), heatColour(i / (HEAT_STOPS.length - 1))));
  g.fillStyle = bar;
  g.fillRect(left, legendTop + 10, legendWidth, 12);
  g.strokeStyle = '#999';
  g.lineWidth = 1;
  g.strokeRect(left + 0.5, legendTop + 10.5, legendWidth - 1, 11);
  g.fillStyle = '#222';
  g.textAlign = 'center';
  for (const share of [0, 0.25, 0.5, 0.75, 1])
    g.fillText(`${share * 100}%`, left + share * legendWidth, legendTop + 34);
  holder.replaceChildren(canvas);
}
