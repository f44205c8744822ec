// The neighbours panel: a query box (the neighbours of a typed value, or a highlight
// search), the search matches, and the nearest neighbours of the selected point (with, while
// nothing is selected, the hardest points as places to start). It requests /neighbors and
// /search and publishes both answers for the map to draw.

import * as api from '../api.js';
import {hardest} from '../answers.js';
import {el, replace} from '../views/dom.js';
import {loadInto, settle} from '../views/feedback.js';
import {neighborList, pointRow, queryForm, searchList} from '../views/neighbors.js';
import {labelChip} from '../views/point.js';
import {Panel} from './panel.js';

const HINT_EXAMPLES = 8;
const SEARCH_LIMIT = 100000;

export default class NeighborsPanel extends Panel {
  constructor(store) {
    super(store, {title: 'Neighbours', cls: 'card-neighbors'});
    this.formSlot = el('div', {class: 'query-slot'});
    this.searchSlot = el('div', {class: 'search-slot'});
    this.neighborSlot = el('div', {class: 'neighbor-slot'});
    this.body.append(this.formSlot, this.searchSlot, this.neighborSlot);
    store.on('point', ({load}) => {
      if (!load) return;
      this.loadNeighbors();
      this.reveal();
    });
    store.on('search', () => this.loadSearch());
  }

  load() {
    this.renderForm();
    this.loadSearch();
    this.loadNeighbors();
  }

  renderForm() {
    const store = this.store;
    replace(this.formSlot, queryForm({
      columns: store.entry().columns || [], text: store.search || '', column: store.searchColumn,
      onNeighbors: (text, column) => this.loadNeighbors({query: text, column}),
      onSearch: (text, column) => store.setSearch(text, column),
      onClear: () => store.setSearch(null),
    }));
  }

  /** Scroll the panel into view when a point was picked somewhere off screen. */
  reveal() {
    const rect = this.node.getBoundingClientRect();
    if (rect.bottom < 0 || rect.top > window.innerHeight) this.node.scrollIntoView({behavior: 'smooth', block: 'start'});
  }

  /** by: {query, column} to look a value up; null for the selected point's neighbours. */
  async loadNeighbors(by = null) {
    const isCurrent = this.begin('neighbors');
    const store = this.store;
    if (!by && store.point === null) {
      store.publish('neighbors', null);
      this.showHint(isCurrent);
      return;
    }
    const q = store.query();
    const column = store.labelColumn();
    await loadInto(this.neighborSlot, {
      isCurrent, label: 'Finding neighbours', errorTitle: by ? `No neighbours for “${by.query}”` : 'Could not find neighbours',
      load: (onProgress) => store.withColours(api.neighbors(q, by || {index: store.point}, {onProgress})),
      show: (result) => {
        store.publish('neighbors', result);
        if (store.point !== result.query.index) store.selectPoint(result.query.index, {load: false});
        const exportLinks = el('span', {class: 'export small'},
          el('a', {href: api.exportUrl(q, 'neighbors', 'csv', {index: result.query.index}), download: ''}, 'CSV'), ' · ',
          el('a', {href: api.exportUrl(q, 'neighbors', 'json', {index: result.query.index}), download: ''}, 'JSON'));
        replace(this.neighborSlot, neighborList({result, labelColumn: column, colourOf: (l) => store.colours.colourOf(l),
          thumbUrl: (i) => store.thumbUrl(i), onSelect: (i) => store.selectPoint(i), exportLinks}));
      },
    });
  }

  /** Nothing selected yet: say how to start, then offer the hardest points as a start. */
  async showHint(isCurrent) {
    this.renderHint([]);
    if (!this.store.labelColumn()) return;
    try {
      const hard = await this.store.withColours(hardest(this.store));
      if (isCurrent()) this.renderHint(hard.slice(0, HINT_EXAMPLES));
    } catch (_) {
      // The hard-example gallery shows this error in words; the hint goes without examples.
    }
  }

  renderHint(hard) {
    const store = this.store;
    const column = store.labelColumn();
    const colourOf = (l) => store.colours.colourOf(l);
    settle(this.neighborSlot,
      el('p', {class: 'muted hint'}, 'Type a word or metadata value above, or click a point in the map, a search result or a thumbnail, to list its nearest neighbours.'),
      hard.length ? el('div', {class: 'list-head'}, el('strong', null, 'Start from a hard example'),
        el('span', {class: 'muted'}, ' · neighbours outvote its label')) : null,
      hard.length ? el('ol', {class: 'point-list'}, hard.map((ex) => pointRow({
        index: ex.index, metadata: ex.metadata, labelColumn: column, colourOf,
        thumbSrc: store.thumbUrl(ex.index), onSelect: (i) => store.selectPoint(i),
        extra: [el('span', {class: 'voted small muted'}, '→ ', labelChip(ex.predicted_label, colourOf(ex.predicted_label)))],
      }))) : null);
  }

  async loadSearch() {
    const isCurrent = this.begin('search');
    const store = this.store;
    const text = store.search;
    if (!text) {
      store.publish('search', null);
      settle(this.searchSlot);
      return;
    }
    const q = store.query();
    const n = store.entry().shape[0];
    await loadInto(this.searchSlot, {
      isCurrent, label: 'Searching', errorTitle: `Search for “${text}” failed`,
      load: (onProgress) => store.withColours(api.search(q, text, {column: store.searchColumn, limit: Math.min(n, SEARCH_LIMIT)}, {onProgress})),
      show: (result) => {
        store.publish('search', result);
        replace(this.searchSlot, searchList({result, query: text, labelColumn: store.labelColumn(),
          colourOf: (l) => store.colours.colourOf(l), thumbUrl: (i) => store.thumbUrl(i),
          onSelect: (i) => store.selectPoint(i), onClear: () => store.setSearch(null)}));
      },
    });
  }
}
