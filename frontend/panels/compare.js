// The compare panel: the statistics of every step of this embedding (and of runs with an
// embedding of the same name) side by side. Shown only when there is something to compare.

import * as api from '../api.js';
import {compareView} from '../views/compare.js';
import {replace} from '../views/dom.js';
import {loadInto} from '../views/feedback.js';
import {Panel} from './panel.js';

export default class ComparePanel extends Panel {
  constructor(store) {
    super(store, {title: 'Compare steps', cls: 'card-compare'});
    this.figure = 'purity';
  }

  appliesTo(entry) {
    if (!this.store.labelColumn()) return false;
    if ((entry.steps || []).length > 1) return true;
    return this.store.runs.runs.some((r) => r.run !== this.store.sel.run && r.embeddings.some((e) => e.name === entry.name && !e.error));
  }

  async load() {
    const isCurrent = this.begin();
    const q = this.store.query();
    const render = (answer) => replace(this.body, compareView({compare: answer, run: q.run, figure: this.figure,
      onFigure: (figure) => { this.figure = figure; render(answer); }}));
    await loadInto(this.body, {
      isCurrent, label: 'Statistics of every step', errorTitle: 'Could not compare steps', retry: () => this.load(),
      load: (onProgress) => api.compare(q, {onProgress}),
      show: render,
    });
  }
}
