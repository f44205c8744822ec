// The points the user has chosen (issue 27.3): one selection, whatever made it — the lasso,
// the search matches, a confusion cell, a tag, a label, the keyboard (Space on the map).
// The selection card (panels/selection.js) shows its gallery and tags it; "Isolate"
// restricts the map, the statistics, the hard examples and the neighbours to it (the server
// computes on those rows alone: `rows=` in api.js, tb_embedanalysis/queries/subsets.py),
// "Show all" ends that. Held by the store as `store.chosen`; changes are the store's
// `chosen` event. Forgotten when another embedding is chosen (store.select drops rows= too).

/** Longest rows= the server takes (plugin/params.py row_ranges): a GET under 64 KB. */
export const MAX_ROWS_CHARS = 48000;

/** Sorted distinct row numbers → "3,5,10-19" (runs of consecutive rows as ranges). */
export function rowsParam(indices) {
  const parts = [];
  for (let i = 0; i < indices.length;) {
    let j = i;
    while (j + 1 < indices.length && indices[j + 1] === indices[j] + 1) j++;
    parts.push(j > i ? `${indices[i]}-${indices[j]}` : String(indices[i]));
    i = j + 1;
  }
  return parts.join(',');
}

export class Chosen {
  constructor(store) {
    this.store = store;
    this.current = null; // {source, title, indices: Int32Array sorted distinct}
    this.mask = null; // Uint8Array(N): 1 = chosen
    this.key = null; // the embedding it was made on (store.dataKey)
    store.on('selection', () => {
      if (this.current && store.dataKey() !== this.key) this._forget();
    });
  }

  get isolated() {
    return Boolean(this.store.sel.rows);
  }

  get count() {
    return this.current ? this.current.indices.length : 0;
  }

  has(index) {
    return Boolean(this.mask?.[index]);
  }

  /** Choose `indices` (any order, repeats allowed); source: 'lasso' | 'search' | 'confusion' | 'tag' | 'label' | 'keys'. */
  set(indices, {source, title}) {
    const n = this.store.entry()?.shape?.[0] ?? 0;
    const sorted = Int32Array.from(new Set(Array.from(indices).filter((i) => i >= 0 && i < n))).sort();
    this.current = {source, title, indices: sorted};
    this.key = this.store.dataKey();
    this.mask = new Uint8Array(n);
    for (const i of sorted) this.mask[i] = 1;
    if (this.isolated) {
      if (this.rows()) this.isolate(); // the isolated view follows the new selection
      else this.showAll();
    }
    this.store.emit('chosen');
  }

  /** Add or remove one point (the keyboard's Space on the map). */
  toggle(index) {
    const have = this.current ? Array.from(this.current.indices) : [];
    const next = this.has(index) ? have.filter((i) => i !== index) : [...have, index];
    if (!next.length) this.clear();
    else this.set(next, {source: this.current?.source === 'keys' || !this.current ? 'keys' : this.current.source,
      title: this.current?.title ?? 'chosen with the keyboard'});
  }

  clear() {
    if (!this.current) return;
    const wasIsolated = this.isolated;
    this.current = null;
    this.mask = null;
    if (wasIsolated) this.showAll();
    this.store.emit('chosen');
  }

  /** rows= for the selection, or null when it is too long to send (MAX_ROWS_CHARS). */
  rows() {
    if (!this.current) return null;
    const text = rowsParam(this.current.indices);
    return text.length <= MAX_ROWS_CHARS ? text : null;
  }

  /** Restrict every panel to the selection (the store asks the server again, with rows=). */
  isolate() {
    const rows = this.rows();
    if (!rows || this.current.indices.length < 2) return false;
    this.store.select({rows}, {force: true});
    this.store.emit('chosen');
    return true;
  }

  showAll() {
    if (!this.isolated) return;
    this.store.select({rows: null}, {force: true});
    this.store.emit('chosen');
  }

  _forget() {
    this.current = null;
    this.mask = null;
    this.key = null;
    this.store.emit('chosen');
  }
}
