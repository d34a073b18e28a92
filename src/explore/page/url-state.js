// The view in the URL's hash, so a link (or a reload) reopens the same view and back/forward step
// through it: `#view=<clustering>&smooth=0.6&<clustering>:sort=purity&<clustering>:page=2&...`.
// Only what differs from the defaults is written. The hash works the same on the server's page and
// on a report opened from disk (file://), where a query string would be a different file.
'use strict';

/** The fields of a clustering's view, in the order they are written. */
const VIEW_FIELDS = ['sort', 'order', 'page', 'min', 'cluster'];

const viewState = {
  /** Clustering views by id: `{ state(), defaults(), apply(state) }`. */
  views: new Map(),
  /** The clustering the user last worked in (the page scrolls to it when the link is opened). */
  focus: null,
  /** The hash this page last wrote: its own change coming back as a hashchange is not applied again. */
  written: null,

  register(id, view) {
    this.views.set(id, view);
  },

  /** The state the URL holds: `{ smooth, view, clusterings: { id: { sort, order, page, min, cluster } } }`. */
  read() {
    const params = new URLSearchParams(location.hash.slice(1));
    const clusterings = {};
    for (const [key, value] of params) {
      const at = key.lastIndexOf(':');
      if (at <= 0) continue;
      const [id, field] = [key.slice(0, at), key.slice(at + 1)];
      if (!VIEW_FIELDS.includes(field)) continue;
      (clusterings[id] ??= {})[field] = field === 'sort' || field === 'order' ? value : Number(value);
    }
    return { smooth: Number(params.get('smooth') ?? 0), view: params.get('view'), clusterings };
  },

  /** Writes the current view as a new history entry (back returns to the one before). */
  save(focus) {
    if (focus !== undefined) this.focus = focus;
    const params = new URLSearchParams();
    if (this.focus !== null) params.set('view', this.focus);
    if (trainingView.smoothing > 0) params.set('smooth', String(trainingView.smoothing));
    for (const [id, view] of this.views) {
      const state = view.state();
      const defaults = view.defaults();
      for (const field of VIEW_FIELDS) {
        if (state[field] !== undefined && state[field] !== null && state[field] !== defaults[field])
          params.set(`${id}:${field}`, String(state[field]));
      }
    }
    const hash = `#${params}`;
    if (hash === (location.hash || '#')) return;
    this.written = hash;
    location.hash = hash;
  },

  /** Shows what the URL says: every clustering its state from the hash (the defaults where it says nothing). */
  async apply({ scroll = false } = {}) {
    const wanted = this.read();
    this.focus = wanted.view;
    if (trainingView.smoothing !== wanted.smooth) setSmoothing(wanted.smooth);
    await Promise.all(
      [...this.views].map(([id, view]) => view.apply({ ...view.defaults(), ...(wanted.clusterings[id] ?? {}) })),
    );
    if (scroll && wanted.view !== null) {
      const section = [...document.querySelectorAll('.clustering')].find((s) => s.dataset.clustering === wanted.view);
      (section?.querySelector('.tile.selected') ?? section)?.scrollIntoView({ block: 'start' });
    }
  },

  /** Back and forward (and a pasted link) move the hash: show what it says. */
  listen() {
    window.addEventListener('hashchange', () => {
      if (location.hash === this.written) return;
      this.written = null;
      this.apply().catch((error) => console.error(error));
    });
  },
};
