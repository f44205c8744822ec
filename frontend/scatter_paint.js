// Painting one frame of the scatter plot (scatter.js): the points, then the marks on top.
// Pure functions of the projected screen positions (device px) and what to show; the plot
// object decides when to paint.
//
// Colours come with the frame (`colours`: background, dimmed, ink, halo, hard, outlier; theme.js reads
// them from style.css), so the map follows the light or dark theme; LIGHT is the default.
//
// Small maps (≤ VECTOR_MAX points) are anti-aliased circles batched into one path per colour;
// bigger ones are written straight into an ImageData buffer as small squares (one typed-array
// write per pixel, no per-point canvas calls), which keeps 100,000 points well under a frame.

import {packColour} from './palette.js';

export const VECTOR_MAX = 20000;
// background and dimmed must be '#rrggbb' (the raster packs them into pixels).
export const LIGHT = {background: '#ffffff', dimmed: '#e0e0e0', ink: '#212121', halo: '#ffffff', hard: 'rgba(33, 33, 33, 0.85)',
  outlier: '#aa00ff'};
const MATCH_RINGS_MAX = 300; // beyond this, emphasis alone shows the matches

/** Dot radius in device px: fewer points → bigger dots. */
export function pointRadius(n, dpr) {
  const css = n < 2000 ? 3.2 : n < 10000 ? 2.4 : 1.8;
  return css * dpr;
}

/**
 * frame: {sx, sy: Float32Array(N) screen positions (NaN = not drawn), n, classes: Uint16Array|null,
 * palette: css colours per class, emphasis: Uint8Array|null (0 = dimmed), width, height, dpr,
 * colours: see LIGHT}.
 */
export function paintVector(ctx, frame) {
  const {sx, sy, n, classes, palette, emphasis, width, height, colours} = frame;
  ctx.fillStyle = colours.background;
  ctx.fillRect(0, 0, width, height);
  const r = pointRadius(n, frame.dpr);
  const w = width + r, h = height + r;
  const groups = palette.length + 1;
  const dimmed = groups - 1;
  // Bucket indices by colour (dimmed first so emphasised points draw on top).
  const paths = Array.from({length: groups}, () => new Path2D());
  for (let i = 0; i < n; i++) {
    const x = sx[i], y = sy[i];
    if (!(x > -r && x < w && y > -r && y < h)) continue;
    const group = emphasis && !emphasis[i] ? dimmed : classes ? classes[i] : 0;
    const path = paths[group];
    path.moveTo(x + r, y);
    path.arc(x, y, r, 0, 2 * Math.PI);
  }
  ctx.globalAlpha = 1;
  ctx.fillStyle = colours.dimmed;
  ctx.fill(paths[dimmed]);
  ctx.globalAlpha = emphasis ? 1 : 0.85;
  for (let g = 0; g < groups - 1; g++) {
    ctx.fillStyle = palette[g] || '#000';
    ctx.fill(paths[g]);
  }
  ctx.globalAlpha = 1;
}

/**
 * Like paintVector, into `image` (an ImageData of the canvas's size, reused between frames;
 * a new one is made when it is null or the wrong size). Returns the image used.
 */
export function paintRaster(ctx, frame, image) {
  const {sx, sy, n, classes, palette, emphasis, width, height, colours: theme} = frame;
  if (!image || image.width !== width || image.height !== height) image = ctx.createImageData(width, height);
  const pixels = new Uint32Array(image.data.buffer);
  pixels.fill(packColour(theme.background));
  const colours = Uint32Array.from(palette, (c) => packColour(c));
  const dimmedColour = packColour(theme.dimmed);
  const size = Math.max(1, Math.round(pointRadius(n, frame.dpr) * 1.2));
  const half = size >> 1;
  const maxX = width - size, maxY = height - size;
  // Two passes: dimmed points underneath, coloured on top.
  for (let pass = emphasis ? 0 : 1; pass < 2; pass++) {
    for (let i = 0; i < n; i++) {
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
  ctx.putImageData(image, 0, 0);
  return image;
}

/** A ring around point i; false when the point is not drawn (NaN). dash: [on, off] CSS px. */
function ring(ctx, frame, i, radius, stroke, width, fill = null, dash = null) {
  const x = frame.sx[i], y = frame.sy[i];
  if (!(x === x && y === y)) return false;
  ctx.beginPath();
  ctx.arc(x, y, radius * frame.dpr, 0, 2 * Math.PI);
  if (fill) {
    ctx.fillStyle = fill;
    ctx.fill();
  }
  ctx.lineWidth = width * frame.dpr;
  ctx.strokeStyle = stroke;
  if (dash) ctx.setLineDash(dash.map((d) => d * frame.dpr));
  ctx.stroke();
  if (dash) ctx.setLineDash([]);
  return true;
}

function rings(ctx, frame, indices, ...style) {
  let drawn = 0;
  if (indices) for (const i of indices) if (ring(ctx, frame, i, ...style)) drawn++;
  return drawn;
}

/**
 * marks: {hard, outliers, matches, neighbors: index lists or null; selected, hovered: index or null}.
 * Outliers get a wider dashed ring in their own colour, so a point that is both shows both.
 * Returns how many hard and outlier rings were drawn (rows with NaN/Inf have none).
 */
export function paintMarks(ctx, frame, marks) {
  const {sx, sy, dpr, colours} = frame;
  const {hard, outliers, matches, neighbors, selected, hovered} = marks;
  const drawn = {
    outliers: rings(ctx, frame, outliers, 7, colours.outlier || LIGHT.outlier, 1.8, null, [3, 2]),
    hard: rings(ctx, frame, hard, 4.5, colours.hard, 1.2),
  };
  if (matches && matches.length <= MATCH_RINGS_MAX) for (const i of matches) ring(ctx, frame, i, 4, '#f57c00', 1.6);
  if (selected !== null && selected !== undefined && neighbors) {
    ctx.lineWidth = 1 * dpr;
    ctx.strokeStyle = 'rgba(230, 81, 0, 0.55)';
    ctx.beginPath();
    for (const i of neighbors) {
      if (!(sx[i] === sx[i])) continue;
      ctx.moveTo(sx[selected], sy[selected]);
      ctx.lineTo(sx[i], sy[i]);
    }
    ctx.stroke();
    for (const i of neighbors) ring(ctx, frame, i, 4.5, '#e65100', 1.8);
  }
  if (selected !== null && selected !== undefined) {
    ring(ctx, frame, selected, 8, colours.halo, 4);
    ring(ctx, frame, selected, 8, colours.ink, 2);
  }
  if (hovered !== null && hovered !== undefined) ring(ctx, frame, hovered, 6, colours.ink, 1.5);
  return drawn;
}

/**
 * Arrows from where points were to where they are (issue 16.5, "moved since step"):
 * arrows: [{from: [x, y], to: [x, y]}] in data coordinates; toScreen(x, y) → [sx, sy] device px.
 */
export function paintArrows(ctx, frame, arrows, toScreen) {
  const {dpr, colours} = frame;
  const head = 5 * dpr;
  ctx.save();
  ctx.strokeStyle = colours.ink;
  ctx.fillStyle = colours.ink;
  ctx.globalAlpha = 0.7;
  ctx.lineWidth = 1.1 * dpr;
  for (const {from, to} of arrows) {
    const [x0, y0] = toScreen(from[0], from[1]);
    const [x1, y1] = toScreen(to[0], to[1]);
    const length = Math.hypot(x1 - x0, y1 - y0);
    if (!(length > 1)) continue;
    const ux = (x1 - x0) / length, uy = (y1 - y0) / length;
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1 - ux * head * 0.8, y1 - uy * head * 0.8);
    ctx.stroke();
    ctx.beginPath();
    ctx.moveTo(x1, y1);
    ctx.lineTo(x1 - ux * head - uy * head * 0.5, y1 - uy * head + ux * head * 0.5);
    ctx.lineTo(x1 - ux * head + uy * head * 0.5, y1 - uy * head - ux * head * 0.5);
    ctx.closePath();
    ctx.fill();
  }
  ctx.restore();
}
