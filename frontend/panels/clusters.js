// The cluster-statistics panel: the overall figures and one sortable row per label. A click
// on a row focuses that label (the map emphasises it) and lists its hard examples. Without
// a label column it explains what is missing, across the whole width.

import * as api from '../api.js';
import {showClusters} from '../answers.js';
import {mark} from '../marks.js';
import {clusterTable, estimateNote, overallFigures} from '../views/clusters.js';
import {el, replace} from '../views/dom.js';
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
    await showClusters(this, isCurrent, {title: 'Cluster statistics',
      errorTitle: 'Could not compute cluster statistics'});
  }

  /** The sample's estimate (http_api.md /clusters) under the exact pass's progress bar. */
  renderEstimate(estimate, barNode) {
    const store = this.store;
    replace(this.body, barNode, estimateNote(estimate),
      el('div', {class: 'estimate'},
        overallFigures(estimate.overall, {askedK: store.sel.k}),
        clusterTable({labels: estimate.labels, sort: this.sort, focus: store.focus, colourOf: (l) => store.colours.colourOf(l),
          onSort: (sort) => { this.sort = sort; this.renderEstimate(estimate, barNode); },
          onLabel: (label) => store.setFocus(label)})));
    mark('clusters-estimate');
  }

  render() {
    const store = this.store;
    const q = store.query();
    replace(this.actions, el('span', {class: 'export'}, 'Export ',
      el('a', {class: 'export-link', href: api.exportUrl(q, 'clusters', 'csv'), download: ''}, 'CSV'), ' · ',
      el('a', {class: 'export-link', href: api.exportUrl(q, 'clusters', 'json'), download: ''}, 'JSON')));
    replace(this.body,
      overallFigures(this.answer.overall, {askedK: store.sel.k, provenance: this.answer.provenance}),
      clusterTable({labels: this.answer.labels, sort: this.sort, focus: store.focus, colourOf: (l) => store.colours.colourOf(l),
        onSort: (sort) => { this.sort = sort; this.render(); },
        onLabel: (label) => {
          store.setFocus(label);
          store.setHardFilter({label, predicted: null, offset: 0});
        }}));
    requestAnimationFrame(() => mark('clusters'));
  }
}
