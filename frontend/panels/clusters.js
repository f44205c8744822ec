// The cluster-statistics panel: the overall figures and one sortable row per label. A click
// on a row focuses that label (the map emphasises it) and lists its hard examples. Without
// a label column it explains what is missing, across the whole width.

import * as api from '../api.js';
import {clusters} from '../answers.js';
import {countsFromClusters} from '../labels.js';
import {mark} from '../marks.js';
import {clusterTable, overallFigures} from '../views/clusters.js';
import {el, replace} from '../views/dom.js';
import {errorBox, progress} from '../views/feedback.js';
import {noLabels} from '../views/notices.js';
import {Panel} from './panel.js';

export default class ClustersPanel extends Panel {
  constructor(store) {
    super(store, {title: 'Cluster statistics', cls: 'card-clusters'});
    this.sort = {key: 'knn_recall', dir: 1};
    this.answer = null;
    store.on('focus', () => { if (this.answer) this.render(); });
  }

  async load() {
    const isCurrent = this.begin();
    const store = this.store;
    const labelled = Boolean(store.labelColumn());
    this.answer = null;
    this.node.classList.toggle('wide', !labelled);
    replace(this.actions);
    if (!labelled) {
      replace(this.body, noLabels(store.entry()));
      mark('clusters');
      return;
    }
    const bar = progress('Cluster statistics');
    replace(this.body, bar.node);
    try {
      const answer = await clusters(store, (state) => { if (isCurrent()) bar.update(state); });
      if (!isCurrent()) return;
      store.colours.assign(countsFromClusters(answer.labels));
      this.answer = answer;
      store.publish('clusters', answer);
      this.render();
    } catch (error) {
      if (!isCurrent()) return;
      replace(this.body, errorBox(error, {title: 'Could not compute cluster statistics', retry: () => this.load()}));
    }
  }

  render() {
    const store = this.store;
    const q = store.query();
    replace(this.actions, el('span', {class: 'export'}, 'Export ',
      el('a', {class: 'export-link', href: api.exportUrl(q, 'clusters', 'csv'), download: ''}, 'CSV'), ' · ',
      el('a', {class: 'export-link', href: api.exportUrl(q, 'clusters', 'json'), download: ''}, 'JSON')));
    replace(this.body,
      overallFigures(this.answer.overall, {askedK: store.sel.k}),
      clusterTable({labels: this.answer.labels, sort: this.sort, focus: store.focus, colourOf: (l) => store.colours.colourOf(l),
        onSort: (sort) => { this.sort = sort; this.render(); },
        onLabel: (label) => {
          store.setFocus(label);
          store.setHardFilter({label, predicted: null, offset: 0});
        }}));
    requestAnimationFrame(() => mark('clusters'));
  }
}
