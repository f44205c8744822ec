// The confusion-matrix panel: given label × the label the k neighbours vote for. A click on
// a cell filters the hard-example gallery to exactly that cell's points (through the
// store's hard-example filter, which also marks the chosen cell).

import {clusters} from '../answers.js';
import {countsFromClusters} from '../labels.js';
import {confusionMatrix} from '../views/confusion.js';
import {replace} from '../views/dom.js';
import {errorBox, progress} from '../views/feedback.js';
import {Panel} from './panel.js';

export default class ConfusionPanel extends Panel {
  constructor(store) {
    super(store, {title: 'Confusion matrix', cls: 'card-confusion'});
    this.answer = null;
    store.on('hardFilter', () => { if (this.answer) this.render(); });
  }

  appliesTo() {
    return Boolean(this.store.labelColumn());
  }

  async load() {
    const isCurrent = this.begin();
    const store = this.store;
    this.answer = null;
    const bar = progress('Confusion matrix');
    replace(this.body, bar.node);
    try {
      // The same request as the cluster table's (answers.js): asked once, whoever is first.
      const answer = await clusters(store, (state) => { if (isCurrent()) bar.update(state); });
      if (!isCurrent()) return;
      store.colours.assign(countsFromClusters(answer.labels));
      this.answer = answer;
      store.publish('clusters', answer);
      this.render();
    } catch (error) {
      if (!isCurrent()) return;
      replace(this.body, errorBox(error, {title: 'No confusion matrix', retry: () => this.load()}));
    }
  }

  render() {
    const store = this.store;
    replace(this.body, confusionMatrix({confusion: this.answer.confusion, colourOf: (l) => store.colours.colourOf(l),
      selected: store.hard.predicted !== null ? store.hard : null,
      onCell: (label, predicted) => store.setHardFilter({label, predicted, offset: 0}, {reveal: true})}));
  }
}
