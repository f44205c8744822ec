// Per-point labels → colours: the scatter plot's class array and palette, the legend, the
// colour of any label chip, and "which points have label L" masks. Pure data, no DOM.

import {assignColours, UNKNOWN} from './palette.js';

export const SINGLE_COLOUR = '#1f77b4';

export class PointLabels {
  /**
   * rows: Array(N) of metadata objects (undefined where unknown); column: the label
   * column, or null for an unlabelled embedding (every point one colour).
   */
  constructor(rows, column, n) {
    this.rows = rows || [];
    this.column = column;
    this.n = n;
    this.classes = new Uint16Array(n);
    this.colours = null;
    if (!column || !this.rows.length) {
      this.palette = [SINGLE_COLOUR];
      return;
    }
    const counts = new Map();
    for (const row of this.rows) {
      if (!row) continue;
      const label = row[column];
      counts.set(label, (counts.get(label) || 0) + 1);
    }
    this.colours = assignColours(counts);
    this.palette = [UNKNOWN]; // class 0: rows whose metadata we do not have
    const classOf = new Map();
    for (let i = 0; i < n; i++) {
      const row = this.rows[i];
      if (!row) continue;
      const colour = this.colours.colourOf(row[column]);
      let cls = classOf.get(colour);
      if (cls === undefined) {
        cls = this.palette.length;
        this.palette.push(colour);
        classOf.set(colour, cls);
      }
      this.classes[i] = cls;
    }
  }

  get labelled() {
    return this.colours !== null;
  }

  colourOf(label) {
    return this.colours ? this.colours.colourOf(label) : SINGLE_COLOUR;
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
    if (!this.colours) return {legend: [], other: null};
    return {legend: this.colours.legend, other: {count: this.colours.otherCount, labels: this.colours.otherLabels}};
  }

  /** Uint8Array(N): 1 where the point has `label`. */
  maskOf(label) {
    const mask = new Uint8Array(this.n);
    if (!this.column) return mask;
    for (let i = 0; i < this.n; i++) if (this.rows[i] && this.rows[i][this.column] === label) mask[i] = 1;
    return mask;
  }
}
