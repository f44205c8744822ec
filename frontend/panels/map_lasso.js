// The map panel's lasso (issue 18.3): the "Lasso" toggle in the map's toolbar and the lasso
// on the plot (lasso.js); its points become the chosen points (chosen.js, issue 27.3), which
// the bar under the map (map_selection.js) tags through the store's tags (tags.js →
// api.setTags), at most ROWS_PER_REQUEST rows per request (tagInChunks).
// Owned by the map panel (panels/map.js); cleared when the selection or projection changes,
// since its rows and polygon belong to the map it was drawn on.

import {Lasso} from '../lasso.js';
import {el, fmt, replace} from '../views/dom.js';
import {emptyLassoBar, lassoBar, lassoToggle} from '../views/lasso.js';

export const ROWS_PER_REQUEST = 10000; // the server's bound (tags.py MAX_ROWS_PER_WRITE)

function done(fields, count) {
  const points = `${fmt(count)} point${count === 1 ? '' : 's'}`;
  if (fields.tag === null) return `Removed the tags of ${points}.`;
  if (fields.corrected_label) return `Gave ${points} the corrected label “${fields.corrected_label}”.`;
  return `Tagged ${points} “${fields.tag}”.`;
}

export class MapLasso {
  /** view: the map's MapView (its toolbar, stage, plot and node get the lasso's parts). */
  constructor(store, view) {
    this.store = store;
    this.bar = null;
    this.slot = el('div', {class: 'lasso-slot'});
    view.node.insertBefore(this.slot, view.legend);
    this.toggle = lassoToggle((on) => this.lasso.setActive(on));
    view.toolbar.insertBefore(this.toggle.node, view.toolbar.querySelector('.spacer'));
    this.lasso = new Lasso(view.plot, view.stage, {
      onSelect: (selection) => this.choose(selection),
      onPick: (index) => store.selectPoint(index),
      onMode: (on) => this.toggle.set(on),
    });
    store.on('selection', () => this.lasso.clear());
    store.on('projection', () => this.lasso.clear());
    store.on('tags', () => this.bar?.setTagged(this.tagged()));
    store.on('chosen', () => { if (!store.chosen.current && this.lasso.polygon) this.lasso.clear(); }); // forgotten: erase it
  }

  /** How many of the lasso's points have a tag or a corrected label. */
  tagged() {
    const {indices} = this.lasso;
    let count = 0;
    if (indices) for (const i of indices) if (this.store.tags.of(i)) count++;
    return count;
  }

  /**
   * The lasso's points become the chosen points (chosen.js): one selection whatever made it,
   * tagged and listed by the bar under the map (panels/map_selection.js). A cleared lasso
   * forgets them, unless the view is isolated to them (isolating clears the lasso too).
   */
  choose(selection) {
    const chosen = this.store.chosen;
    if (selection?.indices.length) {
      replace(this.slot);
      chosen.set(selection.indices, {source: 'lasso', title: 'drawn with the lasso'});
      return;
    }
    if (chosen.current?.source === 'lasso' && !chosen.isolated) chosen.clear();
    this.show(selection);
  }

  show(selection) {
    this.bar = null;
    if (!selection) { replace(this.slot); return; }
    const close = () => this.lasso.clear();
    if (!selection.indices.length) { replace(this.slot, emptyLassoBar(close)); return; }
    this.bar = lassoBar({count: selection.indices.length, tagged: this.tagged(), onTag: (fields) => this.tag(selection.indices, fields), onClose: close});
    replace(this.slot, this.bar.node);
  }

  /** Tag the lasso's points (tagInChunks), saying how far it got in the bar. */
  tag(indices, fields) {
    return tagInChunks(this.store.tags, indices, fields, (text) => this.bar?.status(text));
  }
}

/**
 * Tag `indices` with `fields` through `tags` (tags.js), ROWS_PER_REQUEST rows per request,
 * telling status(text) how far it got. A corrected label also tags "label error" the rows
 * that have no tag (as the single-point field does). Resolves to the words to show; rejects
 * with words saying what was saved. The lasso's bar and the chosen points' bar use it.
 */
export async function tagInChunks(tags, indices, fields, status = () => {}) {
  const generation = tags.generation; // the embedding the points were chosen on
  const rows = Array.from(indices);
  let groups = [[rows, fields]];
  if (fields.corrected_label && !('tag' in fields)) {
    groups = [[rows.filter((i) => !tags.of(i)?.tag), {...fields, tag: 'label error'}], [rows.filter((i) => tags.of(i)?.tag), fields]];
  }
  let saved = 0;
  for (const [group, groupFields] of groups) {
    for (let start = 0; start < group.length; start += ROWS_PER_REQUEST) {
      if (tags.generation !== generation) throw new Error(`Stopped after ${fmt(saved)} of ${fmt(rows.length)}: another embedding was chosen.`);
      if (rows.length > ROWS_PER_REQUEST) status(`saving ${fmt(saved)} of ${fmt(rows.length)}…`);
      const chunk = group.slice(start, start + ROWS_PER_REQUEST);
      try {
        await tags.set(chunk, groupFields);
      } catch (error) {
        throw new Error(saved ? `Saved ${fmt(saved)} of ${fmt(rows.length)}; the rest not: ${error.message}` : `Not saved: ${error.message}`);
      }
      saved += chunk.length;
    }
  }
  return done(fields, rows.length);
}
