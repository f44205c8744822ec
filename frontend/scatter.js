// Canvas scatter plot for up to a few hundred thousand points: wheel zoom, drag pan,
// hover and click picking.
//
// This module holds the view (centre, scale) and the data; scatter_input.js turns pointer
// events into zoom, pan, hover and click. A frame
// is painted at most once per requestAnimationFrame by scatter_paint.js (circles for small
// maps, an ImageData raster for big ones) and picking uses scatter_pick.js's bucket grid,
// rebuilt lazily after each frame; scatter_text.js writes the words of chosen points.

import {LIGHT, paintArrows, paintMarks, paintRaster, paintVector, VECTOR_MAX} from './scatter_paint.js';
import {buildPickGrid, nearestPoint} from './scatter_pick.js';
import {bindPointer} from './scatter_input.js';
import {paintLabels} from './scatter_text.js';

const PICK_RADIUS = 7; // CSS px
const CELL = 8; // CSS px, picking grid
const ZOOM_FOR_TEXT = 1.5; // × the fitted scale: from here on the points in view are labelled

export class ScatterPlot {
  /**
   * container: element the canvas fills (its size is observed).
   * onHover(index|null, clientX, clientY), onClick(index|null);
   * textOf(index) → the words written next to a point (null: the map writes none).
   */
  constructor(container, {onHover = () => {}, onClick = () => {}, textOf = null} = {}) {
    this.container = container;
    this.onHover = onHover;
    this.onClick = onClick;
    this.textOf = textOf;
    this.textLabels = []; // the labels of the last frame, CSS px (tests read them)
    this.colours = LIGHT; // see setTheme
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'scatter-canvas';
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', '2-D map of the embedding; scroll to zoom, drag to pan, click a point to see its neighbours');
    container.appendChild(this.canvas);
    this.ctx = this.canvas.getContext('2d');
    this.coords = null; // Float32Array [x0, y0, ...]
    this.n = 0;
    this.classes = null; // Uint16Array: palette index per point
    this.palette = []; // css colours, indexed by class
    this.emphasis = null; // Uint8Array|null: 1 = emphasised; others drawn dimmed
    this.marks = {hard: null, outliers: null, matches: null, neighbors: null, selected: null, hovered: null};
    this.ringsDrawn = {hard: 0, outliers: 0}; // rings on the last frame (tests read them)
    this.arrows = null; // see setArrows
    this.painters = []; // (ctx, frame, plot) drawn over the points, under the marks (thumbnails, 3-D axes)
    this.textGap = null; // CSS px between a point and its words, when a painter covers points (thumbnails)
    this.view = null; // {cx, cy, scale} scale in device px per data unit
    this.fitScale = 1; // the scale that fits every point: zoom is measured against it
    this.dpr = 1;
    this.width = 0;
    this.height = 0;
    this.sx = new Float32Array(0);
    this.sy = new Float32Array(0);
    this.gridDirty = true;
    this.frame = 0;
    this.drawCount = 0;
    this.lastDrawMs = 0;
    bindPointer(this);
    this.resizeObserver = new ResizeObserver(() => this._resize());
    this.resizeObserver.observe(container);
    this._resize();
  }

  destroy() {
    this.resizeObserver.disconnect();
    cancelAnimationFrame(this.frame);
    this.canvas.remove();
  }

  /** coords: Float32Array(2N); classes: Uint16Array(N) of palette indices; palette: css colours. */
  setData(coords, classes, palette) {
    // Keep the user's zoom only when the same map is set again (new colours); another step
    // or projection has another scale, so it is fitted afresh.
    const keepView = this.coords === coords && this.view;
    this.coords = coords;
    this.n = coords.length / 2;
    this.classes = classes;
    this.palette = palette;
    if (this.sx.length !== this.n) {
      this.sx = new Float32Array(this.n);
      this.sy = new Float32Array(this.n);
    }
    if (!keepView) this.resetView(false);
    this.requestDraw();
  }

  /** Nothing to show (another embedding is loading): an empty canvas, no marks, no view. */
  clear() {
    this.coords = null;
    this.n = 0;
    this.emphasis = null;
    this.marks = {hard: null, outliers: null, matches: null, neighbors: null, selected: null, hovered: null};
    this.arrows = null;
    this.view = null;
    this.gridDirty = true;
    this.requestDraw();
  }

  setColours(classes, palette) {
    this.classes = classes;
    this.palette = palette;
    this.requestDraw();
  }

  /** colours: {background, dimmed, ink, halo, hard, outlier} (theme.js mapColours). */
  setTheme(colours) {
    this.colours = colours;
    this.requestDraw();
  }

  setEmphasis(mask) {
    this.emphasis = mask;
    this.requestDraw();
  }

  /** marks: {hard: Int32Array|array, outliers, matches, neighbors, selected: index|null} (partial update). */
  setMarks(marks) {
    Object.assign(this.marks, marks);
    this.requestDraw();
  }

  resetView(draw = true) {
    if (!this.coords) return;
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    const c = this.coords;
    for (let i = 0; i < c.length; i += 2) {
      const x = c[i], y = c[i + 1];
      if (!(x === x && y === y)) continue; // NaN rows are not drawn
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
    if (minX === Infinity) { minX = maxX = minY = maxY = 0; }
    const spanX = Math.max(maxX - minX, 1e-9);
    const spanY = Math.max(maxY - minY, 1e-9);
    const pad = 16 * this.dpr;
    const scale = Math.min((this.width - 2 * pad) / spanX, (this.height - 2 * pad) / spanY);
    this.view = {cx: (minX + maxX) / 2, cy: (minY + maxY) / 2, scale: Math.max(scale, 1e-9)};
    this.fitScale = this.view.scale;
    if (draw) this.requestDraw();
  }

  requestDraw() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this._draw();
    });
  }

  /** Screen (CSS px, relative to the canvas) position of point i, or null. */
  screenPosition(i) {
    if (!this.view || !this.coords) return null;
    const x = this.coords[2 * i], y = this.coords[2 * i + 1];
    if (!(x === x && y === y)) return null;
    const {cx, cy, scale} = this.view;
    return {x: ((x - cx) * scale + this.width / 2) / this.dpr, y: (this.height / 2 - (y - cy) * scale) / this.dpr};
  }

  /** arrows: [{from: [x, y], to: [x, y]}] in data coordinates, or null (scatter_paint.js paintArrows). */
  setArrows(arrows) {
    this.arrows = arrows;
    this.requestDraw();
  }

  /** Data coordinates → device px on the canvas. */
  _toScreen(x, y) {
    const {cx, cy, scale} = this.view;
    return [(x - cx) * scale + this.width / 2, this.height / 2 - (y - cy) * scale];
  }

  // -- drawing -----------------------------------------------------------------------
  _resize() {
    const rect = this.container.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(rect.width * dpr));
    const height = Math.max(1, Math.round(rect.height * dpr));
    if (width === this.width && height === this.height && dpr === this.dpr) return;
    const hadView = this.view && this.width > 0;
    const factor = hadView ? Math.min(width / this.width, height / this.height) : 1;
    if (hadView) [this.view.scale, this.fitScale] = [this.view.scale * factor, this.fitScale * factor];
    this.width = width;
    this.height = height;
    this.dpr = dpr;
    this.canvas.width = width;
    this.canvas.height = height;
    this.image = null;
    if (!hadView) this.resetView(false);
    this.requestDraw();
  }

  _project() {
    const {cx, cy, scale} = this.view;
    const c = this.coords, sx = this.sx, sy = this.sy;
    const ox = this.width / 2, oy = this.height / 2;
    for (let i = 0, j = 0; i < this.n; i++, j += 2) {
      sx[i] = (c[j] - cx) * scale + ox; // NaN stays NaN
      sy[i] = oy - (c[j + 1] - cy) * scale;
    }
  }

  _draw() {
    const started = performance.now();
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    this.textLabels = [];
    this.ringsDrawn = {hard: 0, outliers: 0};
    if (!this.coords || !this.view) {
      ctx.fillStyle = this.colours.background;
      ctx.fillRect(0, 0, this.width, this.height);
      return;
    }
    this._project();
    const frame = this._frame();
    if (this.n <= VECTOR_MAX) paintVector(ctx, frame);
    else this.image = paintRaster(ctx, frame, this.image);
    if (this.arrows) paintArrows(ctx, frame, this.arrows, (x, y) => this._toScreen(x, y));
    for (const painter of this.painters) painter(ctx, frame, this);
    this.ringsDrawn = paintMarks(ctx, frame, this.marks);
    const {selected, neighbors} = this.marks;
    const priority = selected === null || selected === undefined ? [] : [selected, ...(neighbors || [])];
    if (this.textOf) this.textLabels = paintLabels(ctx, frame, {textOf: this.textOf, priority, inView: this.view.scale >= ZOOM_FOR_TEXT * this.fitScale, gapPx: this.textGap ?? 5});
    this.gridDirty = true;
    this.drawCount += 1;
    this.lastDrawMs = performance.now() - started;
    this.canvas.dataset.drawn = String(this.drawCount);
  }

  /** What paintVector / paintRaster / paintMarks need for this frame. */
  _frame() {
    const {sx, sy, n, classes, palette, emphasis, width, height, dpr, colours} = this;
    return {sx, sy, n, classes, palette, emphasis, width, height, dpr, colours};
  }

  // -- picking -----------------------------------------------------------------------
  /** The point nearest to canvas CSS position (x, y) within PICK_RADIUS, preferring emphasised points. */
  pick(cssX, cssY) {
    if (!this.coords || !this.view) return null;
    if (this.gridDirty) {
      this.grid = buildPickGrid(this.sx, this.sy, this.n, this.width, this.height, CELL * this.dpr);
      this.gridDirty = false;
    }
    return nearestPoint(this.grid, this.sx, this.sy, cssX * this.dpr, cssY * this.dpr, PICK_RADIUS * this.dpr, this.emphasis);
  }

  /** Zoom by `factor` keeping the data point under CSS position (x, y) fixed. */
  zoomAt(x, y, factor) {
    if (!this.view) return;
    const px = x * this.dpr - this.width / 2, py = this.height / 2 - y * this.dpr;
    const {scale} = this.view;
    const next = Math.min(Math.max(scale * factor, 1e-12), 1e12);
    this.view.cx += px / scale - px / next;
    this.view.cy += py / scale - py / next;
    this.view.scale = next;
    this.requestDraw();
  }
}
