// Words on the map: the metadata text of chosen points, placed greedily without overlap.
//
// The selected point and its neighbours are written first (nearest first); when the map is
// zoomed in, the points in view follow, nearest the centre of the view first. Each label
// tries four spots around its point (right, left, above, below) and is left out where all
// four overlap a label already placed, so text never piles up. A frame writes at most
// MAX_LABELS labels and looks at most at CONSIDER_MAX points in view (more: zoom in further),
// so drawing text stays cheap on maps of any size.

export const MAX_LABELS = 150;
const CONSIDER_MAX = 3000;
const FONT_PX = 11;
const MAX_CHARS = 32;
const CELL = 64; // device px: placed boxes are bucketed for the overlap test

/** Indices of the points inside the canvas (emphasised ones only, if any), centre first; null if too many. */
function pointsInView(frame) {
  const {sx, sy, n, width, height, emphasis} = frame;
  const found = [];
  for (let i = 0; i < n; i++) {
    if (!(sx[i] >= 0 && sx[i] <= width && sy[i] >= 0 && sy[i] <= height)) continue; // also drops NaN
    if (emphasis && !emphasis[i]) continue;
    if (found.length === CONSIDER_MAX) return null;
    found.push(i);
  }
  const cx = width / 2, cy = height / 2;
  const distance = (i) => (sx[i] - cx) ** 2 + (sy[i] - cy) ** 2;
  return found.sort((a, b) => distance(a) - distance(b) || a - b);
}

class Boxes {
  constructor() {
    this.cells = new Map();
  }

  *_keys(b) {
    for (let x = Math.floor(b.x / CELL); x <= Math.floor((b.x + b.w) / CELL); x++) {
      for (let y = Math.floor(b.y / CELL); y <= Math.floor((b.y + b.h) / CELL); y++) yield `${x},${y}`;
    }
  }

  free(b) {
    for (const key of this._keys(b)) {
      for (const o of this.cells.get(key) || []) {
        if (b.x < o.x + o.w && o.x < b.x + b.w && b.y < o.y + o.h && o.y < b.y + b.h) return false;
      }
    }
    return true;
  }

  add(b) {
    for (const key of this._keys(b)) {
      if (!this.cells.has(key)) this.cells.set(key, []);
      this.cells.get(key).push(b);
    }
  }
}

/**
 * Write the labels; returns them as [{index, text, x, y, w, h}] in CSS px (the box of the text).
 * frame: see scatter_paint.js; priority: indices written first (the first one bold);
 * inView: also the points in view; textOf(i) → string ('' or null: no label); gapPx: CSS px
 * between a point and its words (wider when a thumbnail covers the point).
 */
export function paintLabels(ctx, frame, {priority = [], inView = false, textOf, gapPx = 5}) {
  const {sx, sy, dpr, colours} = frame;
  const size = FONT_PX * dpr, pad = 2 * dpr, gap = gapPx * dpr;
  const boxes = new Boxes();
  const placed = [];
  const seen = new Set();
  ctx.textBaseline = 'middle';
  ctx.lineJoin = 'round';
  ctx.lineWidth = 3 * dpr;
  const place = (i, bold) => {
    if (seen.has(i) || !(sx[i] === sx[i] && sy[i] === sy[i])) return;
    seen.add(i);
    let text = textOf(i);
    if (!text) return;
    text = String(text);
    if (text.length > MAX_CHARS) text = text.slice(0, MAX_CHARS - 1) + '…';
    ctx.font = `${bold ? '600 ' : ''}${size}px Roboto, 'Helvetica Neue', Arial, sans-serif`;
    const w = ctx.measureText(text).width + 2 * pad, h = size + 2 * pad;
    const spots = [[gap, -h / 2], [-gap - w, -h / 2], [-w / 2, -gap - h], [-w / 2, gap]];
    for (const [dx, dy] of spots) {
      const box = {x: sx[i] + dx, y: sy[i] + dy, w, h};
      if (!boxes.free(box)) continue;
      boxes.add(box);
      ctx.strokeStyle = colours.halo;
      ctx.strokeText(text, box.x + pad, box.y + h / 2);
      ctx.fillStyle = colours.ink;
      ctx.fillText(text, box.x + pad, box.y + h / 2);
      placed.push({index: i, text, x: box.x / dpr, y: box.y / dpr, w: w / dpr, h: h / dpr});
      return;
    }
  };
  priority.forEach((i, rank) => { if (placed.length < MAX_LABELS && i !== null && i !== undefined) place(i, rank === 0); });
  if (inView) {
    for (const i of pointsInView(frame) || []) {
      if (placed.length >= MAX_LABELS) break;
      place(i, false);
    }
  }
  return placed;
}
