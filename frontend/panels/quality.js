// The data-quality panel (issue 18): outliers (a gallery, most outlying first) and
// near-duplicate groups (with a split column: leaks across splits first). Clicking a point
// selects it; the outliers shown are published on the store as `outliers` (row indices).

import * as api from '../api.js';
import {el, replace} from '../views/dom.js';
import {loadInto} from '../views/feedback.js';
import {duplicateGroups, duplicateToolbar, outlierGallery, qualityTabs} from '../views/quality.js';
import {Panel} from './panel.js';

const PAGE = 24;
const GROUPS = 20;
const SPLIT_NAMES = /^(split|subset|partition|fold|set|dataset)$/i;

export default class QualityPanel extends Panel {
  constructor(store) {
    super(store, {title: 'Data quality', cls: 'card-quality'});
    this.which = 'outliers';
    this.outlierOffset = 0;
    this.dup = {splitColumn: null, threshold: null, offset: 0};
    this.dupFor = null; // the embedding the duplicate filter was chosen for
    store.on('point', () => {
      for (const node of this.body.querySelectorAll('[data-index]')) {
        node.classList.toggle('selected', Number(node.dataset.index) === store.point);
      }
    });
  }

  onSelection() {
    const key = JSON.stringify([this.store.sel.run, this.store.sel.embedding]);
    if (key !== this.dupFor) { // another embedding: its own columns, default threshold, first pages
      this.dupFor = key;
      const columns = this.store.entry()?.columns || [];
      this.dup = {splitColumn: columns.find((c) => SPLIT_NAMES.test(c)) || null, threshold: null, offset: 0};
      this.outlierOffset = 0;
    }
    super.onSelection();
  }

  load() {
    const isCurrent = this.begin();
    const slot = el('div', {class: 'quality-slot'});
    replace(this.actions, qualityTabs({which: this.which, onSwitch: (which) => { this.which = which; this.load(); }}));
    replace(this.body, slot);
    if (this.which === 'outliers') {
      this.loadOutliers(slot, isCurrent);
    } else {
      this.store.publish('outliers', null); // the map rings only the outliers listed here
      this.loadDuplicates(slot, isCurrent);
    }
  }

  loadOutliers(slot, isCurrent) {
    const store = this.store;
    const q = store.query();
    const offset = this.outlierOffset;
    return loadInto(slot, {
      isCurrent, label: 'Scoring outliers', errorTitle: 'Could not score outliers', retry: () => this.load(),
      load: (onProgress) => api.outliers(q, {limit: PAGE, offset}, {onProgress}),
      show: (answer) => {
        store.publish('outliers', answer.examples.map((ex) => ex.index));
        replace(slot, outlierGallery({answer, labelColumn: store.labelColumn(), thumbUrl: (i) => store.thumbUrl(i),
          onSelect: (i) => store.selectPoint(i), selected: store.point, page: {offset, limit: PAGE},
          onPage: (next) => { this.outlierOffset = next; this.load(); }}));
      },
    });
  }

  /** A filter change reloads once: replacing the toolbar blurs the threshold box, which can
   * fire its change event again while the first reload is still building the card. */
  setDuplicateFilter(patch) {
    if (Object.entries(patch).every(([key, value]) => this.dup[key] === value)) return;
    Object.assign(this.dup, patch);
    this.load();
  }

  loadDuplicates(slot, isCurrent) {
    const store = this.store;
    const q = store.query();
    const filter = {...this.dup};
    const toolbar = duplicateToolbar({columns: store.entry()?.columns || [], filter,
      onFilter: (patch) => this.setDuplicateFilter(patch)});
    const groups = el('div');
    replace(slot, toolbar, groups);
    return loadInto(groups, {
      isCurrent, label: 'Finding near-duplicates', errorTitle: 'Could not find near-duplicates', retry: () => this.load(),
      load: (onProgress) => api.duplicates(q, {threshold: filter.threshold, splitColumn: filter.splitColumn,
        limit: GROUPS, offset: filter.offset}, {onProgress}),
      show: (answer) => replace(groups, duplicateGroups({answer, thumbUrl: (i) => store.thumbUrl(i),
        onSelect: (i) => store.selectPoint(i), selected: store.point, page: {offset: filter.offset, limit: GROUPS},
        onPage: (next) => { this.dup.offset = next; this.load(); }})),
    });
  }
}
