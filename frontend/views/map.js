// The map panel: projection switch, the scatter plot, its legend, a hover card and the
// progress / error states of the projection. Unlike the other views it is long-lived (the
// canvas keeps its zoom across updates), so it is an object with setters.

import {el, fmt, metadataText, replace} from './dom.js';
import {errorBox, notice, progress} from './feedback.js';
import {labelChip, thumbnail} from './point.js';
import {ScatterPlot} from '../scatter.js';
import {OTHER} from '../palette.js';

/** The server's projection methods (analysis/projection.py PROJECTIONS) and the custom projection → button text. */
export const PROJECTIONS = {pca: 'PCA', tsne: 't-SNE', umap: 'UMAP', custom: 'Custom'};

/**
 * onSelect(index), onProjection(method), onFocusLabel(label|null), onToggleHard(bool), onToggleOutliers(bool),
 * onMoved({on, step}) for the "moved since step" arrows.
 * describe(index) → {metadata, label, colour, labelColumn, thumbSrc, extra?} for the hover card;
 * textOf(index) → the words written next to a point on the map.
 */
export class MapView {
  constructor({onSelect, onProjection, onFocusLabel, onToggleHard, onToggleOutliers = null, onMoved = null, describe, textOf}) {
    this.describe = describe;
    this.onFocusLabel = onFocusLabel;
    this.method = 'pca';
    this.methodButtons = Object.entries(PROJECTIONS).map(([m, name]) => el('button', {type: 'button', class: 'seg',
      dataset: {method: m}, 'aria-pressed': 'false', onclick: () => onProjection(m)}, name));
    this.hardToggle = el('input', {type: 'checkbox', name: 'show_hard', checked: true});
    this.hardToggle.addEventListener('change', () => onToggleHard(this.hardToggle.checked));
    this.hardLabel = el('label', {class: 'check', title: 'ring the hardest examples'}, this.hardToggle,
      el('span', {class: 'ring-swatch hard', 'aria-hidden': 'true'}), 'hard examples');
    // The Data quality card's outlier page (issue 18.1), shown once it has published one.
    this.outlierToggle = el('input', {type: 'checkbox', name: 'show_outliers', checked: true});
    this.outlierToggle.addEventListener('change', () => onToggleOutliers?.(this.outlierToggle.checked));
    this.outlierLabel = el('label', {class: 'check', hidden: true}, this.outlierToggle,
      el('span', {class: 'ring-swatch outlier', 'aria-hidden': 'true'}), 'outliers');
    // "moved since step S" (issue 16.5): arrows from where the points were at S to here.
    this.movedToggle = el('input', {type: 'checkbox', name: 'show_moved'});
    this.movedSelect = el('select', {name: 'moved_since', 'aria-label': 'step to compare the map with'});
    const moved = () => onMoved?.({on: this.movedToggle.checked, step: Number(this.movedSelect.value)});
    this.movedToggle.addEventListener('change', moved);
    this.movedSelect.addEventListener('change', () => { this.movedToggle.checked = true; moved(); });
    this.movedInfo = el('span', {class: 'muted small moved-info'});
    this.movedLabel = el('span', {class: 'moved-since', hidden: true},
      el('label', {class: 'check', title: 'arrows from where the points that moved most were at that step (PCA, aligned by Procrustes)'},
        this.movedToggle, 'moved since step'), this.movedSelect, this.movedInfo);
    this.info = el('span', {class: 'muted small map-info'});
    this.toolbar = el('div', {class: 'toolbar'},
      el('span', {class: 'segmented', role: 'group', 'aria-label': 'projection'}, this.methodButtons),
      this.hardLabel,
      this.outlierLabel,
      this.movedLabel,
      el('span', {class: 'spacer'}),
      this.info,
      el('button', {type: 'button', class: 'button small subtle', title: 'fit all points (or double-click the map)',
        onclick: () => this.plot.resetView()}, 'Reset view'));
    this.stage = el('div', {class: 'map-stage'});
    this.overlay = el('div', {class: 'map-overlay', hidden: true});
    // A layout in progress drawn on the map (UMAP's 202 preview): said above it, with progress.
    this.previewText = el('span', {class: 'map-preview-text'});
    this.previewFill = el('div', {class: 'progress-fill'});
    this.previewNote = el('div', {class: 'map-preview', role: 'status', hidden: true}, this.previewText,
      el('div', {class: 'progress-track'}, this.previewFill));
    this.tooltip = el('div', {class: 'map-tooltip', hidden: true, role: 'tooltip'});
    this.legend = el('div', {class: 'legend', 'aria-label': 'labels and their colours'});
    this.node = el('div', {class: 'map'}, this.toolbar,
      el('div', {class: 'map-body'}, this.stage, this.previewNote, this.overlay, this.tooltip), this.legend);
    this.plot = new ScatterPlot(this.stage, {
      onHover: (index, x, y) => this._hover(index, x, y),
      onClick: (index) => { if (index !== null) onSelect(index); },
      textOf,
    });
    this.focus = null;
  }

  setMethod(method) {
    this.method = method;
    for (const b of this.methodButtons) {
      const on = b.dataset.method === method;
      b.classList.toggle('active', on);
      b.setAttribute('aria-pressed', String(on));
    }
  }

  /** A computation is running: a progress bar over the map; returns it for updates. */
  showProgress(label) {
    this.hidePreview();
    const bar = progress(label);
    replace(this.overlay, bar.node);
    this.overlay.hidden = false;
    return bar;
  }

  showError(error, {title = 'Could not compute the map', retry = null} = {}) {
    this.hidePreview();
    replace(this.overlay, errorBox(error, {title, retry}));
    this.overlay.hidden = false;
  }

  /** Words instead of a map (nothing to compute yet). */
  showNotice(title, ...lines) {
    this.hidePreview();
    replace(this.overlay, notice(title, ...lines));
    this.overlay.hidden = false;
  }

  /** What is drawn is a layout in progress: `text` says so above it, `fraction` (0..1) its progress. */
  showPreview(text, fraction) {
    this.hideOverlay();
    this.previewText.textContent = text;
    const value = typeof fraction === 'number' && Number.isFinite(fraction) ? Math.max(0, Math.min(1, fraction)) : 0;
    this.previewFill.style.width = `${Math.round(100 * value)}%`;
    this.previewNote.hidden = false;
    this.stage.classList.add('previewing');
  }

  /** The map replaced the layout in progress (or the map is gone). */
  hidePreview() {
    this.previewNote.hidden = true;
    this.stage.classList.remove('previewing');
  }

  hideOverlay() {
    this.overlay.hidden = true;
    replace(this.overlay);
  }

  /** coords: Float32Array(2N); classes: Uint16Array(N); palette: css colours per class. */
  setData(coords, classes, palette) {
    this.plot.setData(coords, classes, palette);
    let drawn = 0;
    for (let i = 0; i < coords.length; i += 2) if (coords[i] === coords[i] && coords[i + 1] === coords[i + 1]) drawn++;
    const hidden = coords.length / 2 - drawn;
    this.count = `${fmt(drawn)} points${hidden ? ` (${fmt(hidden)} with NaN/Inf not shown)` : ''}`;
    this._info();
  }

  /** Forget the shown embedding: no points, legend, count or hover card until setData. */
  clear() {
    this.hidePreview();
    this.plot.clear();
    this.tooltip.hidden = true;
    replace(this.legend);
    this.count = null;
    this._info();
  }

  /** A remark after the point count (e.g. why the points have no colours). */
  setNote(note) {
    this.note = note;
    this._info();
  }

  _info() {
    this.info.textContent = [this.count, this.note].filter(Boolean).join(' · ');
  }

  /** The canvas's colours for the light or dark theme (theme.js mapColours). */
  setTheme(colours) {
    this.plot.setTheme(colours);
  }

  /** The words on the map changed (their column arrived): draw again. */
  redraw() {
    this.plot.requestDraw();
  }

  setColours(classes, palette) {
    this.plot.setColours(classes, palette);
  }

  /** legend: [{label, colour, count}], other: {count, labels}. */
  setLegend(legend, other, focus) {
    this.focus = focus;
    const items = legend.map((item) => {
      const button = el('button', {type: 'button', class: 'legend-item' + (focus === item.label ? ' active' : '') + (focus !== null && focus !== item.label ? ' faded' : ''),
        title: `${item.label}: ${fmt(item.count)} points — click to emphasise`, dataset: {label: item.label}},
      el('span', {class: 'swatch', style: {background: item.colour}}), el('span', {class: 'legend-text'}, item.label),
      el('span', {class: 'legend-count'}, fmt(item.count)));
      button.addEventListener('click', () => this.onFocusLabel(focus === item.label ? null : item.label));
      return button;
    });
    if (other && other.labels) {
      items.push(el('span', {class: 'legend-item static', title: `${other.labels} less frequent labels share this colour`},
        el('span', {class: 'swatch', style: {background: OTHER}}), el('span', {class: 'legend-text'}, `other (${other.labels} labels)`),
        el('span', {class: 'legend-count'}, fmt(other.count))));
    }
    replace(this.legend, items);
  }

  /** A legend built elsewhere (colouring by another column: views/map_options.js). */
  setColumnLegend(items) {
    replace(this.legend, items);
  }

  setEmphasis(mask) {
    this.plot.setEmphasis(mask);
  }

  setMarks(marks) {
    this.plot.setMarks(marks);
  }

  /**
   * The "moved since step" control: steps to offer (null: hidden), the chosen one, whether it
   * is on, and `disabled` words when it cannot be used now (only the PCA map is aligned).
   */
  setMovedSteps(steps, {step = null, on = false, disabled = null} = {}) {
    this.movedLabel.hidden = !steps || !steps.length;
    if (this.movedLabel.hidden) return;
    replace(this.movedSelect, steps.map((s) => el('option', {value: String(s), selected: s === step}, String(s))));
    this.movedToggle.checked = on && !disabled;
    this.movedToggle.disabled = Boolean(disabled);
    this.movedSelect.disabled = Boolean(disabled);
    this.movedLabel.title = disabled || '';
    this.setMovedInfo(disabled || '');
  }

  setMovedInfo(text) {
    this.movedInfo.textContent = text;
  }

  /** arrows: [{from, to}] in map coordinates, or null. */
  setArrows(arrows) {
    this.plot.setArrows(arrows);
  }

  /** Hard examples need labels: hide the toggle without them. */
  setHardAvailable(available) {
    this.hardLabel.hidden = !available;
  }

  /** How many outliers the Data quality card lists (null: none listed, the toggle is hidden). */
  setOutliersAvailable(count) {
    this.outlierLabel.hidden = count === null;
    this.outlierLabel.title = count === null ? '' : `ring the ${count} outliers of the Data quality card’s page (dashed)`;
  }

  _hover(index, clientX, clientY) {
    if (index === null || index === undefined) {
      this.tooltip.hidden = true;
      return;
    }
    const info = this.describe(index);
    const text = metadataText(info.metadata, {skip: info.labelColumn ? [info.labelColumn] : [], index});
    replace(this.tooltip,
      info.thumbSrc ? thumbnail({src: info.thumbSrc, text, size: 56}) : null,
      el('div', {class: 'tooltip-text'},
        el('div', {class: 'tooltip-title'}, text || `row ${index}`),
        el('div', {class: 'point-sub'}, info.labelColumn ? labelChip(info.label, info.colour) : null, el('span', {class: 'index'}, `#${index}`)),
        info.extra ? el('div', {class: 'muted small'}, info.extra) : null));
    this.tooltip.hidden = false;
    const body = this.stage.getBoundingClientRect();
    const tip = this.tooltip.getBoundingClientRect();
    let x = clientX - body.left + 14;
    let y = clientY - body.top + 14;
    if (x + tip.width > body.width) x = Math.max(0, clientX - body.left - tip.width - 14);
    if (y + tip.height > body.height) y = Math.max(0, clientY - body.top - tip.height - 14);
    this.tooltip.style.left = `${x}px`;
    this.tooltip.style.top = `${y}px`;
  }
}
