// The chosen points, under the map (issue 27.3; chosen.js holds them): the bar that says
// what they are and isolates them, the buttons that choose the search matches / a label /
// a confusion cell / a tag, "tag all", and the gallery (thumbnails, label, kNN vote, tag).
// The gallery lists the chosen points hardest first: /hard_examples?rows= (the whole
// embedding's ranking restricted to them), else the first rows. Owned by the map panel.

import * as api from '../api.js';
import {TAG_NAMES} from '../tags.js';
import {el, fmt, metadataText, replace} from '../views/dom.js';
import {errorBox} from '../views/feedback.js';
import {lassoBar} from '../views/lasso.js';
import {gallery, selectionHead, selectionSources} from '../views/selection.js';
import {tagInChunks} from './map_lasso.js';

const GALLERY = 48; // tiles shown; the rest are counted
const CELL_ROWS = 1000; // a confusion cell's rows fetched (/hard_examples' limit)

export class MapSelection {
  constructor(store, view) {
    this.store = store;
    this.node = el('div', {class: 'selection-slot'});
    view.node.insertBefore(this.node, view.legend);
    this.generation = 0;
    this.bar = null; // the tag bar of the chosen points
    for (const topic of ['chosen', 'selection', 'focus', 'hardFilter']) store.on(topic, () => this.render());
    store.on('tags', () => this.onTags()); // keeps the tag bar's status: what was just saved
    // "a label" and "a confusion cell" need every row's label, which may arrive after the bar.
    store.on('colours', ({kind}) => { if (kind === 'points') this.refreshSources(); });
    store.on('data', ({name}) => { if (name === 'search') this.render(); });
  }

  /** Where a selection can come from now. */
  sources() {
    const {store} = this;
    const search = store.search && store.data.search?.total ? store.data.search : null;
    const labelled = Boolean(store.labelColumn()) && store.colours.labels.labelled;
    const focusCount = labelled && store.focus !== null ? store.colours.labels.counts().get(store.focus) ?? 0 : 0;
    const cell = store.hard.label !== null && store.hard.predicted !== null ? store.hard : null;
    const tagCounts = new Map();
    for (const entry of store.tags.byIndex.values()) if (entry.tag) tagCounts.set(entry.tag, (tagCounts.get(entry.tag) || 0) + 1);
    const sources = [{name: 'search', text: search ? `search matches (${fmt(search.matches.length)})` : 'search matches',
      title: search ? `the rows matching “${store.search}”` : 'search first (Neighbours card)', disabled: !search,
      onClick: () => store.chosen.set(search.matches.map((m) => m.index), {source: 'search', title: `matching “${store.search}”`})}];
    if (labelled) {
      sources.push({name: 'label', text: store.focus !== null ? `label ${store.focus} (${fmt(focusCount)})` : 'a label',
        title: store.focus !== null ? `every point labelled ${store.focus}` : 'click a label in the legend first', disabled: store.focus === null,
        onClick: () => this.chooseLabel(store.focus)});
      sources.push({name: 'cell', text: cell ? `confusion cell ${cell.label} → ${cell.predicted}` : 'a confusion cell',
        title: cell ? `points labelled ${cell.label} whose neighbours vote ${cell.predicted}` : 'click a cell of the confusion matrix first',
        disabled: !cell, onClick: () => this.chooseCell(cell)});
    }
    for (const tag of TAG_NAMES) {
      if (tagCounts.get(tag)) {
        sources.push({name: `tag_${tag.replace(/\s+/g, '-')}`, text: `tagged “${tag}” (${fmt(tagCounts.get(tag))})`,
          title: `every point tagged “${tag}”`, onClick: () => this.chooseTag(tag)});
      }
    }
    return sources;
  }

  chooseLabel(label) {
    const mask = this.store.colours.labels.maskOf(label);
    const rows = [];
    for (let i = 0; i < mask.length; i++) if (mask[i]) rows.push(i);
    this.store.chosen.set(rows, {source: 'label', title: `labelled ${label}`});
  }

  async chooseCell({label, predicted}) {
    const store = this.store;
    const answer = await api.hardExamples(store.query(), {label, predicted, limit: CELL_ROWS, method: store.hard.method === 'history' ? null : store.hard.method});
    const rows = answer.examples.filter((ex) => ex.predicted_label === predicted).map((ex) => ex.index);
    const more = answer.total > answer.examples.length ? ` (the first ${fmt(rows.length)} of ${fmt(answer.total)})` : '';
    store.chosen.set(rows, {source: 'confusion', title: `labelled ${label}, voted ${predicted}${more}`});
  }

  chooseTag(tag) {
    const rows = [];
    for (const [index, entry] of this.store.tags.byIndex) if (entry.tag === tag) rows.push(index);
    this.store.chosen.set(rows, {source: 'tag', title: `tagged “${tag}”`});
  }

  /** The "Select:" buttons again (what can be chosen changed), the rest of the bar kept. */
  refreshSources() {
    if (this.sourcesNode?.isConnected) replace(this.sourcesNode, selectionSources(this.sources()));
    else this.render();
  }

  onTags() {
    const {chosen, tags} = this.store;
    if (!chosen.current || !this.bar) { this.render(); return; }
    this.bar.setTagged(Array.from(chosen.current.indices).filter((i) => tags.of(i)).length);
    replace(this.sourcesNode, selectionSources(this.sources()));
    this.loadGallery();
  }

  render() {
    const {store} = this;
    const chosen = store.chosen;
    if (!store.usableEntry()) { replace(this.node); return; }
    this.bar = null;
    this.sourcesNode = el('div', null, selectionSources(this.sources()));
    const parts = [this.sourcesNode];
    if (chosen.current) {
      const {indices, title} = chosen.current;
      parts.unshift(selectionHead({count: indices.length, title, isolated: chosen.isolated, tooLong: chosen.rows() === null,
        onIsolate: () => chosen.isolate(), onShowAll: () => chosen.showAll(), onClear: () => chosen.clear()}));
      if (store.labelColumn()) { // tags say what is wrong with a label: none without labels (issue 27.5)
        const tagged = Array.from(indices).filter((i) => store.tags.of(i)).length;
        const bar = lassoBar({count: indices.length, tagged, onTag: (fields) => tagInChunks(store.tags, indices, fields, bar.status),
          onClose: () => chosen.clear()});
        bar.node.classList.add('selection-tag-bar');
        this.bar = bar;
        parts.push(bar.node);
      }
      this.galleryNode = el('div', {class: 'selection-gallery-slot'});
      parts.push(this.galleryNode);
    }
    replace(this.node, el('div', {class: 'selection-bar' + (chosen.isolated ? ' isolated' : ''), role: 'region',
      'aria-label': 'the chosen points'}, parts));
    if (chosen.current) this.loadGallery();
  }

  async loadGallery() {
    const generation = ++this.generation;
    const {store} = this;
    const chosen = store.chosen;
    const {indices} = chosen.current;
    const slot = this.galleryNode;
    const labels = store.colours.labels;
    const colourOf = (label) => store.colours.colourOf(label);
    const tile = (index, label, vote) => ({index, label, vote, colourOf, thumbSrc: store.thumbUrl(index), tag: store.tags.of(index),
      text: metadataText(labels.metadata(index), {skip: labels.column ? [labels.column] : [], index})});
    const rows = chosen.rows();
    const labelled = Boolean(store.labelColumn());
    if (labelled && rows) {
      try {
        const q = store.query();
        const answer = await api.hardExamples(q, {rows, limit: GALLERY, method: null});
        if (generation !== this.generation) return;
        const outvoted = `${fmt(answer.hard_total)} of the ${fmt(indices.length)} are outvoted by their neighbours (red border)`;
        const note = indices.length > GALLERY
          ? `The ${GALLERY} hardest of ${fmt(indices.length)} (by ${answer.method.replace(/_/g, ' ')}) · ${outvoted}` : outvoted;
        replace(slot, gallery({items: answer.examples.map((ex) => tile(ex.index, ex.label, ex.predicted_label)), note, labelled,
          onSelect: (i) => store.selectPoint(i)}));
        return;
      } catch (error) {
        if (generation !== this.generation) return;
        replace(slot, errorBox(error, {title: 'Could not rank the chosen points'}));
        return;
      }
    }
    const shown = Array.from(indices.slice(0, GALLERY));
    replace(slot, gallery({items: shown.map((i) => tile(i, labels.labelOf(i), null)), labelled,
      note: indices.length > GALLERY ? `the first ${GALLERY} of ${fmt(indices.length)}` : null, onSelect: (i) => store.selectPoint(i)}));
  }
}
