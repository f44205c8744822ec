// The History panel (issue 16.5): what every point's neighbourhood said about its label at
// every logged step of the same rows. Shown when the embedding has two or more numbered steps
// and a label column. Four parts, each loaded on its own (a slow or failed one leaves the
// others working):
//   * the cartography chart from /history: mean kNN margin against its variability over the
//     steps, coloured by label, the likeliest label errors ringed, a click selects the point;
//     next to it kNN accuracy per step, the steps left out, and the selected point's steps
//     (/history?index=);
//   * churn between two chosen steps (/churn);
//   * the confusion timeline of the confusion cell chosen in the matrix (store.hard), else
//     the largest pairs (/history's `timeline`).

import * as api from '../api.js';
import {mark} from '../marks.js';
import {mapColours, onThemeChange} from '../theme.js';
import {CartographyChart} from '../views/cartography.js';
import {el, fmt, replace} from '../views/dom.js';
import {loadInto, notice, settle} from '../views/feedback.js';
import {accuracyView, cartographyCaption, cartographyTooltip, churnPickers, churnView, labelErrorsSummary, leftOutList,
  pointHistoryView, timelinePair} from '../views/history.js';
import {Panel} from './panel.js';

const RINGED = 50; // at most this many likely label errors ringed on the chart…
const RING_SCORE = 0.5; // …among those whose history score is at least this
const TOP_PAIRS = 4; // confusion pairs shown when no cell is chosen
const MOVED = 30; // points listed as having moved most

/** The numbered steps of a /runs entry, oldest first. */
export function numberedSteps(entry) {
  return (entry?.steps || []).filter((s) => Number.isInteger(s)).sort((a, b) => a - b);
}

export default class HistoryPanel extends Panel {
  constructor(store) {
    super(store, {title: 'Training history', cls: 'card-history wide'});
    this.answer = null; // the /history answer shown
    this.rowToPosition = null; // Int32Array: row index → position in answer.points (−1: left out)
    this.churnSteps = null; // {stepA, stepB}
    this.chart = new CartographyChart({
      onHover: (p, x, y) => this.hover(p, x, y),
      onClick: (p) => { if (p !== null) store.selectPoint(this.answer.points.index[p]); },
    });
    this.tooltip = el('div', {class: 'map-tooltip cartography-tooltip', hidden: true, role: 'tooltip'});
    this.chart.setTheme(mapColours());
    onThemeChange(() => this.chart.setTheme(mapColours()));
    this.slots = {
      summary: el('div', {class: 'history-summary'}),
      chart: el('div', {class: 'history-chart-slot'}),
      accuracy: el('div', {class: 'history-accuracy'}),
      point: el('div', {class: 'history-point'}),
      churn: el('div', {class: 'history-churn'}),
      timeline: el('div', {class: 'history-timeline'}),
    };
    const {summary, chart, accuracy, point, churn, timeline} = this.slots;
    replace(this.body,
      summary,
      el('div', {class: 'history-grid'},
        el('section', {class: 'history-main'}, el('h3', {class: 'section-title'}, 'Cartography'), chart),
        el('section', {class: 'history-side'},
          el('h3', {class: 'section-title'}, 'kNN accuracy per step'), accuracy,
          el('h3', {class: 'section-title'}, 'Selected point over the steps'), point)),
      el('div', {class: 'history-grid'},
        el('section', {class: 'history-churn-section'}, el('h3', {class: 'section-title'}, 'Neighbourhood churn'), churn),
        el('section', {class: 'history-timeline-section'}, el('h3', {class: 'section-title'}, 'Confusion timeline'), timeline)));
    store.on('point', () => { if (!this.node.hidden) { this.updateSelected(); this.loadPoint(); } });
    store.on('hardFilter', () => {
      if (this.node.hidden) return;
      this.renderTimeline();
      if (this.answer && this.shownHideOk !== store.hard.hideOk) this.renderChart();
    });
    store.on('tags', () => { if (this.answer && !this.node.hidden && store.hard.hideOk) this.renderChart(); });
    store.on('colours', ({kind}) => { if (kind === 'legend' && this.answer && !this.node.hidden) this.renderChart(); });
  }

  appliesTo(entry) {
    return Boolean(this.store.labelColumn()) && numberedSteps(entry).length >= 2;
  }

  /** The selection /history is asked about: every step, so the step picker is not sent. */
  query() {
    const {run, embedding, labelColumn, k, metric} = this.store.query();
    return {run, embedding, labelColumn, k, metric};
  }

  onSelection() {
    super.onSelection();
    if (!this.node.hidden) return;
    // Hidden (an embedding without steps): nothing of the previous one stays in the page.
    this.answer = null;
    for (const slot of Object.values(this.slots)) settle(slot);
  }

  load() {
    this.answer = null;
    this.begin('churn'); // a churn in flight belongs to the previous selection
    settle(this.slots.churn);
    this.loadHistory();
  }

  /**
   * The steps churn can compare: those the history uses (the same rows), once it is known,
   * else every numbered step (the server then says which ones differ).
   */
  churnChoices() {
    const steps = this.answer ? this.answer.steps : numberedSteps(this.store.entry());
    if (!this.churnSteps || !steps.includes(this.churnSteps.stepA) || !steps.includes(this.churnSteps.stepB)) {
      this.churnSteps = {stepA: steps[0], stepB: steps[steps.length - 1]};
    }
    return steps;
  }

  async loadHistory() {
    const isCurrent = this.begin('history');
    const store = this.store;
    const q = this.query();
    settle(this.slots.accuracy);
    settle(this.slots.timeline);
    settle(this.slots.summary);
    this.showPointHint();
    const loaded = await loadInto(this.slots.chart, {
      isCurrent, label: 'Following every point over the steps', errorTitle: 'Could not compute the training history',
      retry: () => this.loadHistory(),
      load: (onProgress) => store.withColours(store.requests.get(`history|${JSON.stringify(q)}`,
        (progress) => api.history(q, {}, {onProgress: progress}), onProgress)),
      show: (answer) => {
        this.answer = answer;
        this.loadChurn();
        const index = answer.points.index;
        let max = -1;
        for (const i of index) if (i > max) max = i;
        this.rowToPosition = new Int32Array(max + 1).fill(-1);
        index.forEach((row, p) => { this.rowToPosition[row] = p; });
        this.renderSummary();
        this.renderChart();
        this.renderAccuracy();
        this.renderTimeline();
        this.loadPoint();
        requestAnimationFrame(() => mark('history'));
      },
    });
    if (!loaded && isCurrent()) this.loadChurn(); // churn does not need the history
  }

  renderSummary() {
    const a = this.answer;
    replace(this.slots.summary,
      el('p', {class: 'muted small'}, `${fmt(a.n)} points followed over ${a.steps.length} steps (${a.steps[0]} to ${a.steps[a.steps.length - 1]}), `
        + `${a.k} nearest neighbours by ${a.metric} distance, labels from “${a.label_column}”. `
        + 'Per point and step, the kNN margin is the share of its neighbours voting for its label minus the largest share voting for another, in [−1, 1].'),
      leftOutList(a.left_out), labelErrorsSummary(a));
  }

  renderChart() {
    const a = this.answer;
    const store = this.store;
    const {points} = a;
    const n = points.index.length;
    const x = Float32Array.from(points.variability, (v) => (v === null ? NaN : v));
    const y = Float32Array.from(points.mean_margin, (v) => (v === null ? NaN : v));
    const classOf = new Map();
    const palette = [];
    const classes = new Uint16Array(n);
    points.label.forEach((label, p) => {
      if (!classOf.has(label)) { classOf.set(label, palette.length); palette.push(store.colours.colourOf(label)); }
      classes[p] = classOf.get(label);
    });
    // Positions by score, highest first (ties by row): the rings and each point's rank.
    this.order = Array.from({length: n}, (_, p) => p).sort((p, q) => (points.score[q] ?? -1) - (points.score[p] ?? -1) || p - q);
    // With "hide ok" (shared with the hard-example gallery), points tagged "ok" are left out of
    // the rings, so the next likeliest errors take their places: a queue to work through.
    const hideOk = store.hard.hideOk;
    this.shownHideOk = hideOk;
    const ok = (p) => store.tags.of(points.index[p])?.tag === 'ok';
    const candidates = hideOk ? this.order.filter((p) => !ok(p)) : this.order;
    this.ringed = candidates.slice(0, RINGED).filter((p) => points.score[p] >= RING_SCORE);
    const hiddenOk = hideOk ? this.order.length - candidates.length : 0;
    this.chart.setData(x, y, classes, palette);
    this.chart.setMarks({hard: this.ringed});
    this.updateSelected();
    let settled = 0; // margin 1 at every step: all drawn as the one dot in the top-left corner
    for (let p = 0; p < n; p++) if (x[p] === 0 && y[p] === 1) settled++;
    const caption = cartographyCaption({settled, ringed: this.ringed.length, ringScore: RING_SCORE});
    const hideBox = el('input', {type: 'checkbox', name: 'history_hide_ok', checked: hideOk});
    hideBox.addEventListener('change', () => store.setHardFilter({hideOk: hideBox.checked, offset: 0}));
    const hideField = el('label', {class: 'inline small', title: 'leave points you tagged “ok” out of the rings (and of the hard-example gallery)'},
      hideBox, ' hide points tagged ok', hiddenOk ? el('span', {class: 'muted'}, ` (${fmt(hiddenOk)} hidden)`) : null);
    replace(this.slots.chart, el('div', {class: 'cartography'}, this.chart.node, this.tooltip), caption, hideField);
  }

  renderAccuracy() {
    replace(this.slots.accuracy, accuracyView(this.answer));
  }

  updateSelected() {
    if (!this.rowToPosition) return;
    const point = this.store.point;
    const p = point !== null && point < this.rowToPosition.length ? this.rowToPosition[point] : -1;
    this.chart.setMarks({selected: p >= 0 ? p : null});
  }

  hover(p, clientX, clientY) {
    if (p === null || p === undefined || !this.answer) {
      this.tooltip.hidden = true;
      return;
    }
    const {points} = this.answer;
    const rank = this.order.indexOf(p) + 1;
    replace(this.tooltip, cartographyTooltip(points, p, rank, (label) => this.store.colours.colourOf(label)));
    this.tooltip.hidden = false;
    const box = this.chart.node.getBoundingClientRect();
    const tip = this.tooltip.getBoundingClientRect();
    let x = clientX - box.left + 14, y = clientY - box.top + 14;
    if (x + tip.width > box.width) x = Math.max(0, clientX - box.left - tip.width - 14);
    if (y + tip.height > box.height) y = Math.max(0, clientY - box.top - tip.height - 14);
    this.tooltip.style.left = `${x}px`;
    this.tooltip.style.top = `${y}px`;
  }

  showPointHint() {
    settle(this.slots.point, el('p', {class: 'muted small hint'}, 'Click a point (on this chart, the map or a hard example) to see its margin and vote at every step.'));
  }

  async loadPoint() {
    const isCurrent = this.begin('point');
    const index = this.store.point;
    if (index === null || !this.answer) {
      if (!this.answer) return; // drawn once the history arrives
      this.showPointHint();
      return;
    }
    const q = this.query();
    const steps = this.answer.steps;
    await loadInto(this.slots.point, {
      isCurrent, label: `Point #${index} over the steps`, errorTitle: `Could not follow point #${index}`,
      retry: () => this.loadPoint(),
      load: (onProgress) => api.history(q, {index}, {onProgress}),
      show: (answer) => replace(this.slots.point, pointHistoryView({point: answer.point, steps, n: this.answer.n,
        colourOf: (l) => this.store.colours.colourOf(l)})),
    });
  }

  async loadChurn() {
    const isCurrent = this.begin('churn');
    const store = this.store;
    const q = this.query();
    const steps = this.churnChoices();
    const {stepA, stepB} = this.churnSteps;
    const pickers = churnPickers({steps, stepA, stepB, onSteps: (chosen) => { this.churnSteps = chosen; this.loadChurn(); }});
    const result = el('div', {class: 'churn-slot'});
    replace(this.slots.churn, pickers, result);
    await loadInto(result, {
      isCurrent, label: `Neighbours at step ${stepA} and at step ${stepB}`, errorTitle: 'Could not compare the neighbourhoods',
      retry: () => this.loadChurn(),
      load: (onProgress) => store.withColours(api.churn(q, {stepA, stepB, limit: MOVED}, {onProgress})),
      show: (answer) => {
        replace(result, churnView({answer, colourOf: (l) => store.colours.colourOf(l), onSelect: (i) => store.selectPoint(i),
          labelColumn: store.labelColumn()}));
        mark('churn');
      },
    });
  }

  renderTimeline() {
    const a = this.answer;
    if (!a) return;
    const colourOf = (l) => this.store.colours.colourOf(l);
    const slot = this.slots.timeline;
    const pairs = a.timeline?.pairs;
    if (!pairs) {
      settle(slot, notice('No confusion timeline', 'This TensorBoard’s plugin does not compute one yet (it needs /history’s `timeline`).'));
      return;
    }
    const {label, predicted} = this.store.hard;
    if (predicted !== null && predicted !== undefined && label !== null) {
      const pair = pairs.find((p) => p.label === label && p.predicted === predicted);
      const back = el('button', {type: 'button', class: 'button small subtle', onclick: () => this.store.setHardFilter({predicted: null, offset: 0})},
        'show the largest pairs');
      if (pair) {
        settle(slot, timelinePair({pair, steps: a.steps, colourOf, large: true}), back);
      } else {
        const why = label === predicted ? 'the diagonal is not a confusion'
          : pairs.length >= 200 ? 'it is not among the 200 largest pairs'
            : `no point labelled “${label}” has its neighbours vote “${predicted}” at any step`;
        settle(slot, el('p', {class: 'muted small'}, `No timeline for “${label}” → “${predicted}”: ${why}.`), back);
      }
      return;
    }
    if (!pairs.length) {
      settle(slot, el('p', {class: 'muted small'}, 'No confusion at any step: every point’s neighbours vote for its label.'));
      return;
    }
    settle(slot, el('p', {class: 'muted small'}, 'The largest confusions over the steps; click a cell of the confusion matrix to follow it.'),
      el('div', {class: 'timeline-pairs'}, pairs.slice(0, TOP_PAIRS).map((pair) => timelinePair({pair, steps: a.steps, colourOf}))));
  }
}
