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
import {mark} from '../marks.js';
import {Panel} from './panel.js';

const PAGE = 24;
const EXPORT_LIMIT = 1000;

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
    // What the toolbar shows: this load's filter and query, the scores the server offers.
    this.shown = {q, filter, methods: [], method: filter.method};
    this.toolbarSlot = el('div');
    const gallerySlot = el('div', {class: 'gallery-slot'});
    replace(this.body, this.toolbarSlot, gallerySlot);
    this.renderToolbar();
    await loadInto(gallerySlot, {
      isCurrent, label: 'Ranking hard examples', errorTitle: 'Could not rank hard examples', retry: () => this.load(),
      load: (onProgress) => store.withColours(api.hardExamples(q, {label: filter.label, predicted: filter.predicted,
        method: filter.method, limit: PAGE, offset: filter.offset}, {onProgress})),
      show: (answer) => {
        if (filter.predicted !== null) {
          // Guard in case the server ignores `predicted`: keep exactly the cell's points.
          answer = {...answer, examples: answer.examples.filter((ex) => ex.predicted_label === filter.predicted)};
        }
        this.shown.methods = answer.methods || [];
        this.shown.method = answer.method;
        this.renderToolbar();
        replace(gallerySlot, hardGallery({answer, labelColumn: store.labelColumn(), colourOf: (l) => store.colours.colourOf(l),
          thumbUrl: (i) => store.thumbUrl(i), onSelect: (i) => store.selectPoint(i), selected: store.point,
          page: {offset: filter.offset, limit: PAGE}, onPage: (offset) => store.setHardFilter({offset})}));
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
    const {q, filter, methods, method} = this.shown;
    const clusters = this.store.data.clusters;
    const labels = clusters ? clusters.labels.map((l) => l.label).sort(naturalCompare) : [];
    if (filter.label !== null && !labels.includes(filter.label)) labels.push(filter.label);
    replace(this.toolbarSlot, hardToolbar({
      filter: {...filter, method}, labels, methods, onFilter: (patch) => this.store.setHardFilter(patch),
      exportUrl: (format) => api.exportUrl(q, 'hard_examples', format,
        {label: filter.label, predicted: filter.predicted, method: filter.method, limit: EXPORT_LIMIT}),
    }));
  }
}
