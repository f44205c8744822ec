// The guide line's controller (issue 27.1): hears the store and says, in one line with its
// action, what to do next on the selected embedding to find and fix label errors. With two
// or more steps and labels, ranking by history is the best answer the tab has (the README's
// 143 of the top 162 planted flips on the demo), so it is offered first; then the review queue.

import {scoreName} from './scores.js';
import {numberedSteps} from './store.js';
import {el, replace} from './views/dom.js';
import {guideLine} from './views/guide.js';

export class Guide {
  constructor(store) {
    this.store = store;
    this.node = el('div', {class: 'guide-slot'});
    for (const topic of ['selection', 'hardFilter', 'review']) store.on(topic, () => this.render());
  }

  render() {
    const store = this.store;
    const entry = store.usableEntry();
    if (!entry || !store.labelColumn()) {
      replace(this.node);
      return;
    }
    const steps = numberedSteps(entry);
    const method = store.hard.method;
    let line;
    if (steps >= 2 && method !== 'history') {
      line = guideLine({text: `This embedding has ${steps} steps: `, action: 'rank label errors by their history →',
        name: 'guide_history', onAction: () => store.setHardFilter({method: 'history', offset: 0}, {reveal: true})});
    } else if (!store.review.open) {
      const ranked = method === 'history' ? `Ranked by their history over ${steps} steps: ` : `Hard examples ranked by ${scoreName(method)}: `;
      line = guideLine({text: ranked, action: 'review them one at a time →', name: 'guide_review',
        onAction: () => store.setReview({open: true})});
    } else {
      line = guideLine({text: 'Reviewing: → next, 1 2 3 tag, v takes the neighbours’ vote, c types a label; '
        + 'at the end, export the metadata with corrected labels.'});
    }
    replace(this.node, line);
  }
}
