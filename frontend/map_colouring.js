// Colouring the map by any metadata column (issue 27.4): categorical columns get the label
// palette (palette.js: the 20 most frequent values, the rest "other"); numeric columns (the
// server says which, /metadata `numeric`, with the exact min and max) a gradient. Pure data,
// no DOM: the map's classes, palette and legend.

import {assignColours, naturalCompare, UNKNOWN} from './palette.js';

// viridis (matplotlib's perceptually uniform map) from 0.1 to 1: its darkest tenth is left
// out so the low end still shows on the dark theme's map.
const VIRIDIS = ['#482475', '#414487', '#355f8d', '#2a788e', '#21918c', '#22a884', '#44bf70', '#7ad151', '#bddf26', '#fde725'];
export const GRADIENT_STEPS = 32;
export const MISSING = UNKNOWN;

function mix(a, b, t) {
  const pa = parseInt(a.slice(1), 16), pb = parseInt(b.slice(1), 16);
  const channel = (shift) => Math.round(((pa >> shift) & 255) * (1 - t) + ((pb >> shift) & 255) * t);
  return '#' + [16, 8, 0].map((s) => channel(s).toString(16).padStart(2, '0')).join('');
}

/** The colour at t ∈ [0, 1] of the gradient ('#rrggbb'). */
export function gradientColour(t) {
  const x = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  return mix(VIRIDIS[i], VIRIDIS[i + 1], x - i);
}

/** The gradient's stops, for the legend's CSS linear-gradient. */
export const GRADIENT_CSS = `linear-gradient(to right, ${VIRIDIS.join(', ')})`;

/**
 * Colours of `n` points by `column` of meta = {rows, numeric} (api.allMetadata).
 * gradient: use the numeric colouring when the column is numeric.
 * Returns {classes: Uint16Array(n), palette, legend}: legend {kind: 'gradient', column, min,
 * max, missing} or {kind: 'categorical', column, items: [{label, colour, count}], other}.
 */
export function colouring(meta, column, n, {gradient = true} = {}) {
  const classes = new Uint16Array(n);
  const rows = meta.rows;
  const numeric = meta.numeric;
  if (gradient && numeric && numeric.min !== null) {
    const palette = [MISSING];
    for (let s = 0; s < GRADIENT_STEPS; s++) palette.push(gradientColour(s / (GRADIENT_STEPS - 1)));
    const byValue = new Map();
    const span = numeric.max - numeric.min;
    for (let i = 0; i < n; i++) {
      const text = rows[i]?.[column];
      if (text === undefined) continue;
      let cls = byValue.get(text);
      if (cls === undefined) {
        // The server's number for this text: categories are the distinct texts, in order.
        const value = numeric.byText.get(text);
        cls = value === null || value === undefined ? 0
          : 1 + (span > 0 ? Math.round(((value - numeric.min) / span) * (GRADIENT_STEPS - 1)) : 0);
        byValue.set(text, cls);
      }
      classes[i] = cls;
    }
    return {classes, palette, legend: {kind: 'gradient', column, min: numeric.min, max: numeric.max, missing: numeric.missing}};
  }
  const counts = new Map();
  for (let i = 0; i < n; i++) {
    const text = rows[i]?.[column];
    if (text !== undefined) counts.set(text, (counts.get(text) || 0) + 1);
  }
  const assignment = assignColours(counts);
  const palette = [UNKNOWN];
  const classOf = new Map();
  for (let i = 0; i < n; i++) {
    const text = rows[i]?.[column];
    if (text === undefined) continue;
    const colour = assignment.colourOf(text);
    let cls = classOf.get(colour);
    if (cls === undefined) {
      cls = palette.length;
      palette.push(colour);
      classOf.set(colour, cls);
    }
    classes[i] = cls;
  }
  const items = [...assignment.legend].sort((a, b) => naturalCompare(a.label, b.label));
  return {classes, palette, legend: {kind: 'categorical', column, items,
    other: {count: assignment.otherCount, labels: assignment.otherLabels}}};
}
