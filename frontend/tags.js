// Tags the user gives points ("label error", "ambiguous", "ok", a corrected label) for the
// selected embedding: loaded once per selection from GET /tags, written with POST /tags
// (api.setTags), kept here so every panel shows the same chip. Created by the store; it
// hears 'selection' before the panels do (it registers first) and announces changes as the
// store's `tags` event ({indices}: the rows that changed, null: all).

import * as api from './api.js';

export const TAG_NAMES = ['label error', 'ambiguous', 'ok'];

export class Tags {
  constructor(store) {
    this.store = store;
    this.byIndex = new Map(); // index → {tag, corrected_label}
    this.counts = null;
    this.persistent = true;
    this.error = null;
    this.generation = 0;
    this.ready = Promise.resolve();
    store.on('selection', () => this.load());
  }

  /** {tag, corrected_label} of row `index`, or null. */
  of(index) {
    return this.byIndex.get(index) ?? null;
  }

  load() {
    const generation = ++this.generation;
    this.byIndex = new Map();
    this.counts = null;
    this.error = null;
    const entry = this.store.usableEntry();
    if (!entry) return this.ready;
    this.ready = api.tags(this.store.query()).then((answer) => {
      if (generation !== this.generation) return;
      this.byIndex = new Map(answer.tags.map((t) => [t.index, {tag: t.tag, corrected_label: t.corrected_label}]));
      this.counts = answer.counts;
      this.persistent = answer.persistent;
      this.store.emit('tags', {indices: null});
    }, (error) => {
      if (generation !== this.generation) return;
      this.error = error; // the gallery still works; the tag buttons say what failed when used
      this.store.emit('tags', {indices: null});
    });
    return this.ready;
  }

  /**
   * Tag `indices`: fields {tag} and/or {corrected_label} (null clears). Resolves when the
   * server has it; rejects with the ApiError otherwise (nothing changes here then).
   */
  async set(indices, fields) {
    const generation = this.generation;
    const answer = await api.setTags(this.store.query(), indices, fields);
    if (generation !== this.generation) return answer;
    for (const index of indices) {
      const next = {...(this.byIndex.get(index) || {tag: null, corrected_label: null}), ...fields};
      if (next.tag === null && !next.corrected_label) this.byIndex.delete(index);
      else this.byIndex.set(index, next);
    }
    this.counts = answer.counts;
    this.store.emit('tags', {indices, fields});
    return answer;
  }
}
