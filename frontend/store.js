// The selection store: the one place that holds what the user has chosen, keeps it in the
// URL (state.js) and tells the panels when it changes. Panels change it through its
// methods and hear the changes as events; they never call each other.
//
// State: the /runs answer; the selection the server is asked about (run, embedding, step,
// label column, k, metric); the selected point, the map's projection, the highlight search,
// the focused label (these four and the selection are in the URL); the hard-example filter
// and the review queue (in the URL too: a shared link shows the same ranking);
// the answers that several panels draw (`data`: neighbors, search, clusters) and the label
// colours (colours.js). Requests shared between panels go through `requests` (answers.js).
//
// Events (topic → detail):
//   selection   {}          the selection changed or the tab started: every panel reloads
//                           (`data` and the colours are reset before)
//   point       {load}      the selected point; load=false when it came with its neighbours
//   focus       {}          the emphasised label
//   search      {}          the search text (plain or regex) and column
//   projection  {}          PCA / t-SNE / UMAP / custom
//   mapOptions  {fields}    the map's options (store.map, map_options.js) changed
//   bookmark    {}          the user wants to name this view (the Bookmarks card)
//   hardFilter  {reveal}    the hard-example filter; reveal: bring the gallery into view
//   review      {}          the review queue opened, closed or resized
//   data        {name}      a shared answer arrived (or was dropped) in `data[name]`
//   colours     {kind}      see colours.js
//   tags        {indices, fields}  tags changed (tags.js); indices null: all were (re)loaded
//   chosen      {}          the chosen points (chosen.js: store.chosen) or their isolation changed

import * as api from './api.js';
import {Chosen} from './chosen.js';
import {Colours} from './colours.js';
import {SCORES} from './scores.js';
import {readMapOptions} from './map_options.js';
import {readState, writeState} from './state.js';
import {Tags} from './tags.js';

const DEFAULTS = {k: 10, metric: 'auto', projection: 'pca'};

/** How many numbered steps a /runs entry has (a history needs two). */
export function numberedSteps(entry) {
  return (entry?.steps || []).filter(Number.isInteger).length;
}
const METRICS = ['auto', 'cosine', 'euclidean'];
const MAX_K = 1000;
const CACHED_ANSWERS = 24;

export class SelectionStore {
  constructor() {
    const saved = readState();
    this.runs = null;
    this.sel = {
      run: saved.run ?? null, embedding: saved.embedding ?? null, step: saved.step ?? null,
      labelColumn: saved.labelColumn ?? null, k: saved.k ?? DEFAULTS.k,
      metric: METRICS.includes(saved.metric) ? saved.metric : DEFAULTS.metric,
      rows: null, // rows= of the isolated selection (chosen.js); not in the URL
    };
    this.point = saved.point ?? null;
    this.projection = ['tsne', 'umap', 'custom'].includes(saved.projection) ? saved.projection : DEFAULTS.projection;
    this.map = readMapOptions(saved); // the map's options (map_options.js): colours, words, 3-D, settings
    this.search = saved.search ?? null;
    this.searchColumn = '';
    this.searchRegex = saved.searchRegex === '1'; // off: the search text is plain text
    this.focus = saved.focus ?? null;
    this.hard = {label: saved.hardLabel ?? null, predicted: saved.hardPredicted ?? null, method: Object.hasOwn(SCORES, saved.hardMethod ?? '') ? saved.hardMethod : null,
      offset: 0, hideOk: saved.hideOk === '1'};
    this.review = {open: saved.review === '1', size: saved.reviewSize ?? null}; // the review queue (panels/review.js)
    this.data = {};
    this.requests = new api.SharedRequests(CACHED_ANSWERS);
    this.colours = new Colours(this);
    this.listeners = new Map();
    this.tags = new Tags(this); // tags of the selected embedding (tags.js); hears 'selection' first
    this.chosen = new Chosen(this); // the chosen points and their isolation (chosen.js)
  }

  // -- events --------------------------------------------------------------------------
  on(topic, listener) {
    if (!this.listeners.has(topic)) this.listeners.set(topic, []);
    this.listeners.get(topic).push(listener);
  }

  emit(topic, detail = {}) {
    for (const listener of this.listeners.get(topic) || []) {
      try {
        listener(detail);
      } catch (error) {
        // One broken panel must not stop the others from hearing the change; the error
        // still reaches the console (and the browser tests) as an uncaught exception.
        setTimeout(() => { throw error; });
      }
    }
  }

  // -- derived -------------------------------------------------------------------------
  /** The selected embedding's /runs entry, or null. */
  entry() {
    const run = this.runs?.runs.find((r) => r.run === this.sel.run);
    return run?.embeddings.find((e) => e.name === this.sel.embedding) ?? null;
  }

  /** The selected entry if it can be analysed (listed and not broken), else null. */
  usableEntry() {
    const entry = this.entry();
    return entry && !entry.error ? entry : null;
  }

  labelColumn() {
    const entry = this.entry();
    if (!entry || !entry.columns?.length) return null;
    if (this.sel.labelColumn && entry.columns.includes(this.sel.labelColumn)) return this.sel.labelColumn;
    return entry.label_column ?? null;
  }

  /** Points the analysis uses: rows without NaN/Inf (as far as /runs knows). */
  validPoints() {
    const entry = this.entry();
    return (entry?.shape?.[0] ?? 0) - (entry?.nonfinite_rows || 0);
  }

  /** Current selection as sent to the server (label column resolved, step only if chosen). */
  query() {
    const n = this.validPoints();
    const k = n > 1 ? Math.min(this.sel.k, n - 1) : this.sel.k; // the server's bound: k ≤ N − 1
    return {...this.sel, k, labelColumn: this.labelColumn()};
  }

  /** Which embedding's data is shown: a search or focus means nothing for another one. */
  dataKey() {
    return `${this.sel.run}\u0000${this.sel.embedding}`;
  }

  thumbUrl(index) {
    return this.entry()?.has_sprite ? api.thumbnailUrl(this.query(), index) : null;
  }

  /** `promise`'s answer, once label colours are known (so chips are coloured right). */
  async withColours(promise) {
    const answer = await promise;
    await this.colours.ready;
    return answer;
  }

  // -- changes -------------------------------------------------------------------------
  save() {
    writeState({...this.sel, point: this.point, projection: this.projection, search: this.search,
      searchRegex: this.searchRegex ? '1' : null, focus: this.focus, hardMethod: this.hard.method,
      hardLabel: this.hard.label, hardPredicted: this.hard.label === null ? null : this.hard.predicted,
      hideOk: this.hard.hideOk ? '1' : null, review: this.review.open ? '1' : null,
      reviewSize: this.review.open ? this.review.size : null, ...this.map});
  }

  /** Fix up a selection against /runs: unknown names fall back to the first available. */
  normalise() {
    const runs = this.runs.runs;
    let run = runs.find((r) => r.run === this.sel.run);
    if (!run) run = runs.find((r) => r.embeddings.some((e) => !e.error)) || runs[0];
    this.sel.run = run ? run.run : null;
    const embeddings = run ? run.embeddings : [];
    if (!embeddings.some((e) => e.name === this.sel.embedding)) {
      this.sel.embedding = (embeddings.find((e) => !e.error) || embeddings[0])?.name ?? null;
    }
    const entry = this.entry();
    if (entry && this.sel.step !== null && !(entry.steps || []).includes(this.sel.step)) this.sel.step = null;
    if (entry && this.sel.labelColumn && !(entry.columns || []).includes(this.sel.labelColumn)) this.sel.labelColumn = null;
    const n = entry?.shape?.[0] ?? 0;
    this.sel.k = Math.max(1, Math.min(Math.round(this.sel.k) || DEFAULTS.k, MAX_K));
    if (this.point !== null && !(this.point >= 0 && this.point < n)) this.point = null;
  }

  /** The /runs answer arrived: apply the saved selection and start every panel. */
  start(runs) {
    this.runs = runs;
    this.select({}, {initial: true});
  }

  /** patch: {run, embedding, step, labelColumn, k, metric, point, rows}; force: reload even if unchanged. */
  select(patch, {initial = false, force = false} = {}) {
    const before = JSON.stringify(this.query());
    const beforeKey = this.dataKey();
    Object.assign(this.sel, patch);
    if ('point' in patch) { this.point = patch.point; delete this.sel.point; }
    this.normalise();
    if (!initial && !force && JSON.stringify(this.query()) === before) return;
    if (!initial && this.dataKey() !== beforeKey) {
      this.search = null;
      this.focus = null;
      this.hard.method = null; // another embedding may not have the score (history needs steps)
      this.review = {open: false, size: null};
      this.sel.rows = null; // another embedding's rows
    }
    // A link or a reload keeps the label filter and the confusion cell; a new selection starts afresh.
    this.hard = initial ? {...this.hard, offset: 0} : {...this.hard, label: null, predicted: null, offset: 0};
    if (this.hard.method === 'history' && numberedSteps(this.entry()) < 2) this.hard.method = null;
    this.save();
    this.data = {};
    const entry = this.usableEntry();
    this.colours.reset(entry, entry ? this.labelColumn() : null);
    // Started before the panels' requests: the map's colours are the first thing people see.
    if (entry) this.colours.load();
    this.emit('selection');
  }

  /** load=false: the neighbours of `index` are already known (they chose it). */
  selectPoint(index, {load = true} = {}) {
    this.point = index;
    this.save();
    this.emit('point', {load});
  }

  setFocus(label) {
    this.focus = label;
    this.save();
    this.emit('focus');
  }

  /** text: searched in the metadata (regex: as a regular expression), or null to stop; column: '' = any. */
  setSearch(text, column = this.searchColumn, {regex = this.searchRegex} = {}) {
    this.search = text;
    this.searchColumn = column;
    this.searchRegex = regex;
    this.save();
    this.emit('search');
  }

  setProjection(method) {
    this.projection = method;
    this.save();
    this.emit('projection');
  }

  /** patch: map options (map_options.js); `mapOptions` {fields} says which changed. */
  setMap(patch) {
    Object.assign(this.map, patch);
    this.save();
    this.emit('mapOptions', {fields: Object.keys(patch)});
  }

  /** patch: {label, predicted, method, offset, hideOk}. */
  setHardFilter(patch, {reveal = false} = {}) {
    this.hard = {...this.hard, ...patch};
    this.save();
    this.emit('hardFilter', {reveal});
  }

  /** patch: {open, size} of the review queue (panels/review.js). */
  setReview(patch) {
    this.review = {...this.review, ...patch};
    this.save();
    this.emit('review');
  }

  /** A panel's answer that others draw too (the map draws neighbours and matches). */
  publish(name, value) {
    if (this.data[name] === value) return;
    this.data[name] = value;
    this.emit('data', {name});
  }
}
