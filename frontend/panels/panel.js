// What every panel has: its card in the grid, the store, and generation counters so that an
// answer for a selection the user has already left is dropped instead of overwriting a newer
// one. A panel is a default-exported subclass in panels/<name>.js, registered by name in
// app.js; it talks to the others only through the store.

import {card} from '../views/dom.js';

export class Panel {
  /** title: the card's heading; cls: its CSS class (tests and the stylesheet use it). */
  constructor(store, {title, cls}) {
    this.store = store;
    const {node, body, heading, actions} = card(title, cls);
    Object.assign(this, {node, body, heading, actions});
    this.generations = {};
    store.on('selection', () => this.onSelection());
  }

  /** Whether the panel has something to show for `entry`, a loadable /runs entry. */
  appliesTo(_entry) {
    return true;
  }

  /** Load and draw everything for the current selection; called when the card is shown. */
  load() {}

  onSelection() {
    for (const name of Object.keys(this.generations)) this.generations[name] += 1; // drop answers in flight
    const entry = this.store.usableEntry();
    this.node.hidden = !(entry && this.appliesTo(entry));
    if (!this.node.hidden) this.load();
  }

  /** Starts a new generation of `name`'s answers: returns isCurrent() for them. */
  begin(name = 'main') {
    const generation = (this.generations[name] || 0) + 1;
    this.generations[name] = generation;
    return () => this.generations[name] === generation;
  }
}
