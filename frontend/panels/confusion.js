// The confusion-matrix panel: given label × the label the k neighbours vote for. A click on
// a cell filters the hard-example gallery to exactly that cell's points (through the
// store's hard-example filter, which also marks the chosen cell).

import {showClusters} from '../answers.js';
import {confusionMatrix} from '../views/confusion.js';
import {replace} from '../views/dom.js';
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
    this.answer = null;
    // The same request as the cluster table's (answers.js): asked once, whoever is first.
    await showClusters(this, isCurrent, {title: 'Confusion matrix', errorTitle: 'No confusion matrix'});
  }

  render() {
    const store = this.store;
    replace(this.body, confusionMatrix({confusion: this.answer.confusion, colourOf: (l) => store.colours.colourOf(l),
      selected: store.hard.predicted !== null ? store.hard : null,
      onCell: (label, predicted) => store.setHardFilter({label, predicted, offset: 0}, {reveal: true})}));
  }
}
