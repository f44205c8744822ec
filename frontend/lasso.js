// The map's lasso (issue 18.3): a free-form polygon drawn over the scatter plot, and the
// points inside it.
//
// Drawn with the mouse, a pen or a finger (pointer events) while the lasso mode is on, or
// with shift held at any time. The polygon is kept in map (data) coordinates, so it stays
// on its points when the map is zoomed or panned; an SVG over the canvas shows it, redrawn
// after every frame the plot paints (the plot stamps each frame in `data-drawn`).
// The plot's own listeners sit on its canvas: ours listen on the stage in the capture
// phase, so a lasso drag never reaches them (no pan), and a plain click still does.
//
// pointsInPolygon is the cost that grows with the map: O(N + N_in_box · V / bands) with the
// polygon's edges bucketed by horizontal band, so 100,000 points take a few milliseconds.

const SVG = 'http://www.w3.org/2000/svg';
export const MAX_VERTICES = 500; // more are thinned while drawing (every other one dropped)
const STEP_PX = 3; // a vertex every 3 CSS px of pointer travel
const CLICK_PX = 4; // a drag shorter than this is a click

/**
 * Rows whose point (coords: Float32Array [x0, y0, x1, y1, ...], NaN = not on the map) lies
 * inside `polygon` ([x0, y0, x1, y1, ...] in the same coordinates, implicitly closed), by
 * the even-odd rule. Returns an Int32Array of row indices, ascending.
 */
export function pointsInPolygon(coords, polygon) {
  const v = polygon.length >> 1;
  const n = coords.length >> 1;
  if (v < 3 || n === 0) return new Int32Array(0);
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (let k = 0; k < v; k++) {
    const x = polygon[2 * k], y = polygon[2 * k + 1];
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  if (!(maxY > minY && maxX > minX)) return new Int32Array(0);
  // Edges by horizontal band: a point only tests the edges whose y-range meets its band.
  const bands = Math.max(1, Math.min(256, v));
  const bandHeight = (maxY - minY) / bands;
  const bandOf = (y) => Math.min(bands - 1, Math.max(0, Math.floor((y - minY) / bandHeight)));
  const edges = Array.from({length: bands}, () => []);
  for (let k = 0; k < v; k++) {
    const j = (k + 1) % v;
    const y0 = polygon[2 * k + 1], y1 = polygon[2 * j + 1];
    if (y0 === y1) continue; // horizontal: never crossed by a horizontal ray's test below
    for (let b = bandOf(Math.min(y0, y1)), last = bandOf(Math.max(y0, y1)); b <= last; b++) edges[b].push(k);
  }
  const flat = edges.map((list) => {
    const e = new Float64Array(list.length * 4);
    list.forEach((k, m) => {
      const j = (k + 1) % v;
      e.set([polygon[2 * k], polygon[2 * k + 1], polygon[2 * j], polygon[2 * j + 1]], 4 * m);
    });
    return e;
  });
  const inside = new Int32Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const x = coords[2 * i], y = coords[2 * i + 1];
    if (!(x >= minX && x <= maxX && y >= minY && y <= maxY)) continue; // also drops NaN
    const e = flat[bandOf(y)];
    let odd = false;
    for (let m = 0; m < e.length; m += 4) {
      const xa = e[m], ya = e[m + 1], xb = e[m + 2], yb = e[m + 3];
      if ((ya > y) !== (yb > y) && x < ((xb - xa) * (y - ya)) / (yb - ya) + xa) odd = !odd;
    }
    if (odd) inside[count++] = i;
  }
  return inside.slice(0, count);
}

/**
 * The lasso tool of one ScatterPlot. stage: the element that holds the plot's canvas.
 * onSelect({indices, polygon} | null): a lasso was closed (null: it was cleared);
 * onPick(index): a click on a point while the lasso mode is on (the plot's own click).
 */
export class Lasso {
  constructor(plot, stage, {onSelect = () => {}, onPick = () => {}, onMode = () => {}} = {}) {
    this.plot = plot;
    this.stage = stage;
    this.onSelect = onSelect;
    this.onPick = onPick;
    this.onMode = onMode;
    this.active = false; // the lasso mode: a drag draws instead of panning
    this.polygon = null; // Float64Array of data coordinates of the closed lasso, or null
    this.indices = null; // its points
    this.drawing = null; // {id, points: [cssX, cssY, ...]} while the pointer is down
    this.press = null; // a press that may be a click on empty space
    this.svg = document.createElementNS(SVG, 'svg');
    this.svg.setAttribute('class', 'lasso-layer');
    this.svg.setAttribute('aria-hidden', 'true');
    this.path = document.createElementNS(SVG, 'path');
    this.path.setAttribute('class', 'lasso-path');
    this.svg.appendChild(this.path);
    stage.appendChild(this.svg);
    this._bind();
    // Follow the plot's zoom and pan: redraw the closed lasso after each of its frames.
    this.observer = new MutationObserver(() => { if (this.polygon && !this.drawing) this._drawPolygon(); });
    this.observer.observe(plot.canvas, {attributes: true, attributeFilter: ['data-drawn']});
  }

  setActive(on) {
    this.active = Boolean(on);
    this.stage.classList.toggle('lasso-mode', this.active);
    this.onMode(this.active);
  }

  /** Forget the lasso (and a half-drawn one); tells onSelect(null) if there was one. */
  clear() {
    const had = this.polygon !== null || this.drawing !== null;
    this.polygon = null;
    this.indices = null;
    this.drawing = null;
    this.path.removeAttribute('d');
    if (had) this.onSelect(null);
  }

  _local(event) {
    const rect = this.plot.canvas.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top];
  }

  /** CSS px on the canvas → map coordinates (the inverse of ScatterPlot.screenPosition). */
  _toData(cssX, cssY) {
    const {cx, cy, scale} = this.plot.view;
    const {dpr, width, height} = this.plot;
    return [cx + (cssX * dpr - width / 2) / scale, cy + (height / 2 - cssY * dpr) / scale];
  }

  _toCss(x, y) {
    const {cx, cy, scale} = this.plot.view;
    const {dpr, width, height} = this.plot;
    return [((x - cx) * scale + width / 2) / dpr, (height / 2 - (y - cy) * scale) / dpr];
  }

  _pathOf(points, close) {
    if (points.length < 4) return '';
    let d = `M${points[0].toFixed(1)},${points[1].toFixed(1)}`;
    for (let k = 2; k < points.length; k += 2) d += `L${points[k].toFixed(1)},${points[k + 1].toFixed(1)}`;
    return close ? d + 'Z' : d;
  }

  _drawPolygon() {
    if (!this.polygon || !this.plot.view) { this.path.removeAttribute('d'); return; }
    const css = [];
    for (let k = 0; k < this.polygon.length; k += 2) css.push(...this._toCss(this.polygon[k], this.polygon[k + 1]));
    this.path.setAttribute('d', this._pathOf(css, true));
  }

  _bind() {
    const stage = this.stage;
    stage.addEventListener('pointerdown', (event) => {
      if (event.button !== 0 || !this.plot.view || !this.plot.coords) return;
      const [x, y] = this._local(event);
      if (!(this.active || event.shiftKey)) {
        this.press = {id: event.pointerId, x, y};
        return;
      }
      event.stopPropagation(); // the plot must not start a pan
      event.preventDefault();
      try { stage.setPointerCapture(event.pointerId); } catch (_) { /* synthetic events have no capture */ }
      this.drawing = {id: event.pointerId, points: [x, y]};
      this.press = null;
      this.path.setAttribute('d', '');
    }, {capture: true});
    stage.addEventListener('pointermove', (event) => {
      if (!this.drawing || event.pointerId !== this.drawing.id) return;
      event.stopPropagation(); // no hover card while drawing
      const [x, y] = this._local(event);
      const points = this.drawing.points;
      if (Math.hypot(x - points[points.length - 2], y - points[points.length - 1]) < STEP_PX) return;
      points.push(x, y);
      if (points.length > 2 * MAX_VERTICES) this.drawing.points = points.filter((_, k) => (k >> 1) % 2 === 0);
      this.path.setAttribute('d', this._pathOf(this.drawing.points, false));
    }, {capture: true});
    stage.addEventListener('pointerup', (event) => {
      if (this.drawing && event.pointerId === this.drawing.id) {
        event.stopPropagation();
        this._finish(event);
        return;
      }
      const press = this.press;
      this.press = null;
      if (!press || press.id !== event.pointerId || !this.polygon) return;
      const [x, y] = this._local(event);
      // A click on empty space (no point under it) clears the lasso; on a point the plot selects it.
      if (Math.hypot(x - press.x, y - press.y) < CLICK_PX && this.plot.pick(x, y) === null) this.clear();
    }, {capture: true});
    stage.addEventListener('pointercancel', (event) => {
      if (this.drawing && event.pointerId === this.drawing.id) {
        this.drawing = null;
        this._drawPolygon();
      }
    }, {capture: true});
    stage.ownerDocument.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape') return;
      if (this.polygon || this.drawing) this.clear();
      else if (this.active) this.setActive(false);
    });
  }

  _finish(event) {
    const points = this.drawing.points;
    this.drawing = null;
    const [x, y] = this._local(event);
    let span = 0;
    for (let k = 0; k < points.length; k += 2) span = Math.max(span, Math.hypot(points[k] - points[0], points[k + 1] - points[1]));
    if (points.length < 6 || span < CLICK_PX) {
      // A click, not a lasso: a point under it is selected as usual, empty space clears.
      this._drawPolygon();
      const index = this.plot.pick(x, y);
      if (index !== null) this.onPick(index);
      else this.clear();
      return;
    }
    const polygon = new Float64Array(points.length);
    for (let k = 0; k < points.length; k += 2) [polygon[k], polygon[k + 1]] = this._toData(points[k], points[k + 1]);
    this.polygon = polygon;
    this.indices = pointsInPolygon(this.plot.coords, polygon);
    this._drawPolygon();
    this.onSelect({indices: this.indices, polygon});
  }
}
