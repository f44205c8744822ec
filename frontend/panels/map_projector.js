// The map's Projector options (issue 27.4), owned by the map panel (panels/map.js): colour
// by any column (categorical or a gradient for numeric ones), words by any column,
// thumbnails when zoomed in, the 3-D view, PCA components with their variance, t-SNE and UMAP
// settings, the custom projection. Its options live in the store (store.map, in the URL);
// it fetches the map with them (api.mapCoords) and tells the map panel what to draw.

import * as api from '../api.js';
import {metadataColumn} from '../answers.js';
import {colouring} from '../map_colouring.js';
import {customReady, projectionParams} from '../map_options.js';
import {Rotation3D, axesPainter} from '../scatter3d.js';
import {SpriteLayer} from '../scatter_sprites.js';
import {MapOptionsView, columnLegend} from '../views/map_options.js';

const RELOAD = new Set(['dims', 'components', 'perplexity', 'learningRate', 'nNeighbors', 'minDist', 'epochs', 'left', 'right',
  'down', 'up', 'customColumn', 'customMatch']);
const DRAG_RADIANS_PER_PX = 0.01;

export class MapProjector {
  /** panel: the MapPanel (its view, plot and loadMap). */
  constructor(store, panel) {
    this.store = store;
    this.panel = panel;
    this.plot = panel.view.plot;
    this.info = null; // X-Projection-Info of the map shown
    this.error = null; // the custom projection's refusal, shown in its form
    this.dims = 2; // of the map shown
    this.colours = null; // {classes, palette, legend} of store.map.colourBy, when it is not the label column
    this.words = null; // rows of store.map.labelBy
    this.bounds = null; // /projection_settings
    this.generation = 0;
    this.view = new MapOptionsView({onChange: (patch) => store.setMap(patch),
      onBookmark: () => store.emit('bookmark')}); // the Bookmarks card asks for a name
    const mapView = panel.view;
    mapView.node.insertBefore(this.view.node, mapView.toolbar.nextSibling);
    mapView.node.insertBefore(this.view.settings, this.view.node.nextSibling);
    this.rotation = new Rotation3D(this.plot);
    this.sprites = new SpriteLayer(this.plot, (i) => store.thumbUrl(i));
    this.plot.painters.push((ctx, frame, plot) => this.sprites.paint(ctx, frame, plot),
      axesPainter(this.rotation, () => this.dims === 3));
    this.view.setSpritesAvailable(false, (on) => { this.sprites.enabled = on; this.plot.requestDraw(); });
    this._bindRotation(mapView.stage);
    store.on('mapOptions', ({fields}) => this.onOptions(fields));
    store.on('projection', () => this.showSettings());
  }

  /** A new selection: forget the last embedding's colours, words and images. */
  reset() {
    this.generation += 1;
    this.colours = null;
    this.words = null;
    this.info = null;
    this.sprites.reset();
    const entry = this.store.entry();
    this.view.setColumns(entry?.columns || [], this.store.labelColumn(), this.store.map);
    this.view.setSpritesAvailable(Boolean(entry?.has_sprite), (on) => { this.sprites.enabled = on; this.plot.requestDraw(); });
    this.showSettings();
    this.loadColours();
    this.loadWords();
  }

  // -- the map itself ----------------------------------------------------------------------
  /** The request key and fetcher of the map of `method` under the current options. */
  request(q, method) {
    const params = projectionParams(method, this.store.map);
    const route = method === 'custom' ? 'custom_projection' : 'projection';
    const key = `proj|${q.run}|${q.embedding}|${q.step}|${method}|${JSON.stringify(params)}`;
    return {key, fetch: (onProgress) => api.mapCoords(q, route, method === 'custom' ? params : {method, ...params}, {onProgress})};
  }

  /** Whether the custom projection lacks its queries (the map then asks for them). */
  waitingForQueries(method) {
    return method === 'custom' && !customReady(this.store.map);
  }

  /** The map arrived: {coords, dims, info}. Returns the 2-D array the plot draws. */
  arrived(result) {
    this.info = result.info;
    this.error = null;
    this.dims = result.dims;
    this.panel.keys?.setDims(result.dims);
    this.showSettings();
    return result.dims === 3 ? this.rotation.setData(result.coords) : result.coords;
  }

  /** A layout in progress arrived (a 202's preview, coords Float32Array(N × dims)): the 2-D
   * array the plot draws, as `arrived` gives for the map; the settings shown stay the map's. */
  previewed(coords, dims) {
    this.dims = dims;
    this.panel.keys?.setDims(dims);
    return dims === 3 ? this.rotation.setData(coords) : coords;
  }

  /** After the plot got the array: a 3-D map is fitted to its sphere. */
  shown() {
    if (this.dims === 3) this.rotation.fit();
  }

  failed(error) {
    if (this.store.projection !== 'custom') return false;
    this.error = error.message;
    this.showSettings();
    return error.status === 400; // the form says it; the map keeps its overlay short
  }

  /** Whether the map is the plain 2-D PCA one (what "moved since step" aligns). */
  plainPca() {
    return this.store.projection === 'pca' && this.store.map.dims !== 3 && !this.store.map.components;
  }

  // -- options -------------------------------------------------------------------------------
  onOptions(fields) {
    if (fields.some((f) => RELOAD.has(f))) {
      if (fields.includes('components') || fields.includes('dims')) this.info = null;
      this.showSettings();
      this.panel.loadMap();
      this.panel.showMovedControl();
    }
    if (fields.includes('colourBy')) this.loadColours();
    if (fields.includes('labelBy')) this.loadWords();
  }

  async showSettings() {
    const method = this.store.projection;
    const map = this.store.map;
    this.view.setDims(map.dims, {disabled: method === 'custom' ? 'the custom projection is 2-D' : null});
    if (method === 'pca') {
      const chosen = (projectionParams('pca', map).components || (map.dims === 3 ? '1,2,3' : '1,2')).split(',').map(Number);
      this.view.pcaSettings(chosen, this.info?.variance ?? null);
    } else if (method === 'custom') {
      this.view.customSettings(map, this.store.entry()?.columns || [], this.info?.matched ? this.info : null, this.error);
      if (!customReady(map)) this.view.openSettings(true);
    } else {
      this.view.numberSettings(method, map, this.bounds?.settings ?? null);
      if (!this.bounds) {
        try {
          this.bounds = await api.projectionSettings();
          if (this.store.projection === method) this.view.numberSettings(method, map, this.bounds.settings);
        } catch (_) { /* the fields work without the defaults shown */ }
      }
    }
  }

  // -- colours and words -----------------------------------------------------------------------
  /** The colour column, when it is not the label column (null: the labels' colours). */
  colourColumn() {
    const column = this.store.map.colourBy;
    const entry = this.store.entry();
    return column && column !== this.store.labelColumn() && (entry?.columns || []).includes(column) ? column : null;
  }

  async loadColours() {
    const generation = this.generation;
    const column = this.colourColumn();
    this.colours = null;
    if (!column) { this.panel.coloursChanged(); return; }
    try {
      const meta = await metadataColumn(this.store, column);
      if (generation !== this.generation || column !== this.colourColumn()) return;
      this.colours = colouring(meta, column, this.store.entry().shape[0]);
    } catch (error) {
      if (generation === this.generation) this.panel.view.setNote(`could not colour by ${column}: ${error.message}`);
    }
    this.panel.coloursChanged();
  }

  /** {classes, palette} to draw, or null for the labels'. */
  colouringShown() {
    return this.colours;
  }

  /** The legend's items when colouring by another column, else null. */
  legend() {
    return this.colours ? columnLegend(this.colours.legend) : null;
  }

  async loadWords() {
    const generation = this.generation;
    const column = this.store.map.labelBy;
    this.words = null;
    if (column && column !== '-' && (this.store.entry()?.columns || []).includes(column)) {
      try {
        const meta = await metadataColumn(this.store, column);
        if (generation !== this.generation || column !== this.store.map.labelBy) return;
        this.words = {column, rows: meta.rows};
      } catch (_) { /* the map writes its usual words */ }
    }
    this.plot.requestDraw();
  }

  /** The words of point `index` when a column (or none) is chosen; undefined: the map's own. */
  textOf(index) {
    if (this.store.map.labelBy === '-') return '';
    if (this.words) return this.words.rows[index]?.[this.words.column] ?? '';
    return undefined;
  }

  // -- 3-D rotation ------------------------------------------------------------------------------
  _bindRotation(stage) {
    let drag = null;
    const lassoOn = () => this.panel.lasso?.lasso?.active;
    stage.addEventListener('pointerdown', (event) => {
      if (this.dims !== 3 || event.button !== 0 || event.shiftKey || event.altKey || lassoOn()) return;
      event.stopPropagation(); // the plot must not pan: a drag turns the map
      drag = {id: event.pointerId, x: event.clientX, y: event.clientY, moved: false};
      try { stage.setPointerCapture(event.pointerId); } catch (_) { /* synthetic events */ }
    }, {capture: true});
    stage.addEventListener('pointermove', (event) => {
      if (!drag || event.pointerId !== drag.id) return;
      event.stopPropagation();
      const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) <= 3) return;
      drag.moved = true;
      drag.x = event.clientX;
      drag.y = event.clientY;
      this.rotation.rotate(dx * DRAG_RADIANS_PER_PX, dy * DRAG_RADIANS_PER_PX);
    }, {capture: true});
    stage.addEventListener('pointerup', (event) => {
      if (!drag || event.pointerId !== drag.id) return;
      event.stopPropagation();
      const {moved} = drag;
      drag = null;
      if (!moved) { // a click: select the point under it, as in 2-D
        const rect = this.plot.canvas.getBoundingClientRect();
        this.plot.onClick(this.plot.pick(event.clientX - rect.left, event.clientY - rect.top));
      }
    }, {capture: true});
    this.plot.canvas.tabIndex = this.plot.canvas.tabIndex >= 0 ? this.plot.canvas.tabIndex : 0;
    this.plot.canvas.addEventListener('keydown', (event) => {
      // Plain arrows turn the map; Shift+arrows move between points (panels/map_keys.js).
      if (this.dims !== 3 || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return;
      if (this.rotation.key(event.key)) { event.preventDefault(); this.panel.keys?.turned(); }
    });
  }
}
