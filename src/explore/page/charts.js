// Line and bar charts on uPlot, kept by id so that live updates only swap their data, and the
// TensorBoard-style smoothing of noisy curves.
'use strict';

/** One colour per stage (or series), distinct on white and for the common colour blindnesses. */
const COLOURS = ['#1e88e5', '#e53935', '#43a047', '#8e24aa', '#fb8c00', '#00897b'];
/** Tick steps for axes of whole numbers (epochs, iterations, images): no 1.5 ticks. */
const INTEGER_STEPS = [1, 2, 5].flatMap((m) => [1, 10, 100, 1000, 10000, 100000, 1000000].map((p) => m * p));
INTEGER_STEPS.sort((a, b) => a - b);
const charts = new Map();

/**
 * A uPlot chart in `container`, kept by `id`. `series` are `{ label, colour, dash }`; while their
 * labels stay the same a live update only swaps the data, a new series (a stage that started)
 * draws the chart again in its place. `counts` ({ label: points }) becomes `data-counts`, which
 * tests watch grow on a live run.
 */
function chart(container, id, title, xLabel, series, data, options = {}) {
  const { bars = false, width = 390, yLabel, integerX = false, counts = {} } = options;
  const signature = [title, ...series.map((s) => s.label)].join('\n');
  const existing = charts.get(id);
  let holder = existing?.holder;
  if (existing && document.body.contains(holder) && existing.signature === signature) {
    existing.plot.setData(data);
  } else {
    existing?.plot.destroy();
    if (!holder || !document.body.contains(holder)) {
      holder = el('div', { class: 'chart', 'data-chart': id });
      container.append(holder);
    }
    holder.replaceChildren();
    const plot = new uPlot(
      {
        title,
        width,
        height: 220,
        scales: { x: { time: false } },
        axes: [
          { label: xLabel, ...(integerX ? { incrs: INTEGER_STEPS } : {}) },
          // Enough significant digits that neighbouring ticks never read the same (0.1, 0.1).
          { label: yLabel, size: 60, values: (u, ticks) => ticks.map((v) => String(Number(v.toPrecision(4)))) },
        ],
        series: [
          { label: xLabel },
          ...series.map((s) => ({
            label: s.label,
            stroke: s.colour,
            width: 1.5,
            spanGaps: true,
            ...(s.dash ? { dash: [6, 4] } : {}),
            points: { show: data[0].length < 40 },
            ...(bars
              ? { paths: uPlot.paths.bars({ size: [0.9, 60] }), fill: s.colour + '88', points: { show: false } }
              : {}),
          })),
        ],
      },
      data,
      holder,
    );
    charts.set(id, { plot, holder, signature });
  }
  // data-points: how many x values the chart holds; an empty chart says so instead of bare axes.
  holder.dataset.points = String(data[0].length);
  holder.dataset.series = String(series.length);
  holder.dataset.counts = Object.entries(counts)
    .map(([label, n]) => `${label}=${n}`)
    .join(' ');
  markEmpty(holder);
}

/** Says "no data yet" over a chart that has no point (a stage that has not logged them, or never will). */
function markEmpty(holder) {
  const empty = holder.dataset.points === '0';
  holder.classList.toggle('empty', empty);
  if (empty && !holder.querySelector('.no-data')) holder.append(el('div', { class: 'no-data' }, 'no data yet'));
  if (!empty) holder.querySelector('.no-data')?.remove();
}

/** Series of `{ x, y }` merged on the union of their x values, for one uPlot data array (nulls elsewhere). */
function align(...series) {
  const xs = [...new Set(series.flatMap((s) => s.x))].sort((a, b) => a - b);
  return [
    xs,
    ...series.map((s) => {
      const at = new Map(s.x.map((x, i) => [x, s.y[i]]));
      return xs.map((x) => (at.has(x) ? at.get(x) : null));
    }),
  ];
}

/**
 * TensorBoard's smoothing: an exponential moving average with weight `w` in [0, 1), debiased so
 * the first points are not pulled towards zero; missing and non-finite points pass through, and a
 * constant series is left as it is.
 */
function smooth(values, w) {
  if (!(w > 0)) return values;
  const finite = values.filter((v) => v !== null && Number.isFinite(v));
  if (finite.every((v) => v === finite[0])) return values;
  let last = 0;
  let accumulated = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return v;
    last = last * w + (1 - w) * v;
    accumulated += 1;
    return last / (1 - Math.pow(w, accumulated));
  });
}
