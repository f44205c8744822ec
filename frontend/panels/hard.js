// The hard-example panel: the points the embedding gets most wrong, a page at a time, with a
// toolbar (label, hardness score, the confusion cell chosen, exports). Its filter lives in
// the store, so the cluster table and the confusion matrix can set it; the toolbar's label
// list comes from the /clusters answer another panel publishes.

import * as api from '../api.js';
import {naturalCompare} from '../palette.js';
import {el, replace} from '../views/dom.js';
import {loadInto} from '../views/feedback.js';
import {hardGallery, hardToolbar} from '../views/hard.js';
import {marginSparkline} from '../views/history.js';
import {tagAllControl, tagChip, tagControls} from '../views/tags.js';
import {mark} from '../marks.js';
import {Panel} from './panel.js';

const PAGE = 24;
const EXPORT_LIMIT = 1000;
const TAG_ALL_MAX = 10000; // the server's bound on rows per tag request

export default class HardPanel extends Panel {
  constructor(store) {
    super(store, {title: 'Hard examples', cls: 'card-hard'});
    this.toolbarSlot = null;
    store.on('hardFilter', ({reveal}) => {
      if (this.node.hidden) return;
      this.load();
      if (reveal) this.node.scrollIntoView({behavior: 'smooth', block: 'nearest'});
    });
    store.on('data', ({name}) => { if (name === 'clusters' && this.toolbarSlot) this.renderToolbar(); });
    store.on('tags', (detail) => this.onTags(detail));
    store.on('review', () => { if (this.toolbarSlot && !this.node.hidden) this.renderToolbar(); });
  }

  /** Tags changed: redraw the cards' chips; with "hide ok" on, a point just tagged ok leaves the queue. */
  onTags({indices, fields}) {
    if (this.node.hidden || !this.gallerySlot) return;
    if (this.shown?.filter.hideOk && fields?.tag === 'ok') {
      this.load();
      return;
    }
    const tags = this.store.tags;
    for (const item of this.gallerySlot.querySelectorAll('.hard-item')) {
      const index = Number(item.dataset.index);
      if (indices && !indices.includes(index)) continue;
      const slot = item.querySelector('.hard-tag-slot');
      if (slot) replace(slot, tagChip(tags.of(index), {short: true}));
      item.querySelector('.tag-controls')?.replaceWith(tagControls({entry: tags.of(index), compact: true,
        label: `tag row ${index}`, onSet: (f) => tags.set([index], f)}));
    }
  }

  /** Every point of the confusion cell chosen (pages of /hard_examples), then tag them all. */
  async tagCell(q, filter, total, tag) {
    const indices = [];
    for (let offset = 0; offset < total; offset += 1000) {
      const page = await api.hardExamples(q, {label: filter.label, predicted: filter.predicted, method: filter.method,
        limit: 1000, offset, hideTagged: filter.hideOk ? 'ok' : null});
      indices.push(...page.examples.map((ex) => ex.index));
      if (!page.examples.length) break;
    }
    await this.store.tags.set(indices, {tag});
    if (filter.hideOk && tag === 'ok') return; // onTags reloaded the gallery
    this.load();
  }

  appliesTo() {
    return Boolean(this.store.labelColumn());
  }

  async load() {
    const isCurrent = this.begin();
    const store = this.store;
    const q = store.query();
    const filter = {...store.hard};
    this.heading.textContent = filter.predicted !== null
      ? `Points given “${filter.label}”, voted “${filter.predicted}”`
      : filter.label !== null ? `Hard examples of “${filter.label}”` : 'Hard examples';
    // What the toolbar shows: this load's filter and query, the scores the server offers (as
    // its last answer for this embedding said, until this one arrives: a ranking by history
    // can take a while, and a picker that vanishes meanwhile hides what is being computed).
    const offerKey = JSON.stringify([q.run, q.embedding, q.labelColumn, q.k, q.metric]);
    const known = this.offered?.key === offerKey ? this.offered.methods : [];
    this.shown = {q, filter, methods: known, method: filter.method, pending: true};
    this.toolbarSlot = el('div');
    const gallerySlot = el('div', {class: 'gallery-slot'});
    this.gallerySlot = gallerySlot;
    replace(this.body, this.toolbarSlot, gallerySlot);
    this.renderToolbar();
    await loadInto(gallerySlot, {
      isCurrent, label: 'Ranking hard examples', errorTitle: 'Could not rank hard examples', retry: () => this.load(),
      load: async (onProgress) => {
        const answer = await store.withColours(api.hardExamples(q, {label: filter.label, predicted: filter.predicted,
          method: filter.method, limit: PAGE, offset: filter.offset, hideTagged: filter.hideOk ? 'ok' : null}, {onProgress}));
        await store.tags.ready; // the cards show their tags from the start
        return answer;
      },
      show: (answer) => {
        if (filter.predicted !== null) {
          // Guard in case the server ignores `predicted`: keep exactly the cell's points.
          answer = {...answer, examples: answer.examples.filter((ex) => ex.predicted_label === filter.predicted)};
        }
        this.shown.methods = answer.methods || [];
        this.offered = {key: offerKey, methods: this.shown.methods};
        this.shown.method = answer.method;
        this.shown.pending = false;
        this.shown.hidden = answer.hidden ?? null;
        this.shown.total = answer.total;
        this.renderToolbar();
        replace(gallerySlot, hardGallery({answer, labelColumn: store.labelColumn(), colourOf: (l) => store.colours.colourOf(l),
          thumbUrl: (i) => store.thumbUrl(i), onSelect: (i) => store.selectPoint(i), selected: store.point,
          page: {offset: filter.offset, limit: PAGE}, onPage: (offset) => store.setHardFilter({offset}),
          tagOf: (i) => store.tags.of(i), onTag: (i, fields) => store.tags.set([i], fields)}));
        mark('hard');
        this.addSparklines(gallerySlot, answer.examples, isCurrent);
      },
    });
  }

  /**
   * Under each card, its kNN margin at every step with the vote (one /history?indices=
   * request per page), when the embedding has two or more numbered steps (issue 16.5).
   */
  async addSparklines(gallery, examples, isCurrent) {
    const store = this.store;
    if (!examples.length || (store.entry()?.steps || []).filter(Number.isInteger).length < 2) return;
    const {run, embedding, labelColumn, k, metric} = store.query();
    const labels = new Map(examples.map((ex) => [ex.index, ex.label]));
    let answer;
    try {
      answer = await api.history({run, embedding, labelColumn, k, metric}, {indices: examples.map((ex) => ex.index)});
    } catch (error) {
      // The cards stand without them; say why they are missing.
      if (isCurrent()) gallery.appendChild(el('p', {class: 'muted small'}, `No margin per step: ${error.message}`));
      return;
    }
    if (!isCurrent()) return;
    const colourOf = (l) => store.colours.colourOf(l);
    for (const row of answer.rows || []) {
      const card = gallery.querySelector(`.hard-card[data-index="${row.index}"]`);
      if (!card) continue;
      card.appendChild(el('span', {class: 'hard-spark', title: `kNN margin at steps ${answer.steps.join(', ')}; `
        + 'dots in the colour of the label the neighbours voted for'},
      marginSparkline(row.margin, {votes: row.vote, steps: answer.steps, label: labels.get(row.index), colourOf, width: 110, height: 24})));
    }
    mark('hardSparklines');
  }

  renderToolbar() {
    const {q, filter, methods, method, pending} = this.shown;
    const clusters = this.store.data.clusters;
    const labels = clusters ? clusters.labels.map((l) => l.label).sort(naturalCompare) : [];
    if (filter.label !== null && !labels.includes(filter.label)) labels.push(filter.label);
    const {hidden = null, total = null} = this.shown;
    // A confusion cell chosen: offer to tag all of its points (those listed: "hide ok" applies).
    const tagAll = filter.predicted !== null && total !== null
      ? tagAllControl({count: total, max: TAG_ALL_MAX, onTag: (tag) => this.tagCell(q, filter, total, tag)}) : null;
    replace(this.toolbarSlot, hardToolbar({
      filter: {...filter, method}, labels, methods, pending, onFilter: (patch) => this.store.setHardFilter(patch),
      exportUrl: (format) => api.exportUrl(q, 'hard_examples', format,
        {label: filter.label, predicted: filter.predicted, method: filter.method, limit: EXPORT_LIMIT}),
      hidden, tagAll, tagsExportUrl: (format) => api.exportUrl(q, 'tags', format),
      onReview: this.store.review.open ? null : () => this.store.setReview({open: true}),
    }));
  }
}
