// The review queue (issue 27.2): the hard-example ranking (the score, label and confusion
// cell chosen in the Hard examples card) worked through one point at a time from the
// keyboard. Each move selects the point through the store, so the map rings it and the
// neighbour panel lists its neighbours; tags and corrected labels go through tags.js like
// every other tag. Opened from the guide line (guide.js) or the Hard examples card; its
// state (open, length) is in the URL, the current point is the store's selected point.

import * as api from '../api.js';
import {el, replace} from '../views/dom.js';
import {loadInto} from '../views/feedback.js';
import {exportLinks, reviewDone, reviewItem, reviewStatus} from '../views/review.js';
import {scoreName} from '../scores.js';
import {numberedSteps} from '../store.js';
import {marginSparkline} from '../views/history.js';
import {mark} from '../marks.js';
import {Panel} from './panel.js';

const PAGE = 1000; // the server's largest page of /hard_examples
const MAX_SIZE = 10000; // a queue longer than this is not read one point at a time
const FALLBACK_SIZE = 24; // the queue's length when no point is outvoted (a gallery page)
const KEY_TAGS = {1: 'label error', e: 'label error', 2: 'ambiguous', a: 'ambiguous', 3: 'ok', o: 'ok'};

export default class ReviewPanel extends Panel {
  constructor(store) {
    super(store, {title: 'Review queue', cls: 'card-review'});
    this.node.tabIndex = -1; // focused after each action, so the keys keep working
    this.queue = null; // {items, total, method, size}
    this.position = 0;
    this.done = false;
    this.status = '';
    this.skipping = true;
    store.on('review', () => this.onSelection());
    // The queue is the ranking: another score, label or cell is another queue (not another gallery page).
    store.on('hardFilter', () => { if (!this.node.hidden && this.rankingKey() !== this.loadedKey) this.load(); });
    // A point chosen elsewhere (map, gallery) that is in the queue: continue from there.
    store.on('point', () => this.follow());
    store.on('tags', () => { if (this.queue && !this.node.hidden) this.render(); });
    document.addEventListener('keydown', (event) => this.onKey(event));
  }

  rankingKey() {
    const {label, predicted, method} = this.store.hard;
    return JSON.stringify([label, predicted, method]);
  }

  follow() {
    if (this.node.hidden || !this.queue || this.done) return;
    const at = this.queue.items.findIndex((item) => item.index === this.store.point);
    if (at >= 0 && at !== this.position) {
      this.position = at;
      this.render();
    }
  }

  appliesTo() {
    return Boolean(this.store.labelColumn()) && this.store.review.open;
  }

  /** The queue's items: the first `size` of the ranking (pages of /hard_examples). */
  async fetchQueue(q, filter, onProgress) {
    const ask = (limit, offset) => api.hardExamples(q, {label: filter.label, predicted: filter.predicted, method: filter.method,
      limit, offset}, {onProgress});
    const first = await ask(PAGE, 0);
    // By default the points their neighbours outvote; when none is, the first page's worth.
    const wanted = this.store.review.size ?? (first.hard_total || Math.min(FALLBACK_SIZE, first.total));
    const size = Math.max(1, Math.min(wanted, first.total, MAX_SIZE));
    const items = first.examples.slice(0, size);
    while (items.length < size) {
      const page = await ask(Math.min(PAGE, size - items.length), items.length);
      if (!page.examples.length) break;
      items.push(...page.examples);
    }
    return {items, total: Math.min(first.total, MAX_SIZE), method: first.method, size: items.length};
  }

  async load() {
    const isCurrent = this.begin();
    const store = this.store;
    const q = store.query();
    const filter = {...store.hard};
    this.loadedKey = this.rankingKey();
    this.histories = new Map(); // index → its margin and vote per step (/history?indices=)
    this.queue = null;
    this.done = false;
    this.heading.textContent = 'Review queue';
    await loadInto(this.body, {
      isCurrent, label: 'Ranking the points to review', errorTitle: 'Could not rank the points to review', retry: () => this.load(),
      load: async (onProgress) => {
        const queue = await store.withColours(this.fetchQueue(q, filter, onProgress));
        await store.tags.ready;
        return queue;
      },
      show: (queue) => {
        this.queue = queue;
        const at = queue.items.findIndex((item) => item.index === store.point);
        this.position = at >= 0 ? at : 0;
        if (at < 0 && queue.items.length && this.skipOk() && this.isOk(0)) this.position = this.step(0, 1) ?? 0;
        this.render();
        if (queue.items.length && store.point !== queue.items[this.position].index) store.selectPoint(queue.items[this.position].index);
        mark('review');
      },
    });
  }

  /** Whether next and previous pass over the points tagged "ok" (on by default). */
  skipOk() {
    return this.skipping;
  }

  isOk(position) {
    return this.store.tags.of(this.queue.items[position].index)?.tag === 'ok';
  }

  /** The next position from `from` in direction `dir` (±1) that is not skipped, or null. */
  step(from, dir) {
    for (let p = from + dir; p >= 0 && p < this.queue.items.length; p += dir) {
      if (!(this.skipOk() && this.isOk(p))) return p;
    }
    return null;
  }

  counts() {
    const tags = this.store.tags;
    const byTag = {};
    let reviewed = 0;
    let corrected = 0;
    for (const item of this.queue.items) {
      const tag = tags.of(item.index);
      if (!tag) continue;
      reviewed += 1;
      if (tag.tag) byTag[tag.tag] = (byTag[tag.tag] || 0) + 1;
      if (tag.corrected_label) corrected += 1;
    }
    return {reviewed, corrected, byTag, size: this.queue.items.length};
  }

  exports() {
    const q = this.store.query();
    return {metadata: api.exportUrl(q, 'tags', 'metadata'), tags: api.exportUrl(q, 'tags', 'csv')};
  }

  render() {
    const store = this.store;
    const queue = this.queue;
    const counts = this.counts();
    this.heading.textContent = `Review queue · ${counts.reviewed} of ${counts.size} reviewed`;
    const status = reviewStatus({counts, scoreName: scoreName(queue.method), skipOk: this.skipOk(), size: queue.size,
      total: queue.total, onSize: (size) => store.setReview({size}), onSkipOk: (on) => { this.skipping = on; this.render(); },
      onClose: () => store.setReview({open: false, size: null})});
    if (!queue.items.length) {
      replace(this.body, status, el('p', {class: 'muted'}, 'No point to review here.'));
      return;
    }
    if (this.done) {
      replace(this.body, status, reviewDone({counts, exports: this.exports(), onBack: () => { this.done = false; this.render(); }}));
      return;
    }
    const item = queue.items[this.position];
    const on = {
      tag: (name) => this.tag(name),
      correct: (text) => this.correct(text),
      vote: () => this.correct(item.predicted_label),
      move: (dir) => this.move(dir),
      leaveField: () => this.node.focus({preventScroll: true}),
    };
    replace(this.body, status, reviewItem({item, position: this.position, size: queue.items.length, tag: store.tags.of(item.index),
      labelColumn: store.labelColumn(), colourOf: (l) => store.colours.colourOf(l), thumbUrl: (i) => store.thumbUrl(i),
      on, status: this.status}), exportLinks(this.exports()));
    this.addHistory(item);
  }

  /** Under the point, its kNN margin at every step with the vote, when there are steps (the
   * evidence the history score weighs; the same sparkline as on the gallery's cards). */
  async addHistory(item) {
    const store = this.store;
    if (numberedSteps(store.entry()) < 2) return;
    const isCurrent = () => Number(this.body.querySelector('.review-item')?.dataset.index) === item.index;
    let row = this.histories.get(item.index);
    if (!row) {
      const {run, embedding, labelColumn, k, metric} = store.query();
      try {
        const answer = await api.history({run, embedding, labelColumn, k, metric}, {indices: [item.index]});
        row = {...answer.rows[0], steps: answer.steps};
        this.histories.set(item.index, row);
      } catch (error) {
        const slot = this.body.querySelector('.review-history');
        if (slot && isCurrent()) replace(slot, el('span', {class: 'muted small'}, `No margin per step: ${error.message}`));
        return;
      }
    }
    const slot = this.body.querySelector('.review-history');
    if (!slot || !isCurrent()) return;
    replace(slot, el('span', {class: 'muted small'}, `kNN margin at steps ${row.steps.join(', ')}`),
      marginSparkline(row.margin, {votes: row.vote, steps: row.steps, label: item.label,
        colourOf: (l) => store.colours.colourOf(l), width: 240, height: 40}));
  }

  /** Go to the next (dir 1) or previous (-1) point not skipped; past the last: the end. */
  move(dir) {
    if (!this.queue?.items.length) return;
    this.status = '';
    if (this.done) {
      if (dir < 0) { this.done = false; this.render(); }
      return;
    }
    const next = this.step(this.position, dir);
    if (next === null) {
      if (dir > 0) { this.done = true; this.render(); }
      return;
    }
    this.position = next;
    this.render();
    this.store.selectPoint(this.queue.items[next].index);
  }

  /** Tag the current point `name` (the same tag again removes it), then go on. */
  async tag(name) {
    const item = this.queue.items[this.position];
    const current = this.store.tags.of(item.index);
    const removing = current?.tag === name;
    if (await this.save(item, {tag: removing ? null : name}) && !removing) this.move(1);
  }

  /** A corrected label for the current point (tagged "label error" unless tagged), then go on. */
  async correct(text) {
    const item = this.queue.items[this.position];
    const fields = {corrected_label: text || null};
    if (text && !this.store.tags.of(item.index)?.tag) fields.tag = 'label error';
    if (await this.save(item, fields)) this.move(1);
    this.node.focus({preventScroll: true});
  }

  async save(item, fields) {
    try {
      await this.store.tags.set([item.index], fields);
      return true;
    } catch (error) {
      this.status = `Not saved: ${error.message}`;
      this.render();
      return false;
    }
  }

  /** The queue's keys, while it is open, unless typing elsewhere or another control has the key. */
  onKey(event) {
    if (this.node.hidden || !this.queue || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    const typing = target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName));
    // A focused canvas (the map) or a field has its own keys; buttons and links only Enter and Space.
    if (typing || target instanceof HTMLCanvasElement) return;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (key === 'ArrowRight' || key === 'j') this.move(1);
    else if (key === 'ArrowLeft' || key === 'k') this.move(-1);
    else if (this.done) return;
    else if (KEY_TAGS[key]) this.tag(KEY_TAGS[key]);
    else if (key === 'v' && this.queue.items[this.position].predicted_label !== this.queue.items[this.position].label) {
      this.correct(this.queue.items[this.position].predicted_label);
    } else if (key === 'c') {
      this.node.querySelector('input[name=review_label]')?.focus();
    } else {
      return;
    }
    event.preventDefault();
  }
}
