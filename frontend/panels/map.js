// The map panel: the 2-D projection as a scatter plot coloured by label, with its legend.
// Emphasised points: the search matches, else the focused label. Marks: the hardest points
// (rings), the Data quality card's outlier page (dashed rings, store.data.outliers), the
// selected point and its neighbours. It requests the projection and the
// hardest points; labels, matches and neighbours it hears from the store. Words on the map
// (scatter_text.js) come from the text column: the first that is neither the label column
// nor a row number, else the label.

import * as api from '../api.js';
import {hardest, metadataColumn} from '../answers.js';
import {mark} from '../marks.js';
import {mapColours, onThemeChange} from '../theme.js';
import {fmt, metadataText} from '../views/dom.js';
import {MapView, PROJECTIONS} from '../views/map.js';
import {MapKeys} from './map_keys.js';
import {MapLasso} from './map_lasso.js';
import {MapSelection} from './map_selection.js';
import {MapProjector} from './map_projector.js';
import {Panel} from './panel.js';

/** coords with every point not chosen hidden (NaN) while the chosen points are isolated (chosen.js). */
function isolated(coords, chosen) {
  if (!chosen.isolated || !chosen.mask) return coords;
  const shown = coords.slice();
  for (let i = 0; i < chosen.mask.length; i++) if (!chosen.mask[i]) { shown[2 * i] = NaN; shown[2 * i + 1] = NaN; }
  return shown;
}

const TEXT_COLUMN_MAX = 200000; // beyond this many points the map writes labels, not another column
const MOVED_ARROWS = 100; // arrows drawn for "moved since step"

export default class MapPanel extends Panel {
  constructor(store) {
    super(store, {title: 'Map', cls: 'card-map'});
    this.showHard = true;
    this.showOutliers = true;
    this.coords = null; // Float32Array(2N) of the shown selection
    this.shown = null; // which embedding's map is on the canvas: run, embedding, step
    this.hard = null; // indices of the hardest points
    this.texts = null; // rows of the text column, when it is not the label column
    this.moved = {on: false, step: null}; // "moved since step": arrows from that step's aligned map
    this.view = new MapView({
      onSelect: (i) => store.selectPoint(i),
      onProjection: (method) => store.setProjection(method),
      onFocusLabel: (label) => store.setFocus(label),
      onToggleHard: (on) => { this.showHard = on; this.updateMarks(); },
      onToggleOutliers: (on) => { this.showOutliers = on; this.updateMarks(); },
      onMoved: (choice) => { this.moved = choice; this.loadMoved(); },
      describe: (i) => this.describe(i),
      textOf: (i) => this.textOf(i),
    });
    this.body.appendChild(this.view.node);
    this.lasso = new MapLasso(store, this.view); // select points by drawing around them, tag them
    this.chosen = new MapSelection(store, this.view); // the chosen points: gallery, isolate, tag all (issue 27.3)
    // arrows, Enter, Space on the map (issue 27.7); on a 3-D map plain arrows turn it, Shift+arrows move
    this.keys = new MapKeys(store, this.view, {turns: () => this.projector?.dims === 3});
    store.on('chosen', () => this.updateEmphasis());
    this.projector = new MapProjector(store, this); // colour/words by any column, 3-D, settings, thumbnails
    this.view.setTheme(mapColours());
    onThemeChange(() => this.view.setTheme(mapColours()));
    store.on('projection', () => { this.loadMap(); this.showMovedControl(); this.loadMoved(); });
    store.on('point', () => this.updateMarks());
    store.on('focus', () => { this.showLegend(); this.updateEmphasis(); });
    store.on('data', ({name}) => {
      if (name === 'search') this.updateEmphasis();
      if (name === 'search' || name === 'neighbors' || name === 'outliers') this.updateMarks();
    });
    store.on('colours', (event) => this.onColours(event));
  }

  /** The scatter plot (tests and the paint bench measure it). */
  get plot() {
    return this.view.plot;
  }

  load() {
    const {run, embedding, step, labelColumn} = this.store.query();
    const shown = JSON.stringify([run, embedding, step]);
    // Another embedding (or step): its predecessor's points, rings and lines must not stay
    // on screen while it loads, nor under its error if it fails.
    if (shown !== this.shown) this.view.clear();
    this.shown = shown;
    this.coords = null;
    this.hard = null;
    this.texts = null;
    this.view.setHardAvailable(Boolean(labelColumn));
    this.view.setNote(null);
    this.projector.reset();
    this.showLegend(); // the colours were reset: empty until the new assignment
    this.updateEmphasis();
    this.updateMarks();
    this.loadMap();
    if (labelColumn) this.loadHardest();
    this.loadTexts();
    this.showMovedControl();
    this.loadMoved();
  }

  /** The steps this map can be compared with: the embedding's other numbered steps, oldest first. */
  movedSteps() {
    const entry = this.store.entry();
    const current = this.store.sel.step ?? entry?.step;
    return (entry?.steps || []).filter((s) => Number.isInteger(s) && s !== current).sort((a, b) => a - b);
  }

  showMovedControl() {
    const steps = this.movedSteps();
    if (!steps.includes(this.moved.step)) this.moved = {...this.moved, step: steps[0] ?? null};
    const disabled = !this.projector.plainPca() ? 'only the 2-D PCA map is aligned between steps' : null;
    this.view.setMovedSteps(steps.length ? steps : null, {...this.moved, disabled});
  }

  /** Arrows from where the points that moved most were at the chosen step (/aligned, PCA + Procrustes). */
  async loadMoved() {
    const isCurrent = this.begin('moved');
    this.view.setArrows(null);
    const {on, step} = this.moved;
    const store = this.store;
    if (!on || step === null || !this.projector.plainPca() || !store.usableEntry()) {
      if (store.projection === 'pca') this.view.setMovedInfo('');
      return;
    }
    const q = store.query();
    this.view.setMovedInfo('aligning the steps…');
    try {
      const answer = await api.aligned(q, {stepA: step, stepB: q.step ?? store.entry().step, limit: MOVED_ARROWS});
      if (!isCurrent()) return;
      this.view.setArrows(answer.moved);
      this.view.setMovedInfo(`${fmt(answer.moved.length)} points that moved most since step ${answer.step_a} `
        + `(Procrustes disparity ${fmt(answer.disparity, 3)})`);
      requestAnimationFrame(() => mark('mapArrows'));
    } catch (error) {
      if (isCurrent()) this.view.setMovedInfo(`could not align the steps: ${error.message}`);
    }
  }

  /** The text column's values, when the colours' column (the labels) is not it. */
  async loadTexts() {
    const isCurrent = this.begin('texts');
    const store = this.store;
    const entry = store.entry();
    const q = store.query();
    const column = (entry.columns || []).find((c) => c !== q.labelColumn && !/^index$/i.test(c));
    if (!q.labelColumn || !column || entry.shape[0] > TEXT_COLUMN_MAX) return;
    try {
      const meta = await metadataColumn(store, column);
      if (!isCurrent()) return;
      this.texts = meta.rows;
      this.view.redraw();
    } catch (_) {
      // The map writes the labels instead; the hover card and lists still show every column.
    }
  }

  /** The words written next to point `index` on the map. */
  textOf(index) {
    const chosen = this.projector.textOf(index); // a column chosen under "Words" (or none)
    if (chosen !== undefined) return chosen;
    const row = this.texts?.[index] ?? this.store.colours.labels.metadata(index);
    return metadataText(row, {index});
  }

  async loadMap() {
    const isCurrent = this.begin('map');
    const store = this.store;
    const q = store.query();
    const entry = store.entry();
    const method = store.projection;
    this.view.setMethod(method);
    if (this.projector.waitingForQueries(method)) {
      this.view.clear();
      this.view.showNotice('Custom projection', 'Give its axis two queries under Settings: the rows at its left end '
        + 'and those at its right (e.g. bad → good, or two labels); optionally a second axis the same way.');
      return;
    }
    const bar = this.view.showProgress(`Computing the ${PROJECTIONS[method]} map`);
    try {
      const {key, fetch} = this.projector.request(q, method);
      const result = await store.requests.get(key, fetch, (state) => {
        if (!isCurrent()) return;
        bar.update(state);
        if (state.preview) this.showPreview(state);
      });
      if (!isCurrent()) return;
      this.view.hidePreview();
      if (result.coords.length / result.dims !== entry.shape[0]) {
        throw new api.ApiError(`the map has ${result.coords.length / result.dims} points but the embedding has ${entry.shape[0]} rows; the logs changed while loading`, {status: 409});
      }
      const coords = this.projector.arrived(result); // 2-D positions (a 3-D map's projection)
      this.coords = coords;
      const {classes, palette} = this.projector.colouringShown() ?? store.colours.labels;
      this.view.hideOverlay();
      this.view.setData(isolated(coords, store.chosen), classes, palette);
      if (store.chosen.isolated) { // not "NaN/Inf not shown": the others are hidden on purpose
        this.view.count = `${fmt(store.chosen.count)} of ${fmt(entry.shape[0])} points (the chosen ones, isolated)`;
        this.view._info();
      }
      this.projector.shown();
      this.updateEmphasis();
      this.updateMarks();
      requestAnimationFrame(() => {
        mark('map');
        if (store.colours.labels.coloured) mark('mapLabels');
      });
    } catch (error) {
      if (!isCurrent()) return;
      const custom = this.projector.failed(error); // the custom projection's form says it too
      this.view.showError(error, custom ? {title: 'Could not compute the custom projection'} : {retry: () => this.loadMap()});
    }
  }

  /** A 202's layout so far (http_api.md /projection `preview`): drawn, under a banner, until the map replaces it. */
  showPreview({preview, progress}) {
    const layout = api.previewCoords(preview);
    if (!layout || preview.n !== this.store.entry().shape[0]) return; // another version's
    const coords = this.projector.previewed(layout, preview.dims);
    const {classes, palette} = this.projector.colouringShown() ?? this.store.colours.labels;
    this.view.setData(isolated(coords, this.store.chosen), classes, palette);
    this.projector.shown();
    this.view.showPreview(`${PROJECTIONS[this.store.projection]} layout in progress: epoch ${fmt(preview.epoch)} of ${fmt(preview.n_epochs)}`
      + ' — the final map replaces it', progress);
    requestAnimationFrame(() => mark('mapPreview'));
  }

  async loadHardest() {
    const isCurrent = this.begin('hardest');
    try {
      const hard = await hardest(this.store);
      if (!isCurrent()) return;
      this.hard = hard.map((ex) => ex.index);
      this.updateMarks();
    } catch (_) {
      // The hard-example gallery shows the same error in words; the map goes without rings.
    }
  }

  onColours({kind, error}) {
    const labels = this.store.colours.labels;
    if (kind === 'legend') {
      this.showLegend();
    } else if (kind === 'points') {
      if (!this.projector.colouringShown()) this.view.setColours(labels.classes, labels.palette);
      this.updateEmphasis();
      if (this.coords) requestAnimationFrame(() => mark('mapLabels'));
    } else if (kind === 'error') {
      this.view.setNote(`labels unavailable: ${error.message}`); // everything else works without them
    }
  }

  /** The projector's colouring changed (another column, or back to the labels). */
  coloursChanged() {
    const {classes, palette} = this.projector.colouringShown() ?? this.store.colours.labels;
    this.view.setColours(classes, palette);
    this.showLegend();
  }

  showLegend() {
    const own = this.projector.legend(); // colouring by another column: its legend
    if (own) { this.view.setColumnLegend(own); return; }
    const {legend, other} = this.store.colours.labels.legend();
    this.view.setLegend(legend, other, this.store.focus);
  }

  /** The hover card's content for point `index`. */
  describe(index) {
    const {colours} = this.store;
    const label = colours.labels.labelOf(index);
    return {metadata: colours.labels.metadata(index), label, colour: colours.colourOf(label),
      labelColumn: colours.labels.column, thumbSrc: this.store.thumbUrl(index)};
  }

  updateEmphasis() {
    const {data, search, focus, colours} = this.store;
    const n = this.store.entry()?.shape?.[0] ?? 0;
    if (data.search?.total && search) { // no match: nothing to dim the rest for
      const mask = new Uint8Array(n);
      for (const m of data.search.matches) mask[m.index] = 1;
      this.view.setEmphasis(mask);
    } else if (this.store.chosen.mask && !this.store.chosen.isolated) {
      this.view.setEmphasis(this.store.chosen.mask); // the chosen points stand out until isolated
    } else if (focus !== null && colours.labels.labelled) {
      this.view.setEmphasis(colours.labels.maskOf(focus));
    } else {
      this.view.setEmphasis(null);
    }
  }

  updateMarks() {
    const {data, search, point} = this.store;
    const outliers = data.outliers ?? null; // reset with `data` on another selection
    this.view.setOutliersAvailable(outliers ? outliers.length : null);
    this.view.setMarks({
      hard: this.showHard && this.hard ? this.hard : null,
      outliers: this.showOutliers ? outliers : null,
      matches: search && data.search ? data.search.matches.map((m) => m.index) : null,
      selected: point,
      neighbors: data.neighbors ? data.neighbors.neighbors.map((n) => n.index) : null,
    });
  }
}
