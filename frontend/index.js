// Entry point of the Embedding Analysis tab. TensorBoard loads this module in an iframe and
// calls render(); from then on we own document.body.
//
// This module holds the UI state (selection, selected point, filters), keeps it in the URL
// (state.js), asks api.js for data and hands answers to the view modules. Every panel load
// is tagged with a generation number: an answer for a selection the user has already left
// is dropped instead of overwriting the newer one.

import * as api from './api.js';
import {readState, writeState} from './state.js';
import {naturalCompare} from './palette.js';
import {assignColours, countLabels, countsFromClusters, PointLabels} from './labels.js';
import {el, replace} from './views/dom.js';
import {errorBox, loadInto, progress} from './views/feedback.js';
import {brokenEmbedding, emptyLogdir, noLabels} from './views/notices.js';
import {selectorBar} from './views/selector.js';
import {neighborList, pointRow, queryForm, searchList} from './views/neighbors.js';
import {labelChip} from './views/point.js';
import {clusterTable, overallFigures} from './views/clusters.js';
import {confusionMatrix} from './views/confusion.js';
import {hardGallery, hardToolbar} from './views/hard.js';
import {compareView} from './views/compare.js';
import {MapView} from './views/map.js';

const DEFAULTS = {k: 10, metric: 'cosine', projection: 'pca'};
const HARD_PAGE = 24;
const MAP_HARD = 200; // hardest points ringed on the map

/** Timestamps (ms since epoch) of first paints, read by bench/bench_tab_paint.py. */
const marks = (window.__embedanalysis = {marks: {}});
function mark(name) {
  if (!(name in marks.marks)) marks.marks[name] = performance.timeOrigin + performance.now();
}

function ensureStylesheet() {
  if (document.querySelector('link[data-embedanalysis]')) return;
  // Relative to the document's <base> (/data/plugin/embedanalysis/), like every other URL.
  document.head.appendChild(el('link', {rel: 'stylesheet', href: './style.css', 'data-embedanalysis': ''}));
  const viewport = document.querySelector('meta[name=viewport]');
  if (!viewport) document.head.appendChild(el('meta', {name: 'viewport', content: 'width=device-width, initial-scale=1'}));
}

function card(title, cls, ...extra) {
  const body = el('div', {class: 'card-body'});
  const actions = el('div', {class: 'card-actions'}, extra);
  const heading = el('h2', {class: 'card-title'}, title);
  const node = el('section', {class: `card ${cls}`}, el('div', {class: 'card-head'}, heading, actions), body);
  return {node, body, heading, actions};
}

class App {
  constructor(root) {
    this.root = root;
    this.runs = null;
    const saved = readState();
    this.sel = {
      run: saved.run ?? null, embedding: saved.embedding ?? null, step: saved.step ?? null,
      labelColumn: saved.labelColumn ?? null, k: saved.k ?? DEFAULTS.k,
      metric: saved.metric === 'euclidean' ? 'euclidean' : DEFAULTS.metric,
    };
    this.point = saved.point ?? null;
    this.projection = saved.projection === 'tsne' ? 'tsne' : 'pca';
    this.search = saved.search ?? null;
    this.focus = saved.focus ?? null;
    this.searchColumn = '';
    this.hard = {label: null, predicted: null, method: null, offset: 0};
    this.sort = {key: 'knn_recall', dir: 1};
    this.compareFigure = 'purity';
    this.showHard = true;
    this.generation = {};
    this.requests = new api.SharedRequests(24);
    this.data = {}; // answers for the current selection: coords, clusters, hardTop, neighbors, search
    this.labels = new PointLabels([], null, 0, null);
  }

  // -- skeleton ------------------------------------------------------------------------
  build() {
    this.root.replaceChildren();
    this.root.classList.add('ea');
    this.topbar = el('div', {class: 'topbar-slot'});
    this.banner = el('div', {class: 'banner-slot'});
    this.cards = {
      map: card('Map', 'card-map'),
      neighbors: card('Neighbours', 'card-neighbors'),
      clusters: card('Cluster statistics', 'card-clusters'),
      confusion: card('Confusion matrix', 'card-confusion'),
      hard: card('Hard examples', 'card-hard'),
      compare: card('Compare steps', 'card-compare'),
    };
    this.map = new MapView({
      onSelect: (i) => this.selectPoint(i),
      onProjection: (m) => { this.projection = m; this.saveState(); this.loadMap(); },
      onFocusLabel: (label) => this.setFocus(label),
      onToggleHard: (on) => { this.showHard = on; this.updateMarks(); },
      describe: (i) => this.describe(i),
    });
    this.cards.map.body.appendChild(this.map.node);
    this.neighborForm = el('div', {class: 'query-slot'});
    this.searchSlot = el('div', {class: 'search-slot'});
    this.neighborSlot = el('div', {class: 'neighbor-slot'});
    this.cards.neighbors.body.append(this.neighborForm, this.searchSlot, this.neighborSlot);
    this.grid = el('main', {class: 'grid'}, Object.values(this.cards).map((c) => c.node));
    this.root.append(this.topbar, this.banner, this.grid);
  }

  async start() {
    this.build();
    replace(this.grid, el('div', {class: 'card wide'}, el('div', {class: 'card-body'}, el('p', {class: 'muted'}, 'Looking for embeddings…'))));
    try {
      this.runs = await api.runs();
    } catch (error) {
      replace(this.grid, errorBox(error, {title: 'Could not list the embeddings', retry: () => this.start()}));
      return;
    }
    replace(this.grid, Object.values(this.cards).map((c) => c.node));
    this.setSelection({}, {initial: true});
  }

  // -- state ---------------------------------------------------------------------------
  entry() {
    const run = this.runs?.runs.find((r) => r.run === this.sel.run);
    return run?.embeddings.find((e) => e.name === this.sel.embedding) ?? null;
  }

  labelColumn() {
    const entry = this.entry();
    if (!entry || !entry.columns?.length) return null;
    if (this.sel.labelColumn && entry.columns.includes(this.sel.labelColumn)) return this.sel.labelColumn;
    return entry.label_column ?? null;
  }

  /** Current selection as sent to the server (label column resolved, step only if chosen). */
  query() {
    const n = this.entry()?.shape?.[0] ?? 0;
    const k = n > 1 ? Math.min(this.sel.k, n - 1) : this.sel.k; // the server's bound: k ≤ N − 1
    return {...this.sel, k, labelColumn: this.labelColumn()};
  }

  saveState() {
    writeState({...this.sel, point: this.point, projection: this.projection, search: this.search, focus: this.focus});
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
    this.sel.k = Math.max(1, Math.min(Math.round(this.sel.k) || DEFAULTS.k, 1000));
    if (this.point !== null && !(this.point >= 0 && this.point < n)) this.point = null;
  }

  setSelection(patch, {initial = false} = {}) {
    const before = JSON.stringify(this.query());
    const beforeKey = this.dataKey();
    Object.assign(this.sel, patch);
    if ('point' in patch) { this.point = patch.point; delete this.sel.point; }
    this.normalise();
    if (!initial && JSON.stringify(this.query()) === before) return;
    if (!initial && this.dataKey() !== beforeKey) {
      this.search = null;
      this.focus = null;
    }
    this.hard = {...this.hard, label: null, predicted: null, offset: 0};
    this.saveState();
    this.renderTopbar();
    this.loadAll();
  }

  dataKey() {
    return `${this.sel.run}\u0000${this.sel.embedding}`;
  }

  /** A new generation for `panel`: returns isCurrent() for its answers. */
  begin(panel) {
    const gen = (this.generation[panel] || 0) + 1;
    this.generation[panel] = gen;
    return () => this.generation[panel] === gen;
  }

  renderTopbar() {
    replace(this.topbar, selectorBar({runs: this.runs.runs, sel: {...this.sel, labelColumn: this.labelColumn()}, entry: this.entry(),
      onChange: (patch) => this.setSelection(patch)}));
  }

  colourOf(label) {
    return this.labels.colourOf(label);
  }

  thumbUrl(index) {
    const entry = this.entry();
    return entry?.has_sprite ? api.thumbnailUrl(this.query(), index) : null;
  }

  // -- loading -------------------------------------------------------------------------
  loadAll() {
    replace(this.banner);
    const entry = this.entry();
    this.data = {};
    if (!this.runs.runs.length || !entry) return this.showEmpty();
    this.grid.hidden = false;
    this.showWarnings(entry);
    if (entry.error) return this.showBroken(entry);
    const labelled = Boolean(this.labelColumn());
    this.cards.compare.node.hidden = !labelled || !this.hasComparison(entry);
    this.cards.confusion.node.hidden = !labelled;
    this.cards.hard.node.hidden = !labelled;
    this.cards.clusters.node.classList.toggle('wide', !labelled);
    this.map.setHardAvailable(labelled);
    this.renderQueryForm();
    this.resetColours();
    this.loadColours();
    this.loadMap();
    this.loadClusters();
    this.loadHard();
    this.loadSearch();
    this.loadNeighbors();
    if (!this.cards.compare.node.hidden) this.loadCompare();
  }

  hasComparison(entry) {
    if ((entry.steps || []).length > 1) return true;
    return this.runs.runs.some((r) => r.run !== this.sel.run && r.embeddings.some((e) => e.name === entry.name && !e.error));
  }



  showEmpty() {
    this.grid.hidden = true;
    replace(this.banner, emptyLogdir(this.runs.problems || []));
  }

  showBroken(entry) {
    for (const c of Object.values(this.cards)) c.node.hidden = true;
    replace(this.banner, brokenEmbedding(entry));
  }

  showWarnings(entry) {
    for (const c of Object.values(this.cards)) c.node.hidden = false;
    const warnings = entry.warnings || [];
    if (!warnings.length) return;
    replace(this.banner, el('div', {class: 'banner warn', role: 'status'}, warnings.map((w) => el('div', null, w))));
  }

  /** `promise`'s answer, once label colours are known (so chips are coloured right). */
  async withColours(promise) {
    const answer = await promise;
    await this.coloursReady;
    return answer;
  }

  cached(key, fetcher, onProgress = null) {
    return this.requests.get(key, fetcher, onProgress);
  }


  /** Per-point metadata (for colours and hover); independent of k and metric. */
  metadata(onProgress) {
    const entry = this.entry();
    const q = this.query();
    const column = q.labelColumn ?? entry.columns?.[0] ?? null;
    if (!entry.columns?.length) return Promise.resolve({total: 0, rows: []});
    return this.cached(`meta|${q.run}|${q.embedding}|${q.step}|${column}`, (progress) => api.allMetadata(q, entry.shape[0], column, {onProgress: progress}), onProgress);
  }

  /** A new selection: no colours yet; panels that show label chips wait for `coloursReady`. */
  resetColours() {
    const column = this.labelColumn();
    this.assignment = null;
    this.labels = new PointLabels([], column, this.entry().shape[0], null);
    this.coloursReady = new Promise((resolve) => { this.resolveColours = resolve; });
    if (!column) this.resolveColours();
    this.map.setNote(null);
  }

  /** Fix the label → colour assignment from the first label counts that arrive. */
  setAssignment(counts) {
    if (this.assignment) return;
    this.assignment = assignColours(counts);
    const {rows, column, n} = this.labels;
    this.labels = new PointLabels(rows, column, n, this.assignment);
    const {legend, other} = this.labels.legend();
    this.map.setLegend(legend, other, this.focus);
    this.resolveColours();
  }

  /**
   * Per-point labels for the map's colours, hover and label masks. The map is painted as
   * soon as its coordinates arrive (in a neutral colour) and recoloured here.
   */
  async loadColours() {
    const isCurrent = this.begin('colours');
    const column = this.labelColumn();
    const n = this.entry().shape[0];
    try {
      let meta;
      try {
        meta = await this.metadata();
      } catch (error) {
        // Listing every row is the one request a busy server can time out on; retry once.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        if (!isCurrent()) return;
        meta = await this.metadata();
      }
      if (!isCurrent()) return;
      if (column) this.setAssignment(countLabels(meta.rows, column));
      this.labels = new PointLabels(meta.rows, column, n, this.assignment);
      this.map.setColours(this.labels.classes, this.labels.palette);
      this.updateEmphasis();
      if (this.data.coords) requestAnimationFrame(() => mark('mapLabels'));
    } catch (error) {
      if (!isCurrent()) return;
      this.map.setNote(`labels unavailable: ${error.message}`); // everything else works without them
      this.resolveColours();
    }
  }

  async loadMap() {
    const isCurrent = this.begin('map');
    const q = this.query();
    const entry = this.entry();
    this.map.setMethod(this.projection);
    const bar = this.map.showProgress(this.projection === 'tsne' ? 'Computing the t-SNE map' : 'Computing the PCA map');
    try {
      const key = `proj|${q.run}|${q.embedding}|${q.step}|${this.projection}`;
      const coords = await this.cached(key, (progress) => api.projection(q, this.projection, {onProgress: progress}),
        (state) => { if (isCurrent()) bar.update(state); });
      if (!isCurrent()) return;
      if (coords.length / 2 !== entry.shape[0]) {
        throw new Error(`the map has ${coords.length / 2} points but the embedding has ${entry.shape[0]} rows`);
      }
      this.data.coords = coords;
      this.map.hideOverlay();
      this.map.setData(coords, this.labels.classes, this.labels.palette);
      this.updateEmphasis();
      this.updateMarks();
      requestAnimationFrame(() => {
        mark('map');
        if (this.labels.coloured) mark('mapLabels');
      });
    } catch (error) {
      if (isCurrent()) this.map.showError(error);
    }
  }

  describe(index) {
    const label = this.labels.labelOf(index);
    return {metadata: this.labels.metadata(index), label, colour: this.colourOf(label),
      labelColumn: this.labels.column, thumbSrc: this.thumbUrl(index)};
  }

  updateEmphasis() {
    const n = this.entry()?.shape?.[0] ?? 0;
    if (this.data.search && this.search) {
      const mask = new Uint8Array(n);
      for (const m of this.data.search.matches) mask[m.index] = 1;
      this.map.setEmphasis(mask);
    } else if (this.focus !== null && this.labels.labelled) {
      this.map.setEmphasis(this.labels.maskOf(this.focus));
    } else {
      this.map.setEmphasis(null);
    }
  }

  updateMarks() {
    this.map.setMarks({
      hard: this.showHard && this.data.hardTop ? this.data.hardTop : null,
      matches: this.search && this.data.search ? this.data.search.matches.map((m) => m.index) : null,
      selected: this.point,
      neighbors: this.data.neighbors ? this.data.neighbors.neighbors.map((n) => n.index) : null,
    });
  }

  setFocus(label) {
    this.focus = label;
    this.saveState();
    const {legend, other} = this.labels.legend();
    this.map.setLegend(legend, other, label);
    this.updateEmphasis();
    if (this.data.clusters) this.renderClusters();
  }


  async loadClusters() {
    const isCurrent = this.begin('clusters');
    const entry = this.entry();
    replace(this.cards.clusters.actions);
    if (!this.labelColumn()) {
      replace(this.cards.clusters.body, noLabels(entry));
      mark('clusters');
      return;
    }
    const q = this.query();
    const bars = [progress('Cluster statistics'), progress('Confusion matrix')];
    replace(this.cards.clusters.body, bars[0].node);
    replace(this.cards.confusion.body, bars[1].node);
    try {
      const answer = await this.cached(`clusters|${JSON.stringify(q)}`, (progress) => api.clusters(q, {onProgress: progress}),
        (state) => { if (isCurrent()) for (const bar of bars) bar.update(state); });
      if (!isCurrent()) return;
      this.setAssignment(countsFromClusters(answer.labels));
      this.data.clusters = answer;
      this.renderClusters();
      this.renderHardToolbar?.();
    } catch (error) {
      if (!isCurrent()) return;
      const retry = () => this.loadClusters();
      replace(this.cards.clusters.body, errorBox(error, {title: 'Could not compute cluster statistics', retry}));
      replace(this.cards.confusion.body, errorBox(error, {title: 'No confusion matrix'}));
    }
  }

  renderClusters() {
    const answer = this.data.clusters;
    const q = this.query();
    replace(this.cards.clusters.actions, el('span', {class: 'export'}, 'Export ',
      el('a', {class: 'export-link', href: api.exportUrl(q, 'clusters', 'csv'), download: ''}, 'CSV'), ' · ',
      el('a', {class: 'export-link', href: api.exportUrl(q, 'clusters', 'json'), download: ''}, 'JSON')));
    replace(this.cards.clusters.body,
      overallFigures(answer.overall),
      clusterTable({labels: answer.labels, sort: this.sort, focus: this.focus, colourOf: (l) => this.colourOf(l),
        onSort: (sort) => { this.sort = sort; this.renderClusters(); },
        onLabel: (label) => { this.setFocus(label); this.setHardFilter({label, predicted: null, offset: 0}); }}));
    replace(this.cards.confusion.body, confusionMatrix({confusion: answer.confusion, colourOf: (l) => this.colourOf(l),
      selected: this.hard.predicted !== null ? this.hard : null,
      onCell: (label, predicted) => {
        this.setHardFilter({label, predicted, offset: 0});
        this.renderClusters();
        this.cards.hard.node.scrollIntoView({behavior: 'smooth', block: 'nearest'});
      }}));
    requestAnimationFrame(() => mark('clusters'));
  }

  setHardFilter(patch) {
    this.hard = {...this.hard, ...patch};
    this.loadHard({gallery: true, map: false});
  }

  async loadHard({gallery = true, map = true} = {}) {
    const entry = this.entry();
    const body = this.cards.hard.body;
    if (!this.labelColumn()) return;
    const q = this.query();
    if (map) this.loadHardTop(q);
    if (!gallery) return;
    const isCurrent = this.begin('hard');
    const filter = {...this.hard};
    const title = filter.predicted !== null
      ? `Points given “${filter.label}”, voted “${filter.predicted}”`
      : filter.label !== null ? `Hard examples of “${filter.label}”` : 'Hard examples';
    this.cards.hard.heading.textContent = title;
    const toolbarSlot = el('div');
    const gallerySlot = el('div', {class: 'gallery-slot'});
    replace(body, toolbarSlot, gallerySlot);
    let methods = [];
    let method = filter.method;
    this.renderHardToolbar = () => {
      const labels = this.data.clusters ? this.data.clusters.labels.map((l) => l.label).sort(naturalCompare) : [];
      if (filter.label !== null && !labels.includes(filter.label)) labels.push(filter.label);
      replace(toolbarSlot, hardToolbar({
        filter: {...filter, method}, labels, methods, onFilter: (p) => this.setHardFilter(p),
        exportUrl: (format) => api.exportUrl(q, 'hard_examples', format,
          {label: filter.label, predicted: filter.predicted, method: filter.method, limit: 1000}),
      }));
    };
    this.renderHardToolbar();
    await loadInto(gallerySlot, {
      isCurrent, label: 'Ranking hard examples', errorTitle: 'Could not rank hard examples', retry: () => this.loadHard({map: false}),
      load: (onProgress) => this.withColours(api.hardExamples(q, {label: filter.label, predicted: filter.predicted,
        method: filter.method, limit: HARD_PAGE, offset: filter.offset}, {onProgress})),
      show: (answer) => {
        if (filter.predicted !== null) {
          // Guard in case the server ignores `predicted`: keep exactly the cell's points.
          answer = {...answer, examples: answer.examples.filter((ex) => ex.predicted_label === filter.predicted)};
        }
        methods = answer.methods || [];
        method = answer.method;
        this.renderHardToolbar();
        replace(gallerySlot, hardGallery({answer, labelColumn: this.labelColumn(), colourOf: (l) => this.colourOf(l),
          thumbUrl: (i) => this.thumbUrl(i), onSelect: (i) => this.selectPoint(i), selected: this.point,
          page: {offset: filter.offset, limit: HARD_PAGE}, onPage: (offset) => this.setHardFilter({offset})}));
        mark('hard');
      },
    });
  }

  async loadHardTop(q) {
    const isCurrent = this.begin('hardTop');
    try {
      const answer = await api.hardExamples(q, {limit: MAP_HARD});
      if (!isCurrent()) return;
      // The server ranks every point; ring only those whose neighbours outvote their label.
      const hard = answer.examples.filter((ex) => ex.predicted_label !== ex.label);
      this.data.hardTop = hard.map((ex) => ex.index);
      this.data.hardExamples = hard;
      this.updateMarks();
      await this.coloursReady;
      // Refresh the neighbour panel's hint unless it has moved on (a query or a selection).
      if (isCurrent() && this.point === null && this.generation.neighbors === this.hintGeneration) this.renderNeighborHint();
    } catch (_) {
      // The gallery shows the same error in words; the map just goes without rings.
    }
  }

  renderQueryForm() {
    const entry = this.entry();
    replace(this.neighborForm, queryForm({
      columns: entry.columns || [], text: this.search || '', column: this.searchColumn,
      onNeighbors: (text, column) => this.loadNeighbors({query: text, column}),
      onSearch: (text, column) => { this.search = text; this.searchColumn = column; this.saveState(); this.loadSearch(); },
      onClear: () => { this.search = null; this.saveState(); this.loadSearch(); },
    }));
  }

  selectPoint(index) {
    this.point = index;
    this.saveState();
    this.loadNeighbors();
    const rect = this.cards.neighbors.node.getBoundingClientRect();
    if (rect.bottom < 0 || rect.top > window.innerHeight) this.cards.neighbors.node.scrollIntoView({behavior: 'smooth', block: 'start'});
  }

  /** Nothing selected yet: say how to start, and offer the hardest points as a start. */
  renderNeighborHint() {
    const hard = (this.data.hardExamples || []).slice(0, 8);
    const column = this.labelColumn();
    replace(this.neighborSlot,
      el('p', {class: 'muted hint'}, 'Type a word or metadata value above, or click a point in the map, a search result or a thumbnail, to list its nearest neighbours.'),
      hard.length ? el('div', {class: 'list-head'}, el('strong', null, 'Start from a hard example'),
        el('span', {class: 'muted'}, ' · neighbours outvote its label')) : null,
      hard.length ? el('ol', {class: 'point-list'}, hard.map((ex) => pointRow({
        index: ex.index, metadata: ex.metadata, labelColumn: column, colourOf: (l) => this.colourOf(l),
        thumbSrc: this.thumbUrl(ex.index), onSelect: (i) => this.selectPoint(i),
        extra: [el('span', {class: 'voted small muted'}, '→ ', labelChip(ex.predicted_label, this.colourOf(ex.predicted_label)))],
      }))) : null);
  }

  async loadNeighbors(by = null) {
    const isCurrent = this.begin('neighbors');
    const slot = this.neighborSlot;
    if (!by && this.point === null) {
      this.data.neighbors = null;
      this.updateMarks();
      this.hintGeneration = this.generation.neighbors;
      this.renderNeighborHint();
      return;
    }
    const q = this.query();
    const column = this.labelColumn();
    await loadInto(slot, {
      isCurrent, label: 'Finding neighbours', errorTitle: by ? `No neighbours for “${by.query}”` : 'Could not find neighbours',
      load: (onProgress) => this.withColours(api.neighbors(q, by || {index: this.point}, {onProgress})),
      show: (result) => {
        this.data.neighbors = result;
        if (this.point !== result.query.index) { this.point = result.query.index; this.saveState(); }
        this.updateMarks();
        const exportLinks = el('span', {class: 'export small'},
          el('a', {href: api.exportUrl(q, 'neighbors', 'csv', {index: result.query.index}), download: ''}, 'CSV'), ' · ',
          el('a', {href: api.exportUrl(q, 'neighbors', 'json', {index: result.query.index}), download: ''}, 'JSON'));
        replace(slot, neighborList({result, labelColumn: column, colourOf: (l) => this.colourOf(l),
          thumbUrl: (i) => this.thumbUrl(i), onSelect: (i) => this.selectPoint(i), exportLinks}));
      },
    });
  }

  async loadSearch() {
    const isCurrent = this.begin('search');
    const slot = this.searchSlot;
    if (!this.search) {
      this.data.search = null;
      replace(slot);
      this.updateEmphasis();
      this.updateMarks();
      return;
    }
    const q = this.query();
    const text = this.search;
    const n = this.entry().shape[0];
    await loadInto(slot, {
      isCurrent, label: 'Searching', errorTitle: `Search for “${text}” failed`,
      load: (onProgress) => this.withColours(api.search(q, text, {column: this.searchColumn, limit: Math.min(n, 100000)}, {onProgress})),
      show: (result) => {
        this.data.search = result;
        this.updateEmphasis();
        this.updateMarks();
        replace(slot, searchList({result, query: text, labelColumn: this.labelColumn(), colourOf: (l) => this.colourOf(l),
          thumbUrl: (i) => this.thumbUrl(i), onSelect: (i) => this.selectPoint(i),
          onClear: () => { this.search = null; this.saveState(); this.loadSearch(); }}));
      },
    });
  }

  async loadCompare() {
    const isCurrent = this.begin('compare');
    const entry = this.entry();
    if (!this.labelColumn()) return;
    const q = this.query();
    const render = (answer) => replace(this.cards.compare.body, compareView({compare: answer, run: q.run, figure: this.compareFigure,
      onFigure: (figure) => { this.compareFigure = figure; render(answer); }}));
    await loadInto(this.cards.compare.body, {
      isCurrent, label: 'Statistics of every step', errorTitle: 'Could not compare steps', retry: () => this.loadCompare(),
      load: (onProgress) => api.compare(q, {onProgress}),
      show: render,
    });
  }
}

export async function render() {
  ensureStylesheet();
  const app = new App(document.body);
  window.__embedanalysis.app = app; // for debugging from the console
  await app.start();
}
