// Per-point labels → colours: the scatter plot's class array and palette, the legend, the
// colour of any label chip, and "which points have label L" masks. Pure data, no DOM.
//
// The label → colour assignment is made once per selection from whichever label counts
// arrive first (the /clusters table or the per-point metadata), and then reused, so a
// label has the same colour in the table, the chips and the map whatever answered first.

import {assignColours, UNKNOWN} from './palette.js';

export const SINGLE_COLOUR = '#1f77b4';

/** Label counts (Map label → count) from per-point metadata rows. */
export function countLabels(rows, column) {
  const counts = new Map();
  for (const row of rows) {
    if (!row) continue;
    const label = row[column];
    counts.set(label, (counts.get(label) || 0) + 1);
  }
  return counts;
}

/** Label counts from the /clusters answer's `labels`. */
export function countsFromClusters(labels) {
  return new Map(labels.map((row) => [row.label, row.count]));
}

export class PointLabels {
  /**
   * rows: Array(N) of metadata objects (empty while loading, undefined where unknown);
   * column: the label column, or null for an unlabelled embedding (one colour);
   * assignment: assignColours(...) for this label column, or null.
   */
  constructor(rows, column, n, assignment) {
    this.rows = rows || [];
    this.column = column;
    this.n = n;
    this.assignment = column ? assignment : null;
    this.classes = new Uint16Array(n); // all 0 until rows arrive
    if (!column) {
      this.palette = [SINGLE_COLOUR];
      return;
    }
    this.palette = [UNKNOWN]; // class 0: rows whose label we do not know (yet)
    if (!this.assignment || !this.rows.length) return;
    const classOf = new Map();
    for (let i = 0; i < n; i++) {
      const row = this.rows[i];
      if (!row) continue;
      const colour = this.assignment.colourOf(row[column]);
      let cls = classOf.get(colour);
      if (cls === undefined) {
        cls = this.palette.length;
        this.palette.push(colour);
        classOf.set(colour, cls);
      }
      this.classes[i] = cls;
    }
  }

  /** True once every point has its colour. */
  get coloured() {
    return !this.column || (this.assignment !== null && this.rows.length > 0);
  }

  /** True when the points have a label column and every point's label is known (masks work). */
  get labelled() {
    return Boolean(this.column) && this.rows.length > 0;
  }

  /** Map label → number of points, counted once. */
  counts() {
    if (!this.countsCache) this.countsCache = this.column && this.rows.length ? countLabels(this.rows, this.column) : new Map();
    return this.countsCache;
  }

  /** The label spelled `text` (exactly, else ignoring case), or null (also while rows load). */
  findLabel(text) {
    const counts = this.counts();
    if (counts.has(text)) return text;
    const folded = String(text).toLowerCase();
    for (const label of counts.keys()) if (String(label).toLowerCase() === folded) return label;
    return null;
  }

  colourOf(label) {
    return this.assignment ? this.assignment.colourOf(label) : SINGLE_COLOUR;
  }

  metadata(i) {
    return this.rows[i];
  }

  labelOf(i) {
    const row = this.rows[i];
    return row && this.column ? row[this.column] : undefined;
  }

  /** {legend: [{label, colour, count}], other: {count, labels}} for the map's legend. */
  legend() {
    if (!this.assignment) return {legend: [], other: null};
    const a = this.assignment;
    return {legend: a.legend, other: {count: a.otherCount, labels: a.otherLabels}};
  }

  /** Uint8Array(N): 1 where the point has `label`. */
  maskOf(label) {
    const mask = new Uint8Array(this.n);
    if (!this.column) return mask;
    for (let i = 0; i < this.n; i++) if (this.rows[i] && this.rows[i][this.column] === label) mask[i] = 1;
    return mask;
  }
}

export {assignColours};
