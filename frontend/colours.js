// Label colours for the current selection: the colour of each label (chips, legend, map) and
// every point's label (the map's colours, its hover card, "points with label L" masks).
//
// The label → colour assignment is fixed once per selection from whichever label counts
// arrive first: the /clusters answer (its panels call assign()) or every row's metadata
// (load()). Panels that show label chips wait for `ready`, so a chip never changes colour.
// Changes are announced as the store's 'colours' events: {kind: 'legend'} once the
// assignment is fixed, {kind: 'points'} once every point has its label, {kind: 'error', error}
// when the labels could not be listed (everything else works without them).

import {metadataColumn} from './answers.js';
import {assignColours, countLabels, PointLabels} from './labels.js';

const METADATA_RETRY_MS = 1500;

export class Colours {
  constructor(store) {
    this.store = store;
    this.generation = 0;
    this.reset(null, null);
  }

  /** A new selection: no colours yet. entry: its /runs entry; column: the label column or null. */
  reset(entry, column) {
    this.generation += 1;
    this.assignment = null;
    this.labels = new PointLabels([], column, entry?.shape?.[0] ?? 0, null);
    this.ready = new Promise((resolve) => { this.resolve = resolve; });
    if (!column) this.resolve();
  }

  colourOf(label) {
    return this.labels.colourOf(label);
  }

  /** Fix the label → colour assignment from the first label counts (Map label → count). */
  assign(counts) {
    if (this.assignment) return;
    this.assignment = assignColours(counts);
    const {rows, column, n} = this.labels;
    this.labels = new PointLabels(rows, column, n, this.assignment);
    this.store.emit('colours', {kind: 'legend'});
    this.resolve();
  }

  /** Every row's metadata (labels for colours, the rest for the hover card). */
  metadata() {
    const store = this.store;
    const entry = store.entry();
    const q = store.query();
    const column = q.labelColumn ?? entry.columns?.[0] ?? null;
    if (!entry.columns?.length) return Promise.resolve({total: 0, rows: []});
    return metadataColumn(store, column);
  }

  /** Per-point labels for the current selection; the map is painted before they arrive. */
  async load() {
    const generation = this.generation;
    const isCurrent = () => generation === this.generation;
    const column = this.store.labelColumn();
    const n = this.store.entry().shape[0];
    try {
      let meta;
      try {
        meta = await this.metadata();
      } catch (error) {
        // Listing every row is the one request a busy server can time out on; retry once.
        await new Promise((resolve) => setTimeout(resolve, METADATA_RETRY_MS));
        if (!isCurrent()) return;
        meta = await this.metadata();
      }
      if (!isCurrent()) return;
      if (column) this.assign(countLabels(meta.rows, column));
      this.labels = new PointLabels(meta.rows, column, n, this.assignment);
      this.store.emit('colours', {kind: 'points'});
    } catch (error) {
      if (!isCurrent()) return;
      this.store.emit('colours', {kind: 'error', error});
      this.resolve();
    }
  }
}
