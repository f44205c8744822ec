// The cartography chart (Dataset Cartography's axes, on kNN neighbourhoods): one dot per
// point at x = variability of its kNN margin over the steps, y = its mean margin; dots
// coloured by label, the likeliest label errors ringed, the selected point marked. A canvas
// with fixed axes (no zoom): the scatter plot's painters draw the dots and rings
// (scatter_paint.js, a raster beyond 20,000 points) and its bucket grid finds the dot under
// the pointer (scatter_pick.js), so 100,000 points cost one typed-array pass per frame.

import {LIGHT, paintMarks, paintRaster, paintVector, VECTOR_MAX} from '../scatter_paint.js';
import {buildPickGrid, nearestPoint} from '../scatter_pick.js';
import {el} from './dom.js';

const MARGIN = {left: 46, right: 12, top: 10, bottom: 38}; // CSS px around the plot area
const PICK_RADIUS = 7; // CSS px
const CELL = 8; // CSS px, picking grid

/** Round tick values covering [lo, hi] (about `count` of them). */
export function ticks(lo, hi, count = 5) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
  return out;
}

export class CartographyChart {
  /**
   * onHover(position|null, clientX, clientY), onClick(position|null): positions index the
   * arrays given to setData.
   */
  constructor({onHover = () => {}, onClick = () => {}} = {}) {
    this.canvas = el('canvas', {class: 'cartography-canvas', role: 'img',
      'aria-label': 'cartography: each point’s mean kNN margin against how much it varied over the steps; click a point to select it'});
    this.node = el('div', {class: 'cartography-stage'}, this.canvas);
    this.ctx = this.canvas.getContext('2d');
    this.colours = LIGHT;
    this.n = 0;
    this.x = null; // Float32Array(n): variability
    this.y = null; // Float32Array(n): mean margin
    this.classes = null;
    this.palette = [];
    this.marks = {hard: null, matches: null, neighbors: null, selected: null, hovered: null};
    this.sx = new Float32Array(0);
    this.sy = new Float32Array(0);
    this.width = 0;
    this.height = 0;
    this.dpr = 1;
    this.frame = 0;
    this.drawCount = 0;
    this.grid = null;
    this.onHover = onHover;
    this.onClick = onClick;
    this._bind();
    this.resizeObserver = new ResizeObserver(() => this._resize());
    this.resizeObserver.observe(this.node);
  }

  /** x, y: Float32Array(n) (NaN: not drawn); classes: Uint16Array(n) into palette (css colours). */
  setData(x, y, classes, palette) {
    Object.assign(this, {x, y, classes, palette, n: x.length});
    let xMax = 0;
    for (let i = 0; i < x.length; i++) if (x[i] > xMax) xMax = x[i];
    // The margin lies in [−1, 1]; variability (a standard deviation of it) in [0, 1].
    this.range = {x: [0, Math.min(1, Math.max(0.05, xMax * 1.05))], y: [-1.05, 1.05]};
    this.sx = new Float32Array(this.n);
    this.sy = new Float32Array(this.n);
    this.requestDraw();
  }

  /** marks: {hard: positions to ring, selected: position|null} (partial update). */
  setMarks(marks) {
    Object.assign(this.marks, marks);
    this.requestDraw();
  }

  setTheme(colours) {
    this.colours = colours;
    this.requestDraw();
  }

  /** Canvas CSS position of point `p`, or null (tests click through it). */
  screenPosition(p) {
    if (!this.x || !(this.sx[p] === this.sx[p])) return null;
    return {x: this.sx[p] / this.dpr, y: this.sy[p] / this.dpr};
  }

  requestDraw() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this._draw();
    });
  }

  _resize() {
    const rect = this.node.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(rect.width * dpr));
    const height = Math.max(1, Math.round(rect.height * dpr));
    if (width === this.width && height === this.height && dpr === this.dpr) return;
    Object.assign(this, {width, height, dpr, image: null});
    this.canvas.width = width;
    this.canvas.height = height;
    this.requestDraw();
  }

  _plotArea() {
    const d = this.dpr;
    return {left: MARGIN.left * d, top: MARGIN.top * d, right: this.width - MARGIN.right * d, bottom: this.height - MARGIN.bottom * d};
  }

  _draw() {
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    if (!this.x || this.width < 2) {
      ctx.fillStyle = this.colours.background;
      ctx.fillRect(0, 0, this.width, this.height);
      return;
    }
    const area = this._plotArea();
    const [x0, x1] = this.range.x, [y0, y1] = this.range.y;
    const kx = (area.right - area.left) / (x1 - x0), ky = (area.bottom - area.top) / (y1 - y0);
    for (let i = 0; i < this.n; i++) {
      this.sx[i] = area.left + (this.x[i] - x0) * kx; // NaN stays NaN: not drawn, not picked
      this.sy[i] = area.bottom - (this.y[i] - y0) * ky;
    }
    const frame = {sx: this.sx, sy: this.sy, n: this.n, classes: this.classes, palette: this.palette, emphasis: null,
      width: this.width, height: this.height, dpr: this.dpr, colours: this.colours};
    if (this.n <= VECTOR_MAX) paintVector(ctx, frame);
    else this.image = paintRaster(ctx, frame, this.image);
    this._axes(ctx, area, kx, ky);
    paintMarks(ctx, frame, this.marks);
    this.grid = null;
    this.drawCount += 1;
    this.canvas.dataset.drawn = String(this.drawCount);
  }

  _axes(ctx, area, kx, ky) {
    const d = this.dpr;
    const {ink} = this.colours;
    const [x0] = this.range.x, [y0] = this.range.y;
    ctx.save();
    ctx.strokeStyle = ink;
    ctx.fillStyle = ink;
    ctx.globalAlpha = 0.8;
    ctx.lineWidth = d;
    ctx.font = `${11 * d}px Roboto, 'Helvetica Neue', Arial, sans-serif`;
    ctx.beginPath();
    ctx.moveTo(area.left, area.top);
    ctx.lineTo(area.left, area.bottom);
    ctx.lineTo(area.right, area.bottom);
    ctx.stroke();
    // y = 0: above it the label wins its neighbours' vote, below it another label does.
    const zero = area.bottom - (0 - y0) * ky;
    ctx.globalAlpha = 0.35;
    ctx.setLineDash([4 * d, 4 * d]);
    ctx.beginPath();
    ctx.moveTo(area.left, zero);
    ctx.lineTo(area.right, zero);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.globalAlpha = 0.8;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const v of ticks(-1, 1, 4)) {
      const y = area.bottom - (v - y0) * ky;
      ctx.fillText(String(v), area.left - 6 * d, y);
      ctx.fillRect(area.left - 3 * d, y, 3 * d, d);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const v of ticks(this.range.x[0], this.range.x[1], 5)) {
      const x = area.left + (v - x0) * kx;
      ctx.fillText(String(+v.toFixed(3)), x, area.bottom + 5 * d);
      ctx.fillRect(x, area.bottom, d, 3 * d);
    }
    ctx.fillText('variability of the margin over the steps →', (area.left + area.right) / 2, area.bottom + 20 * d);
    ctx.save();
    ctx.translate(12 * d, (area.top + area.bottom) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = 'middle';
    ctx.fillText('mean kNN margin (label wins ↑)', 0, 0);
    ctx.restore();
    ctx.restore();
  }

  pick(cssX, cssY) {
    if (!this.x) return null;
    if (!this.grid) this.grid = buildPickGrid(this.sx, this.sy, this.n, this.width, this.height, CELL * this.dpr);
    return nearestPoint(this.grid, this.sx, this.sy, cssX * this.dpr, cssY * this.dpr, PICK_RADIUS * this.dpr, null);
  }

  _bind() {
    const local = (event) => {
      const rect = this.canvas.getBoundingClientRect();
      return {x: event.clientX - rect.left, y: event.clientY - rect.top};
    };
    this.canvas.addEventListener('pointermove', (event) => {
      const {x, y} = local(event);
      const p = this.pick(x, y);
      if (p !== this.marks.hovered) this.setMarks({hovered: p});
      this.onHover(p, event.clientX, event.clientY);
    });
    this.canvas.addEventListener('pointerleave', () => {
      this.setMarks({hovered: null});
      this.onHover(null);
    });
    this.canvas.addEventListener('click', (event) => {
      const {x, y} = local(event);
      this.onClick(this.pick(x, y));
    });
  }
}
