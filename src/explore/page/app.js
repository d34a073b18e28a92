// The explorer page: reads the run through `api` (api.js) and lays out its views: training curves
// (training.js), the evaluation table (evaluation.js), each clustering (clusterings.js, heatmap.js,
// neighbours.js), with the view kept in the URL (url-state.js).
'use strict';

async function main() {
  const app = document.getElementById('app');
  const overview = await api.overview();
  document.getElementById('run-name').textContent = overview.name;
  const curves = el('div', { id: 'curves' });
  app.replaceChildren(curves);
  renderStages(curves, overview.stages);
  for (const problem of overview.problems) app.append(el('p', { class: 'problem' }, `cannot show ${problem}`));
  renderEvaluations(app, overview.evaluations);
  if (overview.stages.length === 0 && overview.clusterings.length === 0 && overview.evaluations.length === 0) {
    app.append(
      el('p', { class: 'muted' }, 'nothing to show yet: no metrics.jsonl, clustering or evaluation in this folder'),
    );
  }
  for (const info of overview.clusterings) renderClustering(app, info);
  // The view the link names (sort, page, selected cluster, smoothing), then back/forward follow it.
  await viewState.apply({ scroll: true });
  viewState.listen();
  document.body.dataset.ready = 'true';
  if (api.live) poll(curves, overview.stages);
}

/** Curves of a run in progress: the server reads a metrics file again only when it has grown. */
function poll(curves, stages) {
  const running = stages.some(isRunning);
  document.getElementById('live').textContent = running ? '● live' : '';
  setTimeout(async () => {
    try {
      const next = await api.stages();
      renderStages(curves, next);
      poll(curves, next);
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
