// The evaluation table: one row per layer, the models side by side in the method's order.
'use strict';

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
