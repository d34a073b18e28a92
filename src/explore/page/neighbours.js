// An image's nearest neighbours in feature space, in a panel at the bottom right.
'use strict';

// Escape closes the neighbour panel, as any overlay.
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape') document.getElementById('neighbours').hidden = true;
});

/** Cosine similarity from the squared L2 distance of unit vectors (d = 2 - 2 cos), as a researcher reads it. */
function cosine(distance) {
  return 1 - distance / 2;
}

/** The newest search: a quick second click must not be overwritten by the first one's later answer. */
let neighboursAsked = 0;

async function showNeighbours(info, index) {
  const ticket = ++neighboursAsked;
  const panel = document.getElementById('neighbours');
  panel.hidden = false;
  panel.replaceChildren(el('p', { class: 'muted' }, 'searching…'));
  try {
    const found = await api.neighbours(info.id, index);
    if (ticket !== neighboursAsked) return;
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
    if (ticket !== neighboursAsked) return;
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
