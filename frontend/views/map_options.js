// DOM of the map's Projector options (issue 27.4): a second toolbar row (colour by, words
// by, 3-D, thumbnails, settings), the settings row of the shown method (PCA components with
// their variance, t-SNE and UMAP parameters with the defaults, the custom projection's
// queries) and the legend of a column that is not the label column. Built with el(), no
// innerHTML; panels/map_projector.js owns it.

import {el, fmt, pct, replace} from './dom.js';
import {GRADIENT_CSS, MISSING} from '../map_colouring.js';
import {OTHER} from '../palette.js';

const LABELLED = {perplexity: 'perplexity', learningRate: 'learning rate', nNeighbors: 'neighbours', minDist: 'min_dist',
  epochs: 'epochs'};
const SERVER = {perplexity: 'perplexity', learningRate: 'learning_rate', nNeighbors: 'n_neighbors', minDist: 'min_dist',
  epochs: 'n_epochs'};

/** Rebuild the settings row with `nodes`, keeping what the user typed and has not applied
 * (and the focused field, caret included): the row is rebuilt when a map or the defaults
 * arrive, which must not erase a perplexity typed while t-SNE computes. */
function rebuildKeepingTyped(container, ...nodes) {
  const typed = new Map([...container.querySelectorAll('[data-typed]')].map((field) => [field.name, field.value]));
  const active = container.contains(document.activeElement) ? document.activeElement : null;
  replace(container, ...nodes);
  for (const field of container.querySelectorAll('input[name], select[name]')) {
    field.addEventListener('input', () => { field.dataset.typed = ''; });
    if (typed.has(field.name)) {
      field.value = typed.get(field.name);
      field.dataset.typed = '';
    }
    if (active && field.name === active.name) {
      field.focus();
      if (field.setSelectionRange && typeof active.selectionStart === 'number') field.setSelectionRange(active.selectionStart, active.selectionEnd);
    }
  }
}

/** Applied (or reset): the row's fields hold nothing unapplied any more. */
function applied(container) {
  for (const field of container.querySelectorAll('[data-typed]')) delete field.dataset.typed;
}

function select(name, label, options, value, onchange) {
  const node = el('select', {name, 'aria-label': label},
    options.map(([v, text]) => el('option', {value: v, selected: v === value}, text)));
  node.addEventListener('change', () => onchange(node.value));
  return node;
}

/** onChange(patch of store.map); onBookmark(): the user wants to name this view. */
export class MapOptionsView {
  constructor({onChange, onBookmark}) {
    this.onChange = onChange;
    this.colourSlot = el('span', {class: 'map-option'});
    this.wordsSlot = el('span', {class: 'map-option'});
    this.dimsToggle = el('input', {type: 'checkbox', name: 'map_3d'});
    this.dimsToggle.addEventListener('change', () => onChange({dims: this.dimsToggle.checked ? 3 : null}));
    this.dimsLabel = el('label', {class: 'check', title: 'a 3-D map: drag to rotate, arrow keys turn it, Shift+arrows move between points, Alt+drag pans'},
      this.dimsToggle, '3-D');
    this.spritesToggle = el('input', {type: 'checkbox', name: 'map_sprites', checked: true});
    this.spritesLabel = el('label', {class: 'check', hidden: true, title: 'draw the points’ images when zoomed in'},
      this.spritesToggle, 'thumbnails');
    this.settingsButton = el('button', {type: 'button', class: 'button small subtle', 'aria-expanded': 'false',
      onclick: () => this.openSettings(this.settings.hidden)}, 'Settings');
    this.hint = el('span', {class: 'muted small map-hint'});
    const bookmark = el('button', {type: 'button', class: 'button small subtle', name: 'bookmark_view',
      title: 'save this view under a name (the Bookmarks card)', onclick: onBookmark}, 'Bookmark…');
    this.node = el('div', {class: 'toolbar map-options'}, this.colourSlot, this.wordsSlot, this.dimsLabel,
      this.spritesLabel, this.settingsButton, bookmark, this.hint);
    this.settings = el('div', {class: 'map-settings', hidden: true});
  }

  openSettings(open) {
    this.settings.hidden = !open;
    this.settingsButton.setAttribute('aria-expanded', String(open));
  }

  /** The colour and words selects for `columns`; label: the label column (the default colours). */
  setColumns(columns, label, map) {
    const colourOptions = [['', label ? `label (${label})` : 'one colour'],
      ...columns.filter((c) => c !== label).map((c) => [c, c])];
    replace(this.colourSlot, el('label', {class: 'small'}, 'Colour by ',
      select('colour_by', 'colour the points by', colourOptions, map.colourBy && columns.includes(map.colourBy) ? map.colourBy : '',
        (v) => this.onChange({colourBy: v || null}))));
    const wordOptions = [['', 'auto'], ['-', 'none'], ...columns.map((c) => [c, c])];
    replace(this.wordsSlot, el('label', {class: 'small'}, 'Words ',
      select('words_by', 'the words written next to points', wordOptions, map.labelBy ?? '',
        (v) => this.onChange({labelBy: v || null}))));
    this.colourSlot.hidden = !columns.length;
    this.wordsSlot.hidden = !columns.length;
  }

  setDims(dims, {disabled = null} = {}) {
    this.dimsToggle.checked = dims === 3 && !disabled;
    this.dimsToggle.disabled = Boolean(disabled);
    this.dimsLabel.title = disabled || 'a 3-D map: drag to rotate, arrow keys turn it, Shift+arrows move between points, Alt+drag pans';
    this.hint.textContent = dims === 3 && !disabled ? 'drag to rotate · arrow keys turn it · Shift+arrows move between points · Alt+drag pans' : '';
  }

  setSpritesAvailable(available, onToggle) {
    this.spritesLabel.hidden = !available;
    this.spritesToggle.onchange = () => onToggle(this.spritesToggle.checked);
  }

  /** PCA: a select per axis (components 1-10, with their variance) and the variance line. */
  pcaSettings(chosen, variance) {
    const axes = ['x', 'y', 'z'].slice(0, chosen.length);
    const share = (c) => (variance ? ` · ${pct(variance[c - 1])}` : '');
    const selects = axes.map((axis, k) => el('label', {class: 'small'}, `${axis} `,
      select(`pc_${axis}`, `principal component on the ${axis} axis`,
        Array.from({length: 10}, (_, i) => [String(i + 1), `PC${i + 1}${share(i + 1)}`]), String(chosen[k]),
        (v) => { const next = [...chosen]; next[k] = Number(v); this.onChange({components: next.join(',')}); })));
    const shown = variance ? chosen.reduce((sum, c) => sum + variance[c - 1], 0) : null;
    const line = variance
      ? `variance explained: ${variance.slice(0, 10).map((v, i) => `PC${i + 1} ${pct(v)}`).join(' · ')}; on this map: ${pct(shown)}`
      : 'variance explained: computing…';
    replace(this.settings, el('div', {class: 'toolbar'}, el('span', {class: 'small strong'}, 'PCA components'), selects),
      el('div', {class: 'muted small pca-variance', role: 'status'}, line));
  }

  /** t-SNE or UMAP: number fields with the defaults as placeholders; Apply sends them. */
  numberSettings(method, map, bounds) {
    const fields = method === 'tsne' ? ['perplexity', 'learningRate'] : ['nNeighbors', 'minDist', 'epochs'];
    const inputs = {};
    const row = fields.map((field) => {
      const b = bounds?.[SERVER[field]] ?? {};
      inputs[field] = el('input', {type: 'text', inputmode: 'decimal', name: SERVER[field], size: 7,
        value: map[field] ?? '', placeholder: String(b.default ?? ''), 'aria-label': LABELLED[field]});
      return el('label', {class: 'small', title: b.min !== undefined ? `${b.min} to ${b.max}` : ''}, `${LABELLED[field]} `, inputs[field]);
    });
    const apply = () => {
      const patch = Object.fromEntries(fields.map((f) => [f, inputs[f].value.trim() || null]));
      applied(this.settings);
      this.onChange(patch);
    };
    for (const input of Object.values(inputs)) input.addEventListener('keydown', (e) => { if (e.key === 'Enter') apply(); });
    const defaults = fields.map((f) => `${LABELLED[f]} ${bounds?.[SERVER[f]]?.default ?? '…'}`).join(', ');
    const ranges = fields.map((f) => { const b = bounds?.[SERVER[f]]; return b ? `${LABELLED[f]} ${b.min}–${fmt(b.max)}` : null; }).filter(Boolean).join(', ');
    const reset = () => { applied(this.settings); this.onChange(Object.fromEntries(fields.map((f) => [f, null]))); };
    const auto = method === 'tsne' ? ' (auto: N ÷ exaggeration, openTSNE’s)'
      : ' (auto: umap-learn’s, 500 below 10,000 points, 200 above; fewer draw sooner and keep fewer true neighbours)';
    rebuildKeepingTyped(this.settings, el('div', {class: 'toolbar'}, el('span', {class: 'small strong'}, method === 'tsne' ? 't-SNE' : 'UMAP'), row,
      el('button', {type: 'button', class: 'button small', name: 'apply_settings', onclick: apply}, 'Apply'),
      el('button', {type: 'button', class: 'button small subtle', onclick: reset}, 'Defaults')),
    el('div', {class: 'muted small'}, `defaults: ${defaults}${auto}; ranges: ${ranges}`));
  }

  /** The custom projection: x from left to right, y from down to up (empty: PCA), column, match. */
  customSettings(map, columns, info, error) {
    const inputs = {};
    const field = (name, label) => {
      inputs[name] = el('input', {type: 'text', name: `custom_${name}`, size: 12, value: map[name] ?? '', 'aria-label': label, placeholder: label});
      inputs[name].addEventListener('keydown', (e) => { if (e.key === 'Enter') apply(); });
      return inputs[name];
    };
    const column = select('custom_column', 'the column the queries match', [['', 'any column'], ...columns.map((c) => [c, c])], map.customColumn ?? '', () => {});
    const match = select('custom_match', 'how the queries match', [['', 'exact value'], ['regex', 'regex']], map.customMatch ?? '', () => {});
    const apply = () => {
      const patch = {left: inputs.left.value.trim() || null, right: inputs.right.value.trim() || null,
        down: inputs.down.value.trim() || null, up: inputs.up.value.trim() || null, customColumn: column.value || null, customMatch: match.value || null};
      applied(this.settings);
      this.onChange(patch);
    };
    let status = 'x runs from the mean vector of the rows matching the first query to the mean of those matching the second; y likewise, or the widest spread x leaves when empty';
    if (info) {
      const m = info.matched || {};
      status = `x: ${fmt(m.left)} → ${fmt(m.right)} rows; y: ${info.y_from === 'pca' ? 'PCA of the rest' : `${fmt(m.down)} → ${fmt(m.up)} rows`}; cosine between the axes ${fmt(info.cosine, 2)}`;
    }
    rebuildKeepingTyped(this.settings,
      el('div', {class: 'toolbar'}, el('span', {class: 'small strong'}, 'x'), field('left', 'left, e.g. bad'), '→', field('right', 'right, e.g. good'),
        el('span', {class: 'small strong'}, 'y'), field('down', 'down (optional)'), '→', field('up', 'up (optional)')),
      el('div', {class: 'toolbar'}, el('label', {class: 'small'}, 'in ', column), el('label', {class: 'small'}, 'match ', match),
        el('button', {type: 'button', class: 'button small', name: 'apply_custom', onclick: apply}, 'Apply')),
      el('div', {class: error ? 'small error-text custom-status' : 'muted small custom-status', role: 'status'}, error || status));
  }
}

/** A column's minimum or maximum as it is (the shortest text that reads back as it), grouped when whole. */
function exact(value) {
  return Number.isInteger(value) && Math.abs(value) < 1e15 ? fmt(value) : String(value);
}

/** The legend of a colouring that is not the label column's (map_colouring.js legend). */
export function columnLegend(legend) {
  if (legend.kind === 'gradient') {
    return [el('span', {class: 'legend-item static'}, el('span', {class: 'legend-text strong'}, legend.column)),
      el('span', {class: 'legend-gradient', dataset: {min: String(legend.min), max: String(legend.max)}},
        el('span', {class: 'legend-count'}, exact(legend.min)),
        el('span', {class: 'gradient-bar', style: {background: GRADIENT_CSS}, 'aria-hidden': 'true'}),
        el('span', {class: 'legend-count'}, exact(legend.max))),
      legend.missing ? el('span', {class: 'legend-item static'}, el('span', {class: 'swatch', style: {background: MISSING}}),
        el('span', {class: 'legend-text'}, 'no number'), el('span', {class: 'legend-count'}, fmt(legend.missing))) : null];
  }
  const items = legend.items.map((item) => el('span', {class: 'legend-item static', title: `${legend.column} = ${item.label}: ${fmt(item.count)} points`},
    el('span', {class: 'swatch', style: {background: item.colour}}), el('span', {class: 'legend-text'}, item.label),
    el('span', {class: 'legend-count'}, fmt(item.count))));
  if (legend.other && legend.other.labels) {
    items.push(el('span', {class: 'legend-item static'}, el('span', {class: 'swatch', style: {background: OTHER}}),
      el('span', {class: 'legend-text'}, `other (${legend.other.labels} values)`), el('span', {class: 'legend-count'}, fmt(legend.other.count))));
  }
  return [el('span', {class: 'legend-item static'}, el('span', {class: 'legend-text strong'}, `${legend.column}:`)), ...items];
}
