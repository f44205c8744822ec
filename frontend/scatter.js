// Canvas scatter plot for up to a few hundred thousand points: wheel zoom, drag pan,
// hover and click picking.
//
// Speed: a frame is drawn at most once per requestAnimationFrame. Small maps (≤ VECTOR_MAX
// points) are drawn as anti-aliased circles batched into one path per colour; bigger ones
// are written straight into an ImageData buffer as small squares (one typed-array write per
// pixel, no per-point canvas calls), which keeps 100,000 points well under a frame.
// Picking uses a screen-space bucket grid rebuilt lazily after each frame (counting sort
// into flat Int32Arrays), so hover is O(points in 3×3 cells) instead of O(N).

import {packColour} from './palette.js';

const VECTOR_MAX = 20000;
const PICK_RADIUS = 7; // CSS px
const CELL = 8; // CSS px, picking grid
const BACKGROUND = '#ffffff';
const DIMMED = '#e0e0e0';
const MATCH_RINGS_MAX = 300; // beyond this, emphasis alone shows the matches

export class ScatterPlot {
  /**
   * container: element the canvas fills (its size is observed).
   * onHover(index|null, clientX, clientY), onClick(index|null).
   */
  constructor(container, {onHover = () => {}, onClick = () => {}} = {}) {
    this.container = container;
    this.onHover = onHover;
    this.onClick = onClick;
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
    this.marks = {hard: null, matches: null, neighbors: null, selected: null, hovered: null};
    this.view = null; // {cx, cy, scale} scale in device px per data unit
    this.dpr = 1;
    this.width = 0;
    this.height = 0;
    this.sx = new Float32Array(0);
    this.sy = new Float32Array(0);
    this.gridDirty = true;
    this.frame = 0;
    this.drawCount = 0;
    this.lastDrawMs = 0;
    this._bindEvents();
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

  setColours(classes, palette) {
    this.classes = classes;
    this.palette = palette;
    this.requestDraw();
  }

  setEmphasis(mask) {
    this.emphasis = mask;
    this.requestDraw();
  }

  /** marks: {hard: Int32Array|array, matches, neighbors, selected: index|null} (partial update). */
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

  // -- drawing -----------------------------------------------------------------------
  _resize() {
    const rect = this.container.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(rect.width * dpr));
    const height = Math.max(1, Math.round(rect.height * dpr));
    if (width === this.width && height === this.height && dpr === this.dpr) return;
    const hadView = this.view && this.width > 0;
    if (hadView) this.view.scale *= Math.min(width / this.width, height / this.height);
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
    if (!this.coords || !this.view) {
      ctx.fillStyle = BACKGROUND;
      ctx.fillRect(0, 0, this.width, this.height);
      return;
    }
    this._project();
    if (this.n <= VECTOR_MAX) this._drawVector();
    else this._drawRaster();
    this._drawMarks();
    this.gridDirty = true;
    this.drawCount += 1;
    this.lastDrawMs = performance.now() - started;
    this.canvas.dataset.drawn = String(this.drawCount);
  }

  _pointRadius() {
    // Fewer points → bigger dots; scaled by device pixel ratio.
    const css = this.n < 2000 ? 3.2 : this.n < 10000 ? 2.4 : 1.8;
    return css * this.dpr;
  }

  _drawVector() {
    const ctx = this.ctx;
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(0, 0, this.width, this.height);
    const r = this._pointRadius();
    const {sx, sy, classes, emphasis} = this;
    const w = this.width + r, h = this.height + r;
    const groups = this.palette.length + 1;
    const dimmed = groups - 1;
    // Bucket indices by colour (dimmed first so emphasised points draw on top).
    const paths = Array.from({length: groups}, () => new Path2D());
    for (let i = 0; i < this.n; i++) {
      const x = sx[i], y = sy[i];
      if (!(x > -r && x < w && y > -r && y < h)) continue;
      const group = emphasis && !emphasis[i] ? dimmed : classes ? classes[i] : 0;
      const path = paths[group];
      path.moveTo(x + r, y);
      path.arc(x, y, r, 0, 2 * Math.PI);
    }
    ctx.globalAlpha = 1;
    ctx.fillStyle = DIMMED;
    ctx.fill(paths[dimmed]);
    ctx.globalAlpha = emphasis ? 1 : 0.85;
    for (let g = 0; g < groups - 1; g++) {
      ctx.fillStyle = this.palette[g] || '#000';
      ctx.fill(paths[g]);
    }
    ctx.globalAlpha = 1;
  }

  _drawRaster() {
    const {width, height} = this;
    if (!this.image || this.image.width !== width || this.image.height !== height) {
      this.image = this.ctx.createImageData(width, height);
      this.pixels = new Uint32Array(this.image.data.buffer);
    }
    const pixels = this.pixels;
    pixels.fill(packColour(BACKGROUND));
    const colours = Uint32Array.from(this.palette, (c) => packColour(c));
    const dimmedColour = packColour(DIMMED);
    const size = Math.max(1, Math.round(this._pointRadius() * 1.2));
    const half = size >> 1;
    const {sx, sy, classes, emphasis} = this;
    const maxX = width - size, maxY = height - size;
    // Two passes: dimmed points underneath, coloured on top.
    for (let pass = emphasis ? 0 : 1; pass < 2; pass++) {
      for (let i = 0; i < this.n; i++) {
        const isEmph = !emphasis || emphasis[i] === 1;
        if ((pass === 0) === isEmph) continue;
        const x0 = (sx[i] - half) | 0, y0 = (sy[i] - half) | 0;
        if (!(x0 >= 0 && x0 <= maxX && y0 >= 0 && y0 <= maxY)) continue; // also drops NaN
        const colour = pass === 0 ? dimmedColour : colours[classes ? classes[i] : 0];
        let row = y0 * width + x0;
        for (let dy = 0; dy < size; dy++, row += width) {
          for (let dx = 0; dx < size; dx++) pixels[row + dx] = colour;
        }
      }
    }
    this.ctx.putImageData(this.image, 0, 0);
  }

  _ring(i, radius, stroke, width, fill = null) {
    const x = this.sx[i], y = this.sy[i];
    if (!(x === x && y === y)) return;
    const ctx = this.ctx;
    ctx.beginPath();
    ctx.arc(x, y, radius * this.dpr, 0, 2 * Math.PI);
    if (fill) {
      ctx.fillStyle = fill;
      ctx.fill();
    }
    ctx.lineWidth = width * this.dpr;
    ctx.strokeStyle = stroke;
    ctx.stroke();
  }

  _drawMarks() {
    const ctx = this.ctx;
    const {hard, matches, neighbors, selected, hovered} = this.marks;
    if (hard) for (const i of hard) this._ring(i, 4.5, 'rgba(33, 33, 33, 0.85)', 1.2);
    if (matches && matches.length <= MATCH_RINGS_MAX) for (const i of matches) this._ring(i, 4, '#f57c00', 1.6);
    if (selected !== null && selected !== undefined && neighbors) {
      ctx.lineWidth = 1 * this.dpr;
      ctx.strokeStyle = 'rgba(230, 81, 0, 0.55)';
      ctx.beginPath();
      for (const i of neighbors) {
        if (!(this.sx[i] === this.sx[i])) continue;
        ctx.moveTo(this.sx[selected], this.sy[selected]);
        ctx.lineTo(this.sx[i], this.sy[i]);
      }
      ctx.stroke();
      for (const i of neighbors) this._ring(i, 4.5, '#e65100', 1.8);
    }
    if (selected !== null && selected !== undefined) {
      this._ring(selected, 8, '#ffffff', 4);
      this._ring(selected, 8, '#212121', 2);
    }
    if (hovered !== null && hovered !== undefined) this._ring(hovered, 6, '#212121', 1.5);
  }

  // -- picking -----------------------------------------------------------------------
  _buildGrid() {
    const cell = CELL * this.dpr;
    const cols = Math.max(1, Math.ceil(this.width / cell));
    const rows = Math.max(1, Math.ceil(this.height / cell));
    const cellOf = new Int32Array(this.n);
    const starts = new Int32Array(cols * rows + 1);
    for (let i = 0; i < this.n; i++) {
      const x = this.sx[i], y = this.sy[i];
      if (!(x >= 0 && x < this.width && y >= 0 && y < this.height)) { cellOf[i] = -1; continue; }
      const c = ((y / cell) | 0) * cols + ((x / cell) | 0);
      cellOf[i] = c;
      starts[c + 1] += 1;
    }
    for (let c = 0; c < cols * rows; c++) starts[c + 1] += starts[c];
    const fill = starts.slice(0, cols * rows);
    const order = new Int32Array(starts[cols * rows]);
    for (let i = 0; i < this.n; i++) if (cellOf[i] >= 0) order[fill[cellOf[i]]++] = i;
    this.grid = {cell, cols, rows, starts, order};
    this.gridDirty = false;
  }

  /** The point nearest to canvas CSS position (x, y) within PICK_RADIUS, preferring emphasised points. */
  pick(cssX, cssY) {
    if (!this.coords || !this.view) return null;
    if (this.gridDirty) this._buildGrid();
    const {cell, cols, rows, starts, order} = this.grid;
    const x = cssX * this.dpr, y = cssY * this.dpr;
    const col = (x / cell) | 0, row = (y / cell) | 0;
    const limit = (PICK_RADIUS * this.dpr) ** 2;
    let best = null, bestD = Infinity;
    for (let r = row - 1; r <= row + 1; r++) {
      if (r < 0 || r >= rows) continue;
      for (let c = col - 1; c <= col + 1; c++) {
        if (c < 0 || c >= cols) continue;
        const cellIndex = r * cols + c;
        for (let k = starts[cellIndex]; k < starts[cellIndex + 1]; k++) {
          const i = order[k];
          let d = (this.sx[i] - x) ** 2 + (this.sy[i] - y) ** 2;
          if (this.emphasis && !this.emphasis[i]) d += limit * 0.5; // dimmed points lose ties
          if (d < bestD && d <= limit) { bestD = d; best = i; }
        }
      }
    }
    return best;
  }

  // -- interaction -------------------------------------------------------------------
  _bindEvents() {
    const canvas = this.canvas;
    let drag = null;
    const local = (event) => {
      const rect = canvas.getBoundingClientRect();
      return {x: event.clientX - rect.left, y: event.clientY - rect.top};
    };
    canvas.addEventListener('wheel', (event) => {
      if (!this.view) return;
      event.preventDefault();
      const {x, y} = local(event);
      const factor = Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.0015));
      this.zoomAt(x, y, factor);
    }, {passive: false});
    canvas.addEventListener('pointerdown', (event) => {
      if (event.button !== 0) return;
      canvas.setPointerCapture(event.pointerId);
      drag = {x: event.clientX, y: event.clientY, moved: false};
    });
    canvas.addEventListener('pointermove', (event) => {
      if (drag) {
        const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
        if (drag.moved || Math.abs(dx) + Math.abs(dy) > 3) {
          drag.moved = true;
          canvas.classList.add('dragging');
          this.view.cx -= (dx * this.dpr) / this.view.scale;
          this.view.cy += (dy * this.dpr) / this.view.scale;
          drag.x = event.clientX;
          drag.y = event.clientY;
          this.setMarks({hovered: null});
          this.onHover(null);
        }
        return;
      }
      const {x, y} = local(event);
      const index = this.pick(x, y);
      if (index !== this.marks.hovered) this.setMarks({hovered: index});
      this.onHover(index, event.clientX, event.clientY);
    });
    canvas.addEventListener('pointerup', (event) => {
      if (!drag) return;
      const moved = drag.moved;
      drag = null;
      canvas.classList.remove('dragging');
      if (!moved) {
        const {x, y} = local(event);
        this.onClick(this.pick(x, y));
      }
    });
    canvas.addEventListener('pointerleave', () => {
      if (drag) return;
      this.setMarks({hovered: null});
      this.onHover(null);
    });
    canvas.addEventListener('dblclick', () => this.resetView());
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
