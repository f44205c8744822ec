// The neighbours panel: one search box (matches listed and highlighted as you type; Enter
// selects a label value's whole label, else opens the neighbours of the one match or of the
// exact value, offering close spellings when no row has it), and the nearest neighbours of
// the selected point (with, while nothing is selected, the hardest points as places to
// start). It requests /neighbors and /search and publishes both answers for the map to draw.

import * as api from '../api.js';
import {hardest} from '../answers.js';
import {el, replace} from '../views/dom.js';
import {loadInto, settle} from '../views/feedback.js';
import {labelNote, neighborList, notFound, pointRow, queryForm, quoted, searchList} from '../views/neighbors.js';
import {labelChip} from '../views/point.js';
import {tagChip, tagControls} from '../views/tags.js';
import {Panel} from './panel.js';

const HINT_EXAMPLES = 8;
const SEARCH_LIMIT = 100000;
const TYPING_PAUSE_MS = 200; // search once the typing pauses, not on every key

export default class NeighborsPanel extends Panel {
  constructor(store) {
    super(store, {title: 'Neighbours', cls: 'card-neighbors'});
    this.formSlot = el('div', {class: 'query-slot'});
    this.searchSlot = el('div', {class: 'search-slot'});
    this.neighborSlot = el('div', {class: 'neighbor-slot'});
    this.body.append(this.formSlot, this.searchSlot, this.neighborSlot);
    this.typingTimer = null;
    this.searching = Promise.resolve(null); // the current search's answer (null: none or failed)
    this.searchAbort = null;
    store.on('point', ({load}) => {
      if (!load) return;
      this.loadNeighbors();
      this.reveal();
    });
    store.on('search', () => this.loadSearch());
    store.on('focus', () => { if (this.noted !== null && this.store.focus !== this.noted) this.dropNote(); });
    this.missed = null; // the text of a lookup no row had, while its "No row has …" is shown
    this.noted = null; // the label a label note is shown for
    store.on('tags', ({indices}) => {
      const shown = this.neighborSlot.querySelector('.point-tags');
      if (shown && (!indices || indices.includes(Number(shown.dataset.index)))) shown.replaceWith(this.pointTags(Number(shown.dataset.index)));
    });
  }

  /** The selected point's tag chip and the buttons to tag it (issue 18.3); nothing without labels (issue 27.5). */
  pointTags(index) {
    const tags = this.store.tags;
    if (!this.store.labelColumn()) return el('div', {class: 'point-tags', hidden: true, dataset: {index: String(index)}});
    const entry = tags.of(index);
    return el('div', {class: 'point-tags', dataset: {index: String(index)}},
      el('div', {class: 'point-tags-head small'}, el('strong', null, 'Tag'), ' ', tagChip(entry) || el('span', {class: 'muted'}, 'not tagged'),
        tags.persistent ? null : el('span', {class: 'muted'}, ' · kept until TensorBoard stops (no cache directory)')),
      tagControls({entry, label: `tag row ${index}`, onSet: (fields) => tags.set([index], fields)}));
  }

  load() {
    this.renderForm();
    this.loadSearch();
    this.loadNeighbors();
  }

  renderForm() {
    const store = this.store;
    replace(this.formSlot, queryForm({
      columns: store.entry().columns || [], text: store.search || '', column: store.searchColumn, regex: store.searchRegex,
      onType: (text, column, regex) => {
        clearTimeout(this.typingTimer);
        // "No row has “zzz”" belongs to zzz: once the text changes (or is emptied), it goes.
        if (this.missed !== null && text !== this.missed) this.loadNeighbors();
        this.typingTimer = setTimeout(() => store.setSearch(text || null, column, {regex}), TYPING_PAUSE_MS);
      },
      onSubmit: (text, column, regex) => this.submit(text, column, regex),
    }));
  }

  /** The label spelled `text`, when the search looks at the label column: {label, count, colour} or null. */
  labelMatch(text, column, regex) {
    const {colours} = this.store;
    const labelColumn = this.store.labelColumn();
    if (regex || !labelColumn || (column && column !== labelColumn)) return null;
    const label = colours.labels.findLabel(text);
    return label === null ? null : {label, count: colours.labels.counts().get(label), colour: colours.colourOf(label)};
  }

  /** Emphasise `label`; say so, with `alternative` ({column, value, index}: a row whose other column is the text typed). */
  selectLabel(label, alternative = null) {
    const store = this.store;
    if (this.missed !== null) this.loadNeighbors(); // the old "No row has …" is not about this
    store.setSearch(null); // the search's emphasis would hide the label's
    store.setFocus(label);
    store.setHardFilter({label, predicted: null, offset: 0});
    const {colours} = store;
    this.noted = label;
    settle(this.searchSlot, labelNote({label, count: colours.labels.counts().get(label), colour: colours.colourOf(label),
      alternative, onAlternative: () => { this.dropNote(); store.setFocus(null); store.selectPoint(alternative.index); },
      onClear: () => store.setFocus(null)}));
  }

  dropNote() {
    this.noted = null;
    if (this.searchSlot.querySelector('.label-note')) settle(this.searchSlot);
  }

  /** A row whose column other than the label column holds exactly `text` (from the search's matches), or null. */
  async alternativeRow(text, column) {
    const store = this.store;
    if (store.search !== text || store.searchRegex) store.setSearch(text, column, {regex: false});
    const result = await this.searching;
    const labelColumn = store.labelColumn();
    for (const match of result?.matches || []) {
      for (const [name, value] of Object.entries(match.metadata || {})) {
        if (name !== labelColumn && value === text) return {column: name, value, index: match.index};
      }
    }
    return null;
  }

  /** Enter: a label value selects its label; else the one match's neighbours, else the exact value's. */
  async submit(text, column, regex) {
    clearTimeout(this.typingTimer);
    const store = this.store;
    const label = this.labelMatch(text, column, regex);
    if (label) {
      const alternative = await this.alternativeRow(text, column);
      this.selectLabel(label.label, alternative);
      return;
    }
    if (store.search !== text || store.searchColumn !== column || store.searchRegex !== regex) store.setSearch(text, column, {regex});
    const result = await this.searching;
    if (store.search !== text) return; // typed on meanwhile
    if (result?.total === 1) {
      store.selectPoint(result.matches[0].index);
    } else if (!regex) {
      if (result?.total === 0) store.setSearch(null); // the close spellings say it better than "0 matches"
      this.loadNeighbors({query: text, column}); // the exact value; not found: close spellings
    }
  }

  /** A close spelling was picked: search it as if typed. */
  pick(word, column) {
    const input = this.formSlot.querySelector('input[name=query]');
    const regexBox = this.formSlot.querySelector('input[name=regex]');
    if (input) input.value = word;
    if (regexBox) regexBox.checked = false;
    this.submit(word, column, false);
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
    this.missed = null;
    if (!by && store.point === null) {
      store.publish('neighbors', null);
      this.showHint(isCurrent);
      return;
    }
    const q = store.query();
    const column = store.labelColumn();
    await loadInto(this.neighborSlot, {
      isCurrent, label: 'Finding neighbours', errorTitle: by ? `No neighbours for ${quoted(by.query)}` : 'Could not find neighbours',
      load: (onProgress) => store.withColours(api.neighbors(q, by || {index: store.point}, {onProgress})),
      explain: (error) => {
        if (!(by && error?.status === 404 && Array.isArray(error.details?.suggestions))) return null;
        this.missed = by.query;
        return notFound({text: by.query, column: by.column, suggestions: error.details.suggestions, onPick: (w) => this.pick(w, by.column)});
      },
      show: (result) => {
        store.publish('neighbors', result);
        if (store.point !== result.query.index) store.selectPoint(result.query.index, {load: false});
        const exportLinks = el('span', {class: 'export small'},
          el('a', {href: api.exportUrl(q, 'neighbors', 'csv', {index: result.query.index}), download: ''}, 'CSV'), ' · ',
          el('a', {href: api.exportUrl(q, 'neighbors', 'json', {index: result.query.index}), download: ''}, 'JSON'));
        replace(this.neighborSlot, neighborList({result, labelColumn: column, colourOf: (l) => store.colours.colourOf(l),
          thumbUrl: (i) => store.thumbUrl(i), onSelect: (i) => store.selectPoint(i), exportLinks}));
        this.neighborSlot.querySelector('.query-head')?.after(this.pointTags(result.query.index));
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

  loadSearch() {
    const isCurrent = this.begin('search');
    this.searchAbort?.abort(); // typing on: the previous answer is not wanted any more
    const store = this.store;
    const {search: text, searchColumn: column, searchRegex: regex} = store;
    if (!text) {
      store.publish('search', null);
      settle(this.searchSlot);
      this.searching = Promise.resolve(null);
      return this.searching;
    }
    const q = store.query();
    const n = store.entry().shape[0];
    const abort = (this.searchAbort = new AbortController());
    this.searching = loadInto(this.searchSlot, {
      isCurrent, label: 'Searching', errorTitle: `Search for ${quoted(text)} failed`,
      load: (onProgress) => store.withColours(api.search(q, text, {column, limit: Math.min(n, SEARCH_LIMIT), regex},
        {onProgress, signal: abort.signal})),
      show: (result) => {
        store.publish('search', result);
        replace(this.searchSlot, searchList({result, query: text, regex, labelMatch: this.labelMatch(text, column, regex),
          onLabel: (label) => this.selectLabel(label), labelColumn: store.labelColumn(),
          colourOf: (l) => store.colours.colourOf(l), thumbUrl: (i) => store.thumbUrl(i),
          onSelect: (i) => store.selectPoint(i), onClear: () => store.setSearch(null)}));
      },
    }).then((result) => result ?? null);
    return this.searching;
  }
}
