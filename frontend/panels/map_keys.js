// The map from the keyboard (issue 27.7): Tab focuses the map and a point on it (the
// selected point, else the one nearest the middle); the arrows move to the nearest point in
// that direction (within 45° of it, the nearer and the straighter the better); Enter shows
// its neighbours (as a click does); Space adds it to the chosen points or takes it out (the
// lasso's keyboard equivalent, chosen.js); Esc lets go of it. The focused point is ringed
// as a hovered one and described by the map's tooltip; a point outside the view is brought
// into it. Owned by the map panel (panels/map.js).
//
// One rule with the 3-D view (map_projector.js): on a 3-D map the plain arrows turn the map,
// so Shift+arrows move between points there; Shift+arrows move between points on the 2-D map
// as well, so they work the same in both.

const HINT = '2-D map of the embedding; scroll to zoom, drag to pan, click a point to see its neighbours. '
  + 'Keyboard: arrows (or Shift+arrows) move between points, Enter shows a point’s neighbours, '
  + 'Space adds it to the selection, Esc lets go.';
const HINT_3D = '3-D map of the embedding; scroll to zoom, drag to rotate, Alt+drag to pan, click a point to see its '
  + 'neighbours. Keyboard: arrows turn the map, Shift+arrows move between points, Enter shows a point’s neighbours, '
  + 'Space adds it to the selection, Esc lets go.';

/**
 * The point to go to from screen position (x0, y0) in direction (dx, dy) (unit, device px,
 * y down) among positions sx, sy (NaN: not shown), or null: in a 45° cone, the smallest
 * along + 2·across (distance along the direction plus twice the distance across it).
 */
export function nextInDirection(sx, sy, from, dx, dy) {
  const x0 = sx[from], y0 = sy[from];
  let best = null;
  let bestScore = Infinity;
  for (let i = 0; i < sx.length; i++) {
    const vx = sx[i] - x0, vy = sy[i] - y0;
    const along = vx * dx + vy * dy;
    if (!(along > 0) || i === from) continue; // NaN fails too
    const across = Math.abs(vx * dy - vy * dx);
    if (across > along) continue;
    const score = along + 2 * across;
    if (score < bestScore) { bestScore = score; best = i; }
  }
  return best;
}

const DIRECTIONS = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1]};

export class MapKeys {
  /** turns(): whether the map is 3-D now (its plain arrows then turn it, map_projector.js). */
  constructor(store, view, {turns = () => false} = {}) {
    this.store = store;
    this.view = view;
    this.plot = view.plot;
    this.current = null;
    this.turns = turns;
    const canvas = this.plot.canvas;
    canvas.tabIndex = 0;
    canvas.setAttribute('aria-label', HINT);
    canvas.addEventListener('focus', () => {
      if (this.current === null || !this._shown(this.current)) this.go(this.start());
    });
    canvas.addEventListener('blur', () => view._hover(null));
    canvas.addEventListener('keydown', (event) => this.onKey(event));
    store.on('selection', () => { this.current = null; });
  }

  /** The map became 2-D or 3-D: say which keys do what there. */
  setDims(dims) {
    this.plot.canvas.setAttribute('aria-label', dims === 3 ? HINT_3D : HINT);
  }

  /** The 3-D map turned: the focused point's ring moved with it, its tooltip follows. */
  turned() {
    if (this.current === null || document.activeElement !== this.plot.canvas) return;
    const at = this.plot.screenPosition(this.current);
    if (!at) return;
    const rect = this.plot.canvas.getBoundingClientRect();
    this.view._hover(this.current, rect.left + at.x, rect.top + at.y);
  }

  _shown(i) {
    return i !== null && i < this.plot.n && Number.isFinite(this.plot.coords?.[2 * i]);
  }

  /** The selected point if it is on the map, else the shown point nearest the view's centre. */
  start() {
    const {plot, store} = this;
    if (!plot.coords || !plot.view) return null;
    if (this._shown(store.point)) return store.point;
    const {cx, cy} = plot.view;
    let best = null;
    let bestDistance = Infinity;
    for (let i = 0; i < plot.n; i++) {
      const x = plot.coords[2 * i] - cx, y = plot.coords[2 * i + 1] - cy;
      const d = x * x + y * y;
      if (d < bestDistance) { bestDistance = d; best = i; } // NaN never is
    }
    return best;
  }

  onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const direction = DIRECTIONS[event.key];
    if (direction && !event.shiftKey && this.turns()) return; // the 3-D map turns (map_projector.js)
    if (direction) {
      event.preventDefault();
      if (this.current === null) { this.go(this.start()); return; }
      const next = nextInDirection(this.plot.sx, this.plot.sy, this.current, direction[0], direction[1]);
      if (next !== null) this.go(next);
    } else if (event.key === 'Enter' && this.current !== null) {
      event.preventDefault();
      this.store.selectPoint(this.current);
    } else if (event.key === ' ' && this.current !== null) {
      event.preventDefault();
      this.store.chosen.toggle(this.current);
    } else if (event.key === 'Escape') {
      this.go(null);
    }
  }

  /** Focus point `index` (null: none): ring it, describe it, bring it into view. */
  go(index) {
    const plot = this.plot;
    this.current = index;
    plot.canvas.dataset.focused = index === null ? '' : String(index);
    plot.setMarks({hovered: index});
    if (index === null) { this.view._hover(null); return; }
    let at = plot.screenPosition(index);
    const width = plot.width / plot.dpr, height = plot.height / plot.dpr;
    if (at && (at.x < 0 || at.y < 0 || at.x > width || at.y > height)) {
      plot.view.cx = plot.coords[2 * index];
      plot.view.cy = plot.coords[2 * index + 1];
      plot.requestDraw();
      at = plot.screenPosition(index);
    }
    if (!at) return;
    const rect = plot.canvas.getBoundingClientRect();
    this.view._hover(index, rect.left + at.x, rect.top + at.y);
  }
}
